/* Handlers by message type, for the channels whose envelopes name their
 * body's type (events, stream): "berth.v1.WakeUp" -> its descriptor and
 * the function to call. Internal to lib/rpc. */
#ifndef BERTH_RPC_TYPED_H
#define BERTH_RPC_TYPED_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "base/error.h"

typedef void (*berth_typed_fn)(void);

typedef struct berth_typed_entry {
    const ProtobufCMessageDescriptor *type;
    berth_typed_fn fn; /* cast back by the owner */
    void *data;
} berth_typed_entry;

typedef struct berth_typed {
    berth_typed_entry *entries;
    size_t n;
} berth_typed;

/* One handler per type: EEXIST for a second. */
int berth_typed_add(berth_typed *t, const ProtobufCMessageDescriptor *type, berth_typed_fn fn,
                    void *data, berth_error **err);
const berth_typed_entry *berth_typed_find(const berth_typed *t, const char *type_name);
void berth_typed_clear(berth_typed *t);

#endif
