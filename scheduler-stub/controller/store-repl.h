/* The etcd backend's replication (store.h tells the model): the working
 * copy's changes to etcd at each commit, etcd's changes (the watch) into
 * the working copy, the election and its lease. Internal to store.c, which
 * owns the database and calls these at open, commit, rollback and sync. */
#ifndef BERTH_CONTROLLER_STORE_REPL_H
#define BERTH_CONTROLLER_STORE_REPL_H

#include <sqlite3.h>

#include "store.h"

typedef struct store_repl store_repl;

/* db has its schema (version schema) and no rows: fill it from etcd and
 * start the watch. */
int store_repl_open(sqlite3 *db, const berth_store_etcd_config *cfg, int schema, store_repl **ret,
                    berth_error **err);
void store_repl_free(store_repl *r);

/* Inside the outermost local transaction, before its COMMIT: write what it
 * changed as one etcd transaction. On failure the caller rolls the local
 * one back (and calls store_repl_discard). EPERM: not the leader (the role
 * is LOST when a fence refused it). */
int store_repl_commit(store_repl *r, berth_error **err);
/* Forget what the rolled back transaction changed. */
void store_repl_discard(store_repl *r);
/* etcd took a transaction the copy could not commit: the copy lacks what
 * etcd holds, and the watch skips it; this member stops leading. */
void store_repl_failed(store_repl *r, const char *why);

int store_repl_fd(const store_repl *r);
int store_repl_sync(store_repl *r, berth_error **err);
berth_store_role store_repl_role(const store_repl *r);
int store_repl_campaign(store_repl *r, const char *name, const char *rpc, int64_t ttl_s,
                        berth_error **err);
void store_repl_resign(store_repl *r);
size_t store_repl_members(const store_repl *r, berth_store_member *ret, size_t cap);
size_t store_repl_health(store_repl *r, berth_etcd_status *ret, const char **ret_endpoints);

#endif
