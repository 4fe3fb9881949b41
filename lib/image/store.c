/* The image store: its layout, records, blobs, layers and locks. Removal
 * and garbage collection are in gc.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/layer.h"
#include "image/ref.h"
#include "image/store-internal.h"

static int open_dir(int dirfd, const char *path, const char *root, int *ret, berth_error **err)
{
    if (mkdirat(dirfd, path, 0700) < 0 && errno != EEXIST)
        return berth_error_errno(err, "mkdir %s/%s", root, path);
    *ret = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*ret < 0)
        return berth_error_errno(err, "open %s/%s", root, path);
    return 0;
}

void berth_image_store_close(berth_image_store *s)
{
    int *fds[] = { s ? &s->rootfd : NULL,   s ? &s->blobsfd : NULL, s ? &s->layersfd : NULL,
                   s ? &s->imagesfd : NULL, s ? &s->tmpfd : NULL,   s ? &s->locksfd : NULL };

    if (!s)
        return;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(fds); i++)
        if (*fds[i] >= 0)
            close(*fds[i]);
    free(s->root);
    free(s->layers_path);
    free(s);
}

int berth_image_store_open(const char *root, berth_image_store **ret, berth_error **err)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = berth_xcalloc(1, sizeof(*s));
    _cleanup_close_ int blobs = -1;

    s->rootfd = s->blobsfd = s->layersfd = s->imagesfd = s->tmpfd = s->locksfd = -1;
    if (!root || root[0] != '/')
        return berth_error_set(err, EINVAL, "image store '%s': not an absolute path",
                               root ? root : "");
    s->root = berth_xstrdup(root);
    s->layers_path = berth_xasprintf("%s/layers", root);
    if (berth_mkdir_p(root, 0700, err) < 0)
        return berth_error_prefix(err, "image store");
    s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0)
        return berth_error_errno(err, "open image store %s", root);
    if (open_dir(s->rootfd, "blobs", root, &blobs, err) < 0 ||
        open_dir(blobs, "sha256", root, &s->blobsfd, err) < 0 ||
        open_dir(s->rootfd, "layers", root, &s->layersfd, err) < 0 ||
        open_dir(s->rootfd, "images", root, &s->imagesfd, err) < 0 ||
        open_dir(s->rootfd, "tmp", root, &s->tmpfd, err) < 0 ||
        open_dir(s->rootfd, "locks", root, &s->locksfd, err) < 0)
        return -1;
    /* the layers are the containers' root file systems */
    if (fchmod(s->layersfd, 0711) < 0)
        return berth_error_errno(err, "chmod %s", s->layers_path);
    *ret = TAKE_PTR(s);
    return 0;
}

const char *berth_image_store_root(const berth_image_store *s)
{
    return s->root;
}

const char *berth_image_store_layers_dir(const berth_image_store *s)
{
    return s->layers_path;
}

/* ---- locks ---- */

