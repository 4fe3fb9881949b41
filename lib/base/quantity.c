/* Kubernetes quantity parsing with exact integer arithmetic.
 *
 *   quantity ::= number suffix
 *   number   ::= digits | digits "." digits? | "." digits
 *   suffix   ::= "" | m | k | M | G | T | P | E | Ki | Mi | Gi | Ti | Pi | Ei
 *              | (e|E) [+-]? digits
 */
#include "quantity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SIG_DIGITS_MAX 19 /* 10^19 * 2^60 still fits in __int128 */
#define EXP_MAX        64

struct suffix {
    const char *name;
    int pow10;
    int pow2;
};

static const struct suffix suffixes[] = {
    { "", 0, 0 },    { "m", -3, 0 },  { "k", 3, 0 },   { "M", 6, 0 },   { "G", 9, 0 },
    { "T", 12, 0 },  { "P", 15, 0 },  { "E", 18, 0 },  { "Ki", 0, 10 }, { "Mi", 0, 20 },
    { "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int berth_parse_quantity(const char *s, int scale10, const char *what, int64_t *ret_value,
                         berth_error **err)
{
    char sig[SIG_DIGITS_MAX + 1];
    const char *p = s, *suffix;
    int nsig = 0, ndigits = 0, pow10 = scale10, pow2 = 0, seen_dot = 0, found = 0;
    int pending_zeros = 0; /* zeros seen after the last nonzero digit */
    __int128 v = 0;

    if (!s || *s == '\0')
        return berth_error_set(err, EINVAL, "%s quantity is empty", what);
    if (*p == '-')
        return berth_error_set(err, EINVAL, "%s quantity '%s' must not be negative", what, s);
    if (*p == '+')
        p++;
    for (; is_digit(*p) || *p == '.'; p++) {
        if (*p == '.') {
            if (seen_dot)
                return berth_error_set(err, EINVAL, "%s quantity '%s' is not a number", what, s);
            seen_dot = 1;
            continue;
        }
        ndigits++;
        if (seen_dot)
            pow10--;
        if (*p == '0') {
            if (nsig > 0)
                pending_zeros++;
            continue;
        }
        /* Trailing zeros are folded into the exponent, so only significant
         * digits count against the limit. */
        if (nsig + pending_zeros + 1 > SIG_DIGITS_MAX)
            return berth_error_set(err, ERANGE,
                                   "%s quantity '%s' has more than %d significant digits", what, s,
                                   SIG_DIGITS_MAX);
        while (pending_zeros > 0) {
            sig[nsig++] = '0';
            pending_zeros--;
        }
        sig[nsig++] = *p;
    }
    pow10 += pending_zeros;
    if (ndigits == 0)
        return berth_error_set(err, EINVAL, "%s quantity '%s' is not a number", what, s);

    suffix = p;
    if ((*p == 'e' || *p == 'E') &&
        (is_digit(p[1]) || ((p[1] == '+' || p[1] == '-') && is_digit(p[2])))) {
        int sign = 1, e = 0;

        p++;
        if (*p == '+' || *p == '-')
            sign = *p++ == '-' ? -1 : 1;
        for (; is_digit(*p); p++) {
            e = e * 10 + (*p - '0');
            if (e > EXP_MAX)
                return berth_error_set(err, ERANGE, "%s quantity '%s' is out of range", what, s);
        }
        if (*p != '\0')
            return berth_error_set(err, EINVAL, "%s quantity '%s' has garbage after the exponent",
                                   what, s);
        pow10 += sign * e;
        found = 1;
    } else {
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            if (strcmp(suffix, suffixes[i].name) == 0) {
                pow10 += suffixes[i].pow10;
                pow2 = suffixes[i].pow2;
                found = 1;
                break;
            }
        }
    }
    if (!found)
        return berth_error_set(err, EINVAL,
                               "%s quantity '%s': unknown suffix '%s' (expected one of m, k, M, "
                               "G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)",
                               what, s, suffix);

    for (int i = 0; i < nsig; i++)
        v = v * 10 + (sig[i] - '0');
    if (v == 0) {
        *ret_value = 0;
        return 0;
    }
    v <<= pow2;
    if (pow10 < 0) {
        __int128 div = 1;

        for (int i = 0; i < -pow10; i++) {
            div *= 10;
            if (div > v)
                break;
        }
        if (div > v || v % div != 0)
            goto not_whole;
        v /= div;
    } else {
        for (int i = 0; i < pow10; i++) {
            v *= 10;
            if (v > INT64_MAX)
                goto out_of_range;
        }
    }
    if (v > INT64_MAX)
        goto out_of_range;
    *ret_value = (int64_t)v;
    return 0;

out_of_range:
    return berth_error_set(err, ERANGE, "%s quantity '%s' is out of range", what, s);
not_whole:
    if (scale10 == 0)
        return berth_error_set(err, EINVAL, "%s quantity '%s' is not a whole number", what, s);
    return berth_error_set(err, EINVAL, "%s quantity '%s' is finer than the smallest unit (1e-%d)",
                           what, s, scale10);
}

int berth_parse_bytes(const char *s, int64_t *ret_bytes, berth_error **err)
{
    return berth_parse_quantity(s, 0, "memory", ret_bytes, err);
}

int berth_parse_millicpu(const char *s, int64_t *ret_millis, berth_error **err)
{
    return berth_parse_quantity(s, 3, "cpu", ret_millis, err);
}

char *berth_format_bytes(int64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    int u = -1;

    while (bytes != 0 && bytes % 1024 == 0 && u < 5) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, "%" PRId64 "%s", bytes, u >= 0 ? units[u] : "");
    return buf;
}

char *berth_format_bytes_approx(int64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    double v = (double)(bytes < 0 ? -bytes : bytes);
    int u = 0;

    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (bytes < 0)
        v = -v;
    /* Whole numbers, and anything from 10 up, without a decimal. */
    if (u == 0 || v >= 10 || v == (double)(int64_t)v)
        snprintf(buf, size, "%.0f%s", v, units[u]);
    else
        snprintf(buf, size, "%.1f%s", v, units[u]);
    return buf;
}

char *berth_format_millicpu(int64_t millis, char *buf, size_t size)
{
    if (millis % 1000 == 0)
        snprintf(buf, size, "%" PRId64, millis / 1000);
    else
        snprintf(buf, size, "%" PRId64 "m", millis);
    return buf;
}

char *berth_format_bytes_si(int64_t bytes, char *buf, size_t size)
{
    if (bytes < 1000)
        snprintf(buf, size, "%" PRId64 " B", bytes);
    else if (bytes < 1000 * 1000)
        snprintf(buf, size, "%.1f kB", (double)bytes / 1e3);
    else if (bytes < (int64_t)1000 * 1000 * 1000)
        snprintf(buf, size, "%.1f MB", (double)bytes / 1e6);
    else
        snprintf(buf, size, "%.2f GB", (double)bytes / 1e9);
    return buf;
}
