/* Private to the cgroup backends: the driver table and shared helpers. */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include "cgroup.h"

#define CGROUP_V1_MAX 16

/* One mounted v1 hierarchy: where it is and which controllers it carries
 * (the mount's super options, e.g. "cpu,cpuacct" or "name=systemd"). */
struct cgroup_v1_hierarchy {
    char *mountpoint;
    char *options;
};

/* A cgroup backend. Every member must be set. Functions take the error
 * last and return < 0 on failure, as everywhere. */
typedef struct cgroup_ops {
    const char *name;
    /* Create the directories of cg->path (parents as needed) and apply
     * limits and device rules; on failure remove what this call created. */
    int (*create)(berth_cgroup *cg, const berth_cgroup_limits *lim, berth_error **err);
    /* Whether the cgroup exists (0: no, 1: yes). */
    int (*exists)(berth_cgroup *cg, berth_error **err);
    /* Write pid to cgroup.procs of every hierarchy. */
    int (*enter)(berth_cgroup *cg, pid_t pid, berth_error **err);
    /* SIGKILL everything inside, without waiting for anything (see
     * berth_cgroup_kill_all). */
    int (*kill_all)(berth_cgroup *cg, berth_error **err);
    int (*populated)(berth_cgroup *cg, bool *ret_populated, berth_error **err);
    /* rmdir the leaf on every hierarchy; ENOENT is success, EBUSY is
     * returned as is (berth_cgroup_remove_step kills and comes back). */
    int (*remove)(berth_cgroup *cg, berth_error **err);
    int (*oom_kills)(berth_cgroup *cg, uint64_t *ret, berth_error **err);
    int (*stats)(berth_cgroup *cg, berth_cgroup_stats *ret, berth_error **err);
    /* Directory (absolute) that holds control file `file`. */
    int (*file_dir)(berth_cgroup *cg, const char *file, char **ret_dir, berth_error **err);
} cgroup_ops;

struct berth_cgroup_driver {
    berth_cgroup_version version;
    const cgroup_ops *ops;
    char *root; /* v2: the cgroup2 mount point */
    struct cgroup_v1_hierarchy v1[CGROUP_V1_MAX];
    size_t n_v1;
};

struct berth_cgroup {
    berth_cgroup_driver *driver;
    char *path; /* "/berth/web-1" */
};

extern const cgroup_ops cgroup_v1_ops;
extern const cgroup_ops cgroup_v2_ops;

/* The v1 hierarchy carrying controller (NULL if not mounted). */
const struct cgroup_v1_hierarchy *cgroup_v1_find(const berth_cgroup_driver *d,
                                                 const char *controller);

/* Read a small control file into a NUL-terminated buffer (trailing
 * whitespace removed). */
int cgroup_read_file(const char *dir, const char *file, char **ret, berth_error **err);
/* Read "key value" lines, returning the value for key (ENOENT-free: a
 * missing key gives *ret = 0 and returns 0). */
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret,
                      berth_error **err);
/* The value for key in a "key value" text already read (0 when absent). */
uint64_t cgroup_keyed(const char *text, const char *key);
int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret, berth_error **err);
/* Whether the space-separated list (cgroup.controllers) holds word. */
bool cgroup_has_word(const char *list, const char *word);
int cgroup_write(const char *dir, const char *file, const char *value, berth_error **err);
/* SIGKILL every process of a cgroup.procs list (pids, one a line). */
void cgroup_kill_pids(const char *procs);
/* SIGKILL every process listed in dir/cgroup.procs. */
int cgroup_kill_procs(const char *dir, berth_error **err);
/* The error of a removal still not done after waited_ms (EBUSY), saying
 * whether processes are left. Returns -1. */
int cgroup_busy_error(berth_cgroup *cg, int waited_ms, berth_error **err);

/* The standard device allow-list (Docker's defaults). */
struct cgroup_device_rule {
    char type;          /* 'c', 'b' or 'a' */
    int64_t major;      /* -1 = any */
    int64_t minor;      /* -1 = any */
    const char *access; /* subset of "rwm" */
};
extern const struct cgroup_device_rule cgroup_default_devices[];
extern const size_t cgroup_default_devices_len;

/* v1 hierarchies a container joins (for its read-only cgroup mounts). */
size_t cgroup_v1_container_hierarchies(const berth_cgroup_driver *d,
                                       const struct cgroup_v1_hierarchy **out, size_t max);

/* v2: attach the device allow-list (the standard set and devs[0..n)) as
 * an eBPF program to the cgroup dir. */
int cgroup_v2_attach_device_filter(int cgroup_dirfd, const char *path,
                                   const berth_cgroup_device *devs, size_t n, berth_error **err);

#endif
