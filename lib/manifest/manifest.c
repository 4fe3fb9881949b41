/* Manifest parsing: a bounded pre-scan of the YAML events, then each
 * document loaded as a node graph and walked field by field against the
 * schema below, building protobuf messages (malloc'd, so the generated
 * free_unpacked releases them). Errors are collected, not returned at the
 * first one, so an operator sees everything wrong with a file at once. */
#include "manifest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "pb/pb.h"
#include "base/cleanup.h"
#include "base/quantity.h"
#include "spec/spec.h"
#include "spec/workload.h"

#define LABELS_MAX     64
#define LABEL_LEN_MAX  63
#define VOLUMES_MAX    64
#define PATH_BUF       512
#define UINT_ID_MAX    4294967294LL /* (uid_t)-1 is "no change" to the kernel */
#define GRACE_SECS_MAX 3600
#define PROBE_SECS_MAX 86400
#define THRESHOLD_MAX  1000000

/* A replica's spec has its template's labels and berth.container,
 * berth.workload and berth.replica (berth_replica_spec), and a spec at
 * most LABELS_MAX (berth_spec_validate). */
#define TEMPLATE_LABELS_MAX (LABELS_MAX - 3)

/* ---- parse context ---- */

typedef struct mp_error {
    size_t line, column; /* for the order of the report */
    char *text;
} mp_error;

typedef struct mp {
    yaml_document_t *doc;
    const char *source;
    char path[PATH_BUF];
    size_t path_len;
    mp_error *errors;
    size_t n_errors, n_dropped;
    bool oom;
} mp;

static void add_error_text(mp *p, size_t line, size_t column, char *text)
{
    mp_error *grown;

    if (!text) {
        p->oom = true;
        return;
    }
    if (p->n_errors >= BERTH_MANIFEST_ERRORS_MAX) {
        p->n_dropped++;
        free(text);
        return;
    }
    grown = realloc(p->errors, (p->n_errors + 1) * sizeof(*grown));
    if (!grown) {
        p->oom = true;
        free(text);
        return;
    }
    p->errors = grown;
    p->errors[p->n_errors++] = (mp_error){ line, column, text };
}

/* File order: errors are found schema field by schema field. */
static int error_cmp(const void *a, const void *b)
{
    const mp_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->column < y->column ? -1 : x->column > y->column;
}

/* "source:line:col: path: message", at mark. Keys and values quoted from
 * the file may hold any character, a line break or a terminal escape:
 * control characters become '?', so that an error stays one line and
 * prints as text. */
static void __attribute__((format(printf, 3, 0)))
error_markv(mp *p, yaml_mark_t mark, const char *fmt, va_list ap)
{
    char msg[1024], *text = NULL;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (asprintf(&text, "%s:%zu:%zu: %s%s%s", p->source, mark.line + 1, mark.column + 1, p->path,
                 p->path_len ? ": " : "", msg) < 0)
        text = NULL;
    for (char *c = text; c && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    add_error_text(p, mark.line, mark.column, text);
}

static void __attribute__((format(printf, 3, 4)))
error_mark(mp *p, yaml_mark_t mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_markv(p, mark, fmt, ap);
    va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
error_at(mp *p, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_markv(p, n->start_mark, fmt, ap);
    va_end(ap);
}

/* Extend the path ("spec" + ".replicas", "containers" + "[0]"); returns the
 * length to restore with path_pop. */
static size_t __attribute__((format(printf, 2, 3))) path_push(mp *p, const char *fmt, ...)
{
    size_t mark = p->path_len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(p->path + p->path_len, sizeof(p->path) - p->path_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->path_len += (size_t)n < sizeof(p->path) - p->path_len
                           ? (size_t)n
                           : sizeof(p->path) - 1 - p->path_len;
    return mark;
}

static size_t path_field(mp *p, const char *name)
{
    return p->path_len ? path_push(p, ".%s", name) : path_push(p, "%s", name);
}

static void path_pop(mp *p, size_t mark)
{
    p->path_len = mark;
    p->path[mark] = '\0';
}

static yaml_node_t *node_at(mp *p, int index)
{
    return yaml_document_get_node(p->doc, index);
}

/* ---- allocation (failures only mark the context; checked at the end) ---- */

static void *xcalloc(mp *p, size_t n, size_t sz)
{
    void *v = calloc(n ? n : 1, sz);

    if (!v)
        p->oom = true;
    return v;
}

static char *xstrdup(mp *p, const char *s)
{
    char *d = strdup(s);

    if (!d)
        p->oom = true;
    return d;
}

/* ---- scalars ---- */

typedef enum stype { S_NULL, S_BOOL, S_INT, S_FLOAT, S_STR } stype;

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
           n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
}

static bool word_in(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const true_words[] = { "true", "True", "TRUE", "yes", "Yes",
                                          "YES",  "on",   "On",   "ON",  NULL };
static const char *const false_words[] = { "false", "False", "FALSE", "no",  "No",
                                           "NO",    "off",   "Off",   "OFF", NULL };

static bool looks_int(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static bool looks_float(const char *s)
{
    bool digits = false;

    if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, "-.inf") == 0 || strcasecmp(s, ".nan") == 0)
        return true;
    if (*s == '-' || *s == '+')
        s++;
    for (; isdigit((unsigned char)*s); s++)
        digits = true;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++)
            digits = true;
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

/* The type YAML 1.1 gives a scalar (as Kubernetes' YAML reader does):
 * quoted scalars are strings; plain ones may be null, booleans or numbers. */
static stype scalar_type(const yaml_node_t *n)
{
    const char *s = scalar(n);

    if (!is_plain(n))
        return S_STR;
    if (word_in(s, null_words))
        return S_NULL;
    if (word_in(s, true_words) || word_in(s, false_words))
        return S_BOOL;
    if (looks_int(s))
        return S_INT;
    if (looks_float(s))
        return S_FLOAT;
    return S_STR;
}

static bool is_null(const yaml_node_t *n)
{
    return !n || (n->type == YAML_SCALAR_NODE && scalar_type(n) == S_NULL);
}

/* "a mapping", "the number 8080" ... for "expected X, got Y". */
static void describe(const yaml_node_t *n, char *buf, size_t size)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        snprintf(buf, size, "a mapping");
        return;
    case YAML_SEQUENCE_NODE:
        snprintf(buf, size, "a list");
        return;
    default:
        break;
    }
    switch (scalar_type(n)) {
    case S_NULL:
        snprintf(buf, size, "null");
        return;
    case S_BOOL:
        snprintf(buf, size, "the boolean %.40s", scalar(n));
        return;
    case S_INT:
    case S_FLOAT:
        snprintf(buf, size, "the number %.40s", scalar(n));
        return;
    default:
        snprintf(buf, size, "the string \"%.40s%s\"", scalar(n),
                 strlen(scalar(n)) > 40 ? "..." : "");
        return;
    }
}

