/* IPv4 networks as text (cidr.h). */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int berth_cidr_parse(const char *s, bool host_ok, uint32_t *ret_addr, int *ret_prefix,
                     berth_error **err)
{
    char ip[16], *end;
    const char *slash = strchr(s, '/');
    struct in_addr a;
    long prefix;
    uint32_t mask;

    if (!slash || (size_t)(slash - s) >= sizeof(ip))
        return berth_error_set(err, EINVAL, "'%s' is not an IPv4 CIDR (10.244.0.0/16)", s);
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    errno = 0;
    prefix = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, ip, &a) != 1 || *end || end == slash + 1 || prefix < 0 || prefix > 32)
        return berth_error_set(err, EINVAL, "'%s' is not an IPv4 CIDR (10.244.0.0/16)", s);
    mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
    if (!host_ok && (a.s_addr & ~mask))
        return berth_error_set(err, EINVAL, "'%s': host bits set (the network is %s/%ld)", s,
                               berth_ipv4_str(a.s_addr & mask, ip), prefix);
    *ret_addr = a.s_addr;
    *ret_prefix = (int)prefix;
    return 0;
}

const char *berth_ipv4_str(uint32_t addr, char buf[16])
{
    struct in_addr a = { .s_addr = addr };

    return inet_ntop(AF_INET, &a, buf, 16) ? buf : "?";
}

bool berth_cidr_subnet(uint32_t net, int prefix, int sub_prefix, uint32_t i, char buf[32])
{
    char a[16];
    uint32_t host;

    if (sub_prefix < prefix || sub_prefix > 32 ||
        (sub_prefix - prefix < 32 && (uint64_t)i >= (1ull << (sub_prefix - prefix))))
        return false;
    host = ntohl(net) + (sub_prefix == 32 ? i : i << (32 - sub_prefix));
    snprintf(buf, 32, "%s/%d", berth_ipv4_str(htonl(host), a), sub_prefix);
    return true;
}
