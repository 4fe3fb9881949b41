/* The container table (see containers.h). berthd never holds a container's
 * life: it writes the plan, starts a monitor, watches the monitor's
 * state.pb through inotify and the monitor itself through a pidfd, and
 * turns both into the wire's ContainerStatus. */
#include "containers.h"

#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fnv.h"
#include "base/io.h"
#include "base/log.h"
#include "base/quantity.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/ref.h"
#include "pb/pb.h"
#include "protocol/digest.h"
#include "runtime/removal.h"
#include "spec/spec.h"
#include "spec/workload.h"
#include "statedir/statedir.h"

#include "pods.h"

#define STOPS_MAX 8
/* What a lost monitor left must be gone within this: killed processes go
 * in milliseconds, one stuck in the kernel holds the cleanup up. */
#define CLEANUP_TIMEOUT_MS 10000
/* A pod's container waiting for the pod's old sandbox to go tries again
 * after this. */
#define SANDBOX_RETRY_NS (100 * BERTH_NSEC_PER_MSEC)
/* a start whose devices are not free yet: tried again this much later */
#define DEVICE_RETRY_NS (1000 * BERTH_NSEC_PER_MSEC)
/* A pod whose network could not be made tries again, backing off to this. */
#define NET_RETRY_MAX_MS 30000
/* Host ports of one pod. */
#define POD_PORTS_MAX 256
/* How long a failed pull shows ErrImagePull before ImagePullBackOff. */
#define ERR_IMAGE_PULL_NS (2 * BERTH_NSEC_PER_SEC)
/* What a monitor makes in the state directory for an image's overlay, and
 * removes itself when it ends normally. */
static const char *const overlay_dirs[] = { "upper", "work", "rootfs" };

typedef enum ct_phase {
    CT_QUEUED,     /* wants a monitor; waiting for a start slot */
    CT_PULLING,    /* waiting for its image: a pull, or the backoff after a failed one */
    CT_STARTING,   /* monitor spawned, its answer pending */
    CT_SUPERVISED, /* a monitor runs it */
    CT_STOPPING,   /* asked its monitor to stop */
    CT_CLEANING,   /* its monitor was lost: removing what it left */
    CT_DONE,       /* no monitor: ended, failed, or never startable */
} ct_phase;

typedef struct ct ct;

struct ct {
    containers *t;
    ct *next;
    char id[BERTH_SPEC_ID_MAX + 1];
    int dirfd;
    ContainerSpec *spec; /* owned (from the plan) */
    ContainerPlan *plan; /* owns spec when read from disk */
    /* the parent of its cgroup as its plan on disk says (NULL: none
     * written yet): what its monitor made its cgroup under */
    char *cgroup_parent;
    uint64_t generation;
    ct_phase phase;
    bool desired;               /* in the current assignments */
    bool remove_when_done;      /* gone from the assignments: remove once stopped */
    bool operator_stopped;      /* Agent.Stop: stays down until its spec changes */
    ContainerSpec *replacement; /* changed spec: start it once this one is gone */
    uint64_t replacement_gen;
    bool restart_when_done; /* the monitor was lost: start a new one */
    /* its image: pulled (image set, owned) for the next start, or being pulled */
    ImageConfig *image;
    bool image_ready; /* image is this start's: no pull before the monitor */
    pull_waiter pw;
    berth_loop_timer pull_timer; /* the backoff after a failed pull */
    unsigned pull_failures;
    int64_t backoff_until_ns;                /* the next pull, after a failed one */
    char pull_error[256];                    /* what the failed one said */
    int64_t progress_ns;                     /* the last progress shown */
    char image_ref[BERTH_IMAGE_REF_MAX + 1]; /* status.image */
    char image_id[BERTH_IMAGE_REF_MAX + 80]; /* status.image_id */
    /* starting */
    int64_t spawned_ns; /* its monitor's start (monotonic) */
    berth_loop_io answer_io;
    berth_monitor_answer answer;
    /* supervised */
    int wd;
    int monitor_pid;
    berth_loop_io monitor_io;
    /* cleaning */
    berth_cgroup *cgroup;
    berth_removal *removal;
    /* pending Agent.Stop calls */
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
    /* runs, and its startup probe passed (or it has none): a sidecar that
     * lets the pod's next containers start */
    bool started;
    /* a pod's container: not before this (its pod's old sandbox goes) */
    int64_t retry_at_ns;
    /* evicted (an emptyDir past its sizeLimit): why; its status stays */
    char evicted[300];
    /* A pod of one container on the pod network has a sandbox too: its
     * member is made here (solo_pod), as if the spec named one. */
    bool solo_pod;
    PodMember solo;
    char pod_ip[16]; /* status.pod_ip */
    /* its pod's network could not be made: why, and how often (backoff) */
    char net_error[256];
    unsigned net_failures;
    /* its Secrets' and ConfigMaps' files on the tmpfs (configs.h), for the
     * plan; waiting for one the node was not sent (its status says which) */
    char env_file[PATH_MAX], config_dir[PATH_MAX];
    bool config_missing;
    bool config_nospace; /* its Secrets' files did not fit the tmpfs */
    /* its devices as resolved for its start (owned; NULL: none), and
     * status.devices pointing into them */
    DeviceEdits *edits;
    char **dev_names;
    /* what its lost monitor left could not be removed: its devices may
     * still be in use, held until it is dropped or started again */
    bool devices_stuck;
    /* too few of its devices free: why (tried again at retry_at_ns) */
    char device_error[256];
};

struct containers {
    containers_config cfg;
    char *dir; /* <state_dir>/containers */
    int dirfd;
    int inotify_fd;
    berth_loop_io inotify_io;
    ct *cts; /* newest first */
    size_t n_cts;
    int starting;         /* monitors started, not answered yet */
    bool assigned;        /* an assignment was applied: desired is the controller's word */
    uint64_t applied_gen; /* realised: every listed container started or failed */
    uint64_t wanted_gen;  /* the set being applied */
    pods *pods;           /* the sandboxes of pods of several containers */
    /* runs start_queued from the loop: a pod's container changed state,
     * which may let the next of its pod start */
    berth_loop_timer kick;
    /* the emptyDir sizeLimit checks */
    berth_loop_timer volume_timer;
    /* pod_sandbox's host ports (one at a time: the loop's thread) */
    berth_podnet_port sb_ports[POD_PORTS_MAX];
    /* for /metrics; and when the assignments being applied came */
    containers_stats stats;
    int64_t apply_since_ns;
};

