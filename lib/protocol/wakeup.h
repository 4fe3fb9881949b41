/* Wake-ups (proto/events.proto): one to a node carries its generation, one
 * to every node lists the nodes whose generation changed. Both ends read
 * them here alike. */
#ifndef BERTH_PROTOCOL_WAKEUP_H
#define BERTH_PROTOCOL_WAKEUP_H

#include <stdbool.h>
#include <stdint.h>

#include "berth/proto/v1.h"

/* The most nodes one wake-up to every node lists. */
#define BERTH_WAKEUP_NODES_MAX 1024
#define BERTH_WAKEUP_ID_LEN    16

/* The generation w gives the node with principal id self: false when w
 * does not concern it (a wake-up to every node that does not list it). */
bool berth_wakeup_generation(const WakeUp *w, const uint8_t self[BERTH_WAKEUP_ID_LEN],
                             uint64_t *ret_generation);

#endif
