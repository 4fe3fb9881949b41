/* Does berthd keep answering while it cleans up after lost monitors? With
 * N containers running (default 20), each round measures, interleaved:
 *
 *   idle      nothing happens: the baseline
 *   restart   berthd is stopped, the N monitors are killed (their
 *             containers run on, orphaned), berthd is started again: it
 *             re-adopts, kills and removes the orphans, starts them anew
 *   live      the N monitors are killed while berthd runs
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
#include "fake_controller.h"
#include "statedir/statedir.h"

#define MAX_N       200
#define SAMPLES_MAX 20000
#define HEALTH_MS   20

static fake_ctl ctl;
static berth_loop *loop;
static test_party op;
static char dir[256], state[300], cfgpath[600];
static pid_t berthd = -1;
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

static phase idle = { .name = "idle" }, restart = { .name = "restart" }, live = { .name = "live" };
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

    berth_loop_timer_arm(loop, t, berth_now_mono_ns() + HEALTH_MS * BERTH_NSEC_PER_MSEC, NULL);
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
    snprintf(addr, sizeof(addr), "ipc://%s/agent.sock", dir);
    client = client_new(loop, &op, &server, addr);
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

static const char *berthd_bin;

static void berthd_spawn(void)
{
    berthd = fork();
    if (berthd == 0) {
        char path[600];
        int fd;

        snprintf(path, sizeof(path), "%s/berthd.log", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(berthd_bin, berthd_bin, "-c", cfgpath, (char *)NULL);
        _exit(127);
    }
}

static void berthd_stop(void)
{
    int status;

    if (berthd <= 0)
        return;
    kill(berthd, SIGTERM);
    berth_waitpid(berthd, &status, 0);
    berthd = -1;
}

static bool socket_bound(void)
{
    char path[300];
    struct stat st;

    snprintf(path, sizeof(path), "%s/agent.sock", dir);
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool wait_for(bool (*pred)(void), int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    while (!pred()) {
        if (berth_now_mono_ns() > end)
            return false;
        run_for(loop, 5);
    }
    return true;
}

static bool registered(void)
{
    return ctl.registrations > 0;
}

/* Every container runs, under a monitor other than the one it had when
 * pids[] was taken (all of them, with pids[i] = 0). */
