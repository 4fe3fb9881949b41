/* What berth's receivers do with a message once it is decoded, for the
 * wire fuzz targets: calls routed to the Controller and Agent services the
 * way the rpc server routes them (berth_rpc_dispatch), events and stream
 * items by type (berth_typed), and the checks a receiver runs before it
 * acts on a message: every ContainerSpec through berth_spec_validate, the
 * controller's checks of each request (its validate.h), the manifests of
 * Apply and Delete through lib/manifest's parser, and the library's
 * parsers for the ids, names, addresses and keys fields carry. */
#ifndef BERTH_FUZZ_WIRE_H
#define BERTH_FUZZ_WIRE_H

#include <protobuf-c/protobuf-c.h>

#include "rpc/dispatch.h"
#include "rpc/typed.h"

/* The Controller and Agent services, every method implemented (made on
 * first use, like the two below). */
const berth_rpc_dispatch *fuzz_wire_dispatch(void);
/* WakeUp: what a node takes on the events channel. */
const berth_typed *fuzz_wire_events(void);
/* ContainerEvent and MetricsReport: what the controller takes on the
 * stream channel. */
const berth_typed *fuzz_wire_stream(void);

/* Check m, and every message inside it, as its receiver would. Verdicts
 * are ignored: hostile input must be refused, never crash. Aborts when m
 * does not survive its own encoding (packed, decoded, packed the same). */
void fuzz_wire_check(const ProtobufCMessage *m);

#endif
