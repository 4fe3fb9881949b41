/* The fake controller (see fake_controller.h). */
#include "fake_controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/proto/v1.h"
#include "pb/pb.h"
#include "rpc/envelope.h"

/* Usable outside Check (the agent benchmark): a failure aborts. */
#define need(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: failed\n", __FILE__, __LINE__, #cond);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void note_status(fake_ctl *f, const ContainerStatus *st)
{
    fake_event e = { 0 };
    size_t i;

    snprintf(e.id, sizeof(e.id), "%s", st->id);
    e.state = st->state;
    e.exit_code = st->exit_code;
    e.signal = st->signal;
    e.restart_count = st->restart_count;
    e.pid = st->pid;
    snprintf(e.reason, sizeof(e.reason), "%s", st->reason);
    if (f->n_log < sizeof(f->log) / sizeof(f->log[0]))
        f->log[f->n_log++] = e;
    if (f->on_status)
        f->on_status(f, &e);
    for (i = 0; i < f->n_latest; i++)
        if (strcmp(f->latest[i].id, e.id) == 0)
            break;
    if (i == f->n_latest) {
        if (f->n_latest == FAKE_MAX)
            return;
        f->n_latest++;
    }
    f->latest[i] = e;
}

static void ctl_register(Controller_Service *s, const RegisterRequest *in,
                         RegisterResponse_Closure closure, void *data)
{
    const berth_principal *peer = berth_rpc_call_peer(data);
    RegisterResponse out = REGISTER_RESPONSE_INIT;
    Endpoints ep = ENDPOINTS_INIT;
    fake_ctl *self = berth_container_of(s, fake_ctl, svc);

    if (!in->node || strcmp(in->node->name, peer->name) != 0 || peer->role != BERTH_ROLE_NODE) {
        berth_rpc_call_fail(data, CODE_PERMISSION_DENIED, "not as %s",
                            in->node ? in->node->name : "(none)");
        return;
    }
    self->registrations++;
    if (self->on_call)
        self->on_call(self, "Register");
    out.generation = self->generation;
    out.heartbeat_interval_ms = self->heartbeat_ms;
    ep.events = self->events;
    ep.stream = self->stream;
    ep.survey = self->survey;
    out.endpoints = &ep;
    closure(&out, data);
}

static void ctl_heartbeat(Controller_Service *s, const HeartbeatRequest *in,
                          HeartbeatResponse_Closure closure, void *data)
{
    HeartbeatResponse out = HEARTBEAT_RESPONSE_INIT;
    fake_ctl *self = berth_container_of(s, fake_ctl, svc);

    self->heartbeats++;
    self->applied = in->applied_generation;
    if (self->on_call)
        self->on_call(self, "Heartbeat");
    out.generation = self->generation;
    out.heartbeat_interval_ms = self->heartbeat_ms;
    closure(&out, data);
}

static void ctl_assignments(Controller_Service *s, const GetAssignmentsRequest *in,
                            Assignments_Closure closure, void *data)
{
    Assignments out = ASSIGNMENTS_INIT;
    fake_ctl *self = berth_container_of(s, fake_ctl, svc);

    out.generation = self->generation;
    if (in->known_generation == self->generation) {
        out.unchanged = 1;
    } else {
        out.containers = self->specs;
        out.n_containers = self->n_specs;
    }
    closure(&out, data);
}

static void ctl_report(Controller_Service *s, const ReportStatusRequest *in,
                       ReportStatusResponse_Closure closure, void *data)
{
    ReportStatusResponse out = REPORT_STATUS_RESPONSE_INIT;
    fake_ctl *self = berth_container_of(s, fake_ctl, svc);

    if (in->full)
        self->full_reports++;
    for (size_t i = 0; i < in->n_containers; i++)
        note_status(self, in->containers[i]);
    closure(&out, data);
}

static void on_event(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    fake_ctl *self = data;
    const ContainerEvent *ev = (const ContainerEvent *)msg;

    (void)item;
    if (ev->status)
        note_status(self, ev->status);
}

static void on_metrics(const berth_stream_item *item, const ProtobufCMessage *msg, void *data)
{
    fake_ctl *self = data;
    const MetricsReport *r = (const MetricsReport *)msg;

    (void)item;
    self->metrics_reports++;
    for (size_t i = 0; i < r->n_samples; i++) {
        const MetricsSample *s = r->samples[i];

        if (!*s->container_id) {
            self->node_load = s->load_1m;
            self->node_containers = s->containers;
            self->node_memory = s->memory_bytes;
            self->node_memory_limit = s->memory_limit_bytes;
            continue;
        }
        for (size_t j = 0; j < self->n_latest; j++) {
            if (strcmp(self->latest[j].id, s->container_id) != 0)
                continue;
            if (s->memory_bytes > self->max_memory[j])
                self->max_memory[j] = s->memory_bytes;
            if (s->memory_peak_bytes > self->max_peak[j])
                self->max_peak[j] = s->memory_peak_bytes;
        }
    }
}

