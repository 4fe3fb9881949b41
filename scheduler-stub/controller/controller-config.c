/* berth-controller's settings: one table of them, read from
 * controller.yaml through lib/yaml and from flags as text. */
#include "controller-config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "metrics/listen.h"
#include "net/cidr.h"
#include "rpc/principal.h"
#include "rpc/sock.h"
#include "yaml/yaml.h"

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = berth_xstrdup(v);
}

int ctl_config_defaults(ctl_config *c, berth_error **err)
{
    char host[256] = "localhost";

    (void)err; /* never fails: out of memory aborts */
    memset(c, 0, sizeof(*c));
    if (gethostname(host, sizeof(host) - 1) < 0)
        snprintf(host, sizeof(host), "localhost");
    c->heartbeat_min_ns = BERTH_NSEC_PER_SEC;
    c->heartbeat_max_rate = 50;
    c->heartbeat_misses = 3;
    c->down_grace_ns = 30 * BERTH_NSEC_PER_SEC;
    c->node_cidr_mask_size = 24;
    set_str(&c->cluster_cidr, "10.244.0.0/16");
    c->log_level = BERTH_LOG_INFO;
    c->log_format = BERTH_LOG_TEXT;
    c->n_rpc = 1;
    set_str(&c->name, "controller");
    set_str(&c->state_dir, "/var/lib/berth/controller");
    set_str(&c->rpc[0], "tcp://0.0.0.0:7100");
    set_str(&c->events, "tcp://0.0.0.0:7101");
    set_str(&c->stream, "tcp://0.0.0.0:7102");
    set_str(&c->survey, "tcp://0.0.0.0:7103");
    set_str(&c->advertise_host, host);
    set_str(&c->metrics_address, BERTH_METRICS_CONTROLLER_DEFAULT);
    set_str(&c->store, "sqlite");
    set_str(&c->etcd_prefix, "/berth/");
    set_str(&c->member, host);
    c->leader_lease_ns = 4 * BERTH_NSEC_PER_SEC;
    return 0;
}

void ctl_config_free(ctl_config *c)
{
    free(c->name);
    free(c->state_dir);
    free(c->operators_dir);
    for (int i = 0; i < c->n_rpc; i++)
        free(c->rpc[i]);
    free(c->events);
    free(c->stream);
    free(c->survey);
    free(c->advertise_host);
    free(c->cluster_cidr);
    free(c->metrics_address);
    free(c->store);
    for (int i = 0; i < c->n_etcd; i++)
        free(c->etcd_endpoints[i]);
    free(c->etcd_prefix);
    free(c->etcd_ca_file);
    free(c->etcd_cert_file);
    free(c->etcd_key_file);
    free(c->member);
    memset(c, 0, sizeof(*c));
}

/* ---- the settings: one table for the file and the flags ---- */

typedef enum setting_kind {
    SETTING_TEXT,     /* a string, checked by set_text */
    SETTING_COUNT,    /* a uint32_t in min..max */
    SETTING_DURATION, /* int64_t nanoseconds in min..max */
} setting_kind;

typedef struct setting {
    const char *name;
    setting_kind kind;
    size_t offset; /* of a count or a duration in ctl_config */
    int64_t min, max;
} setting;

#define TEXT(n)                                                                                    \
    {                                                                                              \
        .name = (n), .kind = SETTING_TEXT                                                          \
    }
#define COUNT(n, field, lo, hi)                                                                    \
    {                                                                                              \
        .name = (n), .kind = SETTING_COUNT, .offset = offsetof(ctl_config, field), .min = (lo),    \
        .max = (hi)                                                                                \
    }
#define DURATION(n, field)                                                                         \
    {                                                                                              \
        .name = (n), .kind = SETTING_DURATION, .offset = offsetof(ctl_config, field),              \
        .min = 10 * BERTH_NSEC_PER_MSEC, .max = 3600 * BERTH_NSEC_PER_SEC                          \
    }

#define DURATION_RANGE(n, field, lo, hi)                                                           \
    {                                                                                              \
        .name = (n), .kind = SETTING_DURATION, .offset = offsetof(ctl_config, field), .min = (lo), \
        .max = (hi)                                                                                \
    }

