/* Manifest parsing: the Kubernetes schema walked field by field over
 * lib/yaml's reader (which bounds the input, types the scalars and
 * collects the errors), building protobuf messages (malloc'd, so the
 * generated free_unpacked releases them). Every error of a file is
 * reported at once. */
#include "manifest.h"

#include <ctype.h>
#include <sodium.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/quantity.h"
#include "base/xalloc.h"
#include "cdi/cdi.h"
#include "pb/pb.h"
#include "spec/cron.h"
#include "spec/spec.h"
#include "spec/workload.h"
#include "yaml/yaml.h"

#define LABELS_MAX     64
#define LABEL_LEN_MAX  63
#define VOLUMES_MAX    64
#define UINT_ID_MAX    4294967294LL /* (uid_t)-1 is "no change" to the kernel */
#define GRACE_SECS_MAX 3600
/* A Deployment's progressDeadlineSeconds when it names none. */
#define PROGRESS_DEADLINE_DEFAULT 600
#define PROBE_SECS_MAX            86400
/* A Secret's or ConfigMap's keys, a volume's items, a container's envFrom
 * and a pod's imagePullSecrets, at most. */
#define CONFIG_KEYS_MAX     256
#define CONFIG_ENV_FROM_MAX 32
#define PULL_SECRETS_MAX    16
#define THRESHOLD_MAX       1000000

/* A replica's spec has its template's labels and berth.container,
 * berth.workload and berth.replica (berth_replica_spec), a Deployment's
 * pod-template-hash too, and a spec at most LABELS_MAX
 * (berth_spec_validate). */
#define TEMPLATE_LABELS_MAX (LABELS_MAX - 4)

static const berth_yaml_limits manifest_limits = {
    .what = "a manifest",
    .bytes = BERTH_MANIFEST_BYTES_MAX,
    .documents = BERTH_MANIFEST_DOCUMENTS_MAX,
    .depth = BERTH_MANIFEST_DEPTH_MAX,
    .events = BERTH_MANIFEST_EVENTS_MAX,
};

/* Short names for the field tables below. */
typedef berth_yaml_field field;
typedef berth_yaml_node node;
#define FLD  BERTH_YAML_FIELD
#define FEND BERTH_YAML_END

/* ---- labels and string lists ---- */

/* A map of labels (or a nodeSelector): string keys and values up to 63
 * characters of [A-Za-z0-9._-] (keys may have one prefix/), at most 64.
 * Entries are added through add(). */
typedef void (*kv_add_fn)(void *target, const char *key, const char *value);

typedef struct labels_ctx {
    void *target;
    kv_add_fn add;
} labels_ctx;

static void read_label(berth_yaml *y, const node *k, const char *key, const node *v, void *data)
{
    labels_ctx *l = data;
    const char *value;

    if (!berth_label_key_valid(key))
        berth_yaml_error(y, k,
                         "invalid key: 1-63 characters of letters, digits, '-', '_', '.' "
                         "(and one '/'), starting with a letter or digit");
    else if (!berth_yaml_get_string(y, v, &value))
        return;
    else if (!berth_label_value_valid(value))
        berth_yaml_error(y, v,
                         "invalid value '%.70s': up to 63 characters of letters, digits, "
                         "'-', '_', '.'",
                         value);
    else
        l->add(l->target, key, value);
}

static void read_string_map(berth_yaml *y, const node *n, void *target, kv_add_fn add)
{
    labels_ctx l = { target, add };

    berth_yaml_each_entry(y, n, LABELS_MAX, "labels", read_label, &l);
}

/* ---- the workload being built ---- */

typedef ContainerSpec spec_t;

/* kv_add_fn for the map fields of the messages we build. */
static void add_map(ProtobufCMessage *msg, const char *name, const char *k, const char *v)
{
    if (berth_pb_map_set(msg, name, k, v) < 0)
        abort(); /* not a string map: a bug */
}

static void add_workload_label(void *target, const char *k, const char *v)
{
    add_map(target, "labels", k, v);
}

static void add_selector(void *target, const char *k, const char *v)
{
    add_map(target, "node_selector", k, v);
}

static void add_spec_label(void *target, const char *k, const char *v)
{
    add_map(target, "labels", k, v);
}

/* A scratch list of pairs (selectors, template labels) for comparisons. */
typedef struct kvlist {
    const char *k[LABELS_MAX], *v[LABELS_MAX];
    size_t n;
} kvlist;

static void add_kvlist(void *target, const char *k, const char *v)
{
    kvlist *l = target;

    if (l->n < LABELS_MAX) {
        l->k[l->n] = k;
        l->v[l->n++] = v;
    }
}

/* ---- containers ---- */

/* Volumes of the pod, by name, for volumeMounts to refer to. */
typedef struct volume {
    const char *name;
    bool host_path;
    const char *path;     /* hostPath */
    int64_t size_limit;   /* emptyDir */
    bool memory;          /* emptyDir medium: Memory */
    ConfigVolume *config; /* secret, configMap (owned: freed with the pod) */
} volume;

/* A pod's securityContext: the defaults of its containers' own. */
typedef struct pod_security {
    bool has_uid, has_gid, has_non_root, has_fs_group, has_seccomp;
    uint32_t uid, gid, fs_group;
    bool non_root;
    SeccompMode seccomp;
    const char *seccomp_profile;
    uint32_t groups[64];
    size_t n_groups;
    const char *sysctl_name[32], *sysctl_value[32];
    size_t n_sysctls;
} pod_security;

/* What the containers of one pod share while they are read. */
typedef struct podctx {
    pod_security sec;
    volume volumes[VOLUMES_MAX];
    size_t n_volumes;
    /* several containers (init containers count): names are DNS labels */
    bool several;
    /* reading spec.initContainers */
    bool init;
    /* the container just read is a sidecar (restartPolicy: Always) */
    bool sidecar;
} podctx;

static void read_field_ref(berth_yaml *y, const node *n, void *data)
{
    EnvFieldRef *r = data;
    field f[] = { FLD("fieldPath"), FLD("apiVersion"), FEND };
    const char *path, *v;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_opt_string(y, f, "apiVersion", &v) && strcmp(v, "v1") != 0)
        berth_yaml_field_error(y, f, "apiVersion", "'%.40s': only v1", v);
    if (!berth_yaml_req_string(y, n, f, "fieldPath", &path))
        return;
    if (!berth_env_field_path_valid(path))
        berth_yaml_field_error(y, f, "fieldPath",
                               "'%.80s' is not one berth fills in (metadata.name, "
                               "metadata.namespace, metadata.uid, metadata.labels['KEY'], "
                               "spec.nodeName, status.podIP, status.podIPs, status.hostIP, "
                               "status.hostIPs)",
                               path);
    else
        r->field_path = berth_xstrdup(path);
}

static void read_resource_ref(berth_yaml *y, const node *n, void *data)
{
    static const char *const resources[] = { "limits.cpu", "limits.memory", "requests.cpu",
                                             "requests.memory", NULL };
    EnvFieldRef *r = data;
    field f[] = { FLD("resource"), FLD("containerName"), FLD("divisor"), FEND };
    const char *v;
    int which;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "resource"))
        berth_yaml_required(y, n, "resource");
    if (berth_yaml_opt_enum(y, f, "resource", resources, &which))
        r->resource = berth_xstrdup(resources[which]);
    if (berth_yaml_opt_string(y, f, "containerName", &v))
        r->container_name = berth_xstrdup(v);
    if (berth_yaml_value(f, "divisor")) {
        if (which == 0 || which == 2)
            berth_yaml_opt_millicpu(y, f, "divisor", &r->divisor);
        else
            berth_yaml_opt_bytes(y, f, "divisor", &r->divisor);
        if (r->divisor <= 0)
            berth_yaml_field_error(y, f, "divisor", "must be more than 0");
    }
}

/* secretKeyRef, configMapKeyRef: {name, key, optional}. */
static void read_key_ref(berth_yaml *y, const node *n, EnvKeyRef *r)
{
    field f[] = { FLD("name"), FLD("key"), FLD("optional"), FEND };
    const char *v;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_req_string(y, n, f, "name", &v)) {
        if (!berth_workload_name_valid(v))
            berth_yaml_field_error(y, f, "name", "'%.70s' is not a valid name", v);
        else
            r->object = berth_xstrdup(v);
    }
    if (berth_yaml_req_string(y, n, f, "key", &v)) {
        if (!berth_config_key_valid(v))
            berth_yaml_field_error(y, f, "key",
                                   "'%.70s' is not a valid key (1-253 of a-z A-Z 0-9 . _ -)", v);
        else
            r->key = berth_xstrdup(v);
    }
    if (berth_yaml_opt_bool(y, f, "optional", &b))
        r->optional = b;
}

static void read_secret_key_ref(berth_yaml *y, const node *n, void *data)
{
    EnvKeyRef *r = data;

    r->kind = CONFIG_SECRET;
    read_key_ref(y, n, r);
}

static void read_config_map_key_ref(berth_yaml *y, const node *n, void *data)
{
    EnvKeyRef *r = data;

    r->kind = CONFIG_MAP;
    read_key_ref(y, n, r);
}

/* An env var's valueFrom: a field or resource (into the spec's env_refs),
 * or a Secret's or ConfigMap's key (into env_key_refs). */
typedef struct value_from_ctx {
    spec_t *s;
    const char *name;
} value_from_ctx;

static void read_value_from(berth_yaml *y, const node *n, void *data)
{
    value_from_ctx *c = data;
    spec_t *s = c->s;
    field f[] = { FLD("fieldRef"), FLD("resourceFieldRef"), FLD("secretKeyRef"),
                  FLD("configMapKeyRef"), FEND };
    int given = 0;

    if (!berth_yaml_fields(y, n, f))
        return;
    for (const char *const *k = (const char *const[]){ "fieldRef", "resourceFieldRef",
                                                       "secretKeyRef", "configMapKeyRef", NULL };
         *k; k++)
        given += berth_yaml_field_get(f, *k)->key != NULL;
    if (given != 1) {
        berth_yaml_error(y, n,
                         "valueFrom needs exactly one of fieldRef, resourceFieldRef, "
                         "secretKeyRef, configMapKeyRef");
        return;
    }
    if (berth_yaml_value(f, "secretKeyRef") || berth_yaml_value(f, "configMapKeyRef")) {
        EnvKeyRef *r = berth_xcalloc(1, sizeof(*r));

        env_key_ref_init(r);
        s->env_key_refs =
            berth_xreallocarray(s->env_key_refs, s->n_env_key_refs + 1, sizeof(*s->env_key_refs));
        s->env_key_refs[s->n_env_key_refs++] = r;
        if (c->name)
            r->name = berth_xstrdup(c->name);
        berth_yaml_opt_sub(y, f, "secretKeyRef", read_secret_key_ref, r);
        berth_yaml_opt_sub(y, f, "configMapKeyRef", read_config_map_key_ref, r);
        return;
    }
    {
        EnvFieldRef *r = berth_xcalloc(1, sizeof(*r));

        env_field_ref_init(r);
        s->env_refs = berth_xreallocarray(s->env_refs, s->n_env_refs + 1, sizeof(*s->env_refs));
        s->env_refs[s->n_env_refs++] = r;
        if (c->name)
            r->name = berth_xstrdup(c->name);
        berth_yaml_opt_sub(y, f, "fieldRef", read_field_ref, r);
        berth_yaml_opt_sub(y, f, "resourceFieldRef", read_resource_ref, r);
    }
}

/* envFrom: [{prefix, secretRef: {name, optional}, configMapRef: ...}]. */
static void read_env_from_ref(berth_yaml *y, const node *n, EnvFromSource *e)
{
    field f[] = { FLD("name"), FLD("optional"), FEND };
    const char *v;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_req_string(y, n, f, "name", &v)) {
        if (!berth_workload_name_valid(v))
            berth_yaml_field_error(y, f, "name", "'%.70s' is not a valid name", v);
        else
            e->object = berth_xstrdup(v);
    }
    if (berth_yaml_opt_bool(y, f, "optional", &b))
        e->optional = b;
}

static void read_env_from_secret(berth_yaml *y, const node *n, void *data)
{
    EnvFromSource *e = data;

    e->kind = CONFIG_SECRET;
    read_env_from_ref(y, n, e);
}

static void read_env_from_config_map(berth_yaml *y, const node *n, void *data)
{
    EnvFromSource *e = data;

    e->kind = CONFIG_MAP;
    read_env_from_ref(y, n, e);
}

static void read_env_from_item(berth_yaml *y, const node *item, size_t i, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("prefix"), FLD("secretRef"), FLD("configMapRef"), FEND };
    EnvFromSource *e;
    const char *v;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    e = s->env_from[s->n_env_from++] = berth_xcalloc(1, sizeof(*e));
    env_from_source_init(e);
    if (berth_yaml_opt_string(y, f, "prefix", &v))
        e->prefix = berth_xstrdup(v);
    if (!berth_yaml_value(f, "secretRef") == !berth_yaml_value(f, "configMapRef"))
        berth_yaml_error(y, item, "envFrom needs exactly one of secretRef and configMapRef");
    berth_yaml_opt_sub(y, f, "secretRef", read_env_from_secret, e);
    berth_yaml_opt_sub(y, f, "configMapRef", read_env_from_config_map, e);
}

static void read_env_from(berth_yaml *y, const node *n, void *data)
{
    spec_t *s = data;
    size_t len = berth_yaml_type_of(n) == BERTH_YAML_LIST ? berth_yaml_len(n) : 0;

    if (len <= CONFIG_ENV_FROM_MAX)
        s->env_from = berth_xcalloc(len + 1, sizeof(*s->env_from));
    berth_yaml_each_item(y, n, CONFIG_ENV_FROM_MAX, "a list of {prefix, secretRef, configMapRef}",
                         read_env_from_item, s);
}

static void read_env_var(berth_yaml *y, const node *item, size_t i, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("name"), FLD("value"), FLD("valueFrom"), FEND };
    const char *name = NULL, *value = "";
    bool ok;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "name", &name) && (!*name || strchr(name, '='))) {
        berth_yaml_field_error(y, f, "name", "'%.60s' is not a variable name (non-empty, no '=')",
                               name);
        name = NULL;
    }
    if (berth_yaml_value(f, "valueFrom")) {
        if (berth_yaml_value(f, "value"))
            berth_yaml_field_error(y, f, "value", "not with valueFrom");
        berth_yaml_opt_sub(y, f, "valueFrom", read_value_from, &(value_from_ctx){ s, name });
        return;
    }
    ok = !berth_yaml_value(f, "value") || berth_yaml_opt_string(y, f, "value", &value);
    if (name && ok)
        s->env[s->n_env++] = berth_xasprintf("%s=%s", name, value);
}

static void read_env(berth_yaml *y, const node *n, void *data)
{
    spec_t *s = data;

    if (berth_yaml_type_of(n) == BERTH_YAML_LIST && berth_yaml_len(n) <= BERTH_SPEC_ENV_MAX)
        s->env = berth_xcalloc(berth_yaml_len(n), sizeof(char *));
    berth_yaml_each_item(y, n, BERTH_SPEC_ENV_MAX, "a list of {name, value}", read_env_var, s);
}

/* requests or limits: cpu and memory into q[0], q[1] (nodes into at[]),
 * extended resources ("example.com/dev": a key with '/') into ext[]. A
 * quantity that is not valid is -1. */
typedef struct quantities {
    int64_t q[2];
    const node *at[2];
    bool limits;
    const char *ext_name[BERTH_SPEC_EXTENDED_MAX];
    int64_t ext[BERTH_SPEC_EXTENDED_MAX];
    const node *ext_at[BERTH_SPEC_EXTENDED_MAX];
    size_t n_ext;
} quantities;

/* An extended resource's quantity: a whole number (2, "2", "1k"), at most
 * BERTH_SPEC_EXTENDED_COUNT_MAX; -1 when it is not one (recorded). */
static int64_t read_extended_count(berth_yaml *y, const node *v, const char *name)
{
    _cleanup_error_ berth_error *e = NULL;
    berth_yaml_type t = berth_yaml_type_of(v);
    const char *text = berth_yaml_text(v);
    int64_t milli;

    if (t != BERTH_YAML_STRING && t != BERTH_YAML_INT && t != BERTH_YAML_FLOAT) {
        berth_yaml_expected(y, v, "a quantity");
        return -1;
    }
    if (berth_parse_quantity(text, 3, name, &milli, &e) < 0) {
        berth_yaml_error(y, v, "%s", e->msg);
        return -1;
    }
    /* Kubernetes' words: extended resources are counted whole */
    if (milli % 1000 != 0) {
        berth_yaml_error(y, v, "%.40s: must be an integer", text);
        return -1;
    }
    if (milli / 1000 > BERTH_SPEC_EXTENDED_COUNT_MAX) {
        berth_yaml_error(y, v, "%.40s is more than %d", text, BERTH_SPEC_EXTENDED_COUNT_MAX);
        return -1;
    }
    return milli / 1000;
}

