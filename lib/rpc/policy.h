/* Admission policy: which principals exist, which keys they may sign with,
 * and how an unknown key becomes known (a one-time join token, an operator's
 * approval, or rotation vouched for by the principal's current key).
 *
 * The frame layer (auth.c) does the cryptography and asks the policy only
 * these questions; the controller implements them on SQLite, tests and
 * agents use the in-memory implementation (policy_memory.h). Every callback
 * runs on the loop's thread and must not block for long. */
#ifndef BERTH_RPC_POLICY_H
#define BERTH_RPC_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "keys.h"
#include "principal.h"

typedef struct berth_policy_ops {
    /* The principal with this id and the public keys it may sign with: one,
     * or two while its key rotates. Returns 1 and fills the outputs when
     * known, 0 when unknown, < 0 on failure. Required. */
    int (*lookup)(void *data, const uint8_t id[BERTH_ID_LEN], berth_principal *ret_principal,
                  uint8_t ret_keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t *ret_n_keys,
                  berth_error **err);
    /* The secret of a live join token (not used, not expired). 1 found,
     * 0 not, < 0 failure. NULL: this policy has no join tokens. */
    int (*join_token_secret)(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                             uint8_t ret_secret[BERTH_TOKEN_SECRET_LEN], berth_error **err);
    /* A node proved it knows the token's secret: make pk its key and
     * consume the token in the same step, so a token admits one key once.
     * A token never replaces the keys of an admitted principal: that is
     * refused (< 0), as is a token consumed meanwhile; the error text
     * reaches the node. */
    int (*enroll)(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                  const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                  berth_error **err);
    /* One of who's keys (old_pk) vouched for new_pk: accept both from now on
     * (the new and the vouching key; any third is dropped), until confirm.
     * NULL: no rotation here. */
    int (*rotate)(void *data, const berth_principal *who, const uint8_t old_pk[BERTH_PUBKEY_LEN],
                  const uint8_t new_pk[BERTH_PUBKEY_LEN], berth_error **err);
    /* who authenticated a HELLO with pk, one of its keys. When pk is a key
     * it is moving to (it rotated to it, or an operator approved it as the
     * replacement of an admitted node's key), every other key is dropped
     * now: the move is over, and a leaked old key must not stay valid (nor
     * vouch for yet another key). Otherwise nothing. NULL: nothing to
     * confirm. */
    int (*confirm)(void *data, const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                   berth_error **err);

    /* An unknown node key without a token: record it for an operator to
     * approve (listed as pending). 0 recorded; < 0 refused. Never for a
     * principal that is admitted already (its key is replaced only by an
     * operator naming the new key: berthctl node approve --fingerprint),
     * and bounded: anyone can ask. NULL: no
     * approvals here, unknown keys are simply refused. */
    int (*request_approval)(void *data, const berth_principal *who,
                            const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err);
} berth_policy_ops;

#endif
