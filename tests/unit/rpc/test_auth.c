/* The authentication layer without sockets: handshakes (admitted, awaiting
 * approval, join tokens, rotation, impostors) and every rejection path of
 * sealed and signed frames, each counted under its reason and never
 * handing back a payload. */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "rpc/auth-internal.h"
#include "rpc/envelope.h"
#include "rpc_test_util.h"

/* Allocation that fails on demand: this binary's malloc, calloc and
 * realloc stand in front of glibc's. Not under AddressSanitizer, whose
 * allocator they would bypass (the test is left out there). */
#ifndef __SANITIZE_ADDRESS__
#define BERTH_TEST_FAILING_MALLOC 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
static volatile int fail_allocations;

void *malloc(size_t size)
{
    return fail_allocations ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return fail_allocations ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    return fail_allocations ? NULL : __libc_realloc(p, size);
}
#endif

static test_party ctl, n1;
/* Buffers whose plaintext a test still looks at; freed at teardown. */
static uint8_t *kept[16];
static size_t n_kept;

static void setup(void)
{
    party_init(&ctl, BERTH_ROLE_CONTROLLER, "ctl");
    party_init(&n1, BERTH_ROLE_NODE, "n1");
    party_trust(&n1, &ctl); /* the pinned controller key */
}

static void teardown(void)
{
    while (n_kept > 0)
        free(kept[--n_kept]);
    party_free(&ctl);
    party_free(&n1);
}

/* Run a handshake from client to server; returns the welcome code (-1 when
 * the server gave no answer or the client dropped it) and the message. */
static int handshake(test_party *client, test_party *server, const berth_join_token *tok, char *msg,
                     size_t msg_size, berth_reject *ret_server_verdict)
{
    berth_hello *h = NULL;
    uint8_t *hello = NULL, *reply = NULL;
    size_t hlen = 0, rlen = 0;
    berth_welcome w;
    berth_reject r;
    int code = -1;

    berth_auth_hello(client->auth, &server->who, tok, &h, &hello, &hlen);
    r = berth_auth_accept(server->auth, hello, hlen, &reply, &rlen);
    if (ret_server_verdict)
        *ret_server_verdict = r;
    if (reply && berth_auth_hello_finish(client->auth, h, reply, rlen, &w) == BERTH_REJECT_NONE) {
        code = w.code;
        if (msg)
            snprintf(msg, msg_size, "%s", w.message);
    }
    free(hello);
    free(reply);
    berth_hello_free(h);
    return code;
}

static uint64_t rejected(test_party *p, berth_reject r)
{
    return berth_auth_stats_of(p->auth)->rejected[r];
}

/* A sealed frame from client to server on channel ch, timestamped ts. */
static uint8_t *seal(test_party *from, test_party *to, berth_channel ch, const char *text,
                     int64_t ts, size_t *ret_len)
{
    berth_session *s = berth_auth_session_with(from->auth, to->who.id);
    size_t plen = strlen(text);
    uint8_t *frame = berth_frame_buffer(plen);

    ck_assert_ptr_nonnull(s);
    memcpy(frame + BERTH_FRAME_HEADER_LEN, text, plen);
    *ret_len = berth_auth_seal_at(from->auth, s, ch, frame, plen, ts);
    return frame;
}

/* Open a copy of frame at the server as an rpc request. */
static berth_reject open_at(test_party *p, berth_channel ch, berth_frame_kind kind,
                            const uint8_t *frame, size_t len, bool dup_ok, berth_opened *o)
{
    berth_expect x = { .channel = ch, .kind = kind, .duplicates_ok = dup_ok, .broadcast_ok = true };
    uint8_t *copy = malloc(len ? len : 1);
    berth_opened tmp;
    berth_reject r;

    memcpy(copy, frame, len);
    r = berth_auth_open(p->auth, &x, copy, len, o ? o : &tmp);
    if (r == BERTH_REJECT_NONE && o && n_kept < BERTH_ARRAY_SIZE(kept))
        kept[n_kept++] = copy; /* o->payload points into it */
    else
        free(copy);
    return r;
}

/* One key, many clients (an operator's berthctl in two terminals): a
 * session in use outlives the handshakes of others under the same key,
 * however many; the least recently used goes first. */
START_TEST(a_busy_session_outlives_its_peers_new_ones)
{
    uint8_t *f[3];
    size_t len[3];

    party_trust(&ctl, &n1);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    for (int i = 0; i < 3; i++)
        f[i] = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "busy", berth_now_real_ns(), &len[i]);
    for (int round = 0; round < 3; round++) {
        /* ten one-shot clients, then the busy one speaks */
        for (int k = 0; k < 10; k++)
            ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
        ck_assert_int_eq(
            open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f[round], len[round], false, NULL),
            BERTH_REJECT_NONE);
    }
    /* idle, it goes once more than PEER_ACCEPTED_MAX (64) come after it */
    for (int k = 0; k < 64; k++)
        ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f[2], len[2], true, NULL),
                     BERTH_REJECT_UNKNOWN_KEY);
    for (int i = 0; i < 3; i++)
        free(f[i]);
}
END_TEST

