/* Fuzz target: frames off the wire, received the way the controller and a
 * node receive them (lib/rpc: auth.h, frame.h, pb.h, and the receive paths
 * of server.c, client.c, pubsub.c, stream.c and survey.c up to the
 * handler): authenticate, decode the envelope, route it, decode the body,
 * check it.
 *
 * Input: see fuzz_frame.h.
 *
 * The parties, keys and the session between them are the fixed world of
 * world.h; receivers whose memory would change what later inputs see
 * (nonce sets, policies, new sessions) are made fresh for each input. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "rpc/envelope.h"
#include "rpc/replay.h"
#include "fuzz_frame.h"
#include "wire.h"
#include "world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- after authentication: what the receivers do ---------------------- */

/* The answer the rpc server would send (its method echoed), built and
 * dropped. */
static void answer(const Envelope *env, FrameKind kind, int code)
{
    Envelope out = ENVELOPE_INIT;
    Status st = STATUS_INIT;
    uint8_t *frame = NULL;
    size_t len;

    out.kind = kind;
    out.method = env->method;
    out.call_id = env->call_id;
    if (code != CODE_OK) {
        st.code = (Code)code;
        st.message = "refused";
        out.status = &st;
    }
    if (berth_envelope_frame(&out, NULL, &frame, &len, NULL) == 0)
        free(frame);
}

/* A request or a survey question (server.c serve()). */
static void serve(const Envelope *env, FrameKind want, FrameKind reply)
{
    const ProtobufCMethodDescriptor *m;
    ProtobufCService *svc = NULL;
    ProtobufCMessage *req;

    if (env->kind != want) {
        answer(env, reply, CODE_INVALID_ARGUMENT);
        return;
    }
    m = berth_rpc_dispatch_find(fuzz_wire_dispatch(), env->method, &svc);
    if (!m) {
        answer(env, reply, CODE_UNIMPLEMENTED);
        return;
    }
    req = berth_pb_unpack(m->input, env->body.data, env->body.len);
    if (!req) {
        answer(env, reply, CODE_INVALID_ARGUMENT);
        return;
    }
    fuzz_wire_check(req);
    answer(env, reply, CODE_OK);
    berth_pb_free(req);
}

/* An event or a stream item: its body by the type it names (pubsub.c,
 * stream.c). */
static void deliver(const berth_typed *types, const Envelope *env)
{
    const berth_typed_entry *h = berth_typed_find(types, env->method);
    ProtobufCMessage *body;

    if (!h)
        return;
    body = berth_pb_unpack(h->type, env->body.data, env->body.len);
    if (body) {
        fuzz_wire_check(body);
        berth_pb_free(body);
    }
}

/* An answer to a call or a question: out is what the caller asked for. */
static void take_answer(const Envelope *env, const ProtobufCMessageDescriptor *out)
{
    ProtobufCMessage *resp;
    char text[600];

    if (env->status && env->status->code != CODE_OK) {
        snprintf(text, sizeof(text), "%s", env->status->message ? env->status->message : "");
        return;
    }
    resp = berth_pb_unpack(out, env->body.data, env->body.len);
    if (resp) {
        fuzz_wire_check(resp);
        berth_pb_free(resp);
    }
}

/* ---- the receivers ------------------------------------------------------ */

/* Authenticate as x says and decode the envelope: NULL when either fails,
 * and for an authentic duplicate (which no receiver decodes again). */
static Envelope *open_envelope(berth_auth *a, const berth_expect *x, uint8_t *frame, size_t len)
{
    berth_opened o;

    if (berth_auth_open(a, x, frame, len, &o) != BERTH_REJECT_NONE || o.duplicate)
        return NULL;
    return berth_envelope_decode(a, o.payload, o.payload_len);
}

/* A receiver: a's socket takes frame (len bytes, decrypted in place). */
typedef void receive_fn(berth_auth *a, const fuzz_world *w, uint8_t *frame, size_t len);

