/* Durations as operators write them (Go's time.ParseDuration syntax):
 * "250ms", "10s", "5m", "1h30m", "1.5s", "0". Units: ns, us (µs), ms, s, m,
 * h. Negative values, overflow past int64 nanoseconds and garbage are
 * rejected with a message quoting the input. */
#ifndef BERTH_BASE_DURATION_H
#define BERTH_BASE_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Parse into nanoseconds. what names the setting in errors. */
int berth_parse_duration(const char *s, const char *what, int64_t *ret_ns, berth_error **err);

/* Short human form, largest units first, zero parts omitted: 5400e9 ns ->
 * "1h30m", 250e6 -> "250ms", 1500e6 -> "1.5s", 0 -> "0s". Returns buf. */
char *berth_format_duration(int64_t ns, char *buf, size_t size);

#endif
