/* netprobe: the two ends of a published port's test, linked statically
 * so that it runs inside a busybox container (bind-mounted in):
 *
 *   netprobe udp-echo PORT            answer each datagram with "echo:" and it
 *   netprobe tcp-echo PORT            echo every connection's bytes back
 *                                     until it half-closes, then close
 *   netprobe udp-ask HOST PORT MSG    send MSG until an answer comes (5 s);
 *                                     print it
 *   netprobe tcp-pump HOST PORT N     send N bytes of a pattern, half-close,
 *                                     read everything back; print the
 *                                     count and whether it matched
 *
 * Exit 0 on success, 1 on failure (with the reason on stderr). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int die(const char *what)
{
    fprintf(stderr, "netprobe: %s: %s\n", what, strerror(errno));
    return 1;
}

static struct sockaddr_in addr(const char *host, const char *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

    if (!host || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        a.sin_addr.s_addr = htonl(INADDR_ANY);
    return a;
}

static int udp_echo(const char *port)
{
    struct sockaddr_in a = addr(NULL, port), peer;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char in[2048], out[2100];

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return die("bind");
    for (;;) {
        socklen_t len = sizeof(peer);
        ssize_t n = recvfrom(fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&peer, &len);
        int m;

        if (n < 0)
            return die("recvfrom");
        in[n] = '\0';
        m = snprintf(out, sizeof(out), "echo:%s", in);
        sendto(fd, out, (size_t)m, 0, (struct sockaddr *)&peer, len);
    }
}

static int tcp_echo(const char *port)
{
    struct sockaddr_in a = addr(NULL, port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0)
        return die("listen");
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        char buf[65536];
        ssize_t n;

        if (c < 0)
            continue;
        if (fork() == 0) {
            while ((n = read(c, buf, sizeof(buf))) > 0)
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = write(c, buf + off, (size_t)(n - off));
                    if (w <= 0)
                        _exit(1);
                    off += w;
                }
            _exit(0);
        }
        close(c);
    }
}

static int udp_ask(const char *host, const char *port, const char *msg)
{
    struct sockaddr_in a = addr(host, port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char buf[2048];

    if (fd < 0)
        return die("socket");
    for (int i = 0; i < 25; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a));
        if (poll(&p, 1, 200) == 1 && (n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
            buf[n] = '\0';
            printf("%s\n", buf);
            return 0;
        }
    }
    fprintf(stderr, "netprobe: no answer from %s:%s\n", host, port);
    return 1;
}

static unsigned char pattern(unsigned long long i)
{
    return (unsigned char)(i * 131 + (i >> 12));
}

static int tcp_pump(const char *host, const char *port, unsigned long long total)
{
    struct sockaddr_in a = addr(host, port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned long long sent = 0, got = 0, bad = 0;
    unsigned char buf[65536];
    bool shut = false;

    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return die("connect");
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT) };

        if (!shut && sent == total) {
            shutdown(fd, SHUT_WR);
            shut = true;
            continue;
        }
        if (poll(&p, 1, 10000) != 1) {
            fprintf(stderr, "netprobe: stalled at %llu sent, %llu back\n", sent, got);
            return 1;
        }
        if (p.revents & POLLOUT) {
            size_t n = total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);
            ssize_t w;

            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(sent + i);
            w = write(fd, buf, n);
            if (w < 0)
                return die("write");
            sent += (unsigned long long)w;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(fd, buf, sizeof(buf));

            if (n < 0)
                return die("read");
            if (n == 0)
                break;
            for (ssize_t i = 0; i < n; i++)
                bad += buf[i] != pattern(got + (unsigned long long)i);
            got += (unsigned long long)n;
        }
    }
    printf("%llu %s\n", got, bad || got != total ? "differ" : "match");
    return bad || got != total;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && strcmp(argv[1], "udp-echo") == 0)
        return udp_echo(argv[2]);
    if (argc == 3 && strcmp(argv[1], "tcp-echo") == 0)
        return tcp_echo(argv[2]);
    if (argc == 5 && strcmp(argv[1], "udp-ask") == 0)
        return udp_ask(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "tcp-pump") == 0)
        return tcp_pump(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    fprintf(stderr, "usage: netprobe udp-echo|tcp-echo PORT | udp-ask|tcp-pump HOST PORT X\n");
    return 2;
}
