/* The text exposition format (see prom.h). */
#include "prom.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/utf8.h"
#include "base/version.h"
#include "base/xalloc.h"

const double berth_prom_seconds_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60 };
const size_t berth_prom_seconds_buckets_n = BERTH_ARRAY_SIZE(berth_prom_seconds_buckets);
const double berth_prom_long_seconds_buckets[] = { 0.1, 0.25, 0.5, 1,   2.5, 5,   10,
                                                   30,  60,   120, 300, 600, 1800 };
const size_t berth_prom_long_seconds_buckets_n = BERTH_ARRAY_SIZE(berth_prom_long_seconds_buckets);

/* ---- the buffer ---- */

void berth_prom_init(berth_prom *w)
{
    memset(w, 0, sizeof(*w));
}

void berth_prom_free(berth_prom *w)
{
    free(w->buf);
    berth_prom_init(w);
}

char *berth_prom_steal(berth_prom *w, size_t *ret_len)
{
    char *text = w->buf ? w->buf : berth_xstrdup("");

    *ret_len = w->len;
    berth_prom_init(w);
    return text;
}

static void reserve(berth_prom *w, size_t more)
{
    size_t cap = w->cap ? w->cap : 4096;

    if (w->len + more + 1 <= w->cap)
        return;
    while (cap < w->len + more + 1)
        cap *= 2;
    w->buf = berth_xreallocarray(w->buf, cap, 1);
    w->cap = cap;
}

static void put_mem(berth_prom *w, const char *s, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void put(berth_prom *w, const char *s)
{
    put_mem(w, s, strlen(s));
}

static void put_char(berth_prom *w, char c)
{
    put_mem(w, &c, 1);
}

/* s escaped: backslash and newline always, the double quote in label
 * values; what is not UTF-8 as U+FFFD. */
static void put_escaped(berth_prom *w, const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p) {
        size_t len = berth_utf8_seq_len(p);

        if (len == 0) {
            put(w, "\xef\xbf\xbd");
            p++;
            continue;
        }
        if (*p == '\\')
            put(w, "\\\\");
        else if (*p == '\n')
            put(w, "\\n");
        else if (*p == '"' && quote)
            put(w, "\\\"");
        else
            put_mem(w, (const char *)p, len);
        p += len;
    }
}

/* The shortest text that reads back as v, in a form Prometheus parses. */
static void format_double(double v, char buf[32])
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, 32, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* ---- names ---- */

