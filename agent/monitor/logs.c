/* The container's stdout and stderr: pipes whose read ends the loop drains
 * into the CRI log (lib/statedir/crilog.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "monitor.h"

#define PIPE_SIZE    (1 << 20)
#define DRAIN_BUDGET (64 * 1024)

static void log_failed(berth_error **err)
{
    berth_log_error(BERTH_LOG_WARN, *err, "container log");
    berth_error_free(err);
}

/* Move output into the log: at most budget bytes (0: until EAGAIN or EOF).
 * A bounded budget keeps a container that writes as fast as it can from
 * starving the loop (stop requests, timers); epoll is level-triggered, so
 * the rest comes next round. Returns 1 at EOF. */
static int drain(out_pipe *p, size_t budget)
{
    char buf[8192];
    size_t done = 0;

    while (budget == 0 || done < budget) {
        ssize_t n = read(p->io.fd, buf, sizeof(buf));
        berth_error *err = NULL;

        if (n < 0 && errno == EIO) {
            /* a terminal whose last user closed it: its end */
            n = 0;
        } else if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            berth_warn("read container %s: %s",
                       p->stream == BERTH_CRILOG_STDOUT ? "stdout" : "stderr", strerror(errno));
            return 1;
        }
        if (n == 0) {
            /* The end of the output, whether its last line could be
             * written or not: reading on would only see the end again. */
            if (berth_crilog_end(p->m->log, p->stream, berth_now_real_ns(), &err) < 0)
                log_failed(&err);
            return 1;
        }
        done += (size_t)n;
        if (berth_crilog_feed(p->m->log, p->stream, buf, (size_t)n, berth_now_real_ns(), &err) < 0)
            log_failed(&err);
        exec_attach_feed(p->m, p->stream, buf, (size_t)n);
    }
    return 0;
}

static void close_pipe(monitor *m, out_pipe *p)
{
    if (p->io.fd >= 0) {
        int fd = p->io.fd;

        berth_loop_remove(m->loop, &p->io);
        close(fd);
    }
}

static void on_output(berth_loop_io *io, uint32_t events)
{
    out_pipe *p = berth_container_of(io, out_pipe, io);

    (void)events;
    if (drain(p, DRAIN_BUDGET))
        close_pipe(p->m, p);
}

int logs_open_pipe(monitor *m, berth_crilog_stream stream, int *ret_write_end, berth_error **err)
{
    out_pipe *p = &m->out[stream];
    int fds[2];

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return berth_error_errno(err, "pipe");
    /* Room for bursts; the container only ever blocks when the disk does. */
    fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);
    /* The container's end must be blocking, as programs expect. */
    fcntl(fds[1], F_SETFL, 0);
    p->m = m;
    p->stream = stream;
    if (berth_loop_add(m->loop, &p->io, fds[0], EPOLLIN, on_output, err) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    *ret_write_end = fds[1];
    return 0;
}

int logs_adopt(monitor *m, berth_crilog_stream stream, int fd, berth_error **err)
{
    out_pipe *p = &m->out[stream];
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return berth_error_errno(err, "the container's terminal");
    }
    p->m = m;
    p->stream = stream;
    if (berth_loop_add(m->loop, &p->io, fd, EPOLLIN, on_output, err) < 0) {
        close(fd);
        return -1;
    }
    return 0;
}

void logs_drain_and_close(monitor *m)
{
    for (int i = 0; i < 2; i++)
        if (m->out[i].io.fd >= 0) {
            berth_error *err = NULL;

            /* a terminal the monitor keeps a peer of never says EOF: its
             * last line ends here */
            if (drain(&m->out[i], 0) == 0 &&
                berth_crilog_end(m->log, m->out[i].stream, berth_now_real_ns(), &err) < 0)
                log_failed(&err);
            close_pipe(m, &m->out[i]);
        }
}

void logs_close(monitor *m)
{
    for (int i = 0; i < 2; i++)
        close_pipe(m, &m->out[i]);
}
