/* Placement: keep what may stay, then fill the gaps, counting why gaps stay
 * open. */
#include "placement.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/quantity.h"
#include "base/xalloc.h"

bool berth_labels_match(const berth_label *selector, size_t n_selector, const berth_label *labels,
                        size_t n_labels)
{
    for (size_t i = 0; i < n_selector; i++) {
        bool found = false;

        for (size_t j = 0; j < n_labels && !found; j++)
            found = strcmp(selector[i].key, labels[j].key) == 0 &&
                    strcmp(selector[i].value, labels[j].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* What is handed out on a node so far. */
typedef struct usage {
    int64_t cpu, memory;
    int64_t *extended; /* of each of the node's extended resources */
    uint32_t containers;
    uint32_t *ports; /* host ports taken (BERTH_PLACE_PORT) */
    size_t n_ports, cap_ports;
} usage;

static bool port_taken(const usage *u, uint32_t port)
{
    for (size_t i = 0; i < u->n_ports; i++)
        if (u->ports[i] == port)
            return true;
    return false;
}

typedef struct placer {
    const berth_place_input *in;
    usage *used;      /* per node */
    uint32_t *per_wl; /* per node: replicas of the workload being placed */
    berth_place_slot *slots;
    size_t n_slots, cap_slots;
    int64_t next_eviction;
    /* The evicted replicas: not placed again on the node they left. */
    berth_place_slot *evicted;
    size_t n_evicted;
} placer;

/* Where node lists extended resource name, or SIZE_MAX. */
static size_t node_extended(const berth_place_node *node, const char *name)
{
    for (size_t k = 0; k < node->n_extended; k++)
        if (strcmp(node->extended[k].name, name) == 0)
            return k;
    return SIZE_MAX;
}

/* The first of w's extended resources of which node has fewer free than a
 * replica asks for (an index into w->extended), SIZE_MAX when all fit. A
 * name the node does not list: none free. */
static size_t extended_short(const berth_place_node *node, const usage *u,
                             const berth_place_workload *w)
{
    for (size_t i = 0; i < w->n_extended; i++) {
        size_t k = node_extended(node, w->extended[i].name);
        int64_t free_count = k == SIZE_MAX ? 0 : node->extended[k].count - u->extended[k];

        if (w->extended[i].count > 0 && w->extended[i].count > free_count)
            return i;
    }
    return SIZE_MAX;
}

static bool evicted_from(const placer *pl, size_t w, uint32_t replica, size_t n)
{
    for (size_t i = 0; i < pl->n_evicted; i++)
        if (pl->evicted[i].workload == w && pl->evicted[i].replica == replica &&
            pl->evicted[i].node == n)
            return true;
    return false;
}

bool berth_toleration_matches(const Toleration *t, const Taint *taint)
{
    if (*t->effect && strcmp(t->effect, taint->effect) != 0)
        return false;
    if (strcmp(t->operator_, "Exists") == 0)
        return !*t->key || strcmp(t->key, taint->key) == 0;
    return strcmp(t->key, taint->key) == 0 && strcmp(t->value, taint->value) == 0;
}

static const char *label_of(const berth_label *labels, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].value;
    return NULL;
}

static bool int_of(const char *s, long long *ret)
{
    char *end;

    if (!s || !*s)
        return false;
    errno = 0;
    *ret = strtoll(s, &end, 10);
    return !errno && !*end;
}

static bool requirement_matches(const NodeSelectorRequirement *r, const char *value)
{
    bool in = false;
    long long a, b;

    for (size_t i = 0; value && i < r->n_values; i++)
        in |= strcmp(r->values[i], value) == 0;
    if (strcmp(r->operator_, "In") == 0)
        return in;
    if (strcmp(r->operator_, "NotIn") == 0)
        return !in;
    if (strcmp(r->operator_, "Exists") == 0)
        return value != NULL;
    if (strcmp(r->operator_, "DoesNotExist") == 0)
        return value == NULL;
    if (r->n_values != 1 || !int_of(value, &a) || !int_of(r->values[0], &b))
        return false;
    if (strcmp(r->operator_, "Gt") == 0)
        return a > b;
    if (strcmp(r->operator_, "Lt") == 0)
        return a < b;
    return false;
}

bool berth_node_affinity_matches(NodeSelectorTerm *const *terms, size_t n_terms,
                                 const char *node_name, const berth_label *labels, size_t n_labels)
{
    if (n_terms == 0)
        return true;
    for (size_t t = 0; t < n_terms; t++) {
        const NodeSelectorTerm *term = terms[t];
        bool ok = term->n_match_expressions + term->n_match_fields > 0;

        for (size_t i = 0; ok && i < term->n_match_expressions; i++)
            ok = requirement_matches(term->match_expressions[i],
                                     label_of(labels, n_labels, term->match_expressions[i]->key));
        for (size_t i = 0; ok && i < term->n_match_fields; i++)
            ok = strcmp(term->match_fields[i]->key, "metadata.name") == 0 &&
                 requirement_matches(term->match_fields[i], node_name);
        if (ok)
            return true;
    }
    return false;
}

/* Until when w tolerates NoExecute taint t (Kubernetes: the least
 * tolerationSeconds of the matching tolerations that give one, for ever
 * when none does): INT64_MAX for ever, INT64_MIN not at all. */
static int64_t no_execute_until(const Taint *t, const berth_place_workload *w)
{
    int64_t until = INT64_MIN;
    bool forever = false;

    for (size_t k = 0; k < w->n_tolerations; k++) {
        const Toleration *tol = w->tolerations[k];

        if (!berth_toleration_matches(tol, t))
            continue;
        if (tol->has_toleration_seconds) {
            /* zero or less is at once */
            int64_t secs = tol->toleration_seconds > 0 ? tol->toleration_seconds : 0;
            int64_t end = t->time_added_unix_ns + secs * 1000000000LL;

            until = until == INT64_MIN || end < until ? end : until;
        } else {
            forever = true;
        }
    }
    return until != INT64_MIN ? until : forever ? INT64_MAX : INT64_MIN;
}

/* The first taint of node with effect (or either of NoSchedule and
 * NoExecute when effect is NULL) that w does not tolerate at now (a
 * NoExecute one tolerated for a while no longer once that ran out, else a
 * replica evicted would be placed right back); NULL: none. */
static const Taint *untolerated(const berth_place_node *node, const berth_place_workload *w,
                                const char *effect, int64_t now)
{
    for (size_t i = 0; i < node->n_taints; i++) {
        const Taint *t = node->taints[i];
        bool tolerated = false;

        if (effect ? strcmp(t->effect, effect) != 0 : strcmp(t->effect, "PreferNoSchedule") == 0)
            continue;
        if (strcmp(t->effect, "NoExecute") == 0)
            tolerated = now < no_execute_until(t, w);
        else
            for (size_t k = 0; k < w->n_tolerations && !tolerated; k++)
                tolerated = berth_toleration_matches(w->tolerations[k], t);
        if (!tolerated)
            return t;
    }
    return NULL;
}

/* How many PreferNoSchedule taints of node w does not tolerate. */
static size_t disliked(const berth_place_node *node, const berth_place_workload *w)
{
    size_t n = 0;

    for (size_t i = 0; i < node->n_taints; i++) {
        const Taint *t = node->taints[i];
        bool tolerated = false;

        if (strcmp(t->effect, "PreferNoSchedule") != 0)
            continue;
        for (size_t k = 0; k < w->n_tolerations && !tolerated; k++)
            tolerated = berth_toleration_matches(w->tolerations[k], t);
        n += !tolerated;
    }
    return n;
}

/* Whether a replica of w may stay on node past its NoExecute taints at
 * now; *deadline lowered to when it must go, if it tolerates one for a
 * while. */
static bool survives_no_execute(const berth_place_node *node, const berth_place_workload *w,
                                int64_t now, int64_t *deadline)
{
    for (size_t i = 0; i < node->n_taints; i++) {
        const Taint *t = node->taints[i];
        int64_t until;

        if (strcmp(t->effect, "NoExecute") != 0)
            continue;
        until = no_execute_until(t, w);
        if (now >= until)
            return false;
        if (until != INT64_MAX && (!*deadline || until < *deadline))
            *deadline = until;
    }
    return true;
}

static bool is_daemon(const berth_place_workload *w)
{
    return w->kind == WORKLOAD_DAEMONSET;
}

static uint32_t wanted(const berth_place_workload *w)
{
    if (w->indices)
        return (uint32_t)w->n_indices;
    return w->kind == WORKLOAD_POD ? 1 : w->replicas;
}

/* The i-th replica index w wants (i < wanted). */
static uint32_t wanted_index(const berth_place_workload *w, uint32_t i)
{
    return w->indices ? w->indices[i] : i;
}

/* Whether w wants replica index r. */
static bool wants(const berth_place_workload *w, uint32_t r)
{
    size_t lo = 0, hi;

    if (!w->indices)
        return r < wanted(w);
    for (hi = w->n_indices; lo < hi;) { /* ascending */
        size_t mid = lo + (hi - lo) / 2;

        if (w->indices[mid] == r)
            return true;
        if (w->indices[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Why a node cannot take one more replica of w (FITS when it can): the
 * first reason that applies, in this order. A replica that stays (not
 * new_placement) only needs the selector and the room. */
typedef enum refusal {
    FITS = 0,
    NOT_READY,
    CORDONED,
    NODE_NAME,
    SELECTOR,
    AFFINITY,
    TAINT,
    CPU,
    MEMORY,
    EXTENDED,
    PORTS,
    CONTAINERS,
    N_REFUSALS
} refusal;

static refusal refuse(const placer *pl, size_t n, const berth_place_workload *w, bool new_placement)
{
    const berth_place_node *node = &pl->in->nodes[n];
    const usage *u = &pl->used[n];

    if (new_placement && node->state != BERTH_PLACE_READY)
        return NOT_READY;
    if (new_placement && !is_daemon(w) && (node->cordoned || node->drained))
        return CORDONED;
    if (w->node_name && *w->node_name && strcmp(w->node_name, node->name) != 0)
        return NODE_NAME;
    if (!berth_labels_match(w->selector, w->n_selector, node->labels, node->n_labels))
        return SELECTOR;
    if (!berth_node_affinity_matches(w->affinity, w->n_affinity, node->name, node->labels,
                                     node->n_labels))
        return AFFINITY;
    /* a replica that stays answers to NoExecute only (keep) */
    if (new_placement && untolerated(node, w, NULL, pl->in->now_ns))
        return TAINT;
    if (w->cpu_millis > node->cpu_millis - u->cpu)
        return CPU;
    if (w->memory_bytes > node->memory_bytes - u->memory)
        return MEMORY;
    /* as Kubernetes: a running replica keeps its devices when its node
     * counts fewer (a spec file being rewritten, a device gone) */
    if (new_placement && extended_short(node, u, w) != SIZE_MAX)
        return EXTENDED;
    for (size_t i = 0; i < w->n_host_ports; i++)
        if (port_taken(u, w->host_ports[i]))
            return PORTS;
    if (node->max_containers && u->containers + 1 > node->max_containers)
        return CONTAINERS;
    return FITS;
}

static void add_slot(placer *pl, size_t w, size_t n, uint32_t replica)
{
    const berth_place_workload *wl = &pl->in->workloads[w];

    if (pl->n_slots == pl->cap_slots) {
        pl->cap_slots = pl->cap_slots ? 2 * pl->cap_slots : 64;
        pl->slots = berth_xreallocarray(pl->slots, pl->cap_slots, sizeof(*pl->slots));
    }
    pl->slots[pl->n_slots++] = (berth_place_slot){ w, n, replica, false, false };
    pl->used[n].cpu += wl->cpu_millis;
    pl->used[n].memory += wl->memory_bytes;
    pl->used[n].containers++;
    for (size_t i = 0; i < wl->n_extended; i++) {
        size_t k = node_extended(&pl->in->nodes[n], wl->extended[i].name);

        if (k != SIZE_MAX && wl->extended[i].count > 0)
            pl->used[n].extended[k] += wl->extended[i].count;
    }
    for (size_t i = 0; i < wl->n_host_ports; i++) {
        usage *u = &pl->used[n];

        if (u->n_ports == u->cap_ports) {
            u->cap_ports = u->cap_ports ? 2 * u->cap_ports : 8;
            u->ports = berth_xreallocarray(u->ports, u->cap_ports, sizeof(*u->ports));
        }
        u->ports[u->n_ports++] = wl->host_ports[i];
    }
}

/* A replica that succeeded: where it is, taking nothing there. */
static void add_done_slot(placer *pl, const berth_place_slot *s)
{
    if (pl->n_slots == pl->cap_slots) {
        pl->cap_slots = pl->cap_slots ? 2 * pl->cap_slots : 64;
        pl->slots = berth_xreallocarray(pl->slots, pl->cap_slots, sizeof(*pl->slots));
    }
    pl->slots[pl->n_slots++] = *s;
}

static int slot_cmp(const void *a, const void *b)
{
    const berth_place_slot *x = a, *y = b;

    if (x->workload != y->workload)
        return x->workload < y->workload ? -1 : 1;
    if (x->replica != y->replica)
        return x->replica < y->replica ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* "2 CPUs", "1 CPU", "500m CPU". */
static void cpu_text(int64_t millis, char *buf, size_t size)
{
    char q[32];

    berth_format_millicpu(millis, q, sizeof(q));
    snprintf(buf, size, "%s CPU%s", q, millis % 1000 == 0 && millis != 1000 ? "s" : "");
}

/* Why no node can take a replica of w: "0/3 nodes can take a replica: 2
 * have less than 2 CPUs free, 1 is not Ready" (each node counted once, under
 * the first reason that applies to it). */
static void explain(const placer *pl, const berth_place_workload *w, char *buf, size_t size)
{
    size_t count[N_REFUSALS] = { 0 };
    /* the nodes short of each of w's extended resources */
    size_t *short_of = berth_xcalloc(w->n_extended + 1, sizeof(*short_of));
    char part[400], cpu[48], mem[32];
    const Taint *taint = NULL;
    size_t len;
    bool first = true;

    for (size_t n = 0; n < pl->in->n_nodes; n++) {
        refusal r = refuse(pl, n, w, true);

        count[r]++;
        if (r == TAINT && !taint)
            taint = untolerated(&pl->in->nodes[n], w, NULL, pl->in->now_ns);
        if (r == EXTENDED)
            short_of[extended_short(&pl->in->nodes[n], &pl->used[n], w)]++;
    }
    len = (size_t)snprintf(buf, size, "%zu/%zu nodes can take a replica", count[FITS],
                           pl->in->n_nodes);
    cpu_text(w->cpu_millis, cpu, sizeof(cpu));
    berth_format_bytes(w->memory_bytes, mem, sizeof(mem));
    for (int r = NOT_READY; r < N_REFUSALS; r++) {
        bool single = count[r] == 1;

        if (!count[r])
            continue;
        if (r == EXTENDED) {
            /* Kubernetes' words, a count for each name */
            for (size_t i = 0; i < w->n_extended; i++) {
                if (short_of[i] && len < size)
                    len += (size_t)snprintf(buf + len, size - len, "%s %zu Insufficient %s",
                                            first ? ":" : ",", short_of[i], w->extended[i].name);
                first = first && !short_of[i];
            }
            continue;
        }
        switch (r) {
        case NOT_READY:
            snprintf(part, sizeof(part), "%s not Ready", single ? "is" : "are");
            break;
        case CORDONED:
            snprintf(part, sizeof(part), "%s cordoned", single ? "is" : "are");
            break;
        case NODE_NAME:
            snprintf(part, sizeof(part), "%s not the node named in nodeName",
                     single ? "is" : "are");
            break;
        case SELECTOR:
            snprintf(part, sizeof(part), "%s not match the nodeSelector", single ? "does" : "do");
            break;
        case AFFINITY:
            snprintf(part, sizeof(part), "didn't match Pod's node affinity");
            break;
        case TAINT:
            /* Kubernetes' words */
            snprintf(part, sizeof(part), "had untolerated taint {%.100s: %.60s}", taint->key,
                     taint->value);
            break;
        case CPU:
            snprintf(part, sizeof(part), "%s less than %s free", single ? "has" : "have", cpu);
            break;
        case MEMORY:
            snprintf(part, sizeof(part), "%s less than %s of memory free", single ? "has" : "have",
                     mem);
            break;
        case PORTS:
            /* Kubernetes' words */
            snprintf(part, sizeof(part), "didn't have free ports for the requested pod ports");
            break;
        default:
            snprintf(part, sizeof(part), "%s all the containers %s may", single ? "runs" : "run",
                     single ? "it" : "they");
            break;
        }
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s %zu %s", first ? ":" : ",", count[r],
                                    part);
        first = false;
    }
    free(short_of);
}

/* Pass 1: keep the current slots that may stay. */
static void keep(placer *pl)
{
    const berth_place_input *in = pl->in;
    size_t n = in->n_current;
    berth_place_slot *cur = berth_xcalloc(n + 1, sizeof(*cur));

    pl->evicted = berth_xcalloc(n + 1, sizeof(*pl->evicted));

    if (n)
        memcpy(cur, in->current, n * sizeof(*cur));
    qsort(cur, n, sizeof(*cur), slot_cmp);
    for (size_t i = 0; i < n; i++) {
        const berth_place_slot *s = &cur[i];
        const berth_place_workload *w;
        const berth_place_node *node;

        if (s->workload >= in->n_workloads || s->node >= in->n_nodes)
            continue;
        w = &in->workloads[s->workload];
        node = &in->nodes[s->node];
        /* one replica per index (per node for a DaemonSet) */
        if (i > 0 && cur[i - 1].workload == s->workload &&
            (is_daemon(w) ? cur[i - 1].node == s->node : cur[i - 1].replica == s->replica))
            continue;
        if (is_daemon(w)) {
            if (s->replica != 0 || node->state == BERTH_PLACE_UNREGISTERED)
                continue;
            /* an earlier duplicate on the same node with another replica
             * number was skipped by the sort order above */
        } else {
            if (s->done && w->keep_done) {
                add_done_slot(pl, s);
                continue;
            }
            if (!wants(w, s->replica) || node->state == BERTH_PLACE_UNREGISTERED)
                continue;
            if (s->done) { /* never run again: nothing of the node matters */
                add_done_slot(pl, s);
                continue;
            }
            if (node->state == BERTH_PLACE_DOWN || node->drained)
                continue;
            if (s->evict) {
                pl->evicted[pl->n_evicted++] = *s;
                continue;
            }
        }
        if (refuse(pl, s->node, w, false) != FITS ||
            !survives_no_execute(node, w, in->now_ns, &pl->next_eviction))
            continue;
        add_slot(pl, s->workload, s->node, s->replica);
    }
    free(cur);
}

/* Does workload w have a kept slot for replica r (or on node n: a
 * DaemonSet, any of its revisions)? */
static bool has_slot(const placer *pl, size_t w, bool daemon, uint32_t r, size_t n)
{
    const berth_place_workload *pw = &pl->in->workloads[w];
    size_t first = daemon && pw->group_n ? pw->group_first : w;
    size_t last = daemon && pw->group_n ? pw->group_first + pw->group_n : w + 1;

    for (size_t i = 0; i < pl->n_slots; i++)
        if (pl->slots[i].workload >= first && pl->slots[i].workload < last &&
            (daemon ? pl->slots[i].node == n : pl->slots[i].replica == r))
            return true;
    return false;
}

static void place_replicas(placer *pl, size_t wi, berth_place_status *st)
{
    const berth_place_input *in = pl->in;
    const berth_place_workload *w = &in->workloads[wi];
    uint32_t want = wanted(w);

    st->desired = want;
    memset(pl->per_wl, 0, in->n_nodes * sizeof(*pl->per_wl));
    for (size_t i = 0; i < pl->n_slots; i++)
        if (pl->slots[i].workload == wi)
            pl->per_wl[pl->slots[i].node]++;
    for (uint32_t i = 0; i < want; i++) {
        uint32_t r = wanted_index(w, i);
        size_t best = SIZE_MAX;

        if (has_slot(pl, wi, false, r, 0))
            continue;
        size_t best_disliked = 0;

        for (size_t n = 0; n < in->n_nodes; n++) {
            size_t d;

            if (refuse(pl, n, w, true) != FITS || evicted_from(pl, wi, r, n))
                continue;
            /* PreferNoSchedule first, then the spread */
            d = disliked(&in->nodes[n], w);
            if (best == SIZE_MAX || d < best_disliked ||
                (d == best_disliked && (pl->per_wl[n] < pl->per_wl[best] ||
                                        (pl->per_wl[n] == pl->per_wl[best] &&
                                         pl->used[n].containers < pl->used[best].containers)))) {
                best = n;
                best_disliked = d;
            }
        }
        if (best == SIZE_MAX) {
            if (st->unschedulable++ == 0)
                explain(pl, w, st->message, sizeof(st->message));
            continue;
        }
        add_slot(pl, wi, best, r);
        pl->per_wl[best]++;
        /* placed on a node whose NoExecute taint it tolerates for a while */
        survives_no_execute(&in->nodes[best], w, in->now_ns, &pl->next_eviction);
    }
}

static void place_daemons(placer *pl, size_t wi, berth_place_status *st)
{
    const berth_place_input *in = pl->in;
    const berth_place_workload *w = &in->workloads[wi];
    size_t len = 0;

    for (size_t n = 0; n < in->n_nodes; n++) {
        const berth_place_node *node = &in->nodes[n];
        refusal why;

        if (node->state == BERTH_PLACE_UNREGISTERED ||
            !berth_labels_match(w->selector, w->n_selector, node->labels, node->n_labels) ||
            !berth_node_affinity_matches(w->affinity, w->n_affinity, node->name, node->labels,
                                         node->n_labels) ||
            (w->node_name && *w->node_name && strcmp(w->node_name, node->name) != 0))
            continue;
        /* a node whose taints it does not tolerate is not one of its own
         * (as the DaemonSet controller sees it) */
        if (!has_slot(pl, wi, true, 0, n) && untolerated(node, w, NULL, in->now_ns))
            continue;
        /* A Down node keeps its replica (it has nowhere else to go) and is
         * not given a new one. */
        if (has_slot(pl, wi, true, 0, n)) {
            st->desired++;
            continue;
        }
        if (node->state == BERTH_PLACE_DOWN)
            continue;
        st->desired++;
        why = refuse(pl, n, w, true);
        if (why == NOT_READY)
            continue; /* Unknown: it gets its replica when it is back */
        if (why == FITS) {
            add_slot(pl, wi, n, 0);
            survives_no_execute(node, w, in->now_ns, &pl->next_eviction);
            continue;
        }
        if (st->unschedulable++ == 0)
            len = (size_t)snprintf(st->message, sizeof(st->message), "node");
        if (len < sizeof(st->message)) {
            char what[300];

            if (why == CPU)
                cpu_text(w->cpu_millis, what, sizeof(what));
            else if (why == MEMORY)
                berth_format_bytes(w->memory_bytes, what, sizeof(what));
            else if (why == EXTENDED) /* Kubernetes' words */
                snprintf(what, sizeof(what), "%s",
                         w->extended[extended_short(node, &pl->used[n], w)].name);
            len += (size_t)snprintf(st->message + len, sizeof(st->message) - len, "%s %s %s%s%s",
                                    st->unschedulable > 1 ? "," : "", node->name,
                                    why == CPU || why == MEMORY ? "has less than "
                                    : why == EXTENDED           ? "has Insufficient "
                                    : why == PORTS ? "didn't have free ports for the requested "
                                                     "pod ports"
                                                   : "runs all the containers it may",
                                    why == CPU || why == MEMORY || why == EXTENDED ? what : "",
                                    why == CPU      ? " free"
                                    : why == MEMORY ? " of memory free"
                                                    : "");
        }
    }
}

void berth_place(const berth_place_input *in, berth_place_result *ret)
{
    placer pl = { .in = in };
    berth_place_status *status = berth_xcalloc(in->n_workloads + 1, sizeof(*status));

    pl.used = berth_xcalloc(in->n_nodes + 1, sizeof(*pl.used));
    for (size_t i = 0; i < in->n_nodes; i++)
        pl.used[i].extended =
            berth_xcalloc(in->nodes[i].n_extended + 1, sizeof(*pl.used[i].extended));
    pl.per_wl = berth_xcalloc(in->n_nodes + 1, sizeof(*pl.per_wl));
    keep(&pl);
    for (size_t wi = 0; wi < in->n_workloads; wi++) {
        if (in->workloads[wi].keep_only)
            continue;
        if (is_daemon(&in->workloads[wi]))
            place_daemons(&pl, wi, &status[wi]);
        else
            place_replicas(&pl, wi, &status[wi]);
    }
    if (pl.n_slots)
        qsort(pl.slots, pl.n_slots, sizeof(*pl.slots), slot_cmp);
    for (size_t i = 0; i < pl.n_slots; i++)
        status[pl.slots[i].workload].placed++;
    for (size_t i = 0; i < in->n_nodes; i++) {
        free(pl.used[i].ports);
        free(pl.used[i].extended);
    }
    free(pl.used);
    free(pl.per_wl);
    free(pl.evicted);
    ret->slots = pl.slots;
    ret->n_slots = pl.n_slots;
    ret->status = status;
    ret->next_eviction_ns = pl.next_eviction;
}

void berth_place_result_clear(berth_place_result *r)
{
    free(r->slots);
    free(r->status);
    r->slots = NULL;
    r->status = NULL;
    r->n_slots = 0;
}
