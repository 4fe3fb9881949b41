/* The rpc client: REQ sockets in a small pool, the handshake, deadlines. */
#include "client.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "dispatch.h"
#include "envelope.h"
#include "sock.h"

#define DEFAULT_INFLIGHT     8
#define DEFAULT_RESEND_MS    2000
#define DEFAULT_HANDSHAKE_MS 5000
#define DEFAULT_TIMEOUT_MS   30000
#define RECONNECT_MAX_MS     2000
#define METHOD_NAME_MAX      160
/* Answers (or WELCOMEs) a call may have rejected before it fails: REQ
 * delivers one answer per request, so a rejected one is asked for again at
 * once rather than waited for until the deadline. */
#define REJECTED_ANSWERS_MAX 3

typedef struct client_call client_call;

typedef struct client_slot {
    berth_rpc_client *c;
    berth_nnsock sock; /* s == -1 until first needed */
    client_call *call; /* in flight on this socket */
    bool hello;        /* carrying the handshake */
    /* A request went out and REQ has not delivered its answer. A second
     * request on such a socket would cancel the first inside nanomsg, and
     * nanomsg 1.1 then aborts when the socket is closed (chunk.c:231,
     * NN_CHUNK_TAG): such a socket is reset, never reused. */
    bool outstanding;
} client_slot;

typedef struct call_list {
    client_call *head, *tail;
} call_list;

struct client_call {
    berth_rpc_client *c;
    call_list *list; /* the waiting queue or the failing list, or NULL */
    client_call *prev, *next;
    client_slot *slot; /* on the wire */
    const ProtobufCMethodDescriptor *method;
    char method_name[METHOD_NAME_MAX];
    uint64_t call_id;
    uint8_t *body;
    size_t body_len;
    int64_t deadline; /* monotonic */
    int64_t called_at;
    int64_t sent_at;
    uint8_t session_id[BERTH_SESSION_ID_LEN]; /* the session it went out under */
    uint32_t timeout_ms;
    unsigned rejected; /* answers dropped so far */
    berth_loop_timer timer;
    /* Set to fail the call at its next timer tick with this status. */
    int fail_code;
    char *fail_msg;
    berth_rpc_done_fn done;
    void *data;
};

struct berth_rpc_client {
    berth_loop *loop;
    berth_auth *auth;
    char *address;
    berth_principal server;
    bool has_token;
    berth_join_token token;
    int resend_ivl_ms;
    int64_t handshake_timeout;
    uint32_t default_timeout_ms;

    client_slot *slots;
    unsigned n_slots;
    call_list queue;   /* waiting to be sent, in order */
    call_list failing; /* to be completed with an error at the next tick */

    berth_hello *hello; /* handshake in progress */
    client_slot *hello_slot;
    unsigned hello_rejected; /* WELCOMEs dropped in a row */
    berth_loop_timer hello_timer;

    uint64_t next_call_id;
    berth_rpc_client_stats stats;
    berth_rpc_metrics *metrics;
};

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *berth_rpc_code_name(int code)
{
    if (code >= 0 && (size_t)code < BERTH_ARRAY_SIZE(code_names))
        return code_names[code];
    return "UNKNOWN_CODE";
}

void berth_rpc_result_clear(berth_rpc_result *r)
{
    free(r->message);
    r->message = NULL;
    berth_pb_free(r->response);
    r->response = NULL;
}

static void pump(berth_rpc_client *c);

/* ---- call lists ---- */

static void list_push(call_list *l, client_call *call)
{
    call->list = l;
    call->next = NULL;
    call->prev = l->tail;
    if (l->tail)
        l->tail->next = call;
    else
        l->head = call;
    l->tail = call;
}

static void list_unlink(client_call *call)
{
    call_list *l = call->list;

    if (!l)
        return;
    if (call->prev)
        call->prev->next = call->next;
    else
        l->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        l->tail = call->prev;
    call->prev = call->next = NULL;
    call->list = NULL;
}

/* ---- slots ---- */

static void slot_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                         size_t hdr_len);