static void type_error(mp *p, const yaml_node_t *n, const char *want)
{
    char got[96];

    describe(n, got, sizeof(got));
    if (strcmp(want, "a string") == 0 && n->type == YAML_SCALAR_NODE && scalar_type(n) != S_NULL)
        error_at(p, n, "expected a string, got %s (quote it: \"%.40s\")", got, scalar(n));
    else
        error_at(p, n, "expected %s, got %s", want, got);
}

/* A string field: a scalar that is a string in YAML (quoted, or plain and
 * not null, a boolean or a number). NULL after reporting the error. */
static const char *get_string(mp *p, const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || scalar_type(n) != S_STR) {
        type_error(p, n, "a string");
        return NULL;
    }
    return scalar(n);
}

static bool get_int(mp *p, const yaml_node_t *n, int64_t min, int64_t max, int64_t *ret)
{
    char *end;
    long long v;

    if (n->type != YAML_SCALAR_NODE || scalar_type(n) != S_INT) {
        type_error(p, n, "an integer");
        return false;
    }
    errno = 0;
    v = strtoll(scalar(n), &end, 10);
    if (errno || *end || v < min || v > max) {
        error_at(p, n, "%s is out of range (%" PRId64 "..%" PRId64 ")", scalar(n), min, max);
        return false;
    }
    *ret = v;
    return true;
}

static bool get_bool(mp *p, const yaml_node_t *n, bool *ret)
{
    if (n->type != YAML_SCALAR_NODE || scalar_type(n) != S_BOOL) {
        type_error(p, n, "true or false");
        return false;
    }
    *ret = word_in(scalar(n), true_words);
    return true;
}

/* A quantity: a string or a number ("500m", 2, 0.5, "64Mi"). */
static bool get_quantity(mp *p, const yaml_node_t *n, bool cpu, int64_t *ret)
{
    _cleanup_error_ berth_error *e = NULL;
    stype t;
    int r;

    if (n->type != YAML_SCALAR_NODE ||
        ((t = scalar_type(n)) != S_STR && t != S_INT && t != S_FLOAT)) {
        type_error(p, n, "a quantity");
        return false;
    }
    r = cpu ? berth_parse_millicpu(scalar(n), ret, &e) : berth_parse_bytes(scalar(n), ret, &e);
    if (r < 0) {
        error_at(p, n, "%s", e->msg);
        return false;
    }
    return true;
}

/* One of words (exact); the error lists them. */
static int get_enum(mp *p, const yaml_node_t *n, const char *const *words)
{
    const char *s = get_string(p, n);
    char list[256] = "";

    if (!s)
        return -1;
    for (int i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    for (int i = 0; words[i]; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                 *words[i] ? words[i] : "\"\"");
    }
    error_at(p, n, "'%.60s' is not one of %s", s, list);
    return -1;
}

/* ---- mappings ---- */

typedef struct field {
    const char *name;
    yaml_node_t *key;   /* NULL when absent */
    yaml_node_t *value; /* NULL when absent or null */
} field;

#define FLD(n)                                                                                     \
    {                                                                                              \
        .name = (n)                                                                                \
    }
#define FEND                                                                                       \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* How far apart two field names are (Levenshtein, case-insensitive), for
 * "did you mean". Names are short: a fixed table. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[40][40];

    if (la >= 40 || lb >= 40)
        return 99;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* Read a mapping's keys into fields (a table ending with a NULL name).
 * Unknown and duplicate keys are errors. false when n is not a mapping. */
static bool read_fields(mp *p, const yaml_node_t *n, field *fields)
{
    if (n->type != YAML_MAPPING_NODE) {
        type_error(p, n, "a mapping");
        return false;
    }
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = node_at(p, pair->key), *v = node_at(p, pair->value);
        field *f = NULL, *best = NULL;
        size_t best_d = 3, mark;

        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE || scalar_type(k) != S_STR) {
            error_at(p, k, "field names must be strings");
            continue;
        }
        for (field *c = fields; c->name; c++) {
            size_t d;

            if (strcmp(c->name, scalar(k)) == 0) {
                f = c;
                break;
            }
            d = distance(c->name, scalar(k));
            if (d < best_d) {
                best_d = d;
                best = c;
            }
        }
        mark = path_field(p, scalar(k));
        if (!f) {
            if (best)
                error_at(p, k, "unknown field (did you mean %s?)", best->name);
            else
                error_at(p, k, "unknown field");
        } else if (f->key) {
            error_at(p, k, "duplicate field (first at line %zu)", f->key->start_mark.line + 1);
        } else {
            f->key = k;
            f->value = is_null(v) ? NULL : v;
        }
        path_pop(p, mark);
    }
    return true;
}

static field *fget(field *fields, const char *name)
{
    for (; fields->name; fields++)
        if (strcmp(fields->name, name) == 0)
            return fields;
    abort(); /* a name not in the table: a bug */
}

/* A field's value; NULL when absent or null. */
#define FIELD(fs, name) fget((fs), (name))->value

static void required(mp *p, const yaml_node_t *map, const char *name)
{
    size_t mark = path_field(p, name);

    error_at(p, map, "required");
    path_pop(p, mark);
}

/* An error about a present field's value, under its path. */
static void __attribute__((format(printf, 3, 4))) error_field(mp *p, field *f, const char *fmt, ...)
{
    size_t mark = path_field(p, f->name);
    va_list ap;

    va_start(ap, fmt);
    error_markv(p, f->value->start_mark, fmt, ap);
    va_end(ap);
    path_pop(p, mark);
}

/* Typed optional fields: each reads a present field under its path and
 * reports a wrong type there. They return false (or NULL, or -1) when the
 * field is absent or invalid, leaving *ret alone. */
static const char *opt_string(mp *p, field *fs, const char *name)
{
    field *f = fget(fs, name);
    const char *v;
    size_t mark;

    if (!f->value)
        return NULL;
    mark = path_field(p, name);
    v = get_string(p, f->value);
    path_pop(p, mark);
    return v;
}

static bool opt_int(mp *p, field *fs, const char *name, int64_t min, int64_t max, int64_t *ret)
{
    field *f = fget(fs, name);
    size_t mark;
    bool ok;

    if (!f->value)
        return false;
    mark = path_field(p, name);
    ok = get_int(p, f->value, min, max, ret);
    path_pop(p, mark);
    return ok;
}

static bool opt_bool(mp *p, field *fs, const char *name, bool *ret)
{
    field *f = fget(fs, name);
    size_t mark;
    bool ok;

    if (!f->value)
        return false;
    mark = path_field(p, name);
    ok = get_bool(p, f->value, ret);
    path_pop(p, mark);
    return ok;
}

static int opt_enum(mp *p, field *fs, const char *name, const char *const *words)
{
    field *f = fget(fs, name);
    size_t mark;
    int r;

    if (!f->value)
        return -1;
    mark = path_field(p, name);
    r = get_enum(p, f->value, words);
    path_pop(p, mark);
    return r;
}

