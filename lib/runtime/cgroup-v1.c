/* cgroup v1 backend: one directory per hierarchy (cpu, cpuacct, cpuset,
 * memory, devices, freezer, pids, blkio, ...), the same relative path in
 * each. Works on hybrid hosts, whose cgroup2 mount is left alone. */
#include "cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* The hierarchies a container joins; those marked optional may be absent. */
static const struct {
    const char *controller;
    bool optional;
} v1_used[] = {
    { "cpu", false },     { "cpuacct", false },   { "cpuset", false }, { "memory", false },
    { "devices", false }, { "freezer", false },   { "pids", false },   { "blkio", true },
    { "net_cls", true },  { "perf_event", true }, { "hugetlb", true },
};

static char *v1_dir(const struct cgroup_v1_hierarchy *h, const char *path)
{
    return berth_xasprintf("%s%s", h->mountpoint, path);
}

/* Iterate over the distinct hierarchies a container uses (cpu and cpuacct
 * may share one). fn returns < 0 to stop. */
static int v1_each(berth_cgroup *cg,
                   int (*fn)(berth_cgroup *, const struct cgroup_v1_hierarchy *, const char *dir,
                             void *, berth_error **),
                   void *arg, berth_error **err)
{
    const struct cgroup_v1_hierarchy *seen[BERTH_ARRAY_SIZE(v1_used)];
    size_t nseen = 0;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(v1_used); i++) {
        const struct cgroup_v1_hierarchy *h = cgroup_v1_find(cg->driver, v1_used[i].controller);
        _cleanup_free_ char *dir = NULL;
        bool dup = false;

        if (!h)
            continue;
        for (size_t j = 0; j < nseen; j++)
            dup |= seen[j] == h;
        if (dup)
            continue;
        seen[nseen++] = h;
        dir = v1_dir(h, cg->path);
        if (fn(cg, h, dir, arg, err) < 0)
            return -1;
    }
    return 0;
}

/* The cgroup's directory in the hierarchy of controller; NULL when that is
 * not mounted (detection made sure berth's required ones are). */
static char *v1_controller_dir(berth_cgroup *cg, const char *controller)
{
    const struct cgroup_v1_hierarchy *h = cgroup_v1_find(cg->driver, controller);

    return h ? v1_dir(h, cg->path) : NULL;
}

/* cpuset children start with empty cpus/mems and refuse tasks until they
 * are set: copy them down from the parent. */
static int v1_cpuset_init(const char *dir, berth_error **err)
{
    _cleanup_free_ char *parent = berth_xstrdup(dir), *cpus = NULL, *mems = NULL, *cur = NULL;
    char *slash;

    slash = strrchr(parent, '/');
    *slash = '\0';
    if (cgroup_read_file(dir, "cpuset.cpus", &cur, err) < 0)
        return -1;
    if (*cur)
        return 0;
    if (cgroup_read_file(parent, "cpuset.cpus", &cpus, err) < 0 ||
        cgroup_read_file(parent, "cpuset.mems", &mems, err) < 0 ||
        cgroup_write(dir, "cpuset.cpus", cpus, err) < 0 ||
        cgroup_write(dir, "cpuset.mems", mems, err) < 0)
        return -1;
    return 0;
}

struct mkdir_state {
    const struct cgroup_v1_hierarchy *made[BERTH_ARRAY_SIZE(v1_used)];
    size_t n;
};

