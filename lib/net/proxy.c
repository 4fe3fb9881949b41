/* Ports forwarded into a network namespace in user space (proxy.h). */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

typedef enum ep_kind { EP_LISTEN, EP_CLIENT, EP_UPSTREAM, EP_FLOW } ep_kind;

/* What rides in an epoll event: a socket, what it belongs to, and the
 * events asked for now. */
typedef struct endpoint {
    ep_kind kind;
    int fd;
    uint32_t events;
    bool hung_up; /* out of the epoll set: its peer closed both ways */
    void *owner;
} endpoint;

typedef struct listener listener;

/* One direction of a connection: bytes read from one side, not yet
 * written to the other; eof once that side said so. */
typedef struct buf {
    size_t off, len;
    bool eof, shut; /* shut: the other side's write half is closed */
    char data[BERTH_PROXY_BUF];
} buf;

typedef struct conn {
    endpoint client, upstream;
    listener *l;
    bool connecting;
    buf to_up, to_client;
    struct conn *prev, *next;
} conn;

/* A UDP client of a port: its own socket in the namespace. */
typedef struct flow {
    endpoint ep;
    listener *l;
    struct sockaddr_in peer;
    int64_t last_ns;
    struct flow *next;
} flow;

struct listener {
    endpoint ep;
    berth_proxy_port port;
    berth_proxy *p;
    flow *flows;
    size_t n_flows;
};

struct berth_proxy {
    int epfd;
    int netns, self; /* the namespace forwarded into, and ours */
    listener *ls;
    size_t n_ls;
    conn *conns;
    size_t n_conns;
    /* Gone, freed at the end of berth_proxy_run: an event of theirs may
     * still be in its batch (their fd is -1 then). */
    conn *dead_conns;
    flow *dead_flows;
    bool paused;  /* at BERTH_PROXY_MAX_CONNS: the listeners are not read */
    char *broken; /* why it cannot go on (back into our namespace failed) */
    char dgram[65536];
};

static int ep_set(berth_proxy *p, endpoint *e, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = e };

    if (e->events == events || e->hung_up)
        return 0;
    if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, e->fd, &ev) < 0)
        return -1;
    e->events = events;
    return 0;
}

static int ep_add(berth_proxy *p, endpoint *e, ep_kind kind, int fd, void *owner, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = e };

    /* the fd is e's only once added: the caller closes it otherwise */
    *e = (endpoint){ kind, -1, events, false, owner };
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    e->fd = fd;
    return 0;
}

static void ep_close(endpoint *e)
{
    /* close takes it out of the epoll set: nobody else holds the fd */
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
}

static const char *port_text(const berth_proxy_port *pt, char text[64])
{
    char ip[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &pt->host_ip, ip, sizeof(ip));
    snprintf(text, 64, "%s:%u/%s", ip, pt->host_port, pt->udp ? "udp" : "tcp");
    return text;
}

/* A socket of type in the namespace: made there, then used from here. */
static int ns_socket(berth_proxy *p, int type, berth_error **err)
{
    int fd, e;

    if (p->netns < 0)
        return berth_error_set(err, EINVAL, "no network namespace to forward into yet");
    if (setns(p->netns, CLONE_NEWNET) < 0)
        return berth_error_errno(err, "setns into the container's network namespace");
    fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    e = errno;
    if (setns(p->self, CLONE_NEWNET) < 0) {
        /* Nothing made from now on would be where it belongs. */
        if (fd >= 0)
            close(fd);
        berth_error_errno(err, "setns back into our network namespace");
        if (!p->broken)
            p->broken = berth_xstrdup((*err)->msg);
        return -1;
    }
    if (fd < 0) {
        errno = e;
        return berth_error_errno(err, "socket in the container's network namespace");
    }
    return fd;
}

