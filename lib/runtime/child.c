/* The container's init until it execs the command: waits for the parent
 * (cgroup, id maps), then sets up everything in the order the kernel
 * requires, and reports any failure to the parent over the sync socket as
 * text. Only async-signal-safe habits are needed (single-threaded fork
 * child), but it may allocate: the parent is single-threaded too. */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* a startContainer hook that gives no timeout: well inside the start's own
 * (60 s by default), so that its failure is the hook's, not the start's */
#define STARTCONTAINER_TIMEOUT_MS 30000

/* Report err to the parent and exit. The record: errno (4 bytes, native
 * order: same host), a flag byte (1: the parent appends strerror, as the
 * exec stub asks; 0 here, the message is complete), the message. */
static __attribute__((noreturn)) void child_fail(int sync_fd, berth_error *err)
{
    char buf[4096];
    int code = err ? err->code : 0;
    size_t len, hdr = sizeof(code) + 1;

    memcpy(buf, &code, sizeof(code));
    buf[sizeof(code)] = 0;
    len = (size_t)snprintf(buf + hdr, sizeof(buf) - hdr, "%s",
                           err && err->msg ? err->msg : "unknown error");
    if (len > sizeof(buf) - hdr - 1)
        len = sizeof(buf) - hdr - 1;
    /* SEQPACKET: one record, whole or not at all. */
    send(sync_fd, buf, hdr + len, MSG_NOSIGNAL);
    _exit(127);
}

/* A terminal of the container's own devpts (the root is the container's
 * now) for the init's stdin, stdout and stderr, its controlling one (we
 * lead a session of our own); its master goes to the parent, which holds
 * it for the log and attach. */
static int open_console(int sync_fd, uid_t uid, berth_error **err)
{
    char buf[sizeof(int) + 1 + 8] = { 0 }, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(int) + 1 + 7 };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)
    };
    struct cmsghdr *cm;
    struct stat st;
    int master, slave, unlock = 0;
    const char *pts = "the container's terminal";

    /* its own devpts' (the container's /dev/ptmx is a link to it), and
     * checked to be a terminal master: nothing under /dev/pts comes from
     * the spec, but a bind over it must fail, not be handed on */
    master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW);
    if (master < 0)
        return berth_error_errno(err, "open the container's /dev/pts/ptmx");
    if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
        minor(st.st_rdev) != 2) {
        close(master);
        return berth_error_set(err, EPERM, "the container's /dev/pts/ptmx is no terminal master");
    }
    /* the peer by the master itself, never by a path */
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
        (slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        close(master);
        return berth_error_errno(err, "open the container's terminal");
    }
    /* the user it runs as owns its terminal (group tty, mode 0620: the
     * devpts options), as a login's does */
    if (fchown(slave, uid, (gid_t)-1) < 0) {
        close(master);
        close(slave);
        return berth_error_errno(err, "give %s to uid %u", pts, (unsigned)uid);
    }
    buf[sizeof(int)] = CHILD_CONSOLE;
    memcpy(buf + sizeof(int) + 1, "console", 7);
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &master, sizeof(int));
    if (sendmsg(sync_fd, &mh, MSG_NOSIGNAL) < 0) {
        close(master);
        close(slave);
        return berth_error_errno(err, "hand the terminal to the monitor");
    }
    close(master);
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0) {
            close(slave);
            return berth_error_errno(err, "the terminal as stdio %d", i);
        }
    close(slave);
    if (ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
        return berth_error_errno(err, "make the terminal the container's");
    return 0;
}

/* Close every fd from 3 up but the ones in keep (sorted, >= 3). */
static int close_all_but(const int *keep, size_t n, berth_error **err)
{
    unsigned int from = 3;

    for (size_t i = 0; i <= n; i++) {
        unsigned int to = i < n ? (unsigned int)keep[i] - 1 : ~0U;

        if (to >= from && syscall(SYS_close_range, from, to, 0) < 0)
            return berth_error_errno(err, "close inherited fds");
        if (i < n)
            from = (unsigned int)keep[i] + 1;
    }
    return 0;
}

/* Make fds stdio[0..2] the process's 0, 1, 2 (not close-on-exec). */
static int setup_stdio(const child_plan *p, berth_error **err)
{
    int tmp[3];

    /* Move everything out of 0..2 first, so one stdio fd cannot clobber
     * another while they are shuffled. */
    for (int i = 0; i < 3; i++) {
        int src = p->stdio[i];

        if (src < 0) {
            src = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (src < 0)
                return berth_error_errno(err, "open /dev/null");
        }
        tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (tmp[i] < 0)
            return berth_error_errno(err, "dup stdio %d", i);
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(tmp[i], i) < 0)
            return berth_error_errno(err, "dup2 stdio %d", i);
        close(tmp[i]);
    }
    return 0;
}

