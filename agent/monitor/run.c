/* A run's life, all from the loop: create the container (lib/runtime),
 * follow its init through a pidfd, record how it ended, remove what it
 * left (a removal driven by loop timers: runtime/removal.h), then restart
 * it after a backoff or finish. A stop (the control fifo, SIGTERM, SIGINT)
 * sends the stop signal and, after the grace period, SIGKILL to everything
 * in its cgroup. */
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdint.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "monitor.h"
#include "pb/pb.h"
#include "spec/spec.h"
#include "statedir/statedir.h"

#define BACKOFF_INITIAL_MS     10000
#define BACKOFF_MAX_MS         300000
#define BACKOFF_RESET_AFTER_MS 600000
/* What a run leaves must be gone within this (killed processes take
 * milliseconds; one stuck in the kernel holds it up). */
#define REMOVAL_TIMEOUT_MS 10000
/* The exit code recorded for a run that could not be started. */
#define EXIT_CODE_START_FAILED 128
/* The termination message file, in the state directory. */
#define TERMINATION_LOG "termination-log"

/* --- ending ------------------------------------------------------------------------------ */

/* Nothing more to do: the final phase, and the loop ends. */
static void finish(monitor *m, MonitorPhase phase)
{
    records_set_phase(m, phase);
    m->finished = true;
    berth_loop_stop(m->loop);
}

static int64_t backoff_initial(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->initial_ms > 0 ? b->initial_ms : BACKOFF_INITIAL_MS;
}

static int64_t backoff_max(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->max_ms > 0 ? b->max_ms : BACKOFF_MAX_MS;
}

static int64_t backoff_reset(const monitor *m)
{
    const Backoff *b = m->plan->spec->restart_backoff;
    return b && b->reset_after_ms > 0 ? b->reset_after_ms : BACKOFF_RESET_AFTER_MS;
}

