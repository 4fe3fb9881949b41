/* lib/image: the node's image store, one per node under the image store
 * directory (/var/lib/berth/images):
 *
 *   blobs/sha256/HEX    manifests, indexes, configs (and layer blobs while
 *                       they are being unpacked), each verified against its
 *                       digest and size before it is used
 *   layers/HEX          each layer unpacked once, named by its diff id (the
 *                       digest of its uncompressed tar), shared by every
 *                       image that has it; OCI whiteouts already turned into
 *                       overlayfs ones (char device 0:0, trusted.overlay.opaque)
 *   images/HEX.json     one record per reference (HEX: the sha256 of its
 *                       normalized text): digest, config, layers, times
 *   tmp/, locks/, store.lock   work in progress and who holds what
 *
 * (Directory images of `berthctl image import NAME DIR`, the runtime's
 * images until it overlays layers, are NAME/ directories beside these; the
 * names above are reserved: berth_image_store_reserved_name.)
 *
 * Atomicity: a blob is written to tmp/ and renamed into blobs/ only once
 * its digest and size are right; a layer is unpacked into tmp/ from a
 * verified blob, its diff id checked, then renamed into layers/; an image
 * record is written (temp, fsync, rename) only once all its layers are in
 * place. So nothing half-pulled is ever visible, also after kill -9 at any
 * point: what is left in tmp/ is resumed (a blob download) or redone (an
 * unpack) by the next pull, or removed by prune.
 *
 * Concurrency, between processes: a lock per blob and per layer (flock on
 * locks/), so two pullers needing the same layer fetch and unpack it once
 * (the second waits, then finds it); pulls hold store.lock shared, and
 * removing what no record uses takes it exclusive, so a sweep never takes
 * a layer from under a pull that has not written its record yet.
 *
 * Every call blocks (disk, locks). Records are bounded (1 MiB) and checked
 * when read; a record that does not parse is reported, not trusted. */
#ifndef BERTH_IMAGE_STORE_H
#define BERTH_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "image/digest.h"
#include "image/oci.h"

#define BERTH_IMAGE_STORE_DEFAULT "/var/lib/berth/images"

typedef struct berth_image_store berth_image_store;

/* Open the store at root, creating root (0700) and its directories when
 * missing. */
int berth_image_store_open(const char *root, berth_image_store **ret, berth_error **err);
void berth_image_store_close(berth_image_store *s);
BERTH_DEFINE_CLEANUP(berth_image_store, berth_image_store_close)
const char *berth_image_store_root(const berth_image_store *s);

/* Bytes of the regular files under the directory dfd (taken: closed
 * here): what a layer or a directory image holds. */
int64_t berth_image_tree_bytes(int dfd);

/* berth_image_store_reserved_name: image/ref.h. */

typedef struct berth_image_layer {
    char diff_id[BERTH_DIGEST_LEN + 1]; /* names layers/HEX */
    char blob[BERTH_DIGEST_LEN + 1];    /* the compressed blob it came from */
    int64_t blob_size;
    int64_t size; /* bytes of its regular files, unpacked */
} berth_image_layer;

/* An image as its record has it. */
typedef struct berth_image {
    char *ref;                           /* normalized: docker.io/library/nginx:latest */
    char digest[BERTH_DIGEST_LEN + 1];   /* what the reference resolved to (an index's
                                            digest for a multi-platform image) */
    char manifest[BERTH_DIGEST_LEN + 1]; /* this platform's manifest */
    char config[BERTH_DIGEST_LEN + 1];   /* its config: the image id */
    berth_image_layer *layers;           /* lowest first */
    size_t n_layers;
    int64_t size;         /* the layers' sizes summed */
    int64_t pulled_ns;    /* when it was pulled or imported (wall clock) */
    int64_t last_used_ns; /* pulled, or berth_image_store_touch */
} berth_image;

void berth_image_free(berth_image *img);
BERTH_DEFINE_CLEANUP(berth_image, berth_image_free)
void berth_image_list_free(berth_image **imgs, size_t n);

/* The record for ref (any spelling: "nginx" is docker.io/library/nginx:latest).
 * 0 with *ret NULL when the store has none; EINVAL for a reference that
 * does not parse. */
int berth_image_store_get(berth_image_store *s, const char *ref, berth_image **ret,
                          berth_error **err);

/* Every record, sorted by reference. Records that cannot be read are
 * skipped and counted in *ret_bad (may be NULL). */
