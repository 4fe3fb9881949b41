/* The wire end to end: a controller (its own thread, loop and keys) and
 * three agents (another thread) over ipc:// and tcp://127.0.0.1 with all
 * four channels: Register and concurrent calls with a slow handler in the
 * mix, a PUB wake-up for one node, a PUSH stream in which the controller
 * detects lost items, and a fleet survey naming the node that stayed
 * silent. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/envelope.h"
#include "rpc/pubsub.h"
#include "rpc/stream.h"
#include "rpc/survey.h"
#include "rpc_test_util.h"

#define N_NODES 3

/* ---- the controller ---- */

typedef struct stream_seen {
    char from[BERTH_NAME_MAX + 1];
    uint64_t seq, missed;
    char container[32];
} stream_seen;

typedef struct controller {
    berth_loop *loop;
    test_party party;
    test_service test_svc;
    Controller_Service ctl_svc;
    berth_rpc_server *srv;
    berth_events_pub *pub;
    berth_stream_pull *pull;
    berth_surveyor *surveyor;
    berth_principal nodes[N_NODES];
    char *rpc_ipc, *rpc_tcp, *ev_ipc, *ev_tcp, *st_ipc, *st_tcp, *sv_ipc, *sv_tcp;

    /* commands from the test: 'W' wake n1, 'S' survey, 'Q' quit */
    int cmd_fd;
    berth_loop_io cmd_io;
    pthread_t thread;

    /* results, read by the test after done flags flip */
    pthread_mutex_t lock;
    char registered[N_NODES][BERTH_NAME_MAX + 1];
    int n_registered;
    stream_seen seen[64];
    int n_seen;
    uint64_t gaps;
    atomic_int survey_done;
    size_t survey_answers, survey_missing;
    char answered[N_NODES][BERTH_NAME_MAX + 1], missing[N_NODES][BERTH_NAME_MAX + 1];
} controller;

static controller ctl;

static void ctl_register(Controller_Service *s, const RegisterRequest *in,
                         RegisterResponse_Closure closure, void *data)
{
    const berth_principal *peer = berth_rpc_call_peer(data);
    RegisterResponse out = REGISTER_RESPONSE_INIT;
    Endpoints ep = ENDPOINTS_INIT;

    (void)s;
    /* A node registers as itself only: the name is checked against the
     * authenticated identity. */
    if (!in->node || strcmp(in->node->name, peer->name) != 0 || peer->role != BERTH_ROLE_NODE) {
        berth_rpc_call_fail(data, CODE_PERMISSION_DENIED, "node %s may not register as %s",
                            peer->name, in->node ? in->node->name : "(none)");
        return;
    }
    pthread_mutex_lock(&ctl.lock);
    if (ctl.n_registered < N_NODES)
        snprintf(ctl.registered[ctl.n_registered++], BERTH_NAME_MAX + 1, "%s", peer->name);
    pthread_mutex_unlock(&ctl.lock);
    out.generation = 41;
    out.heartbeat_interval_ms = 5000;
    ep.events = ctl.ev_tcp;
    ep.stream = ctl.st_tcp;
    ep.survey = ctl.sv_tcp;
    out.endpoints = &ep;
    closure(&out, data);
}

static void on_stream(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    const ContainerEvent *ev = (const ContainerEvent *)msg;

    (void)data;
    pthread_mutex_lock(&ctl.lock);
    if (ctl.n_seen < 64) {
        stream_seen *s = &ctl.seen[ctl.n_seen++];

        snprintf(s->from, sizeof(s->from), "%s", item->from->name);
        s->seq = item->seq;
        s->missed = item->missed;
        snprintf(s->container, sizeof(s->container), "%s", ev->status ? ev->status->id : "");
    }
    if (item->missed)
        ctl.gaps++;
    pthread_mutex_unlock(&ctl.lock);
}

