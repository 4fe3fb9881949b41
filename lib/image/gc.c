/* Removing images: one by reference, all unused ones (prune), and
 * kubelet's disk-use driven garbage collection; then the sweep of what no
 * record uses any more. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/ref.h"
#include "image/store-internal.h"

bool berth_image_is_in_use(const berth_image *img, const berth_image_in_use *in_use)
{
    for (size_t i = 0; in_use && i < in_use->n; i++) {
        const char *u = in_use->refs[i];
        _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
        _cleanup_free_ char *norm = NULL;

        if (!u)
            continue;
        if (berth_digest_valid(u)) {
            if (strcmp(u, img->digest) == 0 || strcmp(u, img->manifest) == 0 ||
                strcmp(u, img->config) == 0)
                return true;
            continue;
        }
        if (berth_image_ref_parse(u, &r, NULL) < 0)
            continue;
        if (r->digest &&
            (strcmp(r->digest, img->digest) == 0 || strcmp(r->digest, img->manifest) == 0))
            return true;
        norm = berth_image_ref_format(r);
        if (strcmp(norm, img->ref) == 0)
            return true;
    }
    return false;
}

void berth_image_removal_clear(berth_image_removal *r)
{
    if (!r)
        return;
    berth_strv_free(r->refs);
    memset(r, 0, sizeof(*r));
}

static void removal_add_ref(berth_image_removal *r, const char *ref)
{
    r->refs = berth_xreallocarray(r->refs, r->images + 2, sizeof(*r->refs));
    r->refs[r->images++] = berth_xstrdup(ref);
    r->refs[r->images] = NULL;
}

/* A sorted set of digests' hex, to tell what records still use. */
typedef struct hexset {
    char **v;
    size_t n, cap;
} hexset;

static void hexset_add(hexset *h, const char *digest)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->v = berth_xreallocarray(h->v, h->cap, sizeof(*h->v));
    }
    h->v[h->n++] = berth_xstrdup(berth_digest_hex(digest));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool hexset_has(const hexset *h, const char *hex)
{
    return h->n && bsearch(&hex, h->v, h->n, sizeof(*h->v), str_cmp);
}

static void hexset_free(hexset *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i]);
    free(h->v);
}

/* Remove every entry of dir (a directory of the store) for which keep
 * says no. */
static int sweep_dir(int dir, const char *what, const hexset *keep, bool count_trees,
                     berth_image_removal *ret, berth_error **err)
{
    _cleanup_close_ int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;

    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(d = fdopendir(fd)))
        return berth_error_errno(err, "read %s", what);
    TAKE_FD(fd);
    while ((e = readdir(d))) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (keep && hexset_has(keep, e->d_name))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && count_trees) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub >= 0)
                ret->bytes += store_tree_bytes(sub, true);
            ret->layers++;
        } else if (!S_ISDIR(st.st_mode)) {
            ret->bytes += (int64_t)st.st_blocks * 512;
        }
        if (berth_rm_rf_at(dirfd(d), e->d_name, err) < 0)
            return berth_error_prefix(err, "%s", what);
    }
    return 0;
}

/* Under store.lock exclusive: remove the layers and blobs no record uses,
 * damaged records, and everything in tmp/ and locks/ (no pull runs). */
static int sweep_locked(berth_image_store *s, berth_image_removal *ret, berth_error **err)
{
    berth_image **imgs = NULL;
    size_t n = 0;
    hexset layers = { 0 }, blobs = { 0 };
    _cleanup_closedir_ DIR *d = NULL;
    _cleanup_close_ int fd = -1;
    struct dirent *e;
    int r = -1;

    /* damaged records first: what they held is garbage */
    fd = fcntl(s->imagesfd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0 || !(d = fdopendir(fd)))
        return berth_error_errno(err, "image store %s: read images", s->root);
    TAKE_FD(fd);
    while ((e = readdir(d))) {
        berth_image *img = NULL;
        berth_error *rerr = NULL;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.') { /* a record write that was killed */
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        if (store_record_read(s, e->d_name, &img, &rerr) == 0) {
            berth_image_free(img);
            continue;
        }
        if (rerr->code == EINVAL)
            unlinkat(dirfd(d), e->d_name, 0);
        berth_error_free(&rerr);
    }
    if (berth_image_store_list(s, &imgs, &n, NULL, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        hexset_add(&blobs, imgs[i]->digest);
        hexset_add(&blobs, imgs[i]->manifest);
        hexset_add(&blobs, imgs[i]->config);
        for (size_t k = 0; k < imgs[i]->n_layers; k++)
            hexset_add(&layers, imgs[i]->layers[k].diff_id);
    }
    if (layers.n)
        qsort(layers.v, layers.n, sizeof(*layers.v), str_cmp);
    if (blobs.n)
        qsort(blobs.v, blobs.n, sizeof(*blobs.v), str_cmp);
    if (sweep_dir(s->layersfd, "layers", &layers, true, ret, err) < 0 ||
        sweep_dir(s->blobsfd, "blobs", &blobs, false, ret, err) < 0 ||
        sweep_dir(s->tmpfd, "tmp", NULL, false, ret, err) < 0 ||
        sweep_dir(s->locksfd, "locks", NULL, false, ret, err) < 0) {
        berth_error_prefix(err, "image store %s", s->root);
        goto out;
    }
    ret->swept = true;
    r = 0;
out:
    hexset_free(&layers);
    hexset_free(&blobs);
    berth_image_list_free(imgs, n);
    return r;
}

static int remove_record(berth_image_store *s, const char *ref, berth_error **err)
{
    char name[80];

    if (unlinkat(s->imagesfd, store_record_name(ref, name), 0) < 0)
        return berth_error_errno(err, "image store %s: remove record of %s", s->root, ref);
    return 0;
}

int berth_image_store_remove(berth_image_store *s, const char *ref,
                             const berth_image_in_use *in_use, bool wait, berth_image_removal *ret,
                             berth_error **err)
{
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    _cleanup_close_ int lock = -1;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (berth_image_store_get(s, ref, &img, err) < 0)
        return -1;
    if (!img)
        return berth_error_set(err, ENOENT, "image %s: not in %s", ref, s->root);
    if (berth_image_is_in_use(img, in_use))
        return berth_error_set(err, EBUSY, "image %s: in use by a container", img->ref);
    if (remove_record(s, img->ref, err) < 0)
        return -1;
    removal_add_ref(ret, img->ref);
    r = store_hold(s, LOCK_EX | (wait ? 0 : LOCK_NB), &lock, err);
    if (r <= 0)
        return r;
    return sweep_locked(s, ret, err);
}

int berth_image_store_prune(berth_image_store *s, const berth_image_in_use *in_use,
                            berth_image_removal *ret, berth_error **err)
{
    berth_image **imgs = NULL;
    _cleanup_close_ int lock = -1;
    size_t n = 0;
    int r = 0;

    memset(ret, 0, sizeof(*ret));
    if (store_hold(s, LOCK_EX, &lock, err) < 0 ||
        berth_image_store_list(s, &imgs, &n, NULL, err) < 0)
        return -1;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (berth_image_is_in_use(imgs[i], in_use))
            continue;
        r = remove_record(s, imgs[i]->ref, err);
        if (r == 0)
            removal_add_ref(ret, imgs[i]->ref);
    }
    berth_image_list_free(imgs, n);
    if (r < 0)
        return -1;
    return sweep_locked(s, ret, err);
}

