/* Does berthd keep answering while it cleans up after lost monitors? With
 * N containers running (default 20), each round measures, interleaved:
 *
 *   idle      nothing happens: the baseline
 *   restart   berthd is stopped, the N monitors are killed (their
 *             containers run on, orphaned), berthd is started again: it
 *             re-adopts, kills and removes the orphans, starts them anew
 *   live      the N monitors are killed while berthd runs
 *   stuck     once, at the end: 3 monitors are killed while berthd runs and
 *             their cgroups cannot be removed for 12 s (a directory in
 *             each, as a process stuck in the kernel would keep them)
 *
 * and, in every window, the round trip of Agent.Health calls on the local
 * socket (one every 20 ms; after a restart from the moment its socket is
 * there, the first answer counted from berthd's start) and the gaps
 * between the heartbeats the controller receives (the lease: 3 missed
 * intervals and the node is Unknown; after a restart, the first heartbeat
 * from berthd's start, which includes one jittered interval). A restart or live window ends once
 * all N run again under new monitors and a heartbeat arrived; an idle
 * window lasts as long as the restart window before it (at least 2 s).
 *
 *   bench-readopt BERTHD ROOTFS [ROUNDS [N]]     (default 5 rounds, 20)
 *
 * A benchmark: it prints figures and asserts nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_util.h"
#include "agentd.h"
#include "statedir/statedir.h"

#define MAX_N       200
#define SAMPLES_MAX 20000
#define HEALTH_MS   20
/* The stuck window: this many monitors, their cgroups held this long. */
#define STUCK_N  3
#define STUCK_MS 12000

static bench_agentd A;
static test_party op;
static int n_containers = 20;

/* --- samples ------------------------------------------------------------------------- */

typedef struct series {
    double v[SAMPLES_MAX];
    size_t n;
} series;

static void add(series *s, double v)
{
    if (s->n < SAMPLES_MAX)
        s->v[s->n++] = v;
}

typedef struct phase {
    const char *name;
    series health_ms;    /* Agent.Health round trips */
    series heartbeat_ms; /* gaps between heartbeats */
    series first_health; /* restart: berthd started -> first Health answer */
    series registered;   /* restart: berthd started -> Register received */
    series first_beat;   /* restart: berthd started -> first heartbeat */
    series all_running;  /* all N running again under new monitors */
    uint64_t failed;     /* Health calls that failed */
} phase;

static phase idle = { .name = "idle" }, restart = { .name = "restart" }, live = { .name = "live" },
             stuck = { .name = "stuck" };
static phase *cur;

/* --- Health calls and heartbeats ------------------------------------------------------ */

static berth_rpc_client *client;
static berth_loop_timer health_timer;
static bool in_flight;
static int64_t sent_ns, window_start_ns, last_beat_ns; /* last heartbeat, any window */
static bool first_answer_seen, first_beat_seen, all_seen;

static void on_health(berth_rpc_result *r, void *data)
{
    int64_t now = berth_now_mono_ns();

    (void)data;
    in_flight = false;
    if (!cur)
        return;
    if (r->code != CODE_OK) {
        cur->failed++;
        return;
    }
    /* A restarted berthd's first answer also waited for it to start: that
     * is counted apart. */
    if (!first_answer_seen && cur == &restart)
        add(&cur->first_health, (double)(now - window_start_ns) / 1e6);
    else
        add(&cur->health_ms, (double)(now - sent_ns) / 1e6);
    first_answer_seen = true;
}

static void on_health_timer(berth_loop_timer *t)
{
    HealthRequest q = HEALTH_REQUEST_INIT;

    berth_loop_timer_arm(A.loop, t, berth_now_mono_ns() + HEALTH_MS * BERTH_NSEC_PER_MSEC);
    if (in_flight || !client || !cur)
        return;
    sent_ns = berth_now_mono_ns();
    in_flight = berth_rpc_client_call(client, &agent_descriptor, "Health", &q.base, 30000,
                                      on_health, NULL, NULL) == 0;
}

