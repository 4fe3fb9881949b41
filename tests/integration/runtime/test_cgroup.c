/* cgroups for real, as root, on whichever version this host has (v1 here,
 * v2 in the VM): limits land in the files, processes go in and are killed,
 * OOM kills are counted, failures leave nothing, removal is complete. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "runtime/cgroup.h"
#include "runtime/removal.h"

static berth_cgroup_driver *drv;
static char parent[64], path[96];

static void setup(void)
{
    berth_error *err = NULL;

    ck_assert_msg(berth_cgroup_driver_detect(NULL, &drv, &err) == 0, "%s", err ? err->msg : "");
    snprintf(parent, sizeof(parent), "/berth-test-cg-%d", (int)getpid());
    snprintf(path, sizeof(path), "%s/c1", parent);
}

static void teardown(void)
{
    char cmd[256];

    if (!drv)
        return;
    /* The parent directories this test created, in every hierarchy. */
    snprintf(
        cmd, sizeof(cmd),
        "for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && rmdir \"$d\"; done; "
        "true",
        parent, parent);
    ck_assert_int_eq(system(cmd), 0);
    berth_cgroup_driver_free(drv);
}

static char *read_cg(berth_cgroup *cg, const char *file)
{
    berth_error *err = NULL;
    char *v = NULL;

    ck_assert_msg(berth_cgroup_read(cg, file, &v, &err) == 0, "%s", err ? err->msg : "");
    return v;
}

static void expect_file(berth_cgroup *cg, const char *file, const char *want)
{
    char *got = read_cg(cg, file);

    ck_assert_msg(strcmp(got, want) == 0, "%s: want '%s' got '%s'", file, want, got);
    free(got);
}

START_TEST(detects_the_host)
{
    struct statfs sfs;

    ck_assert_int_eq(statfs("/sys/fs/cgroup", &sfs), 0);
    ck_assert_int_eq(berth_cgroup_driver_version(drv),
                     (uint32_t)sfs.f_type == 0x63677270 ? BERTH_CGROUP_V2 : BERTH_CGROUP_V1);
}
END_TEST

START_TEST(limits_land_in_files)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { .cpu_quota_us = 50000,
                                .cpu_period_us = 100000,
                                .cpu_weight = 200,
                                .memory_bytes = 64 << 20,
                                .pids_max = 50,
                                .cpuset_cpus = "0" };
    char shares[32];

    ck_assert_msg(berth_cgroup_create(drv, path, &lim, &cg, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(berth_cgroup_path(cg), path);
    expect_file(cg, "pids.max", "50");
    expect_file(cg, "cpuset.cpus", "0");
    if (berth_cgroup_driver_version(drv) == BERTH_CGROUP_V2) {
        expect_file(cg, "memory.max", "67108864");
        expect_file(cg, "memory.swap.max", "0");
        expect_file(cg, "cpu.max", "50000 100000");
        expect_file(cg, "cpu.weight", "200");
    } else {
        char *memsw = NULL;

        expect_file(cg, "memory.limit_in_bytes", "67108864");
        if (berth_cgroup_read(cg, "memory.memsw.limit_in_bytes", &memsw, NULL) == 0) {
            ck_assert_str_eq(memsw, "67108864");
            free(memsw);
        }
        expect_file(cg, "cpu.cfs_quota_us", "50000");
        expect_file(cg, "cpu.cfs_period_us", "100000");
        snprintf(shares, sizeof(shares), "%llu",
                 (unsigned long long)berth_cgroup_weight_to_shares(200));
        expect_file(cg, "cpu.shares", shares);
        {
            char *list = read_cg(cg, "devices.list");
            ck_assert_ptr_nonnull(strstr(list, "c 1:3 rwm"));
            ck_assert_ptr_null(strstr(list, "a *:* rwm"));
            free(list);
        }
    }
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    berth_cgroup_free(cg);
}
END_TEST

START_TEST(exists_and_open)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL, *again = NULL;
    berth_cgroup_limits lim = { 0 };
    char want[200];

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    snprintf(want, sizeof(want), "create cgroup %s: it exists already", path);
    ck_assert_berth_error(berth_cgroup_create(drv, path, &lim, &again, &err), err, want);
    ck_assert_int_eq(berth_cgroup_open(drv, path, &again, &err), 0);
    berth_cgroup_free(again);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0); /* gone is fine */
    snprintf(want, sizeof(want), "open cgroup %s: no such cgroup", path);
    ck_assert_berth_error(berth_cgroup_open(drv, path, &again, &err), err, want);
    berth_cgroup_free(cg);
    ck_assert_berth_error(berth_cgroup_open(drv, "relative", &again, &err), err,
                          "cgroup path 'relative' must be absolute and normalised");
    ck_assert_berth_error(berth_cgroup_open(drv, "/a/../b", &again, &err), err,
                          "cgroup path '/a/../b' must be absolute and normalised");
}
END_TEST

