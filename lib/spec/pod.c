/* Pods as Kubernetes shows them (see pod.h): the phase as the kubelet
 * computes it (getPhase), the STATUS column as kubectl prints it
 * (printPod), the conditions as the kubelet sets them. */
#include "pod.h"

#include <stdio.h>
#include <string.h>

static bool reported(const ContainerStatus *st)
{
    return st && strcmp(st->reason, "NotReported") != 0;
}

/* Reasons of a PENDING container that Kubernetes shows as they are; the
 * others (Pulling, Pulled) are ContainerCreating there. */
static bool shown_waiting_reason(const char *r)
{
    static const char *const shown[] = { "ErrImagePull",      "ImagePullBackOff",
                                         "ErrImageNeverPull", "CreateContainerConfigError",
                                         "PodInitializing",   "InvalidImageName" };

    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
        if (strcmp(r, shown[i]) == 0)
            return true;
    return false;
}

const char *berth_container_k8s_state(const ContainerStatus *st, const char **ret_reason)
{
    *ret_reason = "";
    if (!reported(st)) {
        *ret_reason = "ContainerCreating";
        return "waiting";
    }
    switch (st->state) {
    case CONTAINER_RUNNING:
        return "running";
    case CONTAINER_EXITED:
    case CONTAINER_OOM_KILLED:
        *ret_reason = *st->reason ? st->reason : st->exit_code ? "Error" : "Completed";
        return "terminated";
    case CONTAINER_RESTARTING:
        *ret_reason = "CrashLoopBackOff";
        return "waiting";
    case CONTAINER_FAILED:
        *ret_reason = *st->reason ? st->reason : "Error";
        /* a container that ran and was given up on ended; one that never
         * started still waits, as Kubernetes shows it */
        return st->started_unix_ns ? "terminated" : "waiting";
    case CONTAINER_PENDING:
        *ret_reason = shown_waiting_reason(st->reason) ? st->reason : "ContainerCreating";
        return "waiting";
    default:
        *ret_reason = "ContainerCreating";
        return "waiting";
    }
}

static bool succeeded(const ContainerStatus *st)
{
    return reported(st) && st->state == CONTAINER_EXITED && st->exit_code == 0 && st->signal == 0;
}

/* Append name to the "[a b]" list in buf. */
static void list_add(char *buf, size_t size, const char *name)
{
    size_t len = strlen(buf);

    snprintf(buf + len, size - len, "%s%s", len ? " " : "", name);
}

/* The kubelet's phase. */
static const char *phase_of(const berth_pod_entry *init, size_t n_init, const berth_pod_entry *apps,
                            size_t n_apps, RestartPolicy policy, bool init_pending)
{
    size_t waiting = 0, running = 0, stopped = 0, ok = 0;

    for (size_t i = 0; i < n_init; i++) {
        const ContainerStatus *st = init[i].status;
        const char *r, *k = berth_container_k8s_state(st, &r);

        /* an init container that failed for good fails the pod */
        if (init[i].role != POD_ROLE_SIDECAR && policy == RESTART_NEVER &&
            strcmp(k, "terminated") == 0 && !succeeded(st))
            return "Failed";
    }
    if (init_pending)
        return "Pending";
    for (size_t i = 0; i < n_apps; i++) {
        const ContainerStatus *st = apps[i].status;
        const char *r, *k = berth_container_k8s_state(st, &r);

        if (strcmp(k, "running") == 0)
            running++;
        else if (strcmp(k, "terminated") == 0 || (st && st->state == CONTAINER_RESTARTING)) {
            stopped++;
            ok += succeeded(st);
        } else
            waiting++;
    }
    if (waiting > 0)
        return "Pending";
    if (running > 0)
        return "Running";
    if (stopped > 0) {
        if (policy == RESTART_ALWAYS)
            return "Running";
        if (stopped == ok)
            return "Succeeded";
        if (policy == RESTART_ON_FAILURE)
            return "Running";
        return "Failed";
    }
    return "Pending";
}

/* kubectl's STATUS for a terminated container: its reason, else the
 * signal or exit code. */
static void terminated_status(const ContainerStatus *st, const char *reason, const char *prefix,
                              char *buf, size_t size)
{
    if (*reason)
        snprintf(buf, size, "%s%s", prefix, reason);
    else if (st->signal)
        snprintf(buf, size, "%sSignal:%d", prefix, st->signal);
    else
        snprintf(buf, size, "%sExitCode:%d", prefix, st->exit_code);
}

