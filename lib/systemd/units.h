/* systemd's cgroup driver for berthd: transient units through systemd's
 * D-Bus API (org.freedesktop.systemd1.Manager.StartTransientUnit), as the
 * kubelet, runc and crun do with their "systemd" cgroup driver, so that on a
 * systemd host the node's workloads live in units systemd knows, accounts
 * and stops, not in berthd's own service:
 *
 *   berth.slice                          the node's workloads (cgroup_parent)
 *     berth-pod_<pod>.slice              a pod: its limits as properties
 *       berth-ctr-<id>.scope             a container's monitor (Delegate=yes);
 *         .berth-monitor                 inside it the monitor's leaf
 *         <id>                           and the container's cgroup
 *                                        (runtime/cgroup.h: step aside)
 *       berth-pause-<pod>.scope          the pause of a shared-PID pod
 *     berth-ctr-<id>.scope               a container outside any pod
 *
 * Unit names escape what is not [a-zA-Z0-9:_.] (and a leading dot) as
 * \xHH, as systemd-escape does but for "/" (which no id has): "web-0" is
 * "web\x2d0", so that a dash in an id never means a slice level.
 *
 * berthd talks to PID 1 over its private socket (/run/systemd/private, as
 * systemctl does as root), else over the system bus, connecting for each
 * call (PID 1 sends every client of its private socket all its signals:
 * a connection kept open would fill up between calls). Every call BLOCKS
 * for its round trips to PID 1, each bounded by
 * BERTH_SYSTEMD_CALL_TIMEOUT_MS, and for the start job when told to wait
 * (a slice's or a pause's job ends at once: nothing to wait for but PID 1
 * itself). A monitor's scope is started, and waited for, in the monitor's
 * own process before its exec, never in berthd's loop. Not thread-safe. */
#ifndef BERTH_SYSTEMD_UNITS_H
#define BERTH_SYSTEMD_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "runtime/cgroup.h"

#define BERTH_SYSTEMD_CALL_TIMEOUT_MS 5000
/* Longest unit name systemd takes. */
#define BERTH_SYSTEMD_UNIT_MAX 255

typedef struct berth_systemd berth_systemd;

/* Whether the host runs systemd as its init (sd_booted(3)). */
bool berth_systemd_booted(void);

/* Connect to PID 1. ENOTCONN when neither socket answers. */
int berth_systemd_open(berth_systemd **ret, berth_error **err);
void berth_systemd_free(berth_systemd *sd);

/* s escaped for a unit name (systemd-escape): into buf, false when it does
 * not fit. */
bool berth_systemd_escape(const char *s, char *buf, size_t size);

/* The slice for a cgroup parent as the kubelet's systemd driver names it:
 * "/berth" is "berth.slice", "/a/b" is "a-b.slice", "x.slice" stays.
 * EINVAL for "/" and "-.slice" (the root), a level that is not a plain
 * name, or a result too long. */
int berth_systemd_parent_slice(const char *cgroup_parent, char *buf, size_t size,
                               berth_error **err);

/* The cgroup path of a slice ("berth-a.slice" is "/berth.slice/berth-a.slice")
 * and of a unit in a slice ("<slice's path>/<unit>"), with systemd's
 * escaping of names a cgroup may not have ("cpu.slice" is "_cpu.slice").
 * False when it does not fit in buf or the slice's name is not one. */
bool berth_systemd_slice_cgroup(const char *slice, char *buf, size_t size);
bool berth_systemd_unit_cgroup(const char *slice, const char *unit, char *buf, size_t size);

/* The names berth gives its units (see the top): a pod's slice in parent
 * (berth-pod_<pod>.slice for parent berth.slice; false for the root
 * slice), a container's scope, a pod's pause's scope. An id whose escaped
 * form would be too long keeps what fits and ends in "_" and its hash.
 * False when buf is too small. */
bool berth_systemd_pod_slice(const char *parent, const char *pod, char *buf, size_t size);
bool berth_systemd_container_scope(const char *id, char *buf, size_t size);
bool berth_systemd_pause_scope(const char *pod, char *buf, size_t size);

/* Start transient slice name in its parent slice (from its name) with lim
 * as properties (CPUQuotaPerSecUSec, CPUQuotaPeriodUSec, CPUWeight,
 * MemoryMax and MemorySwapMax=0, TasksMax (infinity without a limit),
 * AllowedCPUs, AllowedMemoryNodes), and with wait_ms > 0 wait that long
 * for its job. EEXIST when a unit of that name is loaded; ETIMEDOUT, EIO
 * (the job failed) as for scopes. */
int berth_systemd_start_slice(berth_systemd *sd, const char *name, const char *description,
                              const berth_cgroup_limits *lim, int wait_ms, berth_error **err);

/* Start transient scope name in slice holding pid, with Delegate=yes when
 * delegate (the subtree below is berth's; systemd's OOMPolicy is then
 * continue: an OOM kill inside is the container's business, not a reason
 * to stop the unit), TasksMax=infinity (the container's own cgroup has its
 * limit) and CollectMode=inactive-or-failed. With wait_ms > 0 it waits that long for
 * the start job (pid is in the scope when it returns 0); with 0 it returns
 * once systemd took the job. When the caller places itself (pid is
 * its own: a monitor's process before its exec), a unit of that name
 * still loaded is waited for (up to wait_ms) to go: the previous scope of
 * a container whose monitor just ended; that wait POLLS every 20 ms.
 * EEXIST after it, or at once for another's pid or with wait_ms 0; EPERM
 * when its Description does not start with description (not berth's).
 * ETIMEDOUT when the job did not end in time; EIO when it failed. */
int berth_systemd_start_scope(berth_systemd *sd, const char *name, const char *slice,
                              const char *description, pid_t pid, bool delegate, int wait_ms,
                              berth_error **err);

/* Ask systemd to stop unit name (its processes get SIGTERM, then SIGKILL
 * after the unit's stop timeout), without waiting. A unit that is not
 * loaded is fine. */
int berth_systemd_stop_unit(berth_systemd *sd, const char *name, berth_error **err);

/* Whether unit name is gone: not loaded, or inactive or failed (a failed
 * one is reset, so that its name can be used again). With owner, a unit
 * that is there must be berth's: its Description starts with owner (EPERM
 * otherwise: never stop another's unit). */
int berth_systemd_unit_gone(berth_systemd *sd, const char *name, const char *owner, bool *ret_gone,
                            berth_error **err);

#endif
