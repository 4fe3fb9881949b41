/* Handshakes, sessions, and the checks every received frame goes through. */
#include "auth.h"
#include "auth-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "replay.h"
#include "table.h"

#define DEFAULT_MAX_NONCES   65536
#define DEFAULT_HELLO_BUDGET 20   /* per second, and the burst */
#define DEFAULT_KEY_HELLOS   4096 /* per key within a HELLO's lifetime (4 min) */
#define DEFAULT_MAX_SESSIONS 16384
#define DEFAULT_LIFETIME_NS  ((int64_t)3600 * BERTH_NSEC_PER_SEC)
#define SWEEP_INTERVAL_NS    ((int64_t)60 * BERTH_NSEC_PER_SEC)
#define KDF_CONTEXT          "berthses"

/* HELLO payload extensions. */
#define HELLO_EXT_TOKEN  0x01
#define HELLO_EXT_ROTATE 0x02
#define HELLO_FIXED      (2 + 32 + 32 + 1) /* role, name length, key, ephemeral key, ext */
#define HELLO_MAX_LEN    (2 + BERTH_NAME_MAX + 32 + 32 + 1 + 6 + 32 + 32 + 64)
/* WELCOME payload: the session id, the answer's status code (big-endian),
 * the responder's ephemeral X25519 key, BLAKE2b-256 of the HELLO it
 * answers, the length of a refusal's message (big-endian) and the message.
 * The session's keys bind everything before the HELLO's hash (the head). */
#define WELCOME_SESSION    0
#define WELCOME_CODE       (WELCOME_SESSION + BERTH_SESSION_ID_LEN)
#define WELCOME_EPH        (WELCOME_CODE + 4)
#define WELCOME_HELLO_HASH (WELCOME_EPH + 32)
#define WELCOME_HEAD_LEN   WELCOME_HELLO_HASH
#define WELCOME_MSG_LEN    (WELCOME_HELLO_HASH + 32)
#define WELCOME_MSG        (WELCOME_MSG_LEN + 2)
#define WELCOME_FIXED      WELCOME_MSG
#define WELCOME_MSG_MAX    255

struct berth_session {
    uint8_t id[BERTH_SESSION_ID_LEN];
    berth_principal peer;
    bool initiator; /* we sent the HELLO */
    /* Keys and counters per channel (index = channel). */
    uint8_t tx_key[BERTH_CHANNEL_MAX + 1][32];
    uint8_t rx_key[BERTH_CHANNEL_MAX + 1][32];
    uint64_t tx_counter[BERTH_CHANNEL_MAX + 1];
    berth_replay_window rx_window[BERTH_CHANNEL_MAX + 1];
    int64_t created;
    int64_t last_rx;
};

/* Sessions one peer may have with us at once: an operator runs several
 * berthctl at a time (a drain or logs -f in one terminal, gets in
 * another), each its own session under the same key. */
#define PEER_ACCEPTED_MAX 64

/* The sessions of one peer: those we initiated newest first, two at most,
 * so a renewed session does not break replies still in flight under the
 * old; those it initiated, up to PEER_ACCEPTED_MAX, the least recently
 * used dropped for a new one. */
typedef struct peer_sessions {
    berth_session *initiated[2];
    berth_session *accepted[PEER_ACCEPTED_MAX];
    size_t n_accepted;
} peer_sessions;

struct berth_auth {
    berth_principal self;
    berth_keypair key;
    bool has_previous;
    berth_keypair previous;
    const berth_policy_ops *policy;
    void *policy_data;
    size_t max_sessions;
    int64_t lifetime;

    berth_table *sessions; /* session id -> berth_session */
    berth_table *peers;    /* principal id -> peer_sessions */
    /* Nonces of SIGNED frames and WELCOMEs (the controller's, pinned), and
     * of accepted HELLOs (per key bounded: no admitted key can fill the set
     * for the others; no stranger gets into it at all). */
    berth_nonce_set *nonces;
    berth_nonce_set *hello_nonces;
    size_t hellos_per_key;
    /* The budget of HELLOs whose key is not admitted yet (a join token, an
     * approval request, a rotation, a refusal): a token bucket. */
    double hello_budget, hello_budget_rate;
    int64_t hello_budget_at;
    int64_t last_sweep;

    berth_principal last_signer; /* what berth_opened.peer points at for SIGNED */
    berth_auth_stats stats;

    bool has_fixed; /* test vectors only (auth-internal.h) */
    berth_auth_fixed fixed;
};

struct berth_hello {
    berth_principal server;
    uint8_t eph_pk[crypto_scalarmult_BYTES];
    uint8_t eph_sk[crypto_scalarmult_SCALARBYTES];
    uint8_t hash[32]; /* of the HELLO frame */
};

static const char *const reject_names[BERTH_REJECT_COUNT] = {
    [BERTH_REJECT_NONE] = "none",
    [BERTH_REJECT_OVERSIZE] = "oversize",
    [BERTH_REJECT_MALFORMED] = "malformed",
    [BERTH_REJECT_UNEXPECTED] = "unexpected",
    [BERTH_REJECT_WRONG_RECIPIENT] = "wrong-recipient",
    [BERTH_REJECT_UNKNOWN_KEY] = "unknown-key",
    [BERTH_REJECT_BAD_AUTH] = "bad-auth",
    [BERTH_REJECT_STALE] = "stale",
    [BERTH_REJECT_REPLAYED] = "replayed",
    [BERTH_REJECT_FORBIDDEN] = "forbidden",
    [BERTH_REJECT_NOT_ADMITTED] = "not-admitted",
    [BERTH_REJECT_THROTTLED] = "throttled",
};

const char *berth_reject_name(berth_reject r)
{
    return r < BERTH_REJECT_COUNT ? reject_names[r] : "unknown";
}

static berth_reject reject(berth_auth *a, berth_reject r)
{
    a->stats.rejected[r]++;
    return r;
}

int berth_auth_new(const berth_auth_config *cfg, berth_auth **ret_auth, berth_error **err)
{
    berth_auth *a;

    if (sodium_init() < 0)
        return berth_error_set(err, EIO, "libsodium failed to initialise");
    if (!cfg->policy || !cfg->policy->lookup)
        return berth_error_set(err, EINVAL, "auth: a policy with a lookup is required");
    a = berth_xcalloc(1, sizeof(*a));
    a->self = cfg->self;
    a->key = cfg->key;
    a->has_previous = cfg->has_previous_key;
    if (a->has_previous)
        a->previous = cfg->previous_key;
    a->policy = cfg->policy;
    a->policy_data = cfg->policy_data;
    a->max_sessions = cfg->max_sessions ? cfg->max_sessions : DEFAULT_MAX_SESSIONS;
    a->lifetime = cfg->session_lifetime_ns > 0 ? cfg->session_lifetime_ns : DEFAULT_LIFETIME_NS;
    a->sessions = berth_table_new(BERTH_SESSION_ID_LEN);
    a->peers = berth_table_new(BERTH_ID_LEN);
    a->nonces = berth_nonce_set_new(cfg->max_nonces ? cfg->max_nonces : DEFAULT_MAX_NONCES, 0);
    a->hellos_per_key = cfg->hellos_per_key ? cfg->hellos_per_key : DEFAULT_KEY_HELLOS;
    a->hello_nonces = berth_nonce_set_new(cfg->max_nonces ? cfg->max_nonces : DEFAULT_MAX_NONCES,
                                          a->hellos_per_key);
    a->hello_budget_rate =
        cfg->hello_budget_per_sec ? cfg->hello_budget_per_sec : DEFAULT_HELLO_BUDGET;
    a->hello_budget = a->hello_budget_rate;
    a->hello_budget_at = berth_now_mono_ns();
    a->last_sweep = berth_now_mono_ns();
    *ret_auth = a;
    return 0;
}

