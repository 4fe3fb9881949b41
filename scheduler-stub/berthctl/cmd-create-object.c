/* berthctl create secret generic|docker-registry|tls NAME, create
 * configmap NAME: kubectl's commands. The object is written as a manifest
 * (JSON, which the manifest reader takes as YAML) and applied; its values
 * travel in the Apply call, sealed like every frame, and are wiped here
 * once sent. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/envelope.h"
#include "spec/spec.h"
#include "spec/workload.h"

/* Kubernetes' bound on an object's values. */
#define OBJECT_BYTES_MAX (1 << 20)

static void object_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl create secret generic NAME [--from-literal K=V]... "
            "[--from-file [K=]PATH]...\n"
            "                                      [--type TYPE]\n"
            "       berthctl create secret docker-registry NAME --docker-server HOST\n"
            "                                      --docker-username U --docker-password P\n"
            "                                      [--docker-email E]\n"
            "       berthctl create secret tls NAME --cert FILE --key FILE\n"
            "       berthctl create configmap NAME [--from-literal K=V]... "
            "[--from-file [K=]PATH]...\n"
            "\n"
            "Make a Secret or ConfigMap in the namespace (-n), as kubectl create does; an\n"
            "error when it exists. A file's key is its name unless K= is given. A Secret's\n"
            "values are stored sealed and reach only the nodes whose pods use them.\n"
            "\n"
            "Options:\n"
            "      --dry-run   check and report, create nothing\n"
            "  -h, --help      this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* What the command line gives: keys and values (owned, wiped at the end). */
typedef struct values {
    char *keys[256];
    uint8_t *vals[256];
    size_t lens[256];
    size_t n, total;
} values;

static void values_free(values *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->keys[i]);
        sodium_memzero(v->vals[i], v->lens[i]);
        free(v->vals[i]);
    }
}

static int values_add(values *v, const char *key, const void *val, size_t len)
{
    if (!berth_config_key_valid(key)) {
        berthctl_errorf("'%s' is not a valid key (1-253 of a-z A-Z 0-9 . _ -)", key);
        return -1;
    }
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) {
            berthctl_errorf("key %s is given twice", key);
            return -1;
        }
    if (v->n == sizeof(v->keys) / sizeof(v->keys[0]) || v->total + len > OBJECT_BYTES_MAX) {
        berthctl_errorf("at most 256 keys and %d bytes", OBJECT_BYTES_MAX);
        return -1;
    }
    v->keys[v->n] = berth_xstrdup(key);
    v->vals[v->n] = berth_xmalloc(len + 1);
    memcpy(v->vals[v->n], val, len);
    v->lens[v->n++] = len;
    v->total += len;
    return 0;
}

/* --from-literal K=V */
static int add_literal(values *v, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char key[300];

    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
        berthctl_errorf("--from-literal '%.40s...': not KEY=VALUE", arg);
        return -1;
    }
    snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
    return values_add(v, key, eq + 1, strlen(eq + 1));
}

/* --from-file [K=]PATH (the key: K, or the file's name) */
static int add_file(values *v, const char *arg)
{
    const char *eq = strchr(arg, '='), *path = eq ? eq + 1 : arg, *base;
    _cleanup_error_ berth_error *err = NULL;
    char key[300], *data = NULL;
    size_t len = 0;
    int r;

    if (eq)
        snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
    else
        snprintf(key, sizeof(key), "%s", (base = strrchr(path, '/')) ? base + 1 : path);
    if (berth_read_file_at(AT_FDCWD, path, OBJECT_BYTES_MAX, &data, &len, &err) < 0) {
        berthctl_errorf("--from-file %s: %s", path, err->msg);
        return -1;
    }
    r = values_add(v, key, data, len);
    sodium_memzero(data, len);
    free(data);
    return r;
}

