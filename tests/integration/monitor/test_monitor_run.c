/* berth-monitor for real, as root: it outlives its starter, records exits
 * with timestamps, keeps logs within the rotation bound while a container
 * writes as fast as it can, records OOM kills, stops within the grace,
 * restarts with growing backoff, and leaves a recognisable state when it is
 * killed itself. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "monitor_fixture.h"
#include "statedir/crilog.h"
#include "statedir/statedir.h"
#include "runtime/cgroup.h"

static const char *monitor_bin, *rootfs;
static char dir[64], parent[64];
static int dfd = -1;

static ContainerPlan plan;
static ContainerSpec spec;
static Resources res;
static Backoff backoff;

static void setup(void)
{
    monitor_bin = getenv("BERTH_MONITOR");
    rootfs = getenv("BERTH_TEST_ROOTFS");
    ck_assert_msg(monitor_bin && rootfs, "BERTH_MONITOR and BERTH_TEST_ROOTFS must be set");
    /* Named after the runner (our parent) too, so its cleanup finds what a
     * failed test left behind. */
    snprintf(dir, sizeof(dir), "/tmp/berth-test-mon-%d-%d", (int)getppid(), (int)getpid());
    snprintf(parent, sizeof(parent), "/berth-test-mon-%d-%d", (int)getppid(), (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    container_plan_init(&plan);
    container_spec_init(&spec);
    resources_init(&res);
    backoff_init(&backoff);
    spec.id = "m1";
    spec.rootfs = (char *)rootfs;
    spec.resources = &res;
    plan.spec = &spec;
    plan.cgroup_parent = parent;
}

static void teardown(void)
{
    char cmd[512];

    close(dfd);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s; for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && "
             "rmdir \"$d\"; done; true",
             dir, parent, parent);
    ck_assert_int_eq(system(cmd), 0);
}

static void cleanup_leftovers(void)
{
    monitor_cleanup_leftovers("berth-test-mon");
}

static void set_cmd(const char *script)
{
    static char *argv[4];

    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)script;
    spec.command = argv;
    spec.n_command = 3;
}

static pid_t start(void)
{
    berth_error *err = NULL;
    pid_t pid = 0;

    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, &err), 0);
    ck_assert_msg(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_gt(pid, 0);
    return pid;
}

static berth_monitor_liveness liveness(void)
{
    berth_monitor_liveness l;

    ck_assert_int_eq(berth_monitor_probe(dfd, &l, NULL), 0);
    return l;
}

/* Wait until the monitor is gone; returns how long it took. */
static int64_t wait_monitor_gone(int timeout_ms)
{
    int64_t t0 = berth_now_mono_ns();

    while (liveness() == BERTH_MONITOR_ALIVE) {
        ck_assert_msg(berth_now_mono_ns() - t0 < timeout_ms * BERTH_NSEC_PER_MSEC,
                      "monitor still alive after %d ms", timeout_ms);
        usleep(10 * 1000);
    }
    return (berth_now_mono_ns() - t0) / BERTH_NSEC_PER_MSEC;
}

static ExitRecord *exit_record(void)
{
    ExitRecord *rec = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_statedir_read_exit(dfd, &rec, &err) == 0, "%s", err ? err->msg : "");
    return rec;
}

static MonitorState *state(void)
{
    MonitorState *st = NULL;

    ck_assert_int_eq(berth_statedir_read_state(dfd, &st, NULL), 0);
    return st;
}

static bool cgroup_exists(void)
{
    berth_cgroup_driver *d = NULL;
    berth_cgroup *cg = NULL;
    char path[128];
    bool exists;

    ck_assert_int_eq(berth_cgroup_driver_detect(NULL, &d, NULL), 0);
    snprintf(path, sizeof(path), "%s/%s", parent, spec.id);
    exists = berth_cgroup_open(d, path, &cg, NULL) == 0;
    berth_cgroup_free(cg);
    berth_cgroup_driver_free(d);
    return exists;
}

static char *log_text(const char *name)
{
    char *data = NULL;

    if (berth_read_file_at(dfd, name, 64 << 20, &data, NULL, NULL) < 0)
        return NULL;
    return data;
}

/* The starter is killed right after the start: nothing happens to the
 * container; its exit code and times are recorded. */
