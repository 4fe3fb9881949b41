/* berthctl exec: run a command in a pod's container, as kubectl exec does,
 * through the controller (Controller.Exec, relayed to the node's agent and
 * by it to the container's monitor). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "berthctl.h"
#include "pb/pb.h"
#include "rpc/principal.h"

static void exec_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl exec [-i] [-t] POD [-c CONTAINER] [--node NODE] -- COMMAND [ARGS...]\n"
            "       berthctl exec [-i] [-t] CONTAINER-ID -- COMMAND [ARGS...]\n"
            "\n"
            "Run a command in a running container, as kubectl exec does: in all of its\n"
            "namespaces and its cgroup, with its user, capabilities, seccomp profile,\n"
            "environment and working directory. Without -c, a pod's first container.\n"
            "The exit code is the command's (126: it could not run, 127: not found).\n"
            "\n"
            "Options:\n"
            "  -c, --container C   the pod's container C\n"
            "  -i, --stdin         pass stdin to the command\n"
            "  -t, --tty           a terminal in the container (this one in raw mode,\n"
            "                      its size followed)\n"
            "      --node NODE     the node, when the container's name is not unique\n"
            "  -h, --help          this help\n"
            "\n"
            "Every exec is an event at the controller (berthctl describe pod, events).\n"
            "\n%s",
            berthctl_connection_help);
}

/* The terminal's size now, for the command's first (0 when unknown). */
static void term_size(uint32_t *rows, uint32_t *cols)
{
    struct winsize ws;

    *rows = *cols = 0;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

int berthctl_exec_parse(int argc, char **argv, ExecStart *req, const char **ret_target,
                        const char **ret_container, bool agent)
{
    static const struct option opts[] = {
        { "container", required_argument, NULL, 'c' },
        { "stdin", no_argument, NULL, 'i' },
        { "tty", no_argument, NULL, 't' },
        { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int o, dash = -1, end;

    for (int i = 1; i < argc && dash < 0; i++)
        if (strcmp(argv[i], "--") == 0)
            dash = i;
    /* before "--": options anywhere around the target (GNU getopt moves
     * the target last); without "--" (kubectl's old form): options, the
     * target, then the command */
    end = dash >= 0 ? dash : argc;
    optind = 1;
    while ((o = getopt_long(end, argv, dash >= 0 ? "c:ith" : "+c:ith", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            *ret_container = optarg;
            break;
        case 'i':
            req->stdin = true;
            break;
        case 't':
            req->tty = true;
            break;
        case 'N':
            req->node = optarg;
            break;
        case 'h':
            return -1;
        default:
            return -2;
        }
    }
    if (optind < end)
        *ret_target = argv[optind++];
    if (dash >= 0 && optind < end) {
        berthctl_errorf("exec: one %s before --, got %s and %s", agent ? "CONTAINER" : "POD",
                        *ret_target, argv[optind]);
        return -2;
    }
    if (dash >= 0)
        optind = dash + 1;
    if (!*ret_target) {
        berthctl_errorf("exec needs a %s and a command (see berthctl %sexec --help)",
                        agent ? "CONTAINER" : "POD", agent ? "agent " : "");
        return -2;
    }
    if (optind >= argc) {
        berthctl_errorf("exec: no command given: berthctl %sexec %s -- COMMAND [ARGS...]",
                        agent ? "agent " : "", *ret_target);
        return -2;
    }
    req->command = argv + optind;
    req->n_command = (size_t)(argc - optind);
    if (req->tty && !isatty(STDIN_FILENO)) {
        /* kubectl's words, and it goes on without one */
        fprintf(stderr, "Unable to use a TTY - input is not a terminal or the right kind of "
                        "file\n");
        req->tty = false;
    }
    if (req->tty)
        term_size(&req->rows, &req->cols);
    return 0;
}

int berthctl_cmd_exec(berthctl_ctx *ctx, int argc, char **argv)
{
    ExecStart req = EXEC_START_INIT;
    DuplexOpened *opened = NULL;
    const char *target = NULL, *container = NULL;
    char id[256], node[BERTH_NAME_MAX + 1];
    int rc;

    rc = berthctl_exec_parse(argc, argv, &req, &target, &container, false);
    if (rc == -1) {
        exec_usage(stdout);
        return 0;
    }
    if (rc < 0)
        return BERTHCTL_EXIT_USAGE;
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    snprintf(node, sizeof(node), "%s", req.node);
    if (berthctl_find_container(ctx, target, container, BERTHCTL_PICK_FIRST_SAY, id, sizeof(id),
                                node, sizeof(node)) < 0)
        return 1;
    req.container_id = id;
    req.node = node;
    if (berthctl_call(ctx, "Exec", &req.base, (ProtobufCMessage **)&opened) != 0)
        return 1;
    rc = berthctl_exec_stream(ctx, opened, req.stdin, req.tty, false);
    berth_pb_free(&opened->base);
    return rc;
}
