/* registries.yaml through lib/yaml; the endpoints of a registry. */
#include "image/registries.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/ref.h"
#include "yaml/yaml.h"

#define CRED_MAX 4096

typedef berth_yaml_field field;
#define FLD  BERTH_YAML_FIELD
#define FEND BERTH_YAML_END

static void host_free(berth_registry_host *h)
{
    for (size_t i = 0; i < h->n_mirrors; i++)
        free(h->mirrors[i]);
    free(h->mirrors);
    free(h->mirror_http);
    free(h->host);
    free(h->ca_file);
    free(h->username);
    if (h->password)
        explicit_bzero(h->password, strlen(h->password));
    free(h->password);
    if (h->token)
        explicit_bzero(h->token, strlen(h->token));
    free(h->token);
}

void berth_registries_free(berth_registries *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_hosts; i++)
        host_free(&c->hosts[i]);
    free(c->hosts);
    free(c);
}

static bool cred_ok(berth_yaml *y, field *f, const char *name, char **ret)
{
    const char *v;

    if (!berth_yaml_opt_string(y, f, name, &v))
        return false;
    if (!*v || strlen(v) > CRED_MAX || strpbrk(v, "\r\n")) {
        berth_yaml_field_error(y, f, name, "must be 1-%d characters with no line break", CRED_MAX);
        return false;
    }
    *ret = berth_xstrdup(v);
    return true;
}

static void read_auth(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_registry_host *h = data;
    field f[] = { FLD("username"), FLD("password"), FLD("token"), FEND };
    bool user, pass, token;

    if (!berth_yaml_fields(y, n, f))
        return;
    user = cred_ok(y, f, "username", &h->username);
    pass = cred_ok(y, f, "password", &h->password);
    token = cred_ok(y, f, "token", &h->token);
    if (user && strchr(h->username, ':'))
        berth_yaml_field_error(y, f, "username", "must not contain ':'");
    if (user != pass)
        berth_yaml_error(y, n, "username and password go together");
    if (token && (user || pass))
        berth_yaml_error(y, n, "either username and password, or token");
    if (!user && !pass && !token)
        berth_yaml_error(y, n, "username and password, or token, required");
}

static void read_mirror(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    berth_registry_host *h = data;
    const char *v, *host;
    bool http = false;

    (void)i;
    if (!berth_yaml_get_string(y, item, &v))
        return;
    host = v;
    if (strncmp(v, "https://", 8) == 0) {
        host = v + 8;
    } else if (strncmp(v, "http://", 7) == 0) {
        host = v + 7;
        http = true;
    } else if (strstr(v, "://")) {
        berth_yaml_error(y, item, "'%s': a mirror is HOST[:PORT], https://HOST or http://HOST", v);
        return;
    }
    if (!berth_image_host_valid(host)) {
        berth_yaml_error(y, item, "'%s' is not a registry host (HOST[:PORT], no path)", v);
        return;
    }
    h->mirrors[h->n_mirrors] = berth_xstrdup(host);
    h->mirror_http[h->n_mirrors] = http;
    h->n_mirrors++;
}

static void read_mirrors(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_registry_host *h = data;

    h->mirrors = berth_xcalloc(BERTH_REGISTRIES_MIRRORS_MAX, sizeof(*h->mirrors));
    h->mirror_http = berth_xcalloc(BERTH_REGISTRIES_MIRRORS_MAX, sizeof(*h->mirror_http));
    berth_yaml_each_item(y, n, BERTH_REGISTRIES_MIRRORS_MAX, "a list of mirror hosts", read_mirror,
                         h);
}

