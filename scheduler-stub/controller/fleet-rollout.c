/* Deployments' revisions and rollouts (fleet-internal.h), as Kubernetes'
 * deployment controller keeps them: each template a Deployment has had is
 * a revision (a ReplicaSet, named by its pod-template-hash) with its own
 * replicas "<deployment>-<hash>-<index>", so old and new replicas run side
 * by side; each step (rollout.h) moves replicas from the old revisions to
 * the newest as fast as maxSurge and maxUnavailable allow, counting only
 * replicas the controller has seen Ready for minReadySeconds. Steps run
 * before every placement and soon after a replica's readiness changes. */
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
#include "rollout.h"

/* Readiness changes are taken in this long after the first of a burst. */
#define ROLLOUT_SOON_NS (100 * 1000000LL)
/* A step that could not be stored is tried again this soon. */
#define ROLLOUT_RETRY_NS          (1000 * 1000000LL)
#define PROGRESS_DEADLINE_DEFAULT 600
#define REVISION_HISTORY_DEFAULT  10
#define REVISION_HISTORY_MAX      100
#define NS_PER_S                  1000000000LL
/* Kubernetes' rand.SafeEncodeString alphabet: no vowels, no 0, 1, 3. */
static const char hash_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
/* The label each replica of a revision carries, as Kubernetes'. */
#define LABEL_POD_TEMPLATE_HASH "pod-template-hash"
/* A DaemonSet's replicas', as Kubernetes' (its ControllerRevision's). */
#define LABEL_CONTROLLER_REVISION_HASH "controller-revision-hash"

/* ---- revisions ---- */

/* The pod template of w: what a revision is made of. A new message. */
static Workload *pod_template_of(const Workload *w)
{
    Workload x = WORKLOAD_INIT;

    x.template_ = w->template_;
    x.pod = w->pod;
    x.n_node_selector = w->n_node_selector;
    x.node_selector = w->node_selector;
    x.node_name = w->node_name;
    x.n_node_affinity = w->n_node_affinity;
    x.node_affinity = w->node_affinity;
    x.n_tolerations = w->n_tolerations;
    x.tolerations = w->tolerations;
    x.restarted_at = w->restarted_at;
    return BERTH_PB_COPY(Workload, &x);
}

/* Kubernetes' ComputeHash: FNV-1a (32 bits) of the template, and of the
 * collision count when there is one, written in decimal and each digit
 * mapped into the safe alphabet. */
static void template_hash(const Workload *tmpl, uint32_t collisions, char ret[FLEET_HASH_BUF])
{
    size_t len;
    _cleanup_free_ uint8_t *buf = berth_pb_pack(&tmpl->base, &len);
    uint32_t h = 2166136261u;
    char digits[FLEET_HASH_BUF];
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ buf[i]) * 16777619u;
    for (i = 0; collisions && i < 4; i++)
        h = (h ^ (uint8_t)(collisions >> (8 * i))) * 16777619u;
    snprintf(digits, sizeof(digits), "%" PRIu32, h);
    for (i = 0; digits[i]; i++)
        ret[i] = hash_alphabet[(unsigned char)digits[i] % (sizeof(hash_alphabet) - 1)];
    ret[i] = '\0';
}

static void label_containers(Workload *v, const char *label, const char *hash)
{
    for (size_t i = 0; i < berth_pod_size(v); i++) {
        PodRole role;
        uint32_t index;

        berth_pb_map_set(&((ContainerSpec *)berth_pod_container(v, i, &role, &index))->base,
                         "labels", label, hash);
    }
}

/* r's view (fleet_rs.view) and prefix, for the Deployment w. */
static void rs_dress(fleet_rs *r, const Workload *w)
{
    Workload *v = r->rs->template_ ? BERTH_PB_COPY(Workload, r->rs->template_) : NULL;

    if (!v) { /* a damaged row: runs the Deployment's template */
        v = pod_template_of(w);
    }
    free(v->name == protobuf_c_empty_string ? NULL : v->name);
    v->name = berth_xstrdup(w->name);
    free(v->namespace_ == protobuf_c_empty_string ? NULL : v->namespace_);
    v->namespace_ = berth_xstrdup(w->namespace_);
    v->kind = w->kind;
    if (*r->rs->hash && v->template_)
        label_containers(v,
                         w->kind == WORKLOAD_DAEMONSET ? LABEL_CONTROLLER_REVISION_HASH
                                                       : LABEL_POD_TEMPLATE_HASH,
                         r->rs->hash);
    if (r->view)
        workload_free_unpacked(r->view, NULL);
    r->view = v;
    if (*r->rs->hash)
        snprintf(r->prefix, sizeof(r->prefix), "%s-%s", w->name, r->rs->hash);
    else
        snprintf(r->prefix, sizeof(r->prefix), "%s", w->name);
}

static int rs_by_revision(const void *a, const void *b)
{
    const fleet_rs *x = a, *y = b;

    return x->revision < y->revision ? -1 : x->revision > y->revision;
}

/* Take rs (owned) into wl's revisions, its state as stored. */
static void rs_add(fleet_workload *wl, ReplicaSet *rs, bool dirty)
{
    fleet_rs *r;

    wl->rs = berth_xreallocarray(wl->rs, wl->n_rs + 1, sizeof(*wl->rs));
    r = &wl->rs[wl->n_rs++];
    memset(r, 0, sizeof(*r));
    r->rs = rs;
    r->revision = rs->revision;
    r->n_indices = rs->n_indices;
    r->indices = berth_xcalloc(rs->n_indices + 1, sizeof(*r->indices));
    if (rs->n_indices)
        memcpy(r->indices, rs->indices, rs->n_indices * sizeof(*r->indices));
    r->progress_ns = rs->progress_unix_ns;
    r->deadline_exceeded = rs->deadline_exceeded;
    r->completed = rs->completed;
    r->dirty = dirty;
    rs_dress(r, wl->w);
    qsort(wl->rs, wl->n_rs, sizeof(*wl->rs), rs_by_revision);
}

