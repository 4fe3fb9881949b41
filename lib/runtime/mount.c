/* The container's filesystem, set up by the child in its own mount
 * namespace: private propagation, the root (an overlay or a bind of a
 * directory), /proc, /sys, a minimal /dev, devpts, /dev/shm, /dev/mqueue,
 * the cgroup filesystem, the spec's mounts, masked and read-only paths, then
 * pivot_root. Every destination inside the root is resolved with openat2
 * RESOLVE_IN_ROOT, so a symlink in an image cannot send a mount outside it,
 * and mounted through its /proc/self/fd path. Everything mounted here dies
 * with the namespace: nothing to clean up on the host. */
#include "runtime-internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cgroup-internal.h"
#include "masked-paths.h"

#define FD_PATH_LEN 32
/* What one overlay mount takes: a page of options; "/proc/self/fd/N:"
 * is at most 20 characters for the fds a child has. */
#define OVERLAY_LAYERS_MAX 190
#define OVERLAY_OPTS_MAX   (64 + (OVERLAY_LAYERS_MAX + 2) * (FD_PATH_LEN + 1))

enum open_kind { OPEN_EXISTING, OPEN_DIR, OPEN_FILE };

static char *fd_path(int fd, char buf[FD_PATH_LEN])
{
    snprintf(buf, FD_PATH_LEN, "/proc/self/fd/%d", fd);
    return buf;
}

static int openat2_in_root(int rootfd, const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd;

    do
        fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return fd;
}

/* O_PATH fd of path inside the root; missing components are created as
 * directories (and the last as kind says) when kind is not OPEN_EXISTING. */
static int open_in_root(int rootfd, const char *path, enum open_kind kind, int *ret_fd,
                        berth_error **err)
{
    _cleanup_close_ int pfd = -1;
    char parent[PATH_MAX], *slash;
    const char *last;
    int fd;

    fd = openat2_in_root(rootfd, path);
    if (fd >= 0) {
        *ret_fd = fd;
        return 0;
    }
    if (errno != ENOENT || kind == OPEN_EXISTING)
        return berth_error_errno(err, "resolve %s in the container root", path);

    /* No allocation: this runs in the container's child. */
    if (snprintf(parent, sizeof(parent), "%s", path) >= (int)sizeof(parent))
        return berth_error_set(err, ENAMETOOLONG, "resolve %s: path too long", path);
    slash = strrchr(parent, '/');
    if (!slash || slash == parent) {
        last = path + (slash ? 1 : 0);
        snprintf(parent, sizeof(parent), "/");
    } else {
        *slash = '\0';
        last = path + (slash - parent) + 1;
    }
    if (open_in_root(rootfd, parent, OPEN_DIR, &pfd, err) < 0)
        return -1;
    if (kind == OPEN_DIR) {
        if (mkdirat(pfd, last, 0755) < 0 && errno != EEXIST)
            return berth_error_errno(err, "mkdir %s in the container root", path);
    } else {
        int f = openat(pfd, last, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f < 0 && errno != EEXIST)
            return berth_error_errno(err, "create %s in the container root", path);
        if (f >= 0)
            close(f);
    }
    fd = openat2_in_root(rootfd, path);
    if (fd < 0)
        return berth_error_errno(err, "resolve %s in the container root", path);
    *ret_fd = fd;
    return 0;
}

/* mount(2) onto path inside the root. */
static int mount_in_root(int rootfd, const char *path, enum open_kind kind, const char *source,
                         const char *fstype, unsigned long flags, const char *data,
                         berth_error **err)
{
    _cleanup_close_ int fd = -1;
    char fdp[FD_PATH_LEN];

    if (open_in_root(rootfd, path, kind, &fd, err) < 0)
        return -1;
    if (mount(source, fd_path(fd, fdp), fstype, flags, data) < 0)
        return berth_error_errno(err, "mount %s on %s", fstype ? fstype : source, path);
    return 0;
}

static unsigned long statvfs_to_mount_flags(unsigned long f)
{
    unsigned long m = 0;

    if (f & ST_NOSUID)
        m |= MS_NOSUID;
    if (f & ST_NODEV)
        m |= MS_NODEV;
    if (f & ST_NOEXEC)
        m |= MS_NOEXEC;
    if (f & ST_NOATIME)
        m |= MS_NOATIME;
    if (f & ST_NODIRATIME)
        m |= MS_NODIRATIME;
    if (f & ST_RELATIME)
        m |= MS_RELATIME;
    return m;
}

/* Remount the mount at path adding flags (MS_RDONLY, MS_NOSUID ...),
 * keeping the ones it has (which a user namespace would refuse to clear). */
