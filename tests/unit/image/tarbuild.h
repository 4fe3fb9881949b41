/* Layer tars for the image tests, built in memory with libarchive. */
#ifndef BERTH_TEST_TARBUILD_H
#define BERTH_TEST_TARBUILD_H

#include <archive.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tarb {
    struct archive *a;
    char *buf;
    size_t cap, used;
} tarb;

/* filter: ARCHIVE_FILTER_NONE, _GZIP or _ZSTD */
void tb_begin(tarb *t, int filter);
void tb_file(tarb *t, const char *path, mode_t mode, uid_t uid, gid_t gid, const char *content);
void tb_file_xattr(tarb *t, const char *path, const char *content, const char *xname,
                   const void *xvalue, size_t xsize);
void tb_dir(tarb *t, const char *path, mode_t mode);
void tb_symlink(tarb *t, const char *path, const char *target);
void tb_hardlink(tarb *t, const char *path, const char *target);
void tb_node(tarb *t, const char *path, mode_t type, unsigned major, unsigned minor);
/* Close the archive: t->buf holds t->used bytes (free it). */
void tb_end(tarb *t);

#endif
