/* The operator-facing half of the Controller service (role operator:
 * berthctl): applying and deleting manifests, the fleet's listings, node
 * admission, cordon and drain, events, metrics, the fleet health survey and
 * the log and stop relays to a node's Agent service. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "controller-internal.h"
#include "manifest/manifest.h"
#include "rpc/envelope.h"
#include "spec/spec.h"
#include "validate.h"

#define EVENTS_DEFAULT     100
#define HEALTH_TIMEOUT_MS  2000
#define HEALTH_TIMEOUT_MAX 60000
#define RELAY_TIMEOUT_MS   10000
#define RELAY_MARGIN_MS    200

static controller *ctl_of(Controller_Service *svc)
{
    return berth_container_of(svc, controller, svc);
}

#define NEED_OPERATOR(call)                                                                        \
    do {                                                                                           \
        if (!ctl_need_role((call), BERTH_ROLE_OPERATOR))                                           \
            return;                                                                                \
    } while (0)

static void fail_oom(berth_rpc_call *call)
{
    berth_rpc_call_fail(call, CODE_RESOURCE_EXHAUSTED, "out of memory");
}

/* An error from a lower layer, by its errno. */
static void fail_err(berth_rpc_call *call, const berth_error *err)
{
    int code;

    switch (err ? err->code : 0) {
    case ENOENT:
        code = CODE_NOT_FOUND;
        break;
    case EPERM:
    case EBUSY:
        code = CODE_FAILED_PRECONDITION;
        break;
    case EINVAL:
        code = CODE_INVALID_ARGUMENT;
        break;
    case ENOMEM:
        code = CODE_RESOURCE_EXHAUSTED;
        break;
    default:
        code = CODE_UNAVAILABLE;
        break;
    }
    berth_rpc_call_fail(call, code, "%s", err ? err->msg : "failed");
}

/* ---- messages from the fleet (borrowing its memory: answers are packed
 * before anything changes) ---- */

typedef struct node_msg {
    Node node;
    NodeCapacity allocated;
    NodeInfo bare; /* a node that never registered: its name */
    char fps[BERTH_PUBKEYS_MAX + 1][BERTH_FINGERPRINT_LEN];
    char *fp_ptrs[BERTH_PUBKEYS_MAX + 1];
} node_msg;

static bool status_running(const ContainerStatus *s, const ctl_assign *a)
{
    /* a status of an older generation runs an older spec (0: the agent
     * does not say) */
    return s && s->state == CONTAINER_RUNNING &&
           (s->generation == 0 || s->generation >= a->spec_generation);
}

/* Done for good: exited 0 where the policy does not restart it. */
static bool status_succeeded(const ContainerStatus *s, const ContainerSpec *tmpl,
                             const ctl_assign *a)
{
    return s && tmpl && tmpl->restart_policy != RESTART_ALWAYS && s->state == CONTAINER_EXITED &&
           s->exit_code == 0 && s->signal == 0 &&
           (s->generation == 0 || s->generation >= a->spec_generation);
}

static void node_msg_fill(controller *c, ctl_node *n, node_msg *m)
{
    int64_t cpu, mem;

    node_init(&m->node);
    node_capacity_init(&m->allocated);
    node_info_init(&m->bare);
    m->bare.name = n->rec.name;
    m->node.info = n->rec.info ? n->rec.info : &m->bare;
    m->node.phase = n->rec.phase;
    for (size_t i = 0; i < n->rec.n_keys; i++)
        m->fp_ptrs[m->node.n_key_fingerprints++] = berth_key_fingerprint(n->rec.keys[i], m->fps[i]);
    if (n->rec.n_keys == 0 && n->rec.has_pending)
        /* what the operator compares before approving */
        m->fp_ptrs[m->node.n_key_fingerprints++] =
            berth_key_fingerprint(n->rec.pending_key, m->fps[BERTH_PUBKEYS_MAX]);
    m->node.key_fingerprints = m->fp_ptrs;
    m->node.generation = n->rec.generation;
    m->node.applied_generation = n->rec.applied_generation;
    m->node.registered_unix_ns = n->rec.registered_ns;
    m->node.last_heartbeat_unix_ns = n->rec.last_heartbeat_ns;
    m->node.containers = (uint32_t)n->n_assign;
    for (size_t i = 0; i < n->n_assign; i++)
        m->node.running += status_running(ctl_status_find(n, n->assign[i].id), &n->assign[i]);
    ctl_node_allocated(c, n, &cpu, &mem);
    m->allocated.cpu_millis = cpu;
    m->allocated.memory_bytes = mem;
    m->allocated.max_containers = (uint32_t)n->n_assign;
    m->node.allocated = &m->allocated;
    m->node.reason = n->rec.reason;
    m->node.cordoned = n->rec.cordoned;
    m->node.drained = n->rec.drained;
    m->node.phase_since_unix_ns = n->rec.phase_since_ns;
}

typedef struct wl_msg {
    Workload w;
    WorkloadStatus st;
} wl_msg;

/* Fill m for wl, with the statuses of its replicas (status_count). */
static void wl_msg_fill(ctl_workload *wl, wl_msg *m)
{
    m->w = *wl->w;
    workload_status_init(&m->st);
    m->w.status = &m->st;
    m->st.desired = wl->place.desired;
    m->st.placed = wl->place.placed;
    m->st.unschedulable = wl->place.unschedulable;
    m->st.message = wl->place.message;
}

static int by_name(const void *a, const void *b, void *data)
{
    const controller *c = data;

    return strcmp(c->workloads[*(const size_t *)a].w->name,
                  c->workloads[*(const size_t *)b].w->name);
}

/* The position of name among the n workloads of c listed by name in
 * sorted, or n. */
