/* The controller: its state directory, the fleet in memory and in the
 * store, leases, placement carried out, statuses and metrics. The service
 * handlers live in agent.c and operator.c. */
#include "controller.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "controller-internal.h"
#include "rpc/envelope.h"
#include "protocol/digest.h"
#include "protocol/retry.h"
#include "protocol/wakeup.h"

#define FLUSH_DELAY_NS (200 * BERTH_NSEC_PER_MSEC)

/* ---- lookups ---- */

ctl_node *ctl_node_find(controller *c, const char *name)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i]->rec.name, name) == 0)
            return c->nodes[i];
    return NULL;
}

ctl_node *ctl_node_by_id(controller *c, const uint8_t id[BERTH_ID_LEN])
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (berth_id_eq(c->nodes[i]->who.id, id))
            return c->nodes[i];
    return NULL;
}

ctl_workload *ctl_workload_find(controller *c, const char *name)
{
    for (size_t i = 0; i < c->n_workloads; i++)
        if (strcmp(c->workloads[i].w->name, name) == 0)
            return &c->workloads[i];
    return NULL;
}

bool ctl_node_registered(const ctl_node *n)
{
    return n->rec.registered_ns != 0 && n->rec.info != NULL;
}

static ctl_assign *assign_in(ctl_assign *arr, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].id, id) == 0)
            return &arr[i];
    return NULL;
}

ctl_assign *ctl_assign_find(ctl_node *n, const char *id)
{
    return assign_in(n->assign, n->n_assign, id);
}

bool ctl_need_role(berth_rpc_call *call, berth_role role)
{
    const berth_principal *peer = berth_rpc_call_peer(call);

    if (peer->role == role)
        return true;
    berth_rpc_call_fail(call, CODE_PERMISSION_DENIED, "%s %s may not call %s",
                        berth_role_name(peer->role), peer->name, berth_rpc_call_method(call));
    return false;
}

/* ---- events ---- */

void ctl_event(controller *c, const char *kind, const char *name, const char *type,
               const char *reason, const char *fmt, ...)
{
    Event e = EVENT_INIT;
    _cleanup_error_ berth_error *err = NULL;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    e.time_unix_ns = berth_now_real_ns();
    e.object_kind = (char *)kind;
    e.object_name = (char *)name;
    e.type = (char *)type;
    e.reason = (char *)reason;
    e.message = msg;
    berth_log(strcmp(type, "Warning") == 0 ? BERTH_LOG_WARN : BERTH_LOG_INFO, "%s %s: %s: %s", kind,
              name, reason, msg);
    if (berth_store_event_add(c->store, &e, &err) < 0)
        berth_log_error(BERTH_LOG_WARN, err, "record event");
}

static void sample_free(ctl_sample *s)
{
    berth_pb_free(&s->last->base);
    if (s->prev)
        berth_pb_free(&s->prev->base);
}

/* ---- nodes ---- */

static void node_free(ctl_node *n)
{
    if (!n)
        return;
    berth_loop_timer_cancel(n->ctl->loop, &n->lease);
    node_info_free_unpacked(n->rec.info, NULL);
    free(n->assign);
    for (size_t i = 0; i < n->n_status; i++)
        container_status_free_unpacked(n->status[i], NULL);
    free(n->status);
    for (size_t i = 0; i < n->n_samples; i++)
        sample_free(&n->samples[i]);
    free(n->samples);
    berth_rpc_client_free(n->agent);
    free(n->agent_client_addr);
    free(n);
}

static void on_lease(berth_loop_timer *t);

/* Take rec (and its info) into a memory node, replacing or inserting. */
static ctl_node *node_take(controller *c, berth_store_node *rec, berth_error **err)
{
    ctl_node *n = ctl_node_find(c, rec->name), **grown;
    size_t at;

    if (n) {
        node_info_free_unpacked(n->rec.info, NULL);
        n->rec = *rec;
        return n;
    }
    n = calloc(1, sizeof(*n));
    grown = n ? realloc(c->nodes, (c->n_nodes + 1) * sizeof(*grown)) : NULL;
    if (!grown) {
        free(n);
        node_info_free_unpacked(rec->info, NULL);
        berth_error_make(err, ENOMEM, "node %s", rec->name);
        return NULL;
    }
    c->nodes = grown;
    n->ctl = c;
    n->rec = *rec;
    if (berth_principal_init(&n->who, BERTH_ROLE_NODE, rec->name, err) < 0) {
        node_info_free_unpacked(rec->info, NULL);
        free(n);
        return NULL;
    }
    berth_loop_timer_init(&n->lease, on_lease);
    /* keep the array sorted by name */
    for (at = 0; at < c->n_nodes && strcmp(c->nodes[at]->rec.name, rec->name) < 0; at++)
        ;
    memmove(&c->nodes[at + 1], &c->nodes[at], (c->n_nodes - at) * sizeof(*c->nodes));
    c->nodes[at] = n;
    c->n_nodes++;
    return n;
}

int ctl_node_reload(controller *c, const char *name, berth_error **err)
{
    berth_store_node rec;
    int found = berth_store_node_get(c->store, name, &rec, err);

    if (found < 0)
        return -1;
    if (found == 0)
        return berth_error_set(err, ENOENT, "node %s is not in the store", name);
    return node_take(c, &rec, err) ? 0 : -1;
}

