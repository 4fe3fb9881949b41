/* Replica names and specs. */
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fnv.h"
#include "base/xalloc.h"
#include "pb/pb.h"
#include "spec.h"

/* A DNS label of at most max characters. */
static bool dns_label(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

bool berth_workload_name_valid(const char *s)
{
    return dns_label(s, BERTH_WORKLOAD_NAME_MAX);
}

bool berth_namespace_name_valid(const char *s)
{
    return dns_label(s, BERTH_NAMESPACE_MAX);
}

const char *berth_namespace_or_default(const char *ns)
{
    return ns && *ns ? ns : BERTH_NAMESPACE_DEFAULT;
}

bool berth_namespace_is_default(const char *ns)
{
    return strcmp(berth_namespace_or_default(ns), BERTH_NAMESPACE_DEFAULT) == 0;
}

void berth_workload_key(const char *ns, const char *name, char ret_key[BERTH_WORKLOAD_KEY_BUF])
{
    if (berth_namespace_is_default(ns))
        snprintf(ret_key, BERTH_WORKLOAD_KEY_BUF, "%s", name);
    else
        snprintf(ret_key, BERTH_WORKLOAD_KEY_BUF, "%s/%s", ns, name);
}

const char *berth_id_split(const char *id, char ret_ns[BERTH_NAMESPACE_BUF])
{
    const char *sep = strstr(id, BERTH_NAMESPACE_SEP);
    size_t n = sep ? (size_t)(sep - id) : 0;
    char ns[BERTH_NAMESPACE_BUF];

    if (n > 0 && n <= BERTH_NAMESPACE_MAX)
        snprintf(ns, sizeof(ns), "%.*s", (int)n, id);
    if (!sep || n == 0 || n > BERTH_NAMESPACE_MAX || !berth_namespace_name_valid(ns)) {
        if (ret_ns)
            snprintf(ret_ns, BERTH_NAMESPACE_BUF, "%s", BERTH_NAMESPACE_DEFAULT);
        return id;
    }
    if (ret_ns)
        memcpy(ret_ns, ns, n + 1);
    return sep + strlen(BERTH_NAMESPACE_SEP);
}

bool berth_id_join(const char *ns, const char *name, char ret_id[BERTH_ID_BUF])
{
    int n;

    if (berth_namespace_is_default(ns))
        n = snprintf(ret_id, BERTH_ID_BUF, "%s", name);
    else
        n = snprintf(ret_id, BERTH_ID_BUF, "%s%s%s", ns, BERTH_NAMESPACE_SEP, name);
    return n >= 0 && n < BERTH_ID_BUF;
}

static const char *const kind_names[] = {
    [WORKLOAD_POD] = "Pod",
    [WORKLOAD_DEPLOYMENT] = "Deployment",
    [WORKLOAD_DAEMONSET] = "DaemonSet",
    [WORKLOAD_JOB] = "Job",
    [WORKLOAD_CRONJOB] = "CronJob",
};

const char *berth_workload_kind_name(WorkloadKind kind)
{
    if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind])
        return kind_names[kind];
    return "Unknown";
}

WorkloadKind berth_workload_kind_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (kind_names[i] && name && strcmp(kind_names[i], name) == 0)
            return (WorkloadKind)i;
    return WORKLOAD_KIND_UNSPECIFIED;
}

void berth_replica_id(const char *ns, const char *workload, WorkloadKind kind, uint32_t index,
                      const char *node, char ret_id[BERTH_ID_BUF])
{
    char name[BERTH_ID_BUF];
    int n;

    if (kind != WORKLOAD_DAEMONSET) {
        snprintf(name, sizeof(name), "%s-%u", workload, index);
        if (!berth_id_join(ns, name, ret_id))
            ret_id[0] = '\0'; /* no valid workload name gets here */
        return;
    }
    n = snprintf(name, sizeof(name), "%s.%s", workload, node);
    if (n > 0 && berth_id_join(ns, name, ret_id) && strlen(ret_id) <= BERTH_POD_ID_MAX &&
        berth_spec_id_valid(ret_id) && !strstr(node, BERTH_NAMESPACE_SEP))
        return;
    snprintf(name, sizeof(name), "%s._%016" PRIx64, workload,
             berth_fnv1a(BERTH_FNV1A_OFFSET, node));
    if (!berth_id_join(ns, name, ret_id))
        ret_id[0] = '\0';
}

/* The hostname of a pod whose template names none: its id where that is
 * one (a Deployment's), else the id with '-' for '.' and '_', cut to 63
 * characters. */
static char *pod_hostname(const char *id)
{
    char *h = berth_xstrndup(id, 63);
    size_t n;

    for (char *c = h; *c; c++)
        if (*c == '.' || *c == '_')
            *c = '-';
    n = strlen(h);
    while (n > 0 && h[n - 1] == '-')
        h[--n] = '\0';
    return h;
}