static void read_host(berth_yaml *y, const berth_yaml_node *key, const char *name,
                      const berth_yaml_node *value, void *data)
{
    berth_registries *c = data;
    berth_registry_host *h;
    field f[] = { FLD("mirrors"), FLD("insecure"), FLD("ca_file"), FLD("auth"), FEND };
    const char *ca;

    if (!berth_image_host_valid(name)) {
        berth_yaml_error(y, key,
                         "'%s' is not a registry host (as an image reference names it: "
                         "docker.io, registry.example.com:5000)",
                         name);
        return;
    }
    h = &c->hosts[c->n_hosts++];
    h->host = berth_xstrdup(name);
    if (berth_yaml_is_null(value))
        return;
    if (!berth_yaml_fields(y, value, f))
        return;
    berth_yaml_opt_sub(y, f, "mirrors", read_mirrors, h);
    berth_yaml_opt_bool(y, f, "insecure", &h->insecure);
    if (berth_yaml_opt_string(y, f, "ca_file", &ca)) {
        if (ca[0] != '/' || strlen(ca) > 4096)
            berth_yaml_field_error(y, f, "ca_file", "must be an absolute path");
        else
            h->ca_file = berth_xstrdup(ca);
    }
    berth_yaml_opt_sub(y, f, "auth", read_auth, h);
    for (size_t i = 0; i < h->n_mirrors; i++)
        if (strcmp(h->mirrors[i], h->host) == 0)
            berth_yaml_field_error(y, f, "mirrors", "%s is its own mirror", h->host);
}

static void read_registries(berth_yaml *y, const berth_yaml_node *n, void *data)
{
    berth_registries *c = data;

    c->hosts = berth_xcalloc(BERTH_REGISTRIES_HOSTS_MAX, sizeof(*c->hosts));
    berth_yaml_each_entry(y, n, BERTH_REGISTRIES_HOSTS_MAX, "registries", read_host, c);
}

static int apply(berth_yaml *y, berth_registries **ret, berth_error **err)
{
    _cleanup_(berth_registries_freep) berth_registries *c = berth_xcalloc(1, sizeof(*c));
    const berth_yaml_node *root;

    if (berth_yaml_next(y, &root) > 0 && !berth_yaml_is_null(root)) {
        field f[] = { FLD("registries"), FEND };

        if (berth_yaml_fields(y, root, f))
            berth_yaml_opt_sub(y, f, "registries", read_registries, c);
    }
    if (berth_yaml_finish(y, err) < 0)
        return -1;
    *ret = TAKE_PTR(c);
    return 0;
}

int berth_registries_parse(const char *name, const char *text, size_t len, berth_registries **ret,
                           berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;

    if (berth_yaml_open(text, len, name, &berth_yaml_settings_limits, &y, err) < 0)
        return -1;
    return apply(y, ret, err);
}

int berth_registries_load(const char *path, bool must_exist, berth_registries **ret,
                          berth_error **err)
{
    _cleanup_(berth_yaml_closep) berth_yaml *y = NULL;
    _cleanup_error_ berth_error *e = NULL;

    if (berth_yaml_open_file(path, &berth_yaml_settings_limits, &y, &e) < 0) {
        if (e->code == ENOENT && !must_exist) {
            *ret = berth_xcalloc(1, sizeof(**ret));
            return 0;
        }
        if (err)
            *err = TAKE_PTR(e);
        return -1;
    }
    return apply(y, ret, err);
}

/* A docker config's key as a registry host: "https://index.docker.io/v1/"
 * is docker.io, "https://reg.internal:5000/v2/" reg.internal:5000. */
static void docker_host(const char *key, char *buf, size_t size)
{
    const char *p = strstr(key, "://");
    size_t n;

    p = p ? p + 3 : key;
    n = strcspn(p, "/");
    snprintf(buf, size, "%.*s", (int)n, p);
    if (strcmp(buf, "index.docker.io") == 0 || strcmp(buf, "registry-1.docker.io") == 0)
        snprintf(buf, size, "%s", BERTH_IMAGE_DEFAULT_DOMAIN);
}

static void set_cred(char **slot, const char *v)
{
    if (*slot)
        explicit_bzero(*slot, strlen(*slot));
    free(*slot);
    *slot = berth_xstrdup(v);
}

