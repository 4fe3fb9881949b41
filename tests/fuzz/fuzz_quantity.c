/* Fuzz target: resource quantities (lib/base/quantity.h), "500m", "64Mi",
 * "1e3". The input is the text (without NUL bytes). Besides not crashing,
 * the parser must be consistent with itself: the same text at a finer scale
 * is the same amount (64Mi bytes is 64Mi * 1000 millibytes), and what the
 * formatters print parses back to the same value. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUANTITY_TEXT_MAX 256

static void fail(const char *s, const char *what, int64_t got, int64_t want)
{
    fprintf(stderr, "quantity '%s': %s: got %" PRId64 ", want %" PRId64 "\n", s, what, got, want);
    abort();
}

/* Parse s at scale10; -1 when it does not parse (and then an error must
 * say why). */
static int parse(const char *s, int scale10, int64_t *ret)
{
    berth_error *err = NULL;

    if (berth_parse_quantity(s, scale10, "fuzz", ret, &err) == 0) {
        if (err || *ret < 0)
            fail(s, "success with an error or a negative value", *ret, 0);
        return 0;
    }
    if (!err || !err->msg || !*err->msg)
        fail(s, "failure without an error", 0, 0);
    berth_error_free(&err);
    return -1;
}

/* Scale a to b = a * 10^k: when one is a whole number of units, the other
 * is the same amount. */
static void same_amount(const char *s, int scale_a, int scale_b, int64_t k10)
{
    int64_t a = 0, b = 0;
    int ra = parse(s, scale_a, &a), rb = parse(s, scale_b, &b);

    if (ra == 0 && a <= INT64_MAX / k10 && (rb < 0 || b != a * k10))
        fail(s, "finer scale", rb < 0 ? -1 : b, a * k10);
    if (rb == 0 && b % k10 == 0 && (ra < 0 || a != b / k10))
        fail(s, "coarser scale", ra < 0 ? -1 : a, b / k10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[QUANTITY_TEXT_MAX + 1], buf[64];
    berth_error *err = NULL;
    int64_t v, back;

    if (size > QUANTITY_TEXT_MAX || memchr(data, '\0', size))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    same_amount(s, 0, 3, 1000);
    same_amount(s, 3, 9, 1000000);

    if (berth_parse_bytes(s, &v, NULL) == 0) {
        berth_format_bytes(v, buf, sizeof(buf));
        if (berth_parse_bytes(buf, &back, &err) < 0 || back != v)
            fail(buf, "bytes printed do not parse back", err ? -1 : back, v);
    }
    if (berth_parse_millicpu(s, &v, NULL) == 0) {
        berth_format_millicpu(v, buf, sizeof(buf));
        if (berth_parse_millicpu(buf, &back, &err) < 0 || back != v)
            fail(buf, "cpu printed does not parse back", err ? -1 : back, v);
    }
    berth_error_free(&err);
    return 0;
}
