/* The controller session (see session.h). */
#include "session.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "spec/spec.h"
#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "rpc/client.h"
#include "rpc/keys.h"
#include "rpc/policy_memory.h"
#include "rpc/pubsub.h"
#include "rpc/server.h"
#include "rpc/stream.h"
#include "protocol/retry.h"
#include "protocol/wakeup.h"

#define STATUS_MAX 4096
/* Until the controller says otherwise (RegisterResponse, HeartbeatResponse);
 * an interval below the minimum is not taken. */
#define HEARTBEAT_DEFAULT_MS 10000
#define HEARTBEAT_MIN_MS     100
/* Heartbeats and Register wait at least this long for their answer. */
#define HEARTBEAT_TIMEOUT_MIN_MS 2000
#define REGISTER_TIMEOUT_MS      10000
/* With several controllers, one that does not answer this soon is passed
 * over for the next (the fleet must hear from the node within its lease). */
#define REGISTER_TIMEOUT_HA_MS 3000
/* Moving on from a controller that answered it does not lead. */
#define SWITCH_DELAY_MS 250
/* ... and after every controller was tried, at most this long between
 * rounds (a new leader must hear from its nodes within their first lease) */
#define SWITCH_BACKOFF_MAX_MS 4000
#define CONTROLLERS_MAX       8
/* Fresh pictures sent at once when the controller finds one older than
 * events it has (ABORTED); past that, the next heartbeat asks again. */
#define REPORT_RETRIES_MAX 5

struct session {
    berth_loop *loop;
    const agent_config *cfg;
    const node_facts *facts;
    int cgroup_version;
    int64_t agent_start_ns;
    containers *table;
    devices *devices;
    ProtobufCService *agent_service;
    void (*pod_range)(const char *pod_cidr, const char *cluster_cidr, void *data);
    int (*peers)(const Peers *peers, void *data);
    void *pod_range_data;
    uint64_t peers_version; /* taken (0: none yet) */
    bool fetching_peers;
    berth_auth *auth;
    berth_policy_memory *policy;
    berth_principal controller;
    berth_join_token token;
    bool has_token;
    berth_rpc_client *client;
    berth_events_sub *sub;
    berth_stream_push *push;
    berth_rpc_server *respondent;
    berth_rpc_server *server;       /* the Agent service: local socket, remote endpoint */
    berth_rpc_metrics *rpc_metrics; /* what the three count, for /metrics */
    berth_loop_timer register_timer, heartbeat_timer;
    /* Frames dropped: a log line when the counters moved (strangers'
     * frames get no answer; this is where they show, and in Health). */
    berth_loop_timer drops_timer;
    uint64_t drops_seen[BERTH_REJECT_COUNT];
    /* The controllers' rpc addresses (controller.address, comma-separated:
     * several controllers on one etcd) and the one called now. */
    char *addrs[CONTROLLERS_MAX];
    size_t n_addrs, cur;
    berth_loop_timer switch_timer;
    bool switching;              /* the old client's calls end CANCELLED: not news */
    size_t switches;             /* since a controller last answered */
    int64_t rotation_backoff_ms; /* between whole rounds of them */
    bool registered;
    /* what the node registers changed since the Register under way was
     * made: another one follows it */
    bool node_dirty;
    bool socket_bound;  /* ours to remove at exit */
    bool connected;     /* channels connected (once) */
    bool unreachable;   /* the last call to the controller failed */
    bool fetching;      /* GetAssignments in flight */
    bool fetch_again;   /* another wake-up arrived meanwhile */
    bool reporting;     /* ReportStatus in flight */
    int report_retries; /* fresh pictures sent at once after ABORTED */
    int64_t backoff_ms;
    uint32_t heartbeat_ms;
    uint64_t desired_generation; /* the controller's, last we heard */
    /* The node key in X25519 form: what the controller seals Secrets and
     * ConfigMaps to (wiped at stop). */
    uint8_t box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];
};

/* delay +- 20 %, so a fleet restarted together does not call in step
 * (status/retry.h: the controller counts on the bound). */
static int64_t jitter(int64_t ms)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)getpid();
    return ms * 8 / 10 + (int64_t)(r % (uint32_t)(ms * 4 / 10 + 1));
}

static void arm(session *s, berth_loop_timer *t, int64_t ms)
{
    berth_loop_timer_arm(s->loop, t, berth_now_mono_ns() + ms * BERTH_NSEC_PER_MSEC);
}

#define DROPS_LOG_INTERVAL_MS 10000

