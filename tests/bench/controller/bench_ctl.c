/* The controller benchmarks' shared helpers (see bench_ctl.h). */
#include "bench_ctl.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/keys.h"
#include "rpc/envelope.h"

/* long: the scale benchmark's Apply of 10,000 replicas takes tens of seconds */
#define CALL_TIMEOUT_MS 120000

void bench_op_connect(bench_op *op, harness *h)
{
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_principal me, controller;
    berth_auth_config ac = { 0 };
    berth_rpc_client_config cc = { 0 };
    size_t n = 0;

    memset(op, 0, sizeof(*op));
    need(berth_principal_init(&me, BERTH_ROLE_OPERATOR, "admin", NULL) == 0);
    need(berth_principal_init(&controller, BERTH_ROLE_CONTROLLER, "controller", NULL) == 0);
    need(berth_pubkeys_load(AT_FDCWD, h->pub, pks, &n, NULL) == 0);
    need(berth_keypair_load(AT_FDCWD, h->key, &ac.key, NULL) == 0);
    need(berth_policy_memory_new(&op->policy, NULL) == 0);
    for (size_t i = 0; i < n; i++)
        need(berth_policy_memory_add_key(op->policy, &controller, pks[i], NULL) == 0);
    ac.self = me;
    ac.policy = &berth_policy_memory_ops;
    ac.policy_data = op->policy;
    need(berth_auth_new(&ac, &op->auth, NULL) == 0);
    berth_keypair_wipe(&ac.key);
    cc.loop = h->loop;
    cc.auth = op->auth;
    cc.address = h->rpc;
    cc.server = controller;
    cc.default_timeout_ms = CALL_TIMEOUT_MS;
    /* one call at a time, as berthctl: never sent twice */
    cc.resend_ivl_ms = CALL_TIMEOUT_MS;
    need(berth_rpc_client_new(&cc, &op->client, NULL) == 0);
}

void bench_op_close(bench_op *op)
{
    berth_rpc_client_free(op->client);
    berth_auth_free(op->auth);
    berth_policy_memory_free(op->policy);
    memset(op, 0, sizeof(*op));
}

int bench_op_call(bench_op *op, const char *method, const ProtobufCMessage *req,
                  ProtobufCMessage **ret_response)
{
    berth_rpc_result r = { 0 };
    int code;

    need(berth_rpc_client_call_sync(op->client, &controller_descriptor, method, req, 0, &r, NULL) ==
         0);
    code = r.code;
    if (code == CODE_OK && ret_response) {
        *ret_response = r.response;
        r.response = NULL;
    }
    berth_rpc_result_clear(&r);
    return code;
}

void bench_op_apply(bench_op *op, const char *manifest)
{
    ApplyRequest req = APPLY_REQUEST_INIT;
    berth_rpc_result r = { 0 };

    req.manifest = (char *)manifest;
    req.source = "bench.yaml";
    need(berth_rpc_client_call_sync(op->client, &controller_descriptor, "Apply", &req.base, 0, &r,
                                    NULL) == 0);
    if (r.code != CODE_OK) {
        fprintf(stderr, "bench: Apply: %s: %s\n", berth_rpc_code_name(r.code),
                r.message ? r.message : "");
        abort();
    }
    berth_rpc_result_clear(&r);
}

void bench_op_delete(bench_op *op, const char *workload)
{
    DeleteRequest req = DELETE_REQUEST_INIT;
    int code;

    req.name = (char *)workload;
    code = bench_op_call(op, "Delete", &req.base, NULL);
    need(code == CODE_OK || code == CODE_NOT_FOUND);
}

char *bench_op_join_token(bench_op *op)
{
    CreateJoinTokenRequest req = CREATE_JOIN_TOKEN_REQUEST_INIT;
    JoinToken *t = NULL;
    char *token;

    req.description = "bench";
    need(bench_op_call(op, "CreateJoinToken", &req.base, (ProtobufCMessage **)&t) == CODE_OK);
    token = strdup(t->token);
    need(token);
    berth_pb_free(&t->base);
    return token;
}

static void (*abort_cleanup)(void);

static void on_abort(int sig)
{
    void (*cleanup)(void) = abort_cleanup;

    /* once: an abort inside the cleanup ends the process */
    abort_cleanup = NULL;
    signal(sig, SIG_DFL);
    if (cleanup)
        cleanup();
    raise(sig);
}

void bench_on_abort(void (*cleanup)(void))
{
    struct sigaction sa = { .sa_handler = on_abort };

    abort_cleanup = cleanup;
    sigemptyset(&sa.sa_mask);
    need(sigaction(SIGABRT, &sa, NULL) == 0);
}
