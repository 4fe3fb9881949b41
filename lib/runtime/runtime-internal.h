/* Private to lib/runtime: the runtime object, the plan the parent resolves
 * for the child, and the child-side steps (one file per concern). */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime.h"

struct berth_runtime {
    berth_cgroup_driver *cgroups;
    char *cgroup_parent;
    bool cgroup_delegated; /* berth_runtime_config's */
    char *image_store;
    /* The compiled default seccomp filter, cached per capability set:
     * compiling takes longer than a container start should. */
    bool seccomp_cached;
    uint64_t seccomp_caps;
    struct sock_fprog seccomp_prog;
    /* Sealed memfd holding berth-exec (exec-stub.c), made once. */
    int stub_fd;
};

/* The stub's bytes, embedded at build time (exec-stub-blob.c). */
extern const unsigned char berth_exec_stub[];
extern const size_t berth_exec_stub_len;

/* A device node the child makes (DeviceEdits.nodes, checked and completed
 * by the parent: the host node's mode and owner where the edit has none). */
typedef struct child_device {
    const char *path;      /* in the container, under /dev */
    const char *host_path; /* bound in place of a mknod in a user namespace */
    mode_t mode;           /* S_IFCHR, S_IFBLK or S_IFIFO, and the permissions */
    dev_t rdev;
    uid_t uid;
    gid_t gid;
} child_device;

/* Everything the child needs, resolved by the parent before clone; the
 * child only reads it (its copy-on-write copy). */
typedef struct child_plan {
    const berth_spec *spec;
    const berth_cgroup_driver *cgroups;
    int sync_fd;
    int stdio[3];
    /* The directory that becomes /: the spec's rootfs, or the overlay
     * mount point (then lowers/upper/work are set; lowers the lowest
     * first). */
    const char *rootfs_dir;
    char *const *overlay_lowers;
    size_t n_overlay_lowers;
    const char *overlay_upper;
    const char *overlay_work;
    uint64_t caps;
    const struct sock_fprog *seccomp; /* NULL: unconfined */
    bool userns;
    bool new_netns;
    /* The host directories of the spec's emptyDir mounts, by mount index
     * (NULL: none). */
    char *const *empty_dirs;
    /* The host file bound at spec.termination_message_path (NULL: none). */
    const char *termination_log;
    /* A pod on the pod network: its sandbox's hosts and resolv.conf, bound
     * read-only at /etc/hosts and /etc/resolv.conf (NULL: none). */
    const char *hosts_file, *resolv_file;
    /* Its devices (berth_create_opts.devices): nodes made in its /dev,
     * mounts bound after the spec's. */
    const child_device *devices;
    size_t n_devices;
    DeviceMount *const *device_mounts;
    size_t n_device_mounts;
    /* Their hooks: startContainer run by the child after pivot_root;
     * hook_point: the child stops before pivot_root for the parent to run
     * prestart, createRuntime and createContainer. */
    const DeviceEdits *hooks;
    const char *hook_bundle;
    bool hook_point;
    /* A pod's container: the sandbox's namespaces to join in place of new
     * ones (-1: a new one). */
    int join_net, join_ipc, join_uts;
    char **argv;
    char **envp;
    /* execveat(stub_fd) with stub_argv: "berth-exec", SYNC_FD, PATH, then
     * argv; the child fills in PATH (stub_argv[2]) after the PATH lookup. */
    int stub_fd;
    char **stub_argv;
    const char *hostname;
    const char *workdir;
    uid_t uid;
    gid_t gid;
    bool die_with_parent;
    /* exec: stdin is a terminal, to become the command's controlling one */
    bool tty;
    /* the init: a terminal of the container's devpts for its stdio, whose
     * master goes to the parent on the sync socket (CHILD_CONSOLE) */
    bool console;
} child_plan;

/* The sync socket's records: [int code][kind][text]. An error, the
 * console's master fd (SCM_RIGHTS) with kind CHILD_CONSOLE, or (kind
 * CHILD_HOOKS) that the child is set up and waits, before pivot_root, for
 * its createRuntime and createContainer hooks and then a go. */
#define CHILD_CONSOLE 2
#define CHILD_HOOKS   3

/* hooks.c: the state a hook reads (runtime-spec's state.json). */
typedef struct runtime_hook_state {
    const char *id;
    const char *status; /* creating, created, running, stopped */
    pid_t pid;          /* the init, as the host sees it */
    const char *bundle; /* NULL: "/" */
} runtime_hook_state;
/* Whether e has a hook named which ("createRuntime"...). */
bool runtime_hooks_have(const DeviceEdits *e, const char *which);
/* Run e's hooks named which, in order, each waited for (its timeout, else
 * default_timeout_ms; 0: none), with default signals; ns_pidfd >= 0:
 * each in that process's mount, network, IPC and UTS namespaces. The
 * first that fails (exit status, signal, timeout, exec) is the error
 * ("createRuntime: hook /x: exit status 1: its stderr"). */
