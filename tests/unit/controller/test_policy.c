/* The controller's admission policy on SQLite, through real handshakes: a
 * join token enrolls one node once; a node without one waits for an
 * operator's approval of exactly its key; configured operators get in and
 * others do not; all of it survives a restart, and token secrets are
 * useless without the controller's key. */
#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "check_main.h"
#include "policy_sqlite.h"
#include "rpc/server.h"
#include "rpc_test_util.h"

static char *dir;
static char path[256];
static berth_loop *loop;
static berth_store *st;
static berth_policy_sqlite *policy;
static berth_principal ctl_who;
static berth_keypair ctl_key;
static berth_auth *ctl_auth;
static berth_rpc_server *srv;
static test_service svc;
static char *addr;
static char changed[8][64];
static int n_changed;

static void on_changed(void *data, const char *name)
{
    (void)data;
    if (n_changed < 8)
        snprintf(changed[n_changed++], 64, "%s", name);
}

static void controller_up(void)
{
    berth_auth_config ac = { 0 };
    berth_rpc_server_config sc = { 0 };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_store_open(path, &st, &err), 0);
    policy = berth_policy_sqlite_new(st, &ctl_key, on_changed, NULL);
    ac.self = ctl_who;
    ac.key = ctl_key;
    ac.policy = &berth_policy_sqlite_ops;
    ac.policy_data = policy;
    ck_assert_int_eq(berth_auth_new(&ac, &ctl_auth, &err), 0);
    sc.loop = loop;
    sc.auth = ctl_auth;
    ck_assert_int_eq(berth_rpc_server_new(&sc, &srv, &err), 0);
    test_service_init(&svc, loop);
    ck_assert_int_eq(berth_rpc_server_add_service(srv, (ProtobufCService *)&svc.base, &err), 0);
    ck_assert_int_eq(berth_rpc_server_bind(srv, addr, &err), 0);
}

static void controller_down(void)
{
    berth_rpc_server_free(srv);
    berth_auth_free(ctl_auth);
    berth_policy_sqlite_free(policy);
    berth_store_close(st);
}

static void setup(void)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
    dir = tmpdir_make();
    snprintf(path, sizeof(path), "%s/berth.db", dir);
    addr = ipc_addr(dir, "rpc");
    ck_assert_int_eq(berth_principal_init(&ctl_who, BERTH_ROLE_CONTROLLER, "ctl", &err), 0);
    ck_assert_int_eq(berth_keypair_generate(&ctl_key, &err), 0);
    n_changed = 0;
    controller_up();
}

static void teardown(void)
{
    controller_down();
    berth_loop_free(loop);
    tmpdir_remove(dir);
    free(addr);
}

/* A party that pins the controller's key. */
static void party(test_party *p, berth_role role, const char *name)
{
    berth_error *err = NULL;

    party_init(p, role, name);
    ck_assert_int_eq(berth_policy_memory_add_key(p->policy, &ctl_who, ctl_key.pk, &err), 0);
}

/* One Echo call from p (with token, if any); its code, and its message. */
static int call(test_party *p, const berth_join_token *token, char **ret_msg)
{
    berth_rpc_client_config cc = {
        .loop = loop, .auth = p->auth, .address = addr, .server = ctl_who, .join_token = token
    };
    berth_rpc_client *c = NULL;
    berth_error *err = NULL;
    char *msg = NULL;
    int code;

    ck_assert_int_eq(berth_rpc_client_new(&cc, &c, &err), 0);
    code = echo_call(c, "Echo", "hi", 5000, NULL, &msg);
    berth_rpc_client_free(c);
    if (ret_msg)
        *ret_msg = msg;
    else
        free(msg);
    return code;
}

static berth_store_node node(const char *name)
{
    berth_store_node n;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_store_node_get(st, name, &n, &err), 1);
    node_info_free_unpacked(n.info, NULL);
    n.info = NULL;
    return n;
}

static int count_event(void *data, Event *e)
{
    (*(size_t *)data)++;
    event_free_unpacked(e, NULL);
    return 0;
}

/* How many events the store holds about node name. */
static size_t events_of(const char *name)
{
    berth_error *err = NULL;
    size_t n = 0;

    ck_assert_int_eq(berth_store_events_list(st, "Node", name, 100, 0, count_event, &n, &err), 0);
    return n;
}