static bool free_session_cb(void *value, const void *key, void *data)
{
    berth_session *s = value;

    (void)key;
    (void)data;
    sodium_memzero(s, sizeof(*s));
    free(s);
    return true;
}

static bool free_value_cb(void *value, const void *key, void *data)
{
    (void)key;
    (void)data;
    free(value);
    return true;
}

void berth_auth_free(berth_auth *a)
{
    if (!a)
        return;
    if (a->sessions)
        berth_table_sweep(a->sessions, free_session_cb, NULL);
    if (a->peers)
        berth_table_sweep(a->peers, free_value_cb, NULL);
    berth_table_free(a->sessions);
    berth_table_free(a->peers);
    berth_nonce_set_free(a->nonces);
    berth_nonce_set_free(a->hello_nonces);
    sodium_memzero(a, sizeof(*a));
    free(a);
}

const berth_principal *berth_auth_self(const berth_auth *a)
{
    return &a->self;
}

berth_auth_stats *berth_auth_stats_of(berth_auth *a)
{
    a->stats.sessions = berth_table_size(a->sessions);
    a->stats.nonces = berth_nonce_set_size(a->nonces);
    a->stats.hello_nonces = berth_nonce_set_size(a->hello_nonces);
    return &a->stats;
}

void berth_auth_count_reject(berth_auth *a, berth_reject r)
{
    if (r > BERTH_REJECT_NONE && r < BERTH_REJECT_COUNT)
        a->stats.rejected[r]++;
}

uint64_t berth_auth_rejected_total(const berth_auth *a)
{
    uint64_t n = 0;

    for (int i = 1; i < BERTH_REJECT_COUNT; i++)
        n += a->stats.rejected[i];
    return n;
}

uint64_t berth_auth_drops_since(berth_auth *a, uint64_t last[BERTH_REJECT_COUNT], char *buf,
                                size_t size)
{
    uint64_t total = 0;
    size_t used;

    for (int r = 1; r < BERTH_REJECT_COUNT; r++)
        total += a->stats.rejected[r] - last[r];
    if (total == 0)
        return 0;
    used =
        (size_t)snprintf(buf, size, "%" PRIu64 " frame%s dropped:", total, total == 1 ? "" : "s");
    for (int r = 1; r < BERTH_REJECT_COUNT; r++) {
        uint64_t d = a->stats.rejected[r] - last[r];

        if (d && used < size)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s %" PRIu64 " %s",
                                 used > 0 && buf[used - 1] == ':' ? "" : ",", d, reject_names[r]);
        last[r] = a->stats.rejected[r];
    }
    return total;
}

void berth_auth_set_key(berth_auth *a, const berth_keypair *key, bool keep_previous)
{
    if (keep_previous) {
        a->previous = a->key;
        a->has_previous = true;
    } else {
        berth_keypair_wipe(&a->previous);
        a->has_previous = false;
    }
    a->key = *key;
}

uint8_t *berth_frame_buffer(size_t payload_len)
{
    if (payload_len > BERTH_PAYLOAD_MAX)
        return NULL;
    return berth_xmalloc(BERTH_FRAME_HEADER_LEN + payload_len + BERTH_FRAME_TRAILER_MAX);
}

void berth_auth_fix(berth_auth *a, const berth_auth_fixed *f)
{
    a->has_fixed = f != NULL;
    if (f)
        a->fixed = *f;
    else
        sodium_memzero(&a->fixed, sizeof(a->fixed));
}

/* The wall clock, the nonce of a frame we sign and a new ephemeral X25519
 * key pair: what the test vectors fix (berth_auth_fix). */
static int64_t auth_now(const berth_auth *a)
{
    return a->has_fixed ? a->fixed.now_ns : berth_now_real_ns();
}

static uint64_t auth_nonce(const berth_auth *a)
{
    uint64_t v;

    if (a->has_fixed)
        return a->fixed.nonce;
    randombytes_buf(&v, sizeof(v));
    return v;
}

static void auth_ephemeral(const berth_auth *a, uint8_t pk[crypto_scalarmult_BYTES],
                           uint8_t sk[crypto_scalarmult_SCALARBYTES])
{
    if (!a->has_fixed) {
        crypto_box_keypair(pk, sk);
        return;
    }
    memcpy(sk, a->fixed.ephemeral_sk, crypto_scalarmult_SCALARBYTES);
    crypto_scalarmult_base(pk, sk);
}

static bool fresh(const berth_auth *a, int64_t ts)
{
    int64_t now = auth_now(a);

    return ts >= now - BERTH_FRAME_MAX_SKEW_NS && ts <= now + BERTH_FRAME_MAX_SKEW_NS;
}

/* A signed frame's nonce must stay remembered for as long as its timestamp
 * could pass: it may be up to the skew ahead of our clock. */
static int nonce_remember_in(berth_nonce_set *set, const uint8_t key_id[BERTH_KEYID_LEN],
                             uint64_t nonce)
{
    int64_t now = berth_now_mono_ns();

    return berth_nonce_set_add(set, key_id, nonce, now + 2 * BERTH_FRAME_MAX_SKEW_NS + 1, now);
}

static int nonce_remember(berth_auth *a, const uint8_t key_id[BERTH_KEYID_LEN], uint64_t nonce)
{
    return nonce_remember_in(a->nonces, key_id, nonce);
}

/* Remember an authentic HELLO's nonce: NONE, or why it is dropped. */
static berth_reject hello_nonce(berth_auth *a, const berth_frame_header *hdr)
{
    switch (nonce_remember_in(a->hello_nonces, hdr->key_id, hdr->counter)) {
    case 0:
        return BERTH_REJECT_NONE;
    case 1:
        return BERTH_REJECT_REPLAYED;
    default: /* this key's share, or the whole set, is taken */
        return BERTH_REJECT_THROTTLED;
    }
}

/* Take one unit of the budget for HELLOs from keys not admitted yet; false
 * when it is spent (the HELLO is then dropped unanswered). */
static bool hello_budget_take(berth_auth *a)
{
    int64_t now = berth_now_mono_ns();

    a->hello_budget += (double)(now - a->hello_budget_at) * a->hello_budget_rate / 1e9;
    a->hello_budget_at = now;
    if (a->hello_budget > a->hello_budget_rate)
        a->hello_budget = a->hello_budget_rate;
    if (a->hello_budget < 1.0)
        return false;
    a->hello_budget -= 1.0;
    return true;
}

/* ---- sessions ---- */

berth_session *berth_auth_session(berth_auth *a, const uint8_t id[BERTH_SESSION_ID_LEN])
{
    return berth_table_get(a->sessions, id);
}

const berth_principal *berth_session_peer(const berth_session *s)
{
    return &s->peer;
}

const uint8_t *berth_session_id(const berth_session *s)
{
    return s->id;
}

