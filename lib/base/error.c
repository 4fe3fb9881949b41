/* The error object: made once where the failure happened, enriched with
 * context on its way up, printed by main(). */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char oom_msg[] = "out of memory";
static berth_error oom_error = { .code = ENOMEM, .msg = oom_msg };

static void error_store(berth_error **err, int code, char *msg)
{
    berth_error *e;

    berth_error_free(err);
    if (!msg) {
        *err = &oom_error;
        return;
    }
    e = malloc(sizeof(*e));
    if (!e) {
        free(msg);
        *err = &oom_error;
        return;
    }
    e->code = code;
    e->msg = msg;
    *err = e;
}

static int __attribute__((format(printf, 4, 0)))
error_makev(berth_error **err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
    char *text = NULL, *msg = NULL;

    if (!err)
        return -1;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    if (text && errnum != 0 && with_strerror) {
        if (asprintf(&msg, "%s: %s", text, strerror(errnum)) < 0)
            msg = NULL;
        free(text);
    } else {
        msg = text;
    }
    error_store(err, errnum, msg);
    return -1;
}

int berth_error_makev(berth_error **err, int errnum, const char *fmt, va_list ap)
{
    return error_makev(err, errnum, 1, fmt, ap);
}

int berth_error_set(berth_error **err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_makev(err, code, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int berth_error_make(berth_error **err, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    berth_error_makev(err, errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int berth_error_prefix(berth_error **err, const char *fmt, ...)
{
    char *ctx = NULL, *msg = NULL;
    va_list ap;
    int code;

    if (!err || !*err)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        ctx = NULL;
    va_end(ap);
    if (!ctx)
        return -1; /* keep the original error rather than lose it */
    if (asprintf(&msg, "%s: %s", ctx, (*err)->msg) < 0) {
        free(ctx);
        return -1;
    }
    free(ctx);
    code = (*err)->code;
    error_store(err, code, msg);
    return -1;
}

void berth_error_free(berth_error **err)
{
    if (!err || !*err)
        return;
    if (*err != &oom_error) {
        free((*err)->msg);
        free(*err);
    }
    *err = NULL;
}

char *berth_error_steal_msg(berth_error **err)
{
    char *msg;

    if (!err || !*err)
        return NULL;
    if (*err == &oom_error) {
        *err = NULL;
        return strdup(oom_msg);
    }
    msg = (*err)->msg;
    free(*err);
    *err = NULL;
    return msg;
}
