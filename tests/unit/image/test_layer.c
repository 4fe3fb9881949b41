/* Layer tars into directories: what overlayfs needs (whiteouts, opaque
 * directories), what a root file system keeps (owners, modes, links,
 * devices, xattrs), and what a hostile layer must not do (write outside
 * its directory, steer overlayfs). Runs as root. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "image/digest.h"
#include "image/layer.h"
#include "tarbuild.h"

static char dir[64], outside[64];
static int dfd = -1;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-layer-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(outside, sizeof(outside), "/tmp/berth-layer-outside.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(outside));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
    close(dfd);
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    berth_rm_rf_at(AT_FDCWD, outside, NULL);
}

static int unpack(tarb *t, berth_layer_stats *st, berth_error **err)
{
    int r = berth_layer_unpack_mem(t->buf, t->used, dfd, st, err);

    free(t->buf);
    t->buf = NULL;
    return r;
}

static struct stat lstat_in(const char *path)
{
    struct stat st;

    if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
        ck_abort_msg("%s: %s", path, strerror(errno));
    return st;
}

static bool exists_in(const char *path)
{
    struct stat st;

    return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void rootfs_tar(tarb *t)
{
    tb_dir(t, "./", 0755);
    tb_dir(t, "./bin/", 0755);
    tb_file(t, "./bin/tool", 04755, 0, 0, "#!/bin/sh\n");
    tb_file(t, "etc/shadow", 0640, 0, 42, "root:*:1::::::\n");
    tb_file(t, "home/u/file", 0600, 1234, 5678, "mine");
    tb_symlink(t, "bin/sh", "/bin/busybox");
    tb_symlink(t, "etc/localtime", "../usr/share/zoneinfo/UTC");
    tb_hardlink(t, "bin/tool2", "./bin/tool");
    tb_node(t, "dev/null", AE_IFCHR, 1, 3);
    tb_node(t, "run/fifo", AE_IFIFO, 0, 0);
    tb_dir(t, "ro/", 0555);
    tb_file(t, "ro/inside", 0644, 0, 0, "x");
    /* vfs_cap_data v2: cap_net_raw permitted and effective */
    tb_file_xattr(t, "cap", "ping", "security.capability",
                  "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                  "\x00",
                  20);
    tb_file_xattr(t, "userx", "u", "user.note", "kept", 4);
}

START_TEST(a_root_file_system_is_kept)
{
    tarb t;
    berth_layer_stats st;
    berth_error *err = NULL;
    struct stat s;
    char buf[64];
    ssize_t n;

    tb_begin(&t, ARCHIVE_FILTER_GZIP);
    rootfs_tar(&t);
    tb_end(&t);
    if (unpack(&t, &st, &err) < 0)
        ck_abort_msg("%s", err->msg);
    s = lstat_in("bin/tool");
    ck_assert_uint_eq(s.st_mode & 07777, 04755);
    ck_assert_int_eq(s.st_mtime, 1600000000);
    s = lstat_in("etc/shadow");
    ck_assert_uint_eq(s.st_gid, 42);
    ck_assert_uint_eq(s.st_mode & 07777, 0640);
    s = lstat_in("home/u/file");
    ck_assert_uint_eq(s.st_uid, 1234);
    ck_assert_uint_eq(s.st_gid, 5678);
    n = readlinkat(dfd, "bin/sh", buf, sizeof(buf) - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "/bin/busybox"); /* kept as is: resolved in the container */
    ck_assert_uint_eq(lstat_in("bin/tool2").st_ino, lstat_in("bin/tool").st_ino);
    s = lstat_in("dev/null");
    ck_assert(S_ISCHR(s.st_mode));
    ck_assert_uint_eq(major(s.st_rdev), 1);
    ck_assert_uint_eq(minor(s.st_rdev), 3);
    ck_assert(S_ISFIFO(lstat_in("run/fifo").st_mode));
    /* a directory's mode is set after its contents */
    ck_assert_uint_eq(lstat_in("ro").st_mode & 07777, 0555);
    ck_assert(exists_in("ro/inside"));
    ck_assert_int_eq(lstat_in(".").st_mode & 07777, 0755);
    n = getxattr(strcat(strcpy(buf, dir), "/userx"), "user.note", buf, sizeof(buf));
    if (n >= 0) /* tmpfs before 6.6 has no user xattrs */
        ck_assert_int_eq(memcmp(buf, "kept", 4), 0);
    ck_assert_uint_eq(st.entries, 14);
    ck_assert_int_eq(st.bytes, 10 + 15 + 4 + 1 + 4 + 1);
}
END_TEST

