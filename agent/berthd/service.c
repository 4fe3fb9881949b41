/* The Agent service handlers. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "base/version.h"
#include "berth/proto/v1.h"
#include "exec.h"
#include "node.h"
#include "portfwd.h"
#include "pb/pb.h"
#include "statedir/crilog.h"
#include "statedir/statedir.h"
#include "rpc/server.h"
#include "spec/spec.h"
#include "spec/workload.h"

#define N_CHECKS  5
#define N_STATES  (CONTAINER_FAILED + 1) /* ContainerState's last value is FAILED */
#define LIST_MAX  4096
#define LOG_BYTES (1 << 20)
/* Health: a state dir with less room than this (in %) fails its check;
 * so does a node with less memory available. */
#define ROOM_MIN_PERCENT 5
/* agent.proto StopRequest.grace_period_ms: 0 means this. */
#define STOP_GRACE_DEFAULT_MS 10000
/* The label naming a container's workload (berth_replica_spec). */

struct agent_service {
    Agent_Service svc; /* first: the server hands us &svc.base */
    agent_service_config cfg;
    berth_duplex_server *dx; /* exec and port-forward streams */
    agent_execs *execs;
};

static const agent_service_config *cfg_of(Agent_Service *svc)
{
    return &((agent_service *)svc)->cfg;
}

/* --- Health ------------------------------------------------------------------------- */

static void check(HealthCheck *c, const char *name, bool ok, char *msg)
{
    health_check_init(c);
    c->name = (char *)name;
    c->ok = ok;
    c->message = msg;
}

#define MSG_MAX 256

/* What a HealthReport points into; probes has room for every container. */
typedef struct health_buf {
    HealthCheck checks[N_CHECKS], *check_ptrs[N_CHECKS];
    char msgs[N_CHECKS][MSG_MAX];
    StateCount counts[N_STATES], *count_ptrs[N_STATES];
    ContainerHealth probes[LIST_MAX], *probe_ptrs[LIST_MAX];
    FrameDrops drops[BERTH_REJECT_COUNT], *drop_ptrs[BERTH_REJECT_COUNT];
} health_buf;

