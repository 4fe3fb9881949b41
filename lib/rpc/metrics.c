/* The rpc layer's figures (see metrics.h). */
#include "metrics.h"

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "client.h"

/* Methods are the dispatch's (a few dozen) and codes a handful: beyond
 * this many pairs something is wrong, and the rest is counted as one. */
#define SERIES_MAX 256

struct berth_rpc_metrics {
    berth_prom_vec *served, *called;
};

static const char *const labels[] = { "method", "code" };

berth_rpc_metrics *berth_rpc_metrics_new(void)
{
    berth_rpc_metrics *m = berth_xcalloc(1, sizeof(*m));

    m->served = berth_prom_vec_new(BERTH_PROM_HISTOGRAM, labels, 2, berth_prom_seconds_buckets,
                                   berth_prom_seconds_buckets_n, SERIES_MAX);
    m->called = berth_prom_vec_new(BERTH_PROM_HISTOGRAM, labels, 2, berth_prom_seconds_buckets,
                                   berth_prom_seconds_buckets_n, SERIES_MAX);
    return m;
}

void berth_rpc_metrics_free(berth_rpc_metrics *m)
{
    if (!m)
        return;
    berth_prom_vec_free(m->served);
    berth_prom_vec_free(m->called);
    free(m);
}

void berth_rpc_metrics_served(berth_rpc_metrics *m, const char *method, int code, int64_t ns)
{
    berth_prom_vec_observe_ns(m->served, (const char *[]){ method, berth_rpc_code_name(code) }, ns);
}

void berth_rpc_metrics_called(berth_rpc_metrics *m, const char *method, int code, int64_t ns)
{
    berth_prom_vec_observe_ns(m->called, (const char *[]){ method, berth_rpc_code_name(code) }, ns);
}

void berth_rpc_metrics_write(berth_prom *w, const berth_rpc_metrics *m, berth_auth *auth)
{
    berth_prom_vec_write(w, m->served, "berth_rpc_server_handling_seconds",
                         "Calls served: from a request handed to its handler to its answer, by "
                         "method and status code.");
    berth_prom_vec_write(w, m->called, "berth_rpc_client_call_seconds",
                         "Calls made: from the call to its result (queueing, handshakes and "
                         "resends included), by method and status code.");
    if (!auth)
        return;
    berth_prom_family(w, "berth_rpc_frames_dropped_total", BERTH_PROM_COUNTER,
                      "Frames dropped unanswered (unauthenticated, replayed, stale, "
                      "malformed ...), by reason.");
    for (int r = 1; r < BERTH_REJECT_COUNT; r++) {
        berth_prom_label l = { "reason", berth_reject_name((berth_reject)r) };

        berth_prom_sample_u64(w, &l, 1, berth_auth_stats_of(auth)->rejected[r]);
    }
}
