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

/* The node: busy cpu time, memory in use, processes, load, containers. */
static void node_sample(MetricsSample *s, size_t n_containers, size_t running)
{
    _cleanup_free_ char *stat = NULL, *mem = NULL, *load = NULL;
    long hz = sysconf(_SC_CLK_TCK);

    s->container_id = "";
    s->time_unix_ns = berth_now_real_ns();
    if (berth_read_file_at(AT_FDCWD, "/proc/stat", 1 << 20, &stat, NULL, NULL) == 0) {
        unsigned long long v[8] = { 0 };

        if (sscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]) >= 4 &&
            hz > 0)
            s->cpu_usage_ns =
                (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * (uint64_t)(BERTH_NSEC_PER_SEC / hz);
    }
    if (berth_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 20, &mem, NULL, NULL) == 0) {
        long long total = 0, avail = 0;
        char *t = strstr(mem, "MemTotal:"), *v = strstr(mem, "MemAvailable:");

        if (t && v && sscanf(t + 9, "%lld", &total) == 1 && sscanf(v + 13, "%lld", &avail) == 1) {
            s->memory_limit_bytes = (uint64_t)total * 1024;
            s->memory_bytes = (uint64_t)(total - avail) * 1024;
        }
    }
    if (berth_read_file_at(AT_FDCWD, "/proc/loadavg", 4096, &load, NULL, NULL) == 0) {
        unsigned long long procs = 0;

        if (sscanf(load, "%lf %*f %*f %*u/%llu", &s->load_1m, &procs) == 2)
            s->pids = procs;
    }
    s->containers = (uint32_t)n_containers;
    s->containers_running = (uint32_t)running;
}

int metrics_send(containers *t, berth_cgroup_driver *cgroups, berth_stream_push *push,
                 berth_error **err)
{
    const ContainerStatus *all[SAMPLES_MAX];
    size_t n = containers_statuses(t, all, SAMPLES_MAX - 1), k = 0, running = 0;
    _cleanup_free_ MetricsSample *samples = berth_xcalloc(n + 1, sizeof(*samples));
    _cleanup_free_ MetricsSample **ptrs = berth_xcalloc(n + 1, sizeof(*ptrs));
    MetricsReport rep = METRICS_REPORT_INIT;

    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        berth_cgroup *cg = NULL;
        berth_cgroup_stats st;
        uint64_t ooms = 0;
        MetricsSample *s = &samples[k];

        if (all[i]->state != CONTAINER_RUNNING)
            continue;
        running++;
        /* (a container in a pod's sandbox has its cgroup in the pod's) */
        if (!containers_cgroup_path(t, all[i]->id, path, sizeof(path)) ||
            berth_cgroup_open(cgroups, path, &cg, NULL) < 0)
            continue;
        if (berth_cgroup_stats_read(cg, &st, NULL) == 0) {
            metrics_sample_init(s);
            s->container_id = (char *)all[i]->id;
            s->time_unix_ns = berth_now_real_ns();
            s->cpu_usage_ns = st.cpu_usage_ns;
            s->cpu_throttled_ns = st.cpu_throttled_ns;
            s->memory_bytes = st.memory_current;
            s->memory_limit_bytes = st.memory_limit == UINT64_MAX ? 0 : st.memory_limit;
            s->memory_peak_bytes = st.memory_peak;
            s->pids = st.pids_current;
            s->io_read_bytes = st.io_read_bytes;
            s->io_write_bytes = st.io_write_bytes;
            if (berth_cgroup_oom_kills(cg, &ooms, NULL) == 0)
                s->oom_kills = ooms;
            s->pod_ip = (char *)all[i]->pod_ip;
            containers_net_stats(t, all[i]->id, &s->network_rx_bytes, &s->network_tx_bytes);
            ptrs[k] = s;
            k++;
        }
        berth_cgroup_free(cg);
    }
    metrics_sample_init(&samples[k]);
    node_sample(&samples[k], n, running);
    ptrs[k] = &samples[k];
    k++;
    rep.samples = ptrs;
    rep.n_samples = k;
    return berth_stream_push_send(push, &rep.base, NULL, err);
}
