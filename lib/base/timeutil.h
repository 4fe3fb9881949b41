/* Clocks and timestamps: monotonic time for timeouts, wall time formatted as
 * RFC 3339 with nanoseconds (UTC) for logs and records. */
#ifndef BERTH_BASE_TIMEUTIL_H
#define BERTH_BASE_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

#define BERTH_NSEC_PER_SEC  ((int64_t)1000000000)
#define BERTH_NSEC_PER_MSEC ((int64_t)1000000)
#define BERTH_NSEC_PER_USEC ((int64_t)1000)

/* Nanoseconds on CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t berth_now_mono_ns(void);
int64_t berth_now_real_ns(void);

/* Length of "2026-11-29T04:22:26.123456789Z" plus NUL. */
#define BERTH_RFC3339NANO_LEN 31

/* Format a wall-clock time in ns since the epoch as RFC 3339 with nine
 * fractional digits, UTC ("Z"). Fixed width, so such stamps sort as text.
 * buf must hold BERTH_RFC3339NANO_LEN bytes. Returns buf. */
char *berth_format_rfc3339nano(int64_t unix_ns, char *buf);

/* Parse what berth_format_rfc3339nano writes, and any RFC 3339 time with
 * 0-9 fractional digits and a Z or ±hh:mm offset. 0 on success, -1 if the
 * text is not such a time. */
int berth_parse_rfc3339(const char *s, int64_t *ret_unix_ns);

#endif
