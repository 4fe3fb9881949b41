/* Writes the binary seed inputs of the wire fuzz targets: corpus/frame/
 * (the frames of every route, made by the parties of world.h, raw and as
 * payloads to authenticate, plus replay-window steps) and corpus/request/
 * (a typical request of each method, and the responses a node acts on).
 * Deterministic: after a change of the wire, run it again and commit what
 * differs. Inputs found by fuzzing (crash-*, regressions) are not touched.
 *
 *   build/tests/fuzz/fuzz-gen-seeds tests/fuzz/corpus */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "berth/proto/v1.h"
#include "rpc/auth-internal.h"
#include "rpc/envelope.h"
#include "fuzz_frame.h"
#include "world.h"

static const char *top;

static void put(const char *target, const char *name, uint8_t first, const uint8_t *data,
                size_t len)
{
    _cleanup_free_ char *dir = NULL, *path = NULL;
    _cleanup_free_ uint8_t *buf = malloc(len + 1);
    berth_error *err = NULL;

    if (!buf || asprintf(&dir, "%s/%s", top, target) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
        fuzz_die("out of memory", NULL);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        fuzz_die(dir, NULL);
    buf[0] = first;
    memcpy(buf + 1, data, len);
    if (berth_write_file_atomic_at(AT_FDCWD, path, buf, len + 1, 0644, &err) < 0)
        fuzz_die(path, err);
}

static void put_message(const char *name, uint8_t selector, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    _cleanup_free_ uint8_t *buf = malloc(len ? len : 1);

    if (!buf)
        fuzz_die("out of memory", NULL);
    protobuf_c_message_pack(m, buf);
    put("request", name, selector, buf, len);
}

/* ---- messages ------------------------------------------------------------ */

static char *str_web[] = { "/bin/sh", "-c", "echo $GREETING; sleep 3600" };
static char *str_env[] = { "GREETING=hi", "PATH=/bin:/usr/bin" };

/* A spec with most of its fields set, valid. */
static ContainerSpec *spec_full(void)
{
    static ContainerSpec s = CONTAINER_SPEC_INIT;
    static User user = USER_INIT;
    static uint32_t gids[] = { 10, 20 };
    static Resources res = RESOURCES_INIT;
    static Mount bind = MOUNT_INIT, tmp = MOUNT_INIT;
    static Mount *mounts[] = { &bind, &tmp };
    static Capabilities caps = CAPABILITIES_INIT;
    static char *add[] = { "NET_ADMIN" }, *drop[] = { "cap_chown", "MKNOD" };
    static Rlimit nofile = RLIMIT_INIT;
    static Rlimit *rlimits[] = { &nofile };
    static IdMap map = ID_MAP_INIT;
    static IdMap *maps[] = { &map };
    static UserNamespace userns = USER_NAMESPACE_INIT;
    static Backoff backoff = BACKOFF_INIT;
    static ExecAction exec = EXEC_ACTION_INIT;
    static char *probe_cmd[] = { "/bin/true" };
    static Probe probe = PROBE_INIT;
    static ContainerSpec_LabelsEntry label = CONTAINER_SPEC_LABELS_ENTRY_INIT;
    static ContainerSpec_LabelsEntry *labels[] = { &label };

    s.id = "web-1";
    s.image = "busybox";
    s.command = str_web;
    s.n_command = BERTH_ARRAY_SIZE(str_web);
    s.env = str_env;
    s.n_env = BERTH_ARRAY_SIZE(str_env);
    s.working_dir = "/srv";
    user.uid = 1000;
    user.gid = 1000;
    user.additional_gids = gids;
    user.n_additional_gids = BERTH_ARRAY_SIZE(gids);
    s.user = &user;
    s.hostname = "web-1.example";
    res.cpu_millis = 500;
    res.cpu_weight = 100;
    res.memory_bytes = 64 << 20;
    res.pids_limit = 100;
    res.cpuset_cpus = "0-1,3";
    res.cpuset_mems = "0";
    s.resources = &res;
    bind.type = MOUNT_BIND;
    bind.source = "/var/lib/web";
    bind.destination = "/data";
    bind.readonly = true;
    tmp.type = MOUNT_TMPFS;
    tmp.destination = "/tmp";
    tmp.tmpfs_size_bytes = 16 << 20;
    s.mounts = mounts;
    s.n_mounts = BERTH_ARRAY_SIZE(mounts);
    caps.add = add;
    caps.n_add = BERTH_ARRAY_SIZE(add);
    caps.drop = drop;
    caps.n_drop = BERTH_ARRAY_SIZE(drop);
    s.capabilities = &caps;
    nofile.type = "nofile";
    nofile.soft = 1024;
    nofile.hard = 4096;
    s.rlimits = rlimits;
    s.n_rlimits = BERTH_ARRAY_SIZE(rlimits);
    map.container_id = 0;
    map.host_id = 100000;
    map.size = 65536;
    userns.enabled = true;
    userns.uid_maps = userns.gid_maps = maps;
    userns.n_uid_maps = userns.n_gid_maps = BERTH_ARRAY_SIZE(maps);
    s.user_namespace = &userns;
    s.restart_policy = RESTART_ON_FAILURE;
    backoff.initial_ms = 1000;
    backoff.max_ms = 60000;
    backoff.reset_after_ms = 600000;
    s.restart_backoff = &backoff;
    s.stop_signal = 15;
    s.stop_grace_ms = 5000;
    s.log_max_bytes = 1 << 20;
    s.log_max_files = 3;
    exec.command = probe_cmd;
    exec.n_command = BERTH_ARRAY_SIZE(probe_cmd);
    probe.action_case = PROBE_ACTION_EXEC;
    probe.exec = &exec;
    probe.period_ms = 10000;
    probe.failure_threshold = 3;
    s.liveness_probe = &probe;
    label.key = "berth.workload";
    label.value = "web";
    s.labels = labels;
    s.n_labels = BERTH_ARRAY_SIZE(labels);
    return &s;
}

/* A small valid spec with a tcp probe, and one the agent must refuse. */
static ContainerSpec *spec_small(void)
{
    static ContainerSpec s = CONTAINER_SPEC_INIT;
    static TcpAction tcp = TCP_ACTION_INIT;
    static Probe probe = PROBE_INIT;

    s.id = "db-0";
    s.rootfs = "/var/lib/berth/rootfs/db";
    s.command = str_web;
    s.n_command = 1;
    s.network = NETWORK_HOST;
    s.seccomp = SECCOMP_UNCONFINED;
    tcp.port = 5432;
    probe.action_case = PROBE_ACTION_TCP;
    probe.tcp = &tcp;
    s.liveness_probe = &probe;
    return &s;
}

static ContainerSpec *spec_bad(void)
{
    static ContainerSpec s = CONTAINER_SPEC_INIT;
    static Resources res = RESOURCES_INIT;

    s.id = "Bad/Id";
    s.rootfs = "/var/../etc";
    s.image = "x";
    res.memory_bytes = 1024;
    s.resources = &res;
    return &s;
}

static ContainerStatus *status_running(void)
{
    static ContainerStatus st = CONTAINER_STATUS_INIT;

    st.id = "web-1";
    st.state = CONTAINER_RUNNING;
    st.pid = 4242;
    st.started_unix_ns = 1700000000000000000LL;
    st.health = HEALTH_HEALTHY;
    st.generation = 7;
    return &st;
}

static ContainerStatus *status_exited(void)
{
    static ContainerStatus st = CONTAINER_STATUS_INIT;

    st.id = "db-0";
    st.state = CONTAINER_EXITED;
    st.exit_code = 137;
    st.signal = 9;
    st.oom_killed = true;
    st.restart_count = 2;
    st.reason = "OOMKilled";
    st.message = "memory limit 64Mi reached";
    return &st;
}

static NodeInfo *node_info(void)
{
    static NodeInfo n = NODE_INFO_INIT;
    static NodeInfo_LabelsEntry zone = NODE_INFO_LABELS_ENTRY_INIT;
    static NodeInfo_LabelsEntry *labels[] = { &zone };
    static NodeCapacity cap = NODE_CAPACITY_INIT;

    n.name = "node-1";
    zone.key = "zone";
    zone.value = "a";
    n.labels = labels;
    n.n_labels = BERTH_ARRAY_SIZE(labels);
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    cap.max_containers = 110;
    n.capacity = &cap;
    n.kernel_version = "6.1.0-18-amd64";
    n.cgroup_version = 2;
    n.agent_version = "0.1.0";
    n.arch = "x86_64";
    n.os = "linux";
    n.agent_address = "tcp://10.0.0.2:7421";
    return &n;
}

static Assignments *assignments(void)
{
    static Assignments a = ASSIGNMENTS_INIT;
    static ContainerSpec *specs[3];

    specs[0] = spec_full();
    specs[1] = spec_small();
    specs[2] = spec_bad();
    a.generation = 7;
    a.containers = specs;
    a.n_containers = BERTH_ARRAY_SIZE(specs);
    return &a;
}

static HealthReport *health_report(void)
{
    static HealthReport r = HEALTH_REPORT_INIT;
    static HealthCheck disk = HEALTH_CHECK_INIT;
    static HealthCheck *checks[] = { &disk };

    r.node = "node-1";
    r.healthy = true;
    disk.name = "state-dir";
    disk.ok = true;
    r.checks = checks;
    r.n_checks = BERTH_ARRAY_SIZE(checks);
    r.agent_version = "0.1.0";
    return &r;
}

/* ---- requests of every method -------------------------------------------- */

typedef struct call {
    const char *method; /* "berth.v1.Controller/Register" */
    uint8_t selector;   /* fuzz_request's methods[] index */
    const ProtobufCMessage *req;
} call;

/* Fills calls[]; returns how many. The selectors follow fuzz_request.c. */
static size_t calls_make(call *calls)
{
    static RegisterRequest reg = REGISTER_REQUEST_INIT;
    static HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    static GetAssignmentsRequest ga = GET_ASSIGNMENTS_REQUEST_INIT;
    static ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    static ContainerStatus *statuses[2];
    static ApplyRequest apply = APPLY_REQUEST_INIT;
    static DeleteRequest del = DELETE_REQUEST_INIT;
    static ListNodesRequest ln = LIST_NODES_REQUEST_INIT;
    static ListNodesRequest_LabelSelectorEntry sel = LIST_NODES_REQUEST_LABEL_SELECTOR_ENTRY_INIT;
    static ListNodesRequest_LabelSelectorEntry *sels[] = { &sel };
    static GetNodeRequest gn = GET_NODE_REQUEST_INIT;
    static ApproveNodeRequest an = APPROVE_NODE_REQUEST_INIT;
    static char fp[BERTH_FINGERPRINT_LEN];
    static CreateJoinTokenRequest jt = CREATE_JOIN_TOKEN_REQUEST_INIT;
    static ListWorkloadsRequest lw = LIST_WORKLOADS_REQUEST_INIT;
    static GetWorkloadRequest gw = GET_WORKLOAD_REQUEST_INIT;
    static ListContainersRequest lc = LIST_CONTAINERS_REQUEST_INIT;
    static ContainerState running[] = { CONTAINER_RUNNING };
    static GetContainerRequest gc = GET_CONTAINER_REQUEST_INIT;
    static FleetHealthRequest fh = FLEET_HEALTH_REQUEST_INIT;
    static LogsRequest logs = LOGS_REQUEST_INIT;
    static HealthRequest health = HEALTH_REQUEST_INIT;
    static StopRequest stop = STOP_REQUEST_INIT;
    static CordonNodeRequest cordon = CORDON_NODE_REQUEST_INIT;
    static DrainNodeRequest drain = DRAIN_NODE_REQUEST_INIT;
    static ListEventsRequest events = LIST_EVENTS_REQUEST_INIT;
    static TopRequest top_req = TOP_REQUEST_INIT;
    static StopContainerRequest stop_container = STOP_CONTAINER_REQUEST_INIT;
    static RolloutRequest rollout = ROLLOUT_REQUEST_INIT;
    static ListDisruptionBudgetsRequest budgets = LIST_DISRUPTION_BUDGETS_REQUEST_INIT;
    static EvictPodRequest evict = EVICT_POD_REQUEST_INIT;
    static CreateJobRequest create_job = CREATE_JOB_REQUEST_INIT;
    static ListObjectsRequest objects = LIST_OBJECTS_REQUEST_INIT;
    static VersionRequest version = VERSION_REQUEST_INIT;
    static ListJoinTokensRequest tokens = LIST_JOIN_TOKENS_REQUEST_INIT;
    static DeleteJoinTokenRequest token_rm = DELETE_JOIN_TOKEN_REQUEST_INIT;
    size_t n = 0;

    reg.node = node_info();
    hb.applied_generation = 7;
    hb.status_digest = 0x1234567890abcdefULL;
    hb.containers = 2;
    hb.time_unix_ns = 1700000000000000000LL;
    ga.known_generation = 6;
    statuses[0] = status_running();
    statuses[1] = status_exited();
    rs.containers = statuses;
    rs.n_containers = BERTH_ARRAY_SIZE(statuses);
    rs.full = true;
    rs.applied_generation = 7;
    apply.manifest = "apiVersion: berth/v1\nkind: Deployment\nmetadata: {name: web}\n"
                     "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
                     "      - name: web\n        image: busybox\n"
                     "        command: [/bin/sh, -c, 'sleep 3600']\n"
                     "        resources: {limits: {cpu: 500m, memory: 64Mi}}\n";
    apply.source = "web.yaml";
    apply.dry_run = true;
    del.kind = "Deployment";
    del.name = "web";
    sel.key = "zone";
    sel.value = "a";
    ln.label_selector = sels;
    ln.n_label_selector = BERTH_ARRAY_SIZE(sels);
    gn.name = "node-1";
    an.name = "node-2";
    an.key_fingerprint = berth_key_fingerprint(fuzz_world_get()->node_next.pk, fp);
    jt.ttl_seconds = 3600;
    jt.description = "rack 4";
    jt.uses = 50;
    gw.name = "web";
    lc.node = "node-1";
    lc.workload = "web";
    lc.states = running;
    lc.n_states = BERTH_ARRAY_SIZE(running);
    gc.id = "web-1";
    gc.node = "node-1";
    fh.timeout_ms = 2000;
    logs.container_id = "web-1";
    logs.tail_lines = 100;
    logs.max_bytes = 65536;
    logs.stream = LOG_STREAM_STDERR;
    stop.container_id = "web-1";
    stop.grace_period_ms = 5000;
    cordon.name = "node-1";
    cordon.cordon = true;
    drain.name = "node-1";
    events.object_kind = "Node";
    events.object_name = "node-1";
    events.limit = 20;
    top_req.workload = "web";
    stop_container.container_id = "web-1";
    stop_container.node = "node-1";
    stop_container.grace_period_ms = 5000;

#define CALL(svc, m, sel, msg)                                                                     \
    calls[n++] = (call){ "berth.v1." svc "/" m, sel, (const ProtobufCMessage *)(msg) }
    CALL("Controller", "Register", 0, &reg);
    CALL("Controller", "Heartbeat", 1, &hb);
    CALL("Controller", "GetAssignments", 2, &ga);
    CALL("Controller", "ReportStatus", 3, &rs);
    CALL("Controller", "Apply", 4, &apply);
    CALL("Controller", "Delete", 5, &del);
    CALL("Controller", "ListNodes", 6, &ln);
    CALL("Controller", "GetNode", 7, &gn);
    CALL("Controller", "ApproveNode", 8, &an);
    CALL("Controller", "CreateJoinToken", 9, &jt);
    CALL("Controller", "ListWorkloads", 10, &lw);
    CALL("Controller", "GetWorkload", 11, &gw);
    CALL("Controller", "ListContainers", 12, &lc);
    CALL("Controller", "GetContainer", 13, &gc);
    CALL("Controller", "FleetHealth", 14, &fh);
    CALL("Controller", "Logs", 15, &logs);
    CALL("Agent", "Health", 16, &health);
    CALL("Agent", "List", 17, &lc);
    CALL("Agent", "Logs", 18, &logs);
    CALL("Agent", "Stop", 19, &stop);
    CALL("Controller", "CordonNode", 20, &cordon);
    CALL("Controller", "DrainNode", 21, &drain);
    CALL("Controller", "ListEvents", 22, &events);
    CALL("Controller", "Top", 23, &top_req);
    CALL("Controller", "StopContainer", 24, &stop_container);
    rollout.name = "web";
    rollout.action = ROLLOUT_UNDO;
    rollout.to_revision = 2;
    CALL("Controller", "Rollout", 31, &rollout);
    budgets.namespace_ = "default";
    CALL("Controller", "ListDisruptionBudgets", 32, &budgets);
    evict.name = "web-5cc4789d69-0";
    evict.node = "node-1";
    CALL("Controller", "EvictPod", 33, &evict);
    create_job.name = "tick-manual";
    create_job.from_cronjob = "tick";
    CALL("Controller", "CreateJob", 34, &create_job);
    objects.kind = CONFIG_SECRET;
    objects.name = "db";
    objects.reveal = true;
    CALL("Controller", "ListObjects", 35, &objects);
    CALL("Controller", "Version", 36, &version);
    CALL("Controller", "ListJoinTokens", 37, &tokens);
    token_rm.id = "0a0b0c0d0e0f";
    CALL("Controller", "DeleteJoinToken", 38, &token_rm);
#undef CALL
    return n;
}

/* "request-Controller-Register" */
static const char *call_name(const call *c, char *buf, size_t size)
{
    snprintf(buf, size, "request-%s", strrchr(c->method, '.') + 1);
    for (char *p = buf; *p; p++)
        if (*p == '/')
            *p = '-';
    return buf;
}

/* The responses a node (or berthctl) acts on, with their selectors. */
static void response_seeds(void)
{
    static RegisterResponse reg = REGISTER_RESPONSE_INIT;
    static Endpoints ep = ENDPOINTS_INIT;
    static HeartbeatResponse hb = HEARTBEAT_RESPONSE_INIT;
    static JoinToken token = JOIN_TOKEN_INIT;
    static ContainerInfo info = CONTAINER_INFO_INIT;
    static ContainerInfo *infos[] = { &info };
    static ListContainersResponse lc = LIST_CONTAINERS_RESPONSE_INIT;
    static StopResponse stop = STOP_RESPONSE_INIT;
    static Event event = EVENT_INIT;
    static Event *event_ptrs[] = { &event };
    static ListEventsResponse events = LIST_EVENTS_RESPONSE_INIT;
    static MetricsSample node_sample = METRICS_SAMPLE_INIT, web_sample = METRICS_SAMPLE_INIT;
    static NodeCapacity cap = NODE_CAPACITY_INIT;
    static NodeUsage node_usage = NODE_USAGE_INIT;
    static NodeUsage *node_usages[] = { &node_usage };
    static ContainerUsage web_usage = CONTAINER_USAGE_INIT;
    static ContainerUsage *web_usages[] = { &web_usage };
    static TopResponse top_resp = TOP_RESPONSE_INIT;

    ep.events = "tcp://10.0.0.1:7101";
    ep.stream = "tcp://10.0.0.1:7102";
    ep.survey = "tcp://10.0.0.1:7103";
    reg.generation = 7;
    reg.heartbeat_interval_ms = 5000;
    reg.endpoints = &ep;
    hb.generation = 8;
    hb.report_status = true;
    token.token = "7a7a7a7a7a7a.5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
    token.id = "7a7a7a7a7a7a";
    info.node = "node-1";
    info.workload = "web";
    info.spec = spec_full();
    info.status = status_running();
    lc.containers = infos;
    lc.n_containers = BERTH_ARRAY_SIZE(infos);
    stop.status = status_exited();
    event.id = 42;
    event.time_unix_ns = 1700000000000000000LL;
    event.object_kind = "Node";
    event.object_name = "node-1";
    event.type = "Normal";
    event.reason = "Cordoned";
    event.message = "by operator alice";
    events.events = event_ptrs;
    events.n_events = BERTH_ARRAY_SIZE(event_ptrs);
    node_sample.time_unix_ns = 1700000000000000000LL;
    node_sample.cpu_usage_ns = 123456789;
    node_sample.memory_bytes = 1 << 30;
    node_sample.load_1m = 0.5;
    node_sample.containers = 2;
    node_sample.containers_running = 1;
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    node_usage.node = "node-1";
    node_usage.sample = &node_sample;
    node_usage.cpu_millis = 250;
    node_usage.capacity = &cap;
    web_sample.container_id = "web-1";
    web_sample.time_unix_ns = 1700000000000000000LL;
    web_sample.memory_bytes = 32 << 20;
    web_sample.memory_limit_bytes = 64 << 20;
    web_sample.pids = 3;
    web_usage.node = "node-1";
    web_usage.workload = "web";
    web_usage.sample = &web_sample;
    web_usage.cpu_millis = -1;
    top_resp.nodes = node_usages;
    top_resp.n_nodes = BERTH_ARRAY_SIZE(node_usages);
    top_resp.containers = web_usages;
    top_resp.n_containers = BERTH_ARRAY_SIZE(web_usages);

    put_message("response-register", 0 | 0x80, (ProtobufCMessage *)&reg);
    put_message("response-heartbeat", 1 | 0x80, (ProtobufCMessage *)&hb);
    put_message("response-assignments", 2 | 0x80, (ProtobufCMessage *)assignments());
    put_message("response-join-token", 9 | 0x80, (ProtobufCMessage *)&token);
    put_message("response-list-containers", 12 | 0x80, (ProtobufCMessage *)&lc);
    put_message("response-health", 16 | 0x80, (ProtobufCMessage *)health_report());
    put_message("response-stop", 19 | 0x80, (ProtobufCMessage *)&stop);
    put_message("response-list-events", 22 | 0x80, (ProtobufCMessage *)&events);
    put_message("response-top", 23 | 0x80, (ProtobufCMessage *)&top_resp);
}

/* ---- frames ---------------------------------------------------------------- */

/* The envelope as a frame buffer (the payload at BERTH_FRAME_HEADER_LEN);
 * *ret_len the payload's length. */
static uint8_t *envelope(FrameKind kind, const char *method, uint64_t call_id,
                         const ProtobufCMessage *body, Status *status, size_t *ret_len)
{
    Envelope env = ENVELOPE_INIT;
    berth_error *err = NULL;
    uint8_t *frame = NULL;

    env.kind = kind;
    env.method = (char *)method;
    env.call_id = call_id;
    env.status = status;
    if (kind == FRAME_KIND_REQUEST || kind == FRAME_KIND_SURVEY)
        env.timeout_ms = 30000;
    if (kind == FRAME_KIND_STREAM) {
        env.seq = 1;
        env.stream_epoch = 0x5eed;
    }
    if (berth_envelope_frame(&env, body, &frame, ret_len, &err) < 0)
        fuzz_die("envelope", err);
    return frame;
}

/* A frame of route r (payload of len bytes in frame): the payload as an
 * input to authenticate and, when raw, the frame its sender makes of it
 * as a raw input: timestamp 0 (fuzz_frame reads "now"), and a sealed
 * frame's payload left in clear with a zero tag. It could not pass the tag
 * check anyway (its timestamp changes), and this way the seed does not
 * depend on when the session was made. Frees frame. */
static void frame_seeds(enum route r, const char *name, bool raw, uint8_t *frame, size_t len)
{
    fuzz_world *w = fuzz_world_get();
    _cleanup_free_ uint8_t *plain = malloc(len ? len : 1);
    bool sealed = true;
    char n[160];
    size_t flen;

    if (!plain)
        fuzz_die("out of memory", NULL);
    memcpy(plain, frame + BERTH_FRAME_HEADER_LEN, len);
    snprintf(n, sizeof(n), "auth-%s", name);
    put("frame", n, (uint8_t)(r | ROUTE_AUTHENTIC), plain, len);
    switch (raw ? r : ROUTE_COUNT) {
    case ROUTE_REQUEST:
        flen = berth_auth_seal_at(w->node.auth, w->node_session, BERTH_CHANNEL_RPC, frame, len, 0);
        break;
    case ROUTE_STREAM:
        flen =
            berth_auth_seal_at(w->node.auth, w->node_session, BERTH_CHANNEL_STREAM, frame, len, 0);
        break;
    case ROUTE_ANSWER:
        flen =
            berth_auth_seal_at(w->node.auth, w->node_session, BERTH_CHANNEL_SURVEY, frame, len, 0);
        break;
    case ROUTE_RESPONSE:
        flen = berth_auth_seal_at(w->ctl.auth, w->ctl_session, BERTH_CHANNEL_RPC, frame, len, 0);
        break;
    case ROUTE_EVENT:
        flen = berth_auth_sign_at(w->ctl.auth, BERTH_CHANNEL_EVENTS, w->node.who.id, frame, len, 0);
        sealed = false;
        break;
    case ROUTE_QUESTION:
        flen = berth_auth_sign_at(w->ctl.auth, BERTH_CHANNEL_SURVEY, berth_id_broadcast, frame, len,
                                  0);
        sealed = false;
        break;
    default:
        free(frame);
        return;
    }
    if (sealed) {
        memcpy(frame + BERTH_FRAME_HEADER_LEN, plain, len);
        memset(frame + BERTH_FRAME_HEADER_LEN + len, 0, BERTH_FRAME_TAG_LEN);
    }
    snprintf(n, sizeof(n), "raw-%s", name);
    put("frame", n, (uint8_t)r, frame, flen);
    free(frame);
}

/* A handshake frame (len bytes) as an input to authenticate and, when raw,
 * as a raw input. What depends on the time it was made is zeroed: the
 * timestamp, the signature, and the time-bound bytes at payload offset
 * bound_at (bound_len of them: a join-token proof, a hello's hash), which
 * fuzz_frame fills in again for authentic input. */
static void handshake_seeds(enum route r, const char *name, bool raw, uint8_t *frame, size_t len,
                            size_t bound_at, size_t bound_len)
{
    size_t plen = len - BERTH_FRAME_HEADER_LEN - BERTH_FRAME_SIG_LEN;
    char n[160];

    memset(frame + FRAME_TIMESTAMP_AT, 0, 8);
    memset(frame + BERTH_FRAME_HEADER_LEN + bound_at, 0, bound_len);
    memset(frame + len - BERTH_FRAME_SIG_LEN, 0, BERTH_FRAME_SIG_LEN);
    snprintf(n, sizeof(n), "auth-%s", name);
    put("frame", n, (uint8_t)(r | ROUTE_AUTHENTIC), frame + BERTH_FRAME_HEADER_LEN, plen);
    if (!raw)
        return;
    snprintf(n, sizeof(n), "raw-%s", name);
    put("frame", n, (uint8_t)r, frame, len);
}

/* node says HELLO as who (with token and rotation as asked) to a fresh
 * controller: the HELLO and the controller's WELCOME as seeds. */
static void hello_seeds(const char *name, bool raw, berth_role role, const char *who_name,
                        bool token, bool rotate)
{
    fuzz_world *w = fuzz_world_get();
    fuzz_party like = w->node, node, ctl;
    berth_error *err = NULL;
    berth_hello *hello = NULL;
    uint8_t *frame = NULL, *reply = NULL;
    size_t len = 0, reply_len = 0;
    char n[160];

    if (berth_principal_init(&like.who, role, who_name, &err) < 0)
        fuzz_die(who_name, err);
    fuzz_party_clone(&node, &like, &w->ctl, NULL);
    if (rotate)
        berth_auth_set_key(node.auth, &w->node_next, true);
    berth_auth_hello(node.auth, &w->ctl.who, token ? &w->token : NULL, &hello, &frame, &len);
    fuzz_party_clone(&ctl, &w->ctl, &w->node, &w->token);
    berth_auth_accept(ctl.auth, frame, len, &reply, &reply_len);
    snprintf(n, sizeof(n), "hello-%s", name);
    /* role, name length, name, key, ephemeral key, extensions, token id */
    handshake_seeds(ROUTE_HELLO, n, raw, frame, len, 2 + strlen(who_name) + 65 + BERTH_TOKEN_ID_LEN,
                    token ? 32 : 0);
    /* The answer: a WELCOME after enrollment or rotation is like any
     * other admission, so only those to plain HELLOs are kept. */
    if (reply && !token && !rotate) {
        snprintf(n, sizeof(n), "welcome-%s", name);
        handshake_seeds(ROUTE_WELCOME, n, raw, reply, reply_len, WELCOME_HASH_AT, 32);
    }
    berth_hello_free(hello);
    free(frame);
    free(reply);
    fuzz_party_free(&ctl);
    fuzz_party_free(&node);
}

static void frame_corpus(void)
{
    static WakeUp wake = WAKE_UP_INIT;
    static ContainerEvent ev = CONTAINER_EVENT_INIT;
    static MetricsReport mr = METRICS_REPORT_INIT;
    static MetricsSample node_sample = METRICS_SAMPLE_INIT, ct_sample = METRICS_SAMPLE_INIT;
    static MetricsSample *samples[] = { &node_sample, &ct_sample };
    static HealthRequest hreq = HEALTH_REQUEST_INIT;
    static Status unavailable = STATUS_INIT;
    call calls[48];
    size_t n = calls_make(calls), len;
    uint8_t *f;
    char name[96];

    hello_seeds("node", true, BERTH_ROLE_NODE, "node-1", false, false);
    hello_seeds("unknown-node", true, BERTH_ROLE_NODE, "node-2", false, false);
    hello_seeds("token", true, BERTH_ROLE_NODE, "node-3", true, false);
    hello_seeds("rotate", false, BERTH_ROLE_NODE, "node-1", false, true);
    hello_seeds("operator", false, BERTH_ROLE_OPERATOR, "alice", false, false);
    /* berthd join's key discovery: the question and the controller's
     * signed answer (raw; the time is made relative, the signature stays
     * valid only for inputs that keep it) */
    {
        fuzz_world *w = fuzz_world_get();
        uint8_t q[BERTH_DISCOVER_LEN], challenge[BERTH_DISCOVER_CHALLENGE_LEN], *reply = NULL;
        size_t rlen = 0;

        berth_discover_request(q, challenge);
        memset(q + BERTH_FRAME_HEADER_LEN, 0x21, BERTH_DISCOVER_CHALLENGE_LEN);
        berth_auth_discover(w->ctl.auth, q, sizeof(q), &reply, &rlen);
        memset(q + FRAME_TIMESTAMP_AT, 0, 8);
        put("frame", "raw-discover", ROUTE_HELLO, q, sizeof(q));
        if (reply) {
            memset(reply + FRAME_TIMESTAMP_AT, 0, 8);
            put("frame", "raw-discovered", ROUTE_WELCOME, reply, rlen);
        }
        free(reply);
    }

    for (size_t i = 0; i < n; i++) {
        f = envelope(FRAME_KIND_REQUEST, calls[i].method, 1000 + i, calls[i].req, NULL, &len);
        call_name(&calls[i], name, sizeof(name));
        /* A call received twice: the second is a duplicate. */
        if (i == 1)
            put("frame", "auth-request-twice", ROUTE_REQUEST | ROUTE_AUTHENTIC | ROUTE_ALT,
                f + BERTH_FRAME_HEADER_LEN, len);
        /* Raw: a few; the payloads are what differ. */
        frame_seeds(ROUTE_REQUEST, name, i == 0 || i == 2 || i == n - 1, f, len);
    }
    f = envelope(FRAME_KIND_REQUEST, "berth.v1.Controller/Nope", 1, NULL, NULL, &len);
    frame_seeds(ROUTE_REQUEST, "request-unknown-method", false, f, len);

    f = envelope(FRAME_KIND_RESPONSE, "berth.v1.Controller/GetAssignments", 1002,
                 (ProtobufCMessage *)assignments(), NULL, &len);
    frame_seeds(ROUTE_RESPONSE, "response-assignments", true, f, len);
    unavailable.code = CODE_UNAVAILABLE;
    unavailable.message = "controller: store is busy";
    f = envelope(FRAME_KIND_RESPONSE, "berth.v1.Controller/Heartbeat", 1001, NULL, &unavailable,
                 &len);
    frame_seeds(ROUTE_RESPONSE, "response-error", false, f, len);

    ev.status = status_exited();
    ev.previous_state = CONTAINER_RUNNING;
    ev.time_unix_ns = 1700000000000000000LL;
    f = envelope(FRAME_KIND_STREAM, "berth.v1.ContainerEvent", 0, (ProtobufCMessage *)&ev, NULL,
                 &len);
    frame_seeds(ROUTE_STREAM, "stream-container-event", true, f, len);
    ct_sample.container_id = "web-1";
    ct_sample.cpu_usage_ns = 123456789;
    ct_sample.memory_bytes = 12 << 20;
    ct_sample.memory_limit_bytes = 64 << 20;
    ct_sample.pids = 3;
    node_sample.memory_bytes = 1LL << 30;
    mr.samples = samples;
    mr.n_samples = BERTH_ARRAY_SIZE(samples);
    f = envelope(FRAME_KIND_STREAM, "berth.v1.MetricsReport", 0, (ProtobufCMessage *)&mr, NULL,
                 &len);
    frame_seeds(ROUTE_STREAM, "stream-metrics", false, f, len);

    f = envelope(FRAME_KIND_SURVEY_REPLY, "berth.v1.Agent/Health", 77,
                 (ProtobufCMessage *)health_report(), NULL, &len);
    frame_seeds(ROUTE_ANSWER, "answer-health", true, f, len);

    wake.generation = 8;
    f = envelope(FRAME_KIND_EVENT, "berth.v1.WakeUp", 0, (ProtobufCMessage *)&wake, NULL, &len);
    put("frame", "auth-event-wake-up-everyone", ROUTE_EVENT | ROUTE_AUTHENTIC | ROUTE_ALT,
        f + BERTH_FRAME_HEADER_LEN, len);
    frame_seeds(ROUTE_EVENT, "event-wake-up", true, f, len);
    f = envelope(FRAME_KIND_SURVEY, "berth.v1.Agent/Health", 77, (ProtobufCMessage *)&hreq, NULL,
                 &len);
    frame_seeds(ROUTE_QUESTION, "question-health", true, f, len);
}

/* Replay-window steps: in order, reordered with a duplicate, a slide past
 * the window. */
static void replay_corpus(void)
{
    static const uint8_t in_order[] = { REPLAY_ABOVE, 0, 1, REPLAY_ABOVE, 0, 1,
                                        REPLAY_ABOVE, 0, 1, REPLAY_ABOVE, 0, 1 };
    static const uint8_t reordered[] = {
        REPLAY_ABOVE, 0, 5, REPLAY_BELOW, 0, 3, REPLAY_BELOW, 0, 1,
        REPLAY_SMALL, 0, 4, REPLAY_SMALL, 0, 2, REPLAY_ABOVE, 0, 0
    };
    static const uint8_t slide[] = { REPLAY_ABOVE, 0x0b, 0xb8, REPLAY_BELOW, 0x07, 0xff,
                                     REPLAY_BELOW, 0x08, 0x00, REPLAY_ABOVE, 0,    100,
                                     REPLAY_BELOW, 0x07, 0xff, REPLAY_SMALL, 0,    0 };

    put("frame", "replay-in-order", ROUTE_REPLAY, in_order, sizeof(in_order));
    put("frame", "replay-reordered", ROUTE_REPLAY, reordered, sizeof(reordered));
    put("frame", "replay-slide", ROUTE_REPLAY, slide, sizeof(slide));
}

static void request_corpus(void)
{
    call calls[48];
    size_t n = calls_make(calls);
    char name[96];

    for (size_t i = 0; i < n; i++)
        put_message(call_name(&calls[i], name, sizeof(name)), calls[i].selector, calls[i].req);
    response_seeds();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    top = argv[1];
    fuzz_world_get();
    frame_corpus();
    replay_corpus();
    request_corpus();
    return 0;
}
