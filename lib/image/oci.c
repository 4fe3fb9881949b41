/* Manifests, indexes and configs: jansson trees into plain structs. */
#include "image/oci.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/text.h"

/* Strings taken from documents: media types, platforms, users. */
#define FIELD_MAX 1024

#define _cleanup_json_ _cleanup_(json_decrefp)

static int load(const void *data, size_t len, size_t max, const char *what, json_t **ret,
                berth_error **err)
{
    json_error_t je;
    json_t *j;

    if (len > max)
        return berth_error_set(err, EMSGSIZE, "%s: %zu bytes, at most %zu", what, len, max);
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return berth_error_set(err, EINVAL, "%s: not JSON: %s (line %d, column %d)", what, je.text,
                               je.line, je.column);
    if (!json_is_object(j)) {
        json_decref(j);
        return berth_error_set(err, EINVAL, "%s: not a JSON object", what);
    }
    *ret = j;
    return 0;
}

/* An optional string member: 0 with *ret NULL when absent or null. */
static int opt_string(const json_t *obj, const char *key, const char *path, size_t max, char **ret,
                      berth_error **err)
{
    const json_t *v = json_object_get(obj, key);

    *ret = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return berth_error_set(err, EINVAL, "%s%s: expected a string", path, key);
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return berth_error_set(err, EINVAL, "%s%s: longer than %zu characters", path, key, max);
    *ret = berth_xstrdup(json_string_value(v));
    return 0;
}

static void descriptor_clear(berth_oci_descriptor *d)
{
    free(d->media_type);
    free(d->os);
    free(d->arch);
    free(d->variant);
    memset(d, 0, sizeof(*d));
}

static int descriptor_read(const json_t *j, const char *path, bool platform,
                           berth_oci_descriptor *d, berth_error **err)
{
    const json_t *digest = json_object_get(j, "digest"), *size = json_object_get(j, "size");
    const json_t *p;

    if (!json_is_object(j))
        return berth_error_set(err, EINVAL, "%s: expected an object", path);
    if (opt_string(j, "mediaType", path[0] ? "." : "", FIELD_MAX, &d->media_type, err) < 0)
        return berth_error_prefix(err, "%s", path);
    if (!json_is_string(digest))
        return berth_error_set(err, EINVAL, "%s.digest: required, a string", path);
    if (berth_digest_check(json_string_value(digest), "digest", err) < 0)
        return berth_error_prefix(err, "%s", path);
    memcpy(d->digest, json_string_value(digest), BERTH_DIGEST_LEN + 1);
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > BERTH_OCI_BLOB_MAX)
        return berth_error_set(err, EINVAL, "%s.size: required, an integer in 0..%lld", path,
                               (long long)BERTH_OCI_BLOB_MAX);
    d->size = json_integer_value(size);
    p = json_object_get(j, "platform");
    if (platform && json_is_object(p)) {
        char sub[64];

        snprintf(sub, sizeof(sub), "%.40s.platform.", path);
        if (opt_string(p, "os", sub, FIELD_MAX, &d->os, err) < 0 ||
            opt_string(p, "architecture", sub, FIELD_MAX, &d->arch, err) < 0 ||
            opt_string(p, "variant", sub, FIELD_MAX, &d->variant, err) < 0)
            return -1;
    }
    return 0;
}

void berth_oci_document_free(berth_oci_document *d)
{
    if (!d)
        return;
    free(d->media_type);
    descriptor_clear(&d->config);
    for (size_t i = 0; i < d->n_layers; i++)
        descriptor_clear(&d->layers[i]);
    free(d->layers);
    for (size_t i = 0; i < d->n_manifests; i++)
        descriptor_clear(&d->manifests[i]);
    free(d->manifests);
    free(d);
}

static bool type_is(const char *t, const char *want)
{
    size_t n = strlen(want);

    return t && strncmp(t, want, n) == 0 && (t[n] == '\0' || t[n] == ';' || t[n] == ' ');
}

static int read_list(const json_t *arr, const char *what, size_t max, bool platform,
                     berth_oci_descriptor **ret, size_t *ret_n, berth_error **err)
{
    size_t n;

    if (!json_is_array(arr))
        return berth_error_set(err, EINVAL, "%s: required, a list", what);
    n = json_array_size(arr);
    if (n > max)
        return berth_error_set(err, EINVAL, "%s: %zu entries, at most %zu", what, n, max);
    *ret = berth_xcalloc(n ? n : 1, sizeof(**ret));
    for (size_t i = 0; i < n; i++) {
        char path[48];

        *ret_n = i + 1;
        snprintf(path, sizeof(path), "%s[%zu]", what, i);
        if (descriptor_read(json_array_get(arr, i), path, platform, &(*ret)[i], err) < 0)
            return -1;
    }
    *ret_n = n;
    return 0;
}