static void rs_free(fleet_rs *r)
{
    if (r->rs)
        replica_set_free_unpacked(r->rs, NULL);
    if (r->view)
        workload_free_unpacked(r->view, NULL);
    free(r->indices);
}

void fleet_rs_free_all(fleet_workload *wl)
{
    fleet_ds_update_clear(wl);
    for (size_t i = 0; i < wl->n_rs; i++)
        rs_free(&wl->rs[i]);
    free(wl->rs);
    wl->rs = NULL;
    wl->n_rs = 0;
}

fleet_rs *fleet_rs_find(const fleet_workload *wl, const char *hash)
{
    for (size_t i = 0; i < wl->n_rs; i++)
        if (strcmp(wl->rs[i].rs->hash, hash) == 0)
            return &wl->rs[i];
    return NULL;
}

const Workload *fleet_assign_workload(fleet *f, const fleet_assign *a)
{
    const fleet_workload *wl = fleet_workload_find(f, a->workload);
    const fleet_rs *r;

    if (!wl)
        return NULL;
    if (!fleet_has_revisions(wl->w->kind))
        return wl->w;
    r = fleet_rs_find(wl, a->revision);
    return r ? r->view : NULL;
}

/* Write r as it is in memory. */
static int rs_save(fleet *f, const fleet_workload *wl, const fleet_rs *r, berth_error **err)
{
    ReplicaSet copy = *r->rs;

    copy.revision = r->revision;
    copy.indices = r->indices;
    copy.n_indices = r->n_indices;
    copy.progress_unix_ns = r->progress_ns;
    copy.deadline_exceeded = r->deadline_exceeded;
    copy.completed = r->completed;
    copy.placed = copy.ready = copy.available = 0;
    return berth_store_replica_set_put(f->cfg.store, wl->key, &copy, err);
}

static uint64_t max_revision(const fleet_workload *wl)
{
    return wl->n_rs ? wl->rs[wl->n_rs - 1].revision : 0;
}

/* Old revisions kept: revisionHistoryLimit, at most REVISION_HISTORY_MAX
 * (each is a template in memory and in every GetWorkload answer). */
static uint32_t history_limit(const Workload *w)
{
    uint32_t limit =
        w->has_revision_history_limit ? w->revision_history_limit : REVISION_HISTORY_DEFAULT;

    return limit < REVISION_HISTORY_MAX ? limit : REVISION_HISTORY_MAX;
}

static int64_t deadline_ns(const Workload *w)
{
    return (int64_t)(w->progress_deadline_seconds ? w->progress_deadline_seconds
                                                  : PROGRESS_DEADLINE_DEFAULT) *
           NS_PER_S;
}

/* ---- loading ---- */

static int load_rs(void *data, const char *key, ReplicaSet *rs)
{
    fleet *f = data;
    fleet_workload *wl = fleet_workload_find(f, key);

    if (!wl || !fleet_has_revisions(wl->w->kind) || fleet_rs_find(wl, rs->hash) ||
        strlen(rs->hash) >= FLEET_HASH_BUF) {
        berth_warn("revision '%s' of %s: no such Deployment: not loaded", rs->hash, key);
        replica_set_free_unpacked(rs, NULL);
        return 0;
    }
    rs_add(wl, rs, false);
    return 0;
}

/* A Deployment stored before berth kept revisions: its replicas are its
 * first revision's, named as they were ("<name>-<index>"). */
static void adopt_first(fleet_workload *wl, bool dirty)
{
    ReplicaSet *rs = berth_xcalloc(1, sizeof(*rs));

    replica_set_init(rs);
    rs->hash = berth_xstrdup("");
    rs->revision = 1;
    rs->template_ = pod_template_of(wl->w);
    rs->created_unix_ns = wl->w->created_unix_ns;
    rs->n_indices = wl->w->replicas;
    rs->indices = berth_xcalloc(rs->n_indices + 1, sizeof(*rs->indices));
    for (uint32_t i = 0; i < rs->n_indices; i++)
        rs->indices[i] = i;
    rs->progress_unix_ns = berth_now_real_ns();
    rs_add(wl, rs, dirty);
}

/* Whether a node holds an assignment of wl stored before berth kept
 * revisions (a Deployment's with none). */
static bool has_legacy_replicas(fleet *f, const fleet_workload *wl)
{
    for (size_t i = 0; i < f->n_nodes; i++)
        for (size_t k = 0; k < f->nodes[i]->n_assign; k++)
            if (strcmp(f->nodes[i]->assign[k].workload, wl->key) == 0 &&
                !*f->nodes[i]->assign[k].revision)
                return true;
    return false;
}

/* Whether a is one of wl's from before revisions that runs its template
 * as it is now. */
static bool legacy_current(const fleet_workload *wl, const fleet_assign *a)
{
    return strcmp(a->workload, wl->key) == 0 && !*a->revision &&
           a->workload_generation == wl->w->generation;
}

/* Adopt wl's replicas from before revisions, durably: its first revision,
 * and its assignments that run its template now marked as that
 * revision's (the spec they were given is that revision's, byte for byte:
 * no new spec generation, which the node would not take up for an
 * unchanged spec). An assignment of an older template is given the
 * revision's spec anew by the next placement. */
