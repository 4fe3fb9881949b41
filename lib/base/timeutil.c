/* Clocks and RFC 3339 timestamps. */
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * BERTH_NSEC_PER_SEC + ts.tv_nsec;
}

int64_t berth_now_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t berth_now_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

char *berth_format_rfc3339nano(int64_t unix_ns, char *buf)
{
    time_t sec = (time_t)(unix_ns / BERTH_NSEC_PER_SEC);
    long nsec = (long)(unix_ns % BERTH_NSEC_PER_SEC);
    struct tm tm;

    if (nsec < 0) {
        nsec += BERTH_NSEC_PER_SEC;
        sec -= 1;
    }
    if (!gmtime_r(&sec, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        memcpy(buf, "0000-00-00T00:00:00.000000000Z", BERTH_RFC3339NANO_LEN);
        return buf;
    }
    {
        /* The year range is checked above, so this always fits; the larger
         * scratch buffer only keeps -Wformat-truncation quiet. */
        char tmp[64];

        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec);
        memcpy(buf, tmp, BERTH_RFC3339NANO_LEN - 1);
        buf[BERTH_RFC3339NANO_LEN - 1] = '\0';
    }
    return buf;
}

static int digits(const char **p, int n, int *ret)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

int berth_parse_rfc3339(const char *s, int64_t *ret_unix_ns)
{
    int year, mon, day, hour, min, sec, off = 0;
    int64_t nsec = 0;
    struct tm tm = { 0 };
    time_t t;

    if (digits(&s, 4, &year) < 0 || expect(&s, '-') < 0 || digits(&s, 2, &mon) < 0 ||
        expect(&s, '-') < 0 || digits(&s, 2, &day) < 0 || (*s != 'T' && *s != 't') ||
        (s++, digits(&s, 2, &hour)) < 0 || expect(&s, ':') < 0 || digits(&s, 2, &min) < 0 ||
        expect(&s, ':') < 0 || digits(&s, 2, &sec) < 0)
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    if (*s == '.') {
        int n = 0;

        s++;
        while (*s >= '0' && *s <= '9') {
            if (n == 9)
                return -1;
            nsec = nsec * 10 + (*s++ - '0');
            n++;
        }
        if (n == 0)
            return -1;
        while (n++ < 9)
            nsec *= 10;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;

        if (digits(&s, 2, &oh) < 0 || expect(&s, ':') < 0 || digits(&s, 2, &om) < 0 || oh > 23 ||
            om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*s != '\0')
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *ret_unix_ns = ((int64_t)t - off) * BERTH_NSEC_PER_SEC + nsec;
    return 0;
}