START_TEST(handshake_makes_a_session_both_ways)
{
    berth_opened o;
    uint8_t *f;
    size_t len;

    party_trust(&ctl, &n1);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(n1.auth)->sessions_made, 1);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->sessions_made, 1);

    f = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "hello controller", berth_now_real_ns(), &len);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, &o),
                     BERTH_REJECT_NONE);
    ck_assert_str_eq(o.peer->name, "n1");
    ck_assert_int_eq(o.peer->role, BERTH_ROLE_NODE);
    ck_assert_uint_eq(o.payload_len, strlen("hello controller"));
    ck_assert_mem_eq(o.payload, "hello controller", o.payload_len);
    free(f);

    /* and back, under the same session */
    {
        berth_session *s = o.session;
        size_t plen = 5;
        uint8_t *r = berth_frame_buffer(plen);

        memcpy(r + BERTH_FRAME_HEADER_LEN, "hello", plen);
        len = berth_auth_seal(ctl.auth, s, BERTH_CHANNEL_RPC, r, plen);
        ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, r, len, false, &o),
                         BERTH_REJECT_NONE);
        ck_assert_str_eq(o.peer->name, "ctl");
        free(r);
    }
}
END_TEST

START_TEST(unknown_node_key_awaits_approval)
{
    char msg[256], want[256], fp[BERTH_FINGERPRINT_LEN];
    berth_principal who[4];
    berth_error *err = NULL;
    berth_reject r;

    ck_assert_int_eq(handshake(&n1, &ctl, NULL, msg, sizeof(msg), &r), CODE_PERMISSION_DENIED);
    ck_assert_int_eq(r, BERTH_REJECT_NOT_ADMITTED);
    berth_key_fingerprint(n1.key.pk, fp);
    snprintf(want, sizeof(want),
             "node n1: key %s awaits operator approval (berthctl node approve n1 "
             "--fingerprint %s)",
             fp, fp);
    ck_assert_str_eq(msg, want);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_NOT_ADMITTED), 1);
    ck_assert_uint_eq(berth_auth_session_count(ctl.auth), 0);
    ck_assert_ptr_null(berth_auth_session_with(n1.auth, ctl.who.id));
    ck_assert_uint_eq(berth_policy_memory_pending(ctl.policy, who, NULL, 4), 1);
    ck_assert_str_eq(who[0].name, "n1");

    ck_assert_int_eq(berth_policy_memory_approve(ctl.policy, "n1", NULL, &err), 0);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_ptr_nonnull(berth_auth_session_with(n1.auth, ctl.who.id));
    ck_assert_uint_eq(berth_policy_memory_pending(ctl.policy, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(join_token_enrolls_one_key_once)
{
    berth_join_token tok, wrong;
    test_party n2;
    berth_error *err = NULL;
    char msg[256], want[256], tid[13];

    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, 0, &err), 0);
    ck_assert_int_eq(handshake(&n1, &ctl, &tok, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_enrolled, 1);
    /* n1 is known now: later handshakes need no token */
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);

    /* the same token does not admit a second node */
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    party_trust(&n2, &ctl);
    memcpy(tid, berth_join_token_format(&tok, (char[BERTH_TOKEN_TEXT_LEN]){ 0 }), 12);
    tid[12] = '\0';
    snprintf(want, sizeof(want), "join token %s is unknown, used, expired or wrong", tid);
    ck_assert_int_eq(handshake(&n2, &ctl, &tok, msg, sizeof(msg), NULL), CODE_PERMISSION_DENIED);
    ck_assert_str_eq(msg, want);

    /* a live token with the wrong secret admits nobody either */
    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, 0, &err), 0);
    wrong = tok;
    wrong.secret[0] ^= 1;
    ck_assert_int_eq(handshake(&n2, &ctl, &wrong, msg, sizeof(msg), NULL), CODE_PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(msg, "is unknown, used, expired or wrong"));
    /* ... and did not burn the token */
    ck_assert_int_eq(handshake(&n2, &ctl, &tok, NULL, 0, NULL), CODE_OK);
    /* an expired token is refused */
    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, berth_now_real_ns() - 1, &err),
                     0);
    party_free(&n2);
    party_init(&n2, BERTH_ROLE_NODE, "n3");
    party_trust(&n2, &ctl);
    ck_assert_int_eq(handshake(&n2, &ctl, &tok, NULL, 0, NULL), CODE_PERMISSION_DENIED);
    party_free(&n2);
}
END_TEST

