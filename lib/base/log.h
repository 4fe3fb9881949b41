/* Process-wide logging for daemons and tools.
 *
 * Human text on a terminal, or one JSON object per line for log collectors
 * (journald, fluent-bit). Each record is emitted with a single write(2), so
 * lines from concurrent processes sharing the fd never interleave. Library
 * code logs at debug only; main() decides what is worth more.
 *
 * When the fd is systemd's journal stream (JOURNAL_STREAM names it), every
 * record starts with its syslog priority ("<3>" for error), so that
 * `journalctl -p err` selects by level; text records then leave the time
 * and program to the journal. */
#ifndef BERTH_BASE_LOG_H
#define BERTH_BASE_LOG_H

#include <stddef.h>

#include "error.h"

typedef enum berth_log_level {
    BERTH_LOG_DEBUG,
    BERTH_LOG_INFO,
    BERTH_LOG_WARN,
    BERTH_LOG_ERROR,
} berth_log_level;

typedef enum berth_log_format {
    BERTH_LOG_TEXT, /* "2026-11-29T04:22:26.123Z berthd info: message" */
    BERTH_LOG_JSON, /* {"time":"...","level":"info","prog":"berthd","pid":1,"msg":"..."} */
} berth_log_format;

/* Configure the process's logger: program name (copied), minimum level,
 * format and destination fd (not owned; stderr by default). Not thread-safe
 * against concurrent berth_log calls; call it from main before threads. */
void berth_log_setup(const char *prog, berth_log_level min_level, berth_log_format format, int fd);

/* "debug", "info", "warn"/"warning", "error" -> level. */
int berth_log_level_parse(const char *s, berth_log_level *ret_level, berth_error **err);
/* "text", "json" -> format. */
int berth_log_format_parse(const char *s, berth_log_format *ret_format, berth_error **err);

/* Whether a record at level would be written (to skip costly formatting). */
int berth_log_enabled(berth_log_level level);

/* Emit one record. The message is truncated at 4 KiB; never fails, never
 * changes errno. */
void berth_log(berth_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Emit "<formatted context>: <err message>" at level; err is left alone. */
void berth_log_error(berth_log_level level, const berth_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define berth_debug(...) berth_log(BERTH_LOG_DEBUG, __VA_ARGS__)
#define berth_info(...)  berth_log(BERTH_LOG_INFO, __VA_ARGS__)
#define berth_warn(...)  berth_log(BERTH_LOG_WARN, __VA_ARGS__)
#define berth_err(...)   berth_log(BERTH_LOG_ERROR, __VA_ARGS__)

/* Append s to out as the inside of a JSON string (no quotes), escaping
 * quotes, backslashes, control characters and invalid UTF-8 bytes (as
 * \ufffd). Writes at most cap-1 bytes plus NUL, never splitting an escape.
 * Returns the length written. Exposed for anything else that emits JSON. */
size_t berth_json_escape(char *out, size_t cap, const char *s);

#endif
