/* Placement on made-up fleets: spread, fit, selectors, DaemonSets with
 * late joiners, rescheduling after a node is Down, no replica twice after
 * a partition heals, drains, scale-down, and the unschedulable reasons as
 * an operator reads them. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "placement.h"
#include "spec/workload.h"

#define DEPLOYMENT WORKLOAD_DEPLOYMENT
#define DAEMONSET  WORKLOAD_DAEMONSET
#define POD        WORKLOAD_POD

static const berth_label zone_a[] = { { "zone", "a" } };
static const berth_label zone_b[] = { { "zone", "b" } };

static berth_place_node node(const char *name, int64_t cpu, int64_t mem)
{
    return (berth_place_node){
        .name = name, .state = BERTH_PLACE_READY, .cpu_millis = cpu, .memory_bytes = mem
    };
}

static berth_place_workload workload(const char *name, WorkloadKind kind, uint32_t replicas,
                                     int64_t cpu, int64_t mem)
{
    return (berth_place_workload){
        .name = name, .kind = kind, .replicas = replicas, .cpu_millis = cpu, .memory_bytes = mem
    };
}

/* The clock placement sees (NoExecute's tolerationSeconds). */
static int64_t now = 1000LL * 1000000000LL;

/* Run placement; the result's slots go to out (for the next round). */
static berth_place_result place(berth_place_node *nodes, size_t n_nodes, berth_place_workload *wls,
                                size_t n_wls, const berth_place_slot *current, size_t n_current)
{
    berth_place_input in = { nodes, n_nodes, wls, n_wls, current, n_current, now };
    berth_place_result r = { 0 };

    berth_place(&in, &r);
    return r;
}

/* Replicas of workload w on node n. */
static int on(const berth_place_result *r, size_t w, size_t n)
{
    int c = 0;

    for (size_t i = 0; i < r->n_slots; i++)
        c += r->slots[i].workload == w && r->slots[i].node == n;
    return c;
}

/* The node holding replica index of w, or -1. */
static long where(const berth_place_result *r, size_t w, uint32_t replica)
{
    for (size_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].workload == w && r->slots[i].replica == replica)
            return (long)r->slots[i].node;
    return -1;
}

START_TEST(spread_over_equal_nodes)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 4, 100, 64 << 20),
                                 workload("api", DEPLOYMENT, 3, 100, 64 << 20),
                                 workload("one", POD, 7, 100, 64 << 20) };
    berth_place_result r = place(nodes, 2, w, 3, NULL, 0);

    ck_assert_int_eq(on(&r, 0, 0), 2);
    ck_assert_int_eq(on(&r, 0, 1), 2);
    /* 3 over 2: one node gets 2, and the next workload balances the
     * container count */
    ck_assert_int_eq(on(&r, 1, 0) + on(&r, 1, 1), 3);
    ck_assert_int_eq(on(&r, 0, 0) + on(&r, 1, 0) + on(&r, 2, 0), 4);
    ck_assert_int_eq(on(&r, 0, 1) + on(&r, 1, 1) + on(&r, 2, 1), 4);
    /* a Pod is one replica whatever replicas says */
    ck_assert_uint_eq(r.status[2].desired, 1);
    ck_assert_uint_eq(r.status[2].placed, 1);
    ck_assert_uint_eq(r.status[0].placed, 4);
    ck_assert_uint_eq(r.status[0].unschedulable, 0);
    ck_assert_str_eq(r.status[0].message, "");
    /* slots come sorted: workload, then replica */
    ck_assert_uint_eq(r.slots[0].workload, 0);
    ck_assert_uint_eq(r.slots[0].replica, 0);
    ck_assert_uint_eq(r.slots[3].replica, 3);
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(placement_is_stable)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 5, 100, 0) };
    berth_place_result r1 = place(nodes, 3, w, 1, NULL, 0);
    berth_place_result r2 = place(nodes, 3, w, 1, r1.slots, r1.n_slots);

    ck_assert_uint_eq(r1.n_slots, 5);
    ck_assert_uint_eq(r2.n_slots, 5);
    ck_assert_int_eq(memcmp(r1.slots, r2.slots, 5 * sizeof(*r1.slots)), 0);
    /* a new node does not pull running replicas over (no rebalancing) */
    berth_place_node more[] = { nodes[0], nodes[1], nodes[2], node("n4", 4000, 8LL << 30) };
    berth_place_result r3 = place(more, 4, w, 1, r1.slots, r1.n_slots);
    ck_assert_int_eq(memcmp(r1.slots, r3.slots, 5 * sizeof(*r1.slots)), 0);
    ck_assert_int_eq(on(&r3, 0, 3), 0);
    berth_place_result_clear(&r1);
    berth_place_result_clear(&r2);
    berth_place_result_clear(&r3);
}
END_TEST