/* A HELLO whose ephemeral key is a low-order point (here 0) has no key
 * agreement: it is dropped before anything is admitted, so a node that
 * holds the token cannot burn it for nothing (what a review found). */
START_TEST(a_low_order_ephemeral_burns_no_token)
{
    static const char label[] = "berth-join-v1";
    berth_join_token tok;
    berth_error *err = NULL;
    berth_hello *h = NULL;
    uint8_t *hello = NULL, *reply = NULL, tsb[8];
    size_t hlen = 0, rlen = 0, off;
    crypto_generichash_state st;

    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, 0, &err), 0);
    berth_auth_hello(n1.auth, &ctl.who, &tok, &h, &hello, &hlen);
    /* role, name length, name, key, then the ephemeral key */
    off = BERTH_FRAME_HEADER_LEN + 2 + strlen(n1.who.name) + 32;
    memset(hello + off, 0, 32);
    /* the proof over it, as a token holder would make it */
    memcpy(tsb, hello + 44, 8);
    crypto_generichash_init(&st, tok.secret, BERTH_TOKEN_SECRET_LEN, 32);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label) - 1);
    crypto_generichash_update(&st, n1.who.id, BERTH_ID_LEN);
    crypto_generichash_update(&st, n1.key.pk, 32);
    crypto_generichash_update(&st, hello + off, 32);
    crypto_generichash_update(&st, tsb, sizeof(tsb));
    crypto_generichash_final(&st, hello + off + 32 + 1 + BERTH_TOKEN_ID_LEN, 32);
    berth_frame_sign(hello, hlen - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN, n1.key.sk);
    ck_assert_int_eq(berth_auth_accept(ctl.auth, hello, hlen, &reply, &rlen),
                     BERTH_REJECT_MALFORMED);
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_enrolled, 0);
    free(hello);
    berth_hello_free(h);
    /* the token still admits the node, with a proper handshake */
    ck_assert_int_eq(handshake(&n1, &ctl, &tok, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_enrolled, 1);
}
END_TEST

/* Key discovery: the controller says who it is, signed with the key it
 * sends; an answer changed on the way, or to another question, is not
 * believed; a malformed question gets nothing; strangers' questions cost
 * a signature each only within the budget. */
START_TEST(discovery_names_the_controller_and_its_key)
{
    uint8_t q[BERTH_DISCOVER_LEN], challenge[BERTH_DISCOVER_CHALLENGE_LEN], *reply = NULL;
    uint8_t pk[BERTH_PUBKEY_LEN], other[BERTH_DISCOVER_CHALLENGE_LEN];
    berth_principal who;
    berth_error *err = NULL;
    size_t rlen = 0;
    int answered = 0;

    berth_discover_request(q, challenge);
    ck_assert_int_eq(berth_auth_discover(ctl.auth, q, sizeof(q), &reply, &rlen), BERTH_REJECT_NONE);
    ck_assert_int_eq(berth_discover_answer(reply, rlen, challenge, &who, pk, &err), 0);
    ck_assert_str_eq(who.name, ctl.who.name);
    ck_assert_int_eq(who.role, BERTH_ROLE_CONTROLLER);
    ck_assert(berth_id_eq(who.id, ctl.who.id));
    ck_assert_mem_eq(pk, ctl.key.pk, BERTH_PUBKEY_LEN);
    /* another question's answer */
    memcpy(other, challenge, sizeof(other));
    other[0] ^= 1;
    ck_assert_berth_error(berth_discover_answer(reply, rlen, other, &who, pk, &err), err,
                          "the answer is not to our question");
    /* a key swapped on the way: the signature does not follow */
    {
        berth_keypair k;

        ck_assert_int_eq(berth_keypair_generate(&k, NULL), 0);
        memcpy(reply + rlen - BERTH_FRAME_SIG_LEN - BERTH_PUBKEY_LEN, k.pk, BERTH_PUBKEY_LEN);
        ck_assert_int_lt(berth_discover_answer(reply, rlen, challenge, &who, pk, &err), 0);
        berth_error_free(&err);
    }
    free(reply);
    reply = NULL;
    /* malformed questions: no answer */
    ck_assert_int_eq(berth_auth_discover(ctl.auth, q, sizeof(q) - 1, &reply, &rlen),
                     BERTH_REJECT_MALFORMED);
    q[1] = BERTH_FRAME_HELLO;
    ck_assert_int_eq(berth_auth_discover(ctl.auth, q, sizeof(q), &reply, &rlen),
                     BERTH_REJECT_UNEXPECTED);
    ck_assert_ptr_null(reply);
    /* a burst of questions: the strangers' budget (20 a second) */
    for (int i = 0; i < 100; i++) {
        berth_discover_request(q, challenge);
        if (berth_auth_discover(ctl.auth, q, sizeof(q), &reply, &rlen) == BERTH_REJECT_NONE)
            answered++;
        free(reply);
        reply = NULL;
    }
    ck_assert_int_le(answered, 40);
    ck_assert_uint_ge(rejected(&ctl, BERTH_REJECT_THROTTLED), 60);
}
END_TEST

