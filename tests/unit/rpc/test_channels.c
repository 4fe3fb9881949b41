/* The events, stream and survey channels: delivery to the right node only,
 * sequence gaps as the receiver reports them, surveys naming the silent,
 * and on each channel the hostile frames (forged, node-signed, replayed,
 * tampered) dropped before decoding. */
#include <check.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/auth-internal.h"
#include "rpc/envelope.h"
#include "rpc/pubsub.h"
#include "rpc/stream.h"
#include "rpc/survey.h"
#include "rpc_test_util.h"

static berth_loop *loop;
static char *dir;
static test_party ctl, n1, n2;
static test_service svc;
static berth_rpc_server *srv;
static char *rpc_addr;

static void setup(void)
{
    berth_rpc_server_config cfg = { 0 };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    dir = tmpdir_make();
    rpc_addr = ipc_addr(dir, "rpc");
    party_init(&ctl, BERTH_ROLE_CONTROLLER, "ctl");
    party_init(&n1, BERTH_ROLE_NODE, "n1");
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    party_trust(&ctl, &n1);
    party_trust(&ctl, &n2);
    party_trust(&n1, &ctl);
    party_trust(&n2, &ctl);
    test_service_init(&svc, loop);
    cfg.loop = loop;
    cfg.auth = ctl.auth;
    ck_assert_int_eq(berth_rpc_server_new(&cfg, &srv, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, rpc_addr, &err), 0);
}

static void teardown(void)
{
    berth_rpc_server_free(srv);
    party_free(&ctl);
    party_free(&n1);
    party_free(&n2);
    berth_loop_free(loop);
    free(rpc_addr);
    tmpdir_remove(dir);
}

/* Give p a session with the controller (as an agent's first call does). */
static berth_rpc_client *connect_node(test_party *p)
{
    berth_rpc_client *c = client_new(loop, p, &ctl, rpc_addr);
    Berth__Test__EchoReply *r = NULL;

    ck_assert_int_eq(echo_call(c, "Echo", p->who.name, 5000, &r, NULL), CODE_OK);
    berth_pb_free(&r->base);
    return c;
}

/* ---- events ---- */

typedef struct wake_log {
    uint64_t gens[64];
    size_t n;
    char from[64];
} wake_log;

static void on_wake(const berth_principal *from, const ProtobufCMessage *msg, void *data)
{
    wake_log *log = data;

    snprintf(log->from, sizeof(log->from), "%s", from->name);
    if (log->n < 64)
        log->gens[log->n++] = ((const WakeUp *)msg)->generation;
}

static bool has_gen(const wake_log *log, uint64_t g)
{
    for (size_t i = 0; i < log->n; i++)
        if (log->gens[i] == g)
            return true;
    return false;
}

static void publish(berth_events_pub *pub, const uint8_t *to, uint64_t gen)
{
    WakeUp w = WAKE_UP_INIT;
    berth_error *err = NULL;

    w.generation = gen;
    ck_assert_int_eq(berth_events_publish(pub, to, &w.base, &err), 0);
}

/* PUB drops what is published before a subscriber is connected: publish
 * until the first event arrives. */
static uint64_t publish_until_received(berth_events_pub *pub, const uint8_t *to, wake_log *log)
{
    uint64_t gen = 1000;

    while (log->n == 0 && gen < 1200) {
        publish(pub, to, ++gen);
        run_for(loop, 20);
    }
    ck_assert_uint_gt(log->n, 0);
    return gen;
}