static void agent_health(const agent_service_config *cfg, HealthReport *ret, health_buf *b)
{
    HealthCheck *checks = b->checks, **check_ptrs = b->check_ptrs;
    StateCount *counts = b->counts, **count_ptrs = b->count_ptrs;
    char *msg;
    const ContainerStatus *all[LIST_MAX];
    size_t n = containers_statuses(cfg->containers, all, LIST_MAX), nc = 0, lost = 0;
    uint32_t per_state[N_STATES] = { 0 };
    struct statvfs sv;
    _cleanup_free_ char *meminfo = NULL;
    berth_error *err = NULL;
    bool ok;

    health_report_init(ret);
    ret->node = (char *)cfg->node_name;
    ret->agent_version = (char *)berth_version();
    ret->agent_start_unix_ns = cfg->agent_start_ns;
    ret->time_unix_ns = berth_now_real_ns();
    ret->applied_generation = containers_applied_generation(cfg->containers);

    /* state dir: writable, with room */
    msg = b->msgs[nc];
    ok = statvfs(cfg->state_dir, &sv) == 0 && access(cfg->state_dir, W_OK) == 0 &&
         !(sv.f_flag & ST_RDONLY);
    if (!ok)
        snprintf(msg, MSG_MAX, "state dir %s: not writable", cfg->state_dir);
    else if (sv.f_blocks && sv.f_bavail * 100 / sv.f_blocks < ROOM_MIN_PERCENT) {
        ok = false;
        snprintf(msg, MSG_MAX, "state dir %s: %" PRIu64 "%% full", cfg->state_dir,
                 (uint64_t)(100 - sv.f_bavail * 100 / sv.f_blocks));
    }
    check(&checks[nc++], "state-dir", ok, msg);

    /* cgroups: the hierarchy is still what we detected */
    {
        berth_cgroup_driver *d = NULL;

        msg = b->msgs[nc];
        ok = berth_cgroup_driver_detect(NULL, &d, NULL) == 0 &&
             berth_cgroup_driver_version(d) == berth_cgroup_driver_version(cfg->cgroups);
        berth_cgroup_driver_free(d);
        if (!ok)
            snprintf(msg, MSG_MAX, "the cgroup hierarchy is not usable");
        check(&checks[nc++], "cgroup", ok, msg);
    }

    /* memory headroom */
    msg = b->msgs[nc];
    ok = true;
    if (berth_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 20, &meminfo, NULL, NULL) == 0) {
        long long total = 0, avail = 0;
        char *t = strstr(meminfo, "MemTotal:"), *v = strstr(meminfo, "MemAvailable:");

        if (t && v && sscanf(t + 9, "%lld", &total) == 1 && sscanf(v + 13, "%lld", &avail) == 1 &&
            total > 0 && avail * 100 / total < ROOM_MIN_PERCENT) {
            ok = false;
            snprintf(msg, MSG_MAX, "memory: %lld%% available", avail * 100 / total);
        }
    }
    check(&checks[nc++], "memory", ok, msg);

    for (size_t i = 0; i < n; i++) {
        uint32_t failures;
        const char *message;

        if (containers_probe(cfg->containers, all[i]->id, &failures, &message)) {
            ContainerHealth *h = &b->probes[ret->n_probes];

            container_health_init(h);
            h->container_id = (char *)all[i]->id;
            h->health = all[i]->health;
            h->probe_failures = failures;
            h->message = (char *)message;
            b->probe_ptrs[ret->n_probes++] = h;
        }
        if ((size_t)all[i]->state < N_STATES)
            per_state[all[i]->state]++;
        if (strcmp(all[i]->reason, CONTAINERS_REASON_MONITOR_LOST) == 0)
            lost++;
    }
    msg = b->msgs[nc];
    if (lost)
        snprintf(msg, MSG_MAX, "%zu container(s) lost their monitor", lost);
    check(&checks[nc++], "monitors", lost == 0, msg);

    msg = b->msgs[nc];
    ok = cfg->controller_check(cfg->callback_data, &err) == 0;
    if (!ok) {
        snprintf(msg, MSG_MAX, "%s", err->msg);
        berth_error_free(&err);
    }
    check(&checks[nc++], "controller", ok, msg);

    ret->healthy = true;
    for (size_t i = 0; i < nc; i++) {
        check_ptrs[i] = &checks[i];
        ret->healthy &= checks[i].ok;
    }
    ret->checks = check_ptrs;
    ret->n_checks = nc;
    for (int s = 0; s < N_STATES; s++) {
        if (!per_state[s])
            continue;
        state_count_init(&counts[ret->n_containers]);
        counts[ret->n_containers].state = (ContainerState)s;
        counts[ret->n_containers].count = per_state[s];
        count_ptrs[ret->n_containers] = &counts[ret->n_containers];
        ret->n_containers++;
    }
    ret->containers = count_ptrs;
    if (cfg->frame_drops) {
        ret->n_frames_dropped = cfg->frame_drops(cfg->callback_data, b->drops, b->drop_ptrs);
        ret->frames_dropped = b->drop_ptrs;
    }
    ret->probes = b->probe_ptrs;
}

static void svc_health(Agent_Service *svc, const HealthRequest *in, HealthReport_Closure closure,
                       void *data)
{
    HealthReport rep;
    _cleanup_free_ health_buf *b = berth_xcalloc(1, sizeof(*b));

    (void)in;
    agent_health(cfg_of(svc), &rep, b);
    closure(&rep, data);
}

/* --- List ------------------------------------------------------------------------------ */

static bool state_wanted(const ListContainersRequest *in, ContainerState st)
{
    if (in->n_states == 0)
        return true;
    for (size_t i = 0; i < in->n_states; i++)
        if (in->states[i] == st)
            return true;
    return false;
}

static const char *workload_of(const ContainerSpec *spec)
{
    for (size_t i = 0; spec && i < spec->n_labels; i++)
        if (strcmp(spec->labels[i]->key, BERTH_LABEL_WORKLOAD) == 0)
            return spec->labels[i]->value;
    return "";
}

static int cmp_info(const void *x, const void *y)
{
    return strcmp((*(ContainerInfo *const *)x)->status->id,
                  (*(ContainerInfo *const *)y)->status->id);
}

static void svc_list(Agent_Service *svc, const ListContainersRequest *in,
                     ListContainersResponse_Closure closure, void *data)
{
    const agent_service_config *cfg = cfg_of(svc);
    ListContainersResponse out = LIST_CONTAINERS_RESPONSE_INIT;
    const ContainerStatus *all[LIST_MAX];
    size_t n = containers_statuses(cfg->containers, all, LIST_MAX), k = 0;
    _cleanup_free_ ContainerInfo *infos = berth_xcalloc(n, sizeof(*infos));
    _cleanup_free_ ContainerInfo **ptrs = berth_xcalloc(n, sizeof(*ptrs));

    for (size_t i = 0; i < n; i++) {
        const ContainerSpec *spec = containers_spec(cfg->containers, all[i]->id);

        if (!state_wanted(in, all[i]->state) ||
            (*in->workload && strcmp(in->workload, workload_of(spec)) != 0))
            continue;
        container_info_init(&infos[k]);
        infos[k].node = (char *)cfg->node_name;
        infos[k].workload = (char *)workload_of(spec);
        infos[k].spec = (ContainerSpec *)spec;
        infos[k].status = (ContainerStatus *)all[i];
        ptrs[k] = &infos[k];
        k++;
    }
    qsort(ptrs, k, sizeof(*ptrs), cmp_info);
    out.containers = ptrs;
    out.n_containers = k;
    closure(&out, data);
}