int berth_registries_add_docker_config(berth_registries *c, const char *json, size_t len,
                                       berth_error **err)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je), *auths;
    const char *key;
    json_t *entry;

    if (!root || !json_is_object(auths = json_object_get(root, "auths"))) {
        json_decref(root);
        return berth_error_set(err, EINVAL, ".dockerconfigjson: not {\"auths\": {...}}");
    }
    json_object_foreach(auths, key, entry)
    {
        const char *user = json_string_value(json_object_get(entry, "username"));
        const char *pass = json_string_value(json_object_get(entry, "password"));
        const char *auth = json_string_value(json_object_get(entry, "auth"));
        char host[256], up[CRED_MAX + 2] = "", *colon;
        berth_registry_host *h = NULL;
        size_t n = 0;

        /* "auth": base64 of user:password, when the two are not given */
        if ((!user || !pass) && auth &&
            sodium_base642bin((unsigned char *)up, CRED_MAX, auth, strlen(auth), NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            (up[n] = '\0', colon = strchr(up, ':'))) {
            *colon = '\0';
            user = up;
            pass = colon + 1;
        }
        /* what registries.yaml would refuse is passed over: no line break
         * may reach a header, no ':' split a username */
        if (!user || !pass || !*user || strlen(user) > CRED_MAX || strlen(pass) > CRED_MAX ||
            strpbrk(user, "\r\n:") || strpbrk(pass, "\r\n")) {
            explicit_bzero(up, sizeof(up));
            continue;
        }
        docker_host(key, host, sizeof(host));
        for (size_t i = 0; i < c->n_hosts && !h; i++)
            if (strcmp(c->hosts[i].host, host) == 0)
                h = &c->hosts[i];
        if (!h) {
            if (c->n_hosts == BERTH_REGISTRIES_HOSTS_MAX) {
                explicit_bzero(up, sizeof(up));
                continue;
            }
            c->hosts = berth_xreallocarray(c->hosts, c->n_hosts + 1, sizeof(*c->hosts));
            h = &c->hosts[c->n_hosts++];
            memset(h, 0, sizeof(*h));
            h->host = berth_xstrdup(host);
        }
        /* the pod's credentials win over the node's, as kubelet tries them
         * first */
        set_cred(&h->username, user);
        set_cred(&h->password, pass);
        /* a node's token would be sent first (as Bearer): the pod's
         * credentials replace it */
        if (h->token) {
            explicit_bzero(h->token, strlen(h->token));
            free(h->token);
            h->token = NULL;
        }
        explicit_bzero(up, sizeof(up));
    }
    json_decref(root);
    return 0;
}

const berth_registry_host *berth_registries_find(const berth_registries *c, const char *host)
{
    for (size_t i = 0; c && i < c->n_hosts; i++)
        if (strcmp(c->hosts[i].host, host) == 0)
            return &c->hosts[i];
    return NULL;
}

static void endpoint_fill(const berth_registries *c, const char *name, bool mirror, bool http,
                          berth_registry_endpoint *e)
{
    const berth_registry_host *h = berth_registries_find(c, name);
    bool insecure = h && h->insecure;

    memset(e, 0, sizeof(*e));
    e->name = name;
    e->host = strcmp(name, BERTH_IMAGE_DEFAULT_DOMAIN) == 0 ? "registry-1.docker.io" : name;
    e->mirror = mirror;
    e->http_only = http;
    e->http_fallback = insecure || berth_image_host_is_loopback(name);
    e->tls_verify = !insecure;
    if (h) {
        e->ca_file = h->ca_file;
        e->username = h->username;
        e->password = h->password;
        e->token = h->token;
    }
}

size_t berth_registries_endpoints(const berth_registries *c, const char *domain,
                                  berth_registry_endpoint *out)
{
    const berth_registry_host *h = berth_registries_find(c, domain);
    size_t n = 0;

    for (size_t i = 0; h && i < h->n_mirrors && n < BERTH_REGISTRY_ENDPOINTS_MAX - 1; i++)
        endpoint_fill(c, h->mirrors[i], true, h->mirror_http[i], &out[n++]);
    endpoint_fill(c, domain, false, false, &out[n++]);
    return n;
}
