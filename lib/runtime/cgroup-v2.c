/* cgroup v2 backend: one unified hierarchy; controllers are enabled down the
 * path through cgroup.subtree_control; device rules are an eBPF program. */
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
#include "base/xalloc.h"

static char *v2_dir(berth_cgroup *cg)
{
    return berth_xasprintf("%s%s", cg->driver->root, cg->path);
}

/* Enable the controllers berth uses in dir's children, as far as dir has
 * them. */
static int v2_enable_controllers(const char *dir, berth_error **err)
{
    static const char *const wanted[] = { "cpu", "cpuset", "memory", "pids", "io" };
    _cleanup_free_ char *avail = NULL, *enabled = NULL;

    if (cgroup_read_file(dir, "cgroup.controllers", &avail, err) < 0 ||
        cgroup_read_file(dir, "cgroup.subtree_control", &enabled, err) < 0)
        return -1;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(wanted); i++) {
        char op[32];

        if (!cgroup_has_word(avail, wanted[i]) || cgroup_has_word(enabled, wanted[i]))
            continue;
        snprintf(op, sizeof(op), "+%s", wanted[i]);
        if (cgroup_write(dir, "cgroup.subtree_control", op, err) < 0) {
            if (err && *err && (*err)->code == EBUSY)
                berth_error_prefix(err,
                                   "%s has processes of its own, so it cannot delegate "
                                   "controllers (choose a cgroup parent outside it)",
                                   dir);
            return -1;
        }
    }
    return 0;
}

static int v2_apply(const char *dir, const berth_cgroup_limits *lim, berth_error **err)
{
    char buf[64];

    if (lim->cpu_quota_us > 0 || lim->cpu_period_us > 0) {
        int64_t period = lim->cpu_period_us ? lim->cpu_period_us : 100000;

        if (lim->cpu_quota_us > 0)
            snprintf(buf, sizeof(buf), "%" PRId64 " %" PRId64, lim->cpu_quota_us, period);
        else
            snprintf(buf, sizeof(buf), "max %" PRId64, period);
        if (cgroup_write(dir, "cpu.max", buf, err) < 0)
            return -1;
    }
    if (lim->cpu_weight > 0) {
        snprintf(buf, sizeof(buf), "%" PRIu32, lim->cpu_weight);
        if (cgroup_write(dir, "cpu.weight", buf, err) < 0)
            return -1;
    }
    if (lim->memory_bytes > 0) {
        _cleanup_free_ char *swap = NULL;

        snprintf(buf, sizeof(buf), "%" PRId64, lim->memory_bytes);
        if (cgroup_write(dir, "memory.max", buf, err) < 0)
            return -1;
        /* v2 limits swap separately: none beyond the memory limit. */
        if (cgroup_read_file(dir, "memory.swap.max", &swap, NULL) == 0 &&
            cgroup_write(dir, "memory.swap.max", "0", err) < 0)
            return -1;
    }
    if (lim->pids_max > 0) {
        snprintf(buf, sizeof(buf), "%" PRId64, lim->pids_max);
        if (cgroup_write(dir, "pids.max", buf, err) < 0)
            return -1;
    }
    if (lim->cpuset_cpus && *lim->cpuset_cpus &&
        cgroup_write(dir, "cpuset.cpus", lim->cpuset_cpus, err) < 0)
        return -1;
    if (lim->cpuset_mems && *lim->cpuset_mems &&
        cgroup_write(dir, "cpuset.mems", lim->cpuset_mems, err) < 0)
        return -1;
    return 0;
}

static int v2_create(berth_cgroup *cg, const berth_cgroup_limits *lim, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);
    _cleanup_close_ int dfd = -1;
    size_t rootlen = strlen(cg->driver->root);

    /* Walk down from the root: each level enables controllers for the next. */
    for (char *s = dir + rootlen + 1;; s++) {
        char c = *s;

        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        {
            char *slash = strrchr(dir, '/');
            *slash = '\0';
            if (v2_enable_controllers(slash == dir ? "/" : dir, err) < 0)
                return -1;
            *slash = '/';
        }
        if (mkdir(dir, 0755) < 0 && (errno != EEXIST || c == '\0'))
            return berth_error_errno(err, "mkdir %s", dir);
        if (c == '\0')
            break;
        *s = '/';
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        berth_error_errno(err, "open %s", dir);
        goto fail;
    }
    if ((!lim->all_devices && !lim->inherit_devices &&
         cgroup_v2_attach_device_filter(dfd, dir, lim->devices, lim->n_devices, err) < 0) ||
        v2_apply(dir, lim, err) < 0)
        goto fail;
    return 0;
fail:
    rmdir(dir);
    return -1;
}

