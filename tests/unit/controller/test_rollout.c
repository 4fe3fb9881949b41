/* A Deployment's rollout step (rollout.h) on made-up revisions: the limits
 * as Kubernetes resolves them, and whole rollouts driven step by step
 * where the test decides which new replicas become available, checking
 * at every step what maxSurge and maxUnavailable promise. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "rollout.h"

static DeploymentStrategy strategy(IntOrPercent *surge, IntOrPercent *unavailable)
{
    DeploymentStrategy s = DEPLOYMENT_STRATEGY_INIT;

    s.type = "RollingUpdate";
    s.max_surge = surge;
    s.max_unavailable = unavailable;
    return s;
}

START_TEST(limits_resolve_as_kubernetes_does)
{
    IntOrPercent p30 = INT_OR_PERCENT_INIT, zero = INT_OR_PERCENT_INIT, two = INT_OR_PERCENT_INIT;
    DeploymentStrategy s;
    uint32_t surge, unavailable;

    /* the defaults, 25 % each: surge rounds up, unavailable down */
    berth_rollout_limits(NULL, 10, &surge, &unavailable);
    ck_assert_uint_eq(surge, 3);
    ck_assert_uint_eq(unavailable, 2);
    berth_rollout_limits(NULL, 1, &surge, &unavailable);
    ck_assert_uint_eq(surge, 1);
    ck_assert_uint_eq(unavailable, 0);
    /* both 0: one may be unavailable, or nothing could ever move */
    berth_rollout_limits(NULL, 0, &surge, &unavailable);
    ck_assert_uint_eq(surge, 0);
    ck_assert_uint_eq(unavailable, 1);
    p30.value = 30;
    p30.percent = true;
    two.value = 2;
    s = strategy(&p30, &p30);
    berth_rollout_limits(&s, 7, &surge, &unavailable);
    ck_assert_uint_eq(surge, 3);       /* 2.1 up */
    ck_assert_uint_eq(unavailable, 2); /* 2.1 down */
    s = strategy(&zero, &two);
    berth_rollout_limits(&s, 7, &surge, &unavailable);
    ck_assert_uint_eq(surge, 0);
    ck_assert_uint_eq(unavailable, 2);
    s = strategy(&zero, &zero);
    berth_rollout_limits(&s, 7, &surge, &unavailable);
    ck_assert_uint_eq(unavailable, 1);
    s.type = "Recreate";
    ck_assert(berth_rollout_recreate(&s));
    ck_assert(!berth_rollout_recreate(NULL));
}
END_TEST

/* Drive a rolling update of replicas from rs[0] to rs[1]: after each step,
 * whatever the newest gained becomes available by the next (as replicas
 * that start and pass their probes do), unless broken. Returns the steps
 * taken; asserts the bounds at every one. */
static int roll(uint32_t replicas, uint32_t surge, uint32_t unavailable, bool broken,
                berth_rollout_rs *rs)
{
    berth_rollout_in in = { .replicas = replicas,
                            .max_surge = surge,
                            .max_unavailable = unavailable };
    int steps = 0;

    while (steps < 100 && !berth_rollout_complete(&in, rs, 2, 1)) {
        uint32_t available;

        if (!berth_rollout_step(&in, rs, 2, 1))
            break;
        steps++;
        /* what runs never exceeds replicas + maxSurge */
        ck_assert_uint_le(rs[0].replicas + rs[1].replicas, replicas + surge);
        /* old replicas taken away were available: what stays available
         * never drops below replicas - maxUnavailable */
        if (rs[0].available > rs[0].replicas)
            rs[0].available = rs[0].replicas;
        available = rs[0].available + rs[1].available;
        ck_assert_uint_ge(available, replicas - unavailable);
        if (!broken)
            rs[1].available = rs[1].replicas;
    }
    return steps;
}

START_TEST(a_rolling_update_stays_within_its_bounds)
{
    berth_rollout_rs rs[2];
    int steps;

    /* 6 replicas, maxUnavailable 1, maxSurge 0: one at a time */
    rs[0] = (berth_rollout_rs){ 6, 6 };
    rs[1] = (berth_rollout_rs){ 0, 0 };
    steps = roll(6, 0, 1, false, rs);
    ck_assert_uint_eq(rs[0].replicas, 0);
    ck_assert_uint_eq(rs[1].replicas, 6);
    ck_assert_int_eq(steps, 12); /* down one, up one, six times */
    /* the defaults on 100: 25 up, 25 down at a time */
    rs[0] = (berth_rollout_rs){ 100, 100 };
    rs[1] = (berth_rollout_rs){ 0, 0 };
    steps = roll(100, 25, 25, false, rs);
    ck_assert_uint_eq(rs[1].replicas, 100);
    ck_assert_int_le(steps, 10);
}
END_TEST

