/* The stream channel (PUSH/PULL): agents push container events and metrics
 * to the controller, sealed under their session with it, numbered 1, 2, 3
 * ... per pusher run (Envelope.seq and .stream_epoch). The puller tracks
 * the next number it expects from each (sender, epoch) and reports how many
 * items went missing before each one it delivers, so the controller knows
 * to ask for a full status report. */
#ifndef BERTH_RPC_STREAM_H
#define BERTH_RPC_STREAM_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "base/loop.h"

typedef struct berth_stream_push berth_stream_push;
typedef struct berth_stream_pull berth_stream_pull;

typedef struct berth_stream_push_stats {
    uint64_t pushed; /* handed to nanomsg (or its queue) */
    uint64_t lost;   /* numbered but not sent: no session yet, queue full */
} berth_stream_push_stats;

/* Push to receiver (the controller): items are sealed under the newest
 * session the auth context has with it, so an rpc client must have
 * completed a handshake first. */
int berth_stream_push_new(berth_loop *loop, berth_auth *auth, const berth_principal *receiver,
                          berth_stream_push **ret_push, berth_error **err);
void berth_stream_push_free(berth_stream_push *p);
int berth_stream_push_connect(berth_stream_push *p, const char *addr, berth_error **err);
/* Number msg and send it; never blocks. *ret_seq (may be NULL) gets its
 * number even when it could not be sent (ENOTCONN: no session yet; EAGAIN:
 * queue full): the receiver will see the gap. */
int berth_stream_push_send(berth_stream_push *p, const ProtobufCMessage *msg, uint64_t *ret_seq,
                           berth_error **err);
const berth_stream_push_stats *berth_stream_push_stats_of(const berth_stream_push *p);
/* Where the stream stands: its epoch and the number of the last item
 * pushed (0: none yet). */
void berth_stream_push_position(const berth_stream_push *p, uint64_t *ret_epoch, uint64_t *ret_seq);

/* One delivered item. */
typedef struct berth_stream_item {
    const berth_principal *from; /* authenticated sender */
    uint64_t epoch;
    uint64_t seq;
    /* Items of this (sender, epoch) that never arrived right before this
     * one: seq - expected (0 when in order). */
    uint64_t missed;
} berth_stream_item;

typedef void (*berth_stream_fn)(const berth_stream_item *item, const ProtobufCMessage *msg,
                                void *data);

typedef struct berth_stream_pull_stats {
    uint64_t delivered;
    uint64_t gaps;         /* items delivered with missed > 0 */
    uint64_t missed;       /* sum of missed */
    uint64_t out_of_order; /* seq below what was expected: dropped */
    uint64_t unknown_type;
    uint64_t invalid;
} berth_stream_pull_stats;

int berth_stream_pull_new(berth_loop *loop, berth_auth *auth, berth_stream_pull **ret_pull,
                          berth_error **err);
void berth_stream_pull_free(berth_stream_pull *p);
int berth_stream_pull_bind(berth_stream_pull *p, const char *addr, berth_error **err);
int berth_stream_pull_on(berth_stream_pull *p, const ProtobufCMessageDescriptor *type,
                         berth_stream_fn fn, void *data, berth_error **err);
const berth_stream_pull_stats *berth_stream_pull_stats_of(const berth_stream_pull *p);

#endif
