/* Answering calls: the rpc server (raw REP, bound by the controller and by
 * berthd's local socket) and the survey respondent (raw RESPONDENT,
 * connected by every agent).
 *
 * Raw sockets let many calls execute at once: each request's routing
 * header is kept with its call and the reply goes back whenever the handler
 * completes, so a slow handler holds up nobody. A handler is a generated
 * protobuf-c service method:
 *
 *   static void my_register(Controller_Service *svc,
 *                           const RegisterRequest *req,
 *                           RegisterResponse_Closure closure,
 *                           void *closure_data)
 *
 * closure_data is the berth_rpc_call. The handler completes the call
 * exactly once, now or later from the loop: closure(&response,
 * closure_data) answers OK; berth_rpc_call_fail(call, code, ...) answers
 * with an error status. closure(NULL, ...) answers INTERNAL. The request
 * (req) stays valid until the call completes.
 *
 * Before a handler runs, the server has authenticated the frame (auth.h),
 * answered a duplicate from the reply cache, answered an expired request
 * DEADLINE_EXCEEDED and an unknown method UNIMPLEMENTED, and decoded the
 * body with a memory budget (INVALID_ARGUMENT when it is not the method's
 * input type). */
#ifndef BERTH_RPC_SERVER_H
#define BERTH_RPC_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "metrics.h"

typedef struct berth_rpc_server berth_rpc_server;
typedef struct berth_rpc_call berth_rpc_call;

typedef struct berth_rpc_server_config {
    berth_loop *loop;
    berth_auth *auth;
    /* Calls executing at once; beyond, requests are answered
     * RESOURCE_EXHAUSTED without executing (0 = 1024). */
    size_t max_pending;
    /* Answered calls remembered for duplicates (0 = 4096), and for how long
     * (0 = 5 min: longer than any deadline worth resending within). */
    size_t reply_cache_size;
    int64_t reply_cache_ttl_ns;
    /* The largest message taken (0 = BERTH_FRAME_MAX). nanomsg reserves a
     * message's buffer when its length arrives, before anything can be
     * authenticated: this bounds what one connection can make us hold.
     * A server whose requests are small (the Agent service) says so. */
    size_t max_request_bytes;
    /* Where executed calls are counted (how long, by method and code);
     * NULL: nowhere. Borrowed: it must outlive the server. */
    berth_rpc_metrics *metrics;
    /* Asked of every call before it executes: NULL to let it, or why it is
     * refused UNAVAILABLE now (a controller that does not lead: the caller
     * tries another). Not remembered in the reply cache: the same call may
     * pass later. NULL: every call executes. */
    const char *(*gate)(void *data, const char *method);
    void *gate_data;
} berth_rpc_server_config;

typedef struct berth_rpc_server_stats {
    uint64_t requests;      /* authenticated, decoded requests */
    uint64_t executed;      /* handed to a handler */
    uint64_t completed;     /* handlers that completed */
    uint64_t duplicates;    /* answered from the reply cache or joined to a running call */
    uint64_t expired;       /* deadline passed on arrival: not executed */
    uint64_t unimplemented; /* unknown method */
    uint64_t invalid;       /* undecodable envelope or body */
    uint64_t overloaded;    /* refused: too many calls executing */
    uint64_t replies;       /* answers sent */
    uint64_t replies_lost;  /* answers that could not be sent (no session, send failed) */
} berth_rpc_server_stats;

/* An rpc server; bind it, add services, then run the loop. */
int berth_rpc_server_new(const berth_rpc_server_config *cfg, berth_rpc_server **ret_server,
                         berth_error **err);
/* A survey respondent answering questions signed by surveyor (the
 * controller); answers are sealed under our session with it, so it must
 * have completed a handshake (an rpc client to it) before answering. */
int berth_rpc_respondent_new(const berth_rpc_server_config *cfg, const berth_principal *surveyor,
                             berth_rpc_server **ret_server, berth_error **err);
/* Calls still executing complete into nothing (their handlers must still
 * complete them, and may). */
void berth_rpc_server_free(berth_rpc_server *srv);

/* rpc servers bind; respondents connect. Several addresses are fine. */
int berth_rpc_server_bind(berth_rpc_server *srv, const char *addr, berth_error **err);
int berth_rpc_server_connect(berth_rpc_server *srv, const char *addr, berth_error **err);
/* Serve svc's implemented methods (not owned: it must outlive srv). */
int berth_rpc_server_add_service(berth_rpc_server *srv, ProtobufCService *svc, berth_error **err);
const berth_rpc_server_stats *berth_rpc_server_stats_of(const berth_rpc_server *srv);

/* The frames a's owner dropped, by reason, for an answer: one entry of
 * storage per reason with a count (pointed at from ptrs), returns how many.
 * The strings are static. */
size_t berth_rpc_frame_drops(berth_auth *a, FrameDrops storage[BERTH_REJECT_COUNT],
                             FrameDrops *ptrs[BERTH_REJECT_COUNT]);

/* ---- for handlers ---- */

/* Who called (authenticated). */
const berth_principal *berth_rpc_call_peer(const berth_rpc_call *call);
/* "berth.v1.Controller/Register". */
const char *berth_rpc_call_method(const berth_rpc_call *call);
/* When the caller stops waiting (monotonic ns); INT64_MAX for none. */
int64_t berth_rpc_call_deadline(const berth_rpc_call *call);
/* Complete the call with a non-OK status (a Code) and message
 * ("container web-1: not found"). */
void berth_rpc_call_fail(berth_rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Complete the call with err's message and the status its errno means:
 * the one errno-to-status mapping (berth_rpc_code_of). */
void berth_rpc_fail_error(berth_rpc_call *call, const berth_error *err);
/* The status code an errno means: EINVAL, E2BIG, ERANGE INVALID_ARGUMENT;
 * ENOENT, ESRCH NOT_FOUND; EEXIST ALREADY_EXISTS; EPERM, EACCES
 * PERMISSION_DENIED; EBUSY, ENOTEMPTY, EALREADY FAILED_PRECONDITION;
 * ENOSPC, EMFILE, ENFILE, EDQUOT, EFBIG RESOURCE_EXHAUSTED; ETIMEDOUT
 * DEADLINE_EXCEEDED; ECANCELED CANCELLED; ESTALE (what the request rests on
 * is older than what the server has: retry afresh) ABORTED; ENOSYS,
 * EOPNOTSUPP UNIMPLEMENTED; EAGAIN and unreachable peers, EIO UNAVAILABLE; anything
 * else (0 included) INTERNAL or UNKNOWN. */
int berth_rpc_code_of(int errnum);

#endif
