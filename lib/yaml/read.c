/* Reading a loaded document: the YAML 1.1 type of a scalar, typed getters
 * that record what is wrong where it is, lists, free mappings, and field
 * tables with suggestions for names that are almost right. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/duration.h"
#include "base/quantity.h"
#include "base/xalloc.h"
#include "yaml-internal.h"

/* ---- scalars ---- */

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

const char *berth_yaml_text(const berth_yaml_node *n)
{
    const yaml_node_t *node = yaml_node_of(n);

    return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : "";
}

/* The type YAML 1.1 gives a node (as Kubernetes' YAML reader does):
 * quoted scalars are strings; plain ones may be null, booleans or numbers. */
berth_yaml_type berth_yaml_type_of(const berth_yaml_node *n)
{
    const yaml_node_t *node = yaml_node_of(n);
    const char *s = berth_yaml_text(n);

    if (node->type == YAML_MAPPING_NODE)
        return BERTH_YAML_MAPPING;
    if (node->type == YAML_SEQUENCE_NODE)
        return BERTH_YAML_LIST;
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
        node->data.scalar.style != YAML_ANY_SCALAR_STYLE)
        return BERTH_YAML_STRING;
    if (word_in(s, null_words))
        return BERTH_YAML_NULL;
    if (word_in(s, true_words) || word_in(s, false_words))
        return BERTH_YAML_BOOL;
    if (looks_int(s))
        return BERTH_YAML_INT;
    if (looks_float(s))
        return BERTH_YAML_FLOAT;
    return BERTH_YAML_STRING;
}

bool berth_yaml_is_null(const berth_yaml_node *n)
{
    return !n || berth_yaml_type_of(n) == BERTH_YAML_NULL;
}

static bool is_scalar(const berth_yaml_node *n)
{
    berth_yaml_type t = berth_yaml_type_of(n);

    return t != BERTH_YAML_LIST && t != BERTH_YAML_MAPPING;
}

/* "a mapping", "the number 8080" ... for "expected X, got Y". */
static void describe(const berth_yaml_node *n, char *buf, size_t size)
{
    const char *s = berth_yaml_text(n);

    switch (berth_yaml_type_of(n)) {
    case BERTH_YAML_MAPPING:
        snprintf(buf, size, "a mapping");
        return;
    case BERTH_YAML_LIST:
        snprintf(buf, size, "a list");
        return;
    case BERTH_YAML_NULL:
        snprintf(buf, size, "null");
        return;
    case BERTH_YAML_BOOL:
        snprintf(buf, size, "the boolean %.40s", s);
        return;
    case BERTH_YAML_INT:
    case BERTH_YAML_FLOAT:
        snprintf(buf, size, "the number %.40s", s);
        return;
    default:
        snprintf(buf, size, "the string \"%.40s%s\"", s, strlen(s) > 40 ? "..." : "");
        return;
    }
}

void berth_yaml_expected(berth_yaml *y, const berth_yaml_node *n, const char *want)
{
    char got[96];

    describe(n, got, sizeof(got));
    if (strcmp(want, "a string") == 0 && is_scalar(n) && !berth_yaml_is_null(n))
        berth_yaml_error(y, n, "expected a string, got %s (quote it: \"%.40s\")", got,
                         berth_yaml_text(n));
    else
        berth_yaml_error(y, n, "expected %s, got %s", want, got);
}

bool berth_yaml_get_string(berth_yaml *y, const berth_yaml_node *n, const char **ret)
{
    if (berth_yaml_type_of(n) != BERTH_YAML_STRING) {
        berth_yaml_expected(y, n, "a string");
        return false;
    }
    *ret = berth_yaml_text(n);
    return true;
}

bool berth_yaml_get_int(berth_yaml *y, const berth_yaml_node *n, int64_t min, int64_t max,
                        int64_t *ret)
{
    const char *s = berth_yaml_text(n);
    char *end;
    long long v;

    if (berth_yaml_type_of(n) != BERTH_YAML_INT) {
        berth_yaml_expected(y, n, "an integer");
        return false;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        berth_yaml_error(y, n, "%s is out of range (%" PRId64 "..%" PRId64 ")", s, min, max);
        return false;
    }
    *ret = v;
    return true;
}

bool berth_yaml_get_bool(berth_yaml *y, const berth_yaml_node *n, bool *ret)
{
    if (berth_yaml_type_of(n) != BERTH_YAML_BOOL) {
        berth_yaml_expected(y, n, "true or false");
        return false;
    }
    *ret = word_in(berth_yaml_text(n), true_words);
    return true;
}

