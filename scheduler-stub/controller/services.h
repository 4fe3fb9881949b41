/* The Controller service (controller.proto), split by caller:
 * node-service.c answers agents (and takes in the stream they send),
 * operator-service.c answers berthctl. A handler decodes and authorises a
 * call, asks the fleet (fleet.h, fleet-view.h) and encodes the answer; it
 * changes nothing itself, and fails with the status its error's errno
 * means (berth_rpc_fail_error). */
#ifndef BERTH_CONTROLLER_SERVICES_H
#define BERTH_CONTROLLER_SERVICES_H

#include <stdbool.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "fleet.h"
#include "relay.h"
#include "rpc/duplex.h"
#include "rpc/server.h"
#include "rpc/stream.h"
#include "rpc/survey.h"

/* What the handlers are given: the process object (controller.c) fills it
 * and keeps it alive while the server runs. */
typedef struct ctl_service {
    Controller_Service svc; /* the server hands handlers &svc */
    fleet *fleet;
    /* What Register tells agents to connect to. */
    const char *events, *stream, *survey;
    /* ... and the cluster's pod range. */
    const char *cluster_cidr;
    /* For join commands: the rpc address agents dial, and the
     * controller's public key (its fingerprint). */
    const char *rpc;
    const uint8_t *pk;
    /* For operator calls the nodes answer: FleetHealth, Logs, Stop. */
    berth_surveyor *surveyor;
    ctl_relay *relay;
    /* Exec streams, operator to controller (exec-relay.c). */
    berth_duplex_server *dx;
    /* The controller's own frame counters, for FleetHealth. */
    berth_auth *auth;
    /* For ListControllers: the store (its election and health) and this
     * member's name. */
    berth_store *store;
    const char *member;
} ctl_service;

/* Point every method of s->svc at its handler. */
void ctl_service_init(ctl_service *s);
/* Each half's methods (ctl_service_init calls both). */
void ctl_node_service_init(ctl_service *s);
void ctl_operator_service_init(ctl_service *s);
/* Take the nodes' container events and metrics on pull into the fleet. */
int ctl_node_stream_init(ctl_service *s, berth_stream_pull *pull, berth_error **err);

static inline ctl_service *ctl_service_of(Controller_Service *svc)
{
    return berth_container_of(svc, ctl_service, svc);
}

/* Controller.Exec and Controller.Exchange (exec-relay.c): an operator's
 * exec relayed to the node's Agent.Exec (closures cast). */
void ctl_exec_start(ctl_service *s, berth_rpc_call *call, const ExecStart *in,
                    ProtobufCClosure closure);
void ctl_exec_exchange(ctl_service *s, berth_rpc_call *call, const DuplexExchange *in,
                       ProtobufCClosure closure);
/* Controller.Attach: relayed to Agent.Attach. */
void ctl_attach(ctl_service *s, berth_rpc_call *call, const AttachStart *in,
                ProtobufCClosure closure);
/* Controller.PortForward: a connection relayed to Agent.PortForward. */
void ctl_port_forward(ctl_service *s, berth_rpc_call *call, const PortForwardStart *in,
                      ProtobufCClosure closure);

/* Whether the caller of call has role; if not, the call is failed
 * PERMISSION_DENIED. */
bool ctl_need_role(berth_rpc_call *call, berth_role role);

#endif
