/* The rpc server and the survey respondent: authenticate, deduplicate,
 * check deadlines, dispatch, answer whenever the handler completes. */
#include "server.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <nanomsg/survey.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "dispatch.h"
#include "envelope.h"
#include "reply_cache.h"
#include "sock.h"

#define DEFAULT_MAX_PENDING  1024
#define DEFAULT_CACHE_SIZE   4096
#define DEFAULT_CACHE_TTL_NS ((int64_t)300 * BERTH_NSEC_PER_SEC)
#define METHOD_NAME_MAX      160
/* A duplicate arriving this soon after its answer left by the same route
 * crossed that answer in flight: do not answer twice. */
#define CROSSING_GAP_NS ((int64_t)1000 * BERTH_NSEC_PER_MSEC)

struct berth_rpc_server {
    berth_loop *loop;
    berth_auth *auth;
    berth_nnsock sock;
    berth_rpc_dispatch *dispatch;
    berth_reply_cache *cache; /* rpc servers only */
    bool respondent;
    berth_principal surveyor;
    size_t pending, max_pending;
    berth_rpc_call *calls; /* executing */
    berth_rpc_server_stats stats;
    berth_rpc_metrics *metrics;
    const char *(*gate)(void *data, const char *method);
    void *gate_data;
};

struct berth_rpc_call {
    berth_rpc_server *srv; /* NULL once the server is gone */
    berth_rpc_call *prev, *next;
    ProtobufCMessage *request;
    const ProtobufCMethodDescriptor *method;
    char method_name[METHOD_NAME_MAX];
    berth_principal peer;
    uint8_t session_id[BERTH_SESSION_ID_LEN];
    uint64_t call_id;
    int64_t deadline;
    int64_t arrived_ns; /* monotonic */
    uint8_t *hdr;       /* nanomsg routing header to answer with */
    size_t hdr_len;
    berth_reply_entry *entry;
};

/* A method name from the wire, safe to quote in a message. */
static const char *quote_method(const char *m, char out[64])
{
    size_t i;

    for (i = 0; m[i] && i < 63; i++)
        out[i] = (m[i] >= 0x20 && m[i] < 0x7f) ? m[i] : '?';
    out[i] = '\0';
    return out;
}

static uint8_t *copy_hdr(const void *hdr, size_t len)
{
    uint8_t *c = berth_xmalloc(len);

    memcpy(c, hdr, len);
    return c;
}

/* The session an answer is sealed under. */
static berth_session *answer_session(berth_rpc_server *srv, const uint8_t session_id[8])
{
    if (srv->respondent)
        return berth_auth_session_latest(srv->auth, srv->surveyor.id);
    return berth_auth_session(srv->auth, session_id);
}

/* Seal frame (a packed Envelope of len bytes at BERTH_FRAME_HEADER_LEN) in
 * place and send it back by route hdr. */
static void send_frame(berth_rpc_server *srv, const uint8_t session_id[8], const void *hdr,
                       size_t hdr_len, uint8_t *frame, size_t len)
{
    berth_channel ch = srv->respondent ? BERTH_CHANNEL_SURVEY : BERTH_CHANNEL_RPC;
    berth_session *s = answer_session(srv, session_id);
    _cleanup_error_ berth_error *err = NULL;
    size_t flen;

    if (!s) {
        srv->stats.replies_lost++;
        return;
    }
    flen = berth_auth_seal(srv->auth, s, ch, frame, len);
    if (berth_nnsock_send(&srv->sock, frame, flen, hdr, hdr_len, &err) < 0) {
        srv->stats.replies_lost++;
        return;
    }
    srv->stats.replies++;
}

/* Send a copy of a cached answer (the cache keeps the plaintext). */
static void send_copy(berth_rpc_server *srv, const uint8_t session_id[8], const void *hdr,
                      size_t hdr_len, const uint8_t *payload, size_t len)
{
    _cleanup_free_ uint8_t *frame = berth_frame_buffer(len);

    if (!frame) {
        srv->stats.replies_lost++;
        return;
    }
    memcpy(frame + BERTH_FRAME_HEADER_LEN, payload, len);
    send_frame(srv, session_id, hdr, hdr_len, frame, len);
}

/* Build the answer envelope; on a response too large for a frame, the
 * answer becomes RESOURCE_EXHAUSTED. */
