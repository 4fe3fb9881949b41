/* Pod sandboxes through lib/runtime, as root, on a busybox rootfs: two
 * containers of one pod share its network, IPC and UTS namespaces (and
 * its PID namespace with a pause as pid 1 when asked), their cgroups are
 * below the pod's, the pause cannot reach the host, and a removed sandbox
 * leaves no mount, cgroup or directory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "runtime/runtime.h"
#include "runtime/sandbox.h"

static berth_runtime *rt;    /* the pod's containers: cgroups below the pod's */
static berth_runtime *plain; /* a container of its own */
static const char *rootfs;
static char parent[64], podcg[96], work[64], sbdir[128];
static berth_sandbox_opts sb;
/* the mounts of the containers run() makes (none by default) */
static Mount **run_mounts;
static size_t n_run_mounts;

static void setup(void)
{
    berth_error *err = NULL;
    berth_runtime_config cfg = { 0 };

    rootfs = getenv("BERTH_TEST_ROOTFS");
    ck_assert_msg(rootfs != NULL, "BERTH_TEST_ROOTFS is not set");
    snprintf(parent, sizeof(parent), "/berth-test-sb-%d", (int)getpid());
    snprintf(podcg, sizeof(podcg), "%s/pod1", parent);
    snprintf(work, sizeof(work), "/tmp/berth-test-sb-%d", (int)getpid());
    snprintf(sbdir, sizeof(sbdir), "%s/pod1", work);
    ck_assert_int_eq(berth_mkdir_p(work, 0700, &err), 0);
    cfg.cgroup_parent = podcg;
    cfg.image_store = work;
    ck_assert_msg(berth_runtime_new(&cfg, &rt, &err) == 0, "%s", err ? err->msg : "");
    cfg.cgroup_parent = parent;
    ck_assert_msg(berth_runtime_new(&cfg, &plain, &err) == 0, "%s", err ? err->msg : "");
    sb = (berth_sandbox_opts){ .dir = sbdir, .hostname = "pod-one", .cgroup_path = podcg };
    run_mounts = NULL;
    n_run_mounts = 0;
}

static void teardown(void)
{
    char cmd[768];

    for (int i = 0; i < 100; i++)
        if (berth_sandbox_remove_step(berth_runtime_cgroups(rt), sbdir, podcg, NULL) != 0)
            break;
    berth_runtime_free(rt);
    berth_runtime_free(plain);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s; for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && "
             "rmdir \"$d\"; done; true",
             work, parent, parent);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run sh -c script in container id (of the pod when in_pod) and return
 * what it printed; waits for it and removes it. */
