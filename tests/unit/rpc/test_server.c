/* The rpc server and client over real nanomsg sockets (ipc in a temp dir,
 * tcp on 127.0.0.1), one process, one loop: status codes and texts as a
 * caller sees them, deadlines, duplicates answered from the reply cache,
 * unknown methods, oversize frames, and hand-made hostile frames that must
 * never reach the decoder or a handler while the server keeps serving. */
#include <check.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/auth-internal.h"
#include "rpc/envelope.h"
#include "rpc/metrics.h"
#include "rpc_test_util.h"

static berth_loop *loop;
static char *dir, *addr;
static test_party ctl, n1;
static test_service svc;
static berth_rpc_server *srv;
static berth_rpc_client *cli;

static void setup(void)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    dir = tmpdir_make();
    addr = ipc_addr(dir, "rpc.sock");
    party_init(&ctl, BERTH_ROLE_CONTROLLER, "ctl");
    party_init(&n1, BERTH_ROLE_NODE, "n1");
    party_trust(&ctl, &n1);
    party_trust(&n1, &ctl);
    test_service_init(&svc, loop);
    srv = NULL;
    cli = NULL;
}

static void teardown(void)
{
    berth_rpc_client_free(cli);
    berth_rpc_server_free(srv);
    run_for(loop, 0);
    party_free(&ctl);
    party_free(&n1);
    berth_loop_free(loop);
    free(addr);
    tmpdir_remove(dir);
}

/* Start the server (default config) on addr and a client from n1. */
static void start_default(void)
{
    berth_rpc_server_config cfg = { .loop = loop, .auth = ctl.auth };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    cli = client_new(loop, &n1, &ctl, addr);
}

static void call_ok(const char *text)
{
    Berth__Test__EchoReply *r = NULL;

    ck_assert_int_eq(echo_call(cli, "Echo", text, 5000, &r, NULL), CODE_OK);
    ck_assert_str_eq(r->text, text);
    berth_pb_free(&r->base);
}

START_TEST(unary_call_round_trip)
{
    Berth__Test__EchoReply *r = NULL;
    char *tcp = tcp_addr();
    berth_error *err = NULL;
    berth_rpc_client *tcli;

    start_default();
    ck_assert_int_eq(echo_call(cli, "Echo", "hello", 5000, &r, NULL), CODE_OK);
    ck_assert_str_eq(r->text, "hello");
    ck_assert_uint_eq(r->executions, 1);
    berth_pb_free(&r->base);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->handshakes, 1);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->executed, 1);

    /* the same server on tcp too */
    ck_assert_int_eq(berth_rpc_server_bind(srv, tcp, &err), 0);
    tcli = client_new(loop, &n1, &ctl, tcp);
    ck_assert_int_eq(echo_call(tcli, "Echo", "over tcp", 5000, &r, NULL), CODE_OK);
    ck_assert_str_eq(r->text, "over tcp");
    ck_assert_uint_eq(r->executions, 2);
    berth_pb_free(&r->base);
    berth_rpc_client_free(tcli);
    free(tcp);
}
END_TEST

START_TEST(error_status_reaches_the_caller)
{
    char *msg = NULL;

    start_default();
    ck_assert_int_eq(echo_call(cli, "Fail", "web-1", 5000, NULL, &msg), CODE_NOT_FOUND);
    ck_assert_str_eq(msg, "thing web-1: not found");
    free(msg);
}
END_TEST

START_TEST(unknown_methods_are_unimplemented)
{
    HealthRequest hreq = HEALTH_REQUEST_INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    char *msg = NULL;

    start_default();
    /* in the service, but with no handler */
    ck_assert_int_eq(echo_call(cli, "Missing", "x", 5000, NULL, &msg), CODE_UNIMPLEMENTED);
    ck_assert_str_eq(msg, "unknown method berth.test.Test/Missing");
    free(msg);
    /* a service this server does not serve */
    ck_assert_int_eq(
        berth_rpc_client_call_sync(cli, &agent_descriptor, "Health", &hreq.base, 5000, &res, &err),
        0);
    ck_assert_int_eq(res.code, CODE_UNIMPLEMENTED);
    ck_assert_str_eq(res.message, "unknown method berth.v1.Agent/Health");
    berth_rpc_result_clear(&res);
    ck_assert_uint_eq(svc.executions, 0);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->unimplemented, 2);
    /* the client refuses what the descriptor does not have */
    ck_assert_berth_error(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Nope",
                                                &hreq.base, 1000, NULL, NULL, &err),
                          err, "berth.test.Test has no method Nope");
    ck_assert_berth_error(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Echo",
                                                &hreq.base, 1000, NULL, NULL, &err),
                          err,
                          "berth.test.Test/Echo takes berth.test.EchoRequest, not "
                          "berth.v1.HealthRequest");
}
END_TEST

