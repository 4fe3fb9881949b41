/* berthctl image: the node's image store (lib/image).
 *
 *   pull REF                  pull from a registry (a progress bar on a terminal)
 *   import FILE|DIR           a `docker save` archive or an OCI image layout
 *   ls                        images: reference, digest, size, last use, users
 *   inspect REF               its record, config and layer directories as JSON
 *   rm REF                    remove one (refused while a container uses it)
 *   prune                     remove every image no container uses
 *
 * and directory images, berth's own: `import NAME DIR|TARBALL` makes
 * STORE/NAME, a root file system copied or unpacked (cp, tar), which
 * `image: NAME` and `berthctl run --image NAME` use as it is (a directory
 * image of that name wins over a reference); ls lists them, rm removes
 * them. They live beside the store's own directories, whose names they
 * may not take.
 *
 * Which containers use an image: the agent's state directory holds each
 * container's plan; a container whose monitor lives uses its spec's image.
 * Removing (or replacing) an image in use is refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/quantity.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "berthctl.h"
#include "image/import.h"
#include "image/pull.h"
#include "image/registries.h"
#include "image/store.h"
#include "spec/spec.h"
#include "statedir/statedir.h"

#define DEFAULT_STATE_DIR "/var/lib/berth/agent"
#define USERS_MAX         4096

typedef struct image_opts {
    const char *store;
    const char *state_dir;
    const char *registries;
    const char *platform;
    const char *name;
    bool force;
} image_opts;

static void image_usage(FILE *out)
{
    fputs("Usage: berthctl image pull [OPTIONS] REF\n"
          "       berthctl image import [OPTIONS] FILE|DIR\n"
          "       berthctl image ls [OPTIONS]\n"
          "       berthctl image inspect [OPTIONS] REF\n"
          "       berthctl image rm [OPTIONS] REF\n"
          "       berthctl image prune [OPTIONS]\n"
          "       berthctl image import [OPTIONS] NAME DIR|TARBALL\n"
          "\n"
          "The node's image store. pull fetches an image from its registry (or the\n"
          "mirrors registries.yaml names), import reads a `docker save` archive or an\n"
          "OCI image layout (a directory, or a tar: plain, gzip or zstd); each layer is\n"
          "kept once, shared by the images that have it. rm and prune refuse images a\n"
          "container of this node's agent uses. REF is an image reference: nginx,\n"
          "nginx:1.25, registry.example.com:5000/team/app@sha256:...\n"
          "\n"
          "import NAME DIR|TARBALL makes a directory image, a root file system that\n"
          "`image: NAME` then names as it is, never pulled (copied with owners, modes,\n"
          "links and device nodes, or unpacked from a tarball such as `docker export`\n"
          "writes); it has no config, so its specs give a command.\n"
          "\n"
          "  --image-store DIR   the store (default " BERTH_IMAGE_STORE_DEFAULT ")\n"
          "  --state-dir DIR     the agent's state (default " DEFAULT_STATE_DIR "), to know\n"
          "                      which images its containers use\n"
          "  --registries FILE   pull: registry settings (default " BERTH_REGISTRIES_DEFAULT_PATH
          ")\n"
          "  --platform OS/ARCH[/VARIANT]  pull, import: the image of an index to take\n"
          "                      (default: this machine's)\n"
          "  --name REPO         import: the repository of images named only by a tag\n"
          "  -f, --force         import NAME: replace an existing directory image\n"
          "  -h, --help\n",
          out);
}

/* ---- who uses what ---- */

typedef struct user {
    char *id, *image;
} user;

typedef struct users {
    user *v;
    size_t n;
} users;

static void users_free(users *u)
{
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].id);
        free(u->v[i].image);
    }
    free(u->v);
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp(((const user *)a)->id, ((const user *)b)->id);
}

/* The containers of the agent on this node whose monitor lives, with
 * their spec's image, sorted by id. */
