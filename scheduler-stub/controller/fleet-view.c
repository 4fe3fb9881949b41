/* The operator's listings (fleet-view.h): answers built from the fleet,
 * borrowing its memory. */
#include "fleet-view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "fleet-internal.h"
#include "pb/pb.h"
#include "rpc/keys.h"
#include "spec/pod.h"
#include "spec/spec.h"

/* ListEvents' default length. */
#define EVENTS_DEFAULT 100

/* The entries of the generated map<string,string> fields all look alike:
 * the message header, then key and value. */
typedef struct kv {
    ProtobufCMessage base;
    char *key, *value;
} kv;

#define KVS(arr) ((kv *const *)(void *)(arr))

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

/* A workload key's name (a pointer into key) and namespace (in *ret_ns,
 * borrowed from the fleet: "" when the namespace is gone meanwhile). */
static const char *key_split(fleet *f, const char *key, const char **ret_ns)
{
    const char *slash = strchr(key, '/');
    char ns[BERTH_NAMESPACE_BUF];
    const Namespace *found;

    if (!slash) {
        *ret_ns = BERTH_NAMESPACE_DEFAULT;
        return key;
    }
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    found = fleet_namespace_find(f, ns);
    *ret_ns = found ? found->name : "";
    return slash + 1;
}

/* Whether the workload of this key passes a listing's filters (empty:
 * any). */
static bool key_matches(const char *key, const char *ns, const char *name)
{
    const char *slash = strchr(key, '/');
    const char *kname = slash ? slash + 1 : key;

    if (*name && strcmp(kname, name) != 0)
        return false;
    if (!*ns)
        return true;
    if (!slash)
        return strcmp(ns, BERTH_NAMESPACE_DEFAULT) == 0;
    return strlen(ns) == (size_t)(slash - key) && strncmp(key, ns, (size_t)(slash - key)) == 0;
}

static bool status_running(const ContainerStatus *s, const fleet_assign *a)
{
    /* a status of an older generation runs an older spec (0: the agent
     * does not say) */
    return s && s->state == CONTAINER_RUNNING &&
           (s->generation == 0 || s->generation >= a->spec_generation);
}

/* Done for good: exited 0 where the policy does not restart it. */
static bool status_succeeded(const ContainerStatus *s, const ContainerSpec *tmpl,
                             const fleet_assign *a)
{
    return s && tmpl && tmpl->restart_policy != RESTART_ALWAYS && s->state == CONTAINER_EXITED &&
           s->exit_code == 0 && s->signal == 0 &&
           (s->generation == 0 || s->generation >= a->spec_generation);
}

/* The containers of assignment a (of workload w) on n, for its pod's
 * view: names, roles, statuses. */
typedef struct pod_parts {
    berth_pod_entry e[BERTH_POD_CONTAINERS_MAX];
    char ids[BERTH_POD_CONTAINERS_MAX][BERTH_ID_BUF];
    size_t n;
    RestartPolicy policy;
} pod_parts;

static void pod_parts_of(const fleet_node *n, const fleet_assign *a, const Workload *w,
                         pod_parts *p)
{
    p->n = berth_pod_size(w);
    if (p->n > BERTH_POD_CONTAINERS_MAX)
        p->n = BERTH_POD_CONTAINERS_MAX;
    p->policy = w->template_->restart_policy;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t index;
        const ContainerSpec *t = berth_pod_container(w, i, &p->e[i].role, &index);
        const char *name = berth_container_name(t);

        if (w->pod)
            berth_spec_member_id(a->id, name, p->ids[i], sizeof(p->ids[i]));
        else
            snprintf(p->ids[i], sizeof(p->ids[i]), "%s", a->id);
        p->e[i].name = *name ? name : p->ids[i];
        p->e[i].status = fleet_status_find(n, p->ids[i]);
    }
}

/* A replica's counts for its workload's status: running (every container
 * runs the current spec), failed, succeeded (the pod's phase). */
static void replica_counts(const fleet_node *n, const fleet_assign *a, const Workload *w,
                           uint32_t *running, uint32_t *failed, uint32_t *succeeded)
{
    pod_parts p;
    berth_pod_view v;
    bool all_running = true, any_failed = false;

    if (!w->pod) {
        const ContainerStatus *s = fleet_status_find(n, a->id);

        *running += status_running(s, a);
        *failed += s && s->state == CONTAINER_FAILED;
        *succeeded += status_succeeded(s, w->template_, a);
        return;
    }
    pod_parts_of(n, a, w, &p);
    for (size_t i = 0; i < p.n; i++) {
        if (p.e[i].role != POD_ROLE_INIT && !status_running(p.e[i].status, a))
            all_running = false;
        any_failed |= p.e[i].status && p.e[i].status->state == CONTAINER_FAILED;
    }
    berth_pod_view_make(p.e, p.n, p.policy, false, &v);
    *running += all_running;
    *failed += any_failed || strcmp(v.phase, "Failed") == 0;
    *succeeded += strcmp(v.phase, "Succeeded") == 0;
}

