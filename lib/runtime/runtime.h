/* lib/runtime: turn a ContainerSpec into an isolated process, as crun or
 * runc do for an OCI bundle, with no daemon.
 *
 * berth_container_create() validates the spec, creates the cgroup, clones
 * the init into new pid, mount, uts, ipc, net (unless host) and cgroup
 * namespaces (user namespace optional), sets up its root filesystem,
 * devices, masks, capabilities, seccomp and user, and execs the command.
 * The command is exec'd through a tiny stub held in a sealed memfd
 * (CVE-2019-5736: /proc/self/exe can never reach a host binary).
 * It returns once the command was exec'd, or with the child's real error
 * ("exec /nonexistent: No such file or directory") and nothing left behind:
 * no cgroup, no mount (all mounts live in the container's own mount
 * namespace), no overlay directories.
 *
 * The caller is the container's parent: it reaps it (berth_container_wait)
 * and removes what is left (berth_container_remove_step, from an event
 * loop through runtime/removal.h; berth_container_destroy where there is
 * none). Not thread-safe. */
#ifndef BERTH_RUNTIME_RUNTIME_H
#define BERTH_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "cgroup.h"
#include "spec/spec.h"

typedef struct berth_runtime_config {
    /* cgroup parent of every container, absolute from the hierarchy root
     * (default "/berth"): the container's cgroup is <parent>/<id>. */
    const char *cgroup_parent;
    /* Where `image: NAME` is found (default /var/lib/berth/images). */
    const char *image_store;
    /* cgroup mount root (default /sys/fs/cgroup). */
    const char *cgroup_root;
    /* cgroup_parent is the caller's own delegated cgroup (a monitor's
     * systemd scope): the caller steps aside into its leaf before it makes
     * a container's cgroup there (cgroup.h: berth_cgroup_step_aside). */
    bool cgroup_delegated;
} berth_runtime_config;

typedef struct berth_runtime berth_runtime;

/* Detect the cgroup layout and keep the configuration (strings copied). */
int berth_runtime_new(const berth_runtime_config *cfg, berth_runtime **ret_rt, berth_error **err);
void berth_runtime_free(berth_runtime *rt);
berth_cgroup_driver *berth_runtime_cgroups(berth_runtime *rt);

typedef struct berth_create_opts {
    /* The container's private directory (created if missing). Image mode
     * puts the overlay upper, work and mount-point directories here; they
     * are removed by destroy and by a failed create. Required for image
     * mode, optional for rootfs mode. */
    const char *state_dir;
    /* fds that become the container's stdin, stdout and stderr (duplicated;
     * the caller keeps its own); -1 gives /dev/null. */
    int stdio[3];
    /* Kill the container's init when the calling thread exits (a
     * foreground `berthctl run`). Off: the container outlives its parent,
     * as a supervised one must. */
    bool die_with_parent;
    /* How long the init may take from clone to the exec of the command
     * (its mounts, a volume on a hung network filesystem); then it is
     * killed and the create fails with ETIMEDOUT. 0: 60 s. */
    int start_timeout_ms;
    /* A pulled image: its layer directories, absolute, the lowest first
     * (ImageConfig.layers), overlaid read-only under the container's own
     * layer; spec->image then only names it. None: spec->image is a
     * directory image of the runtime's image_store. */
    char *const *image_layers;
    size_t n_image_layers;
    /* A container of a pod of several: the pod's sandbox directory
     * (runtime/sandbox.h). The container joins its network (unless the
     * spec has the host's), IPC and UTS namespaces, and its PID namespace
     * when it holds one, in place of new ones; its hostname is the pod's. */
    const char *sandbox_dir;
    /* Where the spec's emptyDir volumes (MOUNT_EMPTY_DIR) are made (each
     * once, kept: the pod's, or the container's own); a volume of medium
     * Memory gets a tmpfs there, which berth_volumes_release unmounts. */
    const char *volumes_dir;
    /* Where the agent projected the spec's Secret and ConfigMap volumes
     * (MOUNT_CONFIG): <config_dir>/<volume>, each bound read-only (the
     * directory, so that the agent's swap of its ..data link reaches the
     * running container). */
    const char *config_dir;
    /* spec seccomp SECCOMP_LOCALHOST: the profile's file (OCI JSON), which
     * the node resolved from spec.seccomp_profile. */
    const char *seccomp_profile_path;
    /* spec.termination_message_path: the host file bound there (made by
     * the caller). */
    const char *termination_log;
    /* The devices the node resolved for the container (lib/cdi: CDI's
     * container edits and host devices): each node made in its /dev (the
     * host node's mode and owner where the edit gives none; bound from
     * the host in a user namespace) and allowed by its device cgroup,
     * each mount made after the spec's. Its env is the caller's to put in
     * the spec's (so that an exec gets it too). Its hooks run as
     * runtime-spec says: prestart and createRuntime in the host's
     * namespaces once the init is set up, before its pivot_root,
     * createContainer there in its mount namespace, startContainer in the
     * container before the command's exec (its failure fails the create),
     * poststart after it, poststop once berth_container_remove_step is
     * done (their failures are not the create's, but warnings:
     * berth_container_take_warning). Each gets the state JSON on stdin;
     * the bundle is state_dir (required with hooks), where a config.json
     * names the root. Must outlive the container. NULL: none. */
    const DeviceEdits *devices;
    /* A terminal for the init's stdin, stdout and stderr (stdio ignored):
     * a pts of the container's own devpts, its controlling terminal; the
     * master is the caller's (berth_container_take_console). */
    bool console;
} berth_create_opts;

