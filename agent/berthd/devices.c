/* The node's CDI devices and who holds them (devices.h). */
#include "devices.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* Spec files come in bursts (an editor's temp file and rename, a package
 * with several): read them once things settled. */
#define SETTLE_NS (200 * BERTH_NSEC_PER_MSEC)

/* Whether name is a spec's aggregate device "KIND=all" (NVIDIA's specs
 * have one: every GPU at once), which is neither counted nor picked. */
static bool aggregate(const char *name)
{
    const char *eq = strrchr(name, '=');

    return eq && strcmp(eq + 1, "all") == 0;
}

typedef struct held {
    char *name, *holder;
} held;

/* An inotify watch: of a spec directory (next ""), or of the nearest
 * ancestor of a missing one, for the one entry (next) on the way to it. */
typedef struct watch_entry {
    int wd;
    char next[NAME_MAX + 1];
} watch_entry;

struct devices {
    berth_loop *loop;
    char **dirs;
    size_t n_dirs;
    watch_entry *watches; /* n_dirs of them */
    berth_cdi *cdi;
    char **problems; /* the last read's, to log each new one once */
    size_t n_problems;
    held *held;
    size_t n_held, cap_held;
    devices_changed_fn changed;
    void *data;
    berth_loop_io inotify_io;
    berth_loop_timer settle;
};

/* Watch each directory for its files, or, when it does not exist yet,
 * the nearest ancestor that does for the one entry on the way to it (not
 * every file written in /run). The last round's watches go first. */
static void watch(devices *d)
{
    const uint32_t files = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |
                           IN_DELETE_SELF | IN_MOVE_SELF;
    const uint32_t way = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

    for (size_t i = 0; i < d->n_dirs; i++)
        if (d->watches[i].wd >= 0)
            inotify_rm_watch(d->inotify_io.fd, d->watches[i].wd);
    for (size_t i = 0; i < d->n_dirs; i++) {
        watch_entry *w = &d->watches[i];
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s", d->dirs[i]);
        w->next[0] = '\0';
        /* IN_MASK_ADD: a directory that is one's and on the way to another
         * gets both masks */
        while ((w->wd = inotify_add_watch(d->inotify_io.fd, path,
                                          (*w->next ? way : files) | IN_ONLYDIR | IN_MASK_ADD)) <
               0) {
            char *slash = strrchr(path, '/');

            if (errno != ENOENT || !slash || slash == path)
                break;
            snprintf(w->next, sizeof(w->next), "%s", slash + 1);
            *slash = '\0';
        }
    }
}

/* Whether ev says something of a spec directory (or of the way to one). */
static bool event_counts(const devices *d, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW)
        return true; /* events were lost: read everything again */
    if (ev->mask & IN_IGNORED)
        return false;
    for (size_t i = 0; i < d->n_dirs; i++) {
        const watch_entry *w = &d->watches[i];

        if (w->wd != ev->wd)
            continue;
        if (!*w->next || (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) ||
            (ev->len && strcmp(ev->name, w->next) == 0))
            return true;
    }
    return false;
}

static bool problem_known(char *const *list, size_t n, const char *line)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], line) == 0)
            return true;
    return false;
}