/* The Agent service's requests are small (Health, List, Logs, Stop), but
 * for an Exec's exchanges, which carry up to 96 KiB of stdin (duplex.c):
 * a bound on what a connection can make berthd reserve before a frame is
 * authenticated (rpc/server.h). */
#define AGENT_REQUEST_MAX (160 * 1024)

static void on_drops_timer(berth_loop_timer *t)
{
    session *s = berth_container_of(t, session, drops_timer);
    char line[512];

    if (berth_auth_drops_since(s->auth, s->drops_seen, line, sizeof(line)))
        berth_warn("%s in the last %d s (berthctl health shows the totals)", line,
                   DROPS_LOG_INTERVAL_MS / 1000);
    arm(s, t, DROPS_LOG_INTERVAL_MS);
}

static void call(session *s, const char *method, const ProtobufCMessage *req,
                 berth_rpc_done_fn done, uint32_t timeout_ms)
{
    berth_error *err = NULL;

    if (berth_rpc_client_call(s->client, &controller_descriptor, method, req, timeout_ms, done, s,
                              &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "call %s", method);
        berth_error_free(&err);
    }
}

static const char *address(const session *s)
{
    return s->addrs[s->cur];
}

/* Whether a failed call should send us to the next controller: it did not
 * answer, or answered that it does not lead. */
static bool try_next(session *s, const berth_rpc_result *r)
{
    if (s->n_addrs < 2 || s->switching)
        return false;
    if (r->code == CODE_UNAVAILABLE || r->code == CODE_DEADLINE_EXCEEDED) {
        int64_t delay = r->code == CODE_UNAVAILABLE ? SWITCH_DELAY_MS : 0;

        /* a whole round without a leader (an election, etcd down): back
         * off, so that a fleet of agents does not handshake in circles */
        if (++s->switches >= s->n_addrs) {
            s->rotation_backoff_ms =
                s->rotation_backoff_ms ? s->rotation_backoff_ms * 2 : BERTH_AGENT_BACKOFF_MIN_MS;
            if (s->rotation_backoff_ms > SWITCH_BACKOFF_MAX_MS)
                s->rotation_backoff_ms = SWITCH_BACKOFF_MAX_MS;
            delay = jitter(s->rotation_backoff_ms);
            s->switches = 0;
        }
        arm(s, &s->switch_timer, delay);
        return true;
    }
    return false;
}

/* A failed call: the controller may be gone. Everything keeps running;
 * we back off and retry, and send a full snapshot once it answers again. */
static void lost_contact(session *s, const char *what, const berth_rpc_result *r)
{
    if (s->switching)
        return;
    try_next(s, r);
    if (!s->unreachable)
        berth_warn("controller: %s failed: %s%s%s; containers keep running, retrying", what,
                   berth_rpc_code_name(r->code), r->message ? ": " : "",
                   r->message ? r->message : "");
    s->unreachable = true;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BERTH_AGENT_BACKOFF_MIN_MS;
    if (s->backoff_ms > BERTH_AGENT_BACKOFF_MAX_MS)
        s->backoff_ms = BERTH_AGENT_BACKOFF_MAX_MS;
}

/* --- status reports -------------------------------------------------------------- */

static void report_full(session *s);

static void on_report_done(berth_rpc_result *r, void *data)
{
    session *s = data;

    s->reporting = false;
    if (s->switching)
        return;
    if (r->code == CODE_ABORTED && s->report_retries < REPORT_RETRIES_MAX) {
        /* the controller had newer events than the picture: a fresh one */
        berth_debug("controller: full status report: %s", r->message ? r->message : "aborted");
        s->report_retries++;
        report_full(s);
        return;
    }
    s->report_retries = 0;
    if (r->code != CODE_OK)
        berth_warn("controller: full status report: %s%s%s", berth_rpc_code_name(r->code),
                   r->message ? ": " : "", r->message ? r->message : "");
}

/* The whole picture, unary: after a registration, after the controller was
 * unreachable, or when a heartbeat says its view is off. */
static void report_full(session *s)
{
    ReportStatusRequest req = REPORT_STATUS_REQUEST_INIT;
    const ContainerStatus *all[STATUS_MAX];
    size_t n;

    if (s->reporting)
        return;
    n = containers_statuses(s->table, all, STATUS_MAX);
    req.containers = (ContainerStatus **)all;
    req.n_containers = n;
    req.full = 1;
    req.applied_generation = containers_applied_generation(s->table);
    if (s->push)
        berth_stream_push_position(s->push, &req.stream_epoch, &req.stream_seq);
    s->reporting = true;
    call(s, "ReportStatus", &req.base, on_report_done, 0);
}

