/* berthctl keygen: an operator key pair, made and kept on this machine. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/keys.h"

static void keygen_usage(FILE *out)
{
    fprintf(out, "Usage: berthctl keygen [--out FILE] [--operator NAME] [--force]\n"
                 "\n"
                 "Make an operator key pair. The secret key goes to FILE (mode 0600; default\n"
                 "~/.config/berth/operator.key); the public key is printed, to be installed on\n"
                 "the controller as OPERATORS_DIR/NAME.pub (default\n"
                 "/var/lib/berth/controller/operators/NAME.pub), then the controller restarted.\n"
                 "Use it with --key FILE --operator NAME (or key: and operator: in\n"
                 "~/.config/berth/config.yaml).\n"
                 "\n"
                 "Options:\n"
                 "      --out FILE        where the secret key goes\n"
                 "      --pub FILE        also write the public key file there\n"
                 "      --operator NAME   the name the key is for (default: $USER)\n"
                 "      --force           replace an existing key file\n"
                 "  -h, --help            this help\n");
}

int berthctl_cmd_keygen(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "out", required_argument, NULL, 'o' },
        { "pub", required_argument, NULL, 'p' },
        { "force", no_argument, NULL, 'f' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_error_ berth_error *err = NULL;
    _cleanup_free_ char *def = NULL;
    const char *out = NULL, *pub = NULL, *home = getenv("HOME"), *user = getenv("USER");
    const char *name = ctx->operator_name;
    char fp[BERTH_FINGERPRINT_LEN];
    berth_keypair kp;
    bool force = false;
    struct stat sb;
    int o;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'o':
            out = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            keygen_usage(stdout);
            return 0;
        default:
            keygen_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        berthctl_errorf("unexpected argument '%s'", argv[optind]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (!name)
        name = user && *user ? user : "admin";
    if (berth_name_validate(name, "operator name", &err) < 0) {
        berthctl_errorf("%s", err->msg);
        return BERTHCTL_EXIT_USAGE;
    }
    if (!out) {
        if (!home || !*home) {
            berthctl_errorf("HOME is not set: name the key file with --out");
            return BERTHCTL_EXIT_USAGE;
        }
        def = berth_xasprintf("%s/.config/berth", home);
        if (berth_mkdir_p(def, 0700, &err) < 0) {
            berthctl_errorf("%s", err->msg);
            return 1;
        }
        free(def);
        def = berth_xasprintf("%s/.config/berth/operator.key", home);
        out = def;
    }
    if (!force && lstat(out, &sb) == 0) {
        berthctl_errorf("%s exists (--force replaces it)", out);
        return 1;
    }
    if (berth_keypair_generate(&kp, &err) < 0 || berth_keypair_save(AT_FDCWD, out, &kp, &err) < 0 ||
        (pub && berth_pubkeys_save(AT_FDCWD, pub, (const uint8_t(*)[BERTH_PUBKEY_LEN])kp.pk, 1,
                                   &err) < 0)) {
        berth_keypair_wipe(&kp);
        berthctl_errorf("%s", err->msg);
        return 1;
    }
    printf("berth-ed25519-v1 %s %s\n", berth_key_fingerprint(kp.pk, fp), name);
    fprintf(stderr,
            "secret key: %s\ninstall the line above on the controller as "
            "/var/lib/berth/controller/operators/%s.pub and restart it\n",
            out, name);
    berth_keypair_wipe(&kp);
    return 0;
}
