/* berthctl node drain (and berthctl drain): kubectl drain's shape. Cordon
 * the node, then evict its pods through the controller's Eviction
 * (EvictPod), which each PodDisruptionBudget gates: a refused eviction is
 * tried again every second and its reason shown, so the drain goes one
 * budget step at a time; an evicted pod counts as done once it stopped on
 * the node and runs Ready elsewhere (one that cannot be placed, or whose
 * replacement is stuck in a crash loop or an image pull, is reported
 * instead of waited for). Last, the node is marked drained. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "rpc/envelope.h"
#include "spec/workload.h"

/* How often a refused eviction is tried again, and the picture taken. */
#define DRAIN_POLL_NS (1000 * BERTH_NSEC_PER_MSEC)

typedef enum target_state {
    TARGET_EVICT, /* to be evicted */
    TARGET_MOVED, /* evicted: waiting for it to stop here and run elsewhere */
    TARGET_DONE,
} target_state;

typedef struct target {
    char *ns, *name, *workload;
    char id[BERTH_ID_BUF];
    target_state state;
    char *last_refusal; /* the reason last shown */
} target;

typedef struct drain_opts {
    bool force, ignore_daemonsets;
    int64_t timeout_ns; /* 0: for ever */
} drain_opts;

static void targets_free(target *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].ns);
        free(t[i].name);
        free(t[i].workload);
        free(t[i].last_refusal);
    }
    free(t);
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ended(const Pod *p)
{
    return strcmp(p->phase, "Succeeded") == 0 || strcmp(p->phase, "Failed") == 0;
}

/* "ns/name, ns/name" of the pods that have not ended whose owner is of
 * this kind prefix ("": none): for kubectl's messages. */
static void pod_list(const ListPodsResponse *r, const char *owner, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < r->n_pods && len < size; i++) {
        const Pod *p = r->pods[i];

        if (ended(p) || !(*owner ? has_prefix(p->controlled_by, owner) : !*p->controlled_by))
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s/%s", len ? ", " : "", p->namespace_,
                                p->name);
    }
}

/* Which pods of the node to evict; what keeps the drain from starting
 * (DaemonSet pods without --ignore-daemonsets, pods of no controller
 * without --force) is printed as kubectl prints it: 1 then. */
static int plan(const char *node, const ListPodsResponse *r, const drain_opts *o, target **ret,
                size_t *ret_n)
{
    char ds[1024], bare[1024];
    target *t = berth_xcalloc(r->n_pods + 1, sizeof(*t));
    size_t n = 0;

    pod_list(r, "DaemonSet/", ds, sizeof(ds));
    pod_list(r, "", bare, sizeof(bare));
    if ((*ds && !o->ignore_daemonsets) || (*bare && !o->force)) {
        fprintf(stderr, "error: unable to drain node \"%s\" due to error: ", node);
        if (*ds && !o->ignore_daemonsets)
            fprintf(stderr,
                    "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                    "%s%s",
                    ds, *bare && !o->force ? ", " : "");
        if (*bare && !o->force)
            fprintf(stderr,
                    "cannot delete Pods declare no controller (use --force to override): %s", bare);
        fprintf(stderr, "\nThere are pending nodes to be drained:\n %s\n", node);
        free(t);
        return 1;
    }
    if (*ds)
        fprintf(stderr, "Warning: ignoring DaemonSet-managed Pods: %s\n", ds);
    if (*bare)
        fprintf(stderr,
                "Warning: evicting Pods that declare no controller (berth places them on "
                "another node): %s\n",
                bare);
    for (size_t i = 0; i < r->n_pods; i++) {
        const Pod *p = r->pods[i];

        if (has_prefix(p->controlled_by, "DaemonSet/") || ended(p))
            continue;
        t[n].ns = berth_xstrdup(p->namespace_);
        t[n].name = berth_xstrdup(p->name);
        t[n].workload = berth_xstrdup(p->workload);
        berth_id_join(p->namespace_, p->name, t[n].id);
        n++;
    }
    *ret = t;
    *ret_n = n;
    return 0;
}

