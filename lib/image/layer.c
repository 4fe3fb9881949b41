/* A layer's tar stream into a directory: libarchive reads, every entry is
 * created relative to the layer's directory fd, whiteouts become
 * overlayfs's. */
#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "image/dl.h"
#include "image/text.h"

#define CHUNK          (256 * 1024)
#define WHITEOUT       ".wh."
#define WHITEOUT_META  ".wh..wh."
#define WHITEOUT_OPQ   ".wh..wh..opq"
#define OVERLAY_OPAQUE "trusted.overlay.opaque"

typedef struct dir_meta {
    char *path; /* cleaned, "" for the root */
    mode_t mode;
    uid_t uid;
    gid_t gid;
    struct timespec times[2];
} dir_meta;

typedef struct unpack {
    /* outer decompresses (gzip, zstd) when the data is compressed; inner
     * reads the tar from outer, or straight from the fd or memory */
    struct archive *outer, *inner;
    bool compressed;
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_off;
    berth_sha256 hash;
    unsigned char *chunk;
    berth_error *outer_err; /* a read failure of the outer stream */
    int rootfd;
    bool root_user;
    /* the directory of the last entry: most entries share their parent
     * with the one before */
    char *cache_path;
    int cache_fd;
    dir_meta *dirs;
    size_t n_dirs, cap_dirs;
    berth_layer_stats stats;
} unpack;

/* "./usr//bin/./sh" -> "usr/bin/sh" into out; "" for the root ("/", "./").
 * -1 (the error set) for an absolute path or a ".." component. */
static int clean_path(const char *in, char *out, size_t size, const char *what, berth_error **err)
{
    size_t n = 0;
    const char *p = in;

    if (!in)
        return berth_error_set(err, EINVAL, "%s without a name", what);
    /* "/" alone names the root (umoci writes it so); any other absolute
     * path is refused */
    if (in[0] == '/' && in[strspn(in, "/")] != '\0')
        return berth_error_set(err, EPERM, "%s %.200s: an absolute path", what, in);
    while (*p) {
        const char *e = strchr(p, '/');
        size_t cn = e ? (size_t)(e - p) : strlen(p);

        if (cn == 2 && p[0] == '.' && p[1] == '.')
            return berth_error_set(err, EPERM, "%s %.200s: a '..' component", what, in);
        if (cn > 0 && !(cn == 1 && p[0] == '.')) {
            if (n + cn + 2 > size)
                return berth_error_set(err, ENAMETOOLONG, "%s %.200s...: too long", what, in);
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, cn);
            n += cn;
        }
        if (!e)
            break;
        p = e + 1;
    }
    out[n] = '\0';
    return 0;
}

static void cache_drop(unpack *u)
{
    if (u->cache_fd >= 0)
        close(u->cache_fd);
    u->cache_fd = -1;
    free(u->cache_path);
    u->cache_path = NULL;
}

/* Open directory path (cleaned, relative to the layer root) one component
 * at a time, never following a symlink; with create, missing components
 * are made (0755, like tar's implicit parents). A new fd, or -1. */
static int walk(unpack *u, const char *path, bool create, berth_error **err)
{
    _cleanup_close_ int fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);
    const char *p = path;

    if (fd < 0)
        return berth_error_errno(err, "dup");
    while (*p) {
        const char *e = strchr(p, '/');
        size_t cn = e ? (size_t)(e - p) : strlen(p);
        char comp[NAME_MAX + 1];
        int next;

        if (cn > NAME_MAX)
            return berth_error_set(err, ENAMETOOLONG, "%.200s: a name longer than %d", path,
                                   NAME_MAX);
        memcpy(comp, p, cn);
        comp[cn] = '\0';
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
                return berth_error_errno(err, "mkdir %.*s", (int)(p - path + cn), path);
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            if (errno == ENOTDIR || errno == ELOOP)
                return berth_error_set(err, EPERM, "%.*s is not a directory (a symlink?)",
                                       (int)(p - path + cn), path);
            return berth_error_errno(err, "open %.*s", (int)(p - path + cn), path);
        }
        close(fd);
        fd = next;
        if (!e)
            break;
        p = e + 1;
    }
    return TAKE_FD(fd);
}

/* The parent directory of an entry, made when missing (cached). */
static int parent_fd(unpack *u, const char *parent, berth_error **err)
{
    int fd;

    if (u->cache_path && strcmp(u->cache_path, parent) == 0)
        return u->cache_fd;
    cache_drop(u);
    fd = walk(u, parent, true, err);
    if (fd < 0)
        return -1;
    u->cache_fd = fd;
    u->cache_path = berth_xstrdup(parent);
    return fd;
}

