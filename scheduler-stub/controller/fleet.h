/* The controller's core: the fleet (nodes, workloads, which replica is
 * assigned where, what the nodes report) and every change to it.
 *
 * A change is written to the store first, in one transaction with its
 * events, then made in memory; when it can move replicas, placement runs
 * again (fleet_reconcile): placement.c computes the new assignments, they
 * are committed in one transaction, and the nodes whose desired set changed
 * are woken through fleet_effects. What the fleet acknowledges is durable.
 *
 * Calls go one way: the process object (controller.c) makes the fleet,
 * the rpc handlers (node-service.c, operator-service.c) call it, and it
 * calls the store, placement and the admission policy. It never calls a
 * handler and sends nothing on the wire: what leaves it goes through
 * fleet_effects, given at creation.
 *
 * Everything runs on one loop; nothing blocks but the store's writes.
 * Inputs from outside are checked here (validate.h) before anything
 * changes. Errors carry the errno their status code is made from
 * (berth_rpc_code_of): EINVAL a bad request, ENOENT not found, EACCES not
 * this caller's, EBUSY the state does not allow it, ENOSPC a limit,
 * ESTALE a report older than what the fleet holds, EIO the store. */
#ifndef BERTH_CONTROLLER_FLEET_H
#define BERTH_CONTROLLER_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "metrics/prom.h"
#include "policy_sqlite.h"
#include "rpc/principal.h"
#include "spec/workload.h"
#include "store.h"

typedef struct fleet fleet;

typedef struct fleet_config {
    berth_loop *loop;
    berth_store *store;
    /* Admission: approvals and join tokens. */
    berth_policy_sqlite *policy;
    /* Leases: the heartbeat interval is max(heartbeat_min_ns, registered
     * nodes / heartbeat_max_rate); a node is Unknown after
     * heartbeat_misses intervals without one, Down down_grace_ns later. */
    int64_t heartbeat_min_ns;
    uint32_t heartbeat_max_rate;
    uint32_t heartbeat_misses;
    int64_t down_grace_ns;
    /* Pod ranges: a /node_prefix of cluster_cidr to each node (the string
     * stays the caller's). */
    const char *cluster_cidr;
    int node_prefix;
    /* What Secrets' values are sealed with in the store (derived from the
     * controller's secret key; copied, wiped when the fleet goes). */
    uint8_t secrets_key[32];
} fleet_config;

/* A node to wake: its principal id (BERTH_ID_LEN bytes) and the
 * generation of its desired set now. */
typedef struct fleet_wake {
    const uint8_t *id;
    uint64_t generation;
} fleet_wake;

/* What leaves the fleet. */
typedef struct fleet_effects {
    /* These registered nodes' desired sets changed and are committed:
     * tell them (n >= 1; the array is the fleet's, valid during the
     * call). Must not call into the fleet. */
    void (*wake)(void *data, const fleet_wake *nodes, size_t n);
    void *data;
} fleet_effects;

/* An empty fleet; cfg and fx are copied; the loop, store and policy stay
 * the caller's and must outlive it. */
fleet *fleet_new(const fleet_config *cfg, const fleet_effects *fx);
/* Write the statuses not written yet, and free. NULL accepted. */
void fleet_free(fleet *f);

/* Load nodes, workloads, assignments and statuses from the store and give
 * every registered node a fresh lease. Once, before anything else. */
int fleet_load(fleet *f, berth_error **err);

/* Run placement and carry it out: new assignments and generations in one
 * transaction, then wake-ups. Done by every change that can move replicas;
 * called alone at start (a crash may have left placement unfinished). */
int fleet_reconcile(fleet *f, berth_error **err);

/* ---- nodes: what their agents call (who: the calling node) ----
 *
 * Each fails EACCES when who is no admitted node; all but Register fail
 * ENOENT ("node not registered") for a node that has not registered,
 * which the agent answers by registering. */

/* What a node is told after Register and each Heartbeat. */
typedef struct fleet_beat {
    uint64_t generation;
    uint32_t heartbeat_interval_ms;
    bool report_status;   /* send a full ReportStatus */
    const char *pod_cidr; /* Register: the node's pod range ("" none; the fleet's) */
    uint64_t peers_version;
    /* Register: the agent run that registered before (the same start time
     * on the same boot), registering what changed (its devices) */
    bool same_run;
} fleet_beat;