START_TEST(a_broken_new_revision_stalls_with_the_old_serving)
{
    berth_rollout_rs rs[2] = { { 6, 6 }, { 0, 0 } };
    berth_rollout_in in = { .replicas = 6, .max_surge = 2, .max_unavailable = 1 };

    /* its replicas never become available: it gets surge + unavailable,
     * the old keep 5 */
    roll(6, 2, 1, true, rs);
    ck_assert_uint_eq(rs[0].replicas, 5);
    ck_assert_uint_eq(rs[1].replicas, 3);
    ck_assert(!berth_rollout_step(&in, rs, 2, 1));
    ck_assert(!berth_rollout_complete(&in, rs, 2, 1));
}
END_TEST

START_TEST(unavailable_old_replicas_go_first)
{
    /* 2 of the old 6 crash: they are taken away before any that serves,
     * and no further (4 available, the minimum is 5) */
    berth_rollout_rs rs[2] = { { 6, 4 }, { 0, 0 } };
    berth_rollout_in in = { .replicas = 6, .max_surge = 0, .max_unavailable = 1 };

    ck_assert(berth_rollout_step(&in, rs, 2, 1));
    ck_assert_uint_eq(rs[0].replicas, 5);
    ck_assert(berth_rollout_step(&in, rs, 2, 1)); /* one new */
    ck_assert_uint_eq(rs[1].replicas, 1);
    /* while it is not available, nothing more goes */
    ck_assert(!berth_rollout_step(&in, rs, 2, 1));
    rs[1].available = 1;
    ck_assert(berth_rollout_step(&in, rs, 2, 1)); /* the other crashed one */
    ck_assert_uint_eq(rs[0].replicas, 4);
    ck_assert_uint_eq(rs[0].available, 4);
    ck_assert(berth_rollout_step(&in, rs, 2, 1)); /* one more new */
    ck_assert_uint_eq(rs[1].replicas, 2);
    ck_assert(!berth_rollout_step(&in, rs, 2, 1)); /* waits for them */
}
END_TEST

START_TEST(scaling_with_nothing_to_roll)
{
    berth_rollout_rs rs[1] = { { 3, 3 } };
    berth_rollout_in in = { .replicas = 5, .max_surge = 2, .max_unavailable = 1 };

    ck_assert(berth_rollout_step(&in, rs, 1, 0));
    ck_assert_uint_eq(rs[0].replicas, 5);
    in.replicas = 2;
    ck_assert(berth_rollout_step(&in, rs, 1, 0));
    ck_assert_uint_eq(rs[0].replicas, 2);
    ck_assert(!berth_rollout_step(&in, rs, 1, 0));
    /* a first revision: all at once */
    rs[0] = (berth_rollout_rs){ 0, 0 };
    in.replicas = 100;
    ck_assert(berth_rollout_step(&in, rs, 1, 0));
    ck_assert_uint_eq(rs[0].replicas, 100);
}
END_TEST

START_TEST(recreate_stops_the_old_then_starts_the_new)
{
    berth_rollout_rs rs[3] = { { 1, 1 }, { 3, 2 }, { 0, 0 } };
    berth_rollout_in in = { .replicas = 3, .recreate = true };

    ck_assert(berth_rollout_step(&in, rs, 3, 2));
    ck_assert_uint_eq(rs[0].replicas, 0);
    ck_assert_uint_eq(rs[1].replicas, 0);
    ck_assert_uint_eq(rs[2].replicas, 0);
    /* old ones still stopping: the new waits */
    in.old_running = true;
    ck_assert(!berth_rollout_step(&in, rs, 3, 2));
    ck_assert_uint_eq(rs[2].replicas, 0);
    in.old_running = false;
    ck_assert(berth_rollout_step(&in, rs, 3, 2));
    ck_assert_uint_eq(rs[2].replicas, 3);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("controller-rollout");
    TCase *tc = tcase_create("rollout");

    tcase_add_test(tc, limits_resolve_as_kubernetes_does);
    tcase_add_test(tc, a_rolling_update_stays_within_its_bounds);
    tcase_add_test(tc, a_broken_new_revision_stalls_with_the_old_serving);
    tcase_add_test(tc, unavailable_old_replicas_go_first);
    tcase_add_test(tc, scaling_with_nothing_to_roll);
    tcase_add_test(tc, recreate_stops_the_old_then_starts_the_new);
    suite_add_tcase(s, tc);
    return s;
}
