/* docs/PROTOCOL.md's test vectors, recomputed: every vector block of the
 * document is made again through lib/rpc (the functions the daemons run,
 * with the clock and the randomness fixed by berth_auth_fix) and compared
 * byte for byte. A vector the document has and this test does not make
 * fails, as does one it makes and the document lacks. Every frame is also
 * opened by its receiver, so the vectors are frames berth accepts.
 *
 * BERTH_PRINT_VECTORS=1 prints the blocks as computed, in the document's
 * format, to regenerate them. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/auth-internal.h"
#include "rpc/auth.h"
#include "rpc/envelope.h"
#include "rpc/keys.h"
#include "rpc/policy_memory.h"
#include "rpc/principal.h"
#include "rpc_test_util.h"

#ifndef BERTH_SOURCE_DIR
#error "BERTH_SOURCE_DIR must name the source tree (CMake sets it)"
#endif
#define PROTOCOL_DOC BERTH_SOURCE_DIR "/docs/PROTOCOL.md"
#define DOC_MAX      ((size_t)1 << 20)

#define VECTORS_MAX     128
#define VECTOR_NAME_MAX 64
#define HEX_PER_ROW     32 /* bytes per printed line */

/* ---- the inputs (docs/PROTOCOL.md, "Test vectors") ---- */

#define T0 INT64_C(1700000000000000000) /* 2023-11-14T22:13:20Z */
#define MS INT64_C(1000000)

#define SEED_CONTROLLER  0x01
#define SEED_NODE1       0x02
#define SEED_NODE1_NEXT  0x03
#define SEED_NODE2       0x04
#define SEED_NODE3       0x05
#define EPH_HELLO        0x11
#define EPH_WELCOME      0x12
#define EPH_HELLO_JOIN   0x13
#define EPH_HELLO_ROTATE 0x14
#define EPH_HELLO_APPROV 0x15
#define CHALLENGE_BYTE   0x21

#define NONCE_HELLO          UINT64_C(0x0102030405060708)
#define NONCE_WELCOME        UINT64_C(0x1112131415161718)
#define NONCE_EVENTS         UINT64_C(0x2122232425262728)
#define NONCE_EVENTS_ALL     UINT64_C(0x2122232425262729)
#define NONCE_SURVEY         UINT64_C(0x3132333435363738)
#define NONCE_HELLO_JOIN     UINT64_C(0x4142434445464748)
#define NONCE_HELLO_ROTATE   UINT64_C(0x5152535455565758)
#define NONCE_HELLO_APPROVAL UINT64_C(0x6162636465666768)
#define NONCE_REFUSAL        UINT64_C(0x7172737475767778)
#define NONCE_DISCOVER       UINT64_C(0x8182838485868788)
#define NONCE_DISCOVERED     UINT64_C(0x9192939495969798)

#define TIME_HELLO          (T0)
#define TIME_WELCOME        (T0 + 1 * MS)
#define TIME_REQUEST        (T0 + 2 * MS)
#define TIME_RESPONSE       (T0 + 3 * MS)
#define TIME_EVENTS         (T0 + 4 * MS)
#define TIME_STREAM         (T0 + 5 * MS)
#define TIME_SURVEY         (T0 + 6 * MS)
#define TIME_SURVEY_REPLY   (T0 + 7 * MS)
#define TIME_HELLO_JOIN     (T0 + 8 * MS)
#define TIME_HELLO_ROTATE   (T0 + 9 * MS)
#define TIME_HELLO_APPROVAL (T0 + 10 * MS)
#define TIME_REFUSAL        (T0 + 11 * MS)
#define TIME_DISCOVER       (T0 + 12 * MS)
#define TIME_DISCOVERED     (T0 + 13 * MS)

static const uint8_t SESSION_ID[BERTH_SESSION_ID_LEN] = { 0xa0, 0xa1, 0xa2, 0xa3,
                                                          0xa4, 0xa5, 0xa6, 0xa7 };
