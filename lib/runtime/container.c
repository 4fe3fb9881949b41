/* The parent side of a container start: validate, resolve the plan, create
 * the cgroup, clone the init, let it through once it is in its cgroup (and
 * its id maps are written), and wait for the exec or the child's error.
 * Every failure path removes what was created. */
#include "cgroup-internal.h"
#include "runtime-internal.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct berth_container {
    berth_runtime *rt;
    char *id;
    pid_t pid;
    int pidfd;
    berth_cgroup *cgroup;
    /* Overlay directories this container created (NULL in rootfs mode). */
    char *upper, *work, *mnt;
    char *state_dir;
    bool made_state_dir;
    int64_t started_ns;
    uint64_t oom_base;
    bool reaped;
    berth_exit exit;
    /* opts.devices as the child makes them, and their cgroup rules */
    child_device *devices;
    berth_cgroup_device *device_rules;
    size_t n_device_rules;
    /* opts.devices (the caller's), for the poststart and poststop hooks;
     * their bundle's config.json (removed with the container) */
    const DeviceEdits *hooks;
    char *bundle_dir, *bundle_config;
    bool hooks_ran; /* its create reached its hooks: poststop's due */
    bool poststop_done;
    /* a poststart or poststop hook failed: why (berth_container_take_warning) */
    char *warning;
    /* spec seccomp Localhost: its compiled profile, for the execs too */
    struct sock_fprog localhost;
    /* opts.console: the terminal's master, until taken */
    int console_fd;
};

/* --- the runtime object -------------------------------------------------- */

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The exec stub in a sealed memfd: nothing can write to it, and it has no
 * name on any file system. */
