/* lib/runtime/sandbox: a pod's sandbox, what the containers of a pod of
 * several share and what outlives any one of them: its network, IPC and
 * UTS namespaces (held by bind mounts of their namespace files in the
 * sandbox directory, as CRI-O's pinns holds them: no process needed), its
 * PID namespace when the pod shares one (held by a pause process as its
 * pid 1, Kubernetes' shareProcessNamespace) and its cgroup, the parent of
 * the containers' cgroups. A container joins it through
 * berth_create_opts.sandbox_dir.
 *
 *   <dir>/net, ipc, uts   bind mounts of the namespaces (net: not with
 *                         the host's network)
 *   <dir>/pid             the pause's PID namespace (shared PID only)
 *   <dir>/pause           "<pid> <start time>" of the pause
 *   <dir>/volumes/<name>  the pod's emptyDir volumes (berth_create_opts)
 *   <dir>/hosts,          with a pod network: the pod's /etc files (its
 *   <dir>/resolv.conf     owner writes them), bound read-only in each
 *                         container that joins it
 *
 * The pause runs the exec stub as berth-pause from a sealed memfd, in its
 * own mount namespace on an empty read-only root, as uid and gid 65535
 * with no capabilities and no_new_privs, in the cgroup <pod>/pause: the
 * pod's containers see it as their pid 1 and can reach nothing of the host
 * through it. Not thread-safe; every call returns at once (the helper
 * processes it forks are gone when it returns, but the pause). */
#ifndef BERTH_RUNTIME_SANDBOX_H
#define BERTH_RUNTIME_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "cgroup.h"

#define BERTH_SANDBOX_PAUSE_UID 65535
#define BERTH_SANDBOX_HOSTS     "hosts"
#define BERTH_SANDBOX_RESOLV    "resolv.conf"

typedef struct berth_sandbox_opts {
    const char *dir;         /* the sandbox directory (created, 0700) */
    const char *hostname;    /* set in the UTS namespace */
    bool host_network;       /* the host's network: no network namespace */
    bool share_pid;          /* a PID namespace for the pod, with a pause */
    const char *cgroup_path; /* the pod's cgroup ("/berth/web-0") */
    /* the pod's limits (NULL: none), on its cgroup */
    const berth_cgroup_limits *limits;
    /* The pod's cgroup is the caller's to make, with its limits, and to
     * remove (systemd's driver: a slice): the sandbox does neither. */
    bool cgroup_external;
    /* Puts the pause (pid) where it belongs; NULL: into the cgroup
     * <cgroup_path>/pause, made here. On failure the pause is killed. */
    int (*place_pause)(pid_t pid, void *data, berth_error **err);
    void *place_data;
} berth_sandbox_opts;

/* Make the sandbox: its cgroup, namespaces and pause. EEXIST: a sandbox
 * or a cgroup of that name is there (remove it first; nothing was
 * touched). On other failures what was made is being removed:
 * berth_sandbox_remove_step finishes it (the first step, already taken
 * here, mostly does). */
int berth_sandbox_create(berth_cgroup_driver *d, const berth_sandbox_opts *o, berth_error **err);

/* Whether the sandbox at dir is whole: each namespace file o asks for is a
 * namespace, and the pause lives. False after a reboot, when the pause
 * died, or when dir is not one. *ret_why says what is wrong (static). */
bool berth_sandbox_whole(const berth_sandbox_opts *o, const char **ret_why);

/* A pidfd of the sandbox's pause (the caller closes it), to learn of its
 * death: ENOENT when it has none or it is gone. */
int berth_sandbox_pause_pidfd(const char *dir, int *ret_pidfd, berth_error **err);

/* One step of removing the sandbox at dir with cgroup cgroup_path (its
 * containers must be gone): SIGKILL the pause, unmount the namespaces,
 * remove the cgroups (none with cgroup_path NULL: an external one) and the
 * directory. Never blocks. 1: all gone (also
 * when nothing was there); 0: not yet (a cgroup still busy: call again
 * later); -1: failed. */
int berth_sandbox_remove_step(berth_cgroup_driver *d, const char *dir, const char *cgroup_path,
                              berth_error **err);

#endif