START_TEST(outlives_its_starter)
{
    int p[2], status;
    pid_t starter, cpid;
    ExitRecord *rec;
    _cleanup_free_ char *log = NULL;
    int64_t before = berth_now_real_ns();

    set_cmd("i=0; while [ $i -lt 10 ]; do echo line $i; i=$((i+1)); sleep 0.1; done; exit 7");
    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, NULL), 0);
    ck_assert_int_eq(pipe(p), 0);
    starter = fork();
    if (starter == 0) {
        pid_t pid = 0;

        close(p[0]);
        if (berth_monitor_start(monitor_bin, dir, 30000, &pid, NULL) < 0)
            _exit(1);
        if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(1);
        pause();
        _exit(0);
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], &cpid, sizeof(cpid)), sizeof(cpid));
    close(p[0]);
    kill(starter, SIGKILL);
    ck_assert_int_eq(berth_waitpid(starter, &status, 0), starter);
    ck_assert_int_eq(kill(cpid, 0), 0); /* still running */
    ck_assert_int_eq(liveness(), BERTH_MONITOR_ALIVE);

    wait_monitor_gone(20000);
    ck_assert_int_eq(liveness(), BERTH_MONITOR_EXITED);
    rec = exit_record();
    ck_assert_int_eq(rec->exit_code, 7);
    ck_assert_int_eq(rec->signal, 0);
    ck_assert(!rec->oom_killed);
    ck_assert_int_ge(rec->started_unix_ns, before);
    ck_assert_int_ge(rec->finished_unix_ns - rec->started_unix_ns, 900 * BERTH_NSEC_PER_MSEC);
    ck_assert_int_le(rec->finished_unix_ns, berth_now_real_ns());
    exit_record_free_unpacked(rec, NULL);
    log = log_text(BERTH_STATEDIR_LOG);
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_nonnull(strstr(log, " stdout F line 0\n"));
    ck_assert_ptr_nonnull(strstr(log, " stdout F line 9\n"));
    ck_assert(!cgroup_exists());
}
END_TEST

/* 100 MiB as fast as the container can write, 1 MiB x 3 files. */
START_TEST(log_rotation_bound)
{
    int64_t worst = 0, t0;
    char name[64];
    int lines = 0;

    spec.log_max_bytes = 1 << 20;
    spec.log_max_files = 3;
    set_cmd("yes 'the quick brown fox jumps over the lazy dog' | head -c 104857600");
    start();
    t0 = berth_now_mono_ns();
    while (liveness() == BERTH_MONITOR_ALIVE) {
        int64_t total = 0;
        struct stat st;

        for (int i = 0; i < 5; i++) {
            snprintf(name, sizeof(name), i ? "%s.%d" : "%s", BERTH_STATEDIR_LOG, i);
            if (fstatat(dfd, name, &st, 0) == 0)
                total += st.st_size;
        }
        if (total > worst)
            worst = total;
        ck_assert_msg(berth_now_mono_ns() - t0 < 120 * BERTH_NSEC_PER_SEC,
                      "100 MiB of output took more than 2 minutes");
        usleep(2000);
    }
    ck_assert_msg(worst <= (4 << 20), "logs reached %lld bytes", (long long)worst);
    for (int i = 0; i < 4; i++) {
        _cleanup_free_ char *data = NULL;
        char *line, *save = NULL;

        snprintf(name, sizeof(name), i ? "%s.%d" : "%s", BERTH_STATEDIR_LOG, i);
        data = log_text(name);
        if (i == 3) {
            ck_assert_ptr_null(data); /* three files in all */
            break;
        }
        ck_assert_ptr_nonnull(data);
        for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            berth_crilog_entry e;

            ck_assert_msg(berth_crilog_parse(line, strlen(line), &e) == 0, "not CRI: %.80s", line);
            lines++;
        }
    }
    ck_assert_int_gt(lines, 1000);
    {
        ExitRecord *rec = exit_record();
        ck_assert_int_eq(rec->exit_code, 0);
        exit_record_free_unpacked(rec, NULL);
    }
}
END_TEST

START_TEST(oom_kill_recorded)
{
    ExitRecord *rec;

    res.memory_bytes = 16 << 20;
    set_cmd("exec tail /dev/zero");
    start();
    wait_monitor_gone(30000);
    rec = exit_record();
    ck_assert(rec->oom_killed);
    ck_assert_int_eq(rec->exit_code, 137);
    ck_assert_str_eq(rec->reason, "OOMKilled");
    exit_record_free_unpacked(rec, NULL);
}
END_TEST

/* A container that ignores SIGTERM is gone within grace + 1 s. */
START_TEST(stop_within_grace)
{
    berth_error *err = NULL;
    ExitRecord *rec;
    int64_t took;

    set_cmd("trap '' TERM; while :; do sleep 1; done");
    start();
    ck_assert(cgroup_exists());
    ck_assert_int_eq(berth_monitor_stop(dfd, 1000, &err), 0);
    took = wait_monitor_gone(10000);
    /* grace + 1 s, as promised; the emulated v2 VM runs ~15x slower. */
    ck_assert_msg(took <= 2000 + (getenv("BERTH_VM") ? 3000 : 0), "stop took %lld ms",
                  (long long)took);
    ck_assert_int_ge(took, 900);
    rec = exit_record();
    ck_assert(rec->stopped);
    ck_assert_int_eq(rec->signal, SIGKILL);
    exit_record_free_unpacked(rec, NULL);
    ck_assert(!cgroup_exists());
    ck_assert_int_eq(liveness(), BERTH_MONITOR_EXITED);
}
END_TEST