int runtime_make_stub(int *ret_fd, berth_error **err)
{
    _cleanup_close_ int fd = memfd_create("berth-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

    /* Kernels before 6.3 do not know MFD_EXEC (and need none). */
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create("berth-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return berth_error_errno(err, "memfd_create for the exec stub");
    if (berth_write_all(fd, berth_exec_stub, berth_exec_stub_len) < 0)
        return berth_error_errno(err, "write the exec stub");
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        return berth_error_errno(err, "seal the exec stub");
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int berth_runtime_new(const berth_runtime_config *cfg, berth_runtime **ret_rt, berth_error **err)
{
    const char *parent = cfg && cfg->cgroup_parent ? cfg->cgroup_parent : "/berth";
    const char *store = cfg && cfg->image_store ? cfg->image_store : "/var/lib/berth/images";
    berth_runtime *rt;

    if (parent[0] != '/' || strstr(parent, "..") ||
        (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/'))
        return berth_error_set(err, EINVAL,
                               "cgroup parent '%s' must be an absolute path like /berth", parent);
    rt = berth_xcalloc(1, sizeof(*rt));
    rt->cgroup_parent = berth_xstrdup(strcmp(parent, "/") == 0 ? "" : parent);
    rt->image_store = berth_xstrdup(store);
    rt->cgroup_delegated = cfg && cfg->cgroup_delegated;
    rt->stub_fd = -1;
    if (berth_cgroup_driver_detect(cfg ? cfg->cgroup_root : NULL, &rt->cgroups, err) < 0 ||
        runtime_make_stub(&rt->stub_fd, err) < 0) {
        berth_runtime_free(rt);
        return -1;
    }
    *ret_rt = rt;
    return 0;
}

void berth_runtime_free(berth_runtime *rt)
{
    if (!rt)
        return;
    berth_cgroup_driver_free(rt->cgroups);
    if (rt->stub_fd >= 0)
        close(rt->stub_fd);
    free(rt->cgroup_parent);
    free(rt->image_store);
    free(rt->seccomp_prog.filter);
    free(rt);
}

berth_cgroup_driver *berth_runtime_cgroups(berth_runtime *rt)
{
    return rt->cgroups;
}

static int runtime_seccomp(berth_runtime *rt, uint64_t caps, const struct sock_fprog **ret,
                           berth_error **err)
{
    if (caps == seccomp_default_caps) {
        *ret = &seccomp_default_prog;
        return 0;
    }
    if (!rt->seccomp_cached || rt->seccomp_caps != caps) {
        struct sock_fprog prog;

        if (seccomp_compile_default(caps, &prog, err) < 0)
            return -1;
        free(rt->seccomp_prog.filter);
        rt->seccomp_prog = prog;
        rt->seccomp_caps = caps;
        rt->seccomp_cached = true;
    }
    *ret = &rt->seccomp_prog;
    return 0;
}

/* --- plan ----------------------------------------------------------------- */

static void limits_from_spec(const berth_spec *spec, berth_cgroup_limits *lim)
{
    const Resources *r = spec->resources;

    memset(lim, 0, sizeof(*lim));
    lim->all_devices = spec->privileged;
    if (!r)
        return;
    lim->cpu_period_us = r->cpu_period_us;
    if (r->cpu_quota_us > 0) {
        lim->cpu_quota_us = r->cpu_quota_us;
    } else if (r->cpu_millis > 0) {
        int64_t period = r->cpu_period_us ? r->cpu_period_us : 100000;
        /* The kernel's smallest quota is 1 ms. */
        lim->cpu_quota_us = r->cpu_millis * period / 1000;
        if (lim->cpu_quota_us < 1000)
            lim->cpu_quota_us = 1000;
    }
    lim->cpu_weight = r->cpu_weight;
    lim->memory_bytes = r->memory_bytes;
    lim->pids_max = r->pids_limit;
    lim->cpuset_cpus = r->cpuset_cpus;
    lim->cpuset_mems = r->cpuset_mems;
}

static bool env_has(const berth_spec *spec, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < spec->n_env; i++)
        if (strncmp(spec->env[i], name, n) == 0 && spec->env[i][n] == '=')
            return true;
    return false;
}

/* argv (cmd, or the spec's command and args) and envp (the spec's, plus
 * the defaults in extra), pointing into their sources. */
static void build_exec(const berth_spec *spec, size_t cmdc, char *const *cmd, const char *hostname,
                       char extra[2][300], char ***ret_argv, char ***ret_envp)
{
    size_t argc = cmd ? cmdc : spec->n_command + spec->n_args, envc = 0;
    char **argv = berth_xcalloc(argc + 1, sizeof(char *));
    char **envp = berth_xcalloc(spec->n_env + 4, sizeof(char *));
    uid_t uid = spec->user ? spec->user->uid : 0;

    for (size_t i = 0; i < argc; i++)
        argv[i] = cmd                   ? cmd[i]
                  : i < spec->n_command ? spec->command[i]
                                        : spec->args[i - spec->n_command];
    if (!env_has(spec, "PATH"))
        envp[envc++] = (char *)DEFAULT_PATH;
    if (!env_has(spec, "HOSTNAME")) {
        snprintf(extra[0], sizeof(extra[0]), "HOSTNAME=%s", hostname);
        envp[envc++] = extra[0];
    }
    if (!env_has(spec, "HOME")) {
        snprintf(extra[1], sizeof(extra[1]), "HOME=%s", uid == 0 ? "/root" : "/");
        envp[envc++] = extra[1];
    }
    for (size_t i = 0; i < spec->n_env; i++)
        envp[envc++] = spec->env[i];
    *ret_argv = argv;
    *ret_envp = envp;
}

/* The process part of a plan, shared by the init and by exec: user,
 * capabilities, seccomp, working directory, argv and envp. */
static int plan_process(berth_runtime *rt, const berth_spec *spec, size_t cmdc, char *const *cmd,
                        const char *hostname, char extra[2][300], child_plan *plan,
                        char ***ret_argv, char ***ret_envp, berth_error **err)
{
    plan->spec = spec;
    plan->cgroups = rt->cgroups;
    plan->hostname = hostname;
    plan->workdir = *spec->working_dir ? spec->working_dir : NULL;
    plan->uid = spec->user ? spec->user->uid : 0;
    plan->gid = spec->user ? spec->user->gid : 0;
    plan->userns = spec->user_namespace && spec->user_namespace->enabled;
    plan->new_netns = spec->network == NETWORK_NONE;
    plan->join_net = plan->join_ipc = plan->join_uts = -1;
    plan->stub_fd = rt->stub_fd;
    if (berth_spec_caps(spec, &plan->caps, err) < 0)
        return -1;
    /* privileged: every capability we have ourselves (a runtime in a
     * restricted environment cannot give more) */
    if (spec->privileged) {
        uint64_t have = 0;

        for (int cap = 0; cap < 64; cap++)
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
                have |= UINT64_C(1) << cap;
        plan->caps &= have;
    }
    build_exec(spec, cmdc, cmd, hostname, extra, ret_argv, ret_envp);
    plan->argv = *ret_argv;
    plan->envp = *ret_envp;
    /* privileged: no filter (and no no_new_privs: child.c) */
    if (spec->seccomp == SECCOMP_DEFAULT && !spec->privileged &&
        runtime_seccomp(rt, plan->caps, &plan->seccomp, err) < 0)
        return -1;
    return 0;
}

/* The sync socket pair; neither end lands on 0..2, which the child
 * rewires. */
static int make_sync_pair(int *ret_parent, int *ret_child, berth_error **err)
{
    int sv[2], a, b;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return berth_error_errno(err, "socketpair");
    a = fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
    b = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);
    close(sv[0]);
    close(sv[1]);
    if (a < 0 || b < 0) {
        if (a >= 0)
            close(a);
        if (b >= 0)
            close(b);
        return berth_error_errno(err, "dup sync socket");
    }
    *ret_parent = a;
    *ret_child = b;
    return 0;
}

/* The stub's argv: MODE SYNC_FD PATH(filled by the child) ARGV... The mode
 * selects exec the command ("berth-exec"), or stay as a tiny init that runs
 * it as a child and reaps orphans ("berth-init"). */
static void make_stub_argv(child_plan *plan, const char *mode, int sync_fd, char fd_str[16],
                           char ***ret)
{
    size_t n = 0;
    char **a;

    while (plan->argv[n])
        n++;
    a = berth_xcalloc(n + 4, sizeof(char *));
    snprintf(fd_str, 16, "%d", sync_fd);
    a[0] = (char *)mode;
    a[1] = fd_str;
    for (size_t i = 0; i < n; i++)
        a[3 + i] = plan->argv[i];
    plan->sync_fd = sync_fd;
    plan->stub_argv = a;
    *ret = a;
}

static int make_dir_fresh(const char *path, berth_error **err)
{
    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return berth_error_errno(err, "mkdir %s", path);
    /* A leftover of a crashed start: start over. */
    if (berth_rm_rf_at(AT_FDCWD, path, err) < 0)
        return -1;
    if (mkdir(path, 0700) < 0)
        return berth_error_errno(err, "mkdir %s", path);
    return 0;
}

static int prepare_rootfs(berth_container *c, const berth_spec *spec, const berth_create_opts *opts,
                          child_plan *plan, char **ret_lower, berth_error **err)
{
    struct stat st;

    if (*spec->rootfs) {
        if (stat(spec->rootfs, &st) < 0)
            return berth_error_errno(err, "rootfs %s", spec->rootfs);
        if (!S_ISDIR(st.st_mode))
            return berth_error_set(err, ENOTDIR, "rootfs %s: not a directory", spec->rootfs);
        plan->rootfs_dir = spec->rootfs;
        return 0;
    }
    if (opts && opts->n_image_layers > 0) {
        for (size_t i = 0; i < opts->n_image_layers; i++)
            if (opts->image_layers[i][0] != '/' || stat(opts->image_layers[i], &st) < 0 ||
                !S_ISDIR(st.st_mode))
                return berth_error_set(err, ENOENT, "image %s: layer %s not found", spec->image,
                                       opts->image_layers[i]);
        plan->overlay_lowers = opts->image_layers;
        plan->n_overlay_lowers = opts->n_image_layers;
    } else {
        *ret_lower = berth_xasprintf("%s/%s", c->rt->image_store, spec->image);
        if (stat(*ret_lower, &st) < 0 || !S_ISDIR(st.st_mode))
            return berth_error_set(err, ENOENT, "image %s not found in %s", spec->image,
                                   c->rt->image_store);
        plan->overlay_lowers = ret_lower;
        plan->n_overlay_lowers = 1;
    }
    if (!c->state_dir)
        return berth_error_set(err, EINVAL,
                               "image %s: the runtime needs a state directory for the "
                               "container's writable layer",
                               spec->image);
    c->upper = berth_xasprintf("%s/upper", c->state_dir);
    c->work = berth_xasprintf("%s/work", c->state_dir);
    c->mnt = berth_xasprintf("%s/rootfs", c->state_dir);
    if (make_dir_fresh(c->upper, err) < 0 || make_dir_fresh(c->work, err) < 0 ||
        make_dir_fresh(c->mnt, err) < 0)
        return -1;
    /* The container's / is the upper layer's root: world-readable. */
    if (chmod(c->upper, 0755) < 0 || chmod(c->mnt, 0755) < 0)
        return berth_error_errno(err, "chmod %s", c->upper);
    plan->rootfs_dir = c->mnt;
    plan->overlay_upper = c->upper;
    plan->overlay_work = c->work;
    return 0;
}

/* What the child said on the sync socket: 1 EOF (it exec'd: the socket is
 * close-on-exec), 0 nothing yet (MSG_DONTWAIT) or its console (into
 * *console_fd when not NULL), -1 its error. */
static int read_child_record(int sock, int flags, int *console_fd, berth_error **err)
{
    const size_t hdr = sizeof(int) + 1;
    char buf[4096 + 1], cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;
    bool reset = false;
    ssize_t n;
    int code = 0, fd = -1;

    /* A child that failed before it read our go closed with it unread:
     * the kernel reports that once (ECONNRESET), ahead of the record the
     * child sent, which the next read returns. */
    do {
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
    } while (n < 0 && (errno == EINTR || (errno == ECONNRESET && !reset && (reset = true))));
    for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    if (n > 0 && (size_t)n > hdr && buf[sizeof(code)] == CHILD_CONSOLE) {
        struct stat st;

        /* a terminal master (5:2), or nothing of ours */
        if (fd >= 0 && console_fd && *console_fd < 0 && fstat(fd, &st) == 0 &&
            S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2)
            *console_fd = fd;
        else if (fd >= 0)
            close(fd);
        return 0;
    }
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        if (errno == EAGAIN)
            return 0;
        return berth_error_errno(err, "read the container init's status");
    }
    if (n == 0)
        return 1;
    buf[n] = '\0';
    if ((size_t)n <= hdr)
        return berth_error_set(err, EPROTO, "the container init failed without a message");
    memcpy(&code, buf, sizeof(code));
    if (buf[sizeof(code)])
        return berth_error_make(err, code, "%s", buf + hdr);
    return berth_error_set(err, code, "%s", buf + hdr);
}

/* Wait for the child to reach its hooks' point (CHILD_HOOKS), or its
 * error, at most timeout_ms. */
static int await_hook_point(int sock, int timeout_ms, berth_error **err)
{
    struct pollfd pfd = { .fd = sock, .events = POLLIN };
    int64_t deadline = berth_now_mono_ns() + (int64_t)timeout_ms * 1000000;
    char buf[16];
    ssize_t n;

    for (;;) {
        int64_t left = deadline - berth_now_mono_ns();
        int r;

        if (left <= 0)
            return berth_error_set(err, ETIMEDOUT,
                                   "the container init did not reach its hooks within %d ms",
                                   timeout_ms);
        r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return berth_error_errno(err, "wait for the container init");
        if (r <= 0)
            continue;
        /* its hooks' record, else (an error) read as any other */
        n = recv(sock, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n > (ssize_t)sizeof(int) && buf[sizeof(int)] == CHILD_HOOKS) {
            (void)!recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
            return 0;
        }
        r = read_child_record(sock, MSG_DONTWAIT, NULL, err);
        if (r < 0)
            return -1;
        if (r == 1)
            return berth_error_set(err, EPROTO, "the container init went on without its hooks");
    }
}

/* Wait for the child's exec or its error, at most timeout_ms: a child
 * stuck in its setup must not hold the caller forever. */
static int read_child_error(int sock, int flags, berth_error **err)
{
    return read_child_record(sock, flags, NULL, err);
}

static int await_child(int sock, int timeout_ms, int *console_fd, berth_error **err)
{
    struct pollfd pfd = { .fd = sock, .events = POLLIN };
    int64_t deadline = berth_now_mono_ns() + (int64_t)timeout_ms * 1000000;

    for (;;) {
        int64_t left = deadline - berth_now_mono_ns();
        int r;

        if (left <= 0)
            return berth_error_set(err, ETIMEDOUT,
                                   "the container init did not start its command within %d ms",
                                   timeout_ms);
        r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return berth_error_errno(err, "wait for the container init");
        if (r > 0 && (r = read_child_record(sock, MSG_DONTWAIT, console_fd, err)) != 0)
            return r;
    }
}

static int write_id_map(pid_t pid, const char *file, IdMap **maps, size_t n, berth_error **err)
{
    char path[64], buf[340 * 36];
    size_t len = 0;

    for (size_t i = 0; i < n; i++)
        len +=
            (size_t)snprintf(buf + len, sizeof(buf) - len, "%" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
                             maps[i]->container_id, maps[i]->host_id, maps[i]->size);
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    return berth_write_file_string_at(AT_FDCWD, path, buf, err);
}

/* Remove the overlay directories and the state dir if this container made
 * them. */
static int remove_dirs(berth_container *c, berth_error **err)
{
    int r = 0;

    for (char **d = (char *[]){ c->upper, c->work, c->mnt, NULL }; *d; d++)
        if (berth_rm_rf_at(AT_FDCWD, *d, r < 0 ? NULL : err) < 0)
            r = -1;

    if (c->made_state_dir && rmdir(c->state_dir) < 0 && errno != ENOENT && errno != ENOTEMPTY &&
        r == 0)
        r = berth_error_errno(err, "rmdir %s", c->state_dir);
    return r;
}

void berth_container_free(berth_container *c)
{
    if (!c)
        return;
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->console_fd >= 0)
        close(c->console_fd);
    berth_cgroup_free(c->cgroup);
    free(c->id);
    free(c->upper);
    free(c->work);
    free(c->mnt);
    free(c->state_dir);
    free(c->localhost.filter);
    free(c->devices);
    free(c->device_rules);
    free(c->bundle_dir);
    free(c->bundle_config);
    free(c->warning);
    free(c);
}
BERTH_DEFINE_CLEANUP(berth_container, berth_container_free)

/* The end of a container whose create reached its hooks: its poststop
 * hooks (once everything else of it is gone; a failure is only a
 * warning), then its bundle's config.json, and the state directory when
 * it was made for it. Once. */
static void finish_hooks(berth_container *c)
{
    if (!c || c->poststop_done)
        return;
    c->poststop_done = true;
    if (c->hooks_ran) {
        runtime_hook_state st = { c->id, "stopped", c->pid, c->bundle_dir };
        berth_error *herr = NULL;

        if (runtime_hooks_run(c->hooks, "poststop", &st, -1, 30000, &herr) < 0) {
            free(c->warning);
            c->warning = berth_error_steal_msg(&herr);
        }
    }
    if (c->bundle_config) {
        unlink(c->bundle_config);
        rmdir(c->bundle_dir);
        if (c->made_state_dir)
            rmdir(c->state_dir);
    }
}

/* Undo a failed start: the child (if any) is killed and reaped, as the
 * rest of the start waited for it. It is pid 1 of its own pid namespace
 * and was the only process to enter the cgroup: once it is reaped,
 * everything it started is gone too, and one removal step removes the
 * cgroup. */
static void abort_start(berth_container *c)
{
    if (c->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
        berth_waitpid(c->pid, NULL, 0);
        close(c->pidfd);
        c->pidfd = -1;
        c->reaped = true;
    }
    if (c->cgroup)
        berth_cgroup_remove_step(c->cgroup, NULL);
    remove_dirs(c, NULL);
}

/* The sandbox's namespace files a pod's container joins: net (unless the
 * spec has the host's), ipc, uts into fds[0..2], and pid into fds[3] when
 * the pod shares one (else -1). */
static int open_sandbox(const char *dir, const berth_spec *spec, int fds[4], berth_error **err)
{
    static const char *const names[] = { "net", "ipc", "uts", "pid" };

    for (size_t i = 0; i < 4; i++) {
        char path[PATH_MAX];

        fds[i] = -1;
        if (i == 0 && spec->network == NETWORK_HOST)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fds[i] < 0 && !(i == 3 && errno == ENOENT))
            return berth_error_errno(err, "open the pod's %s namespace %s", names[i], path);
    }
    return 0;
}

