/* systemd's cgroup driver (units.h): transient slices and scopes through
 * sd-bus. */
#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fnv.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define SD_DEST      "org.freedesktop.systemd1"
#define SD_PATH      "/org/freedesktop/systemd1"
#define SD_MANAGER   "org.freedesktop.systemd1.Manager"
#define SD_UNIT      "org.freedesktop.systemd1.Unit"
#define SD_PRIVATE   "unix:path=/run/systemd/private"
#define SLICE_SUFFIX ".slice"
/* before a pod's name in its slice's: no pod's slice is another unit's */
#define POD_MARK "pod_"
/* Most CPUs an AllowedCPUs= mask may name (systemd's own bound is 8192). */
#define CPUSET_MAX 8192
/* How often a scope whose name is taken is looked at again. */
#define EEXIST_RETRY_MS 20

/* The calls connect each time and close at the end, so that nothing piles
 * up between them: PID 1 sends every client of its private socket each of
 * its signals, subscribed or not. bus is the connection of the call under
 * way (NULL between calls). */
struct berth_systemd {
    sd_bus *bus;
};

bool berth_systemd_booted(void)
{
    return sd_booted() > 0;
}

/* An error from a failed sd-bus call: the D-Bus error's message when there
 * is one, with what systemd's error names mean as the code. */
static int bus_error(berth_error **err, int r, const sd_bus_error *e, const char *fmt,
                     const char *arg)
{
    int code = -r;

    if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.UnitExists"))
        code = EEXIST;
    else if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
        code = ENOENT;
    if (code <= 0)
        code = EIO;
    return berth_error_set(err, code, "systemd: %s %s: %s", fmt, arg,
                           e && e->message ? e->message : strerror(-r));
}

/* Connect for one call (call_end closes). */
static int call_begin(berth_systemd *sd, berth_error **err)
{
    sd_bus *bus = NULL;
    int r = -ENOENT;

    /* the private socket when we may (root), as systemctl: no bus daemon
     * needed, and it answers while D-Bus itself is down */
    if (geteuid() == 0 && access("/run/systemd/private", F_OK) == 0) {
        r = sd_bus_new(&bus);
        if (r >= 0)
            r = sd_bus_set_address(bus, SD_PRIVATE);
        if (r >= 0)
            r = sd_bus_start(bus);
        if (r < 0)
            bus = sd_bus_unref(bus);
    }
    if (!bus)
        r = sd_bus_open_system(&bus);
    if (r < 0)
        return berth_error_set(err, ENOTCONN,
                               "systemd: connect to its D-Bus API (/run/systemd/private, then the "
                               "system bus): %s",
                               strerror(-r));
    sd_bus_set_method_call_timeout(bus, (uint64_t)BERTH_SYSTEMD_CALL_TIMEOUT_MS * 1000);
    sd->bus = bus;
    return 0;
}

static void call_end(berth_systemd *sd)
{
    sd->bus = sd_bus_flush_close_unref(sd->bus);
}

int berth_systemd_open(berth_systemd **ret, berth_error **err)
{
    berth_systemd probe = { 0 };

    /* whether it answers at all */
    if (call_begin(&probe, err) < 0)
        return -1;
    call_end(&probe);
    *ret = berth_xcalloc(1, sizeof(**ret));
    return 0;
}

void berth_systemd_free(berth_systemd *sd)
{
    if (!sd)
        return;
    call_end(sd);
    free(sd);
}

static bool unit_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '_' || c == '.';
}

bool berth_systemd_escape(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (unit_char((char)c) && !(i == 0 && c == '.')) {
            if (n + 1 >= size)
                return false;
            buf[n++] = (char)c;
        } else {
            if (n + 4 >= size)
                return false;
            snprintf(buf + n, 5, "\\x%02x", c);
            n += 4;
        }
    }
    if (n >= size)
        return false;
    buf[n] = '\0';
    return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a > b && strcmp(s + a - b, suffix) == 0;
}

