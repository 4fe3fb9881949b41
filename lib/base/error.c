/* The error object: made once where the failure happened, enriched with
 * context on its way up, printed by main(). */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void error_store(berth_error **err, int code, char *msg)
{
    berth_error *e = berth_xmalloc(sizeof(*e));

    berth_error_free(err);
    e->code = code;
    e->msg = msg;
    *err = e;
}

static int __attribute__((format(printf, 4, 0)))
error_makev(berth_error **err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
    char *text = NULL, *msg;

    if (!err)
        return -1;
    if (vasprintf(&text, fmt, ap) < 0)
        berth_oom();
    if (errnum != 0 && with_strerror) {
        msg = berth_xasprintf("%s: %s", text, strerror(errnum));
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
    char *ctx = NULL, *msg;
    va_list ap;
    int code;

    if (!err || !*err)
        return -1;
    va_start(ap, fmt);
    if (vasprintf(&ctx, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    msg = berth_xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    code = (*err)->code;
    error_store(err, code, msg);
    return -1;
}

void berth_error_free(berth_error **err)
{
    if (!err || !*err)
        return;
    free((*err)->msg);
    free(*err);
    *err = NULL;
}

char *berth_error_steal_msg(berth_error **err)
{
    char *msg;

    if (!err || !*err)
        return NULL;
    msg = (*err)->msg;
    free(*err);
    *err = NULL;
    return msg;
}
