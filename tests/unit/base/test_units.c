/* systemd's cgroup driver: the names of berth's units and the cgroups
 * systemd gives them (lib/systemd/units.h). Talking to systemd itself is
 * checked for real under systemd (package-test.sh, systemd-test.sh). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "systemd/units.h"

START_TEST(escape)
{
    char buf[64];

    ck_assert(berth_systemd_escape("web-0", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "web\\x2d0");
    ck_assert(berth_systemd_escape("team__web.a:b", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "team__web.a:b");
    /* a leading dot, a slash, a space, a byte above ASCII */
    ck_assert(berth_systemd_escape(".x/y z\xc3", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "\\x2ex\\x2fy\\x20z\\xc3");
    ck_assert(berth_systemd_escape("", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "");
    /* what does not fit is refused, not cut */
    ck_assert(!berth_systemd_escape("a-b", buf, 6));
    ck_assert(berth_systemd_escape("a-b", buf, 7));
}
END_TEST

START_TEST(parent_slice)
{
    char buf[BERTH_SYSTEMD_UNIT_MAX + 1];
    berth_error *err = NULL;

    ck_assert_int_eq(berth_systemd_parent_slice("/berth", buf, sizeof(buf), NULL), 0);
    ck_assert_str_eq(buf, "berth.slice");
    ck_assert_int_eq(berth_systemd_parent_slice("/a/b-c/", buf, sizeof(buf), NULL), 0);
    ck_assert_str_eq(buf, "a-b\\x2dc.slice");
    ck_assert_int_eq(berth_systemd_parent_slice("kubepods-berth.slice", buf, sizeof(buf), NULL), 0);
    ck_assert_str_eq(buf, "kubepods-berth.slice");
    ck_assert_int_eq(berth_systemd_parent_slice("/", buf, sizeof(buf), &err), -1);
    ck_assert_int_eq(err->code, EINVAL);
    ck_assert_ptr_nonnull(strstr(err->msg, "a slice below the root"));
    berth_error_free(&err);
    ck_assert_int_eq(berth_systemd_parent_slice("/a/../b", buf, sizeof(buf), &err), -1);
    berth_error_free(&err);
    ck_assert_int_eq(berth_systemd_parent_slice("-bad.slice", buf, sizeof(buf), &err), -1);
    berth_error_free(&err);
    /* the root slice is no place for berth's */
    ck_assert_int_eq(berth_systemd_parent_slice("-.slice", buf, sizeof(buf), &err), -1);
    berth_error_free(&err);
}
END_TEST

START_TEST(slice_cgroups)
{
    char buf[512];

    ck_assert(berth_systemd_slice_cgroup("berth.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/berth.slice");
    ck_assert(berth_systemd_slice_cgroup("berth-web\\x2d0.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/berth.slice/berth-web\\x2d0.slice");
    ck_assert(berth_systemd_slice_cgroup("a-b-c.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/a.slice/a-b.slice/a-b-c.slice");
    ck_assert(berth_systemd_slice_cgroup("-.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/");
    ck_assert(!berth_systemd_slice_cgroup("a--b.slice", buf, sizeof(buf)));
    ck_assert(!berth_systemd_slice_cgroup("a-.slice", buf, sizeof(buf)));
    ck_assert(!berth_systemd_slice_cgroup("a.scope", buf, sizeof(buf)));
    ck_assert(!berth_systemd_slice_cgroup("a-b.slice", buf, 10));
    /* systemd's cg_escape: a name a control file could have gets a "_" */
    ck_assert(berth_systemd_slice_cgroup("cpu-x.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/_cpu.slice/cpu-x.slice");
    ck_assert(berth_systemd_slice_cgroup("_a.slice", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/__a.slice");
    ck_assert(berth_systemd_unit_cgroup("berth-p.slice", "berth-ctr-p_a.scope", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "/berth.slice/berth-p.slice/berth-ctr-p_a.scope");
}
END_TEST

START_TEST(berth_units)
{
    char buf[BERTH_SYSTEMD_UNIT_MAX + 1], other[BERTH_SYSTEMD_UNIT_MAX + 1], id[256];

    ck_assert(berth_systemd_pod_slice("berth.slice", "web-0", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "berth-pod_web\\x2d0.slice");
    ck_assert(berth_systemd_pod_slice("a-b.slice", "p", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "a-b-pod_p.slice");
    /* a pod named like another's slice stays in berth's: system.slice's
     * getty is not a pod "getty" under cgroup_parent /system */
    ck_assert(berth_systemd_pod_slice("system.slice", "getty", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "system-pod_getty.slice");
    ck_assert(!berth_systemd_pod_slice("-.slice", "p", buf, sizeof(buf)));
    ck_assert(!berth_systemd_pod_slice("berth.scope", "p", buf, sizeof(buf)));
    ck_assert(berth_systemd_container_scope("team__web-0_app", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "berth-ctr-team__web\\x2d0_app.scope");
    ck_assert(berth_systemd_pause_scope("web-0", buf, sizeof(buf)));
    ck_assert_str_eq(buf, "berth-pause-web\\x2d0.scope");

    /* an id whose escaped form is too long: what fits, "_", its hash;
     * two such ids that share the start stay apart */
    memset(id, '-', 255);
    id[0] = 'a';
    id[255] = '\0';
    ck_assert(berth_systemd_container_scope(id, buf, sizeof(buf)));
    ck_assert_uint_le(strlen(buf), BERTH_SYSTEMD_UNIT_MAX);
    ck_assert_ptr_nonnull(strstr(buf, "berth-ctr-a\\x2d"));
    ck_assert_str_eq(buf + strlen(buf) - strlen(".scope"), ".scope");
    ck_assert_int_eq(buf[strlen(buf) - strlen(".scope") - 17], '_');
    /* no escape is cut in two */
    ck_assert_int_eq(buf[strlen(buf) - strlen(".scope") - 18], 'd');
    id[254] = 'b';
    ck_assert(berth_systemd_container_scope(id, other, sizeof(other)));
    ck_assert_str_ne(buf, other);
    /* and one that does not fit the buffer at all */
    ck_assert(!berth_systemd_container_scope("web", buf, 8));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("systemd-units");
    TCase *tc = tcase_create("names");

    tcase_add_test(tc, escape);
    tcase_add_test(tc, parent_slice);
    tcase_add_test(tc, slice_cgroups);
    tcase_add_test(tc, berth_units);
    suite_add_tcase(s, tc);
    return s;
}