static size_t wl_sorted_find(controller *c, const size_t *sorted, size_t n, const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->workloads[sorted[mid]].w->name, name);

        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

/* Count the replicas of the n workloads of c listed by name in sorted into
 * msgs[0..n) (filled by wl_msg_fill), in one pass over the fleet's
 * assignments: a listing of thousands of replicas stays cheap. */
static void status_count(controller *c, const size_t *sorted, wl_msg *msgs, size_t n)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *node = c->nodes[i];

        for (size_t a = 0; a < node->n_assign; a++) {
            const ctl_assign *as = &node->assign[a];
            size_t k = wl_sorted_find(c, sorted, n, as->workload);
            ContainerStatus *s;
            WorkloadStatus *st;

            if (k == n)
                continue;
            st = &msgs[k].st;
            s = ctl_status_find(node, as->id);
            st->running += status_running(s, as);
            st->failed += s && s->state == CONTAINER_FAILED;
            st->succeeded += status_succeeded(s, c->workloads[sorted[k]].w->template_, as);
        }
    }
}

/* The generated map entries of map<string,string> fields all look alike:
 * the message header, then key and value. */
typedef struct kv {
    ProtobufCMessage base;
    char *key, *value;
} kv;

static bool selected(kv *const *sel, size_t n_sel, kv *const *labels, size_t n_labels)
{
    for (size_t i = 0; i < n_sel; i++) {
        bool found = false;

        for (size_t j = 0; j < n_labels && !found; j++)
            found = strcmp(sel[i]->key, labels[j]->key) == 0 &&
                    strcmp(sel[i]->value, labels[j]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}
#define KVS(arr) ((kv *const *)(void *)(arr))

/* ---- nodes ---- */

static void h_list_nodes(Controller_Service *svc, const ListNodesRequest *in,
                         ListNodesResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ListNodesResponse out = LIST_NODES_RESPONSE_INIT;
    node_msg *msgs;

    NEED_OPERATOR(data);
    msgs = calloc(c->n_nodes + 1, sizeof(*msgs));
    out.nodes = calloc(c->n_nodes + 1, sizeof(*out.nodes));
    if (!msgs || !out.nodes) {
        free(msgs);
        free(out.nodes);
        fail_oom(data);
        return;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];
        const NodeInfo *info = n->rec.info;

        if (in->n_label_selector &&
            (!info || !selected(KVS(in->label_selector), in->n_label_selector, KVS(info->labels),
                                info->n_labels)))
            continue;
        node_msg_fill(c, n, &msgs[out.n_nodes]);
        out.nodes[out.n_nodes] = &msgs[out.n_nodes].node;
        out.n_nodes++;
    }
    closure(&out, data);
    free(msgs);
    free(out.nodes);
}

static ctl_node *node_named(controller *c, berth_rpc_call *call, const char *name)
{
    ctl_node *n = ctl_node_find(c, name);

    if (!n)
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "node %.63s not found", name);
    return n;
}

static void answer_node(controller *c, ctl_node *n, Node_Closure closure, void *data)
{
    node_msg *m = calloc(1, sizeof(*m));

    if (!m) {
        fail_oom(data);
        return;
    }
    node_msg_fill(c, n, m);
    closure(&m->node, data);
    free(m);
}

static void h_get_node(Controller_Service *svc, const GetNodeRequest *in, Node_Closure closure,
                       void *data)
{
    controller *c = ctl_of(svc);
    ctl_node *n;

    NEED_OPERATOR(data);
    if ((n = node_named(c, data, in->name)))
        answer_node(c, n, closure, data);
}

static void h_approve_node(Controller_Service *svc, const ApproveNodeRequest *in,
                           Node_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    _cleanup_error_ berth_error *err = NULL;
    ctl_node *n;

    NEED_OPERATOR(data);
    if (ctl_approve_node_validate(in, &err) < 0) {
        fail_err(data, err);
        return;
    }
    if (berth_policy_sqlite_approve(c->policy, in->name, in->key_fingerprint, &err) < 0 ||
        ctl_node_reload(c, in->name, &err) < 0) {
        fail_err(data, err);
        return;
    }
    if ((n = node_named(c, data, in->name)))
        answer_node(c, n, closure, data);
}

static void h_create_join_token(Controller_Service *svc, const CreateJoinTokenRequest *in,
                                JoinToken_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    JoinToken out = JOIN_TOKEN_INIT;
    _cleanup_error_ berth_error *err = NULL;
    char text[BERTH_TOKEN_TEXT_LEN], id[2 * BERTH_TOKEN_ID_LEN + 1];
    berth_join_token t;
    int64_t expires = 0;

    NEED_OPERATOR(data);
    if (ctl_join_token_request_validate(in, &err) < 0) {
        fail_err(data, err);
        return;
    }
    if (berth_policy_sqlite_create_token(c->policy, in->ttl_seconds, in->description, &t, &expires,
                                         &err) < 0) {
        fail_err(data, err);
        return;
    }
    sodium_bin2hex(id, sizeof(id), t.id, BERTH_TOKEN_ID_LEN);
    ctl_event(c, "JoinToken", id, "Normal", "Created", "expires in %us%s%s",
              in->ttl_seconds ? in->ttl_seconds : 3600, *in->description ? ": " : "",
              in->description);
    out.token = berth_join_token_format(&t, text);
    out.id = id;
    out.expires_unix_ns = expires;
    out.description = in->description;
    closure(&out, data);
    sodium_memzero(&t, sizeof(t));
    sodium_memzero(text, sizeof(text));
}

