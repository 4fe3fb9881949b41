/* Protobuf at the edges of the wire: bounded decoding of authenticated
 * payloads, and packing envelopes straight into frame buffers. */
#ifndef BERTH_RPC_PB_H
#define BERTH_RPC_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "berth/proto/v1.h"

/* Decode len bytes as d, or NULL when they are not a valid d or would take
 * more memory than a budget proportional to len (protobuf-c allocates per
 * element, so two bytes of an empty repeated message could cost hundreds:
 * the budget caps what a hostile peer can make us allocate). What decodes
 * here packs into bytes that decode again, which protobuf-c alone does not
 * promise (pb.c, field_numbers_valid). Free with berth_pb_free. */
ProtobufCMessage *berth_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len);
void berth_pb_free(ProtobufCMessage *m);

/* Call fn on m and on every message inside it (set sub-messages, each
 * element of a repeated one, the chosen member of a oneof), parents first.
 * Stops and returns false as soon as fn does. */
typedef bool (*berth_pb_visit_fn)(const ProtobufCMessage *m, void *data);
bool berth_pb_visit(const ProtobufCMessage *m, berth_pb_visit_fn fn, void *data);

/* The one place a received payload becomes an Envelope: counts the decode
 * in a's stats (the hook tests use to prove rejected frames never get
 * here). NULL when the payload is not an Envelope. */
Envelope *berth_envelope_decode(berth_auth *a, const uint8_t *payload, size_t len);

/* Pack env into a new frame buffer (berth_frame_buffer). When body is not
 * NULL it becomes env's body (env->body is overwritten with empty), packed
 * in place. *ret_payload_len is the packed size; EMSGSIZE when it exceeds
 * BERTH_PAYLOAD_MAX. */
int berth_envelope_frame(Envelope *env, const ProtobufCMessage *body, uint8_t **ret_frame,
                         size_t *ret_payload_len, berth_error **err);

/* "berth.v1.Controller/Register" into buf (NULL if it does not fit). */
const char *berth_method_name(const ProtobufCServiceDescriptor *svc,
                              const ProtobufCMethodDescriptor *m, char *buf, size_t size);

#endif
