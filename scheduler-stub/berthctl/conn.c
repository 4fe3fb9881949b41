/* berthctl's connection to the controller: where it is, which key it
 * pins, which operator key we sign with, and a synchronous call. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/auth.h"
#include "rpc/envelope.h"
#include "rpc/policy_memory.h"
#include "spec/workload.h"
#include "yaml/yaml.h"

#define DEFAULT_CONTROLLER     "tcp://127.0.0.1:7100"
#define DEFAULT_CONTROLLER_KEY "/var/lib/berth/controller/controller.pub"
#define DEFAULT_KEY            "/var/lib/berth/controller/admin.key"
#define DEFAULT_TIMEOUT_MS     30000

const char berthctl_connection_help[] =
    "Connection (also BERTH_CONTROLLER, BERTH_CONTROLLER_KEY, BERTH_KEY, BERTH_OPERATOR,\n"
    "BERTH_CONFIG, or the same names in ~/.config/berth/config.yaml):\n"
    "  --controller ADDR        the controller's rpc address (default " DEFAULT_CONTROLLER ");\n"
    "                           several, comma-separated: the one that leads\n"
    "  --controller-key FILE    its public key, pinned (default " DEFAULT_CONTROLLER_KEY ")\n"
    "  --controller-name NAME   its principal name (default controller)\n"
    "  --key FILE               your operator secret key (default " DEFAULT_KEY ")\n"
    "  --operator NAME          your operator name (default admin)\n"
    "  --config FILE            settings file (default ~/.config/berth/config.yaml)\n"
    "  --timeout DURATION       how long to wait for each answer (default 30s;\n"
    "                           --request-timeout too, and only that for drain)\n"
    "Namespaces (also BERTH_NAMESPACE, or namespace: in the settings file):\n"
    "  -n, --namespace NS       the namespace of the objects named (default default)\n"
    "  -A, --all-namespaces     list the objects of every namespace\n";

void berthctl_errorf(const char *fmt, ...)
{
    va_list ap;

    fputs("berthctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --timeout is parsed, not stored as text (offset 0 is a real field:
 * controller comes first in berthctl_ctx). */
#define OFFSET_TIMEOUT SIZE_MAX

static const struct {
    const char *flag;
    size_t offset;
} global_flags[] = {
    { "--controller", offsetof(berthctl_ctx, controller) },
    { "--controller-key", offsetof(berthctl_ctx, controller_key) },
    { "--controller-name", offsetof(berthctl_ctx, controller_name) },
    { "--key", offsetof(berthctl_ctx, key) },
    { "--operator", offsetof(berthctl_ctx, operator_name) },
    { "--config", offsetof(berthctl_ctx, config) },
    { "--timeout", OFFSET_TIMEOUT },
    { "--request-timeout", OFFSET_TIMEOUT },
    { "--namespace", offsetof(berthctl_ctx, namespace_) },
    { "-n", offsetof(berthctl_ctx, namespace_) },
};

static int set_timeout(berthctl_ctx *ctx, const char *v, berth_error **err)
{
    int64_t ns;

    if (berth_parse_duration(v, "timeout", &ns, NULL) < 0 || ns < BERTH_NSEC_PER_MSEC ||
        ns > 3600 * BERTH_NSEC_PER_SEC)
        return berth_error_set(err, EINVAL, "timeout '%s' is not a duration in 1ms..1h", v);
    ctx->timeout_ms = (uint32_t)(ns / BERTH_NSEC_PER_MSEC);
    return 0;
}

/* The global flag a command takes as its own, as kubectl's command does:
 * drain's --timeout (the call timeout is --request-timeout then), create
 * secret tls's --key (the operator key is BERTH_KEY or the settings
 * file's then). NULL: none. */
