/* What nodes report (fleet.h): container statuses from ReportStatus and
 * the stream, where each node's stream stood, metrics samples. Statuses are
 * observations: written to the store in batches, and a lost one comes back
 * with the next full report. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "fleet-internal.h"
#include "pb/pb.h"
#include "protocol/digest.h"
#include "spec/spec.h"
#include "validate.h"

/* Statuses are written at most this long after they arrive. */
#define FLUSH_DELAY_NS (200 * BERTH_NSEC_PER_MSEC)

/* ---- statuses ---- */

static const char *status_id(const void *s)
{
    return ((const ContainerStatus *)s)->id;
}

static size_t status_pos(const fleet_node *n, const char *id, bool *found)
{
    return fleet_sorted_pos((void *const *)n->status, n->n_status, status_id, id, found);
}

ContainerStatus *fleet_status_find(const fleet_node *n, const char *id)
{
    bool found;
    size_t at = status_pos(n, id, &found);

    return found ? n->status[at] : NULL;
}

static void flush_soon(fleet *f, fleet_node *n)
{
    n->status_dirty = true;
    n->digest_valid = false;
    /* a replica's readiness may have changed: rollouts move on */
    fleet_rollout_poke(f);
    if (!berth_loop_timer_armed(&f->flush_timer))
        berth_loop_timer_arm(f->cfg.loop, &f->flush_timer, berth_now_mono_ns() + FLUSH_DELAY_NS);
}

void fleet_status_put(fleet *f, fleet_node *n, ContainerStatus *s)
{
    bool found;
    size_t at = status_pos(n, s->id, &found);

    if (found) {
        container_status_free_unpacked(n->status[at], NULL);
        n->status[at] = s;
    } else {
        if (n->n_status >= CTL_STATUSES_MAX) {
            container_status_free_unpacked(s, NULL);
            return;
        }
        n->status = berth_xreallocarray(n->status, n->n_status + 1, sizeof(*n->status));
        memmove(&n->status[at + 1], &n->status[at], (n->n_status - at) * sizeof(*n->status));
        n->status[at] = s;
        n->n_status++;
    }
    flush_soon(f, n);
}

/* The node removed the container: forget its status. */
static void status_remove(fleet *f, fleet_node *n, const char *id)
{
    bool found;
    size_t at = status_pos(n, id, &found);

    if (!found)
        return;
    container_status_free_unpacked(n->status[at], NULL);
    memmove(&n->status[at], &n->status[at + 1], (n->n_status - at - 1) * sizeof(*n->status));
    n->n_status--;
    flush_soon(f, n);
}

static int status_cmp(const void *a, const void *b)
{
    return strcmp((*(ContainerStatus *const *)a)->id, (*(ContainerStatus *const *)b)->id);
}

/* Replace all of n's statuses with these (taken, the array too). */
static void status_replace(fleet *f, fleet_node *n, ContainerStatus **s, size_t count)
{
    for (size_t i = 0; i < n->n_status; i++)
        container_status_free_unpacked(n->status[i], NULL);
    free(n->status);
    qsort(s, count, sizeof(*s), status_cmp);
    n->status = s;
    n->n_status = count;
    flush_soon(f, n);
}

/* Whether n may tell about container id: it is assigned there, or n told
 * about it before (a replica placed elsewhere since, which runs there until
 * the node hears). Another node's container is not its to report: taken,
 * such a report would make that container's id ambiguous. */
static bool node_may_report(fleet_node *n, const char *id)
{
    return fleet_assign_of(n->fleet, n, id) || fleet_status_find(n, id);
}

/* Every status a node sends enters the fleet past this check, whether in a
 * report, full or not, or a stream event: the one place that decides what
 * the fleet takes from n about its containers. 1: take it; 0: not n's to
 * report (left out, counted); -1: invalid (*err). */
static int status_admit(fleet_node *n, const ContainerStatus *s, berth_error **err)
{
    if (ctl_status_validate(s, err) < 0)
        return -1;
    if (node_may_report(n, s->id))
        return 1;
    n->foreign_reports++;
    if (n->foreign_reports == 1 || n->foreign_reports % 1000 == 0)
        berth_warn("node %s reported container %s, never assigned to it: left out (%" PRIu64
                   " such reports)",
                   n->rec.name, s->id, n->foreign_reports);
    return 0;
}

uint64_t fleet_status_digest(fleet_node *n)
{
    if (!n->digest_valid) {
        n->digest = berth_status_digest((const ContainerStatus *const *)n->status, n->n_status);
        n->digest_valid = true;
    }
    return n->digest;
}