int ctl_node_forget(controller *c, ctl_node *n, berth_error **err)
{
    size_t i;

    if (berth_store_begin(c->store, err) < 0)
        return -1;
    if (berth_store_node_delete(c->store, n->rec.name, err) < 0) {
        berth_store_rollback(c->store);
        return -1;
    }
    ctl_event(c, "Node", n->rec.name, "Normal", "Deleted", "forgotten with its key");
    if (berth_store_commit(c->store, err) < 0)
        return -1;
    for (i = 0; i < c->n_nodes && c->nodes[i] != n; i++)
        ;
    memmove(&c->nodes[i], &c->nodes[i + 1], (c->n_nodes - i - 1) * sizeof(*c->nodes));
    c->n_nodes--;
    node_free(n);
    return 0;
}

int ctl_node_save(controller *c, ctl_node *n, berth_error **err)
{
    return berth_store_node_put(c->store, &n->rec, err);
}

static const char *phase_name(NodePhase p)
{
    switch (p) {
    case NODE_READY:
        return "Ready";
    case NODE_UNKNOWN:
        return "Unknown";
    case NODE_DOWN:
        return "Down";
    case NODE_PENDING_APPROVAL:
        return "PendingApproval";
    default:
        return "Unspecified";
    }
}

int ctl_node_set_phase(controller *c, ctl_node *n, NodePhase phase, const char *reason,
                       berth_error **err)
{
    berth_store_node saved = n->rec;
    char event_reason[32];

    n->rec.phase = phase;
    n->rec.phase_since_ns = berth_now_real_ns();
    /* figures from a node that stopped reporting are not its current ones */
    if (phase != NODE_READY)
        ctl_samples_clear(n);
    snprintf(n->rec.reason, sizeof(n->rec.reason), "%s", reason);
    if (berth_store_begin(c->store, err) < 0)
        goto fail;
    if (ctl_node_save(c, n, err) < 0) {
        berth_store_rollback(c->store);
        goto fail;
    }
    snprintf(event_reason, sizeof(event_reason), "Node%s", phase_name(phase));
    ctl_event(c, "Node", n->rec.name, phase == NODE_READY ? "Normal" : "Warning", event_reason,
              "%s", *reason ? reason : phase_name(phase));
    if (berth_store_commit(c->store, err) < 0)
        goto fail;
    return 0;
fail:
    n->rec = saved;
    return -1;
}

/* ---- leases ---- */

uint32_t ctl_heartbeat_interval_ms(controller *c)
{
    uint64_t registered = 0, min_ms = (uint64_t)(c->cfg->heartbeat_min_ns / BERTH_NSEC_PER_MSEC);
    uint64_t ms;

    for (size_t i = 0; i < c->n_nodes; i++)
        registered += ctl_node_registered(c->nodes[i]);
    /* Nomad's rule: the whole fleet stays under max_rate heartbeats per
     * second, and nobody beats faster than the minimum interval. */
    ms = (registered * 1000 + c->cfg->heartbeat_max_rate - 1) / c->cfg->heartbeat_max_rate;
    if (ms < min_ms)
        ms = min_ms;
    return ms > UINT32_MAX / 128 ? UINT32_MAX / 128 : (uint32_t)ms;
}

static int64_t lease_ns(controller *c)
{
    return (int64_t)ctl_heartbeat_interval_ms(c) * BERTH_NSEC_PER_MSEC * c->cfg->heartbeat_misses;
}

void ctl_lease_renew(controller *c, ctl_node *n)
{
    /* Timer arming fails only on ENOMEM; the node then simply stays in
     * its phase until the next heartbeat re-arms it. */
    berth_loop_timer_arm(c->loop, &n->lease, berth_now_mono_ns() + lease_ns(c), NULL);
}