static void users_load(const char *state_dir, users *ret)
{
    char path[4096];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;

    memset(ret, 0, sizeof(*ret));
    snprintf(path, sizeof(path), "%s/containers", state_dir);
    d = opendir(path);
    if (!d)
        return;
    while ((e = readdir(d)) && ret->n < USERS_MAX) {
        _cleanup_close_ int dfd = -1;
        ContainerPlan *plan = NULL;
        berth_monitor_liveness l;

        if (e->d_name[0] == '.')
            continue;
        dfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || berth_monitor_probe(dfd, &l, NULL) < 0 || l != BERTH_MONITOR_ALIVE ||
            berth_statedir_read_plan(dfd, &plan, NULL) < 0)
            continue;
        if (plan->spec && *plan->spec->image) {
            ret->v = berth_xreallocarray(ret->v, ret->n + 1, sizeof(*ret->v));
            ret->v[ret->n].id = berth_xstrdup(e->d_name);
            ret->v[ret->n].image = berth_xstrdup(plan->spec->image);
            ret->n++;
        }
        container_plan_free_unpacked(plan, NULL);
    }
    if (ret->n)
        qsort(ret->v, ret->n, sizeof(*ret->v), user_cmp);
}

/* The ids of the containers using an image ("a, b"), their count in
 * *ret_n: a directory image by its exact name (dir_name), a store image
 * as berth_image_is_in_use matches it. */
static char *users_of(const users *u, const char *dir_name, const berth_image *img, size_t *ret_n)
{
    char *out = berth_xstrdup("");
    size_t n = 0;

    for (size_t i = 0; i < u->n; i++) {
        const char *ref = u->v[i].image;
        berth_image_in_use one = { &ref, 1 };
        bool uses = dir_name ? strcmp(ref, dir_name) == 0 : berth_image_is_in_use(img, &one);
        char *next;

        if (!uses)
            continue;
        next = berth_xasprintf("%s%s%s", out, n ? ", " : "", u->v[i].id);
        free(out);
        out = next;
        n++;
    }
    if (ret_n)
        *ret_n = n;
    return out;
}

static int refuse_if_used(const image_opts *o, const char *dir_name, const berth_image *img,
                          const char *what)
{
    users u;
    size_t n;
    _cleanup_free_ char *ids = NULL;

    users_load(o->state_dir, &u);
    ids = users_of(&u, dir_name, img, &n);
    users_free(&u);
    if (n == 0)
        return 0;
    berthctl_errorf("image %s: cannot %s it: %zu running container(s) use it (%s); stop them first",
                    dir_name ? dir_name : img->ref, what, n, ids);
    return -1;
}

/* ---- directory images (the runtime's until it overlays layers) ---- */

/* Run argv to completion; 0 when it exited 0, else an error naming it. */
static int run_tool(char *const argv[], berth_error **err)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return berth_error_errno(err, "fork");
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "berthctl: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (berth_waitpid(pid, &status, 0) < 0)
        return berth_error_errno(err, "wait for %s", argv[0]);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return berth_error_set(err, EIO, "%s failed (exit %d)", argv[0], WEXITSTATUS(status));
    return berth_error_set(err, EIO, "%s killed by signal %d", argv[0], WTERMSIG(status));
}

/* Fill the empty directory dst from src: a directory tree or a tarball. */
static int dir_image_fill(const char *src, const char *dst, berth_error **err)
{
    struct stat st;
    char from[4200];

    if (stat(src, &st) < 0)
        return berth_error_errno(err, "%s", src);
    if (S_ISDIR(st.st_mode)) {
        char *argv[] = { "cp", "-a", "--reflink=auto", "--", from, (char *)dst, NULL };

        snprintf(from, sizeof(from), "%s/.", src);
        return run_tool(argv, err);
    }
    if (S_ISREG(st.st_mode)) {
        /* GNU tar picks the decompressor from the archive's contents; it
         * strips leading '/' and refuses members with '..'. */
        char *argv[] = { "tar",      "-x", "--numeric-owner", "--same-owner", "-p",
                         "--xattrs", "-f", (char *)src,       "-C",           (char *)dst,
                         NULL };

        return run_tool(argv, err);
    }
    return berth_error_set(err, EINVAL, "%s: neither a directory nor a tar archive", src);
}

/* What a `docker save` archive or an OCI layout looks like once unpacked:
 * layers and a manifest, no root filesystem. */
static bool looks_like_image_archive(int dfd)
{
    struct stat st;

    return (fstatat(dfd, "manifest.json", &st, 0) == 0 ||
            fstatat(dfd, "oci-layout", &st, 0) == 0) &&
           fstatat(dfd, "bin", &st, 0) < 0 && fstatat(dfd, "usr", &st, 0) < 0;
}

