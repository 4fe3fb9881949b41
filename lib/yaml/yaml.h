/* lib/yaml: the one YAML reader of berth. Manifests, agent.yaml,
 * controller.yaml and berthctl's config file are all read through it, so
 * they share one rule set and one way of saying what is wrong.
 *
 * Contract:
 *
 * - Loading is bounded before anything is built: the input's size, its
 *   number of documents, its nesting depth and its number of YAML events
 *   are checked against a berth_yaml_limits in one pass over the events,
 *   and anchors and aliases are refused. Text with a NUL byte is refused.
 *   Only then are documents loaded, one at a time (berth_yaml_next).
 * - Scalars are typed as YAML 1.1, as Kubernetes reads them: a quoted
 *   scalar is a string; a plain one is null ("", ~, null), a boolean
 *   (true/false, yes/no, on/off in three casings), an integer, a float
 *   (1.5, 1e3, .inf, .nan) or else a string. A getter takes only its own
 *   type: `node_name: 123` is "expected a string, got the number 123
 *   (quote it: "123")". A quantity or a duration may be a plain number
 *   where its parser takes one (cpu: 2, memory: 1024, a duration of 0).
 * - Errors are collected, not returned at the first one. Each is one line,
 *   "SOURCE:LINE:COLUMN: PATH: message" (from 1; the path is the dotted
 *   field path with [i] for list items, left out at the top), control
 *   characters of quoted input shown as '?'. Getters and checks record
 *   their errors in the reader and answer false; berth_yaml_finish then
 *   returns every error in one berth_error (EINVAL), sorted by position,
 *   at most BERTH_YAML_ERRORS_MAX lines and a last "SOURCE: and N more
 *   errors". A caller applies what it read only when finish says 0.
 * - Mappings of known fields are read through a field table: an unknown
 *   field is an error with a suggestion when a known name is close ("did
 *   you mean replicas?"), a duplicate one is an error naming the first.
 * - Out of memory aborts (lib/base/xalloc.h), libyaml's included.
 *
 * Nodes belong to the reader's current document: they are valid until the
 * next berth_yaml_next or berth_yaml_close. Strings returned by getters
 * point into the document too, unless said otherwise. Pure but for
 * berth_yaml_open_file; no globals; not thread-safe per reader. */
#ifndef BERTH_YAML_YAML_H
#define BERTH_YAML_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"

/* Errors listed in full; the rest are counted in a last line. */
#define BERTH_YAML_ERRORS_MAX 20

typedef struct berth_yaml berth_yaml;
/* A node of the current document (opaque). */
typedef struct berth_yaml_node berth_yaml_node;

typedef struct berth_yaml_limits {
    const char *what; /* names the input in the size error: "a manifest" */
    size_t bytes, documents, depth, events;
} berth_yaml_limits;

/* Settings files (agent.yaml, controller.yaml, berthctl's config): 256 KiB,
 * one document, 16 levels, 20000 events. */
extern const berth_yaml_limits berth_yaml_settings_limits;

typedef enum berth_yaml_type {
    BERTH_YAML_NULL,
    BERTH_YAML_BOOL,
    BERTH_YAML_INT,
    BERTH_YAML_FLOAT,
    BERTH_YAML_STRING,
    BERTH_YAML_LIST,
    BERTH_YAML_MAPPING,
} berth_yaml_type;

typedef struct berth_yaml_pos {
    size_t line, column; /* from 1 */
} berth_yaml_pos;

/* ---- loading ---- */

/* Check len bytes of text against limits and make a reader. source names
 * the input in errors ("web.yaml"; NULL or "" is "-"); text must outlive
 * the reader. Too big (EFBIG: "SOURCE: N bytes, WHAT may have at most M"),
 * a NUL byte ("SOURCE: not a text file (it has a NUL byte)"), a YAML
 * syntax error, an alias or a bound crossed (EINVAL, the error report)
 * fail here, and no reader is made. */
int berth_yaml_open(const char *text, size_t len, const char *source,
                    const berth_yaml_limits *limits, berth_yaml **ret_yaml, berth_error **err);

/* berth_yaml_open on the file at path, read with limits->bytes as its cap;
 * errors are named by path. A file that does not exist fails with code
 * ENOENT ("open PATH: No such file or directory"), so a caller may treat
 * an optional file as absent; one larger than the cap with EFBIG. */
int berth_yaml_open_file(const char *path, const berth_yaml_limits *limits, berth_yaml **ret_yaml,
                         berth_error **err);

/* Load the next document and give its root: 1, or 0 after the last one.
 * The previous document's nodes are gone. An empty document's root is a
 * null scalar (berth_yaml_is_null). */
int berth_yaml_next(berth_yaml *y, const berth_yaml_node **ret_root);

