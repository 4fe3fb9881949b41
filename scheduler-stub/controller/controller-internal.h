/* What the controller's files share: the in-memory fleet (loaded from the
 * store at start, written through to it on every change), and the helpers
 * the service handlers use. Everything runs on the one loop. */
#ifndef BERTH_CONTROLLER_INTERNAL_H
#define BERTH_CONTROLLER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "controller-config.h"
#include "controller.h"
#include "spec/workload.h"
#include "placement.h"
#include "policy_sqlite.h"
#include "rpc/client.h"
#include "rpc/pubsub.h"
#include "rpc/server.h"
#include "rpc/stream.h"
#include "rpc/survey.h"
#include "store.h"
#include "validate.h"

/* Bounds on what nodes may make us keep (and CTL_STATUSES_MAX, validate.h). */
#define CTL_SAMPLES_MAX   4096 /* per node */
#define CTL_WORKLOADS_MAX 10000

typedef struct ctl_assign {
    char id[BERTH_ID_BUF];
    char workload[BERTH_WORKLOAD_NAME_MAX + 1];
    uint32_t replica;
    /* The node generation in which this container's spec was last set,
     * and the workload generation the spec came from. */
    uint64_t spec_generation, workload_generation;
} ctl_assign;

typedef struct ctl_sample {
    char id[BERTH_ID_BUF]; /* "" for the node's own figures */
    MetricsSample *last, *prev;
    bool in_round; /* in the report being taken in */
} ctl_sample;

typedef struct ctl_node {
    controller *ctl;
    berth_store_node rec; /* as persisted; rec.info owned */
    berth_principal who;
    /* Desired: sorted by id. */
    ctl_assign *assign;
    size_t n_assign;
    /* Observed: the latest status per container, sorted by id. */
    ContainerStatus **status;
    size_t n_status;
    bool status_dirty;     /* not yet written to the store */
    bool need_full_report; /* the stream lost items: ask at the next heartbeat */
    /* The node's stream position its statuses reflect: the last event
     * taken in, or the position of the last full report; and the epoch of
     * the agent run before (agent.c, stream positions). */
    uint64_t status_epoch, status_seq, retired_epoch;
    bool digest_valid;
    uint64_t digest;
    /* The lease. */
    berth_loop_timer lease;
    /* Metrics: latest two samples per container. */
    ctl_sample *samples;
    size_t n_samples;
    /* The relay client to the node's Agent service, made on demand. */
    berth_rpc_client *agent;
    char *agent_client_addr;
} ctl_node;

typedef struct ctl_workload {
    Workload *w; /* as stored, status NULL */
    berth_place_status place;
} ctl_workload;

struct controller {
    ctl_config *cfg;
    berth_loop *loop;
    berth_store *store;
    berth_policy_sqlite *policy;
    berth_auth *auth;
    berth_keypair key;
    berth_principal self;
    berth_rpc_server *srv;
    berth_events_pub *pub;
    berth_stream_pull *pull;
    berth_surveyor *surveyor;
    Controller_Service svc;
    /* The fleet: nodes by name; workloads oldest first (placement order). */
    ctl_node **nodes;
    size_t n_nodes;
    ctl_workload *workloads;
    size_t n_workloads;
    char adv_events[256], adv_stream[256], adv_survey[256];
    berth_loop_timer flush_timer;
};

/* ---- the fleet (controller.c) ---- */

ctl_node *ctl_node_find(controller *c, const char *name);
ctl_node *ctl_node_by_id(controller *c, const uint8_t id[BERTH_ID_LEN]);
/* (Re)load a node's row from the store into memory (after the policy or an
 * operator changed it). */
int ctl_node_reload(controller *c, const char *name, berth_error **err);
/* Forget a node: store and memory. */
int ctl_node_forget(controller *c, ctl_node *n, berth_error **err);
ctl_workload *ctl_workload_find(controller *c, const char *name);
bool ctl_node_registered(const ctl_node *n);

/* Record an event (in the caller's transaction, if any); failures are
 * logged, never fatal. */
void ctl_event(controller *c, const char *kind, const char *name, const char *type,
               const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Persist n->rec. */
int ctl_node_save(controller *c, ctl_node *n, berth_error **err);
/* Enter phase (with reason), persist, record an event. */
int ctl_node_set_phase(controller *c, ctl_node *n, NodePhase phase, const char *reason,
                       berth_error **err);

/* The heartbeat interval for the fleet's size now, in ms. */
uint32_t ctl_heartbeat_interval_ms(controller *c);
/* A heartbeat (or registration) arrived: renew the lease. */
void ctl_lease_renew(controller *c, ctl_node *n);

/* Run placement and carry out its changes: assignments and generations
 * persisted in one transaction, then wake-ups for the changed nodes. */
int ctl_reconcile(controller *c, berth_error **err);

/* The assignment with this id on n, or NULL. */
ctl_assign *ctl_assign_find(ctl_node *n, const char *id);
/* The spec of an assignment (a new message, or NULL on failure). */
ContainerSpec *ctl_assign_spec(controller *c, ctl_node *n, const ctl_assign *a, berth_error **err);

/* Statuses: take s (owned) as the latest for its container on n. */
void ctl_status_put(controller *c, ctl_node *n, ContainerStatus *s);
/* The node removed the container: forget its status. */
void ctl_status_remove(controller *c, ctl_node *n, const char *id);
/* Replace all of n's statuses with these (owned; the array too). */
void ctl_status_replace(controller *c, ctl_node *n, ContainerStatus **s, size_t count);
ContainerStatus *ctl_status_find(ctl_node *n, const char *id);
uint64_t ctl_status_digest(ctl_node *n);
/* Write dirty statuses now (also done by a timer). */
void ctl_status_flush(controller *c);

/* Metrics: a report is a node's whole round. ctl_samples_begin starts
 * taking one in, ctl_sample_put keeps s (owned) as n's latest sample for
 * its container, ctl_samples_end forgets the containers the round did not
 * have (they stopped). */
void ctl_samples_begin(ctl_node *n);
/* Forget all of n's samples (it left Ready, or a new agent run began). */
void ctl_samples_clear(ctl_node *n);
void ctl_sample_put(ctl_node *n, MetricsSample *s);
void ctl_samples_end(ctl_node *n);
/* CPU in millicores between a sample and the one before; -1 unknown. */
int64_t ctl_sample_cpu_millis(const ctl_sample *s);

/* What the scheduler has handed out on n (sum of requests). */
void ctl_node_allocated(controller *c, ctl_node *n, int64_t *ret_cpu, int64_t *ret_memory);

/* ---- handlers ---- */

/* agent.c: Register, Heartbeat, GetAssignments, ReportStatus; the stream. */
void ctl_agent_service_init(controller *c);
int ctl_stream_init(controller *c, berth_error **err);
/* operator.c: the operator-facing methods. */
void ctl_operator_service_init(controller *c);

/* A call's caller must have role; otherwise it is failed PERMISSION_DENIED
 * and false returned. */
bool ctl_need_role(berth_rpc_call *call, berth_role role);

#endif
