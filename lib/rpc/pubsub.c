/* Signed wake-ups over PUB/SUB. */
#include "pubsub.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "envelope.h"
#include "sock.h"
#include "typed.h"

struct berth_events_pub {
    berth_auth *auth;
    berth_nnsock sock;
};

struct berth_events_sub {
    berth_auth *auth;
    berth_principal publisher;
    berth_nnsock sock;
    berth_typed handlers;
    berth_events_sub_stats stats;
};

int berth_events_pub_new(berth_loop *loop, berth_auth *auth, berth_events_pub **ret_pub,
                         berth_error **err)
{
    berth_events_pub *pub = berth_xcalloc(1, sizeof(*pub));

    pub->auth = auth;
    if (berth_nnsock_open(&pub->sock, loop, AF_SP, NN_PUB, NULL, err) < 0) {
        free(pub);
        return -1;
    }
    *ret_pub = pub;
    return 0;
}

void berth_events_pub_free(berth_events_pub *pub)
{
    if (!pub)
        return;
    berth_nnsock_close(&pub->sock);
    free(pub);
}

int berth_events_pub_bind(berth_events_pub *pub, const char *addr, berth_error **err)
{
    return berth_nnsock_bind(&pub->sock, addr, err);
}

int berth_events_publish(berth_events_pub *pub, const uint8_t to[BERTH_ID_LEN],
                         const ProtobufCMessage *msg, berth_error **err)
{
    Envelope env = ENVELOPE_INIT;
    _cleanup_free_ uint8_t *frame = NULL;
    size_t len, flen;

    env.kind = FRAME_KIND_EVENT;
    env.method = (char *)msg->descriptor->name;
    if (berth_envelope_frame(&env, msg, &frame, &len, err) < 0)
        return berth_error_prefix(err, "publish");
    flen = berth_auth_sign(pub->auth, BERTH_CHANNEL_EVENTS, to, frame, len);
    return berth_nnsock_send(&pub->sock, frame, flen, NULL, 0, err);
}

static void sub_on_recv(berth_nnsock *ns, uint8_t *msg, size_t len, const void *hdr, size_t hdr_len)
{
    berth_events_sub *sub = berth_container_of(ns, berth_events_sub, sock);
    berth_expect x = { .channel = BERTH_CHANNEL_EVENTS,
                       .kind = BERTH_FRAME_SIGNED,
                       .sender = sub->publisher.id,
                       .broadcast_ok = true };
    const berth_typed_entry *h;
    berth_principal from;
    berth_opened o;
    Envelope *env;
    ProtobufCMessage *body;

    (void)hdr;
    (void)hdr_len;
    if (berth_auth_open(sub->auth, &x, msg, len, &o) != BERTH_REJECT_NONE)
        return;
    from = *o.peer;
    env = berth_envelope_decode(sub->auth, o.payload, o.payload_len);
    if (!env || env->kind != FRAME_KIND_EVENT) {
        sub->stats.invalid++;
        if (env)
            envelope_free_unpacked(env, NULL);
        return;
    }
    h = berth_typed_find(&sub->handlers, env->method);
    if (!h) {
        sub->stats.unknown_type++;
        envelope_free_unpacked(env, NULL);
        return;
    }
    body = berth_pb_unpack(h->type, env->body.data, env->body.len);
    envelope_free_unpacked(env, NULL);
    if (!body) {
        sub->stats.invalid++;
        return;
    }
    sub->stats.delivered++;
    ((berth_event_fn)h->fn)(&from, body, h->data);
    berth_pb_free(body);
}

int berth_events_sub_new(berth_loop *loop, berth_auth *auth, const berth_principal *publisher,
                         berth_events_sub **ret_sub, berth_error **err)
{
    berth_events_sub *sub = berth_xcalloc(1, sizeof(*sub));
    uint8_t prefix[4 + BERTH_ID_LEN] = { BERTH_FRAME_VERSION, BERTH_FRAME_SIGNED,
                                         BERTH_CHANNEL_EVENTS, 0 };

    sub->auth = auth;
    sub->publisher = *publisher;
    if (berth_nnsock_open(&sub->sock, loop, AF_SP, NN_SUB, sub_on_recv, err) < 0) {
        free(sub);
        return -1;
    }
    /* Topic = the frame's first bytes up to its recipient: ours, and
     * every node's. */
    memcpy(prefix + 4, berth_auth_self(auth)->id, BERTH_ID_LEN);
    if (berth_nnsock_subscribe(&sub->sock, prefix, sizeof(prefix), err) < 0)
        goto fail;
    memcpy(prefix + 4, berth_id_broadcast, BERTH_ID_LEN);
    if (berth_nnsock_subscribe(&sub->sock, prefix, sizeof(prefix), err) < 0)
        goto fail;
    *ret_sub = sub;
    return 0;

fail:
    berth_events_sub_free(sub);
    return -1;
}

void berth_events_sub_free(berth_events_sub *sub)
{
    if (!sub)
        return;
    berth_nnsock_close(&sub->sock);
    berth_typed_clear(&sub->handlers);
    free(sub);
}

int berth_events_sub_connect(berth_events_sub *sub, const char *addr, berth_error **err)
{
    return berth_nnsock_connect(&sub->sock, addr, err);
}

int berth_events_sub_on(berth_events_sub *sub, const ProtobufCMessageDescriptor *type,
                        berth_event_fn fn, void *data, berth_error **err)
{
    return berth_typed_add(&sub->handlers, type, (berth_typed_fn)fn, data, err);
}

const berth_events_sub_stats *berth_events_sub_stats_of(const berth_events_sub *sub)
{
    return &sub->stats;
}
