/* Loading YAML within bounds, document by document, and the error report:
 * a bounded pre-scan of the events first (syntax, aliases, depth, counts),
 * so nothing is built for an input that crosses a bound; then libyaml's
 * loader, one document at a time. Errors carry their position and the
 * path the walk was at when they were found. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "base/xalloc.h"
#include "yaml-internal.h"

const berth_yaml_limits berth_yaml_settings_limits = {
    .what = "a settings file",
    .bytes = 256 * 1024,
    .documents = 1,
    .depth = 16,
    .events = 20000,
};

/* ---- errors ---- */

static int pos_cmp(berth_yaml_pos a, size_t aseq, berth_yaml_pos b, size_t bseq)
{
    if (a.line != b.line)
        return a.line < b.line ? -1 : 1;
    if (a.column != b.column)
        return a.column < b.column ? -1 : 1;
    return aseq < bseq ? -1 : aseq > bseq;
}

static int line_cmp(const void *a, const void *b)
{
    const yaml_report_line *x = a, *y = b;

    return pos_cmp(x->pos, x->seq, y->pos, y->seq);
}

/* The listed error that comes last in the file: the one a new, earlier
 * error replaces when the list is full. */
static size_t latest(const berth_yaml *y)
{
    size_t last = 0;

    for (size_t i = 1; i < y->n_errors; i++)
        if (pos_cmp(y->errors[i].pos, y->errors[i].seq, y->errors[last].pos, y->errors[last].seq) >
            0)
            last = i;
    return last;
}

bool yaml_error_listed(const berth_yaml *y, berth_yaml_pos pos)
{
    size_t seq = y->n_errors + y->n_dropped, last;

    if (y->n_errors < BERTH_YAML_ERRORS_MAX)
        return true;
    last = latest(y);
    return pos_cmp(pos, seq, y->errors[last].pos, y->errors[last].seq) < 0;
}

