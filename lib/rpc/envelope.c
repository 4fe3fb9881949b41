/* Envelopes: decoding received payloads, packing frames. */
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "pb/pb.h"

Envelope *berth_envelope_decode(berth_auth *a, const uint8_t *payload, size_t len)
{
    berth_auth_stats_of(a)->decoded++;
    return (Envelope *)berth_pb_unpack(&envelope_descriptor, payload, len);
}

/* Envelope.body is field 6, length-delimited: tag byte 6 << 3 | 2. */
#define ENVELOPE_BODY_TAG 0x32

static size_t varint_put(uint8_t *p, size_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int berth_envelope_frame(Envelope *env, const ProtobufCMessage *body, uint8_t **ret_frame,
                         size_t *ret_payload_len, berth_error **err)
{
    uint8_t varint[10], *frame, *p;
    size_t blen = 0, vlen = 0, elen, len;

    /* The body is packed straight into the frame, after the envelope's
     * other fields (protobuf fields may come in any order): no copy. */
    if (body) {
        blen = protobuf_c_message_get_packed_size(body);
        if (blen > BERTH_PAYLOAD_MAX)
            return berth_error_set(err, EMSGSIZE,
                                   "%s of %zu bytes exceeds the frame limit of %zu bytes",
                                   body->descriptor->name, blen, BERTH_PAYLOAD_MAX);
        vlen = varint_put(varint, blen);
        env->body.data = NULL;
        env->body.len = 0;
    }
    elen = envelope_get_packed_size(env);
    len = elen + (body ? 1 + vlen + blen : 0);
    if (len > BERTH_PAYLOAD_MAX)
        return berth_error_set(err, EMSGSIZE,
                               "message of %zu bytes exceeds the frame limit of %zu bytes", len,
                               BERTH_PAYLOAD_MAX);
    frame = berth_frame_buffer(len); /* len is within BERTH_PAYLOAD_MAX */
    p = frame + BERTH_FRAME_HEADER_LEN;
    p += envelope_pack(env, p);
    if (body) {
        *p++ = ENVELOPE_BODY_TAG;
        memcpy(p, varint, vlen);
        p += vlen;
        protobuf_c_message_pack(body, p);
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
