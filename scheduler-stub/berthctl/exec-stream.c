/* berthctl's end of an exec (agent.proto Exec): the local terminal and
 * stdio bridged to the duplex call, as kubectl exec bridges them. Shared by
 * berthctl exec (through the controller) and berthctl agent exec.
 *
 * Nothing here blocks the loop: stdin is read when epoll says so (or at
 * once when it is a regular file), and stdout and stderr are written
 * without ever blocking (a pipe: no more than it has room for; a file:
 * at once), so a reader that stops (a pager) holds the stream back instead
 * of stalling its exchanges until the server gives up on us. The local
 * terminal, put in raw mode for -t, is restored on every way out. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "berthctl.h"
#include "pb/pb.h"
#include "rpc/duplex.h"

enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_STATUS = 3, CH_RESIZE = 4 };

#define READ_MAX BERTH_DUPLEX_CHUNK_MAX

/* One local output: what waits to be written to it. */
typedef struct out_fd {
    int fd;
    berth_loop_io io;
    bool pollable;
    uint8_t *buf; /* the chunk being written */
    size_t len, off;
} out_fd;

typedef struct exec_client {
    berth_loop *loop;
    berth_duplex *d;
    bool want_stdin, tty, raw;
    struct termios saved;
    berth_loop_io in_io;
    bool in_pollable, in_eof, in_blocked;
    berth_loop_timer in_timer; /* stdin that epoll cannot watch */
    out_fd out[2];             /* stdout, stderr */
    berth_loop_signal sig_winch, sig_int, sig_term, sig_hup;
    bool done, have_exit;
    int exit_code;
    char error[512];
    int end_code;
    char end_msg[512];
    int signalled;
} exec_client;

/* The terminal as it was: restored on every way out, once. */
static struct termios *restore_at_exit;

static void restore_terminal(void)
{
    if (restore_at_exit) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, restore_at_exit);
        restore_at_exit = NULL;
    }
}

static void send_size(exec_client *c)
{
    struct winsize ws;
    TerminalSize ts = TERMINAL_SIZE_INIT;
    uint8_t buf[32];
    size_t len;

    if (!c->tty || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
        return;
    ts.rows = ws.ws_row;
    ts.cols = ws.ws_col;
    len = protobuf_c_message_pack(&ts.base, buf);
    /* a lost resize is a stale size, not a broken stream */
    (void)berth_duplex_write(c->d, CH_RESIZE, buf, len, false, NULL);
}

/* ---- local output ---- */

static void on_out(berth_loop_io *io, uint32_t events);

/* Whether fd takes a write now, and so PIPE_BUF bytes without blocking (a
 * pipe that says so has a free page; a terminal or socket room). */
static bool writable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    return poll(&p, 1, 0) == 1;
}

/* Write what is pending to o without ever blocking the loop: true when
 * all of it went (or its reader is gone), false when o's readiness is
 * awaited (it is watched only then: a pipe whose reader went reports
 * HUP even to a mask of 0). */
static bool out_flush(exec_client *c, out_fd *o)
{
    while (o->off < o->len) {
        size_t n = o->len - o->off;
        ssize_t w;

        if (o->pollable) {
            if (!writable(o->fd)) {
                if (o->io.fd < 0 &&
                    berth_loop_add(c->loop, &o->io, o->fd, EPOLLOUT, on_out, NULL) < 0)
                    o->pollable = false; /* then it blocks, as a file does */
                else
                    return false;
            }
            if (n > PIPE_BUF)
                n = PIPE_BUF;
        }
        w = write(o->fd, o->buf + o->off, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            /* nobody reads our output any more (EPIPE): drop it */
            o->off = o->len;
            break;
        }
        o->off += (size_t)w;
    }
    o->len = o->off = 0;
    berth_loop_remove(c->loop, &o->io);
    return true;
}

