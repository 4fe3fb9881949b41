/* A pod's sandbox (see sandbox.h): its namespaces held by bind mounts of
 * their files, its PID namespace by a pause, its cgroup. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "runtime-internal.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define PAUSE_FILE   "pause"
#define PAUSE_CGROUP "pause"

/* The namespaces a sandbox holds by bind mount, in this order. */
static const struct {
    const char *name;
    int flag;
} sandbox_ns[] = {
    { "net", CLONE_NEWNET },
    { "ipc", CLONE_NEWIPC },
    { "uts", CLONE_NEWUTS },
};

/* What the helper child reports: errno and message, or the pause's pid. */
typedef struct helper_result {
    int err;
    pid_t pause_pid;
    char msg[256];
} helper_result;

static bool ns_wanted(const berth_sandbox_opts *o, size_t i)
{
    return !(o->host_network && sandbox_ns[i].flag == CLONE_NEWNET);
}

static __attribute__((noreturn)) void helper_fail(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static __attribute__((noreturn)) void helper_fail(int fd, const char *fmt, ...)
{
    helper_result r = { .err = errno ? errno : EIO };
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(r.msg) - 3)
        snprintf(r.msg + n, sizeof(r.msg) - (size_t)n, ": %s", strerror(r.err));
    berth_write_all(fd, &r, sizeof(r));
    _exit(1);
}

/* The pause, pid 1 of the new PID namespace: an empty read-only root of
 * its own, no identity and no capabilities, then the stub as
 * berth-pause. A failure before the exec is an errno on errfd. */
static __attribute__((noreturn)) void pause_run(const char *dir, int stub_fd, int errfd)
{
    char *argv[] = { "berth-pause", NULL }, *envp[] = { NULL };
    gid_t gid = BERTH_SANDBOX_PAUSE_UID;
    uid_t uid = BERTH_SANDBOX_PAUSE_UID;
    int null_fd, e;

    if (setsid() < 0 || unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        goto fail;
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
        goto fail;
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
              "size=4k,mode=0555") < 0 ||
        chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
        chdir("/") < 0)
        goto fail;
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        goto fail;
    /* nothing of the caller's survives the exec (the stub runs from its
     * fd all the same) */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        goto fail;
    syscall(SYS_execveat, stub_fd, "", argv, envp, AT_EMPTY_PATH);
fail:
    e = errno;
    berth_write_all(errfd, &e, sizeof(e));
    _exit(127);
}

/* The helper: new namespaces, bound to the sandbox's files from inside
 * (it shares the caller's mount namespace); with a shared PID, the pause
 * forked into a new PID namespace and that bound too. Reports on fd. */
static __attribute__((noreturn)) void helper_run(const berth_sandbox_opts *o, int stub_fd, int fd)
{
    helper_result res = { 0 };
    int flags = 0;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(sandbox_ns); i++)
        if (ns_wanted(o, i))
            flags |= sandbox_ns[i].flag;
    if (unshare(flags) < 0)
        helper_fail(fd, "unshare the pod's namespaces");
    if (sethostname(o->hostname, strlen(o->hostname)) < 0)
        helper_fail(fd, "sethostname %s", o->hostname);
    if (!o->host_network) {
        berth_error *err = NULL;

        if (runtime_loopback_up(&err) < 0) {
            errno = err->code;
            helper_fail(fd, "%s", err->msg);
        }
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(sandbox_ns); i++) {
        char src[64], dst[4096];

        if (!ns_wanted(o, i))
            continue;
        snprintf(src, sizeof(src), "/proc/self/ns/%s", sandbox_ns[i].name);
        snprintf(dst, sizeof(dst), "%s/%s", o->dir, sandbox_ns[i].name);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            helper_fail(fd, "bind the %s namespace to %s", sandbox_ns[i].name, dst);
    }
    if (o->share_pid) {
        int p[2], e = 0;
        char src[64], dst[4096];
        ssize_t n;
        pid_t pid;

        if (unshare(CLONE_NEWPID) < 0)
            helper_fail(fd, "unshare the pod's PID namespace");
        if (pipe2(p, O_CLOEXEC) < 0)
            helper_fail(fd, "pipe");
        pid = fork();
        if (pid < 0)
            helper_fail(fd, "fork the pause");
        if (pid == 0) {
            close(p[0]);
            prctl(PR_SET_PDEATHSIG, 0);
            pause_run(o->dir, stub_fd, p[1]);
        }
        close(p[1]);
        n = berth_read_all(p[0], &e, sizeof(e));
        if (n != 0) {
            kill(pid, SIGKILL);
            errno = n == sizeof(e) ? e : EIO;
            helper_fail(fd, "start the pause");
        }
        snprintf(src, sizeof(src), "/proc/%d/ns/pid", (int)pid);
        snprintf(dst, sizeof(dst), "%s/pid", o->dir);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
            int saved = errno;

            kill(pid, SIGKILL);
            errno = saved;
            helper_fail(fd, "bind the PID namespace to %s", dst);
        }
        res.pause_pid = pid;
    }
    berth_write_all(fd, &res, sizeof(res));
    _exit(0);
}