static const setting settings[] = {
    TEXT("name"),
    TEXT("state_dir"),
    TEXT("operators_dir"),
    TEXT("rpc"),
    TEXT("events"),
    TEXT("stream"),
    TEXT("survey"),
    TEXT("advertise_host"),
    DURATION("heartbeat_min_interval", heartbeat_min_ns),
    COUNT("heartbeat_max_rate", heartbeat_max_rate, 1, 100000),
    COUNT("heartbeat_misses", heartbeat_misses, 1, 100),
    DURATION("down_grace", down_grace_ns),
    TEXT("cluster_cidr"),
    COUNT("node_cidr_mask_size", node_cidr_mask_size, 8, 30),
    TEXT("metrics_address"),
    TEXT("store"),
    TEXT("etcd_endpoints"),
    TEXT("etcd_prefix"),
    TEXT("etcd_ca_file"),
    TEXT("etcd_cert_file"),
    TEXT("etcd_key_file"),
    TEXT("member"),
    DURATION_RANGE("leader_lease", leader_lease_ns, 2 * BERTH_NSEC_PER_SEC,
                   60 * BERTH_NSEC_PER_SEC),
    TEXT("log_level"),
    TEXT("log_format"),
};

static const setting *setting_find(const char *name)
{
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(settings); i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static int set_addr(char **dst, const char *v, berth_error **err)
{
    if (berth_address_validate(v, err) < 0)
        return -1;
    set_str(dst, v);
    return 0;
}

/* One address more for rpc: the first of a source replaces the previous
 * source's list. */
static int add_rpc(ctl_config *c, const char *v, berth_error **err)
{
    if (!c->rpc_set) {
        for (int i = 0; i < c->n_rpc; i++)
            free(c->rpc[i]);
        c->n_rpc = 0;
        c->rpc_set = true;
    }
    if (c->n_rpc == CTL_RPC_ADDRS_MAX)
        return berth_error_set(err, EINVAL, "at most %d rpc addresses", CTL_RPC_ADDRS_MAX);
    c->rpc[c->n_rpc] = NULL;
    if (set_addr(&c->rpc[c->n_rpc], v, err) < 0)
        return -1;
    c->n_rpc++;
    return 0;
}

/* etcd's endpoints: a text replaces the list, split at commas. */
static int set_etcd(ctl_config *c, const char *v, bool append, berth_error **err)
{
    _cleanup_free_ char *copy = berth_xstrdup(v);
    char *save = NULL;

    if (!append) {
        for (int i = 0; i < c->n_etcd; i++)
            free(c->etcd_endpoints[i]);
        c->n_etcd = 0;
    }
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0)
            return berth_error_set(err, EINVAL,
                                   "'%s' is not an etcd client URL (http://HOST:PORT, "
                                   "https://HOST:PORT)",
                                   t);
        if (c->n_etcd == CTL_ETCD_MAX)
            return berth_error_set(err, EINVAL, "at most %d etcd endpoints", CTL_ETCD_MAX);
        c->etcd_endpoints[c->n_etcd++] = berth_xstrdup(t);
    }
    if (c->n_etcd == 0)
        return berth_error_set(err, EINVAL, "no etcd endpoint in '%s'", v);
    return 0;
}

