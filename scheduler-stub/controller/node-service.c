/* The agent-facing half of the Controller service (role node, each call
 * about the calling node only), and the stream of container events and
 * metrics nodes send. */
#include <stdlib.h>

#include "base/cleanup.h"
#include "services.h"

/* ---- calls ---- */

static void h_register(Controller_Service *svc, const RegisterRequest *in,
                       RegisterResponse_Closure closure, void *data)
{
    ctl_service *s = ctl_service_of(svc);
    RegisterResponse out = REGISTER_RESPONSE_INIT;
    Endpoints ep = ENDPOINTS_INIT;
    _cleanup_error_ berth_error *err = NULL;
    fleet_beat beat;

    if (!ctl_need_role(data, BERTH_ROLE_NODE))
        return;
    if (fleet_node_register(s->fleet, berth_rpc_call_peer(data), in->node, &beat, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    /* a new agent run knows no session of the last one's: the sessions the
     * controller made with it (the relay's, for Logs, Stop, exec) go, else
     * relayed calls go unanswered, dropped there as from an unknown key,
     * until they time out; those already sent under them (a call that
     * raced the restart) go out again under a new one. The same run
     * registering again (its devices changed) keeps them. */
    if (!beat.same_run) {
        const berth_principal *peer = berth_rpc_call_peer(data);
        berth_session *old;

        while (s->auth && (old = berth_auth_session_latest(s->auth, peer->id)))
            berth_auth_session_drop(s->auth, old);
        if (s->relay)
            ctl_relay_node_restarted(s->relay, peer->name,
                                     in->node ? in->node->agent_address : NULL);
    }
    out.generation = beat.generation;
    out.heartbeat_interval_ms = beat.heartbeat_interval_ms;
    ep.events = (char *)s->events;
    ep.stream = (char *)s->stream;
    ep.survey = (char *)s->survey;
    out.endpoints = &ep;
    out.pod_cidr = (char *)beat.pod_cidr;
    out.peers_version = beat.peers_version;
    out.cluster_cidr = (char *)s->cluster_cidr;
    closure(&out, data);
}

static void h_heartbeat(Controller_Service *svc, const HeartbeatRequest *in,
                        HeartbeatResponse_Closure closure, void *data)
{
    HeartbeatResponse out = HEARTBEAT_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;
    fleet_beat beat;

    if (!ctl_need_role(data, BERTH_ROLE_NODE))
        return;
    if (fleet_node_heartbeat(ctl_service_of(svc)->fleet, berth_rpc_call_peer(data), in, &beat,
                             &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.generation = beat.generation;
    out.heartbeat_interval_ms = beat.heartbeat_interval_ms;
    out.report_status = beat.report_status;
    out.peers_version = beat.peers_version;
    closure(&out, data);
}

static void h_get_peers(Controller_Service *svc, const GetPeersRequest *in, Peers_Closure closure,
                        void *data)
{
    Peers out = PEERS_INIT;
    _cleanup_error_ berth_error *err = NULL;

    (void)in;
    if (!ctl_need_role(data, BERTH_ROLE_NODE))
        return;
    if (fleet_node_peers(ctl_service_of(svc)->fleet, berth_rpc_call_peer(data), &out.peers,
                         &out.n_peers, &out.version, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(&out, data);
    free(out.peers);
}

static void h_get_assignments(Controller_Service *svc, const GetAssignmentsRequest *in,
                              Assignments_Closure closure, void *data)
{
    Assignments out = ASSIGNMENTS_INIT;
    _cleanup_error_ berth_error *err = NULL;
    fleet_specs specs;

    if (!ctl_need_role(data, BERTH_ROLE_NODE))
        return;
    if (fleet_node_assignments(ctl_service_of(svc)->fleet, berth_rpc_call_peer(data),
                               in->known_generation, &specs, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    out.generation = specs.generation;
    out.unchanged = specs.unchanged;
    out.containers = specs.specs;
    out.n_containers = specs.n_specs;
    out.objects = specs.objects;
    out.n_objects = specs.n_objects;
    closure(&out, data);
    fleet_specs_clear(&specs);
}

static void h_report_status(Controller_Service *svc, const ReportStatusRequest *in,
                            ReportStatusResponse_Closure closure, void *data)
{
    ReportStatusResponse out = REPORT_STATUS_RESPONSE_INIT;
    _cleanup_error_ berth_error *err = NULL;

    if (!ctl_need_role(data, BERTH_ROLE_NODE))
        return;
    if (fleet_node_report(ctl_service_of(svc)->fleet, berth_rpc_call_peer(data), in, &err) < 0) {
        berth_rpc_fail_error(data, err);
        return;
    }
    closure(&out, data);
}

void ctl_node_service_init(ctl_service *s)
{
    s->svc.register_ = h_register;
    s->svc.get_peers = h_get_peers;
    s->svc.heartbeat = h_heartbeat;
    s->svc.get_assignments = h_get_assignments;
    s->svc.report_status = h_report_status;
}

/* ---- the stream ---- */

static bool from_node(const berth_stream_item *item, fleet_stream_pos *ret_pos)
{
    *ret_pos = (fleet_stream_pos){ item->epoch, item->seq, item->missed };
    return item->from->role == BERTH_ROLE_NODE;
}

static void on_container_event(const berth_stream_item *item, const ProtobufCMessage *msg,
                               void *data)
{
    ctl_service *s = data;
    fleet_stream_pos pos;

    if (from_node(item, &pos))
        fleet_node_event(s->fleet, item->from, &pos, (const ContainerEvent *)msg);
}

static void on_metrics(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    ctl_service *s = data;
    fleet_stream_pos pos;

    if (from_node(item, &pos))
        fleet_node_metrics(s->fleet, item->from, &pos, (const MetricsReport *)msg);
}

int ctl_node_stream_init(ctl_service *s, berth_stream_pull *pull, berth_error **err)
{
    if (berth_stream_pull_on(pull, &container_event_descriptor, on_container_event, s, err) < 0 ||
        berth_stream_pull_on(pull, &metrics_report_descriptor, on_metrics, s, err) < 0)
        return -1;
    return 0;
}
