/* systemd's service notifications (sd_notify(3)) for berthd and the
 * controller: READY=1 once the daemon serves, STATUS= lines as its state
 * changes, WATCHDOG=1 from the event loop itself (a loop that stops
 * turning stops them, and systemd restarts the daemon), STOPPING=1 when it
 * is told to stop.
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a cheap no-op. The
 * variables systemd passes (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)
 * are taken out of the environment at open, so no helper, monitor or
 * container the daemon starts can speak for it. */
#ifndef BERTH_SYSTEMD_NOTIFY_H
#define BERTH_SYSTEMD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"

typedef struct berth_notify berth_notify;

/* What the daemon is doing now, for STATUS= (at most 255 bytes written to
 * buf, NUL-terminated). Called at each watchdog turn (or every 5 s without
 * a watchdog); a line is sent only when it changed. */
typedef void (*berth_notify_status_fn)(char *buf, size_t size, void *data);

/* Read systemd's variables, take them out of the environment, and arm the
 * loop's watchdog timer (every half of WATCHDOG_USEC) when systemd asked
 * for one. status may be NULL. Never fails outside systemd. */
int berth_notify_open(berth_loop *loop, berth_notify_status_fn status, void *data,
                      berth_notify **ret, berth_error **err);
void berth_notify_close(berth_notify *n);

/* Whether systemd listens (NOTIFY_SOCKET was set). */
bool berth_notify_enabled(const berth_notify *n);
/* The watchdog period systemd asked for, in ns (0: none). */
int64_t berth_notify_watchdog_ns(const berth_notify *n);

/* READY=1, with the status line of the moment. */
void berth_notify_ready(berth_notify *n);
/* STOPPING=1, with a status line saying why. */
void berth_notify_stopping(berth_notify *n, const char *why);
/* Send the status line now if it changed (after a notable change). */
void berth_notify_status_update(berth_notify *n);

#endif
