/* Controller.Exec and Controller.PortForward: an operator's stream relayed
 * to the node's Agent.Exec or Agent.PortForward, the two duplex calls
 * spliced (rpc/duplex.h), so the controller holds at most a stream's
 * capacity each way whatever either end does. Every exec is two events:
 * who ran what in which container when it starts, and how it ended (its
 * exit code) when it ends; every forwarded connection is one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "fleet-view.h"
#include "pb/pb.h"
#include "rpc/duplex.h"
#include "services.h"

/* The opening call to the node. */
#define OPEN_TIMEOUT_MS 10000
/* ExecExit on its channel (agent.proto). */
#define EXEC_STATUS_CHANNEL 3
/* How much of a command line an event quotes. */
#define CMD_QUOTE 200

typedef struct exec_relay {
    ctl_service *s;
    berth_rpc_call *call; /* the operator's Exec, until answered */
    ProtobufCClosure closure;
    berth_rpc_client *client;
    char node[BERTH_NAME_MAX + 1];
    char id[BERTH_ID_BUF];
    char who[BERTH_NAME_MAX + 1];
    char cmd[CMD_QUOTE + 8];
    uint32_t port; /* port-forward's; 0 for an exec */
    bool attach;
    bool have_exit;
    int exit_code;
} exec_relay;

/* The command line as an event quotes it: arguments space-separated, cut
 * at CMD_QUOTE bytes. */
static void quote_command(const ExecStart *in, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < in->n_command && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", in->command[i]);
    if (len >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

static void watch_status(const berth_duplex_chunk *c, bool to_a, void *data)
{
    exec_relay *r = data;
    ExecExit *e;

    if (!to_a || c->channel != EXEC_STATUS_CHANNEL)
        return;
    e = (ExecExit *)berth_pb_unpack(&exec_exit_descriptor, c->data, c->len);
    if (!e)
        return;
    r->have_exit = true;
    r->exit_code = e->exit_code;
    berth_pb_free(&e->base);
}

static void spliced(int code, const char *msg, void *data)
{
    exec_relay *r = data;

    /* both ends are over: the node's client may go */
    ctl_relay_release(r->s->relay, r->client);
    if (r->port) {
        /* a connection's end is no news */
        free(r);
        return;
    }
    if (r->attach && r->have_exit)
        fleet_container_event(r->s->fleet, r->node, r->id, "AttachFinished",
                              "attach by operator %s to container %s: it exited with code %d",
                              r->who, r->id, r->exit_code);
    else if (r->attach)
        fleet_container_event(r->s->fleet, r->node, r->id, "AttachFinished",
                              "attach by operator %s to container %s: detached (%s)", r->who, r->id,
                              code == CODE_OK ? "OK" : msg);
    else if (r->have_exit)
        fleet_container_event(r->s->fleet, r->node, r->id, "ExecFinished",
                              "exec by operator %s in container %s: %s: exit code %d", r->who,
                              r->id, r->cmd, r->exit_code);
    else
        fleet_container_event(r->s->fleet, r->node, r->id, "ExecFinished",
                              "exec by operator %s in container %s: %s: ended %s: %s", r->who,
                              r->id, r->cmd, berth_rpc_code_name(code), msg);
    free(r);
}

/* The node opened its stream: open ours and splice them. */
static void node_opened(berth_rpc_result *res, void *data)
{
    exec_relay *r = data;
    berth_duplex_client_config cc = { .client = r->client, .service = &agent_descriptor };
    static const berth_duplex_ops none = { 0 };
    berth_duplex *to_node = NULL, *to_caller = NULL;
    berth_error *err = NULL;
    DuplexOpened opened;

    if (res->code != CODE_OK) {
        ctl_relay_release(r->s->relay, r->client);
        berth_rpc_call_fail(r->call, res->code, "node %s: %s", r->node,
                            res->message ? res->message : berth_rpc_code_name(res->code));
        free(r);
        return;
    }
    if (berth_duplex_client_open(&cc, (const DuplexOpened *)res->response, &none, NULL, &to_node,
                                 &err) < 0 ||
        berth_duplex_server_open(r->s->dx, berth_rpc_call_peer(r->call), &none, NULL, &to_caller,
                                 &opened, &err) < 0) {
        if (to_node)
            berth_duplex_cancel(to_node);
        ctl_relay_release(r->s->relay, r->client);
        berth_rpc_fail_error(r->call, err);
        berth_error_free(&err);
        free(r);
        return;
    }
    if (r->attach)
        fleet_container_event(r->s->fleet, r->node, r->id, "Attach",
                              "attach by operator %s to container %s%s", r->who, r->id, r->cmd);
    else if (r->port)
        fleet_container_event(r->s->fleet, r->node, r->id, "PortForward",
                              "port-forward by operator %s to port %u of container %s", r->who,
                              r->port, r->id);
    else
        fleet_container_event(r->s->fleet, r->node, r->id, "Exec",
                              "exec by operator %s in container %s: %s", r->who, r->id, r->cmd);
    berth_duplex_splice(to_caller, to_node, r->port ? NULL : watch_status, spliced, r);
    r->closure(&opened.base, r->call);
    r->call = NULL;
}

/* A relay to the node of container id (on node, when not empty), opened
 * there by method with request; NULL after failing call. */
static exec_relay *relay_new(ctl_service *s, berth_rpc_call *call, ProtobufCClosure closure,
                             const char *id, const char *node)
{
    berth_error *err = NULL;
    fleet_agent to;
    exec_relay *r = berth_xcalloc(1, sizeof(*r));

    if (fleet_container_agent(s->fleet, id, node, &to, &err) < 0 ||
        ctl_relay_client(s->relay, &to.who, to.address, &r->client, &err) < 0) {
        berth_rpc_fail_error(call, err);
        berth_error_free(&err);
        free(r);
        return NULL;
    }
    /* held from the opening call to the stream's end */
    ctl_relay_hold(s->relay, r->client);
    r->s = s;
    r->call = call;
    r->closure = closure;
    snprintf(r->node, sizeof(r->node), "%s", to.node);
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->who, sizeof(r->who), "%s", berth_rpc_call_peer(call)->name);
    return r;
}

static void relay_open(exec_relay *r, const char *method, const ProtobufCMessage *request)
{
    berth_error *err = NULL;

    if (berth_rpc_client_call(r->client, &agent_descriptor, method, request, OPEN_TIMEOUT_MS,
                              node_opened, r, &err) < 0) {
        ctl_relay_release(r->s->relay, r->client);
        berth_rpc_fail_error(r->call, err);
        berth_error_free(&err);
        free(r);
    }
}

void ctl_exec_start(ctl_service *s, berth_rpc_call *call, const ExecStart *in,
                    ProtobufCClosure closure)
{
    exec_relay *r;
    ExecStart q;

    if (!ctl_need_role(call, BERTH_ROLE_OPERATOR))
        return;
    if (!in->n_command || !*in->command[0]) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "exec: no command given");
        return;
    }
    r = relay_new(s, call, closure, in->container_id, in->node);
    if (!r)
        return;
    quote_command(in, r->cmd, CMD_QUOTE);
    q = *in;
    q.node = (char *)protobuf_c_empty_string; /* the agent ignores it */
    relay_open(r, "Exec", &q.base);
}