int64_t berth_session_last_rx(const berth_session *s)
{
    return s->last_rx;
}

const uint8_t *berth_session_key(const berth_session *s, berth_channel ch, bool tx)
{
    return tx ? s->tx_key[ch] : s->rx_key[ch];
}

size_t berth_auth_session_count(const berth_auth *a)
{
    return berth_table_size(a->sessions);
}

berth_session *berth_auth_session_latest(berth_auth *a, const uint8_t peer_id[BERTH_ID_LEN])
{
    peer_sessions *ps = berth_table_get(a->peers, peer_id);

    return ps ? ps->initiated[0] : NULL;
}

berth_session *berth_auth_session_with(berth_auth *a, const uint8_t peer_id[BERTH_ID_LEN])
{
    peer_sessions *ps = berth_table_get(a->peers, peer_id);
    berth_session *s = ps ? ps->initiated[0] : NULL;

    if (!s || berth_now_mono_ns() - s->created >= a->lifetime)
        return NULL;
    return s;
}

static void unlink_from_peer(berth_auth *a, berth_session *s)
{
    peer_sessions *ps = berth_table_get(a->peers, s->peer.id);
    berth_session **list;

    if (!ps)
        return;
    if (!s->initiator) {
        for (size_t i = 0; i < ps->n_accepted; i++)
            if (ps->accepted[i] == s) {
                ps->accepted[i] = ps->accepted[--ps->n_accepted];
                ps->accepted[ps->n_accepted] = NULL;
                break;
            }
        if (!ps->initiated[0] && !ps->n_accepted)
            free(berth_table_remove(a->peers, s->peer.id));
        return;
    }
    list = ps->initiated;
    if (list[0] == s) {
        list[0] = list[1];
        list[1] = NULL;
    } else if (list[1] == s) {
        list[1] = NULL;
    }
    if (!ps->initiated[0] && !ps->n_accepted)
        free(berth_table_remove(a->peers, s->peer.id));
}

void berth_auth_session_drop(berth_auth *a, berth_session *s)
{
    if (!s)
        return;
    unlink_from_peer(a, s);
    berth_table_remove(a->sessions, s->id);
    sodium_memzero(s, sizeof(*s));
    free(s);
}

typedef struct sweep_ctx {
    berth_auth *a;
    int64_t now;
    berth_session *lru;
    berth_session *expired[64];
    size_t n_expired;
} sweep_ctx;

static bool sweep_cb(void *value, const void *key, void *data)
{
    sweep_ctx *c = data;
    berth_session *s = value;

    (void)key;
    if (s->initiator)
        return false;
    if (c->now - s->last_rx > 2 * c->a->lifetime && c->n_expired < BERTH_ARRAY_SIZE(c->expired))
        c->expired[c->n_expired++] = s;
    else if (!c->lru || s->last_rx < c->lru->last_rx)
        c->lru = s;
    return false;
}

/* Drop idle accepted sessions (at most once a minute, a bounded batch), and
 * the least recently used one when the table is full. */
static void sessions_make_room(berth_auth *a)
{
    sweep_ctx c = { .a = a, .now = berth_now_mono_ns() };
    bool full = berth_table_size(a->sessions) >= a->max_sessions;

    if (!full && c.now - a->last_sweep < SWEEP_INTERVAL_NS)
        return;
    a->last_sweep = c.now;
    berth_table_sweep(a->sessions, sweep_cb, &c);
    for (size_t i = 0; i < c.n_expired; i++)
        berth_auth_session_drop(a, c.expired[i]);
    if (berth_table_size(a->sessions) >= a->max_sessions && c.lru)
        berth_auth_session_drop(a, c.lru);
}

/* Derive the session's keys from the X25519 secret and the transcript. */
static void session_derive(berth_session *s, const uint8_t shared[32], const uint8_t hello_hash[32],
                           const uint8_t *welcome_head)
{
    static const char label[] = "berth-session-v1";
    crypto_generichash_state st;
    uint8_t master[32];

    crypto_generichash_init(&st, shared, 32, sizeof(master));
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, hello_hash, 32);
    /* session id, code and the server's ephemeral key */
    crypto_generichash_update(&st, welcome_head, WELCOME_HEAD_LEN);
    crypto_generichash_final(&st, master, sizeof(master));
    for (int ch = 1; ch <= BERTH_CHANNEL_MAX; ch++) {
        uint8_t c2s[32], s2c[32];

        crypto_kdf_derive_from_key(c2s, 32, (uint64_t)ch * 2, KDF_CONTEXT, master);
        crypto_kdf_derive_from_key(s2c, 32, (uint64_t)ch * 2 + 1, KDF_CONTEXT, master);
        memcpy(s->tx_key[ch], s->initiator ? c2s : s2c, 32);
        memcpy(s->rx_key[ch], s->initiator ? s2c : c2s, 32);
        sodium_memzero(c2s, sizeof(c2s));
        sodium_memzero(s2c, sizeof(s2c));
    }
    sodium_memzero(master, sizeof(master));
}

/* Register a new session: of those we initiated, the oldest beyond two is
 * dropped; of those the peer initiated, the least recently used beyond
 * PEER_ACCEPTED_MAX. */
static void session_install(berth_auth *a, berth_session *s)
{
    peer_sessions *ps = berth_table_get(a->peers, s->peer.id);
    berth_session **list;

    if (!ps) {
        ps = berth_xcalloc(1, sizeof(*ps));
        berth_table_put(a->peers, s->peer.id, ps);
    }
    berth_table_put(a->sessions, s->id, s);
    a->stats.sessions_made++;
    if (!s->initiator) {
        if (ps->n_accepted == PEER_ACCEPTED_MAX) {
            size_t lru = 0;

            for (size_t i = 1; i < ps->n_accepted; i++)
                if (ps->accepted[i]->last_rx < ps->accepted[lru]->last_rx)
                    lru = i;
            /* another remains (MAX > 1), so ps stays */
            berth_auth_session_drop(a, ps->accepted[lru]);
        }
        ps->accepted[ps->n_accepted++] = s;
        return;
    }
    list = ps->initiated;
    /* list[0] is set whenever list[1] is, so dropping list[1] keeps ps. */
    if (list[1])
        berth_auth_session_drop(a, list[1]);
    list[1] = list[0];
    list[0] = s;
}

/* Write the header of a frame we sign (HELLO, WELCOME, SIGNED): our key's
 * id, now (or ts), a random nonce. */
static void signed_header(berth_auth *a, berth_frame_kind kind, berth_channel ch,
                          const uint8_t to[BERTH_ID_LEN], int64_t ts, uint8_t *frame)
{
    berth_frame_header hdr = { .version = BERTH_FRAME_VERSION,
                               .kind = (uint8_t)kind,
                               .channel = (uint8_t)ch };

    memcpy(hdr.recipient, to, BERTH_ID_LEN);
    memcpy(hdr.sender, a->self.id, BERTH_ID_LEN);
    memcpy(hdr.key_id, a->key.id, BERTH_KEYID_LEN);
    hdr.timestamp_ns = ts;
    hdr.counter = auth_nonce(a);
    berth_frame_header_write(&hdr, frame);
}

/* ---- handshake ---- */

/* Proof of knowing a join token's secret, bound to the key it enrolls, the
 * handshake's ephemeral key and time, so it is worth nothing elsewhere. */
