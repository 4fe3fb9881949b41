/* The fake agent: berthd's side of the contract, with no containers. */
#include "fake_agent.h"
#include "harness.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "rpc/keys.h"
#include "rpc/envelope.h"
#include "protocol/digest.h"
#include "protocol/wakeup.h"

#define CALL_TIMEOUT_MS 1500
#define RESEND_IVL_MS   500
#define METRICS_MS      1000

static void heartbeat_soon(fake_agent *a, uint32_t ms)
{
    berth_loop_timer_arm(a->loop, &a->hb, berth_now_mono_ns() + (int64_t)ms * BERTH_NSEC_PER_MSEC);
}

static void call(fake_agent *a, const char *method, const ProtobufCMessage *req,
                 berth_rpc_done_fn done)
{
    a->inflight++;
    need(berth_rpc_client_call(a->client, &controller_descriptor, method, req,
                               a->opts.call_timeout_ms, done, a, NULL) == 0);
}

static void note_failure(fake_agent *a, const berth_rpc_result *r)
{
    a->last_code = r->code;
    snprintf(a->last_error, sizeof(a->last_error), "%s", r->message ? r->message : "");
}

/* ---- the stream ---- */

static void push_event(fake_agent *a, fake_container *c, ContainerState previous)
{
    ContainerEvent ev = CONTAINER_EVENT_INIT;

    ev.status = &c->status;
    ev.previous_state = previous;
    ev.time_unix_ns = berth_now_real_ns();
    /* lost before a session exists: the heartbeat's digest heals that */
    berth_stream_push_send(a->push, &ev.base, NULL, NULL);
}

static void on_metrics_timer(berth_loop_timer *t)
{
    fake_agent *a = berth_container_of(t, fake_agent, metrics);
    MetricsReport r = METRICS_REPORT_INIT;
    MetricsSample samples[FAKE_CONTAINERS_MAX + 1], *ptrs[FAKE_CONTAINERS_MAX + 1];
    int64_t now = berth_now_real_ns();

    for (size_t i = 0; i <= a->n_containers; i++) {
        metrics_sample_init(&samples[i]);
        samples[i].time_unix_ns = now;
        ptrs[i] = &samples[i];
        if (i < a->n_containers) {
            fake_container *c = &a->containers[i];

            c->cpu_ns += 50 * BERTH_NSEC_PER_MSEC; /* about 50m CPU at 1 s rounds */
            samples[i].container_id = c->id;
            samples[i].cpu_usage_ns = (uint64_t)c->cpu_ns;
            samples[i].memory_bytes = 20 << 20;
            samples[i].pids = 1;
        } else {
            samples[i].memory_bytes = 512 << 20;
            samples[i].cpu_usage_ns = (uint64_t)now / 10;
        }
    }
    r.samples = ptrs;
    r.n_samples = a->n_containers + 1;
    if (a->connected && !a->paused)
        berth_stream_push_send(a->push, &r.base, NULL, NULL);
    berth_loop_timer_arm(a->loop, &a->metrics,
                         berth_now_mono_ns() + (int64_t)a->opts.metrics_ms * BERTH_NSEC_PER_MSEC);
}

/* ---- assignments ---- */

static fake_container *find(fake_agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_containers; i++)
        if (strcmp(a->containers[i].id, id) == 0)
            return &a->containers[i];
    return NULL;
}

/* c's status points into c (after it moved in the table too). */
static void status_pointers(fake_container *c)
{
    c->status.id = c->id;
    for (size_t i = 0; i < c->status.n_devices; i++)
        c->device_ptrs[i] = c->devices[i];
    c->status.devices = c->status.n_devices ? c->device_ptrs : NULL;
}

/* Whether another container of a holds device. */
static bool device_held(const fake_agent *a, const fake_container *self, const char *device)
{
    for (size_t i = 0; i < a->n_containers; i++)
        for (size_t k = 0; &a->containers[i] != self && k < a->containers[i].status.n_devices; k++)
            if (strcmp(a->containers[i].devices[k], device) == 0)
                return true;
    return false;
}

/* The devices spec asks for, as berthd picks them: free ones of the kind
 * the agent has, then its host devices. */
