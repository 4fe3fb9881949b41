/* berth-monitor: one small supervisor per container (the role conmon plays
 * for podman). It creates the container with lib/runtime and is its parent:
 * it drains its stdout/stderr into the CRI log, reaps it, records every exit
 * (atomically), restarts it per policy with exponential backoff, stops it on
 * request, and removes its cgroup and overlay when it ends. It shares no
 * memory with berthd, and berthd may die at any time without affecting it.
 *
 *   berth-monitor [--ready-fd FD] STATE_DIR
 *
 * STATE_DIR holds plan.pb (lib/statedir/statedir.h has the layout). The
 * monitor writes "running PID\n" or "error TEXT\n" to FD once the first
 * start succeeded or failed. SIGTERM, SIGINT or "stop [GRACE_MS]" on the
 * control fifo stop the container: its stop signal, then SIGKILL to its
 * cgroup after the grace period. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "statedir/crilog.h"
#include "statedir/statedir.h"
#include "runtime/runtime.h"

#define HISTORY_MAX 16
#define PIPE_SIZE   (1 << 20)

typedef struct monitor monitor;

/* One of the container's output pipes. */
typedef struct out_pipe {
    berth_loop_io io;
    monitor *m;
    berth_crilog_stream stream;
} out_pipe;

struct monitor {
    berth_loop *loop;
    int dirfd;
    int lock_fd;
    int ready_fd; /* -1 once answered */
    int control_fd;
    ContainerPlan *plan;
    berth_runtime *rt;
    berth_container *c;
    berth_crilog *log;
    out_pipe out[2];
    berth_loop_io pid_io;
    berth_loop_io control_io;
    berth_loop_signal sig_term, sig_int;
    berth_loop_timer grace_timer, restart_timer;
    bool stopping;
    int64_t grace_ms;
    /* Liveness probe. */
    struct {
        berth_loop_timer period;  /* next probe due */
        berth_loop_timer timeout; /* the probe in flight gives up */
        berth_loop_io io;         /* exec: the pidfd; tcp: the socket */
        pid_t pid;                /* exec probe in flight */
        int health;               /* berth.v1.HealthState numbers */
        uint32_t failures, successes;
        char message[256];
        bool unhealthy_kill; /* the run is being ended for failing */
    } probe;
    int self_netns; /* our own network namespace, to come back to */
    /* Bookkeeping for state.pb. */
    MonitorPhase phase;
    uint32_t restart_count;
    int64_t backoff_ms; /* the next delay */
    int64_t next_restart_ns;
    char reason[512];
    ExitRecord history[HISTORY_MAX];
    char history_reason[HISTORY_MAX][256];
    size_t n_history;
    int exit_status; /* of the monitor process */
};

