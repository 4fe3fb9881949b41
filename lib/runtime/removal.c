/* Removal driven by a loop timer (see removal.h). */
#include "removal.h"

#include <stdlib.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cgroup-internal.h"
#include "runtime-internal.h"

#define FIRST_INTERVAL_NS (1 * BERTH_NSEC_PER_MSEC)
#define MAX_INTERVAL_NS   (50 * BERTH_NSEC_PER_MSEC)

struct berth_removal {
    berth_loop *loop;
    berth_loop_timer timer;
    /* what is removed: a cgroup, or what a container leaves */
    berth_cgroup *cg;
    berth_container *c;
    int timeout_ms;
    int64_t deadline, interval;
    berth_removal_done_fn done;
    void *data;
};

static void on_step(berth_loop_timer *t)
{
    berth_removal *r = berth_container_of(t, berth_removal, timer);
    _cleanup_error_ berth_error *err = NULL;
    int64_t now, next;
    int over;

    over = r->c ? berth_container_remove_step(r->c, &err) : berth_cgroup_remove_step(r->cg, &err);
    now = berth_now_mono_ns();
    if (over == 0 && now < r->deadline) {
        next = now + r->interval;
        r->interval = r->interval * 2 > MAX_INTERVAL_NS ? MAX_INTERVAL_NS : r->interval * 2;
        berth_loop_timer_arm(r->loop, &r->timer, next < r->deadline ? next : r->deadline);
        return;
    }
    if (over == 0) {
        if (r->c)
            container_busy_error(r->c, r->timeout_ms, &err);
        else
            cgroup_busy_error(r->cg, r->timeout_ms, &err);
    }
    r->done(err, r->data);
    free(r);
}

static berth_removal *start(berth_loop *loop, berth_cgroup *cg, berth_container *c, int timeout_ms,
                            berth_removal_done_fn done, void *data)
{
    berth_removal *r = berth_xcalloc(1, sizeof(*r));
    int64_t now = berth_now_mono_ns();

    r->loop = loop;
    r->cg = cg;
    r->c = c;
    r->timeout_ms = timeout_ms;
    r->deadline = now + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    r->interval = FIRST_INTERVAL_NS;
    r->done = done;
    r->data = data;
    berth_loop_timer_init(&r->timer, on_step);
    berth_loop_timer_arm(loop, &r->timer, now);
    return r;
}

berth_removal *berth_removal_start_cgroup(berth_loop *loop, berth_cgroup *cg, int timeout_ms,
                                          berth_removal_done_fn done, void *data)
{
    return start(loop, cg, NULL, timeout_ms, done, data);
}

berth_removal *berth_removal_start_container(berth_loop *loop, berth_container *c, int timeout_ms,
                                             berth_removal_done_fn done, void *data)
{
    return start(loop, NULL, c, timeout_ms, done, data);
}

void berth_removal_cancel(berth_removal *r)
{
    if (!r)
        return;
    berth_loop_timer_cancel(r->loop, &r->timer);
    free(r);
}