static void hold_devices(fake_agent *a, fake_container *c, const ContainerSpec *spec)
{
    int64_t want = 0;
    size_t n = 0;

    for (size_t i = 0; a->device_kind && spec->resources && i < spec->resources->n_extended; i++)
        if (strcmp(spec->resources->extended[i]->key, a->device_kind) == 0)
            want = spec->resources->extended[i]->value;
    for (int64_t d = 0; d < a->device_count && want > 0 && n < FAKE_DEVICES_MAX; d++) {
        snprintf(c->devices[n], sizeof(c->devices[n]), "%s=dev%" PRId64, a->device_kind, d);
        if (!device_held(a, c, c->devices[n])) {
            n++;
            want--;
        }
    }
    for (size_t i = 0; i < spec->n_devices && n < FAKE_DEVICES_MAX; i++)
        snprintf(c->devices[n++], sizeof(c->devices[0]), "%s", spec->devices[i]->name);
    c->status.n_devices = n;
    status_pointers(c);
}

static void start(fake_agent *a, fake_container *c, const ContainerSpec *spec, uint64_t generation)
{
    ContainerState prev = c->status.state;

    free(c->spec);
    c->spec_len = protobuf_c_message_get_packed_size(&spec->base);
    c->spec = malloc(c->spec_len + 1);
    need(c->spec);
    protobuf_c_message_pack(&spec->base, c->spec);
    container_status_init(&c->status);
    c->status.id = c->id;
    c->status.state = CONTAINER_RUNNING;
    c->status.created_unix_ns = c->status.started_unix_ns = berth_now_real_ns();
    c->status.pid = 1000 + (int32_t)a->starts;
    c->status.generation = generation;
    c->status.health = HEALTH_NONE;
    /* no readiness probe: Ready once running, as the real agent says */
    c->status.ready = true;
    hold_devices(a, c, spec);
    a->starts++;
    push_event(a, c, prev);
}

static bool same_spec(const fake_container *c, const ContainerSpec *spec)
{
    size_t len = protobuf_c_message_get_packed_size(&spec->base);
    uint8_t *buf;
    bool same;

    if (len != c->spec_len)
        return false;
    buf = malloc(len + 1);
    need(buf);
    protobuf_c_message_pack(&spec->base, buf);
    same = memcmp(buf, c->spec, len) == 0;
    free(buf);
    return same;
}

static void reconcile(fake_agent *a, const Assignments *as)
{
    /* stop what is no longer listed */
    for (size_t i = 0; i < a->n_containers;) {
        fake_container *c = &a->containers[i];
        bool listed = false;

        for (size_t k = 0; k < as->n_containers && !listed; k++)
            listed = strcmp(as->containers[k]->id, c->id) == 0;
        if (listed) {
            i++;
            continue;
        }
        c->status.state = CONTAINER_EXITED;
        c->status.reason = "Stopped";
        c->status.signal = 15;
        c->status.pid = 0;
        c->status.finished_unix_ns = berth_now_real_ns();
        push_event(a, c, CONTAINER_RUNNING);
        a->stops++;
        free(c->spec);
        a->containers[i] = a->containers[--a->n_containers];
        status_pointers(&a->containers[i]);
    }
    /* start what is missing, replace what changed */
    for (size_t k = 0; k < as->n_containers; k++) {
        const ContainerSpec *spec = as->containers[k];
        fake_container *c = find(a, spec->id);

        if (c && same_spec(c, spec)) {
            c->status.generation = as->generation;
            continue;
        }
        if (c) {
            a->stops++;
        } else {
            need(a->n_containers < FAKE_CONTAINERS_MAX);
            c = &a->containers[a->n_containers++];
            memset(c, 0, sizeof(*c));
            snprintf(c->id, sizeof(c->id), "%s", spec->id);
        }
        start(a, c, spec, as->generation);
    }
    a->applied = as->generation;
    if (a->opts.on_applied)
        a->opts.on_applied(a, a->opts.data);
}

static void got_assignments(berth_rpc_result *r, void *data)
{
    fake_agent *a = data;

    a->inflight--;
    a->fetching = false;
    if (r->code != CODE_OK) {
        note_failure(a, r);
        return;
    }
    if (!((Assignments *)r->response)->unchanged)
        reconcile(a, (Assignments *)r->response);
}

