/* berthctl agent: the agent on this machine, over its local socket, without
 * the controller (so it works while the controller is down or unreachable,
 * like crictl beside kubelet). The agent names itself in its state
 * directory (node.name) and publishes its public key there (node.pub); the
 * operator's key must be one the agent trusts (agent.yaml, operators). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "berth/proto/v1.h"
#include "berthctl.h"
#include "rpc/keys.h"
#include "rpc/envelope.h"
#include "rpc/policy_memory.h"

#define DEFAULT_SOCKET    "/run/berth/agent.sock"
#define DEFAULT_STATE_DIR "/var/lib/berth/agent"

typedef struct agent_conn {
    const char *socket;
    const char *state_dir;
    char node[BERTH_NAME_MAX + 1];
} agent_conn;

static void agent_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl agent ps [-o wide|json|yaml]\n"
            "       berthctl agent logs [-f] [--tail N] [--timestamps] CONTAINER\n"
            "       berthctl agent stop [--grace D] CONTAINER\n"
            "       berthctl agent health [-o json|yaml]\n"
            "       berthctl agent exec [-i] [-t] CONTAINER -- COMMAND [ARGS...]\n"
            "\n"
            "Ask the agent on this machine directly, over its local socket: what it runs,\n"
            "a container's log, stop one, its health, run a command in one (as berthctl\n"
            "exec does). Works without the controller.\n"
            "\n"
            "Options:\n"
            "      --socket PATH     the agent's socket (default " DEFAULT_SOCKET ",\n"
            "                        or BERTH_AGENT_SOCKET)\n"
            "      --state-dir DIR   the agent's state directory, where it names itself\n"
            "                        (default " DEFAULT_STATE_DIR ", or BERTH_AGENT_STATE_DIR)\n"
            "  -o, --output FORMAT   ps: wide, json or yaml; health: json or yaml\n"
            "  -f, --follow          logs: keep printing new lines until the container ends\n"
            "      --tail N          logs: start N lines before the end\n"
            "      --timestamps      logs: prefix each line with when it was logged\n"
            "      --grace D         stop: from the stop signal to SIGKILL (default 10s)\n"
            "  -h, --help            this help\n"
            "\n"
            "Your operator key (--key, --operator, as for the controller) must be listed\n"
            "under operators in the agent's configuration.\n");
}

/* Connect ctx's client to the agent instead of the controller: the
 * principal and key it publishes in its state directory. */
