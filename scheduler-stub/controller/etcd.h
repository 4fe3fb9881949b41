/* A client of etcd's v3 API through its JSON gateway (POST /v3/...), on
 * libcurl and jansson: ranges, transactions, leases, a watch and the
 * cluster's health. Keys and values are bytes (base64 on the wire, as the
 * gateway takes them); revisions and lease ids are etcd's int64s.
 *
 * Blocking: every call but the watch is one HTTP exchange (an established
 * connection is kept), bounded by the configured timeout. One berth_etcd
 * serves one thread; a thread of its own makes its own (berth_etcd_new with
 * the same config).
 *
 * Several endpoints: a call that could not connect to one tries the next,
 * and the one that answered is kept for the next call. A call that failed
 * after its request may have reached etcd is not retried here: it fails
 * with EAGAIN ("outcome unknown"), and only the caller knows how to tell
 * (store-etcd.c reads its last-write marker back). */
#ifndef BERTH_CONTROLLER_ETCD_H
#define BERTH_CONTROLLER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_ETCD_ENDPOINTS_MAX 8

typedef struct berth_etcd_config {
    /* http://HOST:PORT or https://HOST:PORT (at least one) */
    const char *endpoints[BERTH_ETCD_ENDPOINTS_MAX];
    size_t n_endpoints;
    /* TLS: the CA that signed etcd's certificates, and a client
     * certificate and key when etcd asks for one (NULL: none). */
    const char *ca_file, *cert_file, *key_file;
    /* Each call's bound (0: 5000 ms). */
    int64_t timeout_ms;
} berth_etcd_config;

typedef struct berth_etcd berth_etcd;

/* cfg's strings are copied. Connects lazily (first call). */
int berth_etcd_new(const berth_etcd_config *cfg, berth_etcd **ret, berth_error **err);
void berth_etcd_free(berth_etcd *e);
/* No call made from now on outlasts mono_ns (CLOCK_MONOTONIC; 0: none):
 * one past it fails ETIMEDOUT unsent. A leader's writes are bounded by its
 * lease so. */
void berth_etcd_set_deadline(berth_etcd *e, int64_t mono_ns);
/* fn(data) is asked now and then while a call waits (about once a
 * second, more often while bytes move): true ends the call (another
 * thread stops). NULL: never. */
void berth_etcd_set_abort(berth_etcd *e, bool (*fn)(void *data), void *data);

/* One key-value as etcd holds it (pointers valid during a callback). */
typedef struct berth_etcd_kv {
    const uint8_t *key, *value;
    size_t key_len, value_len;
    int64_t create_revision, mod_revision, lease;
} berth_etcd_kv;

/* Every key in [key, range_end) (range_end NULL: key alone; "prefix" use
 * berth_etcd_prefix_end) at revision rev (0: the newest), in key order,
 * through fn (non-zero stops and is returned). *ret_rev: the revision read
 * at. */
int berth_etcd_range(berth_etcd *e, const void *key, size_t key_len, const void *range_end,
                     size_t end_len, int64_t rev, int (*fn)(void *data, const berth_etcd_kv *kv),
                     void *data, int64_t *ret_rev, berth_error **err);
/* The end of the range of every key starting with prefix: a new buffer
 * (prefix with its last byte below 0xff incremented) of *ret_len bytes. */
uint8_t *berth_etcd_prefix_end(const void *prefix, size_t len, size_t *ret_len);

/* A transaction's comparison: the key's create or mod revision equals
 * value (a create revision of 0: the key does not exist). */
typedef enum berth_etcd_target { BERTH_ETCD_CREATE, BERTH_ETCD_MOD } berth_etcd_target;
typedef struct berth_etcd_cmp {
    const void *key;
    size_t key_len;
    berth_etcd_target target;
    int64_t value;
} berth_etcd_cmp;

/* A transaction's operation: put (with a lease when lease != 0) or delete
 * (the key, or [key, range_end) when range_end is set). */
typedef struct berth_etcd_op {
    bool del;
    const void *key, *value, *range_end;
    size_t key_len, value_len, end_len;
    int64_t lease;
} berth_etcd_op;

/* If every comparison holds, every op, atomically: *ret_ok true and
 * *ret_rev the revision it made; else nothing (*ret_ok false). */
int berth_etcd_txn(berth_etcd *e, const berth_etcd_cmp *cmps, size_t n_cmps,
                   const berth_etcd_op *ops, size_t n_ops, bool *ret_ok, int64_t *ret_rev,
                   berth_error **err);

/* Leases: a new one of ttl_s seconds; one keep-alive (*ret_ttl: seconds
 * left, 0 when the lease is gone); revoke (deletes its keys). */
int berth_etcd_lease_grant(berth_etcd *e, int64_t ttl_s, int64_t *ret_id, berth_error **err);
int berth_etcd_lease_keepalive(berth_etcd *e, int64_t id, int64_t *ret_ttl, berth_error **err);
int berth_etcd_lease_revoke(berth_etcd *e, int64_t id, berth_error **err);

/* Drop history before rev (etcd keeps every revision until told). */
int berth_etcd_compact(berth_etcd *e, int64_t rev, berth_error **err);

/* One member's health, asked at endpoint i of the config. */
typedef struct berth_etcd_status {
    char version[32];
    uint64_t member_id, leader_id;
    int64_t db_size, revision, raft_term;
    char error[160]; /* "" when it answered */
} berth_etcd_status;
void berth_etcd_status_of(berth_etcd *e, size_t i, berth_etcd_status *ret);

/* ---- the watch ----
 *
 * A thread that follows [key, range_end) from a revision on and hands
 * each batch of changes to the loop thread: it writes to an eventfd the
 * loop polls (the caller's), and berth_etcd_watch_take gives what came. Broken streams
 * are reopened (the next endpoint after a failure) from the revision after
 * the last one delivered. */

typedef struct berth_etcd_event {
    bool del;
    uint8_t *key, *value;
    size_t key_len, value_len;
    int64_t create_revision, mod_revision, lease;
} berth_etcd_event;

typedef struct berth_etcd_watch berth_etcd_watch;

/* notify_fd: an eventfd (the caller's) that is written when there is
 * something to take. */
int berth_etcd_watch_start(const berth_etcd_config *cfg, const void *key, size_t key_len,
                           const void *range_end, size_t end_len, int64_t start_rev, int notify_fd,
                           berth_etcd_watch **ret, berth_error **err);
/* What came since the last take (a new array; free with
 * berth_etcd_events_free), in revision order, and the revision the watch
 * has seen up to (the header of its newest answer: every change at or
 * below it has been given). *ret_compacted: the history from the watch's
 * revision is gone (compacted): reload everything and start a new watch. */
void berth_etcd_watch_take(berth_etcd_watch *w, berth_etcd_event **ret, size_t *ret_n,
                           int64_t *ret_seen_rev, bool *ret_compacted);
void berth_etcd_events_free(berth_etcd_event *v, size_t n);
void berth_etcd_watch_stop(berth_etcd_watch *w);

#endif
