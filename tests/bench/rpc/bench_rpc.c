/* bench-rpc: unary call latency and throughput of berth's rpc (handshake
 * done, every frame sealed and authenticated, reply cache on) against raw
 * nanomsg REQ/REP carrying the same payload, over tcp loopback, in the same
 * run with the calls interleaved (berth, raw, berth, raw ...) so both see
 * the same machine. Prints p50/p99/mean latency, calls per second and the
 * berth/raw ratios. Not a test: it measures, it does not judge.
 *
 *   bench-rpc [-n CALLS] [-s PAYLOAD_BYTES] [-w WARMUP_CALLS] [-p split|one|none]
 *             [-o berth|raw]
 *
 * -p places the threads. Both servers always get the same placement, so
 * neither is favoured: "split" (default with two or more CPUs) puts the
 * callers and nanomsg's worker thread on CPU 0 and both servers on CPU 1,
 * like two hosts; "one" puts everything on CPU 0; "none" leaves it to the
 * scheduler, which on small VMs lands the two servers differently from run
 * to run and makes the comparison noise (cross-CPU wake-ups cost tens of
 * microseconds there).
 * -o runs only one side (for profiling one with perf or strace); no ratio
 * is printed then.
 */
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "rpc/frame.h"
#include "rpc/pb.h"
#include "rpc_test_util.h"

