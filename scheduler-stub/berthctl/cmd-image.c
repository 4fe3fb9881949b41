/* berthctl image: the node's image store (/var/lib/berth/images/NAME, one
 * root filesystem directory per image; containers get an overlay on it).
 *
 *   import NAME DIR|TARBALL   copy a directory tree or unpack a tarball
 *   ls                        the images, with their size on disk
 *   rm NAME                   remove one
 *
 * An import is built in a hidden directory of the store and renamed into
 * place, so a failed or interrupted import leaves no half image under its
 * name. Replacing (import --force) or removing an image that a container
 * of this node's agent runs on is refused: the overlay of a running
 * container must not have its lower layer changed under it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "berth/proto/v1.h"
#include "berthctl.h"
#include "statedir/statedir.h"
#include "spec/spec.h"

#define DEFAULT_STORE     "/var/lib/berth/images"
#define DEFAULT_STATE_DIR "/var/lib/berth/agent"

typedef struct image_opts {
    const char *store;
    const char *state_dir;
    bool force;
} image_opts;

static void image_usage(FILE *out)
{
    fputs("Usage: berthctl image import [OPTIONS] NAME DIR|TARBALL\n"
          "       berthctl image ls [OPTIONS]\n"
          "       berthctl image rm [OPTIONS] NAME\n"
          "\n"
          "The node's image store: one root filesystem per image, which containers\n"
          "get a private overlay on. import copies a directory tree (ownership, modes,\n"
          "links and device nodes kept) or unpacks a tar archive (plain, gzip, xz,\n"
          "zstd or bzip2), e.g. from `docker export`.\n"
          "\n"
          "  --image-store DIR   the store (default " DEFAULT_STORE ")\n"
          "  --state-dir DIR     the agent's state (default " DEFAULT_STATE_DIR "), to refuse\n"
          "                      changing an image its containers run on\n"
          "  -f, --force         import: replace an existing image\n"
          "  -h, --help\n",
          out);
}

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

/* Containers of the agent on this node that run on image name (their
 * monitor alive), as a comma-separated list in out; 0 when none. */
static size_t image_users(const char *state_dir, const char *name, char *out, size_t size)
{
    char path[4096];
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;
    size_t n = 0, len = 0;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/containers", state_dir);
    d = opendir(path);
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        _cleanup_close_ int dfd = -1;
        ContainerPlan *plan = NULL;
        berth_monitor_liveness l;

        if (e->d_name[0] == '.')
            continue;
        dfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || berth_monitor_probe(dfd, &l, NULL) < 0 || l != BERTH_MONITOR_ALIVE ||
            berth_statedir_read_plan(dfd, &plan, NULL) < 0)
            continue;
        if (plan->spec && strcmp(plan->spec->image, name) == 0) {
            int w = snprintf(out + len, size - len, "%s%s", n ? ", " : "", e->d_name);

            if (w > 0 && (size_t)w < size - len)
                len += (size_t)w;
            n++;
        }
        container_plan_free_unpacked(plan, NULL);
    }
    return n;
}

static int refuse_if_used(const image_opts *o, const char *name, const char *what)
{
    char users[1024];
    size_t n = image_users(o->state_dir, name, users, sizeof(users));

    if (n == 0)
        return 0;
    berthctl_errorf("image %s: cannot %s it: %zu running container(s) use it (%s); stop them first",
                    name, what, n, users);
    return -1;
}

/* Fill the empty directory dst from src: a directory tree or a tarball. */
static int image_fill(const char *src, const char *dst, berth_error **err)
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

/* What a `docker save` archive looks like once unpacked: layers and a
 * manifest, no root filesystem. */
static bool looks_like_docker_save(int dfd)
{
    struct stat st;

    return fstatat(dfd, "manifest.json", &st, 0) == 0 && fstatat(dfd, "bin", &st, 0) < 0 &&
           fstatat(dfd, "usr", &st, 0) < 0;
}

