/* The benchmarks' shared figures (see bench_util.h). */
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), cmp_double);
}

double bench_pct(const double *sorted, size_t n, double p)
{
    size_t i;

    if (!n)
        return 0;
    i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

long bench_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = berth_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields follow the
     * last ')' */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)(ut + st);
}

long bench_smaps_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    long v = -1, x;
    size_t n = strlen(field);
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &x) == 1)
            v = x;
    fclose(f);
    return v;
}

static void stop_monitors(const char *containers_dir)
{
    DIR *d = opendir(containers_dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[4096];
        int fd;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/control", containers_dir, e->d_name);
        /* nonblocking: a fifo nobody reads any more fails with ENXIO */
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (berth_write_all(fd, "stop 0\n", 7) < 0)
            fprintf(stderr, "bench: stop %s: %s\n", e->d_name, strerror(errno));
        close(fd);
    }
    closedir(d);
}

static int rmdir_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path); /* a busy one is counted by the caller's next glob */
    return 0;
}

size_t bench_cgroups_remove(const char *parent)
{
    /* v1 (and the hybrid's unified/): one directory per hierarchy; v2 */
    const char *roots[] = { "/sys/fs/cgroup/*", "/sys/fs/cgroup" };
    size_t left = 0;

    for (size_t i = 0; i < sizeof(roots) / sizeof(*roots); i++) {
        char pattern[512];
        glob_t g = { 0 };

        snprintf(pattern, sizeof(pattern), "%s%s", roots[i], parent);
        if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            nftw(g.gl_pathv[k], rmdir_entry, 16, FTW_DEPTH | FTW_PHYS);
            left += access(g.gl_pathv[k], F_OK) == 0;
        }
        globfree(&g);
    }
    return left;
}

int bench_reap_agent(const char *containers_dir, const char *cgroup_parent, int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    size_t left;

    stop_monitors(containers_dir);
    while ((left = bench_cgroups_remove(cgroup_parent)) > 0 && berth_now_mono_ns() < end)
        usleep(50000);
    if (left)
        fprintf(stderr, "bench: %zu cgroups of %s are left (busy)\n", left, cgroup_parent);
    return left ? -1 : 0;
}

int bench_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}
