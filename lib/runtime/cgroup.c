/* cgroup layout detection, the version-independent entry points, and the
 * helpers both backends share. */
#include "cgroup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Docker's default device rules: mknod of anything (the files are useless
 * without rw), read/write only of the standard devices. */
const struct cgroup_device_rule cgroup_default_devices[] = {
    { 'c', -1, -1, "m" },    { 'b', -1, -1, "m" }, /* mknod, no access */
    { 'c', 1, 3, "rwm" },                          /* null */
    { 'c', 1, 5, "rwm" },                          /* zero */
    { 'c', 1, 7, "rwm" },                          /* full */
    { 'c', 1, 8, "rwm" },                          /* random */
    { 'c', 1, 9, "rwm" },                          /* urandom */
    { 'c', 5, 0, "rwm" },                          /* tty */
    { 'c', 5, 1, "rwm" },                          /* console */
    { 'c', 5, 2, "rwm" },                          /* ptmx */
    { 'c', 136, -1, "rwm" },                       /* pts */
};
const size_t cgroup_default_devices_len = BERTH_ARRAY_SIZE(cgroup_default_devices);

/* --- file helpers ------------------------------------------------------ */

int cgroup_read_file(const char *dir, const char *file, char **ret, berth_error **err)
{
    _cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, file);
    char *data = NULL;
    size_t len;

    if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, &len, err) < 0)
        return -1;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
        data[--len] = '\0';
    *ret = data;
    return 0;
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *ret, berth_error **err)
{
    _cleanup_free_ char *s = NULL;
    char *end;
    unsigned long long v;

    if (cgroup_read_file(dir, file, &s, err) < 0)
        return -1;
    if (strcmp(s, "max") == 0) {
        *ret = UINT64_MAX;
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || (*end != '\0' && *end != '\n'))
        return berth_error_set(err, EINVAL, "%s/%s: '%s' is not a number", dir, file, s);
    *ret = v;
    return 0;
}

uint64_t cgroup_keyed(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return strtoull(line + klen + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return 0;
}

int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret,
                      berth_error **err)
{
    _cleanup_free_ char *s = NULL;

    if (cgroup_read_file(dir, file, &s, err) < 0)
        return -1;
    *ret = cgroup_keyed(s, key);
    return 0;
}

int cgroup_write(const char *dir, const char *file, const char *value, berth_error **err)
{
    _cleanup_free_ char *path = berth_xasprintf("%s/%s", dir, file);

    return berth_write_file_string_at(AT_FDCWD, path, value, err);
}

void cgroup_kill_pids(const char *procs)
{
    for (const char *p = procs;;) {
        char *end;
        long pid = strtol(p, &end, 10);

        if (end == p)
            break;
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
        p = end;
    }
}

int cgroup_kill_procs(const char *dir, berth_error **err)
{
    _cleanup_free_ char *procs = NULL;

    if (cgroup_read_file(dir, "cgroup.procs", &procs, err) < 0)
        return -1;
    cgroup_kill_pids(procs);
    return 0;
}

bool cgroup_has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);

    for (const char *p = list; (p = strstr(p, word)); p += wl)
        if ((p == list || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
            return true;
    return false;
}

/* --- detection ---------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *o = s;

    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Keep only the controller names from a cgroup v1 mount's super options. */
static char *v1_controllers(const char *superopts)
{
    _cleanup_free_ char *copy = berth_xstrdup(superopts);
    char *out = berth_xcalloc(1, strlen(superopts) + 1), *save = NULL;

    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        static const char *const skip[] = {
            "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"
        };
        int skipped = 0;

        for (size_t i = 0; i < BERTH_ARRAY_SIZE(skip); i++)
            skipped |= strcmp(tok, skip[i]) == 0;
        if (skipped || strncmp(tok, "release_agent=", 14) == 0)
            continue;
        if (*out)
            strcat(out, ",");
        strcat(out, tok);
    }
    return out;
}

static int detect_v1(berth_cgroup_driver *d, const char *root, berth_error **err)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    _cleanup_free_ char *line = NULL;
    size_t cap = 0, rootlen = strlen(root);
    static const char *const required[] = { "cpu",     "cpuacct", "memory", "pids",
                                            "devices", "freezer", "cpuset" };

    if (!f)
        return berth_error_errno(err, "open /proc/self/mountinfo");
    while (getline(&line, &cap, f) > 0) {
        char *fields[7] = { 0 }, *save = NULL, *sep, *fstype, *superopts, *p = line;
        int n = 0;

        sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        for (char *tok = strtok_r(p, " ", &save); tok && n < 7; tok = strtok_r(NULL, " ", &save))
            fields[n++] = tok;
        fstype = strtok_r(sep + 3, " ", &save);
        strtok_r(NULL, " ", &save); /* source */
        superopts = strtok_r(NULL, " \n", &save);
        if (n < 5 || !fstype || !superopts || strcmp(fstype, "cgroup") != 0)
            continue;
        unescape_octal(fields[4]);
        if (strncmp(fields[4], root, rootlen) != 0 || fields[4][rootlen] != '/')
            continue;
        if (d->n_v1 == CGROUP_V1_MAX)
            break;
        d->v1[d->n_v1].mountpoint = berth_xstrdup(fields[4]);
        d->v1[d->n_v1].options = v1_controllers(superopts);
        d->n_v1++;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(required); i++)
        if (!cgroup_v1_find(d, required[i]))
            return berth_error_set(err, ENOENT, "cgroup v1 controller '%s' is not mounted under %s",
                                   required[i], root);
    return 0;
}