START_TEST(requests_must_fit)
{
    berth_place_node nodes[] = { node("n1", 1000, 1LL << 30), node("n2", 1000, 1LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 3, 600, 64 << 20) };
    berth_place_result r = place(nodes, 2, w, 1, NULL, 0);

    ck_assert_int_eq(on(&r, 0, 0), 1);
    ck_assert_int_eq(on(&r, 0, 1), 1);
    ck_assert_uint_eq(r.status[0].desired, 3);
    ck_assert_uint_eq(r.status[0].placed, 2);
    ck_assert_uint_eq(r.status[0].unschedulable, 1);
    ck_assert_str_eq(r.status[0].message,
                     "0/2 nodes can take a replica: 2 have less than 600m CPU free");
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(the_issue_example_reason)
{
    berth_place_node nodes[] = { node("n1", 1500, 8LL << 30), node("n2", 1000, 8LL << 30),
                                 node("n3", 1999, 8LL << 30) };
    berth_place_workload w[] = { workload("big", DEPLOYMENT, 1, 2000, 0) };
    berth_place_result r = place(nodes, 3, w, 1, NULL, 0);

    ck_assert_uint_eq(r.n_slots, 0);
    ck_assert_str_eq(r.status[0].message,
                     "0/3 nodes can take a replica: 3 have less than 2 CPUs free");
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(every_reason_counted_once_per_node)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30), node("n4", 4000, 32 << 20),
                                 node("n5", 4000, 8LL << 30), node("n6", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 1, 1000, 64 << 20) };
    berth_place_result r;

    for (size_t i = 0; i < 6; i++) {
        nodes[i].labels = zone_a;
        nodes[i].n_labels = 1;
    }
    w[0].selector = zone_a;
    w[0].n_selector = 1;
    nodes[0].state = BERTH_PLACE_UNKNOWN;
    nodes[1].cordoned = true;
    nodes[1].state = BERTH_PLACE_DOWN; /* not Ready comes first */
    nodes[2].labels = zone_b;
    nodes[3].cordoned = false;
    nodes[4].max_containers = 1;
    nodes[5].cordoned = true;
    /* n5 already runs one container (of another workload) */
    berth_place_workload two[] = { workload("other", DEPLOYMENT, 1, 0, 0), w[0] };
    berth_place_slot cur[] = { { 0, 4, 0, false, false } };
    r = place(nodes, 6, two, 2, cur, 1);
    ck_assert_int_eq(on(&r, 0, 4), 1);
    ck_assert_uint_eq(r.status[1].placed, 0);
    ck_assert_str_eq(r.status[1].message,
                     "0/6 nodes can take a replica: 2 are not Ready, 1 is cordoned, 1 does not "
                     "match the nodeSelector, 1 has less than 64Mi of memory free, 1 runs all "
                     "the containers it may");
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(node_selector)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 4, 100, 0) };
    berth_place_result r;

    nodes[1].labels = zone_a;
    nodes[1].n_labels = 1;
    nodes[2].labels = zone_b;
    nodes[2].n_labels = 1;
    w[0].selector = zone_a;
    w[0].n_selector = 1;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 1), 4);
    /* the node's labels change: its replicas leave for... nowhere */
    nodes[1].labels = zone_b;
    berth_place_result r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
    ck_assert_uint_eq(r2.n_slots, 0);
    ck_assert_uint_eq(r2.status[0].unschedulable, 4);
    ck_assert_str_eq(r2.status[0].message,
                     "0/3 nodes can take a replica: 3 do not match the nodeSelector");
    berth_place_result_clear(&r);
    berth_place_result_clear(&r2);
}
END_TEST

static Taint *taint(Taint *t, const char *key, const char *value, const char *effect, int64_t at)
{
    taint_init(t);
    t->key = (char *)key;
    t->value = (char *)value;
    t->effect = (char *)effect;
    t->time_added_unix_ns = at;
    return t;
}

static Toleration *toleration(Toleration *t, const char *key, const char *op, const char *value,
                              const char *effect, int64_t secs)
{
    toleration_init(t);
    t->key = (char *)key;
    t->operator_ = (char *)op;
    t->value = (char *)value;
    t->effect = (char *)effect;
    t->has_toleration_seconds = secs >= 0;
    t->toleration_seconds = secs;
    return t;
}