/* Persist n's cordon/drain flags with an event, then place again. */
static void set_schedulable(controller *c, ctl_node *n, bool cordoned, bool drained,
                            const char *reason, Node_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    bool was_cordoned = n->rec.cordoned, was_drained = n->rec.drained;

    n->rec.cordoned = cordoned;
    n->rec.drained = drained;
    if (berth_store_begin(c->store, &err) < 0 || ctl_node_save(c, n, &err) < 0) {
        berth_store_rollback(c->store);
        n->rec.cordoned = was_cordoned;
        n->rec.drained = was_drained;
        fail_err(data, err);
        return;
    }
    ctl_event(c, "Node", n->rec.name, "Normal", reason, "by operator %s",
              berth_rpc_call_peer(data)->name);
    if (berth_store_commit(c->store, &err) < 0) {
        n->rec.cordoned = was_cordoned;
        n->rec.drained = was_drained;
        fail_err(data, err);
        return;
    }
    if (ctl_reconcile(c, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "placement after %s on %s", reason, n->rec.name);
    answer_node(c, n, closure, data);
}

static void h_cordon_node(Controller_Service *svc, const CordonNodeRequest *in,
                          Node_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ctl_node *n;

    NEED_OPERATOR(data);
    if (!(n = node_named(c, data, in->name)))
        return;
    if (in->cordon)
        set_schedulable(c, n, true, n->rec.drained, "Cordoned", closure, data);
    else
        set_schedulable(c, n, false, false, "Uncordoned", closure, data);
}

static void h_drain_node(Controller_Service *svc, const DrainNodeRequest *in, Node_Closure closure,
                         void *data)
{
    controller *c = ctl_of(svc);
    ctl_node *n;

    NEED_OPERATOR(data);
    if ((n = node_named(c, data, in->name)))
        set_schedulable(c, n, true, true, "Drained", closure, data);
}

/* ---- workloads ---- */

static void h_list_workloads(Controller_Service *svc, const ListWorkloadsRequest *in,
                             ListWorkloadsResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ListWorkloadsResponse out = LIST_WORKLOADS_RESPONSE_INIT;
    wl_msg *msgs;
    size_t *order;

    NEED_OPERATOR(data);
    msgs = calloc(c->n_workloads + 1, sizeof(*msgs));
    order = calloc(c->n_workloads + 1, sizeof(*order));
    out.workloads = calloc(c->n_workloads + 1, sizeof(*out.workloads));
    if (!msgs || !order || !out.workloads) {
        fail_oom(data);
        goto out;
    }
    /* sorted by name (they are kept oldest first) */
    for (size_t i = 0; i < c->n_workloads; i++)
        order[i] = i;
    qsort_r(order, c->n_workloads, sizeof(*order), by_name, c);
    for (size_t i = 0; i < c->n_workloads; i++) {
        ctl_workload *wl = &c->workloads[order[i]];

        if (!selected(KVS(in->label_selector), in->n_label_selector, KVS(wl->w->labels),
                      wl->w->n_labels))
            continue;
        order[out.n_workloads] = order[i]; /* the selected, still by name */
        wl_msg_fill(wl, &msgs[out.n_workloads]);
        out.workloads[out.n_workloads] = &msgs[out.n_workloads].w;
        out.n_workloads++;
    }
    status_count(c, order, msgs, out.n_workloads);
    closure(&out, data);
out:
    free(msgs);
    free(order);
    free(out.workloads);
}

static void h_get_workload(Controller_Service *svc, const GetWorkloadRequest *in,
                           Workload_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ctl_workload *wl;
    wl_msg m;
    size_t at;

    NEED_OPERATOR(data);
    if (!(wl = ctl_workload_find(c, in->name))) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "workload %.63s not found", in->name);
        return;
    }
    at = (size_t)(wl - c->workloads);
    wl_msg_fill(wl, &m);
    status_count(c, &at, &m, 1);
    closure(&m.w, data);
}

/* Whether two workloads ask for the same thing (generation, times, status
 * and source aside). */
static bool same_spec(const Workload *a, const Workload *b)
{
    Workload x = *a, y = *b;
    size_t lx, ly;
    uint8_t *bx, *by;
    bool same;

    x.generation = y.generation = 0;
    x.created_unix_ns = y.created_unix_ns = x.updated_unix_ns = y.updated_unix_ns = 0;
    x.status = y.status = NULL;
    x.source = y.source = (char *)protobuf_c_empty_string;
    lx = protobuf_c_message_get_packed_size(&x.base);
    ly = protobuf_c_message_get_packed_size(&y.base);
    if (lx != ly)
        return false;
    bx = malloc(lx + 1);
    by = malloc(ly + 1);
    same = bx && by;
    if (same) {
        protobuf_c_message_pack(&x.base, bx);
        protobuf_c_message_pack(&y.base, by);
        same = memcmp(bx, by, lx) == 0;
    }
    free(bx);
    free(by);
    return same;
}

typedef struct apply_item {
    Workload *w; /* from the manifest, ours until placed in the fleet */
    ApplyAction action;
} apply_item;

static void apply_results(apply_item *items, size_t n, ApplyResult *res, ApplyResult **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        apply_result_init(&res[i]);
        res[i].kind = (char *)berth_workload_kind_name(items[i].w->kind);
        res[i].name = items[i].w->name;
        res[i].action = items[i].action;
        res[i].generation = items[i].w->generation;
        ptrs[i] = &res[i];
    }
}

