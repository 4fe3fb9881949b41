/* Frame construction with a chosen timestamp, for tests that must build
 * stale or future frames that are otherwise authentic; fixed randomness
 * and clock for the protocol's test vectors. Not for daemons. */
#ifndef BERTH_RPC_AUTH_INTERNAL_H
#define BERTH_RPC_AUTH_INTERNAL_H

#include <stdbool.h>

#include "auth.h"

size_t berth_auth_seal_at(berth_auth *a, berth_session *s, berth_channel ch, uint8_t *frame,
                          size_t payload_len, int64_t timestamp_ns);
size_t berth_auth_sign_at(berth_auth *a, berth_channel ch, const uint8_t recipient[BERTH_ID_LEN],
                          uint8_t *frame, size_t payload_len, int64_t timestamp_ns);

/* What a takes from the clock and the CSPRNG, fixed (docs/PROTOCOL.md's
 * test vectors): while set, every wall clock reading of a (the
 * timestamps it writes, the freshness it checks), the nonce of every frame
 * it signs (HELLO, WELCOME, SIGNED), its ephemeral X25519 secret (HELLO,
 * WELCOME) and the id of a session it accepts are these. The session id
 * must not be in use by a. */
typedef struct berth_auth_fixed {
    int64_t now_ns;
    uint64_t nonce;
    uint8_t ephemeral_sk[32];
    uint8_t session_id[BERTH_SESSION_ID_LEN];
} berth_auth_fixed;

/* Fix a's sources to *f (copied); NULL: the clock and the CSPRNG again. */
void berth_auth_fix(berth_auth *a, const berth_auth_fixed *f);

/* The key s seals channel ch with (tx) or opens it with (!tx). */
const uint8_t *berth_session_key(const berth_session *s, berth_channel ch, bool tx);

#endif
