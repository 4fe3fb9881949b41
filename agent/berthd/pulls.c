/* Image pulls through berth-pull processes (see pulls.h). */
#include "pulls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sodium.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "helper.h"
#include "pb/pb.h"

/* A puller's line, at most (an error quotes the registry: bounded there). */
#define LINE_MAX_BYTES 4096
/* An ImageConfig file, at most (128 layers, a config's Env). */
#define IMAGE_CONFIG_MAX ((size_t)16 << 20)

typedef enum pull_state { PULL_WAITING, PULL_RUNNING } pull_state;

struct pull {
    pulls *ps;
    pull *next;
    char *ref;
    berth_pull_policy policy;
    pull_state state;
    pull_waiter *waiters;
    int64_t requested_ns;
    unsigned seq;
    pid_t pid;
    berth_loop_io out_io; /* its stdout */
    berth_loop_io pid_io; /* its pidfd */
    char line[LINE_MAX_BYTES + 1];
    size_t len;
    bool overlong; /* the line being read was too long: it is dropped */
    bool pulled_line, pulled;
    char *error; /* from its "error" line */
    berth_loop_timer fail_timer;
    char *auth_file; /* --auth-file: removed with the pull */
    /* Whose credentials it pulls with: a hash of auth_file's contents (all
     * zero: none). A pod joins a pull only with the same credentials. */
    uint8_t cred[crypto_generichash_BYTES];
};

struct pulls {
    pulls_config cfg;
    int work_fd;
    pull *all; /* running and waiting, newest first */
    size_t running;
    unsigned seq;
    /* garbage collection */
    berth_loop_timer gc_timer;
    pid_t gc_pid;
    berth_loop_io gc_io;
    bool gc_again; /* asked for while one ran */
    pulls_stats stats;
};

static void start_waiting(pulls *ps);
static void gc_start(pulls *ps);

static void config_path(const pull *p, char *buf, size_t size)
{
    snprintf(buf, size, "image-%u.pb", p->seq);
}

/* --- the puller process ---------------------------------------------------------------------- */

static void pull_free(pull *p)
{
    if (p->auth_file)
        unlink(p->auth_file);
    free(p->auth_file);
    free(p->ref);
    free(p->error);
    free(p);
}

static void unlink_from(pulls *ps, pull *p)
{
    for (pull **pp = &ps->all; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
}

/* One line of the puller's. */
static void on_line(pull *p, const char *line)
{
    pull_progress pr = { 0 };
    char phase[16];

    if (strncmp(line, "progress ", 9) == 0) {
        if (sscanf(line + 9, "%15s %" SCNd64 " %" SCNd64 " %zu %zu", phase, &pr.done, &pr.total,
                   &pr.layer, &pr.n_layers) != 5)
            return;
        pr.phase = phase;
        for (pull_waiter *w = p->waiters; w; w = w->next)
            if (w->progress)
                w->progress(w, &pr);
    } else if (strncmp(line, "pulled ", 7) == 0) {
        const char *last = strrchr(line, ' ');

        p->pulled_line = true;
        p->pulled = last && strcmp(last, " 1") == 0;
    } else if (strncmp(line, "error ", 6) == 0) {
        free(p->error);
        p->error = berth_xstrdup(line + 6);
    }
}

/* Read what the puller wrote; at EOF its stdout is closed. */
static void drain(pull *p)
{
    for (;;) {
        ssize_t n = read(p->out_io.fd, p->line + p->len, LINE_MAX_BYTES - p->len);
        char *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN)
                helper_io_close(p->ps->cfg.loop, &p->out_io);
            return;
        }
        p->len += (size_t)n;
        p->line[p->len] = '\0';
        while ((nl = memchr(p->line, '\n', p->len))) {
            *nl = '\0';
            if (!p->overlong)
                on_line(p, p->line);
            p->overlong = false;
            p->len -= (size_t)(nl + 1 - p->line);
            memmove(p->line, nl + 1, p->len);
            p->line[p->len] = '\0';
        }
        if (p->len == LINE_MAX_BYTES) {
            p->overlong = true;
            p->len = 0;
        }
    }
}

