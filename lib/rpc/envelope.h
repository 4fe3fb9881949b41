/* Envelopes at the edges of the wire: decoding authenticated payloads
 * (bounded, lib/pb) and packing envelopes straight into frame buffers. */
#ifndef BERTH_RPC_ENVELOPE_H
#define BERTH_RPC_ENVELOPE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "berth/proto/v1.h"
#include "pb/pb.h"

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
