/* The /metrics endpoint (lib/metrics/http.h) on a loop, asked over
 * loopback sockets by this test while it runs the loop: what each path and
 * method answers, the connection limit, idle connections closed by the
 * loop's timer, close-on-exec fds, a taken port. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "metrics/http.h"
#include "check_main.h"

typedef struct fixture {
    berth_loop *loop;
    berth_metrics_http *http;
    unsigned scrapes;
} fixture;

static void collect(berth_prom *w, void *data)
{
    fixture *f = data;

    f->scrapes++;
    berth_prom_single(w, "test_scrapes_total", BERTH_PROM_COUNTER, "Scrapes so far.", f->scrapes);
}

static void start(fixture *f, unsigned max_connections, unsigned idle_s)
{
    berth_error *err = NULL;
    berth_metrics_http_config cfg = {
        .address = "127.0.0.1:0",
        .collect = collect,
        .data = f,
        .max_connections = max_connections,
        .idle_timeout_s = idle_s,
    };

    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(berth_loop_new(&f->loop, &err), 0);
    cfg.loop = f->loop;
    ck_assert_msg(berth_metrics_http_start(&cfg, &f->http, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_uint_gt(berth_metrics_http_port(f->http), 0);
}

static void stop(fixture *f)
{
    berth_metrics_http_stop(f->http);
    berth_loop_free(f->loop);
}

static int dial(fixture *f)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    a.sin_port = htons(berth_metrics_http_port(f->http));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Run the loop until fd has been closed by the server (or 5 s): what came. */
static char *read_all(fixture *f, int fd, int64_t within_ns)
{
    int64_t end = berth_now_mono_ns() + within_ns;
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);

    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);

        if (n > 0) {
            len += (size_t)n;
            ck_assert_uint_lt(len, cap - 1);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        ck_assert_msg(berth_now_mono_ns() < end, "no answer in time: [%.*s]", (int)len, buf);
        ck_assert_int_ge(berth_loop_run_once(f->loop, 10 * BERTH_NSEC_PER_MSEC, NULL), 0);
    }
    buf[len] = '\0';
    return buf;
}