static void on_call(fake_ctl *f, const char *method)
{
    int64_t now = berth_now_mono_ns();

    (void)f;
    if (strcmp(method, "Register") == 0) {
        if (cur == &restart)
            add(&cur->registered, (double)(now - window_start_ns) / 1e6);
        return;
    }
    /* The first heartbeat of a restarted berthd is counted from its start;
     * a gap belongs to the window it ends in. */
    if (cur == &restart && !first_beat_seen)
        add(&cur->first_beat, (double)(now - window_start_ns) / 1e6);
    else if (cur && last_beat_ns)
        add(&cur->heartbeat_ms, (double)(now - last_beat_ns) / 1e6);
    first_beat_seen = true;
    last_beat_ns = now;
}

/* A client for the local socket. After a restart of berthd, the sessions
 * with the one before are forgotten first: a new berthd does not know them. */
static void client_open(bool restarted)
{
    berth_principal node;
    test_party server = { 0 };
    berth_session *s;
    char addr[700];

    berth_principal_init(&node, BERTH_ROLE_NODE, "bench", NULL);
    while (restarted && (s = berth_auth_session_latest(op.auth, node.id)))
        berth_auth_session_drop(op.auth, s);
    server.who = node;
    snprintf(addr, sizeof(addr), "ipc://%s/agent.sock", A.dir);
    client = client_new(A.loop, &op, &server, addr);
}

static void client_close(void)
{
    /* A call still out is answered (failed) by the free. */
    berth_rpc_client_free(client);
    client = NULL;
    in_flight = false;
}

static void window_begin(phase *p)
{
    cur = p;
    window_start_ns = berth_now_mono_ns();
    first_answer_seen = first_beat_seen = all_seen = false;
}

static void window_end(void)
{
    cur = NULL;
}

/* --- berthd and its containers --------------------------------------------------------- */

static ContainerSpec specs[MAX_N];
static ContainerSpec *spec_ptrs[MAX_N];
static char ids[MAX_N][32];
static char *sleep_cmd[] = { "/bin/sleep", "100000" };
static int pids[MAX_N]; /* the containers' pids when last all running */

static bool socket_bound(void)
{
    char path[300];
    struct stat st;

    snprintf(path, sizeof(path), "%s/agent.sock", A.dir);
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Every container runs, under a monitor other than the one it had when
 * pids[] was taken (all of them, with pids[i] = 0). */
static bool all_running_anew(void)
{
    for (int i = 0; i < n_containers; i++) {
        const fake_event *e = fake_ctl_status(&A.ctl, ids[i]);

        if (!e || e->state != CONTAINER_RUNNING || e->pid <= 0 || e->pid == pids[i])
            return false;
    }
    return true;
}

/* All run again (noted the first time), and a heartbeat came in. */
static bool readopted(void)
{
    if (!all_seen && all_running_anew()) {
        all_seen = true;
        add(&cur->all_running, (double)(berth_now_mono_ns() - window_start_ns) / 1e6);
    }
    return all_seen && first_beat_seen;
}

static void note_pids(void)
{
    for (int i = 0; i < n_containers; i++)
        pids[i] = fake_ctl_status(&A.ctl, ids[i])->pid;
}

static bool none_left(void)
{
    return bench_agentd_empty(&A);
}

/* SIGKILL the monitors of the first n containers: their containers run
 * on, orphaned. Waits until each one's lock is free. */
static int kill_monitors(int n)
{
    for (int i = 0; i < n; i++) {
        char path[700];
        MonitorState *ms = NULL;
        berth_monitor_liveness l = BERTH_MONITOR_ALIVE;
        int64_t end = berth_now_mono_ns() + 5 * BERTH_NSEC_PER_SEC;
        int dfd;

        snprintf(path, sizeof(path), "%s/%.31s", A.state, ids[i]);
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || berth_statedir_read_state(dfd, &ms, NULL) < 0 || ms->monitor_pid <= 0) {
            fprintf(stderr, "bench-readopt: no monitor for %s\n", ids[i]);
            if (dfd >= 0)
                close(dfd);
            return -1;
        }
        kill(ms->monitor_pid, SIGKILL);
        monitor_state_free_unpacked(ms, NULL);
        while (l == BERTH_MONITOR_ALIVE && berth_now_mono_ns() < end) {
            usleep(1000);
            berth_monitor_probe(dfd, &l, NULL);
        }
        close(dfd);
        if (l == BERTH_MONITOR_ALIVE)
            return -1;
    }
    return 0;
}

/* --- the windows ----------------------------------------------------------------------- */

/* The window ends once all run again under new monitors and a heartbeat
 * came in. */
