/* state.pb and exit.pb: what berthd (and anyone) reads of this monitor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "monitor.h"
#include "statedir/statedir.h"

void records_save_state(monitor *m)
{
    MonitorState st = MONITOR_STATE_INIT;
    const char *probe_message;
    ExitRecord *hist[HISTORY_MAX];
    berth_error *err = NULL;

    st.monitor_pid = (int32_t)getpid();
    st.container_pid = m->c && !m->removal ? (int32_t)berth_container_pid(m->c) : 0;
    st.phase = m->phase;
    st.started_unix_ns = m->c ? berth_container_started_ns(m->c) : 0;
    st.restart_count = m->restart_count;
    st.next_restart_unix_ns = m->phase == PHASE_BACKOFF ? m->next_restart_ns : 0;
    st.reason = m->reason;
    st.health = m->health;
    liveness_report(m, &st.probe_failures, &probe_message);
    st.probe_message = (char *)probe_message;
    st.unready = !m->ready;
    st.starting = !m->started;
    for (size_t i = 0; i < m->n_history; i++)
        hist[i] = &m->history[i];
    st.history = hist;
    st.n_history = m->n_history;
    if (berth_statedir_write_state(m->dirfd, &st, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "save state");
        berth_error_free(&err);
    }
}

void records_set_phase(monitor *m, MonitorPhase phase)
{
    m->phase = phase;
    records_save_state(m);
}

void records_exit(monitor *m, const ExitRecord *rec)
{
    berth_error *err = NULL;

    if (m->n_history == HISTORY_MAX) {
        memmove(&m->history[0], &m->history[1], sizeof(m->history[0]) * (HISTORY_MAX - 1));
        memmove(m->history_reason[0], m->history_reason[1],
                sizeof(m->history_reason[0]) * (HISTORY_MAX - 1));
        m->n_history--;
        for (size_t i = 0; i < m->n_history; i++)
            m->history[i].reason = m->history_reason[i];
    }
    m->history[m->n_history] = *rec;
    snprintf(m->history_reason[m->n_history], sizeof(m->history_reason[0]), "%s", rec->reason);
    m->history[m->n_history].reason = m->history_reason[m->n_history];
    /* only the last exit keeps its termination message (4 KiB each would
     * weigh on a monitor that lives as long as its container) */
    for (size_t i = 0; i < m->n_history; i++)
        m->history[i].message = (char *)protobuf_c_empty_string;
    free(m->last_message);
    m->last_message = rec->message && *rec->message ? strdup(rec->message) : NULL;
    m->history[m->n_history].message =
        m->last_message ? m->last_message : (char *)protobuf_c_empty_string;
    m->n_history++;
    if (berth_statedir_write_exit(m->dirfd, rec, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "write exit record");
        berth_error_free(&err);
    }
}