/* Remove name in pfd unless it is a directory and keep_dir. */
static int remove_existing(unpack *u, int pfd, const char *name, bool keep_dir, berth_error **err)
{
    struct stat st;

    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "stat %s", name);
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 0;
        cache_drop(u);
        return berth_rm_rf_at(pfd, name, err);
    }
    if (unlinkat(pfd, name, 0) < 0)
        return berth_error_errno(err, "remove %s", name);
    return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
}

/* xattrs a layer may set: user.* and file capabilities. */
static bool xattr_allowed(const char *name)
{
    return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static int apply_xattrs(int fd, struct archive_entry *e, const char *path, berth_error **err)
{
    const char *name;
    const void *value;
    size_t size;

    if (archive_entry_xattr_reset(e) == 0)
        return 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!name || !xattr_allowed(name))
            continue;
        if (fsetxattr(fd, name, value, size, 0) < 0 && errno != EOPNOTSUPP)
            return berth_error_errno(err, "%s: set xattr %s", path, name);
    }
    return 0;
}

/* Owner, mode, xattrs and times of a file, device or fifo open as fd. */
static int apply_meta_fd(unpack *u, int fd, struct archive_entry *e, const char *path,
                         berth_error **err)
{
    struct timespec ts[2];

    if (u->root_user && fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0)
        return berth_error_errno(err, "chown %s", path);
    /* after chown, which clears set-id bits */
    if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        return berth_error_errno(err, "chmod %s", path);
    if (apply_xattrs(fd, e, path, err) < 0)
        return -1;
    entry_times(e, ts);
    if (futimens(fd, ts) < 0)
        return berth_error_errno(err, "set times of %s", path);
    return 0;
}

static int write_file(unpack *u, int pfd, const char *name, const char *path,
                      struct archive_entry *e, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    int64_t end = 0, size = archive_entry_size(e);

    fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        if (remove_existing(u, pfd, name, false, err) < 0)
            return -1;
        fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return berth_error_errno(err, "create %s", path);
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(u->inner, &buf, &len, &off);

        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            if (u->outer_err)
                return berth_error_set(err, u->outer_err->code, "%s", u->outer_err->msg);
            return berth_error_set(err, EINVAL, "read %s: %s", path,
                                   archive_error_string(u->inner));
        }
        for (size_t done = 0; done < len;) {
            ssize_t w = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return berth_error_errno(err, "write %s", path);
            done += (size_t)w;
        }
        if (off + (int64_t)len > end)
            end = off + (int64_t)len;
    }
    if (size > end && ftruncate(fd, size) < 0) /* a sparse file's last hole */
        return berth_error_errno(err, "write %s", path);
    /* start writing it back now, so that the sync which makes the layer
     * durable finds little left to do */
    if (size > 0)
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    u->stats.bytes += size > end ? size : end;
    return apply_meta_fd(u, fd, e, path, err);
}

static int make_dir(unpack *u, int pfd, const char *name, const char *path, struct archive_entry *e,
                    berth_error **err)
{
    _cleanup_close_ int fd = -1;
    dir_meta *m;

    if (*name) {
        if (remove_existing(u, pfd, name, true, err) < 0)
            return -1;
        if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
            return berth_error_errno(err, "mkdir %s", path);
        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    } else {
        fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);
    }
    if (fd < 0)
        return berth_error_errno(err, "open %s", *path ? path : ".");
    if (apply_xattrs(fd, e, path, err) < 0)
        return -1;
    /* mode, owner and times once everything inside is written */
    if (u->n_dirs == u->cap_dirs) {
        u->cap_dirs = u->cap_dirs ? 2 * u->cap_dirs : 64;
        u->dirs = berth_xreallocarray(u->dirs, u->cap_dirs, sizeof(*u->dirs));
    }
    m = &u->dirs[u->n_dirs++];
    m->path = berth_xstrdup(path);
    m->mode = archive_entry_perm(e) & 07777;
    m->uid = archive_entry_uid(e);
    m->gid = archive_entry_gid(e);
    entry_times(e, m->times);
    return 0;
}