static void on_survey(berth_survey_result *res, void *data)
{
    (void)data;
    pthread_mutex_lock(&ctl.lock);
    ctl.survey_answers = res->n_answers;
    ctl.survey_missing = res->n_missing;
    for (size_t i = 0; i < res->n_answers && i < N_NODES; i++)
        snprintf(ctl.answered[i], BERTH_NAME_MAX + 1, "%s",
                 res->answers[i].code == CODE_OK ? ((HealthReport *)res->answers[i].response)->node
                                                 : "(error)");
    for (size_t i = 0; i < res->n_missing && i < N_NODES; i++)
        snprintf(ctl.missing[i], BERTH_NAME_MAX + 1, "%s", res->missing[i].name);
    pthread_mutex_unlock(&ctl.lock);
    atomic_store(&ctl.survey_done, 1);
}

static void on_command(berth_loop_io *io, uint32_t events)
{
    uint64_t v;

    (void)events;
    if (read(io->fd, &v, sizeof(v)) != sizeof(v))
        return;
    /* the command is the counter's value */
    if (v == 'W') {
        WakeUp w = WAKE_UP_INIT;

        w.generation = 42;
        berth_events_publish(ctl.pub, ctl.nodes[0].id, &w.base, NULL);
    } else if (v == 'S') {
        HealthRequest q = HEALTH_REQUEST_INIT;

        berth_surveyor_ask(ctl.surveyor, &agent_descriptor, "Health", &q.base, 1000, ctl.nodes,
                           N_NODES, on_survey, NULL, NULL);
    } else if (v == 'Q') {
        berth_loop_stop(ctl.loop);
    }
}

static void *controller_main(void *arg)
{
    (void)arg;
    berth_loop_run(ctl.loop, NULL);
    return NULL;
}

static void command(uint64_t c)
{
    ck_assert_int_eq(write(ctl.cmd_fd, &c, sizeof(c)), sizeof(c));
}

