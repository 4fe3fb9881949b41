/* lib/net/ipam: a node's pod addresses out of its range, as CNI's
 * host-local plugin keeps them: one file per address given, <dir>/<a.b.c.d>,
 * holding its owner (a pod id), made with O_EXCL so that no address is
 * given twice, also across restarts and crashes (not synced: after a power
 * loss every pod is gone, and a sweep gives back what is left, an empty
 * file too); <dir>/last: where the next
 * search starts, so a freed address is not given again at once. The
 * network's first address is the gateway (the node's bridge), its own and
 * its broadcast address are never given. Not thread-safe. */
#ifndef BERTH_NET_IPAM_H
#define BERTH_NET_IPAM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct berth_ipam berth_ipam;

/* The allocator of range cidr ("10.244.1.0/24", /8 to /30) in dir (made
 * 0700). */
int berth_ipam_open(const char *dir, const char *cidr, berth_ipam **ret, berth_error **err);
void berth_ipam_close(berth_ipam *a);

/* The range's network, prefix and gateway (network order). */
void berth_ipam_range(const berth_ipam *a, uint32_t *ret_net, int *ret_prefix,
                      uint32_t *ret_gateway);

/* owner's address: the one it has, or a new one. ENOSPC when the range is
 * full ("pod range 10.244.1.0/24 is full: 253 addresses given"). */
int berth_ipam_get(berth_ipam *a, const char *owner, uint32_t *ret_addr, berth_error **err);
/* owner's address when it has one: 1, else 0. */
int berth_ipam_find(berth_ipam *a, const char *owner, uint32_t *ret_addr, berth_error **err);
/* Give back owner's address (0 also when it has none). */
int berth_ipam_release(berth_ipam *a, const char *owner, berth_error **err);
/* Give back every address whose owner keep says is gone; how many. */
int berth_ipam_sweep(berth_ipam *a, bool (*keep)(const char *owner, void *data), void *data,
                     berth_error **err);

#endif