static void h_apply(Controller_Service *svc, const ApplyRequest *in, ApplyResponse_Closure closure,
                    void *data)
{
    controller *c = ctl_of(svc);
    ApplyResponse out = APPLY_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    berth_manifest *m = NULL;
    apply_item *items = NULL;
    ApplyResult *res = NULL;
    char source[CTL_SOURCE_MAX + 1], **warnings = NULL;
    size_t n_new = 0, n_warn = 0;
    int64_t now = berth_now_real_ns();

    NEED_OPERATOR(data);
    ctl_source_name(in->source, source, sizeof(source));
    if (berth_manifest_parse(in->manifest, strlen(in->manifest), source, &m, &err) < 0) {
        berth_rpc_call_fail(data, CODE_INVALID_ARGUMENT, "%s", err->msg);
        return;
    }
    items = calloc(m->n_workloads + 1, sizeof(*items));
    res = calloc(m->n_workloads + 1, sizeof(*res));
    out.results = calloc(m->n_workloads + 1, sizeof(*out.results));
    warnings = calloc(2 * m->n_workloads + 1, sizeof(*warnings));
    if (!items || !res || !out.results || !warnings) {
        fail_oom(data);
        goto out;
    }
    for (size_t i = 0; i < m->n_workloads; i++) {
        apply_item *it = &items[i];
        ctl_workload *existing = ctl_workload_find(c, m->workloads[i]->name);

        it->w = m->workloads[i];
        if (!existing) {
            it->action = APPLY_CREATED;
            it->w->generation = 1;
            it->w->created_unix_ns = it->w->updated_unix_ns = now;
            n_new++;
        } else if (same_spec(it->w, existing->w)) {
            it->action = APPLY_UNCHANGED;
            it->w->generation = existing->w->generation;
        } else {
            it->action = APPLY_CONFIGURED;
            it->w->generation = existing->w->generation + 1;
            it->w->created_unix_ns = existing->w->created_unix_ns;
            it->w->updated_unix_ns = now;
        }
        if (it->w->kind != WORKLOAD_DAEMONSET && it->w->replicas == 0 &&
            asprintf(&warnings[n_warn], "%s: replicas 0: nothing will run", it->w->name) > 0)
            n_warn++;
    }
    if (c->n_workloads + n_new > CTL_WORKLOADS_MAX) {
        berth_rpc_call_fail(data, CODE_RESOURCE_EXHAUSTED,
                            "%zu workloads would exceed the limit of %d", c->n_workloads + n_new,
                            CTL_WORKLOADS_MAX);
        goto out;
    }
    if (!in->dry_run) {
        /* The workloads, durably, in one transaction: that is what the
         * answer acknowledges. Placement follows (and is redone from the
         * store after a crash). */
        if (berth_store_begin(c->store, &err) < 0)
            goto store_failed;
        for (size_t i = 0; i < m->n_workloads; i++) {
            apply_item *it = &items[i];

            if (it->action == APPLY_UNCHANGED)
                continue;
            if (berth_store_workload_put(c->store, it->w, &err) < 0) {
                berth_store_rollback(c->store);
                goto store_failed;
            }
            ctl_event(c, "Workload", it->w->name, "Normal", "Applied",
                      "%s %s from %s: generation %" PRIu64, berth_workload_kind_name(it->w->kind),
                      it->action == APPLY_CREATED ? "created" : "configured", source,
                      it->w->generation);
        }
        if (berth_store_commit(c->store, &err) < 0)
            goto store_failed;
        for (size_t i = 0; i < m->n_workloads; i++) {
            apply_item *it = &items[i];
            /* looked up again: adding grows (moves) the array */
            ctl_workload *existing = ctl_workload_find(c, it->w->name);

            if (it->action == APPLY_UNCHANGED)
                continue;
            if (existing) {
                workload_free_unpacked(existing->w, NULL);
                existing->w = it->w;
            } else {
                ctl_workload *grown = realloc(c->workloads, (c->n_workloads + 1) * sizeof(*grown));

                if (!grown) {
                    /* stored: the next start loads it */
                    berth_err("workload %s: out of memory", it->w->name);
                    continue;
                }
                c->workloads = grown;
                memset(&c->workloads[c->n_workloads], 0, sizeof(*c->workloads));
                c->workloads[c->n_workloads++].w = it->w;
            }
            m->workloads[i] = NULL; /* the fleet's now */
        }
        if (ctl_reconcile(c, &err) < 0) {
            berth_log_error(BERTH_LOG_ERROR, err, "placement after apply");
            berth_error_free(&err);
        }
        for (size_t i = 0; i < m->n_workloads; i++) {
            ctl_workload *wl = ctl_workload_find(c, items[i].w->name);

            if (wl && wl->place.unschedulable &&
                asprintf(&warnings[n_warn], "%s: %u of %u replicas cannot be placed: %s",
                         wl->w->name, wl->place.unschedulable, wl->place.desired,
                         wl->place.message) > 0)
                n_warn++;
        }
    }
    apply_results(items, m->n_workloads, res, out.results);
    out.n_results = m->n_workloads;
    out.dry_run = in->dry_run;
    out.warnings = warnings;
    out.n_warnings = n_warn;
    closure(&out, data);
    goto out;
store_failed:
    berth_rpc_call_fail(data, CODE_UNAVAILABLE, "apply %s: %s", source,
                        err ? err->msg : "store failed");
out:
    for (size_t i = 0; warnings && i < n_warn; i++)
        free(warnings[i]);
    free(warnings);
    free(items);
    free(res);
    free(out.results);
    berth_manifest_free(m);
}

