/* Logging: text or JSON lines, one write(2) per record. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"
#include "utf8.h"

#define LOG_MSG_MAX 4096
#define LOG_REC_MAX (LOG_MSG_MAX * 6 + 512) /* worst case: every byte escaped */

/* The logger is per process by nature (one stderr); it is the one piece of
 * module state here, set once by main. */
static struct {
    char prog[64];
    berth_log_level min_level;
    berth_log_format format;
    int fd;
    /* fd is systemd's journal stream: records carry their syslog priority
     * ("<3>"), and no time or program name (the journal adds both). */
    bool journal;
} logger = { .prog = "berth", .min_level = BERTH_LOG_INFO, .format = BERTH_LOG_TEXT, .fd = 2 };

/* syslog(3) priorities of the levels, as the journal reads them. */
static const int level_priorities[] = {
    [BERTH_LOG_DEBUG] = 7, /* LOG_DEBUG */
    [BERTH_LOG_INFO] = 6,  /* LOG_INFO */
    [BERTH_LOG_WARN] = 4,  /* LOG_WARNING */
    [BERTH_LOG_ERROR] = 3, /* LOG_ERR */
};

static const char *const level_names[] = {
    [BERTH_LOG_DEBUG] = "debug",
    [BERTH_LOG_INFO] = "info",
    [BERTH_LOG_WARN] = "warn",
    [BERTH_LOG_ERROR] = "error",
};

/* Whether fd is the stream systemd connected to the journal: JOURNAL_STREAM
 * ("DEVICE:INODE") names it (systemd.exec(5)); a stderr redirected
 * elsewhere by a shell keeps the variable but not the inode. */
static bool log_fd_is_journal(int fd)
{
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int end = 0;

    if (!v || sscanf(v, "%llu:%llu%n", &dev, &ino, &end) != 2 || v[end] != '\0')
        return false;
    return fstat(fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void berth_log_setup(const char *prog, berth_log_level min_level, berth_log_format format, int fd)
{
    if (prog)
        snprintf(logger.prog, sizeof(logger.prog), "%s", prog);
    logger.min_level = min_level;
    logger.format = format;
    logger.fd = fd;
    logger.journal = log_fd_is_journal(fd);
}

int berth_log_level_parse(const char *s, berth_log_level *ret_level, berth_error **err)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *ret_level = (berth_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *ret_level = BERTH_LOG_WARN;
        return 0;
    }
    return berth_error_set(err, EINVAL, "log level '%s': expected debug, info, warn or error", s);
}

int berth_log_format_parse(const char *s, berth_log_format *ret_format, berth_error **err)
{
    if (strcmp(s, "text") == 0)
        *ret_format = BERTH_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *ret_format = BERTH_LOG_JSON;
    else
        return berth_error_set(err, EINVAL, "log format '%s': expected text or json", s);
    return 0;
}

int berth_log_enabled(berth_log_level level)
{
    return level >= logger.min_level;
}

size_t berth_json_escape(char *out, size_t cap, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    if (cap == 0)
        return 0;
    while (*p) {
        char esc[8];
        const char *piece = esc;
        size_t plen, seq = 1;

        switch (*p) {
        case '"':
            piece = "\\\"";
            break;
        case '\\':
            piece = "\\\\";
            break;
        case '\n':
            piece = "\\n";
            break;
        case '\r':
            piece = "\\r";
            break;
        case '\t':
            piece = "\\t";
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *p);
            } else if (*p < 0x80) {
                esc[0] = (char)*p;
                esc[1] = '\0';
            } else if ((seq = berth_utf8_seq_len(p)) == 0) {
                piece = "\\ufffd";
                seq = 1;
            } else {
                memcpy(esc, p, seq);
                esc[seq] = '\0';
            }
        }
        plen = strlen(piece);
        if (o + plen >= cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        p += seq;
    }
    out[o] = '\0';
    return o;
}

static void log_emit(berth_log_level level, const char *msg)
{
    char rec[LOG_REC_MAX], ts[BERTH_RFC3339NANO_LEN], prio[8] = "";
    size_t n;

    /* In the journal, journalctl -p filters on the priority prefix; the
     * journal stamps the time and the program itself. */
    if (logger.journal)
        snprintf(prio, sizeof(prio), "<%d>", level_priorities[level]);
    berth_format_rfc3339nano(berth_now_real_ns(), ts);
    if (logger.format == BERTH_LOG_JSON) {
        n = (size_t)snprintf(rec, sizeof(rec), "%s{\"time\":\"%s\",\"level\":\"%s\",\"prog\":\"",
                             prio, ts, level_names[level]);
        n += berth_json_escape(rec + n, sizeof(rec) - n, logger.prog);
        n += (size_t)snprintf(rec + n, sizeof(rec) - n, "\",\"pid\":%d,\"msg\":\"", (int)getpid());
        n += berth_json_escape(rec + n, sizeof(rec) - n - 3, msg);
        rec[n++] = '"';
        rec[n++] = '}';
    } else {
        size_t from = strlen(prio);

        /* Millisecond precision is plenty for a human. */
        ts[23] = 'Z';
        ts[24] = '\0';
        if (logger.journal)
            n = (size_t)snprintf(rec, sizeof(rec) - 1, "%s%s: %s", prio, level_names[level], msg);
        else
            n = (size_t)snprintf(rec, sizeof(rec) - 1, "%s %s %s: %s", ts, logger.prog,
                                 level_names[level], msg);
        if (n > sizeof(rec) - 2)
            n = sizeof(rec) - 2;
        /* Messages may carry text from containers or the wire: never let
         * it drive the terminal. */
        for (size_t i = from; i < n; i++)
            if ((unsigned char)rec[i] < 0x20 || rec[i] == 0x7f)
                rec[i] = '?';
    }
    rec[n++] = '\n';
    /* One write: the record is whole or absent; a failing log is not fatal. */
    while (write(logger.fd, rec, n) < 0 && errno == EINTR)
        ;
}

static void __attribute__((format(printf, 3, 0)))
log_vemit(berth_log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char msg[LOG_MSG_MAX];
    int saved = errno;
    int n;

    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (suffix && n >= 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);
    log_emit(level, msg);
    errno = saved;
}

void berth_log(berth_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (!berth_log_enabled(level))
        return;
    va_start(ap, fmt);
    log_vemit(level, NULL, fmt, ap);
    va_end(ap);
}

void berth_log_error(berth_log_level level, const berth_error *err, const char *fmt, ...)
{
    va_list ap;

    if (!berth_log_enabled(level))
        return;
    va_start(ap, fmt);
    log_vemit(level, err && err->msg ? err->msg : "unknown error", fmt, ap);
    va_end(ap);
}
