/* The event loop: fd handlers, timers in deadline order, cancellation,
 * removal of a handler while its batch is dispatched, signals. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "check_main.h"

static berth_loop *loop;

static void setup(void)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_new(&loop, &err), 0);
}

static void teardown(void)
{
    berth_loop_free(loop);
    loop = NULL;
}

typedef struct tick {
    berth_loop_timer t;
    int id;
    int *order;
    int *n;
} tick;

static void on_tick(berth_loop_timer *t)
{
    tick *k = berth_container_of(t, tick, t);

    k->order[(*k->n)++] = k->id;
}

static void run_until(int *n, int want)
{
    int64_t give_up = berth_now_mono_ns() + 10 * BERTH_NSEC_PER_SEC;

    while (*n < want && berth_now_mono_ns() < give_up)
        ck_assert_int_ge(berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL), 0);
}

START_TEST(timers_fire_in_deadline_order)
{
    int order[8] = { 0 }, n = 0;
    tick k[5];
    int64_t now = berth_now_mono_ns();
    /* armed out of order; one re-armed later, one cancelled */
    int64_t at[5] = { 40, 10, 30, 20, 50 };

    for (int i = 0; i < 5; i++) {
        k[i] = (tick){ .id = i, .order = order, .n = &n };
        berth_loop_timer_init(&k[i].t, on_tick);
        berth_loop_timer_arm(loop, &k[i].t, now + at[i] * BERTH_NSEC_PER_MSEC);
    }
    ck_assert(berth_loop_timer_armed(&k[4].t));
    berth_loop_timer_cancel(loop, &k[4].t);
    ck_assert(!berth_loop_timer_armed(&k[4].t));
    /* 1 moves from 10 ms to 60 ms: last now */
    berth_loop_timer_arm(loop, &k[1].t, now + 60 * BERTH_NSEC_PER_MSEC);
    run_until(&n, 4);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(order[0], 3);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 0);
    ck_assert_int_eq(order[3], 1);
    /* nothing else fires */
    ck_assert_int_eq(berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL), 0);
    ck_assert_int_eq(n, 4);
}
END_TEST

START_TEST(past_deadline_fires_at_once)
{
    int order[2] = { 0 }, n = 0;
    tick k = { .id = 7, .order = order, .n = &n };

    berth_loop_timer_init(&k.t, on_tick);
    berth_loop_timer_arm(loop, &k.t, 0);
    run_until(&n, 1);
    ck_assert_int_eq(order[0], 7);
}
END_TEST

typedef struct evsrc {
    berth_loop_io io;
    int fd;
    int calls;
    struct evsrc *victim; /* removed by this handler */
} evsrc;

static void on_event(berth_loop_io *io, uint32_t events)
{
    evsrc *e = berth_container_of(io, evsrc, io);
    uint64_t v;

    ck_assert(events & EPOLLIN);
    ck_assert_int_eq(read(e->fd, &v, sizeof(v)), sizeof(v));
    e->calls++;
    if (e->victim)
        berth_loop_remove(loop, &e->victim->io);
}

START_TEST(remove_during_dispatch_drops_pending_events)
{
    evsrc a = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    evsrc b = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    uint64_t one = 1;

    a.victim = &b;
    b.victim = &a;
    ck_assert_int_eq(berth_loop_add(loop, &a.io, a.fd, EPOLLIN, on_event, NULL), 0);
    ck_assert_int_eq(berth_loop_add(loop, &b.io, b.fd, EPOLLIN, on_event, NULL), 0);
    ck_assert_int_eq(write(a.fd, &one, sizeof(one)), sizeof(one));
    ck_assert_int_eq(write(b.fd, &one, sizeof(one)), sizeof(one));
    /* Both are ready in one batch; whichever runs first removes the other,
     * whose event must not be dispatched. */
    ck_assert_int_eq(berth_loop_run_once(loop, 1000 * BERTH_NSEC_PER_MSEC, NULL), 1);
    ck_assert_int_eq(a.calls + b.calls, 1);
    ck_assert_int_eq(a.io.fd == -1 || b.io.fd == -1, 1);
    berth_loop_remove(loop, &a.io);
    berth_loop_remove(loop, &b.io);
    close(a.fd);
    close(b.fd);
}
END_TEST

typedef struct sigcatch {
    berth_loop_signal s;
    int got;
} sigcatch;

static void on_signal(berth_loop_signal *s, int signo)
{
    sigcatch *c = berth_container_of(s, sigcatch, s);

    c->got = signo;
}

START_TEST(signals_arrive_through_the_loop)
{
    sigcatch c = { 0 };
    berth_error *err = NULL;

    ck_assert_int_eq(berth_loop_add_signal(loop, &c.s, SIGUSR1, on_signal, &err), 0);
    ck_assert_berth_error(berth_loop_add_signal(loop, &c.s, SIGUSR1, on_signal, &err), err,
                          "watch signal 10: already watched");
    ck_assert_int_eq(raise(SIGUSR1), 0); /* blocked: queued for the signalfd */
    for (int i = 0; i < 50 && !c.got; i++)
        berth_loop_run_once(loop, 100 * BERTH_NSEC_PER_MSEC, NULL);
    ck_assert_int_eq(c.got, SIGUSR1);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/loop");
    TCase *tc = tcase_create("loop");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, timers_fire_in_deadline_order);
    tcase_add_test(tc, past_deadline_fires_at_once);
    tcase_add_test(tc, remove_during_dispatch_drops_pending_events);
    tcase_add_test(tc, signals_arrive_through_the_loop);
    suite_add_tcase(s, tc);
    return s;
}
