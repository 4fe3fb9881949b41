/* Key discovery (auth.h): ask a berth server who it is, before we know
 * its key. For berthd join, which checks the answer against the
 * fingerprint the operator gave it before it sends anything else. */
#ifndef BERTH_RPC_DISCOVER_H
#define BERTH_RPC_DISCOVER_H

#include <stdint.h>

#include "base/error.h"
#include "keys.h"
#include "principal.h"

/* Ask the rpc server at address (tcp://HOST:PORT, ipc://PATH) for its
 * principal and public key, waiting at most timeout_ms. Blocking: for
 * command-line tools, never on an event loop. ETIMEDOUT when nothing (or
 * nothing that checks out) comes back in time. */
int berth_rpc_discover(const char *address, int timeout_ms, berth_principal *ret_principal,
                       uint8_t ret_pk[BERTH_PUBKEY_LEN], berth_error **err);

#endif
