/* Duplex calls (lib/rpc/duplex.h) over real rpc servers and clients, one
 * process and one loop: order and integrity of megabytes both ways, memory
 * bounded at every end while a reader is slow, the end and its status after
 * the last chunk, a caller's cancel and a caller that vanished, a stream
 * only its opener reaches, and a relay (splice) between two hops. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/duplex.h"
#include "rpc_test_util.h"

/* A test server: its rpc server and duplex registry; what its handler does
 * with a stream depends on the mode. */
typedef enum mode { MODE_ECHO, MODE_SINK, MODE_SOURCE, MODE_RELAY } mode;

typedef struct far_end far_end;

typedef struct tserver {
    test_party party;
    test_service svc;
    berth_rpc_server *rpc;
    berth_duplex_server *dx;
    char *addr;
    mode mode;
    /* MODE_SOURCE: bytes to send; MODE_RELAY: the next hop */
    size_t source_bytes;
    struct tserver *next_hop;
    berth_rpc_client *hop_client;
    /* the last stream's fate */
    far_end *last;
    bool ended;
    int end_code;
    char end_msg[256];
    int relay_code;
    bool relay_done;
} tserver;

/* A server's end driven by the test. */
struct far_end {
    tserver *srv;
    berth_duplex *d;
    size_t got, sent;
    bool eof_in, paused;
    uint64_t sum;
};

static berth_loop *loop;
static char *dir;
static test_party caller, stranger;
static tserver front, back;

/* the byte at offset i of a test stream */
static uint8_t pattern(size_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

/* Whether len bytes at p are the pattern from offset off (one check a
 * chunk: Check reports every assertion to its parent). */
static bool pattern_at(const uint8_t *p, size_t len, size_t off)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != pattern(off + i))
            return false;
    return true;
}

/* ---- the far end ---- */

static void far_pump(far_end *f);

static void far_readable(berth_duplex *d, void *data)
{
    far_end *f = data;
    berth_duplex_chunk c;

    (void)d;
    if (f->srv->mode == MODE_ECHO) {
        /* echo each chunk on channel 1 while there is room */
        while (berth_duplex_room(f->d) && berth_duplex_read(f->d, &c) == 1) {
            ck_assert_int_eq(berth_duplex_write(f->d, 1, c.data, c.len, false, NULL), 0);
            f->got += c.len;
            if (c.eof) {
                f->eof_in = true;
                berth_duplex_end(f->d, CODE_OK, "echoed %zu bytes", f->got);
                f->srv->last = NULL;
                return;
            }
        }
        return;
    }
    if (f->paused)
        return;
    while (berth_duplex_read(f->d, &c) == 1) {
        ck_assert_msg(pattern_at(c.data, c.len, f->got), "bytes from %zu differ", f->got);
        f->got += c.len;
        if (c.eof) {
            f->eof_in = true;
            berth_duplex_end(f->d, CODE_OK, "took %zu bytes", f->got);
            f->srv->last = NULL;
            return;
        }
    }
}

static void far_writable(berth_duplex *d, void *data)
{
    far_end *f = data;

    (void)d;
    if (f->srv->mode == MODE_ECHO)
        far_readable(d, data);
    else
        far_pump(f);
}

static void far_end_fn(berth_duplex *d, int code, const char *msg, void *data)
{
    far_end *f = data;

    (void)d;
    f->srv->ended = true;
    f->srv->end_code = code;
    snprintf(f->srv->end_msg, sizeof(f->srv->end_msg), "%s", msg);
    f->srv->last = NULL;
}

static const berth_duplex_ops far_ops = { .on_readable = far_readable,
                                          .on_writable = far_writable,
                                          .on_end = far_end_fn };

/* MODE_SOURCE: write the pattern until source_bytes, then end. */
static void far_pump(far_end *f)
{
    uint8_t buf[40000];

    while (f->sent < f->srv->source_bytes) {
        size_t n = f->srv->source_bytes - f->sent;

        if (n > sizeof(buf))
            n = sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(f->sent + i);
        if (berth_duplex_write(f->d, 1, buf, n, false, NULL) < 0)
            return; /* full: on_writable comes */
        f->sent += n;
    }
    berth_duplex_end(f->d, CODE_OK, "sent %zu bytes", f->sent);
    f->srv->last = NULL;
}

/* ---- the relay's end ---- */