/* Register: info (copied) becomes the node's; it is Ready, its lease
 * starts, its previous agent run's statuses are to be reported afresh. At
 * its first, it is given a pod range: the first /node_prefix of the
 * cluster range that no node has (kept while it exists; none, with a
 * Warning event CIDRNotAvailable, when all are taken).
 * EACCES when info names another node, EINVAL when it is not valid. */
int fleet_node_register(fleet *f, const berth_principal *who, const NodeInfo *info,
                        fleet_beat *ret_beat, berth_error **err);
/* Heartbeat: renews the lease; brings an Unknown or Down node back (a Down
 * one learns from ret its new generation, without the replicas it lost:
 * fencing). */
int fleet_node_heartbeat(fleet *f, const berth_principal *who, const HeartbeatRequest *in,
                         fleet_beat *ret_beat, berth_error **err);

/* The other nodes with a pod range and an address, for the calling
 * node's routes: ret_peers (NULL-terminated, the strings the fleet's:
 * answer at once, then free the array) and the version of the list. */
int fleet_node_peers(fleet *f, const berth_principal *who, Peer ***ret_peers, size_t *ret_n,
                     uint64_t *ret_version, berth_error **err);

/* A node's desired set: its generation and, unless it knows that one
 * already, the spec of each container assigned to it (owned). */
typedef struct fleet_specs {
    uint64_t generation;
    bool unchanged;
    ContainerSpec **specs;
    size_t n_specs;
    /* The Secrets and ConfigMaps they name, sealed to the node. */
    SealedObject **objects;
    size_t n_objects;
} fleet_specs;

void fleet_specs_clear(fleet_specs *s);
int fleet_node_assignments(fleet *f, const berth_principal *who, uint64_t known_generation,
                           fleet_specs *ret_specs, berth_error **err);

/* ReportStatus: statuses (copied) of the node's containers, its whole
 * picture when in->full. ESTALE when that picture is older than events
 * already taken in from its stream: the agent sends a fresh one. */
int fleet_node_report(fleet *f, const berth_principal *who, const ReportStatusRequest *in,
                      berth_error **err);

/* Where a stream item stood in its sender's stream (lib/rpc/stream.h). */
typedef struct fleet_stream_pos {
    uint64_t epoch, seq;
    uint64_t missed; /* items lost right before this one */
} fleet_stream_pos;

/* A container event and a metrics round from a node's stream. Items from
 * no registered node, of an agent run already replaced, already covered by
 * a full report, or not valid are dropped: the stream has no one to answer
 * to, and the next heartbeat heals what was lost. */
void fleet_node_event(fleet *f, const berth_principal *who, const fleet_stream_pos *pos,
                      const ContainerEvent *ev);
void fleet_node_metrics(fleet *f, const berth_principal *who, const fleet_stream_pos *pos,
                        const MetricsReport *r);

/* ---- what operators change (by: the operator's name, for events) ---- */

/* One object an Apply or Delete acted on. */
typedef struct fleet_change {
    const char *kind; /* "Deployment", "Node" ... (static) */
    char *name;
    char *ns; /* a workload's namespace ("default" too); NULL otherwise */
    ApplyAction action;
    uint64_t generation;
} fleet_change;

typedef struct fleet_changes {
    fleet_change *items;
    size_t n_items;
    char **warnings; /* for the operator: "web: replicas 0: nothing will run" */
    size_t n_warnings;
} fleet_changes;

void fleet_changes_clear(fleet_changes *c);

/* Apply workloads (valid: from the manifest reader), named after source
 * in events and errors: each is created, configured (a new generation) or
 * unchanged. Generations and times are set in workloads[i]; unless
 * dry_run, those the fleet keeps are taken (workloads[i] set to NULL) and
 * placed. ENOSPC past the fleet's limit of workloads. */
int fleet_apply(fleet *f, Workload **workloads, size_t n, const char *source, bool dry_run,
                fleet_changes *ret_changes, berth_error **err);
