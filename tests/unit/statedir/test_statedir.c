/* lib/statedir: records round-trip and refuse garbage; liveness is told by
 * the lock, not by a pid (a killed monitor reads as LOST); stop with no
 * monitor is ESRCH; the CRI writer splits, rotates and parses. */
#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "check_main.h"
#include "statedir/crilog.h"
#include "statedir/statedir.h"

static char dir[] = "/tmp/berth-test-monitor-XXXXXX";
static int dfd = -1;

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
    char cmd[128];

    close(dfd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(records_round_trip)
{
    ContainerPlan plan = CONTAINER_PLAN_INIT, *pback = NULL;
    ContainerSpec spec = CONTAINER_SPEC_INIT;
    ExitRecord rec = EXIT_RECORD_INIT, *eback = NULL;
    berth_error *err = NULL;

    spec.id = "web-1";
    plan.spec = &spec;
    plan.cgroup_parent = "/berth";
    plan.generation = 42;
    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, &err), 0);
    ck_assert_int_eq(berth_statedir_read_plan(dfd, &pback, &err), 0);
    ck_assert_str_eq(pback->spec->id, "web-1");
    ck_assert_str_eq(pback->cgroup_parent, "/berth");
    ck_assert_uint_eq(pback->generation, 42);
    container_plan_free_unpacked(pback, NULL);

    rec.exit_code = 7;
    rec.oom_killed = 1;
    rec.reason = "OOMKilled";
    ck_assert_int_eq(berth_statedir_write_exit(dfd, &rec, &err), 0);
    ck_assert_int_eq(berth_statedir_read_exit(dfd, &eback, &err), 0);
    ck_assert_int_eq(eback->exit_code, 7);
    ck_assert(eback->oom_killed);
    ck_assert_str_eq(eback->reason, "OOMKilled");
    exit_record_free_unpacked(eback, NULL);
}
END_TEST

