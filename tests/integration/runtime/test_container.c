/* Containers through lib/runtime, as root, on a busybox rootfs: the exit
 * record, OOM marker, signals, stdio, cleanup, overlay isolation, and the
 * sealed exec stub (CVE-2019-5736). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "runtime-internal.h"
#include "runtime/runtime.h"

static berth_runtime *rt;
static const char *rootfs;
static char parent[64], work[64];
static ContainerSpec spec;
static Resources res;

static void setup(void)
{
    berth_error *err = NULL;
    berth_runtime_config cfg = { 0 };

    rootfs = getenv("BERTH_TEST_ROOTFS");
    ck_assert_msg(rootfs != NULL, "BERTH_TEST_ROOTFS is not set");
    snprintf(parent, sizeof(parent), "/berth-test-ct-%d", (int)getpid());
    snprintf(work, sizeof(work), "/tmp/berth-test-ct-%d", (int)getpid());
    ck_assert_int_eq(berth_mkdir_p(work, 0700, &err), 0);
    cfg.cgroup_parent = parent;
    cfg.image_store = work;
    ck_assert_msg(berth_runtime_new(&cfg, &rt, &err) == 0, "%s", err ? err->msg : "");
    container_spec_init(&spec);
    resources_init(&res);
    spec.id = "c1";
    spec.rootfs = (char *)rootfs;
}

static void teardown(void)
{
    char cmd[512];

    berth_runtime_free(rt);
    snprintf(cmd, sizeof(cmd),
             "rm -rf %s; for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && "
             "rmdir \"$d\"; done; true",
             work, parent, parent);
    ck_assert_int_eq(system(cmd), 0);
}

static void set_cmd(char **argv)
{
    size_t n = 0;

    while (argv[n])
        n++;
    spec.command = argv;
    spec.n_command = n;
}

static berth_container *start(const berth_create_opts *opts)
{
    berth_error *err = NULL;
    berth_container *c = NULL;

    ck_assert_msg(berth_container_create(rt, &spec, opts, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    return c;
}

static bool cgroup_exists(const char *id)
{
    char path[128];
    berth_cgroup *cg = NULL;

    snprintf(path, sizeof(path), "%s/%s", parent, id);
    if (berth_cgroup_open(berth_runtime_cgroups(rt), path, &cg, NULL) < 0)
        return false;
    berth_cgroup_free(cg);
    return true;
}

START_TEST(exit_record)
{
    static char *argv[] = { "/bin/sh", "-c", "sleep 0.2; exit 7", NULL };
    berth_error *err = NULL;
    berth_container *c;
    berth_exit ex;
    int64_t before = berth_now_real_ns();

    set_cmd(argv);
    c = start(NULL);
    ck_assert_int_gt(berth_container_pid(c), 0);
    ck_assert_int_ge(berth_container_pidfd(c), 0);
    ck_assert_str_eq(berth_container_id(c), "c1");
    ck_assert_int_eq(berth_container_wait(c, true, &ex, &err), 0); /* still running */
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert_int_eq(ex.exit_code, 7);
    ck_assert_int_eq(ex.signal, 0);
    ck_assert(!ex.oom_killed);
    ck_assert_int_ge(ex.started_ns, before);
    ck_assert_int_ge(ex.finished_ns - ex.started_ns, 150 * BERTH_NSEC_PER_MSEC);
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1); /* same record again */
    ck_assert_int_eq(ex.exit_code, 7);
    ck_assert(cgroup_exists("c1"));
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    ck_assert(!cgroup_exists("c1"));
    ck_assert_int_eq(berth_container_destroy(c, &err), 0); /* twice is fine */
    berth_container_free(c);
}
END_TEST

START_TEST(kill_all_and_signal)
{
    static char *argv[] = { "/bin/sh", "-c", "sleep 100 & sleep 100", NULL };
    berth_error *err = NULL;
    berth_container *c;
    berth_exit ex;

    set_cmd(argv);
    c = start(NULL);
    /* pid 1 has no SIGTERM handler: the kernel drops it, the container runs on. */
    ck_assert_int_eq(berth_container_signal(c, SIGTERM, &err), 0);
    usleep(100 * 1000);
    ck_assert_int_eq(berth_container_wait(c, true, &ex, &err), 0);
    ck_assert_int_eq(berth_container_kill_all(c, &err), 0);
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert_int_eq(ex.signal, SIGKILL);
    ck_assert_int_eq(ex.exit_code, 137);
    ck_assert_berth_error(berth_container_signal(c, SIGTERM, &err), err, "container c1 has exited");
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
}
END_TEST

