/* lib/image: a pulled image as a container uses it (berth.v1.ImageConfig):
 * its layer directories, Entrypoint, Cmd, Env, WorkingDir, User resolved
 * in the image's /etc/passwd and /etc/group, StopSignal. What berth-pull
 * hands berthd, and what `berthctl run --image` runs. */
#ifndef BERTH_IMAGE_CONTAINER_H
#define BERTH_IMAGE_CONTAINER_H

#include "base/error.h"
#include "berth/proto/v1.h"
#include "image/store.h"

/* The ImageConfig of img (from the store s): a new message in *ret
 * (BERTH_PB_FREE). A User the image cannot resolve is no error here:
 * user_resolved false and user_error say why (a spec may set its own
 * user). */
int berth_image_container_config(berth_image_store *s, const berth_image *img, ImageConfig **ret,
                                 berth_error **err);

#endif
