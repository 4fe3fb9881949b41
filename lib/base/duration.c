/* Go-style duration parsing and formatting, in int64 nanoseconds. */
#include "duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

#define FRAC_DIGITS_MAX 18

struct unit {
    const char *name;
    int64_t ns;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit units[] = {
    { "ns", 1 },
    { "us", BERTH_NSEC_PER_USEC },
    { "\xc2\xb5s", BERTH_NSEC_PER_USEC }, /* U+00B5 micro sign */
    { "\xce\xbcs", BERTH_NSEC_PER_USEC }, /* U+03BC greek mu */
    { "ms", BERTH_NSEC_PER_MSEC },
    { "s", BERTH_NSEC_PER_SEC },
    { "m", 60 * BERTH_NSEC_PER_SEC },
    { "h", 3600 * BERTH_NSEC_PER_SEC },
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int berth_parse_duration(const char *s, const char *what, int64_t *ret_ns, berth_error **err)
{
    const char *p = s;
    __int128 total = 0;

    if (!s || *s == '\0')
        return berth_error_set(err, EINVAL, "%s: empty duration", what);
    if (*p == '-')
        return berth_error_set(err, EINVAL, "%s: duration '%s' must not be negative", what, s);
    if (*p == '+')
        p++;
    if (strcmp(p, "0") == 0) {
        *ret_ns = 0;
        return 0;
    }
    if (*p == '\0')
        return berth_error_set(err, EINVAL, "%s: '%s' is not a duration", what, s);
    while (*p) {
        __int128 whole = 0, frac = 0, frac_scale = 1;
        const struct unit *u = NULL;
        int nd = 0;

        for (; is_digit(*p); p++, nd++) {
            whole = whole * 10 + (*p - '0');
            if (whole > INT64_MAX)
                goto out_of_range;
        }
        if (*p == '.') {
            p++;
            for (; is_digit(*p); p++, nd++) {
                /* Digits beyond nanosecond-of-an-hour precision cannot
                 * change the result; skip them rather than overflow. */
                if (frac_scale < 1000000000000000000LL) {
                    frac = frac * 10 + (*p - '0');
                    frac_scale *= 10;
                }
            }
        }
        if (nd == 0)
            return berth_error_set(
                err, EINVAL, "%s: '%s' is not a duration (expected a number at '%s')", what, s, p);
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t len = strlen(units[i].name);
            if (strncmp(p, units[i].name, len) == 0 && (u == NULL || len > strlen(u->name)))
                u = &units[i];
        }
        if (!u)
            return berth_error_set(err, EINVAL,
                                   "%s: duration '%s' needs a unit (ns, us, ms, s, m, h) at '%s'",
                                   what, s, p);
        p += strlen(u->name);
        total += whole * u->ns + frac * u->ns / frac_scale;
        if (total > INT64_MAX)
            goto out_of_range;
    }
    *ret_ns = (int64_t)total;
    return 0;

out_of_range:
    return berth_error_set(err, ERANGE, "%s: duration '%s' is out of range (max about 292 years)",
                           what, s);
}

char *berth_format_duration(int64_t ns, char *buf, size_t size)
{
    size_t n = 0;

    if (ns <= 0) {
        snprintf(buf, size, ns == 0 ? "0s" : "-");
        return buf;
    }
    if (ns < BERTH_NSEC_PER_SEC) {
        if (ns % BERTH_NSEC_PER_MSEC == 0)
            snprintf(buf, size, "%" PRId64 "ms", ns / BERTH_NSEC_PER_MSEC);
        else if (ns % BERTH_NSEC_PER_USEC == 0)
            snprintf(buf, size, "%" PRId64 "us", ns / BERTH_NSEC_PER_USEC);
        else
            snprintf(buf, size, "%" PRId64 "ns", ns);
        return buf;
    }
    buf[0] = '\0';
    {
        int64_t h = ns / (3600 * BERTH_NSEC_PER_SEC);
        int64_t m = ns / (60 * BERTH_NSEC_PER_SEC) % 60;
        int64_t sec = ns / BERTH_NSEC_PER_SEC % 60;
        int64_t ms = ns / BERTH_NSEC_PER_MSEC % 1000;

        if (h && n < size)
            n += (size_t)snprintf(buf + n, size - n, "%" PRId64 "h", h);
        if (m && n < size)
            n += (size_t)snprintf(buf + n, size - n, "%" PRId64 "m", m);
        if ((sec || ms) && n < size) {
            if (ms == 0)
                n += (size_t)snprintf(buf + n, size - n, "%" PRId64 "s", sec);
            else if (ms % 100 == 0)
                n += (size_t)snprintf(buf + n, size - n, "%" PRId64 ".%" PRId64 "s", sec, ms / 100);
            else if (ms % 10 == 0)
                n +=
                    (size_t)snprintf(buf + n, size - n, "%" PRId64 ".%02" PRId64 "s", sec, ms / 10);
            else
                n += (size_t)snprintf(buf + n, size - n, "%" PRId64 ".%03" PRId64 "s", sec, ms);
        }
    }
    return buf;
}