static int adopt_legacy(fleet *f, fleet_workload *wl, berth_error **err)
{
    berth_store *st = f->cfg.store;

    adopt_first(wl, false);
    if (berth_store_begin(st, err) < 0)
        goto fail_after;
    if (rs_save(f, wl, &wl->rs[0], err) < 0)
        goto fail;
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        for (size_t k = 0; k < n->n_assign; k++) {
            fleet_assign *a = &n->assign[k];
            berth_store_assignment sa;

            if (!legacy_current(wl, a))
                continue;
            sa = (berth_store_assignment){
                .node = n->rec.name,
                .container_id = a->id,
                .workload = a->workload,
                .replica = a->replica,
                .spec_generation = a->spec_generation,
                .workload_generation = FLEET_REVISION_SPEC_GENERATION,
                .revision = "",
            };
            if (berth_store_assignment_put(st, &sa, err) < 0)
                goto fail;
        }
    }
    if (berth_store_commit(st, err) < 0)
        goto fail_after;
    for (size_t i = 0; i < f->n_nodes; i++)
        for (size_t k = 0; k < f->nodes[i]->n_assign; k++)
            if (legacy_current(wl, &f->nodes[i]->assign[k]))
                f->nodes[i]->assign[k].workload_generation = FLEET_REVISION_SPEC_GENERATION;
    berth_info("%s %s: its replicas from before revisions are revision 1",
               berth_workload_kind_name(wl->w->kind), wl->key);
    return 0;
fail:
    berth_store_rollback(st);
fail_after:
    fleet_rs_free_all(wl);
    return berth_error_prefix(err, "%s %s: adopt its replicas",
                              berth_workload_kind_name(wl->w->kind), wl->key);
}

int fleet_rollouts_load(fleet *f, berth_error **err)
{
    if (berth_store_replica_sets_load(f->cfg.store, load_rs, f, err) != 0)
        return -1;
    /* (a Deployment without revisions and without such replicas gets its
     * first at the next step, as a new one does) */
    for (size_t i = 0; i < f->n_workloads; i++)
        if (fleet_has_revisions(f->workloads[i].w->kind) && f->workloads[i].n_rs == 0 &&
            has_legacy_replicas(f, &f->workloads[i]) && adopt_legacy(f, &f->workloads[i], err) < 0)
            return -1;
    return 0;
}

/* ---- observing ---- */

bool fleet_assign_available(const fleet_workload *wl, const fleet_assign *a, int64_t now)
{
    return a->ready_since_ns &&
           now - a->ready_since_ns >= (int64_t)wl->w->min_ready_seconds * NS_PER_S;
}

/* Count each revision's replicas placed, Ready and available; note when
 * each Ready one got so, and when the first becomes available (*due). */
static void observe(fleet *f, int64_t now, int64_t *due)
{
    fleet_workload *wl = NULL;

    for (size_t i = 0; i < f->n_workloads; i++)
        for (size_t r = 0; r < f->workloads[i].n_rs; r++) {
            fleet_rs *x = &f->workloads[i].rs[r];

            x->prev_available = x->available;
            x->placed = x->ready = x->available = 0;
        }
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        for (size_t k = 0; k < n->n_assign; k++) {
            fleet_assign *a = &n->assign[k];
            fleet_rs *r;

            /* a node's assignments are sorted by id: mostly in runs */
            if (!wl || strcmp(wl->key, a->workload) != 0)
                wl = fleet_workload_find(f, a->workload);
            if (!wl || !fleet_has_revisions(wl->w->kind) || !(r = fleet_rs_find(wl, a->revision)))
                continue;
            r->placed++;
            if (n->rec.phase != NODE_READY || !fleet_replica_ready(n, a, r->view)) {
                a->ready_since_ns = 0;
                continue;
            }
            if (!a->ready_since_ns)
                a->ready_since_ns = now;
            r->ready++;
            if (fleet_assign_available(wl, a, now)) {
                r->available++;
            } else {
                int64_t at = a->ready_since_ns + (int64_t)wl->w->min_ready_seconds * NS_PER_S;

                if (!*due || at < *due)
                    *due = at;
            }
        }
    }
}

/* Whether id is one of r's replicas (or a container of one): in wl's
 * namespace, "<prefix>-<digits>", then nothing or "_<name>". */
static bool id_of_rs(const char *id, const fleet_workload *wl, const fleet_rs *r)
{
    char ns[BERTH_NAMESPACE_BUF];
    const char *name = berth_id_split(id, ns);
    size_t len = strlen(r->prefix), digits = 0;

    if (strcmp(ns, berth_namespace_or_default(wl->w->namespace_)) != 0 ||
        strncmp(name, r->prefix, len) != 0 || name[len] != '-')
        return false;
    for (name += len + 1; name[digits] >= '0' && name[digits] <= '9'; digits++)
        ;
    return digits > 0 && (name[digits] == '\0' || name[digits] == '_');
}

/* Recreate: whether a replica of an old revision may still run
 * somewhere (assigned, or reported and not yet gone). */
static bool old_running(fleet *f, const fleet_workload *wl)
{
    for (size_t r = 0; r + 1 < wl->n_rs; r++) {
        if (wl->rs[r].placed)
            return true;
        for (size_t i = 0; i < f->n_nodes; i++) {
            const fleet_node *n = f->nodes[i];

            for (size_t s = 0; s < n->n_status; s++) {
                ContainerState st = n->status[s]->state;

                if (st != CONTAINER_EXITED && st != CONTAINER_FAILED &&
                    st != CONTAINER_OOM_KILLED && id_of_rs(n->status[s]->id, wl, &wl->rs[r]))
                    return true;
            }
        }
    }
    return false;
}

/* ---- a step ---- */

typedef struct index_score {
    uint32_t index;
    int score; /* 0 not placed, 1 placed, 2 Ready, 3 available */
} index_score;

static int by_score(const void *a, const void *b)
{
    const index_score *x = a, *y = b;

    if (x->score != y->score)
        return x->score - y->score;
    return x->index > y->index ? -1 : x->index < y->index; /* highest first */
}

