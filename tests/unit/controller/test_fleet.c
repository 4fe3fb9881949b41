/* The controller's core (fleet.h) called directly: a store in a temp dir,
 * a loop for its timers, nodes admitted by writing their rows, and the
 * wake-ups it would publish caught. What is asserted is what reaches an
 * operator or an agent: the answers, the errors with the status code the
 * rpc layer makes of them, what is stored, whom the fleet wakes. */
#include <check.h>
#include <sodium.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "fleet-view.h"
#include "fleet.h"
#include "pb/pb.h"
#include "rpc/keys.h"
#include "rpc/server.h"

static char dir[64], db[128];
static berth_loop *loop;
static berth_store *st;
static berth_policy_sqlite *policy;
static berth_keypair key;
static fleet *f;
static fleet_config cfg;
static size_t wake_calls, woken;
/* The workload rollout() acts on. */
static const char *roll_name = "web";

static void on_wake(void *data, const fleet_wake *nodes, size_t n)
{
    (void)data;
    (void)nodes;
    wake_calls++;
    woken += n;
}

static void fleet_up(void)
{
    fleet_effects fx = { .wake = on_wake };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_store_open(db, &st, &err), 0);
    policy = berth_policy_sqlite_new(st, &key, NULL, NULL);
    cfg.loop = loop;
    cfg.store = st;
    cfg.policy = policy;
    f = fleet_new(&cfg, &fx);
    ck_assert_int_eq(fleet_load(f, &err), 0);
}

static void fleet_down(void)
{
    fleet_free(f);
    f = NULL;
    berth_policy_sqlite_free(policy);
    berth_store_close(st);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-fleet-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/berth.db", dir);
    ck_assert_int_eq(berth_loop_new(&loop, NULL), 0);
    ck_assert_int_eq(berth_keypair_generate(&key, NULL), 0);
    cfg = (fleet_config){ .heartbeat_min_ns = BERTH_NSEC_PER_SEC,
                          .heartbeat_max_rate = 50,
                          .heartbeat_misses = 3,
                          .down_grace_ns = 30 * BERTH_NSEC_PER_SEC };
    wake_calls = woken = 0;
    roll_name = "web";
}

static void teardown(void)
{
    if (f)
        fleet_down();
    berth_loop_free(loop);
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
}

/* ---- helpers ---- */

static berth_principal node(const char *name)
{
    berth_principal p;

    ck_assert_int_eq(berth_principal_init(&p, BERTH_ROLE_NODE, name, NULL), 0);
    return p;
}

/* Write node name's row as admission leaves it: a key, not registered. */
static void admit(const char *name)
{
    berth_principal p = node(name);
    berth_store_node rec = { 0 };

    snprintf(rec.name, sizeof(rec.name), "%s", name);
    memcpy(rec.id, p.id, BERTH_ID_LEN);
    memset(rec.keys[0], name[1], BERTH_PUBKEY_LEN);
    rec.n_keys = 1;
    rec.phase = NODE_UNKNOWN;
    ck_assert_int_eq(berth_store_node_put(st, &rec, NULL), 0);
    if (f)
        ck_assert_int_eq(fleet_node_reload(f, name, NULL), 0);
}

/* What node name told about container id before the fleet (re)starts:
 * its own to report from then on (a replica placed elsewhere since). */
static void known_status(const char *name, const char *id)
{
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };

    s.id = (char *)id;
    s.state = CONTAINER_RUNNING;
    ck_assert_int_eq(berth_store_statuses_replace(st, name, sp, 1, NULL), 0);
}

/* Register node name (again: its agent restarted, or its devices
 * changed) with devs of extended resource ext (none for NULL). */
static fleet_beat register_node_with(const char *name, const char *ext, int64_t devs)
{
    berth_principal p = node(name);
    NodeInfo info = NODE_INFO_INIT;
    NodeCapacity cap = NODE_CAPACITY_INIT;
    NodeCapacity_ExtendedEntry e = NODE_CAPACITY_EXTENDED_ENTRY_INIT, *ep[] = { &e };
    berth_error *err = NULL;
    fleet_beat beat;

    info.name = (char *)name;
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    if (ext) {
        e.key = (char *)ext;
        e.value = devs;
        cap.extended = ep;
        cap.n_extended = 1;
    }
    info.capacity = &cap;
    ck_assert_msg(fleet_node_register(f, &p, &info, &beat, &err) == 0, "%s", err ? err->msg : "");
    return beat;
}

static fleet_beat register_node(const char *name)
{
    return register_node_with(name, NULL, 0);
}

/* A Deployment as the manifest reader makes it (owned: fleet_apply takes
 * it). */
static Workload *deployment(const char *name, uint32_t replicas)
{
    Workload w = WORKLOAD_INIT;
    ContainerSpec spec = CONTAINER_SPEC_INIT;
    char *command[] = { "sleep", "3600" };

    w.name = (char *)name;
    w.kind = WORKLOAD_DEPLOYMENT;
    w.replicas = replicas;
    w.source = "test.yaml";
    spec.id = "template";
    spec.image = "busybox";
    spec.command = command;
    spec.n_command = 2;
    w.template_ = &spec;
    return BERTH_PB_COPY(Workload, &w);
}

/* Apply one Deployment; its action. */
static ApplyAction apply_one(const char *name, uint32_t replicas, bool dry_run)
{
    Workload *w = deployment(name, replicas);
    berth_error *err = NULL;
    fleet_changes c;
    ApplyAction action;

    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", dry_run, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_uint_eq(c.n_items, 1);
    action = c.items[0].action;
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    return action;
}

/* How many containers node name is given. */
static size_t assigned(const char *name)
{
    berth_principal p = node(name);
    fleet_specs s;
    size_t n;

    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &s, NULL), 0);
    n = s.n_specs;
    fleet_specs_clear(&s);
    return n;
}

/* Assert the call failed with err saying text, which berthctl shows with
 * status; then free it. */
#define ck_assert_fails(call_expr, err, status, text)                                              \
    do {                                                                                           \
        ck_assert_int_lt((call_expr), 0);                                                          \
        ck_assert_ptr_nonnull(err);                                                                \
        ck_assert_str_eq((err)->msg, (text));                                                      \
        ck_assert_int_eq(berth_rpc_code_of((err)->code), (status));                                \
        berth_error_free(&(err));                                                                  \
    } while (0)

/* Make every write of the store fail from now on, as a full or broken
 * disk would. */
static void break_store(void)
{
    sqlite3 *raw;

    ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(raw,
                                  "CREATE TRIGGER no_workloads BEFORE INSERT ON workloads "
                                  "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
                                  "CREATE TRIGGER no_deletes BEFORE DELETE ON workloads "
                                  "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
}

/* ---- workloads ---- */

START_TEST(apply_creates_configures_and_places)
{
    fleet_workloads v;

    fleet_up();
    admit("n1");
    admit("n2");
    register_node("n1");
    register_node("n2");
    wake_calls = woken = 0;

    ck_assert_int_eq(apply_one("web", 4, false), APPLY_CREATED);
    /* one placement, both nodes woken at once */
    ck_assert_uint_eq(wake_calls, 1);
    ck_assert_uint_eq(woken, 2);
    ck_assert_uint_eq(assigned("n1"), 2);
    ck_assert_uint_eq(assigned("n2"), 2);
    ck_assert_int_eq(apply_one("web", 4, false), APPLY_UNCHANGED);
    ck_assert_uint_eq(wake_calls, 1);
    /* a dry run says what would happen, and nothing does */
    ck_assert_int_eq(apply_one("web", 6, true), APPLY_CONFIGURED);
    ck_assert_uint_eq(assigned("n1") + assigned("n2"), 4);
    ck_assert_int_eq(apply_one("web", 6, false), APPLY_CONFIGURED);
    ck_assert_uint_eq(assigned("n1") + assigned("n2"), 6);
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->generation, 2);
    ck_assert_uint_eq(v.workloads[0]->status->placed, 6);
    fleet_workloads_clear(&v);

    /* all of it survives a restart */
    fleet_down();
    fleet_up();
    ck_assert_uint_eq(assigned("n1") + assigned("n2"), 6);
    ck_assert_int_eq(apply_one("web", 6, false), APPLY_UNCHANGED);
}
END_TEST

START_TEST(apply_warns_and_refuses)
{
    Workload *two[2] = { deployment("web", 0), deployment("web", 1) };
    Workload *nowhere = deployment("nowhere", 1);
    berth_error *err = NULL;
    fleet_changes c;

    fleet_up();
    ck_assert_fails(fleet_apply(f, two, 2, "x.yaml", false, &c, &err), err, CODE_INVALID_ARGUMENT,
                    "apply x.yaml: workload web is given twice");
    ck_assert_int_eq(fleet_apply(f, two, 1, "x.yaml", false, &c, &err), 0);
    ck_assert_ptr_null(two[0]); /* the fleet's now */
    ck_assert_uint_eq(c.n_warnings, 1);
    ck_assert_str_eq(c.warnings[0], "web: replicas 0: nothing will run");
    fleet_changes_clear(&c);
    /* no node: it cannot be placed, and the operator is told why */
    ck_assert_int_eq(fleet_apply(f, &nowhere, 1, "x.yaml", false, &c, &err), 0);
    ck_assert_uint_eq(c.n_warnings, 1);
    ck_assert_str_eq(c.warnings[0], "nowhere: 1 of 1 replicas cannot be placed: 0/0 nodes can take "
                                    "a replica");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(two[1]);
}
END_TEST

START_TEST(apply_past_the_limit_is_refused)
{
    size_t n = 10001;
    Workload **many = calloc(n, sizeof(*many));
    berth_error *err = NULL;
    fleet_changes c;

    fleet_up();
    for (size_t i = 0; i < n; i++) {
        char name[32];

        snprintf(name, sizeof(name), "w%zu", i);
        many[i] = deployment(name, 1);
    }
    ck_assert_fails(fleet_apply(f, many, n, "big.yaml", true, &c, &err), err,
                    CODE_RESOURCE_EXHAUSTED, "10001 workloads would exceed the limit of 10000");
    for (size_t i = 0; i < n; i++)
        BERTH_PB_FREE(many[i]);
    free(many);
}
END_TEST

START_TEST(delete_takes_replicas_off_and_names_twice_are_once)
{
    const char *names[] = { "web", "web", "other" };
    berth_error *err = NULL;
    fleet_changes c;

    fleet_up();
    admit("n1");
    register_node("n1");
    apply_one("web", 2, false);
    ck_assert_uint_eq(assigned("n1"), 2);
    ck_assert_int_eq(fleet_delete_workloads(f, names, 3, "alice", false, &c, &err), 0);
    ck_assert_uint_eq(c.n_items, 1);
    ck_assert_str_eq(c.items[0].name, "web");
    ck_assert_int_eq(c.items[0].action, APPLY_DELETED);
    fleet_changes_clear(&c);
    ck_assert_uint_eq(assigned("n1"), 0);
    ck_assert_fails(fleet_delete_workloads(f, names, 1, "alice", false, &c, &err), err,
                    CODE_NOT_FOUND, "workload web not found");
}
END_TEST

START_TEST(a_failing_store_is_unavailable_and_changes_nothing)
{
    const char *names[] = { "web" };
    Workload *w;
    berth_error *err = NULL;
    fleet_changes c;
    fleet_workloads v;

    fleet_up();
    apply_one("web", 1, false);
    break_store();
    w = deployment("api", 1);
    ck_assert_int_lt(fleet_apply(f, &w, 1, "api.yaml", false, &c, &err), 0);
    ck_assert_int_eq(berth_rpc_code_of(err->code), CODE_UNAVAILABLE);
    ck_assert_msg(strncmp(err->msg, "apply api.yaml: ", 16) == 0 &&
                      strstr(err->msg, "disk on fire"),
                  "%s", err->msg);
    berth_error_free(&err);
    ck_assert_ptr_nonnull(w); /* still the caller's */
    BERTH_PB_FREE(w);
    ck_assert_int_lt(fleet_delete_workloads(f, names, 1, "alice", false, &c, &err), 0);
    ck_assert_int_eq(berth_rpc_code_of(err->code), CODE_UNAVAILABLE);
    ck_assert_msg(strncmp(err->msg, "delete: ", 8) == 0, "%s", err->msg);
    berth_error_free(&err);
    /* the fleet is as the store is */
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    fleet_workloads_clear(&v);
    ck_assert_fails(fleet_workloads_get(f, "api", &v, &err), err, CODE_NOT_FOUND,
                    "workload api not found");
}
END_TEST