/* The sessions the join and the rotation make: not vectors. */
static const uint8_t SESSION_ID_JOIN[BERTH_SESSION_ID_LEN] = { 0xb0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t SESSION_ID_ROTATE[BERTH_SESSION_ID_LEN] = { 0xb0, 0, 0, 0, 0, 0, 0, 2 };
static const char JOIN_TOKEN[] = "0a0b0c0d0e0f.00112233445566778899aabbccddeeff";

#define CALL_ID       UINT64_C(42)
#define STREAM_EPOCH  UINT64_C(0x0a0b0c0d0e0f1011)
#define SURVEY_ID     UINT64_C(4096)
#define DIGEST        UINT64_C(0x0123456789abcdef)
#define METHOD_BEAT   "berth.v1.Controller/Heartbeat"
#define METHOD_HEALTH "berth.v1.Agent/Health"

/* ---- vectors ---- */

typedef struct vector {
    char name[VECTOR_NAME_MAX];
    bool text;
    uint8_t *data; /* text: NUL-terminated */
    size_t len;
    bool matched;
} vector;

typedef struct vector_set {
    vector v[VECTORS_MAX];
    size_t n;
} vector_set;

static void set_free(vector_set *vs)
{
    for (size_t i = 0; i < vs->n; i++)
        free(vs->v[i].data);
    vs->n = 0;
}

static vector *set_find(vector_set *vs, const char *name)
{
    for (size_t i = 0; i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0)
            return &vs->v[i];
    return NULL;
}

static vector *set_add(vector_set *vs, const char *name, size_t name_len)
{
    vector *v;

    ck_assert_msg(vs->n < VECTORS_MAX, "more than %d vectors", VECTORS_MAX);
    ck_assert_msg(name_len > 0 && name_len < VECTOR_NAME_MAX, "vector name '%.*s': bad length",
                  (int)name_len, name);
    v = &vs->v[vs->n++];
    memset(v, 0, sizeof(*v));
    memcpy(v->name, name, name_len);
    return v;
}

static void put_hex(vector_set *vs, const char *name, const uint8_t *p, size_t len)
{
    vector *v;

    ck_assert_msg(!set_find(vs, name), "vector %s computed twice", name);
    v = set_add(vs, name, strlen(name));
    v->data = berth_xmalloc(len ? len : 1);
    memcpy(v->data, p, len);
    v->len = len;
}

static void put_be64(vector_set *vs, const char *name, uint64_t value)
{
    uint8_t b[8];

    berth_put_be64(b, value);
    put_hex(vs, name, b, sizeof(b));
}

static void put_text(vector_set *vs, const char *name, const char *text)
{
    vector *v;

    ck_assert_msg(!set_find(vs, name), "vector %s computed twice", name);
    v = set_add(vs, name, strlen(name));
    v->text = true;
    v->data = (uint8_t *)berth_xstrdup(text);
    v->len = strlen(text);
}

static void print_vector(const vector *v)
{
    printf("```\nvector: %s\n", v->name);
    if (v->text) {
        printf("text: %s\n```\n\n", (const char *)v->data);
        return;
    }
    printf("hex: ");
    for (size_t i = 0; i < v->len; i++) {
        if (i > 0 && i % HEX_PER_ROW == 0)
            printf("\n     ");
        printf("%02x", v->data[i]);
    }
    printf("\n```\n\n");
}

/* ---- parties ---- */

typedef struct party {
    berth_principal who;
    berth_keypair key;
    berth_policy_memory *policy;
    berth_auth *auth;
} party;

static void seed_of(uint8_t byte, uint8_t seed[32])
{
    memset(seed, byte, 32);
}

/* A party whose key has the seed of 32 bytes seed_byte; with
 * previous_seed (not -1), one that rotates from the key of that seed to
 * this one. */
static void party_make(party *p, berth_role role, const char *name, uint8_t seed_byte,
                       int previous_seed)
{
    berth_auth_config cfg = { 0 };
    berth_error *err = NULL;
    uint8_t seed[32];

    memset(p, 0, sizeof(*p));
    ck_assert_int_eq(berth_principal_init(&p->who, role, name, &err), 0);
    seed_of(seed_byte, seed);
    berth_keypair_from_seed(seed, &p->key);
    ck_assert_int_eq(berth_policy_memory_new(&p->policy, &err), 0);
    cfg.self = p->who;
    cfg.key = p->key;
    if (previous_seed >= 0) {
        seed_of((uint8_t)previous_seed, seed);
        berth_keypair_from_seed(seed, &cfg.previous_key);
        cfg.has_previous_key = true;
    }
    cfg.policy = &berth_policy_memory_ops;
    cfg.policy_data = p->policy;
    ck_assert_int_eq(berth_auth_new(&cfg, &p->auth, &err), 0);
}

static void party_drop(party *p)
{
    berth_auth_free(p->auth);
    berth_policy_memory_free(p->policy);
    memset(p, 0, sizeof(*p));
}

static void trust(party *a, const berth_principal *who, const uint8_t pk[BERTH_PUBKEY_LEN])
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_policy_memory_add_key(a->policy, who, pk, &err), 0);
}

/* Fix p's clock, the nonce of what it signs, its ephemeral secret (32
 * bytes eph_byte; 0 where it makes none) and the id of the session it
 * accepts next (NULL where it accepts none). */
static void fix(party *p, int64_t now, uint64_t nonce, uint8_t eph_byte, const uint8_t *session_id)
{
    berth_auth_fixed f = { .now_ns = now, .nonce = nonce };

    memset(f.ephemeral_sk, eph_byte, sizeof(f.ephemeral_sk));
    if (session_id)
        memcpy(f.session_id, session_id, BERTH_SESSION_ID_LEN);
    berth_auth_fix(p->auth, &f);
}

/* ---- frames ---- */

/* A frame buffer with env packed at BERTH_FRAME_HEADER_LEN, its body
 * packed after it from body when not NULL (as the server packs answers,
 * and the events and stream channels their messages); the payload is
 * also vector payload_name. */
static uint8_t *envelope_frame(vector_set *vs, const char *payload_name, Envelope *env,
                               const ProtobufCMessage *body, size_t *ret_len)
{
    berth_error *err = NULL;
    uint8_t *frame = NULL;

    ck_assert_int_eq(berth_envelope_frame(env, body, &frame, ret_len, &err), 0);
    put_hex(vs, payload_name, frame + BERTH_FRAME_HEADER_LEN, *ret_len);
    return frame;
}

/* Open frame (a copy: opening decrypts in place) as receiver expects,
 * and check the payload it gives is payload. */
static void open_check(party *receiver, const berth_expect *x, const uint8_t *frame, size_t len,
                       const uint8_t *payload, size_t payload_len, const char *what)
{
    uint8_t *copy = berth_xmalloc(len);
    berth_opened o;
    berth_reject r;

    memcpy(copy, frame, len);
    r = berth_auth_open(receiver->auth, x, copy, len, &o);
    ck_assert_msg(r == BERTH_REJECT_NONE, "%s: dropped by its receiver (%s)", what,
                  berth_reject_name(r));
    ck_assert_msg(!o.duplicate, "%s: taken for a duplicate", what);
    ck_assert_uint_eq(o.payload_len, payload_len);
    ck_assert_mem_eq(o.payload, payload, payload_len);
    free(copy);
}

