/* berthd for real, as root, against a fake controller: register and run an
 * assignment, remove it; kill -9 berthd with containers running and exiting
 * meanwhile, then re-adopt; liveness restarts and metrics; bad config, a
 * missing image and a rejected spec each give a clear answer while the agent
 * keeps serving; the local Agent service (List, Logs, Stop). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "fake_controller.h"
#include "statedir/statedir.h"
#include "rpc/envelope.h"

#define S(x) CONTAINER_##x

static const char *berthd_bin, *rootfs;
static char *dir;
static char state[512], images[512], parent[128], cfgpath[600], logpath[600];
static berth_loop *loop;
static fake_ctl ctl;
static pid_t berthd = -1;
static berth_keypair node_key;
static test_party op;

static void write_config(void)
{
    char text[4096];
    int n;

    n = snprintf(text, sizeof(text),
                 "node_name: n1\n"
                 "labels: {zone: a}\n"
                 "controller:\n"
                 "  address: %s\n"
                 "  key: %s/controller.pub\n"
                 "state_dir: %s\n"
                 "image_store: %s\n"
                 "key: %s/node.key\n"
                 "cgroup_parent: %s\n"
                 "socket: %s/agent.sock\n"
                 "metrics_interval: 500ms\n"
                 "volume_stats_interval: 300ms\n"
                 "stop_grace_period: 1m\n"
                 "operators: {ops: %s/ops.pub}\n"
                 "log: {level: debug}\n"
                 "pod_network: {mode: none}\n",
                 ctl.rpc, dir, state, images, dir, parent, dir, dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, cfgpath, text, (size_t)n, 0600, NULL), 0);
}

/* Set by a test for the next berthd_start: LD_PRELOAD epoll_fail.c with
 * this trigger file (see there). */
static const char *epoll_fail_trigger;

/* Set by a test for the next berthd_start: run it as systemd would, with
 * these NOTIFY_SOCKET and WATCHDOG_USEC, and its stderr (the log file) as
 * the journal stream. */
static const char *notify_socket, *watchdog_usec;

/* The child runs check's SIGTERM handler until it execs, which signals
 * the whole process group, this test included: a berthd_signal(SIGTERM)
 * that comes before the exec (a slow VM) would end the test. So the child
 * takes the default action first, with the signals held off until then. */
static void berthd_start(void)
{
    sigset_t term, saved;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigprocmask(SIG_BLOCK, &term, &saved);
    berthd = fork();
    if (berthd != 0)
        sigprocmask(SIG_SETMASK, &saved, NULL);
    ck_assert_int_ge(berthd, 0);
    if (berthd == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &saved, NULL);

        dup2(fd, 1);
        dup2(fd, 2);
        if (notify_socket) {
            struct stat st;
            char v[64];

            fstat(2, &st);
            snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
            setenv("JOURNAL_STREAM", v, 1);
            setenv("NOTIFY_SOCKET", notify_socket, 1);
            setenv("WATCHDOG_USEC", watchdog_usec, 1);
        }
        if (epoll_fail_trigger) {
            setenv("LD_PRELOAD", getenv("BERTH_TEST_EPOLL_PRELOAD"), 1);
            setenv("BERTH_TEST_EPOLL_FAIL", epoll_fail_trigger, 1);
            /* ASan (BERTH_SANITIZE builds) wants to be loaded first. */
            setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
        }
        execl(berthd_bin, berthd_bin, "-c", cfgpath, (char *)NULL);
        _exit(127);
    }
}

static void berthd_signal(int sig)
{
    int status;

    if (berthd <= 0)
        return;
    kill(berthd, sig);
    ck_assert_int_eq(berth_waitpid(berthd, &status, 0), berthd);
    berthd = -1;
}

/* Run the loop until pred holds or timeout. */
static bool wait_for(bool (*pred)(void), int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    while (!pred()) {
        if (berth_now_mono_ns() > end)
            return false;
        run_for(loop, 50);
    }
    return true;
}

static void setup(void)
{
    char path[600], cmd[1400];
    berth_error *err = NULL;

    berthd_bin = getenv("BERTHD");
    rootfs = getenv("BERTH_TEST_ROOTFS");
    ck_assert_msg(berthd_bin && rootfs, "BERTHD and BERTH_TEST_ROOTFS must be set");
    /* Named after the runner (our parent), so its cleanup finds what this
     * run left and nothing of another run's. */
    snprintf(path, sizeof(path), "/tmp/berth-agent-test-%d-XXXXXX", (int)getppid());
    dir = strdup(path);
    ck_assert(dir && mkdtemp(dir));
    snprintf(state, sizeof(state), "%s/agent", dir);
    snprintf(images, sizeof(images), "%s/images", dir);
    snprintf(parent, sizeof(parent), "/berth-test-agent-%d-%d", (int)getppid(), (int)getpid());
    snprintf(cfgpath, sizeof(cfgpath), "%s/agent.yaml", dir);
    snprintf(logpath, sizeof(logpath), "%s/berthd.log", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/trigger %s && cp -a %s %s/bb", dir, images, rootfs,
             images);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    ck_assert_int_eq(berth_keypair_generate(&node_key, &err), 0);
    snprintf(path, sizeof(path), "%s/node.key", dir);
    ck_assert_int_eq(berth_keypair_save(AT_FDCWD, path, &node_key, &err), 0);
    fake_ctl_start(&ctl, loop, dir, "n1", node_key.pk);
    snprintf(path, sizeof(path), "%s/controller.pub", dir);
    ck_assert_int_eq(berth_pubkeys_save(AT_FDCWD, path,
                                        (const uint8_t(*)[BERTH_PUBKEY_LEN])ctl.party.key.pk, 1,
                                        &err),
                     0);
    party_init(&op, BERTH_ROLE_OPERATOR, "ops");
    snprintf(path, sizeof(path), "%s/ops.pub", dir);
    ck_assert_int_eq(
        berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])op.key.pk, 1, &err),
        0);
    write_config();
    berthd_start();
}

