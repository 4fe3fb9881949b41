/* Authentication of every frame on every channel, before anything decodes
 * it. One berth_auth per process holds its identity (principal and Ed25519
 * key), the admission policy, the sessions it has with peers, the replay
 * state, and counters of what it dropped; all of the process's channel
 * objects share it. Single-threaded, like the loop it serves.
 *
 * Handshake (rpc channel, once per client and session lifetime):
 *   HELLO   client -> server, signed by the client's key: its role, name and
 *           public key, an ephemeral X25519 key, and optionally a join-token
 *           proof (enrollment) or the previous key's endorsement (rotation).
 *   WELCOME server -> client, signed by the server's key: the session id,
 *           an ephemeral X25519 key, the hash of the HELLO it answers, and a
 *           status (OK, or PERMISSION_DENIED with the reason, e.g. awaiting
 *           approval).
 *   Both sides derive per-channel, per-direction XChaCha20-Poly1305 keys
 *   from the X25519 secret and the transcript; every later frame of the
 *   session (rpc calls and replies, stream items, survey answers) is SEALED
 *   with them: ~1 us per KiB instead of a signature per frame.
 * Broadcast frames (events, survey questions) are SIGNED by the
 * controller's key, which every node pins.
 *
 * The handshake payloads, byte for byte (after the frame header of
 * frame.h, before its signature; multi-byte numbers big-endian):
 *   HELLO   role (1), name length n (1), name (n), Ed25519 public key (32),
 *           X25519 ephemeral public key (32), extensions (1: bit 0 join
 *           token, bit 1 rotation); with bit 0: token id (6) and proof (32)
 *           = BLAKE2b-256 keyed by the token secret over "berth-join-v1",
 *           sender id, public key, ephemeral key, timestamp (8); with bit 1:
 *           previous public key (32) and its Ed25519 signature (64) over
 *           "berth-rotate-v1", sender id, new public key. Header: kind 1,
 *           channel rpc, key id of the public key, sender id = the
 *           principal id of role and name, counter a random nonce.
 *   WELCOME session id (8, zero when refused), status code (4), X25519
 *           ephemeral public key (32, zero when refused), BLAKE2b-256 of the
 *           whole HELLO frame (32), message length m (2, <= 255), message.
 *   Keys: master = BLAKE2b-256 keyed by X25519(ephemerals) over
 *   "berth-session-v1", the HELLO hash, and the first 44 WELCOME payload
 *   bytes; the key of channel c in direction d (0 client to server, 1
 *   back) = crypto_kdf_derive_from_key(32, 2c + d, "berthses", master).
 *
 * A frame is accepted only if: it is no larger than BERTH_FRAME_MAX, its
 * header is well formed and of the kind and channel the socket takes, it is
 * addressed to us (or to every node, where allowed), it comes from a known
 * key or a live session, its tag or signature verifies, its timestamp is
 * within +-2 min of our clock, and its counter or nonce was not seen
 * before. Anything else is dropped and counted by reason. */
#ifndef BERTH_RPC_AUTH_H
#define BERTH_RPC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "frame.h"
#include "keys.h"
#include "policy.h"
#include "principal.h"

typedef struct berth_auth berth_auth;
typedef struct berth_session berth_session;

/* Why a frame was dropped. */
typedef enum berth_reject {
    BERTH_REJECT_NONE = 0,
    BERTH_REJECT_OVERSIZE,        /* larger than BERTH_FRAME_MAX */
    BERTH_REJECT_MALFORMED,       /* short, unknown version, inconsistent fields, not a frame */
    BERTH_REJECT_UNEXPECTED,      /* a kind or channel this socket does not take */
    BERTH_REJECT_WRONG_RECIPIENT, /* addressed to someone else */
    BERTH_REJECT_UNKNOWN_KEY,     /* signer's key or session unknown */
    BERTH_REJECT_BAD_AUTH,        /* tag or signature does not verify: tampered or wrong key */
    BERTH_REJECT_STALE,           /* timestamp outside +-2 min */
    BERTH_REJECT_REPLAYED,        /* counter or nonce seen before */
    BERTH_REJECT_FORBIDDEN,       /* authentic, but the sender may not send this */
    BERTH_REJECT_NOT_ADMITTED,    /* a HELLO from a key the policy does not admit */
    BERTH_REJECT_THROTTLED,       /* a HELLO beyond the budget for keys not admitted yet, or
                                     beyond its key's share of the HELLO memory */
    BERTH_REJECT_COUNT
} berth_reject;