static int dir_image_import(const image_opts *o, const char *name, const char *src)
{
    char tmp[4200], dst[4200];
    berth_error *err = NULL;
    _cleanup_close_ int tfd = -1;
    struct stat st;
    bool replace;

    snprintf(dst, sizeof(dst), "%s/%s", o->store, name);
    replace = lstat(dst, &st) == 0;
    if (replace && !o->force) {
        berthctl_errorf("image %s exists in %s (--force replaces it)", name, o->store);
        return 1;
    }
    if (replace && refuse_if_used(o, name, NULL, "replace") < 0)
        return 1;
    if (berth_mkdir_p(o->store, 0700, &err) < 0)
        goto fail;
    snprintf(tmp, sizeof(tmp), "%s/.import-%s-XXXXXX", o->store, name);
    if (!mkdtemp(tmp)) {
        berth_error_errno(&err, "%s", tmp);
        goto fail;
    }
    if (dir_image_fill(src, tmp, &err) < 0)
        goto fail_tmp;
    /* An image is a root filesystem: containers see it as /. */
    if (chmod(tmp, 0755) < 0) {
        berth_error_errno(&err, "chmod %s", tmp);
        goto fail_tmp;
    }
    tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd >= 0 && looks_like_image_archive(tfd)) {
        berth_error_set(&err, EINVAL,
                        "%s is an image archive (`docker save` or an OCI layout: layers, not a "
                        "file system); import it with `berthctl image import %s`",
                        src, src);
        goto fail_tmp;
    }
    if (replace) {
        /* Swap the new tree in atomically, then delete the old one. */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_EXCHANGE) < 0) {
            berth_error_errno(&err, "replace %s", dst);
            goto fail_tmp;
        }
        if (berth_rm_rf_at(AT_FDCWD, tmp, &err) < 0) {
            berthctl_errorf("image %s imported; the old tree is left at %s: %s", name, tmp,
                            err->msg);
            berth_error_free(&err);
            return 1;
        }
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) < 0) {
        berth_error_errno(&err, "rename into %s", dst);
        goto fail_tmp;
    }
    printf("%s\n", name);
    return 0;

fail_tmp : {
    berth_error *rm_err = NULL;

    if (berth_rm_rf_at(AT_FDCWD, tmp, &rm_err) < 0) {
        berthctl_errorf("cleanup: %s", rm_err->msg);
        berth_error_free(&rm_err);
    }
}
fail:
    berthctl_errorf("image import %s: %s", name, err->msg);
    berth_error_free(&err);
    return 1;
}

/* Whether STORE/name is a directory image. */
static bool is_dir_image(const image_opts *o, const char *name)
{
    return berth_spec_dir_image(o->store, name);
}

static int dir_image_rm(const image_opts *o, const char *name)
{
    char dst[4200];
    berth_error *err = NULL;

    snprintf(dst, sizeof(dst), "%s/%s", o->store, name);
    if (refuse_if_used(o, name, NULL, "remove") < 0)
        return 1;
    if (berth_rm_rf_at(AT_FDCWD, dst, &err) < 0) {
        berthctl_errorf("image rm %s: %s", name, err->msg);
        berth_error_free(&err);
        return 1;
    }
    printf("%s\n", name);
    return 0;
}

/* ---- the store ---- */