START_TEST(nobody_can_handshake_as_the_controller)
{
    test_party fake, other;
    char msg[256];
    berth_reject r;

    /* A node that claims the controller's own identity is refused outright. */
    party_init(&fake, BERTH_ROLE_CONTROLLER, "ctl");
    party_trust(&fake, &ctl);
    ck_assert_int_eq(handshake(&fake, &ctl, NULL, NULL, 0, &r), -1);
    ck_assert_int_eq(r, BERTH_REJECT_FORBIDDEN);
    /* Another controller identity with an unknown key: not admitted, and
     * never put up for approval (only node keys are). */
    party_init(&other, BERTH_ROLE_CONTROLLER, "ctl2");
    party_trust(&other, &ctl);
    ck_assert_int_eq(handshake(&other, &ctl, NULL, msg, sizeof(msg), &r), CODE_PERMISSION_DENIED);
    ck_assert_int_eq(r, BERTH_REJECT_NOT_ADMITTED);
    ck_assert_ptr_nonnull(strstr(msg, "controller ctl2: key "));
    ck_assert_ptr_nonnull(strstr(msg, " is not known here"));
    ck_assert_uint_eq(berth_policy_memory_pending(ctl.policy, NULL, NULL, 0), 0);
    party_free(&fake);
    party_free(&other);
}
END_TEST

START_TEST(an_impostor_server_is_not_believed)
{
    test_party impostor;
    berth_reject r;

    /* Same principal as the controller, but not the pinned key. */
    party_init(&impostor, BERTH_ROLE_CONTROLLER, "ctl");
    party_trust(&impostor, &n1);
    ck_assert_int_eq(handshake(&n1, &impostor, NULL, NULL, 0, &r), -1);
    ck_assert_int_eq(r, BERTH_REJECT_NONE); /* the impostor happily answered */
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_UNKNOWN_KEY), 1);
    ck_assert_ptr_null(berth_auth_session_with(n1.auth, ctl.who.id));
    party_free(&impostor);
}
END_TEST

