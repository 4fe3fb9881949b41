/* The kernel floor of a container start: the least a program can do for
 * the isolation berth gives a container, and nothing else (no spec, no
 * checks, no state, no error reports, no seccomp, no capabilities). What
 * it costs is what the kernel costs; bench-start times berthctl run
 * against it.
 *
 *   bench-start-floor ROOTFS COMMAND [ARG...]
 *
 * Six namespaces (pid, mount, uts, ipc, network, cgroup), a private mount
 * tree, the rootfs bound and pivoted into, /proc, memory and pids cgroups
 * (v1 hierarchies, or one v2 cgroup the clone goes into directly), exec.
 * Exits with the command's status; the cgroups are removed after it. */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)

static char dirs[2][128];
static int n_dirs;

static __attribute__((noreturn)) void die(const char *what)
{
    perror(what);
    _exit(125);
}

static void write_str(const char *dir, const char *file, const char *s)
{
    char path[192];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, s, strlen(s)) < 0)
        die(path);
    close(fd);
}

static __attribute__((noreturn)) void child(const char *rootfs, char **argv, bool v1)
{
    /* v1: into the hierarchies by ourselves (v2: the clone put us there) */
    for (int i = 0; v1 && i < n_dirs; i++)
        write_str(dirs[i], "cgroup.procs", "0");
    if (unshare(CLONE_NEWCGROUP) < 0)
        die("unshare cgroup");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        die("bind the rootfs");
    if (chdir(rootfs) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        die("pivot_root");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount /proc");
    if (sethostname("floor", 5) < 0)
        die("sethostname");
    execv(argv[0], argv);
    die(argv[0]);
}

int main(int argc, char **argv)
{
    struct clone_args ca = { .flags = NS_FLAGS, .exit_signal = SIGCHLD };
    struct stat st;
    bool v1 = stat("/sys/fs/cgroup/cgroup.controllers", &st) < 0;
    int status, cgfd = -1;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOTFS COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    if (v1) {
        snprintf(dirs[0], sizeof(dirs[0]), "/sys/fs/cgroup/memory/berth-floor-%d", (int)getpid());
        snprintf(dirs[1], sizeof(dirs[1]), "/sys/fs/cgroup/pids/berth-floor-%d", (int)getpid());
        n_dirs = 2;
    } else {
        /* memory and pids are enabled for the root's children on any host
         * that runs containers (systemd does) */
        snprintf(dirs[0], sizeof(dirs[0]), "/sys/fs/cgroup/berth-floor-%d", (int)getpid());
        n_dirs = 1;
    }
    for (int i = 0; i < n_dirs; i++)
        if (mkdir(dirs[i], 0755) < 0)
            die(dirs[i]);
    if (!v1) {
        cgfd = open(dirs[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgfd < 0)
            die(dirs[0]);
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgfd;
    }
    pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0)
        die("clone3");
    if (pid == 0)
        child(argv[1], argv + 2, v1);
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    for (int i = 0; i < n_dirs; i++)
        rmdir(dirs[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
