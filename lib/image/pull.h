/* lib/image: pulling an image into the store: resolve the reference on its
 * registry (or mirrors), pick this platform's manifest from an index,
 * fetch the config and each layer not yet in the store, check every
 * digest and size, unpack each layer once, then record the image. What
 * part of it a concurrent pull (another process) is doing is waited for,
 * not done twice; what an interrupted pull left is resumed.
 *
 * Blocks for the whole pull (network, disk, CPU): call it from a process
 * that may block (berthctl, berth-pull), never from an event loop. Layers
 * download one at a time and unpack in threads of the pull's own while the
 * next ones download; all have ended when it returns. The progress
 * callback runs in the caller's thread. */
#ifndef BERTH_IMAGE_PULL_H
#define BERTH_IMAGE_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "image/client.h"
#include "image/oci.h"
#include "image/ref.h"
#include "image/store.h"

typedef enum berth_image_phase {
    BERTH_IMAGE_RESOLVING,   /* asking for the manifest */
    BERTH_IMAGE_DOWNLOADING, /* blobs arriving: done/total bytes */
    BERTH_IMAGE_UNPACKING,   /* a layer being unpacked: layer of n_layers */
    BERTH_IMAGE_DONE,
} berth_image_phase;

typedef struct berth_image_progress {
    const char *ref; /* normalized */
    berth_image_phase phase;
    int64_t done, total; /* bytes of the blobs this pull fetches: arrived (or already held), all */
    size_t layer, n_layers; /* layers in place, of the image's */
} berth_image_progress;

/* At most every 100 ms while bytes arrive, and at every change of phase. */
typedef void (*berth_image_progress_fn)(const berth_image_progress *p, void *data);

/* Layers unpacked at once, at most. */
#define BERTH_IMAGE_UNPACKERS_MAX 4

typedef struct berth_image_pull_opts {
    berth_registry_opts registry; /* registries.yaml, retries, timeouts */
    /* layers unpacked at once (threads); 0: one per CPU, at most
     * BERTH_IMAGE_UNPACKERS_MAX */
    int unpackers;
    const berth_oci_platform *platform; /* NULL: this machine's (berth_oci_platform_host) */
    berth_image_progress_fn progress;   /* NULL: none */
    void *progress_data;
} berth_image_pull_opts;

/* Pull ref into s. *ret (may be NULL) is the image recorded. Errors name
 * the reference and what the registry said: "pull 127.0.0.1:5000/app:v1:
 * 127.0.0.1:5000: manifest unknown", "... 401 unauthorized ...",
 * "... blob sha256:...: digest mismatch". Nothing of a failed pull is
 * visible; a download that broke off is resumed by the next pull. */
int berth_image_pull(berth_image_store *s, const char *ref, const berth_image_pull_opts *opts,
                     berth_image **ret, berth_error **err);

/* The image for ref under a pull policy, as kubelet does it: Never takes
 * only what the store has (ENOENT "... not present, and the pull policy is
 * Never"), IfNotPresent pulls when the store lacks it (or a layer of it),
 * Always asks the registry every time (fetching only what changed).
 * *ret_pulled (may be NULL) says whether the registry was asked. */
int berth_image_ensure(berth_image_store *s, const char *ref, berth_pull_policy policy,
                       const berth_image_pull_opts *opts, berth_image **ret, bool *ret_pulled,
                       berth_error **err);

#endif
