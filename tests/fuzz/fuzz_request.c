/* Fuzz target: the body of each call of the Controller and Agent services,
 * unpacked and checked the way the receiving side does it.
 *
 * Input: a selector byte, then the body. selector & 0x7f indexes methods[]
 * below; with selector & 0x80 clear the body is the method's request, as
 * the server unpacks it (routed by its full name through the dispatch,
 * decoded under berth_pb_unpack's memory budget) before the handler runs;
 * with it set, the body is the method's response, as the caller unpacks it
 * (the node acting on the controller's Assignments, say). Either way the
 * message then goes through the receiver's checks (wire.h): every
 * ContainerSpec through berth_spec_validate, the controller's own checks
 * of each request (scheduler-stub/controller/validate.h), manifests
 * through lib/manifest's parser, and so on.
 *
 * methods[] is append-only: corpus inputs name methods by their index. */
#include <stdio.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "berth/proto/v1.h"
#include "rpc/envelope.h"
#include "wire.h"
#include "world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SELECT_RESPONSE 0x80

static const struct {
    const ProtobufCServiceDescriptor *svc;
    const char *method;
} methods[] = {
    { &controller_descriptor, "Register" },
    { &controller_descriptor, "Heartbeat" },
    { &controller_descriptor, "GetAssignments" },
    { &controller_descriptor, "ReportStatus" },
    { &controller_descriptor, "Apply" },
    { &controller_descriptor, "Delete" },
    { &controller_descriptor, "ListNodes" },
    { &controller_descriptor, "GetNode" },
    { &controller_descriptor, "ApproveNode" },
    { &controller_descriptor, "CreateJoinToken" },
    { &controller_descriptor, "ListWorkloads" },
    { &controller_descriptor, "GetWorkload" },
    { &controller_descriptor, "ListContainers" },
    { &controller_descriptor, "GetContainer" },
    { &controller_descriptor, "ListPods" },
    { &controller_descriptor, "GetPod" },
    { &controller_descriptor, "TaintNode" },
    { &controller_descriptor, "FleetHealth" },
    { &controller_descriptor, "Logs" },
    { &agent_descriptor, "Health" },
    { &agent_descriptor, "List" },
    { &agent_descriptor, "Logs" },
    { &agent_descriptor, "Stop" },
    { &controller_descriptor, "CordonNode" },
    { &controller_descriptor, "DrainNode" },
    { &controller_descriptor, "ListEvents" },
    { &controller_descriptor, "Top" },
    { &controller_descriptor, "StopContainer" },
    { &controller_descriptor, "ListNamespaces" },
    { &controller_descriptor, "GetPeers" },
    { &controller_descriptor, "Rollout" },
    { &controller_descriptor, "ListDisruptionBudgets" },
    { &controller_descriptor, "EvictPod" },
    { &controller_descriptor, "CreateJob" },
    { &controller_descriptor, "ListObjects" },
    { &controller_descriptor, "Version" },
    { &controller_descriptor, "ListJoinTokens" },
    { &controller_descriptor, "DeleteJoinToken" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMethodDescriptor *m;
    ProtobufCService *svc = NULL;
    ProtobufCMessage *msg;
    size_t i;
    char full[160];

    if (size < 1)
        return 0;
    i = data[0] & ~SELECT_RESPONSE;
    if (i >= BERTH_ARRAY_SIZE(methods))
        return 0;
    /* By name, as a call names it: a method renamed in the .proto must be
     * renamed here, not silently skipped. */
    m = berth_rpc_method(methods[i].svc, methods[i].method);
    if (!m || !berth_method_name(methods[i].svc, m, full, sizeof(full)) ||
        berth_rpc_dispatch_find(fuzz_wire_dispatch(), full, &svc) != m) {
        fprintf(stderr, "fuzz_request: %s/%s does not route\n", methods[i].svc->name,
                methods[i].method);
        abort();
    }
    msg = berth_pb_unpack((data[0] & SELECT_RESPONSE) ? m->output : m->input, data + 1, size - 1);
    if (!msg)
        return 0;
    fuzz_wire_check(msg);
    berth_pb_free(msg);
    return 0;
}