static int oci_parse(const char *content_type, const void *data, size_t len,
                     berth_oci_document **ret, berth_error **err)
{
    _cleanup_json_ json_t *j = NULL;
    _cleanup_(berth_oci_document_freep) berth_oci_document *d = NULL;
    const json_t *version;
    const char *mt;

    if (load(data, len, BERTH_OCI_MANIFEST_MAX, "manifest", &j, err) < 0)
        return -1;
    version = json_object_get(j, "schemaVersion");
    if (json_is_integer(version) && json_integer_value(version) == 1)
        return berth_error_set(err, EINVAL,
                               "manifest: Docker schema 1 is not supported (push the image again "
                               "with a current client)");
    if (!json_is_integer(version) || json_integer_value(version) != 2)
        return berth_error_set(err, EINVAL, "manifest: schemaVersion: expected 2");
    d = berth_xcalloc(1, sizeof(*d));
    if (opt_string(j, "mediaType", "manifest: ", FIELD_MAX, &d->media_type, err) < 0)
        return -1;
    mt = d->media_type ? d->media_type : content_type;
    if (type_is(mt, BERTH_OCI_MT_INDEX) || type_is(mt, BERTH_DOCKER_MT_LIST))
        d->kind = BERTH_OCI_KIND_INDEX;
    else if (type_is(mt, BERTH_OCI_MT_MANIFEST) || type_is(mt, BERTH_DOCKER_MT_MANIFEST))
        d->kind = BERTH_OCI_KIND_MANIFEST;
    else if (mt && *mt && !type_is(mt, "application/json") && !type_is(mt, "text/plain") &&
             !type_is(mt, "application/octet-stream"))
        return berth_error_set(err, EINVAL, "manifest: media type '%.100s' is not an image's", mt);
    else if (json_object_get(j, "manifests"))
        d->kind = BERTH_OCI_KIND_INDEX;
    else
        d->kind = BERTH_OCI_KIND_MANIFEST;
    if (!d->media_type)
        d->media_type = berth_xstrdup(d->kind == BERTH_OCI_KIND_INDEX ? BERTH_OCI_MT_INDEX
                                                                      : BERTH_OCI_MT_MANIFEST);
    if (d->kind == BERTH_OCI_KIND_INDEX) {
        if (read_list(json_object_get(j, "manifests"), "manifests", BERTH_OCI_INDEX_MAX, true,
                      &d->manifests, &d->n_manifests, err) < 0)
            return berth_error_prefix(err, "index");
    } else {
        if (descriptor_read(json_object_get(j, "config"), "config", false, &d->config, err) < 0 ||
            read_list(json_object_get(j, "layers"), "layers", BERTH_OCI_LAYERS_MAX, false,
                      &d->layers, &d->n_layers, err) < 0)
            return berth_error_prefix(err, "manifest");
        if (d->config.media_type && !berth_oci_is_config_type(d->config.media_type))
            return berth_error_set(err, EINVAL,
                                   "manifest: not a container image (config media type '%.100s')",
                                   d->config.media_type);
        for (size_t i = 0; i < d->n_layers; i++) {
            berth_oci_compression c;

            if (d->layers[i].media_type &&
                berth_oci_layer_compression(d->layers[i].media_type, &c, err) < 0)
                return berth_error_prefix(err, "manifest: layers[%zu]", i);
        }
    }
    *ret = TAKE_PTR(d);
    return 0;
}

bool berth_oci_is_config_type(const char *media_type)
{
    return type_is(media_type, BERTH_OCI_MT_CONFIG) || type_is(media_type, BERTH_DOCKER_MT_CONFIG);
}

