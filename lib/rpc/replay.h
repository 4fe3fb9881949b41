/* Replay protection.
 *
 * Sealed frames carry a counter per session, channel and direction: a
 * sliding window remembers the highest counter seen and which of the
 * BERTH_REPLAY_WINDOW below it were seen, tolerating reordering across the
 * several connections one client may use. Signed frames carry a random
 * nonce: a nonce set remembers (key id, nonce) for as long as a frame with
 * that nonce could still pass the timestamp check. Internal to lib/rpc. */
#ifndef BERTH_RPC_REPLAY_H
#define BERTH_RPC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_REPLAY_WINDOW 2048

typedef struct berth_replay_window {
    uint64_t top; /* highest counter accepted; 0 = none yet */
    uint64_t bits[BERTH_REPLAY_WINDOW / 64];
} berth_replay_window;

typedef enum berth_replay_verdict {
    BERTH_REPLAY_NEW,     /* never seen: accept, then mark */
    BERTH_REPLAY_SEEN,    /* seen before */
    BERTH_REPLAY_TOO_OLD, /* below the window (or 0): cannot tell, so never accept */
} berth_replay_verdict;

berth_replay_verdict berth_replay_check(const berth_replay_window *w, uint64_t counter);
/* Record counter as seen; call only after a NEW verdict and after the
 * frame authenticated (a forged frame must not move the window). */
void berth_replay_mark(berth_replay_window *w, uint64_t counter);

/* (key id, nonce) pairs with an expiry. */
typedef struct berth_nonce_set berth_nonce_set;

/* capacity: most pairs remembered at once; per_key_max (0 = no limit): most
 * pairs of any one key id, so that one key cannot fill the set for all. */
berth_nonce_set *berth_nonce_set_new(size_t capacity, size_t per_key_max);
void berth_nonce_set_free(berth_nonce_set *s);
/* Record the pair, to be forgotten at expires (monotonic ns). Returns 0 when
 * new, 1 when present (a replay), -1 when the set is full of unexpired
 * pairs, -2 when this key id holds per_key_max of them (in both cases the
 * frame must be dropped: never forget early). */
/* Pairs held now (expired ones may still be counted until the next add). */
size_t berth_nonce_set_size(const berth_nonce_set *s);
int berth_nonce_set_add(berth_nonce_set *s, const uint8_t key_id[8], uint64_t nonce,
                        int64_t expires, int64_t now);

#endif
