/* berth-controller at fleet scale: a real controller (a process on ipc://
 * sockets) and a thousand simulated agents, the controller tests' fake
 * agent (the whole agent contract over lib/rpc, assigned containers
 * "Running" at once), in worker processes of AGENTS_PER_WORKER each (a
 * nanomsg process holds at most 512 sockets; an agent uses four to six).
 * The agents talk as berthd does by default: 2 s REQ resends, 10 s call
 * deadlines, metrics every 10 s, heartbeats at the interval the controller
 * gives (1000 nodes at 50/s: every 20 s).
 *
 *   registration  every agent enrolled with its own join token and
 *                 registered: time from the workers' start until the last
 *                 Register is answered
 *   placement     one Apply of WORKLOADS Deployments of REPLICAS/WORKLOADS
 *                 replicas each: the call's time (stored, placed, every
 *                 node's assignments committed and its wake-up published)
 *   running       time from the Apply until every agent holds its replicas
 *                 Running (the agents' own record), and until the
 *                 controller counts all of them Running (ListWorkloads,
 *                 polled every 5 ms once the agents are done)
 *   heartbeats    round trips seen by the agents, during registration and
 *                 placement, then over STEADY_S seconds of a settled fleet
 *
 *   bench-scale [AGENTS [REPLICAS [WORKLOADS]]]     (default 1000 10000 10)
 *
 * With BENCH_ETCD (etcd's client URLs, comma-separated) the controller's
 * store is etcd, under a key prefix of this run's own.
 *
 * A benchmark: it prints figures and asserts nothing. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_ctl.h"
#include "fake_agent.h"
#include "rpc/envelope.h"

#define AGENTS_PER_WORKER 80
#define AGENTS_MAX        5000
#define STEADY_S          25
#define HB_MAX            100000

extern char **environ;

/* --- a worker: AGENTS_PER_WORKER fake agents on one loop ----------------------------
 *
 * It tells the parent on stdout, one line each:
 *   R <index> <mono_ns>           agent index registered (the first time)
 *   A <index> <mono_ns> <count>   agent index now holds count containers
 *   H <rtt_ns>                    a heartbeat's round trip */

static int worker_first;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* a dead parent ends us (SIGPIPE) */
    need(berth_write_all(STDOUT_FILENO, line, (size_t)n) == 0);
}

static void on_heartbeat(fake_agent *a, int64_t rtt_ns, void *data)
{
    (void)a;
    (void)data;
    say("H %lld\n", (long long)rtt_ns);
}

static void on_applied(fake_agent *a, void *data)
{
    fake_agent *agents = data;

    say("A %d %lld %u\n", worker_first + (int)(a - agents), (long long)berth_now_mono_ns(),
        fake_agent_count(a, CONTAINER_RUNNING));
}

static int worker(const char *rpc, const char *pub, const char *tokens_file, int first, int count)
{
    fake_agent_opts opts = { .call_timeout_ms = 10000,
                             .resend_ivl_ms = 2000,
                             .metrics_ms = 10000,
                             .on_heartbeat = on_heartbeat,
                             .on_applied = on_applied };
    fake_agent *agents = calloc((size_t)count, sizeof(*agents));
    bool *registered = calloc((size_t)count, sizeof(bool));
    char *tokens = NULL, *line, *save = NULL;
    berth_loop *loop;
    int i = 0;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_DFL); /* ignored by the parent, and so inherited */
    need(agents && registered);
    need(berth_loop_new(&loop, NULL) == 0);
    need(berth_read_file_at(AT_FDCWD, tokens_file, 1 << 24, &tokens, NULL, NULL) == 0);
    worker_first = first;
    opts.data = agents;
    for (line = strtok_r(tokens, "\n", &save); line && i < first + count;
         line = strtok_r(NULL, "\n", &save), i++) {
        char name[32];

        if (i < first)
            continue;
        snprintf(name, sizeof(name), "node-%04d", i);
        /* 64 CPUs, 256 GiB: room is never what limits placement here */
        fake_agent_start_opts(&agents[i - first], loop, name, rpc, pub, NULL, line, 64000,
                              256LL << 30, &opts);
    }
    need(i == first + count);
    for (;;) {
        need(berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL) >= 0);
        for (int k = 0; k < count; k++)
            if (!registered[k] && agents[k].registered) {
                registered[k] = true;
                say("R %d %lld\n", first + k, (long long)berth_now_mono_ns());
            }
    }
}

/* --- the parent: the controller, the workers, the figures ---------------------------- */

typedef struct worker_pipe {
    berth_loop_io io;
    pid_t pid;
    char buf[8192];
    size_t len;
} worker_pipe;

