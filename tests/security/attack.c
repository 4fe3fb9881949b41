/* attack: what a stranger on the network throws at a berth rpc address, for
 * the security tests (tests/security). It speaks nanomsg's TCP wire itself
 * (the 8-byte SP header, then length-prefixed messages), so it sends as
 * fast as the kernel takes bytes and holds connections the way an attacker
 * would, which nanomsg's own client would not let it.
 *
 *   attack hello-flood ADDRESS SERVER COUNT [CONNECTIONS]
 *       COUNT HELLOs from strangers (64 keys nobody admitted, each HELLO
 *       fresh: its own nonce, ephemeral key and signature) to SERVER
 *       (ROLE/NAME) at tcp ADDRESS, over CONNECTIONS connections (8).
 *       Prints "sent N in S s (R/s)" once the kernel took them all, then
 *       holds the connections (the server may not have read everything
 *       yet) until SIGTERM, and prints about how many answers came.
 *   attack idle ADDRESS COUNT
 *       COUNT connections that say hello in nanomsg's protocol and then
 *       nothing, held until the process is killed.
 *   attack loris ADDRESS COUNT
 *       COUNT connections that each announce a message of 4 MiB and then
 *       send it one byte a second, until killed; then prints how many the
 *       server closed.
 *   attack login ADDRESS SERVER SERVER_PUB ROLE/NAME KEY [--previous KEY]
 *                [--token TOKEN]
 *       One handshake as ROLE/NAME with the secret key in the file KEY
 *       (vouched for by the key in --previous: a rotation; or presenting
 *       a join token), over nanomsg to ADDRESS (tcp:// or ipc://). Prints
 *       "SESSION MADE", "refused CODE: MESSAGE" or "no answer"; exits 0,
 *       3 or 4 accordingly.
 *   attack report ADDRESS SERVER_PUB NODE KEY CONTAINER
 *       As admitted node NODE (its secret key in KEY): Register, then a
 *       ReportStatus saying CONTAINER (another node's) runs here. Prints
 *       each call's outcome; exit 0 when both were answered OK.
 *
 * Prints "ready" (and flushes) once its connections are up, for the test to
 * measure the daemon then. Exit 0, 1 on failure, 2 for a usage error. */
#include <arpa/inet.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/policy_memory.h"

#define STRANGERS 64
#define NN_REQ_ID 48 /* NN_PROTO_REQREP * 16 + 0: what a REQ socket is */
#define NN_REP_ID 49

