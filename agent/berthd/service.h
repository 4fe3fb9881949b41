/* The Agent service (agent.proto): Health, List, Logs, Stop, Exec (with
 * Exchange, exec.h). Served on the
 * local socket (berthctl on the node), on the endpoint the controller dials
 * for relays, and as the survey respondent's answer to fleet health. Only
 * authenticated principals reach it: the pinned controller and the
 * configured operators.
 *
 * Arrows: main makes it; the session serves it (as a ProtobufCService);
 * its handlers read the container table and call containers_stop. Whether
 * the controller answers comes through a callback main wires, so it never
 * calls the session. */
#ifndef BERTHD_SERVICE_H
#define BERTHD_SERVICE_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "metrics/prom.h"
#include "berth/proto/v1.h"
#include "containers.h"
#include "rpc/auth.h"
#include "runtime/cgroup.h"

typedef struct agent_service agent_service;

/* Everything is borrowed: it must outlive the service. */
typedef struct agent_service_config {
    berth_loop *loop; /* exec sessions run on it */
    containers *containers;
    const char *node_name;
    const char *state_dir; /* checked by Health: writable, with room */
    berth_cgroup_driver *cgroups;
    int64_t agent_start_ns;
    /* Whether the controller answers: 0, or -1 and why not. */
    int (*controller_check)(void *data, berth_error **err);
    /* The frames dropped, by reason (rpc/server.h: berth_rpc_frame_drops). */
    size_t (*frame_drops)(void *data, FrameDrops storage[BERTH_REJECT_COUNT],
                          FrameDrops *ptrs[BERTH_REJECT_COUNT]);
    void *callback_data; /* the callbacks' */
} agent_service_config;

agent_service *agent_service_new(const agent_service_config *cfg);
void agent_service_free(agent_service *svc);
ProtobufCService *agent_service_base(agent_service *svc);
/* /metrics: its streams (exec, attach, port-forward). */
void agent_service_write_metrics(const agent_service *svc, berth_prom *w);

#endif
