/* The container's probes, Kubernetes' three: startup (while it has not
 * succeeded the others wait; failure_threshold failures end the run),
 * liveness (failure_threshold failures in a row end the run:
 * run_end_unhealthy) and readiness (only says whether the container is
 * ready). Each is an exec (a command run inside the container, its exit
 * followed through a pidfd), a tcp connect or an HTTP GET (a non-blocking
 * socket made in the container's network namespace: a small request out,
 * the status line in, no HTTP library), every period, each with a
 * timeout. Nothing waits in the loop: a probe command given up on gets
 * SIGTERM (its exec intermediary then kills the command and reaps it) and
 * is reaped when its pidfd says it has exited. */
#include <arpa/inet.h>
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

static const char *const kind_names[PROBE_KINDS] = { "startup", "liveness", "readiness",
                                                     "postStart hook", "preStop hook" };
#define POST_START_TIMEOUT_MS (120 * 1000)

static const Probe *probe_spec_of(const monitor *m, probe_kind k)
{
    const ContainerSpec *s = m->plan->spec;

    if (k == PROBE_POST_START)
        return s->lifecycle ? s->lifecycle->post_start : NULL;
    if (k == PROBE_PRE_STOP)
        return s->lifecycle ? s->lifecycle->pre_stop : NULL;
    return k == PROBE_STARTUP    ? s->startup_probe
           : k == PROBE_LIVENESS ? s->liveness_probe
                                 : s->readiness_probe;
}

static const Probe *probe_spec(const probe *pr)
{
    return probe_spec_of(pr->m, pr->kind);
}

static int64_t or_default(int64_t v, int64_t dflt)
{
    return v > 0 ? v : dflt;
}

/* --- reaping probe commands given up on --------------------------------------------- */

static void reaper_free(monitor *m, probe_reaper *r)
{
    for (probe_reaper **p = &m->reapers; *p; p = &(*p)->next)
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
    r->next = m->reapers;
    m->reapers = r;
}

/* Probe commands that could not be watched: reaped if they have exited,
 * SIGKILLed when they outlived a few periods. */
