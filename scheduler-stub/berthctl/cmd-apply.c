/* berthctl apply: send manifests to the controller (it parses and checks
 * them: one with any error changes nothing), then optionally wait until
 * every replica runs. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/duration.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "manifest/manifest.h"
#include "rpc/envelope.h"
#include "spec/workload.h"

#define FILES_MAX 256

static void apply_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl apply -f FILE|DIR|- [-f ...] [--dry-run] [--wait]\n"
            "\n"
            "Create or update the workloads the manifests describe (Pod, Deployment,\n"
            "DaemonSet, Namespace; see README \"Manifests\"). A manifest with any error\n"
            "changes nothing; with several files (or a directory's *.yaml and *.yml), all\n"
            "are checked before any is applied. Objects that name no namespace go into -n's\n"
            "(default \"default\").\n"
            "\n"
            "Options:\n"
            "  -f, --filename PATH     a manifest file, a directory of them, or - for stdin\n"
            "      --dry-run           check and report what would change, change nothing\n"
            "      --wait              then show progress until every replica is Running (or\n"
            "                          has completed, for a Pod that does not restart)\n"
            "      --wait-timeout D    give up waiting after D (default 5m)\n"
            "  -h, --help              this help\n"
            "\n%s",
            berthctl_connection_help);
}

typedef struct input {
    char *path;   /* as named, or "-" */
    char *source; /* shown in errors: the path as given ("-" for stdin) */
    char *text;
} input;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_manifest_name(const char *n)
{
    size_t len = strlen(n);

    return n[0] != '.' && ((len > 5 && strcmp(n + len - 5, ".yaml") == 0) ||
                           (len > 4 && strcmp(n + len - 4, ".yml") == 0));
}

/* Expand -f arguments into files (a directory: its manifests, by name). */
static int collect(char **args, size_t n_args, input *in, size_t *n_in)
{
    for (size_t i = 0; i < n_args; i++) {
        struct stat sb;
        char *names[FILES_MAX];
        size_t n = 0;
        DIR *d;
        struct dirent *e;

        if (strcmp(args[i], "-") == 0 || stat(args[i], &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            if (*n_in == FILES_MAX) {
                berthctl_errorf("more than %d manifest files", FILES_MAX);
                return -1;
            }
            in[*n_in].path = berth_xstrdup(args[i]);
            (*n_in)++;
            continue;
        }
        if (!(d = opendir(args[i]))) {
            berthctl_errorf("%s: %s", args[i], strerror(errno));
            return -1;
        }
        while ((e = readdir(d)) && n < FILES_MAX)
            if (is_manifest_name(e->d_name))
                names[n++] = berth_xstrdup(e->d_name);
        closedir(d);
        qsort(names, n, sizeof(*names), name_cmp);
        for (size_t k = 0; k < n; k++) {
            if (*n_in < FILES_MAX)
                in[(*n_in)++].path = berth_xasprintf("%s/%s", args[i], names[k]);
            free(names[k]);
        }
        if (n == 0) {
            berthctl_errorf("%s: no *.yaml or *.yml files", args[i]);
            return -1;
        }
    }
    return 0;
}

static int read_inputs(input *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        _cleanup_error_ berth_error *err = NULL;

        if (berthctl_read_input(in[i].path, BERTH_MANIFEST_BYTES_MAX, &in[i].text, NULL, &err) <
            0) {
            berthctl_errorf("%s", err->msg);
            return -1;
        }
        /* Errors name the file as the operator gave it (a directory's
         * files as DIR/NAME), so two web.yaml in two places differ. */
        in[i].source = berth_xstrdup(in[i].path);
    }
    return 0;
}

static const char *action_word(ApplyAction a)
{
    switch (a) {
    case APPLY_CREATED:
        return "created";
    case APPLY_CONFIGURED:
        return "configured";
    case APPLY_UNCHANGED:
        return "unchanged";
    case APPLY_DELETED:
        return "deleted";
    default:
        return "?";
    }
}

/* "deployment/web created (dry run)" */
static void print_result(const ApplyResult *r, bool dry_run)
{
    char kind[32];
    size_t i;

    for (i = 0; r->kind[i] && i + 1 < sizeof(kind); i++)
        kind[i] = (char)(r->kind[i] >= 'A' && r->kind[i] <= 'Z' ? r->kind[i] + 32 : r->kind[i]);
    kind[i] = '\0';
    printf("%s/%s %s%s\n", kind, r->name, action_word(r->action), dry_run ? " (dry run)" : "");
}

