/* In-memory admission policy: small arrays, linear search. */
#include "policy_memory.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"

#define PENDING_MAX 1024

typedef struct known_principal {
    berth_principal who;
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN]; /* newest last */
    size_t n_keys;
    /* The key it is moving to (rotated to, or approved as a replacement):
     * its first HELLO drops the others (confirm). */
    bool moving;
    uint8_t moving_to[BERTH_PUBKEY_LEN];
} known_principal;

typedef struct token_entry {
    berth_join_token token;
    int64_t expires;
    bool used;
} token_entry;

typedef struct pending_entry {
    berth_principal who;
    uint8_t pk[BERTH_PUBKEY_LEN];
} pending_entry;

struct berth_policy_memory {
    known_principal *known;
    size_t n_known;
    token_entry *tokens;
    size_t n_tokens;
    pending_entry *pending;
    size_t n_pending;
};

/* Grow *arr (of n elements of size sz) by one zeroed element. */
static void *array_push(void **arr, size_t *n, size_t sz)
{
    char *a = berth_xreallocarray(*arr, *n + 1, sz);

    *arr = a;
    memset(a + *n * sz, 0, sz);
    return a + (*n)++ * sz;
}

int berth_policy_memory_new(berth_policy_memory **ret_policy, berth_error **err)
{
    (void)err;
    *ret_policy = berth_xcalloc(1, sizeof(**ret_policy));
    return 0;
}

void berth_policy_memory_free(berth_policy_memory *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_tokens; i++)
        sodium_memzero(&p->tokens[i].token, sizeof(p->tokens[i].token));
    free(p->known);
    free(p->tokens);
    free(p->pending);
    free(p);
}

static known_principal *find_known(const berth_policy_memory *p, const uint8_t id[BERTH_ID_LEN])
{
    for (size_t i = 0; i < p->n_known; i++)
        if (berth_id_eq(p->known[i].who.id, id))
            return &p->known[i];
    return NULL;
}

static void drop_pending(berth_policy_memory *p, const uint8_t id[BERTH_ID_LEN])
{
    for (size_t i = 0; i < p->n_pending; i++) {
        if (berth_id_eq(p->pending[i].who.id, id)) {
            p->pending[i] = p->pending[--p->n_pending];
            return;
        }
    }
}

int berth_policy_memory_add_key(berth_policy_memory *p, const berth_principal *who,
                                const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    known_principal *k = find_known(p, who->id);

    (void)err;
    if (!k) {
        k = array_push((void **)&p->known, &p->n_known, sizeof(*k));
        k->who = *who;
    }
    for (size_t i = 0; i < k->n_keys; i++)
        if (memcmp(k->keys[i], pk, BERTH_PUBKEY_LEN) == 0)
            return 0;
    if (k->n_keys == BERTH_PUBKEYS_MAX) {
        memmove(k->keys[0], k->keys[1], (BERTH_PUBKEYS_MAX - 1) * BERTH_PUBKEY_LEN);
        k->n_keys--;
    }
    memcpy(k->keys[k->n_keys++], pk, BERTH_PUBKEY_LEN);
    drop_pending(p, who->id);
    return 0;
}

int berth_policy_memory_remove_key(berth_policy_memory *p, const uint8_t id[BERTH_ID_LEN],
                                   const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    known_principal *k = find_known(p, id);

    for (size_t i = 0; k && i < k->n_keys; i++) {
        if (memcmp(k->keys[i], pk, BERTH_PUBKEY_LEN) == 0) {
            memmove(k->keys[i], k->keys[i + 1], (k->n_keys - i - 1) * BERTH_PUBKEY_LEN);
            k->n_keys--;
            return 0;
        }
    }
    return berth_error_set(err, ENOENT, "remove key: no such key");
}

int berth_policy_memory_add_token(berth_policy_memory *p, const berth_join_token *token,
                                  int64_t expires_unix_ns, berth_error **err)
{
    token_entry *t = array_push((void **)&p->tokens, &p->n_tokens, sizeof(*t));

    (void)err;
    t->token = *token;
    t->expires = expires_unix_ns;
    return 0;
}

size_t berth_policy_memory_pending(const berth_policy_memory *p, berth_principal *ret_who,
                                   uint8_t (*ret_pks)[BERTH_PUBKEY_LEN], size_t max)
{
    for (size_t i = 0; i < p->n_pending && i < max; i++) {
        if (ret_who)
            ret_who[i] = p->pending[i].who;
        if (ret_pks)
            memcpy(ret_pks[i], p->pending[i].pk, BERTH_PUBKEY_LEN);
    }
    return p->n_pending;
}

int berth_policy_memory_approve(berth_policy_memory *p, const char *name, const char *fingerprint,
                                berth_error **err)
{
    uint8_t pk[BERTH_PUBKEY_LEN];
    berth_principal who;
    known_principal *k;

    if (fingerprint && berth_key_parse_fingerprint(fingerprint, pk, err) < 0)
        return -1;
    for (size_t i = 0; i < p->n_pending; i++) {
        if (strcmp(p->pending[i].who.name, name) == 0) {
            pending_entry e = p->pending[i];

            if (fingerprint && sodium_memcmp(e.pk, pk, BERTH_PUBKEY_LEN) != 0)
                return berth_error_set(err, EPERM,
                                       "approve node %s: the key awaiting approval is not %s", name,
                                       fingerprint);
            return berth_policy_memory_add_key(p, &e.who, e.pk, err);
        }
    }
    if (berth_principal_init(&who, BERTH_ROLE_NODE, name, err) < 0)
        return -1;
    k = find_known(p, who.id);
    if (!k || k->n_keys == 0) {
        if (!fingerprint)
            return berth_error_set(err, ENOENT, "approve node %s: no key awaits approval", name);
        return berth_policy_memory_add_key(p, &who, pk, err);
    }
    /* An admitted node: only the key named replaces its own, once it is
     * used. */
    if (!fingerprint)
        return berth_error_set(err, EEXIST,
                               "approve node %s: it is admitted; name the new key with a "
                               "fingerprint to replace its key",
                               name);
    if (berth_policy_memory_add_key(p, &who, pk, err) < 0)
        return -1;
    k = find_known(p, who.id);
    k->moving = true;
    memcpy(k->moving_to, pk, BERTH_PUBKEY_LEN);
    return 0;
}

