/* agent.yaml: a strict reader on libyaml's document API. */
#include "agent-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/quantity.h"
#include "rpc/principal.h"

#define CONFIG_MAX (1 << 20)

int agent_config_set(char **field, const char *value, berth_error **err)
{
    char *copy = value ? strdup(value) : NULL;

    if (value && !copy)
        return berth_error_make(err, ENOMEM, "config");
    free(*field);
    *field = copy;
    return 0;
}

int agent_config_defaults(agent_config *cfg, berth_error **err)
{
    char host[256];

    memset(cfg, 0, sizeof(*cfg));
    if (gethostname(host, sizeof(host)) < 0)
        snprintf(host, sizeof(host), "node");
    host[sizeof(host) - 1] = '\0';
    /* A host name may hold characters a node name may not: lower case, and
     * everything else becomes '-'. */
    for (char *p = host; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                   *p == '_'))
            *p = '-';
    }
    host[BERTH_NAME_MAX] = '\0';
    cfg->metrics_interval_ns = 10 * 1000000000LL;
    cfg->max_parallel_starts = 4;
    cfg->stop_grace_ms = 10000;
    cfg->log_level = BERTH_LOG_INFO;
    cfg->log_format = BERTH_LOG_TEXT;
    if (agent_config_set(&cfg->node_name, host, err) < 0 ||
        agent_config_set(&cfg->state_dir, "/var/lib/berth/agent", err) < 0 ||
        agent_config_set(&cfg->image_store, "/var/lib/berth/images", err) < 0 ||
        agent_config_set(&cfg->cgroup_parent, "/berth", err) < 0 ||
        agent_config_set(&cfg->socket, "/run/berth/agent.sock", err) < 0 ||
        agent_config_set(&cfg->controller_key, "/etc/berth/controller.pub", err) < 0 ||
        agent_config_set(&cfg->controller_name, "controller", err) < 0)
        return -1;
    return 0;
}

void agent_config_free(agent_config *cfg)
{
    char **strs[] = { &cfg->node_name,  &cfg->controller_address, &cfg->controller_key,
                      &cfg->state_dir,  &cfg->image_store,        &cfg->key,
                      &cfg->join_token, &cfg->cgroup_parent,      &cfg->socket,
                      &cfg->listen,     &cfg->advertise,          &cfg->controller_name,
                      &cfg->monitor };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < cfg->n_labels; i++) {
        free(cfg->label_keys[i]);
        free(cfg->label_values[i]);
    }
    cfg->n_labels = 0;
    for (size_t i = 0; i < cfg->n_operators; i++) {
        free(cfg->operator_names[i]);
        free(cfg->operator_keys[i]);
    }
    cfg->n_operators = 0;
}

int agent_config_label(agent_config *cfg, const char *key, const char *value, berth_error **err)
{
    size_t i;

    if (!*key || strlen(key) > 63 || strlen(value) > 63)
        return berth_error_set(
            err, EINVAL, "label '%s': keys (not empty) and values are at most 63 characters", key);
    for (i = 0; i < cfg->n_labels; i++)
        if (strcmp(cfg->label_keys[i], key) == 0)
            return agent_config_set(&cfg->label_values[i], value, err);
    if (cfg->n_labels == AGENT_LABELS_MAX)
        return berth_error_set(err, E2BIG, "labels: at most %d", AGENT_LABELS_MAX);
    cfg->label_keys[i] = strdup(key);
    cfg->label_values[i] = strdup(value);
    if (!cfg->label_keys[i] || !cfg->label_values[i]) {
        free(cfg->label_keys[i]);
        free(cfg->label_values[i]);
        return berth_error_make(err, ENOMEM, "labels");
    }
    cfg->n_labels++;
    return 0;
}

/* --- the YAML document ---------------------------------------------------- */

typedef struct reader {
    const char *name;
    yaml_document_t *doc;
} reader;

