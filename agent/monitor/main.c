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
 * cgroup after the grace period. The parts are in monitor.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "base/version.h"
#include "monitor.h"
#include "pb/pb.h"
#include "statedir/statedir.h"

#define ANSWER_MAX 4096

void monitor_answer(monitor *m, const char *fmt, ...)
{
    char buf[ANSWER_MAX];
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

/* The state directory's real path: the runtime keeps it (overlay layers
 * go there), so it must not depend on our fd. */
static int resolve_dir(monitor *m, berth_error **err)
{
    char link[64], real[4096];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", m->dirfd);
    n = readlink(link, real, sizeof(real) - 1);
    if (n < 0)
        return berth_error_errno(err, "resolve the state directory");
    real[n] = '\0';
    m->state_dir = berth_xstrdup(real);
    return 0;
}

static int setup(monitor *m, const char *dir, berth_error **err)
{
    berth_runtime_config cfg = { 0 };
    int logfd, control_fd;

    m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->dirfd < 0)
        return berth_error_errno(err, "open state directory %s", dir);
    if (berth_monitor_lock(m->dirfd, &m->lock_fd, err) < 0)
        return berth_error_prefix(err, "%s", dir);
    /* Our own diagnostics go beside the container's log, not to whoever
     * started us. */
    logfd = openat(m->dirfd, "monitor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
                   0640);
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
    {
        /* From here on the spec is the one the container runs: the image's
         * command, env, user and stop signal applied. */
        ContainerSpec *eff;

        if (berth_spec_effective(m->plan->spec, m->plan->image, &eff, err) < 0)
            return berth_error_prefix(err, "plan.pb");
        BERTH_PB_FREE(m->plan->spec);
        m->plan->spec = eff;
        /* its devices' (CDI's env edits), then what the agent filled in
         * (fieldRefs), which wins */
        if (m->plan->devices)
            berth_spec_env_put(m->plan->spec, m->plan->devices->env, m->plan->devices->n_env);
        berth_spec_env_put(m->plan->spec, m->plan->env, m->plan->n_env);
    }
    if (resolve_dir(m, err) < 0)
        return -1;
    if (mkfifoat(m->dirfd, BERTH_STATEDIR_CONTROL, 0600) < 0 && errno != EEXIST)
        return berth_error_errno(err, "mkfifo %s", BERTH_STATEDIR_CONTROL);
    /* Read-write: never EOF when a writer closes, and no open() block.
     * Not through a symlink, and a fifo, nothing else planted there. */
    control_fd =
        openat(m->dirfd, BERTH_STATEDIR_CONTROL, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (control_fd < 0)
        return berth_error_errno(err, "open %s", BERTH_STATEDIR_CONTROL);
    {
        struct stat st;

        if (fstat(control_fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
            close(control_fd);
            return berth_error_set(err, EINVAL, "%s is not a fifo", BERTH_STATEDIR_CONTROL);
        }
    }
    if (berth_loop_new(&m->loop, err) < 0 || run_init(m, control_fd, err) < 0) {
        close(control_fd);
        return -1;
    }
    if (exec_init(m, err) < 0)
        return -1;
    liveness_init(m);
    if (liveness_needs_netns(m)) {
        m->self_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (m->self_netns < 0)
            return berth_error_errno(err, "open /proc/self/ns/net");
    }
    signal(SIGPIPE, SIG_IGN);
    cfg.cgroup_parent = *m->plan->cgroup_parent ? m->plan->cgroup_parent : NULL;
    cfg.cgroup_delegated = m->plan->cgroup_delegated;
    cfg.image_store = *m->plan->image_store ? m->plan->image_store : NULL;
    if (berth_runtime_new(&cfg, &m->rt, err) < 0)
        return -1;
    return berth_crilog_open(m->dirfd, BERTH_STATEDIR_LOG, berth_spec_log_max_bytes(m->plan->spec),
                             berth_spec_log_max_files(m->plan->spec), &m->log, err);
}

/* A setup that failed: the records first (whoever gets the answer finds
 * them), when the directory is ours. */
static void setup_failed(monitor *m, berth_error *err)
{
    berth_log_error(BERTH_LOG_ERROR, err, "start");
    if (m->dirfd >= 0 && m->lock_fd >= 0) {
        snprintf(m->reason, sizeof(m->reason), "%s", err->msg);
        if (m->plan) {
            ExitRecord rec = EXIT_RECORD_INIT;

            rec.reason = m->reason;
            rec.finished_unix_ns = berth_now_real_ns();
            records_exit(m, &rec);
        }
        m->phase = PHASE_FAILED;
        records_save_state(m);
    }
    monitor_answer(m, BERTH_MONITOR_ANSWER_ERROR "%s", err->msg);
}

static void usage(void)
{
    fprintf(stderr, "usage: berth-monitor [--detach] [--ready-fd FD] STATE_DIR\n");
}

int main(int argc, char **argv)
{
    /* static, not on the stack: its 9 kB are zero pages until written,
     * and most of it (exit history, messages) is written late or never */
    static monitor m;
    berth_error *err = NULL;
    const char *dir = NULL;
    bool detach = false;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berth-monitor %s\n", berth_version());
        return 0;
    }
    m.dirfd = m.lock_fd = m.ready_fd = m.self_netns = -1;
    m.out[0].io.fd = m.out[1].io.fd = m.control_io.fd = m.exec_listen.fd = -1;
    m.console_fd = m.console_peer = m.stdin_w = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc) {
            m.ready_fd = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--detach") == 0) {
            detach = true;
        } else if (argv[i][0] == '-' || dir) {
            usage();
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        usage();
        return 2;
    }
    /* --detach (berth_monitor_spawn): the starter waits for this process,
     * which goes at once; the monitor is its child, nobody's but init's
     * (or the subreaper's) from then on, and outlives the starter. */
    if (detach) {
        pid_t child = fork();

        if (child < 0) {
            if (m.ready_fd >= 0)
                dprintf(m.ready_fd, BERTH_MONITOR_ANSWER_ERROR "fork: %s\n", strerror(errno));
            _exit(1);
        }
        if (child > 0)
            _exit(0);
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

    if (setup(&m, dir, &err) < 0) {
        setup_failed(&m, err);
        berth_error_free(&err);
        return 1;
    }
    run_begin(&m);
    if (!m.finished && berth_loop_run(m.loop, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "event loop");
        berth_error_free(&err);
        m.exit_status = 1;
    }
    if (berth_crilog_dropped(m.log))
        berth_warn("dropped %" PRIu64 " bytes of container output", berth_crilog_dropped(m.log));
    exec_free(&m);
    liveness_free(&m);
    run_free(&m);
    logs_close(&m);
    berth_crilog_free(m.log);
    berth_runtime_free(m.rt);
    BERTH_PB_FREE(m.plan);
    berth_loop_free(m.loop);
    free(m.state_dir);
    return m.exit_status;
}