/* A required string field. */
static const char *req_string(mp *p, const yaml_node_t *map, field *fs, const char *name)
{
    if (!FIELD(fs, name)) {
        required(p, map, name);
        return NULL;
    }
    return opt_string(p, fs, name);
}

/* Read a present field with fn(p, value, data) under its path. */
typedef void (*sub_fn)(mp *p, const yaml_node_t *n, void *data);

static void opt_sub(mp *p, field *fs, const char *name, sub_fn fn, void *data)
{
    field *f = fget(fs, name);
    size_t mark;

    if (!f->value)
        return;
    mark = path_field(p, name);
    fn(p, f->value, data);
    path_pop(p, mark);
}

/* ---- labels and string lists ---- */

static bool label_chars_ok(const char *s, bool key)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || (key && c == '/')))
            return false;
    }
    return true;
}

/* A map of labels (or a nodeSelector): string keys and values up to 63
 * characters of [A-Za-z0-9._-] (keys may have one prefix/), at most 64.
 * Entries are added through add(). */
typedef void (*kv_add_fn)(mp *p, void *target, const char *key, const char *value);

static void read_string_map(mp *p, const yaml_node_t *n, void *target, kv_add_fn add)
{
    size_t count;

    if (n->type != YAML_MAPPING_NODE) {
        type_error(p, n, "a mapping");
        return;
    }
    /* Before the keys are compared with each other: that is quadratic. */
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > LABELS_MAX) {
        error_at(p, n, "%zu labels, at most %d", count, LABELS_MAX);
        return;
    }
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = node_at(p, pair->key), *v = node_at(p, pair->value);
        const char *key, *value;
        size_t mark;
        bool dup = false;

        if (!k || !v)
            continue;
        if (k->type != YAML_SCALAR_NODE || scalar_type(k) != S_STR) {
            error_at(p, k, "keys must be strings");
            continue;
        }
        key = scalar(k);
        mark = path_field(p, key);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pair; q++) {
            yaml_node_t *qk = node_at(p, q->key);
            if (qk && qk->type == YAML_SCALAR_NODE && strcmp(scalar(qk), key) == 0)
                dup = true;
        }
        if (dup) {
            error_at(p, k, "duplicate key");
        } else if (!*key || strlen(key) > LABEL_LEN_MAX || !label_chars_ok(key, true) ||
                   !isalnum((unsigned char)key[0]) || strchr(key, '/') != strrchr(key, '/')) {
            error_at(p, k,
                     "invalid key: 1-63 characters of letters, digits, '-', '_', '.' "
                     "(and one '/'), starting with a letter or digit");
        } else if ((value = get_string(p, v)) != NULL) {
            if (strlen(value) > LABEL_LEN_MAX || !label_chars_ok(value, false))
                error_at(p, v,
                         "invalid value '%.70s': up to 63 characters of letters, digits, "
                         "'-', '_', '.'",
                         value);
            else
                add(p, target, key, value);
        }
        path_pop(p, mark);
    }
}

/* A list of strings into *ret (n_ret); at most max. */
static void read_string_list(mp *p, const yaml_node_t *n, size_t max, char ***ret, size_t *n_ret)
{
    size_t count;

    if (n->type != YAML_SEQUENCE_NODE) {
        type_error(p, n, "a list of strings");
        return;
    }
    count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > max) {
        error_at(p, n, "%zu items, at most %zu", count, max);
        return;
    }
    *ret = xcalloc(p, count, sizeof(char *));
    if (!*ret)
        return;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node_at(p, n->data.sequence.items.start[i]);
        size_t mark = path_push(p, "[%zu]", i);
        const char *s = item ? get_string(p, item) : NULL;

        if (s && ((*ret)[*n_ret] = xstrdup(p, s)))
            (*n_ret)++;
        path_pop(p, mark);
    }
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* ---- the workload being built ---- */

typedef ContainerSpec spec_t;

/* kv_add_fn for the map fields of the messages we build. */
static void add_map(mp *p, ProtobufCMessage *msg, const char *name, const char *k, const char *v)
{
    if (berth_pb_map_set(msg, name, k, v) < 0)
        p->oom = true;
}

static void add_workload_label(mp *p, void *target, const char *k, const char *v)
{
    add_map(p, target, "labels", k, v);
}

static void add_selector(mp *p, void *target, const char *k, const char *v)
{
    add_map(p, target, "node_selector", k, v);
}

static void add_spec_label(mp *p, void *target, const char *k, const char *v)
{
    add_map(p, target, "labels", k, v);
}

/* A scratch list of pairs (selectors, template labels) for comparisons. */
typedef struct kvlist {
    const char *k[LABELS_MAX], *v[LABELS_MAX];
    size_t n;
} kvlist;

static void add_kvlist(mp *p, void *target, const char *k, const char *v)
{
    kvlist *l = target;

    (void)p;
    if (l->n < LABELS_MAX) {
        l->k[l->n] = k;
        l->v[l->n++] = v;
    }
}

/* ---- containers ---- */

/* Volumes of the pod, by name, for volumeMounts to refer to. */
typedef struct volume {
    const char *name;
    bool host_path;
    const char *path;   /* hostPath */
    int64_t size_limit; /* emptyDir */
} volume;

typedef struct podctx {
    volume volumes[VOLUMES_MAX];
    size_t n_volumes;
} podctx;

/* Walk a list: fn(p, item, index, data) for each item under "[i]". false
 * when n is not a list or has more than max items (reported). */
typedef void (*item_fn)(mp *p, const yaml_node_t *item, size_t i, void *data);

static bool each_item(mp *p, const yaml_node_t *n, size_t max, const char *what, item_fn fn,
                      void *data)
{
    size_t count;

    if (n->type != YAML_SEQUENCE_NODE) {
        type_error(p, n, what);
        return false;
    }
    count = seq_len(n);
    if (count > max) {
        error_at(p, n, "%zu items, at most %zu", count, max);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node_at(p, n->data.sequence.items.start[i]);
        size_t mark = path_push(p, "[%zu]", i);

        if (item)
            fn(p, item, i, data);
        path_pop(p, mark);
    }
    return true;
}

static void read_env_var(mp *p, const yaml_node_t *item, size_t i, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("name"), FLD("value"), FEND };
    const char *name, *value = "";
    char *e = NULL;

    (void)i;
    if (!read_fields(p, item, f))
        return;
    name = req_string(p, item, f, "name");
    if (name && (!*name || strchr(name, '='))) {
        error_field(p, fget(f, "name"), "'%.60s' is not a variable name (non-empty, no '=')", name);
        name = NULL;
    }
    if (FIELD(f, "value"))
        value = opt_string(p, f, "value");
    if (!name || !value)
        return;
    if (asprintf(&e, "%s=%s", name, value) < 0)
        p->oom = true;
    else
        s->env[s->n_env++] = e;
}

static void read_env(mp *p, const yaml_node_t *n, void *data)
{
    spec_t *s = data;

    if (n->type == YAML_SEQUENCE_NODE && !(s->env = xcalloc(p, seq_len(n), sizeof(char *))))
        return;
    each_item(p, n, BERTH_SPEC_ENV_MAX, "a list of {name, value}", read_env_var, s);
}