static void on_lease(berth_loop_timer *t)
{
    ctl_node *n = berth_container_of(t, ctl_node, lease);
    controller *c = n->ctl;
    _cleanup_error_ berth_error *err = NULL;
    char since[32], reason[96];

    if (n->rec.last_heartbeat_ns) {
        int64_t d = berth_now_real_ns() - n->rec.last_heartbeat_ns;

        /* "300ms", "45s": precision a human can use */
        d = d < 10 * BERTH_NSEC_PER_SEC ? d / BERTH_NSEC_PER_MSEC * BERTH_NSEC_PER_MSEC
                                        : d / BERTH_NSEC_PER_SEC * BERTH_NSEC_PER_SEC;
        berth_format_duration(d, since, sizeof(since));
        snprintf(reason, sizeof(reason), "no heartbeat for %s", since);
    } else {
        snprintf(reason, sizeof(reason), "no heartbeat since the controller started");
    }
    if (n->rec.phase == NODE_READY) {
        if (ctl_node_set_phase(c, n, NODE_UNKNOWN, reason, &err) < 0)
            berth_log_error(BERTH_LOG_ERROR, err, "node %s", n->rec.name);
        berth_loop_timer_arm(c->loop, &n->lease, berth_now_mono_ns() + c->cfg->down_grace_ns, NULL);
        /* nothing moves yet: its containers may well run behind a network
         * problem */
        return;
    }
    if (n->rec.phase != NODE_UNKNOWN)
        return;
    if (ctl_node_set_phase(c, n, NODE_DOWN, reason, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "node %s", n->rec.name);
        return;
    }
    if (ctl_reconcile(c, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "reschedule after node %s went down", n->rec.name);
}

/* ---- specs ---- */

ContainerSpec *ctl_assign_spec(controller *c, ctl_node *n, const ctl_assign *a, berth_error **err)
{
    ctl_workload *wl = ctl_workload_find(c, a->workload);
    ContainerSpec *spec = NULL;
    char replica[BERTH_ID_BUF];

    if (!wl) {
        berth_error_set(err, ENOENT, "workload %s of %s is gone", a->workload, a->id);
        return NULL;
    }
    if (wl->w->kind == WORKLOAD_DAEMONSET)
        snprintf(replica, sizeof(replica), "%s", n->rec.name);
    else
        snprintf(replica, sizeof(replica), "%" PRIu32, a->replica);
    if (berth_replica_spec(wl->w, a->id, replica, &spec, err) < 0)
        return NULL;
    return spec;
}

void ctl_node_allocated(controller *c, ctl_node *n, int64_t *ret_cpu, int64_t *ret_memory)
{
    int64_t cpu = 0, mem = 0;

    for (size_t i = 0; i < n->n_assign; i++) {
        ctl_workload *wl = ctl_workload_find(c, n->assign[i].workload);
        const Resources *r = wl ? wl->w->template_->resources : NULL;

        if (r) {
            cpu += r->cpu_request_millis;
            mem += r->memory_request_bytes;
        }
    }
    *ret_cpu = cpu;
    *ret_memory = mem;
}

/* ---- placement, carried out ---- */

typedef struct place_scratch {
    berth_place_node *nodes;
    berth_label **node_labels;
    berth_place_workload *workloads;
    berth_label **selectors;
    berth_place_slot *current;
    size_t n_current;
} place_scratch;

static void scratch_free(place_scratch *s, size_t n_nodes, size_t n_workloads)
{
    for (size_t i = 0; s->node_labels && i < n_nodes; i++)
        free(s->node_labels[i]);
    for (size_t i = 0; s->selectors && i < n_workloads; i++)
        free(s->selectors[i]);
    free(s->nodes);
    free(s->node_labels);
    free(s->workloads);
    free(s->selectors);
    free(s->current);
}

static berth_place_state place_state(const ctl_node *n)
{
    if (!ctl_node_registered(n))
        return BERTH_PLACE_UNREGISTERED;
    switch (n->rec.phase) {
    case NODE_READY:
        return BERTH_PLACE_READY;
    case NODE_DOWN:
        return BERTH_PLACE_DOWN;
    case NODE_PENDING_APPROVAL:
        return BERTH_PLACE_UNREGISTERED;
    default:
        return BERTH_PLACE_UNKNOWN;
    }
}

static size_t workload_index(controller *c, const char *name)
{
    for (size_t i = 0; i < c->n_workloads; i++)
        if (strcmp(c->workloads[i].w->name, name) == 0)
            return i;
    return SIZE_MAX;
}

static int scratch_build(controller *c, place_scratch *s)
{
    size_t total = 0;

    s->nodes = calloc(c->n_nodes + 1, sizeof(*s->nodes));
    s->node_labels = calloc(c->n_nodes + 1, sizeof(*s->node_labels));
    s->workloads = calloc(c->n_workloads + 1, sizeof(*s->workloads));
    s->selectors = calloc(c->n_workloads + 1, sizeof(*s->selectors));
    for (size_t i = 0; i < c->n_nodes; i++)
        total += c->nodes[i]->n_assign;
    s->current = calloc(total + 1, sizeof(*s->current));
    if (!s->nodes || !s->node_labels || !s->workloads || !s->selectors || !s->current)
        return -1;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const ctl_node *n = c->nodes[i];
        const NodeInfo *info = n->rec.info;
        berth_place_node *pn = &s->nodes[i];

        pn->name = n->rec.name;
        pn->state = place_state(n);
        pn->cordoned = n->rec.cordoned;
        pn->drained = n->rec.drained;
        if (info && info->capacity) {
            pn->cpu_millis = info->capacity->cpu_millis;
            pn->memory_bytes = info->capacity->memory_bytes;
            pn->max_containers = info->capacity->max_containers;
        }
        if (info && info->n_labels) {
            if (!(s->node_labels[i] = calloc(info->n_labels, sizeof(berth_label))))
                return -1;
            for (size_t l = 0; l < info->n_labels; l++)
                s->node_labels[i][l] =
                    (berth_label){ info->labels[l]->key, info->labels[l]->value };
            pn->labels = s->node_labels[i];
            pn->n_labels = info->n_labels;
        }
        for (size_t a = 0; a < n->n_assign; a++) {
            size_t w = workload_index(c, n->assign[a].workload);

            if (w == SIZE_MAX)
                continue; /* deleted: dropped */
            s->current[s->n_current++] = (berth_place_slot){
                w, i, c->workloads[w].w->kind == WORKLOAD_DAEMONSET ? 0 : n->assign[a].replica
            };
        }
    }
    for (size_t i = 0; i < c->n_workloads; i++) {
        const Workload *w = c->workloads[i].w;
        const Resources *r = w->template_ ? w->template_->resources : NULL;
        berth_place_workload *pw = &s->workloads[i];

        pw->name = w->name;
        pw->kind = w->kind;
        pw->replicas = w->replicas;
        pw->cpu_millis = r ? r->cpu_request_millis : 0;
        pw->memory_bytes = r ? r->memory_request_bytes : 0;
        if (w->n_node_selector) {
            if (!(s->selectors[i] = calloc(w->n_node_selector, sizeof(berth_label))))
                return -1;
            for (size_t l = 0; l < w->n_node_selector; l++)
                s->selectors[i][l] =
                    (berth_label){ w->node_selector[l]->key, w->node_selector[l]->value };
            pw->selector = s->selectors[i];
            pw->n_selector = w->n_node_selector;
        }
    }
    return 0;
}

