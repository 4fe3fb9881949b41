/* berth-exec: the last step of a container start, run from a sealed memfd.
 *
 * CVE-2019-5736: whatever the container's command is, its execve happens
 * from this tiny program, never from the runtime's binary, so /proc/self/exe
 * (in the command itself, a #! line, or an ELF interpreter) can only ever
 * reach this sealed, unlinked, read-only copy, never a host file.
 *
 *   berth-exec SYNC_FD PATH ARGV0 [ARG...]   (environment: the command's)
 *
 * SYNC_FD arrives open (not close-on-exec); the stub marks it close-on-exec
 * so a successful exec closes it, which is how the runtime learns of it.
 * It execs PATH with ARGV0.. and the environment; on failure it sends the
 * runtime's error record (errno, "append strerror" flag, "exec PATH") on
 * SYNC_FD and exits 127.
 *
 * Called as berth-init (spec.init, like `docker run --init`), it stays as
 * pid 1: runs the command as its child, forwards every signal to it, reaps
 * every orphan that ends up with pid 1, and exits with the command's status
 * (128+N when killed by signal N).
 *
 * Called as berth-pause (no arguments), it is the pid 1 that holds a pod's
 * shared PID namespace (Kubernetes' pause): it reaps every orphan and ends
 * on SIGTERM or SIGINT. Freestanding on x86-64 (no libc: about 1 KiB, so
 * the per-start copy is nothing); other architectures use libc statically. */

#define RECORD_MAX 512

typedef int bool_t;

#if defined(__x86_64__)
#include <asm/unistd.h>

