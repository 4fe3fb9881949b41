/* The CDI registry: the spec files of a list of directories, which of
 * their devices count (a later directory overrides an earlier one; in one
 * directory the first file to define a device keeps it), and resolving
 * device names into DeviceEdits. */
#include "cdi-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "base/xalloc.h"
#include "pb/pb.h"

/* berth_cdi_default_dirs: name.c (agent.yaml names them without the reader) */

typedef struct cdi_kind {
    const char *kind;   /* a spec's */
    const char **names; /* its devices' qualified names, sorted */
    size_t n_names;
} cdi_kind;

struct berth_cdi {
    cdi_spec **specs; /* the files taken, in load order */
    size_t n_specs;
    char **problems;
    size_t n_problems;
    cdi_device **devices; /* the devices that count, by name */
    size_t n_devices;
    cdi_kind *kinds; /* by kind */
    const char **kind_names;
    size_t n_kinds;
};

void berth_cdi_free(berth_cdi *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_specs; i++)
        cdi_spec_free(c->specs[i]);
    free(c->specs);
    for (size_t i = 0; i < c->n_problems; i++)
        free(c->problems[i]);
    free(c->problems);
    free(c->devices);
    for (size_t i = 0; i < c->n_kinds; i++)
        free(c->kinds[i].names);
    free(c->kinds);
    free(c->kind_names);
    free(c);
}

static void problem(berth_cdi *c, char *line)
{
    CDI_APPEND(c->problems, c->n_problems, line);
}

/* ---- device tables: arrays of cdi_device * sorted by name ---- */

static int device_cmp(const void *a, const void *b)
{
    const cdi_device *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

static cdi_device *device_find(cdi_device **v, size_t n, const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, v[mid]->name);

        if (c == 0)
            return v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Merge sorted b into sorted a (a new array); of two of the same name
 * b's counts. */
static void devices_merge(cdi_device ***a, size_t *na, cdi_device **b, size_t nb)
{
    cdi_device **out = berth_xcalloc(*na + nb + 1, sizeof(*out));
    size_t i = 0, j = 0, n = 0;

    while (i < *na || j < nb) {
        int c = i == *na ? 1 : j == nb ? -1 : strcmp((*a)[i]->name, b[j]->name);

        if (c < 0)
            out[n++] = (*a)[i++];
        else if (c > 0)
            out[n++] = b[j++];
        else
            out[n++] = b[j++], i++;
    }
    free(*a);
    *a = out;
    *na = n;
}

/* ---- loading ---- */

static bool spec_file_name(const char *name)
{
    size_t len = strlen(name);

    return len >= 5 &&
           (strcmp(name + len - 5, ".json") == 0 || strcmp(name + len - 5, ".yaml") == 0);
}

/* The spec file names of dir, the first room of them by name; the rest
 * are a problem. *ret_names NULL: dir does not exist. */
static int dir_list(berth_cdi *c, const char *dir, size_t room, char ***ret_names, size_t *ret_n,
                    berth_error **err)
{
    _cleanup_closedir_ DIR *d = NULL;
    _cleanup_free_ char *first_left = NULL;
    char **names = berth_xcalloc(room + 1, sizeof(*names));
    size_t n = 0, left = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *de;

    if (fd < 0) {
        free(names);
        if (errno == ENOENT) {
            *ret_names = NULL;
            *ret_n = 0;
            return 0;
        }
        return berth_error_errno(err, "open CDI spec directory %s", dir);
    }
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        free(names);
        return berth_error_errno(err, "open CDI spec directory %s", dir);
    }
    /* keep the first `room` names in order; of the rest only the count
     * and the first (nothing past the cap is kept) */
    while ((errno = 0, de = readdir(d))) {
        char *name, *drop = NULL;
        size_t at;

        if (!spec_file_name(de->d_name))
            continue;
        name = berth_xstrdup(de->d_name);
        for (at = n; at > 0 && strcmp(names[at - 1], name) > 0; at--)
            ;
        if (at < room) {
            if (n == room)
                drop = names[--n];
            memmove(names + at + 1, names + at, (n - at) * sizeof(*names));
            names[at] = name;
            n++;
        } else {
            drop = name;
        }
        if (drop) {
            left++;
            if (!first_left || strcmp(drop, first_left) < 0) {
                free(first_left);
                first_left = drop;
            } else {
                free(drop);
            }
        }
    }
    if (errno) {
        int e = errno;

        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        errno = e;
        return berth_error_errno(err, "read CDI spec directory %s", dir);
    }
    if (left == 1)
        problem(c, berth_xasprintf("%s/%s: not read (berth reads at most %d CDI spec files)", dir,
                                   first_left, CDI_FILES_MAX));
    else if (left)
        problem(c, berth_xasprintf("%s/%s: not read, nor the %zu file%s after it (berth reads at "
                                   "most %d CDI spec files)",
                                   dir, first_left, left - 1, left == 2 ? "" : "s", CDI_FILES_MAX));
    *ret_names = names;
    *ret_n = n;
    return 0;
}

