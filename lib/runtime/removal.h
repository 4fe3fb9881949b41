/* Removing a cgroup, or what a container leaves behind, from an event loop
 * without ever waiting in it: the non-blocking step
 * (berth_cgroup_remove_step, berth_container_remove_step) runs from a loop
 * timer, 1 ms apart at first and doubling to 50 ms, until it is done, fails
 * or the deadline passes. Killed processes take a few milliseconds to go;
 * one stuck in the kernel (uninterruptible sleep) holds the removal up
 * until the deadline, and then the error says so, while the loop served
 * everything else throughout. */
#ifndef BERTH_RUNTIME_REMOVAL_H
#define BERTH_RUNTIME_REMOVAL_H

#include "base/error.h"
#include "base/loop.h"
#include "runtime.h"

typedef struct berth_removal berth_removal;

/* Called once, from the loop, when the removal is over: err is NULL when
 * everything is gone, else why not (EBUSY: still busy at the deadline,
 * naming the cgroup and whether processes are left; err is freed after the
 * call). The removal is freed once it returns; what was being removed stays
 * the caller's, who may free it in here. */
typedef void (*berth_removal_done_fn)(const berth_error *err, void *data);

/* Start removing cg (borrowed: it must live until done is called or the
 * removal is cancelled), giving up after timeout_ms. Even the first step
 * runs from the loop: done is never called from in here. Never fails. */
berth_removal *berth_removal_start_cgroup(berth_loop *loop, berth_cgroup *cg, int timeout_ms,
                                          berth_removal_done_fn done, void *data);
/* The same for what container c leaves (berth_container_remove_step). */
berth_removal *berth_removal_start_container(berth_loop *loop, berth_container *c, int timeout_ms,
                                             berth_removal_done_fn done, void *data);
/* Stop where it is, and free it; done is not called. NULL is fine. */
void berth_removal_cancel(berth_removal *r);

#endif
