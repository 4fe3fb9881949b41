/* escape: what a process inside a berth container tries, for the security
 * tests (tests/security/container-test.sh). Static, so it runs in any root
 * filesystem. One line per attempt on stdout; exit 0 when every attempt
 * was stopped as it must be, 1 otherwise.
 *
 *   escape sockets            M2: the socket families Docker refuses, each
 *                             with every type: refused by the filter
 *                             (EPERM), never created nor refused by the
 *                             kernel (which means the filter let it
 *                             through); AF_UNIX and AF_INET still work.
 *   escape readonly DIR       M3: DIR and every mount below it: writes fail
 *                             with EROFS, and each is nosuid, nodev.
 *   escape masked             L1: Docker's masked paths read as nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int failures;

static void __attribute__((format(printf, 2, 3))) verdict(int ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s ", ok ? "stopped:" : "ESCAPED:");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok)
        failures++;
}

static int sockets(void)
{
    static const struct {
        int family;
        const char *name;
    } refused[] = {
        { 12, "AF_DECnet" },  { 19, "AF_ECONET" }, { 20, "AF_ATMSVC" }, { 23, "AF_IRDA" },
        { 25, "AF_WANPIPE" }, { 34, "AF_ISDN" },   { 37, "AF_CAIF" },   { 38, "AF_ALG" },
        { 40, "AF_VSOCK" },   { 41, "AF_KCM" },    { 44, "AF_XDP" },    { 15, "AF_KEY" },
    };
    static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW };

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int worst = EPERM;

        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            int fd = socket(refused[i].family, types[t], 0);

            if (fd >= 0) {
                close(fd);
                worst = 0;
            } else if (errno != EPERM && worst == EPERM) {
                worst = errno;
            }
        }
        verdict(worst == EPERM, "%s: %s", refused[i].name,
                worst == EPERM ? "refused by the seccomp filter"
                : worst == 0   ? "a socket was created"
                               : strerror(worst));
    }
    {
        int u = socket(AF_UNIX, SOCK_STREAM, 0), n = socket(AF_INET, SOCK_DGRAM, 0);

        printf("%s AF_UNIX and AF_INET: %s\n", u >= 0 && n >= 0 ? "works:" : "BROKEN:",
               u >= 0 && n >= 0 ? "sockets made" : strerror(errno));
        if (u < 0 || n < 0)
            failures++;
    }
    return failures ? 1 : 0;
}

static void readonly_one(const char *dir)
{
    char path[4096];
    struct statvfs sv;
    int fd;

    snprintf(path, sizeof(path), "%s/.berth-escape", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    verdict(fd < 0 && errno == EROFS, "write into %s: %s", dir,
            fd >= 0 ? "written" : strerror(errno));
    if (statvfs(dir, &sv) < 0) {
        verdict(0, "statvfs %s: %s", dir, strerror(errno));
        return;
    }
    verdict((sv.f_flag & ST_NOSUID) != 0, "%s is %s", dir,
            sv.f_flag & ST_NOSUID ? "nosuid" : "suid-capable");
    verdict((sv.f_flag & ST_NODEV) != 0, "%s is %s", dir,
            sv.f_flag & ST_NODEV ? "nodev" : "device-capable");
}

/* DIR and each directory below it that is a mount point of its own. */
static int readonly(const char *dir)
{
    FILE *mi = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    size_t n = strlen(dir);

    readonly_one(dir);
    while (mi && fgets(line, sizeof(line), mi)) {
        char mp[4096];

        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, n) == 0 &&
            mp[n] == '/')
            readonly_one(mp);
    }
    if (mi)
        fclose(mi);
    return failures ? 1 : 0;
}

static int masked(void)
{
    static const char *const files[] = {
        "/proc/interrupts",    "/proc/kcore",      "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug",
    };
    char buf[256];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        int fd = open(files[i], O_RDONLY);
        ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

        if (fd >= 0)
            close(fd);
        if (fd < 0 && errno == ENOENT)
            continue; /* not in this kernel */
        verdict(r <= 0, "%s: %s", files[i], r > 0 ? "readable" : "nothing to read");
    }
    /* The per-CPU thermal_throttle counters (Docker masks them too). */
    {
        DIR *d = opendir("/sys/devices/system/cpu");
        struct dirent *e;

        while (d && (e = readdir(d))) {
            char path[512];
            int fd;
            ssize_t r;

            if (strncmp(e->d_name, "cpu", 3) != 0 || e->d_name[3] < '0' || e->d_name[3] > '9')
                continue;
            snprintf(path, sizeof(path),
                     "/sys/devices/system/cpu/%s/thermal_throttle/core_throttle_count", e->d_name);
            fd = open(path, O_RDONLY);
            if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
                continue;
            r = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
            if (fd >= 0)
                close(fd);
            verdict(r <= 0, "%s: %s", path, r > 0 ? "readable" : "nothing to read");
        }
        if (d)
            closedir(d);
    }
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "sockets") == 0)
        return sockets();
    if (argc == 3 && strcmp(argv[1], "readonly") == 0)
        return readonly(argv[2]);
    if (argc == 2 && strcmp(argv[1], "masked") == 0)
        return masked();
    fprintf(stderr, "usage: escape sockets | readonly DIR | masked\n");
    return 2;
}
