/* The fixed world the wire fuzz targets and their seed generator share: a
 * controller and a node with keys from fixed seeds, libsodium drawing from
 * a deterministic source, and a session between the two made once. Every
 * process sees the same ids, keys and session id, so an input that crashed
 * once (naming that session, say) crashes again when replayed. Not for
 * anything but fuzzing: the "random" bytes are predictable. */
#ifndef BERTH_FUZZ_WORLD_H
#define BERTH_FUZZ_WORLD_H

#include "rpc/auth.h"
#include "rpc/policy_memory.h"

/* One party: who it is, its key, a policy that knows its peer's key, and
 * its auth context. */
typedef struct fuzz_party {
    berth_principal who;
    berth_keypair key;
    berth_policy_memory *policy;
    berth_auth *auth;
} fuzz_party;

typedef struct fuzz_world {
    fuzz_party ctl;              /* the controller "controller" */
    fuzz_party node;             /* the node "node-1" */
    berth_keypair node_next;     /* a key nobody knows yet: node-1's next */
    berth_session *ctl_session;  /* ctl's (accepted) session with node */
    berth_session *node_session; /* node's (initiated) session with ctl */
    berth_hello *pending;        /* a hello of node's to ctl, never answered */
    berth_join_token token;      /* a join token ctl takes */
} fuzz_world;

/* The world, made on first use (aborts when it cannot be made). */
fuzz_world *fuzz_world_get(void);

/* Restart the deterministic random source, so that what one input draws
 * does not depend on the inputs before it. */
void fuzz_random_reset(void);

/* A fresh party with the identity and key of like (a receiver whose replay
 * memory, sessions and policy start empty), trusting peer's key and, when
 * token is not NULL, taking that join token. */
void fuzz_party_clone(fuzz_party *p, const fuzz_party *like, const fuzz_party *peer,
                      const berth_join_token *token);
void fuzz_party_free(fuzz_party *p);

/* Print what failed and abort: for setup that must not fail. */
void fuzz_die(const char *what, const berth_error *err) __attribute__((noreturn));

#endif
