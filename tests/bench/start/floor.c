/* The kernel floor of a container start: the least a program can do for
 * the isolation berth gives a container, and nothing else (no spec, no
 * checks, no state, no error reports, no seccomp, no capabilities). What
 * it costs is what the kernel costs; bench-start times berthctl run
 * against it.
 *
 *   bench-start-floor [--full] ROOTFS COMMAND [ARG...]
 *
 * Six namespaces (pid, mount, uts, ipc, network, cgroup), a private mount
 * tree, the rootfs bound and pivoted into, /proc, memory and pids cgroups
 * (v1 hierarchies, or one v2 cgroup the clone goes into directly), exec.
 * Exits with the command's status; the cgroups are removed after it.
 *
 * --full: the floor of every defence berth gives a container by default,
 * done by the same system calls and nothing else: a cgroup in every
 * hierarchy berth uses (under berth's own parent, as berth's are), the
 * device allow-list, the loopback up, /sys read-only, /dev with its nodes,
 * links, devpts, shm and mqueue, Docker's masked and read-only paths, the
 * cgroup filesystem read-only, no_new_privs, the bounding set and the
 * capabilities cut to Docker's defaults, and berth's compiled default
 * seccomp filter. Still no spec, no checks, no error reports, no state,
 * and one exec (berth's second, the CVE-2019-5736 stub, is berth's own
 * cost). The difference between berth and this is what berth itself
 * costs; the difference between this and the plain floor is what its
 * defences cost the kernel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Docker's masked and read-only paths, berth's own list (mount.c) */
#include "runtime/masked-paths.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)

/* berth's default filter and the capability set it was compiled for
 * (lib/runtime's generated seccomp-default.c, built into this program) */
extern const struct sock_fprog seccomp_default_prog;
extern const uint64_t seccomp_default_caps;

/* the v1 hierarchies berth puts a container in (cgroup-v1.c) */
static const char *const v1_controllers[] = { "cpu",     "cpuacct", "cpuset", "memory",
                                              "devices", "freezer", "pids",   "blkio" };
/* berth's default device rules (cgroup.c) */
static const char *const device_rules[] = { "c *:* m",   "b *:* m",   "c 1:3 rwm",  "c 1:5 rwm",
                                            "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",  "c 5:0 rwm",
                                            "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm" };

static char dirs[8][160];
static const char *dir_ctl[8];
static int n_dirs, n_made;

static __attribute__((noreturn)) void die(const char *what)
{
    perror(what);
    /* the cgroups made so far go with us (a child inside its own gets
     * EBUSY, and its parent removes them after it) */
    for (int i = n_made - 1; i >= 0; i--)
        rmdir(dirs[i]);
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

static void mountf(const char *src, const char *dst, const char *type, unsigned long flags,
                   const char *data)
{
    if (mount(src, dst, type, flags, data) < 0)
        die(dst);
}

static void mask(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode))
        mountf("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "size=0,mode=555");
    else
        mountf("/dev/null", path, NULL, MS_BIND, NULL);
}

static void read_only(const char *path)
{
    struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
    struct stat st;

    if (stat(path, &st) < 0)
        return;
    mountf(path, path, NULL, MS_BIND | MS_REC, NULL);
    if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
        die(path);
}

/* Everything berth does between the namespaces and pivot_root, in the
 * rootfs (cwd) by relative paths: berth resolves each path inside the root
 * (openat2), here the kernel's lookups are the same walk. */
