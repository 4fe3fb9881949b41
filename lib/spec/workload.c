/* Replica names and specs. */
#include "workload.h"

#include <errno.h>
#include <inttypes.h>
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
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    int n;

    if (kind != WORKLOAD_DAEMONSET) {
        snprintf(ret_id, BERTH_ID_BUF, "%s-%u", workload, index);
        return;
    }
    n = snprintf(ret_id, BERTH_ID_BUF, "%s.%s", workload, node);
    if (n > 0 && n < BERTH_ID_BUF && berth_spec_id_valid(ret_id))
        return;
    for (const char *c = node; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ULL;
    snprintf(ret_id, BERTH_ID_BUF, "%s._%016" PRIx64, workload, h);
}

int berth_replica_spec(const Workload *w, const char *id, const char *replica,
                       ContainerSpec **ret_spec, berth_error **err)
{
    ContainerSpec *s;

    if (!w->template_)
        return berth_error_set(err, EINVAL, "workload %s has no template", w->name);
    s = BERTH_PB_COPY(ContainerSpec, w->template_);
    berth_pb_map_set(&s->base, "labels", BERTH_LABEL_WORKLOAD, w->name);
    berth_pb_map_set(&s->base, "labels", "berth.replica", replica);
    if (w->kind == WORKLOAD_DAEMONSET && !*s->hostname) {
        size_t n;

        if (s->hostname != protobuf_c_empty_string)
            free(s->hostname);
        s->hostname = berth_xstrndup(id, 63);
        for (char *c = s->hostname; *c; c++)
            if (*c == '.' || *c == '_')
                *c = '-';
        n = strlen(s->hostname);
        while (n > 0 && s->hostname[n - 1] == '-')
            s->hostname[--n] = '\0';
    }
    if (s->id != protobuf_c_empty_string)
        free(s->id);
    s->id = berth_xstrdup(id);
    *ret_spec = s;
    return 0;
}
