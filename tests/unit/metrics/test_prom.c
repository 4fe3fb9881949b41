/* The text exposition format (lib/metrics/prom.h) and metrics_address
 * (lib/metrics/listen.h): the exact text a scrape gets. */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "metrics/listen.h"
#include "metrics/prom.h"
#include "check_main.h"

/* The writer's text so far, taken (the writer is empty again). */
static char *take(berth_prom *w)
{
    size_t len;
    char *text = berth_prom_steal(w, &len);

    ck_assert_uint_eq(len, strlen(text));
    return text;
}

#define ck_assert_text(w, want)                                                                    \
    do {                                                                                           \
        _cleanup_free_ char *_got = take(w);                                                       \
        ck_assert_str_eq(_got, (want));                                                            \
    } while (0)

START_TEST(family_and_samples)
{
    berth_prom w;
    const berth_prom_label l[] = { { "pod", "web-0" }, { "namespace", "default" } };

    berth_prom_init(&w);
    berth_prom_family(&w, "container_memory_rss", BERTH_PROM_GAUGE, "Resident memory, in bytes.");
    berth_prom_sample(&w, l, 2, 4096);
    berth_prom_sample(&w, NULL, 0, 0);
    berth_prom_family(&w, "berth_frames_total", BERTH_PROM_COUNTER, "Frames.");
    berth_prom_sample_u64(&w, l, 1, UINT64_MAX);
    ck_assert_text(&w, "# HELP container_memory_rss Resident memory, in bytes.\n"
                       "# TYPE container_memory_rss gauge\n"
                       "container_memory_rss{pod=\"web-0\",namespace=\"default\"} 4096\n"
                       "container_memory_rss 0\n"
                       "# HELP berth_frames_total Frames.\n"
                       "# TYPE berth_frames_total counter\n"
                       "berth_frames_total{pod=\"web-0\"} 18446744073709551615\n");
    berth_prom_single(&w, "up", BERTH_PROM_UNTYPED, "", 1);
    ck_assert_text(&w, "# HELP up \n# TYPE up untyped\nup 1\n");
    berth_prom_free(&w);
}
END_TEST

START_TEST(values)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        { 0, "0" },
        { -3, "-3" },
        { 1e14, "100000000000000" },
        { 1e15, "1e+15" },
        { 0.1, "0.1" },
        { 0.25, "0.25" },
        { 1.0 / 3, "0.3333333333333333" },
        { 123.456, "123.456" },
        { 2.5e-7, "2.5e-07" },
        { NAN, "NaN" },
        { INFINITY, "+Inf" },
        { -INFINITY, "-Inf" },
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
        berth_prom w;
        _cleanup_free_ char *want = NULL;

        berth_prom_init(&w);
        berth_prom_family(&w, "x", BERTH_PROM_GAUGE, "h");
        berth_prom_sample(&w, NULL, 0, cases[i].v);
        ck_assert(asprintf(&want, "# HELP x h\n# TYPE x gauge\nx %s\n", cases[i].text) > 0);
        ck_assert_text(&w, want);
        /* what is written reads back as the value */
        if (isfinite(cases[i].v))
            ck_assert(strtod(cases[i].text, NULL) == cases[i].v);
    }
}
END_TEST

/* Label values: \ " and newline escaped; HELP: \ and newline only. */
START_TEST(escaping)
{
    berth_prom w;
    const berth_prom_label l[] = { { "name", "a\\b\"c\nd" }, { "image", NULL } };

    berth_prom_init(&w);
    berth_prom_family(&w, "m", BERTH_PROM_GAUGE, "a \"quoted\" back\\slash\nnext line");
    berth_prom_sample(&w, l, 2, 1);
    ck_assert_text(&w, "# HELP m a \"quoted\" back\\\\slash\\nnext line\n"
                       "# TYPE m gauge\n"
                       "m{name=\"a\\\\b\\\"c\\nd\",image=\"\"} 1\n");
    berth_prom_free(&w);
}
END_TEST

