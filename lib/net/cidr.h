/* lib/net/cidr: IPv4 networks as text, for the controller (which gives
 * each node a range) and the nodes alike. Addresses in network byte
 * order. */
#ifndef BERTH_NET_CIDR_H
#define BERTH_NET_CIDR_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* "10.244.1.0/24" into addr and prefix (host bits must be zero unless
 * host_ok); EINVAL otherwise. */
int berth_cidr_parse(const char *s, bool host_ok, uint32_t *ret_addr, int *ret_prefix,
                     berth_error **err);
/* addr (network order) as dotted quad into buf (16 bytes). */
const char *berth_ipv4_str(uint32_t addr, char buf[16]);

/* The i-th subnet of prefix sub_prefix in net/prefix, as text into buf
 * (32 bytes); false when there is no such subnet. */
bool berth_cidr_subnet(uint32_t net, int prefix, int sub_prefix, uint32_t i, char buf[32]);

#endif