START_TEST(events_reach_only_their_node)
{
    berth_events_pub *pub;
    berth_events_sub *s1, *s2;
    wake_log l1 = { 0 }, l2 = { 0 };
    berth_error *err = NULL;
    char *addr = ipc_addr(dir, "events");

    ck_assert_int_eq(berth_events_pub_new(loop, ctl.auth, &pub, &err), 0);
    ck_assert_int_eq(berth_events_pub_bind(pub, addr, &err), 0);
    ck_assert_int_eq(berth_events_sub_new(loop, n1.auth, &ctl.who, &s1, &err), 0);
    ck_assert_int_eq(berth_events_sub_new(loop, n2.auth, &ctl.who, &s2, &err), 0);
    ck_assert_int_eq(berth_events_sub_on(s1, &wake_up_descriptor, on_wake, &l1, &err), 0);
    ck_assert_int_eq(berth_events_sub_on(s2, &wake_up_descriptor, on_wake, &l2, &err), 0);
    ck_assert_int_eq(berth_events_sub_connect(s1, addr, &err), 0);
    ck_assert_int_eq(berth_events_sub_connect(s2, addr, &err), 0);

    publish_until_received(pub, n1.who.id, &l1);
    ck_assert_str_eq(l1.from, "ctl");
    publish(pub, n1.who.id, 7);
    publish(pub, berth_id_broadcast, 8);
    publish(pub, n2.who.id, 9);
    run_for(loop, 200);
    ck_assert(has_gen(&l1, 7));
    ck_assert(has_gen(&l1, 8));
    ck_assert(!has_gen(&l1, 9));
    ck_assert(has_gen(&l2, 8));
    ck_assert(has_gen(&l2, 9));
    ck_assert(!has_gen(&l2, 7));
    /* n1's events never even reached n2's authentication: nanomsg's topic
     * filter dropped them */
    ck_assert_uint_eq(berth_auth_rejected_total(n2.auth), 0);
    ck_assert_uint_eq(berth_auth_rejected_total(n1.auth), 0);

    berth_events_sub_free(s1);
    berth_events_sub_free(s2);
    berth_events_pub_free(pub);
    free(addr);
}
END_TEST

START_TEST(forged_events_are_dropped)
{
    berth_events_pub *pub, *rogue;
    berth_events_sub *s1;
    wake_log l1 = { 0 };
    berth_error *err = NULL;
    char *addr = ipc_addr(dir, "events"), *raddr = ipc_addr(dir, "rogue");
    Envelope env = ENVELOPE_INIT;
    WakeUp w = WAKE_UP_INIT;
    berth_auth_stats *st = berth_auth_stats_of(n1.auth);
    uint8_t *frame;
    size_t len, flen;
    uint64_t decoded;
    int raw;

    ck_assert_int_eq(berth_events_pub_new(loop, ctl.auth, &pub, &err), 0);
    ck_assert_int_eq(berth_events_pub_bind(pub, addr, &err), 0);
    /* n2 runs a publisher of its own and n1 listens to it too */
    ck_assert_int_eq(berth_events_pub_new(loop, n2.auth, &rogue, &err), 0);
    ck_assert_int_eq(berth_events_pub_bind(rogue, raddr, &err), 0);
    ck_assert_int_eq(berth_events_sub_new(loop, n1.auth, &ctl.who, &s1, &err), 0);
    ck_assert_int_eq(berth_events_sub_on(s1, &wake_up_descriptor, on_wake, &l1, &err), 0);
    ck_assert_int_eq(berth_events_sub_connect(s1, addr, &err), 0);
    ck_assert_int_eq(berth_events_sub_connect(s1, raddr, &err), 0);
    publish_until_received(pub, n1.who.id, &l1);
    decoded = st->decoded;
    l1.n = 0;

    /* a node's signed wake-up: not from the controller */
    publish(rogue, n1.who.id, 666);
    run_for(loop, 100);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_FORBIDDEN], 1);

    /* frames claiming to be the controller's, sent raw on the rogue PUB */
    raw = nn_socket(AF_SP, NN_PUB);
    ck_assert_int_ge(raw, 0);
    free(raddr);
    raddr = ipc_addr(dir, "raw");
    ck_assert_int_ge(nn_bind(raw, raddr), 0);
    ck_assert_int_eq(berth_events_sub_connect(s1, raddr, &err), 0);
    run_for(loop, 100);
    w.generation = 667;
    env.kind = FRAME_KIND_EVENT;
    env.method = "berth.v1.WakeUp";
    ck_assert_int_eq(berth_envelope_frame(&env, &w.base, &frame, &len, &err), 0);
    /* genuinely signed by the controller: sent twice, the second is a replay */
    flen = berth_auth_sign(ctl.auth, BERTH_CHANNEL_EVENTS, n1.who.id, frame, len);
    ck_assert_int_eq(nn_send(raw, frame, flen, 0), (int)flen);
    run_for(loop, 100);
    ck_assert(has_gen(&l1, 667));
    ck_assert_int_eq(nn_send(raw, frame, flen, 0), (int)flen);
    run_for(loop, 100);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_REPLAYED], 1);
    ck_assert_uint_eq(l1.n, 1);
    /* tampered after signing */
    flen = berth_auth_sign(ctl.auth, BERTH_CHANNEL_EVENTS, n1.who.id, frame, len);
    frame[flen - 70] ^= 1;
    ck_assert_int_eq(nn_send(raw, frame, flen, 0), (int)flen);
    /* stale */
    flen = berth_auth_sign_at(ctl.auth, BERTH_CHANNEL_EVENTS, n1.who.id, frame, len,
                              berth_now_real_ns() - 300 * BERTH_NSEC_PER_SEC);
    ck_assert_int_eq(nn_send(raw, frame, flen, 0), (int)flen);
    /* signed with a key n1 does not know, in the controller's name */
    {
        test_party fake;

        party_init(&fake, BERTH_ROLE_CONTROLLER, "ctl");
        flen = berth_auth_sign(fake.auth, BERTH_CHANNEL_EVENTS, n1.who.id, frame, len);
        ck_assert_int_eq(nn_send(raw, frame, flen, 0), (int)flen);
        party_free(&fake);
    }
    run_for(loop, 200);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_BAD_AUTH], 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_STALE], 1);
    ck_assert_uint_eq(st->rejected[BERTH_REJECT_UNKNOWN_KEY], 1);
    ck_assert_uint_eq(l1.n, 1);
    /* one decode: the genuine frame; none for the rejected */
    ck_assert_uint_eq(st->decoded, decoded + 1);
    ck_assert_uint_eq(berth_events_sub_stats_of(s1)->delivered >= 2, 1);

    free(frame);
    nn_close(raw);
    berth_events_sub_free(s1);
    berth_events_pub_free(pub);
    berth_events_pub_free(rogue);
    free(addr);
    free(raddr);
}
END_TEST

