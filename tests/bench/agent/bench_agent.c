/* berthd under load, driven by the fake controller of the agent tests (so
 * the figures are the agent's alone):
 *
 *   latency   assignment -> Running for one container, one at a time: the
 *             wake-up, GetAssignments, the monitor's start, the container's
 *             start and the Running event back (p50, p99)
 *   pods      two containers as two pods of one, as one pod of two (its
 *             sandbox: network, IPC and UTS namespaces bound to files, a pod
 *             cgroup) and as one pod of two sharing a PID namespace (a
 *             pause besides), interleaved: assignment -> both Running
 *   density   N sleeping containers assigned at once: time until all run,
 *             then the agent's RSS and PSS, each monitor's PSS, and the
 *             agent's CPU over an idle period with all of them running
 *
 *   bench-agent BERTHD ROOTFS [LATENCY_RUNS [N...]]    (default 50 100 500)
 *
 * Runs berthd with the defaults an operator gets (1 s heartbeats, 10 s
 * metrics, 4 parallel starts). A benchmark: it prints figures and asserts
 * nothing. */
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

#define MAX_N 1000

static bench_agentd A;
/* The agent the predicates look at: A, or N (with the pod network). */
static bench_agentd N, C, *cur = &A;
/* The agents of the network round: none, built-in, CNI (when the plugins
 * are there). */
static bench_agentd *net_agents[3];
static size_t n_net_agents;

/* --- the containers ---------------------------------------------------------------- */

static ContainerSpec specs[MAX_N];
static ContainerSpec *spec_ptrs[MAX_N];
static char ids[MAX_N][48];
static char *sleep_cmd[] = { "/bin/sleep", "100000" };

static void make_specs(const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        ContainerSpec *s = &specs[i];

        container_spec_init(s);
        snprintf(ids[i], sizeof(ids[i]), "%s-%d", prefix, i);
        s->id = ids[i];
        s->image = "bb";
        s->command = sleep_cmd;
        s->n_command = 2;
        /* sleep as pid 1 ignores SIGTERM: do not wait long for it. */
        s->stop_grace_ms = 100;
        spec_ptrs[i] = s;
    }
}

/* --- timing what the controller hears ---------------------------------------------- */

static const char *await_id;
static int64_t running_at_ns;

static void on_status(fake_ctl *f, const fake_event *e)
{
    (void)f;
    if (e->state != CONTAINER_RUNNING)
        return;
    if (await_id && strcmp(e->id, await_id) == 0 && !running_at_ns)
        running_at_ns = berth_now_mono_ns();
}

static bool awaited_running(void)
{
    return running_at_ns != 0;
}

/* Running containers of the current round (ids "PREFIX-N"). */
static int want_running;
static char round_prefix[32];
static int round_running(void)
{
    size_t n = strlen(round_prefix);
    int k = 0;

    for (size_t i = 0; i < cur->ctl.n_latest; i++)
        k += strncmp(cur->ctl.latest[i].id, round_prefix, n) == 0 &&
             cur->ctl.latest[i].id[n] == '-' && cur->ctl.latest[i].state == CONTAINER_RUNNING;
    return k;
}

static bool all_running(void)
{
    return round_running() >= want_running;
}

/* Running containers whose id starts with round_prefix (a pod's "P_x" or
 * two pods "P-0", "P-1"). */
static int prefix_running(void)
{
    size_t n = strlen(round_prefix);
    int k = 0;

    for (size_t i = 0; i < cur->ctl.n_latest; i++)
        k += strncmp(cur->ctl.latest[i].id, round_prefix, n) == 0 &&
             cur->ctl.latest[i].state == CONTAINER_RUNNING;
    return k;
}

static bool pair_running(void)
{
    return prefix_running() >= 2;
}

/* No container directory left: everything removed was stopped and cleaned. */
static bool none_left(void)
{
    return bench_agentd_empty(cur);
}

/* --- /proc ------------------------------------------------------------------------- */

/* The monitors: every live berth-monitor whose state dir is ours. */
static int monitor_pss(long *ret_sum_kb, long *ret_max_kb)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    *ret_sum_kb = *ret_max_kb = 0;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char path[300], cmd[1024];
        ssize_t len;
        int fd;
        long pss;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        len = berth_read_all(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        if (len <= 0)
            continue;
        cmd[len] = '\0';
        for (ssize_t i = 0; i < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        if (!strstr(cmd, "berth-monitor") || !strstr(cmd, cur->state))
            continue;
        pss = bench_smaps_kb(atoi(e->d_name), "Pss");
        if (pss < 0)
            continue;
        *ret_sum_kb += pss;
        if (pss > *ret_max_kb)
            *ret_max_kb = pss;
        n++;
    }
    closedir(d);
    return n;
}