static void relay_spliced(int code, const char *msg, void *data)
{
    tserver *s = data;

    (void)msg;
    s->relay_done = true;
    s->relay_code = code;
}

typedef struct relay_open {
    tserver *s;
    berth_rpc_call *call;
    Berth__Test__EchoReply_Closure closure;
} relay_open;

static void relay_opened(berth_rpc_result *r, void *data);

/* ---- the service ---- */

static tserver *tserver_of(Berth__Test__Test_Service *svc)
{
    return berth_container_of(berth_container_of(svc, test_service, base), tserver, svc);
}

static void svc_open(Berth__Test__Test_Service *svc, const Berth__Test__EchoRequest *in,
                     Berth__V1__DuplexOpened_Closure closure, void *data)
{
    tserver *s = tserver_of(svc);
    berth_error *err = NULL;
    DuplexOpened opened;
    far_end *f;

    if (s->mode == MODE_RELAY) {
        relay_open *ro = calloc(1, sizeof(*ro));

        ck_assert_ptr_nonnull(ro);
        ro->s = s;
        ro->call = data;
        ro->closure = (Berth__Test__EchoReply_Closure)closure;
        ck_assert_int_eq(berth_rpc_client_call(s->hop_client, &berth__test__test__descriptor,
                                               "Open", &in->base, 5000, relay_opened, ro, &err),
                         0);
        return;
    }
    f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    f->srv = s;
    if (berth_duplex_server_open(s->dx, berth_rpc_call_peer(data), &far_ops, f, &f->d, &opened,
                                 &err) < 0) {
        free(f);
        berth_rpc_fail_error(data, err);
        berth_error_free(&err);
        return;
    }
    s->last = f;
    s->ended = false;
    if (s->mode == MODE_SOURCE)
        far_pump(f);
    closure(&opened, data);
}

/* The relay: the next hop opened its stream; open ours and splice them. */
static void relay_opened(berth_rpc_result *r, void *data)
{
    relay_open *ro = data;
    tserver *s = ro->s;
    berth_duplex_client_config cc = { .client = s->hop_client,
                                      .service = &berth__test__test__descriptor };
    berth_duplex *front_end, *back_end;
    berth_error *err = NULL;
    DuplexOpened opened;

    ck_assert_int_eq(r->code, CODE_OK);
    ck_assert_int_eq(
        berth_duplex_client_open(&cc, (DuplexOpened *)r->response, &far_ops, NULL, &back_end, &err),
        0);
    ck_assert_int_eq(berth_duplex_server_open(s->dx, berth_rpc_call_peer(ro->call), &far_ops, NULL,
                                              &front_end, &opened, &err),
                     0);
    s->relay_done = false;
    berth_duplex_splice(front_end, back_end, NULL, relay_spliced, s);
    ((Berth__V1__DuplexOpened_Closure)ro->closure)(&opened, ro->call);
    free(ro);
}

static void svc_exchange(Berth__Test__Test_Service *svc, const DuplexExchange *in,
                         Berth__V1__DuplexExchanged_Closure closure, void *data)
{
    berth_duplex_server_exchange(tserver_of(svc)->dx, data, in, (ProtobufCClosure)closure);
}