static bool no_containers(void)
{
    char path[600];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(path, sizeof(path), "%s/containers", state);
    d = opendir(path);
    if (!d)
        return true;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n == 0;
}

static void teardown(void)
{
    char cmd[1024];

    if (berthd <= 0)
        berthd_start();
    fake_ctl_assign(&ctl, NULL, 0);
    if (!wait_for(no_containers, 30000))
        fprintf(stderr, "teardown: containers left behind\n");
    berthd_signal(SIGTERM);
    fake_ctl_stop(&ctl);
    party_free(&op);
    berth_loop_free(loop);
    snprintf(cmd, sizeof(cmd),
             "for d in /sys/fs/cgroup%s /sys/fs/cgroup/*%s; do [ -d \"$d\" ] && rmdir \"$d\"; "
             "done 2>/dev/null; true",
             parent, parent);
    ck_assert_int_eq(system(cmd), 0);
    tmpdir_remove(dir);
}

/* After a failed test: stop what its agent left (runs in the runner). */
static void cleanup_leftovers(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd),
             "for c in /tmp/berth-agent-test-%d-*/agent/containers/*/control; do "
             "[ -p \"$c\" ] && timeout 2 sh -c \"echo 'stop 0' >$c\"; done 2>/dev/null; true",
             (int)getpid());
    ck_assert_int_eq(system(cmd), 0);
}

/* Run bin to completion with args after it; its stderr in out. Returns
 * its exit code. */
static int run_tool(const char *bin, char *out, size_t size, const char *const *args)
{
    const char *argv[16] = { bin };
    int status, p[2];
    size_t i;
    ssize_t n;
    pid_t pid;

    for (i = 0; args[i] && i + 2 < 16; i++)
        argv[i + 1] = args[i];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(p[1], 2);
        execv(bin, (char **)argv);
        _exit(127);
    }
    close(p[1]);
    n = berth_read_all(p[0], out, size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* --- specs ---------------------------------------------------------------------- */

static ContainerSpec specs[16];
static ContainerSpec *spec_ptrs[16];
static char *argvs[16][3];
static char ids[16][32];
static Mount trig_mount[16], tmp_mount[16];
static Mount *mounts[16][2];
static Resources res[16];
static Probe probes[16];
static ExecAction exec_actions[16];
static Backoff backoffs[16];
static char trigger[600];

static ContainerSpec *spec(int i, const char *id, const char *script)
{
    ContainerSpec *s = &specs[i];

    container_spec_init(s);
    snprintf(ids[i], sizeof(ids[i]), "%s", id);
    s->id = ids[i];
    s->image = "bb";
    argvs[i][0] = "/bin/sh";
    argvs[i][1] = "-c";
    argvs[i][2] = (char *)script;
    s->command = argvs[i];
    s->n_command = 3;
    s->stop_grace_ms = 1000;
    mount_init(&trig_mount[i]);
    snprintf(trigger, sizeof(trigger), "%s/trigger", dir);
    trig_mount[i].source = trigger;
    trig_mount[i].destination = "/trigger";
    mount_init(&tmp_mount[i]);
    tmp_mount[i].type = MOUNT_TMPFS;
    tmp_mount[i].destination = "/tmp";
    mounts[i][0] = &trig_mount[i];
    mounts[i][1] = &tmp_mount[i];
    s->mounts = mounts[i];
    s->n_mounts = 2;
    spec_ptrs[i] = s;
    return s;
}

static size_t want_running;
static bool n_running(void)
{
    return fake_ctl_count(&ctl, S(RUNNING)) == want_running;
}

static bool applied_current(void)
{
    return ctl.applied == ctl.generation;
}

static bool registered(void)
{
    return ctl.registrations > 0;
}

static bool cgroup_exists(const char *id)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/%s", parent, id);
    if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
        snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s", parent, id);
    return stat(path, &st) == 0;
}

/* --- the local Agent service --------------------------------------------------------- */

static berth_rpc_client *operator_client(void)
{
    berth_principal node;
    char addr[700];
    berth_error *err = NULL;

    ck_assert_int_eq(berth_principal_init(&node, BERTH_ROLE_NODE, "n1", &err), 0);
    ck_assert_int_eq(berth_policy_memory_add_key(op.policy, &node, node_key.pk, &err), 0);
    snprintf(addr, sizeof(addr), "ipc://%s/agent.sock", dir);
    {
        test_party server = { .who = node };
        return client_new(loop, &op, &server, addr);
    }
}

/* --- pods ------------------------------------------------------------------------------- */

static PodMember members[16];

/* Make spec i container name of pod "p-0" in role at init position index. */
static ContainerSpec *member(int i, const char *name, PodRole role, uint32_t index,
                             const char *script)
{
    char id[32];
    ContainerSpec *s;

    snprintf(id, sizeof(id), "p-0_%s", name);
    s = spec(i, id, script);
    pod_member_init(&members[i]);
    members[i].pod = "p-0";
    members[i].name = (char *)name;
    members[i].role = role;
    members[i].init_index = index;
    s->pod = &members[i];
    s->hostname = "p-0";
    s->restart_policy = role == POD_ROLE_SIDECAR ? RESTART_ALWAYS
                        : role == POD_ROLE_INIT  ? RESTART_ON_FAILURE
                                                 : RESTART_ALWAYS;
    backoff_init(&backoffs[i]);
    backoffs[i].initial_ms = 200;
    s->restart_backoff = &backoffs[i];
    return s;
}

static bool init_retried(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "p-0_setup");

    return e && e->restart_count >= 1;
}

static bool pod_running(void)
{
    const fake_event *a = fake_ctl_status(&ctl, "p-0_app"), *sd = fake_ctl_status(&ctl, "p-0_side"),
                     *i = fake_ctl_status(&ctl, "p-0_setup");

    return a && sd && i && a->state == S(RUNNING) && sd->state == S(RUNNING) &&
           i->state == S(EXITED);
}

static bool file_says(const char *name, const char *want)
{
    char path[700], buf[256] = "";
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/trigger/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = berth_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strcmp(buf, want) == 0;
}

