/* rawframe: what a stranger on the fleet's network can send to a berth rpc
 * address (the controller's, or an agent's remote endpoint), and whether
 * anything comes back. For the end-to-end tests: every probe must be
 * dropped without an answer, except a well-formed handshake from a key
 * nobody knows, which is refused; the test checks through berthctl that
 * nothing changed and every daemon still serves.
 *
 *   rawframe [--wait MS] [--victim NAME] ADDRESS SERVER SERVER_PUB AS AS_PUB
 *
 * SERVER is who serves ADDRESS (ROLE/NAME: controller/controller, node/n1)
 * and SERVER_PUB its public key file, to read a refusal it signs. AS is the
 * principal the probes pretend to be (operator/admin) and AS_PUB its real
 * public key: we hold no secret it would accept. The calls probes smuggle
 * in would delete workload NAME (a controller) or stop container NAME (an
 * agent) if they were ever executed.
 *
 * One REQ socket carries the frame probes, so that the first (answered)
 * probe proves the path works for the others; the tcp probes open their
 * own connections. One line per probe on stdout, "PROBE: RESULT", RESULT
 * being "no answer", "refused CODE: MESSAGE", "answered N bytes",
 * "closed by the server" or "SESSION MADE". Exit 0 when every probe was
 * sent, 1 otherwise, 2 for a usage error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/envelope.h"
#include "rpc/policy_memory.h"

typedef struct probe_ctx {
    const char *address;
    int wait_ms;
    const char *victim;
    int sock; /* the REQ socket */
    berth_principal server, as;
    uint8_t server_pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    size_t n_server_pks;
    uint8_t as_pk[BERTH_PUBKEY_LEN];
    berth_keypair stranger; /* a key nobody admitted */
} probe_ctx;

static int parse_principal(const char *text, berth_principal *ret, berth_error **err)
{
    static const struct {
        const char *name;
        berth_role role;
    } roles[] = {
        { "controller", BERTH_ROLE_CONTROLLER },
        { "node", BERTH_ROLE_NODE },
        { "operator", BERTH_ROLE_OPERATOR },
    };
    const char *slash = strchr(text, '/');

    for (size_t i = 0; slash && i < BERTH_ARRAY_SIZE(roles); i++)
        if (strlen(roles[i].name) == (size_t)(slash - text) &&
            strncmp(text, roles[i].name, (size_t)(slash - text)) == 0)
            return berth_principal_init(ret, roles[i].role, slash + 1, err);
    return berth_error_set(err, EINVAL, "'%s' is not ROLE/NAME (controller, node, operator)", text);
}

/* Wait for an answer on the REQ socket: its length, 0 for none. */
static size_t await_answer(probe_ctx *p, uint8_t **ret_msg)
{
    void *buf = NULL;
    int n;

    if (nn_setsockopt(p->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &p->wait_ms, sizeof(p->wait_ms)) < 0)
        return 0;
    n = nn_recv(p->sock, &buf, NN_MSG, 0);
    if (n < 0)
        return 0;
    if (ret_msg) {
        *ret_msg = malloc((size_t)n ? (size_t)n : 1);
        if (*ret_msg)
            memcpy(*ret_msg, buf, (size_t)n);
    }
    nn_freemsg(buf);
    return (size_t)n;
}

static int send_frame(probe_ctx *p, const uint8_t *frame, size_t len, berth_error **err)
{
    int timeout = 5000;

    if (nn_setsockopt(p->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout, sizeof(timeout)) < 0 ||
        nn_send(p->sock, frame, len, 0) < 0)
        return berth_error_set(err, nn_errno(), "send to %s: %s", p->address,
                               nn_strerror(nn_errno()));
    return 0;
}

/* Send a frame, print what came back (anything at all is news). */
static int probe_silent(probe_ctx *p, const char *name, const uint8_t *frame, size_t len)
{
    _cleanup_error_ berth_error *err = NULL;
    size_t n;

    if (send_frame(p, frame, len, &err) < 0) {
        printf("%s: not sent: %s\n", name, err->msg);
        return -1;
    }
    n = await_answer(p, NULL);
    if (n)
        printf("%s: answered %zu bytes\n", name, n);
    else
        printf("%s: no answer\n", name);
    return 0;
}