static void join_proof(const uint8_t secret[BERTH_TOKEN_SECRET_LEN], const uint8_t id[BERTH_ID_LEN],
                       const uint8_t pk[32], const uint8_t eph[32], int64_t ts, uint8_t out[32])
{
    static const char label[] = "berth-join-v1";
    crypto_generichash_state st;
    uint8_t tsb[8];

    berth_put_be64(tsb, (uint64_t)ts);
    crypto_generichash_init(&st, secret, BERTH_TOKEN_SECRET_LEN, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, id, BERTH_ID_LEN);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_update(&st, eph, 32);
    crypto_generichash_update(&st, tsb, sizeof(tsb));
    crypto_generichash_final(&st, out, 32);
}

/* What the previous key signs to vouch for the new one. */
static void endorsement_message(const uint8_t id[BERTH_ID_LEN], const uint8_t new_pk[32],
                                uint8_t out[15 + BERTH_ID_LEN + 32])
{
    memcpy(out, "berth-rotate-v1", 15);
    memcpy(out + 15, id, BERTH_ID_LEN);
    memcpy(out + 15 + BERTH_ID_LEN, new_pk, 32);
}

void berth_auth_hello(berth_auth *a, const berth_principal *server, const berth_join_token *token,
                      berth_hello **ret_hello, uint8_t **ret_frame, size_t *ret_len)
{
    _cleanup_free_ berth_hello *h = berth_xcalloc(1, sizeof(*h));
    _cleanup_free_ uint8_t *frame = berth_frame_buffer(HELLO_MAX_LEN);
    size_t name_len = strlen(a->self.name), n = 0, len;
    int64_t ts = auth_now(a);
    uint8_t *p;

    h->server = *server;
    auth_ephemeral(a, h->eph_pk, h->eph_sk);
    signed_header(a, BERTH_FRAME_HELLO, BERTH_CHANNEL_RPC, server->id, ts, frame);

    p = frame + BERTH_FRAME_HEADER_LEN;
    p[n++] = (uint8_t)a->self.role;
    p[n++] = (uint8_t)name_len;
    memcpy(p + n, a->self.name, name_len);
    n += name_len;
    memcpy(p + n, a->key.pk, 32);
    n += 32;
    memcpy(p + n, h->eph_pk, 32);
    n += 32;
    p[n++] = (uint8_t)((token ? HELLO_EXT_TOKEN : 0) | (a->has_previous ? HELLO_EXT_ROTATE : 0));
    if (token) {
        memcpy(p + n, token->id, BERTH_TOKEN_ID_LEN);
        n += BERTH_TOKEN_ID_LEN;
        join_proof(token->secret, a->self.id, a->key.pk, h->eph_pk, ts, p + n);
        n += 32;
    }
    if (a->has_previous) {
        uint8_t msg[15 + BERTH_ID_LEN + 32];

        endorsement_message(a->self.id, a->key.pk, msg);
        memcpy(p + n, a->previous.pk, 32);
        n += 32;
        crypto_sign_detached(p + n, NULL, msg, sizeof(msg), a->previous.sk);
        n += 64;
    }
    len = berth_frame_sign(frame, n, a->key.sk);
    crypto_generichash(h->hash, sizeof(h->hash), frame, len, NULL, 0);
    *ret_hello = TAKE_PTR(h);
    *ret_frame = TAKE_PTR(frame);
    *ret_len = len;
}

void berth_hello_free(berth_hello *h)
{
    if (!h)
        return;
    sodium_memzero(h, sizeof(*h));
    free(h);
}

/* Find pk among a principal's keys by key id. */
static const uint8_t *key_by_id(uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t n,
                                const uint8_t id[BERTH_KEYID_LEN])
{
    for (size_t i = 0; i < n; i++) {
        uint8_t kid[BERTH_KEYID_LEN];

        berth_key_id(keys[i], kid);
        if (memcmp(kid, id, BERTH_KEYID_LEN) == 0)
            return keys[i];
    }
    return NULL;
}

static bool key_in(uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t n,
                   const uint8_t pk[32])
{
    for (size_t i = 0; i < n; i++)
        if (sodium_memcmp(keys[i], pk, 32) == 0)
            return true;
    return false;
}

/* Build a signed WELCOME to `to`. session NULL: a refusal with code and msg. */
static uint8_t *welcome_build(berth_auth *a, const uint8_t to[BERTH_ID_LEN],
                              const uint8_t hello_hash[32], const uint8_t session_id[8],
                              const uint8_t eph_pk[32], uint32_t code, const char *msg,
                              size_t *ret_len)
{
    size_t mlen = msg ? strlen(msg) : 0;
    uint8_t *frame, *p;

    if (mlen > WELCOME_MSG_MAX)
        mlen = WELCOME_MSG_MAX;
    frame = berth_frame_buffer(WELCOME_FIXED + mlen);
    signed_header(a, BERTH_FRAME_WELCOME, BERTH_CHANNEL_RPC, to, auth_now(a), frame);
    p = frame + BERTH_FRAME_HEADER_LEN;
    memset(p, 0, WELCOME_FIXED);
    if (session_id)
        memcpy(p + WELCOME_SESSION, session_id, BERTH_SESSION_ID_LEN);
    p[WELCOME_CODE] = (uint8_t)(code >> 24);
    p[WELCOME_CODE + 1] = (uint8_t)(code >> 16);
    p[WELCOME_CODE + 2] = (uint8_t)(code >> 8);
    p[WELCOME_CODE + 3] = (uint8_t)code;
    if (eph_pk)
        memcpy(p + WELCOME_EPH, eph_pk, 32);
    memcpy(p + WELCOME_HELLO_HASH, hello_hash, 32);
    p[WELCOME_MSG_LEN] = (uint8_t)(mlen >> 8);
    p[WELCOME_MSG_LEN + 1] = (uint8_t)mlen;
    if (mlen)
        memcpy(p + WELCOME_MSG, msg, mlen);
    *ret_len = berth_frame_sign(frame, WELCOME_FIXED + mlen, a->key.sk);
    return frame;
}

typedef struct hello_parsed {
    berth_principal who;
    const uint8_t *pk, *eph;
    const uint8_t *token_id, *token_proof;
    const uint8_t *prev_pk, *endorsement;
} hello_parsed;

static int hello_parse(const berth_frame_header *hdr, const uint8_t *p, size_t len,
                       hello_parsed *ret)
{
    size_t n = 0, name_len;
    char name[BERTH_NAME_MAX + 1];
    uint8_t ext, kid[BERTH_KEYID_LEN];

    if (len < HELLO_FIXED + 1)
        return -1;
    name_len = p[1];
    if (name_len == 0 || name_len > BERTH_NAME_MAX || len < HELLO_FIXED + name_len)
        return -1;
    memcpy(name, p + 2, name_len);
    name[name_len] = '\0';
    if (memchr(name, '\0', name_len))
        return -1;
    if (berth_principal_init(&ret->who, (berth_role)p[0], name, NULL) < 0)
        return -1;
    n = 2 + name_len;
    ret->pk = p + n;
    ret->eph = p + n + 32;
    n += 64;
    ext = p[n++];
    ret->token_id = ret->token_proof = ret->prev_pk = ret->endorsement = NULL;
    if (ext & HELLO_EXT_TOKEN) {
        if (len < n + BERTH_TOKEN_ID_LEN + 32)
            return -1;
        ret->token_id = p + n;
        ret->token_proof = p + n + BERTH_TOKEN_ID_LEN;
        n += BERTH_TOKEN_ID_LEN + 32;
    }
    if (ext & HELLO_EXT_ROTATE) {
        if (len < n + 32 + 64)
            return -1;
        ret->prev_pk = p + n;
        ret->endorsement = p + n + 32;
        n += 96;
    }
    if (n != len || (ext & ~(HELLO_EXT_TOKEN | HELLO_EXT_ROTATE)))
        return -1;
    /* The header must say what the body proves. */
    if (!berth_id_eq(ret->who.id, hdr->sender))
        return -1;
    berth_key_id(ret->pk, kid);
    if (memcmp(kid, hdr->key_id, BERTH_KEYID_LEN) != 0)
        return -1;
    return 0;
}