/* "agent.yaml:3:5: key: message" */
static int at(const reader *r, const yaml_node_t *node, const char *field, berth_error **err,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int at(const reader *r, const yaml_node_t *node, const char *field, berth_error **err,
              const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return berth_error_set(err, EINVAL, "%s:%zu:%zu: %s%s%s", r->name, node->start_mark.line + 1,
                           node->start_mark.column + 1, field ? field : "", field ? ": " : "", msg);
}

static int scalar(const reader *r, yaml_node_t *n, const char *field, const char **ret,
                  berth_error **err)
{
    if (n->type != YAML_SCALAR_NODE)
        return at(r, n, field, err, "expected a single value, found a %s",
                  n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    *ret = (const char *)n->data.scalar.value;
    return 0;
}

static int str_field(const reader *r, yaml_node_t *n, const char *field, char **dst,
                     berth_error **err)
{
    const char *v = NULL;

    if (scalar(r, n, field, &v, err) < 0)
        return -1;
    if (!*v)
        return at(r, n, field, err, "must not be empty");
    return agent_config_set(dst, v, err);
}

static int int_field(const reader *r, yaml_node_t *n, const char *field, int64_t min, int64_t max,
                     int64_t *dst, berth_error **err)
{
    const char *v = NULL;
    char *end;
    long long x;

    if (scalar(r, n, field, &v, err) < 0)
        return -1;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return at(r, n, field, err, "'%s' is not a number in %" PRId64 "..%" PRId64, v, min, max);
    *dst = x;
    return 0;
}

static int duration_field(const reader *r, yaml_node_t *n, const char *field, int64_t *dst,
                          berth_error **err)
{
    const char *v = NULL;
    _cleanup_error_ berth_error *perr = NULL;

    if (scalar(r, n, field, &v, err) < 0)
        return -1;
    if (berth_parse_duration(v, field, dst, &perr) < 0)
        return at(r, n, NULL, err, "%s", perr->msg);
    return 0;
}

static int parse_labels(const reader *r, agent_config *cfg, yaml_node_t *n, berth_error **err)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "labels", err, "expected a mapping of key: value");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *ks = NULL, *vs = NULL;

        if (scalar(r, k, "labels", &ks, err) < 0 || scalar(r, v, "labels", &vs, err) < 0)
            return -1;
        {
            _cleanup_error_ berth_error *lerr = NULL;

            if (agent_config_label(cfg, ks, vs, &lerr) < 0)
                return at(r, k, "labels", err, "%s", lerr->msg);
        }
    }
    return 0;
}

static int parse_operators(const reader *r, agent_config *cfg, yaml_node_t *n, berth_error **err)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "operators", err, "expected a mapping of name: public key file");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        _cleanup_error_ berth_error *nerr = NULL;
        const char *ks = NULL, *vs = NULL;

        if (scalar(r, k, "operators", &ks, err) < 0 || scalar(r, v, "operators", &vs, err) < 0)
            return -1;
        if (berth_name_validate(ks, "operator name", &nerr) < 0)
            return at(r, k, "operators", err, "%s", nerr->msg);
        if (cfg->n_operators == AGENT_LABELS_MAX)
            return at(r, k, "operators", err, "at most %d", AGENT_LABELS_MAX);
        cfg->operator_names[cfg->n_operators] = strdup(ks);
        cfg->operator_keys[cfg->n_operators] = strdup(vs);
        cfg->n_operators++;
        if (!cfg->operator_names[cfg->n_operators - 1] || !cfg->operator_keys[cfg->n_operators - 1])
            return berth_error_make(err, ENOMEM, "operators");
    }
    return 0;
}

static int parse_reserved(const reader *r, agent_config *cfg, yaml_node_t *n, berth_error **err)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "reserved", err, "expected a mapping with cpu and memory");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        _cleanup_error_ berth_error *qerr = NULL;
        const char *ks = NULL, *vs = NULL;

        if (scalar(r, k, "reserved", &ks, err) < 0 || scalar(r, v, ks, &vs, err) < 0)
            return -1;
        if (strcmp(ks, "cpu") == 0) {
            if (berth_parse_millicpu(vs, &cfg->reserved_cpu_millis, &qerr) < 0)
                return at(r, v, "reserved.cpu", err, "%s", qerr->msg);
        } else if (strcmp(ks, "memory") == 0) {
            if (berth_parse_bytes(vs, &cfg->reserved_memory_bytes, &qerr) < 0)
                return at(r, v, "reserved.memory", err, "%s", qerr->msg);
        } else {
            return at(r, k, "reserved", err, "unknown field '%s' (expected cpu, memory)", ks);
        }
    }
    return 0;
}

