/* The fleet's nodes (fleet.h): admission taken in, registration,
 * heartbeats and leases (Ready, Unknown, Down, and back: fencing), cordon
 * and drain, forgetting a node. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "net/cidr.h"
#include "fleet-internal.h"
#include "spec/spec.h"
#include "pb/pb.h"
#include "protocol/retry.h"
#include "validate.h"

#define MSEC_PER_SEC 1000
/* A heartbeat interval longer than this cannot be timed (misses times it
 * must fit a timer). */
#define INTERVAL_MAX_MS (UINT32_MAX / 128)

/* ---- memory ---- */

void fleet_node_free(fleet_node *n)
{
    if (!n)
        return;
    berth_loop_timer_cancel(n->fleet->cfg.loop, &n->lease);
    node_info_free_unpacked(n->rec.info, NULL);
    if (n->taints)
        taint_list_free_unpacked(n->taints, NULL);
    free(n->assign);
    fleet_observed_free(n);
    free(n);
}

static void on_lease(berth_loop_timer *t);

int fleet_node_take(fleet *f, berth_store_node *rec, berth_error **err)
{
    fleet_node *n = fleet_node_find(f, rec->name);
    size_t at;

    if (n) {
        node_info_free_unpacked(n->rec.info, NULL);
        n->rec = *rec;
        return 0;
    }
    n = berth_xcalloc(1, sizeof(*n));
    if (berth_principal_init(&n->who, BERTH_ROLE_NODE, rec->name, err) < 0) {
        node_info_free_unpacked(rec->info, NULL);
        free(n);
        return -1;
    }
    n->fleet = f;
    n->rec = *rec;
    berth_loop_timer_init(&n->lease, on_lease);
    /* keep the array sorted by name */
    f->nodes = berth_xreallocarray(f->nodes, f->n_nodes + 1, sizeof(*f->nodes));
    for (at = 0; at < f->n_nodes && strcmp(f->nodes[at]->rec.name, rec->name) < 0; at++)
        ;
    memmove(&f->nodes[at + 1], &f->nodes[at], (f->n_nodes - at) * sizeof(*f->nodes));
    f->nodes[at] = n;
    f->n_nodes++;
    return 0;
}

/* Take n out of the fleet's list and free it. */
static void node_drop(fleet *f, fleet_node *n)
{
    size_t at;

    for (at = 0; f->nodes[at] != n; at++)
        ;
    memmove(&f->nodes[at], &f->nodes[at + 1], (f->n_nodes - at - 1) * sizeof(*f->nodes));
    f->n_nodes--;
    fleet_node_free(n);
}

int fleet_node_reload(fleet *f, const char *name, berth_error **err)
{
    berth_store_node rec = { 0 };
    int found = berth_store_node_get(f->cfg.store, name, &rec, err);

    fleet_node *n;

    if (found < 0)
        return -1;
    if (found > 0)
        return fleet_node_take(f, &rec, err);
    /* Gone from the store (a request for approval the policy let go of):
     * gone from memory too. */
    n = fleet_node_find(f, name);
    if (!n)
        return berth_error_set(err, ENOENT, "node %s is not in the store", name);
    node_drop(f, n);
    return 0;
}

static int node_named(fleet *f, const char *name, fleet_node **ret_node, berth_error **err)
{
    fleet_node *n = fleet_node_find(f, name);

    if (!n)
        return berth_error_set(err, ENOENT, "node %.63s not found", name);
    *ret_node = n;
    return 0;
}

/* ---- phases ---- */

const char *fleet_phase_name(NodePhase p)
{
    switch (p) {
    case NODE_READY:
        return "Ready";
    case NODE_UNKNOWN:
        return "Unknown";
    case NODE_DOWN:
        return "Down";
    case NODE_PENDING_APPROVAL:
        return "PendingApproval";
    default:
        return "Unspecified";
    }
}

