/* lib/image's own view of the store, shared by store.c (layout, records,
 * blobs, layers, locks), gc.c (removal, prune, gc), pull.c and import.c. */
#ifndef BERTH_IMAGE_STORE_INTERNAL_H
#define BERTH_IMAGE_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/store.h"

#define STORE_RECORD_MAX ((size_t)1 << 20)

struct berth_image_store {
    char *root, *layers_path;
    int rootfd, blobsfd, layersfd, imagesfd, tmpfd, locksfd;
};

/* ---- locks (flock on files of locks/, or store.lock) ---- */

/* Take the lock file name in dirfd: LOCK_SH or LOCK_EX, with LOCK_NB not
 * to wait. 1 with *ret_fd (close it to let go), 0 when busy (LOCK_NB). A
 * lock file removed by its holder while we waited is taken again. */
int store_lock_file(int dirfd, const char *name, int op, int *ret_fd, berth_error **err);
/* Let go of an exclusive lock, removing its file first. */
void store_unlock_remove(int dirfd, const char *name, int fd);
/* store.lock: pulls and record writes hold it shared, sweeps exclusive. */
int store_hold(berth_image_store *s, int op, int *ret_fd, berth_error **err);

/* ---- blobs ---- */

/* blobs/sha256/HEX exists (not verified). */
bool store_blob_exists(berth_image_store *s, const char *digest);
/* Read a blob of at most max bytes and check it against its digest
 * (EBADMSG "digest mismatch" when it does not match: a damaged store). */
int store_blob_read(berth_image_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, berth_error **err);
/* Open a verified blob for reading; ENOENT when absent. */
int store_blob_open(berth_image_store *s, const char *digest, int *ret_fd, berth_error **err);
/* Write a blob held in memory (a manifest, a config) when it is not there;
 * data must hash to digest. */
int store_blob_put(berth_image_store *s, const char *digest, const void *data, size_t len,
                   berth_error **err);
/* The partial download of a blob, tmp/blob-HEX, created empty when
 * missing: *ret_fd open read-write, *ret_have its size so far. Hold the
 * blob's lock. */
int store_blob_partial(berth_image_store *s, const char *digest, int *ret_fd, int64_t *ret_have,
                       berth_error **err);
/* Its digest and size checked by the caller: rename it into blobs/,
 * fsync'd first when durable. A layer's blob need not be: it is removed
 * once unpacked, and checked again before any other use. */
int store_blob_commit(berth_image_store *s, const char *digest, int fd, bool durable,
                      berth_error **err);
/* Remove the partial download (a bad one must not be resumed). */
void store_blob_discard_partial(berth_image_store *s, const char *digest);
/* Remove a committed blob (a layer's, once unpacked). */
void store_blob_remove(berth_image_store *s, const char *digest);
/* Lock names: "blob-HEX", "layer-HEX". buf holds 80 bytes. */
const char *store_lock_name(const char *kind, const char *digest, char buf[80]);

/* ---- layers ---- */

bool store_layer_exists(berth_image_store *s, const char *diff_id);
/* The layer's lock (locks/layer-HEX), exclusive, waited for. */
int store_layer_lock(berth_image_store *s, const char *diff_id, int *ret_fd, berth_error **err);
void store_layer_unlock(berth_image_store *s, const char *diff_id, int fd);
/* An existing layer's size (its regular files' bytes): from a record that
 * has it, else counted. */
int64_t store_layer_size(berth_image_store *s, const char *diff_id);
/* Bytes under the directory dfd (taken, closed): regular files' sizes, or
 * with blocks the space every entry takes. */
int64_t store_tree_bytes(int dfd, bool blocks);
/* Unpack the blob read from fd into tmp/layer-HEX, check its diff id
 * against diff_id, rename it to layers/HEX. *ret_size: its regular files'
 * bytes. Hold the layer's lock. */
int store_layer_unpack(berth_image_store *s, const char *diff_id, int fd, int64_t *ret_size,
                       berth_error **err);

/* ---- records ---- */

/* Write img's record (temp, fsync, rename). Hold store.lock shared. */
int store_record_write(berth_image_store *s, const berth_image *img, berth_error **err);
/* images/HEX.json for a normalized reference. buf holds 80 bytes. */
const char *store_record_name(const char *ref, char buf[80]);
/* Read one record file: 0 with *ret, or -1 (EINVAL for a damaged one). */
int store_record_read(berth_image_store *s, const char *file, berth_image **ret, berth_error **err);

#endif
