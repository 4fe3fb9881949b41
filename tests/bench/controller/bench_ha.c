/* berth-controller on etcd against berth-controller on SQLite, in one run,
 * each a real controller process (the controller tests' harness) driven by
 * an operator's rpc client in this process:
 *
 *   apply     the Apply round trip of a one-replica Deployment on a fleet
 *             with no node (checked, stored, placed: Unschedulable, its
 *             events), APPLIES times on each store, interleaved
 *   failover  two controllers on one etcd (one key): the leader killed
 *             (SIGKILL), then Apply on the other until one is taken: the
 *             time from the kill to the first placement by the new leader;
 *             the killed one started again as a follower; ROUNDS times
 *
 *   bench-ha ETCD_ENDPOINTS [APPLIES [ROUNDS]]   (default 200 20)
 *
 * ETCD_ENDPOINTS: a running etcd (tests/bench/run.sh starts three members
 * on loopback). Each controller uses a key prefix of its own. A benchmark:
 * it prints figures and asserts nothing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_ctl.h"
#include "rpc/envelope.h"

#define LEASE "4s" /* the default */

static harness hs, he, h1, h2;

static void cleanup(void)
{
    harness *all[] = { &hs, &he, &h1, &h2 };

    for (size_t i = 0; i < 4; i++)
        if (all[i]->loop) {
            harness_kill_controller(all[i], SIGTERM);
            harness_free(all[i]);
        }
}

static char *manifest(const char *name)
{
    char *m = NULL;

    need(asprintf(&m,
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n"
                  "  replicas: 1\n  selector: {matchLabels: {app: %s}}\n"
                  "  template:\n    metadata: {labels: {app: %s}}\n"
                  "    spec: {containers: [{name: c, image: busybox}]}\n",
                  name, name, name) > 0);
    return m;
}

/* One Apply with a short bound: its status code. */
static int try_apply(bench_op *op, const char *name, int timeout_ms)
{
    ApplyRequest req = APPLY_REQUEST_INIT;
    berth_rpc_result r = { 0 };
    char *m = manifest(name);
    int code;

    req.manifest = m;
    req.source = "bench.yaml";
    if (berth_rpc_client_call_sync(op->client, &controller_descriptor, "Apply", &req.base,
                                   (uint32_t)timeout_ms, &r, NULL) < 0)
        code = CODE_UNAVAILABLE;
    else
        code = r.code;
    berth_rpc_result_clear(&r);
    free(m);
    return code;
}

static void summary(const char *what, double *ms, size_t n)
{
    bench_sort(ms, n);
    printf("  %-26s median %8.2f ms   p90 %8.2f ms   p99 %8.2f ms   max %8.2f ms\n", what,
           bench_pct(ms, n, 0.5), bench_pct(ms, n, 0.9), bench_pct(ms, n, 0.99), ms[n - 1]);
}

static void bench_apply(const char *etcd, int n)
{
    char prefix[64];
    const char *sq_args[] = { "--log-level", "warn", NULL };
    const char *et_args[] = {
        "--log-level", "warn",     "--store", "etcd", "--etcd-endpoints", etcd, "--etcd-prefix",
        prefix,        "--member", "bench",   NULL
    };
    double *s_ms = calloc((size_t)n, sizeof(double)), *e_ms = calloc((size_t)n, sizeof(double));
    bench_op os, oe;

    need(s_ms && e_ms);
    snprintf(prefix, sizeof(prefix), "/bench-apply-%d/", (int)getpid());
    harness_init(&hs, sq_args);
    harness_init(&he, et_args);
    harness_start_controller(&hs);
    harness_start_controller(&he);
    bench_op_connect(&os, &hs);
    bench_op_connect(&oe, &he);
    /* one first on each: connections, handshakes, caches */
    bench_op_apply(&os, manifest("warm"));
    bench_op_apply(&oe, manifest("warm"));
    for (int i = 0; i < n; i++) {
        char name[32];
        int64_t t0;

        snprintf(name, sizeof(name), "a-%d", i);
        /* interleaved, the order swapped each round */
        for (int k = 0; k < 2; k++) {
            bool sq = (i + k) % 2 == 0;
            char *m = manifest(name);

            t0 = berth_now_mono_ns();
            bench_op_apply(sq ? &os : &oe, m);
            (sq ? s_ms : e_ms)[i] = (double)(berth_now_mono_ns() - t0) / 1e6;
            free(m);
        }
    }
    printf("apply: %d Applies of a one-replica Deployment on each store, interleaved\n", n);
    {
        double s_med, e_med;

        summary("SQLite (fsync'd WAL)", s_ms, (size_t)n);
        s_med = bench_pct(s_ms, (size_t)n, 0.5);
        summary("etcd (3 members, loopback)", e_ms, (size_t)n);
        e_med = bench_pct(e_ms, (size_t)n, 0.5);
        printf("  ratio etcd/SQLite (median): %.2fx\n", e_med / s_med);
    }
    bench_op_close(&os);
    bench_op_close(&oe);
    harness_kill_controller(&hs, SIGTERM);
    harness_kill_controller(&he, SIGTERM);
    harness_free(&hs);
    harness_free(&he);
    memset(&hs, 0, sizeof(hs));
    memset(&he, 0, sizeof(he));
    free(s_ms);
    free(e_ms);
}