/* "oversize", "malformed", ... for logs and tests. */
const char *berth_reject_name(berth_reject r);

typedef struct berth_auth_stats {
    uint64_t accepted;                     /* frames that passed */
    uint64_t rejected[BERTH_REJECT_COUNT]; /* frames dropped, by reason */
    /* Protobuf decodes of authenticated payloads: the one place payloads
     * are decoded counts here (berth_envelope_decode), so tests can prove
     * a rejected frame never reached the decoder. */
    uint64_t decoded;
    uint64_t sessions_made;       /* handshakes completed, either side */
    uint64_t keys_enrolled;       /* by join token */
    uint64_t keys_rotated;        /* by endorsement */
    uint64_t approvals_requested; /* unknown node keys recorded for approval */
    /* State held now (filled in by berth_auth_stats_of): sessions, and the
     * nonces remembered of signed frames and of accepted HELLOs. */
    uint64_t sessions, nonces, hello_nonces;
} berth_auth_stats;

typedef struct berth_auth_config {
    berth_principal self;
    berth_keypair key;
    /* While rotating our own key: the key being replaced, which vouches for
     * the new one in every HELLO until the peers accept the new one. */
    bool has_previous_key;
    berth_keypair previous_key;
    /* Who exists and which keys they sign with (required). */
    const berth_policy_ops *policy;
    void *policy_data;
    /* Most sessions kept at once (0 = 16384); beyond, the least recently
     * used accepted session is dropped. */
    size_t max_sessions;
    /* Nonces of signed frames remembered at once, each for as long as its
     * frame could pass the timestamp check (0 = 65536, a 1.5 MiB ring).
     * When all are taken, further signed frames are dropped as replays
     * until the oldest expire: never forgotten early. */
    size_t max_nonces;
    /* HELLOs per second (and at once) whose key is not admitted yet that may
     * cost a signature check and a signed refusal (0 = 20): join tokens,
     * approval requests, rotations, strangers. Beyond, they are dropped
     * unanswered (THROTTLED) after a table lookup, and admitted keys are
     * not affected. */
    unsigned hello_budget_per_sec;
    /* HELLOs one admitted key may make within their lifetime (4 min; 0 =
     * 4096, 17 a second): what any one key may take of the HELLO nonce
     * memory. Beyond, its HELLOs are refused, saying why
     * (RESOURCE_EXHAUSTED). */
    size_t hellos_per_key;
    /* Sessions we initiated are renewed after this; accepted sessions idle
     * for twice as long are dropped (0 = 1 hour). */
    int64_t session_lifetime_ns;
} berth_auth_config;

/* The configuration is copied (the secret keys too; the copies are wiped
 * on free). */
int berth_auth_new(const berth_auth_config *cfg, berth_auth **ret_auth, berth_error **err);
void berth_auth_free(berth_auth *a);

const berth_principal *berth_auth_self(const berth_auth *a);
/* The live counters. */
berth_auth_stats *berth_auth_stats_of(berth_auth *a);
/* Count a frame dropped by a caller's own check (e.g. a duplicate the rpc
 * server has no answer for is a replay after all). */