static const char *command_own_flag(int argc, char **argv)
{
    const char *words[3] = { NULL, NULL, NULL };
    size_t n = 0;

    /* the command's words: the first arguments that are no flag nor a
     * global flag's value */
    for (int i = 1; i < argc && n < 3 && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];

        if (a[0] != '-') {
            words[n++] = a;
            continue;
        }
        for (size_t f = 0; f < sizeof(global_flags) / sizeof(global_flags[0]); f++)
            if (strcmp(a, global_flags[f].flag) == 0) {
                i++; /* its value */
                break;
            }
    }
    if ((words[0] && strcmp(words[0], "drain") == 0) ||
        (words[0] && words[1] && strcmp(words[0], "node") == 0 && strcmp(words[1], "drain") == 0))
        return "--timeout";
    if (n == 3 && strcmp(words[0], "create") == 0 && strcmp(words[1], "secret") == 0 &&
        strcmp(words[2], "tls") == 0)
        return "--key";
    return NULL;
}

int berthctl_take_global_flags(berthctl_ctx *ctx, int *argc, char **argv)
{
    const char *own = command_own_flag(*argc, argv);
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *value = NULL;
        size_t f, len;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "-A") == 0 || strcmp(a, "--all-namespaces") == 0) {
            ctx->all_namespaces = true;
            continue;
        }
        if (strncmp(a, "-n", 2) == 0 && a[2] && a[2] != '=') { /* -nNS, as kubectl takes it */
            ctx->namespace_ = a + 2;
            continue;
        }
        for (f = 0; f < sizeof(global_flags) / sizeof(global_flags[0]); f++) {
            len = strlen(global_flags[f].flag);
            if (strncmp(a, global_flags[f].flag, len) == 0 && (a[len] == '\0' || a[len] == '='))
                break;
        }
        if (f == sizeof(global_flags) / sizeof(global_flags[0]) ||
            (own && strcmp(global_flags[f].flag, own) == 0)) {
            argv[out++] = argv[i];
            continue;
        }
        if (a[len] == '=') {
            value = a + len + 1;
        } else if (i + 1 < *argc) {
            value = argv[++i];
        } else {
            berthctl_errorf("%s needs a value", global_flags[f].flag);
            return BERTHCTL_EXIT_USAGE;
        }
        if (global_flags[f].offset != OFFSET_TIMEOUT) {
            *(const char **)((char *)ctx + global_flags[f].offset) = value;
        } else {
            _cleanup_error_ berth_error *err = NULL;

            if (set_timeout(ctx, value, &err) < 0) {
                berthctl_errorf("--timeout: %s", err->msg);
                return BERTHCTL_EXIT_USAGE;
            }
        }
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* The config file's settings (~/.config/berth/config.yaml, --config,
 * BERTH_CONFIG): the same names as the flags, and timeout. */
static const struct {
    const char *key;
    size_t offset;
} file_settings[] = {
    { "controller", offsetof(berthctl_ctx, controller) },
    { "controller_key", offsetof(berthctl_ctx, controller_key) },
    { "controller_name", offsetof(berthctl_ctx, controller_name) },
    { "key", offsetof(berthctl_ctx, key) },
    { "operator", offsetof(berthctl_ctx, operator_name) },
    { "namespace", offsetof(berthctl_ctx, namespace_) },
};

_Static_assert(BERTH_ARRAY_SIZE(file_settings) <= BERTH_ARRAY_SIZE(((berthctl_ctx *)0)->owned),
               "one owned string per setting of the file");

/* Read the config file at path through lib/yaml; when it is right, each
 * of its settings applies unless a flag or the environment set it. */