int berth_systemd_parent_slice(const char *cgroup_parent, char *buf, size_t size, berth_error **err)
{
    size_t n = 0;
    const char *p = cgroup_parent;

    if (!strchr(p, '/') && has_suffix(p, SLICE_SUFFIX)) {
        char path[PATH_MAX];

        if (strcmp(p, "-.slice") == 0)
            return berth_error_set(err, EINVAL,
                                   "cgroup_parent %s: the systemd driver needs a slice below the "
                                   "root (such as /berth, berth.slice)",
                                   p);
        if (strlen(p) > BERTH_SYSTEMD_UNIT_MAX || strlen(p) >= size ||
            !berth_systemd_slice_cgroup(p, path, sizeof(path)))
            return berth_error_set(err, EINVAL, "cgroup_parent %s: not a slice's name", p);
        snprintf(buf, size, "%s", p);
        return 0;
    }
    while (*p == '/')
        p++;
    if (!*p)
        return berth_error_set(err, EINVAL,
                               "cgroup_parent %s: the systemd driver needs a slice below the "
                               "root (such as /berth, berth.slice)",
                               cgroup_parent);
    while (*p) {
        const char *end = strchrnul(p, '/');
        char level[256], esc[BERTH_SYSTEMD_UNIT_MAX + 1];
        size_t len = (size_t)(end - p);

        if (len == 0 || len >= sizeof(level) || (len <= 2 && strncmp(p, "..", len) == 0))
            return berth_error_set(err, EINVAL, "cgroup_parent %s: a level is not a name",
                                   cgroup_parent);
        memcpy(level, p, len);
        level[len] = '\0';
        if (!berth_systemd_escape(level, esc, sizeof(esc)) ||
            n + (n ? 1 : 0) + strlen(esc) + strlen(SLICE_SUFFIX) >= size ||
            n + (n ? 1 : 0) + strlen(esc) + strlen(SLICE_SUFFIX) > BERTH_SYSTEMD_UNIT_MAX)
            return berth_error_set(err, EINVAL, "cgroup_parent %s: too long for a slice's name",
                                   cgroup_parent);
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "-" : "", esc);
        p = end;
        while (*p == '/')
            p++;
    }
    snprintf(buf + n, size - n, "%s", SLICE_SUFFIX);
    return 0;
}

/* systemd's cg_escape: a cgroup named like a control file ("cpu.x",
 * "cgroup.x", "tasks"...) or starting with "_" or "." gets a "_" before it. */
static bool cg_needs_escape(const char *name, size_t len)
{
    static const char *const controllers[] = {
        "cpu",
        "cpuacct",
        "cpuset",
        "io",
        "blkio",
        "memory",
        "devices",
        "pids",
        "hugetlb",
        "rdma",
        "misc",
        "freezer",
        "net_cls",
        "net_prio",
        "perf_event",
        "cgroup",
        "bpf-firewall",
        "bpf-devices",
        "bpf-foreign",
        "bpf-socket-bind",
        "bpf-restrict-network-interfaces",
    };

    if (len == 0 || name[0] == '_' || name[0] == '.')
        return true;
    if ((len == 5 && strncmp(name, "tasks", 5) == 0) ||
        (len == 17 && strncmp(name, "notify_on_release", 17) == 0) ||
        (len == 13 && strncmp(name, "release_agent", 13) == 0))
        return true;
    for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++) {
        size_t c = strlen(controllers[i]);

        if (len > c && strncmp(name, controllers[i], c) == 0 && name[c] == '.')
            return true;
    }
    return false;
}

bool berth_systemd_slice_cgroup(const char *slice, char *buf, size_t size)
{
    size_t len = strlen(slice), stem, n = 0;

    if (strcmp(slice, "-.slice") == 0)
        return snprintf(buf, size, "/") < (int)size;
    if (!has_suffix(slice, SLICE_SUFFIX) || strchr(slice, '/') || slice[0] == '-')
        return false;
    stem = len - strlen(SLICE_SUFFIX);
    if (slice[stem - 1] == '-' || strstr(slice, "--"))
        return false;
    /* one level per dash: a-b.slice is /a.slice/a-b.slice */
    for (size_t i = 0; i <= stem; i++) {
        if (i < stem && slice[i] != '-')
            continue;
        char level[BERTH_SYSTEMD_UNIT_MAX + 1];
        int ll = snprintf(level, sizeof(level), "%.*s%s", (int)i, slice, SLICE_SUFFIX);
        bool esc = cg_needs_escape(level, (size_t)ll);

        if ((size_t)ll >= sizeof(level) || n + 2 + (size_t)ll >= size)
            return false;
        n += (size_t)snprintf(buf + n, size - n, "/%s%s", esc ? "_" : "", level);
    }
    return true;
}