static void read_quantities(berth_yaml *y, const node *n, void *data)
{
    quantities *r = data;
    /* cpu, memory, and the extended resources n names: a key with '/'
     * (any other is an unknown field, with a suggestion) */
    field f[2 + BERTH_SPEC_EXTENDED_MAX + 1] = { FLD("cpu"), FLD("memory") };
    size_t n_fields = 2, n_ext = 0;
    char buf[32];

    for (size_t i = 0; berth_yaml_type_of(n) == BERTH_YAML_MAPPING && i < berth_yaml_len(n); i++) {
        const node *k, *v;
        const char *name;
        bool seen = false;

        berth_yaml_entry(y, n, i, &k, &v);
        name = berth_yaml_text(k);
        if (berth_yaml_type_of(k) != BERTH_YAML_STRING || !strchr(name, '/'))
            continue;
        if (++n_ext > BERTH_SPEC_EXTENDED_MAX)
            continue;
        for (size_t j = 2; j < n_fields && !seen; j++)
            seen = strcmp(f[j].name, name) == 0;
        if (!seen) /* twice: the reader says "duplicate field" */
            f[n_fields++] = (field){ .name = name };
    }
    if (n_ext > BERTH_SPEC_EXTENDED_MAX) {
        berth_yaml_error(y, n, "%zu extended resources, at most %d", n_ext,
                         BERTH_SPEC_EXTENDED_MAX);
        return;
    }
    f[n_fields] = (field)FEND;
    if (!berth_yaml_fields(y, n, f))
        return;
    for (int m = 0; m < 2; m++) {
        const char *name = m ? "memory" : "cpu";
        const node *v = berth_yaml_value(f, name);
        size_t mark;
        int64_t q;

        if (!v)
            continue;
        mark = berth_yaml_push_field(y, name);
        if (!(m ? berth_yaml_get_bytes(y, v, &q) : berth_yaml_get_millicpu(y, v, &q)))
            q = -1;
        else if (m == 1 && r->limits && q > 0 && q < BERTH_SPEC_MEMORY_MIN) {
            berth_yaml_error(y, v, "%s is below the minimum of 4Mi",
                             berth_format_bytes(q, buf, sizeof(buf)));
            q = -1;
        } else if (m == 0 && q > 1000000) {
            berth_yaml_error(y, v, "%s is more than 1000 CPUs", berth_yaml_text(v));
            q = -1;
        }
        berth_yaml_pop(y, mark);
        if (q >= 0) {
            r->q[m] = q;
            r->at[m] = v;
        }
    }
    for (size_t i = 2; i < n_fields; i++) {
        const char *name = f[i].name, *why = berth_extended_resource_name_problem(name);
        size_t mark;

        if (!f[i].key || !f[i].value)
            continue;
        mark = berth_yaml_push_field(y, name);
        if (why)
            berth_yaml_error(y, f[i].key, "%s", why);
        r->ext_name[r->n_ext] = name;
        r->ext[r->n_ext] = why ? -1 : read_extended_count(y, f[i].value, name);
        r->ext_at[r->n_ext++] = f[i].value;
        berth_yaml_pop(y, mark);
    }
}

/* The index of extended resource name in q, or SIZE_MAX. */
static size_t extended_index(const quantities *q, const char *name)
{
    for (size_t i = 0; i < q->n_ext; i++)
        if (strcmp(q->ext_name[i], name) == 0)
            return i;
    return SIZE_MAX;
}

/* Kubernetes' rules for extended resources, which are never overcommitted:
 * a limit is what is asked for, a request must equal it and cannot come
 * alone. The valid ones asked for (not 0) into r->extended. */
static void extended_resources(berth_yaml *y, const quantities *req, const quantities *lim,
                               Resources *r)
{
    size_t n = 0;

    for (size_t i = 0; i < req->n_ext; i++) {
        size_t l = extended_index(lim, req->ext_name[i]), mark;

        if (req->ext[i] < 0 || (l != SIZE_MAX && (lim->ext[l] < 0 || lim->ext[l] == req->ext[i])))
            continue;
        mark = berth_yaml_push(y, ".requests.%s", req->ext_name[i]);
        if (l == SIZE_MAX)
            berth_yaml_error(y, req->ext_at[i],
                             "Limit must be set for non overcommitable resources");
        else
            berth_yaml_error(y, req->ext_at[i], "must be equal to %s limit of %" PRId64,
                             req->ext_name[i], lim->ext[l]);
        berth_yaml_pop(y, mark);
    }
    /* 0: nothing asked for, as Kubernetes counts it */
    for (size_t i = 0; i < lim->n_ext; i++)
        n += lim->ext[i] > 0;
    if (n)
        r->extended = berth_xcalloc(n, sizeof(*r->extended));
    for (size_t i = 0; i < lim->n_ext; i++) {
        Resources_ExtendedEntry *e;

        if (lim->ext[i] <= 0)
            continue;
        e = berth_xcalloc(1, sizeof(*e));
        resources_extended_entry_init(e);
        e->key = berth_xstrdup(lim->ext_name[i]);
        e->value = lim->ext[i];
        r->extended[r->n_extended++] = e;
    }
}

static void read_resources(berth_yaml *y, const node *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("requests"), FLD("limits"), FEND };
    quantities req = { { -1, -1 }, { NULL, NULL }, false, .n_ext = 0 },
               lim = { { -1, -1 }, { NULL, NULL }, true, .n_ext = 0 };
    char a[32], b[32];

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "requests", read_quantities, &req);
    berth_yaml_opt_sub(y, f, "limits", read_quantities, &lim);
    for (int m = 0; m < 2; m++) {
        /* Kubernetes: a limit without a request requests the limit. */
        if (req.q[m] < 0 && lim.q[m] >= 0)
            req.q[m] = lim.q[m];
        else if (req.q[m] >= 0 && lim.q[m] >= 0 && req.q[m] > lim.q[m]) {
            size_t mark = berth_yaml_push(y, ".requests.%s", m ? "memory" : "cpu");

            if (m)
                berth_yaml_error(y, req.at[m], "%s is above the limit %s",
                                 berth_format_bytes(req.q[m], a, sizeof(a)),
                                 berth_format_bytes(lim.q[m], b, sizeof(b)));
            else
                berth_yaml_error(y, req.at[m], "%s is above the limit %s",
                                 berth_format_millicpu(req.q[m], a, sizeof(a)),
                                 berth_format_millicpu(lim.q[m], b, sizeof(b)));
            berth_yaml_pop(y, mark);
        }
    }
    s->resources = berth_xcalloc(1, sizeof(*s->resources));
    resources_init(s->resources);
    s->resources->cpu_millis = lim.q[0] > 0 ? lim.q[0] : 0;
    s->resources->memory_bytes = lim.q[1] > 0 ? lim.q[1] : 0;
    s->resources->cpu_request_millis = req.q[0] > 0 ? req.q[0] : 0;
    s->resources->memory_request_bytes = req.q[1] > 0 ? req.q[1] : 0;
    extended_resources(y, &req, &lim, s->resources);
}

/* A non-empty list of strings (command, exec.command). */
static void read_command(berth_yaml *y, const node *n, char ***ret, size_t *n_ret)
{
    if (berth_yaml_type_of(n) == BERTH_YAML_LIST && berth_yaml_len(n) == 0)
        berth_yaml_error(y, n, "must not be empty");
    else
        berth_yaml_get_string_list(y, n, BERTH_SPEC_ARGS_MAX, ret, n_ret);
}

static void read_exec(berth_yaml *y, const node *n, void *data)
{
    Probe *pr = data;
    field f[] = { FLD("command"), FEND };
    size_t mark;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "command")) {
        berth_yaml_required(y, n, "command");
        return;
    }
    pr->exec = berth_xcalloc(1, sizeof(*pr->exec));
    exec_action_init(pr->exec);
    pr->action_case = PROBE_ACTION_EXEC;
    mark = berth_yaml_push_field(y, "command");
    read_command(y, berth_yaml_value(f, "command"), &pr->exec->command, &pr->exec->n_command);
    berth_yaml_pop(y, mark);
}

/* A container's named ports, for probes that name one. */
#define PORT_NAME_MAX  15
#define PORT_NAMES_MAX 64
/* hostPorts of one container. */
#define HOST_PORTS_MAX 64
typedef struct port_names {
    char name[PORT_NAMES_MAX][PORT_NAME_MAX + 1];
    uint32_t port[PORT_NAMES_MAX];
    size_t n;
    ContainerSpec *spec; /* its hostPorts go there */
} port_names;

/* A probe being read: where it goes, and the container's port names. */
typedef struct probe_ctx {
    Probe **slot;
    const port_names *ports;
    bool readiness; /* successThreshold may be above 1 */
} probe_ctx;

/* A probe's port: a number, or the name of one of the container's ports. */
static bool read_probe_port(berth_yaml *y, berth_yaml_field *f, const port_names *pn, uint32_t *ret)
{
    const node *v = berth_yaml_value(f, "port");
    const char *name;
    int64_t port;

    if (!v)
        return false;
    if (berth_yaml_type_of(v) != BERTH_YAML_STRING) {
        if (!berth_yaml_opt_int(y, f, "port", 1, 65535, &port))
            return false;
        *ret = (uint32_t)port;
        return true;
    }
    if (!berth_yaml_opt_string(y, f, "port", &name))
        return false;
    for (size_t i = 0; pn && i < pn->n; i++)
        if (strcmp(pn->name[i], name) == 0) {
            *ret = pn->port[i];
            return true;
        }
    berth_yaml_field_error(y, f, "port", "'%.40s' is not the name of one of the container's ports",
                           name);
    return false;
}

static void read_tcp(berth_yaml *y, const node *n, void *data)
{
    probe_ctx *pc = data;
    Probe *pr = *pc->slot;
    field f[] = { FLD("port"), FLD("host"), FEND };
    const char *host;
    uint32_t port;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "port")) {
        berth_yaml_required(y, n, "port");
        return;
    }
    if (berth_yaml_opt_string(y, f, "host", &host) && strcmp(host, "127.0.0.1") != 0 &&
        strcmp(host, "localhost") != 0)
        berth_yaml_field_error(y, f, "host", "berth probes tcp on the container's loopback only");
    pr->tcp = berth_xcalloc(1, sizeof(*pr->tcp));
    tcp_action_init(pr->tcp);
    pr->action_case = PROBE_ACTION_TCP;
    if (read_probe_port(y, f, pc->ports, &port))
        pr->tcp->port = port;
}

static void read_http_header(berth_yaml *y, const node *item, size_t i, void *data)
{
    HttpGetAction *h = data;
    field f[] = { FLD("name"), FLD("value"), FEND };
    const char *name = NULL, *value = NULL;
    HttpHeader *hd;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (!berth_yaml_req_string(y, item, f, "name", &name) ||
        !berth_yaml_req_string(y, item, f, "value", &value))
        return;
    hd = berth_xcalloc(1, sizeof(*hd));
    http_header_init(hd);
    hd->name = berth_xstrdup(name);
    hd->value = berth_xstrdup(value);
    h->headers = berth_xreallocarray(h->headers, h->n_headers + 1, sizeof(*h->headers));
    h->headers[h->n_headers++] = hd;
}

static void read_http_headers(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, 64, "a list of headers", read_http_header, data);
}

static void read_http(berth_yaml *y, const node *n, void *data)
{
    static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
    probe_ctx *pc = data;
    Probe *pr = *pc->slot;
    field f[] = { FLD("path"), FLD("port"), FLD("host"), FLD("scheme"), FLD("httpHeaders"), FEND };
    const char *v;
    uint32_t port;
    int scheme;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "port")) {
        berth_yaml_required(y, n, "port");
        return;
    }
    pr->http_get = berth_xcalloc(1, sizeof(*pr->http_get));
    http_get_action_init(pr->http_get);
    pr->action_case = PROBE_ACTION_HTTP_GET;
    if (read_probe_port(y, f, pc->ports, &port))
        pr->http_get->port = port;
    if (berth_yaml_opt_string(y, f, "path", &v)) {
        if (v[0] != '/')
            berth_yaml_field_error(y, f, "path", "'%.80s' does not start with '/'", v);
        else
            pr->http_get->path = berth_xstrdup(v);
    }
    if (berth_yaml_opt_string(y, f, "host", &v))
        pr->http_get->host = berth_xstrdup(v);
    if (berth_yaml_opt_enum(y, f, "scheme", schemes, &scheme) && scheme == 1)
        berth_yaml_field_error(y, f, "scheme", "HTTPS probes are not supported (HTTP only)");
    berth_yaml_opt_sub(y, f, "httpHeaders", read_http_headers, pr->http_get);
}

static void read_probe(berth_yaml *y, const node *n, void *data)
{
    probe_ctx *pc = data;
    field f[] = { FLD("exec"),
                  FLD("tcpSocket"),
                  FLD("httpGet"),
                  FLD("initialDelaySeconds"),
                  FLD("periodSeconds"),
                  FLD("timeoutSeconds"),
                  FLD("failureThreshold"),
                  FLD("successThreshold"),
                  FLD("terminationGracePeriodSeconds"),
                  FEND };
    int actions;
    Probe *pr;
    int64_t v;

    if (!berth_yaml_fields(y, n, f))
        return;
    pr = berth_xcalloc(1, sizeof(*pr));
    probe_init(pr);
    *pc->slot = pr;
    /* the first action is read; another is an error where it stands */
    actions = 0;
    if (berth_yaml_value(f, "exec")) {
        berth_yaml_opt_sub(y, f, "exec", read_exec, pr);
        actions++;
    }
    if (berth_yaml_value(f, "tcpSocket") && actions++ > 0)
        berth_yaml_field_error(y, f, "tcpSocket",
                               "a probe has one action: exec, tcpSocket or "
                               "httpGet, not several");
    else
        berth_yaml_opt_sub(y, f, "tcpSocket", read_tcp, pc);
    if (berth_yaml_value(f, "httpGet") && actions++ > 0)
        berth_yaml_field_error(y, f, "httpGet",
                               "a probe has one action: exec, tcpSocket or "
                               "httpGet, not several");
    else
        berth_yaml_opt_sub(y, f, "httpGet", read_http, pc);
    if (actions == 0)
        berth_yaml_error(y, n, "a probe needs exec, tcpSocket or httpGet (grpc is not supported)");
    if (berth_yaml_opt_int(y, f, "initialDelaySeconds", 0, PROBE_SECS_MAX, &v))
        pr->initial_delay_ms = v * 1000;
    if (berth_yaml_opt_int(y, f, "periodSeconds", 1, PROBE_SECS_MAX, &v))
        pr->period_ms = v * 1000;
    if (berth_yaml_opt_int(y, f, "timeoutSeconds", 1, PROBE_SECS_MAX, &v))
        pr->timeout_ms = v * 1000;
    if (berth_yaml_opt_int(y, f, "failureThreshold", 1, THRESHOLD_MAX, &v))
        pr->failure_threshold = (int32_t)v;
    /* Kubernetes: 1 for liveness and startup probes. */
    if (berth_yaml_opt_int(y, f, "successThreshold", 1, pc->readiness ? THRESHOLD_MAX : 1, &v))
        pr->success_threshold = (int32_t)v;
    if (berth_yaml_value(f, "terminationGracePeriodSeconds"))
        berth_yaml_field_error(y, f, "terminationGracePeriodSeconds",
                               "not supported on a probe (the pod's applies)");
}

/* sleep: {seconds} (Kubernetes 1.30). */
static void read_sleep(berth_yaml *y, const node *n, void *data)
{
    Probe *pr = data;
    field f[] = { FLD("seconds"), FEND };
    int64_t v;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "seconds"))
        berth_yaml_required(y, n, "seconds");
    if (berth_yaml_opt_int(y, f, "seconds", 0, 3600, &v)) {
        pr->sleep = berth_xcalloc(1, sizeof(*pr->sleep));
        sleep_action_init(pr->sleep);
        pr->sleep->seconds = v;
        pr->action_case = PROBE_ACTION_SLEEP;
    }
}

/* A lifecycle hook: one action, exec, httpGet, tcpSocket or sleep. */
static void read_handler(berth_yaml *y, const node *n, void *data)
{
    probe_ctx *pc = data;
    field f[] = { FLD("exec"), FLD("httpGet"), FLD("tcpSocket"), FLD("sleep"), FEND };
    int actions = 0;
    Probe *pr;

    if (!berth_yaml_fields(y, n, f))
        return;
    pr = berth_xcalloc(1, sizeof(*pr));
    probe_init(pr);
    *pc->slot = pr;
    for (const char *const *k =
             (const char *const[]){ "exec", "httpGet", "tcpSocket", "sleep", NULL };
         *k; k++)
        actions += berth_yaml_field_get(f, *k)->key != NULL;
    if (actions != 1) {
        berth_yaml_error(y, n, "a hook needs exactly one of exec, httpGet, tcpSocket, sleep");
        return;
    }
    berth_yaml_opt_sub(y, f, "exec", read_exec, pr);
    berth_yaml_opt_sub(y, f, "httpGet", read_http, pc);
    berth_yaml_opt_sub(y, f, "tcpSocket", read_tcp, pc);
    berth_yaml_opt_sub(y, f, "sleep", read_sleep, pr);
}

typedef struct lifecycle_ctx {
    spec_t *s;
    const port_names *ports;
} lifecycle_ctx;

static void read_lifecycle(berth_yaml *y, const node *n, void *data)
{
    lifecycle_ctx *lc = data;
    field f[] = { FLD("postStart"), FLD("preStop"), FEND };
    Lifecycle *l;

    if (!berth_yaml_fields(y, n, f))
        return;
    l = berth_xcalloc(1, sizeof(*l));
    lifecycle_init(l);
    lc->s->lifecycle = l;
    berth_yaml_opt_sub(y, f, "postStart", read_handler,
                       &(probe_ctx){ &l->post_start, lc->ports, false });
    berth_yaml_opt_sub(y, f, "preStop", read_handler,
                       &(probe_ctx){ &l->pre_stop, lc->ports, false });
}

/* capabilities.add or .drop: names checked here, where their lines are. */
static void read_cap_list(berth_yaml *y, const node *n, char ***arr, size_t *cnt)
{
    if (!berth_yaml_get_string_list(y, n, 64, arr, cnt))
        return;
    for (size_t i = 0; i < *cnt; i++) {
        _cleanup_error_ berth_error *e = NULL;
        uint64_t mask;

        if (berth_cap_parse((*arr)[i], &mask, &e) < 0) {
            size_t mark = berth_yaml_push(y, "[%zu]", i);

            berth_yaml_error(y, berth_yaml_item(y, n, i), "%s", e->msg);
            berth_yaml_pop(y, mark);
        }
    }
}

static void read_caps(berth_yaml *y, const node *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("add"), FLD("drop"), FEND };
    Capabilities *c;

    if (!berth_yaml_fields(y, n, f))
        return;
    c = berth_xcalloc(1, sizeof(*c));
    capabilities_init(c);
    s->capabilities = c;
    for (int d = 0; d < 2; d++) {
        const char *name = d ? "drop" : "add";
        const node *v = berth_yaml_value(f, name);
        size_t mark;

        if (!v)
            continue;
        mark = berth_yaml_push_field(y, name);
        read_cap_list(y, v, d ? &c->drop : &c->add, d ? &c->n_drop : &c->n_add);
        berth_yaml_pop(y, mark);
    }
}

