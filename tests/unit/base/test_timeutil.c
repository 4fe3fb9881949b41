/* RFC 3339 timestamps and clocks. */
#include <check.h>
#include <stdint.h>

#include "base/timeutil.h"
#include "check_main.h"

START_TEST(format_known)
{
    char buf[BERTH_RFC3339NANO_LEN];

    ck_assert_str_eq(berth_format_rfc3339nano(0, buf), "1970-01-01T00:00:00.000000000Z");
    ck_assert_str_eq(berth_format_rfc3339nano(1795926146123456789LL, buf),
                     "2026-11-29T04:22:26.123456789Z");
    ck_assert_str_eq(berth_format_rfc3339nano(-1, buf), "1969-12-31T23:59:59.999999999Z");
}
END_TEST

START_TEST(parse_forms)
{
    int64_t t;

    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26.123456789Z", &t), 0);
    ck_assert_int_eq(t, 1795926146123456789LL);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26Z", &t), 0);
    ck_assert_int_eq(t, 1795926146000000000LL);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T05:22:26.5+01:00", &t), 0);
    ck_assert_int_eq(t, 1795926146500000000LL);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26", &t), -1);
    ck_assert_int_eq(berth_parse_rfc3339("2026-13-29T04:22:26Z", &t), -1);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26.Z", &t), -1);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26.1234567891Z", &t), -1);
    ck_assert_int_eq(berth_parse_rfc3339("2026-11-29T04:22:26Zx", &t), -1);
    ck_assert_int_eq(berth_parse_rfc3339("", &t), -1);
}
END_TEST

START_TEST(round_trip_now)
{
    char buf[BERTH_RFC3339NANO_LEN];
    int64_t now = berth_now_real_ns(), back;

    ck_assert_int_eq(berth_parse_rfc3339(berth_format_rfc3339nano(now, buf), &back), 0);
    ck_assert_int_eq(back, now);
}
END_TEST

START_TEST(monotonic)
{
    int64_t a = berth_now_mono_ns(), b = berth_now_mono_ns();

    ck_assert_int_gt(a, 0);
    ck_assert_int_ge(b, a);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/timeutil");
    TCase *tc = tcase_create("time");

    tcase_add_test(tc, format_known);
    tcase_add_test(tc, parse_forms);
    tcase_add_test(tc, round_trip_now);
    tcase_add_test(tc, monotonic);
    suite_add_tcase(s, tc);
    return s;
}
