/* berthctl's output: aligned tables, and any protobuf message as JSON or
 * YAML through its descriptor (protobuf's JSON mapping, built with jansson). */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"

int berthctl_format_parse(const char *s, berthctl_format *ret)
{
    if (!*s || strcmp(s, "table") == 0)
        *ret = BERTHCTL_TABLE;
    else if (strcmp(s, "wide") == 0)
        *ret = BERTHCTL_WIDE;
    else if (strcmp(s, "json") == 0)
        *ret = BERTHCTL_JSON;
    else if (strcmp(s, "yaml") == 0)
        *ret = BERTHCTL_YAML;
    else
        return -1;
    return 0;
}

bool berthctl_colour(FILE *f)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

    return isatty(fileno(f)) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

/* ---- tables ---- */

struct berthctl_table {
    size_t n_cols, n_rows, cap;
    char **cells;         /* n_rows * n_cols, row 0 the headers */
    const char **colours; /* the same shape */
};

berthctl_table *berthctl_table_new(size_t n_cols, const char *const *headers)
{
    berthctl_table *t = berth_xcalloc(1, sizeof(*t));

    t->n_cols = n_cols;
    berthctl_table_add(t, headers, NULL);
    return t;
}

void berthctl_table_add(berthctl_table *t, const char *const *cells, const char *const *colours)
{
    if (!t)
        return;
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;

        t->cells = berth_xreallocarray(t->cells, cap * t->n_cols, sizeof(*t->cells));
        t->colours = berth_xreallocarray(t->colours, cap * t->n_cols, sizeof(*t->colours));
        t->cap = cap;
    }
    for (size_t i = 0; i < t->n_cols; i++) {
        t->cells[t->n_rows * t->n_cols + i] = berth_xstrdup(cells[i] && *cells[i] ? cells[i] : "-");
        t->colours[t->n_rows * t->n_cols + i] = colours ? colours[i] : NULL;
    }
    t->n_rows++;
}

void berthctl_table_print(berthctl_table *t, FILE *out)
{
    bool colour = berthctl_colour(out);
    size_t *width;

    if (!t)
        return;
    width = berth_xcalloc(t->n_cols, sizeof(*width));
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            size_t w = cell ? strlen(cell) : 0;

            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            const char *k = t->colours[r * t->n_cols + c];
            bool last = c + 1 == t->n_cols;

            if (!cell)
                cell = "";
            if (colour && k)
                fprintf(out, "\033[%sm%s\033[0m", k, cell);
            else
                fputs(cell, out);
            if (!last)
                fprintf(out, "%*s", (int)(width[c] - strlen(cell) + 3), "");
        }
        fputc('\n', out);
    }
    free(width);
}

void berthctl_table_free(berthctl_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->colours);
    free(t);
}

/* ---- words ---- */

char *berthctl_age(int64_t unix_ns, char *buf, size_t size)
{
    int64_t s;

    if (unix_ns <= 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    s = (berth_now_real_ns() - unix_ns) / BERTH_NSEC_PER_SEC;
    if (s < 0)
        s = 0;
    if (s < 120)
        snprintf(buf, size, "%" PRId64 "s", s);
    else if (s < 120 * 60)
        snprintf(buf, size, "%" PRId64 "m", s / 60);
    else if (s < 48 * 3600)
        snprintf(buf, size, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, size, "%" PRId64 "d", s / 86400);
    return buf;
}

const char *berthctl_node_status(const Node *n, char *buf, size_t size)
{
    const char *phase;

    switch (n->phase) {
    case NODE_READY:
        phase = "Ready";
        break;
    case NODE_UNKNOWN:
        phase = "Unknown";
        break;
    case NODE_DOWN:
        phase = "Down";
        break;
    case NODE_PENDING_APPROVAL:
        phase = "PendingApproval";
        break;
    default:
        phase = "Unspecified";
        break;
    }
    snprintf(buf, size, "%s%s", phase,
             n->drained    ? ",Drained"
             : n->cordoned ? ",SchedulingDisabled"
                           : "");
    return buf;
}

const char *berthctl_container_state(ContainerState state)
{
    static const char *const names[] = {
        [CONTAINER_PENDING] = "Pending",       [CONTAINER_STARTING] = "Starting",
        [CONTAINER_CREATED] = "Created",       [CONTAINER_RUNNING] = "Running",
        [CONTAINER_EXITED] = "Exited",         [CONTAINER_OOM_KILLED] = "OOMKilled",
        [CONTAINER_RESTARTING] = "Restarting", [CONTAINER_FAILED] = "Failed",
    };

    if ((unsigned)state < sizeof(names) / sizeof(names[0]) && names[state])
        return names[state];
    return "Unknown";
}

const char *berthctl_status_colour(const char *word)
{
    if (strncmp(word, "Ready", 5) == 0)
        return word[5] == ',' ? "33" : "32"; /* green; yellow when cordoned */
    if (strcmp(word, "Running") == 0 || strcmp(word, "yes") == 0)
        return "32";
    if (strcmp(word, "Down") == 0 || strcmp(word, "Failed") == 0 ||
        strcmp(word, "OOMKilled") == 0 || strcmp(word, "no") == 0 || strcmp(word, "missing") == 0)
        return "31"; /* red */
    if (strcmp(word, "Unknown") == 0 || strcmp(word, "Restarting") == 0 ||
        strcmp(word, "PendingApproval") == 0)
        return "33"; /* yellow */
    return NULL;
}

/* ---- JSON and YAML ---- */

/* A message becomes a jansson tree following protobuf's JSON mapping:
 * field names in lowerCamelCase (protoc's json_name), enums by name, 64-bit
 * integers as strings (a double cannot hold them: jq 1.6 rounds them),
 * bytes in base64, maps as objects, proto3 defaults left out, NaN and the
 * infinities as the strings "NaN", "Infinity", "-Infinity". The JSON
 * output is jansson's; the YAML output walks the same tree. */

/* proto field name to its json_name, as protoc derives it. */
static void camel(const char *name, char *out, size_t size)
{
    size_t n = 0;
    bool up = false;

    for (; *name && n + 1 < size; name++) {
        if (*name == '_') {
            up = true;
            continue;
        }
        out[n++] = up ? (char)toupper((unsigned char)*name) : *name;
        up = false;
    }
    out[n] = '\0';
}

/* The length of the UTF-8 sequence at p (at most left bytes), 0 when it
 * is not one (overlong, surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t k;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] < 0xc2 || p[0] > 0xf4)
        return 0;
    k = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    if (k > left)
        return 0;
    cp = p[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

/* A JSON string of s; bytes that are not UTF-8 become U+FFFD (protobuf-c
 * does not check that strings are UTF-8; jansson takes nothing else). */
static json_t *jstr(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), n = 0;
    char *fixed;
    json_t *j = json_string(s);

    if (j)
        return j;
    fixed = berth_xmalloc(3 * len + 1);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);

        if (k) {
            memcpy(fixed + n, s + i, k);
            n += k;
            i += k;
        } else {
            memcpy(fixed + n, "\xef\xbf\xbd", 3);
            n += 3;
            i++;
        }
    }
    j = json_stringn(fixed, n);
    free(fixed);
    if (!j)
        berth_oom();
    return j;
}