void session_status_changed(session *s, const ContainerStatus *st, ContainerState prev,
                            bool removed)
{
    ContainerEvent ev = CONTAINER_EVENT_INIT;
    berth_error *err = NULL;

    berth_debug("container %s: %d -> %d %s%s", st->id, (int)prev, (int)st->state, st->reason,
                removed ? " (removed)" : "");
    if (!s->push)
        return; /* reported in full once connected */
    ev.status = (ContainerStatus *)st;
    ev.previous_state = prev;
    ev.removed = removed;
    ev.time_unix_ns = berth_now_real_ns();
    /* A lost item is found by its sequence number and healed by a full
     * report, so a failed send only needs noting. */
    if (berth_stream_push_send(s->push, &ev.base, NULL, &err) < 0) {
        berth_debug("stream: %s", err->msg);
        berth_error_free(&err);
    }
}

/* --- assignments ------------------------------------------------------------------ */

static void fetch_assignments(session *s);

/* Open the objects the controller sealed to this node (new messages; one
 * that does not open, sealed to a key we no longer hold, is left out and
 * said). */
static ConfigObject **open_objects(session *s, SealedObject *const *sealed, size_t n, size_t *ret_n)
{
    ConfigObject **out = berth_xcalloc(n + 1, sizeof(*out));
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        const SealedObject *so = sealed[i];
        ConfigObject *o = NULL;

        for (size_t b = 0; b < so->n_sealed && !o; b++) {
            const ProtobufCBinaryData *d = &so->sealed[b];
            uint8_t *plain;
            size_t len;

            if (d->len < crypto_box_SEALBYTES)
                continue;
            len = d->len - crypto_box_SEALBYTES;
            plain = berth_xmalloc(len + 1);
            if (crypto_box_seal_open(plain, d->data, d->len, s->box_pk, s->box_sk) == 0)
                o = config_object_unpack(NULL, len, plain);
            sodium_memzero(plain, len);
            free(plain);
        }
        if (!o || o->kind != so->kind || strcmp(o->name, so->name) != 0 ||
            strcmp(o->namespace_, so->namespace_) != 0) {
            berth_warn("assignments: %s %s/%s does not open with this node's key: left out",
                       so->kind == CONFIG_SECRET ? "Secret" : "ConfigMap", so->namespace_,
                       so->name);
            configs_object_free(o);
            continue;
        }
        out[k++] = o;
    }
    *ret_n = k;
    return out;
}

static void on_assignments(berth_rpc_result *r, void *data)
{
    session *s = data;

    s->fetching = false;
    if (r->code != CODE_OK) {
        lost_contact(s, "GetAssignments", r);
        return;
    }
    {
        Assignments *as = (Assignments *)r->response;

        s->desired_generation = as->generation;
        if (!as->unchanged) {
            size_t n_objs;
            ConfigObject **objs = open_objects(s, as->objects, as->n_objects, &n_objs);

            berth_info("assignments: generation %" PRIu64 ", %zu containers, %zu Secrets and "
                       "ConfigMaps",
                       as->generation, as->n_containers, n_objs);
            /* the objects first: a container that starts now has them */
            containers_set_objects(s->table, objs, n_objs);
            containers_apply(s->table, as->generation, as->containers, as->n_containers);
        }
    }
    if (s->fetch_again) {
        s->fetch_again = false;
        fetch_assignments(s);
    }
}

static void on_peers(berth_rpc_result *r, void *data)
{
    session *s = data;
    Peers *p = (Peers *)r->response;

    s->fetching_peers = false;
    if (r->code != CODE_OK) {
        lost_contact(s, "GetPeers", r);
        return;
    }
    if (s->peers(p, s->pod_range_data) == 0) {
        berth_info("pod network: %zu other node(s) to route to (version %" PRIu64 ")", p->n_peers,
                   p->version);
        s->peers_version = p->version;
    }
}

/* The other nodes changed (version): fetch them, once at a time. */
static void fetch_peers(session *s, uint64_t version)
{
    GetPeersRequest req = GET_PEERS_REQUEST_INIT;

    if (!s->peers || !s->registered || s->fetching_peers || version == s->peers_version)
        return;
    s->fetching_peers = true;
    call(s, "GetPeers", &req.base, on_peers, 0);
}

