/* Inside the fleet (fleet.h): its memory and what its files share.
 * fleet.c: lookups, events, loading, workloads and what nodes are given;
 * fleet-nodes.c: nodes' phases, leases and admission; fleet-reconcile.c:
 * placement carried out; fleet-observed.c: what nodes report (statuses,
 * stream positions, metrics); fleet-view.c: the operator's listings;
 * fleet-rollout.c: Deployments' revisions and rollouts. Nothing outside these files includes this.
 */
#ifndef BERTH_CONTROLLER_FLEET_INTERNAL_H
#define BERTH_CONTROLLER_FLEET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"
#include "fleet.h"
#include "metrics/prom.h"
#include "placement.h"
#include "rpc/principal.h"
#include "spec/workload.h"
#include "store.h"

/* Bounds on what nodes and operators may make us keep (statuses:
 * CTL_STATUSES_MAX, validate.h). */
#define FLEET_SAMPLES_MAX   4096 /* per node */
#define FLEET_WORKLOADS_MAX 10000
/* The Secrets and ConfigMaps one node's assignments may carry, sealed
 * (one answer: within BERTH_FRAME_MAX with the specs). */
#define FLEET_NODE_OBJECTS_MAX (3 << 20)
/* Evictions and listings go over every budget. */
#define FLEET_BUDGETS_MAX 1000
/* The most samples one metrics round may carry. */
#define FLEET_METRICS_MAX 1024

/* Events: the kinds of object, and the types. */
#define FLEET_KIND_NODE     "Node"
#define FLEET_KIND_WORKLOAD "Workload"
#define FLEET_KIND_TOKEN    "JoinToken"
#define FLEET_KIND_NS       "Namespace"
#define FLEET_KIND_PDB      "PodDisruptionBudget"
#define FLEET_NORMAL        "Normal"
#define FLEET_WARNING       "Warning"

/* A pod-template-hash: Kubernetes' encoding of a 32-bit number, at most
 * 10 characters. */
#define FLEET_HASH_BUF 11
/* The workload generation every assignment of a Deployment's or
 * DaemonSet's revision, or of a Job, records: their templates never
 * change, so neither do their replicas' specs. */
#define FLEET_REVISION_SPEC_GENERATION 1

typedef struct fleet_assign {
    char id[BERTH_ID_BUF];
    char workload[BERTH_WORKLOAD_KEY_BUF]; /* its key */
    char revision[FLEET_HASH_BUF];         /* a Deployment's: its replica set's hash */
    uint32_t replica;
    /* When the controller first saw its pod Ready, this time (monotonic
     * ns; 0: not Ready): minReadySeconds count from it. */
    int64_t ready_since_ns;
    /* The node generation in which this container's spec was last set,
     * and the workload generation the spec came from. */
    uint64_t spec_generation, workload_generation;
    /* An operator evicted it (EvictPod): the next placement moves it to
     * another node (memory only: that placement is durable). */
    bool evicted;
} fleet_assign;

typedef struct fleet_sample {
    char id[BERTH_ID_BUF]; /* "" for the node's own figures */
    MetricsSample *last, *prev;
    bool in_round; /* in the report being taken in */
} fleet_sample;

typedef struct fleet_node {
    fleet *fleet;
    berth_store_node rec; /* as persisted; rec.info owned */
    berth_principal who;
    /* Desired: sorted by id. */
    fleet_assign *assign;
    size_t n_assign;
    /* Observed: the latest status per container, sorted by id. */
    ContainerStatus **status;
    size_t n_status;
    bool status_dirty;     /* not yet written to the store */
    bool need_full_report; /* the stream lost items: ask at the next heartbeat */
    /* The node's stream position its statuses reflect: the last event
     * taken in, or the position of the last full report; and the epoch of
     * the agent run before (fleet-observed.c, stream positions). */
    uint64_t status_epoch, status_seq, retired_epoch;
    bool digest_valid;
    uint64_t digest;
    /* Statuses it sent about containers that were never its (left out). */
    uint64_t foreign_reports;
    berth_loop_timer lease;
    /* Operators' taints (NULL: none), persisted apart from rec. */
    TaintList *taints;
    /* Metrics: the latest two samples per container. */
    fleet_sample *samples;
    size_t n_samples;
    /* The generation whose objects outgrew one answer, said (an event). */
    uint64_t objects_warned_generation;
} fleet_node;