static void delete_node(controller *c, const DeleteRequest *in, DeleteResponse_Closure closure,
                        void *data)
{
    DeleteResponse out = DELETE_RESPONSE_INIT;
    ApplyResult r = APPLY_RESULT_INIT, *rp = &r;
    _cleanup_error_ berth_error *err = NULL;
    ctl_node *n;

    if (!(n = node_named(c, data, in->name)))
        return;
    if (n->rec.phase == NODE_READY && n->n_assign && !n->rec.drained) {
        /* its containers would run on, never told to stop */
        berth_rpc_call_fail(data, CODE_FAILED_PRECONDITION,
                            "node %s is Ready with %zu containers: drain it first (berthctl node "
                            "drain %s)",
                            n->rec.name, n->n_assign, n->rec.name);
        return;
    }
    r.kind = "Node";
    r.name = in->name;
    r.action = APPLY_DELETED;
    r.generation = n->rec.generation;
    if (!in->dry_run) {
        if (ctl_node_forget(c, n, &err) < 0) {
            fail_err(data, err);
            return;
        }
        if (ctl_reconcile(c, &err) < 0)
            berth_log_error(BERTH_LOG_ERROR, err, "placement after deleting node %s", in->name);
    }
    out.results = &rp;
    out.n_results = 1;
    out.dry_run = in->dry_run;
    closure(&out, data);
}

static void h_delete(Controller_Service *svc, const DeleteRequest *in,
                     DeleteResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    DeleteResponse out = DELETE_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    berth_manifest *m = NULL;
    ApplyResult *res = NULL;
    const char **names = NULL;
    char source[CTL_SOURCE_MAX + 1];
    size_t n_names = 0, n_res = 0;

    NEED_OPERATOR(data);
    if (strcmp(in->kind, "node") == 0 || strcmp(in->kind, "nodes") == 0) {
        delete_node(c, in, closure, data);
        return;
    }
    if (*in->kind && strcmp(in->kind, "workload") != 0 && strcmp(in->kind, "workloads") != 0) {
        berth_rpc_call_fail(data, CODE_INVALID_ARGUMENT, "kind '%.40s': workload or node",
                            in->kind);
        return;
    }
    if (*in->manifest) {
        ctl_source_name("manifest", source, sizeof(source));
        if (berth_manifest_parse(in->manifest, strlen(in->manifest), source, &m, &err) < 0) {
            berth_rpc_call_fail(data, CODE_INVALID_ARGUMENT, "%s", err->msg);
            return;
        }
        names = calloc(m->n_workloads + 1, sizeof(*names));
        for (size_t i = 0; names && i < m->n_workloads; i++)
            names[n_names++] = m->workloads[i]->name;
    } else {
        names = calloc(1, sizeof(*names));
        if (names)
            names[n_names++] = in->name;
    }
    res = calloc(n_names + 1, sizeof(*res));
    out.results = calloc(n_names + 1, sizeof(*out.results));
    if (!names || !res || !out.results) {
        fail_oom(data);
        goto out;
    }
    for (size_t i = 0; i < n_names; i++) {
        ctl_workload *wl = ctl_workload_find(c, names[i]);

        if (!wl)
            continue;
        apply_result_init(&res[n_res]);
        res[n_res].kind = (char *)berth_workload_kind_name(wl->w->kind);
        res[n_res].name = wl->w->name;
        res[n_res].action = APPLY_DELETED;
        res[n_res].generation = wl->w->generation;
        out.results[n_res] = &res[n_res];
        n_res++;
    }
    if (n_res == 0) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "workload %.63s not found",
                            n_names ? names[0] : "");
        goto out;
    }
    out.n_results = n_res;
    out.dry_run = in->dry_run;
    if (in->dry_run) {
        closure(&out, data);
        goto out;
    }
    if (berth_store_begin(c->store, &err) < 0)
        goto store_failed;
    for (size_t i = 0; i < n_res; i++) {
        if (berth_store_workload_delete(c->store, res[i].name, &err) < 0) {
            berth_store_rollback(c->store);
            goto store_failed;
        }
        ctl_event(c, "Workload", res[i].name, "Normal", "Deleted", "by operator %s",
                  berth_rpc_call_peer(data)->name);
    }
    if (berth_store_commit(c->store, &err) < 0)
        goto store_failed;
    /* Answer first (the names point into the fleet), then forget. */
    closure(&out, data);
    for (size_t i = 0; i < n_res; i++) {
        ctl_workload *wl = ctl_workload_find(c, res[i].name);
        size_t at = (size_t)(wl - c->workloads);

        workload_free_unpacked(wl->w, NULL);
        memmove(&c->workloads[at], &c->workloads[at + 1],
                (c->n_workloads - at - 1) * sizeof(*c->workloads));
        c->n_workloads--;
        res[i].name = NULL;
    }
    if (ctl_reconcile(c, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "placement after delete");
    goto out;
store_failed:
    berth_rpc_call_fail(data, CODE_UNAVAILABLE, "delete: %s", err ? err->msg : "store failed");
out:
    free(names);
    free(res);
    free(out.results);
    berth_manifest_free(m);
}

/* ---- containers ---- */

typedef struct ci_list {
    ContainerInfo *infos;
    ContainerInfo **ptrs;
    ContainerStatus *pending; /* statuses for assigned, unreported ones */
    size_t n, cap;
} ci_list;

static void ci_list_free(ci_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->infos[i].spec)
            container_spec_free_unpacked(l->infos[i].spec, NULL);
    free(l->infos);
    free(l->ptrs);
    free(l->pending);
}

static bool state_wanted(const ListContainersRequest *in, ContainerState s)
{
    if (in->n_states == 0)
        return true;
    for (size_t i = 0; i < in->n_states; i++)
        if (in->states[i] == s)
            return true;
    return false;
}

/* Add the container id on n (assigned, reported, or both) if it passes
 * the filters. */