START_TEST(oom_marker)
{
    static char *argv[] = { "/bin/sh", "-c", "exec tail /dev/zero", NULL };
    berth_error *err = NULL;
    berth_container *c;
    berth_exit ex;

    res.memory_bytes = 16 << 20;
    spec.resources = &res;
    set_cmd(argv);
    c = start(NULL);
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert(ex.oom_killed);
    ck_assert_int_eq(ex.exit_code, 137);
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
}
END_TEST

START_TEST(stdio_to_pipes)
{
    static char *argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; read x; echo got-$x", NULL };
    berth_error *err = NULL;
    berth_create_opts opts = { 0 };
    berth_container *c;
    berth_exit ex;
    int in[2], out[2], errp[2];
    char buf[256];
    ssize_t n;

    ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
    opts.state_dir = NULL;
    opts.stdio[0] = in[0];
    opts.stdio[1] = out[1];
    opts.stdio[2] = errp[1];
    set_cmd(argv);
    c = start(&opts);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    ck_assert_int_eq(write(in[1], "42\n", 3), 3);
    close(in[1]);
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    n = berth_read_all(out[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "out\ngot-42\n");
    n = berth_read_all(errp[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "err\n");
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
    close(out[0]);
    close(errp[0]);
}
END_TEST

/* A failed start leaves no cgroup, no overlay directories, no state dir. */
START_TEST(failed_start_leaves_nothing)
{
    static char *argv[] = { "/nonexistent", NULL };
    berth_error *err = NULL;
    berth_container *c = NULL;
    berth_create_opts opts = { .stdio = { -1, -1, -1 } };
    char state[128], image[128], cmd[300];
    struct stat st;

    snprintf(image, sizeof(image), "%s/bb", work);
    snprintf(cmd, sizeof(cmd), "cp -a %s %s", rootfs, image);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(state, sizeof(state), "%s/state-fail", work);
    opts.state_dir = state;
    spec.rootfs = "";
    spec.image = "bb";
    set_cmd(argv);
    ck_assert_int_lt(berth_container_create(rt, &spec, &opts, &c, &err), 0);
    ck_assert_str_eq(err->msg, "container c1: exec /nonexistent: No such file or directory");
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    ck_assert_ptr_null(c);
    ck_assert(!cgroup_exists("c1"));
    ck_assert_int_eq(stat(state, &st), -1);

    /* Invalid spec: rejected before anything is made. */
    spec.id = "BAD ID";
    ck_assert_int_lt(berth_container_create(rt, &spec, &opts, &c, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "spec.id: 'BAD ID' is not a valid id"));
    berth_error_free(&err);
    ck_assert_int_eq(stat(state, &st), -1);
}
END_TEST

/* Write value to the freeze file of the runtime's parent cgroup. */
static void freeze_parent(bool on)
{
    char path[128];
    berth_error *err = NULL;

    if (berth_cgroup_driver_version(berth_runtime_cgroups(rt)) == BERTH_CGROUP_V2) {
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s", parent);
        ck_assert_int_eq(berth_mkdir_p(path, 0755, &err), 0);
        ck_assert_int_eq(berth_write_file_string_at(AT_FDCWD, strcat(path, "/cgroup.freeze"),
                                                    on ? "1" : "0", &err),
                         0);
    } else {
        snprintf(path, sizeof(path), "/sys/fs/cgroup/freezer%s", parent);
        ck_assert_int_eq(berth_mkdir_p(path, 0755, &err), 0);
        ck_assert_int_eq(berth_write_file_string_at(AT_FDCWD, strcat(path, "/freezer.state"),
                                                    on ? "FROZEN" : "THAWED", &err),
                         0);
    }
}

/* An init that never gets to its command (frozen here, as one stuck on a
 * hung network filesystem would be): the create gives up after
 * start_timeout_ms, kills it, and leaves nothing. The freezer makes it
 * deterministic: the init cannot run until the thaw, long after the
 * timeout; the kill takes effect at the thaw. */
START_TEST(stuck_start_times_out)
{
    static char *argv[] = { "/bin/true", NULL };
    berth_error *err = NULL;
    berth_container *c = NULL;
    berth_create_opts opts = { .stdio = { -1, -1, -1 }, .start_timeout_ms = 300 };
    char state[128];
    struct stat st;
    pid_t thaw;
    int status;

    snprintf(state, sizeof(state), "%s/state-stuck", work);
    opts.state_dir = state;
    set_cmd(argv);
    freeze_parent(true);
    thaw = fork();
    ck_assert_int_ge(thaw, 0);
    if (thaw == 0) {
        sleep(3);
        freeze_parent(false);
        _exit(0);
    }
    ck_assert_int_lt(berth_container_create(rt, &spec, &opts, &c, &err), 0);
    ck_assert_int_eq(waitpid(thaw, &status, 0), thaw);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(err->code, ETIMEDOUT);
    ck_assert_str_eq(err->msg,
                     "container c1: the container init did not start its command within 300 ms");
    berth_error_free(&err);
    ck_assert_ptr_null(c);
    ck_assert(!cgroup_exists("c1"));
    ck_assert_int_eq(stat(state, &st), -1);
}
END_TEST

START_TEST(overlay_isolation)
{
    static char *writer[] = { "/bin/sh", "-c", "echo a >/f; sleep 1; cat /f", NULL };
    static char *reader[] = { "/bin/sh", "-c", "sleep 0.3; test -e /f && echo seen || echo unseen",
                              NULL };
    berth_error *err = NULL;
    berth_create_opts oa = { .stdio = { -1, -1, -1 } }, ob = { .stdio = { -1, -1, -1 } };
    berth_container *a, *b;
    berth_exit ex;
    char sa[128], sb[128], image[128], cmd[300], buf[64];
    int pa[2], pb[2];
    ssize_t n;
    struct stat st;

    snprintf(image, sizeof(image), "%s/bb", work);
    snprintf(cmd, sizeof(cmd), "cp -a %s %s", rootfs, image);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(sa, sizeof(sa), "%s/state-a", work);
    snprintf(sb, sizeof(sb), "%s/state-b", work);
    ck_assert_int_eq(pipe2(pa, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(pb, O_CLOEXEC), 0);
    oa.state_dir = sa;
    oa.stdio[1] = pa[1];
    ob.state_dir = sb;
    ob.stdio[1] = pb[1];
    spec.rootfs = "";
    spec.image = "bb";
    spec.id = "a";
    set_cmd(writer);
    a = start(&oa);
    spec.id = "b";
    set_cmd(reader);
    b = start(&ob);
    close(pa[1]);
    close(pb[1]);
    ck_assert_int_eq(berth_container_wait(b, false, &ex, &err), 1);
    ck_assert_int_eq(berth_container_wait(a, false, &ex, &err), 1);
    n = berth_read_all(pb[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "unseen\n");
    n = berth_read_all(pa[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_str_eq(buf, "a\n");
    snprintf(cmd, sizeof(cmd), "%s/f", image);
    ck_assert_int_eq(stat(cmd, &st), -1); /* the image is untouched */
    ck_assert_int_eq(berth_container_destroy(a, &err), 0);
    ck_assert_int_eq(berth_container_destroy(b, &err), 0);
    snprintf(cmd, sizeof(cmd), "%s/upper", sa);
    ck_assert_int_eq(stat(cmd, &st), -1); /* writable layer removed */
    berth_container_free(a);
    berth_container_free(b);
    close(pa[0]);
    close(pb[0]);
}
END_TEST

static size_t count(char **argv)
{
    size_t n = 0;

    while (argv[n])
        n++;
    return n;
}

/* Run a command in the running container and collect its stdout. */
static int exec_in(berth_container *c, char **argv, char *out, size_t size, berth_error **err)
{
    int p[2], status, stdio[3];
    pid_t pid;
    ssize_t n;

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    stdio[0] = -1;
    stdio[1] = p[1];
    stdio[2] = -1;
    if (berth_container_exec(c, &spec, count(argv), argv, stdio, &pid, err) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    n = berth_read_all(p[0], out, size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(exec_in_running_container)
{
    static char *init[] = { "/bin/sh", "-c", "echo x >/marker; sleep 100", NULL };
    static char *probe[] = {
        "/bin/sh", "-c",
        "cat /marker; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
        "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
        "ls /sys/class/net; [ \"$(cat /proc/self/cgroup)\" = \"$(cat /proc/1/cgroup)\" ] && "
        "echo same-cgroup; exit 4",
        NULL
    };
    static char *missing[] = { "/nope", NULL };
    static char *sleeper[] = { "/bin/sleep", "100", NULL };
    berth_error *err = NULL;
    berth_container *c;
    berth_exit ex;
    char out[1024];
    int status;
    pid_t pid;

    spec.hostname = "box";
    set_cmd(init);
    c = start(NULL);
    usleep(100 * 1000);
    ck_assert_int_eq(exec_in(c, probe, out, sizeof(out), &err), 4);
    /* busybox sh execs its last command: pid 1 is the sleep. */
    ck_assert_msg(strstr(out, "x\nbox\nsleep 100 \n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "CapEff:\t00000000a80425fb"));
    ck_assert_ptr_nonnull(strstr(out, "NoNewPrivs:\t1"));
    ck_assert_ptr_nonnull(strstr(out, "Seccomp:\t2"));
    ck_assert_ptr_nonnull(strstr(out, "\nlo\nsame-cgroup\n"));

    ck_assert_int_lt(exec_in(c, missing, out, sizeof(out), &err), 0);
    ck_assert_str_eq(err->msg, "exec in container c1: exec /nope: No such file or directory");
    berth_error_free(&err);

    /* SIGTERM to the exec'd process ends the command and reaps it: the
     * container's init (a sleep, which reaps nothing) is left alone, with
     * no zombie either (nor from the failed exec above). */
    ck_assert_int_eq(berth_container_exec(c, &spec, 2, sleeper, NULL, &pid, &err), 0);
    {
        berth_cgroup_stats st;

        ck_assert_int_eq(berth_cgroup_stats_read(berth_container_cgroup(c), &st, &err), 0);
        ck_assert_uint_eq(st.pids_current, 3); /* the init, the intermediary, the sleep */
        kill(pid, SIGTERM);
        ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 137);
        for (int i = 0; i < 100; i++) {
            ck_assert_int_eq(berth_cgroup_stats_read(berth_container_cgroup(c), &st, &err), 0);
            if (st.pids_current == 1)
                break;
            usleep(10 * 1000);
        }
        ck_assert_uint_eq(st.pids_current, 1);
    }

    ck_assert_int_eq(berth_container_kill_all(c, &err), 0);
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert_berth_error(berth_container_exec(c, &spec, 2, sleeper, NULL, &pid, &err), err,
                          "exec in container c1: it has exited");
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
}
END_TEST

/* Run sh -c script in the container spec describes (opts may be NULL),
 * wait for it, and return its stdout; asserts it exited exit_code. */
static char *run_script(const char *script, berth_create_opts *opts, int exit_code)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    berth_create_opts o = { .stdio = { -1, -1, -1 } };
    berth_error *err = NULL;
    berth_container *c;
    berth_exit ex;
    char *buf = calloc(1, 8192);
    int out[2];
    ssize_t n;

    if (opts)
        o = *opts;
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    o.stdio[1] = o.stdio[2] = out[1];
    set_cmd(argv);
    c = start(&o);
    close(out[1]);
    n = berth_read_all(out[0], buf, 8191);
    close(out[0]);
    buf[n > 0 ? n : 0] = '\0';
    ck_assert_int_eq(berth_container_wait(c, false, &ex, &err), 1);
    ck_assert_msg(ex.exit_code == exit_code, "exit %d: %s", ex.exit_code, buf);
    ck_assert_int_eq(berth_container_destroy(c, &err), 0);
    berth_container_free(c);
    return buf;
}

/* A pod's security context as the runtime applies it: sysctls in the
 * container's namespaces, a node's seccomp profile (OCI JSON), fsGroup on
 * an emptyDir, and privileged. */
START_TEST(security_context)
{
    Sysctl sc, *scs[] = { &sc };
    Mount vol, *mounts[] = { &vol };
    FsGroup fg;
    User user;
    uint32_t groups[] = { 2000 };
    berth_create_opts opts = { .stdio = { -1, -1, -1 } };
    char profile[256], volumes[256], *out, host_caps[300] = "", line[256];
    FILE *f;

    /* sysctls: in the container's own network namespace, not the host's */
    sysctl_init(&sc);
    sc.name = "net.ipv4.ip_local_port_range";
    sc.value = "20000 30000";
    spec.sysctls = scs;
    spec.n_sysctls = 1;
    out = run_script("cat /proc/sys/net/ipv4/ip_local_port_range", NULL, 0);
    ck_assert_str_eq(out, "20000\t30000\n");
    free(out);
    spec.n_sysctls = 0;

    /* a Localhost seccomp profile: mkdir refused with EPERM */
    snprintf(profile, sizeof(profile), "%s/profile.json", work);
    f = fopen(profile, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
          " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_AARCH64\"],\n"
          " \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"no_such_call\"],\n"
          "               \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}\n",
          f);
    fclose(f);
    spec.seccomp = SECCOMP_LOCALHOST;
    spec.seccomp_profile = "profile.json";
    opts.seccomp_profile_path = profile;
    out = run_script("mkdir /tmp/x 2>&1; echo rc=$?", &opts, 0);
    ck_assert_msg(strstr(out, "Operation not permitted") && strstr(out, "rc=1"), "%s", out);
    free(out);
    /* a profile that does not parse: the start fails and says where */
    f = fopen(profile, "w");
    fputs("{\"defaultAction\": \"SCMP_ACT_ALOW\"}", f);
    fclose(f);
    {
        char *argv[] = { "/bin/true", NULL };
        berth_error *err = NULL;
        berth_container *c = NULL;
        char want[512];

        set_cmd(argv);
        snprintf(want, sizeof(want),
                 "container c1: seccomp profile %s: unknown action 'SCMP_ACT_ALOW'", profile);
        ck_assert_berth_error(berth_container_create(rt, &spec, &opts, &c, &err), err, want);
        ck_assert(!cgroup_exists("c1"));
    }
    spec.seccomp = SECCOMP_DEFAULT;
    spec.seccomp_profile = "";
    opts.seccomp_profile_path = NULL;

    /* fsGroup: the volume's group, setgid; the process has the group */
    mount_init(&vol);
    vol.type = MOUNT_EMPTY_DIR;
    vol.source = "data";
    vol.destination = "/data";
    spec.mounts = mounts;
    spec.n_mounts = 1;
    fs_group_init(&fg);
    fg.gid = 2000;
    spec.fs_group = &fg;
    user_init(&user);
    user.uid = 1000;
    user.gid = 1000;
    user.additional_gids = groups;
    user.n_additional_gids = 1;
    spec.user = &user;
    snprintf(volumes, sizeof(volumes), "%s/volumes", work);
    opts.volumes_dir = volumes;
    out =
        run_script("stat -c '%g %a' /data; id -G; touch /data/f && stat -c '%g' /data/f", &opts, 0);
    ck_assert_str_eq(out, "2000 2777\n1000 2000\n2000\n");
    free(out);
    spec.mounts = NULL;
    spec.n_mounts = 0;
    spec.fs_group = NULL;
    spec.user = NULL;
    opts.volumes_dir = NULL;

    /* privileged: every capability the host has, /sys writable, the
     * host's devices, no masked /proc paths */
    f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "CapBnd:", 7) == 0)
            snprintf(host_caps, sizeof(host_caps), "%s", line + 8);
    if (f)
        fclose(f);
    spec.privileged = true;
    out = run_script("grep CapEff /proc/self/status | cut -f2; grep ' /sys ' /proc/mounts | "
                     "cut -d' ' -f4 | cut -d, -f1; ls /dev/loop-control /dev/null; "
                     "grep -c ' /proc/' /proc/mounts",
                     NULL, 1);
    {
        char want[512];

        /* no mount over anything in /proc: nothing masked or read-only */
        snprintf(want, sizeof(want), "%srw\n/dev/loop-control\n/dev/null\n0\n", host_caps);
        if (access("/dev/loop-control", F_OK) == 0)
            ck_assert_str_eq(out, want);
        else
            ck_assert_msg(strstr(out, "rw\n"), "%s", out);
    }
    free(out);
    spec.privileged = false;
}
END_TEST

/* CVE-2019-5736: the exec stub is a sealed memfd nothing can write. */
START_TEST(exec_stub_is_sealed)
{
    char path[64];
    int seals, fd;

    seals = fcntl(rt->stub_fd, F_GET_SEALS);
    ck_assert_int_ge(seals, 0);
    ck_assert(seals & F_SEAL_WRITE);
    ck_assert(seals & F_SEAL_SEAL);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", rt->stub_fd);
    /* The way the CVE reopened the runtime binary through /proc and wrote
     * it: the reopen may succeed, the write and the truncate do not. */
    fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd,
                           "\x7f"
                           "ELF",
                           4),
                     -1);
    ck_assert_int_eq(errno, EPERM);
    ck_assert_int_eq(ftruncate(fd, 0), -1);
    ck_assert_int_eq(errno, EPERM);
    close(fd);
    /* The probe can fail: an unsealed copy is writable. */
    {
        char tmp[] = "/tmp/berth-stub-copy-XXXXXX";
        int t = mkstemp(tmp);

        ck_assert_int_ge(t, 0);
        ck_assert_int_eq(write(t,
                               "\x7f"
                               "ELF",
                               4),
                         4);
        close(t);
        unlink(tmp);
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("runtime/container");
    TCase *tc = tcase_create("container");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, exit_record);
    tcase_add_test(tc, kill_all_and_signal);
    tcase_add_test(tc, oom_marker);
    tcase_add_test(tc, stdio_to_pipes);
    tcase_add_test(tc, failed_start_leaves_nothing);
    tcase_add_test(tc, stuck_start_times_out);
    tcase_add_test(tc, overlay_isolation);
    tcase_add_test(tc, exec_stub_is_sealed);
    tcase_add_test(tc, exec_in_running_container);
    tcase_add_test(tc, security_context);
    suite_add_tcase(s, tc);
    return s;
}
