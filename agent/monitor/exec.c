/* Commands run in the container for berthd (`kubectl exec`): the exec
 * socket (statedir/execsock.h). Per connection one ExecRequest; the
 * command is started as exec probes are (runtime.h: in every namespace of
 * the container, its cgroup, user, capabilities, seccomp, environment),
 * with pipes or a terminal of the container's own for its stdio, whose
 * other ends go back to berthd; then its exit. Nothing here waits: the
 * start, the exit and the client's end come through the loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "monitor.h"
#include "pb/pb.h"
#include "spec/spec.h"
#include "statedir/execsock.h"

/* Commands at once; more are refused. */
#define EXECS_MAX 16
/* After SIGHUP (its client went), how long a command has before SIGKILL. */
#define HANGUP_GRACE_MS 5000

struct exec_session {
    monitor *m;
    berth_loop_io conn; /* berthd's connection */
    berth_loop_io run;  /* the start (berth_exec_fd), then the exit (pidfd) */
    berth_loop_timer kill_timer;
    berth_exec *x;
    pid_t pid;         /* the exec intermediary: the command's exit is its */
    int client_fds[3]; /* what goes back with the start */
    size_t n_client_fds;
    bool started, client_gone, hung_up;
    /* attached to the main process: the write ends of its output pipes
     * (stdout, stderr; one with a terminal), and whether it passed stdin */
    bool attach;
    int out_w[2];
    uint64_t missed; /* output bytes it could not take */
    exec_session *next;
};