START_TEST(a_join_token_enrolls_one_node_once)
{
    test_party n1, n2;
    berth_join_token token;
    berth_error *err = NULL;
    berth_store_node n;
    char tid[16], want[320], *msg = NULL;
    int64_t expires = 0;

    party(&n1, BERTH_ROLE_NODE, "n1");
    party(&n2, BERTH_ROLE_NODE, "n2");
    ck_assert_int_eq(
        berth_policy_sqlite_create_token(policy, 0, 0, "rack 4", &token, &expires, &err), 0);
    ck_assert_int_gt(expires, 0);
    ck_assert_int_eq(call(&n1, &token, NULL), CODE_OK);
    ck_assert_int_eq(n_changed, 1);
    ck_assert_str_eq(changed[0], "n1");
    n = node("n1");
    ck_assert_uint_eq(n.n_keys, 1);
    ck_assert_int_eq(memcmp(n.keys[0], n1.key.pk, BERTH_PUBKEY_LEN), 0);
    ck_assert_int_eq(n.phase, NODE_UNKNOWN);
    ck_assert_str_eq(n.reason, "enrolled, not registered yet");

    /* the same token again: refused, and n2 is not recorded */
    sodium_bin2hex(tid, sizeof(tid), token.id, BERTH_TOKEN_ID_LEN);
    ck_assert_int_eq(call(&n2, &token, &msg), CODE_PERMISSION_DENIED);
    snprintf(want, sizeof(want),
             "controller ctl at %s refused us: join token %s is unknown, used, expired or wrong",
             addr, tid);
    ck_assert_str_eq(msg, want);
    free(msg);
    berth_store_node none;
    ck_assert_int_eq(berth_store_node_get(st, "n2", &none, &err), 0);

    /* n1 comes back later with its key alone */
    ck_assert_int_eq(call(&n1, NULL, NULL), CODE_OK);
    party_free(&n1);
    party_free(&n2);
}
END_TEST

START_TEST(approval_admits_exactly_the_key_checked)
{
    test_party n2;
    berth_error *err = NULL;
    berth_store_node n;
    char fp[BERTH_FINGERPRINT_LEN], want[320], *msg = NULL;

    party(&n2, BERTH_ROLE_NODE, "n2");
    berth_key_fingerprint(n2.key.pk, fp);
    ck_assert_int_eq(call(&n2, NULL, &msg), CODE_PERMISSION_DENIED);
    snprintf(want, sizeof(want),
             "controller ctl at %s refused us: node n2: key %s awaits operator approval "
             "(berthctl node approve n2 --fingerprint %s)",
             addr, fp, fp);
    ck_assert_str_eq(msg, want);
    free(msg);
    n = node("n2");
    ck_assert_int_eq(n.phase, NODE_PENDING_APPROVAL);
    ck_assert(n.has_pending);
    ck_assert_uint_eq(n.n_keys, 0);
    ck_assert_int_eq(n_changed, 1);

    /* the operator names another key: nothing happens */
    ck_assert_int_lt(berth_policy_sqlite_approve(policy, "n2", "AAAA", &err), 0);
    snprintf(want, sizeof(want), "node n2: the key awaiting approval is %s, not AAAA", fp);
    ck_assert_str_eq(err->msg, want);
    /* what berthctl shows: FAILED_PRECONDITION, as for every refusal that
     * depends on the state of things */
    ck_assert_int_eq(berth_rpc_code_of(err->code), CODE_FAILED_PRECONDITION);
    berth_error_free(&err);
    ck_assert_int_eq(call(&n2, NULL, NULL), CODE_PERMISSION_DENIED);
    ck_assert_berth_error(berth_policy_sqlite_approve(policy, "n9", "", &err), err,
                          "node n9: no key awaits approval");

    ck_assert_int_eq(berth_policy_sqlite_approve(policy, "n2", fp, &err), 0);
    n = node("n2");
    ck_assert_int_eq(n.phase, NODE_UNKNOWN);
    ck_assert_str_eq(n.reason, "approved, not registered yet");
    ck_assert(!n.has_pending);
    ck_assert_int_eq(call(&n2, NULL, NULL), CODE_OK);
    party_free(&n2);
}
END_TEST

