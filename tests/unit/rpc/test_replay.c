/* Replay windows (reordering tolerated, repeats and stragglers refused)
 * and the nonce set (remembered until expiry, never forgotten early). */
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "rpc/replay.h"

START_TEST(window_accepts_each_counter_once)
{
    berth_replay_window w = { 0 };

    ck_assert_int_eq(berth_replay_check(&w, 0), BERTH_REPLAY_TOO_OLD);
    for (uint64_t c = 1; c <= 10; c++) {
        ck_assert_int_eq(berth_replay_check(&w, c), BERTH_REPLAY_NEW);
        berth_replay_mark(&w, c);
        ck_assert_int_eq(berth_replay_check(&w, c), BERTH_REPLAY_SEEN);
    }
    /* out of order within the window */
    ck_assert_int_eq(berth_replay_check(&w, 15), BERTH_REPLAY_NEW);
    berth_replay_mark(&w, 15);
    ck_assert_int_eq(berth_replay_check(&w, 12), BERTH_REPLAY_NEW);
    berth_replay_mark(&w, 12);
    ck_assert_int_eq(berth_replay_check(&w, 12), BERTH_REPLAY_SEEN);
    ck_assert_int_eq(berth_replay_check(&w, 11), BERTH_REPLAY_NEW);
    ck_assert_int_eq(berth_replay_check(&w, 5), BERTH_REPLAY_SEEN);
}
END_TEST

START_TEST(window_slides)
{
    berth_replay_window w = { 0 };

    berth_replay_mark(&w, 3);
    berth_replay_mark(&w, 3 + BERTH_REPLAY_WINDOW - 1);
    /* 3 is still inside: seen */
    ck_assert_int_eq(berth_replay_check(&w, 3), BERTH_REPLAY_SEEN);
    berth_replay_mark(&w, 3 + BERTH_REPLAY_WINDOW);
    /* now it slid out: too old, never accepted again */
    ck_assert_int_eq(berth_replay_check(&w, 3), BERTH_REPLAY_TOO_OLD);
    ck_assert_int_eq(berth_replay_check(&w, 4), BERTH_REPLAY_NEW);
    /* a jump past the whole window forgets everything below */
    berth_replay_mark(&w, 100000);
    ck_assert_int_eq(berth_replay_check(&w, 100000 - BERTH_REPLAY_WINDOW + 1), BERTH_REPLAY_NEW);
    ck_assert_int_eq(berth_replay_check(&w, 100000 - BERTH_REPLAY_WINDOW), BERTH_REPLAY_TOO_OLD);
    /* a bit left from before the jump does not linger */
    ck_assert_int_eq(berth_replay_check(&w, 99999), BERTH_REPLAY_NEW);
}
END_TEST

/* Found by fuzz_frame: marking UINT64_MAX after a counter just below it
 * never returned (the slide counted up to the counter and wrapped). */
START_TEST(window_reaches_the_last_counter)
{
    berth_replay_window w = { 0 };

    berth_replay_mark(&w, UINT64_MAX - 5);
    ck_assert_int_eq(berth_replay_check(&w, UINT64_MAX), BERTH_REPLAY_NEW);
    berth_replay_mark(&w, UINT64_MAX);
    ck_assert_int_eq(berth_replay_check(&w, UINT64_MAX), BERTH_REPLAY_SEEN);
    ck_assert_int_eq(berth_replay_check(&w, UINT64_MAX - 5), BERTH_REPLAY_SEEN);
    ck_assert_int_eq(berth_replay_check(&w, UINT64_MAX - 1), BERTH_REPLAY_NEW);
    ck_assert_int_eq(berth_replay_check(&w, UINT64_MAX - BERTH_REPLAY_WINDOW),
                     BERTH_REPLAY_TOO_OLD);
}
END_TEST

START_TEST(nonce_set_remembers_until_expiry)
{
    berth_nonce_set *s = berth_nonce_set_new(3, 0);
    uint8_t k1[8] = { 1 }, k2[8] = { 2 };

    ck_assert_int_eq(berth_nonce_set_add(s, k1, 7, 100, 0), 0);
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 7, 100, 0), 1);
    ck_assert_int_eq(berth_nonce_set_add(s, k2, 7, 100, 0), 0); /* other key */
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 8, 110, 10), 0);
    /* full of unexpired nonces: refuse rather than forget one early */
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 9, 120, 20), -1);
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 7, 120, 50), 1);
    /* at 100 the first two expire */
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 9, 200, 100), 0);
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 7, 200, 100), 0);
    ck_assert_int_eq(berth_nonce_set_add(s, k1, 8, 200, 100), 1);
    berth_nonce_set_free(s);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/replay");
    TCase *tc = tcase_create("replay");

    tcase_add_test(tc, window_accepts_each_counter_once);
    tcase_add_test(tc, window_slides);
    tcase_add_test(tc, window_reaches_the_last_counter);
    tcase_add_test(tc, nonce_set_remembers_until_expiry);
    suite_add_tcase(s, tc);
    return s;
}