/* Enter phase (for reason), persisted with its event. */
static int set_phase(fleet *f, fleet_node *n, NodePhase phase, const char *reason,
                     berth_error **err)
{
    berth_store_node saved = n->rec;
    char event_reason[32];

    n->rec.phase = phase;
    n->rec.phase_since_ns = berth_now_real_ns();
    snprintf(n->rec.reason, sizeof(n->rec.reason), "%s", reason);
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto fail;
    if (fleet_node_save(f, n, err) < 0) {
        berth_store_rollback(f->cfg.store);
        goto fail;
    }
    snprintf(event_reason, sizeof(event_reason), "Node%s", fleet_phase_name(phase));
    fleet_event(f, FLEET_KIND_NODE, n->rec.name, phase == NODE_READY ? FLEET_NORMAL : FLEET_WARNING,
                event_reason, "%s", *reason ? reason : fleet_phase_name(phase));
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto fail;
    /* figures from a node that stopped reporting are not its current ones */
    if (phase != NODE_READY)
        fleet_samples_clear(n);
    return 0;
fail:
    n->rec = saved;
    return -1;
}

/* ---- leases ---- */

static uint32_t heartbeat_interval_ms(fleet *f)
{
    uint64_t registered = 0, min_ms = (uint64_t)(f->cfg.heartbeat_min_ns / BERTH_NSEC_PER_MSEC);
    uint64_t ms;

    for (size_t i = 0; i < f->n_nodes; i++)
        registered += fleet_node_registered(f->nodes[i]);
    /* Nomad's rule: the whole fleet stays under max_rate heartbeats per
     * second, and nobody beats faster than the minimum interval. */
    ms = (registered * MSEC_PER_SEC + f->cfg.heartbeat_max_rate - 1) / f->cfg.heartbeat_max_rate;
    if (ms < min_ms)
        ms = min_ms;
    return ms > INTERVAL_MAX_MS ? INTERVAL_MAX_MS : (uint32_t)ms;
}

static int64_t lease_ns(fleet *f)
{
    return (int64_t)heartbeat_interval_ms(f) * BERTH_NSEC_PER_MSEC * f->cfg.heartbeat_misses;
}

static void lease_renew(fleet *f, fleet_node *n)
{
    berth_loop_timer_arm(f->cfg.loop, &n->lease, berth_now_mono_ns() + lease_ns(f));
}

void fleet_leases_start(fleet *f)
{
    /* A lease starts afresh: a controller that was down for a while must
     * not declare the whole fleet Down the moment it starts. Its agents
     * have been backing off meanwhile: each gets its longest wait between
     * attempts on top of a lease to call in. */
    int64_t first = berth_now_mono_ns() + lease_ns(f) +
                    (int64_t)BERTH_AGENT_RETRY_GAP_MAX_MS * BERTH_NSEC_PER_MSEC;

    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *n = f->nodes[i];

        if (!fleet_node_registered(n))
            continue;
        if (n->rec.phase == NODE_READY)
            berth_loop_timer_arm(f->cfg.loop, &n->lease, first);
        else if (n->rec.phase == NODE_UNKNOWN)
            berth_loop_timer_arm(f->cfg.loop, &n->lease, first + f->cfg.down_grace_ns);
    }
}

/* The lease ran out: Ready becomes Unknown (nothing moves yet: its
 * containers may well run behind a network problem); down_grace later,
 * Unknown becomes Down and its replicas move. */