void fake_ctl_start(fake_ctl *f, berth_loop *loop, const char *dir, const char *node_name,
                    const uint8_t node_pk[32])
{
    berth_error *err = NULL;

    memset(f, 0, sizeof(*f));
    f->loop = loop;
    f->heartbeat_ms = 500;
    f->generation = 1;
    party_init(&f->party, BERTH_ROLE_CONTROLLER, "controller");
    need((berth_principal_init(&f->node, BERTH_ROLE_NODE, node_name, &err)) == 0);
    need((berth_policy_memory_add_key(f->party.policy, &f->node, node_pk, &err)) == 0);
    f->rpc = ipc_addr(dir, "rpc");
    f->events = ipc_addr(dir, "events");
    f->stream = ipc_addr(dir, "stream");
    f->survey = ipc_addr(dir, "survey");
    berth__v1__controller__init(&f->svc, NULL);
    f->svc.register_ = ctl_register;
    f->svc.heartbeat = ctl_heartbeat;
    f->svc.get_assignments = ctl_assignments;
    f->svc.report_status = ctl_report;
    fake_ctl_up(f);
}

void fake_ctl_up(fake_ctl *f)
{
    berth_rpc_server_config cfg = { .loop = f->loop, .auth = f->party.auth };
    berth_error *err = NULL;

    need((berth_rpc_server_new(&cfg, &f->srv, &err)) == 0);
    need((berth_rpc_server_add_service(f->srv, (ProtobufCService *)&f->svc, &err)) == 0);
    need((berth_rpc_server_bind(f->srv, f->rpc, &err)) == 0);
    need((berth_events_pub_new(f->loop, f->party.auth, &f->pub, &err)) == 0);
    need((berth_events_pub_bind(f->pub, f->events, &err)) == 0);
    need((berth_stream_pull_new(f->loop, f->party.auth, &f->pull, &err)) == 0);
    need((berth_stream_pull_bind(f->pull, f->stream, &err)) == 0);
    need((berth_stream_pull_on(f->pull, &container_event_descriptor, on_event, f, &err)) == 0);
    need((berth_stream_pull_on(f->pull, &metrics_report_descriptor, on_metrics, f, &err)) == 0);
    need((berth_surveyor_new(f->loop, f->party.auth, &f->surveyor, &err)) == 0);
    need((berth_surveyor_bind(f->surveyor, f->survey, &err)) == 0);
}

void fake_ctl_down(fake_ctl *f)
{
    berth_surveyor_free(f->surveyor);
    berth_stream_pull_free(f->pull);
    berth_events_pub_free(f->pub);
    berth_rpc_server_free(f->srv);
    f->surveyor = NULL;
    f->pull = NULL;
    f->pub = NULL;
    f->srv = NULL;
}

void fake_ctl_stop(fake_ctl *f)
{
    fake_ctl_down(f);
    for (size_t i = 0; i < f->n_specs; i++)
        berth_pb_free(&f->specs[i]->base);
    party_free(&f->party);
    free(f->rpc);
    free(f->events);
    free(f->stream);
    free(f->survey);
}

void fake_ctl_assign(fake_ctl *f, ContainerSpec **specs, size_t n)
{
    WakeUp w = WAKE_UP_INIT;
    berth_error *err = NULL;

    for (size_t i = 0; i < f->n_specs; i++)
        berth_pb_free(&f->specs[i]->base);
    need(n <= FAKE_MAX);
    for (size_t i = 0; i < n; i++)
        f->specs[i] = BERTH_PB_COPY(ContainerSpec, specs[i]);
    f->n_specs = n;
    f->generation++;
    w.generation = f->generation;
    need((berth_events_publish(f->pub, f->node.id, &w.base, &err)) == 0);
}

const fake_event *fake_ctl_status(const fake_ctl *f, const char *id)
{
    for (size_t i = 0; i < f->n_latest; i++)
        if (strcmp(f->latest[i].id, id) == 0)
            return &f->latest[i];
    return NULL;
}

size_t fake_ctl_count(const fake_ctl *f, ContainerState st)
{
    size_t n = 0;

    for (size_t i = 0; i < f->n_latest; i++)
        n += f->latest[i].state == st;
    return n;
}

static bool survey_done;
static size_t survey_answered, survey_missing;
static bool survey_healthy;

static void on_survey(berth_survey_result *res, void *data)
{
    (void)data;
    survey_answered = res->n_answers;
    survey_missing = res->n_missing;
    survey_healthy = res->n_answers == 1 && res->answers[0].code == CODE_OK &&
                     ((HealthReport *)res->answers[0].response)->healthy;
    survey_done = true;
}

bool fake_ctl_survey(fake_ctl *f, int timeout_ms, size_t *ret_answered, size_t *ret_missing)
{
    HealthRequest q = HEALTH_REQUEST_INIT;
    berth_error *err = NULL;

    survey_done = false;
    need((berth_surveyor_ask(f->surveyor, &agent_descriptor, "Health", &q.base,
                             (uint32_t)timeout_ms, &f->node, 1, on_survey, NULL, &err)) == 0);
    run_until(f->loop, &survey_done, timeout_ms + 2000);
    *ret_answered = survey_answered;
    *ret_missing = survey_missing;
    return survey_healthy;
}