void berth_auth_count_reject(berth_auth *a, berth_reject r);
/* Sum of rejected[]. */
uint64_t berth_auth_rejected_total(const berth_auth *a);
/* What was dropped since the counters were last (*last, updated): how many
 * frames, and by reason into buf ("12 frames dropped: 10 throttled, 2
 * bad-auth"). 0 when nothing moved (buf untouched). For the daemons' log
 * line; the counters themselves are in berth_auth_stats_of. */
uint64_t berth_auth_drops_since(berth_auth *a, uint64_t last[BERTH_REJECT_COUNT], char *buf,
                                size_t size);

/* Replace our signing key (rotation): new frames are signed with key; the
 * old one, if keep_previous, vouches for it in HELLOs. */
void berth_auth_set_key(berth_auth *a, const berth_keypair *key, bool keep_previous);

/* ---- handshake, client side ---- */

typedef struct berth_hello berth_hello;

/* Start a handshake with server: a new HELLO frame in *ret_frame (malloc'd,
 * the caller frees) and the state to finish it. token, if not NULL, is
 * presented for enrollment. */
void berth_auth_hello(berth_auth *a, const berth_principal *server, const berth_join_token *token,
                      berth_hello **ret_hello, uint8_t **ret_frame, size_t *ret_len);
void berth_hello_free(berth_hello *h);

typedef struct berth_welcome {
    int code;          /* a Code: OK when a session was made */
    char message[256]; /* the server's reason when not OK */
    berth_session *session;
} berth_welcome;

/* Check the server's answer to hello. NONE: *ret says how it went (a
 * refusal is an answer too). Anything else: the frame is not an answer to
 * this hello and was dropped. */
berth_reject berth_auth_hello_finish(berth_auth *a, const berth_hello *hello, uint8_t *frame,
                                     size_t len, berth_welcome *ret);

/* ---- handshake, server side ---- */

/* Answer a HELLO. NONE: a session was made, *ret_reply is the WELCOME to
 * send back. NOT_ADMITTED: the key is not admitted; *ret_reply is a signed
 * refusal to send back (it tells the node why, e.g. awaiting approval).
 * Any other reason: no reply. *ret_reply is malloc'd, the caller frees. */
berth_reject berth_auth_accept(berth_auth *a, const uint8_t *frame, size_t len, uint8_t **ret_reply,
                               size_t *ret_reply_len);

/* ---- key discovery (berthd join) ----
 *
 * Before it knows the controller's key, a joining node asks for it and
 * checks what comes back against a fingerprint the operator gave it;
 * nothing secret is sent before that check.
 *   DISCOVER   client -> server, unsigned: a frame header (kind 5, channel
 *              rpc, recipient and sender zero, key id zero, the client's
 *              time, a random counter) and a 32-byte random challenge.
 *   DISCOVERED server -> client, signed by the server's key: the
 *              challenge (32), role (1), name length n (1), name (n), the
 *              Ed25519 public key (32). Header: kind 6, flag
 *              FROM_RESPONDER, sender the server's principal id, key id of
 *              that key, recipient zero.
 * A DISCOVER costs the server a signature: it is answered within the
 * budget of HELLOs from keys not admitted yet (THROTTLED beyond). */
#define BERTH_DISCOVER_CHALLENGE_LEN 32
#define BERTH_DISCOVER_LEN           (BERTH_FRAME_HEADER_LEN + BERTH_DISCOVER_CHALLENGE_LEN)

/* A DISCOVER frame (BERTH_DISCOVER_LEN bytes into frame) with a fresh
 * challenge, which ret_challenge keeps for the answer's check. */
void berth_discover_request(uint8_t frame[BERTH_DISCOVER_LEN],
                            uint8_t ret_challenge[BERTH_DISCOVER_CHALLENGE_LEN]);
/* Check a DISCOVERED answer to challenge: signed by the key it carries,
 * from the principal it names. 0 and the principal and key, or -1 (EBADMSG)
 * saying what is wrong. The key's fingerprint is the caller's to check. */