static int slot_open(client_slot *slot, berth_error **err)
{
    berth_rpc_client *c = slot->c;

    if (slot->sock.s >= 0)
        return 0;
    if (berth_nnsock_open(&slot->sock, c->loop, AF_SP, NN_REQ, slot_on_recv, err) < 0)
        return -1;
    if (berth_nnsock_setopt_int(&slot->sock, NN_REQ, NN_REQ_RESEND_IVL, c->resend_ivl_ms,
                                "resend interval", err) < 0 ||
        berth_nnsock_setopt_int(&slot->sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, RECONNECT_MAX_MS,
                                "reconnect interval", err) < 0 ||
        berth_nnsock_connect(&slot->sock, c->address, err) < 0) {
        berth_nnsock_close(&slot->sock);
        return -1;
    }
    return 0;
}

/* A socket whose request we gave up on would resend it forever: start
 * afresh. */
static void slot_reset(client_slot *slot)
{
    berth_nnsock_close(&slot->sock);
    slot->call = NULL;
    slot->hello = false;
    slot->outstanding = false;
}

static client_slot *slot_idle(berth_rpc_client *c)
{
    for (unsigned i = 0; i < c->n_slots; i++) {
        client_slot *slot = &c->slots[i];

        if (!slot->call && !slot->hello) {
            if (slot->outstanding)
                slot_reset(slot); /* not reached: ended calls reset theirs */
            return slot;
        }
    }
    return NULL;
}

/* ---- completing calls ---- */

static void call_free(client_call *call)
{
    free(call->body);
    free(call->fail_msg);
    free(call);
}

/* End a call: detach it, tell its owner, free it. msg is copied. */
static void call_complete(client_call *call, int code, const char *msg, ProtobufCMessage *resp)
{
    berth_rpc_client *c = call->c;
    berth_rpc_result res = { .code = code, .response = resp };

    berth_loop_timer_cancel(c->loop, &call->timer);
    if (call->slot) {
        /* ended before its answer (cancelled): the socket cannot be reused */
        if (call->slot->outstanding)
            slot_reset(call->slot);
        call->slot->call = NULL;
        call->slot = NULL;
    }
    list_unlink(call);
    if (code == CODE_OK) {
        c->stats.ok++;
    } else {
        c->stats.failed++;
        res.message = berth_xstrdup(msg ? msg : "");
    }
    if (c->metrics)
        berth_rpc_metrics_called(c->metrics, call->method_name, code,
                                 berth_now_mono_ns() - call->called_at);
    call->done(&res, call->data);
    berth_rpc_result_clear(&res);
    call_free(call);
}

static void call_completef(client_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void call_completef(client_call *call, int code, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    call_complete(call, code, msg, NULL);
}

/* Fail a call at the next loop iteration: done is never called from
 * inside berth_rpc_client_call, which may have got us here. */
static void call_fail_soon(client_call *call, int code, const char *msg)
{
    berth_rpc_client *c = call->c;

    list_unlink(call);
    free(call->fail_msg);
    call->fail_code = code;
    call->fail_msg = berth_xstrdup(msg);
    list_push(&c->failing, call);
    berth_loop_timer_arm(c->loop, &call->timer, 0);
}

/* The session that calls went out under is gone (the server lost it): the
 * others still waiting on it would wait in vain until their own deadlines.
 * Put them back at the head of the queue, in the order they were sent, to
 * go out again under the next session (calls are idempotent: the server's
 * reply cache answers a duplicate without running it twice). */
static void requeue_session(berth_rpc_client *c, const uint8_t *session_id, client_call *except)
{
    client_call *moved[64];
    size_t n = 0;

    for (unsigned i = 0; i < c->n_slots && n < 64; i++) {
        client_call *call = c->slots[i].call;

        if (!call || call == except ||
            memcmp(call->session_id, session_id, BERTH_SESSION_ID_LEN) != 0)
            continue;
        slot_reset(&c->slots[i]);
        call->slot = NULL;
        moved[n++] = call;
    }
    /* Oldest first, ahead of everything that never went out. */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && moved[k]->sent_at < moved[k - 1]->sent_at; k--) {
            client_call *t = moved[k];
            moved[k] = moved[k - 1];
            moved[k - 1] = t;
        }
    for (size_t i = n; i-- > 0;) {
        client_call *call = moved[i];

        call->list = &c->queue;
        call->prev = NULL;
        call->next = c->queue.head;
        if (c->queue.head)
            c->queue.head->prev = call;
        else
            c->queue.tail = call;
        c->queue.head = call;
        c->stats.resent++;
    }
}

