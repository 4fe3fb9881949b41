/* Answered calls by (peer, call id) and (session, counter). */
#include "reply_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "table.h"

#define CALL_KEY_LEN  (BERTH_ID_LEN + 8)
#define FRAME_KEY_LEN (BERTH_SESSION_ID_LEN + 8)

struct berth_reply_entry {
    uint8_t call_key[CALL_KEY_LEN];
    uint8_t frame_key[FRAME_KEY_LEN];
    void *owner;
    uint8_t *reply;
    size_t reply_len;
    int64_t expires;
    /* the last route the answer took, and when */
    uint8_t *sent_hdr;
    size_t sent_hdr_len;
    int64_t sent_at;
    /* answered entries, oldest first */
    berth_reply_entry *prev, *next;
};

struct berth_reply_cache {
    berth_table *by_call, *by_frame;
    size_t max;
    int64_t ttl;
    berth_reply_entry *oldest, *newest;
};

static void call_key(uint8_t key[CALL_KEY_LEN], const uint8_t peer[BERTH_ID_LEN], uint64_t id)
{
    memcpy(key, peer, BERTH_ID_LEN);
    berth_put_be64(key + BERTH_ID_LEN, id);
}

static void frame_key(uint8_t key[FRAME_KEY_LEN], const uint8_t session[BERTH_SESSION_ID_LEN],
                      uint64_t counter)
{
    memcpy(key, session, BERTH_SESSION_ID_LEN);
    berth_put_be64(key + BERTH_SESSION_ID_LEN, counter);
}

berth_reply_cache *berth_reply_cache_new(size_t max_entries, int64_t ttl_ns)
{
    berth_reply_cache *c = berth_xcalloc(1, sizeof(*c));

    c->max = max_entries;
    c->ttl = ttl_ns;
    c->by_call = berth_table_new(CALL_KEY_LEN);
    c->by_frame = berth_table_new(FRAME_KEY_LEN);
    return c;
}

static bool free_entry_cb(void *value, const void *key, void *data)
{
    berth_reply_entry *e = value;

    (void)key;
    (void)data;
    free(e->reply);
    free(e->sent_hdr);
    free(e);
    return true;
}

void berth_reply_cache_free(berth_reply_cache *c)
{
    if (!c)
        return;
    if (c->by_call)
        berth_table_sweep(c->by_call, free_entry_cb, NULL);
    berth_table_free(c->by_call);
    berth_table_free(c->by_frame);
    free(c);
}

static void unlink_answered(berth_reply_cache *c, berth_reply_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else if (c->oldest == e)
        c->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else if (c->newest == e)
        c->newest = e->prev;
    e->prev = e->next = NULL;
}

void berth_reply_cache_drop(berth_reply_cache *c, berth_reply_entry *e)
{
    unlink_answered(c, e);
    berth_table_remove(c->by_call, e->call_key);
    if (berth_table_get(c->by_frame, e->frame_key) == e)
        berth_table_remove(c->by_frame, e->frame_key);
    free(e->reply);
    free(e->sent_hdr);
    free(e);
}

static void evict(berth_reply_cache *c, int64_t now)
{
    while (c->oldest && (c->oldest->expires <= now || berth_table_size(c->by_call) >= c->max))
        berth_reply_cache_drop(c, c->oldest);
}

berth_reply_entry *berth_reply_cache_find_call(berth_reply_cache *c,
                                               const uint8_t peer[BERTH_ID_LEN], uint64_t call_id)
{
    uint8_t key[CALL_KEY_LEN];
    berth_reply_entry *e;

    call_key(key, peer, call_id);
    e = berth_table_get(c->by_call, key);
    if (e && !e->owner && e->expires <= berth_now_mono_ns()) {
        berth_reply_cache_drop(c, e);
        return NULL;
    }
    return e;
}

berth_reply_entry *berth_reply_cache_find_frame(berth_reply_cache *c,
                                                const uint8_t session[BERTH_SESSION_ID_LEN],
                                                uint64_t counter)
{
    uint8_t key[FRAME_KEY_LEN];
    berth_reply_entry *e;

    frame_key(key, session, counter);
    e = berth_table_get(c->by_frame, key);
    if (e && !e->owner && e->expires <= berth_now_mono_ns()) {
        berth_reply_cache_drop(c, e);
        return NULL;
    }
    return e;
}

berth_reply_entry *berth_reply_cache_add(berth_reply_cache *c, const uint8_t peer[BERTH_ID_LEN],
                                         uint64_t call_id,
                                         const uint8_t session[BERTH_SESSION_ID_LEN],
                                         uint64_t counter, void *owner)
{
    berth_reply_entry *e;

    evict(c, berth_now_mono_ns());
    e = berth_xcalloc(1, sizeof(*e));
    call_key(e->call_key, peer, call_id);
    frame_key(e->frame_key, session, counter);
    e->owner = owner;
    berth_table_put(c->by_call, e->call_key, e);
    berth_table_put(c->by_frame, e->frame_key, e);
    return e;
}

void berth_reply_cache_complete(berth_reply_cache *c, berth_reply_entry *e, const uint8_t *reply,
                                size_t len)
{
    e->reply = berth_xmalloc(len);
    memcpy(e->reply, reply, len);
    e->reply_len = len;
    e->owner = NULL;
    e->expires = berth_now_mono_ns() + c->ttl;
    e->prev = c->newest;
    if (c->newest)
        c->newest->next = e;
    else
        c->oldest = e;
    c->newest = e;
}

void berth_reply_entry_sent(berth_reply_entry *e, const void *hdr, size_t hdr_len, int64_t now)
{
    uint8_t *h = berth_xmalloc(hdr_len);

    memcpy(h, hdr, hdr_len);
    free(e->sent_hdr);
    e->sent_hdr = h;
    e->sent_hdr_len = hdr_len;
    e->sent_at = now;
}

bool berth_reply_entry_just_sent(const berth_reply_entry *e, const void *hdr, size_t hdr_len,
                                 int64_t now, int64_t gap)
{
    return e->sent_hdr && e->sent_hdr_len == hdr_len && memcmp(e->sent_hdr, hdr, hdr_len) == 0 &&
           now - e->sent_at < gap;
}

void *berth_reply_entry_owner(const berth_reply_entry *e)
{
    return e->owner;
}

const uint8_t *berth_reply_entry_reply(const berth_reply_entry *e, size_t *ret_len)
{
    if (e->owner)
        return NULL;
    *ret_len = e->reply_len;
    return e->reply;
}

size_t berth_reply_cache_size(const berth_reply_cache *c)
{
    return berth_table_size(c->by_call);
}