START_TEST(operators_are_configured)
{
    test_party alice, bob;
    berth_error *err = NULL;
    char fp[BERTH_FINGERPRINT_LEN], want[320], *msg = NULL;

    party(&alice, BERTH_ROLE_OPERATOR, "alice");
    party(&bob, BERTH_ROLE_OPERATOR, "bob");
    ck_assert_int_eq(berth_policy_sqlite_add_operator(policy, "alice", alice.key.pk, &err), 0);
    ck_assert_uint_eq(berth_policy_sqlite_operators(policy), 1);
    ck_assert_int_eq(call(&alice, NULL, NULL), CODE_OK);
    ck_assert_int_eq(call(&bob, NULL, &msg), CODE_PERMISSION_DENIED);
    snprintf(want, sizeof(want),
             "controller ctl at %s refused us: operator bob: key %s is not known here", addr,
             berth_key_fingerprint(bob.key.pk, fp));
    ck_assert_str_eq(msg, want);
    free(msg);
    /* operators never end up awaiting approval */
    size_t pending = 9;
    ck_assert_int_eq(berth_store_pending_count(st, &pending, &err), 0);
    ck_assert_uint_eq(pending, 0);
    party_free(&alice);
    party_free(&bob);
}
END_TEST

START_TEST(admissions_survive_a_restart_and_need_the_key)
{
    const berth_policy_ops *ops = &berth_policy_sqlite_ops;
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], secret[BERTH_TOKEN_SECRET_LEN];
    berth_join_token token, unused;
    berth_principal who;
    berth_error *err = NULL;
    test_party n1;
    size_t n_keys = 0;
    int64_t expires;

    party(&n1, BERTH_ROLE_NODE, "n1");
    ck_assert_int_eq(berth_policy_sqlite_create_token(policy, 60, 0, "", &token, &expires, &err),
                     0);
    ck_assert_int_eq(berth_policy_sqlite_create_token(policy, 60, 0, "", &unused, &expires, &err),
                     0);
    ck_assert_int_eq(call(&n1, &token, NULL), CODE_OK);

    /* the controller restarts: n1 is still admitted, the unused token
     * still works */
    controller_down();
    controller_up();
    ck_assert_int_eq(ops->lookup(policy, n1.who.id, &who, keys, &n_keys, &err), 1);
    ck_assert_str_eq(who.name, "n1");
    ck_assert_int_eq(who.role, BERTH_ROLE_NODE);
    ck_assert_uint_eq(n_keys, 1);
    ck_assert_int_eq(memcmp(keys[0], n1.key.pk, BERTH_PUBKEY_LEN), 0);
    ck_assert_int_eq(ops->join_token_secret(policy, unused.id, secret, &err), 1);
    ck_assert_int_eq(memcmp(secret, unused.secret, sizeof(secret)), 0);
    ck_assert_int_eq(ops->join_token_secret(policy, token.id, secret, &err), 0);
    /* n1's session died with the old controller: its first call may time
     * out (nothing came back under the session), the next handshakes anew */
    int code = call(&n1, NULL, NULL);
    if (code == CODE_DEADLINE_EXCEEDED)
        code = call(&n1, NULL, NULL);
    ck_assert_int_eq(code, CODE_OK);

    /* the database without the controller's key: the sealed secret is
     * of no use */
    berth_policy_sqlite *other = NULL;
    berth_keypair wrong;
    ck_assert_int_eq(berth_keypair_generate(&wrong, &err), 0);
    other = berth_policy_sqlite_new(st, &wrong, NULL, NULL);
    ck_assert_int_eq(ops->join_token_secret(other, unused.id, secret, &err), 0);
    berth_policy_sqlite_free(other);
    party_free(&n1);
}
END_TEST

/* Anyone can ask: the keys awaiting approval are bounded, and the one that
 * waited longest makes room for a new one (a node that still wants in asks
 * again at its next retry and so stays among the newest). Nobody can ask
 * under an admitted name, and asking writes no event. */