static void fetch_assignments(session *s)
{
    GetAssignmentsRequest req = GET_ASSIGNMENTS_REQUEST_INIT;

    if (!s->registered)
        return;
    if (s->fetching) {
        s->fetch_again = true;
        return;
    }
    /* The generation whose set we hold (applying or applied). */
    req.known_generation = containers_wanted_generation(s->table);
    s->fetching = true;
    call(s, "GetAssignments", &req.base, on_assignments, 0);
}

int session_controller_check(const session *s, berth_error **err)
{
    if (!s->registered)
        return berth_error_set(err, EAGAIN, "not registered with the controller at %s", address(s));
    if (s->unreachable)
        return berth_error_set(err, EHOSTUNREACH, "the controller at %s does not answer",
                               address(s));
    return 0;
}

void session_applied(session *s, uint64_t generation)
{
    /* Heartbeats carry it: nothing to push. */
    (void)s;
    (void)generation;
}

size_t session_frame_drops(const session *s, FrameDrops storage[BERTH_REJECT_COUNT],
                           FrameDrops *ptrs[BERTH_REJECT_COUNT])
{
    return berth_rpc_frame_drops(s->auth, storage, ptrs);
}

berth_stream_push *session_stream(session *s)
{
    return s->push;
}

void session_write_metrics(session *s, berth_prom *w)
{
    berth_rpc_metrics_write(w, s->rpc_metrics, s->auth);
}

static void on_wakeup(const berth_principal *from, const ProtobufCMessage *msg, void *data)
{
    session *s = data;
    const WakeUp *w = (const WakeUp *)msg;
    uint64_t gen;

    (void)from;
    if (!berth_wakeup_generation(w, berth_auth_self(s->auth)->id, &gen))
        return; /* to every node, about others */
    berth_debug("wake-up: generation %" PRIu64, gen);
    if (gen != containers_wanted_generation(s->table))
        fetch_assignments(s);
}

/* --- heartbeats ------------------------------------------------------------------------ */

static void on_heartbeat(berth_rpc_result *r, void *data)
{
    session *s = data;

    if (s->switching)
        return; /* cancelled with its client: a timer armed now would outlive it */
    if (r->code == CODE_NOT_FOUND) {
        /* The controller lost us (a fresh database): register again. */
        berth_warn("controller: %s; registering again", r->message ? r->message : "not found");
        s->registered = false;
        arm(s, &s->register_timer, 0);
        return;
    }
    if (r->code != CODE_OK) {
        lost_contact(s, "Heartbeat", r);
        arm(s, &s->heartbeat_timer, jitter(s->backoff_ms));
        return;
    }
    {
        HeartbeatResponse *hr = (HeartbeatResponse *)r->response;
        bool was_unreachable = s->unreachable;

        s->unreachable = false;
        s->backoff_ms = 0;
        if (hr->heartbeat_interval_ms >= HEARTBEAT_MIN_MS)
            s->heartbeat_ms = hr->heartbeat_interval_ms;
        s->desired_generation = hr->generation;
        if (hr->generation != containers_wanted_generation(s->table))
            fetch_assignments(s);
        fetch_peers(s, hr->peers_version);
        if (hr->report_status || was_unreachable) {
            if (was_unreachable)
                berth_info("controller: reachable again; sending the full picture");
            report_full(s);
        }
    }
    arm(s, &s->heartbeat_timer, jitter(s->heartbeat_ms));
}

static void on_heartbeat_timer(berth_loop_timer *t)
{
    session *s = berth_container_of(t, session, heartbeat_timer);
    HeartbeatRequest req = HEARTBEAT_REQUEST_INIT;
    const ContainerStatus *all[STATUS_MAX];
    size_t n = containers_statuses(s->table, all, STATUS_MAX);

    if (!s->registered)
        return;
    req.applied_generation = containers_applied_generation(s->table);
    req.status_digest = containers_digest(s->table);
    for (size_t i = 0; i < n; i++)
        if (all[i]->state != CONTAINER_FAILED)
            req.containers++;
    req.time_unix_ns = berth_now_real_ns();
    call(s, "Heartbeat", &req.base, on_heartbeat,
         s->heartbeat_ms > HEARTBEAT_TIMEOUT_MIN_MS ? s->heartbeat_ms : HEARTBEAT_TIMEOUT_MIN_MS);
}

/* --- registration ------------------------------------------------------------------ */

/* The channels go with the controller they were given by. */
static void disconnect_channels(session *s)
{
    berth_rpc_server_free(s->respondent);
    berth_events_sub_free(s->sub);
    berth_stream_push_free(s->push);
    s->respondent = NULL;
    s->sub = NULL;
    s->push = NULL;
    s->connected = false;
}

