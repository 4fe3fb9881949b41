/* What the rpc layer counts for a daemon's /metrics: how long each call
 * served and each call made took, by method and status code, and the
 * frames the daemon dropped, by reason (auth.h's counters). One object per
 * daemon, shared by its servers and clients: their configs point at it.
 * Single-threaded, like the loop the servers and clients run on. */
#ifndef BERTH_RPC_METRICS_H
#define BERTH_RPC_METRICS_H

#include <stdint.h>

#include "auth.h"
#include "metrics/prom.h"

typedef struct berth_rpc_metrics berth_rpc_metrics;

berth_rpc_metrics *berth_rpc_metrics_new(void);
/* NULL is fine. */
void berth_rpc_metrics_free(berth_rpc_metrics *m);

/* A call a handler executed, from its arrival to its answer (server.c);
 * method is the full name a dispatch found ("berth.v1.Controller/Register"),
 * code its answer's status. */
void berth_rpc_metrics_served(berth_rpc_metrics *m, const char *method, int code, int64_t ns);
/* A call made, from berth_rpc_client_call to its result (client.c). */
void berth_rpc_metrics_called(berth_rpc_metrics *m, const char *method, int code, int64_t ns);

/* The families berth_rpc_server_handling_seconds and
 * berth_rpc_client_call_seconds (histograms by method and code) and
 * berth_rpc_frames_dropped_total (a counter by reason, every reason; none
 * when auth is NULL). */
void berth_rpc_metrics_write(berth_prom *w, const berth_rpc_metrics *m, berth_auth *auth);

#endif
