/* berthctl join-token: a one-time token a new node presents at its first
 * handshake to be admitted without an operator's approval. */
#include <getopt.h>
#include <stdio.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "berthctl.h"
#include "rpc/envelope.h"

static void token_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl join-token [--ttl D] [--description TEXT]\n"
            "\n"
            "Make a one-time join token and print it (only it, on stdout). Give it to the new\n"
            "node's berthd (its join token setting): it enrolls that node's key, once. The\n"
            "controller keeps only what verifies it; it is not shown again.\n"
            "\n"
            "Options:\n"
            "      --ttl D               how long it may be used (default 1h, at most 720h)\n"
            "      --description TEXT    shown in the controller's events\n"
            "  -h, --help                this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_cmd_join_token(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "ttl", required_argument, NULL, 't' },
        { "description", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    CreateJoinTokenRequest req = CREATE_JOIN_TOKEN_REQUEST_INIT;
    JoinToken *tok = NULL;
    char t[BERTH_RFC3339NANO_LEN];
    int64_t ns;
    int o;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            if (berth_parse_duration(optarg, "--ttl", &ns, NULL) < 0 || ns < BERTH_NSEC_PER_SEC ||
                ns > 720 * 3600 * BERTH_NSEC_PER_SEC) {
                berthctl_errorf("--ttl: '%s' is not a duration in 1s..720h", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            req.ttl_seconds = (uint32_t)(ns / BERTH_NSEC_PER_SEC);
            break;
        case 'd':
            req.description = optarg;
            break;
        case 'h':
            token_usage(stdout);
            return 0;
        default:
            token_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        berthctl_errorf("unexpected argument '%s'", argv[optind]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0 ||
        berthctl_call(ctx, "CreateJoinToken", &req.base, (ProtobufCMessage **)&tok) != 0)
        return 1;
    printf("%s\n", tok->token);
    fprintf(stderr, "join token %s, valid until %.19sZ, for one node\n", tok->id,
            berth_format_rfc3339nano(tok->expires_unix_ns, t));
    berth_pb_free(&tok->base);
    return 0;
}
