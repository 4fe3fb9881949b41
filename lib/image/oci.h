/* lib/image: the JSON documents of an image: manifests (OCI and Docker v2
 * schema 2), indexes (OCI image index, Docker manifest list) and image
 * configs, parsed with jansson into plain structs, with the platform pick
 * of an index.
 *
 * Every input is bounded before it is parsed (BERTH_OCI_*_MAX), every size
 * and count read from it is checked against a cap, digests are checked as
 * sha256 digests, and what berth cannot use (schema 1, a layer that is not
 * a tar, a config that is not a container image's) is refused with what it
 * is. Unknown fields are ignored, as the OCI specs ask. Pure: the fuzz
 * target calls these directly. Allocation aborts on OOM. */
#ifndef BERTH_IMAGE_OCI_H
#define BERTH_IMAGE_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "image/digest.h"

#define BERTH_OCI_MANIFEST_MAX ((size_t)4 << 20) /* what registries accept */
#define BERTH_OCI_CONFIG_MAX   ((size_t)8 << 20)
#define BERTH_OCI_LAYERS_MAX   128  /* Docker's practical limit is 125 */
#define BERTH_OCI_INDEX_MAX    1024 /* manifests in an index */
#define BERTH_OCI_LIST_MAX     4096 /* Env, Cmd, Entrypoint items */
#define BERTH_OCI_BLOB_MAX     ((int64_t)64 << 30)

#define BERTH_OCI_MT_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define BERTH_OCI_MT_INDEX       "application/vnd.oci.image.index.v1+json"
#define BERTH_OCI_MT_CONFIG      "application/vnd.oci.image.config.v1+json"
#define BERTH_OCI_MT_LAYER       "application/vnd.oci.image.layer.v1.tar"
#define BERTH_OCI_MT_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define BERTH_DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BERTH_DOCKER_MT_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define BERTH_DOCKER_MT_CONFIG   "application/vnd.docker.container.image.v1+json"
/* What a client asks a registry for, in order of preference. */
#define BERTH_OCI_ACCEPT                                                                           \
    BERTH_OCI_MT_INDEX ", " BERTH_DOCKER_MT_LIST ", " BERTH_OCI_MT_MANIFEST                        \
                       ", " BERTH_DOCKER_MT_MANIFEST

typedef struct berth_oci_descriptor {
    char *media_type;
    char digest[BERTH_DIGEST_LEN + 1];
    int64_t size;
    /* an index entry's platform; NULL when not given */
    char *os, *arch, *variant;
} berth_oci_descriptor;

typedef enum berth_oci_kind {
    BERTH_OCI_KIND_MANIFEST,
    BERTH_OCI_KIND_INDEX,
} berth_oci_kind;

/* A manifest (kind MANIFEST: config and layers, lowest layer first) or an
 * index (kind INDEX: manifests). */
typedef struct berth_oci_document {
    berth_oci_kind kind;
    char *media_type;
    berth_oci_descriptor config;
    berth_oci_descriptor *layers;
    size_t n_layers;
    berth_oci_descriptor *manifests;
    size_t n_manifests;
} berth_oci_document;

/* Parse a manifest or an index. content_type is what the registry said it
 * is (NULL or "" when unknown; parameters after ';' are ignored); the
 * document's own mediaType wins, and without either its shape decides.
 * EINVAL (or EMSGSIZE for a document over BERTH_OCI_MANIFEST_MAX) saying
 * what is wrong: "manifest: layers[2].digest: 'x' is not a sha256 digest". */
int berth_oci_parse(const char *content_type, const void *data, size_t len,
                    berth_oci_document **ret, berth_error **err);
void berth_oci_document_free(berth_oci_document *d);
BERTH_DEFINE_CLEANUP(berth_oci_document, berth_oci_document_free)

/* A platform: "linux", "amd64", variant NULL or "v8". */
typedef struct berth_oci_platform {
    const char *os, *arch, *variant;
} berth_oci_platform;

/* This machine's: linux and the architecture berth was built for, in
 * OCI's words (amd64, arm64, arm/v7, 386, ppc64le, s390x, riscv64). */
berth_oci_platform berth_oci_platform_host(void);

/* Parse "os/arch[/variant]" into p, pointing into buf (a copy of s, at
 * least strlen(s)+1 bytes). EINVAL when it has not that shape. */
int berth_oci_platform_parse(const char *s, char *buf, size_t size, berth_oci_platform *p,
                             berth_error **err);

/* The entry of index d for platform p: os and architecture equal, and the
 * variant when p names one (arm64's missing variant is v8); among several,
 * one without a variant first. NULL when none: the error (ENOENT) lists
 * the platforms the index has. */
const berth_oci_descriptor *berth_oci_index_pick(const berth_oci_document *d,
                                                 const berth_oci_platform *p, berth_error **err);

/* What a layer's media type says of its compression; -1 (EINVAL) when the
 * layer is not a tar filesystem layer. libarchive reads any of them; this
 * is for refusing what is not a layer at all. */
typedef enum berth_oci_compression {
    BERTH_OCI_UNCOMPRESSED,
    BERTH_OCI_GZIP,
    BERTH_OCI_ZSTD,
} berth_oci_compression;
int berth_oci_layer_compression(const char *media_type, berth_oci_compression *ret,
                                berth_error **err);

/* An image's configuration: what a container of it runs, and its layers'
 * diff ids (the digests of the uncompressed tars, lowest first). Lists
 * are NULL-terminated; has_entrypoint/has_cmd tell null from []. */
typedef struct berth_image_config {
    char *os, *arch, *variant;
    char **entrypoint;
    size_t n_entrypoint;
    bool has_entrypoint;
    char **cmd;
    size_t n_cmd;
    bool has_cmd;
    char **env;
    size_t n_env;
    char *working_dir; /* NULL when not set */
    char *user;        /* NULL when not set: "1000", "nginx:nginx" */
    char *stop_signal; /* NULL when not set: "SIGQUIT" */
    char **diff_ids;
    size_t n_diff_ids;
} berth_image_config;

/* Parse an image config (application/vnd.oci.image.config.v1+json or
 * Docker's container image v1). EINVAL saying what is wrong. */
int berth_image_config_parse(const void *data, size_t len, berth_image_config **ret,
                             berth_error **err);
void berth_image_config_free(berth_image_config *c);
BERTH_DEFINE_CLEANUP(berth_image_config, berth_image_config_free)

/* Whether media_type is one of an image config's. */
bool berth_oci_is_config_type(const char *media_type);

#endif
