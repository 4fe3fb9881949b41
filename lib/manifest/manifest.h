/* Manifests: Kubernetes-shaped YAML turned into Workloads.
 *
 * Kinds: apiVersion berth/v1 Pod, Deployment and DaemonSet, and
 * Kubernetes' own v1 Pod and apps/v1 Deployment/DaemonSet for the same
 * subset of fields (README "Manifests" lists them); v1 Namespace;
 * policy/v1 PodDisruptionBudget. A file may hold many
 * documents (---). Parsing is strict, with lib/yaml's rules: an unknown
 * field, a value of the wrong type, a quantity, name or path that does not
 * parse, is an error naming where it is and what it is:
 *
 *   web.yaml:12:7: spec.template.spec.containers[0].resources.limits.memory:
 *   memory quantity '64Mx': unknown suffix 'x' (...)
 *
 * (one line; line and column count from 1), and a file with any error
 * yields nothing. Every ContainerSpec a manifest produces has passed
 * berth_spec_validate. Input is bounded before anything is allocated
 * (the limits below); anchors and aliases are refused. Pure: no I/O, no
 * globals. */
#ifndef BERTH_MANIFEST_MANIFEST_H
#define BERTH_MANIFEST_MANIFEST_H

#include <stddef.h>

#include "base/error.h"
#include "berth/proto/v1.h"

#define BERTH_MANIFEST_BYTES_MAX     (1 << 20)
#define BERTH_MANIFEST_DOCUMENTS_MAX 256
#define BERTH_MANIFEST_DEPTH_MAX     32
#define BERTH_MANIFEST_EVENTS_MAX    200000

typedef struct berth_manifest {
    /* In document order; each with kind, name, labels, replicas (1 for a
     * Pod, 0 for a DaemonSet), template (id "template"), node_selector,
     * namespace (as written, empty when the document names none) and
     * source set; generation, times and status left 0. Owned. */
    Workload **workloads;
    size_t n_workloads;
    /* kind: Namespace, in document order: name, labels, source. Owned. */
    Namespace **namespaces;
    size_t n_namespaces;
    /* kind: PodDisruptionBudget (policy/v1), in document order: name,
     * namespace (as written), labels, source and the spec. Owned. */
    PodDisruptionBudget **budgets;
    size_t n_budgets;
    /* kind: Secret and ConfigMap (v1), in document order: name, namespace
     * (as written), labels, source, type (a Secret's, "Opaque" when none),
     * data (values decoded; stringData merged over a Secret's data),
     * binary_keys, immutable. Owned; freed with the values wiped. */
    ConfigObject **objects;
    size_t n_objects;
} berth_manifest;

/* Parse len bytes of text. source names the file in errors ("web.yaml",
 * "-"). On failure *err holds every error, one per line (EINVAL; EFBIG
 * for a text over BERTH_MANIFEST_BYTES_MAX), at most BERTH_YAML_ERRORS_MAX
 * and a count of the others, and nothing is returned. A manifest with no
 * documents is valid and empty. */
int berth_manifest_parse(const char *text, size_t len, const char *source,
                         berth_manifest **ret_manifest, berth_error **err);
void berth_manifest_free(berth_manifest *m);
/* Free an object, its values wiped first (NULL accepted); n of them and
 * the array. */
void berth_config_object_free(ConfigObject *o);
void berth_config_objects_free(ConfigObject **objects, size_t n);

#endif
