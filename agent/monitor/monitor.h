/* berth-monitor's parts: one process, one epoll loop, one container.
 *
 *   main.c     arguments, setup, the answer to the starter, the loop
 *   run.c      a run's life: start, exit, removal of what it leaves,
 *              restarts with backoff, stop (fifo, signals, grace)
 *   logs.c     the container's stdout and stderr into its CRI log
 *   liveness.c the startup, liveness and readiness probes (exec, tcp or
 *              http), never waiting in the loop
 *   records.c  state.pb and exit.pb (lib/statedir)
 *   exec.c     commands run in the container for berthd (kubectl exec)
 *
 * Calls go one way: main -> run -> logs, liveness, records. The probe tells
 * the run that a container failed it through run_end_unhealthy(), the one
 * call back. */
#ifndef BERTH_MONITOR_MONITOR_H
#define BERTH_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "runtime/removal.h"
#include "runtime/runtime.h"
#include "statedir/crilog.h"

#define HISTORY_MAX 16

typedef struct monitor monitor;

/* One of the container's output pipes. */
typedef struct out_pipe {
    berth_loop_io io;
    monitor *m;
    berth_crilog_stream stream;
} out_pipe;

/* A command run for berthd, while it runs (exec.c). */
typedef struct exec_session exec_session;

/* A probe command given up on, until it is reaped (liveness.c). */
typedef struct probe_reaper probe_reaper;

/* The probes, and the lifecycle hooks, which run once each as probes do. */
typedef enum probe_kind {
    PROBE_STARTUP,
    PROBE_LIVENESS,
    PROBE_READINESS,
    PROBE_POST_START,
    PROBE_PRE_STOP,
    PROBE_KINDS
} probe_kind;

/* One of the container's probes, while a run lives. */
typedef struct probe {
    monitor *m;
    probe_kind kind;
    berth_loop_timer period;  /* next probe due */
    berth_loop_timer timeout; /* the probe in flight gives up */
    berth_loop_io io;         /* exec: its start, then its pidfd; tcp, http: the socket */
    berth_exec *exec;         /* exec: being started */
    pid_t pid;                /* exec: the command in flight */
    uint32_t failures, successes;
    char message[256];
    int64_t hook_timeout_ms; /* a hook's: how long it may take */
    bool sleeping;           /* a hook's sleep: its timeout ends it, well */
    /* http: the request going out, then the status line coming in */
    char *req;
    size_t req_len, req_off;
    char resp[64];
    size_t resp_len;
} probe;

struct monitor {
    berth_loop *loop;
    int dirfd;
    char *state_dir; /* its path, resolved (the runtime keeps it) */
    int lock_fd;
    int ready_fd; /* -1 once answered */
    ContainerPlan *plan;
    /* The run's spec with its Secrets' and ConfigMaps' variables (the
     * agent's env file, read at each start; NULL without one): what exec
     * probes and hooks run with too. Wiped when the run goes. */
    ContainerSpec *run_spec;
    berth_runtime *rt;

    /* The run: the container while it runs, and after it ended until what
     * it left is removed. */
    berth_container *c;
    berth_loop_io pid_io;
    berth_removal *removal;
    bool run_failed; /* the run being removed never started properly */
    int last_exit_code;
    int64_t last_ran_ns;
    berth_loop_timer grace_timer, restart_timer;
    berth_loop_io control_io;
    berth_loop_signal sig_term, sig_int;
    bool stopping;
    int64_t backoff_ms; /* the next delay */
    int64_t next_restart_ns;

    /* Logs. */
    berth_crilog *log;
    out_pipe out[2];
    /* The run's terminal (spec tty: its master, a copy of the log's; and
     * a peer of its own, so that the terminal lives as long as the run
     * even when the container closes every fd of it) and stdin's write
     * end (spec stdin): what attach writes to; -1 without. stdin_taken:
     * a terminal's stdinOnce was used by an attach. */
    int console_fd, console_peer, stdin_w;
    bool stdin_taken;

