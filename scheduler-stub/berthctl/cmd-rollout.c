/* berthctl rollout: a Deployment's or DaemonSet's rollout as kubectl
 * rollout shows and steers it: status (waiting until it completes),
 * history, undo, restart, pause, resume (Deployments). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berthctl.h"
#include "pb/pb.h"
#include "spec/workload.h"

/* How often status asks while it waits. */
#define STATUS_POLL_NS (250 * 1000000L)

static void rollout_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl rollout status|history|undo|restart|pause|resume "
            "deployment/NAME [OPTIONS]\n"
            "       berthctl rollout status|history|undo|restart daemonset/NAME [OPTIONS]\n"
            "\n"
            "A Deployment's or a DaemonSet's rollout, as kubectl rollout:\n"
            "  status    wait until its newest revision is rolled out (exit 1 when it\n"
            "            exceeds its progressDeadlineSeconds)\n"
            "  history   its revisions, with their change cause\n"
            "  undo      back to the revision before (or --to-revision N)\n"
            "  restart   replace every replica, within its strategy\n"
            "  pause     let template changes wait (a Deployment)\n"
            "  resume    roll out what waited\n"
            "\n"
            "Name it deployment/NAME (deploy/), daemonset/NAME (ds/), the kind and\n"
            "the name as two words, or NAME alone (a Deployment).\n"
            "\n"
            "Options:\n"
            "  -w, --watch=false     status: say where it is and return\n"
            "      --revision N      history: that revision's pod template\n"
            "      --to-revision N   undo: to this revision\n"
            "  -h, --help            this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* kubectl's name of a kind's resource ("deployment.apps"). */
static const char *kind_resource(WorkloadKind kind)
{
    return kind == WORKLOAD_DAEMONSET ? "daemonset.apps" : "deployment.apps";
}

/* The workload name of kind, fetched. */
static int get_workload(berthctl_ctx *ctx, const char *name, WorkloadKind kind, Workload **ret)
{
    GetWorkloadRequest req = GET_WORKLOAD_REQUEST_INIT;
    Workload *w = NULL;

    req.name = (char *)name;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    if (berthctl_call(ctx, "GetWorkload", &req.base, (ProtobufCMessage **)&w) != 0)
        return 1;
    if (w->kind != kind) {
        berthctl_errorf("%s \"%s\" not found (it is a %s)",
                        kind == WORKLOAD_DAEMONSET ? "daemonsets.apps" : "deployments.apps", name,
                        berth_workload_kind_name(w->kind));
        berth_pb_free(&w->base);
        return 1;
    }
    *ret = w;
    return 0;
}

static const WorkloadCondition *condition_of(const WorkloadStatus *st, const char *type)
{
    for (size_t i = 0; st && i < st->n_conditions; i++)
        if (strcmp(st->conditions[i]->type, type) == 0)
            return st->conditions[i];
    return NULL;
}

/* kubectl's DeploymentStatusViewer: 1 done, 0 waiting (msg says on what),
 * -1 failed. */
static int status_of(const Workload *w, char *msg, size_t size)
{
    const WorkloadStatus *st = w->status;
    const WorkloadCondition *p = condition_of(st, "Progressing");
    uint32_t replicas = st ? st->placed : 0, updated = st ? st->updated : 0;

    if (p && strcmp(p->reason, "ProgressDeadlineExceeded") == 0) {
        snprintf(msg, size, "deployment \"%s\" exceeded its progress deadline", w->name);
        return -1;
    }
    if (updated < w->replicas)
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %u out of %u new replicas "
                 "have been updated...",
                 w->name, updated, w->replicas);
    else if (replicas > updated)
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %u old replicas are pending "
                 "termination...",
                 w->name, replicas - updated);
    else if (st && st->available < updated)
        snprintf(msg, size,
                 "Waiting for deployment \"%s\" rollout to finish: %u of %u updated replicas "
                 "are available...",
                 w->name, st->available, updated);
    else {
        snprintf(msg, size, "deployment \"%s\" successfully rolled out", w->name);
        return 1;
    }
    return 0;
}

/* kubectl's DaemonSetStatusViewer. */
static int ds_status_of(const Workload *w, char *msg, size_t size)
{
    const WorkloadStatus *st = w->status;
    uint32_t desired = st ? st->desired : 0, updated = st ? st->updated : 0;

    if (updated < desired)
        snprintf(msg, size,
                 "Waiting for daemon set \"%s\" rollout to finish: %u out of %u new pods have "
                 "been updated...",
                 w->name, updated, desired);
    else if (st && st->available < desired)
        snprintf(msg, size,
                 "Waiting for daemon set \"%s\" rollout to finish: %u of %u updated pods are "
                 "available...",
                 w->name, st->available, desired);
    else {
        snprintf(msg, size, "daemon set \"%s\" successfully rolled out", w->name);
        return 1;
    }
    return 0;
}

