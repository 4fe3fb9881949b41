/* agent.yaml, read through lib/yaml (its rules for types and errors),
 * and the settings flags override. */
#include "agent-config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "metrics/listen.h"
#include "net/cidr.h"
#include <arpa/inet.h>
#include "rpc/principal.h"
#include "base/duration.h"
#include "cdi/cdi.h"
#include "yaml/yaml.h"

#define METRICS_INTERVAL_MIN_NS (100 * BERTH_NSEC_PER_MSEC)
#define PARALLEL_STARTS_MAX     256
#define PARALLEL_PULLS_MAX      16
#define LABEL_LEN_MAX           63

/* Every string setting of c, for copying and freeing them all. */
#define STRING_SETTINGS(c)                                                                         \
    {                                                                                              \
        &(c)->node_name, &(c)->controller_address, &(c)->controller_key, &(c)->state_dir,          \
            &(c)->image_store, &(c)->key, &(c)->join_token, &(c)->cgroup_parent, &(c)->socket,     \
            &(c)->listen, &(c)->advertise, &(c)->controller_name, &(c)->monitor, &(c)->puller,     \
            &(c)->registries, &(c)->seccomp_profile_dir, &(c)->pod_bridge, &(c)->pod_nft_table,    \
            &(c)->pod_cidr, &(c)->pod_cluster_cidr, &(c)->pod_node_ip, &(c)->pod_resolv_conf,      \
            &(c)->cni_conf_dir, &(c)->cni_bin_dir, &(c)->cni_runner, &(c)->secrets_dir,            \
            &(c)->metrics_address                                                                  \
    }

int agent_config_set(char **field, const char *value, berth_error **err)
{
    (void)err; /* never fails: out of memory aborts */
    free(*field);
    *field = value ? berth_xstrdup(value) : NULL;
    return 0;
}

int agent_config_metrics_interval(agent_config *cfg, const char *text, berth_error **err)
{
    int64_t ns;

    if (berth_parse_duration(text, "--metrics-interval", &ns, err) < 0)
        return -1;
    if (ns < METRICS_INTERVAL_MIN_NS)
        return berth_error_set(err, EINVAL, "--metrics-interval: %s is below the minimum of 100ms",
                               text);
    cfg->metrics_interval_ns = ns;
    return 0;
}

int agent_config_defaults(agent_config *cfg, berth_error **err)
{
    char host[256];

    (void)err; /* never fails */
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
    cfg->metrics_interval_ns = 10 * BERTH_NSEC_PER_SEC;
    cfg->volume_stats_interval_ns = 10 * BERTH_NSEC_PER_SEC;
    cfg->max_parallel_starts = 4;
    cfg->max_parallel_pulls = 2;
    cfg->image_pull_backoff_ns = 10 * BERTH_NSEC_PER_SEC;
    cfg->image_gc_interval_ns = 5 * 60 * BERTH_NSEC_PER_SEC;
    cfg->image_gc_high_percent = 85;
    cfg->image_gc_low_percent = 80;
    cfg->image_gc_min_age_ns = 2 * 60 * BERTH_NSEC_PER_SEC;
    cfg->stop_grace_ms = 10000;
    cfg->log_level = BERTH_LOG_INFO;
    cfg->log_format = BERTH_LOG_TEXT;
    cfg->node_name = berth_xstrdup(host);
    cfg->state_dir = berth_xstrdup("/var/lib/berth/agent");
    cfg->image_store = berth_xstrdup("/var/lib/berth/images");
    cfg->seccomp_profile_dir = berth_xstrdup("/etc/berth/seccomp");
    cfg->pod_network = true; /* mode bridge */
    cfg->pod_bridge = berth_xstrdup("berth0");
    cfg->pod_nft_table = berth_xstrdup("berth");
    cfg->cni_conf_dir = berth_xstrdup("/etc/cni/net.d");
    for (size_t i = 0; i < berth_cdi_default_dirs_len && i < AGENT_CDI_DIRS_MAX; i++)
        cfg->cdi_spec_dirs[cfg->n_cdi_spec_dirs++] = berth_xstrdup(berth_cdi_default_dirs[i]);
    cfg->cni_bin_dir = berth_xstrdup("/usr/lib/cni");
    cfg->cgroup_parent = berth_xstrdup("/berth");
    cfg->metrics_address = berth_xstrdup(BERTH_METRICS_AGENT_DEFAULT);
    /* on by default: logs, stop and health relayed by the controller */
    cfg->listen = berth_xstrdup(AGENT_LISTEN_DEFAULT);
    cfg->socket = berth_xstrdup("/run/berth/agent.sock");
    cfg->secrets_dir = berth_xstrdup("/run/berth/secrets");
    cfg->controller_key = berth_xstrdup("/etc/berth/controller.pub");
    cfg->controller_name = berth_xstrdup("controller");
    return 0;
}