int runtime_loopback_up(berth_error **err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = { 0 };

    if (s < 0)
        return berth_error_errno(err, "socket for lo");
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return berth_error_errno(err, "get flags of lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return berth_error_errno(err, "bring lo up");
    return 0;
}

static int setup_rlimits(const berth_spec *spec, berth_error **err)
{
    for (size_t i = 0; i < spec->n_rlimits; i++) {
        struct rlimit rl = { .rlim_cur = spec->rlimits[i]->soft,
                             .rlim_max = spec->rlimits[i]->hard };
        int res;

        if (berth_rlimit_parse(spec->rlimits[i]->type, &res, err) < 0)
            return -1;
        if (setrlimit(res, &rl) < 0)
            return berth_error_errno(err, "setrlimit %s", spec->rlimits[i]->type);
    }
    return 0;
}

/* CVE-2024-21626: a working directory reached through a leaked fd lies
 * outside the root, which getcwd reports as "(unreachable)...". */
static int enter_workdir(const char *dir, berth_error **err)
{
    char cwd[4096];

    if (chdir(dir) < 0)
        return berth_error_errno(err, "chdir to working directory %s", dir);
    if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
        return berth_error_set(err, EPERM, "working directory %s is outside the container root",
                               dir);
    return 0;
}

/* The executable for argv[0]: as given when it has a '/', else the first
 * match in the container's PATH (execvp's rules). */
static int find_executable(const child_plan *p, char *buf, size_t size, berth_error **err)
{
    const char *cmd = p->argv[0], *path = DEFAULT_PATH;
    int first_errno = ENOENT;

    if (strchr(cmd, '/')) {
        snprintf(buf, size, "%s", cmd);
        return 0;
    }
    for (char **e = p->envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path = *e + 5;
    for (const char *d = path; d;) {
        const char *colon = strchr(d, ':');
        size_t len = colon ? (size_t)(colon - d) : strlen(d);
        struct stat st;

        if (len == 0)
            snprintf(buf, size, "%s", cmd);
        else
            snprintf(buf, size, "%.*s/%s", (int)len, d, cmd);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(buf, X_OK) == 0)
                return 0;
            first_errno = EACCES;
        }
        d = colon ? colon + 1 : NULL;
    }
    if (first_errno == EACCES)
        return berth_error_make(err, EACCES, "exec %s", cmd);
    return berth_error_set(err, ENOENT, "exec %s: executable file not found in PATH (%s)", cmd,
                           path);
}

/* The spec's (namespaced) sysctls, through this process's /proc/sys (the
 * host's procfs, still: the values are those of our namespaces). */
static int set_sysctls(const berth_spec *spec, berth_error **err)
{
    for (size_t i = 0; i < spec->n_sysctls; i++) {
        char path[300];

        snprintf(path, sizeof(path), "/proc/sys/%s", spec->sysctls[i]->name);
        for (char *c = path + 10; *c; c++)
            if (*c == '.')
                *c = '/';
        if (berth_write_file_string_at(AT_FDCWD, path, spec->sysctls[i]->value, err) < 0)
            return berth_error_prefix(err, "sysctl %s", spec->sysctls[i]->name);
    }
    return 0;
}

/* Namespaces (but pid and cgroup), stdio, mounts up to the cgroup
 * filesystem, host name, loopback. */
static int setup_before_cgroup(const child_plan *p, int *ret_rootfd, berth_error **err)
{
    const struct {
        int fd, flag;
        const char *name;
    } joins[] = {
        { p->join_net, CLONE_NEWNET, "network" },
        { p->join_ipc, CLONE_NEWIPC, "ipc" },
        { p->join_uts, CLONE_NEWUTS, "uts" },
    };
    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (p->new_netns ? CLONE_NEWNET : 0);

    /* A pod's container joins the pod's (in the sandbox's files). */
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(joins); i++) {
        if (joins[i].fd < 0)
            continue;
        if (setns(joins[i].fd, joins[i].flag) < 0)
            return berth_error_errno(err, "join the pod's %s namespace", joins[i].name);
        flags &= ~joins[i].flag;
    }
    /* In a user namespace these are owned by it (created after it). */
    if (unshare(flags) < 0)
        return berth_error_errno(err, "unshare the mount, uts, ipc%s namespaces",
                                 p->new_netns ? " and network" : "");
    if (setup_stdio(p, err) < 0 || mount_prepare(p, ret_rootfd, err) < 0)
        return -1;
    if ((flags & CLONE_NEWUTS) && sethostname(p->hostname, strlen(p->hostname)) < 0)
        return berth_error_errno(err, "sethostname %s", p->hostname);
    if ((flags & CLONE_NEWNET) && runtime_loopback_up(err) < 0)
        return -1;
    return set_sysctls(p->spec, err);
}