/* UTF-8 passes; what is not UTF-8 becomes U+FFFD, byte by byte. */
START_TEST(utf8)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3",
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3" },
        { "a\xff"
          "b",
          "a\xef\xbf\xbd"
          "b" },
        { "\xc3", "\xef\xbf\xbd" },                                 /* cut short */
        { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong */
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
        berth_prom w;
        berth_prom_label l = { "v", cases[i].in };
        _cleanup_free_ char *want = NULL;

        berth_prom_init(&w);
        berth_prom_family(&w, "m", BERTH_PROM_GAUGE, "h");
        berth_prom_sample(&w, &l, 1, 1);
        ck_assert(asprintf(&want, "# HELP m h\n# TYPE m gauge\nm{v=\"%s\"} 1\n", cases[i].out) > 0);
        ck_assert_text(&w, want);
    }
}
END_TEST

static const double bounds[] = { 0.1, 1, 2.5 };

/* Buckets are cumulative, le is inclusive, +Inf is the count; _sum and
 * _count follow, each with the labels. */
START_TEST(histogram)
{
    berth_prom w;
    berth_prom_histogram h;
    const berth_prom_label l[] = { { "method", "berth.v1.Controller/Heartbeat" } };

    berth_prom_histogram_init(&h, bounds, BERTH_ARRAY_SIZE(bounds));
    berth_prom_histogram_observe(&h, 0.05);
    berth_prom_histogram_observe(&h, 0.1); /* on the bound: that bucket */
    berth_prom_histogram_observe(&h, 2);
    berth_prom_histogram_observe(&h, 7);   /* past the last: +Inf only */
    berth_prom_histogram_observe(&h, NAN); /* not counted */
    berth_prom_histogram_observe_ns(&h, 1500000000);
    berth_prom_histogram_observe_ns(&h, -5); /* a clock step: 0 */
    ck_assert_uint_eq(h.count, 6);
    berth_prom_init(&w);
    berth_prom_family(&w, "berth_rpc_seconds", BERTH_PROM_HISTOGRAM, "Calls.");
    berth_prom_histogram_write(&w, l, 1, &h);
    ck_assert_text(
        &w, "# HELP berth_rpc_seconds Calls.\n"
            "# TYPE berth_rpc_seconds histogram\n"
            "berth_rpc_seconds_bucket{method=\"berth.v1.Controller/Heartbeat\",le=\"0.1\"} 3\n"
            "berth_rpc_seconds_bucket{method=\"berth.v1.Controller/Heartbeat\",le=\"1\"} 3\n"
            "berth_rpc_seconds_bucket{method=\"berth.v1.Controller/Heartbeat\",le=\"2.5\"} 5\n"
            "berth_rpc_seconds_bucket{method=\"berth.v1.Controller/Heartbeat\",le=\"+Inf\"} 6\n"
            "berth_rpc_seconds_sum{method=\"berth.v1.Controller/Heartbeat\"} 10.65\n"
            "berth_rpc_seconds_count{method=\"berth.v1.Controller/Heartbeat\"} 6\n");
    /* empty, and without labels */
    berth_prom_histogram_init(&h, bounds, 1);
    berth_prom_histogram_family(&w, "d_seconds", "D.", &h);
    ck_assert_text(&w, "# HELP d_seconds D.\n"
                       "# TYPE d_seconds histogram\n"
                       "d_seconds_bucket{le=\"0.1\"} 0\n"
                       "d_seconds_bucket{le=\"+Inf\"} 0\n"
                       "d_seconds_sum 0\n"
                       "d_seconds_count 0\n");
    berth_prom_free(&w);
}
END_TEST

/* The shipped bucket sets are ascending and fit. */
START_TEST(bucket_sets)
{
    const struct {
        const double *b;
        size_t n;
    } sets[] = {
        { berth_prom_seconds_buckets, berth_prom_seconds_buckets_n },
        { berth_prom_long_seconds_buckets, berth_prom_long_seconds_buckets_n },
    };

    for (size_t s = 0; s < BERTH_ARRAY_SIZE(sets); s++) {
        ck_assert_uint_le(sets[s].n, BERTH_PROM_BUCKETS_MAX);
        for (size_t i = 1; i < sets[s].n; i++)
            ck_assert(sets[s].b[i - 1] < sets[s].b[i]);
    }
}
END_TEST