/* clone3 ca, into the pod's PID namespace pidns when >= 0 (pid_for_children
 * of this thread goes there for the clone, and back). */
static pid_t clone_into(struct clone_args *ca, int pidns, berth_error **err)
{
    _cleanup_close_ int own = -1;
    pid_t pid;

    if (pidns >= 0) {
        own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own < 0)
            return berth_error_errno(err, "open /proc/self/ns/pid");
        if (setns(pidns, CLONE_NEWPID) < 0)
            return berth_error_errno(err, "join the pod's PID namespace");
        ca->flags &= ~(uint64_t)CLONE_NEWPID;
    }
    pid = (pid_t)syscall(SYS_clone3, ca, sizeof(*ca));
    if (pid == 0)
        return 0;
    if (pid < 0)
        berth_error_errno(err, "clone the container init");
    if (own >= 0 && setns(own, CLONE_NEWPID) < 0 && pid > 0) {
        /* cannot happen (it is our own); the next start would land there */
        berth_error_errno(err, "return to our PID namespace");
        kill(pid, SIGKILL);
        berth_waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

int berth_container_create(berth_runtime *rt, const berth_spec *spec, const berth_create_opts *opts,
                           berth_container **ret_c, berth_error **err)
{
    _cleanup_(berth_container_freep) berth_container *c = NULL;
    _cleanup_free_ char **argv = NULL, **envp = NULL, **stub_argv = NULL;
    _cleanup_free_ char *lower = NULL, *cgpath = NULL;
    char **empty_dirs = NULL;
    _cleanup_close_ int sock_parent = -1, sock_child = -1;
    char extra_env[2][300], hostname[64], sync_fd_str[16];
    char hosts_file[PATH_MAX], resolv_file[PATH_MAX];
    berth_cgroup_limits lim;
    child_plan plan = { .spec = spec };
    struct clone_args ca = { 0 };
    int pidfd = -1, sandbox[4] = { -1, -1, -1, -1 };
    _cleanup_close_ int cgfd = -1;
    pid_t pid;

    if (berth_spec_validate(spec, err) < 0)
        return -1;
    /* An image's command comes from its config: the caller gives the
     * effective spec (berth_spec_effective). */
    if (spec->n_command == 0)
        return berth_error_set(err, EINVAL, "spec.command: must not be empty");
    c = berth_xcalloc(1, sizeof(*c));
    c->id = berth_xstrdup(spec->id);
    c->rt = rt;
    c->pidfd = -1;
    c->console_fd = -1;
    if (opts && opts->state_dir) {
        c->state_dir = berth_xstrdup(opts->state_dir);
        if (mkdir(c->state_dir, 0700) == 0)
            c->made_state_dir = true;
        else if (errno != EEXIST)
            return berth_error_errno(err, "container %s: mkdir %s", spec->id, c->state_dir);
    }
    for (int i = 0; i < 3; i++)
        plan.stdio[i] = opts ? opts->stdio[i] : -1;
    plan.die_with_parent = opts && opts->die_with_parent;
    plan.console = opts && opts->console;

    snprintf(hostname, sizeof(hostname), "%s", *spec->hostname ? spec->hostname : spec->id);
    if (plan_process(rt, spec, 0, NULL, hostname, extra_env, &plan, &argv, &envp, err) < 0)
        return berth_error_prefix(err, "container %s", spec->id);
    if (opts && opts->sandbox_dir) {
        if (plan.userns) {
            berth_error_set(err, EINVAL, "a user namespace cannot join a pod's namespaces");
            goto fail;
        }
        if (open_sandbox(opts->sandbox_dir, spec, sandbox, err) < 0)
            goto fail;
        plan.join_net = sandbox[0];
        plan.join_ipc = sandbox[1];
        plan.join_uts = sandbox[2];
        /* the pod's own /etc files, when its sandbox has them */
        snprintf(hosts_file, sizeof(hosts_file), "%s/" BERTH_SANDBOX_HOSTS, opts->sandbox_dir);
        snprintf(resolv_file, sizeof(resolv_file), "%s/" BERTH_SANDBOX_RESOLV, opts->sandbox_dir);
        if (spec->network != NETWORK_HOST && access(hosts_file, F_OK) == 0)
            plan.hosts_file = hosts_file;
        if (spec->network != NETWORK_HOST && access(resolv_file, F_OK) == 0)
            plan.resolv_file = resolv_file;
    }
    if (runtime_empty_dirs(spec, opts ? opts->volumes_dir : NULL, opts ? opts->config_dir : NULL,
                           &empty_dirs, err) < 0)
        goto fail;
    plan.empty_dirs = empty_dirs;
    if (*spec->termination_message_path && opts && opts->termination_log)
        plan.termination_log = opts->termination_log;
    if (spec->seccomp == SECCOMP_LOCALHOST && !spec->privileged) {
        if (!opts || !opts->seccomp_profile_path) {
            berth_error_set(err, EINVAL, "spec.seccomp_profile %s: the node gave no profile path",
                            spec->seccomp_profile);
            goto fail;
        }
        if (seccomp_compile_oci(opts->seccomp_profile_path, &c->localhost, err) < 0)
            goto fail;
        plan.seccomp = &c->localhost;
    }

    /* The cgroup first: it is the claim on the id. A container of the same
     * id that still runs makes this fail before anything of its (its
     * writable layer) is touched. */
    limits_from_spec(spec, &lim);
    if (opts && opts->devices) {
        if (runtime_plan_devices(opts->devices, &c->devices, &c->device_rules, &c->n_device_rules,
                                 err) < 0)
            goto fail;
        plan.devices = c->devices;
        plan.n_devices = opts->devices->n_nodes;
        plan.device_mounts = opts->devices->mounts;
        plan.n_device_mounts = opts->devices->n_mounts;
        lim.devices = c->device_rules;
        lim.n_devices = c->n_device_rules;
        if (opts->devices->n_hooks > 0 && !c->state_dir) {
            berth_error_set(err, EINVAL, "device hooks need a state directory (their bundle)");
            goto fail;
        }
        c->hooks = opts->devices->n_hooks > 0 ? opts->devices : NULL;
        plan.hooks = c->hooks;
        if (c->hooks) {
            c->bundle_dir = berth_xasprintf("%s/bundle", c->state_dir);
            plan.hook_bundle = c->bundle_dir;
        }
        plan.hook_point = runtime_hooks_have(c->hooks, "prestart") ||
                          runtime_hooks_have(c->hooks, "createRuntime") ||
                          runtime_hooks_have(c->hooks, "createContainer");
    }
    cgpath = berth_xasprintf("%s/%s", rt->cgroup_parent, spec->id);
    if ((rt->cgroup_delegated &&
         berth_cgroup_step_aside(rt->cgroups, rt->cgroup_parent, err) < 0) ||
        berth_cgroup_create(rt->cgroups, cgpath, &lim, &c->cgroup, err) < 0)
        goto fail;
    /* v2: the clone puts the child straight into it (CLONE_INTO_CGROUP):
     * no move after it, which takes the kernel's cgroup-wide lock. */
    if (berth_cgroup_driver_version(rt->cgroups) == BERTH_CGROUP_V2 &&
        berth_cgroup_open_fd(c->cgroup, &cgfd, err) < 0)
        goto fail;
    if (prepare_rootfs(c, spec, opts, &plan, &lower, err) < 0)
        goto fail;
    if (c->hooks && runtime_hooks_bundle(c->bundle_dir, &plan, &c->bundle_config, err) < 0)
        goto fail;

    if (make_sync_pair(&sock_parent, &sock_child, err) < 0)
        goto fail;
    make_stub_argv(&plan, spec->init ? "berth-init" : "berth-exec", sock_child, sync_fd_str,
                   &stub_argv);

    /* Only the pid namespace must come with the clone (the child is its
     * pid 1). The child unshares the mount, uts, ipc and net namespaces
     * itself, while this side writes its cgroup: creating a network
     * namespace and copying the host's mount table are the costly parts. */
    ca.flags = CLONE_NEWPID | CLONE_PIDFD;
    if (plan.userns)
        ca.flags |= CLONE_NEWUSER;
    if (cgfd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgfd;
    }
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;
    pid = clone_into(&ca, sandbox[3], err);
    if (pid < 0)
        goto fail;
    if (pid == 0) {
        close(sock_parent);
        child_run(&plan);
    }
    c->pid = pid;
    c->pidfd = pidfd;
    close(TAKE_FD(sock_child));
    for (size_t i = 0; i < 4; i++)
        if (sandbox[i] >= 0)
            close(TAKE_FD(sandbox[i]));
    runtime_empty_dirs_free(TAKE_PTR(empty_dirs), spec->n_mounts);

    /* The child sets up its mounts meanwhile (unless in a user namespace,
     * where it waits for the maps). If it fails early, its own error is
     * the one to report, not what its exit did to these steps. */
    if ((plan.userns && (write_id_map(pid, "uid_map", spec->user_namespace->uid_maps,
                                      spec->user_namespace->n_uid_maps, err) < 0 ||
                         write_id_map(pid, "gid_map", spec->user_namespace->gid_maps,
                                      spec->user_namespace->n_gid_maps, err) < 0)) ||
        (cgfd < 0 && berth_cgroup_enter(c->cgroup, pid, err) < 0)) {
        read_child_error(sock_parent, MSG_DONTWAIT, err);
        goto fail;
    }
    /* A child that already failed has closed its end (EPIPE); its record
     * is still there to read. */
    if (write(sock_parent, "g", 1) != 1 && errno != EPIPE && errno != ECONNRESET) {
        berth_error_errno(err, "start the container init");
        goto fail;
    }
    /* from here on its hooks may run (startContainer in the child): its
     * poststop hooks are due whatever comes */
    c->hooks_ran = c->hooks != NULL;
    /* Its hooks before pivot_root (runtime-spec's order): prestart and
     * createRuntime here, createContainer in its mount namespace. */
    if (plan.hook_point) {
        int tmo = opts->start_timeout_ms > 0 ? opts->start_timeout_ms : 60000;
        runtime_hook_state st = { c->id, "creating", pid, plan.hook_bundle };

        if (await_hook_point(sock_parent, tmo, err) < 0 ||
            runtime_hooks_run(c->hooks, "prestart", &st, -1, tmo, err) < 0 ||
            runtime_hooks_run(c->hooks, "createRuntime", &st, -1, tmo, err) < 0 ||
            runtime_hooks_run(c->hooks, "createContainer", &st, pidfd, tmo, err) < 0)
            goto fail;
        if (write(sock_parent, "g", 1) != 1 && errno != EPIPE && errno != ECONNRESET) {
            berth_error_errno(err, "start the container init after its hooks");
            goto fail;
        }
    }
    /* EOF: the exec happened (the socket is close-on-exec). A record: the
     * child's own error. */
    if (await_child(sock_parent,
                    opts && opts->start_timeout_ms > 0 ? opts->start_timeout_ms : 60000,
                    &c->console_fd, err) < 0)
        goto fail;
    if (plan.console && c->console_fd < 0) {
        berth_error_set(err, EPROTO, "the container init made no terminal");
        goto fail;
    }
    c->started_ns = berth_now_real_ns();
    if (berth_cgroup_oom_kills(c->cgroup, &c->oom_base, NULL) < 0)
        c->oom_base = 0;
    /* poststart: a failure does not undo the start (runtime-spec: a
     * warning; here the caller's log has no word of it but debug) */
    {
        runtime_hook_state st = { c->id, "running", c->pid, plan.hook_bundle };
        berth_error *herr = NULL;

        if (runtime_hooks_run(c->hooks, "poststart", &st, -1, 30000, &herr) < 0) {
            free(c->warning);
            c->warning = berth_error_steal_msg(&herr);
        }
    }
    *ret_c = TAKE_PTR(c);
    return 0;

fail:
    abort_start(c);
    finish_hooks(c);
    if (c && c->warning && err && *err) {
        int code = (*err)->code;
        _cleanup_free_ char *msg = berth_error_steal_msg(err);

        berth_error_set(err, code, "%s; and %s", msg, c->warning);
    }
    runtime_empty_dirs_free(empty_dirs, spec->n_mounts);
    for (size_t i = 0; i < 4; i++)
        if (sandbox[i] >= 0)
            close(sandbox[i]);
    berth_error_prefix(err, "container %s", spec->id);
    return -1;
}

/* --- a running container ------------------------------------------------- */

char *berth_container_take_warning(berth_container *c)
{
    return TAKE_PTR(c->warning);
}

pid_t berth_container_pid(const berth_container *c)
{
    return c->pid;
}

int berth_container_take_console(berth_container *c)
{
    int fd = c->console_fd;

    c->console_fd = -1;
    return fd;
}

int berth_container_pidfd(const berth_container *c)
{
    return c->pidfd;
}

const char *berth_container_id(const berth_container *c)
{
    return c->id;
}

berth_cgroup *berth_container_cgroup(berth_container *c)
{
    return c->cgroup;
}

int64_t berth_container_started_ns(const berth_container *c)
{
    return c->started_ns;
}

int berth_container_signal(berth_container *c, int sig, berth_error **err)
{
    if (c->reaped)
        return berth_error_set(err, ESRCH, "container %s has exited", c->id);
    if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0)
        return berth_error_errno(err, "signal %d to container %s", sig, c->id);
    return 0;
}