/* One spec file of a directory: taken, or a problem. dir_devices holds
 * the devices of the directory's files taken so far. */
static void load_file(berth_cdi *c, const char *path, cdi_device ***dir_devices, size_t *n_dir)
{
    _cleanup_(cdi_spec_freep) cdi_spec *s = NULL;
    _cleanup_free_ cdi_device **mine = NULL;
    _cleanup_error_ berth_error *err = NULL;
    struct stat st;

    /* (a stat that fails is for the read to report) */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a directory is no spec file; a FIFO would block the read */
        if (!S_ISDIR(st.st_mode))
            problem(c, berth_xasprintf("%s: not a regular file", path));
        return;
    }
    if (cdi_spec_read(path, &s, &err) < 0) {
        problem(c, berth_error_steal_msg(&err));
        return;
    }
    for (size_t i = 0; i < s->n_devices; i++) {
        cdi_device *other = device_find(*dir_devices, *n_dir, s->devices[i].name);

        if (other) {
            problem(c, berth_xasprintf("%s: device %s is already defined by %s", path,
                                       s->devices[i].name, other->spec->path));
            return;
        }
    }
    mine = berth_xcalloc(s->n_devices, sizeof(*mine));
    for (size_t i = 0; i < s->n_devices; i++)
        mine[i] = &s->devices[i];
    qsort(mine, s->n_devices, sizeof(*mine), device_cmp);
    devices_merge(dir_devices, n_dir, mine, s->n_devices);
    CDI_APPEND(c->specs, c->n_specs, TAKE_PTR(s));
}

static int kind_cmp(const void *a, const void *b)
{
    return strcmp(((const cdi_kind *)a)->kind, ((const cdi_kind *)b)->kind);
}

/* The kinds of the devices that count, each with its devices' names. */
static void index_kinds(berth_cdi *c)
{
    c->kinds = berth_xcalloc(c->n_devices + 1, sizeof(*c->kinds));
    for (size_t i = 0; i < c->n_devices; i++) {
        const char *kind = c->devices[i]->spec->kind;
        size_t k = 0;

        while (k < c->n_kinds && strcmp(c->kinds[k].kind, kind) != 0)
            k++;
        if (k == c->n_kinds)
            c->kinds[c->n_kinds++].kind = kind;
    }
    qsort(c->kinds, c->n_kinds, sizeof(*c->kinds), kind_cmp);
    c->kind_names = berth_xcalloc(c->n_kinds + 1, sizeof(*c->kind_names));
    for (size_t k = 0; k < c->n_kinds; k++)
        c->kind_names[k] = c->kinds[k].kind;
    /* c->devices is by name, so each kind's names come in order */
    for (size_t i = 0; i < c->n_devices; i++) {
        cdi_kind key = { .kind = c->devices[i]->spec->kind };
        cdi_kind *k = bsearch(&key, c->kinds, c->n_kinds, sizeof(*c->kinds), kind_cmp);

        CDI_APPEND(k->names, k->n_names, c->devices[i]->name);
    }
}

int berth_cdi_load(const char *const *dirs, size_t n, berth_cdi **ret_cdi, berth_error **err)
{
    _cleanup_(berth_cdi_freep) berth_cdi *c = berth_xcalloc(1, sizeof(*c));
    size_t files = 0;

    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ cdi_device **dir_devices = NULL;
        size_t n_dir = 0, n_names = 0;
        char **names = NULL;

        if (dir_list(c, dirs[i], CDI_FILES_MAX - files, &names, &n_names, err) < 0)
            return -1;
        files += n_names;
        for (size_t j = 0; j < n_names; j++) {
            _cleanup_free_ char *path = berth_xasprintf("%s/%s", dirs[i], names[j]);

            load_file(c, path, &dir_devices, &n_dir);
            free(names[j]);
        }
        free(names);
        /* this directory's devices override the earlier ones' */
        devices_merge(&c->devices, &c->n_devices, dir_devices, n_dir);
    }
    index_kinds(c);
    *ret_cdi = TAKE_PTR(c);
    return 0;
}

size_t berth_cdi_problems(const berth_cdi *c, const char *const **ret_lines)
{
    *ret_lines = (const char *const *)c->problems;
    return c->n_problems;
}

size_t berth_cdi_kinds(const berth_cdi *c, const char *const **ret_kinds)
{
    *ret_kinds = c->kind_names;
    return c->n_kinds;
}

static const cdi_kind *kind_find(const berth_cdi *c, const char *kind)
{
    cdi_kind key = { .kind = kind };

    return bsearch(&key, c->kinds, c->n_kinds, sizeof(*c->kinds), kind_cmp);
}

size_t berth_cdi_devices(const berth_cdi *c, const char *kind, const char *const **ret_names)
{
    const cdi_kind *k = kind ? kind_find(c, kind) : NULL;

    *ret_names = k ? k->names : NULL;
    return k ? k->n_names : 0;
}

const char *berth_cdi_device_file(const berth_cdi *c, const char *name)
{
    const cdi_device *d = name ? device_find(c->devices, c->n_devices, name) : NULL;

    return d ? d->spec->path : NULL;
}