static const char *channel_names[BERTH_CHANNEL_MAX + 1] = { NULL, "rpc", "events", "stream",
                                                            "survey" };

/* ---- the scenario ---- */

/* The file berth writes for a key, as text without its final newline. */
static void put_file_text(vector_set *vs, const char *name, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, path, 4096, &text, &len, &err), 0);
    ck_assert_msg(len > 0 && text[len - 1] == '\n' && !memchr(text, '\n', len - 1),
                  "%s: not one line", path);
    text[len - 1] = '\0';
    put_text(vs, name, text);
    free(text);
}

static void identities(vector_set *vs, const party *ctl, const party *node1)
{
    berth_principal admin;
    berth_error *err = NULL;
    char *dir = tmpdir_make(), path[512];

    ck_assert_int_eq(berth_principal_init(&admin, BERTH_ROLE_OPERATOR, "admin", &err), 0);
    put_hex(vs, "principal-id-controller", ctl->who.id, BERTH_ID_LEN);
    put_hex(vs, "principal-id-node-1", node1->who.id, BERTH_ID_LEN);
    put_hex(vs, "principal-id-admin", admin.id, BERTH_ID_LEN);
    put_hex(vs, "public-key-controller", ctl->key.pk, BERTH_PUBKEY_LEN);
    put_hex(vs, "key-id-controller", ctl->key.id, BERTH_KEYID_LEN);
    put_hex(vs, "public-key-node-1", node1->key.pk, BERTH_PUBKEY_LEN);
    put_hex(vs, "key-id-node-1", node1->key.id, BERTH_KEYID_LEN);
    {
        uint8_t kid[BERTH_KEYID_LEN];

        berth_key_id(ctl->key.pk, kid);
        ck_assert_mem_eq(kid, ctl->key.id, BERTH_KEYID_LEN);
    }
    snprintf(path, sizeof(path), "%s/controller.pub", dir);
    ck_assert_int_eq(berth_pubkeys_save(AT_FDCWD, path,
                                        (const uint8_t(*)[BERTH_PUBKEY_LEN])ctl->key.pk, 1, &err),
                     0);
    put_file_text(vs, "controller-pub-file", path);
    snprintf(path, sizeof(path), "%s/node.key", dir);
    ck_assert_int_eq(berth_keypair_save(AT_FDCWD, path, &node1->key, &err), 0);
    put_file_text(vs, "node-key-file", path);
    tmpdir_remove(dir);
}

/* The handshake of node-1 with the controller; returns both ends'
 * sessions. */
static void handshake(vector_set *vs, party *ctl, party *node1, berth_session **ret_node_side,
                      berth_session **ret_ctl_side)
{
    berth_hello *hello = NULL;
    uint8_t *frame = NULL, *reply = NULL;
    size_t len = 0, rlen = 0;
    berth_welcome w;
    berth_reject r;

    fix(node1, TIME_HELLO, NONCE_HELLO, EPH_HELLO, NULL);
    berth_auth_hello(node1->auth, &ctl->who, NULL, &hello, &frame, &len);
    put_hex(vs, "hello-frame", frame, len);

    fix(ctl, TIME_WELCOME, NONCE_WELCOME, EPH_WELCOME, SESSION_ID);
    r = berth_auth_accept(ctl->auth, frame, len, &reply, &rlen);
    ck_assert_msg(r == BERTH_REJECT_NONE, "HELLO dropped (%s)", berth_reject_name(r));
    put_hex(vs, "welcome-frame", reply, rlen);
    put_hex(vs, "hello-hash", reply + BERTH_FRAME_HEADER_LEN + 44, 32);

    fix(node1, TIME_WELCOME, 0, 0, NULL);
    r = berth_auth_hello_finish(node1->auth, hello, reply, rlen, &w);
    ck_assert_msg(r == BERTH_REJECT_NONE, "WELCOME dropped (%s)", berth_reject_name(r));
    ck_assert_int_eq(w.code, CODE_OK);
    ck_assert_ptr_nonnull(w.session);
    ck_assert_mem_eq(berth_session_id(w.session), SESSION_ID, BERTH_SESSION_ID_LEN);
    *ret_node_side = w.session;
    *ret_ctl_side = berth_auth_session(ctl->auth, SESSION_ID);
    ck_assert_ptr_nonnull(*ret_ctl_side);

    for (int ch = 1; ch <= BERTH_CHANNEL_MAX; ch++) {
        const uint8_t *c2s = berth_session_key(*ret_node_side, (berth_channel)ch, true);
        const uint8_t *s2c = berth_session_key(*ret_node_side, (berth_channel)ch, false);
        char name[VECTOR_NAME_MAX];

        /* both ends derived the same keys, each using its own half */
        ck_assert_mem_eq(c2s, berth_session_key(*ret_ctl_side, (berth_channel)ch, false), 32);
        ck_assert_mem_eq(s2c, berth_session_key(*ret_ctl_side, (berth_channel)ch, true), 32);
        snprintf(name, sizeof(name), "session-key-%s-c2s", channel_names[ch]);
        put_hex(vs, name, c2s, 32);
        snprintf(name, sizeof(name), "session-key-%s-s2c", channel_names[ch]);
        put_hex(vs, name, s2c, 32);
    }
    berth_hello_free(hello);
    free(frame);
    free(reply);
}

