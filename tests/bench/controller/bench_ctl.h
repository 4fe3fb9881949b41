/* What the controller benchmarks share: the controller as a process (the
 * controller tests' harness), an operator's rpc client to it made as
 * berthctl makes its own (operator key, the controller's key pinned),
 * synchronous calls, join tokens, and cleanup that also runs when a helper
 * aborts. A helper that cannot do its job says why and aborts: a benchmark
 * has nothing to recover, but it must not leave processes behind. */
#ifndef BERTH_BENCH_CTL_H
#define BERTH_BENCH_CTL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "bench_util.h"
#include "berth/proto/v1.h"
#include "harness.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/policy_memory.h"

typedef struct bench_op {
    berth_policy_memory *policy;
    berth_auth *auth;
    berth_rpc_client *client;
} bench_op;

/* Operator admin (the controller's admin.key) on h's controller. */
void bench_op_connect(bench_op *op, harness *h);
void bench_op_close(bench_op *op);

/* Call a Controller method and wait (the loop runs). Returns the status
 * code; when OK and ret_response is not NULL, the answer (berth_pb_free). */
int bench_op_call(bench_op *op, const char *method, const ProtobufCMessage *req,
                  ProtobufCMessage **ret_response);
/* Apply a manifest; anything but OK aborts with the controller's message. */
void bench_op_apply(bench_op *op, const char *manifest);
/* Delete a workload (NOT_FOUND is fine). */
void bench_op_delete(bench_op *op, const char *workload);
/* A fresh one-time join token (malloc'd). */
char *bench_op_join_token(bench_op *op);

/* Run cleanup (the benchmark's own: its children ended by pid, its temp
 * dir and cgroups removed) when the process aborts, then abort as before.
 * For aborts on the main thread (need): the handler is not
 * async-signal-safe, it runs where the program stopped itself. */
void bench_on_abort(void (*cleanup)(void));

#endif
