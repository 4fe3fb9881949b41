/* CronJobs (batch/v1), as Kubernetes' CronJob controller runs them
 * (fleet-internal.h): at each time its schedule names (in its time zone),
 * a Job of its template, named "<cronjob>-<minutes since the epoch>" so
 * that a time is never run twice, even across a restart of the controller
 * between making the Job and noting the time; what the concurrency policy
 * says when one still runs; none when the time is older than
 * startingDeadlineSeconds; finished Jobs beyond the history limits
 * deleted. The step (in the rollouts' step) only notes which time is due;
 * the Jobs are made from the timer (fleet_crons_run), outside any step,
 * since making one places again. */
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
#include "spec/cron.h"

#define NS_PER_S 1000000000LL
/* Times looked at per step after a long absence (the latest is run). */
#define MISSED_MAX 1000
/* Kubernetes warns past this many missed times. */
#define MISSED_WARN 100

static JobState *state_of(fleet_workload *wl)
{
    if (!wl->job) {
        wl->job = berth_xcalloc(1, sizeof(*wl->job));
        job_state_init(wl->job);
    }
    return wl->job;
}

bool fleet_cron_step(fleet *f, fleet_workload *wl, int64_t now_mono, int64_t now_real, int64_t *due)
{
    const CronJobSpec *spec = wl->w->cron;
    int64_t now = now_real / NS_PER_S, last, t, latest = 0;
    size_t missed = 0;
    berth_cron c;

    (void)f;
    wl->cron_pending = 0;
    if (!spec || spec->suspend || berth_cron_parse(spec->schedule, &c, NULL) < 0)
        return false;
    last = state_of(wl)->last_schedule_unix;
    if (!last)
        last = wl->w->created_unix_ns / NS_PER_S;
    for (t = berth_cron_next(&c, spec->time_zone, last); t && t <= now && missed < MISSED_MAX;
         t = berth_cron_next(&c, spec->time_zone, t)) {
        latest = t;
        missed++;
    }
    if (missed == MISSED_MAX) {
        /* a long absence: the latest time itself, found back from now */
        latest = 0;
        for (int64_t back = 60; !latest && back < 6 * 366 * 86400LL; back *= 2) {
            int64_t x = berth_cron_next(&c, spec->time_zone, now - back);

            if (x && x <= now)
                for (latest = x; (x = berth_cron_next(&c, spec->time_zone, latest)) && x <= now;)
                    latest = x;
        }
        t = berth_cron_next(&c, spec->time_zone, now);
    }
    if (latest) {
        wl->cron_pending = latest;
        wl->cron_missed = missed;
        *due = now_mono; /* made from the timer, at once */
    } else if (t && (!*due || now_mono + (t - now) * NS_PER_S < *due)) {
        *due = now_mono + (t - now) * NS_PER_S;
    }
    return false;
}

/* Whether wl is one of cron's Jobs (it made it: the source says so). */
static bool child_of(const fleet_workload *cron, const fleet_workload *wl)
{
    char source[BERTH_WORKLOAD_KEY_BUF + 16];

    if (wl->w->kind != WORKLOAD_JOB)
        return false;
    snprintf(source, sizeof(source), "cronjob/%s", cron->key);
    return strcmp(wl->w->source, source) == 0;
}

static bool finished(const fleet_workload *wl, const char *how)
{
    return wl->job && *wl->job->finished && (!how || strcmp(wl->job->finished, how) == 0);
}

uint32_t fleet_cron_active(fleet *f, const fleet_workload *cron)
{
    uint32_t n = 0;

    for (size_t i = 0; i < f->n_workloads; i++)
        n += child_of(cron, &f->workloads[i]) && !finished(&f->workloads[i], NULL);
    return n;
}

size_t fleet_cron_children(fleet *f, const fleet_workload *cron, char ***ret_keys)
{
    char **keys = berth_xcalloc(f->n_workloads + 1, sizeof(*keys));
    size_t n = 0;

    for (size_t i = 0; i < f->n_workloads; i++)
        if (child_of(cron, &f->workloads[i]))
            keys[n++] = berth_xstrdup(f->workloads[i].key);
    *ret_keys = keys;
    return n;
}