void agent_config_free(agent_config *cfg)
{
    char **strs[] = STRING_SETTINGS(cfg);

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
    for (size_t i = 0; i < cfg->n_allowed_devices; i++)
        free(cfg->allowed_devices[i]);
    cfg->n_allowed_devices = 0;
    for (size_t i = 0; i < cfg->n_cdi_spec_dirs; i++)
        free(cfg->cdi_spec_dirs[i]);
    cfg->n_cdi_spec_dirs = 0;
}

/* to = a deep copy of from. */
static void config_copy(agent_config *to, const agent_config *from)
{
    char **strs[] = STRING_SETTINGS(to);

    *to = *from;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(strs); i++)
        if (*strs[i])
            *strs[i] = berth_xstrdup(*strs[i]);
    for (size_t i = 0; i < to->n_labels; i++) {
        to->label_keys[i] = berth_xstrdup(from->label_keys[i]);
        to->label_values[i] = berth_xstrdup(from->label_values[i]);
    }
    for (size_t i = 0; i < to->n_operators; i++) {
        to->operator_names[i] = berth_xstrdup(from->operator_names[i]);
        to->operator_keys[i] = berth_xstrdup(from->operator_keys[i]);
    }
    for (size_t i = 0; i < to->n_allowed_devices; i++)
        to->allowed_devices[i] = berth_xstrdup(from->allowed_devices[i]);
    for (size_t i = 0; i < to->n_cdi_spec_dirs; i++)
        to->cdi_spec_dirs[i] = berth_xstrdup(from->cdi_spec_dirs[i]);
}

int agent_config_label(agent_config *cfg, const char *key, const char *value, berth_error **err)
{
    size_t i;

    if (!*key || strlen(key) > LABEL_LEN_MAX || strlen(value) > LABEL_LEN_MAX)
        return berth_error_set(
            err, EINVAL, "label '%s': keys (not empty) and values are at most 63 characters", key);
    for (i = 0; i < cfg->n_labels; i++)
        if (strcmp(cfg->label_keys[i], key) == 0)
            return agent_config_set(&cfg->label_values[i], value, err);
    if (cfg->n_labels == AGENT_LABELS_MAX)
        return berth_error_set(err, E2BIG, "labels: at most %d", AGENT_LABELS_MAX);
    cfg->label_keys[i] = berth_xstrdup(key);
    cfg->label_values[i] = berth_xstrdup(value);
    cfg->n_labels++;
    return 0;
}

/* --- agent.yaml, through lib/yaml ------------------------------------------ */

typedef berth_yaml_field field;
#define FLD  BERTH_YAML_FIELD
#define FEND BERTH_YAML_END

/* A string setting: present, a string and not empty, it replaces *dst. */
static void read_string(berth_yaml *y, field *f, const char *name, char **dst)
{
    const char *v;

    if (!berth_yaml_opt_string(y, f, name, &v))
        return;
    if (!*v)
        berth_yaml_field_error(y, f, name, "must not be empty");
    else
        agent_config_set(dst, v, NULL);
}

