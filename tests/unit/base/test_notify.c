/* systemd notifications (lib/systemd/notify.h) against a socket of our
 * own, as systemd's: READY=1 with a status, STATUS= only on change,
 * WATCHDOG=1 from the loop at half the period, STOPPING=1, the variables
 * out of the environment, and nothing at all outside systemd. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "systemd/notify.h"

static int sock = -1;
static char sock_path[108];
static berth_loop *loop;
static char status_text[64] = "starting";

static void setup(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    snprintf(sock_path, sizeof(sock_path), "/tmp/berth-notify-test-%d", (int)getpid());
    unlink(sock_path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(sock, 0);
    ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(berth_loop_new(&loop, NULL), 0);
    snprintf(status_text, sizeof(status_text), "starting");
}

static void teardown(void)
{
    berth_loop_free(loop);
    close(sock);
    unlink(sock_path);
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(void)
{
    static char buf[512];
    ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void status(char *buf, size_t size, void *data)
{
    ck_assert_ptr_eq(data, status_text);
    snprintf(buf, size, "%s", status_text);
}

/* Turn the loop for ms. */
static void run_ms(int ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)ms * BERTH_NSEC_PER_MSEC;

    while (berth_now_mono_ns() < end)
        ck_assert_int_ge(berth_loop_run_once(loop, 10 * BERTH_NSEC_PER_MSEC, NULL), 0);
}

START_TEST(under_systemd)
{
    berth_notify *n;
    int pings = 0;

    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "100000", 1);
    ck_assert_int_eq(berth_notify_open(loop, status, status_text, &n, NULL), 0);
    ck_assert(berth_notify_enabled(n));
    ck_assert_int_eq(berth_notify_watchdog_ns(n), 100 * BERTH_NSEC_PER_MSEC);
    /* nothing a child could inherit */
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
    ck_assert_str_eq(next_msg(), "");

    berth_notify_ready(n);
    ck_assert_str_eq(next_msg(), "READY=1\nSTATUS=starting");
    ck_assert_str_eq(next_msg(), "WATCHDOG=1");
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));

    /* pings every 50 ms, from the loop; the status once, when it changed */
    snprintf(status_text, sizeof(status_text), "serving");
    run_ms(330);
    for (const char *m; *(m = next_msg()); pings++) {
        if (pings == 0)
            ck_assert_str_eq(m, "WATCHDOG=1\nSTATUS=serving");
        else
            ck_assert_str_eq(m, "WATCHDOG=1");
    }
    ck_assert_msg(pings >= 4, "%d pings in 330 ms", pings);

    /* an explicit update sends a change at once, and only a change */
    snprintf(status_text, sizeof(status_text), "busy");
    berth_notify_status_update(n);
    ck_assert_str_eq(next_msg(), "STATUS=busy");
    berth_notify_status_update(n);
    ck_assert_str_eq(next_msg(), "");

    berth_notify_stopping(n, "stopping");
    ck_assert_str_eq(next_msg(), "STOPPING=1\nSTATUS=stopping");
    run_ms(120); /* no ping after STOPPING */
    ck_assert_str_eq(next_msg(), "");
    berth_notify_close(n);
}
END_TEST

/* WATCHDOG_PID naming another process: the watchdog is not ours. */
START_TEST(watchdog_of_another_pid)
{
    berth_notify *n;
    char pid[32];

    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("NOTIFY_SOCKET", sock_path, 1);
    setenv("WATCHDOG_USEC", "100000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(berth_notify_open(loop, NULL, NULL, &n, NULL), 0);
    ck_assert_int_eq(berth_notify_watchdog_ns(n), 0);
    ck_assert_ptr_null(getenv("WATCHDOG_PID"));
    berth_notify_ready(n);
    ck_assert_str_eq(next_msg(), "READY=1");
    run_ms(150);
    ck_assert_str_eq(next_msg(), "");
    berth_notify_close(n);
}
END_TEST

START_TEST(outside_systemd)
{
    berth_notify *n;

    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "100000", 1);
    ck_assert_int_eq(berth_notify_open(loop, status, status_text, &n, NULL), 0);
    ck_assert(!berth_notify_enabled(n));
    ck_assert_int_eq(berth_notify_watchdog_ns(n), 0);
    berth_notify_ready(n);
    berth_notify_status_update(n);
    berth_notify_stopping(n, "x");
    run_ms(120);
    ck_assert_str_eq(next_msg(), "");
    berth_notify_close(n);
    /* and NULL everywhere is fine */
    berth_notify_ready(NULL);
    berth_notify_stopping(NULL, "x");
    berth_notify_close(NULL);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("notify");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, under_systemd);
    tcase_add_test(tc, watchdog_of_another_pid);
    tcase_add_test(tc, outside_systemd);
    suite_add_tcase(s, tc);
    return s;
}