static bool app_reached_sidecar(void)
{
    return file_says("app-got", "hi\n");
}

static bool sandbox_gone(void)
{
    char path[700];
    struct stat st;

    snprintf(path, sizeof(path), "%s/pods/p-0", state);
    return no_containers() && stat(path, &st) != 0 && !cgroup_exists("p-0");
}

/* A pod of three: an init container that fails twice, then a sidecar that
 * serves on 127.0.0.1:9090 of the pod's network, then the app that reaches
 * it there and sees the pod's host name. berthd killed meanwhile re-adopts
 * the pod whole: nothing starts again, the init container does not run
 * again. Removed, the pod leaves no sandbox and no cgroup. */
START_TEST(pod_init_sidecar_and_readopt)
{
    int pids[3], regs;
    char path[600];

    ck_assert(wait_for(registered, 15000));
    member(0, "setup", POD_ROLE_INIT, 0,
           "n=$(cat /trigger/count 2>/dev/null || echo 0); n=$((n+1)); echo $n >/trigger/count; "
           "[ $n -ge 3 ]");
    member(1, "side", POD_ROLE_SIDECAR, 1,
           "while true; do echo hi | nc -l -p 9090 >/dev/null; done");
    member(2, "app", POD_ROLE_APP, 0,
           "hostname >/trigger/app-host; "
           "until nc 127.0.0.1 9090 </dev/null >/trigger/app-got; do sleep 0.1; done; "
           "exec sleep 1000");
    fake_ctl_assign(&ctl, spec_ptrs, 3);
    ck_assert_msg(wait_for(init_retried, 20000), "the init container did not run again");
    /* the app waits for its turn */
    ck_assert_int_eq(fake_ctl_status(&ctl, "p-0_app")->state, S(PENDING));
    ck_assert_str_eq(fake_ctl_status(&ctl, "p-0_app")->reason, "PodInitializing");
    ck_assert_msg(wait_for(pod_running, 30000), "the pod did not run");
    ck_assert_msg(wait_for(app_reached_sidecar, 10000), "the app did not reach its sidecar");
    ck_assert(file_says("count", "3\n"));
    ck_assert(file_says("app-host", "p-0\n"));
    ck_assert_int_eq(fake_ctl_status(&ctl, "p-0_setup")->exit_code, 0);
    ck_assert_uint_eq(fake_ctl_status(&ctl, "p-0_setup")->restart_count, 2);
    ck_assert(cgroup_exists("p-0/p-0_app"));
    ck_assert(cgroup_exists("p-0/p-0_side"));
    ck_assert_msg(wait_for(applied_current, 10000), "the applied generation was not reported");

    pids[1] = fake_ctl_status(&ctl, "p-0_side")->pid;
    pids[2] = fake_ctl_status(&ctl, "p-0_app")->pid;
    berthd_signal(SIGKILL);
    regs = ctl.registrations;
    berthd_start();
    ck_assert(wait_for(registered, 15000));
    while (ctl.registrations == regs)
        run_for(loop, 50);
    run_for(loop, 1500);
    ck_assert_int_eq(fake_ctl_status(&ctl, "p-0_side")->pid, pids[1]);
    ck_assert_int_eq(fake_ctl_status(&ctl, "p-0_app")->pid, pids[2]);
    ck_assert_int_eq(fake_ctl_status(&ctl, "p-0_setup")->state, S(EXITED));
    ck_assert(file_says("count", "3\n"));
    snprintf(path, sizeof(path), "%s/pods/p-0/net", state);
    ck_assert_int_eq(access(path, F_OK), 0);

    fake_ctl_assign(&ctl, NULL, 0);
    ck_assert_msg(wait_for(sandbox_gone, 20000), "the pod's sandbox or cgroup was left");
    (void)pids[0];
}
END_TEST

static bool sidecar_stopped(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "p-0_side"), *a = fake_ctl_status(&ctl, "p-0_app");

    return e && a && a->state == S(EXITED) && e->state == S(EXITED);
}

static int pause_pid(void)
{
    char path[700], buf[64] = "";
    int fd, pid = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/pods/p-0/pause", state);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = berth_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    sscanf(buf, "%d", &pid);
    return pid;
}

static int app_pid_before;
static bool app_restarted_elsewhere(void)
{
    const fake_event *a = fake_ctl_status(&ctl, "p-0_app");

    return a && a->state == S(RUNNING) && a->pid > 0 && a->pid != app_pid_before;
}

/* A pod whose app containers ended for good stops its sidecar (Kubernetes
 * 1.29); a pod whose pause died while berthd was away starts again in a
 * new sandbox when berthd is back. */
START_TEST(pod_endings)
{
    ck_assert(wait_for(registered, 15000));
    member(0, "side", POD_ROLE_SIDECAR, 0, "exec sleep 1000");
    member(1, "app", POD_ROLE_APP, 0, "sleep 0.5; exit 0");
    specs[1].restart_policy = RESTART_NEVER;
    specs[0].stop_grace_ms = 300;
    fake_ctl_assign(&ctl, spec_ptrs, 2);
    ck_assert_msg(wait_for(sidecar_stopped, 20000), "the sidecar was not stopped");
    ck_assert_str_eq(fake_ctl_status(&ctl, "p-0_app")->reason, "Completed");
    fake_ctl_assign(&ctl, NULL, 0);
    ck_assert(wait_for(no_containers, 20000));

    /* shared PID namespace: the pause dies while berthd is away */
    member(0, "app", POD_ROLE_APP, 0, "exec sleep 1000");
    members[0].share_process_namespace = true;
    fake_ctl_assign(&ctl, spec_ptrs, 1);
    want_running = 1;
    ck_assert_msg(wait_for(n_running, 20000), "the pod did not run");
    app_pid_before = fake_ctl_status(&ctl, "p-0_app")->pid;
    ck_assert_int_gt(pause_pid(), 1);
    berthd_signal(SIGKILL);
    ck_assert_int_eq(kill(pause_pid(), SIGKILL), 0);
    berthd_start();
    ck_assert_msg(wait_for(app_restarted_elsewhere, 30000),
                  "the pod did not start again in a new sandbox");
    ck_assert_int_gt(pause_pid(), 1);
}
END_TEST

