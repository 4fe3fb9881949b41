/* lib/net/podnet: the node's default pod network, built in (what CNI's
 * bridge + host-local plugins and a masquerade rule would give, without
 * an exec per pod):
 *
 *   - a bridge (berth0) holding the first address of the node's pod range,
 *     up, with IPv4 forwarding on;
 *   - per pod, a veth pair: "bv<12 hex of the pod's hash>" on the bridge,
 *     "eth0" in the pod's network namespace with the pod's address from the
 *     range (ipam.h) and a default route through the bridge;
 *   - nftables (nft.h): the pods' traffic to outside the cluster range
 *     masqueraded.
 *
 * All of it in the caller's network namespace (the node's), but the pod's
 * side. State: the address files (<dir>/<a.b.c.d>); what the kernel holds
 * outlives berthd, so a pod keeps its network across agent restarts and the
 * next one finds it. Not thread-safe; every call returns at once. */
#ifndef BERTH_NET_PODNET_H
#define BERTH_NET_PODNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "netlink.h"

typedef struct berth_podnet berth_podnet;

typedef struct berth_podnet_config {
    const char *dir;          /* the address files */
    const char *bridge;       /* the bridge's name ("berth0") */
    const char *pod_cidr;     /* this node's range ("10.244.1.0/24") */
    const char *cluster_cidr; /* every node's ranges ("10.244.0.0/16") */
    const char *table;        /* berth's nftables table ("berth") */
    /* Between nodes: routes through their addresses when they share a
     * link (host-gw, false), or a VXLAN overlay when they do not (true,
     * flannel's vxlan backend): the device BERTH_VXLAN_DEV, VNI 1, UDP
     * 8472, from node_ip (network order), with the MAC berth_vtep_mac. */
    bool vxlan;
    uint32_t node_ip;
} berth_podnet_config;

#define BERTH_VXLAN_DEV  "berth.vx"
#define BERTH_VXLAN_VNI  1
#define BERTH_VXLAN_PORT 8472

/* A node's VTEP MAC, made from its address as CNI makes pod MACs
 * (0a:58 and the four bytes): every node knows every other's with no
 * more than its address. */
void berth_vtep_mac(uint32_t node_ip, uint8_t mac[6]);

/* Make (or find) the bridge, its address, forwarding and the rules. */
int berth_podnet_open(const berth_podnet_config *cfg, berth_podnet **ret, berth_error **err);
/* What the kernel holds stays (the pods keep their network). */
void berth_podnet_close(berth_podnet *n);

/* Give pod its network in the namespace bound at netns_path: its address
 * (the one it has, or a new one; ENOSPC when the range is full), its veth
 * (made anew when a half-made one is there), its route. */
int berth_podnet_attach(berth_podnet *n, const char *pod, const char *netns_path,
                        uint32_t *ret_addr, berth_error **err);
/* pod's address, when it has one: 1, else 0. */
int berth_podnet_addr(berth_podnet *n, const char *pod, uint32_t *ret_addr, berth_error **err);
/* Take pod's network away: its veth (the peer goes with it) and its
 * address. 0 also when it had none. */
int berth_podnet_detach(berth_podnet *n, const char *pod, berth_error **err);
/* Detach every pod that keep says is gone (keep NULL: all); how many. */
int berth_podnet_sweep(berth_podnet *n, bool (*keep)(const char *pod, void *data), void *data,
                       berth_error **err);

/* Another node: its address, and its pod range. */
typedef struct berth_podnet_peer {
    uint32_t node_ip;
    const char *pod_cidr;
} berth_podnet_peer;

/* Routes to the other nodes' pod ranges through their addresses, as
 * flannel's host-gw backend makes them (the nodes share a link): exactly
 * these, marked BERTH_RTPROT; one to a range no longer listed goes. A peer
 * whose range is this node's own, or bad, is passed over. */
int berth_podnet_peers(berth_podnet *n, const berth_podnet_peer *peers, size_t n_peers,
                       berth_error **err);

/* The node's address for its peers: the first global IPv4 address of a
 * link that is not the bridge. */
int berth_podnet_node_ip(berth_podnet *n, uint32_t *ret_addr, berth_error **err);

/* A pod's host port (Kubernetes' hostPort): the node's host_port (on
 * host_ip only, network order, when not 0) to the pod's pod_port. */
typedef struct berth_podnet_port {
    bool udp;
    uint32_t host_ip;
    uint16_t host_port, pod_port;
} berth_podnet_port;

/* Publish exactly these host ports of pod (none: unpublish), through
 * nftables DNAT, from other machines and from the node itself (not
 * through loopback); the rules are replaced whole, atomically. A pod
 * without an address publishes nothing. Detaching a pod unpublishes its
 * ports. */
int berth_podnet_publish(berth_podnet *n, const char *pod, const berth_podnet_port *ports,
                         size_t n_ports, berth_error **err);

/* What pod's eth0 received and sent (counted on its veth's host side,
 * turned round). ENODEV: pod has no veth. */
int berth_podnet_stats(berth_podnet *n, const char *pod, berth_link_counters *ret,
                       berth_error **err);

/* The host side's name of pod's veth ("bv" and 12 hex digits). */
void berth_podnet_veth_name(const char *pod, char buf[16]);

#endif
