/* The default seccomp profile, equivalent to Docker's: an allow-list with
 * EPERM for everything else (io_uring too, as Docker 25 and containerd
 * refuse it: its own attack surface), clone without namespace flags, clone3 as
 * ENOSYS (so libc falls back to clone, which can be inspected), socket
 * without AF_VSOCK, personality with the harmless values only, and the
 * privileged calls allowed only when the matching capability is in the
 * container's set. Compiled with libseccomp for the native x86_64 ABI plus
 * x32 and i386 (a 32-bit entry point must not be a way around the filter),
 * then exported as classic BPF so a start installs it with one prctl. */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "base/io.h"

/* Allowed for everyone. Names unknown to this libseccomp (or absent on an
 * architecture) are skipped. */
/* Names in arrays, not pointers: no relocation to apply, so these stay in
 * .rodata, shared by every monitor, instead of private to each. */
#define NAME_MAX_LEN 32

static const char allowed[][NAME_MAX_LEN] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    /* kernel >= 4.8 makes these safe without CAP_SYS_PTRACE */
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    /* x86 only */
    "arch_prctl",
    "modify_ldt",
};

/* The socket families a container may open. */
static const int socket_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET };

/* Allowed only when the container holds the capability. */
static const struct {
    int cap;
    const char names[24][NAME_MAX_LEN];
} by_cap[] = {
    { CAP_SYS_ADMIN,
      { "bpf",           "clone",         "clone3",      "fanotify_init",   "fsconfig",
        "fsmount",       "fsopen",        "fspick",      "lookup_dcookie",  "mount",
        "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
        "quotactl_fd",   "setdomainname", "sethostname", "setns",           "syslog",
        "umount",        "umount2",       "unshare" } },
    { CAP_DAC_READ_SEARCH, { "open_by_handle_at" } },
    { CAP_SYS_BOOT, { "reboot" } },
    { CAP_SYS_CHROOT, { "chroot" } },
    { CAP_SYS_MODULE, { "delete_module", "init_module", "finit_module" } },
    { CAP_SYS_PACCT, { "acct" } },
    { CAP_SYS_PTRACE, { "kcmp", "pidfd_getfd", "process_madvise" } },
    { CAP_SYS_RAWIO, { "iopl", "ioperm" } },
    { CAP_SYS_TIME, { "settimeofday", "stime", "clock_settime", "clock_settime64" } },
    { CAP_SYS_TTY_CONFIG, { "vhangup" } },
    { CAP_SYS_NICE, { "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node" } },
    { CAP_SYSLOG, { "syslog" } },
    { CAP_BPF, { "bpf" } },
    { CAP_PERFMON, { "perf_event_open" } },
};

static bool has_cap(uint64_t caps, int cap)
{
    return cap < 64 && (caps & (UINT64_C(1) << cap));
}

static int allow(scmp_filter_ctx ctx, const char *name, berth_error **err)
{
    int nr = seccomp_syscall_resolve_name(name), r;

    if (nr == __NR_SCMP_ERROR)
        return 0; /* unknown to this libseccomp: nothing to allow */
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    /* -EEXIST: listed twice; a negative pseudo-syscall without a mapping on
     * some arch is -EDOM / -EINVAL: fine to skip. */
    if (r < 0 && r != -EEXIST && r != -EDOM && r != -EINVAL && r != -EFAULT)
        return berth_error_make(err, -r, "seccomp: allow %s", name);
    return 0;
}

static int build(scmp_filter_ctx ctx, uint64_t caps, berth_error **err)
{
    static const uint32_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };
    int r;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(allowed); i++)
        if (allow(ctx, allowed[i], err) < 0)
            return -1;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(by_cap); i++) {
        if (!has_cap(caps, by_cap[i].cap))
            continue;
        for (size_t j = 0; j < BERTH_ARRAY_SIZE(by_cap[i].names) && by_cap[i].names[j][0]; j++)
            if (allow(ctx, by_cap[i].names[j], err) < 0)
                return -1;
    }
    /* socket: only the families containers use (Docker's list). The
     * others (AF_VSOCK, a way out of the container; AF_ALG, DECnet, ATM,
     * IrDA, ISDN, CAIF ...: old or rarely used code, a kernel attack
     * surface) are refused. (Comparisons name their second datum, used by
     * MASKED_EQ only.) */
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(socket_families); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                             SCMP_A0(SCMP_CMP_EQ, socket_families[i], 0));
        if (r < 0)
            return berth_error_make(err, -r, "seccomp: socket rule");
    }
    /* i386's socketcall passes its arguments in memory, where a filter
     * cannot look: it answers ENOSYS, so a libc falls back to the direct
     * socket calls (since Linux 4.3), which the rule above filters. */
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(socketcall), 0);
    if (r < 0 && r != -EDOM)
        return berth_error_make(err, -r, "seccomp: socketcall rule");
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(personalities); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                             SCMP_A0(SCMP_CMP_EQ, personalities[i], 0));
        if (r < 0)
            return berth_error_make(err, -r, "seccomp: personality rule");
    }
    if (!has_cap(caps, CAP_SYS_ADMIN)) {
        const uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                  CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;

        /* fork and threads, but no new namespaces */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags, 0));
        if (r < 0)
            return berth_error_make(err, -r, "seccomp: clone rule");
        /* clone3 passes its flags in memory, out of a filter's sight */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0 && r != -EDOM)
            return berth_error_make(err, -r, "seccomp: clone3 rule");
    }
    return 0;
}

int seccomp_export(void *vctx, struct sock_fprog *ret, berth_error **err)
{
    scmp_filter_ctx ctx = vctx;
    _cleanup_close_ int mfd = memfd_create("berth-seccomp", MFD_CLOEXEC);
    struct stat st;
    void *prog = NULL;
    int r;

    if (mfd < 0) {
        berth_error_errno(err, "seccomp: memfd_create");
        goto fail;
    }
    if ((r = seccomp_export_bpf(ctx, mfd)) < 0) {
        berth_error_make(err, -r, "seccomp: libseccomp");
        goto fail;
    }
    if (fstat(mfd, &st) < 0 || st.st_size == 0 || st.st_size % sizeof(struct sock_filter) != 0 ||
        st.st_size / sizeof(struct sock_filter) > 65535) {
        berth_error_set(err, EINVAL, "seccomp: exported filter has a bad size");
        goto fail;
    }
    prog = berth_xmalloc((size_t)st.st_size);
    if (pread(mfd, prog, (size_t)st.st_size, 0) != st.st_size) {
        free(prog);
        berth_error_errno(err, "seccomp: read exported filter");
        goto fail;
    }
    seccomp_release(ctx);
    ret->filter = prog;
    ret->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    return 0;
fail:
    seccomp_release(ctx);
    return -1;
}

int seccomp_compile_default(uint64_t caps, struct sock_fprog *ret, berth_error **err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    int r;

    if (!ctx)
        berth_oom(); /* libseccomp's allocation failed */
    /* We set no_new_privs ourselves when the spec asks for it. */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
        if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && r != -EEXIST)
            goto lib_fail;
        if ((r = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && r != -EEXIST)
            goto lib_fail;
    }
    if (build(ctx, caps, err) < 0)
        goto fail;
    return seccomp_export(ctx, ret, err);

lib_fail:
    berth_error_make(err, -r, "seccomp: libseccomp");
fail:
    seccomp_release(ctx);
    return -1;
}

int seccomp_install(const struct sock_fprog *prog, berth_error **err)
{
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
        return berth_error_errno(err, "install the seccomp filter");
    return 0;
}
