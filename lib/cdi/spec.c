/* One CDI spec file, JSON or YAML, read through lib/yaml and checked
 * against the rules of the cdiVersion it states (0.1.0 to 0.6.0; the
 * fields a version added are refused in a file of an older one, as
 * specs-go/version.go has them). Every error is collected with its
 * position; the file is taken only when there is none. */
#include "cdi-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "pb/pb.h"
#include "yaml/yaml.h"

/* The newest version berth reads: 0.CDI_MINOR_MAX.0. */
#define CDI_MINOR_MAX 6
/* Caps on lists inside a file (the file's size caps them too). */
#define CDI_LIST_MAX        1024
#define CDI_ANNOTATIONS_MAX 256

static const berth_yaml_limits cdi_limits = {
    .what = "a CDI spec file",
    .bytes = CDI_FILE_MAX,
    .documents = 1,
    .depth = 16,
    /* more than a file of CDI_FILE_MAX bytes can hold in practice */
    .events = (size_t)1 << 19,
};

static const char *const hook_names[] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL
};
static const char *const node_types[] = { "c", "b", "u", "p", NULL };

typedef struct spec_reader {
    berth_yaml *y;
    cdi_spec *spec;
    const char *version; /* as written */
    int minor;           /* 0.MINOR.0 */
    /* each device's name node, by index, for duplicates */
    const berth_yaml_node **name_nodes;
} spec_reader;

/* What one containerEdits is read into. */
typedef struct edits_reader {
    spec_reader *r;
    DeviceEdits *e;
} edits_reader;

void cdi_spec_free(cdi_spec *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_devices; i++) {
        free(s->devices[i].name);
        BERTH_PB_FREE(s->devices[i].edits);
    }
    free(s->devices);
    BERTH_PB_FREE(s->edits);
    free(s->kind);
    free(s->path);
    free(s);
}

/* ---- versions ---- */

/* A decimal number without leading zeros; *s moves past it. */
static bool version_part(const char **s, unsigned long *ret)
{
    const char *p = *s;
    unsigned long v = 0;

    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 99999999)
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *ret = v;
    *s = p;
    return true;
}

/* The minor number of a version berth reads (0.1.0 .. 0.6.0, with an
 * optional "v" as specs-go takes it); 0 for a valid semantic version
 * newer than 0.6.0; -1 for anything else. */
static int version_minor(const char *v)
{
    unsigned long major, minor, patch;
    const char *p = v[0] == 'v' ? v + 1 : v;

    if (!version_part(&p, &major) || *p++ != '.' || !version_part(&p, &minor) || *p++ != '.' ||
        !version_part(&p, &patch) || (*p && *p != '-' && *p != '+'))
        return -1;
    if (major > 0 || minor > CDI_MINOR_MAX || (minor == CDI_MINOR_MAX && patch > 0))
        return 0;
    if (major == 0 && minor >= 1 && patch == 0 && !*p)
        return (int)minor;
    return -1;
}

/* Whether a field of the given map is used: present, not null, and not
 * an empty string, list or mapping (specs-go's rule for what needs a
 * newer version). */
static bool field_used(berth_yaml_field *f, const char *name)
{
    const berth_yaml_node *v = berth_yaml_value(f, name);
    berth_yaml_type t;

    if (!v)
        return false;
    t = berth_yaml_type_of(v);
    if (t == BERTH_YAML_LIST || t == BERTH_YAML_MAPPING)
        return berth_yaml_len(v) > 0;
    return berth_yaml_text(v)[0] != '\0';
}

/* A field added in 0.MINOR.0: refused in an older file. */
static bool needs_version(spec_reader *r, berth_yaml_field *f, const char *name, int minor)
{
    if (r->minor >= minor || !field_used(f, name))
        return true;
    berth_yaml_field_error(r->y, f, name, "needs cdiVersion 0.%d.0 or later (the spec says %s)",
                           minor, r->version);
    return false;
}

/* ---- values ---- */

static bool absolute_path(berth_yaml *y, berth_yaml_field *f, const char *name, const char *path)
{
    if (path[0] == '/')
        return true;
    berth_yaml_field_error(y, f, name, "'%s' is not an absolute path", path);
    return false;
}

static char *dup_or_empty(const char *s)
{
    return s && *s ? berth_xstrdup(s) : (char *)protobuf_c_empty_string;
}