static void tserver_start(tserver *s, const char *name, mode m, size_t capacity, uint32_t idle_ms)
{
    berth_rpc_server_config cfg = { .loop = loop };
    berth_duplex_server_config dc = { .loop = loop, .capacity = capacity, .idle_ms = idle_ms };
    berth_error *err = NULL;

    memset(s, 0, sizeof(*s));
    party_init(&s->party, BERTH_ROLE_CONTROLLER, name);
    party_trust(&s->party, &caller);
    party_trust(&s->party, &stranger);
    party_trust(&caller, &s->party);
    party_trust(&stranger, &s->party);
    test_service_init(&s->svc, loop);
    s->svc.base.open = svc_open;
    s->svc.base.exchange = svc_exchange;
    s->mode = m;
    s->addr = ipc_addr(dir, name);
    cfg.auth = s->party.auth;
    s->dx = berth_duplex_server_new(&dc);
    ck_assert_int_eq(berth_rpc_server_new(&cfg, &s->rpc, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(s->rpc, (ProtobufCService *)&s->svc.base, &err),
                     0);
    ck_assert_int_eq(berth_rpc_server_bind(s->rpc, s->addr, &err), 0);
}

static void tserver_stop(tserver *s)
{
    if (!s->rpc)
        return;
    berth_duplex_server_free(s->dx);
    berth_rpc_client_free(s->hop_client);
    berth_rpc_server_free(s->rpc);
    party_free(&s->party);
    free(s->addr);
    s->rpc = NULL;
}

/* ---- the caller ---- */

typedef struct near_end {
    berth_duplex *d;
    size_t sent, total, got;
    uint64_t got_ch[8];
    bool paused, ended;
    int code;
    char msg[256];
    bool check_pattern;
    berth_duplex_stats stats;
} near_end;

static void near_pump(near_end *n);

static void near_readable(berth_duplex *d, void *data)
{
    near_end *n = data;
    berth_duplex_chunk c;

    (void)d;
    if (n->paused)
        return;
    while (berth_duplex_read(n->d, &c) == 1) {
        if (n->check_pattern)
            ck_assert_msg(pattern_at(c.data, c.len, n->got), "bytes from %zu differ", n->got);
        n->got += c.len;
        n->got_ch[c.channel & 7] += c.len;
    }
}

static void near_writable(berth_duplex *d, void *data)
{
    (void)d;
    near_pump(data);
}

static void near_end_fn(berth_duplex *d, int code, const char *msg, void *data)
{
    near_end *n = data;

    n->stats = *berth_duplex_stats_of(d);
    n->ended = true;
    n->code = code;
    snprintf(n->msg, sizeof(n->msg), "%s", msg);
    n->d = NULL;
}

static const berth_duplex_ops near_ops = { .on_readable = near_readable,
                                           .on_writable = near_writable,
                                           .on_end = near_end_fn };

static void near_pump(near_end *n)
{
    uint8_t buf[50000];

    while (n->d && n->sent < n->total) {
        size_t k = n->total - n->sent;

        if (k > sizeof(buf))
            k = sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(n->sent + i);
        if (berth_duplex_write(n->d, 0, buf, k, n->sent + k == n->total, NULL) < 0)
            return;
        n->sent += k;
    }
}

static berth_rpc_client *cli;

static void near_open(near_end *n, tserver *s, size_t capacity)
{
    berth_duplex_client_config cc = { .client = cli,
                                      .service = &berth__test__test__descriptor,
                                      .capacity = capacity };
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result r = { 0 };
    berth_error *err = NULL;

    (void)s;
    memset(n, 0, sizeof(*n));
    ck_assert_int_eq(berth_rpc_client_call_sync(cli, &berth__test__test__descriptor, "Open",
                                                &req.base, 5000, &r, &err),
                     0);
    ck_assert_msg(r.code == CODE_OK, "Open: %s", r.message ? r.message : "");
    ck_assert_int_eq(
        berth_duplex_client_open(&cc, (DuplexOpened *)r.response, &near_ops, n, &n->d, &err), 0);
    berth_rpc_result_clear(&r);
}

static void setup(void)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    dir = tmpdir_make();
    party_init(&caller, BERTH_ROLE_OPERATOR, "alice");
    party_init(&stranger, BERTH_ROLE_OPERATOR, "mallory");
    cli = NULL;
}

static void teardown(void)
{
    berth_rpc_client_free(cli);
    tserver_stop(&front);
    tserver_stop(&back);
    run_for(loop, 0);
    party_free(&caller);
    party_free(&stranger);
    berth_loop_free(loop);
    tmpdir_remove(dir);
}

/* ---- tests ---- */

START_TEST(echo_round_trip_then_the_end)
{
    near_end n;

    tserver_start(&front, "front", MODE_ECHO, 0, 0);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, 0);
    n.total = 5;
    ck_assert_int_eq(berth_duplex_write(n.d, 0, "hello", 5, true, NULL), 0);
    n.sent = 5;
    ck_assert(run_until(loop, &n.ended, 10000));
    ck_assert_int_eq(n.code, CODE_OK);
    ck_assert_str_eq(n.msg, "echoed 5 bytes");
    ck_assert_uint_eq(n.got_ch[1], 5);
    /* the caller says it has the end: nothing lingers at the server */
    run_for(loop, 200);
    ck_assert_uint_eq(berth_duplex_server_count(front.dx), 0);
}
END_TEST