static void header_init(probe_ctx *p, berth_frame_header *h, berth_frame_kind kind)
{
    memset(h, 0, sizeof(*h));
    h->version = BERTH_FRAME_VERSION;
    h->kind = kind;
    h->channel = BERTH_CHANNEL_RPC;
    memcpy(h->recipient, p->server.id, BERTH_ID_LEN);
    memcpy(h->sender, p->as.id, BERTH_ID_LEN);
    h->timestamp_ns = berth_now_real_ns();
    randombytes_buf(&h->counter, sizeof(h->counter));
}

/* A frame of kind carrying the call that would do harm, its header
 * filled in *ret_h (written by the caller, who may change it) and room left
 * for any trailer; *ret_payload_len is the packed call's size. -1, said on
 * stdout, when it cannot be made. */
static int harmful_frame(probe_ctx *p, const char *name, berth_frame_kind kind,
                         berth_frame_header *ret_h, uint8_t **ret_frame, size_t *ret_payload_len)
{
    _cleanup_error_ berth_error *err = NULL;
    Envelope env = ENVELOPE_INIT;
    DeleteRequest del = DELETE_REQUEST_INIT;
    StopRequest stop = STOP_REQUEST_INIT;
    const ProtobufCMessage *body;

    env.kind = FRAME_KIND_REQUEST;
    randombytes_buf(&env.call_id, sizeof(env.call_id));
    env.timeout_ms = 30000;
    if (p->server.role == BERTH_ROLE_CONTROLLER) {
        env.method = "berth.v1.Controller/Delete";
        del.name = (char *)p->victim;
        body = &del.base;
    } else {
        env.method = "berth.v1.Agent/Stop";
        stop.container_id = (char *)p->victim;
        body = &stop.base;
    }
    if (berth_envelope_frame(&env, body, ret_frame, ret_payload_len, &err) < 0) {
        printf("%s: not sent: %s\n", name, err->msg);
        return -1;
    }
    header_init(p, ret_h, kind);
    return 0;
}

/* A correct handshake, signed by a key the server never admitted: the one
 * probe that gets an answer, a signed refusal. */
static int probe_unknown_key(probe_ctx *p, const char *name)
{
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_free_ uint8_t *frame = NULL, *answer = NULL;
    berth_policy_memory *policy = NULL;
    berth_auth *auth = NULL;
    berth_hello *hello = NULL;
    berth_auth_config cfg = { 0 };
    berth_welcome w = { 0 };
    size_t len = 0, n;
    berth_reject r;
    int ret = -1;

    if (berth_policy_memory_new(&policy, &err) < 0)
        goto out;
    for (size_t i = 0; i < p->n_server_pks; i++)
        if (berth_policy_memory_add_key(policy, &p->server, p->server_pks[i], &err) < 0)
            goto out;
    cfg.self = p->as;
    cfg.key = p->stranger;
    cfg.policy = &berth_policy_memory_ops;
    cfg.policy_data = policy;
    if (berth_auth_new(&cfg, &auth, &err) < 0)
        goto out;
    berth_auth_hello(auth, &p->server, NULL, &hello, &frame, &len);
    if (send_frame(p, frame, len, &err) < 0)
        goto out;
    ret = 0;
    n = await_answer(p, &answer);
    if (!n || !answer) {
        printf("%s: no answer\n", name);
        goto out;
    }
    r = berth_auth_hello_finish(auth, hello, answer, n, &w);
    if (r != BERTH_REJECT_NONE)
        printf("%s: answered %zu bytes, not a welcome from the server (%s)\n", name, n,
               berth_reject_name(r));
    else if (w.code == CODE_OK)
        printf("%s: SESSION MADE\n", name);
    else
        printf("%s: refused %s: %s\n", name, berth_rpc_code_name(w.code), w.message);
out:
    if (ret < 0)
        printf("%s: not sent: %s\n", name, err ? err->msg : "?");
    berth_hello_free(hello);
    berth_auth_free(auth);
    berth_policy_memory_free(policy);
    return ret;
}

