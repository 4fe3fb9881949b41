/* Surveys with a deadline and a list of who stayed silent. */
#include "survey.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/survey.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "dispatch.h"
#include "envelope.h"
#include "sock.h"
#include "table.h"

#define METHOD_NAME_MAX 160
#define MAX_TIMEOUT_MS  600000
#define MAX_ANSWERS     100000

typedef struct survey {
    struct survey *next;
    const ProtobufCMethodDescriptor *method;
    char method_name[METHOD_NAME_MAX];
    uint8_t *frame; /* the signed question, built at start */
    size_t frame_len;
    uint8_t *body;
    size_t body_len;
    uint32_t timeout_ms;
    uint64_t id;
    int64_t started;
    berth_principal *expected;
    size_t n_expected;
    berth_survey_result result;
    size_t answers_cap;
    berth_table *seen; /* ids that answered: fleets are large */
    berth_survey_done_fn done;
    void *data;
} survey;

struct berth_surveyor {
    berth_loop *loop;
    berth_auth *auth;
    berth_nnsock sock;
    survey *running;
    survey *queue_head, *queue_tail;
    berth_loop_timer timer;
    uint64_t next_id;
    berth_surveyor_stats stats;
};

static void survey_free(survey *s)
{
    for (size_t i = 0; i < s->result.n_answers; i++) {
        free(s->result.answers[i].message);
        berth_pb_free(s->result.answers[i].response);
    }
    free(s->result.answers);
    free(s->result.missing);
    berth_table_free(s->seen);
    free(s->expected);
    free(s->frame);
    free(s->body);
    free(s);
}

static bool answered(const survey *s, const uint8_t id[BERTH_ID_LEN])
{
    return berth_table_get(s->seen, id) != NULL;
}

static void start_next(berth_surveyor *sv);

/* The deadline passed (or the surveyor closes): report and move on. */
static void survey_finish(berth_surveyor *sv)
{
    survey *s = sv->running;

    sv->running = NULL;
    berth_loop_timer_cancel(sv->loop, &sv->timer);
    s->result.missing = berth_xcalloc(s->n_expected, sizeof(*s->result.missing));
    for (size_t i = 0; i < s->n_expected; i++)
        if (!answered(s, s->expected[i].id))
            s->result.missing[s->result.n_missing++] = s->expected[i];
    s->done(&s->result, s->data);
    survey_free(s);
}

static void survey_on_timer(berth_loop_timer *t)
{
    berth_surveyor *sv = berth_container_of(t, berth_surveyor, timer);

    if (sv->running)
        survey_finish(sv);
    start_next(sv);
}

/* The SP header a raw surveyor must supply: the survey id, top bit set
 * (the bottom of the backtrace respondents answer with). Our own matching
 * uses the envelope's call_id; nanomsg only routes by it. */
typedef union survey_hdr {
    struct nn_cmsghdr c;
    uint8_t bytes[NN_CMSG_SPACE(sizeof(size_t) + 4)];
    size_t align;
} survey_hdr;

static void survey_header(survey_hdr *h, uint32_t id)
{
    size_t sz = 4;
    uint8_t *d;

    memset(h, 0, sizeof(*h));
    h->c.cmsg_len = NN_CMSG_SPACE(sizeof(size_t) + 4);
    h->c.cmsg_level = PROTO_SP;
    h->c.cmsg_type = SP_HDR;
    d = NN_CMSG_DATA(&h->c);
    memcpy(d, &sz, sizeof(sz));
    id |= 0x80000000u;
    d[sizeof(size_t)] = (uint8_t)(id >> 24);
    d[sizeof(size_t) + 1] = (uint8_t)(id >> 16);
    d[sizeof(size_t) + 2] = (uint8_t)(id >> 8);
    d[sizeof(size_t) + 3] = (uint8_t)id;
}

static void start_next(berth_surveyor *sv)
{
    _cleanup_error_ berth_error *err = NULL;

    while (!sv->running && sv->queue_head) {
        survey *s = sv->queue_head;
        Envelope env = ENVELOPE_INIT;
        survey_hdr hdr;
        size_t len;

        sv->queue_head = s->next;
        if (!sv->queue_head)
            sv->queue_tail = NULL;
        env.kind = FRAME_KIND_SURVEY;
        env.method = s->method_name;
        env.call_id = s->id;
        env.timeout_ms = s->timeout_ms;
        env.body.data = s->body;
        env.body.len = s->body_len;
        sv->running = s;
        if (berth_envelope_frame(&env, NULL, &s->frame, &len, &err) < 0) {
            survey_finish(sv); /* everyone is missing */
            berth_error_free(&err);
            continue;
        }
        s->frame_len =
            berth_auth_sign(sv->auth, BERTH_CHANNEL_SURVEY, berth_id_broadcast, s->frame, len);
        s->started = berth_now_mono_ns();
        survey_header(&hdr, (uint32_t)s->id);
        if (berth_nnsock_send(&sv->sock, s->frame, s->frame_len, &hdr, hdr.c.cmsg_len, &err) < 0) {
            survey_finish(sv);
            berth_error_free(&err);
            continue;
        }
        berth_loop_timer_arm(sv->loop, &sv->timer,
                             s->started + (int64_t)s->timeout_ms * BERTH_NSEC_PER_MSEC);
        sv->stats.surveys++;
    }
}

