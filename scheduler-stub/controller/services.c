/* The Controller service's handlers, both halves (services.h). */
#include "services.h"

void ctl_service_init(ctl_service *s)
{
    s->svc.base =
        (ProtobufCService){ &controller_descriptor, protobuf_c_service_invoke_internal, NULL };
    ctl_node_service_init(s);
    ctl_operator_service_init(s);
}

bool ctl_need_role(berth_rpc_call *call, berth_role role)
{
    const berth_principal *peer = berth_rpc_call_peer(call);

    if (peer->role == role)
        return true;
    berth_rpc_call_fail(call, CODE_PERMISSION_DENIED, "%s %s may not call %s",
                        berth_role_name(peer->role), peer->name, berth_rpc_call_method(call));
    return false;
}
