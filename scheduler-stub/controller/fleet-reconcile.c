/* Placement carried out (fleet.h, fleet_reconcile): the fleet as
 * placement.c's input, its answer as each node's new desired set, the
 * changed sets and generations in one transaction, then wake-ups. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "fleet-internal.h"

/* ---- the fleet as placement's input ---- */

/* Placement's workloads are the fleet's, a Deployment's revisions each
 * one of its own. */
typedef struct place_scratch {
    berth_place_node *nodes;
    berth_label **node_labels;
    berth_resource_count **node_extended; /* each node's extended resources */
    berth_place_workload *workloads;
    size_t n_workloads;
    size_t *wl_of;          /* each one's fleet workload */
    const fleet_rs **rs_of; /* and revision (NULL: the workload itself) */
    size_t *first;          /* each fleet workload's first */
    berth_label **selectors;
    uint32_t **ports;                /* each workload's host ports */
    berth_resource_count **extended; /* and extended resources */
    uint32_t **job_active;           /* a Job's running pods (its indices) */
    berth_place_slot *current;
    size_t n_current;
} place_scratch;

static void scratch_free(place_scratch *s, size_t n_nodes)
{
    size_t n_workloads = s->n_workloads;

    for (size_t i = 0; s->job_active && i < n_workloads; i++)
        free(s->job_active[i]);
    free(s->job_active);
    free(s->wl_of);
    free(s->rs_of);
    free(s->first);
    for (size_t i = 0; s->node_labels && i < n_nodes; i++)
        free(s->node_labels[i]);
    for (size_t i = 0; s->node_extended && i < n_nodes; i++)
        free(s->node_extended[i]);
    free(s->node_extended);
    for (size_t i = 0; s->extended && i < n_workloads; i++)
        free(s->extended[i]);
    free(s->extended);
    for (size_t i = 0; s->selectors && i < n_workloads; i++)
        free(s->selectors[i]);
    for (size_t i = 0; s->ports && i < n_workloads; i++)
        free(s->ports[i]);
    free(s->ports);
    free(s->nodes);
    free(s->node_labels);
    free(s->workloads);
    free(s->selectors);
    free(s->current);
}