START_TEST(client_gives_up_at_its_deadline)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    char want[512];

    start_default();
    req.text = "slow";
    req.delay_ms = 1500;
    ck_assert_int_eq(berth_rpc_client_call_sync(cli, &berth__test__test__descriptor, "Slow",
                                                &req.base, 200, &res, &err),
                     0);
    ck_assert_int_eq(res.code, CODE_DEADLINE_EXCEEDED);
    snprintf(want, sizeof(want), "berth.test.Test/Slow: no answer from %s within 200 ms", addr);
    ck_assert_str_eq(res.message, want);
    ck_assert_ptr_null(res.response);
    berth_rpc_result_clear(&res);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->deadline_exceeded, 1);
    /* the handler still finishes, its answer goes nowhere, nothing breaks */
    while (svc.slow_done == 0)
        run_for(loop, 50);
    call_ok("after the slow one");
}
END_TEST

START_TEST(every_call_has_a_deadline)
{
    berth_rpc_client_config cfg = { .loop = loop, .server = ctl.who, .default_timeout_ms = 300 };
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    berth_rpc_client *c;
    char want[512];

    start_default();
    cfg.auth = n1.auth;
    cfg.address = addr;
    ck_assert_int_eq(berth_rpc_client_new(&cfg, &c, &err), 0);
    req.text = "slow";
    req.delay_ms = 1000;
    /* timeout 0: the client's default, not "wait forever" */
    ck_assert_int_eq(berth_rpc_client_call_sync(c, &berth__test__test__descriptor, "Slow",
                                                &req.base, 0, &res, &err),
                     0);
    ck_assert_int_eq(res.code, CODE_DEADLINE_EXCEEDED);
    snprintf(want, sizeof(want), "berth.test.Test/Slow: no answer from %s within 300 ms", addr);
    ck_assert_str_eq(res.message, want);
    berth_rpc_result_clear(&res);
    while (svc.slow_done == 0)
        run_for(loop, 50);
    berth_rpc_client_free(c);
}
END_TEST

START_TEST(sessions_are_renewed_after_their_lifetime)
{
    berth_auth_config acfg = { 0 };
    berth_auth *short_lived = NULL;
    berth_error *err = NULL;
    berth_rpc_client_config cfg = { .loop = loop, .server = ctl.who };
    berth_rpc_client *c;
    berth_session *first;
    Berth__Test__EchoReply *r = NULL;

    start_default();
    acfg.self = n1.who;
    acfg.key = n1.key;
    acfg.policy = &berth_policy_memory_ops;
    acfg.policy_data = n1.policy;
    acfg.session_lifetime_ns = 200 * BERTH_NSEC_PER_MSEC;
    ck_assert_int_eq(berth_auth_new(&acfg, &short_lived, &err), 0);
    cfg.auth = short_lived;
    cfg.address = addr;
    ck_assert_int_eq(berth_rpc_client_new(&cfg, &c, &err), 0);
    ck_assert_int_eq(echo_call(c, "Echo", "one", 5000, &r, NULL), CODE_OK);
    berth_pb_free(&r->base);
    first = berth_auth_session_latest(short_lived, ctl.who.id);
    ck_assert_ptr_nonnull(first);
    run_for(loop, 300);
    /* too old to start calls with, still good for what is in flight and
     * for the channels that cannot handshake (stream, survey answers) */
    ck_assert_ptr_null(berth_auth_session_with(short_lived, ctl.who.id));
    ck_assert_ptr_eq(berth_auth_session_latest(short_lived, ctl.who.id), first);
    ck_assert_int_eq(echo_call(c, "Echo", "two", 5000, &r, NULL), CODE_OK);
    berth_pb_free(&r->base);
    ck_assert_uint_eq(berth_rpc_client_stats_of(c)->handshakes, 2);
    ck_assert_ptr_ne(berth_auth_session_latest(short_lived, ctl.who.id), first);
    berth_rpc_client_free(c);
    berth_auth_free(short_lived);
}
END_TEST

START_TEST(expired_request_is_answered_not_executed)
{
    uint8_t *frame, *reply;
    size_t len, rlen;
    Envelope *env;
    int s;

    start_default();
    call_ok("make a session");
    s = raw_socket(NN_REQ, addr);
    /* sent 5 s ago with a 1 s deadline: still within the clock window, but
     * the caller gave up long ago */
    frame = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 77, 1000,
                           berth_now_real_ns() - 5 * BERTH_NSEC_PER_SEC, &len);
    reply = raw_roundtrip(loop, s, frame, len, 5000, &rlen);
    ck_assert_ptr_nonnull(reply);
    env = open_reply(&n1, &ctl, reply, rlen);
    ck_assert_ptr_nonnull(env);
    ck_assert_uint_eq(env->call_id, 77);
    ck_assert_ptr_nonnull(env->status);
    ck_assert_int_eq(env->status->code, CODE_DEADLINE_EXCEEDED);
    ck_assert_str_eq(env->status->message,
                     "berth.test.Test/Echo: deadline of 1000 ms passed before the request arrived");
    ck_assert_uint_eq(svc.executions, 1);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->expired, 1);
    envelope_free_unpacked(env, NULL);
    free(reply);
    free(frame);
    nn_close(s);
}
END_TEST

