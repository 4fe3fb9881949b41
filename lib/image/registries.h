/* lib/image: the node's registry configuration, /etc/berth/registries.yaml,
 * read through lib/yaml with the rules of agent.yaml (unknown fields, wrong
 * types and bad values are errors with file:line:column; a file with a
 * mistake configures nothing):
 *
 *   registries:
 *     docker.io:                         # a registry host, as references name it
 *       mirrors: [mirror.internal:5000]  # tried in order, then the registry itself
 *     mirror.internal:5000:              # a mirror's own settings: its own entry
 *       ca_file: /etc/berth/certs/mirror-ca.pem   # trusted beside the system CAs
 *       auth: {username: berth, password: s3cret} # or {token: ...} (sent as Bearer)
 *     10.0.0.5:5000:
 *       insecure: true                   # TLS unverified, or plain HTTP
 *
 * A mirror may be written http://HOST (plain HTTP) or https://HOST. Plain
 * HTTP is also allowed, as Docker allows it, for loopback registries
 * (localhost, 127.0.0.0/8, [::1]), where TLS is still tried first and
 * verified when it answers. Registries not listed get the defaults: TLS
 * verified against the system CAs, anonymous or the challenge's auth.
 *
 * The file holds credentials: keep it 0600. */
#ifndef BERTH_IMAGE_REGISTRIES_H
#define BERTH_IMAGE_REGISTRIES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/cleanup.h"
#include "base/error.h"

#define BERTH_REGISTRIES_DEFAULT_PATH "/etc/berth/registries.yaml"
#define BERTH_REGISTRIES_HOSTS_MAX    256
#define BERTH_REGISTRIES_MIRRORS_MAX  16
/* Endpoints of one registry: its mirrors, then itself. */
#define BERTH_REGISTRY_ENDPOINTS_MAX (BERTH_REGISTRIES_MIRRORS_MAX + 1)

typedef struct berth_registry_host {
    char *host;     /* "docker.io", "mirror.internal:5000" */
    char **mirrors; /* hosts, scheme removed */
    bool *mirror_http;
    size_t n_mirrors;
    bool insecure;
    char *ca_file;
    char *username, *password; /* both or neither */
    char *token;
} berth_registry_host;

typedef struct berth_registries {
    berth_registry_host *hosts;
    size_t n_hosts;
} berth_registries;

/* Parse text (len bytes; name is the file's name in errors). An empty
 * document is an empty configuration. */
int berth_registries_parse(const char *name, const char *text, size_t len, berth_registries **ret,
                           berth_error **err);
/* Read path. A missing file is an empty configuration unless must_exist
 * (then ENOENT). */
int berth_registries_load(const char *path, bool must_exist, berth_registries **ret,
                          berth_error **err);
void berth_registries_free(berth_registries *c);
BERTH_DEFINE_CLEANUP(berth_registries, berth_registries_free)

/* Take the credentials of a kubernetes.io/dockerconfigjson value
 * ({"auths": {"HOST": {"username", "password"} or {"auth": base64 of
 * "user:password"}}}) into c, over what c has for those hosts. EINVAL
 * when it is not one. */
int berth_registries_add_docker_config(berth_registries *c, const char *json, size_t len,
                                       berth_error **err);
/* The entry for host (exact), or NULL. c may be NULL. */
const berth_registry_host *berth_registries_find(const berth_registries *c, const char *host);

/* Where to fetch from for a registry, in order. Pointers into c (and
 * string literals): valid while c lives. */
typedef struct berth_registry_endpoint {
    const char *name;     /* as configured: "docker.io", "mirror.internal:5000" */
    const char *host;     /* where to connect: docker.io is registry-1.docker.io */
    bool mirror;          /* one of the registry's mirrors */
    bool http_only;       /* an http:// mirror */
    bool http_fallback;   /* insecure or loopback: plain HTTP when TLS is not spoken */
    bool tls_verify;      /* false for insecure */
    const char *ca_file;  /* NULL: the system CAs only */
    const char *username; /* NULL: none */
    const char *password;
    const char *token; /* NULL: none */
} berth_registry_endpoint;

/* Fill out (BERTH_REGISTRY_ENDPOINTS_MAX entries) with domain's mirrors
 * then domain itself, each with its own host's settings. Returns how many. */
size_t berth_registries_endpoints(const berth_registries *c, const char *domain,
                                  berth_registry_endpoint *out);

#endif