static int assign_cmp(const void *a, const void *b)
{
    return strcmp(((const ctl_assign *)a)->id, ((const ctl_assign *)b)->id);
}

/* The new desired set of one node, from the placement. */
typedef struct node_plan {
    ctl_assign *assign;
    size_t n_assign, cap;
    bool changed;
} node_plan;

/* Why replicas left a node, for the event. */
static const char *leave_reason(controller *c, const ctl_node *n, const ctl_assign *a)
{
    ctl_workload *wl = ctl_workload_find(c, a->workload);

    if (!wl)
        return "workload deleted";
    if (n->rec.phase == NODE_DOWN)
        return "node is Down";
    if (n->rec.drained)
        return "node drained";
    if (wl->w->kind != WORKLOAD_DAEMONSET && a->replica >= wl->w->replicas)
        return "scaled down";
    return "no longer fits the node";
}

/* Events: per node, which replicas came and went. */
static void plan_events(controller *c, ctl_node *n, const node_plan *p)
{
    char added[400] = "", removed[400] = "";
    const char *why = NULL;
    size_t la = 0, lr = 0;

    for (size_t i = 0; i < p->n_assign; i++)
        if (p->assign[i].spec_generation == n->rec.generation && la < sizeof(added))
            la += (size_t)snprintf(added + la, sizeof(added) - la, "%s%s", la ? " " : "",
                                   p->assign[i].id);
    for (size_t i = 0; i < n->n_assign; i++) {
        bool kept = false;

        for (size_t j = 0; j < p->n_assign && !kept; j++)
            kept = strcmp(p->assign[j].id, n->assign[i].id) == 0;
        if (kept || lr >= sizeof(removed))
            continue;
        if (!why)
            why = leave_reason(c, n, &n->assign[i]);
        lr += (size_t)snprintf(removed + lr, sizeof(removed) - lr, "%s%s", lr ? " " : "",
                               n->assign[i].id);
    }
    if (la)
        ctl_event(c, "Node", n->rec.name, "Normal", "Scheduled",
                  "%s assigned (generation %" PRIu64 ")", added, n->rec.generation);
    if (lr)
        ctl_event(c, "Node", n->rec.name, "Normal", "Unassigned",
                  "%s taken off: %s (generation %" PRIu64 ")", removed, why, n->rec.generation);
}

static int plans_build(controller *c, const berth_place_result *r, node_plan *plans)
{
    for (size_t i = 0; i < r->n_slots; i++) {
        const berth_place_slot *s = &r->slots[i];
        const Workload *w = c->workloads[s->workload].w;
        node_plan *p = &plans[s->node];
        ctl_assign *a;

        if (p->n_assign == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 8;
            ctl_assign *grown = realloc(p->assign, cap * sizeof(*grown));

            if (!grown)
                return -1;
            p->assign = grown;
            p->cap = cap;
        }
        a = &p->assign[p->n_assign++];
        memset(a, 0, sizeof(*a));
        berth_replica_id(w->name, w->kind, s->replica, c->nodes[s->node]->rec.name, a->id);
        snprintf(a->workload, sizeof(a->workload), "%s", w->name);
        a->replica = s->replica;
        a->workload_generation = w->generation;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];
        node_plan *p = &plans[i];

        if (p->n_assign)
            qsort(p->assign, p->n_assign, sizeof(*p->assign), assign_cmp);
        p->changed = p->n_assign != n->n_assign;
        for (size_t j = 0; j < p->n_assign; j++) {
            ctl_assign *old = ctl_assign_find(n, p->assign[j].id);

            /* spec_generation 0: new here, or a new spec (the workload
             * changed): given the node's next generation when saved */
            if (old && old->workload_generation == p->assign[j].workload_generation)
                p->assign[j].spec_generation = old->spec_generation;
            else
                p->changed = true;
        }
    }
    return 0;
}

/* Persist the changed nodes' plans: assignments and new generations. */
static int plans_save(controller *c, node_plan *plans, berth_error **err)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];
        node_plan *p = &plans[i];
        uint64_t gen = n->rec.generation + 1;

        if (!p->changed)
            continue;
        for (size_t j = 0; j < n->n_assign; j++)
            if (!assign_in(p->assign, p->n_assign, n->assign[j].id) &&
                berth_store_assignment_delete(c->store, n->rec.name, n->assign[j].id, err) < 0)
                return -1;
        for (size_t j = 0; j < p->n_assign; j++) {
            ctl_assign *a = &p->assign[j];
            berth_store_assignment sa;

            if (a->spec_generation)
                continue; /* unchanged, stored already */
            a->spec_generation = gen;
            sa = (berth_store_assignment){ n->rec.name, a->id, a->workload,
                                           a->replica,  gen,   a->workload_generation };
            if (berth_store_assignment_put(c->store, &sa, err) < 0)
                return -1;
        }
        n->rec.generation = gen;
        if (ctl_node_save(c, n, err) < 0) {
            n->rec.generation = gen - 1;
            return -1;
        }
        plan_events(c, n, p);
    }
    return 0;
}

static void publish_wake(controller *c, const uint8_t *to, const WakeUp *w)
{
    _cleanup_error_ berth_error *err = NULL;

    /* PUB never blocks and may drop: the next heartbeat heals that. */
    if (berth_events_publish(c->pub, to, &w->base, &err) < 0)
        berth_log_error(BERTH_LOG_DEBUG, err, "wake-up");
}

