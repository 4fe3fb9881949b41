/* A monitor's exec socket, <state dir>/exec.sock: berthd asks the monitor
 * of a container to run a command in it (ExecRequest, monitor.proto), and
 * gets back whether it started with its stdio's fds (ExecReply, the fds by
 * SCM_RIGHTS), then its exit. The monitor enters the container; berthd
 * never does, and the command's bytes never pass through the monitor.
 *
 * SOCK_SEQPACKET: one message a packet, at most BERTH_EXECSOCK_MSG_MAX
 * bytes. The socket is the monitor's, 0600 in a directory only root reaches;
 * the monitor also takes connections from root alone (SO_PEERCRED). Every
 * call returns at once (sockets are non-blocking). */
#ifndef BERTH_STATEDIR_EXECSOCK_H
#define BERTH_STATEDIR_EXECSOCK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "base/error.h"
#include "berth/proto/v1.h"

#define BERTH_STATEDIR_EXEC    "exec.sock"
#define BERTH_EXECSOCK_MSG_MAX (64 << 10)
#define BERTH_EXECSOCK_FDS_MAX 3

/* The monitor's side: listen on dirfd's exec.sock (a stale one replaced),
 * non-blocking and close-on-exec. */
int berth_execsock_listen(int dirfd, int *ret_fd, berth_error **err);

/* berthd's side: connect to dirfd's exec.sock and send req. ESRCH when no
 * monitor listens there. */
int berth_execsock_connect(int dirfd, const ExecRequest *req, int *ret_sock, berth_error **err);

/* Send msg on sock with n_fds fds (at most BERTH_EXECSOCK_FDS_MAX; they
 * stay the caller's). */
int berth_execsock_send(int sock, const ProtobufCMessage *msg, const int *fds, size_t n_fds,
                        berth_error **err);

/* Receive one message of type d from sock: 1 with *ret_msg (free it) and
 * the fds that came with it (close-on-exec, the caller's) in fds[0..
 * *ret_nfds); 0 when nothing is there yet; -1 on error: EPIPE when the
 * peer closed, EBADMSG for a message that is not one. */
int berth_execsock_recv(int sock, const ProtobufCMessageDescriptor *d, ProtobufCMessage **ret_msg,
                        int fds[BERTH_EXECSOCK_FDS_MAX], size_t *ret_nfds, berth_error **err);

#endif