START_TEST(sealed_frame_rejections)
{
    test_party ctl_b; /* the same controller after a restart: no sessions */
    uint8_t *good, *f, junk[64] = { 0x08, 0x01, 0x12, 0x03, 'a', 'b', 'c' };
    size_t len, flen;
    berth_opened o;
    berth_auth_stats *st = berth_auth_stats_of(ctl.auth);
    uint64_t accepted;

    party_trust(&ctl, &n1);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    good = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "payload", berth_now_real_ns(), &len);
    accepted = st->accepted;

    /* unsigned: a bare protobuf message */
    ck_assert_int_eq(
        open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, junk, sizeof(junk), false, NULL),
        BERTH_REJECT_MALFORMED);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, junk, 10, false, NULL),
                     BERTH_REJECT_MALFORMED);
    /* oversize */
    f = calloc(1, BERTH_FRAME_MAX + 1);
    memcpy(f, good, len);
    ck_assert_int_eq(
        open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, BERTH_FRAME_MAX + 1, false, NULL),
        BERTH_REJECT_OVERSIZE);
    free(f);
    /* tampered: every byte of the payload and tag, and header fields */
    f = malloc(len);
    for (size_t i = BERTH_FRAME_HEADER_LEN; i < len; i++) {
        memcpy(f, good, len);
        f[i] ^= 0x40;
        ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, NULL),
                         BERTH_REJECT_BAD_AUTH);
    }
    memcpy(f, good, len);
    f[55] ^= 1; /* the counter */
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, NULL),
                     BERTH_REJECT_BAD_AUTH);
    memcpy(f, good, len);
    f[25] ^= 1; /* the sender */
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, NULL),
                     BERTH_REJECT_BAD_AUTH);
    /* wrong recipient */
    memcpy(f, good, len);
    f[4] ^= 1;
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, NULL),
                     BERTH_REJECT_WRONG_RECIPIENT);
    /* wrong key: another session's id */
    memcpy(f, good, len);
    f[36] ^= 1;
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, len, false, NULL),
                     BERTH_REJECT_UNKNOWN_KEY);
    /* another channel, another kind */
    ck_assert_int_eq(
        open_at(&ctl, BERTH_CHANNEL_STREAM, BERTH_FRAME_SEALED, good, len, false, NULL),
        BERTH_REJECT_UNEXPECTED);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SIGNED, good, len, false, NULL),
                     BERTH_REJECT_UNEXPECTED);
    free(f);
    /* stale, both ways; 90 s off is still fine */
    f = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "old", berth_now_real_ns() - 180 * BERTH_NSEC_PER_SEC,
             &flen);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, flen, false, NULL),
                     BERTH_REJECT_STALE);
    free(f);
    f = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "future", berth_now_real_ns() + 180 * BERTH_NSEC_PER_SEC,
             &flen);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, flen, false, NULL),
                     BERTH_REJECT_STALE);
    free(f);
    ck_assert_uint_eq(st->accepted, accepted); /* nothing passed so far */
    f = seal(&n1, &ctl, BERTH_CHANNEL_RPC, "skewed", berth_now_real_ns() - 90 * BERTH_NSEC_PER_SEC,
             &flen);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, f, flen, false, NULL),
                     BERTH_REJECT_NONE);
    free(f);

    /* the genuine frame passes once; then it is a replay, or, where the
     * rpc server asks, an authentic duplicate */
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, good, len, false, NULL),
                     BERTH_REJECT_NONE);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, good, len, false, NULL),
                     BERTH_REJECT_REPLAYED);
    ck_assert_int_eq(open_at(&ctl, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, good, len, true, &o),
                     BERTH_REJECT_NONE);
    ck_assert(o.duplicate);

    /* the controller restarted: it knows no session */
    party_init(&ctl_b, BERTH_ROLE_CONTROLLER, "ctl");
    ck_assert_int_eq(open_at(&ctl_b, BERTH_CHANNEL_RPC, BERTH_FRAME_SEALED, good, len, false, NULL),
                     BERTH_REJECT_UNKNOWN_KEY);
    party_free(&ctl_b);

    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_MALFORMED), 2);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_OVERSIZE), 1);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_BAD_AUTH), len - BERTH_FRAME_HEADER_LEN + 2);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_WRONG_RECIPIENT), 1);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_UNKNOWN_KEY), 1);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_UNEXPECTED), 2);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_STALE), 2);
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_REPLAYED), 1);
    ck_assert_uint_eq(st->accepted, accepted + 2);
    /* nothing here decodes: the counter is only moved by decoding callers */
    ck_assert_uint_eq(st->decoded, 0);
    free(good);
}
END_TEST

/* A signed frame from `from` on channel ch to recipient. */
static uint8_t *sign(test_party *from, berth_channel ch, const uint8_t *to, int64_t ts,
                     size_t *ret_len)
{
    uint8_t *frame = berth_frame_buffer(4);

    memcpy(frame + BERTH_FRAME_HEADER_LEN, "wake", 4);
    *ret_len = berth_auth_sign_at(from->auth, ch, to, frame, 4, ts);
    return frame;
}

START_TEST(signed_frame_rejections)
{
    test_party n2, rotated;
    berth_keypair newkey;
    berth_error *err = NULL;
    uint8_t *good, *f;
    size_t len, flen;
    int64_t now = berth_now_real_ns();

    good = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &len);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, good, len, false, NULL),
                     BERTH_REJECT_NONE);
    /* replayed */
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, good, len, false, NULL),
                     BERTH_REJECT_REPLAYED);
    /* to every node */
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, berth_id_broadcast, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_NONE);
    free(f);
    /* to another node */
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n2.who.id, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_WRONG_RECIPIENT);
    free(f);
    /* tampered */
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    f[BERTH_FRAME_HEADER_LEN] ^= 1;
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_BAD_AUTH);
    f[BERTH_FRAME_HEADER_LEN] ^= 1;
    f[flen - 1] ^= 1; /* the signature */
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_BAD_AUTH);
    free(f);
    /* stale */
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now - 150 * BERTH_NSEC_PER_SEC, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_STALE);
    free(f);
    /* wrong key: the controller's identity with a key n1 has not pinned */
    party_init(&rotated, BERTH_ROLE_CONTROLLER, "ctl");
    f = sign(&rotated, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_UNKNOWN_KEY);
    free(f);
    /* a node signing orders: n1 knows n2's key (say, for another purpose),
     * still n2 cannot speak as a controller */
    party_trust(&n1, &n2);
    f = sign(&n2, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_FORBIDDEN);
    /* and when the socket expects the controller, any other sender is out */
    {
        berth_expect x = { .channel = BERTH_CHANNEL_EVENTS,
                           .kind = BERTH_FRAME_SIGNED,
                           .sender = ctl.who.id };
        berth_opened o;

        ck_assert_int_eq(berth_auth_open(n1.auth, &x, f, flen, &o), BERTH_REJECT_FORBIDDEN);
    }
    free(f);
    /* an unsigned frame of the right kind */
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    memset(f + flen - BERTH_FRAME_SIG_LEN, 0, BERTH_FRAME_SIG_LEN);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_BAD_AUTH);
    free(f);

    /* the controller rotates: n1 pins both keys during the overlap */
    ck_assert_int_eq(berth_keypair_generate(&newkey, &err), 0);
    ck_assert_int_eq(berth_policy_memory_add_key(n1.policy, &ctl.who, newkey.pk, &err), 0);
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_NONE);
    free(f);
    berth_auth_set_key(ctl.auth, &newkey, false);
    f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &flen);
    ck_assert_int_eq(open_at(&n1, BERTH_CHANNEL_EVENTS, BERTH_FRAME_SIGNED, f, flen, false, NULL),
                     BERTH_REJECT_NONE);
    free(f);

    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_REPLAYED), 1);
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_WRONG_RECIPIENT), 1);
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_BAD_AUTH), 3);
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_STALE), 1);
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_UNKNOWN_KEY), 1);
    ck_assert_uint_eq(rejected(&n1, BERTH_REJECT_FORBIDDEN), 2);
    ck_assert_uint_eq(berth_auth_stats_of(n1.auth)->decoded, 0);
    free(good);
    party_free(&n2);
    party_free(&rotated);
}
END_TEST

