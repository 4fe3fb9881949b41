/* FNV-1a, 64 bits: a stable, non-cryptographic hash of names, for names
 * made from names (a DaemonSet replica's, a pod's veth, a pod's uid).
 * Never for anything an attacker could use to collide on purpose. */
#ifndef BERTH_BASE_FNV_H
#define BERTH_BASE_FNV_H

#include <stdint.h>

#define BERTH_FNV1A_OFFSET 14695981039346656037ULL
#define BERTH_FNV1A_PRIME  1099511628211ULL

/* h (BERTH_FNV1A_OFFSET to start) with the bytes of s mixed in. */
static inline uint64_t berth_fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * BERTH_FNV1A_PRIME;
    return h;
}

#endif
