/* Pulling: manifest, platform, config, layers, record. */
#include "image/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/store-internal.h"
#include "image/text.h"

typedef struct pull {
    berth_image_store *s;
    berth_registry_client *c;
    const berth_image_pull_opts *o;
    berth_image_progress pr;
    int64_t base; /* bytes of the blobs finished before the current one */
    bool quiet;   /* the config's bytes are not counted */
} pull;

static void progress(pull *p, berth_image_phase phase)
{
    p->pr.phase = phase;
    if (p->o && p->o->progress)
        p->o->progress(&p->pr, p->o->progress_data);
}

static void on_bytes(int64_t have, void *data)
{
    pull *p = data;

    if (p->quiet)
        return;
    p->pr.done = p->base + have;
    progress(p, BERTH_IMAGE_DOWNLOADING);
}

/* Hash the first have bytes of fd (a partial download to resume). */
static int hash_prefix(int fd, int64_t have, berth_sha256 *h, berth_error **err)
{
    _cleanup_free_ char *buf = berth_xmalloc(1 << 16);
    int64_t off = 0;

    berth_sha256_init(h);
    while (off < have) {
        size_t want = have - off < (1 << 16) ? (size_t)(have - off) : (1 << 16);
        ssize_t n = pread(fd, buf, want, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berth_error_errno(err, "read a partial download");
        berth_sha256_update(h, buf, (size_t)n);
        off += n;
    }
    return 0;
}

/* Check a committed blob against its digest and size. */
static int verify_blob(pull *p, const char *digest, int64_t size, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    berth_sha256 h;
    char got[BERTH_DIGEST_LEN + 1];
    off_t end;

    if (store_blob_open(p->s, digest, &fd, err) < 0)
        return -1;
    end = lseek(fd, 0, SEEK_END);
    if (end != size)
        return berth_error_set(err, EBADMSG, "blob %s: size mismatch in the store", digest);
    if (hash_prefix(fd, size, &h, err) < 0)
        return -1;
    berth_sha256_final(&h, got);
    if (strcmp(got, digest) != 0)
        return berth_error_set(err, EBADMSG, "blob %s: digest mismatch in the store", digest);
    return 0;
}

/* Make blob digest (size bytes) present and verified in blobs/: download
 * it (resuming a partial one) unless it is there. */
static int fetch_blob(pull *p, const char *digest, int64_t size, bool durable, berth_error **err)
{
    char name[80];
    _cleanup_close_ int lock = -1, fd = -1;
    _cleanup_error_ berth_error *e = NULL;
    berth_sha256 h;
    int64_t have = 0;
    int r = -1;

    if (store_lock_file(p->s->locksfd, store_lock_name("blob", digest, name), LOCK_EX, &lock, err) <
        0)
        return -1;
    if (store_blob_exists(p->s, digest)) {
        if (verify_blob(p, digest, size, NULL) == 0) {
            p->base += size;
            r = 0;
            goto out;
        }
        store_blob_remove(p->s, digest);
    }
    if (store_blob_partial(p->s, digest, &fd, &have, err) < 0 ||
        hash_prefix(fd, have > size ? 0 : have, &h, err) < 0)
        goto out;
    if (berth_registry_get_blob(p->c, digest, size, fd, &have, &h, on_bytes, p, &e) < 0) {
        /* a bad download must not be resumed; a broken one is */
        if (e->code == EBADMSG || e->code == EMSGSIZE)
            store_blob_discard_partial(p->s, digest);
        if (err)
            *err = TAKE_PTR(e);
        goto out;
    }
    if (store_blob_commit(p->s, digest, fd, durable, err) < 0)
        goto out;
    p->base += size;
    r = 0;
out:
    store_unlock_remove(p->s->locksfd, name, TAKE_FD(lock));
    return r;
}

/* Layers are unpacked by threads of their own while the next ones
 * download: each layer is a directory of its own, so several unpack at
 * once (one per CPU, at most BERTH_IMAGE_UNPACKERS_MAX), and the network,
 * the disk and the CPUs work together. At most that many layer blobs,
 * plus the one downloading, are on disk at a time. */
typedef struct unpack_job {
    pthread_t thread;
    berth_image_store *s;
    char diff_id[BERTH_DIGEST_LEN + 1], blob[BERTH_DIGEST_LEN + 1];
    int lock, fd; /* the layer's lock and its blob, owned by the job */
    berth_image_layer *out;
    size_t index;
    int rc;
    berth_error *err;
} unpack_job;

typedef struct unpackers {
    unpack_job *jobs[BERTH_IMAGE_UNPACKERS_MAX]; /* running, the oldest first */
    size_t n, max;
} unpackers;

static void *unpack_main(void *data)
{
    unpack_job *j = data;

    j->rc = store_layer_unpack(j->s, j->diff_id, j->fd, &j->out->size, &j->err);
    if (j->rc < 0)
        berth_error_prefix(&j->err, "layer %zu: blob %s", j->index + 1, j->blob);
    else
        store_blob_remove(j->s, j->blob); /* the unpacked layer is what is kept */
    close(j->fd);
    store_layer_unlock(j->s, j->diff_id, j->lock);
    return NULL;
}

/* Wait for the oldest job and take its result; with err NULL, or err
 * already set, a failure of its own is dropped (the pull failed already). */
static int wait_oldest(pull *p, unpackers *u, berth_error **err)
{
    unpack_job *j = u->jobs[0];
    int rc;

    pthread_join(j->thread, NULL);
    memmove(u->jobs, u->jobs + 1, --u->n * sizeof(u->jobs[0]));
    rc = j->rc;
    if (rc < 0 && err && !*err)
        *err = TAKE_PTR(j->err);
    berth_error_free(&j->err);
    free(j);
    if (rc < 0)
        return -1;
    p->pr.layer++;
    progress(p, BERTH_IMAGE_DOWNLOADING);
    return 0;
}

/* Wait for every job: the first failure is the pull's (unless it failed
 * already, failed true). */
static int wait_all(pull *p, unpackers *u, bool failed, berth_error **err)
{
    int r = failed ? -1 : 0;

    while (u->n)
        if (wait_oldest(p, u, r < 0 ? NULL : err) < 0)
            r = -1;
    return r;
}

/* Layer index in place: fetched and handed to a thread to unpack, unless
 * it is there. */
static int fetch_layer(pull *p, unpackers *u, const berth_oci_descriptor *d, const char *diff_id,
                       size_t index, berth_image_layer *out, berth_error **err)
{
    _cleanup_close_ int lock = -1, fd = -1;
    unpack_job *j;

    memcpy(out->diff_id, diff_id, sizeof(out->diff_id));
    memcpy(out->blob, d->digest, sizeof(out->blob));
    out->blob_size = d->size;
    if (store_layer_lock(p->s, diff_id, &lock, err) < 0)
        return -1;
    if (store_layer_exists(p->s, diff_id)) {
        /* a concurrent pull unpacked it while we waited */
        out->size = store_layer_size(p->s, diff_id);
        p->pr.total -= d->size;
        p->pr.layer++;
        store_layer_unlock(p->s, diff_id, TAKE_FD(lock));
        return 0;
    }
    if (fetch_blob(p, d->digest, d->size, false, err) < 0 ||
        store_blob_open(p->s, d->digest, &fd, err) < 0) {
        store_layer_unlock(p->s, diff_id, TAKE_FD(lock));
        return berth_error_prefix(err, "layer %zu", index + 1);
    }
    if (u->n == u->max && wait_oldest(p, u, err) < 0) {
        store_layer_unlock(p->s, diff_id, TAKE_FD(lock));
        return -1;
    }
    j = berth_xcalloc(1, sizeof(*j));
    j->s = p->s;
    memcpy(j->diff_id, diff_id, sizeof(j->diff_id));
    memcpy(j->blob, d->digest, sizeof(j->blob));
    j->lock = TAKE_FD(lock);
    j->fd = TAKE_FD(fd);
    j->out = out;
    j->index = index;
    progress(p, BERTH_IMAGE_UNPACKING);
    if (pthread_create(&j->thread, NULL, unpack_main, j) == 0) {
        u->jobs[u->n++] = j;
        return 0;
    }
    unpack_main(j); /* no thread to be had: unpack here */
    if (j->rc < 0) {
        if (err)
            *err = TAKE_PTR(j->err);
        berth_error_free(&j->err);
        free(j);
        return -1;
    }
    free(j);
    p->pr.layer++;
    return 0;
}

static size_t unpackers_max(const berth_image_pull_opts *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = o && o->unpackers > 0 ? (size_t)o->unpackers : cpus > 0 ? (size_t)cpus : 1;

    return n < BERTH_IMAGE_UNPACKERS_MAX ? n : BERTH_IMAGE_UNPACKERS_MAX;
}

/* The tag moved to another image: the one it named stays, under
 * repository@digest, for the containers that still run it (they name it
 * so to garbage collection, which removes it once none does). */
static int keep_replaced(berth_image_store *s, const berth_image *img, berth_error **err)
{
    _cleanup_(berth_image_freep) berth_image *old = NULL, *pinned = NULL;
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
    _cleanup_free_ char *repo = NULL;

    if (berth_image_store_get(s, img->ref, &old, err) < 0)
        return -1;
    if (!old || strcmp(old->digest, img->digest) == 0 ||
        berth_image_ref_parse(old->ref, &r, NULL) < 0)
        return 0;
    repo = berth_image_ref_repository(r);
    free(old->ref);
    old->ref = berth_xasprintf("%s@%s", repo, old->digest);
    if (berth_image_store_get(s, old->ref, &pinned, err) < 0)
        return -1;
    return pinned ? 0 : store_record_write(s, old, err);
}

/* GET a manifest by tag or digest; check it against want_digest when
 * given; *ret_digest is its digest. */
static int get_document(pull *p, const char *reference, const char *want_digest, int64_t want_size,
                        berth_oci_document **ret, char **ret_body, size_t *ret_len,
                        char ret_digest[BERTH_DIGEST_LEN + 1], berth_error **err)
{
    _cleanup_free_ char *body = NULL, *type = NULL;
    size_t len;

    if (berth_registry_get_manifest(p->c, reference, &body, &len, &type, err) < 0)
        return -1;
    berth_sha256_of(body, len, ret_digest);
    if (want_digest && strcmp(ret_digest, want_digest) != 0)
        return berth_error_set(err, EBADMSG, "%s: manifest %s: digest mismatch (got %s)",
                               berth_registry_client_endpoint(p->c), want_digest, ret_digest);
    if (want_size >= 0 && (int64_t)len != want_size)
        return berth_error_set(err, EBADMSG, "%s: manifest %s: size mismatch (%zu bytes, not %lld)",
                               berth_registry_client_endpoint(p->c), want_digest, len,
                               (long long)want_size);
    if (berth_oci_parse(type, body, len, ret, err) < 0)
        return berth_error_prefix(err, "%s", berth_registry_client_endpoint(p->c));
    *ret_body = TAKE_PTR(body);
    *ret_len = len;
    return 0;
}

static bool platform_matches(const berth_image_config *cfg, const berth_oci_platform *want)
{
    if (cfg->os && strcmp(cfg->os, want->os) != 0)
        return false;
    return !cfg->arch || strcmp(cfg->arch, want->arch) == 0;
}

static int do_pull(pull *p, const berth_image_ref *ref, const char *norm, berth_image **ret,
                   berth_error **err)
{
    _cleanup_(berth_oci_document_freep) berth_oci_document *top = NULL, *m = NULL;
    _cleanup_(berth_image_config_freep) berth_image_config *cfg = NULL;
    _cleanup_free_ char *top_body = NULL, *m_body = NULL, *cfg_body = NULL;
    _cleanup_(berth_image_freep) berth_image *img = berth_xcalloc(1, sizeof(*img));
    berth_oci_platform host = berth_oci_platform_host();
    const berth_oci_platform *plat = p->o && p->o->platform ? p->o->platform : &host;
    size_t top_len, m_len, cfg_len;
    const berth_oci_document *man;
    unpackers u = { .max = unpackers_max(p->o) };
    int r = 0;

    progress(p, BERTH_IMAGE_RESOLVING);
    if (get_document(p, ref->digest ? ref->digest : ref->tag, ref->digest, -1, &top, &top_body,
                     &top_len, img->digest, err) < 0)
        return -1;
    man = top;
    memcpy(img->manifest, img->digest, sizeof(img->manifest));
    if (top->kind == BERTH_OCI_KIND_INDEX) {
        const berth_oci_descriptor *d = berth_oci_index_pick(top, plat, err);

        if (!d || get_document(p, d->digest, d->digest, d->size, &m, &m_body, &m_len, img->manifest,
                               err) < 0)
            return -1;
        if (m->kind != BERTH_OCI_KIND_MANIFEST)
            return berth_error_set(err, EINVAL, "manifest %s: an index inside an index", d->digest);
        man = m;
    }
    if (man->config.size > (int64_t)BERTH_OCI_CONFIG_MAX)
        return berth_error_set(err, EMSGSIZE, "config %s: %lld bytes, at most %zu",
                               man->config.digest, (long long)man->config.size,
                               BERTH_OCI_CONFIG_MAX);
    memcpy(img->config, man->config.digest, sizeof(img->config));
    p->quiet = true;
    if (fetch_blob(p, man->config.digest, man->config.size, true, err) < 0 ||
        store_blob_read(p->s, man->config.digest, BERTH_OCI_CONFIG_MAX, &cfg_body, &cfg_len, err) <
            0 ||
        berth_image_config_parse(cfg_body, cfg_len, &cfg, err) < 0)
        return -1;
    if (!platform_matches(cfg, plat))
        return berth_error_set(err, EINVAL, "the image is for %s/%s, not %s/%s",
                               cfg->os ? cfg->os : "?", cfg->arch ? cfg->arch : "?", plat->os,
                               plat->arch);
    if (cfg->n_diff_ids != man->n_layers)
        return berth_error_set(err, EINVAL,
                               "the manifest has %zu layers and the config %zu diff ids",
                               man->n_layers, cfg->n_diff_ids);
    p->quiet = false;
    img->ref = berth_xstrdup(norm);
    img->n_layers = man->n_layers;
    img->layers = berth_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*img->layers));
    p->base = 0;
    p->pr.done = 0;
    p->pr.total = 0;
    p->pr.n_layers = man->n_layers;
    for (size_t i = 0; i < man->n_layers; i++)
        if (!store_layer_exists(p->s, cfg->diff_ids[i]))
            p->pr.total += man->layers[i].size;
    for (size_t i = 0; i < man->n_layers && r == 0; i++) {
        berth_image_layer *L = &img->layers[i];

        if (store_layer_exists(p->s, cfg->diff_ids[i])) {
            memcpy(L->diff_id, cfg->diff_ids[i], sizeof(L->diff_id));
            memcpy(L->blob, man->layers[i].digest, sizeof(L->blob));
            L->blob_size = man->layers[i].size;
            L->size = store_layer_size(p->s, cfg->diff_ids[i]);
            p->pr.layer++;
            progress(p, BERTH_IMAGE_DOWNLOADING);
        } else {
            r = fetch_layer(p, &u, &man->layers[i], cfg->diff_ids[i], i, L, err);
        }
    }
    if (wait_all(p, &u, r < 0, err) < 0)
        return -1;
    for (size_t i = 0; i < img->n_layers; i++)
        img->size += img->layers[i].size;
    /* the layers are on disk before the record that names them */
    if (syncfs(p->s->layersfd) < 0)
        return berth_error_errno(err, "sync %s", berth_image_store_layers_dir(p->s));
    if (store_blob_put(p->s, img->digest, top_body, top_len, err) < 0 ||
        (m_body && store_blob_put(p->s, img->manifest, m_body, m_len, err) < 0))
        return -1;
    img->pulled_ns = img->last_used_ns = berth_now_real_ns();
    if (keep_replaced(p->s, img, err) < 0 || store_record_write(p->s, img, err) < 0)
        return -1;
    progress(p, BERTH_IMAGE_DONE);
    if (ret)
        *ret = TAKE_PTR(img);
    return 0;
}

