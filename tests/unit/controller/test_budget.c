/* Disruption budgets (budget.h): label selectors as Kubernetes matches
 * them, the disruption controller's arithmetic for every shape of
 * budget, and the eviction API's decision for healthy and unhealthy
 * pods. */
#include <check.h>
#include <string.h>

#include "budget.h"
#include "check_main.h"

/* Labels as NULL-terminated key, value pairs. */
static const char *lookup(const void *labels, const char *key)
{
    const char *const *kv = labels;

    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], key) == 0)
            return kv[1];
    return NULL;
}

START_TEST(selectors_match_as_kubernetes_does)
{
    const char *web[] = { "app", "web", "tier", "front", NULL };
    const char *db[] = { "app", "db", NULL };
    LabelSelector sel = LABEL_SELECTOR_INIT;
    LabelSelector_MatchLabelsEntry app = LABEL_SELECTOR_MATCH_LABELS_ENTRY_INIT;
    LabelSelector_MatchLabelsEntry *apps[] = { &app };
    NodeSelectorRequirement in = NODE_SELECTOR_REQUIREMENT_INIT;
    NodeSelectorRequirement *reqs[] = { &in };
    char *values[] = { "front", "back" };

    /* unset selects nothing; empty selects everything (policy/v1) */
    ck_assert(!berth_selector_matches(NULL, lookup, web));
    ck_assert(berth_selector_matches(&sel, lookup, web));
    ck_assert(berth_selector_matches(&sel, lookup, db));
    app.key = "app";
    app.value = "web";
    sel.match_labels = apps;
    sel.n_match_labels = 1;
    ck_assert(berth_selector_matches(&sel, lookup, web));
    ck_assert(!berth_selector_matches(&sel, lookup, db));
    /* expressions: In, NotIn (true when the label is missing), Exists,
     * DoesNotExist; all of them with the labels */
    in.key = "tier";
    in.operator_ = "In";
    in.values = values;
    in.n_values = 2;
    sel.match_expressions = reqs;
    sel.n_match_expressions = 1;
    ck_assert(berth_selector_matches(&sel, lookup, web));
    sel.n_match_labels = 0;
    ck_assert(!berth_selector_matches(&sel, lookup, db));
    in.operator_ = "NotIn";
    ck_assert(!berth_selector_matches(&sel, lookup, web));
    ck_assert(berth_selector_matches(&sel, lookup, db));
    in.operator_ = "Exists";
    in.n_values = 0;
    ck_assert(berth_selector_matches(&sel, lookup, web));
    ck_assert(!berth_selector_matches(&sel, lookup, db));
    in.operator_ = "DoesNotExist";
    ck_assert(!berth_selector_matches(&sel, lookup, web));
    ck_assert(berth_selector_matches(&sel, lookup, db));
    in.operator_ = "Gt"; /* no label selector has it */
    ck_assert(!berth_selector_matches(&sel, lookup, web));
}
END_TEST

static DisruptionBudgetStatus status_of(const PodDisruptionBudget *b, uint32_t pods,
                                        uint32_t healthy, uint32_t scale)
{
    DisruptionBudgetStatus st = DISRUPTION_BUDGET_STATUS_INIT;
    berth_budget_pods p = { pods, healthy, scale };

    berth_budget_status(b, &p, &st);
    return st;
}