bool berth_systemd_unit_cgroup(const char *slice, const char *unit, char *buf, size_t size)
{
    size_t n;

    if (!berth_systemd_slice_cgroup(slice, buf, size))
        return false;
    n = strlen(buf);
    return (size_t)snprintf(buf + n, size - n, "/%s%s",
                            cg_needs_escape(unit, strlen(unit)) ? "_" : "", unit) < size - n;
}

/* prefix + escaped(id) + suffix into buf, within systemd's bound: an id
 * whose escaped form is too long keeps what fits of it and ends in "_" and
 * the hash of the whole id (ids are at most 255 characters, escaped four
 * times as many). */
static bool unit_name(const char *prefix, const char *id, const char *suffix, char *buf,
                      size_t size)
{
    char esc[4 * BERTH_SYSTEMD_UNIT_MAX + 1];
    size_t fixed = strlen(prefix) + strlen(suffix), keep;
    int n;

    if (strlen(id) > BERTH_SYSTEMD_UNIT_MAX || !berth_systemd_escape(id, esc, sizeof(esc)))
        return false;
    if (fixed + strlen(esc) > BERTH_SYSTEMD_UNIT_MAX) {
        if (fixed + 17 >= BERTH_SYSTEMD_UNIT_MAX)
            return false;
        keep = BERTH_SYSTEMD_UNIT_MAX - fixed - 17;
        /* not in the middle of a \xHH */
        for (size_t i = keep >= 3 ? keep - 3 : 0; i < keep; i++)
            if (esc[i] == '\\')
                keep = i;
        snprintf(esc + keep, sizeof(esc) - keep, "_%016" PRIx64,
                 berth_fnv1a(BERTH_FNV1A_OFFSET, id));
    }
    n = snprintf(buf, size, "%s%s%s", prefix, esc, suffix);
    return n > 0 && (size_t)n < size && n <= BERTH_SYSTEMD_UNIT_MAX;
}

bool berth_systemd_pod_slice(const char *parent, const char *pod, char *buf, size_t size)
{
    char prefix[BERTH_SYSTEMD_UNIT_MAX + 2];
    size_t stem;

    if (!has_suffix(parent, SLICE_SUFFIX))
        return false;
    stem = strlen(parent) - strlen(SLICE_SUFFIX);
    if (strcmp(parent, "-.slice") == 0 || stem + sizeof(POD_MARK) + 1 > sizeof(prefix))
        return false;
    snprintf(prefix, sizeof(prefix), "%.*s-" POD_MARK, (int)stem, parent);
    return unit_name(prefix, pod, SLICE_SUFFIX, buf, size);
}

bool berth_systemd_container_scope(const char *id, char *buf, size_t size)
{
    return unit_name("berth-ctr-", id, ".scope", buf, size);
}

bool berth_systemd_pause_scope(const char *pod, char *buf, size_t size)
{
    return unit_name("berth-pause-", pod, ".scope", buf, size);
}

/* ---- properties ----------------------------------------------------------- */

/* A cpuset list ("0-3,8") as systemd's AllowedCPUs= mask: bit i of byte
 * i / 8. Into a new buffer (*ret_len bytes). */
static int cpuset_mask(const char *list, uint8_t **ret, size_t *ret_len, berth_error **err)
{
    uint8_t *mask = berth_xcalloc(CPUSET_MAX / 8, 1);
    size_t len = 0;
    const char *p = list;

    while (*p) {
        char *end;
        unsigned long a, b;

        errno = 0;
        a = strtoul(p, &end, 10);
        if (end == p || errno)
            goto bad;
        b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtoul(p, &end, 10);
            if (end == p || errno)
                goto bad;
        }
        if (a > b || b >= CPUSET_MAX)
            goto bad;
        for (unsigned long i = a; i <= b; i++)
            mask[i / 8] |= (uint8_t)(1u << (i % 8));
        if (b / 8 + 1 > len)
            len = b / 8 + 1;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    *ret = mask;
    *ret_len = len;
    return 0;
bad:
    free(mask);
    return berth_error_set(err, EINVAL, "cpuset %s: not a list of numbers and ranges below %d",
                           list, CPUSET_MAX);
}