static int read_config(berthctl_ctx *ctx, const char *path, bool missing_ok, berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_error_ berth_error *e = NULL;
    berth_yaml_field f[] = {
        BERTH_YAML_FIELD("controller"),      BERTH_YAML_FIELD("controller_key"),
        BERTH_YAML_FIELD("controller_name"), BERTH_YAML_FIELD("key"),
        BERTH_YAML_FIELD("operator"),        BERTH_YAML_FIELD("namespace"),
        BERTH_YAML_FIELD("timeout"),         BERTH_YAML_END
    };
    const char *values[BERTH_ARRAY_SIZE(file_settings)] = { NULL };
    const berth_yaml_node *root;
    int64_t timeout_ns = 0;

    if (berth_yaml_open_file(path, &berth_yaml_settings_limits, &y, &e) < 0) {
        if (e->code == ENOENT && missing_ok)
            return 0;
        if (err)
            *err = TAKE_PTR(e);
        return -1;
    }
    if (berth_yaml_next(y, &root) > 0 && !berth_yaml_is_null(root) &&
        berth_yaml_fields(y, root, f)) {
        for (size_t i = 0; i < BERTH_ARRAY_SIZE(file_settings); i++)
            berth_yaml_opt_string(y, f, file_settings[i].key, &values[i]);
        berth_yaml_opt_duration(y, f, "timeout", BERTH_NSEC_PER_MSEC, 3600 * BERTH_NSEC_PER_SEC,
                                &timeout_ns);
    }
    if (berth_yaml_finish(y, err) < 0)
        return -1;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(file_settings); i++) {
        const char **slot = (const char **)((char *)ctx + file_settings[i].offset);

        if (values[i] && !*slot)
            *slot = ctx->owned[i] = berth_xstrdup(values[i]);
    }
    if (timeout_ns && !ctx->timeout_ms)
        ctx->timeout_ms = (uint32_t)(timeout_ns / BERTH_NSEC_PER_MSEC);
    return 0;
}

int berthctl_resolve(berthctl_ctx *ctx, berth_error **err)
{
    static const struct {
        const char *env;
        size_t offset;
    } envs[] = {
        { "BERTH_CONTROLLER", offsetof(berthctl_ctx, controller) },
        { "BERTH_CONTROLLER_KEY", offsetof(berthctl_ctx, controller_key) },
        { "BERTH_CONTROLLER_NAME", offsetof(berthctl_ctx, controller_name) },
        { "BERTH_KEY", offsetof(berthctl_ctx, key) },
        { "BERTH_OPERATOR", offsetof(berthctl_ctx, operator_name) },
        { "BERTH_CONFIG", offsetof(berthctl_ctx, config) },
        { "BERTH_NAMESPACE", offsetof(berthctl_ctx, namespace_) },
    };
    char path[4096];
    const char *home = getenv("HOME");

    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        const char **slot = (const char **)((char *)ctx + envs[i].offset);
        const char *v = getenv(envs[i].env);

        if (!*slot && v && *v)
            *slot = v;
    }
    if (ctx->config) {
        if (read_config(ctx, ctx->config, false, err) < 0)
            return -1;
    } else if (home && *home) {
        snprintf(path, sizeof(path), "%s/.config/berth/config.yaml", home);
        if (read_config(ctx, path, true, err) < 0)
            return -1;
    }
    if (!ctx->controller)
        ctx->controller = DEFAULT_CONTROLLER;
    if (!ctx->controller_key)
        ctx->controller_key = DEFAULT_CONTROLLER_KEY;
    if (!ctx->controller_name)
        ctx->controller_name = "controller";
    if (!ctx->key)
        ctx->key = DEFAULT_KEY;
    if (!ctx->operator_name)
        ctx->operator_name = "admin";
    if (!ctx->timeout_ms)
        ctx->timeout_ms = DEFAULT_TIMEOUT_MS;
    return 0;
}

/* nanomsg keeps reconnecting in silence, so a controller that is not
 * there at all would cost the operator a whole call timeout. Knock once:
 * nobody listening (refused, no socket file) is an error now; anything
 * else (a slow network, a firewall dropping) is left to the call. */
int berthctl_probe(const char *address, berth_error **err)
{
    int fd = -1, r = 0;

    if (strncmp(address, "ipc://", 6) == 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = address + 6;

        if (strlen(path) >= sizeof(sa.sun_path))
            return 0;
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
            (errno == ENOENT || errno == ECONNREFUSED))
            r = berth_error_errno(err, "nothing listens at %s", address);
    } else if (strncmp(address, "tcp://", 6) == 0) {
        char host[256];
        const char *hp = strchr(address + 6, ';') ? strchr(address + 6, ';') + 1 : address + 6;
        const char *colon = strrchr(hp, ':');
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        struct pollfd p;

        if (!colon || (size_t)(colon - hp) >= sizeof(host))
            return 0;
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = '\0';
        if (host[0] == '[') { /* [::1] */
            memmove(host, host + 1, strlen(host));
            host[strcspn(host, "]")] = '\0';
        }
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
            return 0;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno == EINPROGRESS) {
            int soerr = 0;
            socklen_t l = sizeof(soerr);

            p.fd = fd;
            p.events = POLLOUT;
            if (poll(&p, 1, 3000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) == 0 &&
                soerr == ECONNREFUSED) {
                errno = soerr;
                r = berth_error_errno(err, "nothing listens at %s", address);
            }
        } else if (fd >= 0 && errno == ECONNREFUSED) {
            r = berth_error_errno(err, "nothing listens at %s", address);
        }
        freeaddrinfo(ai);
    }
    if (fd >= 0)
        close(fd);
    return r;
}

