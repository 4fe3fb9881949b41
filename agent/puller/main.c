/* berth-pull: pull one image reference into a node's image store, saying
 * how it goes on stdout, one line at a time, for a parent that reads them
 * (berthd starts one per pull: a pull blocks, berthd's loop must not):
 *
 *   progress PHASE DONE TOTAL LAYERS N_LAYERS   (PHASE: resolving,
 *                 downloading, unpacking; DONE/TOTAL bytes; at most every
 *                 100 ms, and at each change of phase)
 *   pulled REF DIGEST SIZE PULLED               (the last line: exit 0;
 *                 PULLED 1 when the registry was asked, 0 when the store
 *                 had it)
 *   error MESSAGE                               (the last line: exit 1)
 *
 * With --config-out FILE it also writes the image as a container uses it
 * (berth.v1.ImageConfig: its layer directories, Entrypoint, Cmd, Env,
 * WorkingDir, User resolved in the image's /etc/passwd, StopSignal) to
 * FILE, atomically, before the last line.
 *
 * berth-pull --gc [--in-use REF]... [--high P] [--low P] [--min-age S]
 * collects the store as kubelet does (above 85 % disk use, unused images
 * least recently used first, down to 80 %, none pulled less than 2 minutes
 * ago) and prints "collected IMAGES LAYERS BYTES USED_PERCENT".
 *
 * Usage errors go to stderr (exit 2). Killing it at any point leaves
 * nothing visible in the store; the next pull resumes its download. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "base/version.h"
#include "berth/proto/v1.h"
#include "image/container.h"
#include "image/pull.h"
#include "image/registries.h"
#include "image/store.h"
#include "pb/pb.h"

#define IN_USE_MAX 65536

static void usage(FILE *out)
{
    fputs(
        "Usage: berth-pull [OPTIONS] REF\n"
        "       berth-pull --gc [--store DIR] [--in-use REF]...\n"
        "\n"
        "Pull the image REF into the image store, writing progress lines to stdout:\n"
        "  progress PHASE DONE TOTAL LAYERS N_LAYERS\n"
        "  pulled REF DIGEST SIZE PULLED   (last line, exit 0)\n"
        "  error MESSAGE                   (last line, exit 1)\n"
        "Or collect the store's unused images when its disk is above 85 % full.\n"
        "\n"
        "Options:\n"
        "  --store DIR            the image store (default " BERTH_IMAGE_STORE_DEFAULT ")\n"
        "  --registries FILE      registry settings (default " BERTH_REGISTRIES_DEFAULT_PATH ",\n"
        "                         optional when not given)\n"
        "  --policy POLICY        Always (default), IfNotPresent or Never\n"
        "  --platform OS/ARCH[/VARIANT]  the image of an index to pull (default: this machine's)\n"
        "  --config-out FILE      write the image as a container uses it (berth.v1.ImageConfig)\n"
        "  --auth-file FILE       credentials of a pod's imagePullSecrets: docker configs\n"
        "                         (.dockerconfigjson), each NUL-ended; they win over\n"
        "                         registries.yaml's\n"
        "  --gc                   collect garbage instead of pulling\n"
        "  --in-use REF           an image a container uses (--gc keeps it; repeatable)\n"
        "  --high PERCENT, --low PERCENT  --gc's disk use thresholds (default 85, 80)\n"
        "  --min-age SECONDS      --gc never removes an image pulled less than this ago (120)\n"
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

/* The image as a container uses it: layers, config, user. */
static int write_config(berth_image_store *s, const berth_image *img, const char *path,
                        berth_error **err)
{
    _cleanup_free_ uint8_t *buf = NULL;
    ImageConfig *ic = NULL;
    size_t len;
    int r;

    if (berth_image_container_config(s, img, &ic, err) < 0)
        return -1;
    buf = berth_pb_pack(&ic->base, &len);
    r = berth_write_file_atomic_at(AT_FDCWD, path, buf, len, 0600, err);
    BERTH_PB_FREE(ic);
    return r;
}

static int collect(berth_image_store *s, const berth_image_gc_policy *policy, char **in_use,
                   size_t n_in_use)
{
    berth_image_removal rm = { 0 };
    berth_error *err = NULL;
    int used = 0;

    if (berth_image_store_gc(s, policy,
                             &(berth_image_in_use){ (const char *const *)in_use, n_in_use }, &rm,
                             &used, &err) < 0)
        return fail(&err);
    printf("collected %zu %zu %" PRId64 " %d\n", rm.images, rm.layers, rm.bytes, used);
    /* for a log (berthd's): only when something went */
    for (size_t i = 0; rm.refs && rm.refs[i]; i++)
        fprintf(stderr, "berth-pull: image garbage collection removed %s\n", rm.refs[i]);
    if (rm.images)
        fprintf(stderr,
                "berth-pull: image garbage collection: %zu image(s), %zu layer(s), %" PRId64
                " bytes freed; the store's disk %d%% used\n",
                rm.images, rm.layers, rm.bytes, used);
    berth_image_removal_clear(&rm);
    return 0;
}

