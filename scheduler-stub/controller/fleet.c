/* The fleet (fleet.h): its life, lookups, events, the desired state of each
 * node, and workloads applied and deleted. Nodes' phases are fleet-nodes.c's;
 * placement carried out fleet-reconcile.c's. */
#include "fleet.h"

#include <errno.h>
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
#include "manifest/manifest.h"
#include "pb/pb.h"

/* ---- lookups ---- */

fleet_node *fleet_node_find(fleet *f, const char *name)
{
    for (size_t i = 0; i < f->n_nodes; i++)
        if (strcmp(f->nodes[i]->rec.name, name) == 0)
            return f->nodes[i];
    return NULL;
}

fleet_node *fleet_node_by_id(fleet *f, const uint8_t id[BERTH_ID_LEN])
{
    for (size_t i = 0; i < f->n_nodes; i++)
        if (berth_id_eq(f->nodes[i]->who.id, id))
            return f->nodes[i];
    return NULL;
}

int fleet_node_of(fleet *f, const berth_principal *who, bool registered, fleet_node **ret_node,
                  berth_error **err)
{
    fleet_node *n = fleet_node_by_id(f, who->id);

    if (!n || n->rec.n_keys == 0)
        return berth_error_set(err, EACCES, "node %s is not admitted", who->name);
    if (registered && !fleet_node_registered(n))
        /* the agent answers this by registering again */
        return berth_error_set(err, ENOENT, "node not registered");
    *ret_node = n;
    return 0;
}

bool fleet_node_registered(const fleet_node *n)
{
    return n->rec.registered_ns != 0 && n->rec.info != NULL;
}

fleet_workload *fleet_workload_find(fleet *f, const char *key)
{
    for (size_t i = 0; i < f->n_workloads; i++)
        if (strcmp(f->workloads[i].key, key) == 0)
            return &f->workloads[i];
    return NULL;
}

size_t fleet_sorted_pos(void *const *items, size_t n, const char *(*key_of)(const void *item),
                        const char *key, bool *ret_found)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key_of(items[mid]), key);

        if (c == 0) {
            *ret_found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *ret_found = false;
    return lo;
}

static const char *namespace_name(const void *ns)
{
    return ((const Namespace *)ns)->name;
}

size_t fleet_namespace_at(fleet *f, const char *name, bool *ret_found)
{
    return fleet_sorted_pos((void *const *)f->namespaces, f->n_namespaces, namespace_name, name,
                            ret_found);
}

Namespace *fleet_namespace_find(fleet *f, const char *name)
{
    bool found;
    size_t at = fleet_namespace_at(f, name, &found);

    return found ? f->namespaces[at] : NULL;
}

int fleet_node_save(fleet *f, fleet_node *n, berth_error **err)
{
    return berth_store_node_put(f->cfg.store, &n->rec, err);
}

fleet_assign *fleet_assign_find(fleet_node *n, const char *id)
{
    for (size_t i = 0; i < n->n_assign; i++)
        if (strcmp(n->assign[i].id, id) == 0)
            return &n->assign[i];
    return NULL;
}

fleet_assign *fleet_assign_of(fleet *f, fleet_node *n, const char *id)
{
    char pod[BERTH_ID_BUF];
    const char *sep = strrchr(id, '_');
    const Workload *w;
    fleet_assign *a = fleet_assign_find(n, id);

    if (a || !sep || (size_t)(sep - id) >= sizeof(pod))
        return a;
    snprintf(pod, sizeof(pod), "%.*s", (int)(sep - id), id);
    a = fleet_assign_find(n, pod);
    if (!a || !(w = fleet_assign_workload(f, a)) || !w->pod)
        return NULL;
    for (size_t i = 0; i < berth_pod_size(w); i++) {
        PodRole role;
        uint32_t index;

        if (strcmp(berth_container_name(berth_pod_container(w, i, &role, &index)), sep + 1) == 0)
            return a;
    }
    return NULL;
}

int fleet_assign_specs(fleet *f, const fleet_node *n, const fleet_assign *a,
                       ContainerSpec ***ret_specs, size_t *ret_n, berth_error **err)
{
    const Workload *w = fleet_assign_workload(f, a);
    char replica[BERTH_ID_BUF];

    if (!w)
        /* only until a reconcile that failed (the store) succeeds: not
         * the caller's doing, and not to be acted on (INTERNAL) */
        return berth_error_set(err, ENOTRECOVERABLE, "workload %s (revision '%s') of %s is gone",
                               a->workload, a->revision, a->id);
    if (w->kind == WORKLOAD_DAEMONSET)
        snprintf(replica, sizeof(replica), "%s", n->rec.name);
    else
        snprintf(replica, sizeof(replica), "%" PRIu32, a->replica);
    if (berth_replica_specs(w, a->id, replica, ret_specs, ret_n, err) < 0)
        return -1;
    if (w->kind == WORKLOAD_JOB)
        fleet_job_env(fleet_workload_find(f, a->workload), a->replica, *ret_specs, *ret_n);
    return 0;
}

ContainerSpec *fleet_container_spec(fleet *f, const fleet_node *n, const fleet_assign *a,
                                    const char *id)
{
    ContainerSpec **v = NULL, *found = NULL;
    size_t count = 0;

    if (fleet_assign_specs(f, n, a, &v, &count, NULL) < 0)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (!found && strcmp(v[i]->id, id) == 0) {
            found = v[i];
            v[i] = NULL;
        }
    berth_specs_free(v, count);
    return found;
}

/* ---- events ---- */

void fleet_event(fleet *f, const char *kind, const char *name, const char *type, const char *reason,
                 const char *fmt, ...)
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
    berth_log(strcmp(type, FLEET_WARNING) == 0 ? BERTH_LOG_WARN : BERTH_LOG_INFO, "%s %s: %s: %s",
              kind, name, reason, msg);
    if (berth_store_event_add(f->cfg.store, &e, &err) < 0)
        berth_log_error(BERTH_LOG_WARN, err, "record event");
}

