/* Container logs in the CRI format kubelet and crictl read:
 *
 *   <RFC3339Nano time> <stdout|stderr> <F|P> <text>\n
 *
 * F ends a line; P marks a piece of a line that was too long and continues
 * in the next record. The writer batches records (one write(2) per batch,
 * not per line) and rotates in the write path: the file never grows past
 * max_bytes, and at most max_files files exist (name, name.1, ... name.N-1),
 * so the bound holds for a container writing as fast as it can. A write
 * error (a full disk) drops the batch and is reported; it never stops the
 * caller from draining the container's pipes. */
#ifndef BERTH_MONITOR_CRILOG_H
#define BERTH_MONITOR_CRILOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_CRILOG_LINE_MAX (16 * 1024)

typedef enum berth_crilog_stream {
    BERTH_CRILOG_STDOUT = 0,
    BERTH_CRILOG_STDERR = 1,
} berth_crilog_stream;

typedef struct berth_crilog berth_crilog;

/* Open (append to) dirfd/name. max_bytes >= 4096, max_files >= 1. */
int berth_crilog_open(int dirfd, const char *name, int64_t max_bytes, int max_files,
                      berth_crilog **ret_log, berth_error **err);

/* Take bytes read from a stream at time unix_ns: complete lines become F
 * records, over-long ones P pieces; a trailing partial line waits for more
 * (or berth_crilog_end). Records are written before returning. */
int berth_crilog_feed(berth_crilog *l, berth_crilog_stream stream, const char *data, size_t len,
                      int64_t unix_ns, berth_error **err);

/* The stream ended: write its partial line, if any, as an F record. On
 * failure the line is dropped (and counted): the stream is over. */
int berth_crilog_end(berth_crilog *l, berth_crilog_stream stream, int64_t unix_ns,
                     berth_error **err);

/* Bytes dropped because the log could not be written. */
uint64_t berth_crilog_dropped(const berth_crilog *l);

/* Close the file; NULL is fine. Partial lines not ended are lost. */
void berth_crilog_free(berth_crilog *l);

/* One parsed record; pointers into the caller's line. */
typedef struct berth_crilog_entry {
    int64_t unix_ns;
    berth_crilog_stream stream;
    int partial; /* P */
    const char *text;
    size_t text_len;
} berth_crilog_entry;

/* Parse one record (with or without its trailing newline). 0, or -1 if it
 * is not a CRI log record. */
int berth_crilog_parse(const char *line, size_t len, berth_crilog_entry *ret_entry);

/* --- reading ------------------------------------------------------------------ */

/* What to read from a rotated log (name, name.1 ... name.<max_files-1>,
 * newest first on disk, read oldest first). */
typedef struct berth_crilog_query {
    /* Continue after a previous batch (its next_cursor); 0: start per
     * tail_lines. A cursor names a file by inode and an offset in it, so it
     * survives rotation; if its file was rotated away, reading restarts at
     * the oldest file kept and truncated is set. */
    uint64_t cursor;
    /* With cursor 0: start this many records before the end (0: from the
     * first record kept). */
    uint32_t tail_lines;
    /* Most text bytes in one batch (a longer single record is still
     * returned whole). */
    size_t max_bytes;
    /* Skip records older than since_ns and newer than until_ns (Unix ns);
     * 0: no limit. */
    int64_t since_ns;
    int64_t until_ns;
    /* -1: both streams; else only BERTH_CRILOG_STDOUT or _STDERR. */
    int stream;
} berth_crilog_query;

typedef struct berth_crilog_line {
    int64_t unix_ns;
    berth_crilog_stream stream;
    int partial;
    const char *text; /* into the batch's buffer */
    size_t len;
} berth_crilog_line;

typedef struct berth_crilog_batch {
    berth_crilog_line *lines;
    size_t n_lines;
    char *buf;
    uint64_t next_cursor;
    int truncated; /* the cursor's file was gone: lines were lost */
    int at_end;    /* everything written so far was returned */
} berth_crilog_batch;

int berth_crilog_read(int dirfd, const char *name, int max_files, const berth_crilog_query *q,
                      berth_crilog_batch *ret_batch, berth_error **err);
void berth_crilog_batch_clear(berth_crilog_batch *b);

#endif
