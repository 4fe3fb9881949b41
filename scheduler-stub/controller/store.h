/* The controller's durable state in SQLite: nodes and their keys, join
 * tokens, workloads, assignments with per-node generations, the latest
 * container statuses and a bounded event history.
 *
 * Durability: WAL journal with synchronous=FULL, so a committed transaction
 * survives a kill -9 and a power loss alike; the controller commits before
 * it answers, so nothing it acknowledged is ever lost. (NORMAL would survive
 * kill -9 but not a power cut, and the controller's writes are few: desired
 * state changes, node inventory, batched statuses.) Every call is
 * synchronous and runs on the loop's thread; statements are short and
 * indexed.
 *
 * Rows hold protobuf blobs for the structured parts (NodeInfo, Workload,
 * ContainerStatus), decoded with a size check on load: a corrupt row is an
 * error naming it, not a crash. */
#ifndef BERTH_CONTROLLER_STORE_H
#define BERTH_CONTROLLER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "metrics/prom.h"
#include "rpc/keys.h"
#include "rpc/principal.h"

typedef struct berth_store berth_store;

/* The event history keeps the newest this many. */
#define BERTH_STORE_EVENTS_MAX 1000

/* Open (create, with mode 0600) the database at path and bring its schema
 * up to date. */
int berth_store_open(const char *path, berth_store **ret_store, berth_error **err);
/* With etcd, a member campaigning resigns: its lease is revoked, and the
 * next member takes over at once rather than a lease later. */
void berth_store_close(berth_store *st);

/* ---- backup and restore ----
 *
 * A backup is an SQLite database of this schema, whichever the backend:
 * the file's pages copied while the controller serves (one read
 * transaction, so it is consistent), or etcd's rows at one revision. It
 * restores into either backend; a backup of an older schema is brought up
 * to date first. */

/* Write st's state to path (created 0600; an existing file is replaced
 * only when the backup is whole). *ret_rows: how many rows. */
int berth_store_backup(berth_store *st, const char *path, size_t *ret_rows, berth_error **err);
/* Replace st's state with the backup at path, in one transaction (with
 * etcd, one etcd transaction: st must lead). EEXIST when st holds a fleet
 * already (nodes, workloads or tokens) and !force; EPROTO when the backup's
 * schema is newer than this controller's. *ret_rows: how many rows. */
int berth_store_restore(berth_store *st, const char *path, bool force, size_t *ret_rows,
                        berth_error **err);

/* ---- the etcd backend ----
 *
 * Several controllers share one fleet through etcd. Each keeps the same
 * schema in an SQLite database in memory, its working copy, and every row
 * is one etcd key under the prefix ("<prefix>t/<table>/<primary key>", the
 * row as JSON): what a transaction changed locally (SQLite's session
 * extension records it) is written as one etcd transaction before the
 * local COMMIT, and a refused or failed one rolls the local one back. A
 * watch on the prefix applies what the leader writes to every other
 * member's copy, so a follower's view is warm.
 *
 * Writes are the leader's only. Members campaign with a lease
 * (berth_store_campaign): "<prefix>election/<lease>" holds each member's
 * name and address; the lowest creation revision leads. Every transaction
 * compares the leader's key creation revision (fencing: a deposed leader's
 * writes fail) and the last write's marker "<prefix>meta/lastwrite" (a
 * transaction whose answer was lost is told apart from one never made, so
 * none is applied twice). A new leader writes "<prefix>meta/leader" and
 * waits for its own write to come back through the watch: its copy then
 * holds everything written before (the barrier). */

#include "etcd.h"

typedef struct berth_store_etcd_config {
    berth_etcd_config etcd;
    const char *prefix; /* NULL: "/berth/" */
} berth_store_etcd_config;

/* Read the fleet's rows from etcd into a new working copy and follow the
 * prefix. EPROTO when etcd holds a newer schema than this controller's. */
int berth_store_open_etcd(const berth_store_etcd_config *cfg, berth_store **ret_store,
                          berth_error **err);
/* Readable when the watch or the lease has news: call berth_store_sync.
 * -1 for SQLite. */
int berth_store_fd(const berth_store *st);

