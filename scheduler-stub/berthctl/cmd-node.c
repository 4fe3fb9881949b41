/* berthctl node: admit a node awaiting approval, cordon, uncordon or drain
 * it, taint it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/envelope.h"

static void node_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl node approve NAME [--fingerprint KEY]\n"
            "       berthctl node cordon|uncordon NAME\n"
            "       berthctl node drain NAME [--ignore-daemonsets] [--force] [--timeout D]\n"
            "       berthctl node taint NAME KEY[=VALUE]:EFFECT... KEY[:EFFECT]-...\n"
            "\n"
            "  approve    admit the key NAME presented (see 'berthctl get nodes': it is\n"
            "             PendingApproval); --fingerprint admits it only if it is that key,\n"
            "             the one the node's berthd printed\n"
            "  cordon     place no new Deployment or Pod replicas on NAME\n"
            "  uncordon   place replicas on NAME again (also ends a drain)\n"
            "  drain      cordon NAME and evict its pods as each PodDisruptionBudget allows,\n"
            "             waiting for them to be Ready elsewhere (see berthctl drain --help)\n"
            "  taint      add taints (EFFECT: NoSchedule, PreferNoSchedule, NoExecute) and\n"
            "             remove them (a trailing '-'), as kubectl taint nodes does\n"
            "\n"
            "Options:\n"
            "      --fingerprint KEY   approve: the key's fingerprint (base64)\n"
            "  -h, --help              this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* kubectl's taint syntax: KEY[=VALUE]:EFFECT to add, KEY[:EFFECT]- to
 * remove; into a new Taint (pointing into arg), -1 when it is none. */
static int parse_taint(char *arg, Taint **ret, bool *ret_remove)
{
    size_t n = strlen(arg);
    Taint *t = berth_xcalloc(1, sizeof(*t));
    char *colon, *eq;

    taint_init(t);
    *ret_remove = n > 1 && arg[n - 1] == '-';
    if (*ret_remove)
        arg[n - 1] = '\0';
    if ((colon = strrchr(arg, ':'))) {
        *colon = '\0';
        t->effect = colon + 1;
    }
    if ((eq = strchr(arg, '='))) {
        *eq = '\0';
        t->value = eq + 1;
    }
    t->key = arg;
    if (!*t->key || (!*ret_remove && !colon) || (*ret_remove && eq)) {
        free(t);
        return -1;
    }
    *ret = t;
    return 0;
}

static int taint(berthctl_ctx *ctx, const char *name, int argc, char **argv)
{
    TaintNodeRequest req = TAINT_NODE_REQUEST_INIT;
    Taint *add[32], *remove[32];
    Node *n = NULL;
    int rc = BERTHCTL_EXIT_USAGE;

    req.name = (char *)name;
    req.add = add;
    req.remove = remove;
    if (argc == 0 || argc > 32) {
        berthctl_errorf("taint needs 1-32 taints: KEY[=VALUE]:EFFECT or KEY[:EFFECT]-");
        return BERTHCTL_EXIT_USAGE;
    }
    for (int i = 0; i < argc; i++) {
        Taint *t;
        bool rm;

        if (parse_taint(argv[i], &t, &rm) < 0) {
            berthctl_errorf("taint '%s': not KEY[=VALUE]:EFFECT or KEY[:EFFECT]-", argv[i]);
            goto out;
        }
        if (rm)
            remove[req.n_remove++] = t;
        else
            add[req.n_add++] = t;
    }
    rc = 1;
    if (berthctl_connect_or_exit(ctx) != 0 ||
        berthctl_call(ctx, "TaintNode", &req.base, (ProtobufCMessage **)&n) != 0)
        goto out;
    printf("node/%s %s\n", name, req.n_add ? "tainted" : "untainted");
    berth_pb_free(&n->base);
    rc = 0;
out:
    for (size_t i = 0; i < req.n_add; i++)
        free(add[i]);
    for (size_t i = 0; i < req.n_remove; i++)
        free(remove[i]);
    return rc;
}

/* kubectl cordon NAME, kubectl uncordon NAME: berthctl node's. */
int berthctl_cmd_cordon(berthctl_ctx *ctx, int argc, char **argv)
{
    char **args = berth_xcalloc((size_t)argc + 2, sizeof(*args));
    int r;

    args[0] = (char *)"node";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    r = berthctl_cmd_node(ctx, argc + 1, args);
    free(args);
    return r;
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
    Node *n = NULL;
    const char *verb, *done, *method;
    ProtobufCMessage *req;
    int o, r;

    if (argc >= 2 && strcmp(argv[1], "drain") == 0)
        return berthctl_drain(ctx, argc - 1, argv + 1);
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
    if (argc - optind >= 2 && strcmp(argv[optind], "taint") == 0)
        return taint(ctx, argv[optind + 1], argc - optind - 2, argv + optind + 2);
    if (argc - optind != 2) {
        berthctl_errorf("node needs an action and a NAME (see berthctl node --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    verb = argv[optind];
    areq.name = creq.name = argv[optind + 1];
    if (strcmp(verb, "approve") == 0) {
        method = "ApproveNode";
        req = &areq.base;
        done = "approved";
    } else if (strcmp(verb, "cordon") == 0 || strcmp(verb, "uncordon") == 0) {
        method = "CordonNode";
        creq.cordon = verb[0] == 'c';
        req = &creq.base;
        done = creq.cordon ? "cordoned" : "uncordoned";
    } else {
        berthctl_errorf("node '%s'? approve, cordon, uncordon, drain or taint", verb);
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