static bool both_evicted(void)
{
    const fake_event *a = fake_ctl_status(&ctl, "p-0_fill"), *b = fake_ctl_status(&ctl, "p-0_idle");

    return a && b && a->state == S(FAILED) && b->state == S(FAILED) &&
           strcmp(a->reason, "Evicted") == 0 && strcmp(b->reason, "Evicted") == 0;
}

/* An emptyDir on disk past its sizeLimit: the pod is evicted, all of its
 * containers, as the kubelet does; they stay down. */
START_TEST(empty_dir_size_limit_evicts)
{
    static Mount vol[2];
    static Mount *vols[2][1] = { { &vol[0] }, { &vol[1] } };

    ck_assert(wait_for(registered, 15000));
    member(0, "fill", POD_ROLE_APP, 0,
           "dd if=/dev/zero of=/data/big bs=1024 count=3072 2>/dev/null; exec sleep 1000");
    member(1, "idle", POD_ROLE_APP, 0, "exec sleep 1000");
    for (int i = 0; i < 2; i++) {
        mount_init(&vol[i]);
        vol[i].type = MOUNT_EMPTY_DIR;
        vol[i].source = "data";
        vol[i].destination = "/data";
        vol[i].tmpfs_size_bytes = 1 << 20;
        specs[i].mounts = vols[i];
        specs[i].n_mounts = 1;
    }
    fake_ctl_assign(&ctl, spec_ptrs, 2);
    ck_assert_msg(wait_for(both_evicted, 30000), "the pod was not evicted");
    run_for(loop, 1500);
    ck_assert(both_evicted());
}
END_TEST

/* --- security context ------------------------------------------------------------------- */

static bool three_refused(void)
{
    for (int i = 0; i < 3; i++) {
        const fake_event *e = fake_ctl_status(&ctl, ids[i]);

        if (!e || e->state != S(FAILED))
            return false;
    }
    return true;
}

/* What the node refuses to run, each with Kubernetes' reason and nothing
 * started: runAsNonRoot with an image that runs as root, a privileged
 * container (agent.yaml allows none), a seccomp profile not on the node. */
START_TEST(security_refusals)
{
    ck_assert(wait_for(registered, 15000));
    spec(0, "nonroot", "exec sleep 1000")->run_as_non_root = true;
    spec(1, "priv", "exec sleep 1000")->privileged = true;
    spec(2, "prof", "exec sleep 1000")->seccomp = SECCOMP_LOCALHOST;
    specs[2].seccomp_profile = "missing.json";
    fake_ctl_assign(&ctl, spec_ptrs, 3);
    ck_assert_msg(wait_for(three_refused, 15000), "the three were not refused");
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(fake_ctl_status(&ctl, ids[i])->reason, "CreateContainerConfigError");
        ck_assert(!cgroup_exists(ids[i]));
    }
    ck_assert_msg(wait_for(applied_current, 10000), "the applied generation was not reported");
}
END_TEST

/* --- tests ----------------------------------------------------------------------------- */

START_TEST(register_run_remove)
{
    size_t answered = 0, missing = 0;
    berth_rpc_client *c;
    berth_rpc_result r;
    berth_error *err = NULL;

    ck_assert_msg(wait_for(registered, 15000), "berthd did not register");
    spec(0, "a1", "echo hello from a1; exec sleep 1000");
    spec(1, "a2", "exec sleep 1000");
    spec(2, "a3", "exec sleep 1000");
    fake_ctl_assign(&ctl, spec_ptrs, 3);
    want_running = 3;
    ck_assert_msg(wait_for(n_running, 30000), "3 containers did not run");
    for (int i = 0; i < 3; i++) {
        ck_assert_int_gt(fake_ctl_status(&ctl, ids[i])->pid, 0);
        ck_assert(cgroup_exists(ids[i]));
    }
    ck_assert_msg(wait_for(applied_current, 10000), "the applied generation was not reported");
    ck_assert(fake_ctl_survey(&ctl, 3000, &answered, &missing));
    ck_assert_uint_eq(answered, 1);
    ck_assert_uint_eq(missing, 0);

    /* The local socket: List and Logs for an operator. */
    c = operator_client();
    {
        ListContainersRequest lr = LIST_CONTAINERS_REQUEST_INIT;
        ListContainersResponse *out;

        ck_assert_int_eq(
            berth_rpc_client_call_sync(c, &agent_descriptor, "List", &lr.base, 5000, &r, &err), 0);
        ck_assert_msg(r.code == CODE_OK, "%s", r.message ? r.message : "");
        out = (ListContainersResponse *)r.response;
        ck_assert_uint_eq(out->n_containers, 3);
        ck_assert_str_eq(out->containers[0]->status->id, "a1");
        ck_assert_str_eq(out->containers[0]->node, "n1");
        berth_rpc_result_clear(&r);
    }
    {
        LogsRequest lq = LOGS_REQUEST_INIT;
        LogsResponse *out;

        lq.container_id = "a1";
        ck_assert_int_eq(
            berth_rpc_client_call_sync(c, &agent_descriptor, "Logs", &lq.base, 5000, &r, &err), 0);
        ck_assert_int_eq(r.code, CODE_OK);
        out = (LogsResponse *)r.response;
        ck_assert_uint_eq(out->n_lines, 1);
        ck_assert_int_eq(memcmp(out->lines[0]->line.data, "hello from a1", 13), 0);
        ck_assert(!out->eof);
        berth_rpc_result_clear(&r);
        lq.container_id = "nope";
        ck_assert_int_eq(
            berth_rpc_client_call_sync(c, &agent_descriptor, "Logs", &lq.base, 5000, &r, &err), 0);
        ck_assert_int_eq(r.code, CODE_NOT_FOUND);
        berth_rpc_result_clear(&r);
    }
    berth_rpc_client_free(c);

    /* The image the three run on cannot be removed or replaced under them. */
    {
        char out[2048];
        const char *berthctl = getenv("BERTHCTL");

        ck_assert_ptr_nonnull(berthctl);
        ck_assert_int_eq(run_tool(berthctl, out, sizeof(out),
                                  (const char *[]){ "image", "rm", "bb", "--image-store", images,
                                                    "--state-dir", state, NULL }),
                         1);
        ck_assert_msg(strstr(out, "image bb: cannot remove it: 3 running container(s) use it"),
                      "got: %s", out);
        ck_assert_int_eq(
            run_tool(berthctl, out, sizeof(out),
                     (const char *[]){ "image", "import", "--force", "bb", rootfs, "--image-store",
                                       images, "--state-dir", state, NULL }),
            1);
        ck_assert_msg(strstr(out, "cannot replace it"), "got: %s", out);
    }

    /* Removed from the assignments: stopped and cleaned, within the specs'
     * grace period of 1 s (not the agent's default of a minute: a sleep as
     * pid 1 ignores SIGTERM, so only the kill after the grace ends it). */
    fake_ctl_assign(&ctl, NULL, 0);
    ck_assert_msg(wait_for(no_containers, 20000), "containers were not removed");
    for (int i = 0; i < 3; i++)
        ck_assert(!cgroup_exists(ids[i]));
}
END_TEST