/* The namespaces (kind: Namespace) the inputs make, so that a check of
 * one file takes those of the others as there (the controller says what
 * is wrong with a file that does not parse). */
static void pending_namespaces(const input *in, size_t n, char ***ret, size_t *ret_n)
{
    for (size_t i = 0; i < n; i++) {
        berth_manifest *m = NULL;

        if (berth_manifest_parse(in[i].text, strlen(in[i].text), in[i].source, &m, NULL) < 0)
            continue;
        for (size_t k = 0; k < m->n_namespaces; k++) {
            *ret = berth_xreallocarray(*ret, *ret_n + 1, sizeof(**ret));
            (*ret)[(*ret_n)++] = berth_xstrdup(m->namespaces[k]->name);
        }
        berth_manifest_free(m);
    }
}

static int apply_one(berthctl_ctx *ctx, const input *in, bool dry_run, bool print, char ***names,
                     size_t *n_names, char **pending, size_t n_pending)
{
    ApplyRequest req = APPLY_REQUEST_INIT;
    ApplyResponse *resp = NULL;
    int r;

    req.manifest = in->text;
    req.source = in->source;
    req.dry_run = dry_run;
    /* -n: the namespace of the objects that name none */
    req.namespace_ = (char *)(ctx->namespace_ ? ctx->namespace_ : "");
    if (dry_run) {
        req.pending_namespaces = pending;
        req.n_pending_namespaces = n_pending;
    }
    if ((r = berthctl_call(ctx, "Apply", &req.base, (ProtobufCMessage **)&resp)) != 0)
        return r;
    for (size_t i = 0; print && i < resp->n_results; i++) {
        print_result(resp->results[i], resp->dry_run);
        /* a workload: its key (a budget has nothing to wait for) */
        if (names && *resp->results[i]->namespace_ &&
            strcmp(resp->results[i]->kind, "PodDisruptionBudget") != 0) {
            char key[BERTH_WORKLOAD_KEY_BUF];

            berth_workload_key(resp->results[i]->namespace_, resp->results[i]->name, key);
            *names = berth_xreallocarray(*names, *n_names + 1, sizeof(**names));
            (*names)[(*n_names)++] = berth_xstrdup(key);
        }
    }
    for (size_t i = 0; print && i < resp->n_warnings; i++)
        fprintf(stderr, "Warning: %s\n", resp->warnings[i]);
    fflush(stdout);
    berth_pb_free(&resp->base);
    return 0;
}

/* Poll until every named workload runs all its replicas (a Deployment:
 * of its newest revision, none of an older one left). */
