/* berth-monitor's exec socket for real, as root: commands run in a running
 * container with pipes (stdin in, stdout and stderr apart, the exit code)
 * or a terminal of the container's (its size, ^C, its controlling one),
 * a command that is not there (127), and a client that goes away (the
 * command gets SIGHUP). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "monitor_fixture.h"
#include "pb/pb.h"
#include "statedir/execsock.h"
#include "statedir/statedir.h"

static const char *monitor_bin, *rootfs;
static char dir[64], parent[64];
static int dfd = -1;
static ContainerPlan plan;
static ContainerSpec spec;
static Resources res;
static char *sleeper[] = { "/bin/sleep", "100000" };

static void setup(void)
{
    berth_error *err = NULL;
    pid_t pid = 0;

    monitor_bin = getenv("BERTH_MONITOR");
    rootfs = getenv("BERTH_TEST_ROOTFS");
    ck_assert_msg(monitor_bin && rootfs, "BERTH_MONITOR and BERTH_TEST_ROOTFS must be set");
    snprintf(dir, sizeof(dir), "/tmp/berth-test-mex-%d-%d", (int)getppid(), (int)getpid());
    snprintf(parent, sizeof(parent), "/berth-test-mex-%d-%d", (int)getppid(), (int)getpid());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    container_plan_init(&plan);
    container_spec_init(&spec);
    resources_init(&res);
    spec.id = "x1";
    spec.rootfs = (char *)rootfs;
    spec.resources = &res;
    spec.command = sleeper;
    spec.n_command = 2;
    plan.spec = &spec;
    plan.cgroup_parent = parent;
    ck_assert_int_eq(berth_statedir_write_plan(dfd, &plan, &err), 0);
    ck_assert_msg(berth_monitor_start(monitor_bin, dir, 30000, &pid, &err) == 0, "%s",
                  err ? err->msg : "");
}

static void teardown(void)
{
    char cmd[512];
    berth_monitor_liveness l = BERTH_MONITOR_ALIVE;
    int64_t t0 = berth_now_mono_ns();

    berth_monitor_stop(dfd, 0, NULL);
    while (berth_monitor_probe(dfd, &l, NULL) == 0 && l == BERTH_MONITOR_ALIVE &&
           berth_now_mono_ns() - t0 < 10 * BERTH_NSEC_PER_SEC)
        usleep(10 * 1000);
    close(dfd);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s; for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && "
             "rmdir \"$d\"; done; true",
             dir, parent, parent);
    ck_assert_int_eq(system(cmd), 0);
}

static void cleanup_leftovers(void)
{
    monitor_cleanup_leftovers("berth-test-mex");
}

/* One message from the monitor, waited for up to 10 s. */
static ExecReply *next_reply(int sock, int fds[3], size_t *nfds)
{
    ProtobufCMessage *msg = NULL;
    berth_error *err = NULL;
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int spare[BERTH_EXECSOCK_FDS_MAX];
    size_t none = 0;
    int r;

    ck_assert_int_eq(poll(&p, 1, 10000), 1);
    r = berth_execsock_recv(sock, &exec_reply_descriptor, &msg, fds ? fds : spare,
                            nfds ? nfds : &none, &err);
    ck_assert_msg(r == 1, "recv: %d %s", r, err ? err->msg : "");
    /* fds only where they were asked for */
    ck_assert_uint_eq(none, 0);
    return (ExecReply *)msg;
}

static int exec_start(char **argv, size_t argc, bool with_stdin, bool tty, int fds[3], size_t *nfds)
{
    ExecRequest req = EXEC_REQUEST_INIT;
    berth_error *err = NULL;
    ExecReply *r;
    int sock;

    req.command = argv;
    req.n_command = argc;
    req.stdin = with_stdin;
    req.tty = tty;
    req.rows = 40;
    req.cols = 100;
    ck_assert_msg(berth_execsock_connect(dfd, &req, &sock, &err) == 0, "%s", err ? err->msg : "");
    r = next_reply(sock, fds, nfds);
    ck_assert_msg(r->started, "not started: %s", r->error);
    BERTH_PB_FREE(r);
    return sock;
}

