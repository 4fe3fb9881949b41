/* Metrics: per container cpu, memory, pids, OOM kills and I/O from its
 * cgroup and its pod's network figures, plus the node's own. One reading
 * (metrics_collect) serves both their readers: the controller, sent on
 * the stream as one MetricsReport per round (metrics_send), and /metrics
 * (exposition.h).
 *
 * Arrows: main calls it on its timer, exposition at each scrape; it reads
 * the container table and the cgroups, and sends on the session's stream. */
#ifndef BERTHD_METRICS_H
#define BERTHD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "containers.h"
#include "rpc/stream.h"
#include "runtime/cgroup.h"

/* One running container's figures. The pointers are the table's: valid
 * until the loop runs again. */
typedef struct metrics_container {
    const ContainerStatus *status;
    const ContainerSpec *spec; /* NULL when the table has none */
    char *cgroup;              /* its cgroup's path (owned) */
    berth_cgroup_stats cg;
    uint64_t oom_kills;
    bool has_net; /* its pod's interface (the built-in pod network's) */
    berth_link_counters net;
} metrics_container;

/* The node's figures (from /proc). */
typedef struct metrics_node {
    uint64_t cpu_busy_ns;                           /* all CPUs' time but idle and iowait */
    uint64_t memory_total_bytes, memory_used_bytes; /* used: total less available */
    double load_1m;
    uint64_t tasks; /* processes and threads */
} metrics_node;

typedef struct metrics_round {
    int64_t time_unix_ns;
    metrics_container *items; /* the running containers whose cgroup could be read */
    size_t n_items;
    size_t n_containers, n_running; /* in the table, and running */
    metrics_node node;
} metrics_round;

/* Read every running container's figures and the node's. Never fails: a
 * container whose cgroup cannot be read is left out, a node figure that
 * cannot be read is 0. Clear with metrics_round_clear. */
void metrics_collect(containers *t, berth_cgroup_driver *cgroups, metrics_round *ret);
void metrics_round_clear(metrics_round *r);

/* One round: metrics_collect, sent on push as a MetricsReport (a sample
 * of every container, and one of the node). */
int metrics_send(containers *t, berth_cgroup_driver *cgroups, berth_stream_push *push,
                 berth_error **err);

#endif
