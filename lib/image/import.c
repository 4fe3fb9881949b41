/* docker save archives and OCI image layouts into the store. */
#include "image/import.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/layer.h"
#include "image/ref.h"
#include "image/store-internal.h"
#include "image/text.h"

#define INDEX_FILE_MAX ((size_t)1 << 20)
#define TAGS_MAX       64

typedef struct importer {
    berth_image_store *s;
    const berth_image_import_opts *o;
    int srcfd; /* the layout or archive's root */
    berth_image **imgs;
    size_t n;
} importer;

#define _cleanup_json_ _cleanup_(json_decrefp)

/* Open path inside the source, never out of it (symlinks of docker save's
 * duplicate layers resolve inside the archive's root). */
static int open_in(importer *im, const char *path, berth_error **err)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    int fd = (int)syscall(SYS_openat2, im->srcfd, path, &how, sizeof(how));

    if (fd < 0)
        return berth_error_errno(err, "open %.200s", path);
    return fd;
}

/* A whole file of the source, at most max bytes. */
static int read_in(importer *im, const char *path, size_t max, char **ret, size_t *ret_len,
                   berth_error **err)
{
    _cleanup_close_ int fd = open_in(im, path, err);
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    ssize_t n;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0)
        return berth_error_errno(err, "stat %.200s", path);
    if (!S_ISREG(st.st_mode))
        return berth_error_set(err, EINVAL, "%.200s: not a regular file", path);
    if ((uint64_t)st.st_size > max)
        return berth_error_set(err, EFBIG, "%.200s: %lld bytes, at most %zu", path,
                               (long long)st.st_size, max);
    buf = berth_xmalloc((size_t)st.st_size + 1);
    n = berth_read_all(fd, buf, (size_t)st.st_size);
    if (n < 0)
        return berth_error_errno(err, "read %.200s", path);
    buf[n] = '\0';
    *ret = TAKE_PTR(buf);
    *ret_len = (size_t)n;
    return 0;
}

/* sha256 and size of what fd holds, from its start. */
static int hash_fd(int fd, char out[BERTH_DIGEST_LEN + 1], int64_t *ret_size, berth_error **err)
{
    _cleanup_free_ char *buf = berth_xmalloc(1 << 17);
    berth_sha256 h;
    int64_t total = 0;

    berth_sha256_init(&h);
    for (;;) {
        ssize_t n = pread(fd, buf, 1 << 17, total);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berth_error_errno(err, "read");
        if (n == 0)
            break;
        berth_sha256_update(&h, buf, (size_t)n);
        total += n;
    }
    berth_sha256_final(&h, out);
    *ret_size = total;
    return 0;
}

/* Layer diff_id in place, from the blob at path (digest, size: what it
 * must be), verified before it is unpacked. */
static int install_layer(importer *im, const char *path, const char *digest, int64_t size,
                         const char *diff_id, berth_image_layer *out, berth_error **err)
{
    _cleanup_close_ int lock = -1, fd = -1;
    char got[BERTH_DIGEST_LEN + 1];
    int64_t got_size = 0;
    int r = -1;

    struct stat st;

    memcpy(out->diff_id, diff_id, sizeof(out->diff_id));
    memcpy(out->blob, digest, sizeof(out->blob));
    fd = open_in(im, path, err);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0)
        return berth_error_errno(err, "stat %.200s", path);
    out->blob_size = size >= 0 ? size : st.st_size;
    if (store_layer_lock(im->s, diff_id, &lock, err) < 0)
        return -1;
    if (store_layer_exists(im->s, diff_id)) {
        out->size = store_layer_size(im->s, diff_id);
        r = 0;
        goto out;
    }
    if (hash_fd(fd, got, &got_size, err) < 0)
        goto out;
    if (strcmp(got, digest) != 0 || (size >= 0 && got_size != size)) {
        berth_error_set(err, EBADMSG, "%.200s: digest mismatch: it is %s (%lld bytes), not %s",
                        path, got, (long long)got_size, digest);
        goto out;
    }
    out->blob_size = got_size;
    if (store_layer_unpack(im->s, diff_id, fd, &out->size, err) < 0) {
        berth_error_prefix(err, "%.200s", path);
        goto out;
    }
    r = 0;
