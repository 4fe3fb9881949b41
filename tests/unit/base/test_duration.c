/* Duration parsing and formatting. */
#include <check.h>
#include <stdint.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "check_main.h"

#define S  BERTH_NSEC_PER_SEC
#define MS BERTH_NSEC_PER_MSEC

START_TEST(valid)
{
    static const struct {
        const char *in;
        int64_t want;
    } cases[] = {
        { "0", 0 },
        { "0s", 0 },
        { "250ms", 250 * MS },
        { "10s", 10 * S },
        { "5m", 300 * S },
        { "1h30m", 5400 * S },
        { "1h0m0s", 3600 * S },
        { "1.5s", 1500 * MS },
        { ".5s", 500 * MS },
        { "1.s", S },
        { "100us", 100000 },
        { "100\xc2\xb5s", 100000 },
        { "7ns", 7 },
        { "+3s", 3 * S },
        { "2562047h47m16.854775807s", INT64_MAX },
        { "1.0000000000000000000000001s", S },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        berth_error *err = NULL;
        int64_t v = -1;

        ck_assert_msg(berth_parse_duration(cases[i].in, "timeout", &v, &err) == 0, "%s: %s",
                      cases[i].in, err ? err->msg : "");
        ck_assert_msg(v == cases[i].want, "%s: got %lld want %lld", cases[i].in, (long long)v,
                      (long long)cases[i].want);
    }
}
END_TEST

START_TEST(rejected)
{
    static const struct {
        const char *in;
        const char *msg;
    } cases[] = {
        { "", "timeout: empty duration" },
        { "-1s", "timeout: duration '-1s' must not be negative" },
        { "10", "timeout: duration '10' needs a unit (ns, us, ms, s, m, h) at ''" },
        { "10x", "timeout: duration '10x' needs a unit (ns, us, ms, s, m, h) at 'x'" },
        { "10 s", "timeout: duration '10 s' needs a unit (ns, us, ms, s, m, h) at ' s'" },
        { "s", "timeout: 's' is not a duration (expected a number at 's')" },
        { "+", "timeout: '+' is not a duration" },
        { "1h.m", "timeout: '1h.m' is not a duration (expected a number at 'm')" },
        { "2562047h47m16.854775808s", "timeout: duration '2562047h47m16.854775808s' is out of "
                                      "range (max about 292 years)" },
        { "99999999999999999999s", "timeout: duration '99999999999999999999s' is out of range "
                                   "(max about 292 years)" },
        { "3000000h", "timeout: duration '3000000h' is out of range (max about 292 years)" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        berth_error *err = NULL;
        int64_t v = 42;

        ck_assert_msg(berth_parse_duration(cases[i].in, "timeout", &v, &err) < 0, "%s accepted",
                      cases[i].in);
        ck_assert_ptr_nonnull(err);
        ck_assert_str_eq(err->msg, cases[i].msg);
        ck_assert_int_eq(v, 42);
        berth_error_free(&err);
    }
}
END_TEST

START_TEST(format)
{
    char buf[64];

    ck_assert_str_eq(berth_format_duration(0, buf, sizeof(buf)), "0s");
    ck_assert_str_eq(berth_format_duration(250 * MS, buf, sizeof(buf)), "250ms");
    ck_assert_str_eq(berth_format_duration(1500 * MS, buf, sizeof(buf)), "1.5s");
    ck_assert_str_eq(berth_format_duration(1250 * MS, buf, sizeof(buf)), "1.25s");
    ck_assert_str_eq(berth_format_duration(1001 * MS, buf, sizeof(buf)), "1.001s");
    ck_assert_str_eq(berth_format_duration(5400 * S, buf, sizeof(buf)), "1h30m");
    ck_assert_str_eq(berth_format_duration(3601 * S, buf, sizeof(buf)), "1h1s");
    ck_assert_str_eq(berth_format_duration(100000, buf, sizeof(buf)), "100us");
    ck_assert_str_eq(berth_format_duration(7, buf, sizeof(buf)), "7ns");
}
END_TEST

START_TEST(round_trip)
{
    static const int64_t values[] = { 1, 999, 1000, 250 * MS, 10 * S, 5400 * S, 1500 * MS };
    char buf[64];

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        berth_error *err = NULL;
        int64_t v;

        berth_format_duration(values[i], buf, sizeof(buf));
        ck_assert_int_eq(berth_parse_duration(buf, "x", &v, &err), 0);
        ck_assert_int_eq(v, values[i]);
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/duration");
    TCase *tc = tcase_create("duration");

    tcase_add_test(tc, valid);
    tcase_add_test(tc, rejected);
    tcase_add_test(tc, format);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return s;
}