/* Build the controller on the test's thread; its loop then runs on its own. */
static void controller_start(char *dir, test_party agents[N_NODES])
{
    berth_rpc_server_config cfg = { 0 };
    berth_error *err = NULL;

    memset(&ctl, 0, sizeof(ctl));
    pthread_mutex_init(&ctl.lock, NULL);
    ck_assert_int_eq(berth_loop_new(&ctl.loop, &err), 0);
    party_init(&ctl.party, BERTH_ROLE_CONTROLLER, "ctl");
    for (int i = 0; i < N_NODES; i++) {
        party_trust(&ctl.party, &agents[i]);
        party_trust(&agents[i], &ctl.party);
        ctl.nodes[i] = agents[i].who;
    }
    ctl.rpc_ipc = ipc_addr(dir, "rpc");
    ctl.ev_ipc = ipc_addr(dir, "events");
    ctl.st_ipc = ipc_addr(dir, "stream");
    ctl.sv_ipc = ipc_addr(dir, "survey");
    ctl.rpc_tcp = tcp_addr();
    ctl.ev_tcp = tcp_addr();
    ctl.st_tcp = tcp_addr();
    ctl.sv_tcp = tcp_addr();

    test_service_init(&ctl.test_svc, ctl.loop);
    berth__v1__controller__init(&ctl.ctl_svc, NULL);
    ctl.ctl_svc.register_ = ctl_register;
    cfg.loop = ctl.loop;
    cfg.auth = ctl.party.auth;
    ck_assert_int_eq(berth_rpc_server_new(&cfg, &ctl.srv, &err), 0);
    ck_assert_int_eq(
        berth_rpc_server_add_service(ctl.srv, (ProtobufCService *)&ctl.test_svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_add_service(ctl.srv, (ProtobufCService *)&ctl.ctl_svc, &err),
                     0);
    ck_assert_int_eq(berth_rpc_server_bind(ctl.srv, ctl.rpc_ipc, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(ctl.srv, ctl.rpc_tcp, &err), 0);

    ck_assert_int_eq(berth_events_pub_new(ctl.loop, ctl.party.auth, &ctl.pub, &err), 0);
    ck_assert_int_eq(berth_events_pub_bind(ctl.pub, ctl.ev_ipc, &err), 0);
    ck_assert_int_eq(berth_events_pub_bind(ctl.pub, ctl.ev_tcp, &err), 0);

    ck_assert_int_eq(berth_stream_pull_new(ctl.loop, ctl.party.auth, &ctl.pull, &err), 0);
    ck_assert_int_eq(berth_stream_pull_bind(ctl.pull, ctl.st_ipc, &err), 0);
    ck_assert_int_eq(berth_stream_pull_bind(ctl.pull, ctl.st_tcp, &err), 0);
    ck_assert_int_eq(
        berth_stream_pull_on(ctl.pull, &container_event_descriptor, on_stream, NULL, &err), 0);

    ck_assert_int_eq(berth_surveyor_new(ctl.loop, ctl.party.auth, &ctl.surveyor, &err), 0);
    ck_assert_int_eq(berth_surveyor_bind(ctl.surveyor, ctl.sv_ipc, &err), 0);
    ck_assert_int_eq(berth_surveyor_bind(ctl.surveyor, ctl.sv_tcp, &err), 0);

    ctl.cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ck_assert_int_ge(ctl.cmd_fd, 0);
    ck_assert_int_eq(berth_loop_add(ctl.loop, &ctl.cmd_io, ctl.cmd_fd, EPOLLIN, on_command, &err),
                     0);
    ck_assert_int_eq(pthread_create(&ctl.thread, NULL, controller_main, NULL), 0);
}

static void controller_stop(void)
{
    command('Q');
    pthread_join(ctl.thread, NULL);
    berth_loop_remove(ctl.loop, &ctl.cmd_io);
    close(ctl.cmd_fd);
    berth_surveyor_free(ctl.surveyor);
    berth_stream_pull_free(ctl.pull);
    berth_events_pub_free(ctl.pub);
    berth_rpc_server_free(ctl.srv);
    party_free(&ctl.party);
    berth_loop_free(ctl.loop);
    free(ctl.rpc_ipc);
    free(ctl.rpc_tcp);
    free(ctl.ev_ipc);
    free(ctl.ev_tcp);
    free(ctl.st_ipc);
    free(ctl.st_tcp);
    free(ctl.sv_ipc);
    free(ctl.sv_tcp);
    pthread_mutex_destroy(&ctl.lock);
}

/* ---- the agents ---- */

typedef struct node {
    test_party party;
    const char *rpc, *events, *stream, *survey; /* which transport it uses */
    berth_rpc_client *client;
    berth_events_sub *sub;
    berth_stream_push *push;
    berth_rpc_server *respondent;
    Agent_Service agent;
    uint32_t health_delay_ms; /* > survey deadline: silent */
    int pending_health;
    uint64_t woken_gen;
} node;

static berth_loop *loop;
static char *dir;
static node nodes[N_NODES];

typedef struct late {
    berth_loop_timer t;
    node *n;
    HealthReport_Closure closure;
    void *data;
} late;

static void health_answer(node *n, HealthReport_Closure closure, void *data)
{
    HealthReport r = HEALTH_REPORT_INIT;

    r.node = n->party.who.name;
    r.healthy = true;
    closure(&r, data);
}

static void late_fire(berth_loop_timer *t)
{
    late *l = berth_container_of(t, late, t);

    l->n->pending_health--;
    health_answer(l->n, l->closure, l->data);
    free(l);
}

static void agent_health(Agent_Service *s, const HealthRequest *in, HealthReport_Closure closure,
                         void *data)
{
    node *n = berth_container_of(s, node, agent);
    late *l;

    (void)in;
    if (!n->health_delay_ms) {
        health_answer(n, closure, data);
        return;
    }
    l = calloc(1, sizeof(*l));
    ck_assert_ptr_nonnull(l);
    l->n = n;
    l->closure = closure;
    l->data = data;
    n->pending_health++;
    berth_loop_timer_init(&l->t, late_fire);
    berth_loop_timer_arm(loop, &l->t,
                         berth_now_mono_ns() + (int64_t)n->health_delay_ms * BERTH_NSEC_PER_MSEC);
}

static void on_wake(const berth_principal *from, const ProtobufCMessage *msg, void *data)
{
    node *n = data;

    ck_assert_str_eq(from->name, "ctl");
    n->woken_gen = ((const WakeUp *)msg)->generation;
}

static void node_start(node *n)
{
    berth_rpc_client_config cc = { .loop = loop,
                                   .auth = n->party.auth,
                                   .address = n->rpc,
                                   .server = ctl.party.who,
                                   .max_inflight = 8 };
    berth_rpc_server_config rc = { .loop = loop, .auth = n->party.auth };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_rpc_client_new(&cc, &n->client, &err), 0);
    ck_assert_int_eq(berth_events_sub_new(loop, n->party.auth, &ctl.party.who, &n->sub, &err), 0);
    ck_assert_int_eq(berth_events_sub_on(n->sub, &wake_up_descriptor, on_wake, n, &err), 0);
    ck_assert_int_eq(berth_events_sub_connect(n->sub, n->events, &err), 0);
    ck_assert_int_eq(berth_stream_push_new(loop, n->party.auth, &ctl.party.who, &n->push, &err), 0);
    ck_assert_int_eq(berth_stream_push_connect(n->push, n->stream, &err), 0);
    berth__v1__agent__init(&n->agent, NULL);
    n->agent.health = agent_health;
    ck_assert_int_eq(berth_rpc_respondent_new(&rc, &ctl.party.who, &n->respondent, &err), 0);
    ck_assert_int_eq(
        berth_rpc_server_add_service(n->respondent, (ProtobufCService *)&n->agent, &err), 0);
    ck_assert_int_eq(berth_rpc_server_connect(n->respondent, n->survey, &err), 0);
}

static void node_stop(node *n)
{
    berth_rpc_server_free(n->respondent);
    berth_stream_push_free(n->push);
    berth_events_sub_free(n->sub);
    berth_rpc_client_free(n->client);
    party_free(&n->party);
}

static void setup(void)
{
    test_party agents[N_NODES];
    berth_error *err = NULL;
    static const char *names[N_NODES] = { "n1", "n2", "n3" };

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    dir = tmpdir_make();
    for (int i = 0; i < N_NODES; i++)
        party_init(&agents[i], BERTH_ROLE_NODE, names[i]);
    controller_start(dir, agents);
    for (int i = 0; i < N_NODES; i++) {
        memset(&nodes[i], 0, sizeof(nodes[i]));
        nodes[i].party = agents[i];
        /* n1 and n3 over tcp, n2 over ipc */
        nodes[i].rpc = i == 1 ? ctl.rpc_ipc : ctl.rpc_tcp;
        nodes[i].events = i == 1 ? ctl.ev_ipc : ctl.ev_tcp;
        nodes[i].stream = i == 1 ? ctl.st_ipc : ctl.st_tcp;
        nodes[i].survey = i == 1 ? ctl.sv_ipc : ctl.sv_tcp;
        node_start(&nodes[i]);
    }
}

static void teardown(void)
{
    for (int i = 0; i < N_NODES; i++)
        while (nodes[i].pending_health > 0)
            run_for(loop, 20);
    for (int i = 0; i < N_NODES; i++)
        node_stop(&nodes[i]);
    controller_stop();
    berth_loop_free(loop);
    tmpdir_remove(dir);
}

static int register_as(node *n, const char *name, char **ret_msg)
{
    RegisterRequest req = REGISTER_REQUEST_INIT;
    NodeInfo info = NODE_INFO_INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    int code;

    info.name = (char *)name;
    info.cgroup_version = 2;
    info.agent_version = "0.1.0";
    req.node = &info;
    ck_assert_int_eq(berth_rpc_client_call_sync(n->client, &controller_descriptor, "Register",
                                                &req.base, 5000, &res, &err),
                     0);
    if (res.code == CODE_OK) {
        RegisterResponse *r = (RegisterResponse *)res.response;

        ck_assert_uint_eq(r->generation, 41);
        ck_assert_uint_eq(r->heartbeat_interval_ms, 5000);
        ck_assert_str_eq(r->endpoints->events, ctl.ev_tcp);
    }
    code = res.code;
    if (ret_msg) {
        *ret_msg = res.message;
        res.message = NULL;
    }
    berth_rpc_result_clear(&res);
    return code;
}

/* ---- concurrent calls ---- */

typedef struct tally {
    int echoes_ok, echoes_bad;
    int echoes_when_slow_done;
    bool slow_done;
    int slow_code;
} tally;

static void echo_done(berth_rpc_result *res, void *data)
{
    tally *t = data;

    if (res->code == CODE_OK &&
        strncmp(((Berth__Test__EchoReply *)res->response)->text, "echo-", 5) == 0)
        t->echoes_ok++;
    else
        t->echoes_bad++;
}

static void slow_done(berth_rpc_result *res, void *data)
{
    tally *t = data;

    t->slow_code = res->code;
    t->echoes_when_slow_done = t->echoes_ok;
    t->slow_done = true;
}

START_TEST(calls_over_ipc_and_tcp_with_a_slow_handler)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_error *err = NULL;
    tally t = { 0 };
    char text[32], *msg = NULL;

    for (int i = 0; i < N_NODES; i++)
        ck_assert_int_eq(register_as(&nodes[i], nodes[i].party.who.name, NULL), CODE_OK);
    ck_assert_int_eq(ctl.n_registered, N_NODES);
    /* nobody registers as somebody else */
    ck_assert_int_eq(register_as(&nodes[0], "n2", &msg), CODE_PERMISSION_DENIED);
    ck_assert_str_eq(msg, "node n1 may not register as n2");
    free(msg);

    /* the slow call first, then 30 echoes from two nodes over tcp and ipc */
    req.text = "slow";
    req.delay_ms = 1500;
    ck_assert_int_eq(berth_rpc_client_call(nodes[0].client, &berth__test__test__descriptor, "Slow",
                                           &req.base, 10000, slow_done, &t, &err),
                     0);
    req.delay_ms = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(text, sizeof(text), "echo-%d", i);
        req.text = text;
        ck_assert_int_eq(berth_rpc_client_call(nodes[i % 2].client, &berth__test__test__descriptor,
                                               "Echo", &req.base, 10000, echo_done, &t, &err),
                         0);
    }
    ck_assert(run_until(loop, &t.slow_done, 15000));
    ck_assert_int_eq(t.slow_code, CODE_OK);
    ck_assert_int_eq(t.echoes_bad, 0);
    /* every echo was answered while the slow handler was still running */
    ck_assert_int_eq(t.echoes_when_slow_done, 30);
    ck_assert_int_eq(t.echoes_ok, 30);
}
END_TEST

