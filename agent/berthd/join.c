/* berthd join (join.h). */
#include "join.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent-config.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "rpc/auth.h"
#include "rpc/client.h"
#include "rpc/discover.h"
#include "rpc/keys.h"
#include "rpc/policy_memory.h"

#define JOIN_CONFIG_DEFAULT "/etc/berth/agent.yaml"
#define JOIN_TIMEOUT_MS     10000

/* ---- the configuration's text ---- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static void lines_insert(lines *l, size_t at, char *line)
{
    l->v = berth_xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*l->v));
    l->v[at] = line;
    l->n++;
}

static void lines_remove(lines *l, size_t at)
{
    free(l->v[at]);
    memmove(l->v + at, l->v + at + 1, (l->n - at - 1) * sizeof(*l->v));
    l->n--;
}

/* Whether line (after indent characters of indentation) sets key: "key:"
 * then a space, a comment or the end. commented: "#key:" or "# key:". */
static bool sets(const char *line, size_t indent, const char *key, bool commented)
{
    size_t k = strlen(key);

    for (size_t i = 0; i < indent; i++)
        if (line[i] != ' ' && line[i] != '\t')
            return false;
    line += indent;
    if (commented) {
        if (*line++ != '#')
            return false;
        if (*line == ' ')
            line++;
    }
    return strncmp(line, key, k) == 0 && line[k] == ':' &&
           (line[k + 1] == '\0' || line[k + 1] == ' ' || line[k + 1] == '\t' ||
            line[k + 1] == '\r');
}

