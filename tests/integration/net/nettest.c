/* The lib/net integration tests' fixture (nettest.h). */
#include "nettest.h"

#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"

char nettest_dir[64];

void nettest_setup(void)
{
    ck_assert_int_eq(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
    ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    snprintf(nettest_dir, sizeof(nettest_dir), "/tmp/berth-net-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(nettest_dir));
}

void nettest_teardown(void)
{
    char path[128];

    /* the pods' namespaces are bound at files there */
    for (const char *const *p = (const char *const[]){ "pod-a", "pod-b", NULL }; *p; p++) {
        snprintf(path, sizeof(path), "%s/%s", nettest_dir, *p);
        umount2(path, MNT_DETACH);
    }
    ck_assert_int_eq(berth_rm_rf_at(AT_FDCWD, nettest_dir, NULL), 0);
}

void nettest_pod_netns(const char *name, char *ret, size_t size)
{
    pid_t pid;
    int status, fd;

    snprintf(ret, size, "%s/%s", nettest_dir, name);
    fd = open(ret, O_CREAT | O_RDONLY | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0 || mount("/proc/self/ns/net", ret, NULL, MS_BIND, NULL) < 0)
            _exit(1);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
}

void nettest_sh(const char *cmd, char *buf, size_t size)
{
    FILE *p = popen(cmd, "r");
    size_t n;

    ck_assert_ptr_nonnull(p);
    n = fread(buf, 1, size - 1, p);
    buf[n] = '\0';
    pclose(p);
}