void ctl_attach(ctl_service *s, berth_rpc_call *call, const AttachStart *in,
                ProtobufCClosure closure)
{
    exec_relay *r;
    AttachStart q;

    if (!ctl_need_role(call, BERTH_ROLE_OPERATOR))
        return;
    r = relay_new(s, call, closure, in->container_id, in->node);
    if (!r)
        return;
    r->attach = true;
    snprintf(r->cmd, sizeof(r->cmd), "%s", in->stdin ? ", with stdin" : "");
    q = *in;
    q.node = (char *)protobuf_c_empty_string;
    relay_open(r, "Attach", &q.base);
}

void ctl_port_forward(ctl_service *s, berth_rpc_call *call, const PortForwardStart *in,
                      ProtobufCClosure closure)
{
    exec_relay *r;
    PortForwardStart q;

    if (!ctl_need_role(call, BERTH_ROLE_OPERATOR))
        return;
    if (!in->port || in->port > 65535) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "port-forward: port %u is not 1-65535",
                            in->port);
        return;
    }
    r = relay_new(s, call, closure, in->container_id, in->node);
    if (!r)
        return;
    r->port = in->port;
    q = *in;
    q.node = (char *)protobuf_c_empty_string;
    relay_open(r, "PortForward", &q.base);
}

void ctl_exec_exchange(ctl_service *s, berth_rpc_call *call, const DuplexExchange *in,
                       ProtobufCClosure closure)
{
    berth_duplex_server_exchange(s->dx, call, in, closure);
}
