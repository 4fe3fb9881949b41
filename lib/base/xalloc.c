/* Allocation that never returns NULL (xalloc.h has the policy). */
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void berth_oom(void)
{
    static const char msg[] = "berth: out of memory\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)r;
    abort();
}

void *berth_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        berth_oom();
    return p;
}

void *berth_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        berth_oom();
    return p;
}

void *berth_xreallocarray(void *p, size_t n, size_t size)
{
    void *q = reallocarray(p, n ? n : 1, size ? size : 1);

    if (!q)
        berth_oom();
    return q;
}

char *berth_xstrdup(const char *s)
{
    char *d = strdup(s);

    if (!d)
        berth_oom();
    return d;
}

char *berth_xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);

    if (!d)
        berth_oom();
    return d;
}

char *berth_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int r;

    va_start(ap, fmt);
    r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        berth_oom();
    return s;
}
