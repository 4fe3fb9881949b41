/* The event loop every daemon runs: one epoll instance, fd handlers whose
 * object rides in ev.data.ptr, timers on one timerfd (a min-heap of
 * deadlines on CLOCK_MONOTONIC), signals through a signalfd.
 *
 * Single-threaded: a loop and everything registered on it belong to one
 * thread. Nothing here blocks except berth_loop_run/run_once waiting in
 * epoll_wait. Handlers may add, remove and free other handlers and timers
 * (their own included) while being dispatched: an fd removed during a batch
 * gets no further events from that batch. */
#ifndef BERTH_BASE_LOOP_H
#define BERTH_BASE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct berth_loop berth_loop;

/* An fd handler. Embed it in your object and recover the object with
 * container_of-style arithmetic (berth_container_of). */
typedef struct berth_loop_io berth_loop_io;
typedef void (*berth_loop_io_fn)(berth_loop_io *io, uint32_t events);
struct berth_loop_io {
    berth_loop_io_fn fn;
    int fd; /* -1 when not registered */
};

/* A one-shot timer; re-arm it from its callback to repeat. */
typedef struct berth_loop_timer berth_loop_timer;
typedef void (*berth_loop_timer_fn)(berth_loop_timer *t);
struct berth_loop_timer {
    berth_loop_timer_fn fn;
    int64_t deadline; /* CLOCK_MONOTONIC ns */
    size_t slot;      /* index in the heap + 1; 0 = not armed */
};

/* A signal handler, called from the loop (never from signal context). */
typedef struct berth_loop_signal berth_loop_signal;
typedef void (*berth_loop_signal_fn)(berth_loop_signal *s, int signo);
struct berth_loop_signal {
    berth_loop_signal_fn fn;
    int signo;
};

#define berth_container_of(ptr, type, member)                                                      \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

int berth_loop_new(berth_loop **ret_loop, berth_error **err);
/* Free the loop and its own fds. Registered handlers are not touched (their
 * owners free them); registered signals are unblocked again. NULL is fine. */
void berth_loop_free(berth_loop *loop);

/* Watch fd for events (EPOLLIN, EPOLLOUT ...; level-triggered unless
 * EPOLLET is given) and call fn from the loop. The fd stays owned by the
 * caller, who must berth_loop_remove it before closing it. */
int berth_loop_add(berth_loop *loop, berth_loop_io *io, int fd, uint32_t events,
                   berth_loop_io_fn fn, berth_error **err);
/* Change the watched events (0 = watch nothing for now). */
int berth_loop_modify(berth_loop *loop, berth_loop_io *io, uint32_t events, berth_error **err);
/* Stop watching; io->fd becomes -1. A no-op for an unregistered io. */
void berth_loop_remove(berth_loop *loop, berth_loop_io *io);

/* Prepare a timer (not armed). */
void berth_loop_timer_init(berth_loop_timer *t, berth_loop_timer_fn fn);
/* (Re)arm t to fire once at deadline (CLOCK_MONOTONIC ns, see
 * berth_now_mono_ns). A deadline in the past fires at the next iteration. */
void berth_loop_timer_arm(berth_loop *loop, berth_loop_timer *t, int64_t deadline);
/* Disarm; a no-op when not armed. */
void berth_loop_timer_cancel(berth_loop *loop, berth_loop_timer *t);
static inline bool berth_loop_timer_armed(const berth_loop_timer *t)
{
    return t->slot != 0;
}

/* Deliver signo through the loop: the signal is blocked in the calling
 * thread (pthread_sigmask) and read from a signalfd. One handler per
 * signal. Block the signal in every other thread before creating them. */
int berth_loop_add_signal(berth_loop *loop, berth_loop_signal *s, int signo,
                          berth_loop_signal_fn fn, berth_error **err);

/* Wait up to timeout_ns (-1 = forever, 0 = just poll) for events and
 * dispatch them, due timers included. Returns the number of handlers called
 * (0 on timeout). */
int berth_loop_run_once(berth_loop *loop, int64_t timeout_ns, berth_error **err);
/* Dispatch until berth_loop_stop is called (from a handler). */
int berth_loop_run(berth_loop *loop, berth_error **err);
void berth_loop_stop(berth_loop *loop);

#endif