static bool to_wake(controller *c, const node_plan *plans, size_t i)
{
    return plans[i].changed && ctl_node_registered(c->nodes[i]);
}

/* Tell the registered nodes whose plan changed: one node by a wake-up to
 * it, several by one to every node listing them (events.proto). */
static void wake_changed(controller *c, const node_plan *plans)
{
    WakeUp w = WAKE_UP_INIT;
    NodeGeneration *gens = NULL, **ptrs = NULL;
    ctl_node *one = NULL;
    size_t woken = 0;

    for (size_t i = 0; i < c->n_nodes; i++)
        if (to_wake(c, plans, i)) {
            woken++;
            one = c->nodes[i];
        }
    if (woken == 1) {
        w.generation = one->rec.generation;
        publish_wake(c, one->who.id, &w);
        return;
    }
    if (woken == 0)
        return;
    /* Several: one wake-up to every node lists them (see events.proto).
     * Without the memory for the list, wake them one by one. */
    gens = calloc(BERTH_WAKEUP_NODES_MAX, sizeof(*gens));
    ptrs = calloc(BERTH_WAKEUP_NODES_MAX, sizeof(*ptrs));
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        if (!to_wake(c, plans, i))
            continue;
        if (!gens || !ptrs) {
            w.generation = n->rec.generation;
            publish_wake(c, n->who.id, &w);
            continue;
        }
        node_generation_init(&gens[w.n_nodes]);
        gens[w.n_nodes].node_id.data = n->who.id;
        gens[w.n_nodes].node_id.len = sizeof(n->who.id);
        gens[w.n_nodes].generation = n->rec.generation;
        ptrs[w.n_nodes] = &gens[w.n_nodes];
        w.nodes = ptrs;
        if (++w.n_nodes == BERTH_WAKEUP_NODES_MAX) {
            publish_wake(c, berth_id_broadcast, &w);
            w.n_nodes = 0;
        }
    }
    if (w.n_nodes)
        publish_wake(c, berth_id_broadcast, &w);
    free(gens);
    free(ptrs);
}

int ctl_reconcile(controller *c, berth_error **err)
{
    place_scratch s = { 0 };
    berth_place_result r = { 0 };
    node_plan *plans = NULL;
    uint64_t *old_gen = NULL;
    int ret = -1;

    plans = calloc(c->n_nodes + 1, sizeof(*plans));
    old_gen = calloc(c->n_nodes + 1, sizeof(*old_gen));
    if (!plans || !old_gen || scratch_build(c, &s) < 0) {
        berth_error_make(err, ENOMEM, "placement");
        goto out;
    }
    {
        berth_place_input in = { s.nodes,        c->n_nodes, s.workloads,
                                 c->n_workloads, s.current,  s.n_current };

        berth_place(&in, &r);
    }
    if (plans_build(c, &r, plans) < 0) {
        berth_error_make(err, ENOMEM, "placement");
        goto out;
    }
    for (size_t i = 0; i < c->n_nodes; i++)
        old_gen[i] = c->nodes[i]->rec.generation;
    if (berth_store_begin(c->store, err) < 0)
        goto out;
    if (plans_save(c, plans, err) < 0) {
        berth_store_rollback(c->store);
        goto restore;
    }
    for (size_t w = 0; w < c->n_workloads; w++) {
        ctl_workload *wl = &c->workloads[w];

        if (r.status[w].unschedulable && strcmp(r.status[w].message, wl->place.message) != 0)
            ctl_event(c, "Workload", wl->w->name, "Warning", "Unschedulable",
                      "%u of %u replicas: %s", r.status[w].unschedulable, r.status[w].desired,
                      r.status[w].message);
    }
    if (berth_store_commit(c->store, err) < 0)
        goto restore;
    /* Committed: now memory follows, then the nodes are told. */
    for (size_t w = 0; w < c->n_workloads; w++)
        c->workloads[w].place = r.status[w];
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        if (!plans[i].changed)
            continue;
        free(n->assign);
        n->assign = plans[i].assign;
        n->n_assign = plans[i].n_assign;
        plans[i].assign = NULL;
    }
    wake_changed(c, plans);
    ret = 0;
    goto out;
restore:
    for (size_t i = 0; i < c->n_nodes; i++)
        c->nodes[i]->rec.generation = old_gen[i];
out:
    for (size_t i = 0; plans && i < c->n_nodes; i++)
        free(plans[i].assign);
    free(plans);
    free(old_gen);
    berth_place_result_clear(&r);
    scratch_free(&s, c->n_nodes, c->n_workloads);
    return ret;
}

/* ---- statuses ---- */