/* The spec's user, made with everything from the image (what is not
 * given comes from it: berth_spec_effective). */
static User *spec_user(spec_t *s)
{
    if (!s->user) {
        s->user = berth_xcalloc(1, sizeof(*s->user));
        user_init(s->user);
        s->user->image_uid = s->user->image_gid = true;
    }
    return s->user;
}

/* seccompProfile: {type: RuntimeDefault|Unconfined|Localhost,
 * localhostProfile}. */
typedef struct seccomp_ctx {
    SeccompMode mode;
    const char *profile;
} seccomp_ctx;

static void read_seccomp(berth_yaml *y, const node *n, void *data)
{
    static const char *const types[] = { "RuntimeDefault", "Unconfined", "Localhost", NULL };
    static const SeccompMode modes[] = { SECCOMP_DEFAULT, SECCOMP_UNCONFINED, SECCOMP_LOCALHOST };
    field f[] = { FLD("type"), FLD("localhostProfile"), FEND };
    seccomp_ctx *c = data;
    int t = -1;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "type"))
        berth_yaml_required(y, n, "type");
    if (berth_yaml_opt_enum(y, f, "type", types, &t))
        c->mode = modes[t];
    berth_yaml_opt_string(y, f, "localhostProfile", &c->profile);
    if (t == 2 && !c->profile)
        berth_yaml_required(y, n, "localhostProfile");
    else if (t != 2 && c->profile)
        berth_yaml_field_error(y, f, "localhostProfile", "only with type Localhost");
}

static void read_security(berth_yaml *y, const node *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("runAsUser"),
                  FLD("runAsGroup"),
                  FLD("runAsNonRoot"),
                  FLD("readOnlyRootFilesystem"),
                  FLD("allowPrivilegeEscalation"),
                  FLD("capabilities"),
                  FLD("privileged"),
                  FLD("seccompProfile"),
                  FEND };
    seccomp_ctx sc = { .mode = s->seccomp, .profile = NULL };
    int64_t v;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    /* the container's own win over its pod's */
    if (berth_yaml_opt_int(y, f, "runAsUser", 0, UINT_ID_MAX, &v)) {
        spec_user(s)->uid = (uint32_t)v;
        s->user->image_uid = false;
    }
    if (berth_yaml_opt_int(y, f, "runAsGroup", 0, UINT_ID_MAX, &v)) {
        spec_user(s)->gid = (uint32_t)v;
        s->user->image_gid = false;
    }
    if (berth_yaml_opt_bool(y, f, "runAsNonRoot", &b))
        s->run_as_non_root = b;
    if (berth_yaml_opt_bool(y, f, "readOnlyRootFilesystem", &b))
        s->readonly_rootfs = b;
    /* Unset means false here (Kubernetes says true): no_new_privs. */
    if (berth_yaml_opt_bool(y, f, "allowPrivilegeEscalation", &b))
        s->allow_privilege_escalation = b;
    if (berth_yaml_opt_bool(y, f, "privileged", &b))
        s->privileged = b;
    berth_yaml_opt_sub(y, f, "capabilities", read_caps, s);
    if (berth_yaml_value(f, "seccompProfile")) {
        berth_yaml_opt_sub(y, f, "seccompProfile", read_seccomp, &sc);
        s->seccomp = sc.mode;
        if (s->seccomp_profile != protobuf_c_empty_string)
            free(s->seccomp_profile);
        s->seccomp_profile = berth_xstrdup(sc.profile ? sc.profile : "");
    }
}

static void read_pod_sysctl(berth_yaml *y, const node *item, size_t i, void *data)
{
    pod_security *p = data;
    field f[] = { FLD("name"), FLD("value"), FEND };
    const char *name, *value;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "name", &name) && !berth_spec_sysctl_safe(name))
        berth_yaml_field_error(
            y, f, "name", "'%.80s' is not one of the safe (namespaced) sysctls berth sets", name);
    else if (berth_yaml_req_string(y, item, f, "value", &value) && p->n_sysctls < 32) {
        p->sysctl_name[p->n_sysctls] = name;
        p->sysctl_value[p->n_sysctls++] = value;
    }
}

static void read_pod_sysctls(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, 32, "a list of {name, value}", read_pod_sysctl, data);
}

static void read_group(berth_yaml *y, const node *item, size_t i, void *data)
{
    pod_security *p = data;
    int64_t v;

    (void)i;
    if (berth_yaml_get_int(y, item, 0, UINT_ID_MAX, &v) && p->n_groups < 64)
        p->groups[p->n_groups++] = (uint32_t)v;
}

static void read_groups(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, 64, "a list of group ids", read_group, data);
}

/* spec.securityContext: what the pod's containers get unless their own
 * says otherwise, and what only a pod has (fsGroup, supplementalGroups,
 * sysctls). */
static void read_pod_security(berth_yaml *y, const node *n, void *data)
{
    static const char *const policies[] = { "Always", "OnRootMismatch", NULL };
    pod_security *p = data;
    field f[] = { FLD("runAsUser"),
                  FLD("runAsGroup"),
                  FLD("runAsNonRoot"),
                  FLD("fsGroup"),
                  FLD("fsGroupChangePolicy"),
                  FLD("supplementalGroups"),
                  FLD("seccompProfile"),
                  FLD("sysctls"),
                  FEND };
    seccomp_ctx sc = { .mode = SECCOMP_DEFAULT, .profile = NULL };
    int64_t v;
    int policy;

    if (!berth_yaml_fields(y, n, f))
        return;
    if ((p->has_uid = berth_yaml_opt_int(y, f, "runAsUser", 0, UINT_ID_MAX, &v)))
        p->uid = (uint32_t)v;
    if ((p->has_gid = berth_yaml_opt_int(y, f, "runAsGroup", 0, UINT_ID_MAX, &v)))
        p->gid = (uint32_t)v;
    p->has_non_root = berth_yaml_opt_bool(y, f, "runAsNonRoot", &p->non_root);
    if ((p->has_fs_group = berth_yaml_opt_int(y, f, "fsGroup", 0, UINT_ID_MAX, &v)))
        p->fs_group = (uint32_t)v;
    /* berth's volumes are new with each pod: always as fsGroup says */
    berth_yaml_opt_enum(y, f, "fsGroupChangePolicy", policies, &policy);
    berth_yaml_opt_sub(y, f, "supplementalGroups", read_groups, p);
    if (berth_yaml_value(f, "seccompProfile")) {
        berth_yaml_opt_sub(y, f, "seccompProfile", read_seccomp, &sc);
        p->has_seccomp = true;
        p->seccomp = sc.mode;
        p->seccomp_profile = sc.profile;
    }
    berth_yaml_opt_sub(y, f, "sysctls", read_pod_sysctls, p);
}

/* The pod's securityContext into one of its containers, before the
 * container's own. */
static void apply_pod_security(spec_t *s, const pod_security *p)
{
    if (p->has_uid) {
        spec_user(s)->uid = p->uid;
        s->user->image_uid = false;
    }
    if (p->has_gid) {
        spec_user(s)->gid = p->gid;
        s->user->image_gid = false;
    }
    if (p->n_groups || p->has_fs_group) {
        User *u = spec_user(s);

        u->additional_gids = berth_xcalloc(p->n_groups + 1, sizeof(*u->additional_gids));
        for (size_t i = 0; i < p->n_groups; i++)
            u->additional_gids[u->n_additional_gids++] = p->groups[i];
        if (p->has_fs_group)
            u->additional_gids[u->n_additional_gids++] = p->fs_group;
    }
    if (p->has_fs_group) {
        s->fs_group = berth_xcalloc(1, sizeof(*s->fs_group));
        fs_group_init(s->fs_group);
        s->fs_group->gid = p->fs_group;
    }
    if (p->has_non_root)
        s->run_as_non_root = p->non_root;
    if (p->has_seccomp) {
        s->seccomp = p->seccomp;
        s->seccomp_profile = berth_xstrdup(p->seccomp_profile ? p->seccomp_profile : "");
    }
    if (p->n_sysctls) {
        s->sysctls = berth_xcalloc(p->n_sysctls, sizeof(*s->sysctls));
        for (size_t i = 0; i < p->n_sysctls; i++) {
            Sysctl *c = berth_xcalloc(1, sizeof(*c));

            sysctl_init(c);
            c->name = berth_xstrdup(p->sysctl_name[i]);
            c->value = berth_xstrdup(p->sysctl_value[i]);
            s->sysctls[s->n_sysctls++] = c;
        }
    }
}

typedef struct mounts_ctx {
    spec_t *s;
    podctx *pod;
} mounts_ctx;

static void read_mount(berth_yaml *y, const node *item, size_t i, void *data)
{
    mounts_ctx *mc = data;
    field f[] = { FLD("name"), FLD("mountPath"), FLD("readOnly"), FEND };
    const char *name, *dest = NULL;
    volume *vol = NULL;
    Mount *m;
    bool ro = false;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "name", &name)) {
        for (size_t v = 0; v < mc->pod->n_volumes; v++)
            if (strcmp(mc->pod->volumes[v].name, name) == 0)
                vol = &mc->pod->volumes[v];
        if (!vol)
            berth_yaml_field_error(y, f, "name", "no volume '%.63s' in spec.volumes", name);
    }
    if (berth_yaml_req_string(y, item, f, "mountPath", &dest) && dest[0] != '/') {
        berth_yaml_field_error(y, f, "mountPath", "'%.80s' is not an absolute path", dest);
        dest = NULL;
    }
    berth_yaml_opt_bool(y, f, "readOnly", &ro);
    if (!vol || !dest)
        return;
    m = berth_xcalloc(1, sizeof(*m));
    mount_init(m);
    mc->s->mounts[mc->s->n_mounts++] = m;
    m->destination = berth_xstrdup(dest);
    m->readonly = ro;
    if (vol->config) {
        /* read-only, whatever readOnly says (Kubernetes mounts them so) */
        m->type = MOUNT_CONFIG;
        m->source = berth_xstrdup(vol->name);
        m->readonly = true;
        m->config = BERTH_PB_COPY(ConfigVolume, vol->config);
    } else if (vol->host_path) {
        m->type = MOUNT_BIND;
        m->source = berth_xstrdup(vol->path);
    } else {
        m->type = MOUNT_EMPTY_DIR;
        m->source = berth_xstrdup(vol->name);
        m->tmpfs_size_bytes = vol->size_limit;
        m->memory = vol->memory;
    }
}

static void read_mounts(berth_yaml *y, const node *n, void *data)
{
    mounts_ctx *mc = data;

    if (berth_yaml_type_of(n) == BERTH_YAML_LIST && berth_yaml_len(n) <= BERTH_SPEC_MOUNTS_MAX)
        mc->s->mounts = berth_xcalloc(berth_yaml_len(n), sizeof(*mc->s->mounts));
    berth_yaml_each_item(y, n, BERTH_SPEC_MOUNTS_MAX, "a list of {name, mountPath, readOnly}",
                         read_mount, mc);
}

static void read_host_path(berth_yaml *y, const node *n, void *data)
{
    static const char *const types[] = { "", "Directory", "File", NULL };
    field f[] = { FLD("path"), FLD("type"), FEND };
    volume *vol = data;
    const char *path;
    int type;

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_enum(y, f, "type", types, &type);
    if (!berth_yaml_req_string(y, n, f, "path", &path))
        return;
    if (path[0] != '/')
        berth_yaml_field_error(y, f, "path", "'%.80s' is not an absolute path", path);
    else
        vol->path = path;
}

static void read_empty_dir(berth_yaml *y, const node *n, void *data)
{
    static const char *const media[] = { "", "Memory", NULL };
    field f[] = { FLD("medium"), FLD("sizeLimit"), FEND };
    volume *vol = data;
    int medium;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_opt_enum(y, f, "medium", media, &medium))
        vol->memory = medium == 1;
    berth_yaml_opt_bytes(y, f, "sizeLimit", &vol->size_limit);
}

/* A file mode of a projected key: 0 to 0777. */
static bool read_file_mode(berth_yaml *y, field *f, const char *name, uint32_t *ret)
{
    const node *n = berth_yaml_value(f, name);
    const char *text = n ? berth_yaml_text(n) : NULL;
    int64_t v;

    if (!n)
        return false;
    /* YAML's octal, as Kubernetes reads a manifest: 0400, 0o400 (a JSON
     * manifest's decimal 256 is the same mode) */
    if (text && text[0] == '0' && text[1] && berth_yaml_type_of(n) != BERTH_YAML_STRING) {
        const char *digits = text[1] == 'o' ? text + 2 : text + 1;
        char *end;

        errno = 0;
        v = strtoll(digits, &end, 8);
        if (errno || !*digits || *end || v < 0 || v > 0777) {
            berth_yaml_field_error(y, f, name, "'%.20s' is not a file mode (0 to 0777)", text);
            return false;
        }
        *ret = (uint32_t)v;
        return true;
    }
    if (!berth_yaml_opt_int(y, f, name, 0, 0777, &v))
        return false;
    *ret = (uint32_t)v;
    return true;
}

static void read_key_to_path(berth_yaml *y, const node *item, size_t i, void *data)
{
    ConfigVolume *cv = data;
    field f[] = { FLD("key"), FLD("path"), FLD("mode"), FEND };
    const char *key, *path;
    KeyToPath *k;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    k = cv->items[cv->n_items++] = berth_xcalloc(1, sizeof(*k));
    key_to_path_init(k);
    if (berth_yaml_req_string(y, item, f, "key", &key))
        k->key = berth_xstrdup(key);
    if (berth_yaml_req_string(y, item, f, "path", &path)) {
        if (!berth_config_path_valid(path))
            berth_yaml_field_error(y, f, "path",
                                   "'%.80s' is not a relative path without '..' elements", path);
        else
            k->path = berth_xstrdup(path);
    }
    read_file_mode(y, f, "mode", &k->mode);
}

/* secret: {secretName, items, defaultMode, optional}, configMap: {name,
 * ...}: Kubernetes' fields. */
static void read_config_volume(berth_yaml *y, const node *n, volume *vol, ConfigKind kind)
{
    field f[] = { FLD(kind == CONFIG_SECRET ? "secretName" : "name"), FLD("items"),
                  FLD("defaultMode"), FLD("optional"), FEND };
    const char *name_field = kind == CONFIG_SECRET ? "secretName" : "name";
    ConfigVolume *cv;
    const node *items;
    const char *v;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    cv = vol->config = berth_xcalloc(1, sizeof(*cv));
    config_volume_init(cv);
    cv->kind = kind;
    cv->default_mode = 0644;
    if (berth_yaml_req_string(y, n, f, name_field, &v)) {
        if (!berth_workload_name_valid(v))
            berth_yaml_field_error(y, f, name_field, "'%.70s' is not a valid name", v);
        else
            cv->object = berth_xstrdup(v);
    }
    read_file_mode(y, f, "defaultMode", &cv->default_mode);
    if (berth_yaml_opt_bool(y, f, "optional", &b))
        cv->optional = b;
    if ((items = berth_yaml_value(f, "items"))) {
        size_t mark = berth_yaml_push_field(y, "items");
        size_t len = berth_yaml_type_of(items) == BERTH_YAML_LIST ? berth_yaml_len(items) : 0;

        if (len <= CONFIG_KEYS_MAX)
            cv->items = berth_xcalloc(len + 1, sizeof(*cv->items));
        berth_yaml_each_item(y, items, CONFIG_KEYS_MAX, "a list of {key, path, mode}",
                             read_key_to_path, cv);
        berth_yaml_pop(y, mark);
    }
}

static void read_secret_volume(berth_yaml *y, const node *n, void *data)
{
    read_config_volume(y, n, data, CONFIG_SECRET);
}

static void read_config_map_volume(berth_yaml *y, const node *n, void *data)
{
    read_config_volume(y, n, data, CONFIG_MAP);
}

static void read_volume(berth_yaml *y, const node *item, size_t i, void *data)
{
    podctx *pod = data;
    field f[] = { FLD("name"),   FLD("hostPath"),  FLD("emptyDir"),
                  FLD("secret"), FLD("configMap"), FEND };
    volume vol = { 0 };
    size_t errors = berth_yaml_error_count(y);
    bool host_path;
    int kinds = 0;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "name", &vol.name)) {
        if (!berth_spec_id_valid(vol.name))
            berth_yaml_field_error(y, f, "name",
                                   "'%.70s' is not a valid name (1-63 of a-z 0-9 . _ -)", vol.name);
        for (size_t v = 0; v < pod->n_volumes; v++)
            if (strcmp(pod->volumes[v].name, vol.name) == 0)
                berth_yaml_field_error(y, f, "name", "duplicate volume name");
    }
    /* "emptyDir: {}" and a bare "emptyDir:" both ask for the defaults. */
    host_path = berth_yaml_value(f, "hostPath") != NULL;
    kinds = host_path + (berth_yaml_field_get(f, "emptyDir")->key != NULL) +
            (berth_yaml_value(f, "secret") != NULL) + (berth_yaml_value(f, "configMap") != NULL);
    if (kinds != 1) {
        berth_yaml_error(y, item,
                         "a volume needs exactly one of hostPath, emptyDir, secret and configMap");
    } else if (host_path) {
        vol.host_path = true;
        berth_yaml_opt_sub(y, f, "hostPath", read_host_path, &vol);
    } else if (berth_yaml_value(f, "secret")) {
        berth_yaml_opt_sub(y, f, "secret", read_secret_volume, &vol);
    } else if (berth_yaml_value(f, "configMap")) {
        berth_yaml_opt_sub(y, f, "configMap", read_config_map_volume, &vol);
    } else {
        berth_yaml_opt_sub(y, f, "emptyDir", read_empty_dir, &vol);
    }
    if (berth_yaml_error_count(y) == errors && vol.name && (!vol.host_path || vol.path))
        pod->volumes[pod->n_volumes++] = vol;
    else if (vol.config)
        BERTH_PB_FREE(vol.config);
}

