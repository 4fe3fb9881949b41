/* Secrets and ConfigMaps on the node (configs.h): kept in memory, written
 * for the containers that name them on a tmpfs. */
#include "configs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "spec/spec.h"
#include "spec/workload.h"

/* The tmpfs's size: Secrets and ConfigMaps are at most 1 MiB each. */
#define CONFIGS_TMPFS_SIZE "64m"

/* An object as configs_set compares them. */
typedef struct config_id {
    ConfigKind kind;
    char ns[BERTH_NAMESPACE_BUF];
    char name[BERTH_WORKLOAD_NAME_MAX + 1];
} config_id;

struct configs {
    char *dir;
    ConfigObject **objs;
    size_t n_objs;
    /* what the last configs_set changed: new, another generation, gone */
    config_id *changed;
    size_t n_changed;
};

static bool same_object(const ConfigObject *a, const ConfigObject *b)
{
    return a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
           strcmp(berth_namespace_or_default(a->namespace_),
                  berth_namespace_or_default(b->namespace_)) == 0;
}

static void note_changed(configs *c, const ConfigObject *o)
{
    config_id *id;

    c->changed = berth_xreallocarray(c->changed, c->n_changed + 1, sizeof(*c->changed));
    id = &c->changed[c->n_changed++];
    id->kind = o->kind;
    snprintf(id->ns, sizeof(id->ns), "%s", berth_namespace_or_default(o->namespace_));
    snprintf(id->name, sizeof(id->name), "%s", o->name);
}