bool fleet_replica_done(const fleet_node *n, const fleet_assign *a, const Workload *w)
{
    uint32_t running = 0, failed = 0, succeeded = 0;

    if (w->kind == WORKLOAD_DAEMONSET || !w->template_ ||
        w->template_->restart_policy == RESTART_ALWAYS)
        return false;
    replica_counts(n, a, w, &running, &failed, &succeeded);
    return succeeded > 0;
}

bool fleet_assign_done(fleet *f, const fleet_node *n, const fleet_assign *a, const Workload *w)
{
    const fleet_workload *wl;

    if (w->kind != WORKLOAD_JOB)
        return fleet_replica_done(n, a, w);
    wl = fleet_workload_find(f, a->workload);
    return wl && fleet_job_done(wl, a->replica);
}

bool fleet_replica_ready(const fleet_node *n, const fleet_assign *a, const Workload *w)
{
    pod_parts p;
    berth_pod_view v;

    if (!w->pod) {
        const ContainerStatus *s = fleet_status_find(n, a->id);

        return status_running(s, a) && s->ready;
    }
    pod_parts_of(n, a, w, &p);
    for (size_t i = 0; i < p.n; i++)
        if (p.e[i].role != POD_ROLE_INIT && !status_running(p.e[i].status, a))
            return false;
    berth_pod_view_make(p.e, p.n, p.policy, false, &v);
    return v.ready;
}

size_t fleet_replica_exits(const fleet_node *n, const fleet_assign *a, const Workload *w,
                           fleet_exit *ret, size_t max)
{
    pod_parts p;
    size_t k = 0;

    pod_parts_of(n, a, w, &p);
    for (size_t i = 0; i < p.n && k < max; i++) {
        const ContainerStatus *s = p.e[i].status;
        int32_t code;

        /* ended after a run (a start that failed has no exit code) */
        if (!s || (s->state != CONTAINER_EXITED && s->state != CONTAINER_OOM_KILLED &&
                   s->state != CONTAINER_RESTARTING &&
                   (s->state != CONTAINER_FAILED || !s->started_unix_ns)))
            continue;
        code = s->signal ? 128 + s->signal : s->exit_code;
        if (code == 0)
            continue;
        snprintf(ret[k].container, sizeof(ret[k].container), "%s", p.e[i].name);
        ret[k].code = code;
        k++;
    }
    return k;
}

const char *fleet_replica_phase(const fleet_node *n, const fleet_assign *a, const Workload *w,
                                uint32_t *ret_restarts)
{
    pod_parts p;
    berth_pod_view v;

    pod_parts_of(n, a, w, &p);
    for (size_t i = 0; i < p.n; i++)
        if (p.e[i].status && p.e[i].status->generation &&
            p.e[i].status->generation < a->spec_generation)
            p.e[i].status = NULL; /* of an older spec: not this pod's yet */
    berth_pod_view_make(p.e, p.n, p.policy, false, &v);
    *ret_restarts = v.restarts;
    return v.phase;
}

/* ---- nodes ---- */

struct fleet_node_msg {
    Node node;
    NodeCapacity allocated;
    /* allocated.extended, by name (keys borrowed from the workloads) */
    NodeCapacity_ExtendedEntry *extended, **extended_ptrs;
    NodeInfo bare; /* a node that never registered: its name */
    char fps[BERTH_PUBKEYS_MAX + 1][BERTH_FINGERPRINT_LEN];
    char *fp_ptrs[BERTH_PUBKEYS_MAX + 1];
};

/* Add count of extended resource name to m->allocated (m->extended has
 * room for every name). */
static void allocated_add(fleet_node_msg *m, const char *name, int64_t count)
{
    NodeCapacity *a = &m->allocated;
    size_t k = 0;

    while (k < a->n_extended && strcmp(m->extended[k].key, name) != 0)
        k++;
    if (k == a->n_extended) {
        node_capacity_extended_entry_init(&m->extended[k]);
        m->extended[k].key = (char *)name;
        m->extended_ptrs[k] = &m->extended[k];
        a->n_extended++;
    }
    m->extended[k].value += count;
}

static int extended_entry_cmp(const void *a, const void *b)
{
    return strcmp((*(NodeCapacity_ExtendedEntry *const *)a)->key,
                  (*(NodeCapacity_ExtendedEntry *const *)b)->key);
}

/* What the scheduler has handed out on n: the sum of its replicas'
 * requests, extended resources too; as placement counts them, a replica
 * that is done takes nothing. */
static void node_allocated(fleet *f, const fleet_node *n, fleet_node_msg *m)
{
    berth_resource_count **ext = berth_xcalloc(n->n_assign + 1, sizeof(*ext));
    size_t *n_ext = berth_xcalloc(n->n_assign + 1, sizeof(*n_ext)), total = 0;

    for (size_t i = 0; i < n->n_assign; i++) {
        const Workload *w = fleet_assign_workload(f, &n->assign[i]);
        int64_t cpu, mem;

        if (!w || fleet_assign_done(f, n, &n->assign[i], w))
            continue;
        berth_pod_requests(w, &cpu, &mem);
        m->allocated.cpu_millis += cpu;
        m->allocated.memory_bytes += mem;
        n_ext[i] = berth_pod_extended(w, &ext[i]);
        total += n_ext[i];
    }
    m->extended = berth_xcalloc(total + 1, sizeof(*m->extended));
    m->extended_ptrs = berth_xcalloc(total + 1, sizeof(*m->extended_ptrs));
    m->allocated.extended = m->extended_ptrs;
    for (size_t i = 0; i < n->n_assign; i++) {
        for (size_t k = 0; k < n_ext[i]; k++)
            allocated_add(m, ext[i][k].name, ext[i][k].count);
        free(ext[i]);
    }
    if (m->allocated.n_extended)
        qsort(m->extended_ptrs, m->allocated.n_extended, sizeof(*m->extended_ptrs),
              extended_entry_cmp);
    free(ext);
    free(n_ext);
    m->allocated.max_containers = (uint32_t)n->n_assign;
}

