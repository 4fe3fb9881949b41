/* A daemon's /metrics endpoint: a small HTTP server (libmicrohttpd) on the
 * daemon's own loop. GET or HEAD of /metrics answers the text collect
 * writes at that moment (prom.h), / a page linking to it; any other path is
 * 404, any other method 405.
 *
 * libmicrohttpd runs without a thread of its own: the loop watches its
 * epoll fd, a loop timer follows MHD_get_timeout, and every request is
 * answered from the loop's thread, so collect reads the daemon's state
 * like any other handler and must not block. Sockets are non-blocking and
 * close-on-exec; connections are bounded (in all and per client address)
 * and closed when idle. */
#ifndef BERTH_METRICS_HTTP_H
#define BERTH_METRICS_HTTP_H

#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "prom.h"

typedef struct berth_metrics_http berth_metrics_http;

/* Write the families of one scrape into w (from the loop). */
typedef void (*berth_metrics_collect_fn)(berth_prom *w, void *data);

typedef struct berth_metrics_http_config {
    berth_loop *loop;
    /* listen.h's form; it must name an address ("off" is the caller's to
     * handle: EINVAL here). */
    const char *address;
    berth_metrics_collect_fn collect;
    void *data;
    /* Connections at once (0 = 16); each client address may hold a
     * quarter of them (at least 2). */
    unsigned max_connections;
    /* An idle connection is closed after this many seconds (0 = 30). */
    unsigned idle_timeout_s;
} berth_metrics_http_config;

/* Bind and listen (EADDRINUSE and the like name the address), and serve
 * from cfg->loop. */
int berth_metrics_http_start(const berth_metrics_http_config *cfg, berth_metrics_http **ret_http,
                             berth_error **err);
/* Close every connection and the socket. NULL is fine. */
void berth_metrics_http_stop(berth_metrics_http *h);
/* The port it listens on (the kernel's choice for port 0). */
uint16_t berth_metrics_http_port(const berth_metrics_http *h);

#endif
