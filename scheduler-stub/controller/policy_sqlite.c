/* Admission on the SQLite store. */
#include "policy_sqlite.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"

#define OPERATORS_MAX 64
#define SEALED_LEN                                                                                 \
    (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + BERTH_TOKEN_SECRET_LEN)
#define TOKEN_TTL_MAX (30u * 24 * 3600)

typedef struct operator_entry {
    berth_principal who;
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    size_t n_keys;
} operator_entry;

struct berth_policy_sqlite {
    berth_store *st;
    uint8_t seal_key[crypto_secretbox_KEYBYTES];
    berth_node_changed_fn changed;
    void *changed_data;
    operator_entry operators[OPERATORS_MAX];
    size_t n_operators;
};

berth_policy_sqlite *berth_policy_sqlite_new(berth_store *st, const berth_keypair *controller_key,
                                             berth_node_changed_fn changed, void *changed_data)
{
    static const char ctx[] = "berth-join-token-seal-v1";
    berth_policy_sqlite *p = berth_xcalloc(1, sizeof(*p));

    p->st = st;
    p->changed = changed;
    p->changed_data = changed_data;
    /* The Ed25519 secret key starts with its 32-byte seed. */
    crypto_generichash(p->seal_key, sizeof(p->seal_key), (const unsigned char *)ctx,
                       sizeof(ctx) - 1, controller_key->sk, 32);
    return p;
}

void berth_policy_sqlite_free(berth_policy_sqlite *p)
{
    if (!p)
        return;
    sodium_memzero(p->seal_key, sizeof(p->seal_key));
    free(p);
}

int berth_policy_sqlite_add_operator(berth_policy_sqlite *p, const char *name,
                                     const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    operator_entry *o = NULL;
    berth_principal who;

    if (berth_principal_init(&who, BERTH_ROLE_OPERATOR, name, err) < 0)
        return berth_error_prefix(err, "operator");
    for (size_t i = 0; i < p->n_operators; i++)
        if (berth_id_eq(p->operators[i].who.id, who.id))
            o = &p->operators[i];
    if (!o) {
        if (p->n_operators == OPERATORS_MAX)
            return berth_error_set(err, ENOSPC, "operator %s: at most %d operators", name,
                                   OPERATORS_MAX);
        o = &p->operators[p->n_operators++];
        memset(o, 0, sizeof(*o));
        o->who = who;
    }
    for (size_t i = 0; i < o->n_keys; i++)
        if (memcmp(o->keys[i], pk, BERTH_PUBKEY_LEN) == 0)
            return 0;
    if (o->n_keys == BERTH_PUBKEYS_MAX)
        return berth_error_set(err, ENOSPC, "operator %s: at most %d keys", name,
                               BERTH_PUBKEYS_MAX);
    memcpy(o->keys[o->n_keys++], pk, BERTH_PUBKEY_LEN);
    return 0;
}

size_t berth_policy_sqlite_operators(const berth_policy_sqlite *p)
{
    return p->n_operators;
}

/* Record an event in the same transaction as the change it describes. */
static int note(berth_policy_sqlite *p, const char *node, const char *type, const char *reason,
                const char *message, berth_error **err)
{
    Event e = EVENT_INIT;

    e.time_unix_ns = berth_now_real_ns();
    e.object_kind = "Node";
    e.object_name = (char *)node;
    e.type = (char *)type;
    e.reason = (char *)reason;
    e.message = (char *)message;
    return berth_store_event_add(p->st, &e, err);
}

/* Save n and an event about it in one transaction (nested in the caller's,
 * if any). */
static int save(berth_policy_sqlite *p, const berth_store_node *n, const char *type,
                const char *reason, const char *message, berth_error **err)
{
    if (berth_store_begin(p->st, err) < 0)
        return -1;
    if (berth_store_node_put(p->st, n, err) < 0 ||
        note(p, n->name, type, reason, message, err) < 0) {
        berth_store_rollback(p->st);
        return -1;
    }
    return berth_store_commit(p->st, err);
}

