/* Fuzz target: durations (lib/base/duration.h), "250ms", "1h30m", "1.5s".
 * The input is the text (without NUL bytes). Besides not crashing, what
 * berth_format_duration prints for a parsed value must parse back to it,
 * to the millisecond it promises above a second. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DURATION_TEXT_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[DURATION_TEXT_MAX + 1], buf[64];
    berth_error *err = NULL;
    int64_t ns, back, want;

    if (size > DURATION_TEXT_MAX || memchr(data, '\0', size))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    if (berth_parse_duration(s, "fuzz", &ns, &err) < 0) {
        if (!err || !err->msg || !*err->msg) {
            fprintf(stderr, "duration '%s': failure without an error\n", s);
            abort();
        }
        berth_error_free(&err);
        return 0;
    }
    if (err || ns < 0) {
        fprintf(stderr, "duration '%s': success with an error or %" PRId64 "\n", s, ns);
        abort();
    }
    berth_format_duration(ns, buf, sizeof(buf));
    want = ns < BERTH_NSEC_PER_SEC ? ns : ns - ns % BERTH_NSEC_PER_MSEC;
    if (berth_parse_duration(buf, "fuzz", &back, &err) < 0 || back != want) {
        fprintf(stderr, "duration '%s' = %" PRId64 " ns printed as '%s': %s %" PRId64 "\n", s, ns,
                buf, err ? err->msg : "parses back as", err ? 0 : back);
        abort();
    }
    return 0;
}
