/* berthctl join-token: tokens new nodes present at their first handshake
 * to be admitted without an operator's approval (kubeadm's bootstrap
 * tokens): make one for N nodes, list them, revoke one. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "berthctl.h"
#include "rpc/envelope.h"

static void token_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl join-token [create] [--uses N] [--ttl D] [--description TEXT]\n"
            "                           [--print-join-command]\n"
            "       berthctl join-token ls\n"
            "       berthctl join-token rm ID...\n"
            "\n"
            "create (the default): make a join token and print it (only it, on stdout); how a\n"
            "node joins with it goes to stderr:\n"
            "  berthd join ADDRESS --token TOKEN --controller-fingerprint SHA256:...\n"
            "The token admits N node keys, each once, until it expires. The controller keeps\n"
            "only what verifies it: it is not shown again.\n"
            "ls: the tokens that have not expired (never their secrets).\n"
            "rm: revoke tokens by id (or whole token): no node joins with them any more.\n"
            "\n"
            "Options:\n"
            "      --uses N              node keys it admits (default 1, at most 10000)\n"
            "      --ttl D               how long it may be used (default 1h, at most 720h)\n"
            "      --description TEXT    shown in listings and the controller's events\n"
            "      --print-join-command  print the whole berthd join command on stdout\n"
            "  -h, --help                this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* "23h", "59m", "<expired>": what is left of a lifetime. */
static char *ttl_left(int64_t expires_ns, char *buf, size_t size)
{
    int64_t s = (expires_ns - berth_now_real_ns()) / BERTH_NSEC_PER_SEC;

    if (s <= 0)
        snprintf(buf, size, "<expired>");
    else if (s < 120)
        snprintf(buf, size, "%" PRId64 "s", s);
    else if (s < 120 * 60)
        snprintf(buf, size, "%" PRId64 "m", s / 60);
    else if (s < 48 * 3600)
        snprintf(buf, size, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, size, "%" PRId64 "d", s / 86400);
    return buf;
}

static int token_list(berthctl_ctx *ctx)
{
    static const char *const h[] = {
        "ID", "TTL", "EXPIRES", "USED", "LAST USED BY", "DESCRIPTION"
    };
    ListJoinTokensRequest req = LIST_JOIN_TOKENS_REQUEST_INIT;
    ListJoinTokensResponse *resp = NULL;
    berthctl_table *t;

    if (berthctl_connect_or_exit(ctx) != 0 ||
        berthctl_call(ctx, "ListJoinTokens", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    if (resp->n_tokens == 0) {
        fprintf(stderr, "No join tokens found.\n");
        berth_pb_free(&resp->base);
        return 0;
    }
    t = berthctl_table_new(6, h);
    for (size_t i = 0; i < resp->n_tokens; i++) {
        const JoinToken *k = resp->tokens[i];
        char ttl[16], exp[BERTH_RFC3339NANO_LEN], used[32];
        const char *cells[6];

        berth_format_rfc3339nano(k->expires_unix_ns, exp);
        exp[19] = 'Z';
        exp[20] = '\0';
        snprintf(used, sizeof(used), "%u/%u", k->used, k->uses);
        cells[0] = k->id;
        cells[1] = ttl_left(k->expires_unix_ns, ttl, sizeof(ttl));
        cells[2] = exp;
        cells[3] = used;
        cells[4] = *k->last_used_by ? k->last_used_by : "<none>";
        cells[5] = *k->description ? k->description : "<none>";
        berthctl_table_add(t, cells, NULL);
    }
    berthctl_table_print(t, stdout);
    berthctl_table_free(t);
    berth_pb_free(&resp->base);
    return 0;
}

static int token_remove(berthctl_ctx *ctx, int argc, char **argv)
{
    int status = 0;

    if (argc == 0) {
        berthctl_errorf("join-token rm: name the token ids to revoke (join-token ls shows them)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    for (int i = 0; i < argc; i++) {
        DeleteJoinTokenRequest req = DELETE_JOIN_TOKEN_REQUEST_INIT;
        JoinToken *gone = NULL;

        req.id = argv[i];
        if (berthctl_call(ctx, "DeleteJoinToken", &req.base, (ProtobufCMessage **)&gone) != 0) {
            status = 1;
            continue;
        }
        printf("join token %s revoked (%u of %u use(s) taken)\n", gone->id, gone->used, gone->uses);
        berth_pb_free(&gone->base);
    }
    return status;
}

int berthctl_cmd_join_token(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "ttl", required_argument, NULL, 't' },
        { "uses", required_argument, NULL, 'u' },
        { "description", required_argument, NULL, 'd' },
        { "print-join-command", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    CreateJoinTokenRequest req = CREATE_JOIN_TOKEN_REQUEST_INIT;
    JoinToken *tok = NULL;
    char t[BERTH_RFC3339NANO_LEN], *end;
    bool print_command = false;
    int64_t ns;
    int o;

    /* a subcommand first, as kubeadm token's */
    if (argc > 1 && argv[1][0] != '-') {
        if (strcmp(argv[1], "ls") == 0 || strcmp(argv[1], "list") == 0) {
            if (argc > 2) {
                berthctl_errorf("join-token ls: unexpected argument '%s'", argv[2]);
                return BERTHCTL_EXIT_USAGE;
            }
            return token_list(ctx);
        }
        if (strcmp(argv[1], "rm") == 0 || strcmp(argv[1], "delete") == 0)
            return token_remove(ctx, argc - 2, argv + 2);
        if (strcmp(argv[1], "create") != 0) {
            berthctl_errorf("join-token: unknown subcommand '%s' (create, ls or rm)", argv[1]);
            return BERTHCTL_EXIT_USAGE;
        }
        argc--;
        argv++;
    }
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
        case 'u': {
            unsigned long v = strtoul(optarg, &end, 10);

            if (!*optarg || *end || optarg[0] == '-' || v < 1 || v > 10000) {
                berthctl_errorf("--uses: '%s' is not a number in 1..10000", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            req.uses = (uint32_t)v;
            break;
        }
        case 'd':
            req.description = optarg;
            break;
        case 'p':
            print_command = true;
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
    if (print_command)
        printf("berthd join %s --token %s --controller-fingerprint %s\n", tok->controller_address,
               tok->token, tok->controller_fingerprint);
    else
        printf("%s\n", tok->token);
    fprintf(stderr, "join token %s, valid until %.19sZ, for %u node(s)\n", tok->id,
            berth_format_rfc3339nano(tok->expires_unix_ns, t), tok->uses);
    if (!print_command)
        fprintf(stderr,
                "join a node with:\n  berthd join %s --token %s --controller-fingerprint %s\n",
                tok->controller_address, tok->token, tok->controller_fingerprint);
    berth_pb_free(&tok->base);
    return 0;
}