static void pump_out(exec_client *c)
{
    berth_duplex_chunk ch;

    if (!out_flush(c, &c->out[0]) || !out_flush(c, &c->out[1]))
        return;
    while (c->d && berth_duplex_read(c->d, &ch) == 1) {
        if (ch.channel == CH_STATUS) {
            ExecExit *e = (ExecExit *)berth_pb_unpack(&exec_exit_descriptor, ch.data, ch.len);

            if (e) {
                c->have_exit = true;
                c->exit_code = e->exit_code;
                snprintf(c->error, sizeof(c->error), "%s", e->error);
                berth_pb_free(&e->base);
            }
            continue;
        }
        if ((ch.channel != CH_STDOUT && ch.channel != CH_STDERR) || !ch.len)
            continue;
        {
            out_fd *o = &c->out[ch.channel == CH_STDERR];

            o->buf = berth_xreallocarray(o->buf, ch.len, 1);
            memcpy(o->buf, ch.data, ch.len);
            o->len = ch.len;
            o->off = 0;
            if (!out_flush(c, o))
                return; /* our reader is slow: the stream waits */
        }
    }
}

static void on_out(berth_loop_io *io, uint32_t events)
{
    out_fd *o = berth_container_of(io, out_fd, io);
    exec_client *c = berth_container_of(o - (o->fd == STDERR_FILENO), exec_client, out[0]);

    (void)events;
    if (out_flush(c, o))
        pump_out(c);
}

/* ---- local input ---- */

static void pump_in(exec_client *c)
{
    uint8_t buf[READ_MAX];
    size_t room;
    ssize_t n;

    if (!c->d || c->in_eof || !c->want_stdin)
        return;
    room = berth_duplex_room(c->d);
    if (!room) {
        /* the command reads slower than we type: wait for room */
        c->in_blocked = true;
        if (c->in_pollable)
            berth_loop_remove(c->loop, &c->in_io); /* a mask of 0 still hears HUP */
        return;
    }
    n = read(STDIN_FILENO, buf, room < sizeof(buf) ? room : sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        c->in_eof = true;
        if (c->in_pollable)
            berth_loop_remove(c->loop, &c->in_io);
        /* with a terminal, Ctrl-D is a byte like any other: no end */
        if (!c->tty)
            (void)berth_duplex_write(c->d, CH_STDIN, NULL, 0, true, NULL);
        return;
    }
    (void)berth_duplex_write(c->d, CH_STDIN, buf, (size_t)n, false, NULL);
    if (!c->in_pollable)
        berth_loop_timer_arm(c->loop, &c->in_timer, 0);
}

static void on_in(berth_loop_io *io, uint32_t events)
{
    (void)events;
    pump_in(berth_container_of(io, exec_client, in_io));
}

static void on_in_timer(berth_loop_timer *t)
{
    pump_in(berth_container_of(t, exec_client, in_timer));
}

/* ---- the stream ---- */

static void on_readable(berth_duplex *d, void *data)
{
    (void)d;
    pump_out(data);
}

static void on_writable(berth_duplex *d, void *data)
{
    exec_client *c = data;

    (void)d;
    if (!c->in_blocked)
        return;
    c->in_blocked = false;
    if (c->in_pollable)
        berth_loop_add(c->loop, &c->in_io, STDIN_FILENO, EPOLLIN, on_in, NULL);
    else
        berth_loop_timer_arm(c->loop, &c->in_timer, 0);
}

static void on_end(berth_duplex *d, int code, const char *msg, void *data)
{
    exec_client *c = data;

    (void)d;
    c->d = NULL;
    c->done = true;
    c->end_code = code;
    snprintf(c->end_msg, sizeof(c->end_msg), "%s", msg);
    berth_loop_stop(c->loop);
}

