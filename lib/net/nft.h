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

#include "base/error.h"

/* The table's rules as wanted: pods of pod_cidr masqueraded when they
 * leave cluster_cidr. */
typedef struct berth_nft_rules {
    const char *table; /* "berth" */
    const char *pod_cidr, *cluster_cidr;
} berth_nft_rules;

/* Replace the table with r's rules, atomically. */
int berth_nft_apply(const berth_nft_rules *r, berth_error **err);
/* Delete the table (0 also when there is none). */
int berth_nft_delete(const char *table, berth_error **err);

#endif