static int ci_add(controller *c, ci_list *l, ctl_node *n, const char *id,
                  const ListContainersRequest *in)
{
    ctl_assign *a = ctl_assign_find(n, id);
    ContainerStatus *s = ctl_status_find(n, id);
    ContainerInfo *ci;
    const char *workload = a ? a->workload : "";

    if (*in->workload && strcmp(in->workload, workload) != 0)
        return 0;
    if (!state_wanted(in, s ? s->state : CONTAINER_PENDING))
        return 0;
    ci = &l->infos[l->n];
    container_info_init(ci);
    ci->node = n->rec.name;
    ci->workload = (char *)workload;
    if (a && !(ci->spec = ctl_assign_spec(c, n, a, NULL)))
        return -1;
    if (!s) {
        s = &l->pending[l->n];
        container_status_init(s);
        s->id = (char *)id;
        s->state = CONTAINER_PENDING;
        s->reason = "NotReported";
        s->message = "assigned, not reported by the node yet";
    }
    ci->status = s;
    l->ptrs[l->n] = ci;
    l->n++;
    return 0;
}

/* Every container matching in, sorted by node, then id. */
static int ci_collect(controller *c, const ListContainersRequest *in, const char *id, ci_list *l)
{
    size_t total = 0;

    for (size_t i = 0; i < c->n_nodes; i++)
        total += c->nodes[i]->n_assign + c->nodes[i]->n_status;
    l->infos = calloc(total + 1, sizeof(*l->infos));
    l->ptrs = calloc(total + 1, sizeof(*l->ptrs));
    l->pending = calloc(total + 1, sizeof(*l->pending));
    if (!l->infos || !l->ptrs || !l->pending)
        return -1;
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];
        size_t a = 0, s = 0;

        if (*in->node && strcmp(in->node, n->rec.name) != 0)
            continue;
        /* merge the two sorted lists */
        while (a < n->n_assign || s < n->n_status) {
            const char *ida = a < n->n_assign ? n->assign[a].id : NULL;
            const char *ids = s < n->n_status ? n->status[s]->id : NULL;
            int cmp = !ida ? 1 : !ids ? -1 : strcmp(ida, ids);
            const char *next = cmp <= 0 ? ida : ids;

            a += cmp <= 0;
            s += cmp >= 0;
            if (id && strcmp(id, next) != 0)
                continue;
            if (ci_add(c, l, n, next, in) < 0)
                return -1;
        }
    }
    return 0;
}

static void h_list_containers(Controller_Service *svc, const ListContainersRequest *in,
                              ListContainersResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ListContainersResponse out = LIST_CONTAINERS_RESPONSE_INIT;
    ci_list l = { 0 };

    NEED_OPERATOR(data);
    if (ci_collect(c, in, NULL, &l) < 0) {
        fail_oom(data);
    } else {
        out.containers = l.ptrs;
        out.n_containers = l.n;
        closure(&out, data);
    }
    ci_list_free(&l);
}

static void h_get_container(Controller_Service *svc, const GetContainerRequest *in,
                            ContainerInfo_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ListContainersRequest q = LIST_CONTAINERS_REQUEST_INIT;
    ci_list l = { 0 };

    NEED_OPERATOR(data);
    q.node = in->node;
    if (ci_collect(c, &q, in->id, &l) < 0)
        fail_oom(data);
    else if (l.n == 0)
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %.63s not found%s%.63s", in->id,
                            *in->node ? " on " : "", in->node);
    else if (l.n > 1)
        berth_rpc_call_fail(data, CODE_FAILED_PRECONDITION,
                            "container %s is on %s and %s: name the node", in->id, l.infos[0].node,
                            l.infos[1].node);
    else
        closure(&l.infos[0], data);
    ci_list_free(&l);
}

/* ---- events and metrics ---- */

typedef struct ev_list {
    Event **events;
    size_t n, cap;
} ev_list;

static int take_event(void *data, Event *e)
{
    ev_list *l = data;

    if (l->n == l->cap) {
        event_free_unpacked(e, NULL);
        return 0;
    }
    l->events[l->n++] = e;
    return 0;
}

static void h_list_events(Controller_Service *svc, const ListEventsRequest *in,
                          ListEventsResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    ListEventsResponse out = LIST_EVENTS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    ev_list l = { 0 };

    NEED_OPERATOR(data);
    l.cap = in->limit ? in->limit : EVENTS_DEFAULT;
    if (l.cap > BERTH_STORE_EVENTS_MAX)
        l.cap = BERTH_STORE_EVENTS_MAX;
    if (!(l.events = calloc(l.cap, sizeof(*l.events)))) {
        fail_oom(data);
        return;
    }
    if (berth_store_events_list(c->store, in->object_kind, in->object_name, (uint32_t)l.cap,
                                take_event, &l, &err) < 0) {
        fail_err(data, err);
    } else {
        out.events = l.events;
        out.n_events = l.n;
        closure(&out, data);
    }
    for (size_t i = 0; i < l.n; i++)
        event_free_unpacked(l.events[i], NULL);
    free(l.events);
}

