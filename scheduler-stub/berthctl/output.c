/* berthctl's output: aligned tables, and any protobuf message as JSON or
 * YAML through its descriptor. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* A tree of the message, printed by either format. */
typedef enum jtype { J_OBJ, J_ARR, J_STR, J_RAW } jtype;

typedef struct jnode {
    jtype t;
    char *key;  /* in an object */
    char *text; /* J_STR, J_RAW */
    struct jnode **kids;
    size_t n;
} jnode;

static jnode *jnew(jtype t, const char *key, const char *text)
{
    jnode *j = berth_xcalloc(1, sizeof(*j));

    j->t = t;
    j->key = key ? berth_xstrdup(key) : NULL;
    j->text = text ? berth_xstrdup(text) : NULL;
    return j;
}

static void jadd(jnode *parent, jnode *kid)
{
    if (!parent || !kid)
        return;
    parent->kids = berth_xreallocarray(parent->kids, parent->n + 1, sizeof(*parent->kids));
    parent->kids[parent->n++] = kid;
}

static void jfree(jnode *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++)
        jfree(j->kids[i]);
    free(j->kids);
    free(j->key);
    free(j->text);
    free(j);
}

/* proto field name to JSON's lowerCamelCase. */
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

static jnode *message_tree(const ProtobufCMessage *m, const char *key);

static bool is_map(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;

    return f->type == PROTOBUF_C_TYPE_MESSAGE && f->label == PROTOBUF_C_LABEL_REPEATED && d &&
           d->n_fields == 2 && strcmp(d->fields[0].name, "key") == 0 &&
           strcmp(d->fields[1].name, "value") == 0 && strlen(d->name) > 5 &&
           strcmp(d->name + strlen(d->name) - 5, "Entry") == 0;
}

/* One value of field f at p (an element of a repeated field or the member
 * itself). NULL when it is proto3's default and not in a list. */
