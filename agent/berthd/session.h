/* The controller session: identity and keys, Register (with backoff until
 * admitted), heartbeats with jitter on the interval the controller sets,
 * GetAssignments on a wake-up or a generation mismatch, full status
 * reports when asked or after the controller was unreachable, container
 * events and metrics on the stream, and the survey respondent. Also the
 * Agent service's servers (local socket, remote endpoint). */
#ifndef BERTHD_SESSION_H
#define BERTHD_SESSION_H

#include "agent.h"
#include "base/error.h"

int session_start(agent *a, berth_error **err);
void session_stop(agent *a);

#endif
