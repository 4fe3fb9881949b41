/* Exec sessions: the monitor's fds bridged to a duplex call (exec.h). */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "pb/pb.h"
#include "statedir/execsock.h"

/* Read from the command's output at most this much at a time. */
#define READ_MAX BERTH_DUPLEX_CHUNK_MAX
/* After the command ended, how long its output may stay open (a child it
 * left behind holds it): then the session ends without the rest. */
#define DRAIN_NS ((int64_t)2 * BERTH_NSEC_PER_SEC)
/* The longest command line taken, in arguments and bytes. */
#define ARGS_MAX      4096
#define ARG_BYTES_MAX (32u << 10)
#define TERM_DIM_MAX  10000

typedef struct exec_session exec_session;

/* One of the command's fds. */
typedef struct stdio_fd {
    exec_session *s;
    berth_loop_io io;
    int fd;
    uint32_t channel; /* stdout's or stderr's; stdin's is written */
    bool eof;
} stdio_fd;

struct exec_session {
    agent_execs *x;
    exec_session *prev, *next;
    berth_duplex *d;
    char container[256];
    char who[128];
    int sock; /* to the monitor */
    berth_loop_io sock_io;
    bool tty, started, exited, ended;
    /* attached to the main process: stdin only when asked for */
    bool attach, want_stdin;
    int exit_code;
    char error[256];
    stdio_fd out, err; /* err unused with a terminal */
    int in_fd;         /* stdin's write end, or the terminal (a dup) */
    berth_loop_io in_io;
    bool in_closed;
    bool in_eof; /* the caller's stdin ended: closed once what waits went */
    /* a stdin chunk partly written: its bytes from in_off */
    uint8_t *in_buf;
    size_t in_len, in_off;
    berth_loop_timer drain;
};

struct agent_execs {
    berth_loop *loop;
    containers *containers;
    berth_duplex_server *dx;
    exec_session *sessions;
    size_t n;
};