int berth_container_kill_all(berth_container *c, berth_error **err)
{
    int r = 0;

    if (c->cgroup && berth_cgroup_kill_all(c->cgroup, err) < 0)
        r = berth_error_prefix(err, "container %s", c->id);
    /* Whatever the cgroup did: the init dies, and with it its pid
     * namespace. */
    if (!c->reaped)
        syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
    return r;
}

int berth_container_wait(berth_container *c, bool nohang, berth_exit *ret_exit, berth_error **err)
{
    siginfo_t si = { 0 };
    uint64_t ooms = 0;

    if (c->reaped) {
        *ret_exit = c->exit;
        return 1;
    }
    for (;;) {
        if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | (nohang ? WNOHANG : 0)) == 0)
            break;
        if (errno != EINTR)
            return berth_error_errno(err, "wait for container %s", c->id);
    }
    if (si.si_pid == 0)
        return 0;
    c->reaped = true;
    c->exit.started_ns = c->started_ns;
    c->exit.finished_ns = berth_now_real_ns();
    if (si.si_code == CLD_EXITED) {
        c->exit.exit_code = si.si_status;
        c->exit.signal = 0;
    } else {
        c->exit.signal = si.si_status;
        c->exit.exit_code = 128 + si.si_status;
    }
    if (c->cgroup && berth_cgroup_oom_kills(c->cgroup, &ooms, NULL) == 0)
        c->exit.oom_killed = ooms > c->oom_base;
    *ret_exit = c->exit;
    return 1;
}