bool berth_yaml_get_enum(berth_yaml *y, const berth_yaml_node *n, const char *const *words,
                         int *ret)
{
    const char *s;
    char list[256] = "";

    if (!berth_yaml_get_string(y, n, &s))
        return false;
    for (int i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0) {
            *ret = i;
            return true;
        }
    for (int i = 0; words[i]; i++) {
        size_t len = strlen(list);

        snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                 *words[i] ? words[i] : "\"\"");
    }
    berth_yaml_error(y, n, "'%.60s' is not one of %s", s, list);
    return false;
}

/* A string or a number, for the parsers of quantities and durations. */
static bool number_or_string(berth_yaml *y, const berth_yaml_node *n, const char *want)
{
    berth_yaml_type t = berth_yaml_type_of(n);

    if (t != BERTH_YAML_STRING && t != BERTH_YAML_INT && t != BERTH_YAML_FLOAT) {
        berth_yaml_expected(y, n, want);
        return false;
    }
    return true;
}

static bool get_quantity(berth_yaml *y, const berth_yaml_node *n, bool cpu, int64_t *ret)
{
    _cleanup_error_ berth_error *e = NULL;
    int64_t v;
    int r;

    if (!number_or_string(y, n, "a quantity"))
        return false;
    r = cpu ? berth_parse_millicpu(berth_yaml_text(n), &v, &e)
            : berth_parse_bytes(berth_yaml_text(n), &v, &e);
    if (r < 0) {
        berth_yaml_error(y, n, "%s", e->msg);
        return false;
    }
    *ret = v;
    return true;
}

bool berth_yaml_get_millicpu(berth_yaml *y, const berth_yaml_node *n, int64_t *ret_millis)
{
    return get_quantity(y, n, true, ret_millis);
}

bool berth_yaml_get_bytes(berth_yaml *y, const berth_yaml_node *n, int64_t *ret_bytes)
{
    return get_quantity(y, n, false, ret_bytes);
}

bool berth_yaml_get_duration(berth_yaml *y, const berth_yaml_node *n, int64_t min_ns,
                             int64_t max_ns, int64_t *ret_ns)
{
    _cleanup_error_ berth_error *e = NULL;
    const char *s = berth_yaml_text(n), *msg;
    char lo[32], hi[32];
    int64_t v;

    if (!number_or_string(y, n, "a duration"))
        return false;
    /* The parser's messages start with "WHAT: "; the path says it here. */
    if (berth_parse_duration(s, "", &v, &e) < 0) {
        msg = strncmp(e->msg, ": ", 2) == 0 ? e->msg + 2 : e->msg;
        berth_yaml_error(y, n, "%s", msg);
        return false;
    }
    if (v < min_ns || v > max_ns) {
        berth_format_duration(min_ns, lo, sizeof(lo));
        if (max_ns == INT64_MAX)
            berth_yaml_error(y, n, "%s is below the minimum of %s", s, lo);
        else
            berth_yaml_error(y, n, "%s is out of range (%s..%s)", s, lo,
                             berth_format_duration(max_ns, hi, sizeof(hi)));
        return false;
    }
    *ret_ns = v;
    return true;
}

/* ---- lists ---- */

bool berth_yaml_each_item(berth_yaml *y, const berth_yaml_node *n, size_t max, const char *want,
                          berth_yaml_item_fn fn, void *data)
{
    size_t count = berth_yaml_len(n);

    if (berth_yaml_type_of(n) != BERTH_YAML_LIST) {
        berth_yaml_expected(y, n, want);
        return false;
    }
    if (count > max) {
        berth_yaml_error(y, n, "%zu items, at most %zu", count, max);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        size_t mark = berth_yaml_push(y, "[%zu]", i);

        fn(y, berth_yaml_item(y, n, i), i, data);
        berth_yaml_pop(y, mark);
    }
    return true;
}

void berth_yaml_strv_free(char **items, size_t n)
{
    for (size_t i = 0; i < n && items; i++)
        free(items[i]);
    free(items);
}

typedef struct strings {
    const char **items;
    size_t n_valid;
} strings;

static void take_string(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    strings *s = data;

    if (berth_yaml_get_string(y, item, &s->items[i]))
        s->n_valid++;
}