static jnode *value_tree(const ProtobufCFieldDescriptor *f, const void *p, const char *key,
                         bool in_list)
{
    char buf[64];

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!in_list && !*(const int32_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRId32, *(const int32_t *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!in_list && !*(const uint32_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRIu32, *(const uint32_t *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!in_list && !*(const int64_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!in_list && !*(const uint64_t *)p)
            return NULL;
        snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_FLOAT:
        if (!in_list && *(const float *)p == 0)
            return NULL;
        snprintf(buf, sizeof(buf), "%g", (double)*(const float *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!in_list && *(const double *)p == 0)
            return NULL;
        snprintf(buf, sizeof(buf), "%g", *(const double *)p);
        return jnew(J_RAW, key, buf);
    case PROTOBUF_C_TYPE_BOOL:
        if (!in_list && !*(const protobuf_c_boolean *)p)
            return NULL;
        return jnew(J_RAW, key, *(const protobuf_c_boolean *)p ? "true" : "false");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

        if (!in_list && !*(const int *)p)
            return NULL;
        if (v)
            return jnew(J_STR, key, v->name);
        snprintf(buf, sizeof(buf), "%d", *(const int *)p);
        return jnew(J_RAW, key, buf);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;

        if (!s || (!in_list && !*s))
            return NULL;
        return jnew(J_STR, key, s);
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        size_t len = sodium_base64_encoded_len(b->len, sodium_base64_VARIANT_ORIGINAL);
        char *text;
        jnode *j;

        if (!in_list && !b->len)
            return NULL;
        text = berth_xmalloc(len);
        sodium_bin2base64(text, len, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
        j = jnew(J_STR, key, text);
        free(text);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;

        return sub ? message_tree(sub, key) : NULL;
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

static jnode *message_tree(const ProtobufCMessage *m, const char *key)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    jnode *obj = jnew(J_OBJ, key, NULL);

    for (unsigned i = 0; obj && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        char name[96];

        camel(f->name, name, sizeof(name));
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            jadd(obj, value_tree(f, base + f->offset, name, true));
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            jnode *list;

            if (!n)
                continue;
            list = jnew(is_map(f) ? J_OBJ : J_ARR, name, NULL);
            for (size_t k = 0; list && k < n; k++) {
                const void *elem = arr + k * type_size(f->type);

                if (is_map(f)) {
                    const ProtobufCMessageDescriptor *ed = f->descriptor;
                    const ProtobufCMessage *e = *(ProtobufCMessage *const *)elem;
                    const char *ek = *(char *const *)((const char *)e + ed->fields[0].offset);
                    const ProtobufCFieldDescriptor *vf = &ed->fields[1];

                    jadd(list, value_tree(vf, (const char *)e + vf->offset, ek, true));
                } else {
                    jadd(list, value_tree(f, elem, NULL, true));
                }
            }
            jadd(obj, list);
            continue;
        }
        jadd(obj, value_tree(f, base + f->offset, name, false));
    }
    return obj;
}

static void json_string(const char *s, FILE *out)
{
    size_t cap = 6 * strlen(s) + 1;
    char *buf = berth_xmalloc(cap);

    berth_json_escape(buf, cap, s);
    fprintf(out, "\"%s\"", buf);
    free(buf);
}

static void json_print(const jnode *j, int depth, FILE *out)
{
    if (j->t == J_STR) {
        json_string(j->text, out);
        return;
    }
    if (j->t == J_RAW) {
        fputs(j->text, out);
        return;
    }
    if (j->n == 0) {
        fputs(j->t == J_OBJ ? "{}" : "[]", out);
        return;
    }
    fputc(j->t == J_OBJ ? '{' : '[', out);
    for (size_t i = 0; i < j->n; i++) {
        fprintf(out, "%s\n%*s", i ? "," : "", 2 * (depth + 1), "");
        if (j->t == J_OBJ) {
            json_string(j->kids[i]->key ? j->kids[i]->key : "", out);
            fputs(": ", out);
        }
        json_print(j->kids[i], depth + 1, out);
    }
    fprintf(out, "\n%*s%c", 2 * depth, "", j->t == J_OBJ ? '}' : ']');
}

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

static void yaml_scalar(const jnode *j, FILE *out)
{
    if (j->t == J_STR && !yaml_plain(j->text))
        json_string(j->text, out); /* a JSON string is a YAML double-quoted scalar */
    else
        fputs(j->text, out);
}

/* The kids of j at indent; the first one's indent is already written when
 * hanging (a list item's "- "). */
static void yaml_print(const jnode *j, int indent, bool hanging, FILE *out)
{
    for (size_t i = 0; i < j->n; i++) {
        const jnode *k = j->kids[i];
        bool container = (k->t == J_OBJ || k->t == J_ARR) && k->n > 0;

        if (!(hanging && i == 0))
            fprintf(out, "%*s", indent, "");
        if (j->t == J_OBJ) {
            yaml_scalar(&(jnode){ .t = J_STR, .text = k->key }, out);
            fputc(':', out);
        } else {
            fputc('-', out);
        }
        if (!container) {
            fputc(' ', out);
            if (k->t == J_STR || k->t == J_RAW)
                yaml_scalar(k, out);
            else
                fputs(k->t == J_OBJ ? "{}" : "[]", out);
            fputc('\n', out);
        } else if (j->t == J_ARR && k->t == J_OBJ) {
            fputc(' ', out); /* "- key: value", the rest aligned under key */
            yaml_print(k, indent + 2, true, out);
        } else {
            fputc('\n', out);
            yaml_print(k, indent + 2, false, out);
        }
    }
}

void berthctl_print_json(const ProtobufCMessage *m, FILE *out)
{
    jnode *j = message_tree(m, NULL);

    if (!j)
        return;
    json_print(j, 0, out);
    fputc('\n', out);
    jfree(j);
}

void berthctl_print_yaml(const ProtobufCMessage *m, FILE *out)
{
    jnode *j = message_tree(m, NULL);

    if (!j)
        return;
    if (j->n == 0)
        fputs("{}\n", out);
    else
        yaml_print(j, 0, false, out);
    jfree(j);
}