static void jset(json_t *obj, const char *key, json_t *value)
{
    json_t *k;

    if (!value)
        return;
    if (json_object_set_new(obj, key, value) == 0)
        return;
    k = jstr(key); /* a map key that is not UTF-8 */
    if (json_object_set_new(obj, json_string_value(k), value) < 0)
        berth_oom();
    json_decref(k);
}

static void jappend(json_t *arr, json_t *value)
{
    if (value && json_array_append_new(arr, value) < 0)
        berth_oom();
}

static json_t *jcheck(json_t *j)
{
    if (!j)
        berth_oom();
    return j;
}

static json_t *message_json(const ProtobufCMessage *m);

static bool is_map(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;

    return f->type == PROTOBUF_C_TYPE_MESSAGE && f->label == PROTOBUF_C_LABEL_REPEATED && d &&
           d->n_fields == 2 && strcmp(d->fields[0].name, "key") == 0 &&
           strcmp(d->fields[1].name, "value") == 0 && strlen(d->name) > 5 &&
           strcmp(d->name + strlen(d->name) - 5, "Entry") == 0;
}

static json_t *double_json(double v)
{
    if (isnan(v))
        return jcheck(json_string("NaN"));
    if (isinf(v))
        return jcheck(json_string(v > 0 ? "Infinity" : "-Infinity"));
    return jcheck(json_real(v));
}

/* One value of field f at p (an element of a repeated field or the member
 * itself). NULL when it is proto3's default and not in a list. */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p, bool in_list)
{
    char buf[32];

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!in_list && !*(const int32_t *)p)
            return NULL;
        return jcheck(json_integer(*(const int32_t *)p));
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!in_list && !*(const uint32_t *)p)
            return NULL;
        return jcheck(json_integer(*(const uint32_t *)p));
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!in_list && !*(const int64_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)p);
        return jcheck(json_string(buf));
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!in_list && !*(const uint64_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p);
        return jcheck(json_string(buf));
    case PROTOBUF_C_TYPE_FLOAT:
        if (!in_list && *(const float *)p == 0)
            return NULL;
        return double_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!in_list && *(const double *)p == 0)
            return NULL;
        return double_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        if (!in_list && !*(const protobuf_c_boolean *)p)
            return NULL;
        return jcheck(json_boolean(*(const protobuf_c_boolean *)p));
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

        if (!in_list && !*(const int *)p)
            return NULL;
        return v ? jstr(v->name) : jcheck(json_integer(*(const int *)p));
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;

        if (!s || (!in_list && !*s))
            return NULL;
        return jstr(s);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        size_t len = sodium_base64_encoded_len(b->len, sodium_base64_VARIANT_ORIGINAL);
        char *text;
        json_t *j;

        if (!in_list && !b->len)
            return NULL;
        text = berth_xmalloc(len);
        sodium_bin2base64(text, len, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
        j = jcheck(json_string(text));
        free(text);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

        return sub ? message_json(sub) : NULL;
    }
    }
    return NULL;
}