static void schedule_restart(monitor *m, int64_t ran_ns)
{
    int64_t delay;

    /* A run that lasted long enough earns a fresh backoff. */
    if (ran_ns >= backoff_reset(m) * BERTH_NSEC_PER_MSEC)
        m->backoff_ms = backoff_initial(m);
    delay = m->backoff_ms;
    m->backoff_ms = delay * 2 > backoff_max(m) ? backoff_max(m) : delay * 2;
    m->next_restart_ns = berth_now_real_ns() + delay * BERTH_NSEC_PER_MSEC;
    berth_loop_timer_arm(m->loop, &m->restart_timer,
                         berth_now_mono_ns() + delay * BERTH_NSEC_PER_MSEC);
    berth_info("restarting in %" PRId64 " ms (restart %u)", delay, m->restart_count + 1);
    records_set_phase(m, PHASE_BACKOFF);
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

/* A run could not be started (its error in m->reason). The first: the
 * starter learns why and the monitor ends FAILED. A restart: it counts as
 * a failed run, and the next one is tried after the backoff. */
static void start_failed(monitor *m)
{
    ExitRecord rec = EXIT_RECORD_INIT;

    rec.finished_unix_ns = berth_now_real_ns();
    rec.reason = m->reason;
    if (m->ready_fd >= 0) {
        records_exit(m, &rec);
        m->exit_status = 1;
        finish(m, PHASE_FAILED);
        monitor_answer(m, BERTH_MONITOR_ANSWER_ERROR "%s", m->reason);
        return;
    }
    rec.exit_code = EXIT_CODE_START_FAILED;
    rec.restart_count = m->restart_count;
    records_exit(m, &rec);
    if (m->stopping) {
        finish(m, PHASE_EXITED);
        return;
    }
    schedule_restart(m, 0);
}

/* A poststart or poststop hook of its devices failed: a warning (the
 * container went on). */
static void hook_warning(monitor *m)
{
    _cleanup_free_ char *w = m->c ? berth_container_take_warning(m->c) : NULL;

    if (w)
        berth_warn("container %s: %s", m->plan->spec->id, w);
}

/* What the run left is gone (or could not be removed): next run, or the
 * end. */
static void on_removed(const berth_error *err, void *data)
{
    monitor *m = data;

    if (err)
        berth_log_error(BERTH_LOG_ERROR, err, "clean up after the container");
    m->removal = NULL;
    hook_warning(m);
    berth_container_free(m->c);
    m->c = NULL;
    if (m->run_failed) {
        m->run_failed = false;
        start_failed(m);
        return;
    }
    /* A run ended for failing its probe counts as failed, whatever its
     * exit code (as Kubernetes restarts it). */
    if (!m->stopping &&
        should_restart(m, m->unhealthy_kill && m->last_exit_code == 0 ? 1 : m->last_exit_code)) {
        schedule_restart(m, m->last_ran_ns);
        return;
    }
    finish(m, PHASE_EXITED);
}

/* Stop following the run and remove what it left, from the loop. */
static void env_wipe(ContainerSpec *s)
{
    for (size_t i = 0; i < s->n_env; i++)
        explicit_bzero(s->env[i], strlen(s->env[i]));
}

/* Forget the run's spec with its Secrets' variables (wiped). */
static void run_spec_drop(monitor *m)
{
    if (!m->run_spec)
        return;
    env_wipe(m->run_spec);
    container_spec_free_unpacked(m->run_spec, NULL);
    m->run_spec = NULL;
}

static void remove_run(monitor *m)
{
    run_spec_drop(m);
    berth_loop_remove(m->loop, &m->pid_io);
    berth_loop_timer_cancel(m->loop, &m->grace_timer);
    m->removal = berth_removal_start_container(m->loop, m->c, REMOVAL_TIMEOUT_MS, on_removed, m);
}

/* The run's termination message into buf: the file the container wrote,
 * else (FallbackToLogsOnError, a failed run) its log's last lines. */
static void termination_message(monitor *m, int exit_code, char *buf, size_t size)
{
    const ContainerSpec *s = m->plan->spec;
    ssize_t n = 0;
    int fd;

    buf[0] = '\0';
    if (!*s->termination_message_path)
        return;
    fd = openat(m->dirfd, TERMINATION_LOG, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        n = berth_read_all(fd, buf, size - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
    }
    if (n <= 0 && s->termination_message_fallback_to_logs && exit_code != 0) {
        berth_crilog_query q = { .tail_lines = 80, .max_bytes = 2048, .stream = -1 };
        berth_crilog_batch b;
        size_t len = 0;

        if (berth_crilog_read(m->dirfd, BERTH_STATEDIR_LOG, berth_spec_log_max_files(s), &q, &b,
                              NULL) < 0)
            return;
        /* the last 2 KiB of them */
        for (size_t i = b.n_lines, total = 0; i-- > 0;) {
            total += b.lines[i].len + 1;
            if (total > 2048)
                break;
            len = i;
        }
        for (size_t i = b.n_lines ? len : 0, off = 0; i < b.n_lines && off < size - 1; i++)
            off += (size_t)snprintf(buf + off, size - off, "%.*s%s", (int)b.lines[i].len,
                                    b.lines[i].text, b.lines[i].partial ? "" : "\n");
        berth_crilog_batch_clear(&b);
    }
}

/* The run's terminal and stdin, which attach writes to. */
static void run_stdio_close(monitor *m)
{
    if (m->console_fd >= 0)
        close(m->console_fd);
    if (m->console_peer >= 0)
        close(m->console_peer);
    if (m->stdin_w >= 0)
        close(m->stdin_w);
    m->console_fd = m->console_peer = m->stdin_w = -1;
    m->stdin_taken = false;
}

/* The init exited (its pidfd is readable). */
static void on_exit_of_container(berth_loop_io *io, uint32_t events)
{
    monitor *m = berth_container_of(io, monitor, pid_io);
    ExitRecord rec = EXIT_RECORD_INIT;
    berth_error *err = NULL;
    berth_exit ex = { .exit_code = 255 };
    char message[4097];

    (void)events;
    /* Every writer is gone with the pid namespace: read the pipes dry. */
    logs_drain_and_close(m);
    liveness_stop(m);
    exec_run_ended(m);
    if (berth_container_wait(m->c, true, &ex, &err) <= 0) {
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
    termination_message(m, ex.exit_code, message, sizeof(message));
    rec.message = message;
    rec.reason = ex.oom_killed          ? "OOMKilled"
                 : m->post_start_failed ? "PostStartHookError"
                 : m->unhealthy_kill    ? "Unhealthy"
                                        : "";
    records_exit(m, &rec);
    berth_info("container exited: code %d, signal %d%s", ex.exit_code, ex.signal,
               ex.oom_killed ? ", OOM-killed" : "");
    m->last_exit_code = ex.exit_code;
    m->last_ran_ns = ex.finished_ns - ex.started_ns;
    exec_attach_ended(m, ex.exit_code);
    run_stdio_close(m);
    /* Nothing of the run survives it: cgroup, overlay layer. */
    remove_run(m);
}

/* --- starting ----------------------------------------------------------------------------- */

/* The most the agent's env file of Secrets' and ConfigMaps' values may
 * hold. */
#define ENV_FILE_MAX (4 << 20)

/* The spec with the variables of the agent's env file (NUL-separated
 * "NAME=value", on its tmpfs: Secrets' and ConfigMaps' values, read anew
 * at each start as kubelet resolves them) put in: a new spec, whose env
 * the caller wipes (env_wipe) and frees. */
static int spec_with_env_file(const monitor *m, ContainerSpec **ret, berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    char **vars = NULL;
    size_t len = 0, n = 0;
    ContainerSpec *s;

    if (berth_read_file_at(AT_FDCWD, m->plan->env_file, ENV_FILE_MAX, &data, &len, err) < 0)
        return berth_error_prefix(err, "the values of its Secrets and ConfigMaps");
    vars = berth_xcalloc(len / 2 + 2, sizeof(*vars));
    for (size_t at = 0; at < len;) {
        size_t l = strnlen(data + at, len - at);

        if (l && memchr(data + at, '=', l))
            vars[n++] = data + at;
        at += l + 1;
    }
    s = BERTH_PB_COPY(ContainerSpec, m->plan->spec);
    berth_spec_env_put(s, vars, n);
    explicit_bzero(data, len);
    free(vars);
    *ret = s;
    return 0;
}

/* Create the container. On failure *err says why and nothing is left but,
 * when it was created and cannot be followed, the container itself. */
static int create(monitor *m, berth_error **err)
{
    berth_create_opts opts = { .state_dir = m->state_dir, .stdio = { -1, -1, -1 } };
    const ContainerSpec *spec = m->plan->spec;
    char term_path[PATH_MAX];
    int w[2] = { -1, -1 }, in[2] = { -1, -1 }, r = -1;

    /* a terminal (spec tty) is the log's, as stdout; else two pipes */
    opts.console = spec->tty;
    if (!spec->tty && (logs_open_pipe(m, BERTH_CRILOG_STDOUT, &w[0], err) < 0 ||
                       logs_open_pipe(m, BERTH_CRILOG_STDERR, &w[1], err) < 0))
        goto out;
    opts.stdio[1] = w[0];
    opts.stdio[2] = w[1];
    /* spec stdin: a pipe kept open for attach -i to write to, new each run */
    if (spec->stdin && !spec->tty) {
        if (pipe2(in, O_CLOEXEC) < 0) {
            berth_error_errno(err, "the container's stdin");
            goto out;
        }
        opts.stdio[0] = in[0];
    }
    if (m->plan->image) {
        opts.image_layers = m->plan->image->layers;
        opts.n_image_layers = m->plan->image->n_layers;
    }
    if (*m->plan->sandbox_dir)
        opts.sandbox_dir = m->plan->sandbox_dir;
    if (*m->plan->volumes_dir)
        opts.volumes_dir = m->plan->volumes_dir;
    if (*m->plan->config_dir)
        opts.config_dir = m->plan->config_dir;
    opts.devices = m->plan->devices;
    run_spec_drop(m);
    if (*m->plan->env_file && spec_with_env_file(m, &m->run_spec, err) < 0)
        goto out;
    if (*m->plan->seccomp_profile_path)
        opts.seccomp_profile_path = m->plan->seccomp_profile_path;
    if (*m->plan->spec->termination_message_path) {
        /* empty for each run, writable by whoever the container runs as */
        int fd = openat(m->dirfd, TERMINATION_LOG,
                        O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);

        if (fd < 0 || fchmod(fd, 0666) < 0) {
            berth_error_errno(err, "make the termination message file");
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
        snprintf(term_path, sizeof(term_path), "%s/%s", m->state_dir, TERMINATION_LOG);
        opts.termination_log = term_path;
    }
    if (berth_container_create(m->rt, m->run_spec ? m->run_spec : m->plan->spec, &opts, &m->c,
                               err) < 0)
        goto out;
    hook_warning(m);
    if (spec->tty) {
        int master = berth_container_take_console(m->c);

        if (master < 0) {
            berth_error_set(err, EIO, "the container's terminal is missing");
            goto out;
        }
        m->console_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        m->console_peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m->console_fd < 0 || m->console_peer < 0) {
            berth_error_errno(err, "the container's terminal");
            close(master);
            goto out;
        }
        if (logs_adopt(m, BERTH_CRILOG_STDOUT, master, err) < 0)
            goto out;
    }
    if (in[1] >= 0) {
        m->stdin_w = in[1];
        in[1] = -1;
    }
    if (berth_loop_add(m->loop, &m->pid_io, berth_container_pidfd(m->c), EPOLLIN,
                       on_exit_of_container, err) < 0)
        goto out;
    r = 0;
out:
    if (r < 0)
        run_spec_drop(m);
    for (int i = 0; i < 2; i++) {
        if (w[i] >= 0)
            close(w[i]);
        if (in[i] >= 0)
            close(in[i]);
    }
    if (r < 0)
        run_stdio_close(m);
    if (r < 0)
        logs_close(m);
    return r;
}

/* The lowest address of the main thread's stack mapping (0: unknown). */
static uintptr_t stack_low(void)
{
    static uintptr_t low;
    char line[256];
    FILE *f;

    if (low)
        return low;
    f = fopen("/proc/self/maps", "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "[stack]")) {
            low = (uintptr_t)strtoull(line, NULL, 16);
            break;
        }
    fclose(f);
    return low;
}

/* A start's temporaries are freed: give their pages back, since a monitor
 * lives as long as its container and there is one per container. The
 * heap's free pages, and the stack's below the loop's depth: the start
 * ran deep (the runtime's buffers, the child's records), the loop runs
 * shallow, and a page once touched stays resident (a quarter of a
 * monitor's private memory). Never inlined, so that the address of its
 * own local is the lowest live one (the callers' frames are all above it);
 * what lies more than a page below it goes (madvise and its callees use a
 * few bytes), and comes back as zero pages if ever touched again. */
static __attribute__((noinline)) void give_back_memory(void)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    volatile char mark = 0;
    uintptr_t sp = (uintptr_t)&mark, low = stack_low(), top;

    malloc_trim(0);
    top = (sp - page) & ~(page - 1);
    if (low && top > low)
        madvise((void *)low, top - low, MADV_DONTNEED);
}

static void run_start(monitor *m)
{
    berth_error *err = NULL;

    records_set_phase(m, PHASE_STARTING);
    if (create(m, &err) < 0) {
        snprintf(m->reason, sizeof(m->reason), "%s", err->msg);
        berth_log_error(BERTH_LOG_ERROR, err, m->ready_fd >= 0 ? "start" : "restart");
        berth_error_free(&err);
        if (m->c) {
            /* Created but not to be followed: it goes, then the start
             * counts as failed. */
            m->run_failed = true;
            remove_run(m);
            return;
        }
        start_failed(m);
        return;
    }
    m->reason[0] = '\0';
    m->post_start_failed = m->pre_stop_done = false;
    liveness_start(m);
    records_set_phase(m, PHASE_RUNNING);
    berth_info("container %s running, pid %d", m->plan->spec->id, (int)berth_container_pid(m->c));
    if (m->ready_fd >= 0)
        monitor_answer(m, BERTH_MONITOR_ANSWER_RUNNING "%d", (int)berth_container_pid(m->c));
    give_back_memory();
}

static void on_restart_timer(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, restart_timer);

    m->restart_count++;
    run_start(m);
}

/* --- stopping ----------------------------------------------------------------------------- */

static void on_grace_timer(berth_loop_timer *t)
{
    monitor *m = berth_container_of(t, monitor, grace_timer);
    berth_error *err = NULL;

    if (!m->c || m->removal)
        return;
    berth_info("grace period over: killing everything in the container");
    if (berth_container_kill_all(m->c, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "kill");
        berth_error_free(&err);
    }
}

static void stop_signal(monitor *m)
{
    berth_error *err = NULL;

    if (!m->c || m->removal)
        return;
    if (berth_container_signal(m->c, berth_spec_stop_signal(m->plan->spec), &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "stop signal");
        berth_error_free(&err);
    }
}

/* The preStop hook (once a run), then the stop signal; SIGKILL to
 * everything after grace_ms, the hook's time included, as Kubernetes
 * counts it. */
static void end_run(monitor *m, int64_t grace_ms)
{
    berth_loop_timer_arm(m->loop, &m->grace_timer,
                         berth_now_mono_ns() + grace_ms * BERTH_NSEC_PER_MSEC);
    if (!m->pre_stop_done) {
        m->pre_stop_done = true;
        if (liveness_hook(m, PROBE_PRE_STOP, grace_ms))
            return; /* run_hook_done sends the signal */
    }
    stop_signal(m);
}

void run_hook_done(monitor *m, probe_kind kind, bool ok, const char *message)
{
    if (kind == PROBE_PRE_STOP) {
        stop_signal(m);
        return;
    }
    if (ok || !m->c || m->removal || m->stopping)
        return;
    /* Kubernetes: a container whose postStart hook failed is killed, and
     * restarted as its policy says */
    m->post_start_failed = true;
    snprintf(m->hook_message, sizeof(m->hook_message), "%s", message);
    berth_warn("postStart hook failed: %s: killing the container", message);
    end_run(m, berth_spec_stop_grace_ms(m->plan->spec));
}

void run_request_stop(monitor *m, int64_t grace_ms)
{
    if (m->stopping)
        return;
    m->stopping = true;
    if (grace_ms < 0)
        grace_ms = berth_spec_stop_grace_ms(m->plan->spec);
    berth_info("stop requested (signal %d, grace %" PRId64 " ms)",
               berth_spec_stop_signal(m->plan->spec), grace_ms);
    if (m->removal)
        return; /* it ended already: no restart after the removal */
    if (!m->c) {
        /* Between runs: there is nothing to stop, only the restart. */
        berth_loop_timer_cancel(m->loop, &m->restart_timer);
        finish(m, PHASE_EXITED);
        return;
    }
    liveness_stop(m);
    records_set_phase(m, PHASE_STOPPING);
    end_run(m, grace_ms);
}

void run_end_unhealthy(monitor *m)
{
    if (!m->c || m->removal || m->stopping)
        return;
    berth_warn("%s: restarting the container", m->reason_unhealthy);
    end_run(m, berth_spec_stop_grace_ms(m->plan->spec));
}

static void on_signal(berth_loop_signal *s, int signo)
{
    monitor *m = signo == SIGTERM ? berth_container_of(s, monitor, sig_term)
                                  : berth_container_of(s, monitor, sig_int);

    run_request_stop(m, -1);
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
        run_request_stop(m, grace_ms);
    }
}