static harness h;
static bench_op op;
static worker_pipe *workers;
static int n_workers, n_agents, workers_ended;
static int64_t *registered_at;
static unsigned *held;
static int n_registered;
static uint64_t total_held;
static double *hb_ms;
static size_t n_hb;
static size_t n_hb_load; /* heartbeats until the fleet settled */

static void take_line(const char *l)
{
    int idx;
    long long t, rtt;
    unsigned count;

    if (sscanf(l, "R %d %lld", &idx, &t) == 2 && idx >= 0 && idx < n_agents) {
        if (!registered_at[idx])
            n_registered++;
        registered_at[idx] = t;
    } else if (sscanf(l, "A %d %lld %u", &idx, &t, &count) == 3 && idx >= 0 && idx < n_agents) {
        total_held = total_held - held[idx] + count;
        held[idx] = count;
    } else if (sscanf(l, "H %lld", &rtt) == 1 && n_hb < HB_MAX) {
        hb_ms[n_hb++] = (double)rtt / 1e6;
    }
}

static void on_worker_output(berth_loop_io *io, uint32_t events)
{
    worker_pipe *w = berth_container_of(io, worker_pipe, io);
    ssize_t n;
    char *nl, *p;

    (void)events;
    n = berth_read_retry(io->fd, w->buf + w->len, sizeof(w->buf) - w->len - 1);
    if (n <= 0) {
        int status = 0, fd = io->fd;

        berth_loop_remove(h.loop, io);
        close(fd);
        if (berth_waitpid(w->pid, &status, 0) == w->pid) {
            w->pid = 0;
            if (WIFSIGNALED(status))
                fprintf(stderr, "bench-scale: a worker (%d agents) was killed by signal %d\n",
                        AGENTS_PER_WORKER, WTERMSIG(status));
            else
                fprintf(stderr, "bench-scale: a worker (%d agents) exited %d\n", AGENTS_PER_WORKER,
                        WEXITSTATUS(status));
        }
        workers_ended++;
        return;
    }
    w->len += (size_t)n;
    w->buf[w->len] = '\0';
    for (p = w->buf; (nl = strchr(p, '\n')); p = nl + 1) {
        *nl = '\0';
        take_line(p);
    }
    w->len -= (size_t)(p - w->buf);
    memmove(w->buf, p, w->len);
}

