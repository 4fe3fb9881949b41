/* A metrics round (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"

#define SAMPLES_MAX 1024

/* The node: busy cpu time, memory in use, tasks, load. */
static void node_read(metrics_node *n)
{
    _cleanup_free_ char *stat = NULL, *mem = NULL, *load = NULL;
    long hz = sysconf(_SC_CLK_TCK);

    memset(n, 0, sizeof(*n));
    if (berth_read_file_at(AT_FDCWD, "/proc/stat", 1 << 20, &stat, NULL, NULL) == 0) {
        unsigned long long v[8] = { 0 };

        if (sscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) >= 4 &&
            hz > 0)
            n->cpu_busy_ns =
                (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * (uint64_t)(BERTH_NSEC_PER_SEC / hz);
    }
    if (berth_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 20, &mem, NULL, NULL) == 0) {
        long long total = 0, avail = 0;
        char *t = strstr(mem, "MemTotal:"), *v = strstr(mem, "MemAvailable:");

        if (t && v && sscanf(t + 9, "%lld", &total) == 1 && sscanf(v + 13, "%lld", &avail) == 1) {
            n->memory_total_bytes = (uint64_t)total * 1024;
            n->memory_used_bytes = (uint64_t)(total - avail) * 1024;
        }
    }
    if (berth_read_file_at(AT_FDCWD, "/proc/loadavg", 4096, &load, NULL, NULL) == 0) {
        unsigned long long tasks = 0;

        if (sscanf(load, "%lf %*f %*f %*u/%llu", &n->load_1m, &tasks) == 2)
            n->tasks = tasks;
    }
}

void metrics_collect(containers *t, berth_cgroup_driver *cgroups, metrics_round *ret)
{
    const ContainerStatus *all[SAMPLES_MAX];
    size_t n = containers_statuses(t, all, SAMPLES_MAX - 1); /* and the node */

    memset(ret, 0, sizeof(*ret));
    ret->time_unix_ns = berth_now_real_ns();
    ret->items = berth_xcalloc(n + 1, sizeof(*ret->items));
    ret->n_containers = n;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        berth_cgroup *cg = NULL;
        metrics_container *m = &ret->items[ret->n_items];

        if (all[i]->state != CONTAINER_RUNNING)
            continue;
        ret->n_running++;
        /* (a container in a pod's sandbox has its cgroup in the pod's) */
        if (!containers_cgroup_path(t, all[i]->id, path, sizeof(path)) ||
            berth_cgroup_open(cgroups, path, &cg, NULL) < 0)
            continue;
        if (berth_cgroup_stats_read(cg, &m->cg, NULL) == 0) {
            m->status = all[i];
            m->spec = containers_spec(t, all[i]->id);
            m->cgroup = berth_xstrdup(path);
            if (berth_cgroup_oom_kills(cg, &m->oom_kills, NULL) < 0)
                m->oom_kills = 0;
            m->has_net = containers_net_stats(t, all[i]->id, &m->net);
            ret->n_items++;
        }
        berth_cgroup_free(cg);
    }
    node_read(&ret->node);
}

void metrics_round_clear(metrics_round *r)
{
    for (size_t i = 0; i < r->n_items; i++)
        free(r->items[i].cgroup);
    free(r->items);
    memset(r, 0, sizeof(*r));
}

int metrics_send(containers *t, berth_cgroup_driver *cgroups, berth_stream_push *push,
                 berth_error **err)
{
    metrics_round round;
    MetricsSample *samples, **ptrs, *node;
    MetricsReport rep = METRICS_REPORT_INIT;
    int r;

    metrics_collect(t, cgroups, &round);
    samples = berth_xcalloc(round.n_items + 1, sizeof(*samples));
    ptrs = berth_xcalloc(round.n_items + 1, sizeof(*ptrs));
    for (size_t i = 0; i < round.n_items; i++) {
        const metrics_container *m = &round.items[i];
        MetricsSample *s = &samples[i];

        metrics_sample_init(s);
        s->container_id = (char *)m->status->id;
        s->time_unix_ns = round.time_unix_ns;
        s->cpu_usage_ns = m->cg.cpu_usage_ns;
        s->cpu_throttled_ns = m->cg.cpu_throttled_ns;
        s->memory_bytes = m->cg.memory_current;
        s->memory_limit_bytes = m->cg.memory_limit == UINT64_MAX ? 0 : m->cg.memory_limit;
        s->memory_peak_bytes = m->cg.memory_peak;
        s->pids = m->cg.pids_current;
        s->io_read_bytes = m->cg.io_read_bytes;
        s->io_write_bytes = m->cg.io_write_bytes;
        s->oom_kills = m->oom_kills;
        s->pod_ip = (char *)m->status->pod_ip;
        if (m->has_net) {
            s->network_rx_bytes = m->net.rx_bytes;
            s->network_tx_bytes = m->net.tx_bytes;
        }
        ptrs[i] = s;
    }
    node = &samples[round.n_items];
    metrics_sample_init(node);
    node->container_id = "";
    node->time_unix_ns = round.time_unix_ns;
    node->cpu_usage_ns = round.node.cpu_busy_ns;
    node->memory_limit_bytes = round.node.memory_total_bytes;
    node->memory_bytes = round.node.memory_used_bytes;
    node->load_1m = round.node.load_1m;
    node->pids = round.node.tasks;
    node->containers = (uint32_t)round.n_containers;
    node->containers_running = (uint32_t)round.n_running;
    ptrs[round.n_items] = node;
    rep.samples = ptrs;
    rep.n_samples = round.n_items + 1;
    r = berth_stream_push_send(push, &rep.base, NULL, err);
    free(ptrs);
    free(samples);
    metrics_round_clear(&round);
    return r;
}
