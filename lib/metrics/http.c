/* The /metrics endpoint on the loop (see http.h). */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "listen.h"

#define DEFAULT_CONNECTIONS 16
#define DEFAULT_IDLE_S      30
/* What a connection may hold for a request's headers (the answer's text
 * is apart). */
#define CONNECTION_MEMORY (32 * 1024)
#define BACKLOG           16

static const char index_page[] = "<html><head><title>berth metrics</title></head><body>\n"
                                 "<p><a href=\"/metrics\">/metrics</a></p>\n"
                                 "</body></html>\n";

struct berth_metrics_http {
    berth_loop *loop;
    struct MHD_Daemon *d;
    berth_loop_io io; /* MHD's epoll fd */
    berth_loop_timer timer;
    berth_metrics_collect_fn collect;
    void *data;
    uint16_t port;
};

static unsigned connections(berth_metrics_http *h)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return info ? info->num_connections : 0;
}

/* Let MHD do what is ready, then wake up when it wants to be run again. */
static void run(berth_metrics_http *h)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    unsigned before = connections(h);

    MHD_run(h->d);
    /* At its connection limit MHD stops watching the listening socket, and
     * only a next run watches it again once a connection closed: with
     * nothing else to wake the loop, a client waiting in the backlog would
     * wait for good. */
    if (connections(h) < before)
        MHD_run(h->d);
    if (MHD_get_timeout(h->d, &ms) == MHD_YES)
        berth_loop_timer_arm(h->loop, &h->timer,
                             berth_now_mono_ns() + (int64_t)ms * BERTH_NSEC_PER_MSEC);
    else
        berth_loop_timer_cancel(h->loop, &h->timer);
}

static void on_io(berth_loop_io *io, uint32_t events)
{
    (void)events;
    run(berth_container_of(io, berth_metrics_http, io));
}

static void on_timer(berth_loop_timer *t)
{
    run(berth_container_of(t, berth_metrics_http, timer));
}

/* libmicrohttpd's own messages (its format strings). */
static void __attribute__((format(printf, 2, 0))) on_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    berth_debug("metrics endpoint: %s", line);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              char *body, size_t len, bool owned)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (owned)
        r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    else
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        berth_oom();
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    berth_metrics_http *h = cls;
    static const char not_found[] = "404 page not found: try /metrics\n";
    static const char not_allowed[] = "405 method not allowed: GET or HEAD\n";

    (void)version;
    (void)upload_data;
    (void)req_cls;
    /* A body is not read: the answer goes at once and the connection is
     * closed after it. */
    *upload_data_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                      (char *)not_allowed, sizeof(not_allowed) - 1, false);
    if (strcmp(url, "/metrics") == 0) {
        berth_prom w;
        char *text;
        size_t len;

        berth_prom_init(&w);
        h->collect(&w, h->data);
        text = berth_prom_steal(&w, &len);
        return answer(c, MHD_HTTP_OK, BERTH_PROM_CONTENT_TYPE, text, len, true);
    }
    if (strcmp(url, "/") == 0)
        return answer(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)index_page,
                      sizeof(index_page) - 1, false);
    return answer(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", (char *)not_found,
                  sizeof(not_found) - 1, false);
}

int berth_metrics_http_start(const berth_metrics_http_config *cfg, berth_metrics_http **ret_http,
                             berth_error **err)
{
    struct sockaddr_storage ss;
    socklen_t slen = 0;
    unsigned max = cfg->max_connections ? cfg->max_connections : DEFAULT_CONNECTIONS;
    unsigned per_ip = max / 4 < 2 ? 2 : max / 4;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    berth_metrics_http *h;
    int r = berth_metrics_address_parse(cfg->address, &ss, &slen, err);

    if (r < 0)
        return -1;
    if (r == 0)
        return berth_error_set(err, EINVAL, "metrics endpoint: no address to listen on");
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = berth_xcalloc(1, sizeof(*h));
    h->loop = cfg->loop;
    h->collect = cfg->collect;
    h->data = cfg->data;
    h->io.fd = -1;
    berth_loop_timer_init(&h->timer, on_timer);
    /* MHD makes its sockets and epoll fd close-on-exec and non-blocking. */
    errno = 0;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, max, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)BACKLOG, MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
        MHD_OPTION_END);
    if (!h->d) {
        int e = errno ? errno : EADDRNOTAVAIL;

        free(h);
        return berth_error_set(err, e, "metrics endpoint: listen on %s: %s", cfg->address,
                               strerror(e));
    }
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || info->epoll_fd < 0) {
        berth_metrics_http_stop(h);
        return berth_error_set(err, ENOTSUP, "metrics endpoint: libmicrohttpd has no epoll fd");
    }
    if (berth_loop_add(h->loop, &h->io, info->epoll_fd, EPOLLIN, on_io, err) < 0) {
        berth_metrics_http_stop(h);
        return berth_error_prefix(err, "metrics endpoint");
    }
    *ret_http = h;
    return 0;
}

void berth_metrics_http_stop(berth_metrics_http *h)
{
    if (!h)
        return;
    berth_loop_timer_cancel(h->loop, &h->timer);
    berth_loop_remove(h->loop, &h->io);
    MHD_stop_daemon(h->d);
    free(h);
}

uint16_t berth_metrics_http_port(const berth_metrics_http *h)
{
    return h->port;
}