static void reap_stragglers(monitor *m)
{
    for (probe_reaper *r = m->reapers, *next; r; r = next) {
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
static void probe_reset(probe *pr)
{
    monitor *m = pr->m;

    berth_loop_timer_cancel(m->loop, &pr->timeout);
    pr->sleeping = false;
    if (pr->io.fd >= 0) {
        int fd = pr->io.fd;

        berth_loop_remove(m->loop, &pr->io);
        if (!pr->exec)
            close(fd); /* the exec handle owns its fd */
    }
    berth_exec_free(pr->exec);
    pr->exec = NULL;
    if (pr->pid > 0)
        reap_later(m, pr->pid);
    pr->pid = 0;
    free(pr->req);
    pr->req = NULL;
    pr->req_len = pr->req_off = pr->resp_len = 0;
}

static void probe_schedule(probe *pr, int64_t delay_ms)
{
    berth_loop_timer_arm(pr->m->loop, &pr->period,
                         berth_now_mono_ns() + delay_ms * BERTH_NSEC_PER_MSEC);
}

static void start_after_startup(monitor *m);
static void start_probes(monitor *m);

static void probe_done(probe *pr, bool ok, const char *message)
{
    monitor *m = pr->m;
    const Probe *p = probe_spec(pr);
    bool changed = false, passed, failed;

    probe_reset(pr);
    if (pr->kind == PROBE_POST_START || pr->kind == PROBE_PRE_STOP) {
        if (!ok)
            berth_warn("%s failed: %s", kind_names[pr->kind], message);
        if (pr->kind == PROBE_POST_START && ok) {
            /* started now (or once its startup probe passes) */
            m->started = !probe_spec_of(m, PROBE_STARTUP);
            start_probes(m);
            records_save_state(m);
        }
        run_hook_done(m, pr->kind, ok, message);
        return;
    }
    if (ok) {
        changed = pr->failures != 0;
        pr->failures = 0;
        pr->successes++;
    } else {
        pr->successes = 0;
        pr->failures++;
        changed = true;
        snprintf(pr->message, sizeof(pr->message), "%s", message);
        berth_info("%s probe failed (%u in a row): %s", kind_names[pr->kind], pr->failures,
                   message);
    }
    passed = ok &&
             pr->successes >= (uint32_t)or_default(p->success_threshold, DEFAULT_SUCCESS_THRESHOLD);
    failed = !ok &&
             pr->failures >= (uint32_t)or_default(p->failure_threshold, DEFAULT_FAILURE_THRESHOLD);
    switch (pr->kind) {
    case PROBE_STARTUP:
        if (passed) {
            berth_info("startup probe succeeded");
            m->started = true;
            start_after_startup(m);
            records_save_state(m);
            return; /* its work is done for this run */
        }
        break;
    case PROBE_LIVENESS:
        if (passed && m->health != HEALTH_HEALTHY) {
            m->health = HEALTH_HEALTHY;
            changed = true;
        } else if (failed && m->health != HEALTH_UNHEALTHY) {
            m->health = HEALTH_UNHEALTHY;
            changed = true;
        }
        break;
    case PROBE_READINESS:
        if ((passed && !m->ready) || (failed && m->ready)) {
            m->ready = passed;
            berth_info("readiness probe: %s", m->ready ? "ready" : "not ready");
            changed = true;
        }
        break;
    default:
        break;
    }
    if (changed)
        records_save_state(m);
    if (failed && pr->kind != PROBE_READINESS && !m->unhealthy_kill) {
        m->unhealthy_kill = true;
        snprintf(m->reason_unhealthy, sizeof(m->reason_unhealthy), "%s probe failed %u times: %s",
                 kind_names[pr->kind], pr->failures, pr->message);
        run_end_unhealthy(m);
        return;
    }
    probe_schedule(pr, or_default(p->period_ms, DEFAULT_PERIOD_MS));
}

static void on_probe_exec_exit(berth_loop_io *io, uint32_t events)
{
    probe *pr = berth_container_of(io, probe, io);
    char msg[64];
    int status = 0;

    (void)events;
    /* The pidfd is readable: it has exited, the wait does not block. */
    if (berth_waitpid(pr->pid, &status, WNOHANG) != pr->pid)
        status = 0xff00;
    pr->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        probe_done(pr, true, "");
        return;
    }
    if (WIFEXITED(status))
        snprintf(msg, sizeof(msg), "command exited with %d", WEXITSTATUS(status));
    else
        snprintf(msg, sizeof(msg), "command killed by signal %d", WTERMSIG(status));
    probe_done(pr, false, msg);
}

static uint32_t probe_port(const Probe *p)
{
    return p->action_case == PROBE_ACTION_TCP ? p->tcp->port : p->http_get->port;
}

/* http: the status line arrived (or the connection ended first). */
static void on_http_readable(berth_loop_io *io, uint32_t events)
{
    probe *pr = berth_container_of(io, probe, io);
    char msg[160], *sp;
    ssize_t n;
    int code;

    (void)events;
    n = read(io->fd, pr->resp + pr->resp_len, sizeof(pr->resp) - 1 - pr->resp_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        pr->resp_len += (size_t)n;
        pr->resp[pr->resp_len] = '\0';
        /* "HTTP/1.1 200 OK": enough once the code is followed by something */
        if (pr->resp_len < 13 && pr->resp_len < sizeof(pr->resp) - 1)
            return;
    }
    if (n < 0) {
        snprintf(msg, sizeof(msg), "read the answer: %s", strerror(errno));
        probe_done(pr, false, msg);
        return;
    }
    pr->resp[strcspn(pr->resp, "\r\n")] = '\0';
    sp = strchr(pr->resp, ' ');
    if (strncmp(pr->resp, "HTTP/1.", 7) != 0 || !sp || sscanf(sp, " %3d", &code) != 1) {
        for (char *c = pr->resp; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                *c = '?';
        snprintf(msg, sizeof(msg), "not an HTTP answer: '%.40s'", pr->resp);
        probe_done(pr, false, msg);
        return;
    }
    if (code >= 200 && code < 400) {
        probe_done(pr, true, "");
        return;
    }
    snprintf(msg, sizeof(msg), "HTTP probe failed with statuscode: %d", code);
    probe_done(pr, false, msg);
}

/* tcp: connected (or refused); http: connected, then the request out. */
static void on_probe_writable(berth_loop_io *io, uint32_t events)
{
    probe *pr = berth_container_of(io, probe, io);
    const Probe *p = probe_spec(pr);
    berth_error *err = NULL;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    char msg[160];
    ssize_t n;

    (void)events;
    if (pr->req_off == 0) {
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr != 0) {
            snprintf(msg, sizeof(msg), "connect to port %u: %s", probe_port(p), strerror(soerr));
            probe_done(pr, false, msg);
            return;
        }
        if (p->action_case == PROBE_ACTION_TCP) {
            probe_done(pr, true, "");
            return;
        }
    }
    n = send(io->fd, pr->req + pr->req_off, pr->req_len - pr->req_off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        snprintf(msg, sizeof(msg), "send the request: %s", strerror(errno));
        probe_done(pr, false, msg);
        return;
    }
    pr->req_off += (size_t)n;
    if (pr->req_off < pr->req_len)
        return;
    io->fn = on_http_readable;
    if (berth_loop_modify(pr->m->loop, io, EPOLLIN, &err) < 0) {
        snprintf(msg, sizeof(msg), "%s", err->msg);
        berth_error_free(&err);
        probe_done(pr, false, msg);
    }
}

static void on_probe_timeout(berth_loop_timer *t)
{
    probe *pr = berth_container_of(t, probe, timeout);
    char msg[64];

    if (pr->sleeping) {
        probe_done(pr, true, "");
        return;
    }
    snprintf(msg, sizeof(msg), "timed out after %lld ms",
             (long long)(pr->hook_timeout_ms
                             ? pr->hook_timeout_ms
                             : or_default(probe_spec(pr)->timeout_ms, DEFAULT_TIMEOUT_MS)));
    probe_done(pr, false, msg);
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
    probe *pr = berth_container_of(io, probe, io);
    monitor *m = pr->m;
    berth_error *err = NULL;
    char msg[300];
    int pidfd, r;

    (void)events;
    r = berth_exec_finish(pr->exec, &err);
    if (r == 0)
        return;
    if (r < 0)
        goto failed;
    berth_loop_remove(m->loop, &pr->io);
    berth_exec_free(pr->exec);
    pr->exec = NULL;
    pidfd = (int)syscall(SYS_pidfd_open, pr->pid, 0);
    if (pidfd < 0) {
        berth_error_errno(&err, "pidfd_open of the probe command");
        goto failed;
    }
    if (berth_loop_add(m->loop, &pr->io, pidfd, EPOLLIN, on_probe_exec_exit, &err) < 0) {
        close(pidfd);
        goto failed;
    }
    return;
failed:
    snprintf(msg, sizeof(msg), "%s", err->msg);
    berth_error_free(&err);
    probe_done(pr, false, msg);
}

/* Start an exec probe: the command runs inside the container. Nothing
 * waits for it to get going: its exec, then its exit, come through the
 * loop. */
static int start_exec(probe *pr, const Probe *p, berth_error **err)
{
    monitor *m = pr->m;

    /* with the run's environment, its Secrets' variables too (kubelet's) */
    if (berth_container_exec_start(m->c, m->run_spec ? m->run_spec : m->plan->spec,
                                   p->exec->n_command, p->exec->command, NULL, 0, &pr->exec,
                                   err) < 0)
        return -1;
    pr->pid = berth_exec_pid(pr->exec);
    return berth_loop_add(m->loop, &pr->io, berth_exec_fd(pr->exec), EPOLLIN, on_probe_exec_started,
                          err);
}

/* An HTTP/1.1 GET, the connection closed after it, as kubelet sends it. */
static void http_request(probe *pr, const HttpGetAction *h, const char *host)
{
    size_t size = 512 + strlen(h->path);
    char *q;
    int n;

    for (size_t i = 0; i < h->n_headers; i++)
        size += strlen(h->headers[i]->name) + strlen(h->headers[i]->value) + 4;
    q = berth_xmalloc(size);
    n = snprintf(q, size,
                 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: berth-probe/1.0\r\n"
                 "Accept: */*\r\nConnection: close\r\n",
                 *h->path ? h->path : "/", host, h->port);
    for (size_t i = 0; i < h->n_headers; i++)
        n += snprintf(q + n, size - (size_t)n, "%s: %s\r\n", h->headers[i]->name,
                      h->headers[i]->value);
    n += snprintf(q + n, size - (size_t)n, "\r\n");
    pr->req = q;
    pr->req_len = (size_t)n;
    pr->req_off = 0;
    pr->resp_len = 0;
}

/* Start a tcp or http probe: a non-blocking connect in the container's
 * network. 1: refused at once (*msg says so). */
static int start_socket(probe *pr, const Probe *p, char *msg, size_t size, berth_error **err)
{
    const char *host = p->action_case == PROBE_ACTION_HTTP_GET && *p->http_get->host
                           ? p->http_get->host
                           : "127.0.0.1";
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)probe_port(p)) };
    int fd;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return berth_error_set(err, EINVAL, "probe host '%s' is not an IPv4 address", host);
    fd = container_socket(pr->m, err);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        snprintf(msg, size, "connect to port %u: %s", probe_port(p), strerror(errno));
        close(fd);
        return 1;
    }
    if (p->action_case == PROBE_ACTION_HTTP_GET)
        http_request(pr, p->http_get, host);
    if (berth_loop_add(pr->m->loop, &pr->io, fd, EPOLLOUT, on_probe_writable, err) < 0) {
        close(fd);
        return -1;
    }
    return 0;
}

