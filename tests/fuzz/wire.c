/* Routing and checks of decoded wire messages, for the fuzz targets. */
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "berth/proto/v1.h"
#include "manifest/manifest.h"
#include "rpc/keys.h"
#include "rpc/envelope.h"
#include "rpc/principal.h"
#include "rpc/sock.h"
#include "spec/spec.h"
#include "validate.h"
#include "world.h"

/* Never called: the targets run the checks themselves. A custom invoke
 * makes the dispatch count every method as implemented. */
static void no_invoke(ProtobufCService *service, unsigned method_index,
                      const ProtobufCMessage *input, ProtobufCClosure closure, void *closure_data)
{
    (void)service;
    (void)method_index;
    (void)input;
    closure(NULL, closure_data);
}

const berth_rpc_dispatch *fuzz_wire_dispatch(void)
{
    static ProtobufCService services[] = {
        { .descriptor = &controller_descriptor, .invoke = no_invoke },
        { .descriptor = &agent_descriptor, .invoke = no_invoke },
    };
    static berth_rpc_dispatch *d;
    berth_error *err = NULL;

    if (d)
        return d;
    if (berth_rpc_dispatch_new(&d, &err) < 0)
        fuzz_die("dispatch", err);
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(services); i++)
        if (berth_rpc_dispatch_add(d, &services[i], &err) < 0)
            fuzz_die("dispatch", err);
    return d;
}

/* A berth_typed of the given types (handlers never called). */
static void typed_make(berth_typed *t, const ProtobufCMessageDescriptor *const *types, size_t n)
{
    berth_error *err = NULL;

    for (size_t i = 0; i < n; i++)
        if (berth_typed_add(t, types[i], (berth_typed_fn)abort, NULL, &err) < 0)
            fuzz_die("typed", err);
}

const berth_typed *fuzz_wire_events(void)
{
    static const ProtobufCMessageDescriptor *const types[] = { &wake_up_descriptor };
    static berth_typed t;

    if (!t.n)
        typed_make(&t, types, BERTH_ARRAY_SIZE(types));
    return &t;
}

const berth_typed *fuzz_wire_stream(void)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &container_event_descriptor,
        &metrics_report_descriptor,
    };
    static berth_typed t;

    if (!t.n)
        typed_make(&t, types, BERTH_ARRAY_SIZE(types));
    return &t;
}

/* m through its encoding, as berth copies and stores messages (the agent
 * its specs, say): protobuf-c must take back what it packed, and pack it
 * to the same bytes. The copy is the caller's. */
static ProtobufCMessage *repack(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    _cleanup_free_ uint8_t *buf = malloc(len ? len : 1), *again = malloc(len ? len : 1);
    ProtobufCMessage *copy;

    if (!buf || !again || protobuf_c_message_pack(m, buf) != len)
        abort();
    copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    if (!copy || protobuf_c_message_get_packed_size(copy) != len ||
        protobuf_c_message_pack(copy, again) != len || memcmp(buf, again, len) != 0)
        abort();
    return copy;
}

/* What the agent does with an assigned spec before it starts anything. */
static void check_spec(const ContainerSpec *s)
{
    berth_error *err = NULL;
    uint64_t caps;
    bool valid = berth_spec_validate(s, &err) == 0;

    berth_error_free(&err);
    if (valid && berth_spec_caps(s, &caps, &err) < 0)
        abort(); /* a valid spec has valid capabilities */
    /* The agent validates its copy, not what arrived: same verdict. */
    {
        ProtobufCMessage *copy = repack(&s->base);

        if ((berth_spec_validate((ContainerSpec *)copy, &err) == 0) != valid)
            abort();
        berth_error_free(&err);
        berth_pb_free(copy);
    }
    (void)berth_spec_stop_grace_ms(s);
    (void)berth_spec_stop_signal(s);
    (void)berth_spec_log_max_bytes(s);
    (void)berth_spec_log_max_files(s);
}

static void check_name(const char *name)
{
    berth_error *err = NULL;

    berth_name_validate(name, "name", &err);
    berth_error_free(&err);
}

/* What the controller does with the manifest of an Apply or a Delete. */
static void check_manifest(const char *text, const char *source)
{
    char name[CTL_SOURCE_MAX + 1];
    berth_manifest *m = NULL;
    berth_error *err = NULL;

    ctl_source_name(source, name, sizeof(name));
    if (berth_manifest_parse(text, strlen(text), name, &m, &err) == 0)
        berth_manifest_free(m);
    berth_error_free(&err);
}

/* The checks for one message, by type. */
static bool check_one(const ProtobufCMessage *m, void *data)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    berth_error *err = NULL;

    (void)data;
    if (d == &container_spec_descriptor) {
        check_spec((const ContainerSpec *)m);
    } else if (d == &stop_request_descriptor) {
        (void)berth_spec_id_valid(((const StopRequest *)m)->container_id);
    } else if (d == &stop_container_request_descriptor) {
        (void)berth_spec_id_valid(((const StopContainerRequest *)m)->container_id);
    } else if (d == &logs_request_descriptor) {
        (void)berth_spec_id_valid(((const LogsRequest *)m)->container_id);
    } else if (d == &node_info_descriptor) {
        const NodeInfo *n = (const NodeInfo *)m;

        check_name(n->name);
        berth_address_validate(n->agent_address, &err);
        berth_error_free(&err);
        ctl_node_info_validate(n, &err);
    } else if (d == &heartbeat_request_descriptor) {
        ctl_heartbeat_validate((const HeartbeatRequest *)m, &err);
    } else if (d == &container_status_descriptor) {
        ctl_status_validate((const ContainerStatus *)m, &err);
    } else if (d == &report_status_request_descriptor) {
        ctl_report_status_validate((const ReportStatusRequest *)m, &err);
    } else if (d == &get_node_request_descriptor) {
        check_name(((const GetNodeRequest *)m)->name);
    } else if (d == &cordon_node_request_descriptor) {
        check_name(((const CordonNodeRequest *)m)->name);
    } else if (d == &drain_node_request_descriptor) {
        check_name(((const DrainNodeRequest *)m)->name);
    } else if (d == &approve_node_request_descriptor) {
        const ApproveNodeRequest *a = (const ApproveNodeRequest *)m;
        uint8_t pk[BERTH_PUBKEY_LEN];

        check_name(a->name);
        ctl_approve_node_validate(a, &err);
        berth_error_free(&err);
        berth_key_parse_fingerprint(a->key_fingerprint, pk, &err);
    } else if (d == &create_join_token_request_descriptor) {
        ctl_join_token_request_validate((const CreateJoinTokenRequest *)m, &err);
    } else if (d == &join_token_descriptor) {
        berth_join_token t;

        berth_join_token_parse(((const JoinToken *)m)->token, &t, &err);
    } else if (d == &apply_request_descriptor) {
        const ApplyRequest *a = (const ApplyRequest *)m;

        check_manifest(a->manifest, a->source);
    } else if (d == &delete_request_descriptor) {
        const DeleteRequest *del = (const DeleteRequest *)m;

        if (*del->manifest)
            check_manifest(del->manifest, "manifest");
    }
    berth_error_free(&err);
    return true;
}

void fuzz_wire_check(const ProtobufCMessage *m)
{
    berth_pb_visit(m, check_one, NULL);
    berth_pb_free(repack(m));
}