static void h_top(Controller_Service *svc, const TopRequest *in, TopResponse_Closure closure,
                  void *data)
{
    controller *c = ctl_of(svc);
    TopResponse out = TOP_RESPONSE_INIT;
    NodeUsage *nu = NULL;
    ContainerUsage *cu = NULL;
    size_t total = 0;

    NEED_OPERATOR(data);
    for (size_t i = 0; i < c->n_nodes; i++)
        total += c->nodes[i]->n_samples;
    nu = calloc(c->n_nodes + 1, sizeof(*nu));
    cu = calloc(total + 1, sizeof(*cu));
    out.nodes = calloc(c->n_nodes + 1, sizeof(*out.nodes));
    out.containers = calloc(total + 1, sizeof(*out.containers));
    if (!nu || !cu || !out.nodes || !out.containers) {
        fail_oom(data);
        goto out;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        if (*in->node && strcmp(in->node, n->rec.name) != 0)
            continue;
        for (size_t k = 0; k < n->n_samples; k++) {
            ctl_sample *s = &n->samples[k];
            ctl_assign *a = *s->id ? ctl_assign_find(n, s->id) : NULL;

            if (!*s->id && !*in->workload) {
                NodeUsage *u = &nu[out.n_nodes];

                node_usage_init(u);
                u->node = n->rec.name;
                u->sample = s->last;
                u->cpu_millis = ctl_sample_cpu_millis(s);
                u->capacity = n->rec.info ? n->rec.info->capacity : NULL;
                out.nodes[out.n_nodes++] = u;
            } else if (*s->id &&
                       (!*in->workload || (a && strcmp(a->workload, in->workload) == 0))) {
                ContainerUsage *u = &cu[out.n_containers];

                container_usage_init(u);
                u->node = n->rec.name;
                u->workload = a ? a->workload : "";
                u->sample = s->last;
                u->cpu_millis = ctl_sample_cpu_millis(s);
                out.containers[out.n_containers++] = u;
            }
        }
    }
    closure(&out, data);
out:
    free(nu);
    free(cu);
    free(out.nodes);
    free(out.containers);
}

/* ---- fleet health: a survey ---- */

typedef struct health_call {
    berth_rpc_call *call;
    FleetHealthResponse_Closure closure;
    uint32_t timeout_ms;
} health_call;

static int answer_cmp(const void *a, const void *b)
{
    return strcmp(((const berth_survey_answer *)a)->from.name,
                  ((const berth_survey_answer *)b)->from.name);
}

static void health_done(berth_survey_result *r, void *data)
{
    health_call *hc = data;
    FleetHealthResponse out = FLEET_HEALTH_RESPONSE_INIT;
    NodeHealth *nh = calloc(r->n_answers + 1, sizeof(*nh));
    HealthReport *failed = calloc(r->n_answers + 1, sizeof(*failed));
    HealthCheck *checks = calloc(r->n_answers + 1, sizeof(*checks));
    HealthCheck **check_ptrs = calloc(r->n_answers + 1, sizeof(*check_ptrs));
    char **missing = calloc(r->n_missing + 1, sizeof(*missing));

    out.answered = calloc(r->n_answers + 1, sizeof(*out.answered));
    if (!nh || !failed || !checks || !check_ptrs || !missing || !out.answered) {
        fail_oom(hc->call);
        goto out;
    }
    if (r->n_answers)
        qsort(r->answers, r->n_answers, sizeof(*r->answers), answer_cmp);
    for (size_t i = 0; i < r->n_answers; i++) {
        berth_survey_answer *a = &r->answers[i];

        node_health_init(&nh[i]);
        nh[i].node = a->from.name;
        nh[i].latency_ms = (uint32_t)(a->latency_ns / BERTH_NSEC_PER_MSEC);
        if (a->code == CODE_OK && a->response) {
            nh[i].report = (HealthReport *)a->response;
        } else {
            /* it answered, with an error: unhealthy, and why */
            health_report_init(&failed[i]);
            health_check_init(&checks[i]);
            failed[i].node = a->from.name;
            checks[i].name = "health";
            checks[i].message = a->message ? a->message : "no report";
            check_ptrs[i] = &checks[i];
            failed[i].checks = &check_ptrs[i];
            failed[i].n_checks = 1;
            nh[i].report = &failed[i];
        }
        out.answered[out.n_answered++] = &nh[i];
    }
    for (size_t i = 0; i < r->n_missing; i++)
        missing[out.n_missing++] = r->missing[i].name;
    out.missing = missing;
    out.timeout_ms = hc->timeout_ms;
    hc->closure(&out, hc->call);
out:
    free(nh);
    free(failed);
    free(checks);
    free(check_ptrs);
    free(missing);
    free(out.answered);
    free(hc);
}

static void h_fleet_health(Controller_Service *svc, const FleetHealthRequest *in,
                           FleetHealthResponse_Closure closure, void *data)
{
    controller *c = ctl_of(svc);
    HealthRequest q = HEALTH_REQUEST_INIT;
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_free_ berth_principal *expected = NULL;
    health_call *hc;
    size_t n = 0;

    NEED_OPERATOR(data);
    hc = calloc(1, sizeof(*hc));
    expected = calloc(c->n_nodes + 1, sizeof(*expected));
    if (!hc || !expected) {
        free(hc);
        fail_oom(data);
        return;
    }
    hc->call = data;
    hc->closure = closure;
    hc->timeout_ms = in->timeout_ms ? in->timeout_ms : HEALTH_TIMEOUT_MS;
    if (hc->timeout_ms > HEALTH_TIMEOUT_MAX)
        hc->timeout_ms = HEALTH_TIMEOUT_MAX;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (ctl_node_registered(c->nodes[i]))
            expected[n++] = c->nodes[i]->who;
    if (berth_surveyor_ask(c->surveyor, &agent_descriptor, "Health", &q.base, hc->timeout_ms,
                           expected, n, health_done, hc, &err) < 0) {
        free(hc);
        fail_err(data, err);
    }
}

/* ---- logs and stop: relayed to the node's Agent service ---- */

typedef struct relay {
    controller *c;
    berth_rpc_call *call;
    /* the incoming call's closure, as protobuf-c itself keeps them */
    ProtobufCClosure closure;
    char node[BERTH_NAME_MAX + 1];
    char stopped[BERTH_ID_BUF]; /* Stop: the container, for the event */
} relay;

