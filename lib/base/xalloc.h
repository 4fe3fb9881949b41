/* Allocation: out of memory is not an error berth handles.
 *
 * Every size that comes from outside (a frame, a manifest, a file) is
 * capped before anything is allocated for it, so an allocation that fails
 * means the machine itself is out of memory. No daemon of berth can do
 * anything useful then, and code that pretends otherwise is code that is
 * never run (it was wrong at several of its 129 former sites). These
 * wrappers write one line to stderr and abort(): systemd restarts the
 * daemon, a restarted berthd loses nothing (containers belong to their
 * monitors), and a monitor that dies is seen as lost by berthd, which
 * cleans up after it and starts the container again.
 *
 * Use them everywhere instead of malloc & co. They never return NULL (a
 * size of 0 allocates one byte). */
#ifndef BERTH_BASE_XALLOC_H
#define BERTH_BASE_XALLOC_H

#include <stddef.h>

/* One line to stderr, then abort(). For allocators other than these
 * (libyaml's, protobuf-c's) whose failure the caller detects. */
_Noreturn void berth_oom(void);

void *berth_xmalloc(size_t size) __attribute__((malloc, returns_nonnull));
void *berth_xcalloc(size_t n, size_t size) __attribute__((malloc, returns_nonnull));
/* realloc for arrays: n * size, checked for overflow (an overflow is a
 * bug: the caller's cap did not hold; it aborts too). */
void *berth_xreallocarray(void *p, size_t n, size_t size) __attribute__((returns_nonnull));
char *berth_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *berth_xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
char *berth_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));

#endif