static int open_store(const image_opts *o, berth_image_store **ret)
{
    berth_error *err = NULL;

    if (berth_image_store_open(o->store, ret, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        return -1;
    }
    return 0;
}

static int parse_platform(const image_opts *o, char *buf, size_t size, berth_oci_platform *p,
                          const berth_oci_platform **ret)
{
    berth_error *err = NULL;

    *ret = NULL;
    if (!o->platform)
        return 0;
    if (berth_oci_platform_parse(o->platform, buf, size, p, &err) < 0) {
        berthctl_errorf("--platform: %s", err->msg);
        berth_error_free(&err);
        return -1;
    }
    *ret = p;
    return 0;
}

/* "12.3 MB": sizes as registries and docker show them (decimal). */
typedef struct bar {
    bool tty;
    int64_t drawn_ns;
} bar;

/* A progress bar on stderr, redrawn in place; only on a terminal. */
static void on_progress(const berth_image_progress *p, void *data)
{
    bar *b = data;
    char done[32], total[32], line[256];
    int width = 30, fill;
    int64_t now = berth_now_mono_ns();

    if (!b->tty || p->phase == BERTH_IMAGE_DONE)
        return;
    if (now - b->drawn_ns < 100 * BERTH_NSEC_PER_MSEC && p->phase == BERTH_IMAGE_DOWNLOADING &&
        p->done != p->total)
        return;
    b->drawn_ns = now;
    if (p->phase == BERTH_IMAGE_RESOLVING) {
        snprintf(line, sizeof(line), "Resolving %s", p->ref);
    } else {
        fill = p->total > 0 ? (int)(p->done * width / p->total) : width;
        snprintf(line, sizeof(line), "%s [%.*s%s%*s] %s/%s  layers %zu/%zu",
                 p->phase == BERTH_IMAGE_UNPACKING ? "Unpacking" : "Pulling  ", fill,
                 "==============================", fill < width ? ">" : "",
                 width - fill - (fill < width ? 1 : 0), "",
                 berth_format_bytes_si(p->done, done, sizeof(done)),
                 berth_format_bytes_si(p->total, total, sizeof(total)), p->layer, p->n_layers);
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static int image_pull(const image_opts *o, const char *ref)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_registries_freep) berth_registries *regs = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    bar b = { .tty = isatty(STDERR_FILENO) == 1 };
    berth_image_pull_opts po = { .progress = on_progress, .progress_data = &b };
    berth_oci_platform plat;
    char platbuf[80], size[32];
    berth_error *err = NULL;
    int64_t start = berth_now_mono_ns();

    if (parse_platform(o, platbuf, sizeof(platbuf), &plat, &po.platform) < 0)
        return BERTHCTL_EXIT_USAGE;
    if (berth_registries_load(o->registries ? o->registries : BERTH_REGISTRIES_DEFAULT_PATH,
                              o->registries != NULL, &regs, &err) < 0 ||
        open_store(o, &s) < 0) {
        if (err) {
            berthctl_errorf("%s", err->msg);
            berth_error_free(&err);
        }
        return 1;
    }
    po.registry.registries = regs;
    if (berth_image_pull(s, ref, &po, &img, &err) < 0) {
        if (b.tty)
            fputs("\r\033[K", stderr);
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        return 1;
    }
    if (b.tty)
        fprintf(stderr, "\r\033[KPulled %s (%s unpacked) in %.1fs\n", img->ref,
                berth_format_bytes_si(img->size, size, sizeof(size)),
                (double)(berth_now_mono_ns() - start) / 1e9);
    printf("%s %s\n", img->ref, img->digest);
    return 0;
}

static int image_import(const image_opts *o, const char *path)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    berth_image_import_opts io = { .name = o->name };
    berth_image **imgs = NULL;
    berth_oci_platform plat;
    char platbuf[80];
    berth_error *err = NULL;
    size_t n;

    if (parse_platform(o, platbuf, sizeof(platbuf), &plat, &io.platform) < 0)
        return BERTHCTL_EXIT_USAGE;
    if (open_store(o, &s) < 0)
        return 1;
    if (berth_image_import(s, path, &io, &imgs, &n, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s %s\n", imgs[i]->ref, imgs[i]->digest);
    berth_image_list_free(imgs, n);
    return 0;
}

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0)
            berth_oom();
    if (!a)
        berth_oom();
    return a;
}

/* What the runtime needs of an image, as JSON: the record, the config,
 * the layer directories lowest first. */