static void on_lease(berth_loop_timer *t)
{
    fleet_node *n = berth_container_of(t, fleet_node, lease);
    fleet *f = n->fleet;
    _cleanup_error_ berth_error *err = NULL;
    char since[32], reason[96];

    if (n->rec.last_heartbeat_ns) {
        int64_t d = berth_now_real_ns() - n->rec.last_heartbeat_ns;

        /* "300ms", "45s": precision a human can use */
        d = d < 10 * BERTH_NSEC_PER_SEC ? d / BERTH_NSEC_PER_MSEC * BERTH_NSEC_PER_MSEC
                                        : d / BERTH_NSEC_PER_SEC * BERTH_NSEC_PER_SEC;
        berth_format_duration(d, since, sizeof(since));
        snprintf(reason, sizeof(reason), "no heartbeat for %s", since);
    } else {
        snprintf(reason, sizeof(reason), "no heartbeat since the controller started");
    }
    {
        /* The controller itself stood still within the lease (a store
         * write that waited: etcd electing a raft leader, a slow disk):
         * the node's heartbeats may be queued unread. Judge it only after
         * as long again. */
        int64_t end, dur, now = berth_now_mono_ns();

        berth_store_last_stall(f->cfg.store, &end, &dur);
        if (dur && end + lease_ns(f) > now) {
            berth_loop_timer_arm(f->cfg.loop, &n->lease, now + dur);
            return;
        }
    }
    if (n->rec.phase == NODE_READY) {
        if (set_phase(f, n, NODE_UNKNOWN, reason, &err) < 0)
            berth_log_error(BERTH_LOG_ERROR, err, "node %s", n->rec.name);
        berth_loop_timer_arm(f->cfg.loop, &n->lease, berth_now_mono_ns() + f->cfg.down_grace_ns);
        return;
    }
    if (n->rec.phase != NODE_UNKNOWN)
        return;
    if (set_phase(f, n, NODE_DOWN, reason, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "node %s", n->rec.name);
        return;
    }
    fleet_reconcile_after(f, "node %s went down", n->rec.name);
}

static void beat_answer(fleet *f, fleet_node *n, fleet_beat *ret)
{
    ret->generation = n->rec.generation;
    ret->heartbeat_interval_ms = heartbeat_interval_ms(f);
    ret->pod_cidr = n->rec.pod_cidr;
    ret->peers_version = f->peers_version;
}

/* n's pod range, when it has none yet: the first of the cluster range's
 * that no node has (a node's is never given to another while it exists).
 * None left: n gets none, and a Warning says so. */
static void pod_cidr_give(fleet *f, fleet_node *n)
{
    uint32_t net, count;
    int prefix;
    char cidr[32];

    if (*n->rec.pod_cidr || !f->cfg.cluster_cidr ||
        berth_cidr_parse(f->cfg.cluster_cidr, false, &net, &prefix, NULL) < 0 ||
        f->cfg.node_prefix < prefix)
        return;
    count = f->cfg.node_prefix - prefix >= 32 ? UINT32_MAX
                                              : (uint32_t)1 << (f->cfg.node_prefix - prefix);
    for (uint32_t i = 0; i < count; i++) {
        bool taken = false;

        if (!berth_cidr_subnet(net, prefix, f->cfg.node_prefix, i, cidr))
            break;
        for (size_t k = 0; k < f->n_nodes && !taken; k++)
            taken = strcmp(f->nodes[k]->rec.pod_cidr, cidr) == 0;
        if (!taken) {
            snprintf(n->rec.pod_cidr, sizeof(n->rec.pod_cidr), "%s", cidr);
            fleet_peers_changed(f);
            fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "PodCIDRAssigned",
                        "pod range %s", cidr);
            return;
        }
    }
    fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_WARNING, "CIDRNotAvailable",
                "no pod range left in %s (%u nodes have one of its /%d): its pods get no "
                "address of their own",
                f->cfg.cluster_cidr, count, f->cfg.node_prefix);
}

/* ---- what agents call ---- */

/* ", example.com/dev 4, example.com/gpu 1": a registration's extended
 * resources for its event ("" for none; cut where buf ends). */
static void capacity_extended_text(const NodeCapacity *cap, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; cap && i < cap->n_extended && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, ", %s %" PRId64, cap->extended[i]->key,
                                cap->extended[i]->value);
}