berth_image_gc_policy berth_image_gc_policy_default(void)
{
    return (berth_image_gc_policy){
        .high_percent = 85,
        .low_percent = 80,
        .min_age_ns = 2 * 60 * BERTH_NSEC_PER_SEC,
    };
}

static int statvfs_usage(const char *root, uint64_t *ret_used, uint64_t *ret_capacity, void *data,
                         berth_error **err)
{
    struct statvfs v;

    (void)data;
    if (statvfs(root, &v) < 0)
        return berth_error_errno(err, "statvfs %s", root);
    *ret_capacity = (uint64_t)v.f_blocks * v.f_frsize;
    *ret_used = *ret_capacity - (uint64_t)v.f_bavail * v.f_frsize;
    return 0;
}

static int used_percent(berth_image_store *s, const berth_image_gc_policy *p, int *ret,
                        berth_error **err)
{
    uint64_t used, cap;
    int r = p->usage ? p->usage(s->root, &used, &cap, p->usage_data, err)
                     : statvfs_usage(s->root, &used, &cap, NULL, err);

    if (r < 0)
        return -1;
    *ret = cap ? (int)((used * 100 + cap - 1) / cap) : 0;
    return 0;
}

static int lru_cmp(const void *a, const void *b)
{
    const berth_image *x = *(berth_image *const *)a, *y = *(berth_image *const *)b;

    if (x->last_used_ns != y->last_used_ns)
        return x->last_used_ns < y->last_used_ns ? -1 : 1;
    if (x->pulled_ns != y->pulled_ns)
        return x->pulled_ns < y->pulled_ns ? -1 : 1;
    return strcmp(x->ref, y->ref);
}

int berth_image_store_gc(berth_image_store *s, const berth_image_gc_policy *policy,
                         const berth_image_in_use *in_use, berth_image_removal *ret,
                         int *ret_used_percent, berth_error **err)
{
    berth_image **imgs = NULL;
    _cleanup_close_ int lock = -1;
    size_t n = 0;
    int used, r = 0;
    int64_t now = berth_now_real_ns();

    memset(ret, 0, sizeof(*ret));
    if (policy->low_percent < 0 || policy->high_percent > 100 ||
        policy->low_percent > policy->high_percent)
        return berth_error_set(err, EINVAL,
                               "image gc: thresholds %d%%..%d%%: need 0 <= low <= high <= 100",
                               policy->low_percent, policy->high_percent);
    if (used_percent(s, policy, &used, err) < 0)
        return berth_error_prefix(err, "image gc");
    if (used <= policy->high_percent) {
        if (ret_used_percent)
            *ret_used_percent = used;
        return 0;
    }
    if (store_hold(s, LOCK_EX, &lock, err) < 0 ||
        berth_image_store_list(s, &imgs, &n, NULL, err) < 0)
        return -1;
    if (n)
        qsort(imgs, n, sizeof(*imgs), lru_cmp);
    for (size_t i = 0; i < n && used > policy->low_percent; i++) {
        if (berth_image_is_in_use(imgs[i], in_use) || now - imgs[i]->pulled_ns < policy->min_age_ns)
            continue;
        if (remove_record(s, imgs[i]->ref, err) < 0 || sweep_locked(s, ret, err) < 0 ||
            used_percent(s, policy, &used, err) < 0) {
            r = -1;
            break;
        }
        removal_add_ref(ret, imgs[i]->ref);
    }
    berth_image_list_free(imgs, n);
    if (r == 0 && ret_used_percent)
        *ret_used_percent = used;
    return r;
}
