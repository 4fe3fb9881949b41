/* An image's User made into ids against its layers' /etc/passwd and
 * /etc/group: names, numbers, groups, the topmost layer's file, whiteouts
 * and opaque directories; and StopSignal names. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "image/user.h"

static char dir[] = "/tmp/berth-test-user-XXXXXX";
static char lower[300], upper[300];
static char *layers[2] = { lower, upper };

static void put(const char *layer, const char *name, const char *text)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/etc", layer);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/etc/%s", layer, name);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644, NULL), 0);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(lower, sizeof(lower), "%s/l0", dir);
    snprintf(upper, sizeof(upper), "%s/l1", dir);
    mkdir(lower, 0755);
    mkdir(upper, 0755);
    put(lower, "passwd",
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment\n"
        "nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n"
        "app:x:1234:1234::/srv:/bin/sh\n");
    put(lower, "group",
        "root:x:0:\nnginx:x:101:\napp:x:1234:\nstaff:x:50:app,nginx\nwww:x:33:app\n");
}

static void teardown(void)
{
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static berth_image_user resolve_ok(size_t n_layers, const char *user)
{
    berth_image_user u;
    berth_error *err = NULL;

    ck_assert_msg(berth_image_user_resolve(layers, n_layers, user, &u, &err) == 0, "%s: %s", user,
                  err ? err->msg : "");
    return u;
}

static void resolve_fails(size_t n_layers, const char *user, const char *want)
{
    berth_image_user u;
    berth_error *err = NULL;

    ck_assert_int_lt(berth_image_user_resolve(layers, n_layers, user, &u, &err), 0);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
}

START_TEST(names_and_numbers)
{
    berth_image_user u = resolve_ok(1, "nginx");

    ck_assert_uint_eq(u.uid, 101);
    ck_assert_uint_eq(u.gid, 101);
    ck_assert_uint_eq(u.n_gids, 1);
    ck_assert_uint_eq(u.gids[0], 50);
    u = resolve_ok(1, "app");
    ck_assert_uint_eq(u.uid, 1234);
    ck_assert_uint_eq(u.n_gids, 2); /* staff and www */
    u = resolve_ok(1, "app:staff");
    ck_assert_uint_eq(u.gid, 50);
    ck_assert_uint_eq(u.n_gids, 1); /* www; staff is the primary now */
    u = resolve_ok(1, "101:7");
    ck_assert_uint_eq(u.uid, 101);
    ck_assert_uint_eq(u.gid, 7);
    /* a number the image does not know: its group is 0 */
    u = resolve_ok(1, "4242");
    ck_assert_uint_eq(u.uid, 4242);
    ck_assert_uint_eq(u.gid, 0);
    ck_assert_uint_eq(u.n_gids, 0);
    resolve_fails(1, "ghost", "no user ghost in the image's /etc/passwd");
    resolve_fails(1, "app:ghosts", "no group ghosts in the image's /etc/group");
    resolve_fails(1, "app:", "user 'app:': not USER[:GROUP]");
    resolve_fails(1, "", "user '': not USER[:GROUP]");
}
END_TEST

START_TEST(the_topmost_layer_counts)
{
    berth_image_user u;
    char path[600];

    /* the upper layer's passwd replaces the lower one's */
    put(upper, "passwd", "root:x:0:0:root:/root:/bin/sh\nnginx:x:999:999::/:/bin/sh\n");
    u = resolve_ok(2, "nginx");
    ck_assert_uint_eq(u.uid, 999);
    resolve_fails(2, "app", "no user app in the image's /etc/passwd");
    /* a whiteout hides the lower one: no passwd at all */
    snprintf(path, sizeof(path), "%s/etc/passwd", upper);
    ck_assert_int_eq(unlink(path), 0);
    if (mknod(path, S_IFCHR | 0, makedev(0, 0)) == 0) {
        resolve_fails(2, "nginx", "no user nginx in the image's /etc/passwd (it has none)");
        ck_assert_int_eq(unlink(path), 0);
    }
    /* an opaque etc/ without the file hides it too */
    snprintf(path, sizeof(path), "%s/etc", upper);
    if (setxattr(path, "trusted.overlay.opaque", "y", 1, 0) == 0) /* root only */
        resolve_fails(2, "nginx", "no user nginx in the image's /etc/passwd (it has none)");
    /* an upper etc/ that is not opaque and lacks the file: the lower one */
    snprintf(path, sizeof(path), "%s/etc", upper);
    removexattr(path, "trusted.overlay.opaque");
    u = resolve_ok(2, "nginx");
    ck_assert_uint_eq(u.uid, 101);
}
END_TEST

START_TEST(signals)
{
    ck_assert_int_eq(berth_image_signal_parse("SIGQUIT"), SIGQUIT);
    ck_assert_int_eq(berth_image_signal_parse("quit"), SIGQUIT);
    ck_assert_int_eq(berth_image_signal_parse("9"), SIGKILL);
    ck_assert_int_eq(berth_image_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
    ck_assert_int_eq(berth_image_signal_parse("SIGRTMIN+4294967294"), -1);
    ck_assert_int_eq(berth_image_signal_parse("SIGRTMIN+99"), -1);
    ck_assert_int_eq(berth_image_signal_parse("SIGWHAT"), -1);
    ck_assert_int_eq(berth_image_signal_parse("65"), -1);
    ck_assert_int_eq(berth_image_signal_parse(""), -1);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image/user");
    TCase *tc = tcase_create("user");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, names_and_numbers);
    tcase_add_test(tc, the_topmost_layer_counts);
    tcase_add_test(tc, signals);
    suite_add_tcase(s, tc);
    return s;
}