static void on_probe_period(berth_loop_timer *t)
{
    probe *pr = berth_container_of(t, probe, period);
    monitor *m = pr->m;
    const Probe *p = probe_spec(pr);
    berth_error *err = NULL;
    char msg[300] = "";
    int r;

    reap_stragglers(m);
    /* a preStop hook runs while the container stops */
    if (!m->c || m->removal || (m->stopping && pr->kind != PROBE_PRE_STOP))
        return;
    if (p->action_case == PROBE_ACTION_SLEEP) {
        /* a hook's sleep: its end is the timeout, a success */
        pr->sleeping = true;
        berth_loop_timer_arm(m->loop, &pr->timeout,
                             berth_now_mono_ns() + p->sleep->seconds * BERTH_NSEC_PER_SEC);
        return;
    }
    r = p->action_case == PROBE_ACTION_EXEC ? start_exec(pr, p, &err)
                                            : start_socket(pr, p, msg, sizeof(msg), &err);
    if (r != 0) {
        if (r < 0)
            snprintf(msg, sizeof(msg), "%s", err->msg);
        berth_error_free(&err);
        probe_done(pr, false, msg);
        return;
    }
    berth_loop_timer_arm(m->loop, &pr->timeout,
                         berth_now_mono_ns() +
                             (pr->hook_timeout_ms ? pr->hook_timeout_ms
                                                  : or_default(p->timeout_ms, DEFAULT_TIMEOUT_MS)) *
                                 BERTH_NSEC_PER_MSEC);
}