START_TEST(records_refuse_garbage)
{
    MonitorState *st = NULL;
    berth_error *err = NULL;

    ck_assert_int_lt(berth_statedir_read_state(dfd, &st, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    ck_assert_int_eq(
        berth_write_file_atomic_at(dfd, BERTH_STATEDIR_STATE, "\xff\xff\xff", 3, 0600, &err), 0);
    ck_assert_berth_error(berth_statedir_read_state(dfd, &st, &err), err,
                          "read state.pb: not a valid berth.v1.MonitorState record");
}
END_TEST

static void write_phase(MonitorPhase phase)
{
    MonitorState st = MONITOR_STATE_INIT;

    st.phase = phase;
    ck_assert_int_eq(berth_statedir_write_state(dfd, &st, NULL), 0);
}

static berth_monitor_liveness probe(void)
{
    berth_monitor_liveness l = 99;
    berth_error *err = NULL;

    ck_assert_msg(berth_monitor_probe(dfd, &l, &err) == 0, "%s", err ? err->msg : "");
    return l;
}

/* A live monitor is the holder of the lock, whatever its pid; a killed one
 * leaves the lock free and no final state. */
START_TEST(liveness_by_lock)
{
    int p[2], status, lockfd;
    pid_t holder;
    char c;
    berth_error *err = NULL;

    ck_assert_int_eq(probe(), BERTH_MONITOR_NONE);
    ck_assert_int_eq(pipe(p), 0);
    holder = fork();
    if (holder == 0) {
        int fd;

        close(p[0]);
        if (berth_monitor_lock(dfd, &fd, NULL) < 0)
            _exit(1);
        write_phase(PHASE_RUNNING);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    ck_assert_int_eq(probe(), BERTH_MONITOR_ALIVE);
    /* A second monitor cannot take over. */
    ck_assert_berth_error(berth_monitor_lock(dfd, &lockfd, &err), err,
                          "another monitor holds monitor.lock: it supervises this container");

    kill(holder, SIGKILL);
    ck_assert_int_eq(berth_waitpid(holder, &status, 0), holder);
    ck_assert_int_eq(probe(), BERTH_MONITOR_LOST); /* lock free, state says running */

    write_phase(PHASE_EXITED);
    ck_assert_int_eq(probe(), BERTH_MONITOR_EXITED);
    write_phase(PHASE_FAILED);
    ck_assert_int_eq(probe(), BERTH_MONITOR_EXITED);
    /* Probing took no lock: a new monitor can start. */
    ck_assert_int_eq(berth_monitor_lock(dfd, &lockfd, &err), 0);
    close(lockfd);
}
END_TEST

/* What berth_monitor_stop writes is what the monitor reads; "stop " is
 * "stop". */
START_TEST(control_commands)
{
    berth_error *err = NULL;
    int64_t g = 0;

    ck_assert_int_eq(berth_monitor_control_parse("stop", &g, &err), 0);
    ck_assert_int_eq(g, -1);
    g = 0;
    ck_assert_int_eq(berth_monitor_control_parse("stop ", &g, &err), 0);
    ck_assert_int_eq(g, -1);
    ck_assert_int_eq(berth_monitor_control_parse("stop 1500", &g, &err), 0);
    ck_assert_int_eq(g, 1500);
    ck_assert_int_eq(berth_monitor_control_parse("stop  0 ", &g, &err), 0);
    ck_assert_int_eq(g, 0);
    ck_assert_berth_error(berth_monitor_control_parse("stop soon", &g, &err), err,
                          "control: bad grace 'soon' (0..3600000 ms)");
    ck_assert_berth_error(berth_monitor_control_parse("stop -1", &g, &err), err,
                          "control: bad grace '-1' (0..3600000 ms)");
    ck_assert_berth_error(berth_monitor_control_parse("stop 3600001", &g, &err), err,
                          "control: bad grace '3600001' (0..3600000 ms)");
    ck_assert_berth_error(berth_monitor_control_parse("stopp", &g, &err), err,
                          "control: unknown command 'stopp'");
    ck_assert_berth_error(berth_monitor_control_parse("kill", &g, &err), err,
                          "control: unknown command 'kill'");
}
END_TEST

/* A prober's shared lock, held a moment, does not keep a monitor from
 * starting: it waits for the prober to let go. */
START_TEST(lock_waits_for_a_prober)
{
    int p[2], status, lockfd;
    pid_t prober;
    char c;
    berth_error *err = NULL;

    ck_assert_int_eq(pipe(p), 0);
    prober = fork();
    if (prober == 0) {
        int fd = openat(dfd, BERTH_STATEDIR_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);

        if (fd < 0 || flock(fd, LOCK_SH) < 0 || write(p[1], "x", 1) != 1)
            _exit(1);
        usleep(30 * 1000);
        _exit(0);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    ck_assert_msg(berth_monitor_lock(dfd, &lockfd, &err) == 0, "%s", err ? err->msg : "");
    close(lockfd);
    ck_assert_int_eq(berth_waitpid(prober, &status, 0), prober);
}
END_TEST

START_TEST(stop_without_monitor)
{
    berth_error *err = NULL;

    ck_assert_berth_error(berth_monitor_stop(dfd, 1000, &err), err, "stop: no monitor is running");
    ck_assert_int_eq(mkfifoat(dfd, BERTH_STATEDIR_CONTROL, 0600), 0);
    ck_assert_berth_error(berth_monitor_stop(dfd, -1, &err), err, "stop: no monitor is running");
}
END_TEST

START_TEST(start_reports_a_missing_binary)
{
    berth_error *err = NULL;
    pid_t pid = 0;

    ck_assert_int_lt(berth_monitor_start("/nonexistent/berth-monitor", dir, 5000, &pid, &err), 0);
    ck_assert_str_eq(err->msg, "exec /nonexistent/berth-monitor: No such file or directory");
    berth_error_free(&err);
}
END_TEST

/* --- CRI logs ----------------------------------------------------------------- */

static char *slurp(const char *name, size_t *len)
{
    char *data = NULL;

    if (berth_read_file_at(dfd, name, 64 << 20, &data, len, NULL) < 0)
        return NULL;
    return data;
}

START_TEST(crilog_lines_and_pieces)
{
    berth_crilog *l = NULL;
    berth_error *err = NULL;
    _cleanup_free_ char *data = NULL;
    static char big[BERTH_CRILOG_LINE_MAX + 10];
    berth_crilog_entry e;
    size_t len;
    char *line, *save = NULL;
    int n = 0, partials = 0;
    const int64_t t = 1795926146123456789LL;

    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(berth_crilog_open(dfd, "c.log", 1 << 20, 2, &l, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, "hello\nwor", 9, t, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDERR, "oops\n", 5, t, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, "ld\n", 3, t, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, big, sizeof(big), t, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, "\n", 1, t, &err), 0);
    ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, "tail", 4, t, &err), 0);
    ck_assert_int_eq(berth_crilog_end(l, BERTH_CRILOG_STDOUT, t, &err), 0);
    berth_crilog_free(l);

    data = slurp("c.log", &len);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(strncmp(data,
                             "2026-11-29T04:22:26.123456789Z stdout F hello\n"
                             "2026-11-29T04:22:26.123456789Z stderr F oops\n"
                             "2026-11-29T04:22:26.123456789Z stdout F world\n",
                             46 * 3 - 1),
                     0);
    for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        ck_assert_int_eq(berth_crilog_parse(line, strlen(line), &e), 0);
        ck_assert_int_eq(e.unix_ns, t);
        partials += e.partial;
        if (e.partial)
            ck_assert_uint_eq(e.text_len, BERTH_CRILOG_LINE_MAX);
    }
    /* hello, oops, world, the long line as P + F, tail */
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(partials, 1);
    ck_assert_int_eq(berth_crilog_parse("garbage", 7, &e), -1);
    ck_assert_int_eq(berth_crilog_parse("2026-11-29T04:22:26Z stdin F x", 30, &e), -1);
    ck_assert_int_eq(berth_crilog_parse("2026-11-29T04:22:26Z stdout X x", 31, &e), -1);
}
END_TEST

static int64_t file_size(const char *name)
{
    struct stat st;

    return fstatat(dfd, name, &st, 0) == 0 ? st.st_size : -1;
}

START_TEST(crilog_rotation_bound)
{
    berth_crilog *l = NULL;
    berth_error *err = NULL;
    char chunk[4096];
    const int64_t max = 64 * 1024;

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = i % 64 == 63 ? '\n' : 'a' + (char)(i % 26);
    ck_assert_int_eq(berth_crilog_open(dfd, "r.log", max, 3, &l, &err), 0);
    for (int i = 0; i < 1000; i++) {
        int64_t total;

        ck_assert_int_eq(berth_crilog_feed(l, BERTH_CRILOG_STDOUT, chunk, sizeof(chunk), 0, &err),
                         0);
        total = file_size("r.log") + (file_size("r.log.1") > 0 ? file_size("r.log.1") : 0) +
                (file_size("r.log.2") > 0 ? file_size("r.log.2") : 0);
        ck_assert_int_le(file_size("r.log"), max);
        ck_assert_int_le(total, 3 * max);
    }
    berth_crilog_free(l);
    ck_assert_int_eq(file_size("r.log.3"), -1); /* three files in all */
    ck_assert_int_gt(file_size("r.log.2"), max / 2);
}
END_TEST

/* A log that cannot rotate (the next file's name is a directory): writes
 * fail and are counted, and a failed end drops the partial line, so the
 * stream is over rather than failing again at every later end. */
START_TEST(crilog_end_fails_once)
{
    berth_crilog *l = NULL;
    berth_error *err = NULL;
    char line[100];
    const int64_t t = 1795926146123456789LL;

    ck_assert_int_eq(mkdirat(dfd, "c.log.1", 0700), 0);
    ck_assert_int_eq(mkdirat(dfd, "c.log.1/taken", 0700), 0);
    ck_assert_int_eq(berth_crilog_open(dfd, "c.log", 4096, 2, &l, &err), 0);
    memset(line, 'x', sizeof(line));
    line[sizeof(line) - 1] = '\n';
    for (int i = 0; i < 50; i++)
        berth_crilog_feed(l, BERTH_CRILOG_STDOUT, line, sizeof(line), 1, NULL);
    ck_assert_uint_gt(berth_crilog_dropped(l), 0);
    berth_crilog_feed(l, BERTH_CRILOG_STDOUT, "tail", 4, t, NULL);
    ck_assert_int_lt(berth_crilog_end(l, BERTH_CRILOG_STDOUT, t, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "rotate log c.log to c.log.1"));
    berth_error_free(&err);
    ck_assert_int_eq(berth_crilog_end(l, BERTH_CRILOG_STDOUT, t, &err), 0);
    berth_crilog_free(l);
}
END_TEST

START_TEST(crilog_bad_settings)
{
    berth_crilog *l = NULL;
    berth_error *err = NULL;

    ck_assert_berth_error(berth_crilog_open(dfd, "x.log", 100, 3, &l, &err), err,
                          "log x.log: rotation needs >= 4096 bytes and >= 1 file");
}
END_TEST

/* A log or a rotated piece that is a symlink is neither written through
 * nor read: it could point anywhere on the host. */
START_TEST(crilog_refuses_symlinks)
{
    char outside[] = "/tmp/berth-test-outside-XXXXXX";
    berth_crilog *l = NULL;
    berth_error *err = NULL;
    berth_crilog_query q = { .tail_lines = 10 };
    berth_crilog_batch b;
    struct stat st;
    int fd = mkstemp(outside);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "2026-01-01T00:00:00Z stdout F secret\n", 37), 37);
    close(fd);
    ck_assert_int_eq(symlinkat(outside, dfd, "c.log"), 0);
    ck_assert_int_lt(berth_crilog_open(dfd, "c.log", 4096, 3, &l, &err), 0);
    ck_assert_int_eq(err->code, ELOOP);
    berth_error_free(&err);
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert_int_eq(st.st_size, 37);

    /* Read: the symlink is not a piece of the log. */
    ck_assert_int_eq(symlinkat(outside, dfd, "c.log.1"), 0);
    ck_assert_msg(berth_crilog_read(dfd, "c.log", 3, &q, &b, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_uint_eq(b.n_lines, 0);
    berth_crilog_batch_clear(&b);
    unlink(outside);
}
END_TEST

/* Write records "line N" (stdout; every 5th on stderr) at time N s. */
static void write_lines(berth_crilog *l, int from, int to)
{
    for (int i = from; i < to; i++) {
        char text[64];
        int n = snprintf(text, sizeof(text), "line %d\n", i);

        ck_assert_int_eq(berth_crilog_feed(l, i % 5 ? BERTH_CRILOG_STDOUT : BERTH_CRILOG_STDERR,
                                           text, (size_t)n, (int64_t)i * 1000000000, NULL),
                         0);
    }
}

static int line_no(const berth_crilog_line *ln)
{
    int v = -1;

    ck_assert_int_eq(sscanf(ln->text, "line %d", &v), 1);
    return v;
}

static berth_crilog_batch read_log(uint64_t cursor, uint32_t tail, size_t max, int stream)
{
    berth_crilog_query q = {
        .cursor = cursor, .tail_lines = tail, .max_bytes = max, .stream = stream
    };
    berth_crilog_batch b;
    berth_error *err = NULL;

    ck_assert_msg(berth_crilog_read(dfd, "c.log", 3, &q, &b, &err) == 0, "%s", err ? err->msg : "");
    return b;
}

START_TEST(crilog_read_follow)
{
    berth_crilog *l = NULL;
    berth_crilog_batch b;
    uint64_t cursor;

    ck_assert_int_eq(berth_crilog_open(dfd, "c.log", 1 << 20, 3, &l, NULL), 0);
    b = read_log(0, 0, 1 << 20, -1); /* nothing yet */
    ck_assert_uint_eq(b.n_lines, 0);
    ck_assert(b.at_end);
    berth_crilog_batch_clear(&b);

    write_lines(l, 0, 10);
    b = read_log(0, 0, 1 << 20, -1);
    ck_assert_uint_eq(b.n_lines, 10);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_int_eq(line_no(&b.lines[i]), (int)i);
        ck_assert_int_eq(b.lines[i].unix_ns, (int64_t)i * 1000000000);
        ck_assert_int_eq(b.lines[i].stream, i % 5 ? BERTH_CRILOG_STDOUT : BERTH_CRILOG_STDERR);
    }
    ck_assert(b.at_end);
    ck_assert(!b.truncated);
    cursor = b.next_cursor;
    ck_assert_uint_ne(cursor, 0);
    berth_crilog_batch_clear(&b);

    /* Following: nothing new, then exactly what was added. */
    b = read_log(cursor, 0, 1 << 20, -1);
    ck_assert_uint_eq(b.n_lines, 0);
    ck_assert_uint_eq(b.next_cursor, cursor);
    berth_crilog_batch_clear(&b);
    write_lines(l, 10, 13);
    b = read_log(cursor, 0, 1 << 20, -1);
    ck_assert_uint_eq(b.n_lines, 3);
    ck_assert_int_eq(line_no(&b.lines[0]), 10);
    ck_assert_int_eq(line_no(&b.lines[2]), 12);
    berth_crilog_batch_clear(&b);

    /* tail, and one stream only. */
    b = read_log(0, 3, 1 << 20, -1);
    ck_assert_uint_eq(b.n_lines, 3);
    ck_assert_int_eq(line_no(&b.lines[0]), 10);
    berth_crilog_batch_clear(&b);
    b = read_log(0, 100, 1 << 20, -1);
    ck_assert_uint_eq(b.n_lines, 13);
    berth_crilog_batch_clear(&b);
    b = read_log(0, 0, 1 << 20, BERTH_CRILOG_STDERR);
    ck_assert_uint_eq(b.n_lines, 3); /* 0, 5, 10 */
    ck_assert_int_eq(line_no(&b.lines[1]), 5);
    berth_crilog_batch_clear(&b);
    berth_crilog_free(l);
}
END_TEST