/* The start time of pid (field 22 of /proc/pid/stat), 0 when gone or
 * dead (a zombie: whoever inherited it may never reap it). */
static uint64_t start_time(pid_t pid)
{
    char path[64], buf[1024], *p;
    uint64_t t = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = berth_read_all(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* after the command's ")", the fields from 3 (state) on */
    if (!(p = strrchr(buf, ')')) || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (p)
        t = strtoull(p + 1, NULL, 10);
    return t;
}

static int write_pause_file(const char *dir, pid_t pid, berth_error **err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char line[64];

    if (dfd < 0)
        return berth_error_errno(err, "open %s", dir);
    snprintf(line, sizeof(line), "%d %" PRIu64 "\n", (int)pid, start_time(pid));
    return berth_write_file_atomic_at(dfd, PAUSE_FILE, line, strlen(line), 0600, err);
}

int berth_sandbox_pause_pidfd(const char *dir, int *ret_pidfd, berth_error **err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), pidfd = -1;
    _cleanup_free_ char *data = NULL;
    uint64_t t = 0;
    size_t len;
    int pid = 0;

    if (dfd < 0)
        return berth_error_errno(err, "open %s", dir);
    if (berth_read_file_at(dfd, PAUSE_FILE, 64, &data, &len, err) < 0)
        return -1;
    if (sscanf(data, "%d %" SCNu64, &pid, &t) != 2 || pid <= 1)
        return berth_error_set(err, EINVAL, "%s/" PAUSE_FILE ": not a pid and a start time", dir);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return berth_error_make(err, ENOENT, "the pause of %s (pid %d) is gone", dir, pid);
    /* the pidfd is of whatever has that pid now: the start time says
     * whether that is still the pause */
    if (t == 0 || start_time(pid) != t)
        return berth_error_set(err, ENOENT, "the pause of %s (pid %d) is gone", dir, pid);
    *ret_pidfd = TAKE_FD(pidfd);
    return 0;
}

static bool is_ns(const char *dir, const char *name)
{
    char path[4096];
    struct statfs sf;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return statfs(path, &sf) == 0 && (uint64_t)sf.f_type == NSFS_MAGIC;
}

bool berth_sandbox_whole(const berth_sandbox_opts *o, const char **ret_why)
{
    int pidfd = -1;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(sandbox_ns); i++)
        if (ns_wanted(o, i) && !is_ns(o->dir, sandbox_ns[i].name)) {
            *ret_why = "its namespaces are gone";
            return false;
        }
    if (o->share_pid) {
        if (!is_ns(o->dir, "pid") || berth_sandbox_pause_pidfd(o->dir, &pidfd, NULL) < 0) {
            *ret_why = "its pause process is gone";
            return false;
        }
        close(pidfd);
    }
    return true;
}

/* Empty files to bind the namespaces to; one that is there already fails
 * with EEXIST, and those made here go again. */