START_TEST(whiteouts_become_overlayfs_whiteouts)
{
    tarb t;
    berth_error *err = NULL;
    char path[128], v[8];
    struct stat s;

    tb_begin(&t, ARCHIVE_FILTER_NONE);
    tb_file(&t, "data/b", 0644, 0, 0, "replaced by the whiteout below");
    tb_file(&t, "data/.wh.b", 0, 0, 0, "");
    tb_file(&t, "gone/.wh.nested-dir", 0, 0, 0, "");
    tb_file(&t, "etc/.wh..wh..opq", 0, 0, 0, "");
    tb_file(&t, "etc/only", 0644, 0, 0, "only");
    tb_file(&t, "x/.wh..wh.plnk", 0, 0, 0, "");
    tb_end(&t);
    if (unpack(&t, NULL, &err) < 0)
        ck_abort_msg("%s", err->msg);
    s = lstat_in("data/b");
    ck_assert(S_ISCHR(s.st_mode));
    ck_assert_uint_eq(s.st_rdev, makedev(0, 0));
    ck_assert(!exists_in("data/.wh.b"));
    ck_assert(S_ISCHR(lstat_in("gone/nested-dir").st_mode));
    snprintf(path, sizeof(path), "%s/etc", dir);
    ck_assert_int_eq(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1);
    ck_assert_int_eq(v[0], 'y');
    ck_assert(!exists_in("etc/.wh..wh..opq"));
    ck_assert(exists_in("etc/only"));
    ck_assert(!exists_in("x/.wh..wh.plnk")); /* AUFS bookkeeping, skipped */
}
END_TEST

static void refused(void (*build)(tarb *), const char *want)
{
    tarb t;
    berth_error *err = NULL;

    tb_begin(&t, ARCHIVE_FILTER_NONE);
    build(&t);
    tb_end(&t);
    ck_assert_int_lt(unpack(&t, NULL, &err), 0);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strcmp(err->msg, want) == 0, "got [%s] want [%s]", err->msg, want);
    berth_error_free(&err);
}

static void abs_path(tarb *t)
{
    tb_file(t, "/etc/passwd", 0644, 0, 0, "x");
}
static void dotdot(tarb *t)
{
    tb_file(t, "a/../../escape", 0644, 0, 0, "x");
}
static char evil_target[128];
static void through_symlink(tarb *t)
{
    tb_symlink(t, "link", evil_target);
    tb_file(t, "link/evil", 0644, 0, 0, "x");
}
static void hardlink_out(tarb *t)
{
    tb_hardlink(t, "h", "/etc/passwd");
}
static void hardlink_up(tarb *t)
{
    tb_hardlink(t, "h", "../../etc/passwd");
}
static void hardlink_missing(tarb *t)
{
    tb_hardlink(t, "h", "not/here");
}
static void hardlink_through_symlink(tarb *t)
{
    tb_symlink(t, "etc", "/etc");
    tb_hardlink(t, "h", "etc/passwd");
}
static void empty_whiteout(tarb *t)
{
    tb_file(t, "a/.wh.", 0, 0, 0, "");
}

START_TEST(nothing_is_written_outside)
{
    refused(abs_path, "entry /etc/passwd: an absolute path");
    refused(dotdot, "entry a/../../escape: a '..' component");
    snprintf(evil_target, sizeof(evil_target), "%s", outside);
    refused(through_symlink, "link/evil: link is not a directory (a symlink?)");
    refused(hardlink_out, "hard link h: hard link target /etc/passwd: an absolute path");
    refused(hardlink_up, "hard link h: hard link target ../../etc/passwd: a '..' "
                         "component");
    refused(hardlink_missing, "hard link h: target not/here is not in this layer: open "
                              "not: No such file or directory");
    refused(hardlink_through_symlink,
            "hard link h: target etc/passwd is not in this layer: etc is not a directory "
            "(a symlink?)");
    refused(empty_whiteout, "whiteout a/.wh.: names nothing");
    {
        char p[128];

        snprintf(p, sizeof(p), "%s/evil", outside);
        ck_assert_int_ne(access(p, F_OK), 0);
    }
}
END_TEST