START_TEST(node_name_and_affinity)
{
    static const berth_label gpu[] = { { "gpu", "a100" }, { "cores", "64" } };
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 2, 100, 0) };
    char *in_values[] = { "a100", "h100" }, *gt_values[] = { "32" };
    NodeSelectorRequirement in, gt, *reqs[] = { &in, &gt };
    NodeSelectorTerm term, *terms[] = { &term };
    berth_place_result r;

    /* nodeName: that node only */
    w[0].node_name = "n3";
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 2), 2);
    berth_place_result_clear(&r);
    w[0].node_name = "n9";
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_str_eq(r.status[0].message,
                     "0/3 nodes can take a replica: 3 are not the node named in nodeName");
    berth_place_result_clear(&r);
    w[0].node_name = NULL;

    /* required node affinity: gpu In [a100 h100] and cores Gt 32 */
    node_selector_requirement_init(&in);
    in.key = "gpu";
    in.operator_ = "In";
    in.values = in_values;
    in.n_values = 2;
    node_selector_requirement_init(&gt);
    gt.key = "cores";
    gt.operator_ = "Gt";
    gt.values = gt_values;
    gt.n_values = 1;
    node_selector_term_init(&term);
    term.match_expressions = reqs;
    term.n_match_expressions = 2;
    w[0].affinity = terms;
    w[0].n_affinity = 1;
    nodes[1].labels = gpu;
    nodes[1].n_labels = 2;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 1), 2);
    berth_place_result_clear(&r);
    /* 64 is not below 32: Lt refuses every node, and says so */
    gt.operator_ = "Lt";
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_uint_eq(r.n_slots, 0);
    ck_assert_str_eq(r.status[0].message,
                     "0/3 nodes can take a replica: 3 didn't match Pod's node affinity");
    berth_place_result_clear(&r);
    /* NotIn and DoesNotExist match a node without the label */
    in.operator_ = "NotIn";
    gt.operator_ = "DoesNotExist";
    gt.n_values = 0;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 1), 0);
    ck_assert_uint_eq(r.n_slots, 2);
    berth_place_result_clear(&r);
    ck_assert(berth_node_affinity_matches(NULL, 0, "n1", NULL, 0));
}
END_TEST

START_TEST(taints_and_tolerations)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 3, 100, 0) };
    Taint t1, t2, t3, *n1_taints[] = { &t1 }, *n2_taints[] = { &t2 }, *n3_taints[] = { &t3 };
    Toleration tol, *tols[] = { &tol };
    berth_place_result r, r2;

    /* NoSchedule on two: all three go to the third, the others say why */
    nodes[0].taints = n1_taints;
    nodes[0].n_taints = 1;
    taint(&t1, "dedicated", "gpu", "NoSchedule", now);
    nodes[1].taints = n2_taints;
    nodes[1].n_taints = 1;
    taint(&t2, "dedicated", "gpu", "NoExecute", now);
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 2), 3);
    berth_place_result_clear(&r);
    w[0].cpu_millis = 3000; /* one a node: two cannot be placed */
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_uint_eq(r.status[0].unschedulable, 2);
    ck_assert_str_eq(r.status[0].message, "0/3 nodes can take a replica: 2 had untolerated taint "
                                          "{dedicated: gpu}, 1 has less than 3 CPUs free");
    berth_place_result_clear(&r);
    /* tolerated (Exists, any effect): they spread */
    toleration(&tol, "dedicated", "Exists", "", "", -1);
    w[0].tolerations = tols;
    w[0].n_tolerations = 1;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_uint_eq(r.n_slots, 3);
    berth_place_result_clear(&r);
    w[0].cpu_millis = 100;
    /* Equal with the wrong value does not tolerate */
    toleration(&tol, "dedicated", "Equal", "cpu", "NoSchedule", -1);
    ck_assert(!berth_toleration_matches(&tol, &t1));
    toleration(&tol, "", "Exists", "", "", -1);
    ck_assert(berth_toleration_matches(&tol, &t2));

    /* PreferNoSchedule: used only when nothing else fits */
    nodes[0].n_taints = nodes[1].n_taints = 0;
    nodes[2].taints = n3_taints;
    nodes[2].n_taints = 1;
    taint(&t3, "spot", "", "PreferNoSchedule", now);
    w[0].n_tolerations = 0;
    w[0].replicas = 2;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 2), 0);
    berth_place_result_clear(&r);
    nodes[2].n_taints = 0;

    /* NoExecute on a node with replicas: those not tolerating it leave at
     * once; tolerating it for 30 s, they stay until then, and placement
     * says when to look again */
    w[0].replicas = 3;
    r = place(nodes, 3, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 1), 1);
    nodes[1].n_taints = 1;
    taint(&t2, "maintenance", "", "NoExecute", now - 10LL * 1000000000LL);
    r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 0);
    ck_assert_uint_eq(r2.n_slots, 3);
    ck_assert_int_eq(r2.next_eviction_ns, 0);
    berth_place_result_clear(&r2);
    toleration(&tol, "maintenance", "Exists", "", "NoExecute", 30);
    w[0].n_tolerations = 1;
    r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 1);
    ck_assert_int_eq(r2.next_eviction_ns, now + 20LL * 1000000000LL);
    berth_place_result_clear(&r2);
    now += 21LL * 1000000000LL;
    r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 0);
    ck_assert_uint_eq(r2.n_slots, 3);
    berth_place_result_clear(&r2);
    /* for ever without tolerationSeconds */
    toleration(&tol, "maintenance", "Exists", "", "NoExecute", -1);
    r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 1);
    ck_assert_int_eq(r2.next_eviction_ns, 0);
    berth_place_result_clear(&r2);
    /* Kubernetes: with one that gives seconds among those that match, the
     * least seconds count */
    {
        Toleration tol2, *two[] = { &tol, &tol2 };

        toleration(&tol2, "", "Exists", "", "NoExecute", 5);
        w[0].tolerations = two;
        w[0].n_tolerations = 2;
        r2 = place(nodes, 3, w, 1, r.slots, r.n_slots);
        ck_assert_int_eq(on(&r2, 0, 1), 0);
        berth_place_result_clear(&r2);
        w[0].tolerations = tols;
        w[0].n_tolerations = 1;
    }
    berth_place_result_clear(&r);
}
END_TEST

