/* berthctl stop: stop a container now, through the Agent service of the
 * node that runs it (relayed by the controller). It stays stopped until
 * its assignment changes. */
#include <getopt.h>
#include <stdio.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "berthctl.h"
#include "rpc/envelope.h"
#include "spec/workload.h"

static void stop_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl stop [--grace D] [--node NODE] CONTAINER\n"
            "\n"
            "Stop a container now: its stop signal, then SIGKILL after the grace period. It\n"
            "stays stopped until its workload changes (apply a new spec, or delete and\n"
            "apply again).\n"
            "\n"
            "Options:\n"
            "      --grace D     from the stop signal to SIGKILL (default 10s)\n"
            "      --node NODE   the node, when the container's name is not unique\n"
            "  -h, --help        this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_cmd_stop(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "grace", required_argument, NULL, 'g' },
        { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    StopContainerRequest req = STOP_CONTAINER_REQUEST_INIT;
    char id[256];
    StopResponse *resp = NULL;
    int o;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'g':
            if (berthctl_parse_grace(optarg, &req.grace_period_ms) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 'N':
            req.node = optarg;
            break;
        case 'h':
            stop_usage(stdout);
            return 0;
        default:
            stop_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        berthctl_errorf("stop needs one CONTAINER (see berthctl stop --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    berthctl_container_id(ctx, argv[optind], id, sizeof(id));
    req.container_id = id;
    if (berthctl_call(ctx, "StopContainer", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    if (resp->status)
        printf("container/%s stopped: %s%s%s\n", req.container_id,
               berthctl_container_state(resp->status->state), *resp->status->reason ? ", " : "",
               resp->status->reason);
    else
        printf("container/%s stopped\n", req.container_id);
    berth_pb_free(&resp->base);
    return 0;
}