static int window_until_readopted(void)
{
    bool ok = bench_agentd_wait(&A, readopted, 120000);

    if (!ok)
        fprintf(stderr, "bench-readopt: not all %d running again (see %s/berthd.log)\n",
                n_containers, A.dir);
    window_end();
    client_close();
    return ok ? 0 : -1;
}

static int idle_window(int ms)
{
    client_open(false);
    window_begin(&idle);
    run_for(A.loop, ms);
    window_end();
    client_close();
    return 0;
}

static int64_t restart_window(void)
{

    note_pids();
    bench_agentd_stop(&A);
    if (kill_monitors(n_containers) < 0)
        return -1;
    window_begin(&restart);
    bench_agentd_start(&A, false);
    /* Connect once the socket is there: nanomsg would retry only every
     * 100 ms, which would be measured instead of berthd. */
    while (!socket_bound() && berth_now_mono_ns() - window_start_ns < 60 * BERTH_NSEC_PER_SEC)
        run_for(A.loop, 1);
    client_open(true);
    if (window_until_readopted() < 0)
        return -1;
    return (berth_now_mono_ns() - window_start_ns) / BERTH_NSEC_PER_MSEC;
}

static int live_window(void)
{
    note_pids();
    client_open(false);
    run_for(A.loop, 200); /* connected and answering */
    if (kill_monitors(n_containers) < 0)
        return -1;
    window_begin(&live);
    return window_until_readopted();
}

/* A directory inside container i's cgroup keeps it from being removed
 * (rmdir: EBUSY), as a process stuck in the kernel would: made (hold) or
 * removed. In the memory hierarchy on v1; the one hierarchy on v2. */
static void hold_cgroup(int i, bool hold)
{
    char path[300];
    struct stat st;

    if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%.31s/held", A.parent, ids[i]);
    else
        snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/%.31s/held", A.parent, ids[i]);
    if (hold ? mkdir(path, 0755) : rmdir(path) < 0)
        fprintf(stderr, "bench-readopt: %s %s: %s\n", hold ? "mkdir" : "rmdir", path,
                strerror(errno));
}

static uint64_t beats_at_release;
static bool settled_after_release(void)
{
    return !in_flight && A.ctl.heartbeats > beats_at_release;
}

/* STUCK_N monitors killed while berthd runs, their cgroups held for
 * STUCK_MS: cleaning up after them cannot finish meanwhile. The window
 * lasts until the holds are released, the Health call then in flight is
 * answered and a heartbeat came in after that (a berthd that waited in its
 * loop answers only then). Run once, last: berthd leaves those containers
 * failed (their cgroups could not be removed). */
static int stuck_window(void)
{
    client_open(false);
    run_for(A.loop, 200);
    for (int i = 0; i < STUCK_N; i++)
        hold_cgroup(i, true);
    if (kill_monitors(STUCK_N) < 0)
        return -1;
    window_begin(&stuck);
    run_for(A.loop, STUCK_MS);
    for (int i = 0; i < STUCK_N; i++)
        hold_cgroup(i, false);
    beats_at_release = A.ctl.heartbeats;
    bench_agentd_wait(&A, settled_after_release, 120000);
    window_end();
    client_close();
    return 0;
}

/* --- figures --------------------------------------------------------------------------- */

static void print_series(const char *what, series *s)
{
    if (!s->n) {
        printf("    %-34s (none)\n", what);
        return;
    }
    bench_sort(s->v, s->n);
    printf("    %-34s median %8.1f ms  p99 %8.1f ms  max %8.1f ms  (%zu)\n", what,
           bench_pct(s->v, s->n, 0.5), bench_pct(s->v, s->n, 0.99), s->v[s->n - 1], s->n);
}

static void print_phase(phase *p)
{
    printf("  %s%s\n", p->name,
           p == &idle      ? ": nothing happening"
           : p == &restart ? ": berthd restarted with every monitor killed"
           : p == &live    ? ": every monitor killed while berthd runs"
                           : ": 3 monitors killed under a running berthd, their cgroups held 12 s");
    print_series(p == &restart ? "Agent.Health round trip (then)" : "Agent.Health round trip",
                 &p->health_ms);
    if (p != &restart)
        print_series("gap between heartbeats", &p->heartbeat_ms);
    if (p == &restart) {
        print_series("berthd started -> Register", &p->registered);
        print_series("berthd started -> first Health", &p->first_health);
        print_series("berthd started -> first heartbeat", &p->first_beat);
    }
    if (p == &restart || p == &live)
        print_series("until all run again", &p->all_running);
    if (p->failed)
        printf("    Health calls failed: %llu\n", (unsigned long long)p->failed);
}

