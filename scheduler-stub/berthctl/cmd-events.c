/* berthctl events: the controller's event history, as kubectl events
 * shows a cluster's: every object's (or --for one's), oldest first, and
 * with -w what comes after, as it comes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "pb/pb.h"

/* How often a watch asks for what is new. */
#define EVENTS_WATCH_NS (500 * BERTH_NSEC_PER_MSEC)
/* The events asked for at once (the controller keeps 1000). */
#define EVENTS_PAGE 1000

static void events_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl events [--for KIND/NAME] [--types TYPE,...] [-w] [-o json|yaml]\n"
            "\n"
            "The controller's events, oldest first (it keeps the newest 1000): LAST SEEN,\n"
            "TYPE, REASON, OBJECT, MESSAGE, as kubectl events prints them.\n"
            "\n"
            "Options:\n"
            "      --for KIND/NAME     only this object's: node/N, deployment/N (any workload\n"
            "                          kind: its events are the workload's), namespace/N,\n"
            "                          secret/N, configmap/N, pdb/N, jointoken/ID\n"
            "      --types T,...       only these types: Normal, Warning\n"
            "  -w, --watch             then print the new ones as they come (until ^C)\n"
            "  -o, --output FORMAT     json or yaml\n"
            "  -h, --help              this help\n"
            "\n"
            "Unlike kubectl events, the whole fleet's are shown unless --for names one\n"
            "object (-n names its namespace).\n"
            "\n%s",
            berthctl_connection_help);
}

/* kubectl's kind words and short names, to the kind events are kept by. */
static const char *event_kind(const char *word)
{
    static const struct {
        const char *word, *kind;
    } kinds[] = {
        { "node", "Node" },
        { "nodes", "Node" },
        { "no", "Node" },
        { "namespace", "Namespace" },
        { "namespaces", "Namespace" },
        { "ns", "Namespace" },
        { "workload", "Workload" },
        { "workloads", "Workload" },
        { "wl", "Workload" },
        { "deployment", "Workload" },
        { "deployments", "Workload" },
        { "deploy", "Workload" },
        { "daemonset", "Workload" },
        { "daemonsets", "Workload" },
        { "ds", "Workload" },
        { "job", "Workload" },
        { "jobs", "Workload" },
        { "cronjob", "Workload" },
        { "cronjobs", "Workload" },
        { "cj", "Workload" },
        { "pod", "Workload" },
        { "pods", "Workload" },
        { "po", "Workload" },
        { "secret", "Secret" },
        { "secrets", "Secret" },
        { "configmap", "ConfigMap" },
        { "configmaps", "ConfigMap" },
        { "cm", "ConfigMap" },
        { "poddisruptionbudget", "PodDisruptionBudget" },
        { "poddisruptionbudgets", "PodDisruptionBudget" },
        { "pdb", "PodDisruptionBudget" },
        { "jointoken", "JoinToken" },
        { "jointokens", "JoinToken" },
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(kinds); i++)
        if (strcasecmp(word, kinds[i].word) == 0)
            return kinds[i].kind;
    return NULL;
}

/* The event's object name for NAME of kind in namespace ns: a workload's
 * and a budget's are "NS/NAME" outside "default", a Secret's and a
 * ConfigMap's always "NS/NAME", the others' their name. */
static char *event_object_name(const char *kind, const char *ns, const char *name)
{
    bool always = strcmp(kind, "Secret") == 0 || strcmp(kind, "ConfigMap") == 0;
    bool namespaced =
        always || strcmp(kind, "Workload") == 0 || strcmp(kind, "PodDisruptionBudget") == 0;

    if (namespaced && (always || strcmp(ns, "default") != 0))
        return berth_xasprintf("%s/%s", ns, name);
    return berth_xstrdup(name);
}