static void answer(monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void answer(monitor *m, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;

    if (m->ready_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    /* The starter may be gone: nothing to do about a failed write. */
    if (berth_write_all(m->ready_fd, buf, (size_t)n) < 0)
        berth_debug("answer to starter: %s", strerror(errno));
    close(m->ready_fd);
    m->ready_fd = -1;
}

static void save_state(monitor *m)
{
    MonitorState st = MONITOR_STATE_INIT;
    ExitRecord *hist[HISTORY_MAX];
    berth_error *err = NULL;

    st.monitor_pid = (int32_t)getpid();
    st.container_pid = m->c ? (int32_t)berth_container_pid(m->c) : 0;
    st.phase = m->phase;
    st.started_unix_ns = m->c ? berth_container_started_ns(m->c) : 0;
    st.restart_count = m->restart_count;
    st.next_restart_unix_ns = m->phase == PHASE_BACKOFF ? m->next_restart_ns : 0;
    st.reason = m->reason;
    st.health = m->probe.health;
    st.probe_failures = m->probe.failures;
    st.probe_message = m->probe.message;
    for (size_t i = 0; i < m->n_history; i++)
        hist[i] = &m->history[i];
    st.history = hist;
    st.n_history = m->n_history;
    if (berth_statedir_write_state(m->dirfd, &st, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "save state");
        berth_error_free(&err);
    }
}

static void set_phase(monitor *m, MonitorPhase phase)
{
    m->phase = phase;
    save_state(m);
}

/* Append to the bounded history and write the exit record. */
static void record_exit(monitor *m, const ExitRecord *rec)
{
    berth_error *err = NULL;

    if (m->n_history == HISTORY_MAX) {
        memmove(&m->history[0], &m->history[1], sizeof(m->history[0]) * (HISTORY_MAX - 1));
        memmove(m->history_reason[0], m->history_reason[1],
                sizeof(m->history_reason[0]) * (HISTORY_MAX - 1));
        m->n_history--;
        for (size_t i = 0; i < m->n_history; i++)
            m->history[i].reason = m->history_reason[i];
    }
    m->history[m->n_history] = *rec;
    snprintf(m->history_reason[m->n_history], sizeof(m->history_reason[0]), "%s", rec->reason);
    m->history[m->n_history].reason = m->history_reason[m->n_history];
    m->n_history++;
    if (berth_statedir_write_exit(m->dirfd, rec, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "write exit record");
        berth_error_free(&err);
    }
}

/* --- logs ------------------------------------------------------------------ */

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

        if (n < 0) {
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
            if (berth_crilog_end(p->m->log, p->stream, berth_now_real_ns(), &err) < 0) {
                berth_log_error(BERTH_LOG_WARN, err, "container log");
                berth_error_free(&err);
            }
            return 1;
        }
        done += (size_t)n;
        if (berth_crilog_feed(p->m->log, p->stream, buf, (size_t)n, berth_now_real_ns(), &err) <
            0) {
            berth_log_error(BERTH_LOG_WARN, err, "container log");
            berth_error_free(&err);
        }
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
    if (drain(p, 64 * 1024))
        close_pipe(p->m, p);
}

/* --- lifecycle --------------------------------------------------------------- */

static void probe_start(monitor *m);
static void probe_stop(monitor *m);

static void finish(monitor *m, MonitorPhase phase)
{
    m->c = NULL;
    set_phase(m, phase);
    berth_loop_stop(m->loop);
}

static int64_t backoff_initial(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->initial_ms > 0 ? b->initial_ms : 10000;
}

static int64_t backoff_max(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->max_ms > 0 ? b->max_ms : 300000;
}

static int64_t backoff_reset(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->reset_after_ms > 0 ? b->reset_after_ms : 600000;
}

static void schedule_restart(monitor *m, int64_t ran_ns)
{
    berth_error *err = NULL;
    int64_t delay;

    /* A run that lasted long enough earns a fresh backoff. */
    if (ran_ns >= backoff_reset(m) * BERTH_NSEC_PER_MSEC)
        m->backoff_ms = backoff_initial(m);
    delay = m->backoff_ms;
    m->backoff_ms = delay * 2 > backoff_max(m) ? backoff_max(m) : delay * 2;
    m->next_restart_ns = berth_now_real_ns() + delay * BERTH_NSEC_PER_MSEC;
    if (berth_loop_timer_arm(m->loop, &m->restart_timer,
                             berth_now_mono_ns() + delay * BERTH_NSEC_PER_MSEC, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "arm restart timer");
        berth_error_free(&err);
        m->exit_status = 1;
        finish(m, PHASE_EXITED);
        return;
    }
    berth_info("restarting in %" PRId64 " ms (restart %u)", delay, m->restart_count + 1);
    set_phase(m, PHASE_BACKOFF);
}

static bool should_restart(const monitor *m, int exit_code)
{
    switch (m->plan->spec->restart_policy) {
    case RESTART_ALWAYS:
        return true;
    case RESTART_ON_FAILURE:
        return exit_code != 0;
    default:
        return false;
    }
}

static void on_exit_of_container(monitor *m)
{
    ExitRecord rec = EXIT_RECORD_INIT;
    berth_error *err = NULL;
    berth_exit ex;
    int r;

    /* Every writer is gone with the pid namespace: read the pipes dry. */
    for (int i = 0; i < 2; i++)
        if (m->out[i].io.fd >= 0) {
            drain(&m->out[i], 0);
            close_pipe(m, &m->out[i]);
        }
    probe_stop(m);
    r = berth_container_wait(m->c, false, &ex, &err);
    berth_loop_remove(m->loop, &m->pid_io);
    berth_loop_timer_cancel(m->loop, &m->grace_timer);
    if (r < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "wait for the container");
        berth_error_free(&err);
        memset(&ex, 0, sizeof(ex));
        ex.exit_code = 255;
    }
    rec.exit_code = ex.exit_code;
    rec.signal = ex.signal;
    rec.oom_killed = ex.oom_killed;
    rec.started_unix_ns = ex.started_ns;
    rec.finished_unix_ns = ex.finished_ns;
    rec.restart_count = m->restart_count;
    rec.stopped = m->stopping;
    rec.reason = ex.oom_killed ? "OOMKilled" : m->probe.unhealthy_kill ? "Unhealthy" : "";
    record_exit(m, &rec);
    berth_info("container exited: code %d, signal %d%s", ex.exit_code, ex.signal,
               ex.oom_killed ? ", OOM-killed" : "");
    /* Nothing of the run survives it: cgroup, overlay layer. */
    if (berth_container_destroy(m->c, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "clean up");
        berth_error_free(&err);
    }
    berth_container_free(m->c);
    m->c = NULL;
    /* A run ended for failing its probe counts as failed, whatever its
     * exit code (as Kubernetes restarts it). */
    if (!m->stopping &&
        should_restart(m, m->probe.unhealthy_kill && ex.exit_code == 0 ? 1 : ex.exit_code)) {
        schedule_restart(m, ex.finished_ns - ex.started_ns);
        return;
    }
    finish(m, PHASE_EXITED);
}