bool berth_yaml_get_string_list(berth_yaml *y, const berth_yaml_node *n, size_t max,
                                char ***ret_items, size_t *ret_n)
{
    size_t count = berth_yaml_len(n);
    _cleanup_free_ const char **items = NULL;
    strings s;
    char **copy;

    /* Nothing is allocated before the bound: each_item reports these. */
    if (berth_yaml_type_of(n) != BERTH_YAML_LIST || count > max)
        return berth_yaml_each_item(y, n, max, "a list of strings", take_string, NULL);
    items = berth_xcalloc(count, sizeof(*items));
    s = (strings){ items, 0 };
    if (!berth_yaml_each_item(y, n, max, "a list of strings", take_string, &s) ||
        s.n_valid != count)
        return false;
    copy = berth_xcalloc(count, sizeof(*copy));
    for (size_t i = 0; i < count; i++)
        copy[i] = berth_xstrdup(items[i]);
    *ret_items = copy;
    *ret_n = count;
    return true;
}

/* ---- mappings whose keys are data ---- */

bool berth_yaml_each_entry(berth_yaml *y, const berth_yaml_node *n, size_t max, const char *noun,
                           berth_yaml_entry_fn fn, void *data)
{
    size_t count = berth_yaml_len(n);

    if (berth_yaml_type_of(n) != BERTH_YAML_MAPPING) {
        berth_yaml_expected(y, n, "a mapping");
        return false;
    }
    /* Before the keys are compared with each other: that is quadratic. */
    if (count > max) {
        berth_yaml_error(y, n, "%zu %s, at most %zu", count, noun, max);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const berth_yaml_node *k, *v, *first = NULL;
        const char *name;
        size_t mark;

        berth_yaml_entry(y, n, i, &k, &v);
        if (berth_yaml_type_of(k) != BERTH_YAML_STRING) {
            berth_yaml_error(y, k, "keys must be strings");
            continue;
        }
        name = berth_yaml_text(k);
        for (size_t j = 0; j < i && !first; j++) {
            const berth_yaml_node *qk, *qv;

            berth_yaml_entry(y, n, j, &qk, &qv);
            if (berth_yaml_type_of(qk) == BERTH_YAML_STRING &&
                strcmp(berth_yaml_text(qk), name) == 0)
                first = qk;
        }
        mark = berth_yaml_push_field(y, name);
        if (first)
            berth_yaml_error(y, k, "duplicate key (first at line %zu)",
                             berth_yaml_pos_of(first).line);
        else
            fn(y, k, name, v, data);
        berth_yaml_pop(y, mark);
    }
    return true;
}

typedef struct string_entries {
    berth_yaml_string_entry_fn fn;
    void *data;
} string_entries;

static void string_entry(berth_yaml *y, const berth_yaml_node *key, const char *name,
                         const berth_yaml_node *value, void *data)
{
    string_entries *se = data;
    const char *text;

    if (berth_yaml_get_string(y, value, &text))
        se->fn(y, key, name, value, text, se->data);
}

bool berth_yaml_get_string_map(berth_yaml *y, const berth_yaml_node *n, size_t max,
                               const char *noun, berth_yaml_string_entry_fn fn, void *data)
{
    string_entries se = { fn, data };

    return berth_yaml_each_entry(y, n, max, noun, string_entry, &se);
}

/* ---- field tables ---- */

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

/* The known name closest to name, if any is close (fewer than 3 edits). */
static const char *suggestion(const berth_yaml_field *fields, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;

    for (const berth_yaml_field *c = fields; c->name; c++) {
        size_t d = distance(c->name, name);

        if (d < best_d) {
            best_d = d;
            best = c->name;
        }
    }
    return best;
}

bool berth_yaml_fields(berth_yaml *y, const berth_yaml_node *n, berth_yaml_field *fields)
{
    if (berth_yaml_type_of(n) != BERTH_YAML_MAPPING) {
        berth_yaml_expected(y, n, "a mapping");
        return false;
    }
    for (size_t i = 0; i < berth_yaml_len(n); i++) {
        const berth_yaml_node *k, *v;
        berth_yaml_field *f = NULL;
        const char *name, *near;
        size_t mark;

        berth_yaml_entry(y, n, i, &k, &v);
        if (berth_yaml_type_of(k) != BERTH_YAML_STRING) {
            berth_yaml_error(y, k, "field names must be strings");
            continue;
        }
        name = berth_yaml_text(k);
        for (berth_yaml_field *c = fields; c->name && !f; c++)
            if (strcmp(c->name, name) == 0)
                f = c;
        mark = berth_yaml_push_field(y, name);
        if (!f) {
            /* Suggestions cost: none for errors past the cap. */
            near = yaml_error_listed(y, berth_yaml_pos_of(k)) ? suggestion(fields, name) : NULL;
            if (near)
                berth_yaml_error(y, k, "unknown field (did you mean %s?)", near);
            else
                berth_yaml_error(y, k, "unknown field");
        } else if (f->key) {
            berth_yaml_error(y, k, "duplicate field (first at line %zu)",
                             berth_yaml_pos_of(f->key).line);
        } else {
            f->key = k;
            f->value = berth_yaml_is_null(v) ? NULL : v;
        }
        berth_yaml_pop(y, mark);
    }
    return true;
}