/* A value as base64 (a new string). */
static char *b64(const uint8_t *v, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = berth_xmalloc(n);

    sodium_bin2base64(s, n, v, len, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* kubernetes.io/dockerconfigjson's value for one registry. */
static char *docker_config(const char *server, const char *user, const char *password,
                           const char *email)
{
    size_t ulen = strlen(user), plen = strlen(password);
    char *up = berth_xmalloc(ulen + plen + 2), *auth, *out;
    json_t *entry, *root;

    sprintf(up, "%s:%s", user, password);
    auth = b64((const uint8_t *)up, ulen + plen + 1);
    sodium_memzero(up, ulen + plen + 1);
    free(up);
    entry = json_pack("{s:s, s:s, s:s}", "username", user, "password", password, "auth", auth);
    if (email)
        json_object_set_new(entry, "email", json_string(email));
    root = json_pack("{s:{s:o}}", "auths", server, entry);
    out = json_dumps(root, JSON_COMPACT);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    json_decref(root);
    return out;
}

/* Whether every byte is printable UTF-8 text a ConfigMap's data holds
 * (else binaryData). */
static bool is_text(const uint8_t *v, size_t len)
{
    json_t *s = json_stringn((const char *)v, len);
    bool ok = s && !memchr(v, '\0', len);

    json_decref(s);
    return ok;
}

static int apply_object(berthctl_ctx *ctx, const char *kind, const char *name, const char *type,
                        const values *v, bool dry_run)
{
    ApplyRequest req = APPLY_REQUEST_INIT;
    ApplyResponse *resp = NULL;
    json_t *root, *data = json_object(), *binary = json_object();
    char *manifest;
    int rc;

    for (size_t i = 0; i < v->n; i++) {
        bool secret = strcmp(kind, "Secret") == 0;

        if (!secret && is_text(v->vals[i], v->lens[i])) {
            json_object_set_new(data, v->keys[i],
                                json_stringn((const char *)v->vals[i], v->lens[i]));
        } else {
            char *enc = b64(v->vals[i], v->lens[i]);

            json_object_set_new(secret ? data : binary, v->keys[i], json_string(enc));
            sodium_memzero(enc, strlen(enc));
            free(enc);
        }
    }
    root = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "v1", "kind", kind, "metadata",
                     "name", name, "namespace", berthctl_namespace(ctx), "data", data);
    if (type)
        json_object_set_new(root, "type", json_string(type));
    if (json_object_size(binary))
        json_object_set(root, "binaryData", binary);
    json_decref(binary);
    manifest = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    req.manifest = manifest;
    req.source = "berthctl create";
    req.dry_run = dry_run;
    rc = berthctl_call(ctx, "Apply", &req.base, (ProtobufCMessage **)&resp);
    sodium_memzero(manifest, strlen(manifest));
    free(manifest);
    if (rc != 0)
        return rc;
    printf("%s/%s created%s\n", strcmp(kind, "Secret") == 0 ? "secret" : "configmap", name,
           resp->dry_run ? " (dry run)" : "");
    berth_pb_free(&resp->base);
    return 0;
}

/* Whether the object exists: 1, 0, -1 (the call failed, said). */
static int object_exists(berthctl_ctx *ctx, ConfigKind kind, const char *name)
{
    ListObjectsRequest req = LIST_OBJECTS_REQUEST_INIT;
    ListObjectsResponse *r = NULL;
    int rc;

    req.kind = kind;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    req.name = (char *)name;
    rc = berthctl_call_quiet(ctx, "ListObjects", &req.base, (ProtobufCMessage **)&r);
    if (rc == 2)
        return 0;
    if (rc != 0)
        return -1;
    berth_pb_free(&r->base);
    return 1;
}

int berthctl_create_object(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "from-literal", required_argument, NULL, 'l' },
        { "from-file", required_argument, NULL, 'f' },
        { "type", required_argument, NULL, 't' },
        { "docker-server", required_argument, NULL, 'S' },
        { "docker-username", required_argument, NULL, 'U' },
        { "docker-password", required_argument, NULL, 'P' },
        { "docker-email", required_argument, NULL, 'E' },
        { "cert", required_argument, NULL, 'C' },
        { "key", required_argument, NULL, 'K' },
        { "dry-run", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = NULL, *user = NULL, *password = NULL, *email = NULL, *cert = NULL,
               *keyf = NULL, *type = NULL, *what, *sub = NULL, *name;
    values v = { .n = 0 };
    bool dry_run = false, secret;
    int o, rc = BERTHCTL_EXIT_USAGE;

    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            if (add_literal(&v, optarg) < 0)
                goto out;
            break;
        case 'f':
            if (add_file(&v, optarg) < 0)
                goto out;
            break;
        case 't':
            type = optarg;
            break;
        case 'S':
            server = optarg;
            break;
        case 'U':
            user = optarg;
            break;
        case 'P':
            password = optarg;
            break;
        case 'E':
            email = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'K':
            keyf = optarg;
            break;
        case 'n':
            dry_run = true;
            break;
        case 'h':
            object_usage(stdout);
            rc = 0;
            goto out;
        default:
            object_usage(stderr);
            goto out;
        }
    }
    what = argv[0];
    secret = strcmp(what, "secret") == 0;
    if (secret && optind < argc)
        sub = argv[optind++];
    if (argc - optind != 1 ||
        (secret && (!sub || (strcmp(sub, "generic") != 0 && strcmp(sub, "docker-registry") != 0 &&
                             strcmp(sub, "tls") != 0)))) {
        berthctl_errorf("create %s needs %sa NAME (see berthctl create %s --help)", what,
                        secret ? "generic, docker-registry or tls and " : "", what);
        goto out;
    }
    name = argv[optind];
    if (!berth_workload_name_valid(name)) {
        berthctl_errorf("'%s' is not a valid name (1-%d of a-z 0-9 -, starting and ending with "
                        "a letter or digit)",
                        name, BERTH_WORKLOAD_NAME_MAX);
        goto out;
    }
    if (secret && strcmp(sub, "docker-registry") == 0) {
        char *cfg;

        if (!server || !user || !password || v.n) {
            berthctl_errorf("docker-registry needs --docker-server, --docker-username and "
                            "--docker-password (and nothing from literals or files)");
            goto out;
        }
        cfg = docker_config(server, user, password, email);
        rc = values_add(&v, ".dockerconfigjson", cfg, strlen(cfg));
        sodium_memzero(cfg, strlen(cfg));
        free(cfg);
        if (rc < 0) {
            rc = BERTHCTL_EXIT_USAGE;
            goto out;
        }
        type = "kubernetes.io/dockerconfigjson";
    } else if (secret && strcmp(sub, "tls") == 0) {
        char cbuf[PATH_MAX + 8], kbuf[PATH_MAX + 8];

        if (!cert || !keyf || v.n) {
            berthctl_errorf("tls needs --cert and --key (and nothing from literals or files)");
            goto out;
        }
        snprintf(cbuf, sizeof(cbuf), "tls.crt=%s", cert);
        snprintf(kbuf, sizeof(kbuf), "tls.key=%s", keyf);
        if (add_file(&v, cbuf) < 0 || add_file(&v, kbuf) < 0)
            goto out;
        type = "kubernetes.io/tls";
    } else if (server || user || password || email || cert || keyf || (!secret && type)) {
        berthctl_errorf("those options are not for create %s%s%s", what, sub ? " " : "",
                        sub ? sub : "");
        goto out;
    }
    rc = 1;
    if (berthctl_connect_or_exit(ctx) != 0)
        goto out;
    switch (object_exists(ctx, secret ? CONFIG_SECRET : CONFIG_MAP, name)) {
    case 0:
        break;
    case 1:
        berthctl_errorf("%s \"%s\" already exists", secret ? "secrets" : "configmaps", name);
        goto out;
    default:
        goto out;
    }
    rc =
        apply_object(ctx, secret ? "Secret" : "ConfigMap", name, secret ? type : NULL, &v, dry_run);
out:
    values_free(&v);
    return rc;
}