static void on_pidfd(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, pid_io);

    (void)events;
    on_exit_of_container(m);
}

static int open_pipe(monitor *m, int stream, int *ret_write_end, berth_error **err)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return berth_error_errno(err, "pipe");
    /* Room for bursts; the container only ever blocks when the disk does. */
    fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
    /* The container's end must be blocking, as programs expect. */
    fcntl(p[1], F_SETFL, 0);
    m->out[stream].m = m;
    m->out[stream].stream = (berth_crilog_stream)stream;
    if (berth_loop_add(m->loop, &m->out[stream].io, p[0], EPOLLIN, on_output, err) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    *ret_write_end = p[1];
    return 0;
}

/* Create the container. On failure *err says why and nothing is left. */
static int start_container(monitor *m, berth_error **err)
{
    berth_create_opts opts = { .stdio = { -1, -1, -1 } };
    _cleanup_free_ char *state_dir = NULL;
    int w[2] = { -1, -1 }, r = -1;

    set_phase(m, PHASE_STARTING);
    if (asprintf(&state_dir, "/proc/self/fd/%d", m->dirfd) < 0)
        return berth_error_make(err, ENOMEM, "state dir");
    /* The runtime keeps the path: resolve it now. */
    {
        char real[4096];
        ssize_t n = readlink(state_dir, real, sizeof(real) - 1);

        if (n < 0)
            return berth_error_errno(err, "resolve the state directory");
        real[n] = '\0';
        free(state_dir);
        state_dir = strdup(real);
        if (!state_dir)
            return berth_error_make(err, ENOMEM, "state dir");
    }
    opts.state_dir = state_dir;
    if (open_pipe(m, BERTH_CRILOG_STDOUT, &w[0], err) < 0 ||
        open_pipe(m, BERTH_CRILOG_STDERR, &w[1], err) < 0)
        goto out;
    opts.stdio[1] = w[0];
    opts.stdio[2] = w[1];
    if (berth_container_create(m->rt, m->plan->spec, &opts, &m->c, err) < 0)
        goto out;
    if (berth_loop_add(m->loop, &m->pid_io, berth_container_pidfd(m->c), EPOLLIN, on_pidfd, err) <
        0) {
        berth_container_destroy(m->c, NULL);
        berth_container_free(m->c);
        m->c = NULL;
        goto out;
    }
    m->reason[0] = '\0';
    probe_start(m);
    set_phase(m, PHASE_RUNNING);
    berth_info("container %s running, pid %d", m->plan->spec->id, (int)berth_container_pid(m->c));
    r = 0;
out:
    for (int i = 0; i < 2; i++)
        if (w[i] >= 0)
            close(w[i]);
    if (r < 0)
        for (int i = 0; i < 2; i++)
            close_pipe(m, &m->out[i]);
    return r;
}