START_TEST(status_is_the_disruption_controllers)
{
    PodDisruptionBudget b = POD_DISRUPTION_BUDGET_INIT;
    IntOrPercent v = INT_OR_PERCENT_INIT;
    DisruptionBudgetStatus st;

    /* maxUnavailable 1 of a Deployment of 3: 2 must stay */
    v.value = 1;
    b.max_unavailable = &v;
    st = status_of(&b, 3, 3, 3);
    ck_assert_uint_eq(st.expected_pods, 3);
    ck_assert_uint_eq(st.desired_healthy, 2);
    ck_assert_uint_eq(st.current_healthy, 3);
    ck_assert_uint_eq(st.disruptions_allowed, 1);
    /* one evicted, its replacement not Ready yet: none may go */
    st = status_of(&b, 3, 2, 3);
    ck_assert_uint_eq(st.disruptions_allowed, 0);
    /* the expected count is the controllers' scale, not the pods there
     * are: a replica that cannot be placed still counts */
    st = status_of(&b, 2, 2, 3);
    ck_assert_uint_eq(st.desired_healthy, 2);
    ck_assert_uint_eq(st.disruptions_allowed, 0);
    /* a percentage rounds up: 30 % of 10 unavailable is 3, 7 stay */
    v.value = 30;
    v.percent = true;
    st = status_of(&b, 10, 10, 10);
    ck_assert_uint_eq(st.desired_healthy, 7);
    ck_assert_uint_eq(st.disruptions_allowed, 3);
    /* more unavailable than there are: none need stay */
    v.value = 5;
    v.percent = false;
    st = status_of(&b, 3, 1, 3);
    ck_assert_uint_eq(st.desired_healthy, 0);
    ck_assert_uint_eq(st.disruptions_allowed, 1);

    /* minAvailable as a number counts the pods themselves */
    b.max_unavailable = NULL;
    b.min_available = &v;
    v.value = 2;
    st = status_of(&b, 4, 3, 9);
    ck_assert_uint_eq(st.expected_pods, 4);
    ck_assert_uint_eq(st.desired_healthy, 2);
    ck_assert_uint_eq(st.disruptions_allowed, 1);
    /* as a percentage, the scale: 50 % of 5 rounds up to 3 */
    v.value = 50;
    v.percent = true;
    st = status_of(&b, 5, 5, 5);
    ck_assert_uint_eq(st.desired_healthy, 3);
    ck_assert_uint_eq(st.disruptions_allowed, 2);
    /* 100 %: nothing may go */
    v.value = 100;
    st = status_of(&b, 5, 5, 5);
    ck_assert_uint_eq(st.disruptions_allowed, 0);
    /* neither field: nothing is expected, nothing may go (Kubernetes') */
    b.min_available = NULL;
    st = status_of(&b, 5, 4, 5);
    ck_assert_uint_eq(st.desired_healthy, 0);
    ck_assert_uint_eq(st.disruptions_allowed, 0);
}
END_TEST

START_TEST(eviction_decides_as_the_eviction_api_does)
{
    PodDisruptionBudget b = POD_DISRUPTION_BUDGET_INIT;
    IntOrPercent v = INT_OR_PERCENT_INIT;
    DisruptionBudgetStatus st;
    char why[300] = "";

    b.name = "web";
    b.unhealthy_pod_eviction_policy = "IfHealthyBudget";
    v.value = 1;
    b.max_unavailable = &v;
    /* a healthy pod: only while a disruption is allowed */
    st = status_of(&b, 3, 3, 3);
    ck_assert(berth_budget_allows(&b, &st, true, why, sizeof(why)));
    st = status_of(&b, 3, 2, 3);
    ck_assert(!berth_budget_allows(&b, &st, true, why, sizeof(why)));
    ck_assert_str_eq(why, "Cannot evict pod as it would violate the pod's disruption budget "
                          "\"web\" (2 of 3 pods healthy, 2 needed)");
    /* an unhealthy one: while the budget is met (IfHealthyBudget) */
    ck_assert(berth_budget_allows(&b, &st, false, why, sizeof(why)));
    st = status_of(&b, 3, 1, 3);
    ck_assert(!berth_budget_allows(&b, &st, false, why, sizeof(why)));
    /* a budget that asks for none healthy: not an unhealthy one either
     * (Kubernetes' DesiredHealthy > 0) */
    v.value = 5;
    st = status_of(&b, 3, 0, 3);
    ck_assert_uint_eq(st.desired_healthy, 0);
    ck_assert(!berth_budget_allows(&b, &st, false, why, sizeof(why)));
    v.value = 1;
    st = status_of(&b, 3, 1, 3);
    /* or always (AlwaysAllow) */
    b.unhealthy_pod_eviction_policy = "AlwaysAllow";
    ck_assert(berth_budget_allows(&b, &st, false, why, sizeof(why)));
    ck_assert(!berth_budget_allows(&b, &st, true, why, sizeof(why)));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("controller-budget");
    TCase *tc = tcase_create("budget");

    tcase_add_test(tc, selectors_match_as_kubernetes_does);
    tcase_add_test(tc, status_is_the_disruption_controllers);
    tcase_add_test(tc, eviction_decides_as_the_eviction_api_does);
    suite_add_tcase(s, tc);
    return s;
}
