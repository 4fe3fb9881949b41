/* Bounded protobuf decoding and envelope packing. */
#include "pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"

#define BUDGET_BASE   ((size_t)1 << 20)
#define BUDGET_FACTOR 64
#define BUDGET_MAX    ((size_t)64 << 20)

typedef struct budget {
    size_t left;
} budget;

static void *budget_alloc(void *data, size_t size)
{
    budget *b = data;

    if (size > b->left)
        return NULL;
    b->left -= size;
    return malloc(size);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

ProtobufCMessage *berth_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len)
{
    budget b = { .left = BUDGET_BASE };
    ProtobufCAllocator alloc = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };

    if (len > BERTH_FRAME_MAX)
        return NULL;
    b.left += len * BUDGET_FACTOR;
    if (b.left > BUDGET_MAX)
        b.left = BUDGET_MAX;
    /* Freed later with the default allocator: both are malloc/free. */
    return protobuf_c_message_unpack(d, &alloc, len, data);
}

void berth_pb_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

Berth__V1__Envelope *berth_envelope_decode(berth_auth *a, const uint8_t *payload, size_t len)
{
    berth_auth_stats_of(a)->decoded++;
    return (Berth__V1__Envelope *)berth_pb_unpack(&berth__v1__envelope__descriptor, payload, len);
}

int berth_envelope_frame(Berth__V1__Envelope *env, const ProtobufCMessage *body,
                         uint8_t **ret_frame, size_t *ret_payload_len, berth_error **err)
{
    _cleanup_free_ uint8_t *packed_body = NULL;
    uint8_t *frame;
    size_t len;

    if (body) {
        size_t blen = protobuf_c_message_get_packed_size(body);

        if (blen > BERTH_PAYLOAD_MAX)
            return berth_error_set(err, EMSGSIZE,
                                   "%s of %zu bytes exceeds the frame limit of %zu bytes",
                                   body->descriptor->name, blen, BERTH_PAYLOAD_MAX);
        packed_body = malloc(blen ? blen : 1);
        if (!packed_body)
            return berth_error_make(err, ENOMEM, "encode %s", body->descriptor->name);
        protobuf_c_message_pack(body, packed_body);
        env->body.data = packed_body;
        env->body.len = blen;
    }
    len = berth__v1__envelope__get_packed_size(env);
    if (len > BERTH_PAYLOAD_MAX)
        return berth_error_set(err, EMSGSIZE,
                               "message of %zu bytes exceeds the frame limit of %zu bytes", len,
                               BERTH_PAYLOAD_MAX);
    frame = berth_frame_buffer(len);
    if (!frame)
        return berth_error_make(err, ENOMEM, "encode envelope");
    berth__v1__envelope__pack(env, frame + BERTH_FRAME_HEADER_LEN);
    if (body) {
        env->body.data = NULL;
        env->body.len = 0;
    }
    *ret_frame = frame;
    *ret_payload_len = len;
    return 0;
}

const char *berth_method_name(const ProtobufCServiceDescriptor *svc,
                              const ProtobufCMethodDescriptor *m, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s", svc->name, m->name);

    return n < 0 || (size_t)n >= size ? NULL : buf;
}