static void on_restart_timer(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, restart_timer);
    berth_error *err = NULL;

    m->restart_count++;
    if (start_container(m, &err) == 0)
        return;
    /* A failed restart counts as a failed run: back off and retry. */
    {
        ExitRecord rec = EXIT_RECORD_INIT;

        snprintf(m->reason, sizeof(m->reason), "%s", err->msg);
        berth_log_error(BERTH_LOG_ERROR, err, "restart");
        berth_error_free(&err);
        rec.exit_code = 128;
        rec.finished_unix_ns = berth_now_real_ns();
        rec.restart_count = m->restart_count;
        rec.reason = m->reason;
        record_exit(m, &rec);
    }
    schedule_restart(m, 0);
}

/* --- liveness probe ------------------------------------------------------------- */

static const Probe *probe_spec(const monitor *m)
{
    return m->plan->spec->liveness_probe;
}

static int64_t probe_ms(int64_t v, int64_t dflt)
{
    return v > 0 ? v : dflt;
}

static void request_restart_unhealthy(monitor *m);

/* The probe in flight is over: forget it. */
static void probe_reset(monitor *m)
{
    berth_loop_timer_cancel(m->loop, &m->probe.timeout);
    if (m->probe.io.fd >= 0) {
        int fd = m->probe.io.fd;

        berth_loop_remove(m->loop, &m->probe.io);
        close(fd);
    }
    if (m->probe.pid > 0) {
        /* SIGTERM: the exec intermediary kills the command and reaps it,
         * leaving no zombie to a container init that may not reap. */
        kill(m->probe.pid, SIGTERM);
        berth_waitpid(m->probe.pid, NULL, 0);
        m->probe.pid = 0;
    }
}

static void probe_schedule(monitor *m, int64_t delay_ms)
{
    berth_error *err = NULL;

    if (berth_loop_timer_arm(m->loop, &m->probe.period,
                             berth_now_mono_ns() + delay_ms * BERTH_NSEC_PER_MSEC, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "arm probe timer");
        berth_error_free(&err);
    }
}

static void probe_done(monitor *m, bool ok, const char *message)
{
    const Probe *p = probe_spec(m);
    int before = m->probe.health;
    uint32_t before_failures = m->probe.failures;

    probe_reset(m);
    if (ok) {
        m->probe.failures = 0;
        m->probe.successes++;
        if (m->probe.successes >= (uint32_t)probe_ms(p->success_threshold, 1))
            m->probe.health = HEALTH_HEALTHY;
    } else {
        m->probe.successes = 0;
        m->probe.failures++;
        snprintf(m->probe.message, sizeof(m->probe.message), "%s", message);
        berth_info("liveness probe failed (%u in a row): %s", m->probe.failures, message);
        if (m->probe.failures >= (uint32_t)probe_ms(p->failure_threshold, 3))
            m->probe.health = HEALTH_UNHEALTHY;
    }
    if (m->probe.health != before || m->probe.failures != before_failures)
        save_state(m);
    if (m->probe.health == HEALTH_UNHEALTHY && !m->probe.unhealthy_kill) {
        request_restart_unhealthy(m);
        return;
    }
    probe_schedule(m, probe_ms(p->period_ms, 10000));
}

static void on_probe_exec_exit(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, probe.io);
    char msg[64];
    int status = 0;

    (void)events;
    if (berth_waitpid(m->probe.pid, &status, 0) != m->probe.pid)
        status = 0xff00;
    m->probe.pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        probe_done(m, true, "");
        return;
    }
    if (WIFEXITED(status))
        snprintf(msg, sizeof(msg), "command exited with %d", WEXITSTATUS(status));
    else
        snprintf(msg, sizeof(msg), "command killed by signal %d", WTERMSIG(status));
    probe_done(m, false, msg);
}