/* Read the spec files again; true when the kinds or their counts changed. */
static bool reload(devices *d)
{
    berth_cdi *next = NULL;
    berth_error *err = NULL;
    const char *const *lines, *const *ka, *const *kb;
    size_t n_lines, na, nb;
    char **problems;
    bool changed;

    if (berth_cdi_load((const char *const *)d->dirs, d->n_dirs, &next, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "CDI specs");
        berth_error_free(&err);
        return false;
    }
    n_lines = berth_cdi_problems(next, &lines);
    problems = berth_xcalloc(n_lines + 1, sizeof(*problems));
    for (size_t i = 0; i < n_lines; i++) {
        if (!problem_known(d->problems, d->n_problems, lines[i]))
            berth_warn("CDI spec ignored: %s", lines[i]);
        problems[i] = berth_xstrdup(lines[i]);
    }
    for (size_t i = 0; i < d->n_problems; i++)
        free(d->problems[i]);
    free(d->problems);
    d->problems = problems;
    d->n_problems = n_lines;

    na = d->cdi ? berth_cdi_kinds(d->cdi, &ka) : 0;
    nb = berth_cdi_kinds(next, &kb);
    changed = na != nb;
    for (size_t i = 0; !changed && i < na; i++) {
        const char *const *da, *const *db;
        size_t ca = berth_cdi_devices(d->cdi, ka[i], &da), cb;

        cb = berth_cdi_devices(next, kb[i], &db);
        changed = strcmp(ka[i], kb[i]) != 0 || ca != cb;
        for (size_t j = 0; !changed && j < ca; j++)
            changed = strcmp(da[j], db[j]) != 0;
    }
    berth_cdi_free(d->cdi);
    d->cdi = next;
    return changed;
}

static void on_settle(berth_loop_timer *t)
{
    devices *d = berth_container_of(t, devices, settle);

    watch(d);
    if (reload(d)) {
        const char *const *kinds;
        size_t n = berth_cdi_kinds(d->cdi, &kinds);

        berth_info("CDI devices changed: %zu kind%s", n, n == 1 ? "" : "s");
        if (d->changed)
            d->changed(d->data);
    }
}

static void on_inotify(berth_loop_io *io, uint32_t events)
{
    devices *d = berth_container_of(io, devices, inotify_io);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool counts = false;
    ssize_t n;

    (void)events;
    while ((n = read(io->fd, buf, sizeof(buf))) > 0)
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            p += sizeof(*ev) + ev->len;
            counts |= event_counts(d, ev);
        }
    if (counts && !berth_loop_timer_armed(&d->settle))
        berth_loop_timer_arm(d->loop, &d->settle, berth_now_mono_ns() + SETTLE_NS);
}

int devices_open(berth_loop *loop, char *const *dirs, size_t n, devices_changed_fn changed,
                 void *data, devices **ret, berth_error **err)
{
    devices *d = berth_xcalloc(1, sizeof(*d));
    int fd;

    d->loop = loop;
    d->changed = changed;
    d->data = data;
    d->dirs = berth_xcalloc(n + 1, sizeof(*d->dirs));
    d->watches = berth_xcalloc(n + 1, sizeof(*d->watches));
    for (size_t i = 0; i < n; i++) {
        d->watches[i].wd = -1;
        d->dirs[d->n_dirs++] = berth_xstrdup(dirs[i]);
    }
    d->inotify_io.fd = -1;
    berth_loop_timer_init(&d->settle, on_settle);
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        berth_error_errno(err, "inotify for the CDI spec directories");
        devices_close(d);
        return -1;
    }
    if (berth_loop_add(loop, &d->inotify_io, fd, EPOLLIN, on_inotify, err) < 0) {
        close(fd);
        devices_close(d);
        return -1;
    }
    watch(d);
    /* a directory that cannot be read (its warning logged): no devices
     * until it can, not no berthd */
    if (!reload(d) && !d->cdi && berth_cdi_load(NULL, 0, &d->cdi, err) < 0) {
        devices_close(d);
        return -1;
    }
    *ret = d;
    return 0;
}

void devices_close(devices *d)
{
    if (!d)
        return;
    berth_loop_timer_cancel(d->loop, &d->settle);
    if (d->inotify_io.fd >= 0) {
        int fd = d->inotify_io.fd;

        berth_loop_remove(d->loop, &d->inotify_io);
        close(fd);
    }
    for (size_t i = 0; i < d->n_dirs; i++)
        free(d->dirs[i]);
    free(d->dirs);
    free(d->watches);
    for (size_t i = 0; i < d->n_problems; i++)
        free(d->problems[i]);
    free(d->problems);
    for (size_t i = 0; i < d->n_held; i++) {
        free(d->held[i].name);
        free(d->held[i].holder);
    }
    free(d->held);
    berth_cdi_free(d->cdi);
    free(d);
}