static int connect_channels(session *s, const Endpoints *ep, berth_error **err)
{
    berth_loop *loop = s->loop;

    if (s->connected)
        return 0;
    if (!ep || !*ep->events || !*ep->stream || !*ep->survey)
        return berth_error_set(err, EPROTO, "Register: the controller gave no channel addresses");
    if (berth_events_sub_new(loop, s->auth, &s->controller, &s->sub, err) < 0 ||
        berth_events_sub_on(s->sub, &wake_up_descriptor, on_wakeup, s, err) < 0 ||
        berth_events_sub_connect(s->sub, ep->events, err) < 0 ||
        berth_stream_push_new(loop, s->auth, &s->controller, &s->push, err) < 0 ||
        berth_stream_push_connect(s->push, ep->stream, err) < 0)
        return berth_error_prefix(err, "connect to the controller's channels");
    {
        berth_rpc_server_config scfg = { .loop = loop,
                                         .auth = s->auth,
                                         .max_request_bytes = AGENT_REQUEST_MAX,
                                         .metrics = s->rpc_metrics };

        if (berth_rpc_respondent_new(&scfg, &s->controller, &s->respondent, err) < 0 ||
            berth_rpc_server_add_service(s->respondent, s->agent_service, err) < 0 ||
            berth_rpc_server_connect(s->respondent, ep->survey, err) < 0)
            return berth_error_prefix(err, "connect to the controller's survey");
    }
    s->connected = true;
    return 0;
}

static void on_register(berth_rpc_result *r, void *data)
{
    session *s = data;
    berth_error *err = NULL;

    if (s->switching)
        return;
    if (r->code != CODE_OK) {
        if (try_next(s, r)) {
            berth_info("register with %s: %s%s%s; trying the next controller", address(s),
                       berth_rpc_code_name(r->code), r->message ? ": " : "",
                       r->message ? r->message : "");
            return;
        }
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BERTH_AGENT_BACKOFF_MIN_MS;
        if (s->backoff_ms > BERTH_AGENT_BACKOFF_MAX_MS)
            s->backoff_ms = BERTH_AGENT_BACKOFF_MAX_MS;
        if (r->code == CODE_PERMISSION_DENIED)
            berth_warn("controller refused node %s: %s (retrying in %" PRId64 " ms)",
                       s->cfg->node_name, r->message ? r->message : "", s->backoff_ms);
        else
            berth_warn("register with %s: %s%s%s (retrying in %" PRId64 " ms)", address(s),
                       berth_rpc_code_name(r->code), r->message ? ": " : "",
                       r->message ? r->message : "", s->backoff_ms);
        arm(s, &s->register_timer, jitter(s->backoff_ms));
        return;
    }
    {
        RegisterResponse *rr = (RegisterResponse *)r->response;

        if (connect_channels(s, rr->endpoints, &err) < 0) {
            berth_log_error(BERTH_LOG_ERROR, err, "register");
            berth_error_free(&err);
            arm(s, &s->register_timer, jitter(BERTH_AGENT_BACKOFF_MAX_MS));
            return;
        }
        berth_info("registered with the controller at %s (generation %" PRIu64
                   ", heartbeat every %u ms)",
                   address(s), rr->generation, rr->heartbeat_interval_ms);
        s->registered = true;
        s->unreachable = false;
        s->backoff_ms = 0;
        s->switches = 0;
        s->rotation_backoff_ms = 0;
        if (rr->heartbeat_interval_ms >= HEARTBEAT_MIN_MS)
            s->heartbeat_ms = rr->heartbeat_interval_ms;
        s->desired_generation = rr->generation;
        if (s->node_dirty)
            arm(s, &s->register_timer, 0);
        if (s->pod_range)
            s->pod_range(rr->pod_cidr, rr->cluster_cidr, s->pod_range_data);
        fetch_peers(s, rr->peers_version);
        /* One full snapshot: the controller's view is whatever it was. */
        report_full(s);
        if (rr->generation != containers_wanted_generation(s->table) ||
            containers_wanted_generation(s->table) == 0)
            fetch_assignments(s);
        arm(s, &s->heartbeat_timer, jitter(s->heartbeat_ms));
    }
}