/* requests or limits: cpu and memory into q[0], q[1] (nodes into at[]). */
typedef struct quantities {
    int64_t q[2];
    const yaml_node_t *at[2];
    bool limits;
} quantities;

static void read_quantities(mp *p, const yaml_node_t *n, void *data)
{
    quantities *r = data;
    field f[] = { FLD("cpu"), FLD("memory"), FEND };
    char buf[32];

    if (!read_fields(p, n, f))
        return;
    for (int m = 0; m < 2; m++) {
        field *fl = fget(f, m ? "memory" : "cpu");
        size_t mark;
        int64_t v;

        if (!fl->value)
            continue;
        mark = path_field(p, fl->name);
        if (!get_quantity(p, fl->value, m == 0, &v))
            v = -1;
        else if (m == 1 && r->limits && v > 0 && v < BERTH_SPEC_MEMORY_MIN) {
            error_at(p, fl->value, "%s is below the minimum of 4Mi",
                     berth_format_bytes(v, buf, sizeof(buf)));
            v = -1;
        } else if (m == 0 && v > 1000000) {
            error_at(p, fl->value, "%s is more than 1000 CPUs", scalar(fl->value));
            v = -1;
        }
        path_pop(p, mark);
        if (v >= 0) {
            r->q[m] = v;
            r->at[m] = fl->value;
        }
    }
}

static void read_resources(mp *p, const yaml_node_t *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("requests"), FLD("limits"), FEND };
    quantities req = { { -1, -1 }, { NULL, NULL }, false },
               lim = { { -1, -1 }, { NULL, NULL }, true };
    char a[32], b[32];

    if (!read_fields(p, n, f))
        return;
    opt_sub(p, f, "requests", read_quantities, &req);
    opt_sub(p, f, "limits", read_quantities, &lim);
    for (int m = 0; m < 2; m++) {
        /* Kubernetes: a limit without a request requests the limit. */
        if (req.q[m] < 0 && lim.q[m] >= 0)
            req.q[m] = lim.q[m];
        else if (req.q[m] >= 0 && lim.q[m] >= 0 && req.q[m] > lim.q[m]) {
            size_t mark = path_push(p, ".requests.%s", m ? "memory" : "cpu");

            if (m)
                error_at(p, req.at[m], "%s is above the limit %s",
                         berth_format_bytes(req.q[m], a, sizeof(a)),
                         berth_format_bytes(lim.q[m], b, sizeof(b)));
            else
                error_at(p, req.at[m], "%s is above the limit %s",
                         berth_format_millicpu(req.q[m], a, sizeof(a)),
                         berth_format_millicpu(lim.q[m], b, sizeof(b)));
            path_pop(p, mark);
        }
    }
    if (!(s->resources = xcalloc(p, 1, sizeof(*s->resources))))
        return;
    resources_init(s->resources);
    s->resources->cpu_millis = lim.q[0] > 0 ? lim.q[0] : 0;
    s->resources->memory_bytes = lim.q[1] > 0 ? lim.q[1] : 0;
    s->resources->cpu_request_millis = req.q[0] > 0 ? req.q[0] : 0;
    s->resources->memory_request_bytes = req.q[1] > 0 ? req.q[1] : 0;
}

/* A non-empty list of strings (command, exec.command). */
static void read_command(mp *p, const yaml_node_t *n, char ***ret, size_t *n_ret)
{
    if (n->type == YAML_SEQUENCE_NODE && seq_len(n) == 0)
        error_at(p, n, "must not be empty");
    else
        read_string_list(p, n, BERTH_SPEC_ARGS_MAX, ret, n_ret);
}

static void read_exec(mp *p, const yaml_node_t *n, void *data)
{
    Probe *pr = data;
    field f[] = { FLD("command"), FEND };

    if (!read_fields(p, n, f))
        return;
    if (!FIELD(f, "command")) {
        required(p, n, "command");
        return;
    }
    if (!(pr->exec = xcalloc(p, 1, sizeof(*pr->exec))))
        return;
    exec_action_init(pr->exec);
    pr->action_case = PROBE_ACTION_EXEC;
    size_t mark = path_field(p, "command");
    read_command(p, FIELD(f, "command"), &pr->exec->command, &pr->exec->n_command);
    path_pop(p, mark);
}

static void read_tcp(mp *p, const yaml_node_t *n, void *data)
{
    Probe *pr = data;
    field f[] = { FLD("port"), FEND };
    int64_t port;

    if (!read_fields(p, n, f))
        return;
    if (!FIELD(f, "port")) {
        required(p, n, "port");
        return;
    }
    if (!(pr->tcp = xcalloc(p, 1, sizeof(*pr->tcp))))
        return;
    tcp_action_init(pr->tcp);
    pr->action_case = PROBE_ACTION_TCP;
    if (opt_int(p, f, "port", 1, 65535, &port))
        pr->tcp->port = (uint32_t)port;
}

static void read_probe(mp *p, const yaml_node_t *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("exec"),
                  FLD("tcpSocket"),
                  FLD("initialDelaySeconds"),
                  FLD("periodSeconds"),
                  FLD("timeoutSeconds"),
                  FLD("failureThreshold"),
                  FLD("successThreshold"),
                  FEND };
    Probe *pr;
    int64_t v;

    if (!read_fields(p, n, f) || !(pr = xcalloc(p, 1, sizeof(*pr))))
        return;
    probe_init(pr);
    s->liveness_probe = pr;
    if (FIELD(f, "exec") && FIELD(f, "tcpSocket"))
        error_field(p, fget(f, "tcpSocket"), "a probe has either exec or tcpSocket, not both");
    else if (!FIELD(f, "exec") && !FIELD(f, "tcpSocket"))
        error_at(p, n, "a probe needs exec or tcpSocket (httpGet and grpc are not supported)");
    opt_sub(p, f, "exec", read_exec, pr);
    if (!FIELD(f, "exec"))
        opt_sub(p, f, "tcpSocket", read_tcp, pr);
    if (opt_int(p, f, "initialDelaySeconds", 0, PROBE_SECS_MAX, &v))
        pr->initial_delay_ms = v * 1000;
    if (opt_int(p, f, "periodSeconds", 1, PROBE_SECS_MAX, &v))
        pr->period_ms = v * 1000;
    if (opt_int(p, f, "timeoutSeconds", 1, PROBE_SECS_MAX, &v))
        pr->timeout_ms = v * 1000;
    if (opt_int(p, f, "failureThreshold", 1, THRESHOLD_MAX, &v))
        pr->failure_threshold = (int32_t)v;
    /* Kubernetes: 1 for liveness probes. */
    if (opt_int(p, f, "successThreshold", 1, 1, &v))
        pr->success_threshold = (int32_t)v;
}