static struct sockaddr_in loopback(uint16_t port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET,
                                 .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* --- TCP ----------------------------------------------------------------------------------- */

static void conn_end(berth_proxy *p, conn *c)
{
    ep_close(&c->client);
    ep_close(&c->upstream);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->n_conns--;
    c->next = p->dead_conns;
    p->dead_conns = c;
    if (p->paused) {
        for (size_t i = 0; i < p->n_ls; i++)
            if (!p->ls[i].port.udp)
                ep_set(p, &p->ls[i].ep, EPOLLIN);
        p->paused = false;
    }
}

/* Move what can move from one side into b: 1 progress, 0 none, -1 the
 * connection is broken. */
static int fill(int from, buf *b)
{
    ssize_t n;

    if (b->eof || b->off + b->len == sizeof(b->data)) {
        if (b->eof || b->off == 0)
            return 0;
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    n = recv(from, b->data + b->off + b->len, sizeof(b->data) - b->off - b->len, 0);
    if (n > 0) {
        b->len += (size_t)n;
        return 1;
    }
    /* (a reset ends the stream as its end does: what the other
     * direction holds is still delivered) */
    if (n == 0 || errno == ECONNRESET) {
        b->eof = true;
        return 1;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

/* Write b's bytes to the other side (1 progress, 0 none, -1 broken);
 * its write half closes after the last byte of an ended stream. */
static int drain(int to, buf *b)
{
    ssize_t n;
    int r = 0;

    if (b->len > 0) {
        n = send(to, b->data + b->off, b->len, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        b->off += (size_t)n;
        b->len -= (size_t)n;
        if (b->len == 0)
            b->off = 0;
        r = n > 0;
    }
    if (b->eof && b->len == 0 && !b->shut) {
        shutdown(to, SHUT_WR);
        b->shut = true;
    }
    return r;
}

static uint32_t want(const buf *in, const buf *out)
{
    return (!in->eof && in->off + in->len < sizeof(in->data) ? EPOLLIN : 0) |
           (out->len > 0 ? EPOLLOUT : 0);
}

/* Move bytes both ways as far as they go now; the connection ends when
 * both streams did, or on an error. While the connection into the
 * namespace is being made, the client's bytes wait in their buffer. */
static void conn_pump(berth_proxy *p, conn *c)
{
    if (c->connecting) {
        struct pollfd pf = { .fd = c->upstream.fd, .events = POLLOUT };
        int e = 0;
        socklen_t len = sizeof(e);

        if (poll(&pf, 1, 0) == 1) {
            if (getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e != 0) {
                conn_end(p, c);
                return;
            }
            c->connecting = false;
        } else if (fill(c->client.fd, &c->to_up) < 0 ||
                   ep_set(p, &c->client, want(&c->to_up, &c->to_client)) < 0) {
            conn_end(p, c);
            return;
        } else {
            return;
        }
    }
    /* Once an end hung up it is out of the epoll set (hung_up): what it
     * still holds is read here, as far as the other end takes it, since
     * no event of its own will come. */
    for (;;) {
        int a = fill(c->client.fd, &c->to_up), b = a < 0 ? -1 : drain(c->upstream.fd, &c->to_up),
            d = b < 0 ? -1 : fill(c->upstream.fd, &c->to_client),
            e = d < 0 ? -1 : drain(c->client.fd, &c->to_client);

        if (e < 0 || (c->to_up.shut && c->to_client.shut)) {
            conn_end(p, c);
            return;
        }
        if (!(a | b | d | e) || !(c->client.hung_up || c->upstream.hung_up))
            break;
    }
    if (ep_set(p, &c->client, want(&c->to_up, &c->to_client)) < 0 ||
        ep_set(p, &c->upstream, want(&c->to_client, &c->to_up)) < 0)
        conn_end(p, c);
}

/* An end whose peer closed both ways (or reset it) is reported
 * (EPOLLHUP) on every wait, also while its bytes wait for room: once
 * nothing is to be written to it, it leaves the epoll set, and conn_pump
 * reads what it still holds as the other end takes it. */
static void hung_up(berth_proxy *p, conn *c)
{
    struct {
        endpoint *e;
        const buf *out; /* what waits to be written to it */
    } ends[] = { { &c->client, &c->to_client }, { &c->upstream, &c->to_up } };
    struct pollfd pf;
    bool removed = false;

    for (size_t i = 0; i < 2; i++) {
        /* (one with bytes to take fails their send, which ends it all) */
        if (ends[i].e->hung_up || ends[i].out->len > 0)
            continue;
        pf = (struct pollfd){ .fd = ends[i].e->fd };
        if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP)) {
            epoll_ctl(p->epfd, EPOLL_CTL_DEL, ends[i].e->fd, NULL);
            ends[i].e->hung_up = true;
            removed = true;
        }
    }
    /* no event of its own comes now: what it holds is read at once, as
     * far as the other end takes it (then that end's EPOLLOUT goes on) */
    if (removed)
        conn_pump(p, c);
}

/* Accept no more connections until one ends (conn_end resumes). */
static void pause_listeners(berth_proxy *p)
{
    for (size_t i = 0; i < p->n_ls; i++)
        if (!p->ls[i].port.udp)
            ep_set(p, &p->ls[i].ep, 0);
    p->paused = true;
}

static void tcp_accept(berth_proxy *p, listener *l)
{
    struct sockaddr_in to = loopback(l->port.port);
    berth_error *err = NULL;
    conn *c;
    int fd, up;

    if (p->n_conns >= BERTH_PROXY_MAX_CONNS) {
        pause_listeners(p);
        return;
    }
    fd = accept4(l->ep.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        /* out of fds: the connection waits in the backlog until one of
         * ours ends (none of ours: nothing frees one, and it is tried
         * again) */
        if ((errno == EMFILE || errno == ENFILE) && p->n_conns > 0)
            pause_listeners(p);
        return;
    }
    up = ns_socket(p, SOCK_STREAM, &err);
    if (up < 0) {
        berth_error_free(&err);
        close(fd);
        return;
    }
    c = berth_xcalloc(1, sizeof(*c));
    c->l = l;
    c->connecting = connect(up, (struct sockaddr *)&to, sizeof(to)) < 0;
    if ((c->connecting && errno != EINPROGRESS) ||
        ep_add(p, &c->client, EP_CLIENT, fd, c, EPOLLIN) < 0) {
        /* nothing listens there (yet): the client's connection ends */
        free(c);
        close(up);
        close(fd);
        return;
    }
    if (ep_add(p, &c->upstream, EP_UPSTREAM, up, c, EPOLLIN | EPOLLOUT) < 0) {
        close(up);
        close(fd);
        free(c);
        return;
    }
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->n_conns++;
}

/* --- UDP ----------------------------------------------------------------------------------- */

static void flow_end(berth_proxy *p, listener *l, flow *f)
{
    for (flow **pp = &l->flows; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    l->n_flows--;
    ep_close(&f->ep);
    f->next = p->dead_flows;
    p->dead_flows = f;
}

/* The flow of peer: its own, or a new one (the oldest goes when there are
 * too many; idle ones go now). */
static flow *flow_for(berth_proxy *p, listener *l, const struct sockaddr_in *peer)
{
    struct sockaddr_in to = loopback(l->port.port);
    int64_t now = berth_now_mono_ns(), idle = now - BERTH_PROXY_UDP_IDLE_S * BERTH_NSEC_PER_SEC;
    berth_error *err = NULL;
    flow *f, *oldest = NULL, *next;
    int fd;

    for (f = l->flows; f; f = next) {
        next = f->next;
        if (f->peer.sin_port == peer->sin_port &&
            f->peer.sin_addr.s_addr == peer->sin_addr.s_addr) {
            f->last_ns = now;
            return f;
        }
        if (f->last_ns < idle)
            flow_end(p, l, f);
        else if (!oldest || f->last_ns < oldest->last_ns)
            oldest = f;
    }
    if (l->n_flows >= BERTH_PROXY_MAX_FLOWS && oldest)
        flow_end(p, l, oldest);
    fd = ns_socket(p, SOCK_DGRAM, &err);
    if (fd < 0) {
        berth_error_free(&err);
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
        close(fd);
        return NULL;
    }
    f = berth_xcalloc(1, sizeof(*f));
    if (ep_add(p, &f->ep, EP_FLOW, fd, f, EPOLLIN) < 0) {
        close(fd);
        free(f);
        return NULL;
    }
    f->l = l;
    f->peer = *peer;
    f->last_ns = now;
    f->next = l->flows;
    l->flows = f;
    l->n_flows++;
    return f;
}

static void udp_in(berth_proxy *p, listener *l)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    ssize_t n = recvfrom(l->ep.fd, p->dgram, sizeof(p->dgram), 0, (struct sockaddr *)&peer, &len);
    flow *f;

    if (n < 0 || len != sizeof(peer))
        return;
    f = flow_for(p, l, &peer);
    /* a datagram that cannot go is lost, as UDP's are */
    if (f)
        send(f->ep.fd, p->dgram, (size_t)n, MSG_NOSIGNAL);
}

static void udp_back(berth_proxy *p, flow *f)
{
    ssize_t n = recv(f->ep.fd, p->dgram, sizeof(p->dgram), 0);

    /* ECONNREFUSED: nothing listens in the namespace (an ICMP came back) */
    if (n < 0)
        return;
    f->last_ns = berth_now_mono_ns();
    sendto(f->l->ep.fd, p->dgram, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&f->peer,
           sizeof(f->peer));
}

/* --- the proxy ----------------------------------------------------------------------------- */

static int listen_on(listener *l, berth_error **err)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons(l->port.host_port),
                             .sin_addr.s_addr = l->port.host_ip };
    _cleanup_close_ int fd =
        socket(AF_INET, (l->port.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    char what[64];
    int one = 1;

    port_text(&l->port, what);
    if (fd < 0)
        return berth_error_errno(err, "port %s: socket", what);
    if (!l->port.udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (errno == EADDRINUSE)
            return berth_error_errno(err, "port %s is already in use", what);
        return berth_error_errno(err, "port %s: bind", what);
    }
    if (!l->port.udp && listen(fd, 128) < 0)
        return berth_error_errno(err, "port %s: listen", what);
    if (ep_add(l->p, &l->ep, EP_LISTEN, fd, l, EPOLLIN) < 0)
        return berth_error_errno(err, "port %s: epoll", what);
    TAKE_FD(fd);
    return 0;
}

int berth_proxy_open(const berth_proxy_port *ports, size_t n_ports, berth_proxy **ret,
                     berth_error **err)
{
    berth_proxy *p = berth_xcalloc(1, sizeof(*p));

    p->self = p->netns = -1;
    p->ls = berth_xcalloc(n_ports + 1, sizeof(*p->ls));
    for (size_t i = 0; i < n_ports; i++)
        p->ls[i].ep.fd = -1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        berth_error_errno(err, "epoll_create1");
        goto fail;
    }
    p->self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (p->self < 0) {
        berth_error_errno(err, "open /proc/thread-self/ns/net");
        goto fail;
    }
    for (size_t i = 0; i < n_ports; i++) {
        p->ls[i].p = p;
        p->ls[i].port = ports[i];
        p->n_ls++;
        if (listen_on(&p->ls[i], err) < 0)
            goto fail;
    }
    *ret = p;
    return 0;
fail:
    berth_proxy_close(p);
    return -1;
}

static void free_dead(berth_proxy *p)
{
    while (p->dead_conns) {
        conn *c = p->dead_conns;
        p->dead_conns = c->next;
        free(c);
    }
    while (p->dead_flows) {
        flow *f = p->dead_flows;
        p->dead_flows = f->next;
        free(f);
    }
}

int berth_proxy_set_netns(berth_proxy *p, int netns_fd, berth_error **err)
{
    int fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);

    /* two fds a connection: room for BERTH_PROXY_MAX_CONNS of them, as
     * far as the hard limit allows (here: a container started before
     * keeps the limit it was given) */
    {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * BERTH_PROXY_MAX_CONNS + 64) {
            rl.rlim_cur = rl.rlim_max < 2 * BERTH_PROXY_MAX_CONNS + 64
                              ? rl.rlim_max
                              : 2 * BERTH_PROXY_MAX_CONNS + 64;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }

    if (fd < 0)
        return berth_error_errno(err, "the container's network namespace");
    if (p->netns >= 0)
        close(p->netns);
    p->netns = fd;
    return 0;
}

void berth_proxy_close(berth_proxy *p)
{
    if (!p)
        return;
    while (p->conns)
        conn_end(p, p->conns);
    for (size_t i = 0; i < p->n_ls; i++) {
        while (p->ls[i].flows)
            flow_end(p, &p->ls[i], p->ls[i].flows);
        ep_close(&p->ls[i].ep);
    }
    free_dead(p);
    free(p->ls);
    free(p->broken);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->netns >= 0)
        close(p->netns);
    if (p->self >= 0)
        close(p->self);
    free(p);
}

