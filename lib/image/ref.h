/* lib/image: image references, parsed and normalized as Docker and
 * Kubernetes do it (github.com/distribution/reference).
 *
 *   nginx                          docker.io/library/nginx:latest
 *   registry.k8s.io/busybox:1.27.2 registry.k8s.io/busybox:1.27.2
 *   localhost:5000/team/app:v1     localhost:5000/team/app:v1
 *   nginx@sha256:<hex>             docker.io/library/nginx@sha256:<hex>
 *   nginx:1.25@sha256:<hex>        both kept; the digest is what is pulled
 *
 * The first component is a registry host when it has a '.' or a ':', is
 * "localhost", or has an upper-case letter; otherwise the registry is
 * docker.io, whose one-component names live under library/. index.docker.io
 * is docker.io. Repository paths are lower case, names at most 255
 * characters, tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, digests sha256.
 * A bare 64-hex-digit name is refused (Docker reads it as an image id).
 *
 * Pure; allocation aborts on OOM. */
#ifndef BERTH_IMAGE_REF_H
#define BERTH_IMAGE_REF_H

#include <stdbool.h>

#include "base/cleanup.h"
#include "base/error.h"

/* Most characters of a reference as given (name, tag and digest). */
#define BERTH_IMAGE_REF_MAX 512
/* Docker's cap on domain/path. */
#define BERTH_IMAGE_NAME_MAX 255

#define BERTH_IMAGE_DEFAULT_DOMAIN "docker.io"

typedef struct berth_image_ref {
    char *domain; /* "docker.io", "registry.k8s.io", "localhost:5000", "[::1]:5000" */
    char *path;   /* "library/nginx" */
    char *tag;    /* "latest" when neither tag nor digest was given; NULL with a digest only */
    char *digest; /* "sha256:..."; NULL when not pinned */
} berth_image_ref;

/* Parse and normalize s. EINVAL with what is wrong and where:
 * "image reference 'Nginx': repository name must be lowercase". */
int berth_image_ref_parse(const char *s, berth_image_ref **ret_ref, berth_error **err);
void berth_image_ref_free(berth_image_ref *r);
BERTH_DEFINE_CLEANUP(berth_image_ref, berth_image_ref_free)

/* The normalized text: domain/path[:tag][@digest]. New string. */
char *berth_image_ref_format(const berth_image_ref *r);
/* domain/path. New string. */
char *berth_image_ref_repository(const berth_image_ref *r);
/* s normalized (berth_image_ref_format of its parse), or NULL when it does
 * not parse. New string. */
char *berth_image_ref_normalize(const char *s);

/* Whether host is a registry host as references spell it: a domain name,
 * an IPv4 address or [IPv6], with an optional :port. */
bool berth_image_host_valid(const char *host);

/* Whether the registry host is a loopback address (localhost, 127.0.0.0/8,
 * ::1), where plain HTTP is allowed as Docker allows it. host may carry a
 * port. */
bool berth_image_host_is_loopback(const char *host);

/* Whether name is one of the image store's own entries at its root
 * (blobs, layers, images, tmp, locks, store.lock): a directory image may
 * not have such a name. */
bool berth_image_store_reserved_name(const char *name);

/* imagePullPolicy. */
typedef enum berth_pull_policy {
    BERTH_PULL_ALWAYS,
    BERTH_PULL_IF_NOT_PRESENT,
    BERTH_PULL_NEVER,
} berth_pull_policy;

/* Kubernetes' default for a reference: Always when its tag is latest
 * (given, or defaulted because there is no tag and no digest), else
 * IfNotPresent. */
berth_pull_policy berth_image_ref_default_policy(const berth_image_ref *r);

/* "Always", "IfNotPresent", "Never" and back; parse fails with EINVAL
 * listing them. */
const char *berth_pull_policy_name(berth_pull_policy p);
int berth_pull_policy_parse(const char *s, berth_pull_policy *ret, berth_error **err);

#endif