int fleet_node_register(fleet *f, const berth_principal *who, const NodeInfo *info,
                        fleet_beat *ret_beat, berth_error **err)
{
    fleet_beat out = { 0 };
    berth_store_node saved;
    NodeInfo *copy;
    fleet_node *n = NULL;
    char extended[512];
    bool first, was_ready;

    if (fleet_node_of(f, who, false, &n, err) < 0)
        return -1;
    if (!info || strcmp(info->name, n->rec.name) != 0)
        return berth_error_set(err, EACCES, "node %s may not register as %s", n->rec.name,
                               info ? info->name : "(none)");
    if (ctl_node_info_validate(info, err) < 0)
        return -1;
    copy = BERTH_PB_COPY(NodeInfo, info);
    saved = n->rec;
    /* a new address: the other nodes' routes to its pods change */
    if (strcmp(saved.info ? saved.info->internal_ip : "", copy->internal_ip) != 0)
        fleet_peers_changed(f);
    first = n->rec.registered_ns == 0;
    was_ready = n->rec.phase == NODE_READY;
    out.same_run = saved.info && saved.info->agent_start_unix_ns != 0 &&
                   saved.info->agent_start_unix_ns == copy->agent_start_unix_ns &&
                   saved.info->boot_time_unix_ns == copy->boot_time_unix_ns;
    n->rec.info = copy;
    n->rec.last_heartbeat_ns = berth_now_real_ns();
    if (first)
        n->rec.registered_ns = n->rec.last_heartbeat_ns;
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto fail;
    pod_cidr_give(f, n);
    if ((was_ready ? fleet_node_save(f, n, err) : set_phase(f, n, NODE_READY, "", err)) < 0) {
        berth_store_rollback(f->cfg.store);
        goto fail;
    }
    capacity_extended_text(copy->capacity, extended, sizeof(extended));
    fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL,
                first ? "Registered" : "Reregistered",
                "agent %s on %s, %" PRId64 "m CPU, %" PRId64 " MiB%s", copy->agent_version,
                copy->kernel_version, copy->capacity ? copy->capacity->cpu_millis : 0,
                copy->capacity ? copy->capacity->memory_bytes >> 20 : 0, extended);
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto fail;
    node_info_free_unpacked(saved.info, NULL);
    /* a new agent run: its view of its containers is worth a full report,
     * and the figures of the run before are not its */
    n->need_full_report = true;
    if (!out.same_run)
        fleet_samples_clear(n);
    lease_renew(f, n);
    /* capacity, labels or readiness changed: DaemonSets, pending replicas */
    fleet_reconcile_after(f, "%s registered", n->rec.name);
    beat_answer(f, n, &out);
    *ret_beat = out;
    return 0;
fail:
    n->rec = saved;
    node_info_free_unpacked(copy, NULL);
    return berth_error_prefix(err, "register %s", saved.name);
}

int fleet_node_heartbeat(fleet *f, const berth_principal *who, const HeartbeatRequest *in,
                         fleet_beat *ret_beat, berth_error **err)
{
    fleet_beat out = { 0 };
    fleet_node *n = NULL;

    if (fleet_node_of(f, who, true, &n, err) < 0 || ctl_heartbeat_validate(in, err) < 0)
        return -1;
    n->rec.last_heartbeat_ns = berth_now_real_ns();
    if (in->applied_generation > n->rec.generation) {
        /* it applied a generation we never gave it (a store restored from
         * a backup?): move past it, so what it runs is replaced */
        n->rec.generation = in->applied_generation + 1;
        if (fleet_node_save(f, n, err) < 0)
            return -1;
    }
    if (n->rec.applied_generation != in->applied_generation) {
        _cleanup_error_ berth_error *save_err = NULL;

        n->rec.applied_generation = in->applied_generation;
        /* worth keeping, not worth failing the heartbeat for */
        if (fleet_node_save(f, n, &save_err) < 0)
            berth_log_error(BERTH_LOG_WARN, save_err, "node %s", n->rec.name);
    }
    if (n->rec.phase != NODE_READY) {
        bool was_down = n->rec.phase == NODE_DOWN;

        if (set_phase(f, n, NODE_READY, "", err) < 0)
            return -1;
        if (was_down)
            /* its replicas run elsewhere now and its generation moved on:
             * it learns so from this answer and stops them */
            fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "Fenced",
                        "back after being Down: generation %" PRIu64 " replaces its %" PRIu64,
                        n->rec.generation, in->applied_generation);
        fleet_reconcile_after(f, "%s came back", n->rec.name);
    }
    lease_renew(f, n);
    beat_answer(f, n, &out);
    out.report_status = n->need_full_report || fleet_status_digest(n) != in->status_digest;
    *ret_beat = out;
    return 0;
}

/* ---- what operators change ---- */