static size_t status_pos(ctl_node *n, const char *id, bool *found)
{
    size_t lo = 0, hi = n->n_status;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(n->status[mid]->id, id);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

ContainerStatus *ctl_status_find(ctl_node *n, const char *id)
{
    bool found;
    size_t at = status_pos(n, id, &found);

    return found ? n->status[at] : NULL;
}

static void flush_soon(controller *c, ctl_node *n)
{
    n->status_dirty = true;
    n->digest_valid = false;
    if (!berth_loop_timer_armed(&c->flush_timer))
        berth_loop_timer_arm(c->loop, &c->flush_timer, berth_now_mono_ns() + FLUSH_DELAY_NS, NULL);
}

void ctl_status_put(controller *c, ctl_node *n, ContainerStatus *s)
{
    bool found;
    size_t at = status_pos(n, s->id, &found);

    if (found) {
        container_status_free_unpacked(n->status[at], NULL);
        n->status[at] = s;
    } else {
        ContainerStatus **grown;

        if (n->n_status >= CTL_STATUSES_MAX ||
            !(grown = realloc(n->status, (n->n_status + 1) * sizeof(*grown)))) {
            container_status_free_unpacked(s, NULL);
            return;
        }
        n->status = grown;
        memmove(&n->status[at + 1], &n->status[at], (n->n_status - at) * sizeof(*n->status));
        n->status[at] = s;
        n->n_status++;
    }
    flush_soon(c, n);
}

void ctl_status_remove(controller *c, ctl_node *n, const char *id)
{
    bool found;
    size_t at = status_pos(n, id, &found);

    if (!found)
        return;
    container_status_free_unpacked(n->status[at], NULL);
    memmove(&n->status[at], &n->status[at + 1], (n->n_status - at - 1) * sizeof(*n->status));
    n->n_status--;
    flush_soon(c, n);
}

static int status_cmp(const void *a, const void *b)
{
    return strcmp((*(ContainerStatus *const *)a)->id, (*(ContainerStatus *const *)b)->id);
}

void ctl_status_replace(controller *c, ctl_node *n, ContainerStatus **s, size_t count)
{
    for (size_t i = 0; i < n->n_status; i++)
        container_status_free_unpacked(n->status[i], NULL);
    free(n->status);
    qsort(s, count, sizeof(*s), status_cmp);
    n->status = s;
    n->n_status = count;
    flush_soon(c, n);
}

uint64_t ctl_status_digest(ctl_node *n)
{
    if (!n->digest_valid) {
        n->digest = berth_status_digest((const ContainerStatus *const *)n->status, n->n_status);
        n->digest_valid = true;
    }
    return n->digest;
}

void ctl_status_flush(controller *c)
{
    _cleanup_error_ berth_error *err = NULL;

    berth_loop_timer_cancel(c->loop, &c->flush_timer);
    if (berth_store_begin(c->store, &err) < 0)
        goto fail;
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        if (n->status_dirty &&
            berth_store_statuses_replace(c->store, n->rec.name, n->status, n->n_status, &err) < 0) {
            berth_store_rollback(c->store);
            goto fail;
        }
    }
    if (berth_store_commit(c->store, &err) < 0)
        goto fail;
    for (size_t i = 0; i < c->n_nodes; i++)
        c->nodes[i]->status_dirty = false;
    return;
fail:
    /* Statuses are observations: the next full report brings them back. */
    berth_log_error(BERTH_LOG_WARN, err, "write container statuses");
}

static void on_flush(berth_loop_timer *t)
{
    ctl_status_flush(berth_container_of(t, controller, flush_timer));
}

/* ---- metrics ---- */

void ctl_samples_clear(ctl_node *n)
{
    for (size_t i = 0; i < n->n_samples; i++)
        sample_free(&n->samples[i]);
    n->n_samples = 0;
}

void ctl_samples_begin(ctl_node *n)
{
    for (size_t i = 0; i < n->n_samples; i++)
        n->samples[i].in_round = false;
}

void ctl_samples_end(ctl_node *n)
{
    size_t kept = 0;

    for (size_t i = 0; i < n->n_samples; i++) {
        if (!n->samples[i].in_round)
            sample_free(&n->samples[i]);
        else
            n->samples[kept++] = n->samples[i];
    }
    n->n_samples = kept;
}

void ctl_sample_put(ctl_node *n, MetricsSample *s)
{
    ctl_sample *cs = NULL, *grown;

    for (size_t i = 0; i < n->n_samples && !cs; i++)
        if (strcmp(n->samples[i].id, s->container_id) == 0)
            cs = &n->samples[i];
    if (!cs) {
        if (n->n_samples >= CTL_SAMPLES_MAX || strlen(s->container_id) >= BERTH_ID_BUF ||
            !(grown = realloc(n->samples, (n->n_samples + 1) * sizeof(*grown)))) {
            berth_pb_free(&s->base);
            return;
        }
        n->samples = grown;
        cs = &n->samples[n->n_samples++];
        memset(cs, 0, sizeof(*cs));
        snprintf(cs->id, sizeof(cs->id), "%s", s->container_id);
    }
    if (cs->prev)
        berth_pb_free(&cs->prev->base);
    cs->prev = cs->last;
    cs->last = s;
    cs->in_round = true;
}

int64_t ctl_sample_cpu_millis(const ctl_sample *s)
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

/* ---- start ---- */

static int load_node(void *data, berth_store_node *rec)
{
    controller *c = data;

    return node_take(c, rec, NULL) ? 0 : -1;
}

static int load_workload(void *data, Workload *w)
{
    controller *c = data;
    ctl_workload *grown;

    if (!w->template_) {
        /* nothing to run: an older or damaged row, left in the store */
        berth_warn("workload %s has no template: not loaded", w->name);
        workload_free_unpacked(w, NULL);
        return 0;
    }
    grown = realloc(c->workloads, (c->n_workloads + 1) * sizeof(*grown));
    if (!grown) {
        workload_free_unpacked(w, NULL);
        return -1;
    }
    c->workloads = grown;
    memset(&c->workloads[c->n_workloads], 0, sizeof(*c->workloads));
    c->workloads[c->n_workloads++].w = w;
    return 0;
}

