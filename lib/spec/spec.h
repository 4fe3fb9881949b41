/* Validation of a ContainerSpec before anything touches the system. Every
 * field from the wire or a manifest is checked here, with caps on sizes and
 * counts, and rejected with a message naming the field
 * ("spec.resources.memory_bytes: 1024 is below the minimum of 4Mi"). */
#ifndef BERTH_SPEC_SPEC_H
#define BERTH_SPEC_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "image/ref.h"

typedef ContainerSpec berth_spec;

/* "<ns>__<workload>.<node>_<container>": 63 + 2 + 53 + 1 + 63 + 1 + 63,
 * and a file name's 255 at most */
#define BERTH_SPEC_ID_MAX 255
/* A pod's id leaves room for "_<container>" (1 + 63). */
#define BERTH_POD_ID_MAX      191
#define BERTH_POD_ID_BUF      (BERTH_POD_ID_MAX + 1)
#define BERTH_SPEC_ARGS_MAX   4096
#define BERTH_SPEC_ENV_MAX    4096
#define BERTH_SPEC_ARGV_BYTES (1 << 20) /* command + args + env, as execve counts */
#define BERTH_SPEC_MOUNTS_MAX 64
#define BERTH_SPEC_MEMORY_MIN (4LL << 20)
#define BERTH_SPEC_PATH_MAX   4095
/* Devices a container asks for by name (ContainerSpec.devices). */
#define BERTH_SPEC_DEVICES_MAX 64
/* Kubernetes' extended resources of one container (Resources.extended),
 * and the most of one it may ask for. */
#define BERTH_SPEC_EXTENDED_MAX       32
#define BERTH_SPEC_EXTENDED_COUNT_MAX 1024

/* Check every field. 0 if the spec is valid. With an image, command may
 * be empty (the image's config may give one: berth_spec_effective). */
int berth_spec_validate(const berth_spec *spec, berth_error **err);

/* The spec a container runs: spec with the pulled image's config applied
 * as Kubernetes applies it (img NULL: a rootfs or a directory image, which
 * have none): no command takes the image's Entrypoint, and its Cmd unless
 * args are given; the image's Env below the spec's own; its WorkingDir,
 * User (resolved by the puller) and StopSignal where the spec sets none.
 * The result must have a command and pass berth_spec_validate. New spec
 * in *ret (BERTH_PB_FREE). */
int berth_spec_effective(const berth_spec *spec, const ImageConfig *img, berth_spec **ret,
                         berth_error **err);

/* The spec's image_pull_policy, or Kubernetes' default for its image:
 * Always for :latest or no tag, else IfNotPresent. */
berth_pull_policy berth_spec_pull_policy(const berth_spec *spec);

/* Whether s is a valid container id: 1-255 of [a-z0-9_.-], first [a-z0-9]. */
bool berth_spec_id_valid(const char *s);

/* Labels (and selectors, taints): a key of 1-63 of [A-Za-z0-9._-] with at
 * most one '/', starting with a letter or digit; a value of up to 63 of
 * [A-Za-z0-9._-]. */
#define BERTH_LABEL_LEN_MAX 63
bool berth_label_key_valid(const char *key);
/* A key of a Secret or ConfigMap (Kubernetes' rule): 1-253 of a-z A-Z 0-9
 * . _ -, not "." and not starting with "..". */
bool berth_config_key_valid(const char *key);
/* Where a key is projected in its volume: relative, at most 253
 * characters, no empty or "." element, none starting with "..". */
bool berth_config_path_valid(const char *path);
bool berth_label_value_valid(const char *value);

/* What the node knows that env_refs ask for. */
typedef struct berth_env_facts {
    const char *pod, *namespace_, *uid, *node, *pod_ip, *host_ip;
    int64_t node_cpu_millis, node_memory_bytes; /* for limits not set */
} berth_env_facts;

/* Whether path is a fieldRef berth fills in. */
bool berth_env_field_path_valid(const char *path);
/* The value of ref for container self of a pod whose containers are
 * pod[0..n) (self among them, or n == 0), into buf. -1 (*err) when it
 * names no container of the pod. */