static void fetch(fake_agent *a)
{
    GetAssignmentsRequest req = GET_ASSIGNMENTS_REQUEST_INIT;

    if (a->fetching || a->paused)
        return;
    a->fetching = true;
    req.known_generation = a->applied;
    call(a, "GetAssignments", &req.base, got_assignments);
}

/* ---- status ---- */

static void report_full(fake_agent *a);

static void reported(berth_rpc_result *r, void *data)
{
    fake_agent *a = data;

    a->inflight--;
    if (r->code == CODE_ABORTED) {
        a->aborted_reports++;
        report_full(a); /* older than events the controller has: a fresh one */
        return;
    }
    if (r->code != CODE_OK)
        note_failure(a, r);
}

static void report_full(fake_agent *a)
{
    ReportStatusRequest req = REPORT_STATUS_REQUEST_INIT;
    ContainerStatus *ptrs[FAKE_CONTAINERS_MAX];

    for (size_t i = 0; i < a->n_containers; i++)
        ptrs[i] = &a->containers[i].status;
    req.containers = ptrs;
    req.n_containers = a->n_containers;
    req.full = true;
    req.applied_generation = a->applied;
    if (a->push)
        berth_stream_push_position(a->push, &req.stream_epoch, &req.stream_seq);
    a->reports++;
    call(a, "ReportStatus", &req.base, reported);
}

void fake_agent_snapshot(const fake_agent *a, fake_snapshot *s)
{
    for (size_t i = 0; i < a->n_containers; i++)
        s->status[i] = a->containers[i].status;
    s->n = a->n_containers;
    s->applied = a->applied;
    berth_stream_push_position(a->push, &s->epoch, &s->seq);
}

void fake_agent_report_snapshot(fake_agent *a, const fake_snapshot *s)
{
    ReportStatusRequest req = REPORT_STATUS_REQUEST_INIT;
    ContainerStatus *ptrs[FAKE_CONTAINERS_MAX];

    for (size_t i = 0; i < s->n; i++)
        ptrs[i] = (ContainerStatus *)&s->status[i];
    req.containers = ptrs;
    req.n_containers = s->n;
    req.full = true;
    req.applied_generation = s->applied;
    req.stream_epoch = s->epoch;
    req.stream_seq = s->seq;
    a->reports++;
    call(a, "ReportStatus", &req.base, reported);
}

void fake_agent_adopt_snapshot(fake_agent *a, const fake_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        fake_container *c = find(a, s->status[i].id);

        if (c) {
            c->status.state = s->status[i].state;
            c->status.exit_code = s->status[i].exit_code;
        }
    }
}

bool fake_agent_exit(fake_agent *a, const char *id, int code)
{
    fake_container *c = find(a, id);

    if (!c)
        return false;
    c->status.state = CONTAINER_EXITED;
    c->status.exit_code = code;
    c->status.pid = 0;
    c->status.finished_unix_ns = berth_now_real_ns();
    push_event(a, c, CONTAINER_RUNNING);
    return true;
}

static uint64_t digest(const fake_agent *a)
{
    const ContainerStatus *ptrs[FAKE_CONTAINERS_MAX];

    for (size_t i = 0; i < a->n_containers; i++)
        ptrs[i] = &a->containers[i].status;
    return berth_status_digest(ptrs, a->n_containers);
}

/* ---- register and heartbeat ---- */

static void on_wakeup(const berth_principal *from, const ProtobufCMessage *msg, void *data)
{
    fake_agent *a = data;
    uint64_t gen;

    (void)from;
    if (a->paused ||
        !berth_wakeup_generation((const WakeUp *)msg, berth_auth_self(a->auth)->id, &gen))
        return;
    a->wakeups++;
    if (gen != a->applied)
        fetch(a);
}