/* ---- stream ---- */

typedef struct item_log {
    uint64_t seq[64], missed[64], epoch[64];
    char id[64][16];
    size_t n;
} item_log;

static void on_event(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    item_log *log = data;
    const ContainerEvent *ev = (const ContainerEvent *)msg;

    ck_assert_str_eq(item->from->name, "n1");
    if (log->n < 64) {
        log->seq[log->n] = item->seq;
        log->missed[log->n] = item->missed;
        log->epoch[log->n] = item->epoch;
        snprintf(log->id[log->n], 16, "%s", ev->status ? ev->status->id : "");
        log->n++;
    }
}

static void push_event(berth_stream_push *p, const char *id, int expect)
{
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    ContainerStatus st = CONTAINER_STATUS_INIT;
    berth_error *err = NULL;

    st.id = (char *)id;
    st.state = CONTAINER_RUNNING;
    ev.status = &st;
    ck_assert_int_eq(berth_stream_push_send(p, &ev.base, NULL, &err), expect);
    berth_error_free(&err);
}

/* A stream frame from p, crafted with any seq and epoch. */
static uint8_t *stream_frame(test_party *p, uint64_t epoch, uint64_t seq, size_t *ret_len)
{
    Envelope env = ENVELOPE_INIT;
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    berth_session *s = berth_auth_session_with(p->auth, ctl.who.id);
    berth_error *err = NULL;
    uint8_t *frame;
    size_t len;

    env.kind = FRAME_KIND_STREAM;
    env.method = "berth.v1.ContainerEvent";
    env.seq = seq;
    env.stream_epoch = epoch;
    ck_assert_int_eq(berth_envelope_frame(&env, &ev.base, &frame, &len, &err), 0);
    *ret_len = berth_auth_seal(p->auth, s, BERTH_CHANNEL_STREAM, frame, len);
    return frame;
}

static void wait_items(item_log *log, size_t n)
{
    for (int i = 0; i < 200 && log->n < n; i++)
        run_for(loop, 10);
    ck_assert_uint_eq(log->n, n);
}

