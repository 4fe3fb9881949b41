/* lib/cdi: the Container Device Interface (the CNCF's CDI, spec versions
 * 0.1.0 to 0.6.0), as podman and containerd read it: the node's spec files
 * (JSON or YAML, *.json / *.yaml, in /etc/cdi and /var/run/cdi), their
 * devices by fully qualified name ("vendor.com/class=name"), and what a
 * device adds to a container (its "container edits": device nodes,
 * mounts, environment, hooks) resolved into a DeviceEdits. Host device
 * nodes given by path (docker run --device) resolve into the same.
 *
 * Contract:
 *
 * - A spec file is taken whole or not at all: one that does not parse, has
 *   a cdiVersion berth does not know (newer than 0.6.0), an invalid kind or
 *   device name, a field its version does not have, a device defined twice,
 *   or a device a file read before it in the same directory defines, is
 *   ignored and named in the registry's problems ("PATH: reason", with
 *   line:column where the YAML reader has one). A file of a later directory
 *   overrides an earlier one's device of the same name (CDI's priority:
 *   /var/run/cdi over /etc/cdi).
 * - Sizes are capped before anything is built: 1 MiB per file, 1024 files,
 *   4096 devices per file.
 * - Pure but for reading the directories (load) and stat(2) of host device
 *   nodes (resolve, host). Not thread-safe per object. */
#ifndef BERTH_CDI_CDI_H
#define BERTH_CDI_CDI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "berth/proto/v1.h"

/* /etc/cdi, then /var/run/cdi (the later takes precedence). */
extern const char *const berth_cdi_default_dirs[];
extern const size_t berth_cdi_default_dirs_len;

typedef struct berth_cdi berth_cdi;

/* Read every *.json and *.yaml file of dirs[0..n) (a missing directory is
 * empty), in name order per directory. Fails only when a directory exists
 * but cannot be read (its problems are then not known). */
int berth_cdi_load(const char *const *dirs, size_t n, berth_cdi **ret_cdi, berth_error **err);
void berth_cdi_free(berth_cdi *c);
BERTH_DEFINE_CLEANUP(berth_cdi, berth_cdi_free)

/* The files ignored and why, one "PATH: reason" each, in load order. */
size_t berth_cdi_problems(const berth_cdi *c, const char *const **ret_lines);

/* The kinds ("vendor.com/class") with at least one device, sorted
 * bytewise; each kind's devices by fully qualified name, sorted. */
size_t berth_cdi_kinds(const berth_cdi *c, const char *const **ret_kinds);
size_t berth_cdi_devices(const berth_cdi *c, const char *kind, const char *const **ret_names);
/* The spec file a device (fully qualified) comes from; NULL: none. */
const char *berth_cdi_device_file(const berth_cdi *c, const char *name);

/* A fully qualified device name: VENDOR/CLASS=NAME, VENDOR a domain-like
 * name ([A-Za-z0-9] at both ends, [A-Za-z0-9_.-] between), CLASS
 * [A-Za-z0-9] at both ends and [A-Za-z0-9_.-] between (CDI 0.6.0), NAME [A-Za-z0-9] at
 * both ends and [A-Za-z0-9_.:-] between. ret_kind (at least 256 bytes,
 * may be NULL) gets "VENDOR/CLASS". A kind alone (no "=NAME") is not a
 * device name. */
bool berth_cdi_name_parse(const char *name, char *ret_kind, size_t size);
/* Whether kind is a valid "VENDOR/CLASS". */
bool berth_cdi_kind_valid(const char *kind);

/* Append the edits of the devices names[0..n) (fully qualified, or
 * "VENDOR/CLASS=all": every device of the kind, unless a spec defines a
 * device named "all" itself, as nvidia-ctk's do) to out: for each spec
 * file involved its spec-level containerEdits once, then each device's,
 * and each name in out->cdi_devices (an =all expanded, sorted; a name
 * asked for twice once). A device node that does not give both its type
 * and its major (a FIFO: its type) takes what it lacks from stat(2) of its
 * hostPath (else its path) on this host, and a type it gives must be the
 * host node's (as specs-go's fillMissingInfo); its host_path defaults to
 * its path, its permissions to "rwm", its file_mode to 0 and uid/gid to
 * -1 (the host node's). An unknown name is
 * ENOENT: "unresolvable CDI device vendor.com/class=x" (with "(no CDI spec
 * defines kind vendor.com/class)" where that is why); a node that is not a
 * device, or that stat cannot find, the same with the reason. On failure
 * out is as it was. Within out, a later env entry of the same NAME
 * replaces an earlier one, and a later device node or mount of the same
 * container path replaces the earlier one. A device out->cdi_devices
 * already names is not added again (nor its spec's edits), so resolving
 * into the same out twice adds each device once. A malformed name is
 * EINVAL ("'x' is not a CDI device name (vendor.com/class=name)").
 *
 * out's members are malloc'd as protobuf-c's default allocator does: a
 * heap DeviceEdits is freed with BERTH_PB_FREE, one on the stack
 * (DEVICE_EDITS_INIT) with berth_cdi_edits_clear. */
int berth_cdi_resolve(const berth_cdi *c, char *const *names, size_t n, DeviceEdits *out,
                      berth_error **err);

/* Free every member of e (a DeviceEdits whose members resolve or host
 * built, the struct itself not freed: on the stack, or inside another
 * message) and leave it empty, as DEVICE_EDITS_INIT. NULL accepted. Fits
 * a cleanup attribute: `_cleanup_(berth_cdi_edits_clear) DeviceEdits e =
 * DEVICE_EDITS_INIT;`. */
void berth_cdi_edits_clear(DeviceEdits *e);

/* A host device node: host_path (absolute, a character or block device
 * after following symlinks: stat(2)) at container_path (NULL or "": the
 * same; absolute, under /dev unless it is elsewhere on purpose) with
 * permissions (NULL or "": "rwm"; a non-empty subset of "rwm"), appended to
 * out->nodes (type, major, minor, mode, uid, gid from the host node; a
 * node out has at the same container path is replaced, as in resolve) and
 * out->host_devices (once). EINVAL/ENOENT with the reason ("/dev/nope: No
 * such file or directory", "/etc/passwd is not a device"); out
 * unchanged. */
int berth_cdi_host_device(const char *host_path, const char *container_path,
                          const char *permissions, DeviceEdits *out, berth_error **err);

/* Docker's --device value as podman takes it: a CDI name (it has '=' and
 * passes berth_cdi_name_parse), or HOST[:CONTAINER][:PERMISSIONS] where a
 * second part that is a subset of "rwm" and not absolute is the
 * permissions. *ret (not freed first) gets new strings (name,
 * container_path, permissions; "" when not given), on success only; free
 * with berth_cdi_request_clear. EINVAL with the reason ("--device
 * /dev/fuse:rwx: permissions must be a subset of rwm"). */
int berth_cdi_parse_request(const char *arg, DeviceRequest *ret, berth_error **err);
void berth_cdi_request_clear(DeviceRequest *r);

#endif