/* Decide whether a HELLO's key is admitted. 0: admitted. -1: refused, with
 * the reason for the node in msg. */
/* What a HELLO asks for, judged from what it claims and what the policy
 * knows, before any signature is checked: only a HELLO from an admitted
 * key is worth a signature check at any rate. */
typedef enum hello_kind {
    HELLO_KNOWN,    /* its key is one of the principal's */
    HELLO_ROTATION, /* one of the principal's keys vouches for a new one */
    HELLO_TOKEN,    /* a join token enrolls a new node */
    HELLO_APPROVAL, /* an unknown node key, to await an operator's approval */
    HELLO_UNKNOWN,  /* nothing admits it */
    HELLO_FAILED,   /* the policy could not tell */
} hello_kind;

static hello_kind hello_classify(berth_auth *a, const hello_parsed *h)
{
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    _cleanup_error_ berth_error *err = NULL;
    berth_principal known_as;
    size_t n_keys = 0;
    int known;

    known = a->policy->lookup(a->policy_data, h->who.id, &known_as, keys, &n_keys, &err);
    if (known < 0)
        return HELLO_FAILED;
    if (known > 0 && key_in(keys, n_keys, h->pk))
        return HELLO_KNOWN;
    if (known > 0 && h->prev_pk && key_in(keys, n_keys, h->prev_pk) && a->policy->rotate)
        return HELLO_ROTATION;
    if (h->token_id && h->who.role == BERTH_ROLE_NODE && a->policy->join_token_secret &&
        a->policy->enroll)
        return HELLO_TOKEN;
    if (h->who.role == BERTH_ROLE_NODE && a->policy->request_approval)
        return HELLO_APPROVAL;
    return HELLO_UNKNOWN;
}

/* Admit the (authentic) HELLO as its kind says, or say why not in msg
 * (which goes back to the peer in the WELCOME). */
static int admit(berth_auth *a, const hello_parsed *h, hello_kind kind, int64_t ts, char *msg,
                 size_t msg_size)
{
    _cleanup_error_ berth_error *err = NULL;
    char fp[BERTH_FINGERPRINT_LEN];

    berth_key_fingerprint(h->pk, fp);
    switch (kind) {
    case HELLO_KNOWN:
        /* The first HELLO with a key it moves to (a rotation, an approved
         * replacement) retires the other: a leaked old key must not outlive
         * the move. */
        if (a->policy->confirm && a->policy->confirm(a->policy_data, &h->who, h->pk, &err) < 0) {
            snprintf(msg, msg_size, "key %s: %s", fp, err->msg);
            return -1;
        }
        return 0;
    case HELLO_ROTATION: {
        uint8_t m[15 + BERTH_ID_LEN + 32];

        endorsement_message(h->who.id, h->pk, m);
        if (crypto_sign_verify_detached(h->endorsement, m, sizeof(m), h->prev_pk) != 0) {
            snprintf(msg, msg_size, "%s %s: key %s is not known here", berth_role_name(h->who.role),
                     h->who.name, fp);
            return -1;
        }
        if (a->policy->rotate(a->policy_data, &h->who, h->prev_pk, h->pk, &err) < 0) {
            snprintf(msg, msg_size, "key rotation refused: %s", err->msg);
            return -1;
        }
        a->stats.keys_rotated++;
        return 0;
    }
    case HELLO_TOKEN: {
        uint8_t secret[BERTH_TOKEN_SECRET_LEN], proof[32];
        char tid[2 * BERTH_TOKEN_ID_LEN + 1];
        int found;

        sodium_bin2hex(tid, sizeof(tid), h->token_id, BERTH_TOKEN_ID_LEN);
        found = a->policy->join_token_secret(a->policy_data, h->token_id, secret, &err);
        if (found > 0)
            join_proof(secret, h->who.id, h->pk, h->eph, ts, proof);
        sodium_memzero(secret, sizeof(secret));
        if (found <= 0 || sodium_memcmp(proof, h->token_proof, 32) != 0) {
            /* Unknown, used, expired and wrong look alike from outside. */
            snprintf(msg, msg_size, "join token %s is unknown, used, expired or wrong", tid);
            return -1;
        }
        if (a->policy->enroll(a->policy_data, h->token_id, &h->who, h->pk, &err) < 0) {
            snprintf(msg, msg_size, "join token %s refused: %s", tid, err->msg);
            return -1;
        }
        a->stats.keys_enrolled++;
        return 0;
    }
    case HELLO_APPROVAL:
        if (a->policy->request_approval(a->policy_data, &h->who, h->pk, &err) < 0) {
            snprintf(msg, msg_size, "node %s: key %s is not admitted: %s", h->who.name, fp,
                     err->msg);
            return -1;
        }
        a->stats.approvals_requested++;
        /* The command that approves exactly this key, when it fits. */
        if (snprintf(msg, msg_size,
                     "node %s: key %s awaits operator approval (berthctl node approve %s "
                     "--fingerprint %s)",
                     h->who.name, fp, h->who.name, fp) >= (int)msg_size)
            snprintf(msg, msg_size,
                     "node %s: key %s awaits operator approval (berthctl node approve %s "
                     "--fingerprint KEY)",
                     h->who.name, fp, h->who.name);
        return -1;
    case HELLO_FAILED:
        snprintf(msg, msg_size, "admission failed on the %s's side", berth_role_name(a->self.role));
        return -1;
    case HELLO_UNKNOWN:
    default:
        snprintf(msg, msg_size, "%s %s: key %s is not known here", berth_role_name(h->who.role),
                 h->who.name, fp);
        return -1;
    }
}

