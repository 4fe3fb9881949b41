/* The heartbeat's status digest against values computed independently
 * (Python's hashlib.blake2b(digest_size=32), first 8 bytes little-endian),
 * so any other implementation of the contract can be checked the same
 * way. */
#include <check.h>

#include "check_main.h"
#include "protocol/digest.h"

START_TEST(empty_is_the_hash_of_nothing)
{
    ck_assert_uint_eq(berth_status_digest(NULL, 0), 0xb243e526c051570eULL);
}
END_TEST

START_TEST(sorted_by_id_whatever_the_order)
{
    ContainerStatus a = CONTAINER_STATUS_INIT, b = CONTAINER_STATUS_INIT, c = CONTAINER_STATUS_INIT;
    const ContainerStatus *order1[] = { &a, &b, &c }, *order2[] = { &c, &a, &b };

    a.id = "a-0";
    a.state = CONTAINER_RUNNING;
    b.id = "b-1";
    b.state = CONTAINER_EXITED;
    b.restart_count = 2;
    b.exit_code = 3;
    c.id = "c";
    c.state = CONTAINER_OOM_KILLED;
    c.exit_code = -1;
    c.signal = 9;
    /* "a-0\t4\t0\t0\t0\nb-1\t5\t2\t3\t0\nc\t6\t0\t-1\t9\n" */
    ck_assert_uint_eq(berth_status_digest(order1, 3), 0x37c2211561c3c5a4ULL);
    ck_assert_uint_eq(berth_status_digest(order2, 3), 0x37c2211561c3c5a4ULL);
    /* the array itself is left as it was */
    ck_assert_ptr_eq(order2[0], &c);
    /* any field of the definition changes it */
    b.restart_count = 3;
    ck_assert_uint_ne(berth_status_digest(order1, 3), 0x37c2211561c3c5a4ULL);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("digest");

    tcase_add_test(tc, empty_is_the_hash_of_nothing);
    tcase_add_test(tc, sorted_by_id_whatever_the_order);
    suite_add_tcase(s, tc);
    return s;
}
