/* Port-forward (Agent.PortForward, agent.proto): a TCP connection to
 * 127.0.0.1:port inside a container's network namespace, bridged to a
 * duplex call (rpc/duplex_sock.h). The socket is made in that namespace by
 * a thread of berthd that enters the network namespace alone, makes the
 * socket and ends: nothing of the container runs in berthd, and the
 * connection is the pod's own loopback's, as kubelet's port-forward is. */
#ifndef BERTHD_PORTFWD_H
#define BERTHD_PORTFWD_H

#include <protobuf-c/protobuf-c.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "containers.h"
#include "rpc/duplex.h"
#include "rpc/server.h"

/* The handler of Agent.PortForward (closure cast); dx holds the stream,
 * loop runs the bridge. */
void agent_port_forward(berth_loop *loop, containers *c, berth_duplex_server *dx,
                        berth_rpc_call *call, const PortForwardStart *in, ProtobufCClosure closure);

#endif