static char *run(const char *id, const char *script, bool in_pod, berth_container **ret_running)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    ContainerSpec spec;
    berth_create_opts opts = { .stdio = { -1, -1, -1 } };
    berth_error *err = NULL;
    berth_container *c = NULL;
    berth_exit ex;
    int out[2];
    char *buf = calloc(1, 4096);
    ssize_t n;

    container_spec_init(&spec);
    spec.id = (char *)id;
    spec.rootfs = (char *)rootfs;
    spec.command = argv;
    spec.n_command = 3;
    spec.mounts = run_mounts;
    spec.n_mounts = n_run_mounts;
    if (in_pod) {
        static char volumes[256];

        snprintf(volumes, sizeof(volumes), "%s/volumes", sbdir);
        opts.sandbox_dir = sbdir;
        opts.volumes_dir = volumes;
    }
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    opts.stdio[1] = out[1];
    ck_assert_msg(berth_container_create(in_pod ? rt : plain, &spec, &opts, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    close(out[1]);
    if (ret_running) {
        /* the first line, and it keeps running */
        n = read(out[0], buf, 4095);
        close(out[0]);
        *ret_running = c;
        return buf;
    }
    n = berth_read_all(out[0], buf, 4095);
    close(out[0]);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert_msg(ex.exit_code == 0, "%s exited %d: %s", id, ex.exit_code, buf);
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
    return buf;
}

/* The directory of cgroup path in the memory hierarchy (v1) or the
 * unified one. */
static void cgroup_dir(const char *path, char *buf, size_t size)
{
    struct stat st;

    if (stat("/sys/fs/cgroup/memory", &st) == 0)
        snprintf(buf, size, "/sys/fs/cgroup/memory%s", path);
    else
        snprintf(buf, size, "/sys/fs/cgroup%s", path);
}

static void create_sandbox(void)
{
    berth_error *err = NULL;

    ck_assert_msg(berth_sandbox_create(berth_runtime_cgroups(rt), &sb, &err) == 0, "%s",
                  err ? err->msg : "");
}

static void remove_sandbox(void)
{
    berth_error *err = NULL;
    int r = 0;

    for (int i = 0; i < 400 && r == 0; i++) {
        r = berth_sandbox_remove_step(berth_runtime_cgroups(rt), sbdir, podcg, &err);
        if (r == 0)
            usleep(5000);
    }
    ck_assert_msg(r == 1, "%s", err ? err->msg : "not gone");
}

static const char ns_script[] = "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; "
                                "done";

START_TEST(containers_share_the_pods_namespaces)
{
    char *a, *b, *alone, podcg_dir[256];
    struct stat st;

    create_sandbox();
    a = run("pod1_a", ns_script, true, NULL);
    b = run("pod1_b", ns_script, true, NULL);
    alone = run("alone", ns_script, false, NULL);
    ck_assert_msg(strncmp(a, "pod-one\n", 8) == 0, "%s", a);
    ck_assert_str_eq(a, b);
    /* a container of its own has namespaces of its own */
    ck_assert_msg(strncmp(alone, "alone\n", 6) == 0, "%s", alone);
    ck_assert_str_ne(strchr(a, '\n'), strchr(alone, '\n'));
    free(a);
    free(b);
    free(alone);
    ck_assert(berth_sandbox_whole(&sb, &(const char *){ NULL }));
    /* the pod's cgroup stays when its containers are gone */
    cgroup_dir(podcg, podcg_dir, sizeof(podcg_dir));
    ck_assert_msg(stat(podcg_dir, &st) == 0, "%s", podcg_dir);
    remove_sandbox();
    ck_assert_int_ne(stat(podcg_dir, &st), 0);
    ck_assert_int_ne(stat(sbdir, &st), 0);
    /* gone: a second removal has nothing to do */
    ck_assert_int_eq(berth_sandbox_remove_step(berth_runtime_cgroups(rt), sbdir, podcg, NULL), 1);
}
END_TEST

START_TEST(a_container_is_in_the_pods_network)
{
    berth_container *server = NULL;
    berth_error *err = NULL;
    char *first, *got;

    create_sandbox();
    /* a listener in one container, reached on 127.0.0.1 from the other */
    first = run("pod1_srv", "echo up; echo hello-from-srv | nc -l -p 7070", true, &server);
    ck_assert_str_eq(first, "up\n");
    got = run("pod1_cli",
              "for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 7070 </dev/null && exit 0; "
              "sleep 0.2; done; exit 1",
              true, NULL);
    ck_assert_str_eq(got, "hello-from-srv\n");
    free(first);
    free(got);
    ck_assert_int_eq(berth_container_kill_all(server, &err), 0);
    ck_assert_int_eq(berth_container_destroy(server, &err), 0);
    berth_container_free(server);
    remove_sandbox();
}
END_TEST

START_TEST(shared_pid_namespace_has_the_pause_as_pid_1)
{
    berth_container *sleeper = NULL;
    berth_error *err = NULL;
    const char *why = NULL;
    char *first, *ps;
    int pidfd = -1;

    sb.share_pid = true;
    create_sandbox();
    ck_assert(berth_sandbox_whole(&sb, &why));
    first = run("pod1_sleeper", "echo up; exec sleep 1000", true, &sleeper);
    ck_assert_str_eq(first, "up\n");
    /* The other container sees pid 1 (the pause, uid 65535, no
     * capabilities) and the sleeper. */
    ps = run("pod1_ps",
             "tr -d '\\0' </proc/1/cmdline; echo; grep -E '^(Uid|CapEff)' /proc/1/status; "
             "ls -l /proc/1/root/ 2>&1 | wc -l; "
             "for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done "
             "| grep -c '^sleep 1000'",
             true, NULL);
    ck_assert_msg(strstr(ps, "berth-pause\n") == ps, "%s", ps);
    ck_assert_msg(strstr(ps, "Uid:\t65535\t65535\t65535\t65535\n"), "%s", ps);
    ck_assert_msg(strstr(ps, "CapEff:\t0000000000000000\n"), "%s", ps);
    ck_assert_msg(strstr(ps, "\n1\n1\n"), "pause's root should be empty, one sleeper: %s", ps);
    free(first);
    free(ps);

    /* the pause dies: the pod's processes go with their PID namespace
     * (the pause ends once they are reaped), and the sandbox is no longer
     * whole */
    ck_assert_int_eq(berth_sandbox_pause_pidfd(sbdir, &pidfd, &err), 0);
    ck_assert_int_eq(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0), 0);
    close(pidfd);
    {
        berth_exit ex;

        ck_assert_int_eq(berth_container_wait(sleeper, false, &ex, &err), 1);
        ck_assert_int_eq(ex.signal, SIGKILL);
    }
    for (int i = 0; i < 200 && berth_sandbox_whole(&sb, &why); i++)
        usleep(10000);
    ck_assert(!berth_sandbox_whole(&sb, &why));
    ck_assert_str_eq(why, "its pause process is gone");
    ck_assert_int_eq(berth_container_destroy(sleeper, &err), 0);
    berth_container_free(sleeper);
    remove_sandbox();
}
END_TEST