static void node_msg_fill(fleet *f, const fleet_node *n, fleet_node_msg *m)
{
    node_init(&m->node);
    node_capacity_init(&m->allocated);
    node_info_init(&m->bare);
    m->bare.name = (char *)n->rec.name;
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
    for (size_t i = 0; i < n->n_assign; i++) {
        const fleet_assign *a = &n->assign[i];
        const ContainerStatus *s = fleet_status_find(n, a->id);
        const Workload *w;
        uint32_t failed = 0, succeeded = 0;

        /* a pod of several has no status of its own id */
        if (!s && (w = fleet_assign_workload(f, a)) && w->pod)
            replica_counts(n, a, w, &m->node.running, &failed, &succeeded);
        else
            m->node.running += status_running(s, a);
    }
    node_allocated(f, n, m);
    m->node.allocated = &m->allocated;
    m->node.reason = (char *)n->rec.reason;
    m->node.cordoned = n->rec.cordoned;
    m->node.drained = n->rec.drained;
    m->node.pod_cidr = (char *)n->rec.pod_cidr;
    if (n->taints) {
        m->node.taints = n->taints->taints;
        m->node.n_taints = n->taints->n_taints;
    }
    m->node.phase_since_unix_ns = n->rec.phase_since_ns;
}

static void nodes_alloc(fleet_nodes *v, size_t n)
{
    v->msgs = berth_xcalloc(n + 1, sizeof(*v->msgs));
    v->nodes = berth_xcalloc(n + 1, sizeof(*v->nodes));
    v->n_nodes = 0;
}

static void nodes_add(fleet *f, fleet_nodes *v, const fleet_node *n)
{
    node_msg_fill(f, n, &v->msgs[v->n_nodes]);
    v->nodes[v->n_nodes] = &v->msgs[v->n_nodes].node;
    v->n_nodes++;
}

void fleet_nodes_list(fleet *f, const ListNodesRequest *in, fleet_nodes *ret)
{
    nodes_alloc(ret, f->n_nodes);
    for (size_t i = 0; i < f->n_nodes; i++) {
        const NodeInfo *info = f->nodes[i]->rec.info;

        if (in->n_label_selector &&
            (!info || !selected(KVS(in->label_selector), in->n_label_selector, KVS(info->labels),
                                info->n_labels)))
            continue;
        nodes_add(f, ret, f->nodes[i]);
    }
}

int fleet_nodes_get(fleet *f, const char *name, fleet_nodes *ret, berth_error **err)
{
    const fleet_node *n = fleet_node_find(f, name);

    if (!n)
        return berth_error_set(err, ENOENT, "node %.63s not found", name);
    nodes_alloc(ret, 1);
    nodes_add(f, ret, n);
    return 0;
}

void fleet_nodes_clear(fleet_nodes *v)
{
    for (size_t i = 0; v->msgs && i < v->n_nodes; i++) {
        free(v->msgs[i].extended);
        free(v->msgs[i].extended_ptrs);
    }
    free(v->msgs);
    free(v->nodes);
    memset(v, 0, sizeof(*v));
}

size_t fleet_registered_nodes(fleet *f, berth_principal **ret_nodes)
{
    berth_principal *who = berth_xcalloc(f->n_nodes + 1, sizeof(*who));
    size_t n = 0;

    for (size_t i = 0; i < f->n_nodes; i++)
        if (fleet_node_registered(f->nodes[i]))
            who[n++] = f->nodes[i]->who;
    *ret_nodes = who;
    return n;
}

/* ---- workloads ---- */

struct fleet_workload_msg {
    Workload w;
    WorkloadStatus st;
    JobState job; /* a Job's in a listing: without its pods */
};

/* m for wl: the workload as stored, its placement; replicas counted by
 * status_count. */
static void wl_msg_fill(const fleet_workload *wl, fleet_workload_msg *m)
{
    m->w = *wl->w;
    m->w.namespace_ = (char *)berth_namespace_or_default(wl->w->namespace_);
    workload_status_init(&m->st);
    m->w.status = &m->st;
    /* a Deployment's revisions may want more while it rolls (maxSurge) */
    m->st.desired = wl->w->kind == WORKLOAD_DEPLOYMENT ? wl->w->replicas : wl->place.desired;
    m->st.placed = wl->place.placed;
    m->st.unschedulable = wl->place.unschedulable;
    m->st.message = (char *)wl->place.message;
}

/* Workload w against namespace ns and name. */
static int wl_cmp(const Workload *w, const char *ns, const char *name)
{
    int c = strcmp(berth_namespace_or_default(w->namespace_), ns);

    return c ? c : strcmp(w->name, name);
}