/* The controller's rpc socket: handshakes, then sealed calls. */
static void ctl_rpc_receive(berth_auth *a, const fuzz_world *w, uint8_t *frame, size_t len)
{
    berth_expect x = { .channel = BERTH_CHANNEL_RPC,
                       .kind = BERTH_FRAME_SEALED,
                       .duplicates_ok = true };
    Envelope *env;

    (void)w;
    if (len > 1 && frame[1] == BERTH_FRAME_HELLO) {
        uint8_t *reply = NULL;
        size_t reply_len = 0;

        berth_auth_accept(a, frame, len, &reply, &reply_len);
        free(reply);
        return;
    }
    if (len > 1 && frame[1] == BERTH_FRAME_DISCOVER) {
        uint8_t *reply = NULL;
        size_t reply_len = 0;

        berth_auth_discover(a, frame, len, &reply, &reply_len);
        free(reply);
        return;
    }
    env = open_envelope(a, &x, frame, len);
    if (!env)
        return;
    serve(env, FRAME_KIND_REQUEST, FRAME_KIND_RESPONSE);
    envelope_free_unpacked(env, NULL);
}

/* The controller's stream puller. */
static void ctl_stream_receive(berth_auth *a, const fuzz_world *w, uint8_t *frame, size_t len)
{
    berth_expect x = { .channel = BERTH_CHANNEL_STREAM, .kind = BERTH_FRAME_SEALED };
    Envelope *env = open_envelope(a, &x, frame, len);

    (void)w;
    if (!env)
        return;
    if (env->kind == FRAME_KIND_STREAM && env->seq != 0)
        deliver(fuzz_wire_stream(), env);
    envelope_free_unpacked(env, NULL);
}

/* The controller's surveyor, asking every node for its Health. */
static void ctl_survey_receive(berth_auth *a, const fuzz_world *w, uint8_t *frame, size_t len)
{
    berth_expect x = { .channel = BERTH_CHANNEL_SURVEY, .kind = BERTH_FRAME_SEALED };
    Envelope *env = open_envelope(a, &x, frame, len);

    (void)w;
    if (!env)
        return;
    if (env->kind == FRAME_KIND_SURVEY_REPLY)
        take_answer(env, &health_report_descriptor);
    envelope_free_unpacked(env, NULL);
}

/* A node's rpc client while its hello is out: the answer to it. */
static void node_welcome_receive(berth_auth *a, const berth_hello *hello, uint8_t *frame,
                                 size_t len)
{
    berth_welcome welcome;

    /* berthd join's question is out instead: the key discovery answer (to
     * the challenge the seed's question carried, 32 x 0x21) */
    if (len > 1 && frame[1] == BERTH_FRAME_DISCOVERED) {
        uint8_t challenge[BERTH_DISCOVER_CHALLENGE_LEN], pk[BERTH_PUBKEY_LEN];
        berth_principal who;
        berth_error *err = NULL;

        memset(challenge, 0x21, sizeof(challenge));
        berth_discover_answer(frame, len, challenge, &who, pk, &err);
        berth_error_free(&err);
        return;
    }
    berth_auth_hello_finish(a, hello, frame, len, &welcome);
}

/* A node's rpc client: answers to its calls. The call's method is the one
 * the answer names (else GetAssignments, the answer a node acts on). */
static void node_rpc_receive(berth_auth *a, const fuzz_world *w, uint8_t *frame, size_t len)
{
    berth_expect x = { .channel = BERTH_CHANNEL_RPC,
                       .kind = BERTH_FRAME_SEALED,
                       .sender = w->ctl.who.id };
    const ProtobufCMethodDescriptor *m;
    ProtobufCService *svc = NULL;
    Envelope *env = open_envelope(a, &x, frame, len);

    if (!env)
        return;
    if (env->kind == FRAME_KIND_RESPONSE) {
        m = berth_rpc_dispatch_find(fuzz_wire_dispatch(), env->method, &svc);
        take_answer(env, m ? m->output : &assignments_descriptor);
    }
    envelope_free_unpacked(env, NULL);
}

/* A node's events subscriber and its survey respondent: frames signed by
 * the controller, to node-1 or to every node. */
static void node_signed_receive(berth_auth *a, berth_channel ch, const fuzz_world *w,
                                uint8_t *frame, size_t len)
{
    berth_expect x = {
        .channel = ch, .kind = BERTH_FRAME_SIGNED, .sender = w->ctl.who.id, .broadcast_ok = true
    };
    Envelope *env = open_envelope(a, &x, frame, len);

    if (!env)
        return;
    if (ch == BERTH_CHANNEL_EVENTS) {
        if (env->kind == FRAME_KIND_EVENT)
            deliver(fuzz_wire_events(), env);
    } else {
        serve(env, FRAME_KIND_SURVEY, FRAME_KIND_SURVEY_REPLY);
    }
    envelope_free_unpacked(env, NULL);
}