static berth_place_state place_state(const fleet_node *n)
{
    if (!fleet_node_registered(n))
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

static size_t workload_index(fleet *f, const char *key)
{
    for (size_t i = 0; i < f->n_workloads; i++)
        if (strcmp(f->workloads[i].key, key) == 0)
            return i;
    return SIZE_MAX;
}

/* The placement workload assignment a is of, or SIZE_MAX (its workload or
 * revision is gone). */
static size_t place_index(fleet *f, const place_scratch *s, const fleet_assign *a)
{
    size_t w = workload_index(f, a->workload);
    const fleet_workload *wl;

    if (w == SIZE_MAX)
        return SIZE_MAX;
    wl = &f->workloads[w];
    if (wl->w->kind == WORKLOAD_CRONJOB)
        return SIZE_MAX; /* (a Pod or Job "x" it replaced: its replicas go) */
    if (!fleet_has_revisions(wl->w->kind))
        return s->first[w];
    for (size_t r = 0; r < wl->n_rs; r++)
        if (strcmp(wl->rs[r].rs->hash, a->revision) == 0)
            return s->first[w] + r;
    return SIZE_MAX;
}

static void scratch_node(place_scratch *s, size_t i, const fleet_node *n)
{
    const NodeInfo *info = n->rec.info;
    berth_place_node *pn = &s->nodes[i];

    pn->name = n->rec.name;
    pn->state = place_state(n);
    pn->cordoned = n->rec.cordoned;
    pn->drained = n->rec.drained;
    if (n->taints) {
        pn->taints = n->taints->taints;
        pn->n_taints = n->taints->n_taints;
    }
    if (info && info->capacity) {
        const NodeCapacity *cap = info->capacity;

        pn->cpu_millis = cap->cpu_millis;
        pn->memory_bytes = cap->memory_bytes;
        pn->max_containers = cap->max_containers;
        /* its agent's count of each (its CDI devices), as it registered */
        s->node_extended[i] = berth_xcalloc(cap->n_extended + 1, sizeof(berth_resource_count));
        for (size_t k = 0; k < cap->n_extended; k++)
            s->node_extended[i][k] =
                (berth_resource_count){ cap->extended[k]->key, cap->extended[k]->value };
        pn->extended = s->node_extended[i];
        pn->n_extended = cap->n_extended;
    }
    if (info && info->n_labels) {
        s->node_labels[i] = berth_xcalloc(info->n_labels, sizeof(berth_label));
        for (size_t l = 0; l < info->n_labels; l++)
            s->node_labels[i][l] = (berth_label){ info->labels[l]->key, info->labels[l]->value };
        pn->labels = s->node_labels[i];
        pn->n_labels = info->n_labels;
    }
}

static void scratch_workload(place_scratch *s, size_t i, const Workload *w, const fleet_rs *r)
{
    berth_place_workload *pw = &s->workloads[i];

    if (r) {
        pw->indices = r->indices;
        pw->n_indices = r->n_indices;
    }
    pw->name = w->name;
    pw->kind = w->kind;
    pw->replicas = w->replicas;
    berth_pod_requests(w, &pw->cpu_millis, &pw->memory_bytes);
    pw->n_extended = berth_pod_extended(w, &s->extended[i]);
    pw->extended = s->extended[i];
    pw->node_name = w->node_name;
    pw->affinity = w->node_affinity;
    pw->n_affinity = w->n_node_affinity;
    pw->tolerations = w->tolerations;
    pw->n_tolerations = w->n_tolerations;
    /* the host ports of its pod's containers */
    for (size_t c = 0; w->template_ && c < berth_pod_size(w); c++) {
        PodRole role;
        uint32_t index;
        const ContainerSpec *cs = berth_pod_container(w, c, &role, &index);

        for (size_t k = 0; k < cs->n_host_ports; k++) {
            s->ports[i] =
                berth_xreallocarray(s->ports[i], pw->n_host_ports + 1, sizeof(*s->ports[i]));
            s->ports[i][pw->n_host_ports++] = BERTH_PLACE_PORT(
                strcmp(cs->host_ports[k]->protocol, "UDP") == 0, cs->host_ports[k]->host_port);
        }
    }
    pw->host_ports = s->ports[i];
    if (w->n_node_selector) {
        s->selectors[i] = berth_xcalloc(w->n_node_selector, sizeof(berth_label));
        for (size_t l = 0; l < w->n_node_selector; l++)
            s->selectors[i][l] =
                (berth_label){ w->node_selector[l]->key, w->node_selector[l]->value };
        pw->selector = s->selectors[i];
        pw->n_selector = w->n_node_selector;
    }
}

static void scratch_build(fleet *f, place_scratch *s)
{
    size_t total = 0, n = 0;

    for (size_t i = 0; i < f->n_workloads; i++)
        n += f->workloads[i].w->kind == WORKLOAD_CRONJOB    ? 0
             : fleet_has_revisions(f->workloads[i].w->kind) ? f->workloads[i].n_rs
                                                            : 1;
    s->n_workloads = n;
    s->nodes = berth_xcalloc(f->n_nodes + 1, sizeof(*s->nodes));
    s->node_labels = berth_xcalloc(f->n_nodes + 1, sizeof(*s->node_labels));
    s->node_extended = berth_xcalloc(f->n_nodes + 1, sizeof(*s->node_extended));
    s->workloads = berth_xcalloc(n + 1, sizeof(*s->workloads));
    s->wl_of = berth_xcalloc(n + 1, sizeof(*s->wl_of));
    s->rs_of = berth_xcalloc(n + 1, sizeof(*s->rs_of));
    s->first = berth_xcalloc(f->n_workloads + 1, sizeof(*s->first));
    s->selectors = berth_xcalloc(n + 1, sizeof(*s->selectors));
    s->ports = berth_xcalloc(n + 1, sizeof(*s->ports));
    s->extended = berth_xcalloc(n + 1, sizeof(*s->extended));
    s->job_active = berth_xcalloc(n + 1, sizeof(*s->job_active));
    n = 0;
    for (size_t i = 0; i < f->n_workloads; i++) {
        const fleet_workload *wl = &f->workloads[i];

        s->first[i] = n;
        if (wl->w->kind == WORKLOAD_CRONJOB)
            continue; /* its Jobs are placed, not it */
        if (wl->w->kind == WORKLOAD_JOB) {
            /* its running pods; those that ended stay where they are */
            s->wl_of[n] = i;
            scratch_workload(s, n, wl->w, NULL);
            s->job_active[n] = fleet_job_active(wl, &s->workloads[n].n_indices);
            s->workloads[n].indices = s->job_active[n];
            s->workloads[n].keep_done = true;
            n++;
            continue;
        }
        if (!fleet_has_revisions(wl->w->kind)) {
            s->wl_of[n] = i;
            scratch_workload(s, n++, wl->w, NULL);
            continue;
        }
        /* each revision its own, with its own template and requests; a
         * DaemonSet's older ones keep what they have and get nothing new
         * (its newest places on the nodes without any), as one DaemonSet */
        for (size_t r = 0; r < wl->n_rs; r++) {
            bool daemon = wl->w->kind == WORKLOAD_DAEMONSET;

            s->wl_of[n] = i;
            s->rs_of[n] = &wl->rs[r];
            scratch_workload(s, n, wl->rs[r].view, daemon ? NULL : &wl->rs[r]);
            if (daemon) {
                s->workloads[n].keep_only = r + 1 < wl->n_rs;
                s->workloads[n].group_first = s->first[i];
                s->workloads[n].group_n = wl->n_rs;
            }
            n++;
        }
    }
    for (size_t i = 0; i < f->n_nodes; i++)
        total += f->nodes[i]->n_assign;
    s->current = berth_xcalloc(total + 1, sizeof(*s->current));
    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *node = f->nodes[i];

        scratch_node(s, i, node);
        for (size_t a = 0; a < node->n_assign; a++) {
            size_t w = place_index(f, s, &node->assign[a]);
            const Workload *as;

            if (w == SIZE_MAX)
                continue; /* deleted: dropped */
            as = s->rs_of[w] ? s->rs_of[w]->view : f->workloads[s->wl_of[w]].w;
            s->current[s->n_current++] = (berth_place_slot){
                w, i, as->kind == WORKLOAD_DAEMONSET ? 0 : node->assign[a].replica,
                fleet_assign_done(f, node, &node->assign[a], as), node->assign[a].evicted
            };
        }
    }
}