/* Batches of a bounded size, across rotated files, lose and repeat
 * nothing; a cursor whose file rotated away says so. */
START_TEST(crilog_read_batches_and_rotation)
{
    berth_crilog *l = NULL;
    berth_crilog_batch b;
    uint64_t cursor = 0;
    int next = 0, total = 0;

    ck_assert_int_eq(berth_crilog_open(dfd, "c.log", 4096, 3, &l, NULL), 0);
    write_lines(l, 0, 120); /* ~5.5 KiB: two files */
    for (int rounds = 0;; rounds++) {
        bool done;

        ck_assert_int_lt(rounds, 1000);
        b = read_log(cursor, 0, 200, -1);
        for (size_t i = 0; i < b.n_lines; i++)
            ck_assert_int_eq(line_no(&b.lines[i]), next++);
        total += (int)b.n_lines;
        cursor = b.next_cursor;
        ck_assert(!b.truncated);
        done = b.at_end && b.n_lines == 0;
        berth_crilog_batch_clear(&b);
        if (done)
            break;
    }
    ck_assert_int_eq(total, 120);

    /* Far more is written than the log keeps: the cursor's file is gone. */
    write_lines(l, 120, 600);
    b = read_log(cursor, 0, 1 << 20, -1);
    ck_assert(b.truncated);
    ck_assert_uint_gt(b.n_lines, 0);
    ck_assert_int_gt(line_no(&b.lines[0]), 120);
    ck_assert_int_eq(line_no(&b.lines[b.n_lines - 1]), 599);
    berth_crilog_batch_clear(&b);
    berth_crilog_free(l);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("monitor/state");
    TCase *tc = tcase_create("monitor");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, records_round_trip);
    tcase_add_test(tc, records_refuse_garbage);
    tcase_add_test(tc, liveness_by_lock);
    tcase_add_test(tc, control_commands);
    tcase_add_test(tc, lock_waits_for_a_prober);
    tcase_add_test(tc, stop_without_monitor);
    tcase_add_test(tc, start_reports_a_missing_binary);
    tcase_add_test(tc, crilog_lines_and_pieces);
    tcase_add_test(tc, crilog_rotation_bound);
    tcase_add_test(tc, crilog_end_fails_once);
    tcase_add_test(tc, crilog_bad_settings);
    tcase_add_test(tc, crilog_refuses_symlinks);
    tcase_add_test(tc, crilog_read_follow);
    tcase_add_test(tc, crilog_read_batches_and_rotation);
    suite_add_tcase(s, tc);
    return s;
}