static int load_assignment(void *data, const berth_store_assignment *a)
{
    controller *c = data;
    ctl_node *n = ctl_node_find(c, a->node);
    ctl_assign *grown;

    if (!n || strlen(a->container_id) >= BERTH_ID_BUF ||
        strlen(a->workload) > BERTH_WORKLOAD_NAME_MAX)
        return 0;
    grown = realloc(n->assign, (n->n_assign + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    n->assign = grown;
    memset(&n->assign[n->n_assign], 0, sizeof(*n->assign));
    snprintf(n->assign[n->n_assign].id, BERTH_ID_BUF, "%s", a->container_id);
    snprintf(n->assign[n->n_assign].workload, sizeof(n->assign->workload), "%s", a->workload);
    n->assign[n->n_assign].replica = a->replica;
    n->assign[n->n_assign].spec_generation = a->spec_generation;
    n->assign[n->n_assign].workload_generation = a->workload_generation;
    n->n_assign++;
    return 0;
}

static int load_status(void *data, const char *node, ContainerStatus *s)
{
    controller *c = data;
    ctl_node *n = ctl_node_find(c, node);

    if (n)
        ctl_status_put(c, n, s);
    else
        container_status_free_unpacked(s, NULL);
    return 0;
}

static int load_fleet(controller *c, berth_error **err)
{
    int64_t now = berth_now_mono_ns(), first_lease;

    if (berth_store_nodes_load(c->store, load_node, c, err) != 0 ||
        berth_store_workloads_load(c->store, load_workload, c, err) != 0 ||
        berth_store_assignments_load(c->store, load_assignment, c, err) != 0 ||
        berth_store_statuses_load(c->store, load_status, c, err) != 0)
        return berth_error_prefix(err, "load the fleet");
    first_lease = lease_ns(c) + (int64_t)BERTH_AGENT_RETRY_GAP_MAX_MS * BERTH_NSEC_PER_MSEC;
    for (size_t i = 0; i < c->n_nodes; i++) {
        ctl_node *n = c->nodes[i];

        n->status_dirty = false;
        /* What a node holds was reported before we stopped: ask again. */
        n->need_full_report = true;
        /* A lease starts afresh: a controller that was down for a while
         * must not declare the whole fleet Down the moment it starts. Its
         * agents have been backing off meanwhile: each gets its longest
         * wait between attempts on top of a lease to call in. */
        if (!ctl_node_registered(n))
            continue;
        if (n->rec.phase == NODE_READY)
            berth_loop_timer_arm(c->loop, &n->lease, now + first_lease, NULL);
        else if (n->rec.phase == NODE_UNKNOWN)
            berth_loop_timer_arm(c->loop, &n->lease, now + first_lease + c->cfg->down_grace_ns,
                                 NULL);
    }
    berth_loop_timer_cancel(c->loop, &c->flush_timer);
    berth_info("loaded %zu nodes and %zu workloads", c->n_nodes, c->n_workloads);
    return 0;
}

/* ---- keys ---- */

static bool pubkey_file_name(const char *f, char *name, size_t size)
{
    size_t n = strlen(f);

    if (n < 5 || n - 4 >= size || strcmp(f + n - 4, ".pub") != 0)
        return false;
    memcpy(name, f, n - 4);
    name[n - 4] = '\0';
    return true;
}

/* Trust every operators_dir/NAME.pub as operator NAME. A first start with
 * no operator at all makes one, "admin", whose secret key is
 * state_dir/admin.key: berthctl on this machine works out of the box. */
static int load_operators(controller *c, berth_error **err)
{
    const char *dir = c->cfg->operators_dir;
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;

    if (berth_mkdir_p(dir, 0755, err) < 0)
        return -1;
    if (!(d = opendir(dir)))
        return berth_error_errno(err, "open %s", dir);
    while ((e = readdir(d))) {
        uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
        char name[BERTH_NAME_MAX + 1], path[4096];
        size_t n = 0;

        if (e->d_name[0] == '.' || !pubkey_file_name(e->d_name, name, sizeof(name)))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (berth_pubkeys_load(AT_FDCWD, path, pks, &n, err) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (berth_policy_sqlite_add_operator(c->policy, name, pks[i], err) < 0)
                return berth_error_prefix(err, "%s", path);
        berth_info("operator %s trusted (%s)", name, path);
    }
    if (berth_policy_sqlite_operators(c->policy) == 0) {
        char keypath[4096], pubpath[4096];
        berth_keypair admin;
        bool created = false;

        snprintf(keypath, sizeof(keypath), "%s/admin.key", c->cfg->state_dir);
        snprintf(pubpath, sizeof(pubpath), "%s/admin.pub", dir);
        if (berth_keypair_load_or_generate(AT_FDCWD, keypath, &admin, &created, err) < 0 ||
            berth_pubkeys_save(AT_FDCWD, pubpath, (const uint8_t(*)[BERTH_PUBKEY_LEN])admin.pk, 1,
                               err) < 0 ||
            berth_policy_sqlite_add_operator(c->policy, "admin", admin.pk, err) < 0) {
            berth_keypair_wipe(&admin);
            return -1;
        }
        berth_keypair_wipe(&admin);
        berth_info("no operator keys in %s: operator admin trusted, its key is %s", dir, keypath);
    }
    return 0;
}

static void policy_changed(void *data, const char *name)
{
    controller *c = data;
    _cleanup_error_ berth_error *err = NULL;

    if (ctl_node_reload(c, name, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "reload node %s", name);
}

/* ---- channels ---- */

/* What agents are told to connect to: the bind address, with a wildcard
 * host replaced by the advertised one. */
static void advertise(controller *c, const char *bind, char *out, size_t size)
{
    const char *host = strstr(bind, "://"), *port;

    if (strncmp(bind, "tcp://", 6) != 0 || !host || !(port = strrchr(bind, ':')) ||
        port < host + 3) {
        snprintf(out, size, "%s", bind);
        return;
    }
    host += 3;
    if (strncmp(host, "0.0.0.0:", 8) == 0 || strncmp(host, "*:", 2) == 0)
        snprintf(out, size, "tcp://%s%s", c->cfg->advertise_host, port);
    else
        snprintf(out, size, "%s", bind);
}

static int bind_channels(controller *c, berth_error **err)
{
    berth_rpc_server_config sc = { .loop = c->loop, .auth = c->auth };

    if (berth_rpc_server_new(&sc, &c->srv, err) < 0)
        return -1;
    berth__v1__controller__init(&c->svc, NULL);
    ctl_agent_service_init(c);
    ctl_operator_service_init(c);
    if (berth_rpc_server_add_service(c->srv, (ProtobufCService *)&c->svc, err) < 0)
        return -1;
    for (int i = 0; i < c->cfg->n_rpc; i++)
        if (berth_rpc_server_bind(c->srv, c->cfg->rpc[i], err) < 0)
            return berth_error_prefix(err, "rpc");
    if (berth_events_pub_new(c->loop, c->auth, &c->pub, err) < 0 ||
        berth_events_pub_bind(c->pub, c->cfg->events, err) < 0)
        return berth_error_prefix(err, "events");
    if (berth_stream_pull_new(c->loop, c->auth, &c->pull, err) < 0 ||
        berth_stream_pull_bind(c->pull, c->cfg->stream, err) < 0 || ctl_stream_init(c, err) < 0)
        return berth_error_prefix(err, "stream");
    if (berth_surveyor_new(c->loop, c->auth, &c->surveyor, err) < 0 ||
        berth_surveyor_bind(c->surveyor, c->cfg->survey, err) < 0)
        return berth_error_prefix(err, "survey");
    advertise(c, c->cfg->events, c->adv_events, sizeof(c->adv_events));
    advertise(c, c->cfg->stream, c->adv_stream, sizeof(c->adv_stream));
    advertise(c, c->cfg->survey, c->adv_survey, sizeof(c->adv_survey));
    return 0;
}

int berth_controller_new(ctl_config *cfg, berth_loop *loop, controller **ret_controller,
                         berth_error **err)
{
    controller *c = calloc(1, sizeof(*c));
    berth_auth_config ac = { 0 };
    char path[4096];
    uint8_t pk[1][BERTH_PUBKEY_LEN];

    if (!c)
        return berth_error_make(err, ENOMEM, "controller");
    c->cfg = cfg;
    c->loop = loop;
    berth_loop_timer_init(&c->flush_timer, on_flush);
    if (!cfg->operators_dir) {
        snprintf(path, sizeof(path), "%s/operators", cfg->state_dir);
        if (!(cfg->operators_dir = strdup(path)))
            goto oom;
    }
    if (berth_mkdir_p(cfg->state_dir, 0700, err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/controller.key", cfg->state_dir);
    if (berth_keypair_load_or_generate(AT_FDCWD, path, &c->key, NULL, err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/controller.pub", cfg->state_dir);
    memcpy(pk[0], c->key.pk, BERTH_PUBKEY_LEN);
    if (berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])pk, 1, err) < 0)
        goto fail;
    if (berth_principal_init(&c->self, BERTH_ROLE_CONTROLLER, cfg->name, err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/berth.db", cfg->state_dir);
    if (berth_store_open(path, &c->store, err) < 0)
        goto fail;
    c->policy = berth_policy_sqlite_new(c->store, &c->key, policy_changed, c);
    if (load_operators(c, err) < 0)
        goto fail;
    ac.self = c->self;
    ac.key = c->key;
    ac.policy = &berth_policy_sqlite_ops;
    ac.policy_data = c->policy;
    if (berth_auth_new(&ac, &c->auth, err) < 0 || load_fleet(c, err) < 0 ||
        bind_channels(c, err) < 0)
        goto fail;
    if (ctl_reconcile(c, err) < 0)
        goto fail;
    *ret_controller = c;
    return 0;
oom:
    berth_error_make(err, ENOMEM, "controller");
fail:
    berth_controller_free(c);
    return -1;
}

void berth_controller_free(controller *c)
{
    if (!c)
        return;
    if (c->store)
        ctl_status_flush(c);
    /* Clients first: their pending calls complete (CANCELLED) into calls
     * of the server, which must still exist. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        berth_rpc_client_free(c->nodes[i]->agent);
        c->nodes[i]->agent = NULL;
    }
    berth_surveyor_free(c->surveyor);
    berth_stream_pull_free(c->pull);
    berth_events_pub_free(c->pub);
    berth_rpc_server_free(c->srv);
    for (size_t i = 0; i < c->n_nodes; i++)
        node_free(c->nodes[i]);
    free(c->nodes);
    for (size_t i = 0; i < c->n_workloads; i++)
        workload_free_unpacked(c->workloads[i].w, NULL);
    free(c->workloads);
    berth_loop_timer_cancel(c->loop, &c->flush_timer);
    berth_auth_free(c->auth);
    berth_policy_sqlite_free(c->policy);
    berth_store_close(c->store);
    berth_keypair_wipe(&c->key);
    free(c);
}