/* Stop watching io and close its fd. */
static void io_close(berth_loop *loop, berth_loop_io *io)
{
    int fd = io->fd;

    berth_loop_remove(loop, io);
    if (fd >= 0)
        close(fd);
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

static void session_free(exec_session *s)
{
    monitor *m = s->m;

    for (exec_session **p = &m->execs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    m->n_execs--;
    if (m->exec_paused && berth_loop_modify(m->loop, &m->exec_listen, EPOLLIN, NULL) == 0)
        m->exec_paused = false;
    io_close(m->loop, &s->conn);
    /* run watches the start's fd (the handle's) or the exit's pidfd */
    if (s->x) {
        berth_loop_remove(m->loop, &s->run);
        berth_exec_free(s->x);
    } else {
        io_close(m->loop, &s->run);
    }
    berth_loop_timer_cancel(m->loop, &s->kill_timer);
    close_fds(s->client_fds, s->n_client_fds);
    close_fds(s->out_w, 2);
    free(s);
}

/* Tell berthd (when it still listens): false when it could not be. */
static bool reply(exec_session *s, const ExecReply *r, const int *fds, size_t n_fds)
{
    berth_error *err = NULL;

    if (s->client_gone || s->conn.fd < 0)
        return false;
    if (berth_execsock_send(s->conn.fd, &r->base, fds, n_fds, &err) < 0) {
        berth_log_error(BERTH_LOG_DEBUG, err, "exec");
        berth_error_free(&err);
        return false;
    }
    return true;
}

static void reply_error(exec_session *s, int exit_code, const char *msg)
{
    ExecReply r = EXEC_REPLY_INIT;

    r.error = (char *)msg;
    r.exit_code = exit_code;
    reply(s, &r, NULL, 0);
}

/* The command's exit status: the intermediary's (128+N for signal N). */
static void on_exit_ready(berth_loop_io *io, uint32_t events)
{
    exec_session *s = berth_container_of(io, exec_session, run);
    ExecReply r = EXEC_REPLY_INIT;
    int status;
    pid_t w;

    (void)events;
    w = berth_waitpid(s->pid, &status, WNOHANG);
    if (w == 0)
        return;
    if (w != s->pid) {
        /* not ours to reap any more (cannot happen: nothing else reaps
         * here): no exit to tell, and no pidfd left to spin on */
        session_free(s);
        return;
    }
    if (s->started) {
        r.exited = true;
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        reply(s, &r, NULL, 0);
    }
    session_free(s);
}

/* Follow the intermediary to its exit (a child of ours: never a recycled
 * pid). False when s is gone (it could not be followed). */
static bool follow_exit(exec_session *s)
{
    berth_error *err = NULL;
    int pidfd;

    berth_loop_remove(s->m->loop, &s->run);
    berth_exec_free(s->x);
    s->x = NULL;
    pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    if (pidfd < 0 || berth_loop_add(s->m->loop, &s->run, pidfd, EPOLLIN, on_exit_ready, &err) < 0) {
        /* cannot happen short of fds running out: end it, left to init */
        berth_log_error(BERTH_LOG_WARN, err, "exec: follow its command");
        berth_error_free(&err);
        if (pidfd >= 0)
            close(pidfd);
        kill(s->pid, SIGTERM);
        session_free(s);
        return false;
    }
    return true;
}

static void client_gone(exec_session *s);

static void on_started(berth_loop_io *io, uint32_t events)
{
    exec_session *s = berth_container_of(io, exec_session, run);
    berth_error *err = NULL;
    int r = berth_exec_finish(s->x, &err);

    (void)events;
    if (r == 0)
        return;
    if (r < 0) {
        /* as a shell says it: 127 not found, 126 found but not runnable
         * (or anything else that kept it from running) */
        reply_error(s, err->code == ENOENT && strstr(err->msg, ": exec ") ? 127 : 126, err->msg);
        berth_error_free(&err);
    } else {
        ExecReply ok = EXEC_REPLY_INIT;

        s->started = true;
        ok.started = true;
        if (!reply(s, &ok, s->client_fds, s->n_client_fds)) {
            /* it cannot have its fds: as if it went */
            close_fds(s->client_fds, s->n_client_fds);
            if (follow_exit(s))
                client_gone(s);
            return;
        }
    }
    close_fds(s->client_fds, s->n_client_fds);
    follow_exit(s);
}

static void on_kill_timer(berth_loop_timer *t)
{
    exec_session *s = berth_container_of(t, exec_session, kill_timer);

    /* the intermediary kills the command with SIGKILL and exits */
    kill(s->pid, SIGTERM);
}

/* berthd closed the connection (its client went): the command gets
 * SIGHUP, and SIGKILL if it is still there after the grace. */
static void client_gone(exec_session *s)
{
    s->client_gone = true;
    io_close(s->m->loop, &s->conn);
    if (s->attach) {
        /* detached: the main process goes on (stdinOnce: its stdin went
         * with this attach, berthd closes it) */
        if (s->missed)
            berth_info("attach: a client missed %llu bytes of output (it read too slowly)",
                       (unsigned long long)s->missed);
        session_free(s);
        return;
    }
    if (s->pid <= 0) {
        session_free(s);
        return;
    }
    if (!s->hung_up) {
        s->hung_up = true;
        kill(s->pid, SIGHUP);
        berth_loop_timer_arm(s->m->loop, &s->kill_timer,
                             berth_now_mono_ns() + HANGUP_GRACE_MS * BERTH_NSEC_PER_MSEC);
    }
}

/* A terminal of the container's own: its devpts' ptmx, opened in its
 * root (never out of it: RESOLVE_IN_ROOT), checked to be a ptmx, with
 * its peer as the command's side. */
static int open_terminal(monitor *m, const ExecRequest *req, int *ret_master, int *ret_slave,
                         berth_error **err)
{
    /* found without opening (O_PATH: no driver's open runs), checked to
     * be a devpts' ptmx (5:2 on a devpts), then opened through our fd */
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    struct winsize ws = {
        .ws_row = (unsigned short)(req->rows > 0xffff ? 0xffff : req->rows),
        .ws_col = (unsigned short)(req->cols > 0xffff ? 0xffff : req->cols),
    };
    _cleanup_close_ int root = -1, found = -1, master = -1;
    char path[64];
    struct statfs sfs;
    struct stat st;
    int unlock = 0, slave;

    snprintf(path, sizeof(path), "/proc/%d/root", (int)berth_container_pid(m->c));
    root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return berth_error_errno(err, "open the container's root");
    found = (int)syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof(how));
    if (found < 0)
        return berth_error_errno(err, "find the container's /dev/pts/ptmx");
    if (fstat(found, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
        minor(st.st_rdev) != 2 || fstatfs(found, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
        return berth_error_set(err, EPERM, "the container's /dev/pts/ptmx is no terminal master");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", found);
    master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (master < 0)
        return berth_error_errno(err, "open the container's /dev/pts/ptmx");
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return berth_error_errno(err, "unlock the terminal");
    if (req->rows && req->cols && ioctl(master, TIOCSWINSZ, &ws) < 0)
        return berth_error_errno(err, "size the terminal");
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return berth_error_errno(err, "open the terminal's peer");
    *ret_master = TAKE_FD(master);
    *ret_slave = slave;
    return 0;
}

/* The command's stdio (child[]) and berthd's ends (s->client_fds). */
static int make_stdio(exec_session *s, const ExecRequest *req, int child[3], berth_error **err)
{
    int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };

    if (req->tty) {
        int master = -1, slave = -1;

        if (open_terminal(s->m, req, &master, &slave, err) < 0)
            return -1;
        /* the slave three times: one fd, dup'd by the command's setup */
        child[0] = child[1] = child[2] = slave;
        s->client_fds[0] = master;
        s->n_client_fds = 1;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if ((i > 0 || req->stdin) && pipe2(p[i], O_CLOEXEC) < 0) {
            berth_error_errno(err, "pipe");
            for (int j = 0; j < i; j++) {
                close(p[j][0]);
                close(p[j][1]);
            }
            return -1;
        }
    child[0] = p[0][0];
    child[1] = p[1][1];
    child[2] = p[2][1];
    if (req->stdin)
        s->client_fds[s->n_client_fds++] = p[0][1];
    s->client_fds[s->n_client_fds++] = p[1][0];
    s->client_fds[s->n_client_fds++] = p[2][0];
    return 0;
}

/* A pipe for an attached client's output: its read end (the client's)
 * and write end (ours, non-blocking, roomy). */
static int attach_pipe(int *ret_r, int *ret_w)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    *ret_r = fds[0];
    *ret_w = fds[1];
    return 0;
}

/* Attach to the main process (ExecRequest.attach): its output from now
 * on, its stdin when asked. */
static void attach_start(exec_session *s, const ExecRequest *req)
{
    monitor *m = s->m;
    const ContainerSpec *spec = m->plan->spec;
    int in = spec->tty ? m->console_fd : m->stdin_w;
    ExecReply ok = EXEC_REPLY_INIT;
    bool moved = false;
    size_t n = 0;

    s->attach = true;
    if (!m->c || m->removal || m->stopping || m->pid_io.fd < 0) {
        reply_error(s, 126, "the container is not running");
        client_gone(s);
        return;
    }
    if (req->stdin && (!spec->stdin || in < 0 || m->stdin_taken)) {
        reply_error(s, 126,
                    !spec->stdin
                        ? "the container was not started with stdin: true: attach "
                          "without -i"
                        : "the container's stdin was closed (stdinOnce): attach without -i");
        client_gone(s);
        return;
    }
    /* with a terminal, its master always (a resize needs it); stdinOnce
     * without one: the pipe's write end itself, moved to this attach, so
     * that its end closes the container's stdin */
    if (req->stdin && !spec->tty && spec->stdin_once) {
        s->client_fds[n++] = m->stdin_w;
        m->stdin_w = -1;
        moved = true;
    } else if (spec->tty || req->stdin) {
        s->client_fds[n] = fcntl(in, F_DUPFD_CLOEXEC, 3);
        if (s->client_fds[n] < 0)
            goto fail;
        n++;
    }
    /* a terminal's stdinOnce: one attach that writes, the first */
    if (req->stdin && spec->tty && spec->stdin_once)
        m->stdin_taken = true;
    for (int i = 0; i < (spec->tty ? 1 : 2); i++) {
        if (attach_pipe(&s->client_fds[n], &s->out_w[i]) < 0)
            goto fail;
        n++;
    }
    s->n_client_fds = n;
    ok.started = true;
    if (!reply(s, &ok, s->client_fds, n)) {
        client_gone(s);
        return;
    }
    close_fds(s->client_fds, n);
    s->n_client_fds = 0;
    s->started = true;
    return;

fail:
    if (moved) {
        /* not used after all: the container's stdin stays */
        m->stdin_w = s->client_fds[0];
        s->client_fds[0] = -1;
    }
    s->n_client_fds = n;
    reply_error(s, 126, "attach: no fd for its stdio");
    client_gone(s);
}

void exec_attach_feed(monitor *m, berth_crilog_stream stream, const char *buf, size_t n)
{
    for (exec_session *s = m->execs; s; s = s->next) {
        int fd = s->out_w[m->plan->spec->tty ? 0 : stream];
        ssize_t w;

        if (!s->attach || !s->started || s->client_gone || fd < 0)
            continue;
        w = write(fd, buf, n);
        if (w < (ssize_t)n)
            s->missed += n - (size_t)(w > 0 ? w : 0);
    }
}

void exec_attach_ended(monitor *m, int exit_code)
{
    for (exec_session *s = m->execs, *next; s; s = next) {
        ExecReply r = EXEC_REPLY_INIT;

        next = s->next;
        if (!s->attach)
            continue;
        /* the output ends (EOF), then the exit */
        close_fds(s->out_w, 2);
        if (s->started) {
            r.exited = true;
            r.exit_code = exit_code;
            reply(s, &r, NULL, 0);
        }
        session_free(s);
    }
}

static void start(exec_session *s, const ExecRequest *req)
{
    monitor *m = s->m;
    berth_error *err = NULL;
    int child[3] = { -1, -1, -1 };
    int r;

    if (!m->c || m->removal || m->stopping) {
        reply_error(s, 126, "the container is not running");
        client_gone(s);
        return;
    }
    if (req->n_command == 0 || req->n_command > BERTH_SPEC_ARGS_MAX || !*req->command[0]) {
        reply_error(s, 126, "no command, or too many arguments");
        client_gone(s);
        return;
    }
    if (make_stdio(s, req, child, &err) < 0) {
        reply_error(s, 126, err->msg);
        berth_error_free(&err);
        client_gone(s);
        return;
    }
    /* with the run's environment, its Secrets' variables too */
    r = berth_container_exec_start(m->c, m->run_spec ? m->run_spec : m->plan->spec, req->n_command,
                                   req->command, child, req->tty ? BERTH_EXEC_TTY : 0, &s->x, &err);
    /* the command has its copies now (or none will) */
    close_fds(child, req->tty ? 1 : 3);
    if (r < 0) {
        reply_error(s, 126, err->msg);
        berth_error_free(&err);
        client_gone(s);
        return;
    }
    s->pid = berth_exec_pid(s->x);
    if (berth_loop_add(m->loop, &s->run, berth_exec_fd(s->x), EPOLLIN, on_started, &err) < 0) {
        reply_error(s, 126, err->msg);
        berth_error_free(&err);
        kill(s->pid, SIGTERM);
        follow_exit(s); /* reaps it, or frees s */
    }
}

static void on_conn(berth_loop_io *io, uint32_t events)
{
    exec_session *s = berth_container_of(io, exec_session, conn);
    ProtobufCMessage *msg = NULL;
    berth_error *err = NULL;
    int fds[BERTH_EXECSOCK_FDS_MAX];
    size_t nfds = 0;
    int r;

    (void)events;
    r = berth_execsock_recv(io->fd, &exec_request_descriptor, &msg, fds, &nfds, &err);
    close_fds(fds, nfds); /* nothing comes our way by fd */
    if (r == 0)
        return;
    if (r < 0 || s->x || s->pid || s->attach) {
        /* the end of the connection, a broken message, or a second
         * request: this client is done */
        berth_error_free(&err);
        BERTH_PB_FREE((ExecRequest *)msg);
        client_gone(s);
        return;
    }
    if (((ExecRequest *)msg)->attach)
        attach_start(s, (ExecRequest *)msg);
    else
        start(s, (ExecRequest *)msg);
    BERTH_PB_FREE((ExecRequest *)msg);
}

static void on_accept(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, exec_listen);
    berth_error *err = NULL;

    (void)events;
    for (;;) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        exec_session *s;

        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            /* no fd for it: the connection waits, not the loop's turn
             * (watched again when a session frees its fds) */
            berth_loop_modify(m->loop, io, 0, NULL);
            m->exec_paused = true;
        }
        if (fd < 0)
            return;
        /* root only: berthd (the directory is root's too) */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
            close(fd);
            continue;
        }
        s = berth_xcalloc(1, sizeof(*s));
        s->m = m;
        s->conn.fd = s->run.fd = -1;
        s->out_w[0] = s->out_w[1] = -1;
        s->client_fds[0] = s->client_fds[1] = s->client_fds[2] = -1;
        berth_loop_timer_init(&s->kill_timer, on_kill_timer);
        s->next = m->execs;
        m->execs = s;
        m->n_execs++;
        if (m->n_execs > EXECS_MAX) {
            ExecReply r = EXEC_REPLY_INIT;

            r.error = "too many commands running in this container";
            r.exit_code = 126;
            (void)berth_execsock_send(fd, &r.base, NULL, 0, NULL);
            close(fd);
            session_free(s);
            continue;
        }
        if (berth_loop_add(m->loop, &s->conn, fd, EPOLLIN, on_conn, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "exec");
            berth_error_free(&err);
            close(fd);
            session_free(s);
        }
    }
}

int exec_init(monitor *m, berth_error **err)
{
    int fd;

    m->exec_listen.fd = -1;
    if (berth_execsock_listen(m->dirfd, &fd, err) < 0)
        return -1;
    if (berth_loop_add(m->loop, &m->exec_listen, fd, EPOLLIN, on_accept, err) < 0) {
        close(fd);
        return -1;
    }
    return 0;
}

void exec_run_ended(monitor *m)
{
    /* What runs went with the container (its cgroup, its PID namespace);
     * a start not told yet is told by its intermediary's exit, and its
     * handle (which keeps the container) goes before the container. */
    for (exec_session *s = m->execs, *next; s; s = next) {
        next = s->next;
        if (s->x) {
            close_fds(s->client_fds, s->n_client_fds);
            follow_exit(s);
        }
    }
}

void exec_free(monitor *m)
{
    while (m->execs) {
        exec_session *s = m->execs;

        /* what still runs goes with the container; what is not reaped
         * yet, init reaps once we are gone */
        if (s->pid > 0)
            kill(s->pid, SIGTERM);
        session_free(s);
    }
    io_close(m->loop, &m->exec_listen);
    unlinkat(m->dirfd, BERTH_STATEDIR_EXEC, 0);
}
