/* The blocking forms of removal, for programs without an event loop
 * (berthctl run in the foreground, tests): the non-blocking step, with a
 * sleep between steps. Kept in a file of their own so that nothing else in
 * the library pulls them in: berthd and berth-monitor, whose loops must
 * never sleep, do not link this object (agent-no-blocking-waits checks). */
#include <stdbool.h>
#include <time.h>

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