struct berth_exec {
    berth_container *c;
    pid_t pid;
    int sock;
};

int berth_container_exec_start(berth_container *c, const berth_spec *spec, size_t argc,
                               char *const *argv, const int stdio[3], unsigned flags,
                               berth_exec **ret_exec, berth_error **err)
{
    _cleanup_free_ char **cargv = NULL, **envp = NULL, **stub_argv = NULL;
    _cleanup_close_ int sock_parent = -1, sock_child = -1;
    char extra_env[2][300], hostname[64], sync_fd_str[16];
    child_plan plan = { .die_with_parent = true, .tty = (flags & BERTH_EXEC_TTY) != 0 };
    int ns = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWNS;
    berth_exec *x;
    pid_t pid;

    if (c->reaped)
        return berth_error_set(err, ESRCH, "exec in container %s: it has exited", c->id);
    if (argc == 0 || argc > BERTH_SPEC_ARGS_MAX || !argv || !argv[0] || !*argv[0])
        return berth_error_set(err, EINVAL, "exec in container %s: no command", c->id);
    snprintf(hostname, sizeof(hostname), "%s", *spec->hostname ? spec->hostname : spec->id);
    for (int i = 0; i < 3; i++)
        plan.stdio[i] = stdio ? stdio[i] : -1;
    if (plan_process(c->rt, spec, argc, argv, hostname, extra_env, &plan, &cargv, &envp, err) < 0 ||
        make_sync_pair(&sock_parent, &sock_child, err) < 0)
        return berth_error_prefix(err, "exec in container %s", c->id);
    /* the container's own profile binds what runs in it later too */
    if (spec->seccomp == SECCOMP_LOCALHOST && !spec->privileged) {
        if (!c->localhost.filter)
            return berth_error_set(
                err, EINVAL, "exec in container %s: its seccomp profile is not loaded", c->id);
        plan.seccomp = &c->localhost;
    }
    make_stub_argv(&plan, "berth-exec", sock_child, sync_fd_str, &stub_argv);
    if (plan.new_netns)
        ns |= CLONE_NEWNET;
    if (plan.userns)
        ns |= CLONE_NEWUSER;
    /* The container's cgroup namespace was made by its init after clone:
     * join it too, so /proc/self/cgroup reads the same inside. */
    ns |= CLONE_NEWCGROUP;
    pid = fork();
    if (pid < 0)
        return berth_error_errno(err, "exec in container %s: fork", c->id);
    if (pid == 0) {
        close(sock_parent);
        child_exec_run(&plan, c->pidfd, ns);
    }
    close(TAKE_FD(sock_child));
    if (berth_cgroup_enter(c->cgroup, pid, err) < 0) {
        read_child_error(sock_parent, MSG_DONTWAIT, err);
        goto fail;
    }
    if (write(sock_parent, "g", 1) != 1 && errno != EPIPE && errno != ECONNRESET) {
        berth_error_errno(err, "exec in container %s: start", c->id);
        goto fail;
    }
    x = berth_xcalloc(1, sizeof(*x));
    x->c = c;
    x->pid = pid;
    x->sock = TAKE_FD(sock_parent);
    *ret_exec = x;
    return 0;
fail:
    /* Not in the container's cgroup yet, or gone already: it ends at once.
     * SIGTERM: it kills and reaps the command if one was forked. */
    kill(pid, SIGTERM);
    berth_waitpid(pid, NULL, 0);
    return berth_error_prefix(err, "exec in container %s", c->id);
}