int berth_image_store_list(berth_image_store *s, berth_image ***ret, size_t *ret_n, size_t *ret_bad,
                           berth_error **err);

/* What the runtime overlays, lowest layer first: the absolute path of each
 * layer directory (layers/HEX), each distinct layer once at its highest
 * position (overlayfs refuses a directory twice; the highest copy covers
 * the lower one). ENOENT naming the layer if one is missing (the image
 * must be pulled again). *ret is a NULL-terminated array of new strings
 * (berth_strv_free). For a mount: overlayfs takes them top first, joined
 * by ':', in one page of options; with the mount's working directory at
 * berth_image_store_layers_dir() relative names (HEX, 65 bytes each) fit
 * 62 layers, and the new mount API (lowerdir+) has no such limit. */
int berth_image_store_layer_dirs(berth_image_store *s, const berth_image *img, char ***ret,
                                 size_t *ret_n, berth_error **err);
const char *berth_image_store_layers_dir(const berth_image_store *s);
void berth_strv_free(char **v);

/* The image's config (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal,
 * diff ids), read from its blob and verified against its digest again. */
int berth_image_store_config(berth_image_store *s, const berth_image *img, berth_image_config **ret,
                             berth_error **err);

/* Mark ref used now (a container of it started): garbage collection
 * removes the least recently used first. ENOENT when there is no such
 * image. */
int berth_image_store_touch(berth_image_store *s, const char *ref, berth_error **err);

/* ---- removal and garbage collection ---- */

/* What containers use: references in any spelling (matched normalized),
 * a pinned reference (name@sha256:...) matching an image of that digest,
 * or a bare digest (manifest, index or config). An image in use is never
 * removed. */
typedef struct berth_image_in_use {
    const char *const *refs;
    size_t n;
} berth_image_in_use;

bool berth_image_is_in_use(const berth_image *img, const berth_image_in_use *in_use);

typedef struct berth_image_removal {
    size_t images; /* records removed */
    size_t layers; /* layer directories removed */
    int64_t bytes; /* their sizes (the layers' regular files, the blobs) */
    char **refs;   /* the references removed, NULL-terminated (berth_strv_free) */
    bool swept;    /* unused layers and blobs were removed (false: the store was busy) */
} berth_image_removal;

void berth_image_removal_clear(berth_image_removal *r);

/* Remove ref's record, then the layers and blobs no record uses any more.
 * EBUSY, naming the users, when in_use has it; ENOENT when there is no
 * such image. With wait false a store busy with a pull is not swept now
 * (swept false; the next prune or gc does it); with wait true it waits. */
int berth_image_store_remove(berth_image_store *s, const char *ref,
                             const berth_image_in_use *in_use, bool wait, berth_image_removal *ret,
                             berth_error **err);

/* Remove every image not in use, and everything no record uses: layers,
 * blobs, what interrupted pulls left in tmp/. Waits for pulls to finish. */
int berth_image_store_prune(berth_image_store *s, const berth_image_in_use *in_use,
                            berth_image_removal *ret, berth_error **err);

/* Disk use of the store's file system: capacity and used bytes. */
typedef int (*berth_image_disk_usage_fn)(const char *root, uint64_t *ret_used,
                                         uint64_t *ret_capacity, void *data, berth_error **err);

/* kubelet's image garbage collection. */
typedef struct berth_image_gc_policy {
    int high_percent;                /* collect when disk use is above this (85) */
    int low_percent;                 /* down to this (80) */
    int64_t min_age_ns;              /* never an image pulled less than this ago (2 min) */
    berth_image_disk_usage_fn usage; /* NULL: statvfs of the store's root */
    void *usage_data;
} berth_image_gc_policy;

/* kubelet's defaults: 85 %, 80 %, 2 min. */
berth_image_gc_policy berth_image_gc_policy_default(void);

/* When disk use is above high_percent, remove images not in use, least
 * recently used first (then oldest pulled), each with the layers and
 * blobs no other image uses, until use is at or below low_percent or no
 * image is left to remove. 0 when done (also when use stays above low:
 * ret says what was freed, *ret_used_percent what is left); EINVAL for a
 * policy with low > high or outside 0..100. Waits for pulls to finish. */
int berth_image_store_gc(berth_image_store *s, const berth_image_gc_policy *policy,
                         const berth_image_in_use *in_use, berth_image_removal *ret,
                         int *ret_used_percent, berth_error **err);

#endif
