/* The error object: creation, errno text, context chaining, ownership. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "check_main.h"

static int fail_open(const char *path, berth_error **err)
{
    errno = ENOENT;
    return berth_error_errno(err, "open %s", path);
}

static int load_config(const char *path, berth_error **err)
{
    if (fail_open(path, err) < 0)
        return berth_error_prefix(err, "load config");
    return 0;
}

START_TEST(make_with_errno)
{
    berth_error *err = NULL;

    ck_assert_int_eq(fail_open("/x", &err), -1);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "open /x: No such file or directory");
    berth_error_free(&err);
    ck_assert_ptr_null(err);
}
END_TEST

START_TEST(make_without_errno)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_error_make(&err, 0, "field %s: bad", "memory"), -1);
    ck_assert_int_eq(err->code, 0);
    ck_assert_str_eq(err->msg, "field memory: bad");
    berth_error_free(&err);
}
END_TEST

START_TEST(prefix_chain)
{
    berth_error *err = NULL;

    ck_assert_int_eq(load_config("/etc/berth/agent.yaml", &err), -1);
    ck_assert_int_eq(berth_error_prefix(&err, "berthd"), -1);
    ck_assert_str_eq(err->msg,
                     "berthd: load config: open /etc/berth/agent.yaml: No such file or directory");
    ck_assert_int_eq(err->code, ENOENT); /* the cause's errno survives the context */
    berth_error_free(&err);
}
END_TEST

START_TEST(null_and_replace)
{
    _cleanup_error_ berth_error *err = NULL;
    char *msg;

    /* A NULL err discards; prefix of nothing is harmless. */
    ck_assert_int_eq(berth_error_make(NULL, EIO, "ignored"), -1);
    ck_assert_int_eq(berth_error_prefix(NULL, "x"), -1);
    ck_assert_int_eq(berth_error_prefix(&err, "x"), -1);
    ck_assert_ptr_null(err);
    berth_error_free(NULL);
    berth_error_free(&err);

    /* Making twice replaces without leaking (ASan builds check the leak). */
    berth_error_make(&err, EIO, "first");
    berth_error_make(&err, EPERM, "second");
    ck_assert_str_eq(err->msg, "second: Operation not permitted");

    msg = berth_error_steal_msg(&err);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(msg, "second: Operation not permitted");
    free(msg);
    ck_assert_ptr_null(berth_error_steal_msg(&err));
}
END_TEST

START_TEST(long_message)
{
    berth_error *err = NULL;
    char big[10000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    berth_error_make(&err, 0, "%s", big);
    berth_error_prefix(&err, "ctx");
    ck_assert_uint_eq(strlen(err->msg), sizeof(big) - 1 + 5);
    berth_error_free(&err);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/error");
    TCase *tc = tcase_create("error");

    tcase_add_test(tc, make_with_errno);
    tcase_add_test(tc, make_without_errno);
    tcase_add_test(tc, prefix_chain);
    tcase_add_test(tc, null_and_replace);
    tcase_add_test(tc, long_message);
    suite_add_tcase(s, tc);
    return s;
}