static void set_string(char **field, const char *v)
{
    if (*field != protobuf_c_empty_string)
        free(*field);
    *field = berth_xstrdup(v);
}

/* A copy of tmpl as replica (pod id pod_id, container id id) of w runs. */
static ContainerSpec *replica_copy(const Workload *w, const ContainerSpec *tmpl, const char *pod_id,
                                   const char *id, const char *replica, bool member)
{
    ContainerSpec *s = BERTH_PB_COPY(ContainerSpec, tmpl);

    bool other_ns = !berth_namespace_is_default(w->namespace_);

    berth_pb_map_set(&s->base, "labels", BERTH_LABEL_WORKLOAD, w->name);
    berth_pb_map_set(&s->base, "labels", "berth.replica", replica);
    if (other_ns)
        berth_pb_map_set(&s->base, "labels", BERTH_LABEL_NAMESPACE, w->namespace_);
    /* A member's own id is no name for the pod's host, nor is a prefix;
     * a long one (a Deployment's "<name>-<hash>-<index>") is cut to 63
     * characters, as Kubernetes cuts a pod's name. */
    if ((w->kind == WORKLOAD_DAEMONSET || member || other_ns || strlen(pod_id) > 63) &&
        !*s->hostname) {
        if (s->hostname != protobuf_c_empty_string)
            free(s->hostname);
        s->hostname = pod_hostname(berth_id_split(pod_id, NULL));
    }
    set_string(&s->id, id);
    return s;
}

int berth_replica_spec(const Workload *w, const char *id, const char *replica,
                       ContainerSpec **ret_spec, berth_error **err)
{
    if (!w->template_)
        return berth_error_set(err, EINVAL, "workload %s has no template", w->name);
    *ret_spec = replica_copy(w, w->template_, id, id, replica, false);
    return 0;
}

const char *berth_container_name(const ContainerSpec *s)
{
    if (s->pod && *s->pod->name)
        return s->pod->name;
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i]->key, BERTH_LABEL_CONTAINER) == 0)
            return s->labels[i]->value;
    return "";
}

size_t berth_pod_size(const Workload *w)
{
    if (!w->pod)
        return 1;
    return w->pod->n_init_containers + 1 + w->pod->n_containers;
}

const ContainerSpec *berth_pod_container(const Workload *w, size_t i, PodRole *ret_role,
                                         uint32_t *ret_init_index)
{
    const PodTemplate *p = w->pod;
    size_t n_init = p ? p->n_init_containers : 0;

    *ret_init_index = 0;
    if (i < n_init) {
        *ret_role = p->init_containers[i]->restart_policy == RESTART_ALWAYS ? POD_ROLE_SIDECAR
                                                                            : POD_ROLE_INIT;
        *ret_init_index = (uint32_t)i;
        return p->init_containers[i];
    }
    *ret_role = POD_ROLE_APP;
    if (i == n_init)
        return w->template_;
    return p->containers[i - n_init - 1];
}

int64_t berth_pod_amount(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                         berth_container_amount_fn amount, const void *arg)
{
    int64_t sum = 0, sidecars = 0, init = 0;

    for (size_t i = 0; i < n; i++) {
        int64_t v = amount(c[i], arg);

        if (roles[i] == POD_ROLE_INIT) {
            /* it runs beside the sidecars started before it */
            init = v + sidecars > init ? v + sidecars : init;
        } else {
            sum += v;
            if (roles[i] == POD_ROLE_SIDECAR)
                sidecars += v;
        }
    }
    return sum > init ? sum : init;
}

/* w's containers and their roles in berth_pod_container's order (new
 * arrays); 0 without a template. */
static size_t pod_members(const Workload *w, const ContainerSpec ***ret_c, PodRole **ret_roles)
{
    size_t n = w->template_ ? berth_pod_size(w) : 0;

    *ret_c = berth_xcalloc(n + 1, sizeof(**ret_c));
    *ret_roles = berth_xcalloc(n + 1, sizeof(**ret_roles));
    for (size_t i = 0; i < n; i++) {
        uint32_t index;

        (*ret_c)[i] = berth_pod_container(w, i, &(*ret_roles)[i], &index);
    }
    return n;
}

static int64_t cpu_request(const ContainerSpec *c, const void *arg)
{
    (void)arg;
    return c->resources ? c->resources->cpu_request_millis : 0;
}

static int64_t memory_request(const ContainerSpec *c, const void *arg)
{
    (void)arg;
    return c->resources ? c->resources->memory_request_bytes : 0;
}

static int64_t cpu_limit(const ContainerSpec *c, const void *arg)
{
    (void)arg;
    return c->resources ? c->resources->cpu_millis : 0;
}