/* fleet_apply, with namespaces (kind: Namespace) in the same transaction:
 * each created or configured (its labels), none taken. A workload's
 * namespace must exist, or be among these (or, on a dry run, among
 * pending: those another manifest of the same apply makes): ENOENT
 * "namespace X not found" otherwise, and nothing is applied. */
typedef struct fleet_apply_in {
    Workload **workloads;
    size_t n_workloads;
    Namespace *const *namespaces;
    size_t n_namespaces;
    /* PodDisruptionBudgets: each created, configured or unchanged (its
     * namespace set to "default" when it names none), none taken. */
    PodDisruptionBudget *const *budgets;
    size_t n_budgets;
    /* Secrets and ConfigMaps: the same (namespace set likewise). */
    ConfigObject *const *objects;
    size_t n_objects;
    char *const *pending;
    size_t n_pending;
    const char *source;
    bool dry_run;
} fleet_apply_in;
int fleet_apply_all(fleet *f, const fleet_apply_in *in, fleet_changes *ret_changes,
                    berth_error **err);
/* Delete the workloads of these keys (berth_workload_key); keys not in the
 * fleet are passed over, ENOENT when none is. */
int fleet_delete_workloads(fleet *f, const char *const *keys, size_t n, const char *by,
                           bool dry_run, fleet_changes *ret_changes, berth_error **err);
/* fleet_delete_workloads, the PodDisruptionBudgets (by key) and the
 * namespaces named, each with every workload and budget in it, in one
 * transaction (what is not in the fleet is passed over, ENOENT when
 * nothing is). EBUSY for "default", which stays. */
typedef struct fleet_delete_in {
    const char *const *keys; /* workloads' */
    size_t n_keys;
    const char *const *budgets;
    size_t n_budgets;
    /* Secrets' and ConfigMaps' keys (fleet_object_key). */
    const char *const *objects;
    size_t n_objects;
    const char *const *namespaces;
    size_t n_namespaces;
    const char *by;
    bool dry_run;
} fleet_delete_in;
int fleet_delete(fleet *f, const fleet_delete_in *in, fleet_changes *ret_changes,
                 berth_error **err);
/* Forget a node with its key, assignments and statuses. EBUSY while it is
 * Ready with containers and not drained: they would run on, never told to
 * stop. */
int fleet_forget_node(fleet *f, const char *name, bool dry_run, fleet_changes *ret_changes,
                      berth_error **err);

/* The PodDisruptionBudgets in namespace ns (NULL or "": all) named name
 * (NULL or "": any), sorted by namespace and name, each a new message with
 * its status as the replicas are now (free each and the array). ENOENT
 * when a name is given and none has it. */
int fleet_budgets_list(fleet *f, const char *ns, const char *name, PodDisruptionBudget ***ret,
                       size_t *ret_n, berth_error **err);
/* A Secret's or ConfigMap's key: "secret/<ns>/<name>",
 * "configmap/<ns>/<name>" (ns "" is "default"). */
#define FLEET_OBJECT_KEY_BUF (BERTH_WORKLOAD_KEY_BUF + 16)
void fleet_object_key(ConfigKind kind, const char *ns, const char *name,
                      char ret_key[FLEET_OBJECT_KEY_BUF]);
/* The Secrets or ConfigMaps in->kind of in->namespace ("": all) named
 * in->name ("": any), each a new message with sizes; a Secret's values
 * only with in->reveal, which needs a name and records an event (read by
 * operator by). Free with fleet_objects_list_free. ENOENT when a name is
 * given and none has it. */
int fleet_objects_list(fleet *f, const ListObjectsRequest *in, const char *by, ConfigObject ***ret,
                       size_t *ret_n, berth_error **err);
void fleet_objects_list_free(ConfigObject **v, size_t n);
/* Kubernetes' Eviction of pod in->name (in->namespace, on in->node when
 * given): allowed when no budget selects it, or the one that does can
 * spare it (berth_budget_allows); the replica then moves to another node
 * (placement, durably) with an event by operator by. *ret_node: the node
 * it was on. ENOENT: no such pod; EBUSY: on two nodes (name one), a
 * DaemonSet's, or under two budgets; EDQUOT: the budget refuses (its
 * message says why). No budget is asked about a Pending pod; one that
 * ended (Succeeded, Failed) stays where it is, *ret_ended says so. */