static bool on_tmpfs(const char *dir)
{
    struct statfs fs;

    return statfs(dir, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
}

int configs_open(const char *dir, configs **ret, berth_error **err)
{
    configs *c;

    if (!dir || dir[0] != '/')
        return berth_error_set(err, EINVAL, "secrets_dir '%s' is not an absolute path",
                               dir ? dir : "");
    c = berth_xcalloc(1, sizeof(*c));
    c->dir = berth_xstrdup(dir);
    *ret = c;
    return 0;
}

/* The directory, a tmpfs: made when the first container needs it, so a
 * node that runs none has no mount of it. In memory only: never the
 * disk, whatever the directory is on. */
static int ensure_tmpfs(const configs *c, berth_error **err)
{
    if (berth_mkdir_p(c->dir, 0700, err) < 0)
        return berth_error_prefix(err, "secrets_dir");
    if (on_tmpfs(c->dir))
        return 0;
    if (mount("tmpfs", c->dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=" CONFIGS_TMPFS_SIZE) < 0)
        return berth_error_errno(err, "mount a tmpfs on %s (Secrets are kept in memory only)",
                                 c->dir);
    berth_info("Secrets and ConfigMaps: a tmpfs on %s", c->dir);
    return 0;
}

void configs_object_free(ConfigObject *o)
{
    if (!o)
        return;
    for (size_t k = 0; k < o->n_data; k++)
        sodium_memzero(o->data[k]->value.data, o->data[k]->value.len);
    config_object_free_unpacked(o, NULL);
}

static void objs_free(ConfigObject **objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        configs_object_free(objs[i]);
    free(objs);
}

void configs_close(configs *c)
{
    if (!c)
        return;
    objs_free(c->objs, c->n_objs);
    free(c->changed);
    free(c->dir);
    free(c);
}

void configs_set(configs *c, ConfigObject **objs, size_t n)
{
    c->n_changed = 0;
    for (size_t i = 0; i < n; i++) {
        bool same = false;

        for (size_t k = 0; k < c->n_objs && !same; k++)
            same =
                same_object(objs[i], c->objs[k]) && objs[i]->generation == c->objs[k]->generation;
        if (!same)
            note_changed(c, objs[i]);
    }
    for (size_t k = 0; k < c->n_objs; k++) {
        bool kept = false;

        for (size_t i = 0; i < n && !kept; i++)
            kept = same_object(objs[i], c->objs[k]);
        if (!kept)
            note_changed(c, c->objs[k]);
    }
    objs_free(c->objs, c->n_objs);
    c->objs = objs;
    c->n_objs = n;
}

bool configs_used_by(const ContainerSpec *s)
{
    for (size_t i = 0; i < s->n_mounts; i++)
        if (s->mounts[i]->type == MOUNT_CONFIG)
            return true;
    return s->n_env_key_refs || s->n_env_from;
}

bool configs_names(const ContainerSpec *s, ConfigKind kind, const char *name)
{
    for (size_t i = 0; i < s->n_env_key_refs; i++)
        if (s->env_key_refs[i]->kind == kind && strcmp(s->env_key_refs[i]->object, name) == 0)
            return true;
    for (size_t i = 0; i < s->n_env_from; i++)
        if (s->env_from[i]->kind == kind && strcmp(s->env_from[i]->object, name) == 0)
            return true;
    for (size_t i = 0; i < s->n_mounts; i++)
        if (s->mounts[i]->type == MOUNT_CONFIG && s->mounts[i]->config &&
            s->mounts[i]->config->kind == kind && strcmp(s->mounts[i]->config->object, name) == 0)
            return true;
    return false;
}

bool configs_changed_for(const configs *c, const ContainerSpec *s)
{
    char ns[BERTH_NAMESPACE_BUF];

    berth_id_split(s->id, ns);
    for (size_t i = 0; i < c->n_changed; i++)
        if (strcmp(c->changed[i].ns, ns) == 0 &&
            configs_names(s, c->changed[i].kind, c->changed[i].name))
            return true;
    return false;
}

/* The object of this kind and name in the spec's namespace, or NULL. */
static const ConfigObject *find(const configs *c, const ContainerSpec *s, ConfigKind kind,
                                const char *name)
{
    char ns[BERTH_NAMESPACE_BUF];

    berth_id_split(s->id, ns);
    for (size_t i = 0; i < c->n_objs; i++)
        if (c->objs[i]->kind == kind && strcmp(c->objs[i]->name, name) == 0 &&
            strcmp(berth_namespace_or_default(c->objs[i]->namespace_), ns) == 0)
            return c->objs[i];
    return NULL;
}

static bool is_binary_key(const ConfigObject *o, const char *key)
{
    for (size_t i = 0; i < o->n_binary_keys; i++)
        if (strcmp(o->binary_keys[i], key) == 0)
            return true;
    return false;
}

static const ProtobufCBinaryData *value_of(const ConfigObject *o, const char *key)
{
    for (size_t i = 0; i < o->n_data; i++)
        if (strcmp(o->data[i]->key, key) == 0)
            return &o->data[i]->value;
    return NULL;
}

static const char *kind_word(ConfigKind kind)
{
    return kind == CONFIG_SECRET ? "secret" : "configmap";
}

static int missing_object(const ContainerSpec *s, ConfigKind kind, const char *name,
                          berth_error **err)
{
    (void)s;
    return berth_error_set(err, ENOENT, "%s \"%s\" not found", kind_word(kind), name);
}

static int missing_key(const ContainerSpec *s, ConfigKind kind, const char *name, const char *key,
                       berth_error **err)
{
    char ns[BERTH_NAMESPACE_BUF];

    berth_id_split(s->id, ns);
    return berth_error_set(err, ENOENT, "couldn't find key %s in %s %s/%s", key,
                           kind == CONFIG_SECRET ? "Secret" : "ConfigMap", ns, name);
}

/* ---- env ---- */

/* Kubernetes' rule for a variable's name from envFrom. */
static bool env_name_ok(const char *n)
{
    if (!*n || isdigit((unsigned char)n[0]))
        return false;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && *n != '_' && *n != '-' && *n != '.')
            return false;
    return true;
}

/* Whether the spec's own env (or a fieldRef) names the variable. */
static bool named_by_spec(const ContainerSpec *s, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < s->n_env; i++)
        if (strncmp(s->env[i], name, len) == 0 && s->env[i][len] == '=')
            return true;
    for (size_t i = 0; i < s->n_env_refs; i++)
        if (strcmp(s->env_refs[i]->name, name) == 0)
            return true;
    return false;
}

typedef struct envbuf {
    char *data;
    size_t len, cap;
} envbuf;

/* Append "name=value" and a NUL (name NULL: the value alone). */
static void env_add(envbuf *b, const char *name, const uint8_t *value, size_t vlen)
{
    size_t need = (name ? strlen(name) + 1 : 0) + vlen + 1;

    /* a value with a NUL cannot be a variable's */
    if (vlen && memchr(value, '\0', vlen))
        return;
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        char *d;

        while (cap < b->len + need)
            cap *= 2;
        d = berth_xmalloc(cap);
        if (b->len)
            memcpy(d, b->data, b->len);
        if (b->data)
            sodium_memzero(b->data, b->cap);
        free(b->data);
        b->data = d;
        b->cap = cap;
    }
    if (name)
        b->len += (size_t)sprintf(b->data + b->len, "%s=", name);
    if (vlen)
        memcpy(b->data + b->len, value, vlen);
    b->len += vlen;
    b->data[b->len++] = '\0';
}

