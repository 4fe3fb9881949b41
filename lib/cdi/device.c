/* Host device nodes (docker run --device /dev/fuse), the --device value
 * itself, and the DeviceEdits helpers the CDI registry shares: stat of a
 * host node, merging edits, clearing them. */
#include "cdi-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "base/xalloc.h"
#include "pb/pb.h"

bool cdi_permissions_valid(const char *p)
{
    if (!p || !*p || strlen(p) > 3)
        return false;
    for (const char *c = p; *c; c++)
        if (!strchr("rwm", *c) || strchr(c + 1, *c))
            return false;
    return true;
}

int cdi_stat_node(const char *path, bool allow_fifo, struct stat *ret_st, char *ret_type,
                  berth_error **err)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return berth_error_errno(err, "%s", path);
    if (S_ISCHR(st.st_mode))
        *ret_type = 'c';
    else if (S_ISBLK(st.st_mode))
        *ret_type = 'b';
    else if (allow_fifo && S_ISFIFO(st.st_mode))
        *ret_type = 'p';
    else
        return berth_error_set(err, EINVAL, "%s is not a device", path);
    *ret_st = st;
    return 0;
}

DeviceEdits *cdi_edits_new(void)
{
    DeviceEdits *e = berth_xmalloc(sizeof(*e));

    device_edits_init(e);
    return e;
}

void berth_cdi_edits_clear(DeviceEdits *e)
{
    DeviceEdits *heap;

    if (!e)
        return;
    /* protobuf-c frees a whole message, members and all: let it, on a
     * heap copy of the struct, so that every field is freed as generated */
    heap = berth_xmalloc(sizeof(*heap));
    *heap = *e;
    BERTH_PB_FREE(heap);
    device_edits_init(e);
}

/* The index in env of the entry of s's NAME, or n. */
static size_t env_find(char **env, size_t n, const char *s)
{
    size_t len = strcspn(s, "=");

    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], s, len) == 0 && (env[i][len] == '=' || env[i][len] == '\0'))
            return i;
    return n;
}

