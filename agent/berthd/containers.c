/* The container table: one entry per container directory
 * (<state>/containers/<id>/), each run by its own berth-monitor. berthd
 * never holds a container's life: it writes the plan, starts a monitor
 * (asynchronously, a bounded number at a time), watches the monitor's
 * state.pb through inotify and the monitor itself through a pidfd, and
 * turns both into the wire's ContainerStatus. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "statedir/statedir.h"
#include "spec/spec.h"
#include "protocol/digest.h"

#define STOPS_MAX 8

typedef enum ct_phase {
    CT_QUEUED,     /* wants a monitor; waiting for a start slot */
    CT_STARTING,   /* monitor spawned, its answer pending */
    CT_SUPERVISED, /* a monitor runs it */
    CT_STOPPING,   /* asked its monitor to stop */
    CT_DONE,       /* no monitor: ended, failed, or never startable */
} ct_phase;

struct ct {
    agent *a;
    ct *next;
    char id[BERTH_SPEC_ID_MAX + 1];
    int dirfd;
    ContainerSpec *spec; /* owned (from the plan) */
    ContainerPlan *plan; /* owns spec when read from disk */
    uint64_t generation;
    ct_phase phase;
    bool desired;               /* in the current assignments */
    bool remove_when_done;      /* gone from the assignments: remove once stopped */
    bool operator_stopped;      /* Agent/Stop: stays down until its spec changes */
    ContainerSpec *replacement; /* changed spec: start it once this one is gone */
    uint64_t replacement_gen;
    bool restart_when_done; /* the monitor was lost: start a new one */
    /* starting */
    int answer_fd;
    berth_loop_io answer_io;
    berth_monitor_answer answer;
    /* supervised */
    int wd;
    int monitor_pid;
    berth_loop_io monitor_io;
    /* pending Agent/Stop calls */
    struct {
        containers_stop_fn fn;
        void *data;
    } stops[STOPS_MAX];
    size_t n_stops;
    /* the status on the wire; reason and message point at the buffers */
    ContainerStatus st;
    char reason[64];
    char message[512];
    /* the liveness probe, as the monitor last reported it */
    uint32_t probe_failures;
    char probe_message[256];
};