static void relay_done(berth_rpc_result *r, void *data)
{
    relay *rl = data;

    if (r->code == CODE_OK && *rl->stopped)
        ctl_event(rl->c, "Node", rl->node, "Normal", "Stopped", "%s stopped by operator %s",
                  rl->stopped, berth_rpc_call_peer(rl->call)->name);
    if (r->code == CODE_OK)
        rl->closure(r->response, rl->call);
    else
        berth_rpc_call_fail(rl->call, r->code, "node %s: %s", rl->node,
                            r->message ? r->message : berth_rpc_code_name(r->code));
    free(rl);
}

/* The node running container id (named or found); NULL after failing the
 * call. */
static ctl_node *container_node(controller *c, berth_rpc_call *call, const char *id,
                                const char *node)
{
    ctl_node *found = NULL;

    if (!berth_spec_id_valid(id) || (*node && !ctl_node_find(c, node))) {
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "container %.63s not found%s%.63s", id,
                            *node ? " on " : "", node);
        return NULL;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        if (*node && strcmp(node, n->rec.name) != 0)
            continue;
        if (!ctl_assign_find(n, id) && !ctl_status_find(n, id))
            continue;
        if (found) {
            berth_rpc_call_fail(call, CODE_FAILED_PRECONDITION,
                                "container %s is on %s and %s: name the node", id, found->rec.name,
                                n->rec.name);
            return NULL;
        }
        found = n;
    }
    if (!found)
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "container %.63s not found%s%.63s", id,
                            *node ? " on " : "", node);
    return found;
}

static berth_rpc_client *agent_client(controller *c, ctl_node *n, berth_error **err)
{
    const char *addr = n->rec.info->agent_address;
    berth_rpc_client_config cc = {
        .loop = c->loop, .auth = c->auth, .address = addr, .server = n->who, .max_inflight = 4
    };

    if (n->agent)
        return n->agent;
    if (berth_rpc_client_new(&cc, &n->agent, err) < 0)
        return NULL;
    free(n->agent_client_addr);
    n->agent_client_addr = strdup(addr);
    return n->agent;
}

/* Call Agent/method with request on the node running container id (or
 * the one named), and answer the incoming call with what it answers. The
 * relayed call gets what is left of the incoming call's deadline. */
static void relay_call(controller *c, berth_rpc_call *call, const char *id, const char *node,
                       const char *method, const ProtobufCMessage *request,
                       ProtobufCClosure closure)
{
    _cleanup_error_ berth_error *err = NULL;
    int64_t deadline = berth_rpc_call_deadline(call), left;
    uint32_t timeout = RELAY_TIMEOUT_MS;
    berth_rpc_client *client;
    relay *rl;
    ctl_node *n;

    if (!(n = container_node(c, call, id, node)))
        return;
    if (!n->rec.info || !*n->rec.info->agent_address) {
        berth_rpc_call_fail(call, CODE_UNAVAILABLE,
                            "node %s serves no Agent endpoint (its agent_address is empty)",
                            n->rec.name);
        return;
    }
    if (!(client = agent_client(c, n, &err))) {
        fail_err(call, err);
        return;
    }
    if (deadline != INT64_MAX) {
        left = (deadline - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC - RELAY_MARGIN_MS;
        timeout = left < 100 ? 100 : left > RELAY_TIMEOUT_MS ? RELAY_TIMEOUT_MS : (uint32_t)left;
    }
    if (!(rl = calloc(1, sizeof(*rl)))) {
        fail_oom(call);
        return;
    }
    rl->c = c;
    rl->call = call;
    rl->closure = closure;
    snprintf(rl->node, sizeof(rl->node), "%s", n->rec.name);
    if (strcmp(method, "Stop") == 0)
        snprintf(rl->stopped, sizeof(rl->stopped), "%s", id);
    if (berth_rpc_client_call(client, &agent_descriptor, method, request, timeout, relay_done, rl,
                              &err) < 0) {
        free(rl);
        fail_err(call, err);
    }
}

static void h_logs(Controller_Service *svc, const LogsRequest *in, LogsResponse_Closure closure,
                   void *data)
{
    LogsRequest q;

    NEED_OPERATOR(data);
    q = *in;
    q.node = (char *)protobuf_c_empty_string; /* the agent ignores it */
    relay_call(ctl_of(svc), data, in->container_id, in->node, "Logs", &q.base,
               (ProtobufCClosure)closure);
}

static void h_stop_container(Controller_Service *svc, const StopContainerRequest *in,
                             StopResponse_Closure closure, void *data)
{
    StopRequest q = STOP_REQUEST_INIT;

    NEED_OPERATOR(data);
    q.container_id = in->container_id;
    q.grace_period_ms = in->grace_period_ms;
    relay_call(ctl_of(svc), data, in->container_id, in->node, "Stop", &q.base,
               (ProtobufCClosure)closure);
}

void ctl_operator_service_init(controller *c)
{
    c->svc.apply = h_apply;
    c->svc.delete = h_delete;
    c->svc.list_nodes = h_list_nodes;
    c->svc.get_node = h_get_node;
    c->svc.approve_node = h_approve_node;
    c->svc.create_join_token = h_create_join_token;
    c->svc.list_workloads = h_list_workloads;
    c->svc.get_workload = h_get_workload;
    c->svc.list_containers = h_list_containers;
    c->svc.get_container = h_get_container;
    c->svc.fleet_health = h_fleet_health;
    c->svc.logs = h_logs;
    c->svc.cordon_node = h_cordon_node;
    c->svc.drain_node = h_drain_node;
    c->svc.list_events = h_list_events;
    c->svc.top = h_top;
    c->svc.stop_container = h_stop_container;
}