int fleet_set_schedulable(fleet *f, const char *name, fleet_schedulable what, const char *by,
                          berth_error **err)
{
    bool was_cordoned, was_drained;
    const char *reason;
    fleet_node *n = NULL;

    if (node_named(f, name, &n, err) < 0)
        return -1;
    was_cordoned = n->rec.cordoned;
    was_drained = n->rec.drained;
    switch (what) {
    case FLEET_CORDON:
        n->rec.cordoned = true;
        reason = "Cordoned";
        break;
    case FLEET_DRAIN:
        n->rec.cordoned = n->rec.drained = true;
        reason = "Drained";
        break;
    default:
        n->rec.cordoned = n->rec.drained = false;
        reason = "Uncordoned";
        break;
    }
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto fail;
    if (fleet_node_save(f, n, err) < 0) {
        berth_store_rollback(f->cfg.store);
        goto fail;
    }
    fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, reason, "by operator %s", by);
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto fail;
    fleet_reconcile_after(f, "%s on %s", reason, n->rec.name);
    return 0;
fail:
    n->rec.cordoned = was_cordoned;
    n->rec.drained = was_drained;
    return -1;
}

static bool taint_effect_valid(const char *e)
{
    return strcmp(e, "NoSchedule") == 0 || strcmp(e, "PreferNoSchedule") == 0 ||
           strcmp(e, "NoExecute") == 0;
}

/* "key=value:Effect", kubectl's way. */
static void taint_text(const Taint *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", t->key, *t->value ? "=" : "", t->value, *t->effect ? ":" : "",
             t->effect);
}

/* Append taint t and tail to what (as much as fits). */
static void what_add(char *what, size_t size, const Taint *t, const char *tail)
{
    size_t len = strlen(what);
    char text[400];

    taint_text(t, text, sizeof(text));
    if (len < size)
        snprintf(what + len, size - len, "%s%s", text, tail);
}

static int taint_check(const Taint *t, bool removing, berth_error **err)
{
    char text[400];

    taint_text(t, text, sizeof(text));
    if (!berth_label_key_valid(t->key))
        return berth_error_set(err, EINVAL, "taint %.300s: the key is not a valid label key", text);
    if (!removing && !berth_label_value_valid(t->value))
        return berth_error_set(err, EINVAL, "taint %.300s: the value is not a valid label value",
                               text);
    if ((!removing || *t->effect) && !taint_effect_valid(t->effect))
        return berth_error_set(err, EINVAL,
                               "taint %.300s: the effect must be NoSchedule, PreferNoSchedule or "
                               "NoExecute",
                               text);
    return 0;
}

void fleet_summary(const fleet *f, size_t *ret_nodes, size_t *ret_ready, size_t *ret_workloads)
{
    size_t ready = 0;

    for (size_t i = 0; i < f->n_nodes; i++)
        ready += f->nodes[i]->rec.phase == NODE_READY;
    *ret_nodes = f->n_nodes;
    *ret_ready = ready;
    *ret_workloads = f->n_workloads;
}