int berthctl_connect_server(berthctl_ctx *ctx, const ProtobufCServiceDescriptor *service,
                            const berth_principal *server, const char *server_key,
                            const char *server_key_what, const char *address,
                            const char *address_what, const char *peer, const char *silent,
                            berth_error **err)
{
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_principal me;
    berth_keypair key;
    berth_auth_config ac = { 0 };
    berth_rpc_client_config cc = { 0 };
    berth_policy_memory *policy = NULL;
    berth_auth *auth = NULL;
    size_t n = 0;
    int r = -1;

    ctx->service = service;
    snprintf(ctx->peer, sizeof(ctx->peer), "%s", peer);
    snprintf(ctx->silent, sizeof(ctx->silent), "%s", silent);
    if (berth_principal_init(&me, BERTH_ROLE_OPERATOR, ctx->operator_name, err) < 0)
        return -1;
    if (berth_pubkeys_load(AT_FDCWD, server_key, pks, &n, err) < 0)
        return berth_error_prefix(err, "%s", server_key_what);
    if (berth_keypair_load(AT_FDCWD, ctx->key, &key, err) < 0)
        return berth_error_prefix(err, "your operator key (--key)");
    if (berthctl_probe(address, err) < 0) {
        berth_error_prefix(err, "%s", address_what);
        goto out;
    }
    if (berth_policy_memory_new(&policy, err) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (berth_policy_memory_add_key(policy, server, pks[i], err) < 0)
            goto out;
    ac.self = me;
    ac.key = key;
    ac.policy = &berth_policy_memory_ops;
    ac.policy_data = policy;
    if (berth_auth_new(&ac, &auth, err) < 0 || berth_loop_new(&ctx->loop, err) < 0)
        goto out;
    cc.loop = ctx->loop;
    cc.auth = auth;
    cc.address = address;
    cc.server = *server;
    cc.default_timeout_ms = ctx->timeout_ms;
    cc.max_inflight = ctx->max_inflight;
    /* One process, one call at a time: a resend could only help across a
     * reconnection, and a long call (a survey) must not be sent twice. */
    cc.resend_ivl_ms = (int)ctx->timeout_ms;
    if (berth_rpc_client_new(&cc, &ctx->client, err) < 0)
        goto out;
    ctx->auth = auth;
    ctx->policy = policy;
    auth = NULL;
    policy = NULL;
    r = 0;
out:
    berth_keypair_wipe(&key);
    berth_auth_free(auth);
    berth_policy_memory_free(policy);
    return r;
}

/* The connection, not the settings. */
static void drop_client(berthctl_ctx *ctx)
{
    berth_rpc_client_free(ctx->client);
    berth_auth_free(ctx->auth);
    berth_policy_memory_free(ctx->policy);
    berth_loop_free(ctx->loop);
    ctx->client = NULL;
    ctx->auth = ctx->policy = NULL;
    ctx->loop = NULL;
}

/* Several controllers (comma-separated): ask each in turn which leads
 * (ListControllers, which followers answer too) and stay with the one
 * that does. */
static int connect_leader(berthctl_ctx *ctx, const berth_principal *controller, berth_error **err)
{
    static char chosen[512];
    _cleanup_free_ char *list = berth_xstrdup(ctx->controller);
    char why[1536] = "";
    char *save = NULL;
    uint32_t timeout = ctx->timeout_ms;

    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        ListControllersRequest req = LIST_CONTROLLERS_REQUEST_INIT;
        berth_rpc_result res = { 0 };
        berth_error *e = NULL;
        size_t l = strlen(why);
        char peer[600];

        snprintf(peer, sizeof(peer), "the controller at %s", a);
        if (berthctl_connect_server(ctx, &controller_descriptor, controller, ctx->controller_key,
                                    "the controller's public key (--controller-key)", a,
                                    "the controller (--controller)", peer, peer, &e) < 0) {
            if (!ctx->client && e->code != ECONNREFUSED && e->code != ENOENT) {
                /* the key files: the same for every address */
                *err = e;
                return -1;
            }
            snprintf(why + l, sizeof(why) - l, "; %s", e->msg);
            berth_error_free(&e);
            drop_client(ctx);
            continue;
        }
        if (berth_rpc_client_call_sync(ctx->client, ctx->service, "ListControllers", &req.base,
                                       timeout < 3000 ? timeout : 3000, &res, &e) == 0 &&
            res.code == CODE_OK) {
            const char *role = ((ListControllersResponse *)res.response)->role;

            if (strcmp(role, "leader") == 0 || strcmp(role, "sole") == 0) {
                berth_rpc_result_clear(&res);
                snprintf(chosen, sizeof(chosen), "%s", a);
                ctx->controller = chosen;
                snprintf(ctx->peer, sizeof(ctx->peer), "the controller at %s", a);
                return 0;
            }
            snprintf(why + l, sizeof(why) - l, "; %s: %s", a, role);
        } else {
            snprintf(why + l, sizeof(why) - l, "; %s: %s", a,
                     e             ? e->msg
                     : res.message ? res.message
                                   : berth_rpc_code_name(res.code));
        }
        berth_error_free(&e);
        berth_rpc_result_clear(&res);
        drop_client(ctx);
    }
    return berth_error_set(err, EHOSTUNREACH, "no controller of %s leads now%s", ctx->controller,
                           why);
}