typedef struct berth_container berth_container;

int berth_container_create(berth_runtime *rt, const berth_spec *spec, const berth_create_opts *opts,
                           berth_container **ret_c, berth_error **err);
/* opts.console's master (non-blocking is the caller's to set), once: -1
 * after, or without one. */
int berth_container_take_console(berth_container *c);

/* How a container ended. */
typedef struct berth_exit {
    int exit_code;       /* the code, or 128 + signal when killed */
    int signal;          /* the killing signal, 0 when it exited */
    bool oom_killed;     /* the kernel OOM-killed a process of the container */
    int64_t started_ns;  /* CLOCK_REALTIME, when the command was exec'd */
    int64_t finished_ns; /* CLOCK_REALTIME, when it was reaped */
} berth_exit;

/* Why a poststart or poststop hook failed (runtime-spec: a warning, the
 * container goes on), once: the caller's (free), NULL when none did. */
char *berth_container_take_warning(berth_container *c);

pid_t berth_container_pid(const berth_container *c);
/* A pidfd of the init (owned by the container; poll it for exit). */
int berth_container_pidfd(const berth_container *c);
const char *berth_container_id(const berth_container *c);
berth_cgroup *berth_container_cgroup(berth_container *c);
int64_t berth_container_started_ns(const berth_container *c);

/* Send sig to the init (through the pidfd: never to a recycled pid). */
int berth_container_signal(berth_container *c, int sig, berth_error **err);
/* SIGKILL everything in the container's cgroup. */
int berth_container_kill_all(berth_container *c, berth_error **err);

/* Reap the init. Blocking unless nohang; returns 1 and fills *ret_exit
 * when it was reaped, 0 when nohang and it still runs. Reaping twice
 * returns the same record. */
int berth_container_wait(berth_container *c, bool nohang, berth_exit *ret_exit, berth_error **err);

/* Run argv[0..argc) inside the running container c (created from spec),
 * as `runc exec` does: in all its namespaces (joined through the init's
 * pidfd, so never a recycled pid's), its cgroup, with the spec's user,
 * capabilities, no_new_privs, seccomp, environment and working directory,
 * exec'd through the sealed stub. stdio as in berth_create_opts (NULL: all
 * /dev/null). BLOCKS until the command was exec'd, or with its exec error
 * (event loops use the steps below). *ret_pid is a child of the caller,
 * which reaps it; its exit status is the command's (128+N for signal N).
 * SIGTERM to it kills the command and reaps it (exit 137); SIGKILL kills
 * the command too (parent-death signal) but may leave it to the
 * container's init to reap. */
int berth_container_exec(berth_container *c, const berth_spec *spec, size_t argc, char *const *argv,
                         const int stdio[3], pid_t *ret_pid, berth_error **err);

/* The same in steps, for event loops, which must not wait for the command
 * to get going (it joins the container's cgroup first: a frozen container
 * holds it there). start forks and lets the child go, without waiting;
 * berth_exec_fd becomes readable once the command was exec'd or failed,
 * and berth_exec_finish says which: 1 exec'd, 0 not yet, -1 its error.
 * From a successful start on, the child (berth_exec_pid) is the caller's
 * to reap, whatever finish says; SIGTERM to it, as above. Free the handle
 * (the sync socket) once done with it: it neither stops nor reaps. */
typedef struct berth_exec berth_exec;
/* flags: stdin is a terminal (the container's own: a pts of its devpts),
 * made the command's controlling terminal; the command leads its session,
 * so the terminal's hangup and its ^C reach it. */
#define BERTH_EXEC_TTY 1u
int berth_container_exec_start(berth_container *c, const berth_spec *spec, size_t argc,
                               char *const *argv, const int stdio[3], unsigned flags,
                               berth_exec **ret_exec, berth_error **err);
int berth_exec_fd(const berth_exec *x);
pid_t berth_exec_pid(const berth_exec *x);
int berth_exec_finish(berth_exec *x, berth_error **err);
void berth_exec_free(berth_exec *x);

/* One step of removing what the container leaves: SIGKILL whatever still
 * runs and reap the init if it has exited, then a step of removing its
 * cgroup (berth_cgroup_remove_step), then its overlay directories. Never
 * blocks. 1: all gone; 0: not yet, call again later (an event loop does
 * it from a timer: runtime/removal.h); -1: failed. Safe to call again once
 * done and after a failed wait. */
int berth_container_remove_step(berth_container *c, berth_error **err);

/* BLOCKING: berth_container_remove_step until it is done, sleeping between
 * steps (at most 5 s). Only for programs without an event loop (berthctl
 * run in the foreground, tests); see berth_cgroup_destroy. */
int berth_container_destroy(berth_container *c, berth_error **err);

/* Unmount the tmpfs of the Memory volumes in volumes_dir (before it is
 * removed, its containers gone). Missing is fine. */
int berth_volumes_release(const char *volumes_dir, berth_error **err);

/* Frees memory and fds; does not stop the container. NULL is fine. */
void berth_container_free(berth_container *c);

#endif