static void keys_free(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void delete_keys(fleet *f, char **keys, size_t n, const char *why)
{
    _cleanup_error_ berth_error *err = NULL;
    fleet_changes c = { 0 };

    if (n && fleet_delete_workloads(f, (const char *const *)keys, n, why, false, &c, &err) < 0)
        berth_log_error(BERTH_LOG_WARN, err, "delete Jobs (%s)", why);
    fleet_changes_clear(&c);
}

/* Oldest first, by creation. */
static int by_created(const void *a, const void *b, void *data)
{
    fleet *f = data;
    const fleet_workload *x = fleet_workload_find(f, *(char *const *)a);
    const fleet_workload *y = fleet_workload_find(f, *(char *const *)b);
    int64_t tx = x ? x->w->created_unix_ns : 0, ty = y ? y->w->created_unix_ns : 0;

    return tx < ty ? -1 : tx > ty;
}

/* Delete cron's finished Jobs (Complete, or Failed) beyond limit, the
 * oldest first. */
static void trim(fleet *f, const char *cron_key, const char *how, uint32_t limit)
{
    fleet_workload *cron = fleet_workload_find(f, cron_key);
    char **keys = NULL, **drop;
    size_t n, n_done = 0;

    if (!cron)
        return;
    n = fleet_cron_children(f, cron, &keys);
    drop = berth_xcalloc(n + 1, sizeof(*drop));
    for (size_t i = 0; i < n; i++) {
        const fleet_workload *wl = fleet_workload_find(f, keys[i]);

        if (wl && finished(wl, how))
            drop[n_done++] = keys[i];
    }
    if (n_done > limit) {
        qsort_r(drop, n_done, sizeof(*drop), by_created, f);
        delete_keys(f, drop, n_done - limit, "the CronJob's history limit");
    }
    free(drop);
    keys_free(keys, n);
}

/* Whether cron's Job for time t exists already. */
static bool job_made(fleet *f, const fleet_workload *cron, int64_t t)
{
    char name[BERTH_WORKLOAD_NAME_MAX + 16], key[BERTH_WORKLOAD_KEY_BUF];
    const fleet_workload *wl;

    snprintf(name, sizeof(name), "%s-%" PRId64, cron->w->name, t / 60);
    berth_workload_key(cron->w->namespace_, name, key);
    wl = fleet_workload_find(f, key);
    return wl && child_of(cron, wl);
}

/* Make a Job of cron's template named name (one of cron's Jobs: its
 * source says so). Applying one that exists (made before a restart)
 * changes nothing. */
static int make_job(fleet *f, const fleet_workload *cron, const char *name, bool dry_run,
                    fleet_changes *ret_changes, berth_error **err)
{
    Workload *job = BERTH_PB_COPY(Workload, cron->w);
    char source[BERTH_WORKLOAD_KEY_BUF + 16];
    fleet_changes c = { 0 };
    int r;

    snprintf(source, sizeof(source), "cronjob/%s", cron->key);
    job->kind = WORKLOAD_JOB;
    free(job->name);
    job->name = berth_xstrdup(name);
    if (job->source != protobuf_c_empty_string)
        free(job->source);
    job->source = berth_xstrdup(source);
    if (job->cron)
        cron_job_spec_free_unpacked(job->cron, NULL);
    job->cron = NULL;
    job->status = NULL;
    job->generation = 0;
    r = fleet_apply(f, &job, 1, source, dry_run, &c, err);
    if (r == 0 && ret_changes)
        *ret_changes = c;
    else
        fleet_changes_clear(&c);
    if (job) /* not taken: unchanged (made already), refused, or a dry run */
        workload_free_unpacked(job, NULL);
    return r;
}

/* The Job of cron for time t (Unix seconds): named after the minute. */
static int make_timed_job(fleet *f, const fleet_workload *cron, int64_t t, berth_error **err)
{
    char name[BERTH_WORKLOAD_NAME_MAX + 16];

    snprintf(name, sizeof(name), "%s-%" PRId64, cron->w->name, t / 60);
    return make_job(f, cron, name, false, NULL, err);
}

int fleet_cron_create_job(fleet *f, const CreateJobRequest *in, const char *by,
                          fleet_changes *ret_changes, berth_error **err)
{
    char key[BERTH_WORKLOAD_KEY_BUF];
    const fleet_workload *cron;
    int r;

    if (!berth_workload_name_valid(in->name))
        return berth_error_set(err, EINVAL,
                               "'%.70s' is not a valid Job name (1-%d of a-z 0-9 -, starting "
                               "and ending with a letter or digit)",
                               in->name, BERTH_WORKLOAD_NAME_MAX);
    if (!berth_workload_name_valid(in->from_cronjob))
        return berth_error_set(err, EINVAL, "'%.70s' is not a CronJob's name", in->from_cronjob);
    if (!berth_namespace_is_default(in->namespace_) && !berth_namespace_name_valid(in->namespace_))
        return berth_error_set(err, EINVAL, "'%.70s' is not a namespace's name", in->namespace_);
    berth_workload_key(in->namespace_, in->from_cronjob, key);
    cron = fleet_workload_find(f, key);
    if (!cron || cron->w->kind != WORKLOAD_CRONJOB)
        return berth_error_set(err, ENOENT, "cronjobs.batch \"%.60s\" not found", in->from_cronjob);
    berth_workload_key(in->namespace_, in->name, key);
    if (fleet_workload_find(f, key))
        return berth_error_set(err, EEXIST, "jobs.batch \"%s\" already exists", in->name);
    snprintf(key, sizeof(key), "%s", cron->key);
    if ((r = make_job(f, cron, in->name, in->dry_run, ret_changes, err)) == 0 && !in->dry_run)
        fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "SuccessfulCreate",
                    "Created job %s by hand (operator %s)", in->name, by);
    return r;
}

