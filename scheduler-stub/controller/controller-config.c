/* berth-controller's settings. */
#include "controller-config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "manifest/settings.h"
#include "rpc/principal.h"
#include "rpc/sock.h"

#define CONFIG_MAX_BYTES (64 * 1024)

static int set_str(char **dst, const char *v, berth_error **err)
{
    char *d = strdup(v);

    if (!d)
        return berth_error_make(err, ENOMEM, "config");
    free(*dst);
    *dst = d;
    return 0;
}

int ctl_config_defaults(ctl_config *c, berth_error **err)
{
    char host[256] = "localhost";

    memset(c, 0, sizeof(*c));
    if (gethostname(host, sizeof(host) - 1) < 0)
        snprintf(host, sizeof(host), "localhost");
    c->heartbeat_min_ns = BERTH_NSEC_PER_SEC;
    c->heartbeat_max_rate = 50;
    c->heartbeat_misses = 3;
    c->down_grace_ns = 30 * BERTH_NSEC_PER_SEC;
    c->log_level = BERTH_LOG_INFO;
    c->log_format = BERTH_LOG_TEXT;
    c->n_rpc = 1;
    if (set_str(&c->name, "controller", err) < 0 ||
        set_str(&c->state_dir, "/var/lib/berth/controller", err) < 0 ||
        set_str(&c->rpc[0], "tcp://0.0.0.0:7100", err) < 0 ||
        set_str(&c->events, "tcp://0.0.0.0:7101", err) < 0 ||
        set_str(&c->stream, "tcp://0.0.0.0:7102", err) < 0 ||
        set_str(&c->survey, "tcp://0.0.0.0:7103", err) < 0 ||
        set_str(&c->advertise_host, host, err) < 0)
        return -1;
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
    memset(c, 0, sizeof(*c));
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *ret, berth_error **err)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
        return berth_error_set(err, EINVAL, "'%s' is not a number in %" PRIu32 "..%" PRIu32, v, min,
                               max);
    *ret = (uint32_t)n;
    return 0;
}

static int set_addr(char **dst, const char *v, berth_error **err)
{
    if (berth_address_validate(v, err) < 0)
        return -1;
    return set_str(dst, v, err);
}

int ctl_config_set(ctl_config *c, const char *key, const char *v, berth_error **err)
{
    if (strcmp(key, "name") == 0) {
        if (berth_name_validate(v, "controller name", err) < 0)
            return -1;
        return set_str(&c->name, v, err);
    }
    if (strcmp(key, "state_dir") == 0 || strcmp(key, "operators_dir") == 0) {
        if (v[0] != '/')
            return berth_error_set(err, EINVAL, "'%s' is not an absolute path", v);
        return set_str(strcmp(key, "state_dir") == 0 ? &c->state_dir : &c->operators_dir, v, err);
    }
    if (strcmp(key, "rpc") == 0) {
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
    if (strcmp(key, "events") == 0)
        return set_addr(&c->events, v, err);
    if (strcmp(key, "stream") == 0)
        return set_addr(&c->stream, v, err);
    if (strcmp(key, "survey") == 0)
        return set_addr(&c->survey, v, err);
    if (strcmp(key, "advertise_host") == 0) {
        if (!*v || strlen(v) > 253 || strpbrk(v, "/: \t"))
            return berth_error_set(err, EINVAL, "'%s' is not a host name or address", v);
        return set_str(&c->advertise_host, v, err);
    }
    if (strcmp(key, "heartbeat_min_interval") == 0 || strcmp(key, "down_grace") == 0) {
        int64_t ns;

        if (berth_parse_duration(v, key, &ns, NULL) < 0)
            return berth_error_set(err, EINVAL, "'%s' is not a duration (500ms, 30s, 1m ...)", v);
        if (ns < 10 * BERTH_NSEC_PER_MSEC || ns > 3600 * BERTH_NSEC_PER_SEC)
            return berth_error_set(err, EINVAL, "%s is out of range (10ms..1h)", v);
        if (strcmp(key, "down_grace") == 0)
            c->down_grace_ns = ns;
        else
            c->heartbeat_min_ns = ns;
        return 0;
    }
    if (strcmp(key, "heartbeat_max_rate") == 0)
        return parse_u32(v, 1, 100000, &c->heartbeat_max_rate, err);
    if (strcmp(key, "heartbeat_misses") == 0)
        return parse_u32(v, 1, 100, &c->heartbeat_misses, err);
    if (strcmp(key, "log_level") == 0)
        return berth_log_level_parse(v, &c->log_level, err);
    if (strcmp(key, "log_format") == 0)
        return berth_log_format_parse(v, &c->log_format, err);
    return berth_error_set(err, ENOENT, "unknown setting");
}

static int take_setting(void *data, const char *key, const char *value, berth_error **err)
{
    return ctl_config_set(data, key, value, err);
}

int ctl_config_load(ctl_config *c, const char *path, int missing_ok, berth_error **err)
{
    if (berth_settings_load(path, missing_ok, take_setting, c, NULL, err) < 0)
        return -1;
    /* The file's list is what the next source (the flags) replaces. */
    c->rpc_set = false;
    return 0;
}