/* The pod's imagePullSecrets (berthd writes them on its tmpfs): docker
 * configs one after another, each NUL-ended; their credentials win over
 * registries.yaml's. */
static int take_auth_file(berth_registries *regs, const char *path, berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    int r = 0;

    /* the node's Secrets together are at most 3 MiB */
    if (berth_read_file_at(AT_FDCWD, path, 4 << 20, &data, &len, err) < 0)
        return berth_error_prefix(err, "--auth-file");
    for (size_t at = 0; at < len && r == 0;) {
        size_t l = strnlen(data + at, len - at);

        if (l)
            r = berth_registries_add_docker_config(regs, data + at, l, err);
        at += l + 1;
    }
    explicit_bzero(data, len);
    return r < 0 ? berth_error_prefix(err, "imagePullSecrets") : 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "store", required_argument, NULL, 's' },
        { "registries", required_argument, NULL, 'r' },
        { "policy", required_argument, NULL, 'p' },
        { "platform", required_argument, NULL, 'P' },
        { "config-out", required_argument, NULL, 'o' },
        { "auth-file", required_argument, NULL, 'a' },
        { "gc", no_argument, NULL, 'g' },
        { "in-use", required_argument, NULL, 'u' },
        { "high", required_argument, NULL, 'H' },
        { "low", required_argument, NULL, 'L' },
        { "min-age", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *store_dir = BERTH_IMAGE_STORE_DEFAULT, *reg_file = NULL, *platform = NULL;
    const char *config_out = NULL, *auth_file = NULL;
    berth_pull_policy policy = BERTH_PULL_ALWAYS;
    _cleanup_(berth_registries_freep) berth_registries *regs = NULL;
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    _cleanup_free_ char **in_use = NULL;
    size_t n_in_use = 0;
    berth_image_pull_opts o = { .progress = on_progress };
    berth_oci_platform plat;
    char platbuf[80];
    berth_error *err = NULL;
    berth_image_gc_policy policy_gc = berth_image_gc_policy_default();
    bool gc = false, pulled = false;
    int c;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berth-pull %s\n", berth_version());
        return 0;
    }
    /* it holds registry passwords: no core dump of it (the flag berthd
     * set does not survive exec) */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
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
        case 'o':
            config_out = optarg;
            break;
        case 'a':
            auth_file = optarg;
            break;
        case 'g':
            gc = true;
            break;
        case 'u':
            if (n_in_use == IN_USE_MAX) {
                fprintf(stderr, "berth-pull: --in-use: at most %d\n", IN_USE_MAX);
                return 2;
            }
            in_use = berth_xreallocarray(in_use, n_in_use + 1, sizeof(*in_use));
            in_use[n_in_use++] = optarg;
            break;
        case 'H':
        case 'L':
        case 'A': {
            char *end;
            long v;

            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || (c != 'A' && v > 100) ||
                v > 10L * 365 * 24 * 3600) {
                fprintf(stderr, "berth-pull: --%s: '%s' is out of range\n",
                        c == 'H'   ? "high"
                        : c == 'L' ? "low"
                                   : "min-age",
                        optarg);
                return 2;
            }
            if (c == 'H')
                policy_gc.high_percent = (int)v;
            else if (c == 'L')
                policy_gc.low_percent = (int)v;
            else
                policy_gc.min_age_ns = v * BERTH_NSEC_PER_SEC;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + (gc ? 0 : 1) != argc) {
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
    if (gc) {
        if (berth_image_store_open(store_dir, &s, &err) < 0)
            return fail(&err);
        return collect(s, &policy_gc, in_use, n_in_use);
    }
    if (berth_registries_load(reg_file ? reg_file : BERTH_REGISTRIES_DEFAULT_PATH, reg_file != NULL,
                              &regs, &err) < 0 ||
        berth_image_store_open(store_dir, &s, &err) < 0)
        return fail(&err);
    if (auth_file && take_auth_file(regs, auth_file, &err) < 0)
        return fail(&err);
    o.registry.registries = regs;
    if (berth_image_ensure(s, argv[optind], policy, &o, &img, &pulled, &err) < 0 ||
        (config_out && write_config(s, img, config_out, &err) < 0))
        return fail(&err);
    /* A container is about to use it: garbage collection goes by this. */
    if (!pulled)
        berth_image_store_touch(s, img->ref, NULL);
    printf("pulled %s %s %" PRId64 " %d\n", img->ref, img->digest, img->size, pulled ? 1 : 0);
    return 0;
}