void fleet_container_stopped(fleet *f, const char *node, const char *id, const char *by)
{
    fleet_event(f, FLEET_KIND_NODE, node, FLEET_NORMAL, "Stopped", "%s stopped by operator %s", id,
                by);
}

void fleet_container_event(fleet *f, const char *node, const char *id, const char *reason,
                           const char *fmt, ...)
{
    fleet_node *n = fleet_node_find(f, node);
    fleet_assign *a = n ? fleet_assign_of(f, n, id) : NULL;
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* on its workload, where describe pod looks; else on the node */
    if (a)
        fleet_event(f, FLEET_KIND_WORKLOAD, a->workload, FLEET_NORMAL, reason, "%s", msg);
    else
        fleet_event(f, FLEET_KIND_NODE, node, FLEET_NORMAL, reason, "%s", msg);
}

/* ---- life ---- */

fleet *fleet_new(const fleet_config *cfg, const fleet_effects *fx)
{
    fleet *f = berth_xcalloc(1, sizeof(*f));

    f->cfg = *cfg;
    f->fx = *fx;
    fleet_status_timer_init(f);
    berth_loop_timer_init(&f->eviction_timer, fleet_eviction_due);
    fleet_rollout_timers_init(f);
    f->peers_version = (uint64_t)berth_now_real_ns();
    berth_prom_histogram_init(&f->place_seconds, berth_prom_seconds_buckets,
                              berth_prom_seconds_buckets_n);
    return f;
}

void fleet_peers_changed(fleet *f)
{
    f->peers_version++;
}

int fleet_node_peers(fleet *f, const berth_principal *who, Peer ***ret_peers, size_t *ret_n,
                     uint64_t *ret_version, berth_error **err)
{
    fleet_node *self = NULL;
    Peer **v, *msgs;
    size_t n = 0;

    if (fleet_node_of(f, who, true, &self, err) < 0)
        return -1;
    /* one block: the array, then the messages */
    v = berth_xcalloc(1, (f->n_nodes + 1) * (sizeof(*v) + sizeof(*msgs)));
    msgs = (Peer *)(void *)(v + f->n_nodes + 1);
    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *o = f->nodes[i];

        if (o == self || !*o->rec.pod_cidr || !o->rec.info || !*o->rec.info->internal_ip)
            continue;
        peer_init(&msgs[n]);
        msgs[n].name = (char *)o->rec.name;
        msgs[n].internal_ip = o->rec.info->internal_ip;
        msgs[n].pod_cidr = (char *)o->rec.pod_cidr;
        v[n] = &msgs[n];
        n++;
    }
    *ret_peers = v;
    *ret_n = n;
    *ret_version = f->peers_version;
    return 0;
}

void fleet_free(fleet *f)
{
    if (!f)
        return;
    fleet_status_flush(f);
    berth_loop_timer_cancel(f->cfg.loop, &f->eviction_timer);
    berth_loop_timer_cancel(f->cfg.loop, &f->rollout_soon);
    berth_loop_timer_cancel(f->cfg.loop, &f->rollout_due);
    for (size_t i = 0; i < f->n_nodes; i++)
        fleet_node_free(f->nodes[i]);
    free(f->nodes);
    for (size_t i = 0; i < f->n_workloads; i++) {
        fleet_rs_free_all(&f->workloads[i]);
        fleet_job_free(&f->workloads[i]);
        workload_free_unpacked(f->workloads[i].w, NULL);
    }
    free(f->workloads);
    for (size_t i = 0; i < f->n_namespaces; i++)
        namespace_free_unpacked(f->namespaces[i], NULL);
    free(f->namespaces);
    fleet_budgets_free(f);
    fleet_objects_free(f);
    free(f);
}

static int load_node(void *data, berth_store_node *rec)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet *f = data;
    char name[sizeof(rec->name)];
    fleet_node *n;
    TaintList *t = NULL;

    snprintf(name, sizeof(name), "%s", rec->name);
    /* a damaged row: the rest of the fleet still runs */
    if (fleet_node_take(f, rec, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "node not loaded");
        return 0;
    }
    if ((n = fleet_node_find(f, name)) && berth_store_taints_get(f->cfg.store, name, &t, &err) > 0)
        n->taints = t;
    else if (err)
        berth_log_error(BERTH_LOG_WARN, err, "node %s: taints not loaded", name);
    return 0;
}

/* Append w (taken) to the fleet's workloads. */
static void workload_add(fleet *f, Workload *w)
{
    fleet_workload *wl;

    f->workloads = berth_xreallocarray(f->workloads, f->n_workloads + 1, sizeof(*f->workloads));
    wl = &f->workloads[f->n_workloads++];
    memset(wl, 0, sizeof(*wl));
    wl->w = w;
    berth_workload_key(w->namespace_, w->name, wl->key);
}

/* Put ns (taken) among the fleet's namespaces, replacing one of its name. */
static void namespace_put(fleet *f, Namespace *ns)
{
    bool found;
    size_t at = fleet_namespace_at(f, ns->name, &found);

    if (found) {
        namespace_free_unpacked(f->namespaces[at], NULL);
        f->namespaces[at] = ns;
        return;
    }
    f->namespaces = berth_xreallocarray(f->namespaces, f->n_namespaces + 1, sizeof(*f->namespaces));
    memmove(&f->namespaces[at + 1], &f->namespaces[at],
            (f->n_namespaces - at) * sizeof(*f->namespaces));
    f->namespaces[at] = ns;
    f->n_namespaces++;
}

