/* A one-node fleet on this machine: a real berth-controller and a real
 * berthd (processes on ipc:// sockets, as tests/lib/fleet.sh starts them),
 * driven by an operator's rpc client as berthctl drives it.
 *
 *   apply   Apply of a 1-replica Deployment -> its container Running at the
 *           controller (GetContainer polled about every millisecond), one
 *           at a time, deleting and waiting for the removal in between
 *           (p50, p99); then a 100-replica Deployment applied at once: time
 *           until the controller has all of them Running
 *   exit    a container's exit -> the controller's record of it: Pods
 *           (restartPolicy Never) whose command exits 200 ms after it
 *           started; GetContainer polled about every millisecond until
 *           EXITED, compared with the finished time of the exit record the
 *           monitor wrote (both CLOCK_REALTIME on this machine)
 *   rollout a rolling update of a BURST-replica Deployment (maxSurge and
 *           maxUnavailable 25 %, Kubernetes' defaults; readiness = running)
 *           from one template to another: time from the Apply until the
 *           controller says it is complete, and the controller's CPU time
 *           meanwhile (/proc), against the same replicas started from
 *           nothing (RUNS rollouts)
 *
 *   bench-fleet MODE ROOTFS [RUNS [BURST]]     (default 100 runs, burst 100)
 *
 * berthd and the controller run with the settings an operator gets (1 s
 * heartbeats, 4 parallel starts, info logs). A benchmark: it prints figures
 * and asserts nothing. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_ctl.h"
#include "rpc/envelope.h"

#define POLL_MS    1
#define WAIT_MS    60000
#define EXIT_AFTER "0.2"

extern char **environ;

static harness h;
static bench_op op;
static pid_t berthd;
static char cgroup_parent[64];

/* --- the fleet ----------------------------------------------------------------------- */

static void stop_fleet_aborted(void);

static bool node_ready(void)
{
    GetNodeRequest req = GET_NODE_REQUEST_INIT;
    Node *n = NULL;
    bool ready;

    req.name = "bench";
    if (bench_op_call(&op, "GetNode", &req.base, (ProtobufCMessage **)&n) != CODE_OK)
        return false;
    ready = n->phase == NODE_READY;
    berth_pb_free(&n->base);
    return ready;
}