/* "NAME=value" with a non-empty NAME. */
static bool env_valid(berth_yaml *y, const berth_yaml_node *n, const char **ret)
{
    const char *s;

    if (!berth_yaml_get_string(y, n, &s))
        return false;
    if (s[0] == '=' || !strchr(s, '=')) {
        berth_yaml_error(y, n, "'%s' is not NAME=value", s);
        return false;
    }
    *ret = s;
    return true;
}

typedef struct strv_reader {
    char ***items;
    size_t *n;
    bool env; /* items are NAME=value */
} strv_reader;

static void strv_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    strv_reader *sr = data;
    const char *s;

    (void)i;
    if (sr->env ? env_valid(y, item, &s) : berth_yaml_get_string(y, item, &s))
        CDI_APPEND(*sr->items, *sr->n, berth_xstrdup(s));
}

/* An optional list of strings into items. */
static void opt_strv(berth_yaml *y, berth_yaml_field *f, const char *name, bool env, char ***items,
                     size_t *n)
{
    const berth_yaml_node *v = berth_yaml_value(f, name);
    strv_reader sr = { items, n, env };
    size_t mark;

    if (!v)
        return;
    mark = berth_yaml_push_field(y, name);
    berth_yaml_each_item(y, v, CDI_LIST_MAX,
                         env ? "a list of NAME=value strings" : "a list of strings", strv_item,
                         &sr);
    berth_yaml_pop(y, mark);
}

/* fileMode: permission bits; YAML 1.1 reads a plain 0666 as octal (and
 * JSON has no leading zeros), so a leading 0 means octal here too. */
static bool opt_file_mode(berth_yaml *y, berth_yaml_field *f, uint32_t *ret)
{
    const berth_yaml_node *v = berth_yaml_value(f, "fileMode");
    const char *s;
    char *end;
    long long m;

    if (!v)
        return false;
    s = berth_yaml_text(v);
    if (berth_yaml_type_of(v) != BERTH_YAML_INT || s[0] == '-' || s[0] == '+') {
        size_t mark = berth_yaml_push_field(y, "fileMode");

        berth_yaml_expected(y, v, "permission bits (0644, or 420 in JSON)");
        berth_yaml_pop(y, mark);
        return false;
    }
    errno = 0;
    m = strtoll(s, &end, s[0] == '0' ? 8 : 10);
    if (errno || *end || m < 0 || m > 07777) {
        berth_yaml_field_error(y, f, "fileMode", "%s is not permission bits (0 to 07777, octal)",
                               s);
        return false;
    }
    *ret = (uint32_t)m;
    return true;
}

/* ---- containerEdits ---- */

static void node_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    edits_reader *er = data;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("path"),        BERTH_YAML_FIELD("hostPath"),
        BERTH_YAML_FIELD("type"),        BERTH_YAML_FIELD("major"),
        BERTH_YAML_FIELD("minor"),       BERTH_YAML_FIELD("fileMode"),
        BERTH_YAML_FIELD("permissions"), BERTH_YAML_FIELD("uid"),
        BERTH_YAML_FIELD("gid"),         BERTH_YAML_END,
    };
    DeviceNode *n = berth_xmalloc(sizeof(*n));
    const char *path = NULL, *host = NULL, *perms = NULL;
    int type = -1;
    bool ok;

    (void)i;
    device_node_init(n);
    n->uid = n->gid = -1;
    CDI_APPEND(er->e->nodes, er->e->n_nodes, n);
    if (!berth_yaml_fields(y, item, f))
        return;
    ok = berth_yaml_req_string(y, item, f, "path", &path) && absolute_path(y, f, "path", path);
    if (ok)
        n->path = berth_xstrdup(path);
    if (needs_version(er->r, f, "hostPath", 5) && berth_yaml_opt_string(y, f, "hostPath", &host) &&
        *host && absolute_path(y, f, "hostPath", host))
        n->host_path = berth_xstrdup(host);
    if (berth_yaml_opt_enum(y, f, "type", node_types, &type))
        n->type = berth_xstrdup(type == 2 ? "c" : node_types[type]); /* u is c */
    berth_yaml_opt_int(y, f, "major", 0, 4095, &n->major);
    berth_yaml_opt_int(y, f, "minor", 0, 1048575, &n->minor);
    opt_file_mode(y, f, &n->file_mode);
    if (berth_yaml_opt_string(y, f, "permissions", &perms)) {
        if (!cdi_permissions_valid(perms))
            berth_yaml_field_error(y, f, "permissions", "'%s' is not a subset of rwm", perms);
        else
            n->permissions = berth_xstrdup(perms);
    }
    berth_yaml_opt_int(y, f, "uid", 0, UINT32_MAX, &n->uid);
    berth_yaml_opt_int(y, f, "gid", 0, UINT32_MAX, &n->gid);
}