/* kill -9 berthd with 10 containers; two exit (3, 4) while it is away. */
static int pids_before[10];
static bool exits_reported(void)
{
    const fake_event *x = fake_ctl_status(&ctl, "x8"), *y = fake_ctl_status(&ctl, "x9");

    return x && y && x->state == S(EXITED) && y->state == S(EXITED);
}

static bool monitor_exited(const char *id)
{
    char path[700];
    int dfd;
    berth_monitor_liveness l = BERTH_MONITOR_ALIVE;

    snprintf(path, sizeof(path), "%s/containers/%s", state, id);
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return false;
    berth_monitor_probe(dfd, &l, NULL);
    close(dfd);
    return l == BERTH_MONITOR_EXITED;
}

static bool both_ended(void)
{
    return monitor_exited("x8") && monitor_exited("x9");
}

START_TEST(kill9_and_readopt)
{
    char path[700];
    int regs;

    ck_assert(wait_for(registered, 15000));
    for (int i = 0; i < 10; i++) {
        char id[8];

        snprintf(id, sizeof(id), "x%d", i);
        spec(i, id,
             i == 8   ? "while [ ! -e /trigger/go ]; do sleep 0.1; done; exit 3"
             : i == 9 ? "while [ ! -e /trigger/go ]; do sleep 0.1; done; exit 4"
                      : "exec sleep 1000");
    }
    fake_ctl_assign(&ctl, spec_ptrs, 10);
    want_running = 10;
    ck_assert_msg(wait_for(n_running, 60000), "10 containers did not run");
    for (int i = 0; i < 10; i++)
        pids_before[i] = fake_ctl_status(&ctl, ids[i])->pid;

    berthd_signal(SIGKILL);
    snprintf(path, sizeof(path), "%s/trigger/go", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, "", 0, 0644, NULL), 0);
    ck_assert_msg(wait_for(both_ended, 20000), "x8 and x9 did not end while berthd was away");
    /* The 8 others still run, untouched. */
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(kill(pids_before[i], 0), 0);

    regs = ctl.registrations;
    berthd_start();
    ck_assert_msg(wait_for(exits_reported, 20000), "the exits were not reported");
    ck_assert_int_gt(ctl.registrations, regs);
    ck_assert_int_eq(fake_ctl_status(&ctl, "x8")->exit_code, 3);
    ck_assert_int_eq(fake_ctl_status(&ctl, "x9")->exit_code, 4);
    for (int i = 0; i < 8; i++) {
        const fake_event *e = fake_ctl_status(&ctl, ids[i]);

        ck_assert_int_eq(e->state, S(RUNNING));
        ck_assert_int_eq(e->pid, pids_before[i]); /* same process: nothing restarted */
        ck_assert_uint_eq(e->restart_count, 0);
    }
    /* Nothing started twice: no STARTING after the restart for the eight. */
    run_for(loop, 1500);
    ck_assert_uint_eq(fake_ctl_count(&ctl, S(RUNNING)), 8);
}
END_TEST

static uint64_t reports_before;
static bool o2_exit_reported(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "o2");

    return e && e->state == S(EXITED) && e->exit_code == 5 && ctl.full_reports > reports_before;
}

static bool o2_ended(void)
{
    return monitor_exited("o2");
}

/* The controller goes away: workloads keep running, what happened meanwhile
 * arrives in one full report when it is back. */
START_TEST(controller_outage)
{
    char path[700];
    pid_t pid;

    ck_assert(wait_for(registered, 15000));
    spec(0, "o1", "exec sleep 1000");
    spec(1, "o2", "while [ ! -e /trigger/go ]; do sleep 0.1; done; exit 5");
    fake_ctl_assign(&ctl, spec_ptrs, 2);
    want_running = 2;
    ck_assert_msg(wait_for(n_running, 30000), "2 containers did not run");
    pid = fake_ctl_status(&ctl, "o1")->pid;

    fake_ctl_down(&ctl);
    reports_before = ctl.full_reports;
    snprintf(path, sizeof(path), "%s/trigger/go", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, "", 0, 0644, NULL), 0);
    ck_assert_msg(wait_for(o2_ended, 20000), "o2 did not end");
    run_for(loop, 3000); /* a few failed heartbeats */
    ck_assert_int_eq(kill(pid, 0), 0);
    ck_assert_int_eq(fake_ctl_status(&ctl, "o2")->state, S(RUNNING)); /* not heard yet */

    fake_ctl_up(&ctl);
    ck_assert_msg(wait_for(o2_exit_reported, 30000),
                  "no full report with o2's exit after the outage");
    ck_assert_int_eq(fake_ctl_status(&ctl, "o1")->state, S(RUNNING));
    ck_assert_int_eq(fake_ctl_status(&ctl, "o1")->pid, pid);
    ck_assert_uint_eq(fake_ctl_status(&ctl, "o1")->restart_count, 0);
}
END_TEST