int fleet_node_taint(fleet *f, const char *name, Taint *const *add, size_t n_add,
                     Taint *const *remove, size_t n_remove, const char *by, berth_error **err)
{
    TaintList *next = berth_xcalloc(1, sizeof(*next));
    fleet_node *n = NULL;
    char what[512] = "";
    int64_t now = berth_now_real_ns();

    taint_list_init(next);
    if (node_named(f, name, &n, err) < 0)
        goto fail;
    if (n_add + n_remove == 0 || n_add > FLEET_TAINTS_MAX || n_remove > FLEET_TAINTS_MAX) {
        berth_error_set(err, EINVAL, "no taint to add or remove (at most %d of each)",
                        FLEET_TAINTS_MAX);
        goto fail;
    }
    for (size_t i = 0; i < n_add; i++)
        if (taint_check(add[i], false, err) < 0)
            goto fail;
    for (size_t i = 0; i < n_remove; i++)
        if (taint_check(remove[i], true, err) < 0)
            goto fail;
    next->taints = berth_xcalloc(FLEET_TAINTS_MAX * 2 + 1, sizeof(*next->taints));
    /* what stays: not removed, and not replaced (same key and effect) */
    for (size_t i = 0; n->taints && i < n->taints->n_taints; i++) {
        const Taint *t = n->taints->taints[i];
        bool drop = false;

        for (size_t k = 0; k < n_remove && !drop; k++)
            drop = strcmp(remove[k]->key, t->key) == 0 &&
                   (!*remove[k]->effect || strcmp(remove[k]->effect, t->effect) == 0);
        for (size_t k = 0; k < n_add && !drop; k++)
            drop = strcmp(add[k]->key, t->key) == 0 && strcmp(add[k]->effect, t->effect) == 0 &&
                   strcmp(add[k]->value, t->value) != 0;
        for (size_t k = 0; k < n_add && !drop; k++)
            drop = strcmp(add[k]->key, t->key) == 0 && strcmp(add[k]->effect, t->effect) == 0;
        if (!drop)
            next->taints[next->n_taints++] = BERTH_PB_COPY(Taint, t);
    }
    for (size_t k = 0; k < n_remove; k++) {
        bool found = false;

        for (size_t i = 0; n->taints && i < n->taints->n_taints && !found; i++)
            found = strcmp(remove[k]->key, n->taints->taints[i]->key) == 0 &&
                    (!*remove[k]->effect ||
                     strcmp(remove[k]->effect, n->taints->taints[i]->effect) == 0);
        if (!found) {
            char text[400];

            taint_text(remove[k], text, sizeof(text));
            berth_error_set(err, ENOENT, "taint \"%.300s\" not found on node %s", text, name);
            goto fail;
        }
        what_add(what, sizeof(what), remove[k], "- ");
    }
    for (size_t k = 0; k < n_add; k++) {
        Taint *t = BERTH_PB_COPY(Taint, add[k]);
        bool kept = false;

        /* the same taint again keeps its time (its tolerationSeconds run on) */
        for (size_t i = 0; n->taints && i < n->taints->n_taints && !kept; i++) {
            const Taint *old = n->taints->taints[i];

            if (strcmp(old->key, t->key) == 0 && strcmp(old->effect, t->effect) == 0 &&
                strcmp(old->value, t->value) == 0) {
                t->time_added_unix_ns = old->time_added_unix_ns;
                kept = true;
            }
        }
        if (!kept)
            t->time_added_unix_ns = now;
        for (size_t i = 0; i < next->n_taints; i++)
            if (strcmp(next->taints[i]->key, t->key) == 0 &&
                strcmp(next->taints[i]->effect, t->effect) == 0) {
                BERTH_PB_FREE(next->taints[i]);
                next->taints[i] = next->taints[--next->n_taints];
            }
        next->taints[next->n_taints++] = t;
        what_add(what, sizeof(what), t, " ");
    }
    if (next->n_taints > FLEET_TAINTS_MAX) {
        berth_error_set(err, EINVAL, "node %s would have %zu taints, at most %d", name,
                        next->n_taints, FLEET_TAINTS_MAX);
        goto fail;
    }
    if (berth_store_begin(f->cfg.store, err) < 0)
        goto fail;
    if (berth_store_taints_put(f->cfg.store, n->rec.name, next, err) < 0) {
        berth_store_rollback(f->cfg.store);
        goto fail;
    }
    fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "Tainted", "%sby operator %s", what,
                by);
    if (berth_store_commit(f->cfg.store, err) < 0)
        goto fail;
    if (n->taints)
        taint_list_free_unpacked(n->taints, NULL);
    n->taints = next;
    fleet_reconcile_after(f, "taints of %s", n->rec.name);
    return 0;
fail:
    taint_list_free_unpacked(next, NULL);
    return -1;
}

