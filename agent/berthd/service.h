/* The Agent service (agent.proto): Health, List, Logs, Stop. Served on the
 * local socket (berthctl on the node), on the endpoint the controller dials
 * for relays, and as the survey respondent's answer to fleet health. Only
 * authenticated principals reach it: the pinned controller and the
 * configured operators. */
#ifndef BERTHD_SERVICE_H
#define BERTHD_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "agent.h"
#include "base/error.h"

typedef struct agent_service agent_service;

int agent_service_new(agent *a, agent_service **ret, berth_error **err);
void agent_service_free(agent_service *svc);
ProtobufCService *agent_service_base(agent_service *svc);

#endif
