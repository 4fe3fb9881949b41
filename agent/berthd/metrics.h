/* Metrics: per container cpu, memory (current, limit), pids, OOM kills and
 * I/O from its cgroup, plus the node's own figures, sent on the stream as
 * one MetricsReport per round.
 *
 * Arrows: main calls it on its timer; it reads the container table and the
 * cgroups, and sends on the session's stream. */
#ifndef BERTHD_METRICS_H
#define BERTHD_METRICS_H

#include "base/error.h"
#include "containers.h"
#include "rpc/stream.h"
#include "runtime/cgroup.h"

/* One round: a sample of every running container (its cgroup, its pod's
 * address and network figures) and one of the node, sent on push. */
int metrics_send(containers *t, berth_cgroup_driver *cgroups, berth_stream_push *push,
                 berth_error **err);

#endif
