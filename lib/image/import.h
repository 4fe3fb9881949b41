/* lib/image: images from files instead of a registry: a `docker save`
 * archive (manifest.json, a config and an uncompressed tar per layer) or
 * an OCI image layout (oci-layout, index.json, blobs/sha256/), either as
 * a directory or as a tar (plain, gzip or zstd). Every blob is checked
 * against its digest before it is used; layers are unpacked into the store
 * like pulled ones (once each, shared), and each image is recorded under
 * its name: docker save's RepoTags, an OCI entry's io.containerd.image.name
 * or org.opencontainers.image.ref.name; a name that is only a tag takes
 * its repository from opts->name.
 *
 * Blocks (disk, CPU). A tar is unpacked into the store's tmp/ first and
 * removed afterwards. */
#ifndef BERTH_IMAGE_IMPORT_H
#define BERTH_IMAGE_IMPORT_H

#include <stddef.h>

#include "base/error.h"
#include "image/oci.h"
#include "image/store.h"

#define BERTH_IMPORT_IMAGES_MAX 256

typedef struct berth_image_import_opts {
    /* the repository of images named by a tag only (an OCI layout written
     * by `skopeo copy ... oci:DIR:TAG`), or of images with no name at all
     * (then tagged latest): "localhost/app" */
    const char *name;
    const berth_oci_platform *platform; /* an index's pick; NULL: this machine's */
} berth_image_import_opts;

/* Import every image of path into s. *ret (NULL-terminated, the images
 * recorded, in the archive's order; berth_image_list_free with *ret_n).
 * Nothing is recorded unless every image of the archive is good. */
int berth_image_import(berth_image_store *s, const char *path, const berth_image_import_opts *opts,
                       berth_image ***ret, size_t *ret_n, berth_error **err);

#endif