out:
    store_layer_unlock(im->s, diff_id, TAKE_FD(lock));
    return r;
}

/* The name an image gets: name itself when it is a reference with a
 * repository, else opts->name with name as its tag. */
static int image_name(importer *im, const char *name, char **ret, berth_error **err)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
    _cleanup_free_ char *full = NULL;
    bool tag_only = name && *name && !strchr(name, '/') && !strchr(name, ':') && !strchr(name, '@');

    if (name && *name && !tag_only) {
        if (berth_image_ref_parse(name, &r, err) < 0)
            return -1;
        *ret = berth_image_ref_format(r);
        return 0;
    }
    if (!im->o || !im->o->name)
        return berth_error_set(err, EINVAL,
                               "an image named %s%s%s: give the repository to import it under "
                               "(--name)",
                               name && *name ? "only by the tag '" : "by nothing",
                               name && *name ? name : "", name && *name ? "'" : "");
    full = berth_xasprintf("%s:%s", im->o->name, name && *name ? name : "latest");
    if (berth_image_ref_parse(full, &r, err) < 0)
        return -1;
    if (r->digest)
        return berth_error_set(err, EINVAL, "--name %s: a repository, without a digest",
                               im->o->name);
    *ret = berth_image_ref_format(r);
    return 0;
}

static void add_image(importer *im, berth_image *img)
{
    im->imgs = berth_xreallocarray(im->imgs, im->n + 2, sizeof(*im->imgs));
    im->imgs[im->n++] = img;
    im->imgs[im->n] = NULL;
}

/* The same image under another name. */
static berth_image *image_copy(const berth_image *img, const char *ref)
{
    berth_image *c = berth_xcalloc(1, sizeof(*c));

    *c = *img;
    c->ref = berth_xstrdup(ref);
    c->layers = berth_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*c->layers));
    memcpy(c->layers, img->layers, img->n_layers * sizeof(*c->layers));
    return c;
}

/* ---- docker save ---- */

static json_t *synth_descriptor(const char *type, const char *digest, int64_t size)
{
    json_t *d =
        json_pack("{s:s, s:s, s:I}", "mediaType", type, "digest", digest, "size", (json_int_t)size);

    if (!d)
        berth_oom();
    return d;
}

