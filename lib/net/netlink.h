/* lib/net/netlink: the few rtnetlink requests a pod network needs, through
 * libmnl: links (a bridge, a veth pair whose peer is born in a pod's network
 * namespace), IPv4 addresses and routes. Each call is one request and its
 * acknowledgement on a NETLINK_ROUTE socket bound in one network namespace
 * (the caller's, or a pod's: the socket keeps the namespace it was opened
 * in). Blocking, but the kernel answers at once; not thread-safe per
 * socket. Addresses are in network byte order. */
#ifndef BERTH_NET_NETLINK_H
#define BERTH_NET_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "cidr.h"

typedef struct berth_nl berth_nl;

/* A socket in the network namespace of netns_fd (-1: the caller's). */
int berth_nl_open(int netns_fd, berth_nl **ret, berth_error **err);
void berth_nl_close(berth_nl *nl);

/* The index of link name: ENOENT when there is none. */
int berth_nl_link_index(berth_nl *nl, const char *name, int *ret_index, berth_error **err);
/* A link's counters, as it counts them (IFLA_STATS64). */
typedef struct berth_link_counters {
    uint64_t rx_bytes, tx_bytes;
    uint64_t rx_packets, tx_packets;
    uint64_t rx_errors, tx_errors;
    uint64_t rx_dropped, tx_dropped;
} berth_link_counters;

/* What link name received and sent. */
int berth_nl_link_stats(berth_nl *nl, const char *name, berth_link_counters *ret,
                        berth_error **err);
/* A bridge called name (EEXIST when a link of that name is there). */
int berth_nl_bridge_add(berth_nl *nl, const char *name, berth_error **err);
/* A veth pair: name here, peer in the namespace of peer_netns_fd. */
int berth_nl_veth_add(berth_nl *nl, const char *name, const char *peer, int peer_netns_fd,
                      berth_error **err);
/* A VXLAN device called name: VNI vni, on UDP port, from local (network
 * order), learning nothing, with the MAC mac and mtu (0: the kernel's). */
int berth_nl_vxlan_add(berth_nl *nl, const char *name, uint32_t vni, uint32_t local, uint16_t port,
                       const uint8_t mac[6], int mtu, berth_error **err);
/* A permanent neighbour: addr at mac on link index. */
int berth_nl_neigh_set(berth_nl *nl, int index, uint32_t addr, const uint8_t mac[6],
                       berth_error **err);
int berth_nl_neigh_del(berth_nl *nl, int index, uint32_t addr, berth_error **err);
/* A VXLAN forwarding entry: frames to mac go to the node at dst. */
int berth_nl_fdb_set(berth_nl *nl, int index, const uint8_t mac[6], uint32_t dst,
                     berth_error **err);
int berth_nl_fdb_del(berth_nl *nl, int index, const uint8_t mac[6], uint32_t dst,
                     berth_error **err);
/* The IPv4 neighbours (fdb false) or the forwarding entries with a
 * destination address (fdb true, a VXLAN device's) of link index: fn
 * with each one's address and MAC. fn must not use nl. */
int berth_nl_neighs(berth_nl *nl, int index, bool fdb,
                    void (*fn)(uint32_t addr, const uint8_t mac[6], void *data), void *data,
                    berth_error **err);
/* Route dst/prefix through gw on link oif, onlink, marked BERTH_RTPROT
 * (replacing one to dst): the overlay's routes. */
int berth_nl_route_set_dev(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, int oif,
                           berth_error **err);

/* Set link index up, and (master > 0) enslave it to link master. */
int berth_nl_link_up(berth_nl *nl, int index, int master, berth_error **err);
/* Delete link name; 0 also when there is none. */
int berth_nl_link_del(berth_nl *nl, const char *name, berth_error **err);
/* Add addr/prefix to link index (0 also when it has it). */
int berth_nl_addr_add(berth_nl *nl, int index, uint32_t addr, int prefix, berth_error **err);
/* 0 also when it was not there. */
int berth_nl_addr_del(berth_nl *nl, int index, uint32_t addr, int prefix, berth_error **err);
/* The IPv4 addresses of link index: fn with each. fn must not use nl. */
int berth_nl_addrs(berth_nl *nl, int index, void (*fn)(uint32_t addr, int prefix, void *data),
                   void *data, berth_error **err);
/* The hardware address of link name. */
int berth_nl_link_mac(berth_nl *nl, const char *name, uint8_t ret_mac[6], berth_error **err);
/* A route to dst/prefix (prefix 0: the default route) through gw (0: none,
 * on link oif), out of link oif (0: any); replaced when one to dst is
 * there (replace) or 0 when it is there already (!replace). */
int berth_nl_route_add(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, int oif, bool onlink,
                       bool replace, berth_error **err);
/* Delete berth's route (BERTH_RTPROT) to dst/prefix; 0 also when there is none. */
int berth_nl_route_del(berth_nl *nl, uint32_t dst, int prefix, berth_error **err);

/* The routes berth adds between nodes are marked with this protocol
 * number (ip route shows "proto 188"), so that a later berthd finds its
 * own and nothing else. */
#define BERTH_RTPROT 188
/* A route to dst/prefix through gw, marked BERTH_RTPROT (replacing one to
 * dst). */
int berth_nl_route_set(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, berth_error **err);
/* fn for every route of the main table marked BERTH_RTPROT. */
int berth_nl_routes_berth(berth_nl *nl,
                          void (*fn)(uint32_t dst, int prefix, uint32_t gw, void *data), void *data,
                          berth_error **err);
/* The node's address: the first global IPv4 address of a link other than
 * loopback and those named in skip (NULL-terminated, at most 4: the
 * bridge, the overlay); ENOENT when there is none. */
int berth_nl_node_addr(berth_nl *nl, const char *const *skip, uint32_t *ret_addr,
                       berth_error **err);

#endif