static void ct_set_status(ct *c, ContainerState state, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void start_queued(containers *t);
static void check_applied(containers *t);
static void ct_settle(ct *c);
static void ct_stop(ct *c, int64_t grace_ms);
static void on_pull_timer(berth_loop_timer *timer);

/* The grace period of a stop: the spec's own, else the agent's default. */
static int64_t ct_grace_ms(const ct *c)
{
    if (c->spec && c->spec->stop_grace_ms > 0)
        return c->spec->stop_grace_ms;
    return c->t->cfg.stop_grace_ms;
}

/* --- table ------------------------------------------------------------------------------ */

static ct *find(const containers *t, const char *id)
{
    for (ct *c = t->cts; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static ct *ct_new(containers *t, const char *id)
{
    ct *c = berth_xcalloc(1, sizeof(*c));

    c->t = t;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->dirfd = -1;
    c->wd = -1;
    c->answer_io.fd = -1;
    c->monitor_io.fd = -1;
    berth_loop_timer_init(&c->pull_timer, on_pull_timer);
    container_status_init(&c->st);
    c->st.id = c->id;
    c->st.reason = c->reason;
    c->st.message = c->message;
    c->st.image = c->image_ref;
    c->st.image_id = c->image_id;
    c->st.pod_ip = c->pod_ip;
    c->st.state = CONTAINER_PENDING;
    c->next = t->cts;
    t->cts = c;
    t->n_cts++;
    return c;
}

static void close_io(containers *t, berth_loop_io *io)
{
    if (io->fd >= 0) {
        int fd = io->fd;

        berth_loop_remove(t->cfg.loop, io);
        close(fd);
    }
}

static void ct_unwatch(ct *c)
{
    if (c->wd >= 0) {
        inotify_rm_watch(c->t->inotify_fd, c->wd);
        c->wd = -1;
    }
    close_io(c->t, &c->monitor_io);
    close_io(c->t, &c->answer_io);
}

static void ct_free_spec(ct *c)
{
    if (c->plan)
        BERTH_PB_FREE(c->plan);
    else
        BERTH_PB_FREE(c->spec);
    c->plan = NULL;
    c->spec = NULL;
}

static const PodMember *ct_member(const ct *c)
{
    if (c->solo_pod)
        return &c->solo;
    return c->spec ? c->spec->pod : NULL;
}

/* c's spec is new (adopted: as it was started): whether it is a pod of
 * one container with a sandbox of its own (on the pod network), and its
 * member then. */
static void ct_spec_set(ct *c, bool adopted)
{
    const ContainerSpec *s = c->spec;

    if (adopted)
        c->solo_pod = s && !s->pod && c->plan && *c->plan->sandbox_dir;
    else
        c->solo_pod = s && !s->pod && c->t->cfg.pod_network && s->network != NETWORK_HOST;
    pod_member_init(&c->solo);
    if (!c->solo_pod)
        return;
    c->solo.pod = c->id;
    c->solo.name = (char *)(*berth_container_name(s) ? berth_container_name(s) : c->id);
    c->solo.role = POD_ROLE_APP;
}

static void ct_drop(ct *c)
{
    containers *t = c->t;

    for (ct **p = &t->cts; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    t->n_cts--;
    ct_unwatch(c);
    pulls_cancel(&c->pw);
    berth_loop_timer_cancel(t->cfg.loop, &c->pull_timer);
    BERTH_PB_FREE(c->image);
    berth_removal_cancel(c->removal);
    berth_cgroup_free(c->cgroup);
    if (c->dirfd >= 0)
        close(c->dirfd);
    ct_free_spec(c);
    BERTH_PB_FREE(c->replacement);
    free(c->cgroup_parent);
    if (t->cfg.devices)
        devices_release(t->cfg.devices, c->id);
    BERTH_PB_FREE(c->edits);
    free(c->dev_names);
    free(c);
}

/* c's devices are e (taken; NULL: none): status.devices names them. */
static void ct_set_edits(ct *c, DeviceEdits *e)
{
    BERTH_PB_FREE(c->edits);
    free(c->dev_names);
    c->edits = e;
    c->dev_names = NULL;
    c->st.devices = NULL;
    c->st.n_devices = 0;
    if (!e)
        return;
    c->dev_names = berth_xcalloc(e->n_cdi_devices + e->n_host_devices + 1, sizeof(char *));
    for (size_t i = 0; i < e->n_cdi_devices; i++)
        c->dev_names[c->st.n_devices++] = e->cdi_devices[i];
    for (size_t i = 0; i < e->n_host_devices; i++)
        c->dev_names[c->st.n_devices++] = e->host_devices[i];
    c->st.devices = c->dev_names;
}

/* --- status ----------------------------------------------------------------------------- */

static void notify(ct *c, ContainerState prev, bool removed)
{
    const containers_events *ev = &c->t->cfg.events;

    if (ct_member(c) && !berth_loop_timer_armed(&c->t->kick))
        berth_loop_timer_arm(c->t->cfg.loop, &c->t->kick, 0);
    /* its pod's address, while the pod has one */
    if (ct_member(c))
        pods_ip(c->t->pods, ct_member(c)->pod, c->pod_ip);
    else
        c->pod_ip[0] = '\0';

    if (ev->status_changed)
        ev->status_changed(&c->st, prev, removed, ev->data);
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
    notify(c, prev, false);
}

/* The reason of an exit the monitor recorded. */
static const char *exit_reason(const ExitRecord *last)
{
    if (!last)
        return CONTAINERS_REASON_ERROR;
    if (last->stopped)
        return CONTAINERS_REASON_STOPPED;
    if (*last->reason)
        return last->reason;
    return !last->exit_code && !last->signal ? CONTAINERS_REASON_COMPLETED
                                             : CONTAINERS_REASON_ERROR;
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
    c->st.ready = ms->phase == PHASE_RUNNING && !ms->starting && !ms->unready;
    c->started = ms->phase == PHASE_RUNNING && !ms->starting;
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
        snprintf(reason, sizeof(reason), "%s", CONTAINERS_REASON_BACKOFF);
        if (last && *last->reason)
            snprintf(message, sizeof(message), "last run: %s", last->reason);
        else if (last)
            snprintf(message, sizeof(message), "last run exited with %d", last->exit_code);
        break;
    case PHASE_EXITED:
        if (last && last->oom_killed) {
            state = CONTAINER_OOM_KILLED;
            snprintf(reason, sizeof(reason), "%s", CONTAINERS_REASON_OOM_KILLED);
        } else {
            state = CONTAINER_EXITED;
            snprintf(reason, sizeof(reason), "%s", exit_reason(last));
        }
        if (last) {
            c->st.started_unix_ns = last->started_unix_ns;
            /* its termination message */
            snprintf(message, sizeof(message), "%s", last->message);
        }
        break;
    case PHASE_FAILED:
        state = CONTAINER_FAILED;
        snprintf(reason, sizeof(reason), "%s", CONTAINERS_REASON_START_ERROR);
        snprintf(message, sizeof(message), "%s", ms->reason);
        break;
    default:
        return;
    }
    if (*c->evicted && state != CONTAINER_RUNNING) {
        state = CONTAINER_FAILED;
        snprintf(reason, sizeof(reason), "%s", CONTAINERS_REASON_EVICTED);
        snprintf(message, sizeof(message), "%s", c->evicted);
    }
    if (state != CONTAINER_RUNNING)
        c->st.pid = 0;
    if (state == prev && strcmp(reason, c->reason) == 0 && strcmp(message, c->message) == 0 &&
        before.restart_count == c->st.restart_count && before.health == c->st.health &&
        before.ready == c->st.ready && before.pid == c->st.pid &&
        before.exit_code == c->st.exit_code)
        return;
    c->st.state = state;
    snprintf(c->reason, sizeof(c->reason), "%s", reason);
    snprintf(c->message, sizeof(c->message), "%s", message);
    notify(c, prev, false);
}

/* --- pods ------------------------------------------------------------------------------- */

/* A container of a pod of several has its pod's sandbox and cgroup; the
 * pod's init containers run one after another, sidecars start in their
 * place and keep running, and the app containers start once all of them
 * are done (Kubernetes' order). */

static bool same_pod(const ct *a, const PodMember *m)
{
    const PodMember *am = ct_member(a);

    return am && strcmp(am->pod, m->pod) == 0;
}

static bool pod_in_use(const char *pod, void *data)
{
    const containers *t = data;

    for (const ct *c = t->cts; c; c = c->next)
        if (ct_member(c) && strcmp(ct_member(c)->pod, pod) == 0)
            return true;
    return false;
}

/* What a monitor may take of its pod's memory, where it shares the pod's
 * cgroup (systemd's driver). */
#define MONITOR_MEMORY_OVERHEAD ((int64_t)4 << 20)

/* How long a monitor's process waits for systemd to put it in its scope. */
#define MONITOR_PLACE_TIMEOUT_MS 10000

/* Under systemd's driver, the slice and scope of the container's monitor
 * (false when no name fits: not for a valid id). */
static bool ct_units(const ct *c, char *slice, char *scope, size_t size)
{
    if (ct_member(c))
        pods_slice(c->t->pods, ct_member(c)->pod, slice, size);
    else
        snprintf(slice, size, "%s", c->t->cfg.slice);
    return *slice && berth_systemd_container_scope(c->id, scope, size);
}

/* The parent of the container's cgroup for a new monitor: its pod's, or
 * the node's; under systemd's driver its monitor's scope. */
static void ct_new_cgroup_parent(const ct *c, char *buf, size_t size)
{
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1], scope[BERTH_SYSTEMD_UNIT_MAX + 1];

    if (c->t->cfg.systemd) {
        if (!ct_units(c, slice, scope, sizeof(slice)) ||
            !berth_systemd_unit_cgroup(slice, scope, buf, size))
            buf[0] = '\0';
    } else if (ct_member(c))
        pods_cgroup(c->t->pods, ct_member(c)->pod, buf, size);
    else
        snprintf(buf, size, "%s", c->t->cfg.cgroup_parent);
}

/* The parent of the container's cgroup: the one its plan says (one
 * adopted may have been made under another driver or cgroup_parent), else
 * where a new monitor would make it. */
static void ct_cgroup_parent(const ct *c, char *buf, size_t size)
{
    if (c->cgroup_parent)
        snprintf(buf, size, "%s", c->cgroup_parent);
    else
        ct_new_cgroup_parent(c, buf, size);
}

struct monitor_place {
    berth_systemd *sd;
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1];
    char scope[BERTH_SYSTEMD_UNIT_MAX + 1];
    char description[300];
};

/* In the monitor's process before its exec (statedir.h): its own scope,
 * delegated, waited for, so that it makes the container's cgroup there. */
static int place_monitor(void *data, char *msg, size_t size)
{
    const struct monitor_place *mp = data;
    berth_error *err = NULL;

    /* (the handle holds no connection between calls: this one is the
     * process's own) */
    if (berth_systemd_start_scope(mp->sd, mp->scope, mp->slice, mp->description, getpid(), true,
                                  MONITOR_PLACE_TIMEOUT_MS, &err) < 0) {
        snprintf(msg, size, "%s", err->msg);
        berth_error_free(&err);
        return -1;
    }
    return 0;
}

static bool ct_has_monitor(const ct *c)
{
    return c->phase == CT_STARTING || c->phase == CT_SUPERVISED || c->phase == CT_STOPPING ||
           c->phase == CT_CLEANING;
}

static bool init_completed(const ct *c)
{
    return c->phase == CT_DONE && c->st.state == CONTAINER_EXITED && c->st.exit_code == 0 &&
           c->st.signal == 0 && strcmp(c->reason, CONTAINERS_REASON_STOPPED) != 0;
}

static size_t pod_ports(const containers *t, const char *pod, berth_podnet_port *out, size_t max);

/* The settings of c's pod's sandbox, from c (its pod's containers carry
 * the same), and the pod's limits as Kubernetes sizes a pod: the larger
 * of its containers' sum (sidecars in) and its largest init container,
 * when every one of them has a limit. */
static void pod_sandbox(const ct *c, pods_sandbox *ret, berth_cgroup_limits *lim)
{
    const PodMember *m = ct_member(c);
    int64_t mem_sum = 0, mem_init = 0, cpu_sum = 0, cpu_init = 0;
    bool mem_all = true, cpu_all = true;

    for (const ct *o = c->t->cts; o; o = o->next) {
        const Resources *r;
        bool init;

        if (!same_pod(o, m))
            continue;
        r = o->spec->resources;
        init = ct_member(o)->role == POD_ROLE_INIT;
        if (!r || r->memory_bytes <= 0)
            mem_all = false;
        else if (init)
            mem_init = r->memory_bytes > mem_init ? r->memory_bytes : mem_init;
        else
            mem_sum += r->memory_bytes;
        if (!r || r->cpu_millis <= 0 || r->cpu_quota_us > 0)
            cpu_all = false;
        else if (init)
            cpu_init = r->cpu_millis > cpu_init ? r->cpu_millis : cpu_init;
        else
            cpu_sum += r->cpu_millis;
    }
    memset(lim, 0, sizeof(*lim));
    /* No device rule of its own: v1 cgroups nest device rules and v2
     * device programs, so the pod's would bound what any member may be
     * given (a privileged one everything, another its devices, known only
     * at its start, or after a new spec, long after the pod's cgroup was
     * made). The pod's cgroup holds no process of its own: each member's
     * cgroup has its rules, the pause's the standard set. */
    lim->inherit_devices = true;
    if (mem_all)
        lim->memory_bytes = mem_sum > mem_init ? mem_sum : mem_init;
    /* under systemd's driver the pod's monitors are in its slice too:
     * their memory on top of the containers', as Kubernetes adds a
     * RuntimeClass's pod overhead (the pause's is in the margin) */
    if (mem_all && c->t->cfg.systemd)
        for (const ct *o = c->t->cts; o; o = o->next)
            if (same_pod(o, m))
                lim->memory_bytes += MONITOR_MEMORY_OVERHEAD;
    if (cpu_all)
        lim->cpu_quota_us = (cpu_sum > cpu_init ? cpu_sum : cpu_init) * 100;
    *ret = (pods_sandbox){
        .hostname = *c->spec->hostname ? c->spec->hostname : m->pod,
        .host_network = c->spec->network == NETWORK_HOST,
        .share_pid = m->share_process_namespace,
        .limits = lim,
        .dns = c->spec->dns,
        .ports = c->t->sb_ports,
        .n_ports = pod_ports(c->t, m->pod, c->t->sb_ports, POD_PORTS_MAX),
    };
}

/* Whether c may start now; *ret_why says what it waits for when not. */
static bool ct_gate(const ct *c, const char **ret_why)
{
    const PodMember *m = ct_member(c);
    bool others_run = false;

    *ret_why = NULL;
    if (c->retry_at_ns > berth_now_mono_ns() && (m || *c->device_error)) {
        *ret_why = *c->device_error ? c->device_error
                   : *c->net_error  ? c->net_error
                                    : "waiting for the pod's old sandbox to go";
        return false;
    }
    if (!m)
        return true;
    for (const ct *o = c->t->cts; o; o = o->next) {
        const PodMember *om;

        if (o == c || !same_pod(o, m))
            continue;
        om = ct_member(o);
        others_run |= ct_has_monitor(o);
        if (om->role == POD_ROLE_APP ||
            (m->role != POD_ROLE_APP && om->init_index >= m->init_index))
            continue;
        if (om->role == POD_ROLE_INIT && !init_completed(o)) {
            *ret_why = "waiting for init container to complete";
            return false;
        }
        if (om->role == POD_ROLE_SIDECAR && !o->started) {
            *ret_why = "waiting for sidecar to start";
            return false;
        }
    }
    /* a sandbox made anew is for no container of the old one */
    if (others_run) {
        pods_sandbox sb;
        berth_cgroup_limits lim;

        pod_sandbox(c, &sb, &lim);
        if (!pods_whole(c->t->pods, m->pod, &sb)) {
            *ret_why = "waiting for the pod's containers to stop (its sandbox changed)";
            return false;
        }
    }
    return true;
}

/* The sandbox of pod broke (its pause died): its containers stop and
 * start again, init containers first, in a new one. */
static void on_pod_lost(const char *pod, void *data)
{
    containers *t = data;

    for (ct *c = t->cts; c; c = c->next) {
        if (!ct_member(c) || strcmp(ct_member(c)->pod, pod) != 0 || !c->desired ||
            c->remove_when_done || c->replacement)
            continue;
        if (c->phase == CT_SUPERVISED || c->phase == CT_STARTING) {
            c->replacement = BERTH_PB_COPY(ContainerSpec, c->spec);
            c->replacement_gen = c->generation;
            ct_stop(c, ct_grace_ms(c));
        } else if (c->phase == CT_DONE && !c->operator_stopped &&
                   (ct_member(c)->role == POD_ROLE_INIT ||
                    c->spec->restart_policy == RESTART_ALWAYS ||
                    (c->spec->restart_policy == RESTART_ON_FAILURE && !init_completed(c)))) {
            /* a new sandbox runs the init containers again; what ended
             * for good stays ended */
            c->phase = CT_QUEUED;
        }
    }
    start_queued(t);
    check_applied(t);
}

/* A pod's network being made (CNI) is made or failed: its containers'
 * start goes on. */
static void on_network_done(const char *pod, void *data)
{
    containers *t = data;

    for (ct *c = t->cts; c; c = c->next)
        /* (all of them: but not those backing off after a failure) */
        if (ct_member(c) && c->phase == CT_QUEUED &&
            (pod ? strcmp(ct_member(c)->pod, pod) == 0 : !*c->net_error))
            c->retry_at_ns = 0;
    /* now, also when the kick waits for a later retry */
    berth_loop_timer_arm(t->cfg.loop, &t->kick, 0);
}

/* Kubernetes 1.29: once a pod's app containers have all ended for good,
 * its sidecars are stopped (and stay stopped). */
static void stop_idle_sidecars(containers *t)
{
    for (ct *c = t->cts; c; c = c->next) {
        const PodMember *m = ct_member(c);
        bool apps = false, all_done = true;

        if (!m || m->role != POD_ROLE_SIDECAR || c->phase != CT_SUPERVISED || c->operator_stopped)
            continue;
        for (const ct *o = t->cts; o; o = o->next)
            if (same_pod(o, m) && ct_member(o)->role == POD_ROLE_APP) {
                apps = true;
                all_done &= o->phase == CT_DONE && o->desired;
            }
        if (apps && all_done) {
            berth_info("pod %s: its containers have ended: stopping sidecar %s", m->pod, m->name);
            c->operator_stopped = true;
            ct_stop(c, ct_grace_ms(c));
        }
    }
}

/* --- emptyDir sizeLimit ---------------------------------------------------------------------- */

#define VOLUME_WALK_MAX 100000 /* entries a check looks at, per volume */

static int64_t walk_limit, walk_used;
static size_t walk_entries;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)type;
    (void)ftw;
    walk_used += (int64_t)st->st_blocks * 512;
    /* past the limit, or too many to look at in one go: enough */
    return walk_used > walk_limit || ++walk_entries > VOLUME_WALK_MAX;
}

