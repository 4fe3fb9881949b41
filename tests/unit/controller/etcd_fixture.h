/* A real etcd for unit tests: one member on loopback ports of its own, in a
 * temporary directory, started once per test case (an unchecked fixture,
 * in Check's parent process) and stopped with it. */
#ifndef BERTH_TEST_ETCD_FIXTURE_H
#define BERTH_TEST_ETCD_FIXTURE_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/io.h"
#include "etcd.h"

static char etcd_dir[] = "/tmp/berth-etcd-XXXXXX";
static char etcd_endpoint[64];
static pid_t etcd_pid;

static int etcd_free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void etcd_start(void)
{
    char client[64], peer[64], cluster[96], data[128], log[128];
    berth_etcd_config cfg = { .n_endpoints = 1, .timeout_ms = 1000 };
    berth_etcd *e = NULL;
    int port = etcd_free_port(), pport = etcd_free_port();

    ck_assert_ptr_nonnull(mkdtemp(etcd_dir));
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pport);
    snprintf(cluster, sizeof(cluster), "t=%s", peer);
    snprintf(data, sizeof(data), "%s/data", etcd_dir);
    snprintf(log, sizeof(log), "%s/etcd.log", etcd_dir);
    snprintf(etcd_endpoint, sizeof(etcd_endpoint), "%s", client);
    etcd_pid = fork();
    ck_assert_int_ge(etcd_pid, 0);
    if (etcd_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        dup2(fd, 1);
        dup2(fd, 2);
        execlp("etcd", "etcd", "--name", "t", "--data-dir", data, "--listen-client-urls", client,
               "--advertise-client-urls", client, "--listen-peer-urls", peer,
               "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster, "--max-txn-ops",
               "65536", "--max-request-bytes", "33554432", (char *)NULL);
        fprintf(stderr, "exec etcd: %s (deploy/install-deps.sh installs etcd-server)\n",
                strerror(errno));
        _exit(127);
    }
    cfg.endpoints[0] = etcd_endpoint;
    ck_assert_int_eq(berth_etcd_new(&cfg, &e, NULL), 0);
    for (int i = 0; i < 200; i++) {
        berth_etcd_status s;
        int status;
        struct timespec ts = { 0, 50 * 1000 * 1000 };

        berth_etcd_status_of(e, 0, &s);
        if (!s.error[0] && s.leader_id) {
            berth_etcd_free(e);
            return;
        }
        ck_assert_msg(waitpid(etcd_pid, &status, WNOHANG) == 0, "etcd exited: see %s", log);
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("etcd did not come up in 10 s: see %s", log);
}

static void etcd_stop(void)
{
    if (etcd_pid > 0) {
        kill(etcd_pid, SIGTERM);
        waitpid(etcd_pid, NULL, 0);
        etcd_pid = 0;
    }
    berth_rm_rf_at(AT_FDCWD, etcd_dir, NULL);
    strcpy(etcd_dir, "/tmp/berth-etcd-XXXXXX");
}

#endif
