/* What the benchmarks share: percentiles of a sample, and a process's CPU
 * time and memory from /proc. Figures, not assertions: a value that cannot
 * be read is -1, and the caller prints what it has. */
#ifndef BERTH_BENCH_UTIL_H
#define BERTH_BENCH_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Sort ascending, then the p-quantile (0..1, nearest rank) of the n sorted
 * values; 0 when n is 0. */
void bench_sort(double *v, size_t n);
double bench_pct(const double *sorted, size_t n, double p);

/* utime + stime of pid in clock ticks (sysconf(_SC_CLK_TCK) a second), or
 * -1. */
long bench_cpu_ticks(pid_t pid);
/* A field of /proc/PID/smaps_rollup ("Rss", "Pss") in kB, or -1. */
long bench_smaps_kb(pid_t pid, const char *field);

/* Remove the cgroup parent ("/berth-bench-123") from every hierarchy (v1,
 * the hybrid's unified/, v2), children first; how many directories are
 * left (busy). */
size_t bench_cgroups_remove(const char *parent);
/* What a berthd that was stopped (or never got to remove them) left: ask
 * every monitor under containers_dir (a state dir's containers/) to stop
 * its container now, over its control fifo; then remove the cgroup parent
 * ("/berth-bench-123") from every hierarchy, children first, waiting up to
 * timeout_ms for the stopped containers to leave it. Returns 0 when no
 * cgroup is left, -1 (and says which) otherwise. */
int bench_reap_agent(const char *containers_dir, const char *cgroup_parent, int timeout_ms);

/* system() of a command made like printf's; its status. */
int bench_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