static int image_inspect(const image_opts *o, const char *ref)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    _cleanup_(berth_image_config_freep) berth_image_config *cfg = NULL;
    char **dirs = NULL, pulled[BERTH_RFC3339NANO_LEN], used[BERTH_RFC3339NANO_LEN];
    size_t n_dirs = 0;
    berth_error *err = NULL;
    json_t *j;

    if (open_store(o, &s) < 0)
        return 1;
    if (berth_image_store_get(s, ref, &img, &err) < 0 ||
        (img && (berth_image_store_config(s, img, &cfg, &err) < 0 ||
                 berth_image_store_layer_dirs(s, img, &dirs, &n_dirs, &err) < 0))) {
        berthctl_errorf("image inspect: %s", err->msg);
        berth_error_free(&err);
        return 1;
    }
    if (!img) {
        berthctl_errorf("image %s: not in %s", ref, o->store);
        return 1;
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s?, s:s?, s:o, s:o, s:o, s:s?, s:s?, s:s?, s:o, "
                  "s:s, s:s}",
                  "reference", img->ref, "digest", img->digest, "manifest", img->manifest, "config",
                  img->config, "size", (json_int_t)img->size, "os", cfg->os, "architecture",
                  cfg->arch, "entrypoint",
                  cfg->has_entrypoint ? strv_json(cfg->entrypoint, cfg->n_entrypoint) : json_null(),
                  "cmd", cfg->has_cmd ? strv_json(cfg->cmd, cfg->n_cmd) : json_null(), "env",
                  strv_json(cfg->env, cfg->n_env), "workingDir", cfg->working_dir, "user",
                  cfg->user, "stopSignal", cfg->stop_signal, "layers", strv_json(dirs, n_dirs),
                  "pulled", berth_format_rfc3339nano(img->pulled_ns, pulled), "lastUsed",
                  berth_format_rfc3339nano(img->last_used_ns, used));
    berth_strv_free(dirs);
    if (!j)
        berth_oom();
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(j);
    return 0;
}

static int image_rm(const image_opts *o, const char *ref)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    berth_image_removal rm;
    berth_error *err = NULL;

    if (is_dir_image(o, ref))
        return dir_image_rm(o, ref);
    if (open_store(o, &s) < 0)
        return 1;
    if (berth_image_store_get(s, ref, &img, &err) < 0) {
        berthctl_errorf("image rm: %s", err->msg);
        berth_error_free(&err);
        return BERTHCTL_EXIT_USAGE;
    }
    if (!img) {
        berthctl_errorf("image %s: not in %s", ref, o->store);
        return 1;
    }
    if (refuse_if_used(o, NULL, img, "remove") < 0)
        return 1;
    if (berth_image_store_remove(s, img->ref, NULL, true, &rm, &err) < 0) {
        berthctl_errorf("image rm %s: %s", ref, err->msg);
        berth_error_free(&err);
        return 1;
    }
    printf("%s\n", img->ref);
    berth_image_removal_clear(&rm);
    return 0;
}

