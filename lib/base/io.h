/* EINTR-safe I/O wrappers, whole-file reads with a size cap, and the atomic
 * file write every piece of on-disk state goes through.
 *
 * The raw wrappers (berth_read_retry ...) follow the syscall convention
 * (-1 and errno) because their callers know the object and make the error;
 * the file helpers take berth_error **err and name the path themselves. */
#ifndef BERTH_BASE_IO_H
#define BERTH_BASE_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* read(2) retried on EINTR. Returns what read returns. */
ssize_t berth_read_retry(int fd, void *buf, size_t n);

/* Read until n bytes or EOF, retrying EINTR. Returns the byte count (< n only
 * at EOF) or -1 with errno. Blocking fds only. */
ssize_t berth_read_all(int fd, void *buf, size_t n);

/* Write all n bytes, retrying EINTR and short writes. 0, or -1 with errno.
 * Blocking fds only: on a non-blocking fd EAGAIN is returned as a failure. */
int berth_write_all(int fd, const void *buf, size_t n);

/* waitpid(2) retried on EINTR. */
pid_t berth_waitpid(pid_t pid, int *status, int flags);

/* Read a whole file (relative to dirfd, AT_FDCWD for cwd) into a new
 * NUL-terminated buffer. Files larger than max bytes are rejected with EFBIG
 * before more than max+1 bytes are read. *ret_len may be NULL. The caller
 * frees *ret_data. */
int berth_read_file_at(int dirfd, const char *path, size_t max, char **ret_data, size_t *ret_len,
                       berth_error **err);

/* Replace path (relative to dirfd) with data, atomically and durably:
 * write a temp file in the same directory, fsync it, rename it over path,
 * fsync the directory. Afterwards (even after a crash or power loss at any
 * point) path holds either its old content or the new one, never a mix, and
 * no temp file is left behind on failure. mode applies to the new file. */
int berth_write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len,
                               mode_t mode, berth_error **err);

/* berth_write_file_atomic_at without the fsyncs: a crash of the writer
 * leaves the old content or the new, a power loss may leave neither. For
 * state a reboot makes moot anyway (a pod's files: its pod is gone too). */
int berth_replace_file_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
                          berth_error **err);

/* Write a short string to an existing file in one write(2) (cgroup and proc
 * control files, which need the whole value in one write). No O_CREAT. */
int berth_write_file_string_at(int dirfd, const char *path, const char *value, berth_error **err);

/* mkdir -p: create path and missing parents with mode. Existing directories
 * are fine; an existing non-directory is ENOTDIR. */
int berth_mkdir_p(const char *path, mode_t mode, berth_error **err);

/* rm -rf path relative to dirfd: symlinks are removed, never followed,
 * and other file systems mounted below are not entered (EXDEV). A missing
 * path is success. */
int berth_rm_rf_at(int dirfd, const char *path, berth_error **err);

#endif