static void mount_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    edits_reader *er = data;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("hostPath"),
        BERTH_YAML_FIELD("containerPath"),
        BERTH_YAML_FIELD("type"),
        BERTH_YAML_FIELD("options"),
        BERTH_YAML_END,
    };
    DeviceMount *m = berth_xmalloc(sizeof(*m));
    const char *host = NULL, *dest = NULL, *type = NULL;

    (void)i;
    device_mount_init(m);
    CDI_APPEND(er->e->mounts, er->e->n_mounts, m);
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "hostPath", &host) &&
        absolute_path(y, f, "hostPath", host))
        m->host_path = berth_xstrdup(host);
    if (berth_yaml_req_string(y, item, f, "containerPath", &dest) &&
        absolute_path(y, f, "containerPath", dest))
        m->container_path = berth_xstrdup(dest);
    if (needs_version(er->r, f, "type", 4) && berth_yaml_opt_string(y, f, "type", &type))
        m->type = dup_or_empty(type);
    opt_strv(y, f, "options", false, &m->options, &m->n_options);
}

static void hook_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    edits_reader *er = data;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("hookName"), BERTH_YAML_FIELD("path"),    BERTH_YAML_FIELD("args"),
        BERTH_YAML_FIELD("env"),      BERTH_YAML_FIELD("timeout"), BERTH_YAML_END,
    };
    DeviceHook *h = berth_xmalloc(sizeof(*h));
    const char *path = NULL;
    int name = -1;

    (void)i;
    device_hook_init(h);
    CDI_APPEND(er->e->hooks, er->e->n_hooks, h);
    if (!berth_yaml_fields(y, item, f))
        return;
    if (!berth_yaml_value(f, "hookName"))
        berth_yaml_required(y, item, "hookName");
    else if (berth_yaml_opt_enum(y, f, "hookName", hook_names, &name))
        h->hook_name = berth_xstrdup(hook_names[name]);
    if (berth_yaml_req_string(y, item, f, "path", &path) && absolute_path(y, f, "path", path))
        h->path = berth_xstrdup(path);
    opt_strv(y, f, "args", false, &h->args, &h->n_args);
    opt_strv(y, f, "env", true, &h->env, &h->n_env);
    /* the spec: "If set, timeout MUST be greater than zero" */
    berth_yaml_opt_int(y, f, "timeout", 1, INT32_MAX, &h->timeout_s);
}

/* containerEdits into er->e. */
static void read_edits(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    edits_reader *er = data;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("env"),
        BERTH_YAML_FIELD("deviceNodes"),
        BERTH_YAML_FIELD("mounts"),
        BERTH_YAML_FIELD("hooks"),
        BERTH_YAML_END,
    };
    static const struct {
        const char *name, *want;
        berth_yaml_item_fn fn;
    } lists[] = {
        { "deviceNodes", "a list of device nodes", node_item },
        { "mounts", "a list of mounts", mount_item },
        { "hooks", "a list of hooks", hook_item },
    };

    if (!berth_yaml_fields(y, n, f))
        return;
    opt_strv(y, f, "env", true, &er->e->env, &er->e->n_env);
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(lists); i++) {
        const berth_yaml_node *v = berth_yaml_value(f, lists[i].name);
        size_t mark;

        if (!v)
            continue;
        mark = berth_yaml_push_field(y, lists[i].name);
        berth_yaml_each_item(y, v, CDI_LIST_MAX, lists[i].want, lists[i].fn, er);
        berth_yaml_pop(y, mark);
    }
}

static bool edits_empty(const DeviceEdits *e)
{
    return e->n_env == 0 && e->n_nodes == 0 && e->n_mounts == 0 && e->n_hooks == 0;
}

/* ---- the spec ---- */

static void annotation_entry(berth_yaml *y, const berth_yaml_node *key, const char *name,
                             const berth_yaml_node *value, const char *text, void *data)
{
    (void)y, (void)key, (void)name, (void)value, (void)text, (void)data;
}

/* annotations (0.6.0): strings to strings, only checked. */
static void read_annotations(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_yaml_get_string_map(y, n, CDI_ANNOTATIONS_MAX, "annotations", annotation_entry, data);
}

