/* The blocking way to start a monitor, for callers without an event loop
 * (tests, benchmarks): spawn, then poll for the answer. In a file of its
 * own so that berthd, which must not wait, does not link it
 * (agent-no-blocking-waits checks). */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "statedir.h"

int berth_monitor_start(const char *monitor_path, const char *state_dir, int timeout_ms,
                        pid_t *ret_container_pid, berth_error **err)
{
    berth_monitor_answer a = { .len = 0 };
    int64_t deadline = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    pid_t pid = 0;
    int fd, r;

    if (berth_monitor_spawn(monitor_path, state_dir, &fd, err) < 0)
        return -1;
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int64_t left = (deadline - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC;

        if (left <= 0) {
            close(fd);
            return berth_error_set(err, ETIMEDOUT,
                                   "monitor for %s did not answer within %d ms (it may still "
                                   "be starting; see its state)",
                                   state_dir, timeout_ms);
        }
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
            close(fd);
            return berth_error_errno(err, "wait for the monitor of %s", state_dir);
        }
        r = berth_monitor_answer_read(fd, &a, &pid, err);
        if (r != 0)
            break;
    }
    close(fd);
    if (r < 0) {
        if (err && *err && (*err)->code == EPROTO)
            berth_error_prefix(err, "monitor for %s", state_dir);
        return -1;
    }
    *ret_container_pid = pid;
    return 0;
}
