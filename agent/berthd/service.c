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
#include "berth/proto/v1.h"
#include "statedir/crilog.h"
#include "statedir/statedir.h"
#include "rpc/server.h"
#include "spec/spec.h"

#define N_CHECKS  5
#define N_STATES  9
#define LIST_MAX  4096
#define LOG_BYTES (1 << 20)

struct agent_service {
    Agent_Service svc; /* first: the server hands us &svc.base */
    agent *a;
};

static agent *agent_of(Agent_Service *svc)
{
    return ((agent_service *)svc)->a;
}

/* --- Health ------------------------------------------------------------------------- */

static void check(HealthCheck *c, const char *name, bool ok, char *msg)
{
    health_check_init(c);
    c->name = (char *)name;
    c->ok = ok;
    c->message = msg;
}

/* What a HealthReport points into; probes has room for every container. */
typedef struct health_buf {
    HealthCheck checks[N_CHECKS], *check_ptrs[N_CHECKS];
    StateCount counts[N_STATES], *count_ptrs[N_STATES];
    ContainerHealth probes[LIST_MAX], *probe_ptrs[LIST_MAX];
} health_buf;

static void agent_health(agent *a, HealthReport *ret, health_buf *b)
{
    HealthCheck *checks = b->checks, **check_ptrs = b->check_ptrs;
    StateCount *counts = b->counts, **count_ptrs = b->count_ptrs;
    static char msgs[N_CHECKS][256];
    const ContainerStatus *all[LIST_MAX];
    size_t n = containers_statuses(a, all, LIST_MAX), nc = 0, lost = 0;
    uint32_t per_state[N_STATES] = { 0 };
    struct statvfs sv;
    _cleanup_free_ char *meminfo = NULL;
    bool ok;

    health_report_init(ret);
    ret->node = a->cfg.node_name;
    ret->agent_version = "0.1.0";
    ret->agent_start_unix_ns = a->start_ns;
    ret->time_unix_ns = berth_now_real_ns();
    ret->applied_generation = a->applied_generation;

    /* state dir: writable, with room */
    memset(msgs, 0, sizeof(msgs));
    ok = statvfs(a->cfg.state_dir, &sv) == 0 && access(a->cfg.state_dir, W_OK) == 0 &&
         !(sv.f_flag & ST_RDONLY);
    if (!ok)
        snprintf(msgs[0], sizeof(msgs[0]), "state dir %s: not writable", a->cfg.state_dir);
    else if (sv.f_blocks && sv.f_bavail * 100 / sv.f_blocks < 5) {
        ok = false;
        snprintf(msgs[0], sizeof(msgs[0]), "state dir %s: %" PRIu64 "%% full", a->cfg.state_dir,
                 (uint64_t)(100 - sv.f_bavail * 100 / sv.f_blocks));
    }
    check(&checks[nc++], "state-dir", ok, msgs[0]);

    /* cgroups: the hierarchy is still what we detected */
    {
        berth_cgroup_driver *d = NULL;

        ok = berth_cgroup_driver_detect(NULL, &d, NULL) == 0 &&
             berth_cgroup_driver_version(d) == berth_cgroup_driver_version(a->cgroups);
        berth_cgroup_driver_free(d);
        if (!ok)
            snprintf(msgs[1], sizeof(msgs[1]), "the cgroup hierarchy is not usable");
        check(&checks[nc++], "cgroup", ok, msgs[1]);
    }

    /* memory headroom */
    ok = true;
    if (berth_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 20, &meminfo, NULL, NULL) == 0) {
        long long total = 0, avail = 0;
        char *t = strstr(meminfo, "MemTotal:"), *v = strstr(meminfo, "MemAvailable:");

        if (t && v && sscanf(t + 9, "%lld", &total) == 1 && sscanf(v + 13, "%lld", &avail) == 1 &&
            total > 0 && avail * 100 / total < 5) {
            ok = false;
            snprintf(msgs[2], sizeof(msgs[2]), "memory: %lld%% available", avail * 100 / total);
        }
    }
    check(&checks[nc++], "memory", ok, msgs[2]);

    for (size_t i = 0; i < n; i++) {
        uint32_t failures;
        const char *message;

        if (containers_probe(a, all[i]->id, &failures, &message)) {
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
        if (strcmp(all[i]->reason, "MonitorLost") == 0)
            lost++;
    }
    if (lost)
        snprintf(msgs[3], sizeof(msgs[3]), "%zu container(s) lost their monitor", lost);
    check(&checks[nc++], "monitors", lost == 0, msgs[3]);
    ok = session_controller_ok(a, msgs[4], sizeof(msgs[4]));
    check(&checks[nc++], "controller", ok, msgs[4]);

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
    ret->probes = b->probe_ptrs;
}

