/* Generic helpers for generated protobuf-c messages: bounded decoding of
 * bytes from outside, copies, comparison, map fields, walking nested
 * messages. The one place such helpers live; everything above the generated
 * code uses them rather than its own pack-and-unpack. Allocation failures
 * abort (base/xalloc.h). */
#ifndef BERTH_PB_PB_H
#define BERTH_PB_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes berth_pb_unpack takes (a frame, a state record). */
#define BERTH_PB_INPUT_MAX ((size_t)16 << 20)

/* protobuf-c's allocator with malloc and free that aborts when out of
 * memory, for unpacking trusted bytes (our own packs): a NULL from unpack
 * then means the bytes were bad, never that memory ran out. */
extern ProtobufCAllocator berth_pb_allocator;

/* Decode len bytes as d, or NULL when they are not a valid d or would take
 * more memory than a budget proportional to len (protobuf-c allocates per
 * element, so two bytes of an empty repeated message could cost hundreds:
 * the budget caps what a hostile peer can make us allocate). What decodes
 * here packs into bytes that decode again, which protobuf-c alone does not
 * promise (pb.c, field_numbers_valid). NULL never means out of memory: that
 * aborts. Free with berth_pb_free. */
ProtobufCMessage *berth_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len);
/* Free any message (NULL accepted). */
void berth_pb_free(ProtobufCMessage *m);

/* A deep copy (packed and unpacked again). Never NULL. Free with
 * berth_pb_free. */
ProtobufCMessage *berth_pb_copy(const ProtobufCMessage *m);
/* Pack m into a new buffer (free it); *ret_len its size. Never fails. */
uint8_t *berth_pb_pack(const ProtobufCMessage *m, size_t *ret_len);
/* Whether a and b (same type) encode to the same bytes: the same values,
 * field for field (maps and repeated fields in the same order). */
bool berth_pb_equal(const ProtobufCMessage *a, const ProtobufCMessage *b);

/* Set key=value in the string-to-string map field of msg (labels,
 * node_selector ...), replacing the value of an existing key. The entry is
 * malloc'd, as the generated free_unpacked expects. -1 (EINVAL) when field
 * is not such a map: a bug in the caller. */
int berth_pb_map_set(ProtobufCMessage *msg, const char *field, const char *key, const char *value);

/* Call fn on m and on every message inside it (set sub-messages, each
 * element of a repeated one, the chosen member of a oneof), parents first.
 * Stops and returns false as soon as fn does. */
typedef bool (*berth_pb_visit_fn)(const ProtobufCMessage *m, void *data);
bool berth_pb_visit(const ProtobufCMessage *m, berth_pb_visit_fn fn, void *data);

/* Typed shorthands. */
#define BERTH_PB_COPY(type, m) ((type *)berth_pb_copy(&(m)->base))
#define BERTH_PB_FREE(m)       berth_pb_free((m) ? &(m)->base : NULL)

#endif