/* --- figures ----------------------------------------------------------------------- */

/* One container named after prefix on cur: assignment -> Running, in ms
 * (-1: it did not run, or was not removed after). */
static double one_start(const char *prefix)
{
    int64_t t0;
    double ms;

    make_specs(prefix, 1);
    await_id = ids[0];
    running_at_ns = 0;
    t0 = berth_now_mono_ns();
    fake_ctl_assign(&cur->ctl, spec_ptrs, 1);
    if (!bench_agentd_wait(cur, awaited_running, 30000)) {
        fprintf(stderr, "bench-agent: %s did not run (see %s/berthd.log)\n", ids[0], cur->dir);
        return -1;
    }
    ms = (double)(running_at_ns - t0) / 1e6;
    fake_ctl_assign(&cur->ctl, NULL, 0);
    if (!bench_agentd_wait(cur, none_left, 30000)) {
        fprintf(stderr, "bench-agent: %s was not removed\n", ids[0]);
        return -1;
    }
    return ms;
}

static int latency(int runs)
{
    double *ms = calloc((size_t)runs, sizeof(double));
    int done = 0;

    if (!ms)
        return -1;
    for (int i = 0; i < runs; i++) {
        char prefix[32];

        snprintf(prefix, sizeof(prefix), "lat%d", i);
        if ((ms[done] = one_start(prefix)) < 0)
            break;
        done++;
    }
    await_id = NULL;
    if (done) {
        bench_sort(ms, (size_t)done);
        printf("  assignment -> Running, one container: p50 %.1f ms  p99 %.1f ms  min %.1f ms  "
               "(%d runs)\n",
               bench_pct(ms, (size_t)done, 0.5), bench_pct(ms, (size_t)done, 0.99), ms[0], done);
    }
    free(ms);
    return done == runs ? 0 : -1;
}

/* Two containers: as two pods (mode 0), one pod of two (1), one pod of
 * two sharing a PID namespace (2); assignment -> both Running, medians. */
static int pods(int runs)
{
    static const char *const modes[] = { "two pods of one", "one pod of two",
                                         "one pod of two, shared PID namespace" };
    double *ms[3];
    static PodMember members[2];
    static const char *const names[] = { "a", "b" };
    int done = 0;

    for (int k = 0; k < 3; k++)
        ms[k] = calloc((size_t)runs + 1, sizeof(double));
    for (int i = 0; i < runs; i++) {
        for (int k = 0; k < 3; k++) {
            int64_t t0;

            snprintf(round_prefix, sizeof(round_prefix), "pod%d-%d", k, i);
            make_specs(round_prefix, 2);
            for (int c = 0; k > 0 && c < 2; c++) {
                pod_member_init(&members[c]);
                members[c].pod = round_prefix;
                members[c].name = (char *)names[c];
                members[c].share_process_namespace = k == 2;
                snprintf(ids[c], sizeof(ids[c]), "%s_%s", round_prefix, names[c]);
                specs[c].pod = &members[c];
                specs[c].hostname = round_prefix;
            }
            t0 = berth_now_mono_ns();
            fake_ctl_assign(&A.ctl, spec_ptrs, 2);
            if (!bench_agentd_wait(&A, pair_running, 30000)) {
                fprintf(stderr, "bench-agent: %s did not run (see %s/berthd.log)\n", round_prefix,
                        A.dir);
                goto out;
            }
            ms[k][i] = (double)(berth_now_mono_ns() - t0) / 1e6;
            fake_ctl_assign(&A.ctl, NULL, 0);
            if (!bench_agentd_wait(&A, none_left, 30000)) {
                fprintf(stderr, "bench-agent: %s was not removed\n", round_prefix);
                goto out;
            }
        }
        done++;
    }
out:
    for (int k = 0; k < 3 && done; k++) {
        bench_sort(ms[k], (size_t)done);
        printf("  assignment -> 2 Running, %-38s p50 %.1f ms  p99 %.1f ms  (%d runs)\n", modes[k],
               bench_pct(ms[k], (size_t)done, 0.5), bench_pct(ms[k], (size_t)done, 0.99), done);
    }
    if (done)
        printf("  the sandbox costs %.1f ms (%.1f ms with a pause), pod vs two pods, p50\n",
               bench_pct(ms[1], (size_t)done, 0.5) - bench_pct(ms[0], (size_t)done, 0.5),
               bench_pct(ms[2], (size_t)done, 0.5) - bench_pct(ms[0], (size_t)done, 0.5));
    for (int k = 0; k < 3; k++)
        free(ms[k]);
    for (int c = 0; c < 2; c++)
        specs[c].pod = NULL;
    return done == runs ? 0 : -1;
}