static int parse_log(const reader *r, agent_config *cfg, yaml_node_t *n, berth_error **err)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "log", err, "expected a mapping with level and format");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        _cleanup_error_ berth_error *lerr = NULL;
        const char *ks = NULL, *vs = NULL;

        if (scalar(r, k, "log", &ks, err) < 0 || scalar(r, v, ks, &vs, err) < 0)
            return -1;
        if (strcmp(ks, "level") == 0) {
            if (berth_log_level_parse(vs, &cfg->log_level, &lerr) < 0)
                return at(r, v, "log.level", err, "%s", lerr->msg);
        } else if (strcmp(ks, "format") == 0) {
            if (berth_log_format_parse(vs, &cfg->log_format, &lerr) < 0)
                return at(r, v, "log.format", err, "%s", lerr->msg);
        } else {
            return at(r, k, "log", err, "unknown field '%s' (expected level, format)", ks);
        }
    }
    return 0;
}

static int parse_controller(const reader *r, agent_config *cfg, yaml_node_t *n, berth_error **err)
{
    if (n->type != YAML_MAPPING_NODE)
        return at(r, n, "controller", err, "expected a mapping with address and key");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *ks = NULL;

        if (scalar(r, k, "controller", &ks, err) < 0)
            return -1;
        if (strcmp(ks, "address") == 0) {
            if (str_field(r, v, "controller.address", &cfg->controller_address, err) < 0)
                return -1;
        } else if (strcmp(ks, "key") == 0) {
            if (str_field(r, v, "controller.key", &cfg->controller_key, err) < 0)
                return -1;
        } else if (strcmp(ks, "name") == 0) {
            if (str_field(r, v, "controller.name", &cfg->controller_name, err) < 0)
                return -1;
        } else {
            return at(r, k, "controller", err, "unknown field '%s' (expected address, key, name)",
                      ks);
        }
    }
    return 0;
}

/* The top level. Every field is known or an error. */
static int parse_root(const reader *r, agent_config *cfg, yaml_node_t *root, berth_error **err)
{
    static const struct {
        const char *name;
        size_t offset;
    } strings[] = {
        { "node_name", offsetof(agent_config, node_name) },
        { "state_dir", offsetof(agent_config, state_dir) },
        { "image_store", offsetof(agent_config, image_store) },
        { "key", offsetof(agent_config, key) },
        { "join_token", offsetof(agent_config, join_token) },
        { "cgroup_parent", offsetof(agent_config, cgroup_parent) },
        { "socket", offsetof(agent_config, socket) },
        { "listen", offsetof(agent_config, listen) },
        { "advertise", offsetof(agent_config, advertise) },
        { "monitor", offsetof(agent_config, monitor) },
    };

    if (root->type != YAML_MAPPING_NODE)
        return at(r, root, NULL, err, "the configuration must be a mapping of settings");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
        const char *ks = NULL;
        bool done = false;

        if (scalar(r, k, NULL, &ks, err) < 0)
            return -1;
        for (size_t i = 0; i < BERTH_ARRAY_SIZE(strings) && !done; i++)
            if (strcmp(ks, strings[i].name) == 0) {
                if (str_field(r, v, ks, (char **)((char *)cfg + strings[i].offset), err) < 0)
                    return -1;
                done = true;
            }
        if (done)
            continue;
        if (strcmp(ks, "labels") == 0) {
            if (parse_labels(r, cfg, v, err) < 0)
                return -1;
        } else if (strcmp(ks, "controller") == 0) {
            if (parse_controller(r, cfg, v, err) < 0)
                return -1;
        } else if (strcmp(ks, "reserved") == 0) {
            if (parse_reserved(r, cfg, v, err) < 0)
                return -1;
        } else if (strcmp(ks, "operators") == 0) {
            if (parse_operators(r, cfg, v, err) < 0)
                return -1;
        } else if (strcmp(ks, "log") == 0) {
            if (parse_log(r, cfg, v, err) < 0)
                return -1;
        } else if (strcmp(ks, "metrics_interval") == 0) {
            if (duration_field(r, v, ks, &cfg->metrics_interval_ns, err) < 0)
                return -1;
            if (cfg->metrics_interval_ns < 100 * 1000000LL)
                return at(r, v, ks, err, "must be at least 100ms");
        } else if (strcmp(ks, "stop_grace_period") == 0) {
            int64_t ns = 0;

            if (duration_field(r, v, ks, &ns, err) < 0)
                return -1;
            cfg->stop_grace_ms = ns / 1000000;
        } else if (strcmp(ks, "max_parallel_starts") == 0) {
            int64_t x = 0;

            if (int_field(r, v, ks, 1, 256, &x, err) < 0)
                return -1;
            cfg->max_parallel_starts = (int)x;
        } else {
            return at(r, k, NULL, err, "unknown setting '%s'", ks);
        }
    }
    return 0;
}