static int probe_garbage(probe_ctx *p, const char *name)
{
    uint8_t junk[256];

    randombytes_buf(junk, sizeof(junk));
    junk[0] = BERTH_FRAME_VERSION; /* so that it reads as far as it can */
    return probe_silent(p, name, junk, sizeof(junk));
}

/* The harmful call in clear, in a SEALED frame of a session that never
 * was, with no valid tag. */
static int probe_unsigned_call(probe_ctx *p, const char *name)
{
    _cleanup_free_ uint8_t *frame = NULL;
    berth_frame_header h;
    size_t len;

    if (harmful_frame(p, name, BERTH_FRAME_SEALED, &h, &frame, &len) < 0)
        return -1;
    randombytes_buf(h.key_id, sizeof(h.key_id));
    h.counter = 1;
    berth_frame_header_write(&h, frame);
    memset(frame + BERTH_FRAME_HEADER_LEN + len, 0, BERTH_FRAME_TAG_LEN);
    return probe_silent(p, name, frame, BERTH_FRAME_HEADER_LEN + len + BERTH_FRAME_TAG_LEN);
}

/* A HELLO in AS's name with AS's real public key, signed by another key:
 * were signatures not checked, it would make a session as AS. */
static int probe_forged_hello(probe_ctx *p, const char *name)
{
    uint8_t frame[BERTH_FRAME_HEADER_LEN + 2 + BERTH_NAME_MAX + 32 + 32 + 1 + BERTH_FRAME_SIG_LEN];
    uint8_t *b = frame + BERTH_FRAME_HEADER_LEN, eph_sk[32];
    size_t name_len = strlen(p->as.name), n = 0;
    berth_frame_header h;

    header_init(p, &h, BERTH_FRAME_HELLO);
    berth_key_id(p->as_pk, h.key_id);
    berth_frame_header_write(&h, frame);
    b[n++] = (uint8_t)p->as.role;
    b[n++] = (uint8_t)name_len;
    memcpy(b + n, p->as.name, name_len);
    n += name_len;
    memcpy(b + n, p->as_pk, 32);
    n += 32;
    crypto_box_keypair(b + n, eph_sk);
    n += 32;
    b[n++] = 0; /* no extensions */
    n = berth_frame_sign(frame, n, p->stranger.sk);
    return probe_silent(p, name, frame, n);
}

/* The harmful call SIGNED (not sealed) by a key nobody knows, in AS's
 * name: rpc takes sealed frames of live sessions only. */
static int probe_signed_call(probe_ctx *p, const char *name)
{
    _cleanup_free_ uint8_t *frame = NULL;
    berth_frame_header h;
    size_t len;

    if (harmful_frame(p, name, BERTH_FRAME_SIGNED, &h, &frame, &len) < 0)
        return -1;
    memcpy(h.key_id, p->stranger.id, BERTH_KEYID_LEN);
    berth_frame_header_write(&h, frame);
    return probe_silent(p, name, frame, berth_frame_sign(frame, len, p->stranger.sk));
}

/* ---- below nanomsg: raw tcp ---- */