static bool all_running_anew(void)
{
    for (int i = 0; i < n_containers; i++) {
        const fake_event *e = fake_ctl_status(&ctl, ids[i]);

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
        pids[i] = fake_ctl_status(&ctl, ids[i])->pid;
}

static bool none_left(void)
{
    DIR *d = opendir(state);
    struct dirent *e;
    int n = 0;

    if (!d)
        return true;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n == 0;
}

/* SIGKILL every monitor: their containers run on, orphaned. Waits until
 * each one's lock is free. */
static int kill_monitors(void)
{
    for (int i = 0; i < n_containers; i++) {
        char path[700];
        MonitorState *ms = NULL;
        berth_monitor_liveness l = BERTH_MONITOR_ALIVE;
        int64_t end = berth_now_mono_ns() + 5 * BERTH_NSEC_PER_SEC;
        int dfd;

        snprintf(path, sizeof(path), "%s/%.31s", state, ids[i]);
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

static int idle_window(int ms)
{
    client_open(false);
    window_begin(&idle);
    run_for(loop, ms);
    window_end();
    client_close();
    return 0;
}

static int64_t restart_window(void)
{
    int64_t t;

    note_pids();
    berthd_stop();
    if (kill_monitors() < 0)
        return -1;
    window_begin(&restart);
    berthd_spawn();
    /* Connect once the socket is there: nanomsg would retry only every
     * 100 ms, which would be measured instead of berthd. */
    while (!socket_bound() && berth_now_mono_ns() - window_start_ns < 60 * BERTH_NSEC_PER_SEC)
        run_for(loop, 1);
    client_open(true);
    if (!wait_for(readopted, 120000)) {
        fprintf(stderr, "bench-readopt: not all %d running again (see %s/berthd.log)\n",
                n_containers, dir);
        window_end();
        client_close();
        return -1;
    }
    t = berth_now_mono_ns() - window_start_ns;
    window_end();
    client_close();
    return t / BERTH_NSEC_PER_MSEC;
}

static int live_window(void)
{
    note_pids();
    client_open(false);
    run_for(loop, 200); /* connected and answering */
    if (kill_monitors() < 0)
        return -1;
    window_begin(&live);
    if (!wait_for(readopted, 120000)) {
        fprintf(stderr, "bench-readopt: not all %d running again (see %s/berthd.log)\n",
                n_containers, dir);
        window_end();
        client_close();
        return -1;
    }
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
                           : ": every monitor killed while berthd runs");
    print_series(p == &restart ? "Agent.Health round trip (then)" : "Agent.Health round trip",
                 &p->health_ms);
    if (p != &restart)
        print_series("gap between heartbeats", &p->heartbeat_ms);
    if (p == &restart) {
        print_series("berthd started -> Register", &p->registered);
        print_series("berthd started -> first Health", &p->first_health);
        print_series("berthd started -> first heartbeat", &p->first_beat);
    }
    if (p != &idle)
        print_series("until all run again", &p->all_running);
    if (p->failed)
        printf("    Health calls failed: %llu\n", (unsigned long long)p->failed);
}

/* --- setup ------------------------------------------------------------------------------ */

static int setup(const char *rootfs)
{
    char path[600], cmd[1400], text[2048];
    berth_keypair node_key;
    berth_error *err = NULL;
    int n;

    snprintf(dir, sizeof(dir), "/tmp/berth-bench-readopt-%d", (int)getpid());
    snprintf(state, sizeof(state), "%s/agent/containers", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/images && cp -a %s %s/images/bb", dir, rootfs, dir);
    if (system(cmd) != 0)
        return -1;
    if (berth_loop_new(&loop, &err) < 0 || berth_keypair_generate(&node_key, &err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/node.key", dir);
    if (berth_keypair_save(AT_FDCWD, path, &node_key, &err) < 0)
        goto fail;
    fake_ctl_start(&ctl, loop, dir, "bench", node_key.pk);
    ctl.heartbeat_ms = 1000;
    ctl.on_call = on_call;
    snprintf(path, sizeof(path), "%s/controller.pub", dir);
    if (berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])ctl.party.key.pk, 1,
                           &err) < 0)
        goto fail;
    party_init(&op, BERTH_ROLE_OPERATOR, "bench");
    {
        berth_principal node;

        if (berth_principal_init(&node, BERTH_ROLE_NODE, "bench", &err) < 0 ||
            berth_policy_memory_add_key(op.policy, &node, node_key.pk, &err) < 0)
            goto fail;
    }
    snprintf(path, sizeof(path), "%s/op.pub", dir);
    if (berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])op.key.pk, 1, &err) <
        0)
        goto fail;
    n = snprintf(text, sizeof(text),
                 "node_name: bench\n"
                 "controller: {address: '%s', key: %s/controller.pub}\n"
                 "state_dir: %s/agent\nimage_store: %s/images\nkey: %s/node.key\n"
                 "cgroup_parent: /berth-bench-%d\nsocket: %s/agent.sock\n"
                 "operators: {bench: %s/op.pub}\n"
                 "log: {level: warn}\n",
                 ctl.rpc, dir, dir, dir, dir, (int)getpid(), dir, dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/agent.yaml", dir);
    if (berth_write_file_atomic_at(AT_FDCWD, cfgpath, text, (size_t)n, 0600, &err) < 0)
        goto fail;
    berth_loop_timer_init(&health_timer, on_health_timer);
    berth_loop_timer_arm(loop, &health_timer, berth_now_mono_ns(), NULL);
    berthd_spawn();
    if (!wait_for(registered, 15000)) {
        fprintf(stderr, "bench-readopt: berthd did not register (see %s/berthd.log)\n", dir);
        return -1;
    }
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
    fake_ctl_assign(&ctl, spec_ptrs, (size_t)n_containers);
    if (!wait_for(all_running_anew, 120000)) {
        fprintf(stderr, "bench-readopt: the %d containers did not run (see %s/berthd.log)\n",
                n_containers, dir);
        return -1;
    }
    run_for(loop, 2000); /* settle */
    return 0;
fail:
    fprintf(stderr, "bench-readopt: %s\n", err->msg);
    berth_error_free(&err);
    return -1;
}

static void teardown(bool keep)
{
    char parent[64];

    if (berthd <= 0 && loop && ctl.rpc)
        berthd_spawn();
    if (berthd > 0) {
        fake_ctl_assign(&ctl, NULL, 0);
        if (!wait_for(none_left, 60000))
            fprintf(stderr, "bench-readopt: containers left behind\n");
    }
    berthd_stop();
    berth_loop_timer_cancel(loop, &health_timer);
    client_close();
    fake_ctl_stop(&ctl);
    party_free(&op);
    berth_loop_free(loop);
    snprintf(parent, sizeof(parent), "/berth-bench-%d", (int)getpid());
    bench_reap_agent(state, parent, 10000);
    if (keep)
        fprintf(stderr, "bench-readopt: kept %s (berthd.log) for a look\n", dir);
    else if (berth_rm_rf_at(AT_FDCWD, dir, NULL) < 0)
        fprintf(stderr, "bench-readopt: cleanup of %s failed\n", dir);
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
    berthd_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (setup(argv[2]) < 0) {
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
    teardown(rc != 0);
    return rc;
}