/* A receiver that may remember two nonces takes two signed frames, then
 * drops the next as a replay rather than forget a nonce early. */
START_TEST(full_nonce_memory_drops_signed_frames)
{
    berth_auth_config cfg = { .self = n1.who,
                              .key = n1.key,
                              .policy = &berth_policy_memory_ops,
                              .policy_data = n1.policy,
                              .max_nonces = 2 };
    berth_expect x = { .channel = BERTH_CHANNEL_EVENTS, .kind = BERTH_FRAME_SIGNED };
    int64_t now = berth_now_real_ns();
    berth_auth *small = NULL;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_auth_new(&cfg, &small, &err), 0);
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *f = sign(&ctl, BERTH_CHANNEL_EVENTS, n1.who.id, now, &len);
        berth_opened o;

        ck_assert_int_eq(berth_auth_open(small, &x, f, len, &o),
                         i < 2 ? BERTH_REJECT_NONE : BERTH_REJECT_REPLAYED);
        free(f);
    }
    berth_auth_free(small);
}
END_TEST

START_TEST(node_key_rotation_overlaps)
{
    berth_keypair newkey;
    berth_error *err = NULL;
    test_party thief;

    party_trust(&ctl, &n1);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_int_eq(berth_keypair_generate(&newkey, &err), 0);
    /* the new key, vouched for by the old one */
    berth_auth_set_key(n1.auth, &newkey, true);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_rotated, 1);
    /* both keys are accepted during the overlap */
    berth_auth_set_key(n1.auth, &n1.key, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    berth_auth_set_key(n1.auth, &newkey, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);

    /* a key vouched for by a key that is not n1's gets nowhere */
    party_init(&thief, BERTH_ROLE_NODE, "n1");
    party_trust(&thief, &ctl);
    {
        berth_keypair k;

        berth_keypair_generate(&k, &err);
        berth_auth_set_key(thief.auth, &k, true); /* thief.key vouches for k */
    }
    ck_assert_int_eq(handshake(&thief, &ctl, NULL, NULL, 0, NULL), CODE_PERMISSION_DENIED);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_rotated, 1);
    party_free(&thief);
}
END_TEST

START_TEST(replayed_hello_is_dropped)
{
    berth_hello *h = NULL;
    uint8_t *hello = NULL, *reply = NULL;
    size_t hlen = 0, rlen = 0;

    party_trust(&ctl, &n1);
    berth_auth_hello(n1.auth, &ctl.who, NULL, &h, &hello, &hlen);
    ck_assert_int_eq(berth_auth_accept(ctl.auth, hello, hlen, &reply, &rlen), BERTH_REJECT_NONE);
    free(reply);
    reply = NULL;
    ck_assert_int_eq(berth_auth_accept(ctl.auth, hello, hlen, &reply, &rlen),
                     BERTH_REJECT_REPLAYED);
    ck_assert_ptr_null(reply);
    ck_assert_uint_eq(berth_auth_session_count(ctl.auth), 1);
    /* a tampered hello */
    hello[hlen - 70] ^= 1;
    ck_assert_int_eq(berth_auth_accept(ctl.auth, hello, hlen, &reply, &rlen),
                     BERTH_REJECT_BAD_AUTH);
    free(hello);
    berth_hello_free(h);
}
END_TEST

