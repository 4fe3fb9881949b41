/* A nanomsg socket driven by the loop: NN_RCVFD and NN_SNDFD are polled
 * (both signal by becoming readable), the socket itself is only touched
 * with NN_DONTWAIT, so nothing here ever blocks. Sends that would block are
 * queued (bounded) and flushed when NN_SNDFD says so. Every receiving
 * socket has NN_RCVMAXSIZE = BERTH_FRAME_MAX. Only tcp:// and ipc://
 * addresses are accepted. Internal to lib/rpc. */
#ifndef BERTH_RPC_SOCK_H
#define BERTH_RPC_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"

typedef struct berth_nnsock berth_nnsock;

/* A received message: msg (len bytes, writable, owned by the socket, valid
 * during the call) and, on raw sockets, the SP header to answer it with
 * (hdr, hdr_len; copy it to answer later). The callback may close the
 * socket. */
typedef void (*berth_nnsock_recv_fn)(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                                     size_t hdr_len);

typedef struct nnsock_queued nnsock_queued;

struct berth_nnsock {
    int s; /* -1 when closed */
    berth_loop *loop;
    berth_loop_io rcv_io, snd_io;
    int sndfd;
    bool raw;
    bool *alive; /* cleared by close, so a receive loop notices */
    berth_nnsock_recv_fn on_recv;
    nnsock_queued *q_head, *q_tail;
    size_t q_len, q_bytes;
    uint64_t send_dropped; /* sends refused because the queue was full */
};

/* Open a socket (domain AF_SP or AF_SP_RAW) on loop. on_recv may be NULL
 * for send-only sockets (PUB, PUSH). */
int berth_nnsock_open(berth_nnsock *ns, berth_loop *loop, int domain, int protocol,
                      berth_nnsock_recv_fn on_recv, berth_error **err);
/* Close (never blocks for long: no linger). Safe on a closed socket. */
void berth_nnsock_close(berth_nnsock *ns);

int berth_nnsock_bind(berth_nnsock *ns, const char *addr, berth_error **err);
int berth_nnsock_connect(berth_nnsock *ns, const char *addr, berth_error **err);
int berth_nnsock_setopt_int(berth_nnsock *ns, int level, int option, int value, const char *what,
                            berth_error **err);
int berth_nnsock_subscribe(berth_nnsock *ns, const void *prefix, size_t len, berth_error **err);

/* Send (copying buf): now if nanomsg takes it, else queued. hdr is the SP
 * header of the message answered (raw sockets), or NULL. EAGAIN when the
 * queue is full (the message is dropped and counted). */
int berth_nnsock_send(berth_nnsock *ns, const uint8_t *buf, size_t len, const void *hdr,
                      size_t hdr_len, berth_error **err);

/* Check an address: "tcp://host:port" or "ipc://path". */
int berth_address_validate(const char *addr, berth_error **err);

#endif
