/* The agent-facing half of the Controller service (role node, each call
 * about the calling node only) and the stream of container events and
 * metrics. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb/pb.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "controller-internal.h"
#include "rpc/envelope.h"
#include "spec/spec.h"
#include "validate.h"

#define METRICS_MAX 1024

static controller *ctl_of(Controller_Service *svc)
{
    return berth_container_of(svc, controller, svc);
}

/* The calling node, registered; otherwise the call is failed. */
static ctl_node *caller(controller *c, berth_rpc_call *call, bool registered)
{
    const berth_principal *peer = berth_rpc_call_peer(call);
    ctl_node *n;

    if (!ctl_need_role(call, BERTH_ROLE_NODE))
        return NULL;
    n = ctl_node_by_id(c, peer->id);
    if (!n || n->rec.n_keys == 0) {
        berth_rpc_call_fail(call, CODE_PERMISSION_DENIED, "node %s is not admitted", peer->name);
        return NULL;
    }
    if (registered && !ctl_node_registered(n)) {
        /* the agent answers this by registering again */
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "node not registered");
        return NULL;
    }
    return n;
}

/* ---- Register ---- */

static void h_register(Controller_Service *svc, const RegisterRequest *in,
                       RegisterResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    berth_rpc_call *call = data;
    RegisterResponse out = REGISTER_RESPONSE_INIT;
    Endpoints ep = ENDPOINTS_INIT;
    _cleanup_error_ berth_error *err = NULL;
    berth_store_node saved;
    NodeInfo *info;
    ctl_node *n;
    bool first, was_ready;

    if (!(n = caller(c, call, false)))
        return;
    if (!in->node || strcmp(in->node->name, n->rec.name) != 0) {
        berth_rpc_call_fail(call, CODE_PERMISSION_DENIED, "node %s may not register as %s",
                            n->rec.name, in->node ? in->node->name : "(none)");
        return;
    }
    if (ctl_node_info_validate(in->node, &err) < 0) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "%s", err->msg);
        return;
    }
    if (!(info = (NodeInfo *)berth_pb_copy(&in->node->base))) {
        berth_rpc_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    saved = n->rec;
    first = n->rec.registered_ns == 0;
    was_ready = n->rec.phase == NODE_READY;
    n->rec.info = info;
    n->rec.last_heartbeat_ns = berth_now_real_ns();
    if (first)
        n->rec.registered_ns = n->rec.last_heartbeat_ns;
    if (berth_store_begin(c->store, &err) < 0)
        goto fail;
    if (was_ready) {
        if (ctl_node_save(c, n, &err) < 0) {
            berth_store_rollback(c->store);
            goto fail;
        }
    } else if (ctl_node_set_phase(c, n, NODE_READY, "", &err) < 0) {
        berth_store_rollback(c->store);
        goto fail;
    }
    ctl_event(c, "Node", n->rec.name, "Normal", first ? "Registered" : "Reregistered",
              "agent %s on %s, %" PRId64 "m CPU, %" PRId64 " MiB", info->agent_version,
              info->kernel_version, info->capacity ? info->capacity->cpu_millis : 0,
              info->capacity ? info->capacity->memory_bytes >> 20 : 0);
    if (berth_store_commit(c->store, &err) < 0)
        goto fail;
    node_info_free_unpacked(saved.info, NULL);
    /* a new agent run: its view of its containers is worth a full report,
     * and the figures of the run before are not its */
    n->need_full_report = true;
    ctl_samples_clear(n);
    if (n->agent && (!n->agent_client_addr || strcmp(n->agent_client_addr, info->agent_address))) {
        berth_rpc_client_free(n->agent);
        n->agent = NULL;
    }
    ctl_lease_renew(c, n);
    /* capacity, labels or readiness changed: DaemonSets, pending replicas */
    if (ctl_reconcile(c, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "placement after %s registered", n->rec.name);
    out.generation = n->rec.generation;
    out.heartbeat_interval_ms = ctl_heartbeat_interval_ms(c);
    ep.events = c->adv_events;
    ep.stream = c->adv_stream;
    ep.survey = c->adv_survey;
    out.endpoints = &ep;
    closure(&out, data);
    return;
fail:
    n->rec = saved;
    node_info_free_unpacked(info, NULL);
    berth_rpc_call_fail(call, CODE_UNAVAILABLE, "register %s: %s", saved.name,
                        err ? err->msg : "store failed");
}

/* ---- Heartbeat ---- */

static void h_heartbeat(Controller_Service *svc, const HeartbeatRequest *in,
                        HeartbeatResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    berth_rpc_call *call = data;
    HeartbeatResponse out = HEARTBEAT_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    ctl_node *n;

    if (!(n = caller(c, call, true)))
        return;
    if (ctl_heartbeat_validate(in, &err) < 0) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "%s", err->msg);
        return;
    }
    n->rec.last_heartbeat_ns = berth_now_real_ns();
    if (in->applied_generation > n->rec.generation) {
        /* it applied a generation we never gave it (a store restored from
         * a backup?): move past it, so what it runs is replaced */
        n->rec.generation = in->applied_generation + 1;
        if (ctl_node_save(c, n, &err) < 0) {
            berth_rpc_call_fail(call, CODE_UNAVAILABLE, "%s", err->msg);
            return;
        }
    }
    if (n->rec.applied_generation != in->applied_generation) {
        n->rec.applied_generation = in->applied_generation;
        /* worth keeping, not worth failing the heartbeat for */
        if (ctl_node_save(c, n, &err) < 0)
            berth_log_error(BERTH_LOG_WARN, err, "node %s", n->rec.name);
        berth_error_free(&err);
    }
    if (n->rec.phase != NODE_READY) {
        bool was_down = n->rec.phase == NODE_DOWN;

        if (ctl_node_set_phase(c, n, NODE_READY, "", &err) < 0) {
            berth_rpc_call_fail(call, CODE_UNAVAILABLE, "%s", err->msg);
            return;
        }
        if (was_down)
            /* its replicas run elsewhere now and its generation moved on:
             * it learns so from this answer and stops them */
            ctl_event(c, "Node", n->rec.name, "Normal", "Fenced",
                      "back after being Down: generation %" PRIu64 " replaces its %" PRIu64,
                      n->rec.generation, in->applied_generation);
        if (ctl_reconcile(c, &err) < 0)
            berth_log_error(BERTH_LOG_ERROR, err, "placement after %s came back", n->rec.name);
    }
    ctl_lease_renew(c, n);
    out.generation = n->rec.generation;
    out.heartbeat_interval_ms = ctl_heartbeat_interval_ms(c);
    out.report_status = n->need_full_report || ctl_status_digest(n) != in->status_digest;
    closure(&out, data);
}

