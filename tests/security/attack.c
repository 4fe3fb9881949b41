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
 *       send it one byte a second, until killed.
 *
 * Prints "ready" (and flushes) once its connections are up, for the test to
 * measure the daemon then. Exit 0, 1 on failure, 2 for a usage error. */
#include <arpa/inet.h>
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
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "rpc/auth.h"
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

        berth_auth_hello(auth[i % STRANGERS], &server, NULL, &h, &frame, &len, NULL);
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
    for (long i = 0; i < up; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return up == count ? 0 : 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: attack hello-flood ADDRESS SERVER COUNT [CONNECTIONS]\n"
                 "       attack idle ADDRESS COUNT\n"
                 "       attack loris ADDRESS COUNT\n");
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
    usage(stderr);
    return 2;
}