static void add_label(berth_yaml *y, const berth_yaml_node *key, const char *name,
                      const berth_yaml_node *value, const char *text, void *data)
{
    _cleanup_error_ berth_error *e = NULL;

    (void)value;
    if (agent_config_label(data, name, text, &e) < 0)
        berth_yaml_error(y, key, "%s", e->msg);
}

static void read_labels(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_yaml_get_string_map(y, n, AGENT_LABELS_MAX, "labels", add_label, data);
}

static void add_operator(berth_yaml *y, const berth_yaml_node *key, const char *name,
                         const berth_yaml_node *value, const char *text, void *data)
{
    _cleanup_error_ berth_error *e = NULL;
    agent_config *cfg = data;

    (void)value;
    if (berth_name_validate(name, "operator name", &e) < 0) {
        berth_yaml_error(y, key, "%s", e->msg);
    } else if (cfg->n_operators == AGENT_LABELS_MAX) {
        berth_yaml_error(y, key, "at most %d operators", AGENT_LABELS_MAX);
    } else {
        cfg->operator_names[cfg->n_operators] = berth_xstrdup(name);
        cfg->operator_keys[cfg->n_operators] = berth_xstrdup(text);
        cfg->n_operators++;
    }
}

static void read_operators(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_yaml_get_string_map(y, n, AGENT_LABELS_MAX, "operators", add_operator, data);
}

/* A list of absolute paths into to[0..max) (replacing what is there);
 * what names says the items are in errors. */
static void read_paths(berth_yaml *y, const berth_yaml_node *n, size_t max, char **to,
                       size_t *ret_n, const char *what)
{
    char **items = NULL;
    size_t n_items = 0;
    bool ok = true;

    if (!berth_yaml_get_string_list(y, n, max, &items, &n_items))
        return;
    for (size_t i = 0; i < n_items; i++)
        if (items[i][0] != '/' || strlen(items[i]) >= PATH_MAX) {
            size_t mark = berth_yaml_push(y, "[%zu]", i);

            berth_yaml_error(y, berth_yaml_item(y, n, i), "%s must be absolute paths (\"%s\")",
                             what, items[i]);
            berth_yaml_pop(y, mark);
            ok = false;
        }
    if (ok) {
        for (size_t i = 0; i < *ret_n; i++)
            free(to[i]);
        for (size_t i = 0; i < n_items; i++)
            to[i] = TAKE_PTR(items[i]);
        *ret_n = n_items;
    }
    berth_yaml_strv_free(items, n_items);
}

static void read_allowed_devices(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;

    read_paths(y, n, AGENT_DEVICES_MAX, cfg->allowed_devices, &cfg->n_allowed_devices,
               "allowed_devices");
}

static void read_cdi_spec_dirs(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;

    read_paths(y, n, AGENT_CDI_DIRS_MAX, cfg->cdi_spec_dirs, &cfg->n_cdi_spec_dirs,
               "cdi_spec_dirs");
}