static int make_ns_files(const berth_sandbox_opts *o, berth_error **err)
{
    char made[BERTH_ARRAY_SIZE(sandbox_ns) + 1][4096];
    size_t n_made = 0;

    for (size_t i = 0; i <= BERTH_ARRAY_SIZE(sandbox_ns); i++) {
        const char *name = i < BERTH_ARRAY_SIZE(sandbox_ns) ? sandbox_ns[i].name : "pid";
        int fd;

        if (i < BERTH_ARRAY_SIZE(sandbox_ns) ? !ns_wanted(o, i) : !o->share_pid)
            continue;
        snprintf(made[n_made], sizeof(made[0]), "%s/%s", o->dir, name);
        fd = open(made[n_made], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
        if (fd < 0) {
            berth_error_errno(err, "create %s", made[n_made]);
            while (n_made > 0)
                unlink(made[--n_made]);
            return -1;
        }
        close(fd);
        n_made++;
    }
    return 0;
}

/* After a failed create: a first step of removing what was made (the
 * caller finishes it: sandbox.h). */
static void undo_create(berth_cgroup_driver *d, const berth_sandbox_opts *o)
{
    berth_sandbox_remove_step(d, o->dir, o->cgroup_path, NULL);
}

int berth_sandbox_create(berth_cgroup_driver *d, const berth_sandbox_opts *o, berth_error **err)
{
    _cleanup_close_ int stub_fd = -1, rfd = -1;
    _cleanup_free_ char *pause_cg = NULL;
    const berth_cgroup_limits none = { 0 };
    berth_cgroup *cg = NULL;
    helper_result res = { 0 };
    int p[2], status;
    ssize_t n;
    pid_t pid;
    bool made_dir;

    made_dir = mkdir(o->dir, 0700) == 0;
    if (!made_dir && errno != EEXIST)
        return berth_error_errno(err, "mkdir %s", o->dir);
    if (make_ns_files(o, err) < 0) {
        if (made_dir)
            rmdir(o->dir);
        return berth_error_prefix(err, "pod sandbox %s", o->dir);
    }
    if (!o->cgroup_external &&
        berth_cgroup_create(d, o->cgroup_path, o->limits ? o->limits : &none, &cg, err) < 0) {
        /* not ours (EEXIST), or not made */
        undo_create(d, &(berth_sandbox_opts){ .dir = o->dir });
        return berth_error_prefix(err, "pod sandbox %s", o->dir);
    }
    berth_cgroup_free(cg);
    cg = NULL;
    if (o->share_pid && runtime_make_stub(&stub_fd, err) < 0)
        goto fail;
    if (pipe2(p, O_CLOEXEC) < 0) {
        berth_error_errno(err, "pipe");
        goto fail;
    }
    rfd = p[0];
    pid = fork();
    if (pid < 0) {
        close(p[1]);
        berth_error_errno(err, "fork");
        goto fail;
    }
    if (pid == 0) {
        close(p[0]);
        helper_run(o, stub_fd, p[1]);
    }
    close(p[1]);
    n = berth_read_all(rfd, &res, sizeof(res));
    /* it exits as soon as it has written */
    berth_waitpid(pid, &status, 0);
    if (n != sizeof(res)) {
        berth_error_set(err, EIO, "the sandbox helper died");
        goto fail;
    }
    if (res.err) {
        berth_error_set(err, res.err, "%s", res.msg);
        goto fail;
    }
    if (res.pause_pid > 0 && o->place_pause) {
        if (write_pause_file(o->dir, res.pause_pid, err) < 0 ||
            o->place_pause(res.pause_pid, o->place_data, err) < 0)
            goto fail_kill;
    } else if (res.pause_pid > 0) {
        /* the pause's own cgroup: on v2 the pod's may hold no process
         * beside its children */
        pause_cg = berth_xasprintf("%s/" PAUSE_CGROUP, o->cgroup_path);
        if (write_pause_file(o->dir, res.pause_pid, err) < 0 ||
            berth_cgroup_create(d, pause_cg, &none, &cg, err) < 0)
            goto fail_kill;
        if (berth_cgroup_enter(cg, res.pause_pid, err) < 0) {
            berth_cgroup_free(cg);
            goto fail_kill;
        }
        berth_cgroup_free(cg);
    }
    return 0;

fail_kill:
    if (res.pause_pid > 0)
        kill(res.pause_pid, SIGKILL);
fail:
    undo_create(d, &(berth_sandbox_opts){
                       .dir = o->dir, .cgroup_path = o->cgroup_external ? NULL : o->cgroup_path });
    return berth_error_prefix(err, "pod sandbox %s", o->dir);
}

/* rmdir the cgroup at path: 1 gone (or never there), 0 busy, -1 error. */
static int cgroup_remove_step(berth_cgroup_driver *d, const char *path, berth_error **err)
{
    berth_cgroup *cg = NULL;
    int r;

    if (berth_cgroup_open(d, path, &cg, NULL) < 0)
        return 1;
    r = berth_cgroup_remove_step(cg, err);
    berth_cgroup_free(cg);
    return r;
}

int berth_sandbox_remove_step(berth_cgroup_driver *d, const char *dir, const char *cgroup_path,
                              berth_error **err)
{
    _cleanup_free_ char *pause_cg = NULL;
    int pidfd = -1, r = 1, dfd;

    if (berth_sandbox_pause_pidfd(dir, &pidfd, NULL) == 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        close(pidfd);
    }
    for (size_t i = 0; i <= BERTH_ARRAY_SIZE(sandbox_ns); i++) {
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", dir,
                 i < BERTH_ARRAY_SIZE(sandbox_ns) ? sandbox_ns[i].name : "pid");
        /* EINVAL: not a mount point (never bound, or after a reboot) */
        while (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            ;
    }
    if (cgroup_path) {
        pause_cg = berth_xasprintf("%s/" PAUSE_CGROUP, cgroup_path);
        r = cgroup_remove_step(d, pause_cg, err);
        if (r == 1)
            r = cgroup_remove_step(d, cgroup_path, err);
        if (r != 1)
            return r;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT)
        return 1;
    {
        char volumes[4096];

        /* the pod's Memory volumes are tmpfs mounts */
        snprintf(volumes, sizeof(volumes), "%s/volumes", dir);
        if (berth_volumes_release(volumes, err) < 0) {
            if (dfd >= 0)
                close(dfd);
            return -1;
        }
    }
    if (dfd >= 0)
        close(dfd);
    if (berth_rm_rf_at(AT_FDCWD, dir, err) < 0)
        return -1;
    return 1;
}