static int image_import(const image_opts *o, const char *name, const char *src)
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
    if (replace && refuse_if_used(o, name, "replace") < 0)
        return 1;
    if (berth_mkdir_p(o->store, 0700, &err) < 0)
        goto fail;
    snprintf(tmp, sizeof(tmp), "%s/.import-%s-XXXXXX", o->store, name);
    if (!mkdtemp(tmp)) {
        berth_error_errno(&err, "%s", tmp);
        goto fail;
    }
    if (image_fill(src, tmp, &err) < 0)
        goto fail_tmp;
    /* An image is a root filesystem: containers see it as /. */
    if (chmod(tmp, 0755) < 0) {
        berth_error_errno(&err, "chmod %s", tmp);
        goto fail_tmp;
    }
    tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd >= 0 && looks_like_docker_save(tfd)) {
        berth_error_set(&err, EINVAL,
                        "%s is a `docker save` archive (layers, not a filesystem); "
                        "import the output of `docker export` instead",
                        src);
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

static int image_rm(const image_opts *o, const char *name)
{
    char dst[4200];
    berth_error *err = NULL;
    struct stat st;

    snprintf(dst, sizeof(dst), "%s/%s", o->store, name);
    if (lstat(dst, &st) < 0) {
        berthctl_errorf("image %s: not in %s", name, o->store);
        return 1;
    }
    if (refuse_if_used(o, name, "remove") < 0)
        return 1;
    if (berth_rm_rf_at(AT_FDCWD, dst, &err) < 0) {
        berthctl_errorf("image rm %s: %s", name, err->msg);
        berth_error_free(&err);
        return 1;
    }
    printf("%s\n", name);
    return 0;
}

/* Bytes used by the tree at dfd (hard links counted once per directory
 * walk would need a table; images rarely have many, so each counts). */
static uint64_t tree_bytes(int dfd)
{
    _cleanup_closedir_ DIR *d = fdopendir(dfd);
    struct dirent *e;
    uint64_t sum = 0;

    if (!d) {
        close(dfd);
        return 0;
    }
    while ((e = readdir(d))) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        sum += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

            if (sub >= 0)
                sum += tree_bytes(sub);
        }
    }
    return sum;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int image_ls(const image_opts *o)
{
    _cleanup_closedir_ DIR *d = opendir(o->store);
    char *names[1024];
    size_t n = 0;
    struct dirent *e;

    if (!d) {
        if (errno == ENOENT) {
            printf("%-40s %10s  %s\n", "NAME", "SIZE", "USED BY");
            return 0;
        }
        berthctl_errorf("image ls: %s: %s", o->store, strerror(errno));
        return 1;
    }
    while ((e = readdir(d)) && n < sizeof(names) / sizeof(names[0]))
        if (e->d_name[0] != '.' && berth_spec_image_name_valid(e->d_name))
            names[n++] = berth_xstrdup(e->d_name);
    qsort(names, n, sizeof(names[0]), name_cmp);
    printf("%-40s %10s  %s\n", "NAME", "SIZE", "USED BY");
    for (size_t i = 0; i < n; i++) {
        char users[1024];
        int fd = names[i] ? openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        double mib = fd >= 0 ? (double)tree_bytes(fd) / (1024.0 * 1024.0) : 0;

        if (!names[i])
            continue;
        image_users(o->state_dir, names[i], users, sizeof(users));
        printf("%-40s %8.1fMi  %s\n", names[i], mib, *users ? users : "-");
        free(names[i]);
    }
    return 0;
}

int berthctl_cmd_image(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        { "image-store", required_argument, NULL, 's' },
        { "state-dir", required_argument, NULL, 'S' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    image_opts o = { .store = DEFAULT_STORE, .state_dir = DEFAULT_STATE_DIR };
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
    if ((strcmp(verb, "import") == 0 && argc == 2) || (strcmp(verb, "rm") == 0 && argc == 1)) {
        if (!berth_spec_image_name_valid(argv[0])) {
            berthctl_errorf("image %s: '%s' is not a valid image name (1-128 of a-z A-Z 0-9 "
                            "_ . - :, starting with a letter or digit)",
                            verb, argv[0]);
            return BERTHCTL_EXIT_USAGE;
        }
        return strcmp(verb, "rm") == 0 ? image_rm(&o, argv[0]) : image_import(&o, argv[0], argv[1]);
    }
    image_usage(stderr);
    return BERTHCTL_EXIT_USAGE;
}
