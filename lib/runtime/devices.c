/* A container's devices as the node resolved them (DeviceEdits: CDI's
 * container edits, host devices) turned into what the child makes and
 * what the device cgroup allows. Every path is checked here, in the
 * parent: the child only makes what passed. */
#include "runtime-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/xalloc.h"

/* At most this many nodes and mounts per container. */
#define DEVICES_MAX BERTH_CGROUP_DEVICES_MAX

static bool access_valid(const char *a)
{
    if (!*a || strlen(a) > 3)
        return false;
    for (const char *p = a; *p; p++)
        if (!strchr("rwm", *p) || strchr(p + 1, *p))
            return false;
    return true;
}

/* An absolute path of non-empty elements, none "." or "..". */
static bool path_clean(const char *path)
{
    if (path[0] != '/' || strlen(path) >= PATH_MAX)
        return false;
    for (const char *p = path; *p;) {
        size_t len;

        p++;
        len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += len;
    }
    return true;
}

/* Where a node may go: /dev/NAME or deeper, but not over the container's
 * own terminals, shared memory or message queues. */
static int node_path_check(const char *path, berth_error **err)
{
    static const char *const own[] = { "/dev/pts", "/dev/shm", "/dev/mqueue" };

    if (!path_clean(path) || strncmp(path, "/dev/", 5) != 0)
        return berth_error_set(err, EINVAL,
                               "device node %s: must be a clean absolute path under /dev", path);
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(own); i++) {
        size_t len = strlen(own[i]);

        if (strncmp(path, own[i], len) == 0 && (path[len] == '\0' || path[len] == '/'))
            return berth_error_set(err, EINVAL, "device node %s: %s is the container's own", path,
                                   own[i]);
    }
    return 0;
}

static int node_plan(const DeviceNode *n, child_device *d, berth_error **err)
{
    const char *host = *n->host_path ? n->host_path : n->path;
    const char *type = *n->type ? n->type : "c";
    struct stat st;
    bool have_host = stat(host, &st) == 0;

    if (node_path_check(n->path, err) < 0)
        return -1;
    if (strcmp(type, "c") != 0 && strcmp(type, "u") != 0 && strcmp(type, "b") != 0 &&
        strcmp(type, "p") != 0)
        return berth_error_set(err, EINVAL, "device node %s: type %s is none of c, b, u, p",
                               n->path, type);
    if (n->major < 0 || n->major > 4095 || n->minor < 0 || n->minor > 1048575)
        return berth_error_set(err, EINVAL,
                               "device node %s: %" PRId64 ":%" PRId64 " is no device number",
                               n->path, n->major, n->minor);
    if (*n->permissions && !access_valid(n->permissions))
        return berth_error_set(err, EINVAL,
                               "device node %s: permissions %s are not a subset of rwm", n->path,
                               n->permissions);
    *d = (child_device){
        .path = n->path,
        .host_path = host,
        .mode = (type[0] == 'b'   ? S_IFBLK
                 : type[0] == 'p' ? S_IFIFO
                                  : S_IFCHR) |
                (n->file_mode ? n->file_mode & 07777
                 : have_host  ? st.st_mode & 07777
                              : 0666),
        .rdev = makedev((unsigned)n->major, (unsigned)n->minor),
        .uid = n->uid >= 0 ? (uid_t)n->uid
               : have_host ? st.st_uid
                           : 0,
        .gid = n->gid >= 0 ? (gid_t)n->gid
               : have_host ? st.st_gid
                           : 0,
    };
    if (n->uid > UINT32_MAX - 1 || n->gid > UINT32_MAX - 1)
        return berth_error_set(err, EINVAL, "device node %s: owner out of range", n->path);
    return 0;
}

int runtime_plan_devices(const DeviceEdits *e, child_device **ret_devs,
                         berth_cgroup_device **ret_rules, size_t *ret_n_rules, berth_error **err)
{
    _cleanup_free_ child_device *devs = NULL;
    _cleanup_free_ berth_cgroup_device *rules = NULL;
    size_t n_rules = 0;

    if (e->n_hooks > DEVICES_MAX)
        return berth_error_set(err, E2BIG, "devices: %zu hooks, at most %d", e->n_hooks,
                               DEVICES_MAX);
    for (size_t i = 0; i < e->n_hooks; i++) {
        static const char *const names[] = { "prestart",       "createRuntime", "createContainer",
                                             "startContainer", "poststart",     "poststop" };
        const DeviceHook *h = e->hooks[i];
        size_t k = 0;

        while (k < BERTH_ARRAY_SIZE(names) && strcmp(names[k], h->hook_name) != 0)
            k++;
        if (h->n_args > 1024 || h->n_env > 1024)
            return berth_error_set(
                err, E2BIG, "device hook %s: %zu args and %zu env entries, at most 1024 each",
                h->path, h->n_args, h->n_env);
        if (k == BERTH_ARRAY_SIZE(names) || h->path[0] != '/')
            return berth_error_set(err, EINVAL,
                                   "device hook %s %s: a hook is one of prestart, createRuntime, "
                                   "createContainer, startContainer, poststart, poststop, with "
                                   "an absolute path",
                                   h->hook_name, h->path);
    }
    if (e->n_nodes > DEVICES_MAX || e->n_mounts > DEVICES_MAX)
        return berth_error_set(err, E2BIG, "devices: %zu nodes and %zu mounts, at most %d each",
                               e->n_nodes, e->n_mounts, DEVICES_MAX);
    devs = berth_xcalloc(e->n_nodes + 1, sizeof(*devs));
    rules = berth_xcalloc(e->n_nodes + 1, sizeof(*rules));
    for (size_t i = 0; i < e->n_nodes; i++) {
        const DeviceNode *n = e->nodes[i];

        if (node_plan(n, &devs[i], err) < 0)
            return -1;
        if (S_ISFIFO(devs[i].mode))
            continue; /* no device cgroup rule for a FIFO */
        rules[n_rules] = (berth_cgroup_device){
            .type = S_ISBLK(devs[i].mode) ? 'b' : 'c',
            .major = n->major,
            .minor = n->minor,
        };
        snprintf(rules[n_rules].access, sizeof(rules[n_rules].access), "%s",
                 *n->permissions ? n->permissions : "rwm");
        n_rules++;
    }
    for (size_t i = 0; i < e->n_mounts; i++) {
        const DeviceMount *m = e->mounts[i];

        if (!path_clean(m->container_path) || m->host_path[0] != '/')
            return berth_error_set(err, EINVAL,
                                   "device mount %s on %s: both paths must be absolute (and the "
                                   "container's clean)",
                                   m->host_path, m->container_path);
    }
    *ret_devs = TAKE_PTR(devs);
    *ret_rules = TAKE_PTR(rules);
    *ret_n_rules = n_rules;
    return 0;
}