/* ---- its answer as each node's desired set ---- */

static int assign_cmp(const void *a, const void *b)
{
    return strcmp(((const fleet_assign *)a)->id, ((const fleet_assign *)b)->id);
}

/* The new desired set of one node, from the placement. */
typedef struct node_plan {
    fleet_assign *assign;
    size_t n_assign, cap;
    bool changed;
} node_plan;

static fleet_assign *plan_find(const node_plan *p, const char *id)
{
    for (size_t i = 0; i < p->n_assign; i++)
        if (strcmp(p->assign[i].id, id) == 0)
            return &p->assign[i];
    return NULL;
}

/* Why replicas left a node, for the event. */
static const char *leave_reason(fleet *f, const fleet_node *n, const fleet_assign *a)
{
    fleet_workload *wl = fleet_workload_find(f, a->workload);

    if (!wl)
        return "workload deleted";
    if (a->evicted)
        return "evicted";
    if (n->rec.phase == NODE_DOWN)
        return "node is Down";
    if (n->rec.drained)
        return "node drained";
    for (size_t i = 0; n->taints && i < n->taints->n_taints; i++)
        if (strcmp(n->taints->taints[i]->effect, "NoExecute") == 0)
            return "evicted by a NoExecute taint (TaintManagerEviction)";
    if (wl->w->kind == WORKLOAD_JOB)
        return wl->job && *wl->job->finished ? "its Job ended" : "its Job wants fewer pods";
    if (wl->w->kind == WORKLOAD_DEPLOYMENT) {
        const fleet_rs *r = fleet_rs_find(wl, a->revision);
        bool kept = false;

        for (size_t i = 0; r && i < r->n_indices; i++)
            kept |= r->indices[i] == a->replica;
        if (!kept)
            return r && r != &wl->rs[wl->n_rs - 1] ? "rolling update" : "scaled down";
    } else if (wl->w->kind != WORKLOAD_DAEMONSET && a->replica >= wl->w->replicas) {
        return "scaled down";
    }
    return "no longer fits the node";
}

/* Events: per node, which replicas came and went. */
static void plan_events(fleet *f, fleet_node *n, const node_plan *p)
{
    char added[400] = "", removed[400] = "";
    const char *why = NULL;
    size_t la = 0, lr = 0;

    for (size_t i = 0; i < p->n_assign; i++)
        if (p->assign[i].spec_generation == n->rec.generation && la < sizeof(added))
            la += (size_t)snprintf(added + la, sizeof(added) - la, "%s%s", la ? " " : "",
                                   p->assign[i].id);
    for (size_t i = 0; i < n->n_assign; i++) {
        if (plan_find(p, n->assign[i].id) || lr >= sizeof(removed))
            continue;
        if (!why)
            why = leave_reason(f, n, &n->assign[i]);
        lr += (size_t)snprintf(removed + lr, sizeof(removed) - lr, "%s%s", lr ? " " : "",
                               n->assign[i].id);
    }
    if (la)
        fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "Scheduled",
                    "%s assigned (generation %" PRIu64 ")", added, n->rec.generation);
    if (lr)
        fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "Unassigned",
                    "%s taken off: %s (generation %" PRIu64 ")", removed, why, n->rec.generation);
}