static void rpc_call(vector_set *vs, party *ctl, party *node1, berth_session *node_side,
                     berth_session *ctl_side)
{
    berth_expect at_ctl = { .channel = BERTH_CHANNEL_RPC,
                            .kind = BERTH_FRAME_SEALED,
                            .duplicates_ok = true };
    berth_expect at_node = { .channel = BERTH_CHANNEL_RPC,
                             .kind = BERTH_FRAME_SEALED,
                             .sender = ctl->who.id };
    HeartbeatRequest req = HEARTBEAT_REQUEST_INIT;
    HeartbeatResponse resp = HEARTBEAT_RESPONSE_INIT;
    Envelope env = ENVELOPE_INIT;
    uint8_t body[64], *frame, payload[256];
    size_t len, flen;

    /* The request as the rpc client makes it: the body packed first. */
    req.applied_generation = 7;
    req.status_digest = DIGEST;
    req.containers = 3;
    req.time_unix_ns = TIME_REQUEST;
    ck_assert_uint_le(protobuf_c_message_get_packed_size(&req.base), sizeof(body));
    env.kind = FRAME_KIND_REQUEST;
    env.method = (char *)METHOD_BEAT;
    env.call_id = CALL_ID;
    env.timeout_ms = 10000;
    env.body.len = protobuf_c_message_pack(&req.base, body);
    env.body.data = body;
    frame = envelope_frame(vs, "rpc-request-payload", &env, NULL, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(node1, TIME_REQUEST, 0, 0, NULL);
    flen = berth_auth_seal(node1->auth, node_side, BERTH_CHANNEL_RPC, frame, len);
    put_hex(vs, "rpc-request-frame", frame, flen);
    fix(ctl, TIME_REQUEST, 0, 0, NULL);
    open_check(ctl, &at_ctl, frame, flen, payload, len, "rpc-request-frame");
    free(frame);

    /* The answer as the server makes it: the body packed after. */
    resp.generation = 8;
    resp.heartbeat_interval_ms = 10000;
    resp.peers_version = 1;
    env = (Envelope)ENVELOPE_INIT;
    env.kind = FRAME_KIND_RESPONSE;
    env.method = (char *)METHOD_BEAT;
    env.call_id = CALL_ID;
    frame = envelope_frame(vs, "rpc-response-payload", &env, &resp.base, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(ctl, TIME_RESPONSE, 0, 0, NULL);
    flen = berth_auth_seal(ctl->auth, ctl_side, BERTH_CHANNEL_RPC, frame, len);
    put_hex(vs, "rpc-response-frame", frame, flen);
    fix(node1, TIME_RESPONSE, 0, 0, NULL);
    open_check(node1, &at_node, frame, flen, payload, len, "rpc-response-frame");
    free(frame);
}

static void events(vector_set *vs, party *ctl, party *node1)
{
    berth_expect x = { .channel = BERTH_CHANNEL_EVENTS,
                       .kind = BERTH_FRAME_SIGNED,
                       .sender = ctl->who.id,
                       .broadcast_ok = true };
    WakeUp w = WAKE_UP_INIT;
    Envelope env = ENVELOPE_INIT;
    uint8_t *frame, payload[64];
    size_t len, flen;

    /* As berth_events_publish makes it. */
    w.generation = 8;
    env.kind = FRAME_KIND_EVENT;
    env.method = (char *)w.base.descriptor->name;
    frame = envelope_frame(vs, "events-payload", &env, &w.base, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(ctl, TIME_EVENTS, NONCE_EVENTS, 0, NULL);
    flen = berth_auth_sign(ctl->auth, BERTH_CHANNEL_EVENTS, node1->who.id, frame, len);
    put_hex(vs, "events-frame", frame, flen);
    put_hex(vs, "events-topic-node", frame, 4 + BERTH_ID_LEN);
    fix(node1, TIME_EVENTS, 0, 0, NULL);
    open_check(node1, &x, frame, flen, payload, len, "events-frame");

    /* The same to every node (signing left the payload as it was): its
     * topic. */
    fix(ctl, TIME_EVENTS, NONCE_EVENTS_ALL, 0, NULL);
    flen = berth_auth_sign(ctl->auth, BERTH_CHANNEL_EVENTS, berth_id_broadcast, frame, len);
    put_hex(vs, "events-topic-broadcast", frame, 4 + BERTH_ID_LEN);
    open_check(node1, &x, frame, flen, payload, len, "events to every node");
    free(frame);
}

static void stream(vector_set *vs, party *ctl, party *node1, berth_session *node_side)
{
    berth_expect x = { .channel = BERTH_CHANNEL_STREAM, .kind = BERTH_FRAME_SEALED };
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    ContainerStatus st = CONTAINER_STATUS_INIT;
    Envelope env = ENVELOPE_INIT;
    uint8_t *frame, payload[256];
    size_t len, flen;

    st.id = (char *)"web-1";
    st.state = CONTAINER_RUNNING;
    st.started_unix_ns = TIME_STREAM - 1000 * MS;
    st.generation = 8;
    ev.status = &st;
    ev.previous_state = CONTAINER_STARTING;
    ev.time_unix_ns = TIME_STREAM;
    /* As berth_stream_push_send makes it. */
    env.kind = FRAME_KIND_STREAM;
    env.method = (char *)ev.base.descriptor->name;
    env.seq = 1;
    env.stream_epoch = STREAM_EPOCH;
    frame = envelope_frame(vs, "stream-payload", &env, &ev.base, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(node1, TIME_STREAM, 0, 0, NULL);
    flen = berth_auth_seal(node1->auth, node_side, BERTH_CHANNEL_STREAM, frame, len);
    put_hex(vs, "stream-frame", frame, flen);
    fix(ctl, TIME_STREAM, 0, 0, NULL);
    open_check(ctl, &x, frame, flen, payload, len, "stream-frame");
    free(frame);
}

static void survey(vector_set *vs, party *ctl, party *node1, berth_session *node_side)
{
    berth_expect at_node = { .channel = BERTH_CHANNEL_SURVEY,
                             .kind = BERTH_FRAME_SIGNED,
                             .sender = ctl->who.id,
                             .broadcast_ok = true };
    berth_expect at_ctl = { .channel = BERTH_CHANNEL_SURVEY, .kind = BERTH_FRAME_SEALED };
    HealthRequest q = HEALTH_REQUEST_INIT;
    HealthReport rep = HEALTH_REPORT_INIT;
    Envelope env = ENVELOPE_INIT;
    uint8_t body[16], *frame, payload[256];
    size_t len, flen;

    /* The question as berth_surveyor_ask makes it: the body packed first
     * (HealthRequest packs to nothing). */
    env.kind = FRAME_KIND_SURVEY;
    env.method = (char *)METHOD_HEALTH;
    env.call_id = SURVEY_ID;
    env.timeout_ms = 5000;
    env.body.len = protobuf_c_message_pack(&q.base, body);
    env.body.data = body;
    frame = envelope_frame(vs, "survey-question-payload", &env, NULL, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(ctl, TIME_SURVEY, NONCE_SURVEY, 0, NULL);
    flen = berth_auth_sign(ctl->auth, BERTH_CHANNEL_SURVEY, berth_id_broadcast, frame, len);
    put_hex(vs, "survey-question-frame", frame, flen);
    fix(node1, TIME_SURVEY, 0, 0, NULL);
    open_check(node1, &at_node, frame, flen, payload, len, "survey-question-frame");
    free(frame);

    /* The answer as the respondent makes it. */
    rep.node = (char *)"node-1";
    rep.healthy = true;
    rep.agent_version = (char *)"0.1.0";
    rep.applied_generation = 8;
    env = (Envelope)ENVELOPE_INIT;
    env.kind = FRAME_KIND_SURVEY_REPLY;
    env.method = (char *)METHOD_HEALTH;
    env.call_id = SURVEY_ID;
    frame = envelope_frame(vs, "survey-reply-payload", &env, &rep.base, &len);
    ck_assert_uint_le(len, sizeof(payload));
    memcpy(payload, frame + BERTH_FRAME_HEADER_LEN, len);
    fix(node1, TIME_SURVEY_REPLY, 0, 0, NULL);
    flen = berth_auth_seal(node1->auth, node_side, BERTH_CHANNEL_SURVEY, frame, len);
    put_hex(vs, "survey-reply-frame", frame, flen);
    fix(ctl, TIME_SURVEY_REPLY, 0, 0, NULL);
    open_check(ctl, &at_ctl, frame, flen, payload, len, "survey-reply-frame");
    free(frame);
}

/* A HELLO of p to the controller (vector hello_name), which makes a
 * session with session_id of it. */
static uint8_t *hello_to(vector_set *vs, party *ctl, party *p, const berth_join_token *token,
                         int64_t ts, uint64_t nonce, uint8_t eph, const char *hello_name,
                         const uint8_t *session_id, size_t *ret_len)
{
    berth_hello *hello = NULL;
    uint8_t *frame = NULL, *reply = NULL;
    size_t rlen = 0;
    berth_reject r;

    fix(p, ts, nonce, eph, NULL);
    berth_auth_hello(p->auth, &ctl->who, token, &hello, &frame, ret_len);
    put_hex(vs, hello_name, frame, *ret_len);
    fix(ctl, ts, NONCE_WELCOME, EPH_WELCOME, session_id);
    r = berth_auth_accept(ctl->auth, frame, *ret_len, &reply, &rlen);
    ck_assert_msg(r == BERTH_REJECT_NONE, "%s: dropped by the controller (%s)", hello_name,
                  berth_reject_name(r));
    ck_assert_ptr_nonnull(berth_auth_session(ctl->auth, session_id));
    berth_hello_free(hello);
    free(reply);
    return frame;
}

static void join(vector_set *vs, party *ctl)
{
    party node2;
    berth_join_token token;
    berth_error *err = NULL;
    char text[BERTH_TOKEN_TEXT_LEN];
    uint8_t *hello;
    size_t len;

    party_make(&node2, BERTH_ROLE_NODE, "node-2", SEED_NODE2, -1);
    trust(&node2, &ctl->who, ctl->key.pk);
    ck_assert_int_eq(berth_join_token_parse(JOIN_TOKEN, &token, &err), 0);
    ck_assert_str_eq(berth_join_token_format(&token, text), JOIN_TOKEN);
    put_text(vs, "input-join-token", text);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl->policy, &token, 0, &err), 0);
    hello = hello_to(vs, ctl, &node2, &token, TIME_HELLO_JOIN, NONCE_HELLO_JOIN, EPH_HELLO_JOIN,
                     "hello-join-frame", SESSION_ID_JOIN, &len);
    /* role, name length, "node-2", key, ephemeral key, extensions, token id */
    put_hex(vs, "join-token-proof", hello + BERTH_FRAME_HEADER_LEN + 2 + 6 + 32 + 32 + 1 + 6, 32);
    ck_assert_uint_eq(berth_auth_stats_of(ctl->auth)->keys_enrolled, 1);
    free(hello);
    party_drop(&node2);
}

static void rotate(vector_set *vs, party *ctl)
{
    party next;
    uint8_t *hello;
    size_t len;

    /* node-1 again, moving from its key (SEED_NODE1, which the controller
     * knows) to SEED_NODE1_NEXT. */
    party_make(&next, BERTH_ROLE_NODE, "node-1", SEED_NODE1_NEXT, SEED_NODE1);
    trust(&next, &ctl->who, ctl->key.pk);
    hello = hello_to(vs, ctl, &next, NULL, TIME_HELLO_ROTATE, NONCE_HELLO_ROTATE, EPH_HELLO_ROTATE,
                     "hello-rotate-frame", SESSION_ID_ROTATE, &len);
    put_hex(vs, "rotation-endorsement", hello + len - BERTH_FRAME_SIG_LEN - 64, 64);
    ck_assert_uint_eq(berth_auth_stats_of(ctl->auth)->keys_rotated, 1);
    free(hello);
    party_drop(&next);
}

static void refusal(vector_set *vs, party *ctl)
{
    party node3;
    berth_hello *hello = NULL;
    uint8_t *frame, *reply;
    size_t len, rlen;
    berth_welcome w;
    berth_reject r;

    /* An unknown node key with no token: recorded for approval, refused. */
    party_make(&node3, BERTH_ROLE_NODE, "node-3", SEED_NODE3, -1);
    trust(&node3, &ctl->who, ctl->key.pk);
    fix(&node3, TIME_HELLO_APPROVAL, NONCE_HELLO_APPROVAL, EPH_HELLO_APPROV, NULL);
    berth_auth_hello(node3.auth, &ctl->who, NULL, &hello, &frame, &len);
    put_hex(vs, "hello-approval-frame", frame, len);
    fix(ctl, TIME_REFUSAL, NONCE_REFUSAL, 0, NULL);
    reply = NULL;
    r = berth_auth_accept(ctl->auth, frame, len, &reply, &rlen);
    ck_assert_msg(r == BERTH_REJECT_NOT_ADMITTED, "approval HELLO: %s", berth_reject_name(r));
    ck_assert_ptr_nonnull(reply);
    put_hex(vs, "welcome-refusal-frame", reply, rlen);
    fix(&node3, TIME_REFUSAL, 0, 0, NULL);
    r = berth_auth_hello_finish(node3.auth, hello, reply, rlen, &w);
    ck_assert_msg(r == BERTH_REJECT_NONE, "refusal dropped (%s)", berth_reject_name(r));
    ck_assert_int_eq(w.code, CODE_PERMISSION_DENIED);
    ck_assert_ptr_null(w.session);
    ck_assert_ptr_nonnull(strstr(w.message, "awaits operator approval"));
    berth_hello_free(hello);
    free(frame);
    free(reply);
    party_drop(&node3);
}

/* Key discovery: the question as a joining node writes it (fixed time,
 * counter and challenge), the controller's signed answer, and the
 * fingerprint berthd join compares. */
static void discovery(vector_set *vs, party *ctl)
{
    berth_frame_header h = { .version = BERTH_FRAME_VERSION,
                             .kind = BERTH_FRAME_DISCOVER,
                             .channel = BERTH_CHANNEL_RPC };
    uint8_t q[BERTH_DISCOVER_LEN], challenge[BERTH_DISCOVER_CHALLENGE_LEN], pk[BERTH_PUBKEY_LEN];
    char fp[BERTH_SHA256_FINGERPRINT_LEN];
    berth_principal who;
    uint8_t *reply = NULL;
    size_t rlen = 0;
    berth_reject r;

    memset(challenge, CHALLENGE_BYTE, sizeof(challenge));
    h.timestamp_ns = TIME_DISCOVER;
    h.counter = NONCE_DISCOVER;
    berth_frame_header_write(&h, q);
    memcpy(q + BERTH_FRAME_HEADER_LEN, challenge, sizeof(challenge));
    put_hex(vs, "discover-frame", q, sizeof(q));
    fix(ctl, TIME_DISCOVERED, NONCE_DISCOVERED, 0, NULL);
    r = berth_auth_discover(ctl->auth, q, sizeof(q), &reply, &rlen);
    ck_assert_msg(r == BERTH_REJECT_NONE, "DISCOVER: %s", berth_reject_name(r));
    put_hex(vs, "discovered-frame", reply, rlen);
    ck_assert_int_eq(berth_discover_answer(reply, rlen, challenge, &who, pk, NULL), 0);
    ck_assert_mem_eq(pk, ctl->key.pk, BERTH_PUBKEY_LEN);
    ck_assert_str_eq(who.name, "controller");
    put_text(vs, "controller-fingerprint", berth_key_sha256_fingerprint(pk, fp));
    free(reply);
}

static void inputs(vector_set *vs)
{
    static const struct {
        const char *name;
        uint8_t byte;
    } seeds[] = {
        { "input-seed-controller", SEED_CONTROLLER },
        { "input-seed-node-1", SEED_NODE1 },
        { "input-seed-node-1-next", SEED_NODE1_NEXT },
        { "input-seed-node-2", SEED_NODE2 },
        { "input-seed-node-3", SEED_NODE3 },
        { "input-ephemeral-hello", EPH_HELLO },
        { "input-ephemeral-welcome", EPH_WELCOME },
        { "input-ephemeral-hello-join", EPH_HELLO_JOIN },
        { "input-ephemeral-hello-rotate", EPH_HELLO_ROTATE },
        { "input-ephemeral-hello-approval", EPH_HELLO_APPROV },
        { "input-challenge-discover", CHALLENGE_BYTE },
    };
    static const struct {
        const char *name;
        uint64_t value;
    } words[] = {
        { "input-time-hello", (uint64_t)TIME_HELLO },
        { "input-nonce-hello", NONCE_HELLO },
        { "input-time-welcome", (uint64_t)TIME_WELCOME },
        { "input-nonce-welcome", NONCE_WELCOME },
        { "input-time-request", (uint64_t)TIME_REQUEST },
        { "input-time-response", (uint64_t)TIME_RESPONSE },
        { "input-time-events", (uint64_t)TIME_EVENTS },
        { "input-nonce-events", NONCE_EVENTS },
        { "input-nonce-events-broadcast", NONCE_EVENTS_ALL },
        { "input-time-stream", (uint64_t)TIME_STREAM },
        { "input-time-survey", (uint64_t)TIME_SURVEY },
        { "input-nonce-survey", NONCE_SURVEY },
        { "input-time-survey-reply", (uint64_t)TIME_SURVEY_REPLY },
        { "input-time-hello-join", (uint64_t)TIME_HELLO_JOIN },
        { "input-nonce-hello-join", NONCE_HELLO_JOIN },
        { "input-time-hello-rotate", (uint64_t)TIME_HELLO_ROTATE },
        { "input-nonce-hello-rotate", NONCE_HELLO_ROTATE },
        { "input-time-hello-approval", (uint64_t)TIME_HELLO_APPROVAL },
        { "input-nonce-hello-approval", NONCE_HELLO_APPROVAL },
        { "input-time-refusal", (uint64_t)TIME_REFUSAL },
        { "input-nonce-refusal", NONCE_REFUSAL },
        { "input-time-discover", (uint64_t)TIME_DISCOVER },
        { "input-nonce-discover", NONCE_DISCOVER },
        { "input-time-discovered", (uint64_t)TIME_DISCOVERED },
        { "input-nonce-discovered", NONCE_DISCOVERED },
    };
    uint8_t b[32];

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(seeds); i++) {
        seed_of(seeds[i].byte, b);
        put_hex(vs, seeds[i].name, b, sizeof(b));
    }
    put_hex(vs, "input-session-id", SESSION_ID, sizeof(SESSION_ID));
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(words); i++)
        put_be64(vs, words[i].name, words[i].value);
}

/* Every vector, in the order the document gives them. */
static void compute(vector_set *vs)
{
    party ctl, node1;
    berth_session *node_side = NULL, *ctl_side = NULL;

    inputs(vs);
    party_make(&ctl, BERTH_ROLE_CONTROLLER, "controller", SEED_CONTROLLER, -1);
    party_make(&node1, BERTH_ROLE_NODE, "node-1", SEED_NODE1, -1);
    trust(&ctl, &node1.who, node1.key.pk);
    trust(&node1, &ctl.who, ctl.key.pk);
    identities(vs, &ctl, &node1);
    handshake(vs, &ctl, &node1, &node_side, &ctl_side);
    discovery(vs, &ctl);
    rpc_call(vs, &ctl, &node1, node_side, ctl_side);
    events(vs, &ctl, &node1);
    stream(vs, &ctl, &node1, node_side);
    survey(vs, &ctl, &node1, node_side);
    join(vs, &ctl);
    rotate(vs, &ctl);
    refusal(vs, &ctl);
    party_drop(&node1);
    party_drop(&ctl);
}

/* ---- the document ---- */

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Append the hex digits of line (spaces allowed) to v; false on anything
 * else or an odd digit count at the end (checked by the caller). */
static bool hex_append(vector *v, const char *s, size_t n, size_t *digits, int *pending)
{
    for (size_t i = 0; i < n; i++) {
        int d = hexval(s[i]);

        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')
            continue;
        if (d < 0)
            return false;
        if (*digits % 2 == 0) {
            *pending = d;
        } else {
            v->data = berth_xreallocarray(v->data, v->len + 1, 1);
            v->data[v->len++] = (uint8_t)(*pending << 4 | d);
        }
        (*digits)++;
    }
    return true;
}

/* Take a copy of the vector name in line (after "vector: ", trailing
 * blanks dropped) into doc. */
static vector *doc_add(vector_set *doc, const char *name, size_t len, int lineno)
{
    char buf[VECTOR_NAME_MAX];

    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\r'))
        len--;
    ck_assert_msg(len > 0 && len < VECTOR_NAME_MAX, "PROTOCOL.md:%d: bad vector name", lineno);
    memcpy(buf, name, len);
    buf[len] = '\0';
    ck_assert_msg(!set_find(doc, buf), "PROTOCOL.md:%d: vector %s given twice", lineno, buf);
    return set_add(doc, buf, len);
}

/* One fenced block (text of len bytes, its first line at lineno): a
 * vector when its first line is "vector: NAME", then "hex: ..."
 * (continued on the following lines) or "text: ..." (one line). Other
 * blocks are not ours, but none of their lines may look like a vector's. */
static void parse_block(vector_set *doc, const char *block, size_t len, int lineno)
{
    const char *line = block, *end = block + len;
    size_t digits = 0;
    int pending = 0;
    vector *v = NULL;
    enum { NONE, HEX, TEXT } mode = NONE;

    for (int n = lineno; line < end; n++) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);

        if (n == lineno && ll > 8 && strncmp(line, "vector: ", 8) == 0) {
            v = doc_add(doc, line + 8, ll - 8, n);
        } else if (!v) {
            ck_assert_msg(!(ll >= 7 && strncmp(line, "vector:", 7) == 0),
                          "PROTOCOL.md:%d: 'vector:' must be the first line of its block", n);
        } else if (n == lineno + 1 && ll >= 4 && strncmp(line, "hex:", 4) == 0) {
            mode = HEX;
            ck_assert_msg(hex_append(v, line + 4, ll - 4, &digits, &pending),
                          "PROTOCOL.md:%d: vector %s: not hex", n, v->name);
        } else if (n == lineno + 1 && ll >= 6 && strncmp(line, "text: ", 6) == 0) {
            mode = TEXT;
            v->text = true;
            v->data = (uint8_t *)berth_xstrndup(line + 6, ll - 6);
            v->len = ll - 6;
        } else if (mode == HEX) {
            ck_assert_msg(hex_append(v, line, ll, &digits, &pending),
                          "PROTOCOL.md:%d: vector %s: not hex", n, v->name);
        } else {
            ck_assert_msg(blank(line, ll), "PROTOCOL.md:%d: vector %s: unexpected line", n,
                          v->name);
        }
        line = nl ? nl + 1 : end;
    }
    if (v) {
        ck_assert_msg(mode != NONE, "PROTOCOL.md:%d: vector %s: no hex: or text: line", lineno,
                      v->name);
        ck_assert_msg(mode != HEX || (digits > 0 && digits % 2 == 0),
                      "PROTOCOL.md:%d: vector %s: odd or no hex digits", lineno, v->name);
    }
}