static void spawn_workers(const char *self, const char *tokens_file)
{
    n_workers = (n_agents + AGENTS_PER_WORKER - 1) / AGENTS_PER_WORKER;
    workers = calloc((size_t)n_workers, sizeof(*workers));
    need(workers);
    for (int i = 0; i < n_workers; i++)
        workers[i].io.fd = -1;
    for (int i = 0; i < n_workers; i++) {
        int first = i * AGENTS_PER_WORKER, fds[2];
        int count = n_agents - first < AGENTS_PER_WORKER ? n_agents - first : AGENTS_PER_WORKER;
        char s_first[16], s_count[16];
        const char *argv[] = {
            self, "--worker", h.rpc, h.pub, tokens_file, s_first, s_count, NULL
        };
        posix_spawn_file_actions_t fa;

        snprintf(s_first, sizeof(s_first), "%d", first);
        snprintf(s_count, sizeof(s_count), "%d", count);
        need(pipe2(fds, O_CLOEXEC) == 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        need(posix_spawn(&workers[i].pid, self, &fa, NULL, (char *const *)argv, environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        need(berth_loop_add(h.loop, &workers[i].io, fds[0], EPOLLIN, on_worker_output, NULL) == 0);
    }
}

static void stop_workers(void)
{
    int status;

    for (int i = 0; workers && i < n_workers; i++) {
        if (workers[i].io.fd >= 0) {
            int fd = workers[i].io.fd;

            berth_loop_remove(h.loop, &workers[i].io);
            close(fd);
        }
        if (workers[i].pid > 0) {
            kill(workers[i].pid, SIGTERM);
            berth_waitpid(workers[i].pid, &status, 0);
            workers[i].pid = 0;
        }
    }
}

/* Everything this run started: the workers, the controller, its dir. */
static void cleanup(void)
{
    stop_workers();
    if (h.dir) {
        harness_free(&h);
        h.dir = NULL;
    }
}

/* The controller's CPU time so far, in s. */
static double ctl_cpu_s(void)
{
    return (double)bench_cpu_ticks(h.controller) / (double)sysconf(_SC_CLK_TCK);
}

/* Run the loop until cond holds; false after timeout_s or when a worker
 * (and so its agents) is gone. */
static bool run_until(bool (*cond)(void), int timeout_s)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_s * BERTH_NSEC_PER_SEC;

    while (!cond()) {
        if (berth_now_mono_ns() > end || workers_ended)
            return false;
        harness_run(&h, 2);
    }
    return true;
}

static bool all_registered(void)
{
    return n_registered >= n_agents;
}

static uint64_t want_replicas;
static bool agents_hold_all(void)
{
    return total_held >= want_replicas;
}

/* How many replicas the controller counts Running, -1 when it does not
 * answer (a busy controller; the caller asks again). */
static int64_t controller_running(void)
{
    ListWorkloadsRequest req = LIST_WORKLOADS_REQUEST_INIT;
    ListWorkloadsResponse *r = NULL;
    int64_t running = 0;

    if (bench_op_call(&op, "ListWorkloads", &req.base, (ProtobufCMessage **)&r) != CODE_OK)
        return -1;
    for (size_t i = 0; i < r->n_workloads; i++)
        running += r->workloads[i]->status ? r->workloads[i]->status->running : 0;
    berth_pb_free(&r->base);
    return running;
}

static char *manifest(int workloads, int replicas)
{
    size_t cap = (size_t)workloads * 512 + 1, len = 0;
    char *m = malloc(cap);

    need(m);
    for (int i = 0; i < workloads; i++)
        len += (size_t)snprintf(m + len, cap - len,
                                "---\n"
                                "apiVersion: berth/v1\n"
                                "kind: Deployment\n"
                                "metadata: {name: scale-%d}\n"
                                "spec:\n"
                                "  replicas: %d\n"
                                "  template:\n"
                                "    spec:\n"
                                "      containers:\n"
                                "      - name: c\n"
                                "        image: bb\n"
                                "        command: [/bin/sleep, '100000']\n"
                                "        resources: {requests: {cpu: 10m, memory: 16Mi}}\n",
                                i, replicas);
    return m;
}

static void print_heartbeats(const char *when, double *v, size_t n)
{
    if (!n) {
        printf("  heartbeats %s: none\n", when);
        return;
    }
    bench_sort(v, n);
    printf("  heartbeats %s: p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%zu)\n", when,
           bench_pct(v, n, 0.5), bench_pct(v, n, 0.99), v[n - 1], n);
}

static int bench(const char *self, int replicas, int n_workloads)
{
    char tokens_file[600], *m;
    int64_t t_setup, t_spawn, t_reg, t0, t_placed, t_agents, t_ctl;
    double cpu0, cpu_reg, cpu_placed, cpu_run;
    FILE *f;

    t_setup = berth_now_mono_ns();
    snprintf(tokens_file, sizeof(tokens_file), "%s/tokens", h.dir);
    need((f = fopen(tokens_file, "we")));
    for (int i = 0; i < n_agents; i++) {
        char *t = bench_op_join_token(&op);

        fprintf(f, "%s\n", t);
        free(t);
    }
    need(fclose(f) == 0);
    printf("controller scale (berth-controller and %d fake agents in %d processes, ipc "
           "sockets; %d join tokens made in %.1f s)\n",
           n_agents, (n_agents + AGENTS_PER_WORKER - 1) / AGENTS_PER_WORKER, n_agents,
           (double)(berth_now_mono_ns() - t_setup) / 1e9);

    cpu0 = ctl_cpu_s();
    t_spawn = berth_now_mono_ns();
    spawn_workers(self, tokens_file);
    if (!run_until(all_registered, 300)) {
        fprintf(stderr, "bench-scale: only %d of %d agents registered (see %s)\n", n_registered,
                n_agents, h.log);
        return -1;
    }
    t_reg = 0;
    for (int i = 0; i < n_agents; i++)
        if (registered_at[i] > t_reg)
            t_reg = registered_at[i];
    cpu_reg = ctl_cpu_s();
    printf("  registration: all %d enrolled and registered after %.2f s (controller CPU %.2f "
           "s)\n",
           n_agents, (double)(t_reg - t_spawn) / 1e9, cpu_reg - cpu0);

    want_replicas = (uint64_t)replicas * (uint64_t)n_workloads;
    m = manifest(n_workloads, replicas);
    t0 = berth_now_mono_ns();
    bench_op_apply(&op, m);
    t_placed = berth_now_mono_ns();
    free(m);
    cpu_placed = ctl_cpu_s();
    printf("  placement: %d Deployments x %d replicas (%llu) on %d nodes, the Apply call "
           "(placed, committed, every node woken): %.2f s (controller CPU %.2f s)\n",
           n_workloads, replicas, (unsigned long long)want_replicas, n_agents,
           (double)(t_placed - t0) / 1e9, cpu_placed - cpu_reg);
    fflush(stdout);
    if (!run_until(agents_hold_all, 300)) {
        fprintf(stderr, "bench-scale: the agents hold %llu of %llu replicas after %.0f s\n",
                (unsigned long long)total_held, (unsigned long long)want_replicas,
                (double)(berth_now_mono_ns() - t0) / 1e9);
        printf("  all %llu Running: never (see the errors)   target <= 5 s: NOT met\n",
               (unsigned long long)want_replicas);
        print_heartbeats("until then", hb_ms, n_hb);
        return -1;
    }
    t_agents = berth_now_mono_ns();
    for (int64_t end = t_agents + 300 * BERTH_NSEC_PER_SEC;;) {
        int64_t running = controller_running();

        t_ctl = berth_now_mono_ns();
        if (running >= (int64_t)want_replicas)
            break;
        if (t_ctl > end) {
            fprintf(stderr, "bench-scale: the controller counts %lld of %llu Running\n",
                    (long long)running, (unsigned long long)want_replicas);
            return -1;
        }
        harness_run(&h, 5);
    }
    cpu_run = ctl_cpu_s();
    printf("  all %llu Running at the agents after %.2f s; at the controller (all acknowledged) "
           "after %.2f s (controller CPU %.2f s)   target <= 5 s: %s\n",
           (unsigned long long)want_replicas, (double)(t_agents - t0) / 1e9,
           (double)(t_ctl - t0) / 1e9, cpu_run - cpu_reg,
           (double)(t_ctl - t0) / 1e9 <= 5.0 ? "met" : "NOT met");
    n_hb_load = n_hb;
    cpu0 = ctl_cpu_s();
    harness_run(&h, STEADY_S * 1000);
    print_heartbeats("during registration and placement", hb_ms, n_hb_load);
    print_heartbeats("settled fleet", hb_ms + n_hb_load, n_hb - n_hb_load);
    printf("  settled: controller CPU %.1f%% over %d s, RSS %.1f MB\n",
           100.0 * (ctl_cpu_s() - cpu0) / STEADY_S, STEADY_S,
           (double)bench_smaps_kb(h.controller, "Rss") / 1024);
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl = { 1 << 18, 1 << 18 };

    /* the controller (our child) holds a connection per agent and channel */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static char prefix[64];
    const char *args[] = { "--log-level", "info", NULL, NULL, NULL, NULL, NULL, NULL, NULL };
    const char *etcd = getenv("BENCH_ETCD");
    int replicas, n_workloads, total, rc;

    if (argc == 7 && strcmp(argv[1], "--worker") == 0)
        return worker(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]));
    n_agents = argc > 1 ? atoi(argv[1]) : 1000;
    total = argc > 2 ? atoi(argv[2]) : 10000;
    n_workloads = argc > 3 ? atoi(argv[3]) : 10;
    if (n_agents < 1 || n_agents > AGENTS_MAX || n_workloads < 1 || n_workloads > 100 ||
        total < n_workloads || total % n_workloads || total / n_workloads > 1000 ||
        total > n_agents * FAKE_CONTAINERS_MAX) {
        fprintf(stderr,
                "usage: bench-scale [AGENTS [REPLICAS [WORKLOADS]]]: 1-%d agents, "
                "1-100 workloads of at most 1000 replicas each, at most %d per agent\n",
                AGENTS_MAX, FAKE_CONTAINERS_MAX);
        return 2;
    }
    replicas = total / n_workloads;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    registered_at = calloc((size_t)n_agents, sizeof(*registered_at));
    held = calloc((size_t)n_agents, sizeof(*held));
    hb_ms = calloc(HB_MAX, sizeof(*hb_ms));
    need(registered_at && held && hb_ms);
    if (etcd && *etcd) {
        snprintf(prefix, sizeof(prefix), "/bench-scale-%d/", (int)getpid());
        args[2] = "--store";
        args[3] = "etcd";
        args[4] = "--etcd-endpoints";
        args[5] = etcd;
        args[6] = "--etcd-prefix";
        args[7] = prefix;
    }
    harness_init(&h, args);
    bench_on_abort(cleanup);
    harness_start_controller(&h);
    bench_op_connect(&op, &h);
    rc = bench("/proc/self/exe", replicas, n_workloads);
    bench_op_close(&op);
    cleanup();
    free(workers);
    free(registered_at);
    free(held);
    free(hb_ms);
    return rc < 0 ? 1 : 0;
}
