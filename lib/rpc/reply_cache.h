/* The rpc server's memory of answered calls, so a duplicate request (a
 * nanomsg REQ resend, or a client's retry of the same call id) gets the
 * same answer and is never executed twice. Keyed by (peer, call id); also
 * findable by the (session, counter) of the frame that brought the call,
 * which is all a byte-identical resend shows before it is decoded. Bounded
 * in entries and time; calls still executing are never evicted. Internal
 * to lib/rpc. */
#ifndef BERTH_RPC_REPLY_CACHE_H
#define BERTH_RPC_REPLY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

typedef struct berth_reply_cache berth_reply_cache;
typedef struct berth_reply_entry berth_reply_entry;

berth_reply_cache *berth_reply_cache_new(size_t max_entries, int64_t ttl_ns);
void berth_reply_cache_free(berth_reply_cache *c);

berth_reply_entry *berth_reply_cache_find_call(berth_reply_cache *c,
                                               const uint8_t peer[BERTH_ID_LEN], uint64_t call_id);
berth_reply_entry *berth_reply_cache_find_frame(berth_reply_cache *c,
                                                const uint8_t session[BERTH_SESSION_ID_LEN],
                                                uint64_t counter);

/* A call that is executing: owner is the caller's call object. Evicts
 * expired and, when full, the oldest answered entries. */
berth_reply_entry *berth_reply_cache_add(berth_reply_cache *c, const uint8_t peer[BERTH_ID_LEN],
                                         uint64_t call_id,
                                         const uint8_t session[BERTH_SESSION_ID_LEN],
                                         uint64_t counter, void *owner);
/* The call was answered with reply (copied): from now on the entry holds
 * the answer. */
void berth_reply_cache_complete(berth_reply_cache *c, berth_reply_entry *e, const uint8_t *reply,
                                size_t len);
/* Forget an entry (a call that must not be remembered). */
void berth_reply_cache_drop(berth_reply_cache *c, berth_reply_entry *e);

/* Remember that the answer just went out by route hdr (nanomsg's header,
 * which names the connection). */
void berth_reply_entry_sent(berth_reply_entry *e, const void *hdr, size_t hdr_len, int64_t now);
/* Whether the answer went out by the same route less than gap ago: a
 * duplicate that crossed the answer in flight, not one whose answer was
 * lost. Answering it again would hand the caller two answers (which
 * nanomsg 1.1's REQ leaks). */
bool berth_reply_entry_just_sent(const berth_reply_entry *e, const void *hdr, size_t hdr_len,
                                 int64_t now, int64_t gap);

/* The executing call (NULL once answered). */
void *berth_reply_entry_owner(const berth_reply_entry *e);
/* The answer (NULL while executing). */
const uint8_t *berth_reply_entry_reply(const berth_reply_entry *e, size_t *ret_len);
size_t berth_reply_cache_size(const berth_reply_cache *c);

#endif