/* Workloads as an older or damaged store may hold them: one without a
 * template, between good ones (it once broke loading: a use after free). */
START_TEST(load_leaves_out_a_workload_without_template)
{
    ListWorkloadsRequest all = LIST_WORKLOADS_REQUEST_INIT;
    const char *names[] = { "a", "b", "c", "d" };
    fleet_workloads v;

    ck_assert_int_eq(berth_store_open(db, &st, NULL), 0);
    for (int i = 0; i < 4; i++) {
        Workload *w = deployment(names[i], 1);

        w->created_unix_ns = i + 1; /* loaded oldest first */
        if (i == 1) {
            container_spec_free_unpacked(w->template_, NULL);
            w->template_ = NULL;
        }
        ck_assert_int_eq(berth_store_workload_put(st, w, NULL), 0);
        BERTH_PB_FREE(w);
    }
    berth_store_close(st);
    fleet_up();
    fleet_workloads_list(f, &all, &v);
    ck_assert_uint_eq(v.n_workloads, 3);
    ck_assert_str_eq(v.workloads[0]->name, "a");
    ck_assert_str_eq(v.workloads[1]->name, "c");
    ck_assert_str_eq(v.workloads[2]->name, "d");
    fleet_workloads_clear(&v);
}
END_TEST

/* ---- nodes ---- */

/* Pod ranges: a /24 of the cluster range to each node at its first
 * registration, kept (also across a restart), none when all are taken; a
 * forgotten node's goes back. */
START_TEST(nodes_get_pod_ranges)
{
    fleet_nodes v;
    fleet_changes c;

    cfg.cluster_cidr = "10.244.0.0/23"; /* two /24 */
    cfg.node_prefix = 24;
    fleet_up();
    admit("n1");
    admit("n2");
    admit("n3");
    ck_assert_str_eq(register_node("n1").pod_cidr, "10.244.0.0/24");
    ck_assert_str_eq(register_node("n2").pod_cidr, "10.244.1.0/24");
    ck_assert_str_eq(register_node("n3").pod_cidr, "");
    ck_assert_str_eq(register_node("n1").pod_cidr, "10.244.0.0/24");
    ck_assert_int_eq(fleet_nodes_get(f, "n2", &v, NULL), 0);
    ck_assert_str_eq(v.nodes[0]->pod_cidr, "10.244.1.0/24");
    fleet_nodes_clear(&v);
    fleet_down();
    fleet_up();
    ck_assert_str_eq(register_node("n2").pod_cidr, "10.244.1.0/24");
    /* n1 forgotten (drained first): n3 gets its range at its next start */
    ck_assert_int_eq(fleet_set_schedulable(f, "n1", FLEET_DRAIN, "alice", NULL), 0);
    ck_assert_int_eq(fleet_forget_node(f, "n1", false, &c, NULL), 0);
    fleet_changes_clear(&c);
    ck_assert_str_eq(register_node("n3").pod_cidr, "10.244.0.0/24");
}
END_TEST

/* Peers: the other nodes with a range and an address; the version moves
 * when one gets a range, changes its address or is forgotten. */
/* Register n1 as the agent run that started at start_ns on boot boot_ns. */
static fleet_beat register_run(int64_t start_ns, int64_t boot_ns)
{
    berth_principal p = node("n1");
    NodeInfo info = NODE_INFO_INIT;
    NodeCapacity cap = NODE_CAPACITY_INIT;
    fleet_beat beat;

    info.name = "n1";
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    info.capacity = &cap;
    info.agent_start_unix_ns = start_ns;
    info.boot_time_unix_ns = boot_ns;
    ck_assert_int_eq(fleet_node_register(f, &p, &info, &beat, NULL), 0);
    return beat;
}

/* A node's agent registering again without a restart (its devices
 * changed) is told apart from a new run: the controller's sessions with
 * it stay (node-service.c). */
START_TEST(registering_again_tells_the_same_run_from_a_new_one)
{
    fleet_up();
    admit("n1");
    ck_assert(!register_run(100, 7).same_run); /* the first */
    ck_assert(register_run(100, 7).same_run);
    ck_assert(!register_run(200, 7).same_run); /* restarted */
    ck_assert(!register_run(200, 8).same_run); /* the machine rebooted */
    ck_assert(!register_run(0, 8).same_run);   /* an agent that says no start */
    ck_assert(!register_run(0, 8).same_run);
}
END_TEST