const berth_cdi *devices_cdi(const devices *d)
{
    return d->cdi;
}

size_t devices_capacity(const devices *d, const char *const **ret_kinds, int64_t **ret_counts)
{
    size_t n = berth_cdi_kinds(d->cdi, ret_kinds);
    int64_t *counts = berth_xcalloc(n + 1, sizeof(*counts));

    for (size_t i = 0; i < n; i++) {
        const char *const *names;

        size_t n_names = berth_cdi_devices(d->cdi, (*ret_kinds)[i], &names);

        for (size_t j = 0; j < n_names; j++)
            counts[i] += !aggregate(names[j]);
    }
    *ret_counts = counts;
    return n;
}

const char *devices_holder(const devices *d, const char *name)
{
    for (size_t i = 0; i < d->n_held; i++)
        if (strcmp(d->held[i].name, name) == 0)
            return d->held[i].holder;
    return NULL;
}

int64_t devices_free(const devices *d, const char *kind)
{
    const char *const *names;
    size_t n = berth_cdi_devices(d->cdi, kind, &names);
    int64_t free_ = 0;

    for (size_t i = 0; i < n; i++)
        free_ += !aggregate(names[i]) && devices_holder(d, names[i]) == NULL;
    return free_;
}

bool devices_hold(devices *d, const char *holder, const char *name)
{
    const char *who = devices_holder(d, name);

    if (who)
        return strcmp(who, holder) == 0;
    if (d->n_held == d->cap_held) {
        d->cap_held = d->cap_held ? 2 * d->cap_held : 16;
        d->held = berth_xreallocarray(d->held, d->cap_held, sizeof(*d->held));
    }
    d->held[d->n_held++] = (held){ berth_xstrdup(name), berth_xstrdup(holder) };
    return true;
}

void devices_release(devices *d, const char *holder)
{
    size_t j = 0;

    for (size_t i = 0; i < d->n_held; i++) {
        if (strcmp(d->held[i].holder, holder) == 0) {
            free(d->held[i].name);
            free(d->held[i].holder);
            continue;
        }
        d->held[j++] = d->held[i];
    }
    d->n_held = j;
}

int devices_allocate(devices *d, const char *holder, const char *kind, int64_t n, char ***ret_names,
                     berth_error **err)
{
    const char *const *names;
    size_t have = berth_cdi_devices(d->cdi, kind, &names), got = 0;
    int64_t avail = devices_free(d, kind);
    char **picked;

    size_t total = 0;

    for (size_t i = 0; i < have; i++)
        total += !aggregate(names[i]);
    if (total == 0)
        return berth_error_set(err, ENOENT, "the node has no CDI devices of kind %s", kind);
    /* not a wait: more than the node has at all (its specs shrank) */
    if (n > (int64_t)total)
        return berth_error_set(
            err, ERANGE, "the node has only %zu CDI devices of kind %s, %" PRId64 " asked for",
            total, kind, n);
    if (n > avail)
        return berth_error_set(err, ENOSPC,
                               "Allocate failed due to requested number of devices unavailable "
                               "for %s. Requested: %" PRId64 ", Available: %" PRId64,
                               kind, n, avail);
    picked = berth_xcalloc((size_t)n + 1, sizeof(*picked));
    for (size_t i = 0; i < have && (int64_t)got < n; i++)
        if (!aggregate(names[i]) && !devices_holder(d, names[i]))
            picked[got++] = berth_xstrdup(names[i]);
    for (size_t i = 0; i < got; i++)
        devices_hold(d, holder, picked[i]);
    *ret_names = picked;
    return 0;
}
