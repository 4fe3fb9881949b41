/* The fuzz targets' fixed world: parties, keys, a session, and a random
 * source that repeats. */
#include "world.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANDOM_SEED UINT64_C(0x62657274682d667a) /* "berth-fz" */
/* Sessions that never age out during a run, however long. */
#define LIFETIME_NS ((int64_t)1 << 60)
/* A receiver made for one input remembers a nonce or two: not 65536, a
 * ring that costs more to allocate than the input to run. */
#define MAX_NONCES 16

static uint64_t rng_state = RANDOM_SEED;

/* splitmix64: fast, and every state gives a different stream. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static const char *rng_name(void)
{
    return "berth-fuzz-deterministic";
}

static uint32_t rng_random(void)
{
    return (uint32_t)(rng_next() >> 32);
}

static void rng_buf(void *const buf, const size_t size)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < size; i += 8) {
        uint64_t v = rng_next();
        size_t n = size - i < 8 ? size - i : 8;

        memcpy(p + i, &v, n);
    }
}

static randombytes_implementation rng = {
    .implementation_name = rng_name,
    .random = rng_random,
    .buf = rng_buf,
};

void fuzz_random_reset(void)
{
    rng_state = RANDOM_SEED;
}

void fuzz_die(const char *what, const berth_error *err)
{
    fprintf(stderr, "fuzz world: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    abort();
}

static void identity(fuzz_party *p, berth_role role, const char *name, uint8_t seed_byte)
{
    uint8_t seed[32];
    berth_error *err = NULL;

    memset(p, 0, sizeof(*p));
    if (berth_principal_init(&p->who, role, name, &err) < 0)
        fuzz_die(name, err);
    memset(seed, seed_byte, sizeof(seed));
    berth_keypair_from_seed(seed, &p->key);
}

static void party_open(fuzz_party *p, const fuzz_party *peer, const berth_join_token *token)
{
    berth_auth_config cfg = { .self = p->who,
                              .key = p->key,
                              .policy = &berth_policy_memory_ops,
                              .session_lifetime_ns = LIFETIME_NS,
                              .max_nonces = MAX_NONCES };
    berth_error *err = NULL;

    if (berth_policy_memory_new(&p->policy, &err) < 0 ||
        berth_policy_memory_add_key(p->policy, &peer->who, peer->key.pk, &err) < 0 ||
        (token && berth_policy_memory_add_token(p->policy, token, 0, &err) < 0))
        fuzz_die("policy", err);
    cfg.policy_data = p->policy;
    if (berth_auth_new(&cfg, &p->auth, &err) < 0)
        fuzz_die("auth", err);
}

void fuzz_party_clone(fuzz_party *p, const fuzz_party *like, const fuzz_party *peer,
                      const berth_join_token *token)
{
    memset(p, 0, sizeof(*p));
    p->who = like->who;
    p->key = like->key;
    party_open(p, peer, token);
}

void fuzz_party_free(fuzz_party *p)
{
    berth_auth_free(p->auth);
    berth_policy_memory_free(p->policy);
    memset(p, 0, sizeof(*p));
}

/* The handshake, in memory: node says HELLO, ctl welcomes it. */
static void handshake(fuzz_world *w)
{
    berth_hello *hello = NULL;
    berth_welcome welcome;
    uint8_t *frame = NULL, *reply = NULL;
    size_t len = 0, reply_len = 0;

    berth_auth_hello(w->node.auth, &w->ctl.who, NULL, &hello, &frame, &len);
    if (berth_auth_accept(w->ctl.auth, frame, len, &reply, &reply_len) != BERTH_REJECT_NONE)
        fuzz_die("the controller refused the hello", NULL);
    if (berth_auth_hello_finish(w->node.auth, hello, reply, reply_len, &welcome) !=
            BERTH_REJECT_NONE ||
        welcome.code != 0 || !welcome.session)
        fuzz_die("the node refused the welcome", NULL);
    w->node_session = welcome.session;
    w->ctl_session = berth_auth_session(w->ctl.auth, berth_session_id(w->node_session));
    if (!w->ctl_session)
        fuzz_die("the controller has no session", NULL);
    berth_hello_free(hello);
    free(frame);
    free(reply);

    /* Another hello, left unanswered: what a WELCOME off the wire meets. */
    berth_auth_hello(w->node.auth, &w->ctl.who, NULL, &w->pending, &frame, &len);
    free(frame);
}

fuzz_world *fuzz_world_get(void)
{
    static fuzz_world w;
    static bool made;
    uint8_t seed[32];

    if (made)
        return &w;
    /* Before anything initialises libsodium: it takes its random source
     * only then. */
    randombytes_set_implementation(&rng);
    if (sodium_init() < 0)
        fuzz_die("libsodium failed to initialise", NULL);
    fuzz_random_reset();
    identity(&w.ctl, BERTH_ROLE_CONTROLLER, "controller", 1);
    identity(&w.node, BERTH_ROLE_NODE, "node-1", 2);
    memset(seed, 3, sizeof(seed));
    berth_keypair_from_seed(seed, &w.node_next);
    memset(w.token.id, 0x7a, sizeof(w.token.id));
    memset(w.token.secret, 0x5e, sizeof(w.token.secret));
    party_open(&w.ctl, &w.node, &w.token);
    party_open(&w.node, &w.ctl, NULL);
    handshake(&w);
    made = true;
    return &w;
}