static void env_free(envbuf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
    free(b->data);
}

static int make_env(const configs *c, const ContainerSpec *s, envbuf *b, berth_error **err)
{
    /* envFrom first: the spec's own env and the key refs win over it */
    for (size_t i = 0; i < s->n_env_from; i++) {
        const EnvFromSource *e = s->env_from[i];
        const ConfigObject *o = find(c, s, e->kind, e->object);

        if (!o) {
            if (e->optional)
                continue;
            return missing_object(s, e->kind, e->object, err);
        }
        for (size_t k = 0; k < o->n_data; k++) {
            char name[512];
            bool refd = false;

            /* a ConfigMap's binaryData is no variable's (kubelet's) */
            if (is_binary_key(o, o->data[k]->key))
                continue;
            if (snprintf(name, sizeof(name), "%s%s", e->prefix, o->data[k]->key) >=
                (int)sizeof(name))
                continue; /* too long to be a name */
            for (size_t r = 0; r < s->n_env_key_refs && !refd; r++)
                refd = strcmp(s->env_key_refs[r]->name, name) == 0;
            if (!env_name_ok(name) || refd || named_by_spec(s, name))
                continue; /* Kubernetes skips an invalid name too */
            env_add(b, name, o->data[k]->value.data, o->data[k]->value.len);
        }
    }
    for (size_t i = 0; i < s->n_env_key_refs; i++) {
        const EnvKeyRef *r = s->env_key_refs[i];
        const ConfigObject *o = find(c, s, r->kind, r->object);
        const ProtobufCBinaryData *v = o && !is_binary_key(o, r->key) ? value_of(o, r->key) : NULL;

        if (!o && !r->optional)
            return missing_object(s, r->kind, r->object, err);
        if (o && !v && !r->optional)
            return missing_key(s, r->kind, r->object, r->key, err);
        if (v)
            env_add(b, r->name, v->data, v->len);
    }
    return 0;
}

/* ---- volumes ---- */