/* ---- resolving ---- */

/* Complete a node from its host node, as specs-go's fillMissingInfo: a
 * node that gives its type and major (a FIFO: its type) is taken as it
 * is; any other takes what it lacks from stat(2), and a type it gives
 * must be the host node's. */
static int node_fill(DeviceNode *n, berth_error **err)
{
    bool complete = *n->type && (n->major != 0 || strcmp(n->type, "p") == 0);
    struct stat st;
    char type[2] = { 0 };

    if (!*n->host_path)
        n->host_path = berth_xstrdup(n->path);
    if (!*n->permissions)
        n->permissions = berth_xstrdup("rwm");
    if (complete)
        return 0;
    if (cdi_stat_node(n->host_path, true, &st, &type[0], err) < 0)
        return -1;
    if (!*n->type)
        n->type = berth_xstrdup(type);
    else if (strcmp(n->type, type) != 0)
        return berth_error_set(err, EINVAL, "%s is of type %s, the spec says %s", n->host_path,
                               type, n->type);
    if (type[0] != 'p' && n->major == 0) {
        n->major = major(st.st_rdev);
        n->minor = minor(st.st_rdev);
    }
    return 0;
}

/* A copy of e with its nodes completed, merged into into. */
static int edits_add(DeviceEdits *into, const DeviceEdits *e, const char *device, berth_error **err)
{
    DeviceEdits *copy = BERTH_PB_COPY(DeviceEdits, e);
    int r = 0;

    for (size_t i = 0; i < copy->n_nodes && r == 0; i++)
        if (node_fill(copy->nodes[i], err) < 0)
            r = berth_error_prefix(err, "unresolvable CDI device %s", device);
    if (r == 0)
        cdi_edits_merge(into, copy);
    BERTH_PB_FREE(copy);
    return r;
}

/* The device a name names, or for VENDOR/CLASS=all (unless a spec names
 * a device "all") every device of the kind: appended to list. */
static int name_devices(const berth_cdi *c, const char *name, const cdi_device ***list, size_t *n,
                        berth_error **err)
{
    char kind[256];
    const cdi_device *d;
    const cdi_kind *k;
    const char *eq;

    if (!berth_cdi_name_parse(name, kind, sizeof(kind)))
        return berth_error_set(err, EINVAL, "'%s' is not a CDI device name (vendor.com/class=name)",
                               name);
    d = device_find(c->devices, c->n_devices, name);
    if (d) {
        CDI_APPEND(*list, *n, d);
        return 0;
    }
    k = kind_find(c, kind);
    if (!k)
        return berth_error_set(
            err, ENOENT, "unresolvable CDI device %s (no CDI spec defines kind %s)", name, kind);
    eq = strchr(name, '=');
    if (strcmp(eq + 1, "all") != 0)
        return berth_error_set(err, ENOENT, "unresolvable CDI device %s", name);
    for (size_t i = 0; i < k->n_names; i++)
        CDI_APPEND(*list, *n, device_find(c->devices, c->n_devices, k->names[i]));
    return 0;
}

static bool out_has(const DeviceEdits *out, const char *name)
{
    for (size_t i = 0; i < out->n_cdi_devices; i++)
        if (strcmp(out->cdi_devices[i], name) == 0)
            return true;
    return false;
}

static bool ptr_in(const void *const *v, size_t n, const void *p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == p)
            return true;
    return false;
}

int berth_cdi_resolve(const berth_cdi *c, char *const *names, size_t n, DeviceEdits *out,
                      berth_error **err)
{
    _cleanup_(berth_cdi_edits_clear) DeviceEdits add = DEVICE_EDITS_INIT;
    _cleanup_free_ const cdi_device **list = NULL;
    _cleanup_free_ const cdi_spec **applied = NULL;
    size_t n_list = 0, n_applied = 0;

    for (size_t i = 0; i < n; i++)
        if (name_devices(c, names[i], &list, &n_list, err) < 0)
            return -1;
    /* the spec-level edits of a spec out already has a device of are in
     * out already */
    for (size_t i = 0; i < out->n_cdi_devices; i++) {
        const cdi_device *d = device_find(c->devices, c->n_devices, out->cdi_devices[i]);

        if (d && !ptr_in((const void *const *)applied, n_applied, d->spec))
            CDI_APPEND(applied, n_applied, d->spec);
    }
    for (size_t i = 0; i < n_list; i++) {
        const cdi_device *d = list[i];

        /* asked for twice, or out has it already */
        if (ptr_in((const void *const *)list, i, d) || out_has(out, d->name))
            continue;
        if (!ptr_in((const void *const *)applied, n_applied, d->spec)) {
            if (edits_add(&add, d->spec->edits, d->name, err) < 0)
                return -1;
            CDI_APPEND(applied, n_applied, d->spec);
        }
        if (edits_add(&add, d->edits, d->name, err) < 0)
            return -1;
        CDI_APPEND(add.cdi_devices, add.n_cdi_devices, berth_xstrdup(d->name));
    }
    cdi_edits_merge(out, &add);
    return 0;
}
