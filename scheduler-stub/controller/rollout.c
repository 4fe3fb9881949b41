/* A Deployment's rollout step (rollout.h). */
#include "rollout.h"

#include <string.h>

static uint32_t resolve(const IntOrPercent *v, uint32_t replicas, bool round_up)
{
    uint64_t x;

    if (!v) /* Kubernetes' default: 25 % */
        return (uint32_t)(round_up ? ((uint64_t)replicas * 25 + 99) / 100
                                   : (uint64_t)replicas * 25 / 100);
    if (!v->percent)
        return v->value;
    x = (uint64_t)replicas * v->value;
    return (uint32_t)(round_up ? (x + 99) / 100 : x / 100);
}

void berth_rollout_limits(const DeploymentStrategy *strategy, uint32_t replicas,
                          uint32_t *ret_max_surge, uint32_t *ret_max_unavailable)
{
    uint32_t surge = resolve(strategy ? strategy->max_surge : NULL, replicas, true);
    uint32_t unavailable = resolve(strategy ? strategy->max_unavailable : NULL, replicas, false);

    if (surge == 0 && unavailable == 0)
        unavailable = 1;
    *ret_max_surge = surge;
    *ret_max_unavailable = unavailable;
}

bool berth_rollout_recreate(const DeploymentStrategy *strategy)
{
    return strategy && strcmp(strategy->type, "Recreate") == 0;
}

static uint64_t total_of(const berth_rollout_rs *rs, size_t n)
{
    uint64_t t = 0;

    for (size_t i = 0; i < n; i++)
        t += rs[i].replicas;
    return t;
}

/* reconcileNewReplicaSet: the newest up to replicas, within maxSurge (or
 * down to replicas when the Deployment was scaled down). */
static bool scale_newest(const berth_rollout_in *in, berth_rollout_rs *rs, size_t n, size_t newest)
{
    uint64_t current = total_of(rs, n), max_total = (uint64_t)in->replicas + in->max_surge;
    uint64_t up;

    if (rs[newest].replicas == in->replicas)
        return false;
    if (rs[newest].replicas > in->replicas) {
        rs[newest].replicas = in->replicas;
        return true;
    }
    if (current >= max_total)
        return false;
    up = max_total - current;
    if (up > in->replicas - rs[newest].replicas)
        up = in->replicas - rs[newest].replicas;
    rs[newest].replicas += (uint32_t)up;
    return true;
}

/* reconcileOldReplicaSets: unavailable old replicas first, then available
 * ones while more than replicas - maxUnavailable stay available. */
static bool scale_old(const berth_rollout_in *in, berth_rollout_rs *rs, size_t n, size_t newest)
{
    uint64_t all = total_of(rs, n), old = all - rs[newest].replicas, available = 0;
    uint64_t min_available =
        in->replicas > in->max_unavailable ? in->replicas - in->max_unavailable : 0;
    uint64_t newest_unavailable = rs[newest].replicas - rs[newest].available, cleanup, done = 0;
    int64_t max_down;
    bool changed = false;

    if (old == 0)
        return false;
    max_down = (int64_t)all - (int64_t)min_available - (int64_t)newest_unavailable;
    if (max_down <= 0)
        return false;
    /* cleanupUnhealthyReplicas: they serve nobody, oldest revision first */
    cleanup = (uint64_t)max_down;
    for (size_t i = 0; i < n && done < cleanup; i++) {
        uint32_t bad, down;

        if (i == newest || rs[i].replicas == 0 || rs[i].replicas == rs[i].available)
            continue;
        bad = rs[i].replicas - rs[i].available;
        down = cleanup - done < bad ? (uint32_t)(cleanup - done) : bad;
        rs[i].replicas -= down;
        done += down;
        changed = true;
    }
    /* scaleDownOldReplicaSetsForRollingUpdate */
    for (size_t i = 0; i < n; i++)
        available += rs[i].available < rs[i].replicas ? rs[i].available : rs[i].replicas;
    if (available > min_available) {
        uint64_t total = available - min_available;

        done = 0;
        for (size_t i = 0; i < n && done < total; i++) {
            uint32_t down;

            if (i == newest || rs[i].replicas == 0)
                continue;
            down = total - done < rs[i].replicas ? (uint32_t)(total - done) : rs[i].replicas;
            rs[i].replicas -= down;
            done += down;
            changed = true;
        }
    }
    return changed;
}

bool berth_rollout_step(const berth_rollout_in *in, berth_rollout_rs *rs, size_t n, size_t newest)
{
    bool old_active = false;

    if (newest >= n)
        return false;
    /* what is available is among what it has */
    for (size_t i = 0; i < n; i++)
        if (rs[i].available > rs[i].replicas)
            rs[i].available = rs[i].replicas;
    if (in->recreate) {
        for (size_t i = 0; i < n; i++)
            if (i != newest && rs[i].replicas) {
                rs[i].replicas = 0;
                old_active = true;
            }
        if (old_active || in->old_running || rs[newest].replicas == in->replicas)
            return old_active;
        rs[newest].replicas = in->replicas;
        return true;
    }
    return scale_newest(in, rs, n, newest) || scale_old(in, rs, n, newest);
}

bool berth_rollout_complete(const berth_rollout_in *in, const berth_rollout_rs *rs, size_t n,
                            size_t newest)
{
    for (size_t i = 0; i < n; i++)
        if (i != newest && rs[i].replicas)
            return false;
    return newest < n && rs[newest].replicas == in->replicas &&
           rs[newest].available >= in->replicas;
}