/* Copy the first member's identity (key, operators) into the second's
 * state directory: one key for the fleet. */
static void share_identity(harness *from, harness *to)
{
    need(bench_sh("mkdir -p '%s/state/operators' && cp '%s'/state/controller.key '%s'/state/"
                  "controller.pub '%s'/state/admin.key '%s/state/' && cp '%s'/state/operators/* "
                  "'%s/state/operators/'",
                  to->dir, from->dir, from->dir, from->dir, to->dir, from->dir, to->dir) == 0);
}

/* Which of the two leads now (ListControllers on each): 1, 2 or 0. */
static int who_leads(bench_op *o1, bench_op *o2)
{
    bench_op *ops[2] = { o1, o2 };

    for (int i = 0; i < 2; i++) {
        ListControllersRequest req = LIST_CONTROLLERS_REQUEST_INIT;
        berth_rpc_result r = { 0 };
        bool lead = false;

        if (!ops[i]->client)
            continue;
        if (berth_rpc_client_call_sync(ops[i]->client, &controller_descriptor, "ListControllers",
                                       &req.base, 500, &r, NULL) == 0 &&
            r.code == CODE_OK)
            lead = strcmp(((ListControllersResponse *)r.response)->role, "leader") == 0;
        berth_rpc_result_clear(&r);
        if (lead)
            return i + 1;
    }
    return 0;
}

static void bench_failover(const char *etcd, int rounds)
{
    char prefix[64];
    const char *a1[] = { "--log-level",
                         "info",
                         "--store",
                         "etcd",
                         "--etcd-endpoints",
                         etcd,
                         "--etcd-prefix",
                         prefix,
                         "--member",
                         "m1",
                         "--leader-lease",
                         LEASE,
                         NULL };
    const char *a2[] = { "--log-level",
                         "info",
                         "--store",
                         "etcd",
                         "--etcd-endpoints",
                         etcd,
                         "--etcd-prefix",
                         prefix,
                         "--member",
                         "m2",
                         "--leader-lease",
                         LEASE,
                         NULL };
    double *ms = calloc((size_t)rounds, sizeof(double));
    harness *hh[2] = { &h1, &h2 };
    bench_op op[2];

    need(ms);
    snprintf(prefix, sizeof(prefix), "/bench-failover-%d/", (int)getpid());
    harness_init(&h1, a1);
    harness_init(&h2, a2);
    harness_start_controller(&h1);
    share_identity(&h1, &h2);
    harness_spawn_controller(&h2);
    bench_op_connect(&op[0], &h1);
    bench_op_connect(&op[1], &h2);
    for (int r = 0; r < rounds; r++) {
        int lead = 0, other;
        int64_t t0, end;
        char name[32];

        for (int i = 0; i < 200 && !(lead = who_leads(&op[0], &op[1])); i++)
            harness_run(&h1, 50);
        need(lead);
        other = 3 - lead;
        harness_kill_controller(hh[lead - 1], SIGKILL);
        t0 = berth_now_mono_ns();
        end = t0 + 30 * BERTH_NSEC_PER_SEC;
        snprintf(name, sizeof(name), "f-%d", r);
        while (try_apply(&op[other - 1], name, 300) != CODE_OK) {
            need(berth_now_mono_ns() < end);
            harness_run(hh[other - 1], 20);
        }
        ms[r] = (double)(berth_now_mono_ns() - t0) / 1e6;
        printf("  round %2d: m%d killed, m%d placed after %.0f ms\n", r + 1, lead, other, ms[r]);
        fflush(stdout);
        /* the killed one back, as a follower; a fresh client to it */
        bench_op_close(&op[lead - 1]);
        harness_spawn_controller(hh[lead - 1]);
        harness_run(hh[lead - 1], 300);
        bench_op_connect(&op[lead - 1], hh[lead - 1]);
    }
    printf("failover: %d leader kills (SIGKILL), two controllers, lease %s: kill -> first Apply "
           "placed by the new leader\n",
           rounds, LEASE);
    summary("failover", ms, (size_t)rounds);
    bench_op_close(&op[0]);
    bench_op_close(&op[1]);
    free(ms);
}

int main(int argc, char **argv)
{
    int applies, rounds;

    if (argc < 2 || strncmp(argv[1], "http", 4) != 0) {
        fprintf(stderr, "usage: bench-ha ETCD_ENDPOINTS [APPLIES [ROUNDS]]\n");
        return 2;
    }
    applies = argc > 2 ? atoi(argv[2]) : 200;
    rounds = argc > 3 ? atoi(argv[3]) : 20;
    if (applies < 1 || rounds < 1) {
        fprintf(stderr, "bench-ha: APPLIES and ROUNDS are at least 1\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    bench_on_abort(cleanup);
    bench_apply(argv[1], applies);
    bench_failover(argv[1], rounds);
    cleanup();
    return 0;
}
