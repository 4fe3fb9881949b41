/* Test harness for berth-controller: the real daemon as a child process on
 * ipc:// addresses in a temp dir, berthctl run as a process while the test's
 * loop (and the fake agents on it) keeps running, and waiting for a
 * condition without ever asserting how long it took. */
#ifndef BERTH_TEST_CONTROLLER_HARNESS_H
#define BERTH_TEST_CONTROLLER_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "base/loop.h"

/* The helpers serve Check suites but run outside ck_assert's reach (loop
 * callbacks): one that cannot do its job says where and aborts, and Check
 * reports the test as failed. */
#define need(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: failed\n", __FILE__, __LINE__, #cond);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct harness {
    berth_loop *loop;
    char *dir;
    char rpc[256], events[256], stream[256], survey[256];
    char pub[512], key[512], log[512];
    const char *const *args; /* extra controller flags */
    pid_t controller;
} harness;

/* A temp dir and a loop; the controller gets args (NULL-terminated, may be
 * NULL) besides its addresses and state dir. */
void harness_init(harness *h, const char *const *args);
void harness_free(harness *h);

/* Start berth-controller and wait until it answers berthctl. */
void harness_start_controller(harness *h);
/* Start it and return at once (a follower on etcd answers only
 * ListControllers). */
void harness_spawn_controller(harness *h);
/* Send sig to it (by pid) and reap it. */
void harness_kill_controller(harness *h, int sig);

/* Run berthctl with args (NULL-terminated) against the controller; its
 * stdout and stderr in *ret_out, *ret_err (malloc'd; may be NULL), its exit
 * code returned. The loop runs meanwhile. */
int harness_berthctl(harness *h, char **ret_out, char **ret_err, const char *const *args);
/* The same, for the stdout of a command that must succeed. */
char *harness_berthctl_ok(harness *h, const char *const *args);

/* Run the loop until cond(data) holds; false after timeout_ms. */
bool harness_wait(harness *h, bool (*cond)(void *data), void *data, int timeout_ms);
/* Run the loop for about ms. */
void harness_run(harness *h, int ms);

/* A table as berthctl prints it: the rows (header first) split into cells
 * at runs of two or more spaces. */
typedef struct table {
    char ***rows;
    size_t n_rows, n_cols;
} table;

void table_parse(const char *text, table *ret);
void table_free(table *t);
/* The column with this header, or -1. */
int table_col(const table *t, const char *header);
/* The table again, without the named columns (ages change), as text. */
char *table_without(const char *text, const char *const *drop);

#endif