static void ct_set_status(ct *c, ContainerState state, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The grace period of a stop: the spec's own, else the agent's default. */
static int64_t ct_grace_ms(const ct *c)
{
    if (c->spec && c->spec->stop_grace_ms > 0)
        return c->spec->stop_grace_ms;
    return c->a->cfg.stop_grace_ms;
}
static void start_queued(agent *a);
static void check_applied(agent *a);

/* --- table ------------------------------------------------------------------ */

static ct *find(agent *a, const char *id)
{
    for (ct *c = a->cts; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static ct *ct_new(agent *a, const char *id)
{
    ct *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->a = a;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->dirfd = -1;
    c->answer_fd = -1;
    c->wd = -1;
    c->answer_io.fd = -1;
    c->monitor_io.fd = -1;
    container_status_init(&c->st);
    c->st.id = c->id;
    c->st.reason = c->reason;
    c->st.message = c->message;
    c->st.state = CONTAINER_PENDING;
    c->next = a->cts;
    a->cts = c;
    a->n_cts++;
    return c;
}

static void ct_unwatch(ct *c)
{
    if (c->wd >= 0) {
        inotify_rm_watch(c->a->inotify_fd, c->wd);
        c->wd = -1;
    }
    if (c->monitor_io.fd >= 0) {
        int fd = c->monitor_io.fd;

        berth_loop_remove(c->a->loop, &c->monitor_io);
        close(fd);
    }
    if (c->answer_io.fd >= 0) {
        int fd = c->answer_io.fd;

        berth_loop_remove(c->a->loop, &c->answer_io);
        close(fd);
        c->answer_fd = -1;
    }
}

static void ct_free_spec(ct *c)
{
    if (c->plan)
        container_plan_free_unpacked(c->plan, NULL);
    else if (c->spec)
        container_spec_free_unpacked(c->spec, NULL);
    c->plan = NULL;
    c->spec = NULL;
}

static void ct_drop(agent *a, ct *c)
{
    for (ct **p = &a->cts; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    a->n_cts--;
    ct_unwatch(c);
    if (c->dirfd >= 0)
        close(c->dirfd);
    ct_free_spec(c);
    if (c->replacement)
        container_spec_free_unpacked(c->replacement, NULL);
    free(c);
}

/* A copy of spec through its encoding (owned by the caller). */
static ContainerSpec *spec_copy(const ContainerSpec *spec)
{
    size_t len = container_spec_get_packed_size(spec);
    _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);

    if (!buf)
        return NULL;
    container_spec_pack(spec, buf);
    return container_spec_unpack(NULL, len, buf);
}

static bool spec_equal(const ContainerSpec *x, const ContainerSpec *y)
{
    size_t lx = container_spec_get_packed_size(x);
    size_t ly = container_spec_get_packed_size(y);
    _cleanup_free_ uint8_t *bx = NULL, *by = NULL;

    if (lx != ly)
        return false;
    bx = malloc(lx ? lx : 1);
    by = malloc(ly ? ly : 1);
    if (!bx || !by)
        return false;
    container_spec_pack(x, bx);
    container_spec_pack(y, by);
    return memcmp(bx, by, lx) == 0;
}

/* --- status ------------------------------------------------------------------ */

static void notify(ct *c, ContainerState prev)
{
    session_status_changed(c->a, &c->st, prev, false);
}

static void ct_set_status(ct *c, ContainerState state, const char *reason, const char *fmt, ...)
{
    ContainerState prev = c->st.state;
    char msg[sizeof(c->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (prev == state && strcmp(c->reason, reason) == 0 && strcmp(c->message, msg) == 0)
        return;
    c->st.state = state;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    snprintf(c->message, sizeof(c->message), "%s", msg);
    if (state != CONTAINER_RUNNING)
        c->st.pid = 0;
    notify(c, prev);
}

/* The monitor's state.pb as a ContainerStatus. */
static void status_from_state(ct *c, const MonitorState *ms)
{
    const ExitRecord *last = ms->n_history ? ms->history[ms->n_history - 1] : NULL;
    ContainerState prev = c->st.state, state = prev;
    ContainerStatus before = c->st;
    char reason[sizeof(c->reason)] = "", message[sizeof(c->message)] = "";

    c->st.restart_count = ms->restart_count;
    c->st.health = ms->health;
    c->probe_failures = ms->probe_failures;
    snprintf(c->probe_message, sizeof(c->probe_message), "%s", ms->probe_message);
    c->st.generation = c->generation;
    c->st.next_restart_unix_ns = 0;
    if (last) {
        c->st.exit_code = last->exit_code;
        c->st.signal = last->signal;
        c->st.oom_killed = last->oom_killed;
        c->st.finished_unix_ns = last->finished_unix_ns;
    }
    switch (ms->phase) {
    case PHASE_STARTING:
        state = CONTAINER_STARTING;
        break;
    case PHASE_RUNNING:
    case PHASE_STOPPING:
        state = CONTAINER_RUNNING;
        c->st.started_unix_ns = ms->started_unix_ns;
        c->st.finished_unix_ns = 0;
        c->st.pid = ms->container_pid;
        if (ms->health == HEALTH_UNHEALTHY)
            snprintf(message, sizeof(message), "liveness probe failed: %s", ms->probe_message);
        break;
    case PHASE_BACKOFF:
        state = CONTAINER_RESTARTING;
        c->st.next_restart_unix_ns = ms->next_restart_unix_ns;
        snprintf(reason, sizeof(reason), "CrashLoopBackOff");
        if (last && *last->reason)
            snprintf(message, sizeof(message), "last run: %s", last->reason);
        else if (last)
            snprintf(message, sizeof(message), "last run exited with %d", last->exit_code);
        break;
    case PHASE_EXITED:
        if (last && last->oom_killed) {
            state = CONTAINER_OOM_KILLED;
            snprintf(reason, sizeof(reason), "OOMKilled");
        } else {
            state = CONTAINER_EXITED;
            snprintf(reason, sizeof(reason), "%s",
                     last && last->stopped                       ? "Stopped"
                     : last && *last->reason                     ? last->reason
                     : last && !last->exit_code && !last->signal ? "Completed"
                                                                 : "Error");
        }
        if (last)
            c->st.started_unix_ns = last->started_unix_ns;
        break;
    case PHASE_FAILED:
        state = CONTAINER_FAILED;
        snprintf(reason, sizeof(reason), "StartError");
        snprintf(message, sizeof(message), "%s", ms->reason);
        break;
    default:
        return;
    }
    if (state != CONTAINER_RUNNING)
        c->st.pid = 0;
    if (state == prev && strcmp(reason, c->reason) == 0 && strcmp(message, c->message) == 0 &&
        before.restart_count == c->st.restart_count && before.health == c->st.health &&
        before.pid == c->st.pid && before.exit_code == c->st.exit_code)
        return;
    c->st.state = state;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    snprintf(c->message, sizeof(c->message), "%s", message);
    notify(c, prev);
}

/* --- monitors ------------------------------------------------------------------- */

static void on_monitor_gone(berth_loop_io *io, uint32_t events);

/* Watch the container's state file, and its monitor's process when
 * monitor_pid > 0. 0: watching; 1: the monitor is already gone (the caller
 * settles the container); -1: cannot watch. */
static int ct_watch(ct *c, int monitor_pid)
{
    agent *a = c->a;
    char path[sizeof(((agent *)0)->containers_dir) + 80];
    berth_monitor_liveness l;
    berth_error *err = NULL;
    int pidfd;

    if (c->wd < 0) {
        snprintf(path, sizeof(path), "%s/%s", a->containers_dir, c->id);
        c->wd = inotify_add_watch(a->inotify_fd, path, IN_MOVED_TO | IN_ONLYDIR);
        if (c->wd < 0)
            berth_warn("container %s: inotify: %s", c->id, strerror(errno));
    }
    if (monitor_pid <= 0)
        return 0;
    if (c->monitor_io.fd >= 0 && c->monitor_pid == monitor_pid)
        return 0;
    if (c->monitor_io.fd >= 0) {
        int fd = c->monitor_io.fd;
        berth_loop_remove(a->loop, &c->monitor_io);
        close(fd);
    }
    /* A pidfd, then the lock: the pid in state.pb may be stale (the
     * monitor gone, the pid reused), the lock cannot be. */
    pidfd = (int)syscall(SYS_pidfd_open, monitor_pid, 0);
    if (pidfd < 0)
        return errno == ESRCH ? 1 : -1;
    if (berth_monitor_probe(c->dirfd, &l, NULL) < 0 || l != BERTH_MONITOR_ALIVE) {
        close(pidfd);
        return 1;
    }
    if (berth_loop_add(a->loop, &c->monitor_io, pidfd, EPOLLIN, on_monitor_gone, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "container %s: watch monitor", c->id);
        berth_error_free(&err);
        close(pidfd);
        return -1;
    }
    c->monitor_pid = monitor_pid;
    return 0;
}

static void ct_monitor_done(ct *c);

/* Read state.pb and follow it. */
static void ct_refresh(ct *c)
{
    MonitorState *ms = NULL;
    int gone = 0;

    if (berth_statedir_read_state(c->dirfd, &ms, NULL) < 0)
        return;
    if (ms->monitor_pid > 0 && (c->phase == CT_SUPERVISED || c->phase == CT_STOPPING))
        gone = ct_watch(c, ms->monitor_pid) == 1;
    status_from_state(c, ms);
    monitor_state_free_unpacked(ms, NULL);
    /* It finished before we could watch it (a quick exit, a failed run). */
    if (gone)
        ct_monitor_done(c);
}

static void finish_stops(ct *c, const char *error)
{
    for (size_t i = 0; i < c->n_stops; i++)
        c->stops[i].fn(error ? NULL : &c->st, error, c->stops[i].data);
    c->n_stops = 0;
}

/* Remove a container's directory (its monitor is gone). */
static void ct_remove_dir(agent *a, ct *c)
{
    berth_error *err = NULL;

    if (berth_rm_rf_at(a->containers_dirfd, c->id, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "container %s: remove its directory", c->id);
        berth_error_free(&err);
    }
}

/* A monitor that died without its final record (killed): its container
 * may still run, orphaned. Kill it and remove what it held. */
static void reap_orphan(agent *a, ct *c)
{
    char path[sizeof(((agent *)0)->containers_dir) + 80];
    berth_cgroup *cg = NULL;
    berth_error *err = NULL;

    snprintf(path, sizeof(path), "%s/%s", a->cfg.cgroup_parent, c->id);
    if (berth_cgroup_open(a->cgroups, path, &cg, NULL) == 0) {
        berth_warn("container %s: its monitor was lost; killing what is left", c->id);
        if (berth_cgroup_destroy(cg, 5000, &err) < 0) {
            berth_log_error(BERTH_LOG_ERROR, err, "container %s", c->id);
            berth_error_free(&err);
        }
        berth_cgroup_free(cg);
    }
    /* The writable layer and mount point the monitor would have removed. */
    for (const char *d = "upper\0work\0rootfs\0"; *d; d += strlen(d) + 1)
        berth_rm_rf_at(c->dirfd, d, NULL);
}

/* The monitor is gone (exited or lost): settle the container. */
static void ct_monitor_done(ct *c)
{
    agent *a = c->a;
    berth_monitor_liveness l = BERTH_MONITOR_LOST;

    ct_unwatch(c);
    c->phase = CT_DONE;
    if (c->dirfd >= 0)
        berth_monitor_probe(c->dirfd, &l, NULL);
    if (l == BERTH_MONITOR_LOST && c->dirfd >= 0) {
        reap_orphan(a, c);
        ct_set_status(c, CONTAINER_FAILED, "MonitorLost", "its monitor died; %s",
                      c->desired && !c->remove_when_done ? "starting a new one" : "cleaned up");
        c->restart_when_done = c->desired && !c->remove_when_done && !c->operator_stopped;
    } else if (c->dirfd >= 0) {
        ct_refresh(c);
    }
    finish_stops(c, NULL);
    if (c->remove_when_done && !c->replacement) {
        ct_remove_dir(a, c);
        session_status_changed(a, &c->st, c->st.state, true);
        ct_drop(a, c);
        check_applied(a);
        return;
    }
    if (c->replacement) {
        /* Same id, new spec: a fresh directory. */
        ct_remove_dir(a, c);
        close(c->dirfd);
        c->dirfd = -1;
        ct_free_spec(c);
        c->spec = c->replacement;
        c->generation = c->replacement_gen;
        c->replacement = NULL;
        c->remove_when_done = false;
        c->operator_stopped = false;
        c->phase = CT_QUEUED;
    } else if (c->restart_when_done) {
        c->restart_when_done = false;
        c->phase = CT_QUEUED;
    }
    start_queued(a);
    check_applied(a);
}

static void on_monitor_gone(berth_loop_io *io, uint32_t events)
{
    ct *c = berth_container_of(io, ct, monitor_io);

    (void)events;
    ct_monitor_done(c);
}

static void on_answer(berth_loop_io *io, uint32_t events)
{
    ct *c = berth_container_of(io, ct, answer_io);
    agent *a = c->a;
    berth_error *err = NULL;
    pid_t pid = 0;
    int r;

    (void)events;
    r = berth_monitor_answer_read(io->fd, &c->answer, &pid, &err);
    if (r == 0)
        return;
    {
        int fd = io->fd;
        berth_loop_remove(a->loop, io);
        close(fd);
        c->answer_fd = -1;
    }
    a->starting--;
    if (r > 0) {
        berth_info("container %s running, pid %d", c->id, (int)pid);
        c->phase = CT_SUPERVISED;
        ct_refresh(c);
    } else {
        /* The monitor wrote its FAILED state before answering. */
        berth_log_error(BERTH_LOG_WARN, err, "container %s", c->id);
        c->phase = CT_DONE;
        ct_refresh(c);
        if (c->st.state != CONTAINER_FAILED)
            ct_set_status(c, CONTAINER_FAILED, "StartError", "%s", err ? err->msg : "start failed");
        berth_error_free(&err);
    }
    if (c->remove_when_done || c->replacement) {
        /* Removed or changed while it was starting. */
        if (c->phase == CT_SUPERVISED) {
            c->phase = CT_STOPPING;
            berth_monitor_stop(c->dirfd, ct_grace_ms(c), NULL);
        } else {
            ct_monitor_done(c);
            return;
        }
    }
    start_queued(a);
    check_applied(a);
}

/* Write the plan and spawn the monitor. Failures that are the spec's
 * (a missing image) become its status, not an error. */
static void ct_start(ct *c)
{
    agent *a = c->a;
    ContainerPlan plan = CONTAINER_PLAN_INIT;
    berth_error *err = NULL;
    char path[sizeof(((agent *)0)->containers_dir) + 80];
    struct stat st;

    c->operator_stopped = false;
    if (berth_spec_validate(c->spec, &err) < 0) {
        c->phase = CT_DONE;
        ct_set_status(c, CONTAINER_FAILED, "InvalidSpec", "%s", err->msg);
        berth_error_free(&err);
        return;
    }
    if (*c->spec->image) {
        snprintf(path, sizeof(path), "%s/%s", a->cfg.image_store, c->spec->image);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
            c->phase = CT_DONE;
            ct_set_status(c, CONTAINER_FAILED, "ImageNotFound", "image %s not found in %s",
                          c->spec->image, a->cfg.image_store);
            return;
        }
    }
    if (c->dirfd < 0) {
        if (mkdirat(a->containers_dirfd, c->id, 0700) < 0 && errno != EEXIST) {
            berth_error_errno(&err, "mkdir %s/%s", a->containers_dir, c->id);
            goto fail;
        }
        c->dirfd = openat(a->containers_dirfd, c->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->dirfd < 0) {
            berth_error_errno(&err, "open %s/%s", a->containers_dir, c->id);
            goto fail;
        }
    }
    plan.spec = c->spec;
    plan.cgroup_parent = a->cfg.cgroup_parent;
    plan.image_store = a->cfg.image_store;
    plan.generation = c->generation;
    if (berth_statedir_write_plan(c->dirfd, &plan, &err) < 0)
        goto fail;
    /* A previous run's records must not read as this one's. */
    unlinkat(c->dirfd, BERTH_STATEDIR_STATE, 0);
    unlinkat(c->dirfd, BERTH_STATEDIR_EXIT, 0);
    snprintf(path, sizeof(path), "%s/%s", a->containers_dir, c->id);
    memset(&c->answer, 0, sizeof(c->answer));
    if (berth_monitor_spawn(a->cfg.monitor, path, &c->answer_fd, &err) < 0)
        goto fail;
    /* A monitor runs from here on, whatever else fails: it is followed. */
    ct_watch(c, 0);
    ct_set_status(c, CONTAINER_STARTING, "", "%s", "");
    if (berth_loop_add(a->loop, &c->answer_io, c->answer_fd, EPOLLIN, on_answer, &err) < 0) {
        /* Its answer cannot be waited for: follow it as an adopted one,
         * through its state file (inotify) and then its pidfd. */
        berth_log_error(BERTH_LOG_WARN, err,
                        "container %s: wait for its monitor's answer; following its state "
                        "file instead",
                        c->id);
        berth_error_free(&err);
        close(c->answer_fd);
        c->answer_fd = -1;
        c->phase = CT_SUPERVISED;
        ct_refresh(c);
        return;
    }
    c->phase = CT_STARTING;
    a->starting++;
    return;
fail:
    c->phase = CT_DONE;
    ct_set_status(c, CONTAINER_FAILED, "StartError", "%s", err ? err->msg : "start failed");
    berth_error_free(&err);
}

/* Start queued containers while there are free slots (oldest first: the
 * list is newest first). */
static void start_queued(agent *a)
{
    for (;;) {
        ct *pick = NULL;

        if (a->stopping || a->starting >= a->cfg.max_parallel_starts)
            return;
        for (ct *c = a->cts; c; c = c->next)
            if (c->phase == CT_QUEUED && c->desired)
                pick = c;
        if (!pick)
            return;
        ct_start(pick);
    }
}

/* The applied generation moves once nothing of the wanted set is queued
 * or starting. */
static void check_applied(agent *a)
{
    if (a->applied_generation == a->wanted_generation)
        return;
    for (ct *c = a->cts; c; c = c->next)
        if ((c->desired && (c->phase == CT_QUEUED || c->phase == CT_STARTING)) || c->replacement)
            return;
    a->applied_generation = a->wanted_generation;
    berth_info("applied generation %" PRIu64, a->applied_generation);
    session_applied(a);
}

/* --- inotify --------------------------------------------------------------------- */

static void on_inotify(berth_loop_io *io, uint32_t events)
{
    agent *a = berth_container_of(io, agent, inotify_io);
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

    (void)events;
    for (;;) {
        ssize_t n = read(io->fd, buf, sizeof(buf));

        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;

            p += sizeof(*ev) + ev->len;
            if (ev->len == 0 || strcmp(ev->name, BERTH_STATEDIR_STATE) != 0)
                continue;
            for (ct *c = a->cts; c; c = c->next)
                if (c->wd == ev->wd && c->dirfd >= 0) {
                    ct_refresh(c);
                    break;
                }
        }
    }
}

/* --- open: adopt what is on disk ------------------------------------------------------ */

static void adopt(agent *a, const char *id)
{
    _cleanup_close_ int dfd = openat(a->containers_dirfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ContainerPlan *plan = NULL;
    MonitorState *ms = NULL;
    berth_monitor_liveness l;
    ct *c;

    if (dfd < 0)
        return;
    if (berth_monitor_probe(dfd, &l, NULL) < 0 || l == BERTH_MONITOR_NONE ||
        berth_statedir_read_plan(dfd, &plan, NULL) < 0 || !plan->spec ||
        strcmp(plan->spec->id, id) != 0) {
        /* Half-made (no monitor ever ran, or no plan): nothing to keep. */
        berth_info("container %s: removing the leftovers of an unfinished start", id);
        if (plan)
            container_plan_free_unpacked(plan, NULL);
        close(TAKE_FD(dfd));
        berth_rm_rf_at(a->containers_dirfd, id, NULL);
        return;
    }
    c = ct_new(a, id);
    if (!c) {
        container_plan_free_unpacked(plan, NULL);
        return;
    }
    c->dirfd = TAKE_FD(dfd);
    c->plan = plan;
    c->spec = plan->spec;
    c->generation = plan->generation;
    c->desired = true; /* until the controller says otherwise */
    if (l == BERTH_MONITOR_ALIVE && berth_statedir_read_state(c->dirfd, &ms, NULL) == 0 &&
        ms->monitor_pid > 0 && ct_watch(c, ms->monitor_pid) == 0) {
        c->phase = CT_SUPERVISED;
        berth_info("container %s: re-adopted (monitor %d)", id, ms->monitor_pid);
        status_from_state(c, ms);
    } else if (l == BERTH_MONITOR_EXITED ||
               /* it ended between the probe and the watch */
               (berth_monitor_probe(c->dirfd, &l, NULL) == 0 && l == BERTH_MONITOR_EXITED)) {
        c->phase = CT_DONE;
        berth_info("container %s: ended while berthd was away", id);
        ct_refresh(c);
    } else {
        c->phase = CT_DONE;
        reap_orphan(a, c);
        ct_set_status(c, CONTAINER_FAILED, "MonitorLost", "its monitor died while berthd was away");
        c->restart_when_done = true;
    }
    if (ms)
        monitor_state_free_unpacked(ms, NULL);
}

int containers_open(agent *a, berth_error **err)
{
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    int fd;

    if (snprintf(a->containers_dir, sizeof(a->containers_dir), "%s/containers", a->cfg.state_dir) >=
        (int)sizeof(a->containers_dir))
        return berth_error_set(err, ENAMETOOLONG, "state dir %s", a->cfg.state_dir);
    if (berth_mkdir_p(a->containers_dir, 0700, err) < 0)
        return -1;
    a->containers_dirfd = open(a->containers_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->containers_dirfd < 0)
        return berth_error_errno(err, "open %s", a->containers_dir);
    a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (a->inotify_fd < 0)
        return berth_error_errno(err, "inotify_init1");
    if (berth_loop_add(a->loop, &a->inotify_io, a->inotify_fd, EPOLLIN, on_inotify, err) < 0)
        return -1;
    fd = fcntl(a->containers_dirfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return berth_error_errno(err, "read %s", a->containers_dir);
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !berth_spec_id_valid(de->d_name))
            continue;
        adopt(a, de->d_name);
    }
    return 0;
}

void containers_close(agent *a)
{
    /* The containers keep running: only our watches go. */
    while (a->cts) {
        ct *c = a->cts;

        finish_stops(c, "berthd is shutting down");
        ct_drop(a, c);
    }
    if (a->inotify_io.fd >= 0)
        berth_loop_remove(a->loop, &a->inotify_io);
    if (a->inotify_fd >= 0)
        close(a->inotify_fd);
    if (a->containers_dirfd >= 0)
        close(a->containers_dirfd);
}

/* --- apply -------------------------------------------------------------------------- */

/* Stop c's monitor (its container goes; the directory on done). */
static void ct_stop(ct *c, int64_t grace_ms)
{
    berth_error *err = NULL;

    if (c->phase == CT_SUPERVISED) {
        if (berth_monitor_stop(c->dirfd, grace_ms, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "container %s: stop", c->id);
            berth_error_free(&err);
            ct_monitor_done(c); /* no monitor listened: settle now */
            return;
        }
        c->phase = CT_STOPPING;
    } else if (c->phase == CT_QUEUED || c->phase == CT_DONE) {
        ct_monitor_done(c);
    }
    /* STARTING: on_answer stops it once the monitor answered. */
}

int containers_apply(agent *a, uint64_t gen, ContainerSpec **specs, size_t n, berth_error **err)
{
    for (ct *c = a->cts; c; c = c->next)
        c->desired = false;
    a->wanted_generation = gen;
    for (size_t i = 0; i < n; i++) {
        const ContainerSpec *s = specs[i];
        ct *c;

        if (!s || !berth_spec_id_valid(s->id)) {
            berth_warn("assignments: skipping a container without a valid id");
            continue;
        }
        c = find(a, s->id);
        if (c && c->desired) {
            berth_warn("assignments: container %s is listed twice; keeping the first", s->id);
            continue;
        }
        if (c && c->spec && spec_equal(c->spec, s) && !c->replacement) {
            c->desired = true;
            c->remove_when_done = false;
            if (c->phase == CT_DONE && c->restart_when_done) {
                c->restart_when_done = false;
                c->phase = CT_QUEUED;
            }
            continue;
        }
        if (c) {
            /* Changed: stop this one, start the new spec in its place. */
            ContainerSpec *copy = spec_copy(s);

            if (!copy)
                return berth_error_make(err, ENOMEM, "assignments");
            if (c->replacement)
                container_spec_free_unpacked(c->replacement, NULL);
            c->replacement = copy;
            c->replacement_gen = gen;
            c->desired = true;
            berth_info("container %s changed: replacing it", c->id);
            ct_stop(c, ct_grace_ms(c));
            continue;
        }
        c = ct_new(a, s->id);
        if (!c || !(c->spec = spec_copy(s))) {
            if (c)
                ct_drop(a, c);
            return berth_error_make(err, ENOMEM, "assignments");
        }
        c->generation = gen;
        c->desired = true;
        c->phase = CT_QUEUED;
        notify(c, CONTAINER_STATE_UNSPECIFIED);
    }
    for (ct *c = a->cts, *next; c; c = next) {
        next = c->next;
        if (c->desired || c->remove_when_done)
            continue;
        berth_info("container %s is no longer assigned: stopping it", c->id);
        c->remove_when_done = true;
        if (c->replacement) {
            container_spec_free_unpacked(c->replacement, NULL);
            c->replacement = NULL;
        }
        ct_stop(c, ct_grace_ms(c));
    }
    start_queued(a);
    check_applied(a);
    return 0;
}

/* --- queries -------------------------------------------------------------------------- */

size_t containers_statuses(agent *a, const ContainerStatus **out, size_t max)
{
    size_t n = 0;

    for (ct *c = a->cts; c && n < max; c = c->next)
        out[n++] = &c->st;
    return n;
}

const ContainerSpec *containers_spec(agent *a, const char *id)
{
    ct *c = find(a, id);
    return c ? c->spec : NULL;
}

const ContainerStatus *containers_status(agent *a, const char *id)
{
    ct *c = find(a, id);
    return c ? &c->st : NULL;
}

bool containers_probe(agent *a, const char *id, uint32_t *ret_failures, const char **ret_message)
{
    ct *c = find(a, id);

    if (!c || !c->spec || !c->spec->liveness_probe)
        return false;
    *ret_failures = c->probe_failures;
    *ret_message = c->probe_message;
    return true;
}

const char *containers_dir_of(agent *a, const char *id)
{
    static char path[sizeof(((agent *)0)->containers_dir) + 80];
    ct *c = find(a, id);

    if (!c)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s", a->containers_dir, id);
    return path;
}

uint64_t containers_digest(agent *a)
{
    _cleanup_free_ const ContainerStatus **v = calloc(a->n_cts ? a->n_cts : 1, sizeof(*v));
    size_t n = 0;

    if (!v)
        return 0;
    for (ct *c = a->cts; c; c = c->next)
        v[n++] = &c->st;
    return berth_status_digest(v, n);
}

int containers_stop(agent *a, const char *id, int64_t grace_ms, containers_stop_fn done, void *data,
                    berth_error **err)
{
    ct *c = find(a, id);

    if (!c)
        return berth_error_set(err, ENOENT, "container %s: not on this node", id);
    if (c->n_stops == STOPS_MAX)
        return berth_error_set(err, EBUSY, "container %s: too many stop requests waiting", id);
    c->operator_stopped = true;
    c->restart_when_done = false;
    if (c->phase == CT_DONE) {
        done(&c->st, NULL, data);
        return 0;
    }
    c->stops[c->n_stops].fn = done;
    c->stops[c->n_stops].data = data;
    c->n_stops++;
    if (c->phase == CT_QUEUED) {
        c->phase = CT_DONE;
        ct_set_status(c, CONTAINER_EXITED, "Stopped", "stopped before it started");
        finish_stops(c, NULL);
        return 0;
    }
    if (c->phase == CT_SUPERVISED)
        ct_stop(c, grace_ms);
    return 0;
}
