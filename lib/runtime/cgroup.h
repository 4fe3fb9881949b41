/* cgroups for containers: detect the host's layout (unified v2, or v1
 * hierarchies, including the hybrid hosts that also mount an almost empty
 * cgroup2 at /sys/fs/cgroup/unified), create a container's cgroup with its
 * limits and device rules, move processes in, read figures, kill everything
 * inside, and remove it. One backend per version behind a const table
 * (cgroup-internal.h). None of this is thread-safe; each object belongs to
 * one thread. */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

typedef enum berth_cgroup_version {
    BERTH_CGROUP_V1 = 1,
    BERTH_CGROUP_V2 = 2,
} berth_cgroup_version;

/* The host's cgroup layout, detected once. */
typedef struct berth_cgroup_driver berth_cgroup_driver;

/* Detect the layout under root (NULL: /sys/fs/cgroup). v2 when root itself
 * is cgroup2; v1 when it holds cgroup v1 hierarchies (the cgroup2 mount of a
 * hybrid host is then ignored). Fails when neither is usable or a controller
 * berth needs (cpu, memory, pids) is missing. */
int berth_cgroup_driver_detect(const char *root, berth_cgroup_driver **ret_driver,
                               berth_error **err);
void berth_cgroup_driver_free(berth_cgroup_driver *d);
berth_cgroup_version berth_cgroup_driver_version(const berth_cgroup_driver *d);

/* A device the container may use on top of the standard set: a device
 * cgroup rule (v1 devices.allow, a rule of the v2 device program). */
typedef struct berth_cgroup_device {
    char type;      /* 'c' or 'b' */
    int64_t major;  /* -1 = any */
    int64_t minor;  /* -1 = any */
    char access[4]; /* a non-empty subset of "rwm" */
} berth_cgroup_device;

/* At most this many devices per cgroup (the v2 program's size). */
#define BERTH_CGROUP_DEVICES_MAX 256

/* Limits; 0 / NULL means "not limited" (inherit). */
typedef struct berth_cgroup_limits {
    int64_t cpu_quota_us;  /* with cpu_period_us; 0 = no quota */
    int64_t cpu_period_us; /* 0 = 100000 */
    uint32_t cpu_weight;   /* 1..10000 (v2 scale), 0 = default */
    int64_t memory_bytes;  /* memory and memory+swap limit */
    int64_t pids_max;
    const char *cpuset_cpus;
    const char *cpuset_mems;
    /* every device (a privileged container): no device rule */
    bool all_devices;
    /* no device rule of its own: its parent's bound it (v1: a new cgroup
     * copies them; v2: the parents' programs run). For a cgroup that
     * holds only cgroups with rules of their own (a pod's). */
    bool inherit_devices;
    /* allowed besides the standard set (at most BERTH_CGROUP_DEVICES_MAX) */
    const berth_cgroup_device *devices;
    size_t n_devices;
} berth_cgroup_limits;

typedef struct berth_cgroup berth_cgroup;

/* Create the cgroup at path (absolute from the hierarchy root, e.g.
 * "/berth/web-1"; missing parents are created and, on v2, get the needed
 * controllers enabled), restrict devices to the standard set (null, zero,
 * full, random, urandom, tty, console, ptmx, pts) and lim->devices, and
 * apply lim. Fails with
 * EEXIST if the cgroup already exists. On failure nothing is left behind. */
int berth_cgroup_create(berth_cgroup_driver *d, const char *path, const berth_cgroup_limits *lim,
                        berth_cgroup **ret_cg, berth_error **err);

/* Open an existing cgroup (after a restart: stats, kill, destroy). */
int berth_cgroup_open(berth_cgroup_driver *d, const char *path, berth_cgroup **ret_cg,
                      berth_error **err);

/* The leaf a supervisor (berth-monitor) moves itself into when it sits in
 * the very cgroup it makes a container's cgroup under (its delegated
 * systemd scope): on v2 a cgroup that holds processes cannot hand
 * controllers to its children. A leading dot, as systemd's ".control":
 * no container id starts with one. */
#define BERTH_CGROUP_SUPERVISOR_LEAF ".berth-monitor"

/* If the calling process sits in cgroup parent itself, move it into
 * parent/BERTH_CGROUP_SUPERVISOR_LEAF (made as needed), so that parent may
 * delegate controllers to a sibling. v2 only: a no-op on v1, which has no
 * such rule, for the root (exempt from it), and for a process anywhere
 * else. */