START_TEST(nodes_learn_their_peers)
{
    berth_principal p1 = node("n1"), p2 = node("n2");
    NodeInfo info = NODE_INFO_INIT;
    fleet_beat beat;
    fleet_changes c;
    Peer **peers = NULL;
    size_t n = 0;
    uint64_t v0, v1, v2;

    cfg.cluster_cidr = "10.244.0.0/16";
    cfg.node_prefix = 24;
    fleet_up();
    admit("n1");
    admit("n2");
    info.name = "n1";
    info.internal_ip = "10.0.0.1";
    ck_assert_int_eq(fleet_node_register(f, &p1, &info, &beat, NULL), 0);
    v0 = beat.peers_version;
    ck_assert_int_eq(fleet_node_peers(f, &p1, &peers, &n, &v1, NULL), 0);
    ck_assert_uint_eq(n, 0);
    free(peers);
    info.name = "n2";
    info.internal_ip = "10.0.0.2";
    ck_assert_int_eq(fleet_node_register(f, &p2, &info, &beat, NULL), 0);
    ck_assert_uint_ne(beat.peers_version, v0);
    ck_assert_int_eq(fleet_node_peers(f, &p1, &peers, &n, &v1, NULL), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(peers[0]->name, "n2");
    ck_assert_str_eq(peers[0]->internal_ip, "10.0.0.2");
    ck_assert_str_eq(peers[0]->pod_cidr, "10.244.1.0/24");
    free(peers);
    /* registering again, the same: nothing moves; a new address: it does */
    ck_assert_int_eq(fleet_node_register(f, &p2, &info, &beat, NULL), 0);
    ck_assert_uint_eq(beat.peers_version, v1);
    info.internal_ip = "10.0.0.22";
    ck_assert_int_eq(fleet_node_register(f, &p2, &info, &beat, NULL), 0);
    ck_assert_uint_ne(beat.peers_version, v1);
    v2 = beat.peers_version;
    ck_assert_int_eq(fleet_set_schedulable(f, "n2", FLEET_DRAIN, "alice", NULL), 0);
    ck_assert_int_eq(fleet_forget_node(f, "n2", false, &c, NULL), 0);
    fleet_changes_clear(&c);
    ck_assert_int_eq(fleet_node_peers(f, &p1, &peers, &n, &v1, NULL), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_ne(v1, v2);
    free(peers);
}
END_TEST

START_TEST(node_calls_are_about_the_caller)
{
    berth_principal n1 = node("n1"), n9 = node("n9");
    NodeInfo info = NODE_INFO_INIT;
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    berth_error *err = NULL;
    fleet_beat beat;
    fleet_specs specs;
    char *bad_label[] = { "no spaces" };
    NodeInfo_LabelsEntry label = NODE_INFO_LABELS_ENTRY_INIT, *labels[] = { &label };

    fleet_up();
    admit("n1");
    info.name = "n1";
    ck_assert_fails(fleet_node_register(f, &n9, &info, &beat, &err), err, CODE_PERMISSION_DENIED,
                    "node n9 is not admitted");
    info.name = "n2";
    ck_assert_fails(fleet_node_register(f, &n1, &info, &beat, &err), err, CODE_PERMISSION_DENIED,
                    "node n1 may not register as n2");
    ck_assert_fails(fleet_node_heartbeat(f, &n1, &hb, &beat, &err), err, CODE_NOT_FOUND,
                    "node not registered");
    ck_assert_fails(fleet_node_assignments(f, &n1, 0, &specs, &err), err, CODE_NOT_FOUND,
                    "node not registered");
    ck_assert_fails(fleet_node_report(f, &n1, &rs, &err), err, CODE_NOT_FOUND,
                    "node not registered");
    info.name = "n1";
    label.key = bad_label[0];
    label.value = "x";
    info.labels = labels;
    info.n_labels = 1;
    ck_assert_int_lt(fleet_node_register(f, &n1, &info, &beat, &err), 0);
    ck_assert_int_eq(berth_rpc_code_of(err->code), CODE_INVALID_ARGUMENT);
    berth_error_free(&err);
    /* registered, it is Ready and told how often to beat */
    beat = register_node("n1");
    ck_assert_uint_eq(beat.heartbeat_interval_ms, 1000);
    ck_assert_int_eq(fleet_node_heartbeat(f, &n1, &hb, &beat, &err), 0);
    ck_assert(beat.report_status); /* a new agent run: its whole picture, please */
}
END_TEST

START_TEST(operators_see_the_codes_they_always_saw)
{
    ApproveNodeRequest approve = APPROVE_NODE_REQUEST_INIT;
    berth_store_node pending = { 0 };
    berth_principal p = node("n3");
    berth_error *err = NULL;
    fleet_changes c;

    fleet_up();
    admit("n1");
    register_node("n1");
    apply_one("web", 1, false);
    ck_assert_fails(fleet_forget_node(f, "n1", false, &c, &err), err, CODE_FAILED_PRECONDITION,
                    "node n1 is Ready with 1 containers: drain it first (berthctl node drain n1)");
    ck_assert_fails(fleet_set_schedulable(f, "n9", FLEET_DRAIN, "alice", &err), err, CODE_NOT_FOUND,
                    "node n9 not found");
    ck_assert_fails(fleet_forget_node(f, "n9", false, &c, &err), err, CODE_NOT_FOUND,
                    "node n9 not found");
    /* drained, it may go; its replica has nowhere else to run */
    ck_assert_int_eq(fleet_set_schedulable(f, "n1", FLEET_DRAIN, "alice", &err), 0);
    ck_assert_uint_eq(assigned("n1"), 0);
    ck_assert_int_eq(fleet_forget_node(f, "n1", false, &c, &err), 0);
    ck_assert_str_eq(c.items[0].kind, "Node");
    fleet_changes_clear(&c);

    /* approval of another key than the one waiting */
    snprintf(pending.name, sizeof(pending.name), "n3");
    memcpy(pending.id, p.id, BERTH_ID_LEN);
    memset(pending.pending_key, 7, BERTH_PUBKEY_LEN);
    pending.has_pending = true;
    pending.phase = NODE_PENDING_APPROVAL;
    ck_assert_int_eq(berth_store_node_put(st, &pending, NULL), 0);
    approve.name = "n3";
    approve.key_fingerprint = "AAAA";
    ck_assert_int_lt(fleet_approve_node(f, &approve, &err), 0);
    ck_assert_int_eq(berth_rpc_code_of(err->code), CODE_FAILED_PRECONDITION);
    berth_error_free(&err);
    approve.key_fingerprint = "";
    ck_assert_int_eq(fleet_approve_node(f, &approve, &err), 0);
}
END_TEST

START_TEST(a_container_on_two_nodes_must_be_named_with_its_node)
{
    berth_principal n1 = node("n1"), n2 = node("n2");
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    berth_error *err = NULL;
    fleet_containers v;
    fleet_agent to;

    fleet_up();
    admit("n1");
    admit("n2");
    register_node("n1");
    register_node("n2");
    /* x1 ran on n1, was placed on n2 since, and n1 did not hear yet */
    known_status("n1", "x1");
    known_status("n2", "x1");
    fleet_down();
    fleet_up();
    s.id = "x1";
    s.state = CONTAINER_RUNNING;
    rs.containers = sp;
    rs.n_containers = 1;
    ck_assert_int_eq(fleet_node_report(f, &n1, &rs, &err), 0);
    ck_assert_int_eq(fleet_node_report(f, &n2, &rs, &err), 0);
    ck_assert_fails(fleet_containers_get(f, "x1", "", &v, &err), err, CODE_FAILED_PRECONDITION,
                    "container x1 is on n1 and n2: name the node");
    ck_assert_fails(fleet_container_agent(f, "x1", "", &to, &err), err, CODE_FAILED_PRECONDITION,
                    "container x1 is on n1 and n2: name the node");
    ck_assert_int_eq(fleet_containers_get(f, "x1", "n2", &v, &err), 0);
    ck_assert_str_eq(v.containers[0]->node, "n2");
    fleet_containers_clear(&v);
    ck_assert_fails(fleet_containers_get(f, "x2", "n2", &v, &err), err, CODE_NOT_FOUND,
                    "container x2 not found on n2");
    /* the fake agents of this test serve no Agent endpoint */
    ck_assert_fails(fleet_container_agent(f, "x1", "n1", &to, &err), err, CODE_UNAVAILABLE,
                    "node n1 serves no Agent endpoint (its agent_address is empty)");
}
END_TEST

/* A node tells only of its own containers: a report, full or not, or a
 * stream event about a container never assigned to it is left out, so it
 * cannot make another node's container ambiguous (or appear on itself). */
START_TEST(a_node_cannot_report_another_nodes_container)
{
    berth_principal n2 = node("n2");
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    fleet_stream_pos pos = { .epoch = 9, .seq = 1 };
    berth_error *err = NULL;
    fleet_containers v;

    fleet_up();
    admit("n1");
    admit("n2");
    register_node("n1");
    register_node("n2");
    known_status("n1", "db-0");
    fleet_down();
    fleet_up();
    s.id = "db-0";
    s.state = CONTAINER_EXITED;
    rs.containers = sp;
    rs.n_containers = 1;
    ck_assert_int_eq(fleet_node_report(f, &n2, &rs, &err), 0);
    rs.full = true;
    ck_assert_int_eq(fleet_node_report(f, &n2, &rs, &err), 0);
    ev.status = &s;
    fleet_node_event(f, &n2, &pos, &ev);
    ck_assert_int_eq(fleet_containers_get(f, "db-0", "", &v, &err), 0);
    ck_assert_uint_eq(v.n_containers, 1);
    ck_assert_str_eq(v.containers[0]->node, "n1");
    ck_assert_int_eq(v.containers[0]->status->state, CONTAINER_RUNNING);
    fleet_containers_clear(&v);
    ck_assert_fails(fleet_containers_get(f, "db-0", "n2", &v, &err), err, CODE_NOT_FOUND,
                    "container db-0 not found on n2");
}
END_TEST

/* The ids of what node name is given, joined by spaces. */
static void assigned_ids(const char *name, char *buf, size_t size)
{
    berth_principal p = node(name);
    fleet_specs s;
    size_t at = 0;

    buf[0] = '\0';
    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &s, NULL), 0);
    for (size_t i = 0; i < s.n_specs; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%s", i ? " " : "", s.specs[i]->id);
    fleet_specs_clear(&s);
}

/* Namespaces: a workload needs its namespace, the same name in two is two
 * workloads with their own replicas, and deleting one deletes what is in
 * it, durably. */
START_TEST(namespaces_hold_workloads_and_go_with_them)
{
    Workload *w[2] = { deployment("web", 1), deployment("web", 1) };
    Namespace ns = NAMESPACE_INIT, *nsp[] = { &ns };
    const char *team[] = { "team-a" }, *deflt[] = { "default" }, *none[] = { "nope" };
    berth_error *err = NULL;
    fleet_namespaces nv;
    fleet_workloads v;
    fleet_pods pv;
    ListPodsRequest pq = LIST_PODS_REQUEST_INIT;
    ListWorkloadsRequest wq = LIST_WORKLOADS_REQUEST_INIT;
    fleet_changes c;
    char ids[256];

    fleet_up();
    admit("n1");
    register_node("n1");
    w[1]->namespace_ = strdup("team-a");
    ck_assert_fails(fleet_apply(f, w, 2, "x.yaml", false, &c, &err), err, CODE_NOT_FOUND,
                    "apply x.yaml: Deployment web: namespace team-a not found (create it first: "
                    "berthctl create namespace team-a)");
    ck_assert_uint_eq(assigned("n1"), 0);
    /* a dry run of a manifest whose namespace another one of the same
     * apply makes */
    {
        char *pending[] = { "team-a" };

        ck_assert_int_eq(fleet_apply_all(f,
                                         &(fleet_apply_in){ .workloads = w,
                                                            .n_workloads = 2,
                                                            .pending = pending,
                                                            .n_pending = 1,
                                                            .source = "x.yaml",
                                                            .dry_run = true },
                                         &c, &err),
                         0);
        fleet_changes_clear(&c);
    }
    ns.name = "team-a";
    ck_assert_int_eq(fleet_apply_all(f,
                                     &(fleet_apply_in){ .workloads = w,
                                                        .n_workloads = 2,
                                                        .namespaces = nsp,
                                                        .n_namespaces = 1,
                                                        .source = "x.yaml" },
                                     &c, &err),
                     0);
    ck_assert_uint_eq(c.n_items, 3);
    ck_assert_str_eq(c.items[0].kind, "Namespace");
    ck_assert_int_eq(c.items[0].action, APPLY_CREATED);
    ck_assert_str_eq(c.items[2].ns, "team-a");
    fleet_changes_clear(&c);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "team-a__web-75bb8fcdbf-0 web-75bb8fcdbf-0");
    /* applied again: unchanged, namespace too */
    w[0] = deployment("web", 1);
    w[1] = deployment("web", 1);
    w[1]->namespace_ = strdup("team-a");
    ck_assert_int_eq(fleet_apply_all(f,
                                     &(fleet_apply_in){ .workloads = w,
                                                        .n_workloads = 2,
                                                        .namespaces = nsp,
                                                        .n_namespaces = 1,
                                                        .source = "x.yaml" },
                                     &c, &err),
                     0);
    for (size_t i = 0; i < c.n_items; i++)
        ck_assert_int_eq(c.items[i].action, APPLY_UNCHANGED);
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w[0]);
    BERTH_PB_FREE(w[1]);

    /* listings: by namespace, and filtered */
    fleet_workloads_list(f, &wq, &v);
    ck_assert_uint_eq(v.n_workloads, 2);
    ck_assert_str_eq(v.workloads[0]->namespace_, "default");
    ck_assert_str_eq(v.workloads[1]->namespace_, "team-a");
    fleet_workloads_clear(&v);
    wq.namespace_ = "team-a";
    fleet_workloads_list(f, &wq, &v);
    ck_assert_uint_eq(v.n_workloads, 1);
    fleet_workloads_clear(&v);
    ck_assert_int_eq(fleet_workloads_get(f, "team-a/web", &v, NULL), 0);
    fleet_workloads_clear(&v);
    pq.namespace_ = "team-a";
    fleet_pods_list(f, &pq, &pv);
    ck_assert_uint_eq(pv.n_pods, 1);
    ck_assert_str_eq(pv.pods[0]->name, "web-75bb8fcdbf-0");
    ck_assert_str_eq(pv.pods[0]->namespace_, "team-a");
    ck_assert_str_eq(pv.pods[0]->workload, "web");
    fleet_pods_clear(&pv);
    ck_assert_int_eq(fleet_pods_get(f, "team-a", "web-75bb8fcdbf-0", "", &pv, NULL), 0);
    fleet_pods_clear(&pv);
    ck_assert_fails(fleet_pods_get(f, "team-b", "web-75bb8fcdbf-0", "", &pv, &err), err,
                    CODE_NOT_FOUND, "pod web-75bb8fcdbf-0 not found in namespace team-b");
    fleet_namespaces_list(f, &nv);
    ck_assert_uint_eq(nv.n_namespaces, 2);
    ck_assert_str_eq(nv.namespaces[0]->name, "default");
    ck_assert_uint_eq(nv.namespaces[0]->workloads, 1);
    ck_assert_str_eq(nv.namespaces[1]->phase, "Active");
    ck_assert_uint_eq(nv.namespaces[1]->workloads, 1);
    fleet_namespaces_clear(&nv);

    /* deletion: default stays; a namespace goes with its workloads */
    ck_assert_fails(
        fleet_delete(f,
                     &(fleet_delete_in){
                         .namespaces = deflt, .n_namespaces = 1, .by = "alice", .dry_run = false },
                     &c, &err),
        err, CODE_FAILED_PRECONDITION, "namespace default cannot be deleted");
    ck_assert_fails(
        fleet_delete(f,
                     &(fleet_delete_in){
                         .namespaces = none, .n_namespaces = 1, .by = "alice", .dry_run = false },
                     &c, &err),
        err, CODE_NOT_FOUND, "namespace nope not found");
    ck_assert_int_eq(
        fleet_delete(f,
                     &(fleet_delete_in){
                         .namespaces = team, .n_namespaces = 1, .by = "alice", .dry_run = true },
                     &c, &err),
        0);
    ck_assert_uint_eq(c.n_items, 2);
    fleet_changes_clear(&c);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "team-a__web-75bb8fcdbf-0 web-75bb8fcdbf-0");
    ck_assert_int_eq(
        fleet_delete(f,
                     &(fleet_delete_in){
                         .namespaces = team, .n_namespaces = 1, .by = "alice", .dry_run = false },
                     &c, &err),
        0);
    ck_assert_str_eq(c.items[0].name, "web");
    ck_assert_str_eq(c.items[0].ns, "team-a");
    ck_assert_str_eq(c.items[1].kind, "Namespace");
    fleet_changes_clear(&c);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "web-75bb8fcdbf-0");

    /* as stored */
    fleet_down();
    fleet_up();
    fleet_namespaces_list(f, &nv);
    ck_assert_uint_eq(nv.n_namespaces, 1);
    fleet_namespaces_clear(&nv);
    fleet_workloads_list(f, &(ListWorkloadsRequest)LIST_WORKLOADS_REQUEST_INIT, &v);
    ck_assert_uint_eq(v.n_workloads, 1);
    fleet_workloads_clear(&v);
}
END_TEST

START_TEST(an_older_picture_is_refused_as_stale)
{
    berth_principal n1 = node("n1");
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    fleet_stream_pos pos = { .epoch = 7, .seq = 5 };
    berth_error *err = NULL;
    fleet_containers v;

    fleet_up();
    admit("n1");
    register_node("n1");
    known_status("n1", "x1");
    fleet_down();
    fleet_up();
    s.id = "x1";
    s.state = CONTAINER_EXITED;
    s.exit_code = 3;
    ev.status = &s;
    fleet_node_event(f, &n1, &pos, &ev);
    s.state = CONTAINER_RUNNING;
    rs.containers = sp;
    rs.n_containers = 1;
    rs.full = true;
    rs.stream_epoch = 7;
    rs.stream_seq = 3;
    ck_assert_fails(fleet_node_report(f, &n1, &rs, &err), err, CODE_ABORTED,
                    "stream item 5 was taken in before this picture of 3: send a fresh one");
    ck_assert_int_eq(fleet_containers_get(f, "x1", "", &v, &err), 0);
    ck_assert_int_eq(v.containers[0]->status->state, CONTAINER_EXITED);
    fleet_containers_clear(&v);
    /* a fresh one is taken in, and written to the store */
    rs.stream_seq = 5;
    ck_assert_int_eq(fleet_node_report(f, &n1, &rs, &err), 0);
    fleet_down();
    fleet_up();
    ck_assert_int_eq(fleet_containers_get(f, "x1", "", &v, &err), 0);
    ck_assert_int_eq(v.containers[0]->status->state, CONTAINER_RUNNING);
    fleet_containers_clear(&v);
}
END_TEST

static NodePhase phase_of(const char *name)
{
    fleet_nodes v;
    NodePhase p;

    ck_assert_int_eq(fleet_nodes_get(f, name, &v, NULL), 0);
    p = v.nodes[0]->phase;
    fleet_nodes_clear(&v);
    return p;
}

/* Node name's generation (its desired set's). */
static uint64_t phase_gen(const char *name)
{
    fleet_nodes v;
    uint64_t g;

    ck_assert_int_eq(fleet_nodes_get(f, name, &v, NULL), 0);
    g = v.nodes[0]->generation;
    fleet_nodes_clear(&v);
    return g;
}

/* Run the loop, n2 beating meanwhile, until node name is in phase (false
 * after 10 s). */
/* A lease of 2 x 20 ms, Down grace_ms later (before fleet_up). */
static void fast_leases(int64_t grace_ms)
{
    cfg.heartbeat_min_ns = 20 * BERTH_NSEC_PER_MSEC;
    cfg.heartbeat_max_rate = 1000;
    cfg.heartbeat_misses = 2;
    cfg.down_grace_ns = grace_ms * BERTH_NSEC_PER_MSEC;
}