/* A stranger's HELLO costs a table lookup: beyond the budget for keys not
 * admitted yet (20 a second, 20 at once) it is dropped unanswered and
 * unverified, and no stranger leaves anything behind but a bounded pending
 * approval; admitted keys are not held up. */
START_TEST(strangers_fill_nothing)
{
    test_party s[10];
    uint64_t throttled, refused;

    party_trust(&ctl, &n1);
    for (int i = 0; i < 10; i++) {
        char name[16];

        snprintf(name, sizeof(name), "stranger-%d", i);
        party_init(&s[i], BERTH_ROLE_NODE, name);
        party_trust(&s[i], &ctl);
    }
    for (int i = 0; i < 5000; i++)
        handshake(&s[i % 10], &ctl, NULL, NULL, 0, NULL);
    throttled = rejected(&ctl, BERTH_REJECT_THROTTLED);
    refused = rejected(&ctl, BERTH_REJECT_NOT_ADMITTED);
    ck_assert_uint_eq(throttled + refused, 5000);
    /* the burst, plus what refilled while the loop ran */
    ck_assert_uint_ge(refused, 20);
    ck_assert_uint_lt(refused, 5000 / 4);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->hello_nonces, 0);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->sessions, 0);
    ck_assert_uint_le(berth_policy_memory_pending(ctl.policy, NULL, NULL, 0), 10);
    {
        uint64_t last[BERTH_REJECT_COUNT] = { 0 };
        char line[256], want[256];

        ck_assert_uint_eq(berth_auth_drops_since(ctl.auth, last, line, sizeof(line)), 5000);
        snprintf(want, sizeof(want),
                 "5000 frames dropped: %" PRIu64 " not-admitted, %" PRIu64 " throttled", refused,
                 throttled);
        ck_assert_str_eq(line, want);
        ck_assert_uint_eq(berth_auth_drops_since(ctl.auth, last, line, sizeof(line)), 0);
    }
    /* an admitted node gets in at once, budget or not */
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->hello_nonces, 1);
    for (int i = 0; i < 10; i++)
        party_free(&s[i]);
}
END_TEST

/* One admitted key may take its share of the HELLO memory (a HELLO lives 4
 * minutes; the share is 64 here): beyond, its HELLOs are refused saying
 * why, and everybody else still gets in. */
START_TEST(one_key_cannot_fill_the_hello_memory)
{
    berth_auth_config cfg = { .self = ctl.who,
                              .key = ctl.key,
                              .policy = &berth_policy_memory_ops,
                              .policy_data = ctl.policy,
                              .hellos_per_key = 64 };
    berth_error *err = NULL;
    test_party n2;
    char msg[256];

    berth_auth_free(ctl.auth);
    ck_assert_int_eq(berth_auth_new(&cfg, &ctl.auth, &err), 0);
    party_init(&n2, BERTH_ROLE_NODE, "n2");
    party_trust(&n2, &ctl);
    party_trust(&ctl, &n1);
    party_trust(&ctl, &n2);
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, msg, sizeof(msg), NULL), CODE_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(msg, "node n1: more than 64 handshakes with this key in 240 s; keep a "
                          "session instead");
    ck_assert_uint_eq(rejected(&ctl, BERTH_REJECT_THROTTLED), 1);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->hello_nonces, 64);
    ck_assert_int_eq(handshake(&n2, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    party_free(&n2);
}
END_TEST

/* A join token admits a new node; it never replaces the key of an admitted
 * one (with a spare token anybody could become it), and a stranger cannot
 * queue a key for approval under an admitted name either. */
START_TEST(a_token_never_replaces_an_admitted_key)
{
    berth_join_token tok;
    berth_error *err = NULL;
    test_party thief;
    char msg[256];

    party_trust(&ctl, &n1);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    party_init(&thief, BERTH_ROLE_NODE, "n1");
    party_trust(&thief, &ctl);
    berth_join_token_generate(&tok);
    ck_assert_int_eq(berth_policy_memory_add_token(ctl.policy, &tok, 0, &err), 0);
    ck_assert_int_eq(handshake(&thief, &ctl, &tok, msg, sizeof(msg), NULL), CODE_PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(msg, "node n1 is admitted already"));
    ck_assert_int_eq(handshake(&thief, &ctl, NULL, msg, sizeof(msg), NULL), CODE_PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(msg, "admitted with another key"));
    ck_assert_uint_eq(berth_policy_memory_pending(ctl.policy, NULL, NULL, 0), 0);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    party_free(&thief);
}
END_TEST

/* An admitted node's key is replaced only by an operator naming the new
 * key; the old one stops working once the new one is used. */
START_TEST(a_replacement_key_needs_its_fingerprint)
{
    berth_keypair old = n1.key, newkey;
    char fp[BERTH_FINGERPRINT_LEN];
    berth_error *err = NULL;

    party_trust(&ctl, &n1);
    ck_assert_int_eq(berth_keypair_generate(&newkey, &err), 0);
    ck_assert_berth_error(berth_policy_memory_approve(ctl.policy, "n1", NULL, &err), err,
                          "approve node n1: it is admitted; name the new key with a fingerprint "
                          "to replace its key");
    ck_assert_int_eq(
        berth_policy_memory_approve(ctl.policy, "n1", berth_key_fingerprint(newkey.pk, fp), &err),
        0);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK); /* still the old */
    berth_auth_set_key(n1.auth, &newkey, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    berth_auth_set_key(n1.auth, &old, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_PERMISSION_DENIED);
}
END_TEST

/* A rotation ends when the new key is first used: from then on the old key
 * is refused, and cannot vouch for a third. */
START_TEST(a_rotation_retires_the_old_key)
{
    berth_keypair old = n1.key, k2, k3;
    berth_error *err = NULL;

    party_trust(&ctl, &n1);
    ck_assert_int_eq(berth_keypair_generate(&k2, &err), 0);
    ck_assert_int_eq(berth_keypair_generate(&k3, &err), 0);
    berth_auth_set_key(n1.auth, &k2, true); /* old vouches for k2 */
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_rotated, 1);
    berth_auth_set_key(n1.auth, &k2, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK); /* confirms k2 */
    berth_auth_set_key(n1.auth, &old, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_PERMISSION_DENIED);
    berth_auth_set_key(n1.auth, &k3, true); /* old vouches for k3 */
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_PERMISSION_DENIED);
    ck_assert_uint_eq(berth_auth_stats_of(ctl.auth)->keys_rotated, 1);
    berth_auth_set_key(n1.auth, &k2, false);
    ck_assert_int_eq(handshake(&n1, &ctl, NULL, NULL, 0, NULL), CODE_OK);
}
END_TEST

