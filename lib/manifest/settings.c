/* Flat YAML settings files. */
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/cleanup.h"
#include "base/io.h"

/* "path:line:col: key: " before what fn said: at the value, or at the
 * key when there is no such setting. */
static int value_error(const char *path, const yaml_node_t *k, const yaml_node_t *at,
                       const char *key, berth_error **err)
{
    if (!*err)
        berth_error_set(err, EINVAL, "invalid value");
    if ((*err)->code == ENOENT) {
        berth_error_free(err);
        return berth_error_set(err, EINVAL, "%s:%zu:%zu: %s: unknown setting", path,
                               k->start_mark.line + 1, k->start_mark.column + 1, key);
    }
    return berth_error_prefix(err, "%s:%zu:%zu: %s", path, at->start_mark.line + 1,
                              at->start_mark.column + 1, key);
}

static int one(const char *path, yaml_document_t *doc, yaml_node_t *k, yaml_node_t *v,
               berth_setting_fn fn, void *data, berth_error **err)
{
    const char *key = (const char *)k->data.scalar.value;

    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
             i++) {
            yaml_node_t *item = yaml_document_get_node(doc, *i);

            if (!item || item->type != YAML_SCALAR_NODE)
                return berth_error_set(err, EINVAL, "%s:%zu:%zu: %s: expected a list of values",
                                       path, v->start_mark.line + 1, v->start_mark.column + 1, key);
            if (fn(data, key, (const char *)item->data.scalar.value, err) < 0)
                return value_error(path, k, item, key, err);
        }
        return 0;
    }
    if (v->type != YAML_SCALAR_NODE)
        return berth_error_set(err, EINVAL, "%s:%zu:%zu: %s: expected a value", path,
                               v->start_mark.line + 1, v->start_mark.column + 1, key);
    if (fn(data, key, (const char *)v->data.scalar.value, err) < 0)
        return value_error(path, k, v, key, err);
    return 0;
}

int berth_settings_load(const char *path, bool missing_ok, berth_setting_fn fn, void *data,
                        bool *ret_found, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    size_t len = 0;
    int r = 0;

    if (ret_found)
        *ret_found = false;
    {
        berth_error *e = NULL;

        if (berth_read_file_at(AT_FDCWD, path, BERTH_SETTINGS_MAX_BYTES, &text, &len, &e) < 0) {
            bool missing = e->code == ENOENT;

            if (missing && missing_ok) {
                berth_error_free(&e);
                return 0;
            }
            if (err)
                *err = e;
            else
                berth_error_free(&e);
            return -1;
        }
    }
    if (ret_found)
        *ret_found = true;
    if (!yaml_parser_initialize(&parser))
        return berth_error_make(err, ENOMEM, "%s", path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        r = berth_error_set(err, EINVAL, "%s:%zu:%zu: YAML: %s", path, parser.problem_mark.line + 1,
                            parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return r;
    }
    root = yaml_document_get_root_node(&doc);
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top && r == 0; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&doc, p->value);

            if (!k || !v || k->type != YAML_SCALAR_NODE)
                r = berth_error_set(err, EINVAL, "%s: setting names must be plain names", path);
            else
                r = one(path, &doc, k, v, fn, data, err);
        }
    } else if (root && !(root->type == YAML_SCALAR_NODE && !*root->data.scalar.value)) {
        r = berth_error_set(err, EINVAL, "%s:%zu:%zu: expected a mapping of settings", path,
                            root->start_mark.line + 1, root->start_mark.column + 1);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return r;
}