/* ---- GetAssignments ---- */

static void h_get_assignments(Controller_Service *svc, const GetAssignmentsRequest *in,
                              Assignments_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    berth_rpc_call *call = data;
    Assignments out = ASSIGNMENTS_INIT;
    _cleanup_error_ berth_error *err = NULL;
    ctl_node *n;
    size_t k = 0;

    if (!(n = caller(c, call, true)))
        return;
    out.generation = n->rec.generation;
    if (in->known_generation == n->rec.generation) {
        out.unchanged = true;
        closure(&out, data);
        return;
    }
    out.containers = calloc(n->n_assign + 1, sizeof(*out.containers));
    if (!out.containers) {
        berth_rpc_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n->n_assign; i++) {
        ContainerSpec *spec = ctl_assign_spec(c, n, &n->assign[i], &err);

        if (!spec) {
            /* cannot happen while assignments follow workloads; say so
             * rather than send a partial set the agent would act on */
            berth_rpc_call_fail(call, CODE_INTERNAL, "%s", err->msg);
            goto out;
        }
        out.containers[k++] = spec;
    }
    out.n_containers = k;
    closure(&out, data);
out:
    for (size_t i = 0; i < k; i++)
        container_spec_free_unpacked(out.containers[i], NULL);
    free(out.containers);
}

/* ---- stream positions ----
 *
 * A node's statuses reflect its stream up to (status_epoch, status_seq):
 * the last event taken in, or the position a full report was taken at
 * (controller.proto, ReportStatusRequest). An agent's new run starts a new
 * epoch; items of the run it replaced may still trickle in (PULL
 * fair-queues its pipes) and are dropped. */

static void stream_position(ctl_node *n, uint64_t epoch, uint64_t seq)
{
    if (epoch != n->status_epoch) {
        n->retired_epoch = n->status_epoch;
        n->status_epoch = epoch;
    }
    n->status_seq = seq;
}

/* Whether an item is of a run already replaced, or already covered by a
 * full report; notes lost items no report covers. */
static bool stream_item_old(ctl_node *n, const berth_stream_item *item)
{
    if (item->epoch && item->epoch == n->retired_epoch)
        return true;
    /* lost items the last full report does not cover: ask again */
    if (item->missed && (item->epoch != n->status_epoch || item->seq - 1 > n->status_seq))
        n->need_full_report = true;
    return item->epoch == n->status_epoch && item->seq <= n->status_seq;
}