static bool run_until(const char *name, NodePhase phase)
{
    berth_principal n2 = node("n2");
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    int64_t end = berth_now_mono_ns() + 10 * BERTH_NSEC_PER_SEC;
    fleet_beat beat;

    while (phase_of(name) != phase) {
        if (berth_now_mono_ns() > end)
            return false;
        ck_assert_int_eq(fleet_node_heartbeat(f, &n2, &hb, &beat, NULL), 0);
        berth_loop_run_once(loop, 5 * BERTH_NSEC_PER_MSEC, NULL);
    }
    return true;
}

START_TEST(a_silent_node_is_unknown_then_down_and_fenced_when_back)
{
    berth_principal n1 = node("n1");
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    fleet_beat before, after;
    berth_error *err = NULL;

    fast_leases(500); /* Down half a second after the lease */
    fleet_up();
    admit("n1");
    admit("n2");
    before = register_node("n1");
    register_node("n2");
    apply_one("web", 2, false);
    ck_assert_uint_eq(assigned("n1"), 1);
    ck_assert_int_eq(fleet_node_heartbeat(f, &n1, &hb, &before, NULL), 0);

    /* n1 goes silent: Unknown, its replica stays */
    ck_assert(run_until("n1", NODE_UNKNOWN));
    ck_assert_uint_eq(assigned("n1"), 1);
    /* then Down: its replica moves to n2 */
    ck_assert(run_until("n1", NODE_DOWN));
    ck_assert_uint_eq(assigned("n1"), 0);
    ck_assert_uint_eq(assigned("n2"), 2);
    /* back: Ready, with a generation that drops what it ran */
    hb.applied_generation = before.generation;
    ck_assert_int_eq(fleet_node_heartbeat(f, &n1, &hb, &after, &err), 0);
    ck_assert_int_eq(phase_of("n1"), NODE_READY);
    ck_assert_uint_gt(after.generation, before.generation);
    {
        ListEventsRequest q = LIST_EVENTS_REQUEST_INIT;
        fleet_events ev;
        bool fenced = false;

        q.object_kind = "Node";
        q.object_name = "n1";
        ck_assert_int_eq(fleet_events_list(f, &q, &ev, NULL), 0);
        for (size_t i = 0; i < ev.n_events; i++)
            fenced |= strcmp(ev.events[i]->reason, "Fenced") == 0;
        fleet_events_clear(&ev);
        ck_assert(fenced);
    }
}
END_TEST

/* A Pod that succeeded is never run again (Kubernetes runs no finished
 * pod twice): its node goes Down, and it is not placed elsewhere; one
 * that still runs moves. */
START_TEST(a_succeeded_pod_is_not_run_again_when_its_node_goes_down)
{
    berth_principal n1 = node("n1");
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    Workload *w = deployment("once", 1);
    fleet_changes c;
    fleet_beat beat;
    berth_error *err = NULL;

    fast_leases(300);
    fleet_up();
    admit("n1");
    admit("n2");
    beat = register_node("n1");
    w->kind = WORKLOAD_POD;
    w->template_->restart_policy = RESTART_NEVER;
    w->template_->resources = NULL;
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    register_node("n2");
    ck_assert_uint_eq(assigned("n1"), 1);
    /* it ran to its end on n1: exit 0 */
    s.id = "once-0";
    s.state = CONTAINER_EXITED;
    s.exit_code = 0;
    rs.containers = sp;
    rs.n_containers = 1;
    rs.full = true;
    ck_assert_int_eq(fleet_node_report(f, &n1, &rs, &err), 0);
    ck_assert_int_eq(fleet_node_heartbeat(f, &n1, &hb, &beat, NULL), 0);
    /* n1 goes silent, then Down: the finished pod stays where it ended */
    ck_assert(run_until("n1", NODE_DOWN));
    ck_assert_uint_eq(assigned("n2"), 0);
    ck_assert_uint_eq(assigned("n1"), 1);
}
END_TEST

/* ---- rollouts ---- */

/* Node name reports every container it is given running and Ready; the
 * loop runs until the rollout step that follows has been taken. */
static void all_ready(const char *name)
{
    berth_principal p = node(name);
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    ContainerStatus *sp[16], sv[16];
    berth_error *err = NULL;
    fleet_specs s;
    fleet_beat beat;

    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &s, NULL), 0);
    ck_assert_uint_le(s.n_specs, 16);
    for (size_t i = 0; i < s.n_specs; i++) {
        sv[i] = (ContainerStatus)CONTAINER_STATUS_INIT;
        sv[i].id = s.specs[i]->id;
        sv[i].state = CONTAINER_RUNNING;
        sv[i].ready = true;
        sp[i] = &sv[i];
    }
    rs.containers = sp;
    rs.n_containers = s.n_specs;
    rs.full = true;
    ck_assert_msg(fleet_node_report(f, &p, &rs, &err) == 0, "%s", err ? err->msg : "");
    fleet_specs_clear(&s);
    ck_assert_int_eq(fleet_node_heartbeat(f, &p, &hb, &beat, NULL), 0);
    for (int i = 0; i < 3; i++)
        berth_loop_run_once(loop, 60 * BERTH_NSEC_PER_MSEC, NULL);
}

/* How many of node name's replicas are of the revision whose ids start
 * with prefix, and how many there are in all. */
static size_t of_revision(const char *name, const char *prefix, size_t *ret_all)
{
    char ids[2048], *save = NULL;
    size_t n = 0, all = 0;

    assigned_ids(name, ids, sizeof(ids));
    for (char *t = strtok_r(ids, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        all++;
        n += strncmp(t, prefix, strlen(prefix)) == 0;
    }
    *ret_all = all;
    return n;
}

/* The Deployment web's newest revision's replica prefix ("web-<hash>"). */
static void newest_prefix(char *buf, size_t size, uint64_t *ret_revision)
{
    fleet_workloads v;

    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_uint_ge(v.workloads[0]->status->n_replica_sets, 1);
    snprintf(buf, size, "web-%s-", v.workloads[0]->status->replica_sets[0]->hash);
    if (ret_revision)
        *ret_revision = v.workloads[0]->status->revision;
    fleet_workloads_clear(&v);
}

/* Report Ready until every replica is of the newest revision, checking
 * at each step that 3 to 4 run (maxSurge 0, maxUnavailable 1). */
static void roll_to_newest(void)
{
    char prefix[96];
    size_t all = 0, fresh = 0;

    newest_prefix(prefix, sizeof(prefix), NULL);
    for (int round = 0; round < 40 && fresh != 4; round++) {
        all_ready("n1");
        fresh = of_revision("n1", prefix, &all);
        ck_assert_uint_le(all, 4);
        ck_assert_uint_ge(all, 3);
    }
    ck_assert_uint_eq(fresh, 4);
    ck_assert_uint_eq(all, 4);
}

static void apply_image(const char *image)
{
    Workload *w = deployment("web", 4);
    IntOrPercent zero = INT_OR_PERCENT_INIT, one = INT_OR_PERCENT_INIT;
    DeploymentStrategy ds = DEPLOYMENT_STRATEGY_INIT;
    berth_error *err = NULL;
    fleet_changes c;

    one.value = 1;
    ds.type = "RollingUpdate";
    ds.max_surge = &zero;
    ds.max_unavailable = &one;
    w->strategy = BERTH_PB_COPY(DeploymentStrategy, &ds);
    free(w->template_->image);
    w->template_->image = strdup(image);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
}

static void rollout(RolloutAction action, uint64_t to, const char *want, int code)
{
    RolloutRequest in = ROLLOUT_REQUEST_INIT;
    berth_error *err = NULL;
    char *result = NULL;
    uint64_t gen = 0;

    in.name = (char *)roll_name;
    in.action = action;
    in.to_revision = to;
    if (code) {
        ck_assert_fails(fleet_rollout(f, &in, "op", &result, &gen, &err), err, code, want);
        return;
    }
    ck_assert_msg(fleet_rollout(f, &in, "op", &result, &gen, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(result, want);
    free(result);
}

/* A new template rolls out revision by revision within maxSurge and
 * maxUnavailable; undo, restart, pause and resume do what kubectl's do;
 * revisions survive a restart of the controller. */
START_TEST(a_rolling_update_moves_revision_by_revision)
{
    char first[96], second[96], p[96];
    uint64_t revision;
    fleet_workloads v;
    size_t all;

    fleet_up();
    admit("n1");
    register_node("n1");
    apply_image("busybox:1");
    all_ready("n1");
    newest_prefix(first, sizeof(first), &revision);
    ck_assert_uint_eq(revision, 1);
    ck_assert_uint_eq(of_revision("n1", first, &all), 4);

    apply_image("busybox:2");
    newest_prefix(second, sizeof(second), &revision);
    ck_assert_uint_eq(revision, 2);
    ck_assert_str_ne(first, second);
    roll_to_newest();
    all_ready("n1");
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->updated, 4);
    ck_assert_uint_eq(v.workloads[0]->status->available, 4);
    ck_assert_uint_eq(v.workloads[0]->status->n_replica_sets, 2);
    ck_assert_uint_eq(v.workloads[0]->status->replica_sets[1]->replicas, 0);
    ck_assert_uint_eq(v.workloads[0]->status->n_conditions, 2);
    ck_assert_str_eq(v.workloads[0]->status->conditions[1]->reason, "NewReplicaSetAvailable");
    fleet_workloads_clear(&v);

    /* undo: the first template again, as revision 3 */
    rollout(ROLLOUT_UNDO, 0, "rolled back", 0);
    newest_prefix(p, sizeof(p), &revision);
    ck_assert_str_eq(p, first);
    ck_assert_uint_eq(revision, 3);
    roll_to_newest();
    rollout(ROLLOUT_UNDO, 3, "skipped rollback (current template already matches revision 3)", 0);
    rollout(ROLLOUT_UNDO, 99, "unable to find specified revision 99 in history", CODE_NOT_FOUND);
    /* restart: a template of its own */
    rollout(ROLLOUT_RESTART, 0, "restarted", 0);
    newest_prefix(p, sizeof(p), &revision);
    ck_assert_str_ne(p, first);
    ck_assert_str_ne(p, second);
    ck_assert_uint_eq(revision, 4);
    roll_to_newest();
    /* pause: a new template waits */
    rollout(ROLLOUT_PAUSE, 0, "paused", 0);
    rollout(ROLLOUT_PAUSE, 0, "deployments.apps \"web\" is already paused",
            CODE_FAILED_PRECONDITION);
    rollout(ROLLOUT_RESTART, 0, "can't restart paused deployment (run rollout resume first)",
            CODE_FAILED_PRECONDITION);
    apply_image("busybox:3");
    all_ready("n1");
    newest_prefix(second, sizeof(second), &revision);
    ck_assert_uint_eq(revision, 4);
    ck_assert_uint_eq(of_revision("n1", p, &all), 4);

    /* the controller restarts: revisions, replicas and the pause stay */
    fleet_down();
    fleet_up();
    register_node("n1");
    all_ready("n1");
    newest_prefix(second, sizeof(second), &revision);
    ck_assert_uint_eq(revision, 4);
    ck_assert_uint_eq(of_revision("n1", p, &all), 4);
    rollout(ROLLOUT_RESUME, 0, "resumed", 0);
    newest_prefix(second, sizeof(second), &revision);
    ck_assert_uint_eq(revision, 5);
    roll_to_newest();
    rollout(ROLLOUT_RESUME, 0, "deployments.apps \"web\" is not paused", CODE_FAILED_PRECONDITION);
}
END_TEST

/* A Deployment stored before berth kept revisions keeps its replicas, by
 * their names, as its first revision. */
START_TEST(a_deployment_from_before_revisions_keeps_its_replicas)
{
    char ids[256];
    sqlite3 *db3;
    fleet_workloads v;
    uint64_t gen;

    fleet_up();
    admit("n1");
    register_node("n1");
    /* generation 3: its assignment was given generation 3's spec */
    ck_assert_int_eq(apply_one("web", 1, false), APPLY_CREATED);
    ck_assert_int_eq(apply_one("web", 2, false), APPLY_CONFIGURED);
    ck_assert_int_eq(apply_one("web", 1, false), APPLY_CONFIGURED);
    fleet_down();
    /* as berth left it before revisions */
    ck_assert_int_eq(sqlite3_open(db, &db3), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db3,
                                  "DELETE FROM replica_sets; DELETE FROM assignments WHERE "
                                  "replica > 0; UPDATE assignments SET container_id = 'web-0', "
                                  "revision = '', workload_generation = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db3);
    fleet_up();
    gen = phase_gen("n1");
    register_node("n1");
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "web-0");
    all_ready("n1");
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "web-0");
    /* the same spec: not given again (the node would keep its status's
     * generation, and the replica would never count as Ready) */
    ck_assert_uint_eq(phase_gen("n1"), gen);
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->ready, 1);
    ck_assert_uint_eq(v.workloads[0]->status->revision, 1);
    ck_assert_str_eq(v.workloads[0]->status->replica_sets[0]->hash, "");
    fleet_workloads_clear(&v);
    /* and a new template rolls it out like any other */
    apply_image("busybox:2");
    roll_to_newest();
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_null(strstr(ids, "web-0"));
}
END_TEST