typedef enum berth_store_role {
    BERTH_STORE_SOLE,     /* SQLite: the one controller */
    BERTH_STORE_FOLLOWER, /* etcd: another member leads (or none yet) */
    BERTH_STORE_TAKEOVER, /* elected; waiting for the barrier */
    BERTH_STORE_LEADER,   /* may write */
    BERTH_STORE_LOST,     /* the lease is gone or a write was fenced: stop */
} berth_store_role;

/* Apply what the watch brought, and move the role on (a follower whose
 * key is now the oldest writes the barrier; a barrier seen makes it the
 * leader; a lapsed lease makes it LOST). */
int berth_store_sync(berth_store *st, berth_error **err);
berth_store_role berth_store_role_of(const berth_store *st);
const char *berth_store_role_name(berth_store_role r);

/* Join the election as name, reachable at rpc: a lease of ttl_s seconds,
 * kept alive by a thread; the role moves on in berth_store_sync. */
int berth_store_campaign(berth_store *st, const char *name, const char *rpc, int64_t ttl_s,
                         berth_error **err);

/* The members campaigning, oldest first (the first leads). */
typedef struct berth_store_member {
    char name[BERTH_NAME_MAX + 1];
    char rpc[256];
    int64_t create_revision;
    bool self;
} berth_store_member;
size_t berth_store_members(const berth_store *st, berth_store_member *ret, size_t cap);

/* etcd's members' health, one per configured endpoint (ret has room for
 * BERTH_ETCD_ENDPOINTS_MAX); 0 for SQLite. */
size_t berth_store_health(berth_store *st, berth_etcd_status *ret, const char **ret_endpoints);

/* Transactions nest: the outermost begin starts one (BEGIN IMMEDIATE), the
 * matching commit commits it. A rollback at any depth makes the outermost
 * commit fail and roll everything back. */
int berth_store_begin(berth_store *st, berth_error **err);
int berth_store_commit(berth_store *st, berth_error **err);
void berth_store_rollback(berth_store *st);
/* How long each transaction's COMMIT took (its fsync), for /metrics. */
const berth_prom_histogram *berth_store_commit_seconds(const berth_store *st);
/* The last commit that held the caller (the loop) for longer than
 * BERTH_STORE_STALL_NS: when it ended (monotonic ns) and how long it took;
 * 0 and 0 when none did. Leases of nodes are not judged across it. */
#define BERTH_STORE_STALL_NS (200 * 1000 * 1000LL)
void berth_store_last_stall(const berth_store *st, int64_t *ret_end_ns, int64_t *ret_ns);

/* ---- nodes ---- */

typedef struct berth_store_node {
    char name[BERTH_NAME_MAX + 1];
    uint8_t id[BERTH_ID_LEN];
    NodePhase phase;
    /* Admitted keys, oldest first. */
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    size_t n_keys;
    /* A key awaiting an operator's approval. */
    bool has_pending;
    uint8_t pending_key[BERTH_PUBKEY_LEN];
    /* As last registered; NULL before. put reads it; get and load return a
     * new one the caller owns (node_info_free_unpacked). */
    NodeInfo *info;
    uint64_t generation, applied_generation;
    bool cordoned, drained;
    int64_t registered_ns, last_heartbeat_ns, phase_since_ns;
    char reason[128];
    char pod_cidr[32]; /* its pod range ("" none yet) */
} berth_store_node;

/* A node's taints: put replaces them (NULL or none deletes them); get
 * returns 1 and a new list (taint_list_free_unpacked) when it has some, 0
 * when not. Deleting the node deletes them. */
int berth_store_taints_put(berth_store *st, const char *node, const TaintList *t,
                           berth_error **err);
int berth_store_taints_get(berth_store *st, const char *node, TaintList **ret, berth_error **err);

/* Insert or replace the node called n->name. */
int berth_store_node_put(berth_store *st, const berth_store_node *n, berth_error **err);
/* 1 and *ret filled when found, 0 when not. */
int berth_store_node_get(berth_store *st, const char *name, berth_store_node *ret,
                         berth_error **err);
int berth_store_node_get_by_id(berth_store *st, const uint8_t id[BERTH_ID_LEN],
                               berth_store_node *ret, berth_error **err);
