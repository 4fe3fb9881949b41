/* Jobs (batch/v1), as Kubernetes' job controller runs them
 * (fleet-internal.h): pods "<job>-<number>" that run to their end, up to
 * parallelism at a time, until completions of them succeeded (Indexed:
 * each completion index once); one that fails is replaced after a backoff
 * until backoffLimit failures, and activeDeadlineSeconds bounds the whole.
 * A pod that ended stays where it ran (placement keeps it: a done slot)
 * and is never run again; its log stays readable until the Job goes,
 * ttlSecondsAfterFinished after it finished when that is set. The state is
 * the store's (jobs table), written with the revisions' step. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "fleet-internal.h"
#include "pb/pb.h"

#define NS_PER_S 1000000000LL
/* Kubernetes' pod failure backoff: 10 s, doubling, at most 6 min. */
#define BACKOFF_BASE_NS (10 * NS_PER_S)
#define BACKOFF_MAX_NS  (360 * NS_PER_S)
/* Pods a Job keeps (its ended ones included): completions and backoffLimit
 * are at most BERTH_REPLICAS_MAX each. */
#define JOB_PODS_MAX (2 * BERTH_REPLICAS_MAX + 2)

/* A deletion past a TTL that failed is tried again this soon. */
#define TTL_RETRY_NS (5 * NS_PER_S)

#define SUCCEEDED "Succeeded"
#define FAILED    "Failed"

static void set_str(char **field, const char *v)
{
    if (*field != protobuf_c_empty_string)
        free(*field);
    *field = berth_xstrdup(v);
}

static const JobSpec *spec_of(const fleet_workload *wl)
{
    static const JobSpec defaults = { .base = PROTOBUF_C_MESSAGE_INIT(&job_spec_descriptor),
                                      .completions = 1,
                                      .parallelism = 1,
                                      .backoff_limit = 6 };

    return wl->w->job ? wl->w->job : &defaults;
}

/* ---- loading ---- */

static int load_job(void *data, const char *key, JobState *js)
{
    fleet_workload *wl = fleet_workload_find(data, key);

    if (!wl || (wl->w->kind != WORKLOAD_JOB && wl->w->kind != WORKLOAD_CRONJOB) || wl->job) {
        berth_warn("job state of %s: no such Job: not loaded", key);
        job_state_free_unpacked(js, NULL);
        return 0;
    }
    wl->job = js;
    return 0;
}

int fleet_jobs_load(fleet *f, berth_error **err)
{
    return berth_store_jobs_load(f->cfg.store, load_job, f, err);
}

void fleet_job_free(fleet_workload *wl)
{
    if (wl->job)
        job_state_free_unpacked(wl->job, NULL);
    wl->job = NULL;
    wl->job_dirty = false;
}

/* ---- its pods ---- */

const JobPod *fleet_job_pod(const fleet_workload *wl, uint32_t number)
{
    for (size_t i = 0; wl->job && i < wl->job->n_pods; i++)
        if (wl->job->pods[i]->number == number)
            return wl->job->pods[i];
    return NULL;
}

static JobPod *pod_of(fleet_workload *wl, uint32_t number)
{
    return (JobPod *)fleet_job_pod(wl, number);
}

bool fleet_job_done(const fleet_workload *wl, uint32_t number)
{
    const JobPod *p = fleet_job_pod(wl, number);

    return p && *p->finished;
}