static void device_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    spec_reader *r = data;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("name"),
        BERTH_YAML_FIELD("annotations"),
        BERTH_YAML_FIELD("containerEdits"),
        BERTH_YAML_END,
    };
    cdi_device *d = &r->spec->devices[i];
    edits_reader er = { r, NULL };
    const char *name = NULL;

    d->spec = r->spec;
    d->edits = er.e = cdi_edits_new();
    if (!berth_yaml_fields(y, item, f))
        return;
    if (berth_yaml_req_string(y, item, f, "name", &name)) {
        /* the NAME rules of a fully qualified name, under any valid kind */
        _cleanup_free_ char *probe = berth_xasprintf("v/c=%s", name);

        if (!berth_cdi_name_parse(probe, NULL, 0))
            berth_yaml_field_error(y, f, "name",
                                   "'%s' is not a valid device name (letters, digits and _ . : - "
                                   "between a letter or digit at each end, at most 255)",
                                   name);
        else if (name[0] >= '0' && name[0] <= '9' && r->minor < 5)
            berth_yaml_field_error(y, f, "name",
                                   "a name that starts with a digit needs cdiVersion 0.5.0 or "
                                   "later (the spec says %s)",
                                   r->version);
        else
            r->name_nodes[i] = berth_yaml_value(f, "name");
        d->name = berth_xasprintf("%s=%s", r->spec->kind, name);
    }
    if (needs_version(r, f, "annotations", 6))
        berth_yaml_opt_sub(y, f, "annotations", read_annotations, NULL);
    if (!berth_yaml_value(f, "containerEdits"))
        berth_yaml_required(y, item, "containerEdits");
    else if (berth_yaml_opt_sub(y, f, "containerEdits", read_edits, &er) && edits_empty(er.e) &&
             berth_yaml_type_of(berth_yaml_value(f, "containerEdits")) == BERTH_YAML_MAPPING)
        berth_yaml_field_error(y, f, "containerEdits",
                               "a device needs at least one edit (env, deviceNodes, mounts or "
                               "hooks)");
}

typedef struct name_ref {
    const berth_yaml_node *node;
    size_t i; /* the device's index */
} name_ref;

static int name_ref_cmp(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int c = strcmp(berth_yaml_text(x->node), berth_yaml_text(y->node));

    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* A device name given twice: an error at each later one. */
static void check_duplicates(spec_reader *r)
{
    size_t n = r->spec->n_devices, k = 0;
    _cleanup_free_ name_ref *refs = berth_xcalloc(n + 1, sizeof(*refs));

    for (size_t i = 0; i < n; i++)
        if (r->name_nodes[i])
            refs[k++] = (name_ref){ r->name_nodes[i], i };
    qsort(refs, k, sizeof(*refs), name_ref_cmp);
    for (size_t i = 1, first = 0; i < k; i++) {
        size_t mark;

        if (strcmp(berth_yaml_text(refs[i].node), berth_yaml_text(refs[first].node)) != 0) {
            first = i;
            continue;
        }
        mark = berth_yaml_push(r->y, "devices[%zu].name", refs[i].i);
        berth_yaml_error(r->y, refs[i].node, "device %s is defined twice (first at line %zu)",
                         berth_yaml_text(refs[i].node), berth_yaml_pos_of(refs[first].node).line);
        berth_yaml_pop(r->y, mark);
    }
}

static void read_devices(spec_reader *r, const berth_yaml_node *map, berth_yaml_field *f)
{
    berth_yaml *y = r->y;
    const berth_yaml_node *v = berth_yaml_value(f, "devices");
    size_t mark, n;

    if (!v) {
        berth_yaml_required(y, map, "devices");
        return;
    }
    n = berth_yaml_len(v);
    mark = berth_yaml_push_field(y, "devices");
    if (berth_yaml_type_of(v) == BERTH_YAML_LIST && n == 0) {
        berth_yaml_error(y, v, "a spec needs at least one device");
    } else if (berth_yaml_type_of(v) == BERTH_YAML_LIST && n <= CDI_DEVICES_MAX) {
        r->spec->devices = berth_xcalloc(n, sizeof(*r->spec->devices));
        r->spec->n_devices = n;
        r->name_nodes = berth_xcalloc(n, sizeof(*r->name_nodes));
    }
    /* checks the type and the cap (nothing read past it) */
    berth_yaml_each_item(y, v, CDI_DEVICES_MAX, "a list of devices", device_item, r);
    berth_yaml_pop(y, mark);
    if (r->spec->n_devices)
        check_duplicates(r);
}

static void read_spec(spec_reader *r, const berth_yaml_node *root)
{
    berth_yaml *y = r->y;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("cdiVersion"),     BERTH_YAML_FIELD("kind"),
        BERTH_YAML_FIELD("annotations"),    BERTH_YAML_FIELD("devices"),
        BERTH_YAML_FIELD("containerEdits"), BERTH_YAML_END,
    };
    edits_reader er = { r, r->spec->edits };
    const char *kind = NULL;

    if (!berth_yaml_fields(y, root, f) ||
        !berth_yaml_req_string(y, root, f, "cdiVersion", &r->version))
        return;
    r->minor = version_minor(r->version);
    if (r->minor == 0) {
        berth_yaml_field_error(y, f, "cdiVersion",
                               "unknown CDI version %s (berth reads up to 0.%d.0)", r->version,
                               CDI_MINOR_MAX);
        return; /* its fields are not ours to judge */
    }
    if (r->minor < 0) {
        berth_yaml_field_error(y, f, "cdiVersion",
                               "'%s' is not a CDI version (berth reads 0.1.0 to 0.%d.0)",
                               r->version, CDI_MINOR_MAX);
        return;
    }
    if (berth_yaml_req_string(y, root, f, "kind", &kind) && !berth_cdi_kind_valid(kind))
        berth_yaml_field_error(y, f, "kind",
                               "'%s' is not a valid kind (vendor.com/class: letters, digits and "
                               "_ . - in the vendor and the class, a letter or digit at each "
                               "end)",
                               kind);
    r->spec->kind = berth_xstrdup(kind ? kind : "");
    if (needs_version(r, f, "annotations", 6))
        berth_yaml_opt_sub(y, f, "annotations", read_annotations, NULL);
    berth_yaml_opt_sub(y, f, "containerEdits", read_edits, &er);
    read_devices(r, root, f);
}