/* ---- wake-up ---- */

START_TEST(a_wake_up_reaches_its_node_only)
{
    /* PUB drops what it sends before the subscription has propagated:
     * publish until it lands */
    for (int i = 0; i < 200 && nodes[0].woken_gen == 0; i++) {
        command('W');
        run_for(loop, 25);
    }
    ck_assert_uint_eq(nodes[0].woken_gen, 42);
    run_for(loop, 100);
    ck_assert_uint_eq(nodes[1].woken_gen, 0);
    ck_assert_uint_eq(nodes[2].woken_gen, 0);
    /* the others never even saw it: the topic is the recipient */
    ck_assert_uint_eq(berth_auth_rejected_total(nodes[1].party.auth), 0);
}
END_TEST

/* ---- stream ---- */

static void push(node *n, const char *id, int expect)
{
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    ContainerStatus st = CONTAINER_STATUS_INIT;
    berth_error *err = NULL;

    st.id = (char *)id;
    st.state = CONTAINER_EXITED;
    st.exit_code = 3;
    ev.status = &st;
    ev.previous_state = CONTAINER_RUNNING;
    ck_assert_int_eq(berth_stream_push_send(n->push, &ev.base, NULL, &err), expect);
    berth_error_free(&err);
}

static int seen_count(void)
{
    int n;

    pthread_mutex_lock(&ctl.lock);
    n = ctl.n_seen;
    pthread_mutex_unlock(&ctl.lock);
    return n;
}

