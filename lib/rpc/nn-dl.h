/* nanomsg, opened when a program first makes a socket (dlopen), not at
 * every start of a program that links lib/rpc: `berthctl run` and the
 * other local commands never talk, and mapping and relocating the library
 * was a tenth of a millisecond of each of their starts (BENCHMARKS.md,
 * section 1). The pattern of lib/image's dl.h.
 *
 * Included by sock.c and discover.c only, after nanomsg's headers: each
 * nanomsg function they call becomes a call through rpc_nn's table, filled
 * by rpc_nn_load (which their entry points call first). */
#pragma once

#include <nanomsg/nn.h>

#include "base/error.h"

#define RPC_NN_FUNCS(X)                                                                            \
    X(nn_socket)                                                                                   \
    X(nn_close)                                                                                    \
    X(nn_bind)                                                                                     \
    X(nn_connect)                                                                                  \
    X(nn_setsockopt)                                                                               \
    X(nn_getsockopt)                                                                               \
    X(nn_send)                                                                                     \
    X(nn_recv)                                                                                     \
    X(nn_sendmsg)                                                                                  \
    X(nn_recvmsg)                                                                                  \
    X(nn_freemsg)                                                                                  \
    X(nn_errno)                                                                                    \
    X(nn_strerror)                                                                                 \
    X(nn_cmsg_nxthdr_)

#define RPC_NN_MEMBER(f) __typeof__(f) *f;
struct rpc_nn {
    RPC_NN_FUNCS(RPC_NN_MEMBER)
};
#undef RPC_NN_MEMBER

extern struct rpc_nn rpc_nn;

/* Open libnanomsg once (thread-safe); an error names the Debian package
 * that has it. */
int rpc_nn_load(berth_error **err);

#ifndef RPC_NN_IMPL
#define nn_socket(...)     rpc_nn.nn_socket(__VA_ARGS__)
#define nn_close(...)      rpc_nn.nn_close(__VA_ARGS__)
#define nn_bind(...)       rpc_nn.nn_bind(__VA_ARGS__)
#define nn_connect(...)    rpc_nn.nn_connect(__VA_ARGS__)
#define nn_setsockopt(...) rpc_nn.nn_setsockopt(__VA_ARGS__)
#define nn_getsockopt(...) rpc_nn.nn_getsockopt(__VA_ARGS__)
#define nn_send(...)       rpc_nn.nn_send(__VA_ARGS__)
#define nn_recv(...)       rpc_nn.nn_recv(__VA_ARGS__)
#define nn_sendmsg(...)    rpc_nn.nn_sendmsg(__VA_ARGS__)
#define nn_recvmsg(...)    rpc_nn.nn_recvmsg(__VA_ARGS__)
#define nn_freemsg(...)    rpc_nn.nn_freemsg(__VA_ARGS__)
#define nn_errno(...)      rpc_nn.nn_errno(__VA_ARGS__)
#define nn_strerror(...)   rpc_nn.nn_strerror(__VA_ARGS__)
/* what NN_CMSG_FIRSTHDR and NN_CMSG_NXTHDR call */
#define nn_cmsg_nxthdr_(...) rpc_nn.nn_cmsg_nxthdr_(__VA_ARGS__)
#endif