START_TEST(stream_reports_gaps)
{
    berth_stream_push *push;
    berth_stream_pull *pull;
    item_log log = { 0 };
    berth_error *err = NULL;
    berth_rpc_client *c;
    char *addr = ipc_addr(dir, "stream");
    const berth_stream_pull_stats *ps;
    uint8_t *f;
    size_t len;
    int raw;

    ck_assert_int_eq(berth_stream_pull_new(loop, ctl.auth, &pull, &err), 0);
    ck_assert_int_eq(berth_stream_pull_bind(pull, addr, &err), 0);
    ck_assert_int_eq(berth_stream_pull_on(pull, &container_event_descriptor, on_event, &log, &err),
                     0);
    ps = berth_stream_pull_stats_of(pull);
    ck_assert_int_eq(berth_stream_push_new(loop, n1.auth, &ctl.who, &push, &err), 0);
    ck_assert_int_eq(berth_stream_push_connect(push, addr, &err), 0);

    /* item 1 cannot go: no session yet. It is numbered all the same. */
    push_event(push, "c1", -1);
    ck_assert_uint_eq(berth_stream_push_stats_of(push)->lost, 1);
    c = connect_node(&n1);
    push_event(push, "c2", 0);
    push_event(push, "c3", 0);
    wait_items(&log, 2);
    ck_assert_uint_eq(log.seq[0], 2);
    ck_assert_uint_eq(log.missed[0], 1); /* item 1 never arrived */
    ck_assert_str_eq(log.id[0], "c2");
    ck_assert_uint_eq(log.seq[1], 3);
    ck_assert_uint_eq(log.missed[1], 0);

    /* crafted: 1, 2, then 5 (3 and 4 lost), then 4 late, in a new epoch */
    raw = raw_socket(NN_PUSH, addr);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        if (seq == 3 || seq == 4)
            continue;
        f = stream_frame(&n1, 99, seq, &len);
        ck_assert_int_eq(nn_send(raw, f, len, 0), (int)len);
        free(f);
    }
    wait_items(&log, 5);
    ck_assert_uint_eq(log.epoch[2], 99);
    ck_assert_uint_eq(log.seq[4], 5);
    ck_assert_uint_eq(log.missed[4], 2);
    f = stream_frame(&n1, 99, 4, &len);
    ck_assert_int_eq(nn_send(raw, f, len, 0), (int)len);
    /* and the same frame again: a replay */
    ck_assert_int_eq(nn_send(raw, f, len, 0), (int)len);
    free(f);
    for (int i = 0; i < 50 && ps->out_of_order == 0; i++)
        run_for(loop, 10);
    run_for(loop, 50);
    ck_assert_uint_eq(ps->out_of_order, 1);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->rejected[BERTH_REJECT_REPLAYED], 1);
    ck_assert_uint_eq(log.n, 5);
    ck_assert_uint_eq(ps->gaps, 2);
    ck_assert_uint_eq(ps->missed, 3);

    /* tampered, and from a node without a session: dropped undecoded */
    {
        uint64_t decoded = berth_auth_stats_of(ctl.auth)->decoded;
        test_party n3;

        f = stream_frame(&n1, 99, 6, &len);
        f[len - 1] ^= 1;
        ck_assert_int_eq(nn_send(raw, f, len, 0), (int)len);
        free(f);
        party_init(&n3, BERTH_ROLE_NODE, "n3");
        f = berth_frame_buffer(4);
        memcpy(f + BERTH_FRAME_HEADER_LEN, "junk", 4);
        len = berth_auth_sign(n3.auth, BERTH_CHANNEL_STREAM, ctl.who.id, f, 4);
        ck_assert_int_eq(nn_send(raw, f, len, 0), (int)len);
        free(f);
        party_free(&n3);
        run_for(loop, 200);
        ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->decoded, decoded);
        ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->rejected[BERTH_REJECT_BAD_AUTH], 1);
        ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->rejected[BERTH_REJECT_UNEXPECTED], 1);
        ck_assert_uint_eq(log.n, 5);
    }
    nn_close(raw);
    berth_rpc_client_free(c);
    berth_stream_push_free(push);
    berth_stream_pull_free(pull);
    free(addr);
}
END_TEST

/* ---- survey ---- */

