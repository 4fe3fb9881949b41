/* Chained hash table keyed by fixed-length byte strings. */
#include "table.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

typedef struct table_node {
    struct table_node *next;
    void *value;
    uint8_t key[];
} table_node;

struct berth_table {
    size_t key_len;
    size_t len;
    size_t nbuckets; /* power of two */
    table_node **buckets;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

berth_table *berth_table_new(size_t key_len)
{
    berth_table *t;

    if (key_len == 0 || key_len > BERTH_TABLE_KEY_MAX)
        abort(); /* a bug in the caller */
    t = berth_xcalloc(1, sizeof(*t));
    t->key_len = key_len;
    t->nbuckets = 16;
    t->buckets = berth_xcalloc(t->nbuckets, sizeof(*t->buckets));
    randombytes_buf(t->hash_key, sizeof(t->hash_key));
    return t;
}

void berth_table_free(berth_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        table_node *n = t->buckets[i];

        while (n) {
            table_node *next = n->next;

            free(n);
            n = next;
        }
    }
    free(t->buckets);
    free(t);
}

static size_t table_bucket(const berth_table *t, const void *key, size_t nbuckets)
{
    uint64_t h;

    crypto_shorthash((uint8_t *)&h, key, t->key_len, t->hash_key);
    return (size_t)(h & (nbuckets - 1));
}

static table_node **table_find(const berth_table *t, const void *key)
{
    table_node **p = &t->buckets[table_bucket(t, key, t->nbuckets)];

    while (*p && memcmp((*p)->key, key, t->key_len) != 0)
        p = &(*p)->next;
    return p;
}

void *berth_table_get(const berth_table *t, const void *key)
{
    table_node *n = *table_find(t, key);

    return n ? n->value : NULL;
}

static void table_grow(berth_table *t)
{
    size_t nb = t->nbuckets * 2;
    table_node **b = berth_xcalloc(nb, sizeof(*b));

    for (size_t i = 0; i < t->nbuckets; i++) {
        table_node *n = t->buckets[i];

        while (n) {
            table_node *next = n->next;
            size_t j = table_bucket(t, n->key, nb);

            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void berth_table_put(berth_table *t, const void *key, void *value)
{
    table_node **p = table_find(t, key), *n;

    if (*p) {
        (*p)->value = value;
        return;
    }
    n = berth_xmalloc(sizeof(*n) + t->key_len);
    memcpy(n->key, key, t->key_len);
    n->value = value;
    n->next = NULL;
    *p = n;
    if (++t->len > t->nbuckets)
        table_grow(t);
}

void *berth_table_remove(berth_table *t, const void *key)
{
    table_node **p = table_find(t, key), *n = *p;
    void *value;

    if (!n)
        return NULL;
    *p = n->next;
    value = n->value;
    free(n);
    t->len--;
    return value;
}

size_t berth_table_size(const berth_table *t)
{
    return t->len;
}

void berth_table_sweep(berth_table *t, bool (*fn)(void *value, const void *key, void *data),
                       void *data)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        table_node **p = &t->buckets[i];

        while (*p) {
            table_node *n = *p;

            if (fn(n->value, n->key, data)) {
                *p = n->next;
                free(n);
                t->len--;
            } else {
                p = &n->next;
            }
        }
    }
}
