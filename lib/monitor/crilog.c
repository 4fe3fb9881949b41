/* CRI log writing with rotation in the write path, and parsing. */
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"

/* The batch buffer, allocated on first output: a quiet container's
 * monitor should not carry it (one monitor per container). */
#define OUT_BUF (32 * 1024)
/* "<31-byte time> stdout F " */
#define RECORD_OVERHEAD (BERTH_RFC3339NANO_LEN + 12)

struct berth_crilog {
    int dirfd;
    char *name;
    int fd;
    int64_t max_bytes;
    int max_files;
    int64_t size;     /* bytes in the current file */
    size_t line_max;  /* longest text per record */
    char *pending[2]; /* partial line per stream */
    size_t pending_len[2];
    char *out; /* OUT_BUF bytes, NULL until the first record */
    size_t out_len;
    uint64_t dropped;
};

static int open_current(berth_crilog *l, int flags, berth_error **err)
{
    struct stat st;

    l->fd = openat(l->dirfd, l->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | flags, 0640);
    if (l->fd < 0)
        return berth_error_errno(err, "open log %s", l->name);
    if (fstat(l->fd, &st) < 0)
        return berth_error_errno(err, "stat log %s", l->name);
    l->size = st.st_size;
    return 0;
}

int berth_crilog_open(int dirfd, const char *name, int64_t max_bytes, int max_files,
                      berth_crilog **ret_log, berth_error **err)
{
    berth_crilog *l;

    if (max_bytes < 4096 || max_files < 1)
        return berth_error_set(err, EINVAL, "log %s: rotation needs >= 4096 bytes and >= 1 file",
                               name);
    l = calloc(1, sizeof(*l));
    if (!l)
        return berth_error_make(err, ENOMEM, "log %s", name);
    l->dirfd = dirfd;
    l->fd = -1;
    l->max_bytes = max_bytes;
    l->max_files = max_files;
    /* A record must always fit a fresh file. */
    l->line_max = BERTH_CRILOG_LINE_MAX;
    if ((int64_t)l->line_max + RECORD_OVERHEAD > max_bytes / 2)
        l->line_max = (size_t)(max_bytes / 2 - RECORD_OVERHEAD);
    l->name = strdup(name);
    l->pending[0] = malloc(l->line_max);
    l->pending[1] = malloc(l->line_max);
    if (!l->name || !l->pending[0] || !l->pending[1]) {
        berth_crilog_free(l);
        return berth_error_make(err, ENOMEM, "log %s", name);
    }
    if (open_current(l, 0, err) < 0) {
        berth_crilog_free(l);
        return -1;
    }
    *ret_log = l;
    return 0;
}

/* name.N-1 -> name.N ... name -> name.1, then a fresh name. */
static int rotate(berth_crilog *l, berth_error **err)
{
    char from[512], to[512];

    close(l->fd);
    l->fd = -1;
    if (l->max_files == 1) {
        if (unlinkat(l->dirfd, l->name, 0) < 0 && errno != ENOENT)
            return berth_error_errno(err, "rotate log %s", l->name);
    } else {
        for (int i = l->max_files - 1; i >= 1; i--) {
            if (i == 1)
                snprintf(from, sizeof(from), "%s", l->name);
            else
                snprintf(from, sizeof(from), "%s.%d", l->name, i - 1);
            snprintf(to, sizeof(to), "%s.%d", l->name, i);
            if (renameat(l->dirfd, from, l->dirfd, to) < 0 && errno != ENOENT)
                return berth_error_errno(err, "rotate log %s to %s", from, to);
        }
    }
    return open_current(l, O_TRUNC, err);
}

static int flush_out(berth_crilog *l, berth_error **err)
{
    int r = 0;

    if (l->out_len == 0)
        return 0;
    if (l->fd < 0 || berth_write_all(l->fd, l->out, l->out_len) < 0) {
        /* Drop rather than stall the pipes; say so once per batch. */
        l->dropped += l->out_len;
        r = berth_error_errno(err, "write log %s (dropped %zu bytes)", l->name, l->out_len);
    } else {
        l->size += (int64_t)l->out_len;
    }
    l->out_len = 0;
    return r;
}