static int start_fleet(const char *rootfs)
{
    static const char *const args[] = { "--log-level", "info", NULL };
    char path[600], cmd[1400], text[4096], *token;
    const char *argv[4];
    posix_spawn_file_actions_t fa;
    int n, fd;

    harness_init(&h, args);
    snprintf(cgroup_parent, sizeof(cgroup_parent), "/berth-bench-fleet-%d", (int)getpid());
    bench_on_abort(stop_fleet_aborted);
    harness_start_controller(&h);
    bench_op_connect(&op, &h);
    token = bench_op_join_token(&op);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/images && cp -a %s %s/images/bb", h.dir, rootfs, h.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench-fleet: cannot copy the rootfs %s\n", rootfs);
        free(token);
        return -1;
    }
    n = snprintf(text, sizeof(text),
                 "node_name: bench\n"
                 "controller: {address: '%s', key: %s}\n"
                 "join_token: %s\n"
                 "state_dir: %s/agent\nimage_store: %s/images\n"
                 "cgroup_parent: %s\nsocket: %s/agent.sock\nlisten: off\n"
                 /* the controller's figures, in the host's namespace: no bridge there */
                 "pod_network: {mode: none}\n"
                 "log: {level: warn}\n",
                 h.rpc, h.pub, token, h.dir, h.dir, cgroup_parent, h.dir);
    free(token);
    snprintf(path, sizeof(path), "%s/agent.yaml", h.dir);
    need(berth_write_file_atomic_at(AT_FDCWD, path, text, (size_t)n, 0600, NULL) == 0);
    snprintf(cmd, sizeof(cmd), "%s/berthd.log", h.dir);
    fd = open(cmd, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    need(fd >= 0);
    argv[0] = BERTHD_BIN;
    argv[1] = "-c";
    argv[2] = path;
    argv[3] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    need(posix_spawn(&berthd, argv[0], &fa, NULL, (char *const *)argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    for (int64_t end = berth_now_mono_ns() + 20 * BERTH_NSEC_PER_SEC; !node_ready();) {
        if (berth_now_mono_ns() > end) {
            fprintf(stderr, "bench-fleet: berthd did not become Ready (see %s/berthd.log)\n",
                    h.dir);
            return -1;
        }
        harness_run(&h, 50);
    }
    return 0;
}

/* How many containers the controller still knows of (assigned or
 * reported). */
static size_t containers_known(void)
{
    ListContainersRequest req = LIST_CONTAINERS_REQUEST_INIT;
    ListContainersResponse *r = NULL;
    size_t n;

    need(bench_op_call(&op, "ListContainers", &req.base, (ProtobufCMessage **)&r) == CODE_OK);
    n = r->n_containers;
    berth_pb_free(&r->base);
    return n;
}

/* Run the loop (so the operator's client stays served) until no container
 * is known; false after WAIT_MS. */
static bool wait_all_removed(void)
{
    for (int64_t end = berth_now_mono_ns() + (int64_t)WAIT_MS * BERTH_NSEC_PER_MSEC;
         containers_known() > 0;) {
        if (berth_now_mono_ns() > end)
            return false;
        harness_run(&h, 5);
    }
    return true;
}

/* Orderly: the workloads deleted and their containers removed through
 * the controller. Then, and alone after an abort: berthd stopped, what it
 * left stopped through the monitors, the controller stopped, cgroups and
 * the temp dir removed. */
static void stop_fleet(bool orderly)
{
    char containers[600];
    int status;

    if (orderly && op.client) {
        ListWorkloadsRequest req = LIST_WORKLOADS_REQUEST_INIT;
        ListWorkloadsResponse *r = NULL;

        if (bench_op_call(&op, "ListWorkloads", &req.base, (ProtobufCMessage **)&r) == CODE_OK) {
            for (size_t i = 0; i < r->n_workloads; i++)
                bench_op_delete(&op, r->workloads[i]->name);
            berth_pb_free(&r->base);
        }
        if (berthd > 0 && !wait_all_removed())
            fprintf(stderr, "bench-fleet: containers left behind, stopping them\n");
    }
    if (orderly)
        bench_op_close(&op);
    if (berthd > 0) {
        kill(berthd, SIGTERM);
        berth_waitpid(berthd, &status, 0);
        berthd = 0;
    }
    if (h.dir) {
        snprintf(containers, sizeof(containers), "%s/agent/containers", h.dir);
        bench_reap_agent(containers, cgroup_parent, 10000);
        harness_free(&h);
        h.dir = NULL;
    }
}

static void stop_fleet_aborted(void)
{
    stop_fleet(false);
}

/* --- polling the controller ------------------------------------------------------------ */

/* GetContainer: the status (berth_pb_free the info), or NULL when the
 * controller does not know the container. */
static ContainerInfo *get_container(const char *id)
{
    GetContainerRequest req = GET_CONTAINER_REQUEST_INIT;
    ContainerInfo *ci = NULL;
    int code;

    req.id = (char *)id;
    code = bench_op_call(&op, "GetContainer", &req.base, (ProtobufCMessage **)&ci);
    need(code == CODE_OK || code == CODE_NOT_FOUND);
    return ci;
}

/* Poll until id is in state (0: gone); the monotonic time the answer
 * saying so arrived, -1 after WAIT_MS. With ret_info, the last answer. */
static int64_t poll_state(const char *id, ContainerState state, ContainerInfo **ret_info)
{
    int64_t end = berth_now_mono_ns() + (int64_t)WAIT_MS * BERTH_NSEC_PER_MSEC;

    for (;;) {
        ContainerInfo *ci = get_container(id);
        int64_t now = berth_now_mono_ns();
        bool done = state ? ci && ci->status && ci->status->state == state : !ci;

        if (done) {
            if (ret_info)
                *ret_info = ci;
            else if (ci)
                berth_pb_free(&ci->base);
            return now;
        }
        if (ci)
            berth_pb_free(&ci->base);
        if (now > end)
            return -1;
        harness_run(&h, POLL_MS);
    }
}

static uint32_t workload_running(const char *name)
{
    GetWorkloadRequest req = GET_WORKLOAD_REQUEST_INIT;
    Workload *w = NULL;
    uint32_t running;

    req.name = (char *)name;
    need(bench_op_call(&op, "GetWorkload", &req.base, (ProtobufCMessage **)&w) == CODE_OK);
    running = w->status ? w->status->running : 0;
    berth_pb_free(&w->base);
    return running;
}

/* A Deployment of sleeping containers (version v of its template). */
static char *deployment_v(const char *name, int replicas, int v)
{
    char *m = NULL;

    need(asprintf(&m,
                  "apiVersion: berth/v1\n"
                  "kind: Deployment\n"
                  "metadata: {name: %s}\n"
                  "spec:\n"
                  "  replicas: %d\n"
                  "  template:\n"
                  "    spec:\n"
                  "      terminationGracePeriodSeconds: 0\n"
                  "      containers:\n"
                  "      - {name: c, image: bb, command: [/bin/sleep, '100000'],\n"
                  "         env: [{name: V, value: '%d'}]}\n",
                  name, replicas, v) > 0);
    return m;
}

static char *deployment(const char *name, int replicas)
{
    return deployment_v(name, replicas, 1);
}

/* The pod-template-hash of name's newest revision (its replicas are
 * "<name>-<hash>-<index>"). */
static void newest_hash(const char *name, char *buf, size_t size)
{
    GetWorkloadRequest req = GET_WORKLOAD_REQUEST_INIT;
    Workload *w = NULL;

    req.name = (char *)name;
    need(bench_op_call(&op, "GetWorkload", &req.base, (ProtobufCMessage **)&w) == CODE_OK);
    need(w->status && w->status->n_replica_sets > 0);
    snprintf(buf, size, "%s", w->status->replica_sets[0]->hash);
    berth_pb_free(&w->base);
}

/* A Pod that runs once: exits with code 3 after EXIT_AFTER seconds. */
static char *exiting_pod(const char *name)
{
    char *m = NULL;

    need(asprintf(&m,
                  "apiVersion: berth/v1\n"
                  "kind: Pod\n"
                  "metadata: {name: %s}\n"
                  "spec:\n"
                  "  restartPolicy: Never\n"
                  "  terminationGracePeriodSeconds: 0\n"
                  "  containers:\n"
                  "  - {name: c, image: bb, command: [/bin/sh, -c, 'sleep %s; exit 3']}\n",
                  name, EXIT_AFTER) > 0);
    return m;
}

/* --- figures ------------------------------------------------------------------------ */

/* Latencies in ms. */
typedef struct series {
    double *v;
    size_t n;
} series;

static void series_init(series *s, int cap)
{
    s->v = calloc((size_t)cap, sizeof(double));
    s->n = 0;
    need(s->v);
}

/* One line: p50, p99, min, max; with target_p99_ms > 0, the target too. */
static void series_print(const char *what, series *s, double target_p99_ms)
{
    double p99;

    if (!s->n)
        return;
    bench_sort(s->v, s->n);
    p99 = bench_pct(s->v, s->n, 0.99);
    printf("  %s: p50 %.1f ms  p99 %.1f ms  min %.1f ms  max %.1f ms  (%zu)", what,
           bench_pct(s->v, s->n, 0.5), p99, s->v[0], s->v[s->n - 1], s->n);
    if (target_p99_ms > 0)
        printf("   target p99 <= %.0f ms: %s", target_p99_ms,
               p99 <= target_p99_ms ? "met" : "NOT met");
    printf("\n");
}

/* --- apply -> Running ---------------------------------------------------------------- */

/* The legs of one apply -> Running, in ms. */
typedef struct apply_legs {
    double total;  /* Apply sent -> the controller answers Running */
    double call;   /* the Apply call: stored, placed, committed, node woken */
    double node;   /* Apply answered -> the container started (the monitor's
                    * started time): wake-up, GetAssignments, the start */
    double report; /* started -> Running at the controller: the event */
} apply_legs;

/* The hash of the 1-replica Deployments' template: the same for every
 * name (the name is not in the template). */
static char lat_hash[16];

/* One 1-replica Deployment, then deleted and waited out. */
static int apply_once(const char *name, apply_legs *ret)
{
    ContainerInfo *ci = NULL;
    char *m = deployment(name, 1), id[96];
    int64_t t0, t_applied, t_applied_real, t_running;

    if (!*lat_hash) { /* learnt at the unmeasured round */
        bench_op_apply(&op, m);
        newest_hash(name, lat_hash, sizeof(lat_hash));
        bench_op_delete(&op, name);
        need(wait_all_removed());
    }
    snprintf(id, sizeof(id), "%s-%s-0", name, lat_hash);
    t0 = berth_now_mono_ns();
    bench_op_apply(&op, m);
    t_applied = berth_now_mono_ns();
    t_applied_real = berth_now_real_ns();
    t_running = poll_state(id, CONTAINER_RUNNING, &ci);
    free(m);
    if (t_running < 0) {
        fprintf(stderr, "bench-fleet: %s did not run (see %s/berthd.log)\n", id, h.dir);
        return -1;
    }
    ret->total = (double)(t_running - t0) / 1e6;
    ret->call = (double)(t_applied - t0) / 1e6;
    ret->node = (double)(ci->status->started_unix_ns - t_applied_real) / 1e6;
    ret->report = ret->total - ret->call - ret->node;
    berth_pb_free(&ci->base);
    bench_op_delete(&op, name);
    if (poll_state(id, 0, NULL) < 0) {
        fprintf(stderr, "bench-fleet: %s was not removed\n", id);
        return -1;
    }
    return 0;
}

static int bench_burst(int burst)
{
    char *m = deployment("burst", burst);
    int64_t t0, t_first = 0, t_all = 0;
    double s;

    t0 = berth_now_mono_ns();
    bench_op_apply(&op, m);
    free(m);
    for (int64_t end = t0 + 120 * BERTH_NSEC_PER_SEC;;) {
        uint32_t running = workload_running("burst");
        int64_t now = berth_now_mono_ns();

        if (running && !t_first)
            t_first = now;
        if (running >= (uint32_t)burst) {
            t_all = now;
            break;
        }
        if (now > end) {
            fprintf(stderr, "bench-fleet: only %u of %d running after 120 s\n", running, burst);
            return -1;
        }
        harness_run(&h, POLL_MS);
    }
    s = (double)(t_all - t0) / 1e9;
    printf("  %d-replica Deployment at once: all Running at the controller after %.2f s (first "
           "after %.0f ms)   target <= 2 s: %s\n",
           burst, s, (double)(t_first - t0) / 1e6, s <= 2.0 ? "met" : "NOT met");
    bench_op_delete(&op, "burst");
    if (!wait_all_removed()) {
        fprintf(stderr, "bench-fleet: the burst's containers were not removed\n");
        return -1;
    }
    return 0;
}

static int bench_apply(int runs, int burst)
{
    series total, call, node, report;
    apply_legs legs;
    int rc = 0;

    printf("apply -> Running (berth-controller and berthd, 1 node, ipc sockets; GetContainer "
           "polled every ~%d ms)\n",
           POLL_MS);
    series_init(&total, runs);
    series_init(&call, runs);
    series_init(&node, runs);
    series_init(&report, runs);
    /* one unmeasured round: caches, the first session */
    if (apply_once("warm", &legs) < 0)
        rc = -1;
    for (int i = 0; i < runs && rc == 0; i++) {
        char name[32];

        snprintf(name, sizeof(name), "lat-%d", i);
        if (apply_once(name, &legs) < 0) {
            rc = -1;
            break;
        }
        total.v[total.n++] = legs.total;
        call.v[call.n++] = legs.call;
        node.v[node.n++] = legs.node;
        report.v[report.n++] = legs.report;
    }
    series_print("1-replica Deployment, Apply -> Running", &total, 50);
    series_print("  the Apply call (stored, placed, committed, node woken)", &call, 0);
    series_print("  at the node: Apply answered -> container started", &node, 0);
    series_print("  the report: started -> Running at the controller", &report, 0);
    if (total.n)
        printf("  the controller's share of the median (Apply call + report): %.2f\n",
               (bench_pct(call.v, call.n, 0.5) + bench_pct(report.v, report.n, 0.5)) /
                   bench_pct(total.v, total.n, 0.5));
    free(total.v);
    free(call.v);
    free(node.v);
    free(report.v);
    if (rc == 0 && burst > 0)
        rc = bench_burst(burst);
    return rc;
}

/* --- a rolling update ------------------------------------------------------------------ */

/* The controller's CPU time so far (user + system), in seconds. */
static double controller_cpu(void)
{
    char path[64], buf[1024], *p;
    unsigned long utime = 0, stime = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)h.controller);
    need((f = fopen(path, "re")) != NULL);
    need(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    /* after the command's closing parenthesis: state, then fields 4.. */
    need((p = strrchr(buf, ')')) != NULL);
    need(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Whether name's rollout is done: every replica of its newest revision,
 * available, none of another. */
static bool rolled_out(const char *name, int replicas)
{
    GetWorkloadRequest req = GET_WORKLOAD_REQUEST_INIT;
    Workload *w = NULL;
    bool done;

    req.name = (char *)name;
    need(bench_op_call(&op, "GetWorkload", &req.base, (ProtobufCMessage **)&w) == CODE_OK);
    done = w->status && w->status->updated == (uint32_t)replicas &&
           w->status->available == (uint32_t)replicas && w->status->placed == (uint32_t)replicas;
    berth_pb_free(&w->base);
    return done;
}

/* Apply version v of roll; the seconds until the controller says it
 * rolled out, and the controller's CPU seconds meanwhile. */
static int roll_to(int replicas, int v, double *ret_s, double *ret_cpu)
{
    char *m = deployment_v("roll", replicas, v);
    double cpu0 = controller_cpu();
    int64_t t0 = berth_now_mono_ns();

    bench_op_apply(&op, m);
    free(m);
    while (!rolled_out("roll", replicas)) {
        if (berth_now_mono_ns() - t0 > 300 * BERTH_NSEC_PER_SEC) {
            fprintf(stderr, "bench-fleet: version %d of roll did not roll out in 300 s\n", v);
            return -1;
        }
        harness_run(&h, 20);
    }
    *ret_s = (double)(berth_now_mono_ns() - t0) / 1e9;
    *ret_cpu = controller_cpu() - cpu0;
    return 0;
}

static int bench_rollout(int runs, int replicas)
{
    double s, cpu, first_s, first_cpu, sum_s = 0, sum_cpu = 0, max_s = 0;

    printf("rolling update (berth-controller and berthd, 1 node; %d replicas, maxSurge and "
           "maxUnavailable 25 %%; the controller's CPU from /proc)\n",
           replicas);
    if (roll_to(replicas, 1, &first_s, &first_cpu) < 0)
        return -1;
    printf("  reference: %d replicas from nothing, all available: %.2f s, controller CPU %.2f s "
           "(%.0f %%)\n",
           replicas, first_s, first_cpu, 100 * first_cpu / first_s);
    for (int i = 0; i < runs; i++) {
        if (roll_to(replicas, i + 2, &s, &cpu) < 0)
            return -1;
        printf("  rollout %d: %.2f s, controller CPU %.2f s (%.0f %%)\n", i + 1, s, cpu,
               100 * cpu / s);
        sum_s += s;
        sum_cpu += cpu;
        max_s = s > max_s ? s : max_s;
    }
    printf("  %d-replica rolling update: mean %.2f s (max %.2f s), %.2f x the start from nothing; "
           "controller CPU mean %.2f s, %.0f %% of one CPU while it rolls\n",
           replicas, sum_s / runs, max_s, sum_s / runs / first_s, sum_cpu / runs,
           100 * sum_cpu / sum_s);
    bench_op_delete(&op, "roll");
    return wait_all_removed() ? 0 : -1;
}

/* --- exit -> controller -------------------------------------------------------------- */

static int bench_exit(int runs)
{
    series ms;
    double window = 0;

    series_init(&ms, runs);
    printf("exit -> controller (berth-controller and berthd, 1 node; Pods exiting %s s after "
           "start, restartPolicy Never)\n",
           EXIT_AFTER);
    for (int i = 0; i < runs; i++) {
        ContainerInfo *ci = NULL;
        char name[32], id[48], *m;
        int64_t seen_mono, seen_real, asked_real;

        snprintf(name, sizeof(name), "exit-%d", i);
        snprintf(id, sizeof(id), "%s-0", name);
        m = exiting_pod(name);
        bench_op_apply(&op, m);
        free(m);
        if (poll_state(id, CONTAINER_RUNNING, NULL) < 0) {
            fprintf(stderr, "bench-fleet: %s did not run (see %s/berthd.log)\n", id, h.dir);
            break;
        }
        /* The exit is seen between the previous poll's question and this
         * one's answer: both ends are kept, the answer's time is the
         * figure (an upper bound). */
        asked_real = berth_now_real_ns();
        for (int64_t end = berth_now_mono_ns() + (int64_t)WAIT_MS * BERTH_NSEC_PER_MSEC;;) {
            int64_t before = berth_now_real_ns();

            ci = get_container(id);
            seen_real = berth_now_real_ns();
            seen_mono = berth_now_mono_ns();
            if (ci && ci->status && ci->status->state == CONTAINER_EXITED)
                break;
            if (ci)
                berth_pb_free(&ci->base);
            ci = NULL;
            asked_real = before;
            if (seen_mono > end)
                break;
            harness_run(&h, POLL_MS);
        }
        if (!ci) {
            fprintf(stderr, "bench-fleet: %s did not exit\n", id);
            break;
        }
        if (ci->status->exit_code != 3 || !ci->status->finished_unix_ns) {
            fprintf(stderr, "bench-fleet: %s exited %d (finished at %lld)\n", id,
                    ci->status->exit_code, (long long)ci->status->finished_unix_ns);
            berth_pb_free(&ci->base);
            break;
        }
        ms.v[ms.n++] = (double)(seen_real - ci->status->finished_unix_ns) / 1e6;
        window += (double)(seen_real - asked_real) / 1e6;
        berth_pb_free(&ci->base);
        bench_op_delete(&op, name);
        if (poll_state(id, 0, NULL) < 0) {
            fprintf(stderr, "bench-fleet: %s was not removed\n", id);
            break;
        }
    }
    series_print("exit (reaped by the monitor) -> EXITED at the controller", &ms, 50);
    if (ms.n)
        printf("  method: the exit record's finished time vs CLOCK_REALTIME when the "
               "GetContainer answer saying EXITED arrived: an upper bound, the change came "
               "after the previous poll went out, on average %.2f ms before\n",
               window / (double)ms.n);
    free(ms.v);
    return ms.n == (size_t)runs ? 0 : -1;
}

int main(int argc, char **argv)
{
    int runs = argc > 3 ? atoi(argv[3]) : 100, burst = argc > 4 ? atoi(argv[4]) : 100, rc;

    if (argc < 3 ||
        (strcmp(argv[1], "apply") != 0 && strcmp(argv[1], "exit") != 0 &&
         strcmp(argv[1], "rollout") != 0) ||
        runs < 1 || runs > 100000 || burst < 0 || burst > 1000) {
        fprintf(stderr, "usage: bench-fleet apply|exit|rollout ROOTFS [RUNS [BURST]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (start_fleet(argv[2]) < 0) {
        stop_fleet(true);
        return 1;
    }
    if (strcmp(argv[1], "rollout") == 0)
        rc = bench_rollout(runs, burst ? burst : 100);
    else
        rc = strcmp(argv[1], "apply") == 0 ? bench_apply(runs, burst) : bench_exit(runs);
    stop_fleet(true);
    return rc < 0 ? 1 : 0;
}