/* A YAML single-quoted scalar. */
static char *quoted(const char *v)
{
    size_t n = 2;
    char *out, *o;

    for (const char *p = v; *p; p++)
        n += *p == '\'' ? 2 : 1;
    o = out = berth_xmalloc(n + 1);
    *o++ = '\'';
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            *o++ = '\'';
        *o++ = *p;
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* The file's lines end in "\r\n": so do the ones written into it. */
static const char *line_end = "";

static char *setting(const char *indent, const char *key, const char *value)
{
    char *q = quoted(value), *line = berth_xasprintf("%s%s: %s%s", indent, key, q, line_end);

    free(q);
    return line;
}

/* Where the document's content starts: after directives (%...) and a
 * "---" line. */
static size_t document_start(const lines *l)
{
    size_t i = 0;

    while (i < l->n && l->v[i][0] == '%')
        i++;
    if (i < l->n && strncmp(l->v[i], "---", 3) == 0)
        return i + 1;
    return i < l->n && i > 0 ? i : 0;
}

/* Where it ends: before a "..." line, or at the end. */
static size_t document_end(const lines *l)
{
    for (size_t i = document_start(l); i < l->n; i++)
        if (strncmp(l->v[i], "...", 3) == 0)
            return i;
    return l->n;
}

/* Set a top-level key: its line replaced, or added after its commented
 * example, or at the top. */
static void set_top(lines *l, const char *key, const char *value)
{
    size_t example = l->n;

    for (size_t i = 0; i < l->n; i++) {
        if (sets(l->v[i], 0, key, false)) {
            free(l->v[i]);
            l->v[i] = setting("", key, value);
            return;
        }
        if (example == l->n && sets(l->v[i], 0, key, true))
            example = i;
    }
    lines_insert(l, example == l->n ? document_start(l) : example + 1, setting("", key, value));
}

/* The controller block's settings. */
static void set_controller(lines *l, const join_settings *js)
{
    static const char *const keys[] = { "address", "key", "name" };
    const char *values[] = { js->address, js->key, js->controller_name };
    char indent[16] = "  ";
    size_t at = l->n, end;

    for (size_t i = 0; i < l->n && at == l->n; i++)
        if (sets(l->v[i], 0, "controller", false))
            at = i;
    if (at == l->n) {
        /* none: a block of its own at the end */
        at = document_end(l);
        lines_insert(l, at, berth_xasprintf("controller:%s", line_end));
    } else {
        const char *rest = l->v[at] + strlen("controller:");

        rest += strspn(rest, " \t");
        if (*rest && *rest != '#' && *rest != '\r') {
            /* a flow mapping on the line ({address: ...}): made a block */
            free(l->v[at]);
            l->v[at] = berth_xasprintf("controller:%s", line_end);
        }
    }
    /* the block: the lines after it that are indented or blank, and
     * comments at the margin with an indented line after them */
    for (end = at + 1; end < l->n; end++) {
        const char *s = l->v[end];

        if (*s == '#') {
            size_t next = end + 1;

            while (next < l->n && (l->v[next][0] == '#' || !l->v[next][strspn(l->v[next], "\r")]))
                next++;
            if (next < l->n && (l->v[next][0] == ' ' || l->v[next][0] == '\t'))
                continue;
            break;
        }
        if (*s && *s != ' ' && *s != '\t' && *s != '\r')
            break;
    }
    for (size_t i = at + 1; i < end; i++) {
        size_t w = strspn(l->v[i], " \t");

        if (w && l->v[i][w] && l->v[i][w] != '#' && l->v[i][w] != '\r' && w < sizeof(indent)) {
            snprintf(indent, sizeof(indent), "%.*s", (int)w, l->v[i]);
            break;
        }
    }
    for (size_t k = 0; k < 3; k++) {
        size_t w = strlen(indent), example = end, found = end;

        for (size_t i = at + 1; i < end; i++) {
            if (sets(l->v[i], w, keys[k], false))
                found = i;
            else if (example == end && sets(l->v[i], w, keys[k], true))
                example = i;
        }
        if (found != end) {
            free(l->v[found]);
            l->v[found] = setting(indent, keys[k], values[k]);
        } else {
            lines_insert(l, example != end ? example + 1 : at + 1,
                         setting(indent, keys[k], values[k]));
            end++;
        }
    }
}

void join_config_text(const char *old, const join_settings *js, char **ret)
{
    lines l = { 0 };
    size_t len = 0;
    char *out, *o;

    line_end = old && strstr(old, "\r\n") ? "\r" : "";
    for (const char *p = old ? old : ""; *p;) {
        size_t n = strcspn(p, "\n");

        lines_insert(&l, l.n, berth_xstrndup(p, n));
        p += n + (p[n] == '\n');
    }
    if (!old) {
        lines_insert(&l, 0,
                     berth_xstrdup("# /etc/berth/agent.yaml: written by berthd join (the "
                                   "settings: deploy/agent.yaml, berthd --help)."));
    }
    set_controller(&l, js);
    if (js->node_name)
        set_top(&l, "node_name", js->node_name);
    /* enrolled: the token's secret need not stay on disk */
    for (size_t i = 0; i < l.n;)
        if (sets(l.v[i], 0, "join_token", false))
            lines_remove(&l, i);
        else
            i++;
    for (size_t i = 0; i < l.n; i++)
        len += strlen(l.v[i]) + 1;
    o = out = berth_xmalloc(len + 1);
    for (size_t i = 0; i < l.n; i++) {
        size_t n = strlen(l.v[i]);

        memcpy(o, l.v[i], n);
        o += n;
        *o++ = '\n';
        free(l.v[i]);
    }
    *o = '\0';
    free(l.v);
    *ret = out;
}

/* ---- the command ---- */

/* The directory a file goes in, made when missing (0755: /etc/berth). */
static void mkdir_parent(const char *file)
{
    char *dir = berth_xstrdup(file), *slash = strrchr(dir, '/');

    if (slash && slash != dir) {
        *slash = '\0';
        berth_mkdir_p(dir, 0755, NULL);
    }
    free(dir);
}

static void join_usage(FILE *out)
{
    fputs("Usage: berthd join ADDRESS --token TOKEN --controller-fingerprint SHA256:... [OPTIONS]\n"
          "\n"
          "Join this node to the fleet of the controller at ADDRESS (tcp://HOST:PORT):\n"
          "fetch the controller's public key and check it against the fingerprint (from\n"
          "berthctl join-token; nothing is sent to a controller whose key does not match),\n"
          "enroll this node's key with the join token, then write the controller's key and\n"
          "the controller's settings into the configuration (its other settings and\n"
          "comments are kept). Then start berthd (systemctl enable --now berthd).\n"
          "\n"
          "  -c, --config FILE               the configuration to write (default\n"
          "                                  /etc/berth/agent.yaml; made if missing)\n"
          "      --token TOKEN               a join token (berthctl join-token)\n"
          "      --controller-fingerprint F  SHA256:... of the controller's key\n"
          "      --controller-key FILE       where its key goes (default: the configuration's\n"
          "                                  controller.key, /etc/berth/controller.pub)\n"
          "      --node-name NAME            this node's name (default: the configuration's,\n"
          "                                  or the host name)\n"
          "      --timeout D                 for each step (default 10s)\n"
          "  -h, --help                      this text\n",
          out);
}

/* Enroll the node's key with the token: a handshake the controller admits
 * it at (the call that follows needs no more: NOT_FOUND "not registered"
 * means admitted). */
static int enroll(const agent_config *cfg, const berth_principal *ctl, const uint8_t ctl_pk[32],
                  const berth_join_token *token, int timeout_ms, berth_error **err)
{
    berth_auth_config acfg = { 0 };
    berth_rpc_client_config ccfg = { 0 };
    berth_policy_memory *policy = NULL;
    berth_auth *auth = NULL;
    berth_loop *loop = NULL;
    berth_rpc_client *client = NULL;
    berth_rpc_result r = { 0 };
    GetPeersRequest peers = GET_PEERS_REQUEST_INIT;
    berth_keypair kp;
    bool created = false;
    int status = -1;

    if (berth_principal_init(&acfg.self, BERTH_ROLE_NODE, cfg->node_name, err) < 0)
        return -1;
    if (berth_mkdir_p(cfg->state_dir, 0700, err) < 0 ||
        berth_keypair_load_or_generate(AT_FDCWD, cfg->key, &kp, &created, err) < 0)
        return berth_error_prefix(err, "the node key");
    if (created)
        printf("generated the node key %s\n", cfg->key);
    acfg.key = kp;
    acfg.policy = &berth_policy_memory_ops;
    if (berth_policy_memory_new(&policy, err) < 0 ||
        berth_policy_memory_add_key(policy, ctl, ctl_pk, err) < 0)
        goto out;
    acfg.policy_data = policy;
    if (berth_auth_new(&acfg, &auth, err) < 0 || berth_loop_new(&loop, err) < 0)
        goto out;
    ccfg.loop = loop;
    ccfg.auth = auth;
    ccfg.address = cfg->controller_address;
    ccfg.server = *ctl;
    ccfg.join_token = token;
    ccfg.handshake_timeout_ms = (uint32_t)timeout_ms;
    if (berth_rpc_client_new(&ccfg, &client, err) < 0 ||
        berth_rpc_client_call_sync(client, &controller_descriptor, "GetPeers", &peers.base,
                                   (uint32_t)timeout_ms, &r, err) < 0)
        goto out;
    /* a read-only call: its answer (or NOT_FOUND, "not registered")
     * comes only through a session, which only an admitted key gets */
    if (r.code == CODE_PERMISSION_DENIED || r.code == CODE_UNAUTHENTICATED) {
        berth_error_set(err, EACCES, "the controller refused this node: %s",
                        r.message ? r.message : berth_rpc_code_name(r.code));
        goto out;
    }
    if (r.code != CODE_OK && r.code != CODE_NOT_FOUND) {
        berth_error_set(err, EIO, "the controller answered %s: %s", berth_rpc_code_name(r.code),
                        r.message ? r.message : "");
        goto out;
    }
    status = 0;
out:
    berth_rpc_result_clear(&r);
    berth_rpc_client_free(client);
    berth_auth_free(auth);
    berth_loop_free(loop);
    berth_policy_memory_free(policy);
    berth_keypair_wipe(&kp);
    berth_keypair_wipe(&acfg.key);
    return status;
}

int berthd_join(int argc, char **argv)
{
    enum { OPT_TOKEN = 256, OPT_FP, OPT_KEY, OPT_NODE, OPT_TIMEOUT };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "controller-fingerprint", required_argument, NULL, OPT_FP },
        { "controller-key", required_argument, NULL, OPT_KEY },
        { "node-name", required_argument, NULL, OPT_NODE },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = JOIN_CONFIG_DEFAULT, *token_text = NULL, *want_fp = NULL, *key_path = NULL,
               *node_name = NULL, *address;
    char got_fp[BERTH_SHA256_FINGERPRINT_LEN], *old = NULL, *text = NULL;
    uint8_t pk[BERTH_PUBKEY_LEN];
    berth_error *err = NULL;
    berth_join_token token;
    berth_principal ctl;
    agent_config cfg;
    int timeout_ms = JOIN_TIMEOUT_MS, o, status = 1;
    int64_t ns;

    optind = 1;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            path = optarg;
            break;
        case OPT_TOKEN:
            token_text = optarg;
            break;
        case OPT_FP:
            want_fp = optarg;
            break;
        case OPT_KEY:
            key_path = optarg;
            break;
        case OPT_NODE:
            node_name = optarg;
            break;
        case OPT_TIMEOUT:
            if (berth_parse_duration(optarg, "--timeout", &ns, NULL) < 0 ||
                ns < BERTH_NSEC_PER_MSEC * 100 || ns > 600 * BERTH_NSEC_PER_SEC) {
                fprintf(stderr, "berthd join: --timeout: '%s' is not a duration in 100ms..10m\n",
                        optarg);
                return 2;
            }
            timeout_ms = (int)(ns / BERTH_NSEC_PER_MSEC);
            break;
        case 'h':
            join_usage(stdout);
            return 0;
        default:
            join_usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc || !token_text || !want_fp) {
        fprintf(stderr, "berthd join: give the controller's address, --token and "
                        "--controller-fingerprint (berthctl join-token prints them)\n");
        return 2;
    }
    address = argv[optind];
    if (strncmp(address, "tcp://", 6) != 0 && strncmp(address, "ipc://", 6) != 0) {
        fprintf(stderr, "berthd join: '%s': expected tcp://HOST:PORT or ipc://PATH\n", address);
        return 2;
    }
    if (strncmp(want_fp, "SHA256:", 7) != 0 ||
        strlen(want_fp) != BERTH_SHA256_FINGERPRINT_LEN - 1) {
        fprintf(stderr,
                "berthd join: --controller-fingerprint '%s': expected SHA256: and 43 "
                "characters (berthctl join-token prints it)\n",
                want_fp);
        return 2;
    }
    if (berth_join_token_parse(token_text, &token, &err) < 0) {
        fprintf(stderr, "berthd join: --token: %s\n", err->msg);
        berth_error_free(&err);
        return 2;
    }
    /* the configuration as it is (defaults when there is none) */
    agent_config_defaults(&cfg, NULL);
    if (agent_config_load(&cfg, path, false, &err) < 0)
        goto out;
    if (node_name)
        agent_config_set(&cfg.node_name, node_name, NULL);
    if (key_path)
        agent_config_set(&cfg.controller_key, key_path, NULL);
    agent_config_set(&cfg.controller_address, address, NULL);
    if (berth_name_validate(cfg.node_name, "node name", &err) < 0)
        goto out;
    if (!cfg.key)
        cfg.key = berth_xasprintf("%s/node.key", cfg.state_dir);

    /* 1. who answers there, checked before anything else is sent */
    if (berth_rpc_discover(address, timeout_ms, &ctl, pk, &err) < 0) {
        berth_error_prefix(&err, "fetch the controller's key");
        goto out;
    }
    berth_key_sha256_fingerprint(pk, got_fp);
    if (strcmp(got_fp, want_fp) != 0) {
        berth_error_set(&err, EPERM,
                        "the server at %s has the key %s, not %s: refused (nothing was sent to "
                        "it, nothing written)",
                        address, got_fp, want_fp);
        goto out;
    }
    if (ctl.role != BERTH_ROLE_CONTROLLER) {
        berth_error_set(&err, EPERM, "the server at %s is %s %s, not a controller", address,
                        berth_role_name(ctl.role), ctl.name);
        goto out;
    }
    printf("controller %s at %s: key %s, as expected\n", ctl.name, address, got_fp);
    agent_config_set(&cfg.controller_name, ctl.name, NULL);

    /* 2. the configuration it will write, checked before anything is
     * done: a file join cannot edit costs no token use */
    if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &old, NULL, &err) < 0) {
        if (err->code != ENOENT)
            goto out;
        berth_error_free(&err);
    }
    join_config_text(old,
                     &(join_settings){ .address = address,
                                       .key = cfg.controller_key,
                                       .controller_name = ctl.name,
                                       .node_name = node_name },
                     &text);
    {
        agent_config check;
        int r;

        agent_config_defaults(&check, NULL);
        r = agent_config_parse(&check, path, text, strlen(text), &err);
        agent_config_free(&check);
        if (r < 0) {
            berth_error_prefix(&err, "the configuration join would write");
            goto out;
        }
    }
    /* 3. enroll this node's key */
    if (enroll(&cfg, &ctl, pk, &token, timeout_ms, &err) < 0) {
        berth_error_prefix(&err, "enroll node %s", cfg.node_name);
        goto out;
    }
    printf("node %s enrolled\n", cfg.node_name);

    /* 4. the controller's key and the configuration */
    mkdir_parent(cfg.controller_key);
    mkdir_parent(path);
    if (berth_pubkeys_save(AT_FDCWD, cfg.controller_key, (const uint8_t(*)[BERTH_PUBKEY_LEN])pk, 1,
                           &err) < 0 ||
        berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0600, &err) < 0)
        goto out;
    printf("wrote %s and %s\n"
           "start berthd (systemctl enable --now berthd): berthctl get nodes then shows %s\n",
           cfg.controller_key, path, cfg.node_name);
    status = 0;
out:
    if (err) {
        fprintf(stderr, "berthd join: %s\n", err->msg);
        berth_error_free(&err);
    }
    explicit_bzero(&token, sizeof(token));
    free(old);
    free(text);
    agent_config_free(&cfg);
    return status;
}