START_TEST(empty_dirs_are_the_pods)
{
    Mount disk, mem, *mounts[] = { &disk, &mem };
    char *a, *b, path[512];
    struct statfs sf;

    mount_init(&disk);
    disk.type = MOUNT_EMPTY_DIR;
    disk.source = "data";
    disk.destination = "/data";
    mount_init(&mem);
    mem.type = MOUNT_EMPTY_DIR;
    mem.source = "cache";
    mem.destination = "/cache";
    mem.memory = true;
    mem.tmpfs_size_bytes = 1 << 20;
    run_mounts = mounts;
    n_run_mounts = 2;
    create_sandbox();
    /* one container writes, the other (and a second run) reads */
    a = run("pod1_w", "echo one >/data/f; echo two >/cache/g; ls -ld /data | cut -c1-10", true,
            NULL);
    ck_assert_str_eq(a, "drwxrwxrwx\n");
    b = run("pod1_r", "cat /data/f /cache/g", true, NULL);
    ck_assert_str_eq(b, "one\ntwo\n");
    free(a);
    free(b);
    /* on the host: a directory on disk, and a tmpfs of the size asked */
    snprintf(path, sizeof(path), "%s/volumes/data/f", sbdir);
    ck_assert_int_eq(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/volumes/cache", sbdir);
    ck_assert_int_eq(statfs(path, &sf), 0);
    ck_assert_uint_eq((uint64_t)sf.f_type, 0x01021994);
    ck_assert_uint_eq((uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize, 1 << 20);
    /* a container of its own has no place for a pod's volume */
    {
        char *argv[] = { "/bin/true", NULL };
        ContainerSpec spec;
        berth_create_opts opts = { .stdio = { -1, -1, -1 } };
        berth_error *err = NULL;
        berth_container *c = NULL;

        container_spec_init(&spec);
        spec.id = "alone";
        spec.rootfs = (char *)rootfs;
        spec.command = argv;
        spec.n_command = 1;
        spec.mounts = mounts;
        spec.n_mounts = 2;
        ck_assert_berth_error(berth_container_create(plain, &spec, &opts, &c, &err), err,
                              "container alone: spec.mounts[0]: emptyDir volume data: the node "
                              "gave no place for volumes");
    }
    remove_sandbox();
    ck_assert_int_ne(statfs(path, &sf), 0);
}
END_TEST

START_TEST(failures_leave_nothing)
{
    ContainerSpec spec;
    char *argv[] = { "/bin/true", NULL };
    berth_create_opts opts = { .stdio = { -1, -1, -1 }, .sandbox_dir = "/nonexistent-sandbox" };
    berth_error *err = NULL;
    berth_container *c = NULL;
    char path[256], cg[512];
    struct stat st;
    int fd;

    /* joining a sandbox that is not there: the container's error, no
     * cgroup made */
    container_spec_init(&spec);
    spec.id = "pod1_x";
    spec.rootfs = (char *)rootfs;
    spec.command = argv;
    spec.n_command = 1;
    ck_assert_berth_error(berth_container_create(rt, &spec, &opts, &c, &err), err,
                          "container pod1_x: open the pod's net namespace "
                          "/nonexistent-sandbox/net: No such file or directory");
    snprintf(path, sizeof(path), "%s/pod1_x", podcg);
    cgroup_dir(path, cg, sizeof(cg));
    ck_assert_int_ne(stat(cg, &st), 0);

    /* a sandbox directory with a file in the way: EEXIST, nothing made,
     * and what was there is still there */
    ck_assert_int_eq(mkdir(sbdir, 0700), 0);
    snprintf(path, sizeof(path), "%s/ipc", sbdir);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_lt(berth_sandbox_create(berth_runtime_cgroups(rt), &sb, &err), 0);
    ck_assert_int_eq(err->code, EEXIST);
    berth_error_free(&err);
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/net", sbdir);
    ck_assert_int_ne(stat(path, &st), 0);
    cgroup_dir(podcg, cg, sizeof(cg));
    ck_assert_int_ne(stat(cg, &st), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("pods");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, containers_share_the_pods_namespaces);
    tcase_add_test(tc, a_container_is_in_the_pods_network);
    tcase_add_test(tc, shared_pid_namespace_has_the_pause_as_pid_1);
    tcase_add_test(tc, empty_dirs_are_the_pods);
    tcase_add_test(tc, failures_leave_nothing);
    suite_add_tcase(s, tc);
    return s;
}
