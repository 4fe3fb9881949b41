/* PodDisruptionBudgets in the fleet: kept by key, loaded, applied and
 * deleted with the workloads (fleet.c calls in), their status counted from
 * the replicas as they are now, and evictions (Kubernetes' Eviction API):
 * a replica the budget that selects it can spare moves to another node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "budget.h"
#include "fleet-internal.h"
#include "pb/pb.h"

static const char *budget_key(const void *item)
{
    return ((const fleet_budget *)item)->key;
}

static size_t budget_at(fleet *f, const char *key, bool *ret_found)
{
    return fleet_sorted_pos((void *const *)f->budgets, f->n_budgets, budget_key, key, ret_found);
}

fleet_budget *fleet_budget_find(fleet *f, const char *key)
{
    bool found;
    size_t at = budget_at(f, key, &found);

    return found ? f->budgets[at] : NULL;
}

static void budget_free(fleet_budget *fb)
{
    pod_disruption_budget_free_unpacked(fb->b, NULL);
    free(fb);
}

void fleet_budget_put(fleet *f, PodDisruptionBudget *b)
{
    char key[BERTH_WORKLOAD_KEY_BUF];
    fleet_budget *fb;
    bool found;
    size_t at;

    berth_workload_key(b->namespace_, b->name, key);
    at = budget_at(f, key, &found);
    if (found) {
        pod_disruption_budget_free_unpacked(f->budgets[at]->b, NULL);
        f->budgets[at]->b = b;
        return;
    }
    fb = berth_xcalloc(1, sizeof(*fb));
    snprintf(fb->key, sizeof(fb->key), "%s", key);
    fb->b = b;
    f->budgets = berth_xreallocarray(f->budgets, f->n_budgets + 1, sizeof(*f->budgets));
    memmove(&f->budgets[at + 1], &f->budgets[at], (f->n_budgets - at) * sizeof(*f->budgets));
    f->budgets[at] = fb;
    f->n_budgets++;
}

void fleet_budget_remove(fleet *f, const char *key)
{
    bool found;
    size_t at = budget_at(f, key, &found);

    if (!found)
        return;
    budget_free(f->budgets[at]);
    memmove(&f->budgets[at], &f->budgets[at + 1], (f->n_budgets - at - 1) * sizeof(*f->budgets));
    f->n_budgets--;
}

void fleet_budgets_free(fleet *f)
{
    for (size_t i = 0; i < f->n_budgets; i++)
        budget_free(f->budgets[i]);
    free(f->budgets);
    f->budgets = NULL;
    f->n_budgets = 0;
}

static int load_budget(void *data, const char *key, PodDisruptionBudget *b)
{
    (void)key;
    fleet_budget_put(data, b);
    return 0;
}

int fleet_budgets_load(fleet *f, berth_error **err)
{
    return berth_store_budgets_load(f->cfg.store, load_budget, f, err);
}

/* The operator's part of a budget: its spec and labels. */
static bool same_spec(const PodDisruptionBudget *a, const PodDisruptionBudget *b)
{
    PodDisruptionBudget x = *a, y = *b;

    x.generation = y.generation = 0;
    x.created_unix_ns = y.created_unix_ns = x.updated_unix_ns = y.updated_unix_ns = 0;
    x.source = y.source = (char *)protobuf_c_empty_string;
    x.status = y.status = NULL;
    return berth_pb_equal(&x.base, &y.base);
}

ApplyAction fleet_budget_action(fleet *f, const PodDisruptionBudget *b, int64_t now,
                                PodDisruptionBudget **ret_copy)
{
    char key[BERTH_WORKLOAD_KEY_BUF];
    const fleet_budget *existing;
    PodDisruptionBudget *c;

    berth_workload_key(b->namespace_, b->name, key);
    existing = fleet_budget_find(f, key);
    *ret_copy = NULL;
    if (existing && same_spec(existing->b, b))
        return APPLY_UNCHANGED;
    c = BERTH_PB_COPY(PodDisruptionBudget, b);
    c->generation = existing ? existing->b->generation + 1 : 1;
    c->created_unix_ns = existing ? existing->b->created_unix_ns : now;
    c->updated_unix_ns = now;
    *ret_copy = c;
    return existing ? APPLY_CONFIGURED : APPLY_CREATED;
}

