/* What the fleet looks like to an operator: the answers of the listing
 * calls, built from the fleet without changing it.
 *
 * An answer borrows the fleet's memory (names, NodeInfo, specs of
 * workloads, statuses, samples): it is valid until the fleet next changes,
 * so it is encoded at once (a handler answers before it returns) and then
 * cleared with its _clear function, which frees what the answer itself
 * holds. */
#ifndef BERTH_CONTROLLER_FLEET_VIEW_H
#define BERTH_CONTROLLER_FLEET_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "fleet.h"
#include "rpc/principal.h"

/* ---- nodes ---- */

typedef struct fleet_node_msg fleet_node_msg;

typedef struct fleet_nodes {
    Node **nodes;
    size_t n_nodes;
    fleet_node_msg *msgs; /* behind nodes */
} fleet_nodes;

/* The nodes whose labels match in's selector, by name. */
void fleet_nodes_list(fleet *f, const ListNodesRequest *in, fleet_nodes *ret);
/* One node; ENOENT "node NAME not found". */
int fleet_nodes_get(fleet *f, const char *name, fleet_nodes *ret, berth_error **err);
void fleet_nodes_clear(fleet_nodes *v);

/* The registered nodes, whom a fleet survey asks (an array to free). */
size_t fleet_registered_nodes(fleet *f, berth_principal **ret_nodes);

/* ---- workloads ---- */

typedef struct fleet_workload_msg fleet_workload_msg;

typedef struct fleet_workloads {
    Workload **workloads; /* with their status: replicas placed, running ... */
    size_t n_workloads;
    fleet_workload_msg *msgs;
    size_t *order;
} fleet_workloads;

/* The workloads in in's namespace (all when empty) whose labels match its
 * selector, by namespace and name. */
void fleet_workloads_list(fleet *f, const ListWorkloadsRequest *in, fleet_workloads *ret);
/* One workload by its key (berth_workload_key); ENOENT "workload NAME not
 * found [in namespace NS]". */
int fleet_workloads_get(fleet *f, const char *key, fleet_workloads *ret, berth_error **err);

/* ---- namespaces ---- */

typedef struct fleet_namespaces {
    Namespace **namespaces; /* by name; shallow copies with workloads counted */
    size_t n_namespaces;
    Namespace *msgs;
} fleet_namespaces;
void fleet_namespaces_list(fleet *f, fleet_namespaces *ret);
void fleet_namespaces_clear(fleet_namespaces *v);
void fleet_workloads_clear(fleet_workloads *v);

/* ---- containers: assigned, reported, or both ---- */

typedef struct fleet_containers {
    ContainerInfo **containers; /* by node, then id */
    size_t n_containers;
    ContainerInfo *infos;
    ContainerStatus *pending; /* the statuses of assigned, unreported ones */
    char **ids;               /* their ids (owned) */
    size_t n_ids;
} fleet_containers;

void fleet_containers_list(fleet *f, const ListContainersRequest *in, fleet_containers *ret);
/* Container id, on node when not empty. ENOENT when no node has it,
 * EBUSY when several do and none is named. */
int fleet_containers_get(fleet *f, const char *id, const char *node, fleet_containers *ret,
                         berth_error **err);
void fleet_containers_clear(fleet_containers *v);

/* ---- pods ---- */

/* Pods are made whole for the answer (owned, unlike the other views). */
typedef struct fleet_pods {
    Pod **pods; /* by name, then node */
    size_t n_pods;
} fleet_pods;

void fleet_pods_list(fleet *f, const ListPodsRequest *in, fleet_pods *ret);
/* Pod name in namespace ns ("": default), on node when not empty. ENOENT
 * when no node has it, EBUSY when several do and none is named. */
int fleet_pods_get(fleet *f, const char *ns, const char *name, const char *node, fleet_pods *ret,
                   berth_error **err);
void fleet_pods_clear(fleet_pods *v);

/* Where Agent calls about container id go (the node running it, or node
 * when not empty): ENOENT, EBUSY as fleet_containers_get, EAGAIN when the
 * node serves no Agent endpoint. */
typedef struct fleet_agent {
    const char *node;
    berth_principal who;
    const char *address;
} fleet_agent;

int fleet_container_agent(fleet *f, const char *id, const char *node, fleet_agent *ret,
                          berth_error **err);

/* ---- metrics ---- */

typedef struct fleet_usage {
    NodeUsage **nodes;
    size_t n_nodes;
    ContainerUsage **containers;
    size_t n_containers;
    NodeUsage *node_usage;
    ContainerUsage *container_usage;
} fleet_usage;

/* The latest samples (CPU from the two latest), filtered as in asks. */
void fleet_usage_list(fleet *f, const TopRequest *in, fleet_usage *ret);
void fleet_usage_clear(fleet_usage *v);

/* ---- events ---- */

typedef struct fleet_events {
    Event **events; /* oldest first */
    size_t n_events;
} fleet_events;

/* The newest in->limit (default 100, at most the store's history) events
 * of in's object kind and name; an error of the store. */
int fleet_events_list(fleet *f, const ListEventsRequest *in, fleet_events *ret, berth_error **err);
void fleet_events_clear(fleet_events *v);

#endif
