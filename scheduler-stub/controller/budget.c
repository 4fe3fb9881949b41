/* Disruption budgets: selectors and Kubernetes' arithmetic. */
#include "budget.h"

#include <stdio.h>
#include <string.h>

static bool requirement_holds(const NodeSelectorRequirement *r, const char *value)
{
    bool in = false;

    for (size_t i = 0; value && i < r->n_values; i++)
        in |= strcmp(r->values[i], value) == 0;
    if (strcmp(r->operator_, "In") == 0)
        return in;
    if (strcmp(r->operator_, "NotIn") == 0)
        return !in; /* also true when the label is missing, as Kubernetes */
    if (strcmp(r->operator_, "Exists") == 0)
        return value != NULL;
    if (strcmp(r->operator_, "DoesNotExist") == 0)
        return value == NULL;
    return false; /* an operator no manifest gives */
}

bool berth_selector_matches(const LabelSelector *sel, berth_label_lookup lookup, const void *labels)
{
    if (!sel)
        return false;
    for (size_t i = 0; i < sel->n_match_labels; i++) {
        const char *v = lookup(labels, sel->match_labels[i]->key);

        if (!v || strcmp(v, sel->match_labels[i]->value) != 0)
            return false;
    }
    for (size_t i = 0; i < sel->n_match_expressions; i++) {
        const NodeSelectorRequirement *r = sel->match_expressions[i];

        if (!requirement_holds(r, lookup(labels, r->key)))
            return false;
    }
    return true;
}

uint32_t berth_int_or_percent_of(const IntOrPercent *v, uint32_t total)
{
    if (!v)
        return 0;
    if (!v->percent)
        return v->value;
    return (uint32_t)(((uint64_t)total * v->value + 99) / 100);
}

void berth_budget_status(const PodDisruptionBudget *b, const berth_budget_pods *pods,
                         DisruptionBudgetStatus *st)
{
    uint32_t expected, desired = 0;

    /* Kubernetes' getExpectedPodCount (neither field: none expected) */
    if (b->min_available && !b->min_available->percent)
        expected = pods->pods;
    else if (b->min_available || b->max_unavailable)
        expected = pods->scale;
    else
        expected = 0;
    if (b->max_unavailable) {
        uint32_t unavailable = berth_int_or_percent_of(b->max_unavailable, expected);

        desired = expected > unavailable ? expected - unavailable : 0;
    } else if (b->min_available) {
        desired = berth_int_or_percent_of(b->min_available, expected);
    }
    st->expected_pods = expected;
    st->desired_healthy = desired;
    st->current_healthy = pods->healthy;
    /* Kubernetes': none while nothing is expected (a budget with neither
     * field among them) */
    st->disruptions_allowed = expected > 0 && pods->healthy > desired ? pods->healthy - desired : 0;
}

bool berth_budget_allows(const PodDisruptionBudget *b, const DisruptionBudgetStatus *st,
                         bool pod_healthy, char *ret_why, size_t why_size)
{
    if (!pod_healthy) {
        if (strcmp(b->unhealthy_pod_eviction_policy, "AlwaysAllow") == 0 ||
            (st->current_healthy >= st->desired_healthy && st->desired_healthy > 0))
            return true;
    } else if (st->disruptions_allowed > 0) {
        return true;
    }
    snprintf(ret_why, why_size,
             "Cannot evict pod as it would violate the pod's disruption budget \"%s\" (%u of "
             "%u pods healthy, %u needed)",
             b->name, st->current_healthy, st->expected_pods, st->desired_healthy);
    return false;
}
