/* CRI log writing with rotation in the write path, and parsing. */
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

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
    char *pending[2]; /* partial line per stream; NULL until the first */
    size_t pending_len[2];
    char *out; /* OUT_BUF bytes, NULL until the first record */
    size_t out_len;
    uint64_t dropped;
};

static int open_current(berth_crilog *l, int flags, berth_error **err)
{
    struct stat st;

    l->fd = openat(l->dirfd, l->name,
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | flags, 0640);
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
    l = berth_xcalloc(1, sizeof(*l));
    l->dirfd = dirfd;
    l->fd = -1;
    l->max_bytes = max_bytes;
    l->max_files = max_files;
    /* A record must always fit a fresh file. */
    l->line_max = BERTH_CRILOG_LINE_MAX;
    if ((int64_t)l->line_max + RECORD_OVERHEAD > max_bytes / 2)
        l->line_max = (size_t)(max_bytes / 2 - RECORD_OVERHEAD);
    l->name = berth_xstrdup(name);
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

    if (!l->out)
        l->out = berth_xmalloc(OUT_BUF);
    if ((l->out_len + rec > OUT_BUF && flush_out(l, err) < 0) ||
        (l->size + (int64_t)(l->out_len + rec) > l->max_bytes &&
         (flush_out(l, err) < 0 || rotate(l, err) < 0))) {
        l->dropped += rec; /* this record too */
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
    /* allocated on the first partial line: most programs end theirs */
    const char *pend = l->pending[stream] ? l->pending[stream] : "";
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
            if (!l->pending[stream])
                l->pending[stream] = berth_xmalloc(l->line_max);
            memcpy(l->pending[stream] + *plen, data, seg);
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
    int r;

    if (l->pending_len[stream] == 0)
        return 0;
    berth_format_rfc3339nano(unix_ns, ts);
    /* Written or dropped (and counted): the stream is over either way. */
    r = put_record(l, stream, 'F', l->pending[stream], l->pending_len[stream], "", 0, ts, err);
    l->pending_len[stream] = 0;
    if (r < 0)
        return -1;
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

/* --- reading ------------------------------------------------------------------ */

/* A cursor: 1 (never 0, which means "start") | inode (15 bits) | check
 * (8 bits) | offset (40 bits). The inode finds the file across rotation;
 * the check, a hash of the bytes just before the offset, tells a reused
 * inode (a new file after the cursor's was deleted) from the real one. */
#define CURSOR_OFFSET_BITS 40
#define CURSOR_CHECK_SHIFT 40
#define CURSOR_INODE_SHIFT 48
#define CURSOR_OFFSET_MASK ((UINT64_C(1) << CURSOR_OFFSET_BITS) - 1)
#define CURSOR_INODE_MASK  ((UINT64_C(1) << 15) - 1)
#define CHECK_SPAN         16
#define READ_CHUNK         (64 * 1024)
#define FILES_MAX          101

typedef struct log_file {
    char name[300];
    uint64_t ino;
    int64_t size;
} log_file;

/* The check of position off in fd: 0 at the start of a file (nothing
 * precedes it to check). */
static uint8_t cursor_check(int fd, int64_t off)
{
    unsigned char buf[CHECK_SPAN];
    size_t n = off < CHECK_SPAN ? (size_t)off : CHECK_SPAN;
    uint32_t h = 2166136261u; /* FNV-1a */

    if (n == 0 || pread(fd, buf, n, off - (int64_t)n) != (ssize_t)n)
        return 0;
    for (size_t i = 0; i < n; i++)
        h = (h ^ buf[i]) * 16777619u;
    return (uint8_t)(h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24));
}

static uint64_t make_cursor(int fd, uint64_t ino, int64_t off)
{
    return (UINT64_C(1) << 63) | ((ino & CURSOR_INODE_MASK) << CURSOR_INODE_SHIFT) |
           ((uint64_t)cursor_check(fd, off) << CURSOR_CHECK_SHIFT) |
           ((uint64_t)off & CURSOR_OFFSET_MASK);
}

/* The files that exist, oldest first. */
static size_t list_files(int dirfd, const char *name, int max_files, log_file *out)
{
    size_t n = 0;

    for (int i = max_files - 1; i >= 0 && n < FILES_MAX; i--) {
        struct stat st;

        if (i == 0)
            snprintf(out[n].name, sizeof(out[n].name), "%s", name);
        else
            snprintf(out[n].name, sizeof(out[n].name), "%s.%d", name, i);
        if (fstatat(dirfd, out[n].name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        out[n].ino = (uint64_t)st.st_ino;
        out[n].size = st.st_size;
        n++;
    }
    return n;
}

/* Find where the last *want records of file f begin. Every newline but
 * the file's final one starts a record after it, and so does offset 0.
 * Counts *want down by the records found; *ret_off is where the wanted
 * records start in this file (0 when they start in it or an older one). */
static int tail_start(int dirfd, const log_file *f, uint32_t *want, int64_t *ret_off,
                      berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, f->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char buf[8192];
    int64_t pos = f->size;

    if (fd < 0)
        return berth_error_errno(err, "open %s", f->name);
    while (pos > 0) {
        size_t n = pos > (int64_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        ssize_t r;

        pos -= (int64_t)n;
        r = pread(fd, buf, n, pos);
        if (r != (ssize_t)n)
            return berth_error_errno(err, "read %s", f->name);
        for (size_t i = n; i-- > 0;) {
            if (buf[i] != '\n' || pos + (int64_t)i == f->size - 1)
                continue;
            if (--*want == 0) {
                *ret_off = pos + (int64_t)i + 1;
                return 0;
            }
        }
    }
    if (f->size > 0)
        --*want; /* the record at offset 0 */
    *ret_off = 0;
    return 0;
}

void berth_crilog_batch_clear(berth_crilog_batch *b)
{
    free(b->lines);
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

int berth_crilog_read(int dirfd, const char *name, int max_files, const berth_crilog_query *q,
                      berth_crilog_batch *ret, berth_error **err)
{
    log_file files[FILES_MAX];
    size_t nf, fi = 0, cap_lines = 64, cap_buf = 4096, used = 0, text_bytes = 0;
    int64_t off = 0;
    berth_crilog_batch b = { 0 };

    if (max_files < 1 || max_files > FILES_MAX - 1)
        return berth_error_set(err, EINVAL, "log %s: bad file count %d", name, max_files);
    nf = list_files(dirfd, name, max_files, files);
    if (nf == 0) {
        b.at_end = 1;
        b.next_cursor = q->cursor;
        *ret = b;
        return 0;
    }
    if (q->cursor) {
        uint64_t ino = (q->cursor >> CURSOR_INODE_SHIFT) & CURSOR_INODE_MASK;
        uint8_t check = (uint8_t)(q->cursor >> CURSOR_CHECK_SHIFT);
        bool found = false;

        for (size_t i = 0; i < nf && !found; i++) {
            _cleanup_close_ int fd = -1;

            if ((files[i].ino & CURSOR_INODE_MASK) != ino)
                continue;
            off = (int64_t)(q->cursor & CURSOR_OFFSET_MASK);
            if (off > files[i].size)
                continue; /* shorter than where we were: another file */
            fd = openat(dirfd, files[i].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            if (fd < 0 || cursor_check(fd, off) != check)
                continue;
            fi = i;
            found = true;
        }
        if (!found) {
            off = 0;
            b.truncated = 1;
            fi = 0;
            off = 0;
        }
    } else if (q->tail_lines) {
        uint32_t want = q->tail_lines;

        fi = nf - 1;
        for (;;) {
            if (tail_start(dirfd, &files[fi], &want, &off, err) < 0)
                return -1;
            if (off > 0 || want == 0 || fi == 0)
                break;
            fi--;
        }
    }

    b.lines = berth_xreallocarray(NULL, cap_lines, sizeof(*b.lines));
    b.buf = berth_xmalloc(cap_buf);
    for (; fi < nf; fi++, off = 0) {
        _cleanup_close_ int fd = openat(dirfd, files[fi].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *chunk = NULL;
        bool full = false;

        if (fd < 0) {
            /* Rotated away while we looked: the next file has the rest. */
            b.truncated = 1;
            continue;
        }
        chunk = berth_xmalloc(READ_CHUNK + 1);
        for (;;) {
            ssize_t r = pread(fd, chunk, READ_CHUNK, off);
            size_t pos = 0;

            if (r < 0) {
                berth_crilog_batch_clear(&b);
                return berth_error_errno(err, "read %s", files[fi].name);
            }
            if (r == 0)
                break;
            while (pos < (size_t)r) {
                char *nl = memchr(chunk + pos, '\n', (size_t)r - pos);
                size_t len;
                berth_crilog_entry e;

                if (!nl)
                    break; /* incomplete record: read again from its start */
                len = (size_t)(nl - (chunk + pos));
                if (text_bytes > 0 && text_bytes + len > q->max_bytes) {
                    full = true;
                    break;
                }
                if (berth_crilog_parse(chunk + pos, len, &e) == 0 &&
                    (q->stream < 0 || (int)e.stream == q->stream) &&
                    (q->since_ns == 0 || e.unix_ns >= q->since_ns) &&
                    (q->until_ns == 0 || e.unix_ns <= q->until_ns)) {
                    if (b.n_lines == cap_lines) {
                        cap_lines *= 2;
                        b.lines = berth_xreallocarray(b.lines, cap_lines, sizeof(*b.lines));
                    }
                    if (used + e.text_len > cap_buf) {
                        while (used + e.text_len > cap_buf)
                            cap_buf *= 2;
                        b.buf = berth_xreallocarray(b.buf, cap_buf, 1);
                    }
                    memcpy(b.buf + used, e.text, e.text_len);
                    /* Pointers are fixed up once the buffer stops moving. */
                    b.lines[b.n_lines] = (berth_crilog_line){ .unix_ns = e.unix_ns,
                                                              .stream = e.stream,
                                                              .partial = e.partial,
                                                              .text = (const char *)(uintptr_t)used,
                                                              .len = e.text_len };
                    b.n_lines++;
                    used += e.text_len;
                    text_bytes += e.text_len;
                }
                pos += len + 1;
            }
            off += (int64_t)pos;
            if (full || pos == 0)
                break;
        }
        b.next_cursor = make_cursor(fd, files[fi].ino, off);
        if (full)
            break;
        if (fi == nf - 1)
            b.at_end = 1;
    }
    for (size_t i = 0; i < b.n_lines; i++)
        b.lines[i].text = b.buf + (uintptr_t)b.lines[i].text;
    *ret = b;
    return 0;
}
