/* The container table: what runs on this node. One entry per container
 * directory (<state_dir>/containers/<id>/), each container run by its own
 * berth-monitor. The table writes plans and starts monitors (a bounded
 * number at a time, without waiting for them), asks them to stop, follows
 * them (inotify on state.pb, a pidfd on the monitor), cleans up after a
 * monitor that was lost (from the loop: runtime/removal.h) and keeps each
 * container's wire status.
 *
 * Arrows: main opens it and wires its events; the session (assignments,
 * reports), the Agent service (queries, Stop) and metrics call it. It calls
 * nothing of berthd back except the events given at open. Below it:
 * lib/statedir (the monitors' contract), lib/runtime (cgroups, removal),
 * lib/spec; pulls (images).
 *
 * A container whose image is a reference (not a directory image of the
 * store) waits in PENDING for its pull (reason Pulling, with bytes done),
 * then Pulled; a failed pull is ErrImagePull, retried after a backoff
 * (pull_backoff_ms doubling, ImagePullBackOff while it waits).
 *
 * The containers of a pod of several (ContainerSpec.pod) run in the pod's
 * sandbox (pods.h), made when the first of them starts and removed when
 * the last one is gone; they start in Kubernetes' order: init containers
 * one after another, each once the one before completed (a sidecar: runs
 * and passed its startup probe), then the app containers. One waiting for
 * its turn is PENDING with reason PodInitializing, and does not hold the
 * applied generation back. */
#ifndef BERTHD_CONTAINERS_H
#define BERTHD_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "net/cni.h"
#include "net/podnet.h"
#include "berth/proto/v1.h"
#include "configs.h"
#include "devices.h"
#include "metrics/prom.h"
#include "pulls.h"
#include "runtime/cgroup.h"
#include "systemd/units.h"

/* ContainerStatus.reason values the table sets (the monitor's exit
 * reasons, "OOMKilled" and "Unhealthy", pass through). */
#define CONTAINERS_REASON_START_ERROR     "StartError"
#define CONTAINERS_REASON_INVALID_SPEC    "InvalidSpec"
#define CONTAINERS_REASON_IMAGE_NOT_FOUND "ImageNotFound"
#define CONTAINERS_REASON_MONITOR_LOST    "MonitorLost"
#define CONTAINERS_REASON_BACKOFF         "CrashLoopBackOff"
#define CONTAINERS_REASON_OOM_KILLED      "OOMKilled"
#define CONTAINERS_REASON_STOPPED         "Stopped"
#define CONTAINERS_REASON_COMPLETED       "Completed"
#define CONTAINERS_REASON_ERROR           "Error"
/* Waiting for its image (state PENDING), in Kubernetes' words. */
#define CONTAINERS_REASON_PULLING            "Pulling"
#define CONTAINERS_REASON_PULLED             "Pulled"
#define CONTAINERS_REASON_ERR_IMAGE_PULL     "ErrImagePull"
#define CONTAINERS_REASON_IMAGE_PULL_BACKOFF "ImagePullBackOff"
#define CONTAINERS_REASON_ERR_IMAGE_NEVER    "ErrImageNeverPull"
/* A pod's container waiting for its turn: the pod's init containers run
 * first, one after another (state PENDING). */
#define CONTAINERS_REASON_POD_INITIALIZING "PodInitializing"
/* Its pod's network could not be made (kubelet: NetworkNotReady); tried
 * again with backoff. */
#define CONTAINERS_REASON_NETWORK_NOT_READY "NetworkNotReady"
/* Its pod used more of an emptyDir volume on disk than its sizeLimit: the
 * pod's containers were stopped (state FAILED), as the kubelet evicts. */
#define CONTAINERS_REASON_EVICTED "Evicted"
/* The image's config cannot make the spec run (no command, an unknown
 * user). */
#define CONTAINERS_REASON_CONFIG_ERROR "CreateContainerConfigError"
/* its devices could not be given it (the kubelet's word for a failed
 * device allocation) */
#define CONTAINERS_REASON_ADMISSION_ERROR "UnexpectedAdmissionError"

typedef struct containers containers;

/* What the table reports, called from the loop (and during open). */
typedef struct containers_events {
    /* A container's status changed (prev: its state before; UNSPECIFIED
     * for a new one), or it left the node (removed: st is its last
     * status). st is valid during the call only. */
    void (*status_changed)(const ContainerStatus *st, ContainerState prev, bool removed,
                           void *data);
    /* The applied generation moved to generation: every container of that
     * assignment set was started or failed with a reason. */
    void (*applied)(uint64_t generation, void *data);
    void *data;
} containers_events;

