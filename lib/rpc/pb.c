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

bool berth_pb_visit(const ProtobufCMessage *m, berth_pb_visit_fn fn, void *data)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;

    if (!fn(m, data))
        return false;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *field = base + f->offset;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)field;

            for (size_t k = 0; k < n; k++)
                if (!berth_pb_visit(items[k], fn, data))
                    return false;
            continue;
        }
        /* The members of a oneof share their storage: only the chosen one
         * is there. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue;
        if (*(ProtobufCMessage *const *)field &&
            !berth_pb_visit(*(ProtobufCMessage *const *)field, fn, data))
            return false;
    }
    return true;
}

/* No encoder writes field number 0, and protobuf-c refuses it, but only
 * when its tag is a single byte (protobuf-c#299 checks the first byte):
 * spelt as a longer varint ("82 00") it is kept as an unknown field and
 * packed back as "02", which protobuf-c then refuses. A message holding
 * one would decode once and never again (a spec the agent copies, say). */
static bool field_numbers_valid(const ProtobufCMessage *m, void *data)
{
    (void)data;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return false;
    return true;
}

ProtobufCMessage *berth_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len)
{
    budget b = { .left = BUDGET_BASE };
    ProtobufCAllocator alloc = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &b };
    ProtobufCMessage *m;

    if (len > BERTH_FRAME_MAX)
        return NULL;
    b.left += len * BUDGET_FACTOR;
    if (b.left > BUDGET_MAX)
        b.left = BUDGET_MAX;
    /* Freed later with the default allocator: both are malloc/free. */
    m = protobuf_c_message_unpack(d, &alloc, len, data);
    if (m && !berth_pb_visit(m, field_numbers_valid, NULL)) {
        protobuf_c_message_free_unpacked(m, &alloc);
        return NULL;
    }
    return m;
}

void berth_pb_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

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
    frame = berth_frame_buffer(len);
    if (!frame)
        return berth_error_make(err, ENOMEM, "encode envelope");
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
