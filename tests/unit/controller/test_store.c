/* The controller's store: every kind of row survives a close and a reopen
 * exactly, transactions are all or nothing, the event history stays
 * bounded, join tokens are single-use, and a damaged row or a newer schema
 * is an error naming it rather than a crash; the same suite again on a
 * real etcd (its own member, started here), and what only etcd has: a
 * follower's copy follows the leader, a deposed leader's writes are
 * fenced and leave its copy as it was, a new leader takes over with
 * everything written before, and rows are keys an operator can read. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "etcd_fixture.h"
#include "store.h"

static char dir[] = "/tmp/berth-store-XXXXXX";
static char path[128];

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/berth.db", dir);
}

static void teardown(void)
{
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    strcpy(dir, "/tmp/berth-store-XXXXXX");
}

/* The etcd test case's stores: the test's own prefix on the fixture's etcd. */
static bool use_etcd;

static berth_store_etcd_config etcd_config(char *prefix, size_t size)
{
    berth_store_etcd_config c = { .etcd = { .n_endpoints = 1, .timeout_ms = 2000 } };

    c.etcd.endpoints[0] = etcd_endpoint;
    snprintf(prefix, size, "/%s/", strrchr(dir, '/') + 1);
    c.prefix = prefix;
    return c;
}

/* Sync st until its role is want (10 s at most). */
static void sync_until(berth_store *st, berth_store_role want)
{
    berth_error *err = NULL;

    for (int i = 0; i < 200 && berth_store_role_of(st) != want; i++) {
        struct pollfd p = { .fd = berth_store_fd(st), .events = POLLIN };

        poll(&p, 1, 50);
        ck_assert_msg(berth_store_sync(st, &err) == 0, "%s", err ? err->msg : "");
    }
    ck_assert_str_eq(berth_store_role_name(berth_store_role_of(st)), berth_store_role_name(want));
}