static int v1_mkdir_one(berth_cgroup *cg, const struct cgroup_v1_hierarchy *h, const char *dir,
                        void *arg, berth_error **err)
{
    struct mkdir_state *st = arg;
    bool is_cpuset = cgroup_v1_find(cg->driver, "cpuset") == h;
    size_t mlen = strlen(h->mountpoint);
    _cleanup_free_ char *p = berth_xstrdup(dir);
    bool made;

    /* The parents exist after the first container (berth's /berth): the
     * leaf alone, one mkdir instead of one per level. A cpuset leaf that
     * got no cpus from its parent (no cgroup.clone_children there) goes
     * the long way, which fills its parents in first. */
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
        _cleanup_free_ char *cpus = NULL;

        if (!is_cpuset || (cgroup_read_file(dir, "cpuset.cpus", &cpus, NULL) == 0 && *cpus)) {
            st->made[st->n++] = h;
            return 0;
        }
    } else if (errno != ENOENT) {
        return berth_error_errno(err, "mkdir %s", dir);
    }
    /* Create each missing level below the mount point. */
    for (char *s = p + mlen + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        made = mkdir(p, 0755) == 0;
        if (!made && errno != EEXIST)
            return berth_error_errno(err, "mkdir %s", p);
        /* The caller checked that the cgroup does not exist; a leaf that
         * exists in this hierarchy anyway is a leftover of a crash, and
         * is adopted (and removed on failure like a new one). */
        if (c == '\0')
            st->made[st->n++] = h;
        if (is_cpuset && v1_cpuset_init(p, err) < 0)
            return -1;
        /* A parent level berth made (the cgroup parent, /berth by default):
         * the kernel copies its cpus and mems into each new child at mkdir,
         * and a container's start reads one file instead of three and writes
         * none. Never on a cgroup berth did not make. */
        if (is_cpuset && made && c != '\0')
            cgroup_write(p, "cgroup.clone_children", "1", NULL);
        if (c == '\0')
            break;
        *s = '/';
    }
    return 0;
}

/* One rule per write(2) (the kernel takes one). */
static int v1_write_rule(int fd, const char *path, char type, int64_t major, int64_t minor,
                         const char *access, berth_error **err)
{
    char rule[96], maj[24], min[24];

    snprintf(maj, sizeof(maj), major < 0 ? "*" : "%" PRId64, major);
    snprintf(min, sizeof(min), minor < 0 ? "*" : "%" PRId64, minor);
    snprintf(rule, sizeof(rule), "%c %s:%s %s", type, maj, min, access);
    if (berth_write_all(fd, rule, strlen(rule)) < 0)
        return berth_error_errno(err, "write '%s' to %s", rule, path);
    return 0;
}