static void full_mounts(bool v1)
{
    static const struct {
        const char *name;
        unsigned maj, min;
    } nodes[] = { { "dev/null", 1, 3 },   { "dev/zero", 1, 5 },    { "dev/full", 1, 7 },
                  { "dev/random", 1, 8 }, { "dev/urandom", 1, 9 }, { "dev/tty", 5, 0 } };
    static const char *const links[][2] = { { "/proc/self/fd", "dev/fd" },
                                            { "/proc/self/fd/0", "dev/stdin" },
                                            { "/proc/self/fd/1", "dev/stdout" },
                                            { "/proc/self/fd/2", "dev/stderr" },
                                            { "pts/ptmx", "dev/ptmx" } };
    char path[320];
    DIR *d;
    struct dirent *e;

    mountf("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mountf("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
        if (mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
            die(nodes[i].name);
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][0], links[i][1]) < 0)
            die(links[i][1]);
    if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 0755) < 0 || mkdir("dev/mqueue", 0755) < 0)
        die("mkdir /dev/...");
    mountf("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mountf("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    mountf("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    for (size_t i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++)
        mask(masked_paths[i] + 1);
    d = opendir("sys/devices/system/cpu");
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "cpu", 3) != 0 || e->d_name[3] < '0' || e->d_name[3] > '9')
            continue;
        snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/thermal_throttle", e->d_name);
        mask(path);
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
        read_only(readonly_paths[i] + 1);
    /* the cgroup filesystem, after the cgroup namespace */
    mountf("tmpfs", "sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           "mode=755,size=64k");
    for (int i = 0; v1 && i < n_dirs; i++) {
        snprintf(path, sizeof(path), "sys/fs/cgroup/%s", dir_ctl[i]);
        if (mkdir(path, 0755) < 0)
            die(path);
        mountf("cgroup", path, "cgroup", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, dir_ctl[i]);
    }
    if (!v1)
        mountf("cgroup2", "sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
               NULL);
    else
        mountf(NULL, "sys/fs/cgroup", NULL,
               MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static void loopback_up(void)
{
    struct ifreq ifr = { 0 };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    strcpy(ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        die("loopback");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        die("loopback up");
    close(fd);
}

/* no_new_privs, the bounding set and the sets cut to the filter's
 * capabilities (Docker's defaults), the filter */
static void full_privileges(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = { { 0 } };
    uint64_t caps = seccomp_default_caps;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("no_new_privs");
    for (int c = 0; c <= CAP_LAST_CAP; c++)
        if (!(caps & (UINT64_C(1) << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
            errno != EINVAL)
            die("drop from the bounding set");
    data[0].effective = data[0].permitted = (uint32_t)caps;
    data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        die("capset");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_default_prog, 0, 0) < 0)
        die("seccomp");
}

static __attribute__((noreturn)) void child(const char *rootfs, char **argv, bool v1, bool full)
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
    if (full) {
        /* berth mounts /proc before pivot_root, so the masks can go on */
        if (chdir(rootfs) < 0)
            die(rootfs);
        mountf("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        full_mounts(v1);
        loopback_up();
    }
    if (chdir(rootfs) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        die("pivot_root");
    if (!full && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount /proc");
    if (sethostname("floor", 5) < 0)
        die("sethostname");
    if (full)
        full_privileges();
    execv(argv[0], argv);
    die(argv[0]);
}

/* A cgroup as berth makes a container's: beside berth's (under its parent
 * /berth, which bench-start's berthctl runs made; on v1 its cpuset copies
 * cpus and mems to a new child), in every hierarchy berth uses, with the
 * device allow-list (one open for the rules, as berth). */
static void full_cgroups(bool v1)
{
    const char *devdir = NULL;
    int fd;

    if (!v1) {
        snprintf(dirs[0], sizeof(dirs[0]), "/sys/fs/cgroup/berth/floor-%d", (int)getpid());
        n_dirs = 1;
    }
    for (size_t i = 0; v1 && i < sizeof(v1_controllers) / sizeof(v1_controllers[0]); i++) {
        char parent[96];
        struct stat st;

        snprintf(parent, sizeof(parent), "/sys/fs/cgroup/%s/berth", v1_controllers[i]);
        if (stat(parent, &st) < 0)
            continue;
        dir_ctl[n_dirs] = v1_controllers[i];
        snprintf(dirs[n_dirs], sizeof(dirs[n_dirs]), "%s/floor-%d", parent, (int)getpid());
        if (strcmp(v1_controllers[i], "devices") == 0)
            devdir = dirs[n_dirs];
        n_dirs++;
    }
    if (n_dirs == 0) {
        fprintf(stderr, "bench-start-floor: no cgroup parent /berth: run berthctl first\n");
        exit(125);
    }
    for (int i = 0; i < n_dirs; i++, n_made++)
        if (mkdir(dirs[i], 0755) < 0)
            die(dirs[i]);
    /* v2: berth attaches an eBPF device program; not here (this host's
     * v1 is what the benchmark measures) */
    if (!devdir)
        return;
    write_str(devdir, "devices.deny", "a");
    {
        char path[192];

        snprintf(path, sizeof(path), "%s/devices.allow", devdir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            die(path);
        for (size_t i = 0; i < sizeof(device_rules) / sizeof(device_rules[0]); i++)
            if (write(fd, device_rules[i], strlen(device_rules[i])) < 0)
                die(path);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    struct clone_args ca = { .flags = NS_FLAGS, .exit_signal = SIGCHLD };
    struct stat st;
    bool v1 = stat("/sys/fs/cgroup/cgroup.controllers", &st) < 0;
    bool full = argc > 1 && strcmp(argv[1], "--full") == 0;
    int status, cgfd = -1;
    pid_t pid;

    if (full) {
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s [--full] ROOTFS COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    if (full)
        full_cgroups(v1);
    else if (v1) {
        snprintf(dirs[0], sizeof(dirs[0]), "/sys/fs/cgroup/memory/berth-floor-%d", (int)getpid());
        snprintf(dirs[1], sizeof(dirs[1]), "/sys/fs/cgroup/pids/berth-floor-%d", (int)getpid());
        n_dirs = 2;
    } else {
        /* memory and pids are enabled for the root's children on any host
         * that runs containers (systemd does) */
        snprintf(dirs[0], sizeof(dirs[0]), "/sys/fs/cgroup/berth-floor-%d", (int)getpid());
        n_dirs = 1;
    }
    for (int i = 0; !full && i < n_dirs; i++, n_made++)
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
        child(argv[1], argv + 2, v1, full);
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    for (int i = 0; i < n_dirs; i++)
        rmdir(dirs[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