void fleet_status_flush(fleet *f)
{
    _cleanup_error_ berth_error *err = NULL;

    berth_loop_timer_cancel(f->cfg.loop, &f->flush_timer);
    if (berth_store_begin(f->cfg.store, &err) < 0)
        goto fail;
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        if (n->status_dirty && berth_store_statuses_replace(f->cfg.store, n->rec.name, n->status,
                                                            n->n_status, &err) < 0) {
            berth_store_rollback(f->cfg.store);
            goto fail;
        }
    }
    if (berth_store_commit(f->cfg.store, &err) < 0)
        goto fail;
    for (size_t i = 0; i < f->n_nodes; i++)
        f->nodes[i]->status_dirty = false;
    return;
fail:
    /* Statuses are observations: the next full report brings them back. */
    berth_log_error(BERTH_LOG_WARN, err, "write container statuses");
}

static void on_flush(berth_loop_timer *t)
{
    fleet_status_flush(berth_container_of(t, fleet, flush_timer));
}

void fleet_status_timer_init(fleet *f)
{
    berth_loop_timer_init(&f->flush_timer, on_flush);
}

/* ---- stream positions ----
 *
 * A node's statuses reflect its stream up to (status_epoch, status_seq):
 * the last event taken in, or the position a full report was taken at
 * (controller.proto, ReportStatusRequest). An agent's new run starts a new
 * epoch; items of the run it replaced may still trickle in (PULL
 * fair-queues its pipes) and are dropped. */

static void stream_position(fleet_node *n, uint64_t epoch, uint64_t seq)
{
    if (epoch != n->status_epoch) {
        n->retired_epoch = n->status_epoch;
        n->status_epoch = epoch;
    }
    n->status_seq = seq;
}

/* Whether an item is of a run already replaced, or already covered by a
 * full report; notes lost items no report covers. */
static bool stream_item_old(fleet_node *n, const fleet_stream_pos *pos)
{
    if (pos->epoch && pos->epoch == n->retired_epoch)
        return true;
    /* lost items the last full report does not cover: ask again */
    if (pos->missed && (pos->epoch != n->status_epoch || pos->seq - 1 > n->status_seq))
        n->need_full_report = true;
    return pos->epoch == n->status_epoch && pos->seq <= n->status_seq;
}

/* The registered node a stream item came from, or NULL. */
static fleet_node *stream_sender(fleet *f, const berth_principal *who)
{
    fleet_node *n = fleet_node_by_id(f, who->id);

    return n && fleet_node_registered(n) ? n : NULL;
}

/* ---- what nodes send ---- */

int fleet_node_report(fleet *f, const berth_principal *who, const ReportStatusRequest *in,
                      berth_error **err)
{
    ContainerStatus **copies;
    fleet_node *n = NULL;
    bool *take;
    size_t n_take = 0;

    if (fleet_node_of(f, who, true, &n, err) < 0 || ctl_report_status_validate(in, err) < 0)
        return -1;
    if (in->full && in->stream_epoch && in->stream_epoch == n->status_epoch &&
        in->stream_seq < n->status_seq)
        /* Older than events already taken in (see controller.proto): the
         * picture would undo them, and it may hold what no event carried.
         * The agent sends a fresh one at once. */
        return berth_error_set(err, ESTALE,
                               "stream item %" PRIu64
                               " was taken in before this picture of %" PRIu64 ": send a fresh one",
                               n->status_seq, in->stream_seq);
    take = berth_xcalloc(in->n_containers + 1, sizeof(*take));
    for (size_t i = 0; i < in->n_containers; i++) {
        int r = status_admit(n, in->containers[i], err);

        if (r < 0) {
            free(take);
            return -1;
        }
        take[i] = r > 0;
    }
    copies = berth_xcalloc(in->n_containers + 1, sizeof(*copies));
    for (size_t i = 0; i < in->n_containers; i++)
        if (take[i])
            copies[n_take++] = BERTH_PB_COPY(ContainerStatus, in->containers[i]);
    free(take);
    if (in->full) {
        status_replace(f, n, copies, n_take);
        n->need_full_report = false;
        if (in->stream_epoch) /* 0: taken without a stream, says nothing of it */
            stream_position(n, in->stream_epoch, in->stream_seq);
    } else {
        for (size_t i = 0; i < n_take; i++)
            fleet_status_put(f, n, copies[i]);
        free(copies);
    }
    if (in->applied_generation && in->applied_generation <= n->rec.generation)
        n->rec.applied_generation = in->applied_generation;
    return 0;
}

/* Kubernetes' events of a waiting container, on its workload, when the
 * reason it waits changes (Pulling's progress updates, and a network
 * tried again with the same failure, are one event): its image, and its
 * pod's network (the kubelet's NetworkNotReady, with the reason: no pod
 * range, a full one, a CNI plugin's message). */