/* The node, its assignments and statuses. 0 also when absent. */
int berth_store_node_delete(berth_store *st, const char *name, berth_error **err);
/* fn for every node by name; fn owns n->info. A non-zero return stops and
 * is returned. */
int berth_store_nodes_load(berth_store *st, int (*fn)(void *data, berth_store_node *n), void *data,
                           berth_error **err);
/* How many keys await approval. */
int berth_store_pending_count(berth_store *st, size_t *ret_count, berth_error **err);
/* The node whose key has awaited approval longest among those that have no
 * admitted key: 1 and its name in ret_name, 0 when there is none. */
int berth_store_pending_oldest(berth_store *st, char *ret_name, size_t size, berth_error **err);

/* ---- join tokens ---- */

/* sealed: what verifies the token (the controller seals the secret under
 * its own key; the store never sees the secret in the clear). */
int berth_store_token_put(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN],
                          const uint8_t *sealed, size_t sealed_len, int64_t expires_ns,
                          const char *description, int64_t created_ns, uint32_t uses,
                          berth_error **err);
/* A live token (uses left, not expired at now_ns): 1 and its sealed secret
 * in ret (up to cap bytes, length in *ret_len), 0 when there is none. */
int berth_store_token_get(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN], int64_t now_ns,
                          uint8_t *ret, size_t cap, size_t *ret_len, berth_error **err);
/* Use a live token for node who: one use fewer; its sealed secret is
 * erased with the last. EPERM when it is not live (used up meanwhile,
 * revoked, or expired). */
int berth_store_token_use(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN], const char *who,
                          int64_t now_ns, berth_error **err);
/* Forget tokens that expired before now_ns (their rows, once used or not). */
int berth_store_tokens_expire(berth_store *st, int64_t now_ns, berth_error **err);

/* A token as listed (never its secret). */
typedef struct berth_store_token {
    uint8_t id[BERTH_TOKEN_ID_LEN];
    char description[256];
    char used_by[BERTH_NAME_MAX + 1]; /* the last node it admitted */
    int64_t expires_ns, created_ns, used_ns;
    uint32_t uses, used;
} berth_store_token;

/* Every token, oldest first (a new array; NULL when none). */
int berth_store_tokens_list(berth_store *st, berth_store_token **ret, size_t *ret_n,
                            berth_error **err);
/* Remove a token: 1 removed (its row into *ret_token when not NULL), 0 none
 * had that id. */
int berth_store_token_delete(berth_store *st, const uint8_t id[BERTH_TOKEN_ID_LEN],
                             berth_store_token *ret_token, berth_error **err);

/* ---- workloads ---- */

/* Insert or replace by w's key (berth_workload_key); w->status is not
 * stored. */
int berth_store_workload_put(berth_store *st, const Workload *w, berth_error **err);
/* Deletes its revisions (replica sets) too. */
int berth_store_workload_delete(berth_store *st, const char *key, berth_error **err);
/* fn for every workload, oldest first (then by name); fn owns w
 * (workload_free_unpacked). */
int berth_store_workloads_load(berth_store *st, int (*fn)(void *data, Workload *w), void *data,
                               berth_error **err);

/* ---- a Deployment's revisions ---- */

/* Insert or replace rs (by key and rs->hash); it is stored as given. */
int berth_store_replica_set_put(berth_store *st, const char *key, const ReplicaSet *rs,
                                berth_error **err);
int berth_store_replica_set_delete(berth_store *st, const char *key, const char *hash,
                                   berth_error **err);
/* Every revision of the workload of this key. */
int berth_store_replica_sets_delete(berth_store *st, const char *key, berth_error **err);
/* fn for every replica set, by workload key then hash; fn owns rs
 * (replica_set_free_unpacked). */
int berth_store_replica_sets_load(berth_store *st,
                                  int (*fn)(void *data, const char *key, ReplicaSet *rs),
                                  void *data, berth_error **err);

/* ---- Jobs' states ---- */

/* Insert or replace the state of the Job of this key (deleted with its
 * workload). */
