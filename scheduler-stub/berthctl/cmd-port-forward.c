/* berthctl port-forward: local TCP ports forwarded to a pod's ports, as
 * kubectl port-forward does: each connection accepted locally is a
 * Controller.PortForward stream, relayed to the node, which connects to
 * the port on the pod's own loopback. Several at once, until interrupted. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "berthctl.h"
#include "pb/pb.h"
#include "rpc/duplex_sock.h"
#include "rpc/principal.h"

#define PORTS_MAX     16
#define ADDRS_MAX     4
#define LISTENERS_MAX (PORTS_MAX * ADDRS_MAX * 2)
/* Streams on the wire at once: two calls each (rpc/duplex.h). */
#define INFLIGHT 64

typedef struct pf pf;

typedef struct listener {
    pf *pf;
    berth_loop_io io;
    int fd;
    uint16_t local, remote;
} listener;

typedef struct conn {
    pf *pf;
    struct conn *prev, *next;
    int fd;
    uint16_t local, remote;
    berth_duplex_sock *bridge;
    bool opening;
} conn;

struct pf {
    berthctl_ctx *ctx;
    const char *pod;
    char id[256], node[BERTH_NAME_MAX + 1];
    listener listeners[LISTENERS_MAX];
    size_t n_listeners;
    conn *conns;
    berth_loop_signal sig_int, sig_term;
    bool stop;
};

static void pf_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl port-forward [--address ADDR] POD [LOCAL:]REMOTE...\n"
            "\n"
            "Forward local TCP ports to a pod's ports, as kubectl port-forward does: each\n"
            "connection to LOCAL reaches REMOTE on the pod's own loopback (127.0.0.1 in its\n"
            "network namespace), through the controller and the pod's node. LOCAL alone\n"
            "forwards the same port; :REMOTE picks a free local port. Runs until\n"
            "interrupted.\n"
            "\n"
            "Options:\n"
            "      --address ADDR  the local addresses to listen on, comma-separated IPs\n"
            "                      or localhost (default: localhost, 127.0.0.1 and ::1)\n"
            "      --node NODE     the node, when the pod's name is not unique\n"
            "  -h, --help          this help\n"
            "\n%s",
            berthctl_connection_help);
}

static void conn_unlink(conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->pf->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void bridge_done(int code, const char *msg, void *data)
{
    conn *c = data;

    if (code != CODE_OK && code != CODE_CANCELLED)
        fprintf(stderr, "error forwarding port %u to pod %s: %s\n", c->remote, c->pf->pod, msg);
    conn_unlink(c);
    free(c);
}

static void opened(berth_rpc_result *r, void *data)
{
    static const berth_duplex_ops none = { 0 };
    conn *c = data;
    berth_duplex_client_config cc = { 0 };
    berth_error *err = NULL;
    berth_duplex *d;

    if (!c->pf) {
        free(c); /* berthctl is going */
        return;
    }
    cc.client = c->pf->ctx->client;
    cc.service = c->pf->ctx->service;
    c->opening = false;
    if (r->code != CODE_OK || berth_duplex_client_open(&cc, (const DuplexOpened *)r->response,
                                                       &none, NULL, &d, &err) < 0) {
        fprintf(stderr, "error forwarding port %u to pod %s: %s\n", c->remote, c->pf->pod,
                err          ? err->msg
                : r->message ? r->message
                             : berth_rpc_code_name(r->code));
        berth_error_free(&err);
        close(c->fd);
        conn_unlink(c);
        free(c);
        return;
    }
    c->bridge = berth_duplex_sock_new(c->pf->ctx->loop, d, c->fd, 0, bridge_done, c);
}

static void on_accept(berth_loop_io *io, uint32_t events)
{
    listener *l = berth_container_of(io, listener, io);
    pf *p = l->pf;

    (void)events;
    for (;;) {
        PortForwardStart req = PORT_FORWARD_START_INIT;
        berth_error *err = NULL;
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        conn *c;

        if (fd < 0)
            return;
        printf("Handling connection for %u\n", l->local);
        fflush(stdout);
        c = berth_xcalloc(1, sizeof(*c));
        c->pf = p;
        c->fd = fd;
        c->local = l->local;
        c->remote = l->remote;
        c->opening = true;
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        req.container_id = p->id;
        req.node = p->node;
        req.port = l->remote;
        if (berth_rpc_client_call(p->ctx->client, p->ctx->service, "PortForward", &req.base, 0,
                                  opened, c, &err) < 0) {
            fprintf(stderr, "error forwarding port %u: %s\n", l->remote, err->msg);
            berth_error_free(&err);
            close(fd);
            conn_unlink(c);
            free(c);
        }
    }
}

static void on_signal(berth_loop_signal *s, int signo)
{
    pf *p =
        signo == SIGINT ? berth_container_of(s, pf, sig_int) : berth_container_of(s, pf, sig_term);

    p->stop = true;
    berth_loop_stop(p->ctx->loop);
}

/* "[LOCAL:]REMOTE" or ":REMOTE". */
static int parse_ports(const char *spec, uint16_t *ret_local, uint16_t *ret_remote)
{
    const char *colon = strchr(spec, ':');
    char *end;
    long local, remote;

    remote = strtol(colon ? colon + 1 : spec, &end, 10);
    if (*end || remote < 1 || remote > 65535)
        return -1;
    if (!colon) {
        local = remote;
    } else if (colon == spec) {
        local = 0; /* a free one */
    } else {
        local = strtol(spec, &end, 10);
        if (end != colon || local < 1 || local > 65535)
            return -1;
    }
    *ret_local = (uint16_t)local;
    *ret_remote = (uint16_t)remote;
    return 0;
}

/* Listen on addr:*local (0: a free port, then written back). */
static int listen_on(pf *p, const char *addr, uint16_t *local, uint16_t remote, bool optional)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    listener *l;
    int fd, one = 1;
    bool v6 = strchr(addr, ':') != NULL;

    if (p->n_listeners >= LISTENERS_MAX) {
        berthctl_errorf("port-forward: at most %d listeners", LISTENERS_MAX);
        return -1;
    }
    if (v6) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(*local);
        len = sizeof(*in6);
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            goto bad_addr;
    } else {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(*local);
        len = sizeof(*in4);
        if (inet_pton(AF_INET, addr, &in4->sin_addr) != 1)
            goto bad_addr;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        if (optional)
            return 0;
        berthctl_errorf("unable to listen on port %u at %s: %s", *local, addr, strerror(e));
        return -1;
    }
    *local = ntohs(v6 ? in6->sin6_port : in4->sin_port);
    l = &p->listeners[p->n_listeners++];
    l->pf = p;
    l->fd = fd;
    l->local = *local;
    l->remote = remote;
    l->io.fd = -1;
    if (berth_loop_add(p->ctx->loop, &l->io, fd, EPOLLIN, on_accept, NULL) < 0) {
        berthctl_errorf("port-forward: cannot watch the listening socket");
        return -1;
    }
    printf("Forwarding from %s%s%s:%u -> %u\n", v6 ? "[" : "", addr, v6 ? "]" : "", *local, remote);
    fflush(stdout);
    return 0;