static void fd_close(berth_loop *loop, berth_loop_io *io, int *fd)
{
    berth_loop_remove(loop, io);
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void session_free(exec_session *s)
{
    agent_execs *x = s->x;

    if (s->prev)
        s->prev->next = s->next;
    else
        x->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    x->n--;
    berth_loop_timer_cancel(x->loop, &s->drain);
    fd_close(x->loop, &s->sock_io, &s->sock);
    fd_close(x->loop, &s->out.io, &s->out.fd);
    fd_close(x->loop, &s->err.io, &s->err.fd);
    fd_close(x->loop, &s->in_io, &s->in_fd);
    free(s->in_buf);
    free(s);
}

/* The end: ExecExit on channel 3 once there is room for it, then the
 * stream's end; the monitor's connection is closed (the command ended). */
static void session_finish(exec_session *s)
{
    ExecExit e = EXEC_EXIT_INIT;
    uint8_t buf[512];
    size_t len;

    if (s->ended)
        return;
    e.exit_code = s->exit_code;
    e.error = s->error;
    len = protobuf_c_message_get_packed_size(&e.base);
    if (len > sizeof(buf))
        e.error = (char *)"(message too long)";
    len = protobuf_c_message_pack(&e.base, buf);
    if (berth_duplex_write(s->d, BERTH_EXEC_STATUS, buf, len, true, NULL) < 0)
        return; /* full: on_writable brings us back */
    s->ended = true;
    berth_info("%s container %s by %s: exit code %d%s%s", s->attach ? "attach to" : "exec in",
               s->container, s->who, s->exit_code, *s->error ? ": " : "", s->error);
    berth_duplex_end(s->d, CODE_OK, "exit code %d", s->exit_code);
    session_free(s);
}

static bool output_done(const exec_session *s)
{
    return s->out.eof && (s->tty || s->err.eof);
}

static void maybe_finish(exec_session *s)
{
    if (s->exited && (output_done(s) || !s->started))
        session_finish(s);
}

static void on_drain(berth_loop_timer *t)
{
    exec_session *s = berth_container_of(t, exec_session, drain);

    /* a child the command left behind keeps its output open */
    s->out.eof = s->err.eof = true;
    berth_loop_remove(s->x->loop, &s->out.io);
    berth_loop_remove(s->x->loop, &s->err.io);
    session_finish(s);
}

/* ---- the command's output -> the stream ---- */

static void on_output(berth_loop_io *io, uint32_t events);

/* Watch an output (on) or not: out of epoll altogether while paused or
 * ended, as a pipe whose writer went reports HUP even to a mask of 0. */
static int output_watch(exec_session *s, stdio_fd *f, bool on)
{
    if (on && !f->eof && f->fd >= 0 && f->io.fd < 0)
        return berth_loop_add(s->x->loop, &f->io, f->fd, EPOLLIN, on_output, NULL);
    if (!on || f->eof)
        berth_loop_remove(s->x->loop, &f->io);
    return 0;
}

static void output_pause(exec_session *s, bool paused)
{
    (void)output_watch(s, &s->out, !paused);
    (void)output_watch(s, &s->err, !paused);
}

static void on_output(berth_loop_io *io, uint32_t events)
{
    stdio_fd *f = berth_container_of(io, stdio_fd, io);
    exec_session *s = f->s;
    uint8_t buf[READ_MAX];
    size_t room = berth_duplex_room(s->d);
    ssize_t n;

    (void)events;
    if (!room) {
        /* the caller reads slower than the command writes: wait */
        output_pause(s, true);
        return;
    }
    n = read(io->fd, buf, room < sizeof(buf) ? room : sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* the end (EIO: a terminal whose last user closed it) */
        f->eof = true;
        berth_loop_remove(s->x->loop, io);
        if (s->exited && output_done(s))
            session_finish(s);
        return;
    }
    (void)berth_duplex_write(s->d, f->channel, buf, (size_t)n, false, NULL);
}

/* ---- the stream -> the command's stdin and terminal ---- */

static void stdin_close(exec_session *s)
{
    if (s->in_closed)
        return;
    s->in_closed = true;
    /* a terminal stays: closing it would hang the command up */
    if (!s->tty)
        fd_close(s->x->loop, &s->in_io, &s->in_fd);
}

static void on_stdin(berth_loop_io *io, uint32_t events);

/* Write what is pending to stdin: true when all of it went. */
static bool stdin_flush(exec_session *s)
{
    while (s->in_off < s->in_len) {
        ssize_t n = write(s->in_fd, s->in_buf + s->in_off, s->in_len - s->in_off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            /* watched only while something waits to go */
            if (s->in_io.fd < 0 &&
                berth_loop_add(s->x->loop, &s->in_io, s->in_fd, EPOLLOUT, on_stdin, NULL) < 0) {
                stdin_close(s);
                s->in_len = s->in_off = 0;
                return true;
            }
            return false;
        }
        if (n < 0) {
            /* the command closed its stdin: drop what it will not read */
            stdin_close(s);
            s->in_len = s->in_off = 0;
            return true;
        }
        s->in_off += (size_t)n;
    }
    s->in_len = s->in_off = 0;
    berth_loop_remove(s->x->loop, &s->in_io);
    if (s->in_eof)
        stdin_close(s);
    return true;
}

static void resize(exec_session *s, const uint8_t *data, size_t len)
{
    TerminalSize *ts = (TerminalSize *)berth_pb_unpack(&terminal_size_descriptor, data, len);
    struct winsize ws = { 0 };

    if (ts && s->tty && s->in_fd >= 0 && ts->rows && ts->cols && ts->rows <= TERM_DIM_MAX &&
        ts->cols <= TERM_DIM_MAX) {
        ws.ws_row = (unsigned short)ts->rows;
        ws.ws_col = (unsigned short)ts->cols;
        (void)ioctl(s->in_fd, TIOCSWINSZ, &ws);
    }
    if (ts)
        berth_pb_free(&ts->base);
}

static void pump_in(exec_session *s)
{
    berth_duplex_chunk c;

    /* until the command runs, its stdin waits in the stream */
    if (!s->started || !stdin_flush(s))
        return;
    while (berth_duplex_read(s->d, &c) == 1) {
        if (c.channel == BERTH_EXEC_RESIZE) {
            resize(s, c.data, c.len);
            continue;
        }
        if (c.channel != BERTH_EXEC_STDIN || s->in_closed || s->in_fd < 0 || !s->want_stdin)
            continue;
        if (c.len) {
            s->in_buf = berth_xreallocarray(s->in_buf, c.len, 1);
            memcpy(s->in_buf, c.data, c.len);
            s->in_len = c.len;
            s->in_off = 0;
        }
        if (c.eof) {
            /* closed once what waits has gone (stdin_flush) */
            s->in_eof = true;
            if (!stdin_flush(s))
                return;
            continue;
        }
        if (!stdin_flush(s))
            return; /* the command reads slowly: wait for its stdin */
    }
}

static void on_stdin(berth_loop_io *io, uint32_t events)
{
    exec_session *s = berth_container_of(io, exec_session, in_io);

    if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT)) {
        /* nothing can be written there any more (a terminal hung up):
         * drop what waits, take no more */
        s->in_len = s->in_off = 0;
        berth_loop_remove(s->x->loop, &s->in_io);
        stdin_close(s);
        pump_in(s);
        return;
    }
    if (!stdin_flush(s))
        return;
    pump_in(s);
}

