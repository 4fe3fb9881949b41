/* lib/statedir: the contract of a container's state directory between
 * berthd and berth-monitor: file names, the records and their atomic I/O,
 * telling a live monitor from a dead one without trusting a pid (a flock
 * held for the monitor's life), and starting and stopping a monitor.
 * Linked by berth-monitor, so it stays small: no nanomsg, YAML or SQLite. */
#ifndef BERTH_STATEDIR_STATEDIR_H
#define BERTH_STATEDIR_STATEDIR_H

#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "berth/proto/v1.h"

#define BERTH_STATEDIR_PLAN    "plan.pb"
#define BERTH_STATEDIR_STATE   "state.pb"
#define BERTH_STATEDIR_EXIT    "exit.pb"
#define BERTH_STATEDIR_LOCK    "monitor.lock"
#define BERTH_STATEDIR_CONTROL "control"
#define BERTH_STATEDIR_LOG     "container.log"

/* Records larger than this are refused when read (a plan carries a spec:
 * argv and env are capped at 1 MiB by validation). */
#define BERTH_STATEDIR_RECORD_MAX (4 << 20)

/* Write a record to dirfd/name atomically and durably. */
int berth_statedir_write_plan(int dirfd, const ContainerPlan *plan, berth_error **err);
int berth_statedir_write_state(int dirfd, const MonitorState *st, berth_error **err);
int berth_statedir_write_exit(int dirfd, const ExitRecord *rec, berth_error **err);

/* Read a record (decoded with bounds: lib/pb); the caller frees it with
 * BERTH_PB_FREE (the matching *_free_unpacked(x, NULL) frees the same). A
 * missing file fails with code ENOENT; a corrupt one with EBADMSG. */
int berth_statedir_read_plan(int dirfd, ContainerPlan **ret_plan, berth_error **err);
int berth_statedir_read_state(int dirfd, MonitorState **ret_state, berth_error **err);
int berth_statedir_read_exit(int dirfd, ExitRecord **ret_exit, berth_error **err);

typedef enum berth_monitor_liveness {
    BERTH_MONITOR_NONE,   /* never started here (no lock file) */
    BERTH_MONITOR_ALIVE,  /* a monitor holds the lock */
    BERTH_MONITOR_EXITED, /* no monitor, and it left an exit record: it ended cleanly */
    BERTH_MONITOR_LOST,   /* no monitor and no final record: it was killed */
} berth_monitor_liveness;

/* Whether a monitor lives for this directory, by probing its lock: immune
 * to pid reuse. EXITED needs the final state (phase EXITED or FAILED). */
int berth_monitor_probe(int dirfd, berth_monitor_liveness *ret, berth_error **err);

/* Monitor side: take the lock for life. *ret_fd must stay open (it is
 * close-on-exec). Fails with EWOULDBLOCK when another monitor has it.
 * Blocks up to 100 ms, waiting for probers to close the file (inotify);
 * for a monitor's start, before its loop runs. */
int berth_monitor_lock(int dirfd, int *ret_fd, berth_error **err);

/* Start berth-monitor (monitor_path) for state_dir, detached: a new
 * session, and not our child (it detaches itself), so the caller may die
 * at any time without touching it. BLOCKS up to timeout_ms for the monitor's
 * answer: the container's pid, or the real start error. On a timeout the
 * monitor keeps running; the error says so. For callers without an event
 * loop (wait.c, which berthd does not link). */
int berth_monitor_start(const char *monitor_path, const char *state_dir, int timeout_ms,
                        pid_t *ret_container_pid, berth_error **err);

/* The same in two steps, for event loops: spawn returns (without waiting)
 * a non-blocking fd on which the monitor's answer arrives; feed what
 * becomes readable to berth_monitor_answer until it returns 1 (answered:
 * *ret_container_pid, or < 0 with the start error) or -1. The caller closes
 * the fd. */
int berth_monitor_spawn(const char *monitor_path, const char *state_dir, int *ret_answer_fd,
                        berth_error **err);

/* Where a monitor goes before it runs: called in the monitor's own process
 * (a fork of the caller, before its exec), which it may place (for systemd's
 * cgroup driver: a transient scope of its own). It may block; a message of
 * at most size bytes goes to msg on failure (< 0), and becomes the
 * monitor's start error. */
typedef struct berth_monitor_place {
    int (*place)(void *data, char *msg, size_t size);
    void *data;
} berth_monitor_place;

/* berth_monitor_spawn with the monitor placed by place (NULL: where the
 * caller is). */
int berth_monitor_spawn_placed(const char *monitor_path, const char *state_dir,
                               const berth_monitor_place *place, int *ret_answer_fd,
                               berth_error **err);

/* The monitor's answer, one line: "running PID" or "error TEXT". */
#define BERTH_MONITOR_ANSWER_RUNNING "running "
#define BERTH_MONITOR_ANSWER_ERROR   "error "

typedef struct berth_monitor_answer {
    char buf[4096];
    size_t len;
} berth_monitor_answer;

/* Read from the answer fd into a (zero-initialised). 0: not complete yet
 * (EAGAIN); 1: *ret_container_pid is the running container's pid; -1: the
 * start failed (*err has the monitor's error) or the monitor vanished
 * without an answer. */
int berth_monitor_answer_read(int fd, berth_monitor_answer *a, pid_t *ret_container_pid,
                              berth_error **err);

/* The longest grace period a stop may ask for; a longer one is this. */
#define BERTH_MONITOR_GRACE_MAX_MS (3600 * 1000)

/* Ask the monitor to stop the container: its stop signal, then SIGKILL to
 * the cgroup after grace_ms (< 0: the spec's grace). Does not wait; the
 * exit record and the lock tell when it is done. ESRCH if no monitor
 * listens. */
int berth_monitor_stop(int dirfd, int64_t grace_ms, berth_error **err);

/* The monitor's side of the control fifo: one command a line, "stop" or
 * "stop GRACE_MS" (what berth_monitor_stop writes; spaces around the value
 * are fine). *ret_grace_ms is the grace asked for, or -1 for the spec's
 * ("stop" and "stop " alike). EINVAL for anything else. */
int berth_monitor_control_parse(const char *line, int64_t *ret_grace_ms, berth_error **err);

#endif
