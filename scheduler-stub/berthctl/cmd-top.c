/* berthctl top: the latest CPU and memory figures the agents streamed. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/quantity.h"
#include "berthctl.h"
#include "rpc/envelope.h"
#include "spec/workload.h"

static void top_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl top [containers|nodes] [--node NODE] [--workload NAME] [-o wide]\n"
            "\n"
            "The latest resource use the agents reported: CPU (from the two latest samples)\n"
            "and memory, per container (default) or per node.\n"
            "\n"
            "Options:\n"
            "      --node NODE       only this node\n"
            "      --workload NAME   only replicas of this workload\n"
            "  -o, --output wide     containers: also the pod's IP and the bytes its network\n"
            "                        interface received (NET-RX) and sent (NET-TX)\n"
            "  -h, --help            this help\n"
            "\n%s",
            berthctl_connection_help);
}

static const char *cpu_text(int64_t millis, char *buf, size_t size)
{
    if (millis < 0)
        return "-";
    return berth_format_millicpu(millis, buf, size);
}

int berthctl_cmd_top(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "node", required_argument, NULL, 'N' },
        { "workload", required_argument, NULL, 'W' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    TopRequest req = TOP_REQUEST_INIT;
    TopResponse *resp = NULL;
    bool nodes = false, wide = false;
    berthctl_table *t;
    int o;

    while ((o = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (o) {
        case 'N':
            req.node = optarg;
            break;
        case 'W':
            req.workload = optarg;
            break;
        case 'o':
            if (strcmp(optarg, "wide") != 0) {
                berthctl_errorf("top: -o '%s': only wide", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            wide = true;
            break;
        case 'h':
            top_usage(stdout);
            return 0;
        default:
            top_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        if (strncmp(argv[optind], "node", 4) == 0)
            nodes = true;
        else if (strncmp(argv[optind], "container", 9) != 0) {
            berthctl_errorf("top '%s'? containers or nodes", argv[optind]);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    /* containers: those of -n's namespace (all with -A), as kubectl top pod */
    req.namespace_ = (char *)(nodes ? "" : berthctl_list_namespace(ctx));
    if (berthctl_call(ctx, "Top", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    if (nodes) {
        static const char *const h[] = { "NODE", "CPU", "CPU%", "MEMORY", "MEMORY%" };

        t = berthctl_table_new(5, h);
        for (size_t i = 0; i < resp->n_nodes; i++) {
            const NodeUsage *u = resp->nodes[i];
            const NodeCapacity *cap = u->capacity;
            char cpu[32], cpup[32], mem[32], memp[32];
            const char *cells[5];

            snprintf(cpup, sizeof(cpup), "-");
            snprintf(memp, sizeof(memp), "-");
            if (cap && cap->cpu_millis && u->cpu_millis >= 0)
                snprintf(cpup, sizeof(cpup), "%" PRId64 "%%",
                         u->cpu_millis * 100 / cap->cpu_millis);
            if (cap && cap->memory_bytes && u->sample)
                snprintf(memp, sizeof(memp), "%" PRIu64 "%%",
                         u->sample->memory_bytes * 100 / (uint64_t)cap->memory_bytes);
            cells[0] = u->node;
            cells[1] = cpu_text(u->cpu_millis, cpu, sizeof(cpu));
            cells[2] = cpup;
            cells[3] = berth_format_bytes_approx(u->sample ? (int64_t)u->sample->memory_bytes : 0,
                                                 mem, sizeof(mem));
            cells[4] = memp;
            berthctl_table_add(t, cells, NULL);
        }
    } else {
        static const char *const h[] = { "NAMESPACE", "NAME", "NODE", "WORKLOAD", "CPU",
                                         "MEMORY",    "PIDS", "IP",   "NET-RX",   "NET-TX" };
        bool all = ctx->all_namespaces;

        t = berthctl_table_new((all ? 7 : 6) + (wide ? 3 : 0), all ? h : h + 1);
        for (size_t i = 0; i < resp->n_containers; i++) {
            const ContainerUsage *u = resp->containers[i];
            char cpu[32], mem[32], pids[24], rx[32], tx[32];
            const char *cells[10], **c = all ? cells + 1 : cells;
            const MetricsSample *s = u->sample;

            snprintf(pids, sizeof(pids), "%" PRIu64, u->sample ? u->sample->pids : 0);
            cells[0] = *u->namespace_ ? u->namespace_ : "<none>";
            c[0] = u->sample ? berth_id_split(u->sample->container_id, NULL) : "";
            c[1] = u->node;
            c[2] = u->workload;
            c[3] = cpu_text(u->cpu_millis, cpu, sizeof(cpu));
            c[4] = berth_format_bytes_approx(u->sample ? (int64_t)u->sample->memory_bytes : 0, mem,
                                             sizeof(mem));
            c[5] = pids;
            /* no address: no figures of a pod network either */
            c[6] = s && *s->pod_ip ? s->pod_ip : "<none>";
            c[7] = s && *s->pod_ip
                       ? berth_format_bytes_approx((int64_t)s->network_rx_bytes, rx, sizeof(rx))
                       : "-";
            c[8] = s && *s->pod_ip
                       ? berth_format_bytes_approx((int64_t)s->network_tx_bytes, tx, sizeof(tx))
                       : "-";
            berthctl_table_add(t, cells, NULL);
        }
    }
    berthctl_table_print(t, stdout);
    berthctl_table_free(t);
    berth_pb_free(&resp->base);
    return 0;
}