static void surveyor_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                             size_t hdr_len)
{
    berth_surveyor *sv = berth_container_of(ns, berth_surveyor, sock);
    berth_expect x = { .channel = BERTH_CHANNEL_SURVEY, .kind = BERTH_FRAME_SEALED };
    survey *s = sv->running;
    berth_survey_answer *a;
    berth_opened o;
    Envelope *env;

    (void)hdr;
    (void)hdr_len;
    if (berth_auth_open(sv->auth, &x, msg, len, &o) != BERTH_REJECT_NONE)
        return;
    env = berth_envelope_decode(sv->auth, o.payload, o.payload_len);
    if (!env || env->kind != FRAME_KIND_SURVEY_REPLY) {
        sv->stats.invalid++;
        goto out;
    }
    if (!s || env->call_id != s->id) {
        sv->stats.late++;
        goto out;
    }
    if (answered(s, o.peer->id)) {
        sv->stats.duplicates++;
        goto out;
    }
    if (s->result.n_answers == s->answers_cap) {
        size_t cap = s->answers_cap ? s->answers_cap * 2 : 16;
        if (cap > MAX_ANSWERS)
            goto out;
        s->result.answers = berth_xreallocarray(s->result.answers, cap, sizeof(*s->result.answers));
        s->answers_cap = cap;
    }
    berth_table_put(s->seen, o.peer->id, s);
    a = &s->result.answers[s->result.n_answers];
    memset(a, 0, sizeof(*a));
    a->from = *o.peer;
    a->latency_ns = berth_now_mono_ns() - s->started;
    a->code = env->status ? (int)env->status->code : CODE_OK;
    if (a->code == CODE_OK) {
        a->response = berth_pb_unpack(s->method->output, env->body.data, env->body.len);
        if (!a->response) {
            a->code = CODE_INTERNAL;
            a->message = berth_xstrdup("the answer is not a valid response");
        }
    } else {
        a->message = berth_xstrdup(env->status->message ? env->status->message : "");
    }
    s->result.n_answers++;
    sv->stats.answers++;
out:
    if (env)
        envelope_free_unpacked(env, NULL);
}

int berth_surveyor_new(berth_loop *loop, berth_auth *auth, berth_surveyor **ret_surveyor,
                       berth_error **err)
{
    berth_surveyor *sv = berth_xcalloc(1, sizeof(*sv));

    sv->loop = loop;
    sv->auth = auth;
    berth_loop_timer_init(&sv->timer, survey_on_timer);
    randombytes_buf(&sv->next_id, sizeof(sv->next_id));
    /* Raw: answers to earlier surveys are ours to drop (nanomsg 1.1's
     * cooked surveyor leaks every one it drops), and no nanomsg deadline
     * competes with ours. */
    if (berth_nnsock_open(&sv->sock, loop, AF_SP_RAW, NN_SURVEYOR, surveyor_on_recv, err) < 0) {
        free(sv);
        return -1;
    }
    *ret_surveyor = sv;
    return 0;
}

void berth_surveyor_free(berth_surveyor *sv)
{
    if (!sv)
        return;
    if (sv->running)
        survey_finish(sv);
    while (sv->queue_head) {
        sv->running = sv->queue_head;
        sv->queue_head = sv->queue_head->next;
        survey_finish(sv);
    }
    berth_loop_timer_cancel(sv->loop, &sv->timer);
    berth_nnsock_close(&sv->sock);
    free(sv);
}

int berth_surveyor_bind(berth_surveyor *sv, const char *addr, berth_error **err)
{
    return berth_nnsock_bind(&sv->sock, addr, err);
}

int berth_surveyor_ask(berth_surveyor *sv, const ProtobufCServiceDescriptor *svc,
                       const char *method, const ProtobufCMessage *question, uint32_t timeout_ms,
                       const berth_principal *expected, size_t n_expected,
                       berth_survey_done_fn done, void *data, berth_error **err)
{
    const ProtobufCMethodDescriptor *m = berth_rpc_method(svc, method);
    survey *s;
    size_t len;

    if (!m)
        return berth_error_set(err, EINVAL, "%s has no method %s", svc->name, method);
    if (question->descriptor != m->input)
        return berth_error_set(err, EINVAL, "%s/%s takes %s, not %s", svc->name, method,
                               m->input->name, question->descriptor->name);
    if (timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS)
        return berth_error_set(err, EINVAL, "survey %s/%s: timeout %u ms not in 1..%d", svc->name,
                               method, timeout_ms, MAX_TIMEOUT_MS);
    len = protobuf_c_message_get_packed_size(question);
    if (len > BERTH_PAYLOAD_MAX - 2 * METHOD_NAME_MAX)
        return berth_error_set(err, EMSGSIZE, "survey %s/%s: question of %zu bytes is too large",
                               svc->name, method, len);
    s = berth_xcalloc(1, sizeof(*s));
    s->body = berth_xmalloc(len);
    s->expected = berth_xcalloc(n_expected, sizeof(*s->expected));
    s->seen = berth_table_new(BERTH_ID_LEN);
    if (!berth_method_name(svc, m, s->method_name, sizeof(s->method_name))) {
        survey_free(s);
        return berth_error_set(err, ENAMETOOLONG, "survey %s/%s: the method's name is too long",
                               svc->name, method);
    }
    s->body_len = protobuf_c_message_pack(question, s->body);
    if (n_expected)
        memcpy(s->expected, expected, n_expected * sizeof(*expected));
    s->n_expected = n_expected;
    s->method = m;
    s->timeout_ms = timeout_ms;
    s->id = sv->next_id++;
    s->done = done;
    s->data = data;
    /* Start from the loop, not from inside this call (done may follow). */
    if (!sv->running)
        berth_loop_timer_arm(sv->loop, &sv->timer, 0);
    if (sv->queue_tail)
        sv->queue_tail->next = s;
    else
        sv->queue_head = s;
    sv->queue_tail = s;
    return 0;
}

const berth_surveyor_stats *berth_surveyor_stats_of(const berth_surveyor *sv)
{
    return &sv->stats;
}