/* --- Logs ------------------------------------------------------------------------------ */

/* The container's previous run (a copy, BERTH_PB_FREE), or NULL: the one
 * that ended last while it runs again, the one before when it has ended. */
static ExitRecord *previous_run(int dfd, const ContainerStatus *st)
{
    MonitorState *ms = NULL;
    ExitRecord *r = NULL;
    size_t skip = st && (st->state == CONTAINER_EXITED || st->state == CONTAINER_OOM_KILLED ||
                         st->state == CONTAINER_FAILED)
                      ? 1
                      : 0;

    if (berth_statedir_read_state(dfd, &ms, NULL) < 0)
        return NULL;
    for (size_t i = ms->n_history; i-- > 0;) {
        if (!ms->history[i]->started_unix_ns)
            continue; /* a start that failed ran nothing */
        if (skip) {
            skip--;
            continue;
        }
        r = BERTH_PB_COPY(ExitRecord, ms->history[i]);
        break;
    }
    BERTH_PB_FREE(ms);
    return r;
}

static void svc_logs(Agent_Service *svc, const LogsRequest *in, LogsResponse_Closure closure,
                     void *data)
{
    const agent_service_config *cfg = cfg_of(svc);
    const ContainerSpec *spec = containers_spec(cfg->containers, in->container_id);
    const ContainerStatus *st = containers_status(cfg->containers, in->container_id);
    LogsResponse out = LOGS_RESPONSE_INIT;
    berth_crilog_query q = { 0 };
    berth_crilog_batch b;
    berth_error *err = NULL;
    _cleanup_close_ int dfd = -1;
    _cleanup_free_ LogLine *lines = NULL;
    _cleanup_free_ LogLine **ptrs = NULL;
    size_t first;
    bool running;

    if (!spec) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s: not on node %s", in->container_id,
                            cfg->node_name);
        return;
    }
    if (containers_open_dir(cfg->containers, in->container_id, &dfd, &err) < 0) {
        berth_error_free(&err);
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s: no log yet", in->container_id);
        return;
    }
    q.cursor = in->cursor;
    q.tail_lines = in->tail_lines;
    q.max_bytes = in->max_bytes == 0 || in->max_bytes > LOG_BYTES ? LOG_BYTES : in->max_bytes;
    q.since_ns = in->since_unix_ns;
    /* As kubectl logs: the current run's (or the last one's), not the
     * lines of the runs before it (--previous has the one before). */
    if (!in->previous && !in->cursor && st && st->started_unix_ns > q.since_ns)
        q.since_ns = st->started_unix_ns;
    if (in->previous) {
        ExitRecord *prev = previous_run(dfd, st);

        if (!prev) {
            berth_rpc_call_fail(data, CODE_FAILED_PRECONDITION,
                                "previous terminated container %s not found", in->container_id);
            return;
        }
        /* the run's lines, the last tail_lines of them (trimmed below) */
        q.since_ns = prev->started_unix_ns > q.since_ns ? prev->started_unix_ns : q.since_ns;
        q.until_ns = prev->finished_unix_ns;
        q.tail_lines = 0;
        BERTH_PB_FREE(prev);
    }
    q.stream = in->stream == LOG_STREAM_STDOUT   ? BERTH_CRILOG_STDOUT
               : in->stream == LOG_STREAM_STDERR ? BERTH_CRILOG_STDERR
                                                 : -1;
    if (berth_crilog_read(dfd, BERTH_STATEDIR_LOG, berth_spec_log_max_files(spec), &q, &b, &err) <
        0) {
        berth_error_prefix(&err, "container %s", in->container_id);
        berth_rpc_fail_error(data, err);
        berth_error_free(&err);
        return;
    }
    lines = berth_xcalloc(b.n_lines + 1, sizeof(*lines));
    ptrs = berth_xcalloc(b.n_lines + 1, sizeof(*ptrs));
    first = in->previous && !in->cursor && in->tail_lines && b.n_lines > in->tail_lines
                ? b.n_lines - in->tail_lines
                : 0;
    for (size_t i = first; i < b.n_lines; i++) {
        log_line_init(&lines[i]);
        lines[i].time_unix_ns = b.lines[i].unix_ns;
        lines[i].stream =
            b.lines[i].stream == BERTH_CRILOG_STDOUT ? LOG_STREAM_STDOUT : LOG_STREAM_STDERR;
        lines[i].partial = b.lines[i].partial;
        lines[i].line.data = (uint8_t *)b.lines[i].text;
        lines[i].line.len = b.lines[i].len;
        ptrs[i - first] = &lines[i];
    }
    out.lines = ptrs;
    out.n_lines = b.n_lines - first;
    out.next_cursor = b.next_cursor;
    out.truncated = b.truncated;
    running = st && (st->state == CONTAINER_RUNNING || st->state == CONTAINER_STARTING ||
                     st->state == CONTAINER_RESTARTING || st->state == CONTAINER_PENDING);
    /* a previous run is over: its lines are all there */
    out.eof = (!running || in->previous) && b.at_end;
    closure(&out, data);
    berth_crilog_batch_clear(&b);
}

