/* The runtime's own pure parts: the build-time seccomp program is what
 * libseccomp compiles now, and cgroup v2 weights map to v1 shares. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "runtime/runtime-internal.h"

/* The program compiled at build time is the one libseccomp makes now. */
START_TEST(seccomp_build_time_program_is_current)
{
    berth_error *err = NULL;
    struct sock_fprog fresh;

    ck_assert_uint_eq(seccomp_default_caps, berth_caps_default());
    ck_assert_int_eq(seccomp_compile_default(berth_caps_default(), &fresh, &err), 0);
    ck_assert_uint_eq(fresh.len, seccomp_default_prog.len);
    ck_assert_int_eq(
        memcmp(fresh.filter, seccomp_default_prog.filter, fresh.len * sizeof(struct sock_filter)),
        0);
    free(fresh.filter);
    /* Adding CAP_SYS_ADMIN allows more (mount, unshare ...): a different,
     * longer program. */
    ck_assert_int_eq(seccomp_compile_default(berth_caps_default() | (1ULL << 21), &fresh, &err), 0);
    ck_assert_uint_ne(fresh.len, seccomp_default_prog.len);
    free(fresh.filter);
}
END_TEST

START_TEST(weights_to_shares)
{
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(1), 2);
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(10000), 262144);
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(0), 1024);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, seccomp_build_time_program_is_current);
    tcase_add_test(tc, weights_to_shares);
    suite_add_tcase(s, tc);
    return s;
}