/* Write value at path (relative, maybe with directories) under dirfd. */
static int write_key(int dirfd, const char *path, const ProtobufCBinaryData *v, mode_t mode,
                     const FsGroup *fs_group, berth_error **err)
{
    char dirs[512];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash) {
        snprintf(dirs, sizeof(dirs), "%.*s", (int)(slash - path), path);
        for (char *p = dirs;; p++) {
            char ch = *p;

            if (ch != '/' && ch != '\0')
                continue;
            *p = '\0';
            if (mkdirat(dirfd, dirs, 0755) < 0 && errno != EEXIST)
                return berth_error_errno(err, "mkdir %s", dirs);
            *p = ch;
            if (!ch)
                break;
        }
    }
    fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return berth_error_errno(err, "create %s", path);
    /* fsGroup: the pod's group owns it and may read it (kubelet's) */
    if (fs_group) {
        mode |= 0040;
        if (fchown(fd, (uid_t)-1, fs_group->gid) < 0) {
            berth_error_errno(err, "chown %s to fsGroup %u", path, fs_group->gid);
            close(fd);
            return -1;
        }
    }
    if ((v->len && berth_write_all(fd, v->data, v->len) < 0) || fchmod(fd, mode) < 0) {
        berth_error_errno(err, "write %s", path);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The first element of a path ("a/b" -> "a"), into buf. */
static const char *top_of(const char *path, char *buf, size_t size)
{
    const char *slash = strchr(path, '/');

    snprintf(buf, size, "%.*s", slash ? (int)(slash - path) : (int)strlen(path), path);
    return buf;
}

/* Project volume m of spec into <root>/<volume>: a new ..<time> directory,
 * ..data swapped onto it in one rename, the key links, the old directory
 * gone. An object that is missing and optional gives an empty volume. */
static int project_volume(const configs *c, const ContainerSpec *s, const Mount *m, int rootfd,
                          berth_error **err)
{
    const ConfigVolume *cv = m->config;
    const ConfigObject *o = find(c, s, cv->kind, cv->object);
    char data_dir[96], old[96] = "", link_tmp[] = "..data_tmp";
    _cleanup_close_ int vfd = -1, dfd = -1;
    struct timespec ts;
    ssize_t n;
    char target[300];

    if (!o && !cv->optional)
        return missing_object(s, cv->kind, cv->object, err);
    for (size_t i = 0; o && i < cv->n_items; i++)
        if (!value_of(o, cv->items[i]->key) && !cv->optional)
            return missing_key(s, cv->kind, cv->object, cv->items[i]->key, err);
    if (mkdirat(rootfd, m->source, 0755) < 0 && errno != EEXIST)
        return berth_error_errno(err, "mkdir volume %s", m->source);
    vfd = openat(rootfd, m->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (vfd < 0)
        return berth_error_errno(err, "open volume %s", m->source);
    fchmod(vfd, 0755);
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(data_dir, sizeof(data_dir), "..%" PRId64 ".%09ld", (int64_t)ts.tv_sec, ts.tv_nsec);
    if (mkdirat(vfd, data_dir, 0755) < 0)
        return berth_error_errno(err, "mkdir %s", data_dir);
    dfd = openat(vfd, data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0)
        return berth_error_errno(err, "open %s", data_dir);
    if (o && cv->n_items) {
        for (size_t i = 0; i < cv->n_items; i++) {
            const ProtobufCBinaryData *v = value_of(o, cv->items[i]->key);
            mode_t mode = cv->items[i]->mode ? cv->items[i]->mode : cv->default_mode;

            if (v && write_key(dfd, cv->items[i]->path, v, mode, s->fs_group, err) < 0)
                goto fail;
        }
    } else if (o) {
        for (size_t k = 0; k < o->n_data; k++)
            if (write_key(dfd, o->data[k]->key, &o->data[k]->value, cv->default_mode, s->fs_group,
                          err) < 0)
                goto fail;
    }
    /* the swap: readers see the old files or the new ones */
    if ((n = readlinkat(vfd, "..data", old, sizeof(old) - 1)) > 0)
        old[n] = '\0';
    unlinkat(vfd, link_tmp, 0);
    if (symlinkat(data_dir, vfd, link_tmp) < 0 || renameat(vfd, link_tmp, vfd, "..data") < 0) {
        berth_error_errno(err, "swap ..data of volume %s", m->source);
        goto fail;
    }
    /* each key (its first path element) a link through ..data */
    {
        int dfd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
        _cleanup_(berth_closedirp) DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : NULL;
        struct dirent *e;

        if (!d) {
            if (dfd2 >= 0)
                close(dfd2);
            berth_error_errno(err, "read %s", data_dir);
            goto fail_swapped;
        }
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(target, sizeof(target), "..data/%s", e->d_name);
            if (symlinkat(target, vfd, e->d_name) < 0 && errno != EEXIST) {
                berth_error_errno(err, "link %s", e->d_name);
                goto fail_swapped;
            }
        }
    }
    /* links of keys that are no more: gone */
    {
        int vfd2 = fcntl(vfd, F_DUPFD_CLOEXEC, 0);
        _cleanup_(berth_closedirp) DIR *d = vfd2 >= 0 ? fdopendir(vfd2) : NULL;
        struct dirent *e;
        char top[256];

        if (!d && vfd2 >= 0)
            close(vfd2);
        while (d && (e = readdir(d))) {
            bool wanted = false;

            /* kubelet's own names (..data, ..<time>) stay */
            if (strncmp(e->d_name, "..", 2) == 0 || e->d_type != DT_LNK)
                continue;
            for (size_t k = 0; o && !cv->n_items && k < o->n_data && !wanted; k++)
                wanted = strcmp(top_of(o->data[k]->key, top, sizeof(top)), e->d_name) == 0;
            for (size_t k = 0; o && k < cv->n_items && !wanted; k++)
                wanted = value_of(o, cv->items[k]->key) &&
                         strcmp(top_of(cv->items[k]->path, top, sizeof(top)), e->d_name) == 0;
            if (!wanted)
                unlinkat(vfd, e->d_name, 0);
        }
    }
    if (*old && strncmp(old, "..", 2) == 0 && !strchr(old, '/'))
        berth_rm_rf_at(vfd, old, NULL);
    return 0;
fail:
    berth_rm_rf_at(vfd, data_dir, NULL);
    return -1;
fail_swapped:
    /* the new files are in place (..data); the old ones go anyway */
    if (*old && strncmp(old, "..", 2) == 0 && !strchr(old, '/'))
        berth_rm_rf_at(vfd, old, NULL);
    return -1;
}

int configs_project(configs *c, const ContainerSpec *s, char *env_file, size_t env_size,
                    char *config_dir, size_t dir_size, berth_error **err)
{
    _cleanup_close_ int fd = -1, vfd = -1;
    envbuf env = { 0 };
    bool volumes = false;
    int r = -1;

    env_file[0] = config_dir[0] = '\0';
    if (!configs_used_by(s))
        return 0;
    /* all that is missing first: nothing is changed then */
    if (make_env(c, s, &env, err) < 0)
        goto out;
    for (size_t i = 0; i < s->n_mounts; i++) {
        const Mount *m = s->mounts[i];
        const ConfigObject *o;

        if (m->type != MOUNT_CONFIG || !m->config)
            continue;
        volumes = true;
        o = find(c, s, m->config->kind, m->config->object);
        if (!o && !m->config->optional) {
            missing_object(s, m->config->kind, m->config->object, err);
            goto out;
        }
        for (size_t k = 0; o && k < m->config->n_items; k++)
            if (!value_of(o, m->config->items[k]->key) && !m->config->optional) {
                missing_key(s, m->config->kind, m->config->object, m->config->items[k]->key, err);
                goto out;
            }
    }
    if (ensure_tmpfs(c, err) < 0)
        goto out;
    fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        berth_error_errno(err, "open %s", c->dir);
        goto out;
    }
    if (mkdirat(fd, s->id, 0700) < 0 && errno != EEXIST) {
        berth_error_errno(err, "mkdir %s/%s", c->dir, s->id);
        goto out;
    }
    if (volumes) {
        char path[BERTH_ID_BUF + 16];

        snprintf(path, sizeof(path), "%s/volumes", s->id);
        if (mkdirat(fd, path, 0755) < 0 && errno != EEXIST) {
            berth_error_errno(err, "mkdir %s/%s", c->dir, path);
            goto out;
        }
        vfd = openat(fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (vfd < 0) {
            berth_error_errno(err, "open %s/%s", c->dir, path);
            goto out;
        }
        for (size_t i = 0; i < s->n_mounts; i++)
            if (s->mounts[i]->type == MOUNT_CONFIG && s->mounts[i]->config &&
                project_volume(c, s, s->mounts[i], vfd, err) < 0)
                goto out;
        snprintf(config_dir, dir_size, "%s/%s", c->dir, path);
    }
    /* the variables last: a volume that failed leaves both as they were */
    {
        char path[BERTH_ID_BUF + 8];

        snprintf(path, sizeof(path), "%s/env", s->id);
        if (berth_replace_file_at(fd, path, env.data ? env.data : "", env.len, 0600, err) < 0)
            goto out;
        snprintf(env_file, env_size, "%s/%s", c->dir, path);
    }
    r = 0;
out:
    env_free(&env);
    return r;
}

int configs_pull_auth(configs *c, const ContainerSpec *s, char *path, size_t size,
                      berth_error **err)
{
    static unsigned seq;
    _cleanup_close_ int fd = -1;
    envbuf b = { 0 };
    char name[BERTH_ID_BUF + 32];
    int r = -1;

    path[0] = '\0';
    for (size_t i = 0; i < s->n_image_pull_secrets; i++) {
        const ConfigObject *o = find(c, s, CONFIG_SECRET, s->image_pull_secrets[i]);
        const ProtobufCBinaryData *v = o ? value_of(o, ".dockerconfigjson") : NULL;

        if (!v) {
            berth_warn("container %s: imagePullSecrets %s: %s", s->id, s->image_pull_secrets[i],
                       o ? "no .dockerconfigjson in it" : "not found");
            continue;
        }
        env_add(&b, NULL, v->data, v->len);
    }
    if (!b.len)
        return 0;
    if (ensure_tmpfs(c, err) < 0)
        goto out;
    fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (mkdirat(fd, "pulls", 0700) < 0 && errno != EEXIST)) {
        berth_error_errno(err, "%s/pulls", c->dir);
        goto out;
    }
    snprintf(name, sizeof(name), "pulls/%s.%u", s->id, ++seq);
    if (berth_replace_file_at(fd, name, b.data, b.len, 0600, err) < 0)
        goto out;
    snprintf(path, size, "%s/%s", c->dir, name);
    r = 0;
out:
    env_free(&b);
    return r;
}