/* A PodDisruptionBudget as the fleet keeps it (fleet-budget.c). */
typedef struct fleet_budget {
    char key[BERTH_WORKLOAD_KEY_BUF]; /* berth_workload_key */
    PodDisruptionBudget *b;           /* namespace always set; status NULL */
} fleet_budget;

/* A Secret or ConfigMap as the fleet keeps it (fleet-objects.c): its
 * values clear in memory. */
typedef struct fleet_object {
    char key[FLEET_OBJECT_KEY_BUF]; /* fleet_object_key */
    ConfigObject *o;                /* namespace always set */
} fleet_object;

/* Whether workloads of this kind have revisions: Deployments and
 * DaemonSets. */
static inline bool fleet_has_revisions(WorkloadKind kind)
{
    return kind == WORKLOAD_DEPLOYMENT || kind == WORKLOAD_DAEMONSET;
}

/* One revision of a Deployment or a DaemonSet (fleet-rollout.c). */
typedef struct fleet_rs {
    /* As stored: hash, template, created, change cause (fixed); the
     * rest of it lives below while in memory. */
    ReplicaSet *rs;
    /* The Deployment as this revision's replicas run it: rs->template with
     * the Deployment's name, namespace and kind, and the label
     * pod-template-hash (berth_replica_specs takes it). */
    Workload *view;
    /* Its replicas' names: "<deployment>-<hash>", or "<deployment>". */
    char prefix[BERTH_WORKLOAD_NAME_MAX + FLEET_HASH_BUF + 2];
    uint64_t revision;
    uint32_t *indices; /* ascending */
    size_t n_indices;
    int64_t progress_ns; /* Unix ns (the newest's) */
    bool deadline_exceeded, completed;
    /* Observed at the last step: replicas placed, Ready, available; and
     * available at the step before. */
    uint32_t placed, ready, available, prev_available;
    bool dirty;  /* changed in memory, not yet written */
    bool doomed; /* history past its limit: deleted at the next write */
} fleet_rs;

typedef struct fleet_workload {
    Workload *w;                      /* as stored, status NULL; always with a template */
    char key[BERTH_WORKLOAD_KEY_BUF]; /* berth_workload_key */
    berth_place_status place;
    /* A Deployment's or DaemonSet's revisions, oldest first (the last is
     * the newest); none for Pods. */
    fleet_rs *rs;
    size_t n_rs;
    /* A DaemonSet's: the nodes whose replica the last step moved to the
     * newest revision (placement gives them its spec). */
    char **ds_update;
    size_t n_ds_update;
    /* A Job's state (fleet-job.c), and whether it changed since written;
     * a CronJob's (its last schedule). */
    JobState *job;
    bool job_dirty;
    /* A CronJob's: the time (Unix s) whose Job is to be made (0: none),
     * and how many times were missed up to it. */
    int64_t cron_pending;
    size_t cron_missed;
} fleet_workload;

struct fleet {
    fleet_config cfg;
    fleet_effects fx;
    /* Nodes by name; workloads oldest first (placement order). */
    fleet_node **nodes;
    size_t n_nodes;
    fleet_workload *workloads;
    size_t n_workloads;
    /* Namespaces by name ("default" among them). */
    Namespace **namespaces;
    size_t n_namespaces;
    /* PodDisruptionBudgets by key. */
    fleet_budget **budgets;
    size_t n_budgets;
    /* Secrets and ConfigMaps by key. */
    fleet_object **objects;
    size_t n_objects;
    berth_loop_timer flush_timer;
    /* Places again when a replica's tolerationSeconds of a NoExecute
     * taint runs out. */
    berth_loop_timer eviction_timer;
    /* The version of the nodes' pod ranges and addresses (GetPeers): from
     * the clock at start, so agents fetch anew after a restart. */
    uint64_t peers_version;
    /* Rollouts: a step soon after a Deployment's replica changed its
     * readiness (coalesced), and when a minReadySeconds or a progress
     * deadline runs out. */
    berth_loop_timer rollout_soon, rollout_due;
    /* How long each placement took, its commit included (/metrics). */
    berth_prom_histogram place_seconds;
};

/* ---- fleet.c ---- */

fleet_node *fleet_node_find(fleet *f, const char *name);
fleet_node *fleet_node_by_id(fleet *f, const uint8_t id[BERTH_ID_LEN]);
/* The admitted node who is; with registered, only once it registered.
 * EACCES, ENOENT (see fleet.h). */