/* 16 MB each way through queues of 64 KiB: every byte in order, and no end
 * ever held more than its capacity plus one write. */
START_TEST(megabytes_both_ways_with_bounded_queues)
{
    near_end n;
    size_t cap = 64 << 10;

    tserver_start(&front, "front", MODE_ECHO, cap, 0);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, cap);
    n.check_pattern = true;
    n.total = 16u << 20;
    near_pump(&n);
    ck_assert(run_until(loop, &n.ended, 60000));
    ck_assert_msg(n.code == CODE_OK, "%s", n.msg);
    ck_assert_uint_eq(n.got, n.total);
    ck_assert_uint_le(n.stats.in_queued_max, cap + BERTH_DUPLEX_CHUNK_MAX);
    ck_assert_uint_le(n.stats.out_queued_max, cap + 50000);
    ck_assert_uint_eq(n.stats.bytes_out, n.total);
}
END_TEST

/* A reader that stops: the server's writer is refused once its queue is
 * full, and carries on when the reader resumes. */
START_TEST(a_slow_reader_holds_the_writer_back)
{
    near_end n;
    size_t cap = 128 << 10;
    const berth_duplex_stats *st;

    tserver_start(&front, "front", MODE_SOURCE, cap, 0);
    front.source_bytes = 8u << 20;
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, cap);
    n.check_pattern = true;
    n.paused = true;
    berth_duplex_pause(n.d, true);
    run_for(loop, 1500);
    ck_assert_ptr_nonnull(front.last);
    st = berth_duplex_stats_of(front.last->d);
    /* what the caller took (its capacity) and the server's queue, no more */
    ck_assert_uint_le(front.last->sent, 2 * cap + 2 * 40000);
    ck_assert_uint_le(st->out_queued_max, cap + 40000);
    ck_assert_uint_eq(berth_duplex_room(front.last->d), 0);
    n.paused = false;
    berth_duplex_pause(n.d, false);
    ck_assert(run_until(loop, &n.ended, 60000));
    ck_assert_msg(n.code == CODE_OK, "%s", n.msg);
    ck_assert_uint_eq(n.got, front.source_bytes);
    ck_assert_uint_le(n.stats.in_queued_max, cap + BERTH_DUPLEX_CHUNK_MAX);
}
END_TEST

START_TEST(a_cancel_reaches_the_server)
{
    near_end n;

    tserver_start(&front, "front", MODE_SINK, 0, 0);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, 0);
    ck_assert_int_eq(berth_duplex_write(n.d, 0, "abc", 0, false, NULL), 0);
    run_for(loop, 200);
    berth_duplex_cancel(n.d);
    ck_assert(run_until(loop, &front.ended, 5000));
    ck_assert_int_eq(front.end_code, CODE_CANCELLED);
    ck_assert_str_eq(front.end_msg, "the caller cancelled");
    run_for(loop, 100);
    ck_assert_uint_eq(berth_duplex_server_count(front.dx), 0);
}
END_TEST

/* A caller that vanishes without a word (its process killed): the server
 * ends the stream after idle_ms. */
START_TEST(a_vanished_caller_is_forgotten)
{
    near_end n;
    int64_t t0;

    tserver_start(&front, "front", MODE_SINK, 0, 1500);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, 0);
    run_for(loop, 300);
    t0 = berth_now_mono_ns();
    /* the client goes: its calls end CANCELLED, nothing reaches the server */
    berth_rpc_client_free(cli);
    cli = NULL;
    ck_assert(run_until(loop, &n.ended, 5000));
    ck_assert(run_until(loop, &front.ended, 10000));
    ck_assert_int_eq(front.end_code, CODE_CANCELLED);
    ck_assert_msg(strstr(front.end_msg, "the caller went away"), "%s", front.end_msg);
    ck_assert_int_ge(berth_now_mono_ns() - t0, 1000 * BERTH_NSEC_PER_MSEC);
    run_for(loop, 100);
    ck_assert_uint_eq(berth_duplex_server_count(front.dx), 0);
}
END_TEST

