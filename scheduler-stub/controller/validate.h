/* What the controller checks in a request before it acts on it: pure
 * functions of the message (no fleet, no store, no clock), so that the
 * fleet (fleet.h) and the wire fuzz target (tests/fuzz/wire.c) run the
 * same checks. Each returns 0, or -1 with *err (EINVAL; err may be NULL)
 * saying what is wrong, which the caller is answered INVALID_ARGUMENT
 * with. */
#ifndef BERTH_CONTROLLER_VALIDATE_H
#define BERTH_CONTROLLER_VALIDATE_H

#include <stddef.h>

#include "base/error.h"
#include "berth/proto/v1.h"

/* Statuses in one report, and kept per node. */
#define CTL_STATUSES_MAX 4096
/* The printable part of ApplyRequest.source the controller names a
 * manifest by. */
#define CTL_SOURCE_MAX 128

/* Register: everything a node says about itself. */
int ctl_node_info_validate(const NodeInfo *info, berth_error **err);
/* Heartbeat: an applied generation the controller could ever have given. */
int ctl_heartbeat_validate(const HeartbeatRequest *in, berth_error **err);
/* A container's status from a node (ReportStatus, ContainerEvent). */
int ctl_status_validate(const ContainerStatus *s, berth_error **err);
/* ReportStatus: at most CTL_STATUSES_MAX statuses, each valid, no id
 * twice. */
int ctl_report_status_validate(const ReportStatusRequest *in, berth_error **err);
/* ApproveNode: a fingerprint that fits one. */
int ctl_approve_node_validate(const ApproveNodeRequest *in, berth_error **err);
/* CreateJoinToken: a description without control characters. */
int ctl_join_token_request_validate(const CreateJoinTokenRequest *in, berth_error **err);

/* The name errors and events give a manifest from ApplyRequest.source:
 * at most CTL_SOURCE_MAX characters, unprintable ones as '?', "manifest"
 * when empty. size > CTL_SOURCE_MAX. */
void ctl_source_name(const char *in, char *out, size_t size);

#endif