static int agent_connect(berthctl_ctx *ctx, agent_conn *ac, berth_error **err)
{
    char path[4096], address[4200], peer[300], silent[512], *text = NULL;
    berth_principal node;
    size_t len = 0;

    if (berthctl_resolve(ctx, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/node.name", ac->state_dir);
    if (berth_read_file_at(AT_FDCWD, path, 256, &text, &len, err) < 0)
        return berth_error_prefix(err, "the agent's name (is berthd running here? --state-dir)");
    text[strcspn(text, "\n")] = '\0';
    snprintf(ac->node, sizeof(ac->node), "%s", text);
    free(text);
    if (berth_principal_init(&node, BERTH_ROLE_NODE, ac->node, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/node.pub", ac->state_dir);
    snprintf(address, sizeof(address), "ipc://%s", ac->socket);
    snprintf(peer, sizeof(peer), "the agent %s at %s", ac->node, ac->socket);
    snprintf(silent, sizeof(silent),
             "%s did not answer (is berthd running? are you one of its operators?)", peer);
    return berthctl_connect_server(ctx, &agent_descriptor, &node, path, "the agent's public key",
                                   address, "the agent (is berthd running here? --socket)", peer,
                                   silent, err);
}

static int agent_ps(berthctl_ctx *ctx, berthctl_format fmt)
{
    ListContainersRequest req = LIST_CONTAINERS_REQUEST_INIT;
    ListContainersResponse *resp = NULL;

    if (berthctl_call(ctx, "List", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    if (fmt == BERTHCTL_JSON || fmt == BERTHCTL_YAML)
        (fmt == BERTHCTL_JSON ? berthctl_print_json : berthctl_print_yaml)(&resp->base, stdout);
    else
        berthctl_print_containers(resp, NULL, 0, fmt == BERTHCTL_WIDE, false);
    berth_pb_free(&resp->base);
    return 0;
}

static int agent_stop(berthctl_ctx *ctx, StopRequest *req)
{
    StopResponse *resp = NULL;

    if (berthctl_call(ctx, "Stop", &req->base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    printf("%s stopped\n", req->container_id);
    berth_pb_free(&resp->base);
    return 0;
}

static int agent_health(berthctl_ctx *ctx, berthctl_format fmt)
{
    HealthRequest req = HEALTH_REQUEST_INIT;
    HealthReport *rep = NULL;
    char age[16];
    int rc;

    if (berthctl_call(ctx, "Health", &req.base, (ProtobufCMessage **)&rep) != 0)
        return 1;
    rc = rep->healthy ? 0 : 1;
    if (fmt == BERTHCTL_JSON || fmt == BERTHCTL_YAML) {
        (fmt == BERTHCTL_JSON ? berthctl_print_json : berthctl_print_yaml)(&rep->base, stdout);
        berth_pb_free(&rep->base);
        return rc;
    }
    printf("Node:        %s\n", rep->node);
    printf("Healthy:     %s\n", rep->healthy ? "yes" : "no");
    printf("Agent:       %s, up %s\n", rep->agent_version,
           berthctl_age(rep->agent_start_unix_ns, age, sizeof(age)));
    printf("Generation:  %llu applied\n", (unsigned long long)rep->applied_generation);
    printf("Containers: ");
    if (!rep->n_containers)
        printf(" none");
    for (size_t i = 0; i < rep->n_containers; i++)
        printf(" %u %s", rep->containers[i]->count,
               berthctl_container_state(rep->containers[i]->state));
    printf("\n");
    /* Frames from strangers get no answer: their count is shown here. */
    if (rep->n_frames_dropped) {
        printf("Dropped:    ");
        for (size_t i = 0; i < rep->n_frames_dropped; i++)
            printf("%s %s %llu", i ? "," : "", rep->frames_dropped[i]->reason,
                   (unsigned long long)rep->frames_dropped[i]->count);
        printf(" (frames)\n");
    }
    printf("Checks:\n");
    for (size_t i = 0; i < rep->n_checks; i++)
        printf("  %-10s %s%s%s\n", rep->checks[i]->name, rep->checks[i]->ok ? "ok" : "FAILED",
               *rep->checks[i]->message ? ": " : "", rep->checks[i]->message);
    if (rep->n_probes)
        printf("Probes:\n");
    for (size_t i = 0; i < rep->n_probes; i++) {
        const ContainerHealth *p = rep->probes[i];

        printf("  %-20s %s", p->container_id,
               p->health == HEALTH_HEALTHY     ? "healthy"
               : p->health == HEALTH_UNHEALTHY ? "unhealthy"
                                               : "unknown");
        if (p->probe_failures)
            printf(" (%u failed: %s)", p->probe_failures, p->message);
        printf("\n");
    }
    berth_pb_free(&rep->base);
    return rc;
}

/* agent exec: its own arguments (exec's), with --socket and --state-dir
 * taken from the environment only. */
static int agent_exec(berthctl_ctx *ctx, agent_conn *ac, int argc, char **argv)
{
    ExecStart req = EXEC_START_INIT;
    DuplexOpened *opened = NULL;
    const char *target = NULL, *container = NULL;
    _cleanup_error_ berth_error *err = NULL;
    char id[256];
    int rc;

    rc = berthctl_exec_parse(argc, argv, &req, &target, &container, true);
    if (rc == -1) {
        agent_usage(stdout);
        return 0;
    }
    if (rc < 0)
        return BERTHCTL_EXIT_USAGE;
    if (container) {
        berthctl_errorf("agent exec: name the container by its id (berthctl agent ps), not -c");
        return BERTHCTL_EXIT_USAGE;
    }
    if (!ac->socket || !*ac->socket)
        ac->socket = DEFAULT_SOCKET;
    if (!ac->state_dir || !*ac->state_dir)
        ac->state_dir = DEFAULT_STATE_DIR;
    if (agent_connect(ctx, ac, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        return 1;
    }
    berthctl_container_id(ctx, target, id, sizeof(id));
    req.container_id = id;
    if (berthctl_call(ctx, "Exec", &req.base, (ProtobufCMessage **)&opened) != 0)
        return 1;
    rc = berthctl_exec_stream(ctx, opened, req.stdin, req.tty, false);
    berth_pb_free(&opened->base);
    return rc;
}

int berthctl_cmd_agent(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 'S' },
        { "state-dir", required_argument, NULL, 'D' },
        { "output", required_argument, NULL, 'o' },
        { "follow", no_argument, NULL, 'f' },
        { "tail", required_argument, NULL, 'T' },
        { "timestamps", no_argument, NULL, 't' },
        { "grace", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    agent_conn ac = { .socket = getenv("BERTH_AGENT_SOCKET"),
                      .state_dir = getenv("BERTH_AGENT_STATE_DIR") };
    LogsRequest logs = LOGS_REQUEST_INIT;
    StopRequest stop = STOP_REQUEST_INIT;
    berthctl_format fmt = BERTHCTL_TABLE;
    bool follow = false, stamps = false;
    _cleanup_error_ berth_error *err = NULL;
    const char *verb;
    int o, rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        agent_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BERTHCTL_EXIT_USAGE : 0;
    }
    verb = argv[1];
    argc--;
    argv++;
    if (strcmp(verb, "exec") == 0)
        return agent_exec(ctx, &ac, argc, argv);
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
        switch (o) {
        case 'S':
            ac.socket = optarg;
            break;
        case 'D':
            ac.state_dir = optarg;
            break;
        case 'o':
            if (berthctl_format_parse(optarg, &fmt) < 0) {
                berthctl_errorf("--output: '%s' is not wide, json or yaml", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            break;
        case 'f':
            follow = true;
            break;
        case 'T':
            if (berthctl_parse_tail(optarg, &logs.tail_lines) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 't':
            stamps = true;
            break;
        case 'g':
            if (berthctl_parse_grace(optarg, &stop.grace_period_ms) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 'h':
            agent_usage(stdout);
            return 0;
        default:
            agent_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    argc -= optind;
    argv += optind;
    if (!((strcmp(verb, "ps") == 0 && argc == 0) || (strcmp(verb, "health") == 0 && argc == 0) ||
          (strcmp(verb, "logs") == 0 && argc == 1) || (strcmp(verb, "stop") == 0 && argc == 1))) {
        berthctl_errorf("agent %s: see berthctl agent --help", verb);
        return BERTHCTL_EXIT_USAGE;
    }
    if (!ac.socket || !*ac.socket)
        ac.socket = DEFAULT_SOCKET;
    if (!ac.state_dir || !*ac.state_dir)
        ac.state_dir = DEFAULT_STATE_DIR;
    if (agent_connect(ctx, &ac, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        return 1;
    }
    if (strcmp(verb, "ps") == 0) {
        rc = agent_ps(ctx, fmt);
    } else if (strcmp(verb, "health") == 0) {
        rc = agent_health(ctx, fmt);
    } else if (strcmp(verb, "logs") == 0) {
        logs.container_id = argv[0];
        rc = berthctl_logs_loop(ctx, &logs, follow, stamps);
    } else {
        stop.container_id = argv[0];
        rc = agent_stop(ctx, &stop);
    }
    return rc;
}
