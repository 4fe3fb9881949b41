/* Sliding replay windows and the nonce set. */
#include "replay.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "table.h"

#include "base/xalloc.h"

#define WORDS (BERTH_REPLAY_WINDOW / 64)

static int bit_get(const berth_replay_window *w, uint64_t c)
{
    uint64_t i = c % BERTH_REPLAY_WINDOW;

    return (int)((w->bits[i / 64] >> (i % 64)) & 1);
}

berth_replay_verdict berth_replay_check(const berth_replay_window *w, uint64_t counter)
{
    if (counter == 0)
        return BERTH_REPLAY_TOO_OLD;
    if (counter > w->top)
        return BERTH_REPLAY_NEW;
    if (w->top - counter >= BERTH_REPLAY_WINDOW)
        return BERTH_REPLAY_TOO_OLD;
    return bit_get(w, counter) ? BERTH_REPLAY_SEEN : BERTH_REPLAY_NEW;
}

void berth_replay_mark(berth_replay_window *w, uint64_t counter)
{
    uint64_t i;

    if (counter > w->top) {
        uint64_t shift = counter - w->top;

        /* Forget the counters that slide out of the window. Counted by
         * distance: a loop up to the counter itself would never end at
         * UINT64_MAX (a peer's counter, authentic or not, is its choice). */
        if (shift >= BERTH_REPLAY_WINDOW) {
            memset(w->bits, 0, sizeof(w->bits));
        } else {
            for (uint64_t k = 1; k <= shift; k++) {
                i = (w->top + k) % BERTH_REPLAY_WINDOW;
                w->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
            }
        }
        w->top = counter;
    }
    i = counter % BERTH_REPLAY_WINDOW;
    w->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* The set: a table for lookups plus a ring in insertion order. Every pair
 * gets the same lifetime, so expiries grow along the ring and the oldest is
 * always at its head. */
typedef struct nonce_entry {
    uint8_t key[16];
    int64_t expires;
} nonce_entry;

/* How many unexpired pairs one key id holds (per_key_max > 0 only). */
typedef struct key_count {
    size_t n;
} key_count;

struct berth_nonce_set {
    berth_table *table;
    nonce_entry *ring;
    size_t cap, head, len;
    size_t per_key_max;
    berth_table *per_key; /* key id -> key_count */
};

berth_nonce_set *berth_nonce_set_new(size_t capacity, size_t per_key_max)
{
    berth_nonce_set *s = berth_xcalloc(1, sizeof(*s));

    s->cap = capacity ? capacity : 1;
    s->ring = berth_xcalloc(s->cap, sizeof(*s->ring));
    s->table = berth_table_new(16);
    s->per_key_max = per_key_max;
    if (per_key_max)
        s->per_key = berth_table_new(8);
    return s;
}

static bool free_count(void *value, const void *key, void *data)
{
    (void)key;
    (void)data;
    free(value);
    return true;
}

void berth_nonce_set_free(berth_nonce_set *s)
{
    if (!s)
        return;
    berth_table_free(s->table);
    if (s->per_key) {
        berth_table_sweep(s->per_key, free_count, NULL);
        berth_table_free(s->per_key);
    }
    free(s->ring);
    free(s);
}

size_t berth_nonce_set_size(const berth_nonce_set *s)
{
    return s->len;
}

static void count_drop(berth_nonce_set *s, const uint8_t key_id[8])
{
    key_count *c = s->per_key ? berth_table_get(s->per_key, key_id) : NULL;

    if (c && --c->n == 0)
        free(berth_table_remove(s->per_key, key_id));
}

int berth_nonce_set_add(berth_nonce_set *s, const uint8_t key_id[8], uint64_t nonce,
                        int64_t expires, int64_t now)
{
    uint8_t key[16];
    nonce_entry *e;

    key_count *c = NULL;

    while (s->len > 0 && s->ring[s->head].expires <= now) {
        berth_table_remove(s->table, s->ring[s->head].key);
        count_drop(s, s->ring[s->head].key);
        s->head = (s->head + 1) % s->cap;
        s->len--;
    }
    memcpy(key, key_id, 8);
    berth_put_be64(key + 8, nonce);
    if (berth_table_get(s->table, key))
        return 1;
    if (s->len == s->cap)
        return -1;
    if (s->per_key) {
        c = berth_table_get(s->per_key, key_id);
        if (c && c->n >= s->per_key_max)
            return -2;
        if (!c) {
            c = berth_xcalloc(1, sizeof(*c));
            berth_table_put(s->per_key, key_id, c);
        }
        c->n++;
    }
    e = &s->ring[(s->head + s->len) % s->cap];
    memcpy(e->key, key, sizeof(key));
    e->expires = expires;
    berth_table_put(s->table, e->key, e);
    s->len++;
    return 0;
}