int store_lock_file(int dirfd, const char *name, int op, int *ret_fd, berth_error **err)
{
    for (;;) {
        _cleanup_close_ int fd =
            openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        struct stat a, b;

        if (fd < 0)
            return berth_error_errno(err, "open lock %s", name);
        if (flock(fd, op) < 0) {
            if (errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return berth_error_errno(err, "lock %s", name);
        }
        if (fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            *ret_fd = TAKE_FD(fd);
            return 1;
        }
        /* its holder removed it as it let go: the lock is the new file */
    }
}

void store_unlock_remove(int dirfd, const char *name, int fd)
{
    if (fd < 0)
        return;
    unlinkat(dirfd, name, 0);
    close(fd);
}

int store_hold(berth_image_store *s, int op, int *ret_fd, berth_error **err)
{
    int r = store_lock_file(s->rootfd, "store.lock", op, ret_fd, err);

    if (r < 0)
        return berth_error_prefix(err, "image store %s", s->root);
    return r;
}

const char *store_lock_name(const char *kind, const char *digest, char buf[80])
{
    snprintf(buf, 80, "%s-%s", kind, berth_digest_hex(digest));
    return buf;
}

/* ---- blobs ---- */

bool store_blob_exists(berth_image_store *s, const char *digest)
{
    struct stat st;

    return fstatat(s->blobsfd, berth_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

int store_blob_read(berth_image_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    char got[BERTH_DIGEST_LEN + 1];
    size_t len;

    if (berth_read_file_at(s->blobsfd, berth_digest_hex(digest), max, &data, &len, err) < 0)
        return berth_error_prefix(err, "blob %s", digest);
    berth_sha256_of(data, len, got);
    if (strcmp(got, digest) != 0)
        return berth_error_set(
            err, EBADMSG, "blob %s in %s: digest mismatch (the store is damaged)", digest, s->root);
    *ret = TAKE_PTR(data);
    if (ret_len)
        *ret_len = len;
    return 0;
}

int store_blob_open(berth_image_store *s, const char *digest, int *ret_fd, berth_error **err)
{
    int fd = openat(s->blobsfd, berth_digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return berth_error_errno(err, "open blob %s", digest);
    *ret_fd = fd;
    return 0;
}

int store_blob_put(berth_image_store *s, const char *digest, const void *data, size_t len,
                   berth_error **err)
{
    char got[BERTH_DIGEST_LEN + 1];

    berth_sha256_of(data, len, got);
    if (strcmp(got, digest) != 0)
        return berth_error_set(err, EBADMSG, "blob %s: digest mismatch (got %s)", digest, got);
    if (store_blob_exists(s, digest))
        return 0;
    if (berth_write_file_atomic_at(s->blobsfd, berth_digest_hex(digest), data, len, 0600, err) < 0)
        return berth_error_prefix(err, "image store %s", s->root);
    return 0;
}

int store_blob_partial(berth_image_store *s, const char *digest, int *ret_fd, int64_t *ret_have,
                       berth_error **err)
{
    char name[80];
    struct stat st;
    int fd;

    snprintf(name, sizeof(name), "blob-%s", berth_digest_hex(digest));
    fd = openat(s->tmpfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return berth_error_errno(err, "open %s/tmp/%s", s->root, name);
    if (fstat(fd, &st) < 0) {
        close(fd);
        return berth_error_errno(err, "stat %s/tmp/%s", s->root, name);
    }
    *ret_fd = fd;
    *ret_have = st.st_size;
    return 0;
}

int store_blob_commit(berth_image_store *s, const char *digest, int fd, bool durable,
                      berth_error **err)
{
    char name[80];

    snprintf(name, sizeof(name), "blob-%s", berth_digest_hex(digest));
    if (durable && fsync(fd) < 0)
        return berth_error_errno(err, "fsync %s/tmp/%s", s->root, name);
    if (renameat(s->tmpfd, name, s->blobsfd, berth_digest_hex(digest)) < 0)
        return berth_error_errno(err, "rename %s/tmp/%s into blobs", s->root, name);
    fsync(s->blobsfd);
    return 0;
}

void store_blob_discard_partial(berth_image_store *s, const char *digest)
{
    char name[80];

    snprintf(name, sizeof(name), "blob-%s", berth_digest_hex(digest));
    unlinkat(s->tmpfd, name, 0);
}

void store_blob_remove(berth_image_store *s, const char *digest)
{
    unlinkat(s->blobsfd, berth_digest_hex(digest), 0);
}

/* ---- layers ---- */

bool store_layer_exists(berth_image_store *s, const char *diff_id)
{
    struct stat st;

    return fstatat(s->layersfd, berth_digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode);
}

int store_layer_lock(berth_image_store *s, const char *diff_id, int *ret_fd, berth_error **err)
{
    char name[80];

    if (store_lock_file(s->locksfd, store_lock_name("layer", diff_id, name), LOCK_EX, ret_fd, err) <
        0)
        return berth_error_prefix(err, "image store %s", s->root);
    return 0;
}

void store_layer_unlock(berth_image_store *s, const char *diff_id, int fd)
{
    char name[80];

    store_unlock_remove(s->locksfd, store_lock_name("layer", diff_id, name), fd);
}

int64_t store_tree_bytes(int dfd, bool blocks)
{
    _cleanup_closedir_ DIR *d = fdopendir(dfd);
    struct dirent *e;
    int64_t sum = 0;

    if (!d) {
        close(dfd);
        return 0;
    }
    while ((e = readdir(d))) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (blocks)
            sum += (int64_t)st.st_blocks * 512;
        else if (S_ISREG(st.st_mode))
            sum += st.st_size;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub >= 0)
                sum += store_tree_bytes(sub, blocks);
        }
    }
    return sum;
}

int64_t berth_image_tree_bytes(int dfd)
{
    return store_tree_bytes(dfd, false);
}

int64_t store_layer_size(berth_image_store *s, const char *diff_id)
{
    berth_image **imgs = NULL;
    size_t n = 0;
    int64_t size = -1;
    int fd;

    if (berth_image_store_list(s, &imgs, &n, NULL, NULL) == 0)
        for (size_t i = 0; i < n && size < 0; i++)
            for (size_t k = 0; k < imgs[i]->n_layers && size < 0; k++)
                if (strcmp(imgs[i]->layers[k].diff_id, diff_id) == 0)
                    size = imgs[i]->layers[k].size;
    berth_image_list_free(imgs, n);
    if (size >= 0)
        return size;
    fd = openat(s->layersfd, berth_digest_hex(diff_id),
                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? 0 : store_tree_bytes(fd, false);
}

int store_layer_unpack(berth_image_store *s, const char *diff_id, int fd, int64_t *ret_size,
                       berth_error **err)
{
    char name[80];
    _cleanup_close_ int dfd = -1;
    berth_layer_stats st;
    berth_error *rm = NULL;

    snprintf(name, sizeof(name), "layer-%s", berth_digest_hex(diff_id));
    /* what an interrupted unpack left: redo it */
    if (berth_rm_rf_at(s->tmpfd, name, err) < 0)
        return berth_error_prefix(err, "image store %s", s->root);
    if (mkdirat(s->tmpfd, name, 0755) < 0)
        return berth_error_errno(err, "mkdir %s/tmp/%s", s->root, name);
    dfd = openat(s->tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || fchmod(dfd, 0755) < 0) {
        berth_error_errno(err, "open %s/tmp/%s", s->root, name);
        goto fail;
    }
    if (berth_layer_unpack_fd(fd, dfd, &st, err) < 0)
        goto fail;
    if (strcmp(st.diff_id, diff_id) != 0) {
        berth_error_set(err, EBADMSG, "layer %s: diff id mismatch: its tar is %s", diff_id,
                        st.diff_id);
        goto fail;
    }
    if (renameat2(s->tmpfd, name, s->layersfd, berth_digest_hex(diff_id), RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST) { /* unpacked by someone not holding the lock: theirs stays */
            berth_rm_rf_at(s->tmpfd, name, NULL);
            *ret_size = st.bytes;
            return 0;
        }
        berth_error_errno(err, "rename %s/tmp/%s into layers", s->root, name);
        goto fail;
    }
    *ret_size = st.bytes;
    return 0;
fail:
    if (berth_rm_rf_at(s->tmpfd, name, &rm) < 0)
        berth_error_free(&rm);
    return -1;
}

/* ---- records ---- */

void berth_image_free(berth_image *img)
{
    if (!img)
        return;
    free(img->ref);
    free(img->layers);
    free(img);
}

void berth_image_list_free(berth_image **imgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        berth_image_free(imgs[i]);
    free(imgs);
}

void berth_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

const char *store_record_name(const char *ref, char buf[80])
{
    char d[BERTH_DIGEST_LEN + 1];

    berth_sha256_of(ref, strlen(ref), d);
    snprintf(buf, 80, "%s.json", berth_digest_hex(d));
    return buf;
}

static json_t *jcheck(json_t *j)
{
    if (!j)
        berth_oom();
    return j;
}

static void jset(json_t *o, const char *k, json_t *v)
{
    if (json_object_set_new(o, k, jcheck(v)) < 0)
        berth_oom();
}

int store_record_write(berth_image_store *s, const berth_image *img, berth_error **err)
{
    _cleanup_(json_decrefp) json_t *j = jcheck(json_object());
    json_t *layers = jcheck(json_array());
    _cleanup_free_ char *text = NULL;
    char name[80];

    jset(j, "reference", json_string(img->ref));
    jset(j, "digest", json_string(img->digest));
    jset(j, "manifest", json_string(img->manifest));
    jset(j, "config", json_string(img->config));
    for (size_t i = 0; i < img->n_layers; i++) {
        json_t *l = jcheck(json_object());

        jset(l, "diffId", json_string(img->layers[i].diff_id));
        jset(l, "blob", json_string(img->layers[i].blob));
        jset(l, "blobSize", json_integer(img->layers[i].blob_size));
        jset(l, "size", json_integer(img->layers[i].size));
        if (json_array_append_new(layers, l) < 0)
            berth_oom();
    }
    jset(j, "layers", layers);
    jset(j, "pulled", json_integer(img->pulled_ns));
    jset(j, "lastUsed", json_integer(img->last_used_ns));
    text = json_dumps(j, JSON_INDENT(1));
    if (!text)
        berth_oom();
    if (berth_write_file_atomic_at(s->imagesfd, store_record_name(img->ref, name), text,
                                   strlen(text), 0600, err) < 0)
        return berth_error_prefix(err, "image store %s: record of %s", s->root, img->ref);
    return 0;
}

static bool get_digest(const json_t *o, const char *key, char out[BERTH_DIGEST_LEN + 1])
{
    const char *v = json_string_value(json_object_get(o, key));

    if (!berth_digest_valid(v))
        return false;
    memcpy(out, v, BERTH_DIGEST_LEN + 1);
    return true;
}

static bool get_int(const json_t *o, const char *key, int64_t *ret)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *ret = json_integer_value(v);
    return true;
}

int store_record_read(berth_image_store *s, const char *file, berth_image **ret, berth_error **err)
{
    _cleanup_free_ char *text = NULL, *norm = NULL;
    _cleanup_(json_decrefp) json_t *j = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    const json_t *layers;
    const char *ref;
    char want[80];
    size_t len;

    if (berth_read_file_at(s->imagesfd, file, STORE_RECORD_MAX, &text, &len, err) < 0)
        return berth_error_prefix(err, "image store %s", s->root);
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    ref = json_string_value(json_object_get(j, "reference"));
    norm = ref ? berth_image_ref_normalize(ref) : NULL;
    img = berth_xcalloc(1, sizeof(*img));
    layers = json_object_get(j, "layers");
    if (!norm || strcmp(norm, ref) != 0 || strcmp(store_record_name(norm, want), file) != 0 ||
        !get_digest(j, "digest", img->digest) || !get_digest(j, "manifest", img->manifest) ||
        !get_digest(j, "config", img->config) || !get_int(j, "pulled", &img->pulled_ns) ||
        !get_int(j, "lastUsed", &img->last_used_ns) || !json_is_array(layers) ||
        json_array_size(layers) > BERTH_OCI_LAYERS_MAX)
        return berth_error_set(err, EINVAL, "image store %s: record images/%s is damaged", s->root,
                               file);
    img->ref = TAKE_PTR(norm);
    img->n_layers = json_array_size(layers);
    img->layers = berth_xcalloc(img->n_layers ? img->n_layers : 1, sizeof(*img->layers));
    for (size_t i = 0; i < img->n_layers; i++) {
        const json_t *l = json_array_get(layers, i);
        berth_image_layer *L = &img->layers[i];

        if (!get_digest(l, "diffId", L->diff_id) || !get_digest(l, "blob", L->blob) ||
            !get_int(l, "blobSize", &L->blob_size) || !get_int(l, "size", &L->size))
            return berth_error_set(err, EINVAL, "image store %s: record images/%s is damaged",
                                   s->root, file);
        img->size += L->size;
    }
    *ret = TAKE_PTR(img);
    return 0;
}

int berth_image_store_get(berth_image_store *s, const char *ref, berth_image **ret,
                          berth_error **err)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
    _cleanup_free_ char *norm = NULL;
    char name[80];
    struct stat st;

    if (berth_image_ref_parse(ref, &r, err) < 0)
        return -1;
    norm = berth_image_ref_format(r);
    store_record_name(norm, name);
    if (fstatat(s->imagesfd, name, &st, 0) < 0) {
        if (errno != ENOENT)
            return berth_error_errno(err, "image store %s: stat record of %s", s->root, norm);
        *ret = NULL;
        return 0;
    }
    return store_record_read(s, name, ret, err);
}

static int image_cmp(const void *a, const void *b)
{
    return strcmp((*(berth_image *const *)a)->ref, (*(berth_image *const *)b)->ref);
}

int berth_image_store_list(berth_image_store *s, berth_image ***ret, size_t *ret_n, size_t *ret_bad,
                           berth_error **err)
{
    _cleanup_close_ int fd = fcntl(s->imagesfd, F_DUPFD_CLOEXEC, 3);
    _cleanup_closedir_ DIR *d = NULL;
    berth_image **v = NULL;
    size_t n = 0, cap = 0, bad = 0;
    struct dirent *e;

    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
        return berth_error_errno(err, "image store %s: images", s->root);
    d = fdopendir(fd);
    if (!d)
        return berth_error_errno(err, "image store %s: images", s->root);
    TAKE_FD(fd);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        berth_image *img = NULL;
        berth_error *rerr = NULL;

        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (store_record_read(s, e->d_name, &img, &rerr) < 0) {
            berth_error_free(&rerr);
            bad++;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            v = berth_xreallocarray(v, cap, sizeof(*v));
        }
        v[n++] = img;
    }
    if (n)
        qsort(v, n, sizeof(*v), image_cmp);
    *ret = v;
    *ret_n = n;
    if (ret_bad)
        *ret_bad = bad;
    return 0;
}

