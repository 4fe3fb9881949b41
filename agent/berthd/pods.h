/* The sandboxes of this node's pods of several containers
 * (runtime/sandbox.h): <state_dir>/pods/<pod>/, with the cgroup
 * <cgroup_parent>/<pod> that holds the pod's containers' cgroups. Owned by
 * the container table, which decides when a sandbox is needed (a member is
 * about to start) and when it goes (the pod's last container went). A
 * sandbox survives berthd: it is re-adopted at open, and a pause that dies
 * (its PID namespace with it) is reported through lost. */
#ifndef BERTHD_PODS_H
#define BERTHD_PODS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "net/cni.h"
#include "net/podnet.h"
#include "runtime/cgroup.h"
#include "systemd/units.h"

typedef struct pods pods;

typedef struct pods_config {
    berth_loop *loop;
    berth_cgroup_driver *cgroups;
    const char *state_dir;     /* sandboxes in <state_dir>/pods */
    const char *cgroup_parent; /* pod cgroups <cgroup_parent>/<pod> */
    /* systemd's cgroup driver (NULL: cgroupfs): a pod is the slice
     * berth-<pod>.slice in slice, its pause a scope in it */
    berth_systemd *systemd;
    const char *slice;
    /* The sandbox of pod broke (its pause died): its containers must go
     * and start again in a new one. Called from the loop. */
    void (*lost)(const char *pod, void *data);
    /* pod's network, being made (a CNI ADD: pods_ensure said EINPROGRESS),
     * is made or failed: the next pods_ensure says which (pod NULL: every
     * pod's may go on now, the CNI start-up sweep ended). Called from the
     * loop. */
    void (*network_done)(const char *pod, void *data);
    void *data;
    /* Sandboxes not on the host's network need the pod network: ENONET
     * until pods_set_network gives it. */
    bool network;
    /* The node's resolv.conf the pods' start from (NULL: /etc/resolv.conf,
     * or systemd-resolved's upstream file when that one only names a
     * loopback stub). */
    const char *resolv_conf;
} pods_config;

/* What a pod's sandbox is made of: the settings its containers share. */
typedef struct pods_sandbox {
    const char *hostname;
    bool host_network;
    bool share_pid;
    const berth_cgroup_limits *limits; /* the pod's (NULL: none) */
    const PodDNS *dns;                 /* its dnsPolicy/dnsConfig (NULL: none) */
    /* its host ports: for a CNI network's portmap (the built-in network
     * publishes them through pods_publish) */
    const berth_podnet_port *ports;
    size_t n_ports;
} pods_sandbox;

/* Open: the sandboxes on disk are adopted (their pauses watched). */
int pods_open(const pods_config *cfg, pods **ret, berth_error **err);
/* The sandboxes stay. NULL is fine. */
void pods_close(pods *p);

/* The sandbox directory and the cgroup of pod; the directory of its
 * emptyDir volumes (<state_dir>/volumes/<pod>: kept when a sandbox is
 * made anew, removed with the pod). */
void pods_dir(const pods *p, const char *pod, char *buf, size_t size);
void pods_volumes_dir(const pods *p, const char *pod, char *buf, size_t size);
void pods_cgroup(const pods *p, const char *pod, char *buf, size_t size);
/* pod's slice under systemd's driver ("" with cgroupfs). */
void pods_slice(const pods *p, const char *pod, char *buf, size_t size);

/* Whether pod's sandbox is there and whole (false too while it is being
 * removed). */
bool pods_whole(pods *p, const char *pod, const pods_sandbox *want);

/* Make pod's sandbox whole: nothing when it is; else what is left of it
 * goes and it is made anew (the caller made sure that none of the pod's
 * containers runs). Returns at once (a helper process that is gone when it
 * returns). EBUSY: an old sandbox is still being removed. EINPROGRESS:
 * its CNI network is being made (berth-cni; network_done is called when
 * it ends, and the next call finishes it, or says ENONET and why). */
int pods_ensure(pods *p, const char *pod, const pods_sandbox *want, berth_error **err);

/* The pod network (NULL: none): every sandbox made from now on that is
 * not on the host's network gets an address on it (a failure is ENONET),
 * and a removed one gives its address back. Addresses of pods whose
 * sandbox is gone are given back now. */
void pods_set_network(pods *p, berth_podnet *net);
/* The same for an operator's CNI network (in place of the built-in one),
 * ADD and DEL run by runner (berth-cni) in a process of its own; pods gone
 * while berthd was away are DEL'd now, and the adopted ones CHECKed. */
void pods_set_cni(pods *p, berth_cni *cni, const char *runner);
/* Publish pod's host ports on the node (berth_podnet_publish), when there
 * is a pod network. */
int pods_publish(pods *p, const char *pod, const berth_podnet_port *ports, size_t n,
                 berth_error **err);

/* What pod's network interface received and sent, on the built-in
 * network: false when there is none (or no figure: a CNI network's). */
bool pods_net_stats(pods *p, const char *pod, berth_link_counters *ret);

/* pod's address on the pod network ("10.244.1.5") into buf: false when it
 * has none. */
bool pods_ip(pods *p, const char *pod, char buf[16]);

/* pod has no container any more: its sandbox goes, from the loop (again
 * later while its cgroup is busy). Unknown pods are fine. */
void pods_release(pods *p, const char *pod);

/* Release every sandbox on disk whose pod in_use says is not in use. */
void pods_sweep(pods *p, bool (*in_use)(const char *pod, void *data), void *data);

#endif