static int64_t memory_limit(const ContainerSpec *c, const void *arg)
{
    (void)arg;
    return c->resources ? c->resources->memory_bytes : 0;
}

void berth_pod_resources_of(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                            berth_pod_resources *ret)
{
    ret->cpu_request_millis = berth_pod_amount(c, roles, n, cpu_request, NULL);
    ret->memory_request_bytes = berth_pod_amount(c, roles, n, memory_request, NULL);
    ret->cpu_limit_millis = berth_pod_amount(c, roles, n, cpu_limit, NULL);
    ret->memory_limit_bytes = berth_pod_amount(c, roles, n, memory_limit, NULL);
}

void berth_pod_requests(const Workload *w, int64_t *ret_cpu_millis, int64_t *ret_memory_bytes)
{
    const ContainerSpec **c;
    PodRole *roles;
    size_t n = pod_members(w, &c, &roles);
    berth_pod_resources r;

    berth_pod_resources_of(c, roles, n, &r);
    *ret_cpu_millis = r.cpu_request_millis;
    *ret_memory_bytes = r.memory_request_bytes;
    free(c);
    free(roles);
}

int64_t berth_container_extended(const ContainerSpec *c, const void *name)
{
    const Resources *r = c->resources;

    for (size_t i = 0; r && i < r->n_extended; i++)
        if (strcmp(r->extended[i]->key, name) == 0)
            return r->extended[i]->value > 0 ? r->extended[i]->value : 0;
    return 0;
}

static int count_cmp(const void *a, const void *b)
{
    return strcmp(((const berth_resource_count *)a)->name, ((const berth_resource_count *)b)->name);
}

size_t berth_pod_extended_of(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                             berth_resource_count **ret)
{
    berth_resource_count *v = NULL;
    size_t count = 0, k = 0;

    /* every name any container asks for, once */
    for (size_t i = 0; i < n; i++) {
        const Resources *r = c[i]->resources;

        for (size_t e = 0; r && e < r->n_extended; e++) {
            bool seen = false;

            for (size_t j = 0; j < count && !seen; j++)
                seen = strcmp(v[j].name, r->extended[e]->key) == 0;
            if (seen)
                continue;
            v = berth_xreallocarray(v, count + 1, sizeof(*v));
            v[count++] = (berth_resource_count){ r->extended[e]->key, 0 };
        }
    }
    for (size_t j = 0; j < count; j++) {
        v[j].count = berth_pod_amount(c, roles, n, berth_container_extended, v[j].name);
        if (v[j].count > 0) /* a limit of 0 asks for nothing */
            v[k++] = v[j];
    }
    if (k)
        qsort(v, k, sizeof(*v), count_cmp);
    else {
        free(v);
        v = NULL;
    }
    *ret = v;
    return k;
}

size_t berth_pod_extended(const Workload *w, berth_resource_count **ret)
{
    const ContainerSpec **c;
    PodRole *roles;
    size_t n = pod_members(w, &c, &roles), k;

    k = berth_pod_extended_of(c, roles, n, ret);
    free(c);
    free(roles);
    return k;
}

int berth_replica_specs(const Workload *w, const char *id, const char *replica,
                        ContainerSpec ***ret_specs, size_t *ret_n, berth_error **err)
{
    size_t n = berth_pod_size(w);
    ContainerSpec **v;

    if (!w->template_)
        return berth_error_set(err, EINVAL, "workload %s has no template", w->name);
    v = berth_xcalloc(n, sizeof(*v));
    if (!w->pod) {
        v[0] = replica_copy(w, w->template_, id, id, replica, false);
        *ret_specs = v;
        *ret_n = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const ContainerSpec *t;
        char mid[BERTH_ID_BUF];
        PodMember *m;
        PodRole role;
        uint32_t index;

        t = berth_pod_container(w, i, &role, &index);
        if (!berth_spec_member_id(id, berth_container_name(t), mid, sizeof(mid))) {
            for (size_t j = 0; j < i; j++)
                BERTH_PB_FREE(v[j]);
            free(v);
            return berth_error_set(err, EINVAL, "pod %s: container %s: no valid id", id,
                                   berth_container_name(t));
        }
        v[i] = replica_copy(w, t, id, mid, replica, true);
        m = berth_xcalloc(1, sizeof(*m));
        pod_member_init(m);
        m->pod = berth_xstrdup(id);
        m->name = berth_xstrdup(berth_container_name(t));
        m->role = role;
        m->init_index = index;
        m->share_process_namespace = w->pod->share_process_namespace;
        if (v[i]->pod)
            BERTH_PB_FREE(v[i]->pod);
        v[i]->pod = m;
    }
    *ret_specs = v;
    *ret_n = n;
    return 0;
}

void berth_specs_free(ContainerSpec **specs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        BERTH_PB_FREE(specs[i]);
    free(specs);
}