static void on_output(berth_loop_io *io, uint32_t events)
{
    (void)events;
    drain(berth_container_of(io, pull, out_io));
}

/* The ImageConfig the puller wrote (and removed). */
static ImageConfig *read_image(pull *p, berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    char name[64];
    size_t len;
    ImageConfig *ic;

    config_path(p, name, sizeof(name));
    if (berth_read_file_at(p->ps->work_fd, name, IMAGE_CONFIG_MAX, &data, &len, err) < 0)
        return NULL;
    unlinkat(p->ps->work_fd, name, 0);
    ic = (ImageConfig *)berth_pb_unpack(&image_config_descriptor, (const uint8_t *)data, len);
    if (!ic)
        berth_error_set(err, EINVAL, "%s: not an ImageConfig", name);
    return ic;
}

/* Tell every waiter how p ended (ic NULL: it failed, error says why),
 * and free it. */
static void finish(pull *p, const ImageConfig *ic, const char *error)
{
    pulls *ps = p->ps;
    pull_result r = { 0 };

    r.image = ic;
    r.error = ic ? NULL : error;
    r.pulled = p->pulled;
    r.duration_ns = berth_now_mono_ns() - p->requested_ns;
    berth_prom_histogram_observe_ns(&ps->stats.seconds, r.duration_ns);
    if (!ic)
        ps->stats.failed++;
    else if (p->pulled)
        ps->stats.pulled++;
    else
        ps->stats.present++;
    if (ic)
        berth_info("image %s: %s in %.3fs (%s)", p->ref, p->pulled ? "pulled" : "present",
                   (double)r.duration_ns / 1e9, ic->digest);
    else
        berth_warn("image %s: pull failed: %s", p->ref, error);
    unlink_from(ps, p);
    berth_loop_timer_cancel(ps->cfg.loop, &p->fail_timer);
    while (p->waiters) {
        pull_waiter *w = p->waiters;

        p->waiters = w->next;
        w->p = NULL;
        w->next = NULL;
        w->done(w, &r);
    }
    if (ic && p->pulled)
        gc_start(ps);
    pull_free(p);
    start_waiting(ps);
}

/* The puller exited: reap it and tell every waiter. */
static void on_exit_(berth_loop_io *io, uint32_t events)
{
    pull *p = berth_container_of(io, pull, pid_io);
    pulls *ps = p->ps;
    siginfo_t si = { 0 };
    ImageConfig *ic = NULL;
    berth_error *err = NULL;
    char why[LINE_MAX_BYTES] = "", name[64];

    (void)events;
    if (!helper_reaped(io->fd, &si))
        return;
    helper_io_close(ps->cfg.loop, &p->pid_io);
    if (p->out_io.fd >= 0)
        drain(p); /* what it wrote last, up to EOF */
    helper_io_close(ps->cfg.loop, &p->out_io);
    ps->running--;
    if (si.si_code == CLD_EXITED && si.si_status == 0 && p->pulled_line) {
        ic = read_image(p, &err);
        if (!ic) {
            snprintf(why, sizeof(why), "%s", err->msg);
            berth_error_free(&err);
        }
    } else if (p->error) {
        snprintf(why, sizeof(why), "%s", p->error);
    } else if (si.si_code == CLD_EXITED) {
        snprintf(why, sizeof(why), "berth-pull exited with status %d", si.si_status);
    } else {
        snprintf(why, sizeof(why), "berth-pull was killed by signal %d", si.si_status);
    }
    config_path(p, name, sizeof(name));
    unlinkat(ps->work_fd, name, 0);
    finish(p, ic, why);
    BERTH_PB_FREE(ic);
}

/* A puller that could not be started: its waiters are told from the loop. */
static void on_start_failed(berth_loop_timer *t)
{
    pull *p = berth_container_of(t, pull, fail_timer);
    char why[LINE_MAX_BYTES];

    snprintf(why, sizeof(why), "%s", p->error ? p->error : "berth-pull could not be started");
    finish(p, NULL, why);
}