static void on_readable(berth_duplex *d, void *data)
{
    (void)d;
    pump_in(data);
}

static void on_writable(berth_duplex *d, void *data)
{
    exec_session *s = data;

    (void)d;
    if (s->exited && output_done(s)) {
        session_finish(s);
        return;
    }
    output_pause(s, false);
}

static void on_end(berth_duplex *d, int code, const char *msg, void *data)
{
    exec_session *s = data;

    (void)d;
    (void)code;
    berth_info("%s container %s by %s: ended before the %s: %s",
               s->attach ? "attach to" : "exec in", s->container, s->who,
               s->attach ? "container" : "command", msg);
    s->d = NULL;
    /* closing the monitor's connection sends the command SIGHUP */
    session_free(s);
}

static const berth_duplex_ops stream_ops = { .on_readable = on_readable,
                                             .on_writable = on_writable,
                                             .on_end = on_end };

/* ---- the monitor ---- */

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* The command started: its fds (in ExecRequest's order) are the
 * session's now, closed with it whatever happens here. */
static int started(exec_session *s, int *fds, size_t nfds)
{
    bool with_stdin = s->in_fd == -2;
    size_t want = s->attach && s->tty ? 2 : s->tty ? 1 : with_stdin ? 3 : 2, i = 0;

    s->in_fd = -1;
    if (nfds != want) {
        for (size_t k = 0; k < nfds; k++)
            close(fds[k]);
        return -1;
    }
    if (s->tty && s->attach) {
        /* the terminal (to write to, and resize), its output on a pipe */
        s->in_fd = fds[0];
        s->out.fd = fds[1];
    } else if (s->tty) {
        s->out.fd = fds[0];
        s->in_fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
    } else {
        if (with_stdin)
            s->in_fd = fds[i++];
        s->out.fd = fds[i++];
        s->err.fd = fds[i];
    }
    /* stdin is watched only while a write to it waits (stdin_flush) */
    if ((s->tty || with_stdin) && (s->in_fd < 0 || nonblock(s->in_fd) < 0))
        return -1;
    if (nonblock(s->out.fd) < 0 || output_watch(s, &s->out, true) < 0)
        return -1;
    if (s->tty) {
        s->err.eof = true;
        return 0;
    }
    return nonblock(s->err.fd) < 0 || output_watch(s, &s->err, true) < 0 ? -1 : 0;
}

static void on_monitor(berth_loop_io *io, uint32_t events)
{
    exec_session *s = berth_container_of(io, exec_session, sock_io);
    ProtobufCMessage *msg = NULL;
    berth_error *err = NULL;
    int fds[BERTH_EXECSOCK_FDS_MAX];
    size_t nfds = 0;
    ExecReply *r;
    int rc;

    (void)events;
    rc = berth_execsock_recv(io->fd, &exec_reply_descriptor, &msg, fds, &nfds, &err);
    if (rc == 0)
        return;
    if (rc < 0) {
        fd_close(s->x->loop, &s->sock_io, &s->sock);
        if (s->exited) {
            /* the monitor is done with us once it told the exit */
            berth_error_free(&err);
            return;
        }
        /* the monitor went away (or said nonsense): the end is unknown */
        s->exited = true;
        s->exit_code = -1;
        snprintf(s->error, sizeof(s->error), "the container's monitor: %s", err->msg);
        berth_error_free(&err);
        s->out.eof = s->err.eof = true;
        session_finish(s);
        return;
    }
    r = (ExecReply *)msg;
    if (!s->started && !s->exited) {
        if (!r->started) {
            for (size_t k = 0; k < nfds; k++)
                close(fds[k]);
            s->exited = true;
            s->exit_code = r->exit_code ? r->exit_code : 126;
            snprintf(s->error, sizeof(s->error), "%s", r->error);
        } else if (started(s, fds, nfds) < 0) {
            /* the command runs but we cannot reach it: hang it up */
            s->exited = true;
            s->exit_code = 126;
            snprintf(s->error, sizeof(s->error), "the command's stdio could not be taken");
        } else {
            s->started = true;
            pump_in(s);
        }
    } else {
        for (size_t k = 0; k < nfds; k++)
            close(fds[k]);
        if (r->exited && !s->exited) {
            s->exited = true;
            s->exit_code = r->exit_code;
            berth_loop_timer_arm(s->x->loop, &s->drain, berth_now_mono_ns() + DRAIN_NS);
        }
    }
    BERTH_PB_FREE(r);
    maybe_finish(s);
}

/* ---- the service ---- */

agent_execs *agent_execs_new(berth_loop *loop, containers *c, berth_duplex_server *dx)
{
    agent_execs *x = berth_xcalloc(1, sizeof(*x));

    x->loop = loop;
    x->containers = c;
    x->dx = dx;
    return x;
}

void agent_execs_free(agent_execs *x)
{
    if (!x)
        return;
    while (x->sessions) {
        exec_session *s = x->sessions;

        if (s->d)
            berth_duplex_end(s->d, CODE_UNAVAILABLE, "berthd is stopping");
        session_free(s);
    }
    free(x);
}

size_t agent_execs_count(const agent_execs *x)
{
    return x->n;
}

static int check_command(const ExecStart *in, berth_error **err)
{
    size_t bytes = 0;

    if (!in->n_command || !*in->command[0])
        return berth_error_set(err, EINVAL, "exec: no command given");
    if (in->n_command > ARGS_MAX)
        return berth_error_set(err, E2BIG, "exec: %zu arguments, at most %d", in->n_command,
                               ARGS_MAX);
    for (size_t i = 0; i < in->n_command; i++)
        bytes += strlen(in->command[i]) + 1;
    if (bytes > ARG_BYTES_MAX)
        return berth_error_set(err, E2BIG, "exec: the command line is %zu bytes, at most %u", bytes,
                               ARG_BYTES_MAX);
    if (in->rows > TERM_DIM_MAX || in->cols > TERM_DIM_MAX)
        return berth_error_set(err, EINVAL, "exec: a terminal of %ux%u", in->rows, in->cols);
    return 0;
}

/* A session for the monitor's connection sock (the session's from now
 * on, closed on failure), its stream opened for call's caller: 0 with
 * *ret_s linked in, or -1 with *err. */
static int session_open(agent_execs *x, berth_rpc_call *call, int sock, const char *container,
                        DuplexOpened *ret_opened, exec_session **ret_s, berth_error **err)
{
    exec_session *s = berth_xcalloc(1, sizeof(*s));

    s->x = x;
    s->sock = sock;
    s->in_fd = -1;
    s->in_io.fd = s->out.io.fd = s->err.io.fd = s->sock_io.fd = -1;
    s->out.fd = s->err.fd = -1;
    s->out.s = s->err.s = s;
    s->out.channel = BERTH_EXEC_STDOUT;
    s->err.channel = BERTH_EXEC_STDERR;
    snprintf(s->container, sizeof(s->container), "%s", container);
    snprintf(s->who, sizeof(s->who), "%s", berth_rpc_call_peer(call)->name);
    berth_loop_timer_init(&s->drain, on_drain);
    if (berth_duplex_server_open(x->dx, berth_rpc_call_peer(call), &stream_ops, s, &s->d,
                                 ret_opened, err) < 0 ||
        berth_loop_add(x->loop, &s->sock_io, sock, EPOLLIN, on_monitor, err) < 0) {
        if (s->d)
            berth_duplex_end(s->d, CODE_INTERNAL, "%s", (*err)->msg);
        close(sock);
        free(s);
        return -1;
    }
    s->next = x->sessions;
    if (x->sessions)
        x->sessions->prev = s;
    x->sessions = s;
    x->n++;
    *ret_s = s;
    return 0;
}

void agent_execs_start(agent_execs *x, berth_rpc_call *call, const ExecStart *in,
                       ProtobufCClosure closure)
{
    const ContainerStatus *st = containers_status(x->containers, in->container_id);
    ExecRequest req = EXEC_REQUEST_INIT;
    berth_error *err = NULL;
    _cleanup_close_ int dfd = -1;
    DuplexOpened opened;
    exec_session *s;
    int sock = -1;

    if (check_command(in, &err) < 0)
        goto fail;
    if (!st) {
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "container %s: not on this node",
                            in->container_id);
        return;
    }
    if (st->state != CONTAINER_RUNNING) {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&container_state_descriptor, st->state);

        berth_rpc_call_fail(call, CODE_FAILED_PRECONDITION,
                            "container %s is not running (%s): cannot exec into it",
                            in->container_id, v ? v->name : "unknown");
        return;
    }
    req.command = in->command;
    req.n_command = in->n_command;
    req.stdin = in->stdin && !in->tty;
    req.tty = in->tty;
    req.rows = in->rows;
    req.cols = in->cols;
    if (containers_open_dir(x->containers, in->container_id, &dfd, &err) < 0 ||
        berth_execsock_connect(dfd, &req, &sock, &err) < 0)
        goto fail;
    if (session_open(x, call, sock, in->container_id, &opened, &s, &err) < 0)
        goto fail;
    s->in_fd = req.stdin ? -2 : -1; /* -2: its write end comes */
    s->tty = in->tty;
    s->want_stdin = true;
    berth_info("exec in container %s by %s: %s%s%s (%zu argument(s))", s->container, s->who,
               in->command[0], in->tty ? ", with a terminal" : "", in->stdin ? ", with stdin" : "",
               in->n_command - 1);
    closure(&opened.base, call);
    return;