int berth_oci_layer_compression(const char *media_type, berth_oci_compression *ret,
                                berth_error **err)
{
    static const struct {
        const char *type;
        berth_oci_compression c;
    } types[] = {
        { "application/vnd.oci.image.layer.v1.tar", BERTH_OCI_UNCOMPRESSED },
        { "application/vnd.oci.image.layer.v1.tar+gzip", BERTH_OCI_GZIP },
        { "application/vnd.oci.image.layer.v1.tar+zstd", BERTH_OCI_ZSTD },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar", BERTH_OCI_UNCOMPRESSED },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", BERTH_OCI_GZIP },
        { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", BERTH_OCI_ZSTD },
        { "application/vnd.docker.image.rootfs.diff.tar", BERTH_OCI_UNCOMPRESSED },
        { "application/vnd.docker.image.rootfs.diff.tar.gzip", BERTH_OCI_GZIP },
        { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", BERTH_OCI_GZIP },
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(types); i++)
        if (type_is(media_type, types[i].type)) {
            *ret = types[i].c;
            return 0;
        }
    return berth_error_set(err, EINVAL, "media type '%.100s' is not a filesystem layer",
                           media_type);
}

berth_oci_platform berth_oci_platform_host(void)
{
    berth_oci_platform p = { .os = "linux" };

#if defined(__x86_64__)
    p.arch = "amd64";
#elif defined(__aarch64__)
    p.arch = "arm64";
#elif defined(__arm__)
    p.arch = "arm";
    p.variant = "v7";
#elif defined(__i386__)
    p.arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    p.arch = "ppc64le";
#elif defined(__s390x__)
    p.arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    p.arch = "riscv64";
#else
    p.arch = "unknown";
#endif
    return p;
}

int berth_oci_platform_parse(const char *s, char *buf, size_t size, berth_oci_platform *p,
                             berth_error **err)
{
    char *a, *v;

    if (strlen(s) + 1 > size || strlen(s) > 64)
        return berth_error_set(err, EINVAL, "platform '%.64s': too long", s);
    strcpy(buf, s);
    a = strchr(buf, '/');
    if (!a || a == buf || !a[1])
        return berth_error_set(err, EINVAL, "platform '%s': expected OS/ARCH[/VARIANT]", s);
    *a++ = '\0';
    v = strchr(a, '/');
    if (v) {
        *v++ = '\0';
        if (!*v || strchr(v, '/'))
            return berth_error_set(err, EINVAL, "platform '%s': expected OS/ARCH[/VARIANT]", s);
    }
    p->os = buf;
    p->arch = a;
    p->variant = v;
    return 0;
}

static const char *variant_of(const char *arch, const char *variant)
{
    if (variant && *variant)
        return variant;
    return strcmp(arch, "arm64") == 0 ? "v8" : NULL;
}

static const berth_oci_descriptor *index_pick(const berth_oci_document *d,
                                              const berth_oci_platform *p, berth_error **err)
{
    const berth_oci_descriptor *best = NULL;
    char have[512] = "";
    size_t len = 0;

    for (size_t i = 0; i < d->n_manifests; i++) {
        const berth_oci_descriptor *m = &d->manifests[i];
        const char *want_v = variant_of(p->arch, p->variant), *has_v;

        if (!m->os || !m->arch || strcmp(m->os, p->os) != 0 || strcmp(m->arch, p->arch) != 0)
            continue;
        has_v = variant_of(m->arch, m->variant);
        if (want_v && p->variant && (!has_v || strcmp(want_v, has_v) != 0))
            continue;
        if (!best || (best->variant && !m->variant))
            best = m;
    }
    if (best)
        return best;
    for (size_t i = 0; i < d->n_manifests && len < sizeof(have) - 1; i++) {
        const berth_oci_descriptor *m = &d->manifests[i];
        int w;

        if (!m->os || !m->arch || strcmp(m->os, "unknown") == 0)
            continue;
        w = snprintf(have + len, sizeof(have) - len, "%s%.32s/%.32s%s%.16s", len ? ", " : "", m->os,
                     m->arch, m->variant ? "/" : "", m->variant ? m->variant : "");
        if (w > 0)
            len += (size_t)w < sizeof(have) - len ? (size_t)w : sizeof(have) - len - 1;
    }
    berth_error_set(err, ENOENT, "no image for %s/%s%s%s in the index (it has: %s)", p->os, p->arch,
                    p->variant ? "/" : "", p->variant ? p->variant : "", len ? have : "none");
    return NULL;
}

void berth_image_config_free(berth_image_config *c)
{
    char **lists[] = { c ? c->entrypoint : NULL, c ? c->cmd : NULL, c ? c->env : NULL,
                       c ? c->diff_ids : NULL };

    if (!c)
        return;
    for (size_t l = 0; l < BERTH_ARRAY_SIZE(lists); l++) {
        for (char **p = lists[l]; p && *p; p++)
            free(*p);
        free(lists[l]);
    }
    free(c->os);
    free(c->arch);
    free(c->variant);
    free(c->working_dir);
    free(c->user);
    free(c->stop_signal);
    free(c);
}

/* A list of strings (NULL-terminated copy); absent or null: *ret NULL. */
static int string_list(const json_t *obj, const char *key, const char *path, char ***ret,
                       size_t *ret_n, bool *ret_set, berth_error **err)
{
    const json_t *v = json_object_get(obj, key), *item;
    size_t n, i;

    if (ret_set)
        *ret_set = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return berth_error_set(err, EINVAL, "%s%s: expected a list of strings", path, key);
    n = json_array_size(v);
    if (n > BERTH_OCI_LIST_MAX)
        return berth_error_set(err, EINVAL, "%s%s: %zu items, at most %d", path, key, n,
                               BERTH_OCI_LIST_MAX);
    *ret = berth_xcalloc(n + 1, sizeof(**ret));
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item))
            return berth_error_set(err, EINVAL, "%s%s[%zu]: expected a string with no NUL", path,
                                   key, i);
        (*ret)[i] = berth_xstrdup(json_string_value(item));
        *ret_n = i + 1;
    }
    if (ret_set)
        *ret_set = true;
    return 0;
}