static bool type_wanted(const char *types, const char *type)
{
    size_t n = strlen(type);

    if (!types)
        return true;
    for (const char *p = types; *p;) {
        size_t len = strcspn(p, ",");

        if (len == n && strncasecmp(p, type, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* The rows of r's events, with the header when asked; returns how many. */
static size_t print_rows(const ListEventsResponse *r, bool header)
{
    static const char *const h[] = { "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE" };
    berthctl_table *t = berthctl_table_new(5, h);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_events; i++) {
        const Event *e = r->events[i];
        char age[16], *object, *lower;
        const char *cells[5], *colours[5] = { NULL };

        lower = berth_xstrdup(e->object_kind);
        for (char *p = lower; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        object = berth_xasprintf("%s/%s", lower, e->object_name);
        cells[0] = berthctl_age(e->time_unix_ns, age, sizeof(age));
        cells[1] = e->type;
        colours[1] = strcmp(e->type, "Warning") == 0 ? berthctl_status_colour("Failed") : NULL;
        cells[2] = e->reason;
        cells[3] = object;
        cells[4] = e->message;
        berthctl_table_add(t, cells, colours);
        free(object);
        free(lower);
        shown++;
    }
    if (shown) {
        if (header) {
            berthctl_table_print(t, stdout);
        } else {
            /* a watch's rows: no header again (kubectl's) */
            char *text = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&text, &len);

            if (mem) {
                berthctl_table_print(t, mem);
                fclose(mem);
                fputs(strchr(text, '\n') ? strchr(text, '\n') + 1 : "", stdout);
                free(text);
            }
        }
        fflush(stdout);
    }
    berthctl_table_free(t);
    return shown;
}

int berthctl_cmd_events(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "for", required_argument, NULL, 'f' }, { "types", required_argument, NULL, 't' },
        { "watch", no_argument, NULL, 'w' },     { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },      { NULL, 0, NULL, 0 },
    };
    ListEventsRequest req = LIST_EVENTS_REQUEST_INIT;
    berthctl_format fmt = BERTHCTL_TABLE;
    const char *types = NULL, *for_ = NULL;
    char *object_name = NULL;
    bool watch = false, first = true, header = true;
    uint64_t last = 0;
    size_t n;
    int o, rc = 1;

    while ((o = getopt_long(argc, argv, "wo:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f':
            for_ = optarg;
            break;
        case 't':
            types = optarg;
            for (const char *p = optarg; *p;) {
                size_t len = strcspn(p, ",");

                if (!((len == 6 && strncasecmp(p, "Normal", 6) == 0) ||
                      (len == 7 && strncasecmp(p, "Warning", 7) == 0))) {
                    berthctl_errorf("--types: '%.*s' is not Normal or Warning", (int)len, p);
                    return BERTHCTL_EXIT_USAGE;
                }
                p += len + (p[len] == ',');
            }
            break;
        case 'w':
            watch = true;
            break;
        case 'o':
            if (berthctl_format_parse(optarg, &fmt) < 0 || fmt == BERTHCTL_WIDE) {
                berthctl_errorf("--output: '%s' is not json or yaml", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            break;
        case 'h':
            events_usage(stdout);
            return 0;
        default:
            events_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        berthctl_errorf("events: unexpected argument '%s' (--for KIND/NAME names one object)",
                        argv[optind]);
        return BERTHCTL_EXIT_USAGE;
    }
    if (for_) {
        const char *slash = strchr(for_, '/');
        char word[32];

        if (!slash || slash == for_ || !slash[1] || (size_t)(slash - for_) >= sizeof(word)) {
            berthctl_errorf("--for: '%s' is not KIND/NAME", for_);
            return BERTHCTL_EXIT_USAGE;
        }
        snprintf(word, sizeof(word), "%.*s", (int)(slash - for_), for_);
        req.object_kind = (char *)event_kind(word);
        if (!req.object_kind) {
            berthctl_errorf("--for: no events are kept for kind '%s'", word);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    if (for_) {
        object_name =
            event_object_name(req.object_kind, berthctl_namespace(ctx), strchr(for_, '/') + 1);
        req.object_name = object_name;
    }
    req.limit = EVENTS_PAGE;
    for (;;) {
        ListEventsResponse *resp = NULL;

        req.after_id = last;
        if (berthctl_call(ctx, "ListEvents", &req.base, (ProtobufCMessage **)&resp) != 0)
            goto out;
        n = resp->n_events;
        if (n)
            last = resp->events[n - 1]->id;
        /* the types asked for: a view of the answer (it owns the events) */
        {
            ListEventsResponse view = *resp;
            Event **kept = berth_xcalloc(n + 1, sizeof(*kept));

            view.n_events = 0;
            view.events = kept;
            for (size_t i = 0; i < n; i++)
                if (type_wanted(types, resp->events[i]->type))
                    kept[view.n_events++] = resp->events[i];
            if (fmt == BERTHCTL_JSON && (first || view.n_events)) {
                berthctl_print_json(&view.base, stdout);
                fflush(stdout);
            } else if (fmt == BERTHCTL_YAML && (first || view.n_events)) {
                if (!first)
                    fputs("---\n", stdout);
                berthctl_print_yaml(&view.base, stdout);
                fflush(stdout);
            } else if (fmt == BERTHCTL_TABLE) {
                if (first && view.n_events == 0 && !watch)
                    fprintf(stderr, "No events found.\n");
                if (print_rows(&view, header))
                    header = false;
            }
            free(kept);
        }
        berth_pb_free(&resp->base);
        if (!watch)
            break;
        first = false;
        /* a full page: more are waiting, asked for at once */
        if (n < EVENTS_PAGE)
            nanosleep(&(struct timespec){ 0, EVENTS_WATCH_NS }, NULL);
    }
    rc = 0;
out:
    free(object_name);
    return rc;
}