/* ---- raw frames --------------------------------------------------------- */

static void receive_raw(fuzz_world *w, enum route r, uint8_t *frame, size_t len)
{
    /* Counted from now: an input stays fresh (or stale) forever. */
    if (len >= BERTH_FRAME_HEADER_LEN)
        berth_put_be64(frame + FRAME_TIMESTAMP_AT,
                       berth_get_be64(frame + FRAME_TIMESTAMP_AT) + (uint64_t)berth_now_real_ns());
    switch (r) {
    case ROUTE_HELLO:
    case ROUTE_REQUEST:
        ctl_rpc_receive(w->ctl.auth, w, frame, len);
        break;
    case ROUTE_STREAM:
        ctl_stream_receive(w->ctl.auth, w, frame, len);
        break;
    case ROUTE_ANSWER:
        ctl_survey_receive(w->ctl.auth, w, frame, len);
        break;
    case ROUTE_WELCOME:
        node_welcome_receive(w->node.auth, w->pending, frame, len);
        break;
    case ROUTE_RESPONSE:
        node_rpc_receive(w->node.auth, w, frame, len);
        break;
    case ROUTE_EVENT:
        node_signed_receive(w->node.auth, BERTH_CHANNEL_EVENTS, w, frame, len);
        break;
    case ROUTE_QUESTION:
        node_signed_receive(w->node.auth, BERTH_CHANNEL_SURVEY, w, frame, len);
        break;
    default:
        break;
    }
}

/* ---- authentic frames --------------------------------------------------- */

/* A header for a frame signed by `from` (HELLO, WELCOME). */
static void signed_header(uint8_t *frame, berth_frame_kind kind, const uint8_t to[BERTH_ID_LEN],
                          const uint8_t from[BERTH_ID_LEN], const uint8_t pk[BERTH_PUBKEY_LEN])
{
    berth_frame_header h = { .version = BERTH_FRAME_VERSION,
                             .kind = (uint8_t)kind,
                             .channel = BERTH_CHANNEL_RPC,
                             .timestamp_ns = berth_now_real_ns(),
                             .counter = 1 };

    memcpy(h.recipient, to, BERTH_ID_LEN);
    memcpy(h.sender, from, BERTH_ID_LEN);
    berth_key_id(pk, h.key_id);
    berth_frame_header_write(&h, frame);
}

/* The HELLO a node would send, with the fuzzer's body: signed by node-1's
 * key, carrying it where the body has room; with the token or rotation
 * extension, signed by node-1's next key instead, with a valid join-token
 * proof and a valid endorsement by the current key where there is room
 * (auth.h gives the layout), so enrollment and rotation run too. The
 * receiver is a fresh controller. */
static void hello_authentic(fuzz_world *w, uint8_t *frame, size_t len)
{
    uint8_t *p = frame + BERTH_FRAME_HEADER_LEN, ext = 0, id[BERTH_ID_LEN] = { 0 };
    const berth_keypair *key = &w->node.key;
    size_t off, n;
    fuzz_party ctl;

    if (len >= 2 && p[1] >= 1 && p[1] <= BERTH_NAME_MAX && len >= 2 + (size_t)p[1]) {
        char name[BERTH_NAME_MAX + 1];
        berth_principal who;

        memcpy(name, p + 2, p[1]);
        name[p[1]] = '\0';
        if (berth_principal_init(&who, (berth_role)p[0], name, NULL) == 0)
            memcpy(id, who.id, BERTH_ID_LEN);
    }
    off = len >= 2 ? 2 + (size_t)p[1] : len; /* the key; the ephemeral key; extensions */
    if (len >= off + 65)
        ext = p[off + 64];
    if (ext & (HELLO_EXT_TOKEN | HELLO_EXT_ROTATE))
        key = &w->node_next;
    if (len >= off + 32)
        memcpy(p + off, key->pk, 32);
    n = off + 65;
    /* The header first: the token proof covers its timestamp. */
    signed_header(frame, BERTH_FRAME_HELLO, w->ctl.who.id, id, key->pk);
    if ((ext & HELLO_EXT_TOKEN) && len >= n + BERTH_TOKEN_ID_LEN + 32) {
        static const char label[] = "berth-join-v1";
        crypto_generichash_state st;

        memcpy(p + n, w->token.id, BERTH_TOKEN_ID_LEN);
        crypto_generichash_init(&st, w->token.secret, BERTH_TOKEN_SECRET_LEN, 32);
        crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
        crypto_generichash_update(&st, id, BERTH_ID_LEN);
        crypto_generichash_update(&st, key->pk, 32);
        crypto_generichash_update(&st, p + off + 32, 32);
        crypto_generichash_update(&st, frame + FRAME_TIMESTAMP_AT, 8);
        crypto_generichash_final(&st, p + n + BERTH_TOKEN_ID_LEN, 32);
        n += BERTH_TOKEN_ID_LEN + 32;
    }
    if ((ext & HELLO_EXT_ROTATE) && len >= n + 32 + 64) {
        uint8_t m[15 + BERTH_ID_LEN + 32];

        memcpy(m, "berth-rotate-v1", 15);
        memcpy(m + 15, id, BERTH_ID_LEN);
        memcpy(m + 15 + BERTH_ID_LEN, key->pk, 32);
        memcpy(p + n, w->node.key.pk, 32);
        crypto_sign_detached(p + n + 32, NULL, m, sizeof(m), w->node.key.sk);
    }
    len = berth_frame_sign(frame, len, key->sk);
    fuzz_party_clone(&ctl, &w->ctl, &w->node, &w->token);
    ctl_rpc_receive(ctl.auth, w, frame, len);
    fuzz_party_free(&ctl);
}