static int docker_save_one(importer *im, const json_t *entry, size_t idx, berth_error **err)
{
    const char *cfg_path = json_string_value(json_object_get(entry, "Config"));
    const json_t *tags = json_object_get(entry, "RepoTags"),
                 *layers = json_object_get(entry, "Layers");
    _cleanup_free_ char *cfg_body = NULL, *man_text = NULL;
    _cleanup_(berth_image_config_freep) berth_image_config *cfg = NULL;
    _cleanup_(berth_image_freep) berth_image *img = berth_xcalloc(1, sizeof(*img));
    _cleanup_json_ json_t *man = NULL, *jlayers = NULL;
    size_t cfg_len, n_tags;

    if (!cfg_path || !json_is_array(layers))
        return berth_error_set(err, EINVAL, "manifest.json[%zu]: Config and Layers required", idx);
    if (tags && !json_is_null(tags) && !json_is_array(tags))
        return berth_error_set(err, EINVAL, "manifest.json[%zu]: RepoTags: expected a list", idx);
    n_tags = json_array_size(tags);
    if (n_tags > TAGS_MAX)
        return berth_error_set(err, EINVAL, "manifest.json[%zu]: more than %d RepoTags", idx,
                               TAGS_MAX);
    if (read_in(im, cfg_path, BERTH_OCI_CONFIG_MAX, &cfg_body, &cfg_len, err) < 0 ||
        berth_image_config_parse(cfg_body, cfg_len, &cfg, err) < 0)
        return berth_error_prefix(err, "manifest.json[%zu]", idx);
    if (cfg->n_diff_ids != json_array_size(layers))
        return berth_error_set(err, EINVAL, "manifest.json[%zu]: %zu layers, its config has %zu",
                               idx, json_array_size(layers), cfg->n_diff_ids);
    berth_sha256_of(cfg_body, cfg_len, img->config);
    img->n_layers = cfg->n_diff_ids;
    img->layers = berth_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*img->layers));
    jlayers = json_array();
    if (!jlayers)
        berth_oom();
    for (size_t i = 0; i < img->n_layers; i++) {
        const char *lp = json_string_value(json_array_get(layers, i));

        if (!lp)
            return berth_error_set(err, EINVAL, "manifest.json[%zu]: Layers[%zu]: not a path", idx,
                                   i);
        /* a saved layer is its uncompressed tar: its digest is its diff id */
        if (install_layer(im, lp, cfg->diff_ids[i], -1, cfg->diff_ids[i], &img->layers[i], err) < 0)
            return berth_error_prefix(err, "manifest.json[%zu]: layer %zu", idx, i + 1);
        img->size += img->layers[i].size;
        if (json_array_append_new(jlayers, synth_descriptor(BERTH_OCI_MT_LAYER, cfg->diff_ids[i],
                                                            img->layers[i].blob_size)) < 0)
            berth_oom();
    }
    /* the manifest a registry would have served for it */
    man = json_pack("{s:i, s:s, s:o, s:O}", "schemaVersion", 2, "mediaType", BERTH_OCI_MT_MANIFEST,
                    "config", synth_descriptor(BERTH_OCI_MT_CONFIG, img->config, (int64_t)cfg_len),
                    "layers", jlayers);
    man_text = man ? json_dumps(man, JSON_COMPACT) : NULL;
    if (!man_text)
        berth_oom();
    berth_sha256_of(man_text, strlen(man_text), img->manifest);
    memcpy(img->digest, img->manifest, sizeof(img->digest));
    if (store_blob_put(im->s, img->config, cfg_body, cfg_len, err) < 0 ||
        store_blob_put(im->s, img->manifest, man_text, strlen(man_text), err) < 0)
        return -1;
    for (size_t t = 0; t < (n_tags ? n_tags : 1); t++) {
        const char *tag = n_tags ? json_string_value(json_array_get(tags, t)) : NULL;
        _cleanup_free_ char *name = NULL;

        if (n_tags && !tag)
            return berth_error_set(err, EINVAL, "manifest.json[%zu]: RepoTags[%zu]: not a string",
                                   idx, t);
        if (image_name(im, tag, &name, err) < 0)
            return berth_error_prefix(err, "manifest.json[%zu]", idx);
        add_image(im, image_copy(img, name));
    }
    return 0;
}

static int docker_save(importer *im, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_json_ json_t *j = NULL;
    json_error_t je;
    size_t len;

    if (read_in(im, "manifest.json", INDEX_FILE_MAX, &text, &len, err) < 0)
        return -1;
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_array(j))
        return berth_error_set(err, EINVAL, "manifest.json: not a JSON list%s%s", j ? "" : ": ",
                               j ? "" : je.text);
    if (json_array_size(j) == 0 || json_array_size(j) > BERTH_IMPORT_IMAGES_MAX)
        return berth_error_set(err, EINVAL, "manifest.json: %zu images (1..%d)", json_array_size(j),
                               BERTH_IMPORT_IMAGES_MAX);
    for (size_t i = 0; i < json_array_size(j); i++)
        if (docker_save_one(im, json_array_get(j, i), i, err) < 0)
            return -1;
    return 0;
}

/* ---- OCI image layout ---- */

static char *blob_path(const char *digest)
{
    return berth_xasprintf("blobs/sha256/%s", berth_digest_hex(digest));
}

/* A blob of the layout, verified, in memory. */
static int layout_blob(importer *im, const char *digest, int64_t size, size_t max, char **ret,
                       size_t *ret_len, berth_error **err)
{
    _cleanup_free_ char *path = blob_path(digest), *data = NULL;
    char got[BERTH_DIGEST_LEN + 1];
    size_t len;

    if (size > (int64_t)max)
        return berth_error_set(err, EMSGSIZE, "blob %s: %lld bytes, at most %zu", digest,
                               (long long)size, max);
    if (read_in(im, path, max, &data, &len, err) < 0)
        return -1;
    berth_sha256_of(data, len, got);
    if (strcmp(got, digest) != 0 || (int64_t)len != size)
        return berth_error_set(err, EBADMSG, "blob %s: digest mismatch: it is %s (%zu bytes)",
                               digest, got, len);
    *ret = TAKE_PTR(data);
    *ret_len = len;
    return 0;
}