/* Ask for one eviction: 0 done (or nothing to evict any more), 2 the pod
 * had ended (nothing moved), 1 refused for now (the budget: its reason
 * shown when new), -1 failed (shown). */
static int evict(berthctl_ctx *ctx, const char *node, target *t)
{
    _cleanup_error_ berth_error *err = NULL;
    EvictPodRequest req = EVICT_POD_REQUEST_INIT;
    berth_rpc_result res = { 0 };
    int r;

    req.namespace_ = t->ns;
    req.name = t->name;
    req.node = (char *)node;
    if (berth_rpc_client_call_sync(ctx->client, ctx->service, "EvictPod", &req.base, 0, &res,
                                   &err) < 0) {
        berthctl_errorf("EvictPod: %s", err->msg);
        return -1;
    }
    switch (res.code) {
    case CODE_OK:
        r = res.response && ((EvictPodResponse *)res.response)->ended ? 2 : 0;
        break;
    case CODE_NOT_FOUND: /* gone from the node already */
        r = 0;
        break;
    case CODE_RESOURCE_EXHAUSTED:
    case CODE_UNAVAILABLE:
    case CODE_DEADLINE_EXCEEDED:
        r = 1;
        if (!t->last_refusal || !res.message || strcmp(t->last_refusal, res.message) != 0) {
            fprintf(stderr, "error when evicting pods/\"%s\" -n \"%s\" (will retry after 1s): %s\n",
                    t->name, t->ns, res.message ? res.message : berth_rpc_code_name(res.code));
            free(t->last_refusal);
            t->last_refusal = berth_xstrdup(res.message ? res.message : "");
        }
        break;
    default:
        fprintf(stderr, "error when evicting pods/\"%s\" -n \"%s\": %s\n", t->name, t->ns,
                res.message ? res.message : berth_rpc_code_name(res.code));
        r = -1;
    }
    berth_rpc_result_clear(&res);
    return r;
}

/* Whether a container of pod id still is on the node (the node reports
 * it), from a listing of the node's containers. */
static bool still_on_node(const ListContainersResponse *c, const char *id)
{
    size_t len = strlen(id);

    for (size_t i = 0; c && i < c->n_containers; i++) {
        const char *cid = c->containers[i]->status ? c->containers[i]->status->id : "";

        if (strncmp(cid, id, len) == 0 && (cid[len] == '\0' || cid[len] == '_'))
            return true;
    }
    return false;
}

/* What holds a pod up for good until someone acts (kubectl's STATUS): a
 * replacement in one is reported, not waited for. */
static bool stuck(const Pod *p)
{
    static const char *const words[] = { "CrashLoopBackOff",      "ImagePullBackOff",
                                         "ErrImagePull",          "ErrImageNeverPull",
                                         "InvalidImageName",      "CreateContainerConfigError",
                                         "Init:CrashLoopBackOff", "Error" };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(p->status, words[i]) == 0)
            return true;
    return false;
}

/* An evicted pod: done once it stopped here and its replacement is Ready
 * elsewhere (or ended); a replacement that is stuck (crash loop, image
 * that will not pull) or cannot be placed, or a pod no longer wanted
 * (scaled down, a new revision), is reported and done too. 1 done, 0 not
 * yet, -1 a call failed (said). */
