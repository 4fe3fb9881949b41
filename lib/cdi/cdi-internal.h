/* lib/cdi's insides: one spec file as read (spec.c), and the helpers the
 * registry (cdi.c) and host devices (device.c) share for building and
 * merging DeviceEdits. */
#ifndef BERTH_CDI_CDI_INTERNAL_H
#define BERTH_CDI_CDI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "cdi.h"

/* The caps of the header's contract. */
#define CDI_FILE_MAX    ((size_t)1 << 20)
#define CDI_FILES_MAX   1024
#define CDI_DEVICES_MAX 4096

/* Append v to the malloc'd array arr of n items (protobuf-c frees such
 * arrays with free()). */
#define CDI_APPEND(arr, n, v)                                                                      \
    do {                                                                                           \
        (arr) = berth_xreallocarray((arr), (n) + 1, sizeof(*(arr)));                               \
        (arr)[(n)++] = (v);                                                                        \
    } while (0)

typedef struct cdi_device {
    char *name;         /* fully qualified: "vendor.com/class=name" */
    DeviceEdits *edits; /* as the file gives them; never empty */
    struct cdi_spec *spec;
} cdi_device;

/* A spec file taken whole. */
typedef struct cdi_spec {
    char *path;
    char *kind;
    DeviceEdits *edits; /* spec level: for each device of it asked for, once */
    cdi_device *devices;
    size_t n_devices;
} cdi_spec;

/* Read and check the spec file at path. On failure err's message is the
 * problem line ("PATH: reason", or the YAML reader's "PATH:L:C: ..."
 * errors joined with "; "). */
int cdi_spec_read(const char *path, cdi_spec **ret_spec, berth_error **err);
void cdi_spec_free(cdi_spec *s);
BERTH_DEFINE_CLEANUP(cdi_spec, cdi_spec_free)

/* A non-empty subset of "rwm", each letter at most once (as the device
 * cgroup and podman take it). */
bool cdi_permissions_valid(const char *p);

/* stat(2) of a host node: a character or block device, or with
 * allow_fifo a FIFO. *ret_type gets 'c', 'b' or 'p'. Errors name the
 * path: "/dev/nope: No such file or directory", "/etc/passwd is not a
 * device" (EINVAL). */
int cdi_stat_node(const char *path, bool allow_fifo, struct stat *ret_st, char *ret_type,
                  berth_error **err);

/* Move everything of from into into, leaving from empty: an env entry of
 * a NAME into has replaces it, a node or mount of a container path into
 * has replaces it (in its place), hooks are appended, device names are
 * appended unless into has them. Never fails. */
void cdi_edits_merge(DeviceEdits *into, DeviceEdits *from);

/* A new, empty DeviceEdits on the heap (free with BERTH_PB_FREE). */
DeviceEdits *cdi_edits_new(void);

#endif