static bool str_in(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

void cdi_edits_merge(DeviceEdits *into, DeviceEdits *from)
{
    for (size_t i = 0; i < from->n_env; i++) {
        size_t at = env_find(into->env, into->n_env, from->env[i]);

        if (at < into->n_env) {
            free(into->env[at]);
            into->env[at] = from->env[i];
        } else {
            CDI_APPEND(into->env, into->n_env, from->env[i]);
        }
    }
    for (size_t i = 0; i < from->n_nodes; i++) {
        DeviceNode *n = from->nodes[i];
        size_t at = 0;

        while (at < into->n_nodes && strcmp(into->nodes[at]->path, n->path) != 0)
            at++;
        if (at < into->n_nodes) {
            device_node_free_unpacked(into->nodes[at], NULL);
            into->nodes[at] = n;
        } else {
            CDI_APPEND(into->nodes, into->n_nodes, n);
        }
    }
    for (size_t i = 0; i < from->n_mounts; i++) {
        DeviceMount *m = from->mounts[i];
        size_t at = 0;

        while (at < into->n_mounts &&
               strcmp(into->mounts[at]->container_path, m->container_path) != 0)
            at++;
        if (at < into->n_mounts) {
            device_mount_free_unpacked(into->mounts[at], NULL);
            into->mounts[at] = m;
        } else {
            CDI_APPEND(into->mounts, into->n_mounts, m);
        }
    }
    for (size_t i = 0; i < from->n_hooks; i++)
        CDI_APPEND(into->hooks, into->n_hooks, from->hooks[i]);
    for (size_t i = 0; i < from->n_cdi_devices; i++) {
        if (str_in(into->cdi_devices, into->n_cdi_devices, from->cdi_devices[i]))
            free(from->cdi_devices[i]);
        else
            CDI_APPEND(into->cdi_devices, into->n_cdi_devices, from->cdi_devices[i]);
    }
    for (size_t i = 0; i < from->n_host_devices; i++) {
        if (str_in(into->host_devices, into->n_host_devices, from->host_devices[i]))
            free(from->host_devices[i]);
        else
            CDI_APPEND(into->host_devices, into->n_host_devices, from->host_devices[i]);
    }
    /* every element has moved: only the arrays are left */
    free(from->env);
    free(from->nodes);
    free(from->mounts);
    free(from->hooks);
    free(from->cdi_devices);
    free(from->host_devices);
    device_edits_init(from);
}

/* ---- host devices ---- */

int berth_cdi_host_device(const char *host_path, const char *container_path,
                          const char *permissions, DeviceEdits *out, berth_error **err)
{
    _cleanup_(berth_cdi_edits_clear) DeviceEdits add = DEVICE_EDITS_INIT;
    const char *dest = container_path && *container_path ? container_path : host_path;
    const char *perms = permissions && *permissions ? permissions : "rwm";
    DeviceNode *n;
    struct stat st;
    char type;

    if (!host_path || host_path[0] != '/')
        return berth_error_set(err, EINVAL, "%s: the host path must be absolute",
                               host_path ? host_path : "");
    if (dest[0] != '/')
        return berth_error_set(err, EINVAL, "%s: the container path %s must be absolute", host_path,
                               dest);
    if (!cdi_permissions_valid(perms))
        return berth_error_set(err, EINVAL, "%s: permissions %s are not a subset of rwm", host_path,
                               perms);
    if (cdi_stat_node(host_path, false, &st, &type, err) < 0)
        return -1;
    n = berth_xmalloc(sizeof(*n));
    device_node_init(n);
    n->path = berth_xstrdup(dest);
    n->host_path = berth_xstrdup(host_path);
    n->type = berth_xstrdup(type == 'b' ? "b" : "c");
    n->major = major(st.st_rdev);
    n->minor = minor(st.st_rdev);
    n->file_mode = st.st_mode & 07777;
    n->uid = st.st_uid;
    n->gid = st.st_gid;
    n->permissions = berth_xstrdup(perms);
    CDI_APPEND(add.nodes, add.n_nodes, n);
    CDI_APPEND(add.host_devices, add.n_host_devices, berth_xstrdup(host_path));
    cdi_edits_merge(out, &add);
    return 0;
}

/* ---- --device ---- */

void berth_cdi_request_clear(DeviceRequest *r)
{
    if (!r)
        return;
    if (r->name != protobuf_c_empty_string)
        free(r->name);
    if (r->container_path != protobuf_c_empty_string)
        free(r->container_path);
    if (r->permissions != protobuf_c_empty_string)
        free(r->permissions);
    device_request_init(r);
}

int berth_cdi_parse_request(const char *arg, DeviceRequest *ret, berth_error **err)
{
    _cleanup_free_ char *copy = NULL;
    char *parts[3] = { NULL, "", "" }, *p;
    const char *dest = "", *perms = "";
    size_t n = 0;

    if (!arg)
        arg = "";
    /* a CDI name may hold ':' (in its NAME part): it goes first */
    if (arg[0] != '/' && strchr(arg, '=')) {
        if (!berth_cdi_name_parse(arg, NULL, 0))
            return berth_error_set(
                err, EINVAL, "--device %s: not a CDI device name (vendor.com/class=name)", arg);
        device_request_init(ret);
        ret->name = berth_xstrdup(arg);
        ret->container_path = berth_xstrdup("");
        ret->permissions = berth_xstrdup("");
        return 0;
    }
    copy = berth_xstrdup(arg);
    for (p = copy; p; n++) {
        char *colon = strchr(p, ':');

        if (n == 3)
            return berth_error_set(
                err, EINVAL, "--device %s: too many ':' (HOST[:CONTAINER][:PERMISSIONS])", arg);
        parts[n] = p;
        if (colon)
            *colon = '\0';
        p = colon ? colon + 1 : NULL;
    }
    if (parts[0][0] != '/')
        return berth_error_set(err, EINVAL, "--device %s: the host path must be absolute", arg);
    if (n == 2 && parts[1][0] != '/' && parts[1][0] && !strchr(parts[1], '/')) {
        perms = parts[1]; /* HOST:PERMISSIONS */
    } else {
        dest = parts[1];
        perms = parts[2];
        if (*dest && dest[0] != '/')
            return berth_error_set(err, EINVAL, "--device %s: the container path must be absolute",
                                   arg);
        if (n == 3 && !*perms)
            perms = "-"; /* given empty: refused below */
    }
    if (*perms && !cdi_permissions_valid(perms))
        return berth_error_set(err, EINVAL, "--device %s: permissions must be a subset of rwm",
                               arg);
    device_request_init(ret);
    ret->name = berth_xstrdup(parts[0]);
    ret->container_path = berth_xstrdup(dest);
    ret->permissions = berth_xstrdup(perms);
    return 0;
}