static int wait_running(berthctl_ctx *ctx, char **names, size_t n, int64_t timeout_ns)
{
    int64_t deadline = berth_now_mono_ns() + timeout_ns;
    char **last = berth_xcalloc(n + 1, sizeof(*last));
    int rc = 1;

    for (;;) {
        ListWorkloadsRequest req = LIST_WORKLOADS_REQUEST_INIT;
        ListWorkloadsResponse *resp = NULL;
        size_t done = 0;
        char pending[512] = "";

        if (berthctl_call(ctx, "ListWorkloads", &req.base, (ProtobufCMessage **)&resp) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            const Workload *w = NULL;
            char line[512];

            for (size_t k = 0; k < resp->n_workloads && !w; k++) {
                char key[BERTH_WORKLOAD_KEY_BUF];

                berth_workload_key(resp->workloads[k]->namespace_, resp->workloads[k]->name, key);
                if (strcmp(key, names[i]) == 0)
                    w = resp->workloads[k];
            }
            if (!w) {
                snprintf(line, sizeof(line), "%s: gone", names[i]);
                done++;
            } else {
                const WorkloadStatus *st = w->status;
                uint32_t running = st ? st->running : 0, desired = st ? st->desired : 0;
                uint32_t succeeded = st ? st->succeeded : 0;
                char done_part[48] = "";

                /* A batch replica that ran to completion counts as done. */
                if (succeeded)
                    snprintf(done_part, sizeof(done_part), ", %u completed", succeeded);
                snprintf(line, sizeof(line), "%s: %u/%u running%s%s%s", names[i], running, desired,
                         done_part, st && st->unschedulable ? ": " : "",
                         st && st->unschedulable ? st->message : "");
                /* a Deployment: its newest revision's replicas, and no
                 * other's left (a rollout done) */
                if (running + succeeded >= desired && (!st || !st->unschedulable) &&
                    (w->kind != WORKLOAD_DEPLOYMENT ||
                     (st && st->updated >= desired && st->placed <= desired)) &&
                    (w->kind != WORKLOAD_DAEMONSET || (st && st->updated >= desired) ||
                     (w->strategy && strcmp(w->strategy->type, "OnDelete") == 0)))
                    done++;
                else
                    snprintf(pending + strlen(pending), sizeof(pending) - strlen(pending),
                             "%s%s %u/%u running", *pending ? ", " : "", names[i], running,
                             desired);
            }
            /* progress: a line whenever a workload's state changes */
            if (!last[i] || strcmp(last[i], line) != 0) {
                printf("%s\n", line);
                fflush(stdout);
                free(last[i]);
                last[i] = berth_xstrdup(line);
            }
        }
        berth_pb_free(&resp->base);
        if (done == n) {
            rc = 0;
            break;
        }
        if (berth_now_mono_ns() >= deadline) {
            char d[32];

            berthctl_errorf("timed out after %s waiting for %s",
                            berth_format_duration(timeout_ns, d, sizeof(d)), pending);
            break;
        }
        /* wait a little, serving the sockets meanwhile */
        berth_loop_run_once(ctx->loop, 500 * BERTH_NSEC_PER_MSEC, NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(last[i]);
    free(last);
    return rc;
}

int berthctl_cmd_apply(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "filename", required_argument, NULL, 'f' },
        { "dry-run", no_argument, NULL, 'n' },
        { "wait", no_argument, NULL, 'w' },
        { "wait-timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char **args = berth_xcalloc((size_t)argc + 1, sizeof(*args)), **names = NULL;
    char **pending = NULL;
    input in[FILES_MAX] = { 0 };
    size_t n_args = 0, n_in = 0, n_names = 0, n_pending = 0;
    bool dry_run = false, wait = false;
    int64_t wait_ns = 300 * BERTH_NSEC_PER_SEC;
    int o, rc = BERTHCTL_EXIT_USAGE;

    while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            args[n_args++] = optarg;
            break;
        case 'n':
            dry_run = true;
            break;
        case 'w':
            wait = true;
            break;
        case 't':
            if (berth_parse_duration(optarg, "--wait-timeout", &wait_ns, NULL) < 0) {
                berthctl_errorf("--wait-timeout: '%s' is not a duration", optarg);
                goto out;
            }
            break;
        case 'h':
            apply_usage(stdout);
            rc = 0;
            goto out;
        default:
            apply_usage(stderr);
            goto out;
        }
    }
    if (n_args == 0 || optind < argc) {
        berthctl_errorf(n_args ? "unexpected argument '%s'" : "apply needs -f FILE|DIR|-%s",
                        n_args ? argv[optind] : "");
        goto out;
    }
    rc = 1;
    if (collect(args, n_args, in, &n_in) < 0 || read_inputs(in, n_in) < 0 ||
        berthctl_connect_or_exit(ctx) != 0)
        goto out;
    /* Several files: all or nothing, as one file is. */
    if (n_in > 1)
        pending_namespaces(in, n_in, &pending, &n_pending);
    for (size_t i = 0; n_in > 1 && !dry_run && i < n_in; i++)
        if (apply_one(ctx, &in[i], true, false, NULL, NULL, pending, n_pending) != 0)
            goto out;
    for (size_t i = 0; i < n_in; i++)
        if (apply_one(ctx, &in[i], dry_run, true, &names, &n_names, pending, n_pending) != 0)
            goto out;
    rc = wait && !dry_run ? wait_running(ctx, names, n_names, wait_ns) : 0;
out:
    for (size_t i = 0; i < n_in; i++) {
        free(in[i].path);
        free(in[i].source);
        free(in[i].text);
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    for (size_t i = 0; i < n_pending; i++)
        free(pending[i]);
    free(pending);
    free(args);
    return rc;
}
