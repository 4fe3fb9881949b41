/* A controller for testing berthd before (and apart from) berth-controller:
 * the Controller service's agent-facing methods, the events publisher, the
 * stream puller and a surveyor, all on ipc:// addresses under a temp dir,
 * driven from the test's own loop. It records what the agent tells it. */
#ifndef BERTH_TEST_FAKE_CONTROLLER_H
#define BERTH_TEST_FAKE_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "berth/proto/v1.h"
#include "rpc/pubsub.h"
#include "rpc/stream.h"
#include "rpc/survey.h"
#include "rpc_test_util.h"

#define FAKE_MAX 1024

typedef struct fake_event {
    char id[64];
    ContainerState state;
    int exit_code;
    int signal;
    uint32_t restart_count;
    int pid;
    char reason[64];
} fake_event;

typedef struct fake_ctl {
    berth_loop *loop;
    test_party party;
    berth_principal node;
    berth_rpc_server *srv;
    berth_events_pub *pub;
    berth_stream_pull *pull;
    berth_surveyor *surveyor;
    Controller_Service svc;
    char *rpc, *events, *stream, *survey;
    uint32_t heartbeat_ms;

    /* desired state */
    uint64_t generation;
    ContainerSpec *specs[FAKE_MAX];
    size_t n_specs;

    /* what the agent said */
    int registrations;
    uint64_t heartbeats;
    uint64_t applied;
    uint64_t full_reports;
    fake_event log[4096];
    size_t n_log;
    fake_event latest[FAKE_MAX]; /* by container, latest status */
    size_t n_latest;
    uint64_t metrics_reports;
    uint64_t max_memory[FAKE_MAX]; /* by index in latest */
    uint64_t max_peak[FAKE_MAX];
    uint64_t node_memory, node_memory_limit;
    double node_load;
    uint32_t node_containers;
    /* Called for every status heard (benchmarks time them), if set. */
    void (*on_status)(struct fake_ctl *f, const fake_event *e);
    /* Called for every Register and Heartbeat answered (method), if set. */
    void (*on_call)(struct fake_ctl *f, const char *method);
} fake_ctl;

/* Start on the caller's loop; node_key is the agent's public key (admitted). */
void fake_ctl_start(fake_ctl *f, berth_loop *loop, const char *dir, const char *node_name,
                    const uint8_t node_pk[32]);
void fake_ctl_stop(fake_ctl *f);

/* An outage: close every socket (down), and bind them again with the same
 * key and addresses, remembering what it knew (up). */
void fake_ctl_down(fake_ctl *f);
void fake_ctl_up(fake_ctl *f);

/* Replace the desired set (specs are copied), bump the generation and wake
 * the node. */
void fake_ctl_assign(fake_ctl *f, ContainerSpec **specs, size_t n);

/* The latest status of a container (NULL if none seen). */
const fake_event *fake_ctl_status(const fake_ctl *f, const char *id);

/* Count containers whose latest state is st. */
size_t fake_ctl_count(const fake_ctl *f, ContainerState st);

/* Ask the fleet (the one node) for its health: run the loop until the
 * answer or timeout; true if the node answered healthy. */
bool fake_ctl_survey(fake_ctl *f, int timeout_ms, size_t *ret_answered, size_t *ret_missing);

#endif
