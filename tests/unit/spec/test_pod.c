/* Pods as Kubernetes shows them: phase, kubectl's STATUS, READY,
 * RESTARTS and the conditions, from containers in each state a pod
 * passes through. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "spec/pod.h"

enum { INIT, SIDECAR, APP };

static ContainerStatus sts[8];
static berth_pod_entry entries[8];
static size_t n;
static RestartPolicy policy;
static berth_pod_view v;

static void add(int role, const char *name, RestartPolicy pol, ContainerState state,
                const char *reason, int exit_code, bool ready)
{
    size_t i = n++;

    container_status_init(&sts[i]);
    sts[i].id = (char *)name;
    sts[i].state = state;
    sts[i].reason = (char *)reason;
    sts[i].exit_code = exit_code;
    sts[i].ready = ready;
    sts[i].restart_count = 1;
    sts[i].created_unix_ns = 1000 - (int64_t)i;
    if (state == CONTAINER_RUNNING || state == CONTAINER_EXITED)
        sts[i].started_unix_ns = 5;
    entries[i].name = name;
    entries[i].role = role == INIT      ? POD_ROLE_INIT
                      : role == SIDECAR ? POD_ROLE_SIDECAR
                                        : POD_ROLE_APP;
    entries[i].status = &sts[i];
    if (role == APP)
        policy = pol;
}

static void make(void)
{
    berth_pod_view_make(entries, n, policy, false, &v);
}

static void setup(void)
{
    n = 0;
    policy = RESTART_ALWAYS;
}

START_TEST(initializing)
{
    add(INIT, "migrate", RESTART_ALWAYS, CONTAINER_EXITED, "Completed", 0, false);
    add(INIT, "seed", RESTART_ALWAYS, CONTAINER_RUNNING, "", 0, false);
    add(APP, "app", RESTART_ALWAYS, CONTAINER_PENDING, "PodInitializing", 0, false);
    make();
    ck_assert_str_eq(v.phase, "Pending");
    ck_assert_str_eq(v.status, "Init:1/2");
    ck_assert(!v.initialized);
    ck_assert(!v.ready);
    ck_assert_uint_eq(v.n_ready, 0);
    ck_assert_uint_eq(v.total, 1);
    ck_assert_uint_eq(v.restarts, 3);
    ck_assert_int_eq(v.created_ns, 998);
    ck_assert_str_eq(v.reason, "ContainersNotReady");
    ck_assert_str_eq(v.message, "containers with unready status: [app]");

    /* the second init container crashes and waits out its backoff */
    sts[1].state = CONTAINER_RESTARTING;
    make();
    ck_assert_str_eq(v.status, "Init:CrashLoopBackOff");
    ck_assert_str_eq(v.phase, "Pending");
    /* it failed for good in a pod that restarts Never: the pod failed */
    sts[1].state = CONTAINER_EXITED;
    sts[1].exit_code = 2;
    sts[1].reason = "Error";
    policy = RESTART_NEVER;
    make();
    ck_assert_str_eq(v.status, "Init:Error");
    ck_assert_str_eq(v.phase, "Failed");
    ck_assert_str_eq(v.reason, "PodCompleted");
}
END_TEST

START_TEST(running_with_a_sidecar)
{
    add(SIDECAR, "proxy", RESTART_ALWAYS, CONTAINER_RUNNING, "", 0, true);
    add(APP, "app", RESTART_ALWAYS, CONTAINER_RUNNING, "", 0, false);
    add(APP, "logs", RESTART_ALWAYS, CONTAINER_RUNNING, "", 0, true);
    make();
    ck_assert_str_eq(v.phase, "Running");
    ck_assert_str_eq(v.status, "Running");
    ck_assert(v.initialized);
    ck_assert(!v.ready);
    /* the sidecar counts, as kubectl counts it */
    ck_assert_uint_eq(v.n_ready, 2);
    ck_assert_uint_eq(v.total, 3);
    ck_assert_str_eq(v.message, "containers with unready status: [app]");
    sts[1].ready = true;
    make();
    ck_assert(v.ready);
    ck_assert_uint_eq(v.n_ready, 3);
    ck_assert_ptr_null(v.reason);
    /* one crash-loops: the pod stays Running, STATUS says why */
    sts[2].state = CONTAINER_RESTARTING;
    sts[2].ready = false;
    make();
    ck_assert_str_eq(v.phase, "Running");
    ck_assert_str_eq(v.status, "CrashLoopBackOff");
    /* evicted (an emptyDir past its sizeLimit): the pod failed */
    sts[2].state = CONTAINER_FAILED;
    sts[2].reason = "Evicted";
    make();
    ck_assert_str_eq(v.phase, "Failed");
    ck_assert_str_eq(v.status, "Evicted");
    sts[2].state = CONTAINER_RESTARTING;
    sts[2].reason = "";
    /* its node is Down */
    berth_pod_view_make(entries, n, policy, true, &v);
    ck_assert_str_eq(v.phase, "Unknown");
    ck_assert_str_eq(v.status, "Unknown");
}
END_TEST

START_TEST(waiting_and_done)
{
    add(APP, "app", RESTART_ON_FAILURE, CONTAINER_PENDING, "Pulling", 0, false);
    make();
    ck_assert_str_eq(v.phase, "Pending");
    ck_assert_str_eq(v.status, "ContainerCreating");
    sts[0].reason = "ImagePullBackOff";
    make();
    ck_assert_str_eq(v.status, "ImagePullBackOff");
    /* not reported yet: the phase */
    entries[0].status = NULL;
    make();
    ck_assert_str_eq(v.status, "Pending");
    ck_assert_int_eq(v.created_ns, 0);
    entries[0].status = &sts[0];
    /* ran to completion */
    sts[0].state = CONTAINER_EXITED;
    sts[0].reason = "Completed";
    make();
    ck_assert_str_eq(v.phase, "Succeeded");
    ck_assert_str_eq(v.status, "Completed");
    /* failed, under OnFailure it runs again; under Never the pod failed */
    sts[0].exit_code = 3;
    sts[0].reason = "";
    make();
    ck_assert_str_eq(v.phase, "Running");
    ck_assert_str_eq(v.status, "Error");
    policy = RESTART_NEVER;
    sts[0].reason = "Error";
    make();
    ck_assert_str_eq(v.phase, "Failed");
    ck_assert_str_eq(v.status, "Error");
    /* a spec that cannot start */
    sts[0].state = CONTAINER_FAILED;
    sts[0].reason = "CreateContainerConfigError";
    sts[0].started_unix_ns = 0;
    make();
    ck_assert_str_eq(v.phase, "Pending");
    ck_assert_str_eq(v.status, "CreateContainerConfigError");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("pod");
    TCase *tc = tcase_create("view");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, initializing);
    tcase_add_test(tc, running_with_a_sidecar);
    tcase_add_test(tc, waiting_and_done);
    suite_add_tcase(s, tc);
    return s;
}
