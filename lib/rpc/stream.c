/* Sequence-numbered PUSH/PULL. */
#include "stream.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "envelope.h"
#include "sock.h"
#include "table.h"
#include "typed.h"

#define MAX_STREAMS    65536
#define STREAM_IDLE_NS ((int64_t)3600 * BERTH_NSEC_PER_SEC)

struct berth_stream_push {
    berth_auth *auth;
    berth_principal receiver;
    berth_nnsock sock;
    uint64_t epoch, seq;
    berth_stream_push_stats stats;
};

typedef struct stream_state {
    uint64_t next; /* the seq expected next */
    int64_t last;  /* monotonic time of the last item */
} stream_state;

struct berth_stream_pull {
    berth_auth *auth;
    berth_nnsock sock;
    berth_table *streams; /* (sender id, epoch) -> stream_state */
    berth_typed handlers;
    berth_stream_pull_stats stats;
};

int berth_stream_push_new(berth_loop *loop, berth_auth *auth, const berth_principal *receiver,
                          berth_stream_push **ret_push, berth_error **err)
{
    berth_stream_push *p = berth_xcalloc(1, sizeof(*p));

    p->auth = auth;
    p->receiver = *receiver;
    do /* 0 is "no stream" in ReportStatusRequest.stream_epoch */
        randombytes_buf(&p->epoch, sizeof(p->epoch));
    while (p->epoch == 0);
    if (berth_nnsock_open(&p->sock, loop, AF_SP, NN_PUSH, NULL, err) < 0) {
        free(p);
        return -1;
    }
    *ret_push = p;
    return 0;
}

void berth_stream_push_free(berth_stream_push *p)
{
    if (!p)
        return;
    berth_nnsock_close(&p->sock);
    free(p);
}

int berth_stream_push_connect(berth_stream_push *p, const char *addr, berth_error **err)
{
    return berth_nnsock_connect(&p->sock, addr, err);
}

int berth_stream_push_send(berth_stream_push *p, const ProtobufCMessage *msg, uint64_t *ret_seq,
                           berth_error **err)
{
    Envelope env = ENVELOPE_INIT;
    _cleanup_free_ uint8_t *frame = NULL;
    berth_session *s;
    size_t len, flen;

    env.kind = FRAME_KIND_STREAM;
    env.method = (char *)msg->descriptor->name;
    env.seq = ++p->seq;
    env.stream_epoch = p->epoch;
    if (ret_seq)
        *ret_seq = env.seq;
    s = berth_auth_session_latest(p->auth, p->receiver.id);
    if (!s) {
        p->stats.lost++;
        return berth_error_set(err, ENOTCONN, "stream item %llu: no session with %s %s yet",
                               (unsigned long long)env.seq, berth_role_name(p->receiver.role),
                               p->receiver.name);
    }
    if (berth_envelope_frame(&env, msg, &frame, &len, err) < 0) {
        p->stats.lost++;
        return berth_error_prefix(err, "stream item %llu", (unsigned long long)env.seq);
    }
    flen = berth_auth_seal(p->auth, s, BERTH_CHANNEL_STREAM, frame, len);
    if (berth_nnsock_send(&p->sock, frame, flen, NULL, 0, err) < 0) {
        p->stats.lost++;
        return berth_error_prefix(err, "stream item %llu", (unsigned long long)env.seq);
    }
    p->stats.pushed++;
    return 0;
}

const berth_stream_push_stats *berth_stream_push_stats_of(const berth_stream_push *p)
{
    return &p->stats;
}

void berth_stream_push_position(const berth_stream_push *p, uint64_t *ret_epoch, uint64_t *ret_seq)
{
    *ret_epoch = p->epoch;
    *ret_seq = p->seq;
}

static bool idle_stream_cb(void *value, const void *key, void *data)
{
    stream_state *st = value;
    int64_t now = *(int64_t *)data;

    (void)key;
    if (now - st->last < STREAM_IDLE_NS)
        return false;
    free(st);
    return true;
}

/* The state of (sender, epoch), created on first sight. NULL when out of
 * room: the item is then delivered without gap detection. */