const struct cgroup_v1_hierarchy *cgroup_v1_find(const berth_cgroup_driver *d,
                                                 const char *controller)
{
    size_t clen = strlen(controller);

    for (size_t i = 0; i < d->n_v1; i++) {
        const char *o = d->v1[i].options;

        while (o && *o) {
            const char *comma = strchr(o, ',');
            size_t len = comma ? (size_t)(comma - o) : strlen(o);

            if (len == clen && strncmp(o, controller, len) == 0)
                return &d->v1[i];
            o = comma ? comma + 1 : NULL;
        }
    }
    return NULL;
}

int berth_cgroup_driver_detect(const char *root, berth_cgroup_driver **ret_driver,
                               berth_error **err)
{
    berth_cgroup_driver *d;
    struct statfs sfs;

    if (!root)
        root = "/sys/fs/cgroup";
    if (statfs(root, &sfs) < 0)
        return berth_error_errno(err, "statfs %s", root);
    d = berth_xcalloc(1, sizeof(*d));
    d->root = berth_xstrdup(root);
    if ((uint32_t)sfs.f_type == CGROUP2_SUPER_MAGIC) {
        _cleanup_free_ char *controllers = NULL;

        d->version = BERTH_CGROUP_V2;
        d->ops = &cgroup_v2_ops;
        if (cgroup_read_file(root, "cgroup.controllers", &controllers, err) < 0)
            goto fail;
        for (const char *want = "cpu\0memory\0pids\0"; *want; want += strlen(want) + 1) {
            if (!cgroup_has_word(controllers, want)) {
                berth_error_set(err, ENOENT, "cgroup v2 controller '%s' is not available in %s",
                                want, root);
                goto fail;
            }
        }
    } else if ((uint32_t)sfs.f_type == TMPFS_MAGIC) {
        d->version = BERTH_CGROUP_V1;
        d->ops = &cgroup_v1_ops;
        if (detect_v1(d, root, err) < 0)
            goto fail;
    } else {
        berth_error_set(err, ENOTSUP, "%s is neither cgroup2 nor a tmpfs of cgroup v1 hierarchies",
                        root);
        goto fail;
    }
    *ret_driver = d;
    return 0;
fail:
    berth_cgroup_driver_free(d);
    return berth_error_prefix(err, "detect cgroups");
}

void berth_cgroup_driver_free(berth_cgroup_driver *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_v1; i++) {
        free(d->v1[i].mountpoint);
        free(d->v1[i].options);
    }
    free(d->root);
    free(d);
}

berth_cgroup_version berth_cgroup_driver_version(const berth_cgroup_driver *d)
{
    return d->version;
}

/* --- entry points ------------------------------------------------------- */

static int cgroup_new(berth_cgroup_driver *d, const char *path, berth_cgroup **ret,
                      berth_error **err)
{
    berth_cgroup *cg;

    if (!path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") ||
        strcmp(path, "/") == 0 || path[strlen(path) - 1] == '/')
        return berth_error_set(err, EINVAL, "cgroup path '%s' must be absolute and normalised",
                               path ? path : "");
    cg = berth_xcalloc(1, sizeof(*cg));
    cg->path = berth_xstrdup(path);
    cg->driver = d;
    *ret = cg;
    return 0;
}

int berth_cgroup_create(berth_cgroup_driver *d, const char *path, const berth_cgroup_limits *lim,
                        berth_cgroup **ret_cg, berth_error **err)
{
    berth_cgroup *cg = NULL;
    int r;

    if (cgroup_new(d, path, &cg, err) < 0)
        return -1;
    r = d->ops->exists(cg, err);
    if (r != 0) {
        berth_cgroup_free(cg);
        if (r > 0)
            return berth_error_set(err, EEXIST, "create cgroup %s: it exists already", path);
        return berth_error_prefix(err, "create cgroup %s", path);
    }
    if (d->ops->create(cg, lim, err) < 0) {
        berth_cgroup_free(cg);
        return berth_error_prefix(err, "create cgroup %s", path);
    }
    *ret_cg = cg;
    return 0;
}

int berth_cgroup_open(berth_cgroup_driver *d, const char *path, berth_cgroup **ret_cg,
                      berth_error **err)
{
    berth_cgroup *cg = NULL;
    int r;

    if (cgroup_new(d, path, &cg, err) < 0)
        return -1;
    r = d->ops->exists(cg, err);
    if (r <= 0) {
        berth_cgroup_free(cg);
        if (r == 0)
            return berth_error_set(err, ENOENT, "open cgroup %s: no such cgroup", path);
        return berth_error_prefix(err, "open cgroup %s", path);
    }
    *ret_cg = cg;
    return 0;
}