bool liveness_hook(monitor *m, probe_kind kind, int64_t timeout_ms)
{
    probe *pr = &m->probes[kind];
    const Probe *p = probe_spec_of(m, kind);

    if (!p)
        return false;
    berth_info("running the %s", kind_names[kind]);
    pr->hook_timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : timeout_ms > 0 ? timeout_ms : 1;
    berth_loop_timer_arm(m->loop, &pr->period, berth_now_mono_ns());
    return true;
}

/* --- the probes of a run ----------------------------------------------------------------- */

void liveness_init(monitor *m)
{
    for (int k = 0; k < PROBE_KINDS; k++) {
        probe *pr = &m->probes[k];

        pr->m = m;
        pr->kind = (probe_kind)k;
        pr->io.fd = -1;
        berth_loop_timer_init(&pr->period, on_probe_period);
        berth_loop_timer_init(&pr->timeout, on_probe_timeout);
    }
}

static void probe_begin(monitor *m, probe_kind k)
{
    probe *pr = &m->probes[k];

    pr->failures = pr->successes = 0;
    pr->message[0] = '\0';
    if (probe_spec_of(m, k))
        probe_schedule(pr, probe_spec_of(m, k)->initial_delay_ms);
}

/* Once started: liveness and readiness begin. */
static void start_after_startup(monitor *m)
{
    probe_begin(m, PROBE_LIVENESS);
    probe_begin(m, PROBE_READINESS);
    if (!probe_spec_of(m, PROBE_READINESS))
        m->ready = true;
}

/* The probes of a run (after its postStart hook, when it has one). */
static void start_probes(monitor *m)
{
    if (m->started)
        start_after_startup(m);
    else
        probe_begin(m, PROBE_STARTUP);
}

void liveness_start(monitor *m)
{
    m->unhealthy_kill = false;
    m->reason_unhealthy[0] = '\0';
    m->health = probe_spec_of(m, PROBE_LIVENESS) ? HEALTH_UNKNOWN : HEALTH_NONE;
    m->ready = false;
    m->started = !probe_spec_of(m, PROBE_STARTUP);
    for (int k = 0; k < PROBE_KINDS; k++)
        m->probes[k].failures = m->probes[k].successes = 0, m->probes[k].message[0] = '\0';
    /* Kubernetes: the probes wait for the postStart hook, and the
     * container is not started before it is done */
    if (liveness_hook(m, PROBE_POST_START, POST_START_TIMEOUT_MS))
        m->started = false;
    else
        start_probes(m);
}

void liveness_stop(monitor *m)
{
    for (int k = 0; k < PROBE_KINDS; k++) {
        berth_loop_timer_cancel(m->loop, &m->probes[k].period);
        probe_reset(&m->probes[k]);
    }
    m->ready = false;
}

/* At exit: what is not reaped yet is left to init. */
void liveness_free(monitor *m)
{
    liveness_stop(m);
    while (m->reapers)
        reaper_free(m, m->reapers);
}

bool liveness_needs_netns(const monitor *m)
{
    for (int k = 0; k < PROBE_KINDS; k++) {
        const Probe *p = probe_spec_of(m, (probe_kind)k);

        if (p && p->action_case != PROBE_ACTION_EXEC && p->action_case != PROBE_ACTION_SLEEP)
            return true;
    }
    return false;
}

void liveness_report(monitor *m, uint32_t *ret_failures, const char **ret_message)
{
    const probe *pr = &m->probes[PROBE_LIVENESS];

    if (!m->started)
        pr = &m->probes[PROBE_STARTUP];
    else if (!probe_spec_of(m, PROBE_LIVENESS))
        pr = &m->probes[PROBE_READINESS];
    *ret_failures = pr->failures;
    *ret_message = pr->message;
}