static void read_controller(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;
    field f[] = { FLD("address"), FLD("key"), FLD("name"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    read_string(y, f, "address", &cfg->controller_address);
    read_string(y, f, "key", &cfg->controller_key);
    read_string(y, f, "name", &cfg->controller_name);
}

static void read_reserved(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;
    field f[] = { FLD("cpu"), FLD("memory"), FEND };

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_millicpu(y, f, "cpu", &cfg->reserved_cpu_millis);
    berth_yaml_opt_bytes(y, f, "memory", &cfg->reserved_memory_bytes);
}

/* kubelet's image garbage collection settings. */
static void read_image_gc(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;
    field f[] = { FLD("interval"), FLD("high_threshold_percent"), FLD("low_threshold_percent"),
                  FLD("minimum_age"), FEND };
    int64_t v;

    if (!berth_yaml_fields(y, n, f))
        return;
    berth_yaml_opt_duration(y, f, "interval", 0, INT64_MAX, &cfg->image_gc_interval_ns);
    if (berth_yaml_opt_int(y, f, "high_threshold_percent", 0, 100, &v))
        cfg->image_gc_high_percent = (int)v;
    if (berth_yaml_opt_int(y, f, "low_threshold_percent", 0, 100, &v))
        cfg->image_gc_low_percent = (int)v;
    berth_yaml_opt_duration(y, f, "minimum_age", 0, INT64_MAX, &cfg->image_gc_min_age_ns);
    if (cfg->image_gc_low_percent > cfg->image_gc_high_percent)
        berth_yaml_field_error(y, f, "low_threshold_percent",
                               "%d is above high_threshold_percent (%d)", cfg->image_gc_low_percent,
                               cfg->image_gc_high_percent);
}

/* pod_network: {mode: none|bridge, bridge, nft_table, pod_cidr,
 * cluster_cidr}. */
static void read_pod_network(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    static const char *const modes[] = { "none", "bridge", "cni", NULL };
    static const char *const backends[] = { "host-gw", "vxlan", NULL };
    int backend = 0;
    agent_config *cfg = data;
    field f[] = { FLD("mode"),
                  FLD("bridge"),
                  FLD("nft_table"),
                  FLD("pod_cidr"),
                  FLD("cluster_cidr"),
                  FLD("node_ip"),
                  FLD("resolv_conf"),
                  FLD("backend"),
                  FLD("cni_conf_dir"),
                  FLD("cni_bin_dir"),
                  FEND };
    _cleanup_error_ berth_error *e = NULL;
    uint32_t a;
    int mode = -1, p;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_opt_enum(y, f, "mode", modes, &mode)) {
        cfg->pod_network = mode >= 1;
        cfg->pod_cni = mode == 2;
    }
    read_string(y, f, "cni_conf_dir", &cfg->cni_conf_dir);
    read_string(y, f, "cni_bin_dir", &cfg->cni_bin_dir);
    if (berth_yaml_opt_enum(y, f, "backend", backends, &backend))
        cfg->pod_vxlan = backend == 1;
    read_string(y, f, "bridge", &cfg->pod_bridge);
    if (strlen(cfg->pod_bridge) > 15)
        berth_yaml_field_error(y, f, "bridge", "'%s': at most 15 characters", cfg->pod_bridge);
    read_string(y, f, "nft_table", &cfg->pod_nft_table);
    read_string(y, f, "pod_cidr", &cfg->pod_cidr);
    read_string(y, f, "cluster_cidr", &cfg->pod_cluster_cidr);
    read_string(y, f, "node_ip", &cfg->pod_node_ip);
    read_string(y, f, "resolv_conf", &cfg->pod_resolv_conf);
    if (cfg->pod_resolv_conf && cfg->pod_resolv_conf[0] != '/')
        berth_yaml_field_error(y, f, "resolv_conf", "'%s' is not an absolute path",
                               cfg->pod_resolv_conf);
    if (cfg->pod_node_ip && berth_cidr_parse(cfg->pod_node_ip, true, &a, &p, NULL) == 0)
        berth_yaml_field_error(y, f, "node_ip", "an address, without a prefix");
    else if (cfg->pod_node_ip && inet_pton(AF_INET, cfg->pod_node_ip, &a) != 1)
        berth_yaml_field_error(y, f, "node_ip", "'%s' is not an IPv4 address", cfg->pod_node_ip);
    if (cfg->pod_cidr && berth_cidr_parse(cfg->pod_cidr, false, &a, &p, &e) < 0)
        berth_yaml_field_error(y, f, "pod_cidr", "%s", e->msg);
    berth_error_free(&e);
    if (cfg->pod_cluster_cidr && berth_cidr_parse(cfg->pod_cluster_cidr, false, &a, &p, &e) < 0)
        berth_yaml_field_error(y, f, "cluster_cidr", "%s", e->msg);
    if (!cfg->pod_cidr != !cfg->pod_cluster_cidr)
        berth_yaml_field_error(y, f, cfg->pod_cidr ? "pod_cidr" : "cluster_cidr",
                               "pod_cidr and cluster_cidr go together");
}

static void read_log(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    agent_config *cfg = data;
    field f[] = { FLD("level"), FLD("format"), FEND };
    _cleanup_error_ berth_error *e = NULL;
    const char *v;

    if (!berth_yaml_fields(y, n, f))
        return;
    if (berth_yaml_opt_string(y, f, "level", &v) &&
        berth_log_level_parse(v, &cfg->log_level, &e) < 0)
        berth_yaml_field_error(y, f, "level", "%s", e->msg);
    berth_error_free(&e);
    if (berth_yaml_opt_string(y, f, "format", &v) &&
        berth_log_format_parse(v, &cfg->log_format, &e) < 0)
        berth_yaml_field_error(y, f, "format", "%s", e->msg);
}

/* An address setting given as YAML's boolean (off, false, no unquoted):
 * 1 when it is false (turned off), -1 when it is true (an error, said),
 * 0 when it is no boolean. */
static int address_off(berth_yaml *y, field *f, const char *name)
{
    bool on = true;

    for (field *i = f; i->name; i++)
        if (strcmp(i->name, name) == 0 && i->value &&
            berth_yaml_type_of(i->value) == BERTH_YAML_BOOL) {
            if (!berth_yaml_get_bool(y, i->value, &on))
                return -1;
            if (on) {
                berth_yaml_field_error(y, f, name, "an address, or off");
                return -1;
            }
            return 1;
        }
    return 0;
}

/* metrics_address: HOST:PORT, or off (YAML's false unquoted) or "" for
 * none. */
static void read_metrics_address(berth_yaml *y, field *f, agent_config *cfg)
{
    _cleanup_error_ berth_error *e = NULL;
    const char *v;
    int off = address_off(y, f, "metrics_address");

    if (off == 1)
        agent_config_set(&cfg->metrics_address, NULL, NULL);
    if (off != 0 || !berth_yaml_opt_string(y, f, "metrics_address", &v))
        return;
    if (berth_metrics_address_parse(v, NULL, NULL, &e) < 0)
        berth_yaml_field_error(y, f, "metrics_address", "%s", e->msg);
    else
        agent_config_set(&cfg->metrics_address, v, NULL);
}

/* The top level: every setting known, typed, and checked where it is. */
static void read_root(berth_yaml *y, const berth_yaml_node *root, agent_config *cfg)
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
        { "secrets_dir", offsetof(agent_config, secrets_dir) },
        { "listen", offsetof(agent_config, listen) },
        { "advertise", offsetof(agent_config, advertise) },
        { "monitor", offsetof(agent_config, monitor) },
        { "puller", offsetof(agent_config, puller) },
        { "registries", offsetof(agent_config, registries) },
        { "seccomp_profile_dir", offsetof(agent_config, seccomp_profile_dir) },
    };
    field f[] = { FLD("node_name"),
                  FLD("labels"),
                  FLD("controller"),
                  FLD("join_token"),
                  FLD("state_dir"),
                  FLD("key"),
                  FLD("image_store"),
                  FLD("cgroup_parent"),
                  FLD("cgroup_driver"),
                  FLD("socket"),
                  FLD("secrets_dir"),
                  FLD("operators"),
                  FLD("listen"),
                  FLD("advertise"),
                  FLD("monitor"),
                  FLD("puller"),
                  FLD("registries"),
                  FLD("seccomp_profile_dir"),
                  FLD("allow_privileged"),
                  FLD("allowed_devices"),
                  FLD("cdi_spec_dirs"),
                  FLD("pod_network"),
                  FLD("image_pull_backoff"),
                  FLD("image_gc"),
                  FLD("max_parallel_pulls"),
                  FLD("metrics_interval"),
                  FLD("metrics_address"),
                  FLD("volume_stats_interval"),
                  FLD("stop_grace_period"),
                  FLD("max_parallel_starts"),
                  FLD("reserved"),
                  FLD("log"),
                  FEND };
    static const char *const drivers[] = { "auto", "cgroupfs", "systemd", NULL };
    bool listen_done = false;
    int64_t v;
    int driver;

    if (!berth_yaml_fields(y, root, f))
        return;
    if (berth_yaml_opt_enum(y, f, "cgroup_driver", drivers, &driver))
        cfg->cgroup_driver = (agent_cgroup_driver)driver;
    /* listen: off, unquoted too (agent_config_finish turns it off) */
    switch (address_off(y, f, "listen")) {
    case 1:
        agent_config_set(&cfg->listen, "off", NULL);
        /* fall through */
    case -1:
        listen_done = true;
        break;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(strings); i++)
        if (!listen_done || strcmp(strings[i].name, "listen") != 0)
            read_string(y, f, strings[i].name, (char **)((char *)cfg + strings[i].offset));
    berth_yaml_opt_sub(y, f, "labels", read_labels, cfg);
    berth_yaml_opt_sub(y, f, "controller", read_controller, cfg);
    berth_yaml_opt_sub(y, f, "operators", read_operators, cfg);
    berth_yaml_opt_sub(y, f, "reserved", read_reserved, cfg);
    berth_yaml_opt_sub(y, f, "log", read_log, cfg);
    berth_yaml_opt_duration(y, f, "volume_stats_interval", METRICS_INTERVAL_MIN_NS,
                            3600 * BERTH_NSEC_PER_SEC, &cfg->volume_stats_interval_ns);
    berth_yaml_opt_duration(y, f, "metrics_interval", METRICS_INTERVAL_MIN_NS, INT64_MAX,
                            &cfg->metrics_interval_ns);
    if (berth_yaml_opt_duration(y, f, "stop_grace_period", 0, INT64_MAX, &v))
        cfg->stop_grace_ms = v / BERTH_NSEC_PER_MSEC;
    if (berth_yaml_opt_int(y, f, "max_parallel_starts", 1, PARALLEL_STARTS_MAX, &v))
        cfg->max_parallel_starts = (int)v;
    if (berth_yaml_opt_int(y, f, "max_parallel_pulls", 1, PARALLEL_PULLS_MAX, &v))
        cfg->max_parallel_pulls = (int)v;
    berth_yaml_opt_duration(y, f, "image_pull_backoff", BERTH_NSEC_PER_SEC / 10,
                            60 * BERTH_NSEC_PER_SEC, &cfg->image_pull_backoff_ns);
    berth_yaml_opt_sub(y, f, "image_gc", read_image_gc, cfg);
    berth_yaml_opt_bool(y, f, "allow_privileged", &cfg->allow_privileged);
    berth_yaml_opt_sub(y, f, "allowed_devices", read_allowed_devices, cfg);
    berth_yaml_opt_sub(y, f, "cdi_spec_dirs", read_cdi_spec_dirs, cfg);
    berth_yaml_opt_sub(y, f, "pod_network", read_pod_network, cfg);
    read_metrics_address(y, f, cfg);
}