static void on_register_timer(berth_loop_timer *t)
{
    session *s = berth_container_of(t, session, register_timer);
    RegisterRequest req = REGISTER_REQUEST_INIT;
    NodeInfo info;
    NodeCapacity cap;
    NodeInfo_LabelsEntry labels[AGENT_LABELS_MAX];
    NodeInfo_LabelsEntry *label_ptrs[AGENT_LABELS_MAX];

    NodeCapacity_ExtendedEntry ext[NODE_EXTENDED_MAX], *ext_ptrs[NODE_EXTENDED_MAX];
    _cleanup_free_ int64_t *counts = NULL;
    const char *const *kinds;
    size_t n = 0;

    s->node_dirty = false;
    node_info_fill(&info, &cap, labels, label_ptrs, s->cfg, s->facts, s->cgroup_version,
                   s->agent_start_ns);
    /* each CDI kind, as many as it has: Kubernetes' extended resources */
    if (s->devices) {
        size_t n_kinds = devices_capacity(s->devices, &kinds, &counts);

        for (size_t i = 0; i < n_kinds; i++) {
            /* a CDI kind Kubernetes could not name ("Vendor_X.com/gpu")
             * is no resource the controller takes: its devices are asked
             * for by name only */
            const char *why = berth_extended_resource_name_problem(kinds[i]);

            if (why) {
                berth_warn("CDI kind %s is not advertised: it %s", kinds[i], why);
                continue;
            }
            if (n == NODE_EXTENDED_MAX) {
                berth_warn("CDI devices: more than %d kinds, %s and after not advertised",
                           NODE_EXTENDED_MAX, kinds[i]);
                break;
            }
            node_capacity_extended_entry_init(&ext[n]);
            ext[n].key = (char *)kinds[i];
            ext[n].value =
                counts[i] < NODE_EXTENDED_COUNT_MAX ? counts[i] : NODE_EXTENDED_COUNT_MAX;
            ext_ptrs[n] = &ext[n];
            n++;
        }
        cap.extended = ext_ptrs;
        cap.n_extended = n;
    }
    req.node = &info;
    call(s, "Register", &req.base, on_register,
         s->n_addrs > 1 ? REGISTER_TIMEOUT_HA_MS : REGISTER_TIMEOUT_MS);
}

void session_node_changed(session *s)
{
    s->node_dirty = true;
    /* not registered: the Register due sends what is new, and one under
     * way (made before) is followed by another */
    if (!s->registered || s->switching)
        return;
    berth_info("the node's devices changed: registering again");
    s->registered = false;
    arm(s, &s->register_timer, 0);
}

static int new_client(session *s, berth_rpc_client **ret, berth_error **err)
{
    berth_rpc_client_config ccfg = { 0 };

    ccfg.loop = s->loop;
    ccfg.auth = s->auth;
    ccfg.address = address(s);
    ccfg.server = s->controller;
    ccfg.join_token = s->has_token ? &s->token : NULL;
    ccfg.metrics = s->rpc_metrics;
    if (berth_rpc_client_new(&ccfg, ret, err) < 0)
        return berth_error_prefix(err, "controller client %s", address(s));
    return 0;
}

/* The next controller: a new client, the channels dropped, and Register
 * (heartbeats, leases and phases are the fleet's: a new leader knows the
 * node, and its containers run on). */
static void on_switch_timer(berth_loop_timer *t)
{
    session *s = berth_container_of(t, session, switch_timer);
    berth_rpc_client *old = s->client, *next = NULL;
    berth_error *err = NULL;

    s->cur = (s->cur + 1) % s->n_addrs;
    if (new_client(s, &next, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "controller");
        berth_error_free(&err);
        arm(s, t, BERTH_AGENT_BACKOFF_MAX_MS);
        return;
    }
    berth_info("controller: trying %s", address(s));
    s->registered = false;
    s->switching = true;
    s->client = next;
    berth_loop_timer_cancel(s->loop, &s->heartbeat_timer);
    berth_rpc_client_free(old);
    disconnect_channels(s);
    /* Every controller is the same principal, but each keeps its own
     * sessions: one made with another would be sealed frames this one
     * drops as unknown. A new handshake with this one. */
    for (berth_session *ss; (ss = berth_auth_session_latest(s->auth, s->controller.id));)
        berth_auth_session_drop(s->auth, ss);
    s->switching = false;
    s->fetching = s->fetch_again = s->reporting = s->fetching_peers = false;
    s->backoff_ms = 0;
    arm(s, &s->register_timer, 0);
}

/* --- setup ------------------------------------------------------------------------------ */

