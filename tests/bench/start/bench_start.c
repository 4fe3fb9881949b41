/* Container start latency: `berthctl run --rootfs R -- /bin/true` against
 * `crun run` on the same rootfs and against the kernel floor of the same
 * isolation (bench-start-floor, beside this program: floor.c) and that
 * floor with every defence berth gives a container by default (floor.c
 * --full), interleaved (the machines drift); and what a CDI device adds to berth's start (a
 * spec of one node, one mount and a variable, written here). Prints
 * medians, p90, p99 and the ratios. A benchmark, not a test: it asserts
 * nothing.
 *
 *   bench-start BERTHCTL ROOTFS [ITERATIONS]
 *
 * With BENCH_START_BASELINE=OTHER-BERTHCTL (another build, say the commit
 * before a change) one more series runs it the same way, interleaved, and
 * the change's effect is the ratio of the two medians.
 *
 * On a hybrid cgroup host crun refuses to run; like the issue describes, all
 * three run in a private mount namespace with /sys/fs/cgroup/unified
 * unmounted (berth does not care either way). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define WARMUP 5

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Run argv with stdout/stderr to /dev/null; returns wall ms, or -1. */
static double time_run(char **argv)
{
    double t0 = now_ms();
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        return -1;
    return now_ms() - t0;
}

struct series {
    const char *name;
    double *v;
    int n;
};

static void report(struct series *s)
{
    double sum = 0;

    bench_sort(s->v, (size_t)s->n);
    for (int i = 0; i < s->n; i++)
        sum += s->v[i];
    printf("  %-24s %8.2f %8.2f %8.2f %8.2f\n", s->name, bench_pct(s->v, (size_t)s->n, 0.5),
           bench_pct(s->v, (size_t)s->n, 0.9), bench_pct(s->v, (size_t)s->n, 0.99), sum / s->n);
}

/* A CDI spec of one device: a node (of /dev/zero's number), a bind mount
 * of dir itself, a variable. */
static int write_cdi_spec(const char *dir)
{
    char path[4096 + 32];
    FILE *f;

    snprintf(path, sizeof(path), "%s/bench.yaml", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "cdiVersion: \"0.6.0\"\nkind: bench.berth/dev\ndevices:\n  - name: d0\n"
            "    containerEdits:\n      env: [BENCH=1]\n"
            "      deviceNodes: [{path: /dev/bench0, hostPath: /dev/zero}]\n"
            "      mounts: [{hostPath: %s, containerPath: /mnt, options: [ro, bind]}]\n",
            dir);
    return fclose(f) == 0 ? 0 : -1;
}