static int image_prune(const image_opts *o)
{
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    berth_image_removal rm;
    berth_error *err = NULL;
    const char **refs;
    users u;
    char size[32];
    int r = 0;

    if (open_store(o, &s) < 0)
        return 1;
    users_load(o->state_dir, &u);
    refs = berth_xcalloc(u.n + 1, sizeof(*refs));
    for (size_t i = 0; i < u.n; i++)
        refs[i] = u.v[i].image;
    if (berth_image_store_prune(s, &(berth_image_in_use){ refs, u.n }, &rm, &err) < 0) {
        berthctl_errorf("image prune: %s", err->msg);
        berth_error_free(&err);
        r = 1;
    } else {
        for (size_t i = 0; i < rm.images; i++)
            printf("%s\n", rm.refs[i]);
        fprintf(stderr, "removed %zu image(s), %zu layer(s): %s freed\n", rm.images, rm.layers,
                berth_format_bytes_si(rm.bytes, size, sizeof(size)));
        berth_image_removal_clear(&rm);
    }
    free(refs);
    users_free(&u);
    return r;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int image_ls(const image_opts *o)
{
    static const char *const headers[] = { "REFERENCE", "DIGEST",     "SIZE",
                                           "LAST USED", "CONTAINERS", NULL };
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_closedir_ DIR *d = NULL;
    berth_image **imgs = NULL;
    berthctl_table *t;
    size_t n = 0, bad = 0, n_dirs = 0;
    char *dirs[1024];
    berth_error *err = NULL;
    struct dirent *e;
    users u;

    if (open_store(o, &s) < 0)
        return 1;
    if (berth_image_store_list(s, &imgs, &n, &bad, &err) < 0) {
        berthctl_errorf("image ls: %s", err->msg);
        berth_error_free(&err);
        return 1;
    }
    users_load(o->state_dir, &u);
    t = berthctl_table_new(5, headers);
    for (size_t i = 0; i < n; i++) {
        char digest[20], size[32], age[32];
        _cleanup_free_ char *ids = users_of(&u, NULL, imgs[i], NULL);
        const char *row[] = { imgs[i]->ref, berth_digest_short(imgs[i]->digest, digest),
                              berth_format_bytes_si(imgs[i]->size, size, sizeof(size)),
                              berthctl_age(imgs[i]->last_used_ns, age, sizeof(age)), ids };

        berthctl_table_add(t, row, NULL);
    }
    /* the directory images, after */
    d = opendir(o->store);
    while (d && (e = readdir(d)) && n_dirs < BERTH_ARRAY_SIZE(dirs))
        if (is_dir_image(o, e->d_name))
            dirs[n_dirs++] = berth_xstrdup(e->d_name);
    if (n_dirs)
        qsort(dirs, n_dirs, sizeof(dirs[0]), name_cmp);
    for (size_t i = 0; i < n_dirs; i++) {
        int fd = openat(dirfd(d), dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char size[32];
        _cleanup_free_ char *ids = users_of(&u, dirs[i], NULL, NULL);
        const char *row[] = { dirs[i], "(directory)",
                              berth_format_bytes_si(fd >= 0 ? berth_image_tree_bytes(fd) : 0, size,
                                                    sizeof(size)),
                              "-", ids };

        berthctl_table_add(t, row, NULL);
        free(dirs[i]);
    }
    berthctl_table_print(t, stdout);
    berthctl_table_free(t);
    if (bad)
        berthctl_errorf("%zu damaged image record(s) in %s/images left out (prune removes them)",
                        bad, o->store);
    users_free(&u);
    berth_image_list_free(imgs, n);
    return 0;
}

int berthctl_cmd_image(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "image-store", required_argument, NULL, 's' },
        { "state-dir", required_argument, NULL, 'S' },
        { "registries", required_argument, NULL, 'r' },
        { "platform", required_argument, NULL, 'P' },
        { "name", required_argument, NULL, 'n' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    image_opts o = { .store = BERTH_IMAGE_STORE_DEFAULT, .state_dir = DEFAULT_STATE_DIR };
    const char *verb;
    int c;

    (void)ctx; /* local: no controller involved */
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        image_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BERTHCTL_EXIT_USAGE : 0;
    }
    verb = argv[1];
    argc--;
    argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", options, NULL)) != -1) {
        switch (c) {
        case 's':
            o.store = optarg;
            break;
        case 'S':
            o.state_dir = optarg;
            break;
        case 'r':
            o.registries = optarg;
            break;
        case 'P':
            o.platform = optarg;
            break;
        case 'n':
            o.name = optarg;
            break;
        case 'f':
            o.force = true;
            break;
        case 'h':
            image_usage(stdout);
            return 0;
        default:
            image_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(verb, "ls") == 0 && argc == 0)
        return image_ls(&o);
    if (strcmp(verb, "prune") == 0 && argc == 0)
        return image_prune(&o);
    if (strcmp(verb, "pull") == 0 && argc == 1)
        return image_pull(&o, argv[0]);
    if (strcmp(verb, "rm") == 0 && argc == 1)
        return image_rm(&o, argv[0]);
    if (strcmp(verb, "inspect") == 0 && argc == 1)
        return image_inspect(&o, argv[0]);
    if (strcmp(verb, "import") == 0 && argc == 1)
        return image_import(&o, argv[0]);
    if (strcmp(verb, "import") == 0 && argc == 2) {
        if (!berth_spec_image_name_valid(argv[0])) {
            berthctl_errorf("image import: '%s' is not a valid image name (1-128 of a-z A-Z 0-9 "
                            "_ . - :, starting with a letter or digit)",
                            argv[0]);
            return BERTHCTL_EXIT_USAGE;
        }
        if (berth_image_store_reserved_name(argv[0])) {
            berthctl_errorf("image import: '%s' is a name the image store keeps for itself",
                            argv[0]);
            return BERTHCTL_EXIT_USAGE;
        }
        return dir_image_import(&o, argv[0], argv[1]);
    }
    image_usage(stderr);
    return BERTHCTL_EXIT_USAGE;
}
