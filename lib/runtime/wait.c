/* The blocking forms, for programs without an event loop (berthctl run in
 * the foreground, tests): removal (the non-blocking step, with a sleep
 * between steps) and exec (its two steps with a poll between). Kept in a
 * file of their own so that nothing else in the library pulls them in:
 * berthd and berth-monitor, whose loops must never wait, do not link this
 * object (agent-no-blocking-waits checks). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "cgroup-internal.h"
#include "runtime-internal.h"

#define CONTAINER_TIMEOUT_MS 5000

/* Sleep a step's interval (2 ms); false once the deadline has passed. */
static bool pause_before(int64_t deadline)
{
    if (berth_now_mono_ns() > deadline)
        return false;
    nanosleep(&(struct timespec){ .tv_nsec = 2 * BERTH_NSEC_PER_MSEC }, NULL);
    return true;
}

int berth_cgroup_destroy(berth_cgroup *cg, int timeout_ms, berth_error **err)
{
    int64_t deadline = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    int r;

    while ((r = berth_cgroup_remove_step(cg, err)) == 0)
        if (!pause_before(deadline))
            return cgroup_busy_error(cg, timeout_ms, err);
    return r < 0 ? -1 : 0;
}

int berth_container_destroy(berth_container *c, berth_error **err)
{
    int64_t deadline = berth_now_mono_ns() + CONTAINER_TIMEOUT_MS * BERTH_NSEC_PER_MSEC;
    int r;

    while ((r = berth_container_remove_step(c, err)) == 0)
        if (!pause_before(deadline))
            return container_busy_error(c, CONTAINER_TIMEOUT_MS, err);
    return r < 0 ? -1 : 0;
}

int berth_container_exec(berth_container *c, const berth_spec *spec, size_t argc, char *const *argv,
                         const int stdio[3], pid_t *ret_pid, berth_error **err)
{
    berth_exec *x = NULL;
    int r;

    if (berth_container_exec_start(c, spec, argc, argv, stdio, 0, &x, err) < 0)
        return -1;
    for (;;) {
        struct pollfd pfd = { .fd = berth_exec_fd(x), .events = POLLIN };

        r = berth_exec_finish(x, err);
        if (r != 0)
            break;
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            r = berth_error_errno(err, "exec in container %s: wait for it", berth_container_id(c));
            break;
        }
    }
    if (r < 0) {
        /* SIGTERM: it kills and reaps the command if one was forked. */
        kill(berth_exec_pid(x), SIGTERM);
        berth_waitpid(berth_exec_pid(x), NULL, 0);
    } else {
        *ret_pid = berth_exec_pid(x);
    }
    berth_exec_free(x);
    return r < 0 ? -1 : 0;
}