int berth_image_store_layer_dirs(berth_image_store *s, const berth_image *img, char ***ret,
                                 size_t *ret_n, berth_error **err)
{
    char **v = berth_xcalloc(img->n_layers + 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < img->n_layers; i++) {
        bool higher = false;

        /* each layer once, at its highest position */
        for (size_t k = i + 1; k < img->n_layers && !higher; k++)
            higher = strcmp(img->layers[k].diff_id, img->layers[i].diff_id) == 0;
        if (higher)
            continue;
        if (!store_layer_exists(s, img->layers[i].diff_id)) {
            berth_strv_free(v);
            return berth_error_set(err, ENOENT,
                                   "image %s: layer %s is missing from %s (pull the image again)",
                                   img->ref, img->layers[i].diff_id, s->layers_path);
        }
        v[n++] = berth_xasprintf("%s/%s", s->layers_path, berth_digest_hex(img->layers[i].diff_id));
    }
    *ret = v;
    if (ret_n)
        *ret_n = n;
    return 0;
}

int berth_image_store_config(berth_image_store *s, const berth_image *img, berth_image_config **ret,
                             berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;

    if (store_blob_read(s, img->config, BERTH_OCI_CONFIG_MAX, &data, &len, err) < 0 ||
        berth_image_config_parse(data, len, ret, err) < 0)
        return berth_error_prefix(err, "image %s", img->ref);
    return 0;
}

int berth_image_store_touch(berth_image_store *s, const char *ref, berth_error **err)
{
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    _cleanup_close_ int lock = -1;

    if (store_hold(s, LOCK_SH, &lock, err) < 0 || berth_image_store_get(s, ref, &img, err) < 0)
        return -1;
    if (!img)
        return berth_error_set(err, ENOENT, "image %s: not in %s", ref, s->root);
    img->last_used_ns = berth_now_real_ns();
    return store_record_write(s, img, err);
}