static int moved(berthctl_ctx *ctx, const char *node, const ListContainersResponse *here, target *t)
{
    GetPodRequest req = GET_POD_REQUEST_INIT;
    GetWorkloadRequest wreq = GET_WORKLOAD_REQUEST_INIT;
    Workload *w = NULL;
    Pod *p = NULL;
    int r, done = 0;

    if (still_on_node(here, t->id))
        return 0;
    req.namespace_ = t->ns;
    req.name = t->name;
    if ((r = berthctl_call_quiet(ctx, "GetPod", &req.base, (ProtobufCMessage **)&p)) == 0) {
        if (strcmp(p->node, node) == 0) {
            done = 0;
        } else if ((strcmp(p->phase, "Running") == 0 && p->ready == p->total) || ended(p)) {
            printf("pod/%s evicted (%s on %s)\n", t->name, ended(p) ? p->phase : "Ready", p->node);
            done = 1;
        } else if (stuck(p)) {
            printf("pod/%s evicted\n", t->name);
            fprintf(stderr, "Warning: pod %s/%s on %s does not become Ready: %s\n", t->ns, t->name,
                    p->node, p->status);
            done = 1;
        }
        berth_pb_free(&p->base);
        return done;
    }
    if (r != 2)
        return -1;
    /* not placed anywhere: say why, when its workload knows */
    wreq.namespace_ = t->ns;
    wreq.name = t->workload;
    if ((r = berthctl_call_quiet(ctx, "GetWorkload", &wreq.base, (ProtobufCMessage **)&w)) != 0)
        return r == 2 ? (printf("pod/%s evicted\n", t->name), 1) : -1; /* gone with it */
    printf("pod/%s evicted\n", t->name);
    if (w->status && w->status->unschedulable)
        fprintf(stderr, "Warning: pod %s/%s cannot run elsewhere now: %s\n", t->ns, t->name,
                w->status->message);
    /* else no longer wanted: scaled down, or its revision replaced */
    berth_pb_free(&w->base);
    return 1;
}

static void timed_out(const char *node, const drain_opts *o, const target *t, size_t n)
{
    char d[32];

    fprintf(stderr, "error: unable to drain node \"%s\" due to error: global timeout reached: %s",
            node, berth_format_duration(o->timeout_ns, d, sizeof(d)));
    for (size_t i = 0; i < n; i++) {
        if (t[i].state == TARGET_DONE)
            continue;
        fprintf(stderr, "\n  pods/\"%s\" -n \"%s\": %s", t[i].name, t[i].ns,
                t[i].state == TARGET_EVICT
                    ? (t[i].last_refusal ? t[i].last_refusal : "not evicted yet")
                    : "evicted, its replacement not Ready yet");
    }
    fprintf(stderr, "\nThere are pending nodes to be drained:\n %s\n", node);
}