void berth_rpc_client_sessions_lost(berth_rpc_client *c)
{
    for (unsigned i = 0; i < c->n_slots; i++) {
        client_call *call = c->slots[i].call;

        /* (requeue_session takes every call of that session at once) */
        if (call && !berth_auth_session(c->auth, call->session_id))
            requeue_session(c, call->session_id, NULL);
    }
    pump(c);
}

static void call_on_timer(berth_loop_timer *t)
{
    client_call *call = berth_container_of(t, client_call, timer);
    berth_rpc_client *c = call->c;
    berth_session *s;

    if (call->fail_code) {
        call_complete(call, call->fail_code, call->fail_msg, NULL);
        pump(c);
        return;
    }
    c->stats.deadline_exceeded++;
    if (call->slot) {
        /* Nothing arrived under the session since this call went out: the
         * server may have lost it (restart); the next call handshakes. */
        s = berth_auth_session(c->auth, call->session_id);
        if (s && berth_session_last_rx(s) < call->sent_at) {
            berth_auth_session_drop(c->auth, s);
            requeue_session(c, call->session_id, call);
        }
        slot_reset(call->slot);
        call->slot = NULL;
        call_completef(call, CODE_DEADLINE_EXCEEDED, "%s: no answer from %s within %u ms",
                       call->method_name, c->address, call->timeout_ms);
    } else {
        call_completef(call, CODE_DEADLINE_EXCEEDED, "%s: not sent to %s within %u ms (%s)",
                       call->method_name, c->address, call->timeout_ms,
                       c->hello ? "handshake in progress" : "all sockets busy");
    }
    pump(c);
}

/* ---- handshake ---- */

static void hello_end(berth_rpc_client *c)
{
    berth_hello_free(c->hello);
    c->hello = NULL;
    if (c->hello_slot)
        c->hello_slot->hello = false;
    c->hello_slot = NULL;
    berth_loop_timer_cancel(c->loop, &c->hello_timer);
}

static void hello_on_timer(berth_loop_timer *t)
{
    berth_rpc_client *c = berth_container_of(t, berth_rpc_client, hello_timer);

    if (c->hello_slot)
        slot_reset(c->hello_slot);
    hello_end(c);
    pump(c); /* try again if calls still wait */
}

/* Complete every waiting call with code. now: from the loop (done may
 * run); else at the next tick. */
static void fail_queue(berth_rpc_client *c, int code, const char *msg, bool now)
{
    while (c->queue.head) {
        if (now)
            call_complete(c->queue.head, code, msg, NULL);
        else
            call_fail_soon(c->queue.head, code, msg);
    }
}

static void hello_start(berth_rpc_client *c, client_slot *slot)
{
    _cleanup_free_ uint8_t *frame = NULL;
    _cleanup_error_ berth_error *err = NULL;
    size_t len = 0;

    if (slot_open(slot, &err) < 0) {
        fail_queue(c, CODE_UNAVAILABLE, err->msg, false);
        return;
    }
    berth_auth_hello(c->auth, &c->server, c->has_token ? &c->token : NULL, &c->hello, &frame, &len);
    if (berth_nnsock_send(&slot->sock, frame, len, NULL, 0, &err) < 0) {
        hello_end(c);
        fail_queue(c, CODE_UNAVAILABLE, err->msg, false);
        return;
    }
    slot->hello = true;
    slot->outstanding = true;
    c->hello_slot = slot;
    berth_loop_timer_arm(c->loop, &c->hello_timer, berth_now_mono_ns() + c->handshake_timeout);
}