START_TEST(overlay_xattrs_from_the_archive_are_dropped)
{
    tarb t;
    berth_error *err = NULL;
    char path[128], v[64];

    tb_begin(&t, ARCHIVE_FILTER_NONE);
    tb_file_xattr(&t, "f", "x", "trusted.overlay.redirect", "/etc", 4);
    tb_file_xattr(&t, "g", "x", "trusted.overlay.metacopy", "", 0);
    tb_end(&t);
    if (unpack(&t, NULL, &err) < 0)
        ck_abort_msg("%s", err->msg);
    snprintf(path, sizeof(path), "%s/f", dir);
    ck_assert_int_lt(getxattr(path, "trusted.overlay.redirect", v, sizeof(v)), 0);
    snprintf(path, sizeof(path), "%s/g", dir);
    ck_assert_int_lt(getxattr(path, "trusted.overlay.metacopy", v, sizeof(v)), 0);
}
END_TEST

START_TEST(the_diff_id_is_the_uncompressed_tar)
{
    tarb plain, gz, zst;
    berth_layer_stats a, b, c;
    berth_error *err = NULL;
    char want[BERTH_DIGEST_LEN + 1];

    tb_begin(&plain, ARCHIVE_FILTER_NONE);
    rootfs_tar(&plain);
    tb_end(&plain);
    berth_sha256_of(plain.buf, plain.used, want);
    ck_assert_int_eq(unpack(&plain, &a, &err), 0);
    ck_assert_str_eq(a.diff_id, want);
    tb_begin(&gz, ARCHIVE_FILTER_GZIP);
    rootfs_tar(&gz);
    tb_end(&gz);
    ck_assert_int_eq(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    close(dfd);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_eq(unpack(&gz, &b, &err), 0);
    ck_assert_str_eq(b.diff_id, want);
    tb_begin(&zst, ARCHIVE_FILTER_ZSTD);
    rootfs_tar(&zst);
    tb_end(&zst);
    ck_assert_int_eq(unpack(&zst, &c, &err), 0); /* over the first: entries are replaced */
    ck_assert_str_eq(c.diff_id, want);
}
END_TEST

START_TEST(what_is_not_a_tar)
{
    berth_error *err = NULL;
    char junk[4096];

    memset(junk, 'x', sizeof(junk));
    ck_assert_int_lt(berth_layer_unpack_mem(junk, sizeof(junk), dfd, NULL, &err), 0);
    ck_assert_msg(strncmp(err->msg, "not a tar archive, or a damaged one", 35) == 0, "%s",
                  err->msg);
    berth_error_free(&err);
    ck_assert_berth_error(berth_layer_unpack_mem("", 0, dfd, NULL, &err), err, "an empty archive");
}
END_TEST

START_TEST(device_nodes_only_as_root)
{
    tarb t;
    pid_t pid;
    int status;

    tb_begin(&t, ARCHIVE_FILTER_NONE);
    tb_node(&t, "dev/sda", AE_IFBLK, 8, 0);
    tb_end(&t);
    ck_assert_int_eq(fchown(dfd, 65534, 65534), 0);
    pid = fork();
    if (pid == 0) {
        berth_error *err = NULL;
        int r;

        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(3);
        r = berth_layer_unpack_mem(t.buf, t.used, dfd, NULL, &err);
        _exit(r < 0 && strcmp(err->msg, "dev/sda: a device node: only root unpacks device "
                                        "nodes") == 0
                  ? 0
                  : 1);
    }
    free(t.buf);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image-layer");
    TCase *tc = tcase_create("layer");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_root_file_system_is_kept);
    tcase_add_test(tc, whiteouts_become_overlayfs_whiteouts);
    tcase_add_test(tc, nothing_is_written_outside);
    tcase_add_test(tc, overlay_xattrs_from_the_archive_are_dropped);
    tcase_add_test(tc, the_diff_id_is_the_uncompressed_tar);
    tcase_add_test(tc, what_is_not_a_tar);
    tcase_add_test(tc, device_nodes_only_as_root);
    suite_add_tcase(s, tc);
    return s;
}