static void plans_build(fleet *f, const place_scratch *sc, const berth_place_result *r,
                        node_plan *plans)
{
    for (size_t i = 0; i < r->n_slots; i++) {
        const berth_place_slot *s = &r->slots[i];
        const fleet_rs *rs = sc->rs_of[s->workload];
        const Workload *w = f->workloads[sc->wl_of[s->workload]].w;
        node_plan *p = &plans[s->node];
        fleet_assign *a;

        if (p->n_assign == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 8;
            p->assign = berth_xreallocarray(p->assign, p->cap, sizeof(*p->assign));
        }
        a = &p->assign[p->n_assign++];
        memset(a, 0, sizeof(*a));
        berth_replica_id(w->namespace_, rs && w->kind == WORKLOAD_DEPLOYMENT ? rs->prefix : w->name,
                         w->kind, s->replica, f->nodes[s->node]->rec.name, a->id);
        snprintf(a->workload, sizeof(a->workload), "%s", f->workloads[sc->wl_of[s->workload]].key);
        a->replica = s->replica;
        /* a DaemonSet's node the last step moved: its newest revision */
        if (w->kind == WORKLOAD_DAEMONSET && rs &&
            fleet_ds_updates(&f->workloads[sc->wl_of[s->workload]], f->nodes[s->node]->rec.name))
            rs = &f->workloads[sc->wl_of[s->workload]]
                      .rs[f->workloads[sc->wl_of[s->workload]].n_rs - 1];
        /* a revision's template never changes: its replicas' specs do not
         * follow the Deployment's generation */
        a->workload_generation =
            rs || w->kind == WORKLOAD_JOB ? FLEET_REVISION_SPEC_GENERATION : w->generation;
        if (rs)
            snprintf(a->revision, sizeof(a->revision), "%s", rs->rs->hash);
    }
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];
        node_plan *p = &plans[i];

        if (p->n_assign)
            qsort(p->assign, p->n_assign, sizeof(*p->assign), assign_cmp);
        p->changed = p->n_assign != n->n_assign;
        for (size_t j = 0; j < p->n_assign; j++) {
            fleet_assign *old = fleet_assign_find(n, p->assign[j].id);

            /* spec_generation 0: new here, or a new spec (the workload
             * changed): given the node's next generation when saved */
            if (old && old->workload_generation == p->assign[j].workload_generation &&
                strcmp(old->revision, p->assign[j].revision) == 0) {
                p->assign[j].spec_generation = old->spec_generation;
                /* the same container: what the controller saw of it stays */
                p->assign[j].ready_since_ns = old->ready_since_ns;
            } else {
                p->changed = true;
            }
        }
    }
}

/* Persist the changed nodes' plans: assignments and new generations. */
static int plans_save(fleet *f, node_plan *plans, berth_error **err)
{
    berth_store *st = f->cfg.store;

    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];
        node_plan *p = &plans[i];
        uint64_t gen = n->rec.generation + 1;

        if (!p->changed)
            continue;
        for (size_t j = 0; j < n->n_assign; j++)
            if (!plan_find(p, n->assign[j].id) &&
                berth_store_assignment_delete(st, n->rec.name, n->assign[j].id, err) < 0)
                return -1;
        for (size_t j = 0; j < p->n_assign; j++) {
            fleet_assign *a = &p->assign[j];
            berth_store_assignment sa;

            if (a->spec_generation)
                continue; /* unchanged, stored already */
            a->spec_generation = gen;
            sa = (berth_store_assignment){
                .node = n->rec.name,
                .container_id = a->id,
                .workload = a->workload,
                .replica = a->replica,
                .spec_generation = gen,
                .workload_generation = a->workload_generation,
                .revision = a->revision,
            };
            if (berth_store_assignment_put(st, &sa, err) < 0)
                return -1;
        }
        n->rec.generation = gen;
        if (fleet_node_save(f, n, err) < 0)
            return -1;
        plan_events(f, n, p);
    }
    return 0;
}

/* Tell the registered nodes whose plan changed (fleet_effects). */
static void wake_changed(fleet *f, const node_plan *plans)
{
    _cleanup_free_ fleet_wake *wake = berth_xcalloc(f->n_nodes + 1, sizeof(*wake));
    size_t n = 0;

    for (size_t i = 0; i < f->n_nodes; i++)
        if (plans[i].changed && fleet_node_registered(f->nodes[i]))
            wake[n++] = (fleet_wake){ f->nodes[i]->who.id, f->nodes[i]->rec.generation };
    if (n && f->fx.wake)
        f->fx.wake(f->fx.data, wake, n);
}

