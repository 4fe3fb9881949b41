/* Memory of a supervisor while its container sleeps: berth-monitor against
 * conmon (with crun) supervising the same container from the same rootfs,
 * measured from /proc/PID/smaps_rollup with 1 and with N instances running
 * (text pages are shared between instances; anonymous memory is not).
 * A benchmark: it prints figures and asserts nothing.
 *
 *   bench-monitor BERTH_MONITOR ROOTFS [N]
 *
 * Runs in a private mount namespace without /sys/fs/cgroup/unified so that
 * crun accepts a hybrid host (berth does not care). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "bench_util.h"
#include "statedir/statedir.h"

/* this run's own: removed at the end */
static char cgroup_parent[64];

struct mem {
    long rss, pss, anon;
};

static int read_mem(pid_t pid, struct mem *m)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    memset(m, 0, sizeof(*m));
    while (fgets(line, sizeof(line), f)) {
        sscanf(line, "Rss: %ld", &m->rss);
        sscanf(line, "Pss: %ld", &m->pss);
        sscanf(line, "Pss_Anon: %ld", &m->anon);
    }
    fclose(f);
    return 0;
}

static void report(const char *name, int n, struct mem *ms)
{
    struct mem sum = { 0 };

    for (int i = 0; i < n; i++) {
        sum.rss += ms[i].rss;
        sum.pss += ms[i].pss;
        sum.anon += ms[i].anon;
    }
    printf("  %-16s x%-3d  PSS %6.0f kB   anon %6.0f kB   RSS %6.0f kB   (per instance)\n", name, n,
           (double)sum.pss / n, (double)sum.anon / n, (double)sum.rss / n);
}

static int berth_round(const char *monitor, const char *rootfs, int n, struct mem *out)
{
    static char *cmd[] = { "/bin/sleep", "1000" };
    char dirs[64][128];
    int r = 0;

    for (int i = 0; i < n; i++) {
        ContainerPlan plan = CONTAINER_PLAN_INIT;
        ContainerSpec spec = CONTAINER_SPEC_INIT;
        berth_error *err = NULL;
        char id[32];
        pid_t pid;
        int fd;

        snprintf(dirs[i], sizeof(dirs[i]), "/tmp/berth-bench-mon-%d-%d", (int)getpid(), i);
        snprintf(id, sizeof(id), "bench-mon-%d", i);
        mkdir(dirs[i], 0700);
        fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        spec.id = id;
        spec.rootfs = (char *)rootfs;
        spec.command = cmd;
        spec.n_command = 2;
        plan.spec = &spec;
        plan.cgroup_parent = cgroup_parent;
        if (berth_statedir_write_plan(fd, &plan, &err) < 0 ||
            berth_monitor_start(monitor, dirs[i], 30000, &pid, &err) < 0) {
            fprintf(stderr, "bench-monitor: %s\n", err->msg);
            return -1;
        }
        close(fd);
    }
    usleep(300 * 1000);
    for (int i = 0; i < n; i++) {
        MonitorState *st = NULL;
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (berth_statedir_read_state(fd, &st, NULL) < 0 || read_mem(st->monitor_pid, &out[i]) < 0)
            r = -1;
        if (st)
            monitor_state_free_unpacked(st, NULL);
        berth_monitor_stop(fd, 0, NULL);
        close(fd);
    }
    for (int i = 0; i < n; i++) {
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        berth_monitor_liveness l = BERTH_MONITOR_ALIVE;

        for (int t = 0; t < 500 && l == BERTH_MONITOR_ALIVE; t++) {
            berth_monitor_probe(fd, &l, NULL);
            usleep(10 * 1000);
        }
        close(fd);
        berth_rm_rf_at(AT_FDCWD, dirs[i], NULL);
    }
    return r;
}

static int conmon_round(const char *rootfs, int n, struct mem *out)
{
    const char *base = "/tmp/berth-bench-conmon";
    int r = 0;

    bench_sh("rm -rf %s && mkdir -p %s/bundle %s/exit %s/sock && cd %s/bundle && crun spec && "
             "sed -i -e 's|\"path\": \"rootfs\"|\"path\": \"%s\"|' -e 's|\"terminal\": true|"
             "\"terminal\": false|' -e 's|\"sh\"|\"/bin/sleep\", \"1000\"|' config.json",
             base, base, base, base, base, rootfs);
    for (int i = 0; i < n; i++) {
        if (bench_sh(
                "conmon -c bcm%d -u bcm%d -n bcm%d -r /usr/bin/crun -b %s/bundle -p %s/pid%d "
                "-P %s/conmon%d.pid -l k8s-file:%s/ctr%d.log --exit-dir %s/exit "
                "--socket-dir-path %s/sock --syslog >/dev/null 2>&1 && "
                "for t in $(seq 100); do crun state bcm%d >/dev/null 2>&1 && break; sleep 0.05; "
                "done && crun start bcm%d",
                i, i, i, base, base, i, base, i, base, i, base, base, i, i) != 0) {
            fprintf(stderr, "bench-monitor: conmon %d did not start\n", i);
            r = -1;
        }
    }
    usleep(300 * 1000);
    for (int i = 0; i < n && r == 0; i++) {
        char path[256];
        char *pid = NULL;

        snprintf(path, sizeof(path), "%s/conmon%d.pid", base, i);
        if (berth_read_file_at(AT_FDCWD, path, 64, &pid, NULL, NULL) < 0 ||
            read_mem((pid_t)atoi(pid), &out[i]) < 0)
            r = -1;
        free(pid);
    }
    for (int i = 0; i < n; i++)
        bench_sh(
            "crun kill bcm%d KILL >/dev/null 2>&1; sleep 0.1; crun delete -f bcm%d >/dev/null 2>&1",
            i, i);
    bench_sh("rm -rf %s", base);
    return r;
}

int main(int argc, char **argv)
{
    int n = argc > 3 ? atoi(argv[3]) : 10;
    struct mem ms[64];
    struct stat st;
    bool conmon = system("command -v conmon >/dev/null 2>&1 && command -v crun >/dev/null") == 0;

    snprintf(cgroup_parent, sizeof(cgroup_parent), "/berth-bench-monitor-%d", (int)getpid());
    if (argc < 3) {
        fprintf(stderr, "usage: %s BERTH_MONITOR ROOTFS [N]\n", argv[0]);
        return 2;
    }
    if (n < 1 || n > 64)
        n = 10;
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("bench-monitor: private mount namespace");
        return 1;
    }
    if (stat("/sys/fs/cgroup/unified", &st) == 0)
        umount2("/sys/fs/cgroup/unified", MNT_DETACH);

    printf("supervisor memory while its container sleeps (smaps_rollup)\n");
    for (int round = 0; round < 2; round++) {
        int k = round == 0 ? 1 : n;

        if (berth_round(argv[1], argv[2], k, ms) == 0)
            report("berth-monitor", k, ms);
        else
            printf("  berth-monitor x%d: failed\n", k);
        if (!conmon)
            continue;
        if (conmon_round(argv[2], k, ms) == 0)
            report("conmon (+crun)", k, ms);
        else
            printf("  conmon x%d: failed\n", k);
    }
    if (!conmon)
        printf("  conmon or crun not installed (deploy/install-deps.sh --bench): no reference\n");
    printf("  target: berth-monitor <= 300 kB PSS\n");
    if (bench_cgroups_remove(cgroup_parent) > 0)
        fprintf(stderr, "bench-monitor: cgroups of %s are left\n", cgroup_parent);
    return 0;
}