START_TEST(pending_keys_are_bounded)
{
    const berth_policy_ops *ops = &berth_policy_sqlite_ops;
    uint8_t pk[BERTH_PUBKEY_LEN] = { 7 };
    berth_principal who;
    berth_error *err = NULL;
    berth_store_node n;
    size_t pending = 0;
    char name[32];
    int gone = 0;

    ck_assert_int_eq(berth_store_begin(st, &err), 0);
    for (int i = 0; i < BERTH_PENDING_MAX; i++) {
        snprintf(name, sizeof(name), "stranger-%d", i);
        ck_assert_int_eq(berth_principal_init(&who, BERTH_ROLE_NODE, name, &err), 0);
        ck_assert_int_eq(ops->request_approval(policy, &who, pk, &err), 0);
    }
    ck_assert_int_eq(berth_store_commit(st, &err), 0);
    ck_assert_int_eq(berth_principal_init(&who, BERTH_ROLE_NODE, "one-more", &err), 0);
    ck_assert_int_eq(ops->request_approval(policy, &who, pk, &err), 0);
    ck_assert_int_eq(berth_store_pending_count(st, &pending, &err), 0);
    ck_assert_uint_eq(pending, BERTH_PENDING_MAX);
    ck_assert(node("one-more").has_pending);
    for (int i = 0; i < BERTH_PENDING_MAX; i++) {
        snprintf(name, sizeof(name), "stranger-%d", i);
        if (berth_store_node_get(st, name, &n, &err) == 0)
            gone++;
        else
            node_info_free_unpacked(n.info, NULL);
    }
    ck_assert_int_eq(gone, 1);
    /* one already waiting may present a newer key */
    ck_assert_int_eq(berth_principal_init(&who, BERTH_ROLE_NODE, "stranger-3", &err), 0);
    pk[0] = 8;
    ck_assert_int_eq(ops->request_approval(policy, &who, pk, &err), 0);
    ck_assert_uint_eq(node("stranger-3").pending_key[0], 8);
    ck_assert_uint_eq(events_of("stranger-3"), 0);
}
END_TEST

/* A join token never replaces an admitted node's key, nobody queues a key
 * under an admitted name, and an admitted node's key is replaced only by
 * an operator naming the new one; the old key stops admitting it once the
 * new one is used. */
START_TEST(an_admitted_node_keeps_its_key)
{
    const berth_policy_ops *ops = &berth_policy_sqlite_ops;
    uint8_t k1[BERTH_PUBKEY_LEN] = { 1 }, k2[BERTH_PUBKEY_LEN] = { 2 },
            k3[BERTH_PUBKEY_LEN] = { 3 };
    char fp[BERTH_FINGERPRINT_LEN];
    berth_join_token token;
    berth_principal who;
    berth_error *err = NULL;
    int64_t expires;

    ck_assert_int_eq(berth_principal_init(&who, BERTH_ROLE_NODE, "db-1", &err), 0);
    ck_assert_int_eq(ops->request_approval(policy, &who, k1, &err), 0);
    ck_assert_int_eq(berth_policy_sqlite_approve(policy, "db-1", NULL, &err), 0);
    ck_assert_int_eq(node("db-1").n_keys, 1);
    /* a spare token */
    ck_assert_int_eq(berth_policy_sqlite_create_token(policy, 0, 0, "", &token, &expires, &err), 0);
    ck_assert_berth_error(ops->enroll(policy, token.id, &who, k2, &err), err,
                          "node db-1 is admitted already; a join token cannot replace its key "
                          "(an operator can: berthctl node approve db-1 --fingerprint KEY)");
    /* ... which is still unused */
    ck_assert_int_eq(
        ops->join_token_secret(policy, token.id, (uint8_t[BERTH_TOKEN_SECRET_LEN]){ 0 }, &err), 1);
    ck_assert_berth_error(ops->request_approval(policy, &who, k2, &err), err,
                          "node db-1 is admitted with another key; an operator must name this one "
                          "to replace it");
    ck_assert(!node("db-1").has_pending);
    ck_assert_berth_error(berth_policy_sqlite_approve(policy, "db-1", NULL, &err), err,
                          "node db-1 is admitted; to replace its key, name the new one "
                          "(--fingerprint KEY)");
    ck_assert_int_eq(
        berth_policy_sqlite_approve(policy, "db-1", berth_key_fingerprint(k3, fp), &err), 0);
    ck_assert_int_eq(node("db-1").n_keys, 2); /* the old one until the new one is used */
    ck_assert_int_eq(ops->confirm(policy, &who, k1, &err), 0);
    ck_assert_int_eq(node("db-1").n_keys, 2);
    ck_assert_int_eq(ops->confirm(policy, &who, k3, &err), 0);
    ck_assert_int_eq(node("db-1").n_keys, 1);
    ck_assert_int_eq(memcmp(node("db-1").keys[0], k3, BERTH_PUBKEY_LEN), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_join_token_enrolls_one_node_once);
    tcase_add_test(tc, approval_admits_exactly_the_key_checked);
    tcase_add_test(tc, operators_are_configured);
    tcase_add_test(tc, admissions_survive_a_restart_and_need_the_key);
    tcase_add_test(tc, pending_keys_are_bounded);
    tcase_add_test(tc, an_admitted_node_keeps_its_key);
    suite_add_tcase(s, tc);
    return s;
}