static Berth__Test__EchoReply *reply_body(Envelope *env)
{
    ck_assert_ptr_null(env->status);
    return (Berth__Test__EchoReply *)berth_pb_unpack(&berth__test__echo_reply__descriptor,
                                                     env->body.data, env->body.len);
}

START_TEST(duplicates_get_the_cached_reply)
{
    uint8_t *frame, *again, *reply;
    size_t len, alen, rlen;
    Envelope *env;
    Berth__Test__EchoReply *r;
    int s;

    start_default();
    call_ok("make a session");
    s = raw_socket(NN_REQ, addr);
    frame =
        sealed_request(&n1, &ctl, "berth.test.Test/Echo", 4242, 5000, berth_now_real_ns(), &len);
    for (int i = 0; i < 2; i++) {
        /* the same bytes twice, as nanomsg's REQ resends them */
        reply = raw_roundtrip(loop, s, frame, len, 5000, &rlen);
        ck_assert_ptr_nonnull(reply);
        env = open_reply(&n1, &ctl, reply, rlen);
        ck_assert_ptr_nonnull(env);
        ck_assert_uint_eq(env->call_id, 4242);
        r = reply_body(env);
        ck_assert_str_eq(r->text, "crafted");
        ck_assert_uint_eq(r->executions, 2); /* the first execution's answer */
        berth_pb_free(&r->base);
        envelope_free_unpacked(env, NULL);
        free(reply);
    }
    /* the same call id in a new frame (a client's own retry): cached too */
    again =
        sealed_request(&n1, &ctl, "berth.test.Test/Echo", 4242, 5000, berth_now_real_ns(), &alen);
    reply = raw_roundtrip(loop, s, again, alen, 5000, &rlen);
    ck_assert_ptr_nonnull(reply);
    env = open_reply(&n1, &ctl, reply, rlen);
    r = reply_body(env);
    ck_assert_uint_eq(r->executions, 2);
    berth_pb_free(&r->base);
    envelope_free_unpacked(env, NULL);
    free(reply);

    ck_assert_uint_eq(svc.executions, 2);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->executed, 2);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->duplicates, 2);
    free(frame);
    free(again);
    nn_close(s);
}
END_TEST

START_TEST(resends_during_a_slow_call_execute_it_once)
{
    berth_rpc_client_config cfg = {
        .loop = loop, .auth = n1.auth, .address = NULL, .server = ctl.who, .resend_ivl_ms = 100
    };
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    berth_rpc_client *fast;

    start_default();
    cfg.address = addr;
    ck_assert_int_eq(berth_rpc_client_new(&cfg, &fast, &err), 0);
    req.text = "slow";
    req.delay_ms = 1500;
    ck_assert_int_eq(berth_rpc_client_call_sync(fast, &berth__test__test__descriptor, "Slow",
                                                &req.base, 10000, &res, &err),
                     0);
    ck_assert_int_eq(res.code, CODE_OK);
    berth_rpc_result_clear(&res);
    ck_assert_uint_eq(svc.slow_started, 1);
    ck_assert_uint_eq(berth_rpc_server_stats_of(srv)->executed, 1);
    /* REQ resent every 100 ms while the handler ran 1.5 s */
    ck_assert_uint_ge(berth_rpc_server_stats_of(srv)->duplicates, 1);
    berth_rpc_client_free(fast);
}
END_TEST

START_TEST(replay_without_a_cached_answer_is_dropped)
{
    berth_rpc_server_config cfg = { .loop = loop, .auth = ctl.auth, .reply_cache_size = 1 };
    berth_auth_stats *st = berth_auth_stats_of(ctl.auth);
    berth_error *err = NULL;
    uint8_t *a, *b, *reply;
    size_t alen, blen, rlen;
    uint64_t decoded;
    int s;

    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    cli = client_new(loop, &n1, &ctl, addr);
    call_ok("make a session");
    s = raw_socket(NN_REQ, addr);
    a = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 1, 5000, berth_now_real_ns(), &alen);
    b = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 2, 5000, berth_now_real_ns(), &blen);
    free(raw_roundtrip(loop, s, a, alen, 5000, &rlen));
    free(raw_roundtrip(loop, s, b, blen, 5000, &rlen)); /* evicts a's answer */
    ck_assert_uint_eq(svc.executions, 3);
    decoded = st->decoded;
    reply = raw_roundtrip(loop, s, a, alen, 500, &rlen);
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_REPLAYED], 1);
    ck_assert_uint_eq(st->decoded, decoded);
    ck_assert_uint_eq(svc.executions, 3);
    free(a);
    free(b);
    nn_close(s);
}
END_TEST

