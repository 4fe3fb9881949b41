/* A CronJob's schedule: the five fields of cron (minute, hour, day of
 * month, month, day of week; numbers, names JAN-DEC and SUN-SAT, '*', '?',
 * ranges, lists and steps) or one of its macros (@yearly, @annually,
 * @monthly, @weekly, @daily, @midnight, @hourly), as Kubernetes' CronJob
 * takes them, and the times it names in an IANA time zone. Pure but for
 * the zone's rules, which come from the system's tzdata. */
#ifndef BERTH_SPEC_CRON_H
#define BERTH_SPEC_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct berth_cron {
    uint64_t minutes;            /* bit m: minute m (0-59) */
    uint32_t hours;              /* 0-23 */
    uint32_t days;               /* 1-31 */
    uint16_t months;             /* 1-12 */
    uint8_t weekdays;            /* 0-6, Sunday 0 */
    bool days_any, weekdays_any; /* '*' or '?': cron's OR of the two applies only when neither is */
} berth_cron;

/* Parse a schedule; EINVAL naming the field and what is wrong
 * ("minute: 61 is out of range (0-59)"). */
int berth_cron_parse(const char *text, berth_cron *ret, berth_error **err);

/* Whether tz is a time zone this machine knows ("" and "UTC" always). */
bool berth_time_zone_valid(const char *tz);

/* The first time after `after` (Unix seconds) the schedule names, in zone
 * tz ("": UTC); 0 when none in the next five years (30 February). */
int64_t berth_cron_next(const berth_cron *c, const char *tz, int64_t after);

#endif