/* --- setup -------------------------------------------------------------------------------- */

/* The stop requests (the control fifo, SIGTERM, SIGINT) join the loop. */
int run_init(monitor *m, int control_fd, berth_error **err)
{
    m->pid_io.fd = -1;
    berth_loop_timer_init(&m->grace_timer, on_grace_timer);
    berth_loop_timer_init(&m->restart_timer, on_restart_timer);
    m->backoff_ms = backoff_initial(m);
    if (berth_loop_add(m->loop, &m->control_io, control_fd, EPOLLIN, on_control, err) < 0 ||
        berth_loop_add_signal(m->loop, &m->sig_term, SIGTERM, on_signal, err) < 0 ||
        berth_loop_add_signal(m->loop, &m->sig_int, SIGINT, on_signal, err) < 0)
        return -1;
    return 0;
}

void run_begin(monitor *m)
{
    run_start(m);
}

void run_free(monitor *m)
{
    run_spec_drop(m);
    free(m->last_message);
    m->last_message = NULL;
    berth_removal_cancel(m->removal);
    m->removal = NULL;
    berth_container_free(m->c);
    m->c = NULL;
    if (m->control_io.fd >= 0) {
        int fd = m->control_io.fd;

        berth_loop_remove(m->loop, &m->control_io);
        close(fd);
    }
}
