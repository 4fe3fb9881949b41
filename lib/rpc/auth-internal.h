/* Frame construction with a chosen timestamp, for tests that must build
 * stale or future frames that are otherwise authentic. Not for daemons. */
#ifndef BERTH_RPC_AUTH_INTERNAL_H
#define BERTH_RPC_AUTH_INTERNAL_H

#include "auth.h"

size_t berth_auth_seal_at(berth_auth *a, berth_session *s, berth_channel ch, uint8_t *frame,
                          size_t payload_len, int64_t timestamp_ns);
size_t berth_auth_sign_at(berth_auth *a, berth_channel ch, const uint8_t recipient[BERTH_ID_LEN],
                          uint8_t *frame, size_t payload_len, int64_t timestamp_ns);

#endif
