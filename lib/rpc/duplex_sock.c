/* A TCP connection carried by a duplex stream (duplex_sock.h). */
#include "duplex_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "base/xalloc.h"

struct berth_duplex_sock {
    berth_loop *loop;
    berth_duplex *d;
    berth_loop_io io;
    int fd;
    uint32_t channel;
    berth_duplex_sock_done_fn done;
    void *data;
    bool connecting, reading, want_out;
    bool rd_eof; /* the socket's EOF went out as the channel's eof */
    bool wr_eof; /* the channel's eof came: the socket's writing half shut */
    bool eof_pending;
    bool closing; /* the stream ended: the last bytes, then the end */
    uint8_t *buf; /* a chunk being written to the socket, from off */
    size_t len, off;
    berth_loop_timer fail_soon;
};

static void on_io(berth_loop_io *io, uint32_t events);

/* Watch for what is wanted; nothing: out of epoll altogether (a socket
 * its peer closed reports HUP even to a mask of 0). */
static void watch(berth_duplex_sock *b)
{
    uint32_t ev =
        (b->reading && !b->rd_eof ? EPOLLIN : 0) | (b->want_out || b->connecting ? EPOLLOUT : 0);

    if (!ev)
        berth_loop_remove(b->loop, &b->io);
    else if (b->io.fd >= 0)
        berth_loop_modify(b->loop, &b->io, ev, NULL);
    else if (berth_loop_add(b->loop, &b->io, b->fd, ev, on_io, NULL) < 0)
        berth_loop_timer_arm(b->loop, &b->fail_soon, 0);
}

static void finish(berth_duplex_sock *b, int code, const char *msg)
{
    berth_duplex_sock_done_fn done = b->done;
    void *data = b->data;
    char text[256];

    snprintf(text, sizeof(text), "%s", msg);
    berth_loop_timer_cancel(b->loop, &b->fail_soon);
    berth_loop_remove(b->loop, &b->io);
    if (b->fd >= 0)
        close(b->fd);
    if (b->d) {
        if (berth_duplex_server_side(b->d))
            berth_duplex_end(b->d, code, "%s", text);
        else
            berth_duplex_cancel(b->d);
    }
    free(b->buf);
    free(b);
    if (done)
        done(code, text, data);
}

static void fail_errno(berth_duplex_sock *b, int code, const char *what)
{
    char msg[200];

    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
    finish(b, code, msg);
}

/* Both ways ended: a server's end ends the stream; a caller's waits for
 * the server's end (on_end). */
static bool maybe_done(berth_duplex_sock *b)
{
    if (!b->d || !b->rd_eof || !b->wr_eof || !berth_duplex_server_side(b->d))
        return false;
    finish(b, CODE_OK, "");
    return true;
}

/* Write what is pending to the socket: 1 all of it, 0 not yet, -1 the
 * bridge is gone. */
static int flush(berth_duplex_sock *b)
{
    while (b->off < b->len) {
        ssize_t n = send(b->fd, b->buf + b->off, b->len - b->off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            b->want_out = true;
            watch(b);
            return 0;
        }
        if (n < 0) {
            fail_errno(b, CODE_UNAVAILABLE, "write to the connection");
            return -1;
        }
        b->off += (size_t)n;
    }
    b->len = b->off = 0;
    if (b->closing) {
        finish(b, CODE_OK, "");
        return -1;
    }
    if (b->eof_pending) {
        b->eof_pending = false;
        shutdown(b->fd, SHUT_WR);
        b->wr_eof = true;
        if (maybe_done(b))
            return -1;
    }
    if (b->want_out) {
        b->want_out = false;
        watch(b);
    }
    return 1;
}

/* The stream -> the socket. */
static void pump_in(berth_duplex_sock *b)
{
    berth_duplex_chunk c;

    if (b->connecting)
        return;
    if (flush(b) <= 0)
        return;
    while (b->d && berth_duplex_read(b->d, &c) == 1) {
        if (c.channel != b->channel || b->wr_eof)
            continue;
        if (c.len) {
            b->buf = berth_xreallocarray(b->buf, c.len, 1);
            memcpy(b->buf, c.data, c.len);
            b->len = c.len;
            b->off = 0;
        }
        b->eof_pending = c.eof;
        if (flush(b) <= 0)
            return;
    }
}

