/* The node's device table (agent/berthd/devices.c) on spec files of the
 * test's: the extended resources it counts (an aggregate "all" device not
 * among them), picking free devices for a container and never one another
 * holds, the kubelet's words when too few are free, holdings given back by
 * a re-adopted container's plan, and a spec file's change seen through
 * inotify from the loop. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "devices.h"

static char dir[64];
static berth_loop *loop;
static int changes;

/* Write a file as an editor or a package does: a new file renamed in. */
static int put(const char *path, const char *text)
{
    return berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644, NULL);
}

static void on_changed(void *data)
{
    (void)data;
    changes++;
}

/* A spec of kind test.dev/gpu with devices g<first>..g<last> (env only:
 * no host node needed), and an aggregate "all" when asked. */
static void write_spec(const char *file, int first, int last, bool with_all)
{
    char path[128], buf[4096];
    size_t n = 0;

    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "cdiVersion: \"0.6.0\"\nkind: test.dev/gpu\ndevices:\n");
    for (int i = first; i <= last; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "  - name: g%d\n    containerEdits: {env: [G%d=1]}\n", i, i);
    if (with_all)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "  - name: all\n    containerEdits: {env: [ALL=1]}\n");
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    ck_assert_int_eq(put(path, buf), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-devices-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(berth_loop_new(&loop, NULL), 0);
    changes = 0;
}

static void teardown(void)
{
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    berth_loop_free(loop);
}

static devices *open_dir(void)
{
    char *dirs[] = { dir };
    devices *d = NULL;
    berth_error *err = NULL;

    ck_assert_int_eq(devices_open(loop, dirs, 1, on_changed, NULL, &d, &err), 0);
    return d;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

START_TEST(counts_kinds_without_the_aggregate)
{
    devices *d;
    const char *const *kinds;
    int64_t *counts;

    write_spec("gpus.yaml", 0, 3, true);
    d = open_dir();
    ck_assert_uint_eq(devices_capacity(d, &kinds, &counts), 1);
    ck_assert_str_eq(kinds[0], "test.dev/gpu");
    ck_assert_int_eq(counts[0], 4);
    ck_assert_int_eq(devices_free(d, "test.dev/gpu"), 4);
    ck_assert_int_eq(devices_free(d, "test.dev/none"), 0);
    free(counts);
    devices_close(d);
}
END_TEST

START_TEST(picks_free_devices_never_twice)
{
    devices *d;
    char **a = NULL, **b = NULL, **c = NULL;
    berth_error *err = NULL;

    write_spec("gpus.yaml", 0, 3, true);
    d = open_dir();
    ck_assert_int_eq(devices_allocate(d, "pod-a_c", "test.dev/gpu", 2, &a, &err), 0);
    ck_assert_str_eq(a[0], "test.dev/gpu=g0");
    ck_assert_str_eq(a[1], "test.dev/gpu=g1");
    ck_assert_int_eq(devices_allocate(d, "pod-b_c", "test.dev/gpu", 1, &b, &err), 0);
    ck_assert_str_eq(b[0], "test.dev/gpu=g2");
    ck_assert_str_eq(devices_holder(d, "test.dev/gpu=g1"), "pod-a_c");
    ck_assert_ptr_null(devices_holder(d, "test.dev/gpu=g3"));
    /* too few: the kubelet's words, and nothing held */
    ck_assert_int_lt(devices_allocate(d, "pod-c_c", "test.dev/gpu", 2, &c, &err), 0);
    ck_assert_int_eq(err->code, ENOSPC);
    ck_assert_str_eq(err->msg, "Allocate failed due to requested number of devices unavailable "
                               "for test.dev/gpu. Requested: 2, Available: 1");
    berth_error_free(&err);
    ck_assert_int_eq(devices_free(d, "test.dev/gpu"), 1);
    /* a-'s go back: c gets g0 and g1 */
    devices_release(d, "pod-a_c");
    ck_assert_int_eq(devices_allocate(d, "pod-c_c", "test.dev/gpu", 2, &c, &err), 0);
    ck_assert_str_eq(c[0], "test.dev/gpu=g0");
    ck_assert_str_eq(c[1], "test.dev/gpu=g1");
    /* more than the node has at all: no wait would help */
    ck_assert_int_lt(devices_allocate(d, "big_c", "test.dev/gpu", 5, &a, &err), 0);
    ck_assert_int_eq(err->code, ERANGE);
    ck_assert_str_eq(err->msg, "the node has only 4 CDI devices of kind test.dev/gpu, 5 asked for");
    berth_error_free(&err);
    ck_assert_int_lt(devices_allocate(d, "x", "test.dev/none", 1, &a, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "the node has no CDI devices of kind test.dev/none");
    berth_error_free(&err);
    free_names(a, 2);
    free_names(b, 1);
    free_names(c, 2);
    devices_close(d);
}
END_TEST

START_TEST(held_by_a_readopted_plan)
{
    devices *d;
    char **a = NULL;
    berth_error *err = NULL;

    write_spec("gpus.yaml", 0, 3, false);
    d = open_dir();
    /* berthd restarted: the plans on disk say who holds what */
    ck_assert(devices_hold(d, "old_c", "test.dev/gpu=g0"));
    ck_assert(devices_hold(d, "old_c", "test.dev/gpu=g2"));
    ck_assert(devices_hold(d, "old_c", "test.dev/gpu=g2"));    /* its own again: fine */
    ck_assert(!devices_hold(d, "other_c", "test.dev/gpu=g2")); /* another's: stays old_c's */
    ck_assert_str_eq(devices_holder(d, "test.dev/gpu=g2"), "old_c");
    ck_assert_int_eq(devices_allocate(d, "new_c", "test.dev/gpu", 2, &a, &err), 0);
    ck_assert_str_eq(a[0], "test.dev/gpu=g1");
    ck_assert_str_eq(a[1], "test.dev/gpu=g3");
    free_names(a, 2);
    devices_close(d);
}
END_TEST

/* Run the loop until a change is seen, at most 5 s. */
static void await_change(int want)
{
    int64_t end = berth_now_mono_ns() + 5 * BERTH_NSEC_PER_SEC;

    while (changes < want && berth_now_mono_ns() < end)
        ck_assert_int_ge(berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL), 0);
}

START_TEST(a_spec_file_change_is_seen)
{
    devices *d;
    const char *const *kinds;
    int64_t *counts;
    char bad[128];

    write_spec("gpus.yaml", 0, 1, false);
    d = open_dir();
    write_spec("more.yaml", 2, 4, false);
    await_change(1);
    ck_assert_int_eq(changes, 1);
    ck_assert_uint_eq(devices_capacity(d, &kinds, &counts), 1);
    ck_assert_int_eq(counts[0], 5);
    free(counts);
    /* a broken file changes nothing it may count */
    snprintf(bad, sizeof(bad), "%s/broken.yaml", dir);
    ck_assert_int_eq(put(bad, "cdiVersion: [\n"), 0);
    {
        int64_t end = berth_now_mono_ns() + BERTH_NSEC_PER_SEC;

        while (berth_now_mono_ns() < end)
            berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL);
    }
    ck_assert_int_eq(changes, 1);
    /* a file removed: fewer */
    snprintf(bad, sizeof(bad), "%s/more.yaml", dir);
    ck_assert_int_eq(unlink(bad), 0);
    await_change(2);
    ck_assert_int_eq(changes, 2);
    ck_assert_uint_eq(devices_capacity(d, &kinds, &counts), 1);
    ck_assert_int_eq(counts[0], 2);
    free(counts);
    devices_close(d);
}
END_TEST