/* The controller's WELCOME with the fuzzer's body, answering the hello of
 * a fresh node (the hash of that hello put where it belongs). */
static void welcome_authentic(fuzz_world *w, uint8_t *frame, size_t len)
{
    berth_hello *hello = NULL;
    uint8_t *hframe = NULL;
    size_t hlen = 0;
    fuzz_party node;

    fuzz_party_clone(&node, &w->node, &w->ctl, NULL);
    berth_auth_hello(node.auth, &w->ctl.who, NULL, &hello, &hframe, &hlen);
    if (len >= WELCOME_HASH_AT + 32)
        crypto_generichash(frame + BERTH_FRAME_HEADER_LEN + WELCOME_HASH_AT, 32, hframe, hlen, NULL,
                           0);
    signed_header(frame, BERTH_FRAME_WELCOME, w->node.who.id, w->ctl.who.id, w->ctl.key.pk);
    len = berth_frame_sign(frame, len, w->ctl.key.sk);
    node_welcome_receive(node.auth, hello, frame, len);
    berth_hello_free(hello);
    free(hframe);
    fuzz_party_free(&node);
}

/* Signed by the controller, to node-1 or every node, received by a fresh
 * node (a nonce set remembers every frame). */
static void signed_authentic(fuzz_world *w, berth_channel ch, bool broadcast, uint8_t *frame,
                             size_t len)
{
    fuzz_party node;

    len = berth_auth_sign(w->ctl.auth, ch, broadcast ? berth_id_broadcast : w->node.who.id, frame,
                          len);
    fuzz_party_clone(&node, &w->node, &w->ctl, NULL);
    node_signed_receive(node.auth, ch, w, frame, len);
    fuzz_party_free(&node);
}

/* Sealed by from under s on ch, received by to's receive; with twice,
 * received once more: a replay, or for the rpc server a duplicate. */
static void sealed_authentic(const fuzz_world *w, berth_auth *from, berth_session *s,
                             berth_channel ch, berth_auth *to, receive_fn *receive, bool twice,
                             uint8_t *frame, size_t len)
{
    _cleanup_free_ uint8_t *again = NULL;

    len = berth_auth_seal(from, s, ch, frame, len);
    if (twice && (again = malloc(len)))
        memcpy(again, frame, len);
    receive(to, w, frame, len);
    if (again)
        receive(to, w, again, len);
}