static int by_name(const void *a, const void *b, void *data)
{
    const fleet *f = data;
    const Workload *y = f->workloads[*(const size_t *)b].w;

    return wl_cmp(f->workloads[*(const size_t *)a].w, berth_namespace_or_default(y->namespace_),
                  y->name);
}

/* The position of the workload of this key among the n workloads listed
 * by namespace and name in sorted, or n. */
static size_t wl_sorted_find(fleet *f, const size_t *sorted, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    const char *ns, *name = key_split(f, key, &ns);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = wl_cmp(f->workloads[sorted[mid]].w, ns, name);

        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

/* A Deployment's replica a (of revision r) on n in its status: Ready,
 * available, of the newest revision. */
static void rollout_counts(const fleet_workload *wl, const fleet_node *n, const fleet_assign *a,
                           const fleet_rs *r, int64_t now, WorkloadStatus *st)
{
    bool ready = n->rec.phase == NODE_READY && fleet_replica_ready(n, a, r->view);

    st->ready += ready;
    st->available += ready && fleet_assign_available(wl, a, now);
    st->updated += r == &wl->rs[wl->n_rs - 1];
}

/* Count the replicas of the workloads in v (listed by namespace and name
 * in v->order)
 * in one pass over the fleet's assignments: a listing of thousands of
 * replicas stays cheap. Then each Deployment's rollout. */
static void status_count(fleet *f, fleet_workloads *v, bool with_templates)
{
    int64_t now = berth_now_mono_ns();

    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *node = f->nodes[i];

        for (size_t a = 0; a < node->n_assign; a++) {
            const fleet_assign *as = &node->assign[a];
            size_t k = wl_sorted_find(f, v->order, v->n_workloads, as->workload);
            const fleet_workload *wl;
            const fleet_rs *r = NULL;
            WorkloadStatus *st;

            if (k == v->n_workloads)
                continue;
            st = &v->msgs[k].st;
            wl = &f->workloads[v->order[k]];
            if (fleet_has_revisions(wl->w->kind) && !(r = fleet_rs_find(wl, as->revision)))
                continue;
            replica_counts(node, as, r ? r->view : wl->w, &st->running, &st->failed,
                           &st->succeeded);
            if (r)
                rollout_counts(wl, node, as, r, now, st);
        }
    }
    for (size_t k = 0; k < v->n_workloads; k++)
        if (f->workloads[v->order[k]].w->kind == WORKLOAD_CRONJOB) {
            v->msgs[k].st.job = f->workloads[v->order[k]].job;
            v->msgs[k].st.active = fleet_cron_active(f, &f->workloads[v->order[k]]);
        } else if (f->workloads[v->order[k]].w->kind == WORKLOAD_JOB)
            fleet_job_status(&f->workloads[v->order[k]], &v->msgs[k].st,
                             with_templates ? NULL : &v->msgs[k].job);
        else if (fleet_has_revisions(f->workloads[v->order[k]].w->kind))
            fleet_rollout_status(f, &f->workloads[v->order[k]], &v->msgs[k].st, with_templates);
}

static void workloads_alloc(fleet_workloads *v, size_t n)
{
    v->msgs = berth_xcalloc(n + 1, sizeof(*v->msgs));
    v->workloads = berth_xcalloc(n + 1, sizeof(*v->workloads));
    v->order = berth_xcalloc(n + 1, sizeof(*v->order));
    v->n_workloads = 0;
}

/* Add the fleet's workload at (v->order stays sorted). */
static void workloads_add(fleet *f, fleet_workloads *v, size_t at)
{
    v->order[v->n_workloads] = at;
    wl_msg_fill(&f->workloads[at], &v->msgs[v->n_workloads]);
    v->workloads[v->n_workloads] = &v->msgs[v->n_workloads].w;
    v->n_workloads++;
}

void fleet_workloads_list(fleet *f, const ListWorkloadsRequest *in, fleet_workloads *ret)
{
    _cleanup_free_ size_t *sorted = berth_xcalloc(f->n_workloads + 1, sizeof(*sorted));

    workloads_alloc(ret, f->n_workloads);
    /* by namespace and name (the fleet keeps them oldest first) */
    for (size_t i = 0; i < f->n_workloads; i++)
        sorted[i] = i;
    qsort_r(sorted, f->n_workloads, sizeof(*sorted), by_name, f);
    for (size_t i = 0; i < f->n_workloads; i++) {
        const Workload *w = f->workloads[sorted[i]].w;

        if (*in->namespace_ &&
            strcmp(in->namespace_, berth_namespace_or_default(w->namespace_)) != 0)
            continue;
        if (selected(KVS(in->label_selector), in->n_label_selector, KVS(w->labels), w->n_labels))
            workloads_add(f, ret, sorted[i]);
    }
    status_count(f, ret, false);
}

