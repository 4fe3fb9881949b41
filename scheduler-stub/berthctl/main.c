/* berthctl: dispatch to the subcommand. */
#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "berthctl.h"

static int run_local(berthctl_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    return berthctl_cmd_run(argc, argv);
}

static const berthctl_command commands[] = {
    { "apply", "create or update workloads from manifests", berthctl_cmd_apply },
    { "create", "create a namespace, a Secret, a ConfigMap, or a Job from a CronJob",
      berthctl_cmd_create },
    { "delete", "delete workloads or namespaces (or forget a node)", berthctl_cmd_delete },
    { "get", "list nodes, namespaces, workloads, pods or containers", berthctl_cmd_get },
    { "describe", "show one node, namespace, workload, pod or container, with its events",
      berthctl_cmd_describe },
    { "events", "the controller's events, and with -w the new ones as they come",
      berthctl_cmd_events },
    { "logs", "print a container's log, fetched from its node", berthctl_cmd_logs },
    { "exec", "run a command in a container, as kubectl exec", berthctl_cmd_exec },
    { "attach", "attach to a container's main process, as kubectl attach", berthctl_cmd_attach },
    { "port-forward", "forward local ports to a pod's ports, as kubectl port-forward",
      berthctl_cmd_port_forward },
    { "stop", "stop a container now, on its node", berthctl_cmd_stop },
    { "rollout", "a Deployment's rollout: status, history, undo, restart, pause, resume",
      berthctl_cmd_rollout },
    { "health", "survey every node's health", berthctl_cmd_health },
    { "top", "show the latest CPU and memory use", berthctl_cmd_top },
    { "node", "approve, cordon, uncordon, drain or taint a node", berthctl_cmd_node },
    { "cordon", "place no new replicas on a node (node cordon)", berthctl_cmd_cordon },
    { "uncordon", "place replicas on a node again (node uncordon)", berthctl_cmd_cordon },
    { "drain", "evict a node's pods within their disruption budgets (node drain)", berthctl_drain },
    { "join-token", "make, list or revoke tokens new nodes join with", berthctl_cmd_join_token },
    { "keygen", "make an operator key pair", berthctl_cmd_keygen },
    { "image", "pull, import, list and remove this node's images", berthctl_cmd_image },
    { "agent", "ask this machine's agent directly: ps, logs, stop, health", berthctl_cmd_agent },
    { "run", "run one container in the foreground, with no daemon", run_local },
    { "controller", "the fleet's controllers, the leader, and their store's health",
      berthctl_cmd_controller },
    { "version", "this berthctl's version and the controller's", berthctl_cmd_version },
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: berthctl COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n%s\nRun 'berthctl COMMAND --help' for a command's options.\n",
            berthctl_connection_help);
}

int main(int argc, char **argv)
{
    berthctl_ctx ctx = { 0 };
    int r;

    /* connection flags may come before the command too */
    if (argc > 1 && strcmp(argv[1], "run") != 0 &&
        (r = berthctl_take_global_flags(&ctx, &argc, argv)) != 0)
        return r;
    if (argc < 2) {
        usage(stderr);
        return BERTHCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("berthctl %s\n", berth_version());
        return 0;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        r = commands[i].run(&ctx, argc - 1, argv + 1);
        berthctl_disconnect(&ctx);
        return r;
    }
    berthctl_errorf("unknown command '%s' (see berthctl --help)", argv[1]);
    return BERTHCTL_EXIT_USAGE;
}
