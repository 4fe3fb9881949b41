/* The controller test harness. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"

extern char **environ;

void harness_init(harness *h, const char *const *args)
{
    char tmpl[] = "/tmp/berth-ctl-test-XXXXXX";

    memset(h, 0, sizeof(*h));
    need(mkdtemp(tmpl));
    h->dir = strdup(tmpl);
    h->args = args;
    snprintf(h->rpc, sizeof(h->rpc), "ipc://%s/rpc", h->dir);
    snprintf(h->events, sizeof(h->events), "ipc://%s/events", h->dir);
    snprintf(h->stream, sizeof(h->stream), "ipc://%s/stream", h->dir);
    snprintf(h->survey, sizeof(h->survey), "ipc://%s/survey", h->dir);
    snprintf(h->pub, sizeof(h->pub), "%s/state/controller.pub", h->dir);
    snprintf(h->key, sizeof(h->key), "%s/state/admin.key", h->dir);
    snprintf(h->log, sizeof(h->log), "%s/controller.log", h->dir);
    need(berth_loop_new(&h->loop, NULL) == 0);
}

void harness_free(harness *h)
{
    if (h->controller > 0)
        harness_kill_controller(h, SIGTERM);
    if (getenv("BERTH_TEST_SHOW_LOG")) {
        char *log = NULL;

        berth_read_file_at(AT_FDCWD, h->log, 4 << 20, &log, NULL, NULL);
        fprintf(stderr, "---- controller log ----\n%s", log ? log : "");
        free(log);
    }
    berth_loop_free(h->loop);
    berth_rm_rf_at(AT_FDCWD, h->dir, NULL);
    free(h->dir);
}

void harness_run(harness *h, int ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)ms * BERTH_NSEC_PER_MSEC;

    for (int64_t now; (now = berth_now_mono_ns()) < end;)
        berth_loop_run_once(h->loop, end - now, NULL);
}

bool harness_wait(harness *h, bool (*cond)(void *data), void *data, int timeout_ms)
{
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;

    while (!cond(data)) {
        if (berth_now_mono_ns() >= end)
            return false;
        harness_run(h, 20);
    }
    return true;
}

static bool controller_answers(void *data)
{
    harness *h = data;
    const char *args[] = { "get", "nodes", NULL };
    char *out = NULL, *err = NULL;
    int code;

    if (access(h->pub, R_OK) != 0)
        return false;
    code = harness_berthctl(h, &out, &err, args);
    free(out);
    free(err);
    return code == 0;
}

void harness_start_controller(harness *h)
{
    harness_spawn_controller(h);
    if (!harness_wait(h, controller_answers, h, 20000)) {
        char *log = NULL;

        berth_read_file_at(AT_FDCWD, h->log, 1 << 20, &log, NULL, NULL);
        fprintf(stderr, "controller did not come up; its log:\n%s\n", log ? log : "");
        free(log);
        abort();
    }
}

void harness_spawn_controller(harness *h)
{
    char state[512];
    const char *argv[64];
    int n = 0, fd;
    posix_spawn_file_actions_t fa;

    snprintf(state, sizeof(state), "%s/state", h->dir);
    argv[n++] = BERTH_CONTROLLER_BIN;
    argv[n++] = "--state-dir";
    argv[n++] = state;
    argv[n++] = "--rpc";
    argv[n++] = h->rpc;
    argv[n++] = "--events";
    argv[n++] = h->events;
    argv[n++] = "--stream";
    argv[n++] = h->stream;
    argv[n++] = "--survey";
    argv[n++] = h->survey;
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    for (int i = 0; h->args && h->args[i] && n < 62; i++)
        argv[n++] = h->args[i];
    argv[n] = NULL;
    fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    need(fd >= 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    need(posix_spawn(&h->controller, argv[0], &fa, NULL, (char *const *)argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
}

void harness_kill_controller(harness *h, int sig)
{
    int status;

    if (h->controller <= 0)
        return;
    kill(h->controller, sig);
    berth_waitpid(h->controller, &status, 0);
    h->controller = 0;
}

/* ---- berthctl as a process, the loop running meanwhile ---- */

typedef struct sink {
    berth_loop_io io;
    char *buf;
    size_t len, cap;
    bool done;
} sink;