bad_addr:
    berthctl_errorf("--address: %s is not an IP address (or localhost)", addr);
    return -1;
}

int berthctl_cmd_port_forward(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "address", required_argument, NULL, 'a' },
        { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    pf *p = berth_xcalloc(1, sizeof(*p));
    char addrs[256] = "localhost", *save = NULL, *a;
    uint16_t local[PORTS_MAX], remote[PORTS_MAX];
    int o, n, rc = 0;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'a':
            snprintf(addrs, sizeof(addrs), "%s", optarg);
            break;
        case 'N':
            snprintf(p->node, sizeof(p->node), "%s", optarg);
            break;
        case 'h':
            pf_usage(stdout);
            free(p);
            return 0;
        default:
            pf_usage(stderr);
            free(p);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    n = argc - optind - 1;
    if (n < 1 || n > PORTS_MAX) {
        berthctl_errorf("port-forward needs a POD and 1 to %d ports (see berthctl port-forward "
                        "--help)",
                        PORTS_MAX);
        free(p);
        return BERTHCTL_EXIT_USAGE;
    }
    p->ctx = ctx;
    p->pod = argv[optind];
    if (strncmp(p->pod, "pod/", 4) == 0 || strncmp(p->pod, "pods/", 5) == 0)
        p->pod = strchr(p->pod, '/') + 1;
    for (int i = 0; i < n; i++) {
        if (parse_ports(argv[optind + 1 + i], &local[i], &remote[i]) < 0) {
            berthctl_errorf("port-forward: '%s' is not [LOCAL:]REMOTE (ports 1-65535)",
                            argv[optind + 1 + i]);
            free(p);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    /* every stream needs two calls on the wire */
    ctx->max_inflight = INFLIGHT;
    if (berthctl_connect_or_exit(ctx) != 0) {
        free(p);
        return 1;
    }
    /* any container of the pod: they share its network namespace */
    if (berthctl_find_container(ctx, p->pod, NULL, BERTHCTL_PICK_FIRST, p->id, sizeof(p->id),
                                p->node, sizeof(p->node)) < 0) {
        free(p);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < n && rc == 0; i++) {
        char list[sizeof(addrs)];

        /* the same local port on every address (a free one: the first's) */
        snprintf(list, sizeof(list), "%s", addrs);
        for (a = strtok_r(list, ",", &save); a && rc == 0; a = strtok_r(NULL, ",", &save)) {
            if (strcmp(a, "localhost") == 0) {
                rc = listen_on(p, "127.0.0.1", &local[i], remote[i], false);
                if (rc == 0)
                    rc = listen_on(p, "::1", &local[i], remote[i], true);
            } else {
                rc = listen_on(p, a, &local[i], remote[i], false);
            }
        }
    }
    if (rc == 0) {
        berth_loop_add_signal(ctx->loop, &p->sig_int, SIGINT, on_signal, NULL);
        berth_loop_add_signal(ctx->loop, &p->sig_term, SIGTERM, on_signal, NULL);
        while (!p->stop)
            berth_loop_run(ctx->loop, NULL);
    }
    for (size_t i = 0; i < p->n_listeners; i++) {
        berth_loop_remove(ctx->loop, &p->listeners[i].io);
        close(p->listeners[i].fd);
    }
    /* the open connections end: their streams cancelled at the node */
    while (p->conns) {
        conn *c = p->conns;

        conn_unlink(c);
        if (c->bridge) {
            berth_duplex_sock_close(c->bridge);
            free(c);
        } else {
            /* its opening call completes (CANCELLED) when the client goes:
             * it finds no pf and frees it */
            close(c->fd);
            c->pf = NULL;
        }
    }
    /* the cancels leave before we do */
    berth_loop_run_once(ctx->loop, 100 * 1000 * 1000, NULL);
    free(p);
    return rc == 0 ? 0 : 1;
}