berth_reject berth_auth_accept(berth_auth *a, const uint8_t *frame, size_t len, uint8_t **ret_reply,
                               size_t *ret_reply_len)
{
    berth_frame_header hdr;
    hello_parsed h;
    uint8_t hash[32], eph_pk[32], eph_sk[32], shared[32], welcome_head[WELCOME_HEAD_LEN];
    char msg[WELCOME_MSG_MAX + 1];
    berth_session *s;
    uint8_t *reply;
    size_t reply_len = 0;
    hello_kind kind;
    berth_reject r;

    if (len > BERTH_FRAME_MAX)
        return reject(a, BERTH_REJECT_OVERSIZE);
    if (berth_frame_header_read(frame, len, &hdr) < 0 || hdr.version != BERTH_FRAME_VERSION ||
        len < BERTH_FRAME_HEADER_LEN + BERTH_FRAME_SIG_LEN)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (hdr.kind != BERTH_FRAME_HELLO || hdr.channel != BERTH_CHANNEL_RPC || hdr.flags != 0)
        return reject(a, BERTH_REJECT_UNEXPECTED);
    if (!berth_id_eq(hdr.recipient, a->self.id))
        return reject(a, BERTH_REJECT_WRONG_RECIPIENT);
    if (hello_parse(&hdr, frame + BERTH_FRAME_HEADER_LEN,
                    len - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN, &h) < 0)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (!fresh(a, hdr.timestamp_ns))
        return reject(a, BERTH_REJECT_STALE);
    /* Nobody is us. */
    if (berth_id_eq(h.who.id, a->self.id))
        return reject(a, BERTH_REJECT_FORBIDDEN);
    /* Everything so far was cheap and kept nothing. A key that is not
     * admitted yet costs a signature check (and maybe a signed refusal)
     * only within the budget, so strangers cannot make us spend more. */
    kind = hello_classify(a, &h);
    if (kind != HELLO_KNOWN && !hello_budget_take(a))
        return reject(a, BERTH_REJECT_THROTTLED);
    if (berth_frame_verify(frame, len, h.pk) < 0)
        return reject(a, BERTH_REJECT_BAD_AUTH);
    /* Only an admitted key's HELLO is remembered (per key bounded), before
     * anything is made of it; the others after their admission. */
    crypto_generichash(hash, sizeof(hash), frame, len, NULL, 0);
    if (kind == HELLO_KNOWN && (r = hello_nonce(a, &hdr)) != BERTH_REJECT_NONE) {
        /* An admitted key past its share is told why (it is authentic:
         * the refusal costs what its HELLO did); a replay is not. */
        if (r == BERTH_REJECT_THROTTLED) {
            snprintf(msg, sizeof(msg),
                     "%s %s: more than %zu handshakes with this key in %d s; keep a session "
                     "instead",
                     berth_role_name(h.who.role), h.who.name, a->hellos_per_key,
                     (int)(2 * BERTH_FRAME_MAX_SKEW_NS / BERTH_NSEC_PER_SEC));
            *ret_reply = welcome_build(a, h.who.id, hash, NULL, NULL, CODE_RESOURCE_EXHAUSTED, msg,
                                       ret_reply_len);
        }
        return reject(a, r);
    }
    /* The key agreement before any admission (and after the replay
     * check, so a replayed HELLO costs no scalar multiplication): a
     * low-order ephemeral key must not use up a join token (or record an
     * approval request) and then get no answer. */
    auth_ephemeral(a, eph_pk, eph_sk);
    if (crypto_scalarmult(shared, eph_sk, h.eph) != 0) {
        sodium_memzero(eph_sk, sizeof(eph_sk));
        return reject(a, BERTH_REJECT_MALFORMED);
    }
    sodium_memzero(eph_sk, sizeof(eph_sk));

    if (admit(a, &h, kind, hdr.timestamp_ns, msg, sizeof(msg)) < 0) {
        sodium_memzero(shared, sizeof(shared));
        reply =
            welcome_build(a, h.who.id, hash, NULL, NULL, CODE_PERMISSION_DENIED, msg, &reply_len);
        *ret_reply = reply;
        *ret_reply_len = reply_len;
        return reject(a, BERTH_REJECT_NOT_ADMITTED);
    }
    if (kind != HELLO_KNOWN && (r = hello_nonce(a, &hdr)) != BERTH_REJECT_NONE) {
        sodium_memzero(shared, sizeof(shared));
        return reject(a, r);
    }

    sessions_make_room(a);
    s = berth_xcalloc(1, sizeof(*s));
    if (a->has_fixed)
        memcpy(s->id, a->fixed.session_id, sizeof(s->id));
    else
        do
            randombytes_buf(s->id, sizeof(s->id));
        while (berth_table_get(a->sessions, s->id));
    s->peer = h.who;
    s->initiator = false;
    s->created = s->last_rx = berth_now_mono_ns();
    reply = welcome_build(a, h.who.id, hash, s->id, eph_pk, CODE_OK, NULL, &reply_len);
    memcpy(welcome_head, reply + BERTH_FRAME_HEADER_LEN, sizeof(welcome_head));
    session_derive(s, shared, hash, welcome_head);
    sodium_memzero(shared, sizeof(shared));
    session_install(a, s);
    a->stats.accepted++;
    *ret_reply = reply;
    *ret_reply_len = reply_len;
    return BERTH_REJECT_NONE;
}

/* ---- key discovery ---- */

void berth_discover_request(uint8_t frame[BERTH_DISCOVER_LEN],
                            uint8_t ret_challenge[BERTH_DISCOVER_CHALLENGE_LEN])
{
    berth_frame_header hdr = { .version = BERTH_FRAME_VERSION,
                               .kind = BERTH_FRAME_DISCOVER,
                               .channel = BERTH_CHANNEL_RPC };

    hdr.timestamp_ns = berth_now_real_ns();
    randombytes_buf(&hdr.counter, sizeof(hdr.counter));
    berth_frame_header_write(&hdr, frame);
    randombytes_buf(ret_challenge, BERTH_DISCOVER_CHALLENGE_LEN);
    memcpy(frame + BERTH_FRAME_HEADER_LEN, ret_challenge, BERTH_DISCOVER_CHALLENGE_LEN);
}

berth_reject berth_auth_discover(berth_auth *a, const uint8_t *frame, size_t len,
                                 uint8_t **ret_reply, size_t *ret_reply_len)
{
    static const uint8_t zero[BERTH_ID_LEN];
    size_t name_len = strlen(a->self.name), n = 0;
    berth_frame_header hdr;
    uint8_t *reply, *p;

    *ret_reply = NULL;
    if (len != BERTH_DISCOVER_LEN)
        return reject(a, len > BERTH_FRAME_MAX ? BERTH_REJECT_OVERSIZE : BERTH_REJECT_MALFORMED);
    if (berth_frame_header_read(frame, len, &hdr) < 0 || hdr.version != BERTH_FRAME_VERSION)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (hdr.kind != BERTH_FRAME_DISCOVER || hdr.channel != BERTH_CHANNEL_RPC || hdr.flags != 0)
        return reject(a, BERTH_REJECT_UNEXPECTED);
    if (!berth_id_eq(hdr.recipient, zero) && !berth_id_eq(hdr.recipient, a->self.id))
        return reject(a, BERTH_REJECT_WRONG_RECIPIENT);
    /* nobody yet: no sender, no key */
    if (!berth_id_eq(hdr.sender, zero) || memcmp(hdr.key_id, zero, BERTH_KEYID_LEN) != 0)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (!fresh(a, hdr.timestamp_ns))
        return reject(a, BERTH_REJECT_STALE);
    /* a signature for anyone who asks: within the strangers' budget */
    if (!hello_budget_take(a))
        return reject(a, BERTH_REJECT_THROTTLED);
    reply = berth_frame_buffer(BERTH_DISCOVER_CHALLENGE_LEN + 2 + name_len + BERTH_PUBKEY_LEN);
    signed_header(a, BERTH_FRAME_DISCOVERED, BERTH_CHANNEL_RPC, zero, auth_now(a), reply);
    reply[3] = BERTH_FRAME_FLAG_FROM_RESPONDER;
    p = reply + BERTH_FRAME_HEADER_LEN;
    memcpy(p, frame + BERTH_FRAME_HEADER_LEN, BERTH_DISCOVER_CHALLENGE_LEN);
    n += BERTH_DISCOVER_CHALLENGE_LEN;
    p[n++] = (uint8_t)a->self.role;
    p[n++] = (uint8_t)name_len;
    memcpy(p + n, a->self.name, name_len);
    n += name_len;
    memcpy(p + n, a->key.pk, BERTH_PUBKEY_LEN);
    n += BERTH_PUBKEY_LEN;
    *ret_reply_len = berth_frame_sign(reply, n, a->key.sk);
    *ret_reply = reply;
    return BERTH_REJECT_NONE;
}

