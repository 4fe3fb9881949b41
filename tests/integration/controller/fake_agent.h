/* A fake berthd for testing berth-controller: it speaks the whole
 * Controller/Agent contract over lib/rpc (enrollment by join token or
 * approval, Register, heartbeats with the status digest, wake-ups,
 * GetAssignments, ReportStatus when asked, ContainerEvent and MetricsReport
 * on the stream, Agent.Health on the survey and Agent.Health/Logs/List on
 * its own endpoint) but runs nothing: an assigned container is "Running" at
 * once. It counts what it starts and stops, so tests can prove the
 * controller never made it start anything twice. Runs on the test's loop.
 * Usable outside Check (the controller scale benchmark runs a thousand):
 * a helper that cannot do its job aborts (need, harness.h). */
#ifndef BERTH_TEST_FAKE_AGENT_H
#define BERTH_TEST_FAKE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/policy_memory.h"
#include "rpc/pubsub.h"
#include "rpc/server.h"
#include "rpc/stream.h"

#define FAKE_CONTAINERS_MAX 64

#define FAKE_DEVICES_MAX 8

typedef struct fake_container {
    char id[64];
    uint8_t *spec; /* packed, to notice a changed spec */
    size_t spec_len;
    ContainerStatus status;
    int64_t cpu_ns;
    /* the devices it holds (status.devices points here) */
    char devices[FAKE_DEVICES_MAX][96];
    char *device_ptrs[FAKE_DEVICES_MAX];
} fake_container;

typedef struct fake_agent fake_agent;

/* How the agent talks, where a test's quick defaults (NULL options) are not
 * wanted: the benchmark gives it berthd's. 0 fields keep the defaults. */
typedef struct fake_agent_opts {
    uint32_t call_timeout_ms; /* Register, GetAssignments, ReportStatus (default 1500) */
    int resend_ivl_ms;        /* the rpc client's REQ resend interval (default 500) */
    uint32_t metrics_ms;      /* MetricsReport period (default 1000) */
    /* Called for every heartbeat answered OK, with its round trip. */
    void (*on_heartbeat)(fake_agent *a, int64_t rtt_ns, void *data);
    /* Called when the containers held change (after each applied set). */
    void (*on_applied)(fake_agent *a, void *data);
    void *data;
} fake_agent_opts;

struct fake_agent {
    berth_loop *loop;
    char name[64];
    berth_principal who, controller;
    berth_keypair key;
    berth_policy_memory *policy;
    berth_auth *auth;
    berth_rpc_client *client;
    berth_events_sub *sub;
    berth_stream_push *push;
    berth_rpc_server *respondent;
    berth_rpc_server *agent_srv;
    Agent_Service agent;
    char rpc_addr[256], agent_addr[256];
    bool has_token;
    berth_join_token token;
    /* what it reports */
    int64_t cpu_millis, memory_bytes;
    const char *label_key, *label_value;
    /* CDI devices of one kind it advertises ("example.com/dev": count),
     * named KIND=dev0, dev1...: a container asking for some (its
     * resources.extended) holds free ones, and its host devices
     * (spec.devices), in its status. */
    const char *device_kind;
    int64_t device_count;
    /* state */
    bool registered, connected, fetching;
    int inflight; /* calls on the wire */
    bool paused;  /* cut off: no calls, wake-ups ignored, survey unanswered */
    uint32_t interval_ms;
    uint64_t applied, wanted;
    fake_container containers[FAKE_CONTAINERS_MAX];
    size_t n_containers;
    berth_loop_timer hb, metrics;
    fake_agent_opts opts;
    int64_t hb_sent_ns;
    /* what happened */
    unsigned starts, stops, registrations, reports, wakeups, aborted_reports;
    int last_code;
    char last_error[256];
};

/* Make the agent: its key, the controller's pinned key (from its .pub
 * file), its own Agent endpoint at agent_addr (NULL: none). token may be
 * NULL (then it waits for approval). Starts registering at once. */
void fake_agent_start(fake_agent *a, berth_loop *loop, const char *name, const char *rpc_addr,
                      const char *controller_pub, const char *agent_addr, const char *token,
                      int64_t cpu_millis, int64_t memory_bytes);
/* The same with options (copied; NULL: the tests' defaults). */
void fake_agent_start_opts(fake_agent *a, berth_loop *loop, const char *name, const char *rpc_addr,
                           const char *controller_pub, const char *agent_addr, const char *token,
                           int64_t cpu_millis, int64_t memory_bytes, const fake_agent_opts *opts);
void fake_agent_stop(fake_agent *a);

/* A full ReportStatus as the agent would send it now, to send later with
 * fake_agent_report_snapshot: a picture older than the events since, as
 * the wire may deliver it (rpc and stream keep no order between them). */
typedef struct fake_snapshot {
    ContainerStatus status[FAKE_CONTAINERS_MAX];
    size_t n;
    uint64_t epoch, seq, applied;
} fake_snapshot;
void fake_agent_snapshot(const fake_agent *a, fake_snapshot *s);
void fake_agent_report_snapshot(fake_agent *a, const fake_snapshot *s);
/* The agent's own table takes the states and exit codes of s (no event):
 * its heartbeats' digest then agrees with a report of s, and asks for no
 * fresh picture that would undo it. */
void fake_agent_adopt_snapshot(fake_agent *a, const fake_snapshot *s);
/* Container id exits with code (its event is pushed); false: no such. */
bool fake_agent_exit(fake_agent *a, const char *id, int code);

/* Containers in state (0: any). */
unsigned fake_agent_count(const fake_agent *a, ContainerState state);
/* Is this container here? */
bool fake_agent_has(const fake_agent *a, const char *id);

#endif