    /* Probes (liveness.c): startup, liveness, readiness. */
    probe probes[PROBE_KINDS];
    probe_reaper *reapers;
    HealthState health;  /* the liveness probe's verdict */
    bool started;        /* the startup probe succeeded (or there is none) */
    bool ready;          /* the readiness probe's verdict (true without one) */
    bool unhealthy_kill; /* the run is being ended for failing a probe */
    char reason_unhealthy[300];
    int self_netns;         /* our own network namespace, to come back to */
    bool post_start_failed; /* the run is being ended for its postStart hook */
    bool pre_stop_done;     /* the preStop hook ran (or is running) for this run */
    char hook_message[300];

    /* Commands run for berthd (exec.c): the exec socket, the sessions. */
    berth_loop_io exec_listen;
    exec_session *execs;
    size_t n_execs;
    bool exec_paused; /* out of fds: the socket not watched until one frees */

    /* Bookkeeping for state.pb and exit.pb. */
    MonitorPhase phase;
    uint32_t restart_count;
    char reason[512];
    ExitRecord history[HISTORY_MAX];
    char history_reason[HISTORY_MAX][256];
    char *last_message; /* the last exit's termination message (NULL: none) */
    size_t n_history;
    bool finished;   /* the final phase is written: the loop ends */
    int exit_status; /* of the monitor process */
};

/* run.c: a lifecycle hook of the run ended (liveness.c calls it). */
void run_hook_done(monitor *m, probe_kind kind, bool ok, const char *message);
/* liveness.c: run hook kind of the run now, for at most timeout_ms;
 * false when the spec has none. */
bool liveness_hook(monitor *m, probe_kind kind, int64_t timeout_ms);

/* main.c: tell the starter (once): "running PID" or "error TEXT". */
void monitor_answer(monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* run.c: the stop requests (control_fd, the control fifo; SIGTERM,
 * SIGINT) join the loop. */
int run_init(monitor *m, int control_fd, berth_error **err);
/* Start the first run (its answer goes to the starter). When it failed at
 * once, m->finished is set and there is no loop to run. */
void run_begin(monitor *m);
/* Stop the container: its stop signal, SIGKILL after grace_ms (< 0: the
 * spec's); then the monitor exits. */
void run_request_stop(monitor *m, int64_t grace_ms);
/* The liveness or startup probe gave up on this run: end it, restart per
 * policy. */
void run_end_unhealthy(monitor *m);
void run_free(monitor *m);

/* logs.c: a pipe whose read end joins the loop; the write end for the
 * container in *ret_write_end. */
int logs_open_pipe(monitor *m, berth_crilog_stream stream, int *ret_write_end, berth_error **err);
/* Read the container's terminal (its master, taken) into the log as its
 * stdout. */
int logs_adopt(monitor *m, berth_crilog_stream stream, int fd, berth_error **err);
/* Read what is left in every pipe, then close them (the writers are gone;
 * a terminal's last line ends there too). */
void logs_drain_and_close(monitor *m);
void logs_close(monitor *m);

/* liveness.c */
void liveness_init(monitor *m);
void liveness_start(monitor *m);
void liveness_stop(monitor *m);
void liveness_free(monitor *m);
/* Whether a probe connects in the container's network (tcp, http). */
bool liveness_needs_netns(const monitor *m);
/* What state.pb says of the probes: the failures in a row and the last
 * failure of the probe that matters now (startup until it succeeded,
 * then liveness, else readiness). */
void liveness_report(monitor *m, uint32_t *ret_failures, const char **ret_message);

/* exec.c: the exec socket (statedir/execsock.h) joins the loop; at the
 * end the commands still running are ended and the socket removed. */
int exec_init(monitor *m, berth_error **err);
/* The run ended: no session keeps the container (runtime handles). */
void exec_run_ended(monitor *m);
/* Output of the container's: to the attached clients too (what one cannot
 * take now it misses; the log has everything). */
void exec_attach_feed(monitor *m, berth_crilog_stream stream, const char *buf, size_t n);
/* The container exited with exit_code: the attached are told and let go. */
void exec_attach_ended(monitor *m, int exit_code);
void exec_free(monitor *m);

/* records.c */
void records_save_state(monitor *m);
void records_set_phase(monitor *m, MonitorPhase phase);
/* Append to the bounded history and write exit.pb. */
void records_exit(monitor *m, const ExitRecord *rec);

#endif