static int build_answer(berth_rpc_server *srv, const char *method, uint64_t call_id, int code,
                        const char *msg, const ProtobufCMessage *body, uint8_t **ret_frame,
                        size_t *ret_len)
{
    Envelope env = ENVELOPE_INIT;
    Status st = STATUS_INIT;
    _cleanup_error_ berth_error *err = NULL;

    env.kind = srv->respondent ? FRAME_KIND_SURVEY_REPLY : FRAME_KIND_RESPONSE;
    env.method = (char *)method;
    env.call_id = call_id;
    if (code != CODE_OK) {
        st.code = (Code)code;
        st.message = (char *)(msg ? msg : "");
        env.status = &st;
        body = NULL;
    }
    if (berth_envelope_frame(&env, body, ret_frame, ret_len, &err) == 0)
        return 0;
    if (!body)
        return -1;
    st.code = err->code == EMSGSIZE ? CODE_RESOURCE_EXHAUSTED : CODE_INTERNAL;
    st.message = err->msg;
    env.status = &st;
    return berth_envelope_frame(&env, NULL, ret_frame, ret_len, NULL);
}

/* Answer a request that is not executed (error status). cache: remember
 * the answer for duplicates. */
static void answer_now(berth_rpc_server *srv, const berth_opened *o, const Envelope *env,
                       const void *hdr, size_t hdr_len, int code, bool cache, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void answer_now(berth_rpc_server *srv, const berth_opened *o, const Envelope *env,
                       const void *hdr, size_t hdr_len, int code, bool cache, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    _cleanup_free_ uint8_t *frame = NULL;
    size_t len;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    if (build_answer(srv, env ? env->method : "", env ? env->call_id : 0, code, msg, NULL, &frame,
                     &len) < 0) {
        srv->stats.replies_lost++;
        return;
    }
    if (cache && srv->cache && env) {
        berth_reply_entry *e = berth_reply_cache_add(srv->cache, o->peer->id, env->call_id,
                                                     o->hdr.key_id, o->hdr.counter, NULL);

        berth_reply_cache_complete(srv->cache, e, frame + BERTH_FRAME_HEADER_LEN, len);
        berth_reply_entry_sent(e, hdr, hdr_len, berth_now_mono_ns());
    }
    send_frame(srv, o->hdr.key_id, hdr, hdr_len, frame, len);
}

/* A duplicate of a known call: resend its answer, or, while it executes,
 * make sure the answer takes the newest route back. */
static void answer_duplicate(berth_rpc_server *srv, berth_reply_entry *e,
                             const uint8_t session_id[8], const void *hdr, size_t hdr_len)
{
    berth_rpc_call *call = berth_reply_entry_owner(e);
    int64_t now = berth_now_mono_ns();
    const uint8_t *reply;
    size_t len = 0;

    srv->stats.duplicates++;
    if (call) {
        uint8_t *h = copy_hdr(hdr, hdr_len);

        if (h) {
            free(call->hdr);
            call->hdr = h;
            call->hdr_len = hdr_len;
        }
        return;
    }
    if (berth_reply_entry_just_sent(e, hdr, hdr_len, now, CROSSING_GAP_NS))
        return;
    reply = berth_reply_entry_reply(e, &len);
    berth_reply_entry_sent(e, hdr, hdr_len, now);
    send_copy(srv, session_id, hdr, hdr_len, reply, len);
}

static void call_finish(berth_rpc_call *call, int code, const char *msg,
                        const ProtobufCMessage *resp)
{
    berth_rpc_server *srv = call->srv;

    if (srv) {
        _cleanup_free_ uint8_t *frame = NULL;
        size_t len;

        if (build_answer(srv, call->method_name, call->call_id, code, msg, resp, &frame, &len) ==
            0) {
            if (call->entry) {
                berth_reply_cache_complete(srv->cache, call->entry, frame + BERTH_FRAME_HEADER_LEN,
                                           len);
                berth_reply_entry_sent(call->entry, call->hdr, call->hdr_len, berth_now_mono_ns());
            }
            send_frame(srv, call->session_id, call->hdr, call->hdr_len, frame, len);
        } else {
            if (call->entry)
                berth_reply_cache_drop(srv->cache, call->entry);
            srv->stats.replies_lost++;
        }
        if (call->prev)
            call->prev->next = call->next;
        else
            srv->calls = call->next;
        if (call->next)
            call->next->prev = call->prev;
        srv->pending--;
        srv->stats.completed++;
        if (srv->metrics)
            berth_rpc_metrics_served(srv->metrics, call->method_name, code,
                                     berth_now_mono_ns() - call->arrived_ns);
    }
    berth_pb_free(call->request);
    free(call->hdr);
    free(call);
}

static void call_closure(const ProtobufCMessage *resp, void *data)
{
    berth_rpc_call *call = data;
    char msg[METHOD_NAME_MAX + 64];

    if (resp) {
        call_finish(call, CODE_OK, NULL, resp);
        return;
    }
    snprintf(msg, sizeof(msg), "%s: the handler returned no response", call->method_name);
    call_finish(call, CODE_INTERNAL, msg, NULL);
}

void berth_rpc_call_fail(berth_rpc_call *call, int code, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    if (code == CODE_OK)
        code = CODE_UNKNOWN; /* "failed with OK" makes no answer */
    call_finish(call, code, msg, NULL);
}

size_t berth_rpc_frame_drops(berth_auth *a, FrameDrops storage[BERTH_REJECT_COUNT],
                             FrameDrops *ptrs[BERTH_REJECT_COUNT])
{
    const berth_auth_stats *st = berth_auth_stats_of(a);
    size_t n = 0;

    for (int r = 1; r < BERTH_REJECT_COUNT; r++) {
        if (!st->rejected[r])
            continue;
        frame_drops_init(&storage[n]);
        storage[n].reason = (char *)berth_reject_name((berth_reject)r);
        storage[n].count = st->rejected[r];
        ptrs[n] = &storage[n];
        n++;
    }
    return n;
}

int berth_rpc_code_of(int errnum)
{
    switch (errnum) {
    case 0:
        return CODE_UNKNOWN;
    case EINVAL:
    case E2BIG:
    case ERANGE:
    case ENAMETOOLONG:
        return CODE_INVALID_ARGUMENT;
    case ENOENT:
    case ESRCH:
        return CODE_NOT_FOUND;
    case EEXIST:
        return CODE_ALREADY_EXISTS;
    case EPERM:
    case EACCES:
        return CODE_PERMISSION_DENIED;
    case EBUSY:
    case ENOTEMPTY:
    case EALREADY:
        return CODE_FAILED_PRECONDITION;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case EDQUOT:
    case EFBIG:
        return CODE_RESOURCE_EXHAUSTED;
    case ETIMEDOUT:
        return CODE_DEADLINE_EXCEEDED;
    case ECANCELED:
        return CODE_CANCELLED;
    case ESTALE:
        return CODE_ABORTED;
    case ENOSYS:
    case EOPNOTSUPP:
        return CODE_UNIMPLEMENTED;
    case EAGAIN:
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EIO:
        return CODE_UNAVAILABLE;
    default:
        return CODE_INTERNAL;
    }
}

void berth_rpc_fail_error(berth_rpc_call *call, const berth_error *err)
{
    berth_rpc_call_fail(call, berth_rpc_code_of(err ? err->code : 0), "%s",
                        err ? err->msg : "failed");
}

const berth_principal *berth_rpc_call_peer(const berth_rpc_call *call)
{
    return &call->peer;
}

const char *berth_rpc_call_method(const berth_rpc_call *call)
{
    return call->method_name;
}

int64_t berth_rpc_call_deadline(const berth_rpc_call *call)
{
    return call->deadline;
}

/* Deadline of a request (monotonic ns), from the frame's timestamp. */
static int64_t request_deadline(const berth_opened *o, uint32_t timeout_ms, bool *ret_expired)
{
    int64_t now_real, due_real;

    *ret_expired = false;
    if (timeout_ms == 0)
        return INT64_MAX;
    now_real = berth_now_real_ns();
    due_real = o->hdr.timestamp_ns + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    if (due_real <= now_real) {
        *ret_expired = true;
        return 0;
    }
    return berth_now_mono_ns() + (due_real - now_real);
}

/* A decoded, authenticated request or question: check, dispatch, execute. */
static void serve(berth_rpc_server *srv, const berth_opened *o, Envelope *env, const void *hdr,
                  size_t hdr_len)
{
    const ProtobufCMethodDescriptor *m;
    ProtobufCService *svc = NULL;
    berth_rpc_call *call;
    char qm[64];
    bool expired;
    int64_t deadline;
    FrameKind want = srv->respondent ? FRAME_KIND_SURVEY : FRAME_KIND_REQUEST;

    if (env->kind != want) {
        srv->stats.invalid++;
        if (!srv->respondent)
            answer_now(srv, o, env, hdr, hdr_len, CODE_INVALID_ARGUMENT, false,
                       "expected a request, got an envelope of kind %d", (int)env->kind);
        return;
    }
    srv->stats.requests++;
    if (srv->cache) {
        berth_reply_entry *e = berth_reply_cache_find_call(srv->cache, o->peer->id, env->call_id);

        if (e) {
            answer_duplicate(srv, e, o->hdr.key_id, hdr, hdr_len);
            return;
        }
    }
    deadline = request_deadline(o, env->timeout_ms, &expired);
    if (expired) {
        srv->stats.expired++;
        /* A survey's asker has moved on; a caller gets told. */
        if (!srv->respondent)
            answer_now(srv, o, env, hdr, hdr_len, CODE_DEADLINE_EXCEEDED, true,
                       "%s: deadline of %u ms passed before the request arrived",
                       quote_method(env->method, qm), env->timeout_ms);
        return;
    }
    m = berth_rpc_dispatch_find(srv->dispatch, env->method, &svc);
    if (!m) {
        srv->stats.unimplemented++;
        answer_now(srv, o, env, hdr, hdr_len, CODE_UNIMPLEMENTED, true, "unknown method %s",
                   quote_method(env->method, qm));
        return;
    }
    if (srv->gate) {
        const char *why = srv->gate(srv->gate_data, env->method);

        if (why) {
            answer_now(srv, o, env, hdr, hdr_len, CODE_UNAVAILABLE, false, "%s", why);
            return;
        }
    }
    if (srv->pending >= srv->max_pending) {
        srv->stats.overloaded++;
        answer_now(srv, o, env, hdr, hdr_len, CODE_RESOURCE_EXHAUSTED, false,
                   "%s: %zu calls in progress, try again later", quote_method(env->method, qm),
                   srv->pending);
        return;
    }
    call = berth_xcalloc(1, sizeof(*call));
    call->request = berth_pb_unpack(m->input, env->body.data, env->body.len);
    if (!call->request) {
        free(call);
        srv->stats.invalid++;
        answer_now(srv, o, env, hdr, hdr_len, CODE_INVALID_ARGUMENT, true,
                   "%s: the request is not a valid %s", quote_method(env->method, qm),
                   m->input->name);
        return;
    }
    call->hdr = copy_hdr(hdr, hdr_len);
    call->hdr_len = hdr_len;
    call->srv = srv;
    call->method = m;
    /* env->method matched svc/method exactly; dispatch bounds its length */
    snprintf(call->method_name, sizeof(call->method_name), "%s", env->method);
    call->peer = *o->peer;
    memcpy(call->session_id, o->hdr.key_id, BERTH_SESSION_ID_LEN);
    call->call_id = env->call_id;
    call->deadline = deadline;
    call->arrived_ns = berth_now_mono_ns();
    /* A duplex call's exchanges are many, idempotent, answered within the
     * resend interval and may carry a megabyte each: the reply cache, which
     * is bounded in entries, keeps none of them, so they never push out
     * the answers of other calls. A resend that arrives after the answer
     * left is dropped as a replay; the caller's deadline has it make the
     * exchange again (duplex.h). */
    if (srv->cache && m->input != &duplex_exchange_descriptor)
        call->entry = berth_reply_cache_add(srv->cache, o->peer->id, env->call_id, o->hdr.key_id,
                                            o->hdr.counter, call);
    call->next = srv->calls;
    if (srv->calls)
        srv->calls->prev = call;
    srv->calls = call;
    srv->pending++;
    srv->stats.executed++;
    svc->invoke(svc, (unsigned)(m - svc->descriptor->methods), call->request, call_closure, call);
}

static void server_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                           size_t hdr_len)
{
    berth_rpc_server *srv = berth_container_of(ns, berth_rpc_server, sock);
    berth_expect x = { 0 };
    berth_opened o;
    Envelope *env;

    if (!hdr)
        return; /* nothing to answer with: not from a REQ/SURVEYOR peer */
    if (!srv->respondent && len > 1 && msg[1] == BERTH_FRAME_HELLO) {
        _cleanup_free_ uint8_t *reply = NULL;
        size_t rlen = 0;

        berth_auth_accept(srv->auth, msg, len, &reply, &rlen);
        if (reply && berth_nnsock_send(&srv->sock, reply, rlen, hdr, hdr_len, NULL) < 0)
            srv->stats.replies_lost++;
        return;
    }
    if (!srv->respondent && len > 1 && msg[1] == BERTH_FRAME_DISCOVER) {
        _cleanup_free_ uint8_t *reply = NULL;
        size_t rlen = 0;

        /* berthd join asks who we are: our principal and key, signed */
        if (berth_auth_discover(srv->auth, msg, len, &reply, &rlen) == BERTH_REJECT_NONE &&
            berth_nnsock_send(&srv->sock, reply, rlen, hdr, hdr_len, NULL) < 0)
            srv->stats.replies_lost++;
        return;
    }
    if (srv->respondent) {
        x.channel = BERTH_CHANNEL_SURVEY;
        x.kind = BERTH_FRAME_SIGNED;
        x.sender = srv->surveyor.id;
        x.broadcast_ok = true;
    } else {
        x.channel = BERTH_CHANNEL_RPC;
        x.kind = BERTH_FRAME_SEALED;
        x.duplicates_ok = true;
    }
    if (berth_auth_open(srv->auth, &x, msg, len, &o) != BERTH_REJECT_NONE)
        return;
    if (o.duplicate) {
        berth_reply_entry *e =
            berth_reply_cache_find_frame(srv->cache, o.hdr.key_id, o.hdr.counter);

        if (!e) {
            /* Authentic, but seen before and no answer to give: a replay. */
            berth_auth_count_reject(srv->auth, BERTH_REJECT_REPLAYED);
            return;
        }
        answer_duplicate(srv, e, o.hdr.key_id, hdr, hdr_len);
        return;
    }
    env = berth_envelope_decode(srv->auth, o.payload, o.payload_len);
    if (!env) {
        srv->stats.invalid++;
        if (!srv->respondent)
            answer_now(srv, &o, NULL, hdr, hdr_len, CODE_INVALID_ARGUMENT, false,
                       "the payload is not a berth.v1.Envelope");
        return;
    }
    serve(srv, &o, env, hdr, hdr_len);
    envelope_free_unpacked(env, NULL);
}