int fleet_workloads_get(fleet *f, const char *key, fleet_workloads *ret, berth_error **err)
{
    const fleet_workload *wl = fleet_workload_find(f, key);
    const char *slash = strchr(key, '/');

    if (!wl && slash)
        return berth_error_set(err, ENOENT, "workload %.63s not found in namespace %.*s", slash + 1,
                               (int)(slash - key), key);
    if (!wl)
        return berth_error_set(err, ENOENT, "workload %.63s not found", key);
    workloads_alloc(ret, 1);
    workloads_add(f, ret, (size_t)(wl - f->workloads));
    status_count(f, ret, true);
    return 0;
}

void fleet_workloads_clear(fleet_workloads *v)
{
    for (size_t i = 0; v->msgs && i < v->n_workloads; i++)
        fleet_rollout_status_clear(&v->msgs[i].st);
    free(v->msgs);
    free(v->workloads);
    free(v->order);
    memset(v, 0, sizeof(*v));
}

/* ---- namespaces ---- */

void fleet_namespaces_list(fleet *f, fleet_namespaces *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->msgs = berth_xcalloc(f->n_namespaces + 1, sizeof(*ret->msgs));
    ret->namespaces = berth_xcalloc(f->n_namespaces + 1, sizeof(*ret->namespaces));
    for (size_t i = 0; i < f->n_namespaces; i++) {
        ret->msgs[i] = *f->namespaces[i];
        ret->msgs[i].workloads = 0;
        ret->namespaces[ret->n_namespaces++] = &ret->msgs[i];
    }
    /* (the answer is in the fleet's order) */
    for (size_t i = 0; i < f->n_workloads; i++) {
        bool found;
        size_t at = fleet_namespace_at(f, berth_namespace_or_default(f->workloads[i].w->namespace_),
                                       &found);

        if (found)
            ret->msgs[at].workloads++;
    }
}

void fleet_namespaces_clear(fleet_namespaces *v)
{
    free(v->msgs);
    free(v->namespaces);
    memset(v, 0, sizeof(*v));
}

/* ---- containers ---- */

static bool state_wanted(const ListContainersRequest *in, ContainerState s)
{
    if (in->n_states == 0)
        return true;
    for (size_t i = 0; i < in->n_states; i++)
        if (in->states[i] == s)
            return true;
    return false;
}

/* Add container id on n (assigned, reported, or both) if it passes the
 * filters; v->infos has room. */
static void container_add(fleet *f, fleet_containers *v, fleet_node *n, const char *id,
                          const ListContainersRequest *in)
{
    const fleet_assign *a = fleet_assign_of(f, n, id);
    ContainerStatus *s = fleet_status_find(n, id);
    const char *ns = "", *workload = a ? key_split(f, a->workload, &ns) : "";
    ContainerInfo *ci;

    if ((*in->workload || *in->namespace_) &&
        (!a || !key_matches(a->workload, in->namespace_, in->workload)))
        return;
    if (!state_wanted(in, s ? s->state : CONTAINER_PENDING))
        return;
    ci = &v->infos[v->n_containers];
    container_info_init(ci);
    ci->node = n->rec.name;
    ci->workload = (char *)workload;
    ci->namespace_ = (char *)ns;
    /* without its spec only while the fleet is inconsistent
     * (fleet_assign_specs): the rest of the listing still holds */
    ci->spec = a ? fleet_container_spec(f, n, a, id) : NULL;
    if (!s) {
        s = &v->pending[v->n_containers];
        container_status_init(s);
        s->id = (char *)id;
        s->state = CONTAINER_PENDING;
        s->reason = "NotReported";
        s->message = "assigned, not reported by the node yet";
    }
    ci->status = s;
    v->containers[v->n_containers++] = ci;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids of the containers a runs: its own, or its pod's ("<pod>_<name>"),
 * appended to v->ids. *cache: the last workload looked up. */
static void assign_ids(fleet *f, const fleet_assign *a, const fleet_workload **cache,
                       fleet_containers *v, size_t *cap)
{
    const fleet_workload *wl = *cache;
    const Workload *w = NULL;
    size_t count;

    if (!wl || strcmp(wl->key, a->workload) != 0)
        *cache = wl = fleet_workload_find(f, a->workload);
    if (wl && fleet_has_revisions(wl->w->kind)) {
        const fleet_rs *r = fleet_rs_find(wl, a->revision);

        w = r ? r->view : NULL;
    } else if (wl) {
        w = wl->w;
    }
    count = w ? berth_pod_size(w) : 1;
    if (v->n_ids + count > *cap) {
        *cap = (v->n_ids + count) * 2;
        v->ids = berth_xreallocarray(v->ids, *cap, sizeof(*v->ids));
    }
    if (!w || !w->pod) {
        v->ids[v->n_ids++] = berth_xstrdup(a->id);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        PodRole role;
        uint32_t index;

        v->ids[v->n_ids++] = berth_xasprintf(
            "%s_%s", a->id, berth_container_name(berth_pod_container(w, i, &role, &index)));
    }
}

/* Every container matching in (and with this id, when not NULL), by node,
 * then id: those assigned (each container of a pod) and those reported. */
static void containers_collect(fleet *f, const ListContainersRequest *in, const char *id,
                               fleet_containers *v)
{
    const fleet_workload *cache = NULL;
    size_t cap = 0, *node_end = berth_xcalloc(f->n_nodes + 1, sizeof(*node_end));

    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];
        size_t start = v->n_ids, kept = start;

        node_end[i] = start;
        if (*in->node && strcmp(in->node, n->rec.name) != 0)
            continue;
        for (size_t a = 0; a < n->n_assign; a++)
            assign_ids(f, &n->assign[a], &cache, v, &cap);
        if (v->n_ids + n->n_status > cap) {
            cap = (v->n_ids + n->n_status) * 2;
            v->ids = berth_xreallocarray(v->ids, cap, sizeof(*v->ids));
        }
        for (size_t s = 0; s < n->n_status; s++)
            v->ids[v->n_ids++] = berth_xstrdup(n->status[s]->id);
        if (v->n_ids > start)
            qsort(v->ids + start, v->n_ids - start, sizeof(*v->ids), str_cmp);
        /* once each, and only the one asked for */
        for (size_t k = start; k < v->n_ids; k++) {
            if ((kept > start && strcmp(v->ids[kept - 1], v->ids[k]) == 0) ||
                (id && strcmp(id, v->ids[k]) != 0)) {
                free(v->ids[k]);
                continue;
            }
            v->ids[kept++] = v->ids[k];
        }
        v->n_ids = kept;
        node_end[i] = kept;
    }
    v->infos = berth_xcalloc(v->n_ids + 1, sizeof(*v->infos));
    v->containers = berth_xcalloc(v->n_ids + 1, sizeof(*v->containers));
    v->pending = berth_xcalloc(v->n_ids + 1, sizeof(*v->pending));
    for (size_t i = 0, k = 0; i < f->n_nodes; i++)
        for (; k < node_end[i]; k++)
            container_add(f, v, f->nodes[i], v->ids[k], in);
    free(node_end);
}

