/* lib/image: one layer's tar stream unpacked into a directory, with
 * libarchive, the way overlayfs wants a layer:
 *
 * - OCI whiteouts become overlayfs whiteouts: ".wh.NAME" a character
 *   device 0:0 named NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y
 *   on its directory; other ".wh..wh.*" (AUFS metadata) are skipped.
 * - Refused, failing the whole layer: absolute paths, any ".." component,
 *   an entry whose parent is reached through a symlink, a hard link whose
 *   target is not an earlier entry of this layer (so, out of it), device
 *   nodes when not root, more than BERTH_LAYER_ENTRIES_MAX entries.
 *   Everything is created relative to the layer's directory fd
 *   (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), never by joining
 *   strings, so nothing is ever written outside it. Symlinks themselves
 *   may point anywhere: they are resolved in the container's root.
 * - Owners, modes (setuid included), times, xattrs user.* and
 *   security.capability are kept (owners only as root); trusted.overlay.*
 *   from the archive is dropped (a layer must not steer overlayfs).
 *   Directories get their modes and times after their contents.
 * - Compression: gzip, zstd or none, told from the data (no external
 *   program is ever run). The uncompressed stream is hashed: its digest is
 *   the layer's diff id, which the caller compares with the config's.
 *
 * Blocks (CPU, disk). A failure leaves whatever was written in the
 * directory: the caller unpacks into a temporary directory and removes it. */
#ifndef BERTH_IMAGE_LAYER_H
#define BERTH_IMAGE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "image/digest.h"

#define BERTH_LAYER_ENTRIES_MAX 1000000

typedef struct berth_layer_stats {
    uint64_t entries;
    int64_t bytes;                      /* regular files' sizes */
    char diff_id[BERTH_DIGEST_LEN + 1]; /* sha256 of the uncompressed tar */
} berth_layer_stats;

/* Unpack the layer read from fd (from its current offset to its end) into
 * the directory dirfd. */
int berth_layer_unpack_fd(int fd, int dirfd, berth_layer_stats *ret, berth_error **err);
/* The same from memory (the fuzz target). */
int berth_layer_unpack_mem(const void *data, size_t len, int dirfd, berth_layer_stats *ret,
                           berth_error **err);

#endif