/* A container writing as fast as it can does not starve the monitor: a
 * stop still lands on time. */
START_TEST(stop_a_flooding_container)
{
    int64_t took;

    spec.log_max_bytes = 1 << 20;
    spec.log_max_files = 2;
    set_cmd("trap '' TERM; yes");
    start();
    usleep(300 * 1000);
    ck_assert_int_eq(berth_monitor_stop(dfd, 500, NULL), 0);
    /* Starved, the stop never landed at all; any sane bound tells. */
    took = wait_monitor_gone(15000);
    ck_assert_msg(took <= 10000, "stop took %lld ms", (long long)took);
}
END_TEST

/* Fails three times, then succeeds: OnFailure restarts with doubling
 * delays and counts three restarts. */
START_TEST(restart_on_failure_backoff)
{
    Mount vol = MOUNT_INIT;
    Mount *vols[] = { &vol };
    MonitorState *st;
    char data[128];
    int64_t d[3];

    snprintf(data, sizeof(data), "%s/data", dir);
    ck_assert_int_eq(mkdir(data, 0755), 0);
    vol.source = data;
    vol.destination = "/data";
    spec.mounts = vols;
    spec.n_mounts = 1;
    spec.restart_policy = RESTART_ON_FAILURE;
    backoff.initial_ms = 200;
    backoff.max_ms = 10000;
    spec.restart_backoff = &backoff;
    set_cmd("n=$(cat /data/n 2>/dev/null || echo 0); echo $((n+1)) >/data/n; "
            "[ $n -ge 3 ] && exit 0; exit 1");
    start();
    wait_monitor_gone(30000);
    st = state();
    ck_assert_int_eq(st->phase, PHASE_EXITED);
    ck_assert_uint_eq(st->restart_count, 3);
    ck_assert_uint_eq(st->n_history, 4);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(st->history[i]->exit_code, 1);
        ck_assert_uint_eq(st->history[i]->restart_count, (unsigned)i);
        d[i] = (st->history[i + 1]->started_unix_ns - st->history[i]->finished_unix_ns) /
               BERTH_NSEC_PER_MSEC;
    }
    ck_assert_int_eq(st->history[3]->exit_code, 0);
    /* 200, 400, 800 ms plus a start (which varies on a busy machine):
     * each at least its nominal delay, and growing. */
    ck_assert_msg(d[0] >= 190 && d[1] >= 390 && d[2] >= 790, "delays %lld %lld %lld",
                  (long long)d[0], (long long)d[1], (long long)d[2]);
    ck_assert_msg(d[0] < d[1] && d[1] < d[2] && d[2] < 800 + 2000, "delays %lld %lld %lld",
                  (long long)d[0], (long long)d[1], (long long)d[2]);
    monitor_state_free_unpacked(st, NULL);
}
END_TEST

START_TEST(restart_never)
{
    MonitorState *st;

    spec.restart_policy = RESTART_NEVER;
    set_cmd("exit 1");
    start();
    wait_monitor_gone(10000);
    st = state();
    ck_assert_int_eq(st->phase, PHASE_EXITED);
    ck_assert_uint_eq(st->restart_count, 0);
    ck_assert_uint_eq(st->n_history, 1);
    ck_assert_int_eq(st->history[0]->exit_code, 1);
    monitor_state_free_unpacked(st, NULL);
}
END_TEST

/* Stopping during the backoff wait ends it without another run. */
START_TEST(stop_during_backoff)
{
    MonitorState *st;

    spec.restart_policy = RESTART_ALWAYS;
    backoff.initial_ms = 60000;
    spec.restart_backoff = &backoff;
    set_cmd("exit 2");
    start();
    for (int i = 0; i < 500; i++) {
        st = state();
        if (st->phase == PHASE_BACKOFF)
            break;
        monitor_state_free_unpacked(st, NULL);
        st = NULL;
        usleep(10 * 1000);
    }
    ck_assert_ptr_nonnull(st);
    ck_assert_int_gt(st->next_restart_unix_ns, berth_now_real_ns());
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, -1, NULL), 0);
    wait_monitor_gone(5000);
    st = state();
    ck_assert_int_eq(st->phase, PHASE_EXITED);
    ck_assert_uint_eq(st->restart_count, 0);
    monitor_state_free_unpacked(st, NULL);
}
END_TEST

/* The real start error reaches the starter; the state says FAILED. */
START_TEST(start_error_reported)
{
    berth_error *err = NULL;
    pid_t pid = 0;
    MonitorState *st;

    static char *argv[] = { "/nonexistent" };
    spec.command = argv;
    spec.n_command = 1;
    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, NULL), 0);
    ck_assert_int_lt(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err), 0);
    ck_assert_str_eq(err->msg, "container m1: exec /nonexistent: No such file or directory");
    berth_error_free(&err);
    /* The final state is on disk before the answer. */
    st = state();
    ck_assert_int_eq(st->phase, PHASE_FAILED);
    wait_monitor_gone(5000);
    ck_assert_int_eq(liveness(), BERTH_MONITOR_EXITED);
    ck_assert_str_eq(st->reason, "container m1: exec /nonexistent: No such file or directory");
    monitor_state_free_unpacked(st, NULL);
    ck_assert(!cgroup_exists());
}
END_TEST

