/* Pods' emptyDir volumes (MOUNT_EMPTY_DIR): directories in a volumes
 * directory the node keeps for the pod, a tmpfs mounted on one for medium
 * Memory. Made on the host side, before the container's own mount
 * namespace, so that each container of the pod and each run of a
 * container finds the same one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "runtime-internal.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Whether path is a mount point (its device differs from its parent's). */
static bool mounted_on(const char *path)
{
    char parent[PATH_MAX];
    struct stat a, b;

    int n = snprintf(parent, sizeof(parent), "%s/..", path);

    return n > 0 && (size_t)n < sizeof(parent) && stat(path, &a) == 0 && stat(parent, &b) == 0 &&
           a.st_dev != b.st_dev;
}

/* Hold the volumes directory's lock (flock, released with the fd). */
static int volumes_lock(const char *dir, int *fd)
{
    if (*fd >= 0)
        return 0;
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0 || flock(*fd, LOCK_EX) < 0)
        return -1;
    return 0;
}

int runtime_empty_dirs(const berth_spec *spec, const char *volumes_dir, const char *config_dir,
                       char ***ret_paths, berth_error **err)
{
    char **paths = NULL;
    _cleanup_close_ int lock_fd = -1;

    for (size_t i = 0; i < spec->n_mounts; i++) {
        const Mount *m = spec->mounts[i];
        char *path;

        if (m->type == MOUNT_CONFIG) {
            struct stat st;

            if (!paths)
                paths = berth_xcalloc(spec->n_mounts + 1, sizeof(*paths));
            path = paths[i] = berth_xasprintf("%s/%s", config_dir ? config_dir : "", m->source);
            if (!config_dir || stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                berth_error_set(err, ENOENT,
                                "spec.mounts[%zu]: volume %s: the node has not projected its "
                                "%s",
                                i, m->source,
                                m->config && m->config->kind == CONFIG_SECRET ? "Secret"
                                                                              : "ConfigMap");
                runtime_empty_dirs_free(paths, spec->n_mounts);
                return -1;
            }
            continue;
        }
        if (m->type != MOUNT_EMPTY_DIR)
            continue;
        if (!volumes_dir) {
            runtime_empty_dirs_free(paths, spec->n_mounts);
            return berth_error_set(err, EINVAL,
                                   "spec.mounts[%zu]: emptyDir volume %s: the node gave no "
                                   "place for volumes",
                                   i, m->source);
        }
        if (!paths)
            paths = berth_xcalloc(spec->n_mounts + 1, sizeof(*paths));
        path = paths[i] = berth_xasprintf("%s/%s", volumes_dir, m->source);
        if (berth_mkdir_p(volumes_dir, 0711, err) < 0 ||
            (mkdir(path, 0777) < 0 && errno != EEXIST)) {
            if (!err || !*err)
                berth_error_errno(err, "mkdir %s", path);
            runtime_empty_dirs_free(paths, spec->n_mounts);
            return berth_error_prefix(err, "spec.mounts[%zu]: emptyDir volume %s", i, m->source);
        }
        /* everyone may write, as Kubernetes makes an emptyDir (umask aside) */
        chmod(path, 0777);
        /* one tmpfs for the pod, though its containers start at once */
        if (m->memory && volumes_lock(volumes_dir, &lock_fd) < 0) {
            berth_error_errno(err, "spec.mounts[%zu]: emptyDir volume %s: lock %s", i, m->source,
                              volumes_dir);
            runtime_empty_dirs_free(paths, spec->n_mounts);
            return -1;
        }
        if (m->memory && !mounted_on(path)) {
            char opts[64] = "mode=0777";

            if (m->tmpfs_size_bytes > 0)
                snprintf(opts, sizeof(opts), "mode=0777,size=%lld", (long long)m->tmpfs_size_bytes);
            if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
                berth_error_errno(err, "spec.mounts[%zu]: emptyDir volume %s: mount tmpfs on %s", i,
                                  m->source, path);
                runtime_empty_dirs_free(paths, spec->n_mounts);
                return -1;
            }
        }
        /* fsGroup: the pod's group owns it, and what is made in it
         * (setgid) */
        if (spec->fs_group &&
            (chown(path, (uid_t)-1, spec->fs_group->gid) < 0 || chmod(path, 02777) < 0)) {
            berth_error_errno(err, "spec.mounts[%zu]: emptyDir volume %s: fsGroup %u", i, m->source,
                              spec->fs_group->gid);
            runtime_empty_dirs_free(paths, spec->n_mounts);
            return -1;
        }
    }
    *ret_paths = paths;
    return 0;
}

void runtime_empty_dirs_free(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int berth_volumes_release(const char *volumes_dir, berth_error **err)
{
    _cleanup_closedir_ DIR *d = opendir(volumes_dir);
    struct dirent *de;

    if (!d)
        return errno == ENOENT ? 0 : berth_error_errno(err, "open %s", volumes_dir);
    while ((de = readdir(d))) {
        char path[PATH_MAX];

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", volumes_dir, de->d_name);
        if (mounted_on(path) && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
            return berth_error_errno(err, "unmount %s", path);
    }
    return 0;
}
