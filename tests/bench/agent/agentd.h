/* A real berthd for the agent benchmarks, driven by the fake controller of
 * the agent tests (so the figures are the agent's alone): a directory
 * under /tmp with the busybox image, keys, agent.yaml and berthd.log, a
 * loop the fake controller runs on, and berthd started and stopped. A
 * failure says what and where, on stderr. */
#ifndef BERTH_BENCH_AGENTD_H
#define BERTH_BENCH_AGENTD_H

#include <stdbool.h>
#include <sys/types.h>

#include "fake_controller.h"

typedef struct bench_agentd {
    const char *name; /* the benchmark's, in messages and paths */
    const char *berthd_bin;
    char dir[256];   /* /tmp/berth-bench-<name>-<pid> */
    char state[300]; /* <dir>/agent/containers */
    char parent[64]; /* the containers' cgroup parent */
    char cfgpath[300];
    char extra_yaml[1024]; /* appended to agent.yaml (e.g. operators) */
    bool own_netns;        /* berthd in a network namespace of its own */
    berth_loop *loop;      /* set before setup: shared, and not freed */
    bool own_loop;
    fake_ctl ctl;
    uint8_t node_pk[32];
    pid_t berthd;
} bench_agentd;

/* Make the directory, the keys and the image; start the fake controller
 * (1 s heartbeats) on a new loop. */
int bench_agentd_setup(bench_agentd *a, const char *name, const char *berthd_bin,
                       const char *rootfs);
/* Write agent.yaml (with extra_yaml) and start berthd (its output in
 * berthd.log); with wait, until it registered. */
int bench_agentd_start(bench_agentd *a, bool wait);
/* SIGTERM berthd and reap it: its containers keep running. */
void bench_agentd_stop(bench_agentd *a);
/* Run the loop until pred holds (every 5 ms) or timeout_ms passes. */
bool bench_agentd_wait(bench_agentd *a, bool (*pred)(void), int timeout_ms);
/* No container directory left in the state directory: everything removed
 * was stopped and cleaned. */
bool bench_agentd_empty(const bench_agentd *a);
/* Stop berthd and the controller, stop what containers are left, remove
 * their cgroups and, unless keep, the directory. */
void bench_agentd_teardown(bench_agentd *a, bool keep);

#endif