/* Whether the volume at path uses more than limit bytes on disk. */
static bool volume_over(const char *path, int64_t limit)
{
    walk_limit = limit;
    walk_used = 0;
    walk_entries = 0;
    nftw(path, walk_one, 16, FTW_PHYS | FTW_MOUNT);
    return walk_used > limit;
}

/* The kubelet's eviction: every container of c's pod stops and stays
 * FAILED, Evicted, with Kubernetes' message. */
static void evict(ct *c, const char *volume, int64_t limit)
{
    const PodMember *m = ct_member(c);
    char lim[32];

    berth_format_bytes(limit, lim, sizeof(lim));
    for (ct *o = c->t->cts; o; o = o->next) {
        if (o != c && (!m || !same_pod(o, m)))
            continue;
        snprintf(o->evicted, sizeof(o->evicted),
                 "Usage of EmptyDir volume \"%s\" exceeds the limit \"%s\".", volume, lim);
        berth_warn("container %s: evicted: %s", o->id, o->evicted);
        o->operator_stopped = true;
        o->restart_when_done = false;
        ct_set_status(o, CONTAINER_FAILED, CONTAINERS_REASON_EVICTED, "%s", o->evicted);
        ct_stop(o, ct_grace_ms(o));
    }
}

/* Each running container's disk emptyDir volumes against their sizeLimit
 * (a walk of at most VOLUME_WALK_MAX entries each). */
static void on_volume_timer(berth_loop_timer *timer)
{
    containers *t = berth_container_of(timer, containers, volume_timer);
    int64_t every = t->cfg.volume_stats_interval_ns > 0 ? t->cfg.volume_stats_interval_ns
                                                        : 10 * BERTH_NSEC_PER_SEC;

    for (ct *c = t->cts, *next; c; c = next) {
        next = c->next;
        if (c->phase != CT_SUPERVISED || *c->evicted)
            continue;
        for (size_t i = 0; i < c->spec->n_mounts; i++) {
            const Mount *mt = c->spec->mounts[i];
            char dir[PATH_MAX], path[PATH_MAX + 256];

            if (mt->type != MOUNT_EMPTY_DIR || mt->memory || mt->tmpfs_size_bytes <= 0)
                continue;
            if (ct_member(c))
                pods_volumes_dir(t->pods, ct_member(c)->pod, dir, sizeof(dir));
            else
                snprintf(dir, sizeof(dir), "%s/%s/volumes", t->dir, c->id);
            snprintf(path, sizeof(path), "%s/%s", dir, mt->source);
            if (volume_over(path, mt->tmpfs_size_bytes)) {
                evict(c, mt->source, mt->tmpfs_size_bytes);
                /* the list changed under us: again at the next tick */
                berth_loop_timer_arm(t->cfg.loop, &t->volume_timer, berth_now_mono_ns() + every);
                return;
            }
        }
    }
    berth_loop_timer_arm(t->cfg.loop, &t->volume_timer, berth_now_mono_ns() + every);
}

static void on_kick(berth_loop_timer *timer)
{
    containers *t = berth_container_of(timer, containers, kick);

    stop_idle_sidecars(t);
    start_queued(t);
    check_applied(t);
}

/* --- monitors ----------------------------------------------------------------------------- */

static void ct_monitor_done(ct *c);

static void on_monitor_gone(berth_loop_io *io, uint32_t events)
{
    (void)events;
    ct_monitor_done(berth_container_of(io, ct, monitor_io));
}

/* Watch the container's directory (state.pb is renamed into it). */
static void ct_watch_dir(ct *c)
{
    char path[PATH_MAX];

    if (c->wd >= 0)
        return;
    snprintf(path, sizeof(path), "%s/%s", c->t->dir, c->id);
    c->wd = inotify_add_watch(c->t->inotify_fd, path, IN_MOVED_TO | IN_ONLYDIR);
    if (c->wd < 0)
        berth_warn("container %s: inotify: %s", c->id, strerror(errno));
}

/* Follow the monitor monitor_pid through a pidfd. false: it is gone
 * already (the caller settles the container). A monitor that cannot be
 * watched is still followed through state.pb. */
static bool ct_follow(ct *c, int monitor_pid)
{
    berth_monitor_liveness l;
    berth_error *err = NULL;
    int pidfd;

    if (c->monitor_io.fd >= 0 && c->monitor_pid == monitor_pid)
        return true;
    close_io(c->t, &c->monitor_io);
    /* A pidfd, then the lock: the pid in state.pb may be stale (the
     * monitor gone, the pid reused), the lock cannot be. */
    pidfd = (int)syscall(SYS_pidfd_open, monitor_pid, 0);
    if (pidfd < 0 && errno == ESRCH)
        return false;
    if (berth_monitor_probe(c->dirfd, &l, NULL) == 0 && l != BERTH_MONITOR_ALIVE) {
        if (pidfd >= 0)
            close(pidfd);
        return false;
    }
    if (pidfd < 0) {
        berth_warn("container %s: pidfd of monitor %d: %s; following its state only", c->id,
                   monitor_pid, strerror(errno));
        return true;
    }
    if (berth_loop_add(c->t->cfg.loop, &c->monitor_io, pidfd, EPOLLIN, on_monitor_gone, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err,
                        "container %s: watch monitor %d; following its state only", c->id,
                        monitor_pid);
        berth_error_free(&err);
        close(pidfd);
        return true;
    }
    c->monitor_pid = monitor_pid;
    return true;
}

/* Read state.pb and follow it. true: the monitor turned out to be gone
 * and the container was settled (it may be freed: the caller stops). */
