/* berthd's /metrics (see exposition.h). */
#include "exposition.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "metrics.h"
#include "metrics/http.h"
#include "spec/workload.h"

#define STATUSES_MAX 1024

struct exposition {
    exposition_config cfg;
    berth_metrics_http *http;
};

/* A container's labels, as cAdvisor names them. */
enum { L_NAMESPACE, L_POD, L_CONTAINER, L_NAME, L_ID, L_IMAGE, N_LABELS };

typedef struct ct_labels {
    berth_prom_label l[N_LABELS];
    char ns[BERTH_NAMESPACE_BUF];
} ct_labels;

static void labels_of(const metrics_container *m, ct_labels *ret)
{
    const ContainerSpec *s = m->spec;
    const char *pod_id = s && s->pod && *s->pod->pod ? s->pod->pod : m->status->id;
    const char *pod = berth_id_split(pod_id, ret->ns);
    const char *container = s ? berth_container_name(s) : "";

    ret->l[L_NAMESPACE] = (berth_prom_label){ "namespace", ret->ns };
    ret->l[L_POD] = (berth_prom_label){ "pod", pod };
    ret->l[L_CONTAINER] = (berth_prom_label){ "container", *container ? container : pod };
    ret->l[L_NAME] = (berth_prom_label){ "name", m->status->id };
    ret->l[L_ID] = (berth_prom_label){ "id", m->cgroup };
    ret->l[L_IMAGE] =
        (berth_prom_label){ "image", *m->status->image ? m->status->image : (s ? s->image : "") };
}

/* ---- the containers' families ---- */

/* A figure of a container: a uint64_t of metrics_container, and the factor
 * to the unit its name says (ns to seconds). */
typedef struct ct_family {
    const char *name;
    berth_prom_type type;
    size_t offset;
    double scale;
    unsigned flags;
    const char *help;
} ct_family;

#define OMIT_ZERO   1u /* no sample for 0 (a figure that is not there) */
#define MAX_IS_ZERO 2u /* UINT64_MAX ("max") is written 0, as cAdvisor writes no limit */
#define FIG(n, t, field, s, f, h)                                                                  \
    {                                                                                              \
        (n), (t), offsetof(metrics_container, field), (s), (f), (h)                                \
    }
#define NS 1e-9

static const ct_family ct_families[] = {
    FIG("container_cpu_usage_seconds_total", BERTH_PROM_COUNTER, cg.cpu_usage_ns, NS, 0,
        "Cumulative cpu time consumed, in seconds."),
    FIG("container_cpu_user_seconds_total", BERTH_PROM_COUNTER, cg.cpu_user_ns, NS, 0,
        "Cumulative user cpu time consumed, in seconds."),
    FIG("container_cpu_system_seconds_total", BERTH_PROM_COUNTER, cg.cpu_system_ns, NS, 0,
        "Cumulative system cpu time consumed, in seconds."),
    FIG("container_cpu_cfs_throttled_seconds_total", BERTH_PROM_COUNTER, cg.cpu_throttled_ns, NS, 0,
        "Total time the container was held back by its CPU limit, in seconds."),
    FIG("container_memory_usage_bytes", BERTH_PROM_GAUGE, cg.memory_current, 1, 0,
        "Current memory usage, file cache included, in bytes."),
    FIG("container_memory_working_set_bytes", BERTH_PROM_GAUGE, cg.memory_working_set, 1, 0,
        "Current working set (usage less inactive file cache), in bytes."),
    FIG("container_memory_rss", BERTH_PROM_GAUGE, cg.memory_rss, 1, 0,
        "Size of anonymous memory (RSS), in bytes."),
    FIG("container_memory_cache", BERTH_PROM_GAUGE, cg.memory_cache, 1, 0,
        "Size of the file cache, in bytes."),
    FIG("container_memory_max_usage_bytes", BERTH_PROM_GAUGE, cg.memory_peak, 1, 0,
        "Maximum memory usage recorded (0 where the kernel keeps none), in bytes."),
    FIG("container_threads", BERTH_PROM_GAUGE, cg.pids_current, 1, 0,
        "Number of tasks (processes and threads) in the container."),
    FIG("container_fs_reads_bytes_total", BERTH_PROM_COUNTER, cg.io_read_bytes, 1, 0,
        "Cumulative bytes read from block devices."),
    FIG("container_fs_writes_bytes_total", BERTH_PROM_COUNTER, cg.io_write_bytes, 1, 0,
        "Cumulative bytes written to block devices."),
    FIG("container_oom_events_total", BERTH_PROM_COUNTER, oom_kills, 1, 0,
        "Count of out-of-memory kills in the container."),
    FIG("container_spec_memory_limit_bytes", BERTH_PROM_GAUGE, cg.memory_limit, 1, MAX_IS_ZERO,
        "Memory limit of the container, in bytes (0: unlimited)."),
    FIG("container_spec_cpu_quota", BERTH_PROM_GAUGE, cg.cpu_quota_us, 1, OMIT_ZERO,
        "CPU quota of the container per period, in microseconds (only with a CPU limit)."),
    FIG("container_spec_cpu_period", BERTH_PROM_GAUGE, cg.cpu_period_us, 1, OMIT_ZERO,
        "CPU period of the container, in microseconds."),
};

