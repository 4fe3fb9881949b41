/* Method dispatch through protobuf-c's generated service descriptors.
 *
 * A server registers ProtobufCService objects (a generated
 * Controller_Service with its handler pointers filled in, say);
 * a call names "package.Service/Method" and is routed by the descriptor,
 * which also gives its input and output message types. Adding a method is
 * adding it to the .proto and writing its handler. A method whose handler
 * pointer is NULL is not implemented by this server (UNIMPLEMENTED), so a
 * process can serve part of a service. */
#ifndef BERTH_RPC_DISPATCH_H
#define BERTH_RPC_DISPATCH_H

#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

typedef struct berth_rpc_dispatch berth_rpc_dispatch;

int berth_rpc_dispatch_new(berth_rpc_dispatch **ret_dispatch, berth_error **err);
void berth_rpc_dispatch_free(berth_rpc_dispatch *d);

/* Register svc (not owned; it must outlive the dispatch). EEXIST when a
 * service with the same full name is registered already. */
int berth_rpc_dispatch_add(berth_rpc_dispatch *d, ProtobufCService *svc, berth_error **err);

/* Route "package.Service/Method": the method's descriptor and its service,
 * or NULL when the service or the method is unknown or not implemented. */
const ProtobufCMethodDescriptor *berth_rpc_dispatch_find(const berth_rpc_dispatch *d,
                                                         const char *full_method,
                                                         ProtobufCService **ret_service);

/* Find a method of a service descriptor by "Method" (client side). */
const ProtobufCMethodDescriptor *berth_rpc_method(const ProtobufCServiceDescriptor *svc,
                                                  const char *name);

#endif