/* Send a hostile frame; there must be no answer. */
static void expect_dropped(int s, uint8_t *frame, size_t len)
{
    size_t rlen;
    uint8_t *reply = raw_roundtrip(loop, s, frame, len, 300, &rlen);

    ck_assert_ptr_null(reply);
}

START_TEST(rejected_frames_never_reach_the_decoder)
{
    berth_auth_stats *st = berth_auth_stats_of(ctl.auth);
    Envelope env = ENVELOPE_INIT;
    uint8_t plain[256], *f;
    size_t len, plen;
    uint64_t decoded, executions, rej_before[BERTH_REJECT_COUNT];
    test_party n2;
    int s;

    start_default();
    call_ok("make a session");
    memcpy(rej_before, st->rejected, sizeof(rej_before));
    decoded = st->decoded;
    executions = svc.executions;
    s = raw_socket(NN_REQ, addr);

    /* unsigned: a valid Envelope with no frame around it */
    env.kind = FRAME_KIND_REQUEST;
    env.method = "berth.test.Test/Echo";
    env.call_id = 9;
    plen = envelope_pack(&env, plain);
    expect_dropped(s, plain, plen);
    /* tampered */
    f = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 10, 5000, berth_now_real_ns(), &len);
    f[len - 3] ^= 0x10;
    expect_dropped(s, f, len);
    free(f);
    /* wrong recipient */
    f = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 11, 5000, berth_now_real_ns(), &len);
    f[10] ^= 0x10;
    expect_dropped(s, f, len);
    free(f);
    /* wrong key: sealed under a session the server never made */
    f = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 12, 5000, berth_now_real_ns(), &len);
    f[40] ^= 0x10;
    expect_dropped(s, f, len);
    free(f);
    /* stale */
    f = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 13, 60000,
                       berth_now_real_ns() - 200 * BERTH_NSEC_PER_SEC, &len);
    expect_dropped(s, f, len);
    free(f);
    /* another channel's frame */
    f = sealed_request(&n1, &ctl, "berth.test.Test/Echo", 14, 5000, berth_now_real_ns(), &len);
    f[2] = BERTH_CHANNEL_STREAM;
    expect_dropped(s, f, len);
    free(f);
    /* a node the controller does not know, signing instead of sealing */
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    f = berth_frame_buffer(plen);
    memcpy(f + BERTH_FRAME_HEADER_LEN, plain, plen);
    len = berth_auth_sign(n2.auth, BERTH_CHANNEL_RPC, ctl.who.id, f, plen);
    expect_dropped(s, f, len);
    free(f);
    party_free(&n2);

    ck_assert_uint_eq(st->rejected[BERTH_REJECT_MALFORMED], rej_before[BERTH_REJECT_MALFORMED] + 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_BAD_AUTH], rej_before[BERTH_REJECT_BAD_AUTH] + 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_WRONG_RECIPIENT],
                      rej_before[BERTH_REJECT_WRONG_RECIPIENT] + 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_UNKNOWN_KEY],
                      rej_before[BERTH_REJECT_UNKNOWN_KEY] + 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_STALE], rej_before[BERTH_REJECT_STALE] + 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_UNEXPECTED],
                      rej_before[BERTH_REJECT_UNEXPECTED] + 2);
    ck_assert_uint_eq(st->decoded, decoded);
    ck_assert_uint_eq(svc.executions, executions);
    /* and it goes on serving */
    call_ok("still here");
    nn_close(s);
}
END_TEST