/* A host port is a resource: two replicas taking the same port and
 * protocol never share a node, the reason is Kubernetes'; another
 * protocol on the same port is another port. */
START_TEST(host_ports)
{
    static const uint32_t tcp8080[] = { BERTH_PLACE_PORT(0, 8080) };
    static const uint32_t udp8080[] = { BERTH_PLACE_PORT(1, 8080) };
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 3, 100, 64 << 20),
                                 workload("dns", DEPLOYMENT, 2, 100, 64 << 20) };
    berth_place_result r;

    w[0].host_ports = tcp8080;
    w[0].n_host_ports = 1;
    w[1].host_ports = udp8080;
    w[1].n_host_ports = 1;
    r = place(nodes, 2, w, 2, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 0), 1);
    ck_assert_int_eq(on(&r, 0, 1), 1);
    ck_assert_uint_eq(r.status[0].unschedulable, 1);
    ck_assert_str_eq(r.status[0].message, "0/2 nodes can take a replica: 2 didn't have free "
                                          "ports for the requested pod ports");
    /* UDP 8080 is free on both */
    ck_assert_int_eq(on(&r, 1, 0), 1);
    ck_assert_int_eq(on(&r, 1, 1), 1);
    berth_place_result_clear(&r);
    /* a DaemonSet's replica that cannot have its port names its node */
    w[1] = workload("agent", DAEMONSET, 0, 100, 64 << 20);
    w[1].host_ports = tcp8080;
    w[1].n_host_ports = 1;
    r = place(nodes, 2, w, 2, NULL, 0);
    ck_assert_uint_eq(r.status[1].unschedulable, 2);
    ck_assert_str_eq(r.status[1].message, "node n1 didn't have free ports for the requested pod "
                                          "ports, n2 didn't have free ports for the requested "
                                          "pod ports");
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(daemonset_on_every_matching_node_and_late_joiners)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30), node("n4", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("logs", DAEMONSET, 99, 100, 0) };
    berth_place_result r1, r2;

    for (size_t i = 0; i < 4; i++) {
        nodes[i].labels = zone_a;
        nodes[i].n_labels = 1;
    }
    nodes[2].labels = zone_b;                  /* does not match */
    nodes[1].cordoned = true;                  /* DaemonSets go on cordoned nodes */
    nodes[3].state = BERTH_PLACE_UNREGISTERED; /* joins later */
    w[0].selector = zone_a;
    w[0].n_selector = 1;
    r1 = place(nodes, 4, w, 1, NULL, 0);
    ck_assert_uint_eq(r1.n_slots, 2);
    ck_assert_int_eq(on(&r1, 0, 0), 1);
    ck_assert_int_eq(on(&r1, 0, 1), 1);
    ck_assert_int_eq(on(&r1, 0, 2), 0);
    ck_assert_uint_eq(r1.status[0].desired, 2);
    /* n4 registers: it gets its replica, the others keep theirs */
    nodes[3].state = BERTH_PLACE_READY;
    r2 = place(nodes, 4, w, 1, r1.slots, r1.n_slots);
    ck_assert_uint_eq(r2.n_slots, 3);
    ck_assert_int_eq(on(&r2, 0, 3), 1);
    ck_assert_uint_eq(r2.status[0].desired, 3);
    ck_assert_int_eq(memcmp(r1.slots, r2.slots, 2 * sizeof(*r1.slots)), 0);
    berth_place_result_clear(&r1);
    /* a Down node keeps its DaemonSet replica (nowhere else to go); an
     * Unknown one that never had it waits */
    nodes[0].state = BERTH_PLACE_DOWN;
    r1 = place(nodes, 4, w, 1, r2.slots, r2.n_slots);
    ck_assert_int_eq(on(&r1, 0, 0), 1);
    berth_place_result_clear(&r1);
    berth_place_result_clear(&r2);
}
END_TEST

