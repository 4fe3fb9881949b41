/* The envelope contract: codes numbered as gRPC numbers them, and a
 * round trip through protoc-c's generated code. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "berth/proto/v1.h"
#include "check_main.h"

START_TEST(grpc_code_numbers)
{
    /* These numbers are the contract with every other implementation. */
    ck_assert_int_eq(CODE_OK, 0);
    ck_assert_int_eq(CODE_INVALID_ARGUMENT, 3);
    ck_assert_int_eq(CODE_DEADLINE_EXCEEDED, 4);
    ck_assert_int_eq(CODE_NOT_FOUND, 5);
    ck_assert_int_eq(CODE_PERMISSION_DENIED, 7);
    ck_assert_int_eq(CODE_UNIMPLEMENTED, 12);
    ck_assert_int_eq(CODE_UNAVAILABLE, 14);
    ck_assert_int_eq(CODE_UNAUTHENTICATED, 16);
    ck_assert_str_eq(protobuf_c_enum_descriptor_get_value(&code_descriptor, 4)->name,
                     "DEADLINE_EXCEEDED");
}
END_TEST

START_TEST(round_trip)
{
    Envelope env = ENVELOPE_INIT, *back;
    Status st = STATUS_INIT;
    uint8_t body[3] = { 1, 2, 3 }, *buf;
    size_t len;

    env.kind = FRAME_KIND_RESPONSE;
    env.method = "berth.v1.Controller/Register";
    env.call_id = 42;
    env.timeout_ms = 5000;
    st.code = CODE_NOT_FOUND;
    st.message = "node n1 not found";
    env.status = &st;
    env.body.data = body;
    env.body.len = sizeof(body);
    len = envelope_get_packed_size(&env);
    buf = malloc(len);
    ck_assert_uint_eq(envelope_pack(&env, buf), len);

    back = envelope_unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(back->kind, FRAME_KIND_RESPONSE);
    ck_assert_str_eq(back->method, "berth.v1.Controller/Register");
    ck_assert_uint_eq(back->call_id, 42);
    ck_assert_uint_eq(back->timeout_ms, 5000);
    ck_assert_int_eq(back->status->code, CODE_NOT_FOUND);
    ck_assert_str_eq(back->status->message, "node n1 not found");
    ck_assert_uint_eq(back->body.len, 3);
    ck_assert_int_eq(memcmp(back->body.data, body, 3), 0);
    envelope_free_unpacked(back, NULL);

    /* A truncated frame is rejected, not half-decoded. */
    ck_assert_ptr_null(envelope_unpack(NULL, len - 1, buf));
    free(buf);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("proto/envelope");
    TCase *tc = tcase_create("envelope");

    tcase_add_test(tc, grpc_code_numbers);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return s;
}