static bool restarted(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "probe");
    return e && e->restart_count >= 1;
}

static bool memory_seen(void)
{
    for (size_t i = 0; i < ctl.n_latest; i++)
        if (strcmp(ctl.latest[i].id, "hog") == 0)
            return ctl.max_memory[i] >= 20 * 1024 * 1024;
    return false;
}

START_TEST(liveness_and_metrics)
{
    static char *check[] = { "test", "-e", "/tmp/ok" };
    ContainerSpec *p, *h;

    ck_assert(wait_for(registered, 15000));
    p = spec(0, "probe", "touch /tmp/ok; (sleep 1.5; rm /tmp/ok) & exec sleep 1000");
    probe_init(&probes[0]);
    exec_action_init(&exec_actions[0]);
    exec_actions[0].command = check;
    exec_actions[0].n_command = 3;
    probes[0].action_case = PROBE_ACTION_EXEC;
    probes[0].exec = &exec_actions[0];
    probes[0].period_ms = 300;
    probes[0].failure_threshold = 2;
    p->liveness_probe = &probes[0];
    p->restart_policy = RESTART_ALWAYS;
    backoff_init(&backoffs[0]);
    backoffs[0].initial_ms = 200;
    p->restart_backoff = &backoffs[0];
    /* The shell keeps the 25 MB string while its child sleeps. */
    h = spec(1, "hog", "x=$(head -c 25000000 /dev/zero | tr '\\0' a); sleep 1000; echo ${#x}");
    resources_init(&res[1]);
    h->resources = &res[1];
    fake_ctl_assign(&ctl, spec_ptrs, 2);
    ck_assert_msg(wait_for(restarted, 30000), "the failing probe did not restart the container");
    /* Health shows the probe's result (only containers with a probe). */
    {
        berth_rpc_client *c = operator_client();
        HealthRequest hq = HEALTH_REQUEST_INIT;
        HealthReport *rep;
        berth_rpc_result r;
        berth_error *err = NULL;

        ck_assert_int_eq(
            berth_rpc_client_call_sync(c, &agent_descriptor, "Health", &hq.base, 5000, &r, &err),
            0);
        ck_assert_int_eq(r.code, CODE_OK);
        rep = (HealthReport *)r.response;
        ck_assert(rep->healthy);
        ck_assert_uint_eq(rep->n_probes, 1);
        ck_assert_str_eq(rep->probes[0]->container_id, "probe");
        ck_assert_int_ne(rep->probes[0]->health, HEALTH_NONE);
        berth_rpc_result_clear(&r);
        berth_rpc_client_free(c);
    }
    ck_assert_msg(wait_for(memory_seen, 30000), "no metrics sample showed the 20 MiB");
    ck_assert_uint_gt(ctl.metrics_reports, 0);
    ck_assert_uint_ge(ctl.node_containers, 2);
    for (size_t i = 0; i < ctl.n_latest; i++)
        if (strcmp(ctl.latest[i].id, "hog") == 0)
            ck_assert_uint_ge(ctl.max_peak[i], ctl.max_memory[i]);
    ck_assert_uint_gt(ctl.node_memory, 0);
    ck_assert_uint_gt(ctl.node_memory_limit, ctl.node_memory);
}
END_TEST

/* Whether pid runs (a zombie does not: the orphans' new parent may reap
 * them late). */