static bool ct_refresh(ct *c)
{
    MonitorState *ms = NULL;
    bool gone = false;

    if (berth_statedir_read_state(c->dirfd, &ms, NULL) < 0)
        return false;
    if (ms->monitor_pid > 0 && (c->phase == CT_SUPERVISED || c->phase == CT_STOPPING))
        gone = !ct_follow(c, ms->monitor_pid);
    status_from_state(c, ms);
    BERTH_PB_FREE(ms);
    /* It finished before we could follow it (a quick exit, a failed run). */
    if (gone)
        ct_monitor_done(c);
    return gone;
}

static void finish_stops(ct *c, const berth_error *err)
{
    for (size_t i = 0; i < c->n_stops; i++)
        c->stops[i].fn(err ? NULL : &c->st, err, c->stops[i].data);
    c->n_stops = 0;
}

/* Remove a container's directory (its monitor is gone). */
static void ct_remove_dir(ct *c)
{
    berth_error *err = NULL;
    char volumes[PATH_MAX];

    /* the tmpfs of its Memory volumes first (a pod's are the sandbox's) */
    snprintf(volumes, sizeof(volumes), "%s/%s/volumes", c->t->dir, c->id);
    if (berth_volumes_release(volumes, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "container %s: its volumes", c->id);
        berth_error_free(&err);
    }

    if (berth_rm_rf_at(c->t->dirfd, c->id, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "container %s: remove its directory", c->id);
        berth_error_free(&err);
    }
    /* and its Secrets' files (the tmpfs) */
    if (c->t->cfg.configs) {
        bool room = false;

        configs_remove(c->t->cfg.configs, c->id);
        /* room on the tmpfs: those it was too full for try again (from
         * the loop: this runs inside other walks of the table) */
        for (ct *o = c->t->cts; o; o = o->next)
            if (o != c && o->config_nospace && o->phase == CT_DONE && o->desired) {
                o->config_nospace = false;
                o->phase = CT_QUEUED;
                room = true;
            }
        if (room)
            berth_loop_timer_arm(c->t->cfg.loop, &c->t->kick, berth_now_mono_ns());
    }
}

/* The orphan's cgroup is gone (or could not be removed): the writable layer
 * the monitor would have removed goes too, then the container settles. */
static void on_cleaned(const berth_error *err, void *data)
{
    ct *c = data;

    c->removal = NULL;
    berth_cgroup_free(c->cgroup);
    c->cgroup = NULL;
    if (err) {
        berth_log_error(BERTH_LOG_ERROR, err, "container %s: clean up after its lost monitor",
                        c->id);
        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_MONITOR_LOST,
                      "its monitor died; what it left could not be removed: %s", err->msg);
        c->restart_when_done = false;
        c->devices_stuck = true;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(overlay_dirs); i++)
        berth_rm_rf_at(c->dirfd, overlay_dirs[i], NULL);
    ct_settle(c);
}

/* A monitor that died without its final record (killed): its container
 * may still run, orphaned. Kill what is left in its cgroup and remove it,
 * from the loop; the container settles once that is done. */
static void ct_clean_up(ct *c)
{
    containers *t = c->t;
    char path[PATH_MAX];

    c->phase = CT_CLEANING;
    ct_cgroup_parent(c, path, sizeof(path));
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", c->id);
    if (berth_cgroup_open(t->cfg.cgroups, path, &c->cgroup, NULL) < 0) {
        on_cleaned(NULL, c); /* no cgroup: nothing of it runs */
        return;
    }
    berth_warn("container %s: its monitor was lost; killing what is left", c->id);
    c->removal =
        berth_removal_start_cgroup(t->cfg.loop, c->cgroup, CLEANUP_TIMEOUT_MS, on_cleaned, c);
}

/* The monitor is gone (exited or lost). */
static void ct_monitor_done(ct *c)
{
    berth_monitor_liveness l = BERTH_MONITOR_LOST;

    ct_unwatch(c);
    c->phase = CT_DONE; /* no monitor to follow (ct_refresh) */
    if (c->dirfd >= 0)
        berth_monitor_probe(c->dirfd, &l, NULL);
    if (l == BERTH_MONITOR_LOST && c->dirfd >= 0) {
        bool again = c->desired && !c->remove_when_done && !c->operator_stopped;

        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_MONITOR_LOST, "its monitor died; %s",
                      again ? "starting a new one" : "cleaned up");
        c->restart_when_done = again;
        ct_clean_up(c);
        return;
    }
    if (c->dirfd >= 0)
        ct_refresh(c);
    ct_settle(c);
}

/* No monitor, nothing left to clean: answer the stops waiting, then remove,
 * replace or restart the container as wanted. */
static void ct_settle(ct *c)
{
    containers *t = c->t;
    bool had_devices = c->edits != NULL;

    c->phase = CT_DONE;
    finish_stops(c, NULL);
    /* Its devices are free again: a container that ended holds none (as
     * the kubelet frees a terminated pod's). A start picks anew. */
    if (!c->devices_stuck) {
        if (t->cfg.devices)
            devices_release(t->cfg.devices, c->id);
        ct_set_edits(c, NULL);
        if (had_devices && !c->remove_when_done && !c->replacement)
            notify(c, c->st.state, false);
    }
    /* its pod's others may go on now (a sidecar to stop) */
    if (ct_member(c) && !berth_loop_timer_armed(&t->kick))
        berth_loop_timer_arm(t->cfg.loop, &t->kick, 0);
    if (c->remove_when_done && !c->replacement) {
        char pod[BERTH_SPEC_ID_MAX + 1] = "";

        if (ct_member(c))
            snprintf(pod, sizeof(pod), "%s", ct_member(c)->pod);
        ct_remove_dir(c);
        notify(c, c->st.state, true);
        ct_drop(c);
        if (*pod && !pod_in_use(pod, t))
            pods_release(t->pods, pod);
        check_applied(t);
        return;
    }
    if (c->replacement) {
        /* Same id, new spec: a fresh directory. */
        ct_remove_dir(c);
        close(c->dirfd);
        c->dirfd = -1;
        ct_free_spec(c);
        BERTH_PB_FREE(c->image);
        c->image = NULL;
        c->image_ready = false;
        c->pull_failures = 0;
        c->image_id[0] = '\0';
        c->spec = c->replacement;
        ct_spec_set(c, false);
        c->generation = c->replacement_gen;
        c->evicted[0] = '\0';
        c->replacement = NULL;
        c->remove_when_done = false;
        c->operator_stopped = false;
        c->restart_when_done = false;
        c->phase = CT_QUEUED;
    } else if (c->restart_when_done && t->assigned) {
        c->restart_when_done = false;
        c->phase = CT_QUEUED;
    }
    start_queued(t);
    check_applied(t);
}

static void on_answer(berth_loop_io *io, uint32_t events)
{
    ct *c = berth_container_of(io, ct, answer_io);
    containers *t = c->t;
    berth_error *err = NULL;
    pid_t pid = 0;
    int r;

    (void)events;
    r = berth_monitor_answer_read(io->fd, &c->answer, &pid, &err);
    if (r == 0)
        return;
    close_io(t, io);
    t->starting--;
    if (r > 0) {
        berth_info("container %s running, pid %d", c->id, (int)pid);
        berth_prom_histogram_observe_ns(&t->stats.start_seconds,
                                        berth_now_mono_ns() - c->spawned_ns);
        c->phase = CT_SUPERVISED;
        if (ct_refresh(c))
            return; /* already over, and settled */
    } else {
        /* The monitor wrote its FAILED state before answering. */
        berth_log_error(BERTH_LOG_WARN, err, "container %s", c->id);
        c->phase = CT_DONE;
        ct_refresh(c);
        if (c->st.state != CONTAINER_FAILED)
            ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_START_ERROR, "%s", err->msg);
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
    start_queued(t);
    check_applied(t);
}

/* The status's image and image id: the reference as normalized and
 * repository@digest (Kubernetes' imageID); a directory image by its
 * name. */
static void ct_set_image(ct *c, const ImageConfig *img)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *ref = NULL;
    _cleanup_free_ char *repo = NULL;

    c->image_id[0] = '\0';
    if (!img) {
        snprintf(c->image_ref, sizeof(c->image_ref), "%s", c->spec ? c->spec->image : "");
        return;
    }
    snprintf(c->image_ref, sizeof(c->image_ref), "%s", img->reference);
    if (berth_image_ref_parse(img->reference, &ref, NULL) == 0) {
        repo = berth_image_ref_repository(ref);
        snprintf(c->image_id, sizeof(c->image_id), "%s@%s", repo, img->digest);
    }
}

/* Why a spec cannot start here (its status), before any monitor; *ret_pull
 * whether its image must come through a pull first. */
static bool ct_startable(ct *c, bool *ret_pull)
{
    containers *t = c->t;
    berth_error *err = NULL;

    *ret_pull = false;
    if (berth_spec_validate(c->spec, &err) < 0) {
        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_INVALID_SPEC, "%s", err->msg);
        berth_error_free(&err);
        return false;
    }
    if (!*c->spec->image || berth_spec_dir_image(t->cfg.image_store, c->spec->image)) {
        BERTH_PB_FREE(c->image);
        c->image = NULL;
        c->image_ready = false;
        ct_set_image(c, NULL);
        return true;
    }
    {
        _cleanup_(berth_image_ref_freep) berth_image_ref *ref = NULL;

        if (berth_image_ref_parse(c->spec->image, &ref, NULL) < 0) {
            /* a directory image's name that is no reference */
            ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_IMAGE_NOT_FOUND,
                          "image %s not found in %s", c->spec->image, t->cfg.image_store);
            return false;
        }
    }
    *ret_pull = !c->image_ready;
    return true;
}

/* --- pulls -------------------------------------------------------------------------------- */

static int64_t pull_backoff_ms(const ct *c)
{
    int64_t base = c->t->cfg.pull_backoff_ms > 0 ? c->t->cfg.pull_backoff_ms : 10000;
    int64_t d = base;

    for (unsigned i = 1; i < c->pull_failures && d < 30 * base; i++)
        d *= 2;
    return d < 30 * base ? d : 30 * base;
}

static void on_pull_progress(pull_waiter *w, const pull_progress *p)
{
    ct *c = berth_container_of(w, ct, pw);
    int64_t now = berth_now_mono_ns();
    char done[32], total[32];

    /* Each status change is an event on the wire: once a second. */
    if (now - c->progress_ns < BERTH_NSEC_PER_SEC || p->total <= 0)
        return;
    c->progress_ns = now;
    berth_format_bytes_si(p->done, done, sizeof(done));
    berth_format_bytes_si(p->total, total, sizeof(total));
    ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_PULLING,
                  "Pulling image \"%s\": %s of %s, layer %zu of %zu (%s)", c->spec->image, done,
                  total, p->layer, p->n_layers, p->phase);
}