/* One container assigned -> Running, interleaved: on A (no pod network)
 * and on N (the built-in pod network: a sandbox, a veth, an address, a
 * route for each); p50, p99 of each and what the network adds. */
static int network(int runs)
{
    static const char *const what[] = { "no pod network:      ", "built-in pod network:",
                                        "CNI bridge+host-local:" };
    double *ms[3];
    int done = 0;

    for (size_t k = 0; k < n_net_agents; k++)
        ms[k] = calloc((size_t)runs + 1, sizeof(double));
    for (int i = 0; i < runs; i++) {
        for (size_t k = 0; k < n_net_agents; k++) {
            char prefix[48];

            cur = net_agents[k];
            snprintf(prefix, sizeof(prefix), "net%zu-%d", k, i);
            if ((ms[k][i] = one_start(prefix)) < 0)
                goto out;
        }
        done++;
    }
out:
    cur = &A;
    await_id = NULL;
    for (size_t k = 0; k < n_net_agents && done; k++) {
        bench_sort(ms[k], (size_t)done);
        printf("  assignment -> Running, %s p50 %.1f ms  p99 %.1f ms  (%d runs)\n", what[k],
               bench_pct(ms[k], (size_t)done, 0.5), bench_pct(ms[k], (size_t)done, 0.99), done);
    }
    if (done)
        printf("  the pod network adds %.1f ms, p50 (target <= 5 ms)\n",
               bench_pct(ms[1], (size_t)done, 0.5) - bench_pct(ms[0], (size_t)done, 0.5));
    if (done && n_net_agents > 2)
        printf("  the same with CNI's bridge plugin adds %.1f ms, p50\n",
               bench_pct(ms[2], (size_t)done, 0.5) - bench_pct(ms[0], (size_t)done, 0.5));
    for (size_t k = 0; k < n_net_agents; k++)
        free(ms[k]);
    return done == runs ? 0 : -1;
}