/* A symlink planted where the monitor makes its control fifo or the
 * container's log: the monitor refuses it, and the file it points at is
 * neither opened nor written. */
START_TEST(planted_symlinks_refused)
{
    char outside[] = "/tmp/berth-test-outside-XXXXXX", fifo[64];
    berth_error *err = NULL;
    pid_t pid = 0;
    struct stat st;
    int fd = mkstemp(outside);

    ck_assert_int_ge(fd, 0);
    close(fd);
    set_cmd("echo hello");
    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, NULL), 0);

    snprintf(fifo, sizeof(fifo), "%s.fifo", outside);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    ck_assert_int_eq(symlinkat(fifo, dfd, BERTH_STATEDIR_CONTROL), 0);
    ck_assert_int_lt(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err), 0);
    ck_assert_msg(strstr(err->msg, "open control: Too many levels of symbolic links"), "%s",
                  err->msg);
    berth_error_free(&err);
    wait_monitor_gone(5000);
    ck_assert_int_eq(unlinkat(dfd, BERTH_STATEDIR_CONTROL, 0), 0);

    /* A regular file instead of the fifo. */
    fd = openat(dfd, BERTH_STATEDIR_CONTROL, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_lt(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err), 0);
    ck_assert_msg(strstr(err->msg, "control is not a fifo"), "%s", err->msg);
    berth_error_free(&err);
    wait_monitor_gone(5000);
    ck_assert_int_eq(unlinkat(dfd, BERTH_STATEDIR_CONTROL, 0), 0);

    ck_assert_int_eq(symlinkat(outside, dfd, BERTH_STATEDIR_LOG), 0);
    ck_assert_int_lt(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err), 0);
    ck_assert_msg(strstr(err->msg, "Too many levels of symbolic links"), "%s", err->msg);
    berth_error_free(&err);
    wait_monitor_gone(5000);
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert_int_eq(st.st_size, 0);
    ck_assert(!cgroup_exists());
    unlink(fifo);
    unlink(outside);
}
END_TEST

/* A monitor killed with -9: lock free, no final record: LOST. The
 * container was left running; the test cleans it up as the agent would. */
START_TEST(killed_monitor_is_lost)
{
    MonitorState *st;
    berth_cgroup_driver *d = NULL;
    berth_cgroup *cg = NULL;
    char path[128];
    int mpid;

    set_cmd("sleep 100");
    start();
    st = state();
    mpid = st->monitor_pid;
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(kill(mpid, SIGKILL), 0);
    wait_monitor_gone(5000);
    ck_assert_int_eq(liveness(), BERTH_MONITOR_LOST);
    ck_assert_int_lt(berth_statedir_read_exit(dfd, &(ExitRecord *){ NULL }, NULL), 0);

    ck_assert_int_eq(berth_cgroup_driver_detect(NULL, &d, NULL), 0);
    snprintf(path, sizeof(path), "%s/%s", parent, spec.id);
    ck_assert_int_eq(berth_cgroup_open(d, path, &cg, NULL), 0);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, NULL), 0);
    berth_cgroup_free(cg);
    berth_cgroup_driver_free(d);
}
END_TEST

START_TEST(second_monitor_refused)
{
    berth_error *err = NULL;
    pid_t pid;

    set_cmd("sleep 100");
    start();
    ck_assert_int_lt(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "another monitor holds monitor.lock"));
    berth_error_free(&err);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(5000);
}
END_TEST

/* A monitor a test found stuck is killed before the test fails, so it does
 * not go on running (and spinning) after the suite. */
static void kill_if_alive(const char *why)
{
    MonitorState *st = NULL;

    if (liveness() != BERTH_MONITOR_ALIVE)
        return;
    if (berth_statedir_read_state(dfd, &st, NULL) == 0 && st->monitor_pid > 0)
        kill(st->monitor_pid, SIGKILL);
    if (st)
        monitor_state_free_unpacked(st, NULL);
    ck_abort_msg("%s", why);
}

/* Every write to a log that cannot rotate fails (the next file's name is
 * taken by a directory). Output that ends in a partial line, whose final
 * write fails too, must not keep the monitor reading the end of the pipe
 * for ever: the exit is recorded and the monitor finishes. */