/* A limit the kernel refuses fails the create and leaves no cgroup. */
START_TEST(failure_leaves_nothing)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { .cpuset_cpus = "4000" };

    ck_assert_int_lt(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "cpuset.cpus"));
    berth_error_free(&err);
    ck_assert_int_lt(berth_cgroup_open(drv, path, &cg, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
}
END_TEST

START_TEST(enter_stats_kill_destroy)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { .pids_max = 10 };
    berth_cgroup_stats st;
    bool populated = true;
    int status;
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    ck_assert_int_eq(berth_cgroup_populated(cg, &populated, &err), 0);
    ck_assert(!populated);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    ck_assert_msg(berth_cgroup_enter(cg, pid, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_int_eq(berth_cgroup_populated(cg, &populated, &err), 0);
    ck_assert(populated);
    ck_assert_int_eq(berth_cgroup_stats_read(cg, &st, &err), 0);
    ck_assert_uint_eq(st.pids_current, 1);
    ck_assert_uint_eq(st.memory_limit, UINT64_MAX);
    ck_assert_uint_eq(st.cpu_quota_us, 0); /* no CPU limit */

    ck_assert_int_eq(berth_cgroup_kill_all(cg, &err), 0);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    ck_assert_int_lt(berth_cgroup_open(drv, path, &cg, NULL), 0); /* gone */
    berth_cgroup_free(cg);
}
END_TEST

/* A supervisor placed in the very cgroup it makes a container's cgroup
 * under (systemd's driver: its delegated scope) steps aside into a leaf
 * first, so that on v2 the parent may hand its controllers down. */
START_TEST(step_aside_in_a_delegated_parent)
{
    berth_error *err = NULL;
    berth_cgroup *scope = NULL, *cg = NULL;
    berth_cgroup_limits none = { 0 };
    char scope_path[128], child_path[160], leaf_path[160], got[256] = "";
    int p[2], status;
    ssize_t n;
    pid_t pid;

    snprintf(scope_path, sizeof(scope_path), "%s/scope", parent);
    snprintf(child_path, sizeof(child_path), "%s/c1", scope_path);
    snprintf(leaf_path, sizeof(leaf_path), "%s/" BERTH_CGROUP_SUPERVISOR_LEAF, scope_path);
    ck_assert_msg(berth_cgroup_create(drv, scope_path, &none, &scope, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        berth_cgroup_limits lim = { .pids_max = 5 };
        berth_cgroup *c1 = NULL;
        char *text = NULL;

        close(p[0]);
        alarm(30); /* never left behind, whatever happens */
        if (berth_cgroup_enter(scope, getpid(), NULL) < 0 ||
            berth_cgroup_step_aside(drv, scope_path, NULL) < 0 ||
            berth_cgroup_create(drv, child_path, &lim, &c1, &err) < 0) {
            dprintf(p[1], "error %s", err ? err->msg : "enter or step aside");
            _exit(1);
        }
        berth_read_file_at(AT_FDCWD, "/proc/self/cgroup", 4096, &text, NULL, NULL);
        dprintf(p[1], "%s", text ? text : "");
        _exit(0);
    }
    close(p[1]);
    {
        struct pollfd pf = { .fd = p[0], .events = POLLIN };

        /* its answer, or its end: a test that fails, never one that hangs */
        ck_assert_msg(poll(&pf, 1, 20000) == 1, "the child said nothing in 20 s");
    }
    n = berth_read_all(p[0], got, sizeof(got) - 1);
    close(p[0]);
    got[n > 0 ? n : 0] = '\0';
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", got);
    if (berth_cgroup_driver_version(drv) == BERTH_CGROUP_V2) {
        char want[200];

        snprintf(want, sizeof(want), "0::%s\n", leaf_path);
        ck_assert_str_eq(got, want);
    } else {
        /* v1 has no such rule: it stays where it was put */
        ck_assert_ptr_nonnull(strstr(got, scope_path));
        ck_assert_ptr_null(strstr(got, BERTH_CGROUP_SUPERVISOR_LEAF));
    }
    /* a process elsewhere is left where it is */
    {
        char *before = NULL, *after = NULL;

        ck_assert_int_eq(
            berth_read_file_at(AT_FDCWD, "/proc/self/cgroup", 4096, &before, NULL, &err), 0);
        ck_assert_int_eq(berth_cgroup_step_aside(drv, scope_path, &err), 0);
        ck_assert_int_eq(
            berth_read_file_at(AT_FDCWD, "/proc/self/cgroup", 4096, &after, NULL, &err), 0);
        ck_assert_str_eq(after, before);
        free(before);
        free(after);
    }
    ck_assert_int_eq(berth_cgroup_open(drv, child_path, &cg, &err), 0);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    if (berth_cgroup_open(drv, leaf_path, &cg, NULL) == 0)
        ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    ck_assert_int_eq(berth_cgroup_destroy(scope, 5000, &err), 0);
}
END_TEST

/* A busy process under a 10% quota shows throttled time in the stats. */
START_TEST(stats_report_throttling)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { .cpu_quota_us = 10000, .cpu_period_us = 100000 };
    berth_cgroup_stats st = { 0 };
    int status;
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    pid = fork();
    if (pid == 0) {
        for (;;)
            __asm__ volatile("" ::: "memory");
    }
    ck_assert_msg(berth_cgroup_enter(cg, pid, &err) == 0, "%s", err ? err->msg : "");
    for (int i = 0; i < 100 && st.cpu_throttled_ns == 0; i++) {
        usleep(50 * 1000);
        ck_assert_int_eq(berth_cgroup_stats_read(cg, &st, &err), 0);
    }
    ck_assert_uint_gt(st.cpu_throttled_ns, 0);
    ck_assert_uint_gt(st.cpu_usage_ns, 0);
    /* the limit in force, as /metrics shows it */
    ck_assert_uint_eq(st.cpu_quota_us, 10000);
    ck_assert_uint_eq(st.cpu_period_us, 100000);
    ck_assert_int_eq(berth_cgroup_kill_all(cg, &err), 0);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    berth_cgroup_free(cg);
}
END_TEST

/* The parts /metrics shows: a process that touched 32 MiB of its own
 * memory and spun in user space has them in rss and the working set, and
 * its cpu time split into user and system. */
START_TEST(stats_report_memory_and_cpu_parts)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { 0 };
    berth_cgroup_stats st = { 0 };
    int status, sync[2], go[2];
    char c = 0;
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
    pid = fork();
    if (pid == 0) {
        size_t n = (size_t)32 << 20;
        volatile char *mem;
        int64_t end;

        /* in the cgroup first: what it uses is charged there */
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        mem = malloc(n);
        for (size_t i = 0; i < n; i += 4096)
            mem[i] = 1;
        /* user time: the clock read seldom (where it is no vDSO call,
         * as in a VM, reading it is system time) */
        end = berth_now_mono_ns() + 300 * BERTH_NSEC_PER_MSEC;
        do {
            for (int i = 0; i < 1000000; i++)
                __asm__ volatile("" ::: "memory");
        } while (berth_now_mono_ns() < end);
        if (write(sync[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    ck_assert_msg(berth_cgroup_enter(cg, pid, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_int_eq(write(go[1], "x", 1), 1);
    ck_assert_int_eq(read(sync[0], &c, 1), 1);
    ck_assert_int_eq(berth_cgroup_stats_read(cg, &st, &err), 0);
    ck_assert_uint_ge(st.memory_rss, (uint64_t)32 << 20);
    ck_assert_uint_ge(st.memory_working_set, st.memory_rss);
    ck_assert_uint_le(st.memory_working_set, st.memory_current);
    ck_assert_uint_ge(st.cpu_usage_ns, 250 * BERTH_NSEC_PER_MSEC);
    ck_assert_uint_ge(st.cpu_user_ns, 100 * BERTH_NSEC_PER_MSEC);
    /* (v1 counts the parts in ticks: 10 ms each at most off) */
    ck_assert_uint_le(st.cpu_user_ns + st.cpu_system_ns,
                      st.cpu_usage_ns + 30 * BERTH_NSEC_PER_MSEC);
    ck_assert_int_eq(berth_cgroup_kill_all(cg, &err), 0);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    berth_cgroup_free(cg);
    for (int i = 0; i < 2; i++) {
        close(sync[i]);
        close(go[i]);
    }
}
END_TEST

/* destroy kills what is still inside before removing. */
START_TEST(destroy_kills_leftovers)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { 0 };
    int status;
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    ck_assert_int_eq(berth_cgroup_enter(cg, pid, &err), 0);
    /* Reap in the background as the runtime's parent would. */
    if (fork() == 0) {
        _exit(berth_waitpid(pid, &status, 0) == pid ? 0 : 1);
    }
    ck_assert_msg(berth_cgroup_destroy(cg, 5000, &err) == 0, "%s", err ? err->msg : "");
    berth_cgroup_free(cg);
    ck_assert_int_lt(berth_cgroup_open(drv, path, &cg, NULL), 0);
}
END_TEST

/* The removal step never waits: with a process inside it kills and says
 * "not yet", and a later step finds the cgroup gone. */
START_TEST(remove_step_kills_and_returns)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { 0 };
    int status, r, steps = 0;
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    ck_assert_int_eq(berth_cgroup_enter(cg, pid, &err), 0);
    ck_assert_int_eq(berth_cgroup_remove_step(cg, &err), 0); /* killed, not gone yet */
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    while ((r = berth_cgroup_remove_step(cg, &err)) == 0 && steps++ < 1000)
        usleep(1000);
    ck_assert_msg(r == 1, "%s", err ? err->msg : "not removed after 1000 steps");
    ck_assert_int_eq(berth_cgroup_remove_step(cg, &err), 1); /* gone is done */
    ck_assert_int_lt(berth_cgroup_open(drv, path, &cg, NULL), 0);
    berth_cgroup_free(cg);
}
END_TEST

static int ticks;
static berth_loop *tick_loop;
static berth_loop_timer tick_timer;
static bool removal_over;
static char *removal_error;

static void on_tick(berth_loop_timer *t)
{
    ticks++;
    berth_loop_timer_arm(tick_loop, t, berth_now_mono_ns() + 10 * BERTH_NSEC_PER_MSEC);
}

static void on_removed(const berth_error *err, void *data)
{
    (void)data;
    removal_over = true;
    removal_error = err ? strdup(err->msg) : NULL;
}

/* Run the loop (ticking every 10 ms) until the removal is over. */
static void run_removal(void)
{
    removal_over = false;
    free(removal_error);
    removal_error = NULL;
    ticks = 0;
    berth_loop_timer_init(&tick_timer, on_tick);
    berth_loop_timer_arm(tick_loop, &tick_timer, berth_now_mono_ns());
    while (!removal_over)
        ck_assert_int_ge(berth_loop_run_once(tick_loop, 1 * BERTH_NSEC_PER_SEC, NULL), 0);
    berth_loop_timer_cancel(tick_loop, &tick_timer);
}

/* From a loop: a cgroup with a process is removed, and one that cannot be
 * (it has a child cgroup) fails at the deadline with a clear error, while
 * the loop went on serving its timers all along. */
START_TEST(removal_from_a_loop)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL, *sub = NULL;
    berth_cgroup_limits lim = { 0 };
    char subpath[128], want[300];
    int64_t t0;
    pid_t pid;

    ck_assert_int_eq(berth_loop_new(&tick_loop, &err), 0);
    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    ck_assert_int_eq(berth_cgroup_enter(cg, pid, &err), 0);
    /* Reap in the background as the runtime's parent would. */
    if (fork() == 0)
        _exit(berth_waitpid(pid, NULL, 0) == pid ? 0 : 1);
    removal_over = false;
    berth_removal_start_cgroup(tick_loop, cg, 5000, on_removed, NULL);
    /* it returns at once, the removal still under way (no timing: an
     * emulated VM makes any bound flaky) */
    ck_assert(!removal_over);
    run_removal();
    ck_assert_msg(!removal_error, "%s", removal_error);
    ck_assert_int_lt(berth_cgroup_open(drv, path, &sub, NULL), 0);
    berth_cgroup_free(cg);

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    snprintf(subpath, sizeof(subpath), "%s/sub", path);
    ck_assert_int_eq(berth_cgroup_create(drv, subpath, &lim, &sub, &err), 0);
    t0 = berth_now_mono_ns();
    berth_removal_start_cgroup(tick_loop, cg, 300, on_removed, NULL);
    run_removal();
    ck_assert_int_ge(berth_now_mono_ns() - t0, 300 * BERTH_NSEC_PER_MSEC);
    snprintf(want, sizeof(want),
             "remove cgroup %s: still busy after 300 ms (no process is left in it)", path);
    ck_assert_str_eq(removal_error, want);
    /* The loop was never held up: a blocking removal would have let the
     * 10 ms timer tick once at most (slack for emulated VMs). */
    ck_assert_int_ge(ticks, 5);
    ck_assert_int_eq(berth_cgroup_destroy(sub, 5000, &err), 0);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    berth_cgroup_free(sub);
    berth_cgroup_free(cg);
    berth_loop_free(tick_loop);
}
END_TEST

START_TEST(oom_kills_are_counted)
{
    berth_error *err = NULL;
    berth_cgroup *cg = NULL;
    berth_cgroup_limits lim = { .memory_bytes = 8 << 20 };
    uint64_t ooms = 99;
    int status, p[2];
    pid_t pid;

    ck_assert_int_eq(berth_cgroup_create(drv, path, &lim, &cg, &err), 0);
    ck_assert_int_eq(berth_cgroup_oom_kills(cg, &ooms, &err), 0);
    ck_assert_uint_eq(ooms, 0);
    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        char go;
        size_t n = 64 << 20;
        char *mem;

        close(p[1]);
        if (read(p[0], &go, 1) != 1)
            _exit(2);
        mem = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
            _exit(3);
        memset(mem, 1, n);
        _exit(0);
    }
    close(p[0]);
    ck_assert_int_eq(berth_cgroup_enter(cg, pid, &err), 0);
    ck_assert_int_eq(write(p[1], "g", 1), 1);
    close(p[1]);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %x", status);
    ck_assert_int_eq(berth_cgroup_oom_kills(cg, &ooms, &err), 0);
    ck_assert_uint_ge(ooms, 1);
    ck_assert_int_eq(berth_cgroup_destroy(cg, 5000, &err), 0);
    berth_cgroup_free(cg);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("runtime/cgroup");
    TCase *tc = tcase_create("cgroup");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, detects_the_host);
    tcase_add_test(tc, limits_land_in_files);
    tcase_add_test(tc, exists_and_open);
    tcase_add_test(tc, failure_leaves_nothing);
    tcase_add_test(tc, enter_stats_kill_destroy);
    tcase_add_test(tc, step_aside_in_a_delegated_parent);
    tcase_add_test(tc, stats_report_throttling);
    tcase_add_test(tc, stats_report_memory_and_cpu_parts);
    tcase_add_test(tc, destroy_kills_leftovers);
    tcase_add_test(tc, oom_kills_are_counted);
    tcase_add_test(tc, remove_step_kills_and_returns);
    tcase_add_test(tc, removal_from_a_loop);
    suite_add_tcase(s, tc);
    return s;
}
