/* OCI image layouts for the image tests: one image of the given layers
 * (each built by a function, gzip-compressed in the layout), with a
 * config saying Entrypoint, Cmd, Env and the diff ids. */
#ifndef BERTH_TEST_LAYOUT_H
#define BERTH_TEST_LAYOUT_H

#include <stddef.h>

#include "image/digest.h"
#include "tarbuild.h"

typedef void (*layer_fn)(tarb *t);

/* Write (or add to) the layout at dir: an image named name (its
 * org.opencontainers.image.ref.name) of n layers. ret_diff_ids (may be
 * NULL) gets each layer's diff id. */
void layout_write(const char *dir, const char *name, const layer_fn *layers, size_t n,
                  char (*ret_diff_ids)[BERTH_DIGEST_LEN + 1]);

#endif