/* --- setup ------------------------------------------------------------------------------ */

/* berthd with an operator key for the Health calls, and the N containers
 * running. */
static int setup(const char *berthd_bin, const char *rootfs)
{
    char path[600];
    berth_principal node;
    berth_error *err = NULL;

    if (bench_agentd_setup(&A, "readopt", berthd_bin, rootfs) < 0)
        return -1;
    A.ctl.on_call = on_call;
    party_init(&op, BERTH_ROLE_OPERATOR, "bench");
    snprintf(path, sizeof(path), "%s/op.pub", A.dir);
    snprintf(A.extra_yaml, sizeof(A.extra_yaml),
             "operators: {bench: %s}\npod_network: {mode: none}\n", path);
    if (berth_principal_init(&node, BERTH_ROLE_NODE, "bench", &err) < 0 ||
        berth_policy_memory_add_key(op.policy, &node, A.node_pk, &err) < 0 ||
        berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])op.key.pk, 1, &err) <
            0) {
        fprintf(stderr, "bench-readopt: %s\n", err->msg);
        berth_error_free(&err);
        return -1;
    }
    berth_loop_timer_init(&health_timer, on_health_timer);
    berth_loop_timer_arm(A.loop, &health_timer, berth_now_mono_ns());
    if (bench_agentd_start(&A, true) < 0)
        return -1;
    for (int i = 0; i < n_containers; i++) {
        ContainerSpec *s = &specs[i];

        container_spec_init(s);
        snprintf(ids[i], sizeof(ids[i]), "ro-%d", i);
        s->id = ids[i];
        s->image = "bb";
        s->command = sleep_cmd;
        s->n_command = 2;
        s->stop_grace_ms = 100; /* sleep as pid 1 ignores SIGTERM */
        spec_ptrs[i] = s;
        pids[i] = 0;
    }
    fake_ctl_assign(&A.ctl, spec_ptrs, (size_t)n_containers);
    if (!bench_agentd_wait(&A, all_running_anew, 120000)) {
        fprintf(stderr, "bench-readopt: the %d containers did not run (see %s/berthd.log)\n",
                n_containers, A.dir);
        return -1;
    }
    run_for(A.loop, 2000); /* settle */
    return 0;
}

static void teardown(bool keep)
{
    if (A.berthd <= 0 && A.loop)
        bench_agentd_start(&A, true);
    if (A.berthd > 0) {
        fake_ctl_assign(&A.ctl, NULL, 0);
        if (!bench_agentd_wait(&A, none_left, 60000))
            fprintf(stderr, "bench-readopt: containers left behind\n");
    }
    if (A.loop)
        berth_loop_timer_cancel(A.loop, &health_timer);
    client_close();
    bench_agentd_teardown(&A, keep);
    party_free(&op);
}

int main(int argc, char **argv)
{
    int rounds = argc > 3 ? atoi(argv[3]) : 5, rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: bench-readopt BERTHD ROOTFS [ROUNDS [N]]\n");
        return 2;
    }
    if (argc > 4)
        n_containers = atoi(argv[4]);
    if (rounds < 1 || n_containers < 1 || n_containers > MAX_N) {
        fprintf(stderr, "bench-readopt: ROUNDS >= 1, N in 1..%d\n", MAX_N);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (setup(argv[1], argv[2]) < 0) {
        teardown(true);
        return 1;
    }
    for (int r = 0; r < rounds && rc == 0; r++) {
        int64_t took = restart_window();

        if (took < 0 || idle_window(took > 2000 ? (int)took : 2000) < 0 || live_window() < 0 ||
            idle_window(2000) < 0)
            rc = 1;
    }
    printf("re-adoption (berthd with a fake controller; %d containers, 1 s heartbeats, "
           "Agent.Health every %d ms; %d rounds)\n",
           n_containers, HEALTH_MS, rounds);
    print_phase(&idle);
    print_phase(&restart);
    print_phase(&live);
    if (rc == 0 && stuck_window() < 0)
        rc = 1;
    print_phase(&stuck);
    teardown(rc != 0);
    return rc;
}
