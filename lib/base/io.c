/* EINTR-safe wrappers, capped whole-file reads and the atomic write. */
#include "io.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "cleanup.h"
#include "xalloc.h"

ssize_t berth_read_retry(int fd, void *buf, size_t n)
{
    ssize_t r;

    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

ssize_t berth_read_all(int fd, void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = berth_read_retry(fd, (char *)buf + done, n - done);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int berth_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

pid_t berth_waitpid(pid_t pid, int *status, int flags)
{
    pid_t r;

    do
        r = waitpid(pid, status, flags);
    while (r < 0 && errno == EINTR);
    return r;
}

int berth_read_file_at(int dirfd, const char *path, size_t max, char **ret_data, size_t *ret_len,
                       berth_error **err)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *buf = NULL;
    size_t cap = 4096, len = 0;

    if (max >= SIZE_MAX - 1)
        max = SIZE_MAX - 2;
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    if (cap > max + 1)
        cap = max + 1;
    buf = berth_xmalloc(cap + 1);
    for (;;) {
        ssize_t r;

        if (len == cap) {
            size_t ncap;

            if (len > max)
                return berth_error_set(err, EFBIG, "read %s: larger than %zu bytes", path, max);
            ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = berth_xreallocarray(buf, ncap + 1, 1);
            cap = ncap;
        }
        r = berth_read_retry(fd, buf + len, cap - len);
        if (r < 0)
            return berth_error_errno(err, "read %s", path);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > max)
        return berth_error_set(err, EFBIG, "read %s: larger than %zu bytes", path, max);
    buf[len] = '\0';
    *ret_data = TAKE_PTR(buf);
    if (ret_len)
        *ret_len = len;
    return 0;
}

/* Split path into an open directory fd and the final component. */
static int open_parent(int dirfd, const char *path, int *ret_fd, const char **ret_base,
                       berth_error **err)
{
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *dir = NULL;
    int fd;

    if (!slash) {
        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return berth_error_errno(err, "open directory of %s", path);
        *ret_base = path;
    } else {
        dir = slash == path ? berth_xstrdup("/") : berth_xstrndup(path, (size_t)(slash - path));
        fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return berth_error_errno(err, "open directory %s", dir);
        *ret_base = slash + 1;
    }
    if (**ret_base == '\0') {
        close(fd);
        return berth_error_set(err, EISDIR, "write %s: not a file name", path);
    }
    *ret_fd = fd;
    return 0;
}

static int write_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                        bool durable, berth_error **err)
{
    _cleanup_close_ int dfd = -1, fd = -1;
    char tmp[NAME_MAX + 1];
    const char *base = NULL;
    uint64_t rnd;
    int r;

    r = open_parent(dirfd, path, &dfd, &base, err);
    if (r < 0)
        return r;
    /* A unique hidden name in the same directory (rename must not cross file
     * systems); O_EXCL so two writers never share a temp file. */
    for (int attempt = 0;; attempt++) {
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
            rnd = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt;
        if (snprintf(tmp, sizeof(tmp), ".%.200s.tmp%016llx", base, (unsigned long long)rnd) >=
            (int)sizeof(tmp))
            return berth_error_make(err, ENAMETOOLONG, "write %s", path);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
        if (fd >= 0)
            break;
        if (errno != EEXIST || attempt >= 16)
            return berth_error_errno(err, "create temp file for %s", path);
    }
    /* fchmod: the umask must not decide a state file's mode. */
    if (fchmod(fd, mode) < 0) {
        berth_error_errno(err, "chmod temp file for %s", path);
        goto fail;
    }
    if (berth_write_all(fd, data, len) < 0) {
        berth_error_errno(err, "write %s", path);
        goto fail;
    }
    if (durable && fsync(fd) < 0) {
        berth_error_errno(err, "fsync %s", path);
        goto fail;
    }
    if (close(TAKE_FD(fd)) < 0) {
        berth_error_errno(err, "close %s", path);
        goto fail;
    }
    if (renameat(dfd, tmp, dfd, base) < 0) {
        berth_error_errno(err, "rename temp file over %s", path);
        goto fail;
    }
    /* The rename is durable only once the directory is. */
    if (durable && fsync(dfd) < 0)
        return berth_error_errno(err, "fsync directory of %s", path);
    return 0;

fail:
    unlinkat(dfd, tmp, 0);
    return -1;
}