static int append_cpuset(sd_bus_message *m, const char *prop, const char *list, berth_error **err)
{
    _cleanup_free_ uint8_t *mask = NULL;
    size_t len = 0;
    int r;

    if (!list || !*list)
        return 0;
    if (cpuset_mask(list, &mask, &len, err) < 0)
        return -1;
    r = sd_bus_message_open_container(m, 'r', "sv");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", prop);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', "ay");
    if (r >= 0)
        r = sd_bus_message_append_array(m, 'y', mask, len);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r < 0 ? berth_error_set(err, -r, "systemd: build %s: %s", prop, strerror(-r)) : 0;
}

static int append_limits(sd_bus_message *m, const berth_cgroup_limits *lim, berth_error **err)
{
    int r = 0;

    if (lim->cpu_quota_us > 0) {
        uint64_t period = lim->cpu_period_us > 0 ? (uint64_t)lim->cpu_period_us : 100000;

        r = sd_bus_message_append(m, "(sv)", "CPUQuotaPerSecUSec", "t",
                                  (uint64_t)lim->cpu_quota_us * 1000000 / period);
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "CPUQuotaPeriodUSec", "t", period);
    }
    if (r >= 0 && lim->cpu_weight > 0)
        r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", (uint64_t)lim->cpu_weight);
    if (r >= 0 && lim->memory_bytes > 0) {
        r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", (uint64_t)lim->memory_bytes);
        /* as berth's own v2 cgroups: no swap beyond the memory limit */
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "MemorySwapMax", "t", (uint64_t)0);
    }
    if (r >= 0)
        r = sd_bus_message_append(m, "(sv)", "TasksMax", "t",
                                  lim->pids_max > 0 ? (uint64_t)lim->pids_max : UINT64_MAX);
    if (r < 0)
        return berth_error_set(err, -r, "systemd: build the limits: %s", strerror(-r));
    if (append_cpuset(m, "AllowedCPUs", lim->cpuset_cpus, err) < 0 ||
        append_cpuset(m, "AllowedMemoryNodes", lim->cpuset_mems, err) < 0)
        return -1;
    return 0;
}

/* The start of a StartTransientUnit call for name: the name, the mode and
 * the properties' array opened, with Description. */
static int transient_begin(berth_systemd *sd, const char *name, const char *description,
                           sd_bus_message **ret, berth_error **err)
{
    sd_bus_message *m = NULL;
    int r;

    r = sd_bus_message_new_method_call(sd->bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
                                       "StartTransientUnit");
    if (r >= 0)
        r = sd_bus_message_append(m, "ss", name, "fail");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r >= 0)
        r = sd_bus_message_append(m, "(sv)", "Description", "s", description);
    if (r < 0) {
        sd_bus_message_unref(m);
        return berth_error_set(err, -r, "systemd: build the call for %s: %s", name, strerror(-r));
    }
    *ret = m;
    return 0;
}

/* Close the properties, add no auxiliary units, call; the job's path
 * into *ret_job (a new string). */
static int transient_call(berth_systemd *sd, sd_bus_message *m, const char *name, char **ret_job,
                          berth_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    const char *job;
    int r;

    r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_append(m, "a(sa(sv))", 0);
    if (r < 0)
        return berth_error_set(err, -r, "systemd: build the call for %s: %s", name, strerror(-r));
    r = sd_bus_call(sd->bus, m, 0, &e, &reply);
    if (r < 0) {
        bus_error(err, r, &e, "start", name);
        sd_bus_error_free(&e);
        return -1;
    }
    r = sd_bus_message_read(reply, "o", &job);
    if (r >= 0)
        *ret_job = berth_xstrdup(job);
    sd_bus_message_unref(reply);
    if (r < 0)
        return berth_error_set(err, EIO, "systemd: start %s: its answer names no job", name);
    return 0;
}

struct job_wait {
    const char *job;
    bool done;
    char result[32];
};