/* A Deployment applied paused runs nothing, across a restart too; resumed
 * after its deadline, its rollout has the whole deadline again. */
START_TEST(a_paused_deployment_waits_and_resumes_with_its_deadline)
{
    Workload *w = deployment("web", 2);
    berth_error *err = NULL;
    fleet_changes c;
    fleet_workloads v;
    char ids[256];

    fleet_up();
    admit("n1");
    register_node("n1");
    w->paused = true;
    w->progress_deadline_seconds = 1;
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "");
    fleet_down();
    fleet_up();
    register_node("n1");
    all_ready("n1");
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "");
    rollout(ROLLOUT_RESUME, 0, "resumed", 0);
    all_ready("n1");
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->available, 2);
    ck_assert_str_eq(v.workloads[0]->status->conditions[1]->reason, "NewReplicaSetAvailable");
    fleet_workloads_clear(&v);

    /* a rollout paused half way for longer than its deadline: resumed,
     * the deadline counts from then */
    w = deployment("web", 2);
    w->progress_deadline_seconds = 1;
    free(w->template_->image);
    w->template_->image = strdup("busybox:2");
    ck_assert_int_eq(fleet_apply(f, &w, 1, "test.yaml", false, &c, NULL), 0);
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    rollout(ROLLOUT_PAUSE, 0, "paused", 0);
    /* a manifest that does not say paused keeps the pause */
    w = deployment("web", 2);
    w->progress_deadline_seconds = 1;
    free(w->template_->image);
    w->template_->image = strdup("busybox:2");
    ck_assert_int_eq(fleet_apply(f, &w, 1, "test.yaml", false, &c, NULL), 0);
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    rollout(ROLLOUT_PAUSE, 0, "deployments.apps \"web\" is already paused",
            CODE_FAILED_PRECONDITION);
    usleep(1200 * 1000);
    rollout(ROLLOUT_RESUME, 0, "resumed", 0);
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_str_eq(v.workloads[0]->status->conditions[1]->reason, "ReplicaSetUpdated");
    fleet_workloads_clear(&v);
    /* and without progress for that long, it is exceeded */
    usleep(1200 * 1000);
    berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL);
    berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL);
    ck_assert_int_eq(fleet_workloads_get(f, "web", &v, NULL), 0);
    ck_assert_str_eq(v.workloads[0]->status->conditions[1]->reason, "ProgressDeadlineExceeded");
    fleet_workloads_clear(&v);
}
END_TEST

/* The controller-revision-hash of the DaemonSet replica node name runs
 * ("" none). */
static void ds_hash(const char *name, char *buf, size_t size)
{
    berth_principal p = node(name);
    fleet_specs s;

    buf[0] = '\0';
    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &s, NULL), 0);
    for (size_t i = 0; i < s.n_specs; i++)
        for (size_t l = 0; l < s.specs[i]->n_labels; l++)
            if (strcmp(s.specs[i]->labels[l]->key, "controller-revision-hash") == 0)
                snprintf(buf, size, "%s", s.specs[i]->labels[l]->value);
    fleet_specs_clear(&s);
}

/* How many of the nodes run another revision than first's. */
static size_t ds_fresh(const char *const *nodes, const char *first)
{
    size_t n = 0;
    char h[16];

    for (int i = 0; i < 3; i++) {
        ds_hash(nodes[i], h, sizeof(h));
        n += strcmp(h, first) != 0;
    }
    return n;
}

static void apply_ds_with(const char *image, bool on_delete, uint32_t min_ready, int64_t cpu);

static void apply_ds(const char *image, bool on_delete)
{
    apply_ds_with(image, on_delete, 0, 0);
}

static void apply_ds_with(const char *image, bool on_delete, uint32_t min_ready, int64_t cpu)
{
    Workload *w = deployment("ds", 0);
    Resources r = RESOURCES_INIT;
    DeploymentStrategy ds = DEPLOYMENT_STRATEGY_INIT;
    berth_error *err = NULL;
    fleet_changes c;

    w->kind = WORKLOAD_DAEMONSET;
    w->min_ready_seconds = min_ready;
    if (w->template_->resources)
        BERTH_PB_FREE(w->template_->resources);
    w->template_->resources = NULL;
    if (cpu) {
        r.cpu_request_millis = cpu;
        w->template_->resources = BERTH_PB_COPY(Resources, &r);
    }
    free(w->template_->image);
    w->template_->image = strdup(image);
    ds.type = on_delete ? "OnDelete" : "RollingUpdate";
    w->strategy = BERTH_PB_COPY(DeploymentStrategy, &ds);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
}

/* A DaemonSet's new template reaches its nodes one at a time (its
 * maxUnavailable, 1 by default), each once the one before is Ready again;
 * OnDelete leaves running replicas as they are; undo goes back. */
START_TEST(a_daemonset_rolls_node_by_node)
{
    const char *nodes[] = { "n1", "n2", "n3" };
    char first[16], h[16], newest[16];
    fleet_workloads v;
    int rounds = 0;
    size_t fresh = 0;

    roll_name = "ds";

    fleet_up();
    for (int i = 0; i < 3; i++) {
        admit(nodes[i]);
        register_node(nodes[i]);
    }
    apply_ds("busybox:1", false);
    for (int i = 0; i < 3; i++)
        all_ready(nodes[i]);
    ds_hash("n1", first, sizeof(first));
    ck_assert_str_ne(first, "");
    ds_hash("n3", h, sizeof(h));
    ck_assert_str_eq(h, first);

    apply_ds("busybox:2", false);
    fresh = ds_fresh(nodes, first);
    ck_assert_uint_eq(fresh, 1); /* maxUnavailable 1: one node first */
    while (fresh < 3 && rounds++ < 20)
        for (int i = 0; i < 3; i++) {
            size_t before = fresh;

            /* a node's report of its replica Ready lets one more go */
            all_ready(nodes[i]);
            fresh = ds_fresh(nodes, first);
            ck_assert_uint_le(fresh, before + 1);
        }
    ck_assert_uint_eq(fresh, 3);
    ds_hash("n1", newest, sizeof(newest));
    {
        char ids[128];

        /* replaced in place: its name stays */
        assigned_ids("n2", ids, sizeof(ids));
        ck_assert_str_eq(ids, "ds.n2");
    }
    ck_assert_int_eq(fleet_workloads_get(f, "ds", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->updated, 3);
    ck_assert_uint_eq(v.workloads[0]->status->revision, 2);
    fleet_workloads_clear(&v);

    /* OnDelete: a new template waits on the nodes that run one */
    apply_ds("busybox:3", true);
    for (int i = 0; i < 3; i++)
        all_ready(nodes[i]);
    for (int i = 0; i < 3; i++) {
        ds_hash(nodes[i], h, sizeof(h));
        ck_assert_str_eq(h, newest);
    }
    /* undo: back to busybox:2's revision, rolled node by node */
    apply_ds("busybox:3", false);
    rollout(ROLLOUT_UNDO, 2, "rolled back", 0);
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 3; i++)
            all_ready(nodes[i]);
    for (int i = 0; i < 3; i++) {
        ds_hash(nodes[i], h, sizeof(h));
        ck_assert_str_eq(h, newest);
    }
    rollout(ROLLOUT_PAUSE, 0, "daemonsets.apps \"ds\" pausing is not supported",
            CODE_INVALID_ARGUMENT);
}
END_TEST

/* ---- Jobs ---- */

/* Node name reports container id (state, exit code), alone. */
static void report_one(const char *name, const char *id, ContainerState state, int exit_code)
{
    berth_principal p = node(name);
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    ContainerStatus s = CONTAINER_STATUS_INIT, *sp[] = { &s };
    berth_error *err = NULL;

    s.id = (char *)id;
    s.state = state;
    s.exit_code = exit_code;
    s.ready = state == CONTAINER_RUNNING;
    rs.containers = sp;
    rs.n_containers = 1;
    ck_assert_msg(fleet_node_report(f, &p, &rs, &err) == 0, "%s", err ? err->msg : "");
    for (int i = 0; i < 3; i++)
        berth_loop_run_once(loop, 60 * BERTH_NSEC_PER_MSEC, NULL);
}

static void apply_job(const char *name, uint32_t completions, uint32_t parallelism,
                      uint32_t backoff, bool indexed, int ttl)
{
    Workload *w = deployment(name, 0);
    JobSpec js = JOB_SPEC_INIT;
    berth_error *err = NULL;
    fleet_changes c;

    w->kind = WORKLOAD_JOB;
    w->template_->restart_policy = RESTART_NEVER;
    js.completions = completions;
    js.parallelism = parallelism;
    js.backoff_limit = backoff;
    js.indexed = indexed;
    js.has_ttl_seconds_after_finished = ttl >= 0;
    js.ttl_seconds_after_finished = ttl >= 0 ? (uint32_t)ttl : 0;
    w->job = BERTH_PB_COPY(JobSpec, &js);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
}

static const JobState *job_state(fleet_workloads *v, const char *name)
{
    ck_assert_int_eq(fleet_workloads_get(f, name, v, NULL), 0);
    ck_assert_ptr_nonnull(v->workloads[0]->status->job);
    return v->workloads[0]->status->job;
}

/* A Job runs parallelism pods at a time until completions succeeded; an
 * ended pod stays where it ran and never runs again; the state survives a
 * restart; a failure past backoffLimit fails it; its template cannot
 * change; Indexed pods know their index; ttlSecondsAfterFinished deletes
 * it. */
