/* Image pulls for the container table. A pull blocks (network, disk), so
 * each runs in a berth-pull process of its own, read from the loop: its
 * progress lines, its last line, then the image as a container uses it
 * (berth.v1.ImageConfig, from the file it wrote). One pull per reference
 * and policy at a time, whoever asks: containers that need the same image
 * wait for the same pull. At most max_parallel pullers run; more wait
 * their turn. A puller dies with berthd (PR_SET_PDEATHSIG): what it left
 * is resumed by the next pull, and nothing half-pulled is ever visible.
 *
 * Garbage collection runs the same way (berth-pull --gc) every
 * gc_interval and after a pull that fetched something, keeping the images
 * in_use names.
 *
 * Arrows: the container table asks; main opens it. Below: the loop, the
 * berth-pull program (lib/image), lib/pb. */
#ifndef BERTHD_PULLS_H
#define BERTHD_PULLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "image/ref.h"
#include "metrics/prom.h"

typedef struct pulls pulls;
typedef struct pull pull;
typedef struct pull_waiter pull_waiter;

typedef struct pull_progress {
    const char *phase; /* "resolving", "downloading", "unpacking" */
    int64_t done, total;
    size_t layer, n_layers;
} pull_progress;

typedef struct pull_result {
    const ImageConfig *image; /* NULL: it failed; valid during the call */
    const char *error;        /* why, when it failed */
    bool pulled;              /* the registry was asked (not only the store) */
    int64_t duration_ns;      /* from the request (waiting for a slot included) */
} pull_result;

typedef void (*pull_progress_fn)(pull_waiter *w, const pull_progress *p);
typedef void (*pull_done_fn)(pull_waiter *w, const pull_result *r);

/* Embedded in whoever waits; owned by the module between pulls_request and
 * done (or pulls_cancel). */
struct pull_waiter {
    pull *p;
    pull_waiter *next;
    pull_progress_fn progress;
    pull_done_fn done;
};

/* The images the node's containers use, for the collector: a new array of
 * new strings in *ret (freed by the module). */
typedef void (*pulls_in_use_fn)(char ***ret, size_t *ret_n, void *data);

/* Strings borrowed: they must outlive the module. */
typedef struct pulls_config {
    berth_loop *loop;
    const char *puller;                  /* the berth-pull binary */
    const char *image_store;             /* --store */
    const char *registries;              /* --registries, NULL: the default (optional) */
    const char *work_dir;                /* where pullers write their ImageConfig (created) */
    int max_parallel;                    /* pullers at once */
    int64_t gc_interval_ns;              /* 0: no periodic collection */
    int gc_high_percent, gc_low_percent; /* berth-pull --gc --high --low */
    int64_t gc_min_age_ns;               /* --min-age */
    pulls_in_use_fn in_use;
    void *in_use_data;
} pulls_config;

int pulls_open(const pulls_config *cfg, pulls **ret, berth_error **err);
/* Kill the running pullers (and reap them) and fail nothing: the waiters
 * go with the table. NULL is fine. */
void pulls_close(pulls *ps);

/* Have w told (progress, then done, from the loop, never from within this
 * call) when ref is on the node under policy. w must not be waiting.
 * auth_file (NULL: none): credentials of the pod's imagePullSecrets
 * (berth-pull --auth-file), on the Secrets' tmpfs; the module owns it from
 * here and removes it once the pull that uses it ends (or at once, when
 * it joins a pull under way: only one with the same ref, policy and
 * credentials). */
void pulls_request(pulls *ps, const char *ref, berth_pull_policy policy, const char *auth_file,
                   pull_waiter *w);
/* w no longer waits (its container went away); the pull goes on for the
 * others, or to its end (its layers are kept). No-op when w is not
 * waiting. */
void pulls_cancel(pull_waiter *w);

/* Pullers running, and waiting for a slot. */
size_t pulls_running(const pulls *ps);

/* What the module measured, for /metrics: pulls that ended, by how. */
typedef struct pulls_stats {
    uint64_t pulled;  /* the registry was asked, and the image is here */
    uint64_t present; /* found in the store, the registry not asked */
    uint64_t failed;
    /* How long each took, its wait for a slot included. */
    berth_prom_histogram seconds;
} pulls_stats;

const pulls_stats *pulls_stats_of(const pulls *ps);

#endif