static void on_pull_done(pull_waiter *w, const pull_result *r)
{
    ct *c = berth_container_of(w, ct, pw);
    containers *t = c->t;

    if (!r->image) {
        bool never = berth_spec_pull_policy(c->spec) == BERTH_PULL_NEVER;
        int64_t delay;

        c->pull_failures++;
        delay = pull_backoff_ms(c) * BERTH_NSEC_PER_MSEC;
        c->backoff_until_ns = berth_now_mono_ns() + delay;
        c->st.next_restart_unix_ns = berth_now_real_ns() + delay;
        snprintf(c->pull_error, sizeof(c->pull_error), "%s", r->error);
        /* kubelet's words: ErrImagePull for the failed attempt, then
         * ImagePullBackOff while it waits (on_pull_timer) */
        if (never)
            ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_ERR_IMAGE_NEVER,
                          "Container image \"%s\" is not present with pull policy of Never",
                          c->spec->image);
        else
            ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_ERR_IMAGE_PULL,
                          "Failed to pull image \"%s\": %s", c->spec->image, r->error);
        berth_loop_timer_arm(t->cfg.loop, &c->pull_timer,
                             berth_now_mono_ns() + (never ? delay
                                                    : delay < 2 * ERR_IMAGE_PULL_NS
                                                        ? delay / 2
                                                        : ERR_IMAGE_PULL_NS));
        check_applied(t);
        return;
    }
    c->pull_failures = 0;
    c->st.next_restart_unix_ns = 0;
    BERTH_PB_FREE(c->image);
    c->image = BERTH_PB_COPY(ImageConfig, r->image);
    c->image_ready = true;
    ct_set_image(c, c->image);
    if (r->pulled)
        ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_PULLED,
                      "Successfully pulled image \"%s\" in %.3fs. Image size: %" PRId64 " bytes.",
                      c->spec->image, (double)r->duration_ns / 1e9, r->image->size);
    else
        ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_PULLED,
                      "Container image \"%s\" already present on machine", c->spec->image);
    c->phase = CT_QUEUED;
    start_queued(t);
    check_applied(t);
}

/* Ask for the image (again, after a backoff). */
static void ct_pull(ct *c)
{
    c->phase = CT_PULLING;
    c->progress_ns = berth_now_mono_ns();
    c->pw.progress = on_pull_progress;
    c->pw.done = on_pull_done;
    if (!c->image) {
        snprintf(c->image_ref, sizeof(c->image_ref), "%s", c->spec->image);
        c->image_id[0] = '\0';
    }
    ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_PULLING, "Pulling image \"%s\"",
                  c->spec->image);
    {
        char auth[PATH_MAX] = "";
        berth_error *err = NULL;

        /* the pod's imagePullSecrets, as a file on the Secrets' tmpfs */
        if (c->spec->n_image_pull_secrets && c->t->cfg.configs &&
            configs_pull_auth(c->t->cfg.configs, c->spec, auth, sizeof(auth), &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "container %s: its imagePullSecrets", c->id);
            berth_error_free(&err);
        }
        pulls_request(c->t->cfg.pulls, c->spec->image, berth_spec_pull_policy(c->spec),
                      *auth ? auth : NULL, &c->pw);
    }
}

static void on_pull_timer(berth_loop_timer *timer)
{
    ct *c = berth_container_of(timer, ct, pull_timer);

    if (c->phase != CT_PULLING || !c->desired || c->remove_when_done || c->replacement)
        return;
    if (berth_now_mono_ns() < c->backoff_until_ns) {
        ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_IMAGE_PULL_BACKOFF,
                      "Back-off pulling image \"%s\": %s", c->spec->image, c->pull_error);
        berth_loop_timer_arm(c->t->cfg.loop, &c->pull_timer, c->backoff_until_ns);
        return;
    }
    ct_pull(c);
}

/* No longer waiting for an image (stopped, removed, replaced). */
static void ct_pull_cancel(ct *c)
{
    pulls_cancel(&c->pw);
    berth_loop_timer_cancel(c->t->cfg.loop, &c->pull_timer);
    c->st.next_restart_unix_ns = 0;
}

void containers_images(const containers *t, char ***ret, size_t *ret_n)
{
    size_t n = 0;
    char **v = berth_xcalloc(2 * t->n_cts + 1, sizeof(*v));

    for (const ct *c = t->cts; c; c = c->next) {
        if (c->spec && *c->spec->image)
            v[n++] = berth_xstrdup(c->spec->image);
        /* the image it runs, by digest: the tag may have moved since */
        if (*c->image_id)
            v[n++] = berth_xstrdup(c->image_id);
    }
    *ret = v;
    *ret_n = n;
}

/* The pod's uid (metadata.uid): stable for the pod on this node, a UUID
 * made from the node's and the pod's names. */
static void pod_uid(const char *node, const char *pod, char buf[37])
{
    uint64_t h[2] = { BERTH_FNV1A_OFFSET, BERTH_FNV1A_PRIME * 31 };
    uint8_t b[16];

    for (int k = 0; k < 2; k++)
        h[k] = berth_fnv1a(berth_fnv1a(berth_fnv1a(h[k], node), "/"), pod);
    memcpy(b, h, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x50); /* version 5-like: a name's */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The spec's env_refs resolved ("NAME=value", into plan->env); a ref that
 * names no container of the pod is the spec's error. */
static int ct_env(const ct *c, ContainerPlan *plan, berth_error **err)
{
    const ContainerSpec *s = c->spec;
    const PodMember *m = ct_member(c);
    ContainerSpec *pod[BERTH_POD_CONTAINERS_MAX];
    size_t n = 0;
    char uid[37], ns[BERTH_NAMESPACE_BUF], pod_ip[16];
    berth_env_facts facts = {
        .pod = berth_id_split(m ? m->pod : c->id, ns),
        .namespace_ = ns,
        .uid = uid,
        .node = c->t->cfg.node_name ? c->t->cfg.node_name : "",
        .host_ip = c->t->cfg.node_ip ? c->t->cfg.node_ip : "",
        .node_cpu_millis = sysconf(_SC_NPROCESSORS_ONLN) * 1000,
        .node_memory_bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE),
    };

    /* its pod's address, the host's with its network */
    facts.pod_ip = s->network == NETWORK_HOST ? facts.host_ip : "";
    if (s->network != NETWORK_HOST && m && pods_ip(c->t->pods, m->pod, pod_ip))
        facts.pod_ip = pod_ip;
    pod_uid(facts.node, m ? m->pod : c->id, uid);
    for (const ct *o = c->t->cts; m && o && n < BERTH_POD_CONTAINERS_MAX; o = o->next)
        if (same_pod(o, m))
            pod[n++] = o->spec;
    plan->env = berth_xcalloc(s->n_env_refs + 1, sizeof(*plan->env));
    for (size_t i = 0; i < s->n_env_refs; i++) {
        char value[512];

        if (berth_env_ref_value(s->env_refs[i], &facts, s, pod, n, value, sizeof(value), err) < 0)
            return -1;
        plan->env[plan->n_env++] = berth_xasprintf("%s=%s", s->env_refs[i]->name, value);
    }
    return 0;
}

/* The container's directory with its plan, and no record of a previous
 * run (it must not read as this one's). */
static int ct_prepare_dir(ct *c, berth_error **err)
{
    containers *t = c->t;
    ContainerPlan plan = CONTAINER_PLAN_INIT;
    char cgroup_parent[PATH_MAX], sandbox_dir[PATH_MAX] = "", volumes_dir[PATH_MAX],
                                  seccomp[PATH_MAX] = "";
    int r;

    if (c->dirfd < 0) {
        if (mkdirat(t->dirfd, c->id, 0700) < 0 && errno != EEXIST)
            return berth_error_errno(err, "mkdir %s/%s", t->dir, c->id);
        c->dirfd = openat(t->dirfd, c->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (c->dirfd < 0)
            return berth_error_errno(err, "open %s/%s", t->dir, c->id);
    }
    plan.spec = c->spec;
    ct_new_cgroup_parent(c, cgroup_parent, sizeof(cgroup_parent));
    plan.cgroup_parent = cgroup_parent;
    plan.cgroup_delegated = t->cfg.systemd != NULL;
    if (ct_member(c))
        pods_dir(t->pods, ct_member(c)->pod, sandbox_dir, sizeof(sandbox_dir));
    plan.sandbox_dir = sandbox_dir;
    /* emptyDir volumes: the pod's, or the container's own */
    if (ct_member(c))
        pods_volumes_dir(t->pods, ct_member(c)->pod, volumes_dir, sizeof(volumes_dir));
    else
        snprintf(volumes_dir, sizeof(volumes_dir), "%s/%s/volumes", t->dir, c->id);
    plan.volumes_dir = volumes_dir;
    if (c->spec->seccomp == SECCOMP_LOCALHOST)
        snprintf(seccomp, sizeof(seccomp), "%s/%s", t->cfg.seccomp_profile_dir,
                 c->spec->seccomp_profile);
    plan.seccomp_profile_path = seccomp;
    plan.image_store = (char *)t->cfg.image_store;
    plan.generation = c->generation;
    plan.image = c->image;
    plan.env_file = c->env_file;
    plan.config_dir = c->config_dir;
    plan.devices = c->edits;
    r = ct_env(c, &plan, err) < 0 ? -1 : berth_statedir_write_plan(c->dirfd, &plan, err);
    for (size_t i = 0; i < plan.n_env; i++)
        free(plan.env[i]);
    free(plan.env);
    if (r < 0)
        return -1;
    free(c->cgroup_parent);
    c->cgroup_parent = berth_xstrdup(cgroup_parent);
    unlinkat(c->dirfd, BERTH_STATEDIR_STATE, 0);
    unlinkat(c->dirfd, BERTH_STATEDIR_EXIT, 0);
    return 0;
}

/* The host ports of pod's containers (their specs' ports[].hostPort), at
 * most max into out. */
static size_t pod_ports(const containers *t, const char *pod, berth_podnet_port *out, size_t max)
{
    size_t n = 0;

    for (const ct *c = t->cts; c; c = c->next) {
        const ContainerSpec *s = c->spec;

        if (!ct_member(c) || strcmp(ct_member(c)->pod, pod) != 0 || !s ||
            s->network == NETWORK_HOST)
            continue;
        for (size_t i = 0; i < s->n_host_ports && n < max; i++) {
            const HostPort *hp = s->host_ports[i];
            struct in_addr a = { 0 };

            if (*hp->host_ip)
                inet_pton(AF_INET, hp->host_ip, &a);
            out[n++] = (berth_podnet_port){ strcmp(hp->protocol, "UDP") == 0, a.s_addr,
                                            (uint16_t)hp->host_port, (uint16_t)hp->container_port };
        }
    }
    return n;
}

/* Publish the host ports of c's pod (a failure is logged: the pod runs on,
 * unreachable there). */
static void ct_publish(const ct *c)
{
    berth_podnet_port ports[POD_PORTS_MAX];
    berth_error *err = NULL;
    size_t n;

    if (!ct_member(c))
        return;
    n = pod_ports(c->t, ct_member(c)->pod, ports, POD_PORTS_MAX);
    if (pods_publish(c->t->pods, ct_member(c)->pod, ports, n, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "pod %s", ct_member(c)->pod);
        berth_error_free(&err);
    }
}

/* Whether the node refuses what the effective spec asks (*err says why,
 * in Kubernetes' words where it has them): runAsNonRoot with uid 0, a
 * privileged container where the configuration allows none, a seccomp
 * profile that is not there. */
static bool ct_security_refused(const ct *c, const ContainerSpec *eff, berth_error **err)
{
    const PodMember *m = ct_member(c);
    char where[300];

    snprintf(where, sizeof(where), "pod: \"%s\", container: %s", m ? m->pod : c->id,
             m ? m->name : berth_container_name(c->spec));
    if (eff->run_as_non_root && (!eff->user || eff->user->uid == 0)) {
        berth_error_set(err, EPERM, "container has runAsNonRoot and image will run as root (%s)",
                        where);
        return true;
    }
    if (eff->privileged && !c->t->cfg.allow_privileged) {
        berth_error_set(err, EPERM,
                        "privileged containers are not allowed on this node (agent.yaml "
                        "allow_privileged) (%s)",
                        where);
        return true;
    }
    if (eff->seccomp == SECCOMP_LOCALHOST && !eff->privileged) {
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", c->t->cfg.seccomp_profile_dir, eff->seccomp_profile);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
            berth_error_set(err, ENOENT, "seccomp profile %s: %s (%s)", path,
                            stat(path, &st) < 0 ? strerror(errno) : "not a file", where);
            return true;
        }
    }
    return false;
}