static int by_index(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Keep want of r's replicas: those that serve, as a ReplicaSet deletes
 * pods (not placed first, then not Ready, then not yet available, then
 * the highest index). */
static void rs_shrink(fleet *f, const fleet_workload *wl, fleet_rs *r, uint32_t want, int64_t now)
{
    _cleanup_free_ index_score *v = berth_xcalloc(r->n_indices + 1, sizeof(*v));

    for (size_t i = 0; i < r->n_indices; i++)
        v[i] = (index_score){ r->indices[i], 0 };
    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *n = f->nodes[i];

        for (size_t k = 0; k < n->n_assign; k++) {
            const fleet_assign *a = &n->assign[k];

            if (strcmp(a->workload, wl->key) != 0 || strcmp(a->revision, r->rs->hash) != 0)
                continue;
            for (size_t j = 0; j < r->n_indices; j++)
                if (v[j].index == a->replica)
                    v[j].score = !a->ready_since_ns                   ? 1
                                 : fleet_assign_available(wl, a, now) ? 3
                                                                      : 2;
        }
    }
    qsort(v, r->n_indices, sizeof(*v), by_score);
    for (size_t i = 0; i < want; i++)
        r->indices[i] = v[r->n_indices - want + i].index;
    r->n_indices = want;
    qsort(r->indices, r->n_indices, sizeof(*r->indices), by_index);
}

/* Give r want replicas: the lowest indices it does not have. */
static void rs_grow(fleet_rs *r, uint32_t want)
{
    uint32_t *v = berth_xcalloc(want + 1, sizeof(*v));
    size_t n = 0, j = 0;

    for (uint32_t i = 0; n < want; i++) {
        if (j < r->n_indices && r->indices[j] == i) {
            v[n++] = i;
            j++;
        } else if (n + (r->n_indices - j) < want) {
            v[n++] = i;
        }
    }
    free(r->indices);
    r->indices = v;
    r->n_indices = want;
}

static void scaled_event(fleet *f, const fleet_workload *wl, const fleet_rs *r, size_t from)
{
    if (r->n_indices > from)
        fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL, "ScalingReplicaSet",
                    "Scaled up replica set %s to %zu", r->prefix, r->n_indices);
    else
        fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL, "ScalingReplicaSet",
                    "Scaled down replica set %s to %zu from %zu", r->prefix, r->n_indices, from);
}

/* The template of wl as its newest revision (unless paused): a revision
 * of the same template again (with the next number), or a new one.
 * Returns whether the newest changed. */
static bool newest_for_template(fleet *f, fleet_workload *wl, int64_t now_real)
{
    Workload *tmpl;
    fleet_rs *found = NULL;
    ReplicaSet *rs;
    char hash[FLEET_HASH_BUF];

    if (wl->w->paused)
        return false;
    tmpl = pod_template_of(wl->w);
    for (size_t i = 0; i < wl->n_rs && !found; i++)
        if (wl->rs[i].rs->template_ && berth_pb_equal(&wl->rs[i].rs->template_->base, &tmpl->base))
            found = &wl->rs[i];
    if (wl->n_rs && found == &wl->rs[wl->n_rs - 1]) {
        workload_free_unpacked(tmpl, NULL);
        return false;
    }
    if (found) {
        /* back to an earlier template (undo, or applied again) */
        workload_free_unpacked(tmpl, NULL);
        found->revision = max_revision(wl) + 1;
        if (*wl->w->change_cause) {
            free(found->rs->change_cause == protobuf_c_empty_string ? NULL
                                                                    : found->rs->change_cause);
            found->rs->change_cause = berth_xstrdup(wl->w->change_cause);
        }
        found->progress_ns = now_real;
        found->deadline_exceeded = false;
        found->doomed = false; /* trimmed but not yet deleted: kept */
        found->dirty = true;
        snprintf(hash, sizeof(hash), "%s", found->rs->hash);
        qsort(wl->rs, wl->n_rs, sizeof(*wl->rs), rs_by_revision);
        fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL,
                    wl->w->kind == WORKLOAD_DEPLOYMENT ? "DeploymentRollback" : "Rollback",
                    "revision %" PRIu64 " (%s %s) is the newest again", max_revision(wl),
                    wl->w->kind == WORKLOAD_DEPLOYMENT ? "replica set" : "controller revision",
                    fleet_rs_find(wl, hash)->prefix);
        return true;
    }
    /* a hash that names another template already: count collisions, as
     * Kubernetes' collisionCount */
    for (uint32_t c = 0;; c++) {
        template_hash(tmpl, c, hash);
        if (!fleet_rs_find(wl, hash))
            break;
    }
    rs = berth_xcalloc(1, sizeof(*rs));
    replica_set_init(rs);
    rs->hash = berth_xstrdup(hash);
    rs->revision = max_revision(wl) + 1;
    rs->template_ = tmpl;
    rs->created_unix_ns = now_real;
    rs->change_cause = berth_xstrdup(wl->w->change_cause);
    rs->progress_unix_ns = now_real;
    rs_add(wl, rs, true);
    fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL, "NewReplicaSet",
                "revision %" PRIu64 ": replica set %s-%s", rs->revision, wl->w->name, hash);
    return true;
}

/* Drop old revisions with nothing left beyond revisionHistoryLimit,
 * oldest first (those are marked doomed, removed once that is durable). */
static void trim_history(fleet_workload *wl)
{
    size_t idle = 0;
    uint32_t limit = history_limit(wl->w);

    for (size_t i = 0; i + 1 < wl->n_rs; i++)
        idle += wl->rs[i].n_indices == 0 && wl->rs[i].placed == 0;
    for (size_t i = 0; i + 1 < wl->n_rs && idle > limit; i++)
        if (wl->rs[i].n_indices == 0 && wl->rs[i].placed == 0 && !wl->rs[i].doomed) {
            wl->rs[i].doomed = true;
            idle--;
        }
}