static int v2_exists(berth_cgroup *cg, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);
    struct stat st;

    if (stat(dir, &st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return berth_error_errno(err, "stat %s", dir);
}

static int v2_enter(berth_cgroup *cg, pid_t pid, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);
    char buf[24];

    snprintf(buf, sizeof(buf), "%d", (int)pid);
    return cgroup_write(dir, "cgroup.procs", buf, err);
}

static int v2_kill_all(berth_cgroup *cg, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);
    _cleanup_error_ berth_error *kerr = NULL;
    int r;

    if (cgroup_write(dir, "cgroup.kill", "1", &kerr) == 0)
        return 0;
    if (kerr->code != ENOENT) {
        if (err)
            *err = TAKE_PTR(kerr);
        return -1;
    }
    /* Kernels before 5.14 have no cgroup.kill: freeze, kill, thaw, not
     * waiting for the freeze either (see v1_kill_all). */
    if (cgroup_write(dir, "cgroup.freeze", "1", err) < 0)
        return -1;
    r = cgroup_kill_procs(dir, err);
    if (cgroup_write(dir, "cgroup.freeze", "0", r < 0 ? NULL : err) < 0)
        r = -1;
    return r;
}

static int v2_populated(berth_cgroup *cg, bool *ret, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);
    uint64_t v;

    if (cgroup_read_keyed(dir, "cgroup.events", "populated", &v, err) < 0)
        return -1;
    *ret = v != 0;
    return 0;
}

static int v2_remove(berth_cgroup *cg, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);

    if (rmdir(dir) < 0 && errno != ENOENT)
        return berth_error_errno(err, "rmdir %s", dir);
    return 0;
}

static int v2_oom_kills(berth_cgroup *cg, uint64_t *ret, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg);

    return cgroup_read_keyed(dir, "memory.events", "oom_kill", ret, err);
}

static int v2_stats(berth_cgroup *cg, berth_cgroup_stats *st, berth_error **err)
{
    _cleanup_free_ char *dir = v2_dir(cg), *io = NULL, *cpu = NULL, *mem = NULL, *max = NULL;
    uint64_t inactive;

    if (cgroup_read_file(dir, "cpu.stat", &cpu, err) < 0 ||
        cgroup_read_u64(dir, "memory.current", &st->memory_current, err) < 0 ||
        cgroup_read_u64(dir, "memory.max", &st->memory_limit, err) < 0 ||
        cgroup_read_u64(dir, "pids.current", &st->pids_current, err) < 0)
        return -1;
    st->cpu_usage_ns = cgroup_keyed(cpu, "usage_usec") * 1000;
    st->cpu_user_ns = cgroup_keyed(cpu, "user_usec") * 1000;
    st->cpu_system_ns = cgroup_keyed(cpu, "system_usec") * 1000;
    /* Only with the cpu controller enabled for the cgroup (0 otherwise). */
    st->cpu_throttled_ns = cgroup_keyed(cpu, "throttled_usec") * 1000;
    if (cgroup_read_file(dir, "cpu.max", &max, NULL) == 0) {
        char quota[32] = "";
        unsigned long long period = 0;

        if (sscanf(max, "%31s %llu", quota, &period) == 2) {
            st->cpu_period_us = period;
            st->cpu_quota_us = strcmp(quota, "max") == 0 ? 0 : strtoull(quota, NULL, 10);
        }
    }
    st->memory_working_set = st->memory_current;
    if (cgroup_read_file(dir, "memory.stat", &mem, NULL) == 0) {
        st->memory_rss = cgroup_keyed(mem, "anon");
        st->memory_cache = cgroup_keyed(mem, "file");
        inactive = cgroup_keyed(mem, "inactive_file");
        st->memory_working_set = inactive < st->memory_current ? st->memory_current - inactive : 0;
    }
    /* memory.peak appeared in 5.19. */
    if (cgroup_read_u64(dir, "memory.peak", &st->memory_peak, NULL) < 0)
        st->memory_peak = 0;
    if (cgroup_read_file(dir, "io.stat", &io, NULL) == 0) {
        for (char *tok = io; (tok = strstr(tok, "bytes="));) {
            uint64_t v = strtoull(tok + 6, NULL, 10);

            if (tok - io >= 1 && tok[-1] == 'r')
                st->io_read_bytes += v;
            else if (tok - io >= 1 && tok[-1] == 'w')
                st->io_write_bytes += v;
            tok += 6;
        }
    }
    return 0;
}

static int v2_file_dir(berth_cgroup *cg, const char *file, char **ret_dir, berth_error **err)
{
    (void)file;
    (void)err;
    *ret_dir = v2_dir(cg);
    return 0;
}

const cgroup_ops cgroup_v2_ops = {
    .name = "v2",
    .create = v2_create,
    .exists = v2_exists,
    .enter = v2_enter,
    .kill_all = v2_kill_all,
    .populated = v2_populated,
    .remove = v2_remove,
    .oom_kills = v2_oom_kills,
    .stats = v2_stats,
    .file_dir = v2_file_dir,
};
