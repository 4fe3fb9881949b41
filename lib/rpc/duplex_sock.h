/* A TCP connection carried by a duplex stream (duplex.h): what the socket
 * reads goes out on one channel, what comes in on it is written to the
 * socket, each only as fast as the other side takes it, and the ends
 * travel too (the socket's EOF is the channel's eof; the channel's eof a
 * shutdown of the socket's writing half). For port-forward: at the node,
 * the connection to the pod's port; at the operator's end, the local
 * client's. */
#ifndef BERTH_RPC_DUPLEX_SOCK_H
#define BERTH_RPC_DUPLEX_SOCK_H

#include <stdint.h>

#include "base/loop.h"
#include "duplex.h"

typedef struct berth_duplex_sock berth_duplex_sock;

/* The bridge is over: code OK when both directions ended cleanly, else why
 * not (the socket failed, the stream failed or was cancelled). The socket
 * is closed and the stream ended (a server's end) or cancelled (a caller's
 * end, unless it ended by itself) before this is called; the bridge is
 * freed when it returns. */
typedef void (*berth_duplex_sock_done_fn)(int code, const char *message, void *data);
/* Bridge fd (a connecting or connected stream socket, non-blocking; it
 * becomes the bridge's) and d on channel (chunks on other channels are
 * dropped). d's ops are taken over. done may be NULL. A failure of the
 * socket ends a server's end with UNAVAILABLE and why ("connect:
 * Connection refused"), which is what its caller is told. Never fails: a
 * socket the loop cannot watch ends the bridge (done comes from the loop). */
berth_duplex_sock *berth_duplex_sock_new(berth_loop *loop, berth_duplex *d, int fd,
                                         uint32_t channel, berth_duplex_sock_done_fn done,
                                         void *data);
/* End it now: the stream is ended or cancelled with CANCELLED, the socket
 * closed; done is not called. */
void berth_duplex_sock_close(berth_duplex_sock *b);

#endif
