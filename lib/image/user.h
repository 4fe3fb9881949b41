/* lib/image: an image's User ("nginx", "101", "101:101", "app:staff") made
 * into ids, as runc and containerd do it: names through the image's own
 * /etc/passwd and /etc/group (read from its layers, the topmost that has
 * the file, never outside a layer), numbers as they are. */
#ifndef BERTH_IMAGE_USER_H
#define BERTH_IMAGE_USER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_IMAGE_USER_GIDS_MAX 64

typedef struct berth_image_user {
    uint32_t uid, gid;
    /* the groups of /etc/group that list the user by name */
    uint32_t gids[BERTH_IMAGE_USER_GIDS_MAX];
    size_t n_gids;
} berth_image_user;

/* Resolve user against the layers (absolute directories, the lowest
 * first). A uid without a group takes the passwd entry's group, else 0.
 * ENOENT for a name that is in neither file, saying which: "no user
 * nginx in the image's /etc/passwd"; EINVAL for a malformed user. */
int berth_image_user_resolve(char *const *layers, size_t n_layers, const char *user,
                             berth_image_user *ret, berth_error **err);

/* A signal as an image's StopSignal gives it ("SIGQUIT", "QUIT", "3"):
 * its number, or -1 when it is none. */
int berth_image_signal_parse(const char *s);

#endif