static bool deployment_step(fleet *f, fleet_workload *wl, int64_t now, int64_t now_real,
                            int64_t *due)
{
    const Workload *w = wl->w;
    berth_rollout_in in = { .replicas = w->replicas };
    _cleanup_free_ berth_rollout_rs *v = NULL;
    bool changed = newest_for_template(f, wl, now_real), complete;
    size_t newest = wl->n_rs - 1, active = 0;
    fleet_rs *nr;

    if (wl->n_rs == 0) /* paused before its first revision */
        return changed;
    in.recreate = berth_rollout_recreate(w->strategy);
    berth_rollout_limits(w->strategy, w->replicas, &in.max_surge, &in.max_unavailable);
    v = berth_xcalloc(wl->n_rs + 1, sizeof(*v));
    for (size_t i = 0; i < wl->n_rs; i++) {
        v[i].replicas = (uint32_t)wl->rs[i].n_indices;
        v[i].available = wl->rs[i].available < v[i].replicas ? wl->rs[i].available : v[i].replicas;
        active += v[i].replicas > 0;
    }
    if (in.recreate)
        in.old_running = old_running(f, wl);
    if (!w->paused)
        berth_rollout_step(&in, v, wl->n_rs, newest);
    else if (active == 0 || (active == 1 && v[newest].replicas > 0))
        v[newest].replicas = w->replicas; /* paused: scaling only */
    for (size_t i = 0; i < wl->n_rs; i++) {
        fleet_rs *r = &wl->rs[i];
        size_t from = r->n_indices;

        if (v[i].replicas == from)
            continue;
        if (v[i].replicas < from)
            rs_shrink(f, wl, r, v[i].replicas, now);
        else
            rs_grow(r, v[i].replicas);
        r->dirty = changed = true;
        scaled_event(f, wl, r, from);
    }
    /* Progress: replicas moved, or more of the newest became available.
     * Once complete, nothing times out until replicas move again
     * (Kubernetes' NewReplicaSetAvailable). */
    nr = &wl->rs[newest];
    complete = berth_rollout_complete(&in, v, wl->n_rs, newest);
    if (changed)
        nr->completed = false;
    if (changed || nr->available > nr->prev_available) {
        nr->progress_ns = now_real;
        nr->deadline_exceeded = false;
        nr->dirty = true;
    }
    if (complete && !nr->completed) {
        nr->completed = true;
        nr->deadline_exceeded = false;
        nr->dirty = true;
    }
    if (!nr->completed && !w->paused && !nr->deadline_exceeded) {
        int64_t left = nr->progress_ns + deadline_ns(w) - now_real;

        if (left <= 0) {
            nr->deadline_exceeded = nr->dirty = true;
            fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_WARNING, "ProgressDeadlineExceeded",
                        "ReplicaSet \"%s\" has timed out progressing.", nr->prefix);
        } else if (!*due || now + left < *due) {
            *due = now + left;
        }
    }
    /* Old revisions with nothing left: at most revisionHistoryLimit kept
     * (Kubernetes trims once a rollout completes; berth at every step, so
     * that a rollout that never completes cannot pile them up). */
    trim_history(wl);
    return changed;
}

/* ---- a DaemonSet's step ---- */

void fleet_ds_update_clear(fleet_workload *wl)
{
    for (size_t i = 0; i < wl->n_ds_update; i++)
        free(wl->ds_update[i]);
    free(wl->ds_update);
    wl->ds_update = NULL;
    wl->n_ds_update = 0;
}

bool fleet_ds_updates(const fleet_workload *wl, const char *node)
{
    for (size_t i = 0; i < wl->n_ds_update; i++)
        if (strcmp(wl->ds_update[i], node) == 0)
            return true;
    return false;
}

/* A DaemonSet's maxUnavailable over its n replicas: its RollingUpdate's (a
 * percentage rounds up, as Kubernetes rounds it for DaemonSets), default
 * 1, at least 1. */
static uint32_t ds_max_unavailable(const Workload *w, size_t n)
{
    const IntOrPercent *v = w->strategy ? w->strategy->max_unavailable : NULL;
    uint64_t x;

    if (!v)
        return 1;
    x = v->percent ? ((uint64_t)n * v->value + 99) / 100 : v->value;
    return x ? (uint32_t)(x > UINT32_MAX ? UINT32_MAX : x) : 1;
}

/* A DaemonSet's replica on a node whose revision is not the newest. */
typedef struct ds_candidate {
    const char *node;
    bool ready;
} ds_candidate;

/* RollingUpdate, as Kubernetes' DaemonSet controller: on every node whose
 * replica is of an older revision and not available, and on as many more
 * as keeps the unavailable ones within maxUnavailable, the replica is
 * replaced (in place: stopped, then started with the newest template);
 * the nodes are those placement gives the newest (wl->ds_update).
 * OnDelete: only replicas made anew get it. */
