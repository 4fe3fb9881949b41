/* The events channel (PUB/SUB): the controller publishes, each agent
 * subscribes to the frames addressed to it and to every node. A frame's
 * topic is its header's recipient field (frame.h), so nanomsg's prefix
 * filter drops other nodes' events before we see them.
 *
 * Events are signed by the publisher's key (they are few; signing keeps
 * them independent of sessions) and carry no secrets: a wake-up says only
 * "your generation is now N". A subscriber accepts only frames signed by
 * the configured publisher with a key its policy knows, and only from a
 * controller. PUB never blocks: a subscriber too slow to take an event
 * misses it, and the next heartbeat heals that. */
#ifndef BERTH_RPC_PUBSUB_H
#define BERTH_RPC_PUBSUB_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "base/loop.h"

typedef struct berth_events_pub berth_events_pub;
typedef struct berth_events_sub berth_events_sub;

int berth_events_pub_new(berth_loop *loop, berth_auth *auth, berth_events_pub **ret_pub,
                         berth_error **err);
void berth_events_pub_free(berth_events_pub *pub);
int berth_events_pub_bind(berth_events_pub *pub, const char *addr, berth_error **err);
/* Publish msg to the node with principal id to (berth_id_broadcast: every
 * node). */
int berth_events_publish(berth_events_pub *pub, const uint8_t to[BERTH_ID_LEN],
                         const ProtobufCMessage *msg, berth_error **err);

/* from: the (authenticated) publisher; msg: of the registered type, freed
 * after the call. */
typedef void (*berth_event_fn)(const berth_principal *from, const ProtobufCMessage *msg,
                               void *data);

typedef struct berth_events_sub_stats {
    uint64_t delivered;
    uint64_t unknown_type; /* authentic, but no handler for its type */
    uint64_t invalid;      /* authentic, but not a decodable event */
} berth_events_sub_stats;

/* Subscribe to the events publisher sends to us (the auth context's
 * principal) or to every node. */
int berth_events_sub_new(berth_loop *loop, berth_auth *auth, const berth_principal *publisher,
                         berth_events_sub **ret_sub, berth_error **err);
void berth_events_sub_free(berth_events_sub *sub);
int berth_events_sub_connect(berth_events_sub *sub, const char *addr, berth_error **err);
/* Call fn for events of type. */
int berth_events_sub_on(berth_events_sub *sub, const ProtobufCMessageDescriptor *type,
                        berth_event_fn fn, void *data, berth_error **err);
const berth_events_sub_stats *berth_events_sub_stats_of(const berth_events_sub *sub);

#endif
