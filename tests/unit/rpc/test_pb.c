/* Bounded decoding of what arrives off the wire: refused when protobuf-c
 * would take it but could not take its own encoding of it back; unknown
 * fields otherwise kept; the visitor reaching every message inside one. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "berth/proto/v1.h"
#include "check_main.h"
#include "rpc/envelope.h"

/* StopRequest{container_id: "web-1"} */
#define STOP_WEB1 0x0a, 0x05, 'w', 'e', 'b', '-', '1'

/* Found by fuzz_request: field number 0 in a two-byte tag. */
START_TEST(field_number_zero_is_refused)
{
    static const uint8_t stop[] = { STOP_WEB1, 0x82, 0x00, 0x00 };
    /* Assignments{containers: [ContainerSpec{id: "web-1", field 0}]} */
    static const uint8_t nested[] = { 0x1a, 0x0a, STOP_WEB1, 0x82, 0x00, 0x00 };

    ck_assert_ptr_null(berth_pb_unpack(&stop_request_descriptor, stop, sizeof(stop)));
    ck_assert_ptr_null(berth_pb_unpack(&assignments_descriptor, nested, sizeof(nested)));
}
END_TEST

START_TEST(unknown_fields_are_kept)
{
    /* field 282, length-delimited: a field of a newer sender */
    static const uint8_t in[] = { STOP_WEB1, 0xd2, 0x11, 0x01, 'x' };
    ProtobufCMessage *m = berth_pb_unpack(&stop_request_descriptor, in, sizeof(in));
    uint8_t out[sizeof(in)];

    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(((StopRequest *)m)->container_id, "web-1");
    ck_assert_uint_eq(m->n_unknown_fields, 1);
    ck_assert_uint_eq(protobuf_c_message_get_packed_size(m), sizeof(in));
    protobuf_c_message_pack(m, out);
    ck_assert_mem_eq(out, in, sizeof(in));
    berth_pb_free(m);
}
END_TEST

static bool count(const ProtobufCMessage *m, void *data)
{
    size_t *n = data;

    (void)m;
    return ++*n != 3;
}

START_TEST(visit_reaches_every_message)
{
    ContainerSpec s = CONTAINER_SPEC_INIT;
    Mount a = MOUNT_INIT, b = MOUNT_INIT;
    Mount *mounts[] = { &a, &b };
    Probe probe = PROBE_INIT;
    TcpAction tcp = TCP_ACTION_INIT;
    size_t n = 0;

    s.mounts = mounts;
    s.n_mounts = 2;
    probe.action_case = PROBE_ACTION_TCP;
    probe.tcp = &tcp;
    s.liveness_probe = &probe;
    /* the spec, two mounts, the probe, its tcp action (the exec member of
     * the oneof shares tcp's storage and is not visited); stopped at 3 */
    ck_assert(!berth_pb_visit(&s.base, count, &n));
    ck_assert_uint_eq(n, 3);
    n = 10;
    ck_assert(berth_pb_visit(&s.base, count, &n));
    ck_assert_uint_eq(n, 15);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/pb");
    TCase *tc = tcase_create("pb");

    tcase_add_test(tc, field_number_zero_is_refused);
    tcase_add_test(tc, unknown_fields_are_kept);
    tcase_add_test(tc, visit_reaches_every_message);
    suite_add_tcase(s, tc);
    return s;
}