static void hello_on_answer(berth_rpc_client *c, uint8_t *msg, size_t len)
{
    client_slot *slot = c->hello_slot;
    berth_welcome w;
    berth_reject r;
    char text[512];

    r = berth_auth_hello_finish(c->auth, c->hello, msg, len, &w);
    if (r != BERTH_REJECT_NONE) {
        /* Not an answer we can take (forged, stale, for another HELLO).
         * No other will come on this request: ask again at once, a few
         * times, then say why. */
        c->stats.dropped++;
        hello_end(c);
        if (++c->hello_rejected < REJECTED_ANSWERS_MAX) {
            hello_start(c, slot);
            return;
        }
        c->hello_rejected = 0;
        snprintf(text, sizeof(text), "handshake with %s %s at %s: %d answers were rejected (%s)",
                 berth_role_name(c->server.role), c->server.name, c->address, REJECTED_ANSWERS_MAX,
                 berth_reject_name(r));
        fail_queue(c, CODE_UNAVAILABLE, text, true);
        return;
    }
    c->hello_rejected = 0;
    hello_end(c);
    if (w.code != CODE_OK) {
        c->stats.refused++;
        snprintf(text, sizeof(text), "%s %s at %s refused us: %s", berth_role_name(c->server.role),
                 c->server.name, c->address, w.message);
        fail_queue(c, w.code, text, true);
        return;
    }
    c->stats.handshakes++;
    pump(c);
}

/* ---- sending ---- */

static void call_send(berth_rpc_client *c, client_call *call, client_slot *slot, berth_session *s)
{
    Envelope env = ENVELOPE_INIT;
    _cleanup_free_ uint8_t *frame = NULL;
    _cleanup_error_ berth_error *err = NULL;
    int64_t now = berth_now_mono_ns();
    size_t len, flen;

    list_unlink(call);
    env.kind = FRAME_KIND_REQUEST;
    env.method = call->method_name;
    env.call_id = call->call_id;
    {
        int64_t left = (call->deadline - now) / BERTH_NSEC_PER_MSEC;

        env.timeout_ms = left < 1 ? 1 : (uint32_t)left;
    }
    env.body.data = call->body;
    env.body.len = call->body_len;
    if (slot_open(slot, &err) < 0 || berth_envelope_frame(&env, NULL, &frame, &len, &err) < 0) {
        call_fail_soon(call, CODE_UNAVAILABLE, err->msg);
        return;
    }
    flen = berth_auth_seal(c->auth, s, BERTH_CHANNEL_RPC, frame, len);
    if (berth_nnsock_send(&slot->sock, frame, flen, NULL, 0, &err) < 0) {
        call_fail_soon(call, CODE_UNAVAILABLE, err->msg);
        return;
    }
    call->slot = slot;
    slot->outstanding = true;
    call->sent_at = now;
    memcpy(call->session_id, berth_session_id(s), BERTH_SESSION_ID_LEN);
    slot->call = call;
}

/* Move waiting calls onto idle sockets; handshake first when needed. */
static void pump(berth_rpc_client *c)
{
    while (c->queue.head) {
        berth_session *s = berth_auth_session_with(c->auth, c->server.id);
        client_slot *slot;

        if (!s) {
            if (!c->hello && (slot = slot_idle(c)))
                hello_start(c, slot);
            return;
        }
        slot = slot_idle(c);
        if (!slot)
            return;
        call_send(c, c->queue.head, slot, s);
    }
}

/* ---- receiving ---- */

/* The answer that arrived for call cannot be taken. REQ delivers one answer
 * per request, so none other will come: send the call again at once (the
 * server answers a resent call from its reply cache, never twice), a few
 * times, then fail it with the reason rather than wait out its deadline. */
static void answer_rejected(berth_rpc_client *c, client_call *call, client_slot *slot,
                            const char *why)
{
    berth_session *s = berth_auth_session(c->auth, call->session_id);

    c->stats.dropped++;
    if (++call->rejected < REJECTED_ANSWERS_MAX && s) {
        c->stats.resent++;
        call_send(c, call, slot, s);
        return;
    }
    slot_reset(slot);
    call->slot = NULL;
    call_completef(call, CODE_UNAVAILABLE, "%s: %u answers from %s were rejected (%s)",
                   call->method_name, call->rejected, c->address, why);
    pump(c);
}