START_TEST(log_failing_at_end_of_output)
{
    int64_t t0 = berth_now_mono_ns();
    ExitRecord *rec;

    spec.log_max_bytes = 4096;
    spec.log_max_files = 2;
    ck_assert_int_eq(mkdirat(dfd, BERTH_STATEDIR_LOG ".1", 0700), 0);
    ck_assert_int_eq(mkdirat(dfd, BERTH_STATEDIR_LOG ".1/taken", 0700), 0);
    set_cmd("i=0; while [ $i -lt 300 ]; do echo line $i of the output; i=$((i+1)); done; "
            "printf 'no newline at the end'; exit 3");
    start();
    while (liveness() == BERTH_MONITOR_ALIVE && berth_now_mono_ns() - t0 < 30 * BERTH_NSEC_PER_SEC)
        usleep(20 * 1000);
    kill_if_alive("the monitor did not finish after its container's output ended");
    rec = exit_record();
    ck_assert_int_eq(rec->exit_code, 3);
    exit_record_free_unpacked(rec, NULL);
    ck_assert(!cgroup_exists());
}
END_TEST

/* "stop " with nothing after it is "stop": the spec's grace period, not
 * none. */
START_TEST(stop_without_grace_value)
{
    int64_t took;
    int fd;

    spec.stop_grace_ms = 1500;
    set_cmd("trap '' TERM; while :; do sleep 1; done");
    start();
    fd = openat(dfd, BERTH_STATEDIR_CONTROL, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "stop \n", 6), 6);
    close(fd);
    took = wait_monitor_gone(10000);
    ck_assert_msg(took >= 1400, "stopped after %lld ms, not after the grace of 1500 ms",
                  (long long)took);
}
END_TEST

/* Wait until state.pb satisfies pred (or fail after timeout_ms). */
static MonitorState *wait_state(bool (*pred)(const MonitorState *), int timeout_ms)
{
    int64_t t0 = berth_now_mono_ns();

    for (;;) {
        MonitorState *st = NULL;

        if (berth_statedir_read_state(dfd, &st, NULL) == 0) {
            if (pred(st))
                return st;
            monitor_state_free_unpacked(st, NULL);
        }
        ck_assert_msg(berth_now_mono_ns() - t0 < timeout_ms * BERTH_NSEC_PER_MSEC,
                      "state not reached within %d ms", timeout_ms);
        usleep(20 * 1000);
    }
}

static bool healthy(const MonitorState *st)
{
    return st->health == HEALTH_HEALTHY;
}

static bool restarted_once(const MonitorState *st)
{
    return st->restart_count >= 1 && st->phase == PHASE_RUNNING;
}

static Mount tmp_mount = MOUNT_INIT;
static Mount *tmp_mounts[] = { &tmp_mount };
static Probe probe = PROBE_INIT;
static ExecAction exec_action = EXEC_ACTION_INIT;
static TcpAction tcp_action = TCP_ACTION_INIT;

static void probe_setup(void)
{
    tmp_mount.type = MOUNT_TMPFS;
    tmp_mount.destination = "/tmp";
    spec.mounts = tmp_mounts;
    spec.n_mounts = 1;
    spec.restart_policy = RESTART_ALWAYS;
    backoff.initial_ms = 100;
    spec.restart_backoff = &backoff;
    spec.stop_grace_ms = 300;
    probe.period_ms = 200;
    probe.timeout_ms = 1000;
    probe.failure_threshold = 2;
    spec.liveness_probe = &probe;
}

/* The probe passes, then the file it checks goes away: after two failures
 * the run is ended and restarted, recorded as Unhealthy. */
START_TEST(exec_probe_failing_restarts)
{
    static char *check[] = { "test", "-e", "/tmp/ok", NULL };
    MonitorState *st;

    probe_setup();
    exec_action.command = check;
    exec_action.n_command = 3;
    probe.action_case = PROBE_ACTION_EXEC;
    probe.exec = &exec_action;
    set_cmd("touch /tmp/ok; (sleep 1; rm /tmp/ok) & exec sleep 1000");
    start();
    st = wait_state(healthy, 10000);
    monitor_state_free_unpacked(st, NULL);
    st = wait_state(restarted_once, 20000);
    ck_assert_uint_ge(st->n_history, 1);
    ck_assert_str_eq(st->history[0]->reason, "Unhealthy");
    ck_assert_str_eq(st->probe_message, "");
    monitor_state_free_unpacked(st, NULL);
    /* The new run is healthy again (a fresh /tmp). */
    st = wait_state(healthy, 10000);
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(10000);
}
END_TEST

/* The lifecycle hooks: postStart runs as the container starts (and a
 * failing one kills it, PostStartHookError, and it restarts); preStop runs
 * before the stop signal, the container still there to see it. */
static Mount hook_mount = MOUNT_INIT;
static Mount *hook_mounts[] = { &hook_mount };

static bool post_start_failed_once(const MonitorState *st)
{
    return st->n_history >= 1 && strcmp(st->history[0]->reason, "PostStartHookError") == 0;
}

