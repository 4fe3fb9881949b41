/* A berthd for the agent benchmarks (see agentd.h). */
#include "agentd.h"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "bench_util.h"

int bench_agentd_setup(bench_agentd *a, const char *name, const char *berthd_bin,
                       const char *rootfs)
{
    char path[600], cmd[1400];
    berth_keypair node_key;
    berth_error *err = NULL;

    a->name = name;
    a->berthd_bin = berthd_bin;
    a->berthd = -1;
    snprintf(a->dir, sizeof(a->dir), "/tmp/berth-bench-%s-%d", name, (int)getpid());
    snprintf(a->state, sizeof(a->state), "%s/agent/containers", a->dir);
    snprintf(a->parent, sizeof(a->parent), "/berth-bench-%s-%d", name, (int)getpid());
    snprintf(a->cfgpath, sizeof(a->cfgpath), "%s/agent.yaml", a->dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/images && cp -a %s %s/images/bb", a->dir, rootfs,
             a->dir);
    if (system(cmd) != 0)
        return -1;
    /* a loop given (shared with another agent's controller) stays the caller's */
    a->own_loop = !a->loop;
    if ((a->own_loop && berth_loop_new(&a->loop, &err) < 0) ||
        berth_keypair_generate(&node_key, &err) < 0)
        goto fail;
    memcpy(a->node_pk, node_key.pk, sizeof(a->node_pk));
    snprintf(path, sizeof(path), "%s/node.key", a->dir);
    if (berth_keypair_save(AT_FDCWD, path, &node_key, &err) < 0)
        goto fail;
    fake_ctl_start(&a->ctl, a->loop, a->dir, "bench", node_key.pk);
    a->ctl.heartbeat_ms = 1000;
    snprintf(path, sizeof(path), "%s/controller.pub", a->dir);
    if (berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])a->ctl.party.key.pk,
                           1, &err) < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "bench-%s: %s\n", name, err->msg);
    berth_error_free(&err);
    return -1;
}

static bench_agentd *waiting;

static bool registered(void)
{
    return waiting->ctl.registrations > 0;
}

int bench_agentd_start(bench_agentd *a, bool wait)
{
    char text[4096];
    berth_error *err = NULL;
    int n = snprintf(text, sizeof(text),
                     "node_name: bench\n"
                     "controller: {address: '%s', key: %s/controller.pub}\n"
                     "state_dir: %s/agent\nimage_store: %s/images\nkey: %s/node.key\n"
                     "cgroup_parent: %s\nsocket: %s/agent.sock\nlisten: off\n"
                     "log: {level: warn}\n%s",
                     a->ctl.rpc, a->dir, a->dir, a->dir, a->dir, a->parent, a->dir,
                     /* no pod network unless asked: the fake controller gives no range */
                     *a->extra_yaml ? a->extra_yaml : "pod_network: {mode: none}\n");

    if (berth_write_file_atomic_at(AT_FDCWD, a->cfgpath, text, (size_t)n, 0600, &err) < 0) {
        fprintf(stderr, "bench-%s: %s\n", a->name, err->msg);
        berth_error_free(&err);
        return -1;
    }
    a->berthd = fork();
    if (a->berthd == 0) {
        char path[600];
        int fd;

        snprintf(path, sizeof(path), "%s/berthd.log", a->dir);
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        /* the pod network's bridge and rules there, not on this machine */
        if (a->own_netns && (unshare(CLONE_NEWNET) < 0 || system("ip link set lo up") != 0))
            _exit(126);
        execl(a->berthd_bin, a->berthd_bin, "-c", a->cfgpath, (char *)NULL);
        _exit(127);
    }
    waiting = a;
    if (wait && !bench_agentd_wait(a, registered, 15000)) {
        fprintf(stderr, "bench-%s: berthd did not register (see %s/berthd.log)\n", a->name, a->dir);
        return -1;
    }
    return 0;
}

void bench_agentd_stop(bench_agentd *a)
{
    int status;

    if (a->berthd <= 0)
        return;
    kill(a->berthd, SIGTERM);
    berth_waitpid(a->berthd, &status, 0);
    a->berthd = -1;
}

bool bench_agentd_wait(bench_agentd *a, bool (*pred)(void), int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    while (!pred()) {
        if (berth_now_mono_ns() > end)
            return false;
        run_for(a->loop, 5);
    }
    return true;
}

bool bench_agentd_empty(const bench_agentd *a)
{
    DIR *d = opendir(a->state);
    struct dirent *e;
    int n = 0;

    if (!d)
        return true;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n == 0;
}

void bench_agentd_teardown(bench_agentd *a, bool keep)
{
    bench_agentd_stop(a);
    if (a->loop) {
        fake_ctl_stop(&a->ctl);
        if (a->own_loop)
            berth_loop_free(a->loop);
        a->loop = NULL;
    }
    /* containers a failed round left running (berthd leaves them when it
     * stops), then their cgroups */
    bench_reap_agent(a->state, a->parent, 10000);
    if (keep)
        fprintf(stderr, "bench-%s: kept %s (berthd.log) for a look\n", a->name, a->dir);
    else if (berth_rm_rf_at(AT_FDCWD, a->dir, NULL) < 0)
        fprintf(stderr, "bench-%s: cleanup of %s failed\n", a->name, a->dir);
}