void fleet_containers_list(fleet *f, const ListContainersRequest *in, fleet_containers *ret)
{
    containers_collect(f, in, NULL, ret);
}

static int not_found(const char *id, const char *node, berth_error **err)
{
    return berth_error_set(err, ENOENT, "container %.63s not found%s%.63s", id, *node ? " on " : "",
                           node);
}

static int on_two(const char *id, const char *one, const char *other, berth_error **err)
{
    return berth_error_set(err, EBUSY, "container %s is on %s and %s: name the node", id, one,
                           other);
}

int fleet_containers_get(fleet *f, const char *id, const char *node, fleet_containers *ret,
                         berth_error **err)
{
    ListContainersRequest q = LIST_CONTAINERS_REQUEST_INIT;
    fleet_containers v = { 0 };

    q.node = (char *)node;
    containers_collect(f, &q, id, &v);
    if (v.n_containers == 1) {
        *ret = v;
        return 0;
    }
    if (v.n_containers == 0)
        not_found(id, node, err);
    else
        on_two(id, v.infos[0].node, v.infos[1].node, err);
    fleet_containers_clear(&v);
    return -1;
}

void fleet_containers_clear(fleet_containers *v)
{
    for (size_t i = 0; i < v->n_containers; i++)
        if (v->infos[i].spec)
            container_spec_free_unpacked(v->infos[i].spec, NULL);
    free(v->infos);
    free(v->containers);
    free(v->pending);
    for (size_t i = 0; i < v->n_ids; i++)
        free(v->ids[i]);
    free(v->ids);
    memset(v, 0, sizeof(*v));
}

int fleet_container_agent(fleet *f, const char *id, const char *node, fleet_agent *ret,
                          berth_error **err)
{
    fleet_node *found = NULL;

    if (!berth_spec_id_valid(id) || (*node && !fleet_node_find(f, node)))
        return not_found(id, node, err);
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        if (*node && strcmp(node, n->rec.name) != 0)
            continue;
        if (!fleet_assign_of(f, n, id) && !fleet_status_find(n, id))
            continue;
        if (found)
            return on_two(id, found->rec.name, n->rec.name, err);
        found = n;
    }
    if (!found)
        return not_found(id, node, err);
    if (!found->rec.info || !*found->rec.info->agent_address)
        return berth_error_set(err, EAGAIN,
                               "node %s serves no Agent endpoint (its agent_address is empty)",
                               found->rec.name);
    ret->node = found->rec.name;
    ret->who = found->who;
    ret->address = found->rec.info->agent_address;
    return 0;
}

/* ---- pods ---- */

static ContainerInfo *pod_container(const fleet_node *n, const Workload *w, ContainerSpec *spec,
                                    const ContainerStatus *st, const char *id)
{
    ContainerInfo *ci = berth_xcalloc(1, sizeof(*ci));

    container_info_init(ci);
    ci->node = berth_xstrdup(n->rec.name);
    ci->workload = berth_xstrdup(w->name);
    ci->namespace_ = berth_xstrdup(berth_namespace_or_default(w->namespace_));
    ci->spec = spec;
    if (st) {
        ci->status = BERTH_PB_COPY(ContainerStatus, st);
    } else {
        ci->status = berth_xcalloc(1, sizeof(*ci->status));
        container_status_init(ci->status);
        ci->status->id = berth_xstrdup(id);
        ci->status->state = CONTAINER_PENDING;
        ci->status->reason = berth_xstrdup("NotReported");
        ci->status->message = berth_xstrdup("assigned, not reported by the node yet");
    }
    return ci;
}