/* 0 when no error was recorded; else -1 and *err (EINVAL) holds them all,
 * one a line. */
int berth_yaml_finish(berth_yaml *y, berth_error **err);

void berth_yaml_close(berth_yaml *y);
BERTH_DEFINE_CLEANUP(berth_yaml, berth_yaml_close)

/* ---- nodes ---- */

berth_yaml_type berth_yaml_type_of(const berth_yaml_node *n);
/* n is NULL or a null scalar. */
bool berth_yaml_is_null(const berth_yaml_node *n);
/* A scalar's text as written (without quotes); "" for a list or mapping. */
const char *berth_yaml_text(const berth_yaml_node *n);
berth_yaml_pos berth_yaml_pos_of(const berth_yaml_node *n);
/* Items of a list, entries of a mapping; 0 for a scalar. */
size_t berth_yaml_len(const berth_yaml_node *n);
/* Item i (< berth_yaml_len) of a list. */
const berth_yaml_node *berth_yaml_item(const berth_yaml *y, const berth_yaml_node *list, size_t i);
/* Entry i (< berth_yaml_len) of a mapping, unchecked: keys may be of any
 * type and repeat (berth_yaml_each_entry checks them). */
void berth_yaml_entry(const berth_yaml *y, const berth_yaml_node *map, size_t i,
                      const berth_yaml_node **ret_key, const berth_yaml_node **ret_value);

/* ---- the path in errors ---- */

/* Append to the path ("[3]", ".requests.cpu"); returns what to give
 * berth_yaml_pop to restore it. */
