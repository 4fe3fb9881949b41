/* Port-forward: a connection inside a pod's network namespace (portfwd.h). */
#include "portfwd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "rpc/duplex_sock.h"

/* The channel of port-forward's bytes. */
#define DATA_CHANNEL 0

typedef struct ns_socket {
    int nsfd;
    int fd;
    int err;
} ns_socket;

/* A thread's own: enter the network namespace, make the socket, end (the
 * socket stays in the namespace it was made in). */
static void *socket_in_netns(void *arg)
{
    ns_socket *n = arg;

    if (setns(n->nsfd, CLONE_NEWNET) < 0) {
        n->err = errno;
        return NULL;
    }
    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->fd < 0)
        n->err = errno;
    return NULL;
}

/* A TCP connection being made to 127.0.0.1:port in the network namespace
 * of the process pid. */
static int connect_in(pid_t pid, uint32_t port, int *ret_fd, berth_error **err)
{
    char path[64];
    ns_socket n = { .fd = -1 };
    _cleanup_close_ int nsfd = -1;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    pthread_t t;
    int r;

    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        return berth_error_errno(err, "the pod's network namespace (%s)", path);
    n.nsfd = nsfd;
    r = pthread_create(&t, NULL, socket_in_netns, &n);
    if (r != 0)
        return berth_error_set(err, r, "a thread for the pod's network namespace: %s", strerror(r));
    pthread_join(t, NULL);
    if (n.fd < 0)
        return berth_error_set(err, n.err, "a socket in the pod's network namespace: %s",
                               strerror(n.err));
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(n.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        int e = errno;

        close(n.fd);
        return berth_error_set(err, e == ECONNREFUSED ? ECONNREFUSED : e,
                               "connect to port %u in the pod: %s", port, strerror(e));
    }
    *ret_fd = n.fd;
    return 0;
}

typedef struct fwd {
    char container[256];
    char who[64];
    uint32_t port;
} fwd;

static void bridge_done(int code, const char *msg, void *data)
{
    fwd *f = data;

    if (code != CODE_OK)
        berth_debug("port-forward to %s port %u by %s: %s", f->container, f->port, f->who, msg);
    free(f);
}

void agent_port_forward(berth_loop *loop, containers *c, berth_duplex_server *dx,
                        berth_rpc_call *call, const PortForwardStart *in, ProtobufCClosure closure)
{
    const ContainerStatus *st = containers_status(c, in->container_id);
    static const berth_duplex_ops none = { 0 };
    berth_error *err = NULL;
    DuplexOpened opened;
    berth_duplex *d;
    int fd = -1;
    fwd *f;

    if (!in->port || in->port > 65535) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "port-forward: port %u is not 1-65535",
                            in->port);
        return;
    }
    if (!st) {
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "container %s: not on this node",
                            in->container_id);
        return;
    }
    if (st->state != CONTAINER_RUNNING || st->pid <= 0) {
        berth_rpc_call_fail(call, CODE_FAILED_PRECONDITION,
                            "container %s is not running: no port to forward to", in->container_id);
        return;
    }
    if (connect_in(st->pid, in->port, &fd, &err) < 0) {
        berth_rpc_call_fail(call, err->code == ECONNREFUSED ? CODE_UNAVAILABLE : CODE_INTERNAL,
                            "%s", err->msg);
        berth_error_free(&err);
        return;
    }
    if (berth_duplex_server_open(dx, berth_rpc_call_peer(call), &none, NULL, &d, &opened, &err) <
        0) {
        close(fd);
        berth_rpc_fail_error(call, err);
        berth_error_free(&err);
        return;
    }
    f = berth_xcalloc(1, sizeof(*f));
    snprintf(f->container, sizeof(f->container), "%s", in->container_id);
    snprintf(f->who, sizeof(f->who), "%s", berth_rpc_call_peer(call)->name);
    f->port = in->port;
    berth_info("port-forward to container %s port %u by %s", f->container, f->port, f->who);
    (void)berth_duplex_sock_new(loop, d, fd, DATA_CHANNEL, bridge_done, f);
    closure(&opened.base, call);
}