void yaml_errorv(berth_yaml *y, berth_yaml_pos pos, const char *fmt, va_list ap)
{
    size_t seq = y->n_errors + y->n_dropped, slot = y->n_errors;
    char msg[1024], *text;

    if (!yaml_error_listed(y, pos)) {
        y->n_dropped++;
        return;
    }
    if (y->n_errors == BERTH_YAML_ERRORS_MAX) {
        slot = latest(y);
        free(y->errors[slot].text);
        y->n_dropped++;
    } else {
        y->n_errors++;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    text = berth_xasprintf("%s:%zu:%zu: %s%s%s", y->source, pos.line, pos.column, y->path,
                           y->path_len ? ": " : "", msg);
    /* Keys and values quoted from the input may hold any character, a
     * line break or a terminal escape: an error stays one line of text. */
    for (char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    y->errors[slot] = (yaml_report_line){ pos, seq, text };
}

void berth_yaml_error_pos(berth_yaml *y, berth_yaml_pos pos, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    yaml_errorv(y, pos, fmt, ap);
    va_end(ap);
}

void berth_yaml_error(berth_yaml *y, const berth_yaml_node *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    yaml_errorv(y, berth_yaml_pos_of(at), fmt, ap);
    va_end(ap);
}

static berth_yaml_pos pos_of_mark(yaml_mark_t m)
{
    return (berth_yaml_pos){ m.line + 1, m.column + 1 };
}

size_t berth_yaml_error_count(const berth_yaml *y)
{
    return y->n_errors + y->n_dropped;
}

int berth_yaml_finish(berth_yaml *y, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (berth_yaml_error_count(y) == 0)
        return 0;
    qsort(y->errors, y->n_errors, sizeof(*y->errors), line_cmp);
    f = open_memstream(&text, &len);
    if (!f)
        berth_oom();
    for (size_t i = 0; i < y->n_errors; i++)
        fprintf(f, "%s%s", i ? "\n" : "", y->errors[i].text);
    if (y->n_dropped)
        fprintf(f, "\n%s: and %zu more error%s", y->source, y->n_dropped,
                y->n_dropped == 1 ? "" : "s");
    if (fclose(f) != 0 || !text)
        berth_oom();
    return berth_error_set(err, EINVAL, "%s", text);
}

/* ---- the path ---- */

size_t berth_yaml_push(berth_yaml *y, const char *fmt, ...)
{
    size_t mark = y->path_len, room = sizeof(y->path) - y->path_len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(y->path + y->path_len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        y->path_len += (size_t)n < room ? (size_t)n : room - 1;
    return mark;
}

size_t berth_yaml_push_field(berth_yaml *y, const char *name)
{
    return y->path_len ? berth_yaml_push(y, ".%s", name) : berth_yaml_push(y, "%s", name);
}

void berth_yaml_pop(berth_yaml *y, size_t mark)
{
    y->path_len = mark;
    y->path[mark] = '\0';
}

/* ---- bounds, before building anything ---- */

static void parser_init(yaml_parser_t *parser, const char *text, size_t len)
{
    if (!yaml_parser_initialize(parser))
        berth_oom();
    yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
}

/* libyaml's complaint, at its position. */
static void parser_error(berth_yaml *y, const yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        berth_oom();
    if (parser->error == YAML_READER_ERROR) /* bad encoding: no line, a byte offset */
        berth_yaml_error_pos(y, (berth_yaml_pos){ 1, 1 }, "YAML: %s (at byte %zu)",
                             parser->problem ? parser->problem : "cannot read the input",
                             parser->problem_offset);
    else
        berth_yaml_error_pos(y, pos_of_mark(parser->problem_mark), "YAML: %s%s%s",
                             parser->problem ? parser->problem : "syntax error",
                             parser->context ? " " : "", parser->context ? parser->context : "");
}

static bool has_anchor(const yaml_event_t *ev)
{
    return ev->type == YAML_ALIAS_EVENT ||
           (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
           (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor) ||
           (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor);
}

/* Walk the events once; the first bound crossed (or syntax error) is
 * recorded and ends the walk. */
static void prescan(berth_yaml *y, const char *text, size_t len, const berth_yaml_limits *limits)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t events = 0, depth = 0, docs = 0;
    bool stop = false;

    parser_init(&parser, text, len);
    while (!stop) {
        berth_yaml_pos at;

        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(y, &parser);
            break;
        }
        at = pos_of_mark(ev.start_mark);
        stop = true;
        if (++events > limits->events) {
            berth_yaml_error_pos(y, at, "more than %zu YAML nodes", limits->events);
        } else if (has_anchor(&ev)) {
            berth_yaml_error_pos(y, at, "YAML anchors and aliases are not supported");
        } else if ((ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) &&
                   ++depth > limits->depth) {
            berth_yaml_error_pos(y, at, "nested deeper than %zu levels", limits->depth);
        } else if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > limits->documents) {
            berth_yaml_error_pos(y, at, "more than %zu document%s", limits->documents,
                                 limits->documents == 1 ? "" : "s");
        } else {
            if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
                depth--;
            stop = ev.type == YAML_STREAM_END_EVENT;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
}

/* ---- the reader ---- */

int berth_yaml_open(const char *text, size_t len, const char *source,
                    const berth_yaml_limits *limits, berth_yaml **ret_yaml, berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    const char *name = source && *source ? source : "-";

    if (len > limits->bytes)
        return berth_error_set(err, EFBIG, "%s: %zu bytes, %s may have at most %zu", name, len,
                               limits->what, limits->bytes);
    if (memchr(text, '\0', len))
        return berth_error_set(err, EINVAL, "%s: not a text file (it has a NUL byte)", name);
    y = berth_xcalloc(1, sizeof(*y));
    y->source = berth_xstrdup(name);
    prescan(y, text, len, limits);
    if (berth_yaml_finish(y, err) < 0)
        return -1;
    parser_init(&y->parser, text, len);
    y->parser_ready = true;
    *ret_yaml = TAKE_PTR(y);
    return 0;
}

int berth_yaml_open_file(const char *path, const berth_yaml_limits *limits, berth_yaml **ret_yaml,
                         berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;

    if (berth_read_file_at(AT_FDCWD, path, limits->bytes, &text, &len, err) < 0 ||
        berth_yaml_open(text, len, path, limits, ret_yaml, err) < 0)
        return -1;
    (*ret_yaml)->owned_text = TAKE_PTR(text);
    return 0;
}

int berth_yaml_next(berth_yaml *y, const berth_yaml_node **ret_root)
{
    yaml_node_t *root;

    if (y->has_doc) {
        yaml_document_delete(&y->doc);
        y->has_doc = false;
    }
    if (y->done)
        return 0;
    if (!yaml_parser_load(&y->parser, &y->doc)) {
        parser_error(y, &y->parser);
        y->done = true;
        return 0;
    }
    root = yaml_document_get_root_node(&y->doc);
    if (!root) { /* the end of the stream */
        yaml_document_delete(&y->doc);
        y->done = true;
        return 0;
    }
    y->has_doc = true;
    *ret_root = berth_node_of(root);
    return 1;
}

void berth_yaml_close(berth_yaml *y)
{
    if (!y)
        return;
    if (y->has_doc)
        yaml_document_delete(&y->doc);
    if (y->parser_ready)
        yaml_parser_delete(&y->parser);
    for (size_t i = 0; i < y->n_errors; i++)
        free(y->errors[i].text);
    free(y->owned_text);
    free(y->source);
    free(y);
}

/* ---- nodes ---- */

berth_yaml_pos berth_yaml_pos_of(const berth_yaml_node *n)
{
    return pos_of_mark(yaml_node_of(n)->start_mark);
}

size_t berth_yaml_len(const berth_yaml_node *n)
{
    const yaml_node_t *node = yaml_node_of(n);

    if (node->type == YAML_SEQUENCE_NODE)
        return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (node->type == YAML_MAPPING_NODE)
        return (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    return 0;
}

const berth_yaml_node *berth_yaml_item(const berth_yaml *y, const berth_yaml_node *list, size_t i)
{
    yaml_document_t *doc = (yaml_document_t *)&y->doc; /* libyaml is not const-correct */

    return berth_node_of(
        yaml_document_get_node(doc, yaml_node_of(list)->data.sequence.items.start[i]));
}

void berth_yaml_entry(const berth_yaml *y, const berth_yaml_node *map, size_t i,
                      const berth_yaml_node **ret_key, const berth_yaml_node **ret_value)
{
    yaml_document_t *doc = (yaml_document_t *)&y->doc;
    const yaml_node_pair_t *pair = &yaml_node_of(map)->data.mapping.pairs.start[i];

    *ret_key = berth_node_of(yaml_document_get_node(doc, pair->key));
    *ret_value = berth_node_of(yaml_document_get_node(doc, pair->value));
}