static int rollout_status(berthctl_ctx *ctx, const char *name, WorkloadKind kind, bool watch)
{
    char msg[512], last[512] = "";

    for (;;) {
        Workload *w = NULL;
        int r;

        if (get_workload(ctx, name, kind, &w) != 0)
            return 1;
        if (kind == WORKLOAD_DAEMONSET && w->strategy &&
            strcmp(w->strategy->type, "OnDelete") == 0) {
            /* kubectl's words */
            berth_pb_free(&w->base);
            fprintf(stderr, "error: rollout status is only available for RollingUpdate strategy "
                            "type\n");
            return 1;
        }
        r = kind == WORKLOAD_DAEMONSET ? ds_status_of(w, msg, sizeof(msg))
                                       : status_of(w, msg, sizeof(msg));
        if (w->paused && r == 0)
            snprintf(msg, sizeof(msg),
                     "deployment \"%s\" is paused: resume it (berthctl rollout resume "
                     "deployment/%s) for its rollout to go on",
                     w->name, w->name);
        berth_pb_free(&w->base);
        if (r < 0) {
            fprintf(stderr, "error: %s\n", msg);
            return 1;
        }
        if (strcmp(msg, last) != 0)
            printf("%s\n", msg);
        fflush(stdout);
        if (r > 0 || !watch)
            return 0;
        snprintf(last, sizeof(last), "%s", msg);
        nanosleep(&(struct timespec){ 0, STATUS_POLL_NS }, NULL);
    }
}

static void print_template(const Workload *t)
{
    printf("Pod Template:\n");
    for (size_t i = 0; t->template_ && i < t->template_->n_labels; i++)
        if (strncmp(t->template_->labels[i]->key, "berth.", 6) != 0)
            printf("  %-12s%s=%s\n", i ? "" : "Labels:", t->template_->labels[i]->key,
                   t->template_->labels[i]->value);
    if (*t->restarted_at)
        printf("  Annotations: kubectl.kubernetes.io/restartedAt: %s\n", t->restarted_at);
    printf("  Containers:\n");
    for (size_t i = 0; t->template_ && i < berth_pod_size(t); i++) {
        PodRole role;
        uint32_t index;
        const ContainerSpec *c = berth_pod_container(t, i, &role, &index);

        printf("   %s:%s\n", *berth_container_name(c) ? berth_container_name(c) : "(unnamed)",
               role == POD_ROLE_INIT      ? " (init)"
               : role == POD_ROLE_SIDECAR ? " (sidecar)"
                                          : "");
        printf("    Image:\t%s\n", c->image);
        for (size_t k = 0; k < c->n_command; k++)
            printf("    %s\t%s\n", k ? "        " : "Command:", c->command[k]);
        for (size_t k = 0; k < c->n_args; k++)
            printf("    %s\t%s\n", k ? "     " : "Args:", c->args[k]);
        for (size_t k = 0; k < c->n_env; k++)
            printf("    %s\t%s\n", k ? "            " : "Environment:", c->env[k]);
    }
}

static int rollout_history(berthctl_ctx *ctx, const char *name, WorkloadKind kind,
                           uint64_t revision)
{
    static const char *const h[] = { "REVISION", "CHANGE-CAUSE" };
    const WorkloadStatus *st;
    berthctl_table *t;
    Workload *w = NULL;

    if (get_workload(ctx, name, kind, &w) != 0)
        return 1;
    st = w->status;
    if (revision) {
        for (size_t i = 0; st && i < st->n_replica_sets; i++)
            if (st->replica_sets[i]->revision == revision && st->replica_sets[i]->template_) {
                printf("%s/%s with revision #%" PRIu64 "\n", kind_resource(kind), w->name,
                       revision);
                print_template(st->replica_sets[i]->template_);
                berth_pb_free(&w->base);
                return 0;
            }
        berthctl_errorf("unable to find the specified revision");
        berth_pb_free(&w->base);
        return 1;
    }
    printf("%s/%s \n", kind_resource(kind), w->name);
    t = berthctl_table_new(2, h);
    /* oldest first, as kubectl lists them */
    for (size_t i = st ? st->n_replica_sets : 0; i-- > 0;) {
        const ReplicaSet *rs = st->replica_sets[i];
        char rev[24];
        const char *cells[2] = { rev, *rs->change_cause ? rs->change_cause : "<none>" };

        snprintf(rev, sizeof(rev), "%" PRIu64, rs->revision);
        berthctl_table_add(t, cells, NULL);
    }
    berthctl_table_print(t, stdout);
    printf("\n");
    berthctl_table_free(t);
    berth_pb_free(&w->base);
    return 0;
}

