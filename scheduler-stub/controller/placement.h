/* Placement: which node runs which replica. A pure function over a fleet
 * model (nodes, workloads, where replicas are now) that returns where they
 * should be; no I/O, no clock, deterministic for the same input, so the
 * controller can run it after every change and tests can run it on made-up
 * fleets.
 *
 * Rules:
 * - A replica that succeeded (done) stays where it is, whatever its node.
 * - A replica stays where it is while its node may run it: the workload
 *   still wants it (index < replicas, or among its indices), the node still matches the
 *   nodeSelector, is not Down and not drained (DaemonSet replicas stay on
 *   drained and Down nodes), and the node's allocations still fit its
 *   capacity. Running replicas are never moved to rebalance; an evicted
 *   one moves to another node (as a missing one is placed, that node
 *   excepted).
 * - Missing Deployment and Pod replicas go to Ready, uncordoned nodes that
 *   match the nodeSelector and fit the replica's requests (cpu, memory,
 *   extended resources, container count): the node with the fewest
 *   replicas of the same workload, then the fewest containers, then the
 *   first by input order.
 * - Extended resources ("example.com/dev") are counted as Kubernetes
 *   counts them: a node has so many of each (none of a name it does not
 *   list), a new replica asking for one fits only where enough are free
 *   (the node's count minus what the replicas already there ask for). A
 *   replica that stays keeps what it has when its node comes to count
 *   fewer: Kubernetes never takes a device from a running pod.
 * - A DaemonSet has one replica on every Ready node that matches its
 *   nodeSelector (cordoned ones included, as Kubernetes does), when it fits.
 * - Kubernetes' rules narrow the nodes: nodeName (that node only),
 *   required node affinity (a node matches one of the terms), taints:
 *   NoSchedule and NoExecute keep off new replicas that do not tolerate
 *   them, PreferNoSchedule makes placement prefer other nodes, and
 *   NoExecute also takes running replicas off a node (those that tolerate
 *   it for tolerationSeconds once that has passed since the taint was
 *   added: placement then says when the next such eviction is due). A
 *   replica also leaves a node whose labels or name no longer match.
 * - What cannot be placed is counted per workload with the reason, e.g.
 *   "0/3 nodes can take a replica: 2 have less than 2 CPUs free, 1 is not
 *   Ready", "0/2 nodes can take a replica: 2 Insufficient example.com/dev"
 *   (Kubernetes' words). Workloads are served in input order, so earlier
 *   ones win when capacity is short. */
#ifndef BERTH_CONTROLLER_PLACEMENT_H
#define BERTH_CONTROLLER_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"
#include "spec/workload.h"

typedef struct berth_label {
    const char *key, *value;
} berth_label;

typedef enum berth_place_state {
    BERTH_PLACE_READY,
    BERTH_PLACE_UNKNOWN,      /* lease ran out: keeps what it has, gets nothing new */
    BERTH_PLACE_DOWN,         /* past the grace period: its Deployment/Pod replicas move */
    BERTH_PLACE_UNREGISTERED, /* admitted, never registered (or pending approval) */
} berth_place_state;

typedef struct berth_place_node {
    const char *name;
    berth_place_state state;
    bool cordoned, drained;
    const berth_label *labels;
    size_t n_labels;
    /* What the scheduler may hand out. */
    int64_t cpu_millis, memory_bytes;
    uint32_t max_containers; /* 0 = no limit */
    /* Its extended resources, each name once ("example.com/dev": 4). */
    const berth_resource_count *extended;
    size_t n_extended;
    Taint *const *taints;
    size_t n_taints;
} berth_place_node;