START_TEST(lifecycle_hooks)
{
    static char *post[] = { "/bin/sh", "-c", "echo post >>/hooks/order", NULL };
    static char *pre[] = { "/bin/sh", "-c", "echo pre >>/hooks/order", NULL };
    static char *bad[] = { "/bin/false", NULL };
    ExecAction post_a = EXEC_ACTION_INIT, pre_a = EXEC_ACTION_INIT;
    Probe post_p = PROBE_INIT, pre_p = PROBE_INIT;
    Lifecycle lc = LIFECYCLE_INIT;
    char hooks[128], *order;
    MonitorState *st;

    snprintf(hooks, sizeof(hooks), "%s/hooks", dir);
    ck_assert_int_eq(mkdir(hooks, 0777), 0);
    hook_mount.source = hooks;
    hook_mount.destination = "/hooks";
    spec.mounts = hook_mounts;
    spec.n_mounts = 1;
    post_a.command = post;
    post_a.n_command = 3;
    post_p.action_case = PROBE_ACTION_EXEC;
    post_p.exec = &post_a;
    pre_a.command = pre;
    pre_a.n_command = 3;
    pre_p.action_case = PROBE_ACTION_EXEC;
    pre_p.exec = &pre_a;
    lc.post_start = &post_p;
    lc.pre_stop = &pre_p;
    spec.lifecycle = &lc;
    spec.stop_grace_ms = 5000;
    /* the container writes "term" when its stop signal comes */
    set_cmd("trap 'echo term >>/hooks/order; exit 0' TERM; while :; do sleep 0.1; done");
    start();
    usleep(500 * 1000);
    ck_assert_int_eq(berth_monitor_stop(dfd, -1, NULL), 0);
    wait_monitor_gone(10000);
    order = log_text("hooks/order");
    ck_assert_str_eq(order, "post\npre\nterm\n");
    free(order);

    /* a preStop sleep: the stop signal comes after it */
    {
        SleepAction nap = SLEEP_ACTION_INIT;
        Probe nap_p = PROBE_INIT;
        int64_t took;

        nap.seconds = 1;
        nap_p.action_case = PROBE_ACTION_SLEEP;
        nap_p.sleep = &nap;
        lc.post_start = NULL;
        lc.pre_stop = &nap_p;
        start();
        usleep(300 * 1000);
        ck_assert_int_eq(berth_monitor_stop(dfd, -1, NULL), 0);
        took = wait_monitor_gone(10000);
        ck_assert_msg(took >= 900, "stopped after %lld ms, before its 1 s preStop sleep",
                      (long long)took);
        lc.post_start = &post_p;
    }

    /* a postStart hook that fails: killed, recorded, restarted */
    lc.post_start->exec->command = bad;
    lc.post_start->exec->n_command = 1;
    lc.pre_stop = NULL;
    spec.restart_policy = RESTART_ALWAYS;
    backoff.initial_ms = 100;
    spec.restart_backoff = &backoff;
    spec.stop_grace_ms = 300;
    start();
    st = wait_state(post_start_failed_once, 10000);
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(10000);
    spec.lifecycle = NULL;
}
END_TEST

/* terminationMessagePath: what the container left there is the exit's
 * message; with FallbackToLogsOnError, a failed run's last log lines. */
START_TEST(termination_message)
{
    ExitRecord *rec;

    spec.termination_message_path = "/dev/termination-log";
    set_cmd("echo 'bye now' >/dev/termination-log; exit 3");
    start();
    wait_monitor_gone(10000);
    rec = exit_record();
    ck_assert_int_eq(rec->exit_code, 3);
    ck_assert_str_eq(rec->message, "bye now\n");
    exit_record_free_unpacked(rec, NULL);

    spec.termination_message_fallback_to_logs = true;
    set_cmd("echo first; echo 'it broke' >&2; exit 2");
    start();
    wait_monitor_gone(10000);
    rec = exit_record();
    ck_assert_str_eq(rec->message, "first\nit broke\n");
    exit_record_free_unpacked(rec, NULL);
    spec.termination_message_path = "";
    spec.termination_message_fallback_to_logs = false;
}
END_TEST

static bool unhealthy_msg(const MonitorState *st)
{
    return st->n_history >= 1 && st->history[0]->reason[0];
}

START_TEST(tcp_probe)
{
    MonitorState *st;

    probe_setup();
    tcp_action.port = 8080;
    probe.action_case = PROBE_ACTION_TCP;
    probe.tcp = &tcp_action;
    set_cmd("exec httpd -f -p 8080 -h /var/www");
    start();
    st = wait_state(healthy, 10000);
    ck_assert_uint_eq(st->probe_failures, 0);
    ck_assert_uint_eq(st->restart_count, 0);
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(10000);
}
END_TEST