START_TEST(oversize_frames_cost_nothing)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_auth_stats *st = berth_auth_stats_of(ctl.auth);
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    size_t big = BERTH_FRAME_MAX + 1024;
    uint8_t *junk = calloc(1, big), *reply;
    char *tcp = tcp_addr();
    uint64_t decoded;
    size_t rlen;
    int s, t;

    start_default();
    ck_assert_int_eq(berth_rpc_server_bind(srv, tcp, &err), 0);
    call_ok("make a session");
    decoded = st->decoded;

    /* the client refuses to send more than a frame holds */
    req.data.data = junk;
    req.data.len = BERTH_FRAME_MAX;
    ck_assert_int_lt(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Echo", &req.base,
                                           1000, NULL, NULL, &err),
                     0);
    ck_assert_int_eq(err->code, EMSGSIZE);
    ck_assert_ptr_nonnull(strstr(err->msg, "exceeds the frame limit"));
    berth_error_free(&err);

    /* a peer that sends one anyway is cut off by nanomsg (NN_RCVMAXSIZE),
     * over ipc and tcp, before a byte of it is ours to decode */
    junk[0] = BERTH_FRAME_VERSION;
    s = raw_socket(NN_REQ, addr);
    reply = raw_roundtrip(loop, s, junk, big, 500, &rlen);
    ck_assert_ptr_null(reply);
    t = raw_socket(NN_REQ, tcp);
    reply = raw_roundtrip(loop, t, junk, big, 500, &rlen);
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(st->decoded, decoded);

    /* just under the limit is fine */
    req.data.len = 3 << 20;
    ck_assert_int_eq(berth_rpc_client_call_sync(cli, &berth__test__test__descriptor, "Echo",
                                                &req.base, 10000, &res, &err),
                     0);
    ck_assert_int_eq(res.code, CODE_OK);
    ck_assert_uint_eq(((Berth__Test__EchoReply *)res.response)->data.len, 3 << 20);
    berth_rpc_result_clear(&res);
    nn_close(s);
    nn_close(t);
    free(junk);
    free(tcp);
}
END_TEST

START_TEST(refused_handshake_says_why)
{
    test_party n2;
    berth_rpc_client *c2;
    berth_error *err = NULL;
    char *msg = NULL, want[512], fp[BERTH_FINGERPRINT_LEN];
    Berth__Test__EchoReply *r = NULL;

    start_default();
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    party_trust(&n2, &ctl);
    c2 = client_new(loop, &n2, &ctl, addr);
    ck_assert_int_eq(echo_call(c2, "Echo", "let me in", 5000, NULL, &msg), CODE_PERMISSION_DENIED);
    berth_key_fingerprint(n2.key.pk, fp);
    snprintf(want, sizeof(want),
             "controller ctl at %s refused us: node n2: key %s awaits operator approval "
             "(berthctl node approve n2 --fingerprint %s)",
             addr, fp, fp);
    ck_assert_str_eq(msg, want);
    free(msg);
    ck_assert_uint_eq(svc.executions, 0);
    ck_assert_int_eq(berth_policy_memory_approve(ctl.policy, "n2", NULL, &err), 0);
    ck_assert_int_eq(echo_call(c2, "Echo", "approved", 5000, &r, NULL), CODE_OK);
    berth_pb_free(&r->base);
    berth_rpc_client_free(c2);
    party_free(&n2);
}
END_TEST

START_TEST(join_token_enrolls_through_the_client)
{
    berth_rpc_client_config cfg = { .loop = loop, .server = ctl.who };
    berth_join_token tok;
    berth_error *err = NULL;
    berth_rpc_client *c2;
    test_party n2;
    Berth__Test__EchoReply *r = NULL;

    start_default();
    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, 0, &err), 0);
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    party_trust(&n2, &ctl);
    cfg.auth = n2.auth;
    cfg.address = addr;
    cfg.join_token = &tok;
    ck_assert_int_eq(berth_rpc_client_new(&cfg, &c2, &err), 0);
    ck_assert_int_eq(echo_call(c2, "Echo", "new node", 5000, &r, NULL), CODE_OK);
    berth_pb_free(&r->base);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_enrolled, 1);
    berth_rpc_client_free(c2);
    party_free(&n2);
}
END_TEST

START_TEST(a_server_with_another_key_gets_no_call_through)
{
    test_party impostor;
    berth_error *err = NULL;
    berth_rpc_server_config cfg = { .loop = loop };
    char *msg = NULL;

    /* n1 pins ctl's key; the server at addr has ctl's name but its own key */
    party_init(&impostor, BERTH_ROLE_CONTROLLER, "ctl");
    party_trust(&impostor, &n1);
    cfg.auth = impostor.auth;
    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    cli = client_new(loop, &n1, &ctl, addr);
    /* its WELCOMEs are refused, and the call says so without waiting */
    ck_assert_int_eq(echo_call(cli, "Echo", "secret", 20000, NULL, &msg), CODE_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(msg, "answers were rejected (unknown-key)"));
    free(msg);
    ck_assert_uint_ge(berth_auth_stats_of(n1.auth)->rejected[BERTH_REJECT_UNKNOWN_KEY], 1);
    ck_assert_uint_eq(svc.executions, 0);
    berth_rpc_server_free(srv);
    srv = NULL;
    party_free(&impostor);
}
END_TEST

/* The server restarts: same identity and key, no sessions. Returns its
 * new auth (the caller frees it after the server). */