void configs_forget_env(configs *c, const char *id)
{
    char path[PATH_MAX];

    if (!berth_spec_id_valid(id))
        return;
    snprintf(path, sizeof(path), "%s/%s/env", c->dir, id);
    if (unlink(path) < 0 && errno != ENOENT)
        berth_warn("container %s: remove %s: %s", id, path, strerror(errno));
}

void configs_sweep(configs *c, bool (*keep)(const char *id, void *data), void *data)
{
    _cleanup_close_ int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_error_ berth_error *err = NULL;
    struct dirent *de;
    DIR *d;

    if (fd < 0)
        return; /* nothing made yet */
    /* no pull outlives the berthd that started it: their credentials go */
    if (berth_rm_rf_at(fd, "pulls", &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "remove %s/pulls", c->dir);
        berth_error_free(&err);
    }
    d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!d)
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !berth_spec_id_valid(de->d_name) || keep(de->d_name, data))
            continue;
        /* a container removed while berthd was away */
        if (berth_rm_rf_at(fd, de->d_name, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err, "remove %s/%s", c->dir, de->d_name);
            berth_error_free(&err);
        }
    }
    closedir(d);
}

void configs_remove(configs *c, const char *id)
{
    _cleanup_close_ int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    _cleanup_error_ berth_error *err = NULL;

    if (fd >= 0 && berth_spec_id_valid(id) && berth_rm_rf_at(fd, id, &err) < 0)
        berth_log_error(BERTH_LOG_WARN, err, "container %s: remove its Secrets' files", id);
}
