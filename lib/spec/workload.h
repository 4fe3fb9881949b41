/* Workloads and their replicas: names, kinds, the id and ContainerSpec of
 * each replica. Shared by the manifest parser, the controller and berthctl,
 * so a replica is named the same everywhere. */
#ifndef BERTH_SPEC_WORKLOAD_H
#define BERTH_SPEC_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "spec.h"

/* Workload names: 1-53 of [a-z0-9-], first and last a letter or digit, so
 * that "<name>-<index>" stays a hostname (63). */
#define BERTH_WORKLOAD_NAME_MAX 53
/* The label a replica's spec carries with its workload's name. */
#define BERTH_LABEL_WORKLOAD "berth.workload"
/* The label each container's spec carries with its name in the pod. */
#define BERTH_LABEL_CONTAINER "berth.container"
#define BERTH_REPLICAS_MAX    1000
/* Containers of one pod, init containers included. */
#define BERTH_POD_CONTAINERS_MAX 32
#define BERTH_ID_BUF             (BERTH_SPEC_ID_MAX + 1)

bool berth_workload_name_valid(const char *name);

/* Namespaces: Kubernetes' (a DNS label: 1-63 of [a-z0-9-], first and last
 * a letter or digit). A workload's is "default" when it names none, and
 * stored so (Workload.namespace empty), which keeps the ids of its
 * replicas the workload's alone. */
#define BERTH_NAMESPACE_MAX     63
#define BERTH_NAMESPACE_DEFAULT "default"
#define BERTH_NAMESPACE_BUF     (BERTH_NAMESPACE_MAX + 1)
/* The label a replica's spec carries with its namespace, outside
 * "default". */
#define BERTH_LABEL_NAMESPACE "berth.namespace"
/* What tells a replica's namespace in its id: "<ns>__<id>". Nothing else
 * makes "__" in an id (workload, node and container names have no '_'). */
#define BERTH_NAMESPACE_SEP "__"

bool berth_namespace_name_valid(const char *name);
/* ns itself, or "default" for NULL or "". */
const char *berth_namespace_or_default(const char *ns);
/* Whether ns is the default namespace (NULL, "" or "default"). */
bool berth_namespace_is_default(const char *ns);

/* A workload's key, unique in the fleet: its name in "default",
 * "<ns>/<name>" elsewhere (the store's and the events' name for it). */
#define BERTH_WORKLOAD_KEY_BUF (BERTH_NAMESPACE_MAX + 1 + BERTH_WORKLOAD_NAME_MAX + 1)
void berth_workload_key(const char *ns, const char *name, char ret_key[BERTH_WORKLOAD_KEY_BUF]);

/* A container or pod id's namespace (into ret_ns, "default" when it has
 * no "<ns>__" prefix; ret_ns may be NULL) and the rest of it, a pointer
 * into id: "team__web-0" is web-0 in team, "web-0" web-0 in default. */
const char *berth_id_split(const char *id, char ret_ns[BERTH_NAMESPACE_BUF]);
/* The reverse: name in namespace ns (NULL, "" or "default": the name as
 * it is). False when the result did not fit in BERTH_ID_BUF (truncated). */
bool berth_id_join(const char *ns, const char *name, char ret_id[BERTH_ID_BUF]);

/* "Pod", "Deployment", "DaemonSet"; "Unknown" otherwise. */
const char *berth_workload_kind_name(WorkloadKind kind);
/* The reverse (exact spelling); UNSPECIFIED when not a kind. */
WorkloadKind berth_workload_kind_parse(const char *name);

/* The container id of a replica: "<workload>-<index>" for Pods and
 * Deployments, "<workload>.<node>" for DaemonSets, with "<ns>__" before
 * it outside the namespace "default" (ns NULL or "" is that one). Unique by construction:
 * a workload name has no '.', so the two shapes never meet, and no two
 * workloads share a prefix up to the separator (they used to: DaemonSet X
 * on node Y-1 and replica 1 of Deployment X-Y were both X-Y-1). Always a
 * valid id for a valid workload name and a valid node name (at most
 * 53 + 1 + 63 characters); a node that is not one gets
 * "<workload>._<16 hex digits>", which no valid node name makes. */