int berth_proxy_fd(const berth_proxy *p)
{
    return p->epfd;
}

int berth_proxy_run(berth_proxy *p, berth_error **err)
{
    struct epoll_event evs[32];
    int n;

    if (p->broken)
        return berth_error_set(err, EIO, "port proxy: %s", p->broken);
    n = epoll_wait(p->epfd, evs, 32, 0);

    if (n < 0)
        return errno == EINTR ? 0 : berth_error_errno(err, "epoll_wait");
    for (int i = 0; i < n; i++) {
        endpoint *e = evs[i].data.ptr;

        /* ended by an earlier event of this batch, or pumped already */
        if (!e || e->fd < 0)
            continue;
        switch (e->kind) {
        case EP_LISTEN: {
            listener *l = e->owner;
            if (l->port.udp)
                udp_in(p, l);
            else
                tcp_accept(p, l);
            break;
        }
        case EP_CLIENT:
        case EP_UPSTREAM: {
            conn *c = e->owner;

            /* both ends ready: one pump for the two (a reset is read as
             * the end of its stream) */
            for (int j = i + 1; j < n; j++) {
                endpoint *o = evs[j].data.ptr;
                if (o && o->owner == c)
                    evs[j].data.ptr = NULL;
            }
            conn_pump(p, c);
            if (c->client.fd >= 0)
                hung_up(p, c);
            break;
        }
        case EP_FLOW: {
            flow *f = e->owner;
            udp_back(p, f);
            break;
        }
        }
    }
    free_dead(p);
    if (p->broken)
        return berth_error_set(err, EIO, "port proxy: %s", p->broken);
    return 0;
}