static void on_output(berth_loop_io *io, uint32_t events)
{
    sink *s = berth_container_of(io, sink, io);
    char chunk[4096];
    ssize_t n;

    (void)events;
    n = berth_read_retry(io->fd, chunk, sizeof(chunk));
    if (n <= 0) {
        s->done = true;
        return;
    }
    if (s->len + (size_t)n + 1 > s->cap) {
        s->cap = 2 * (s->len + (size_t)n + 1);
        s->buf = realloc(s->buf, s->cap);
        need(s->buf);
    }
    memcpy(s->buf + s->len, chunk, (size_t)n);
    s->len += (size_t)n;
    s->buf[s->len] = '\0';
}

static bool both_done(void *data)
{
    sink *s = data;

    return s[0].done && s[1].done;
}

int harness_berthctl(harness *h, char **ret_out, char **ret_err, const char *const *args)
{
    const char *argv[64];
    char env_ctl[300], env_pub[600], env_key[600], env_home[600];
    char *envp[] = {
        env_ctl, env_pub, env_key, env_home, "NO_COLOR=1", "PATH=/usr/bin:/bin", NULL
    };
    posix_spawn_file_actions_t fa;
    int out[2], err[2], n = 0, status;
    sink sinks[2] = { 0 };
    pid_t pid;

    argv[n++] = BERTHCTL_BIN;
    for (int i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(env_ctl, sizeof(env_ctl), "BERTH_CONTROLLER=%s", h->rpc);
    snprintf(env_pub, sizeof(env_pub), "BERTH_CONTROLLER_KEY=%s", h->pub);
    snprintf(env_key, sizeof(env_key), "BERTH_KEY=%s", h->key);
    snprintf(env_home, sizeof(env_home), "HOME=%s", h->dir);
    need(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    need(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, envp) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    need(berth_loop_add(h->loop, &sinks[0].io, out[0], EPOLLIN, on_output, NULL) == 0);
    need(berth_loop_add(h->loop, &sinks[1].io, err[0], EPOLLIN, on_output, NULL) == 0);
    need(harness_wait(h, both_done, sinks, 120000));
    berth_loop_remove(h->loop, &sinks[0].io);
    berth_loop_remove(h->loop, &sinks[1].io);
    close(out[0]);
    close(err[0]);
    need(berth_waitpid(pid, &status, 0) == pid);
    for (int i = 0; i < 2; i++)
        if (!sinks[i].buf)
            sinks[i].buf = strdup("");
    if (ret_out)
        *ret_out = sinks[0].buf;
    else
        free(sinks[0].buf);
    if (ret_err)
        *ret_err = sinks[1].buf;
    else
        free(sinks[1].buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *harness_berthctl_ok(harness *h, const char *const *args)
{
    char *out = NULL, *err = NULL;
    int code = harness_berthctl(h, &out, &err, args);

    if (code != 0) {
        fprintf(stderr, "berthctl %s ... exited %d: %s\n", args[0], code, err);
        abort();
    }
    free(err);
    return out;
}

/* ---- tables ---- */

void table_parse(const char *text, table *ret)
{
    char *copy = strdup(text), *save = NULL;

    memset(ret, 0, sizeof(*ret));
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char **cells = calloc(64, sizeof(*cells));
        size_t n = 0;

        for (char *p = line; *p && n < 63;) {
            char *gap = strstr(p, "  ");
            size_t len = gap ? (size_t)(gap - p) : strlen(p);

            cells[n++] = strndup(p, len);
            p += len;
            while (*p == ' ')
                p++;
        }
        ret->rows = realloc(ret->rows, (ret->n_rows + 1) * sizeof(*ret->rows));
        ret->rows[ret->n_rows++] = cells;
        if (ret->n_rows == 1)
            ret->n_cols = n;
    }
    free(copy);
}

void table_free(table *t)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; t->rows[r][c]; c++)
            free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    memset(t, 0, sizeof(*t));
}

int table_col(const table *t, const char *header)
{
    for (size_t c = 0; t->n_rows && c < t->n_cols; c++)
        if (strcmp(t->rows[0][c], header) == 0)
            return (int)c;
    return -1;
}

char *table_without(const char *text, const char *const *drop)
{
    table t;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    table_parse(text, &t);
    for (size_t r = 0; r < t.n_rows; r++) {
        for (size_t c = 0; t.rows[r][c]; c++) {
            bool skip = false;

            for (int d = 0; drop[d]; d++)
                skip |= c < t.n_cols && strcmp(t.rows[0][c], drop[d]) == 0;
            if (!skip)
                fprintf(f, "%s|", t.rows[r][c]);
        }
        fputc('\n', f);
    }
    fclose(f);
    table_free(&t);
    return out;
}