static int drain(berthctl_ctx *ctx, const char *node, const drain_opts *o)
{
    CordonNodeRequest creq = CORDON_NODE_REQUEST_INIT;
    DrainNodeRequest dreq = DRAIN_NODE_REQUEST_INIT;
    GetNodeRequest greq = GET_NODE_REQUEST_INIT;
    ListPodsRequest preq = LIST_PODS_REQUEST_INIT;
    ListContainersRequest lreq = LIST_CONTAINERS_REQUEST_INIT;
    int64_t deadline = o->timeout_ns ? berth_now_mono_ns() + o->timeout_ns : INT64_MAX;
    ListPodsResponse *pods = NULL;
    target *t = NULL;
    size_t n = 0, left;
    Node *nd = NULL;
    bool was_cordoned;
    int rc = 1;

    greq.name = creq.name = dreq.name = (char *)node;
    creq.cordon = true;
    if (berthctl_call(ctx, "GetNode", &greq.base, (ProtobufCMessage **)&nd) != 0)
        return 1;
    was_cordoned = nd->cordoned;
    berth_pb_free(&nd->base);
    if (berthctl_call(ctx, "CordonNode", &creq.base, (ProtobufCMessage **)&nd) != 0)
        return 1;
    berth_pb_free(&nd->base);
    printf("node/%s %scordoned\n", node, was_cordoned ? "already " : "");
    fflush(stdout);
    preq.node = (char *)node;
    if (berthctl_call(ctx, "ListPods", &preq.base, (ProtobufCMessage **)&pods) != 0)
        return 1;
    if (plan(node, pods, o, &t, &n) != 0) {
        berth_pb_free(&pods->base);
        return 1;
    }
    berth_pb_free(&pods->base);
    for (size_t i = 0; i < n; i++)
        printf("evicting pod %s/%s\n", t[i].ns, t[i].name);
    fflush(stdout);
    for (;;) {
        ListContainersResponse *here = NULL;

        left = 0;
        for (size_t i = 0; i < n; i++) {
            int r;

            if (t[i].state != TARGET_EVICT)
                continue;
            if ((r = evict(ctx, node, &t[i])) < 0)
                goto out;
            if (r == 0)
                t[i].state = TARGET_MOVED;
            if (r == 2) {
                printf("pod/%s evicted (it had ended)\n", t[i].name);
                t[i].state = TARGET_DONE;
            }
        }
        lreq.node = (char *)node;
        if (berthctl_call(ctx, "ListContainers", &lreq.base, (ProtobufCMessage **)&here) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            int r = t[i].state == TARGET_MOVED ? moved(ctx, node, here, &t[i]) : 0;

            if (r < 0) {
                berth_pb_free(&here->base);
                goto out;
            }
            if (r > 0)
                t[i].state = TARGET_DONE;
            left += t[i].state != TARGET_DONE;
        }
        berth_pb_free(&here->base);
        fflush(stdout);
        if (!left)
            break;
        if (berth_now_mono_ns() >= deadline) {
            timed_out(node, o, t, n);
            goto out;
        }
        berth_loop_run_once(ctx->loop, DRAIN_POLL_NS, NULL);
    }
    if (berthctl_call(ctx, "DrainNode", &dreq.base, (ProtobufCMessage **)&nd) != 0)
        goto out;
    berth_pb_free(&nd->base);
    printf("node/%s drained\n", node);
    rc = 0;
out:
    targets_free(t, n);
    return rc;
}

static void drain_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl node drain NAME [OPTIONS]\n"
            "       berthctl drain NAME [OPTIONS]\n"
            "\n"
            "Cordon NAME, then evict its pods as kubectl drain does: each eviction asks the\n"
            "PodDisruptionBudget that selects the pod, and one it refuses is tried again every\n"
            "second with the reason shown. An evicted pod runs again on another node; the\n"
            "drain waits until it stopped here and is Ready there, then marks NAME drained.\n"
            "\n"
            "Options:\n"
            "      --ignore-daemonsets     leave DaemonSet pods (they stay on every node);\n"
            "                              without it a node with any refuses to drain\n"
            "      --force                 also evict pods no controller manages (kind: Pod);\n"
            "                              berth places them on another node\n"
            "      --timeout D             give up after D (e.g. 5m; default: wait for ever)\n"
            "      --delete-emptydir-data  accepted for kubectl's sake (an emptyDir goes with\n"
            "                              its pod anyway)\n"
            "  -h, --help                  this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_drain(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "ignore-daemonsets", no_argument, NULL, 'D' },
        { "force", no_argument, NULL, 'f' },
        { "timeout", required_argument, NULL, 't' },
        { "delete-emptydir-data", no_argument, NULL, 'E' },
        { "delete-local-data", no_argument, NULL, 'E' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    drain_opts o = { 0 };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'D':
            o.ignore_daemonsets = true;
            break;
        case 'f':
            o.force = true;
            break;
        case 't':
            if (berth_parse_duration(optarg, "--timeout", &o.timeout_ns, NULL) < 0 ||
                o.timeout_ns < 0) {
                berthctl_errorf("--timeout: '%s' is not a duration", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            break;
        case 'E':
            break;
        case 'h':
            drain_usage(stdout);
            return 0;
        default:
            drain_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        berthctl_errorf("drain needs one node NAME (see berthctl drain --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    return drain(ctx, argv[optind], &o);
}
