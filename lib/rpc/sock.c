/* nanomsg sockets on the epoll loop. */
#include "sock.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "frame.h"
#include "nn-dl.h"

#define QUEUE_MAX_MSGS  4096
#define QUEUE_MAX_BYTES ((size_t)64 << 20)
#define RECV_BATCH      16

struct nnsock_queued {
    nnsock_queued *next;
    size_t len, hdr_len;
    uint8_t *hdr;
    uint8_t data[];
};

int berth_address_validate(const char *addr, berth_error **err)
{
    if (strncmp(addr, "tcp://", 6) == 0 && strchr(addr + 6, ':'))
        return 0;
    if (strncmp(addr, "ipc://", 6) == 0 && addr[6] != '\0')
        return 0;
    return berth_error_set(err, EINVAL, "address '%s': expected tcp://HOST:PORT or ipc://PATH",
                           addr);
}

static void nnsock_on_rcv(berth_loop_io *io, uint32_t events)
{
    berth_nnsock *ns = berth_container_of(io, berth_nnsock, rcv_io);
    bool alive = true;

    (void)events;
    /* The callback may close (and free) the socket: it clears this flag
     * first, and ns->alive never outlives the loop below. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
    ns->alive = &alive;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif
    for (int i = 0; i < RECV_BATCH && alive; i++) {
        void *msg = NULL, *ctrl = NULL;
        struct nn_iovec iov = { .iov_base = &msg, .iov_len = NN_MSG };
        struct nn_msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        const void *hdr = NULL;
        size_t hdr_len = 0;
        int n;

        if (ns->raw) {
            mh.msg_control = &ctrl;
            mh.msg_controllen = NN_MSG;
        }
        n = nn_recvmsg(ns->s, &mh, NN_DONTWAIT);
        if (n < 0)
            break; /* EAGAIN; EFSM: a REQ with no request out */
        if (ctrl) {
            struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR(&mh);

            while (c && !(c->cmsg_level == PROTO_SP && c->cmsg_type == SP_HDR))
                c = NN_CMSG_NXTHDR(&mh, c);
            if (c) {
                hdr = c;
                hdr_len = c->cmsg_len;
            }
        }
        ns->on_recv(ns, msg, (size_t)n, hdr, hdr_len);
        nn_freemsg(msg);
        if (ctrl)
            nn_freemsg(ctrl);
    }
    if (alive)
        ns->alive = NULL;
}

static int send_now(berth_nnsock *ns, const uint8_t *buf, size_t len, const void *hdr,
                    size_t hdr_len)
{
    struct nn_iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct nn_msghdr mh = { .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = (void *)hdr,
                            .msg_controllen = hdr ? hdr_len : 0 };

    return nn_sendmsg(ns->s, &mh, NN_DONTWAIT);
}

static void queue_pop(berth_nnsock *ns)
{
    nnsock_queued *q = ns->q_head;

    ns->q_head = q->next;
    if (!ns->q_head)
        ns->q_tail = NULL;
    ns->q_len--;
    ns->q_bytes -= q->len;
    free(q->hdr);
    free(q);
}

static void nnsock_on_snd(berth_loop_io *io, uint32_t events)
{
    berth_nnsock *ns = berth_container_of(io, berth_nnsock, snd_io);

    (void)events;
    while (ns->q_head) {
        nnsock_queued *q = ns->q_head;

        if (send_now(ns, q->data, q->len, q->hdr, q->hdr_len) < 0) {
            if (errno == EAGAIN)
                return;
            /* The peer state changed under us (EFSM ...): the message cannot
             * go; count it and go on with the rest. */
            ns->send_dropped++;
        }
        queue_pop(ns);
    }
    berth_loop_remove(ns->loop, &ns->snd_io);
}