START_TEST(daemonset_that_does_not_fit_says_where)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 500, 8LL << 30),
                                 node("n3", 4000, 16 << 20) };
    berth_place_workload w[] = { workload("logs", DAEMONSET, 0, 1000, 64 << 20) };
    berth_place_result r = place(nodes, 3, w, 1, NULL, 0);

    ck_assert_uint_eq(r.n_slots, 1);
    ck_assert_uint_eq(r.status[0].desired, 3);
    ck_assert_uint_eq(r.status[0].unschedulable, 2);
    ck_assert_str_eq(r.status[0].message,
                     "node n2 has less than 1 CPU free, n3 has less than 64Mi of memory free");
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(replicas_of_a_down_node_move_and_do_not_come_back)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 4, 100, 0),
                                 workload("logs", DAEMONSET, 0, 100, 0) };
    berth_place_result r1, r2, r3;
    long before[4];

    nodes[2].state = BERTH_PLACE_UNREGISTERED;
    r1 = place(nodes, 3, w, 2, NULL, 0);
    ck_assert_int_eq(on(&r1, 0, 0), 2);
    ck_assert_int_eq(on(&r1, 0, 1), 2);
    for (uint32_t i = 0; i < 4; i++)
        before[i] = where(&r1, 0, i);

    /* n3 joins, n2's lease runs out: Unknown keeps its replicas */
    nodes[2].state = BERTH_PLACE_READY;
    nodes[1].state = BERTH_PLACE_UNKNOWN;
    r2 = place(nodes, 3, w, 2, r1.slots, r1.n_slots);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_int_eq(where(&r2, 0, i), before[i]);
    berth_place_result_clear(&r2);

    /* past the grace period, Down: n2's replicas move, n1's stay put */
    nodes[1].state = BERTH_PLACE_DOWN;
    r2 = place(nodes, 3, w, 2, r1.slots, r1.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 0);
    ck_assert_int_eq(on(&r2, 0, 0) + on(&r2, 0, 2), 4);
    for (uint32_t i = 0; i < 4; i++) {
        if (before[i] == 0)
            ck_assert_int_eq(where(&r2, 0, i), 0);
        else
            ck_assert_int_eq(where(&r2, 0, i), 2); /* the emptier node */
    }
    /* n2's DaemonSet replica stays assigned to it */
    ck_assert_int_eq(on(&r2, 1, 1), 1);

    /* the partition heals: n2 is Ready again and gets none of them back,
     * so every replica index is on exactly one node */
    nodes[1].state = BERTH_PLACE_READY;
    r3 = place(nodes, 3, w, 2, r2.slots, r2.n_slots);
    ck_assert_int_eq(on(&r3, 0, 1), 0);
    ck_assert_uint_eq(r3.status[0].placed, 4);
    berth_place_result_clear(&r3);

    /* even if the stale assignment is offered again beside the new one
     * (say, rebuilt from an old report), a replica is kept once */
    berth_place_slot both[16];
    size_t n = 0;
    for (size_t i = 0; i < r2.n_slots; i++)
        both[n++] = r2.slots[i];
    for (size_t i = 0; i < r1.n_slots; i++)
        if (r1.slots[i].workload == 0 && r1.slots[i].node == 1)
            both[n++] = r1.slots[i];
    r3 = place(nodes, 3, w, 2, both, n);
    ck_assert_uint_eq(r3.status[0].placed, 4);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_int_ne(where(&r3, 0, i), -1);
    ck_assert_uint_eq(r3.n_slots, 4 + 3);
    berth_place_result_clear(&r1);
    berth_place_result_clear(&r2);
    berth_place_result_clear(&r3);
}
END_TEST

/* A replica that succeeded is never run again: it stays on its node when
 * that goes Down, is drained or is full, and takes nothing there; one
 * that did not succeed moves as before. */
START_TEST(a_succeeded_replica_stays_whatever_its_node)
{
    berth_place_node nodes[] = { node("n1", 1000, 8LL << 30), node("n2", 1000, 8LL << 30) };
    berth_place_workload w[] = { workload("batch", DEPLOYMENT, 2, 1000, 0),
                                 workload("web", DEPLOYMENT, 1, 1000, 0) };
    berth_place_slot cur[] = { { 0, 0, 0, true, false }, { 0, 0, 1, false, false } };
    berth_place_result r;

    /* n1 Down: replica 0 (done) stays, replica 1 moves to n2 */
    nodes[0].state = BERTH_PLACE_DOWN;
    r = place(nodes, 2, w, 1, cur, 2);
    ck_assert_int_eq(where(&r, 0, 0), 0);
    ck_assert_int_eq(where(&r, 0, 1), 1);
    ck_assert_uint_eq(r.status[0].placed, 2);
    berth_place_result_clear(&r);
    /* drained: the same */
    nodes[0].state = BERTH_PLACE_READY;
    nodes[0].drained = true;
    r = place(nodes, 2, w, 1, cur, 2);
    ck_assert_int_eq(where(&r, 0, 0), 0);
    berth_place_result_clear(&r);
    /* it takes no CPU on n1: web (1000m) fits beside it */
    nodes[0].drained = false;
    cur[1].done = true;
    cur[1].node = 1;
    r = place(nodes, 2, w, 2, cur, 2);
    ck_assert_int_eq(where(&r, 0, 0), 0);
    ck_assert_int_eq(where(&r, 0, 1), 1);
    ck_assert_int_eq(where(&r, 1, 0), 0);
    ck_assert_uint_eq(r.status[1].unschedulable, 0);
    berth_place_result_clear(&r);
    /* scaled down below it: it goes, as any replica past replicas */
    w[0].replicas = 1;
    r = place(nodes, 2, w, 1, cur, 2);
    ck_assert_int_eq(where(&r, 0, 0), 0);
    ck_assert_int_eq(where(&r, 0, 1), -1);
    berth_place_result_clear(&r);
}
END_TEST