void berth_pod_view_make(const berth_pod_entry *c, size_t n, RestartPolicy policy, bool node_down,
                         berth_pod_view *ret)
{
    size_t n_init = 0, n_apps;
    const berth_pod_entry *init = c, *apps;
    char unready[200] = "";
    bool init_pending = false, initializing = false, has_running = false;
    size_t i;

    while (n_init < n && c[n_init].role != POD_ROLE_APP)
        n_init++;
    apps = c + n_init;
    n_apps = n - n_init;
    memset(ret, 0, sizeof(*ret));
    ret->total = (uint32_t)n_apps;
    for (i = 0; i < n; i++) {
        const ContainerStatus *st = c[i].status;

        if (!reported(st))
            continue;
        ret->restarts += st->restart_count;
        if (st->created_unix_ns && (!ret->created_ns || st->created_unix_ns < ret->created_ns))
            ret->created_ns = st->created_unix_ns;
    }

    /* init containers, in order: the first one not done holds the pod */
    for (i = 0; i < n_init; i++) {
        const ContainerStatus *st = init[i].status;
        const char *reason, *k = berth_container_k8s_state(st, &reason);

        if (init[i].role == POD_ROLE_SIDECAR) {
            ret->total++;
            if (reported(st) && st->ready)
                ret->n_ready++;
            else
                list_add(unready, sizeof(unready), init[i].name);
            if (strcmp(k, "running") == 0)
                continue;
        } else if (succeeded(st)) {
            continue;
        }
        init_pending = true;
        if (initializing)
            continue;
        initializing = true;
        if (strcmp(k, "terminated") == 0)
            terminated_status(st, reason, "Init:", ret->status, sizeof(ret->status));
        else if (*reason && strcmp(reason, "PodInitializing") != 0 &&
                 strcmp(reason, "ContainerCreating") != 0)
            snprintf(ret->status, sizeof(ret->status), "Init:%s", reason);
        else
            snprintf(ret->status, sizeof(ret->status), "Init:%zu/%zu", i, n_init);
    }
    ret->initialized = !init_pending;
    ret->phase = node_down ? "Unknown" : phase_of(init, n_init, apps, n_apps, policy, init_pending);

    /* the containers, the last one first: the first trouble found wins */
    for (size_t j = n_apps; j-- > 0;) {
        const ContainerStatus *st = apps[j].status;
        const char *reason, *k = berth_container_k8s_state(st, &reason);

        if (reported(st) && st->ready && strcmp(k, "running") == 0) {
            has_running = true;
            ret->n_ready++;
            continue;
        }
        if (strcmp(k, "running") == 0)
            has_running = true;
        list_add(unready, sizeof(unready), apps[j].name);
        /* not reported yet: the phase says it (Pending) */
        if (initializing || !reported(st))
            continue;
        if (strcmp(k, "waiting") == 0 && *reason)
            snprintf(ret->status, sizeof(ret->status), "%s", reason);
        else if (strcmp(k, "terminated") == 0)
            terminated_status(st, reason, "", ret->status, sizeof(ret->status));
    }
    if (!initializing) {
        if (!*ret->status || (strcmp(ret->status, "Completed") == 0 && has_running))
            snprintf(ret->status, sizeof(ret->status), "%s",
                     strcmp(ret->status, "Completed") == 0 ? "Running" : ret->phase);
    }
    if (node_down)
        snprintf(ret->status, sizeof(ret->status), "Unknown");
    /* the kubelet evicted it: the pod failed, whatever its policy */
    for (i = 0; i < n && !node_down; i++)
        if (reported(c[i].status) && strcmp(c[i].status->reason, "Evicted") == 0) {
            ret->phase = "Failed";
            snprintf(ret->status, sizeof(ret->status), "Evicted");
        }

    ret->ready = ret->initialized && ret->n_ready == ret->total;
    if (!ret->ready) {
        if (strcmp(ret->phase, "Succeeded") == 0 || strcmp(ret->phase, "Failed") == 0)
            ret->reason = "PodCompleted";
        else
            ret->reason = "ContainersNotReady";
        if (*unready)
            snprintf(ret->message, sizeof(ret->message), "containers with unready status: [%s]",
                     unready);
    }
}