/* ---- the ops ---- */

static int mem_lookup(void *data, const uint8_t id[BERTH_ID_LEN], berth_principal *ret_principal,
                      uint8_t ret_keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t *ret_n_keys,
                      berth_error **err)
{
    known_principal *k = find_known(data, id);

    (void)err;
    if (!k || k->n_keys == 0)
        return 0;
    *ret_principal = k->who;
    memcpy(ret_keys, k->keys, k->n_keys * BERTH_PUBKEY_LEN);
    *ret_n_keys = k->n_keys;
    return 1;
}

static token_entry *find_token(berth_policy_memory *p, const uint8_t id[BERTH_TOKEN_ID_LEN])
{
    int64_t now = berth_now_real_ns();

    for (size_t i = 0; i < p->n_tokens; i++) {
        token_entry *t = &p->tokens[i];

        if (memcmp(t->token.id, id, BERTH_TOKEN_ID_LEN) == 0 && !t->used &&
            (t->expires == 0 || t->expires > now))
            return t;
    }
    return NULL;
}

static int mem_join_token_secret(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                                 uint8_t ret_secret[BERTH_TOKEN_SECRET_LEN], berth_error **err)
{
    token_entry *t = find_token(data, token_id);

    (void)err;
    if (!t)
        return 0;
    memcpy(ret_secret, t->token.secret, BERTH_TOKEN_SECRET_LEN);
    return 1;
}

static int mem_enroll(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                      const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                      berth_error **err)
{
    berth_policy_memory *p = data;
    token_entry *t = find_token(p, token_id);
    known_principal *k;

    if (!t)
        return berth_error_set(err, EPERM, "join token used or expired");
    if (who->role != BERTH_ROLE_NODE)
        return berth_error_set(err, EPERM, "join tokens enroll nodes only");
    /* A token never takes over an admitted node: with a spare one anybody
     * could become it. */
    k = find_known(p, who->id);
    if (k && k->n_keys > 0)
        return berth_error_set(err, EEXIST,
                               "node %s is admitted already; a join token cannot replace its key",
                               who->name);
    if (berth_policy_memory_add_key(p, who, pk, err) < 0)
        return -1;
    t->used = true;
    sodium_memzero(&t->token.secret, sizeof(t->token.secret));
    return 0;
}

static int mem_rotate(void *data, const berth_principal *who,
                      const uint8_t old_pk[BERTH_PUBKEY_LEN],
                      const uint8_t new_pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    berth_policy_memory *p = data;
    known_principal *k = find_known(p, who->id);

    if (!k)
        return berth_error_set(err, ENOENT, "rotate key of %s: unknown", who->name);
    /* Keep exactly the vouching key and the new one, until the new one is
     * used (confirm). */
    memcpy(k->keys[0], old_pk, BERTH_PUBKEY_LEN);
    memcpy(k->keys[1], new_pk, BERTH_PUBKEY_LEN);
    k->n_keys = 2;
    k->moving = true;
    memcpy(k->moving_to, new_pk, BERTH_PUBKEY_LEN);
    return 0;
}

static int mem_confirm(void *data, const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                       berth_error **err)
{
    known_principal *k = find_known(data, who->id);

    (void)err;
    if (!k || !k->moving || sodium_memcmp(k->moving_to, pk, BERTH_PUBKEY_LEN) != 0)
        return 0;
    memcpy(k->keys[0], pk, BERTH_PUBKEY_LEN);
    k->n_keys = 1;
    k->moving = false;
    return 0;
}

static int mem_request_approval(void *data, const berth_principal *who,
                                const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    berth_policy_memory *p = data;
    pending_entry *e;

    if (who->role != BERTH_ROLE_NODE)
        return berth_error_set(err, EPERM, "only node keys can await approval");
    {
        known_principal *k = find_known(p, who->id);

        if (k && k->n_keys > 0)
            return berth_error_set(err, EEXIST,
                                   "node %s is admitted with another key; an operator must name "
                                   "this one to replace it",
                                   who->name);
    }
    for (size_t i = 0; i < p->n_pending; i++) {
        if (berth_id_eq(p->pending[i].who.id, who->id)) {
            /* The latest key a node presented is the one to approve. */
            memcpy(p->pending[i].pk, pk, BERTH_PUBKEY_LEN);
            return 0;
        }
    }
    /* Anyone can present a key: bound what they can make us remember. */
    if (p->n_pending >= PENDING_MAX)
        return berth_error_set(err, EAGAIN, "too many keys await approval (%d)", PENDING_MAX);
    e = array_push((void **)&p->pending, &p->n_pending, sizeof(*e));
    e->who = *who;
    memcpy(e->pk, pk, BERTH_PUBKEY_LEN);
    return 0;
}

const berth_policy_ops berth_policy_memory_ops = {
    .lookup = mem_lookup,
    .join_token_secret = mem_join_token_secret,
    .enroll = mem_enroll,
    .rotate = mem_rotate,
    .confirm = mem_confirm,
    .request_approval = mem_request_approval,
};