static int oci_one(importer *im, const berth_oci_descriptor *d, const char *name, size_t idx,
                   berth_error **err)
{
    _cleanup_free_ char *top = NULL, *mbody = NULL, *cfg_body = NULL, *ref = NULL;
    _cleanup_(berth_oci_document_freep) berth_oci_document *doc = NULL, *mdoc = NULL;
    _cleanup_(berth_image_config_freep) berth_image_config *cfg = NULL;
    _cleanup_(berth_image_freep) berth_image *img = berth_xcalloc(1, sizeof(*img));
    berth_oci_platform host = berth_oci_platform_host();
    const berth_oci_platform *plat = im->o && im->o->platform ? im->o->platform : &host;
    const berth_oci_document *man;
    size_t top_len, m_len = 0, cfg_len;

    if (image_name(im, name, &ref, err) < 0 ||
        layout_blob(im, d->digest, d->size, BERTH_OCI_MANIFEST_MAX, &top, &top_len, err) < 0 ||
        berth_oci_parse(d->media_type, top, top_len, &doc, err) < 0)
        return berth_error_prefix(err, "index.json: manifests[%zu]", idx);
    memcpy(img->digest, d->digest, sizeof(img->digest));
    memcpy(img->manifest, d->digest, sizeof(img->manifest));
    man = doc;
    if (doc->kind == BERTH_OCI_KIND_INDEX) {
        const berth_oci_descriptor *m = berth_oci_index_pick(doc, plat, err);

        if (!m ||
            layout_blob(im, m->digest, m->size, BERTH_OCI_MANIFEST_MAX, &mbody, &m_len, err) < 0 ||
            berth_oci_parse(m->media_type, mbody, m_len, &mdoc, err) < 0)
            return berth_error_prefix(err, "index.json: manifests[%zu]", idx);
        if (mdoc->kind != BERTH_OCI_KIND_MANIFEST)
            return berth_error_set(err, EINVAL, "index.json: manifests[%zu]: nested indexes", idx);
        memcpy(img->manifest, m->digest, sizeof(img->manifest));
        man = mdoc;
    }
    if (layout_blob(im, man->config.digest, man->config.size, BERTH_OCI_CONFIG_MAX, &cfg_body,
                    &cfg_len, err) < 0 ||
        berth_image_config_parse(cfg_body, cfg_len, &cfg, err) < 0)
        return berth_error_prefix(err, "index.json: manifests[%zu]", idx);
    if (cfg->n_diff_ids != man->n_layers)
        return berth_error_set(err, EINVAL,
                               "index.json: manifests[%zu]: %zu layers, its config has %zu", idx,
                               man->n_layers, cfg->n_diff_ids);
    memcpy(img->config, man->config.digest, sizeof(img->config));
    img->ref = TAKE_PTR(ref);
    img->n_layers = man->n_layers;
    img->layers = berth_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*img->layers));
    for (size_t i = 0; i < man->n_layers; i++) {
        _cleanup_free_ char *path = blob_path(man->layers[i].digest);

        if (install_layer(im, path, man->layers[i].digest, man->layers[i].size, cfg->diff_ids[i],
                          &img->layers[i], err) < 0)
            return berth_error_prefix(err, "index.json: manifests[%zu]: layer %zu", idx, i + 1);
        img->size += img->layers[i].size;
    }
    if (store_blob_put(im->s, img->digest, top, top_len, err) < 0 ||
        (mbody && store_blob_put(im->s, img->manifest, mbody, m_len, err) < 0) ||
        store_blob_put(im->s, img->config, cfg_body, cfg_len, err) < 0)
        return -1;
    add_image(im, TAKE_PTR(img));
    return 0;
}

