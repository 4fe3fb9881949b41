/* berth-controller's settings: defaults, then the YAML file
 * (/etc/berth/controller.yaml when present, or --config FILE), then flags.
 * The file is a flat mapping of the same names as the long flags
 * (state_dir, rpc, events, ...), read through lib/yaml: an unknown key, a
 * value of the wrong type or a bad value is an error with
 * file:line:column and the setting's name, every one of the file at once,
 * before anything starts. */
#ifndef BERTH_CONTROLLER_CONFIG_H
#define BERTH_CONTROLLER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/log.h"

#define CTL_RPC_ADDRS_MAX 4
#define CTL_ETCD_MAX      8

typedef struct ctl_config {
    char *name;      /* the controller's principal name ("controller") */
    char *state_dir; /* berth.db, keys */
    char *operators_dir;
    /* Where to bind; rpc may have several addresses (tcp and ipc, say). */
    char *rpc[CTL_RPC_ADDRS_MAX];
    int n_rpc;
    bool rpc_set; /* rpc came from the current source: a next one appends */
    char *events, *stream, *survey;
    /* The host put in advertised tcp endpoints whose bind host is a
     * wildcard (0.0.0.0, *): default the machine's host name. */
    char *advertise_host;
    /* Leases: interval = max(min, nodes / max_rate); a node is Unknown
     * after misses intervals without a heartbeat and Down grace later. */
    int64_t heartbeat_min_ns;
    uint32_t heartbeat_max_rate;
    uint32_t heartbeat_misses;
    int64_t down_grace_ns;
    /* Pod ranges: each node gets a /node_cidr_mask_size of cluster_cidr
     * (kube-controller-manager's --cluster-cidr, --node-cidr-mask-size). */
    char *cluster_cidr;
    uint32_t node_cidr_mask_size;
    /* The store: "sqlite" (berth.db in state_dir, one controller) or
     * "etcd" (several controllers on one fleet: store.h). */
    char *store;
    /* etcd: its members' client URLs (a list, or one text split at
     * commas), the key prefix, TLS files (NULL: none). */
    char *etcd_endpoints[CTL_ETCD_MAX];
    int n_etcd;
    char *etcd_prefix, *etcd_ca_file, *etcd_cert_file, *etcd_key_file;
    /* The election: this member's name (default the host name) and its
     * lease (whole seconds, 2 s to 60 s). */
    char *member;
    int64_t leader_lease_ns;
    /* /metrics (lib/metrics/listen.h): default 127.0.0.1:7104; NULL: off. */
    char *metrics_address;
    berth_log_level log_level;
    berth_log_format log_format;
} ctl_config;

/* Defaults (allocated). Never fails (0). */
int ctl_config_defaults(ctl_config *c, berth_error **err);
/* Read a config file over c (at most 256 KiB, lib/yaml's settings
 * limits). missing_ok: a file that does not exist is fine (the default
 * path). An rpc list in the file replaces the defaults, and an rpc setting
 * after the load (a flag) replaces the file's list. On failure c may hold
 * part of the file: free it. */
int ctl_config_load(ctl_config *c, const char *path, int missing_ok, berth_error **err);
/* Set one setting by its name ("heartbeat_min_interval", "rpc" ...) from
 * text (a flag's), with the file's checks and ranges; ENOENT for a name
 * that is no setting. "rpc" replaces the previous
 * source's list at its first use and appends after. */
int ctl_config_set(ctl_config *c, const char *key, const char *value, berth_error **err);
void ctl_config_free(ctl_config *c);

#endif