/* A stream's id is no use to anyone but its opener. */
START_TEST(only_the_opener_reaches_a_stream)
{
    near_end n;
    berth_rpc_client *other;
    DuplexExchange req = DUPLEX_EXCHANGE_INIT;
    berth_rpc_result r = { 0 };
    berth_error *err = NULL;

    tserver_start(&front, "front", MODE_SINK, 0, 0);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, 0);
    run_for(loop, 100);
    ck_assert_ptr_nonnull(front.last);
    /* the stranger names the opener's stream: NOT_FOUND, and it lives on */
    other = client_new(loop, &stranger, &front.party, front.addr);
    req.stream = berth_duplex_id(n.d);
    req.cancel = true;
    ck_assert_int_eq(berth_rpc_client_call_sync(other, &berth__test__test__descriptor, "Exchange",
                                                &req.base, 5000, &r, &err),
                     0);
    ck_assert_int_eq(r.code, CODE_NOT_FOUND);
    berth_rpc_result_clear(&r);
    berth_rpc_client_free(other);
    run_for(loop, 200);
    ck_assert(!front.ended);
    ck_assert_ptr_nonnull(front.last);
    berth_duplex_cancel(n.d);
    ck_assert(run_until(loop, &front.ended, 5000));
}
END_TEST

START_TEST(streams_are_capped)
{
    berth_duplex_server *dx;
    berth_duplex_server_config dc = { .loop = loop, .max_streams = 2 };
    berth_duplex_ops none = { 0 };
    berth_duplex *d;
    DuplexOpened o;
    berth_error *err = NULL;

    dx = berth_duplex_server_new(&dc);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), 0);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), 0);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), -1);
    ck_assert_int_eq(err->code, ENOSPC);
    berth_error_free(&err);
    berth_duplex_server_free(dx);

    /* and per caller: one cannot take everyone's room */
    dc.max_streams = 4;
    dc.max_per_peer = 2;
    dx = berth_duplex_server_new(&dc);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), 0);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), 0);
    ck_assert_int_eq(berth_duplex_server_open(dx, &caller.who, &none, NULL, &d, &o, &err), -1);
    ck_assert_str_eq(err->msg, "operator alice has 2 streams open already");
    berth_error_free(&err);
    ck_assert_int_eq(berth_duplex_server_open(dx, &stranger.who, &none, NULL, &d, &o, &err), 0);
    berth_duplex_server_free(dx);
}
END_TEST

/* caller -> front (relay) -> back (echo): bytes, the end and its status
 * pass through; a cancel at the caller reaches the back. */
START_TEST(a_relay_passes_everything_and_holds_nothing_back)
{
    near_end n;
    size_t cap = 64 << 10;

    tserver_start(&back, "back", MODE_ECHO, cap, 0);
    tserver_start(&front, "front", MODE_RELAY, cap, 0);
    party_trust(&back.party, &front.party);
    party_trust(&front.party, &back.party);
    front.hop_client = client_new(loop, &front.party, &back.party, back.addr);
    cli = client_new(loop, &caller, &front.party, front.addr);
    near_open(&n, &front, cap);
    n.check_pattern = true;
    n.total = 4u << 20;
    near_pump(&n);
    ck_assert(run_until(loop, &n.ended, 60000));
    ck_assert_msg(n.code == CODE_OK, "%s", n.msg);
    ck_assert_str_eq(n.msg, "echoed 4194304 bytes");
    ck_assert_uint_eq(n.got, n.total);
    ck_assert(front.relay_done);
    ck_assert_int_eq(front.relay_code, CODE_OK);

    /* and a cancel travels the other way */
    near_open(&n, &front, cap);
    ck_assert_int_eq(berth_duplex_write(n.d, 0, "x", 1, false, NULL), 0);
    run_for(loop, 300);
    ck_assert_ptr_nonnull(back.last);
    berth_duplex_cancel(n.d);
    ck_assert(run_until(loop, &back.ended, 5000));
    ck_assert_int_eq(back.end_code, CODE_CANCELLED);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc-duplex");
    TCase *tc = tcase_create("duplex");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, echo_round_trip_then_the_end);
    tcase_add_test(tc, megabytes_both_ways_with_bounded_queues);
    tcase_add_test(tc, a_slow_reader_holds_the_writer_back);
    tcase_add_test(tc, a_cancel_reaches_the_server);
    tcase_add_test(tc, a_vanished_caller_is_forgotten);
    tcase_add_test(tc, only_the_opener_reaches_a_stream);
    tcase_add_test(tc, streams_are_capped);
    tcase_add_test(tc, a_relay_passes_everything_and_holds_nothing_back);
    suite_add_tcase(s, tc);
    return s;
}