/* ---- tokens ---- */

int berth_policy_sqlite_create_token(berth_policy_sqlite *p, uint32_t ttl_s, uint32_t uses,
                                     const char *description, berth_join_token *ret_token,
                                     int64_t *ret_expires_ns, berth_error **err)
{
    uint8_t sealed[SEALED_LEN];
    berth_join_token t;
    int64_t now = berth_now_real_ns(), expires;
    int r;

    if (ttl_s == 0)
        ttl_s = BERTH_JOIN_TOKEN_TTL_DEFAULT_S;
    if (ttl_s > TOKEN_TTL_MAX)
        return berth_error_set(err, EINVAL, "join token lifetime %us is longer than 30 days",
                               ttl_s);
    if (uses == 0)
        uses = 1;
    if (uses > BERTH_JOIN_TOKEN_USES_MAX)
        return berth_error_set(err, EINVAL, "join token uses: %u is more than %d", uses,
                               BERTH_JOIN_TOKEN_USES_MAX);
    if (strlen(description) > 200)
        return berth_error_set(err, EINVAL, "join token description: at most 200 bytes");
    expires = now + (int64_t)ttl_s * BERTH_NSEC_PER_SEC;
    berth_join_token_generate(&t);
    randombytes_buf(sealed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(sealed + crypto_secretbox_NONCEBYTES, t.secret, sizeof(t.secret), sealed,
                          p->seal_key);
    if (berth_store_begin(p->st, err) < 0)
        return -1;
    /* Expired tokens are of no use to anyone: drop them as we go. */
    r = berth_store_tokens_expire(p->st, now, err);
    if (r == 0)
        r = berth_store_token_put(p->st, t.id, sealed, sizeof(sealed), expires, description, now,
                                  uses, err);
    if (r < 0) {
        berth_store_rollback(p->st);
        sodium_memzero(&t, sizeof(t));
        return -1;
    }
    if (berth_store_commit(p->st, err) < 0) {
        sodium_memzero(&t, sizeof(t));
        return -1;
    }
    *ret_token = t;
    *ret_expires_ns = expires;
    sodium_memzero(&t, sizeof(t));
    return 0;
}

/* ---- the ops ---- */

static int sq_lookup(void *data, const uint8_t id[BERTH_ID_LEN], berth_principal *ret_principal,
                     uint8_t ret_keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t *ret_n_keys,
                     berth_error **err)
{
    berth_policy_sqlite *p = data;
    berth_store_node n;
    int found;

    for (size_t i = 0; i < p->n_operators; i++) {
        if (!berth_id_eq(p->operators[i].who.id, id))
            continue;
        *ret_principal = p->operators[i].who;
        memcpy(ret_keys, p->operators[i].keys, p->operators[i].n_keys * BERTH_PUBKEY_LEN);
        *ret_n_keys = p->operators[i].n_keys;
        return 1;
    }
    found = berth_store_node_get_by_id(p->st, id, &n, err);
    if (found <= 0)
        return found;
    node_info_free_unpacked(n.info, NULL);
    if (n.n_keys == 0)
        return 0; /* only a key awaiting approval */
    if (berth_principal_init(ret_principal, BERTH_ROLE_NODE, n.name, err) < 0 ||
        !berth_id_eq(ret_principal->id, id))
        return berth_error_set(err, EIO, "node %s: its id does not match its name", n.name);
    memcpy(ret_keys, n.keys, n.n_keys * BERTH_PUBKEY_LEN);
    *ret_n_keys = n.n_keys;
    return 1;
}

static int sq_join_token_secret(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                                uint8_t ret_secret[BERTH_TOKEN_SECRET_LEN], berth_error **err)
{
    berth_policy_sqlite *p = data;
    uint8_t sealed[SEALED_LEN + 16];
    size_t len = 0;
    int found;

    found = berth_store_token_get(p->st, token_id, berth_now_real_ns(), sealed, sizeof(sealed),
                                  &len, err);
    if (found <= 0)
        return found;
    if (len != SEALED_LEN ||
        crypto_secretbox_open_easy(ret_secret, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, p->seal_key) != 0)
        /* sealed under another controller key: of no use any more */
        return 0;
    return 1;
}

/* A fresh row for a node we have never seen. */
static void node_new(berth_store_node *n, const berth_principal *who)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", who->name);
    memcpy(n->id, who->id, BERTH_ID_LEN);
    n->phase_since_ns = berth_now_real_ns();
}