int berthctl_connect(berthctl_ctx *ctx, berth_error **err)
{
    berth_principal controller;
    char peer[300], silent[512], d[32];

    if (berthctl_resolve(ctx, err) < 0 ||
        berth_principal_init(&controller, BERTH_ROLE_CONTROLLER, ctx->controller_name, err) < 0)
        return -1;
    if (ctx->namespace_ && !berth_namespace_name_valid(ctx->namespace_))
        return berth_error_set(err, EINVAL,
                               "namespace '%.70s' is not a valid namespace name (1-%d of a-z 0-9 "
                               "-, starting and ending with a letter or digit)",
                               ctx->namespace_, BERTH_NAMESPACE_MAX);
    if (strchr(ctx->controller, ',') && connect_leader(ctx, &controller, err) < 0)
        return -1;
    snprintf(peer, sizeof(peer), "the controller at %s", ctx->controller);
    snprintf(silent, sizeof(silent), "%s did not answer within %s", peer,
             berth_format_duration((int64_t)ctx->timeout_ms * BERTH_NSEC_PER_MSEC, d, sizeof(d)));
    if (ctx->client) {
        snprintf(ctx->silent, sizeof(ctx->silent), "%s", silent);
        return 0;
    }
    return berthctl_connect_server(ctx, &controller_descriptor, &controller, ctx->controller_key,
                                   "the controller's public key (--controller-key)",
                                   ctx->controller, "the controller (--controller)", peer, silent,
                                   err);
}

void berthctl_disconnect(berthctl_ctx *ctx)
{
    drop_client(ctx);
    for (size_t i = 0; i < sizeof(ctx->owned) / sizeof(ctx->owned[0]); i++) {
        free(ctx->owned[i]);
        ctx->owned[i] = NULL;
    }
}

const char *berthctl_namespace(const berthctl_ctx *ctx)
{
    return berth_namespace_or_default(ctx->namespace_);
}

const char *berthctl_list_namespace(const berthctl_ctx *ctx)
{
    return ctx->all_namespaces ? "" : berthctl_namespace(ctx);
}

void berthctl_container_id(const berthctl_ctx *ctx, const char *name, char *ret, size_t size)
{
    char id[BERTH_ID_BUF];

    if (strstr(name, BERTH_NAMESPACE_SEP) || strlen(name) >= BERTH_ID_BUF) {
        snprintf(ret, size, "%s", name);
        return;
    }
    berth_id_join(berthctl_namespace(ctx), name, id);
    snprintf(ret, size, "%s", id);
}