static int by_number(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

uint32_t *fleet_job_active(const fleet_workload *wl, size_t *ret_n)
{
    size_t n = 0;
    uint32_t *v = berth_xcalloc((wl->job ? wl->job->n_pods : 0) + 1, sizeof(*v));

    for (size_t i = 0; wl->job && i < wl->job->n_pods; i++)
        if (!*wl->job->pods[i]->finished)
            v[n++] = wl->job->pods[i]->number;
    qsort(v, n, sizeof(*v), by_number);
    *ret_n = n;
    return v;
}

static void pod_add(fleet_workload *wl, uint32_t completion_index)
{
    JobState *js = wl->job;
    JobPod *p = berth_xcalloc(1, sizeof(*p));

    job_pod_init(p);
    p->number = js->next_pod++;
    p->completion_index = completion_index;
    js->pods = berth_xreallocarray(js->pods, js->n_pods + 1, sizeof(*js->pods));
    js->pods[js->n_pods++] = p;
}

/* Take away the pods that have not ended (all, or those beyond keep),
 * the newest first. */
static size_t pods_drop_active(fleet_workload *wl, size_t keep)
{
    JobState *js = wl->job;
    size_t active = 0, dropped = 0, kept = 0;

    for (size_t i = 0; i < js->n_pods; i++)
        active += !*js->pods[i]->finished;
    for (size_t i = js->n_pods; i-- > 0 && active > keep;)
        if (!*js->pods[i]->finished) {
            job_pod_free_unpacked(js->pods[i], NULL);
            js->pods[i] = NULL;
            active--;
            dropped++;
        }
    for (size_t i = 0; i < js->n_pods; i++)
        if (js->pods[i])
            js->pods[kept++] = js->pods[i];
    js->n_pods = kept;
    return dropped;
}

/* Take pod p out of the Job (its replica leaves its node). */
static void pod_remove(JobState *js, JobPod *p)
{
    for (size_t i = 0; i < js->n_pods; i++)
        if (js->pods[i] == p) {
            job_pod_free_unpacked(p, NULL);
            memmove(&js->pods[i], &js->pods[i + 1], (js->n_pods - i - 1) * sizeof(*js->pods));
            js->n_pods--;
            return;
        }
}

/* Whether completion index ci succeeded, or a pod runs for it. */
static bool index_taken(const JobState *js, uint32_t ci)
{
    for (size_t i = 0; i < js->n_pods; i++)
        if (js->pods[i]->completion_index == ci && strcmp(js->pods[i]->finished, FAILED) != 0)
            return true;
    return false;
}

/* Succeeded: pods (NonIndexed), or completion indexes (Indexed). */
static uint32_t succeeded_of(const fleet_workload *wl)
{
    const JobState *js = wl->job;
    uint32_t n = 0;

    if (!spec_of(wl)->indexed)
        return js->succeeded;
    for (uint32_t ci = 0; ci < spec_of(wl)->completions; ci++)
        for (size_t i = 0; i < js->n_pods; i++)
            if (js->pods[i]->completion_index == ci &&
                strcmp(js->pods[i]->finished, SUCCEEDED) == 0) {
                n++;
                break;
            }
    return n;
}

/* ---- a step ---- */

typedef enum failure_action { FAILURE_COUNT, FAILURE_IGNORE, FAILURE_FAIL_JOB } failure_action;

/* What wl's podFailurePolicy says of its pod a (on n), which failed:
 * the first rule on exit codes that matches one of its containers that
 * ended non-zero (rules on conditions never match: berth's failures are
 * never disruptions); *msg says which, in Kubernetes' words. */
static failure_action failure_policy(const fleet_workload *wl, const fleet_node *n,
                                     const fleet_assign *a, char *msg, size_t size)
{
    const JobSpec *spec = spec_of(wl);
    fleet_exit exits[BERTH_POD_CONTAINERS_MAX];
    size_t n_exits;

    if (!spec->n_pod_failure_policy)
        return FAILURE_COUNT;
    n_exits = fleet_replica_exits(n, a, wl->w, exits, BERTH_POD_CONTAINERS_MAX);
    for (size_t r = 0; r < spec->n_pod_failure_policy; r++) {
        const PodFailurePolicyRule *rule = spec->pod_failure_policy[r];
        const PodFailurePolicyOnExitCodes *e = rule->on_exit_codes;

        if (!e)
            continue;
        for (size_t i = 0; i < n_exits; i++) {
            bool in = false;

            if (*e->container_name && strcmp(e->container_name, exits[i].container) != 0)
                continue;
            for (size_t v = 0; v < e->n_values; v++)
                in |= e->values[v] == exits[i].code;
            if (in != (strcmp(e->operator_, "In") == 0))
                continue;
            snprintf(msg, size,
                     "Container %s for pod %s/%s failed with exit code %" PRId32
                     " matching %s rule at index %zu",
                     exits[i].container, berth_namespace_or_default(wl->w->namespace_),
                     berth_id_split(a->id, NULL), exits[i].code, rule->action, r);
            return strcmp(rule->action, "FailJob") == 0  ? FAILURE_FAIL_JOB
                   : strcmp(rule->action, "Ignore") == 0 ? FAILURE_IGNORE
                                                         : FAILURE_COUNT;
        }
    }
    return FAILURE_COUNT;
}

/* Take in how each pod of wl is: ended (Succeeded, Failed: counted, or
 * as its podFailurePolicy says), or the restarts of one under
 * restartPolicy OnFailure. A FailJob rule that matched leaves its message
 * in fail_job (else ""). */
static bool observe(fleet *f, fleet_workload *wl, int64_t now_real, char *fail_job,
                    size_t fail_size)
{
    JobState *js = wl->job;
    bool changed = false;

    for (size_t i = 0; i < f->n_nodes; i++) {
        const fleet_node *n = f->nodes[i];

        if (n->rec.phase != NODE_READY)
            continue; /* what it says is not current */
        for (size_t k = 0; k < n->n_assign; k++) {
            const fleet_assign *a = &n->assign[k];
            JobPod *p;
            uint32_t restarts = 0;
            const char *phase;

            if (strcmp(a->workload, wl->key) != 0 || !(p = pod_of(wl, a->replica)) || *p->finished)
                continue;
            phase = fleet_replica_phase(n, a, wl->w, &restarts);
            if (strcmp(phase, SUCCEEDED) == 0) {
                set_str(&p->finished, SUCCEEDED);
                js->succeeded++;
                changed = true;
            } else if (strcmp(phase, FAILED) == 0) {
                int64_t backoff = BACKOFF_BASE_NS;
                char why[320] = "";
                failure_action act = failure_policy(wl, n, a, why, sizeof(why));

                changed = true;
                if (act == FAILURE_IGNORE) {
                    /* not a failure that counts: the pod goes (Kubernetes
                     * deletes it) and another takes its place, no backoff */
                    fleet_event(f, FLEET_KIND_WORKLOAD, wl->key, FLEET_NORMAL, "PodFailurePolicy",
                                "%s: ignored", why);
                    pod_remove(js, p);
                    continue;
                }
                set_str(&p->finished, FAILED);
                js->failed++;
                if (act == FAILURE_FAIL_JOB && !*fail_job)
                    snprintf(fail_job, fail_size, "%s", why);
                for (uint32_t x = 1; x < js->failed && backoff < BACKOFF_MAX_NS; x++)
                    backoff *= 2;
                js->next_start_unix_ns =
                    now_real + (backoff < BACKOFF_MAX_NS ? backoff : BACKOFF_MAX_NS);
                fleet_event(
                    f, FLEET_KIND_WORKLOAD, wl->key, FLEET_WARNING, "BackoffLimit",
                    "pod %s-%" PRIu32 " failed on %s (%" PRIu32 " of %" PRIu32 " failures allowed)",
                    wl->w->name, p->number, n->rec.name, js->failed, spec_of(wl)->backoff_limit);
                changed = true;
            } else if (restarts > p->restarts) {
                /* OnFailure: each restart is a failure, as Kubernetes counts */
                js->failed += restarts - p->restarts;
                p->restarts = restarts;
                changed = true;
            }
        }
    }
    return changed;
}

/* Kubernetes': more failed pods than backoffLimit; with restartPolicy
 * OnFailure, as many restarts (any, for a limit of 0). */
static bool past_backoff_limit(const fleet_workload *wl)
{
    const JobSpec *spec = spec_of(wl);
    uint32_t failed = wl->job->failed;

    if (wl->w->template_ && wl->w->template_->restart_policy == RESTART_ON_FAILURE &&
        spec->backoff_limit > 0)
        return failed >= spec->backoff_limit;
    return failed > spec->backoff_limit;
}

static void finish(fleet *f, fleet_workload *wl, int64_t now_real, const char *how,
                   const char *reason, const char *message)
{
    JobState *js = wl->job;

    set_str(&js->finished, how);
    set_str(&js->reason, reason);
    set_str(&js->message, message);
    js->finished_unix_ns = now_real;
    if (strcmp(how, "Complete") == 0)
        js->completion_unix_ns = now_real;
    pods_drop_active(wl, 0);
    fleet_event(f, FLEET_KIND_WORKLOAD, wl->key,
                strcmp(how, "Complete") == 0 ? FLEET_NORMAL : FLEET_WARNING,
                *reason ? reason : "Completed", "%s", message);
}

/* New pods up to parallelism for what is left; extra ones (parallelism
 * lowered) taken away. Returns whether pods changed. */
static bool scale(fleet_workload *wl, uint32_t succeeded)
{
    const JobSpec *spec = spec_of(wl);
    JobState *js = wl->job;
    size_t active = 0;
    uint32_t left = spec->completions > succeeded ? spec->completions - succeeded : 0;
    uint32_t want = spec->parallelism < left ? spec->parallelism : left;
    bool changed = false;

    for (size_t i = 0; i < js->n_pods; i++)
        active += !*js->pods[i]->finished;
    if (active > want)
        return pods_drop_active(wl, want) > 0;
    for (uint32_t ci = 0; active < want && js->n_pods < JOB_PODS_MAX; ci++) {
        if (spec->indexed) {
            if (ci >= spec->completions)
                break;
            if (index_taken(js, ci))
                continue;
        }
        pod_add(wl, spec->indexed ? ci : 0);
        active++;
        changed = true;
    }
    return changed;
}

bool fleet_job_step(fleet *f, fleet_workload *wl, int64_t now_mono, int64_t now_real, int64_t *due)
{
    const JobSpec *spec = spec_of(wl);
    JobState *js;
    uint32_t succeeded;
    bool changed;
    char msg[160], fail_job[320] = "";

    if (!wl->job) {
        wl->job = berth_xcalloc(1, sizeof(*wl->job));
        job_state_init(wl->job);
        wl->job_dirty = true;
    }
    js = wl->job;
    if (*js->finished) {
        if (spec->has_ttl_seconds_after_finished) {
            int64_t at = js->finished_unix_ns +
                         (int64_t)spec->ttl_seconds_after_finished * NS_PER_S - now_real;

            if (!*due || now_mono + at < *due)
                *due = now_mono + (at > 0 ? at : 0);
        }
        return false;
    }
    if (!js->start_unix_ns) {
        js->start_unix_ns = now_real;
        wl->job_dirty = true;
    }
    changed = observe(f, wl, now_real, fail_job, sizeof(fail_job));
    succeeded = succeeded_of(wl);
    if (*fail_job) {
        finish(f, wl, now_real, "Failed", "PodFailurePolicy", fail_job);
        changed = true;
    } else if (spec->active_deadline_seconds &&
               now_real - js->start_unix_ns >= (int64_t)spec->active_deadline_seconds * NS_PER_S) {
        finish(f, wl, now_real, "Failed", "DeadlineExceeded",
               "Job was active longer than specified deadline");
        changed = true;
    } else if (past_backoff_limit(wl)) {
        finish(f, wl, now_real, "Failed", "BackoffLimitExceeded",
               "Job has reached the specified backoff limit");
        changed = true;
    } else if (succeeded >= spec->completions) {
        snprintf(msg, sizeof(msg), "Job completed: %" PRIu32 " of %" PRIu32 " succeeded", succeeded,
                 spec->completions);
        finish(f, wl, now_real, "Complete", "", msg);
        changed = true;
    } else if (js->next_start_unix_ns > now_real) {
        /* backing off after a failure: pods that run go on, no new one */
        int64_t at = now_mono + (js->next_start_unix_ns - now_real);

        if (!*due || at < *due)
            *due = at;
    } else {
        changed |= scale(wl, succeeded);
    }
    if (!*js->finished && spec->active_deadline_seconds) {
        int64_t at = now_mono + (js->start_unix_ns +
                                 (int64_t)spec->active_deadline_seconds * NS_PER_S - now_real);

        if (!*due || at < *due)
            *due = at;
    }
    if (*js->finished && spec->has_ttl_seconds_after_finished) {
        int64_t at = now_mono + (int64_t)spec->ttl_seconds_after_finished * NS_PER_S;

        if (!*due || at < *due)
            *due = at;
    }
    wl->job_dirty |= changed;
    return changed;
}

void fleet_jobs_ttl(fleet *f)
{
    int64_t now = berth_now_real_ns();
    _cleanup_free_ char **keys = berth_xcalloc(f->n_workloads + 1, sizeof(*keys));
    size_t n = 0;

    for (size_t i = 0; i < f->n_workloads; i++) {
        const fleet_workload *wl = &f->workloads[i];
        const JobSpec *spec;

        if (wl->w->kind != WORKLOAD_JOB || !wl->job || !*wl->job->finished)
            continue;
        spec = spec_of(wl);
        if (spec->has_ttl_seconds_after_finished &&
            now - wl->job->finished_unix_ns >= (int64_t)spec->ttl_seconds_after_finished * NS_PER_S)
            keys[n++] = berth_xstrdup(wl->key);
    }
    if (n) {
        _cleanup_error_ berth_error *err = NULL;
        fleet_changes c = { 0 };

        if (fleet_delete_workloads(f, (const char *const *)keys, n, "ttl-after-finished", false, &c,
                                   &err) < 0) {
            int64_t retry = berth_now_mono_ns() + TTL_RETRY_NS;

            /* (the store): again in a while, not at once */
            berth_log_error(BERTH_LOG_ERROR, err, "delete finished Jobs past their TTL");
            berth_loop_timer_arm(f->cfg.loop, &f->rollout_due, retry);
        }
        fleet_changes_clear(&c);
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

/* ---- the rest ---- */

void fleet_job_status(const fleet_workload *wl, WorkloadStatus *st, JobState *shallow)
{
    const JobState *js = wl->job;
    WorkloadCondition *c;

    st->desired = spec_of(wl)->completions;
    if (!js)
        return;
    st->job = (JobState *)js;
    if (shallow) {
        /* a listing: its counts and times, not its (up to 2000) pods */
        *shallow = *js;
        shallow->pods = NULL;
        shallow->n_pods = 0;
        st->job = shallow;
    }
    st->succeeded = succeeded_of(wl);
    st->failed = js->failed;
    if (!*js->finished)
        return;
    c = berth_xcalloc(1, sizeof(*c));
    workload_condition_init(c);
    c->type = js->finished;
    c->status = true;
    c->reason = js->reason;
    c->message = berth_xstrdup(js->message);
    c->last_update_unix_ns = js->finished_unix_ns;
    st->conditions = berth_xcalloc(1, sizeof(*st->conditions));
    st->conditions[st->n_conditions++] = c;
}

bool fleet_job_change_allowed(const Workload *old, const Workload *next)
{
    Workload x = WORKLOAD_INIT, y = WORKLOAD_INIT;
    JobSpec xs = JOB_SPEC_INIT, ys = JOB_SPEC_INIT;

    /* what is not the template, completions and mode may change */
    x.template_ = old->template_;
    x.pod = old->pod;
    x.n_node_selector = old->n_node_selector;
    x.node_selector = old->node_selector;
    x.node_name = old->node_name;
    x.n_node_affinity = old->n_node_affinity;
    x.node_affinity = old->node_affinity;
    x.n_tolerations = old->n_tolerations;
    x.tolerations = old->tolerations;
    y.template_ = next->template_;
    y.pod = next->pod;
    y.n_node_selector = next->n_node_selector;
    y.node_selector = next->node_selector;
    y.node_name = next->node_name;
    y.n_node_affinity = next->n_node_affinity;
    y.node_affinity = next->node_affinity;
    y.n_tolerations = next->n_tolerations;
    y.tolerations = next->tolerations;
    /* podFailurePolicy too, as Kubernetes' */
    if (old->job) {
        xs.completions = old->job->completions;
        xs.indexed = old->job->indexed;
        xs.n_pod_failure_policy = old->job->n_pod_failure_policy;
        xs.pod_failure_policy = old->job->pod_failure_policy;
    }
    if (next->job) {
        ys.completions = next->job->completions;
        ys.indexed = next->job->indexed;
        ys.n_pod_failure_policy = next->job->n_pod_failure_policy;
        ys.pod_failure_policy = next->job->pod_failure_policy;
    }
    x.job = &xs;
    y.job = &ys;
    return berth_pb_equal(&x.base, &y.base);
}

void fleet_job_env(const fleet_workload *wl, uint32_t number, ContainerSpec **specs, size_t n)
{
    const JobPod *p = fleet_job_pod(wl, number);
    char env[64], uid[32];

    /* Kubernetes' label of the Job's pods: this Job's, not one of the same
     * name before it (a pod "<job>-0" of a Job deleted and applied again
     * is another pod, and its node must see so) */
    snprintf(uid, sizeof(uid), "%" PRId64, wl->w->created_unix_ns);
    snprintf(env, sizeof(env), "JOB_COMPLETION_INDEX=%" PRIu32, p ? p->completion_index : 0);
    for (size_t i = 0; i < n; i++) {
        ContainerSpec *s = specs[i];

        berth_pb_map_set(&s->base, "labels", "batch.kubernetes.io/controller-uid", uid);
        if (!spec_of(wl)->indexed || !p)
            continue;
        s->env = berth_xreallocarray(s->env, s->n_env + 1, sizeof(*s->env));
        s->env[s->n_env++] = berth_xstrdup(env);
    }
}