int berth_image_pull(berth_image_store *s, const char *ref, const berth_image_pull_opts *opts,
                     berth_image **ret, berth_error **err)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
    _cleanup_(berth_registry_client_freep) berth_registry_client *c = NULL;
    _cleanup_free_ char *norm = NULL;
    _cleanup_close_ int lock = -1;
    pull p = { .s = s, .o = opts };

    if (berth_image_ref_parse(ref, &r, err) < 0)
        return -1;
    norm = berth_image_ref_format(r);
    p.pr.ref = norm;
    if (berth_registry_client_new(r, opts ? &opts->registry : NULL, &c, err) < 0)
        return berth_error_prefix(err, "pull %s", norm);
    p.c = c;
    if (store_hold(s, LOCK_SH, &lock, err) < 0 || do_pull(&p, r, norm, ret, err) < 0) {
        berth_error_prefix(err, "pull %s", norm);
        return berth_image_error_line(err);
    }
    return 0;
}

static bool complete(berth_image_store *s, const berth_image *img)
{
    for (size_t i = 0; i < img->n_layers; i++)
        if (!store_layer_exists(s, img->layers[i].diff_id))
            return false;
    return store_blob_exists(s, img->config);
}

int berth_image_ensure(berth_image_store *s, const char *ref, berth_pull_policy policy,
                       const berth_image_pull_opts *opts, berth_image **ret, bool *ret_pulled,
                       berth_error **err)
{
    _cleanup_(berth_image_freep) berth_image *img = NULL;

    if (ret_pulled)
        *ret_pulled = false;
    if (policy != BERTH_PULL_ALWAYS) {
        if (berth_image_store_get(s, ref, &img, err) < 0)
            return -1;
        if (img && complete(s, img)) {
            if (ret)
                *ret = TAKE_PTR(img);
            return 0;
        }
        if (policy == BERTH_PULL_NEVER)
            return berth_error_set(err, ENOENT,
                                   "image %s is not present, and the pull policy is Never", ref);
    }
    if (ret_pulled)
        *ret_pulled = true;
    return berth_image_pull(s, ref, opts, ret, err);
}