int berth_write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len,
                               mode_t mode, berth_error **err)
{
    return write_atomic(dirfd, path, data, len, mode, true, err);
}

int berth_replace_file_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                          berth_error **err)
{
    return write_atomic(dirfd, path, data, len, mode, false, err);
}

int berth_write_file_string_at(int dirfd, const char *path, const char *value, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    size_t len = strlen(value);
    ssize_t w;

    fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    do
        w = write(fd, value, len);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return berth_error_errno(err, "write '%s' to %s", value, path);
    if ((size_t)w != len)
        return berth_error_set(err, EIO, "write '%s' to %s: short write", value, path);
    return 0;
}

int berth_mkdir_p(const char *path, mode_t mode, berth_error **err)
{
    _cleanup_free_ char *p = berth_xstrdup(path);
    struct stat st;

    if (*p == '\0')
        return berth_error_set(err, EINVAL, "mkdir: empty path");
    for (char *s = p + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return berth_error_errno(err, "mkdir %s", p);
        if (stat(p, &st) < 0)
            return berth_error_errno(err, "stat %s", p);
        if (!S_ISDIR(st.st_mode))
            return berth_error_set(err, ENOTDIR, "mkdir %s: not a directory", p);
        if (c == '\0')
            break;
        *s = '/';
        while (s[1] == '/')
            s++;
    }
    return 0;
}

/* Empty the directory dfd (named path, for messages) without recursion:
 * a subdirectory's own subdirectories are first moved up into dfd under
 * fresh names, so the tree flattens as it is removed. Depth costs neither
 * stack nor fds (a container can nest its writable layer as deep as it
 * likes). */
static int rm_rf_children(int dfd, dev_t dev, const char *path, berth_error **err)
{
    unsigned long moved = 0;

    for (;;) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd, progress = 0;

        fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return berth_error_errno(err, "remove %s", path);
        d = fdopendir(fd);
        if (!d) {
            close(fd);
            return berth_error_errno(err, "remove %s", path);
        }
        while ((errno = 0, de = readdir(d))) {
            _cleanup_close_ int sub = -1;
            _cleanup_closedir_ DIR *sd = NULL;
            struct dirent *se;
            struct stat st;
            int sfd;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            progress = 1;
            if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                    continue;
                return berth_error_errno(err, "remove %s/%s", path, de->d_name);
            }
            if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT)
                    return berth_error_errno(err, "remove %s/%s", path, de->d_name);
                continue;
            }
            if (st.st_dev != dev)
                return berth_error_set(err, EXDEV, "remove %s/%s: a mount point", path, de->d_name);
            if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                continue;
            if (errno != ENOTEMPTY && errno != EEXIST)
                return berth_error_errno(err, "remove %s/%s", path, de->d_name);
            /* Not empty: lift its entries up here, remove it next round. */
            sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                return berth_error_errno(err, "remove %s/%s", path, de->d_name);
            sfd = fcntl(sub, F_DUPFD_CLOEXEC, 3);
            if (sfd < 0 || !(sd = fdopendir(sfd))) {
                if (sfd >= 0)
                    close(sfd);
                return berth_error_errno(err, "remove %s/%s", path, de->d_name);
            }
            while ((errno = 0, se = readdir(sd))) {
                char name[64];

                if (strcmp(se->d_name, ".") == 0 || strcmp(se->d_name, "..") == 0)
                    continue;
                snprintf(name, sizeof(name), ".rm-%lu", moved++);
                if (renameat(sub, se->d_name, dfd, name) < 0 && errno != ENOENT)
                    return berth_error_errno(err, "remove %s/%s/%s", path, de->d_name, se->d_name);
            }
            if (errno)
                return berth_error_errno(err, "read directory %s/%s", path, de->d_name);
        }
        if (errno)
            return berth_error_errno(err, "read directory %s", path);
        if (!progress)
            return 0;
    }
}

int berth_rm_rf_at(int dirfd, const char *path, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    struct stat st;

    if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "remove %s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, path, 0) < 0 && errno != ENOENT)
            return berth_error_errno(err, "remove %s", path);
        return 0;
    }
    fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return berth_error_errno(err, "remove %s", path);
    if (rm_rf_children(fd, st.st_dev, path, err) < 0)
        return -1;
    if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return berth_error_errno(err, "remove %s", path);
    return 0;
}