/* The node's row, or a new one; 1 existed, 0 new, < 0 failure. */
static int node_load(berth_policy_sqlite *p, const berth_principal *who, berth_store_node *n,
                     berth_error **err)
{
    int found = berth_store_node_get(p->st, who->name, n, err);

    if (found < 0)
        return -1;
    if (found == 0)
        node_new(n, who);
    return found;
}

static int sq_enroll(void *data, const uint8_t token_id[BERTH_TOKEN_ID_LEN],
                     const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                     berth_error **err)
{
    berth_policy_sqlite *p = data;
    char tid[2 * BERTH_TOKEN_ID_LEN + 1], msg[160], fp[BERTH_FINGERPRINT_LEN];
    berth_store_node n;
    int r;

    if (who->role != BERTH_ROLE_NODE)
        return berth_error_set(err, EPERM, "join tokens enroll nodes only");
    sodium_bin2hex(tid, sizeof(tid), token_id, BERTH_TOKEN_ID_LEN);
    if (berth_store_begin(p->st, err) < 0)
        return -1;
    r = berth_store_token_use(p->st, token_id, who->name, berth_now_real_ns(), err);
    if (r == 0)
        r = node_load(p, who, &n, err);
    if (r >= 0 && n.n_keys > 0) {
        /* A token never takes over an admitted node: with a spare one
         * anybody could become it. (The rollback leaves the token unused.) */
        node_info_free_unpacked(n.info, NULL);
        r = berth_error_set(err, EEXIST,
                            "node %s is admitted already; a join token cannot replace its key "
                            "(an operator can: berthctl node approve %s --fingerprint KEY)",
                            who->name, who->name);
    }
    if (r >= 0) {
        memcpy(n.keys[0], pk, BERTH_PUBKEY_LEN);
        n.n_keys = 1;
        n.has_pending = false;
        if (n.phase == NODE_PHASE_UNSPECIFIED || n.phase == NODE_PENDING_APPROVAL) {
            n.phase = NODE_UNKNOWN;
            n.phase_since_ns = berth_now_real_ns();
            snprintf(n.reason, sizeof(n.reason), "enrolled, not registered yet");
        }
        snprintf(msg, sizeof(msg), "key %s enrolled with join token %s",
                 berth_key_fingerprint(pk, fp), tid);
        r = save(p, &n, "Normal", "Enrolled", msg, err);
        node_info_free_unpacked(n.info, NULL);
    }
    if (r < 0) {
        berth_store_rollback(p->st);
        return -1;
    }
    if (berth_store_commit(p->st, err) < 0)
        return -1;
    if (p->changed)
        p->changed(p->changed_data, who->name);
    return 0;
}

static int sq_rotate(void *data, const berth_principal *who, const uint8_t old_pk[BERTH_PUBKEY_LEN],
                     const uint8_t new_pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    berth_policy_sqlite *p = data;
    berth_store_node n;
    int found, r;

    if (who->role != BERTH_ROLE_NODE)
        return berth_error_set(err, EPERM, "operator keys rotate in the controller's config");
    found = berth_store_node_get(p->st, who->name, &n, err);
    if (found <= 0)
        return found < 0 ? -1
                         : berth_error_set(err, ENOENT, "rotate key of %s: unknown", who->name);
    /* Keep exactly the vouching key and the new one (newest last), until
     * the new one is used (sq_confirm). */
    memcpy(n.keys[0], old_pk, BERTH_PUBKEY_LEN);
    memcpy(n.keys[1], new_pk, BERTH_PUBKEY_LEN);
    n.n_keys = 2;
    r = save(p, &n, "Normal", "KeyRotated", "a new key vouched for by the old one", err);
    node_info_free_unpacked(n.info, NULL);
    if (r == 0 && p->changed)
        p->changed(p->changed_data, who->name);
    return r;
}