/* Every vector block of the document. */
static void parse_doc(vector_set *doc)
{
    char *text = NULL;
    size_t len = 0;
    berth_error *err = NULL;
    const char *p, *end, *block = NULL;
    int lineno = 0, block_line = 0;

    ck_assert_msg(berth_read_file_at(AT_FDCWD, PROTOCOL_DOC, DOC_MAX, &text, &len, &err) == 0, "%s",
                  err ? err->msg : "read " PROTOCOL_DOC);
    p = text;
    end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;

        lineno++;
        if ((size_t)(end - p) >= 3 && strncmp(p, "```", 3) == 0) {
            if (!block) {
                block = next;
                block_line = lineno + 1;
            } else {
                parse_block(doc, block, (size_t)(p - block), block_line);
                block = NULL;
            }
        }
        p = next;
    }
    ck_assert_msg(!block, "PROTOCOL.md:%d: a fenced block is not closed", block_line - 1);
    free(text);
}

static void hex_of(const uint8_t *p, size_t n, char *out, size_t size)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k + 3 < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%02x", p[i]);
    if (k + 3 < size || n == 0)
        return;
    memcpy(out + size - 4, "...", 4);
}

START_TEST(document_vectors_are_what_lib_rpc_computes)
{
    vector_set doc = { 0 }, got = { 0 };
    char problems[4096] = "", a[100], b[100];
    size_t used = 0;

#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        if (used < sizeof(problems))                                                               \
            used += (size_t)snprintf(problems + used, sizeof(problems) - used, __VA_ARGS__);       \
    } while (0)

    compute(&got);
    if (getenv("BERTH_PRINT_VECTORS")) {
        for (size_t i = 0; i < got.n; i++)
            print_vector(&got.v[i]);
        fflush(stdout);
    }
    parse_doc(&doc);
    for (size_t i = 0; i < doc.n; i++) {
        vector *d = &doc.v[i], *g = set_find(&got, d->name);

        if (!g) {
            PROBLEM("\n  %s: in the document, unknown to this test", d->name);
            continue;
        }
        g->matched = true;
        if (g->text != d->text) {
            PROBLEM("\n  %s: the document gives %s, expected %s", d->name, d->text ? "text" : "hex",
                    g->text ? "text" : "hex");
        } else if (g->len != d->len || memcmp(g->data, d->data, g->len) != 0) {
            if (g->text) {
                PROBLEM("\n  %s: document '%.80s', computed '%.80s'", d->name,
                        (const char *)d->data, (const char *)g->data);
            } else {
                size_t at = 0;

                while (at < d->len && at < g->len && d->data[at] == g->data[at])
                    at++;
                hex_of(d->data + at, d->len - at, a, sizeof(a));
                hex_of(g->data + at, g->len - at, b, sizeof(b));
                PROBLEM("\n  %s: from byte %zu on, the document has %s (%zu bytes in all), "
                        "lib/rpc makes %s (%zu bytes)",
                        d->name, at, a, d->len, b, g->len);
            }
        }
    }
    for (size_t i = 0; i < got.n; i++)
        if (!got.v[i].matched)
            PROBLEM("\n  %s: missing from the document", got.v[i].name);
    ck_assert_msg(used == 0, "%s does not match lib/rpc:%s", PROTOCOL_DOC, problems);
    set_free(&doc);
    set_free(&got);
#undef PROBLEM
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc-protocol-vectors");
    TCase *tc = tcase_create("vectors");

    tcase_add_test(tc, document_vectors_are_what_lib_rpc_computes);
    suite_add_tcase(s, tc);
    return s;
}
