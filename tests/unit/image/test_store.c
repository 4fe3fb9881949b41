/* The image store: import of layouts, records and layer directories,
 * atomicity (nothing half-made is ever visible, also when the process
 * making it is killed), locks between processes, removal, prune and
 * kubelet's garbage collection. Runs as root (layers keep owners). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "image/import.h"
#include "image/store-internal.h"
#include "image/store.h"
#include "layout.h"

static char dir[64], root[128], src[128];
static berth_image_store *s;

static void setup(void)
{
    berth_error *err = NULL;

    snprintf(dir, sizeof(dir), "/tmp/berth-store-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(root, sizeof(root), "%s/images", dir);
    snprintf(src, sizeof(src), "%s/src", dir);
    if (berth_image_store_open(root, &s, &err) < 0)
        ck_abort_msg("%s", err->msg);
}

static void teardown(void)
{
    berth_image_store_close(s);
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void base_layer(tarb *t)
{
    tb_dir(t, "./", 0755);
    tb_file(t, "bin/sh", 0755, 0, 0, "#!/bin/true\n");
    tb_file(t, "data/b", 0644, 0, 0, "gone later");
    tb_file(t, "etc/passwd", 0644, 0, 0, "root:x:0:0::/:/bin/sh\n");
}
static void whiteout_layer(tarb *t)
{
    tb_file(t, "data/.wh.b", 0, 0, 0, "");
    tb_file(t, "etc/.wh..wh..opq", 0, 0, 0, "");
    tb_file(t, "etc/hostname", 0644, 0, 0, "box\n");
}
static void other_layer(tarb *t)
{
    tb_file(t, "opt/other", 0644, 0, 0, "other image");
}
static void big_layer(tarb *t)
{
    char *blob = malloc(1 << 20);

    for (int i = 0; i < 1 << 20; i++)
        blob[i] = (char)('a' + ((size_t)i * 7919 + (size_t)i / 3) % 26);
    blob[(1 << 20) - 1] = '\0';
    for (int i = 0; i < 40; i++) {
        char name[32];

        snprintf(name, sizeof(name), "big/%02d", i);
        tb_file(t, name, 0644, 0, 0, blob);
    }
    free(blob);
}

static berth_image *import_one(const char *name)
{
    berth_image **imgs = NULL;
    berth_image_import_opts o = { .name = name };
    berth_error *err = NULL;
    size_t n;
    berth_image *img;

    if (berth_image_import(s, src, &o, &imgs, &n, &err) < 0)
        ck_abort_msg("%s", err->msg);
    ck_assert_uint_ge(n, 1);
    img = imgs[n - 1];
    imgs[n - 1] = NULL;
    berth_image_list_free(imgs, n - 1);
    return img;
}

static size_t count_entries(const char *sub)
{
    char path[256];
    DIR *d;
    struct dirent *e;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/%s", root, sub);
    d = opendir(path);
    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(an_imported_image_gives_its_layers_and_config)
{
    layer_fn layers[] = { base_layer, whiteout_layer, base_layer };
    char diff[3][BERTH_DIGEST_LEN + 1], want[512];
    berth_image *img, *got = NULL;
    berth_image_config *cfg = NULL;
    char **dirs = NULL;
    size_t n;
    berth_error *err = NULL;

    layout_write(src, "v1", layers, 3, diff);
    img = import_one("localhost/app");
    ck_assert_str_eq(img->ref, "localhost/app:v1");
    ck_assert_uint_eq(img->n_layers, 3);
    ck_assert_int_eq(berth_image_store_get(s, "localhost/app:v1", &got, &err), 0);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got->config, img->config);
    ck_assert_str_eq(got->layers[1].diff_id, diff[1]);
    ck_assert_int_eq(got->layers[0].size, 12 + 10 + 22);
    /* each layer once, at its highest place: the base is on top again */
    ck_assert_int_eq(berth_image_store_layer_dirs(s, got, &dirs, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    snprintf(want, sizeof(want), "%s/layers/%s", root, berth_digest_hex(diff[1]));
    ck_assert_str_eq(dirs[0], want);
    snprintf(want, sizeof(want), "%s/layers/%s", root, berth_digest_hex(diff[0]));
    ck_assert_str_eq(dirs[1], want);
    ck_assert_ptr_null(dirs[2]);
    berth_strv_free(dirs);
    ck_assert_int_eq(berth_image_store_config(s, got, &cfg, &err), 0);
    ck_assert_str_eq(cfg->entrypoint[0], "/bin/sh");
    ck_assert_str_eq(cfg->env[0], "PATH=/bin");
    berth_image_config_free(cfg);
    /* nothing left at work */
    ck_assert_uint_eq(count_entries("tmp"), 0);
    ck_assert_uint_eq(count_entries("locks"), 0);
    ck_assert_uint_eq(count_entries("layers"), 2);
    berth_image_free(got);
    berth_image_free(img);
}
END_TEST

START_TEST(a_name_that_is_only_a_tag_needs_a_repository)
{
    layer_fn layers[] = { base_layer };
    berth_image **imgs = NULL;
    size_t n;
    berth_error *err = NULL;

    layout_write(src, "v1", layers, 1, NULL);
    ck_assert_int_lt(berth_image_import(s, src, NULL, &imgs, &n, &err), 0);
    ck_assert_msg(strstr(err->msg, ": index.json: manifests[0]: an image named only by the tag "
                                   "'v1': give the repository to import it under (--name)"),
                  "%s", err->msg);
    berth_error_free(&err);
}
END_TEST

START_TEST(a_failed_unpack_leaves_nothing)
{
    layer_fn layers[] = { base_layer };
    char blob[256], diff[1][BERTH_DIGEST_LEN + 1];
    berth_image **imgs = NULL;
    berth_image_import_opts o = { .name = "localhost/app" };
    size_t n, list_n;
    berth_error *err = NULL;
    DIR *d;
    struct dirent *e;

    layout_write(src, "v1", layers, 1, diff);
    /* damage the layer blob on disk */
    snprintf(blob, sizeof(blob), "%s/blobs/sha256", src);
    d = opendir(blob);
    while ((e = readdir(d))) {
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/%s", blob, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_size > 200 ? st.st_mode : 0)) {
            int fd = open(p, O_WRONLY);

            ck_assert_int_eq(pwrite(fd, "XXXX", 4, 100), 4);
            close(fd);
        }
    }
    closedir(d);
    ck_assert_int_lt(berth_image_import(s, src, &o, &imgs, &n, &err), 0);
    ck_assert_msg(strstr(err->msg, "digest mismatch"), "%s", err->msg);
    berth_error_free(&err);
    ck_assert_int_eq(berth_image_store_list(s, &imgs, &list_n, NULL, &err), 0);
    ck_assert_uint_eq(list_n, 0);
    berth_image_list_free(imgs, list_n);
    ck_assert_uint_eq(count_entries("layers"), 0);
    ck_assert_uint_eq(count_entries("tmp"), 0);
    ck_assert_uint_eq(count_entries("images"), 0);
}
END_TEST