/* A node with two keys is moving to the second (it rotated to it, or an
 * operator approved it as the replacement): its first HELLO with it drops
 * the first, so a leaked old key neither stays valid nor vouches again. */
static int sq_confirm(void *data, const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN],
                      berth_error **err)
{
    berth_policy_sqlite *p = data;
    char fp[BERTH_FINGERPRINT_LEN], msg[160];
    berth_store_node n;
    int found, r;

    if (who->role != BERTH_ROLE_NODE)
        return 0;
    found = berth_store_node_get(p->st, who->name, &n, err);
    if (found <= 0)
        return found;
    if (n.n_keys != 2 || sodium_memcmp(n.keys[1], pk, BERTH_PUBKEY_LEN) != 0) {
        node_info_free_unpacked(n.info, NULL);
        return 0;
    }
    berth_key_fingerprint(n.keys[0], fp);
    memcpy(n.keys[0], pk, BERTH_PUBKEY_LEN);
    n.n_keys = 1;
    snprintf(msg, sizeof(msg), "the new key is in use; key %s no longer admits it", fp);
    r = save(p, &n, "Normal", "KeyReplaced", msg, err);
    node_info_free_unpacked(n.info, NULL);
    if (r == 0 && p->changed)
        p->changed(p->changed_data, who->name);
    return r;
}

static int sq_request_approval(void *data, const berth_principal *who,
                               const uint8_t pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    berth_policy_sqlite *p = data;
    char fp[BERTH_FINGERPRINT_LEN];
    berth_store_node n;
    size_t pending = 0;
    int found, r;

    if (who->role != BERTH_ROLE_NODE)
        return berth_error_set(err, EPERM, "only node keys can await approval");
    if ((found = node_load(p, who, &n, err)) < 0)
        return -1;
    if (n.n_keys > 0) {
        /* Nobody queues a key under an admitted name: a plain approve
         * would hand the node to them. Its key is replaced only by an
         * operator naming the new one. */
        node_info_free_unpacked(n.info, NULL);
        return berth_error_set(err, EEXIST,
                               "node %s is admitted with another key; an operator must name this "
                               "one to replace it",
                               who->name);
    }
    /* Anyone can present a key: what they can make us remember is bounded,
     * and the one who waited longest makes room (a node that still wants
     * in asks again at its next retry, which keeps it among the newest). */
    if (!n.has_pending) {
        char oldest[BERTH_NAME_MAX + 1];

        if (berth_store_pending_count(p->st, &pending, err) < 0)
            goto fail;
        if (pending >= BERTH_PENDING_MAX) {
            int r2 = berth_store_pending_oldest(p->st, oldest, sizeof(oldest), err);

            if (r2 < 0 || (r2 > 0 && berth_store_node_delete(p->st, oldest, err) < 0))
                goto fail;
            if (r2 > 0 && p->changed)
                p->changed(p->changed_data, oldest);
        }
    }
    /* The latest key a node presented is the one to approve; asking again
     * keeps it among the newest. No event: strangers must not be able to
     * write the event log (get nodes shows what waits). */
    memcpy(n.pending_key, pk, BERTH_PUBKEY_LEN);
    n.has_pending = true;
    n.phase = NODE_PENDING_APPROVAL;
    n.phase_since_ns = berth_now_real_ns();
    snprintf(n.reason, sizeof(n.reason), "key %s awaits approval", berth_key_fingerprint(pk, fp));
    r = berth_store_node_put(p->st, &n, err);
    node_info_free_unpacked(n.info, NULL);
    if (r == 0 && p->changed)
        p->changed(p->changed_data, who->name);
    return r;
fail:
    node_info_free_unpacked(n.info, NULL);
    return -1;
}

/* Approve with no key waiting: the operator names the key. A node that
 * has none gets it as its first; an admitted node gets it as the
 * replacement of its own, which takes over at its first HELLO with it
 * (sq_confirm). Without a fingerprint there is nothing to approve. */
