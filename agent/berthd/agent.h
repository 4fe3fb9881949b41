/* berthd's shared context: one per process, owned by main. The modules:
 * containers.c (the container table: reconcile, monitors, statuses),
 * session.c (the controller: register, heartbeats, assignments, events,
 * stream, survey), service.c (the Agent service), metrics.c. */
#ifndef BERTHD_AGENT_H
#define BERTHD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "agent-config.h"
#include "node.h"
#include "runtime/cgroup.h"

typedef struct agent agent;
typedef struct ct ct;
typedef struct session session;

struct agent {
    agent_config cfg;
    berth_loop *loop;
    berth_cgroup_driver *cgroups;
    node_facts facts;
    int64_t start_ns;
    /* <state_dir>/containers */
    char containers_dir[4096];
    int containers_dirfd;
    int inotify_fd;
    berth_loop_io inotify_io;
    /* The container table (containers.c). */
    ct *cts;
    size_t n_cts;
    int starting; /* monitors started, not answered yet */
    /* The assignment generation realised: every listed container was
     * started or failed with a reason. */
    uint64_t applied_generation;
    uint64_t wanted_generation; /* the set being applied */
    session *session;
    bool stopping;
};

/* containers.c ------------------------------------------------------------ */

/* Open the table: scan the state directory, re-adopt containers whose
 * monitor lives (nothing restarts), collect the exit records of those that
 * ended while we were away, clean up leftovers of half-made containers and
 * orphans of killed monitors. */
int containers_open(agent *a, berth_error **err);
void containers_close(agent *a);

/* Make the node run exactly specs (the whole desired set, generation gen):
 * start what is missing, replace what changed, stop and remove what is not
 * listed. Idempotent. Starts are bounded (max_parallel_starts) and
 * asynchronous; applied_generation follows when all are settled. */
int containers_apply(agent *a, uint64_t gen, ContainerSpec **specs, size_t n, berth_error **err);

/* The statuses of every container (pointers valid until the loop runs). */
size_t containers_statuses(agent *a, const ContainerStatus **out, size_t max);
const ContainerSpec *containers_spec(agent *a, const char *id);
const ContainerStatus *containers_status(agent *a, const char *id);
/* The liveness probe's last result: false when the container has none. */
bool containers_probe(agent *a, const char *id, uint32_t *ret_failures, const char **ret_message);
/* The container's state directory, NULL if unknown. */
const char *containers_dir_of(agent *a, const char *id);

/* The Heartbeat digest (controller.proto): BLAKE2b-256 over the sorted
 * "<id>\t<state>\t<restart_count>\t<exit_code>\t<signal>\n" lines, first 8
 * bytes little-endian. */
uint64_t containers_digest(agent *a);

/* Stop a container now (Agent/Stop): done(status, data) once it stopped,
 * or with NULL and *err when it cannot be. It stays stopped until its
 * spec changes. */
typedef void (*containers_stop_fn)(const ContainerStatus *status, const char *error, void *data);
int containers_stop(agent *a, const char *id, int64_t grace_ms, containers_stop_fn done, void *data,
                    berth_error **err);

/* session.c: a container's status changed (prev: the state before), or it is
 * gone from the node (removed: its last status). */
void session_status_changed(agent *a, const ContainerStatus *st, ContainerState prev, bool removed);
/* session.c: the applied generation moved. */
void session_applied(agent *a);
/* session.c: whether the controller answers; why not in msg. */
bool session_controller_ok(agent *a, char *msg, size_t size);

#endif