int fleet_forget_node(fleet *f, const char *name, bool dry_run, fleet_changes *ret_changes,
                      berth_error **err)
{
    fleet_changes out = { 0 };
    fleet_node *n = NULL;

    if (node_named(f, name, &n, err) < 0)
        return -1;
    if (n->rec.phase == NODE_READY && n->n_assign && !n->rec.drained)
        return berth_error_set(err, EBUSY,
                               "node %s is Ready with %zu containers: drain it first (berthctl "
                               "node drain %s)",
                               n->rec.name, n->n_assign, n->rec.name);
    if (!dry_run) {
        if (berth_store_begin(f->cfg.store, err) < 0)
            return -1;
        if (berth_store_node_delete(f->cfg.store, n->rec.name, err) < 0) {
            berth_store_rollback(f->cfg.store);
            return -1;
        }
        fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_NORMAL, "Deleted",
                    "forgotten with its key");
        if (berth_store_commit(f->cfg.store, err) < 0)
            return -1;
    }
    fleet_changes_add(&out, FLEET_KIND_NODE, NULL, n->rec.name, APPLY_DELETED, n->rec.generation);
    if (!dry_run) {
        node_drop(f, n);
        fleet_peers_changed(f);
        fleet_reconcile_after(f, "deleting node %s", name);
    }
    *ret_changes = out;
    return 0;
}

int fleet_approve_node(fleet *f, const ApproveNodeRequest *in, berth_error **err)
{
    if (ctl_approve_node_validate(in, err) < 0 ||
        berth_policy_sqlite_approve(f->cfg.policy, in->name, in->key_fingerprint, err) < 0)
        return -1;
    return fleet_node_reload(f, in->name, err);
}

int fleet_create_join_token(fleet *f, const CreateJoinTokenRequest *in, berth_join_token *ret_token,
                            int64_t *ret_expires_ns, berth_error **err)
{
    char id[2 * BERTH_TOKEN_ID_LEN + 1];

    if (ctl_join_token_request_validate(in, err) < 0 ||
        berth_policy_sqlite_create_token(f->cfg.policy, in->ttl_seconds, in->uses, in->description,
                                         ret_token, ret_expires_ns, err) < 0)
        return -1;
    sodium_bin2hex(id, sizeof(id), ret_token->id, BERTH_TOKEN_ID_LEN);
    fleet_event(f, FLEET_KIND_TOKEN, id, FLEET_NORMAL, "Created", "%u use(s), expires in %us%s%s",
                in->uses ? in->uses : 1,
                in->ttl_seconds ? in->ttl_seconds : BERTH_JOIN_TOKEN_TTL_DEFAULT_S,
                *in->description ? ": " : "", in->description);
    return 0;
}

int fleet_join_tokens_list(fleet *f, berth_store_token **ret, size_t *ret_n, berth_error **err)
{
    int64_t now = berth_now_real_ns();
    size_t k = 0;

    if (berth_store_tokens_list(f->cfg.store, ret, ret_n, err) < 0)
        return -1;
    for (size_t i = 0; i < *ret_n; i++)
        if ((*ret)[i].expires_ns > now)
            (*ret)[k++] = (*ret)[i];
    *ret_n = k;
    return 0;
}

int fleet_join_token_delete(fleet *f, const char *id, const char *by, berth_store_token *ret_token,
                            berth_error **err)
{
    uint8_t bin[BERTH_TOKEN_ID_LEN];
    size_t len = 0, hex = strcspn(id, ".");
    int r;

    if (hex != 2 * BERTH_TOKEN_ID_LEN ||
        sodium_hex2bin(bin, sizeof(bin), id, hex, NULL, &len, NULL) != 0 || len != sizeof(bin))
        /* (never the part after a '.': a whole token's secret) */
        return berth_error_set(err, EINVAL,
                               "'%.*s' is not a join token id (12 hex digits, as join-token ls "
                               "shows)",
                               (int)(hex < 40 ? hex : 40), id);
    r = berth_store_token_delete(f->cfg.store, bin, ret_token, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return berth_error_set(err, ENOENT, "join token %.*s not found", (int)hex, id);
    {
        char name[2 * BERTH_TOKEN_ID_LEN + 1];

        sodium_bin2hex(name, sizeof(name), bin, sizeof(bin));
        fleet_event(f, FLEET_KIND_TOKEN, name, FLEET_NORMAL, "Revoked",
                    "by %s after %u of %u use(s)", by, ret_token->used, ret_token->uses);
    }
    return 0;
}