static void on_signal(berth_loop_signal *s, int signo)
{
    exec_client *c;

    if (signo == SIGWINCH) {
        c = berth_container_of(s, exec_client, sig_winch);
        send_size(c);
        return;
    }
    c = signo == SIGINT    ? berth_container_of(s, exec_client, sig_int)
        : signo == SIGTERM ? berth_container_of(s, exec_client, sig_term)
                           : berth_container_of(s, exec_client, sig_hup);
    /* we go: the command gets SIGHUP as its terminal would give it */
    c->signalled = signo;
    c->done = true;
    berth_loop_stop(c->loop);
}

static void out_init(out_fd *o, int fd)
{
    struct stat st;

    o->fd = fd;
    o->io.fd = -1;
    /* a regular file cannot be watched (and never blocks for long):
     * anything else is written only when it says it takes it */
    o->pollable = fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

int berthctl_exec_stream(berthctl_ctx *ctx, const DuplexOpened *opened, bool want_stdin, bool tty,
                         bool attach)
{
    static const berth_duplex_ops ops = { .on_readable = on_readable,
                                          .on_writable = on_writable,
                                          .on_end = on_end };
    berth_duplex_client_config cc = { .client = ctx->client, .service = ctx->service };
    exec_client *c = berth_xcalloc(1, sizeof(*c));
    berth_error *err = NULL;
    int rc;

    c->loop = ctx->loop;
    c->want_stdin = want_stdin;
    c->tty = tty;
    c->in_io.fd = -1;
    berth_loop_timer_init(&c->in_timer, on_in_timer);
    if (berth_duplex_client_open(&cc, opened, &ops, c, &c->d, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        free(c);
        return 1;
    }
    out_init(&c->out[0], STDOUT_FILENO);
    out_init(&c->out[1], STDERR_FILENO);
    if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
        struct termios raw = c->saved;

        cfmakeraw(&raw);
        restore_at_exit = &c->saved;
        atexit(restore_terminal);
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
        c->raw = true;
        berth_loop_add_signal(c->loop, &c->sig_winch, SIGWINCH, on_signal, NULL);
        send_size(c); /* an attach's terminal has its own size until told */
    }
    /* in raw mode Ctrl-C is a byte for the command; these still end us */
    berth_loop_add_signal(c->loop, &c->sig_int, SIGINT, on_signal, NULL);
    berth_loop_add_signal(c->loop, &c->sig_term, SIGTERM, on_signal, NULL);
    berth_loop_add_signal(c->loop, &c->sig_hup, SIGHUP, on_signal, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (want_stdin) {
        c->in_pollable =
            berth_loop_add(c->loop, &c->in_io, STDIN_FILENO, EPOLLIN, on_in, NULL) == 0;
        if (!c->in_pollable)
            berth_loop_timer_arm(c->loop, &c->in_timer, 0);
    }
    while (!c->done)
        berth_loop_run(c->loop, NULL);
    /* what is left to write goes out, blocking now: we are done */
    for (int i = 0; i < 2; i++) {
        out_fd *o = &c->out[i];

        berth_loop_remove(c->loop, &o->io);
        o->pollable = false;
        (void)out_flush(c, o);
        free(o->buf);
    }
    berth_loop_remove(c->loop, &c->in_io);
    berth_loop_timer_cancel(c->loop, &c->in_timer);
    restore_terminal();
    if (c->signalled) {
        if (c->d)
            berth_duplex_cancel(c->d);
        /* the cancel goes out before we do */
        berth_loop_run_once(c->loop, 100 * 1000 * 1000, NULL);
        rc = 128 + c->signalled;
    } else if (c->end_code != CODE_OK) {
        berthctl_errorf("%s", c->end_msg);
        rc = 1;
    } else if (!c->have_exit) {
        berthctl_errorf("the command's end is unknown (no exit status came)");
        rc = 1;
    } else {
        if (*c->error)
            berthctl_errorf("%s", c->error);
        /* kubectl's words for a command that failed */
        if (c->exit_code != 0 && !attach)
            fprintf(stderr, "command terminated with exit code %d\n", c->exit_code);
        rc = c->exit_code < 0 ? 1 : c->exit_code;
    }
    free(c);
    return rc;
}