static void wait_seen(int n)
{
    for (int i = 0; i < 500 && seen_count() < n; i++)
        run_for(loop, 10);
    ck_assert_int_eq(seen_count(), n);
}

START_TEST(stream_gaps_are_detected)
{
    node *n1 = &nodes[0], *n2 = &nodes[1];
    berth_session *s;

    ck_assert_int_eq(register_as(n1, "n1", NULL), CODE_OK);
    ck_assert_int_eq(register_as(n2, "n2", NULL), CODE_OK);
    push(n1, "a1", 0);
    push(n2, "b1", 0);
    push(n1, "a2", 0);
    wait_seen(3);
    /* n1 loses its session: two events cannot go out */
    s = berth_auth_session_with(n1->party.auth, ctl.party.who.id);
    ck_assert_ptr_nonnull(s);
    berth_auth_session_drop(n1->party.auth, s);
    push(n1, "a3", -1);
    push(n1, "a4", -1);
    ck_assert_uint_eq(berth_stream_push_stats_of(n1->push)->lost, 2);
    /* a call makes a new session; the stream goes on */
    ck_assert_int_eq(register_as(n1, "n1", NULL), CODE_OK);
    push(n1, "a5", 0);
    push(n2, "b2", 0);
    wait_seen(5);

    pthread_mutex_lock(&ctl.lock);
    ck_assert_uint_eq(ctl.gaps, 1);
    for (int i = 0; i < ctl.n_seen; i++) {
        stream_seen *e = &ctl.seen[i];

        if (strcmp(e->container, "a5") == 0) {
            ck_assert_str_eq(e->from, "n1");
            ck_assert_uint_eq(e->seq, 5);
            ck_assert_uint_eq(e->missed, 2);
        } else {
            ck_assert_uint_eq(e->missed, 0);
        }
    }
    pthread_mutex_unlock(&ctl.lock);
}
END_TEST

