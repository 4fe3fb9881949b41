/* systemd service notifications (notify.h): the datagrams of sd_notify(3)
 * sent to the socket systemd named, and libsystemd's reading of the
 * watchdog's variables. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* Without a watchdog, the status line is still looked at this often. */
#define STATUS_PERIOD_NS ((int64_t)5 * BERTH_NSEC_PER_SEC)
#define STATUS_MAX       256

struct berth_notify {
    berth_loop *loop;
    char *socket;        /* NOTIFY_SOCKET as systemd gave it; NULL outside systemd */
    int64_t watchdog_ns; /* WATCHDOG_USEC, for us; 0: none */
    berth_notify_status_fn status;
    void *data;
    char last[STATUS_MAX];
    berth_loop_timer timer;
};

/* One datagram to the socket systemd named at open, as sd_notify sends
 * it. (sd_notify itself reads NOTIFY_SOCKET from the environment, which
 * must stay out of children's, and which nanomsg's resolver thread reads
 * meanwhile: the environment is not touched after open.) "@" names an
 * abstract socket. */
static void send_state(berth_notify *n, const char *state)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(n->socket);
    int fd;

    if (len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, n->socket, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        berth_debug("notify systemd: %s", strerror(errno));
    close(fd);
}

static void status_line(berth_notify *n, char *buf, size_t size)
{
    buf[0] = '\0';
    if (n->status)
        n->status(buf, size, n->data);
    buf[size - 1] = '\0';
    /* one line: a newline would start another variable */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* Send STATUS= when it changed; with prefix (READY=1, WATCHDOG=1) always. */
static void send_with_status(berth_notify *n, const char *prefix)
{
    char line[STATUS_MAX], state[STATUS_MAX + 64];
    bool changed;

    if (!n->socket)
        return;
    status_line(n, line, sizeof(line));
    changed = line[0] && strcmp(line, n->last) != 0;
    if (!prefix && !changed)
        return;
    snprintf(state, sizeof(state), "%s%s%s%s", prefix ? prefix : "", prefix && changed ? "\n" : "",
             changed ? "STATUS=" : "", changed ? line : "");
    if (changed)
        memcpy(n->last, line, sizeof(line));
    send_state(n, state);
}

static void on_timer(berth_loop_timer *t)
{
    berth_notify *n = berth_container_of(t, berth_notify, timer);
    int64_t period = n->watchdog_ns ? n->watchdog_ns / 2 : STATUS_PERIOD_NS;

    /* from the loop: a loop that is stuck sends nothing */
    send_with_status(n, n->watchdog_ns ? "WATCHDOG=1" : NULL);
    if (n->watchdog_ns || n->status)
        berth_loop_timer_arm(n->loop, &n->timer, berth_now_mono_ns() + period);
}

int berth_notify_open(berth_loop *loop, berth_notify_status_fn status, void *data,
                      berth_notify **ret, berth_error **err)
{
    berth_notify *n = berth_xcalloc(1, sizeof(*n));
    const char *sock = getenv("NOTIFY_SOCKET");
    uint64_t usec = 0;

    (void)err;
    n->loop = loop;
    n->status = status;
    n->data = data;
    berth_loop_timer_init(&n->timer, on_timer);
    /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us */
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        n->watchdog_ns = (int64_t)usec * BERTH_NSEC_PER_USEC;
    if (sock && *sock)
        n->socket = berth_xstrdup(sock);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    if (!n->socket)
        n->watchdog_ns = 0;
    *ret = n;
    return 0;
}

void berth_notify_close(berth_notify *n)
{
    if (!n)
        return;
    berth_loop_timer_cancel(n->loop, &n->timer);
    free(n->socket);
    free(n);
}

bool berth_notify_enabled(const berth_notify *n)
{
    return n && n->socket;
}

int64_t berth_notify_watchdog_ns(const berth_notify *n)
{
    return n ? n->watchdog_ns : 0;
}

void berth_notify_ready(berth_notify *n)
{
    if (!n || !n->socket)
        return;
    n->last[0] = '\0'; /* the ready message always says where things stand */
    send_with_status(n, "READY=1");
    on_timer(&n->timer);
}

void berth_notify_stopping(berth_notify *n, const char *why)
{
    char state[STATUS_MAX + 32];

    if (!n || !n->socket)
        return;
    berth_loop_timer_cancel(n->loop, &n->timer);
    snprintf(state, sizeof(state), "STOPPING=1\nSTATUS=%s", why);
    send_state(n, state);
}

void berth_notify_status_update(berth_notify *n)
{
    if (n)
        send_with_status(n, NULL);
}