/* An evicted replica leaves its node for another one, even one that is
 * not cordoned; with nowhere else to go it is not placed; a DaemonSet's
 * and a done one stay. */
START_TEST(an_evicted_replica_moves_to_another_node)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 2, 100, 0),
                                 workload("agent", DAEMONSET, 0, 100, 0),
                                 workload("batch", DEPLOYMENT, 1, 100, 0) };
    berth_place_slot cur[] = { { 0, 0, 0, false, true },
                               { 0, 0, 1, false, false },
                               { 1, 0, 0, false, true },
                               { 2, 0, 0, true, true } };
    berth_place_result r;

    w[2].keep_done = true;
    r = place(nodes, 2, w, 3, cur, 4);
    ck_assert_int_eq(where(&r, 0, 0), 1);
    ck_assert_int_eq(where(&r, 0, 1), 0);
    ck_assert_int_eq(on(&r, 1, 0), 1);
    ck_assert_int_eq(where(&r, 2, 0), 0);
    berth_place_result_clear(&r);
    /* n2 cannot take it: not placed (Pending), not back on n1 */
    nodes[1].state = BERTH_PLACE_UNKNOWN;
    r = place(nodes, 2, w, 3, cur, 4);
    ck_assert_int_eq(where(&r, 0, 0), -1);
    ck_assert_uint_eq(r.status[0].unschedulable, 1);
    berth_place_result_clear(&r);
    /* the next placement (no longer evicted) may use n1 again */
    cur[0].evict = false;
    cur[0].node = 1;
    nodes[1].state = BERTH_PLACE_DOWN;
    r = place(nodes, 2, w, 3, cur, 4);
    ck_assert_int_eq(where(&r, 0, 0), 0);
    berth_place_result_clear(&r);
}
END_TEST

START_TEST(drain_scale_down_and_shrinking_nodes)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 4, 1000, 0),
                                 workload("logs", DAEMONSET, 0, 100, 0) };
    berth_place_result r1, r2;

    r1 = place(nodes, 2, w, 2, NULL, 0);
    ck_assert_uint_eq(r1.n_slots, 6);
    /* drain n1: its web replicas go to n2 as far as they fit, its
     * DaemonSet replica stays */
    nodes[0].cordoned = nodes[0].drained = true;
    r2 = place(nodes, 2, w, 2, r1.slots, r1.n_slots);
    ck_assert_int_eq(on(&r2, 0, 0), 0);
    ck_assert_int_eq(on(&r2, 0, 1), 3); /* 4 CPUs minus the DaemonSet's 100m */
    ck_assert_int_eq(on(&r2, 1, 0), 1);
    ck_assert_str_eq(r2.status[0].message, "0/2 nodes can take a replica: 1 is cordoned, 1 has "
                                           "less than 1 CPU free");
    berth_place_result_clear(&r2);
    /* uncordon; scale down to 2: the highest indices go */
    nodes[0].cordoned = nodes[0].drained = false;
    w[0].replicas = 2;
    r2 = place(nodes, 2, w, 2, r1.slots, r1.n_slots);
    ck_assert_uint_eq(r2.status[0].placed, 2);
    ck_assert_int_ne(where(&r2, 0, 0), -1);
    ck_assert_int_ne(where(&r2, 0, 1), -1);
    ck_assert_int_eq(where(&r2, 0, 2), -1);
    berth_place_result_clear(&r2);
    /* n2 comes back smaller: what no longer fits is placed again */
    w[0].replicas = 4;
    nodes[1].cpu_millis = 1200;
    r2 = place(nodes, 2, w, 2, r1.slots, r1.n_slots);
    ck_assert_int_eq(on(&r2, 0, 1), 1);
    ck_assert_int_eq(on(&r2, 0, 0), 3);
    ck_assert_uint_eq(r2.status[0].unschedulable, 0);
    berth_place_result_clear(&r1);
    berth_place_result_clear(&r2);
}
END_TEST

START_TEST(garbage_in_is_dropped)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("web", DEPLOYMENT, 2, 100, 0) };
    berth_place_slot cur[] = { { 7, 0, 0, false, false },
                               { 0, 9, 0, false, false },
                               { 0, 0, 0, false, false },
                               { 0, 0, 0, false, false },
                               { 0, 0, 50, false, false } };
    berth_place_result r = place(nodes, 1, w, 1, cur, 5);

    ck_assert_uint_eq(r.n_slots, 2);
    ck_assert_uint_eq(r.slots[0].replica, 0);
    ck_assert_uint_eq(r.slots[1].replica, 1);
    berth_place_result_clear(&r);
    r = place(NULL, 0, w, 1, NULL, 0);
    ck_assert_str_eq(r.status[0].message, "0/0 nodes can take a replica");
    berth_place_result_clear(&r);
}
END_TEST

/* ---- extended resources ---- */