size_t berth_yaml_push(berth_yaml *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append a field name: ".name", or "name" at the top. */
size_t berth_yaml_push_field(berth_yaml *y, const char *name);
void berth_yaml_pop(berth_yaml *y, size_t mark);

/* ---- errors ---- */

/* Record "SOURCE:LINE:COLUMN: PATH: message" at node at. */
void berth_yaml_error(berth_yaml *y, const berth_yaml_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same at a position kept from an earlier document. */
void berth_yaml_error_pos(berth_yaml *y, berth_yaml_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "expected WANT, got the string "x"" ("a mapping", "the number 8080",
 * "a list", "null"...); for want "a string" and a scalar, with a hint to
 * quote it. */
void berth_yaml_expected(berth_yaml *y, const berth_yaml_node *n, const char *want);
/* Errors recorded so far, listed or counted. */
size_t berth_yaml_error_count(const berth_yaml *y);

/* ---- scalars: true with *ret, or false with the error recorded ---- */

bool berth_yaml_get_string(berth_yaml *y, const berth_yaml_node *n, const char **ret);
/* An integer in min..max: "1001 is out of range (0..1000)". */
bool berth_yaml_get_int(berth_yaml *y, const berth_yaml_node *n, int64_t min, int64_t max,
                        int64_t *ret);
bool berth_yaml_get_bool(berth_yaml *y, const berth_yaml_node *n, bool *ret);
/* One of words (a NULL-ended list; exact match): *ret is its index. The
 * error lists them: "'Sometimes' is not one of Always, OnFailure, Never". */
bool berth_yaml_get_enum(berth_yaml *y, const berth_yaml_node *n, const char *const *words,
                         int *ret);
/* Quantities (lib/base/quantity.h): a string or a number; cpu in
 * millicores ("500m", 2, 0.5), memory in bytes ("64Mi", 1024). */
bool berth_yaml_get_millicpu(berth_yaml *y, const berth_yaml_node *n, int64_t *ret_millis);
bool berth_yaml_get_bytes(berth_yaml *y, const berth_yaml_node *n, int64_t *ret_bytes);
/* A duration (lib/base/duration.h: "250ms", "1h30m", 0) in min_ns..max_ns:
 * "1ms is out of range (10ms..1h)", or with max_ns INT64_MAX "1ms is below
 * the minimum of 100ms". */
bool berth_yaml_get_duration(berth_yaml *y, const berth_yaml_node *n, int64_t min_ns,
                             int64_t max_ns, int64_t *ret_ns);

/* ---- lists and free mappings ---- */

typedef void (*berth_yaml_item_fn)(berth_yaml *y, const berth_yaml_node *item, size_t i,
                                   void *data);
/* fn for each item of a list, under "[i]". false, with the error
 * recorded, when n is not a list ("expected WANT, got ...") or has more
 * than max items ("N items, at most MAX"; nothing is read then). */
bool berth_yaml_each_item(berth_yaml *y, const berth_yaml_node *n, size_t max, const char *want,
                          berth_yaml_item_fn fn, void *data);

/* A list of at most max strings. *ret_items is a new array of new strings
 * (free each, then the array; berth_yaml_strv_free), written only when
 * every item is a string. */
bool berth_yaml_get_string_list(berth_yaml *y, const berth_yaml_node *n, size_t max,
                                char ***ret_items, size_t *ret_n);
void berth_yaml_strv_free(char **items, size_t n);

/* A mapping whose keys are data (labels, operators): fn for each entry,
 * under the path of its key. Checked here: n is a mapping of at most max
 * entries ("N NOUN, at most MAX", before any key is compared), keys are
 * strings ("keys must be strings") and unique ("duplicate key (first at
 * line L)"); such entries are not given to fn. */
typedef void (*berth_yaml_entry_fn)(berth_yaml *y, const berth_yaml_node *key, const char *name,
                                    const berth_yaml_node *value, void *data);
bool berth_yaml_each_entry(berth_yaml *y, const berth_yaml_node *n, size_t max, const char *noun,
                           berth_yaml_entry_fn fn, void *data);

/* The same where every value is a string (berth_yaml_get_string). */
typedef void (*berth_yaml_string_entry_fn)(berth_yaml *y, const berth_yaml_node *key,
                                           const char *name, const berth_yaml_node *value,
                                           const char *text, void *data);
bool berth_yaml_get_string_map(berth_yaml *y, const berth_yaml_node *n, size_t max,
                               const char *noun, berth_yaml_string_entry_fn fn, void *data);

/* ---- mappings of known fields ---- */

/* A table of the fields a mapping may have, ended by BERTH_YAML_END; a
 * NULL name ends it early (a field one kind of object does not have). */
typedef struct berth_yaml_field {
    const char *name;
    const berth_yaml_node *key;   /* set by berth_yaml_fields; NULL when absent */
    const berth_yaml_node *value; /* NULL when absent or null */
} berth_yaml_field;

#define BERTH_YAML_FIELD(n)                                                                        \
    {                                                                                              \
        .name = (n)                                                                                \
    }
#define BERTH_YAML_END                                                                             \
    {                                                                                              \
        .name = NULL                                                                               \
    }

/* Fill the table from mapping n. Unknown and duplicate fields, and keys
 * that are not strings, are recorded errors ("unknown field (did you mean
 * X?)", "duplicate field (first at line L)"). false when n is not a
 * mapping (recorded). */
bool berth_yaml_fields(berth_yaml *y, const berth_yaml_node *n, berth_yaml_field *fields);

/* The entry for name; a name the table does not have is a bug (abort). */
berth_yaml_field *berth_yaml_field_get(berth_yaml_field *fields, const char *name);
/* Its value: NULL when absent or null. */
const berth_yaml_node *berth_yaml_value(berth_yaml_field *fields, const char *name);

/* "PATH.NAME: required", at the mapping. */
void berth_yaml_required(berth_yaml *y, const berth_yaml_node *map, const char *name);
/* An error about a present field's value, under its path. */
void berth_yaml_field_error(berth_yaml *y, berth_yaml_field *fields, const char *name,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Typed fields: each reads the field, when present and not null, with the
 * getter of its type under its path. true with *ret when it is there and
 * valid; false when absent (nothing recorded) or invalid (recorded). */
bool berth_yaml_opt_string(berth_yaml *y, berth_yaml_field *fields, const char *name,
                           const char **ret);
bool berth_yaml_opt_int(berth_yaml *y, berth_yaml_field *fields, const char *name, int64_t min,
                        int64_t max, int64_t *ret);
bool berth_yaml_opt_bool(berth_yaml *y, berth_yaml_field *fields, const char *name, bool *ret);
bool berth_yaml_opt_enum(berth_yaml *y, berth_yaml_field *fields, const char *name,
                         const char *const *words, int *ret);
bool berth_yaml_opt_millicpu(berth_yaml *y, berth_yaml_field *fields, const char *name,
                             int64_t *ret_millis);
bool berth_yaml_opt_bytes(berth_yaml *y, berth_yaml_field *fields, const char *name,
                          int64_t *ret_bytes);
bool berth_yaml_opt_duration(berth_yaml *y, berth_yaml_field *fields, const char *name,
                             int64_t min_ns, int64_t max_ns, int64_t *ret_ns);
/* A required string: absent or null is "required", at map. */
bool berth_yaml_req_string(berth_yaml *y, const berth_yaml_node *map, berth_yaml_field *fields,
                           const char *name, const char **ret);

/* Read a present field's value with fn under its path (a nested mapping,
 * a list, anything). true when it was there. */
typedef void (*berth_yaml_sub_fn)(berth_yaml *y, const berth_yaml_node *n, void *data);
bool berth_yaml_opt_sub(berth_yaml *y, berth_yaml_field *fields, const char *name,
                        berth_yaml_sub_fn fn, void *data);

#endif
