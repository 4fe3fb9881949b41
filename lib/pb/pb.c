/* Generic protobuf-c helpers. */
#include "pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define BUDGET_BASE   ((size_t)1 << 20)
#define BUDGET_FACTOR 64
#define BUDGET_MAX    ((size_t)64 << 20)

static void *xalloc_alloc(void *data, size_t size)
{
    (void)data;
    return berth_xmalloc(size);
}

static void xalloc_free(void *data, void *p)
{
    (void)data;
    free(p);
}

ProtobufCAllocator berth_pb_allocator = { .alloc = xalloc_alloc, .free = xalloc_free };

typedef struct budget {
    size_t left;
} budget;

/* Over budget is the input's fault (NULL: refused); out of memory is not. */
static void *budget_alloc(void *data, size_t size)
{
    budget *b = data;

    if (size > b->left)
        return NULL;
    b->left -= size;
    return berth_xmalloc(size);
}

bool berth_pb_visit(const ProtobufCMessage *m, berth_pb_visit_fn fn, void *data)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;

    if (!fn(m, data))
        return false;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *field = base + f->offset;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)field;

            for (size_t k = 0; k < n; k++)
                if (!berth_pb_visit(items[k], fn, data))
                    return false;
            continue;
        }
        /* The members of a oneof share their storage: only the chosen one
         * is there. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue;
        if (*(ProtobufCMessage *const *)field &&
            !berth_pb_visit(*(ProtobufCMessage *const *)field, fn, data))
            return false;
    }
    return true;
}

/* No encoder writes field number 0, and protobuf-c refuses it, but only
 * when its tag is a single byte (protobuf-c#299 checks the first byte):
 * spelt as a longer varint ("82 00") it is kept as an unknown field and
 * packed back as "02", which protobuf-c then refuses. A message holding
 * one would decode once and never again (a spec the agent copies, say). */
static bool field_numbers_valid(const ProtobufCMessage *m, void *data)
{
    (void)data;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return false;
    return true;
}

ProtobufCMessage *berth_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len)
{
    budget b = { .left = BUDGET_BASE };
    ProtobufCAllocator alloc = { .alloc = budget_alloc, .free = xalloc_free, .allocator_data = &b };
    ProtobufCMessage *m;

    if (len > BERTH_PB_INPUT_MAX)
        return NULL;
    b.left += len * BUDGET_FACTOR;
    if (b.left > BUDGET_MAX)
        b.left = BUDGET_MAX;
    /* Freed later with the default allocator: both are malloc/free. */
    m = protobuf_c_message_unpack(d, &alloc, len, data);
    if (m && !berth_pb_visit(m, field_numbers_valid, NULL)) {
        protobuf_c_message_free_unpacked(m, &alloc);
        return NULL;
    }
    return m;
}

void berth_pb_free(ProtobufCMessage *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

uint8_t *berth_pb_pack(const ProtobufCMessage *m, size_t *ret_len)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = berth_xmalloc(len);

    protobuf_c_message_pack(m, buf);
    *ret_len = len;
    return buf;
}

ProtobufCMessage *berth_pb_copy(const ProtobufCMessage *m)
{
    size_t len;
    uint8_t *buf = berth_pb_pack(m, &len);
    ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, &berth_pb_allocator, len, buf);

    /* a message may hold a secret: its packed copy goes wiped */
    explicit_bzero(buf, len);
    free(buf);
    if (!copy)
        abort(); /* our own pack did not decode: a bug in protobuf-c or here */
    return copy;
}

bool berth_pb_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size(a);
    size_t lb = protobuf_c_message_get_packed_size(b);
    uint8_t *ba, *bb;
    bool same;

    if (a->descriptor != b->descriptor || la != lb)
        return false;
    ba = berth_xmalloc(la);
    bb = berth_xmalloc(lb);
    protobuf_c_message_pack(a, ba);
    protobuf_c_message_pack(b, bb);
    same = memcmp(ba, bb, la) == 0;
    explicit_bzero(ba, la);
    explicit_bzero(bb, lb);
    free(ba);
    free(bb);
    return same;
}

int berth_pb_map_set(ProtobufCMessage *msg, const char *field, const char *key, const char *value)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, field);
    const ProtobufCMessageDescriptor *ed;
    ProtobufCMessage ***arr, *e;
    char **v;
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
        v = ENTRY_STR((*arr)[i], 1);
        if (*v != protobuf_c_empty_string)
            free(*v);
        *v = berth_xstrdup(value);
        return 0;
    }
    *arr = berth_xreallocarray(*arr, *n + 1, sizeof(**arr));
    e = berth_xmalloc(ed->sizeof_message);
    protobuf_c_message_init(ed, e);
    *ENTRY_STR(e, 0) = berth_xstrdup(key);
    *ENTRY_STR(e, 1) = berth_xstrdup(value);
#undef ENTRY_STR
    (*arr)[(*n)++] = e;
    return 0;
}
