/* berth-cni: one CNI ADD or DEL of a pod's network (lib/net/cni.h) in a
 * process of its own, for berthd, whose loop must not wait for plugins
 * (one may take seconds, up to BERTH_CNI_TIMEOUT_MS each).
 *
 *   berth-cni add CONF_DIR BIN_DIR CACHE_DIR POD NAMESPACE NAME NETNS [PORT...]
 *       PORT: tcp|udp:HOST_IP:HOST_PORT:CONTAINER_PORT (HOST_IP may be empty)
 *   berth-cni del BIN_DIR CACHE_DIR POD
 *   berth-cni sweep BIN_DIR CACHE_DIR [POD...]
 *       at berthd's start: DEL every cached pod not named (gone while
 *       berthd was away), CHECK every named one that has a cache
 *
 * Its one line on stdout says how it went: "ok ADDRESS" (add), "ok"
 * (del), or "error MESSAGE"; the exit status is 0 or 1 alike (2: usage).
 * sweep says "ok N" (N pods DEL'd), then "broken POD MESSAGE" for each
 * pod whose CHECK failed.
 * berthd reads the line, not the status. It dies with berthd (an ADD cut
 * short is DEL'd from what it cached before its first plugin ran). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/version.h"
#include "net/cni.h"

static int fail(berth_error *err)
{
    for (char *p = err->msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    printf("error %s\n", err->msg);
    berth_error_free(&err);
    return 1;
}

static int parse_port(char *s, berth_cni_port *p)
{
    char *f[4];

    for (int i = 0; i < 4; i++) {
        f[i] = s;
        if (i < 3) {
            s = strchr(s, ':');
            if (!s)
                return -1;
            *s++ = '\0';
        }
    }
    if (strcmp(f[0], "tcp") != 0 && strcmp(f[0], "udp") != 0)
        return -1;
    p->udp = strcmp(f[0], "udp") == 0;
    p->host_ip = f[1];
    p->host_port = (uint16_t)atoi(f[2]);
    p->container_port = (uint16_t)atoi(f[3]);
    return p->host_port && p->container_port ? 0 : -1;
}

typedef struct named {
    char **pods;
    size_t n;
} named;

static bool is_named(const char *pod, void *data)
{
    const named *k = data;

    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->pods[i], pod) == 0)
            return true;
    return false;
}

static int sweep(const char *bin_dir, const char *cache_dir, char **pods, size_t n)
{
    named k = { pods, n };
    berth_cni *c = NULL;
    berth_error *err = NULL;
    int gone;

    if (berth_cni_open(NULL, bin_dir, cache_dir, &c, &err) < 0)
        return fail(err);
    gone = berth_cni_gc(c, is_named, &k, &err);
    if (gone < 0) {
        berth_cni_close(c);
        return fail(err);
    }
    /* first: what comes after may be more than berthd reads */
    printf("ok %d\n", gone);
    for (size_t i = 0; i < n; i++) {
        if (berth_cni_check(c, pods[i], &err) == 0)
            continue;
        if (err->code != ENOENT) { /* ENOENT: no CNI network (the host's) */
            for (char *p = err->msg; *p; p++)
                if (*p == '\n')
                    *p = ' ';
            printf("broken %s %.300s\n", pods[i], err->msg);
        }
        berth_error_free(&err);
    }
    berth_cni_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    berth_cni *c = NULL;
    berth_error *err = NULL;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berth-cni %s\n", berth_version());
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 9 && strcmp(argv[1], "add") == 0) {
        size_t n = (size_t)argc - 9;
        berth_cni_port *ports = berth_xcalloc(n + 1, sizeof(*ports));
        uint32_t addr;
        char text[INET_ADDRSTRLEN];
        int r;

        for (size_t i = 0; i < n; i++)
            if (parse_port(argv[9 + i], &ports[i]) < 0) {
                fprintf(stderr, "berth-cni: port '%s'?\n", argv[9 + i]);
                return 2;
            }
        r = berth_cni_open(argv[2], argv[3], argv[4], &c, &err);
        if (r == 0)
            r = berth_cni_add(c, argv[5], argv[6], argv[7], argv[8], ports, n, &addr, &err);
        berth_cni_close(c);
        free(ports);
        if (r < 0) {
            return fail(err);
        }
        printf("ok %s\n", inet_ntop(AF_INET, &addr, text, sizeof(text)));
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "del") == 0) {
        int r;

        r = berth_cni_open(NULL, argv[2], argv[3], &c, &err);
        if (r == 0)
            r = berth_cni_del(c, argv[4], &err);
        berth_cni_close(c);
        if (r < 0)
            return fail(err);
        printf("ok\n");
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "sweep") == 0)
        return sweep(argv[2], argv[3], argv + 4, (size_t)argc - 4);
    fprintf(stderr, "usage: berth-cni add CONF_DIR BIN_DIR CACHE_DIR POD NAMESPACE NAME NETNS "
                    "[PORT...] | del BIN_DIR CACHE_DIR POD | sweep BIN_DIR CACHE_DIR [POD...]\n");
    return 2;
}