static void namespace_remove(fleet *f, const char *name)
{
    bool found;
    size_t at = fleet_namespace_at(f, name, &found);

    if (!found)
        return;
    namespace_free_unpacked(f->namespaces[at], NULL);
    memmove(&f->namespaces[at], &f->namespaces[at + 1],
            (f->n_namespaces - at - 1) * sizeof(*f->namespaces));
    f->n_namespaces--;
}

static int load_namespace(void *data, Namespace *ns)
{
    namespace_put(data, ns);
    return 0;
}

/* "default" always exists: made (and kept) the first time a fleet loads. */
static int default_namespace(fleet *f, berth_error **err)
{
    Namespace *ns;

    if (fleet_namespace_find(f, BERTH_NAMESPACE_DEFAULT))
        return 0;
    ns = berth_xcalloc(1, sizeof(*ns));
    namespace_init(ns);
    ns->name = berth_xstrdup(BERTH_NAMESPACE_DEFAULT);
    ns->created_unix_ns = berth_now_real_ns();
    ns->phase = berth_xstrdup("Active");
    if (berth_store_namespace_put(f->cfg.store, ns, err) < 0) {
        namespace_free_unpacked(ns, NULL);
        return -1;
    }
    namespace_put(f, ns);
    return 0;
}

static int load_workload(void *data, Workload *w)
{
    if (!w->template_) {
        /* nothing to run: an older or damaged row, left in the store */
        berth_warn("workload %s has no template: not loaded", w->name);
        workload_free_unpacked(w, NULL);
        return 0;
    }
    workload_add(data, w);
    return 0;
}

static int load_assignment(void *data, const berth_store_assignment *a)
{
    fleet_node *n = fleet_node_find(data, a->node);
    fleet_assign *to;

    if (!n || strlen(a->container_id) >= BERTH_ID_BUF ||
        strlen(a->workload) >= BERTH_WORKLOAD_KEY_BUF)
        return 0;
    n->assign = berth_xreallocarray(n->assign, n->n_assign + 1, sizeof(*n->assign));
    to = &n->assign[n->n_assign++];
    memset(to, 0, sizeof(*to));
    snprintf(to->id, sizeof(to->id), "%s", a->container_id);
    snprintf(to->workload, sizeof(to->workload), "%s", a->workload);
    to->replica = a->replica;
    to->spec_generation = a->spec_generation;
    to->workload_generation = a->workload_generation;
    if (strlen(a->revision) < sizeof(to->revision))
        snprintf(to->revision, sizeof(to->revision), "%s", a->revision);
    return 0;
}

static int load_status(void *data, const char *node, ContainerStatus *s)
{
    fleet *f = data;
    fleet_node *n = fleet_node_find(f, node);

    if (n)
        fleet_status_put(f, n, s);
    else
        container_status_free_unpacked(s, NULL);
    return 0;
}

int fleet_load(fleet *f, berth_error **err)
{
    if (berth_store_nodes_load(f->cfg.store, load_node, f, err) != 0 ||
        berth_store_namespaces_load(f->cfg.store, load_namespace, f, err) != 0 ||
        default_namespace(f, err) < 0 ||
        berth_store_workloads_load(f->cfg.store, load_workload, f, err) != 0 ||
        berth_store_assignments_load(f->cfg.store, load_assignment, f, err) != 0 ||
        fleet_rollouts_load(f, err) != 0 || fleet_jobs_load(f, err) != 0 ||
        fleet_budgets_load(f, err) != 0 || fleet_objects_load(f, err) != 0 ||
        berth_store_statuses_load(f->cfg.store, load_status, f, err) != 0)
        return berth_error_prefix(err, "load the fleet");
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        n->status_dirty = false; /* as loaded */
        /* What a node holds was reported before we stopped: ask again. */
        n->need_full_report = true;
    }
    /* statuses loaded are written already */
    berth_loop_timer_cancel(f->cfg.loop, &f->flush_timer);
    fleet_leases_start(f);
    berth_info("loaded %zu nodes and %zu workloads", f->n_nodes, f->n_workloads);
    return 0;
}

/* ---- what nodes are given ---- */

void fleet_specs_clear(fleet_specs *s)
{
    for (size_t i = 0; i < s->n_specs; i++)
        container_spec_free_unpacked(s->specs[i], NULL);
    free(s->specs);
    for (size_t i = 0; i < s->n_objects; i++)
        sealed_object_free_unpacked(s->objects[i], NULL);
    free(s->objects);
    memset(s, 0, sizeof(*s));
}

int fleet_node_assignments(fleet *f, const berth_principal *who, uint64_t known_generation,
                           fleet_specs *ret_specs, berth_error **err)
{
    fleet_specs out = { 0 };
    fleet_node *n = NULL;

    if (fleet_node_of(f, who, true, &n, err) < 0)
        return -1;
    out.generation = n->rec.generation;
    if (known_generation == n->rec.generation) {
        out.unchanged = true;
        *ret_specs = out;
        return 0;
    }
    out.specs = berth_xcalloc(1, sizeof(*out.specs));
    for (size_t i = 0; i < n->n_assign; i++) {
        ContainerSpec **v = NULL;
        size_t count = 0;

        /* never a partial set: the agent would act on it */
        if (fleet_assign_specs(f, n, &n->assign[i], &v, &count, err) < 0) {
            fleet_specs_clear(&out);
            return -1;
        }
        out.specs = berth_xreallocarray(out.specs, out.n_specs + count + 1, sizeof(*out.specs));
        for (size_t k = 0; k < count; k++)
            out.specs[out.n_specs++] = v[k];
        free(v);
    }
    /* the Secrets and ConfigMaps they name, sealed to the node */
    if (fleet_node_objects(f, n, out.specs, out.n_specs, &out.objects, &out.n_objects, err) < 0) {
        fleet_specs_clear(&out);
        return -1;
    }
    *ret_specs = out;
    return 0;
}

/* ---- workloads ---- */