static char *ask(fixture *f, const char *request)
{
    int fd = dial(f);
    char *answer;

    ck_assert_int_eq(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
    answer = read_all(f, fd, 5 * BERTH_NSEC_PER_SEC);
    close(fd);
    return answer;
}

#define REQ(method, path) method " " path " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"

START_TEST(get_metrics)
{
    fixture f;
    _cleanup_free_ char *a = NULL, *b = NULL;

    start(&f, 0, 0);
    a = ask(&f, REQ("GET", "/metrics"));
    ck_assert_msg(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", a);
    ck_assert_ptr_nonnull(
        strstr(a, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(a, "\r\nContent-Length: 97\r\n"));
    ck_assert_str_eq(strstr(a, "\r\n\r\n") + 4, "# HELP test_scrapes_total Scrapes so far.\n"
                                                "# TYPE test_scrapes_total counter\n"
                                                "test_scrapes_total 1\n");
    /* each scrape collects afresh */
    b = ask(&f, REQ("GET", "/metrics"));
    ck_assert_ptr_nonnull(strstr(b, "\ntest_scrapes_total 2\n"));
    ck_assert_uint_eq(f.scrapes, 2);
    stop(&f);
}
END_TEST

/* HEAD: the headers GET would get, no body. */
START_TEST(head_metrics)
{
    fixture f;
    _cleanup_free_ char *a = NULL;

    start(&f, 0, 0);
    a = ask(&f, REQ("HEAD", "/metrics"));
    ck_assert_msg(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", a);
    ck_assert_ptr_nonnull(strstr(a, "\r\nContent-Length: 97\r\n"));
    ck_assert_str_eq(strstr(a, "\r\n\r\n") + 4, "");
    stop(&f);
}
END_TEST

START_TEST(other_paths_and_methods)
{
    fixture f;
    _cleanup_free_ char *root = NULL, *missing = NULL, *post = NULL, *put = NULL, *query = NULL;

    start(&f, 0, 0);
    root = ask(&f, REQ("GET", "/"));
    ck_assert_msg(strncmp(root, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", root);
    ck_assert_ptr_nonnull(strstr(root, "Content-Type: text/html; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(root, "<a href=\"/metrics\">/metrics</a>"));
    missing = ask(&f, REQ("GET", "/metrics/x"));
    ck_assert_msg(strncmp(missing, "HTTP/1.1 404 Not Found\r\n", 24) == 0, "%s", missing);
    ck_assert_str_eq(strstr(missing, "\r\n\r\n") + 4, "404 page not found: try /metrics\n");
    post = ask(&f, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: "
                   "close\r\n\r\nhello");
    ck_assert_msg(strncmp(post, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0, "%s", post);
    ck_assert_ptr_nonnull(strstr(post, "\r\nAllow: GET, HEAD\r\n"));
    put = ask(&f, REQ("DELETE", "/"));
    ck_assert_msg(strncmp(put, "HTTP/1.1 405 ", 13) == 0, "%s", put);
    /* a query string is not part of the path */
    query = ask(&f, REQ("GET", "/metrics?x=1"));
    ck_assert_msg(strncmp(query, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", query);
    /* none of those collected, but the two GETs of /metrics */
    ck_assert_uint_eq(f.scrapes, 1);
    stop(&f);
}
END_TEST

/* Past the limit a connection waits unanswered (it is not accepted); a
 * place freed takes it. */
START_TEST(connection_limit)
{
    fixture f;
    int held[2], extra;
    char buf[64];
    _cleanup_free_ char *a = NULL;

    start(&f, 2, 0);
    for (size_t i = 0; i < 2; i++)
        held[i] = dial(&f);
    for (int i = 0; i < 20; i++)
        berth_loop_run_once(f.loop, 5 * BERTH_NSEC_PER_MSEC, NULL);
    extra = dial(&f);
    ck_assert_int_eq(send(extra, REQ("GET", "/metrics"), strlen(REQ("GET", "/metrics")), 0),
                     (ssize_t)strlen(REQ("GET", "/metrics")));
    for (int i = 0; i < 30; i++)
        berth_loop_run_once(f.loop, 10 * BERTH_NSEC_PER_MSEC, NULL);
    ck_assert_int_lt(recv(extra, buf, sizeof(buf), MSG_DONTWAIT), 0);
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_uint_eq(f.scrapes, 0);
    close(held[0]);
    a = read_all(&f, extra, 5 * BERTH_NSEC_PER_SEC);
    ck_assert_msg(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", a);
    close(extra);
    close(held[1]);
    stop(&f);
}
END_TEST

/* An idle connection is closed by the loop's timer, nothing else waking. */
START_TEST(idle_timeout)
{
    fixture f;
    int fd;
    int64_t t0;
    _cleanup_free_ char *got = NULL;

    start(&f, 0, 1);
    fd = dial(&f);
    t0 = berth_now_mono_ns();
    got = read_all(&f, fd, 5 * BERTH_NSEC_PER_SEC);
    ck_assert_str_eq(got, "");
    ck_assert_int_ge(berth_now_mono_ns() - t0, 900 * BERTH_NSEC_PER_MSEC);
    close(fd);
    stop(&f);
}
END_TEST

/* The fds open now (below 1024), as a map. */
static void open_fds(bool open[1024])
{
    _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    memset(open, 0, 1024 * sizeof(bool));
    while ((e = readdir(d))) {
        int n = atoi(e->d_name);

        if (e->d_name[0] != '.' && n < 1024 && n != dirfd(d))
            open[n] = true;
    }
}

/* Every fd the endpoint opens is close-on-exec (a daemon forks monitors),
 * connections included. */
START_TEST(cloexec)
{
    fixture f;
    int fd;
    bool before[1024], after[1024];
    unsigned n_new = 0;

    open_fds(before);
    start(&f, 0, 0);
    fd = dial(&f);
    for (int i = 0; i < 10; i++)
        berth_loop_run_once(f.loop, 5 * BERTH_NSEC_PER_MSEC, NULL);
    open_fds(after);
    for (int n = 0; n < 1024; n++) {
        int flags;

        if (!after[n] || before[n])
            continue;
        n_new++;
        flags = fcntl(n, F_GETFD);
        ck_assert_msg(flags >= 0 && (flags & FD_CLOEXEC), "fd %d is not close-on-exec", n);
    }
    /* the loop's two, the endpoint's epoll and listening socket, our
     * socket and its accepted peer */
    ck_assert_uint_ge(n_new, 6);
    close(fd);
    stop(&f);
}
END_TEST

START_TEST(bad_addresses)
{
    fixture f;
    berth_metrics_http *h = NULL;
    berth_error *err = NULL;
    char addr[32];
    berth_metrics_http_config cfg = { .collect = collect };
    _cleanup_free_ char *want = NULL;

    start(&f, 0, 0);
    cfg.loop = f.loop;
    cfg.data = &f;
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", berth_metrics_http_port(f.http));
    cfg.address = addr;
    ck_assert_int_lt(berth_metrics_http_start(&cfg, &h, &err), 0);
    ck_assert_int_eq(err->code, EADDRINUSE);
    ck_assert(asprintf(&want, "metrics endpoint: listen on %s: Address already in use", addr) > 0);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    cfg.address = "off";
    ck_assert_berth_error(berth_metrics_http_start(&cfg, &h, &err), err,
                          "metrics endpoint: no address to listen on");
    cfg.address = "nowhere";
    ck_assert_berth_error(berth_metrics_http_start(&cfg, &h, &err), err,
                          "metrics address 'nowhere': expected HOST:PORT (an IPv4 address or "
                          "localhost), [IPv6]:PORT, :PORT, or off");
    ck_assert_ptr_null(h);
    berth_metrics_http_stop(NULL);
    stop(&f);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("metrics-http");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, get_metrics);
    tcase_add_test(tc, head_metrics);
    tcase_add_test(tc, other_paths_and_methods);
    tcase_add_test(tc, connection_limit);
    tcase_add_test(tc, idle_timeout);
    tcase_add_test(tc, cloexec);
    tcase_add_test(tc, bad_addresses);
    suite_add_tcase(s, tc);
    return s;
}
