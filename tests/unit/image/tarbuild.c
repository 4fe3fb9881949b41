#include "tarbuild.h"

#include <archive_entry.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TB_CAP (64 << 20)

void tb_begin(tarb *t, int filter)
{
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    if (filter == ARCHIVE_FILTER_GZIP)
        archive_write_add_filter_gzip(t->a);
    else if (filter == ARCHIVE_FILTER_ZSTD)
        archive_write_add_filter_zstd(t->a);
    t->cap = TB_CAP;
    t->buf = malloc(t->cap);
    t->used = 0;
    ck_assert_int_eq(archive_write_open_memory(t->a, t->buf, t->cap, &t->used), ARCHIVE_OK);
}

static struct archive_entry *entry(const char *path, mode_t type, mode_t mode)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1600000000, 0);
    return e;
}

static void put(tarb *t, struct archive_entry *e, const char *content)
{
    ck_assert_int_eq(archive_write_header(t->a, e), ARCHIVE_OK);
    if (content)
        ck_assert_int_eq(archive_write_data(t->a, content, strlen(content)),
                         (la_ssize_t)strlen(content));
    archive_entry_free(e);
}

void tb_file(tarb *t, const char *path, mode_t mode, uid_t uid, gid_t gid, const char *content)
{
    struct archive_entry *e = entry(path, AE_IFREG, mode);

    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    archive_entry_set_size(e, (la_int64_t)strlen(content));
    put(t, e, content);
}

void tb_file_xattr(tarb *t, const char *path, const char *content, const char *xname,
                   const void *xvalue, size_t xsize)
{
    struct archive_entry *e = entry(path, AE_IFREG, 0644);

    archive_entry_set_size(e, (la_int64_t)strlen(content));
    archive_entry_xattr_add_entry(e, xname, xvalue, xsize);
    put(t, e, content);
}

void tb_dir(tarb *t, const char *path, mode_t mode)
{
    put(t, entry(path, AE_IFDIR, mode), NULL);
}

void tb_symlink(tarb *t, const char *path, const char *target)
{
    struct archive_entry *e = entry(path, AE_IFLNK, 0777);

    archive_entry_set_symlink(e, target);
    put(t, e, NULL);
}

void tb_hardlink(tarb *t, const char *path, const char *target)
{
    struct archive_entry *e = entry(path, AE_IFREG, 0644);

    archive_entry_set_hardlink(e, target);
    archive_entry_set_size(e, 0);
    put(t, e, NULL);
}

void tb_node(tarb *t, const char *path, mode_t type, unsigned major, unsigned minor)
{
    struct archive_entry *e = entry(path, type, 0644);

    archive_entry_set_rdevmajor(e, major);
    archive_entry_set_rdevminor(e, minor);
    put(t, e, NULL);
}

void tb_end(tarb *t)
{
    ck_assert_int_eq(archive_write_close(t->a), ARCHIVE_OK);
    archive_write_free(t->a);
    t->a = NULL;
}