static void svc_health(Agent_Service *svc, const HealthRequest *in, HealthReport_Closure closure,
                       void *data)
{
    HealthReport rep;
    _cleanup_free_ health_buf *b = malloc(sizeof(*b));

    (void)in;
    if (!b) {
        berth_rpc_call_fail(data, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    agent_health(agent_of(svc), &rep, b);
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
        if (strcmp(spec->labels[i]->key, "berth.workload") == 0)
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
    agent *a = agent_of(svc);
    ListContainersResponse out = LIST_CONTAINERS_RESPONSE_INIT;
    const ContainerStatus *all[LIST_MAX];
    size_t n = containers_statuses(a, all, LIST_MAX), k = 0;
    _cleanup_free_ ContainerInfo *infos = calloc(n ? n : 1, sizeof(*infos));
    _cleanup_free_ ContainerInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));

    if (!infos || !ptrs) {
        berth_rpc_call_fail(data, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const ContainerSpec *spec = containers_spec(a, all[i]->id);

        if (!state_wanted(in, all[i]->state) ||
            (*in->workload && strcmp(in->workload, workload_of(spec)) != 0))
            continue;
        container_info_init(&infos[k]);
        infos[k].node = a->cfg.node_name;
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

static void svc_logs(Agent_Service *svc, const LogsRequest *in, LogsResponse_Closure closure,
                     void *data)
{
    agent *a = agent_of(svc);
    const ContainerSpec *spec = containers_spec(a, in->container_id);
    const ContainerStatus *st = containers_status(a, in->container_id);
    const char *dir = containers_dir_of(a, in->container_id);
    LogsResponse out = LOGS_RESPONSE_INIT;
    berth_crilog_query q = { 0 };
    berth_crilog_batch b;
    berth_error *err = NULL;
    _cleanup_close_ int dfd = -1;
    _cleanup_free_ LogLine *lines = NULL;
    _cleanup_free_ LogLine **ptrs = NULL;
    bool running;

    if (!spec || !dir) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s: not on node %s", in->container_id,
                            a->cfg.node_name);
        return;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        berth_rpc_call_fail(data, CODE_NOT_FOUND, "container %s: no log yet", in->container_id);
        return;
    }
    q.cursor = in->cursor;
    q.tail_lines = in->tail_lines;
    q.max_bytes = in->max_bytes == 0 || in->max_bytes > LOG_BYTES ? LOG_BYTES : in->max_bytes;
    q.since_ns = in->since_unix_ns;
    q.stream = in->stream == LOG_STREAM_STDOUT   ? BERTH_CRILOG_STDOUT
               : in->stream == LOG_STREAM_STDERR ? BERTH_CRILOG_STDERR
                                                 : -1;
    if (berth_crilog_read(dfd, BERTH_STATEDIR_LOG, berth_spec_log_max_files(spec), &q, &b, &err) <
        0) {
        berth_rpc_call_fail(data, CODE_INTERNAL, "container %s: %s", in->container_id, err->msg);
        berth_error_free(&err);
        return;
    }
    lines = calloc(b.n_lines ? b.n_lines : 1, sizeof(*lines));
    ptrs = calloc(b.n_lines ? b.n_lines : 1, sizeof(*ptrs));
    if (!lines || !ptrs) {
        berth_crilog_batch_clear(&b);
        berth_rpc_call_fail(data, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < b.n_lines; i++) {
        log_line_init(&lines[i]);
        lines[i].time_unix_ns = b.lines[i].unix_ns;
        lines[i].stream =
            b.lines[i].stream == BERTH_CRILOG_STDOUT ? LOG_STREAM_STDOUT : LOG_STREAM_STDERR;
        lines[i].partial = b.lines[i].partial;
        lines[i].line.data = (uint8_t *)b.lines[i].text;
        lines[i].line.len = b.lines[i].len;
        ptrs[i] = &lines[i];
    }
    out.lines = ptrs;
    out.n_lines = b.n_lines;
    out.next_cursor = b.next_cursor;
    out.truncated = b.truncated;
    running = st && (st->state == CONTAINER_RUNNING || st->state == CONTAINER_STARTING ||
                     st->state == CONTAINER_RESTARTING || st->state == CONTAINER_PENDING);
    out.eof = !running && b.at_end;
    closure(&out, data);
    berth_crilog_batch_clear(&b);
}

/* --- Stop ------------------------------------------------------------------------------- */

typedef struct stop_call {
    StopResponse_Closure closure;
    void *data;
} stop_call;

static void stop_done(const ContainerStatus *st, const char *error, void *data)
{
    stop_call *sc = data;
    StopResponse out = STOP_RESPONSE_INIT;

    if (!st) {
        berth_rpc_call_fail(sc->data, CODE_UNAVAILABLE, "%s", error);
    } else {
        out.status = (ContainerStatus *)st;
        sc->closure(&out, sc->data);
    }
    free(sc);
}

static void svc_stop(Agent_Service *svc, const StopRequest *in, StopResponse_Closure closure,
                     void *data)
{
    agent *a = agent_of(svc);
    stop_call *sc = malloc(sizeof(*sc));
    berth_error *err = NULL;

    if (!sc) {
        berth_rpc_call_fail(data, CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sc->closure = closure;
    sc->data = data;
    berth_info("stop of container %s requested by %s", in->container_id,
               berth_rpc_call_peer(data)->name);
    if (containers_stop(a, in->container_id,
                        in->grace_period_ms ? (int64_t)in->grace_period_ms : 10000, stop_done, sc,
                        &err) < 0) {
        berth_rpc_call_fail(data, err->code == ENOENT ? CODE_NOT_FOUND : CODE_UNAVAILABLE, "%s",
                            err->msg);
        berth_error_free(&err);
        free(sc);
    }
}

/* --- object ------------------------------------------------------------------------------ */

int agent_service_new(agent *a, agent_service **ret, berth_error **err)
{
    agent_service *s = calloc(1, sizeof(*s));
    static const Agent_Service init = AGENT_INIT(svc_);

    if (!s)
        return berth_error_make(err, ENOMEM, "agent service");
    s->svc = init;
    s->a = a;
    *ret = s;
    return 0;
}

void agent_service_free(agent_service *svc)
{
    free(svc);
}

ProtobufCService *agent_service_base(agent_service *svc)
{
    return &svc->svc.base;
}