START_TEST(tcp_probe_refused)
{
    MonitorState *st;

    probe_setup();
    tcp_action.port = 8081; /* nobody listens there */
    probe.action_case = PROBE_ACTION_TCP;
    probe.tcp = &tcp_action;
    set_cmd("exec httpd -f -p 8080 -h /var/www");
    start();
    st = wait_state(unhealthy_msg, 20000);
    ck_assert_str_eq(st->history[0]->reason, "Unhealthy");
    ck_assert_str_eq(st->probe_message, "connect to port 8081: Connection refused");
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(10000);
}
END_TEST

static Probe probe2 = PROBE_INIT;
static ExecAction exec_action2 = EXEC_ACTION_INIT;
static HttpGetAction http_action = HTTP_GET_ACTION_INIT;

/* p runs check (NULL-terminated) inside the container. */
static void exec_probe(Probe *p, ExecAction *a, char **check)
{
    a->command = check;
    a->n_command = 0;
    while (check[a->n_command])
        a->n_command++;
    p->action_case = PROBE_ACTION_EXEC;
    p->exec = a;
}

/* p GETs path on port 8080, where the container's httpd serves. */
static void http_probe(Probe *p, const char *path)
{
    http_action.port = 8080;
    http_action.path = (char *)path;
    p->action_case = PROBE_ACTION_HTTP_GET;
    p->http_get = &http_action;
    set_cmd("exec httpd -f -p 8080 -h /var/www");
}

/* The state pred waits for, checked by check, then the monitor stopped. */
static void expect_state_then_stop(bool (*pred)(const MonitorState *), int timeout_ms,
                                   void (*check)(const MonitorState *))
{
    MonitorState *st = wait_state(pred, timeout_ms);

    if (check)
        check(st);
    monitor_state_free_unpacked(st, NULL);
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    wait_monitor_gone(10000);
}

static bool ready(const MonitorState *st)
{
    return st->phase == PHASE_RUNNING && !st->unready;
}

static bool not_ready(const MonitorState *st)
{
    return st->phase == PHASE_RUNNING && st->unready && st->probe_failures >= 2;
}

/* An HTTP GET in the container's network: the page busybox httpd serves
 * makes it ready; a path it does not have fails liveness with the code. */
static void no_liveness(const MonitorState *st)
{
    ck_assert_int_eq(st->health, HEALTH_NONE);
}

START_TEST(http_probes)
{
    probe_setup();
    spec.liveness_probe = NULL;
    http_probe(&probe, "/index.html");
    spec.readiness_probe = &probe;
    start();
    expect_state_then_stop(ready, 10000, no_liveness);
}
END_TEST

static void unhealthy_404(const MonitorState *st)
{
    ck_assert_str_eq(st->history[0]->reason, "Unhealthy");
    ck_assert_str_eq(st->probe_message, "HTTP probe failed with statuscode: 404");
}

START_TEST(http_probe_404)
{
    probe_setup();
    http_probe(&probe, "/nothing-here");
    start();
    expect_state_then_stop(unhealthy_msg, 20000, unhealthy_404);
}
END_TEST

/* Readiness comes and goes with its file; the container is never
 * restarted for it. */
static void not_restarted(const MonitorState *st)
{
    ck_assert_uint_eq(st->restart_count, 0);
}

static void not_ready_nor_restarted(const MonitorState *st)
{
    not_restarted(st);
    ck_assert_str_eq(st->probe_message, "command exited with 1");
}

START_TEST(readiness_flips_without_restart)
{
    static char *check[] = { "test", "-e", "/tmp/ready", NULL };
    MonitorState *st;

    probe_setup();
    spec.liveness_probe = NULL;
    exec_probe(&probe, &exec_action, check);
    spec.readiness_probe = &probe;
    set_cmd("touch /tmp/ready; (sleep 1; rm /tmp/ready) & exec sleep 1000");
    start();
    st = wait_state(ready, 10000);
    monitor_state_free_unpacked(st, NULL);
    expect_state_then_stop(not_ready, 10000, not_ready_nor_restarted);
}
END_TEST

static bool started_and_healthy(const MonitorState *st)
{
    return !st->starting && st->health == HEALTH_HEALTHY && !st->unready;
}

static bool starting(const MonitorState *st)
{
    return st->phase == PHASE_RUNNING && st->starting;
}

/* The startup probe holds liveness back: a liveness probe that would fail
 * before the container is up (threshold 1) never runs until startup
 * succeeded, so nothing restarts. */
START_TEST(startup_holds_liveness_back)
{
    static char *check[] = { "test", "-e", "/tmp/up", NULL };
    MonitorState *st;

    probe_setup();
    exec_probe(&probe, &exec_action, check);
    probe.failure_threshold = 1;
    exec_probe(&probe2, &exec_action2, check);
    probe2.period_ms = 200;
    probe2.failure_threshold = 30;
    spec.startup_probe = &probe2;
    set_cmd("(sleep 1.5; touch /tmp/up) & exec sleep 1000");
    start();
    st = wait_state(starting, 10000);
    ck_assert(st->unready);
    monitor_state_free_unpacked(st, NULL);
    expect_state_then_stop(started_and_healthy, 15000, not_restarted);
}
END_TEST

