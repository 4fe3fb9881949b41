/* berthctl attach: to a running container's main process, as kubectl
 * attach does (Controller.Attach, relayed to the node's agent and by it to
 * the container's monitor): its output from now on, its stdin with -i, its
 * terminal with -t when the spec gave it one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berthctl.h"
#include "pb/pb.h"
#include "rpc/principal.h"

static void attach_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl attach [-i] [-t] POD [-c CONTAINER] [--node NODE]\n"
            "       berthctl attach [-i] [-t] CONTAINER-ID\n"
            "\n"
            "Attach to a running container's main process, as kubectl attach does: its\n"
            "output from now on; with -i its stdin (the spec must set stdin or tty), with -t\n"
            "its terminal (the spec must set tty). Ends when the container exits (with its\n"
            "exit code) or when interrupted, which leaves the container running. Without\n"
            "-c, a pod's first container.\n"
            "\n"
            "Options:\n"
            "  -c, --container C   the pod's container C\n"
            "  -i, --stdin         pass stdin to the container\n"
            "  -t, --tty           the container's terminal (this one in raw mode)\n"
            "      --node NODE     the node, when the pod's name is not unique\n"
            "  -h, --help          this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_cmd_attach(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "container", required_argument, NULL, 'c' },
        { "stdin", no_argument, NULL, 'i' },
        { "tty", no_argument, NULL, 't' },
        { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    AttachStart req = ATTACH_START_INIT;
    GetContainerRequest gc = GET_CONTAINER_REQUEST_INIT;
    ContainerInfo *ci = NULL;
    DuplexOpened *opened = NULL;
    const char *container = NULL;
    char id[256], node[BERTH_NAME_MAX + 1] = "";
    bool tty = false, spec_tty = false;
    int o, rc;

    while ((o = getopt_long(argc, argv, "c:ith", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            container = optarg;
            break;
        case 'i':
            req.stdin = true;
            break;
        case 't':
            tty = true;
            break;
        case 'N':
            snprintf(node, sizeof(node), "%s", optarg);
            break;
        case 'h':
            attach_usage(stdout);
            return 0;
        default:
            attach_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        berthctl_errorf("attach needs one POD (see berthctl attach --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    if (berthctl_find_container(ctx, argv[optind], container, BERTHCTL_PICK_FIRST_SAY, id,
                                sizeof(id), node, sizeof(node)) < 0)
        return 1;
    gc.id = id;
    gc.node = node;
    if (berthctl_call(ctx, "GetContainer", &gc.base, (ProtobufCMessage **)&ci) != 0)
        return 1;
    spec_tty = ci->spec && ci->spec->tty;
    berth_pb_free(&ci->base);
    /* kubectl's words, and it goes on without */
    if (tty && !spec_tty) {
        fprintf(stderr, "Unable to use a TTY - container %s did not allocate one\n",
                container ? container : argv[optind]);
        tty = false;
    } else if (tty && !isatty(STDIN_FILENO)) {
        fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind of "
                        "file\n");
        tty = false;
    }
    if (tty && req.stdin)
        fprintf(stderr, "If you don't see a command prompt, try pressing enter.\n");
    req.container_id = id;
    req.node = node;
    if (berthctl_call(ctx, "Attach", &req.base, (ProtobufCMessage **)&opened) != 0)
        return 1;
    rc = berthctl_exec_stream(ctx, opened, req.stdin, tty, true);
    berth_pb_free(&opened->base);
    return rc;
}
