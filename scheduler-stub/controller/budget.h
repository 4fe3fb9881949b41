/* Disruption budgets: Kubernetes' rules, pure (no fleet, no clock), so
 * tests reach them directly. Which pods a label selector selects, and
 * what a PodDisruptionBudget allows given its pods: the disruption
 * controller's arithmetic (status) and the eviction API's decision. */
#ifndef BERTH_CONTROLLER_BUDGET_H
#define BERTH_CONTROLLER_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"

/* The value of label key in labels (whatever shape they have), or NULL. */
typedef const char *(*berth_label_lookup)(const void *labels, const char *key);

/* Whether sel selects a pod with these labels: every matchLabels pair and
 * every matchExpressions requirement (In, NotIn, Exists, DoesNotExist)
 * holds. NULL selects nothing (policy/v1), an empty selector everything. */
bool berth_selector_matches(const LabelSelector *sel, berth_label_lookup lookup,
                            const void *labels);

/* The count a number-or-percentage stands for out of total; a percentage
 * rounds up, as the disruption controller rounds both fields. */
uint32_t berth_int_or_percent_of(const IntOrPercent *v, uint32_t total);

/* What the pods a budget selects are: how many (not ended), how many are
 * healthy (Ready on a Ready node), and the replicas their controllers want
 * (a Deployment's replicas, a DaemonSet's nodes, a Job's running pods, 1
 * for a Pod of its own). */
typedef struct berth_budget_pods {
    uint32_t pods, healthy, scale;
} berth_budget_pods;

/* Kubernetes' status of budget b over pods: expected_pods (the pods
 * themselves for a minAvailable that is a number, else the controllers'
 * scale), desired_healthy, current_healthy, disruptions_allowed (none
 * while none are expected: a budget with neither field allows nothing).
 * The unhealthy list is left alone. */
void berth_budget_status(const PodDisruptionBudget *b, const berth_budget_pods *pods,
                         DisruptionBudgetStatus *st);

/* The eviction API's decision for one pod under budget b (status st):
 * allowed, or not (then *ret_why says why, in Kubernetes' words and
 * berth's figures). A pod that is not healthy may go when b's policy is
 * AlwaysAllow, or while the budget is met and asks for some
 * (IfHealthyBudget); a healthy one only while disruptions are allowed. */
bool berth_budget_allows(const PodDisruptionBudget *b, const DisruptionBudgetStatus *st,
                         bool pod_healthy, char *ret_why, size_t why_size);

#endif
