/* Prometheus' text exposition format, version 0.0.4: a writer that makes
 * the text of one scrape in a growable buffer, and the figures a daemon
 * keeps between scrapes (histograms; counters and histograms by label
 * values). Nothing here does I/O or knows HTTP (http.h serves the text).
 *
 * A scrape writes its families one after another: berth_prom_family
 * writes a family's # HELP and # TYPE lines, then come its samples, which
 * take the family's name. Each family is written once, its samples
 * together. Metric and label names are the caller's constants and must be
 * valid (a bad one is a bug: asserted); label values may hold anything:
 * they are escaped as the format wants (\\, \", \n), and bytes that are
 * not UTF-8 become U+FFFD.
 *
 * Single-threaded, never blocks; out of memory aborts (xalloc.h). */
#ifndef BERTH_METRICS_PROM_H
#define BERTH_METRICS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The Content-Type of the text. */
#define BERTH_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The longest metric name the writer takes (suffixes included). */
#define BERTH_PROM_NAME_MAX 200

typedef enum berth_prom_type {
    BERTH_PROM_COUNTER,
    BERTH_PROM_GAUGE,
    BERTH_PROM_HISTOGRAM,
    BERTH_PROM_UNTYPED,
} berth_prom_type;

typedef struct berth_prom_label {
    const char *name;
    const char *value; /* NULL is written as "" (Prometheus: no such label) */
} berth_prom_label;

/* The writer: the text of one scrape so far. */
typedef struct berth_prom {
    char *buf; /* NUL-terminated */
    size_t len, cap;
    char family[BERTH_PROM_NAME_MAX + 1]; /* the family being written */
    berth_prom_type type;
} berth_prom;

/* An empty writer (allocates nothing yet). */
void berth_prom_init(berth_prom *w);
/* Free the text; the writer is empty again. */
void berth_prom_free(berth_prom *w);
/* Take the text (NUL-terminated, free() it; its length in *ret_len); the
 * writer is empty again. Never NULL. */
char *berth_prom_steal(berth_prom *w, size_t *ret_len);

/* Whether name is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), and a label
 * name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"). */
bool berth_prom_metric_name_valid(const char *name);
bool berth_prom_label_name_valid(const char *name);

/* Start family name of type with its help text (escaped). */
void berth_prom_family(berth_prom *w, const char *name, berth_prom_type type, const char *help);
/* A sample of the current family (not a histogram). Values: integers as
 * they are, others in the shortest text that reads back the same, NaN,
 * +Inf, -Inf. */
void berth_prom_sample(berth_prom *w, const berth_prom_label *labels, size_t n_labels,
                       double value);
/* The same for a count: exact up to 2^64-1. */
void berth_prom_sample_u64(berth_prom *w, const berth_prom_label *labels, size_t n_labels,
                           uint64_t value);
/* A family of one sample without labels. */
void berth_prom_single(berth_prom *w, const char *name, berth_prom_type type, const char *help,
                       double value);
/* What every berth daemon says of itself: berth_build_info{version} 1 and
 * process_start_time_seconds (start: Unix ns). who names it in the help
 * texts ("berthd"). */
void berth_prom_process(berth_prom *w, const char *who, int64_t start_unix_ns);

/* ---- histograms ---- */

/* The most buckets a histogram has (besides +Inf). */
#define BERTH_PROM_BUCKETS_MAX 24

/* Observations counted in buckets. bounds: upper bounds, ascending and
 * finite, borrowed (a static array); the +Inf bucket is implicit. */
typedef struct berth_prom_histogram {
    const double *bounds;
    size_t n_bounds;
    uint64_t counts[BERTH_PROM_BUCKETS_MAX + 1]; /* per bucket (not cumulative), +Inf last */
    uint64_t count;
    double sum;
} berth_prom_histogram;

/* Durations in seconds, from 1 ms to 60 s: rpc calls, commits, placement,
 * reconciliation. */
extern const double berth_prom_seconds_buckets[];
extern const size_t berth_prom_seconds_buckets_n;
/* Longer ones, from 100 ms to 30 min: container starts, image pulls. */
extern const double berth_prom_long_seconds_buckets[];
extern const size_t berth_prom_long_seconds_buckets_n;

void berth_prom_histogram_init(berth_prom_histogram *h, const double *bounds, size_t n_bounds);
/* Count v in the first bucket whose bound is >= v (NaN: not counted). */
void berth_prom_histogram_observe(berth_prom_histogram *h, double v);
/* A duration in nanoseconds, counted in seconds (negative: 0). */
void berth_prom_histogram_observe_ns(berth_prom_histogram *h, int64_t ns);
/* Write h as a sample of the current family (a histogram): a cumulative
 * name_bucket line per bound with label le, le="+Inf" (= the count),
 * name_sum and name_count, each with labels. */
void berth_prom_histogram_write(berth_prom *w, const berth_prom_label *labels, size_t n_labels,
                                const berth_prom_histogram *h);
/* A family of one histogram without labels. */
void berth_prom_histogram_family(berth_prom *w, const char *name, const char *help,
                                 const berth_prom_histogram *h);

/* ---- figures by label values ---- */

/* Counters (or histograms) keyed by the values of a few labels: the rpc
 * calls by method and code, the pulls by result. The label values seen are
 * kept (copied); past max_series combinations, new ones are all counted in
 * one series whose every value is "other", so what a vector holds stays
 * bounded whatever its callers are given. */
#define BERTH_PROM_VEC_LABELS_MAX 4

typedef struct berth_prom_vec berth_prom_vec;

/* type: BERTH_PROM_COUNTER or BERTH_PROM_HISTOGRAM (bounds, n_bounds as
 * for a histogram; ignored for a counter). label_names are borrowed
 * (constants), at most BERTH_PROM_VEC_LABELS_MAX. */
berth_prom_vec *berth_prom_vec_new(berth_prom_type type, const char *const *label_names,
                                   size_t n_labels, const double *bounds, size_t n_bounds,
                                   size_t max_series);
/* NULL is fine. */
void berth_prom_vec_free(berth_prom_vec *v);
/* A counter's series of these values (one per label) grows by delta. */
void berth_prom_vec_add(berth_prom_vec *v, const char *const *values, double delta);
/* A histogram's series of these values counts x (seconds, for _ns). */
void berth_prom_vec_observe(berth_prom_vec *v, const char *const *values, double x);
void berth_prom_vec_observe_ns(berth_prom_vec *v, const char *const *values, int64_t ns);
/* How many series it has. */
size_t berth_prom_vec_size(const berth_prom_vec *v);
/* The whole family: HELP, TYPE and every series, in the order first seen. */
void berth_prom_vec_write(berth_prom *w, const berth_prom_vec *v, const char *name,
                          const char *help);

#endif