static int tcp_connect(const char *address)
{
    char host[256];
    const char *hp = address + 6, *colon = strrchr(hp, ':');
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int fd;

    if (strncmp(address, "tcp://", 6) != 0 || !colon || (size_t)(colon - hp) >= sizeof(host)) {
        fprintf(stderr, "attack: %s: not tcp://HOST:PORT\n", address);
        exit(2);
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* The SP protocol header a REQ peer sends first. */
static int sp_hello(int fd)
{
    static const uint8_t h[8] = { 0, 'S', 'P', 0, 0, NN_REQ_ID, 0, 0 };

    return berth_write_all(fd, h, sizeof(h));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Read and forget whatever the server sent; the answers it had. Counts
 * messages roughly: each answer starts with its 8-byte length. */
static size_t drain(int fd)
{
    uint8_t buf[65536];
    size_t answers = 0;
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        answers += (size_t)n / 150 + 1; /* a refusal is ~150 bytes */
    return answers;
}

static int parse_principal(const char *text, berth_principal *ret)
{
    static const struct {
        const char *name;
        berth_role role;
    } roles[] = { { "controller", BERTH_ROLE_CONTROLLER },
                  { "node", BERTH_ROLE_NODE },
                  { "operator", BERTH_ROLE_OPERATOR } };
    const char *slash = strchr(text, '/');

    for (size_t i = 0; slash && i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strlen(roles[i].name) == (size_t)(slash - text) &&
            strncmp(text, roles[i].name, (size_t)(slash - text)) == 0)
            return berth_principal_init(ret, roles[i].role, slash + 1, NULL);
    return -1;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int hello_flood(const char *address, const char *server_text, long count, int conns)
{
    berth_principal server;
    berth_auth *auth[STRANGERS];
    berth_policy_memory *policy = NULL;
    int fds[64];
    uint8_t **frames = berth_xcalloc((size_t)count, sizeof(*frames));
    size_t *lens = berth_xcalloc((size_t)count, sizeof(*lens));
    size_t answers = 0;
    int64_t t0, t1;

    if (parse_principal(server_text, &server) < 0 || conns < 1 || conns > 64) {
        fprintf(stderr, "attack: bad SERVER or CONNECTIONS\n");
        return 2;
    }
    berth_policy_memory_new(&policy, NULL);
    for (int i = 0; i < STRANGERS; i++) {
        berth_auth_config cfg = { .policy = &berth_policy_memory_ops, .policy_data = policy };
        char name[32];

        snprintf(name, sizeof(name), "stranger-%d", i);
        if (berth_principal_init(&cfg.self, BERTH_ROLE_NODE, name, NULL) < 0 ||
            berth_keypair_generate(&cfg.key, NULL) < 0 || berth_auth_new(&cfg, &auth[i], NULL) < 0)
            return 1;
    }
    /* The HELLOs first: signing is the attacker's cost, not the server's. */
    for (long i = 0; i < count; i++) {
        berth_hello *h = NULL;
        uint8_t *frame = NULL;
        size_t len = 0;

        berth_auth_hello(auth[i % STRANGERS], &server, NULL, &h, &frame, &len);
        berth_hello_free(h);
        /* nanomsg's framing: length, then the REQ request id, then ours */
        frames[i] = berth_xmalloc(12 + len);
        put_be64(frames[i], 4 + len);
        put_be32(frames[i] + 8, 0x80000000u | (uint32_t)(i + 1));
        memcpy(frames[i] + 12, frame, len);
        lens[i] = 12 + len;
        free(frame);
    }
    for (int c = 0; c < conns; c++) {
        fds[c] = tcp_connect(address);
        if (fds[c] < 0 || sp_hello(fds[c]) < 0) {
            fprintf(stderr, "attack: connect to %s: %s\n", address, strerror(errno));
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    t0 = berth_now_mono_ns();
    for (long i = 0; i < count; i++) {
        int fd = fds[i % conns];

        if (berth_write_all(fd, frames[i], lens[i]) < 0) {
            fprintf(stderr, "attack: send: %s\n", strerror(errno));
            return 1;
        }
        if (i % 256 == 0)
            answers += drain(fd);
    }
    t1 = berth_now_mono_ns();
    printf("sent %ld in %.2f s (%.0f/s)\n", count, (double)(t1 - t0) / 1e9,
           (double)count * 1e9 / (double)(t1 - t0 ? t1 - t0 : 1));
    /* What the kernel took may not be read by the server yet: closing now
     * would throw it away. Hold the connections (reading the answers)
     * until told to stop; the test watches the server's queues drain. */
    signal(SIGTERM, on_term);
    while (!stop) {
        usleep(100 * 1000);
        for (int c = 0; c < conns; c++)
            answers += drain(fds[c]);
    }
    for (int c = 0; c < conns; c++) {
        answers += drain(fds[c]);
        close(fds[c]);
    }
    printf("about %zu answers\n", answers);
    for (long i = 0; i < count; i++)
        free(frames[i]);
    free(frames);
    free(lens);
    for (int i = 0; i < STRANGERS; i++)
        berth_auth_free(auth[i]);
    berth_policy_memory_free(policy);
    return 0;
}

static int hold(const char *address, long count, bool loris)
{
    int *fds = berth_xcalloc((size_t)count, sizeof(*fds));
    long up = 0;

    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    for (long i = 0; i < count; i++) {
        fds[i] = tcp_connect(address);
        if (fds[i] < 0 || sp_hello(fds[i]) < 0) {
            fprintf(stderr, "attack: connection %ld of %ld: %s\n", i + 1, count, strerror(errno));
            break;
        }
        if (loris) {
            uint8_t head[12];

            /* A message of 4 MiB announced (the most a berth socket takes),
             * its REQ request id, and nothing more for now. */
            put_be64(head, (uint64_t)4 << 20);
            put_be32(head + 8, 0x80000000u | (uint32_t)(i + 1));
            if (berth_write_all(fds[i], head, sizeof(head)) < 0)
                break;
        }
        up++;
    }
    printf("ready %ld\n", up);
    fflush(stdout);
    while (!stop) {
        sleep(1);
        for (long i = 0; loris && i < up; i++) {
            uint8_t b = 'x';

            if (fds[i] >= 0 && write(fds[i], &b, 1) != 1) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
        for (long i = 0; i < up; i++)
            if (fds[i] >= 0)
                drain(fds[i]);
    }
    if (loris) {
        long closed = 0;

        for (long i = 0; i < up; i++)
            closed += fds[i] < 0;
        printf("closed by the server: %ld of %ld\n", closed, up);
    }
    for (long i = 0; i < up; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return up == count ? 0 : 1;
}

static int login(int argc, char **argv)
{
    const char *address = argv[2], *previous = NULL, *token_text = NULL;
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_principal server, me;
    berth_policy_memory *policy = NULL;
    berth_auth_config cfg = { 0 };
    berth_join_token token;
    berth_hello *hello = NULL;
    berth_auth *auth = NULL;
    berth_welcome w = { 0 };
    berth_error *err = NULL;
    uint8_t *frame = NULL;
    void *answer = NULL;
    size_t n_pks = 0, len = 0;
    int s, n, wait_ms = 5000;

    for (int i = 7; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--previous") == 0)
            previous = argv[i + 1];
        else if (strcmp(argv[i], "--token") == 0)
            token_text = argv[i + 1];
    }
    if (parse_principal(argv[3], &server) < 0 || parse_principal(argv[5], &me) < 0 ||
        berth_pubkeys_load(AT_FDCWD, argv[4], pks, &n_pks, &err) < 0 ||
        berth_keypair_load(AT_FDCWD, argv[6], &cfg.key, &err) < 0 ||
        (previous && berth_keypair_load(AT_FDCWD, previous, &cfg.previous_key, &err) < 0) ||
        (token_text && berth_join_token_parse(token_text, &token, &err) < 0)) {
        fprintf(stderr, "attack: %s\n", err ? err->msg : "bad SERVER or ROLE/NAME");
        return 2;
    }
    berth_policy_memory_new(&policy, NULL);
    for (size_t i = 0; i < n_pks; i++)
        berth_policy_memory_add_key(policy, &server, pks[i], NULL);
    cfg.self = me;
    cfg.has_previous_key = previous != NULL;
    cfg.policy = &berth_policy_memory_ops;
    cfg.policy_data = policy;
    if (berth_auth_new(&cfg, &auth, &err) < 0)
        return 1;
    berth_auth_hello(auth, &server, token_text ? &token : NULL, &hello, &frame, &len);
    s = nn_socket(AF_SP, NN_REQ);
    if (s < 0 || nn_connect(s, address) < 0 ||
        nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &wait_ms, sizeof(wait_ms)) < 0 ||
        nn_send(s, frame, len, 0) < 0) {
        fprintf(stderr, "attack: %s: %s\n", address, nn_strerror(nn_errno()));
        return 1;
    }
    n = nn_recv(s, &answer, NN_MSG, 0);
    if (n < 0) {
        printf("no answer\n");
        return 4;
    }
    if (berth_auth_hello_finish(auth, hello, answer, (size_t)n, &w) != BERTH_REJECT_NONE) {
        printf("no answer (one that is not a WELCOME from the server)\n");
        return 4;
    }
    nn_freemsg(answer);
    nn_close(s);
    free(frame);
    berth_hello_free(hello);
    berth_auth_free(auth);
    berth_policy_memory_free(policy);
    if (w.code == CODE_OK) {
        printf("SESSION MADE\n");
        return 0;
    }
    printf("refused %s: %s\n", berth_rpc_code_name(w.code), w.message);
    return 3;
}

/* Call the controller's method as a node through an rpc client; prints the
 * outcome, returns the code. */
static int node_call(berth_rpc_client *c, const char *method, const ProtobufCMessage *req)
{
    berth_rpc_result res = { 0 };
    berth_error *err = NULL;
    int code;

    if (berth_rpc_client_call_sync(c, &controller_descriptor, method, req, 5000, &res, &err) < 0) {
        printf("%s: %s\n", method, err->msg);
        return CODE_UNKNOWN;
    }
    printf("%s: %s%s%s\n", method, berth_rpc_code_name(res.code), res.message ? ": " : "",
           res.message ? res.message : "");
    code = res.code;
    berth_rpc_result_clear(&res);
    return code;
}

static int report(char **argv)
{
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_principal server;
    berth_policy_memory *policy = NULL;
    berth_auth_config ac = { 0 };
    berth_rpc_client_config cc = { 0 };
    berth_rpc_client *client = NULL;
    berth_auth *auth = NULL;
    berth_loop *loop = NULL;
    berth_error *err = NULL;
    size_t n_pks = 0;
    RegisterRequest reg = REGISTER_REQUEST_INIT;
    NodeInfo info = NODE_INFO_INIT;
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    ContainerStatus st = CONTAINER_STATUS_INIT, *sts[] = { &st };
    int a, b;

    if (berth_principal_init(&server, BERTH_ROLE_CONTROLLER, "controller", &err) < 0 ||
        berth_principal_init(&ac.self, BERTH_ROLE_NODE, argv[4], &err) < 0 ||
        berth_pubkeys_load(AT_FDCWD, argv[3], pks, &n_pks, &err) < 0 ||
        berth_keypair_load(AT_FDCWD, argv[5], &ac.key, &err) < 0 || berth_loop_new(&loop, &err) < 0)
        goto fail;
    berth_policy_memory_new(&policy, NULL);
    for (size_t i = 0; i < n_pks; i++)
        berth_policy_memory_add_key(policy, &server, pks[i], NULL);
    ac.policy = &berth_policy_memory_ops;
    ac.policy_data = policy;
    if (berth_auth_new(&ac, &auth, &err) < 0)
        goto fail;
    cc.loop = loop;
    cc.auth = auth;
    cc.address = argv[2];
    cc.server = server;
    if (berth_rpc_client_new(&cc, &client, &err) < 0)
        goto fail;
    info.name = argv[4];
    reg.node = &info;
    st.id = argv[6];
    st.state = CONTAINER_RUNNING;
    rs.containers = sts;
    rs.n_containers = 1;
    a = node_call(client, "Register", &reg.base);
    b = node_call(client, "ReportStatus", &rs.base);
    berth_rpc_client_free(client);
    berth_auth_free(auth);
    berth_policy_memory_free(policy);
    berth_loop_free(loop);
    return a == CODE_OK && b == CODE_OK ? 0 : 1;
fail:
    fprintf(stderr, "attack: %s\n", err ? err->msg : "?");
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: attack hello-flood ADDRESS SERVER COUNT [CONNECTIONS]\n"
                 "       attack idle ADDRESS COUNT\n"
                 "       attack loris ADDRESS COUNT\n"
                 "       attack login ADDRESS SERVER SERVER_PUB ROLE/NAME KEY [--previous KEY]\n"
                 "                    [--token TOKEN]\n"
                 "       attack report ADDRESS SERVER_PUB NODE KEY CONTAINER\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 1;
    if (argc >= 5 && strcmp(argv[1], "hello-flood") == 0)
        return hello_flood(argv[2], argv[3], atol(argv[4]), argc > 5 ? atoi(argv[5]) : 8);
    if (argc == 4 && strcmp(argv[1], "idle") == 0)
        return hold(argv[2], atol(argv[3]), false);
    if (argc == 4 && strcmp(argv[1], "loris") == 0)
        return hold(argv[2], atol(argv[3]), true);
    if (argc >= 7 && strcmp(argv[1], "login") == 0)
        return login(argc, argv);
    if (argc == 7 && strcmp(argv[1], "report") == 0)
        return report(argv);
    usage(stderr);
    return 2;
}