void fleet_changes_clear(fleet_changes *c)
{
    for (size_t i = 0; i < c->n_items; i++) {
        free(c->items[i].name);
        free(c->items[i].ns);
    }
    free(c->items);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof(*c));
}

void fleet_changes_add(fleet_changes *c, const char *kind, const char *ns, const char *name,
                       ApplyAction action, uint64_t generation)
{
    c->items = berth_xreallocarray(c->items, c->n_items + 1, sizeof(*c->items));
    c->items[c->n_items++] = (fleet_change){ kind, berth_xstrdup(name),
                                             ns ? berth_xstrdup(ns) : NULL, action, generation };
}

static void warn_operator(fleet_changes *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn_operator(fleet_changes *c, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    c->warnings = berth_xreallocarray(c->warnings, c->n_warnings + 1, sizeof(*c->warnings));
    c->warnings[c->n_warnings++] = text;
}

/* Whether two workloads ask for the same thing: all but generation, times,
 * status and source. */
static bool same_spec(const Workload *a, const Workload *b)
{
    Workload x = *a, y = *b;

    x.generation = y.generation = 0;
    x.created_unix_ns = y.created_unix_ns = x.updated_unix_ns = y.updated_unix_ns = 0;
    x.status = y.status = NULL;
    x.source = y.source = (char *)protobuf_c_empty_string;
    return berth_pb_equal(&x.base, &y.base);
}

/* The action applying w means, with its generation and times set. */
static ApplyAction apply_action(fleet *f, Workload *w, int64_t now)
{
    char key[BERTH_WORKLOAD_KEY_BUF];
    fleet_workload *existing;

    berth_workload_key(w->namespace_, w->name, key);
    if (!(existing = fleet_workload_find(f, key))) {
        w->generation = 1;
        w->created_unix_ns = w->updated_unix_ns = now;
        return APPLY_CREATED;
    }
    /* What berthctl rollout set and a manifest does not say stays, as
     * kubectl apply's merge keeps it: a restart's restartedAt (or the
     * manifest would roll back to the revision before it), and a pause
     * (a manifest's paused: false ends it, as rollout resume does). */
    if (existing->w->kind == w->kind && fleet_has_revisions(w->kind)) {
        if (!*w->restarted_at && *existing->w->restarted_at) {
            free(w->restarted_at == protobuf_c_empty_string ? NULL : w->restarted_at);
            w->restarted_at = berth_xstrdup(existing->w->restarted_at);
        }
        if (!w->has_paused)
            w->paused = existing->w->paused;
    }
    if (same_spec(w, existing->w)) {
        w->generation = existing->w->generation;
        return APPLY_UNCHANGED;
    }
    w->generation = existing->w->generation + 1;
    /* another kind under the same name is another object (a CronJob
     * counts its times from it) */
    w->created_unix_ns = existing->w->kind == w->kind ? existing->w->created_unix_ns : now;
    w->updated_unix_ns = now;
    return APPLY_CONFIGURED;
}

/* The action applying ns means; *ret_copy: what to keep (a new message,
 * NULL when unchanged), its times and phase set. */
static ApplyAction namespace_action(fleet *f, const Namespace *ns, int64_t now,
                                    Namespace **ret_copy)
{
    Namespace *existing = fleet_namespace_find(f, ns->name), *c, x, y;

    *ret_copy = NULL;
    if (existing) {
        /* the same labels: nothing else of it is the operator's */
        namespace_init(&x);
        namespace_init(&y);
        x.n_labels = existing->n_labels;
        x.labels = existing->labels;
        y.n_labels = ns->n_labels;
        y.labels = ns->labels;
        if (berth_pb_equal(&x.base, &y.base))
            return APPLY_UNCHANGED;
    }
    c = BERTH_PB_COPY(Namespace, ns);
    c->created_unix_ns = existing ? existing->created_unix_ns : now;
    if (c->phase != protobuf_c_empty_string)
        free(c->phase);
    c->phase = berth_xstrdup("Active");
    c->workloads = 0;
    *ret_copy = c;
    return existing ? APPLY_CONFIGURED : APPLY_CREATED;
}

/* Whether the workload of this key exists as another kind (its revisions,
 * if any, are not the new one's). */
static bool workload_kind_changes(fleet *f, const char *key, WorkloadKind kind)
{
    const fleet_workload *existing = fleet_workload_find(f, key);

    return existing && existing->w->kind != kind;
}

static bool is_budget(const fleet_change *c)
{
    return strcmp(c->kind, FLEET_KIND_PDB) == 0;
}

/* A change of a Secret or ConfigMap (kind "Secret", "ConfigMap"). */
static bool is_object(const fleet_change *c)
{
    return strcmp(c->kind, "Secret") == 0 || strcmp(c->kind, "ConfigMap") == 0;
}

/* The workloads and namespaces durably, in one transaction with their
 * events: that is what the answer acknowledges. */
static int apply_store(fleet *f, Workload *const *w, const ApplyAction *actions, size_t n,
                       Namespace *const *ns, size_t n_ns, PodDisruptionBudget *const *pdb,
                       size_t n_pdb, ConfigObject *const *obj, size_t n_obj,
                       const fleet_changes *changes, fleet_bumps *bumps, const char *source,
                       berth_error **err)
{
    memset(bumps, 0, sizeof(*bumps));
    if (berth_store_begin(f->cfg.store, err) < 0)
        return -1;
    for (size_t i = 0; i < n_obj; i++) {
        char key[FLEET_OBJECT_KEY_BUF];

        if (!obj[i])
            continue;
        fleet_object_key(obj[i]->kind, obj[i]->namespace_, obj[i]->name, key);
        if (fleet_object_save(f, obj[i], err) < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        /* never its values: they may be secrets */
        fleet_event(f, fleet_config_kind_name(obj[i]->kind), strchr(key, '/') + 1, FLEET_NORMAL,
                    "Applied", "%s from %s: generation %" PRIu64 ", %zu keys",
                    fleet_config_kind_name(obj[i]->kind), source, obj[i]->generation,
                    obj[i]->n_data);
    }
    for (size_t i = 0; i < n_pdb; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];

        if (!pdb[i])
            continue;
        berth_workload_key(pdb[i]->namespace_, pdb[i]->name, key);
        if (berth_store_budget_put(f->cfg.store, key, pdb[i], err) < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        fleet_event(f, FLEET_KIND_PDB, key, FLEET_NORMAL, "Applied",
                    "PodDisruptionBudget from %s: generation %" PRIu64, source, pdb[i]->generation);
    }
    for (size_t i = 0; i < n_ns; i++) {
        if (!ns[i])
            continue;
        if (berth_store_namespace_put(f->cfg.store, ns[i], err) < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        fleet_event(f, FLEET_KIND_NS, ns[i]->name, FLEET_NORMAL, "Applied", "Namespace from %s",
                    source);
    }
    for (size_t i = 0; i < n; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];

        if (actions[i] == APPLY_UNCHANGED)
            continue;
        berth_workload_key(w[i]->namespace_, w[i]->name, key);
        if (berth_store_workload_put(f->cfg.store, w[i], err) < 0 ||
            (workload_kind_changes(f, key, w[i]->kind) &&
             (berth_store_replica_sets_delete(f->cfg.store, key, err) < 0 ||
              berth_store_job_delete(f->cfg.store, key, err) < 0))) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "Applied",
                    "%s %s from %s: generation %" PRIu64, berth_workload_kind_name(w[i]->kind),
                    actions[i] == APPLY_CREATED ? "created" : "configured", source,
                    w[i]->generation);
    }
    /* the nodes that use a changed object: a new generation, in the same
     * transaction */
    if (fleet_objects_bump(f, changes->items, changes->n_items, bumps, err) < 0 ||
        berth_store_commit(f->cfg.store, err) < 0) {
        berth_store_rollback(f->cfg.store);
        fleet_objects_bump_undo(f, bumps);
        return -1;
    }
    return 0;
}

/* What applying them would do, checked whole: names given once, every
 * namespace there (or applied too), the fleet's limit. */
static int apply_plan(fleet *f, const fleet_apply_in *in, int64_t now, ApplyAction *actions,
                      Namespace **ns_copies, PodDisruptionBudget **pdb_copies,
                      ConfigObject **obj_copies, fleet_changes *out, berth_error **err)
{
    Workload **workloads = in->workloads;
    Namespace *const *namespaces = in->namespaces;
    size_t n = in->n_workloads, n_ns = in->n_namespaces, n_new = 0;
    const char *source = in->source;

    /* "default" is stored as none: its replicas' ids are the workload's */
    for (size_t i = 0; i < n; i++)
        if (*workloads[i]->namespace_ && berth_namespace_is_default(workloads[i]->namespace_)) {
            free(workloads[i]->namespace_);
            workloads[i]->namespace_ = (char *)protobuf_c_empty_string;
        }
    /* (the manifest reader refuses that already: the fleet's names stay
     * unique whoever calls) */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(workloads[i]->name, workloads[j]->name) == 0 &&
                strcmp(workloads[i]->namespace_, workloads[j]->namespace_) == 0)
                return berth_error_set(err, EINVAL, "apply %s: workload %s is given twice", source,
                                       workloads[i]->name);
    for (size_t i = 0; i < n_ns; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(namespaces[i]->name, namespaces[j]->name) == 0)
                return berth_error_set(err, EINVAL, "apply %s: namespace %s is given twice", source,
                                       namespaces[i]->name);
    for (size_t i = 0; i < in->n_objects; i++) {
        ConfigObject *o = in->objects[i];

        if (!*o->namespace_) {
            if (o->namespace_ != protobuf_c_empty_string)
                free(o->namespace_);
            o->namespace_ = berth_xstrdup("default");
        }
        for (size_t j = 0; j < i; j++)
            if (o->kind == in->objects[j]->kind && strcmp(o->name, in->objects[j]->name) == 0 &&
                strcmp(o->namespace_, in->objects[j]->namespace_) == 0)
                return berth_error_set(err, EINVAL, "apply %s: %s %s is given twice", source,
                                       fleet_config_kind_name(o->kind), o->name);
        if (!fleet_namespace_find(f, o->namespace_)) {
            bool given = false;

            for (size_t j = 0; j < n_ns && !given; j++)
                given = strcmp(namespaces[j]->name, o->namespace_) == 0;
            for (size_t j = 0; in->dry_run && j < in->n_pending && !given; j++)
                given = strcmp(in->pending[j], o->namespace_) == 0;
            if (!given)
                return berth_error_set(err, ENOENT,
                                       "apply %s: %s %s: namespace %s not found (create it "
                                       "first: berthctl create namespace %s)",
                                       source, fleet_config_kind_name(o->kind), o->name,
                                       o->namespace_, o->namespace_);
        }
    }
    for (size_t i = 0; i < n + in->n_budgets; i++) {
        const char *ns = berth_namespace_or_default(i < n ? workloads[i]->namespace_
                                                          : in->budgets[i - n]->namespace_);
        bool given = false;

        for (size_t j = 0; j < n_ns && !given; j++)
            given = strcmp(namespaces[j]->name, ns) == 0;
        for (size_t j = 0; in->dry_run && j < in->n_pending && !given; j++)
            given = strcmp(in->pending[j], ns) == 0;
        if (!given && !fleet_namespace_find(f, ns))
            return berth_error_set(
                err, ENOENT,
                "apply %s: %s %s: namespace %s not found (create it first: berthctl create "
                "namespace %s)",
                source, i < n ? berth_workload_kind_name(workloads[i]->kind) : FLEET_KIND_PDB,
                i < n ? workloads[i]->name : in->budgets[i - n]->name, ns, ns);
    }
    for (size_t i = 0; i < in->n_budgets; i++) {
        PodDisruptionBudget *b = in->budgets[i];

        /* stored with its namespace spelled out */
        if (!*b->namespace_) {
            if (b->namespace_ != protobuf_c_empty_string)
                free(b->namespace_);
            b->namespace_ = berth_xstrdup("default");
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(b->name, in->budgets[j]->name) == 0 &&
                strcmp(b->namespace_, in->budgets[j]->namespace_) == 0)
                return berth_error_set(err, EINVAL,
                                       "apply %s: PodDisruptionBudget %s is given twice", source,
                                       b->name);
    }
    for (size_t i = 0; i < n; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];
        const fleet_workload *existing;

        berth_workload_key(workloads[i]->namespace_, workloads[i]->name, key);
        existing = fleet_workload_find(f, key);
        if (existing && existing->w->kind == WORKLOAD_JOB && workloads[i]->kind == WORKLOAD_JOB &&
            !fleet_job_change_allowed(existing->w, workloads[i]))
            return berth_error_set(err, EINVAL,
                                   "apply %s: Job %s: spec.template, completions and "
                                   "completionMode are immutable (delete the Job and apply it "
                                   "again)",
                                   source, workloads[i]->name);
    }
    for (size_t i = 0; i < n; i++) {
        actions[i] = apply_action(f, workloads[i], now);
        n_new += actions[i] == APPLY_CREATED;
    }
    if (f->n_workloads + n_new > FLEET_WORKLOADS_MAX)
        return berth_error_set(err, ENOSPC, "%zu workloads would exceed the limit of %d",
                               f->n_workloads + n_new, FLEET_WORKLOADS_MAX);
    n_new = 0;
    for (size_t i = 0; i < in->n_budgets; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];

        berth_workload_key(in->budgets[i]->namespace_, in->budgets[i]->name, key);
        n_new += !fleet_budget_find(f, key);
    }
    if (f->n_budgets + n_new > FLEET_BUDGETS_MAX)
        return berth_error_set(err, ENOSPC, "%zu PodDisruptionBudgets would exceed the limit of %d",
                               f->n_budgets + n_new, FLEET_BUDGETS_MAX);
    for (size_t i = 0; i < n_ns; i++) {
        ApplyAction a = namespace_action(f, namespaces[i], now, &ns_copies[i]);

        fleet_changes_add(out, FLEET_KIND_NS, NULL, namespaces[i]->name, a, 0);
    }
    /* the objects before the workloads that use them, as manifests list
     * them */
    for (size_t i = 0; i < in->n_objects; i++) {
        const ConfigObject *o = in->objects[i];
        const fleet_object *existing;
        ApplyAction a;

        if (fleet_object_action(f, o, now, &a, &obj_copies[i], err) < 0)
            return berth_error_prefix(err, "apply %s", source);
        existing = fleet_object_find(f, o->kind, o->namespace_, o->name);
        fleet_changes_add(out, fleet_config_kind_name(o->kind), o->namespace_, o->name, a,
                          obj_copies[i] ? obj_copies[i]->generation : existing->o->generation);
    }
    for (size_t i = 0; i < n; i++) {
        Workload *w = workloads[i];

        fleet_changes_add(out, berth_workload_kind_name(w->kind),
                          berth_namespace_or_default(w->namespace_), w->name, actions[i],
                          w->generation);
        if (w->kind != WORKLOAD_DAEMONSET && w->replicas == 0)
            warn_operator(out, "%s: replicas 0: nothing will run", w->name);
    }
    /* budgets after the workloads they guard, as manifests list them */
    for (size_t i = 0; i < in->n_budgets; i++) {
        const PodDisruptionBudget *b = in->budgets[i];
        ApplyAction a = fleet_budget_action(f, b, now, &pdb_copies[i]);
        char key[BERTH_WORKLOAD_KEY_BUF];

        berth_workload_key(b->namespace_, b->name, key);
        fleet_changes_add(out, FLEET_KIND_PDB, b->namespace_, b->name, a,
                          pdb_copies[i] ? pdb_copies[i]->generation
                                        : fleet_budget_find(f, key)->b->generation);
    }
    return 0;
}