int fleet_node_of(fleet *f, const berth_principal *who, bool registered, fleet_node **ret_node,
                  berth_error **err);
bool fleet_node_registered(const fleet_node *n);
/* The workload whose key (berth_workload_key) this is, or NULL. */
fleet_workload *fleet_workload_find(fleet *f, const char *key);
Namespace *fleet_namespace_find(fleet *f, const char *name);
/* Where name is, or would go, in f->namespaces (sorted by name). */
size_t fleet_namespace_at(fleet *f, const char *name, bool *ret_found);
/* Where key is, or would go, among n items sorted by key_of(item). */
size_t fleet_sorted_pos(void *const *items, size_t n, const char *(*key_of)(const void *item),
                        const char *key, bool *ret_found);
/* Persist n->rec (in the caller's transaction, if any). */
int fleet_node_save(fleet *f, fleet_node *n, berth_error **err);

/* Record an event (in the caller's transaction, if any) and log it;
 * failing to record it is logged, never fatal. */
void fleet_event(fleet *f, const char *kind, const char *name, const char *type, const char *reason,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Add an item to c (name and ns copied; ns NULL for what is in none). */
void fleet_changes_add(fleet_changes *c, const char *kind, const char *ns, const char *name,
                       ApplyAction action, uint64_t generation);

/* The assignment with this id on n, or NULL. */
fleet_assign *fleet_assign_find(fleet_node *n, const char *id);
/* The assignment container id is of on n: its own (a pod of one
 * container), or its pod's (a container "<pod>_<name>" of a pod of
 * several); NULL when none. */
fleet_assign *fleet_assign_of(fleet *f, fleet_node *n, const char *id);
/* The specs of the containers an assignment runs (berth_replica_specs:
 * one, or its pod's in order; free with berth_specs_free); fails only when
 * the fleet is inconsistent (its workload is gone). */
int fleet_assign_specs(fleet *f, const fleet_node *n, const fleet_assign *a,
                       ContainerSpec ***ret_specs, size_t *ret_n, berth_error **err);
/* The spec of container id of assignment a (a new message), or NULL. */
ContainerSpec *fleet_container_spec(fleet *f, const fleet_node *n, const fleet_assign *a,
                                    const char *id);

/* ---- fleet-nodes.c ---- */

/* Take rec (and its info) into the fleet: the node of that name is
 * replaced, or a new one added. EINVAL (and rec freed) when rec's name is
 * no node's. */
int fleet_node_take(fleet *f, berth_store_node *rec, berth_error **err);
void fleet_node_free(fleet_node *n);
/* After loading: a fresh lease for every registered node. */
void fleet_leases_start(fleet *f);
/* A phase's word: "Ready", "Unknown", "Down", "PendingApproval". */
const char *fleet_phase_name(NodePhase p);

/* ---- fleet-reconcile.c ---- */

/* A node's range or address changed, or it left: the peers' list is new
 * (its version moves on). */
void fleet_peers_changed(fleet *f);

/* fleet-reconcile.c: the eviction timer's callback. */
void fleet_eviction_due(berth_loop_timer *t);

/* ---- fleet-rollout.c ---- */

/* Load the stored revisions (and give a Deployment stored before berth
 * kept them its first, its replicas named as they were). After the
 * workloads and assignments. */
int fleet_rollouts_load(fleet *f, berth_error **err);
/* Free wl's revisions. */
void fleet_rs_free_all(fleet_workload *wl);
/* A step of every Deployment's rollout (rollout.h): a new revision for a
 * changed template, replicas added and taken away, progress and history,
 * durably in one transaction. Before placement, which runs the answer. */
int fleet_rollouts_step(fleet *f, berth_error **err);
/* The same, saying whether any replica was added or taken away (or a
 * revision made). */
int fleet_rollouts_run(fleet *f, bool *ret_changed, berth_error **err);
/* The revision of wl with this hash, or NULL. */
fleet_rs *fleet_rs_find(const fleet_workload *wl, const char *hash);
/* The workload assignment a runs as: its revision's for a Deployment's
 * (NULL when that is gone), its workload otherwise. */
const Workload *fleet_assign_workload(fleet *f, const fleet_assign *a);
/* A DaemonSet's nodes to move to its newest revision: forget them;
 * whether node is one. */
void fleet_ds_update_clear(fleet_workload *wl);
bool fleet_ds_updates(const fleet_workload *wl, const char *node);
/* A replica of a Deployment changed its readiness: a step soon. */
void fleet_rollout_poke(fleet *f);
void fleet_rollout_timers_init(fleet *f);
/* Whether the Deployment's replica a counts as available (Ready for
 * minReadySeconds) at now (monotonic ns). */
bool fleet_assign_available(const fleet_workload *wl, const fleet_assign *a, int64_t now);
/* Fill a Deployment's status: ready, updated, available, conditions,
 * revision, revisions (with templates when with_templates); borrowed
 * from the fleet, freed by fleet_rollout_status_clear. */
void fleet_rollout_status(fleet *f, const fleet_workload *wl, WorkloadStatus *st,
                          bool with_templates);
void fleet_rollout_status_clear(WorkloadStatus *st);

/* Placement alone (fleet_reconcile without the rollout step), its
 * failure logged. */
void fleet_place_after(fleet *f, const char *what);

/* ---- fleet-job.c ---- */

/* Load the Jobs' states (after the workloads). */
int fleet_jobs_load(fleet *f, berth_error **err);
void fleet_job_free(fleet_workload *wl);
/* A step of Job wl (Kubernetes' job controller): its pods' ends taken in,
 * new pods up to parallelism, Complete or Failed (backoffLimit,
 * activeDeadlineSeconds). Returns whether pods were added or taken away;
 * *due: when it must step again (a deadline, a backoff, its TTL). */
bool fleet_job_step(fleet *f, fleet_workload *wl, int64_t now_mono, int64_t now_real, int64_t *due);
/* Delete the Jobs whose ttlSecondsAfterFinished ran out (not from within
 * a step: it places again). */
void fleet_jobs_ttl(fleet *f);
/* The pod of Job wl with this number, or NULL. */
const JobPod *fleet_job_pod(const fleet_workload *wl, uint32_t number);
/* Placement's view of a Job: the numbers of its running pods
 * (ascending; owned by the caller: free), and whether pod number is done. */
uint32_t *fleet_job_active(const fleet_workload *wl, size_t *ret_n);
bool fleet_job_done(const fleet_workload *wl, uint32_t number);
/* The Job's status (st->job borrowed from wl, or, with shallow, a copy
 * there without its pods, for listings; conditions allocated as
 * fleet_rollout_status's, cleared by fleet_rollout_status_clear). */
void fleet_job_status(const fleet_workload *wl, WorkloadStatus *st, JobState *shallow);
/* Whether a Job may become next (its template, completions and mode do
 * not change, as Kubernetes' are immutable). */
bool fleet_job_change_allowed(const Workload *old, const Workload *next);
/* A Job pod's environment: JOB_COMPLETION_INDEX for an Indexed Job. */
void fleet_job_env(const fleet_workload *wl, uint32_t number, ContainerSpec **specs, size_t n);

/* ---- fleet-budget.c ---- */

fleet_budget *fleet_budget_find(fleet *f, const char *key);
/* Load the stored budgets; free them all. */
int fleet_budgets_load(fleet *f, berth_error **err);
void fleet_budgets_free(fleet *f);
/* What applying b (valid, namespace set) means; *ret_copy: what to keep
 * (a new message, NULL when unchanged) with its generation and times. */
ApplyAction fleet_budget_action(fleet *f, const PodDisruptionBudget *b, int64_t now,
                                PodDisruptionBudget **ret_copy);
/* Put b (taken) among the fleet's, replacing the one of its key; remove
 * the one of this key. */
void fleet_budget_put(fleet *f, PodDisruptionBudget *b);
void fleet_budget_remove(fleet *f, const char *key);

/* ---- fleet-objects.c ---- */

/* "Secret", "ConfigMap". */
const char *fleet_config_kind_name(ConfigKind kind);
fleet_object *fleet_object_find(fleet *f, ConfigKind kind, const char *ns, const char *name);
/* Load the stored objects (a Secret's values opened); free them all. */
int fleet_objects_load(fleet *f, berth_error **err);
void fleet_objects_free(fleet *f);
/* What applying o (valid, namespace set) means; *ret_copy: what to keep
 * (NULL when unchanged). EINVAL: it is immutable and would change. */
int fleet_object_action(fleet *f, const ConfigObject *o, int64_t now, ApplyAction *ret_action,
                        ConfigObject **ret_copy, berth_error **err);
/* Persist o (a Secret's values sealed), in the caller's transaction. */
int fleet_object_save(fleet *f, const ConfigObject *o, berth_error **err);
/* Put o (taken) among the fleet's; remove the one of this key. */
void fleet_object_put(fleet *f, ConfigObject *o);
void fleet_object_remove(fleet *f, const char *key);
/* Objects are being applied or deleted (changes, as the operator is
 * told), in the caller's transaction: the nodes whose containers name one
 * get a new generation, saved there; undo it when the transaction rolls
 * back, or wake the nodes once it committed (either frees b). The nodes'
 * array must not change in between. */
typedef struct fleet_bumps {
    size_t *node; /* indices into f->nodes */
    uint64_t *old;
    size_t n;
} fleet_bumps;
int fleet_objects_bump(fleet *f, const fleet_change *changes, size_t n, fleet_bumps *ret,
                       berth_error **err);
void fleet_objects_bump_undo(fleet *f, fleet_bumps *b);
void fleet_objects_bump_done(fleet *f, fleet_bumps *b);
/* The objects the node's containers (specs) name that exist, each sealed
 * to the node's keys (new messages: free each and the array). */
int fleet_node_objects(fleet *f, fleet_node *n, ContainerSpec *const *specs, size_t n_specs,
                       SealedObject ***ret, size_t *ret_n, berth_error **err);

/* ---- fleet-cron.c ---- */

/* A step of CronJob wl: which time its Job is due for (made by
 * fleet_crons_run); *due: its next time. Never changes placement. */
bool fleet_cron_step(fleet *f, fleet_workload *wl, int64_t now_mono, int64_t now_real,
                     int64_t *due);
/* Make the CronJobs' due Jobs, and trim their history (from the timer:
 * it applies and deletes). */
void fleet_crons_run(fleet *f);
/* A CronJob's Jobs that have not finished; the keys of all of them (new
 * strings in a new array: free both). */
uint32_t fleet_cron_active(fleet *f, const fleet_workload *cron);
size_t fleet_cron_children(fleet *f, const fleet_workload *cron, char ***ret_keys);

/* fleet_reconcile, its failure logged ("placement after <what>"): the
 * change that called it is done and durable; the next one places again. */
void fleet_reconcile_after(fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- fleet-observed.c ---- */

/* Take s (owned) as the latest status of its container on n; at the cap of
 * CTL_STATUSES_MAX statuses a new container's is dropped. */
void fleet_status_put(fleet *f, fleet_node *n, ContainerStatus *s);
ContainerStatus *fleet_status_find(const fleet_node *n, const char *id);
/* Whether replica a (of workload w) on n ended for good: its pod's phase
 * is Succeeded (every container exited 0, its policy not Always). Never
 * for a DaemonSet's. */
bool fleet_replica_done(const fleet_node *n, const fleet_assign *a, const Workload *w);
/* The same for any replica as placement counts it: a Job's pod when the
 * Job says it finished, another's by fleet_replica_done (w: what a
 * runs, its revision's view). */
bool fleet_assign_done(fleet *f, const fleet_node *n, const fleet_assign *a, const Workload *w);
/* Whether replica a (running w) on n is Ready: its pod's Ready condition,
 * every container on the current spec. */
bool fleet_replica_ready(const fleet_node *n, const fleet_assign *a, const Workload *w);
/* A container of a replica that ended non-zero: its name and exit code
 * (128 + the signal that killed it). */
typedef struct fleet_exit {
    char container[BERTH_ID_BUF];
    int32_t code;
} fleet_exit;
/* The containers of replica a (running w) on n that ended non-zero, at
 * most max: how many. */
size_t fleet_replica_exits(const fleet_node *n, const fleet_assign *a, const Workload *w,
                           fleet_exit *ret, size_t max);
/* Replica a's pod phase ("Pending", "Running", "Succeeded", "Failed"),
 * and its containers' restarts. */
const char *fleet_replica_phase(const fleet_node *n, const fleet_assign *a, const Workload *w,
                                uint32_t *ret_restarts);
uint64_t fleet_status_digest(fleet_node *n);
/* Write the statuses not written yet (also done by a timer). */
void fleet_status_flush(fleet *f);
void fleet_status_timer_init(fleet *f);
/* Forget n's samples (it left Ready, or a new agent run began). */
void fleet_samples_clear(fleet_node *n);
/* CPU in millicores between a sample and the one before; -1 unknown. */
int64_t fleet_sample_cpu_millis(const fleet_sample *s);
/* Free what n observed. */
void fleet_observed_free(fleet_node *n);

#endif