static void connect_channels(fake_agent *a, const Endpoints *ep)
{
    berth_rpc_server_config rc = { .loop = a->loop, .auth = a->auth };

    if (a->connected || !ep)
        return;
    need(berth_events_sub_new(a->loop, a->auth, &a->controller, &a->sub, NULL) == 0);
    need(berth_events_sub_on(a->sub, &wake_up_descriptor, on_wakeup, a, NULL) == 0);
    need(berth_events_sub_connect(a->sub, ep->events, NULL) == 0);
    need(berth_stream_push_new(a->loop, a->auth, &a->controller, &a->push, NULL) == 0);
    need(berth_stream_push_connect(a->push, ep->stream, NULL) == 0);
    need(berth_rpc_respondent_new(&rc, &a->controller, &a->respondent, NULL) == 0);
    need(berth_rpc_server_add_service(a->respondent, (ProtobufCService *)&a->agent, NULL) == 0);
    need(berth_rpc_server_connect(a->respondent, ep->survey, NULL) == 0);
    a->connected = true;
}

static void registered(berth_rpc_result *r, void *data)
{
    fake_agent *a = data;
    const RegisterResponse *resp = (const RegisterResponse *)r->response;

    a->inflight--;
    if (r->code != CODE_OK) {
        note_failure(a, r);
        heartbeat_soon(a, 200); /* try again, e.g. after an approval */
        return;
    }
    a->registered = true;
    a->registrations++;
    a->interval_ms = resp->heartbeat_interval_ms;
    a->wanted = resp->generation;
    connect_channels(a, resp->endpoints);
    if (a->wanted != a->applied)
        fetch(a);
    heartbeat_soon(a, a->interval_ms);
}

static void do_register(fake_agent *a)
{
    RegisterRequest req = REGISTER_REQUEST_INIT;
    NodeInfo info = NODE_INFO_INIT;
    NodeCapacity cap = NODE_CAPACITY_INIT;
    NodeInfo_LabelsEntry label = NODE_INFO_LABELS_ENTRY_INIT, *labels[1] = { &label };
    NodeCapacity_ExtendedEntry devices = NODE_CAPACITY_EXTENDED_ENTRY_INIT,
                               *extended[1] = { &devices };

    info.name = a->name;
    cap.cpu_millis = a->cpu_millis;
    cap.memory_bytes = a->memory_bytes;
    if (a->device_kind) {
        devices.key = (char *)a->device_kind;
        devices.value = a->device_count;
        cap.extended = extended;
        cap.n_extended = 1;
    }
    info.capacity = &cap;
    info.kernel_version = "6.1.0-test";
    info.cgroup_version = 2;
    info.agent_version = "fake-0.1";
    info.arch = "x86_64";
    info.os = "Fake Linux";
    info.agent_address = a->agent_addr;
    if (a->label_key) {
        label.key = (char *)a->label_key;
        label.value = (char *)a->label_value;
        info.labels = labels;
        info.n_labels = 1;
    }
    req.node = &info;
    call(a, "Register", &req.base, registered);
}

static void beaten(berth_rpc_result *r, void *data)
{
    fake_agent *a = data;
    const HeartbeatResponse *resp = (const HeartbeatResponse *)r->response;

    a->inflight--;
    if (r->code == CODE_NOT_FOUND) {
        /* the controller lost us: register again */
        a->registered = false;
        heartbeat_soon(a, 10);
        return;
    }
    if (r->code != CODE_OK) {
        note_failure(a, r);
        heartbeat_soon(a, a->interval_ms);
        return;
    }
    if (a->opts.on_heartbeat)
        a->opts.on_heartbeat(a, berth_now_mono_ns() - a->hb_sent_ns, a->opts.data);
    a->interval_ms = resp->heartbeat_interval_ms;
    a->wanted = resp->generation;
    heartbeat_soon(a, a->interval_ms);
    if (resp->report_status)
        report_full(a);
    else if (resp->generation != a->applied)
        fetch(a);
}

static void on_heartbeat_timer(berth_loop_timer *t)
{
    fake_agent *a = berth_container_of(t, fake_agent, hb);
    HeartbeatRequest req = HEARTBEAT_REQUEST_INIT;

    if (a->paused) {
        heartbeat_soon(a, 50);
        return;
    }
    if (a->inflight) {
        heartbeat_soon(a, 20);
        return;
    }
    if (!a->registered) {
        do_register(a);
        return;
    }
    req.applied_generation = a->applied;
    req.status_digest = digest(a);
    req.containers = (uint32_t)a->n_containers;
    req.time_unix_ns = berth_now_real_ns();
    a->hb_sent_ns = berth_now_mono_ns();
    call(a, "Heartbeat", &req.base, beaten);
}