/* Series in the order first seen; past the cap, one "other" series. */
START_TEST(vec_counter)
{
    static const char *const names[] = { "method", "code" };
    berth_prom_vec *v = berth_prom_vec_new(BERTH_PROM_COUNTER, names, 2, NULL, 0, 2);
    berth_prom w;

    berth_prom_vec_add(v, (const char *[]){ "Register", "OK" }, 1);
    berth_prom_vec_add(v, (const char *[]){ "Heartbeat", "OK" }, 1);
    berth_prom_vec_add(v, (const char *[]){ "Register", "OK" }, 2);
    berth_prom_vec_add(v, (const char *[]){ "Register", "UNAVAILABLE" }, 1);
    berth_prom_vec_add(v, (const char *[]){ "List", NULL }, 1);
    ck_assert_uint_eq(berth_prom_vec_size(v), 3);
    berth_prom_init(&w);
    berth_prom_vec_write(&w, v, "calls_total", "Calls.");
    ck_assert_text(&w, "# HELP calls_total Calls.\n"
                       "# TYPE calls_total counter\n"
                       "calls_total{method=\"Register\",code=\"OK\"} 3\n"
                       "calls_total{method=\"Heartbeat\",code=\"OK\"} 1\n"
                       "calls_total{method=\"other\",code=\"other\"} 2\n");
    berth_prom_vec_free(v);
    berth_prom_vec_free(NULL);
}
END_TEST

START_TEST(vec_histogram)
{
    static const char *const names[] = { "result" };
    berth_prom_vec *v =
        berth_prom_vec_new(BERTH_PROM_HISTOGRAM, names, 1, bounds, BERTH_ARRAY_SIZE(bounds), 8);
    berth_prom w;

    berth_prom_vec_observe(v, (const char *[]){ "pulled" }, 2);
    berth_prom_vec_observe_ns(v, (const char *[]){ "failed" }, 50000000);
    berth_prom_init(&w);
    berth_prom_vec_write(&w, v, "pull_seconds", "Pulls.");
    ck_assert_text(&w, "# HELP pull_seconds Pulls.\n"
                       "# TYPE pull_seconds histogram\n"
                       "pull_seconds_bucket{result=\"pulled\",le=\"0.1\"} 0\n"
                       "pull_seconds_bucket{result=\"pulled\",le=\"1\"} 0\n"
                       "pull_seconds_bucket{result=\"pulled\",le=\"2.5\"} 1\n"
                       "pull_seconds_bucket{result=\"pulled\",le=\"+Inf\"} 1\n"
                       "pull_seconds_sum{result=\"pulled\"} 2\n"
                       "pull_seconds_count{result=\"pulled\"} 1\n"
                       "pull_seconds_bucket{result=\"failed\",le=\"0.1\"} 1\n"
                       "pull_seconds_bucket{result=\"failed\",le=\"1\"} 1\n"
                       "pull_seconds_bucket{result=\"failed\",le=\"2.5\"} 1\n"
                       "pull_seconds_bucket{result=\"failed\",le=\"+Inf\"} 1\n"
                       "pull_seconds_sum{result=\"failed\"} 0.05\n"
                       "pull_seconds_count{result=\"failed\"} 1\n");
    berth_prom_vec_free(v);
}
END_TEST