static int remount_in_root(int rootfd, const char *path, unsigned long flags, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    char fdp[FD_PATH_LEN];
    struct statvfs sv;

    if (open_in_root(rootfd, path, OPEN_EXISTING, &fd, err) < 0)
        return -1;
    if (statvfs(fd_path(fd, fdp), &sv) < 0)
        return berth_error_errno(err, "statvfs %s", path);
    if (mount(NULL, fdp, NULL, MS_BIND | MS_REMOUNT | flags | statvfs_to_mount_flags(sv.f_flag),
              NULL) < 0)
        return berth_error_errno(err, "remount %s%s", path, flags & MS_RDONLY ? " read-only" : "");
    return 0;
}

static int remount_ro_in_root(int rootfd, const char *path, berth_error **err)
{
    return remount_in_root(rootfd, path, MS_RDONLY, err);
}

/* Whether the kernel has mount_setattr(2) (Linux 5.12). Without it a bind
 * is made without the mounts below its source: a remount reaches only the
 * top mount, and a nested one would keep its own flags (writable, suid). */
static bool have_mount_setattr(void)
{
    static int have = -1;

    if (have < 0)
        have = !(mount_setattr(-1, "", 0, NULL, 0) < 0 && errno == ENOSYS);
    return have;
}

static unsigned long bind_flags(void)
{
    return MS_BIND | (have_mount_setattr() ? MS_REC : 0);
}

/* Add flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC) to the bind mount at path and
 * every mount below it: MOUNT_ATTR_* set with AT_RECURSIVE in one call. */
static int restrict_bind_in_root(int rootfd, const char *path, unsigned long flags,
                                 berth_error **err)
{
    _cleanup_close_ int fd = -1;
    struct mount_attr attr = { 0 };

    if (!have_mount_setattr())
        return remount_in_root(rootfd, path, flags, err);
    if (open_in_root(rootfd, path, OPEN_EXISTING, &fd, err) < 0)
        return -1;
    if (flags & MS_RDONLY)
        attr.attr_set |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID)
        attr.attr_set |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV)
        attr.attr_set |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC)
        attr.attr_set |= MOUNT_ATTR_NOEXEC;
    if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
        return berth_error_errno(err, "restrict %s%s and the mounts below it", path,
                                 flags & MS_RDONLY ? " to read-only" : "");
    return 0;
}

/* Bind path onto itself and make that read-only. Missing paths are fine. */
static int readonly_path(int rootfd, const char *path, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    char fdp[FD_PATH_LEN];

    fd = openat2_in_root(rootfd, path);
    if (fd < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "resolve %s", path);
    if (mount(fd_path(fd, fdp), fdp, NULL, bind_flags(), NULL) < 0)
        return berth_error_errno(err, "bind %s", path);
    return restrict_bind_in_root(rootfd, path, MS_RDONLY, err);
}

/* Hide path: a directory gets an empty read-only tmpfs, a file the mask
 * node (unreadable) bound over it. Missing paths are fine. */
static int mask_path(int rootfd, const char *path, int mask_fd, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    char fdp[FD_PATH_LEN], maskp[FD_PATH_LEN];
    struct stat st;

    fd = openat2_in_root(rootfd, path);
    if (fd < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "resolve %s", path);
    if (fstat(fd, &st) < 0)
        return berth_error_errno(err, "stat %s", path);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", fd_path(fd, fdp), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=555") < 0)
            return berth_error_errno(err, "mask %s", path);
        return 0;
    }
    if (mount(fd_path(mask_fd, maskp), fd_path(fd, fdp), NULL, MS_BIND, NULL) < 0)
        return berth_error_errno(err, "mask %s", path);
    return 0;
}

/* The name of path in the container's /proc when it is a single name
 * there ("/proc/kcore"), else NULL. */
static const char *proc_name(const char *path)
{
    const char *name = strncmp(path, "/proc/", 6) == 0 ? path + 6 : NULL;

    return name && *name && !strchr(name, '/') ? name : NULL;
}

/* mask_path and readonly_path for a name in the procfs this child just
 * mounted, with that as the working directory: the kernel's entries, so
 * one lookup of the name instead of resolving the path in the root again
 * and mounting through /proc/self/fd. 1: a symlink (none of Docker's
 * are), for the caller to do it the long way. */