int berthctl_connect_or_exit(berthctl_ctx *ctx)
{
    _cleanup_error_ berth_error *err = NULL;

    if (berthctl_connect(ctx, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        return 1;
    }
    return 0;
}

/* berthctl_call, or 2 without a word when the answer is NOT_FOUND and
 * quiet_not_found. */
static int call(berthctl_ctx *ctx, const char *method, const ProtobufCMessage *request,
                ProtobufCMessage **ret_response, bool quiet_not_found)
{
    _cleanup_error_ berth_error *err = NULL;
    berth_rpc_result res = { 0 };

    if (berth_rpc_client_call_sync(ctx->client, ctx->service, method, request, 0, &res, &err) < 0) {
        berthctl_errorf("%s: %s", method, err->msg);
        return 1;
    }
    if (res.code == CODE_NOT_FOUND && quiet_not_found) {
        berth_rpc_result_clear(&res);
        return 2;
    }
    if (res.code == CODE_OK) {
        *ret_response = res.response;
        res.response = NULL;
        berth_rpc_result_clear(&res);
        return 0;
    }
    if (res.code == CODE_DEADLINE_EXCEEDED)
        berthctl_errorf("%s", ctx->silent);
    else if (res.code == CODE_UNAVAILABLE && !res.message)
        berthctl_errorf("%s is unavailable", ctx->peer);
    else
        berthctl_errorf("%s", res.message ? res.message : berth_rpc_code_name(res.code));
    berth_rpc_result_clear(&res);
    return 1;
}

int berthctl_call(berthctl_ctx *ctx, const char *method, const ProtobufCMessage *request,
                  ProtobufCMessage **ret_response)
{
    return call(ctx, method, request, ret_response, false);
}

int berthctl_call_quiet(berthctl_ctx *ctx, const char *method, const ProtobufCMessage *request,
                        ProtobufCMessage **ret_response)
{
    return call(ctx, method, request, ret_response, true);
}

int berthctl_read_input(const char *path, size_t max, char **ret_text, size_t *ret_len,
                        berth_error **err)
{
    if (strcmp(path, "-") != 0)
        return berth_read_file_at(AT_FDCWD, path, max, ret_text, ret_len, err);
    {
        size_t cap = 65536, len = 0;
        char *buf = berth_xmalloc(cap + 1);

        for (;;) {
            ssize_t n;

            if (len == cap) {
                if (cap > max) {
                    free(buf);
                    return berth_error_set(err, EFBIG, "stdin: more than %zu bytes", max);
                }
                cap *= 2;
                buf = berth_xreallocarray(buf, cap + 1, 1);
            }
            n = berth_read_retry(0, buf + len, cap - len);
            if (n < 0) {
                free(buf);
                return berth_error_errno(err, "read stdin");
            }
            if (n == 0)
                break;
            len += (size_t)n;
        }
        if (len > max) {
            free(buf);
            return berth_error_set(err, EFBIG, "stdin: more than %zu bytes", max);
        }
        buf[len] = '\0';
        *ret_text = buf;
        if (ret_len)
            *ret_len = len;
        return 0;
    }
}

int berthctl_parse_tail(const char *arg, uint32_t *ret_lines)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno || *end || !*arg || arg[0] == '-' || v > UINT32_MAX) {
        berthctl_errorf("--tail: '%s' is not a number of lines", arg);
        return BERTHCTL_EXIT_USAGE;
    }
    *ret_lines = (uint32_t)v;
    return 0;
}

int berthctl_parse_grace(const char *arg, uint32_t *ret_ms)
{
    int64_t ns;

    if (berth_parse_duration(arg, "--grace", &ns, NULL) < 0 || ns < BERTH_NSEC_PER_MSEC ||
        ns > 3600 * BERTH_NSEC_PER_SEC) {
        berthctl_errorf("--grace: '%s' is not a duration in 1ms..1h", arg);
        return BERTHCTL_EXIT_USAGE;
    }
    *ret_ms = (uint32_t)(ns / BERTH_NSEC_PER_MSEC);
    return 0;
}
