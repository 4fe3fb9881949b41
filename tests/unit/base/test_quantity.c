/* Quantity parsing: valid forms, boundaries, and every rejection's text. */
#include <check.h>
#include <stdint.h>

#include "base/quantity.h"
#include "check_main.h"

struct ok_case {
    const char *in;
    int64_t want;
};

START_TEST(bytes_valid)
{
    static const struct ok_case cases[] = {
        { "0", 0 },
        { "100", 100 },
        { "+100", 100 },
        { "1k", 1000 },
        { "1Ki", 1024 },
        { "64Mi", 64LL << 20 },
        { "1G", 1000000000 },
        { "1Gi", 1LL << 30 },
        { "1.5Gi", 3LL << 29 },
        { "0.5Ki", 512 },
        { ".5Ki", 512 },
        { "1e3", 1000 },
        { "1E3", 1000 },
        { "1e+3", 1000 },
        { "120e-1", 12 },
        { "1E", 1000000000000000000LL },
        { "7Ei", 7LL << 60 },
        { "2000m", 2 },
        { "9223372036854775807", INT64_MAX },
        { "0009223372036854775807", INT64_MAX },
        { "9223372036854775807000m", INT64_MAX },
        { "100000000000000000000e-2", 1000000000000000000LL },
        { "0.0", 0 },
        { "0Ei", 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        berth_error *err = NULL;
        int64_t v = -1;

        ck_assert_msg(berth_parse_bytes(cases[i].in, &v, &err) == 0, "%s: %s", cases[i].in,
                      err ? err->msg : "");
        ck_assert_msg(v == cases[i].want, "%s: got %lld want %lld", cases[i].in, (long long)v,
                      (long long)cases[i].want);
    }
}
END_TEST

START_TEST(cpu_valid)
{
    static const struct ok_case cases[] = {
        { "500m", 500 }, { "2", 2000 }, { "0.5", 500 }, { "0.25", 250 }, { "1.001", 1001 },
        { "100m", 100 }, { "1m", 1 },   { "0.1", 100 }, { "0", 0 },      { "1e-3", 1 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        berth_error *err = NULL;
        int64_t v = -1;

        ck_assert_msg(berth_parse_millicpu(cases[i].in, &v, &err) == 0, "%s: %s", cases[i].in,
                      err ? err->msg : "");
        ck_assert_int_eq(v, cases[i].want);
    }
}
END_TEST

struct bad_case {
    const char *in;
    const char *msg;
};

START_TEST(bytes_rejected)
{
    static const struct bad_case cases[] = {
        { "", "memory quantity is empty" },
        { "-1", "memory quantity '-1' must not be negative" },
        { "abc", "memory quantity 'abc' is not a number" },
        { "Mi", "memory quantity 'Mi' is not a number" },
        { ".", "memory quantity '.' is not a number" },
        { "1.2.3", "memory quantity '1.2.3' is not a number" },
        { "64Mx", "memory quantity '64Mx': unknown suffix 'Mx' (expected one of m, k, M, G, T, P, "
                  "E, Ki, Mi, Gi, Ti, Pi, Ei)" },
        { "64 Mi", "memory quantity '64 Mi': unknown suffix ' Mi' (expected one of m, k, M, G, T, "
                   "P, E, Ki, Mi, Gi, Ti, Pi, Ei)" },
        { "64mi", "memory quantity '64mi': unknown suffix 'mi' (expected one of m, k, M, G, T, P, "
                  "E, Ki, Mi, Gi, Ti, Pi, Ei)" },
        { "1e3x", "memory quantity '1e3x' has garbage after the exponent" },
        { "9223372036854775808", "memory quantity '9223372036854775808' is out of range" },
        { "8Ei", "memory quantity '8Ei' is out of range" },
        { "10E", "memory quantity '10E' is out of range" },
        { "1e99", "memory quantity '1e99' is out of range" },
        { "1e19", "memory quantity '1e19' is out of range" },
        { "12345678901234567891", "memory quantity '12345678901234567891' has more than 19 "
                                  "significant digits" },
        { "1.5", "memory quantity '1.5' is not a whole number" },
        { "500m", "memory quantity '500m' is not a whole number" },
        { "1e-1", "memory quantity '1e-1' is not a whole number" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        berth_error *err = NULL;
        int64_t v = 42;

        ck_assert_msg(berth_parse_bytes(cases[i].in, &v, &err) < 0, "%s accepted", cases[i].in);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err->msg, cases[i].msg);
        ck_assert_int_eq(v, 42); /* output untouched on failure */
        berth_error_free(&err);
    }
}
END_TEST

START_TEST(cpu_rejected)
{
    berth_error *err = NULL;
    int64_t v;

    ck_assert_berth_error(berth_parse_millicpu("0.0001", &v, &err), err,
                          "cpu quantity '0.0001' is finer than the smallest unit (1e-3)");
    ck_assert_berth_error(berth_parse_millicpu("1.5m", &v, &err), err,
                          "cpu quantity '1.5m' is finer than the smallest unit (1e-3)");
    ck_assert_berth_error(berth_parse_millicpu("9223372036854776", &v, &err), err,
                          "cpu quantity '9223372036854776' is out of range");
    ck_assert_berth_error(berth_parse_millicpu("two", &v, &err), err,
                          "cpu quantity 'two' is not a number");
    ck_assert_berth_error(berth_parse_millicpu(NULL, &v, &err), err, "cpu quantity is empty");
}
END_TEST

START_TEST(format)
{
    char buf[32];

    ck_assert_str_eq(berth_format_bytes(64LL << 20, buf, sizeof(buf)), "64Mi");
    ck_assert_str_eq(berth_format_bytes(1500, buf, sizeof(buf)), "1500");
    ck_assert_str_eq(berth_format_bytes(0, buf, sizeof(buf)), "0");
    ck_assert_str_eq(berth_format_bytes_approx(24683620LL * 1024, buf, sizeof(buf)), "24Gi");
    ck_assert_str_eq(berth_format_bytes_approx(3LL << 29, buf, sizeof(buf)), "1.5Gi");
    ck_assert_str_eq(berth_format_bytes_approx(64LL << 20, buf, sizeof(buf)), "64Mi");
    ck_assert_str_eq(berth_format_bytes_approx(385024, buf, sizeof(buf)), "376Ki");
    ck_assert_str_eq(berth_format_bytes_approx(1023, buf, sizeof(buf)), "1023");
    ck_assert_str_eq(berth_format_bytes_approx(1536, buf, sizeof(buf)), "1.5Ki");
    ck_assert_str_eq(berth_format_bytes_approx(0, buf, sizeof(buf)), "0");
    ck_assert_str_eq(berth_format_bytes(3LL << 29, buf, sizeof(buf)), "1536Mi");
    ck_assert_str_eq(berth_format_bytes(7LL << 60, buf, sizeof(buf)), "7Ei");
    ck_assert_str_eq(berth_format_millicpu(500, buf, sizeof(buf)), "500m");
    ck_assert_str_eq(berth_format_millicpu(2000, buf, sizeof(buf)), "2");
    ck_assert_str_eq(berth_format_millicpu(0, buf, sizeof(buf)), "0");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/quantity");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, bytes_valid);
    tcase_add_test(tc, cpu_valid);
    tcase_add_test(tc, bytes_rejected);
    tcase_add_test(tc, cpu_rejected);
    tcase_add_test(tc, format);
    suite_add_tcase(s, tc);
    return s;
}