static berth_store *open_etcd_store(const char *member)
{
    berth_store *st = NULL;
    berth_error *err = NULL;
    char prefix[64];
    berth_store_etcd_config c = etcd_config(prefix, sizeof(prefix));

    ck_assert_msg(berth_store_open_etcd(&c, &st, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_msg(berth_store_campaign(st, member, "tcp://127.0.0.1:1", 5, &err) == 0, "%s",
                  err ? err->msg : "");
    return st;
}

static berth_store *open_store(void)
{
    berth_store *st = NULL;
    berth_error *err = NULL;

    if (use_etcd) {
        st = open_etcd_store("c1");
        sync_until(st, BERTH_STORE_LEADER);
        return st;
    }
    ck_assert_msg(berth_store_open(path, &st, &err) == 0, "%s", err ? err->msg : "");
    return st;
}

static berth_store_node sample_node(const char *name)
{
    berth_store_node n = { .phase = NODE_READY };
    berth_principal who;

    ck_assert_int_eq(berth_principal_init(&who, BERTH_ROLE_NODE, name, NULL), 0);
    snprintf(n.name, sizeof(n.name), "%s", name);
    memcpy(n.id, who.id, BERTH_ID_LEN);
    memset(n.keys[0], 0xa1, BERTH_PUBKEY_LEN);
    memset(n.keys[1], 0xb2, BERTH_PUBKEY_LEN);
    n.n_keys = 2;
    n.generation = 7;
    n.applied_generation = 6;
    n.cordoned = true;
    n.registered_ns = 1000;
    n.last_heartbeat_ns = 2000;
    n.phase_since_ns = 1500;
    snprintf(n.reason, sizeof(n.reason), "because");
    return n;
}

typedef struct loaded {
    berth_store_node nodes[8];
    size_t n_nodes;
    Workload *workloads[8];
    size_t n_workloads;
    char assign[8][4][64];
    uint32_t replica[8];
    uint64_t spec_gen[8], wl_gen[8];
    size_t n_assign;
    ContainerStatus *statuses[8];
    char status_node[8][64];
    size_t n_statuses;
    Event *events[1100];
    size_t n_events;
} loaded;

static int take_node(void *data, berth_store_node *n)
{
    loaded *l = data;

    l->nodes[l->n_nodes++] = *n;
    return 0;
}

static int take_workload(void *data, Workload *w)
{
    loaded *l = data;

    l->workloads[l->n_workloads++] = w;
    return 0;
}

static int take_assignment(void *data, const berth_store_assignment *a)
{
    loaded *l = data;

    snprintf(l->assign[l->n_assign][0], 64, "%s", a->node);
    snprintf(l->assign[l->n_assign][1], 64, "%s", a->container_id);
    snprintf(l->assign[l->n_assign][2], 64, "%s", a->workload);
    snprintf(l->assign[l->n_assign][3], 64, "%s", a->revision);
    l->replica[l->n_assign] = a->replica;
    l->wl_gen[l->n_assign] = a->workload_generation;
    l->spec_gen[l->n_assign++] = a->spec_generation;
    return 0;
}

static int take_status(void *data, const char *node, ContainerStatus *s)
{
    loaded *l = data;

    snprintf(l->status_node[l->n_statuses], 64, "%s", node);
    l->statuses[l->n_statuses++] = s;
    return 0;
}

static int take_event(void *data, Event *e)
{
    loaded *l = data;

    l->events[l->n_events++] = e;
    return 0;
}

static void loaded_free(loaded *l)
{
    for (size_t i = 0; i < l->n_nodes; i++)
        node_info_free_unpacked(l->nodes[i].info, NULL);
    for (size_t i = 0; i < l->n_workloads; i++)
        workload_free_unpacked(l->workloads[i], NULL);
    for (size_t i = 0; i < l->n_statuses; i++)
        container_status_free_unpacked(l->statuses[i], NULL);
    for (size_t i = 0; i < l->n_events; i++)
        event_free_unpacked(l->events[i], NULL);
    memset(l, 0, sizeof(*l));
}

START_TEST(nodes_round_trip_across_a_reopen)
{
    berth_store *st = open_store();
    berth_store_node n = sample_node("n1"), p = sample_node("pending-1"), got;
    NodeInfo info = NODE_INFO_INIT;
    NodeCapacity cap = NODE_CAPACITY_INIT;
    berth_error *err = NULL;
    static loaded l;
    struct stat sb;

    info.name = "n1";
    info.agent_address = "tcp://10.0.0.5:7110";
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    info.capacity = &cap;
    n.info = &info;
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    p.phase = NODE_PENDING_APPROVAL;
    p.n_keys = 0;
    p.has_pending = true;
    memset(p.pending_key, 0xcc, BERTH_PUBKEY_LEN);
    ck_assert_int_eq(berth_store_node_put(st, &p, &err), 0);
    berth_store_close(st);
    /* the database holds keys and sealed secrets: nobody else reads it
     * (etcd's own files are etcd's, and its clients' certificates) */
    if (!use_etcd) {
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 0777, 0600);
    }

    st = open_store();
    ck_assert_int_eq(berth_store_nodes_load(st, take_node, &l, &err), 0);
    ck_assert_uint_eq(l.n_nodes, 2);
    got = l.nodes[0];
    ck_assert_str_eq(got.name, "n1");
    ck_assert_int_eq(memcmp(got.id, n.id, BERTH_ID_LEN), 0);
    ck_assert_int_eq(got.phase, NODE_READY);
    ck_assert_uint_eq(got.n_keys, 2);
    ck_assert_int_eq(memcmp(got.keys, n.keys, sizeof(n.keys)), 0);
    ck_assert(!got.has_pending);
    ck_assert_str_eq(got.info->agent_address, "tcp://10.0.0.5:7110");
    ck_assert_int_eq(got.info->capacity->cpu_millis, 2000);
    ck_assert_uint_eq(got.generation, 7);
    ck_assert_uint_eq(got.applied_generation, 6);
    ck_assert(got.cordoned);
    ck_assert(!got.drained);
    ck_assert_int_eq(got.registered_ns, 1000);
    ck_assert_int_eq(got.last_heartbeat_ns, 2000);
    ck_assert_int_eq(got.phase_since_ns, 1500);
    ck_assert_str_eq(got.reason, "because");
    got = l.nodes[1];
    ck_assert_str_eq(got.name, "pending-1");
    ck_assert_uint_eq(got.n_keys, 0);
    ck_assert(got.has_pending);
    ck_assert_uint_eq(got.pending_key[31], 0xcc);
    ck_assert_ptr_null(got.info);
    loaded_free(&l);

    size_t pending = 0;
    ck_assert_int_eq(berth_store_pending_count(st, &pending, &err), 0);
    ck_assert_uint_eq(pending, 1);
    ck_assert_int_eq(berth_store_node_get_by_id(st, n.id, &got, &err), 1);
    ck_assert_str_eq(got.name, "n1");
    node_info_free_unpacked(got.info, NULL);
    ck_assert_int_eq(berth_store_node_get(st, "nobody", &got, &err), 0);
    berth_store_close(st);
}
END_TEST

static Workload *workload(const char *name, int64_t created, uint32_t replicas)
{
    Workload *w = malloc(sizeof(*w));
    ContainerSpec *t = malloc(sizeof(*t));

    workload_init(w);
    container_spec_init(t);
    w->name = strdup(name);
    w->kind = WORKLOAD_DEPLOYMENT;
    w->replicas = replicas;
    w->created_unix_ns = created;
    w->generation = 3;
    t->image = strdup("busybox");
    w->template_ = t;
    return w;
}

START_TEST(workloads_assignments_statuses_round_trip)
{
    berth_store *st = open_store();
    Workload *a = workload("zeta", 100, 4), *b = workload("alpha", 200, 2);
    WorkloadStatus ws = WORKLOAD_STATUS_INIT;
    ContainerStatus cs = CONTAINER_STATUS_INIT;
    berth_store_assignment as[] = { { "n2", "zeta-1", "zeta", 1, 5, 3, "" },
                                    { "n1", "zeta-0", "zeta", 0, 4, 2, "" },
                                    { "n1", "alpha-0", "alpha", 0, 4, 1, "6d4cf56db6" } };
    berth_error *err = NULL;
    static loaded l;

    a->status = &ws; /* not stored */
    ws.running = 9;
    ck_assert_int_eq(berth_store_workload_put(st, a, &err), 0);
    ck_assert_int_eq(berth_store_workload_put(st, b, &err), 0);
    a->status = NULL;
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(berth_store_assignment_put(st, &as[i], &err), 0);
    cs.id = "zeta-0";
    cs.state = CONTAINER_RUNNING;
    cs.pid = 4242;
    cs.generation = 4;
    ck_assert_int_eq(berth_store_status_put(st, "n1", &cs, &err), 0);
    cs.id = "zeta-1";
    ck_assert_int_eq(berth_store_status_put(st, "n2", &cs, &err), 0);
    berth_store_close(st);

    st = open_store();
    ck_assert_int_eq(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    ck_assert_uint_eq(l.n_workloads, 2);
    /* oldest first: placement serves them in this order */
    ck_assert_str_eq(l.workloads[0]->name, "zeta");
    ck_assert_uint_eq(l.workloads[0]->replicas, 4);
    ck_assert_uint_eq(l.workloads[0]->generation, 3);
    ck_assert_str_eq(l.workloads[0]->template_->image, "busybox");
    ck_assert_ptr_null(l.workloads[0]->status);
    ck_assert_str_eq(l.workloads[1]->name, "alpha");
    ck_assert_int_eq(berth_store_assignments_load(st, take_assignment, &l, &err), 0);
    ck_assert_uint_eq(l.n_assign, 3);
    ck_assert_str_eq(l.assign[0][0], "n1");
    ck_assert_str_eq(l.assign[0][1], "alpha-0");
    ck_assert_str_eq(l.assign[0][3], "6d4cf56db6");
    ck_assert_str_eq(l.assign[2][3], "");
    ck_assert_str_eq(l.assign[2][1], "zeta-1");
    ck_assert_str_eq(l.assign[2][2], "zeta");
    ck_assert_uint_eq(l.replica[2], 1);
    ck_assert_uint_eq(l.spec_gen[2], 5);
    ck_assert_uint_eq(l.wl_gen[2], 3);
    ck_assert_int_eq(berth_store_statuses_load(st, take_status, &l, &err), 0);
    ck_assert_uint_eq(l.n_statuses, 2);
    ck_assert_str_eq(l.status_node[0], "n1");
    ck_assert_int_eq(l.statuses[0]->pid, 4242);
    ck_assert_int_eq(l.statuses[0]->state, CONTAINER_RUNNING);
    loaded_free(&l);

    /* deleting a node takes its assignments and statuses along */
    ck_assert_int_eq(berth_store_node_delete(st, "n1", &err), 0);
    ck_assert_int_eq(berth_store_workload_delete(st, "alpha", &err), 0);
    ck_assert_int_eq(berth_store_assignment_delete(st, "n2", "zeta-1", &err), 0);
    ck_assert_int_eq(berth_store_assignments_load(st, take_assignment, &l, &err), 0);
    ck_assert_uint_eq(l.n_assign, 0);
    ck_assert_int_eq(berth_store_statuses_load(st, take_status, &l, &err), 0);
    ck_assert_uint_eq(l.n_statuses, 1);
    ck_assert_str_eq(l.status_node[0], "n2");
    ck_assert_int_eq(berth_store_status_delete(st, "n2", "zeta-1", &err), 0);
    ck_assert_int_eq(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    ck_assert_uint_eq(l.n_workloads, 1);
    loaded_free(&l);
    ck_assert_int_eq(berth_store_statuses_load(st, take_status, &l, &err), 0);
    ck_assert_uint_eq(l.n_statuses, 0);
    berth_store_close(st);
    workload_free_unpacked(a, NULL);
    workload_free_unpacked(b, NULL);
}
END_TEST

START_TEST(transactions_are_all_or_nothing)
{
    berth_store *st = open_store();
    berth_store_node n = sample_node("n1");
    berth_error *err = NULL;
    static loaded l;

    /* a rollback forgets */
    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    berth_store_rollback(st);
    ck_assert_int_eq(berth_store_nodes_load(st, take_node, &l, &err), 0);
    ck_assert_uint_eq(l.n_nodes, 0);
    /* an inner rollback dooms the outer transaction */
    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    berth_store_rollback(st);
    ck_assert_int_lt(berth_store_commit(st, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, ": transaction rolled back"));
    berth_error_free(&err);
    ck_assert_int_eq(berth_store_nodes_load(st, take_node, &l, &err), 0);
    ck_assert_uint_eq(l.n_nodes, 0);
    /* nested commits commit once, at the outermost */
    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    ck_assert_int_eq(berth_store_commit(st, &err), 0);
    ck_assert_int_eq(berth_store_commit(st, &err), 0);
    ck_assert_int_lt(berth_store_commit(st, &err), 0); /* one too many */
    berth_error_free(&err);
    berth_store_close(st);
    st = open_store();
    ck_assert_int_eq(berth_store_nodes_load(st, take_node, &l, &err), 0);
    ck_assert_uint_eq(l.n_nodes, 1);
    loaded_free(&l);
    berth_store_close(st);
}
END_TEST

START_TEST(event_history_is_bounded)
{
    berth_store *st = open_store();
    berth_error *err = NULL;
    static loaded l;
    char msg[32];

    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    for (int i = 1; i <= BERTH_STORE_EVENTS_MAX + 10; i++) {
        Event e = EVENT_INIT;

        snprintf(msg, sizeof(msg), "event %d", i);
        e.time_unix_ns = i;
        e.object_kind = i % 2 ? "Node" : "Workload";
        e.object_name = i % 3 ? "web" : "n1";
        e.type = "Normal";
        e.reason = "Test";
        e.message = msg;
        ck_assert_int_eq(berth_store_event_add(st, &e, &err), 0);
        ck_assert_uint_eq(e.id, (uint64_t)i);
    }
    ck_assert_int_eq(berth_store_commit(st, &err), 0);
    ck_assert_int_eq(berth_store_events_list(st, NULL, NULL, 5000, 0, take_event, &l, &err), 0);
    ck_assert_uint_eq(l.n_events, BERTH_STORE_EVENTS_MAX);
    ck_assert_str_eq(l.events[0]->message, "event 11"); /* the oldest kept */
    ck_assert_str_eq(l.events[BERTH_STORE_EVENTS_MAX - 1]->message, "event 1010");
    loaded_free(&l);
    /* the newest 3 about Node n1, oldest first */
    ck_assert_int_eq(berth_store_events_list(st, "Node", "n1", 3, 0, take_event, &l, &err), 0);
    ck_assert_uint_eq(l.n_events, 3);
    ck_assert_str_eq(l.events[0]->message, "event 993");
    ck_assert_str_eq(l.events[1]->message, "event 999");
    ck_assert_str_eq(l.events[2]->message, "event 1005");
    loaded_free(&l);
    /* a watch's next page: the oldest 2 after event 990, then after 999 */
    ck_assert_int_eq(berth_store_events_list(st, "Node", "n1", 2, 990, take_event, &l, &err), 0);
    ck_assert_uint_eq(l.n_events, 2);
    ck_assert_str_eq(l.events[0]->message, "event 993");
    ck_assert_str_eq(l.events[1]->message, "event 999");
    loaded_free(&l);
    ck_assert_int_eq(berth_store_events_list(st, NULL, NULL, 100, 1008, take_event, &l, &err), 0);
    ck_assert_uint_eq(l.n_events, 2);
    ck_assert_uint_eq(l.events[0]->id, 1009);
    loaded_free(&l);
    berth_store_close(st);
}
END_TEST

START_TEST(join_tokens_are_single_use)
{
    berth_store *st = open_store();
    uint8_t id[BERTH_TOKEN_ID_LEN] = { 1, 2, 3, 4, 5, 6 }, id2[BERTH_TOKEN_ID_LEN] = { 9 };
    uint8_t id3[BERTH_TOKEN_ID_LEN] = { 7 }, sealed[8] = "sealed!", buf[64];
    berth_store_token *v = NULL, gone;
    berth_error *err = NULL;
    size_t len = 0, n = 0;

    ck_assert_int_eq(berth_store_token_put(st, id, sealed, 8, 5000, "rack 4", 100, 1, &err), 0);
    ck_assert_int_eq(berth_store_token_put(st, id2, sealed, 8, 2000, "", 100, 1, &err), 0);
    ck_assert_int_eq(berth_store_token_get(st, id, 1000, buf, sizeof(buf), &len, &err), 1);
    ck_assert_uint_eq(len, 8);
    ck_assert_str_eq((char *)buf, "sealed!");
    /* expired */
    ck_assert_int_eq(berth_store_token_get(st, id2, 3000, buf, sizeof(buf), &len, &err), 0);
    ck_assert_berth_error(berth_store_token_use(st, id2, "n1", 3000, &err), err,
                          "join token used up, revoked or expired");
    /* used once, then never again, and the secret is gone */
    ck_assert_int_eq(berth_store_token_use(st, id, "n1", 1000, &err), 0);
    ck_assert_berth_error(berth_store_token_use(st, id, "n2", 1001, &err), err,
                          "join token used up, revoked or expired");
    ck_assert_int_eq(berth_store_token_get(st, id, 1002, buf, sizeof(buf), &len, &err), 0);

    /* three uses: three nodes, then none; listed with what it did */
    ck_assert_int_eq(berth_store_token_put(st, id3, sealed, 8, 5000, "batch", 200, 3, &err), 0);
    for (int i = 0; i < 3; i++) {
        char who[8];

        snprintf(who, sizeof(who), "m%d", i);
        ck_assert_int_eq(berth_store_token_get(st, id3, 1000, buf, sizeof(buf), &len, &err), 1);
        ck_assert_int_eq(berth_store_token_use(st, id3, who, 1100 + i, &err), 0);
    }
    ck_assert_int_eq(berth_store_token_get(st, id3, 1200, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_lt(berth_store_token_use(st, id3, "m3", 1200, &err), 0);
    berth_error_free(&err);
    ck_assert_int_eq(berth_store_tokens_list(st, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(v[2].id, id3, BERTH_TOKEN_ID_LEN);
    ck_assert_uint_eq(v[2].uses, 3);
    ck_assert_uint_eq(v[2].used, 3);
    ck_assert_str_eq(v[2].used_by, "m2");
    ck_assert_int_eq(v[2].used_ns, 1102);
    ck_assert_str_eq(v[2].description, "batch");
    ck_assert_uint_eq(v[0].used, 1);
    ck_assert_uint_eq(v[1].used, 0);
    free(v);

    /* revoked: gone at once */
    ck_assert_int_eq(berth_store_token_put(st, id3 + 0, sealed, 8, 5000, "", 300, 2, &err), -1);
    berth_error_free(&err);
    ck_assert_int_eq(berth_store_token_delete(st, id3, &gone, &err), 1);
    ck_assert_str_eq(gone.description, "batch");
    ck_assert_int_eq(berth_store_token_delete(st, id3, NULL, &err), 0);
    ck_assert_int_eq(berth_store_tokens_expire(st, 6000, &err), 0);
    ck_assert_int_eq(berth_store_tokens_list(st, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    berth_store_close(st);
}
END_TEST

/* Taints live beside the node, go with it, and a store of schema 1 (no
 * taints yet) is upgraded, its nodes kept. */
START_TEST(taints_and_the_upgrade_from_schema_1)
{
    berth_store *st = open_store();
    berth_store_node n = sample_node("n1");
    berth_error *err = NULL;
    Taint t, *tp[] = { &t };
    TaintList l, *got = NULL;
    sqlite3 *db;

    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    taint_init(&t);
    t.key = "dedicated";
    t.value = "gpu";
    t.effect = "NoExecute";
    t.time_added_unix_ns = 42;
    taint_list_init(&l);
    l.taints = tp;
    l.n_taints = 1;
    ck_assert_int_eq(berth_store_taints_put(st, "n1", &l, &err), 0);
    berth_store_close(st);
    st = open_store();
    ck_assert_int_eq(berth_store_taints_get(st, "n1", &got, &err), 1);
    ck_assert_uint_eq(got->n_taints, 1);
    ck_assert_str_eq(got->taints[0]->effect, "NoExecute");
    ck_assert_int_eq(got->taints[0]->time_added_unix_ns, 42);
    taint_list_free_unpacked(got, NULL);
    /* none: the row goes */
    l.n_taints = 0;
    ck_assert_int_eq(berth_store_taints_put(st, "n1", &l, &err), 0);
    ck_assert_int_eq(berth_store_taints_get(st, "n1", &got, &err), 0);
    l.n_taints = 1;
    ck_assert_int_eq(berth_store_taints_put(st, "n1", &l, &err), 0);
    ck_assert_int_eq(berth_store_node_delete(st, "n1", &err), 0);
    ck_assert_int_eq(berth_store_taints_get(st, "n1", &got, &err), 0);
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    berth_store_close(st);

    /* a controller of schema 1 made it: upgraded, the node still there */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "DROP TABLE node_taints; DROP TABLE namespaces; ALTER TABLE nodes DROP COLUMN "
                     "pod_cidr; DROP TABLE replica_sets; DROP TABLE jobs; DROP TABLE budgets; DROP "
                     "TABLE objects; ALTER TABLE "
                     "assignments DROP COLUMN revision; "
                     "ALTER TABLE join_tokens DROP COLUMN uses; ALTER TABLE join_tokens DROP "
                     "COLUMN used; PRAGMA user_version = 1",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    ck_assert_int_eq(berth_store_node_get(st, "n1", &n, &err), 1);
    node_info_free_unpacked(n.info, NULL);
    ck_assert_int_eq(berth_store_taints_put(st, "n1", &l, &err), 0);
    berth_store_close(st);
}
END_TEST

static int take_namespace(void *data, Namespace *ns)
{
    Namespace **got = data;

    for (; *got; got++)
        ;
    *got = ns;
    return 0;
}

/* Namespaces round trip; a workload of one is stored under "<ns>/<name>",
 * beside a same-named one in "default"; a store of schema 2 (no
 * namespaces yet) is upgraded, its workloads kept. */
START_TEST(namespaces_and_the_upgrade_from_schema_2)
{
    berth_store *st = open_store();
    Workload *a = workload("web", 100, 2), *b = workload("web", 200, 3);
    Namespace ns = NAMESPACE_INIT, *got[4] = { NULL };
    berth_error *err = NULL;
    static loaded l;
    sqlite3 *db;

    ns.name = "team-a";
    ns.created_unix_ns = 7;
    ns.workloads = 9; /* not stored */
    ck_assert_int_eq(berth_store_namespace_put(st, &ns, &err), 0);
    b->namespace_ = strdup("team-a");
    ck_assert_int_eq(berth_store_workload_put(st, a, &err), 0);
    ck_assert_int_eq(berth_store_workload_put(st, b, &err), 0);
    berth_store_close(st);
    st = open_store();
    ck_assert_int_eq(berth_store_namespaces_load(st, take_namespace, got, &err), 0);
    ck_assert_ptr_nonnull(got[0]);
    ck_assert_ptr_null(got[1]);
    ck_assert_str_eq(got[0]->name, "team-a");
    ck_assert_int_eq(got[0]->created_unix_ns, 7);
    ck_assert_uint_eq(got[0]->workloads, 0);
    namespace_free_unpacked(got[0], NULL);
    got[0] = NULL;
    ck_assert_int_eq(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    ck_assert_uint_eq(l.n_workloads, 2);
    ck_assert_str_eq(l.workloads[1]->namespace_, "team-a");
    ck_assert_uint_eq(l.workloads[1]->replicas, 3);
    for (size_t i = 0; i < l.n_workloads; i++)
        workload_free_unpacked(l.workloads[i], NULL);
    l.n_workloads = 0;
    /* deleting by key leaves the other web */
    ck_assert_int_eq(berth_store_workload_delete(st, "team-a/web", &err), 0);
    ck_assert_int_eq(berth_store_namespace_delete(st, "team-a", &err), 0);
    ck_assert_int_eq(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    ck_assert_uint_eq(l.n_workloads, 1);
    ck_assert_str_eq(l.workloads[0]->namespace_, "");
    workload_free_unpacked(l.workloads[0], NULL);
    l.n_workloads = 0;
    ck_assert_int_eq(berth_store_namespaces_load(st, take_namespace, got, &err), 0);
    ck_assert_ptr_null(got[0]);
    berth_store_close(st);

    /* a controller of schema 2 made it: upgraded, the workload kept */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "DROP TABLE namespaces; ALTER TABLE nodes DROP COLUMN pod_cidr; DROP TABLE "
                     "replica_sets; DROP TABLE jobs; DROP TABLE budgets; DROP TABLE objects; ALTER "
                     "TABLE assignments "
                     "DROP COLUMN revision; "
                     "ALTER TABLE join_tokens DROP COLUMN uses; ALTER TABLE join_tokens DROP "
                     "COLUMN used; PRAGMA user_version = 2",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    ck_assert_int_eq(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    ck_assert_uint_eq(l.n_workloads, 1);
    workload_free_unpacked(l.workloads[0], NULL);
    l.n_workloads = 0;
    ck_assert_int_eq(berth_store_namespace_put(st, &ns, &err), 0);
    berth_store_close(st);
    workload_free_unpacked(a, NULL);
    workload_free_unpacked(b, NULL);
}
END_TEST

static int take_rs(void *data, const char *key, ReplicaSet *rs)
{
    char(*got)[64] = data;
    size_t i = 0;

    while (got[i][0])
        i++;
    snprintf(got[i], 64, "%s %s %" PRIu64 " %zu", key, rs->hash, rs->revision, rs->n_indices);
    replica_set_free_unpacked(rs, NULL);
    return 0;
}

/* A Deployment's revisions: stored by key and hash, replaced in place,
 * deleted with their workload; a store of schema 4 (no revisions) gets
 * them, its assignments with none. */
START_TEST(revisions_and_the_upgrade_from_schema_4)
{
    berth_store *st = open_store();
    Workload *w = workload("web", 1, 3);
    ReplicaSet rs = REPLICA_SET_INIT;
    uint32_t idx[] = { 0, 2 };
    berth_store_assignment as = { "n1", "web-0", "web", 0, 1, 1, NULL };
    berth_error *err = NULL;
    static loaded l;
    char got[8][64];
    sqlite3 *db;

    ck_assert_int_eq(berth_store_workload_put(st, w, &err), 0);
    rs.hash = "6d4cf56db6";
    rs.revision = 2;
    rs.indices = idx;
    rs.n_indices = 2;
    ck_assert_int_eq(berth_store_replica_set_put(st, "web", &rs, &err), 0);
    rs.revision = 3; /* replaced, not added */
    ck_assert_int_eq(berth_store_replica_set_put(st, "web", &rs, &err), 0);
    rs.hash = "";
    rs.revision = 1;
    rs.n_indices = 0;
    ck_assert_int_eq(berth_store_replica_set_put(st, "web", &rs, &err), 0);
    ck_assert_int_eq(berth_store_replica_set_put(st, "other", &rs, &err), 0);
    memset(got, 0, sizeof(got));
    ck_assert_int_eq(berth_store_replica_sets_load(st, take_rs, got, &err), 0);
    ck_assert_str_eq(got[0], "other  1 0");
    ck_assert_str_eq(got[1], "web  1 0");
    ck_assert_str_eq(got[2], "web 6d4cf56db6 3 2");
    ck_assert_str_eq(got[3], "");
    ck_assert_int_eq(berth_store_replica_set_delete(st, "web", "", &err), 0);
    ck_assert_int_eq(berth_store_workload_delete(st, "web", &err), 0);
    memset(got, 0, sizeof(got));
    ck_assert_int_eq(berth_store_replica_sets_load(st, take_rs, got, &err), 0);
    ck_assert_str_eq(got[0], "other  1 0");
    ck_assert_str_eq(got[1], "");
    berth_store_close(st);

    /* a controller of schema 4 made it */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db,
                     "DROP TABLE replica_sets; DROP TABLE jobs; DROP TABLE budgets; "
                     "DROP TABLE objects; ALTER TABLE "
                     "assignments DROP COLUMN revision; ALTER TABLE join_tokens DROP COLUMN uses; "
                     "ALTER TABLE join_tokens DROP COLUMN used; PRAGMA user_version = 4",
                     NULL, NULL, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "INSERT INTO assignments VALUES ('n1', 'web-0', 'web', 0, 1, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    ck_assert_int_eq(berth_store_assignments_load(st, take_assignment, &l, &err), 0);
    ck_assert_uint_eq(l.n_assign, 1);
    ck_assert_str_eq(l.assign[0][1], "web-0");
    ck_assert_str_eq(l.assign[0][3], "");
    memset(got, 0, sizeof(got));
    ck_assert_int_eq(berth_store_replica_sets_load(st, take_rs, got, &err), 0);
    ck_assert_str_eq(got[0], "");
    ck_assert_int_eq(berth_store_assignment_put(st, &as, &err), 0);
    berth_store_close(st);

    /* a controller of schema 5 made it: Jobs' states come */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(
            db,
            "DROP TABLE jobs; DROP TABLE budgets; DROP TABLE objects; ALTER TABLE join_tokens DROP "
            "COLUMN uses; ALTER TABLE join_tokens DROP COLUMN used; PRAGMA user_version = 5",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    {
        JobState js = JOB_STATE_INIT;

        js.succeeded = 2;
        ck_assert_int_eq(berth_store_job_put(st, "batch", &js, &err), 0);
        ck_assert_int_eq(berth_store_job_delete(st, "batch", &err), 0);
    }
    berth_store_close(st);
    loaded_free(&l);
    workload_free_unpacked(w, NULL);
}
END_TEST

START_TEST(damage_is_an_error_not_a_crash)
{
    berth_store *st = open_store();
    Workload *w = workload("web", 1, 1);
    berth_error *err = NULL;
    static loaded l;
    sqlite3 *db;
    char msg[256];

    ck_assert_int_eq(berth_store_workload_put(st, w, &err), 0);
    workload_free_unpacked(w, NULL);
    berth_store_close(st);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "UPDATE workloads SET workload = x'ffffffff'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    ck_assert_int_lt(berth_store_workloads_load(st, take_workload, &l, &err), 0);
    snprintf(msg, sizeof(msg), "%s: workload web: not a valid berth.v1.Workload", path);
    ck_assert_str_eq(err->msg, msg);
    berth_error_free(&err);
    berth_store_close(st);

    /* a database from a newer controller is refused, untouched */
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 10", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = NULL;
    ck_assert_int_lt(berth_store_open(path, &st, &err), 0);
    snprintf(msg, sizeof(msg), "%s: schema version 10 is newer than this controller's (9)", path);
    ck_assert_str_eq(err->msg, msg);
    berth_error_free(&err);
    ck_assert_ptr_null(st);
}
END_TEST

/* ---- what only etcd has ---- */

static void etcd_use(void)
{
    etcd_start();
    use_etcd = true;
}

static void wait_members(berth_store *st, size_t n)
{
    berth_store_member m[4];
    berth_error *err = NULL;

    for (int i = 0; i < 100 && berth_store_members(st, m, 4) != n; i++) {
        struct pollfd p = { .fd = berth_store_fd(st), .events = POLLIN };

        poll(&p, 1, 50);
        ck_assert_int_eq(berth_store_sync(st, &err), 0);
    }
    ck_assert_uint_eq(berth_store_members(st, m, 4), n);
}

static size_t count_nodes(berth_store *st)
{
    static loaded l;
    size_t n;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_store_nodes_load(st, take_node, &l, &err), 0);
    n = l.n_nodes;
    loaded_free(&l);
    return n;
}

START_TEST(a_follower_follows_and_takes_over_with_everything)
{
    berth_store *a = open_etcd_store("c1"), *b;
    berth_store_node n = sample_node("n1");
    berth_store_member m[4];
    berth_error *err = NULL;

    sync_until(a, BERTH_STORE_LEADER);
    b = open_etcd_store("c2");
    wait_members(b, 2);
    ck_assert_str_eq(berth_store_role_name(berth_store_role_of(b)), "follower");
    /* a follower writes nothing, and says why */
    n.generation = 1;
    ck_assert_int_lt(berth_store_node_put(b, &n, &err), 0);
    ck_assert_int_eq(err->code, EPERM);
    ck_assert_ptr_nonnull(strstr(err->msg, "not the leader"));
    berth_error_free(&err);
    ck_assert_uint_eq(count_nodes(b), 0);
    /* the leader's writes reach the follower's copy, every row of a
     * transaction (its changes share one revision) */
    ck_assert_int_eq(berth_store_begin(a, &err), 0);
    ck_assert_int_eq(berth_store_node_put(a, &n, &err), 0);
    {
        berth_store_node n2 = sample_node("n2"), n3 = sample_node("n3");

        ck_assert_int_eq(berth_store_node_put(a, &n2, &err), 0);
        ck_assert_int_eq(berth_store_node_put(a, &n3, &err), 0);
    }
    ck_assert_int_eq(berth_store_commit(a, &err), 0);
    for (int i = 0; i < 100 && count_nodes(b) < 3; i++) {
        struct pollfd p = { .fd = berth_store_fd(b), .events = POLLIN };

        poll(&p, 1, 50);
        ck_assert_int_eq(berth_store_sync(b, &err), 0);
    }
    ck_assert_uint_eq(count_nodes(b), 3);
    ck_assert_int_eq(berth_store_begin(a, &err), 0);
    ck_assert_int_eq(berth_store_node_delete(a, "n2", &err), 0);
    ck_assert_int_eq(berth_store_node_delete(a, "n3", &err), 0);
    ck_assert_int_eq(berth_store_commit(a, &err), 0);
    for (int i = 0; i < 100 && count_nodes(b) > 1; i++) {
        struct pollfd p = { .fd = berth_store_fd(b), .events = POLLIN };

        poll(&p, 1, 50);
        ck_assert_int_eq(berth_store_sync(b, &err), 0);
    }
    ck_assert_uint_eq(count_nodes(b), 1);
    ck_assert_uint_eq(berth_store_members(b, m, 4), 2);
    ck_assert_str_eq(m[0].name, "c1");
    ck_assert(!m[0].self);
    ck_assert_str_eq(m[1].name, "c2");
    ck_assert(m[1].self);
    /* the leader leaves: the follower takes over and writes */
    ck_assert_int_eq(berth_store_node_delete(a, "n1", &err), 0);
    berth_store_close(a);
    sync_until(b, BERTH_STORE_LEADER);
    ck_assert_uint_eq(count_nodes(b), 0);
    n.generation = 2;
    ck_assert_int_eq(berth_store_node_put(b, &n, &err), 0);
    berth_store_close(b);
    /* a third reads it all */
    a = open_etcd_store("c3");
    ck_assert_uint_eq(count_nodes(a), 1);
    berth_store_close(a);
}
END_TEST

typedef struct oldest {
    int64_t lease, create;
} oldest;

static int on_election_key(void *data, const berth_etcd_kv *kv)
{
    oldest *o = data;

    if (kv->create_revision < o->create) {
        o->create = kv->create_revision;
        o->lease = kv->lease;
    }
    return 0;
}

static int64_t oldest_lease(berth_etcd *e)
{
    char prefix[64], from[96];
    berth_store_etcd_config c = etcd_config(prefix, sizeof(prefix));
    oldest o = { 0, INT64_MAX };
    size_t end_len;
    uint8_t *end;

    snprintf(from, sizeof(from), "%selection/", c.prefix);
    end = berth_etcd_prefix_end(from, strlen(from), &end_len);
    ck_assert_int_eq(
        berth_etcd_range(e, from, strlen(from), end, end_len, 0, on_election_key, &o, NULL, NULL),
        0);
    free(end);
    return o.lease;
}

START_TEST(a_deposed_leaders_writes_are_fenced)
{
    berth_store *a = open_etcd_store("c1"), *b;
    berth_store_node n = sample_node("n1");
    berth_store_member m[2];
    berth_etcd *e = NULL;
    berth_etcd_config ec = { .n_endpoints = 1 };
    berth_error *err = NULL;
    int64_t lease;

    sync_until(a, BERTH_STORE_LEADER);
    b = open_etcd_store("c2");
    wait_members(b, 2);
    ck_assert_uint_eq(berth_store_members(b, m, 2), 2);
    /* a's lease revoked behind its back (as etcd does when it lapses):
     * the oldest election key's */
    ec.endpoints[0] = etcd_endpoint;
    ck_assert_int_eq(berth_etcd_new(&ec, &e, NULL), 0);
    ck_assert_str_eq(m[0].name, "c1");
    lease = oldest_lease(e);
    ck_assert_int_ne(lease, 0);
    ck_assert_int_eq(berth_etcd_lease_revoke(e, lease, NULL), 0);
    /* b takes over; a's next write is refused, its copy left as it was */
    sync_until(b, BERTH_STORE_LEADER);
    ck_assert_int_lt(berth_store_node_put(a, &n, &err), 0);
    ck_assert_int_eq(err->code, EPERM);
    berth_error_free(&err);
    ck_assert_uint_eq(count_nodes(a), 0);
    ck_assert_str_eq(berth_store_role_name(berth_store_role_of(a)), "deposed");
    ck_assert_int_eq(berth_store_node_put(b, &n, &err), 0);
    berth_etcd_free(e);
    berth_store_close(a);
    berth_store_close(b);
}
END_TEST

typedef struct found {
    char key[256], value[4096];
    int n;
} found;

static int on_found(void *data, const berth_etcd_kv *kv)
{
    found *f = data;

    if (f->n++ == 0) {
        snprintf(f->key, sizeof(f->key), "%.*s", (int)kv->key_len, (const char *)kv->key);
        snprintf(f->value, sizeof(f->value), "%.*s", (int)kv->value_len, (const char *)kv->value);
    }
    return 0;
}

START_TEST(rows_are_keys_an_operator_can_read)
{
    berth_store *st = open_store();
    berth_store_assignment a = { .node = "n/1",
                                 .container_id = "web-0",
                                 .workload = "prod/web",
                                 .replica = 0,
                                 .spec_generation = 3,
                                 .workload_generation = 2,
                                 .revision = "" };
    berth_etcd *e = NULL;
    berth_etcd_config ec = { .n_endpoints = 1 };
    char prefix[64], key[160];
    berth_store_etcd_config c = etcd_config(prefix, sizeof(prefix));
    found f = { 0 };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_store_assignment_put(st, &a, &err), 0);
    ec.endpoints[0] = etcd_endpoint;
    ck_assert_int_eq(berth_etcd_new(&ec, &e, NULL), 0);
    snprintf(key, sizeof(key), "%st/assignments/n%%2F1/web-0", c.prefix);
    ck_assert_int_eq(berth_etcd_range(e, key, strlen(key), NULL, 0, 0, on_found, &f, NULL, NULL),
                     0);
    ck_assert_int_eq(f.n, 1);
    ck_assert_ptr_nonnull(strstr(f.value, "\"workload\":\"prod/web\""));
    ck_assert_ptr_nonnull(strstr(f.value, "\"spec_generation\":3"));
    /* deleting the row deletes the key */
    ck_assert_int_eq(berth_store_assignment_delete(st, "n/1", "web-0", &err), 0);
    f.n = 0;
    ck_assert_int_eq(berth_etcd_range(e, key, strlen(key), NULL, 0, 0, on_found, &f, NULL, NULL),
                     0);
    ck_assert_int_eq(f.n, 0);
    berth_etcd_free(e);
    berth_store_close(st);
}
END_TEST

/* One controller's SQLite, backed up while open, restored into etcd (the
 * upgrade path), backed up from etcd, restored into a new SQLite file. */
START_TEST(backup_and_restore_across_backends)
{
    berth_store *sq = NULL, *et, *back = NULL;
    berth_store_node n = sample_node("n1");
    Workload *w = workload("web", 100, 3);
    char bk[160], bk2[160], path2[160];
    size_t rows = 0;
    berth_error *err = NULL;
    int fd;

    snprintf(bk, sizeof(bk), "%s/fleet.db", dir);
    snprintf(bk2, sizeof(bk2), "%s/fleet2.db", dir);
    snprintf(path2, sizeof(path2), "%s/again.db", dir);
    ck_assert_int_eq(berth_store_open(path, &sq, &err), 0);
    ck_assert_int_eq(berth_store_node_put(sq, &n, &err), 0);
    ck_assert_int_eq(berth_store_workload_put(sq, w, &err), 0);
    ck_assert_msg(berth_store_backup(sq, bk, &rows, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_uint_eq(rows, 2);
    berth_store_close(sq);
    /* into etcd, as its leader */
    et = open_store();
    ck_assert_msg(berth_store_restore(et, bk, false, &rows, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_uint_eq(rows, 2);
    ck_assert_uint_eq(count_nodes(et), 1);
    /* a fleet is not replaced by mistake */
    ck_assert_int_lt(berth_store_restore(et, bk, false, NULL, &err), 0);
    ck_assert_int_eq(err->code, EEXIST);
    ck_assert_ptr_nonnull(strstr(err->msg, "holds a fleet already"));
    berth_error_free(&err);
    /* etcd's rows at one revision, into a file */
    ck_assert_int_eq(berth_store_backup(et, bk2, &rows, &err), 0);
    berth_store_close(et);
    et = open_store();
    ck_assert_uint_eq(count_nodes(et), 1); /* what etcd holds, read again */
    berth_store_close(et);
    /* ... restored into a new file: the same rows */
    ck_assert_int_eq(berth_store_open(path2, &back, &err), 0);
    ck_assert_int_eq(berth_store_restore(back, bk2, false, &rows, &err), 0);
    ck_assert_uint_eq(rows, 2);
    ck_assert_uint_eq(count_nodes(back), 1);
    {
        static loaded l;

        ck_assert_int_eq(berth_store_workloads_load(back, take_workload, &l, &err), 0);
        ck_assert_uint_eq(l.n_workloads, 1);
        ck_assert_str_eq(l.workloads[0]->name, "web");
        ck_assert_uint_eq(l.workloads[0]->replicas, 3);
        loaded_free(&l);
    }
    /* a backup file that is none */
    fd = open(bk, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a database, not at all, really not one", 42), 42);
    close(fd);
    ck_assert_int_lt(berth_store_restore(back, bk, true, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "restore"));
    berth_error_free(&err);
    ck_assert_uint_eq(count_nodes(back), 1); /* and nothing lost */
    berth_store_close(back);
    workload_free_unpacked(w, NULL);
}
END_TEST

/* Text is bytes to SQLite: what is not UTF-8 (JSON strings are) reaches
 * another member as it was. */
START_TEST(text_that_is_not_utf8_replicates)
{
    berth_store *st = open_store();
    Event e = EVENT_INIT;
    static loaded l;
    berth_error *err = NULL;

    e.time_unix_ns = 5;
    e.object_kind = "Node";
    e.object_name = "n1";
    e.type = "Normal";
    e.reason = "Odd";
    e.message = "bytes \xff\xfe and \xc3\xa9";
    ck_assert_int_eq(berth_store_event_add(st, &e, &err), 0);
    berth_store_close(st);
    st = open_store();
    ck_assert_int_eq(berth_store_events_list(st, "", "", 10, 0, take_event, &l, &err), 0);
    ck_assert_uint_eq(l.n_events, 1);
    ck_assert_str_eq(l.events[0]->message, "bytes \xff\xfe and \xc3\xa9");
    loaded_free(&l);
    berth_store_close(st);
}
END_TEST

/* etcd with TLS and client certificates (etcd_ca_file, etcd_cert_file,
 * etcd_key_file): a CA, a server and a client certificate made here with
 * openssl, a member of its own that asks every client for one. (etcd's
 * own gateway dials the member with the server's certificate: it must be
 * good for client authentication too.) */
START_TEST(tls_with_a_client_certificate)
{
    char cmd[4096], url[64], data[160], log[160];
    char ca[160], crt[160], key[160], scrt[160], skey[160];
    berth_store_etcd_config c = { .etcd = { .n_endpoints = 1, .timeout_ms = 2000 } };
    berth_store *st = NULL;
    berth_store_node n = sample_node("tls-node");
    berth_error *err = NULL;
    int port = etcd_free_port(), pport = etcd_free_port();
    pid_t pid;

    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    snprintf(crt, sizeof(crt), "%s/client.crt", dir);
    snprintf(key, sizeof(key), "%s/client.key", dir);
    snprintf(scrt, sizeof(scrt), "%s/server.crt", dir);
    snprintf(skey, sizeof(skey), "%s/server.key", dir);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
             "-days 1 -subj /CN=test-ca 2>/dev/null && "
             "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > "
             "s.ext && "
             "openssl req -newkey rsa:2048 -nodes -keyout server.key -out s.csr -subj /CN=etcd "
             "2>/dev/null && openssl x509 -req -in s.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 1 -extfile s.ext 2>/dev/null && "
             "printf 'extendedKeyUsage=clientAuth\\n' > c.ext && "
             "openssl req -newkey rsa:2048 -nodes -keyout client.key -out c.csr -subj /CN=berth "
             "2>/dev/null && openssl x509 -req -in c.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out client.crt -days 1 -extfile c.ext 2>/dev/null",
             dir);
    ck_assert_msg(system(cmd) == 0, "openssl failed");
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
    snprintf(data, sizeof(data), "%s/tls-data", dir);
    snprintf(log, sizeof(log), "%s/tls-etcd.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char peer[64], cluster[96];
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pport);
        snprintf(cluster, sizeof(cluster), "t=%s", peer);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("etcd", "etcd", "--name", "t", "--data-dir", data, "--listen-client-urls", url,
               "--advertise-client-urls", url, "--listen-peer-urls", peer,
               "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster, "--cert-file",
               scrt, "--key-file", skey, "--client-cert-auth", "--trusted-ca-file", ca,
               (char *)NULL);
        _exit(127);
    }
    c.etcd.endpoints[0] = url;
    c.etcd.ca_file = ca;
    c.prefix = "/tls/";
    /* without a client certificate: refused, and said so */
    for (int i = 0; i < 100; i++) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };

        berth_error_free(&err);
        if (berth_store_open_etcd(&c, &st, &err) == 0)
            break;
        if (strstr(err->msg, "certificate") || strstr(err->msg, "SSL") || strstr(err->msg, "alert"))
            break;
        nanosleep(&ts, NULL);
    }
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(err);
    berth_error_free(&err);
    /* with one: the store works as over http */
    c.etcd.cert_file = crt;
    c.etcd.key_file = key;
    ck_assert_msg(berth_store_open_etcd(&c, &st, &err) == 0, "%s (see %s)", err ? err->msg : "",
                  log);
    ck_assert_int_eq(berth_store_campaign(st, "c1", "", 5, &err), 0);
    sync_until(st, BERTH_STORE_LEADER);
    ck_assert_int_eq(berth_store_node_put(st, &n, &err), 0);
    berth_store_close(st);
    ck_assert_int_eq(berth_store_open_etcd(&c, &st, &err), 0);
    ck_assert_uint_eq(count_nodes(st), 1);
    berth_store_close(st);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(a_newer_schema_in_etcd_is_refused)
{
    berth_etcd *e = NULL;
    berth_etcd_config ec = { .n_endpoints = 1 };
    char prefix[64], key[160];
    berth_store_etcd_config c = etcd_config(prefix, sizeof(prefix));
    berth_etcd_op op = { 0 };
    berth_store *st = NULL;
    berth_error *err = NULL;
    bool ok = false;

    ec.endpoints[0] = etcd_endpoint;
    ck_assert_int_eq(berth_etcd_new(&ec, &e, NULL), 0);
    snprintf(key, sizeof(key), "%smeta/schema", c.prefix);
    op.key = key;
    op.key_len = strlen(key);
    op.value = "999";
    op.value_len = 3;
    ck_assert_int_eq(berth_etcd_txn(e, NULL, 0, &op, 1, &ok, NULL, NULL), 0);
    ck_assert(ok);
    ck_assert_int_lt(berth_store_open_etcd(&c, &st, &err), 0);
    ck_assert_int_eq(err->code, EPROTO);
    ck_assert_ptr_nonnull(strstr(err->msg, "schema version 999 is newer than this controller's"));
    berth_error_free(&err);
    berth_etcd_free(e);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store"), *te = tcase_create("etcd");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nodes_round_trip_across_a_reopen);
    tcase_add_test(tc, workloads_assignments_statuses_round_trip);
    tcase_add_test(tc, transactions_are_all_or_nothing);
    tcase_add_test(tc, event_history_is_bounded);
    tcase_add_test(tc, join_tokens_are_single_use);
    tcase_add_test(tc, damage_is_an_error_not_a_crash);
    tcase_add_test(tc, taints_and_the_upgrade_from_schema_1);
    tcase_add_test(tc, namespaces_and_the_upgrade_from_schema_2);
    tcase_add_test(tc, revisions_and_the_upgrade_from_schema_4);
    suite_add_tcase(s, tc);
    /* the same round trips on etcd, and what only etcd has */
    tcase_add_unchecked_fixture(te, etcd_use, etcd_stop);
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_set_timeout(te, 60);
    tcase_add_test(te, nodes_round_trip_across_a_reopen);
    tcase_add_test(te, workloads_assignments_statuses_round_trip);
    tcase_add_test(te, transactions_are_all_or_nothing);
    tcase_add_test(te, event_history_is_bounded);
    tcase_add_test(te, join_tokens_are_single_use);
    tcase_add_test(te, a_follower_follows_and_takes_over_with_everything);
    tcase_add_test(te, a_deposed_leaders_writes_are_fenced);
    tcase_add_test(te, rows_are_keys_an_operator_can_read);
    tcase_add_test(te, a_newer_schema_in_etcd_is_refused);
    tcase_add_test(te, backup_and_restore_across_backends);
    tcase_add_test(te, text_that_is_not_utf8_replicates);
    tcase_add_test(te, tls_with_a_client_certificate);
    suite_add_tcase(s, te);
    return s;
}