/* The caller's signal mask and ignored signals would survive the exec:
 * the container starts from defaults. */
void runtime_reset_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
}

/* From inside the container's namespaces and cgroup to the exec: rlimits,
 * no_new_privs, seccomp, capabilities and user, fds, working directory,
 * and the exec through the sealed stub. Shared by the init and by commands
 * run in a running container. Returns only on failure. */
static int exec_command(const child_plan *p, bool rlimits, pid_t host_pid, berth_error **err)
{
    char exe[4096];

    if (rlimits && setup_rlimits(p->spec, err) < 0)
        return -1;
    if (!p->spec->allow_privilege_escalation && !p->spec->privileged &&
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return berth_error_errno(err, "set no_new_privs");
    /* Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
     * the capability switch may take away: install it first then. */
    if (p->seccomp && (p->spec->allow_privilege_escalation || p->spec->privileged) &&
        seccomp_install(p->seccomp, err) < 0)
        return -1;
    if (caps_apply_and_switch_user(p, err) < 0)
        return -1;
    /* A change of credentials clears the parent-death signal: arm it again
     * for as long as the setup runs. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return berth_error_errno(err, "set the parent-death signal");
    /* No host fd may survive into the container (CVE-2024-21626): close
     * everything but stdio, the sync socket and the stub before the chdir
     * (both are close-on-exec). */
    {
        int keep[2] = { p->sync_fd < p->stub_fd ? p->sync_fd : p->stub_fd,
                        p->sync_fd < p->stub_fd ? p->stub_fd : p->sync_fd };

        if (close_all_but(keep, 2, err) < 0)
            return -1;
    }
    if (enter_workdir(p->workdir ? p->workdir : "/", err) < 0)
        return -1;
    if (find_executable(p, exe, sizeof(exe), err) < 0)
        return -1;
    if (p->seccomp && !p->spec->allow_privilege_escalation && !p->spec->privileged &&
        seccomp_install(p->seccomp, err) < 0)
        return -1;
    /* The init's startContainer hooks: in the container, as its command
     * would run (its user, capabilities, seccomp filter, no host fd), so
     * a binary of the image's gains nothing by being a hook's path */
    /* The setup ran with umask 0 (device nodes keep their modes); the
     * command, and its hooks, get the usual one. */
    umask(0022);
    if (p->hooks &&
        runtime_hooks_run(p->hooks, "startContainer",
                          &(runtime_hook_state){ p->spec->id, "created", host_pid, p->hook_bundle },
                          -1, STARTCONTAINER_TIMEOUT_MS, err) < 0)
        return -1;
    /* The command is exec'd by the sealed stub, so /proc/self/exe at that
     * moment is the stub, not this binary (CVE-2019-5736). */
    p->stub_argv[2] = exe;
    /* Set for the setup (a half-made container must not linger), kept for
     * a foreground run, dropped for a supervised container. */
    if (!p->die_with_parent && prctl(PR_SET_PDEATHSIG, 0) < 0)
        return berth_error_errno(err, "clear the parent-death signal");
    if (fcntl(p->sync_fd, F_SETFD, 0) < 0)
        return berth_error_errno(err, "pass the sync socket to the exec stub");
    syscall(SYS_execveat, p->stub_fd, "", p->stub_argv, p->envp, AT_EMPTY_PATH);
    return berth_error_errno(err, "exec the berth-exec stub");
}

/* Tell the parent we are set up, before pivot_root, and wait for its go
 * once it ran the hooks of that point. */
static int hook_point(const child_plan *p, berth_error **err)
{
    char rec[sizeof(int) + 2] = { 0 }, go;

    rec[sizeof(int)] = CHILD_HOOKS;
    rec[sizeof(int) + 1] = 'h';
    if (send(p->sync_fd, rec, sizeof(rec), MSG_NOSIGNAL) < 0)
        return berth_error_errno(err, "tell the parent the hooks may run");
    if (berth_read_retry(p->sync_fd, &go, 1) != 1)
        _exit(126); /* the parent gave up (a hook failed); it cleans up */
    return 0;
}

void child_run(const child_plan *p)
{
    berth_error *err = NULL;
    char go, self[32] = "";
    int rootfd = -1;
    ssize_t r;
    /* our pid as the host sees it, for the hooks' state: the host's /proc
     * is still ours */
    pid_t host_pid = readlink("/proc/self", self, sizeof(self) - 1) > 0 ? atoi(self) : 0;

    /* Die with the parent while setting up: an orphaned half-made
     * container must not linger. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Until the exec nothing in here may be ptraced or have its /proc
     * entries opened by the container (the exec resets this). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    runtime_reset_signals();
    /* A session of its own: the caller's terminal is not the container's
     * controlling terminal, so TIOCSTI cannot type into it. */
    if (setsid() < 0) {
        berth_error_errno(&err, "setsid");
        goto fail;
    }
    umask(0);

    /* Everything that does not need the cgroup happens while the parent
     * moves us into it (a v1 host has many hierarchies to write; on v2 the
     * clone put us there, and the parent's go comes at once). A user
     * namespace first needs its id maps from the parent, so there the
     * order is strictly: wait, then set up. */
    if (!p->userns && setup_before_cgroup(p, &rootfd, &err) < 0)
        goto fail;
    r = berth_read_retry(p->sync_fd, &go, 1);
    if (r != 1)
        _exit(126); /* the parent gave up; it cleans up */
    if (p->userns) {
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 ||
            prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
            berth_error_errno(&err, "become root in the user namespace");
            goto fail;
        }
        if (setup_before_cgroup(p, &rootfd, &err) < 0)
            goto fail;
    }
    if (p->hook_point && hook_point(p, &err) < 0)
        goto fail;
    /* Now inside the cgroup: its namespace is rooted there. */
    if (unshare(CLONE_NEWCGROUP) < 0) {
        berth_error_errno(&err, "unshare the cgroup namespace");
        goto fail;
    }
    if (mount_finish(p, rootfd, &err) < 0)
        goto fail;
    close(rootfd);
    if (p->console && open_console(p->sync_fd, p->uid, &err) < 0)
        goto fail;
    exec_command(p, true, host_pid, &err);
fail:
    child_fail(p->sync_fd, err);
}

