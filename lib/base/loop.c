/* One epoll loop: fds, timers on a timerfd, signals on a signalfd. */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "timeutil.h"
#include "xalloc.h"

#define LOOP_MAX_EVENTS 64
#define LOOP_NSIG       65

struct berth_loop {
    int epfd;
    bool stop;

    /* The batch being dispatched, so berth_loop_remove can blank the
     * pending events of a handler that goes away mid-batch. */
    struct epoll_event events[LOOP_MAX_EVENTS];
    int ev_pos, ev_count;

    /* Timers: a binary min-heap on deadline; the timerfd is set to
     * armed_at, which is never later than the earliest deadline. */
    berth_loop_io timer_io;
    int64_t armed_at;
    berth_loop_timer **heap;
    size_t heap_len, heap_cap;

    berth_loop_io signal_io;
    sigset_t sigmask;
    berth_loop_signal *signals[LOOP_NSIG];
};

static void timers_fire(berth_loop_io *io, uint32_t events);

int berth_loop_new(berth_loop **ret_loop, berth_error **err)
{
    berth_loop *loop = berth_xcalloc(1, sizeof(*loop));
    int tfd;

    loop->timer_io.fd = -1;
    loop->signal_io.fd = -1;
    loop->armed_at = INT64_MAX;
    sigemptyset(&loop->sigmask);
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        berth_error_errno(err, "epoll_create1");
        free(loop);
        return -1;
    }
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) {
        berth_error_errno(err, "timerfd_create");
        berth_loop_free(loop);
        return -1;
    }
    if (berth_loop_add(loop, &loop->timer_io, tfd, EPOLLIN, timers_fire, err) < 0) {
        close(tfd);
        berth_loop_free(loop);
        return -1;
    }
    *ret_loop = loop;
    return 0;
}

void berth_loop_free(berth_loop *loop)
{
    if (!loop)
        return;
    if (loop->timer_io.fd >= 0)
        close(loop->timer_io.fd);
    if (loop->signal_io.fd >= 0) {
        close(loop->signal_io.fd);
        pthread_sigmask(SIG_UNBLOCK, &loop->sigmask, NULL);
    }
    for (size_t i = 0; i < loop->heap_len; i++)
        loop->heap[i]->slot = 0;
    free(loop->heap);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop);
}

int berth_loop_add(berth_loop *loop, berth_loop_io *io, int fd, uint32_t events,
                   berth_loop_io_fn fn, berth_error **err)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return berth_error_errno(err, "watch fd %d", fd);
    io->fn = fn;
    io->fd = fd;
    return 0;
}

int berth_loop_modify(berth_loop *loop, berth_loop_io *io, uint32_t events, berth_error **err)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };

    if (io->fd < 0)
        return berth_error_set(err, EBADF, "modify watch: fd not registered");
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return berth_error_errno(err, "modify watch of fd %d", io->fd);
    return 0;
}

void berth_loop_remove(berth_loop *loop, berth_loop_io *io)
{
    if (io->fd < 0)
        return;
    /* Fails only if the fd was closed already, which drops it from the
     * epoll set anyway. */
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    for (int i = loop->ev_pos; i < loop->ev_count; i++)
        if (loop->events[i].data.ptr == io)
            loop->events[i].data.ptr = NULL;
}

/* ---- timers ---- */

static void heap_set(berth_loop *loop, size_t i, berth_loop_timer *t)
{
    loop->heap[i] = t;
    t->slot = i + 1;
}

static void heap_up(berth_loop *loop, size_t i)
{
    berth_loop_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (loop->heap[parent]->deadline <= t->deadline)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(berth_loop *loop, size_t i)
{
    berth_loop_timer *t = loop->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        int64_t best = t->deadline;

        if (l < loop->heap_len && loop->heap[l]->deadline < best) {
            min = l;
            best = loop->heap[l]->deadline;
        }
        if (r < loop->heap_len && loop->heap[r]->deadline < best)
            min = r;
        if (min == i)
            break;
        heap_set(loop, i, loop->heap[min]);
        i = min;
    }
    heap_set(loop, i, t);
}

static void heap_remove(berth_loop *loop, berth_loop_timer *t)
{
    size_t i = t->slot - 1;
    berth_loop_timer *last = loop->heap[--loop->heap_len];

    t->slot = 0;
    if (last == t)
        return;
    heap_set(loop, i, last);
    heap_up(loop, i);
    heap_down(loop, last->slot - 1);
}

/* Make the timerfd fire no later than the earliest deadline. Re-arming
 * only when the earliest deadline moved earlier keeps the common case
 * (a new deadline later than one already pending) free of syscalls; an
 * early wake-up just re-arms. */