typedef struct agent {
    Agent_Service base;
    berth_loop *loop;
    char name[32];
    uint32_t delay_ms; /* 0: answer at once */
    uint64_t asked;
} agent;

typedef struct late_answer {
    berth_loop_timer t;
    agent *a;
    HealthReport_Closure closure;
    void *data;
} late_answer;

static void answer(agent *a, HealthReport_Closure closure, void *data)
{
    HealthReport r = HEALTH_REPORT_INIT;

    r.node = a->name;
    r.healthy = true;
    closure(&r, data);
}

static void late_fire(berth_loop_timer *t)
{
    late_answer *l = berth_container_of(t, late_answer, t);

    answer(l->a, l->closure, l->data);
    free(l);
}

static void agent_health(Agent_Service *s, const HealthRequest *in, HealthReport_Closure closure,
                         void *data)
{
    agent *a = berth_container_of(s, agent, base);

    (void)in;
    a->asked++;
    if (a->delay_ms) {
        late_answer *l = calloc(1, sizeof(*l));

        l->a = a;
        l->closure = closure;
        l->data = data;
        berth_loop_timer_init(&l->t, late_fire);
        berth_loop_timer_arm(a->loop, &l->t,
                             berth_now_mono_ns() + (int64_t)a->delay_ms * BERTH_NSEC_PER_MSEC);
        return;
    }
    answer(a, closure, data);
}

static void agent_init(agent *a, const char *name, uint32_t delay_ms)
{
    memset(a, 0, sizeof(*a));
    berth__v1__agent__init(&a->base, NULL);
    a->base.health = agent_health;
    a->loop = loop;
    a->delay_ms = delay_ms;
    snprintf(a->name, sizeof(a->name), "%s", name);
}