/* capabilities.add or .drop: names checked here, where their lines are. */
static void read_cap_list(mp *p, const yaml_node_t *n, char ***arr, size_t *cnt)
{
    read_string_list(p, n, 64, arr, cnt);
    for (size_t i = 0; i < *cnt && n->type == YAML_SEQUENCE_NODE; i++) {
        _cleanup_error_ berth_error *e = NULL;
        uint64_t mask;

        if (berth_cap_parse((*arr)[i], &mask, &e) < 0) {
            size_t mark = path_push(p, "[%zu]", i);
            error_at(p, node_at(p, n->data.sequence.items.start[i]), "%s", e->msg);
            path_pop(p, mark);
        }
    }
}

static void read_caps(mp *p, const yaml_node_t *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("add"), FLD("drop"), FEND };
    Capabilities *c;

    if (!read_fields(p, n, f) || !(c = xcalloc(p, 1, sizeof(*c))))
        return;
    capabilities_init(c);
    s->capabilities = c;
    for (int d = 0; d < 2; d++) {
        field *fl = fget(f, d ? "drop" : "add");
        size_t mark;

        if (!fl->value)
            continue;
        mark = path_field(p, fl->name);
        read_cap_list(p, fl->value, d ? &c->drop : &c->add, d ? &c->n_drop : &c->n_add);
        path_pop(p, mark);
    }
}

static void read_security(mp *p, const yaml_node_t *n, void *data)
{
    spec_t *s = data;
    field f[] = { FLD("runAsUser"),
                  FLD("runAsGroup"),
                  FLD("readOnlyRootFilesystem"),
                  FLD("allowPrivilegeEscalation"),
                  FLD("capabilities"),
                  FEND };
    int64_t v;
    bool b;

    if (!read_fields(p, n, f))
        return;
    if (FIELD(f, "runAsUser") || FIELD(f, "runAsGroup")) {
        if (!(s->user = xcalloc(p, 1, sizeof(*s->user))))
            return;
        user_init(s->user);
        if (opt_int(p, f, "runAsUser", 0, UINT_ID_MAX, &v))
            s->user->uid = (uint32_t)v;
        if (opt_int(p, f, "runAsGroup", 0, UINT_ID_MAX, &v))
            s->user->gid = (uint32_t)v;
    }
    if (opt_bool(p, f, "readOnlyRootFilesystem", &b))
        s->readonly_rootfs = b;
    /* Unset means false here (Kubernetes says true): no_new_privs. */
    if (opt_bool(p, f, "allowPrivilegeEscalation", &b))
        s->allow_privilege_escalation = b;
    opt_sub(p, f, "capabilities", read_caps, s);
}

typedef struct mounts_ctx {
    spec_t *s;
    podctx *pod;
} mounts_ctx;

static void read_mount(mp *p, const yaml_node_t *item, size_t i, void *data)
{
    mounts_ctx *mc = data;
    field f[] = { FLD("name"), FLD("mountPath"), FLD("readOnly"), FEND };
    const char *name, *dest;
    volume *vol = NULL;
    Mount *m;
    bool ro = false;

    (void)i;
    if (!read_fields(p, item, f))
        return;
    if ((name = req_string(p, item, f, "name"))) {
        for (size_t v = 0; v < mc->pod->n_volumes; v++)
            if (strcmp(mc->pod->volumes[v].name, name) == 0)
                vol = &mc->pod->volumes[v];
        if (!vol)
            error_field(p, fget(f, "name"), "no volume '%.63s' in spec.volumes", name);
    }
    if ((dest = req_string(p, item, f, "mountPath")) && dest[0] != '/') {
        error_field(p, fget(f, "mountPath"), "'%.80s' is not an absolute path", dest);
        dest = NULL;
    }
    opt_bool(p, f, "readOnly", &ro);
    if (!vol || !dest || !(m = xcalloc(p, 1, sizeof(*m))))
        return;
    mount_init(m);
    mc->s->mounts[mc->s->n_mounts++] = m;
    m->destination = xstrdup(p, dest);
    m->readonly = ro;
    if (vol->host_path) {
        m->type = MOUNT_BIND;
        m->source = xstrdup(p, vol->path);
    } else {
        m->type = MOUNT_TMPFS;
        m->tmpfs_size_bytes = vol->size_limit;
    }
}

static void read_mounts(mp *p, const yaml_node_t *n, void *data)
{
    mounts_ctx *mc = data;

    if (n->type == YAML_SEQUENCE_NODE &&
        !(mc->s->mounts = xcalloc(p, seq_len(n), sizeof(*mc->s->mounts))))
        return;
    each_item(p, n, BERTH_SPEC_MOUNTS_MAX, "a list of {name, mountPath, readOnly}", read_mount, mc);
}

static void read_host_path(mp *p, const yaml_node_t *n, void *data)
{
    static const char *const types[] = { "", "Directory", "File", NULL };
    field f[] = { FLD("path"), FLD("type"), FEND };
    volume *vol = data;
    const char *path;

    if (!read_fields(p, n, f))
        return;
    opt_enum(p, f, "type", types);
    if ((path = req_string(p, n, f, "path")) && path[0] != '/')
        error_field(p, fget(f, "path"), "'%.80s' is not an absolute path", path);
    else
        vol->path = path;
}

static void read_empty_dir(mp *p, const yaml_node_t *n, void *data)
{
    static const char *const media[] = { "", "Memory", NULL };
    field f[] = { FLD("medium"), FLD("sizeLimit"), FEND };
    volume *vol = data;
    size_t mark;

    if (!read_fields(p, n, f))
        return;
    opt_enum(p, f, "medium", media);
    if (FIELD(f, "sizeLimit")) {
        mark = path_field(p, "sizeLimit");
        get_quantity(p, FIELD(f, "sizeLimit"), false, &vol->size_limit);
        path_pop(p, mark);
    }
}

static void read_volume(mp *p, const yaml_node_t *item, size_t i, void *data)
{
    podctx *pod = data;
    field f[] = { FLD("name"), FLD("hostPath"), FLD("emptyDir"), FEND };
    volume vol = { 0 };
    size_t errors = p->n_errors + p->n_dropped;

    (void)i;
    if (!read_fields(p, item, f))
        return;
    if ((vol.name = req_string(p, item, f, "name"))) {
        if (!berth_spec_id_valid(vol.name))
            error_field(p, fget(f, "name"), "'%.70s' is not a valid name (1-63 of a-z 0-9 . _ -)",
                        vol.name);
        for (size_t v = 0; v < pod->n_volumes; v++)
            if (strcmp(pod->volumes[v].name, vol.name) == 0)
                error_field(p, fget(f, "name"), "duplicate volume name");
    }
    /* "emptyDir: {}" and a bare "emptyDir:" both ask for the defaults. */
    if (!!FIELD(f, "hostPath") == !!fget(f, "emptyDir")->key) {
        error_at(p, item, "a volume needs exactly one of hostPath and emptyDir");
    } else if (FIELD(f, "hostPath")) {
        vol.host_path = true;
        opt_sub(p, f, "hostPath", read_host_path, &vol);
    } else {
        opt_sub(p, f, "emptyDir", read_empty_dir, &vol);
    }
    if (p->n_errors + p->n_dropped == errors && vol.name && (!vol.host_path || vol.path))
        pod->volumes[pod->n_volumes++] = vol;
}