static void die(const char *what, berth_error *err)
{
    fprintf(stderr, "bench-rpc: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

/* ---- the berth server, on its own thread and loop ---- */

typedef struct berth_side {
    berth_loop *loop;
    test_party party;
    test_service svc;
    berth_rpc_server *srv;
    int stop_fd;
    berth_loop_io stop_io;
    pthread_t thread;
} berth_side;

/* The CPU the server threads run on; -1: anywhere. */
static int server_cpu = -1;

static void pin_to(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (errno != 0)
        die("pin thread", NULL);
}

static void on_stop(berth_loop_io *io, uint32_t events)
{
    berth_side *b = berth_container_of(io, berth_side, stop_io);

    (void)events;
    berth_loop_stop(b->loop);
}

static void *berth_server_main(void *arg)
{
    berth_side *b = arg;
    berth_error *err = NULL;

    pin_to(server_cpu);
    if (berth_loop_run(b->loop, &err) < 0)
        die("server loop", err);
    return NULL;
}

/* ---- the raw nanomsg REP server: echoes what it gets ---- */

static void *raw_server_main(void *arg)
{
    int s = *(int *)arg;

    pin_to(server_cpu);
    for (;;) {
        void *msg = NULL;
        int n = nn_recv(s, &msg, NN_MSG, 0);

        if (n < 0)
            return NULL; /* ETERM / EBADF: closed */
        /* zero-copy: hands the message back */
        if (nn_send(s, &msg, NN_MSG, 0) < 0) {
            nn_freemsg(msg);
            return NULL;
        }
    }
}

/* ---- statistics ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

typedef struct figures {
    double p50, p99, mean, per_sec;
} figures;

static figures summarize(int64_t *ns, size_t n)
{
    figures f;
    double sum = 0;

    qsort(ns, n, sizeof(*ns), cmp_i64);
    for (size_t i = 0; i < n; i++)
        sum += (double)ns[i];
    f.p50 = (double)ns[n / 2] / 1000.0;
    f.p99 = (double)ns[(n * 99) / 100] / 1000.0;
    f.mean = sum / (double)n / 1000.0;
    f.per_sec = (double)n / (sum / 1e9);
    return f;
}

/* ---- crypto costs on this machine, for the record ---- */

static void crypto_costs(size_t payload)
{
    uint8_t key[32], pk[32], sk[64], sig[64];
    uint8_t *frame = malloc(BERTH_FRAME_HEADER_LEN + payload + BERTH_FRAME_TRAILER_MAX);
    int rounds = 2000;
    size_t out;
    int64_t t0, t1;

    randombytes_buf(key, sizeof(key));
    memset(frame, 7, BERTH_FRAME_HEADER_LEN + payload);
    t0 = berth_now_mono_ns();
    for (int i = 0; i < rounds; i++) {
        size_t len = berth_frame_seal(frame, payload, key, (uint64_t)i + 1);

        if (berth_frame_unseal(frame, len, key, (uint64_t)i + 1, &out) < 0)
            die("unseal", NULL);
    }
    t1 = berth_now_mono_ns();
    printf("  XChaCha20-Poly1305 seal+open of %zu bytes: %.2f us\n", payload,
           (double)(t1 - t0) / rounds / 1000.0);
    crypto_sign_keypair(pk, sk);
    rounds = 500;
    t0 = berth_now_mono_ns();
    for (int i = 0; i < rounds; i++) {
        crypto_sign_detached(sig, NULL, frame, payload, sk);
        if (crypto_sign_verify_detached(sig, frame, payload, pk) != 0)
            die("verify", NULL);
    }
    t1 = berth_now_mono_ns();
    printf("  Ed25519 sign+verify of %zu bytes:          %.2f us (per frame, that alone would be "
           "the budget)\n",
           payload, (double)(t1 - t0) / rounds / 1000.0);
    free(frame);
}

int main(int argc, char **argv)
{
    size_t calls = 20000, payload = 1024, warmup = 2000;
    berth_side b = { 0 };
    berth_rpc_server_config scfg = { 0 };
    berth_rpc_client_config ccfg = { 0 };
    berth_loop *loop = NULL;
    test_party node;
    berth_rpc_client *cli = NULL;
    berth_error *err = NULL;
    Berth__Test__EchoRequest req = BERTH__TEST__ECHO_REQUEST__INIT;
    uint8_t *data, *raw_msg, *raw_buf;
    size_t raw_len;
    int raw_srv, raw_cli, opt;
    pthread_t raw_thread;
    char *berth_addr, *raw_addr;
    int64_t *t_berth, *t_raw;
    figures fb, fr;
    uint64_t stop = 1;
    bool only_berth = false, only_raw = false;
    const char *placement = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? "split" : "one";

    while ((opt = getopt(argc, argv, "n:s:w:p:o:h")) != -1) {
        switch (opt) {
        case 'n':
            calls = strtoul(optarg, NULL, 10);
            break;
        case 's':
            payload = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            warmup = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            placement = optarg;
            if (strcmp(placement, "split") && strcmp(placement, "one") &&
                strcmp(placement, "none")) {
                fprintf(stderr, "bench-rpc: -p split, one or none\n");
                return 2;
            }
            break;
        case 'o':
            only_berth = strcmp(optarg, "berth") == 0;
            only_raw = strcmp(optarg, "raw") == 0;
            if (!only_berth && !only_raw) {
                fprintf(stderr, "bench-rpc: -o berth or -o raw\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr,
                    "usage: %s [-n CALLS] [-s PAYLOAD_BYTES] [-w WARMUP_CALLS] [-p split|one|none] "
                    "[-o berth|raw]\n",
                    argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (calls < 100 || payload > (1u << 20)) {
        fprintf(stderr, "bench-rpc: need -n >= 100 and -s <= 1048576\n");
        return 2;
    }

    /* Before the first nanomsg socket: its worker thread inherits this. */
    if (strcmp(placement, "none") != 0) {
        pin_to(0);
        server_cpu = strcmp(placement, "split") == 0 ? 1 : 0;
    }

    /* the parties */
    party_init(&b.party, BERTH_ROLE_CONTROLLER, "bench-server");
    party_init(&node, BERTH_ROLE_NODE, "bench-client");
    party_trust(&b.party, &node);
    party_trust(&node, &b.party);
    berth_addr = tcp_addr();
    raw_addr = tcp_addr();

    /* berth server thread */
    if (berth_loop_new(&b.loop, &err) < 0)
        die("loop", err);
    test_service_init(&b.svc, b.loop);
    scfg.loop = b.loop;
    scfg.auth = b.party.auth;
    if (berth_rpc_server_new(&scfg, &b.srv, &err) < 0 ||
        berth_rpc_server_add_service(b.srv, (ProtobufCService *)&b.svc.base, &err) < 0 ||
        berth_rpc_server_bind(b.srv, berth_addr, &err) < 0)
        die("berth server", err);
    b.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b.stop_fd < 0 || berth_loop_add(b.loop, &b.stop_io, b.stop_fd, EPOLLIN, on_stop, &err) < 0)
        die("stop fd", err);
    pthread_create(&b.thread, NULL, berth_server_main, &b);

    /* raw server thread */
    raw_srv = nn_socket(AF_SP, NN_REP);
    if (raw_srv < 0 || nn_bind(raw_srv, raw_addr) < 0)
        die("raw server", NULL);
    pthread_create(&raw_thread, NULL, raw_server_main, &raw_srv);

    /* clients */
    if (berth_loop_new(&loop, &err) < 0)
        die("loop", err);
    ccfg.loop = loop;
    ccfg.auth = node.auth;
    ccfg.address = berth_addr;
    ccfg.server = b.party.who;
    ccfg.max_inflight = 1;
    if (berth_rpc_client_new(&ccfg, &cli, &err) < 0)
        die("berth client", err);
    raw_cli = nn_socket(AF_SP, NN_REQ);
    if (raw_cli < 0 || nn_connect(raw_cli, raw_addr) < 0)
        die("raw client", NULL);

    /* the same payload both ways: the packed EchoRequest */
    data = malloc(payload ? payload : 1);
    randombytes_buf(data, payload);
    req.text = "bench";
    req.data.data = data;
    req.data.len = payload;
    raw_len = protobuf_c_message_get_packed_size(&req.base);
    raw_msg = malloc(raw_len);
    protobuf_c_message_pack(&req.base, raw_msg);
    raw_buf = malloc(raw_len + 64);

    t_berth = calloc(calls, sizeof(*t_berth));
    t_raw = calloc(calls, sizeof(*t_raw));
    for (size_t i = 0; i < warmup + calls; i++) {
        berth_rpc_result res = { 0 };
        int64_t t0, t1, t2, t3;
        int n;

        t0 = berth_now_mono_ns();
        if (!only_raw && berth_rpc_client_call_sync(cli, &berth__test__test__descriptor, "Echo",
                                                    &req.base, 10000, &res, &err) < 0)
            die("berth call", err);
        t1 = berth_now_mono_ns();
        if (!only_raw) {
            if (res.code != BERTH__V1__CODE__OK ||
                ((Berth__Test__EchoReply *)res.response)->data.len != payload) {
                fprintf(stderr, "bench-rpc: berth call %zu: %s: %s\n", i,
                        berth_rpc_code_name(res.code), res.message ? res.message : "");
                return 1;
            }
            berth_rpc_result_clear(&res);
        }
        t2 = berth_now_mono_ns();
        if (!only_berth && (nn_send(raw_cli, raw_msg, raw_len, 0) != (int)raw_len ||
                            (n = nn_recv(raw_cli, raw_buf, raw_len + 64, 0)) != (int)raw_len))
            die("raw call", NULL);
        t3 = berth_now_mono_ns();
        if (i >= warmup) {
            t_berth[i - warmup] = t1 - t0;
            t_raw[i - warmup] = t3 - t2;
        }
    }

    fb = summarize(t_berth, calls);
    fr = summarize(t_raw, calls);
    printf("bench-rpc: unary Echo over tcp loopback, %zu-byte payload (%zu bytes packed), "
           "%zu calls each after %zu warm-up, interleaved, one call in flight, threads: %s\n",
           payload, raw_len, calls, warmup, placement);
    printf("  %-26s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "mean us", "calls/s");
    printf("  %-26s %10.1f %10.1f %10.1f %10.0f\n", "raw nanomsg REQ/REP", fr.p50, fr.p99, fr.mean,
           fr.per_sec);
    printf("  %-26s %10.1f %10.1f %10.1f %10.0f\n", "berth rpc (authenticated)", fb.p50, fb.p99,
           fb.mean, fb.per_sec);
    if (!only_berth && !only_raw)
        printf("  ratio berth/raw: p50 %.3f, p99 %.3f, throughput %.3f (target: p50 <= 1.10)\n",
               fb.p50 / fr.p50, fb.p99 / fr.p99, fb.per_sec / fr.per_sec);
    printf("  handshakes: %llu; server executed %llu calls, %llu duplicates\n",
           (unsigned long long)berth_rpc_client_stats_of(cli)->handshakes,
           (unsigned long long)berth_rpc_server_stats_of(b.srv)->executed,
           (unsigned long long)berth_rpc_server_stats_of(b.srv)->duplicates);
    crypto_costs(raw_len);

    /* shut down */
    berth_rpc_client_free(cli);
    nn_close(raw_cli);
    if (write(b.stop_fd, &stop, sizeof(stop)) != sizeof(stop))
        die("stop", NULL);
    pthread_join(b.thread, NULL);
    nn_close(raw_srv);
    pthread_join(raw_thread, NULL);
    berth_loop_remove(b.loop, &b.stop_io);
    close(b.stop_fd);
    berth_rpc_server_free(b.srv);
    berth_loop_free(b.loop);
    berth_loop_free(loop);
    party_free(&b.party);
    party_free(&node);
    free(t_berth);
    free(t_raw);
    free(data);
    free(raw_msg);
    free(raw_buf);
    free(berth_addr);
    free(raw_addr);
    return 0;
}
