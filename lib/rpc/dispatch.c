/* Services by name, methods by descriptor. */
#include "dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct berth_rpc_dispatch {
    ProtobufCService **services;
    size_t n;
};

int berth_rpc_dispatch_new(berth_rpc_dispatch **ret_dispatch, berth_error **err)
{
    (void)err;
    *ret_dispatch = berth_xcalloc(1, sizeof(**ret_dispatch));
    return 0;
}

void berth_rpc_dispatch_free(berth_rpc_dispatch *d)
{
    if (!d)
        return;
    free(d->services);
    free(d);
}

int berth_rpc_dispatch_add(berth_rpc_dispatch *d, ProtobufCService *svc, berth_error **err)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->services[i]->descriptor->name, svc->descriptor->name) == 0)
            return berth_error_set(err, EEXIST, "service %s: registered twice",
                                   svc->descriptor->name);
    d->services = berth_xreallocarray(d->services, d->n + 1, sizeof(*d->services));
    d->services[d->n++] = svc;
    return 0;
}

/* protobuf-c's generated services keep one handler pointer per method, in
 * method order, right after the ProtobufCService base (that is how its own
 * protobuf_c_service_invoke_internal finds them). It does not check for
 * NULL, so we do: an unset handler means "not implemented here". */
typedef void (*generic_handler)(void *service, const void *input, void *closure, void *data);

static int method_implemented(const ProtobufCService *svc, const ProtobufCMethodDescriptor *m)
{
    const generic_handler *handlers;

    if (svc->invoke != protobuf_c_service_invoke_internal)
        return 1; /* a custom invoke decides for itself */
    handlers = (const generic_handler *)(const void *)(svc + 1);
    return handlers[m - svc->descriptor->methods] != NULL;
}

const ProtobufCMethodDescriptor *berth_rpc_method(const ProtobufCServiceDescriptor *svc,
                                                  const char *name)
{
    return protobuf_c_service_descriptor_get_method_by_name(svc, name);
}

const ProtobufCMethodDescriptor *berth_rpc_dispatch_find(const berth_rpc_dispatch *d,
                                                         const char *full_method,
                                                         ProtobufCService **ret_service)
{
    const char *slash = strchr(full_method, '/');
    size_t svc_len;

    if (!slash || slash == full_method || !slash[1])
        return NULL;
    svc_len = (size_t)(slash - full_method);
    for (size_t i = 0; i < d->n; i++) {
        ProtobufCService *svc = d->services[i];
        const ProtobufCMethodDescriptor *m;

        if (strlen(svc->descriptor->name) != svc_len ||
            memcmp(svc->descriptor->name, full_method, svc_len) != 0)
            continue;
        m = protobuf_c_service_descriptor_get_method_by_name(svc->descriptor, slash + 1);
        if (!m || !method_implemented(svc, m))
            return NULL;
        *ret_service = svc;
        return m;
    }
    return NULL;
}
