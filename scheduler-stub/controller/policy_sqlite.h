/* The controller's admission policy (lib/rpc/policy.h) on its SQLite store:
 * node keys, join tokens and approvals are durable, so a restarted
 * controller admits exactly whom it admitted before. Operators (berthctl)
 * are configured, not enrolled: their public keys are added at start from
 * the operator key files (README "Security").
 *
 * Join tokens: the verifier needs the secret itself (a node proves it
 * knows it with a keyed hash), so the store keeps it sealed
 * (XChaCha20-Poly1305) under a key derived from the controller's secret
 * key: a copy of the database alone does not let anyone enroll. The sealed
 * secret is erased when the token is used. */
#ifndef BERTH_CONTROLLER_POLICY_SQLITE_H
#define BERTH_CONTROLLER_POLICY_SQLITE_H

#include <stdint.h>

#include "rpc/keys.h"
#include "rpc/policy.h"
#include "store.h"

typedef struct berth_policy_sqlite berth_policy_sqlite;

/* Pass &berth_policy_sqlite_ops with the object as the policy's data. */
extern const berth_policy_ops berth_policy_sqlite_ops;

/* Called after a node's row changed behind the controller's back (enrolled,
 * recorded for approval, key rotated), from inside the auth layer. */
typedef void (*berth_node_changed_fn)(void *data, const char *name);

/* st and the key stay the caller's (the key is only used to derive the
 * sealing key, then forgotten). */
berth_policy_sqlite *berth_policy_sqlite_new(berth_store *st, const berth_keypair *controller_key,
                                             berth_node_changed_fn changed, void *changed_data);
void berth_policy_sqlite_free(berth_policy_sqlite *p);

/* Trust pk as operator name (role operator), up to two keys per name. */
int berth_policy_sqlite_add_operator(berth_policy_sqlite *p, const char *name,
                                     const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err);
size_t berth_policy_sqlite_operators(const berth_policy_sqlite *p);

/* Most keys awaiting approval at once: anyone can present a key. */
#define BERTH_PENDING_MAX 1024

/* How long a join token lives when its creator does not say. */
#define BERTH_JOIN_TOKEN_TTL_DEFAULT_S 3600

/* Most node keys one join token admits. */
#define BERTH_JOIN_TOKEN_USES_MAX 10000

/* A new join token valid for ttl_s seconds (0: the default, at most 30
 * days) admitting uses node keys (0: one, at most
 * BERTH_JOIN_TOKEN_USES_MAX), each once; stored (sealed) before it is
 * returned. */
int berth_policy_sqlite_create_token(berth_policy_sqlite *p, uint32_t ttl_s, uint32_t uses,
                                     const char *description, berth_join_token *ret_token,
                                     int64_t *ret_expires_ns, berth_error **err);

/* Admit the key awaiting approval for node name; when fingerprint is not
 * empty, only if it is that key's (EBUSY: another key awaits). With no key
 * waiting, fingerprint names the key: a node without one is admitted with
 * it; an admitted node's key is replaced by it at its first HELLO with it
 * (EEXIST without a fingerprint: a replacement must be named). ENOENT:
 * nothing to approve. */
int berth_policy_sqlite_approve(berth_policy_sqlite *p, const char *name, const char *fingerprint,
                                berth_error **err);

#endif