static bool runs(int pid)
{
    char path[64], *text = NULL, *paren;
    bool r;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (berth_read_file_at(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
        return false;
    paren = strrchr(text, ')');
    r = paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
    free(text);
    return r;
}

/* The monitor of container id (its pid from state.pb), killed with -9:
 * its container runs on, orphaned. Waits until the monitor is gone (under
 * a running berthd a new one may hold the lock right after). */
static void kill_monitor(const char *id)
{
    char path[700];
    MonitorState *ms = NULL;
    int dfd, pid;

    snprintf(path, sizeof(path), "%s/containers/%s", state, id);
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(dfd, 0);
    ck_assert_int_eq(berth_statedir_read_state(dfd, &ms, NULL), 0);
    pid = ms->monitor_pid;
    monitor_state_free_unpacked(ms, NULL);
    close(dfd);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    for (int i = 0; i < 500 && runs(pid); i++)
        usleep(10 * 1000);
    ck_assert_msg(!runs(pid), "monitor %d of %s still runs", pid, id);
}

static int lost_pids[3];
/* l1 and l2 run under new monitors. */
static bool replaced(void)
{
    for (int i = 1; i < 3; i++) {
        const fake_event *e = fake_ctl_status(&ctl, ids[i]);

        if (!e || e->state != S(RUNNING) || e->pid <= 0 || e->pid == lost_pids[i])
            return false;
    }
    return true;
}

static bool l0_replaced(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "l0");

    return e && e->state == S(RUNNING) && e->pid > 0 && e->pid != lost_pids[0];
}

static bool saw_lost(const char *id)
{
    for (size_t i = 0; i < ctl.n_log; i++)
        if (strcmp(ctl.log[i].id, id) == 0 && ctl.log[i].state == S(FAILED) &&
            strcmp(ctl.log[i].reason, "MonitorLost") == 0)
            return true;
    return false;
}

/* A monitor killed under a running berthd, and two killed while berthd
 * was away: what their containers left is killed and removed (the old
 * container processes are gone), and they run again under new monitors. */
START_TEST(lost_monitors_are_replaced)
{
    ck_assert(wait_for(registered, 15000));
    spec(0, "l0", "exec sleep 1000");
    spec(1, "l1", "exec sleep 1000");
    spec(2, "l2", "exec sleep 1000");
    fake_ctl_assign(&ctl, spec_ptrs, 3);
    want_running = 3;
    ck_assert_msg(wait_for(n_running, 30000), "3 containers did not run");
    for (int i = 0; i < 3; i++)
        lost_pids[i] = fake_ctl_status(&ctl, ids[i])->pid;

    kill_monitor("l0");
    ck_assert_msg(wait_for(l0_replaced, 20000), "l0 was not started again");
    ck_assert(saw_lost("l0"));
    ck_assert(!runs(lost_pids[0])); /* the orphan was killed */
    lost_pids[0] = fake_ctl_status(&ctl, "l0")->pid;

    berthd_signal(SIGTERM);
    kill_monitor("l1");
    kill_monitor("l2");
    berthd_start();
    ck_assert_msg(wait_for(replaced, 30000), "l1 and l2 were not started again");
    ck_assert_int_eq(fake_ctl_status(&ctl, "l0")->pid, lost_pids[0]); /* untouched */
    ck_assert(saw_lost("l1") && saw_lost("l2"));
    ck_assert(!runs(lost_pids[1]) && !runs(lost_pids[2]));
    for (int i = 0; i < 3; i++)
        ck_assert(cgroup_exists(ids[i]));
}
END_TEST

static bool u1_running(void)
{
    const fake_event *e = fake_ctl_status(&ctl, "u1");

    return e && e->state == S(RUNNING) && e->pid > 0;
}

/* berthd cannot watch for a monitor's answer (its fd cannot join the loop)
 * after starting it: the monitor runs the container all the same, so berthd
 * follows it through its state file, reports it running and stops it when
 * it is no longer assigned; never "failed" while it runs. */
START_TEST(answer_fd_not_watchable)
{
    char trigger_path[700];
    int regs = ctl.registrations;

    if (!getenv("BERTH_TEST_EPOLL_PRELOAD")) {
        printf("SKIP answer_fd_not_watchable: BERTH_TEST_EPOLL_PRELOAD (epoll_fail.c) not given\n");
        return;
    }
    snprintf(trigger_path, sizeof(trigger_path), "%s/epoll-fail", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, trigger_path, "", 0, 0644, NULL), 0);
    berthd_signal(SIGTERM);
    epoll_fail_trigger = trigger_path;
    berthd_start();
    epoll_fail_trigger = NULL;
    ck_assert(wait_for(registered, 15000) && ctl.registrations > regs);
    spec(0, "u1", "exec sleep 1000");
    fake_ctl_assign(&ctl, spec_ptrs, 1);
    ck_assert_msg(wait_for(u1_running, 30000), "u1 was not reported running: %s %s",
                  fake_ctl_status(&ctl, "u1") ? fake_ctl_status(&ctl, "u1")->reason : "-",
                  access(trigger_path, F_OK) == 0 ? "(the answer fd was watched)" : "");
    ck_assert_int_ne(access(trigger_path, F_OK), 0); /* its answer fd was refused */
    for (size_t i = 0; i < ctl.n_log; i++)
        ck_assert_msg(strcmp(ctl.log[i].id, "u1") != 0 || ctl.log[i].state != S(FAILED),
                      "u1 was reported failed (%s) while it ran", ctl.log[i].reason);
    ck_assert(cgroup_exists("u1"));
    fake_ctl_assign(&ctl, NULL, 0);
    ck_assert_msg(wait_for(no_containers, 20000), "u1 was not removed");
    ck_assert(!cgroup_exists("u1"));
}
END_TEST

static bool bad_ones_failed(void)
{
    const fake_event *a = fake_ctl_status(&ctl, "noimg"), *b = fake_ctl_status(&ctl, "badspec"),
                     *c = fake_ctl_status(&ctl, "good"), *d = fake_ctl_status(&ctl, "never");

    return a && b && c && d && a->state == S(FAILED) && b->state == S(FAILED) &&
           c->state == S(RUNNING) && d->state == S(PENDING) && strcmp(d->reason, "Pulling") != 0;
}

