/* The error model (CONTRIBUTING.md has it whole): a function that can fail
 * returns int (>= 0 success, -1 failure) and takes `berth_error **err` last,
 * set on failure only. The error is made once, where the failure happened,
 * carrying an errno value and a message naming the object; callers add
 * context with berth_error_prefix() as it travels up, and only main() (or
 * an rpc handler, through berth_rpc_fail_error) decides what to do with
 * it. Not finding something is not an error (NULL or false); running out
 * of memory is not one either (it aborts: xalloc.h). */
#ifndef BERTH_BASE_ERROR_H
#define BERTH_BASE_ERROR_H

#include <stdarg.h>

typedef struct berth_error {
    int code;  /* errno value, or 0 when the failure is not a syscall's */
    char *msg; /* full text: "context: context: cause[: strerror(code)]" */
} berth_error;

/* Set *err to a new error and return -1. When errnum != 0 its strerror text
 * is appended ("open /x: No such file or directory"). If *err already holds
 * an error it is replaced (that is a caller bug, but never a leak). With
 * err == NULL the error is discarded. */
int berth_error_make(berth_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int berth_error_makev(berth_error **err, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like berth_error_make, but the message is used as given: for failures
 * that are not a syscall's (a bad field, a value out of range), where the
 * strerror text would only add noise. code is still recorded for callers
 * that map errors to status codes (EINVAL, ERANGE, ENOENT ...). */
int berth_error_set(berth_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* berth_error_make(err, errno, ...), reading errno before anything clobbers it. */
#define berth_error_errno(err, ...) berth_error_make((err), errno, __VA_ARGS__)

/* Prefix context to an existing error: "ctx: old message". Returns -1 so it
 * can end a failing function: `return berth_error_prefix(err, "load %s", p);`.
 * A NULL err or *err is left alone. */
int berth_error_prefix(berth_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free an error (NULL accepted) and set *err to NULL. */
void berth_error_free(berth_error **err);

/* Detach the message and free the error; the caller frees the string.
 * Returns NULL for a NULL error. */
char *berth_error_steal_msg(berth_error **err);

/* For _cleanup_error_: free the error at scope exit. */
static inline void berth_error_freep(berth_error **err)
{
    berth_error_free(err);
}
#define _cleanup_error_ __attribute__((cleanup(berth_error_freep)))

#endif