static int finish_dirs(unpack *u, berth_error **err)
{
    cache_drop(u);
    for (size_t i = u->n_dirs; i-- > 0;) {
        dir_meta *m = &u->dirs[i];
        _cleanup_error_ berth_error *e = NULL;
        _cleanup_close_ int fd = walk(u, m->path, false, &e);

        if (fd < 0)
            continue; /* replaced by a later entry */
        if (u->root_user && fchown(fd, m->uid, m->gid) < 0)
            return berth_error_errno(err, "chown %s", *m->path ? m->path : ".");
        if (fchmod(fd, m->mode) < 0)
            return berth_error_errno(err, "chmod %s", *m->path ? m->path : ".");
        if (futimens(fd, m->times) < 0)
            return berth_error_errno(err, "set times of %s", *m->path ? m->path : ".");
    }
    return 0;
}

static int make_special(unpack *u, int pfd, const char *name, const char *path,
                        struct archive_entry *e, berth_error **err)
{
    mode_t type = archive_entry_filetype(e);
    struct timespec ts[2];
    int r;

    if ((type == AE_IFCHR || type == AE_IFBLK) && !u->root_user)
        return berth_error_set(err, EPERM, "%s: a device node: only root unpacks device nodes",
                               path);
    if (remove_existing(u, pfd, name, false, err) < 0)
        return -1;
    if (type == AE_IFIFO)
        r = mkfifoat(pfd, name, 0600);
    else
        r = mknodat(pfd, name, (type == AE_IFCHR ? S_IFCHR : S_IFBLK) | 0600,
                    makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e)));
    if (r < 0)
        return berth_error_errno(err, "mknod %s", path);
    if (u->root_user &&
        fchownat(pfd, name, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_errno(err, "chown %s", path);
    if (fchmodat(pfd, name, archive_entry_perm(e) & 07777, 0) < 0)
        return berth_error_errno(err, "chmod %s", path);
    entry_times(e, ts);
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_errno(err, "set times of %s", path);
    return 0;
}

static int make_symlink(unpack *u, int pfd, const char *name, const char *path,
                        struct archive_entry *e, berth_error **err)
{
    const char *target = archive_entry_symlink(e);
    struct timespec ts[2];

    if (!target || !*target || strlen(target) >= PATH_MAX)
        return berth_error_set(err, EINVAL, "symlink %s: no target, or one too long", path);
    if (remove_existing(u, pfd, name, false, err) < 0)
        return -1;
    if (symlinkat(target, pfd, name) < 0)
        return berth_error_errno(err, "symlink %s", path);
    if (u->root_user &&
        fchownat(pfd, name, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_errno(err, "chown %s", path);
    entry_times(e, ts);
    if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_errno(err, "set times of %s", path);
    return 0;
}

/* Split a cleaned path into its parent and last name, in buf. */
static void split(char *path, const char **ret_parent, const char **ret_name)
{
    char *slash = strrchr(path, '/');

    if (slash) {
        *slash = '\0';
        *ret_parent = path;
        *ret_name = slash + 1;
    } else {
        *ret_parent = "";
        *ret_name = path;
    }
}

static int make_hardlink(unpack *u, int pfd, const char *name, const char *path,
                         struct archive_entry *e, berth_error **err)
{
    char target[PATH_MAX], tbuf[PATH_MAX];
    const char *tparent, *tname;
    _cleanup_close_ int tfd = -1;
    _cleanup_error_ berth_error *e2 = NULL;

    if (clean_path(archive_entry_hardlink(e), target, sizeof(target), "hard link target", err) < 0)
        return berth_error_prefix(err, "hard link %s", path);
    if (!*target)
        return berth_error_set(err, EPERM, "hard link %s: to the layer's root", path);
    memcpy(tbuf, target, sizeof(tbuf));
    split(tbuf, &tparent, &tname);
    tfd = walk(u, tparent, false, &e2);
    if (tfd < 0)
        return berth_error_set(err, EPERM, "hard link %s: target %s is not in this layer: %s", path,
                               target, e2->msg);
    if (remove_existing(u, pfd, name, false, err) < 0)
        return -1;
    if (linkat(tfd, tname, pfd, name, 0) < 0) {
        if (errno == ENOENT)
            return berth_error_set(err, EPERM, "hard link %s: target %s is not in this layer", path,
                                   target);
        return berth_error_errno(err, "hard link %s to %s", path, target);
    }
    return 0;
}

static int whiteout(unpack *u, int pfd, const char *name, const char *path, struct archive_entry *e,
                    berth_error **err)
{
    const char *hidden = name + strlen(WHITEOUT);

    if (strcmp(name, WHITEOUT_OPQ) == 0) {
        /* the parent hides everything below it in lower layers */
        if (fsetxattr(pfd, OVERLAY_OPAQUE, "y", 1, 0) < 0)
            return berth_error_errno(err, "opaque directory %s: set %s", path, OVERLAY_OPAQUE);
        return 0;
    }
    if (strncmp(name, WHITEOUT_META, strlen(WHITEOUT_META)) == 0)
        return 0; /* AUFS's own bookkeeping (.wh..wh.plnk, .wh..wh.aufs) */
    if (!*hidden || strcmp(hidden, ".") == 0 || strcmp(hidden, "..") == 0)
        return berth_error_set(err, EINVAL, "whiteout %s: names nothing", path);
    if (remove_existing(u, pfd, hidden, false, err) < 0)
        return -1;
    if (mknodat(pfd, hidden, S_IFCHR | 0600, makedev(0, 0)) < 0)
        return berth_error_errno(err, "whiteout %s: mknod", path);
    if (u->root_user &&
        fchownat(pfd, hidden, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return berth_error_errno(err, "whiteout %s: chown", path);
    return 0;
}

static int do_entry(unpack *u, struct archive_entry *e, berth_error **err)
{
    char path[PATH_MAX], buf[PATH_MAX];
    const char *parent, *name;
    mode_t type = archive_entry_filetype(e);
    int pfd;

    if (clean_path(archive_entry_pathname(e), path, sizeof(path), "entry", err) < 0)
        return -1;
    if (!*path) {
        if (archive_entry_hardlink(e) || type != AE_IFDIR)
            return berth_error_set(err, EPERM, "the layer's root is not a directory");
        return make_dir(u, u->rootfd, "", "", e, err);
    }
    memcpy(buf, path, sizeof(buf));
    split(buf, &parent, &name);
    if (strlen(name) > NAME_MAX)
        return berth_error_set(err, ENAMETOOLONG, "%.200s: a name longer than %d", path, NAME_MAX);
    pfd = parent_fd(u, parent, err);
    if (pfd < 0)
        return berth_error_prefix(err, "%.200s", path);
    if (strncmp(name, WHITEOUT, strlen(WHITEOUT)) == 0)
        return whiteout(u, pfd, name, path, e, err);
    if (archive_entry_hardlink(e))
        return make_hardlink(u, pfd, name, path, e, err);
    switch (type) {
    case AE_IFREG:
        return write_file(u, pfd, name, path, e, err);
    case AE_IFDIR:
        return make_dir(u, pfd, name, path, e, err);
    case AE_IFLNK:
        return make_symlink(u, pfd, name, path, e, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        return make_special(u, pfd, name, path, e, err);
    default:
        return 0; /* sockets: tar cannot restore them either */
    }
}

/* The next piece of the uncompressed stream: 0 at its end, -1 on a read
 * failure (u->outer_err set). */
static la_ssize_t next_chunk(unpack *u, const void **buf)
{
    la_ssize_t n;

    if (u->compressed) {
        n = archive_read_data(u->outer, u->chunk, CHUNK);
        if (n < 0) {
            berth_error_set(&u->outer_err, EINVAL, "decompress: %s",
                            archive_error_string(u->outer));
            return -1;
        }
        *buf = u->chunk;
    } else if (u->mem) {
        n = (la_ssize_t)(u->mem_len - u->mem_off < CHUNK ? u->mem_len - u->mem_off : CHUNK);
        *buf = u->mem + u->mem_off;
        u->mem_off += (size_t)n;
    } else {
        n = berth_read_retry(u->fd, u->chunk, CHUNK);
        if (n < 0) {
            berth_error_errno(&u->outer_err, "read");
            return -1;
        }
        *buf = u->chunk;
    }
    berth_sha256_update(&u->hash, *buf, (size_t)n);
    return n;
}

/* The inner (tar) archive reads the uncompressed stream, hashing it on
 * the way: that hash is the diff id. */
static la_ssize_t inner_read(struct archive *a, void *data, const void **buf)
{
    unpack *u = data;
    la_ssize_t n = next_chunk(u, buf);

    if (n < 0)
        archive_set_error(a, u->outer_err->code, "%s", u->outer_err->msg);
    return n;
}

static int run(unpack *u, berth_error **err)
{
    struct archive_entry *e;
    const void *buf;
    int r;

    if (u->compressed) {
        r = archive_read_next_header(u->outer, &e);
        if (r == ARCHIVE_EOF)
            return berth_error_set(err, EINVAL, "an empty archive");
        if (r < ARCHIVE_WARN)
            return berth_error_set(err, EINVAL, "decompress: %s", archive_error_string(u->outer));
    }
    if (archive_read_open(u->inner, u, NULL, inner_read, NULL) < ARCHIVE_WARN) {
        if (u->outer_err)
            return berth_error_set(err, u->outer_err->code, "%s", u->outer_err->msg);
        return berth_error_set(err, EINVAL, "not a tar archive, or a damaged one: %s",
                               archive_error_string(u->inner));
    }
    for (;;) {
        r = archive_read_next_header(u->inner, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            if (u->outer_err)
                return berth_error_set(err, u->outer_err->code, "%s", u->outer_err->msg);
            return berth_error_set(err, EINVAL, "not a tar archive, or a damaged one: %s",
                                   archive_error_string(u->inner));
        }
        if (++u->stats.entries > BERTH_LAYER_ENTRIES_MAX)
            return berth_error_set(err, EFBIG, "more than %d entries", BERTH_LAYER_ENTRIES_MAX);
        if (do_entry(u, e, err) < 0)
            return -1;
    }
    /* what follows the tar's end (padding) is part of the diff id */
    for (;;) {
        la_ssize_t n = next_chunk(u, &buf);

        if (n == 0)
            break;
        if (n < 0)
            return berth_error_set(err, u->outer_err->code, "%s", u->outer_err->msg);
    }
    if (finish_dirs(u, err) < 0)
        return -1;
    berth_sha256_final(&u->hash, u->stats.diff_id);
    return 0;
}

/* gzip and zstd are told by their magic numbers; anything else is read
 * as a tar. */
static bool is_compressed(const unsigned char *p, size_t n)
{
    return (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
           (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd);
}

static void unpack_init(unpack *u, int dirfd)
{
    memset(u, 0, sizeof(*u));
    u->outer = archive_read_new();
    u->inner = archive_read_new();
    if (!u->outer || !u->inner)
        berth_oom();
    archive_read_support_filter_gzip(u->outer);
    archive_read_support_filter_zstd(u->outer);
    archive_read_support_format_raw(u->outer);
    archive_read_support_format_tar(u->inner);
    u->chunk = berth_xmalloc(CHUNK);
    u->rootfd = dirfd;
    u->fd = -1;
    u->cache_fd = -1;
    u->root_user = geteuid() == 0;
    berth_sha256_init(&u->hash);
}

static void unpack_done(unpack *u)
{
    archive_read_free(u->inner);
    archive_read_free(u->outer);
    cache_drop(u);
    for (size_t i = 0; i < u->n_dirs; i++)
        free(u->dirs[i].path);
    free(u->dirs);
    free(u->chunk);
    berth_error_free(&u->outer_err);
}

/* Open the outer archive when the data is compressed (open is
 * archive_read_open_fd's or _memory's work, done by the caller), run,
 * and clean up. */
static int unpack_finish(unpack *u, int opened, berth_layer_stats *ret, berth_error **err)
{
    int r;

    if (u->compressed && opened < ARCHIVE_WARN)
        r = berth_error_set(err, EINVAL, "decompress: %s", archive_error_string(u->outer));
    else
        r = run(u, err);
    if (r == 0 && ret)
        *ret = u->stats;
    unpack_done(u);
    return r < 0 ? berth_image_error_line(err) : 0;
}

int berth_layer_unpack_fd(int fd, int dirfd, berth_layer_stats *ret, berth_error **err)
{
    unsigned char magic[4];
    off_t at = lseek(fd, 0, SEEK_CUR);
    ssize_t n = at < 0 ? -1 : pread(fd, magic, sizeof(magic), at);
    unpack u;

    if (n < 0)
        return berth_error_errno(err, "read");
    if (n == 0)
        return berth_error_set(err, EINVAL, "an empty archive");
    if (image_dl_archive(err) < 0)
        return -1;
    unpack_init(&u, dirfd);
    u.fd = fd;
    u.compressed = is_compressed(magic, (size_t)n);
    return unpack_finish(&u, u.compressed ? archive_read_open_fd(u.outer, fd, CHUNK) : ARCHIVE_OK,
                         ret, err);
}

int berth_layer_unpack_mem(const void *data, size_t len, int dirfd, berth_layer_stats *ret,
                           berth_error **err)
{
    unpack u;

    if (len == 0)
        return berth_error_set(err, EINVAL, "an empty archive");
    if (image_dl_archive(err) < 0)
        return -1;
    unpack_init(&u, dirfd);
    u.compressed = is_compressed(data, len);
    u.mem = data;
    u.mem_len = len;
    return unpack_finish(
        &u, u.compressed ? archive_read_open_memory(u.outer, data, len) : ARCHIVE_OK, ret, err);
}