/* The reader's error lines as one: "PATH:L:C: a; L:C: b". */
static int problem_line(const char *path, berth_error **err)
{
    _cleanup_free_ char *msg = berth_error_steal_msg(err);
    size_t plen = strlen(path);
    char *out = berth_xcalloc(1, strlen(msg) * 2 + 1), *o = out;
    int r;

    for (const char *line = msg; line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);

        if (line != msg) {
            memcpy(o, "; ", 2);
            o += 2;
            /* the path once, at the front */
            if (len > plen + 2 && strncmp(line, path, plen) == 0 && line[plen] == ':') {
                line += plen + 1 + (line[plen + 1] == ' ');
                len = nl ? (size_t)(nl - line) : strlen(line);
            }
        }
        memcpy(o, line, len);
        o += len;
        line = nl ? nl + 1 : NULL;
    }
    *o = '\0';
    r = berth_error_set(err, EINVAL, "%s", out);
    free(out);
    return r;
}

int cdi_spec_read(const char *path, cdi_spec **ret_spec, berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_(cdi_spec_freep) cdi_spec *s = NULL;
    _cleanup_free_ const berth_yaml_node **name_nodes = NULL;
    const berth_yaml_node *root = NULL;
    spec_reader r = { 0 };

    if (berth_yaml_open_file(path, &cdi_limits, &y, err) < 0) {
        int code = (*err)->code;

        /* the reader's own errors name the path; open and read do not */
        if (code == EINVAL || (code == EFBIG && strncmp((*err)->msg, "read ", 5) != 0))
            return problem_line(path, err);
        berth_error_free(err);
        if (code == EFBIG)
            return berth_error_set(err, code,
                                   "%s: larger than %zu bytes, the most a CDI spec file may have",
                                   path, CDI_FILE_MAX);
        return berth_error_set(err, code, "%s: %s", path, strerror(code));
    }
    s = berth_xcalloc(1, sizeof(*s));
    s->path = berth_xstrdup(path);
    s->edits = cdi_edits_new();
    r = (spec_reader){ .y = y, .spec = s };
    if (berth_yaml_next(y, &root) > 0)
        read_spec(&r, root);
    name_nodes = r.name_nodes;
    if (berth_yaml_finish(y, err) < 0)
        return problem_line(path, err);
    if (!root)
        return berth_error_set(err, EINVAL,
                               "%s: empty (a CDI spec has cdiVersion, kind and devices)", path);
    *ret_spec = TAKE_PTR(s);
    return 0;
}