static void read_port(berth_yaml *y, const node *item, size_t i, void *data)
{
    static const char *const protos[] = { "TCP", "UDP", "SCTP", NULL };
    field f[] = { FLD("containerPort"), FLD("name"),   FLD("protocol"),
                  FLD("hostPort"),      FLD("hostIP"), FEND };
    port_names *pn = data;
    const char *name = NULL, *host_ip = NULL;
    int64_t port = 0, host_port = 0;
    int proto = 0;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (!berth_yaml_value(f, "containerPort"))
        berth_yaml_required(y, item, "containerPort");
    berth_yaml_opt_int(y, f, "containerPort", 1, 65535, &port);
    berth_yaml_opt_string(y, f, "name", &name);
    berth_yaml_opt_enum(y, f, "protocol", protos, &proto);
    berth_yaml_opt_int(y, f, "hostPort", 1, 65535, &host_port);
    berth_yaml_opt_string(y, f, "hostIP", &host_ip);
    if (host_ip && !host_port)
        berth_yaml_field_error(y, f, "hostIP", "only with hostPort");
    if (host_port && proto == 2)
        berth_yaml_field_error(y, f, "hostPort", "berth publishes TCP and UDP ports, not SCTP");
    else if (host_port && port > 0 && pn->spec && pn->spec->n_host_ports < HOST_PORTS_MAX) {
        HostPort *hp = berth_xcalloc(1, sizeof(*hp));

        host_port_init(hp);
        hp->container_port = (uint32_t)port;
        hp->host_port = (uint32_t)host_port;
        hp->protocol = berth_xstrdup(proto == 1 ? "UDP" : "TCP");
        hp->host_ip = berth_xstrdup(host_ip ? host_ip : "");
        pn->spec->host_ports =
            berth_xreallocarray(pn->spec->host_ports, pn->spec->n_host_ports + 1, sizeof(hp));
        pn->spec->host_ports[pn->spec->n_host_ports++] = hp;
    }
    /* what a probe may name (an IANA_SVC_NAME: at most 15 characters) */
    if (name && strlen(name) > PORT_NAME_MAX)
        berth_yaml_field_error(y, f, "name", "'%.20s' is longer than %d characters", name,
                               PORT_NAME_MAX);
    else if (name && port > 0 && pn->n < PORT_NAMES_MAX) {
        snprintf(pn->name[pn->n], sizeof(pn->name[0]), "%s", name);
        pn->port[pn->n++] = (uint32_t)port;
    }
}

static void read_ports(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, 1024, "a list of ports", read_port, data);
}

static void read_container(berth_yaml *y, const node *n, spec_t *s, podctx *pod)
{
    static const char *const pull_policies[] = { "Always", "IfNotPresent", "Never", NULL };
    static const char *const always[] = { "Always", NULL };
    /* restartPolicy: a container's own only in initContainers (a sidecar) */
    field f[] = { FLD(pod->init ? "restartPolicy" : "name"),
                  FLD("name"),
                  FLD("image"),
                  FLD("command"),
                  FLD("args"),
                  FLD("env"),
                  FLD("envFrom"),
                  FLD("workingDir"),
                  FLD("resources"),
                  FLD("livenessProbe"),
                  FLD("readinessProbe"),
                  FLD("startupProbe"),
                  FLD("volumeMounts"),
                  FLD("securityContext"),
                  FLD("ports"),
                  FLD("imagePullPolicy"),
                  FLD("lifecycle"),
                  FLD("terminationMessagePath"),
                  FLD("terminationMessagePolicy"),
                  FLD("stdin"),
                  FLD("stdinOnce"),
                  FLD("tty"),
                  FEND };
    mounts_ctx mc = { s, pod };
    port_names ports = { .n = 0, .spec = s };
    const node *command, *args;
    const char *v;
    size_t mark;
    int policy;

    if (!berth_yaml_fields(y, n, f))
        return;
    pod->sidecar = false;
    if (pod->init && berth_yaml_opt_enum(y, f, "restartPolicy", always, &policy))
        pod->sidecar = true;
    /* containerPort is documentation, but probes may name it (read
     * first); hostPort is published on the node (the pod network). */
    berth_yaml_opt_sub(y, f, "ports", read_ports, &ports);
    if (berth_yaml_req_string(y, n, f, "name", &v)) {
        if (pod->several && !berth_spec_dns_label_valid(v))
            berth_yaml_field_error(y, f, "name",
                                   "'%.70s' is not a valid container name (1-63 of a-z 0-9 -, "
                                   "starting and ending with a letter or digit)",
                                   v);
        else if (!berth_spec_id_valid(v))
            berth_yaml_field_error(y, f, "name",
                                   "'%.70s' is not a valid name (1-63 of a-z 0-9 . _ -, starting "
                                   "with a letter or digit)",
                                   v);
        else
            add_spec_label(s, "berth.container", v);
    }
    if (berth_yaml_req_string(y, n, f, "image", &v)) {
        _cleanup_(berth_image_ref_freep) berth_image_ref *ref = NULL;
        _cleanup_error_ berth_error *e = NULL;

        /* An OCI reference, or a directory image's name (berth's own). */
        if (!berth_spec_image_name_valid(v) && berth_image_ref_parse(v, &ref, &e) < 0)
            berth_yaml_field_error(y, f, "image", "%s", e->msg);
        else
            s->image = berth_xstrdup(v);
    }
    /* Without command, the image's Entrypoint runs (checked on the node,
     * which has the image). */
    if ((command = berth_yaml_value(f, "command"))) {
        mark = berth_yaml_push_field(y, "command");
        read_command(y, command, &s->command, &s->n_command);
        berth_yaml_pop(y, mark);
    }
    if ((args = berth_yaml_value(f, "args"))) {
        mark = berth_yaml_push_field(y, "args");
        berth_yaml_get_string_list(y, args, BERTH_SPEC_ARGS_MAX, &s->args, &s->n_args);
        berth_yaml_pop(y, mark);
    }
    berth_yaml_opt_sub(y, f, "env", read_env, s);
    berth_yaml_opt_sub(y, f, "envFrom", read_env_from, s);
    /* what kubectl attach reaches */
    {
        bool b;

        if (berth_yaml_opt_bool(y, f, "stdin", &b))
            s->stdin = b;
        if (berth_yaml_opt_bool(y, f, "stdinOnce", &b))
            s->stdin_once = b;
        if (berth_yaml_opt_bool(y, f, "tty", &b))
            s->tty = b;
    }
    if (berth_yaml_opt_string(y, f, "workingDir", &v)) {
        if (v[0] != '/')
            berth_yaml_field_error(y, f, "workingDir", "'%.80s' is not an absolute path", v);
        else
            s->working_dir = berth_xstrdup(v);
    }
    berth_yaml_opt_sub(y, f, "resources", read_resources, s);
    berth_yaml_opt_sub(y, f, "livenessProbe", read_probe,
                       &(probe_ctx){ &s->liveness_probe, &ports, false });
    berth_yaml_opt_sub(y, f, "readinessProbe", read_probe,
                       &(probe_ctx){ &s->readiness_probe, &ports, true });
    berth_yaml_opt_sub(y, f, "startupProbe", read_probe,
                       &(probe_ctx){ &s->startup_probe, &ports, false });
    berth_yaml_opt_sub(y, f, "lifecycle", read_lifecycle, &(lifecycle_ctx){ s, &ports });
    /* Kubernetes' default: every container may leave a message there */
    s->termination_message_path = berth_xstrdup("/dev/termination-log");
    if (berth_yaml_opt_string(y, f, "terminationMessagePath", &v)) {
        if (v[0] != '/' || strlen(v) > 4096)
            berth_yaml_field_error(y, f, "terminationMessagePath",
                                   "'%.80s' is not an absolute path", v);
        else {
            free(s->termination_message_path);
            s->termination_message_path = berth_xstrdup(v);
        }
    }
    {
        static const char *const policies[] = { "File", "FallbackToLogsOnError", NULL };
        int which;

        if (berth_yaml_opt_enum(y, f, "terminationMessagePolicy", policies, &which))
            s->termination_message_fallback_to_logs = which == 1;
    }
    berth_yaml_opt_sub(y, f, "volumeMounts", read_mounts, &mc);
    apply_pod_security(s, &pod->sec);
    berth_yaml_opt_sub(y, f, "securityContext", read_security, s);
    /* As Kubernetes: an init container runs to completion, probes are for
     * what keeps running. */
    if (pod->init && !pod->sidecar) {
        static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };

        for (size_t i = 0; i < BERTH_ARRAY_SIZE(probes); i++)
            if (berth_yaml_value(f, probes[i]))
                berth_yaml_field_error(y, f, probes[i],
                                       "an init container has no probes (unless it is a "
                                       "sidecar: restartPolicy: Always)");
    }

    if (berth_yaml_opt_enum(y, f, "imagePullPolicy", pull_policies, &policy))
        s->image_pull_policy = policy == 0   ? PULL_ALWAYS
                               : policy == 1 ? PULL_IF_NOT_PRESENT
                                             : PULL_NEVER;
}

/* ---- pods ---- */

/* The i-th (< berth_pod_size) container of w's pod, to change. */
static spec_t *pod_spec(Workload *w, size_t i)
{
    PodRole role;
    uint32_t index;

    return (spec_t *)berth_pod_container(w, i, &role, &index);
}

static spec_t *spec_new(void)
{
    spec_t *s = berth_xcalloc(1, sizeof(*s));

    container_spec_init(s);
    return s;
}

/* spec.containers (at least one) or spec.initContainers, into v. */
static void read_containers(berth_yaml *y, const node *c, podctx *pod, spec_t ***ret_v,
                            size_t *ret_n, bool **ret_sidecar)
{
    size_t n, mark;

    if (berth_yaml_type_of(c) != BERTH_YAML_LIST) {
        berth_yaml_expected(y, c, "a list of containers");
        return;
    }
    n = berth_yaml_len(c);
    if (n == 0 && !pod->init) {
        berth_yaml_error(y, c, "one container is required");
        return;
    }
    if (n > BERTH_POD_CONTAINERS_MAX) {
        berth_yaml_error(y, c, "%zu containers, at most %d", n, BERTH_POD_CONTAINERS_MAX);
        return;
    }
    *ret_v = berth_xcalloc(n + 1, sizeof(**ret_v));
    *ret_sidecar = berth_xcalloc(n + 1, sizeof(**ret_sidecar));
    for (size_t i = 0; i < n; i++) {
        spec_t *s = spec_new();

        (*ret_v)[i] = s;
        mark = berth_yaml_push(y, "[%zu]", i);
        read_container(y, berth_yaml_item(y, c, i), s, pod);
        berth_yaml_pop(y, mark);
        (*ret_sidecar)[i] = pod->sidecar;
    }
    *ret_n = n;
}

static void read_volumes(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, VOLUMES_MAX, "a list of volumes", read_volume, data);
}

/* ---- placement: nodeName, node affinity, tolerations ---- */

typedef struct requirement_ctx {
    /* The list being filled: a term's matchExpressions or matchFields, or
     * a label selector's matchExpressions. */
    NodeSelectorRequirement ***list;
    size_t *n;
    bool fields; /* matchFields: metadata.name only */
    bool labels; /* a label selector's: no Gt, Lt */
} requirement_ctx;

static void read_requirement(berth_yaml *y, const node *item, size_t i, void *data)
{
    static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", NULL };
    requirement_ctx *c = data;
    field f[] = { FLD("key"), FLD("operator"), FLD("values"), FEND };
    NodeSelectorRequirement *r;
    const char *key;
    const node *values;
    int op = -1;
    size_t mark;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    r = berth_xcalloc(1, sizeof(*r));
    node_selector_requirement_init(r);
    (*c->list)[(*c->n)++] = r;
    if (berth_yaml_req_string(y, item, f, "key", &key)) {
        if (c->fields ? strcmp(key, "metadata.name") != 0 : !berth_label_key_valid(key))
            berth_yaml_field_error(
                y, f, "key",
                c->fields ? "matchFields: only metadata.name" : "'%.70s' is not a label key", key);
        r->key = berth_xstrdup(key);
    }
    if (!berth_yaml_value(f, "operator"))
        berth_yaml_required(y, item, "operator");
    if (berth_yaml_opt_enum(y, f, "operator", ops, &op))
        r->operator_ = berth_xstrdup(ops[op]);
    if ((values = berth_yaml_value(f, "values"))) {
        mark = berth_yaml_push_field(y, "values");
        berth_yaml_get_string_list(y, values, 64, &r->values, &r->n_values);
        berth_yaml_pop(y, mark);
    }
    /* Kubernetes' rules */
    if ((op == 0 || op == 1) && r->n_values == 0)
        berth_yaml_error(y, item, "%s needs values", ops[op]);
    else if ((op == 2 || op == 3) && r->n_values)
        berth_yaml_field_error(y, f, "values", "%s takes no values", ops[op]);
    else if (op >= 4) {
        char *end = NULL;

        if (r->n_values != 1 || (strtoll(r->values[0], &end, 10), !*r->values[0] || *end))
            berth_yaml_error(y, item, "%s needs one integer value", ops[op]);
    }
    if (c->fields && op > 1)
        berth_yaml_field_error(y, f, "operator", "matchFields: In or NotIn only");
    else if (c->labels && op > 3)
        berth_yaml_field_error(y, f, "operator",
                               "a label selector's: In, NotIn, Exists or DoesNotExist");
}

static void read_requirements(berth_yaml *y, const node *n, void *data)
{
    requirement_ctx *c = data;
    size_t len = berth_yaml_type_of(n) == BERTH_YAML_LIST ? berth_yaml_len(n) : 0;

    if (len <= 32)
        *c->list = berth_xcalloc(len + 1, sizeof(**c->list));
    berth_yaml_each_item(y, n, 32, "a list of {key, operator, values}", read_requirement, data);
}

static void read_term(berth_yaml *y, const node *item, size_t i, void *data)
{
    Workload *w = data;
    field f[] = { FLD("matchExpressions"), FLD("matchFields"), FEND };
    NodeSelectorTerm *t;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    t = berth_xcalloc(1, sizeof(*t));
    node_selector_term_init(t);
    w->node_affinity[w->n_node_affinity++] = t;
    berth_yaml_opt_sub(
        y, f, "matchExpressions", read_requirements,
        &(requirement_ctx){ .list = &t->match_expressions, .n = &t->n_match_expressions });
    berth_yaml_opt_sub(
        y, f, "matchFields", read_requirements,
        &(requirement_ctx){ .list = &t->match_fields, .n = &t->n_match_fields, .fields = true });
    if (!t->n_match_expressions && !t->n_match_fields)
        berth_yaml_error(y, item, "a term needs matchExpressions or matchFields");
}

static void read_terms(berth_yaml *y, const node *n, void *data)
{
    Workload *w = data;
    size_t len = berth_yaml_type_of(n) == BERTH_YAML_LIST ? berth_yaml_len(n) : 0;

    if (len <= 32)
        w->node_affinity = berth_xcalloc(len + 1, sizeof(*w->node_affinity));
    berth_yaml_each_item(y, n, 32, "a list of node selector terms", read_term, data);
}

static void read_required(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("nodeSelectorTerms"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "nodeSelectorTerms"))
        berth_yaml_required(y, n, "nodeSelectorTerms");
    berth_yaml_opt_sub(y, f, "nodeSelectorTerms", read_terms, data);
}

static void read_node_affinity(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("requiredDuringSchedulingIgnoredDuringExecution"),
                  FLD("preferredDuringSchedulingIgnoredDuringExecution"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "requiredDuringSchedulingIgnoredDuringExecution", read_required, data);
    if (berth_yaml_value(f, "preferredDuringSchedulingIgnoredDuringExecution"))
        berth_yaml_field_error(y, f, "preferredDuringSchedulingIgnoredDuringExecution",
                               "berth does not support preferred node affinity (only required)");
}

static void read_affinity(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("nodeAffinity"), FLD("podAffinity"), FLD("podAntiAffinity"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "nodeAffinity", read_node_affinity, data);
    if (berth_yaml_value(f, "podAffinity"))
        berth_yaml_field_error(y, f, "podAffinity", "berth does not support pod affinity");
    if (berth_yaml_value(f, "podAntiAffinity"))
        berth_yaml_field_error(y, f, "podAntiAffinity", "berth does not support pod anti-affinity");
}

static void read_toleration(berth_yaml *y, const node *item, size_t i, void *data)
{
    static const char *const ops[] = { "Equal", "Exists", NULL };
    static const char *const effects[] = { "", "NoSchedule", "PreferNoSchedule", "NoExecute",
                                           NULL };
    Workload *w = data;
    field f[] = { FLD("key"),    FLD("operator"),          FLD("value"),
                  FLD("effect"), FLD("tolerationSeconds"), FEND };
    Toleration *t;
    const char *v;
    int op = 0, effect = 0;
    int64_t secs;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    t = berth_xcalloc(1, sizeof(*t));
    toleration_init(t);
    w->tolerations[w->n_tolerations++] = t;
    if (berth_yaml_opt_string(y, f, "key", &v) && *v) {
        if (!berth_label_key_valid(v))
            berth_yaml_field_error(y, f, "key", "'%.70s' is not a label key", v);
        t->key = berth_xstrdup(v);
    }
    berth_yaml_opt_enum(y, f, "operator", ops, &op);
    t->operator_ = berth_xstrdup(ops[op]);
    if (berth_yaml_opt_string(y, f, "value", &v) && *v) {
        if (op == 1)
            berth_yaml_field_error(y, f, "value", "operator Exists takes no value");
        else if (!berth_label_value_valid(v))
            berth_yaml_field_error(y, f, "value", "'%.70s' is not a label value", v);
        t->value = berth_xstrdup(v);
    }
    if (!*t->key && op != 1)
        berth_yaml_error(y, item, "a toleration without a key must have operator Exists");
    if (berth_yaml_opt_enum(y, f, "effect", effects, &effect))
        t->effect = berth_xstrdup(effects[effect]);
    if (berth_yaml_opt_int(y, f, "tolerationSeconds", INT32_MIN, INT32_MAX, &secs)) {
        if (effect != 3)
            berth_yaml_field_error(y, f, "tolerationSeconds", "only with effect NoExecute");
        t->has_toleration_seconds = true;
        t->toleration_seconds = secs;
    }
}