int fleet_apply(fleet *f, Workload **workloads, size_t n, const char *source, bool dry_run,
                fleet_changes *ret_changes, berth_error **err)
{
    fleet_apply_in in = {
        .workloads = workloads, .n_workloads = n, .source = source, .dry_run = dry_run
    };

    return fleet_apply_all(f, &in, ret_changes, err);
}

int fleet_apply_all(fleet *f, const fleet_apply_in *in, fleet_changes *ret_changes,
                    berth_error **err)
{
    Workload **workloads = in->workloads;
    size_t n = in->n_workloads, n_ns = in->n_namespaces;
    const char *source = in->source;
    bool dry_run = in->dry_run;
    _cleanup_free_ ApplyAction *actions = berth_xcalloc(n + 1, sizeof(*actions));
    _cleanup_free_ Namespace **copies = berth_xcalloc(n_ns + 1, sizeof(*copies));
    _cleanup_free_ PodDisruptionBudget **pdb_copies =
        berth_xcalloc(in->n_budgets + 1, sizeof(*pdb_copies));
    _cleanup_free_ ConfigObject **obj_copies =
        berth_xcalloc(in->n_objects + 1, sizeof(*obj_copies));
    fleet_changes out = { 0 };
    fleet_bumps bumps = { 0 };
    int64_t now = berth_now_real_ns();
    int r;

    r = apply_plan(f, in, now, actions, copies, pdb_copies, obj_copies, &out, err);
    if (r == 0 && !dry_run &&
        apply_store(f, workloads, actions, n, copies, n_ns, pdb_copies, in->n_budgets, obj_copies,
                    in->n_objects, &out, &bumps, source, err) < 0)
        r = berth_error_prefix(err, "apply %s", source);
    if (r < 0 || dry_run) {
        for (size_t i = 0; i < n_ns; i++)
            if (copies[i])
                namespace_free_unpacked(copies[i], NULL);
        for (size_t i = 0; i < in->n_budgets; i++)
            if (pdb_copies[i])
                pod_disruption_budget_free_unpacked(pdb_copies[i], NULL);
        for (size_t i = 0; i < in->n_objects; i++)
            berth_config_object_free(obj_copies[i]);
        if (r < 0)
            fleet_changes_clear(&out);
        else
            *ret_changes = out;
        return r;
    }
    /* Committed: memory follows, then placement (redone from the store at
     * the next start should we crash before it is). */
    for (size_t i = 0; i < n_ns; i++)
        if (copies[i])
            namespace_put(f, copies[i]);
    for (size_t i = 0; i < in->n_budgets; i++)
        if (pdb_copies[i])
            fleet_budget_put(f, pdb_copies[i]);
    for (size_t i = 0; i < in->n_objects; i++)
        if (obj_copies[i])
            fleet_object_put(f, obj_copies[i]);
    for (size_t i = 0; i < n; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];
        fleet_workload *existing;

        if (actions[i] == APPLY_UNCHANGED)
            continue;
        berth_workload_key(workloads[i]->namespace_, workloads[i]->name, key);
        if ((existing = fleet_workload_find(f, key))) {
            if (existing->w->kind != workloads[i]->kind) { /* another kind now */
                fleet_rs_free_all(existing);
                fleet_job_free(existing);
            }
            workload_free_unpacked(existing->w, NULL);
            existing->w = workloads[i];
        } else {
            workload_add(f, workloads[i]);
        }
        workloads[i] = NULL; /* the fleet's now */
    }
    fleet_objects_bump_done(f, &bumps);
    fleet_reconcile_after(f, "apply");
    for (size_t i = 0; i < out.n_items; i++) {
        char key[BERTH_WORKLOAD_KEY_BUF];
        const fleet_workload *wl;

        if (!out.items[i].ns || is_budget(&out.items[i]) || is_object(&out.items[i]))
            continue;
        berth_workload_key(out.items[i].ns, out.items[i].name, key);
        if ((wl = fleet_workload_find(f, key)) && wl->place.unschedulable)
            warn_operator(&out, "%s: %u of %u replicas cannot be placed: %s", wl->w->name,
                          wl->place.unschedulable, wl->place.desired, wl->place.message);
    }
    *ret_changes = out;
    return 0;
}

