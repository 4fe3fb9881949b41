/* The node's devices: its CDI spec files (lib/cdi), read again when they
 * change (inotify on the directories, settled for a moment), the
 * extended resources they make (a count per CDI kind) and which container
 * holds which CDI device, so that no device is handed out twice. Who
 * holds what is not kept here on disk: each container's plan names its
 * devices, and containers_open gives them back (devices_hold) when it
 * re-adopts. One loop, not thread-safe. */
#ifndef BERTHD_DEVICES_H
#define BERTHD_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "cdi/cdi.h"

typedef struct devices devices;

/* The extended resources changed (a spec file came, went or changed what
 * it defines): the node registers them again. */
typedef void (*devices_changed_fn)(void *data);

/* Read the spec files of dirs[0..n) and watch the directories (a missing
 * one through its parent, until it comes). Problems of spec files are
 * logged as warnings, each once. */
int devices_open(berth_loop *loop, char *const *dirs, size_t n, devices_changed_fn changed,
                 void *data, devices **ret, berth_error **err);
void devices_close(devices *d);

/* The registry as last read (valid until the next change). */
const berth_cdi *devices_cdi(const devices *d);

/* The kinds the node has and how many devices of each: *ret_kinds (sorted,
 * valid until the next change) and counts[i] into a new array. */
size_t devices_capacity(const devices *d, const char *const **ret_kinds, int64_t **ret_counts);

/* How many devices of kind nobody holds. */
int64_t devices_free(const devices *d, const char *kind);

/* Pick n devices of kind nobody holds (in name order) for holder: their
 * names into *ret_names (new strings, a new array). ENOSPC when fewer are
 * free ("Allocate failed due to requested number of devices unavailable
 * for KIND. Requested: N, Available: M", the kubelet's words); ERANGE
 * when the node has fewer than n of the kind at all, ENOENT none. Nothing
 * held on failure. */
int devices_allocate(devices *d, const char *holder, const char *kind, int64_t n, char ***ret_names,
                     berth_error **err);
/* Record that holder holds name (a re-adopted container's plan). false
 * when another holds it (which keeps it). */
bool devices_hold(devices *d, const char *holder, const char *name);
/* Whatever holder holds is free again. */
void devices_release(devices *d, const char *holder);
/* Who holds name (NULL: nobody). */
const char *devices_holder(const devices *d, const char *name);

#endif