int fleet_evict(fleet *f, const EvictPodRequest *in, const char *by, char *ret_node,
                size_t node_size, bool *ret_ended, berth_error **err);

/* kubectl create job NAME --from=cronjob/X: a Job of the CronJob's
 * template named in->name, one of its Jobs, applied (or checked, on a dry
 * run) with an event by operator by. ENOENT: no such CronJob; EEXIST: a
 * workload has the name; EINVAL: not a name. */
int fleet_cron_create_job(fleet *f, const CreateJobRequest *in, const char *by,
                          fleet_changes *ret_changes, berth_error **err);

typedef enum fleet_schedulable {
    FLEET_CORDON,   /* no new replicas */
    FLEET_DRAIN,    /* cordoned, and its Deployment and Pod replicas move */
    FLEET_UNCORDON, /* ends both */
} fleet_schedulable;

int fleet_set_schedulable(fleet *f, const char *name, fleet_schedulable what, const char *by,
                          berth_error **err);

/* A Deployment's rollout (berthctl rollout undo | restart | pause |
 * resume): a new generation of it, durably with an event, then a step.
 * *ret_result (a new string) in kubectl's words: "rolled back",
 * "restarted", "paused", "resumed", or "skipped rollback (...)" (then
 * nothing changes). ENOENT: no such Deployment or revision; EBUSY: paused
 * (undo, restart), already paused, not paused. */
int fleet_rollout(fleet *f, const RolloutRequest *in, const char *by, char **ret_result,
                  uint64_t *ret_generation, berth_error **err);

/* Add and remove node name's taints (TaintNodeRequest: a taint added
 * replaces one of the same key and effect; one removed is named by key,
 * and effect when given), persisted, with an event, then placement runs.
 * EINVAL: a taint that is none; ENOENT: no such node, or a taint to
 * remove that it does not have. */
#define FLEET_TAINTS_MAX 32
/* How many nodes the fleet has, how many of them are Ready, and how many
 * workloads it holds (for a status line). */
void fleet_summary(const fleet *f, size_t *ret_nodes, size_t *ret_ready, size_t *ret_workloads);

int fleet_node_taint(fleet *f, const char *name, Taint *const *add, size_t n_add,
                     Taint *const *remove, size_t n_remove, const char *by, berth_error **err);

/* Admit the key awaiting approval for node in->name (only if its
 * fingerprint is in->key_fingerprint, when not empty). ENOENT, EBUSY:
 * another key awaits. */
int fleet_approve_node(fleet *f, const ApproveNodeRequest *in, berth_error **err);
/* A join token (policy_sqlite.h), with an event. */
int fleet_create_join_token(fleet *f, const CreateJoinTokenRequest *in, berth_join_token *ret_token,
                            int64_t *ret_expires_ns, berth_error **err);
/* The join tokens that have not expired, oldest first (a new array). */
int fleet_join_tokens_list(fleet *f, berth_store_token **ret, size_t *ret_n, berth_error **err);
/* Revoke the join token whose id is id (12 hex digits, or a whole token),
 * with an event naming by; its row into *ret_token. ENOENT: none. */
int fleet_join_token_delete(fleet *f, const char *id, const char *by, berth_store_token *ret_token,
                            berth_error **err);
/* The admission policy changed node name's row in the store (enrolled,
 * awaiting approval, key rotated, a request for approval let go of): take
 * it in (or forget the node when its row is gone). */
int fleet_node_reload(fleet *f, const char *name, berth_error **err);

/* An operator stopped container id on node through its agent: the event. */
void fleet_container_stopped(fleet *f, const char *node, const char *id, const char *by);
/* Record an event about container id on node (an exec): on its workload
 * (describe pod shows it), or on the node when it has none. */
void fleet_container_event(fleet *f, const char *node, const char *id, const char *reason,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* For /metrics (fleet-metrics.c): the nodes by phase, the workloads by
 * kind, their replicas wanted and not placed, how long placements took. */
void fleet_write_metrics(fleet *f, berth_prom *w);

#endif
