/* The operator-facing half of the Controller service (role operator:
 * berthctl): applying and deleting manifests, the fleet's listings, node
 * admission, cordon and drain, events, metrics, the fleet health survey and
 * the log and stop relays to a node's Agent service. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/version.h"
#include "base/xalloc.h"
#include "fleet-view.h"
#include "manifest/manifest.h"
#include "services.h"
#include "spec/workload.h"
#include "validate.h"

/* FleetHealth: how long nodes have to answer, unless the operator says. */
#define HEALTH_TIMEOUT_MS  2000
#define HEALTH_TIMEOUT_MAX 60000
/* Relayed calls: at most this long, and this much before the incoming
 * call's own deadline, so its answer still makes it back. */
#define RELAY_TIMEOUT_MS 10000
#define RELAY_MARGIN_MS  200
#define RELAY_MIN_MS     100

#define NEED_OPERATOR(call)                                                                        \
    do {                                                                                           \
        if (!ctl_need_role((call), BERTH_ROLE_OPERATOR))                                           \
            return;                                                                                \
    } while (0)

static fleet *fleet_of(Controller_Service *svc)
{
    return ctl_service_of(svc)->fleet;
}

static const char *operator_name(void *call)
{
    return berth_rpc_call_peer(call)->name;
}

/* ---- nodes ---- */

static void h_list_nodes(Controller_Service *svc, const ListNodesRequest *in,
                         ListNodesResponse_Closure closure, void *data)
{
    ListNodesResponse out = LIST_NODES_RESPONSE_INIT;
    fleet_nodes v;

    NEED_OPERATOR(data);
    fleet_nodes_list(fleet_of(svc), in, &v);
    out.nodes = v.nodes;
    out.n_nodes = v.n_nodes;
    closure(&out, data);
    fleet_nodes_clear(&v);
}