static void write_containers(berth_prom *w, const metrics_round *r, const ct_labels *labels)
{
    const size_t n = r->n_items;

    for (size_t f = 0; f < BERTH_ARRAY_SIZE(ct_families); f++) {
        const ct_family *cf = &ct_families[f];

        berth_prom_family(w, cf->name, cf->type, cf->help);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = *(const uint64_t *)((const char *)&r->items[i] + cf->offset);

            if ((cf->flags & OMIT_ZERO) && v == 0)
                continue;
            if ((cf->flags & MAX_IS_ZERO) && v == UINT64_MAX)
                v = 0;
            if (cf->scale == 1)
                berth_prom_sample_u64(w, labels[i].l, N_LABELS, v);
            else
                berth_prom_sample(w, labels[i].l, N_LABELS, (double)v * cf->scale);
        }
    }
    /* times, in seconds since the epoch */
    berth_prom_family(w, "container_start_time_seconds", BERTH_PROM_GAUGE,
                      "Start time of the container since the Unix epoch, in seconds.");
    for (size_t i = 0; i < n; i++)
        berth_prom_sample(w, labels[i].l, N_LABELS,
                          (double)r->items[i].status->started_unix_ns / BERTH_NSEC_PER_SEC);
    berth_prom_family(w, "container_last_seen", BERTH_PROM_GAUGE,
                      "Last time the container was seen by berthd, in seconds since the Unix "
                      "epoch.");
    for (size_t i = 0; i < n; i++)
        berth_prom_sample(w, labels[i].l, N_LABELS, (double)(r->time_unix_ns / BERTH_NSEC_PER_SEC));
}

/* A pod's interface counters, as its figures show them. */
typedef struct net_family {
    const char *name;
    size_t offset;
    const char *help;
} net_family;

#define NET(n, field, h)                                                                           \
    {                                                                                              \
        (n), offsetof(berth_link_counters, field), (h)                                             \
    }

static const net_family net_families[] = {
    NET("container_network_receive_bytes_total", rx_bytes, "Cumulative bytes received."),
    NET("container_network_transmit_bytes_total", tx_bytes, "Cumulative bytes transmitted."),
    NET("container_network_receive_packets_total", rx_packets, "Cumulative packets received."),
    NET("container_network_transmit_packets_total", tx_packets, "Cumulative packets transmitted."),
    NET("container_network_receive_errors_total", rx_errors, "Cumulative errors while receiving."),
    NET("container_network_transmit_errors_total", tx_errors,
        "Cumulative errors while transmitting."),
    NET("container_network_receive_packets_dropped_total", rx_dropped,
        "Cumulative packets dropped while receiving."),
    NET("container_network_transmit_packets_dropped_total", tx_dropped,
        "Cumulative packets dropped while transmitting."),
};

/* Network figures are the pod's (its containers share its interface): one
 * series per pod, without a container label, as cAdvisor shows a pod's
 * network. first[i]: item i is the first of its pod with figures. */
static void write_network(berth_prom *w, const metrics_round *r, const ct_labels *labels)
{
    bool *first = berth_xcalloc(r->n_items + 1, sizeof(*first));

    for (size_t i = 0; i < r->n_items; i++) {
        first[i] = r->items[i].has_net;
        for (size_t j = 0; j < i && first[i]; j++)
            if (first[j] && strcmp(labels[j].l[L_POD].value, labels[i].l[L_POD].value) == 0 &&
                strcmp(labels[j].ns, labels[i].ns) == 0)
                first[i] = false;
    }
    for (size_t f = 0; f < BERTH_ARRAY_SIZE(net_families); f++) {
        berth_prom_family(w, net_families[f].name, BERTH_PROM_COUNTER, net_families[f].help);
        for (size_t i = 0; i < r->n_items; i++) {
            berth_prom_label l[3] = { labels[i].l[L_NAMESPACE],
                                      labels[i].l[L_POD],
                                      { "interface", "eth0" } };

            if (first[i])
                berth_prom_sample_u64(
                    w, l, 3,
                    *(const uint64_t *)((const char *)&r->items[i].net + net_families[f].offset));
        }
    }
    free(first);
}

/* ---- the node's ---- */

