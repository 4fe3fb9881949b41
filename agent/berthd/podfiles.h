/* A pod's /etc/hosts and /etc/resolv.conf on the pod network, as the
 * kubelet writes them: pure text in, text out (podfiles.c), written into
 * the pod's sandbox by pods.c and bound read-only in its containers. */
#ifndef BERTHD_PODFILES_H
#define BERTHD_PODFILES_H

#include "berth/proto/v1.h"

/* "127.0.0.1 localhost", the IPv6 names, and "<ip> <hostname>". */
char *podfiles_hosts(const char *ip, const char *hostname);

/* resolv.conf from the node's (node_text: its resolv.conf, NULL or "" when
 * it has none) and the pod's dnsPolicy/dnsConfig (dns NULL: the default):
 * ClusterFirst and Default take the node's nameservers, search domains and
 * options (berth has no cluster DNS yet), None nothing of the node's; then
 * dnsConfig's are added: nameservers and searches once each (at most 3 and
 * 32), options replacing the node's of the same name. Loopback
 * nameservers of the node are left out (a pod cannot reach them). */
char *podfiles_resolv(const char *node_text, const PodDNS *dns);

#endif
