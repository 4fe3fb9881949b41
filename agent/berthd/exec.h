/* Exec sessions (Agent.Exec, agent.proto): a command run in a container by
 * its monitor (statedir/execsock.h), its stdio bridged to a duplex call
 * (rpc/duplex.h). berthd never enters a container: it asks the monitor,
 * gets the command's fds back, and moves bytes between them and the
 * stream, only as fast as the other side takes them, so a slow reader
 * (or writer) costs berthd at most one stream's capacity.
 *
 * The session ends when the command has ended and its output was read to
 * the end (channel 3 then carries ExecExit), or when the caller goes away
 * or cancels: the connection to the monitor is closed, which sends the
 * command SIGHUP (and SIGKILL 5 s later). */
#ifndef BERTHD_EXEC_H
#define BERTHD_EXEC_H

#include <protobuf-c/protobuf-c.h>

#include "base/loop.h"
#include "berth/proto/v1.h"
#include "containers.h"
#include "rpc/duplex.h"
#include "rpc/server.h"

/* Exec's channels, as Kubernetes' remote command protocol numbers them. */
enum {
    BERTH_EXEC_STDIN = 0,
    BERTH_EXEC_STDOUT = 1,
    BERTH_EXEC_STDERR = 2,
    BERTH_EXEC_STATUS = 3,
    BERTH_EXEC_RESIZE = 4,
};

typedef struct agent_execs agent_execs;

/* loop, containers and dx (where the streams are) are borrowed: they must
 * outlive the sessions. */
agent_execs *agent_execs_new(berth_loop *loop, containers *c, berth_duplex_server *dx);
/* Sessions still open end (their commands get SIGHUP); free it before
 * the stream server. NULL accepted. */
void agent_execs_free(agent_execs *x);
size_t agent_execs_count(const agent_execs *x);

/* The handler of Agent.Attach (closure cast): the same session, on the
 * main process's stdio (the monitor's attach), which ends when the
 * container does (ExecExit: its exit code) or the caller detaches. */
void agent_execs_attach(agent_execs *x, berth_rpc_call *call, const AttachStart *in,
                        ProtobufCClosure closure);
/* The handler of Agent.Exec (closure cast). */
void agent_execs_start(agent_execs *x, berth_rpc_call *call, const ExecStart *in,
                       ProtobufCClosure closure);

#endif