/* Read y's document over a copy of cfg; cfg takes the copy only when the
 * whole file is right. */
static int apply(agent_config *cfg, berth_yaml *y, berth_error **err)
{
    const berth_yaml_node *root;
    agent_config next;

    config_copy(&next, cfg);
    /* An empty file configures nothing. */
    if (berth_yaml_next(y, &root) > 0 && !berth_yaml_is_null(root))
        read_root(y, root, &next);
    if (berth_yaml_finish(y, err) < 0) {
        agent_config_free(&next);
        return -1;
    }
    agent_config_free(cfg);
    *cfg = next;
    return 0;
}

int agent_config_parse(agent_config *cfg, const char *name, const char *text, size_t len,
                       berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;

    if (berth_yaml_open(text, len, name, &berth_yaml_settings_limits, &y, err) < 0)
        return -1;
    return apply(cfg, y, err);
}

int agent_config_load(agent_config *cfg, const char *path, bool must_exist, berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_error_ berth_error *e = NULL;

    if (berth_yaml_open_file(path, &berth_yaml_settings_limits, &y, &e) < 0) {
        if (e->code == ENOENT && !must_exist)
            return 0;
        if (err)
            *err = TAKE_PTR(e);
        return -1;
    }
    return apply(cfg, y, err);
}