int berth_discover_answer(const uint8_t *frame, size_t len,
                          const uint8_t challenge[BERTH_DISCOVER_CHALLENGE_LEN],
                          berth_principal *ret_principal, uint8_t ret_pk[BERTH_PUBKEY_LEN],
                          berth_error **err)
{
    berth_frame_header hdr;
    const uint8_t *p = frame + BERTH_FRAME_HEADER_LEN;
    uint8_t kid[BERTH_KEYID_LEN], pk[BERTH_PUBKEY_LEN];
    char name[BERTH_NAME_MAX + 1];
    berth_principal who;
    size_t plen, name_len;

    if (len < BERTH_FRAME_HEADER_LEN + BERTH_DISCOVER_CHALLENGE_LEN + 2 + BERTH_PUBKEY_LEN +
                  BERTH_FRAME_SIG_LEN ||
        len > BERTH_FRAME_MAX || berth_frame_header_read(frame, len, &hdr) < 0 ||
        hdr.version != BERTH_FRAME_VERSION || hdr.kind != BERTH_FRAME_DISCOVERED ||
        hdr.channel != BERTH_CHANNEL_RPC || hdr.flags != BERTH_FRAME_FLAG_FROM_RESPONDER)
        return berth_error_set(err, EBADMSG, "the answer is not a berth key discovery answer");
    plen = len - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN;
    name_len = p[BERTH_DISCOVER_CHALLENGE_LEN + 1];
    if (sodium_memcmp(p, challenge, BERTH_DISCOVER_CHALLENGE_LEN) != 0)
        return berth_error_set(err, EBADMSG, "the answer is not to our question");
    if (plen != BERTH_DISCOVER_CHALLENGE_LEN + 2 + name_len + BERTH_PUBKEY_LEN ||
        name_len > BERTH_NAME_MAX)
        return berth_error_set(err, EBADMSG, "the answer is malformed");
    memcpy(name, p + BERTH_DISCOVER_CHALLENGE_LEN + 2, name_len);
    name[name_len] = '\0';
    memcpy(pk, p + BERTH_DISCOVER_CHALLENGE_LEN + 2 + name_len, BERTH_PUBKEY_LEN);
    if (berth_principal_init(&who, (berth_role)p[BERTH_DISCOVER_CHALLENGE_LEN], name, err) < 0)
        return berth_error_prefix(err, "the answer names");
    berth_key_id(pk, kid);
    if (!berth_id_eq(hdr.sender, who.id) || memcmp(hdr.key_id, kid, BERTH_KEYID_LEN) != 0)
        return berth_error_set(err, EBADMSG, "the answer's header does not match its key");
    if (berth_frame_verify(frame, len, pk) < 0)
        return berth_error_set(err, EBADMSG, "the answer is not signed by the key it carries");
    *ret_principal = who;
    memcpy(ret_pk, pk, BERTH_PUBKEY_LEN);
    return 0;
}

berth_reject berth_auth_hello_finish(berth_auth *a, const berth_hello *hello, uint8_t *frame,
                                     size_t len, berth_welcome *ret)
{
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], shared[32];
    _cleanup_error_ berth_error *err = NULL;
    berth_frame_header hdr;
    berth_principal server;
    const uint8_t *pk, *p;
    size_t n_keys = 0, plen, mlen;
    uint32_t code;
    berth_session *s;

    if (len > BERTH_FRAME_MAX)
        return reject(a, BERTH_REJECT_OVERSIZE);
    if (berth_frame_header_read(frame, len, &hdr) < 0 || hdr.version != BERTH_FRAME_VERSION ||
        len < BERTH_FRAME_HEADER_LEN + WELCOME_FIXED + BERTH_FRAME_SIG_LEN)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (hdr.kind != BERTH_FRAME_WELCOME || hdr.channel != BERTH_CHANNEL_RPC)
        return reject(a, BERTH_REJECT_UNEXPECTED);
    if (!berth_id_eq(hdr.recipient, a->self.id))
        return reject(a, BERTH_REJECT_WRONG_RECIPIENT);
    if (!berth_id_eq(hdr.sender, hello->server.id))
        return reject(a, BERTH_REJECT_FORBIDDEN);
    if (a->policy->lookup(a->policy_data, hdr.sender, &server, keys, &n_keys, &err) <= 0)
        return reject(a, BERTH_REJECT_UNKNOWN_KEY);
    pk = key_by_id(keys, n_keys, hdr.key_id);
    if (!pk)
        return reject(a, BERTH_REJECT_UNKNOWN_KEY);
    if (!fresh(a, hdr.timestamp_ns))
        return reject(a, BERTH_REJECT_STALE);
    if (berth_frame_verify(frame, len, pk) < 0)
        return reject(a, BERTH_REJECT_BAD_AUTH);
    p = frame + BERTH_FRAME_HEADER_LEN;
    plen = len - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN;
    mlen = ((size_t)p[WELCOME_MSG_LEN] << 8) | p[WELCOME_MSG_LEN + 1];
    if (mlen > WELCOME_MSG_MAX || plen != WELCOME_FIXED + mlen)
        return reject(a, BERTH_REJECT_MALFORMED);
    /* An authentic WELCOME for another (older) HELLO. */
    if (sodium_memcmp(p + WELCOME_HELLO_HASH, hello->hash, 32) != 0)
        return reject(a, BERTH_REJECT_REPLAYED);
    if (nonce_remember(a, hdr.key_id, hdr.counter) != 0)
        return reject(a, BERTH_REJECT_REPLAYED);

    code = ((uint32_t)p[WELCOME_CODE] << 24) | ((uint32_t)p[WELCOME_CODE + 1] << 16) |
           ((uint32_t)p[WELCOME_CODE + 2] << 8) | p[WELCOME_CODE + 3];
    memset(ret, 0, sizeof(*ret));
    ret->code = (int)code;
    if (code != CODE_OK) {
        size_t i;

        /* Text from the server: keep it printable. */
        for (i = 0; i < mlen && i < sizeof(ret->message) - 1; i++)
            ret->message[i] = (p[WELCOME_MSG + i] >= 0x20 && p[WELCOME_MSG + i] < 0x7f)
                                  ? (char)p[WELCOME_MSG + i]
                                  : '?';
        ret->message[i] = '\0';
        a->stats.accepted++;
        return BERTH_REJECT_NONE;
    }
    s = berth_xcalloc(1, sizeof(*s));
    memcpy(s->id, p + WELCOME_SESSION, BERTH_SESSION_ID_LEN);
    s->peer = server;
    s->initiator = true;
    s->created = s->last_rx = berth_now_mono_ns();
    if (berth_table_get(a->sessions, s->id) ||
        crypto_scalarmult(shared, hello->eph_sk, p + WELCOME_EPH) != 0) {
        free(s);
        return reject(a, BERTH_REJECT_MALFORMED);
    }
    session_derive(s, shared, hello->hash, p);
    sodium_memzero(shared, sizeof(shared));
    session_install(a, s);
    ret->session = s;
    a->stats.accepted++;
    return BERTH_REJECT_NONE;
}