static int load_identity(session *s, berth_error **err)
{
    const agent_config *cfg = s->cfg;
    berth_auth_config acfg = { 0 };
    berth_keypair kp;
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    char pubpath[4200];
    size_t npk = 0;
    bool created = false;
    int r;

    if (berth_principal_init(&acfg.self, BERTH_ROLE_NODE, cfg->node_name, err) < 0 ||
        berth_principal_init(&s->controller, BERTH_ROLE_CONTROLLER, cfg->controller_name, err) < 0)
        return -1;
    if (berth_keypair_load_or_generate(AT_FDCWD, cfg->key, &kp, &created, err) < 0)
        return -1;
    if (created)
        berth_info("generated the node key %s", cfg->key);
    /* The public half beside it, for operators (berthctl on this node) and
     * for enrolling by approval (its fingerprint). */
    snprintf(pubpath, sizeof(pubpath), "%s/node.pub", cfg->state_dir);
    if (berth_pubkeys_save(AT_FDCWD, pubpath, (const uint8_t(*)[BERTH_PUBKEY_LEN])kp.pk, 1, err) <
        0) {
        berth_keypair_wipe(&kp);
        return -1;
    }
    /* And the name it is known by: berthctl agent finds the principal to
     * expect on the local socket from these two. */
    {
        char line[BERTH_NAME_MAX + 2];
        int n = snprintf(line, sizeof(line), "%s\n", cfg->node_name);

        snprintf(pubpath, sizeof(pubpath), "%s/node.name", cfg->state_dir);
        if (berth_write_file_atomic_at(AT_FDCWD, pubpath, line, (size_t)n, 0644, err) < 0) {
            berth_keypair_wipe(&kp);
            return -1;
        }
    }
    {
        char fp[BERTH_FINGERPRINT_LEN];
        berth_info("node %s, key %s", cfg->node_name, berth_key_fingerprint(kp.pk, fp));
    }
    if (berth_policy_memory_new(&s->policy, err) < 0)
        goto fail;
    /* The controller's key is pinned: nothing else may give orders. */
    if (berth_pubkeys_load(AT_FDCWD, cfg->controller_key, pks, &npk, err) < 0) {
        berth_error_prefix(err, "the controller's public key (controller.key)");
        goto fail;
    }
    for (size_t i = 0; i < npk; i++)
        if (berth_policy_memory_add_key(s->policy, &s->controller, pks[i], err) < 0)
            goto fail;
    for (size_t i = 0; i < cfg->n_operators; i++) {
        berth_principal op;

        if (berth_principal_init(&op, BERTH_ROLE_OPERATOR, cfg->operator_names[i], err) < 0 ||
            berth_pubkeys_load(AT_FDCWD, cfg->operator_keys[i], pks, &npk, err) < 0) {
            berth_error_prefix(err, "operator %s", cfg->operator_names[i]);
            goto fail;
        }
        for (size_t j = 0; j < npk; j++)
            if (berth_policy_memory_add_key(s->policy, &op, pks[j], err) < 0)
                goto fail;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(s->box_pk, kp.pk) < 0 ||
        crypto_sign_ed25519_sk_to_curve25519(s->box_sk, kp.sk) < 0) {
        berth_error_set(err, EINVAL, "the node key has no X25519 form");
        goto fail;
    }
    acfg.key = kp;
    acfg.policy = &berth_policy_memory_ops;
    acfg.policy_data = s->policy;
    r = berth_auth_new(&acfg, &s->auth, err);
    berth_keypair_wipe(&kp);
    berth_keypair_wipe(&acfg.key);
    return r;
fail:
    berth_keypair_wipe(&kp);
    return -1;
}

/* A socket left by an agent that died is replaced; one that answers
 * belongs to a live process, and anything else at the path is not ours to
 * delete. */
static int remove_stale_socket(const char *path, berth_error **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r, e;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : berth_error_errno(err, "socket %s", path);
    if (!S_ISSOCK(st.st_mode))
        return berth_error_set(err, EEXIST, "socket %s: exists and is not a socket", path);
    if (strlen(path) >= sizeof(sa.sun_path))
        return berth_error_set(err, ENAMETOOLONG, "socket %s: path too long", path);
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berth_error_errno(err, "socket");
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    e = errno;
    close(fd);
    if (r == 0)
        return berth_error_set(err, EADDRINUSE, "socket %s: in use by another process", path);
    if (e != ECONNREFUSED)
        return berth_error_set(err, e, "socket %s: %s", path, strerror(e));
    if (unlink(path) < 0)
        return berth_error_errno(err, "socket %s: remove the stale socket", path);
    return 0;
}

/* The Agent service on the local socket (its directory made private when
 * missing) and, if configured, the endpoint the controller dials. */