static void waiting_event(fleet *f, fleet_node *n, const ContainerStatus *s)
{
    static const struct {
        const char *status_reason, *type, *reason;
    } map[] = {
        { "Pulling", FLEET_NORMAL, "Pulling" },
        { "Pulled", FLEET_NORMAL, "Pulled" },
        { "ErrImagePull", FLEET_WARNING, "Failed" },
        { "ImagePullBackOff", FLEET_NORMAL, "BackOff" }, /* kubelet's type */
        { "ErrImageNeverPull", FLEET_WARNING, "ErrImageNeverPull" },
        { "NetworkNotReady", FLEET_WARNING, "NetworkNotReady" },
    };
    const fleet_assign *a;
    bool found;
    size_t at;

    if (s->state != CONTAINER_PENDING || !*s->reason)
        return;
    at = status_pos(n, s->id, &found);
    if (found && n->status[at]->state == CONTAINER_PENDING &&
        strcmp(n->status[at]->reason, s->reason) == 0)
        return;
    a = fleet_assign_of(f, n, s->id);
    if (!a)
        return;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(map); i++)
        if (strcmp(s->reason, map[i].status_reason) == 0) {
            fleet_event(f, FLEET_KIND_WORKLOAD, a->workload, map[i].type, map[i].reason,
                        "%s on %s: %s", s->id, n->rec.name, s->message);
            return;
        }
}

void fleet_node_event(fleet *f, const berth_principal *who, const fleet_stream_pos *pos,
                      const ContainerEvent *ev)
{
    fleet_node *n = stream_sender(f, who);

    if (!n || stream_item_old(n, pos))
        return;
    if (!ev->status || status_admit(n, ev->status, NULL) <= 0)
        return;
    stream_position(n, pos->epoch, pos->seq);
    if (ev->removed) {
        status_remove(f, n, ev->status->id);
        return;
    }
    waiting_event(f, n, ev->status);
    fleet_status_put(f, n, BERTH_PB_COPY(ContainerStatus, ev->status));
}

/* ---- metrics ----
 *
 * A report is a node's whole round: the containers it does not have have
 * stopped. */

static void sample_free(fleet_sample *s)
{
    BERTH_PB_FREE(s->last);
    BERTH_PB_FREE(s->prev);
}

void fleet_samples_clear(fleet_node *n)
{
    for (size_t i = 0; i < n->n_samples; i++)
        sample_free(&n->samples[i]);
    n->n_samples = 0;
}

/* Keep s (taken) as n's latest sample of its container. */
static void sample_put(fleet_node *n, MetricsSample *s)
{
    fleet_sample *cs = NULL;

    for (size_t i = 0; i < n->n_samples && !cs; i++)
        if (strcmp(n->samples[i].id, s->container_id) == 0)
            cs = &n->samples[i];
    if (!cs) {
        if (n->n_samples >= FLEET_SAMPLES_MAX || strlen(s->container_id) >= BERTH_ID_BUF) {
            BERTH_PB_FREE(s);
            return;
        }
        n->samples = berth_xreallocarray(n->samples, n->n_samples + 1, sizeof(*n->samples));
        cs = &n->samples[n->n_samples++];
        memset(cs, 0, sizeof(*cs));
        snprintf(cs->id, sizeof(cs->id), "%s", s->container_id);
    }
    BERTH_PB_FREE(cs->prev);
    cs->prev = cs->last;
    cs->last = s;
    cs->in_round = true;
}

void fleet_node_metrics(fleet *f, const berth_principal *who, const fleet_stream_pos *pos,
                        const MetricsReport *r)
{
    fleet_node *n = stream_sender(f, who);
    size_t kept = 0;

    if (!n || stream_item_old(n, pos) || r->n_samples > FLEET_METRICS_MAX)
        return;
    for (size_t i = 0; i < n->n_samples; i++)
        n->samples[i].in_round = false;
    for (size_t i = 0; i < r->n_samples; i++) {
        const MetricsSample *s = r->samples[i];

        if (*s->container_id &&
            (!berth_spec_id_valid(s->container_id) || !node_may_report(n, s->container_id)))
            continue;
        sample_put(n, BERTH_PB_COPY(MetricsSample, s));
    }
    for (size_t i = 0; i < n->n_samples; i++) {
        if (!n->samples[i].in_round)
            sample_free(&n->samples[i]);
        else
            n->samples[kept++] = n->samples[i];
    }
    n->n_samples = kept;
}

int64_t fleet_sample_cpu_millis(const fleet_sample *s)
{
    int64_t dt;

    if (!s->prev || !s->last || s->last->cpu_usage_ns < s->prev->cpu_usage_ns)
        return -1;
    dt = s->last->time_unix_ns - s->prev->time_unix_ns;
    if (dt <= 0)
        return -1;
    /* ns of CPU per ns of wall time, in thousandths */
    return (int64_t)((double)(s->last->cpu_usage_ns - s->prev->cpu_usage_ns) * 1000.0 / (double)dt);
}

void fleet_observed_free(fleet_node *n)
{
    for (size_t i = 0; i < n->n_status; i++)
        container_status_free_unpacked(n->status[i], NULL);
    free(n->status);
    fleet_samples_clear(n);
    free(n->samples);
}
