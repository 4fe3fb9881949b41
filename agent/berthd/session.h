/* The controller session: identity and keys, Register (with backoff until
 * admitted), heartbeats with jitter on the interval the controller sets,
 * GetAssignments on a wake-up or a generation mismatch, full status
 * reports when asked or after the controller was unreachable, container
 * events on the stream, and the survey respondent. It also serves the
 * Agent service it is given on the local socket and the remote endpoint,
 * under the node's identity.
 *
 * Arrows: main starts it and hands it container events; it calls the
 * container table (apply, statuses, digest, generations) and serves the
 * Agent service through the rpc layer (ProtobufCService) without calling
 * into it. Nothing calls it but main. */
#ifndef BERTHD_SESSION_H
#define BERTHD_SESSION_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent-config.h"
#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "containers.h"
#include "devices.h"
#include "node.h"
#include "metrics/prom.h"
#include "rpc/auth.h"
#include "rpc/stream.h"

typedef struct session session;

/* Everything is borrowed: it must outlive the session. */
typedef struct session_config {
    berth_loop *loop;
    const agent_config *cfg;
    const node_facts *facts;
    int cgroup_version;
    int64_t agent_start_ns;
    containers *containers;
    devices *devices;                /* its kinds are the node's extended resources (NULL: none) */
    ProtobufCService *agent_service; /* served on cfg->socket and cfg->listen */
    /* Registered: the node's pod range and the cluster's ("" none). */
    void (*pod_range)(const char *pod_cidr, const char *cluster_cidr, void *data);
    /* The other nodes' ranges and addresses changed (GetPeers, fetched when
     * set and the controller's peers_version moves): 0 when taken, -1 to
     * be given them again later. */
    int (*peers)(const Peers *peers, void *data);
    void *data;
} session_config;

/* Load the identity, bind the Agent service's endpoints, and register
 * from the loop. */
int session_start(const session_config *cfg, session **ret, berth_error **err);
/* Stop calling; the local socket is removed. NULL is fine. */
void session_stop(session *s);

/* A container's status changed (containers_events.status_changed): an
 * event on the stream, when connected (a full report follows otherwise). */
void session_status_changed(session *s, const ContainerStatus *st, ContainerState prev,
                            bool removed);
/* What the node registers changed (its devices): register again. */
void session_node_changed(session *s);

/* The applied generation moved (containers_events.applied). */
void session_applied(session *s, uint64_t generation);

/* Whether the controller answers: 0, or -1 and why not (EAGAIN: not
 * registered yet; EHOSTUNREACH: it stopped answering). */
int session_controller_check(const session *s, berth_error **err);

/* The frames berthd dropped since it started, by reason, for Health
 * (rpc/server.h: berth_rpc_frame_drops). */
size_t session_frame_drops(const session *s, FrameDrops storage[BERTH_REJECT_COUNT],
                           FrameDrops *ptrs[BERTH_REJECT_COUNT]);

/* The stream to the controller, for metrics; NULL until registered. */
berth_stream_push *session_stream(session *s);

/* For /metrics: the rpc calls berthd served and made, and the frames it
 * dropped (rpc/metrics.h). */
void session_write_metrics(session *s, berth_prom *w);

#endif
