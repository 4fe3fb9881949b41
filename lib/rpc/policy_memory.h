/* The admission policy kept in memory: for tests, and for agents, whose
 * only peers are the controller (pinned key) and locally configured
 * operators. Join tokens enroll nodes only. */
#ifndef BERTH_RPC_POLICY_MEMORY_H
#define BERTH_RPC_POLICY_MEMORY_H

#include <stdbool.h>

#include "policy.h"

typedef struct berth_policy_memory berth_policy_memory;

/* Pass &berth_policy_memory_ops with the object as the policy's data. */
extern const berth_policy_ops berth_policy_memory_ops;

int berth_policy_memory_new(berth_policy_memory **ret_policy, berth_error **err);
void berth_policy_memory_free(berth_policy_memory *p);

/* Accept pk for who from now on. A principal keeps at most two keys: adding
 * a third drops the oldest. */
int berth_policy_memory_add_key(berth_policy_memory *p, const berth_principal *who,
                                const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err);
/* Stop accepting pk (the end of a rotation's overlap). ENOENT if absent. */
int berth_policy_memory_remove_key(berth_policy_memory *p, const uint8_t id[BERTH_ID_LEN],
                                   const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err);

/* A join token valid until expires_unix_ns (0 = forever). */
int berth_policy_memory_add_token(berth_policy_memory *p, const berth_join_token *token,
                                  int64_t expires_unix_ns, berth_error **err);

/* The number of keys awaiting approval; the first max of them (principal
 * and key) go to ret_who/ret_pks when those are not NULL. */
size_t berth_policy_memory_pending(const berth_policy_memory *p, berth_principal *ret_who,
                                   uint8_t (*ret_pks)[BERTH_PUBKEY_LEN], size_t max);
/* Approve the node called name: its pending key (which must be the one
 * fingerprint names, when given; EPERM otherwise). Without a pending key,
 * fingerprint names the key: the node's first key when it has none, or,
 * for an admitted node, the key that replaces its key at its first HELLO
 * (EEXIST without a fingerprint). ENOENT when there is nothing to
 * approve. */
int berth_policy_memory_approve(berth_policy_memory *p, const char *name, const char *fingerprint,
                                berth_error **err);

#endif