int berth_env_ref_value(const EnvFieldRef *ref, const berth_env_facts *facts,
                        const ContainerSpec *self, ContainerSpec *const *pod, size_t n, char *buf,
                        size_t size, berth_error **err);
/* Put "NAME=value" entries into s->env, each replacing one of the same
 * name. */
void berth_spec_env_put(berth_spec *s, char *const *env, size_t n);

/* Why name is not a Kubernetes extended resource name (NULL: it is one):
 * "DOMAIN/NAME", DOMAIN a DNS subdomain (lower case; at most 244
 * characters, so that Kubernetes' quota name "requests.DOMAIN/NAME" is
 * one too) outside Kubernetes' own kubernetes.io, NAME 1-63 of
 * [A-Za-z0-9._-] with a letter or digit at both ends, the whole not
 * starting with "requests.". The reason is a static string that follows
 * the name: "doesn't follow extended resource name standard (...)". */
const char *berth_extended_resource_name_problem(const char *name);

/* A device a container asks for (ContainerSpec.devices): a host device
 * node by its absolute, normalised path, with a container path (empty:
 * the same; else absolute, normalised) and cgroup permissions (empty:
 * "rwm"; else a subset of "rwm", each letter once); or a CDI device by its
 * fully qualified name ("vendor.com/class=name", "=all"), which takes
 * neither (its CDI spec says them). 0, or -1 with *err saying why
 * ("container path 'tun0' must be an absolute, normalised path"). */
int berth_device_request_validate(const DeviceRequest *d, berth_error **err);

/* Whether name is one of Kubernetes' safe (namespaced) sysctls. */
bool berth_spec_sysctl_safe(const char *name);

/* Whether s is a DNS label (RFC 1123, as Kubernetes' container names):
 * 1-63 of [a-z0-9-], first and last a letter or digit. */
bool berth_spec_dns_label_valid(const char *s);

/* The id of container name of pod: "<pod>_<name>" (PodMember). False
 * when that is no valid id. */
bool berth_spec_member_id(const char *pod, const char *name, char *ret_id, size_t size);

/* Whether s is a valid image name: 1-128 of [a-zA-Z0-9_.:-], first
 * alphanumeric; never "." or ".." and no '/'. */
bool berth_spec_image_name_valid(const char *s);

/* Whether image names a directory image of the image store at store
 * (STORE/NAME, a real directory, not one of the store's own entries):
 * used as it is, never pulled. The one check here that looks at the
 * file system. */
bool berth_spec_dir_image(const char *store, const char *image);

/* Effective values with defaults applied. */
int64_t berth_spec_stop_grace_ms(const berth_spec *spec); /* 10000 */
int berth_spec_stop_signal(const berth_spec *spec);       /* SIGTERM */
int64_t berth_spec_log_max_bytes(const berth_spec *spec); /* 10 MiB */
int berth_spec_log_max_files(const berth_spec *spec);     /* 5 */

/* Capability name ("NET_ADMIN", "cap_net_admin", "ALL") to a bit mask of
 * capability numbers; ALL gives every capability linux/capability.h names
 * (the runtime keeps those the running kernel knows). */
int berth_cap_parse(const char *name, uint64_t *ret_mask, berth_error **err);

/* Docker's default 14 capabilities. */
uint64_t berth_caps_default(void);

/* The spec's final capability set: default minus drop plus add. */
int berth_spec_caps(const berth_spec *spec, uint64_t *ret_mask, berth_error **err);

/* A cpuset list ("0-3,6"): numbers up to 8191, ranges ascending. field
 * names it in the error. */
int berth_cpuset_validate(const char *list, const char *field, berth_error **err);

/* Rlimit name ("nofile", "RLIMIT_NOFILE") to its RLIMIT_* number. */
int berth_rlimit_parse(const char *name, int *ret_resource, berth_error **err);

#endif