void berth_replica_id(const char *ns, const char *workload, WorkloadKind kind, uint32_t index,
                      const char *node, char ret_id[BERTH_ID_BUF]);

/* The spec replica id of w runs: a copy of w->template with id set and the
 * labels berth.workload=<name> and berth.replica=<index or node> added
 * (replacing same-named ones), and berth.namespace=<ns> outside "default".
 * A DaemonSet replica whose template names no hostname gets its name (its
 * id without "<ns>__") with '-' for '.', cut to 63 characters, as its
 * hostname; a Deployment's id is its hostname as it is in "default", its
 * name elsewhere, cut to 63 characters when longer (a revision's replica
 * "<name>-<hash>-<index>" may be). Free with
 * container_spec_free_unpacked(spec, NULL). */
int berth_replica_spec(const Workload *w, const char *id, const char *replica,
                       ContainerSpec **ret_spec, berth_error **err);

/* A container's name in its pod: PodMember.name, else its label
 * berth.container, else "". */
const char *berth_container_name(const ContainerSpec *s);

/* How many containers a replica of w has (init containers too): 1 for a
 * pod of one container. */
size_t berth_pod_size(const Workload *w);
/* The template of the i-th (< berth_pod_size) container of w's pod: the
 * init containers in order, then template, then pod.containers; with its
 * role and its position among the init containers. */
const ContainerSpec *berth_pod_container(const Workload *w, size_t i, PodRole *ret_role,
                                         uint32_t *ret_init_index);

/* A pod's amount of one resource as Kubernetes counts it (its
 * PodRequests, PodLimits): the larger of the sum over its containers and
 * sidecars, and of each init container's own plus the sidecars started
 * before it. c[0..n) are the pod's containers in berth_pod_container's
 * order (init containers, sidecars among them, first), roles[i] the role
 * of each; amount(c[i], arg) what one asks for. */
typedef int64_t (*berth_container_amount_fn)(const ContainerSpec *c, const void *arg);
int64_t berth_pod_amount(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                         berth_container_amount_fn amount, const void *arg);

/* A pod's cpu and memory requests and limits, each by that rule (a
 * container without a limit adds 0), for its containers c[0..n) with
 * roles. */
typedef struct berth_pod_resources {
    int64_t cpu_request_millis, memory_request_bytes;
    int64_t cpu_limit_millis, memory_limit_bytes;
} berth_pod_resources;
void berth_pod_resources_of(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                            berth_pod_resources *ret);

/* What a replica of w asks of its node (requests), by that rule. */
void berth_pod_requests(const Workload *w, int64_t *ret_cpu_millis, int64_t *ret_memory_bytes);

/* An extended resource ("example.com/dev") and a count of it. */
typedef struct berth_resource_count {
    const char *name;
    int64_t count;
} berth_resource_count;

/* How many of extended resource name (a const char *) container c asks
 * for: its Resources.extended entry (a limit, which is its request), 0
 * when none. A berth_container_amount_fn. */
int64_t berth_container_extended(const ContainerSpec *c, const void *name);

/* The extended resources a pod asks of its node, each by the rule of
 * berth_pod_amount: a new array sorted by name (free it; NULL when
 * none), names pointing into the specs, none of count 0 (Kubernetes: a
 * limit of 0 asks for nothing). Returns its length. For the containers
 * c[0..n) with roles, or for a replica of w. */
size_t berth_pod_extended_of(const ContainerSpec *const *c, const PodRole *roles, size_t n,
                             berth_resource_count **ret);
size_t berth_pod_extended(const Workload *w, berth_resource_count **ret);

/* The specs replica id of w runs: for a pod of one container, the one of
 * berth_replica_spec; for a pod of several, each container (in the order
 * of berth_pod_container) as "<id>_<name>" with its PodMember, and the
 * pod's hostname (the template's, else made from id). A new array of new
 * specs: berth_specs_free. */
int berth_replica_specs(const Workload *w, const char *id, const char *replica,
                        ContainerSpec ***ret_specs, size_t *ret_n, berth_error **err);
void berth_specs_free(ContainerSpec **specs, size_t n);

#endif
