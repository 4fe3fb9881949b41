/* Cron schedules (lib/spec/cron.h): what parses, what does not and why,
 * and the next times in UTC and in a zone with daylight saving. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "spec/cron.h"

/* 2026-12-06 19:10:00 UTC, a Sunday */
#define T0 1796584200LL

static int64_t next(const char *schedule, const char *tz, int64_t after)
{
    berth_cron c;
    berth_error *err = NULL;

    ck_assert_msg(berth_cron_parse(schedule, &c, &err) == 0, "%s: %s", schedule,
                  err ? err->msg : "");
    return berth_cron_next(&c, tz, after);
}

START_TEST(next_times)
{
    ck_assert_int_eq(next("* * * * *", "", T0), T0 + 60);
    ck_assert_int_eq(next("* * * * *", "", T0 + 30), T0 + 60);
    ck_assert_int_eq(next("*/15 * * * *", "", T0), T0 + 5 * 60); /* 19:15 */
    ck_assert_int_eq(next("0 20 * * *", "", T0), T0 + 50 * 60);  /* 20:00 */
    ck_assert_int_eq(next("@hourly", "", T0), T0 + 50 * 60);
    ck_assert_int_eq(next("@daily", "", T0), T0 + (4 * 60 + 50) * 60); /* midnight */
    /* Monday 09:30 (names, and the day of week) */
    ck_assert_int_eq(next("30 9 * * MON", "", T0), T0 + (14 * 60 + 20) * 60);
    ck_assert_int_eq(next("30 9 * * 1-5", "", T0), T0 + (14 * 60 + 20) * 60);
    /* Sunday is 7 too, in ranges as well: T0 is a Sunday */
    ck_assert_int_eq(next("0 20 * * 5-7", "", T0), T0 + 50 * 60);
    ck_assert_int_eq(next("0 20 * * 7", "", T0), T0 + 50 * 60);
    /* a star with a step leaves the day of week alone, as Kubernetes:
     * Mondays only */
    ck_assert_int_eq(next("0 0 */1 * MON", "", T0), T0 + (4 * 60 + 50) * 60);
    ck_assert_int_eq(next("0 0 */1 * MON", "", T0 + (4 * 60 + 50) * 60),
                     T0 + (4 * 60 + 50) * 60 + 7 * 86400);
    /* the 1st of next month, or a Monday: cron's OR of the two days */
    ck_assert_int_eq(next("0 0 1 * MON", "", T0), T0 + (4 * 60 + 50) * 60);
    /* February 30th never comes */
    ck_assert_int_eq(next("0 0 30 2 *", "", T0), 0);
    /* in a zone: 09:00 in Berlin is 08:00 UTC in December */
    ck_assert_int_eq(next("0 9 * * *", "Europe/Berlin", T0), T0 + (12 * 60 + 50) * 60);
}
END_TEST

START_TEST(mistakes_are_named)
{
    static const struct {
        const char *schedule, *error;
    } bad[] = {
        { "* * * *", "five fields (minute hour day-of-month month day-of-week), not 4" },
        { "60 * * * *", "minute: 60 is out of range (0-59)" },
        { "* 24 * * *", "hour: 24 is out of range (0-23)" },
        { "* * 0 * *", "day of month: 0 is out of range (1-31)" },
        { "* * * FOO *", "month: 'FOO' is not a name of one" },
        { "5-1 * * * *", "minute: the range 5-1 ends before it starts" },
        { "*/0 * * * *", "minute: '0' is not a step (1-59)" },
        { "@often", "'@often' is not one of @yearly, @annually, @monthly, @weekly, @daily, "
                    "@midnight, @hourly" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_cron c;
        berth_error *err = NULL;

        ck_assert_int_lt(berth_cron_parse(bad[i].schedule, &c, &err), 0);
        ck_assert_str_eq(err->msg, bad[i].error);
        berth_error_free(&err);
    }
    ck_assert(berth_time_zone_valid("UTC"));
    ck_assert(berth_time_zone_valid(""));
    ck_assert(!berth_time_zone_valid("../etc/passwd"));
    ck_assert(!berth_time_zone_valid("Mars/Olympus_Mons"));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("spec-cron");
    TCase *tc = tcase_create("cron");

    tcase_add_test(tc, next_times);
    tcase_add_test(tc, mistakes_are_named);
    suite_add_tcase(s, tc);
    return s;
}