static void read_tolerations(berth_yaml *y, const node *n, void *data)
{
    Workload *w = data;
    size_t len = berth_yaml_type_of(n) == BERTH_YAML_LIST ? berth_yaml_len(n) : 0;

    if (len <= 64)
        w->tolerations = berth_xcalloc(len + 1, sizeof(*w->tolerations));
    berth_yaml_each_item(y, n, 64, "a list of tolerations", read_toleration, data);
}

static void read_selector_map(berth_yaml *y, const node *n, void *data)
{
    read_string_map(y, n, data, add_selector);
}

/* Whether two of the pod's containers share a name (reported at the
 * containers). */
static void check_names(berth_yaml *y, const node *at, spec_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            const char *a = berth_container_name(v[i]), *b = berth_container_name(v[j]);

            if (*a && strcmp(a, b) == 0) {
                berth_yaml_error(y, at, "two containers are named '%.63s'", a);
                return;
            }
        }
}

/* ---- dnsPolicy, dnsConfig ---- */

static void add_string(char ***v, size_t *n, const char *s)
{
    *v = berth_xreallocarray(*v, *n + 1, sizeof(**v));
    (*v)[(*n)++] = berth_xstrdup(s);
}

static void read_dns_strings(berth_yaml *y, const node *n, size_t i, void *data)
{
    void **ctx = data;
    const char *v;

    (void)i;
    if (!berth_yaml_get_string(y, n, &v))
        return;
    if (!*v || strlen(v) > 253 || strpbrk(v, " \t\n"))
        berth_yaml_error(y, n, "'%.70s' is not a name or address", v);
    else
        add_string(ctx[0], ctx[1], v);
}

static void read_dns_option(berth_yaml *y, const node *n, size_t i, void *data)
{
    PodDNS *d = data;
    field f[] = { FLD("name"), FLD("value"), FEND };
    const char *name, *value = "";
    DNSOption *o;

    (void)i;
    if (!berth_yaml_fields(y, n, f) || !berth_yaml_req_string(y, n, f, "name", &name))
        return;
    berth_yaml_opt_string(y, f, "value", &value);
    if (!*name || strpbrk(name, " \t\n:") || strpbrk(value, " \t\n")) {
        berth_yaml_error(y, n, "a resolver option is a word, with a value of one");
        return;
    }
    o = berth_xcalloc(1, sizeof(*o));
    dnsoption_init(o);
    o->name = berth_xstrdup(name);
    o->value = berth_xstrdup(value);
    d->options = berth_xreallocarray(d->options, d->n_options + 1, sizeof(o));
    d->options[d->n_options++] = o;
}

static void read_dns_config(berth_yaml *y, const node *n, void *data)
{
    PodDNS *d = data;
    field f[] = { FLD("nameservers"), FLD("searches"), FLD("options"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_value(f, "nameservers")) {
        size_t mark = berth_yaml_push_field(y, "nameservers");

        berth_yaml_each_item(y, berth_yaml_value(f, "nameservers"), 3, "a list of addresses",
                             read_dns_strings, (void *[]){ &d->nameservers, &d->n_nameservers });
        berth_yaml_pop(y, mark);
    }
    if (berth_yaml_value(f, "searches")) {
        size_t mark = berth_yaml_push_field(y, "searches");

        berth_yaml_each_item(y, berth_yaml_value(f, "searches"), 32, "a list of domains",
                             read_dns_strings, (void *[]){ &d->searches, &d->n_searches });
        berth_yaml_pop(y, mark);
    }
    if (berth_yaml_value(f, "options")) {
        size_t mark = berth_yaml_push_field(y, "options");

        berth_yaml_each_item(y, berth_yaml_value(f, "options"), 32, "a list of options",
                             read_dns_option, d);
        berth_yaml_pop(y, mark);
    }
}

/* dnsPolicy and dnsConfig (NULL when neither is there). */
static PodDNS *read_pod_dns(berth_yaml *y, field *f)
{
    static const char *const policies[] = { "ClusterFirst", "Default", "None",
                                            "ClusterFirstWithHostNet", NULL };
    PodDNS *d;
    int p = 0;

    if (!berth_yaml_value(f, "dnsPolicy") && !berth_yaml_value(f, "dnsConfig"))
        return NULL;
    d = berth_xcalloc(1, sizeof(*d));
    pod_dns_init(d);
    if (berth_yaml_opt_enum(y, f, "dnsPolicy", policies, &p))
        d->policy = berth_xstrdup(policies[p]);
    berth_yaml_opt_sub(y, f, "dnsConfig", read_dns_config, d);
    if (p == 2 && !d->n_nameservers)
        berth_yaml_field_error(y, f, "dnsPolicy", "None needs dnsConfig.nameservers");
    return d;
}

static void podctx_clear(podctx *pod)
{
    for (size_t i = 0; i < pod->n_volumes; i++)
        if (pod->volumes[i].config)
            BERTH_PB_FREE(pod->volumes[i].config);
}

/* imagePullSecrets: [{name}]. */
typedef struct pull_secrets {
    const char *names[PULL_SECRETS_MAX];
    size_t n;
} pull_secrets;

static void read_pull_secret(berth_yaml *y, const node *item, size_t i, void *data)
{
    pull_secrets *p = data;
    field f[] = { FLD("name"), FEND };
    const char *v;

    (void)i;
    if (!berth_yaml_fields(y, item, f) || !berth_yaml_req_string(y, item, f, "name", &v))
        return;
    if (!berth_workload_name_valid(v))
        berth_yaml_field_error(y, f, "name", "'%.70s' is not a valid name", v);
    else
        p->names[p->n++] = v;
}

static void read_pull_secrets(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_item(y, n, PULL_SECRETS_MAX, "a list of {name}", read_pull_secret, data);
}

static void read_pod_spec(berth_yaml *y, const node *n, void *data)
{
    static const char *const restart[] = { "Always", "OnFailure", "Never", NULL };
    static const RestartPolicy restart_values[] = {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NEVER,
    };
    field f[] = { FLD("containers"),
                  FLD("initContainers"),
                  FLD("restartPolicy"),
                  FLD("nodeSelector"),
                  FLD("volumes"),
                  FLD("hostNetwork"),
                  FLD("hostname"),
                  FLD("terminationGracePeriodSeconds"),
                  FLD("shareProcessNamespace"),
                  FLD("securityContext"),
                  FLD("nodeName"),
                  FLD("affinity"),
                  FLD("tolerations"),
                  FLD("dnsPolicy"),
                  FLD("dnsConfig"),
                  FLD("imagePullSecrets"),
                  FEND };
    Workload *w = data;
    _cleanup_(podctx_clear) podctx pod = { .n_volumes = 0 };
    pull_secrets pulls = { .n = 0 };
    PodDNS *dns = NULL;
    const node *containers, *inits;
    _cleanup_free_ spec_t **apps = NULL, **initv = NULL, **all = NULL;
    _cleanup_free_ bool *app_side = NULL, *init_side = NULL;
    size_t n_apps = 0, n_inits = 0, n_all, mark;
    RestartPolicy policy = RESTART_ALWAYS; /* Kubernetes' default */
    const char *hostname = NULL, *node_name_v;
    bool host_net = false, share_pid = false;
    int64_t grace_ms = 0, secs;
    int r;

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "volumes", read_volumes, &pod);
    /* before the containers: it is the default of theirs */
    berth_yaml_opt_sub(y, f, "securityContext", read_pod_security, &pod.sec);
    berth_yaml_opt_bool(y, f, "shareProcessNamespace", &share_pid);
    containers = berth_yaml_value(f, "containers");
    inits = berth_yaml_value(f, "initContainers");
    pod.several = share_pid ||
                  (containers && berth_yaml_type_of(containers) == BERTH_YAML_LIST &&
                   berth_yaml_len(containers) > 1) ||
                  (inits && berth_yaml_type_of(inits) == BERTH_YAML_LIST && berth_yaml_len(inits));
    if (inits) {
        pod.init = true;
        mark = berth_yaml_push_field(y, "initContainers");
        read_containers(y, inits, &pod, &initv, &n_inits, &init_side);
        berth_yaml_pop(y, mark);
        pod.init = false;
    }
    if (!containers) {
        berth_yaml_required(y, n, "containers");
    } else {
        mark = berth_yaml_push_field(y, "containers");
        read_containers(y, containers, &pod, &apps, &n_apps, &app_side);
        berth_yaml_pop(y, mark);
    }
    if (berth_yaml_opt_enum(y, f, "restartPolicy", restart, &r))
        policy = restart_values[r];
    /* a Job's pods end (Kubernetes has no default for them) */
    if ((w->kind == WORKLOAD_JOB || w->kind == WORKLOAD_CRONJOB) && policy == RESTART_ALWAYS) {
        if (berth_yaml_value(f, "restartPolicy"))
            berth_yaml_field_error(y, f, "restartPolicy",
                                   "a Job's pods are OnFailure or Never, not Always");
        else
            berth_yaml_error(y, n, "restartPolicy: required for a Job's pods: OnFailure or Never");
    }
    berth_yaml_opt_sub(y, f, "nodeSelector", read_selector_map, w);
    if (berth_yaml_opt_string(y, f, "nodeName", &node_name_v)) {
        /* a node's name: 1-63 of a-z 0-9 _ . -, as berthd takes it */
        if (strlen(node_name_v) > 63 || !berth_spec_id_valid(node_name_v))
            berth_yaml_field_error(y, f, "nodeName",
                                   "'%.70s' is not a node name (1-63 of a-z 0-9 _ . -, starting "
                                   "with a letter or digit)",
                                   node_name_v);
        else
            w->node_name = berth_xstrdup(node_name_v);
    }
    berth_yaml_opt_sub(y, f, "affinity", read_affinity, w);
    berth_yaml_opt_sub(y, f, "tolerations", read_tolerations, w);
    berth_yaml_opt_bool(y, f, "hostNetwork", &host_net);
    berth_yaml_opt_string(y, f, "hostname", &hostname);
    berth_yaml_opt_sub(y, f, "imagePullSecrets", read_pull_secrets, &pulls);
    dns = read_pod_dns(y, f);
    /* 0 means "at once" in Kubernetes; the spec's 0 means the default. */
    if (berth_yaml_opt_int(y, f, "terminationGracePeriodSeconds", 0, GRACE_SECS_MAX, &secs))
        grace_ms = secs ? secs * 1000 : 1;

    /* What the pod's containers share, into each (the node's sandbox
     * takes it from any of them). */
    n_all = n_inits + n_apps;
    all = berth_xcalloc(n_all + 1, sizeof(*all));
    for (size_t i = 0; i < n_inits; i++)
        all[i] = initv[i];
    for (size_t i = 0; i < n_apps; i++)
        all[n_inits + i] = apps[i];
    mark = berth_yaml_push_field(y, "containers");
    check_names(y, containers ? containers : n, all, n_all);
    berth_yaml_pop(y, mark);
    for (size_t i = 0; i < n_all; i++) {
        spec_t *s = all[i];

        if (i >= n_inits)
            s->restart_policy = policy;
        else if (init_side[i])
            s->restart_policy = RESTART_ALWAYS;
        else
            s->restart_policy = policy == RESTART_NEVER ? RESTART_NEVER : RESTART_ON_FAILURE;
        if (host_net)
            s->network = NETWORK_HOST;
        if (hostname)
            s->hostname = berth_xstrdup(hostname);
        if (grace_ms)
            s->stop_grace_ms = grace_ms;
        if (dns)
            s->dns = BERTH_PB_COPY(PodDNS, dns);
        if (pulls.n) {
            s->image_pull_secrets = berth_xcalloc(pulls.n, sizeof(*s->image_pull_secrets));
            for (size_t k = 0; k < pulls.n; k++)
                s->image_pull_secrets[s->n_image_pull_secrets++] = berth_xstrdup(pulls.names[k]);
        }
    }
    if (dns)
        BERTH_PB_FREE(dns);
    if (n_apps == 0) {
        /* reported above; the workload still has a template */
        for (size_t i = 0; i < n_inits; i++)
            BERTH_PB_FREE(initv[i]);
        w->template_ = spec_new();
        return;
    }
    w->template_ = apps[0];
    if (pod.several) {
        PodTemplate *pt = berth_xcalloc(1, sizeof(*pt));

        pod_template_init(pt);
        pt->share_process_namespace = share_pid;
        pt->n_containers = n_apps - 1;
        pt->containers = berth_xcalloc(n_apps, sizeof(*pt->containers));
        for (size_t i = 1; i < n_apps; i++)
            pt->containers[i - 1] = apps[i];
        pt->n_init_containers = n_inits;
        pt->init_containers = TAKE_PTR(initv);
        w->pod = pt;
    }
}

/* ---- metadata ---- */

static void read_workload_labels(berth_yaml *y, const node *n, void *data)
{
    read_string_map(y, n, data, add_workload_label);
}

static void read_kvlist(berth_yaml *y, const node *n, void *data)
{
    read_string_map(y, n, data, add_kvlist);
}

static bool is_collection(const node *n)
{
    return berth_yaml_type_of(n) == BERTH_YAML_LIST || berth_yaml_type_of(n) == BERTH_YAML_MAPPING;
}

/* A pod's host devices, from its annotation: each of its containers gets
 * them (DeviceRequests owned here until then). */
typedef struct pod_devices {
    DeviceRequest *v[BERTH_SPEC_DEVICES_MAX];
    size_t n;
    bool seen; /* the annotation was read (a second is ignored) */
} pod_devices;

static void pod_devices_clear(pod_devices *d)
{
    for (size_t i = 0; i < d->n; i++) {
        berth_cdi_request_clear(d->v[i]);
        free(d->v[i]);
    }
    d->n = 0;
}

/* Give every container of w's pod (init containers too) a copy of d's
 * devices. */
static void pod_devices_apply(Workload *w, const pod_devices *d)
{
    for (size_t i = 0; d->n && w->template_ && i < berth_pod_size(w); i++) {
        spec_t *s = pod_spec(w, i);

        s->devices = berth_xcalloc(d->n, sizeof(*s->devices));
        for (size_t k = 0; k < d->n; k++)
            s->devices[s->n_devices++] = BERTH_PB_COPY(DeviceRequest, d->v[k]);
    }
}

/* The one annotation of a metadata berth keeps: its key, and where its
 * value goes (NULL: none is kept); and, for a pod's, where its devices
 * go (NULL: it is not a pod's). */
typedef struct kept_annotation {
    const char *key;
    char **value;
    pod_devices *devices;
} kept_annotation;

/* Annotations a Deployment keeps (the rest are checked for shape only). */
#define ANNOTATION_CHANGE_CAUSE "kubernetes.io/change-cause"
#define ANNOTATION_RESTARTED_AT "kubectl.kubernetes.io/restartedAt"
#define ANNOTATION_VALUE_MAX    1024
/* A pod's host devices, CRI-O's way: "/dev/fuse,/dev/net/tun:/dev/tun:rw"
 * (each HOST[:CONTAINER][:PERMISSIONS]). */
#define ANNOTATION_DEVICES "io.kubernetes.cri-o.Devices"

/* One entry of the devices annotation, into d (an error at v when it is
 * not a host device CRI-O would take). */
static void read_device_entry(berth_yaml *y, const node *v, const char *entry, pod_devices *d)
{
    _cleanup_error_ berth_error *e = NULL;
    char prefix[BERTH_SPEC_PATH_MAX + 32];
    DeviceRequest *r = berth_xcalloc(1, sizeof(*r));
    const char *msg, *dest;

    device_request_init(r);
    if (berth_cdi_parse_request(entry, r, &e) < 0) {
        /* its words are --device's: the annotation's entry says it here */
        snprintf(prefix, sizeof(prefix), "--device %s: ", entry);
        msg = strncmp(e->msg, prefix, strlen(prefix)) == 0 ? e->msg + strlen(prefix) : e->msg;
        berth_yaml_error(y, v, "'%.80s': %s", entry, msg);
        free(r);
        return;
    }
    dest = *r->container_path ? r->container_path : r->name;
    if (r->name[0] != '/')
        berth_yaml_error(y, v,
                         "'%.80s' is a CDI device: this annotation gives host devices only (ask "
                         "for CDI devices with resources.limits, vendor.com/class: N)",
                         entry);
    else if (berth_device_request_validate(r, &e) < 0 && strcmp(r->name, entry) == 0)
        berth_yaml_error(y, v, "%s", e->msg); /* it names the entry */
    else if (e)
        berth_yaml_error(y, v, "'%.80s': %s", entry, e->msg);
    else if (strncmp(dest, "/dev/", 5) != 0) /* CRI-O's rule and words */
        berth_yaml_error(y, v, "'%.80s': devices must be in path /dev", entry);
    else if (d->n == BERTH_SPEC_DEVICES_MAX)
        berth_yaml_error(y, v, "more than %d devices", BERTH_SPEC_DEVICES_MAX);
    else {
        d->v[d->n++] = r;
        return;
    }
    berth_cdi_request_clear(r);
    free(r);
}

/* The devices annotation's value: comma-separated entries (spaces around
 * them are not theirs); an empty value asks for none. */
static void read_devices_annotation(berth_yaml *y, const node *v, pod_devices *d)
{
    _cleanup_free_ char *copy = NULL;
    const char *text;

    d->seen = true;
    if (!berth_yaml_get_string(y, v, &text) || !*text)
        return;
    copy = berth_xstrdup(text);
    for (char *p = copy; p;) {
        char *comma = strchr(p, ','), *entry = p, *end;

        if (comma)
            *comma = '\0';
        p = comma ? comma + 1 : NULL;
        entry += strspn(entry, " \t");
        for (end = entry + strlen(entry); end > entry && (end[-1] == ' ' || end[-1] == '\t');)
            *--end = '\0';
        if (!*entry)
            berth_yaml_error(y, v, "an empty device entry");
        else
            read_device_entry(y, v, entry, d);
    }
}

