/* A command run in a running container: berth-monitor's exec socket (the
 * part of `berthctl exec` that enters the container) against `crun exec`
 * of a container of the same rootfs, interleaved in one run: the round
 * trip of `true`, then 100 MB through `cat` (stdin in, stdout out). With
 * --wire, the whole of `berthctl exec` too (its process, the controller's
 * relay, berthd's bridge, the monitor), a third in each round.
 * A benchmark: it prints figures and asserts nothing.
 *
 *   bench-exec BERTH_MONITOR ROOTFS [N] [--wire BERTHCTL exec POD]
 *
 * Runs in a private mount namespace without /sys/fs/cgroup/unified so that
 * crun accepts a hybrid host (berth does not care). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_util.h"
#include "pb/pb.h"
#include "statedir/execsock.h"
#include "statedir/statedir.h"

#define CAT_BYTES ((size_t)100 << 20)
#define CHUNK     ((size_t)64 << 10)

static char dir[64], cgroup_parent[64], bundle[64];
static int dfd = -1;

static ExecReply *next_reply(int sock, int fds[BERTH_EXECSOCK_FDS_MAX], size_t *nfds)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    ProtobufCMessage *msg = NULL;
    int spare[BERTH_EXECSOCK_FDS_MAX];
    size_t none = 0;

    if (poll(&p, 1, 10000) != 1 ||
        berth_execsock_recv(sock, &exec_reply_descriptor, &msg, fds ? fds : spare,
                            nfds ? nfds : &none, NULL) != 1)
        return NULL;
    return (ExecReply *)msg;
}

/* berth: argv through the exec socket; its fds into fds (stdin's write
 * end first when with_stdin); the socket, or -1. */
static int berth_exec(char **argv, size_t argc, bool with_stdin, int fds[3], size_t *nfds)
{
    ExecRequest req = EXEC_REQUEST_INIT;
    ExecReply *r;
    int sock;

    req.command = argv;
    req.n_command = argc;
    req.stdin = with_stdin;
    if (berth_execsock_connect(dfd, &req, &sock, NULL) < 0)
        return -1;
    r = next_reply(sock, fds, nfds);
    if (!r || !r->started) {
        BERTH_PB_FREE(r);
        close(sock);
        return -1;
    }
    BERTH_PB_FREE(r);
    return sock;
}

static int berth_wait(int sock)
{
    ExecReply *r = next_reply(sock, NULL, NULL);
    int code = r && r->exited ? r->exit_code : -1;

    BERTH_PB_FREE(r);
    close(sock);
    return code;
}

