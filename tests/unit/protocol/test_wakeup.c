/* Wake-ups as a node reads them: one to it, or one to every node that lists
 * it, or one that lists others only. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "protocol/wakeup.h"

static const uint8_t self[BERTH_WAKEUP_ID_LEN] = { 1, 2,  3,  4,  5,  6,  7,  8,
                                                   9, 10, 11, 12, 13, 14, 15, 16 };

START_TEST(to_the_node)
{
    WakeUp w = WAKE_UP_INIT;
    uint64_t gen = 0;

    w.generation = 7;
    ck_assert(berth_wakeup_generation(&w, self, &gen));
    ck_assert_uint_eq(gen, 7);
}
END_TEST

START_TEST(to_every_node)
{
    WakeUp w = WAKE_UP_INIT;
    NodeGeneration g[3], *p[3];
    uint8_t other[BERTH_WAKEUP_ID_LEN], shorter[BERTH_WAKEUP_ID_LEN - 1];
    uint64_t gen = 0;

    memcpy(other, self, sizeof(other));
    other[15] = 0;
    memcpy(shorter, self, sizeof(shorter));
    for (int i = 0; i < 3; i++) {
        node_generation_init(&g[i]);
        p[i] = &g[i];
    }
    g[0].node_id.data = other;
    g[0].node_id.len = sizeof(other);
    g[0].generation = 3;
    g[1].node_id.data = shorter; /* a prefix of self is not self */
    g[1].node_id.len = sizeof(shorter);
    g[1].generation = 4;
    g[2].node_id.data = (uint8_t *)self;
    g[2].node_id.len = sizeof(self);
    g[2].generation = 9;
    w.nodes = p;
    w.generation = 1; /* unset by the contract: ignored when nodes are listed */
    w.n_nodes = 3;
    ck_assert(berth_wakeup_generation(&w, self, &gen));
    ck_assert_uint_eq(gen, 9);
    /* listing others only: not for this node */
    w.n_nodes = 2;
    gen = 0;
    ck_assert(!berth_wakeup_generation(&w, self, &gen));
    ck_assert_uint_eq(gen, 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("wakeup");
    TCase *tc = tcase_create("read");

    tcase_add_test(tc, to_the_node);
    tcase_add_test(tc, to_every_node);
    suite_add_tcase(s, tc);
    return s;
}