START_TEST(bad_inputs)
{
    char path[700], path2[700], expect[1400], out[4096];
    ContainerSpec *bad;
    struct stat st;

    /* A malformed config: file:line:column, before anything starts. */
    snprintf(path, sizeof(path), "%s/bad.yaml", dir);
    {
        static const char bad_yaml[] = "node_name: n9\nstate_dir: /tmp\ncontoller: x\n";

        ck_assert_int_eq(
            berth_write_file_atomic_at(AT_FDCWD, path, bad_yaml, sizeof(bad_yaml) - 1, 0600, NULL),
            0);
    }
    ck_assert_int_eq(run_tool(berthd_bin, out, sizeof(out),
                              (const char *[]){ "--check-config", "-c", path, NULL }),
                     2);
    snprintf(expect, sizeof(expect),
             "berthd: %s/bad.yaml:3:1: contoller: unknown field (did you mean controller?)\n", dir);
    ck_assert_str_eq(out, expect);

    /* A second agent on the same state directory refuses to start. */
    ck_assert(wait_for(registered, 15000));
    ck_assert_int_eq(
        run_tool(berthd_bin, out, sizeof(out), (const char *[]){ "-c", cfgpath, NULL }), 1);
    snprintf(expect, sizeof(expect), "in use by another berthd (pid %d)", (int)berthd);
    ck_assert_msg(strstr(out, expect), "got: %s", out);

    /* A socket path taken by something that is not a socket is left alone. */
    snprintf(path, sizeof(path), "%s/state2", dir);
    snprintf(path2, sizeof(path2), "%s/not-a-socket", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path2, "x", 1, 0600, NULL), 0);
    ck_assert_int_eq(
        run_tool(berthd_bin, out, sizeof(out),
                 (const char *[]){ "-c", cfgpath, "--state-dir", path, "--socket", path2, NULL }),
        1);
    ck_assert_msg(strstr(out, "exists and is not a socket"), "got: %s", out);
    ck_assert_int_eq(stat(path2, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    /* ... and so is the live socket of the running agent. */
    snprintf(path, sizeof(path), "%s/state3", dir);
    ck_assert_int_eq(run_tool(berthd_bin, out, sizeof(out),
                              (const char *[]){ "-c", cfgpath, "--state-dir", path, NULL }),
                     1);
    ck_assert_msg(strstr(out, "in use by another process"), "got: %s", out);
    snprintf(path2, sizeof(path2), "%s/agent.sock", dir);
    ck_assert_int_eq(stat(path2, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));

    /* A missing image and a spec the runtime rejects: statuses, and the
     * agent goes on with the good one. */
    ck_assert(wait_for(registered, 15000));
    /* a directory image's name that is no reference: not found */
    spec(0, "noimg", "exec sleep 1000")->image = "NoSuch";
    bad = spec(1, "badspec", "exec sleep 1000");
    resources_init(&res[1]);
    res[1].memory_bytes = 1024;
    bad->resources = &res[1];
    spec(2, "good", "exec sleep 1000");
    /* a reference the node does not have, never to be pulled: it waits */
    bad = spec(3, "never", "exec sleep 1000");
    bad->image = "nosuch";
    bad->image_pull_policy = PULL_NEVER;
    fake_ctl_assign(&ctl, spec_ptrs, 4);
    ck_assert_msg(wait_for(bad_ones_failed, 30000), "statuses not as expected");
    ck_assert_str_eq(fake_ctl_status(&ctl, "noimg")->reason, "ImageNotFound");
    ck_assert_str_eq(fake_ctl_status(&ctl, "badspec")->reason, "InvalidSpec");
    ck_assert_str_eq(fake_ctl_status(&ctl, "never")->reason, "ErrImageNeverPull");
}
END_TEST

/* Datagrams berthd sent to the notify socket within ms, appended to
 * got (each followed by "|"). */
static void notify_read(int fd, char *got, size_t size, int ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)ms * BERTH_NSEC_PER_MSEC;

    while (berth_now_mono_ns() < end) {
        char buf[1024];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        if (n < 0) {
            run_for(loop, 20);
            continue;
        }
        buf[n] = '\0';
        snprintf(got + strlen(got), size - strlen(got), "%s|", buf);
    }
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The berth-monitor process above pid (its parent, or further up). */
static pid_t monitor_of(pid_t pid)
{
    for (int depth = 0; pid > 1 && depth < 8; depth++) {
        char path[64], *buf = NULL, *pp;
        int ppid = 0;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (berth_read_file_at(AT_FDCWD, path, 1 << 16, &buf, NULL, NULL) < 0)
            return -1;
        if (strstr(buf, "Name:\tberth-monitor")) {
            free(buf);
            return pid;
        }
        pp = strstr(buf, "\nPPid:");
        if (pp)
            sscanf(pp + 6, "%d", &ppid);
        free(buf);
        pid = ppid;
    }
    return -1;
}

/* Under systemd (Type=notify): READY=1 once it serves, with a STATUS=
 * line that follows the controller's registration; WATCHDOG=1 from the
 * loop at half the period; STOPPING=1 on SIGTERM; log records carry their
 * syslog priority on the journal stream; no child sees NOTIFY_SOCKET. */
START_TEST(systemd_notify)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char got[16384] = "", path[700], *env = NULL, *log = NULL;
    size_t env_len = 0;
    pid_t mon;
    int fd;

    berthd_signal(SIGTERM); /* the fixture's berthd, started without systemd */
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    notify_socket = sa.sun_path;
    watchdog_usec = "400000";
    berthd_start();
    notify_socket = watchdog_usec = NULL;

    ck_assert_msg(wait_for(registered, 15000), "berthd did not register");
    notify_read(fd, got, sizeof(got), 1500);
    ck_assert_msg(strncmp(got, "READY=1\nSTATUS=", 15) == 0, "first notification: %s", got);
    ck_assert_msg(count_of(got, "READY=1") == 1, "%s", got);
    /* 200 ms apart: some slack for a loaded machine */
    ck_assert_msg(count_of(got, "WATCHDOG=1") >= 3, "watchdog pings: %s", got);
    ck_assert_msg(strstr(got, "STATUS=0 container(s); registered with the controller at "),
                  "no status of the registration: %s", got);

    spec(0, "n1c", "exec sleep 1000");
    fake_ctl_assign(&ctl, spec_ptrs, 1);
    want_running = 1;
    ck_assert_msg(wait_for(n_running, 30000), "the container did not run");
    mon = monitor_of(fake_ctl_status(&ctl, "n1c")->pid);
    ck_assert_int_gt(mon, 1);
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)mon);
    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, path, 1 << 20, &env, &env_len, NULL), 0);
    for (size_t i = 0; i < env_len; i += strlen(env + i) + 1) {
        ck_assert_msg(strncmp(env + i, "NOTIFY_SOCKET=", 14) != 0, "the monitor got %s", env + i);
        ck_assert_msg(strncmp(env + i, "WATCHDOG_", 9) != 0, "the monitor got %s", env + i);
    }
    free(env);
    got[0] = '\0';
    notify_read(fd, got, sizeof(got), 600);
    ck_assert_msg(strstr(got, "STATUS=1 container(s)"), "status of the container: %s", got);

    got[0] = '\0';
    berthd_signal(SIGTERM);
    notify_read(fd, got, sizeof(got), 100);
    ck_assert_msg(strstr(got, "STOPPING=1\nSTATUS=stopping; containers keep running"), "%s", got);
    close(fd);

    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, logpath, 1 << 24, &log, NULL, NULL), 0);
    ck_assert_msg(strstr(log, "\n<6>info: berthd ") || strncmp(log, "<6>info: berthd ", 16) == 0,
                  "no journal priority in the log: %.400s", log);
    ck_assert_msg(strstr(log, "<7>debug: "), "no debug priority in the log");
    free(log);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent");
    TCase *tc = tcase_create("berthd");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, NULL, cleanup_leftovers);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, register_run_remove);
    tcase_add_test(tc, kill9_and_readopt);
    tcase_add_test(tc, controller_outage);
    tcase_add_test(tc, liveness_and_metrics);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, answer_fd_not_watchable);
    tcase_add_test(tc, lost_monitors_are_replaced);
    tcase_add_test(tc, pod_init_sidecar_and_readopt);
    tcase_add_test(tc, security_refusals);
    tcase_add_test(tc, pod_endings);
    tcase_add_test(tc, empty_dir_size_limit_evicts);
    tcase_add_test(tc, systemd_notify);
    suite_add_tcase(s, tc);
    return s;
}