/* ---- status ---- */

static const char *spec_label(const void *labels, const char *key)
{
    const ContainerSpec *s = labels;

    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i]->key, key) == 0)
            return s->labels[i]->value;
    return NULL;
}

/* A replica as a budget sees it. */
typedef struct pod_ref {
    fleet_node *node;
    fleet_assign *a;
    const fleet_workload *wl;
    const Workload *w; /* what it runs (a revision's view) */
} pod_ref;

static bool pod_selected(const PodDisruptionBudget *b, const pod_ref *p)
{
    return strcmp(berth_namespace_or_default(p->wl->w->namespace_), b->namespace_) == 0 &&
           p->w->template_ && berth_selector_matches(b->selector, spec_label, p->w->template_);
}

static bool pod_ended(const pod_ref *p)
{
    return p->wl->w->kind == WORKLOAD_JOB ? fleet_job_done(p->wl, p->a->replica)
                                          : fleet_replica_done(p->node, p->a, p->w);
}

/* Healthy as the disruption controller counts it: Ready, on a node whose
 * word is current. */
static bool pod_healthy(const pod_ref *p)
{
    return p->node->rec.phase == NODE_READY && fleet_replica_ready(p->node, p->a, p->w);
}

/* Call fn for every replica the fleet places (those whose workload is
 * gone are passed over). */
static void each_pod(fleet *f, void (*fn)(void *data, const pod_ref *p), void *data)
{
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        for (size_t k = 0; k < n->n_assign; k++) {
            pod_ref p = { n, &n->assign[k], fleet_workload_find(f, n->assign[k].workload), NULL };

            if (!p.wl || !(p.w = fleet_assign_workload(f, p.a)))
                continue;
            fn(data, &p);
        }
    }
}

typedef struct counting {
    const PodDisruptionBudget *b;
    berth_budget_pods pods;
    /* the controllers met: their scale counted once each */
    const fleet_workload **seen;
    size_t n_seen, cap_seen;
    uint32_t *job_pods;         /* per seen workload: a Job's running pods */
    DisruptionBudgetStatus *st; /* unhealthy pods listed here when set */
} counting;

#define UNHEALTHY_LISTED_MAX 20

static void count_pod(void *data, const pod_ref *p)
{
    counting *c = data;
    size_t i;

    if (!pod_selected(c->b, p) || pod_ended(p))
        return;
    c->pods.pods++;
    if (pod_healthy(p)) {
        c->pods.healthy++;
    } else if (c->st && c->st->n_unhealthy < UNHEALTHY_LISTED_MAX) {
        char line[BERTH_ID_BUF + BERTH_NAME_MAX + 8];

        snprintf(line, sizeof(line), "%s on %s", berth_id_split(p->a->id, NULL), p->node->rec.name);
        c->st->unhealthy[c->st->n_unhealthy++] = berth_xstrdup(line);
    }
    for (i = 0; i < c->n_seen && c->seen[i] != p->wl; i++)
        ;
    if (i == c->n_seen) {
        if (c->n_seen == c->cap_seen) {
            c->cap_seen = c->cap_seen ? 2 * c->cap_seen : 8;
            c->seen = berth_xreallocarray(c->seen, c->cap_seen, sizeof(*c->seen));
            c->job_pods = berth_xreallocarray(c->job_pods, c->cap_seen, sizeof(*c->job_pods));
        }
        c->seen[c->n_seen] = p->wl;
        c->job_pods[c->n_seen++] = 0;
    }
    c->job_pods[i]++;
}