static bool name_valid(const char *name, bool colon)
{
    if (!name || !*name || strlen(name) > BERTH_PROM_NAME_MAX - 8)
        return false;
    for (const char *p = name; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                     (colon && *p == ':');

        if (!alpha && !(p > name && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

bool berth_prom_metric_name_valid(const char *name)
{
    return name_valid(name, true);
}

bool berth_prom_label_name_valid(const char *name)
{
    return name_valid(name, false) && strncmp(name, "__", 2) != 0;
}

/* ---- families and samples ---- */

static const char *type_name(berth_prom_type t)
{
    switch (t) {
    case BERTH_PROM_COUNTER:
        return "counter";
    case BERTH_PROM_GAUGE:
        return "gauge";
    case BERTH_PROM_HISTOGRAM:
        return "histogram";
    default:
        return "untyped";
    }
}

void berth_prom_family(berth_prom *w, const char *name, berth_prom_type type, const char *help)
{
    assert(berth_prom_metric_name_valid(name));
    snprintf(w->family, sizeof(w->family), "%s", name);
    w->type = type;
    put(w, "# HELP ");
    put(w, name);
    put_char(w, ' ');
    put_escaped(w, help, false);
    put(w, "\n# TYPE ");
    put(w, name);
    put_char(w, ' ');
    put(w, type_name(type));
    put_char(w, '\n');
}

/* family+suffix{labels[,extra="value"]} value\n, the value already text. */
static void put_sample(berth_prom *w, const char *suffix, const berth_prom_label *labels, size_t n,
                       const char *extra, const char *extra_value, const char *value)
{
    bool any = n > 0 || extra;

    put(w, w->family);
    put(w, suffix);
    if (any)
        put_char(w, '{');
    for (size_t i = 0; i < n; i++) {
        assert(berth_prom_label_name_valid(labels[i].name));
        if (i > 0)
            put_char(w, ',');
        put(w, labels[i].name);
        put(w, "=\"");
        put_escaped(w, labels[i].value, true);
        put_char(w, '"');
    }
    if (extra) {
        if (n > 0)
            put_char(w, ',');
        put(w, extra);
        put(w, "=\"");
        put(w, extra_value);
        put_char(w, '"');
    }
    if (any)
        put_char(w, '}');
    put_char(w, ' ');
    put(w, value);
    put_char(w, '\n');
}

void berth_prom_sample(berth_prom *w, const berth_prom_label *labels, size_t n_labels, double value)
{
    char v[32];

    assert(w->type != BERTH_PROM_HISTOGRAM);
    format_double(value, v);
    put_sample(w, "", labels, n_labels, NULL, NULL, v);
}

void berth_prom_sample_u64(berth_prom *w, const berth_prom_label *labels, size_t n_labels,
                           uint64_t value)
{
    char v[32];

    assert(w->type != BERTH_PROM_HISTOGRAM);
    snprintf(v, sizeof(v), "%" PRIu64, value);
    put_sample(w, "", labels, n_labels, NULL, NULL, v);
}

void berth_prom_single(berth_prom *w, const char *name, berth_prom_type type, const char *help,
                       double value)
{
    berth_prom_family(w, name, type, help);
    berth_prom_sample(w, NULL, 0, value);
}

void berth_prom_process(berth_prom *w, const char *who, int64_t start_unix_ns)
{
    char help[128];
    berth_prom_label version = { "version", berth_version() };

    snprintf(help, sizeof(help), "The version of %s, as the label version; the value is 1.", who);
    berth_prom_family(w, "berth_build_info", BERTH_PROM_GAUGE, help);
    berth_prom_sample(w, &version, 1, 1);
    snprintf(help, sizeof(help), "Start time of %s since the Unix epoch, in seconds.", who);
    berth_prom_single(w, "process_start_time_seconds", BERTH_PROM_GAUGE, help,
                      (double)(start_unix_ns / BERTH_NSEC_PER_SEC));
}

/* ---- histograms ---- */

void berth_prom_histogram_init(berth_prom_histogram *h, const double *bounds, size_t n_bounds)
{
    assert(n_bounds <= BERTH_PROM_BUCKETS_MAX);
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n_bounds = n_bounds;
}

void berth_prom_histogram_observe(berth_prom_histogram *h, double v)
{
    size_t i = 0;

    if (isnan(v))
        return;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

void berth_prom_histogram_observe_ns(berth_prom_histogram *h, int64_t ns)
{
    berth_prom_histogram_observe(h, ns > 0 ? (double)ns / (double)BERTH_NSEC_PER_SEC : 0);
}

void berth_prom_histogram_write(berth_prom *w, const berth_prom_label *labels, size_t n_labels,
                                const berth_prom_histogram *h)
{
    char le[32], v[32];
    uint64_t cumulative = 0;

    assert(w->type == BERTH_PROM_HISTOGRAM);
    for (size_t i = 0; i < h->n_bounds; i++) {
        cumulative += h->counts[i];
        format_double(h->bounds[i], le);
        snprintf(v, sizeof(v), "%" PRIu64, cumulative);
        put_sample(w, "_bucket", labels, n_labels, "le", le, v);
    }
    snprintf(v, sizeof(v), "%" PRIu64, h->count);
    put_sample(w, "_bucket", labels, n_labels, "le", "+Inf", v);
    format_double(h->sum, le);
    put_sample(w, "_sum", labels, n_labels, NULL, NULL, le);
    put_sample(w, "_count", labels, n_labels, NULL, NULL, v);
}

void berth_prom_histogram_family(berth_prom *w, const char *name, const char *help,
                                 const berth_prom_histogram *h)
{
    berth_prom_family(w, name, BERTH_PROM_HISTOGRAM, help);
    berth_prom_histogram_write(w, NULL, 0, h);
}

/* ---- vectors ---- */

typedef struct vec_series {
    char *values[BERTH_PROM_VEC_LABELS_MAX];
    double value; /* a counter's */
    berth_prom_histogram h;
} vec_series;

struct berth_prom_vec {
    berth_prom_type type;
    const char *names[BERTH_PROM_VEC_LABELS_MAX];
    size_t n_labels;
    const double *bounds;
    size_t n_bounds;
    vec_series *series;
    size_t n_series, max_series;
    vec_series *other; /* past max_series */
};

berth_prom_vec *berth_prom_vec_new(berth_prom_type type, const char *const *label_names,
                                   size_t n_labels, const double *bounds, size_t n_bounds,
                                   size_t max_series)
{
    berth_prom_vec *v = berth_xcalloc(1, sizeof(*v));

    assert(type == BERTH_PROM_COUNTER || type == BERTH_PROM_HISTOGRAM);
    assert(n_labels <= BERTH_PROM_VEC_LABELS_MAX && max_series > 0);
    v->type = type;
    for (size_t i = 0; i < n_labels; i++) {
        assert(berth_prom_label_name_valid(label_names[i]));
        v->names[i] = label_names[i];
    }
    v->n_labels = n_labels;
    v->bounds = bounds;
    v->n_bounds = n_bounds;
    v->max_series = max_series;
    /* every series, "other" included, in one array that never moves */
    v->series = berth_xcalloc(max_series + 1, sizeof(*v->series));
    return v;
}

void berth_prom_vec_free(berth_prom_vec *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_series; i++)
        for (size_t l = 0; l < v->n_labels; l++)
            free(v->series[i].values[l]);
    free(v->series);
    free(v);
}

static vec_series *vec_find(berth_prom_vec *v, const char *const *values)
{
    vec_series *s;

    for (size_t i = 0; i < v->n_series; i++) {
        size_t l = 0;

        s = &v->series[i];
        while (l < v->n_labels && strcmp(s->values[l], values[l] ? values[l] : "") == 0)
            l++;
        if (l == v->n_labels)
            return s;
    }
    if (v->other || v->n_series == v->max_series) {
        if (!v->other) {
            v->other = &v->series[v->n_series++];
            for (size_t l = 0; l < v->n_labels; l++)
                v->other->values[l] = berth_xstrdup("other");
            berth_prom_histogram_init(&v->other->h, v->bounds, v->n_bounds);
        }
        return v->other;
    }
    s = &v->series[v->n_series++];
    for (size_t l = 0; l < v->n_labels; l++)
        s->values[l] = berth_xstrdup(values[l] ? values[l] : "");
    berth_prom_histogram_init(&s->h, v->bounds, v->n_bounds);
    return s;
}

void berth_prom_vec_add(berth_prom_vec *v, const char *const *values, double delta)
{
    assert(v->type == BERTH_PROM_COUNTER);
    vec_find(v, values)->value += delta;
}

void berth_prom_vec_observe(berth_prom_vec *v, const char *const *values, double x)
{
    assert(v->type == BERTH_PROM_HISTOGRAM);
    berth_prom_histogram_observe(&vec_find(v, values)->h, x);
}

void berth_prom_vec_observe_ns(berth_prom_vec *v, const char *const *values, int64_t ns)
{
    assert(v->type == BERTH_PROM_HISTOGRAM);
    berth_prom_histogram_observe_ns(&vec_find(v, values)->h, ns);
}

size_t berth_prom_vec_size(const berth_prom_vec *v)
{
    return v->n_series;
}

void berth_prom_vec_write(berth_prom *w, const berth_prom_vec *v, const char *name,
                          const char *help)
{
    berth_prom_family(w, name, v->type, help);
    for (size_t i = 0; i < v->n_series; i++) {
        const vec_series *s = &v->series[i];
        berth_prom_label labels[BERTH_PROM_VEC_LABELS_MAX];

        for (size_t l = 0; l < v->n_labels; l++) {
            labels[l].name = v->names[l];
            labels[l].value = s->values[l];
        }
        if (v->type == BERTH_PROM_HISTOGRAM)
            berth_prom_histogram_write(w, labels, v->n_labels, &s->h);
        else
            berth_prom_sample(w, labels, v->n_labels, s->value);
    }
}