static int v1_write_devices(const char *dir, const berth_cgroup_limits *lim, berth_error **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_close_ int fd = -1;

    if (lim->all_devices)
        return cgroup_write(dir, "devices.allow", "a", err);
    if (cgroup_write(dir, "devices.deny", "a", err) < 0)
        return -1;
    /* through one open */
    path = berth_xasprintf("%s/devices.allow", dir);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    for (size_t i = 0; i < cgroup_default_devices_len; i++) {
        const struct cgroup_device_rule *r = &cgroup_default_devices[i];

        if (v1_write_rule(fd, path, r->type, r->major, r->minor, r->access, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < lim->n_devices; i++) {
        const berth_cgroup_device *r = &lim->devices[i];

        if (v1_write_rule(fd, path, r->type, r->major, r->minor, r->access, err) < 0)
            return -1;
    }
    return 0;
}

static int v1_apply(berth_cgroup *cg, const berth_cgroup_limits *lim, berth_error **err)
{
    _cleanup_free_ char *cpu = v1_controller_dir(cg, "cpu");
    _cleanup_free_ char *mem = v1_controller_dir(cg, "memory");
    _cleanup_free_ char *pids = v1_controller_dir(cg, "pids");
    _cleanup_free_ char *cpuset = v1_controller_dir(cg, "cpuset");
    _cleanup_free_ char *dev = v1_controller_dir(cg, "devices");
    char buf[64];

    if (!lim->inherit_devices && v1_write_devices(dev, lim, err) < 0)
        return -1;
    if (lim->cpu_quota_us > 0) {
        snprintf(buf, sizeof(buf), "%" PRId64, lim->cpu_period_us ? lim->cpu_period_us : 100000);
        if (cgroup_write(cpu, "cpu.cfs_period_us", buf, err) < 0)
            return -1;
        snprintf(buf, sizeof(buf), "%" PRId64, lim->cpu_quota_us);
        if (cgroup_write(cpu, "cpu.cfs_quota_us", buf, err) < 0)
            return -1;
    }
    if (lim->cpu_weight > 0) {
        snprintf(buf, sizeof(buf), "%" PRIu64, berth_cgroup_weight_to_shares(lim->cpu_weight));
        if (cgroup_write(cpu, "cpu.shares", buf, err) < 0)
            return -1;
    }
    if (lim->memory_bytes > 0) {
        _cleanup_free_ char *memsw = NULL;

        snprintf(buf, sizeof(buf), "%" PRId64, lim->memory_bytes);
        if (cgroup_write(mem, "memory.limit_in_bytes", buf, err) < 0)
            return -1;
        /* memsw exists only with swap accounting; memory+swap = memory
         * means no swap beyond the limit (docker's --memory-swap default
         * when equal). */
        if (cgroup_read_file(mem, "memory.memsw.limit_in_bytes", &memsw, NULL) == 0 &&
            cgroup_write(mem, "memory.memsw.limit_in_bytes", buf, err) < 0)
            return -1;
    }
    if (lim->pids_max > 0) {
        snprintf(buf, sizeof(buf), "%" PRId64, lim->pids_max);
        if (cgroup_write(pids, "pids.max", buf, err) < 0)
            return -1;
    }
    if (lim->cpuset_cpus && *lim->cpuset_cpus &&
        cgroup_write(cpuset, "cpuset.cpus", lim->cpuset_cpus, err) < 0)
        return -1;
    if (lim->cpuset_mems && *lim->cpuset_mems &&
        cgroup_write(cpuset, "cpuset.mems", lim->cpuset_mems, err) < 0)
        return -1;
    return 0;
}

static int v1_create(berth_cgroup *cg, const berth_cgroup_limits *lim, berth_error **err)
{
    struct mkdir_state st = { .n = 0 };

    if (v1_each(cg, v1_mkdir_one, &st, err) < 0 || v1_apply(cg, lim, err) < 0) {
        for (size_t i = 0; i < st.n; i++) {
            _cleanup_free_ char *dir = v1_dir(st.made[i], cg->path);

            rmdir(dir);
        }
        return -1;
    }
    return 0;
}

static int v1_exists(berth_cgroup *cg, berth_error **err)
{
    _cleanup_free_ char *dir = v1_controller_dir(cg, "memory");
    struct stat st;

    if (stat(dir, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return berth_error_errno(err, "stat %s", dir);
}

static int v1_enter_one(berth_cgroup *cg, const struct cgroup_v1_hierarchy *h, const char *dir,
                        void *arg, berth_error **err)
{
    (void)cg;
    (void)h;
    return cgroup_write(dir, "cgroup.procs", arg, err);
}

static int v1_enter(berth_cgroup *cg, pid_t pid, berth_error **err)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%d", (int)pid);
    return v1_each(cg, v1_enter_one, buf, err);
}

/* A hierarchy's cgroup.procs. On the way out, a cgroup may be gone from
 * some hierarchies already and busy in others: a missing directory is an
 * empty list (*ret NULL). */
static int v1_procs(const char *dir, char **ret, berth_error **err)
{
    _cleanup_error_ berth_error *rerr = NULL;

    *ret = NULL;
    if (cgroup_read_file(dir, "cgroup.procs", ret, &rerr) == 0 || rerr->code == ENOENT)
        return 0;
    if (err)
        *err = TAKE_PTR(rerr);
    return -1;
}

static int v1_kill_one(berth_cgroup *cg, const struct cgroup_v1_hierarchy *h, const char *dir,
                       void *arg, berth_error **err)
{
    _cleanup_free_ char *procs = NULL;

    (void)cg;
    (void)h;
    (void)arg;
    if (v1_procs(dir, &procs, err) < 0)
        return -1;
    if (procs)
        cgroup_kill_pids(procs);
    return 0;
}

/* Freeze, kill, thaw, and never wait: FREEZING -> FROZEN is asynchronous
 * (a task in uninterruptible sleep may hold it up for ever). Tasks frozen
 * by the time the lists are read can no longer fork; a child forked by one
 * that was not yet frozen is missed, and caught by the next kill
 * (berth_cgroup_remove_step kills again while anything is left). SIGKILL
 * reaches the frozen ones as they thaw. Every hierarchy's list is read: a
 * cgroup on its way out may be gone from some (the freezer's too). */
static int v1_kill_all(berth_cgroup *cg, berth_error **err)
{
    _cleanup_free_ char *frz = v1_controller_dir(cg, "freezer");
    _cleanup_error_ berth_error *ferr = NULL;
    bool frozen = cgroup_write(frz, "freezer.state", "FROZEN", &ferr) == 0;
    int r = 0;

    if (!frozen && ferr->code != ENOENT) {
        if (err)
            *err = TAKE_PTR(ferr);
        return -1;
    }
    if (v1_each(cg, v1_kill_one, NULL, err) < 0)
        r = -1;
    if (frozen && cgroup_write(frz, "freezer.state", "THAWED", r < 0 ? NULL : err) < 0)
        r = -1;
    return r;
}

static int v1_populated_one(berth_cgroup *cg, const struct cgroup_v1_hierarchy *h, const char *dir,
                            void *arg, berth_error **err)
{
    _cleanup_free_ char *procs = NULL;

    (void)cg;
    (void)h;
    if (v1_procs(dir, &procs, err) < 0)
        return -1;
    if (procs && *procs)
        *(bool *)arg = true;
    return 0;
}

static int v1_populated(berth_cgroup *cg, bool *ret, berth_error **err)
{
    bool populated = false;

    if (v1_each(cg, v1_populated_one, &populated, err) < 0)
        return -1;
    *ret = populated;
    return 0;
}

static int v1_remove_one(berth_cgroup *cg, const struct cgroup_v1_hierarchy *h, const char *dir,
                         void *arg, berth_error **err)
{
    (void)cg;
    (void)h;
    if (rmdir(dir) < 0 && errno != ENOENT) {
        if (errno == EBUSY)
            *(bool *)arg = true;
        else
            return berth_error_errno(err, "rmdir %s", dir);
    }
    return 0;
}

static int v1_remove(berth_cgroup *cg, berth_error **err)
{
    bool busy = false;

    if (v1_each(cg, v1_remove_one, &busy, err) < 0)
        return -1;
    if (busy)
        return berth_error_set(err, EBUSY, "cgroup %s is busy", cg->path);
    return 0;
}

static int v1_oom_kills(berth_cgroup *cg, uint64_t *ret, berth_error **err)
{
    _cleanup_free_ char *dir = v1_controller_dir(cg, "memory");

    return cgroup_read_keyed(dir, "memory.oom_control", "oom_kill", ret, err);
}

static int v1_stats(berth_cgroup *cg, berth_cgroup_stats *st, berth_error **err)
{
    _cleanup_free_ char *acct = v1_controller_dir(cg, "cpuacct");
    _cleanup_free_ char *cpu = v1_controller_dir(cg, "cpu");
    _cleanup_free_ char *mem = v1_controller_dir(cg, "memory");
    _cleanup_free_ char *pids = v1_controller_dir(cg, "pids");
    _cleanup_free_ char *blkio = v1_controller_dir(cg, "blkio"); /* optional */
    _cleanup_free_ char *ticks = NULL, *stat = NULL, *quota = NULL;
    long hz = sysconf(_SC_CLK_TCK);

    if (cgroup_read_keyed(cpu, "cpu.stat", "throttled_time", &st->cpu_throttled_ns, NULL) < 0)
        st->cpu_throttled_ns = 0;
    if (cgroup_read_u64(acct, "cpuacct.usage", &st->cpu_usage_ns, err) < 0 ||
        cgroup_read_u64(mem, "memory.usage_in_bytes", &st->memory_current, err) < 0 ||
        cgroup_read_u64(mem, "memory.max_usage_in_bytes", &st->memory_peak, err) < 0 ||
        cgroup_read_u64(mem, "memory.limit_in_bytes", &st->memory_limit, err) < 0 ||
        cgroup_read_u64(pids, "pids.current", &st->pids_current, err) < 0)
        return -1;
    if (cgroup_read_u64(cpu, "cpu.cfs_period_us", &st->cpu_period_us, NULL) < 0)
        st->cpu_period_us = 0;
    /* -1: no quota */
    if (cgroup_read_file(cpu, "cpu.cfs_quota_us", &quota, NULL) == 0 && quota[0] != '-')
        st->cpu_quota_us = strtoull(quota, NULL, 10);
    /* cpuacct.stat counts in USER_HZ ticks */
    if (hz > 0 && cgroup_read_file(acct, "cpuacct.stat", &ticks, NULL) == 0) {
        st->cpu_user_ns = cgroup_keyed(ticks, "user") * (uint64_t)(BERTH_NSEC_PER_SEC / hz);
        st->cpu_system_ns = cgroup_keyed(ticks, "system") * (uint64_t)(BERTH_NSEC_PER_SEC / hz);
    }
    st->memory_working_set = st->memory_current;
    if (cgroup_read_file(mem, "memory.stat", &stat, NULL) == 0) {
        uint64_t inactive = cgroup_keyed(stat, "total_inactive_file");

        st->memory_rss = cgroup_keyed(stat, "total_rss");
        st->memory_cache = cgroup_keyed(stat, "total_cache");
        st->memory_working_set = inactive < st->memory_current ? st->memory_current - inactive : 0;
    }
    /* The kernel reports "unlimited" as a page-rounded LONG_MAX. */
    if (st->memory_limit >= (UINT64_C(1) << 62))
        st->memory_limit = UINT64_MAX;
    if (blkio) {
        _cleanup_free_ char *io = NULL;

        if (cgroup_read_file(blkio, "blkio.throttle.io_service_bytes_recursive", &io, NULL) == 0) {
            for (char *line = io; line && *line;) {
                char *nl = strchr(line, '\n'), dev[32], op[16];
                unsigned long long v;

                if (nl)
                    *nl = '\0';
                if (sscanf(line, "%31s %15s %llu", dev, op, &v) == 3) {
                    if (strcmp(op, "Read") == 0)
                        st->io_read_bytes += v;
                    else if (strcmp(op, "Write") == 0)
                        st->io_write_bytes += v;
                }
                line = nl ? nl + 1 : NULL;
            }
        }
    }
    return 0;
}

static int v1_file_dir(berth_cgroup *cg, const char *file, char **ret_dir, berth_error **err)
{
    char controller[32];
    const char *dot = strchr(file, '.');
    size_t len = dot ? (size_t)(dot - file) : 0;

    if (len == 0 || len >= sizeof(controller))
        return berth_error_set(err, EINVAL, "cgroup file '%s' names no controller", file);
    memcpy(controller, file, len);
    controller[len] = '\0';
    if (strcmp(controller, "cgroup") == 0 || strcmp(controller, "tasks") == 0)
        strcpy(controller, "memory");
    if (!cgroup_v1_find(cg->driver, controller))
        return berth_error_set(err, ENOENT, "cgroup v1 controller '%s' is not mounted", controller);
    *ret_dir = v1_controller_dir(cg, controller);
    return 0;
}

const cgroup_ops cgroup_v1_ops = {
    .name = "v1",
    .create = v1_create,
    .exists = v1_exists,
    .enter = v1_enter,
    .kill_all = v1_kill_all,
    .populated = v1_populated,
    .remove = v1_remove,
    .oom_kills = v1_oom_kills,
    .stats = v1_stats,
    .file_dir = v1_file_dir,
};

size_t cgroup_v1_container_hierarchies(const berth_cgroup_driver *d,
                                       const struct cgroup_v1_hierarchy **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(v1_used) && n < max; i++) {
        const struct cgroup_v1_hierarchy *h = cgroup_v1_find(d, v1_used[i].controller);
        bool dup = false;

        if (!h)
            continue;
        for (size_t j = 0; j < n; j++)
            dup |= out[j] == h;
        if (!dup)
            out[n++] = h;
    }
    return n;
}