/* The replicas a controller wants: a Deployment's replicas, a DaemonSet's
 * nodes (its pods, as its desiredNumberScheduled), a Job's running pods
 * (it has no scale: what runs), 1 for a Pod. */
static uint32_t controller_scale(const fleet_workload *wl, uint32_t pods_seen)
{
    switch (wl->w->kind) {
    case WORKLOAD_DEPLOYMENT:
        return wl->w->replicas;
    case WORKLOAD_POD:
        return 1;
    default:
        return pods_seen;
    }
}

/* b's status as the replicas are now (the unhealthy ones listed when
 * with_unhealthy). */
static void budget_status(fleet *f, const PodDisruptionBudget *b, DisruptionBudgetStatus *st,
                          bool with_unhealthy)
{
    counting c = { .b = b };

    if (with_unhealthy) {
        st->unhealthy = berth_xcalloc(UNHEALTHY_LISTED_MAX, sizeof(*st->unhealthy));
        c.st = st;
    }
    each_pod(f, count_pod, &c);
    for (size_t i = 0; i < c.n_seen; i++)
        c.pods.scale += controller_scale(c.seen[i], c.job_pods[i]);
    berth_budget_status(b, &c.pods, st);
    free(c.seen);
    free(c.job_pods);
}

int fleet_budgets_list(fleet *f, const char *ns, const char *name, PodDisruptionBudget ***ret,
                       size_t *ret_n, berth_error **err)
{
    PodDisruptionBudget **v = berth_xcalloc(f->n_budgets + 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < f->n_budgets; i++) {
        const PodDisruptionBudget *b = f->budgets[i]->b;
        PodDisruptionBudget *c;

        if ((ns && *ns && strcmp(b->namespace_, ns) != 0) ||
            (name && *name && strcmp(b->name, name) != 0))
            continue;
        c = BERTH_PB_COPY(PodDisruptionBudget, b);
        c->status = berth_xcalloc(1, sizeof(*c->status));
        disruption_budget_status_init(c->status);
        budget_status(f, b, c->status, true);
        v[n++] = c;
    }
    if (n == 0 && name && *name) {
        free(v);
        return berth_error_set(err, ENOENT, "poddisruptionbudget %.60s not found%s%.63s", name,
                               ns && *ns ? " in namespace " : "", ns && *ns ? ns : "");
    }
    /* by namespace, then name: the keys' order is by "<ns>/" with the
     * default namespace's bare names first */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            int c = strcmp(v[j - 1]->namespace_, v[j]->namespace_);

            if (c < 0 || (c == 0 && strcmp(v[j - 1]->name, v[j]->name) <= 0))
                break;
            PodDisruptionBudget *t = v[j - 1];
            v[j - 1] = v[j];
            v[j] = t;
        }
    *ret = v;
    *ret_n = n;
    return 0;
}

/* ---- eviction ---- */

typedef struct finding {
    const char *id;
    const char *node; /* "" or NULL: any */
    pod_ref found[2];
    size_t n;
} finding;

static void find_pod(void *data, const pod_ref *p)
{
    finding *fd = data;

    if (strcmp(p->a->id, fd->id) != 0 ||
        (fd->node && *fd->node && strcmp(p->node->rec.name, fd->node) != 0))
        return;
    if (fd->n < 2)
        fd->found[fd->n] = *p;
    fd->n++;
}