static void read_annotations(berth_yaml *y, const node *a, void *data)
{
    const kept_annotation *keep = data;

    /* Checked for shape (values may be long, and there may be many: no
     * quadratic check of their keys); one may be kept. */
    if (berth_yaml_type_of(a) != BERTH_YAML_MAPPING) {
        berth_yaml_expected(y, a, "a mapping");
        return;
    }
    for (size_t i = 0; i < berth_yaml_len(a); i++) {
        const node *k, *v;
        const char *text;

        berth_yaml_entry(y, a, i, &k, &v);
        if (is_collection(k) || is_collection(v)) {
            berth_yaml_error(y, k, "annotations are string keys and values");
            continue;
        }
        if (keep && keep->devices && !keep->devices->seen &&
            strcmp(berth_yaml_text(k), ANNOTATION_DEVICES) == 0) {
            size_t mark = berth_yaml_push(y, ".%s", ANNOTATION_DEVICES);

            read_devices_annotation(y, v, keep->devices);
            berth_yaml_pop(y, mark);
            continue;
        }
        if (!keep || !keep->value || strcmp(berth_yaml_text(k), keep->key) != 0 ||
            !berth_yaml_get_string(y, v, &text))
            continue;
        if (strlen(text) > ANNOTATION_VALUE_MAX)
            berth_yaml_error(y, v, "%s: at most %d characters", keep->key, ANNOTATION_VALUE_MAX);
        else if (!*keep->value || *keep->value == protobuf_c_empty_string)
            *keep->value = berth_xstrdup(text);
    }
}

/* Whether v, metadata field name's value, is a namespace's name; an error
 * at it when not. */
static bool namespace_name_ok(berth_yaml *y, field *f, const char *name, const char *v)
{
    if (berth_namespace_name_valid(v))
        return true;
    berth_yaml_field_error(y, f, name,
                           "'%.70s' is not a valid namespace name (1-%d of a-z 0-9 -, starting "
                           "and ending with a letter or digit)",
                           v, BERTH_NAMESPACE_MAX);
    return false;
}

/* metadata: name (into w when need_name), labels (into w, or into tlabels
 * for a template), namespace, annotations (a pod's devices into devices,
 * when it is a pod's: a Pod's or a template's). */
static void read_metadata(berth_yaml *y, const node *n, Workload *w, kvlist *tlabels,
                          pod_devices *devices, berth_yaml_pos *ret_name_pos)
{
    field f[] = { FLD("name"), FLD("labels"), FLD("namespace"), FLD("annotations"), FEND };
    const char *v;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!tlabels && berth_yaml_req_string(y, n, f, "name", &v)) {
        if (!berth_workload_name_valid(v))
            berth_yaml_field_error(y, f, "name",
                                   "'%.70s' is not a valid workload name (1-%d of a-z 0-9 -, "
                                   "starting and ending with a letter or digit)",
                                   v, BERTH_WORKLOAD_NAME_MAX);
        else
            w->name = berth_xstrdup(v);
        *ret_name_pos = berth_yaml_pos_of(berth_yaml_value(f, "name"));
    } else if (tlabels) {
        berth_yaml_opt_string(y, f, "name", &v);
    }
    if (tlabels) {
        berth_yaml_opt_sub(y, f, "labels", read_kvlist, tlabels);
        if (tlabels->n > TEMPLATE_LABELS_MAX)
            berth_yaml_field_error(y, f, "labels",
                                   "%zu labels, at most %d (each replica has berth.container, "
                                   "berth.workload, berth.replica and pod-template-hash too)",
                                   tlabels->n, TEMPLATE_LABELS_MAX);
    } else {
        berth_yaml_opt_sub(y, f, "labels", read_workload_labels, w);
    }
    /* a template's is the workload's (Kubernetes ignores it too) */
    if (berth_yaml_opt_string(y, f, "namespace", &v) && namespace_name_ok(y, f, "namespace", v) &&
        !tlabels)
        w->namespace_ = berth_xstrdup(v);
    if (w->kind == WORKLOAD_DEPLOYMENT) {
        kept_annotation keep =
            tlabels ? (kept_annotation){ ANNOTATION_RESTARTED_AT, &w->restarted_at, devices }
                    : (kept_annotation){ ANNOTATION_CHANGE_CAUSE, &w->change_cause, devices };

        berth_yaml_opt_sub(y, f, "annotations", read_annotations, &keep);
    } else {
        kept_annotation keep = { NULL, NULL, devices };

        berth_yaml_opt_sub(y, f, "annotations", read_annotations, &keep);
    }
}

/* ---- Namespace ---- */

static void add_namespace_label(void *target, const char *k, const char *v)
{
    add_map(target, "labels", k, v);
}

static void read_namespace_labels(berth_yaml *y, const node *n, void *data)
{
    read_string_map(y, n, data, add_namespace_label);
}

static void read_namespace_spec(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("finalizers"), FEND };

    (void)data;
    if (berth_yaml_fields(y, n, f) && berth_yaml_value(f, "finalizers"))
        berth_yaml_field_error(y, f, "finalizers",
                               "berth has no finalizers (a namespace's workloads are deleted "
                               "with it)");
}

/* A kind: Namespace document (apiVersion v1): metadata name, labels and
 * annotations; a spec with nothing in it. */
static Namespace *read_namespace(berth_yaml *y, const node *root, field *f, const char *source,
                                 berth_yaml_pos *ret_name_pos)
{
    field mf[] = { FLD("name"), FLD("labels"), FLD("namespace"), FLD("annotations"), FEND };
    Namespace *ns = berth_xcalloc(1, sizeof(*ns));
    const node *metadata = berth_yaml_value(f, "metadata");
    const char *v;
    size_t mark;

    namespace_init(ns);
    ns->source = berth_xstrdup(source);
    if (!metadata) {
        berth_yaml_required(y, root, "metadata");
    } else {
        mark = berth_yaml_push_field(y, "metadata");
        if (berth_yaml_fields(y, metadata, mf)) {
            if (berth_yaml_req_string(y, metadata, mf, "name", &v)) {
                if (namespace_name_ok(y, mf, "name", v))
                    ns->name = berth_xstrdup(v);
                *ret_name_pos = berth_yaml_pos_of(berth_yaml_value(mf, "name"));
            }
            if (berth_yaml_value(mf, "namespace"))
                berth_yaml_field_error(y, mf, "namespace", "a Namespace is in none");
            berth_yaml_opt_sub(y, mf, "labels", read_namespace_labels, ns);
            berth_yaml_opt_sub(y, mf, "annotations", read_annotations, NULL);
        }
        berth_yaml_pop(y, mark);
    }
    berth_yaml_opt_sub(y, f, "spec", read_namespace_spec, NULL);
    return ns;
}

/* ---- Deployment and DaemonSet ---- */

typedef struct template_ctx {
    Workload *w;
    kvlist labels;
} template_ctx;

static void read_template(berth_yaml *y, const node *n, void *data)
{
    template_ctx *t = data;
    field f[] = { FLD("metadata"), FLD("spec"), FEND };
    _cleanup_(pod_devices_clear) pod_devices devices = { .n = 0 };
    const node *metadata;
    size_t mark;

    if (!berth_yaml_fields(y, n, f))
        return;
    if ((metadata = berth_yaml_value(f, "metadata"))) {
        mark = berth_yaml_push_field(y, "metadata");
        read_metadata(y, metadata, t->w, &t->labels, &devices, NULL);
        berth_yaml_pop(y, mark);
    }
    if (!berth_yaml_value(f, "spec"))
        berth_yaml_required(y, n, "spec");
    berth_yaml_opt_sub(y, f, "spec", read_pod_spec, t->w);
    pod_devices_apply(t->w, &devices);
}

static void read_selector(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("matchLabels"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!berth_yaml_value(f, "matchLabels"))
        berth_yaml_required(y, n, "matchLabels");
    berth_yaml_opt_sub(y, f, "matchLabels", read_kvlist, data);
}

/* A controller's selector and template: the selector must select the
 * template's labels (as Kubernetes), and each container of the pod gets
 * them. */
static void read_selected_template(berth_yaml *y, const node *n, field *f, Workload *w)
{
    template_ctx t = { .w = w };
    kvlist match = { .n = 0 };

    berth_yaml_opt_sub(y, f, "selector", read_selector, &match);
    if (!berth_yaml_value(f, "template"))
        berth_yaml_required(y, n, "template");
    berth_yaml_opt_sub(y, f, "template", read_template, &t);
    for (size_t i = 0; i < match.n; i++) {
        bool found = false;

        for (size_t j = 0; j < t.labels.n; j++)
            if (strcmp(match.k[i], t.labels.k[j]) == 0 && strcmp(match.v[i], t.labels.v[j]) == 0)
                found = true;
        if (!found) {
            berth_yaml_field_error(y, f, "selector",
                                   "matchLabels %s=%s does not select "
                                   "spec.template.metadata.labels",
                                   match.k[i], match.v[i]);
            break;
        }
    }
    if (w->template_)
        for (size_t i = 0; i < berth_pod_size(w); i++)
            for (size_t j = 0; j < t.labels.n; j++)
                add_spec_label(pod_spec(w, i), t.labels.k[j], t.labels.v[j]);
}

/* Kubernetes' IntOrString of maxSurge and maxUnavailable: a number, or
 * "N%". */
static void read_int_or_percent(berth_yaml *y, const node *n, void *data)
{
    IntOrPercent **ret = data, *v;
    const char *text = berth_yaml_text(n);
    size_t len = text ? strlen(text) : 0;
    int64_t x = 0;

    if (berth_yaml_type_of(n) == BERTH_YAML_STRING && len > 1 && text[len - 1] == '%') {
        char *end;

        errno = 0;
        x = strtoll(text, &end, 10);
        if (errno || end != text + len - 1 || x < 0 || x > 100) {
            berth_yaml_error(y, n, "'%.20s' is not a percentage (0%% to 100%%)", text);
            return;
        }
    } else if (berth_yaml_type_of(n) != BERTH_YAML_INT) {
        berth_yaml_expected(y, n, "a number of replicas or a percentage (\"25%\")");
        return;
    } else if (!berth_yaml_get_int(y, n, 0, BERTH_REPLICAS_MAX, &x)) {
        return;
    }
    v = berth_xcalloc(1, sizeof(*v));
    int_or_percent_init(v);
    v->value = (uint32_t)x;
    v->percent = berth_yaml_type_of(n) == BERTH_YAML_STRING;
    *ret = v;
}

static void read_rolling_update(berth_yaml *y, const node *n, void *data)
{
    DeploymentStrategy *s = data;
    field f[] = { FLD("maxSurge"), FLD("maxUnavailable"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "maxSurge", read_int_or_percent, &s->max_surge);
    berth_yaml_opt_sub(y, f, "maxUnavailable", read_int_or_percent, &s->max_unavailable);
    if (s->max_surge && s->max_unavailable && s->max_surge->value == 0 &&
        s->max_unavailable->value == 0)
        berth_yaml_field_error(y, f, "maxUnavailable", "may not be 0 when maxSurge is 0");
}

/* A strategy of types ({"RollingUpdate", other}): its type and, for
 * RollingUpdate, rollingUpdate (refused with the other type). w->strategy
 * is set; NULL when n is no mapping. */
static DeploymentStrategy *read_strategy_of(berth_yaml *y, const node *n, Workload *w,
                                            const char *const *types, field *f)
{
    DeploymentStrategy *s;
    int type = 0;

    if (!berth_yaml_fields(y, n, f))
        return NULL;
    s = w->strategy = berth_xcalloc(1, sizeof(*s));
    deployment_strategy_init(s);
    berth_yaml_opt_enum(y, f, "type", types, &type);
    s->type = berth_xstrdup(types[type]);
    if (type == 1 && berth_yaml_value(f, "rollingUpdate"))
        berth_yaml_field_error(y, f, "rollingUpdate",
                               "may not be specified when strategy `type` is '%s'", types[1]);
    else
        berth_yaml_opt_sub(y, f, "rollingUpdate", read_rolling_update, s);
    return s;
}

static void read_strategy(berth_yaml *y, const node *n, void *data)
{
    static const char *const types[] = { "RollingUpdate", "Recreate", NULL };
    field f[] = { FLD("type"), FLD("rollingUpdate"), FEND };

    read_strategy_of(y, n, data, types, f);
}

/* minReadySeconds and revisionHistoryLimit, a Deployment's and a
 * DaemonSet's alike. */
static void read_history(berth_yaml *y, field *f, Workload *w)
{
    int64_t v;

    if (berth_yaml_opt_int(y, f, "minReadySeconds", 0, INT32_MAX, &v))
        w->min_ready_seconds = (uint32_t)v;
    if (berth_yaml_opt_int(y, f, "revisionHistoryLimit", 0, INT32_MAX, &v)) {
        w->has_revision_history_limit = true;
        w->revision_history_limit = (uint32_t)v;
    }
}

/* A Deployment's rollout fields (Kubernetes' names and defaults). */
static void read_rollout(berth_yaml *y, field *f, Workload *w)
{
    int64_t v;

    berth_yaml_opt_sub(y, f, "strategy", read_strategy, w);
    read_history(y, f, w);
    if (berth_yaml_opt_int(y, f, "progressDeadlineSeconds", 1, INT32_MAX, &v)) {
        w->progress_deadline_seconds = (uint32_t)v;
        if (v <= (int64_t)w->min_ready_seconds)
            berth_yaml_field_error(y, f, "progressDeadlineSeconds",
                                   "must be greater than minReadySeconds");
    } else if (w->min_ready_seconds >= PROGRESS_DEADLINE_DEFAULT) {
        /* as Kubernetes, against the default */
        berth_yaml_field_error(y, f, "minReadySeconds",
                               "must be less than progressDeadlineSeconds (default %d)",
                               PROGRESS_DEADLINE_DEFAULT);
    }
    {
        bool paused;

        if (berth_yaml_opt_bool(y, f, "paused", &paused)) {
            w->paused = paused;
            w->has_paused = true;
        }
    }
}

/* A DaemonSet's updateStrategy: RollingUpdate (maxUnavailable, default 1;
 * maxSurge 0 only: berth replaces a node's replica in place) or OnDelete. */
static void read_update_strategy(berth_yaml *y, const node *n, void *data)
{
    static const char *const types[] = { "RollingUpdate", "OnDelete", NULL };
    field f[] = { FLD("type"), FLD("rollingUpdate"), FEND };
    DeploymentStrategy *s = read_strategy_of(y, n, data, types, f);

    if (!s)
        return;
    if (s->max_unavailable && s->max_unavailable->value == 0 &&
        !(s->max_surge && s->max_surge->value == 0)) {
        size_t mark = berth_yaml_push_field(y, "rollingUpdate");

        berth_yaml_error(y, berth_yaml_value(f, "rollingUpdate"),
                         "maxUnavailable: at least 1 (berth replaces a node's replica in place)");
        berth_yaml_pop(y, mark);
    }
    if (s->max_surge && s->max_surge->value != 0) {
        size_t mark = berth_yaml_push_field(y, "rollingUpdate");

        berth_yaml_error(y, berth_yaml_value(f, "rollingUpdate"),
                         "maxSurge: berth replaces a node's DaemonSet replica in place (0 only)");
        berth_yaml_pop(y, mark);
    }
}

static void read_controller_spec(berth_yaml *y, const node *n, Workload *w, bool k8s_api)
{
    bool deployment = w->kind == WORKLOAD_DEPLOYMENT;
    /* A DaemonSet's table: its own fields, then the end; a Deployment's
     * skips them. */
    field f[] = { FLD("selector"),
                  FLD("template"),
                  FLD("minReadySeconds"),
                  FLD("revisionHistoryLimit"),
                  FLD(deployment ? "replicas" : "updateStrategy"),
                  FLD(deployment ? "strategy" : NULL),
                  FLD("progressDeadlineSeconds"),
                  FLD("paused"),
                  FEND };
    int64_t v;

    if (!berth_yaml_fields(y, n, f))
        return;
    w->replicas = deployment ? 1 : 0;
    if (deployment && berth_yaml_opt_int(y, f, "replicas", 0, BERTH_REPLICAS_MAX, &v))
        w->replicas = (uint32_t)v;
    if (deployment) {
        read_rollout(y, f, w);
    } else {
        berth_yaml_opt_sub(y, f, "updateStrategy", read_update_strategy, w);
        read_history(y, f, w);
    }
    if (!berth_yaml_value(f, "selector") && k8s_api)
        berth_yaml_required(y, n, "selector");
    read_selected_template(y, n, f, w);
}

/* ---- Job ---- */

/* Kubernetes' bounds on a podFailurePolicy. */
#define FAILURE_RULES_MAX      20
#define FAILURE_EXIT_CODES_MAX 255

static void read_exit_code(berth_yaml *y, const node *item, size_t i, void *data)
{
    PodFailurePolicyOnExitCodes *e = data;
    int64_t v;

    if (!berth_yaml_get_int(y, item, INT32_MIN, INT32_MAX, &v))
        return;
    for (size_t k = 0; k < e->n_values; k++)
        if (e->values[k] == v) {
            berth_yaml_error(y, item, "%" PRId64 " is given twice", v);
            return;
        }
    if (v == 0 && strcmp(e->operator_, "In") == 0)
        berth_yaml_error(y, item,
                         "0 may not be among the values of In (a container that "
                         "exits 0 did not fail)");
    (void)i;
    e->values[e->n_values++] = (int32_t)v;
}

static void read_on_exit_codes(berth_yaml *y, const node *n, void *data)
{
    static const char *const ops[] = { "In", "NotIn", NULL };
    PodFailurePolicyRule *r = data;
    field f[] = { FLD("containerName"), FLD("operator"), FLD("values"), FEND };
    PodFailurePolicyOnExitCodes *e;
    const node *values;
    const char *v;
    int op = -1;

    if (!berth_yaml_fields(y, n, f))
        return;
    e = r->on_exit_codes = berth_xcalloc(1, sizeof(*e));
    pod_failure_policy_on_exit_codes_init(e);
    if (berth_yaml_opt_string(y, f, "containerName", &v))
        e->container_name = berth_xstrdup(v);
    if (!berth_yaml_value(f, "operator"))
        berth_yaml_required(y, n, "operator");
    if (berth_yaml_opt_enum(y, f, "operator", ops, &op))
        e->operator_ = berth_xstrdup(ops[op]);
    if (!(values = berth_yaml_value(f, "values"))) {
        berth_yaml_required(y, n, "values");
        return;
    }
    e->values = berth_xcalloc(FAILURE_EXIT_CODES_MAX, sizeof(*e->values));
    {
        size_t mark = berth_yaml_push_field(y, "values");

        berth_yaml_each_item(y, values, FAILURE_EXIT_CODES_MAX, "a list of exit codes",
                             read_exit_code, e);
        berth_yaml_pop(y, mark);
    }
    if (!e->n_values)
        berth_yaml_field_error(y, f, "values", "at least one exit code");
}

static void read_pod_condition_pattern(berth_yaml *y, const node *item, size_t i, void *data)
{
    PodFailurePolicyRule *r = data;
    field f[] = { FLD("type"), FLD("status"), FEND };
    const char *type, *status = "True";

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "type", &type) && strcmp(type, "DisruptionTarget") != 0)
        berth_yaml_field_error(y, f, "type",
                               "'%.60s': berth's pods have no such condition (DisruptionTarget "
                               "only)",
                               type);
    berth_yaml_opt_string(y, f, "status", &status);
    if (strcmp(status, "True") != 0)
        berth_yaml_field_error(y, f, "status", "'%.20s': True only", status);
    r->on_pod_conditions[r->n_on_pod_conditions++] = berth_xstrdup("DisruptionTarget");
}