int fleet_delete_workloads(fleet *f, const char *const *keys, size_t n, const char *by,
                           bool dry_run, fleet_changes *ret_changes, berth_error **err)
{
    fleet_delete_in in = { .keys = keys, .n_keys = n, .by = by, .dry_run = dry_run };

    return fleet_delete(f, &in, ret_changes, err);
}

/* Add the deletion of wl to c, unless it is there already. */
static void delete_workload_change(fleet_changes *c, const fleet_workload *wl)
{
    const char *ns = berth_namespace_or_default(wl->w->namespace_);

    for (size_t j = 0; j < c->n_items; j++)
        if (c->items[j].ns && !is_budget(&c->items[j]) && !is_object(&c->items[j]) &&
            strcmp(c->items[j].ns, ns) == 0 && strcmp(c->items[j].name, wl->w->name) == 0)
            return;
    fleet_changes_add(c, berth_workload_kind_name(wl->w->kind), ns, wl->w->name, APPLY_DELETED,
                      wl->w->generation);
}

/* Delete what out lists, durably with its events, then from memory. */
static int delete_commit(fleet *f, const fleet_changes *out, const char *by, berth_error **err)
{
    fleet_bumps bumps;

    if (berth_store_begin(f->cfg.store, err) < 0)
        return -1;
    for (size_t i = 0; i < out->n_items; i++) {
        const fleet_change *c = &out->items[i];
        char key[FLEET_OBJECT_KEY_BUF];
        int r;

        if (is_object(c)) {
            fleet_object_key(c->kind[0] == 'S' ? CONFIG_SECRET : CONFIG_MAP, c->ns, c->name, key);
            if (berth_store_object_delete(f->cfg.store, key, err) < 0) {
                berth_store_rollback(f->cfg.store);
                return -1;
            }
            fleet_event(f, c->kind, strchr(key, '/') + 1, FLEET_NORMAL, "Deleted", "by operator %s",
                        by);
            continue;
        }
        if (c->ns)
            berth_workload_key(c->ns, c->name, key);
        r = is_budget(c) ? berth_store_budget_delete(f->cfg.store, key, err)
            : c->ns      ? berth_store_workload_delete(f->cfg.store, key, err)
                         : berth_store_namespace_delete(f->cfg.store, c->name, err);
        if (r < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        fleet_event(f,
                    is_budget(c) ? FLEET_KIND_PDB
                    : c->ns      ? FLEET_KIND_WORKLOAD
                                 : FLEET_KIND_NS,
                    c->ns ? key : c->name, FLEET_NORMAL, "Deleted", "by operator %s", by);
    }
    /* the nodes that used a deleted object: a new generation, with it */
    if (fleet_objects_bump(f, out->items, out->n_items, &bumps, err) < 0 ||
        berth_store_commit(f->cfg.store, err) < 0) {
        berth_store_rollback(f->cfg.store);
        fleet_objects_bump_undo(f, &bumps);
        return -1;
    }
    fleet_objects_bump_done(f, &bumps);
    for (size_t i = 0; i < out->n_items; i++) {
        const fleet_change *c = &out->items[i];
        char key[FLEET_OBJECT_KEY_BUF];
        fleet_workload *wl;
        size_t at;

        if (!c->ns) {
            namespace_remove(f, c->name);
            continue;
        }
        if (is_object(c)) {
            fleet_object_key(c->kind[0] == 'S' ? CONFIG_SECRET : CONFIG_MAP, c->ns, c->name, key);
            fleet_object_remove(f, key);
            continue;
        }
        berth_workload_key(c->ns, c->name, key);
        if (is_budget(c)) {
            fleet_budget_remove(f, key);
            continue;
        }
        wl = fleet_workload_find(f, key);
        at = (size_t)(wl - f->workloads);
        fleet_rs_free_all(wl);
        fleet_job_free(wl);
        workload_free_unpacked(wl->w, NULL);
        memmove(&f->workloads[at], &f->workloads[at + 1],
                (f->n_workloads - at - 1) * sizeof(*f->workloads));
        f->n_workloads--;
    }
    return 0;
}

/* Add the deletion of object fo to c, unless it is there already. */
static void delete_object_change(fleet_changes *c, const fleet_object *fo)
{
    const char *kind = fleet_config_kind_name(fo->o->kind);

    for (size_t j = 0; j < c->n_items; j++)
        if (strcmp(c->items[j].kind, kind) == 0 && strcmp(c->items[j].ns, fo->o->namespace_) == 0 &&
            strcmp(c->items[j].name, fo->o->name) == 0)
            return;
    fleet_changes_add(c, kind, fo->o->namespace_, fo->o->name, APPLY_DELETED, fo->o->generation);
}

/* Add the deletion of budget fb to c, unless it is there already. */
static void delete_budget_change(fleet_changes *c, const fleet_budget *fb)
{
    for (size_t j = 0; j < c->n_items; j++)
        if (is_budget(&c->items[j]) && strcmp(c->items[j].ns, fb->b->namespace_) == 0 &&
            strcmp(c->items[j].name, fb->b->name) == 0)
            return;
    fleet_changes_add(c, FLEET_KIND_PDB, fb->b->namespace_, fb->b->name, APPLY_DELETED,
                      fb->b->generation);
}

int fleet_delete(fleet *f, const fleet_delete_in *in, fleet_changes *ret_changes, berth_error **err)
{
    const char *const *keys = in->keys, *const *namespaces = in->namespaces;
    size_t n = in->n_keys, n_ns = in->n_namespaces;
    const char *by = in->by;
    bool dry_run = in->dry_run;
    fleet_changes out = { 0 };

    for (size_t i = 0; i < n_ns; i++)
        if (berth_namespace_is_default(namespaces[i]))
            return berth_error_set(err, EBUSY, "namespace default cannot be deleted");
    for (size_t i = 0; i < n; i++) {
        const fleet_workload *wl = fleet_workload_find(f, keys[i]);
        char **children = NULL;
        size_t n_children;

        if (!wl)
            continue;
        delete_workload_change(&out, wl);
        if (wl->w->kind != WORKLOAD_CRONJOB)
            continue;
        /* a CronJob's Jobs go with it, as Kubernetes' owner references */
        n_children = fleet_cron_children(f, wl, &children);
        for (size_t k = 0; k < n_children; k++) {
            const fleet_workload *child = fleet_workload_find(f, children[k]);

            if (child)
                delete_workload_change(&out, child);
            free(children[k]);
        }
        free(children);
    }
    for (size_t i = 0; i < in->n_budgets; i++) {
        const fleet_budget *fb = fleet_budget_find(f, in->budgets[i]);

        if (fb)
            delete_budget_change(&out, fb);
    }
    for (size_t i = 0; i < in->n_objects; i++)
        for (size_t j = 0; j < f->n_objects; j++)
            if (strcmp(f->objects[j]->key, in->objects[i]) == 0)
                delete_object_change(&out, f->objects[j]);
    for (size_t i = 0; i < n_ns; i++) {
        bool again = false;

        if (!fleet_namespace_find(f, namespaces[i]))
            continue;
        for (size_t j = 0; j < f->n_workloads; j++)
            if (strcmp(berth_namespace_or_default(f->workloads[j].w->namespace_), namespaces[i]) ==
                0)
                delete_workload_change(&out, &f->workloads[j]);
        for (size_t j = 0; j < f->n_budgets; j++)
            if (strcmp(f->budgets[j]->b->namespace_, namespaces[i]) == 0)
                delete_budget_change(&out, f->budgets[j]);
        for (size_t j = 0; j < f->n_objects; j++)
            if (strcmp(f->objects[j]->o->namespace_, namespaces[i]) == 0)
                delete_object_change(&out, f->objects[j]);
        for (size_t j = 0; j < out.n_items && !again; j++)
            again = !out.items[j].ns && strcmp(out.items[j].name, namespaces[i]) == 0;
        if (!again)
            fleet_changes_add(&out, FLEET_KIND_NS, NULL, namespaces[i], APPLY_DELETED, 0);
    }
    if (out.n_items == 0) {
        if (n == 0 && n_ns > 0)
            return berth_error_set(err, ENOENT, "namespace %.63s not found", namespaces[0]);
        if (n == 0 && in->n_budgets > 0)
            return berth_error_set(err, ENOENT, "poddisruptionbudget %.120s not found",
                                   in->budgets[0]);
        if (n == 0 && in->n_objects > 0)
            return berth_error_set(err, ENOENT, "%.120s not found", in->objects[0]);
        return berth_error_set(err, ENOENT, "workload %.120s not found", n ? keys[0] : "");
    }
    if (dry_run) {
        *ret_changes = out;
        return 0;
    }
    if (delete_commit(f, &out, by, err) < 0) {
        fleet_changes_clear(&out);
        return berth_error_prefix(err, "delete");
    }
    fleet_reconcile_after(f, "delete");
    *ret_changes = out;
    return 0;
}