static void on_probe_tcp(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, probe.io);
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    char msg[128];

    (void)events;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == 0) {
        probe_done(m, true, "");
        return;
    }
    snprintf(msg, sizeof(msg), "connect to port %u: %s", probe_spec(m)->tcp->port, strerror(soerr));
    probe_done(m, false, msg);
}

static void on_probe_timeout(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, probe.timeout);
    char msg[64];

    snprintf(msg, sizeof(msg), "timed out after %lld ms",
             (long long)probe_ms(probe_spec(m)->timeout_ms, 1000));
    probe_done(m, false, msg);
}

/* A socket of the container's network namespace: make it there, come back. */
static int container_socket(monitor *m, berth_error **err)
{
    int fd;

    if (setns(berth_container_pidfd(m->c), CLONE_NEWNET) < 0)
        return berth_error_errno(err, "enter the container's network namespace");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        berth_error_errno(err, "socket");
    if (setns(m->self_netns, CLONE_NEWNET) < 0) {
        /* Stuck in the container's network: better to die than to go on. */
        berth_err("cannot return to the host network namespace: %s", strerror(errno));
        abort();
    }
    return fd;
}

static void on_probe_period(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, probe.period);
    const Probe *p = probe_spec(m);
    berth_error *err = NULL;
    char msg[300];

    if (!m->c || m->stopping)
        return;
    if (p->action_case == PROBE_ACTION_EXEC) {
        pid_t pid;
        int pidfd;

        if (berth_container_exec(m->c, m->plan->spec, p->exec->n_command, p->exec->command, NULL,
                                 &pid, &err) < 0)
            goto failed;
        m->probe.pid = pid;
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0 ||
            berth_loop_add(m->loop, &m->probe.io, pidfd, EPOLLIN, on_probe_exec_exit, &err) < 0) {
            if (pidfd >= 0)
                close(pidfd);
            else
                berth_error_errno(&err, "pidfd_open");
            goto failed;
        }
    } else {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port = htons((uint16_t)p->tcp->port) };
        int fd = container_socket(m, &err);

        if (fd < 0)
            goto failed;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
            snprintf(msg, sizeof(msg), "connect to port %u: %s", p->tcp->port, strerror(errno));
            close(fd);
            probe_done(m, false, msg);
            return;
        }
        if (berth_loop_add(m->loop, &m->probe.io, fd, EPOLLOUT, on_probe_tcp, &err) < 0) {
            close(fd);
            goto failed;
        }
    }
    if (berth_loop_timer_arm(
            m->loop, &m->probe.timeout,
            berth_now_mono_ns() + probe_ms(p->timeout_ms, 1000) * BERTH_NSEC_PER_MSEC, &err) < 0)
        goto failed;
    return;
failed:
    snprintf(msg, sizeof(msg), "%s", err ? err->msg : "probe failed");
    berth_error_free(&err);
    probe_done(m, false, msg);
}

static void probe_start(monitor *m)
{
    m->probe.failures = m->probe.successes = 0;
    m->probe.unhealthy_kill = false;
    m->probe.message[0] = '\0';
    if (!probe_spec(m)) {
        m->probe.health = HEALTH_NONE;
        return;
    }
    m->probe.health = HEALTH_UNKNOWN;
    probe_schedule(m, probe_spec(m)->initial_delay_ms);
}

static void probe_stop(monitor *m)
{
    berth_loop_timer_cancel(m->loop, &m->probe.period);
    probe_reset(m);
}

/* --- stop ---------------------------------------------------------------------- */

static void on_grace_timer(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, grace_timer);
    berth_error *err = NULL;

    if (!m->c)
        return;
    berth_info("grace period over: killing everything in the container");
    if (berth_container_kill_all(m->c, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "kill");
        berth_error_free(&err);
    }
}

