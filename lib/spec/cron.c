/* Cron schedules (cron.h). */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ZONEINFO "/usr/share/zoneinfo/"

typedef struct field_def {
    const char *name;
    int min, max;
    const char *const *names; /* names for min.. (NULL: numbers only) */
} field_def;

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                           "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const day_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

static const field_def fields[5] = {
    { "minute", 0, 59, NULL },          { "hour", 0, 23, NULL },
    { "day of month", 1, 31, NULL },    { "month", 1, 12, month_names },
    { "day of week", 0, 6, day_names },
};

/* One value of field d at *p (a number or a name); advances *p. */
static int value(const field_def *d, const char **p, int *ret, berth_error **err)
{
    char *end;
    long v;

    if (d->names && isalpha((unsigned char)**p)) {
        for (int i = 0; d->names[i]; i++)
            if (strncasecmp(*p, d->names[i], 3) == 0 && !isalpha((unsigned char)(*p)[3])) {
                *ret = d->min + i;
                *p += 3;
                return 0;
            }
        return berth_error_set(err, EINVAL, "%s: '%.10s' is not a name of one", d->name, *p);
    }
    errno = 0;
    v = strtol(*p, &end, 10);
    if (end == *p || errno)
        return berth_error_set(err, EINVAL, "%s: '%.10s' is not a number", d->name, *p);
    /* Sunday is 0 or 7, as cron has it (7 folded into 0 by the caller) */
    if (v < d->min || v > (d->max == 6 ? 7 : d->max))
        return berth_error_set(err, EINVAL, "%s: %ld is out of range (%d-%d)", d->name, v, d->min,
                               d->max);
    *ret = (int)v;
    *p = end;
    return 0;
}

/* One field's text (between spaces) into bits; *ret_any when it is '*'
 * or '?'. */
static int parse_field(const field_def *d, const char *text, uint64_t *ret, bool *ret_any,
                       berth_error **err)
{
    const char *p = text;
    uint64_t bits = 0;

    /* as Kubernetes' parser: a field that starts with a star or '?' (alone,
     * or with a step) leaves the other day field alone */
    *ret_any = text[0] == '*' || text[0] == '?';
    for (;;) {
        int lo, hi, step = 1;

        if (*p == '*' || *p == '?') {
            lo = d->min;
            hi = d->max;
            p++;
        } else {
            if (value(d, &p, &lo, err) < 0)
                return -1;
            hi = lo;
            if (*p == '-') {
                p++;
                if (value(d, &p, &hi, err) < 0)
                    return -1;
                if (hi < lo)
                    return berth_error_set(err, EINVAL, "%s: the range %d-%d ends before it starts",
                                           d->name, lo, hi);
            }
        }
        if (*p == '/') {
            char *end;
            long s;

            errno = 0;
            s = strtol(++p, &end, 10);
            if (end == p || errno || s < 1 || s > d->max)
                return berth_error_set(err, EINVAL, "%s: '%.10s' is not a step (1-%d)", d->name, p,
                                       d->max);
            step = (int)s;
            p = end;
            if (lo == hi)
                hi = d->max; /* "5/15": from 5 on */
        }
        for (int v = lo; v <= hi; v += step)
            bits |= 1ULL << v;
        if (d->max == 6 && (bits & (1ULL << 7))) /* Sunday as 7 */
            bits = (bits & ~(1ULL << 7)) | 1ULL;
        if (*p == '\0')
            break;
        if (*p != ',')
            return berth_error_set(err, EINVAL, "%s: unexpected '%c' in '%.20s'", d->name, *p,
                                   text);
        p++;
    }
    *ret = bits;
    return 0;
}

int berth_cron_parse(const char *text, berth_cron *ret, berth_error **err)
{
    static const struct {
        const char *name, *is;
    } macros[] = { { "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" },
                   { "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
                   { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
                   { "@hourly", "0 * * * *" } };
    char buf[128], *save = NULL, *part[6];
    uint64_t bits[5];
    bool any[5];
    int n = 0;

    if (!text || strlen(text) >= sizeof(buf))
        return berth_error_set(err, EINVAL, "a schedule is at most %zu characters",
                               sizeof(buf) - 1);
    snprintf(buf, sizeof(buf), "%s", text);
    if (buf[0] == '@') {
        size_t i;

        for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (strcmp(buf, macros[i].name) == 0)
                break;
        if (i == sizeof(macros) / sizeof(macros[0]))
            return berth_error_set(err, EINVAL,
                                   "'%.20s' is not one of @yearly, @annually, @monthly, @weekly, "
                                   "@daily, @midnight, @hourly",
                                   buf);
        snprintf(buf, sizeof(buf), "%s", macros[i].is);
    }
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 5)
            return berth_error_set(err, EINVAL,
                                   "five fields (minute hour day-of-month month day-of-week), "
                                   "not more");
        part[n++] = t;
    }
    if (n != 5)
        return berth_error_set(
            err, EINVAL, "five fields (minute hour day-of-month month day-of-week), not %d", n);
    for (int i = 0; i < 5; i++)
        if (parse_field(&fields[i], part[i], &bits[i], &any[i], err) < 0)
            return -1;
    ret->minutes = bits[0];
    ret->hours = (uint32_t)bits[1];
    ret->days = (uint32_t)bits[2];
    ret->months = (uint16_t)bits[3];
    ret->weekdays = (uint8_t)bits[4];
    ret->days_any = any[2];
    ret->weekdays_any = any[4];
    return 0;
}

bool berth_time_zone_valid(const char *tz)
{
    char path[256];
    struct stat st;

    if (!tz || !*tz || strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0)
        return true;
    if (strlen(tz) > 100 || tz[0] == '/' || strstr(tz, ".."))
        return false;
    for (const char *c = tz; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("_+-/", *c))
            return false;
    snprintf(path, sizeof(path), ZONEINFO "%s", tz);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether tm's day is one the schedule names. */
static bool day_matches(const berth_cron *c, const struct tm *tm)
{
    bool dom = c->days & (1U << tm->tm_mday), dow = c->weekdays & (1U << tm->tm_wday);

    if (c->days_any && c->weekdays_any)
        return true;
    if (c->days_any)
        return dow;
    if (c->weekdays_any)
        return dom;
    return dom || dow; /* both restricted: either, as cron */
}

int64_t berth_cron_next(const berth_cron *c, const char *tz, int64_t after)
{
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    time_t t = (time_t)(after - after % 60 + 60), limit = t + 5 * 366 * 86400;
    int64_t found = 0;
    struct tm tm;

    /* (the controller is one thread: TZ is changed for this call only) */
    setenv("TZ", tz && *tz ? tz : "UTC", 1);
    tzset();
    while (t < limit) {
        localtime_r(&t, &tm);
        if (!(c->months & (1U << (tm.tm_mon + 1)))) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        } else if (!(c->hours & (1U << tm.tm_hour))) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        } else if (!(c->minutes & (1ULL << tm.tm_min))) {
            t += 60;
            continue;
        } else {
            found = (int64_t)t;
            break;
        }
        tm.tm_isdst = -1;
        {
            time_t next = mktime(&tm);

            /* a zone's gap can map back: never go backwards */
            t = next > t ? next : t + 60;
        }
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return found;
}
