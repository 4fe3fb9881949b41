/* The liveness probe: an exec (a command run inside the container, its
 * exit followed through a pidfd) or a tcp connect (a non-blocking socket
 * made in the container's network namespace), every period, each with a
 * timeout. Nothing waits in the loop: a probe command given up on gets
 * SIGTERM (its exec intermediary then kills the command and reaps it) and
 * is reaped when its pidfd says it has exited. After failure_threshold
 * failures in a row the run is ended (run_end_unhealthy). */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "monitor.h"

#define DEFAULT_PERIOD_MS            10000
#define DEFAULT_TIMEOUT_MS           1000
#define DEFAULT_SUCCESS_THRESHOLD    1
#define DEFAULT_FAILURE_THRESHOLD    3
#define REAPER_SIGKILL_AFTER_PERIODS 3

struct probe_reaper {
    berth_loop_io io; /* the pidfd; -1 when none could be had */
    monitor *m;
    pid_t pid;
    int periods; /* probe periods it has outlived */
    probe_reaper *next;
};

static const Probe *probe_spec(const monitor *m)
{
    return m->plan->spec->liveness_probe;
}

static int64_t or_default(int64_t v, int64_t dflt)
{
    return v > 0 ? v : dflt;
}

/* --- reaping probe commands given up on --------------------------------------------- */

static void reaper_free(monitor *m, probe_reaper *r)
{
    for (probe_reaper **p = &m->probe.reapers; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    if (r->io.fd >= 0) {
        int fd = r->io.fd;

        berth_loop_remove(m->loop, &r->io);
        close(fd);
    }
    free(r);
}

static void on_reaper_exit(berth_loop_io *io, uint32_t events)
{
    probe_reaper *r = berth_container_of(io, probe_reaper, io);

    (void)events;
    berth_waitpid(r->pid, NULL, WNOHANG);
    reaper_free(r->m, r);
}

/* Hand the probe command in flight over to a reaper: SIGTERM now, reaped
 * when its pidfd (of our own unreaped child: never a recycled pid) says it
 * has exited. */
static void reap_later(monitor *m, pid_t pid)
{
    probe_reaper *r = berth_xcalloc(1, sizeof(*r));
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    berth_error *err = NULL;

    r->m = m;
    r->pid = pid;
    r->io.fd = -1;
    kill(pid, SIGTERM);
    if (pidfd < 0 || berth_loop_add(m->loop, &r->io, pidfd, EPOLLIN, on_reaper_exit, &err) < 0) {
        /* Then it is looked for at each period (reap_stragglers). */
        if (pidfd < 0)
            berth_error_errno(&err, "pidfd_open");
        berth_log_error(BERTH_LOG_WARN, err, "liveness probe: watch pid %d", (int)pid);
        berth_error_free(&err);
        if (pidfd >= 0)
            close(pidfd);
    }
    r->next = m->probe.reapers;
    m->probe.reapers = r;
}

/* Probe commands that could not be watched: reaped if they have exited,
 * SIGKILLed when they outlived a few periods. */
static void reap_stragglers(monitor *m)
{
    for (probe_reaper *r = m->probe.reapers, *next; r; r = next) {
        next = r->next;
        if (r->io.fd >= 0)
            continue;
        if (berth_waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            reaper_free(m, r);
            continue;
        }
        if (++r->periods == REAPER_SIGKILL_AFTER_PERIODS)
            kill(r->pid, SIGKILL);
    }
}

/* --- one probe -------------------------------------------------------------------------- */

/* The probe in flight is over: forget it (a command not reaped yet is
 * handed to a reaper). */
static void probe_reset(monitor *m)
{
    berth_loop_timer_cancel(m->loop, &m->probe.timeout);
    if (m->probe.io.fd >= 0) {
        int fd = m->probe.io.fd;

        berth_loop_remove(m->loop, &m->probe.io);
        if (!m->probe.exec)
            close(fd); /* the exec handle owns its fd */
    }
    berth_exec_free(m->probe.exec);
    m->probe.exec = NULL;
    if (m->probe.pid > 0)
        reap_later(m, m->probe.pid);
    m->probe.pid = 0;
}

static void probe_schedule(monitor *m, int64_t delay_ms)
{
    berth_loop_timer_arm(m->loop, &m->probe.period,
                         berth_now_mono_ns() + delay_ms * BERTH_NSEC_PER_MSEC);
}

static void probe_done(monitor *m, bool ok, const char *message)
{
    const Probe *p = probe_spec(m);
    HealthState before = m->probe.health;
    uint32_t before_failures = m->probe.failures;

    probe_reset(m);
    if (ok) {
        m->probe.failures = 0;
        m->probe.successes++;
        if (m->probe.successes >=
            (uint32_t)or_default(p->success_threshold, DEFAULT_SUCCESS_THRESHOLD))
            m->probe.health = HEALTH_HEALTHY;
    } else {
        m->probe.successes = 0;
        m->probe.failures++;
        snprintf(m->probe.message, sizeof(m->probe.message), "%s", message);
        berth_info("liveness probe failed (%u in a row): %s", m->probe.failures, message);
        if (m->probe.failures >=
            (uint32_t)or_default(p->failure_threshold, DEFAULT_FAILURE_THRESHOLD))
            m->probe.health = HEALTH_UNHEALTHY;
    }
    if (m->probe.health != before || m->probe.failures != before_failures)
        records_save_state(m);
    if (m->probe.health == HEALTH_UNHEALTHY && !m->probe.unhealthy_kill) {
        m->probe.unhealthy_kill = true;
        run_end_unhealthy(m);
        return;
    }
    probe_schedule(m, or_default(p->period_ms, DEFAULT_PERIOD_MS));
}

static void on_probe_exec_exit(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, probe.io);
    char msg[64];
    int status = 0;

    (void)events;
    /* The pidfd is readable: it has exited, the wait does not block. */
    if (berth_waitpid(m->probe.pid, &status, WNOHANG) != m->probe.pid)
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
             (long long)or_default(probe_spec(m)->timeout_ms, DEFAULT_TIMEOUT_MS));
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

