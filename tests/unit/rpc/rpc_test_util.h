/* Shared by the rpc tests and the benchmark: identities with their keys and
 * policies, a test service (Echo, Slow, Fail; Missing left unimplemented),
 * addresses under a temp dir or on a free loopback port, and raw nanomsg
 * sockets for sending hand-made frames. */
#ifndef BERTH_TEST_RPC_UTIL_H
#define BERTH_TEST_RPC_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "berth/proto/test.pb-c.h"
#include "berth/proto/v1.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/policy_memory.h"
#include "rpc/server.h"

/* One party: its principal, key pair, policy and auth context. */
typedef struct test_party {
    berth_principal who;
    berth_keypair key;
    berth_policy_memory *policy;
    berth_auth *auth;
} test_party;

/* Create a party (fails the test on error). */
void party_init(test_party *p, berth_role role, const char *name);
void party_free(test_party *p);
/* a accepts b's current key. */
void party_trust(test_party *a, const test_party *b);

/* The test service: counts executions; Slow completes from a loop timer. */
typedef struct test_service {
    Berth__Test__Test_Service base;
    berth_loop *loop;
    uint64_t executions;
    uint64_t slow_started, slow_done;
} test_service;

void test_service_init(test_service *svc, berth_loop *loop);

/* A fresh directory under /tmp (removed by tmpdir_remove). */
char *tmpdir_make(void);
void tmpdir_remove(char *dir);
/* "ipc://<dir>/<name>" */
char *ipc_addr(const char *dir, const char *name);
/* "tcp://127.0.0.1:<port>" with a port free right now. */
char *tcp_addr(void);

/* Run the loop until *flag is true or timeout_ms passes. */
bool run_until(berth_loop *loop, const bool *flag, int timeout_ms);
/* Run the loop for about ms. */
void run_for(berth_loop *loop, int ms);

/* A client to server, from party p. */
berth_rpc_client *client_new(berth_loop *loop, test_party *p, const test_party *server,
                             const char *addr);
/* A sync Echo call; returns the result code and fills *ret_reply when OK
 * (the caller frees it with berth_pb_free). */
int echo_call(berth_rpc_client *c, const char *method, const char *text, uint32_t timeout_ms,
              Berth__Test__EchoReply **ret_reply, char **ret_message);

/* A raw nanomsg socket (type e.g. NN_REQ) connected to addr. */
int raw_socket(int type, const char *addr);
/* Send bytes on a raw socket, then run the loop until a reply arrives on it
 * or timeout_ms passes; the reply (malloc'd) or NULL. */
uint8_t *raw_roundtrip(berth_loop *loop, int s, const uint8_t *msg, size_t len, int timeout_ms,
                       size_t *ret_len);

/* An Echo request envelope sealed by party p under its session with the
 * server (a call must have completed before), timestamped ts, as a frame
 * (malloc'd). call_id and timeout as given. */
uint8_t *sealed_request(test_party *p, const test_party *server, const char *method,
                        uint64_t call_id, uint32_t timeout_ms, int64_t ts, size_t *ret_len);
/* Open a sealed reply as p and decode it (NULL when rejected). */
Envelope *open_reply(test_party *p, const test_party *server, uint8_t *frame, size_t len);

#endif