/* PodDisruptionBudgets by key (berth_workload_key), status left out. */
int berth_store_budget_put(berth_store *st, const char *key, const PodDisruptionBudget *b,
                           berth_error **err);
int berth_store_budget_delete(berth_store *st, const char *key, berth_error **err);
/* fn for every budget, by key; fn owns b (pod_disruption_budget_free_unpacked). */
int berth_store_budgets_load(berth_store *st,
                             int (*fn)(void *data, const char *key, PodDisruptionBudget *b),
                             void *data, berth_error **err);
/* Secrets and ConfigMaps by key (fleet-objects.c: a Secret's values
 * sealed before they come here). */
int berth_store_object_put(berth_store *st, const char *key, const ConfigObject *o,
                           berth_error **err);
int berth_store_object_delete(berth_store *st, const char *key, berth_error **err);
/* fn for every object, by key; fn owns o. */
int berth_store_objects_load(berth_store *st,
                             int (*fn)(void *data, const char *key, ConfigObject *o), void *data,
                             berth_error **err);
int berth_store_job_put(berth_store *st, const char *key, const JobState *js, berth_error **err);
int berth_store_job_delete(berth_store *st, const char *key, berth_error **err);
/* fn for every Job's state, by key; fn owns js (job_state_free_unpacked). */
int berth_store_jobs_load(berth_store *st, int (*fn)(void *data, const char *key, JobState *js),
                          void *data, berth_error **err);

/* ---- namespaces ---- */

/* Insert or replace by ns->name (its workloads count is not stored). */
int berth_store_namespace_put(berth_store *st, const Namespace *ns, berth_error **err);
int berth_store_namespace_delete(berth_store *st, const char *name, berth_error **err);
/* fn for every namespace, by name; fn owns ns (namespace_free_unpacked). */
int berth_store_namespaces_load(berth_store *st, int (*fn)(void *data, Namespace *ns), void *data,
                                berth_error **err);

/* ---- assignments ---- */

typedef struct berth_store_assignment {
    /* workload: its key (berth_workload_key) */
    const char *node, *container_id, *workload;
    uint32_t replica;
    /* The node's generation in which this container's current spec was
     * assigned: a status of an older generation runs an older spec. */
    uint64_t spec_generation;
    /* The workload's generation that spec came from: when the workload's
     * is newer, the node must be given the new spec (even after a crash
     * between saving the workload and reassigning). */
    uint64_t workload_generation;
    /* A Deployment's: the revision (ReplicaSet.hash) it runs; "" else. */
    const char *revision;
} berth_store_assignment;

int berth_store_assignment_put(berth_store *st, const berth_store_assignment *a, berth_error **err);
int berth_store_assignment_delete(berth_store *st, const char *node, const char *container_id,
                                  berth_error **err);
/* fn for every assignment, by node then id (strings valid during fn). */
int berth_store_assignments_load(berth_store *st,
                                 int (*fn)(void *data, const berth_store_assignment *a), void *data,
                                 berth_error **err);

/* ---- statuses ---- */

int berth_store_status_put(berth_store *st, const char *node, const ContainerStatus *s,
                           berth_error **err);
int berth_store_status_delete(berth_store *st, const char *node, const char *container_id,
                              berth_error **err);
/* Replace every status of node with these, in one transaction. */
int berth_store_statuses_replace(berth_store *st, const char *node,
                                 ContainerStatus *const *statuses, size_t n, berth_error **err);
/* fn for every status, by node then id; fn owns s. */
int berth_store_statuses_load(berth_store *st,
                              int (*fn)(void *data, const char *node, ContainerStatus *s),
                              void *data, berth_error **err);

/* ---- events ---- */

/* Append e (its id is assigned and written back); the oldest beyond
 * BERTH_STORE_EVENTS_MAX are dropped. */
int berth_store_event_add(berth_store *st, Event *e, berth_error **err);
/* The newest limit events matching kind and name (NULL or "": any), or
 * with after_id the oldest limit of those after it; oldest first; fn owns
 * e. */
int berth_store_events_list(berth_store *st, const char *kind, const char *name, uint32_t limit,
                            uint64_t after_id, int (*fn)(void *data, Event *e), void *data,
                            berth_error **err);

#endif