static int mask_proc_name(const char *path, const char *name, int mask_fd, berth_error **err)
{
    char maskp[FD_PATH_LEN];
    struct stat st;

    if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "stat %s", path);
    if (S_ISLNK(st.st_mode))
        return 1;
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", name, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=555") < 0)
            return berth_error_errno(err, "mask %s", path);
        return 0;
    }
    if (mount(fd_path(mask_fd, maskp), name, NULL, MS_BIND, NULL) < 0)
        return berth_error_errno(err, "mask %s", path);
    return 0;
}

static int readonly_proc_name(const char *path, const char *name, berth_error **err)
{
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    struct stat st;

    if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "stat %s", path);
    if (S_ISLNK(st.st_mode))
        return 1;
    if (mount(name, name, NULL, MS_BIND | MS_REC, NULL) < 0)
        return berth_error_errno(err, "bind %s", path);
    if (mount_setattr(AT_FDCWD, name, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr, sizeof(attr)) < 0)
        return berth_error_errno(err, "restrict %s to read-only and the mounts below it", path);
    return 0;
}

/* Docker's masked and read-only paths are in masked-paths.h; this adds
 * /sys/devices/system/cpu/cpuN/thermal_throttle for every CPU: counters
 * of the host's other tenants' load. getdents64 on a stack buffer: the
 * child may not allocate (opendir would). */
static int mask_cpu_paths(int rootfd, int mask_fd, berth_error **err)
{
    _cleanup_close_ int pfd = -1, dfd = -1;
    char buf[4096] __attribute__((aligned(8))), fdp[FD_PATH_LEN];
    ssize_t n;

    pfd = openat2_in_root(rootfd, "/sys/devices/system/cpu");
    if (pfd < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "resolve /sys/devices/system/cpu");
    dfd = open(fd_path(pfd, fdp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return berth_error_errno(err, "open /sys/devices/system/cpu");
    while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *e = (const void *)(buf + off);
            char path[sizeof("/sys/devices/system/cpu//thermal_throttle") + 256];

            off += e->d_reclen;
            if (strncmp(e->d_name, "cpu", 3) != 0 || !e->d_name[3] ||
                strspn(e->d_name + 3, "0123456789") != strlen(e->d_name + 3))
                continue;
            snprintf(path, sizeof(path), "/sys/devices/system/cpu/%s/thermal_throttle", e->d_name);
            if (mask_path(rootfd, path, mask_fd, err) < 0)
                return -1;
        }
    }
    if (n < 0)
        return berth_error_errno(err, "read /sys/devices/system/cpu");
    return 0;
}