int berth_cgroup_step_aside(berth_cgroup_driver *d, const char *parent, berth_error **err);

/* Move pid into the cgroup (every hierarchy on v1). */
int berth_cgroup_enter(berth_cgroup *cg, pid_t pid, berth_error **err);

/* v2 only: the cgroup's directory, opened for clone3's CLONE_INTO_CGROUP
 * (a child born inside: no move into it after the clone). */
int berth_cgroup_open_fd(berth_cgroup *cg, int *ret_fd, berth_error **err);

/* SIGKILL every process in the cgroup: cgroup.kill on v2; on v1 (and v2
 * kernels before 5.14) freeze, kill what is listed, thaw. Never waits, for
 * the processes to go or for the freeze to complete, so a process forked
 * while the list was read may be missed: killing again while the cgroup is
 * populated catches it (berth_cgroup_remove_step does). */
int berth_cgroup_kill_all(berth_cgroup *cg, berth_error **err);

/* Whether any process is left in the cgroup. */
int berth_cgroup_populated(berth_cgroup *cg, bool *ret_populated, berth_error **err);

/* One step of removing the cgroup: try to remove its directories and, when
 * processes are still inside, kill them (not waiting for them to go). Never
 * blocks. 1: the cgroup is gone (it may have been gone already); 0: not
 * yet, call again later (killed processes leave asynchronously, and on v1
 * only looking again tells when they have); -1: failed. The parents stay.
 * An event loop drives it from a timer with a deadline: runtime/removal.h. */
int berth_cgroup_remove_step(berth_cgroup *cg, berth_error **err);

/* BLOCKING: berth_cgroup_remove_step until it is done, sleeping between
 * steps, for up to timeout_ms (then EBUSY). Only for programs without an
 * event loop (berthctl run in the foreground, tests); it lives apart
 * (wait.c), and neither berthd nor berth-monitor links it (the test
 * agent-no-blocking-waits checks their binaries). */
int berth_cgroup_destroy(berth_cgroup *cg, int timeout_ms, berth_error **err);

/* Number of OOM kills inside the cgroup so far (v2 memory.events
 * oom_kill; v1 memory.oom_control oom_kill). */
int berth_cgroup_oom_kills(berth_cgroup *cg, uint64_t *ret_count, berth_error **err);

typedef struct berth_cgroup_stats {
    uint64_t cpu_usage_ns;
    uint64_t cpu_user_ns, cpu_system_ns; /* its parts (v1: in USER_HZ ticks, 10 ms) */
    uint64_t cpu_throttled_ns;           /* time held back by the CPU limit (0 without one) */
    /* The CPU limit in force: quota per period, in microseconds (quota 0:
     * none; period 0: unknown). */
    uint64_t cpu_quota_us, cpu_period_us;
    uint64_t memory_current;
    /* What the kernel cannot just drop: memory_current less the file
     * cache it would reclaim first (inactive_file), as cAdvisor and the
     * kubelet's eviction count it. */
    uint64_t memory_working_set;
    uint64_t memory_rss;   /* anonymous memory (v1: total_rss) */
    uint64_t memory_cache; /* file cache (v1: total_cache) */
    uint64_t memory_peak;  /* 0 if the kernel does not track it */
    uint64_t memory_limit; /* UINT64_MAX when unlimited */
    uint64_t pids_current;
    uint64_t io_read_bytes;
    uint64_t io_write_bytes;
} berth_cgroup_stats;

int berth_cgroup_stats_read(berth_cgroup *cg, berth_cgroup_stats *ret_stats, berth_error **err);

const char *berth_cgroup_path(const berth_cgroup *cg);

/* Read one control file of the cgroup (on v1: of the hierarchy that has it,
 * chosen by the file's prefix, e.g. "memory.max_usage_in_bytes"). The
 * caller frees *ret_value; trailing newline removed. For tests and tools. */
int berth_cgroup_read(berth_cgroup *cg, const char *file, char **ret_value, berth_error **err);

/* Frees memory only; the cgroup itself stays (see remove_step). NULL is
 * fine. */
void berth_cgroup_free(berth_cgroup *cg);

/* cpu.weight (1..10000) to v1 cpu.shares (2..262144), as runc and crun
 * convert. */
uint64_t berth_cgroup_weight_to_shares(uint32_t weight);

#endif