static int server_new(const berth_rpc_server_config *cfg, bool respondent,
                      berth_rpc_server **ret_server, berth_error **err)
{
    berth_rpc_server *srv = berth_xcalloc(1, sizeof(*srv));

    srv->sock.s = -1;
    srv->loop = cfg->loop;
    srv->auth = cfg->auth;
    srv->respondent = respondent;
    srv->metrics = cfg->metrics;
    srv->gate = cfg->gate;
    srv->gate_data = cfg->gate_data;
    srv->max_pending = cfg->max_pending ? cfg->max_pending : DEFAULT_MAX_PENDING;
    if (berth_rpc_dispatch_new(&srv->dispatch, err) < 0)
        goto fail;
    if (!respondent) {
        srv->cache = berth_reply_cache_new(
            cfg->reply_cache_size ? cfg->reply_cache_size : DEFAULT_CACHE_SIZE,
            cfg->reply_cache_ttl_ns > 0 ? cfg->reply_cache_ttl_ns : DEFAULT_CACHE_TTL_NS);
    }
    if (berth_nnsock_open(&srv->sock, srv->loop, AF_SP_RAW, respondent ? NN_RESPONDENT : NN_REP,
                          server_on_recv, err) < 0)
        goto fail;
    if (cfg->max_request_bytes && cfg->max_request_bytes < BERTH_FRAME_MAX &&
        berth_nnsock_setopt_int(&srv->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE,
                                (int)cfg->max_request_bytes, "largest request", err) < 0)
        goto fail;
    *ret_server = srv;
    return 0;

fail:
    berth_rpc_server_free(srv);
    return -1;
}