static void read_port(mp *p, const yaml_node_t *item, size_t i, void *data)
{
    static const char *const protos[] = { "TCP", "UDP", "SCTP", NULL };
    field f[] = { FLD("containerPort"), FLD("name"), FLD("protocol"), FEND };
    int64_t port;

    (void)i;
    (void)data;
    if (!read_fields(p, item, f))
        return;
    if (!FIELD(f, "containerPort"))
        required(p, item, "containerPort");
    opt_int(p, f, "containerPort", 1, 65535, &port);
    opt_string(p, f, "name");
    opt_enum(p, f, "protocol", protos);
}

static void read_ports(mp *p, const yaml_node_t *n, void *data)
{
    each_item(p, n, 1024, "a list of ports", read_port, data);
}

static void read_container(mp *p, const yaml_node_t *n, spec_t *s, podctx *pod)
{
    static const char *const pull_policies[] = { "Always", "IfNotPresent", "Never", NULL };
    field f[] = { FLD("name"),
                  FLD("image"),
                  FLD("command"),
                  FLD("args"),
                  FLD("env"),
                  FLD("workingDir"),
                  FLD("resources"),
                  FLD("livenessProbe"),
                  FLD("volumeMounts"),
                  FLD("securityContext"),
                  FLD("ports"),
                  FLD("imagePullPolicy"),
                  FEND };
    mounts_ctx mc = { s, pod };
    const char *v;
    size_t mark;

    if (!read_fields(p, n, f))
        return;
    if ((v = req_string(p, n, f, "name"))) {
        if (!berth_spec_id_valid(v))
            error_field(p, fget(f, "name"),
                        "'%.70s' is not a valid name (1-63 of a-z 0-9 . _ -, starting with a "
                        "letter or digit)",
                        v);
        else
            add_spec_label(p, s, "berth.container", v);
    }
    if ((v = req_string(p, n, f, "image"))) {
        if (!berth_spec_image_name_valid(v))
            error_field(p, fget(f, "image"),
                        "'%.70s' is not an image name of the node's image store (1-128 of "
                        "letters, digits, '.', '_', '-', ':'; no '/')",
                        v);
        else
            s->image = xstrdup(p, v);
    }
    mark = path_field(p, "command");
    if (!FIELD(f, "command"))
        /* berth's images are plain directories: no entrypoint to fall back on. */
        error_at(p, n, "required (berth images have no entrypoint to default to)");
    else
        read_command(p, FIELD(f, "command"), &s->command, &s->n_command);
    path_pop(p, mark);
    if (FIELD(f, "args")) {
        mark = path_field(p, "args");
        read_string_list(p, FIELD(f, "args"), BERTH_SPEC_ARGS_MAX, &s->args, &s->n_args);
        path_pop(p, mark);
    }
    opt_sub(p, f, "env", read_env, s);
    if ((v = opt_string(p, f, "workingDir"))) {
        if (v[0] != '/')
            error_field(p, fget(f, "workingDir"), "'%.80s' is not an absolute path", v);
        else
            s->working_dir = xstrdup(p, v);
    }
    opt_sub(p, f, "resources", read_resources, s);
    opt_sub(p, f, "livenessProbe", read_probe, s);
    opt_sub(p, f, "volumeMounts", read_mounts, &mc);
    opt_sub(p, f, "securityContext", read_security, s);
    /* Accepted for Kubernetes manifests' sake, and checked; documentation
     * only: a container has the node's network or none. */
    opt_sub(p, f, "ports", read_ports, NULL);
    /* Images are imported on the node: there is nothing to pull. */
    opt_enum(p, f, "imagePullPolicy", pull_policies);
}

/* ---- pods ---- */

static void read_containers(mp *p, const yaml_node_t *c, spec_t *s, podctx *pod)
{
    size_t mark;

    if (c->type != YAML_SEQUENCE_NODE) {
        type_error(p, c, "a list with one container");
        return;
    }
    if (seq_len(c) == 0) {
        error_at(p, c, "one container is required");
        return;
    }
    mark = path_push(p, "[0]");
    read_container(p, node_at(p, c->data.sequence.items.start[0]), s, pod);
    path_pop(p, mark);
    if (seq_len(c) > 1) {
        mark = path_push(p, "[1]");
        error_at(p, node_at(p, c->data.sequence.items.start[1]),
                 "berth runs one container per pod: give the second container a workload of "
                 "its own");
        path_pop(p, mark);
    }
}

static void read_volumes(mp *p, const yaml_node_t *n, void *data)
{
    each_item(p, n, VOLUMES_MAX, "a list of volumes", read_volume, data);
}

static void read_selector_map(mp *p, const yaml_node_t *n, void *data)
{
    read_string_map(p, n, data, add_selector);
}

static void read_pod_spec(mp *p, const yaml_node_t *n, void *data)
{
    static const char *const restart[] = { "Always", "OnFailure", "Never", NULL };
    static const RestartPolicy restart_values[] = {
        RESTART_ALWAYS,
        RESTART_ON_FAILURE,
        RESTART_NEVER,
    };
    field f[] = { FLD("containers"),
                  FLD("restartPolicy"),
                  FLD("nodeSelector"),
                  FLD("volumes"),
                  FLD("hostNetwork"),
                  FLD("hostname"),
                  FLD("terminationGracePeriodSeconds"),
                  FEND };
    Workload *w = data;
    podctx pod = { .n_volumes = 0 };
    const char *h;
    spec_t *s;
    size_t mark;
    int64_t secs;
    bool b;
    int r;

    if (!read_fields(p, n, f) || !(s = xcalloc(p, 1, sizeof(*s))))
        return;
    container_spec_init(s);
    w->template_ = s;
    s->restart_policy = RESTART_ALWAYS; /* Kubernetes' default */
    opt_sub(p, f, "volumes", read_volumes, &pod);
    if (!FIELD(f, "containers")) {
        required(p, n, "containers");
    } else {
        mark = path_field(p, "containers");
        read_containers(p, FIELD(f, "containers"), s, &pod);
        path_pop(p, mark);
    }
    if ((r = opt_enum(p, f, "restartPolicy", restart)) >= 0)
        s->restart_policy = restart_values[r];
    opt_sub(p, f, "nodeSelector", read_selector_map, w);
    if (opt_bool(p, f, "hostNetwork", &b) && b)
        s->network = NETWORK_HOST;
    if ((h = opt_string(p, f, "hostname")))
        s->hostname = xstrdup(p, h);
    /* 0 means "at once" in Kubernetes; the spec's 0 means the default. */
    if (opt_int(p, f, "terminationGracePeriodSeconds", 0, GRACE_SECS_MAX, &secs))
        s->stop_grace_ms = secs ? secs * 1000 : 1;
}

