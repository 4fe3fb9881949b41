/* A hash table with fixed-length binary keys (up to 32 bytes) and pointer
 * values, for sessions, reply caches and replay sets. Keys are hashed with
 * SipHash under a random per-table key, so peers choosing keys (ids,
 * counters) cannot flood one bucket. Internal to lib/rpc. */
#ifndef BERTH_RPC_TABLE_H
#define BERTH_RPC_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define BERTH_TABLE_KEY_MAX 32

typedef struct berth_table berth_table;

/* key_len must be 1..BERTH_TABLE_KEY_MAX. */
berth_table *berth_table_new(size_t key_len);
/* Frees the table, not the values. NULL is fine. */
void berth_table_free(berth_table *t);

void *berth_table_get(const berth_table *t, const void *key);
/* Insert or replace. */
void berth_table_put(berth_table *t, const void *key, void *value);
/* Remove and return the value (NULL if absent). */
void *berth_table_remove(berth_table *t, const void *key);
size_t berth_table_size(const berth_table *t);

/* Call fn for every entry; when fn returns true the entry is removed
 * (fn may free the value first). fn must not change the table otherwise. */
void berth_table_sweep(berth_table *t, bool (*fn)(void *value, const void *key, void *data),
                       void *data);

#endif