static void request_stop(monitor *m, int64_t grace_ms)
{
    berth_error *err = NULL;
    int sig = berth_spec_stop_signal(m->plan->spec);

    if (m->stopping)
        return;
    m->stopping = true;
    if (grace_ms < 0)
        grace_ms = berth_spec_stop_grace_ms(m->plan->spec);
    berth_info("stop requested (signal %d, grace %" PRId64 " ms)", sig, grace_ms);
    if (!m->c) {
        /* Between runs: there is nothing to stop, only the restart. */
        berth_loop_timer_cancel(m->loop, &m->restart_timer);
        finish(m, PHASE_EXITED);
        return;
    }
    probe_stop(m);
    set_phase(m, PHASE_STOPPING);
    if (berth_container_signal(m->c, sig, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "stop signal");
        berth_error_free(&err);
    }
    if (berth_loop_timer_arm(m->loop, &m->grace_timer,
                             berth_now_mono_ns() + grace_ms * BERTH_NSEC_PER_MSEC, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "arm grace timer");
        berth_error_free(&err);
        on_grace_timer(&m->grace_timer);
    }
}

/* The liveness probe gave up on this run: end it like a stop (signal,
 * grace, SIGKILL), then restart as the policy says for a failed run. */
static void request_restart_unhealthy(monitor *m)
{
    berth_error *err = NULL;

    if (!m->c || m->stopping)
        return;
    m->probe.unhealthy_kill = true;
    berth_warn("liveness probe failed %u times: restarting the container", m->probe.failures);
    if (berth_container_signal(m->c, berth_spec_stop_signal(m->plan->spec), &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "stop signal");
        berth_error_free(&err);
    }
    if (berth_loop_timer_arm(m->loop, &m->grace_timer,
                             berth_now_mono_ns() +
                                 berth_spec_stop_grace_ms(m->plan->spec) * BERTH_NSEC_PER_MSEC,
                             &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "arm grace timer");
        berth_error_free(&err);
        on_grace_timer(&m->grace_timer);
    }
}

static void on_signal(berth_loop_signal *s, int signo)
{
    monitor *m = signo == SIGTERM ? berth_container_of(s, monitor, sig_term)
                                  : berth_container_of(s, monitor, sig_int);

    request_stop(m, -1);
}

static void on_control(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, control_io);
    berth_error *err = NULL;
    int64_t grace_ms;
    char buf[256];
    ssize_t n;

    (void)events;
    n = read(io->fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *line = buf, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        if (!*line)
            continue;
        if (berth_monitor_control_parse(line, &grace_ms, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "control fifo");
            berth_error_free(&err);
            continue;
        }
        request_stop(m, grace_ms);
    }
}

/* --- setup ------------------------------------------------------------------------ */