/* A text setting's value, checked. */
static int set_text(ctl_config *c, const char *key, const char *v, berth_error **err)
{
    if (strcmp(key, "store") == 0) {
        if (strcmp(v, "sqlite") != 0 && strcmp(v, "etcd") != 0)
            return berth_error_set(err, EINVAL, "'%s' is not a store: sqlite or etcd", v);
        set_str(&c->store, v);
        return 0;
    }
    if (strcmp(key, "etcd_endpoints") == 0)
        return set_etcd(c, v, false, err);
    if (strcmp(key, "etcd_prefix") == 0) {
        if (v[0] != '/' || v[strlen(v) - 1] != '/' || strlen(v) > 100)
            return berth_error_set(err, EINVAL,
                                   "'%s': a key prefix starts and ends with '/' (at most 100 "
                                   "bytes)",
                                   v);
        set_str(&c->etcd_prefix, v);
        return 0;
    }
    if (strcmp(key, "etcd_ca_file") == 0 || strcmp(key, "etcd_cert_file") == 0 ||
        strcmp(key, "etcd_key_file") == 0) {
        if (v[0] != '/')
            return berth_error_set(err, EINVAL, "'%s' is not an absolute path", v);
        set_str(strcmp(key, "etcd_ca_file") == 0     ? &c->etcd_ca_file
                : strcmp(key, "etcd_cert_file") == 0 ? &c->etcd_cert_file
                                                     : &c->etcd_key_file,
                v);
        return 0;
    }
    if (strcmp(key, "member") == 0) {
        if (berth_name_validate(v, "member name", err) < 0)
            return -1;
        set_str(&c->member, v);
        return 0;
    }
    if (strcmp(key, "name") == 0) {
        if (berth_name_validate(v, "controller name", err) < 0)
            return -1;
        set_str(&c->name, v);
        return 0;
    }
    if (strcmp(key, "state_dir") == 0 || strcmp(key, "operators_dir") == 0) {
        if (v[0] != '/')
            return berth_error_set(err, EINVAL, "'%s' is not an absolute path", v);
        set_str(strcmp(key, "state_dir") == 0 ? &c->state_dir : &c->operators_dir, v);
        return 0;
    }
    if (strcmp(key, "rpc") == 0)
        return add_rpc(c, v, err);
    if (strcmp(key, "events") == 0)
        return set_addr(&c->events, v, err);
    if (strcmp(key, "stream") == 0)
        return set_addr(&c->stream, v, err);
    if (strcmp(key, "survey") == 0)
        return set_addr(&c->survey, v, err);
    if (strcmp(key, "advertise_host") == 0) {
        if (!*v || strlen(v) > 253 || strpbrk(v, "/: \t"))
            return berth_error_set(err, EINVAL, "'%s' is not a host name or address", v);
        set_str(&c->advertise_host, v);
        return 0;
    }
    if (strcmp(key, "cluster_cidr") == 0) {
        uint32_t net;
        int prefix;

        if (berth_cidr_parse(v, false, &net, &prefix, err) < 0)
            return -1;
        if (prefix < 8 || prefix > 28)
            return berth_error_set(err, EINVAL, "%s: the prefix must be /8 to /28", v);
        set_str(&c->cluster_cidr, v);
        return 0;
    }
    if (strcmp(key, "metrics_address") == 0) {
        int r = berth_metrics_address_parse(v, NULL, NULL, err);

        if (r < 0)
            return -1;
        free(c->metrics_address);
        c->metrics_address = r ? berth_xstrdup(v) : NULL; /* "off", "": none */
        return 0;
    }
    if (strcmp(key, "log_level") == 0)
        return berth_log_level_parse(v, &c->log_level, err);
    return berth_log_format_parse(v, &c->log_format, err); /* log_format */
}

static void set_number(ctl_config *c, const setting *s, int64_t v)
{
    if (s->kind == SETTING_COUNT)
        *(uint32_t *)((char *)c + s->offset) = (uint32_t)v;
    else
        *(int64_t *)((char *)c + s->offset) = v;
}

/* A count or a duration given as a flag: the file's ranges and texts. */
static int parse_number(const setting *s, const char *v, int64_t *ret, berth_error **err)
{
    char lo[32], hi[32], *end;
    int64_t n;

    if (s->kind == SETTING_DURATION) {
        if (berth_parse_duration(v, s->name, &n, NULL) < 0)
            return berth_error_set(err, EINVAL, "'%s' is not a duration (500ms, 30s, 1m ...)", v);
        if (n < s->min || n > s->max)
            return berth_error_set(err, EINVAL, "%s is out of range (%s..%s)", v,
                                   berth_format_duration(s->min, lo, sizeof(lo)),
                                   berth_format_duration(s->max, hi, sizeof(hi)));
    } else {
        if (!isdigit((unsigned char)v[0]) && v[0] != '-' && v[0] != '+')
            return berth_error_set(err, EINVAL, "'%s' is not an integer", v);
        errno = 0;
        n = strtoll(v, &end, 10);
        if (*end)
            return berth_error_set(err, EINVAL, "'%s' is not an integer", v);
        if (errno || n < s->min || n > s->max)
            return berth_error_set(err, EINVAL, "%s is out of range (%" PRId64 "..%" PRId64 ")", v,
                                   s->min, s->max);
    }
    *ret = n;
    return 0;
}

