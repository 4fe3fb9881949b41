/* Cleanup attributes and ownership transfer, as systemd and crun use them.
 *
 * An owned local is initialised at its declaration and released when it goes
 * out of scope; TAKE_PTR / TAKE_FD hand ownership out visibly. Every
 * destructor here accepts the "empty" value (NULL, -1). */
#ifndef BERTH_BASE_CLEANUP_H
#define BERTH_BASE_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void berth_freep(void *p)
{
    free(*(void **)p);
}

/* close(2) is never retried: on Linux the fd is gone even on EINTR. errno is
 * preserved so a cleanup at scope exit cannot clobber the caller's error. */
static inline void berth_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void berth_fclosep(FILE **f)
{
    if (*f) {
        int saved = errno;
        fclose(*f);
        errno = saved;
    }
}

static inline void berth_closedirp(DIR **d)
{
    if (*d) {
        int saved = errno;
        closedir(*d);
        errno = saved;
    }
}

#define _cleanup_free_     _cleanup_(berth_freep)
#define _cleanup_close_    _cleanup_(berth_closep)
#define _cleanup_fclose_   _cleanup_(berth_fclosep)
#define _cleanup_closedir_ _cleanup_(berth_closedirp)

/* Take ownership out of a cleanup-managed variable, leaving it empty. */
#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _taken = (p);                                                                \
        (p) = NULL;                                                                                \
        _taken;                                                                                    \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _taken = (fd);                                                                         \
        (fd) = -1;                                                                                 \
        _taken;                                                                                    \
    })

/* Define `name##p(type **)` calling `func(*p)`, for _cleanup_(name##p). */
#define BERTH_DEFINE_CLEANUP(type, func)                                                           \
    static inline void func##p(type **p)                                                           \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

#define BERTH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
