/* lib/net/nft: the node's nftables rules for its pods, through
 * libnftables: one table of berth's own (ip family), replaced whole in one
 * transaction each time (nothing outside it is touched):
 *
 *   postrouting (nat)  traffic from the node's pod range to outside the
 *                      cluster range is masqueraded
 *
 * Runs in the caller's network namespace. */
#ifndef BERTH_NET_NFT_H
#define BERTH_NET_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* A host port published to a pod (Kubernetes' hostPort): traffic to
 * host_port on the node's addresses (host_ip: that one only; 0 all but
 * loopback) goes to pod_ip:pod_port. Addresses in network order. */
typedef struct berth_nft_dnat {
    bool udp;
    uint32_t host_ip;
    uint16_t host_port;
    uint32_t pod_ip;
    uint16_t pod_port;
} berth_nft_dnat;

/* The table's rules as wanted: pods of pod_cidr masqueraded when they
 * leave cluster_cidr; the host ports, from other machines (prerouting)
 * and from the node itself (output). */
typedef struct berth_nft_rules {
    const char *table; /* "berth" */
    const char *pod_cidr, *cluster_cidr;
    const berth_nft_dnat *dnat;
    size_t n_dnat;
} berth_nft_rules;

/* Replace the table with r's rules, atomically. */
int berth_nft_apply(const berth_nft_rules *r, berth_error **err);
/* Delete the table (0 also when there is none). */
int berth_nft_delete(const char *table, berth_error **err);

#endif