int agent_config_parse(agent_config *cfg, const char *name, const char *text, size_t len,
                       berth_error **err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    agent_config next = *cfg;
    yaml_node_t *root;
    reader r = { .name = name, .doc = &doc };
    int ret = 0;

    if (!yaml_parser_initialize(&parser))
        return berth_error_make(err, ENOMEM, "%s", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        ret = berth_error_set(err, EINVAL, "%s:%zu:%zu: %s%s%s", name, parser.problem_mark.line + 1,
                              parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "invalid YAML",
                              parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return ret;
    }
    root = yaml_document_get_root_node(&doc);
    /* An empty file configures nothing. Copies of the strings go into
     * "next" so a failure leaves cfg untouched. */
    if (root) {
        char **strs[] = { &next.node_name,  &next.controller_address, &next.controller_key,
                          &next.state_dir,  &next.image_store,        &next.key,
                          &next.join_token, &next.cgroup_parent,      &next.socket,
                          &next.listen,     &next.advertise,          &next.controller_name,
                          &next.monitor };

        for (size_t i = 0; i < BERTH_ARRAY_SIZE(strs); i++)
            *strs[i] = *strs[i] ? strdup(*strs[i]) : NULL;
        for (size_t i = 0; i < next.n_labels; i++) {
            next.label_keys[i] = strdup(next.label_keys[i]);
            next.label_values[i] = strdup(next.label_values[i]);
        }
        for (size_t i = 0; i < next.n_operators; i++) {
            next.operator_names[i] = strdup(next.operator_names[i]);
            next.operator_keys[i] = strdup(next.operator_keys[i]);
        }
        ret = parse_root(&r, &next, root, err);
        if (ret < 0) {
            agent_config_free(&next);
        } else {
            agent_config_free(cfg);
            *cfg = next;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return ret;
}

int agent_config_load(agent_config *cfg, const char *path, bool must_exist, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_error_ berth_error *rerr = NULL;
    size_t len;

    if (berth_read_file_at(AT_FDCWD, path, CONFIG_MAX, &text, &len, &rerr) < 0) {
        if (rerr->code == ENOENT && !must_exist)
            return 0;
        if (err)
            *err = TAKE_PTR(rerr);
        return -1;
    }
    return agent_config_parse(cfg, path, text, len, err);
}

static bool address_ok(const char *a)
{
    return strncmp(a, "tcp://", 6) == 0 || strncmp(a, "ipc://", 6) == 0;
}

int agent_config_finish(agent_config *cfg, berth_error **err)
{
    if (berth_name_validate(cfg->node_name, "node name", err) < 0 ||
        berth_name_validate(cfg->controller_name, "controller name", err) < 0)
        return -1;
    if (!cfg->controller_address)
        return berth_error_set(err, EINVAL,
                               "no controller address (controller.address in the config, or "
                               "--controller)");
    if (!address_ok(cfg->controller_address))
        return berth_error_set(err, EINVAL,
                               "controller address '%s': expected tcp://HOST:PORT "
                               "or ipc://PATH",
                               cfg->controller_address);
    if (cfg->listen && !address_ok(cfg->listen))
        return berth_error_set(err, EINVAL, "listen address '%s': expected tcp:// or ipc://",
                               cfg->listen);
    if (cfg->state_dir[0] != '/' || cfg->image_store[0] != '/')
        return berth_error_set(err, EINVAL, "state_dir and image_store must be absolute paths");
    if (!cfg->key) {
        char *k = NULL;

        if (asprintf(&k, "%s/node.key", cfg->state_dir) < 0)
            return berth_error_make(err, ENOMEM, "config");
        cfg->key = k;
    }
    /* berth-monitor ships beside berthd (the build tree, an install). */
    if (!cfg->monitor) {
        char self[4096], *slash, *m = NULL;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n < 0)
            return berth_error_errno(err, "find berth-monitor: readlink /proc/self/exe");
        self[n] = '\0';
        slash = strrchr(self, '/');
        *slash = '\0';
        if (asprintf(&m, "%s/berth-monitor", self) < 0)
            return berth_error_make(err, ENOMEM, "config");
        cfg->monitor = m;
    }
    if (access(cfg->monitor, X_OK) < 0)
        return berth_error_errno(err, "monitor %s", cfg->monitor);
    /* The controller dials the advertised address; a wildcard listen
     * address is not one it can dial. */
    if (cfg->listen && !cfg->advertise && !strstr(cfg->listen, "0.0.0.0") &&
        agent_config_set(&cfg->advertise, cfg->listen, err) < 0)
        return -1;
    return 0;
}
