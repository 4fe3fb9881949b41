/* berthctl node: admit a node awaiting approval, cordon, uncordon or drain
 * it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "berthctl.h"
#include "rpc/envelope.h"

static void node_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl node approve NAME [--fingerprint KEY]\n"
            "       berthctl node cordon|uncordon|drain NAME\n"
            "\n"
            "  approve    admit the key NAME presented (see 'berthctl get nodes': it is\n"
            "             PendingApproval); --fingerprint admits it only if it is that key,\n"
            "             the one the node's berthd printed\n"
            "  cordon     place no new Deployment or Pod replicas on NAME\n"
            "  uncordon   place replicas on NAME again (also ends a drain)\n"
            "  drain      cordon NAME and move its Deployment and Pod replicas elsewhere\n"
            "             (DaemonSet replicas stay)\n"
            "\n"
            "Options:\n"
            "      --fingerprint KEY   approve: the key's fingerprint (base64)\n"
            "  -h, --help              this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_cmd_node(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "fingerprint", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    ApproveNodeRequest areq = APPROVE_NODE_REQUEST_INIT;
    CordonNodeRequest creq = CORDON_NODE_REQUEST_INIT;
    DrainNodeRequest dreq = DRAIN_NODE_REQUEST_INIT;
    Node *n = NULL;
    const char *verb, *done, *method;
    ProtobufCMessage *req;
    int o, r;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'F':
            areq.key_fingerprint = optarg;
            break;
        case 'h':
            node_usage(stdout);
            return 0;
        default:
            node_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        berthctl_errorf("node needs an action and a NAME (see berthctl node --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    verb = argv[optind];
    areq.name = creq.name = dreq.name = argv[optind + 1];
    if (strcmp(verb, "approve") == 0) {
        method = "ApproveNode";
        req = &areq.base;
        done = "approved";
    } else if (strcmp(verb, "cordon") == 0 || strcmp(verb, "uncordon") == 0) {
        method = "CordonNode";
        creq.cordon = verb[0] == 'c';
        req = &creq.base;
        done = creq.cordon ? "cordoned" : "uncordoned";
    } else if (strcmp(verb, "drain") == 0) {
        method = "DrainNode";
        req = &dreq.base;
        done = "drained";
    } else {
        berthctl_errorf("node '%s'? approve, cordon, uncordon or drain", verb);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    if ((r = berthctl_call(ctx, method, req, (ProtobufCMessage **)&n)) != 0)
        return r;
    printf("node/%s %s\n", argv[optind + 1], done);
    berth_pb_free(&n->base);
    return 0;
}