static berth_auth *restart_server(void)
{
    berth_rpc_server_config cfg = { .loop = loop };
    berth_auth_config acfg = { 0 };
    berth_auth *fresh = NULL;
    berth_error *err = NULL;

    berth_rpc_server_free(srv);
    acfg.self = ctl.who;
    acfg.key = ctl.key;
    acfg.policy = &berth_policy_memory_ops;
    acfg.policy_data = ctl.policy;
    ck_assert_int_eq(berth_auth_new(&acfg, &fresh, &err), 0);
    cfg.auth = fresh;
    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    return fresh;
}

START_TEST(client_recovers_when_the_server_lost_its_session)
{
    berth_auth *fresh = NULL;
    char *msg = NULL;

    start_default();
    call_ok("before the restart");
    /* the controller restarts: same identity and key, no sessions */
    fresh = restart_server();
    /* the first call goes unanswered (unknown session), then the client
     * makes a new one */
    ck_assert_int_eq(echo_call(cli, "Echo", "lost", 700, NULL, &msg), CODE_DEADLINE_EXCEEDED);
    free(msg);
    ck_assert_uint_eq(berth_auth_stats_of(fresh)->rejected[BERTH_REJECT_UNKNOWN_KEY], 1);
    call_ok("after the restart");
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->handshakes, 2);
    berth_rpc_server_free(srv);
    srv = NULL;
    berth_auth_free(fresh);
}
END_TEST

static void note_result(berth_rpc_result *res, void *data)
{
    *(int *)data = res->code;
}

/* Calls in flight when the server lost their session do not wait for their
 * own deadlines: once one times out unanswered, the others go out again
 * under a new session. */
START_TEST(calls_in_flight_are_resent_under_the_new_session)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_auth *fresh = NULL;
    berth_error *err = NULL;
    int short_code = -1, long_code = -1;
    int64_t t0;

    start_default();
    call_ok("before the restart");
    fresh = restart_server();

    t0 = berth_now_mono_ns();
    req.text = "short";
    ck_assert_int_eq(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Echo", &req.base,
                                           700, note_result, &short_code, &err),
                     0);
    req.text = "long";
    ck_assert_int_eq(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Echo", &req.base,
                                           20000, note_result, &long_code, &err),
                     0);
    for (int i = 0; i < 200 && long_code < 0; i++)
        run_for(loop, 50);
    ck_assert_int_eq(short_code, CODE_DEADLINE_EXCEEDED);
    ck_assert_int_eq(long_code, CODE_OK);
    /* Answered after the short one gave up, far from its own deadline. */
    ck_assert_int_lt(berth_now_mono_ns() - t0, 10 * BERTH_NSEC_PER_SEC);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->resent, 1);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->handshakes, 2);
    berth_rpc_server_free(srv);
    srv = NULL;
    berth_auth_free(fresh);
}
END_TEST

/* A caller told the server restarted (the controller, when a node
 * registers again) drops its sessions with it and says so: a call already
 * sent under the old session goes out again at once under a new one,
 * rather than waiting out its deadline (berthd drops what is sealed for a
 * session it does not know, silently). */
START_TEST(a_restart_made_known_resends_at_once)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_auth *fresh = NULL;
    berth_session *old;
    berth_error *err = NULL;
    int code = -1;
    int64_t t0;

    start_default();
    call_ok("before the restart");
    fresh = restart_server();

    t0 = berth_now_mono_ns();
    req.text = "raced the restart";
    ck_assert_int_eq(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Echo", &req.base,
                                           20000, note_result, &code, &err),
                     0);
    /* it went out under the old session, and the new server dropped it */
    for (int i = 0; i < 100 && berth_auth_stats_of(fresh)->rejected[BERTH_REJECT_UNKNOWN_KEY] == 0;
         i++)
        run_for(loop, 20);
    ck_assert_uint_eq(berth_auth_stats_of(fresh)->rejected[BERTH_REJECT_UNKNOWN_KEY], 1);
    ck_assert_int_eq(code, -1);
    while ((old = berth_auth_session_latest(n1.auth, ctl.who.id)))
        berth_auth_session_drop(n1.auth, old);
    berth_rpc_client_sessions_lost(cli);
    for (int i = 0; i < 200 && code < 0; i++)
        run_for(loop, 20);
    ck_assert_int_eq(code, CODE_OK);
    /* far from its deadline: the handshake and the call */
    ck_assert_int_lt(berth_now_mono_ns() - t0, 5 * BERTH_NSEC_PER_SEC);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->resent, 1);
    ck_assert_uint_eq(berth_rpc_client_stats_of(cli)->handshakes, 2);
    ck_assert_uint_eq(svc.executions, 2);
    berth_rpc_server_free(srv);
    srv = NULL;
    berth_auth_free(fresh);
}
END_TEST