static void slot_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                         size_t hdr_len)
{
    client_slot *slot = berth_container_of(ns, client_slot, sock);
    berth_rpc_client *c = slot->c;
    client_call *call = slot->call;
    berth_expect x = { .channel = BERTH_CHANNEL_RPC,
                       .kind = BERTH_FRAME_SEALED,
                       .sender = c->server.id };
    berth_opened o;
    Envelope *env;
    ProtobufCMessage *resp = NULL;
    berth_reject r;
    int code;

    (void)hdr;
    (void)hdr_len;
    slot->outstanding = false; /* REQ delivers one answer per request */
    if (slot->hello) {
        hello_on_answer(c, msg, len);
        return;
    }
    if (!call) {
        c->stats.dropped++;
        return;
    }
    r = berth_auth_open(c->auth, &x, msg, len, &o);
    if (r != BERTH_REJECT_NONE) {
        answer_rejected(c, call, slot, berth_reject_name(r));
        return;
    }
    env = berth_envelope_decode(c->auth, o.payload, o.payload_len);
    if (!env || env->kind != FRAME_KIND_RESPONSE ||
        (env->call_id != call->call_id && env->call_id != 0)) {
        if (env)
            envelope_free_unpacked(env, NULL);
        answer_rejected(c, call, slot, "not an answer to this call");
        return;
    }
    code = env->status ? (int)env->status->code : CODE_OK;
    if (code == CODE_OK) {
        resp = berth_pb_unpack(call->method->output, env->body.data, env->body.len);
        if (!resp) {
            envelope_free_unpacked(env, NULL);
            call_completef(call, CODE_INTERNAL, "%s: the answer is not a valid %s",
                           call->method_name, call->method->output->name);
            pump(c);
            return;
        }
        call_complete(call, code, NULL, resp);
    } else {
        char text[600];

        snprintf(text, sizeof(text), "%s", env->status->message ? env->status->message : "");
        call_complete(call, code, text, NULL);
    }
    envelope_free_unpacked(env, NULL);
    pump(c);
}

/* ---- public ---- */

int berth_rpc_client_new(const berth_rpc_client_config *cfg, berth_rpc_client **ret_client,
                         berth_error **err)
{
    _cleanup_free_ berth_rpc_client *c = NULL;
    unsigned n = cfg->max_inflight ? cfg->max_inflight : DEFAULT_INFLIGHT;

    if (berth_address_validate(cfg->address, err) < 0)
        return -1;
    c = berth_xcalloc(1, sizeof(*c));
    c->address = berth_xstrdup(cfg->address);
    c->slots = berth_xcalloc(n, sizeof(*c->slots));
    c->loop = cfg->loop;
    c->auth = cfg->auth;
    c->metrics = cfg->metrics;
    c->server = cfg->server;
    if (cfg->join_token) {
        c->has_token = true;
        c->token = *cfg->join_token;
    }
    c->resend_ivl_ms = cfg->resend_ivl_ms > 0 ? cfg->resend_ivl_ms : DEFAULT_RESEND_MS;
    c->handshake_timeout =
        (int64_t)(cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : DEFAULT_HANDSHAKE_MS) *
        BERTH_NSEC_PER_MSEC;
    c->default_timeout_ms = cfg->default_timeout_ms ? cfg->default_timeout_ms : DEFAULT_TIMEOUT_MS;
    c->n_slots = n;
    for (unsigned i = 0; i < n; i++) {
        c->slots[i].c = c;
        c->slots[i].sock.s = -1;
    }
    berth_loop_timer_init(&c->hello_timer, hello_on_timer);
    /* Unique across our restarts too (envelope.proto): a random start. */
    randombytes_buf(&c->next_call_id, sizeof(c->next_call_id));
    c->next_call_id = (c->next_call_id >> 2) + 1;
    *ret_client = TAKE_PTR(c);
    return 0;
}

void berth_rpc_client_free(berth_rpc_client *c)
{
    if (!c)
        return;
    hello_end(c);
    for (unsigned i = 0; i < c->n_slots; i++) {
        client_call *call = c->slots[i].call;

        if (call)
            call_complete(call, CODE_CANCELLED, "client closed", NULL);
        berth_nnsock_close(&c->slots[i].sock);
    }
    fail_queue(c, CODE_CANCELLED, "client closed", true);
    while (c->failing.head)
        call_complete(c->failing.head, c->failing.head->fail_code, c->failing.head->fail_msg, NULL);
    free(c->slots);
    free(c->address);
    sodium_memzero(&c->token, sizeof(c->token));
    free(c);
}