static void read_failure_rule(berth_yaml *y, const node *item, size_t i, void *data)
{
    static const char *const actions[] = { "FailJob", "Ignore", "Count", "FailIndex", NULL };
    JobSpec *j = data;
    field f[] = { FLD("action"), FLD("onExitCodes"), FLD("onPodConditions"), FEND };
    PodFailurePolicyRule *r;
    const node *conds;
    int action = -1;

    (void)i;
    if (!berth_yaml_fields(y, item, f))
        return;
    r = j->pod_failure_policy[j->n_pod_failure_policy++] = berth_xcalloc(1, sizeof(*r));
    pod_failure_policy_rule_init(r);
    if (!berth_yaml_value(f, "action"))
        berth_yaml_required(y, item, "action");
    if (berth_yaml_opt_enum(y, f, "action", actions, &action)) {
        if (action == 3)
            berth_yaml_field_error(y, f, "action",
                                   "FailIndex needs backoffLimitPerIndex, which berth's Jobs do "
                                   "not have yet");
        else
            r->action = berth_xstrdup(actions[action]);
    }
    if (!!berth_yaml_value(f, "onExitCodes") == !!berth_yaml_value(f, "onPodConditions"))
        berth_yaml_error(y, item, "a rule needs exactly one of onExitCodes and onPodConditions");
    berth_yaml_opt_sub(y, f, "onExitCodes", read_on_exit_codes, r);
    if ((conds = berth_yaml_value(f, "onPodConditions"))) {
        size_t mark = berth_yaml_push_field(y, "onPodConditions");
        size_t len = berth_yaml_type_of(conds) == BERTH_YAML_LIST ? berth_yaml_len(conds) : 0;

        if (len <= FAILURE_RULES_MAX)
            r->on_pod_conditions = berth_xcalloc(len + 1, sizeof(*r->on_pod_conditions));
        berth_yaml_each_item(y, conds, FAILURE_RULES_MAX, "a list of {type, status}",
                             read_pod_condition_pattern, r);
        berth_yaml_pop(y, mark);
        if (action >= 0 && action != 1 && r->n_on_pod_conditions)
            berth_yaml_field_error(y, f, "action",
                                   "%s on DisruptionTarget: berth never counts a disruption as a "
                                   "failure (Ignore only)",
                                   actions[action]);
    }
}

static void read_pod_failure_policy(berth_yaml *y, const node *n, void *data)
{
    JobSpec *j = data;
    field f[] = { FLD("rules"), FEND };
    const node *rules;
    size_t len;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (!(rules = berth_yaml_value(f, "rules"))) {
        berth_yaml_required(y, n, "rules");
        return;
    }
    len = berth_yaml_type_of(rules) == BERTH_YAML_LIST ? berth_yaml_len(rules) : 0;
    if (len <= FAILURE_RULES_MAX)
        j->pod_failure_policy = berth_xcalloc(len + 1, sizeof(*j->pod_failure_policy));
    {
        size_t mark = berth_yaml_push_field(y, "rules");

        berth_yaml_each_item(y, rules, FAILURE_RULES_MAX, "a list of rules", read_failure_rule, j);
        berth_yaml_pop(y, mark);
    }
}

/* A Job's spec (batch/v1): Kubernetes' fields and defaults; what berth
 * does not do yet is refused by name. */
static void read_job_spec(berth_yaml *y, const node *n, Workload *w)
{
    static const char *const modes[] = { "NonIndexed", "Indexed", NULL };
    static const char *const refused[] = { "backoffLimitPerIndex", "maxFailedIndexes",
                                           "podReplacementPolicy", "successPolicy", "managedBy" };
    field f[] = { FLD("selector"),
                  FLD("template"),
                  FLD("completions"),
                  FLD("parallelism"),
                  FLD("backoffLimit"),
                  FLD("activeDeadlineSeconds"),
                  FLD("ttlSecondsAfterFinished"),
                  FLD("completionMode"),
                  FLD("manualSelector"),
                  FLD("suspend"),
                  FLD("podFailurePolicy"),
                  FLD("backoffLimitPerIndex"),
                  FLD("maxFailedIndexes"),
                  FLD("podReplacementPolicy"),
                  FLD("successPolicy"),
                  FLD("managedBy"),
                  FEND };
    JobSpec *j;
    int64_t v;
    int mode = 0;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    j = w->job = berth_xcalloc(1, sizeof(*j));
    job_spec_init(j);
    j->completions = j->parallelism = 1;
    j->backoff_limit = 6;
    if (berth_yaml_opt_int(y, f, "completions", 1, BERTH_REPLICAS_MAX, &v))
        j->completions = (uint32_t)v;
    if (berth_yaml_opt_int(y, f, "parallelism", 0, BERTH_REPLICAS_MAX, &v)) {
        j->parallelism = (uint32_t)v;
        if (v > 1 && !berth_yaml_value(f, "completions"))
            berth_yaml_field_error(y, f, "parallelism",
                                   "more than 1 needs completions (berth has no work-queue Jobs "
                                   "yet)");
    }
    if (berth_yaml_opt_int(y, f, "backoffLimit", 0, BERTH_REPLICAS_MAX, &v))
        j->backoff_limit = (uint32_t)v;
    if (berth_yaml_opt_int(y, f, "activeDeadlineSeconds", 1, INT32_MAX, &v))
        j->active_deadline_seconds = (uint32_t)v;
    if (berth_yaml_opt_int(y, f, "ttlSecondsAfterFinished", 0, INT32_MAX, &v)) {
        j->has_ttl_seconds_after_finished = true;
        j->ttl_seconds_after_finished = (uint32_t)v;
    }
    if (berth_yaml_opt_enum(y, f, "completionMode", modes, &mode))
        j->indexed = mode == 1;
    if (berth_yaml_opt_bool(y, f, "manualSelector", &b) && b)
        berth_yaml_field_error(y, f, "manualSelector",
                               "berth selects a Job's pods itself (false only)");
    if (berth_yaml_opt_bool(y, f, "suspend", &b) && b)
        berth_yaml_field_error(y, f, "suspend", "berth does not suspend Jobs yet (false only)");
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (berth_yaml_value(f, refused[i]))
            berth_yaml_field_error(y, f, refused[i], "berth's Jobs do not have this yet");
    berth_yaml_opt_sub(y, f, "podFailurePolicy", read_pod_failure_policy, j);
    read_selected_template(y, n, f, w);
    if (j->n_pod_failure_policy && w->template_ && w->template_->restart_policy != RESTART_NEVER)
        berth_yaml_field_error(y, f, "podFailurePolicy",
                               "needs the pods' restartPolicy to be Never");
    w->replicas = j->completions;
}

/* ---- CronJob ---- */

/* Its Jobs are "<name>-<minutes since the epoch>": room for 9 more. */
#define CRONJOB_NAME_MAX (BERTH_WORKLOAD_NAME_MAX - 9)

/* A jobTemplate's metadata: labels and annotations, checked (its Jobs are
 * named and labelled by berth). */
static void read_job_template_metadata(berth_yaml *y, const node *n, void *data)
{
    field f[] = { FLD("labels"), FLD("annotations"), FEND };
    kvlist labels = { .n = 0 };

    (void)data;
    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "labels", read_kvlist, &labels);
    berth_yaml_opt_sub(y, f, "annotations", read_annotations, NULL);
}

static void read_job_template(berth_yaml *y, const node *n, void *data)
{
    Workload *w = data;
    field f[] = { FLD("metadata"), FLD("spec"), FEND };
    const node *spec;
    size_t mark;

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "metadata", read_job_template_metadata, NULL);
    if (!(spec = berth_yaml_value(f, "spec"))) {
        berth_yaml_required(y, n, "spec");
        return;
    }
    mark = berth_yaml_push_field(y, "spec");
    read_job_spec(y, spec, w);
    berth_yaml_pop(y, mark);
}

/* A CronJob's spec (batch/v1): Kubernetes' fields and defaults. */
static void read_cronjob_spec(berth_yaml *y, const node *n, Workload *w)
{
    static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };
    field f[] = { FLD("schedule"),
                  FLD("timeZone"),
                  FLD("concurrencyPolicy"),
                  FLD("startingDeadlineSeconds"),
                  FLD("suspend"),
                  FLD("successfulJobsHistoryLimit"),
                  FLD("failedJobsHistoryLimit"),
                  FLD("jobTemplate"),
                  FEND };
    CronJobSpec *c;
    const char *v;
    int64_t x;
    int policy = 0;
    bool b;

    if (!berth_yaml_fields(y, n, f))
        return;
    c = w->cron = berth_xcalloc(1, sizeof(*c));
    cron_job_spec_init(c);
    c->successful_jobs_history_limit = 3;
    c->failed_jobs_history_limit = 1;
    if (w->name && strlen(w->name) > CRONJOB_NAME_MAX)
        berth_yaml_error(y, n, "a CronJob's name is at most %d characters (its Jobs add 9)",
                         CRONJOB_NAME_MAX);
    if (berth_yaml_req_string(y, n, f, "schedule", &v)) {
        _cleanup_error_ berth_error *e = NULL;
        berth_cron cron;

        if (berth_cron_parse(v, &cron, &e) < 0)
            berth_yaml_field_error(y, f, "schedule", "%s", e->msg);
        else
            c->schedule = berth_xstrdup(v);
    }
    if (berth_yaml_opt_string(y, f, "timeZone", &v)) {
        if (!berth_time_zone_valid(v))
            berth_yaml_field_error(y, f, "timeZone", "unknown time zone '%.60s'", v);
        else
            c->time_zone = berth_xstrdup(v);
    }
    berth_yaml_opt_enum(y, f, "concurrencyPolicy", policies, &policy);
    c->concurrency_policy = berth_xstrdup(policies[policy]);
    if (berth_yaml_opt_int(y, f, "startingDeadlineSeconds", 0, INT32_MAX, &x)) {
        c->has_starting_deadline_seconds = true;
        c->starting_deadline_seconds = (uint32_t)x;
    }
    if (berth_yaml_opt_bool(y, f, "suspend", &b))
        c->suspend = b;
    if (berth_yaml_opt_int(y, f, "successfulJobsHistoryLimit", 0, 100, &x))
        c->successful_jobs_history_limit = (uint32_t)x;
    if (berth_yaml_opt_int(y, f, "failedJobsHistoryLimit", 0, 100, &x))
        c->failed_jobs_history_limit = (uint32_t)x;
    if (!berth_yaml_value(f, "jobTemplate"))
        berth_yaml_required(y, n, "jobTemplate");
    berth_yaml_opt_sub(y, f, "jobTemplate", read_job_template, w);
}

/* ---- documents ---- */

static void check_template(berth_yaml *y, const node *at, Workload *w, const char *where)
{
    size_t mark = berth_yaml_push_field(y, where);

    for (size_t i = 0; i < berth_pod_size(w); i++) {
        _cleanup_error_ berth_error *e = NULL;
        spec_t *s = pod_spec(w, i);
        char *saved = s->id;

        /* The checks above name the field where it is; this is the
         * runtime's own check, the last word. */
        s->id = "template";
        if (berth_spec_validate(s, &e) < 0) {
            if (w->pod)
                berth_yaml_error(y, at, "container %s: %s", berth_container_name(s), e->msg);
            else
                berth_yaml_error(y, at, "%s", e->msg);
        }
        s->id = saved;
    }
    berth_yaml_pop(y, mark);
}

/* ---- Secret and ConfigMap ---- */

/* An object's metadata (a PodDisruptionBudget's, a Secret's, a
 * ConfigMap's): name (into *name), namespace (*ns, as written), labels
 * (msg's "labels" map), annotations (checked). */
static void read_object_metadata(berth_yaml *y, const node *root, field *f, ProtobufCMessage *msg,
                                 char **name, char **ns, berth_yaml_pos *ret_name_pos)
{
    field mf[] = { FLD("name"), FLD("labels"), FLD("namespace"), FLD("annotations"), FEND };
    const node *metadata = berth_yaml_value(f, "metadata");
    const char *v;
    size_t mark;

    if (!metadata) {
        berth_yaml_required(y, root, "metadata");
    } else {
        mark = berth_yaml_push_field(y, "metadata");
        if (berth_yaml_fields(y, metadata, mf)) {
            if (berth_yaml_req_string(y, metadata, mf, "name", &v)) {
                if (!berth_workload_name_valid(v))
                    berth_yaml_field_error(y, mf, "name",
                                           "'%.70s' is not a valid name (1-%d of a-z 0-9 -, "
                                           "starting and ending with a letter or digit)",
                                           v, BERTH_WORKLOAD_NAME_MAX);
                else
                    *name = berth_xstrdup(v);
                *ret_name_pos = berth_yaml_pos_of(berth_yaml_value(mf, "name"));
            }
            if (berth_yaml_opt_string(y, mf, "namespace", &v) &&
                namespace_name_ok(y, mf, "namespace", v))
                *ns = berth_xstrdup(v);
            berth_yaml_opt_sub(y, mf, "labels", read_workload_labels, msg);
            berth_yaml_opt_sub(y, mf, "annotations", read_annotations, NULL);
        }
        berth_yaml_pop(y, mark);
    }
}

/* Kubernetes' bound on an object's values together. */
#define CONFIG_BYTES_MAX (1 << 20)

typedef struct object_ctx {
    ConfigObject *o;
    bool base64; /* data of a Secret, binaryData of a ConfigMap */
    bool binary; /* binaryData */
    size_t total;
} object_ctx;

/* Put key = value (len bytes) into o's data, replacing what it had. */
static void object_put(ConfigObject *o, const char *key, const uint8_t *value, size_t len)
{
    ConfigObject_DataEntry *e = NULL;

    for (size_t i = 0; i < o->n_data && !e; i++)
        if (strcmp(o->data[i]->key, key) == 0)
            e = o->data[i];
    if (!e) {
        e = berth_xcalloc(1, sizeof(*e));
        config_object_data_entry_init(e);
        e->key = berth_xstrdup(key);
        o->data = berth_xreallocarray(o->data, o->n_data + 1, sizeof(*o->data));
        o->data[o->n_data++] = e;
    } else {
        sodium_memzero(e->value.data, e->value.len);
        free(e->value.data);
    }
    e->value.data = berth_xmalloc(len ? len : 1);
    if (len)
        memcpy(e->value.data, value, len);
    e->value.len = len;
}

/* One entry of data, stringData or binaryData. Values are never quoted
 * back in an error: they may be secrets. */