static const berth_resource_count four_devs[] = { { "example.com/dev", 4 } };
static const berth_resource_count two_devs[] = { { "example.com/dev", 2 } };
static const berth_resource_count ask_two[] = { { "example.com/dev", 2 } };

/* The issue's fleet: nodes with 4 and 2 devices, pods asking for 2 each. */
START_TEST(extended_resources_are_counted_per_node)
{
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("p1", POD, 1, 100, 0), workload("p2", POD, 1, 100, 0),
                                 workload("p3", POD, 1, 100, 0), workload("p4", POD, 1, 100, 0),
                                 workload("plain", POD, 1, 100, 0) };
    berth_place_result r, r2;

    nodes[0].extended = four_devs;
    nodes[0].n_extended = 1;
    nodes[1].extended = two_devs;
    nodes[1].n_extended = 1;
    for (size_t i = 0; i < 4; i++) {
        w[i].extended = ask_two;
        w[i].n_extended = 1;
    }
    r = place(nodes, 2, w, 5, NULL, 0);
    /* p1 and p3 on n1 (4), p2 on n2 (2): the spread, then what is free */
    ck_assert_int_eq(on(&r, 0, 0), 1);
    ck_assert_int_eq(on(&r, 1, 1), 1);
    ck_assert_int_eq(on(&r, 2, 0), 1);
    ck_assert_int_eq(on(&r, 0, 0) + on(&r, 1, 0) + on(&r, 2, 0) + on(&r, 3, 0), 2);
    ck_assert_int_eq(on(&r, 0, 1) + on(&r, 1, 1) + on(&r, 2, 1) + on(&r, 3, 1), 1);
    /* the 4th says why, in Kubernetes' words */
    ck_assert_uint_eq(r.status[3].placed, 0);
    ck_assert_uint_eq(r.status[3].unschedulable, 1);
    ck_assert_str_eq(r.status[3].message,
                     "0/2 nodes can take a replica: 2 Insufficient example.com/dev");
    /* a pod asking for none is not held up */
    ck_assert_uint_eq(r.status[4].placed, 1);
    ck_assert_str_eq(r.status[4].message, "");

    /* the placement is kept; n2's agent finds 2 more devices and
     * registers again: the 4th gets its place there */
    {
        static const berth_resource_count n2_more[] = { { "example.com/dev", 4 } };

        nodes[1].extended = n2_more;
        r2 = place(nodes, 2, w, 5, r.slots, r.n_slots);
        ck_assert_int_eq(memcmp(r.slots, r2.slots, 3 * sizeof(*r.slots)), 0);
        ck_assert_int_eq(on(&r2, 3, 1), 1);
        ck_assert_uint_eq(r2.status[3].unschedulable, 0);
        berth_place_result_clear(&r2);
    }
    /* n1 comes to count none: its running pods keep theirs (Kubernetes
     * takes no device back), and a new one finds none there */
    {
        static const berth_resource_count none[] = { { "example.com/dev", 0 } };
        berth_place_workload more[] = {
            w[0], w[1], w[2], w[3], w[4], workload("p5", POD, 1, 100, 0)
        };

        more[5].extended = ask_two;
        more[5].n_extended = 1;
        nodes[0].extended = none;
        r2 = place(nodes, 2, more, 6, r.slots, r.n_slots);
        ck_assert_int_eq(on(&r2, 0, 0), 1);
        ck_assert_int_eq(on(&r2, 2, 0), 1);
        ck_assert_int_eq(on(&r2, 3, 1), 1); /* n2 counts 4 (above) */
        ck_assert_uint_eq(r2.status[5].placed, 0);
        ck_assert_str_eq(r2.status[5].message,
                         "0/2 nodes can take a replica: 2 Insufficient example.com/dev");
        berth_place_result_clear(&r2);
    }
    berth_place_result_clear(&r);
}
END_TEST

/* A name a node does not have is none free there; each name short is
 * counted, and a count of 0 asks for nothing. */
