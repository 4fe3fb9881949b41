/* Replica names and specs. */
#include "workload.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spec.h"

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

ProtobufCMessage *berth_pb_copy(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    ProtobufCMessage *copy;

    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
    free(buf);
    return copy;
}

int berth_pb_map_set(ProtobufCMessage *msg, const char *field, const char *key, const char *value)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
    const ProtobufCMessageDescriptor *ed;
    ProtobufCMessage ***arr, **grown, *e;
    char **k, **v, *nv;
    size_t *n;

    if (!fd || fd->label != PROTOBUF_C_LABEL_REPEATED || fd->type != PROTOBUF_C_TYPE_MESSAGE ||
        ((const ProtobufCMessageDescriptor *)fd->descriptor)->n_fields != 2) {
        errno = EINVAL;
        return -1;
    }
    ed = fd->descriptor;
    n = (size_t *)((char *)msg + fd->quantifier_offset);
    arr = (ProtobufCMessage ***)((char *)msg + fd->offset);
#define ENTRY_STR(e, i) ((char **)((char *)(e) + ed->fields[i].offset))
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(*ENTRY_STR((*arr)[i], 0), key) != 0)
            continue;
        if (!(nv = strdup(value)))
            return -1;
        v = ENTRY_STR((*arr)[i], 1);
        if (*v != protobuf_c_empty_string)
            free(*v);
        *v = nv;
        return 0;
    }
    grown = realloc(*arr, (*n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    *arr = grown;
    e = malloc(ed->sizeof_message);
    if (!e)
        return -1;
    protobuf_c_message_init(ed, e);
    k = ENTRY_STR(e, 0);
    v = ENTRY_STR(e, 1);
    *k = strdup(key);
    *v = strdup(value);
#undef ENTRY_STR
    if (!*k || !*v) {
        free(*k);
        free(*v);
        free(e);
        return -1;
    }
    (*arr)[(*n)++] = e;
    return 0;
}

int berth_replica_spec(const Workload *w, const char *id, const char *replica,
                       ContainerSpec **ret_spec, berth_error **err)
{
    ContainerSpec *s;
    char *new_id;

    if (!w->template_)
        return berth_error_set(err, EINVAL, "workload %s has no template", w->name);
    s = (ContainerSpec *)berth_pb_copy(&w->template_->base);
    if (!s)
        return berth_error_make(err, ENOMEM, "copy the template of %s", w->name);
    new_id = strdup(id);
    if (!new_id || berth_pb_map_set(&s->base, "labels", "berth.workload", w->name) < 0 ||
        berth_pb_map_set(&s->base, "labels", "berth.replica", replica) < 0) {
        free(new_id);
        container_spec_free_unpacked(s, NULL);
        return berth_error_make(err, ENOMEM, "spec of %s", id);
    }
    if (s->id != protobuf_c_empty_string)
        free(s->id);
    s->id = new_id;
    *ret_spec = s;
    return 0;
}