static int rollout_act(berthctl_ctx *ctx, const char *name, WorkloadKind kind, RolloutAction action,
                       uint64_t to)
{
    RolloutRequest req = ROLLOUT_REQUEST_INIT;
    RolloutResponse *resp = NULL;

    req.name = (char *)name;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    req.action = action;
    req.to_revision = to;
    req.kind = kind;
    if (berthctl_call(ctx, "Rollout", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    printf("%s/%s %s\n", kind_resource(kind), name, resp->result);
    berth_pb_free(&resp->base);
    return 0;
}

/* "deployment/NAME" (deploy, deployments), "daemonset/NAME" (ds,
 * daemonsets); or the kind and the name as two words; or the name alone
 * (a Deployment). NULL when it names another kind. */
static const char *workload_name(int argc, char **argv, int *at, WorkloadKind *ret_kind)
{
    static const struct {
        const char *word;
        WorkloadKind kind;
    } kinds[] = {
        { "deployment", WORKLOAD_DEPLOYMENT }, { "deployments", WORKLOAD_DEPLOYMENT },
        { "deploy", WORKLOAD_DEPLOYMENT },     { "daemonset", WORKLOAD_DAEMONSET },
        { "daemonsets", WORKLOAD_DAEMONSET },  { "ds", WORKLOAD_DAEMONSET },
    };
    const char *arg = argv[*at], *slash = strchr(arg, '/');

    *ret_kind = WORKLOAD_DEPLOYMENT;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t len = strlen(kinds[i].word);

        *ret_kind = kinds[i].kind;
        if (slash && (size_t)(slash - arg) == len && strncmp(arg, kinds[i].word, len) == 0) {
            (*at)++;
            return slash + 1;
        }
        if (!slash && strcmp(arg, kinds[i].word) == 0 && *at + 1 < argc) {
            *at += 2;
            return argv[*at - 1];
        }
    }
    *ret_kind = WORKLOAD_DEPLOYMENT;
    if (slash)
        return NULL;
    (*at)++;
    return arg;
}

static int parse_revision(const char *arg, const char *flag, uint64_t *ret)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);

    if (!*arg || *end || arg[0] == '-') {
        berthctl_errorf("%s: '%s' is not a revision number", flag, arg);
        return BERTHCTL_EXIT_USAGE;
    }
    *ret = v;
    return 0;
}

int berthctl_cmd_rollout(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "watch", optional_argument, NULL, 'w' },
        { "revision", required_argument, NULL, 'r' },
        { "to-revision", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const struct {
        const char *word;
        RolloutAction action;
    } acts[] = { { "undo", ROLLOUT_UNDO },
                 { "restart", ROLLOUT_RESTART },
                 { "pause", ROLLOUT_PAUSE },
                 { "resume", ROLLOUT_RESUME } };
    uint64_t revision = 0, to = 0;
    bool watch = true;
    const char *sub, *name;
    WorkloadKind kind;
    int o, at;

    while ((o = getopt_long(argc, argv, "hw::", opts, NULL)) != -1) {
        switch (o) {
        case 'w':
            if (optarg && strcmp(optarg, "false") != 0 && strcmp(optarg, "true") != 0) {
                berthctl_errorf("--watch: true or false, not '%s'", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            watch = !optarg || strcmp(optarg, "true") == 0;
            break;
        case 'r':
            if (parse_revision(optarg, "--revision", &revision) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 't':
            if (parse_revision(optarg, "--to-revision", &to) != 0)
                return BERTHCTL_EXIT_USAGE;
            break;
        case 'h':
            rollout_usage(stdout);
            return 0;
        default:
            rollout_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        berthctl_errorf("rollout needs what to do and a Deployment (see berthctl rollout --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    sub = argv[optind];
    at = optind + 1;
    if (!(name = workload_name(argc, argv, &at, &kind)) || at != argc) {
        berthctl_errorf("rollout %s: one Deployment or DaemonSet (deployment/NAME, "
                        "daemonset/NAME), not '%s'",
                        sub, argv[optind + 1]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (strcmp(sub, "status") == 0 || strcmp(sub, "history") == 0) {
        if (berthctl_connect_or_exit(ctx) != 0)
            return 1;
        return sub[0] == 's' ? rollout_status(ctx, name, kind, watch)
                             : rollout_history(ctx, name, kind, revision);
    }
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
        if (strcmp(sub, acts[i].word) == 0) {
            if (berthctl_connect_or_exit(ctx) != 0)
                return 1;
            return rollout_act(ctx, name, kind, acts[i].action, to);
        }
    berthctl_errorf("rollout '%s'? status, history, undo, restart, pause or resume", sub);
    return BERTHCTL_EXIT_USAGE;
}
