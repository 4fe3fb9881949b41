/* berthctl logs: a container's log, which the controller relays from the
 * Agent service of the node that runs it; -f keeps following it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "berthctl.h"
#include "spec/workload.h"
#include "rpc/envelope.h"

static void logs_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl logs [-f] [-p] [--tail N] [--node NODE] POD [-c CONTAINER]\n"
            "       berthctl logs [-f] [-p] [--tail N] [--node NODE] CONTAINER-ID\n"
            "\n"
            "Print a container's log (stdout and stderr, in order), fetched from its node:\n"
            "one of a pod's containers (-c, needed when the pod has several), or a\n"
            "container by its id (berthctl get containers).\n"
            "\n"
            "Options:\n"
            "  -c, --container C   the pod's container C (an init container too)\n"
            "  -p, --previous      the log of the container's previous run\n"
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

/* Append the names of the containers cs to buf ("[a b]"). */
static void names(ContainerInfo **cs, size_t n, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");

    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "",
                                cs[i]->spec && cs[i]->spec->pod ? cs[i]->spec->pod->name
                                                                : cs[i]->status->id);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

/* The container of pod p named c (NULL: its only container, or with
 * default_first its first one, as kubectl exec takes it), as kubectl picks
 * it; *ret_id its id. -1 with the error printed. */
static int pick_container(const Pod *p, const char *c, berthctl_pick pick, char *ret_id,
                          size_t size)
{
    char apps[1024], inits[1024];

    if (!c) {
        if (p->n_containers == 1 && p->n_init_containers == 0) {
            snprintf(ret_id, size, "%s", p->containers[0]->status->id);
            return 0;
        }
        names(p->containers, p->n_containers, apps, sizeof(apps));
        names(p->init_containers, p->n_init_containers, inits, sizeof(inits));
        if (pick != BERTHCTL_PICK_ONLY && p->n_containers) {
            const ContainerInfo *first = p->containers[0];

            if (pick == BERTHCTL_PICK_FIRST_SAY)
                fprintf(stderr, "Defaulted container \"%s\" out of: %s%s%s\n",
                        first->spec && first->spec->pod ? first->spec->pod->name
                                                        : first->status->id,
                        apps, p->n_init_containers ? ", init containers: " : "",
                        p->n_init_containers ? inits : "");
            snprintf(ret_id, size, "%s", first->status->id);
            return 0;
        }
        berthctl_errorf("a container name must be specified for pod %s, choose one of: %s%s%s",
                        p->name, apps,
                        p->n_init_containers ? " or one of the init containers: " : "",
                        p->n_init_containers ? inits : "");
        return -1;
    }
    for (int pass = 0; pass < 2; pass++) {
        ContainerInfo **cs = pass ? p->init_containers : p->containers;
        size_t n = pass ? p->n_init_containers : p->n_containers;

        for (size_t i = 0; i < n; i++) {
            const char *name = cs[i]->spec && cs[i]->spec->pod ? cs[i]->spec->pod->name
                               : cs[i]->spec                   ? berth_container_name(cs[i]->spec)
                                                               : "";

            if (strcmp(name, c) == 0 || strcmp(cs[i]->status->id, c) == 0) {
                snprintf(ret_id, size, "%s", cs[i]->status->id);
                return 0;
            }
        }
    }
    berthctl_errorf("container %s is not valid for pod %s", c, p->name);
    return -1;
}

int berthctl_find_container(berthctl_ctx *ctx, const char *name, const char *container,
                            berthctl_pick pick, char *ret_id, size_t id_size, char *ret_node,
                            size_t node_size)
{
    GetPodRequest preq = GET_POD_REQUEST_INIT;
    Pod *pod = NULL;
    int rc;

    /* A pod's container, or a container by its id (no such pod) */
    preq.name = (char *)name;
    preq.node = ret_node;
    preq.namespace_ = (char *)berthctl_namespace(ctx);
    berthctl_container_id(ctx, name, ret_id, id_size);
    rc = berthctl_call_quiet(ctx, "GetPod", &preq.base, (ProtobufCMessage **)&pod);
    if (rc == 2 && container) {
        berthctl_errorf("pod %s not found in namespace %s", name, berthctl_namespace(ctx));
        return -1;
    }
    if (rc == 2)
        return 0;
    if (rc != 0)
        return -1;
    rc = pick_container(pod, container, pick, ret_id, id_size);
    if (rc == 0 && !*ret_node)
        snprintf(ret_node, node_size, "%s", pod->node);
    berth_pb_free(&pod->base);
    return rc;
}

int berthctl_cmd_logs(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "follow", no_argument, NULL, 'f' },
        { "tail", required_argument, NULL, 'T' },
        { "timestamps", no_argument, NULL, 't' },
        { "node", required_argument, NULL, 'N' },
        { "container", required_argument, NULL, 'c' },
        { "previous", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    LogsRequest req = LOGS_REQUEST_INIT;
    const char *container = NULL;
    char id[256], node[BERTH_NAME_MAX + 1];
    bool follow = false, stamps = false;
    int o;

    while ((o = getopt_long(argc, argv, "fhc:p", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            container = optarg;
            break;
        case 'p':
            req.previous = true;
            break;
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
        berthctl_errorf("logs needs one POD or CONTAINER-ID (see berthctl logs --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (req.previous && follow) {
        berthctl_errorf("--previous: a previous run has ended; there is nothing to follow");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    snprintf(node, sizeof(node), "%s", req.node ? req.node : "");
    if (berthctl_find_container(ctx, argv[optind], container, BERTHCTL_PICK_ONLY, id, sizeof(id),
                                node, sizeof(node)) < 0)
        return 1;
    req.container_id = id;
    req.node = node;
    return berthctl_logs_loop(ctx, &req, follow, stamps);
}