/* ---- the Agent service ---- */

static void agent_health(Agent_Service *s, const HealthRequest *in, HealthReport_Closure closure,
                         void *data)
{
    fake_agent *a = berth_container_of(s, fake_agent, agent);
    HealthReport r = HEALTH_REPORT_INIT;
    HealthCheck ck = HEALTH_CHECK_INIT, *cks[1] = { &ck };
    StateCount running = STATE_COUNT_INIT, *counts[1] = { &running };

    (void)in;
    if (a->paused) {
        berth_rpc_call_fail(data, CODE_UNAVAILABLE, "paused");
        return;
    }
    ck.name = "state-dir";
    ck.ok = true;
    running.state = CONTAINER_RUNNING;
    running.count = fake_agent_count(a, CONTAINER_RUNNING);
    r.node = a->name;
    r.healthy = true;
    r.checks = cks;
    r.n_checks = 1;
    r.agent_version = "fake-0.1";
    r.time_unix_ns = berth_now_real_ns();
    r.applied_generation = a->applied;
    r.containers = counts;
    r.n_containers = running.count ? 1 : 0;
    closure(&r, data);
}

static void agent_logs(Agent_Service *s, const LogsRequest *in, LogsResponse_Closure closure,
                       void *data)
{
    fake_agent *a = berth_container_of(s, fake_agent, agent);
    LogsResponse out = LOGS_RESPONSE_INIT;
    LogLine lines[3], *ptrs[3];
    char text[3][128];
    size_t n = 0;

    if (!find(a, in->container_id)) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s not found", in->container_id);
        return;
    }
    /* three lines, served from the cursor on */
    for (uint64_t i = in->cursor; i < 3; i++, n++) {
        log_line_init(&lines[n]);
        snprintf(text[n], sizeof(text[n]), "%s says hello %llu from %s", in->container_id,
                 (unsigned long long)i + 1, a->name);
        lines[n].line.data = (uint8_t *)text[n];
        lines[n].line.len = strlen(text[n]);
        lines[n].stream = LOG_STREAM_STDOUT;
        lines[n].time_unix_ns = berth_now_real_ns();
        ptrs[n] = &lines[n];
    }
    out.lines = ptrs;
    out.n_lines = n;
    out.next_cursor = 3;
    out.eof = in->cursor >= 3;
    closure(&out, data);
}

static void agent_stop(Agent_Service *s, const StopRequest *in, StopResponse_Closure closure,
                       void *data)
{
    fake_agent *a = berth_container_of(s, fake_agent, agent);
    StopResponse out = STOP_RESPONSE_INIT;
    fake_container *c = find(a, in->container_id);

    if (!c) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s not found", in->container_id);
        return;
    }
    c->status.state = CONTAINER_EXITED;
    c->status.reason = "Stopped";
    c->status.signal = 15;
    c->status.pid = 0;
    c->status.finished_unix_ns = berth_now_real_ns();
    a->stops++;
    push_event(a, c, CONTAINER_RUNNING);
    out.status = &c->status;
    closure(&out, data);
}

void fake_agent_start(fake_agent *a, berth_loop *loop, const char *name, const char *rpc_addr,
                      const char *controller_pub, const char *agent_addr, const char *token,
                      int64_t cpu_millis, int64_t memory_bytes)
{
    fake_agent_start_opts(a, loop, name, rpc_addr, controller_pub, agent_addr, token, cpu_millis,
                          memory_bytes, NULL);
}