/* The probe command was exec'd (or failed to be): follow it to its exit
 * through a pidfd. */
static void on_probe_exec_started(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, probe.io);
    berth_error *err = NULL;
    char msg[300];
    int pidfd, r;

    (void)events;
    r = berth_exec_finish(m->probe.exec, &err);
    if (r == 0)
        return;
    if (r < 0)
        goto failed;
    berth_loop_remove(m->loop, &m->probe.io);
    berth_exec_free(m->probe.exec);
    m->probe.exec = NULL;
    pidfd = (int)syscall(SYS_pidfd_open, m->probe.pid, 0);
    if (pidfd < 0) {
        berth_error_errno(&err, "pidfd_open of the probe command");
        goto failed;
    }
    if (berth_loop_add(m->loop, &m->probe.io, pidfd, EPOLLIN, on_probe_exec_exit, &err) < 0) {
        close(pidfd);
        goto failed;
    }
    return;
failed:
    snprintf(msg, sizeof(msg), "%s", err->msg);
    berth_error_free(&err);
    probe_done(m, false, msg);
}

/* Start an exec probe: the command runs inside the container. Nothing
 * waits for it to get going: its exec, then its exit, come through the
 * loop. */
static int start_exec(monitor *m, const Probe *p, berth_error **err)
{
    if (berth_container_exec_start(m->c, m->plan->spec, p->exec->n_command, p->exec->command, NULL,
                                   &m->probe.exec, err) < 0)
        return -1;
    m->probe.pid = berth_exec_pid(m->probe.exec);
    return berth_loop_add(m->loop, &m->probe.io, berth_exec_fd(m->probe.exec), EPOLLIN,
                          on_probe_exec_started, err);
}

/* Start a tcp probe: a non-blocking connect to the port on the
 * container's loopback. 1: refused at once (*msg says so). */
static int start_tcp(monitor *m, const Probe *p, char *msg, size_t size, berth_error **err)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)p->tcp->port) };
    int fd = container_socket(m, err);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        snprintf(msg, size, "connect to port %u: %s", p->tcp->port, strerror(errno));
        close(fd);
        return 1;
    }
    if (berth_loop_add(m->loop, &m->probe.io, fd, EPOLLOUT, on_probe_tcp, err) < 0) {
        close(fd);
        return -1;
    }
    return 0;
}

static void on_probe_period(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, probe.period);
    const Probe *p = probe_spec(m);
    berth_error *err = NULL;
    char msg[300] = "";
    int r;

    reap_stragglers(m);
    if (!m->c || m->removal || m->stopping)
        return;
    r = p->action_case == PROBE_ACTION_EXEC ? start_exec(m, p, &err)
                                            : start_tcp(m, p, msg, sizeof(msg), &err);
    if (r != 0) {
        if (r < 0)
            snprintf(msg, sizeof(msg), "%s", err->msg);
        berth_error_free(&err);
        probe_done(m, false, msg);
        return;
    }
    berth_loop_timer_arm(m->loop, &m->probe.timeout,
                         berth_now_mono_ns() +
                             or_default(p->timeout_ms, DEFAULT_TIMEOUT_MS) * BERTH_NSEC_PER_MSEC);
}

/* --- the probe of a run ----------------------------------------------------------------- */

void liveness_init(monitor *m)
{
    m->probe.io.fd = -1;
    berth_loop_timer_init(&m->probe.period, on_probe_period);
    berth_loop_timer_init(&m->probe.timeout, on_probe_timeout);
}

void liveness_start(monitor *m)
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

void liveness_stop(monitor *m)
{
    berth_loop_timer_cancel(m->loop, &m->probe.period);
    probe_reset(m);
}

/* At exit: what is not reaped yet is left to init. */
void liveness_free(monitor *m)
{
    liveness_stop(m);
    while (m->probe.reapers)
        reaper_free(m, m->probe.reapers);
}
