/* berthctl image import: put an image into this node's image store
 * (/var/lib/berth/images/NAME) from a directory or a tarball. The content
 * is built in a temporary directory beside it, synced, then renamed into
 * place, so a container never sees half an image and a failed import
 * leaves nothing behind. Local: no controller involved. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "berthctl.h"
#include "runtime/spec.h"

#define DEFAULT_IMAGES "/var/lib/berth/images"

extern char **environ;

static void image_usage(FILE *out)
{
    fputs("Usage: berthctl image import NAME DIR|TARBALL [--images-dir DIR] [--force]\n"
          "\n"
          "Import an image into this machine's image store, where berthd finds the images\n"
          "manifests name (image: NAME). A directory is copied as is (cp -a); a tarball\n"
          "(.tar, .tar.gz, .tar.xz ...) is unpacked (tar, which refuses members with '..').\n"
          "The image appears at once and whole, or not at all.\n"
          "\n"
          "Options:\n"
          "      --images-dir DIR   the image store (default " DEFAULT_IMAGES ")\n"
          "      --force            replace an image of the same name (running containers\n"
          "                         keep the one they started with)\n"
          "  -h, --help             this help\n",
          out);
}

/* Run argv and wait; 0 when it exited 0. */
static int spawn_wait(char *const argv[], berth_error **err)
{
    pid_t pid;
    int status, r;

    r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (r != 0)
        return berth_error_make(err, r, "run %s", argv[0]);
    if (berth_waitpid(pid, &status, 0) < 0)
        return berth_error_errno(err, "wait for %s", argv[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return berth_error_set(err, EIO, "%s failed (%s %d)", argv[0],
                               WIFEXITED(status) ? "exit code" : "signal",
                               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

static int fill(const char *src, const char *tmp, berth_error **err)
{
    struct stat sb;
    char from[4096];

    if (stat(src, &sb) < 0)
        return berth_error_errno(err, "%s", src);
    if (S_ISDIR(sb.st_mode)) {
        char *argv[] = { "cp", "-a", "--", from, (char *)tmp, NULL };

        snprintf(from, sizeof(from), "%s/.", src);
        return spawn_wait(argv, err);
    }
    if (S_ISREG(sb.st_mode)) {
        char *argv[] = {
            "tar", "-x", "--numeric-owner", "-f", (char *)src, "-C", (char *)tmp, NULL
        };

        return spawn_wait(argv, err);
    }
    return berth_error_set(err, EINVAL, "%s is neither a directory nor a tarball", src);
}

static int import(const char *name, const char *src, const char *images, bool force,
                  berth_error **err)
{
    char tmp[4096], dst[4096];
    _cleanup_close_ int fd = -1;
    int r;

    if (berth_mkdir_p(images, 0755, err) < 0)
        return -1;
    snprintf(dst, sizeof(dst), "%s/%s", images, name);
    if (!force && access(dst, F_OK) == 0)
        return berth_error_set(err, EEXIST, "image %s exists in %s (--force replaces it)", name,
                               images);
    snprintf(tmp, sizeof(tmp), "%s/.import-%s-XXXXXX", images, name);
    if (!mkdtemp(tmp))
        return berth_error_errno(err, "create a directory in %s", images);
    if (chmod(tmp, 0755) < 0 || fill(src, tmp, err) < 0)
        goto fail;
    /* on disk before it has its name */
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) < 0) {
        berth_error_errno(err, "sync %s", tmp);
        goto fail;
    }
    r = renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE);
    if (r < 0 && errno == EEXIST && force) {
        /* swap: the old image lands at tmp and is removed */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_EXCHANGE) < 0) {
            berth_error_errno(err, "replace %s", dst);
            goto fail;
        }
        berth_rm_rf_at(AT_FDCWD, tmp, NULL);
        return 0;
    }
    if (r < 0) {
        berth_error_errno(err, "rename into %s", dst);
        goto fail;
    }
    return 0;
fail:
    berth_rm_rf_at(AT_FDCWD, tmp, NULL);
    return berth_error_prefix(err, "import %s", name);
}

int berthctl_cmd_image(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "images-dir", required_argument, NULL, 'i' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_error_ berth_error *err = NULL;
    const char *images = DEFAULT_IMAGES;
    bool force = false;
    int o;

    (void)ctx;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'i':
            images = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            image_usage(stdout);
            return 0;
        default:
            image_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 3 || strcmp(argv[optind], "import") != 0) {
        berthctl_errorf("usage: berthctl image import NAME DIR|TARBALL (see --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (!berth_spec_image_name_valid(argv[optind + 1])) {
        berthctl_errorf("'%s' is not an image name (1-128 of letters, digits, '.', '_', '-', "
                        "':'; no '/')",
                        argv[optind + 1]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (import(argv[optind + 1], argv[optind + 2], images, force, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        return 1;
    }
    printf("image %s imported into %s/%s\n", argv[optind + 1], images, argv[optind + 1]);
    return 0;
}