START_TEST(a_directory_made_later_is_watched)
{
    devices *d;
    char sub[128], *dirs[1];
    const char *const *kinds;
    int64_t *counts;
    berth_error *err = NULL;

    snprintf(sub, sizeof(sub), "%s/run/cdi", dir);
    dirs[0] = sub;
    ck_assert_int_eq(devices_open(loop, dirs, 1, on_changed, NULL, &d, &err), 0);
    ck_assert_uint_eq(devices_capacity(d, &kinds, &counts), 0);
    free(counts);
    ck_assert_int_eq(berth_mkdir_p(sub, 0755, NULL), 0);
    {
        char path[160];

        snprintf(path, sizeof(path), "%s/x.yaml", sub);
        ck_assert_int_eq(put(path, "cdiVersion: \"0.6.0\"\nkind: test.dev/late\n"
                                   "devices: [{name: l0, containerEdits: "
                                   "{env: [L=0]}}]\n"),
                         0);
    }
    /* the parent's watch sees the directory, the next round the file */
    await_change(1);
    if (changes == 0) {
        char path[160];

        snprintf(path, sizeof(path), "%s/y.yaml", sub);
        put(path, "");
        await_change(1);
    }
    ck_assert_int_eq(changes, 1);
    ck_assert_uint_eq(devices_capacity(d, &kinds, &counts), 1);
    ck_assert_str_eq(kinds[0], "test.dev/late");
    free(counts);
    devices_close(d);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent-devices");
    TCase *tc = tcase_create("devices");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counts_kinds_without_the_aggregate);
    tcase_add_test(tc, picks_free_devices_never_twice);
    tcase_add_test(tc, held_by_a_readopted_plan);
    tcase_add_test(tc, a_spec_file_change_is_seen);
    tcase_add_test(tc, a_directory_made_later_is_watched);
    suite_add_tcase(s, tc);
    return s;
}
