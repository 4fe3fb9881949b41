/* lib/net/proxy: ports of the node forwarded into a network namespace in
 * user space (Docker's docker-proxy, rootlesskit's builtin port driver):
 * a listening socket on the node per port, and for each connection (TCP)
 * or client (UDP) a socket made inside the namespace, connected to
 * 127.0.0.1:port there. No address, bridge or nftables rule is needed, so
 * it serves a container with nothing but loopback, and reaches it through
 * the node's loopback too. What a container sees as the peer is
 * 127.0.0.1.
 *
 * Single-threaded, never blocks: the caller polls berth_proxy_fd and calls
 * berth_proxy_run when it is readable. Memory is bounded: at most
 * BERTH_PROXY_MAX_CONNS connections of two BERTH_PROXY_BUF buffers each (a
 * side whose buffer is full is not read until it drains), at most
 * BERTH_PROXY_MAX_FLOWS UDP clients per port (the least recently used
 * goes first; one idle BERTH_PROXY_UDP_IDLE_S goes at the next datagram). */
#ifndef BERTH_NET_PROXY_H
#define BERTH_NET_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_PROXY_BUF        32768
#define BERTH_PROXY_MAX_CONNS  1024
#define BERTH_PROXY_MAX_FLOWS  256
#define BERTH_PROXY_UDP_IDLE_S 60

typedef struct berth_proxy berth_proxy;

/* A port: the node's host_ip:host_port (host_ip network order; 0 every
 * address, loopback included) to port in the namespace. */
typedef struct berth_proxy_port {
    bool udp;
    uint32_t host_ip;
    uint16_t host_port, port;
} berth_proxy_port;

/* Listen on every port (bound before there is anything to forward to:
 * connections wait in the backlog). A port that cannot be bound is an
 * error ("port 0.0.0.0:8080/tcp is already in use: ..."), and nothing
 * listens. */
int berth_proxy_open(const berth_proxy_port *ports, size_t n_ports, berth_proxy **ret,
                     berth_error **err);
/* Forward into the network namespace netns_fd (dup'd: the caller's stays
 * its own), from the next berth_proxy_run on. Needs CAP_SYS_ADMIN (setns).
 * Raises the process's soft RLIMIT_NOFILE, as far as its hard one allows,
 * to fit BERTH_PROXY_MAX_CONNS connections (two fds each): call it after
 * starting what should keep the limit it had. */
int berth_proxy_set_netns(berth_proxy *p, int netns_fd, berth_error **err);
/* Every socket closes (connections are cut). NULL is fine. */
void berth_proxy_close(berth_proxy *p);

/* Readable when there is work for berth_proxy_run (an epoll fd). */
int berth_proxy_fd(const berth_proxy *p);
/* Do the work that is ready (after berth_proxy_set_netns); returns at once. A connection's error
 * ends that connection only; < 0 only when the proxy itself cannot go on. */
int berth_proxy_run(berth_proxy *p, berth_error **err);

#endif