START_TEST(names)
{
    ck_assert(berth_prom_metric_name_valid("container_cpu_usage_seconds_total"));
    ck_assert(berth_prom_metric_name_valid("job:rate5m"));
    ck_assert(berth_prom_metric_name_valid("_x1"));
    ck_assert(!berth_prom_metric_name_valid(""));
    ck_assert(!berth_prom_metric_name_valid("1x"));
    ck_assert(!berth_prom_metric_name_valid("a-b"));
    ck_assert(!berth_prom_metric_name_valid("a b"));
    ck_assert(berth_prom_label_name_valid("le"));
    ck_assert(!berth_prom_label_name_valid("__name__"));
    ck_assert(!berth_prom_label_name_valid("a:b"));
    ck_assert(!berth_prom_label_name_valid("9"));
}
END_TEST

/* An empty writer's text is "". */
START_TEST(empty)
{
    berth_prom w;

    berth_prom_init(&w);
    ck_assert_text(&w, "");
    berth_prom_free(&w);
}
END_TEST

START_TEST(listen_valid)
{
    static const struct {
        const char *in;
        int family;
        const char *host;
        unsigned port;
    } cases[] = {
        { "127.0.0.1:7422", AF_INET, "127.0.0.1", 7422 },
        { "localhost:9", AF_INET, "127.0.0.1", 9 },
        { ":7104", AF_INET, "0.0.0.0", 7104 },
        { "0.0.0.0:0", AF_INET, "0.0.0.0", 0 },
        { "[::1]:65535", AF_INET6, "::1", 65535 },
        { "[fd00::2]:80", AF_INET6, "fd00::2", 80 },
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        berth_error *err = NULL;
        char host[64];
        unsigned port;

        ck_assert_msg(berth_metrics_address_parse(cases[i].in, &ss, &len, &err) == 1, "%s: %s",
                      cases[i].in, err ? err->msg : "");
        ck_assert_int_eq(ss.ss_family, cases[i].family);
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;

            ck_assert_uint_eq(len, sizeof(*a));
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

            ck_assert_uint_eq(len, sizeof(*a));
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
        ck_assert_str_eq(host, cases[i].host);
        ck_assert_uint_eq(port, cases[i].port);
    }
    ck_assert_int_eq(berth_metrics_address_parse("off", NULL, NULL, NULL), 0);
    ck_assert_int_eq(berth_metrics_address_parse("", NULL, NULL, NULL), 0);
    ck_assert_int_eq(berth_metrics_address_parse(NULL, NULL, NULL, NULL), 0);
    ck_assert_int_eq(berth_metrics_address_parse(BERTH_METRICS_AGENT_DEFAULT, NULL, NULL, NULL), 1);
    ck_assert_int_eq(
        berth_metrics_address_parse(BERTH_METRICS_CONTROLLER_DEFAULT, NULL, NULL, NULL), 1);
}
END_TEST

START_TEST(listen_invalid)
{
    static const char *const cases[] = {
        "7422",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:+1",
        "127.0.0.1:80x",
        "example.com:80",
        "::1:80",
        "[::1]80",
        "[127.0.0.1]:80",
        "http://127.0.0.1:80",
        "1.2.3.4.5:80",
        "[]:80",
        "on",
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(cases); i++) {
        berth_error *err = NULL;
        _cleanup_free_ char *want = NULL;

        ck_assert(asprintf(&want,
                           "metrics address '%s': expected HOST:PORT (an IPv4 address or "
                           "localhost), [IPv6]:PORT, :PORT, or off",
                           cases[i]) > 0);
        ck_assert_msg(berth_metrics_address_parse(cases[i], NULL, NULL, &err) < 0, "%s", cases[i]);
        ck_assert_int_eq(err->code, EINVAL);
        ck_assert_str_eq(err->msg, want);
        berth_error_free(&err);
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("metrics-prom");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, family_and_samples);
    tcase_add_test(tc, values);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, utf8);
    tcase_add_test(tc, histogram);
    tcase_add_test(tc, bucket_sets);
    tcase_add_test(tc, vec_counter);
    tcase_add_test(tc, vec_histogram);
    tcase_add_test(tc, names);
    tcase_add_test(tc, empty);
    tcase_add_test(tc, listen_valid);
    tcase_add_test(tc, listen_invalid);
    suite_add_tcase(s, tc);
    return s;
}
