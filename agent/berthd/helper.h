/* Helper processes of berthd's, for work that blocks (a pull, a CNI
 * plugin chain): exec'd with a clean signal state, dying with berthd, and
 * followed from the loop, never waited for: what they write on stdout is
 * read as it comes, their exit is reaped through their pidfd.
 *
 * Arrows: pulls and pods start them; below, the loop. */
#ifndef BERTHD_HELPER_H
#define BERTHD_HELPER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/loop.h"

/* fork and exec argv with stdout to out (-1: /dev/null), stdin
 * /dev/null, dying with berthd (PR_SET_PDEATHSIG), with a clean signal
 * state: the child's pid, or -1 (errno). */
pid_t helper_spawn(char *const argv[], int out);

/* Whether the child behind pidfd has ended (reaped now, how in *si). A
 * child that cannot be waited for (not ours any more) counts as ended,
 * killed: its pidfd would wake the loop for ever. */
bool helper_reaped(int pidfd, siginfo_t *si);

/* Take io out of the loop and close its fd (-1 after; nothing when it
 * is -1 already). */
void helper_io_close(berth_loop *loop, berth_loop_io *io);

/* A helper whose whole output is wanted at its end. */
typedef struct helper helper;

/* Called once, from the loop, when h ended: code its exit status (128+N
 * when killed by signal N), out what it wrote (at most HELPER_OUT_MAX
 * bytes, NUL-terminated, valid during the call). h is freed after. */
typedef void (*helper_done_fn)(helper *h, int code, const char *out, void *data);

#define HELPER_OUT_MAX 65536

/* Start argv[0] with argv. Returns at once. */
int helper_start(berth_loop *loop, char *const argv[], helper_done_fn done, void *data,
                 helper **ret, berth_error **err);
/* Kill h (SIGKILL), reap it and free it: done is not called. NULL is
 * fine. */
void helper_kill(helper *h);
/* Stop following h (berthd closes): it runs on, unwatched, until berthd
 * is gone; done is not called. NULL is fine. */
void helper_abandon(helper *h);

#endif