static const char *policy_name(berth_pull_policy policy)
{
    return berth_pull_policy_name(policy);
}

/* Start p's puller; when it cannot be, its waiters are told from the loop. */
static void pull_start(pull *p)
{
    pulls *ps = p->ps;
    int out[2] = { -1, -1 }, pidfd = -1;
    char name[64], cfg_out[PATH_MAX];
    const char *argv[16];
    size_t n = 0;
    berth_error *err = NULL;
    pid_t pid;

    p->seq = ++ps->seq;
    config_path(p, name, sizeof(name));
    snprintf(cfg_out, sizeof(cfg_out), "%s/%s", ps->cfg.work_dir, name);
    argv[n++] = ps->cfg.puller;
    argv[n++] = "--store";
    argv[n++] = ps->cfg.image_store;
    if (ps->cfg.registries) {
        argv[n++] = "--registries";
        argv[n++] = ps->cfg.registries;
    }
    argv[n++] = "--policy";
    argv[n++] = policy_name(p->policy);
    argv[n++] = "--config-out";
    argv[n++] = cfg_out;
    if (p->auth_file) {
        argv[n++] = "--auth-file";
        argv[n++] = p->auth_file;
    }
    argv[n++] = "--";
    argv[n++] = p->ref;
    argv[n] = NULL;
    if (pipe2(out, O_CLOEXEC) < 0) {
        berth_error_errno(&err, "pipe");
        goto fail;
    }
    pid = helper_spawn((char *const *)argv, out[1]);
    close(out[1]);
    if (pid < 0) {
        berth_error_errno(&err, "fork");
        goto fail;
    }
    p->pid = pid;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        berth_error_errno(&err, "pidfd_open");
        kill(pid, SIGKILL);
        berth_waitpid(pid, NULL, 0);
        goto fail;
    }
    if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
        berth_loop_add(ps->cfg.loop, &p->out_io, out[0], EPOLLIN, on_output, &err) < 0) {
        if (!err)
            berth_error_errno(&err, "fcntl");
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
        close(pidfd);
        goto fail;
    }
    out[0] = -1;
    if (berth_loop_add(ps->cfg.loop, &p->pid_io, pidfd, EPOLLIN, on_exit_, &err) < 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
        close(pidfd);
        helper_io_close(ps->cfg.loop, &p->out_io);
        goto fail;
    }
    p->state = PULL_RUNNING;
    ps->running++;
    berth_info("image %s: pulling (policy %s, berth-pull pid %d)", p->ref, policy_name(p->policy),
               (int)pid);
    return;
fail:
    if (out[0] >= 0)
        close(out[0]);
    berth_log_error(BERTH_LOG_ERROR, err, "image %s: start berth-pull", p->ref);
    free(p->error);
    p->error = berth_xasprintf("start berth-pull: %s", err->msg);
    berth_error_free(&err);
    p->state = PULL_RUNNING; /* not waiting for a slot: it failed */
    berth_loop_timer_arm(ps->cfg.loop, &p->fail_timer, berth_now_mono_ns());
}

static void start_waiting(pulls *ps)
{
    pull *pick;

    for (;;) {
        pick = NULL;
        if ((int)ps->running >= ps->cfg.max_parallel)
            return;
        for (pull *p = ps->all; p; p = p->next)
            if (p->state == PULL_WAITING)
                pick = p; /* the oldest (the list is newest first) */
        if (!pick)
            return;
        pull_start(pick);
    }
}

/* The hash of an auth file's contents (all zero without one, or when it
 * cannot be read: the pull then fails on it as it would alone). */
static void cred_hash(const char *auth_file, uint8_t out[crypto_generichash_BYTES])
{
    char *text = NULL;
    size_t len = 0;

    memset(out, 0, crypto_generichash_BYTES);
    if (!auth_file || berth_read_file_at(AT_FDCWD, auth_file, 16 << 20, &text, &len, NULL) < 0)
        return;
    crypto_generichash(out, crypto_generichash_BYTES, (const unsigned char *)text, len, NULL, 0);
    sodium_memzero(text, len);
    free(text);
}

