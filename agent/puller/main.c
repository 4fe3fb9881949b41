/* berth-pull: pull one image reference into a node's image store, saying
 * how it goes on stdout, one line at a time, for a parent that reads them
 * (berthd will start one per pull: a pull blocks, berthd's loop must not):
 *
 *   progress PHASE DONE TOTAL LAYERS N_LAYERS   (PHASE: resolving,
 *                 downloading, unpacking; DONE/TOTAL bytes; at most every
 *                 100 ms, and at each change of phase)
 *   pulled REF DIGEST SIZE                      (the last line: exit 0)
 *   error MESSAGE                               (the last line: exit 1)
 *
 * Usage errors go to stderr (exit 2). Killing it at any point leaves
 * nothing visible in the store; the next pull resumes its download. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "image/pull.h"
#include "image/registries.h"
#include "image/store.h"

static void usage(FILE *out)
{
    fputs(
        "Usage: berth-pull [OPTIONS] REF\n"
        "\n"
        "Pull the image REF into the image store, writing progress lines to stdout:\n"
        "  progress PHASE DONE TOTAL LAYERS N_LAYERS\n"
        "  pulled REF DIGEST SIZE   (last line, exit 0)\n"
        "  error MESSAGE            (last line, exit 1)\n"
        "\n"
        "Options:\n"
        "  --store DIR            the image store (default " BERTH_IMAGE_STORE_DEFAULT ")\n"
        "  --registries FILE      registry settings (default " BERTH_REGISTRIES_DEFAULT_PATH ",\n"
        "                         optional when not given)\n"
        "  --policy POLICY        Always (default), IfNotPresent or Never\n"
        "  --platform OS/ARCH[/VARIANT]  the image of an index to pull (default: this machine's)\n"
        "  -h, --help\n",
        out);
}

static const char *phase_word(berth_image_phase p)
{
    switch (p) {
    case BERTH_IMAGE_RESOLVING:
        return "resolving";
    case BERTH_IMAGE_DOWNLOADING:
        return "downloading";
    case BERTH_IMAGE_UNPACKING:
        return "unpacking";
    default:
        return "done";
    }
}

static void on_progress(const berth_image_progress *p, void *data)
{
    (void)data;
    if (p->phase == BERTH_IMAGE_DONE)
        return;
    printf("progress %s %" PRId64 " %" PRId64 " %zu %zu\n", phase_word(p->phase), p->done, p->total,
           p->layer, p->n_layers);
    fflush(stdout);
}

static int fail(berth_error **err)
{
    /* one line: a message never holds a newline, but be sure */
    for (char *p = (*err)->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    printf("error %s\n", (*err)->msg);
    fflush(stdout);
    berth_error_free(err);
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "store", required_argument, NULL, 's' },  { "registries", required_argument, NULL, 'r' },
        { "policy", required_argument, NULL, 'p' }, { "platform", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *store_dir = BERTH_IMAGE_STORE_DEFAULT, *reg_file = NULL, *platform = NULL;
    berth_pull_policy policy = BERTH_PULL_ALWAYS;
    _cleanup_(berth_registries_freep) berth_registries *regs = NULL;
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    berth_image_pull_opts o = { .progress = on_progress };
    berth_oci_platform plat;
    char platbuf[80];
    berth_error *err = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 's':
            store_dir = optarg;
            break;
        case 'r':
            reg_file = optarg;
            break;
        case 'p':
            if (berth_pull_policy_parse(optarg, &policy, &err) < 0) {
                fprintf(stderr, "berth-pull: --policy: %s\n", err->msg);
                berth_error_free(&err);
                return 2;
            }
            break;
        case 'P':
            platform = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    if (platform) {
        if (berth_oci_platform_parse(platform, platbuf, sizeof(platbuf), &plat, &err) < 0) {
            fprintf(stderr, "berth-pull: --platform: %s\n", err->msg);
            berth_error_free(&err);
            return 2;
        }
        o.platform = &plat;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (berth_registries_load(reg_file ? reg_file : BERTH_REGISTRIES_DEFAULT_PATH, reg_file != NULL,
                              &regs, &err) < 0 ||
        berth_image_store_open(store_dir, &s, &err) < 0)
        return fail(&err);
    o.registry.registries = regs;
    if (berth_image_ensure(s, argv[optind], policy, &o, &img, NULL, &err) < 0)
        return fail(&err);
    printf("pulled %s %s %" PRId64 "\n", img->ref, img->digest, img->size);
    return 0;
}