/* Whether agent.yaml allows pods the host device at path. */
static bool device_allowed(const containers *t, const char *path)
{
    for (size_t i = 0; i < t->cfg.n_allowed_devices; i++)
        if (strcmp(t->cfg.allowed_devices[i], path) == 0)
            return true;
    return false;
}

/* The devices c's spec asks for, resolved and held for it: its host
 * devices (each one agent.yaml allows), its CDI devices by name, and for
 * each extended resource as many CDI devices of that kind as it asks,
 * picked among the free ones. What it held before is free first. *ret:
 * NULL when it asks for none. On failure nothing is held, and
 * *ret_reason is its status reason. */
static int ct_devices(ct *c, DeviceEdits **ret, const char **ret_reason, berth_error **err)
{
    containers *t = c->t;
    const ContainerSpec *s = c->spec;
    const Resources *r = s->resources;
    size_t n_ext = r ? r->n_extended : 0, n = 0, cap = s->n_devices + 1;
    char **names = berth_xcalloc(cap, sizeof(*names));
    DeviceEdits *e = berth_xcalloc(1, sizeof(*e));
    int ok = 0;

    device_edits_init(e);
    *ret_reason = CONTAINERS_REASON_CONFIG_ERROR;
    if (t->cfg.devices)
        devices_release(t->cfg.devices, c->id);
    c->devices_stuck = false;
    for (size_t i = 0; ok == 0 && i < s->n_devices; i++) {
        const DeviceRequest *d = s->devices[i];

        /* a CDI device by name would escape the counts placement keeps
         * (and an aggregate one take others' devices) */
        if (d->name[0] != '/')
            ok = berth_error_set(err, EPERM,
                                 "CDI device %s: a pod asks for CDI devices through "
                                 "resources.limits (%.*s: N), not by name",
                                 d->name, (int)strcspn(d->name, "="), d->name);
        else if (!device_allowed(t, d->name))
            ok = berth_error_set(err, EPERM,
                                 "device %s is not allowed on this node (agent.yaml "
                                 "allowed_devices)",
                                 d->name);
        else
            ok = berth_cdi_host_device(d->name, d->container_path, d->permissions, e, err);
    }
    for (size_t i = 0; ok == 0 && i < n_ext; i++) {
        const char *kind = r->extended[i]->key;
        char **picked = NULL;
        int64_t want = r->extended[i]->value;

        if (want <= 0)
            continue;
        *ret_reason = CONTAINERS_REASON_ADMISSION_ERROR;
        if (!t->cfg.devices)
            ok = berth_error_set(err, ENOENT, "the node has no devices of kind %s", kind);
        else
            ok = devices_allocate(t->cfg.devices, c->id, kind, want, &picked, err);
        if (ok < 0)
            break;
        names = berth_xreallocarray(names, cap += (size_t)want, sizeof(*names));
        for (int64_t j = 0; j < want; j++)
            names[n++] = picked[j];
        free(picked);
    }
    if (ok == 0 && n > 0 && !t->cfg.devices) {
        *ret_reason = CONTAINERS_REASON_CONFIG_ERROR;
        ok = berth_error_set(err, ENOENT,
                             "unresolvable CDI device %s: this node reads no CDI specs", names[0]);
    }
    if (ok == 0 && n > 0)
        ok = berth_cdi_resolve(devices_cdi(t->cfg.devices), names, n, e, err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (ok < 0) {
        if (t->cfg.devices)
            devices_release(t->cfg.devices, c->id);
        BERTH_PB_FREE(e);
        return -1;
    }
    if (e->n_nodes == 0 && e->n_mounts == 0 && e->n_env == 0 && e->n_hooks == 0 &&
        e->n_cdi_devices == 0) {
        BERTH_PB_FREE(e);
        e = NULL;
    }
    *ret = e;
    return 0;
}

/* Write the plan and spawn the monitor, without waiting for it. Failures
 * that are the spec's (a missing image) become its status. */
static void ct_start(ct *c)
{
    containers *t = c->t;
    berth_error *err = NULL;
    ContainerSpec *eff = NULL;
    char path[PATH_MAX];
    struct monitor_place place;
    int answer_fd;
    bool needs_pull;

    c->operator_stopped = false;
    c->device_error[0] = '\0'; /* set again below when they are still not free */
    if (!ct_startable(c, &needs_pull)) {
        c->phase = CT_DONE;
        return;
    }
    if (needs_pull) {
        ct_pull(c);
        return;
    }
    c->image_ready = false; /* a later start asks for the image again */
    /* What the image's config makes of the spec must run: checked here,
     * before any monitor (the monitor applies it the same way). */
    if (berth_spec_effective(c->spec, c->image, &eff, &err) < 0) {
        c->phase = CT_DONE;
        ct_set_status(c, CONTAINER_FAILED,
                      c->image ? CONTAINERS_REASON_CONFIG_ERROR : CONTAINERS_REASON_INVALID_SPEC,
                      "%s", err->msg);
        berth_error_free(&err);
        return;
    }
    if (ct_security_refused(c, eff, &err)) {
        c->phase = CT_DONE;
        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_CONFIG_ERROR, "%s", err->msg);
        berth_error_free(&err);
        BERTH_PB_FREE(eff);
        return;
    }
    BERTH_PB_FREE(eff);
    if (ct_member(c)) {
        pods_sandbox sb;
        berth_cgroup_limits lim;

        pod_sandbox(c, &sb, &lim);
        if (pods_ensure(t->pods, ct_member(c)->pod, &sb, &err) < 0) {
            if (err->code == EBUSY || err->code == EINPROGRESS) {
                /* stays queued: start_queued tries it again (after the
                 * CNI ADD, woken by on_network_done) */
                c->retry_at_ns = berth_now_mono_ns() + SANDBOX_RETRY_NS;
                berth_error_free(&err);
                return;
            }
            if (err->code == ENONET) {
                /* the kubelet's word; tried again, backing off to 30 s */
                int64_t wait_ms = 1000LL << (c->net_failures < 5 ? c->net_failures : 5);

                c->net_failures++;
                snprintf(c->net_error, sizeof(c->net_error), "%s", err->msg);
                c->retry_at_ns =
                    berth_now_mono_ns() +
                    (wait_ms > NET_RETRY_MAX_MS ? NET_RETRY_MAX_MS : wait_ms) * BERTH_NSEC_PER_MSEC;
                berth_log_error(BERTH_LOG_WARN, err, "container %s: its pod's network", c->id);
                ct_set_status(c, CONTAINER_PENDING, CONTAINERS_REASON_NETWORK_NOT_READY, "%s",
                              c->net_error);
                berth_error_free(&err);
                return;
            }
            c->phase = CT_DONE;
            ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_START_ERROR, "%s", err->msg);
            berth_error_free(&err);
            return;
        }
        c->retry_at_ns = 0;
        c->net_error[0] = '\0';
        c->net_failures = 0;
        ct_publish(c);
    }
    /* its Secrets and ConfigMaps: one the node was not sent holds it
     * back (CreateContainerConfigError) until it comes */
    if (configs_used_by(c->spec)) {
        if (!t->cfg.configs) {
            berth_error_set(&err, ENOTSUP, "this agent keeps no Secrets or ConfigMaps");
        } else if (configs_project(t->cfg.configs, c->spec, c->env_file, sizeof(c->env_file),
                                   c->config_dir, sizeof(c->config_dir), &err) == 0) {
            c->config_missing = c->config_nospace = false;
        }
        if (err) {
            c->phase = CT_DONE;
            /* missing: tried again when the objects change; no room on
             * the tmpfs: also when a container's files leave it */
            c->config_missing = err->code == ENOENT || err->code == ENOSPC;
            c->config_nospace = err->code == ENOSPC;
            ct_set_status(c, c->config_missing ? CONTAINER_PENDING : CONTAINER_FAILED,
                          CONTAINERS_REASON_CONFIG_ERROR, "%s", err->msg);
            berth_error_free(&err);
            return;
        }
    } else {
        c->env_file[0] = c->config_dir[0] = '\0';
    }
    /* its devices last, when nothing else holds it back: picked now, they
     * are its own until it ends */
    {
        DeviceEdits *edits = NULL;
        const char *reason;

        if (ct_devices(c, &edits, &reason, &err) < 0) {
            ct_set_edits(c, NULL);
            if (err->code == ENOSPC) {
                /* held by a container still on its way out (the controller
                 * counts an ended one's as free at once): tried again */
                c->retry_at_ns = berth_now_mono_ns() + DEVICE_RETRY_NS;
                snprintf(c->device_error, sizeof(c->device_error), "%s", err->msg);
                ct_set_status(c, CONTAINER_PENDING, reason, "%s", err->msg);
                berth_error_free(&err);
                return;
            }
            c->device_error[0] = '\0';
            c->phase = CT_DONE;
            ct_set_status(c, CONTAINER_FAILED, reason, "%s", err->msg);
            berth_error_free(&err);
            return;
        }
        ct_set_edits(c, edits);
        c->device_error[0] = '\0';
    }
    snprintf(path, sizeof(path), "%s/%s", t->dir, c->id);
    memset(&c->answer, 0, sizeof(c->answer));
    if (t->cfg.systemd) {
        if (!ct_units(c, place.slice, place.scope, sizeof(place.slice)))
            berth_error_set(&err, ENAMETOOLONG, "no systemd unit name fits container %s", c->id);
        snprintf(place.description, sizeof(place.description), "berth container %s", c->id);
        place.sd = t->cfg.systemd;
    }
    if (err || ct_prepare_dir(c, &err) < 0 ||
        berth_monitor_spawn_placed(t->cfg.monitor, path,
                                   t->cfg.systemd ? &(berth_monitor_place){ place_monitor, &place }
                                                  : NULL,
                                   &answer_fd, &err) < 0) {
        c->phase = CT_DONE;
        if (t->cfg.devices)
            devices_release(t->cfg.devices, c->id);
        ct_set_edits(c, NULL);
        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_START_ERROR, "%s", err->msg);
        berth_error_free(&err);
        return;
    }
    /* A monitor runs from here on, whatever else fails: it is followed. */
    ct_watch_dir(c);
    ct_set_status(c, CONTAINER_STARTING, "", "%s", "");
    if (berth_loop_add(t->cfg.loop, &c->answer_io, answer_fd, EPOLLIN, on_answer, &err) < 0) {
        /* Its answer cannot be waited for: follow it as an adopted one,
         * through its state file (inotify) and then its pidfd. */
        berth_log_error(BERTH_LOG_WARN, err,
                        "container %s: wait for its monitor's answer; following its state "
                        "file instead",
                        c->id);
        berth_error_free(&err);
        close(answer_fd);
        c->phase = CT_SUPERVISED;
        ct_refresh(c);
        return;
    }
    c->phase = CT_STARTING;
    c->spawned_ns = berth_now_mono_ns();
    t->starting++;
}