static void restarted_unhealthy(const MonitorState *st)
{
    ck_assert_str_eq(st->history[0]->reason, "Unhealthy");
}

/* A startup probe that keeps failing ends the run, as liveness would. */
START_TEST(startup_failing_restarts)
{
    static char *check[] = { "test", "-e", "/tmp/never", NULL };

    probe_setup();
    spec.liveness_probe = NULL;
    exec_probe(&probe2, &exec_action2, check);
    probe2.period_ms = 200;
    probe2.failure_threshold = 3;
    spec.startup_probe = &probe2;
    set_cmd("exec sleep 1000");
    start();
    expect_state_then_stop(unhealthy_msg, 20000, restarted_unhealthy);
}
END_TEST

/* Freeze (or thaw) the container's cgroup: nothing in it runs, not even
 * to die of a signal, until it is thawed. */
static void freeze(bool frozen)
{
    char path[256];
    struct stat st;
    berth_error *err = NULL;
    bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;

    if (v2)
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s/cgroup.freeze", parent, spec.id);
    else
        snprintf(path, sizeof(path), "/sys/fs/cgroup/freezer%s/%s/freezer.state", parent, spec.id);
    if (berth_write_file_string_at(
            AT_FDCWD, path, v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"), &err) < 0) {
        /* A thaw may find the cgroup gone: on v2 cgroup.kill ends frozen
         * processes, and the monitor removed it. */
        ck_assert_msg(!frozen && err->code == ENOENT, "%s", err->msg);
        berth_error_free(&err);
    }
}

static bool stopping_or_over(const MonitorState *st)
{
    return st->phase == PHASE_STOPPING || st->phase == PHASE_EXITED;
}

/* A probe command given up on (timed out) that cannot exit yet, frozen
 * with its container, does not hold the monitor up: a stop is taken at
 * once. */
START_TEST(probe_given_up_does_not_block)
{
    static char *slow[] = { "sleep", "30" };
    MonitorState *st = NULL;
    int64_t t0;

    probe_setup();
    exec_action.command = slow;
    exec_action.n_command = 2;
    probe.action_case = PROBE_ACTION_EXEC;
    probe.exec = &exec_action;
    probe.timeout_ms = 300;
    probe.failure_threshold = 100;
    set_cmd("exec sleep 1000");
    start();
    usleep(100 * 1000); /* the first probe is under way */
    freeze(true);
    usleep(600 * 1000); /* it timed out: the monitor gave up on it */
    ck_assert_int_eq(berth_monitor_stop(dfd, 0, NULL), 0);
    t0 = berth_now_mono_ns();
    while (berth_now_mono_ns() - t0 < 10 * BERTH_NSEC_PER_SEC) {
        if (berth_statedir_read_state(dfd, &st, NULL) == 0 && stopping_or_over(st))
            break;
        if (st)
            monitor_state_free_unpacked(st, NULL);
        st = NULL;
        usleep(20 * 1000);
    }
    freeze(false); /* whatever happened: let it end */
    ck_assert_msg(st, "the stop was not taken while a probe command was frozen");
    monitor_state_free_unpacked(st, NULL);
    wait_monitor_gone(10000);
    ck_assert(!cgroup_exists());
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("monitor/run");
    TCase *tc = tcase_create("monitor");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, cleanup_leftovers);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, outlives_its_starter);
    tcase_add_test(tc, log_rotation_bound);
    tcase_add_test(tc, oom_kill_recorded);
    tcase_add_test(tc, stop_within_grace);
    tcase_add_test(tc, stop_a_flooding_container);
    tcase_add_test(tc, restart_on_failure_backoff);
    tcase_add_test(tc, restart_never);
    tcase_add_test(tc, stop_during_backoff);
    tcase_add_test(tc, start_error_reported);
    tcase_add_test(tc, planted_symlinks_refused);
    tcase_add_test(tc, killed_monitor_is_lost);
    tcase_add_test(tc, second_monitor_refused);
    tcase_add_test(tc, log_failing_at_end_of_output);
    tcase_add_test(tc, stop_without_grace_value);
    tcase_add_test(tc, exec_probe_failing_restarts);
    tcase_add_test(tc, lifecycle_hooks);
    tcase_add_test(tc, termination_message);
    tcase_add_test(tc, tcp_probe);
    tcase_add_test(tc, tcp_probe_refused);
    tcase_add_test(tc, http_probes);
    tcase_add_test(tc, http_probe_404);
    tcase_add_test(tc, readiness_flips_without_restart);
    tcase_add_test(tc, startup_holds_liveness_back);
    tcase_add_test(tc, startup_failing_restarts);
    tcase_add_test(tc, probe_given_up_does_not_block);
    suite_add_tcase(s, tc);
    return s;
}