static PodCondition *condition(const char *type, bool status, const char *reason,
                               const char *message)
{
    PodCondition *c = berth_xcalloc(1, sizeof(*c));

    pod_condition_init(c);
    c->type = berth_xstrdup(type);
    c->status = status;
    c->reason = berth_xstrdup(status ? "" : reason);
    c->message = berth_xstrdup(status ? "" : message);
    return c;
}

/* Kubernetes' owner of replica a (a new string): "ReplicaSet/<its
 * revision>", "DaemonSet/<name>", "Job/<name>"; "" for a Pod. */
static char *controlled_by(const fleet_workload *wl, const fleet_assign *a)
{
    const fleet_rs *rs = wl->w->kind == WORKLOAD_DEPLOYMENT ? fleet_rs_find(wl, a->revision) : NULL;

    switch (wl->w->kind) {
    case WORKLOAD_DEPLOYMENT:
        return berth_xasprintf("ReplicaSet/%s", rs ? rs->prefix : wl->w->name);
    case WORKLOAD_DAEMONSET:
    case WORKLOAD_JOB:
        return berth_xasprintf("%s/%s", berth_workload_kind_name(wl->w->kind), wl->w->name);
    default:
        return berth_xstrdup("");
    }
}

/* The Pod of assignment a on n (a new message), NULL while the fleet is
 * inconsistent (its workload gone). */
static Pod *pod_make(fleet *f, const fleet_node *n, const fleet_assign *a)
{
    const fleet_workload *wl = fleet_workload_find(f, a->workload);
    const Workload *w = fleet_assign_workload(f, a);
    ContainerSpec **specs = NULL;
    size_t count = 0;
    berth_pod_view v;
    pod_parts parts;
    Pod *p;

    if (!wl || !w || fleet_assign_specs(f, n, a, &specs, &count, NULL) < 0)
        return NULL;
    pod_parts_of(n, a, w, &parts);
    berth_pod_view_make(parts.e, parts.n, parts.policy, n->rec.phase == NODE_DOWN, &v);
    p = berth_xcalloc(1, sizeof(*p));
    pod_init(p);
    p->name = berth_xstrdup(berth_id_split(a->id, NULL));
    p->namespace_ = berth_xstrdup(berth_namespace_or_default(wl->w->namespace_));
    p->node = berth_xstrdup(n->rec.name);
    p->workload = berth_xstrdup(wl->w->name);
    p->controlled_by = controlled_by(wl, a);
    p->phase = berth_xstrdup(v.phase);
    p->status = berth_xstrdup(v.status);
    p->ready = v.n_ready;
    p->total = v.total;
    p->restarts = v.restarts;
    p->created_unix_ns = v.created_ns;
    /* the pod's address, as its containers report it */
    p->ip = berth_xstrdup("");
    for (size_t i = 0; i < parts.n; i++)
        if (parts.e[i].status && *parts.e[i].status->pod_ip) {
            free(p->ip);
            p->ip = berth_xstrdup(parts.e[i].status->pod_ip);
            break;
        }
    p->conditions = berth_xcalloc(4, sizeof(*p->conditions));
    p->conditions[p->n_conditions++] = condition("PodScheduled", true, "", "");
    p->conditions[p->n_conditions++] =
        condition("Initialized", v.initialized, "ContainersNotInitialized",
                  "containers with incomplete status: init containers");
    p->conditions[p->n_conditions++] =
        condition("ContainersReady", v.ready, v.reason ? v.reason : "", v.message);
    p->conditions[p->n_conditions++] =
        condition("Ready", v.ready, v.reason ? v.reason : "", v.message);
    p->init_containers = berth_xcalloc(count + 1, sizeof(*p->init_containers));
    p->containers = berth_xcalloc(count + 1, sizeof(*p->containers));
    for (size_t i = 0; i < count && i < parts.n; i++) {
        ContainerInfo *ci = pod_container(n, w, specs[i], parts.e[i].status, parts.ids[i]);

        specs[i] = NULL;
        if (parts.e[i].role == POD_ROLE_APP)
            p->containers[p->n_containers++] = ci;
        else
            p->init_containers[p->n_init_containers++] = ci;
    }
    berth_specs_free(specs, count);
    return p;
}

static int pod_cmp(const void *a, const void *b)
{
    const Pod *x = *(Pod *const *)a, *y = *(Pod *const *)b;
    int c = strcmp(x->namespace_, y->namespace_);

    c = c ? c : strcmp(x->name, y->name);
    return c ? c : strcmp(x->node, y->node);
}

/* Every pod matching in (and named name, when not NULL), sorted. */
static void pods_collect(fleet *f, const ListPodsRequest *in, const char *name, fleet_pods *v)
{
    size_t total = 0;

    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < f->n_nodes; i++)
        total += f->nodes[i]->n_assign;
    v->pods = berth_xcalloc(total + 1, sizeof(*v->pods));
    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *n = f->nodes[i];

        if (*in->node && strcmp(in->node, n->rec.name) != 0)
            continue;
        for (size_t k = 0; k < n->n_assign; k++) {
            const fleet_assign *a = &n->assign[k];
            Pod *p;

            if (!key_matches(a->workload, in->namespace_, in->workload) ||
                (name && strcmp(name, a->id) != 0))
                continue;
            if ((p = pod_make(f, n, a)))
                v->pods[v->n_pods++] = p;
        }
    }
    qsort(v->pods, v->n_pods, sizeof(*v->pods), pod_cmp);
}