#ifdef BERTH_TEST_FAILING_MALLOC
/* Out of memory while accepting a HELLO is not a malformed frame (nor a
 * replay): the daemon aborts (xalloc.h), and the frame is not counted as
 * the peer's fault. The test expects SIGABRT. */
START_TEST(out_of_memory_is_not_a_malformed_frame)
{
    berth_hello *h = NULL;
    uint8_t *hello = NULL, *reply = NULL;
    size_t hlen = 0, rlen = 0;
    berth_reject r;

    party_trust(&ctl, &n1);
    berth_auth_hello(n1.auth, &ctl.who, NULL, &h, &hello, &hlen);
    fail_allocations = 1;
    r = berth_auth_accept(ctl.auth, hello, hlen, &reply, &rlen);
    fail_allocations = 0;
    ck_abort_msg("accept returned %s instead of aborting", berth_reject_name(r));
}
END_TEST
#endif

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/auth");
    TCase *tc = tcase_create("auth");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, handshake_makes_a_session_both_ways);
    tcase_add_test(tc, a_busy_session_outlives_its_peers_new_ones);
    tcase_add_test(tc, unknown_node_key_awaits_approval);
    tcase_add_test(tc, join_token_enrolls_one_key_once);
    tcase_add_test(tc, a_low_order_ephemeral_burns_no_token);
    tcase_add_test(tc, discovery_names_the_controller_and_its_key);
    tcase_add_test(tc, nobody_can_handshake_as_the_controller);
    tcase_add_test(tc, an_impostor_server_is_not_believed);
    tcase_add_test(tc, sealed_frame_rejections);
    tcase_add_test(tc, signed_frame_rejections);
    tcase_add_test(tc, full_nonce_memory_drops_signed_frames);
    tcase_add_test(tc, node_key_rotation_overlaps);
    tcase_add_test(tc, replayed_hello_is_dropped);
    tcase_add_test(tc, strangers_fill_nothing);
    tcase_add_test(tc, one_key_cannot_fill_the_hello_memory);
    tcase_add_test(tc, a_token_never_replaces_an_admitted_key);
    tcase_add_test(tc, a_replacement_key_needs_its_fingerprint);
    tcase_add_test(tc, a_rotation_retires_the_old_key);
#ifdef BERTH_TEST_FAILING_MALLOC
    tcase_add_test_raise_signal(tc, out_of_memory_is_not_a_malformed_frame, SIGABRT);
#endif
    suite_add_tcase(s, tc);
    return s;
}
