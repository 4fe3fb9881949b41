/* berthd's /metrics (Prometheus' text format, lib/metrics): its running
 * containers' figures under the names and labels cAdvisor gives them
 * (namespace, pod, container, name, id, image: dashboards made for the
 * kubelet's work as they are), the node's, and berthd's own (rpc calls,
 * dropped frames, reconciliation, container starts, image pulls).
 *
 * Arrows: main starts it; at each scrape, on the loop, it reads the
 * container table (through metrics.h: the same reading the controller
 * gets), the table's and the pulls' stats and the session's rpc figures.
 * Nothing calls it back. */
#ifndef BERTHD_EXPOSITION_H
#define BERTHD_EXPOSITION_H

#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "containers.h"
#include "pulls.h"
#include "runtime/cgroup.h"
#include "service.h"
#include "session.h"

typedef struct exposition exposition;

/* Everything is borrowed: it must outlive the endpoint. */
typedef struct exposition_config {
    berth_loop *loop;
    const char *address; /* metrics_address (lib/metrics/listen.h); not "off" */
    containers *containers;
    berth_cgroup_driver *cgroups;
    pulls *pulls;
    session *session;
    const agent_service *service;
    int64_t start_unix_ns; /* berthd's start */
} exposition_config;

/* Listen and serve from the loop (a taken address fails: EADDRINUSE). */
int exposition_start(const exposition_config *cfg, exposition **ret, berth_error **err);
/* NULL is fine. */
void exposition_stop(exposition *e);

#endif