void fleet_pods_list(fleet *f, const ListPodsRequest *in, fleet_pods *ret)
{
    pods_collect(f, in, NULL, ret);
}

int fleet_pods_get(fleet *f, const char *ns, const char *name, const char *node, fleet_pods *ret,
                   berth_error **err)
{
    ListPodsRequest q = LIST_PODS_REQUEST_INIT;
    char id[BERTH_ID_BUF];

    q.node = (char *)node;
    berth_id_join(ns, name, id);
    pods_collect(f, &q, id, ret);
    if (ret->n_pods == 1)
        return 0;
    if (ret->n_pods == 0)
        berth_error_set(err, ENOENT, "pod %.127s not found%s%.63s%s%.63s", name,
                        berth_namespace_is_default(ns) ? "" : " in namespace ",
                        berth_namespace_is_default(ns) ? "" : ns, *node ? " on " : "", node);
    else
        berth_error_set(err, EBUSY, "pod %s is on %s and %s: name the node", name,
                        ret->pods[0]->node, ret->pods[1]->node);
    fleet_pods_clear(ret);
    return -1;
}

void fleet_pods_clear(fleet_pods *v)
{
    for (size_t i = 0; i < v->n_pods; i++)
        pod_free_unpacked(v->pods[i], NULL);
    free(v->pods);
    memset(v, 0, sizeof(*v));
}

/* ---- metrics ---- */

void fleet_usage_list(fleet *f, const TopRequest *in, fleet_usage *ret)
{
    size_t total = 0;

    for (size_t i = 0; i < f->n_nodes; i++)
        total += f->nodes[i]->n_samples;
    memset(ret, 0, sizeof(*ret));
    ret->node_usage = berth_xcalloc(f->n_nodes + 1, sizeof(*ret->node_usage));
    ret->container_usage = berth_xcalloc(total + 1, sizeof(*ret->container_usage));
    ret->nodes = berth_xcalloc(f->n_nodes + 1, sizeof(*ret->nodes));
    ret->containers = berth_xcalloc(total + 1, sizeof(*ret->containers));
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        if (*in->node && strcmp(in->node, n->rec.name) != 0)
            continue;
        for (size_t k = 0; k < n->n_samples; k++) {
            const fleet_sample *s = &n->samples[k];
            const fleet_assign *a = *s->id ? fleet_assign_of(f, n, s->id) : NULL;

            if (!*s->id && !*in->workload && !*in->namespace_) {
                NodeUsage *u = &ret->node_usage[ret->n_nodes];

                node_usage_init(u);
                u->node = n->rec.name;
                u->sample = s->last;
                u->cpu_millis = fleet_sample_cpu_millis(s);
                u->capacity = n->rec.info ? n->rec.info->capacity : NULL;
                ret->nodes[ret->n_nodes++] = u;
            } else if (*s->id && ((!*in->workload && !*in->namespace_) ||
                                  (a && key_matches(a->workload, in->namespace_, in->workload)))) {
                ContainerUsage *u = &ret->container_usage[ret->n_containers];
                const char *ns = "";

                container_usage_init(u);
                u->node = n->rec.name;
                u->workload = a ? (char *)key_split(f, a->workload, &ns) : "";
                u->namespace_ = (char *)ns;
                u->sample = s->last;
                u->cpu_millis = fleet_sample_cpu_millis(s);
                ret->containers[ret->n_containers++] = u;
            }
        }
    }
}

void fleet_usage_clear(fleet_usage *v)
{
    free(v->node_usage);
    free(v->container_usage);
    free(v->nodes);
    free(v->containers);
    memset(v, 0, sizeof(*v));
}

/* ---- events ---- */

typedef struct event_take {
    fleet_events *v;
    size_t cap;
} event_take;

static int take_event(void *data, Event *e)
{
    event_take *t = data;

    if (t->v->n_events == t->cap)
        event_free_unpacked(e, NULL);
    else
        t->v->events[t->v->n_events++] = e;
    return 0;
}

int fleet_events_list(fleet *f, const ListEventsRequest *in, fleet_events *ret, berth_error **err)
{
    fleet_events v = { 0 };
    event_take t = { &v, in->limit ? in->limit : EVENTS_DEFAULT };

    if (t.cap > BERTH_STORE_EVENTS_MAX)
        t.cap = BERTH_STORE_EVENTS_MAX;
    v.events = berth_xcalloc(t.cap, sizeof(*v.events));
    if (berth_store_events_list(f->cfg.store, in->object_kind, in->object_name, (uint32_t)t.cap,
                                in->after_id, take_event, &t, err) < 0) {
        fleet_events_clear(&v);
        return -1;
    }
    *ret = v;
    return 0;
}

void fleet_events_clear(fleet_events *v)
{
    for (size_t i = 0; i < v->n_events; i++)
        event_free_unpacked(v->events[i], NULL);
    free(v->events);
    memset(v, 0, sizeof(*v));
}
