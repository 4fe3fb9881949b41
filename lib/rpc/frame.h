/* The authenticated frame every channel carries: a fixed header serialised
 * field by field (never a raw struct), then either an AEAD-sealed payload
 * or a signed one. Stateless; auth.c decides which keys and checks
 * freshness and replay.
 *
 *   offset size  field
 *    0      1    version (1)
 *    1      1    kind: 1 HELLO, 2 WELCOME, 3 SEALED, 4 SIGNED
 *    2      1    channel: 1 rpc, 2 events, 3 stream, 4 survey
 *    3      1    flags: bit 0 = sent by the session's responder (SEALED)
 *    4     16    recipient id (all zero: every node)
 *   20     16    sender id
 *   36      8    SEALED: session id; otherwise the signer's key id
 *   44      8    timestamp, Unix ns, big-endian (two's complement)
 *   52      8    counter, big-endian: SEALED, per session, channel and
 *                direction, from 1; otherwise a random nonce
 *   60      n    payload
 *   SEALED:      ciphertext of the payload + 16-byte Poly1305 tag;
 *                XChaCha20-Poly1305 (IETF), additional data = bytes 0..59,
 *                nonce = 16 zero bytes + the counter (big-endian)
 *   others:      payload in clear + 64-byte Ed25519 signature over
 *                bytes 0..60+n
 *
 * The recipient comes right after four constant bytes so that a SUB socket
 * can subscribe to exactly the frames addressed to it (events.proto). */
#ifndef BERTH_RPC_FRAME_H
#define BERTH_RPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "principal.h"

#define BERTH_FRAME_VERSION    1
#define BERTH_FRAME_HEADER_LEN 60
#define BERTH_FRAME_TAG_LEN    16
#define BERTH_FRAME_SIG_LEN    64
/* Room for whichever trailer a frame gets. */
#define BERTH_FRAME_TRAILER_MAX BERTH_FRAME_SIG_LEN
/* The protocol maximum: no channel sends or accepts a larger frame
 * (NN_RCVMAXSIZE), so a peer announcing 4 GiB costs nothing. */
#define BERTH_FRAME_MAX ((size_t)4 << 20)
/* The largest payload that fits in a frame. */
#define BERTH_PAYLOAD_MAX (BERTH_FRAME_MAX - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_TRAILER_MAX)
/* Frames whose timestamp is further than this from the receiver's clock
 * are stale. */
#define BERTH_FRAME_MAX_SKEW_NS ((int64_t)120 * 1000000000)
#define BERTH_SESSION_ID_LEN    8

#define BERTH_FRAME_FLAG_FROM_RESPONDER 0x01

typedef enum berth_frame_kind {
    BERTH_FRAME_HELLO = 1,
    BERTH_FRAME_WELCOME = 2,
    BERTH_FRAME_SEALED = 3,
    BERTH_FRAME_SIGNED = 4,
    BERTH_FRAME_DISCOVER = 5,   /* who are you? (berthd join; unauthenticated) */
    BERTH_FRAME_DISCOVERED = 6, /* the server's principal and key, signed */
} berth_frame_kind;

typedef enum berth_channel {
    BERTH_CHANNEL_RPC = 1,
    BERTH_CHANNEL_EVENTS = 2,
    BERTH_CHANNEL_STREAM = 3,
    BERTH_CHANNEL_SURVEY = 4,
} berth_channel;
#define BERTH_CHANNEL_MAX 4

typedef struct berth_frame_header {
    uint8_t version;
    uint8_t kind;
    uint8_t channel;
    uint8_t flags;
    uint8_t recipient[BERTH_ID_LEN];
    uint8_t sender[BERTH_ID_LEN];
    uint8_t key_id[BERTH_KEYID_LEN]; /* session id for SEALED */
    int64_t timestamp_ns;
    uint64_t counter;
} berth_frame_header;

void berth_frame_header_write(const berth_frame_header *h, uint8_t out[BERTH_FRAME_HEADER_LEN]);
/* Parse the header of buf. -1 when buf is shorter than a header. Checks
 * nothing else: the version and everything else are the caller's. */
int berth_frame_header_read(const uint8_t *buf, size_t len, berth_frame_header *ret_h);

/* Seal in place: frame holds the header at 0 and plain_len payload bytes at
 * BERTH_FRAME_HEADER_LEN, with BERTH_FRAME_TAG_LEN spare bytes after them.
 * Returns the frame's total length. */
size_t berth_frame_seal(uint8_t *frame, size_t plain_len, const uint8_t key[32], uint64_t counter);
/* Verify and decrypt in place: on success the payload is at
 * frame + BERTH_FRAME_HEADER_LEN, *ret_len bytes. -1 when the tag does not
 * verify (tampered, or another key) or the frame is too short. */
int berth_frame_unseal(uint8_t *frame, size_t len, const uint8_t key[32], uint64_t counter,
                       size_t *ret_len);

/* Sign: append the signature after the payload (BERTH_FRAME_SIG_LEN spare
 * bytes needed). Returns the total length. */
size_t berth_frame_sign(uint8_t *frame, size_t payload_len, const uint8_t sk[BERTH_SECKEY_LEN]);
/* Verify a signed frame against pk: 0, or -1 when it does not verify or is
 * too short. The payload is frame + BERTH_FRAME_HEADER_LEN, len -
 * BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN bytes. */
int berth_frame_verify(const uint8_t *frame, size_t len, const uint8_t pk[BERTH_PUBKEY_LEN]);

/* Big-endian helpers for the explicit layouts here and in auth.c. */
static inline void berth_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t berth_get_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
