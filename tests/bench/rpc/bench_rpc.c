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
 * Thread placement matters on small VMs, where a wake-up across CPUs costs
 * tens of microseconds and the scheduler places threads differently from
 * run to run. Both servers always get the same placement, so neither is
 * favoured. By default (two or more CPUs) two phases run: "split", callers
 * and nanomsg's worker thread on CPU 0 and both servers on CPU 1, like two
 * hosts; then "one", every thread on CPU 0, where berth's own CPU cost
 * shows undiluted. -p runs one placement only; "none" leaves every thread
 * to the scheduler (noisy: it measures where threads land).
 * -o runs only one side (for profiling one with perf or strace); no ratio
 * is printed then.
 */
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "rpc/frame.h"
#include "rpc/envelope.h"
#include "rpc_test_util.h"

static void die(const char *what, berth_error *err)
{
    fprintf(stderr, "bench-rpc: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(1);
}

/* Pin thread t to cpu (-1: every CPU). */
static void pin(pthread_t t, int cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;

    CPU_ZERO(&set);
    for (long i = 0; i < n; i++)
        if (cpu < 0 || i == cpu)
            CPU_SET((int)i, &set);
    errno = pthread_setaffinity_np(t, sizeof(set), &set);
    if (errno != 0)
        die("pin thread", NULL);
}

typedef struct bench {
    size_t calls, warmup, payload;
    bool only_berth, only_raw;

    /* the berth server: its own thread and loop */
    berth_loop *srv_loop;
    test_party srv_party;
    test_service svc;
    berth_rpc_server *srv;
    int stop_fd;
    berth_loop_io stop_io;
    pthread_t srv_thread;

    /* the raw server: blocking REP echo */
    int raw_srv;
    pthread_t raw_thread;

    /* the callers, on this thread */
    berth_loop *loop;
    test_party node;
    berth_rpc_client *cli;
    int raw_cli;

    Berth__Test__EchoRequest req;
    uint8_t *data, *raw_msg, *raw_buf;
    size_t raw_len;
    int64_t *t_berth, *t_raw;
} bench;

static void on_stop(berth_loop_io *io, uint32_t events)
{
    bench *b = berth_container_of(io, bench, stop_io);

    (void)events;
    berth_loop_stop(b->srv_loop);
}

static void *berth_server_main(void *arg)
{
    bench *b = arg;
    berth_error *err = NULL;

    if (berth_loop_run(b->srv_loop, &err) < 0)
        die("server loop", err);
    return NULL;
}

static void *raw_server_main(void *arg)
{
    bench *b = arg;

    for (;;) {
        void *msg = NULL;

        if (nn_recv(b->raw_srv, &msg, NN_MSG, 0) < 0)
            return NULL; /* closed */
        /* zero-copy: hands the message back */
        if (nn_send(b->raw_srv, &msg, NN_MSG, 0) < 0) {
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

/* ---- one phase: servers on server_cpu (-1: anywhere) ---- */

static void phase(bench *b, const char *name, int server_cpu)
{
    berth_error *err = NULL;
    figures fb, fr;

    pin(b->srv_thread, server_cpu);
    pin(b->raw_thread, server_cpu);
    for (size_t i = 0; i < b->warmup + b->calls; i++) {
        berth_rpc_result res = { 0 };
        int64_t t0, t1, t2, t3;

        t0 = berth_now_mono_ns();
        if (!b->only_raw && berth_rpc_client_call_sync(b->cli, &berth__test__test__descriptor,
                                                       "Echo", &b->req.base, 10000, &res, &err) < 0)
            die("berth call", err);
        t1 = berth_now_mono_ns();
        if (!b->only_raw) {
            if (res.code != CODE_OK ||
                ((Berth__Test__EchoReply *)res.response)->data.len != b->payload) {
                fprintf(stderr, "bench-rpc: berth call %zu: %s: %s\n", i,
                        berth_rpc_code_name(res.code), res.message ? res.message : "");
                exit(1);
            }
            berth_rpc_result_clear(&res);
        }
        t2 = berth_now_mono_ns();
        if (!b->only_berth &&
            (nn_send(b->raw_cli, b->raw_msg, b->raw_len, 0) != (int)b->raw_len ||
             nn_recv(b->raw_cli, b->raw_buf, b->raw_len + 64, 0) != (int)b->raw_len))
            die("raw call", NULL);
        t3 = berth_now_mono_ns();
        if (i >= b->warmup) {
            b->t_berth[i - b->warmup] = t1 - t0;
            b->t_raw[i - b->warmup] = t3 - t2;
        }
    }
    fb = summarize(b->t_berth, b->calls);
    fr = summarize(b->t_raw, b->calls);
    printf("threads %s:\n", name);
    printf("  %-26s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "mean us", "calls/s");
    if (!b->only_berth)
        printf("  %-26s %10.1f %10.1f %10.1f %10.0f\n", "raw nanomsg REQ/REP", fr.p50, fr.p99,
               fr.mean, fr.per_sec);
    if (!b->only_raw)
        printf("  %-26s %10.1f %10.1f %10.1f %10.0f\n", "berth rpc (authenticated)", fb.p50, fb.p99,
               fb.mean, fb.per_sec);
    if (!b->only_berth && !b->only_raw)
        printf("  ratio berth/raw: p50 %.3f, p99 %.3f, throughput %.3f (target: p50 <= 1.10)\n",
               fb.p50 / fr.p50, fb.p99 / fr.p99, fb.per_sec / fr.per_sec);
}

/* ---- crypto costs on this machine, for the record ---- */

static void crypto_costs(size_t payload)
{
    uint8_t key[32], pk[32], sk[64], sig[64];
    uint8_t *frame = malloc(BERTH_FRAME_HEADER_LEN + payload + BERTH_FRAME_TRAILER_MAX);
    int rounds = 2000;
    size_t out;
    int64_t t0, t1;

    if (!frame)
        die("crypto costs", NULL);
    randombytes_buf(key, sizeof(key));
    memset(frame, 7, BERTH_FRAME_HEADER_LEN + payload);
    t0 = berth_now_mono_ns();
    for (int i = 0; i < rounds; i++) {
        size_t len = berth_frame_seal(frame, payload, key, (uint64_t)i + 1);

        if (berth_frame_unseal(frame, len, key, (uint64_t)i + 1, &out) < 0)
            die("unseal", NULL);
    }
    t1 = berth_now_mono_ns();
    printf("per frame on this machine: XChaCha20-Poly1305 seal+open of %zu bytes %.2f us; ",
           payload, (double)(t1 - t0) / rounds / 1000.0);
    crypto_sign_keypair(pk, sk);
    rounds = 500;
    t0 = berth_now_mono_ns();
    for (int i = 0; i < rounds; i++) {
        crypto_sign_detached(sig, NULL, frame, payload, sk);
        if (crypto_sign_verify_detached(sig, frame, payload, pk) != 0)
            die("verify", NULL);
    }
    t1 = berth_now_mono_ns();
    printf("Ed25519 sign+verify %.2f us\n", (double)(t1 - t0) / rounds / 1000.0);
    free(frame);
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-n CALLS] [-s PAYLOAD_BYTES] [-w WARMUP_CALLS] [-p split|one|none] "
            "[-o berth|raw]\n",
            prog);
}

int main(int argc, char **argv)
{
    bench b = { .calls = 20000, .payload = 1024, .warmup = 2000 };
    berth_rpc_server_config scfg = { 0 };
    berth_rpc_client_config ccfg = { 0 };
    berth_error *err = NULL;
    char *berth_addr, *raw_addr;
    const char *placement = NULL;
    bool multi_cpu = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
    uint64_t stop = 1;
    int opt;

    while ((opt = getopt(argc, argv, "n:s:w:p:o:h")) != -1) {
        switch (opt) {
        case 'n':
            b.calls = strtoul(optarg, NULL, 10);
            break;
        case 's':
            b.payload = strtoul(optarg, NULL, 10);
            break;
        case 'w':
            b.warmup = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            placement = optarg;
            if (strcmp(placement, "split") && strcmp(placement, "one") &&
                strcmp(placement, "none")) {
                usage(argv[0]);
                return 2;
            }
            break;
        case 'o':
            b.only_berth = strcmp(optarg, "berth") == 0;
            b.only_raw = strcmp(optarg, "raw") == 0;
            if (!b.only_berth && !b.only_raw) {
                usage(argv[0]);
                return 2;
            }
            break;
        default:
            usage(argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (b.calls < 100 || b.payload > (1u << 20)) {
        fprintf(stderr, "bench-rpc: need -n >= 100 and -s <= 1048576\n");
        return 2;
    }
    if (placement && strcmp(placement, "split") == 0 && !multi_cpu) {
        fprintf(stderr, "bench-rpc: -p split needs two CPUs\n");
        return 2;
    }
    /* Before the first nanomsg socket: its worker thread inherits this. */
    if (!placement || strcmp(placement, "none") != 0)
        pin(pthread_self(), 0);

    party_init(&b.srv_party, BERTH_ROLE_CONTROLLER, "bench-server");
    party_init(&b.node, BERTH_ROLE_NODE, "bench-client");
    party_trust(&b.srv_party, &b.node);
    party_trust(&b.node, &b.srv_party);
    berth_addr = tcp_addr();
    raw_addr = tcp_addr();

    /* the servers */
    if (berth_loop_new(&b.srv_loop, &err) < 0)
        die("loop", err);
    test_service_init(&b.svc, b.srv_loop);
    scfg.loop = b.srv_loop;
    scfg.auth = b.srv_party.auth;
    if (berth_rpc_server_new(&scfg, &b.srv, &err) < 0 ||
        berth_rpc_server_add_service(b.srv, (ProtobufCService *)&b.svc.base, &err) < 0 ||
        berth_rpc_server_bind(b.srv, berth_addr, &err) < 0)
        die("berth server", err);
    b.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b.stop_fd < 0 ||
        berth_loop_add(b.srv_loop, &b.stop_io, b.stop_fd, EPOLLIN, on_stop, &err) < 0)
        die("stop fd", err);
    b.raw_srv = nn_socket(AF_SP, NN_REP);
    if (b.raw_srv < 0 || nn_bind(b.raw_srv, raw_addr) < 0)
        die("raw server", NULL);
    if (pthread_create(&b.srv_thread, NULL, berth_server_main, &b) != 0 ||
        pthread_create(&b.raw_thread, NULL, raw_server_main, &b) != 0)
        die("threads", NULL);

    /* the callers */
    if (berth_loop_new(&b.loop, &err) < 0)
        die("loop", err);
    ccfg.loop = b.loop;
    ccfg.auth = b.node.auth;
    ccfg.address = berth_addr;
    ccfg.server = b.srv_party.who;
    ccfg.max_inflight = 1;
    if (berth_rpc_client_new(&ccfg, &b.cli, &err) < 0)
        die("berth client", err);
    b.raw_cli = nn_socket(AF_SP, NN_REQ);
    if (b.raw_cli < 0 || nn_connect(b.raw_cli, raw_addr) < 0)
        die("raw client", NULL);

    /* the same payload both ways: the packed EchoRequest */
    b.data = malloc(b.payload ? b.payload : 1);
    b.t_berth = calloc(b.calls, sizeof(*b.t_berth));
    b.t_raw = calloc(b.calls, sizeof(*b.t_raw));
    if (!b.data || !b.t_berth || !b.t_raw)
        die("memory", NULL);
    randombytes_buf(b.data, b.payload);
    berth__test__echo_request__init(&b.req);
    b.req.text = "bench";
    b.req.data.data = b.data;
    b.req.data.len = b.payload;
    b.raw_len = protobuf_c_message_get_packed_size(&b.req.base);
    b.raw_msg = malloc(b.raw_len);
    b.raw_buf = malloc(b.raw_len + 64);
    if (!b.raw_msg || !b.raw_buf)
        die("memory", NULL);
    protobuf_c_message_pack(&b.req.base, b.raw_msg);

    printf("bench-rpc: unary Echo over tcp loopback, %zu-byte payload (%zu bytes packed), "
           "%zu calls each after %zu warm-up, interleaved, one call in flight\n",
           b.payload, b.raw_len, b.calls, b.warmup);
    if (!placement) {
        if (multi_cpu)
            phase(&b, "split (callers on CPU 0, servers on CPU 1)", 1);
        phase(&b, "one (all on CPU 0)", 0);
    } else if (strcmp(placement, "split") == 0) {
        phase(&b, "split (callers on CPU 0, servers on CPU 1)", 1);
    } else if (strcmp(placement, "one") == 0) {
        phase(&b, "one (all on CPU 0)", 0);
    } else {
        phase(&b, "none (left to the scheduler)", -1);
    }
    printf("handshakes %llu; server executed %llu calls, %llu duplicates\n",
           (unsigned long long)berth_rpc_client_stats_of(b.cli)->handshakes,
           (unsigned long long)berth_rpc_server_stats_of(b.srv)->executed,
           (unsigned long long)berth_rpc_server_stats_of(b.srv)->duplicates);
    crypto_costs(b.raw_len);

    /* shut down */
    berth_rpc_client_free(b.cli);
    nn_close(b.raw_cli);
    if (write(b.stop_fd, &stop, sizeof(stop)) != sizeof(stop))
        die("stop", NULL);
    pthread_join(b.srv_thread, NULL);
    nn_close(b.raw_srv);
    pthread_join(b.raw_thread, NULL);
    berth_loop_remove(b.srv_loop, &b.stop_io);
    close(b.stop_fd);
    berth_rpc_server_free(b.srv);
    berth_loop_free(b.srv_loop);
    berth_loop_free(b.loop);
    party_free(&b.srv_party);
    party_free(&b.node);
    free(b.t_berth);
    free(b.t_raw);
    free(b.data);
    free(b.raw_msg);
    free(b.raw_buf);
    free(berth_addr);
    free(raw_addr);
    return 0;
}