/* ---- metadata ---- */

static void read_workload_labels(mp *p, const yaml_node_t *n, void *data)
{
    read_string_map(p, n, data, add_workload_label);
}

static void read_kvlist(mp *p, const yaml_node_t *n, void *data)
{
    read_string_map(p, n, data, add_kvlist);
}

static void read_annotations(mp *p, const yaml_node_t *a, void *data)
{
    (void)data;
    /* Kept by nobody; checked for shape only (values may be long). */
    if (a->type != YAML_MAPPING_NODE) {
        type_error(p, a, "a mapping");
        return;
    }
    for (yaml_node_pair_t *pair = a->data.mapping.pairs.start; pair < a->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = node_at(p, pair->key), *v = node_at(p, pair->value);

        if (k && v && (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE))
            error_at(p, k, "annotations are string keys and values");
    }
}

/* metadata: name (into w when need_name), labels (into w, or into tlabels
 * for a template), namespace, annotations. */
static void read_metadata(mp *p, const yaml_node_t *n, Workload *w, kvlist *tlabels,
                          yaml_mark_t *ret_name_mark)
{
    field f[] = { FLD("name"), FLD("labels"), FLD("namespace"), FLD("annotations"), FEND };
    const char *v;

    if (!read_fields(p, n, f))
        return;
    if (!tlabels && (v = req_string(p, n, f, "name"))) {
        if (!berth_workload_name_valid(v))
            error_field(p, fget(f, "name"),
                        "'%.70s' is not a valid workload name (1-%d of a-z 0-9 -, starting and "
                        "ending with a letter or digit)",
                        v, BERTH_WORKLOAD_NAME_MAX);
        else
            w->name = xstrdup(p, v);
        *ret_name_mark = FIELD(f, "name")->start_mark;
    } else if (tlabels) {
        opt_string(p, f, "name");
    }
    if (tlabels) {
        opt_sub(p, f, "labels", read_kvlist, tlabels);
        if (tlabels->n > TEMPLATE_LABELS_MAX)
            error_field(p, fget(f, "labels"),
                        "%zu labels, at most %d (each replica has berth.container, "
                        "berth.workload and berth.replica too)",
                        tlabels->n, TEMPLATE_LABELS_MAX);
    } else {
        opt_sub(p, f, "labels", read_workload_labels, w);
    }
    if ((v = opt_string(p, f, "namespace")) && strcmp(v, "default") != 0)
        error_field(p, fget(f, "namespace"),
                    "berth has no namespaces (only \"default\" is accepted)");
    opt_sub(p, f, "annotations", read_annotations, NULL);
}

/* ---- Deployment and DaemonSet ---- */

typedef struct template_ctx {
    Workload *w;
    kvlist labels;
} template_ctx;

static void read_template(mp *p, const yaml_node_t *n, void *data)
{
    template_ctx *t = data;
    field f[] = { FLD("metadata"), FLD("spec"), FEND };
    size_t mark;

    if (!read_fields(p, n, f))
        return;
    if (FIELD(f, "metadata")) {
        mark = path_field(p, "metadata");
        read_metadata(p, FIELD(f, "metadata"), t->w, &t->labels, NULL);
        path_pop(p, mark);
    }
    if (!FIELD(f, "spec"))
        required(p, n, "spec");
    opt_sub(p, f, "spec", read_pod_spec, t->w);
}

static void read_selector(mp *p, const yaml_node_t *n, void *data)
{
    field f[] = { FLD("matchLabels"), FEND };

    if (!read_fields(p, n, f))
        return;
    if (!FIELD(f, "matchLabels"))
        required(p, n, "matchLabels");
    opt_sub(p, f, "matchLabels", read_kvlist, data);
}

static void read_controller_spec(mp *p, const yaml_node_t *n, Workload *w, bool k8s_api)
{
    bool deployment = w->kind == WORKLOAD_DEPLOYMENT;
    /* A DaemonSet has no replicas: its table ends before them. */
    field f[] = { FLD("selector"), FLD("template"), FLD(deployment ? "replicas" : NULL), FEND };
    template_ctx t = { .w = w };
    kvlist match = { .n = 0 };
    int64_t v;

    if (!read_fields(p, n, f))
        return;
    w->replicas = deployment ? 1 : 0;
    if (deployment && opt_int(p, f, "replicas", 0, BERTH_REPLICAS_MAX, &v))
        w->replicas = (uint32_t)v;
    if (!FIELD(f, "selector") && k8s_api)
        required(p, n, "selector");
    opt_sub(p, f, "selector", read_selector, &match);
    if (!FIELD(f, "template"))
        required(p, n, "template");
    opt_sub(p, f, "template", read_template, &t);
    /* As Kubernetes: the selector must select the template's labels. */
    for (size_t i = 0; i < match.n; i++) {
        bool found = false;

        for (size_t j = 0; j < t.labels.n; j++)
            if (strcmp(match.k[i], t.labels.k[j]) == 0 && strcmp(match.v[i], t.labels.v[j]) == 0)
                found = true;
        if (!found) {
            error_field(p, fget(f, "selector"),
                        "matchLabels %s=%s does not select spec.template.metadata.labels",
                        match.k[i], match.v[i]);
            break;
        }
    }
    if (w->template_)
        for (size_t j = 0; j < t.labels.n; j++)
            add_spec_label(p, w->template_, t.labels.k[j], t.labels.v[j]);
}

/* ---- documents ---- */

static void check_template(mp *p, const yaml_node_t *at, Workload *w, const char *where)
{
    _cleanup_error_ berth_error *e = NULL;
    spec_t *s = w->template_;
    char *saved = s->id;

    /* The checks above name the field where it is; this is the runtime's
     * own check, the last word. */
    s->id = "template";
    if (berth_spec_validate(s, &e) < 0) {
        size_t mark = path_field(p, where);
        error_at(p, at, "%s", e->msg);
        path_pop(p, mark);
    }
    s->id = saved;
}

