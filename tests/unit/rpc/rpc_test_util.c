/* Helpers for the rpc tests and the benchmark. */
#include "rpc_test_util.h"

#include <arpa/inet.h>
#include <nanomsg/nn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "rpc/auth-internal.h"
#include "rpc/envelope.h"

/* The helpers serve Check suites and the benchmark alike, so they do not
 * use ck_assert (which needs a running suite): a helper that cannot do its
 * job says where and aborts, and Check reports the test as failed. */
#define need(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: failed\n", __FILE__, __LINE__, #cond);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

void party_init(test_party *p, berth_role role, const char *name)
{
    berth_auth_config cfg = { 0 };
    berth_error *err = NULL;

    memset(p, 0, sizeof(*p));
    need((berth_principal_init(&p->who, role, name, &err)) == 0);
    need((berth_keypair_generate(&p->key, &err)) == 0);
    need((berth_policy_memory_new(&p->policy, &err)) == 0);
    cfg.self = p->who;
    cfg.key = p->key;
    cfg.policy = &berth_policy_memory_ops;
    cfg.policy_data = p->policy;
    need((berth_auth_new(&cfg, &p->auth, &err)) == 0);
}

void party_free(test_party *p)
{
    berth_auth_free(p->auth);
    berth_policy_memory_free(p->policy);
    memset(p, 0, sizeof(*p));
}

void party_trust(test_party *a, const test_party *b)
{
    berth_error *err = NULL;

    need((berth_policy_memory_add_key(a->policy, &b->who, b->key.pk, &err)) == 0);
}

/* ---- the test service ---- */

static test_service *svc_of(Berth__Test__Test_Service *s)
{
    return berth_container_of(s, test_service, base);
}

static void reply_with(const Berth__Test__EchoRequest *in, uint64_t executions,
                       Berth__Test__EchoReply_Closure closure, void *closure_data)
{
    Berth__Test__EchoReply out = BERTH__TEST__ECHO_REPLY__INIT;

    out.text = in->text;
    out.data = in->data;
    out.executions = executions;
    closure(&out, closure_data);
}

static void svc_echo(Berth__Test__Test_Service *s, const Berth__Test__EchoRequest *in,
                     Berth__Test__EchoReply_Closure closure, void *closure_data)
{
    test_service *svc = svc_of(s);

    svc->executions++;
    reply_with(in, svc->executions, closure, closure_data);
}

typedef struct slow_call {
    berth_loop_timer timer;
    test_service *svc;
    const Berth__Test__EchoRequest *in;
    Berth__Test__EchoReply_Closure closure;
    void *closure_data;
} slow_call;

static void slow_fire(berth_loop_timer *t)
{
    slow_call *sc = berth_container_of(t, slow_call, timer);

    sc->svc->slow_done++;
    reply_with(sc->in, sc->svc->executions, sc->closure, sc->closure_data);
    free(sc);
}

static void svc_slow(Berth__Test__Test_Service *s, const Berth__Test__EchoRequest *in,
                     Berth__Test__EchoReply_Closure closure, void *closure_data)
{
    test_service *svc = svc_of(s);
    slow_call *sc = calloc(1, sizeof(*sc));

    need((sc) != NULL);
    svc->executions++;
    svc->slow_started++;
    sc->svc = svc;
    sc->in = in; /* valid until the call completes */
    sc->closure = closure;
    sc->closure_data = closure_data;
    berth_loop_timer_init(&sc->timer, slow_fire);
    berth_loop_timer_arm(svc->loop, &sc->timer,
                         berth_now_mono_ns() + (int64_t)in->delay_ms * BERTH_NSEC_PER_MSEC);
}

static void svc_fail(Berth__Test__Test_Service *s, const Berth__Test__EchoRequest *in,
                     Berth__Test__EchoReply_Closure closure, void *closure_data)
{
    (void)closure;
    svc_of(s)->executions++;
    berth_rpc_call_fail(closure_data, CODE_NOT_FOUND, "thing %s: not found", in->text);
}

void test_service_init(test_service *svc, berth_loop *loop)
{
    memset(svc, 0, sizeof(*svc));
    berth__test__test__init(&svc->base, NULL);
    svc->base.echo = svc_echo;
    svc->base.slow = svc_slow;
    svc->base.fail = svc_fail;
    /* missing stays NULL: UNIMPLEMENTED */
    svc->loop = loop;
}

/* ---- addresses ---- */

char *tmpdir_make(void)
{
    char *d = strdup("/tmp/berth-rpc-test-XXXXXX");

    need((d) != NULL);
    need((mkdtemp(d)) != NULL);
    return d;
}