static const struct {
    const char *name;
    unsigned int major, minor;
} dev_nodes[] = {
    { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
    { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static int setup_dev(const child_plan *p, int rootfd, berth_error **err)
{
    _cleanup_close_ int devfd = -1;
    static const char *const links[][2] = {
        { "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
        { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
        { "pts/ptmx", "ptmx" },
    };
    char fdp[FD_PATH_LEN];

    if (mount_in_root(rootfd, "/dev", OPEN_DIR, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                      "mode=755,size=65536k", err) < 0)
        return -1;
    if (open_in_root(rootfd, "/dev", OPEN_EXISTING, &devfd, err) < 0)
        return -1;
    /* O_PATH is not enough for *at() creation on every kernel: reopen. */
    {
        int d = open(fd_path(devfd, fdp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0)
            return berth_error_errno(err, "open /dev of the container");
        close(devfd);
        devfd = d;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(dev_nodes); i++) {
        const char *name = dev_nodes[i].name;

        if (!p->userns) {
            if (mknodat(devfd, name, S_IFCHR | 0666,
                        makedev(dev_nodes[i].major, dev_nodes[i].minor)) < 0)
                return berth_error_errno(err, "mknod /dev/%s", name);
            continue;
        }
        /* A user namespace may not mknod: bind the host's node. */
        {
            char host[64], target[FD_PATH_LEN + 16];
            int f = openat(devfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);

            if (f < 0)
                return berth_error_errno(err, "create /dev/%s", name);
            close(f);
            snprintf(host, sizeof(host), "/dev/%s", name);
            snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", devfd, name);
            if (mount(host, target, NULL, MS_BIND, NULL) < 0)
                return berth_error_errno(err, "bind %s", host);
        }
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(links); i++)
        if (symlinkat(links[i][0], devfd, links[i][1]) < 0)
            return berth_error_errno(err, "symlink /dev/%s", links[i][1]);
    for (const char *d = "pts\0shm\0mqueue\0"; *d; d += strlen(d) + 1)
        if (mkdirat(devfd, d, 0755) < 0)
            return berth_error_errno(err, "mkdir /dev/%s", d);

    if (mount_in_root(rootfd, "/dev/pts", OPEN_DIR, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620,gid=5", NULL) < 0 &&
        /* gid 5 may be unmapped in a user namespace */
        mount_in_root(rootfd, "/dev/pts", OPEN_DIR, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620", err) < 0)
        return -1;
    if (mount_in_root(rootfd, "/dev/shm", OPEN_DIR, "shm", "tmpfs",
                      MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", err) < 0)
        return -1;
    if (mount_in_root(rootfd, "/dev/mqueue", OPEN_DIR, "mqueue", "mqueue",
                      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
        return -1;
    return 0;
}

/* The container's own devices (its DeviceEdits' nodes), under /dev: the
 * parent checked each path (no "..", not in pts, shm or mqueue). */
static int setup_device_nodes(const child_plan *p, int rootfd, berth_error **err)
{
    for (size_t i = 0; i < p->n_devices; i++) {
        const child_device *d = &p->devices[i];
        _cleanup_close_ int pfd = -1, dirfd = -1;
        char parent[PATH_MAX], fdp[FD_PATH_LEN];
        const char *name = strrchr(d->path, '/') + 1;

        snprintf(parent, sizeof(parent), "%.*s", (int)(name - 1 - d->path), d->path);
        if (open_in_root(rootfd, parent, OPEN_DIR, &pfd, err) < 0)
            return berth_error_prefix(err, "device %s", d->path);
        /* O_PATH is not enough for *at() creation on every kernel */
        dirfd = open(fd_path(pfd, fdp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return berth_error_errno(err, "device %s: open %s", d->path, parent);
        /* the edit's node replaces a standard one of that name */
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return berth_error_errno(err, "device %s: remove what is there", d->path);
        if (!p->userns) {
            if (mknodat(dirfd, name, d->mode, d->rdev) < 0)
                return berth_error_errno(err, "mknod %s", d->path);
            if (fchownat(dirfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_errno(err, "chown %s to %u:%u", d->path, (unsigned)d->uid,
                                         (unsigned)d->gid);
            continue;
        }
        /* A user namespace may not mknod: bind the host's node. */
        {
            char target[FD_PATH_LEN + 256];
            int f = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);

            if (f < 0)
                return berth_error_errno(err, "create %s", d->path);
            close(f);
            snprintf(target, sizeof(target), "/proc/self/fd/%d/%s", dirfd, name);
            if (mount(d->host_path, target, NULL, MS_BIND, NULL) < 0)
                return berth_error_errno(err, "device %s: bind %s", d->path, d->host_path);
        }
    }
    return 0;
}

/* mount(8) options of a device's mount as flags; what is no flag goes to
 * the file system as data (a bind has none). */
static unsigned long device_mount_flags(const DeviceMount *m, bool *ret_bind, char *data,
                                        size_t size)
{
    static const struct {
        const char *name;
        unsigned long set, clear;
    } words[] = {
        { "ro", MS_RDONLY, 0 },       { "rw", 0, MS_RDONLY },
        { "nosuid", MS_NOSUID, 0 },   { "suid", 0, MS_NOSUID },
        { "nodev", MS_NODEV, 0 },     { "dev", 0, MS_NODEV },
        { "noexec", MS_NOEXEC, 0 },   { "exec", 0, MS_NOEXEC },
        { "bind", MS_BIND, 0 },       { "rbind", MS_BIND, 0 },
        { "private", 0, 0 },          { "rprivate", 0, 0 },
        { "defaults", 0, 0 },         { "relatime", MS_RELATIME, 0 },
        { "noatime", MS_NOATIME, 0 },
    };
    unsigned long flags = 0;
    size_t len = 0;

    data[0] = '\0';
    *ret_bind = !*m->type || strcmp(m->type, "bind") == 0;
    for (size_t i = 0; i < m->n_options; i++) {
        size_t w = 0;

        while (w < BERTH_ARRAY_SIZE(words) && strcmp(words[w].name, m->options[i]) != 0)
            w++;
        if (w == BERTH_ARRAY_SIZE(words)) {
            if (len < size)
                len +=
                    (size_t)snprintf(data + len, size - len, "%s%s", len ? "," : "", m->options[i]);
            continue;
        }
        flags = (flags | words[w].set) & ~words[w].clear;
        if (words[w].set & MS_BIND)
            *ret_bind = true;
    }
    return flags & ~(unsigned long)MS_BIND;
}

/* The container's device mounts (its DeviceEdits' mounts): a bind of the
 * host path (a CDI spec is the node's own configuration: its paths may be
 * links, to a library's current version), or a file system of that type. */
static int setup_device_mounts(const child_plan *p, int rootfd, berth_error **err)
{
    for (size_t i = 0; i < p->n_device_mounts; i++) {
        const DeviceMount *m = p->device_mounts[i];
        _cleanup_close_ int src = -1;
        char data[512], srcp[FD_PATH_LEN];
        struct stat st;
        bool bind;
        unsigned long flags = device_mount_flags(m, &bind, data, sizeof(data));

        if (!bind) {
            if (mount_in_root(rootfd, m->container_path, OPEN_DIR, m->host_path, m->type, flags,
                              *data ? data : NULL, err) < 0)
                return berth_error_prefix(err, "device mount");
            continue;
        }
        src = open(m->host_path, O_PATH | O_CLOEXEC);
        if (src < 0 || fstat(src, &st) < 0)
            return berth_error_errno(err, "device mount %s", m->host_path);
        if (mount_in_root(rootfd, m->container_path, S_ISDIR(st.st_mode) ? OPEN_DIR : OPEN_FILE,
                          fd_path(src, srcp), NULL, bind_flags(), NULL, err) < 0 ||
            (flags && restrict_bind_in_root(rootfd, m->container_path, flags, err) < 0))
            return berth_error_prefix(err, "device mount %s", m->host_path);
    }
    return 0;
}

/* A privileged container's /dev: a node for each of the host's devices
 * (in /dev and its directories one level down: net/tun, dri/card0, snd/),
 * but the terminals and what setup_dev made (pts, shm, mqueue). */
static int host_devices(int rootfd, berth_error **err)
{
    static const char *const skip[] = { "pts", "shm",  "mqueue", "console", "ptmx",  "tty",
                                        "fd",  "core", "stdin",  "stdout",  "stderr" };
    _cleanup_closedir_ DIR *d = opendir("/dev");
    _cleanup_close_ int devfd = -1;
    char fdp[FD_PATH_LEN];
    struct dirent *de;

    if (!d)
        return berth_error_errno(err, "open the host's /dev");
    if (open_in_root(rootfd, "/dev", OPEN_EXISTING, &devfd, err) < 0)
        return -1;
    {
        int fd = open(fd_path(devfd, fdp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
            return berth_error_errno(err, "open /dev of the container");
        close(devfd);
        devfd = fd;
    }
    while ((de = readdir(d))) {
        bool skipped = de->d_name[0] == '.';
        struct stat st;

        for (size_t i = 0; i < BERTH_ARRAY_SIZE(skip) && !skipped; i++)
            skipped = strcmp(de->d_name, skip[i]) == 0;
        if (skipped || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            _cleanup_closedir_ DIR *sub = NULL;
            struct dirent *se;
            int sfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

            if (sfd < 0 || !(sub = fdopendir(sfd))) {
                if (sfd >= 0)
                    close(sfd);
                continue;
            }
            while ((se = readdir(sub))) {
                struct stat sst;
                char name[NAME_MAX * 2 + 2];

                if (se->d_name[0] == '.' ||
                    fstatat(dirfd(sub), se->d_name, &sst, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !(S_ISCHR(sst.st_mode) || S_ISBLK(sst.st_mode)))
                    continue;
                snprintf(name, sizeof(name), "%s/%s", de->d_name, se->d_name);
                mkdirat(devfd, de->d_name, 0755);
                if (mknodat(devfd, name, sst.st_mode, sst.st_rdev) < 0 && errno != EEXIST)
                    return berth_error_errno(err, "mknod /dev/%s", name);
            }
            continue;
        }
        if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
            mknodat(devfd, de->d_name, st.st_mode, st.st_rdev) < 0 && errno != EEXIST)
            return berth_error_errno(err, "mknod /dev/%s", de->d_name);
    }
    return 0;
}

static int setup_cgroupfs(const child_plan *p, int rootfd, berth_error **err)
{
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const struct cgroup_v1_hierarchy *hs[CGROUP_V1_MAX];
    _cleanup_close_ int cgfd = -1;
    size_t n;

    if (berth_cgroup_driver_version(p->cgroups) == BERTH_CGROUP_V2)
        return mount_in_root(rootfd, "/sys/fs/cgroup", OPEN_EXISTING, "cgroup", "cgroup2", ro, NULL,
                             err);
    /* v1: a tmpfs with one read-only mount per hierarchy the container
     * joined, each showing (through the cgroup namespace) only its own
     * cgroup. The tmpfs is resolved in the root once; each hierarchy's
     * directory is one this made in it, so it is reached from there by
     * name (the working directory; pivot() moves it to the new root). */
    if (mount_in_root(rootfd, "/sys/fs/cgroup", OPEN_EXISTING, "tmpfs", "tmpfs",
                      MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k", err) < 0 ||
        open_in_root(rootfd, "/sys/fs/cgroup", OPEN_EXISTING, &cgfd, err) < 0)
        return -1;
    if (fchdir(cgfd) < 0)
        return berth_error_errno(err, "chdir to the container's /sys/fs/cgroup");
    n = cgroup_v1_container_hierarchies(p->cgroups, hs, BERTH_ARRAY_SIZE(hs));
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(hs[i]->mountpoint, '/') + 1;

        if (mkdir(base, 0755) < 0)
            return berth_error_errno(err, "mkdir /sys/fs/cgroup/%s in the container root", base);
        if (mount("cgroup", base, "cgroup", ro, hs[i]->options) < 0)
            return berth_error_errno(err, "mount cgroup on /sys/fs/cgroup/%s", base);
    }
    return remount_ro_in_root(rootfd, "/sys/fs/cgroup", err);
}

/* The termination message file: the host's file bound at the spec's
 * path (under /dev too, which the spec's own mounts may not touch). */
static int setup_termination_log(const child_plan *p, int rootfd, berth_error **err)
{
    _cleanup_close_ int src = -1;
    char srcp[FD_PATH_LEN];

    if (!p->termination_log)
        return 0;
    src = open(p->termination_log, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (src < 0)
        return berth_error_errno(err, "termination message file %s", p->termination_log);
    if (mount_in_root(rootfd, p->spec->termination_message_path, OPEN_FILE, fd_path(src, srcp),
                      NULL, bind_flags(), NULL, err) < 0 ||
        restrict_bind_in_root(rootfd, p->spec->termination_message_path,
                              MS_NOSUID | MS_NODEV | MS_NOEXEC, err) < 0)
        return berth_error_prefix(err, "spec.termination_message_path");
    return 0;
}

/* A pod's /etc/hosts and /etc/resolv.conf: its sandbox's, read-only. */
static int setup_etc_files(const child_plan *p, int rootfd, berth_error **err)
{
    const char *files[][2] = { { p->hosts_file, "/etc/hosts" },
                               { p->resolv_file, "/etc/resolv.conf" } };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(files); i++) {
        _cleanup_close_ int src = -1;
        char srcp[FD_PATH_LEN];

        if (!files[i][0])
            continue;
        src = open(files[i][0], O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (src < 0)
            return berth_error_errno(err, "the pod's %s", files[i][0]);
        if (mount_in_root(rootfd, files[i][1], OPEN_FILE, fd_path(src, srcp), NULL, bind_flags(),
                          NULL, err) < 0 ||
            restrict_bind_in_root(rootfd, files[i][1], MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                  err) < 0)
            return berth_error_prefix(err, "the pod's %s", files[i][1]);
    }
    return 0;
}

static int setup_spec_mounts(const child_plan *p, int rootfd, berth_error **err)
{
    for (size_t i = 0; i < p->spec->n_mounts; i++) {
        const Mount *m = p->spec->mounts[i];
        unsigned long flags = MS_NOSUID | MS_NODEV;

        if (m->type == MOUNT_TMPFS) {
            char opts[64] = "mode=1777";

            if (m->tmpfs_size_bytes > 0)
                snprintf(opts, sizeof(opts), "mode=1777,size=%lld", (long long)m->tmpfs_size_bytes);
            if (m->readonly)
                flags |= MS_RDONLY;
            if (mount_in_root(rootfd, m->destination, OPEN_DIR, "tmpfs", "tmpfs", flags, opts,
                              err) < 0)
                return berth_error_prefix(err, "spec.mounts[%zu]", i);
            continue;
        }
        {
            struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
            /* an emptyDir: the directory the parent made for it */
            const char *source = m->type == MOUNT_EMPTY_DIR || m->type == MOUNT_CONFIG
                                     ? p->empty_dirs[i]
                                     : m->source;
            struct stat st;
            _cleanup_close_ int src = -1;
            char srcp[FD_PATH_LEN];

            /* No symlink anywhere in the source: a link planted in a host
             * directory must not send the volume somewhere else. */
            do
                src = (int)syscall(SYS_openat2, AT_FDCWD, source, &how, sizeof(how));
            while (src < 0 && errno == EAGAIN);
            if (src < 0 && errno == ELOOP)
                return berth_error_set(err, ELOOP,
                                       "spec.mounts[%zu]: bind source %s: a component is a "
                                       "symbolic link (refused: give the path it resolves to)",
                                       i, source);
            if (src < 0 || fstat(src, &st) < 0)
                return berth_error_errno(err, "spec.mounts[%zu]: bind source %s", i, source);
            if (mount_in_root(rootfd, m->destination, S_ISDIR(st.st_mode) ? OPEN_DIR : OPEN_FILE,
                              fd_path(src, srcp), NULL, bind_flags(), NULL, err) < 0)
                return berth_error_prefix(err, "spec.mounts[%zu]", i);
            /* mount(2) ignores flags on a bind; they are set afterwards, on
             * every mount of the tree: no setuid binaries or device nodes
             * through a host path, and read-only all the way down. */
            if (restrict_bind_in_root(rootfd, m->destination,
                                      MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0),
                                      err) < 0)
                return berth_error_prefix(err, "spec.mounts[%zu]", i);
        }
    }
    return 0;
}

static int pivot(int rootfd, berth_error **err)
{
    if (fchdir(rootfd) < 0)
        return berth_error_errno(err, "chdir to the container root");
    /* pivot_root(".", ".") stacks the old root under the new one at "/";
     * detaching it leaves only the container's tree (runc's trick, no
     * temporary directory in the image needed). */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return berth_error_errno(err, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        return berth_error_errno(err, "detach the old root");
    if (chdir("/") < 0)
        return berth_error_errno(err, "chdir /");
    return 0;
}

/* The image's layers (the top one first in lowerdir), the container's
 * upper and work directories, all by fd: overlayfs splits its options at
 * ',' and ':', which may occur in paths, and 128 layers of
 * /proc/self/fd/N fit in a page of mount options where their paths may
 * not. The fds are this child's, gone at its exec. */
static int mount_overlay(const child_plan *p, berth_error **err)
{
    char opts[OVERLAY_OPTS_MAX], fp[FD_PATH_LEN];
    size_t size = sizeof(opts), off;
    int up, wo;

    if (p->n_overlay_lowers > OVERLAY_LAYERS_MAX)
        return berth_error_set(err, E2BIG, "image: %zu layers, at most %d", p->n_overlay_lowers,
                               OVERLAY_LAYERS_MAX);
    off = (size_t)snprintf(opts, size, "lowerdir=");
    for (size_t i = p->n_overlay_lowers; i-- > 0;) {
        int fd = open(p->overlay_lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
            return berth_error_errno(err, "open image layer %s", p->overlay_lowers[i]);
        off += (size_t)snprintf(opts + off, size - off, "%s%s", fd_path(fd, fp), i > 0 ? ":" : "");
    }
    up = open(p->overlay_upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    wo = open(p->overlay_work, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0 || wo < 0)
        return berth_error_errno(err, "open the container's layer %s", p->overlay_upper);
    off += (size_t)snprintf(opts + off, size - off, ",upperdir=%s", fd_path(up, fp));
    snprintf(opts + off, size - off, ",workdir=%s", fd_path(wo, fp));
    if (mount("overlay", p->rootfs_dir, "overlay", 0, opts) < 0) {
        if (errno == EINVAL && strlen(opts) >= 4096)
            return berth_error_set(err, E2BIG,
                                   "mount overlay on %s: %zu image layers are too many for one "
                                   "mount",
                                   p->rootfs_dir, p->n_overlay_lowers);
        return berth_error_errno(err, "mount overlay of image layer %s (and %zu more) on %s",
                                 p->overlay_lowers[0], p->n_overlay_lowers - 1, p->rootfs_dir);
    }
    return 0;
}

int mount_prepare(const child_plan *p, int *ret_rootfd, berth_error **err)
{
    _cleanup_close_ int rootfd = -1, maskfd = -1, procfd = -1;
    bool by_name;
    const unsigned long nsd = MS_NOSUID | MS_NODEV | MS_NOEXEC;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return berth_error_errno(err, "make mounts private");
    if (p->n_overlay_lowers > 0) {
        if (mount_overlay(p, err) < 0)
            return -1;
    } else if (mount(p->rootfs_dir, p->rootfs_dir, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return berth_error_errno(err, "bind rootfs %s", p->rootfs_dir);
    }
    rootfd = open(p->rootfs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return berth_error_errno(err, "open rootfs %s", p->rootfs_dir);

    /* A fresh procfs of the container's pid namespace. */
    if (mount_in_root(rootfd, "/proc", OPEN_DIR, "proc", "proc", nsd, NULL, err) < 0)
        return -1;
    /* privileged: writable, as Docker's --privileged */
    if (mount_in_root(rootfd, "/sys", OPEN_DIR, "sysfs", "sysfs",
                      nsd | (p->spec->privileged ? 0 : MS_RDONLY), NULL, NULL) < 0) {
        /* sysfs can only be mounted by the owner of the network namespace:
         * with the host network in a user namespace, bind the host's. */
        if (mount_in_root(rootfd, "/sys", OPEN_DIR, "/sys", NULL, bind_flags(), NULL, err) < 0 ||
            restrict_bind_in_root(rootfd, "/sys", MS_RDONLY, err) < 0)
            return -1;
    }
    if (setup_dev(p, rootfd, err) < 0 || setup_device_nodes(p, rootfd, err) < 0 ||
        setup_etc_files(p, rootfd, err) < 0 || setup_spec_mounts(p, rootfd, err) < 0 ||
        setup_device_mounts(p, rootfd, err) < 0 || setup_termination_log(p, rootfd, err) < 0)
        return -1;
    if (p->workdir) {
        _cleanup_close_ int wfd = -1;
        if (open_in_root(rootfd, p->workdir, OPEN_DIR, &wfd, err) < 0)
            return berth_error_prefix(err, "working directory");
    }
    if (p->spec->privileged) {
        /* every host device, no masked or read-only path */
        if (host_devices(rootfd, err) < 0)
            return -1;
        *ret_rootfd = TAKE_FD(rootfd);
        return 0;
    }

    /* The mask for files: a char device no rule allows (0:0), so reading a
     * masked file fails instead of reading as empty. A user namespace may
     * not mknod; /dev/null has to do there. */
    if (!p->userns) {
        _cleanup_close_ int devfd = -1;

        if (open_in_root(rootfd, "/dev", OPEN_EXISTING, &devfd, err) < 0)
            return -1;
        if (mknodat(devfd, ".berth-mask", S_IFCHR | 0000, makedev(0, 0)) < 0)
            return berth_error_errno(err, "mknod the mask node");
        if (open_in_root(rootfd, "/dev/.berth-mask", OPEN_EXISTING, &maskfd, err) < 0)
            return -1;
    } else if (open_in_root(rootfd, "/dev/null", OPEN_EXISTING, &maskfd, err) < 0) {
        return -1;
    }
    /* The /proc ones by name from /proc (proc_name); needs
     * mount_setattr(2) for the read-only ones, as restrict_bind_in_root. */
    by_name = have_mount_setattr() &&
              open_in_root(rootfd, "/proc", OPEN_EXISTING, &procfd, NULL) == 0 &&
              fchdir(procfd) == 0;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(masked_paths); i++) {
        const char *name = by_name ? proc_name(masked_paths[i]) : NULL;
        int r = name ? mask_proc_name(masked_paths[i], name, maskfd, err) : 1;

        if (r < 0 || (r > 0 && mask_path(rootfd, masked_paths[i], maskfd, err) < 0))
            return -1;
    }
    if (mask_cpu_paths(rootfd, maskfd, err) < 0)
        return -1;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(readonly_paths); i++) {
        const char *name = by_name ? proc_name(readonly_paths[i]) : NULL;
        int r = name ? readonly_proc_name(readonly_paths[i], name, err) : 1;

        if (r < 0 || (r > 0 && readonly_path(rootfd, readonly_paths[i], err) < 0))
            return -1;
    }
    if (!p->userns) {
        _cleanup_close_ int devfd = -1;
        char fdp[FD_PATH_LEN];
        int d;

        /* The bind mounts keep the node; the name goes. */
        if (open_in_root(rootfd, "/dev", OPEN_EXISTING, &devfd, err) < 0)
            return -1;
        d = open(fd_path(devfd, fdp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0 || unlinkat(d, ".berth-mask", 0) < 0) {
            if (d >= 0)
                close(d);
            return berth_error_errno(err, "remove the mask node");
        }
        close(d);
    }
    *ret_rootfd = TAKE_FD(rootfd);
    return 0;
}

int mount_finish(const child_plan *p, int rootfd, berth_error **err)
{
    /* Needs the cgroup namespace, so the process must be in its cgroup. */
    if (setup_cgroupfs(p, rootfd, err) < 0 || pivot(rootfd, err) < 0)
        return -1;
    if (p->spec->readonly_rootfs) {
        struct statvfs sv;

        if (statvfs("/", &sv) < 0)
            return berth_error_errno(err, "statvfs /");
        if (mount(NULL, "/", NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | statvfs_to_mount_flags(sv.f_flag), NULL) < 0)
            return berth_error_errno(err, "remount / read-only");
    }
    return 0;
}