int runtime_hooks_run(const DeviceEdits *e, const char *which, const runtime_hook_state *st,
                      int ns_pidfd, int default_timeout_ms, berth_error **err);
/* The hooks' bundle: the directory dir (made), with a config.json of the
 * little of an OCI runtime config hooks read (NVIDIA's find the root
 * there): ociVersion, process (args, env, cwd), root (path: the
 * container's root before pivot_root, readonly), hostname. *ret_path:
 * the file, for its removal. */
int runtime_hooks_bundle(const char *dir, const child_plan *p, char **ret_path, berth_error **err);

/* devices.c: check the edits' nodes and mounts, and complete the nodes
 * (the host node's mode and owner where the edit gives none): *ret_devs
 * (e->n_nodes of them) for the child, *ret_rules for the device cgroup
 * (a FIFO has none). Both malloc'd. */
int runtime_plan_devices(const DeviceEdits *e, child_device **ret_devs,
                         berth_cgroup_device **ret_rules, size_t *ret_n_rules, berth_error **err);

/* container.c: the exec stub in a new sealed memfd (close-on-exec). */
int runtime_make_stub(int *ret_fd, berth_error **err);

/* volume.c: make the emptyDir volumes of spec in volumes_dir (a tmpfs on
 * those of medium Memory), and find its Secret and ConfigMap volumes in
 * config_dir (ENOENT when one is not there); *ret_paths[i] is the host
 * directory of spec->mounts[i] when it is one (NULL: none). Free with
 * runtime_empty_dirs_free(paths, spec->n_mounts). */
int runtime_empty_dirs(const berth_spec *spec, const char *volumes_dir, const char *config_dir,
                       char ***ret_paths, berth_error **err);
void runtime_empty_dirs_free(char **paths, size_t n);

/* child.c: bring the loopback interface of the current network
 * namespace up. */
int runtime_loopback_up(berth_error **err);

/* container.c: the error of a removal (berth_container_remove_step) still
 * not done after waited_ms (EBUSY), saying what holds it up. Returns -1. */
int container_busy_error(berth_container *c, int waited_ms, berth_error **err);

/* child.c: no signal blocked, every handler the default (a child's, before
 * its exec). */
void runtime_reset_signals(void);

/* child.c: runs in the cloned child; never returns. */
__attribute__((noreturn)) void child_run(const child_plan *p);
/* child.c: runs in a forked child of berth_container_exec: joins the
 * namespaces ns_flags of the container whose init pidfd is given, waits for
 * the parent's go (after it moved us into the cgroup), forks the command
 * into the pid namespace and exits with its status. Never returns. */
__attribute__((noreturn)) void child_exec_run(const child_plan *p, int pidfd, int ns_flags);

/* mount.c, in the child. mount_prepare: private propagation, the root,
 * /proc, /sys, /dev, the spec's mounts, masks and read-only paths; returns
 * an O_PATH fd of the root. It does not need the cgroup, so it runs while
 * the parent moves the child into it. mount_finish (in the cgroup and its
 * namespace): the cgroup filesystem, pivot_root, the read-only remount of /
 * when asked. */
int mount_prepare(const child_plan *p, int *ret_rootfd, berth_error **err);
int mount_finish(const child_plan *p, int rootfd, berth_error **err);

/* caps.c: drop the bounding set to caps, switch to uid/gid with
 * additional gids, and set the final capability sets. */
int caps_apply_and_switch_user(const child_plan *p, berth_error **err);

/* seccomp.c: compile the default profile for a capability set into a
 * classic BPF program (malloc'd filter in ret->filter). */
int seccomp_compile_default(uint64_t caps, struct sock_fprog *ret, berth_error **err);
/* The default profile for the default capabilities, compiled at build
 * time (seccomp-default.c, generated by seccomp-gen.c). */
extern const uint64_t seccomp_default_caps;
extern const struct sock_fprog seccomp_default_prog;
/* Install a compiled filter in this thread (TSYNC not needed: the child is
 * single-threaded). */
int seccomp_install(const struct sock_fprog *prog, berth_error **err);
/* seccomp-oci.c: compile the profile in file path (OCI's linux.seccomp
 * JSON: defaultAction, defaultErrnoRet, architectures, syscalls with
 * names, action, errnoRet and args) into *ret (filter malloc'd). */
int seccomp_compile_oci(const char *path, struct sock_fprog *ret, berth_error **err);
/* seccomp.c: ctx as a program (filter malloc'd); ctx is released. */
int seccomp_export(void *ctx, struct sock_fprog *ret, berth_error **err);

#endif