/* n bytes from fd, waited for up to 10 s. */
static void read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    int64_t t0 = berth_now_mono_ns();

    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t k;

        ck_assert_msg(berth_now_mono_ns() - t0 < 10 * BERTH_NSEC_PER_SEC, "read: %zu of %zu bytes",
                      got, n);
        if (poll(&p, 1, 1000) <= 0)
            continue;
        k = read(fd, buf + got, n - got);
        ck_assert_msg(k > 0, "read: the end after %zu of %zu bytes", got, n);
        got += (size_t)k;
    }
}

/* Everything fd gives until its end (or 10 s). */
static char *read_all(int fd)
{
    size_t len = 0, size = 4096;
    char *buf = malloc(size);
    int64_t t0 = berth_now_mono_ns();

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        ck_assert_msg(berth_now_mono_ns() - t0 < 10 * BERTH_NSEC_PER_SEC, "read: no end");
        if (poll(&p, 1, 1000) <= 0)
            continue;
        n = read(fd, buf + len, size - len - 1);
        if (n < 0 && errno == EIO) /* a terminal whose other side closed */
            break;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len + 1 == size)
            buf = realloc(buf, size *= 2);
    }
    buf[len] = '\0';
    return buf;
}

static int exit_code(int sock)
{
    ExecReply *r = next_reply(sock, NULL, NULL);
    int code;

    ck_assert(r->exited);
    code = r->exit_code;
    BERTH_PB_FREE(r);
    return code;
}

