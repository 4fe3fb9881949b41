/* Shared main() for Check suites: each test file defines
 * `Suite *make_suite(void)` and includes this once. */
#ifndef BERTH_TEST_CHECK_MAIN_H
#define BERTH_TEST_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

Suite *make_suite(void);

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
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
