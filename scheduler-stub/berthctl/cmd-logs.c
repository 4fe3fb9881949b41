/* berthctl logs: a container's log, which the controller relays from the
 * Agent service of the node that runs it; -f keeps following it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "berthctl.h"
#include "rpc/envelope.h"

static void logs_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl logs [-f] [--tail N] [--node NODE] CONTAINER\n"
            "\n"
            "Print a container's log (stdout and stderr, in order), fetched from its node.\n"
            "\n"
            "Options:\n"
            "  -f, --follow        keep printing new lines until the container ends\n"
            "      --tail N        start N lines before the end (default: from the first\n"
            "                      line kept)\n"
            "      --timestamps    prefix each line with when it was logged\n"
            "      --node NODE     the node, when the container's name is not unique\n"
            "  -h, --help          this help\n"
            "\n%s",
            berthctl_connection_help);
}

void berthctl_print_log_lines(const LogsResponse *resp, bool stamps, FILE *out)
{
    if (resp->truncated)
        fprintf(stderr, "berthctl: (the log was rotated: lines are missing here)\n");
    for (size_t i = 0; i < resp->n_lines; i++) {
        const LogLine *l = resp->lines[i];
        char t[BERTH_RFC3339NANO_LEN];

        if (stamps)
            fprintf(out, "%s ", berth_format_rfc3339nano(l->time_unix_ns, t));
        fwrite(l->line.data, 1, l->line.len, out);
        if (!l->partial)
            fputc('\n', out);
    }
    fflush(out);
}

int berthctl_logs_loop(berthctl_ctx *ctx, LogsRequest *req, bool follow, bool stamps)
{
    for (;;) {
        LogsResponse *resp = NULL;
        bool more;

        if (berthctl_call(ctx, "Logs", &req->base, (ProtobufCMessage **)&resp) != 0)
            return 1;
        berthctl_print_log_lines(resp, stamps, stdout);
        more = resp->n_lines > 0;
        req->cursor = resp->next_cursor;
        req->tail_lines = 0;
        if (resp->eof || (!follow && !more)) {
            berth_pb_free(&resp->base);
            return 0;
        }
        berth_pb_free(&resp->base);
        /* nothing new yet: ask again in a little while */
        if (!more)
            berth_loop_run_once(ctx->loop, 500 * BERTH_NSEC_PER_MSEC, NULL);
    }
}

int berthctl_cmd_logs(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "follow", no_argument, NULL, 'f' },     { "tail", required_argument, NULL, 'T' },
        { "timestamps", no_argument, NULL, 't' }, { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    LogsRequest req = LOGS_REQUEST_INIT;
    bool follow = false, stamps = false;
    int o;

    while ((o = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            follow = true;
            break;
        case 'T':
            if (berthctl_parse_tail(optarg, &req.tail_lines) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 't':
            stamps = true;
            break;
        case 'N':
            req.node = optarg;
            break;
        case 'h':
            logs_usage(stdout);
            return 0;
        default:
            logs_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        berthctl_errorf("logs needs one CONTAINER (see berthctl logs --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    req.container_id = argv[optind];
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    return berthctl_logs_loop(ctx, &req, follow, stamps);
}