START_TEST(a_job_runs_to_completion)
{
    char ids[512];
    fleet_workloads v;
    const JobState *js;
    berth_principal p = node("n1");
    fleet_specs sp;
    Workload *w;
    fleet_changes c;
    berth_error *err = NULL;

    fleet_up();
    admit("n1");
    register_node("n1");
    apply_job("batch", 3, 2, 6, false, -1);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "batch-0 batch-1");
    report_one("n1", "batch-0", CONTAINER_RUNNING, 0);
    report_one("n1", "batch-0", CONTAINER_EXITED, 0);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "batch-0 batch-1 batch-2"); /* batch-0 stays, done */
    js = job_state(&v, "batch");
    ck_assert_uint_eq(js->succeeded, 1);
    ck_assert_str_eq(js->finished, "");
    fleet_workloads_clear(&v);

    /* its template is Kubernetes' immutable */
    w = deployment("batch", 0);
    w->kind = WORKLOAD_JOB;
    w->template_->restart_policy = RESTART_NEVER;
    free(w->template_->image);
    w->template_->image = strdup("busybox:2");
    ck_assert_fails(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err), err, CODE_INVALID_ARGUMENT,
                    "apply test.yaml: Job batch: spec.template, completions and completionMode are "
                    "immutable (delete the Job and apply it again)");
    BERTH_PB_FREE(w);

    /* a restart of the controller loses nothing */
    fleet_down();
    fleet_up();
    register_node("n1");
    report_one("n1", "batch-1", CONTAINER_EXITED, 0);
    report_one("n1", "batch-2", CONTAINER_EXITED, 0);
    js = job_state(&v, "batch");
    ck_assert_uint_eq(js->succeeded, 3);
    ck_assert_str_eq(js->finished, "Complete");
    ck_assert_str_eq(v.workloads[0]->status->conditions[0]->type, "Complete");
    fleet_workloads_clear(&v);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "batch-0 batch-1 batch-2"); /* kept, with their logs */

    /* a failure past backoffLimit 0: Failed, its running pods taken away */
    apply_job("fails", 2, 2, 0, false, -1);
    report_one("n1", "fails-0", CONTAINER_EXITED, 3);
    js = job_state(&v, "fails");
    ck_assert_str_eq(js->finished, "Failed");
    ck_assert_str_eq(js->reason, "BackoffLimitExceeded");
    ck_assert_uint_eq(js->failed, 1);
    fleet_workloads_clear(&v);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_null(strstr(ids, "fails-1"));
    ck_assert_ptr_nonnull(strstr(ids, "fails-0"));

    /* Indexed: each pod its completion index */
    apply_job("idx", 2, 2, 6, true, 0);
    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &sp, NULL), 0);
    for (size_t i = 0, found = 0; i < sp.n_specs; i++) {
        if (strncmp(sp.specs[i]->id, "idx-", 4) != 0)
            continue;
        ck_assert_uint_ge(sp.specs[i]->n_env, 1);
        /* this Job's pods, not those of one of its name before it */
        {
            bool uid = false;

            for (size_t l = 0; l < sp.specs[i]->n_labels; l++)
                uid |=
                    strcmp(sp.specs[i]->labels[l]->key, "batch.kubernetes.io/controller-uid") == 0;
            ck_assert(uid);
        }
        ck_assert_str_eq(sp.specs[i]->env[sp.specs[i]->n_env - 1],
                         found++ == 0 ? "JOB_COMPLETION_INDEX=0" : "JOB_COMPLETION_INDEX=1");
    }
    fleet_specs_clear(&sp);
    /* done, and ttlSecondsAfterFinished 0: deleted at once */
    report_one("n1", "idx-0", CONTAINER_EXITED, 0);
    report_one("n1", "idx-1", CONTAINER_EXITED, 0);
    for (int i = 0; i < 5; i++)
        berth_loop_run_once(loop, 60 * BERTH_NSEC_PER_MSEC, NULL);
    ck_assert_int_lt(fleet_workloads_get(f, "idx", &v, NULL), 0);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_null(strstr(ids, "idx-"));
}
END_TEST

/* podFailurePolicy: a failure whose exit code an Ignore rule names is not
 * counted (the pod goes and is replaced at once, no backoff); one a
 * FailJob rule names fails the Job, saying which rule. */
START_TEST(a_pod_failure_policy_ignores_and_fails)
{
    Workload *w = deployment("pfp", 0);
    JobSpec js = JOB_SPEC_INIT;
    PodFailurePolicyRule ignore = POD_FAILURE_POLICY_RULE_INIT, fail = POD_FAILURE_POLICY_RULE_INIT;
    PodFailurePolicyRule *rules[] = { &ignore, &fail };
    PodFailurePolicyOnExitCodes three = POD_FAILURE_POLICY_ON_EXIT_CODES_INIT,
                                answer = POD_FAILURE_POLICY_ON_EXIT_CODES_INIT;
    int32_t v3[] = { 3 }, v42[] = { 42, 43 };
    berth_error *err = NULL;
    fleet_workloads v;
    const JobState *state;
    fleet_changes c;
    char ids[256];

    fleet_up();
    admit("n1");
    register_node("n1");
    w->kind = WORKLOAD_JOB;
    w->template_->restart_policy = RESTART_NEVER;
    js.completions = 3;
    js.parallelism = 2;
    js.backoff_limit = 6;
    three.operator_ = "In";
    three.values = v3;
    three.n_values = 1;
    ignore.action = "Ignore";
    ignore.on_exit_codes = &three;
    answer.operator_ = "In";
    answer.values = v42;
    answer.n_values = 2;
    fail.action = "FailJob";
    fail.on_exit_codes = &answer;
    js.pod_failure_policy = rules;
    js.n_pod_failure_policy = 2;
    w->job = BERTH_PB_COPY(JobSpec, &js);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    /* exit 3: ignored, replaced at once */
    report_one("n1", "pfp-0", CONTAINER_EXITED, 3);
    state = job_state(&v, "pfp");
    ck_assert_uint_eq(state->failed, 0);
    ck_assert_int_eq(state->next_start_unix_ns, 0);
    ck_assert_str_eq(state->finished, "");
    fleet_workloads_clear(&v);
    /* the ignored pod goes (Kubernetes deletes it), another replaces it */
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_str_eq(ids, "pfp-1 pfp-2");
    /* exit 1: no rule, counted */
    report_one("n1", "pfp-1", CONTAINER_EXITED, 1);
    state = job_state(&v, "pfp");
    ck_assert_uint_eq(state->failed, 1);
    ck_assert_str_eq(state->finished, "");
    fleet_workloads_clear(&v);
    /* exit 43: FailJob */
    report_one("n1", "pfp-2", CONTAINER_EXITED, 43);
    state = job_state(&v, "pfp");
    ck_assert_str_eq(state->finished, "Failed");
    ck_assert_str_eq(state->reason, "PodFailurePolicy");
    ck_assert_str_eq(state->message, "Container pfp-2 for pod default/pfp-2 failed with exit code "
                                     "43 matching FailJob rule at index 1");
    ck_assert_uint_eq(state->failed, 2);
    fleet_workloads_clear(&v);
}
END_TEST

/* Eviction: a replica moves to another node (not back onto the one it
 * left, cordoned or not); a budget that cannot spare a Ready one refuses,
 * naming itself; a pod that ended stays where it ran and says so; names
 * that are no pod's are refused. */
START_TEST(evictions_move_replicas_within_their_budget)
{
    EvictPodRequest req = EVICT_POD_REQUEST_INIT;
    PodDisruptionBudget b = POD_DISRUPTION_BUDGET_INIT, *bp[] = { &b };
    IntOrPercent one = INT_OR_PERCENT_INIT;
    LabelSelector all = LABEL_SELECTOR_INIT;
    berth_error *err = NULL;
    fleet_changes c;
    char node[64], ids[512], first[64];
    bool ended = true;

    fleet_up();
    admit("n1");
    admit("n2");
    register_node("n1");
    register_node("n2");
    apply_job("once", 1, 1, 6, false, -1);
    ck_assert_int_eq(apply_one("web", 2, false), APPLY_CREATED);
    all_ready("n1");
    all_ready("n2");
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_int_eq(sscanf(ids, "%63s", first), 1);
    /* the web replica on n1 moves to n2 */
    {
        char *w = strstr(ids, "web-");

        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(sscanf(w, "%63s", first), 1);
    }
    req.name = first;
    ck_assert_int_eq(fleet_evict(f, &req, "op", node, sizeof(node), &ended, &err), 0);
    ck_assert_str_eq(node, "n1");
    ck_assert(!ended);
    assigned_ids("n2", ids, sizeof(ids));
    ck_assert_ptr_nonnull(strstr(ids, first));
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_null(strstr(ids, first));

    /* a budget of maxUnavailable 1 over every pod of the namespace (web's
     * two and the Job's): with the one just moved not Ready yet, a Ready
     * one may not go */
    one.value = 1;
    b.name = "web";
    b.namespace_ = "default";
    b.max_unavailable = &one;
    b.selector = &all;
    b.unhealthy_pod_eviction_policy = "IfHealthyBudget";
    ck_assert_int_eq(
        fleet_apply_all(f, &(fleet_apply_in){ .budgets = bp, .n_budgets = 1, .source = "pdb.yaml" },
                        &c, &err),
        0);
    fleet_changes_clear(&c);
    assigned_ids("n2", ids, sizeof(ids));
    {
        char other[64], *w = strstr(ids, "web-");

        /* the replica that was on n2 all along, Ready */
        if (strncmp(w, first, strlen(first)) == 0)
            w = strstr(w + 1, "web-");
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(sscanf(w, "%63s", other), 1);
        req.name = other;
        ck_assert_fails(fleet_evict(f, &req, "op", node, sizeof(node), &ended, &err), err,
                        CODE_RESOURCE_EXHAUSTED,
                        "Cannot evict pod as it would violate the pod's disruption budget "
                        "\"web\" (2 of 3 pods healthy, 2 needed); not Ready: web-75bb8fcdbf-1 on "
                        "n2");
    }
    /* the Job's pod, once it succeeded: it stays, ended */
    report_one("n1", "once-0", CONTAINER_EXITED, 0);
    req.name = "once-0";
    ck_assert_int_eq(fleet_evict(f, &req, "op", node, sizeof(node), &ended, &err), 0);
    ck_assert(ended);
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_nonnull(strstr(ids, "once-0"));
    /* no pod's names */
    req.name = "team__web-0";
    ck_assert_fails(fleet_evict(f, &req, "op", node, sizeof(node), &ended, &err), err,
                    CODE_INVALID_ARGUMENT, "'team__web-0' is not a pod's name");
    req.name = "nope-0";
    ck_assert_fails(fleet_evict(f, &req, "op", node, sizeof(node), &ended, &err), err,
                    CODE_NOT_FOUND, "pod nope-0 not found");
}
END_TEST

/* ---- Secrets and ConfigMaps ---- */

/* Admit node name with a real key (kp): what the controller seals to. */
static void admit_with_key(const char *name, berth_keypair *kp)
{
    berth_principal p = node(name);
    berth_store_node rec = { 0 };

    ck_assert_int_eq(berth_keypair_generate(kp, NULL), 0);
    snprintf(rec.name, sizeof(rec.name), "%s", name);
    memcpy(rec.id, p.id, BERTH_ID_LEN);
    memcpy(rec.keys[0], kp->pk, BERTH_PUBKEY_LEN);
    rec.n_keys = 1;
    rec.phase = NODE_UNKNOWN;
    ck_assert_int_eq(berth_store_node_put(st, &rec, NULL), 0);
    if (f)
        ck_assert_int_eq(fleet_node_reload(f, name, NULL), 0);
}

static ConfigObject *secret_of(const char *name, const char *value)
{
    ConfigObject o = CONFIG_OBJECT_INIT;
    ConfigObject_DataEntry e = CONFIG_OBJECT_DATA_ENTRY_INIT, *ep[] = { &e };

    o.kind = CONFIG_SECRET;
    o.name = (char *)name;
    o.type = "Opaque";
    e.key = "password";
    e.value.data = (uint8_t *)value;
    e.value.len = strlen(value);
    o.data = ep;
    o.n_data = 1;
    return BERTH_PB_COPY(ConfigObject, &o);
}

static int apply_object(ConfigObject *o, berth_error **err)
{
    fleet_changes c;
    int r = fleet_apply_all(
        f, &(fleet_apply_in){ .objects = &o, .n_objects = 1, .source = "s.yaml" }, &c, err);

    if (r == 0)
        fleet_changes_clear(&c);
    config_object_free_unpacked(o, NULL);
    return r;
}

/* Whether a file holds text. */
static bool file_has(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    bool has;

    if (berth_read_file_at(AT_FDCWD, path, 64 << 20, &data, &len, NULL) < 0)
        return false;
    has = memmem(data, len, text, strlen(text)) != NULL;
    free(data);
    return has;
}

/* The value node name's assignments carry for Secret db, opened with its
 * key ("" when none was sent). */
static void node_secret(const char *name, const berth_keypair *kp, char *buf, size_t size)
{
    berth_principal p = node(name);
    uint8_t bpk[crypto_box_PUBLICKEYBYTES], bsk[crypto_box_SECRETKEYBYTES];
    fleet_specs s;

    buf[0] = '\0';
    ck_assert_int_eq(fleet_node_assignments(f, &p, 0, &s, NULL), 0);
    ck_assert_int_eq(crypto_sign_ed25519_pk_to_curve25519(bpk, kp->pk), 0);
    ck_assert_int_eq(crypto_sign_ed25519_sk_to_curve25519(bsk, kp->sk), 0);
    for (size_t i = 0; i < s.n_objects; i++) {
        const ProtobufCBinaryData *d = &s.objects[i]->sealed[0];
        uint8_t plain[4096];
        ConfigObject *o;

        ck_assert_uint_eq(s.objects[i]->n_sealed, 1);
        ck_assert_int_eq(crypto_box_seal_open(plain, d->data, d->len, bpk, bsk), 0);
        o = config_object_unpack(NULL, d->len - crypto_box_SEALBYTES, plain);
        ck_assert_ptr_nonnull(o);
        snprintf(buf, size, "%.*s", (int)o->data[0]->value.len, o->data[0]->value.data);
        config_object_free_unpacked(o, NULL);
    }
    fleet_specs_clear(&s);
}