int berth_discover_answer(const uint8_t *frame, size_t len,
                          const uint8_t challenge[BERTH_DISCOVER_CHALLENGE_LEN],
                          berth_principal *ret_principal, uint8_t ret_pk[BERTH_PUBKEY_LEN],
                          berth_error **err);
/* Server side: answer a DISCOVER. NONE: *ret_reply (malloc'd) is the
 * DISCOVERED frame to send back; anything else: no reply. */
berth_reject berth_auth_discover(berth_auth *a, const uint8_t *frame, size_t len,
                                 uint8_t **ret_reply, size_t *ret_reply_len);

/* ---- frames ---- */

typedef struct berth_expect {
    berth_channel channel;
    berth_frame_kind kind; /* BERTH_FRAME_SEALED or BERTH_FRAME_SIGNED */
    /* Only from this principal id (NULL: any session or known signer). */
    const uint8_t *sender;
    /* SIGNED: also take frames addressed to every node. */
    bool broadcast_ok;
    /* SEALED: an authentic frame whose counter was seen before is handed
     * back marked duplicate instead of being dropped as replayed (the rpc
     * server answers it from its reply cache, never executing it, or counts
     * it as a replay with berth_auth_count_reject). Not counted accepted. */
    bool duplicates_ok;
} berth_expect;

typedef struct berth_opened {
    berth_frame_header hdr;
    /* The authenticated sender; valid until the next call into the auth
     * context (copy it to keep it). */
    const berth_principal *peer;
    berth_session *session; /* SEALED */
    bool duplicate;
    /* The plaintext, inside the caller's frame buffer. */
    uint8_t *payload;
    size_t payload_len;
} berth_opened;

/* Authenticate a received frame as x says, decrypting SEALED frames in
 * place. NONE and *ret filled, or the reason it was dropped (counted). */
berth_reject berth_auth_open(berth_auth *a, const berth_expect *x, uint8_t *frame, size_t len,
                             berth_opened *ret);

/* A buffer for a frame with payload_len payload bytes at
 * BERTH_FRAME_HEADER_LEN and room for any trailer. NULL when payload_len is
 * above BERTH_PAYLOAD_MAX. */
uint8_t *berth_frame_buffer(size_t payload_len);

/* Seal the payload_len bytes at frame + BERTH_FRAME_HEADER_LEN for s's
 * peer on channel ch (header written here). Returns the frame length. */
size_t berth_auth_seal(berth_auth *a, berth_session *s, berth_channel ch, uint8_t *frame,
                       size_t payload_len);
/* Sign the payload for recipient (berth_id_broadcast: every node). */
size_t berth_auth_sign(berth_auth *a, berth_channel ch, const uint8_t recipient[BERTH_ID_LEN],
                       uint8_t *frame, size_t payload_len);

/* ---- sessions ---- */

berth_session *berth_auth_session(berth_auth *a, const uint8_t id[BERTH_SESSION_ID_LEN]);
/* The newest session we initiated with peer that is younger than the
 * session lifetime, or NULL (time for a handshake). */
berth_session *berth_auth_session_with(berth_auth *a, const uint8_t peer_id[BERTH_ID_LEN]);
/* The newest session we initiated with peer, however old: for sending on
 * channels that cannot handshake themselves (stream, survey answers); the
 * peer keeps a session while it is in use. */
berth_session *berth_auth_session_latest(berth_auth *a, const uint8_t peer_id[BERTH_ID_LEN]);
const berth_principal *berth_session_peer(const berth_session *s);
const uint8_t *berth_session_id(const berth_session *s);
/* When a frame last arrived under s (monotonic ns; its creation before). */
int64_t berth_session_last_rx(const berth_session *s);
/* Forget s (e.g. the peer stopped answering: it may have lost it). */
void berth_auth_session_drop(berth_auth *a, berth_session *s);
size_t berth_auth_session_count(const berth_auth *a);

#endif