int berth_nnsock_open(berth_nnsock *ns, berth_loop *loop, int domain, int protocol,
                      berth_nnsock_recv_fn on_recv, berth_error **err)
{
    size_t sz = sizeof(int);
    int fd = -1;

    memset(ns, 0, sizeof(*ns));
    ns->loop = loop;
    ns->rcv_io.fd = ns->snd_io.fd = -1;
    ns->sndfd = -1;
    ns->raw = domain == AF_SP_RAW;
    ns->on_recv = on_recv;
    ns->s = -1;
    if (rpc_nn_load(err) < 0)
        return -1;
    ns->s = nn_socket(domain, protocol);
    if (ns->s < 0)
        return berth_error_errno(err, "nanomsg socket (protocol %d)", protocol);
    if (on_recv) {
        int max = (int)BERTH_FRAME_MAX;

        if (nn_setsockopt(ns->s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0 ||
            nn_getsockopt(ns->s, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0) {
            berth_error_errno(err, "nanomsg socket options");
            goto fail;
        }
        if (berth_loop_add(loop, &ns->rcv_io, fd, EPOLLIN, nnsock_on_rcv, err) < 0)
            goto fail;
    }
    sz = sizeof(int);
    if (nn_getsockopt(ns->s, NN_SOL_SOCKET, NN_SNDFD, &ns->sndfd, &sz) < 0)
        ns->sndfd = -1; /* receive-only (SUB, PULL) */
    return 0;

fail:
    berth_nnsock_close(ns);
    return -1;
}

void berth_nnsock_close(berth_nnsock *ns)
{
    if (ns->s < 0)
        return;
    if (ns->alive)
        *ns->alive = false;
    ns->alive = NULL;
    berth_loop_remove(ns->loop, &ns->rcv_io);
    berth_loop_remove(ns->loop, &ns->snd_io);
    while (ns->q_head)
        queue_pop(ns);
    nn_close(ns->s);
    ns->s = -1;
}

int berth_nnsock_bind(berth_nnsock *ns, const char *addr, berth_error **err)
{
    if (berth_address_validate(addr, err) < 0)
        return -1;
    if (nn_bind(ns->s, addr) < 0)
        return berth_error_errno(err, "bind %s", addr);
    return 0;
}

int berth_nnsock_connect(berth_nnsock *ns, const char *addr, berth_error **err)
{
    if (berth_address_validate(addr, err) < 0)
        return -1;
    if (nn_connect(ns->s, addr) < 0)
        return berth_error_errno(err, "connect %s", addr);
    return 0;
}

int berth_nnsock_setopt_int(berth_nnsock *ns, int level, int option, int value, const char *what,
                            berth_error **err)
{
    if (nn_setsockopt(ns->s, level, option, &value, sizeof(value)) < 0)
        return berth_error_errno(err, "set %s", what);
    return 0;
}

int berth_nnsock_subscribe(berth_nnsock *ns, const void *prefix, size_t len, berth_error **err)
{
    if (nn_setsockopt(ns->s, NN_SUB, NN_SUB_SUBSCRIBE, prefix, len) < 0)
        return berth_error_errno(err, "subscribe");
    return 0;
}

int berth_nnsock_send(berth_nnsock *ns, const uint8_t *buf, size_t len, const void *hdr,
                      size_t hdr_len, berth_error **err)
{
    nnsock_queued *q;

    if (ns->s < 0)
        return berth_error_set(err, EBADF, "send: socket closed");
    if (!ns->q_head) {
        if (send_now(ns, buf, len, hdr, hdr_len) >= 0)
            return 0;
        if (errno != EAGAIN)
            return berth_error_errno(err, "send");
    }
    if (ns->q_len >= QUEUE_MAX_MSGS || ns->q_bytes + len > QUEUE_MAX_BYTES) {
        ns->send_dropped++;
        return berth_error_set(err, EAGAIN, "send: queue full (%zu messages, %zu bytes)", ns->q_len,
                               ns->q_bytes);
    }
    q = berth_xmalloc(sizeof(*q) + len);
    q->next = NULL;
    q->len = len;
    q->hdr_len = hdr ? hdr_len : 0;
    q->hdr = NULL;
    memcpy(q->data, buf, len);
    if (hdr) {
        q->hdr = berth_xmalloc(hdr_len);
        memcpy(q->hdr, hdr, hdr_len);
    }
    if (ns->q_tail)
        ns->q_tail->next = q;
    else
        ns->q_head = q;
    ns->q_tail = q;
    ns->q_len++;
    ns->q_bytes += len;
    if (ns->snd_io.fd < 0 && ns->sndfd >= 0 &&
        berth_loop_add(ns->loop, &ns->snd_io, ns->sndfd, EPOLLIN, nnsock_on_snd, err) < 0)
        return -1;
    return 0;
}