static int config_parse(const void *data, size_t len, berth_image_config **ret, berth_error **err)
{
    _cleanup_json_ json_t *j = NULL;
    _cleanup_(berth_image_config_freep) berth_image_config *c = NULL;
    const json_t *cfg, *rootfs, *type;

    if (load(data, len, BERTH_OCI_CONFIG_MAX, "image config", &j, err) < 0)
        return -1;
    c = berth_xcalloc(1, sizeof(*c));
    if (opt_string(j, "os", "", FIELD_MAX, &c->os, err) < 0 ||
        opt_string(j, "architecture", "", FIELD_MAX, &c->arch, err) < 0 ||
        opt_string(j, "variant", "", FIELD_MAX, &c->variant, err) < 0)
        return berth_error_prefix(err, "image config");
    cfg = json_object_get(j, "config");
    if (cfg && !json_is_null(cfg)) {
        if (!json_is_object(cfg))
            return berth_error_set(err, EINVAL, "image config: config: expected an object");
        if (string_list(cfg, "Entrypoint", "config.", &c->entrypoint, &c->n_entrypoint,
                        &c->has_entrypoint, err) < 0 ||
            string_list(cfg, "Cmd", "config.", &c->cmd, &c->n_cmd, &c->has_cmd, err) < 0 ||
            string_list(cfg, "Env", "config.", &c->env, &c->n_env, NULL, err) < 0 ||
            opt_string(cfg, "WorkingDir", "config.", 4096, &c->working_dir, err) < 0 ||
            opt_string(cfg, "User", "config.", FIELD_MAX, &c->user, err) < 0 ||
            opt_string(cfg, "StopSignal", "config.", 64, &c->stop_signal, err) < 0)
            return berth_error_prefix(err, "image config");
        for (size_t i = 0; i < c->n_env; i++)
            if (!strchr(c->env[i], '=') || c->env[i][0] == '=')
                return berth_error_set(err, EINVAL,
                                       "image config: config.Env[%zu]: '%.64s' is not NAME=VALUE",
                                       i, c->env[i]);
    }
    rootfs = json_object_get(j, "rootfs");
    type = json_object_get(rootfs, "type");
    if (!json_is_object(rootfs) || !json_is_string(type) ||
        strcmp(json_string_value(type), "layers") != 0)
        return berth_error_set(err, EINVAL, "image config: rootfs: expected {type: layers, ...}");
    if (string_list(rootfs, "diff_ids", "rootfs.", &c->diff_ids, &c->n_diff_ids, NULL, err) < 0)
        return berth_error_prefix(err, "image config");
    if (c->n_diff_ids > BERTH_OCI_LAYERS_MAX)
        return berth_error_set(err, EINVAL, "image config: rootfs.diff_ids: %zu layers, at most %d",
                               c->n_diff_ids, BERTH_OCI_LAYERS_MAX);
    for (size_t i = 0; i < c->n_diff_ids; i++)
        if (berth_digest_check(c->diff_ids[i], "diff id", err) < 0)
            return berth_error_prefix(err, "image config: rootfs.diff_ids[%zu]", i);
    if (!c->diff_ids)
        c->diff_ids = berth_xcalloc(1, sizeof(*c->diff_ids));
    *ret = TAKE_PTR(c);
    return 0;
}

int berth_oci_parse(const char *content_type, const void *data, size_t len,
                    berth_oci_document **ret, berth_error **err)
{
    return oci_parse(content_type, data, len, ret, err) < 0 ? berth_image_error_line(err) : 0;
}

int berth_image_config_parse(const void *data, size_t len, berth_image_config **ret,
                             berth_error **err)
{
    return config_parse(data, len, ret, err) < 0 ? berth_image_error_line(err) : 0;
}

const berth_oci_descriptor *berth_oci_index_pick(const berth_oci_document *d,
                                                 const berth_oci_platform *p, berth_error **err)
{
    const berth_oci_descriptor *m = index_pick(d, p, err);

    if (!m)
        berth_image_error_line(err);
    return m;
}