static bool ds_step(fleet *f, fleet_workload *wl, int64_t now, int64_t now_real)
{
    bool changed = newest_for_template(f, wl, now_real), complete = true;
    _cleanup_free_ ds_candidate *v = NULL;
    size_t n = 0, total = 0, unavailable = 0, cap = 0;
    const char *newest;
    uint32_t max_unavailable;
    char names[300] = "";
    size_t len = 0;

    fleet_ds_update_clear(wl);
    if (wl->n_rs == 0)
        return changed;
    newest = wl->rs[wl->n_rs - 1].rs->hash;
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *node = f->nodes[i];

        for (size_t k = 0; k < node->n_assign; k++) {
            const fleet_assign *as = &node->assign[k];
            const fleet_rs *r;
            bool ready, available;

            if (strcmp(as->workload, wl->key) != 0 || !(r = fleet_rs_find(wl, as->revision)))
                continue;
            total++;
            ready = node->rec.phase == NODE_READY && as->ready_since_ns;
            available = ready && fleet_assign_available(wl, as, now);
            unavailable += !available;
            if (strcmp(as->revision, newest) == 0) {
                complete &= available;
                continue;
            }
            complete = false;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                v = berth_xreallocarray(v, cap, sizeof(*v));
            }
            v[n++] = (ds_candidate){ node->rec.name, ready };
        }
    }
    if (complete && !wl->rs[wl->n_rs - 1].completed) {
        wl->rs[wl->n_rs - 1].completed = true;
        wl->rs[wl->n_rs - 1].dirty = true;
    } else if (!complete && wl->rs[wl->n_rs - 1].completed) {
        wl->rs[wl->n_rs - 1].completed = false;
        wl->rs[wl->n_rs - 1].dirty = true;
    }
    trim_history(wl);
    if (!n || (wl->w->strategy && strcmp(wl->w->strategy->type, "OnDelete") == 0))
        return changed;
    /* a node that should run it and has none (its new replica fits
     * nowhere, say) is unavailable too, as Kubernetes counts it */
    if (wl->place.desired > total)
        unavailable += wl->place.desired - total;
    max_unavailable = ds_max_unavailable(wl->w, total);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            /* those not Ready first: replacing them costs nothing (one
             * Ready but not yet available for minReadySeconds counts) */
            if (v[i].ready != (pass == 1))
                continue;
            if (pass == 1) {
                if (unavailable >= max_unavailable)
                    break;
                unavailable++;
            }
            wl->ds_update =
                berth_xreallocarray(wl->ds_update, wl->n_ds_update + 1, sizeof(*wl->ds_update));
            wl->ds_update[wl->n_ds_update++] = berth_xstrdup(v[i].node);
            if (len < sizeof(names))
                len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? " " : "",
                                        v[i].node);
        }
    if (wl->n_ds_update)
        fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL, "RollingUpdate",
                    "revision %" PRIu64 " (controller-revision-hash %s) on %s",
                    wl->rs[wl->n_rs - 1].revision, *newest ? newest : "-", names);
    return changed || wl->n_ds_update > 0;
}