START_TEST(extended_resources_a_node_lacks)
{
    static const berth_resource_count ask[] = { { "example.com/dev", 1 },
                                                { "example.com/gpu", 1 },
                                                { "example.com/zero", 0 } };
    static const berth_resource_count gpus[] = { { "example.com/gpu", 8 } };
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30),
                                 node("n3", 4000, 8LL << 30), node("n4", 500, 8LL << 30) };
    berth_place_workload w[] = { workload("p", POD, 1, 1000, 0),
                                 workload("logs", DAEMONSET, 0, 100, 0) };
    berth_place_result r;

    nodes[0].extended = four_devs;
    nodes[0].n_extended = 1;
    nodes[1].extended = gpus;
    nodes[1].n_extended = 1;
    w[0].extended = ask;
    w[0].n_extended = 3;
    w[1].extended = ask_two;
    w[1].n_extended = 1;
    r = place(nodes, 4, w, 2, NULL, 0);
    ck_assert_uint_eq(r.status[0].placed, 0);
    ck_assert_str_eq(r.status[0].message,
                     "0/4 nodes can take a replica: 1 has less than 1 CPU free, 2 Insufficient "
                     "example.com/dev, 1 Insufficient example.com/gpu");
    /* a DaemonSet names each node that cannot take its replica */
    ck_assert_uint_eq(r.status[1].placed, 1);
    ck_assert_int_eq(on(&r, 1, 0), 1);
    ck_assert_str_eq(r.status[1].message,
                     "node n2 has Insufficient example.com/dev, n3 has Insufficient "
                     "example.com/dev, n4 has Insufficient example.com/dev");
    berth_place_result_clear(&r);
    /* with one of each, and nothing of example.com/zero, n1 takes it */
    {
        static const berth_resource_count both[] = { { "example.com/dev", 1 },
                                                     { "example.com/gpu", 1 } };

        nodes[0].extended = both;
        nodes[0].n_extended = 2;
        r = place(nodes, 4, w, 1, NULL, 0);
        ck_assert_int_eq(on(&r, 0, 0), 1);
        berth_place_result_clear(&r);
    }
}
END_TEST

/* A pod's request as Kubernetes counts it (berth_pod_extended, what the
 * controller gives placement): its largest init container counts when
 * it asks for more than the containers together. */
START_TEST(extended_resources_init_container_max_rule)
{
    Workload wl = WORKLOAD_INIT;
    PodTemplate pt = POD_TEMPLATE_INIT;
    ContainerSpec app = CONTAINER_SPEC_INIT, init = CONTAINER_SPEC_INIT;
    ContainerSpec *inits[] = { &init };
    Resources r_app = RESOURCES_INIT, r_init = RESOURCES_INIT;
    Resources_ExtendedEntry e_app = RESOURCES_EXTENDED_ENTRY_INIT,
                            e_init = RESOURCES_EXTENDED_ENTRY_INIT;
    Resources_ExtendedEntry *x_app[] = { &e_app }, *x_init[] = { &e_init };
    berth_place_node nodes[] = { node("n1", 4000, 8LL << 30), node("n2", 4000, 8LL << 30) };
    berth_place_workload w[] = { workload("p", POD, 1, 0, 0) };
    berth_resource_count *ask = NULL;
    berth_place_result r;

    wl.template_ = &app;
    wl.pod = &pt;
    pt.init_containers = inits;
    pt.n_init_containers = 1;
    init.restart_policy = RESTART_ON_FAILURE;
    app.resources = &r_app;
    init.resources = &r_init;
    e_app.key = e_init.key = "example.com/dev";
    e_app.value = 1;
    e_init.value = 3;
    r_app.extended = x_app;
    r_app.n_extended = 1;
    r_init.extended = x_init;
    r_init.n_extended = 1;
    w[0].n_extended = berth_pod_extended(&wl, &ask);
    w[0].extended = ask;
    ck_assert_uint_eq(w[0].n_extended, 1);
    ck_assert_int_eq(ask[0].count, 3);
    /* n1 has 2: the app alone would fit, the init container does not */
    nodes[0].extended = two_devs;
    nodes[0].n_extended = 1;
    nodes[1].extended = four_devs;
    nodes[1].n_extended = 1;
    r = place(nodes, 2, w, 1, NULL, 0);
    ck_assert_int_eq(on(&r, 0, 1), 1);
    berth_place_result_clear(&r);
    nodes[1].extended = two_devs;
    r = place(nodes, 2, w, 1, NULL, 0);
    ck_assert_str_eq(r.status[0].message,
                     "0/2 nodes can take a replica: 2 Insufficient example.com/dev");
    berth_place_result_clear(&r);
    free(ask);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("placement");
    TCase *tc = tcase_create("placement");

    tcase_add_test(tc, spread_over_equal_nodes);
    tcase_add_test(tc, placement_is_stable);
    tcase_add_test(tc, requests_must_fit);
    tcase_add_test(tc, the_issue_example_reason);
    tcase_add_test(tc, every_reason_counted_once_per_node);
    tcase_add_test(tc, node_selector);
    tcase_add_test(tc, daemonset_on_every_matching_node_and_late_joiners);
    tcase_add_test(tc, host_ports);
    tcase_add_test(tc, daemonset_that_does_not_fit_says_where);
    tcase_add_test(tc, replicas_of_a_down_node_move_and_do_not_come_back);
    tcase_add_test(tc, a_succeeded_replica_stays_whatever_its_node);
    tcase_add_test(tc, drain_scale_down_and_shrinking_nodes);
    tcase_add_test(tc, an_evicted_replica_moves_to_another_node);
    tcase_add_test(tc, garbage_in_is_dropped);
    tcase_add_test(tc, node_name_and_affinity);
    tcase_add_test(tc, taints_and_tolerations);
    tcase_add_test(tc, extended_resources_are_counted_per_node);
    tcase_add_test(tc, extended_resources_a_node_lacks);
    tcase_add_test(tc, extended_resources_init_container_max_rule);
    suite_add_tcase(s, tc);
    return s;
}