static int tcp_connect(const char *address, berth_error **err)
{
    char host[256];
    const char *hp = address + 6, *colon = strrchr(hp, ':');
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int fd, r;

    if (!colon || (size_t)(colon - hp) >= sizeof(host))
        return berth_error_set(err, EINVAL, "%s: not tcp://HOST:PORT", address);
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    if ((r = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
        return berth_error_set(err, EINVAL, "%s: %s", address, gai_strerror(r));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        berth_error_errno(err, "connect to %s", address);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* After writing: did the server answer, close, or keep quiet? */
static void tcp_outcome(int fd, int wait_ms, const char *name)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    uint8_t buf[64];
    ssize_t n;

    /* The server's protocol header (8 bytes) may come first; it says
     * nothing about what we sent. */
    for (size_t got = 0;;) {
        if (poll(&pfd, 1, wait_ms) <= 0) {
            printf("%s: no answer\n", name);
            return;
        }
        n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            printf("%s: closed by the server\n", name);
            return;
        }
        got += (size_t)n;
        if (got > 8) {
            printf("%s: answered %zu bytes\n", name, got - 8);
            return;
        }
    }
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *b = buf;

    while (len) {
        ssize_t n = write(fd, b, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Random bytes where the SP protocol header should be. */
static int probe_tcp_garbage(probe_ctx *p, const char *name)
{
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_close_ int fd = tcp_connect(p->address, &err);
    uint8_t junk[4096];

    if (fd < 0) {
        printf("%s: not sent: %s\n", name, err->msg);
        return -1;
    }
    randombytes_buf(junk, sizeof(junk));
    if (write_all(fd, junk, sizeof(junk)) < 0) {
        /* The server may hang up mid-write: that is a refusal too. */
        printf("%s: closed by the server\n", name);
        return 0;
    }
    tcp_outcome(fd, p->wait_ms, name);
    return 0;
}

/* A proper REQ header, then a message announcing 1 TiB: nothing may be
 * allocated for it (NN_RCVMAXSIZE). */
static int probe_tcp_oversize(probe_ctx *p, const char *name)
{
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_close_ int fd = tcp_connect(p->address, &err);
    uint8_t msg[8 + 8 + 64] = { 0, 'S', 'P', 0, NN_REQ >> 8, NN_REQ & 0xff, 0, 0 };

    if (fd < 0) {
        printf("%s: not sent: %s\n", name, err->msg);
        return -1;
    }
    berth_put_be64(msg + 8, (uint64_t)1 << 40);
    randombytes_buf(msg + 16, 64);
    if (write_all(fd, msg, sizeof(msg)) < 0) {
        printf("%s: closed by the server\n", name);
        return 0;
    }
    tcp_outcome(fd, p->wait_ms, name);
    return 0;
}

static void usage(FILE *out)
{
    fputs("Usage: rawframe [--wait MS] [--victim NAME] ADDRESS SERVER SERVER_PUB AS AS_PUB\n"
          "SERVER, AS: ROLE/NAME (controller, node, operator). See the source's header.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "wait", required_argument, NULL, 'w' },
        { "victim", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_error_ berth_error *err = NULL;
    uint8_t as_pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    size_t n_as = 0;
    probe_ctx p = { .wait_ms = 1000, .victim = "web", .sock = -1 };
    int o, failed = 0;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'w':
            p.wait_ms = atoi(optarg);
            break;
        case 'v':
            p.victim = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 5 || p.wait_ms <= 0) {
        usage(stderr);
        return 2;
    }
    p.address = argv[optind];
    if (sodium_init() < 0 || parse_principal(argv[optind + 1], &p.server, &err) < 0 ||
        berth_pubkeys_load(AT_FDCWD, argv[optind + 2], p.server_pks, &p.n_server_pks, &err) < 0 ||
        parse_principal(argv[optind + 3], &p.as, &err) < 0 ||
        berth_pubkeys_load(AT_FDCWD, argv[optind + 4], as_pks, &n_as, &err) < 0 ||
        berth_keypair_generate(&p.stranger, &err) < 0) {
        fprintf(stderr, "rawframe: %s\n", err ? err->msg : "libsodium");
        return 2;
    }
    memcpy(p.as_pk, as_pks[0], BERTH_PUBKEY_LEN);
    p.sock = nn_socket(AF_SP, NN_REQ);
    if (p.sock < 0 || nn_connect(p.sock, p.address) < 0) {
        fprintf(stderr, "rawframe: %s: %s\n", p.address, nn_strerror(nn_errno()));
        return 1;
    }
    /* Answered first, so the path is known to work for the silent ones;
     * and last, to show the server still answers after them. */
    failed |= probe_unknown_key(&p, "unknown-key") < 0;
    failed |= probe_garbage(&p, "garbage") < 0;
    failed |= probe_unsigned_call(&p, "unsigned-call") < 0;
    failed |= probe_forged_hello(&p, "forged-hello") < 0;
    failed |= probe_signed_call(&p, "signed-call") < 0;
    if (strncmp(p.address, "tcp://", 6) == 0) {
        failed |= probe_tcp_garbage(&p, "tcp-garbage") < 0;
        failed |= probe_tcp_oversize(&p, "tcp-oversize") < 0;
    }
    failed |= probe_unknown_key(&p, "unknown-key-again") < 0;
    nn_close(p.sock);
    berth_keypair_wipe(&p.stranger);
    fflush(stdout);
    return failed ? 1 : 0;
}