int berth_exec_fd(const berth_exec *x)
{
    return x->sock;
}

pid_t berth_exec_pid(const berth_exec *x)
{
    return x->pid;
}

int berth_exec_finish(berth_exec *x, berth_error **err)
{
    int r = read_child_error(x->sock, MSG_DONTWAIT, err);

    return r < 0 ? berth_error_prefix(err, "exec in container %s", x->c->id) : r;
}

void berth_exec_free(berth_exec *x)
{
    if (!x)
        return;
    close(x->sock);
    free(x);
}

int berth_container_remove_step(berth_container *c, berth_error **err)
{
    berth_exit ex;
    int r;

    if (!c->reaped) {
        /* Whatever still runs goes; the init is reaped once it has. */
        berth_container_kill_all(c, NULL);
        r = berth_container_wait(c, true, &ex, err);
        if (r <= 0)
            return r < 0 ? berth_error_prefix(err, "remove container %s", c->id) : 0;
    }
    if (c->cgroup) {
        r = berth_cgroup_remove_step(c->cgroup, err);
        if (r <= 0)
            return r < 0 ? berth_error_prefix(err, "remove container %s", c->id) : 0;
    }
    if (remove_dirs(c, err) < 0)
        return berth_error_prefix(err, "remove container %s", c->id);
    finish_hooks(c);
    return 1;
}

int container_busy_error(berth_container *c, int waited_ms, berth_error **err)
{
    if (!c->reaped)
        return berth_error_set(err, EBUSY,
                               "remove container %s: its init has not exited after %d ms", c->id,
                               waited_ms);
    cgroup_busy_error(c->cgroup, waited_ms, err);
    return berth_error_prefix(err, "remove container %s", c->id);
}