static int on_job_removed(sd_bus_message *m, void *data, sd_bus_error *e)
{
    struct job_wait *w = data;
    const char *path, *unit, *result;
    uint32_t id;

    (void)e;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !w->job ||
        strcmp(path, w->job) != 0)
        return 0;
    w->done = true;
    snprintf(w->result, sizeof(w->result), "%s", result);
    return 0;
}

/* Follow the jobs' ends (before the call that makes one, so that its end
 * cannot be missed): by path and member, not sender, as a direct
 * connection (the private socket) has no sender names. */
static int follow_jobs(berth_systemd *sd, struct job_wait *w, sd_bus_slot **ret_slot,
                       berth_error **err)
{
    sd_bus_slot *slot = NULL;
    int r;

    r = sd_bus_match_signal(sd->bus, &slot, NULL, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed,
                            w);
    if (r >= 0)
        r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, "");
    if (r < 0) {
        sd_bus_slot_unref(slot);
        return berth_error_set(err, -r, "systemd: follow the jobs: %s", strerror(-r));
    }
    *ret_slot = slot;
    return 0;
}

/* Until job (w->job) ends, up to the deadline. */
static int wait_job(berth_systemd *sd, struct job_wait *w, const char *name, int64_t deadline,
                    berth_error **err)
{
    while (!w->done) {
        int64_t left = deadline - berth_now_mono_ns();
        int r = sd_bus_process(sd->bus, NULL);

        if (r < 0)
            return berth_error_set(err, -r, "systemd: start %s: %s", name, strerror(-r));
        if (r > 0 || w->done)
            continue;
        if (left <= 0)
            return berth_error_set(err, ETIMEDOUT, "systemd: start %s: its job did not end in time",
                                   name);
        r = sd_bus_wait(sd->bus, (uint64_t)(left / 1000));
        if (r < 0 && r != -EINTR)
            return berth_error_set(err, -r, "systemd: start %s: %s", name, strerror(-r));
    }
    if (strcmp(w->result, "done") != 0)
        return berth_error_set(err, EIO, "systemd: start %s: the job ended %s", name, w->result);
    return 0;
}

/* A start under way: its connection, the follow of its job's end, the
 * job. */
typedef struct transient_start {
    sd_bus_slot *slot;
    struct job_wait w;
    char *job;
    int64_t deadline;
    int wait_ms;
} transient_start;

/* Connect, and follow the jobs when the start is to be waited for. */
static int start_open(berth_systemd *sd, transient_start *st, int wait_ms, berth_error **err)
{
    *st = (transient_start){
        .deadline = berth_now_mono_ns() + (int64_t)wait_ms * BERTH_NSEC_PER_MSEC,
        .wait_ms = wait_ms,
    };
    if (call_begin(sd, err) < 0)
        return -1;
    if (wait_ms > 0 && follow_jobs(sd, &st->w, &st->slot, err) < 0) {
        call_end(sd);
        return -1;
    }
    return 0;
}

/* The end of a start whose call gave r: its job's end when waited for,
 * and the connection closed. */
static int start_close(berth_systemd *sd, transient_start *st, const char *name, int r,
                       berth_error **err)
{
    if (r == 0 && st->wait_ms > 0) {
        st->w.job = st->job;
        r = wait_job(sd, &st->w, name, st->deadline, err);
    }
    sd_bus_slot_unref(st->slot);
    free(st->job);
    call_end(sd);
    return r;
}

int berth_systemd_start_slice(berth_systemd *sd, const char *name, const char *description,
                              const berth_cgroup_limits *lim, int wait_ms, berth_error **err)
{
    sd_bus_message *m = NULL;
    transient_start st;
    int r = -1;

    if (start_open(sd, &st, wait_ms, err) < 0)
        return -1;
    if (transient_begin(sd, name, description, &m, err) == 0 && append_limits(m, lim, err) == 0 &&
        transient_call(sd, m, name, &st.job, err) == 0)
        r = 0;
    sd_bus_message_unref(m);
    return start_close(sd, &st, name, r, err);
}

/* Whether unit name is gone (not loaded, inactive, or failed: then reset,
 * so that its name may be used again). With owner, a unit that is there
 * must have a Description that starts with it (EPERM otherwise). */