static bool address_ok(const char *a)
{
    return strncmp(a, "tcp://", 6) == 0 || strncmp(a, "ipc://", 6) == 0;
}

/* Whether a tcp:// address binds every interface (nanomsg's "*", or the
 * wildcard addresses). */
static bool address_wildcard(const char *a)
{
    return strncmp(a, "tcp://*:", 8) == 0 || strncmp(a, "tcp://0.0.0.0:", 14) == 0 ||
           strncmp(a, "tcp://[::]:", 11) == 0;
}

/* For a listen address that binds every interface, the address the
 * controller can dial: this host's source address on the route to the
 * controller (a UDP socket connected to it sends nothing), or loopback
 * when the controller is on this host (ipc://). */
static int wildcard_advertise(agent_config *cfg, berth_error **err)
{
    const char *port = strrchr(cfg->listen, ':') + 1;
    /* the first controller's route (they share a network) */
    _cleanup_free_ char *first =
        berth_xstrndup(cfg->controller_address, strcspn(cfg->controller_address, ","));
    const char *c = first;
    char host[256], ip[INET6_ADDRSTRLEN] = "127.0.0.1";
    /* IPv4: nanomsg's sockets are IPv4-only (NN_IPV4ONLY), the
     * controller's relay too */
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const char *colon;
    bool v6 = false;
    int fd = -1, r;

    if (strncmp(c, "tcp://", 6) == 0) {
        c += 6;
        colon = strrchr(c, ':');
        if (!colon || colon == c || (size_t)(colon - c) >= sizeof(host))
            return berth_error_set(err, EINVAL, "controller address '%s': expected tcp://HOST:PORT",
                                   cfg->controller_address);
        if (*c == '[' && colon[-1] == ']')
            snprintf(host, sizeof(host), "%.*s", (int)(colon - c - 2), c + 1);
        else
            snprintf(host, sizeof(host), "%.*s", (int)(colon - c), c);
        r = getaddrinfo(host, colon + 1, &hints, &ai);
        if (r != 0)
            return berth_error_set(err, EHOSTUNREACH,
                                   "listen %s binds every address and the controller's host "
                                   "'%s' does not resolve (%s): set advertise",
                                   cfg->listen, host, gai_strerror(r));
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
            int e = errno;

            if (fd >= 0)
                close(fd);
            freeaddrinfo(ai);
            errno = e;
            return berth_error_errno(err,
                                     "listen %s binds every address and no route leads to the "
                                     "controller at %s: set advertise",
                                     cfg->listen, cfg->controller_address);
        }
        close(fd);
        freeaddrinfo(ai);
        v6 = ss.ss_family == AF_INET6;
        inet_ntop(ss.ss_family,
                  v6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                     : (const void *)&((struct sockaddr_in *)&ss)->sin_addr,
                  ip, sizeof(ip));
    }
    free(cfg->advertise);
    cfg->advertise = berth_xasprintf(v6 ? "tcp://[%s]:%s" : "tcp://%s:%s", ip, port);
    return 0;
}

