/* Metrics: per container cpu, memory (current, limit), pids, OOM kills and
 * I/O from its cgroup, plus the node's own figures, sent on the stream as
 * one MetricsReport per round. */
#ifndef BERTHD_METRICS_H
#define BERTHD_METRICS_H

#include "agent.h"
#include "base/error.h"
#include "rpc/stream.h"

int metrics_send(agent *a, berth_stream_push *push, berth_error **err);

#endif
