/* Where a /metrics endpoint listens (metrics_address in agent.yaml and
 * controller.yaml, --metrics-address): "HOST:PORT" with HOST an IPv4
 * address or "localhost" (127.0.0.1), "[IPv6]:PORT", or ":PORT" (every
 * IPv4 address, as exporters write it). "off" or "" turn the endpoint off.
 * No name is resolved (that could block): addresses only. Kept apart from
 * the server (http.h) so configuration code checks it without linking an
 * HTTP library. */
#ifndef BERTH_METRICS_LISTEN_H
#define BERTH_METRICS_LISTEN_H

#include <sys/socket.h>

#include "base/error.h"

/* berthd's and the controller's defaults: loopback only, on ports beside
 * their other ones (the controller's channels are 7100-7103, the agent's
 * endpoint 7421), clear of node_exporter's 9100. */
#define BERTH_METRICS_AGENT_DEFAULT      "127.0.0.1:7422"
#define BERTH_METRICS_CONTROLLER_DEFAULT "127.0.0.1:7104"

/* 1 and the address in *ret_addr (*ret_len its size) when text names one;
 * 0 when it turns the endpoint off ("off", "", NULL); -1 (EINVAL, saying
 * what is expected) otherwise. ret_addr and ret_len may be NULL (only a
 * check). */
int berth_metrics_address_parse(const char *text, struct sockaddr_storage *ret_addr,
                                socklen_t *ret_len, berth_error **err);

#endif