int agent_cgroup_driver_parse(const char *s, agent_cgroup_driver *ret, berth_error **err)
{
    static const char *const names[] = { "auto", "cgroupfs", "systemd" };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *ret = (agent_cgroup_driver)i;
            return 0;
        }
    return berth_error_set(err, EINVAL, "cgroup driver '%s': auto, cgroupfs or systemd", s);
}

int agent_config_finish(agent_config *cfg, berth_error **err)
{
    if (berth_name_validate(cfg->node_name, "node name", err) < 0 ||
        berth_name_validate(cfg->controller_name, "controller name", err) < 0)
        return -1;
    /* "off" (or empty) turns /metrics off (a flag's value is checked
     * here, the file's as it is read) */
    if (cfg->metrics_address) {
        int r = berth_metrics_address_parse(cfg->metrics_address, NULL, NULL, err);

        if (r < 0)
            return -1;
        if (r == 0)
            agent_config_set(&cfg->metrics_address, NULL, NULL);
    }
    if (!cfg->controller_address)
        return berth_error_set(err, EINVAL,
                               "no controller address (controller.address in the config, or "
                               "--controller)");
    /* several, comma-separated: controllers sharing a fleet on etcd */
    {
        _cleanup_free_ char *list = berth_xstrdup(cfg->controller_address);
        char *save = NULL;
        int n = 0;

        for (char *a = strtok_r(list, ", \t", &save); a; a = strtok_r(NULL, ", \t", &save), n++)
            if (!address_ok(a) || n == 8)
                return berth_error_set(err, EINVAL,
                                       n == 8 ? "controller address '%s': at most 8 controllers"
                                              : "controller address '%s': expected tcp://HOST:PORT "
                                                "or ipc://PATH (several: comma-separated)",
                                       n == 8 ? cfg->controller_address : a);
        if (n == 0)
            return berth_error_set(err, EINVAL, "controller address '%s': no address",
                                   cfg->controller_address);
    }
    /* "off" (or empty) turns the Agent endpoint off */
    if (cfg->listen && (!*cfg->listen || strcmp(cfg->listen, "off") == 0)) {
        free(cfg->listen);
        cfg->listen = NULL;
    }
    if (cfg->listen && !address_ok(cfg->listen))
        return berth_error_set(err, EINVAL, "listen address '%s': expected tcp:// or ipc://",
                               cfg->listen);
    if (cfg->state_dir[0] != '/' || cfg->image_store[0] != '/')
        return berth_error_set(err, EINVAL, "state_dir and image_store must be absolute paths");
    if (!cfg->key)
        cfg->key = berth_xasprintf("%s/node.key", cfg->state_dir);
    /* berth-monitor, berth-pull and berth-cni ship beside berthd (the
     * build tree, an install). */
    if (!cfg->monitor || !cfg->puller || !cfg->cni_runner) {
        char self[4096], *slash;
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n < 0)
            return berth_error_errno(err, "find berth-monitor: readlink /proc/self/exe");
        self[n] = '\0';
        slash = strrchr(self, '/');
        *slash = '\0';
        if (!cfg->monitor)
            cfg->monitor = berth_xasprintf("%s/berth-monitor", self);
        if (!cfg->puller)
            cfg->puller = berth_xasprintf("%s/berth-pull", self);
        if (!cfg->cni_runner)
            cfg->cni_runner = berth_xasprintf("%s/berth-cni", self);
    }
    if (access(cfg->monitor, X_OK) < 0)
        return berth_error_errno(err, "monitor %s", cfg->monitor);
    if (access(cfg->puller, X_OK) < 0)
        return berth_error_errno(err, "puller %s", cfg->puller);
    if (cfg->pod_cni && access(cfg->cni_runner, X_OK) < 0)
        return berth_error_errno(err, "pod_network: cni: %s", cfg->cni_runner);
    if (cfg->registries && access(cfg->registries, R_OK) < 0)
        return berth_error_errno(err, "registries %s", cfg->registries);
    /* The controller dials the advertised address; a wildcard listen
     * address is not one it can dial. */
    if (cfg->listen && !cfg->advertise) {
        if (address_wildcard(cfg->listen)) {
            berth_error *e = NULL;

            /* a malformed controller address is the file's mistake; a name
             * that does not resolve yet or a route not up yet (at boot)
             * is no reason not to run: the controller just cannot relay
             * to this node until berthd starts again */
            if (wildcard_advertise(cfg, &e) < 0) {
                if (e->code == EINVAL) {
                    *err = e;
                    return -1;
                }
                berth_log_error(BERTH_LOG_WARN, e, "the Agent endpoint will not be relayed to");
                berth_error_free(&e);
            }
        } else if (agent_config_set(&cfg->advertise, cfg->listen, err) < 0) {
            return -1;
        }
    }
    return 0;
}
