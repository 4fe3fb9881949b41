/* berthctl delete: workloads by name or by manifest (their containers are
 * stopped), or a node and its key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "berthctl.h"
#include "manifest/manifest.h"
#include "rpc/envelope.h"

/* A kind of workload as kubectl names it (deployment, deploy, ds ...). */
static bool workload_kind_word(const char *w)
{
    static const char *const words[] = { "deployment", "deployments", "deploy", "daemonset",
                                         "daemonsets", "ds",          "job",    "jobs",
                                         "cronjob",    "cronjobs",    "cj",     NULL };

    for (size_t i = 0; words[i]; i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return false;
}

static void delete_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl delete [workload|deployment|daemonset|job|cronjob] NAME...\n"
            "                       [-n NAMESPACE]\n"
            "       berthctl delete -f FILE|-\n"
            "       berthctl delete namespace NAME...\n"
            "       berthctl delete poddisruptionbudget|pdb|secret|configmap NAME...\n"
            "                       [-n NAMESPACE]\n"
            "       berthctl delete node NAME\n"
            "\n"
            "Delete workloads (their containers are stopped and removed), every object a\n"
            "manifest names, namespaces with everything in them, disruption budgets, or forget\n"
            "a node and its key (drain it first: a Ready node with containers is refused).\n"
            "\n"
            "Options:\n"
            "  -f, --filename PATH   the manifest whose workloads to delete (- for stdin)\n"
            "      --dry-run         report what would be deleted, delete nothing\n"
            "  -h, --help            this help\n"
            "\n%s",
            berthctl_connection_help);
}

static int delete_call(berthctl_ctx *ctx, DeleteRequest *req)
{
    DeleteResponse *resp = NULL;
    int r = berthctl_call(ctx, "Delete", &req->base, (ProtobufCMessage **)&resp);

    if (r != 0)
        return r;
    for (size_t i = 0; i < resp->n_results; i++) {
        char kind[32];
        size_t k;

        for (k = 0; resp->results[i]->kind[k] && k + 1 < sizeof(kind); k++)
            kind[k] = (char)(resp->results[i]->kind[k] | 0x20);
        kind[k] = '\0';
        printf("%s/%s deleted%s\n", kind, resp->results[i]->name,
               resp->dry_run ? " (dry run)" : "");
    }
    berth_pb_free(&resp->base);
    return 0;
}

int berthctl_cmd_delete(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "filename", required_argument, NULL, 'f' },
        { "dry-run", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    DeleteRequest req = DELETE_REQUEST_INIT;
    _cleanup_free_ char *text = NULL;
    const char *file = NULL, *kind = "workload";
    int o, rc = 0;

    while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            file = optarg;
            break;
        case 'n':
            req.dry_run = true;
            break;
        case 'h':
            delete_usage(stdout);
            return 0;
        default:
            delete_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc &&
        (strcmp(argv[optind], "node") == 0 || strcmp(argv[optind], "workload") == 0 ||
         strcmp(argv[optind], "workloads") == 0 || strcmp(argv[optind], "nodes") == 0 ||
         strcmp(argv[optind], "namespace") == 0 || strcmp(argv[optind], "namespaces") == 0 ||
         strcmp(argv[optind], "ns") == 0 || strcmp(argv[optind], "pdb") == 0 ||
         strcmp(argv[optind], "poddisruptionbudget") == 0 ||
         strcmp(argv[optind], "poddisruptionbudgets") == 0 || strcmp(argv[optind], "secret") == 0 ||
         strcmp(argv[optind], "secrets") == 0 || strcmp(argv[optind], "configmap") == 0 ||
         strcmp(argv[optind], "configmaps") == 0 || strcmp(argv[optind], "cm") == 0 ||
         workload_kind_word(argv[optind])))
        kind = argv[optind++]; /* the controller checks a workload's kind */
    if (!file && optind >= argc) {
        berthctl_errorf("delete needs a NAME or -f FILE (see berthctl delete --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (file && optind < argc) {
        berthctl_errorf("delete takes names or -f, not both");
        return BERTHCTL_EXIT_USAGE;
    }
    if (file) {
        _cleanup_error_ berth_error *err = NULL;

        if (berthctl_read_input(file, BERTH_MANIFEST_BYTES_MAX, &text, NULL, &err) < 0) {
            berthctl_errorf("%s", err->msg);
            return 1;
        }
        req.manifest = text;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    /* -n: the namespace of the workloads named (and of a manifest's that
     * name none) */
    req.namespace_ = (char *)(ctx->namespace_ ? ctx->namespace_ : "");
    if (file)
        return delete_call(ctx, &req);
    req.kind = (char *)kind;
    for (int i = optind; i < argc; i++) {
        req.name = argv[i];
        if (delete_call(ctx, &req) != 0)
            rc = 1;
    }
    return rc;
}