/* ---- survey ---- */

static void survey(void)
{
    atomic_store(&ctl.survey_done, 0);
    command('S');
    for (int i = 0; i < 1000 && !atomic_load(&ctl.survey_done); i++)
        run_for(loop, 10);
    ck_assert(atomic_load(&ctl.survey_done));
}

START_TEST(a_survey_names_the_silent_node)
{
    /* answers are sealed under each node's session: make them */
    for (int i = 0; i < N_NODES; i++)
        ck_assert_int_eq(register_as(&nodes[i], nodes[i].party.who.name, NULL), CODE_OK);
    /* a survey asked before a respondent's connection is up misses it:
     * ask until everyone answers once */
    for (int i = 0; i < 20; i++) {
        survey();
        if (ctl.survey_answers == N_NODES)
            break;
    }
    ck_assert_uint_eq(ctl.survey_answers, N_NODES);

    /* n3 hangs: it answers after the deadline */
    nodes[2].health_delay_ms = 2000;
    survey();
    pthread_mutex_lock(&ctl.lock);
    ck_assert_uint_eq(ctl.survey_answers, 2);
    ck_assert_uint_eq(ctl.survey_missing, 1);
    ck_assert_str_eq(ctl.missing[0], "n3");
    ck_assert(strcmp(ctl.answered[0], "n3") != 0 && strcmp(ctl.answered[1], "n3") != 0);
    pthread_mutex_unlock(&ctl.lock);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("integration/rpc");
    TCase *tc = tcase_create("rpc");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, calls_over_ipc_and_tcp_with_a_slow_handler);
    tcase_add_test(tc, a_wake_up_reaches_its_node_only);
    tcase_add_test(tc, stream_gaps_are_detected);
    tcase_add_test(tc, a_survey_names_the_silent_node);
    suite_add_tcase(s, tc);
    return s;
}