/* Each fleet workload's status: the sum of its revisions' (the first
 * reason any has not to be placed). */
static berth_place_status *status_fold(fleet *f, const place_scratch *s,
                                       const berth_place_result *r)
{
    berth_place_status *st = berth_xcalloc(f->n_workloads + 1, sizeof(*st));

    for (size_t i = 0; i < s->n_workloads; i++) {
        berth_place_status *to = &st[s->wl_of[i]];
        const berth_place_status *from = &r->status[i];

        to->desired += from->desired;
        to->placed += from->placed;
        if (from->unschedulable && !to->unschedulable)
            memcpy(to->message, from->message, sizeof(to->message));
        to->unschedulable += from->unschedulable;
    }
    return st;
}

static int place(fleet *f, berth_error **err)
{
    place_scratch s = { 0 };
    berth_place_result r = { 0 };
    node_plan *plans = berth_xcalloc(f->n_nodes + 1, sizeof(*plans));
    uint64_t *old_gen = berth_xcalloc(f->n_nodes + 1, sizeof(*old_gen));
    _cleanup_free_ berth_place_status *status = NULL;
    int64_t t0 = berth_now_mono_ns();
    int ret = -1;

    scratch_build(f, &s);
    {
        berth_place_input in = {
            .nodes = s.nodes,
            .n_nodes = f->n_nodes,
            .workloads = s.workloads,
            .n_workloads = s.n_workloads,
            .current = s.current,
            .n_current = s.n_current,
            .now_ns = berth_now_real_ns(),
        };

        berth_place(&in, &r);
        /* a NoExecute taint's tolerationSeconds run out then: again */
        berth_loop_timer_cancel(f->cfg.loop, &f->eviction_timer);
        if (r.next_eviction_ns)
            berth_loop_timer_arm(f->cfg.loop, &f->eviction_timer,
                                 berth_now_mono_ns() + (r.next_eviction_ns - in.now_ns));
    }
    plans_build(f, &s, &r, plans);
    status = status_fold(f, &s, &r);
    for (size_t i = 0; i < f->n_nodes; i++)
        old_gen[i] = f->nodes[i]->rec.generation;
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto out;
    if (plans_save(f, plans, err) < 0) {
        berth_store_rollback(f->cfg.store);
        goto restore;
    }
    for (size_t w = 0; w < f->n_workloads; w++) {
        fleet_workload *wl = &f->workloads[w];

        if (status[w].unschedulable && strcmp(status[w].message, wl->place.message) != 0)
            fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_WARNING, "Unschedulable",
                        "%u of %u replicas: %s", status[w].unschedulable, status[w].desired,
                        status[w].message);
    }
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto restore;
    /* Committed: now memory follows, then the nodes are told. */
    for (size_t w = 0; w < f->n_workloads; w++)
        f->workloads[w].place = status[w];
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        if (!plans[i].changed)
            continue;
        free(n->assign);
        n->assign = plans[i].assign;
        n->n_assign = plans[i].n_assign;
        plans[i].assign = NULL;
    }
    wake_changed(f, plans);
    ret = 0;
    goto out;
restore:
    for (size_t i = 0; i < f->n_nodes; i++)
        f->nodes[i]->rec.generation = old_gen[i];
out:
    for (size_t i = 0; i < f->n_nodes; i++)
        free(plans[i].assign);
    free(plans);
    free(old_gen);
    berth_place_result_clear(&r);
    scratch_free(&s, f->n_nodes);
    berth_prom_histogram_observe_ns(&f->place_seconds, berth_now_mono_ns() - t0);
    return ret;
}

int fleet_reconcile(fleet *f, berth_error **err)
{
    if (fleet_rollouts_step(f, err) < 0)
        return -1;
    return place(f, err);
}

void fleet_place_after(fleet *f, const char *what)
{
    _cleanup_error_ berth_error *err = NULL;

    if (place(f, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "placement after %s", what);
}

void fleet_eviction_due(berth_loop_timer *t)
{
    fleet *f = berth_container_of(t, fleet, eviction_timer);

    fleet_reconcile_after(f, "a toleration ran out");
}

void fleet_reconcile_after(fleet *f, const char *fmt, ...)
{
    _cleanup_error_ berth_error *err = NULL;
    char what[160];
    va_list ap;

    if (fleet_reconcile(f, &err) == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    berth_log_error(BERTH_LOG_ERROR, err, "placement after %s", what);
}
