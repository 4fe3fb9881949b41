/* Replica names and specs. */
#include "workload.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "pb/pb.h"
#include "spec.h"

bool berth_workload_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > BERTH_WORKLOAD_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static const char *const kind_names[] = {
    [WORKLOAD_POD] = "Pod",
    [WORKLOAD_DEPLOYMENT] = "Deployment",
    [WORKLOAD_DAEMONSET] = "DaemonSet",
};

const char *berth_workload_kind_name(WorkloadKind kind)
{
    if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind])
        return kind_names[kind];
    return "Unknown";
}

WorkloadKind berth_workload_kind_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
        if (kind_names[i] && name && strcmp(kind_names[i], name) == 0)
            return (WorkloadKind)i;
    return WORKLOAD_KIND_UNSPECIFIED;
}

void berth_replica_id(const char *workload, WorkloadKind kind, uint32_t index, const char *node,
                      char ret_id[BERTH_ID_BUF])
{
    uint8_t h[4];
    int n;

    if (kind != WORKLOAD_DAEMONSET) {
        snprintf(ret_id, BERTH_ID_BUF, "%s-%u", workload, index);
        return;
    }
    n = snprintf(ret_id, BERTH_ID_BUF, "%s-%s", workload, node);
    if (n > 0 && n < BERTH_ID_BUF && berth_spec_id_valid(ret_id))
        return;
    crypto_generichash(h, sizeof(h), (const unsigned char *)node, strlen(node), NULL, 0);
    snprintf(ret_id, BERTH_ID_BUF, "%s-%02x%02x%02x%02x", workload, h[0], h[1], h[2], h[3]);
}

int berth_replica_spec(const Workload *w, const char *id, const char *replica,
                       ContainerSpec **ret_spec, berth_error **err)
{
    ContainerSpec *s;

    if (!w->template_)
        return berth_error_set(err, EINVAL, "workload %s has no template", w->name);
    s = BERTH_PB_COPY(ContainerSpec, w->template_);
    berth_pb_map_set(&s->base, "labels", "berth.workload", w->name);
    berth_pb_map_set(&s->base, "labels", "berth.replica", replica);
    if (s->id != protobuf_c_empty_string)
        free(s->id);
    s->id = berth_xstrdup(id);
    *ret_spec = s;
    return 0;
}