void tmpdir_remove(char *dir)
{
    char cmd[256];

    if (!dir)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    need((system(cmd)) == 0);
    free(dir);
}

char *ipc_addr(const char *dir, const char *name)
{
    char *a = NULL;

    need((asprintf(&a, "ipc://%s/%s", dir, name)) >= 0);
    return a;
}

char *tcp_addr(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char *a = NULL;

    need((fd) >= 0);
    need((bind(fd, (struct sockaddr *)&sa, sizeof(sa))) == 0);
    need((getsockname(fd, (struct sockaddr *)&sa, &len)) == 0);
    close(fd);
    need((asprintf(&a, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port))) >= 0);
    return a;
}

/* ---- running ---- */

bool run_until(berth_loop *loop, const bool *flag, int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    while (!*flag && berth_now_mono_ns() < end)
        need((berth_loop_run_once(loop, 10 * BERTH_NSEC_PER_MSEC, NULL)) >= 0);
    return *flag;
}

void run_for(berth_loop *loop, int ms)
{
    bool never = false;

    run_until(loop, &never, ms);
}

berth_rpc_client *client_new(berth_loop *loop, test_party *p, const test_party *server,
                             const char *addr)
{
    berth_rpc_client_config cfg = {
        .loop = loop, .auth = p->auth, .address = addr, .server = server->who
    };
    berth_rpc_client *c = NULL;
    berth_error *err = NULL;

    need((berth_rpc_client_new(&cfg, &c, &err)) == 0);
    return c;
}

int echo_call(berth_rpc_client *c, const char *method, const char *text, uint32_t timeout_ms,
              Berth__Test__EchoReply **ret_reply, char **ret_message)
{
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;

    req.text = (char *)text;
    need(berth_rpc_client_call_sync(c, &berth__test__test__descriptor, method, &req.base,
                                    timeout_ms, &res, &err) == 0);
    if (ret_reply) {
        *ret_reply = (Berth__Test__EchoReply *)res.response;
        res.response = NULL;
    }
    if (ret_message) {
        *ret_message = res.message;
        res.message = NULL;
    }
    berth_rpc_result_clear(&res);
    return res.code;
}

/* ---- raw frames ---- */

int raw_socket(int type, const char *addr)
{
    int s = nn_socket(AF_SP, type);

    need((s) >= 0);
    need((nn_connect(s, addr)) >= 0);
    return s;
}

uint8_t *raw_roundtrip(berth_loop *loop, int s, const uint8_t *msg, size_t len, int timeout_ms,
                       size_t *ret_len)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    need(nn_send(s, msg, len, 0) == (int)len);
    while (berth_now_mono_ns() < end) {
        void *buf = NULL;
        int n = nn_recv(s, &buf, NN_MSG, NN_DONTWAIT);

        if (n >= 0) {
            uint8_t *copy = malloc((size_t)n ? (size_t)n : 1);

            memcpy(copy, buf, (size_t)n);
            nn_freemsg(buf);
            *ret_len = (size_t)n;
            return copy;
        }
        berth_loop_run_once(loop, 5 * BERTH_NSEC_PER_MSEC, NULL);
    }
    return NULL;
}

uint8_t *sealed_request(test_party *p, const test_party *server, const char *method,
                        uint64_t call_id, uint32_t timeout_ms, int64_t ts, size_t *ret_len)
{
    Envelope env = ENVELOPE_INIT;
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    berth_session *s = berth_auth_session_with(p->auth, server->who.id);
    berth_error *err = NULL;
    uint8_t *frame = NULL;
    size_t len = 0;

    need((s) != NULL);
    req.text = "crafted";
    env.kind = FRAME_KIND_REQUEST;
    env.method = (char *)method;
    env.call_id = call_id;
    env.timeout_ms = timeout_ms;
    need((berth_envelope_frame(&env, &req.base, &frame, &len, &err)) == 0);
    *ret_len = berth_auth_seal_at(p->auth, s, BERTH_CHANNEL_RPC, frame, len, ts);
    return frame;
}

Envelope *open_reply(test_party *p, const test_party *server, uint8_t *frame, size_t len)
{
    berth_expect x = { .channel = BERTH_CHANNEL_RPC,
                       .kind = BERTH_FRAME_SEALED,
                       .sender = server->who.id };
    berth_opened o;

    if (berth_auth_open(p->auth, &x, frame, len, &o) != BERTH_REJECT_NONE)
        return NULL;
    return berth_envelope_decode(p->auth, o.payload, o.payload_len);
}