void child_exec_run(const child_plan *p, int pidfd, int ns_flags)
{
    berth_error *err = NULL;
    sigset_t waitset;
    int status, sig;
    char go;
    pid_t pid;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Once in the container's namespaces, its root could ptrace us or open
     * our /proc entries while we still run the host binary. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    runtime_reset_signals();
    /* stdio from the host side (its /dev/null), before the mount
     * namespace changes; then nothing of the caller's but what is needed. */
    if (setup_stdio(p, &err) < 0)
        child_fail(p->sync_fd, err);
    {
        int keep[3] = { p->sync_fd, p->stub_fd, pidfd };

        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (keep[j] < keep[i]) {
                    int t = keep[i];
                    keep[i] = keep[j];
                    keep[j] = t;
                }
        if (close_all_but(keep, 3, &err) < 0)
            child_fail(p->sync_fd, err);
    }
    /* All of the container's namespaces at once, named by its init's pidfd
     * (never a recycled pid). The mount namespace makes its root ours. */
    if (setns(pidfd, ns_flags) < 0) {
        berth_error_errno(&err, "join the container's namespaces");
        child_fail(p->sync_fd, err);
    }
    close(pidfd);
    if (berth_read_retry(p->sync_fd, &go, 1) != 1)
        _exit(126);
    /* Signals come through sigwaitinfo: SIGTERM asks to end the command
     * (killed and reaped here, so no orphan is left to a container init
     * that may not reap); SIGHUP is passed on (its client went). */
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGCHLD);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGINT);
    sigaddset(&waitset, SIGHUP);
    sigprocmask(SIG_BLOCK, &waitset, NULL);
    /* In the cgroup now; the pid namespace applies to our children. */
    pid = fork();
    if (pid < 0) {
        berth_error_errno(&err, "fork into the container");
        child_fail(p->sync_fd, err);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        runtime_reset_signals();
        umask(0);
        if (setsid() < 0)
            berth_error_errno(&err, "setsid");
        else if (p->tty && ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
            berth_error_errno(&err, "make the terminal the command's");
        else
            exec_command(p, false, 0, &err);
        child_fail(p->sync_fd, err);
    }
    /* Only the command's exec may close the caller's last copy. */
    close(p->sync_fd);
    for (;;) {
        sig = sigwaitinfo(&waitset, NULL);
        if (sig == SIGTERM || sig == SIGINT)
            kill(pid, SIGKILL);
        /* its session (its process group), or the command itself when it
         * has not made its session yet */
        else if (sig == SIGHUP && kill(-pid, SIGHUP) < 0)
            kill(pid, SIGHUP);
        /* only a SIGKILL'd command is waited for: after a SIGHUP a SIGTERM
         * may still have to come */
        if (berth_waitpid(pid, &status, sig == SIGTERM || sig == SIGINT ? 0 : WNOHANG) == pid)
            break;
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}
