/* What the monitor suites share. */
#ifndef BERTH_TEST_MONITOR_FIXTURE_H
#define BERTH_TEST_MONITOR_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* In the runner, after the tests: a failed test skips its teardown, so
 * stop any monitor it left and remove its directories
 * (/tmp/<prefix>-<runner pid>-*) and cgroups (/<prefix>-<runner pid>-*). */
static inline void monitor_cleanup_leftovers(const char *prefix)
{
    char cmd[1536];
    int me = (int)getpid();

    snprintf(cmd, sizeof(cmd),
             "for d in /tmp/%1$s-%2$d-*; do [ -p \"$d/control\" ] && "
             "timeout 2 sh -c \"echo 'stop 0' >$d/control\" 2>/dev/null; done; sleep 1; "
             "for d in /sys/fs/cgroup/*/%1$s-%2$d-*/* /sys/fs/cgroup/%1$s-%2$d-*/*; "
             "do [ -d \"$d\" ] && rmdir \"$d\"; done 2>/dev/null; "
             "for d in /sys/fs/cgroup/*/%1$s-%2$d-* /sys/fs/cgroup/%1$s-%2$d-*; "
             "do [ -d \"$d\" ] && rmdir \"$d\"; done 2>/dev/null; "
             "rm -rf /tmp/%1$s-%2$d-*; true",
             prefix, me);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of leftovers failed\n");
}

#endif