fail:
    berth_rpc_fail_error(call, err);
    berth_error_free(&err);
}

void agent_execs_attach(agent_execs *x, berth_rpc_call *call, const AttachStart *in,
                        ProtobufCClosure closure)
{
    const ContainerStatus *st = containers_status(x->containers, in->container_id);
    const ContainerSpec *spec = containers_spec(x->containers, in->container_id);
    ExecRequest req = EXEC_REQUEST_INIT;
    berth_error *err = NULL;
    _cleanup_close_ int dfd = -1;
    DuplexOpened opened;
    exec_session *s;
    int sock = -1;

    if (!st || !spec) {
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "container %s: not on this node",
                            in->container_id);
        return;
    }
    if (st->state != CONTAINER_RUNNING) {
        berth_rpc_call_fail(call, CODE_FAILED_PRECONDITION,
                            "container %s is not running: cannot attach to it", in->container_id);
        return;
    }
    if (in->stdin && !spec->stdin) {
        berth_rpc_call_fail(call, CODE_FAILED_PRECONDITION,
                            "container %s was not started with stdin: true: attach without -i",
                            in->container_id);
        return;
    }
    req.attach = true;
    req.stdin = in->stdin;
    if (containers_open_dir(x->containers, in->container_id, &dfd, &err) < 0 ||
        berth_execsock_connect(dfd, &req, &sock, &err) < 0) {
        berth_rpc_fail_error(call, err);
        berth_error_free(&err);
        return;
    }
    if (session_open(x, call, sock, in->container_id, &opened, &s, &err) < 0) {
        berth_rpc_fail_error(call, err);
        berth_error_free(&err);
        return;
    }
    s->attach = true;
    /* the shape of what comes back is the spec's: a terminal or pipes */
    s->tty = spec->tty;
    s->in_fd = in->stdin && !spec->tty ? -2 : -1;
    s->want_stdin = in->stdin;
    berth_info("attach to container %s by %s%s%s", s->container, s->who,
               spec->tty ? ", its terminal" : "", in->stdin ? ", with stdin" : "");
    closure(&opened.base, call);
}