static int setup(monitor *m, const char *dir, berth_error **err)
{
    berth_runtime_config cfg = { 0 };
    int logfd;

    m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->dirfd < 0)
        return berth_error_errno(err, "open state directory %s", dir);
    if (berth_monitor_lock(m->dirfd, &m->lock_fd, err) < 0)
        return berth_error_prefix(err, "%s", dir);
    /* Our own diagnostics go beside the container's log, not to whoever
     * started us. */
    logfd = openat(m->dirfd, "monitor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (logfd >= 0) {
        dup2(logfd, 1);
        dup2(logfd, 2);
        close(logfd);
    }
    berth_log_setup("berth-monitor", BERTH_LOG_INFO, BERTH_LOG_TEXT, 2);
    if (berth_statedir_read_plan(m->dirfd, &m->plan, err) < 0)
        return -1;
    if (!m->plan->spec)
        return berth_error_set(err, EINVAL, "plan.pb has no spec");
    if (berth_spec_validate(m->plan->spec, err) < 0)
        return berth_error_prefix(err, "plan.pb");
    if (mkfifoat(m->dirfd, BERTH_STATEDIR_CONTROL, 0600) < 0 && errno != EEXIST)
        return berth_error_errno(err, "mkfifo %s", BERTH_STATEDIR_CONTROL);
    /* Read-write: never EOF when a writer closes, and no open() block. */
    m->control_fd = openat(m->dirfd, BERTH_STATEDIR_CONTROL, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (m->control_fd < 0)
        return berth_error_errno(err, "open %s", BERTH_STATEDIR_CONTROL);
    if (berth_loop_new(&m->loop, err) < 0 ||
        berth_loop_add(m->loop, &m->control_io, m->control_fd, EPOLLIN, on_control, err) < 0 ||
        berth_loop_add_signal(m->loop, &m->sig_term, SIGTERM, on_signal, err) < 0 ||
        berth_loop_add_signal(m->loop, &m->sig_int, SIGINT, on_signal, err) < 0)
        return -1;
    berth_loop_timer_init(&m->grace_timer, on_grace_timer);
    berth_loop_timer_init(&m->restart_timer, on_restart_timer);
    berth_loop_timer_init(&m->probe.period, on_probe_period);
    berth_loop_timer_init(&m->probe.timeout, on_probe_timeout);
    if (m->plan->spec->liveness_probe &&
        m->plan->spec->liveness_probe->action_case == PROBE_ACTION_TCP) {
        m->self_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (m->self_netns < 0)
            return berth_error_errno(err, "open /proc/self/ns/net");
    }
    signal(SIGPIPE, SIG_IGN);
    cfg.cgroup_parent = *m->plan->cgroup_parent ? m->plan->cgroup_parent : NULL;
    cfg.image_store = *m->plan->image_store ? m->plan->image_store : NULL;
    if (berth_runtime_new(&cfg, &m->rt, err) < 0)
        return -1;
    if (berth_crilog_open(m->dirfd, BERTH_STATEDIR_LOG, berth_spec_log_max_bytes(m->plan->spec),
                          berth_spec_log_max_files(m->plan->spec), &m->log, err) < 0)
        return -1;
    m->backoff_ms = backoff_initial(m);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: berth-monitor [--ready-fd FD] STATE_DIR\n");
}

int main(int argc, char **argv)
{
    monitor m = { .dirfd = -1, .lock_fd = -1, .ready_fd = -1, .control_fd = -1, .self_netns = -1 };
    berth_error *err = NULL;
    const char *dir = NULL;

    m.out[0].io.fd = m.out[1].io.fd = m.pid_io.fd = m.control_io.fd = m.probe.io.fd = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc) {
            m.ready_fd = atoi(argv[++i]);
        } else if (argv[i][0] == '-') {
            usage();
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (!dir) {
        usage();
        return 2;
    }
    /* Nothing of the starter's but the answer fd. */
    if (m.ready_fd >= 3) {
        fcntl(m.ready_fd, F_SETFD, FD_CLOEXEC);
        syscall(SYS_close_range, 3, m.ready_fd - 1, 0);
        syscall(SYS_close_range, m.ready_fd + 1, ~0U, 0);
    } else {
        m.ready_fd = -1;
        syscall(SYS_close_range, 3, ~0U, 0);
    }

    if (setup(&m, dir, &err) < 0 || start_container(&m, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "start");
        /* The records first: whoever gets the answer finds them. */
        if (m.dirfd >= 0 && m.lock_fd >= 0) {
            ExitRecord rec = EXIT_RECORD_INIT;

            snprintf(m.reason, sizeof(m.reason), "%s", err->msg);
            rec.reason = m.reason;
            rec.finished_unix_ns = berth_now_real_ns();
            if (m.plan)
                record_exit(&m, &rec);
            m.phase = PHASE_FAILED;
            save_state(&m);
        }
        answer(&m, "error %s", err->msg);
        berth_error_free(&err);
        return 1;
    }
    answer(&m, "running %d", (int)berth_container_pid(m.c));
    /* The start's temporaries are freed; give their pages back, since
     * a monitor lives as long as its container and there is one per
     * container. */
    malloc_trim(0);
    if (berth_loop_run(m.loop, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "event loop");
        berth_error_free(&err);
        m.exit_status = 1;
    }
    if (berth_crilog_dropped(m.log))
        berth_warn("dropped %" PRIu64 " bytes of container output", berth_crilog_dropped(m.log));
    berth_crilog_free(m.log);
    berth_runtime_free(m.rt);
    container_plan_free_unpacked(m.plan, NULL);
    berth_loop_free(m.loop);
    return m.exit_status;
}