/* ---- frames ---- */

size_t berth_auth_seal(berth_auth *a, berth_session *s, berth_channel ch, uint8_t *frame,
                       size_t payload_len)
{
    return berth_auth_seal_at(a, s, ch, frame, payload_len, auth_now(a));
}

size_t berth_auth_sign(berth_auth *a, berth_channel ch, const uint8_t recipient[BERTH_ID_LEN],
                       uint8_t *frame, size_t payload_len)
{
    return berth_auth_sign_at(a, ch, recipient, frame, payload_len, auth_now(a));
}

size_t berth_auth_seal_at(berth_auth *a, berth_session *s, berth_channel ch, uint8_t *frame,
                          size_t payload_len, int64_t timestamp_ns)
{
    berth_frame_header hdr = { .version = BERTH_FRAME_VERSION,
                               .kind = BERTH_FRAME_SEALED,
                               .channel = (uint8_t)ch,
                               .flags = s->initiator ? 0 : BERTH_FRAME_FLAG_FROM_RESPONDER };

    memcpy(hdr.recipient, s->peer.id, BERTH_ID_LEN);
    memcpy(hdr.sender, a->self.id, BERTH_ID_LEN);
    memcpy(hdr.key_id, s->id, BERTH_SESSION_ID_LEN);
    hdr.timestamp_ns = timestamp_ns;
    hdr.counter = ++s->tx_counter[ch];
    berth_frame_header_write(&hdr, frame);
    return berth_frame_seal(frame, payload_len, s->tx_key[ch], hdr.counter);
}

size_t berth_auth_sign_at(berth_auth *a, berth_channel ch, const uint8_t recipient[BERTH_ID_LEN],
                          uint8_t *frame, size_t payload_len, int64_t timestamp_ns)
{
    signed_header(a, BERTH_FRAME_SIGNED, ch, recipient, timestamp_ns, frame);
    return berth_frame_sign(frame, payload_len, a->key.sk);
}

static berth_reject open_sealed(berth_auth *a, const berth_expect *x, uint8_t *frame, size_t len,
                                berth_opened *ret)
{
    berth_session *s = berth_table_get(a->sessions, ret->hdr.key_id);
    uint8_t want_flags;
    berth_replay_verdict v;
    size_t plen;
    uint8_t ch = ret->hdr.channel;

    if (!s)
        return reject(a, BERTH_REJECT_UNKNOWN_KEY);
    want_flags = s->initiator ? BERTH_FRAME_FLAG_FROM_RESPONDER : 0;
    if (ret->hdr.flags != want_flags)
        return reject(a, BERTH_REJECT_UNEXPECTED);
    if (!fresh(a, ret->hdr.timestamp_ns))
        return reject(a, BERTH_REJECT_STALE);
    v = berth_replay_check(&s->rx_window[ch], ret->hdr.counter);
    if (berth_frame_unseal(frame, len, s->rx_key[ch], ret->hdr.counter, &plen) < 0)
        return reject(a, BERTH_REJECT_BAD_AUTH);
    /* Authentic from here on: the session's peer sent exactly this. */
    if (!berth_id_eq(ret->hdr.sender, s->peer.id) ||
        (x->sender && !berth_id_eq(x->sender, s->peer.id)))
        return reject(a, BERTH_REJECT_FORBIDDEN);
    if (v == BERTH_REPLAY_NEW)
        berth_replay_mark(&s->rx_window[ch], ret->hdr.counter);
    else if (x->duplicates_ok)
        ret->duplicate = true;
    else
        return reject(a, BERTH_REJECT_REPLAYED);
    s->last_rx = berth_now_mono_ns();
    ret->session = s;
    ret->peer = &s->peer;
    ret->payload = frame + BERTH_FRAME_HEADER_LEN;
    ret->payload_len = plen;
    if (!ret->duplicate)
        a->stats.accepted++;
    return BERTH_REJECT_NONE;
}

static berth_reject open_signed(berth_auth *a, const berth_expect *x, uint8_t *frame, size_t len,
                                berth_opened *ret)
{
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    _cleanup_error_ berth_error *err = NULL;
    size_t n_keys = 0;
    const uint8_t *pk;

    if (len < BERTH_FRAME_HEADER_LEN + BERTH_FRAME_SIG_LEN)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (x->sender && !berth_id_eq(x->sender, ret->hdr.sender))
        return reject(a, BERTH_REJECT_FORBIDDEN);
    if (a->policy->lookup(a->policy_data, ret->hdr.sender, &a->last_signer, keys, &n_keys, &err) <=
        0)
        return reject(a, BERTH_REJECT_UNKNOWN_KEY);
    pk = key_by_id(keys, n_keys, ret->hdr.key_id);
    if (!pk)
        return reject(a, BERTH_REJECT_UNKNOWN_KEY);
    if (!fresh(a, ret->hdr.timestamp_ns))
        return reject(a, BERTH_REJECT_STALE);
    if (berth_frame_verify(frame, len, pk) < 0)
        return reject(a, BERTH_REJECT_BAD_AUTH);
    /* Orders to every node come from a controller, never from a node. */
    if (a->last_signer.role != BERTH_ROLE_CONTROLLER)
        return reject(a, BERTH_REJECT_FORBIDDEN);
    if (nonce_remember(a, ret->hdr.key_id, ret->hdr.counter) != 0)
        return reject(a, BERTH_REJECT_REPLAYED);
    ret->peer = &a->last_signer;
    ret->payload = frame + BERTH_FRAME_HEADER_LEN;
    ret->payload_len = len - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN;
    a->stats.accepted++;
    return BERTH_REJECT_NONE;
}

berth_reject berth_auth_open(berth_auth *a, const berth_expect *x, uint8_t *frame, size_t len,
                             berth_opened *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (len > BERTH_FRAME_MAX)
        return reject(a, BERTH_REJECT_OVERSIZE);
    if (berth_frame_header_read(frame, len, &ret->hdr) < 0 ||
        ret->hdr.version != BERTH_FRAME_VERSION)
        return reject(a, BERTH_REJECT_MALFORMED);
    if (ret->hdr.kind != x->kind || ret->hdr.channel != x->channel)
        return reject(a, BERTH_REJECT_UNEXPECTED);
    if (!berth_id_eq(ret->hdr.recipient, a->self.id) &&
        !(x->kind == BERTH_FRAME_SIGNED && x->broadcast_ok &&
          berth_id_eq(ret->hdr.recipient, berth_id_broadcast)))
        return reject(a, BERTH_REJECT_WRONG_RECIPIENT);
    if (x->kind == BERTH_FRAME_SEALED)
        return open_sealed(a, x, frame, len, ret);
    if (x->kind == BERTH_FRAME_SIGNED)
        return open_signed(a, x, frame, len, ret);
    return reject(a, BERTH_REJECT_UNEXPECTED);
}