static Workload *read_document(mp *p, const yaml_node_t *root, yaml_mark_t *ret_name)
{
    static const char *const api_versions[] = { "berth/v1", "v1", "apps/v1", NULL };
    field f[] = { FLD("apiVersion"), FLD("kind"), FLD("metadata"), FLD("spec"), FEND };
    WorkloadKind k = WORKLOAD_KIND_UNSPECIFIED;
    size_t errors_before = p->n_errors + p->n_dropped, mark;
    Workload *w;
    const char *kind;
    int a;

    if (!read_fields(p, root, f))
        return NULL;
    if (!FIELD(f, "apiVersion"))
        required(p, root, "apiVersion");
    a = opt_enum(p, f, "apiVersion", api_versions);
    if ((kind = req_string(p, root, f, "kind")) &&
        (k = berth_workload_kind_parse(kind)) == WORKLOAD_KIND_UNSPECIFIED)
        error_field(p, fget(f, "kind"),
                    "'%.60s' is not a kind berth runs (Pod, Deployment, DaemonSet)", kind);
    else if (k && ((a == 1 && k != WORKLOAD_POD) || (a == 2 && k == WORKLOAD_POD))) {
        error_field(p, fget(f, "kind"), "apiVersion %s has no kind %s (use %s or berth/v1)",
                    api_versions[a], kind, a == 1 ? "apps/v1" : "v1");
        k = WORKLOAD_KIND_UNSPECIFIED;
    }
    if (!k || a < 0 || !(w = xcalloc(p, 1, sizeof(*w))))
        return NULL;
    workload_init(w);
    w->kind = k;
    w->source = xstrdup(p, p->source);
    if (!FIELD(f, "metadata")) {
        required(p, root, "metadata");
    } else {
        mark = path_field(p, "metadata");
        read_metadata(p, FIELD(f, "metadata"), w, NULL, ret_name);
        path_pop(p, mark);
    }
    if (!FIELD(f, "spec")) {
        required(p, root, "spec");
    } else {
        mark = path_field(p, "spec");
        if (k == WORKLOAD_POD) {
            w->replicas = 1;
            read_pod_spec(p, FIELD(f, "spec"), w);
        } else {
            read_controller_spec(p, FIELD(f, "spec"), w, a != 0);
        }
        path_pop(p, mark);
    }
    if (p->n_errors + p->n_dropped == errors_before && !p->oom && w->template_)
        check_template(p, FIELD(f, "spec"), w, k == WORKLOAD_POD ? "spec" : "spec.template.spec");
    return w;
}

/* ---- bounds, before building anything ---- */

/* Walk the events once: YAML syntax errors, aliases, depth, counts. */
static int prescan(mp *p, const char *text, size_t len, size_t *ret_documents)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t events = 0, depth = 0, docs = 0;
    int r = 0;

    if (!yaml_parser_initialize(&parser)) {
        p->oom = true;
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            error_mark(p, parser.problem_mark, "YAML: %s%s%s",
                       parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                       parser.context ? parser.context : "");
            r = -1;
            break;
        }
        if (++events > BERTH_MANIFEST_EVENTS_MAX) {
            error_mark(p, ev.start_mark, "more than %d YAML nodes", BERTH_MANIFEST_EVENTS_MAX);
            r = -1;
        } else if (ev.type == YAML_ALIAS_EVENT ||
                   (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
                   (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
                   (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor)) {
            error_mark(p, ev.start_mark, "YAML anchors and aliases are not supported");
            r = -1;
        } else if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            if (++depth > BERTH_MANIFEST_DEPTH_MAX) {
                error_mark(p, ev.start_mark, "nested deeper than %d levels",
                           BERTH_MANIFEST_DEPTH_MAX);
                r = -1;
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (ev.type == YAML_DOCUMENT_START_EVENT) {
            if (++docs > BERTH_MANIFEST_DOCUMENTS_MAX) {
                error_mark(p, ev.start_mark, "more than %d documents",
                           BERTH_MANIFEST_DOCUMENTS_MAX);
                r = -1;
            }
        }
        if (ev.type == YAML_STREAM_END_EVENT || r < 0) {
            yaml_event_delete(&ev);
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    *ret_documents = docs;
    return r;
}

/* ---- the whole file ---- */

void berth_manifest_free(berth_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_workloads; i++)
        workload_free_unpacked(m->workloads[i], NULL);
    free(m->workloads);
    free(m);
}

static int fail(mp *p, berth_error **err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (p->oom && p->n_errors == 0)
        return berth_error_make(err, ENOMEM, "%s", p->source);
    f = open_memstream(&text, &len);
    if (!f)
        return berth_error_make(err, ENOMEM, "%s", p->source);
    qsort(p->errors, p->n_errors, sizeof(*p->errors), error_cmp);
    for (size_t i = 0; i < p->n_errors; i++)
        fprintf(f, "%s%s", i ? "\n" : "", p->errors[i].text);
    if (p->n_dropped)
        fprintf(f, "\n%s: and %zu more error%s", p->source, p->n_dropped,
                p->n_dropped == 1 ? "" : "s");
    fclose(f);
    berth_error_set(err, EINVAL, "%s", text ? text : "invalid manifest");
    free(text);
    return -1;
}

int berth_manifest_parse(const char *text, size_t len, const char *source,
                         berth_manifest **ret_manifest, berth_error **err)
{
    mp p = { .source = source && *source ? source : "-" };
    berth_manifest *m = NULL;
    _cleanup_free_ yaml_mark_t *name_marks = NULL;
    yaml_parser_t parser;
    size_t docs = 0;
    int r = -1;

    if (len > BERTH_MANIFEST_BYTES_MAX)
        return berth_error_set(err, EFBIG, "%s: %zu bytes, a manifest may have at most %d",
                               p.source, len, BERTH_MANIFEST_BYTES_MAX);
    if (memchr(text, '\0', len))
        return berth_error_set(err, EINVAL, "%s: not a text file (it has a NUL byte)", p.source);
    if (prescan(&p, text, len, &docs) < 0)
        goto out;
    m = calloc(1, sizeof(*m));
    name_marks = calloc(docs ? docs : 1, sizeof(*name_marks));
    if (!m || !name_marks || !(m->workloads = calloc(docs ? docs : 1, sizeof(*m->workloads)))) {
        p.oom = true;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        p.oom = true;
        goto out;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t doc;
        yaml_node_t *root;
        Workload *w;

        if (!yaml_parser_load(&parser, &doc)) {
            error_mark(&p, parser.problem_mark, "YAML: %s",
                       parser.problem ? parser.problem : "cannot load the document");
            break;
        }
        root = yaml_document_get_root_node(&doc);
        if (!root) { /* the end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        p.doc = &doc;
        if (!is_null(root) && (w = read_document(&p, root, &name_marks[m->n_workloads]))) {
            if (m->n_workloads < docs)
                m->workloads[m->n_workloads++] = w;
            else
                workload_free_unpacked(w, NULL);
        }
        p.doc = NULL;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);

    /* One workload per name in a file. */
    for (size_t i = 0; i < m->n_workloads; i++)
        for (size_t j = 0; j < i; j++)
            if (m->workloads[i]->name && m->workloads[j]->name &&
                strcmp(m->workloads[i]->name, m->workloads[j]->name) == 0) {
                size_t mark = path_field(&p, "metadata.name");

                error_mark(&p, name_marks[i], "'%s' is named by an earlier document too (line %zu)",
                           m->workloads[i]->name, name_marks[j].line + 1);
                path_pop(&p, mark);
                break;
            }
    if (p.n_errors == 0 && !p.oom) {
        *ret_manifest = m;
        m = NULL;
        r = 0;
    }
out:
    if (r < 0)
        fail(&p, err);
    berth_manifest_free(m);
    for (size_t i = 0; i < p.n_errors; i++)
        free(p.errors[i].text);
    free(p.errors);
    return r;
}