static double berth_true(void)
{
    char *argv[] = { "/bin/true" };
    int fds[3], sock;
    size_t n = 0;
    int64_t t0 = berth_now_mono_ns();

    sock = berth_exec(argv, 1, false, fds, &n);
    if (sock < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    if (berth_wait(sock) != 0)
        return -1;
    return (double)(berth_now_mono_ns() - t0) / 1e6;
}

/* PREFIX... ARGS...: stdin and stdout the pipes given (-1: /dev/null);
 * its pid. */
static pid_t spawn(const char *const *prefix, const char *const *args, int in, int out)
{
    pid_t pid = fork();

    if (pid == 0) {
        const char *argv[32];
        int null = open("/dev/null", O_RDWR);
        size_t n = 0;

        for (size_t i = 0; prefix[i] && n < 16; i++)
            argv[n++] = prefix[i];
        for (size_t i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        dup2(in >= 0 ? in : null, 0);
        dup2(out >= 0 ? out : null, 1);
        dup2(null, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static const char *const crun_prefix[] = { "crun", "exec", NULL };
/* --wire: berthctl exec POD */
static const char *wire_prefix[16];

static pid_t crun_exec(const char *const *args, int in, int out)
{
    return spawn(crun_prefix, args, in, out);
}

/* A round trip of `true` by a command line tool (crun exec, berthctl
 * exec): ms, or -1. */
static double tool_true(const char *const *prefix, const char *const *args)
{
    int64_t t0 = berth_now_mono_ns();
    int status;
    pid_t pid = spawn(prefix, args, -1, -1);

    if (pid < 0 || berth_waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    return (double)(berth_now_mono_ns() - t0) / 1e6;
}

static double wire_true(void)
{
    const char *args[] = { "--", "/bin/true", NULL };

    return tool_true(wire_prefix, args);
}

static double crun_true(void)
{
    const char *args[] = { "bex", "/bin/true", NULL };
    int64_t t0 = berth_now_mono_ns();
    int status;
    pid_t pid = crun_exec(args, -1, -1);

    if (pid < 0 || berth_waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    return (double)(berth_now_mono_ns() - t0) / 1e6;
}

/* CAT_BYTES into in, read back from out until its end: MB/s, or -1. */
static double pump(int in, int out)
{
    static char buf[CHUNK], zero[CHUNK];
    size_t sent = 0, got = 0;
    int64_t t0 = berth_now_mono_ns();

    fcntl(in, F_SETFL, O_NONBLOCK);
    fcntl(out, F_SETFL, O_NONBLOCK);
    for (;;) {
        struct pollfd p[2] = { { .fd = out, .events = POLLIN },
                               { .fd = in, .events = in >= 0 ? POLLOUT : 0 } };
        ssize_t k;

        if (poll(p, 2, 10000) <= 0)
            return -1;
        if (in >= 0 && (p[1].revents & (POLLOUT | POLLERR))) {
            size_t n = CAT_BYTES - sent < CHUNK ? CAT_BYTES - sent : CHUNK;

            k = write(in, zero, n);
            if (k < 0 && errno != EAGAIN)
                return -1;
            if (k > 0)
                sent += (size_t)k;
            if (sent == CAT_BYTES) {
                close(in);
                in = -1;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            k = read(out, buf, sizeof(buf));
            if (k < 0 && errno != EAGAIN)
                return -1;
            if (k == 0)
                break;
            if (k > 0)
                got += (size_t)k;
        }
    }
    if (got != CAT_BYTES)
        return -1;
    return (double)CAT_BYTES / 1e6 / ((double)(berth_now_mono_ns() - t0) / 1e9);
}

static double berth_cat(void)
{
    char *argv[] = { "/bin/cat" };
    int fds[3], sock;
    size_t n = 0;
    double mbs;

    sock = berth_exec(argv, 1, true, fds, &n);
    if (sock < 0 || n != 3)
        return -1;
    mbs = pump(fds[0], fds[1]);
    close(fds[1]);
    close(fds[2]);
    return berth_wait(sock) == 0 ? mbs : -1;
}

/* 100 MB through `cat` run by a command line tool: MB/s, or -1. */
static double tool_cat(const char *const *prefix, const char *const *args)
{
    int in[2], out[2], status;
    double mbs;
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        return -1;
    pid = spawn(prefix, args, in[0], out[1]);
    close(in[0]);
    close(out[1]);
    mbs = pump(in[1], out[0]);
    close(out[0]);
    if (pid < 0 || berth_waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    return mbs;
}

static double crun_cat(void)
{
    const char *args[] = { "bex", "/bin/cat", NULL }; /* crun exec passes its stdin on */

    return tool_cat(crun_prefix, args);
}

static double wire_cat(void)
{
    const char *args[] = { "-i", "--", "/bin/cat", NULL };

    return tool_cat(wire_prefix, args);
}

static void summary(const char *what, const char *unit, double *v, size_t n)
{
    bench_sort(v, n);
    printf("  %-28s median %8.2f %s   p90 %8.2f %s   (n=%zu)\n", what, bench_pct(v, n, 0.5), unit,
           bench_pct(v, n, 0.9), unit, n);
}

static int start_berth(const char *monitor, const char *rootfs)
{
    static char *cmd[] = { "/bin/sleep", "100000" };
    ContainerPlan plan = CONTAINER_PLAN_INIT;
    ContainerSpec spec = CONTAINER_SPEC_INIT;
    berth_error *err = NULL;
    pid_t pid;

    snprintf(dir, sizeof(dir), "/tmp/berth-bench-exec-%d", (int)getpid());
    mkdir(dir, 0700);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    spec.id = "bench-exec";
    spec.rootfs = (char *)rootfs;
    spec.command = cmd;
    spec.n_command = 2;
    plan.spec = &spec;
    plan.cgroup_parent = cgroup_parent;
    if (berth_statedir_write_plan(dfd, &plan, &err) < 0 ||
        berth_monitor_start(monitor, dir, 30000, &pid, &err) < 0) {
        fprintf(stderr, "bench-exec: %s\n", err->msg);
        close(dfd);
        berth_rm_rf_at(AT_FDCWD, dir, NULL);
        return -1;
    }
    return 0;
}

static int start_crun(const char *rootfs)
{
    snprintf(bundle, sizeof(bundle), "/tmp/berth-bench-exec-crun-%d", (int)getpid());
    return bench_sh(
        "rm -rf %s && mkdir -p %s && cd %s && crun spec && "
        "sed -i -e 's|\"path\": \"rootfs\"|\"path\": \"%s\"|' -e 's|\"terminal\": true|"
        "\"terminal\": false|' -e 's|\"sh\"|\"/bin/sleep\", \"100000\"|' config.json && "
        "crun run -d -b %s bex </dev/null >/dev/null 2>&1",
        bundle, bundle, bundle, rootfs, bundle);
}

int main(int argc, char **argv)
{
    int n = argc > 3 ? atoi(argv[3]) : 200;
    double *b, *c, *w, bc[3], cc[3], wc[3];
    size_t nb = 0, nc = 0, nw = 0, nbc = 0, ncc = 0, nwc = 0;
    bool wire = false;
    struct stat st;
    bool crun = system("command -v crun >/dev/null") == 0;

    if (argc < 3) {
        fprintf(stderr, "usage: %s BERTH_MONITOR ROOTFS [N]\n", argv[0]);
        return 2;
    }
    if (n < 1 || n > 100000)
        n = 200;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--wire") != 0)
            continue;
        for (int k = i + 1, m = 0; k < argc && m < 15; k++)
            wire_prefix[m++] = argv[k];
        wire = wire_prefix[0] != NULL;
        break;
    }
    snprintf(cgroup_parent, sizeof(cgroup_parent), "/berth-bench-exec-%d", (int)getpid());
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("bench-exec: private mount namespace");
        return 1;
    }
    if (stat("/sys/fs/cgroup/unified", &st) == 0)
        umount2("/sys/fs/cgroup/unified", MNT_DETACH);
    signal(SIGPIPE, SIG_IGN);
    if (start_berth(argv[1], argv[2]) < 0)
        return 1;
    if (crun && start_crun(argv[2]) != 0) {
        fprintf(stderr, "bench-exec: crun run -d did not start its container: no reference\n");
        crun = false;
    }
    b = calloc((size_t)n, sizeof(double));
    c = calloc((size_t)n, sizeof(double));
    w = calloc((size_t)n, sizeof(double));
    printf("a command in a running container, interleaved (%d rounds)\n", n);
    for (int i = 0; i < n; i++) {
        double x = berth_true();

        if (x >= 0)
            b[nb++] = x;
        if (crun && (x = crun_true()) >= 0)
            c[nc++] = x;
        if (wire && (x = wire_true()) >= 0)
            w[nw++] = x;
    }
    for (int i = 0; i < 3; i++) {
        double x = berth_cat();

        if (x >= 0)
            bc[nbc++] = x;
        if (crun && (x = crun_cat()) >= 0)
            cc[ncc++] = x;
        if (wire && (x = wire_cat()) >= 0)
            wc[nwc++] = x;
    }
    summary("exec true: berth-monitor", "ms", b, nb);
    if (crun)
        summary("exec true: crun exec", "ms", c, nc);
    if (nb && nc)
        printf("  ratio berth/crun (medians): %.2fx\n",
               bench_pct(b, nb, 0.5) / bench_pct(c, nc, 0.5));
    if (wire) {
        summary("exec true: berthctl exec", "ms", w, nw);
        if (nw && nc)
            printf("  ratio berthctl exec/crun exec (medians): %.2fx\n",
                   bench_pct(w, nw, 0.5) / bench_pct(c, nc, 0.5));
    }
    summary("exec cat 100 MB: berth", "MB/s", bc, nbc);
    if (crun)
        summary("exec cat 100 MB: crun", "MB/s", cc, ncc);
    if (nbc && ncc)
        printf("  ratio berth/crun (medians): %.2fx\n",
               bench_pct(bc, nbc, 0.5) / bench_pct(cc, ncc, 0.5));
    if (wire) {
        summary("exec cat 100 MB: berthctl", "MB/s", wc, nwc);
        if (nwc && ncc)
            printf("  ratio berthctl exec/crun exec (medians): %.2fx\n",
                   bench_pct(wc, nwc, 0.5) / bench_pct(cc, ncc, 0.5));
        if (nw < (size_t)n || nwc < 3)
            printf("  berthctl exec: %zu of %d round trips and %zu of 3 transfers measured\n", nw,
                   n, nwc);
    }
    if (nb < (size_t)n || nbc < 3)
        printf("  berth: %zu of %d round trips and %zu of 3 transfers measured\n", nb, n, nbc);
    berth_monitor_stop(dfd, 0, NULL);
    if (crun)
        bench_sh(
            "crun kill bex KILL >/dev/null 2>&1; sleep 0.2; crun delete -f bex >/dev/null 2>&1; "
            "rm -rf %s",
            bundle);
    for (int t = 0; t < 500; t++) {
        berth_monitor_liveness l = BERTH_MONITOR_ALIVE;

        if (berth_monitor_probe(dfd, &l, NULL) < 0 || l != BERTH_MONITOR_ALIVE)
            break;
        usleep(10 * 1000);
    }
    close(dfd);
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    if (bench_cgroups_remove(cgroup_parent) > 0)
        fprintf(stderr, "bench-exec: cgroups of %s are left\n", cgroup_parent);
    free(b);
    free(w);
    free(c);
    return 0;
}