void fake_agent_start_opts(fake_agent *a, berth_loop *loop, const char *name, const char *rpc_addr,
                           const char *controller_pub, const char *agent_addr, const char *token,
                           int64_t cpu_millis, int64_t memory_bytes, const fake_agent_opts *opts)
{
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_auth_config ac = { 0 };
    berth_rpc_client_config cc = { 0 };
    berth_rpc_server_config sc = { 0 };
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    a->loop = loop;
    if (opts)
        a->opts = *opts;
    if (!a->opts.call_timeout_ms)
        a->opts.call_timeout_ms = CALL_TIMEOUT_MS;
    if (!a->opts.resend_ivl_ms)
        a->opts.resend_ivl_ms = RESEND_IVL_MS;
    if (!a->opts.metrics_ms)
        a->opts.metrics_ms = METRICS_MS;
    snprintf(a->name, sizeof(a->name), "%s", name);
    snprintf(a->rpc_addr, sizeof(a->rpc_addr), "%s", rpc_addr);
    snprintf(a->agent_addr, sizeof(a->agent_addr), "%s", agent_addr ? agent_addr : "");
    a->cpu_millis = cpu_millis;
    a->memory_bytes = memory_bytes;
    need(berth_principal_init(&a->who, BERTH_ROLE_NODE, name, NULL) == 0);
    need(berth_principal_init(&a->controller, BERTH_ROLE_CONTROLLER, "controller", NULL) == 0);
    need(berth_keypair_generate(&a->key, NULL) == 0);
    need(berth_policy_memory_new(&a->policy, NULL) == 0);
    need(berth_pubkeys_load(AT_FDCWD, controller_pub, pks, &n, NULL) == 0);
    for (size_t i = 0; i < n; i++)
        need(berth_policy_memory_add_key(a->policy, &a->controller, pks[i], NULL) == 0);
    ac.self = a->who;
    ac.key = a->key;
    ac.policy = &berth_policy_memory_ops;
    ac.policy_data = a->policy;
    need(berth_auth_new(&ac, &a->auth, NULL) == 0);
    if (token) {
        need(berth_join_token_parse(token, &a->token, NULL) == 0);
        a->has_token = true;
    }
    cc.loop = loop;
    cc.auth = a->auth;
    cc.address = a->rpc_addr;
    cc.server = a->controller;
    cc.join_token = a->has_token ? &a->token : NULL;
    cc.resend_ivl_ms = a->opts.resend_ivl_ms;
    need(berth_rpc_client_new(&cc, &a->client, NULL) == 0);
    berth__v1__agent__init(&a->agent, NULL);
    a->agent.health = agent_health;
    a->agent.logs = agent_logs;
    a->agent.stop = agent_stop;
    if (agent_addr) {
        sc.loop = loop;
        sc.auth = a->auth;
        need(berth_rpc_server_new(&sc, &a->agent_srv, NULL) == 0);
        need(berth_rpc_server_add_service(a->agent_srv, (ProtobufCService *)&a->agent, NULL) == 0);
        need(berth_rpc_server_bind(a->agent_srv, agent_addr, NULL) == 0);
    }
    berth_loop_timer_init(&a->hb, on_heartbeat_timer);
    berth_loop_timer_init(&a->metrics, on_metrics_timer);
    heartbeat_soon(a, 0);
    berth_loop_timer_arm(loop, &a->metrics,
                         berth_now_mono_ns() + (int64_t)a->opts.metrics_ms * BERTH_NSEC_PER_MSEC);
}

void fake_agent_stop(fake_agent *a)
{
    berth_loop_timer_cancel(a->loop, &a->hb);
    berth_loop_timer_cancel(a->loop, &a->metrics);
    berth_rpc_client_free(a->client);
    berth_rpc_server_free(a->respondent);
    berth_rpc_server_free(a->agent_srv);
    berth_stream_push_free(a->push);
    berth_events_sub_free(a->sub);
    berth_auth_free(a->auth);
    berth_policy_memory_free(a->policy);
    for (size_t i = 0; i < a->n_containers; i++)
        free(a->containers[i].spec);
    memset(a, 0, sizeof(*a));
}

unsigned fake_agent_count(const fake_agent *a, ContainerState state)
{
    unsigned n = 0;

    for (size_t i = 0; i < a->n_containers; i++)
        n += !state || a->containers[i].status.state == state;
    return n;
}

bool fake_agent_has(const fake_agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_containers; i++)
        if (strcmp(a->containers[i].id, id) == 0)
            return true;
    return false;
}