static void receive_authentic(fuzz_world *w, enum route r, bool alt, uint8_t *frame, size_t len)
{
    berth_auth *node = w->node.auth, *ctl = w->ctl.auth;

    switch (r) {
    case ROUTE_HELLO:
        hello_authentic(w, frame, len);
        break;
    case ROUTE_REQUEST:
        sealed_authentic(w, node, w->node_session, BERTH_CHANNEL_RPC, ctl, ctl_rpc_receive, alt,
                         frame, len);
        break;
    case ROUTE_STREAM:
        sealed_authentic(w, node, w->node_session, BERTH_CHANNEL_STREAM, ctl, ctl_stream_receive,
                         alt, frame, len);
        break;
    case ROUTE_ANSWER:
        sealed_authentic(w, node, w->node_session, BERTH_CHANNEL_SURVEY, ctl, ctl_survey_receive,
                         alt, frame, len);
        break;
    case ROUTE_WELCOME:
        welcome_authentic(w, frame, len);
        break;
    case ROUTE_RESPONSE:
        sealed_authentic(w, ctl, w->ctl_session, BERTH_CHANNEL_RPC, node, node_rpc_receive, alt,
                         frame, len);
        break;
    case ROUTE_EVENT:
        signed_authentic(w, BERTH_CHANNEL_EVENTS, alt, frame, len);
        break;
    case ROUTE_QUESTION:
        signed_authentic(w, BERTH_CHANNEL_SURVEY, alt, frame, len);
        break;
    default:
        break;
    }
}

/* ---- the replay window -------------------------------------------------- */

#define REPLAY_STEPS_MAX 4096

/* What berth_replay_check must say: new above the highest counter seen,
 * too old at or below the window's bottom (and 0), else seen or not. */
static berth_replay_verdict replay_model(uint64_t top, const uint64_t *seen, size_t n, uint64_t c)
{
    if (c == 0)
        return BERTH_REPLAY_TOO_OLD;
    if (c > top)
        return BERTH_REPLAY_NEW;
    if (top - c >= BERTH_REPLAY_WINDOW)
        return BERTH_REPLAY_TOO_OLD;
    for (size_t i = 0; i < n; i++)
        if (seen[i] == c)
            return BERTH_REPLAY_SEEN;
    return BERTH_REPLAY_NEW;
}

/* Steps of 3 bytes: how to pick the counter (enum replay_pick) and a
 * 16-bit amount. A counter judged new is marked, as open_sealed() does
 * once the tag verified. */
static void replay_window(const uint8_t *data, size_t size)
{
    static uint64_t seen[REPLAY_STEPS_MAX];
    berth_replay_window win = { 0 };
    uint64_t top = 0;
    size_t n = 0;

    for (size_t i = 0; i + 3 <= size && n < REPLAY_STEPS_MAX; i += 3) {
        uint64_t v = (uint64_t)data[i + 1] << 8 | data[i + 2], c;
        berth_replay_verdict want, got;

        switch ((enum replay_pick)(data[i] % REPLAY_PICKS)) {
        case REPLAY_ABOVE:
            c = top + v;
            break;
        case REPLAY_BELOW:
            c = top - v;
            break;
        case REPLAY_HIGHEST:
            c = UINT64_MAX - v;
            break;
        default:
            c = v;
            break;
        }
        want = replay_model(top, seen, n, c);
        got = berth_replay_check(&win, c);
        if (got != want) {
            fprintf(stderr, "replay window: counter %llu (top %llu): got %d, want %d\n",
                    (unsigned long long)c, (unsigned long long)top, (int)got, (int)want);
            abort();
        }
        if (got != BERTH_REPLAY_NEW)
            continue;
        berth_replay_mark(&win, c);
        seen[n++] = c;
        if (c > top)
            top = c;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world *w;
    uint8_t *frame;
    enum route r;

    if (size < 1)
        return 0;
    r = (enum route)((data[0] & ROUTE_MASK) % ROUTE_COUNT);
    if (r == ROUTE_REPLAY) {
        replay_window(data + 1, size - 1);
        return 0;
    }
    w = fuzz_world_get();
    fuzz_random_reset();
    /* Room for a header before the payload and a trailer after it, like
     * every frame buffer; exactly the input for a raw frame, so reading
     * past it is caught. */
    if (data[0] & ROUTE_AUTHENTIC) {
        frame = berth_frame_buffer(size - 1);
        if (!frame)
            return 0;
        memcpy(frame + BERTH_FRAME_HEADER_LEN, data + 1, size - 1);
        receive_authentic(w, r, data[0] & ROUTE_ALT, frame, size - 1);
    } else {
        frame = malloc(size - 1 ? size - 1 : 1);
        if (!frame)
            return 0;
        memcpy(frame, data + 1, size - 1);
        receive_raw(w, r, frame, size - 1);
    }
    free(frame);
    return 0;
}