static void timerfd_sync(berth_loop *loop)
{
    struct itimerspec its = { 0 };
    int64_t due;

    if (loop->heap_len == 0)
        return;
    due = loop->heap[0]->deadline;
    if (due >= loop->armed_at)
        return;
    if (due <= 0)
        due = 1; /* it_value 0 would disarm */
    its.it_value.tv_sec = due / BERTH_NSEC_PER_SEC;
    its.it_value.tv_nsec = due % BERTH_NSEC_PER_SEC;
    if (timerfd_settime(loop->timer_io.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        loop->armed_at = due;
}

void berth_loop_timer_init(berth_loop_timer *t, berth_loop_timer_fn fn)
{
    t->fn = fn;
    t->deadline = 0;
    t->slot = 0;
}

void berth_loop_timer_arm(berth_loop *loop, berth_loop_timer *t, int64_t deadline)
{
    if (t->slot) {
        int64_t old = t->deadline;

        t->deadline = deadline;
        if (deadline < old)
            heap_up(loop, t->slot - 1);
        else
            heap_down(loop, t->slot - 1);
    } else {
        if (loop->heap_len == loop->heap_cap) {
            size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
            loop->heap = berth_xreallocarray(loop->heap, cap, sizeof(*loop->heap));
            loop->heap_cap = cap;
        }
        t->deadline = deadline;
        loop->heap[loop->heap_len++] = t;
        heap_up(loop, loop->heap_len - 1);
    }
    timerfd_sync(loop);
}

void berth_loop_timer_cancel(berth_loop *loop, berth_loop_timer *t)
{
    if (t->slot)
        heap_remove(loop, t);
}

static void timers_fire(berth_loop_io *io, uint32_t events)
{
    berth_loop *loop = berth_container_of(io, berth_loop, timer_io);
    uint64_t expirations;
    int64_t now;

    (void)events;
    /* EAGAIN when woken for a deadline that was re-armed meanwhile. */
    (void)!berth_read_retry(io->fd, &expirations, sizeof(expirations));
    loop->armed_at = INT64_MAX;
    now = berth_now_mono_ns();
    while (loop->heap_len > 0 && loop->heap[0]->deadline <= now) {
        berth_loop_timer *t = loop->heap[0];

        heap_remove(loop, t);
        t->fn(t);
    }
    timerfd_sync(loop);
}

/* ---- signals ---- */

static void signals_fire(berth_loop_io *io, uint32_t events)
{
    berth_loop *loop = berth_container_of(io, berth_loop, signal_io);
    struct signalfd_siginfo si;

    (void)events;
    while (berth_read_retry(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        berth_loop_signal *s = si.ssi_signo < LOOP_NSIG ? loop->signals[si.ssi_signo] : NULL;

        if (s)
            s->fn(s, (int)si.ssi_signo);
    }
}

int berth_loop_add_signal(berth_loop *loop, berth_loop_signal *s, int signo,
                          berth_loop_signal_fn fn, berth_error **err)
{
    sigset_t one;
    int fd;

    if (signo <= 0 || signo >= LOOP_NSIG)
        return berth_error_set(err, EINVAL, "watch signal %d: no such signal", signo);
    if (loop->signals[signo])
        return berth_error_set(err, EEXIST, "watch signal %d: already watched", signo);
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigaddset(&loop->sigmask, signo);
    errno = pthread_sigmask(SIG_BLOCK, &one, NULL);
    if (errno != 0)
        return berth_error_errno(err, "block signal %d", signo);
    fd = signalfd(loop->signal_io.fd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return berth_error_errno(err, "signalfd for signal %d", signo);
    if (loop->signal_io.fd < 0 &&
        berth_loop_add(loop, &loop->signal_io, fd, EPOLLIN, signals_fire, err) < 0) {
        close(fd);
        return -1;
    }
    s->fn = fn;
    s->signo = signo;
    loop->signals[signo] = s;
    return 0;
}

/* ---- running ---- */

int berth_loop_run_once(berth_loop *loop, int64_t timeout_ns, berth_error **err)
{
    int timeout_ms, n, called = 0;

    if (timeout_ns < 0)
        timeout_ms = -1;
    else if (timeout_ns > (int64_t)INT32_MAX * BERTH_NSEC_PER_MSEC)
        timeout_ms = INT32_MAX;
    else
        timeout_ms = (int)((timeout_ns + BERTH_NSEC_PER_MSEC - 1) / BERTH_NSEC_PER_MSEC);
    n = epoll_wait(loop->epfd, loop->events, LOOP_MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return berth_error_errno(err, "epoll_wait");
    }
    loop->ev_count = n;
    for (loop->ev_pos = 0; loop->ev_pos < n; loop->ev_pos++) {
        berth_loop_io *io = loop->events[loop->ev_pos].data.ptr;

        if (!io)
            continue; /* removed by an earlier handler of this batch */
        io->fn(io, loop->events[loop->ev_pos].events);
        called++;
    }
    loop->ev_pos = loop->ev_count = 0;
    return called;
}

int berth_loop_run(berth_loop *loop, berth_error **err)
{
    loop->stop = false;
    while (!loop->stop)
        if (berth_loop_run_once(loop, -1, err) < 0)
            return -1;
    return 0;
}

void berth_loop_stop(berth_loop *loop)
{
    loop->stop = true;
}