/* --- Stop ------------------------------------------------------------------------------- */

typedef struct stop_call {
    StopResponse_Closure closure;
    void *data;
} stop_call;

static void stop_done(const ContainerStatus *st, const berth_error *err, void *data)
{
    stop_call *sc = data;
    StopResponse out = STOP_RESPONSE_INIT;

    if (!st) {
        berth_rpc_fail_error(sc->data, err);
    } else {
        out.status = (ContainerStatus *)st;
        sc->closure(&out, sc->data);
    }
    free(sc);
}

static void svc_stop(Agent_Service *svc, const StopRequest *in, StopResponse_Closure closure,
                     void *data)
{
    const agent_service_config *cfg = cfg_of(svc);
    stop_call *sc = berth_xmalloc(sizeof(*sc));
    berth_error *err = NULL;

    sc->closure = closure;
    sc->data = data;
    berth_info("stop of container %s requested by %s", in->container_id,
               berth_rpc_call_peer(data)->name);
    if (containers_stop(cfg->containers, in->container_id,
                        in->grace_period_ms ? (int64_t)in->grace_period_ms : STOP_GRACE_DEFAULT_MS,
                        stop_done, sc, &err) < 0) {
        berth_rpc_fail_error(data, err);
        berth_error_free(&err);
        free(sc);
    }
}

/* --- Exec --------------------------------------------------------------------------------- */

static void svc_exec(Agent_Service *svc, const ExecStart *in, DuplexOpened_Closure closure,
                     void *data)
{
    agent_execs_start(((agent_service *)svc)->execs, data, in, (ProtobufCClosure)closure);
}

static void svc_attach(Agent_Service *svc, const AttachStart *in, DuplexOpened_Closure closure,
                       void *data)
{
    agent_execs_attach(((agent_service *)svc)->execs, data, in, (ProtobufCClosure)closure);
}

static void svc_port_forward(Agent_Service *svc, const PortForwardStart *in,
                             DuplexOpened_Closure closure, void *data)
{
    agent_service *s = (agent_service *)svc;

    agent_port_forward(s->cfg.loop, s->cfg.containers, s->dx, data, in, (ProtobufCClosure)closure);
}

static void svc_exchange(Agent_Service *svc, const DuplexExchange *in,
                         DuplexExchanged_Closure closure, void *data)
{
    berth_duplex_server_exchange(((agent_service *)svc)->dx, data, in, (ProtobufCClosure)closure);
}

/* --- object ------------------------------------------------------------------------------ */

agent_service *agent_service_new(const agent_service_config *cfg)
{
    agent_service *s = berth_xcalloc(1, sizeof(*s));
    static const Agent_Service init = AGENT_INIT(svc_);

    s->svc = init;
    s->cfg = *cfg;
    {
        /* streams at once on a node (the monitor takes 16 commands a
         * container) */
        berth_duplex_server_config dc = { .loop = cfg->loop, .max_streams = 64 };

        s->dx = berth_duplex_server_new(&dc);
    }
    s->execs = agent_execs_new(cfg->loop, cfg->containers, s->dx);
    return s;
}

void agent_service_free(agent_service *svc)
{
    if (!svc)
        return;
    agent_execs_free(svc->execs);
    /* port-forward bridges end with their streams */
    berth_duplex_server_free(svc->dx);
    free(svc);
}

void agent_service_write_metrics(const agent_service *svc, berth_prom *w)
{
    berth_duplex_server_write_metrics(w, svc->dx);
}

ProtobufCService *agent_service_base(agent_service *svc)
{
    return &svc->svc.base;
}
