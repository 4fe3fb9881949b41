/* Handlers by message type name. */
#include "typed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

int berth_typed_add(berth_typed *t, const ProtobufCMessageDescriptor *type, berth_typed_fn fn,
                    void *data, berth_error **err)
{
    if (berth_typed_find(t, type->name))
        return berth_error_set(err, EEXIST, "handler for %s: registered twice", type->name);
    t->entries = berth_xreallocarray(t->entries, t->n + 1, sizeof(*t->entries));
    t->entries[t->n++] = (berth_typed_entry){ .type = type, .fn = fn, .data = data };
    return 0;
}

const berth_typed_entry *berth_typed_find(const berth_typed *t, const char *type_name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].type->name, type_name) == 0)
            return &t->entries[i];
    return NULL;
}

void berth_typed_clear(berth_typed *t)
{
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}
