/* berthctl health: the controller surveys every node's agent and lists
 * their answers, and who did not answer in time. Exit 0 only when every
 * node answered healthy. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "base/version.h"
#include "berthctl.h"
#include "rpc/envelope.h"

static void health_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl health [--wait D] [-o wide|json|yaml]\n"
            "\n"
            "Ask every node's agent for its health (a survey with a deadline) and list the\n"
            "answers, and the nodes that did not answer. Exits 1 unless every node answered\n"
            "healthy.\n"
            "\n"
            "Options:\n"
            "      --wait D         how long the survey waits for answers (default 2s)\n"
            "  -o, --output FORMAT  wide (the table, then the frames each daemon dropped,\n"
            "                       by reason), json or yaml (default: a table)\n"
            "  -h, --help           this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* "3 running, 1 exited" */
static void counts(const HealthReport *r, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < r->n_containers && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%u %s", i ? ", " : "",
                                r->containers[i]->count,
                                berthctl_container_state(r->containers[i]->state));
}

static void problems(const HealthReport *r, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < r->n_checks && len < size; i++)
        if (!r->checks[i]->ok)
            len += (size_t)snprintf(buf + len, size - len, "%s%s: %s", len ? "; " : "",
                                    r->checks[i]->name, r->checks[i]->message);
}

/* "frames dropped by controller: throttled 99, bad-auth 3" (none: nothing):
 * what strangers sent, which gets no answer. */
static void print_drops(const char *who, FrameDrops *const *d, size_t n)
{
    if (!n)
        return;
    printf("frames dropped by %s:", who);
    for (size_t i = 0; i < n; i++)
        printf("%s %s %" PRIu64, i ? "," : "", d[i]->reason, d[i]->count);
    printf("\n");
}

int berthctl_cmd_version(berthctl_ctx *ctx, int argc, char **argv)
{
    VersionRequest req = VERSION_REQUEST_INIT;
    VersionResponse *resp = NULL;
    bool client_only = false;
    int r;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--client") == 0) {
            client_only = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: berthctl version [--client]\n\nThis berthctl's version and the "
                   "controller's (not with --client), as kubectl version prints them.\n");
            return 0;
        } else {
            berthctl_errorf("version: unknown argument '%s'", argv[i]);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    printf("Client Version: %s\n", berth_version());
    fflush(stdout);
    if (client_only)
        return 0;
    if (berthctl_connect_or_exit(ctx) != 0 ||
        (r = berthctl_call(ctx, "Version", &req.base, (ProtobufCMessage **)&resp)) != 0)
        return 1;
    printf("Server Version: %s\n", resp->version);
    berth_pb_free(&resp->base);
    return 0;
}

int berthctl_cmd_health(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "wait", required_argument, NULL, 'w' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const h[] = { "NODE",       "HEALTHY", "LATENCY",
                                     "CONTAINERS", "VERSION", "PROBLEMS" };
    FleetHealthRequest req = FLEET_HEALTH_REQUEST_INIT;
    FleetHealthResponse *resp = NULL;
    berthctl_format fmt = BERTHCTL_TABLE;
    berthctl_table *t;
    int64_t ns;
    int o, rc = 0;

    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'w':
            if (berth_parse_duration(optarg, "--wait", &ns, NULL) < 0 || ns < BERTH_NSEC_PER_MSEC ||
                ns > 60 * BERTH_NSEC_PER_SEC) {
                berthctl_errorf("--wait: '%s' is not a duration in 1ms..60s", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            req.timeout_ms = (uint32_t)(ns / BERTH_NSEC_PER_MSEC);
            break;
        case 'o':
            if (berthctl_format_parse(optarg, &fmt) < 0) {
                berthctl_errorf("--output: '%s' is not wide, json or yaml", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            break;
        case 'h':
            health_usage(stdout);
            return 0;
        default:
            health_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        berthctl_errorf("unexpected argument '%s'", argv[optind]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0 ||
        berthctl_call(ctx, "FleetHealth", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    if (fmt == BERTHCTL_JSON || fmt == BERTHCTL_YAML) {
        (fmt == BERTHCTL_JSON ? berthctl_print_json : berthctl_print_yaml)(&resp->base, stdout);
    } else {
        t = berthctl_table_new(6, h);
        for (size_t i = 0; i < resp->n_answered; i++) {
            const NodeHealth *nh = resp->answered[i];
            const HealthReport *r = nh->report;
            char lat[16], cont[256], prob[512];
            const char *colours[6] = { NULL };
            const char *cells[6];

            snprintf(lat, sizeof(lat), "%ums", nh->latency_ms);
            counts(r, cont, sizeof(cont));
            problems(r, prob, sizeof(prob));
            cells[0] = nh->node;
            cells[1] = r->healthy ? "yes" : "no";
            colours[1] = berthctl_status_colour(cells[1]);
            cells[2] = lat;
            cells[3] = cont;
            cells[4] = r->agent_version;
            cells[5] = prob;
            berthctl_table_add(t, cells, colours);
        }
        for (size_t i = 0; i < resp->n_missing; i++) {
            char why[64], d[32];
            const char *colours[6] = { NULL, "31" };
            const char *cells[6] = { resp->missing[i], "missing", "", "", "", why };

            snprintf(why, sizeof(why), "did not answer within %s",
                     berth_format_duration((int64_t)resp->timeout_ms * BERTH_NSEC_PER_MSEC, d,
                                           sizeof(d)));
            berthctl_table_add(t, cells, colours);
        }
        berthctl_table_print(t, stdout);
        berthctl_table_free(t);
        if (fmt == BERTHCTL_WIDE) {
            print_drops("controller", resp->controller_frames_dropped,
                        resp->n_controller_frames_dropped);
            for (size_t i = 0; i < resp->n_answered; i++)
                print_drops(resp->answered[i]->node, resp->answered[i]->report->frames_dropped,
                            resp->answered[i]->report->n_frames_dropped);
        }
    }
    for (size_t i = 0; i < resp->n_answered; i++)
        if (!resp->answered[i]->report->healthy)
            rc = 1;
    if (resp->n_missing)
        rc = 1;
    berth_pb_free(&resp->base);
    return rc;
}