/* Write what changed, drop what is doomed (from memory once durable). */
static int rollouts_save(fleet *f, berth_error **err)
{
    bool any = false;

    for (size_t i = 0; i < f->n_workloads && !any; i++) {
        any = f->workloads[i].job_dirty;
        for (size_t r = 0; r < f->workloads[i].n_rs && !any; r++)
            any = f->workloads[i].rs[r].dirty || f->workloads[i].rs[r].doomed;
    }
    if (!any)
        return 0;
    if (berth_store_begin(f->cfg.store, err) < 0)
        return -1;
    for (size_t i = 0; i < f->n_workloads; i++) {
        fleet_workload *wl = &f->workloads[i];

        if (wl->job_dirty && wl->job &&
            berth_store_job_put(f->cfg.store, wl->key, wl->job, err) < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        for (size_t r = 0; r < wl->n_rs; r++) {
            int rc = 0;

            if (wl->rs[r].doomed)
                rc = berth_store_replica_set_delete(f->cfg.store, wl->key, wl->rs[r].rs->hash, err);
            else if (wl->rs[r].dirty)
                rc = rs_save(f, wl, &wl->rs[r], err);
            if (rc < 0) {
                berth_store_rollback(f->cfg.store);
                return -1;
            }
        }
    }
    if (berth_store_commit(f->cfg.store, err) < 0)
        return -1;
    for (size_t i = 0; i < f->n_workloads; i++) {
        fleet_workload *wl = &f->workloads[i];
        size_t kept = 0;

        wl->job_dirty = false;
        for (size_t r = 0; r < wl->n_rs; r++) {
            if (wl->rs[r].doomed) {
                rs_free(&wl->rs[r]);
                continue;
            }
            wl->rs[r].dirty = false;
            wl->rs[kept++] = wl->rs[r];
        }
        wl->n_rs = kept;
    }
    return 0;
}

int fleet_rollouts_run(fleet *f, bool *ret_changed, berth_error **err)
{
    int64_t now = berth_now_mono_ns(), now_real = berth_now_real_ns(), due = 0;
    bool changed = false;

    observe(f, now, &due);
    for (size_t i = 0; i < f->n_workloads; i++)
        if (f->workloads[i].w->kind == WORKLOAD_DEPLOYMENT)
            changed |= deployment_step(f, &f->workloads[i], now, now_real, &due);
        else if (f->workloads[i].w->kind == WORKLOAD_DAEMONSET)
            changed |= ds_step(f, &f->workloads[i], now, now_real);
        else if (f->workloads[i].w->kind == WORKLOAD_JOB)
            changed |= fleet_job_step(f, &f->workloads[i], now, now_real, &due);
        else if (f->workloads[i].w->kind == WORKLOAD_CRONJOB)
            changed |= fleet_cron_step(f, &f->workloads[i], now, now_real, &due);
    berth_loop_timer_cancel(f->cfg.loop, &f->rollout_due);
    if (due)
        berth_loop_timer_arm(f->cfg.loop, &f->rollout_due, due);
    /* Until this is durable, placement must not act on it: the caller
     * stops; what changed stays dirty and is written at the next step. */
    if (rollouts_save(f, err) < 0)
        return berth_error_prefix(err, "save rollouts");
    if (ret_changed)
        *ret_changed = changed;
    return 0;
}

int fleet_rollouts_step(fleet *f, berth_error **err)
{
    return fleet_rollouts_run(f, NULL, err);
}

/* ---- when ---- */

static void rollout_tick(fleet *f, const char *why)
{
    _cleanup_error_ berth_error *err = NULL;
    bool changed = false;

    if (fleet_rollouts_run(f, &changed, &err) < 0) {
        int64_t retry = berth_now_mono_ns() + ROLLOUT_RETRY_NS;

        /* (the store): again in a while, whatever else happens */
        berth_log_error(BERTH_LOG_ERROR, err, "rollout step after %s", why);
        if (!berth_loop_timer_armed(&f->rollout_due) || f->rollout_due.deadline > retry)
            berth_loop_timer_arm(f->cfg.loop, &f->rollout_due, retry);
        return;
    }
    if (changed)
        fleet_place_after(f, "a rollout step");
    fleet_jobs_ttl(f);
    fleet_crons_run(f);
}

static void rollout_soon_fired(berth_loop_timer *t)
{
    rollout_tick(berth_container_of(t, fleet, rollout_soon), "readiness changed");
}

static void rollout_due_fired(berth_loop_timer *t)
{
    rollout_tick(berth_container_of(t, fleet, rollout_due), "a deadline");
}

void fleet_rollout_timers_init(fleet *f)
{
    berth_loop_timer_init(&f->rollout_soon, rollout_soon_fired);
    berth_loop_timer_init(&f->rollout_due, rollout_due_fired);
}

void fleet_rollout_poke(fleet *f)
{
    if (!berth_loop_timer_armed(&f->rollout_soon))
        berth_loop_timer_arm(f->cfg.loop, &f->rollout_soon, berth_now_mono_ns() + ROLLOUT_SOON_NS);
}

/* ---- answers ---- */

static WorkloadCondition *condition(const char *type, bool status, const char *reason, int64_t when,
                                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static WorkloadCondition *condition(const char *type, bool status, const char *reason, int64_t when,
                                    const char *fmt, ...)
{
    WorkloadCondition *c = berth_xcalloc(1, sizeof(*c));
    va_list ap;

    workload_condition_init(c);
    c->type = (char *)type;
    c->status = status;
    c->reason = (char *)reason;
    c->last_update_unix_ns = when;
    va_start(ap, fmt);
    if (vasprintf(&c->message, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    return c;
}

/* st->replica_sets: wl's revisions, newest first (borrowed; without
 * templates unless with_templates). A DaemonSet's "replicas" are the
 * replicas it runs (placed). */
static void revisions_fill(const fleet_workload *wl, WorkloadStatus *st, bool with_templates)
{
    st->replica_sets = berth_xcalloc(wl->n_rs + 1, sizeof(*st->replica_sets));
    for (size_t i = wl->n_rs; i-- > 0;) {
        const fleet_rs *r = &wl->rs[i];
        ReplicaSet *m = berth_xcalloc(1, sizeof(*m));

        *m = *r->rs;
        m->revision = r->revision;
        m->indices = NULL; /* (up to a thousand numbers nobody reads) */
        m->n_indices = 0;
        m->replicas = wl->w->kind == WORKLOAD_DEPLOYMENT ? (uint32_t)r->n_indices : r->placed;
        m->progress_unix_ns = r->progress_ns;
        m->deadline_exceeded = r->deadline_exceeded;
        m->completed = r->completed;
        m->placed = r->placed;
        m->ready = r->ready;
        m->available = r->available;
        if (!with_templates)
            m->template_ = NULL;
        st->replica_sets[st->n_replica_sets++] = m;
    }
}

void fleet_rollout_status(fleet *f, const fleet_workload *wl, WorkloadStatus *st,
                          bool with_templates)
{
    const Workload *w = wl->w;
    const fleet_rs *nr = wl->n_rs ? &wl->rs[wl->n_rs - 1] : NULL;
    uint32_t surge, unavailable, min_available;

    (void)f;
    if (!nr)
        return;
    st->revision = nr->revision;
    revisions_fill(wl, st, with_templates);
    if (w->kind != WORKLOAD_DEPLOYMENT)
        return; /* (a DaemonSet has no conditions) */
    berth_rollout_limits(w->strategy, w->replicas, &surge, &unavailable);
    /* Recreate allows no unavailability: all of them, as Kubernetes */
    if (berth_rollout_recreate(w->strategy))
        min_available = w->replicas;
    else
        min_available = w->replicas > unavailable ? w->replicas - unavailable : 0;
    st->conditions = berth_xcalloc(2, sizeof(*st->conditions));
    st->conditions[st->n_conditions++] =
        st->available >= min_available
            ? condition("Available", true, "MinimumReplicasAvailable", nr->progress_ns,
                        "Deployment has minimum availability.")
            : condition("Available", false, "MinimumReplicasUnavailable", nr->progress_ns,
                        "Deployment does not have minimum availability.");
    if (w->paused)
        st->conditions[st->n_conditions++] = condition("Progressing", false, "DeploymentPaused",
                                                       nr->progress_ns, "Deployment is paused");
    else if (nr->deadline_exceeded)
        st->conditions[st->n_conditions++] =
            condition("Progressing", false, "ProgressDeadlineExceeded", nr->progress_ns,
                      "ReplicaSet \"%s\" has timed out progressing.", nr->prefix);
    else if (nr->completed)
        st->conditions[st->n_conditions++] =
            condition("Progressing", true, "NewReplicaSetAvailable", nr->progress_ns,
                      "ReplicaSet \"%s\" has successfully progressed.", nr->prefix);
    else
        st->conditions[st->n_conditions++] =
            condition("Progressing", true, "ReplicaSetUpdated", nr->progress_ns,
                      "ReplicaSet \"%s\" is progressing.", nr->prefix);
}

void fleet_rollout_status_clear(WorkloadStatus *st)
{
    for (size_t i = 0; i < st->n_conditions; i++) {
        free(st->conditions[i]->message);
        free(st->conditions[i]);
    }
    free(st->conditions);
    for (size_t i = 0; i < st->n_replica_sets; i++)
        free(st->replica_sets[i]);
    free(st->replica_sets);
    st->conditions = NULL;
    st->replica_sets = NULL;
    st->n_conditions = st->n_replica_sets = 0;
}

/* ---- operators' commands ---- */

/* w with the pod template of t (a new message). */
static Workload *with_template(const Workload *w, const Workload *t)
{
    Workload x = *w;

    x.template_ = t->template_;
    x.pod = t->pod;
    x.n_node_selector = t->n_node_selector;
    x.node_selector = t->node_selector;
    x.node_name = t->node_name;
    x.n_node_affinity = t->n_node_affinity;
    x.node_affinity = t->node_affinity;
    x.n_tolerations = t->n_tolerations;
    x.tolerations = t->tolerations;
    x.restarted_at = t->restarted_at;
    x.status = NULL;
    return BERTH_PB_COPY(Workload, &x);
}

static void set_str(char **field, const char *v)
{
    if (*field != protobuf_c_empty_string)
        free(*field);
    *field = berth_xstrdup(v);
}

/* kubectl's name of a kind's resource ("deployments.apps"). */
static const char *resource_of(WorkloadKind kind)
{
    return kind == WORKLOAD_DAEMONSET ? "daemonsets.apps" : "deployments.apps";
}

/* The revision to undo to: to (0: the one before the newest). */
static const fleet_rs *undo_target(const fleet_workload *wl, uint64_t to, berth_error **err)
{
    if (to == 0) {
        if (wl->n_rs < 2)
            return berth_error_set(err, ENOENT, "no rollout history found for %s \"%s\"",
                                   wl->w->kind == WORKLOAD_DAEMONSET ? "daemonset" : "deployment",
                                   wl->w->name),
                   NULL;
        return &wl->rs[wl->n_rs - 2];
    }
    for (size_t i = 0; i < wl->n_rs; i++)
        if (wl->rs[i].revision == to)
            return &wl->rs[i];
    berth_error_set(err, ENOENT, "unable to find specified revision %" PRIu64 " in history", to);
    return NULL;
}

int fleet_rollout(fleet *f, const RolloutRequest *in, const char *by, char **ret_result,
                  uint64_t *ret_generation, berth_error **err)
{
    char key[BERTH_WORKLOAD_KEY_BUF], when[64];
    fleet_workload *wl;
    Workload *next = NULL;
    const char *result = NULL;
    const fleet_rs *target;
    fleet_rs *resumed = NULL, saved = { 0 };
    _cleanup_free_ char *msg = NULL;

    if (!berth_workload_name_valid(in->name) ||
        (*in->namespace_ && !berth_namespace_name_valid(in->namespace_)))
        return berth_error_set(err, EINVAL, "rollout: '%.63s' is not a valid Deployment name",
                               in->name);
    berth_workload_key(in->namespace_, in->name, key);
    wl = fleet_workload_find(f, key);
    if (!wl || !fleet_has_revisions(wl->w->kind) ||
        (in->kind && (WorkloadKind)in->kind != wl->w->kind))
        return berth_error_set(err, ENOENT, "%s \"%.63s\" not found", resource_of(in->kind),
                               in->name);
    if (wl->w->kind == WORKLOAD_DAEMONSET &&
        (in->action == ROLLOUT_PAUSE || in->action == ROLLOUT_RESUME))
        return berth_error_set(err, EINVAL, "daemonsets.apps \"%s\" %s is not supported",
                               wl->w->name, in->action == ROLLOUT_PAUSE ? "pausing" : "resuming");
    switch (in->action) {
    case ROLLOUT_UNDO:
        if (wl->w->paused)
            return berth_error_set(err, EBUSY,
                                   "you cannot rollback a paused deployment; resume it first "
                                   "with 'berthctl rollout resume deployment/%s' and try again",
                                   wl->w->name);
        if (!(target = undo_target(wl, in->to_revision, err)))
            return -1;
        if (target == &wl->rs[wl->n_rs - 1]) {
            *ret_result = berth_xasprintf(
                "skipped rollback (current template already matches revision %" PRIu64 ")",
                target->revision);
            *ret_generation = wl->w->generation;
            return 0;
        }
        next = with_template(wl->w, target->rs->template_ ? target->rs->template_ : wl->w);
        set_str(&next->change_cause, target->rs->change_cause);
        result = "rolled back";
        msg = berth_xasprintf("to revision %" PRIu64 " (replica set %s)", target->revision,
                              target->prefix);
        break;
    case ROLLOUT_RESTART:
        if (wl->w->paused)
            return berth_error_set(err, EBUSY,
                                   "can't restart paused deployment (run rollout resume first)");
        next = BERTH_PB_COPY(Workload, wl->w);
        set_str(&next->restarted_at, berth_format_rfc3339nano(berth_now_real_ns(), when));
        result = "restarted";
        break;
    case ROLLOUT_PAUSE:
    case ROLLOUT_RESUME:
        if (wl->w->paused == (in->action == ROLLOUT_PAUSE))
            return berth_error_set(err, EBUSY, "deployments.apps \"%s\" is %s paused", wl->w->name,
                                   wl->w->paused ? "already" : "not");
        next = BERTH_PB_COPY(Workload, wl->w);
        next->paused = in->action == ROLLOUT_PAUSE;
        result = next->paused ? "paused" : "resumed";
        break;
    default:
        return berth_error_set(err, EINVAL, "rollout: no such action %d", (int)in->action);
    }
    next->status = NULL;
    next->generation = wl->w->generation + 1;
    next->updated_unix_ns = berth_now_real_ns();
    /* Resumed: its deadline counts from now (Kubernetes' DeploymentResumed) */
    if (in->action == ROLLOUT_RESUME && wl->n_rs) {
        resumed = &wl->rs[wl->n_rs - 1];
        saved = *resumed;
        resumed->progress_ns = next->updated_unix_ns;
        resumed->deadline_exceeded = false;
    }
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto fail;
    if (berth_store_workload_put(f->cfg.store, next, err) < 0 ||
        (resumed && rs_save(f, wl, resumed, err) < 0)) {
        berth_store_rollback(f->cfg.store);
        goto fail;
    }
    fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "Rollout", "%s%s%s by operator %s",
                result, msg ? " " : "", msg ? msg : "", by);
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto fail;
    workload_free_unpacked(wl->w, NULL);
    wl->w = next;
    *ret_generation = next->generation;
    *ret_result = berth_xstrdup(result);
    fleet_reconcile_after(f, "rollout %s", result);
    return 0;
fail:
    if (resumed)
        *resumed = saved;
    workload_free_unpacked(next, NULL);
    return berth_error_prefix(err, "rollout of %s", key);
}