void fleet_crons_run(fleet *f)
{
    /* (making and deleting Jobs changes f->workloads: by key, one at a
     * time) */
    for (size_t i = 0; i < f->n_workloads; i++) {
        fleet_workload *wl = &f->workloads[i];
        char key[BERTH_WORKLOAD_KEY_BUF];
        const CronJobSpec *spec = wl->w->cron;
        int64_t t = wl->cron_pending, now = berth_now_real_ns() / NS_PER_S;
        _cleanup_error_ berth_error *err = NULL;
        uint32_t active;

        if (wl->w->kind != WORKLOAD_CRONJOB || !t || !spec)
            continue;
        snprintf(key, sizeof(key), "%s", wl->key);
        wl->cron_pending = 0;
        active = fleet_cron_active(f, wl);
        if (wl->cron_missed > MISSED_WARN)
            fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_WARNING, "TooManyMissedTimes",
                        "%zu start times missed: running the latest only", wl->cron_missed);
        if (job_made(f, wl, t)) {
            /* made before a restart that came before the time was noted:
             * neither made again nor replaced */
        } else if (spec->has_starting_deadline_seconds &&
                   now - t > spec->starting_deadline_seconds) {
            fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_WARNING, "MissedSchedule",
                        "the run of %" PRId64 " is past startingDeadlineSeconds (%" PRIu32 ")", t,
                        spec->starting_deadline_seconds);
        } else if (active && strcmp(spec->concurrency_policy, "Forbid") == 0) {
            fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "JobAlreadyActive",
                        "not starting a Job: %" PRIu32
                        " still running, and concurrencyPolicy is Forbid",
                        active);
        } else {
            if (active && strcmp(spec->concurrency_policy, "Replace") == 0) {
                char **keys = NULL, **running;
                size_t n = fleet_cron_children(f, wl, &keys), k = 0;

                running = berth_xcalloc(n + 1, sizeof(*running));
                for (size_t j = 0; j < n; j++) {
                    const fleet_workload *c = fleet_workload_find(f, keys[j]);

                    if (c && !finished(c, NULL))
                        running[k++] = keys[j];
                }
                delete_keys(f, running, k, "concurrencyPolicy Replace");
                free(running);
                keys_free(keys, n);
            }
            /* (making a Job moves the fleet's array of workloads: wl is
             * found again by key after it) */
            if ((wl = fleet_workload_find(f, key)) && make_timed_job(f, wl, t, &err) < 0)
                fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_WARNING, "FailedCreate",
                            "the Job of %" PRId64 ": %s", t, err->msg);
            else if ((wl = fleet_workload_find(f, key)))
                fleet_event(f, FLEET_KIND_WORKLOAD, key, FLEET_NORMAL, "SuccessfulCreate",
                            "Created job %s-%" PRId64, wl->w->name, t / 60);
        }
        if (!(wl = fleet_workload_find(f, key)))
            continue;
        /* the time is taken: noted durably (a restart before this makes
         * the same Job, which exists: nothing) */
        state_of(wl)->last_schedule_unix = t;
        {
            _cleanup_error_ berth_error *e = NULL;

            if (berth_store_job_put(f->cfg.store, key, wl->job, &e) < 0)
                berth_log_error(BERTH_LOG_WARN, e, "CronJob %s: note its last schedule", key);
        }
        trim(f, key, "Complete", spec->successful_jobs_history_limit);
        trim(f, key, "Failed", spec->failed_jobs_history_limit);
        /* (the array moved: find our place again) */
        wl = fleet_workload_find(f, key);
        i = wl ? (size_t)(wl - f->workloads) : i;
    }
}