/* Start queued containers while there are free slots (oldest first: the
 * list is newest first). */
static void start_queued(containers *t)
{
    int64_t retry = 0;

    for (;;) {
        ct *pick = NULL;
        const char *why;

        if (t->starting >= t->cfg.max_parallel_starts)
            break;
        for (ct *c = t->cts; c; c = c->next) {
            if (c->phase != CT_QUEUED || !c->desired)
                continue;
            if (ct_gate(c, &why)) {
                pick = c;
            } else {
                /* Kubernetes' word for a pod's container that waits */
                ct_set_status(c, CONTAINER_PENDING,
                              *c->device_error ? CONTAINERS_REASON_ADMISSION_ERROR
                              : *c->net_error  ? CONTAINERS_REASON_NETWORK_NOT_READY
                                               : CONTAINERS_REASON_POD_INITIALIZING,
                              "%s", why);
                if (c->retry_at_ns && (!retry || c->retry_at_ns < retry))
                    retry = c->retry_at_ns;
            }
        }
        if (!pick)
            break;
        ct_start(pick);
    }
    if (retry && !berth_loop_timer_armed(&t->kick))
        berth_loop_timer_arm(t->cfg.loop, &t->kick, retry);
}

/* The applied generation moves once nothing of the wanted set is queued,
 * starting or being cleaned up to start again. */
static void check_applied(containers *t)
{
    if (t->applied_gen == t->wanted_gen)
        return;
    for (ct *c = t->cts; c; c = c->next)
        if ((c->desired && ((c->phase == CT_QUEUED && ct_gate(c, &(const char *){ NULL })) ||
                            c->phase == CT_STARTING || (c->phase == CT_PULLING && c->pw.p) ||
                            (c->phase == CT_CLEANING && c->restart_when_done))) ||
            c->replacement)
            return;
    t->applied_gen = t->wanted_gen;
    berth_prom_histogram_observe_ns(&t->stats.reconcile_seconds,
                                    berth_now_mono_ns() - t->apply_since_ns);
    berth_info("applied generation %" PRIu64, t->applied_gen);
    if (t->cfg.events.applied)
        t->cfg.events.applied(t->applied_gen, t->cfg.events.data);
}

/* --- inotify ------------------------------------------------------------------------------ */

static void on_inotify(berth_loop_io *io, uint32_t events)
{
    containers *t = berth_container_of(io, containers, inotify_io);
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
            for (ct *c = t->cts; c; c = c->next)
                if (c->wd == ev->wd && c->dirfd >= 0) {
                    ct_refresh(c);
                    break;
                }
        }
    }
}

/* --- open: adopt what is on disk ---------------------------------------------------------- */

/* A re-adopted container's devices, as its plan names them, are still its
 * own (one that ended holds none). */
static void ct_hold_planned(ct *c)
{
    const DeviceEdits *e = c->plan ? c->plan->devices : NULL;

    if (!e)
        return;
    for (size_t i = 0; c->t->cfg.devices && i < e->n_cdi_devices; i++)
        if (!devices_hold(c->t->cfg.devices, c->id, e->cdi_devices[i]))
            berth_warn("container %s: its device %s is held by container %s too", c->id,
                       e->cdi_devices[i], devices_holder(c->t->cfg.devices, e->cdi_devices[i]));
    ct_set_edits(c, BERTH_PB_COPY(DeviceEdits, e));
}

static void adopt(containers *t, const char *id)
{
    _cleanup_close_ int dfd = openat(t->dirfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
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
        BERTH_PB_FREE(plan);
        close(TAKE_FD(dfd));
        berth_rm_rf_at(t->dirfd, id, NULL);
        return;
    }
    c = ct_new(t, id);
    c->dirfd = TAKE_FD(dfd);
    c->plan = plan;
    c->spec = plan->spec;
    if (plan->cgroup_parent && *plan->cgroup_parent)
        c->cgroup_parent = berth_xstrdup(plan->cgroup_parent);
    ct_spec_set(c, true);
    c->generation = plan->generation;
    if (plan->image)
        c->image = BERTH_PB_COPY(ImageConfig, plan->image);
    ct_set_image(c, c->image);
    c->desired = true; /* until the controller says otherwise */
    ct_watch_dir(c);
    if (l == BERTH_MONITOR_ALIVE && berth_statedir_read_state(c->dirfd, &ms, NULL) == 0 &&
        ms->monitor_pid > 0 && ct_follow(c, ms->monitor_pid)) {
        c->phase = CT_SUPERVISED;
        berth_info("container %s: re-adopted (monitor %d)", id, ms->monitor_pid);
        ct_hold_planned(c);
        status_from_state(c, ms);
    } else if (l == BERTH_MONITOR_EXITED ||
               /* it ended between the probe and the watch */
               (berth_monitor_probe(c->dirfd, &l, NULL) == 0 && l == BERTH_MONITOR_EXITED)) {
        c->phase = CT_DONE;
        berth_info("container %s: ended while berthd was away", id);
        ct_unwatch(c);
        ct_refresh(c);
    } else {
        ct_unwatch(c);
        /* what it left may still run with them until cleaned up */
        ct_hold_planned(c);
        ct_set_status(c, CONTAINER_FAILED, CONTAINERS_REASON_MONITOR_LOST,
                      "its monitor died while berthd was away");
        c->restart_when_done = true;
        ct_clean_up(c);
    }
    BERTH_PB_FREE(ms);
}

int containers_open(const containers_config *cfg, containers **ret, berth_error **err)
{
    containers *t = berth_xcalloc(1, sizeof(*t));
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    int fd;

    pods_config pc = {
        .loop = cfg->loop,
        .cgroups = cfg->cgroups,
        .state_dir = cfg->state_dir,
        .cgroup_parent = cfg->cgroup_parent,
        .systemd = cfg->systemd,
        .slice = cfg->slice,
        .lost = on_pod_lost,
        .network_done = on_network_done,
        .data = t,
        .network = cfg->pod_network,
        .resolv_conf = cfg->resolv_conf,
    };

    t->cfg = *cfg;
    t->dirfd = t->inotify_fd = -1;
    t->inotify_io.fd = -1;
    berth_loop_timer_init(&t->kick, on_kick);
    berth_loop_timer_init(&t->volume_timer, on_volume_timer);
    berth_prom_histogram_init(&t->stats.start_seconds, berth_prom_long_seconds_buckets,
                              berth_prom_long_seconds_buckets_n);
    berth_prom_histogram_init(&t->stats.reconcile_seconds, berth_prom_long_seconds_buckets,
                              berth_prom_long_seconds_buckets_n);
    if (pods_open(&pc, &t->pods, err) < 0)
        goto fail;
    t->dir = berth_xasprintf("%s/containers", cfg->state_dir);
    if (berth_mkdir_p(t->dir, 0700, err) < 0)
        goto fail;
    t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->dirfd < 0) {
        berth_error_errno(err, "open %s", t->dir);
        goto fail;
    }
    t->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (t->inotify_fd < 0) {
        berth_error_errno(err, "inotify_init1");
        goto fail;
    }
    if (berth_loop_add(cfg->loop, &t->inotify_io, t->inotify_fd, EPOLLIN, on_inotify, err) < 0)
        goto fail;
    fd = fcntl(t->dirfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || !(d = fdopendir(fd))) {
        berth_error_errno(err, "read %s", t->dir);
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !berth_spec_id_valid(de->d_name))
            continue;
        adopt(t, de->d_name);
    }
    /* pods whose containers all went while berthd was away */
    pods_sweep(t->pods, pod_in_use, t);
    berth_loop_timer_arm(cfg->loop, &t->volume_timer,
                         berth_now_mono_ns() + (cfg->volume_stats_interval_ns > 0
                                                    ? cfg->volume_stats_interval_ns
                                                    : 10 * BERTH_NSEC_PER_SEC));
    /* pods whose sandbox broke while berthd was away (a reboot, a pause
     * that died): their containers start again in a new one */
    for (ct *c = t->cts; c; c = c->next) {
        const PodMember *m = ct_member(c);
        pods_sandbox sb;
        berth_cgroup_limits lim;
        bool first = true;

        if (!m)
            continue;
        for (const ct *o = t->cts; o != c; o = o->next)
            first &= !same_pod(o, m);
        if (!first)
            continue;
        pod_sandbox(c, &sb, &lim);
        if (!pods_whole(t->pods, m->pod, &sb)) {
            berth_warn("pod %s: its sandbox broke while berthd was away", m->pod);
            on_pod_lost(m->pod, t);
        }
    }
    *ret = t;
    return 0;