static void write_node(berth_prom *w, const exposition_config *cfg, const metrics_round *r)
{
    const ContainerStatus *all[STATUSES_MAX];
    size_t n = containers_statuses(cfg->containers, all, STATUSES_MAX);
    const ProtobufCEnumDescriptor *d = &container_state_descriptor;

    berth_prom_single(w, "berth_node_cpu_seconds_total", BERTH_PROM_COUNTER,
                      "CPU time the node spent busy (all CPUs, not idle nor waiting for I/O), "
                      "in seconds.",
                      (double)r->node.cpu_busy_ns / BERTH_NSEC_PER_SEC);
    berth_prom_single(w, "berth_node_memory_total_bytes", BERTH_PROM_GAUGE,
                      "The node's memory (MemTotal), in bytes.",
                      (double)r->node.memory_total_bytes);
    berth_prom_single(w, "berth_node_memory_used_bytes", BERTH_PROM_GAUGE,
                      "The node's memory in use (MemTotal less MemAvailable), in bytes.",
                      (double)r->node.memory_used_bytes);
    berth_prom_single(w, "berth_node_load1", BERTH_PROM_GAUGE, "The node's 1-minute load average.",
                      r->node.load_1m);
    berth_prom_single(w, "berth_node_tasks", BERTH_PROM_GAUGE,
                      "Tasks (processes and threads) on the node.", (double)r->node.tasks);
    /* by state, every state (0 too): "running", "exited", "oom_killed" ... */
    berth_prom_family(w, "berth_node_containers", BERTH_PROM_GAUGE,
                      "Containers on the node, by state.");
    for (unsigned v = 0; v < d->n_values; v++) {
        char state[32];
        const char *name = d->values[v].name;
        size_t count = 0;
        berth_prom_label l = { "state", state };

        if (d->values[v].value == CONTAINER_STATE_UNSPECIFIED)
            continue;
        if (strncmp(name, "CONTAINER_", 10) == 0)
            name += 10;
        snprintf(state, sizeof(state), "%s", name);
        for (char *c = state; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        for (size_t i = 0; i < n; i++)
            if ((int)all[i]->state == d->values[v].value)
                count++;
        berth_prom_sample_u64(w, &l, 1, count);
    }
}

/* ---- berthd's own ---- */

static void write_own(berth_prom *w, const exposition_config *cfg)
{
    const containers_stats *cs = containers_stats_of(cfg->containers);
    const pulls_stats *ps = pulls_stats_of(cfg->pulls);
    static const char *const results[] = { "pulled", "present", "failed" };
    const uint64_t counts[] = { ps->pulled, ps->present, ps->failed };

    berth_prom_process(w, "berthd", cfg->start_unix_ns);
    berth_prom_histogram_family(w, "berth_agent_reconcile_duration_seconds",
                                "From an assignment set's arrival to its generation applied "
                                "(each of its containers started or failed), in seconds.",
                                &cs->reconcile_seconds);
    berth_prom_histogram_family(w, "berth_container_start_duration_seconds",
                                "From a container's monitor started to its process running, in "
                                "seconds.",
                                &cs->start_seconds);
    berth_prom_family(w, "berth_image_pulls_total", BERTH_PROM_COUNTER,
                      "Image pulls that ended, by result: pulled (from the registry), present "
                      "(in the store already), failed.");
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(results); i++) {
        berth_prom_label l = { "result", results[i] };

        berth_prom_sample_u64(w, &l, 1, counts[i]);
    }
    berth_prom_histogram_family(w, "berth_image_pull_duration_seconds",
                                "How long image pulls took, their wait for a slot included, in "
                                "seconds.",
                                &ps->seconds);
    berth_prom_single(w, "berth_image_pulls_in_progress", BERTH_PROM_GAUGE,
                      "Image pulls running or waiting for a slot.",
                      (double)pulls_running(cfg->pulls));
    session_write_metrics(cfg->session, w);
    if (cfg->service)
        agent_service_write_metrics(cfg->service, w);
}

static void collect(berth_prom *w, void *data)
{
    exposition *e = data;
    metrics_round r;
    ct_labels *labels;

    metrics_collect(e->cfg.containers, e->cfg.cgroups, &r);
    labels = berth_xcalloc(r.n_items + 1, sizeof(*labels));
    for (size_t i = 0; i < r.n_items; i++)
        labels_of(&r.items[i], &labels[i]);
    write_containers(w, &r, labels);
    write_network(w, &r, labels);
    write_node(w, &e->cfg, &r);
    write_own(w, &e->cfg);
    free(labels);
    metrics_round_clear(&r);
}

int exposition_start(const exposition_config *cfg, exposition **ret, berth_error **err)
{
    exposition *e = berth_xcalloc(1, sizeof(*e));
    berth_metrics_http_config hc = {
        .loop = cfg->loop,
        .address = cfg->address,
        .collect = collect,
        .data = e,
    };

    e->cfg = *cfg;
    if (berth_metrics_http_start(&hc, &e->http, err) < 0) {
        free(e);
        return -1;
    }
    berth_info("metrics: serving /metrics on %s (port %u)", cfg->address,
               (unsigned)berth_metrics_http_port(e->http));
    *ret = e;
    return 0;
}

void exposition_stop(exposition *e)
{
    if (!e)
        return;
    berth_metrics_http_stop(e->http);
    free(e);
}