static int put_record(berth_crilog *l, berth_crilog_stream stream, char tag, const char *a,
                      size_t alen, const char *b, size_t blen, const char *ts, berth_error **err)
{
    size_t rec = RECORD_OVERHEAD + alen + blen;
    char *o;

    if (!l->out && !(l->out = malloc(OUT_BUF)))
        return berth_error_make(err, ENOMEM, "log %s", l->name);
    if (l->out_len + rec > OUT_BUF && flush_out(l, err) < 0)
        return -1;
    if (l->size + (int64_t)(l->out_len + rec) > l->max_bytes) {
        if (flush_out(l, err) < 0 || rotate(l, err) < 0)
            return -1;
    }
    o = l->out + l->out_len;
    memcpy(o, ts, BERTH_RFC3339NANO_LEN - 1);
    o += BERTH_RFC3339NANO_LEN - 1;
    o += sprintf(o, " %s %c ", stream == BERTH_CRILOG_STDOUT ? "stdout" : "stderr", tag);
    memcpy(o, a, alen);
    o += alen;
    memcpy(o, b, blen);
    o += blen;
    *o++ = '\n';
    l->out_len = (size_t)(o - l->out);
    return 0;
}

int berth_crilog_feed(berth_crilog *l, berth_crilog_stream stream, const char *data, size_t len,
                      int64_t unix_ns, berth_error **err)
{
    char ts[BERTH_RFC3339NANO_LEN];
    char *pend = l->pending[stream];
    size_t *plen = &l->pending_len[stream];
    int r = 0;

    berth_format_rfc3339nano(unix_ns, ts);
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;

        if (*plen + seg > l->line_max) {
            /* Too long for one record: emit a piece, keep going. */
            size_t take = l->line_max - *plen;

            if (put_record(l, stream, 'P', pend, *plen, data, take, ts, err) < 0)
                r = -1;
            *plen = 0;
            data += take;
            len -= take;
            continue;
        }
        if (!nl) {
            memcpy(pend + *plen, data, seg);
            *plen += seg;
            break;
        }
        if (put_record(l, stream, 'F', pend, *plen, data, seg, ts, err) < 0)
            r = -1;
        *plen = 0;
        data += seg + 1;
        len -= seg + 1;
    }
    if (flush_out(l, r < 0 ? NULL : err) < 0)
        r = -1;
    return r;
}

int berth_crilog_end(berth_crilog *l, berth_crilog_stream stream, int64_t unix_ns,
                     berth_error **err)
{
    char ts[BERTH_RFC3339NANO_LEN];

    if (l->pending_len[stream] == 0)
        return 0;
    berth_format_rfc3339nano(unix_ns, ts);
    if (put_record(l, stream, 'F', l->pending[stream], l->pending_len[stream], "", 0, ts, err) < 0)
        return -1;
    l->pending_len[stream] = 0;
    return flush_out(l, err);
}

uint64_t berth_crilog_dropped(const berth_crilog *l)
{
    return l->dropped;
}

void berth_crilog_free(berth_crilog *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->out);
    free(l->pending[0]);
    free(l->pending[1]);
    free(l->name);
    free(l);
}

int berth_crilog_parse(const char *line, size_t len, berth_crilog_entry *ret)
{
    char ts[40];
    const char *sp, *p = line, *end = line + len;

    if (len > 0 && line[len - 1] == '\n')
        end--;
    sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || (size_t)(sp - p) >= sizeof(ts))
        return -1;
    memcpy(ts, p, (size_t)(sp - p));
    ts[sp - p] = '\0';
    if (berth_parse_rfc3339(ts, &ret->unix_ns) < 0)
        return -1;
    p = sp + 1;
    if (end - p >= 7 && memcmp(p, "stdout ", 7) == 0)
        ret->stream = BERTH_CRILOG_STDOUT;
    else if (end - p >= 7 && memcmp(p, "stderr ", 7) == 0)
        ret->stream = BERTH_CRILOG_STDERR;
    else
        return -1;
    p += 7;
    if (end - p < 2 || (p[0] != 'F' && p[0] != 'P') || p[1] != ' ')
        return -1;
    ret->partial = p[0] == 'P';
    p += 2;
    ret->text = p;
    ret->text_len = (size_t)(end - p);
    return 0;
}
