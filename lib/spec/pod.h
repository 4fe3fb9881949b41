/* A pod as Kubernetes shows it, made from its containers' specs and
 * statuses: its phase, kubectl's STATUS column, its conditions, the READY
 * and RESTARTS counts. Pure: the controller fills its Pod messages with it
 * and tests call it directly. */
#ifndef BERTH_SPEC_POD_H
#define BERTH_SPEC_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"

typedef struct berth_pod_view {
    const char *phase;  /* Pending, Running, Succeeded, Failed, Unknown */
    char status[96];    /* kubectl's STATUS */
    bool initialized;   /* init containers done, sidecars started */
    bool ready;         /* containers (sidecars too) running and ready */
    const char *reason; /* why not ready: ContainersNotReady, PodCompleted */
    char message[256];  /* "containers with unready status: [app]" */
    uint32_t n_ready, total, restarts;
    int64_t created_ns; /* the first container's creation (0: none) */
} berth_pod_view;

/* One container of a pod, for the view. */
typedef struct berth_pod_entry {
    const char *name;
    PodRole role;
    /* NULL, or with reason "NotReported": its node has not reported it */
    const ContainerStatus *status;
} berth_pod_entry;

/* The view of a pod of containers c[0..n): its init containers in order
 * (sidecars among them), then its containers; policy is the pod's restart
 * policy. node_down: its node is Down (phase Unknown). */
void berth_pod_view_make(const berth_pod_entry *c, size_t n, RestartPolicy policy, bool node_down,
                         berth_pod_view *ret);

/* What a status says in Kubernetes' container states: "waiting",
 * "running" or "terminated", with the reason kubectl shows
 * ("ContainerCreating", "CrashLoopBackOff", "Completed" ...). */
const char *berth_container_k8s_state(const ContainerStatus *st, const char **ret_reason);

#endif