static size_t type_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* A map field's entries as an object: the key's text, the value's JSON. */
static json_t *map_json(const ProtobufCFieldDescriptor *f, const char *arr, size_t n)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    json_t *obj = jcheck(json_object());

    for (size_t k = 0; k < n; k++) {
        const char *e = *(char *const *)(arr + k * sizeof(void *));
        char buf[32];
        const char *key = buf;

        switch (kf->type) {
        case PROTOBUF_C_TYPE_STRING:
            key = *(char *const *)(e + kf->offset);
            key = key ? key : "";
            break;
        case PROTOBUF_C_TYPE_BOOL:
            key = *(const protobuf_c_boolean *)(e + kf->offset) ? "true" : "false";
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)(e + kf->offset));
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)(e + kf->offset));
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *)(e + kf->offset));
            break;
        default:
            snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *)(e + kf->offset));
            break;
        }
        jset(obj, key, value_json(vf, e + vf->offset, true));
    }
    return obj;
}

static json_t *message_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *obj = jcheck(json_object());

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char name[96];

        camel(f->name, name, sizeof(name));
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) == f->id)
                jset(obj, name, value_json(f, base + f->offset, true));
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            json_t *list;

            if (!n)
                continue;
            if (is_map(f)) {
                jset(obj, name, map_json(f, arr, n));
                continue;
            }
            list = jcheck(json_array());
            for (size_t k = 0; k < n; k++)
                jappend(list, value_json(f, arr + k * type_size(f->type), true));
            jset(obj, name, list);
            continue;
        }
        jset(obj, name, value_json(f, base + f->offset, false));
    }
    return obj;
}

/* Reals with 15 significant digits: 0.55 stays 0.55. */
#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

/* Whether s can stand as a plain YAML scalar, read back as the same string. */
static bool yaml_plain(const char *s)
{
    static const char *const words[] = { "true", "false", "yes",  "no",    "on", "off",
                                         "null", "~",     "True", "False", NULL };

    if (!*s || strchr("-?:,[]{}#&*!|>'\"%@` ", s[0]) || isdigit((unsigned char)s[0]) || s[0] == '.')
        return false;
    for (int i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._/-+=()", *p)))
            return false;
    return true;
}

/* A string as a YAML scalar: plain when it reads back the same, else
 * double-quoted (a JSON string is a YAML double-quoted scalar). */
static void yaml_string(const char *s, FILE *out)
{
    json_t *j;

    if (yaml_plain(s)) {
        fputs(s, out);
        return;
    }
    j = jstr(s);
    json_dumpf(j, out, JSON_ENCODE_ANY);
    json_decref(j);
}

static void yaml_scalar(const json_t *j, FILE *out)
{
    if (json_is_string(j))
        yaml_string(json_string_value(j), out);
    else if (json_is_object(j))
        fputs("{}", out);
    else if (json_is_array(j))
        fputs("[]", out);
    else
        json_dumpf(j, out, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

static bool yaml_is_block(const json_t *j)
{
    return (json_is_object(j) && json_object_size(j) > 0) ||
           (json_is_array(j) && json_array_size(j) > 0);
}

static void yaml_print(const json_t *j, int indent, bool hanging, FILE *out);

/* One entry (key NULL: a list item) at indent; the first one's indent is
 * already written when hanging (a list item's "- "). */
static void yaml_entry(const char *key, const json_t *v, int indent, bool hanging, FILE *out)
{
    if (!hanging)
        fprintf(out, "%*s", indent, "");
    if (key) {
        yaml_string(key, out);
        fputc(':', out);
    } else {
        fputc('-', out);
    }
    if (!yaml_is_block(v)) {
        fputc(' ', out);
        yaml_scalar(v, out);
        fputc('\n', out);
    } else if (!key && json_is_object(v)) {
        fputc(' ', out); /* "- key: value", the rest aligned under key */
        yaml_print(v, indent + 2, true, out);
    } else {
        fputc('\n', out);
        yaml_print(v, indent + 2, false, out);
    }
}

static void yaml_print(const json_t *j, int indent, bool hanging, FILE *out)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        i = 0;
        json_object_foreach((json_t *)j, key, v)
            yaml_entry(key, v, indent, hanging && i++ == 0, out);
    } else {
        json_array_foreach(j, i, v) yaml_entry(NULL, v, indent, hanging && i == 0, out);
    }
}

void berthctl_print_json(const ProtobufCMessage *m, FILE *out)
{
    json_t *j = message_json(m);

    json_dumpf(j, out, JSON_FLAGS);
    fputc('\n', out);
    json_decref(j);
}

void berthctl_print_yaml(const ProtobufCMessage *m, FILE *out)
{
    json_t *j = message_json(m);

    if (json_object_size(j) == 0)
        fputs("{}\n", out);
    else
        yaml_print(j, 0, false, out);
    json_decref(j);
}
