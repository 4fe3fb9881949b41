/* Calling: the rpc client (REQ), used by agents towards the controller and
 * by berthctl towards either.
 *
 * Each call carries a deadline; the client gives up at it (the answer is
 * DEADLINE_EXCEEDED) and the server never starts a call whose deadline has
 * passed. nanomsg's REQ resends a request that got no answer (resend_ivl),
 * which is safe because the server answers duplicates from its reply cache.
 * Several calls can be on the wire at once: one REQ socket (opened on
 * demand) per call in flight, up to max_inflight; more wait in order.
 *
 * The first call, and the first after the session lifetime, performs the
 * handshake (auth.h): the server must prove it holds a key the policy
 * knows for the configured server principal, so answers from anyone else
 * are dropped. A server that refuses us (unknown key, awaiting approval)
 * fails the waiting calls with its reason (PERMISSION_DENIED). When a call
 * times out and nothing at all arrived under the session since it was
 * sent, the session is dropped (the server may have restarted and lost it)
 * and the next call handshakes again. */
#ifndef BERTH_RPC_CLIENT_H
#define BERTH_RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "base/loop.h"
#include "metrics.h"

typedef struct berth_rpc_client berth_rpc_client;

typedef struct berth_rpc_client_config {
    berth_loop *loop;
    berth_auth *auth;
    /* The server's address, tcp://HOST:PORT or ipc://PATH. */
    const char *address;
    /* Who must answer: its keys come from the auth context's policy. */
    berth_principal server;
    /* Presented at handshakes (enrollment), if not NULL; copied. */
    const berth_join_token *join_token;
    /* Calls on the wire at once (0 = 8). */
    unsigned max_inflight;
    /* nanomsg REQ resend interval in ms (0 = 2000). */
    int resend_ivl_ms;
    /* How long a handshake may take (0 = 5000 ms). */
    uint32_t handshake_timeout_ms;
    /* The deadline of calls made with timeout 0 (0 = 30000 ms): every call
     * has one. */
    uint32_t default_timeout_ms;
    /* Where calls are counted (how long, by method and code); NULL:
     * nowhere. Borrowed: it must outlive the client. */
    berth_rpc_metrics *metrics;
} berth_rpc_client_config;

/* How a call ended. */
typedef struct berth_rpc_result {
    int code;                   /* a Code */
    char *message;              /* why, when not OK (NULL for OK) */
    ProtobufCMessage *response; /* OK only: an object of the method's output type */
} berth_rpc_result;

/* Free what the result holds (berth_pb_free for the response). */
void berth_rpc_result_clear(berth_rpc_result *r);

/* Called exactly once per call, from the loop (never from inside
 * berth_rpc_client_call). It may take result->response and ->message
 * (setting them NULL); what is left is freed after it returns. It may start
 * new calls; it must not free the client. */
typedef void (*berth_rpc_done_fn)(berth_rpc_result *result, void *data);

typedef struct berth_rpc_client_stats {
    uint64_t calls;
    uint64_t ok;
    uint64_t failed;            /* completed with a non-OK status, DEADLINE_EXCEEDED included */
    uint64_t deadline_exceeded; /* gave up waiting */
    uint64_t handshakes;        /* sessions made */
    uint64_t refused;           /* handshakes the server refused */
    uint64_t dropped;           /* received frames that were not a valid answer */
    uint64_t resent;            /* calls sent again after their session was lost */
} berth_rpc_client_stats;

int berth_rpc_client_new(const berth_rpc_client_config *cfg, berth_rpc_client **ret_client,
                         berth_error **err);
/* Calls still waiting complete with CANCELLED. */
void berth_rpc_client_free(berth_rpc_client *c);

/* Start a call of svc's method (by its short name, "Register") with
 * request (of the method's input type; not kept) and a timeout in ms
 * (0 = the client's default). Fails only for misuse: an unknown method, a request of
 * another type, a request larger than a frame (EMSGSIZE), no memory.
 * Everything else is reported through done. */
int berth_rpc_client_call(berth_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                          const char *method, const ProtobufCMessage *request, uint32_t timeout_ms,
                          berth_rpc_done_fn done, void *data, berth_error **err);

/* The same, waiting for the result by running the loop (for tools and
 * tests; never from inside a loop callback). Returns 0 when the call
 * completed, whatever its status: *ret_result holds it (clear it with
 * berth_rpc_result_clear). */
int berth_rpc_client_call_sync(berth_rpc_client *c, const ProtobufCServiceDescriptor *svc,
                               const char *method, const ProtobufCMessage *request,
                               uint32_t timeout_ms, berth_rpc_result *ret_result,
                               berth_error **err);

/* The server is known to have lost its sessions (it restarted, and the
 * caller dropped the sessions it had with it from auth): calls waiting
 * under a session auth no longer has go out again under the next one at
 * once, instead of waiting out their deadlines for answers that cannot
 * come (the server drops what is sealed for a session it does not know). */
void berth_rpc_client_sessions_lost(berth_rpc_client *c);

/* The loop the client runs on. */
berth_loop *berth_rpc_client_loop(const berth_rpc_client *c);
const berth_rpc_client_stats *berth_rpc_client_stats_of(const berth_rpc_client *c);

/* The name of a status code ("DEADLINE_EXCEEDED"). */
const char *berth_rpc_code_name(int code);

#endif