typedef struct berth_place_workload {
    const char *name;
    WorkloadKind kind;
    uint32_t replicas; /* ignored for DaemonSets; Pods have 1 */
    /* What each replica requests; its extended resources each name once
     * (a count of 0 or less asks for nothing). */
    int64_t cpu_millis, memory_bytes;
    const berth_resource_count *extended;
    size_t n_extended;
    const berth_label *selector;
    size_t n_selector;
    const char *node_name; /* NULL or "": any */
    NodeSelectorTerm *const *affinity;
    size_t n_affinity;
    Toleration *const *tolerations;
    size_t n_tolerations;
    /* The host ports each replica takes on its node: BERTH_PLACE_PORT. */
    const uint32_t *host_ports;
    size_t n_host_ports;
    /* A Deployment's revision: exactly these replica indices, ascending
     * (replicas is ignored); NULL: 0 to replicas - 1. */
    const uint32_t *indices;
    size_t n_indices;
    /* A Job's: a replica that is done stays where it is even when not
     * wanted any more (its pod and log are kept until the Job goes). */
    bool keep_done;
    /* Its replicas may stay where they are (each checked against its own
     * requests), but it gets no new ones: a DaemonSet's older revisions. */
    bool keep_only;
    /* A DaemonSet's revisions are one DaemonSet: the workloads
     * [group_first, group_first + group_n) (group_n 0: this one alone); a
     * node with a replica of any of them has the DaemonSet's. */
    size_t group_first, group_n;
} berth_place_workload;

/* A host port as placement counts it: protocol and port in one number. */
#define BERTH_PLACE_PORT(udp, port) (((uint32_t)(udp) << 16) | (uint32_t)(port))

/* A replica on a node. replica is the index for Deployments and Pods, 0
 * for DaemonSets (whose replicas are told apart by node). done: it ended
 * for good (a pod whose phase is Succeeded): it is never run again, so it
 * stays where it is whatever becomes of its node (Down, drained,
 * cordoned, tainted, relabelled), and takes nothing there, as Kubernetes
 * counts no finished pod against a node. */
typedef struct berth_place_slot {
    size_t workload, node;
    uint32_t replica;
    bool done;
    /* In the current set: evicted (Kubernetes' Eviction): it leaves this
     * node and is placed anew on another one, like a missing replica. A
     * DaemonSet's, or one that is done, stays. */
    bool evict;
} berth_place_slot;

typedef struct berth_place_input {
    const berth_place_node *nodes;
    size_t n_nodes;
    const berth_place_workload *workloads;
    size_t n_workloads;
    /* Where replicas are now. Slots naming a workload or node out of range
     * are dropped. */
    const berth_place_slot *current;
    size_t n_current;
    /* The time (Unix ns), for NoExecute taints' tolerationSeconds. */
    int64_t now_ns;
} berth_place_input;

#define BERTH_PLACE_MESSAGE_MAX 256

typedef struct berth_place_status {
    uint32_t desired; /* replicas wanted (matching nodes for a DaemonSet) */
    uint32_t placed;
    uint32_t unschedulable;
    char message[BERTH_PLACE_MESSAGE_MAX]; /* why, when unschedulable > 0 */
} berth_place_status;

typedef struct berth_place_result {
    /* The complete new set, sorted by workload, then replica, then node. */
    berth_place_slot *slots;
    size_t n_slots;
    /* One per input workload. */
    berth_place_status *status;
    /* When a replica that tolerates a NoExecute taint for a while must
     * leave its node (Unix ns; 0: none is due): place again then. */
    int64_t next_eviction_ns;
} berth_place_result;

/* Compute the placement (it cannot fail). Clear the result with
 * berth_place_result_clear. */
void berth_place(const berth_place_input *in, berth_place_result *ret);
void berth_place_result_clear(berth_place_result *r);

/* Whether toleration t tolerates taint (Kubernetes' rules). */
bool berth_toleration_matches(const Toleration *t, const Taint *taint);
/* Whether a node (its name and labels) matches one of the terms (true
 * when there are none). */
bool berth_node_affinity_matches(NodeSelectorTerm *const *terms, size_t n_terms,
                                 const char *node_name, const berth_label *labels, size_t n_labels);

/* Whether labels contain every pair of selector. */
bool berth_labels_match(const berth_label *selector, size_t n_selector, const berth_label *labels,
                        size_t n_labels);

#endif