static int approve_named(berth_policy_sqlite *p, const char *name, bool admitted,
                         const char *fingerprint, berth_error **err)
{
    uint8_t pk[BERTH_PUBKEY_LEN];
    char msg[200];
    berth_principal who;
    berth_store_node n;
    int found;

    if (!fingerprint || !*fingerprint) {
        if (admitted)
            return berth_error_set(err, EEXIST,
                                   "node %s is admitted; to replace its key, name the new one "
                                   "(--fingerprint KEY)",
                                   name);
        return berth_error_set(err, ENOENT, "node %s: no key awaits approval", name);
    }
    if (berth_key_parse_fingerprint(fingerprint, pk, err) < 0 ||
        berth_principal_init(&who, BERTH_ROLE_NODE, name, err) < 0 ||
        (found = node_load(p, &who, &n, err)) < 0)
        return -1;
    if (!found) {
        n.phase = NODE_UNKNOWN;
        snprintf(n.reason, sizeof(n.reason), "approved, not registered yet");
    }
    if (n.n_keys > 0 && sodium_memcmp(n.keys[n.n_keys - 1], pk, BERTH_PUBKEY_LEN) == 0) {
        node_info_free_unpacked(n.info, NULL);
        return 0; /* that key admits it already */
    }
    if (n.n_keys > 0) {
        memcpy(n.keys[0], n.keys[n.n_keys - 1], BERTH_PUBKEY_LEN);
        memcpy(n.keys[1], pk, BERTH_PUBKEY_LEN);
        n.n_keys = 2;
        snprintf(msg, sizeof(msg),
                 "key %s approved by an operator to replace the node's key at its first use",
                 fingerprint);
    } else {
        memcpy(n.keys[0], pk, BERTH_PUBKEY_LEN);
        n.n_keys = 1;
        snprintf(msg, sizeof(msg), "key %s approved by an operator", fingerprint);
    }
    {
        int r = save(p, &n, "Normal", "Approved", msg, err);

        node_info_free_unpacked(n.info, NULL);
        return r;
    }
}

int berth_policy_sqlite_approve(berth_policy_sqlite *p, const char *name, const char *fingerprint,
                                berth_error **err)
{
    char fp[BERTH_FINGERPRINT_LEN], msg[160];
    berth_store_node n;
    int found, r;

    found = berth_store_node_get(p->st, name, &n, err);
    if (found < 0)
        return -1;
    if (found == 0 || !n.has_pending) {
        bool admitted = found && n.n_keys > 0;

        node_info_free_unpacked(found ? n.info : NULL, NULL);
        return approve_named(p, name, admitted, fingerprint, err);
    }
    berth_key_fingerprint(n.pending_key, fp);
    if (fingerprint && *fingerprint && strcmp(fingerprint, fp) != 0) {
        node_info_free_unpacked(n.info, NULL);
        return berth_error_set(err, EBUSY, "node %s: the key awaiting approval is %s, not %s", name,
                               fp, fingerprint);
    }
    memcpy(n.keys[0], n.pending_key, BERTH_PUBKEY_LEN);
    n.n_keys = 1;
    n.has_pending = false;
    if (n.phase == NODE_PENDING_APPROVAL) {
        n.phase = NODE_UNKNOWN;
        n.phase_since_ns = berth_now_real_ns();
        snprintf(n.reason, sizeof(n.reason), "approved, not registered yet");
    }
    snprintf(msg, sizeof(msg), "key %s approved by an operator", fp);
    r = save(p, &n, "Normal", "Approved", msg, err);
    node_info_free_unpacked(n.info, NULL);
    return r;
}

const berth_policy_ops berth_policy_sqlite_ops = {
    .lookup = sq_lookup,
    .join_token_secret = sq_join_token_secret,
    .enroll = sq_enroll,
    .rotate = sq_rotate,
    .confirm = sq_confirm,
    .request_approval = sq_request_approval,
};
