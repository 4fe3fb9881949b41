/* berthctl create: make one object from the command line (kubectl
 * create): a namespace, or a Job of a CronJob's template. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/envelope.h"
#include "spec/workload.h"

static void create_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl create namespace NAME [--dry-run]\n"
            "       berthctl create job NAME --from=cronjob/CRONJOB [--dry-run] [-n NS]\n"
            "       berthctl create secret generic|docker-registry|tls NAME ... (see\n"
            "       berthctl create secret --help), create configmap NAME ...\n"
            "\n"
            "Create a namespace (as a kind: Namespace manifest would), or a Job of a\n"
            "CronJob's jobTemplate now (one of the CronJob's Jobs: deleted with it); an\n"
            "error when the name is taken.\n"
            "\n"
            "Options:\n"
            "      --from cronjob/NAME   the CronJob whose template the Job runs\n"
            "      --dry-run             check and report, create nothing\n"
            "  -h, --help                this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* Whether namespace name exists: 1, 0, or -1 (the call failed, said). */
static int namespace_exists(berthctl_ctx *ctx, const char *name)
{
    ListNamespacesRequest req = LIST_NAMESPACES_REQUEST_INIT;
    ListNamespacesResponse *r = NULL;
    int found = 0;

    if (berthctl_call(ctx, "ListNamespaces", &req.base, (ProtobufCMessage **)&r) != 0)
        return -1;
    for (size_t i = 0; i < r->n_namespaces && !found; i++)
        found = strcmp(r->namespaces[i]->name, name) == 0;
    berth_pb_free(&r->base);
    return found;
}

/* kubectl create job NAME --from=cronjob/X */
static int create_job(berthctl_ctx *ctx, const char *name, const char *from, bool dry_run)
{
    CreateJobRequest req = CREATE_JOB_REQUEST_INIT;
    ApplyResponse *resp = NULL;
    int rc;

    if (!from || strncmp(from, "cronjob/", 8) != 0 || !from[8]) {
        berthctl_errorf("create job needs --from=cronjob/NAME (berth makes Jobs from CronJobs "
                        "only; apply a manifest for others)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    req.name = (char *)name;
    req.from_cronjob = (char *)from + 8;
    req.dry_run = dry_run;
    if ((rc = berthctl_call(ctx, "CreateJob", &req.base, (ProtobufCMessage **)&resp)) != 0)
        return rc;
    printf("job.batch/%s created%s\n", name, resp->dry_run ? " (dry run)" : "");
    for (size_t i = 0; i < resp->n_warnings; i++)
        fprintf(stderr, "Warning: %s\n", resp->warnings[i]);
    berth_pb_free(&resp->base);
    return 0;
}

int berthctl_cmd_create(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "dry-run", no_argument, NULL, 'n' },
        { "from", required_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    ApplyRequest req = APPLY_REQUEST_INIT;
    ApplyResponse *resp = NULL;
    const char *name, *from = NULL;
    char *manifest;
    int o, rc;

    if (argc >= 2 && (strcmp(argv[1], "secret") == 0 || strcmp(argv[1], "configmap") == 0 ||
                      strcmp(argv[1], "cm") == 0))
        return berthctl_create_object(ctx, argc - 1, argv + 1);
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            req.dry_run = true;
            break;
        case 'F':
            from = optarg;
            break;
        case 'h':
            create_usage(stdout);
            return 0;
        default:
            create_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind == 2 && strcmp(argv[optind], "job") == 0)
        return create_job(ctx, argv[optind + 1], from, req.dry_run);
    if (argc - optind != 2 ||
        (strcmp(argv[optind], "namespace") != 0 && strcmp(argv[optind], "ns") != 0) || from) {
        berthctl_errorf("create what? namespace NAME or job NAME --from=cronjob/X (see berthctl "
                        "create --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    name = argv[optind + 1];
    if (!berth_namespace_name_valid(name)) {
        berthctl_errorf("'%s' is not a valid namespace name (1-%d of a-z 0-9 -, starting and "
                        "ending with a letter or digit)",
                        name, BERTH_NAMESPACE_MAX);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0 || (rc = namespace_exists(ctx, name)) < 0)
        return 1;
    if (rc > 0) {
        berthctl_errorf("namespace %s already exists", name);
        return 1;
    }
    manifest = berth_xasprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name);
    req.manifest = manifest;
    req.source = "berthctl create";
    rc = berthctl_call(ctx, "Apply", &req.base, (ProtobufCMessage **)&resp);
    free(manifest);
    if (rc != 0)
        return rc;
    printf("namespace/%s created%s\n", name, resp->dry_run ? " (dry run)" : "");
    berth_pb_free(&resp->base);
    return 0;
}