static int serve_agent(session *s, berth_error **err)
{
    const agent_config *cfg = s->cfg;
    berth_rpc_server_config scfg = { .loop = s->loop,
                                     .auth = s->auth,
                                     .max_request_bytes = AGENT_REQUEST_MAX,
                                     .metrics = s->rpc_metrics };

    if (berth_rpc_server_new(&scfg, &s->server, err) < 0 ||
        berth_rpc_server_add_service(s->server, s->agent_service, err) < 0)
        return -1;
    if (cfg->socket) {
        char dir[4096], addr[4200], *slash;

        snprintf(dir, sizeof(dir), "%s", cfg->socket);
        slash = strrchr(dir, '/');
        /* A missing directory is created private; an existing one (it may
         * be /tmp) keeps its mode: the channel is authenticated anyway. */
        if (slash && slash != dir) {
            *slash = '\0';
            if (berth_mkdir_p(dir, 0700, err) < 0)
                return berth_error_prefix(err, "socket directory %s", dir);
        }
        if (remove_stale_socket(cfg->socket, err) < 0)
            return -1;
        snprintf(addr, sizeof(addr), "ipc://%s", cfg->socket);
        if (berth_rpc_server_bind(s->server, addr, err) < 0)
            return -1;
        s->socket_bound = true;
    }
    if (cfg->listen && berth_rpc_server_bind(s->server, cfg->listen, err) < 0)
        return -1;
    return 0;
}

int session_start(const session_config *c, session **ret, berth_error **err)
{
    session *s = berth_xcalloc(1, sizeof(*s));

    s->loop = c->loop;
    s->cfg = c->cfg;
    s->facts = c->facts;
    s->devices = c->devices;
    s->cgroup_version = c->cgroup_version;
    s->agent_start_ns = c->agent_start_ns;
    s->table = c->containers;
    s->agent_service = c->agent_service;
    s->pod_range = c->pod_range;
    s->peers = c->peers;
    s->pod_range_data = c->data;
    s->heartbeat_ms = HEARTBEAT_DEFAULT_MS;
    s->rpc_metrics = berth_rpc_metrics_new();
    berth_loop_timer_init(&s->register_timer, on_register_timer);
    berth_loop_timer_init(&s->heartbeat_timer, on_heartbeat_timer);
    berth_loop_timer_init(&s->drops_timer, on_drops_timer);
    berth_loop_timer_init(&s->switch_timer, on_switch_timer);
    if (load_identity(s, err) < 0)
        goto fail;
    if (s->cfg->join_token) {
        if (berth_join_token_parse(s->cfg->join_token, &s->token, err) < 0) {
            berth_error_prefix(err, "join_token");
            goto fail;
        }
        s->has_token = true;
    }
    {
        _cleanup_free_ char *list = berth_xstrdup(s->cfg->controller_address);
        char *save = NULL;

        for (char *a = strtok_r(list, ", \t", &save); a && s->n_addrs < CONTROLLERS_MAX;
             a = strtok_r(NULL, ", \t", &save))
            s->addrs[s->n_addrs++] = berth_xstrdup(a);
        if (s->n_addrs == 0) {
            berth_error_set(err, EINVAL, "controller address '%s': no address",
                            s->cfg->controller_address);
            goto fail;
        }
    }
    if (new_client(s, &s->client, err) < 0)
        goto fail;
    if (serve_agent(s, err) < 0)
        goto fail;
    arm(s, &s->register_timer, 0);
    arm(s, &s->drops_timer, DROPS_LOG_INTERVAL_MS);
    *ret = s;
    return 0;
fail:
    session_stop(s);
    return -1;
}

void session_stop(session *s)
{
    if (!s)
        return;
    berth_loop_timer_cancel(s->loop, &s->register_timer);
    berth_loop_timer_cancel(s->loop, &s->heartbeat_timer);
    berth_loop_timer_cancel(s->loop, &s->drops_timer);
    berth_loop_timer_cancel(s->loop, &s->switch_timer);
    s->switching = true; /* the calls cancelled now are no news either */
    berth_rpc_server_free(s->server);
    berth_rpc_server_free(s->respondent);
    berth_events_sub_free(s->sub);
    berth_stream_push_free(s->push);
    berth_rpc_client_free(s->client);
    berth_auth_free(s->auth);
    berth_policy_memory_free(s->policy);
    /* after the client and servers: they count into it to the end */
    berth_rpc_metrics_free(s->rpc_metrics);
    if (s->socket_bound)
        unlink(s->cfg->socket);
    sodium_memzero(s->box_sk, sizeof(s->box_sk));
    for (size_t i = 0; i < s->n_addrs; i++)
        free(s->addrs[i]);
    free(s);
}