static int write_crun_bundle(const char *dir, const char *rootfs)
{
    char cmd[1024];

    /* crun's own default config (Docker-like), pointed at our rootfs and
     * /bin/true, without a terminal. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && rm -f config.json && crun spec && "
             "sed -i -e 's|\"path\": \"rootfs\"|\"path\": \"%s\"|' "
             "-e 's|\"terminal\": true|\"terminal\": false|' "
             "-e 's|\"sh\"|\"/bin/true\"|' config.json",
             dir, rootfs);
    return system(cmd) == 0 ? 0 : -1;
}

/* One timed run of argv into s (warm-up runs, i < 0, not kept); -1 with
 * a word on stderr if it failed. */
static int run_into(struct series *s, char **argv, int i)
{
    double t = time_run(argv);

    if (t < 0) {
        fprintf(stderr, "bench-start: %s (%s) failed\n", argv[0], s->name);
        return -1;
    }
    if (i >= 0)
        s->v[s->n++] = t;
    return 0;
}

int main(int argc, char **argv)
{
    const char *berthctl, *rootfs;
    int n = 50;
    char bundle[] = "/tmp/berth-bench-bundle-XXXXXX";
    struct stat st;
    int have_crun;

    if (argc < 3) {
        fprintf(stderr, "usage: %s BERTHCTL ROOTFS [ITERATIONS]\n", argv[0]);
        return 2;
    }
    berthctl = argv[1];
    rootfs = argv[2];
    if (argc > 3)
        n = atoi(argv[3]);
    if (n < 5)
        n = 5;
    if (geteuid() != 0) {
        fprintf(stderr, "bench-start: needs root\n");
        return 1;
    }
    /* A private mount namespace; on hybrid hosts without the unified mount,
     * so crun accepts the host as cgroup v1. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        perror("bench-start: private mount namespace");
        return 1;
    }
    if (stat("/sys/fs/cgroup/unified", &st) == 0)
        umount2("/sys/fs/cgroup/unified", MNT_DETACH);

    have_crun = system("command -v crun >/dev/null 2>&1") == 0;
    if (have_crun && (!mkdtemp(bundle) || write_crun_bundle(bundle, rootfs) < 0)) {
        fprintf(stderr, "bench-start: cannot write the crun bundle\n");
        return 1;
    }

    struct series berth = { "berthctl run", calloc((size_t)n, sizeof(double)), 0 };
    struct series crun = { "crun run", calloc((size_t)n, sizeof(double)), 0 };
    struct series floor_ = { "kernel floor", calloc((size_t)n, sizeof(double)), 0 };
    struct series full = { "floor, berth's defences", calloc((size_t)n, sizeof(double)), 0 };
    struct series dev = { "berthctl run --device", calloc((size_t)n, sizeof(double)), 0 };
    char cdi_dir[] = "/tmp/berth-bench-cdi-XXXXXX";
    char *dev_argv[] = { (char *)berthctl,
                         "run",
                         "--cdi-spec-dir",
                         cdi_dir,
                         "--device",
                         "bench.berth/dev=d0",
                         "--rootfs",
                         (char *)rootfs,
                         "--",
                         "/bin/true",
                         NULL };
    char *berth_argv[] = { (char *)berthctl, "run", "--rootfs", (char *)rootfs, "--",
                           "/bin/true",      NULL };
    char floor_path[4096 + 32], self[4096];
    char *floor_argv[] = { floor_path, (char *)rootfs, "/bin/true", NULL };
    char *full_argv[] = { floor_path, "--full", (char *)rootfs, "/bin/true", NULL };
    const char *baseline = getenv("BENCH_START_BASELINE");
    struct series base = { "baseline berthctl run", calloc((size_t)n, sizeof(double)), 0 };
    char *base_argv[] = { (char *)baseline, "run", "--rootfs", (char *)rootfs, "--",
                          "/bin/true",      NULL };
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (len <= 0) {
        perror("bench-start: /proc/self/exe");
        return 1;
    }
    self[len] = '\0';
    snprintf(floor_path, sizeof(floor_path), "%s/bench-start-floor", dirname(self));
    if (!mkdtemp(cdi_dir) || write_cdi_spec(cdi_dir) < 0) {
        fprintf(stderr, "bench-start: cannot write the CDI spec\n");
        return 1;
    }
    char id[64];
    char *crun_argv[] = { "crun", "run", "--bundle", bundle, id, NULL };

    for (int i = -WARMUP; i < n; i++) {
        if (run_into(&berth, berth_argv, i) < 0)
            return 1;
        if (have_crun) {
            snprintf(id, sizeof(id), "bench-%d-%d", (int)getpid(), i + WARMUP);
            if (run_into(&crun, crun_argv, i) < 0)
                return 1;
        }
        if (run_into(&floor_, floor_argv, i) < 0 || run_into(&full, full_argv, i) < 0 ||
            run_into(&dev, dev_argv, i) < 0 ||
            (baseline && *baseline && run_into(&base, base_argv, i) < 0))
            return 1;
    }

    printf("container start: /bin/true on %s, %d interleaved runs each after %d warm-up\n", rootfs,
           n, WARMUP);
    printf("  %-24s %8s %8s %8s %8s   (ms)\n", "", "median", "p90", "p99", "mean");
    report(&berth);
    if (have_crun)
        report(&crun);
    report(&floor_);
    report(&full);
    report(&dev);
    if (base.n > 0)
        report(&base);
    if (have_crun) {
        double r =
            bench_pct(berth.v, (size_t)berth.n, 0.5) / bench_pct(crun.v, (size_t)crun.n, 0.5);
        printf("  ratio berth/crun (median): %.2f   target <= 0.50: %s\n", r,
               r <= 0.5 ? "met" : "NOT met");
    } else {
        printf("  crun is not installed (deploy/install-deps.sh --bench): no ratio\n");
    }
    {
        double r =
            bench_pct(berth.v, (size_t)berth.n, 0.5) / bench_pct(floor_.v, (size_t)floor_.n, 0.5);
        printf("  ratio berth/floor (median): %.2f  target <= 1.30: %s\n", r,
               r <= 1.3 ? "met" : "NOT met");
    }
    {
        double b = bench_pct(berth.v, (size_t)berth.n, 0.5);
        double f = bench_pct(floor_.v, (size_t)floor_.n, 0.5);
        double ff = bench_pct(full.v, (size_t)full.n, 0.5);

        printf("  ratio berth/(floor with berth's defences) (median): %.2f: berth's own share "
               "%.2f ms, its defences' %.2f ms\n",
               b / ff, b - ff, ff - f);
    }
    printf("  a CDI device (1 node, 1 mount, env) adds %.2f ms to berth's start (median)\n",
           bench_pct(dev.v, (size_t)dev.n, 0.5) - bench_pct(berth.v, (size_t)berth.n, 0.5));
    if (base.n > 0)
        printf("  berthctl run against the baseline (%s), median: %.3f\n", baseline,
               bench_pct(berth.v, (size_t)berth.n, 0.5) / bench_pct(base.v, (size_t)base.n, 0.5));
    {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", cdi_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench-start: could not remove %s\n", cdi_dir);
    }
    if (have_crun) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", bundle);
        if (system(cmd) != 0)
            fprintf(stderr, "bench-start: could not remove %s\n", bundle);
    }
    return 0;
}