int berth_rpc_server_new(const berth_rpc_server_config *cfg, berth_rpc_server **ret_server,
                         berth_error **err)
{
    return server_new(cfg, false, ret_server, err);
}

int berth_rpc_respondent_new(const berth_rpc_server_config *cfg, const berth_principal *surveyor,
                             berth_rpc_server **ret_server, berth_error **err)
{
    if (server_new(cfg, true, ret_server, err) < 0)
        return -1;
    (*ret_server)->surveyor = *surveyor;
    return 0;
}

void berth_rpc_server_free(berth_rpc_server *srv)
{
    if (!srv)
        return;
    berth_nnsock_close(&srv->sock);
    for (berth_rpc_call *c = srv->calls; c; c = c->next) {
        c->srv = NULL;
        c->entry = NULL;
    }
    berth_reply_cache_free(srv->cache);
    berth_rpc_dispatch_free(srv->dispatch);
    free(srv);
}

int berth_rpc_server_bind(berth_rpc_server *srv, const char *addr, berth_error **err)
{
    return berth_nnsock_bind(&srv->sock, addr, err);
}

int berth_rpc_server_connect(berth_rpc_server *srv, const char *addr, berth_error **err)
{
    return berth_nnsock_connect(&srv->sock, addr, err);
}

int berth_rpc_server_add_service(berth_rpc_server *srv, ProtobufCService *svc, berth_error **err)
{
    return berth_rpc_dispatch_add(srv->dispatch, svc, err);
}

const berth_rpc_server_stats *berth_rpc_server_stats_of(const berth_rpc_server *srv)
{
    return &srv->stats;
}