static void read_object_entry(berth_yaml *y, const node *key, const char *name, const node *value,
                              void *data)
{
    object_ctx *c = data;
    const char *text;
    uint8_t *bin;
    size_t len = 0;

    (void)key;
    if (!berth_config_key_valid(name)) {
        berth_yaml_error(y, value, "'%.70s' is not a valid key (1-253 of a-z A-Z 0-9 . _ -)", name);
        return;
    }
    if (berth_yaml_type_of(value) == BERTH_YAML_NULL) {
        text = "";
    } else if (is_collection(value) || !(text = berth_yaml_text(value))) {
        berth_yaml_error(y, value, "expected a string value");
        return;
    }
    if (c->binary || c->o->kind == CONFIG_MAP)
        for (size_t i = 0; i < c->o->n_data; i++)
            if (strcmp(c->o->data[i]->key, name) == 0) {
                berth_yaml_error(y, value, "key '%.70s' is in both data and binaryData", name);
                return;
            }
    if (!c->base64) {
        object_put(c->o, name, (const uint8_t *)text, strlen(text));
    } else {
        bin = berth_xmalloc(strlen(text) + 1);
        if (sodium_base642bin(bin, strlen(text) + 1, text, strlen(text), "\r\n", &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            berth_yaml_error(y, value, "not base64 (the value is not shown)");
            sodium_memzero(bin, strlen(text) + 1);
            free(bin);
            return;
        }
        object_put(c->o, name, bin, len);
        sodium_memzero(bin, len);
        free(bin);
    }
    if (c->binary) {
        c->o->binary_keys =
            berth_xreallocarray(c->o->binary_keys, c->o->n_binary_keys + 1, sizeof(char *));
        c->o->binary_keys[c->o->n_binary_keys++] = berth_xstrdup(name);
    }
}

static void read_object_map(berth_yaml *y, const node *n, void *data)
{
    berth_yaml_each_entry(y, n, CONFIG_KEYS_MAX, "keys", read_object_entry, data);
}

/* A kind: Secret or ConfigMap document (v1): metadata name, namespace,
 * labels, annotations; data (a Secret's base64), stringData (a Secret's),
 * binaryData (a ConfigMap's), type (a Secret's), immutable. */
static ConfigObject *read_config_object(berth_yaml *y, const node *root, field *f, ConfigKind kind,
                                        const char *source, berth_yaml_pos *ret_name_pos)
{
    ConfigObject *o = berth_xcalloc(1, sizeof(*o));
    object_ctx c = { .o = o };
    const char *v;
    bool b;

    config_object_init(o);
    o->kind = kind;
    o->source = berth_xstrdup(source);
    read_object_metadata(y, root, f, &o->base, &o->name, &o->namespace_, ret_name_pos);
    if (kind == CONFIG_SECRET) {
        c.base64 = true;
        berth_yaml_opt_sub(y, f, "data", read_object_map, &c);
        /* stringData wins over data, as Kubernetes merges it */
        c.base64 = false;
        berth_yaml_opt_sub(y, f, "stringData", read_object_map, &c);
        o->type = berth_xstrdup("Opaque");
        if (berth_yaml_opt_string(y, f, "type", &v)) {
            if (!*v || strlen(v) > 253)
                berth_yaml_field_error(y, f, "type", "1-253 characters");
            else {
                free(o->type);
                o->type = berth_xstrdup(v);
            }
        }
    } else {
        berth_yaml_opt_sub(y, f, "data", read_object_map, &c);
        c.base64 = c.binary = true;
        berth_yaml_opt_sub(y, f, "binaryData", read_object_map, &c);
    }
    if (berth_yaml_opt_bool(y, f, "immutable", &b))
        o->immutable = b;
    /* the values as they are (stringData's in place of data's) */
    for (size_t i = 0; i < o->n_data; i++)
        c.total += o->data[i]->value.len;
    if (c.total > CONFIG_BYTES_MAX)
        berth_yaml_error(y, root, "%s: its values take %zu bytes, at most %d",
                         kind == CONFIG_SECRET ? "Secret" : "ConfigMap", c.total, CONFIG_BYTES_MAX);
    /* the keys a type requires (Kubernetes') */
    if (kind == CONFIG_SECRET && berth_yaml_value(f, "type")) {
        static const struct {
            const char *type, *keys[3];
        } needs[] = {
            { "kubernetes.io/dockerconfigjson", { ".dockerconfigjson", NULL } },
            { "kubernetes.io/dockercfg", { ".dockercfg", NULL } },
            { "kubernetes.io/tls", { "tls.crt", "tls.key", NULL } },
            { "kubernetes.io/basic-auth", { NULL } },
        };

        for (size_t t = 0; t < BERTH_ARRAY_SIZE(needs); t++) {
            if (strcmp(o->type, needs[t].type) != 0)
                continue;
            for (size_t k = 0; needs[t].keys[k]; k++) {
                bool found = false;

                for (size_t i = 0; i < o->n_data && !found; i++)
                    found = strcmp(o->data[i]->key, needs[t].keys[k]) == 0;
                if (!found)
                    berth_yaml_field_error(y, f, "type", "%s needs the key %s", o->type,
                                           needs[t].keys[k]);
            }
        }
    }
    return o;
}

/* ---- PodDisruptionBudget ---- */

static void add_match_label(void *target, const char *k, const char *v)
{
    add_map(target, "match_labels", k, v);
}

static void read_match_labels(berth_yaml *y, const node *n, void *data)
{
    read_string_map(y, n, data, add_match_label);
}

/* Kubernetes' LabelSelector: matchLabels and matchExpressions (In, NotIn,
 * Exists, DoesNotExist); {} selects everything. */
static void read_label_selector(berth_yaml *y, const node *n, void *data)
{
    LabelSelector **ret = data, *sel;
    field f[] = { FLD("matchLabels"), FLD("matchExpressions"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    sel = *ret = berth_xcalloc(1, sizeof(*sel));
    label_selector_init(sel);
    berth_yaml_opt_sub(y, f, "matchLabels", read_match_labels, sel);
    berth_yaml_opt_sub(y, f, "matchExpressions", read_requirements,
                       &(requirement_ctx){ .list = &sel->match_expressions,
                                           .n = &sel->n_match_expressions,
                                           .labels = true });
}

static void read_pdb_spec(berth_yaml *y, const node *n, void *data)
{
    static const char *const policies[] = { "IfHealthyBudget", "AlwaysAllow", NULL };
    PodDisruptionBudget *b = data;
    field f[] = { FLD("minAvailable"), FLD("maxUnavailable"), FLD("selector"),
                  FLD("unhealthyPodEvictionPolicy"), FEND };
    int policy = 0;

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_sub(y, f, "minAvailable", read_int_or_percent, &b->min_available);
    berth_yaml_opt_sub(y, f, "maxUnavailable", read_int_or_percent, &b->max_unavailable);
    if (berth_yaml_value(f, "minAvailable") && berth_yaml_value(f, "maxUnavailable"))
        berth_yaml_field_error(y, f, "maxUnavailable",
                               "minAvailable and maxUnavailable cannot be both set");
    berth_yaml_opt_sub(y, f, "selector", read_label_selector, &b->selector);
    berth_yaml_opt_enum(y, f, "unhealthyPodEvictionPolicy", policies, &policy);
    b->unhealthy_pod_eviction_policy = berth_xstrdup(policies[policy < 0 ? 0 : policy]);
}

/* A kind: PodDisruptionBudget document (policy/v1): metadata name,
 * namespace, labels, annotations; the spec. */
static PodDisruptionBudget *read_pdb(berth_yaml *y, const node *root, field *f, const char *source,
                                     berth_yaml_pos *ret_name_pos)
{
    PodDisruptionBudget *b = berth_xcalloc(1, sizeof(*b));

    pod_disruption_budget_init(b);
    b->source = berth_xstrdup(source);
    read_object_metadata(y, root, f, &b->base, &b->name, &b->namespace_, ret_name_pos);
    if (!berth_yaml_value(f, "spec"))
        berth_yaml_required(y, root, "spec");
    berth_yaml_opt_sub(y, f, "spec", read_pdb_spec, b);
    return b;
}

/* One document: a workload, or a namespace into *ret_ns, or a disruption
 * budget into *ret_pdb (NULL when it is not even one of a kind). */
static Workload *read_document(berth_yaml *y, const node *root, const char *source,
                               berth_yaml_pos *ret_name_pos, Namespace **ret_ns,
                               PodDisruptionBudget **ret_pdb, ConfigObject **ret_obj)
{
    static const char *const api_versions[] = { "berth/v1", "v1",        "apps/v1",
                                                "batch/v1", "policy/v1", NULL };
    /* Kubernetes' group of each kind (berth/v1 has them all) */
    static const int group_of[] = { [WORKLOAD_POD] = 1,
                                    [WORKLOAD_DEPLOYMENT] = 2,
                                    [WORKLOAD_DAEMONSET] = 2,
                                    [WORKLOAD_JOB] = 3,
                                    [WORKLOAD_CRONJOB] = 3 };
    field f[] = {
        FLD("apiVersion"), FLD("kind"),       FLD("metadata"), FLD("spec"),      FLD("data"),
        FLD("stringData"), FLD("binaryData"), FLD("type"),     FLD("immutable"), FEND
    };
    static const char *const object_fields[] = { "data", "stringData", "binaryData", "type",
                                                 "immutable" };
    WorkloadKind k = WORKLOAD_KIND_UNSPECIFIED;
    _cleanup_(pod_devices_clear) pod_devices devices = { .n = 0 };
    size_t errors_before = berth_yaml_error_count(y), mark;
    const node *metadata, *spec;
    const char *kind = NULL;
    Workload *w;
    int a = -1;

    if (!berth_yaml_fields(y, root, f))
        return NULL;
    if (!berth_yaml_value(f, "apiVersion"))
        berth_yaml_required(y, root, "apiVersion");
    berth_yaml_opt_enum(y, f, "apiVersion", api_versions, &a);
    berth_yaml_req_string(y, root, f, "kind", &kind);
    /* a Secret's and ConfigMap's fields are at the top, not in a spec */
    if (!kind || (strcmp(kind, "Secret") != 0 && strcmp(kind, "ConfigMap") != 0))
        for (size_t i = 0; i < BERTH_ARRAY_SIZE(object_fields); i++)
            if (berth_yaml_value(f, object_fields[i]))
                berth_yaml_field_error(y, f, object_fields[i], "unknown field");
    if (kind && strcmp(kind, "Namespace") == 0) {
        if (a == 1) {
            *ret_ns = read_namespace(y, root, f, source, ret_name_pos);
        } else if (a >= 0) {
            berth_yaml_field_error(y, f, "kind", "apiVersion %s has no kind Namespace (use v1)",
                                   api_versions[a]);
        }
        return NULL;
    }
    if (kind && (strcmp(kind, "Secret") == 0 || strcmp(kind, "ConfigMap") == 0)) {
        ConfigKind ck = kind[0] == 'S' ? CONFIG_SECRET : CONFIG_MAP;

        if (berth_yaml_value(f, "spec"))
            berth_yaml_field_error(y, f, "spec", "unknown field");
        if (ck == CONFIG_MAP && (berth_yaml_value(f, "stringData") || berth_yaml_value(f, "type")))
            berth_yaml_field_error(y, f, berth_yaml_value(f, "type") ? "type" : "stringData",
                                   "unknown field (a Secret's)");
        if (ck == CONFIG_SECRET && berth_yaml_value(f, "binaryData"))
            berth_yaml_field_error(y, f, "binaryData", "unknown field (a ConfigMap's)");
        if (a == 0 || a == 1)
            *ret_obj = read_config_object(y, root, f, ck, source, ret_name_pos);
        else if (a >= 0)
            berth_yaml_field_error(y, f, "kind", "apiVersion %s has no kind %s (use v1)",
                                   api_versions[a], kind);
        return NULL;
    }
    if (kind && strcmp(kind, "PodDisruptionBudget") == 0) {
        if (a == 0 || a == 4) {
            *ret_pdb = read_pdb(y, root, f, source, ret_name_pos);
        } else if (a >= 0) {
            berth_yaml_field_error(y, f, "kind",
                                   "apiVersion %s has no kind PodDisruptionBudget (use policy/v1)",
                                   api_versions[a]);
        }
        return NULL;
    }
    if (kind && (k = berth_workload_kind_parse(kind)) == WORKLOAD_KIND_UNSPECIFIED)
        berth_yaml_field_error(y, f, "kind",
                               "'%.60s' is not a kind berth runs (Pod, Deployment, DaemonSet, "
                               "Job, CronJob, Namespace, PodDisruptionBudget, Secret, ConfigMap)",
                               kind);
    else if (k && a > 0 && group_of[k] != a) {
        berth_yaml_field_error(y, f, "kind", "apiVersion %s has no kind %s (use %s or berth/v1)",
                               api_versions[a], kind, api_versions[group_of[k]]);
        k = WORKLOAD_KIND_UNSPECIFIED;
    }
    if (!k || a < 0)
        return NULL;
    w = berth_xcalloc(1, sizeof(*w));
    workload_init(w);
    w->kind = k;
    w->source = berth_xstrdup(source);
    if (!(metadata = berth_yaml_value(f, "metadata"))) {
        berth_yaml_required(y, root, "metadata");
    } else {
        mark = berth_yaml_push_field(y, "metadata");
        /* a Pod's metadata is its pod's; another kind's is its own */
        read_metadata(y, metadata, w, NULL, k == WORKLOAD_POD ? &devices : NULL, ret_name_pos);
        berth_yaml_pop(y, mark);
    }
    if (!(spec = berth_yaml_value(f, "spec"))) {
        berth_yaml_required(y, root, "spec");
    } else {
        mark = berth_yaml_push_field(y, "spec");
        if (k == WORKLOAD_POD) {
            w->replicas = 1;
            read_pod_spec(y, spec, w);
            pod_devices_apply(w, &devices);
        } else if (k == WORKLOAD_JOB) {
            read_job_spec(y, spec, w);
        } else if (k == WORKLOAD_CRONJOB) {
            read_cronjob_spec(y, spec, w);
        } else {
            read_controller_spec(y, spec, w, a != 0);
        }
        berth_yaml_pop(y, mark);
    }
    if (berth_yaml_error_count(y) == errors_before && w->template_)
        check_template(y, spec, w,
                       k == WORKLOAD_POD       ? "spec"
                       : k == WORKLOAD_CRONJOB ? "spec.jobTemplate.spec.template.spec"
                                               : "spec.template.spec");
    return w;
}

/* ---- the whole file ---- */

void berth_config_object_free(ConfigObject *o)
{
    if (!o)
        return;
    /* values wiped before they go: they may be secrets */
    for (size_t k = 0; k < o->n_data; k++)
        sodium_memzero(o->data[k]->value.data, o->data[k]->value.len);
    config_object_free_unpacked(o, NULL);
}

void berth_config_objects_free(ConfigObject **objects, size_t n)
{
    for (size_t i = 0; i < n; i++)
        berth_config_object_free(objects[i]);
    free(objects);
}

void berth_manifest_free(berth_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_workloads; i++)
        workload_free_unpacked(m->workloads[i], NULL);
    free(m->workloads);
    for (size_t i = 0; i < m->n_namespaces; i++)
        namespace_free_unpacked(m->namespaces[i], NULL);
    free(m->namespaces);
    for (size_t i = 0; i < m->n_budgets; i++)
        pod_disruption_budget_free_unpacked(m->budgets[i], NULL);
    free(m->budgets);
    berth_config_objects_free(m->objects, m->n_objects);
    free(m);
}

BERTH_DEFINE_CLEANUP(berth_manifest, berth_manifest_free)

int berth_manifest_parse(const char *text, size_t len, const char *source,
                         berth_manifest **ret_manifest, berth_error **err)
{
    const char *name = source && *source ? source : "-";
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_(berth_manifest_freep) berth_manifest *m = NULL;
    /* Where each workload's and namespace's name is, for "named by an
     * earlier document". */
    _cleanup_free_ berth_yaml_pos *name_pos = NULL, *ns_pos = NULL, *pdb_pos = NULL,
                                  *obj_pos = NULL;
    const node *root;

    if (berth_yaml_open(text, len, name, &manifest_limits, &y, err) < 0)
        return -1;
    m = berth_xcalloc(1, sizeof(*m));
    m->workloads = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*m->workloads));
    m->namespaces = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*m->namespaces));
    name_pos = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*name_pos));
    ns_pos = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*ns_pos));
    m->budgets = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*m->budgets));
    pdb_pos = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*pdb_pos));
    m->objects = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*m->objects));
    obj_pos = berth_xcalloc(BERTH_MANIFEST_DOCUMENTS_MAX, sizeof(*obj_pos));
    while (berth_yaml_next(y, &root) > 0) {
        PodDisruptionBudget *pdb = NULL;
        ConfigObject *obj = NULL;
        Namespace *ns = NULL;
        berth_yaml_pos pos = { 0 };
        Workload *w;

        /* At most one object a document, and the reader holds the
         * documents to BERTH_MANIFEST_DOCUMENTS_MAX. */
        if (m->n_workloads + m->n_namespaces + m->n_budgets + m->n_objects ==
            BERTH_MANIFEST_DOCUMENTS_MAX)
            abort();
        if (berth_yaml_is_null(root))
            continue;
        if ((w = read_document(y, root, name, &pos, &ns, &pdb, &obj))) {
            name_pos[m->n_workloads] = pos;
            m->workloads[m->n_workloads++] = w;
        } else if (ns) {
            ns_pos[m->n_namespaces] = pos;
            m->namespaces[m->n_namespaces++] = ns;
        } else if (pdb) {
            pdb_pos[m->n_budgets] = pos;
            m->budgets[m->n_budgets++] = pdb;
        } else if (obj) {
            obj_pos[m->n_objects] = pos;
            m->objects[m->n_objects++] = obj;
        }
    }

    /* One workload per name and namespace, one namespace per name, in a
     * file. An object without a valid name (its error is reported) has the
     * empty string: it names nothing. */
    for (size_t i = 0; i < m->n_workloads; i++)
        for (size_t j = 0; j < i && *m->workloads[i]->name; j++)
            if (strcmp(m->workloads[i]->name, m->workloads[j]->name) == 0 &&
                strcmp(m->workloads[i]->namespace_, m->workloads[j]->namespace_) == 0) {
                size_t mark = berth_yaml_push_field(y, "metadata.name");

                berth_yaml_error_pos(y, name_pos[i],
                                     "'%s' is named by an earlier document too (line %zu)",
                                     m->workloads[i]->name, name_pos[j].line);
                berth_yaml_pop(y, mark);
                break;
            }
    for (size_t i = 0; i < m->n_namespaces; i++)
        for (size_t j = 0; j < i && *m->namespaces[i]->name; j++)
            if (strcmp(m->namespaces[i]->name, m->namespaces[j]->name) == 0) {
                size_t mark = berth_yaml_push_field(y, "metadata.name");

                berth_yaml_error_pos(y, ns_pos[i],
                                     "namespace '%s' is named by an earlier document too "
                                     "(line %zu)",
                                     m->namespaces[i]->name, ns_pos[j].line);
                berth_yaml_pop(y, mark);
                break;
            }
    for (size_t i = 0; i < m->n_budgets; i++)
        for (size_t j = 0; j < i && *m->budgets[i]->name; j++)
            if (strcmp(m->budgets[i]->name, m->budgets[j]->name) == 0 &&
                strcmp(m->budgets[i]->namespace_, m->budgets[j]->namespace_) == 0) {
                size_t mark = berth_yaml_push_field(y, "metadata.name");

                berth_yaml_error_pos(y, pdb_pos[i],
                                     "PodDisruptionBudget '%s' is named by an earlier document "
                                     "too (line %zu)",
                                     m->budgets[i]->name, pdb_pos[j].line);
                berth_yaml_pop(y, mark);
                break;
            }
    for (size_t i = 0; i < m->n_objects; i++)
        for (size_t j = 0; j < i && *m->objects[i]->name; j++)
            if (m->objects[i]->kind == m->objects[j]->kind &&
                strcmp(m->objects[i]->name, m->objects[j]->name) == 0 &&
                strcmp(m->objects[i]->namespace_, m->objects[j]->namespace_) == 0) {
                size_t mark = berth_yaml_push_field(y, "metadata.name");

                berth_yaml_error_pos(y, obj_pos[i],
                                     "%s '%s' is named by an earlier document too (line %zu)",
                                     m->objects[i]->kind == CONFIG_SECRET ? "Secret" : "ConfigMap",
                                     m->objects[i]->name, obj_pos[j].line);
                berth_yaml_pop(y, mark);
                break;
            }
    if (berth_yaml_finish(y, err) < 0)
        return -1;
    *ret_manifest = TAKE_PTR(m);
    return 0;
}