void pulls_request(pulls *ps, const char *ref, berth_pull_policy policy, const char *auth_file,
                   pull_waiter *w)
{
    uint8_t cred[crypto_generichash_BYTES];
    pull *p = NULL;

    /* One pull per image and credentials: a pod never gets an image
     * through another pod's imagePullSecrets, nor loses its own to a pull
     * without them. */
    cred_hash(auth_file, cred);
    for (pull *q = ps->all; q; q = q->next)
        if (q->policy == policy && strcmp(q->ref, ref) == 0 &&
            sodium_memcmp(q->cred, cred, sizeof(cred)) == 0)
            p = q;
    if (p && auth_file)
        unlink(auth_file); /* the same credentials, in the pull's own file */
    if (!p) {
        p = berth_xcalloc(1, sizeof(*p));
        p->ps = ps;
        p->ref = berth_xstrdup(ref);
        p->policy = policy;
        p->auth_file = auth_file ? berth_xstrdup(auth_file) : NULL;
        memcpy(p->cred, cred, sizeof(cred));
        p->state = PULL_WAITING;
        p->out_io.fd = -1;
        p->pid_io.fd = -1;
        p->requested_ns = berth_now_mono_ns();
        berth_loop_timer_init(&p->fail_timer, on_start_failed);
        p->next = ps->all;
        ps->all = p;
    }
    w->p = p;
    w->next = p->waiters;
    p->waiters = w;
    start_waiting(ps);
}

void pulls_cancel(pull_waiter *w)
{
    pull *p = w->p;

    if (!p)
        return;
    for (pull_waiter **pw = &p->waiters; *pw; pw = &(*pw)->next)
        if (*pw == w) {
            *pw = w->next;
            break;
        }
    w->p = NULL;
    w->next = NULL;
    if (!p->waiters && p->state == PULL_WAITING) {
        unlink_from(p->ps, p);
        pull_free(p);
    }
}

size_t pulls_running(const pulls *ps)
{
    size_t n = 0;

    for (const pull *p = ps->all; p; p = p->next)
        n++;
    return n;
}

const pulls_stats *pulls_stats_of(const pulls *ps)
{
    return &ps->stats;
}

/* --- garbage collection ---------------------------------------------------------------------- */

static void on_gc_exit(berth_loop_io *io, uint32_t events)
{
    pulls *ps = berth_container_of(io, pulls, gc_io);
    siginfo_t si = { 0 };

    (void)events;
    if (!helper_reaped(io->fd, &si))
        return;
    helper_io_close(ps->cfg.loop, &ps->gc_io);
    ps->gc_pid = 0;
    if (si.si_code != CLD_EXITED || si.si_status != 0)
        berth_warn("image garbage collection: berth-pull --gc failed (status %d)", si.si_status);
    if (ps->gc_again) {
        ps->gc_again = false;
        gc_start(ps);
    }
}

/* berth-pull --gc with the images in use. */
static void gc_start(pulls *ps)
{
    char **refs = NULL, high[16], low[16], age[32];
    size_t n = 0, argc = 0;
    _cleanup_free_ const char **argv = NULL;
    berth_error *err = NULL;
    int pidfd;
    pid_t pid;

    if (ps->gc_pid > 0) {
        ps->gc_again = true;
        return;
    }
    if (ps->cfg.in_use)
        ps->cfg.in_use(&refs, &n, ps->cfg.in_use_data);
    snprintf(high, sizeof(high), "%d", ps->cfg.gc_high_percent);
    snprintf(low, sizeof(low), "%d", ps->cfg.gc_low_percent);
    snprintf(age, sizeof(age), "%" PRId64, ps->cfg.gc_min_age_ns / BERTH_NSEC_PER_SEC);
    argv = berth_xcalloc(2 * n + 12, sizeof(*argv));
    argv[argc++] = ps->cfg.puller;
    argv[argc++] = "--gc";
    argv[argc++] = "--store";
    argv[argc++] = ps->cfg.image_store;
    argv[argc++] = "--high";
    argv[argc++] = high;
    argv[argc++] = "--low";
    argv[argc++] = low;
    argv[argc++] = "--min-age";
    argv[argc++] = age;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = "--in-use";
        argv[argc++] = refs[i];
    }
    argv[argc] = NULL;
    /* its result line is not ours to read; what it removed it says on
     * stderr, which is our log */
    pid = helper_spawn((char *const *)argv, -1);
    for (size_t i = 0; i < n; i++)
        free(refs[i]);
    free(refs);
    if (pid < 0) {
        berth_warn("image garbage collection: fork: %s", strerror(errno));
        return;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 ||
        berth_loop_add(ps->cfg.loop, &ps->gc_io, pidfd, EPOLLIN, on_gc_exit, &err) < 0) {
        /* It ends by itself; reap it now rather than leave a zombie. */
        berth_log_error(BERTH_LOG_WARN, err, "image garbage collection: watch berth-pull --gc");
        berth_error_free(&err);
        if (pidfd >= 0)
            close(pidfd);
        kill(pid, SIGKILL);
        berth_waitpid(pid, NULL, 0);
        return;
    }
    ps->gc_pid = pid;
}