int ctl_config_set(ctl_config *c, const char *key, const char *v, berth_error **err)
{
    const setting *s = setting_find(key);
    int64_t n = 0;

    if (!s)
        return berth_error_set(err, ENOENT, "unknown setting");
    if (s->kind == SETTING_TEXT)
        return set_text(c, key, v, err);
    if (parse_number(s, v, &n, err) < 0)
        return -1;
    set_number(c, s, n);
    return 0;
}

/* ---- controller.yaml, through lib/yaml ---- */

static void read_text(berth_yaml *y, const berth_yaml_node *n, ctl_config *c, const char *key)
{
    _cleanup_error_ berth_error *e = NULL;
    const char *v;

    if (berth_yaml_get_string(y, n, &v) && set_text(c, key, v, &e) < 0)
        berth_yaml_error(y, n, "%s", e->msg);
}

static void read_rpc_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    (void)i;
    read_text(y, item, data, "rpc");
}

static void read_etcd_item(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    _cleanup_error_ berth_error *e = NULL;
    const char *v;

    if (berth_yaml_get_string(y, item, &v) && set_etcd(data, v, i > 0, &e) < 0)
        berth_yaml_error(y, item, "%s", e->msg);
}

static void read_setting(berth_yaml *y, const berth_yaml_node *n, const setting *s, ctl_config *c)
{
    int64_t v;
    bool ok;

    if (strcmp(s->name, "rpc") == 0 && berth_yaml_type_of(n) == BERTH_YAML_LIST) {
        berth_yaml_each_item(y, n, CTL_RPC_ADDRS_MAX, "a list of addresses", read_rpc_item, c);
        return;
    }
    if (strcmp(s->name, "etcd_endpoints") == 0 && berth_yaml_type_of(n) == BERTH_YAML_LIST) {
        berth_yaml_each_item(y, n, CTL_ETCD_MAX, "a list of etcd client URLs", read_etcd_item, c);
        return;
    }
    /* metrics_address: off, unquoted, is YAML's false */
    if (strcmp(s->name, "metrics_address") == 0 && berth_yaml_type_of(n) == BERTH_YAML_BOOL) {
        bool on = true;

        if (berth_yaml_get_bool(y, n, &on) && on)
            berth_yaml_error(y, n, "an address, or off");
        else if (!on)
            set_text(c, s->name, "off", NULL);
        return;
    }
    if (s->kind == SETTING_TEXT) {
        read_text(y, n, c, s->name);
        return;
    }
    if (s->kind == SETTING_COUNT)
        ok = berth_yaml_get_int(y, n, s->min, s->max, &v);
    else
        ok = berth_yaml_get_duration(y, n, s->min, s->max, &v);
    if (ok)
        set_number(c, s, v);
}

int ctl_config_load(ctl_config *c, const char *path, int missing_ok, berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_error_ berth_error *e = NULL;
    berth_yaml_field f[BERTH_ARRAY_SIZE(settings) + 1] = { BERTH_YAML_END };
    const berth_yaml_node *root;

    if (berth_yaml_open_file(path, &berth_yaml_settings_limits, &y, &e) < 0) {
        if (e->code == ENOENT && missing_ok)
            return 0;
        if (err)
            *err = TAKE_PTR(e);
        return -1;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(settings); i++)
        f[i].name = settings[i].name;
    if (berth_yaml_next(y, &root) > 0 && !berth_yaml_is_null(root) && berth_yaml_fields(y, root, f))
        for (size_t i = 0; i < BERTH_ARRAY_SIZE(settings); i++) {
            size_t mark;

            if (!f[i].value)
                continue;
            mark = berth_yaml_push_field(y, f[i].name);
            read_setting(y, f[i].value, &settings[i], c);
            berth_yaml_pop(y, mark);
        }
    /* The file's list is what the next source (the flags) replaces. */
    c->rpc_set = false;
    return berth_yaml_finish(y, err);
}
