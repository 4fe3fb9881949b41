/* A Deployment's rollout, one step at a time, as Kubernetes' deployment
 * controller takes it (rolling.go, recreate.go): given its revisions (one
 * ReplicaSet each) with how many replicas each has and how many of them are
 * available, how many each should have now. Pure: no I/O, no clock; the
 * fleet (fleet-rollout.c) runs it whenever a replica's readiness changes
 * and carries out the answer, and tests run it on made-up revisions. */
#ifndef BERTH_CONTROLLER_ROLLOUT_H
#define BERTH_CONTROLLER_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"

/* maxSurge and maxUnavailable of strategy (NULL: the defaults, 25 % each)
 * for replicas: surge rounds up, unavailable down, and when both come to
 * 0 unavailable is 1 (Kubernetes' ResolveFenceposts). */
void berth_rollout_limits(const DeploymentStrategy *strategy, uint32_t replicas,
                          uint32_t *ret_max_surge, uint32_t *ret_max_unavailable);

/* Whether strategy is Recreate. */
bool berth_rollout_recreate(const DeploymentStrategy *strategy);

typedef struct berth_rollout_rs {
    uint32_t replicas;  /* its spec.replicas: read, and written by the step */
    uint32_t available; /* of them, Ready for minReadySeconds (more is taken as
                         * all of them) */
} berth_rollout_rs;

typedef struct berth_rollout_in {
    uint32_t replicas; /* the Deployment's */
    bool recreate;
    uint32_t max_surge, max_unavailable; /* RollingUpdate, resolved */
    /* Recreate: replicas of old revisions still run (the new ones wait
     * until none does). */
    bool old_running;
} berth_rollout_in;

/* One step over rs[0..n), oldest revision first, rs[newest] the current
 * template's: scale the newest up within maxSurge, or else scale old ones
 * down within maxUnavailable (unavailable ones first), or with Recreate
 * all old ones to 0 and then the newest to replicas. Returns whether any
 * count changed; at most one kind of change is made per step, as
 * Kubernetes does, so every step's effect is observed before the next. */
bool berth_rollout_step(const berth_rollout_in *in, berth_rollout_rs *rs, size_t n, size_t newest);

/* Whether the rollout is complete: the newest has replicas replicas, all
 * available, and no other revision has any. */
bool berth_rollout_complete(const berth_rollout_in *in, const berth_rollout_rs *rs, size_t n,
                            size_t newest);

#endif