/* A Secret's value: never in the database (sealed under the controller's
 * key, which opens it again after a restart and no other does); sent only
 * to the node whose pod names it, sealed to that node's key; a change
 * moves that node's generation only; an immutable one does not change;
 * listings show it only when asked, with an event. */
START_TEST(secrets_are_sealed_and_go_only_where_used)
{
    berth_keypair k1, k2;
    berth_error *err = NULL;
    ListObjectsRequest lr = LIST_OBJECTS_REQUEST_INIT;
    ConfigObject **v;
    size_t n;
    char got[256], wal[160];
    Workload *w;
    fleet_changes c;
    uint64_t gen1, gen2;

    memset(cfg.secrets_key, 7, sizeof(cfg.secrets_key));
    fleet_up();
    admit_with_key("n1", &k1);
    admit_with_key("n2", &k2);
    register_node("n1");
    register_node("n2");
    ck_assert_int_eq(apply_object(secret_of("db", "hunter2-value-one"), &err), 0);
    snprintf(wal, sizeof(wal), "%s-wal", db);
    ck_assert(!file_has(db, "hunter2-value-one") && !file_has(wal, "hunter2-value-one"));
    /* a pod on n1 naming it */
    w = deployment("app", 1);
    w->kind = WORKLOAD_POD;
    w->node_name = strdup("n1");
    {
        EnvKeyRef r = ENV_KEY_REF_INIT, *rp[] = { &r };

        r.name = "PW";
        r.kind = CONFIG_SECRET;
        r.object = "db";
        r.key = "password";
        w->template_->env_key_refs = calloc(1, sizeof(*rp));
        w->template_->env_key_refs[0] = BERTH_PB_COPY(EnvKeyRef, &r);
        w->template_->n_env_key_refs = 1;
    }
    ck_assert_msg(fleet_apply(f, &w, 1, "app.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    node_secret("n1", &k1, got, sizeof(got));
    ck_assert_str_eq(got, "hunter2-value-one");
    node_secret("n2", &k2, got, sizeof(got));
    ck_assert_str_eq(got, "");
    /* changed: n1's generation moves, n2's does not */
    {
        berth_principal p1 = node("n1"), p2 = node("n2");
        fleet_specs s;

        ck_assert_int_eq(fleet_node_assignments(f, &p1, 0, &s, NULL), 0);
        gen1 = s.generation;
        fleet_specs_clear(&s);
        ck_assert_int_eq(fleet_node_assignments(f, &p2, 0, &s, NULL), 0);
        gen2 = s.generation;
        fleet_specs_clear(&s);
        ck_assert_int_eq(apply_object(secret_of("db", "hunter2-value-two"), &err), 0);
        ck_assert_int_eq(fleet_node_assignments(f, &p1, 0, &s, NULL), 0);
        ck_assert_uint_gt(s.generation, gen1);
        fleet_specs_clear(&s);
        ck_assert_int_eq(fleet_node_assignments(f, &p2, 0, &s, NULL), 0);
        ck_assert_uint_eq(s.generation, gen2);
        fleet_specs_clear(&s);
    }
    node_secret("n1", &k1, got, sizeof(got));
    ck_assert_str_eq(got, "hunter2-value-two");
    /* immutable */
    {
        ConfigObject *o = secret_of("imm", "x");

        o->immutable = true;
        ck_assert_int_eq(apply_object(o, &err), 0);
        ck_assert_fails(apply_object(secret_of("imm", "y"), &err), err, CODE_INVALID_ARGUMENT,
                        "apply s.yaml: Secret imm is immutable: its data and type cannot change "
                        "(delete it and apply it again)");
    }
    /* a Secret's type does not change (Kubernetes') */
    {
        ConfigObject *o = secret_of("db", "hunter2-value-two");

        free(o->type);
        o->type = strdup("kubernetes.io/basic-auth");
        ck_assert_fails(apply_object(o, &err), err, CODE_INVALID_ARGUMENT,
                        "apply s.yaml: Secret db: its type is immutable (Opaque; delete it and "
                        "apply it again)");
    }
    /* listings: sizes, values only when asked, by name, with an event */
    lr.kind = CONFIG_SECRET;
    lr.name = "db";
    lr.namespace_ = "default";
    ck_assert_int_eq(fleet_objects_list(f, &lr, "alice", &v, &n, NULL), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(v[0]->n_data, 0);
    ck_assert_uint_eq(v[0]->n_sizes, 1);
    ck_assert_uint_eq(v[0]->sizes[0]->value, 17);
    fleet_objects_list_free(v, n);
    lr.name = "";
    lr.reveal = true;
    ck_assert_fails(fleet_objects_list(f, &lr, "alice", &v, &n, &err), err, CODE_INVALID_ARGUMENT,
                    "a Secret's values are shown one Secret at a time: name it, in its "
                    "namespace");
    /* a restart: sealed in the store, opened again with the same key */
    fleet_down();
    ck_assert(!file_has(db, "hunter2-value-two") && !file_has(wal, "hunter2-value-two"));
    fleet_up();
    lr.name = "db";
    ck_assert_int_eq(fleet_objects_list(f, &lr, "alice", &v, &n, NULL), 0);
    ck_assert_uint_eq(v[0]->n_data, 1);
    ck_assert_mem_eq(v[0]->data[0]->value.data, "hunter2-value-two", 17);
    fleet_objects_list_free(v, n);
    fleet_down();
    /* the name beside the sealed values renamed in the database: the
     * values are bound to their row, so it opens as nothing else */
    {
        sqlite3 *raw;
        sqlite3_stmt *q;
        ConfigObject *o;
        uint8_t buf[4096], orig[4096];
        size_t len, orig_len;

        ck_assert_int_eq(sqlite3_open(db, &raw), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(raw,
                                            "SELECT object FROM objects WHERE key = "
                                            "'secret/default/db'",
                                            -1, &q, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        orig_len = (size_t)sqlite3_column_bytes(q, 0);
        ck_assert_uint_le(orig_len, sizeof(orig));
        memcpy(orig, sqlite3_column_blob(q, 0), orig_len);
        sqlite3_finalize(q);
        o = config_object_unpack(NULL, orig_len, orig);
        ck_assert_ptr_nonnull(o);
        o->name[1] = 'x'; /* "dx" */
        len = config_object_get_packed_size(o);
        ck_assert_uint_le(len, sizeof(buf));
        config_object_pack(o, buf);
        config_object_free_unpacked(o, NULL);
        ck_assert_int_eq(sqlite3_prepare_v2(raw,
                                            "UPDATE objects SET object = ?1 WHERE key = "
                                            "'secret/default/db'",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(q, 1, buf, (int)len, SQLITE_STATIC);
        ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
        sqlite3_reset(q);
        sqlite3_bind_blob(q, 1, orig, (int)orig_len, SQLITE_STATIC); /* put back below */
        ck_assert_int_eq(berth_store_open(db, &st, NULL), 0);
        policy = berth_policy_sqlite_new(st, &key, NULL, NULL);
        cfg.store = st;
        cfg.policy = policy;
        f = fleet_new(&cfg, &(fleet_effects){ .wake = on_wake });
        ck_assert_int_lt(fleet_load(f, &err), 0);
        ck_assert_msg(strstr(err->msg, "secret/default/db: the row holds secret/default/dx"), "%s",
                      err->msg);
        berth_error_free(&err);
        fleet_down();
        ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
        sqlite3_finalize(q);
        sqlite3_close(raw);
    }
    /* another controller's key opens nothing */
    memset(cfg.secrets_key, 8, sizeof(cfg.secrets_key));
    ck_assert_int_eq(berth_store_open(db, &st, NULL), 0);
    policy = berth_policy_sqlite_new(st, &key, NULL, NULL);
    cfg.store = st;
    cfg.policy = policy;
    f = fleet_new(&cfg, &(fleet_effects){ .wake = on_wake });
    ck_assert_int_lt(fleet_load(f, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "do not open with this controller's key"));
    berth_error_free(&err);
}
END_TEST

/* A node's objects outgrowing one answer: what does not fit is left out
 * (its pods wait for it) and an event says so once per generation, not
 * at every GetAssignments. */
static size_t objects_too_large_events(void)
{
    ListEventsRequest q = LIST_EVENTS_REQUEST_INIT;
    fleet_events ev;
    size_t n = 0;

    q.object_kind = "Node";
    q.object_name = "n1";
    ck_assert_int_eq(fleet_events_list(f, &q, &ev, NULL), 0);
    for (size_t i = 0; i < ev.n_events; i++)
        n += strcmp(ev.events[i]->reason, "ObjectsTooLarge") == 0;
    fleet_events_clear(&ev);
    return n;
}

START_TEST(objects_over_the_cap_are_left_out_once)
{
    berth_keypair k1;
    berth_error *err = NULL;
    berth_principal p1;
    char *big = malloc(900 << 10), name[8];
    Workload *w;
    fleet_changes c;
    fleet_specs s;

    memset(cfg.secrets_key, 7, sizeof(cfg.secrets_key));
    fleet_up();
    admit_with_key("n1", &k1);
    register_node("n1");
    p1 = node("n1");
    memset(big, 'v', (900 << 10) - 1);
    big[(900 << 10) - 1] = '\0';
    w = deployment("app", 1);
    w->kind = WORKLOAD_POD;
    w->node_name = strdup("n1");
    w->template_->env_key_refs = calloc(4, sizeof(EnvKeyRef *));
    for (int i = 0; i < 4; i++) {
        EnvKeyRef r = ENV_KEY_REF_INIT;

        snprintf(name, sizeof(name), "s%d", i);
        ck_assert_int_eq(apply_object(secret_of(name, big), &err), 0);
        r.name = name;
        r.kind = CONFIG_SECRET;
        r.object = name;
        r.key = "password";
        w->template_->env_key_refs[w->template_->n_env_key_refs++] = BERTH_PB_COPY(EnvKeyRef, &r);
    }
    free(big);
    ck_assert_msg(fleet_apply(f, &w, 1, "app.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(fleet_node_assignments(f, &p1, 0, &s, NULL), 0);
        ck_assert_uint_eq(s.n_objects, 3);
        fleet_specs_clear(&s);
    }
    ck_assert_uint_eq(objects_too_large_events(), 1);
}
END_TEST

/* What a review found: a restart of the controller mid-rollout (every
 * Ready replica not yet available for minReadySeconds again) moves no
 * more nodes than maxUnavailable; a new template that fits no node
 * leaves the old replicas where they run but one. */
START_TEST(a_daemonset_rollout_keeps_its_budget)
{
    const char *nodes[] = { "n1", "n2", "n3" };
    char first[16];
    size_t running = 0;

    fleet_up();
    for (int i = 0; i < 3; i++) {
        admit(nodes[i]);
        register_node(nodes[i]);
    }
    apply_ds_with("busybox:1", false, 1, 0);
    for (int i = 0; i < 3; i++)
        all_ready(nodes[i]);
    ds_hash("n1", first, sizeof(first));
    usleep(1100 * 1000);
    for (int i = 0; i < 3; i++)
        all_ready(nodes[i]);
    apply_ds_with("busybox:2", false, 1, 0);
    ck_assert_uint_eq(ds_fresh(nodes, first), 1);
    fleet_down();
    fleet_up();
    for (int i = 0; i < 3; i++)
        register_node(nodes[i]);
    for (int i = 0; i < 3; i++)
        all_ready(nodes[i]);
    /* Ready again, not yet for minReadySeconds: the budget is spent */
    ck_assert_uint_le(ds_fresh(nodes, first), 1);

    /* 3 CPUs: no node has them; one node at most loses its replica */
    apply_ds_with("busybox:3", false, 0, 3000);
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 3; i++)
            all_ready(nodes[i]);
    for (int i = 0; i < 3; i++) {
        char h[16];

        ds_hash(nodes[i], h, sizeof(h));
        running += *h != '\0';
    }
    ck_assert_uint_ge(running, 2);
}
END_TEST

/* ---- CronJobs ---- */

static int take_first_workload(void *data, Workload *w)
{
    Workload **ret = data;

    if (*ret)
        workload_free_unpacked(w, NULL);
    else
        *ret = w;
    return 0;
}

/* A CronJob made 3 minutes ago (its store row changed while the
 * controller was away): at the next start its latest missed minute runs,
 * once, as a Job of its own; deleting it deletes its Jobs. */
START_TEST(a_cronjob_makes_its_jobs)
{
    Workload *w = deployment("tick", 0), *stored = NULL;
    CronJobSpec cs = CRON_JOB_SPEC_INIT;
    JobSpec js = JOB_SPEC_INIT;
    berth_error *err = NULL;
    fleet_changes c;
    fleet_workloads v;
    char ids[512];
    size_t jobs = 0;

    fleet_up();
    admit("n1");
    register_node("n1");
    w->kind = WORKLOAD_CRONJOB;
    w->template_->restart_policy = RESTART_NEVER;
    cs.schedule = "* * * * *";
    cs.concurrency_policy = "Forbid";
    cs.successful_jobs_history_limit = 3;
    cs.failed_jobs_history_limit = 1;
    w->cron = BERTH_PB_COPY(CronJobSpec, &cs);
    js.completions = js.parallelism = 1;
    js.backoff_limit = 6;
    w->job = BERTH_PB_COPY(JobSpec, &js);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    /* others around it, so that making a Job moves the fleet's array */
    for (int i = 0; i < 8; i++) {
        char name[16];

        snprintf(name, sizeof(name), "other%d", i);
        apply_one(name, 0, false);
    }
    fleet_down();
    ck_assert_int_eq(berth_store_open(db, &st, NULL), 0);
    ck_assert_int_eq(berth_store_workloads_load(st, take_first_workload, &stored, NULL), 0);
    ck_assert_str_eq(stored->name, "tick");
    stored->created_unix_ns -= 180 * BERTH_NSEC_PER_SEC;
    ck_assert_int_eq(berth_store_workload_put(st, stored, NULL), 0);
    workload_free_unpacked(stored, NULL);
    berth_store_close(st);
    fleet_up();
    register_node("n1");
    ck_assert_int_eq(fleet_reconcile(f, NULL), 0);
    for (int i = 0; i < 5; i++)
        berth_loop_run_once(loop, 50 * BERTH_NSEC_PER_MSEC, NULL);
    ck_assert_int_eq(fleet_workloads_get(f, "tick", &v, NULL), 0);
    ck_assert_ptr_nonnull(v.workloads[0]->status->job);
    ck_assert_int_gt(v.workloads[0]->status->job->last_schedule_unix, 0);
    fleet_workloads_clear(&v);
    {
        ListWorkloadsRequest req = LIST_WORKLOADS_REQUEST_INIT;

        fleet_workloads_list(f, &req, &v);
        for (size_t i = 0; i < v.n_workloads; i++)
            jobs += v.workloads[i]->kind == WORKLOAD_JOB &&
                    strncmp(v.workloads[i]->name, "tick-", 5) == 0;
        fleet_workloads_clear(&v);
    }
    ck_assert_uint_eq(jobs, 1); /* the latest missed minute, once */
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_nonnull(strstr(ids, "tick-"));
    /* kubectl create job --from=cronjob/tick: one of its Jobs, by hand */
    {
        CreateJobRequest req = CREATE_JOB_REQUEST_INIT;

        req.name = "tick-now";
        req.from_cronjob = "tick";
        req.dry_run = true;
        ck_assert_int_eq(fleet_cron_create_job(f, &req, "op", &c, &err), 0);
        ck_assert_uint_eq(c.n_items, 1);
        ck_assert_int_eq(c.items[0].action, APPLY_CREATED);
        fleet_changes_clear(&c);
        ck_assert_fails(fleet_workloads_get(f, "tick-now", &v, &err), err, CODE_NOT_FOUND,
                        "workload tick-now not found");
        req.dry_run = false;
        ck_assert_int_eq(fleet_cron_create_job(f, &req, "op", &c, &err), 0);
        fleet_changes_clear(&c);
        ck_assert_int_eq(fleet_workloads_get(f, "tick-now", &v, NULL), 0);
        ck_assert_int_eq(v.workloads[0]->kind, WORKLOAD_JOB);
        ck_assert_str_eq(v.workloads[0]->source, "cronjob/tick");
        fleet_workloads_clear(&v);
        ck_assert_fails(fleet_cron_create_job(f, &req, "op", &c, &err), err, CODE_ALREADY_EXISTS,
                        "jobs.batch \"tick-now\" already exists");
        req.from_cronjob = "other0";
        req.name = "x";
        ck_assert_fails(fleet_cron_create_job(f, &req, "op", &c, &err), err, CODE_NOT_FOUND,
                        "cronjobs.batch \"other0\" not found");
        req.name = "X_";
        ck_assert_fails(fleet_cron_create_job(f, &req, "op", &c, &err), err, CODE_INVALID_ARGUMENT,
                        "'X_' is not a valid Job name (1-53 of a-z 0-9 -, starting and ending "
                        "with a letter or digit)");
    }
    /* deleted: its Jobs too (the one made by hand among them) */
    {
        const char *tick_key = "tick";

        ck_assert_int_eq(fleet_delete_workloads(f, &tick_key, 1, "op", false, &c, NULL), 0);
        ck_assert_uint_eq(c.n_items, 3);
        fleet_changes_clear(&c);
    }
    assigned_ids("n1", ids, sizeof(ids));
    ck_assert_ptr_null(strstr(ids, "tick-"));
}
END_TEST

/* /metrics: nodes by phase, workloads by kind, replicas wanted and not
 * placed, placements measured (the text a scrape gets, in part). */
static char *fleet_text(void)
{
    berth_prom w;
    size_t len;

    berth_prom_init(&w);
    fleet_write_metrics(f, &w);
    return berth_prom_steal(&w, &len);
}

START_TEST(metrics_count_nodes_workloads_and_pending_replicas)
{
    char *text;

    fleet_up();
    admit("n1");
    admit("n2");
    /* no node Ready: both replicas wait */
    ck_assert_int_eq(apply_one("web", 2, false), APPLY_CREATED);
    text = fleet_text();
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_nodes{phase=\"Unknown\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_nodes{phase=\"Ready\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_workloads{kind=\"Deployment\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_workloads{kind=\"Job\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_replicas_desired 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_replicas_pending 2\n"));
    free(text);
    /* a node Ready takes them */
    register_node("n1");
    text = fleet_text();
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_nodes{phase=\"Ready\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_nodes{phase=\"Unknown\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nberth_controller_replicas_pending 0\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "# TYPE berth_controller_placement_duration_seconds histogram\n"));
    ck_assert_ptr_null(strstr(text, "\nberth_controller_placement_duration_seconds_count 0\n"));
    free(text);
}
END_TEST

/* Extended resources: placement counts each node's as its agent last
 * registered them, so a node whose devices change registers again and
 * pending replicas get their place; describe node shows what is handed
 * out. */
START_TEST(extended_resources_follow_the_nodes_registrations)
{
    Workload *w = deployment("gpu", 2);
    Resources r = RESOURCES_INIT;
    Resources_ExtendedEntry e = RESOURCES_EXTENDED_ENTRY_INIT, *ep[] = { &e };
    berth_error *err = NULL;
    fleet_changes c;
    fleet_workloads v;
    fleet_nodes nodes;

    fleet_up();
    admit("n1");
    register_node_with("n1", "example.com/dev", 2);
    e.key = "example.com/dev";
    e.value = 2;
    r.extended = ep;
    r.n_extended = 1;
    w->template_->resources = BERTH_PB_COPY(Resources, &r);
    ck_assert_msg(fleet_apply(f, &w, 1, "test.yaml", false, &c, &err) == 0, "%s",
                  err ? err->msg : "");
    fleet_changes_clear(&c);
    BERTH_PB_FREE(w);
    ck_assert_uint_eq(assigned("n1"), 1);
    ck_assert_int_eq(fleet_workloads_get(f, "gpu", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->unschedulable, 1);
    ck_assert_str_eq(v.workloads[0]->status->message,
                     "0/1 nodes can take a replica: 1 Insufficient example.com/dev");
    fleet_workloads_clear(&v);
    ck_assert_int_eq(fleet_nodes_get(f, "n1", &nodes, NULL), 0);
    ck_assert_uint_eq(nodes.nodes[0]->allocated->n_extended, 1);
    ck_assert_str_eq(nodes.nodes[0]->allocated->extended[0]->key, "example.com/dev");
    ck_assert_int_eq(nodes.nodes[0]->allocated->extended[0]->value, 2);
    ck_assert_int_eq(nodes.nodes[0]->info->capacity->extended[0]->value, 2);
    fleet_nodes_clear(&nodes);

    /* two more devices: the pending replica goes there */
    register_node_with("n1", "example.com/dev", 4);
    ck_assert_uint_eq(assigned("n1"), 2);
    ck_assert_int_eq(fleet_workloads_get(f, "gpu", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->unschedulable, 0);
    fleet_workloads_clear(&v);
    ck_assert_int_eq(fleet_nodes_get(f, "n1", &nodes, NULL), 0);
    ck_assert_int_eq(nodes.nodes[0]->allocated->extended[0]->value, 4);
    fleet_nodes_clear(&nodes);

    /* the same after a restart of the controller */
    fleet_down();
    fleet_up();
    ck_assert_uint_eq(assigned("n1"), 2);
    /* two gone: the running replicas keep theirs, as in Kubernetes */
    register_node_with("n1", "example.com/dev", 2);
    ck_assert_uint_eq(assigned("n1"), 2);
    ck_assert_int_eq(fleet_workloads_get(f, "gpu", &v, NULL), 0);
    ck_assert_uint_eq(v.workloads[0]->status->unschedulable, 0);
    fleet_workloads_clear(&v);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("controller-fleet");
    TCase *tc = tcase_create("fleet");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, apply_creates_configures_and_places);
    tcase_add_test(tc, apply_warns_and_refuses);
    tcase_add_test(tc, apply_past_the_limit_is_refused);
    tcase_add_test(tc, delete_takes_replicas_off_and_names_twice_are_once);
    tcase_add_test(tc, a_failing_store_is_unavailable_and_changes_nothing);
    tcase_add_test(tc, load_leaves_out_a_workload_without_template);
    tcase_add_test(tc, node_calls_are_about_the_caller);
    tcase_add_test(tc, operators_see_the_codes_they_always_saw);
    tcase_add_test(tc, a_container_on_two_nodes_must_be_named_with_its_node);
    tcase_add_test(tc, a_node_cannot_report_another_nodes_container);
    tcase_add_test(tc, an_older_picture_is_refused_as_stale);
    tcase_add_test(tc, namespaces_hold_workloads_and_go_with_them);
    tcase_add_test(tc, nodes_get_pod_ranges);
    tcase_add_test(tc, registering_again_tells_the_same_run_from_a_new_one);
    tcase_add_test(tc, nodes_learn_their_peers);
    tcase_add_test(tc, a_silent_node_is_unknown_then_down_and_fenced_when_back);
    tcase_add_test(tc, a_succeeded_pod_is_not_run_again_when_its_node_goes_down);
    tcase_add_test(tc, a_rolling_update_moves_revision_by_revision);
    tcase_add_test(tc, a_deployment_from_before_revisions_keeps_its_replicas);
    tcase_add_test(tc, a_paused_deployment_waits_and_resumes_with_its_deadline);
    tcase_add_test(tc, a_daemonset_rolls_node_by_node);
    tcase_add_test(tc, a_daemonset_rollout_keeps_its_budget);
    tcase_add_test(tc, a_pod_failure_policy_ignores_and_fails);
    tcase_add_test(tc, evictions_move_replicas_within_their_budget);
    tcase_add_test(tc, secrets_are_sealed_and_go_only_where_used);
    tcase_add_test(tc, objects_over_the_cap_are_left_out_once);
    tcase_add_test(tc, a_job_runs_to_completion);
    tcase_add_test(tc, a_cronjob_makes_its_jobs);
    tcase_add_test(tc, metrics_count_nodes_workloads_and_pending_replicas);
    tcase_add_test(tc, extended_resources_follow_the_nodes_registrations);
    suite_add_tcase(s, tc);
    return s;
}