/* The socket -> the stream. */
static void pump_out(berth_duplex_sock *b)
{
    uint8_t buf[BERTH_DUPLEX_CHUNK_MAX];
    size_t room;
    ssize_t n;

    if (!b->d || b->rd_eof || b->connecting)
        return;
    room = berth_duplex_room(b->d);
    if (!room) {
        /* the far end reads slower than this one writes: wait */
        b->reading = false;
        watch(b);
        return;
    }
    n = recv(b->fd, buf, room < sizeof(buf) ? room : sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        fail_errno(b, CODE_UNAVAILABLE, "read from the connection");
        return;
    }
    if (n == 0) {
        b->rd_eof = true;
        watch(b);
        (void)berth_duplex_write(b->d, b->channel, NULL, 0, true, NULL);
        maybe_done(b);
        return;
    }
    (void)berth_duplex_write(b->d, b->channel, buf, (size_t)n, false, NULL);
}

static void on_io(berth_loop_io *io, uint32_t events)
{
    berth_duplex_sock *b = berth_container_of(io, berth_duplex_sock, io);

    if (b->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            errno = err;
            fail_errno(b, CODE_UNAVAILABLE, "connect");
            return;
        }
        b->connecting = false;
        b->reading = true;
        watch(b);
        pump_in(b);
        return;
    }
    if (events & EPOLLERR) {
        int err = 0;
        socklen_t len = sizeof(err);

        getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err ? err : ECONNRESET;
        fail_errno(b, CODE_UNAVAILABLE, "the connection");
        return;
    }
    if ((events & EPOLLHUP) && b->rd_eof) {
        /* both ways shut: what waits to be written never will be */
        if (b->len > b->off) {
            errno = EPIPE;
            fail_errno(b, CODE_UNAVAILABLE, "write to the connection");
            return;
        }
        b->wr_eof = true;
        if (!maybe_done(b))
            watch(b);
        return;
    }
    if (events & EPOLLOUT) {
        pump_in(b);
        return; /* b may be gone; EPOLLIN comes again if still due */
    }
    if (events & (EPOLLIN | EPOLLHUP))
        pump_out(b);
}

static void on_readable(berth_duplex *d, void *data)
{
    (void)d;
    pump_in(data);
}

static void on_writable(berth_duplex *d, void *data)
{
    berth_duplex_sock *b = data;

    (void)d;
    if (!b->reading && !b->connecting) {
        b->reading = true;
        watch(b);
    }
}

static void on_end(berth_duplex *d, int code, const char *msg, void *data)
{
    berth_duplex_sock *b = data;

    (void)d;
    b->d = NULL; /* freed when we return */
    if (code == CODE_OK && b->len > b->off && !b->closing) {
        /* the last bytes go out first (on EPOLLOUT), then the end */
        b->closing = true;
        b->reading = false;
        b->want_out = true;
        watch(b);
        berth_loop_timer_arm(b->loop, &b->fail_soon,
                             berth_now_mono_ns() + (int64_t)5 * BERTH_NSEC_PER_SEC);
        return;
    }
    finish(b, code, msg);
}

static void on_fail_soon(berth_loop_timer *t)
{
    berth_duplex_sock *b = berth_container_of(t, berth_duplex_sock, fail_soon);

    finish(b, b->closing ? CODE_DEADLINE_EXCEEDED : CODE_INTERNAL,
           b->closing ? "the connection did not take its last bytes"
                      : "the connection cannot be watched");
}

berth_duplex_sock *berth_duplex_sock_new(berth_loop *loop, berth_duplex *d, int fd,
                                         uint32_t channel, berth_duplex_sock_done_fn done,
                                         void *data)
{
    static const berth_duplex_ops ops = { .on_readable = on_readable,
                                          .on_writable = on_writable,
                                          .on_end = on_end };
    berth_duplex_sock *b = berth_xcalloc(1, sizeof(*b));

    b->loop = loop;
    b->d = d;
    b->fd = fd;
    b->channel = channel;
    b->done = done;
    b->data = data;
    b->io.fd = -1;
    b->connecting = true; /* until the socket says it is writable */
    berth_loop_timer_init(&b->fail_soon, on_fail_soon);
    berth_duplex_set_ops(d, &ops, b);
    if (berth_loop_add(loop, &b->io, fd, EPOLLOUT, on_io, NULL) < 0)
        berth_loop_timer_arm(loop, &b->fail_soon, 0);
    return b;
}

void berth_duplex_sock_close(berth_duplex_sock *b)
{
    if (!b)
        return;
    b->done = NULL;
    finish(b, CODE_CANCELLED, "closed");
}