/* ---- statuses ---- */

static void h_report_status(Controller_Service *svc, const ReportStatusRequest *in,
                            ReportStatusResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    berth_rpc_call *call = data;
    ReportStatusResponse out = REPORT_STATUS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    ContainerStatus **copies;
    ctl_node *n;

    if (!(n = caller(c, call, true)))
        return;
    if (ctl_report_status_validate(in, &err) < 0) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "%s", err->msg);
        return;
    }
    copies = calloc(in->n_containers + 1, sizeof(*copies));
    for (size_t i = 0; copies && i < in->n_containers; i++)
        if (!(copies[i] = (ContainerStatus *)berth_pb_copy(&in->containers[i]->base))) {
            for (size_t j = 0; j < i; j++)
                container_status_free_unpacked(copies[j], NULL);
            free(copies);
            copies = NULL;
        }
    if (!copies) {
        berth_rpc_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (in->full && in->stream_epoch && in->stream_epoch == n->status_epoch &&
        in->stream_seq < n->status_seq) {
        /* Older than events already taken in (see controller.proto): the
         * picture would undo them, and it may hold what no event carried.
         * The agent sends a fresh one at once. */
        for (size_t i = 0; i < in->n_containers; i++)
            container_status_free_unpacked(copies[i], NULL);
        free(copies);
        berth_rpc_call_fail(call, CODE_ABORTED,
                            "stream item %" PRIu64 " was taken in before this picture of %" PRIu64
                            ": send a fresh one",
                            n->status_seq, in->stream_seq);
        return;
    }
    if (in->full) {
        ctl_status_replace(c, n, copies, in->n_containers);
        n->need_full_report = false;
        if (in->stream_epoch) /* 0: taken without a stream, says nothing of it */
            stream_position(n, in->stream_epoch, in->stream_seq);
    } else {
        for (size_t i = 0; i < in->n_containers; i++)
            ctl_status_put(c, n, copies[i]);
        free(copies);
    }
    if (in->applied_generation && in->applied_generation <= n->rec.generation)
        n->rec.applied_generation = in->applied_generation;
    closure(&out, data);
}

/* ---- the stream ---- */

static ctl_node *stream_sender(controller *c, const berth_stream_item *item)
{
    ctl_node *n;

    if (item->from->role != BERTH_ROLE_NODE)
        return NULL;
    n = ctl_node_by_id(c, item->from->id);
    return n && ctl_node_registered(n) ? n : NULL;
}

static void on_container_event(const berth_stream_item *item, const ProtobufCMessage *msg,
                               void *data)
{
    const ContainerEvent *ev = (const ContainerEvent *)msg;
    controller *c = data;
    ctl_node *n = stream_sender(c, item);
    ContainerStatus *copy;

    if (!n || stream_item_old(n, item))
        return;
    if (!ev->status || ctl_status_validate(ev->status, NULL) < 0)
        return;
    stream_position(n, item->epoch, item->seq);
    if (ev->removed) {
        ctl_status_remove(c, n, ev->status->id);
        return;
    }
    if ((copy = (ContainerStatus *)berth_pb_copy(&ev->status->base)))
        ctl_status_put(c, n, copy);
}

static void on_metrics(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    const MetricsReport *r = (const MetricsReport *)msg;
    controller *c = data;
    ctl_node *n = stream_sender(c, item);

    if (!n || stream_item_old(n, item) || r->n_samples > METRICS_MAX)
        return;
    ctl_samples_begin(n);
    for (size_t i = 0; i < r->n_samples; i++) {
        const MetricsSample *s = r->samples[i];
        MetricsSample *copy;

        if (*s->container_id && !berth_spec_id_valid(s->container_id))
            continue;
        if ((copy = (MetricsSample *)berth_pb_copy(&s->base)))
            ctl_sample_put(n, copy);
    }
    ctl_samples_end(n);
}

int ctl_stream_init(controller *c, berth_error **err)
{
    if (berth_stream_pull_on(c->pull, &container_event_descriptor, on_container_event, c, err) <
            0 ||
        berth_stream_pull_on(c->pull, &metrics_report_descriptor, on_metrics, c, err) < 0)
        return -1;
    return 0;
}

void ctl_agent_service_init(controller *c)
{
    c->svc.register_ = h_register;
    c->svc.heartbeat = h_heartbeat;
    c->svc.get_assignments = h_get_assignments;
    c->svc.report_status = h_report_status;
}
