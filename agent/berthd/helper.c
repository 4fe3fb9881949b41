/* Helper processes of berthd's (helper.h). */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/log.h"
#include "base/xalloc.h"

pid_t helper_spawn(char *const argv[], int out)
{
    sigset_t none;
    pid_t parent = getpid(), pid = fork();

    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* berthd died before the prctl */
        _exit(127);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null < 0 || dup2(null, 0) < 0 || dup2(out >= 0 ? out : null, 1) < 0)
            _exit(127);
        if (out == 1) /* dup2 onto itself keeps close-on-exec */
            fcntl(1, F_SETFD, 0);
    }
    execv(argv[0], argv);
    fprintf(stderr, "berthd: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

bool helper_reaped(int pidfd, siginfo_t *si)
{
    memset(si, 0, sizeof(*si));
    if (waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG) < 0) {
        if (errno == EINTR)
            return false;
        berth_warn("helper: waitid: %s", strerror(errno));
        si->si_code = CLD_KILLED;
        si->si_status = SIGKILL;
        return true;
    }
    return si->si_pid != 0;
}

struct helper {
    berth_loop *loop;
    berth_loop_io out_io, pid_io;
    helper_done_fn done;
    void *data;
    char *out;
    size_t len;
};

void helper_io_close(berth_loop *loop, berth_loop_io *io)
{
    if (io->fd >= 0) {
        int fd = io->fd;

        berth_loop_remove(loop, io);
        close(fd);
        io->fd = -1;
    }
}

static void helper_free(helper *h)
{
    helper_io_close(h->loop, &h->out_io);
    helper_io_close(h->loop, &h->pid_io);
    free(h->out);
    free(h);
}

/* Read what is there; what is past HELPER_OUT_MAX is dropped. */
static void drain(helper *h)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(h->out_io.fd, buf, sizeof(buf))) > 0) {
        size_t take = (size_t)n;

        if (h->len + take > HELPER_OUT_MAX)
            take = HELPER_OUT_MAX - h->len;
        memcpy(h->out + h->len, buf, take);
        h->len += take;
    }
    if (n == 0) /* EOF: nothing more comes */
        helper_io_close(h->loop, &h->out_io);
}

static void on_output(berth_loop_io *io, uint32_t events)
{
    (void)events;
    drain(berth_container_of(io, helper, out_io));
}

static void on_exit_(berth_loop_io *io, uint32_t events)
{
    helper *h = berth_container_of(io, helper, pid_io);
    siginfo_t si;

    (void)events;
    if (!helper_reaped(io->fd, &si))
        return;
    if (h->out_io.fd >= 0)
        drain(h); /* what it wrote last (a child of its may hold the pipe: no EOF wait) */
    h->out[h->len] = '\0';
    h->done(h, si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status, h->out, h->data);
    helper_free(h);
}

int helper_start(berth_loop *loop, char *const argv[], helper_done_fn done, void *data,
                 helper **ret, berth_error **err)
{
    helper *h = berth_xcalloc(1, sizeof(*h));
    int out[2] = { -1, -1 }, pidfd;
    pid_t pid;

    h->loop = loop;
    h->done = done;
    h->data = data;
    h->out = berth_xcalloc(1, HELPER_OUT_MAX + 1);
    h->out_io.fd = h->pid_io.fd = -1;
    /* (only berthd's end is non-blocking: the child writes as usual) */
    if (pipe2(out, O_CLOEXEC) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
        berth_error_errno(err, "pipe");
        if (out[0] >= 0) {
            close(out[0]);
            close(out[1]);
        }
        goto fail;
    }
    pid = helper_spawn(argv, out[1]);
    close(out[1]);
    if (pid < 0) {
        close(out[0]);
        berth_error_errno(err, "fork");
        goto fail;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        berth_error_errno(err, "pidfd_open");
        kill(pid, SIGKILL);
        berth_waitpid(pid, NULL, 0);
        close(out[0]);
        goto fail;
    }
    if (berth_loop_add(loop, &h->out_io, out[0], EPOLLIN, on_output, err) < 0) {
        close(out[0]);
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
        close(pidfd);
        goto fail;
    }
    if (berth_loop_add(loop, &h->pid_io, pidfd, EPOLLIN, on_exit_, err) < 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
        close(pidfd);
        goto fail;
    }
    *ret = h;
    return 0;
fail:
    helper_free(h);
    return -1;
}

void helper_abandon(helper *h)
{
    if (h)
        helper_free(h);
}

void helper_kill(helper *h)
{
    if (!h)
        return;
    if (h->pid_io.fd >= 0) {
        /* killed: it is gone at once, reaped here */
        syscall(SYS_pidfd_send_signal, h->pid_io.fd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)h->pid_io.fd, &(siginfo_t){ 0 }, WEXITED);
    }
    helper_free(h);
}