START_TEST(pipes_stdin_stdout_stderr_exit_code)
{
    char *argv[] = { "/bin/sh", "-c", "read x; echo \"got $x\"; echo err >&2; exit 3" };
    int fds[3], sock;
    size_t n = 0;
    char *out, *errs;

    sock = exec_start(argv, 3, true, false, fds, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(berth_write_all(fds[0], "hello\n", 6), 0);
    close(fds[0]);
    out = read_all(fds[1]);
    errs = read_all(fds[2]);
    ck_assert_str_eq(out, "got hello\n");
    ck_assert_str_eq(errs, "err\n");
    ck_assert_int_eq(exit_code(sock), 3);
    free(out);
    free(errs);
    close(fds[1]);
    close(fds[2]);
    close(sock);
}
END_TEST

START_TEST(terminal_size_interrupt_and_exit)
{
    char *argv[] = { "/bin/sh", "-c",
                     "tty; stty size; trap 'echo interrupted; exit 7' INT; echo ready; "
                     "while :; do sleep 1; done" };
    int fds[3], sock;
    size_t n = 0;
    char buf[4096] = "";
    size_t len = 0;
    int64_t t0 = berth_now_mono_ns();

    sock = exec_start(argv, 3, true, true, fds, &n);
    ck_assert_uint_eq(n, 1); /* the master */
    while (!strstr(buf, "ready")) {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        ssize_t k;

        ck_assert_msg(berth_now_mono_ns() - t0 < 10 * BERTH_NSEC_PER_SEC, "no prompt: %s", buf);
        ck_assert_msg(len + 1 < sizeof(buf), "no prompt in %zu bytes", len);
        if (poll(&p, 1, 1000) <= 0)
            continue;
        k = read(fds[0], buf + len, sizeof(buf) - len - 1);
        if (k > 0)
            buf[len += (size_t)k] = '\0';
    }
    ck_assert_msg(strstr(buf, "/dev/pts/"), "tty: %s", buf);
    ck_assert_msg(strstr(buf, "40 100"), "stty size: %s", buf);
    /* ^C on the terminal: SIGINT to its foreground group */
    ck_assert_int_eq(berth_write_all(fds[0], "\003", 1), 0);
    ck_assert_int_eq(exit_code(sock), 7);
    {
        char *rest = read_all(fds[0]);

        ck_assert_msg(strstr(rest, "interrupted"), "after ^C: %s", rest);
        free(rest);
    }
    close(fds[0]);
    close(sock);
}
END_TEST

START_TEST(not_found_is_127)
{
    char *argv[] = { "/nonexistent" };
    ExecRequest req = EXEC_REQUEST_INIT;
    berth_error *err = NULL;
    ExecReply *r;
    int sock;

    req.command = argv;
    req.n_command = 1;
    ck_assert_int_eq(berth_execsock_connect(dfd, &req, &sock, &err), 0);
    r = next_reply(sock, NULL, NULL);
    ck_assert(!r->started);
    ck_assert_int_eq(r->exit_code, 127);
    ck_assert_msg(strstr(r->error, "/nonexistent"), "%s", r->error);
    BERTH_PB_FREE(r);
    close(sock);
}
END_TEST

START_TEST(client_gone_sends_sighup)
{
    /* A busy loop, no child: a child killed by the SIGHUP makes the shell
     * say "Hangup" on its stderr, a pipe its client closed, and the
     * SIGPIPE ends it before its trap runs (as any process writing to a
     * client that went). The evidence goes to a file of this run's own:
     * the test rootfs is shared, and a file left by another run proves
     * nothing. */
    char script[160], evidence[64], path[256];
    char *argv[] = { "/bin/sh", "-c", script };
    char *check[] = { "/bin/cat", evidence };
    int fds[3], sock;
    size_t n = 0;
    char line[16] = "";
    char *out = NULL;
    int64_t t0;

    snprintf(evidence, sizeof(evidence), "/tmp/hup-%d", (int)getpid());
    snprintf(path, sizeof(path), "%s%s", rootfs, evidence);
    unlink(path);
    snprintf(script, sizeof(script),
             "trap 'echo hup > %s; exit 0' HUP; echo ready; while :; do :; done", evidence);
    sock = exec_start(argv, 3, false, false, fds, &n);
    ck_assert_uint_eq(n, 2);
    read_n(fds[0], line, 6);
    ck_assert_str_eq(line, "ready\n");
    /* the client goes: its connection and its pipes */
    close(sock);
    close(fds[0]);
    close(fds[1]);
    t0 = berth_now_mono_ns();
    for (;;) {
        int fds2[3], sock2;
        size_t n2 = 0;

        sock2 = exec_start(check, 2, false, false, fds2, &n2);
        out = read_all(fds2[0]);
        exit_code(sock2);
        close(fds2[0]);
        close(fds2[1]);
        close(sock2);
        if (strcmp(out, "hup\n") == 0)
            break;
        free(out);
        ck_assert_msg(berth_now_mono_ns() - t0 < 20 * BERTH_NSEC_PER_SEC, "no SIGHUP seen");
        usleep(200 * 1000);
    }
    free(out);
    unlink(path);
}
END_TEST

/* A command that ignores SIGHUP is killed 5 s after its client went. */
START_TEST(hangup_ignored_then_killed)
{
    char *argv[] = { "/bin/sh", "-c", "trap '' HUP; echo $$; exec sleep 100000" };
    int fds[3], sock;
    size_t n = 0;
    char line[32] = "", probe[64];
    int64_t t0;
    int k = 0;

    sock = exec_start(argv, 3, false, false, fds, &n);
    while (k < (int)sizeof(line) - 1) {
        read_n(fds[0], line + k, 1);
        if (line[k] == '\n')
            break;
        k++;
    }
    line[k] = '\0';
    ck_assert_int_gt(atoi(line), 0);
    snprintf(probe, sizeof(probe), "kill -0 %d", atoi(line));
    close(sock);
    close(fds[0]);
    close(fds[1]);
    t0 = berth_now_mono_ns();
    for (;;) {
        char *check[] = { "/bin/sh", "-c", probe };
        int fds2[3], sock2, code;
        size_t n2 = 0;

        sock2 = exec_start(check, 3, false, false, fds2, &n2);
        code = exit_code(sock2);
        close(fds2[0]);
        close(fds2[1]);
        close(sock2);
        if (code != 0)
            break;
        ck_assert_msg(berth_now_mono_ns() - t0 < 9 * BERTH_NSEC_PER_SEC,
                      "a command ignoring SIGHUP still runs %d s after its client went",
                      (int)((berth_now_mono_ns() - t0) / BERTH_NSEC_PER_SEC));
        usleep(250 * 1000);
    }
    /* not before the grace: SIGHUP alone did not end it */
    ck_assert_int_ge((berth_now_mono_ns() - t0) / BERTH_NSEC_PER_MSEC, 3000);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("monitor/exec");
    TCase *tc = tcase_create("exec");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, cleanup_leftovers);
    tcase_add_test(tc, pipes_stdin_stdout_stderr_exit_code);
    tcase_add_test(tc, terminal_size_interrupt_and_exit);
    tcase_add_test(tc, not_found_is_127);
    tcase_add_test(tc, client_gone_sends_sighup);
    tcase_add_test(tc, hangup_ignored_then_killed);
    suite_add_tcase(s, tc);
    return s;
}