static int density(int n)
{
    long rss, pss, t0, t1, mon_sum, mon_max;
    int64_t start, all_ns;
    int monitors;

    snprintf(round_prefix, sizeof(round_prefix), "d%d", n);
    make_specs(round_prefix, n);
    want_running = n;
    start = berth_now_mono_ns();
    fake_ctl_assign(&cur->ctl, spec_ptrs, (size_t)n);
    if (!bench_agentd_wait(cur, all_running, 600000)) {
        fprintf(stderr, "bench-agent: only %d of %d running (see %s/berthd.log)\n", round_running(),
                n, cur->dir);
        return -1;
    }
    all_ns = berth_now_mono_ns() - start;
    /* Settle (the last events, a metrics round), then measure idle. */
    run_for(cur->loop, 2000);
    rss = bench_smaps_kb(cur->berthd, "Rss");
    pss = bench_smaps_kb(cur->berthd, "Pss");
    monitors = monitor_pss(&mon_sum, &mon_max);
    t0 = bench_cpu_ticks(cur->berthd);
    run_for(cur->loop, 20000);
    t1 = bench_cpu_ticks(cur->berthd);
    printf("  %4d containers: all Running after %.2f s (%.1f ms each)\n", n, (double)all_ns / 1e9,
           (double)all_ns / 1e6 / n);
    printf("        berthd: RSS %.1f MB  PSS %.1f MB   idle CPU %.2f%% over 20 s\n",
           (double)rss / 1024, (double)pss / 1024,
           100.0 * (double)(t1 - t0) / (double)sysconf(_SC_CLK_TCK) / 20.0);
    if (monitors)
        printf("        berth-monitor x%d: PSS %.0f kB each (max %ld kB)\n", monitors,
               (double)mon_sum / monitors, mon_max);
    fake_ctl_assign(&cur->ctl, NULL, 0);
    if (!bench_agentd_wait(cur, none_left, 600000)) {
        fprintf(stderr, "bench-agent: containers of round %d not removed\n", n);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 3 ? atoi(argv[3]) : 50, rc = 0;
    int sizes[8] = { 100, 500 }, n_sizes = 2;

    if (argc < 3) {
        fprintf(stderr, "usage: bench-agent BERTHD ROOTFS [LATENCY_RUNS [N...]]\n");
        return 2;
    }
    if (argc > 4) {
        n_sizes = 0;
        for (int i = 4; i < argc && n_sizes < 8; i++) {
            int n = atoi(argv[i]);

            if (n < 1 || n > MAX_N) {
                fprintf(stderr, "bench-agent: N must be 1..%d\n", MAX_N);
                return 2;
            }
            sizes[n_sizes++] = n;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (bench_agentd_setup(&A, "agent", argv[1], argv[2]) < 0) {
        bench_agentd_teardown(&A, true);
        return 1;
    }
    A.ctl.on_status = on_status;
    if (bench_agentd_start(&A, true) < 0) {
        bench_agentd_teardown(&A, true);
        return 1;
    }
    printf("agent (berthd with a fake controller; 1 s heartbeats, 10 s metrics, 4 parallel "
           "starts)\n");
    if (runs > 0 && latency(runs) < 0)
        rc = 1;
    if (runs > 0 && rc == 0 && pods(runs) < 0)
        rc = 1;
    for (int i = 0; i < n_sizes && rc == 0; i++)
        if (density(sizes[i]) < 0)
            rc = 1;
    /* the pod network: a second berthd in a network namespace of its own */
    if (rc == 0 && runs > 0) {
        /* one loop for both fake controllers: waiting on one serves both */
        N.loop = A.loop;
        if (bench_agentd_setup(&N, "agent-net", argv[1], argv[2]) < 0)
            rc = 1;
        N.own_netns = true;
        snprintf(N.extra_yaml, sizeof(N.extra_yaml),
                 "pod_network: {mode: bridge, pod_cidr: 10.244.0.0/22, "
                 "cluster_cidr: 10.244.0.0/16}\n");
        N.ctl.on_status = on_status;
        if (rc == 0 && bench_agentd_start(&N, true) < 0)
            rc = 1;
        net_agents[0] = &A;
        net_agents[1] = &N;
        n_net_agents = 2;
        /* CNI's own bridge and host-local, of the same shape, when there */
        if (rc == 0 && access("/usr/lib/cni/bridge", X_OK) == 0) {
            char conf[600], text[1024];

            C.loop = A.loop;
            if (bench_agentd_setup(&C, "agent-cni", argv[1], argv[2]) < 0) {
                rc = 1;
            } else {
                C.own_netns = true;
                snprintf(conf, sizeof(conf), "%s/net.d", C.dir);
                snprintf(text, sizeof(text),
                         "{\"cniVersion\": \"1.0.0\", \"name\": \"bench\", \"plugins\": "
                         "[{\"type\": \"bridge\", \"bridge\": \"cni0\", \"isGateway\": true, "
                         "\"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": "
                         "\"10.244.4.0/22\"}]], \"dataDir\": \"%s/ipam\"}}]}\n",
                         C.dir);
                mkdir(conf, 0755);
                strncat(conf, "/10-bench.conflist", sizeof(conf) - strlen(conf) - 1);
                berth_write_file_atomic_at(AT_FDCWD, conf, text, strlen(text), 0644, NULL);
                snprintf(C.extra_yaml, sizeof(C.extra_yaml),
                         "pod_network: {mode: cni, cni_conf_dir: %s/net.d}\n", C.dir);
                C.ctl.on_status = on_status;
                if (bench_agentd_start(&C, true) < 0)
                    rc = 1;
                else
                    net_agents[n_net_agents++] = &C;
            }
        }
        if (rc == 0) {
            printf("pod network (a second berthd, in a network namespace of its own)\n");
            if (network(runs) < 0)
                rc = 1;
            cur = &N;
            if (rc == 0 && density(100) < 0)
                rc = 1;
            cur = &A;
        }
        bench_agentd_teardown(&N, rc != 0);
        if (C.dir[0])
            bench_agentd_teardown(&C, rc != 0);
    }
    bench_agentd_teardown(&A, rc != 0);
    return rc;
}