/* Answer with node name as it is now. */
static void answer_node(fleet *f, const char *name, Node_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet_nodes v;

    if (fleet_nodes_get(f, name, &v, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(v.nodes[0], data);
    fleet_nodes_clear(&v);
}

static void h_get_node(Controller_Service *svc, const GetNodeRequest *in, Node_Closure closure,
                       void *data)
{
    NEED_OPERATOR(data);
    answer_node(fleet_of(svc), in->name, closure, data);
}

static void h_approve_node(Controller_Service *svc, const ApproveNodeRequest *in,
                           Node_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;

    NEED_OPERATOR(data);
    if (fleet_approve_node(fleet_of(svc), in, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    answer_node(fleet_of(svc), in->name, closure, data);
}

static void h_create_join_token(Controller_Service *svc, const CreateJoinTokenRequest *in,
                                JoinToken_Closure closure, void *data)
{
    JoinToken out = JOIN_TOKEN_INIT;
    _cleanup_error_ berth_error *err = NULL;
    char text[BERTH_TOKEN_TEXT_LEN], id[2 * BERTH_TOKEN_ID_LEN + 1];
    char fp[BERTH_SHA256_FINGERPRINT_LEN];
    berth_join_token t;
    int64_t expires;

    NEED_OPERATOR(data);
    if (fleet_create_join_token(fleet_of(svc), in, &t, &expires, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    sodium_bin2hex(id, sizeof(id), t.id, BERTH_TOKEN_ID_LEN);
    out.token = berth_join_token_format(&t, text);
    out.id = id;
    out.expires_unix_ns = expires;
    out.description = in->description;
    out.uses = in->uses ? in->uses : 1;
    out.created_unix_ns = berth_now_real_ns();
    if (ctl_service_of(svc)->pk)
        out.controller_fingerprint = berth_key_sha256_fingerprint(ctl_service_of(svc)->pk, fp);
    out.controller_address = (char *)(ctl_service_of(svc)->rpc ? ctl_service_of(svc)->rpc : "");
    closure(&out, data);
    sodium_memzero(&t, sizeof(t));
    sodium_memzero(text, sizeof(text));
}

/* A stored token as listed (id into idbuf). */
static void token_message(const berth_store_token *t, JoinToken *out,
                          char idbuf[2 * BERTH_TOKEN_ID_LEN + 1])
{
    join_token_init(out);
    sodium_bin2hex(idbuf, 2 * BERTH_TOKEN_ID_LEN + 1, t->id, BERTH_TOKEN_ID_LEN);
    out->id = idbuf;
    out->description = (char *)t->description;
    out->expires_unix_ns = t->expires_ns;
    out->created_unix_ns = t->created_ns;
    out->uses = t->uses;
    out->used = t->used;
    out->last_used_by = (char *)t->used_by;
    out->last_used_unix_ns = t->used_ns;
}

static void h_list_join_tokens(Controller_Service *svc, const ListJoinTokensRequest *in,
                               ListJoinTokensResponse_Closure closure, void *data)
{
    ListJoinTokensResponse out = LIST_JOIN_TOKENS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    berth_store_token *v = NULL;
    JoinToken *msgs, **ptrs;
    char(*ids)[2 * BERTH_TOKEN_ID_LEN + 1];
    size_t n = 0;

    (void)in;
    NEED_OPERATOR(data);
    if (fleet_join_tokens_list(fleet_of(svc), &v, &n, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    msgs = berth_xcalloc(n + 1, sizeof(*msgs));
    ptrs = berth_xcalloc(n + 1, sizeof(*ptrs));
    ids = berth_xcalloc(n + 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        token_message(&v[i], &msgs[i], ids[i]);
        ptrs[i] = &msgs[i];
    }
    out.tokens = ptrs;
    out.n_tokens = n;
    closure(&out, data);
    free(ids);
    free(ptrs);
    free(msgs);
    free(v);
}

static void h_delete_join_token(Controller_Service *svc, const DeleteJoinTokenRequest *in,
                                JoinToken_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    berth_store_token t;
    JoinToken out;
    char id[2 * BERTH_TOKEN_ID_LEN + 1];

    NEED_OPERATOR(data);
    if (fleet_join_token_delete(fleet_of(svc), in->id, operator_name(data), &t, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    token_message(&t, &out, id);
    closure(&out, data);
}

static void set_schedulable(Controller_Service *svc, const char *name, fleet_schedulable what,
                            Node_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;

    if (fleet_set_schedulable(fleet_of(svc), name, what, operator_name(data), &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    answer_node(fleet_of(svc), name, closure, data);
}

static void h_cordon_node(Controller_Service *svc, const CordonNodeRequest *in,
                          Node_Closure closure, void *data)
{
    NEED_OPERATOR(data);
    set_schedulable(svc, in->name, in->cordon ? FLEET_CORDON : FLEET_UNCORDON, closure, data);
}

static void h_drain_node(Controller_Service *svc, const DrainNodeRequest *in, Node_Closure closure,
                         void *data)
{
    NEED_OPERATOR(data);
    set_schedulable(svc, in->name, FLEET_DRAIN, closure, data);
}

static void h_taint_node(Controller_Service *svc, const TaintNodeRequest *in, Node_Closure closure,
                         void *data)
{
    _cleanup_error_ berth_error *err = NULL;

    NEED_OPERATOR(data);
    if (fleet_node_taint(fleet_of(svc), in->name, in->add, in->n_add, in->remove, in->n_remove,
                         operator_name(data), &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    answer_node(fleet_of(svc), in->name, closure, data);
}

/* ---- workloads ---- */

static void h_list_workloads(Controller_Service *svc, const ListWorkloadsRequest *in,
                             ListWorkloadsResponse_Closure closure, void *data)
{
    ListWorkloadsResponse out = LIST_WORKLOADS_RESPONSE_INIT;
    fleet_workloads v;

    NEED_OPERATOR(data);
    fleet_workloads_list(fleet_of(svc), in, &v);
    out.workloads = v.workloads;
    out.n_workloads = v.n_workloads;
    closure(&out, data);
    fleet_workloads_clear(&v);
}

static void h_get_workload(Controller_Service *svc, const GetWorkloadRequest *in,
                           Workload_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet_workloads v;

    char key[BERTH_WORKLOAD_KEY_BUF];

    NEED_OPERATOR(data);
    berth_workload_key(in->namespace_, in->name, key);
    if (fleet_workloads_get(fleet_of(svc), key, &v, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(v.workloads[0], data);
    fleet_workloads_clear(&v);
}

static void h_rollout(Controller_Service *svc, const RolloutRequest *in,
                      RolloutResponse_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    RolloutResponse out = ROLLOUT_RESPONSE_INIT;
    _cleanup_free_ char *result = NULL;

    NEED_OPERATOR(data);
    if (fleet_rollout(fleet_of(svc), in, operator_name(data), &result, &out.generation, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.result = result;
    closure(&out, data);
}

/* The results of an Apply or Delete as the wire has them, borrowing c's
 * strings. */
typedef struct results {
    ApplyResult *res, **ptrs;
} results;

static void results_fill(const fleet_changes *c, results *ret)
{
    ret->res = berth_xcalloc(c->n_items + 1, sizeof(*ret->res));
    ret->ptrs = berth_xcalloc(c->n_items + 1, sizeof(*ret->ptrs));
    for (size_t i = 0; i < c->n_items; i++) {
        ApplyResult *r = &ret->res[i];

        apply_result_init(r);
        r->kind = (char *)c->items[i].kind;
        r->name = c->items[i].name;
        r->namespace_ = c->items[i].ns ? c->items[i].ns : "";
        r->action = c->items[i].action;
        r->generation = c->items[i].generation;
        ret->ptrs[i] = r;
    }
}

static void results_free(results *r)
{
    free(r->res);
    free(r->ptrs);
}

/* The request's namespace (kubectl apply -n) for m's workloads that name
 * none; one naming another is an error, as in kubectl. */
static int object_namespace(char **object_ns, const char *ns, berth_error **err)
{
    if (!*ns)
        return 0;
    if (**object_ns && strcmp(*object_ns, ns) != 0)
        return berth_error_set(err, EINVAL,
                               "the namespace from the provided object \"%s\" does not "
                               "match the namespace \"%s\". You must pass '--namespace=%s' "
                               "to perform this operation.",
                               *object_ns, ns, *object_ns);
    if (!**object_ns) {
        free(*object_ns == protobuf_c_empty_string ? NULL : *object_ns);
        *object_ns = berth_xstrdup(ns);
    }
    return 0;
}

static int manifest_namespace(berth_manifest *m, const char *ns, berth_error **err)
{
    if (*ns && !berth_namespace_name_valid(ns))
        return berth_error_set(err, EINVAL, "namespace '%.70s' is not a valid namespace name", ns);
    for (size_t i = 0; m && i < m->n_workloads; i++)
        if (object_namespace(&m->workloads[i]->namespace_, ns, err) < 0)
            return -1;
    for (size_t i = 0; m && i < m->n_budgets; i++)
        if (object_namespace(&m->budgets[i]->namespace_, ns, err) < 0)
            return -1;
    for (size_t i = 0; m && i < m->n_objects; i++)
        if (object_namespace(&m->objects[i]->namespace_, ns, err) < 0)
            return -1;
    return 0;
}

static void h_apply(Controller_Service *svc, const ApplyRequest *in, ApplyResponse_Closure closure,
                    void *data)
{
    ApplyResponse out = APPLY_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    berth_manifest *m = NULL;
    fleet_changes c;
    results r;
    char source[CTL_SOURCE_MAX + 1];

    NEED_OPERATOR(data);
    ctl_source_name(in->source, source, sizeof(source));
    /* a manifest that does not parse: EINVAL, every error in it */
    if (berth_manifest_parse(in->manifest, strlen(in->manifest), source, &m, &err) < 0 ||
        manifest_namespace(m, in->namespace_, &err) < 0 ||
        fleet_apply_all(fleet_of(svc),
                        &(fleet_apply_in){ .workloads = m->workloads,
                                           .n_workloads = m->n_workloads,
                                           .namespaces = m->namespaces,
                                           .n_namespaces = m->n_namespaces,
                                           .budgets = m->budgets,
                                           .n_budgets = m->n_budgets,
                                           .objects = m->objects,
                                           .n_objects = m->n_objects,
                                           .pending = in->pending_namespaces,
                                           .n_pending = in->n_pending_namespaces,
                                           .source = source,
                                           .dry_run = in->dry_run },
                        &c, &err) < 0) {
        berth_rpc_fail_error(data, err);
        berth_manifest_free(m);
        return;
    }
    results_fill(&c, &r);
    out.results = r.ptrs;
    out.n_results = c.n_items;
    out.dry_run = in->dry_run;
    out.warnings = c.warnings;
    out.n_warnings = c.n_warnings;
    closure(&out, data);
    results_free(&r);
    fleet_changes_clear(&c);
    berth_manifest_free(m);
}

/* What a Delete names: the workloads (by key) and namespaces of its
 * manifest, or the one its kind and name say. */
typedef struct delete_what {
    berth_manifest *m;
    char (*keys)[BERTH_WORKLOAD_KEY_BUF];
    const char **key_ptrs, **namespaces;
    size_t n_keys, n_namespaces;
    /* the budgets' keys (after the workloads' in keys) */
    const char **budgets;
    size_t n_budgets;
    /* Secrets' and ConfigMaps' keys */
    char (*object_keys)[FLEET_OBJECT_KEY_BUF];
    const char **objects;
    size_t n_objects;
} delete_what;

static void delete_what_free(delete_what *d)
{
    berth_manifest_free(d->m);
    free(d->keys);
    free(d->key_ptrs);
    free(d->namespaces);
    free(d->budgets);
    free(d->object_keys);
    free(d->objects);
}

typedef enum delete_kind {
    DELETE_WORKLOAD,
    DELETE_NAMESPACE,
    DELETE_BUDGET,
    DELETE_SECRET,
    DELETE_CONFIG_MAP
} delete_kind;

static int delete_names(const DeleteRequest *in, delete_kind kind, delete_what *ret,
                        berth_error **err)
{
    char source[CTL_SOURCE_MAX + 1];
    berth_manifest *m = NULL;
    size_t n;

    memset(ret, 0, sizeof(*ret));
    if (*in->manifest) {
        ctl_source_name("manifest", source, sizeof(source));
        if (berth_manifest_parse(in->manifest, strlen(in->manifest), source, &m, err) < 0)
            return -1;
        ret->m = m;
        if (manifest_namespace(m, in->namespace_, err) < 0)
            return -1;
    }
    n = m ? m->n_workloads + m->n_budgets : 1;
    ret->keys = berth_xcalloc(n + 1, sizeof(*ret->keys));
    ret->key_ptrs = berth_xcalloc(n + 1, sizeof(*ret->key_ptrs));
    ret->budgets = berth_xcalloc(n + 1, sizeof(*ret->budgets));
    ret->namespaces = berth_xcalloc((m ? m->n_namespaces : 1) + 1, sizeof(*ret->namespaces));
    ret->object_keys = berth_xcalloc((m ? m->n_objects : 1) + 1, sizeof(*ret->object_keys));
    ret->objects = berth_xcalloc((m ? m->n_objects : 1) + 1, sizeof(*ret->objects));
    if (!m && kind == DELETE_NAMESPACE) {
        ret->namespaces[ret->n_namespaces++] = in->name;
        return 0;
    }
    if (!m && (kind == DELETE_SECRET || kind == DELETE_CONFIG_MAP)) {
        fleet_object_key(kind == DELETE_SECRET ? CONFIG_SECRET : CONFIG_MAP, in->namespace_,
                         in->name, ret->object_keys[0]);
        ret->objects[ret->n_objects++] = ret->object_keys[0];
        return 0;
    }
    for (size_t i = 0; m && i < m->n_objects; i++) {
        fleet_object_key(m->objects[i]->kind, m->objects[i]->namespace_, m->objects[i]->name,
                         ret->object_keys[i]);
        ret->objects[ret->n_objects++] = ret->object_keys[i];
    }
    if (!m) {
        berth_workload_key(berth_namespace_or_default(in->namespace_), in->name, ret->keys[0]);
        if (kind == DELETE_BUDGET)
            ret->budgets[ret->n_budgets++] = ret->keys[0];
        else
            ret->key_ptrs[ret->n_keys++] = ret->keys[0];
        return 0;
    }
    for (size_t i = 0; i < m->n_budgets; i++) {
        char *k = ret->keys[m->n_workloads + i];

        berth_workload_key(berth_namespace_or_default(m->budgets[i]->namespace_),
                           m->budgets[i]->name, k);
        ret->budgets[ret->n_budgets++] = k;
    }
    for (size_t i = 0; i < m->n_workloads; i++) {
        berth_workload_key(m->workloads[i]->namespace_, m->workloads[i]->name, ret->keys[i]);
        ret->key_ptrs[ret->n_keys++] = ret->keys[i];
    }
    for (size_t i = 0; i < m->n_namespaces; i++)
        ret->namespaces[ret->n_namespaces++] = m->namespaces[i]->name;
    return 0;
}

static bool kind_is(const char *kind, const char *one, const char *many, const char *brief)
{
    return strcmp(kind, one) == 0 || strcmp(kind, many) == 0 || (brief && strcmp(kind, brief) == 0);
}

/* kubectl's word for a kind of workload (deployment, deploy, ds, cj ...),
 * or UNSPECIFIED. */
static WorkloadKind workload_kind_of(const char *kind)
{
    if (kind_is(kind, "deployment", "deployments", "deploy"))
        return WORKLOAD_DEPLOYMENT;
    if (kind_is(kind, "daemonset", "daemonsets", "ds"))
        return WORKLOAD_DAEMONSET;
    if (kind_is(kind, "job", "jobs", NULL))
        return WORKLOAD_JOB;
    if (kind_is(kind, "cronjob", "cronjobs", "cj"))
        return WORKLOAD_CRONJOB;
    return WORKLOAD_KIND_UNSPECIFIED;
}

/* Whether the workload a Delete names is of this kind (kubectl delete
 * deployment web deletes no Job web); ENOENT in kubectl's words if not. */
static bool workload_is(fleet *f, const DeleteRequest *in, WorkloadKind kind, berth_error **err)
{
    char key[BERTH_WORKLOAD_KEY_BUF];
    fleet_workloads v;
    bool is;

    berth_workload_key(berth_namespace_or_default(in->namespace_), in->name, key);
    if (fleet_workloads_get(f, key, &v, NULL) < 0)
        v.n_workloads = 0;
    is = v.n_workloads == 1 && v.workloads[0]->kind == kind;
    if (v.n_workloads)
        fleet_workloads_clear(&v);
    if (!is)
        berth_error_set(err, ENOENT, "%s \"%.60s\" not found",
                        kind == WORKLOAD_DEPLOYMENT  ? "deployments.apps"
                        : kind == WORKLOAD_DAEMONSET ? "daemonsets.apps"
                        : kind == WORKLOAD_JOB       ? "jobs.batch"
                                                     : "cronjobs.batch",
                        in->name);
    return is;
}

static void h_delete(Controller_Service *svc, const DeleteRequest *in,
                     DeleteResponse_Closure closure, void *data)
{
    ctl_service *s = ctl_service_of(svc);
    DeleteResponse out = DELETE_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    delete_what d = { 0 };
    fleet_changes c;
    results res;
    int r;

    NEED_OPERATOR(data);
    if (kind_is(in->kind, "node", "nodes", NULL)) {
        r = fleet_forget_node(s->fleet, in->name, in->dry_run, &c, &err);
        if (r == 0 && !in->dry_run)
            ctl_relay_drop(s->relay, in->name);
    } else if (*in->kind && !kind_is(in->kind, "workload", "workloads", NULL) &&
               !kind_is(in->kind, "namespace", "namespaces", "ns") &&
               !kind_is(in->kind, "poddisruptionbudget", "poddisruptionbudgets", "pdb") &&
               !kind_is(in->kind, "secret", "secrets", NULL) &&
               !kind_is(in->kind, "configmap", "configmaps", "cm") && !workload_kind_of(in->kind)) {
        r = berth_error_set(&err, EINVAL,
                            "kind '%.40s': workload, deployment, daemonset, job, cronjob, "
                            "namespace, poddisruptionbudget, secret, configmap or node",
                            in->kind);
    } else if (!*in->manifest && workload_kind_of(in->kind) &&
               !workload_is(s->fleet, in, workload_kind_of(in->kind), &err)) {
        r = -1;
    } else {
        delete_kind kind = kind_is(in->kind, "namespace", "namespaces", "ns") ? DELETE_NAMESPACE
                           : kind_is(in->kind, "poddisruptionbudget", "poddisruptionbudgets", "pdb")
                               ? DELETE_BUDGET
                           : kind_is(in->kind, "secret", "secrets", NULL)       ? DELETE_SECRET
                           : kind_is(in->kind, "configmap", "configmaps", "cm") ? DELETE_CONFIG_MAP
                                                                                : DELETE_WORKLOAD;

        r = delete_names(in, kind, &d, &err);
        if (r == 0)
            r = fleet_delete(s->fleet,
                             &(fleet_delete_in){ .keys = d.key_ptrs,
                                                 .n_keys = d.n_keys,
                                                 .budgets = d.budgets,
                                                 .n_budgets = d.n_budgets,
                                                 .objects = d.objects,
                                                 .n_objects = d.n_objects,
                                                 .namespaces = d.namespaces,
                                                 .n_namespaces = d.n_namespaces,
                                                 .by = operator_name(data),
                                                 .dry_run = in->dry_run },
                             &c, &err);
    }
    if (r < 0) {
        berth_rpc_fail_error(data, err);
        delete_what_free(&d);
        return;
    }
    results_fill(&c, &res);
    out.results = res.ptrs;
    out.n_results = c.n_items;
    out.dry_run = in->dry_run;
    closure(&out, data);
    results_free(&res);
    fleet_changes_clear(&c);
    delete_what_free(&d);
}

static void h_list_namespaces(Controller_Service *svc, const ListNamespacesRequest *in,
                              ListNamespacesResponse_Closure closure, void *data)
{
    ListNamespacesResponse out = LIST_NAMESPACES_RESPONSE_INIT;
    fleet_namespaces v;

    (void)in;
    NEED_OPERATOR(data);
    fleet_namespaces_list(fleet_of(svc), &v);
    out.namespaces = v.namespaces;
    out.n_namespaces = v.n_namespaces;
    closure(&out, data);
    fleet_namespaces_clear(&v);
}

/* ---- disruption budgets and eviction ---- */

static void h_list_disruption_budgets(Controller_Service *svc,
                                      const ListDisruptionBudgetsRequest *in,
                                      ListDisruptionBudgetsResponse_Closure closure, void *data)
{
    ListDisruptionBudgetsResponse out = LIST_DISRUPTION_BUDGETS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    PodDisruptionBudget **v;
    size_t n;

    NEED_OPERATOR(data);
    if (fleet_budgets_list(fleet_of(svc), in->namespace_, in->name, &v, &n, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.budgets = v;
    out.n_budgets = n;
    closure(&out, data);
    for (size_t i = 0; i < n; i++)
        pod_disruption_budget_free_unpacked(v[i], NULL);
    free(v);
}

static void h_list_objects(Controller_Service *svc, const ListObjectsRequest *in,
                           ListObjectsResponse_Closure closure, void *data)
{
    ListObjectsResponse out = LIST_OBJECTS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    ConfigObject **v;
    size_t n;

    NEED_OPERATOR(data);
    if (fleet_objects_list(fleet_of(svc), in, operator_name(data), &v, &n, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.objects = v;
    out.n_objects = n;
    closure(&out, data);
    fleet_objects_list_free(v, n);
}

static void h_version(Controller_Service *svc, const VersionRequest *in,
                      VersionResponse_Closure closure, void *data)
{
    VersionResponse out = VERSION_RESPONSE_INIT;

    (void)svc;
    (void)in;
    NEED_OPERATOR(data);
    out.version = (char *)berth_version();
    closure(&out, data);
}

static void h_list_controllers(Controller_Service *svc, const ListControllersRequest *in,
                               ListControllersResponse_Closure closure, void *data)
{
    ctl_service *s = ctl_service_of(svc);
    ListControllersResponse out = LIST_CONTROLLERS_RESPONSE_INIT;
    berth_store_member m[16];
    ControllerMember cm[16], *cmp[16];
    berth_etcd_status st[BERTH_ETCD_ENDPOINTS_MAX];
    const char *eps[BERTH_ETCD_ENDPOINTS_MAX];
    StoreMember sm[BERTH_ETCD_ENDPOINTS_MAX], *smp[BERTH_ETCD_ENDPOINTS_MAX];
    berth_store_role role = berth_store_role_of(s->store);
    size_t n;

    (void)in;
    NEED_OPERATOR(data);
    out.store = role == BERTH_STORE_SOLE ? "sqlite" : "etcd";
    out.role = (char *)berth_store_role_name(role);
    n = berth_store_members(s->store, m, 16);
    if (role == BERTH_STORE_SOLE) {
        memset(&m[0], 0, sizeof(m[0]));
        snprintf(m[0].name, sizeof(m[0].name), "%s", s->member);
        snprintf(m[0].rpc, sizeof(m[0].rpc), "%s", s->rpc);
        m[0].self = true;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        controller_member_init(&cm[i]);
        cm[i].name = m[i].name;
        cm[i].rpc = m[i].rpc;
        cm[i].leader = i == 0;
        cm[i].self = m[i].self;
        cmp[i] = &cm[i];
    }
    out.members = cmp;
    out.n_members = n;
    n = berth_store_health(s->store, st, eps);
    for (size_t i = 0; i < n; i++) {
        store_member_init(&sm[i]);
        sm[i].endpoint = (char *)eps[i];
        sm[i].version = st[i].version;
        sm[i].raft_leader = !st[i].error[0] && st[i].member_id == st[i].leader_id;
        sm[i].db_size_bytes = st[i].db_size;
        sm[i].revision = st[i].revision;
        sm[i].error = st[i].error;
        smp[i] = &sm[i];
    }
    out.store_members = smp;
    out.n_store_members = n;
    closure(&out, data);
}

static void h_evict_pod(Controller_Service *svc, const EvictPodRequest *in,
                        EvictPodResponse_Closure closure, void *data)
{
    EvictPodResponse out = EVICT_POD_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    char node[BERTH_NAME_MAX + 1];
    bool ended = false;

    NEED_OPERATOR(data);
    if (fleet_evict(fleet_of(svc), in, operator_name(data), node, sizeof(node), &ended, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.node = node;
    out.ended = ended;
    closure(&out, data);
}

static void h_create_job(Controller_Service *svc, const CreateJobRequest *in,
                         ApplyResponse_Closure closure, void *data)
{
    ApplyResponse out = APPLY_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    fleet_changes c;
    results r;

    NEED_OPERATOR(data);
    if (fleet_cron_create_job(fleet_of(svc), in, operator_name(data), &c, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    results_fill(&c, &r);
    out.results = r.ptrs;
    out.n_results = c.n_items;
    out.dry_run = in->dry_run;
    out.warnings = c.warnings;
    out.n_warnings = c.n_warnings;
    closure(&out, data);
    results_free(&r);
    fleet_changes_clear(&c);
}

/* ---- containers ---- */

static void h_list_containers(Controller_Service *svc, const ListContainersRequest *in,
                              ListContainersResponse_Closure closure, void *data)
{
    ListContainersResponse out = LIST_CONTAINERS_RESPONSE_INIT;
    fleet_containers v;

    NEED_OPERATOR(data);
    fleet_containers_list(fleet_of(svc), in, &v);
    out.containers = v.containers;
    out.n_containers = v.n_containers;
    closure(&out, data);
    fleet_containers_clear(&v);
}

static void h_get_container(Controller_Service *svc, const GetContainerRequest *in,
                            ContainerInfo_Closure closure, void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet_containers v;

    NEED_OPERATOR(data);
    if (fleet_containers_get(fleet_of(svc), in->id, in->node, &v, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(v.containers[0], data);
    fleet_containers_clear(&v);
}

/* ---- pods ---- */

static void h_list_pods(Controller_Service *svc, const ListPodsRequest *in,
                        ListPodsResponse_Closure closure, void *data)
{
    ListPodsResponse out = LIST_PODS_RESPONSE_INIT;
    fleet_pods v;

    NEED_OPERATOR(data);
    fleet_pods_list(fleet_of(svc), in, &v);
    out.pods = v.pods;
    out.n_pods = v.n_pods;
    closure(&out, data);
    fleet_pods_clear(&v);
}

static void h_get_pod(Controller_Service *svc, const GetPodRequest *in, Pod_Closure closure,
                      void *data)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet_pods v;

    NEED_OPERATOR(data);
    if (fleet_pods_get(fleet_of(svc), in->namespace_, in->name, in->node, &v, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(v.pods[0], data);
    fleet_pods_clear(&v);
}

/* ---- events and metrics ---- */

static void h_list_events(Controller_Service *svc, const ListEventsRequest *in,
                          ListEventsResponse_Closure closure, void *data)
{
    ListEventsResponse out = LIST_EVENTS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    fleet_events v;

    NEED_OPERATOR(data);
    if (fleet_events_list(fleet_of(svc), in, &v, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.events = v.events;
    out.n_events = v.n_events;
    closure(&out, data);
    fleet_events_clear(&v);
}

static void h_top(Controller_Service *svc, const TopRequest *in, TopResponse_Closure closure,
                  void *data)
{
    TopResponse out = TOP_RESPONSE_INIT;
    fleet_usage v;

    NEED_OPERATOR(data);
    fleet_usage_list(fleet_of(svc), in, &v);
    out.nodes = v.nodes;
    out.n_nodes = v.n_nodes;
    out.containers = v.containers;
    out.n_containers = v.n_containers;
    closure(&out, data);
    fleet_usage_clear(&v);
}

/* ---- fleet health: a survey ---- */

typedef struct health_call {
    berth_rpc_call *call;
    FleetHealthResponse_Closure closure;
    uint32_t timeout_ms;
    berth_auth *auth;
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
    _cleanup_free_ NodeHealth *nh = berth_xcalloc(r->n_answers + 1, sizeof(*nh));
    _cleanup_free_ HealthReport *failed = berth_xcalloc(r->n_answers + 1, sizeof(*failed));
    _cleanup_free_ HealthCheck *checks = berth_xcalloc(r->n_answers + 1, sizeof(*checks));
    _cleanup_free_ HealthCheck **check_ptrs = berth_xcalloc(r->n_answers + 1, sizeof(*check_ptrs));
    _cleanup_free_ char **missing = berth_xcalloc(r->n_missing + 1, sizeof(*missing));
    _cleanup_free_ NodeHealth **answered = berth_xcalloc(r->n_answers + 1, sizeof(*answered));
    FrameDrops drops[BERTH_REJECT_COUNT], *drop_ptrs[BERTH_REJECT_COUNT];

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
        answered[out.n_answered++] = &nh[i];
    }
    for (size_t i = 0; i < r->n_missing; i++)
        missing[out.n_missing++] = r->missing[i].name;
    out.answered = answered;
    out.missing = missing;
    out.timeout_ms = hc->timeout_ms;
    out.n_controller_frames_dropped = berth_rpc_frame_drops(hc->auth, drops, drop_ptrs);
    out.controller_frames_dropped = drop_ptrs;
    hc->closure(&out, hc->call);
    free(hc);
}

static void h_fleet_health(Controller_Service *svc, const FleetHealthRequest *in,
                           FleetHealthResponse_Closure closure, void *data)
{
    ctl_service *s = ctl_service_of(svc);
    HealthRequest q = HEALTH_REQUEST_INIT;
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_free_ berth_principal *expected = NULL;
    health_call *hc;
    size_t n;

    NEED_OPERATOR(data);
    hc = berth_xcalloc(1, sizeof(*hc));
    hc->call = data;
    hc->closure = closure;
    hc->auth = s->auth;
    hc->timeout_ms = in->timeout_ms ? in->timeout_ms : HEALTH_TIMEOUT_MS;
    if (hc->timeout_ms > HEALTH_TIMEOUT_MAX)
        hc->timeout_ms = HEALTH_TIMEOUT_MAX;
    n = fleet_registered_nodes(s->fleet, &expected);
    if (berth_surveyor_ask(s->surveyor, &agent_descriptor, "Health", &q.base, hc->timeout_ms,
                           expected, n, health_done, hc, &err) < 0) {
        free(hc);
        berth_rpc_fail_error(data, err);
    }
}

/* ---- logs and stop: relayed to the node's Agent service ---- */

typedef struct relay {
    fleet *fleet;
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
        fleet_container_stopped(rl->fleet, rl->node, rl->stopped, operator_name(rl->call));
    if (r->code == CODE_OK)
        rl->closure(r->response, rl->call);
    else
        /* the node's own answer, passed on */
        berth_rpc_call_fail(rl->call, r->code, "node %s: %s", rl->node,
                            r->message ? r->message : berth_rpc_code_name(r->code));
    free(rl);
}

/* What is left of the incoming call's deadline for the relayed one. */
static uint32_t relay_timeout_ms(berth_rpc_call *call)
{
    int64_t deadline = berth_rpc_call_deadline(call), left;

    if (deadline == INT64_MAX)
        return RELAY_TIMEOUT_MS;
    left = (deadline - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC - RELAY_MARGIN_MS;
    return left < RELAY_MIN_MS       ? RELAY_MIN_MS
           : left > RELAY_TIMEOUT_MS ? RELAY_TIMEOUT_MS
                                     : (uint32_t)left;
}

/* Call Agent/method with request on the node running container id (or
 * the one named), and answer the incoming call with what it answers. */
static void relay_call(ctl_service *s, berth_rpc_call *call, const char *id, const char *node,
                       const char *method, const ProtobufCMessage *request,
                       ProtobufCClosure closure)
{
    _cleanup_error_ berth_error *err = NULL;
    berth_rpc_client *client = NULL;
    fleet_agent to;
    relay *rl;

    if (fleet_container_agent(s->fleet, id, node, &to, &err) < 0 ||
        ctl_relay_client(s->relay, &to.who, to.address, &client, &err) < 0) {
        berth_rpc_fail_error(call, err);
        return;
    }
    rl = berth_xcalloc(1, sizeof(*rl));
    rl->fleet = s->fleet;
    rl->call = call;
    rl->closure = closure;
    snprintf(rl->node, sizeof(rl->node), "%s", to.node);
    if (strcmp(method, "Stop") == 0)
        snprintf(rl->stopped, sizeof(rl->stopped), "%s", id);
    if (berth_rpc_client_call(client, &agent_descriptor, method, request, relay_timeout_ms(call),
                              relay_done, rl, &err) < 0) {
        free(rl);
        berth_rpc_fail_error(call, err);
    }
}

static void h_logs(Controller_Service *svc, const LogsRequest *in, LogsResponse_Closure closure,
                   void *data)
{
    LogsRequest q;

    NEED_OPERATOR(data);
    q = *in;
    q.node = (char *)protobuf_c_empty_string; /* the agent ignores it */
    relay_call(ctl_service_of(svc), data, in->container_id, in->node, "Logs", &q.base,
               (ProtobufCClosure)closure);
}

static void h_stop_container(Controller_Service *svc, const StopContainerRequest *in,
                             StopResponse_Closure closure, void *data)
{
    StopRequest q = STOP_REQUEST_INIT;

    NEED_OPERATOR(data);
    q.container_id = in->container_id;
    q.grace_period_ms = in->grace_period_ms;
    relay_call(ctl_service_of(svc), data, in->container_id, in->node, "Stop", &q.base,
               (ProtobufCClosure)closure);
}

static void h_exec(Controller_Service *svc, const ExecStart *in, DuplexOpened_Closure closure,
                   void *data)
{
    ctl_exec_start(ctl_service_of(svc), data, in, (ProtobufCClosure)closure);
}

static void h_attach(Controller_Service *svc, const AttachStart *in, DuplexOpened_Closure closure,
                     void *data)
{
    ctl_attach(ctl_service_of(svc), data, in, (ProtobufCClosure)closure);
}

static void h_port_forward(Controller_Service *svc, const PortForwardStart *in,
                           DuplexOpened_Closure closure, void *data)
{
    ctl_port_forward(ctl_service_of(svc), data, in, (ProtobufCClosure)closure);
}

static void h_exchange(Controller_Service *svc, const DuplexExchange *in,
                       DuplexExchanged_Closure closure, void *data)
{
    ctl_exec_exchange(ctl_service_of(svc), data, in, (ProtobufCClosure)closure);
}

void ctl_operator_service_init(ctl_service *s)
{
    s->svc.apply = h_apply;
    s->svc.delete = h_delete;
    s->svc.list_nodes = h_list_nodes;
    s->svc.get_node = h_get_node;
    s->svc.approve_node = h_approve_node;
    s->svc.create_join_token = h_create_join_token;
    s->svc.list_join_tokens = h_list_join_tokens;
    s->svc.delete_join_token = h_delete_join_token;
    s->svc.list_workloads = h_list_workloads;
    s->svc.get_workload = h_get_workload;
    s->svc.list_namespaces = h_list_namespaces;
    s->svc.list_containers = h_list_containers;
    s->svc.get_container = h_get_container;
    s->svc.list_pods = h_list_pods;
    s->svc.get_pod = h_get_pod;
    s->svc.fleet_health = h_fleet_health;
    s->svc.logs = h_logs;
    s->svc.cordon_node = h_cordon_node;
    s->svc.drain_node = h_drain_node;
    s->svc.taint_node = h_taint_node;
    s->svc.list_events = h_list_events;
    s->svc.top = h_top;
    s->svc.stop_container = h_stop_container;
    s->svc.rollout = h_rollout;
    s->svc.list_disruption_budgets = h_list_disruption_budgets;
    s->svc.evict_pod = h_evict_pod;
    s->svc.create_job = h_create_job;
    s->svc.list_objects = h_list_objects;
    s->svc.version = h_version;
    s->svc.list_controllers = h_list_controllers;
    s->svc.exec = h_exec;
    s->svc.exchange = h_exchange;
    s->svc.port_forward = h_port_forward;
    s->svc.attach = h_attach;
}