berth_yaml_field *berth_yaml_field_get(berth_yaml_field *fields, const char *name)
{
    for (; fields->name; fields++)
        if (strcmp(fields->name, name) == 0)
            return fields;
    abort(); /* a name not in the table: a bug */
}

const berth_yaml_node *berth_yaml_value(berth_yaml_field *fields, const char *name)
{
    return berth_yaml_field_get(fields, name)->value;
}

void berth_yaml_required(berth_yaml *y, const berth_yaml_node *map, const char *name)
{
    size_t mark = berth_yaml_push_field(y, name);

    berth_yaml_error(y, map, "required");
    berth_yaml_pop(y, mark);
}

void berth_yaml_field_error(berth_yaml *y, berth_yaml_field *fields, const char *name,
                            const char *fmt, ...)
{
    berth_yaml_field *f = berth_yaml_field_get(fields, name);
    size_t mark = berth_yaml_push_field(y, name);
    va_list ap;

    va_start(ap, fmt);
    yaml_errorv(y, berth_yaml_pos_of(f->value ? f->value : f->key), fmt, ap);
    va_end(ap);
    berth_yaml_pop(y, mark);
}

/* The typed fields: the getter under the field's path. */
#define OPT_FIELD(y, fields, name, get)                                                            \
    ({                                                                                             \
        const berth_yaml_node *_v = berth_yaml_value((fields), (name));                            \
        bool _ok = false;                                                                          \
        if (_v) {                                                                                  \
            size_t _mark = berth_yaml_push_field((y), (name));                                     \
            _ok = (get);                                                                           \
            berth_yaml_pop((y), _mark);                                                            \
        }                                                                                          \
        _ok;                                                                                       \
    })

bool berth_yaml_opt_string(berth_yaml *y, berth_yaml_field *fields, const char *name,
                           const char **ret)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_string(y, _v, ret));
}

bool berth_yaml_opt_int(berth_yaml *y, berth_yaml_field *fields, const char *name, int64_t min,
                        int64_t max, int64_t *ret)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_int(y, _v, min, max, ret));
}

bool berth_yaml_opt_bool(berth_yaml *y, berth_yaml_field *fields, const char *name, bool *ret)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_bool(y, _v, ret));
}

bool berth_yaml_opt_enum(berth_yaml *y, berth_yaml_field *fields, const char *name,
                         const char *const *words, int *ret)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_enum(y, _v, words, ret));
}

bool berth_yaml_opt_millicpu(berth_yaml *y, berth_yaml_field *fields, const char *name,
                             int64_t *ret_millis)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_millicpu(y, _v, ret_millis));
}

bool berth_yaml_opt_bytes(berth_yaml *y, berth_yaml_field *fields, const char *name,
                          int64_t *ret_bytes)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_bytes(y, _v, ret_bytes));
}

bool berth_yaml_opt_duration(berth_yaml *y, berth_yaml_field *fields, const char *name,
                             int64_t min_ns, int64_t max_ns, int64_t *ret_ns)
{
    return OPT_FIELD(y, fields, name, berth_yaml_get_duration(y, _v, min_ns, max_ns, ret_ns));
}

bool berth_yaml_req_string(berth_yaml *y, const berth_yaml_node *map, berth_yaml_field *fields,
                           const char *name, const char **ret)
{
    if (!berth_yaml_value(fields, name)) {
        berth_yaml_required(y, map, name);
        return false;
    }
    return berth_yaml_opt_string(y, fields, name, ret);
}

bool berth_yaml_opt_sub(berth_yaml *y, berth_yaml_field *fields, const char *name,
                        berth_yaml_sub_fn fn, void *data)
{
    return OPT_FIELD(y, fields, name, (fn(y, _v, data), true));
}
