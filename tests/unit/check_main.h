/* Shared main() for Check suites: each test file defines
 * `Suite *make_suite(void)` and includes this once. */
#ifndef BERTH_TEST_CHECK_MAIN_H
#define BERTH_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Suite *make_suite(void);

/* Suites built with BERTH_TEST_NEEDS_ROOT skip (ctest's code 77) with the
 * reason when not run as root; CI runs as root, so they never skip there. */
int main(int argc, char **argv)
{
    SRunner *sr;

    (void)argc;
#ifdef BERTH_TEST_NEEDS_ROOT
    if (geteuid() != 0) {
        printf("SKIP: %s needs root (namespaces, cgroups, mounts)\n", argv[0]);
        return 77;
    }
#else
    (void)argv;
#endif
    sr = srunner_create(make_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Assert that a berth call failed with an error whose text is exactly msg. */
#define ck_assert_berth_error(call_expr, errvar, expected)                                         \
    do {                                                                                           \
        ck_assert_int_lt((call_expr), 0);                                                          \
        ck_assert_ptr_nonnull(errvar);                                                             \
        ck_assert_str_eq((errvar)->msg, (expected));                                               \
        berth_error_free(&(errvar));                                                               \
    } while (0)

#endif
