/* What this machine is, for Register: capacity (the machine minus what the
 * operator reserves), kernel, architecture, OS, cgroup version, boot time. */
#ifndef BERTHD_NODE_H
#define BERTHD_NODE_H

#include <stdint.h>

#include "base/error.h"
#include "berth/proto/v1.h"
#include "agent-config.h"

typedef struct node_facts {
    char kernel[80];
    char arch[80];
    char os[128];
    int64_t cpu_millis;   /* CPUs this process may use */
    int64_t memory_bytes; /* MemTotal */
    int64_t boot_time_ns;
    /* With a pod network: the address other nodes route this node's pods
     * through ("" none), found at start (node_facts_internal_ip). */
    char internal_ip[16];
} node_facts;

int node_facts_read(node_facts *ret, berth_error **err);
/* The node's address for the other nodes' routes: configured, or the
 * first global IPv4 address of a link other than loopback and bridge.
 * Nothing (and a warning) when there is none. */
void node_facts_internal_ip(node_facts *f, const char *configured, const char *bridge);

/* At most this many extended resources (CDI kinds) are registered: the
 * controller's cap. */
#define NODE_EXTENDED_MAX 64
/* and counts up to this */
#define NODE_EXTENDED_COUNT_MAX (1 << 20)

/* Fill info (its strings point into cfg and facts, its label arrays into
 * the given storage) for Register. */
void node_info_fill(NodeInfo *info, NodeCapacity *cap, NodeInfo_LabelsEntry *label_storage,
                    NodeInfo_LabelsEntry **label_ptrs, const agent_config *cfg,
                    const node_facts *facts, int cgroup_version, int64_t agent_start_ns);

#endif