static long sys3(long n, long a, long b, long c)
{
    long r;

    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static long sys4(long n, long a, long b, long c, long d)
{
    register long r10 __asm__("r10") = d;
    long r;

    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static __attribute__((noreturn)) void sys_exit(int code)
{
    for (;;)
        sys3(__NR_exit_group, code, 0, 0);
}

static long sys_fork(void)
{
    return sys3(__NR_clone, 17 /* SIGCHLD */, 0, 0);
}

static long sys_sigmask(int how, const unsigned long *set, unsigned long *old)
{
    return sys4(__NR_rt_sigprocmask, how, (long)set, (long)old, 8);
}

static long sys_sigwait(const unsigned long *set)
{
    return sys4(__NR_rt_sigtimedwait, (long)set, 0, 0, 8);
}

static long sys_wait4(long pid, int *status, int options)
{
    return sys4(__NR_wait4, pid, (long)status, options, 0);
}

static long sys_kill(long pid, int sig)
{
    return sys3(__NR_kill, pid, sig, 0);
}

static long sys_close(int fd)
{
    return sys3(__NR_close, fd, 0, 0);
}

static long sys_set_name(const char *name)
{
    return sys3(__NR_prctl, 15 /* PR_SET_NAME */, (long)name, 0);
}

static long sys_set_undumpable(void)
{
    return sys3(__NR_prctl, 4 /* PR_SET_DUMPABLE */, 0, 0);
}

static long sys_execve(const char *path, char **argv, char **envp)
{
    return sys3(__NR_execve, (long)path, (long)argv, (long)envp);
}

static long sys_write(int fd, const void *buf, unsigned long len)
{
    return sys3(__NR_write, fd, (long)buf, (long)len);
}

static long sys_cloexec(int fd)
{
    return sys3(__NR_fcntl, fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
}
#else
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>

static __attribute__((noreturn)) void sys_exit(int code)
{
    _exit(code);
}

static long sys_execve(const char *path, char **argv, char **envp)
{
    return execve(path, argv, envp) < 0 ? -errno : 0;
}

static long sys_write(int fd, const void *buf, unsigned long len)
{
    return write(fd, buf, len);
}

static long sys_cloexec(int fd)
{
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static long sys_fork(void)
{
    pid_t p = fork();
    return p < 0 ? -errno : p;
}

static long sys_sigmask(int how, const unsigned long *set, unsigned long *old)
{
    return sigprocmask(how, (const sigset_t *)set, (sigset_t *)old) < 0 ? -errno : 0;
}

static long sys_sigwait(const unsigned long *set)
{
    int r = sigwaitinfo((const sigset_t *)set, NULL);
    return r < 0 ? -errno : r;
}

static long sys_wait4(long pid, int *status, int options)
{
    pid_t r = waitpid((pid_t)pid, status, options);
    return r < 0 ? -errno : r;
}

static long sys_kill(long pid, int sig)
{
    return kill((pid_t)pid, sig) < 0 ? -errno : 0;
}

static long sys_close(int fd)
{
    return close(fd);
}

static long sys_set_name(const char *name)
{
    return prctl(PR_SET_NAME, name, 0, 0, 0);
}

static long sys_set_undumpable(void)
{
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
#endif

static unsigned long str_len(const char *s)
{
    unsigned long n = 0;

    while (s[n])
        n++;
    return n;
}

static int parse_fd(const char *s)
{
    int v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static bool_t is_named(const char *argv0, const char *name)
{
    unsigned long n = str_len(argv0), k = str_len(name);

    if (n < k)
        return 0;
    for (unsigned long i = 0; i < k; i++)
        if (argv0[n - k + i] != name[i])
            return 0;
    return 1;
}

/* exec the command; on failure report on fd and exit 127. */
static __attribute__((noreturn)) void exec_or_report(int fd, char **argv, char **envp)
{
    char rec[RECORD_MAX];
    unsigned long len = 0, plen;
    long r;

    /* The sync socket reaches us open; the command must not inherit it,
     * and the runtime must see it close when the exec succeeds. */
    if (sys_cloexec(fd) < 0)
        sys_exit(127);
    r = sys_execve(argv[2], argv + 3, envp);
    /* Still here: the exec failed with -r. */
    {
        int code = (int)-r;
        const char *p = (const char *)&code;

        for (unsigned i = 0; i < sizeof(code); i++)
            rec[len++] = p[i];
    }
    rec[len++] = 1; /* the runtime appends strerror(code) */
    for (const char *s = "exec "; *s;)
        rec[len++] = *s++;
    plen = str_len(argv[2]);
    if (plen > RECORD_MAX - len)
        plen = RECORD_MAX - len;
    for (unsigned long i = 0; i < plen; i++)
        rec[len++] = argv[2][i];
    sys_write(fd, rec, len);
    sys_exit(127);
}

/* pid 1 of a pod: reap, wait, end on SIGTERM or SIGINT. All signals stay
 * blocked and are taken with sigtimedwait: the others are left queued. */
static __attribute__((noreturn)) void run_pause(void)
{
    unsigned long all = ~0UL;

    /* its name in ps, not the memfd's */
    sys_set_name("berth-pause");
    /* a pod's container of the same uid cannot ptrace it */
    sys_set_undumpable();
    sys_sigmask(0 /* SIG_BLOCK */, &all, 0);
    for (;;) {
        long sig = sys_sigwait(&all);

        if (sig == 15 /* SIGTERM */ || sig == 2 /* SIGINT */)
            sys_exit(0);
        while (sys_wait4(-1, 0, 1 /* WNOHANG */) > 0)
            ;
    }
}

/* pid 1 for the command: forward signals, reap orphans, exit with the
 * command's status. All signals stay blocked and are taken with
 * sigtimedwait, so there is no handler and no race with SIGCHLD. */
static __attribute__((noreturn)) void run_init(int fd, char **argv, char **envp)
{
    unsigned long all = ~0UL, none = 0;
    long child;
    int status = 0;

    sys_sigmask(0 /* SIG_BLOCK */, &all, 0);
    child = sys_fork();
    if (child < 0)
        sys_exit(126);
    if (child == 0) {
        sys_sigmask(2 /* SIG_SETMASK */, &none, 0);
        exec_or_report(fd, argv, envp);
    }
    /* Only the command's exec may close the runtime's last copy. */
    sys_close(fd);
    for (;;) {
        long sig = sys_sigwait(&all);

        if (sig == 17 /* SIGCHLD */) {
            for (;;) {
                long pid = sys_wait4(-1, &status, 1 /* WNOHANG */);

                if (pid <= 0)
                    break;
                if (pid == child) {
                    if ((status & 0x7f) == 0)
                        sys_exit((status >> 8) & 0xff);
                    sys_exit(128 + (status & 0x7f));
                }
            }
        } else if (sig > 0) {
            sys_kill(child, (int)sig);
        }
    }
}

static __attribute__((noreturn)) void stub_main(long argc, char **argv, char **envp)
{
    static const char usage[] = "berth-exec: the last step of a berth container start; "
                                "not for direct use\n";
    int fd;

    if (argc == 1 && is_named(argv[0], "berth-pause"))
        run_pause();
    if (argc < 4 || (fd = parse_fd(argv[1])) < 3) {
        sys_write(2, usage, sizeof(usage) - 1);
        sys_exit(127);
    }
    if (is_named(argv[0], "berth-init"))
        run_init(fd, argv, envp);
    exec_or_report(fd, argv, envp);
}

#if defined(__x86_64__)
void stub_start(long *sp);
void stub_start(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);

    stub_main(argc, argv, argv + argc + 1);
}

/* The kernel leaves argc, argv, envp on the stack; align it for C. */
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call stub_start\n"
        "    hlt\n");
#else
int main(int argc, char **argv, char **envp)
{
    stub_main(argc, argv, envp);
}
#endif