int berth_cgroup_open_fd(berth_cgroup *cg, int *ret_fd, berth_error **err)
{
    _cleanup_free_ char *dir = NULL;
    int fd;

    if (cg->driver->version != BERTH_CGROUP_V2)
        return berth_error_set(err, EINVAL, "cgroup %s: only a v2 cgroup has one directory",
                               cg->path);
    dir = berth_xasprintf("%s%s", cg->driver->root, cg->path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return berth_error_errno(err, "open cgroup %s", dir);
    *ret_fd = fd;
    return 0;
}

int berth_cgroup_enter(berth_cgroup *cg, pid_t pid, berth_error **err)
{
    if (cg->driver->ops->enter(cg, pid, err) < 0)
        return berth_error_prefix(err, "move pid %d into cgroup %s", (int)pid, cg->path);
    return 0;
}

int berth_cgroup_step_aside(berth_cgroup_driver *d, const char *parent, berth_error **err)
{
    _cleanup_free_ char *text = NULL, *dir = NULL;
    const char *self = NULL;

    if (d->version != BERTH_CGROUP_V2 || !*parent || strcmp(parent, "/") == 0)
        return 0;
    if (berth_read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &text, NULL, err) < 0)
        return -1;
    /* v2's one line: "0::<path>" */
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "0::", 3) == 0)
            self = line + 3;
    }
    if (!self || strcmp(self, parent) != 0)
        return 0;
    dir = berth_xasprintf("%s%s/" BERTH_CGROUP_SUPERVISOR_LEAF, d->root, parent);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return berth_error_errno(err, "mkdir %s", dir);
    if (cgroup_write(dir, "cgroup.procs", "0", err) < 0)
        return berth_error_prefix(err, "leave cgroup %s for its leaf", parent);
    return 0;
}

int berth_cgroup_kill_all(berth_cgroup *cg, berth_error **err)
{
    if (cg->driver->ops->kill_all(cg, err) < 0)
        return berth_error_prefix(err, "kill cgroup %s", cg->path);
    return 0;
}

int berth_cgroup_populated(berth_cgroup *cg, bool *ret_populated, berth_error **err)
{
    return cg->driver->ops->populated(cg, ret_populated, err);
}

int berth_cgroup_remove_step(berth_cgroup *cg, berth_error **err)
{
    _cleanup_error_ berth_error *rm_err = NULL;
    bool populated = false;

    if (cg->driver->ops->remove(cg, &rm_err) == 0)
        return 1;
    if (rm_err->code != EBUSY) {
        if (err)
            *err = TAKE_PTR(rm_err);
        return berth_error_prefix(err, "remove cgroup %s", cg->path);
    }
    if (cg->driver->ops->populated(cg, &populated, err) < 0)
        return berth_error_prefix(err, "remove cgroup %s", cg->path);
    /* Killed processes leave asynchronously, and one may have forked
     * while the last kill read the list: kill what is there now. */
    if (populated && berth_cgroup_kill_all(cg, err) < 0)
        return berth_error_prefix(err, "remove cgroup %s", cg->path);
    return 0;
}

int cgroup_busy_error(berth_cgroup *cg, int waited_ms, berth_error **err)
{
    bool populated = false;

    if (cg->driver->ops->populated(cg, &populated, NULL) < 0)
        populated = false;
    return berth_error_set(err, EBUSY, "remove cgroup %s: still busy after %d ms (%s)", cg->path,
                           waited_ms,
                           populated ? "processes are left in it" : "no process is left in it");
}

int berth_cgroup_oom_kills(berth_cgroup *cg, uint64_t *ret_count, berth_error **err)
{
    return cg->driver->ops->oom_kills(cg, ret_count, err);
}

int berth_cgroup_stats_read(berth_cgroup *cg, berth_cgroup_stats *ret_stats, berth_error **err)
{
    berth_cgroup_stats st = { 0 };

    if (cg->driver->ops->stats(cg, &st, err) < 0)
        return berth_error_prefix(err, "read stats of cgroup %s", cg->path);
    *ret_stats = st;
    return 0;
}

const char *berth_cgroup_path(const berth_cgroup *cg)
{
    return cg->path;
}

int berth_cgroup_read(berth_cgroup *cg, const char *file, char **ret_value, berth_error **err)
{
    _cleanup_free_ char *dir = NULL;

    if (strchr(file, '/'))
        return berth_error_set(err, EINVAL, "cgroup file '%s' must be a plain name", file);
    if (cg->driver->ops->file_dir(cg, file, &dir, err) < 0)
        return -1;
    return cgroup_read_file(dir, file, ret_value, err);
}

void berth_cgroup_free(berth_cgroup *cg)
{
    if (!cg)
        return;
    free(cg->path);
    free(cg);
}

/* --- validation and conversions ----------------------------------------- */

uint64_t berth_cgroup_weight_to_shares(uint32_t weight)
{
    if (weight == 0)
        return 1024;
    if (weight > 10000)
        weight = 10000;
    return 2 + ((uint64_t)(weight - 1) * 262142) / 9999;
}