static stream_state *stream_of(berth_stream_pull *p, const uint8_t sender[BERTH_ID_LEN],
                               uint64_t epoch, int64_t now)
{
    uint8_t key[BERTH_ID_LEN + 8];
    stream_state *st;

    memcpy(key, sender, BERTH_ID_LEN);
    memcpy(key + BERTH_ID_LEN, &epoch, 8);
    st = berth_table_get(p->streams, key);
    if (st)
        return st;
    if (berth_table_size(p->streams) >= MAX_STREAMS)
        berth_table_sweep(p->streams, idle_stream_cb, &now);
    if (berth_table_size(p->streams) >= MAX_STREAMS)
        return NULL;
    st = berth_xcalloc(1, sizeof(*st));
    /* A new run is expected from 1: a first item with a higher number
     * means the ones before it were lost. */
    st->next = 1;
    berth_table_put(p->streams, key, st);
    return st;
}

static void pull_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr,
                         size_t hdr_len)
{
    berth_stream_pull *p = berth_container_of(ns, berth_stream_pull, sock);
    berth_expect x = { .channel = BERTH_CHANNEL_STREAM, .kind = BERTH_FRAME_SEALED };
    const berth_typed_entry *h;
    berth_stream_item item = { 0 };
    berth_principal from;
    berth_opened o;
    Envelope *env;
    ProtobufCMessage *body;
    stream_state *st;
    int64_t now = berth_now_mono_ns();

    (void)hdr;
    (void)hdr_len;
    if (berth_auth_open(p->auth, &x, msg, len, &o) != BERTH_REJECT_NONE)
        return;
    from = *o.peer;
    env = berth_envelope_decode(p->auth, o.payload, o.payload_len);
    if (!env || env->kind != FRAME_KIND_STREAM || env->seq == 0) {
        p->stats.invalid++;
        if (env)
            envelope_free_unpacked(env, NULL);
        return;
    }
    item.from = &from;
    item.epoch = env->stream_epoch;
    item.seq = env->seq;
    st = stream_of(p, from.id, env->stream_epoch, now);
    if (st) {
        if (env->seq < st->next) {
            p->stats.out_of_order++;
            envelope_free_unpacked(env, NULL);
            return;
        }
        item.missed = env->seq - st->next;
        st->next = env->seq + 1;
        st->last = now;
        if (item.missed) {
            p->stats.gaps++;
            p->stats.missed += item.missed;
        }
    }
    h = berth_typed_find(&p->handlers, env->method);
    if (!h) {
        p->stats.unknown_type++;
        envelope_free_unpacked(env, NULL);
        return;
    }
    body = berth_pb_unpack(h->type, env->body.data, env->body.len);
    envelope_free_unpacked(env, NULL);
    if (!body) {
        p->stats.invalid++;
        return;
    }
    p->stats.delivered++;
    ((berth_stream_fn)h->fn)(&item, body, h->data);
    berth_pb_free(body);
}

int berth_stream_pull_new(berth_loop *loop, berth_auth *auth, berth_stream_pull **ret_pull,
                          berth_error **err)
{
    berth_stream_pull *p = berth_xcalloc(1, sizeof(*p));

    p->auth = auth;
    p->streams = berth_table_new(BERTH_ID_LEN + 8);
    if (berth_nnsock_open(&p->sock, loop, AF_SP, NN_PULL, pull_on_recv, err) < 0) {
        berth_table_free(p->streams);
        free(p);
        return -1;
    }
    *ret_pull = p;
    return 0;
}

static bool free_stream_cb(void *value, const void *key, void *data)
{
    (void)key;
    (void)data;
    free(value);
    return true;
}

void berth_stream_pull_free(berth_stream_pull *p)
{
    if (!p)
        return;
    berth_nnsock_close(&p->sock);
    berth_table_sweep(p->streams, free_stream_cb, NULL);
    berth_table_free(p->streams);
    berth_typed_clear(&p->handlers);
    free(p);
}

int berth_stream_pull_bind(berth_stream_pull *p, const char *addr, berth_error **err)
{
    return berth_nnsock_bind(&p->sock, addr, err);
}

int berth_stream_pull_on(berth_stream_pull *p, const ProtobufCMessageDescriptor *type,
                         berth_stream_fn fn, void *data, berth_error **err)
{
    return berth_typed_add(&p->handlers, type, (berth_typed_fn)fn, data, err);
}

const berth_stream_pull_stats *berth_stream_pull_stats_of(const berth_stream_pull *p)
{
    return &p->stats;
}