START_TEST(too_many_calls_are_refused_not_queued)
{
    berth_rpc_server_config cfg = { .loop = loop, .auth = ctl.auth, .max_pending = 1 };
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    int slow_code = -1;

    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    cli = client_new(loop, &n1, &ctl, addr);
    call_ok("make a session");
    req.text = "slow";
    req.delay_ms = 800;
    ck_assert_int_eq(berth_rpc_client_call(cli, &berth__test__test__descriptor, "Slow", &req.base,
                                           5000, note_result, &slow_code, &err),
                     0);
    while (svc.slow_started == 0)
        run_for(loop, 10);
    ck_assert_int_eq(berth_rpc_client_call_sync(cli, &berth__test__test__descriptor, "Echo",
                                                &req.base, 5000, &res, &err),
                     0);
    ck_assert_int_eq(res.code, CODE_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(res.message, "berth.test.Test/Echo: 1 calls in progress, try again later");
    berth_rpc_result_clear(&res);
    /* the first one was not disturbed */
    while (slow_code < 0)
        run_for(loop, 10);
    ck_assert_int_eq(slow_code, CODE_OK);
}
END_TEST

/* A server that answers wrongly: its HELLO answers are garbage (hello_ok
 * false), or it completes the handshake and answers every call with the
 * request's own bytes (which the client must reject: they are its own). */
typedef struct liar {
    int s;
    berth_loop_io io;
    bool hello_ok;
    unsigned answers;
} liar;

static void liar_on_recv(berth_loop_io *io, uint32_t events)
{
    liar *l = berth_container_of(io, liar, io);
    void *buf = NULL;
    int n;

    (void)events;
    while ((n = nn_recv(l->s, &buf, NN_MSG, NN_DONTWAIT)) >= 0) {
        uint8_t *reply = NULL;
        size_t rlen = 0;

        l->answers++;
        if (((uint8_t *)buf)[1] == BERTH_FRAME_HELLO && l->hello_ok) {
            berth_auth_accept(ctl.auth, buf, (size_t)n, &reply, &rlen);
            nn_send(l->s, reply, rlen, 0);
            free(reply);
        } else if (((uint8_t *)buf)[1] == BERTH_FRAME_HELLO) {
            nn_send(l->s, "not a welcome", 13, 0);
        } else {
            nn_send(l->s, buf, (size_t)n, 0);
        }
        nn_freemsg(buf);
    }
}

static void liar_start(liar *l, bool hello_ok)
{
    berth_error *err = NULL;
    int fd;
    size_t sz = sizeof(fd);

    l->hello_ok = hello_ok;
    l->answers = 0;
    l->s = nn_socket(AF_SP, NN_REP);
    ck_assert_int_ge(l->s, 0);
    ck_assert_int_ge(nn_bind(l->s, addr), 0);
    ck_assert_int_eq(nn_getsockopt(l->s, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz), 0);
    ck_assert_int_eq(berth_loop_add(loop, &l->io, fd, EPOLLIN, liar_on_recv, &err), 0);
}

static void liar_stop(liar *l)
{
    berth_loop_remove(loop, &l->io);
    nn_close(l->s);
}

/* REQ delivers one answer per request: a WELCOME the client cannot take
 * is asked for again at once, and after three the call fails saying why,
 * rather than waiting out its deadline (20 s here) for nothing. */
START_TEST(rejected_welcomes_fail_the_call_with_the_reason)
{
    liar l;
    char *msg = NULL;

    liar_start(&l, false);
    cli = client_new(loop, &n1, &ctl, addr);
    ck_assert_int_eq(echo_call(cli, "Echo", "hello?", 20000, NULL, &msg), CODE_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(msg, "3 answers were rejected (malformed)"));
    ck_assert_uint_eq(l.answers, 3);
    free(msg);
    liar_stop(&l);
}
END_TEST

START_TEST(rejected_answers_are_asked_for_again_then_fail)
{
    liar l;
    char *msg = NULL;

    liar_start(&l, true);
    cli = client_new(loop, &n1, &ctl, addr);
    ck_assert_int_eq(echo_call(cli, "Echo", "hello?", 20000, NULL, &msg), CODE_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(msg, "3 answers from"));
    ck_assert_ptr_nonnull(strstr(msg, "were rejected"));
    ck_assert_uint_eq(l.answers, 1 + 3); /* the HELLO, the call three times */
    free(msg);
    liar_stop(&l);
}
END_TEST

/* A server whose requests are small takes no large message: nanomsg would
 * reserve its whole buffer before anything is authenticated. */
START_TEST(a_small_server_takes_no_large_message)
{
    berth_rpc_server_config cfg = { .loop = loop, .auth = ctl.auth, .max_request_bytes = 4096 };
    berth_error *err = NULL;
    char big[8192];

    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    cli = client_new(loop, &n1, &ctl, addr);
    call_ok("small");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_ne(echo_call(cli, "Echo", big, 1500, NULL, NULL), CODE_OK);
    ck_assert_uint_eq(svc.executions, 1);
    call_ok("small again");
}
END_TEST

/* The figures for /metrics: executed calls by method and code on the
 * server, every call on the client, dropped frames by reason. */
START_TEST(calls_are_counted_for_metrics)
{
    berth_rpc_metrics *m = berth_rpc_metrics_new();
    berth_rpc_server_config scfg = { .loop = loop, .auth = ctl.auth, .metrics = m };
    berth_rpc_client_config ccfg = {
        .loop = loop, .auth = n1.auth, .address = addr, .server = ctl.who, .metrics = m
    };
    berth_error *err = NULL;
    berth_prom w;
    char *msg = NULL, *text;
    size_t len;
    int raw;

    ck_assert_int_eq(berth_rpc_server_new(&scfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
    ck_assert_int_eq(berth_rpc_client_new(&ccfg, &cli, &err), 0);
    call_ok("one");
    call_ok("two");
    ck_assert_int_eq(echo_call(cli, "Fail", "web-1", 5000, NULL, &msg), CODE_NOT_FOUND);
    free(msg);
    /* not executed: counted by the caller only */
    ck_assert_int_eq(echo_call(cli, "Missing", "x", 5000, NULL, &msg), CODE_UNIMPLEMENTED);
    free(msg);
    /* a stranger's bytes: dropped, counted by reason */
    raw = raw_socket(NN_REQ, addr);
    ck_assert_int_eq(nn_send(raw, "\x01\x02garbage", 9, 0), 9);
    run_for(loop, 200);
    nn_close(raw);

    berth_prom_init(&w);
    berth_rpc_metrics_write(&w, m, ctl.auth);
    text = berth_prom_steal(&w, &len);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE berth_rpc_server_handling_seconds histogram\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_rpc_server_handling_seconds_count{method="
                                       "\"berth.test.Test/Echo\",code=\"OK\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_rpc_server_handling_seconds_count{method="
                                       "\"berth.test.Test/Fail\",code=\"NOT_FOUND\"} 1\n"));
    ck_assert_ptr_null(
        strstr(text, "server_handling_seconds_count{method=\"berth.test.Test/Missing"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_rpc_client_call_seconds_count{method="
                                       "\"berth.test.Test/Echo\",code=\"OK\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_rpc_client_call_seconds_count{method="
                                       "\"berth.test.Test/Missing\",code=\"UNIMPLEMENTED\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nberth_rpc_frames_dropped_total{reason=\"malformed\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "\nberth_rpc_frames_dropped_total{reason=\"replayed\"} 0\n"));
    free(text);
    /* the client completes its calls into m while it goes: m last */
    berth_rpc_client_free(cli);
    cli = NULL;
    berth_rpc_server_free(srv);
    srv = NULL;
    berth_rpc_metrics_free(m);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/server");
    TCase *tc = tcase_create("server");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, unary_call_round_trip);
    tcase_add_test(tc, error_status_reaches_the_caller);
    tcase_add_test(tc, unknown_methods_are_unimplemented);
    tcase_add_test(tc, client_gives_up_at_its_deadline);
    tcase_add_test(tc, every_call_has_a_deadline);
    tcase_add_test(tc, sessions_are_renewed_after_their_lifetime);
    tcase_add_test(tc, expired_request_is_answered_not_executed);
    tcase_add_test(tc, duplicates_get_the_cached_reply);
    tcase_add_test(tc, resends_during_a_slow_call_execute_it_once);
    tcase_add_test(tc, replay_without_a_cached_answer_is_dropped);
    tcase_add_test(tc, rejected_frames_never_reach_the_decoder);
    tcase_add_test(tc, oversize_frames_cost_nothing);
    tcase_add_test(tc, refused_handshake_says_why);
    tcase_add_test(tc, join_token_enrolls_through_the_client);
    tcase_add_test(tc, a_server_with_another_key_gets_no_call_through);
    tcase_add_test(tc, client_recovers_when_the_server_lost_its_session);
    tcase_add_test(tc, calls_in_flight_are_resent_under_the_new_session);
    tcase_add_test(tc, a_restart_made_known_resends_at_once);
    tcase_add_test(tc, too_many_calls_are_refused_not_queued);
    tcase_add_test(tc, rejected_welcomes_fail_the_call_with_the_reason);
    tcase_add_test(tc, rejected_answers_are_asked_for_again_then_fail);
    tcase_add_test(tc, a_small_server_takes_no_large_message);
    tcase_add_test(tc, calls_are_counted_for_metrics);
    suite_add_tcase(s, tc);
    return s;
}