static berth_rpc_server *respondent(test_party *p, agent *a, const char *addr)
{
    berth_rpc_server_config cfg = { .loop = loop, .auth = p->auth };
    berth_rpc_server *r;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_rpc_respondent_new(&cfg, &ctl.who, &r, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(r, (ProtobufCService *)&a->base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_connect(r, addr, &err), 0);
    return r;
}

typedef struct survey_out {
    bool done;
    size_t n_answers, n_missing;
    char answered[8][BERTH_NAME_MAX + 1], missing[8][BERTH_NAME_MAX + 1];
} survey_out;

static void on_survey(berth_survey_result *res, void *data)
{
    survey_out *o = data;

    o->n_answers = res->n_answers;
    o->n_missing = res->n_missing;
    for (size_t i = 0; i < res->n_answers && i < 8; i++) {
        ck_assert_int_eq(res->answers[i].code, CODE_OK);
        ck_assert_str_eq(((HealthReport *)res->answers[i].response)->node,
                         res->answers[i].from.name);
        snprintf(o->answered[i], sizeof(o->answered[i]), "%s", res->answers[i].from.name);
    }
    for (size_t i = 0; i < res->n_missing && i < 8; i++)
        snprintf(o->missing[i], sizeof(o->missing[i]), "%s", res->missing[i].name);
    o->done = true;
}

static void ask(berth_surveyor *sv, const berth_principal *expected, size_t n, uint32_t timeout,
                survey_out *out)
{
    HealthRequest q = HEALTH_REQUEST_INIT;
    berth_error *err = NULL;

    memset(out, 0, sizeof(*out));
    ck_assert_int_eq(berth_surveyor_ask(sv, &agent_descriptor, "Health", &q.base, timeout, expected,
                                        n, on_survey, out, &err),
                     0);
    ck_assert(run_until(loop, &out->done, (int)timeout + 5000));
}

static bool answered_by(const survey_out *o, const char *name)
{
    for (size_t i = 0; i < o->n_answers; i++)
        if (strcmp(o->answered[i], name) == 0)
            return true;
    return false;
}

START_TEST(survey_names_the_silent)
{
    test_party n3;
    agent a1, a2, a3;
    berth_rpc_server *r1, *r2, *r3;
    berth_rpc_client *c1, *c2, *c3;
    berth_surveyor *sv;
    berth_principal expected[3];
    survey_out out;
    berth_error *err = NULL;
    char *addr = ipc_addr(dir, "survey");

    party_init(&n3, BERTH_ROLE_NODE, "n3");
    party_trust(&ctl, &n3);
    party_trust(&n3, &ctl);
    ck_assert_int_eq(berth_surveyor_new(loop, ctl.auth, &sv, &err), 0);
    ck_assert_int_eq(berth_surveyor_bind(sv, addr, &err), 0);
    c1 = connect_node(&n1);
    c2 = connect_node(&n2);
    c3 = connect_node(&n3);
    agent_init(&a1, "n1", 0);
    agent_init(&a2, "n2", 0);
    agent_init(&a3, "n3", 0);
    r1 = respondent(&n1, &a1, addr);
    r2 = respondent(&n2, &a2, addr);
    r3 = respondent(&n3, &a3, addr);
    expected[0] = n1.who;
    expected[1] = n2.who;
    expected[2] = n3.who;
    /* a question asked before a respondent connected is lost to it: ask
     * until all three have joined */
    for (int i = 0; i < 20; i++) {
        ask(sv, expected, 3, 200, &out);
        if (out.n_answers == 3)
            break;
    }
    ck_assert_uint_eq(out.n_answers, 3);
    ck_assert_uint_eq(out.n_missing, 0);

    /* n3 goes silent: it answers only after the deadline */
    a3.delay_ms = 1500;
    ask(sv, expected, 3, 500, &out);
    ck_assert_uint_eq(out.n_answers, 2);
    ck_assert(answered_by(&out, "n1"));
    ck_assert(answered_by(&out, "n2"));
    ck_assert_uint_eq(out.n_missing, 1);
    ck_assert_str_eq(out.missing[0], "n3");
    ck_assert_uint_ge(a3.asked, 2);
    /* its late answer arrives into nothing and breaks nothing */
    run_for(loop, 1500);
    a3.delay_ms = 0;
    ask(sv, expected, 3, 1000, &out);
    ck_assert_uint_eq(out.n_answers, 3);

    berth_rpc_server_free(r1);
    berth_rpc_server_free(r2);
    berth_rpc_server_free(r3);
    berth_rpc_client_free(c1);
    berth_rpc_client_free(c2);
    berth_rpc_client_free(c3);
    berth_surveyor_free(sv);
    party_free(&n3);
    free(addr);
}
END_TEST

START_TEST(survey_questions_must_come_from_the_controller)
{
    agent a1;
    berth_rpc_server *r1;
    berth_rpc_client *c1;
    berth_surveyor *rogue;
    survey_out out;
    berth_error *err = NULL;
    char *addr = ipc_addr(dir, "rogue-survey");
    uint64_t decoded;

    /* n2 runs a surveyor; n1's respondent is connected to it */
    party_trust(&n1, &n2);
    c1 = connect_node(&n1);
    agent_init(&a1, "n1", 0);
    ck_assert_int_eq(berth_surveyor_new(loop, n2.auth, &rogue, &err), 0);
    ck_assert_int_eq(berth_surveyor_bind(rogue, addr, &err), 0);
    r1 = respondent(&n1, &a1, addr);
    run_for(loop, 100);
    decoded = berth_auth_stats_of(n1.auth)->decoded;
    for (int i = 0; i < 3; i++)
        ask(rogue, &n1.who, 1, 200, &out);
    ck_assert_uint_eq(out.n_answers, 0);
    ck_assert_uint_eq(a1.asked, 0);
    ck_assert_uint_ge(berth_auth_stats_of(n1.auth)->rejected[BERTH_REJECT_FORBIDDEN], 1);
    ck_assert_uint_eq(berth_auth_stats_of(n1.auth)->decoded, decoded);
    berth_rpc_server_free(r1);
    berth_rpc_client_free(c1);
    berth_surveyor_free(rogue);
    free(addr);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/channels");
    TCase *tc = tcase_create("channels");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 40);
    tcase_add_test(tc, events_reach_only_their_node);
    tcase_add_test(tc, forged_events_are_dropped);
    tcase_add_test(tc, stream_reports_gaps);
    tcase_add_test(tc, survey_names_the_silent);
    tcase_add_test(tc, survey_questions_must_come_from_the_controller);
    suite_add_tcase(s, tc);
    return s;
}
