/* berthd's configuration: /etc/berth/agent.yaml, read through lib/yaml
 * (strict: an unknown or mistyped field is an error with file:line:column
 * and the field's path, every error of the file at once, before anything
 * starts), with command-line flags overriding it. */
#ifndef BERTHD_AGENT_CONFIG_H
#define BERTHD_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/log.h"

#define AGENT_LABELS_MAX 64
/* allowed_devices, cdi_spec_dirs */
#define AGENT_DEVICES_MAX  64
#define AGENT_CDI_DIRS_MAX 8

/* The Agent endpoint the controller relays logs, stop and health to: on by
 * default, on every interface (the frames are authenticated as everywhere
 * else; "listen: off" turns it off). */
#define AGENT_LISTEN_DEFAULT "tcp://0.0.0.0:7421"

/* Who makes the containers' cgroups: berth itself under cgroup_parent
 * (cgroupfs), or systemd, as transient slices and scopes in the slice of
 * cgroup_parent (lib/systemd/units.h); auto: systemd when it is the init
 * and answers, as the kubelet's cgroupDriver names them. */
typedef enum agent_cgroup_driver {
    AGENT_CGROUP_DRIVER_AUTO,
    AGENT_CGROUP_DRIVER_CGROUPFS,
    AGENT_CGROUP_DRIVER_SYSTEMD,
} agent_cgroup_driver;

/* "auto", "cgroupfs", "systemd" */
int agent_cgroup_driver_parse(const char *s, agent_cgroup_driver *ret, berth_error **err);

typedef struct agent_config {
    char *node_name; /* default: the host name */
    char *label_keys[AGENT_LABELS_MAX];
    char *label_values[AGENT_LABELS_MAX];
    size_t n_labels;
    char *controller_address; /* rpc address: tcp://HOST:PORT or ipc://PATH */
    char *controller_key;     /* the controller's public key file (pinned) */
    char *state_dir;          /* /var/lib/berth/agent */
    char *image_store;        /* /var/lib/berth/images */
    char *key;                /* the node's secret key file: <state_dir>/node.key */
    char *join_token;         /* "<id>.<secret>", presented at enrollment */
    char *cgroup_parent;      /* /berth (berth.slice with the systemd driver) */
    agent_cgroup_driver cgroup_driver;
    char *socket;          /* local Agent service: /run/berth/agent.sock */
    char *secrets_dir;     /* Secrets' and ConfigMaps' files, a tmpfs: /run/berth/secrets */
    char *listen;          /* remote Agent endpoint for the controller; NULL: off */
    char *advertise;       /* the address reported as NodeInfo.agent_address */
    char *metrics_address; /* /metrics (lib/metrics/listen.h); NULL: off */
    char *operator_names[AGENT_LABELS_MAX]; /* operators admitted on the Agent service */
    char *operator_keys[AGENT_LABELS_MAX];  /* ... and their public key files */
    size_t n_operators;
    char *controller_name;     /* the controller's principal name ("controller") */
    char *monitor;             /* the berth-monitor binary (default: beside berthd) */
    char *puller;              /* the berth-pull binary (default: beside berthd) */
    char *registries;          /* registries.yaml; NULL: /etc/berth/registries.yaml if it exists */
    char *seccomp_profile_dir; /* seccompProfile Localhost files: /etc/berth/seccomp */
    bool allow_privileged;     /* run privileged containers (false) */
    /* Host devices a pod may ask for (CRI-O's allowed_devices, through
     * its io.kubernetes.cri-o.Devices annotation): none by default. */
    char *allowed_devices[AGENT_DEVICES_MAX];
    size_t n_allowed_devices;
    /* Where the node's CDI spec files are: /etc/cdi, /var/run/cdi (the
     * later takes precedence). */
    char *cdi_spec_dirs[AGENT_CDI_DIRS_MAX];
    size_t n_cdi_spec_dirs;
    /* pod_network: mode bridge gives each pod (not hostNetwork) its own
     * address on the node's bridge (lib/net/podnet.h), the default; none
     * leaves pods with loopback only. Its range comes from the
     * controller at registration unless pod_cidr (with cluster_cidr) sets
     * it here. */
    bool pod_network;
    bool pod_vxlan; /* backend vxlan (else host-gw) */
    bool pod_cni;   /* mode cni: the network of cni_conf_dir, its plugins in cni_bin_dir */
    char *cni_conf_dir;
    char *cni_bin_dir;
    char *cni_runner;              /* berth-cni, beside berthd: one ADD or DEL in a process */
    char *pod_bridge;              /* berth0 */
    char *pod_nft_table;           /* berth */
    char *pod_cidr;                /* NULL: the controller's */
    char *pod_cluster_cidr;        /* NULL: the controller's */
    char *pod_node_ip;             /* NULL: found (node_facts_internal_ip) */
    char *pod_resolv_conf;         /* the node's resolv.conf for pods (NULL: found) */
    int64_t image_pull_backoff_ns; /* after a failed pull, doubling to 30 times as long */
    int64_t image_gc_interval_ns;  /* how often images are collected */
    int image_gc_high_percent;     /* collect above this disk use (85) */
    int image_gc_low_percent;      /* down to this (80) */
    int64_t image_gc_min_age_ns;   /* never an image pulled less than this ago (2 min) */
    int max_parallel_pulls;
    int64_t metrics_interval_ns;
    int64_t volume_stats_interval_ns; /* emptyDir sizeLimit checks (10 s) */
    int max_parallel_starts;
    int64_t reserved_cpu_millis;
    int64_t reserved_memory_bytes;
    int64_t stop_grace_ms; /* stopping a container whose spec sets no grace period */
    berth_log_level log_level;
    berth_log_format log_format;
} agent_config;

/* Defaults for everything (strings allocated). Never fails (0). */
int agent_config_defaults(agent_config *cfg, berth_error **err);

/* Apply the YAML file at path over cfg (at most 256 KiB: lib/yaml's
 * settings limits). A missing file is an error (ENOENT) only when
 * must_exist. Nothing of cfg changes when the file has an error; the error
 * lists them all, one a line. */
int agent_config_load(agent_config *cfg, const char *path, bool must_exist, berth_error **err);

/* The same for a YAML text; name is used in error positions. */
int agent_config_parse(agent_config *cfg, const char *name, const char *text, size_t len,
                       berth_error **err);

/* Fill what depends on other fields (the key under the state dir), and
 * check the whole: required fields, addresses. */
int agent_config_finish(agent_config *cfg, berth_error **err);

/* --metrics-interval: a duration of at least 100ms ("10s"). */
int agent_config_metrics_interval(agent_config *cfg, const char *text, berth_error **err);

/* Replace a string field (copied; NULL clears it). Never fails (0). */
int agent_config_set(char **field, const char *value, berth_error **err);

/* Add or replace a label "key=value" (or key and value). */
int agent_config_label(agent_config *cfg, const char *key, const char *value, berth_error **err);

void agent_config_free(agent_config *cfg);

#endif