int fleet_evict(fleet *f, const EvictPodRequest *in, const char *by, char *ret_node,
                size_t node_size, bool *ret_ended, berth_error **err)
{
    const char *ns = berth_namespace_or_default(in->namespace_);
    _cleanup_error_ berth_error *place_err = NULL;
    const fleet_budget *budget = NULL;
    char id[BERTH_ID_BUF], why[400], key[BERTH_WORKLOAD_KEY_BUF], budget_name[BERTH_ID_BUF] = "";
    finding fd = { .id = id, .node = in->node };
    char node[BERTH_NAME_MAX + 1];
    const pod_ref *p;
    const char *phase;
    uint32_t restarts;

    if (!*in->name || strlen(in->name) >= BERTH_ID_BUF || strstr(in->name, BERTH_NAMESPACE_SEP))
        return berth_error_set(err, EINVAL, "'%.70s' is not a pod's name", in->name);
    if (!berth_namespace_is_default(ns) && !berth_namespace_name_valid(ns))
        return berth_error_set(err, EINVAL, "'%.70s' is not a namespace's name", ns);
    berth_id_join(ns, in->name, id);
    each_pod(f, find_pod, &fd);
    if (fd.n == 0)
        return berth_error_set(err, ENOENT, "pod %.127s not found%s%.63s%s%.63s", in->name,
                               berth_namespace_is_default(ns) ? "" : " in namespace ",
                               berth_namespace_is_default(ns) ? "" : ns, *in->node ? " on " : "",
                               in->node);
    if (fd.n > 1)
        return berth_error_set(err, EBUSY, "pod %s is on %s and %s: name the node", in->name,
                               fd.found[0].node->rec.name, fd.found[1].node->rec.name);
    p = &fd.found[0];
    snprintf(node, sizeof(node), "%s", p->node->rec.name);
    if (p->wl->w->kind == WORKLOAD_DAEMONSET)
        return berth_error_set(err, EBUSY,
                               "pod %s is a DaemonSet's: evicted, it would run again on %s "
                               "(node drain leaves it)",
                               in->name, p->node->rec.name);
    /* Kubernetes' canIgnorePDB: a pod that ended has nothing to disrupt
     * (it stays where it ran, with its log), one that is Pending serves
     * nobody yet (it moves) */
    phase = fleet_replica_phase(p->node, p->a, p->w, &restarts);
    if (pod_ended(p) || strcmp(phase, "Failed") == 0 || p->a->evicted) {
        *ret_ended = !p->a->evicted;
        snprintf(ret_node, node_size, "%s", node);
        return 0;
    }
    for (size_t i = 0; i < f->n_budgets && strcmp(phase, "Pending") != 0; i++) {
        if (!pod_selected(f->budgets[i]->b, p))
            continue;
        if (budget)
            return berth_error_set(err, EBUSY,
                                   "This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support (%s and %s)",
                                   budget->b->name, f->budgets[i]->b->name);
        budget = f->budgets[i];
    }
    if (budget) {
        DisruptionBudgetStatus st = DISRUPTION_BUDGET_STATUS_INIT;
        bool allowed;

        budget_status(f, budget->b, &st, true);
        allowed = berth_budget_allows(budget->b, &st, pod_healthy(p), why, sizeof(why));
        if (!allowed && st.n_unhealthy) {
            size_t len = strlen(why);

            snprintf(why + len, sizeof(why) - len, "; not Ready: %s%s", st.unhealthy[0],
                     st.n_unhealthy > 1 ? " and more" : "");
        }
        for (size_t i = 0; i < st.n_unhealthy; i++)
            free(st.unhealthy[i]);
        free(st.unhealthy);
        if (!allowed)
            return berth_error_set(err, EDQUOT, "%s", why);
    }
    /* Allowed: the next placement moves it (durably, in its transaction). */
    snprintf(key, sizeof(key), "%s", p->wl->key);
    if (budget)
        snprintf(budget_name, sizeof(budget_name), "%s", budget->b->name);
    p->a->evicted = true;
    if (fleet_reconcile(f, &place_err) < 0) {
        p->a->evicted = false;
        *err = TAKE_PTR(place_err);
        return berth_error_prefix(err, "evict %s", in->name);
    }
    fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "Evicted",
                "pod %s evicted from node %s by operator %s%s%s", in->name, node, by,
                *budget_name ? " under PodDisruptionBudget " : "", budget_name);
    *ret_ended = false;
    snprintf(ret_node, node_size, "%s", node);
    return 0;
}