static void on_gc_timer(berth_loop_timer *t)
{
    pulls *ps = berth_container_of(t, pulls, gc_timer);

    gc_start(ps);
    berth_loop_timer_arm(ps->cfg.loop, &ps->gc_timer, berth_now_mono_ns() + ps->cfg.gc_interval_ns);
}

/* --- open, close ----------------------------------------------------------------------------- */

int pulls_open(const pulls_config *cfg, pulls **ret, berth_error **err)
{
    pulls *ps;

    if (berth_mkdir_p(cfg->work_dir, 0700, err) < 0)
        return -1;
    ps = berth_xcalloc(1, sizeof(*ps));
    ps->cfg = *cfg;
    berth_prom_histogram_init(&ps->stats.seconds, berth_prom_long_seconds_buckets,
                              berth_prom_long_seconds_buckets_n);
    if (ps->cfg.max_parallel < 1)
        ps->cfg.max_parallel = 1;
    ps->gc_io.fd = -1;
    ps->work_fd = open(cfg->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (ps->work_fd < 0) {
        berth_error_errno(err, "open %s", cfg->work_dir);
        free(ps);
        return -1;
    }
    /* What pullers of an earlier berthd left. */
    {
        _cleanup_closedir_ DIR *d = fdopendir(dup(ps->work_fd));
        struct dirent *e;

        while (d && (e = readdir(d)))
            if (strncmp(e->d_name, "image-", 6) == 0)
                unlinkat(ps->work_fd, e->d_name, 0);
    }
    berth_loop_timer_init(&ps->gc_timer, on_gc_timer);
    if (cfg->gc_interval_ns > 0)
        berth_loop_timer_arm(cfg->loop, &ps->gc_timer, berth_now_mono_ns() + cfg->gc_interval_ns);
    *ret = ps;
    return 0;
}

static void kill_and_reap(berth_loop *loop, berth_loop_io *io)
{
    if (io->fd < 0)
        return;
    syscall(SYS_pidfd_send_signal, io->fd, SIGKILL, NULL, 0);
    /* SIGKILL'd: this wait is short. */
    waitid(P_PIDFD, (id_t)io->fd, &(siginfo_t){ 0 }, WEXITED);
    helper_io_close(loop, io);
}

void pulls_close(pulls *ps)
{
    if (!ps)
        return;
    while (ps->all) {
        pull *p = ps->all;

        ps->all = p->next;
        kill_and_reap(ps->cfg.loop, &p->pid_io);
        helper_io_close(ps->cfg.loop, &p->out_io);
        berth_loop_timer_cancel(ps->cfg.loop, &p->fail_timer);
        for (pull_waiter *w = p->waiters; w; w = w->next)
            w->p = NULL;
        pull_free(p);
    }
    kill_and_reap(ps->cfg.loop, &ps->gc_io);
    berth_loop_timer_cancel(ps->cfg.loop, &ps->gc_timer);
    close(ps->work_fd);
    free(ps);
}