/* The strings and the driver are borrowed: they must outlive the table. */
typedef struct containers_config {
    berth_loop *loop;
    berth_cgroup_driver *cgroups;
    const char *state_dir;     /* the containers are in <state_dir>/containers */
    const char *image_store;   /* the image store (pulled images, directory images) */
    pulls *pulls;              /* pulls images for the containers */
    int64_t pull_backoff_ms;   /* after a failed pull, doubling to 30 times as long */
    const char *cgroup_parent; /* the containers' cgroups are <parent>/<id> */
    /* systemd's cgroup driver (NULL: berth's own under cgroup_parent): a
     * container's cgroup is <its scope>/<id>, its scope in its pod's
     * slice or in slice (lib/systemd/units.h) */
    berth_systemd *systemd;
    const char *slice;
    const char *monitor;   /* the berth-monitor binary */
    int64_t stop_grace_ms; /* for a spec that sets none */
    int max_parallel_starts;
    const char *seccomp_profile_dir;  /* where seccompProfile Localhost files are */
    const char *node_name;            /* for env fieldRefs */
    const char *node_ip;              /* the node's address ("" unknown): status.hostIP */
    int64_t volume_stats_interval_ns; /* emptyDir sizeLimit checks; 0: 10 s */
    bool allow_privileged;            /* else a privileged container fails to start */
    /* Pods (not hostNetwork) are on the pod network: each has a sandbox,
     * also a pod of one container, given an address once the network is
     * there (containers_set_network); NetworkNotReady until then. */
    bool pod_network;
    const char *resolv_conf; /* the node's for the pods (NULL: found) */
    /* The node's CDI devices (NULL: none) and the host devices a pod may
     * ask for (agent.yaml allowed_devices) */
    devices *devices;
    char *const *allowed_devices;
    size_t n_allowed_devices;
    /* Secrets and ConfigMaps (NULL: none; a spec naming one cannot start) */
    configs *configs;
    containers_events events;
} containers_config;

/* Open the table: scan the state directory, re-adopt containers whose
 * monitor lives (nothing restarts), collect the exit records of those that
 * ended while berthd was away, remove the leftovers of half-made ones, and
 * start cleaning up (from the loop) after monitors that were killed; those
 * containers are started again once an assignment lists them. */
int containers_open(const containers_config *cfg, containers **ret, berth_error **err);
/* Close the table; the containers keep running (only our watches go), and
 * pending stops fail. NULL is fine. */
void containers_close(containers *t);

/* The Secrets and ConfigMaps the assignments name (taken: the array and
 * each object, opened from what the controller sealed): before
 * containers_apply of the same answer. Containers waiting for one
 * (CreateContainerConfigError) start; running ones that name one that
 * changed get its new values: their volumes' files at once (swapped
 * atomically), their variables at their next start. */
void containers_set_objects(containers *t, ConfigObject **objs, size_t n);

/* The images of the node's containers, for image garbage collection:
 * their specs' references as given, and the images they run by
 * repository@digest (a tag may have moved since); new strings in a new
 * array. */
void containers_images(const containers *t, char ***ret, size_t *ret_n);

/* The pod network is there (NULL: gone): pods get addresses on it. */
void containers_set_network(containers *t, berth_podnet *net);
/* An operator's CNI network is (in place of the built-in one). */
void containers_set_cni(containers *t, berth_cni *cni, const char *runner);

/* Make the node run exactly specs (the whole desired set, generation gen):
 * start what is missing, replace what changed, stop and remove what is not
 * listed. Idempotent. Starts are bounded (max_parallel_starts) and do not
 * wait for the monitors; the applied generation follows when all are
 * settled. */
void containers_apply(containers *t, uint64_t gen, ContainerSpec *const *specs, size_t n);

/* Stop a container now (Agent.Stop). done is called once, from the loop or
 * from in here when it is stopped already: with its status, or with NULL
 * and the reason it could not be waited for. It stays stopped until its
 * spec changes. ENOENT: no such container here; EAGAIN: too many stops of
 * it waiting (try again). */
typedef void (*containers_stop_fn)(const ContainerStatus *status, const berth_error *err,
                                   void *data);
int containers_stop(containers *t, const char *id, int64_t grace_ms, containers_stop_fn done,
                    void *data, berth_error **err);

/* --- read-only ------------------------------------------------------------------------ */

size_t containers_count(const containers *t);
/* Up to max statuses into out (valid until the loop runs again). */
size_t containers_statuses(const containers *t, const ContainerStatus **out, size_t max);
/* The cgroup of container id (<parent>/<id>, or <parent>/<pod>/<id> in a
 * pod's sandbox): false when it is not here. */
bool containers_cgroup_path(const containers *t, const char *id, char *buf, size_t size);
/* What the network interface of id's pod received and sent (the built-in
 * pod network's): false when there is no figure. */
bool containers_net_stats(containers *t, const char *id, berth_link_counters *ret);
/* A container's spec and status; NULL when it is not here. */
const ContainerSpec *containers_spec(const containers *t, const char *id);
const ContainerStatus *containers_status(const containers *t, const char *id);
/* The liveness probe's last result: false when the container is not here
 * or has no probe. */
bool containers_probe(const containers *t, const char *id, uint32_t *ret_failures,
                      const char **ret_message);
/* Open the container's state directory (O_DIRECTORY; the caller closes
 * it). ENOENT when the container or its directory is not here. */
int containers_open_dir(const containers *t, const char *id, int *ret_fd, berth_error **err);
/* The assignment generation realised, and the one being applied. */
uint64_t containers_applied_generation(const containers *t);
uint64_t containers_wanted_generation(const containers *t);
/* The Heartbeat digest of every status (lib/protocol/digest.h). */
uint64_t containers_digest(const containers *t);

/* What the table measured, for /metrics. */
typedef struct containers_stats {
    /* From a monitor's start to its container running (the monitor's
     * answer: the container's process exec'd). */
    berth_prom_histogram start_seconds;
    /* From an assignment set's arrival (containers_apply) to its
     * generation applied: every container of it started or failed. */
    berth_prom_histogram reconcile_seconds;
} containers_stats;

const containers_stats *containers_stats_of(const containers *t);

#endif