static int unit_gone(berth_systemd *sd, const char *name, const char *owner, bool *ret_gone,
                     berth_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    _cleanup_free_ char *state = NULL, *desc = NULL;
    const char *path;
    int r;

    r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", name);
    if (r < 0) {
        bool missing = sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit");

        if (!missing)
            bus_error(err, r, &e, "look up", name);
        sd_bus_error_free(&e);
        if (!missing)
            return -1;
        *ret_gone = true;
        return 0;
    }
    r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0)
        r = sd_bus_get_property_string(sd->bus, SD_DEST, path, SD_UNIT, "ActiveState", &e, &state);
    if (r >= 0 && owner)
        r = sd_bus_get_property_string(sd->bus, SD_DEST, path, SD_UNIT, "Description", &e, &desc);
    sd_bus_message_unref(reply);
    if (r < 0) {
        bus_error(err, r, &e, "look up", name);
        sd_bus_error_free(&e);
        return -1;
    }
    if (owner && strncmp(desc, owner, strlen(owner)) != 0)
        return berth_error_set(err, EPERM, "systemd: unit %s is not berth's (it is \"%s\")", name,
                               desc);
    if (strcmp(state, "failed") == 0) {
        (void)sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "ResetFailedUnit", &e, NULL,
                                 "s", name);
        sd_bus_error_free(&e);
    }
    *ret_gone = strcmp(state, "inactive") == 0 || strcmp(state, "failed") == 0;
    return 0;
}

int berth_systemd_start_scope(berth_systemd *sd, const char *name, const char *slice,
                              const char *description, pid_t pid, bool delegate, int wait_ms,
                              berth_error **err)
{
    sd_bus_message *m = NULL;
    transient_start st;
    int r = -1;

    if (start_open(sd, &st, wait_ms, err) < 0)
        return -1;
    for (;;) {
        bool gone = false;

        if (transient_begin(sd, name, description, &m, err) < 0)
            break;
        /* (OOMPolicy: a delegated unit's default is continue, and a scope
         * takes none before systemd 253) */
        r = sd_bus_message_append(m, "(sv)", "Slice", "s", slice);
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "Delegate", "b", (int)delegate);
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid);
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "TasksMax", "t", UINT64_MAX);
        if (r >= 0)
            r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
        if (r < 0) {
            r = berth_error_set(err, -r, "systemd: build the call for %s: %s", name, strerror(-r));
            break;
        }
        r = transient_call(sd, m, name, &st.job, err);
        m = sd_bus_message_unref(m);
        /* A scope of that name whose processes are gone but which systemd
         * has not yet seen empty (the previous monitor of a container just
         * ended), or not yet collected: wait for it to go. */
        if (r == 0 || wait_ms <= 0 || pid != getpid() || !err || !*err || (*err)->code != EEXIST ||
            berth_now_mono_ns() >= st.deadline)
            break;
        berth_error_free(err);
        while (sd_bus_process(sd->bus, NULL) > 0)
            ; /* the signals meanwhile: nothing of ours yet */
        if (unit_gone(sd, name, description, &gone, err) < 0) {
            r = -1;
            break;
        }
        /* This runs in a monitor's process before its exec (never in a
         * daemon's loop): a plain pause between two looks. */
        (void)poll(NULL, 0, EEXIST_RETRY_MS);
    }
    sd_bus_message_unref(m);
    return start_close(sd, &st, name, r, err);
}

int berth_systemd_stop_unit(berth_systemd *sd, const char *name, berth_error **err)
{
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int r;

    if (call_begin(sd, err) < 0)
        return -1;
    r = sd_bus_call_method(sd->bus, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &e, NULL, "ss", name,
                           "replace");
    if (r < 0 && !sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))
        bus_error(err, r, &e, "stop", name);
    else
        r = 0;
    sd_bus_error_free(&e);
    call_end(sd);
    return r < 0 ? -1 : 0;
}

int berth_systemd_unit_gone(berth_systemd *sd, const char *name, const char *owner, bool *ret_gone,
                            berth_error **err)
{
    int r;

    if (call_begin(sd, err) < 0)
        return -1;
    r = unit_gone(sd, name, owner, ret_gone, err);
    call_end(sd);
    return r;
}
