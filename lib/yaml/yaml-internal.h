/* lib/yaml's own: the reader's state, shared by load.c (bounds, documents,
 * errors, paths) and read.c (scalar types, getters, field tables). */
#ifndef BERTH_YAML_YAML_INTERNAL_H
#define BERTH_YAML_YAML_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "yaml/yaml.h"

#define YAML_PATH_BUF 512

typedef struct yaml_report_line {
    berth_yaml_pos pos;
    size_t seq; /* the order found, for errors at one position */
    char *text;
} yaml_report_line;

struct berth_yaml {
    char *source;
    char *owned_text; /* berth_yaml_open_file's */
    yaml_parser_t parser;
    yaml_document_t doc;
    bool parser_ready, has_doc, done;
    char path[YAML_PATH_BUF];
    size_t path_len;
    /* The BERTH_YAML_ERRORS_MAX earliest errors by position; the others
     * are only counted. */
    yaml_report_line errors[BERTH_YAML_ERRORS_MAX];
    size_t n_errors, n_dropped;
};

static inline const yaml_node_t *yaml_node_of(const berth_yaml_node *n)
{
    return (const yaml_node_t *)n;
}

static inline const berth_yaml_node *berth_node_of(const yaml_node_t *n)
{
    return (const berth_yaml_node *)n;
}

/* Record an error at pos under the current path (va_list form). */
void yaml_errorv(berth_yaml *y, berth_yaml_pos pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Would an error at pos be listed (rather than only counted)? Lets a
 * caller skip costly work (suggestions) for errors past the cap. */
bool yaml_error_listed(const berth_yaml *y, berth_yaml_pos pos);

#endif
