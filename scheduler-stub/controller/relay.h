/* The controller's clients to its nodes' Agent services, for the calls it
 * relays from operators (Logs, Stop): one per node, made at the first
 * relay to it and made again when the node's agent_address changed. A
 * client must find the node's enrolled key on the other end. */
#ifndef BERTH_CONTROLLER_RELAY_H
#define BERTH_CONTROLLER_RELAY_H

#include "base/error.h"
#include "base/loop.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/principal.h"

typedef struct ctl_relay ctl_relay;

/* loop, auth and metrics (where the calls are counted; NULL: nowhere)
 * stay the caller's and must outlive the relay. */
ctl_relay *ctl_relay_new(berth_loop *loop, berth_auth *auth, berth_rpc_metrics *metrics);
/* Calls still waiting complete with CANCELLED. NULL accepted. */
void ctl_relay_free(ctl_relay *r);

/* The client to node who at address (owned by the relay: valid until the
 * next call here). */
int ctl_relay_client(ctl_relay *r, const berth_principal *who, const char *address,
                     berth_rpc_client **ret_client, berth_error **err);
/* Close the client to the node called name, if any (it was forgotten). */
void ctl_relay_drop(ctl_relay *r, const char *name);
/* The node called name registered again, at address: a new run of its
 * agent, which knows none of the last run's sessions (the caller dropped
 * them from auth). Calls relayed to it meanwhile go out again under a new
 * session (its client, and a stream's, is kept); a client to another
 * address is closed, as by ctl_relay_drop. */
void ctl_relay_node_restarted(ctl_relay *r, const char *name, const char *address);

/* A stream (exec, port-forward) keeps using client across calls here:
 * while held, a client the relay closes (its node registered again, moved,
 * was forgotten) is only retired, and freed at its last release. */
void ctl_relay_hold(ctl_relay *r, berth_rpc_client *client);
void ctl_relay_release(ctl_relay *r, berth_rpc_client *client);

#endif