fail:
    containers_close(t);
    return -1;
}

void containers_set_cni(containers *t, berth_cni *cni, const char *runner)
{
    pods_set_cni(t->pods, cni, runner);
    for (ct *c = t->cts; c; c = c->next)
        if (*c->net_error)
            c->retry_at_ns = 0;
    /* now, also when the kick waits for a later retry */
    berth_loop_timer_arm(t->cfg.loop, &t->kick, 0);
}

void containers_set_network(containers *t, berth_podnet *net)
{
    pods_set_network(t->pods, net);
    /* the host ports of the pods that run (adopted) */
    for (ct *c = t->cts; c; c = c->next)
        if (ct_has_monitor(c))
            ct_publish(c);
    /* pods waiting for it try now */
    for (ct *c = t->cts; c; c = c->next)
        if (*c->net_error)
            c->retry_at_ns = 0;
    /* now, also when the kick waits for a later retry */
    berth_loop_timer_arm(t->cfg.loop, &t->kick, 0);
}

void containers_close(containers *t)
{
    berth_error *err = NULL;

    if (!t)
        return;
    berth_error_set(&err, EAGAIN, "berthd is shutting down");
    /* The containers keep running: only our watches go. */
    while (t->cts) {
        finish_stops(t->cts, err);
        ct_drop(t->cts);
    }
    berth_error_free(&err);
    pods_close(t->pods);
    berth_loop_timer_cancel(t->cfg.loop, &t->kick);
    berth_loop_timer_cancel(t->cfg.loop, &t->volume_timer);
    if (t->inotify_io.fd >= 0)
        close_io(t, &t->inotify_io);
    else if (t->inotify_fd >= 0)
        close(t->inotify_fd);
    if (t->dirfd >= 0)
        close(t->dirfd);
    free(t->dir);
    free(t);
}

/* --- apply -------------------------------------------------------------------------------- */

/* Stop c's monitor (its container goes; the directory once settled). */
static void ct_stop(ct *c, int64_t grace_ms)
{
    berth_error *err = NULL;

    switch (c->phase) {
    case CT_SUPERVISED:
        if (berth_monitor_stop(c->dirfd, grace_ms, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "container %s: stop", c->id);
            berth_error_free(&err);
            ct_monitor_done(c); /* no monitor listened: settle now */
            return;
        }
        c->phase = CT_STOPPING;
        break;
    case CT_PULLING:
        ct_pull_cancel(c);
        ct_settle(c);
        break;
    case CT_QUEUED:
    case CT_DONE:
        ct_settle(c);
        break;
    default:
        /* STARTING: on_answer stops it once the monitor answered;
         * STOPPING, CLEANING: it settles when done. */
        break;
    }
}

void containers_set_objects(containers *t, ConfigObject **objs, size_t n)
{
    if (!t->cfg.configs) {
        for (size_t i = 0; i < n; i++)
            configs_object_free(objs[i]);
        free(objs);
        return;
    }
    configs_set(t->cfg.configs, objs, n);
    for (ct *c = t->cts; c; c = c->next) {
        berth_error *err = NULL;

        if (!c->spec || !configs_used_by(c->spec))
            continue;
        if (!configs_changed_for(t->cfg.configs, c->spec))
            continue;
        if (c->config_missing && c->phase == CT_DONE) {
            /* what it waited for may be here: it tries again (started by
             * the containers_apply that follows) */
            if (c->desired)
                c->phase = CT_QUEUED;
            continue;
        }
        if (!ct_has_monitor(c))
            continue;
        /* running: its volumes get the new files now, its variables at its
         * next start; one that is gone leaves the last files in place, as
         * kubelet does */
        if (configs_project(t->cfg.configs, c->spec, c->env_file, sizeof(c->env_file),
                            c->config_dir, sizeof(c->config_dir), &err) < 0) {
            /* gone: its files stay (kubelet's), but its variables do not
             * feed another start (that fails, saying so); an adopted
             * container's too, whose path this berthd never wrote */
            if (err->code == ENOENT)
                configs_forget_env(t->cfg.configs, c->id);
            else
                berth_log_error(BERTH_LOG_WARN, err, "container %s: update its Secrets' files",
                                c->id);
            berth_error_free(&err);
        }
    }
}

void containers_apply(containers *t, uint64_t gen, ContainerSpec *const *specs, size_t n)
{
    for (ct *c = t->cts; c; c = c->next)
        c->desired = false;
    t->assigned = true;
    /* a newer set while one is applied: measured from the first */
    if (t->applied_gen == t->wanted_gen)
        t->apply_since_ns = berth_now_mono_ns();
    t->wanted_gen = gen;
    for (size_t i = 0; i < n; i++) {
        const ContainerSpec *s = specs[i];
        ct *c;

        if (!s || !berth_spec_id_valid(s->id)) {
            berth_warn("assignments: skipping a container without a valid id");
            continue;
        }
        c = find(t, s->id);
        if (c && c->desired) {
            berth_warn("assignments: container %s is listed twice; keeping the first", s->id);
            continue;
        }
        if (c && c->spec && berth_pb_equal(&c->spec->base, &s->base) && !c->replacement) {
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
            BERTH_PB_FREE(c->replacement);
            c->replacement = BERTH_PB_COPY(ContainerSpec, s);
            c->replacement_gen = gen;
            c->desired = true;
            berth_info("container %s changed: replacing it", c->id);
            ct_stop(c, ct_grace_ms(c));
            continue;
        }
        c = ct_new(t, s->id);
        c->spec = BERTH_PB_COPY(ContainerSpec, s);
        ct_spec_set(c, false);
        c->generation = gen;
        c->desired = true;
        c->phase = CT_QUEUED;
        notify(c, CONTAINER_STATE_UNSPECIFIED, false);
    }
    for (ct *c = t->cts, *next; c; c = next) {
        next = c->next;
        if (c->desired || c->remove_when_done)
            continue;
        berth_info("container %s is no longer assigned: stopping it", c->id);
        c->remove_when_done = true;
        BERTH_PB_FREE(c->replacement);
        c->replacement = NULL;
        ct_stop(c, ct_grace_ms(c));
    }
    start_queued(t);
    check_applied(t);
}

int containers_stop(containers *t, const char *id, int64_t grace_ms, containers_stop_fn done,
                    void *data, berth_error **err)
{
    ct *c = find(t, id);

    if (!c)
        return berth_error_set(err, ENOENT, "container %s: not on this node", id);
    if (c->n_stops == STOPS_MAX)
        return berth_error_set(err, EAGAIN, "container %s: too many stop requests waiting", id);
    c->operator_stopped = true;
    c->restart_when_done = false;
    if (c->phase == CT_DONE) {
        done(&c->st, NULL, data);
        return 0;
    }
    c->stops[c->n_stops].fn = done;
    c->stops[c->n_stops].data = data;
    c->n_stops++;
    if (c->phase == CT_QUEUED || c->phase == CT_PULLING) {
        ct_pull_cancel(c);
        c->phase = CT_DONE;
        ct_set_status(c, CONTAINER_EXITED, CONTAINERS_REASON_STOPPED, "stopped before it started");
        finish_stops(c, NULL);
        return 0;
    }
    if (c->phase == CT_SUPERVISED)
        ct_stop(c, grace_ms);
    return 0;
}

/* --- queries ------------------------------------------------------------------------------ */

size_t containers_count(const containers *t)
{
    return t->n_cts;
}

size_t containers_statuses(const containers *t, const ContainerStatus **out, size_t max)
{
    size_t n = 0;

    for (const ct *c = t->cts; c && n < max; c = c->next)
        out[n++] = &c->st;
    return n;
}

bool containers_cgroup_path(const containers *t, const char *id, char *buf, size_t size)
{
    const ct *c = find(t, id);
    char parent[PATH_MAX];

    if (!c)
        return false;
    ct_cgroup_parent(c, parent, sizeof(parent));
    snprintf(buf, size, "%s/%s", parent, id);
    return true;
}

bool containers_net_stats(containers *t, const char *id, berth_link_counters *ret)
{
    const ct *c = find(t, id);

    return c && ct_member(c) && pods_net_stats(t->pods, ct_member(c)->pod, ret);
}

const containers_stats *containers_stats_of(const containers *t)
{
    return &t->stats;
}

const ContainerSpec *containers_spec(const containers *t, const char *id)
{
    const ct *c = find(t, id);

    return c ? c->spec : NULL;
}

const ContainerStatus *containers_status(const containers *t, const char *id)
{
    const ct *c = find(t, id);

    return c ? &c->st : NULL;
}

bool containers_probe(const containers *t, const char *id, uint32_t *ret_failures,
                      const char **ret_message)
{
    const ct *c = find(t, id);

    if (!c || !c->spec || !c->spec->liveness_probe)
        return false;
    *ret_failures = c->probe_failures;
    *ret_message = c->probe_message;
    return true;
}

int containers_open_dir(const containers *t, const char *id, int *ret_fd, berth_error **err)
{
    int fd;

    if (!find(t, id))
        return berth_error_set(err, ENOENT, "container %s: not on this node", id);
    fd = openat(t->dirfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return berth_error_errno(err, "container %s: open its directory", id);
    *ret_fd = fd;
    return 0;
}

uint64_t containers_applied_generation(const containers *t)
{
    return t->applied_gen;
}

uint64_t containers_wanted_generation(const containers *t)
{
    return t->wanted_gen;
}

uint64_t containers_digest(const containers *t)
{
    _cleanup_free_ const ContainerStatus **v = berth_xcalloc(t->n_cts, sizeof(*v));
    size_t n = containers_statuses(t, v, t->n_cts);

    return berth_status_digest(v, n);
}