/* A process killed while it unpacks: no image, no layer; the next import
 * completes. */
START_TEST(kill_9_mid_import_leaves_nothing_visible)
{
    layer_fn layers[] = { base_layer, big_layer };
    berth_image **imgs = NULL;
    berth_image *img = NULL;
    size_t n;
    berth_error *err = NULL;
    int status;
    pid_t pid;

    layout_write(src, "v1", layers, 2, NULL);
    pid = fork();
    if (pid == 0) {
        berth_image_import_opts o = { .name = "localhost/app" };

        berth_image_import(s, src, &o, &imgs, &n, &err);
        _exit(0);
    }
    /* until the big layer is being written */
    for (int i = 0; i < 2000; i++) {
        char p[256];
        struct stat st;
        DIR *d;
        struct dirent *e;
        bool busy = false;

        snprintf(p, sizeof(p), "%s/tmp", root);
        d = opendir(p);
        while (d && (e = readdir(d)))
            if (strncmp(e->d_name, "layer-", 6) == 0) {
                char q[1024];

                snprintf(q, sizeof(q), "%s/%s/big/05", p, e->d_name);
                busy |= stat(q, &st) == 0;
            }
        if (d)
            closedir(d);
        if (busy)
            break;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(berth_image_store_get(s, "localhost/app:v1", &img, &err), 0);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(berth_image_store_list(s, &imgs, &n, NULL, &err), 0);
    ck_assert_uint_eq(n, 0);
    berth_image_list_free(imgs, n);
    ck_assert_uint_le(count_entries("layers"), 1); /* the base layer may be complete */
    ck_assert_uint_ge(count_entries("tmp"), 1);    /* the killed one's work */
    img = import_one("localhost/app");
    ck_assert_uint_eq(count_entries("tmp"), 0);
    ck_assert_uint_eq(count_entries("layers"), 2);
    berth_image_free(img);
}
END_TEST

START_TEST(a_partial_download_is_invisible_and_pruned)
{
    layer_fn layers[] = { base_layer };
    berth_image *img;
    berth_image_removal rm;
    berth_error *err = NULL;
    int fd;
    int64_t have;
    const char *d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    layout_write(src, "v1", layers, 1, NULL);
    img = import_one("localhost/app");
    ck_assert_int_eq(store_blob_partial(s, d, &fd, &have, &err), 0);
    ck_assert_int_eq(write(fd, "part", 4), 4);
    close(fd);
    ck_assert(!store_blob_exists(s, d));
    ck_assert_int_eq(store_blob_partial(s, d, &fd, &have, &err), 0);
    ck_assert_int_eq(have, 4); /* resumed where it broke */
    close(fd);
    ck_assert_uint_eq(count_entries("tmp"), 1);
    /* prune with the image in use: the image stays, the leftover goes */
    {
        const char *use[] = { "localhost/app:v1" };
        berth_image_in_use u = { use, 1 };

        ck_assert_int_eq(berth_image_store_prune(s, &u, &rm, &err), 0);
    }
    ck_assert_uint_eq(rm.images, 0);
    ck_assert(rm.swept);
    ck_assert_uint_eq(count_entries("tmp"), 0);
    ck_assert_uint_eq(count_entries("layers"), 1);
    berth_image_removal_clear(&rm);
    berth_image_free(img);
}
END_TEST

START_TEST(damaged_records_are_not_trusted)
{
    layer_fn layers[] = { base_layer };
    berth_image *img, *got = NULL, **imgs = NULL;
    char path[512], name[80];
    size_t n, bad;
    berth_error *err = NULL;
    char **dirs = NULL;

    layout_write(src, "v1", layers, 1, NULL);
    img = import_one("localhost/app");
    snprintf(path, sizeof(path), "%s/images/%s", root, store_record_name(img->ref, name));
    ck_assert_int_eq(
        berth_write_file_atomic_at(AT_FDCWD, path, "{\"reference\":1}", 15, 0600, &err), 0);
    ck_assert_int_lt(berth_image_store_get(s, "localhost/app:v1", &got, &err), 0);
    ck_assert_msg(strstr(err->msg, "is damaged"), "%s", err->msg);
    berth_error_free(&err);
    ck_assert_int_eq(berth_image_store_list(s, &imgs, &n, &bad, &err), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(bad, 1);
    berth_image_list_free(imgs, n);
    /* a record whose layer is gone */
    ck_assert_int_eq(store_record_write(s, img, &err), 0);
    snprintf(path, sizeof(path), "%s/layers/%s", root, berth_digest_hex(img->layers[0].diff_id));
    ck_assert_int_eq(berth_rm_rf_at(AT_FDCWD, path, &err), 0);
    ck_assert_int_lt(berth_image_store_layer_dirs(s, img, &dirs, &n, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_msg(strstr(err->msg, "(pull the image again)"), "%s", err->msg);
    berth_error_free(&err);
    berth_image_free(img);
}
END_TEST

/* Two processes need the same layer: the second waits for the first's
 * lock, then finds the layer there. */
START_TEST(a_layer_lock_holds_between_processes)
{
    layer_fn layers[] = { base_layer };
    char diff[1][BERTH_DIGEST_LEN + 1];
    int lock = -1, status;
    berth_error *err = NULL;
    pid_t pid;

    layout_write(src, "v1", layers, 1, diff);
    ck_assert_int_eq(store_layer_lock(s, diff[0], &lock, &err), 0);
    pid = fork();
    if (pid == 0) {
        berth_image **imgs = NULL;
        berth_image_import_opts o = { .name = "localhost/app" };
        size_t n;

        close(lock); /* fork shares the lock's open file: only the parent holds it */
        _exit(berth_image_import(s, src, &o, &imgs, &n, &err) == 0 ? 0 : 1);
    }
    usleep(300 * 1000);
    ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0); /* still waiting */
    ck_assert_uint_eq(count_entries("layers"), 0);
    store_layer_unlock(s, diff[0], lock);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(count_entries("layers"), 1);
    ck_assert_uint_eq(count_entries("locks"), 0);
}
END_TEST

START_TEST(remove_keeps_what_others_share_and_refuses_what_is_used)
{
    layer_fn one[] = { base_layer, whiteout_layer }, two[] = { base_layer, other_layer };
    berth_image *a, *b;
    berth_image_removal rm;
    berth_error *err = NULL;
    const char *use[] = { "localhost/one:v1" };
    berth_image_in_use u = { use, 1 };

    layout_write(src, "v1", one, 2, NULL);
    a = import_one("localhost/one");
    berth_rm_rf_at(AT_FDCWD, src, NULL);
    layout_write(src, "v2", two, 2, NULL);
    b = import_one("localhost/two");
    ck_assert_uint_eq(count_entries("layers"), 3);
    ck_assert_berth_error(berth_image_store_remove(s, "localhost/one:v1", &u, true, &rm, &err), err,
                          "image localhost/one:v1: in use by a container");
    ck_assert_int_eq(berth_image_store_remove(s, "localhost/two:v2", &u, true, &rm, &err), 0);
    ck_assert_uint_eq(rm.images, 1);
    ck_assert_str_eq(rm.refs[0], "localhost/two:v2");
    ck_assert_uint_eq(rm.layers, 1); /* the base stays: one uses it */
    ck_assert(rm.swept);
    berth_image_removal_clear(&rm);
    ck_assert_uint_eq(count_entries("layers"), 2);
    ck_assert_int_lt(berth_image_store_remove(s, "localhost/two:v2", NULL, true, &rm, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    /* in use by digest too */
    {
        const char *by_digest[] = { a->manifest };
        berth_image_in_use d = { by_digest, 1 };

        ck_assert(berth_image_is_in_use(a, &d));
        ck_assert(!berth_image_is_in_use(b, &d));
    }
    ck_assert_int_eq(berth_image_store_prune(s, NULL, &rm, &err), 0);
    ck_assert_uint_eq(rm.images, 1);
    berth_image_removal_clear(&rm);
    ck_assert_uint_eq(count_entries("layers"), 0);
    ck_assert_uint_eq(count_entries("blobs/sha256"), 0);
    berth_image_free(a);
    berth_image_free(b);
}
END_TEST

/* Disk use as the test says it is: 50 % plus 10 % per image in the store. */
static int fake_usage(const char *r, uint64_t *used, uint64_t *cap, void *data, berth_error **err)
{
    berth_image **imgs = NULL;
    size_t n;

    (void)r;
    (void)data;
    if (berth_image_store_list(s, &imgs, &n, NULL, err) < 0)
        return -1;
    berth_image_list_free(imgs, n);
    *cap = 100;
    *used = 50 + 10 * n;
    return 0;
}

START_TEST(gc_removes_the_least_recently_used_down_to_low)
{
    layer_fn layers[] = { base_layer };
    const char *names[] = { "localhost/a", "localhost/b", "localhost/c", "localhost/d" };
    berth_image_gc_policy p = berth_image_gc_policy_default();
    berth_image_removal rm;
    berth_error *err = NULL;
    const char *use[] = { "localhost/a:v1" };
    berth_image_in_use u = { use, 1 };
    int used;

    layout_write(src, "v1", layers, 1, NULL);
    for (int i = 0; i < 4; i++) {
        berth_image *img = import_one(names[i]);

        /* a used first (but in use), then b, d, c */
        img->pulled_ns = 0;
        img->last_used_ns = (int64_t[]){ 1, 2, 4, 3 }[i];
        ck_assert_int_eq(store_record_write(s, img, &err), 0);
        berth_image_free(img);
    }
    p.usage = fake_usage;
    /* 90 %: above 85, down to 80: a is in use, b goes first, then d */
    ck_assert_int_eq(berth_image_store_gc(s, &p, &u, &rm, &used, &err), 0);
    ck_assert_uint_eq(rm.images, 1);
    ck_assert_str_eq(rm.refs[0], "localhost/b:v1");
    ck_assert_int_eq(used, 80);
    berth_image_removal_clear(&rm);
    /* at 80 %: nothing to do */
    ck_assert_int_eq(berth_image_store_gc(s, &p, &u, &rm, &used, &err), 0);
    ck_assert_uint_eq(rm.images, 0);
    /* a lower threshold: d, then c; a stays */
    p.high_percent = 60;
    p.low_percent = 50;
    ck_assert_int_eq(berth_image_store_gc(s, &p, &u, &rm, &used, &err), 0);
    ck_assert_uint_eq(rm.images, 2);
    ck_assert_str_eq(rm.refs[0], "localhost/d:v1");
    ck_assert_str_eq(rm.refs[1], "localhost/c:v1");
    ck_assert_int_eq(used, 60);
    berth_image_removal_clear(&rm);
    ck_assert_uint_eq(count_entries("layers"), 1);
    /* min age: an image pulled just now stays */
    {
        berth_image *img = import_one("localhost/e");

        p.min_age_ns = 60 * BERTH_NSEC_PER_SEC;
        ck_assert_int_eq(berth_image_store_gc(s, &p, &u, &rm, &used, &err), 0);
        ck_assert_uint_eq(rm.images, 0);
        berth_image_free(img);
    }
    p.low_percent = 90;
    ck_assert_berth_error(berth_image_store_gc(s, &p, &u, &rm, &used, &err), err,
                          "image gc: thresholds 90%..60%: need 0 <= low <= high <= 100");
}
END_TEST

START_TEST(touch_marks_use)
{
    layer_fn layers[] = { base_layer };
    berth_image *img, *got = NULL;
    berth_error *err = NULL;

    layout_write(src, "v1", layers, 1, NULL);
    img = import_one("localhost/app");
    usleep(1000);
    ck_assert_int_eq(berth_image_store_touch(s, "localhost/app:v1", &err), 0);
    ck_assert_int_eq(berth_image_store_get(s, "localhost/app:v1", &got, &err), 0);
    ck_assert_int_gt(got->last_used_ns, img->last_used_ns);
    ck_assert_int_eq(got->pulled_ns, img->pulled_ns);
    ck_assert_int_lt(berth_image_store_touch(s, "localhost/nope", &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    berth_image_free(got);
    berth_image_free(img);
}
END_TEST

Suite *make_suite(void)
{
    Suite *su = suite_create("image-store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, an_imported_image_gives_its_layers_and_config);
    tcase_add_test(tc, a_name_that_is_only_a_tag_needs_a_repository);
    tcase_add_test(tc, a_failed_unpack_leaves_nothing);
    tcase_add_test(tc, kill_9_mid_import_leaves_nothing_visible);
    tcase_add_test(tc, a_partial_download_is_invisible_and_pruned);
    tcase_add_test(tc, damaged_records_are_not_trusted);
    tcase_add_test(tc, a_layer_lock_holds_between_processes);
    tcase_add_test(tc, remove_keeps_what_others_share_and_refuses_what_is_used);
    tcase_add_test(tc, gc_removes_the_least_recently_used_down_to_low);
    tcase_add_test(tc, touch_marks_use);
    suite_add_tcase(su, tc);
    return su;
}