static int oci_layout(importer *im, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    _cleanup_json_ json_t *j = NULL;
    _cleanup_(berth_oci_document_freep) berth_oci_document *idx = NULL;
    const json_t *manifests;
    size_t len;

    if (read_in(im, "index.json", BERTH_OCI_MANIFEST_MAX, &text, &len, err) < 0 ||
        berth_oci_parse(BERTH_OCI_MT_INDEX, text, len, &idx, err) < 0)
        return berth_error_prefix(err, "OCI layout");
    if (idx->kind != BERTH_OCI_KIND_INDEX)
        return berth_error_set(err, EINVAL, "OCI layout: index.json is not an index");
    if (idx->n_manifests == 0 || idx->n_manifests > BERTH_IMPORT_IMAGES_MAX)
        return berth_error_set(err, EINVAL, "OCI layout: %zu images (1..%d)", idx->n_manifests,
                               BERTH_IMPORT_IMAGES_MAX);
    /* the parse checked the shape; the annotations are read here */
    j = json_loadb(text, len, 0, NULL);
    manifests = json_object_get(j, "manifests");
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const json_t *ann = json_object_get(json_array_get(manifests, i), "annotations");
        const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));

        if (!name)
            name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        if (oci_one(im, &idx->manifests[i], name, i, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- the source ---- */

/* Unpack the tar at path into a new directory of tmp/: its name in ret. */
static int extract(berth_image_store *s, const char *path, char ret[64], int *ret_fd,
                   berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC), dfd = -1;
    uint64_t rnd = 0;

    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = (uint64_t)getpid() ^ (uint64_t)berth_now_mono_ns();
    snprintf(ret, 64, "import-%016llx", (unsigned long long)rnd);
    if (mkdirat(s->tmpfd, ret, 0700) < 0)
        return berth_error_errno(err, "mkdir %s/tmp/%s", s->root, ret);
    dfd = openat(s->tmpfd, ret, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return berth_error_errno(err, "open %s/tmp/%s", s->root, ret);
    if (berth_layer_unpack_fd(fd, dfd, NULL, err) < 0)
        return -1;
    *ret_fd = TAKE_FD(dfd);
    return 0;
}

int berth_image_import(berth_image_store *s, const char *path, const berth_image_import_opts *opts,
                       berth_image ***ret, size_t *ret_n, berth_error **err)
{
    importer im = { .s = s, .o = opts, .srcfd = -1 };
    _cleanup_close_ int lock = -1;
    char tmp[64] = "";
    struct stat st;
    int r = -1;

    if (store_hold(s, LOCK_SH, &lock, err) < 0)
        return -1;
    if (stat(path, &st) < 0)
        return berth_error_errno(err, "import %s", path);
    if (S_ISDIR(st.st_mode)) {
        im.srcfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (im.srcfd < 0)
            return berth_error_errno(err, "import: open %s", path);
    } else if (!S_ISREG(st.st_mode)) {
        return berth_error_set(err, EINVAL, "import %s: neither a directory nor a file", path);
    } else if (extract(s, path, tmp, &im.srcfd, err) < 0) {
        goto out;
    }
    if (faccessat(im.srcfd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        r = docker_save(&im, err);
    else if (faccessat(im.srcfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
             faccessat(im.srcfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        r = oci_layout(&im, err);
    else
        r = berth_error_set(err, EINVAL,
                            "neither a docker save archive (manifest.json) nor an OCI image "
                            "layout (oci-layout, index.json)");
    if (r == 0) {
        int64_t now = berth_now_real_ns();

        for (size_t i = 0; i < im.n && r == 0; i++) {
            im.imgs[i]->pulled_ns = im.imgs[i]->last_used_ns = now;
            r = store_record_write(s, im.imgs[i], err);
        }
    }
out:
    if (im.srcfd >= 0)
        close(im.srcfd);
    if (*tmp)
        berth_rm_rf_at(s->tmpfd, tmp, NULL);
    if (r < 0) {
        berth_image_list_free(im.imgs, im.n);
        berth_error_prefix(err, "import %s", path);
        return berth_image_error_line(err);
    }
    *ret = im.imgs ? im.imgs : berth_xcalloc(1, sizeof(**ret));
    *ret_n = im.n;
    return 0;
}