int berth_rpc_client_call(berth_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                          const char *method, const ProtobufCMessage *request, uint32_t timeout_ms,
                          berth_rpc_done_fn done, void *data, berth_error **err)
{
    const ProtobufCMethodDescriptor *m = berth_rpc_method(svc, method);
    client_call *call;
    size_t len;

    if (!m)
        return berth_error_set(err, EINVAL, "%s has no method %s", svc->name, method);
    if (request->descriptor != m->input)
        return berth_error_set(err, EINVAL, "%s/%s takes %s, not %s", svc->name, method,
                               m->input->name, request->descriptor->name);
    len = protobuf_c_message_get_packed_size(request);
    if (len > BERTH_PAYLOAD_MAX - 2 * METHOD_NAME_MAX)
        return berth_error_set(err, EMSGSIZE,
                               "%s/%s: request of %zu bytes exceeds the frame limit of %zu bytes",
                               svc->name, method, len, BERTH_PAYLOAD_MAX - 2 * METHOD_NAME_MAX);
    call = berth_xcalloc(1, sizeof(*call));
    call->body = berth_xmalloc(len);
    if (!berth_method_name(svc, m, call->method_name, sizeof(call->method_name))) {
        call_free(call);
        return berth_error_set(err, ENAMETOOLONG, "call %s/%s: the method's name is too long",
                               svc->name, method);
    }
    call->body_len = protobuf_c_message_pack(request, call->body);
    call->c = c;
    call->method = m;
    call->call_id = c->next_call_id++;
    /* Every call has a deadline. */
    call->timeout_ms = timeout_ms ? timeout_ms : c->default_timeout_ms;
    call->called_at = berth_now_mono_ns();
    call->deadline = call->called_at + (int64_t)call->timeout_ms * BERTH_NSEC_PER_MSEC;
    call->done = done;
    call->data = data;
    berth_loop_timer_init(&call->timer, call_on_timer);
    berth_loop_timer_arm(c->loop, &call->timer, call->deadline);
    c->stats.calls++;
    list_push(&c->queue, call);
    pump(c);
    return 0;
}

typedef struct sync_state {
    bool done;
    berth_rpc_result result;
} sync_state;

static void sync_done(berth_rpc_result *result, void *data)
{
    sync_state *st = data;

    st->result = *result;
    result->message = NULL;
    result->response = NULL;
    st->done = true;
}

/* The loop failed under a sync call: end the call now, so nothing later
 * writes into the caller's stack. */
static void sync_cancel(berth_rpc_client *c, sync_state *st)
{
    client_call *found = NULL;

    for (unsigned i = 0; i < c->n_slots && !found; i++)
        if (c->slots[i].call && c->slots[i].call->data == st)
            found = c->slots[i].call;
    for (client_call *call = c->queue.head; call && !found; call = call->next)
        if (call->data == st)
            found = call;
    for (client_call *call = c->failing.head; call && !found; call = call->next)
        if (call->data == st)
            found = call;
    if (found)
        call_complete(found, CODE_CANCELLED, "event loop failed", NULL);
}

int berth_rpc_client_call_sync(berth_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                               const char *method, const ProtobufCMessage *request,
                               uint32_t timeout_ms, berth_rpc_result *ret_result, berth_error **err)
{
    sync_state st = { 0 };

    if (berth_rpc_client_call(c, svc, method, request, timeout_ms, sync_done, &st, err) < 0)
        return -1;
    while (!st.done) {
        if (berth_loop_run_once(c->loop, -1, err) < 0) {
            sync_cancel(c, &st);
            berth_rpc_result_clear(&st.result);
            return -1;
        }
    }
    *ret_result = st.result;
    return 0;
}

berth_loop *berth_rpc_client_loop(const berth_rpc_client *c)
{
    return c->loop;
}

const berth_rpc_client_stats *berth_rpc_client_stats_of(const berth_rpc_client *c)
{
    return &c->stats;
}
