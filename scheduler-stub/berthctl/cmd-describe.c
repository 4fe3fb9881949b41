/* berthctl describe: one node, workload or container in detail, followed
 * by the controller's recent events about it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/quantity.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "spec/pod.h"
#include "spec/workload.h"
#include "rpc/envelope.h"

static void describe_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl describe node|namespace|workload|pod|container NAME [--node NODE]\n"
            "\n"
            "Show everything about one object, and the controller's recent events about it.\n"
            "\n"
            "Options:\n"
            "      --node NODE   pod, container: the node it is on (when its name is not\n"
            "                    unique)\n"
            "  -h, --help        this help\n"
            "\n%s",
            berthctl_connection_help);
}

static void print_label(const char *label)
{
    char b[40];

    snprintf(b, sizeof(b), "%s%s", label, *label ? ":" : "");
    printf("%-16s", b);
}

#define FIELD(label, ...)                                                                          \
    do {                                                                                           \
        print_label(label);                                                                        \
        printf(__VA_ARGS__);                                                                       \
        putchar('\n');                                                                             \
    } while (0)

static void when(const char *label, int64_t ns)
{
    char t[BERTH_RFC3339NANO_LEN], age[16];

    if (!ns)
        FIELD(label, "-");
    else
        FIELD(label, "%.19sZ (%s ago)", berth_format_rfc3339nano(ns, t),
              berthctl_age(ns, age, sizeof(age)));
}

/* Table t with each line after indent, as kubectl indents describe's
 * tables. */
static void print_indented(berthctl_table *t, const char *indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    if (!mem)
        return;
    berthctl_table_print(t, mem);
    fclose(mem);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        printf("%s%s\n", indent, line);
    free(text);
}

static void events(berthctl_ctx *ctx, const char *kind, const char *name)
{
    static const char *const h[] = { "AGE", "TYPE", "REASON", "MESSAGE" };
    ListEventsRequest req = LIST_EVENTS_REQUEST_INIT;
    ListEventsResponse *resp = NULL;
    berthctl_table *t;

    req.object_kind = (char *)kind;
    req.object_name = (char *)name;
    req.limit = 20;
    if (berthctl_call(ctx, "ListEvents", &req.base, (ProtobufCMessage **)&resp) != 0)
        return;
    printf("Events:\n");
    if (resp->n_events == 0) {
        printf("  none\n");
        berth_pb_free(&resp->base);
        return;
    }
    t = berthctl_table_new(4, h);
    for (size_t i = 0; i < resp->n_events; i++) {
        Event *e = resp->events[i];
        char age[16];
        const char *cells[4] = { berthctl_age(e->time_unix_ns, age, sizeof(age)), e->type,
                                 e->reason, e->message };

        berthctl_table_add(t, cells, NULL);
    }
    print_indented(t, "  ");
    berthctl_table_free(t);
    berth_pb_free(&resp->base);
}

/* ---- describe node: what is handed out, and its devices ---- */

static bool pod_terminated(const Pod *p)
{
    return strcmp(p->phase, "Succeeded") == 0 || strcmp(p->phase, "Failed") == 0;
}

/* The specs of pod p's containers in berth_pod_amount's order, with their
 * roles (new arrays; a container without its spec is left out). */
static size_t pod_specs(const Pod *p, const ContainerSpec ***ret_c, PodRole **ret_roles)
{
    size_t n = 0, total = p->n_init_containers + p->n_containers;

    *ret_c = berth_xcalloc(total + 1, sizeof(**ret_c));
    *ret_roles = berth_xcalloc(total + 1, sizeof(**ret_roles));
    for (size_t i = 0; i < total; i++) {
        const ContainerInfo *ci = i < p->n_init_containers
                                      ? p->init_containers[i]
                                      : p->containers[i - p->n_init_containers];

        if (!ci->spec)
            continue;
        (*ret_c)[n] = ci->spec;
        (*ret_roles)[n++] = i >= p->n_init_containers ? POD_ROLE_APP
                            : ci->spec->pod           ? ci->spec->pod->role
                                                      : POD_ROLE_INIT;
    }
    return n;
}

/* The limits of the pods still running on a node, as kubectl adds them
 * up: cpu, memory, and each extended resource (counts[] by names[]; a
 * node has at most 64). */
typedef struct node_limits {
    int64_t cpu, memory;
    const char *names[64];
    int64_t counts[64];
    size_t n;
} node_limits;

static void limits_add(node_limits *l, const char *name, int64_t count)
{
    size_t k = 0;

    while (k < l->n && strcmp(l->names[k], name) != 0)
        k++;
    if (k == l->n) {
        if (l->n == BERTH_ARRAY_SIZE(l->names))
            return;
        l->names[l->n] = name;
        l->counts[l->n++] = 0;
    }
    l->counts[k] += count;
}

static void node_limits_of(const ListPodsResponse *pods, node_limits *ret)
{
    for (size_t i = 0; pods && i < pods->n_pods; i++) {
        const ContainerSpec **c;
        PodRole *roles;
        berth_resource_count *ext;
        berth_pod_resources r;
        size_t n, n_ext;

        if (pod_terminated(pods->pods[i]))
            continue;
        n = pod_specs(pods->pods[i], &c, &roles);
        berth_pod_resources_of(c, roles, n, &r);
        ret->cpu += r.cpu_limit_millis;
        ret->memory += r.memory_limit_bytes;
        n_ext = berth_pod_extended_of(c, roles, n, &ext);
        for (size_t k = 0; k < n_ext; k++)
            limits_add(ret, ext[k].name, ext[k].count);
        free(ext);
        free(c);
        free(roles);
    }
}

static int64_t extended_of(NodeCapacity_ExtendedEntry *const *e, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i]->key, name) == 0)
            return e[i]->value;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A row of "Allocated resources" for cpu or memory: the requests and the
 * limits (as fmt writes them), each with its share of what the node has,
 * "250m (6%)". */
static void share_row(berthctl_table *t, const char *name, char *(*fmt)(int64_t, char *, size_t),
                      int64_t requests, int64_t limits, int64_t has)
{
    char q[2][32], cells[2][48];
    int64_t v[2] = { requests, limits };

    for (int i = 0; i < 2; i++)
        snprintf(cells[i], sizeof(cells[i]), "%s (%" PRId64 "%%)", fmt(v[i], q[i], sizeof(q[i])),
                 has > 0 ? v[i] * 100 / has : 0);
    berthctl_table_add(t, (const char *[]){ name, cells[0], cells[1] }, NULL);
}

/* kubectl's "Allocated resources": what the scheduler handed out (the
 * requests, as placement counts them) and the limits of the pods there,
 * cpu and memory with their share of the node, then each extended
 * resource. */
static void allocated_resources(const Node *n, const ListPodsResponse *pods)
{
    static const char *const h[] = { "Resource", "Requests", "Limits" };
    static const char *const dashes[] = { "--------", "--------", "------" };
    const NodeCapacity *cap = n->info ? n->info->capacity : NULL, *al = n->allocated;
    node_limits lim = { .n = 0 };
    const char *names[64 * 3];
    size_t n_names = 0;
    berthctl_table *t = berthctl_table_new(3, h);
    char q[2][32];

    node_limits_of(pods, &lim);
    berthctl_table_add(t, dashes, NULL);
    share_row(t, "cpu", berth_format_millicpu, al ? al->cpu_millis : 0, lim.cpu,
              cap ? cap->cpu_millis : 0);
    share_row(t, "memory", berth_format_bytes, al ? al->memory_bytes : 0, lim.memory,
              cap ? cap->memory_bytes : 0);
    /* the node's extended resources, and any other asked for there */
    for (size_t i = 0; cap && i < cap->n_extended && n_names < BERTH_ARRAY_SIZE(names); i++)
        names[n_names++] = cap->extended[i]->key;
    for (size_t i = 0; al && i < al->n_extended && n_names < BERTH_ARRAY_SIZE(names); i++)
        names[n_names++] = al->extended[i]->key;
    for (size_t i = 0; i < lim.n && n_names < BERTH_ARRAY_SIZE(names); i++)
        names[n_names++] = lim.names[i];
    qsort(names, n_names, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n_names; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        snprintf(q[0], sizeof(q[0]), "%" PRId64,
                 al ? extended_of(al->extended, al->n_extended, names[i]) : 0);
        snprintf(q[1], sizeof(q[1]), "%" PRId64, (int64_t)0);
        for (size_t k = 0; k < lim.n; k++)
            if (strcmp(lim.names[k], names[i]) == 0)
                snprintf(q[1], sizeof(q[1]), "%" PRId64, lim.counts[k]);
        berthctl_table_add(t, (const char *[]){ names[i], q[0], q[1] }, NULL);
    }
    printf("Allocated resources:\n  (Total limits may be over 100 percent, i.e., "
           "overcommitted.)\n");
    print_indented(t, "  ");
    berthctl_table_free(t);
}

/* A device held by a container of a pod on the node. */
typedef struct held_device {
    const char *device, *pod_ns, *pod, *container;
} held_device;

static int held_cmp(const void *a, const void *b)
{
    return strcmp(((const held_device *)a)->device, ((const held_device *)b)->device);
}

/* The devices the containers of pods hold, as their statuses say (CDI
 * names, host paths): a new array, sorted by device. */
static size_t held_devices(const ListPodsResponse *pods, held_device **ret)
{
    held_device *v = NULL;
    size_t n = 0;

    for (size_t i = 0; i < pods->n_pods; i++) {
        const Pod *p = pods->pods[i];

        for (size_t c = 0; c < p->n_init_containers + p->n_containers; c++) {
            const ContainerInfo *ci = c < p->n_init_containers
                                          ? p->init_containers[c]
                                          : p->containers[c - p->n_init_containers];
            const ContainerStatus *st = ci->status;
            const char *name = ci->spec ? berth_container_name(ci->spec) : "";

            for (size_t d = 0; st && d < st->n_devices; d++) {
                v = berth_xreallocarray(v, n + 1, sizeof(*v));
                v[n++] =
                    (held_device){ st->devices[d], p->namespace_, p->name, *name ? name : p->name };
            }
        }
    }
    if (n)
        qsort(v, n, sizeof(*v), held_cmp);
    *ret = v;
    return n;
}

/* Whether device (a CDI name) is of kind ("vendor.com/class"). */
static bool of_kind(const char *device, const char *kind)
{
    size_t len = strlen(kind);

    return strncmp(device, kind, len) == 0 && device[len] == '=';
}

static void print_held(const held_device *h)
{
    printf("    %s  held by %s/%s, container %s\n", h->device, h->pod_ns, h->pod, h->container);
}

/* The node's devices: for each CDI kind it has (its extended resources),
 * the devices its containers hold and by whom, and how many are free (the
 * names of the free ones are the node's to know); then the host devices
 * its containers were given. */
static void node_devices(const NodeCapacity *cap, const ListPodsResponse *pods)
{
    held_device *held = NULL;
    size_t n_held = held_devices(pods, &held), shown = 0;

    if (!n_held && (!cap || !cap->n_extended)) {
        FIELD("Devices", "<none>");
        return;
    }
    printf("Devices:\n");
    for (size_t i = 0; cap && i < cap->n_extended; i++) {
        const char *kind = cap->extended[i]->key;
        int64_t in_use = 0;

        for (size_t k = 0; k < n_held; k++)
            in_use += of_kind(held[k].device, kind);
        printf("  %s: %" PRId64 ", %" PRId64 " free\n", kind, cap->extended[i]->value,
               cap->extended[i]->value > in_use ? cap->extended[i]->value - in_use : 0);
        for (size_t k = 0; k < n_held; k++)
            if (of_kind(held[k].device, kind)) {
                print_held(&held[k]);
                shown++;
            }
    }
    if (shown < n_held) {
        /* host devices, and CDI devices of a kind the node does not count */
        printf("  other:\n");
        for (size_t k = 0; k < n_held; k++) {
            const char *eq = strchr(held[k].device, '=');
            bool counted = false;

            for (size_t i = 0; eq && cap && i < cap->n_extended && !counted; i++)
                counted = of_kind(held[k].device, cap->extended[i]->key);
            if (!counted)
                print_held(&held[k]);
        }
    }
    free(held);
}

static int describe_node(berthctl_ctx *ctx, const char *name)
{
    GetNodeRequest req = GET_NODE_REQUEST_INIT;
    ListPodsRequest preq = LIST_PODS_REQUEST_INIT;
    ListPodsResponse *pods = NULL;
    Node *n = NULL;
    const NodeInfo *info;
    const NodeCapacity *cap;
    char status[64], a[32], b[32], age[16];

    req.name = (char *)name;
    if (berthctl_call(ctx, "GetNode", &req.base, (ProtobufCMessage **)&n) != 0)
        return 1;
    info = n->info;
    cap = info ? info->capacity : NULL;
    FIELD("Name", "%s", info ? info->name : name);
    FIELD("Status", "%s%s%s (for %s)", berthctl_node_status(n, status, sizeof(status)),
          *n->reason ? ": " : "", n->reason,
          berthctl_age(n->phase_since_unix_ns, age, sizeof(age)));
    for (size_t i = 0; i < n->n_key_fingerprints; i++)
        FIELD(i ? "" : "Keys", "%s%s", n->key_fingerprints[i],
              n->phase == NODE_PENDING_APPROVAL ? " (awaits approval)" : "");
    printf("%-16s", "Labels:");
    for (size_t i = 0; info && i < info->n_labels; i++)
        printf("%s%s=%s", i ? "," : "", info->labels[i]->key, info->labels[i]->value);
    printf("%s\n", info && info->n_labels ? "" : "-");
    /* kubectl's way: key=value:Effect, one a line */
    for (size_t i = 0; i < n->n_taints; i++)
        FIELD(i ? "" : "Taints", "%s%s%s:%s", n->taints[i]->key, *n->taints[i]->value ? "=" : "",
              n->taints[i]->value, n->taints[i]->effect);
    if (!n->n_taints)
        FIELD("Taints", "<none>");
    FIELD("PodCIDR", "%s", *n->pod_cidr ? n->pod_cidr : "<none>");
    if (info && n->registered_unix_ns) {
        FIELD("Agent", "%s, serving %s", *info->agent_version ? info->agent_version : "-",
              *info->agent_address ? info->agent_address : "no Agent endpoint");
        FIELD("System", "%s, kernel %s, %s, cgroup v%u", *info->os ? info->os : "-",
              *info->kernel_version ? info->kernel_version : "-", *info->arch ? info->arch : "-",
              info->cgroup_version);
        FIELD("Capacity", "cpu %s, memory %s, containers %s",
              berth_format_millicpu(cap ? cap->cpu_millis : 0, a, sizeof(a)),
              berth_format_bytes_approx(cap ? cap->memory_bytes : 0, b, sizeof(b)),
              cap && cap->max_containers ? "limited" : "unlimited");
        /* its extended resources (its CDI kinds), one a line */
        for (size_t i = 0; cap && i < cap->n_extended; i++)
            FIELD("", "%s %" PRId64, cap->extended[i]->key, cap->extended[i]->value);
    }
    preq.node = n->info && *n->info->name ? n->info->name : (char *)name;
    if (berthctl_call(ctx, "ListPods", &preq.base, (ProtobufCMessage **)&pods) != 0)
        pods = NULL; /* said on stderr; the rest is still worth showing */
    allocated_resources(n, pods);
    if (pods)
        node_devices(cap, pods);
    FIELD("Containers", "%u assigned, %u running", n->containers, n->running);
    FIELD("Generation", "%" PRIu64 " (applied %" PRIu64 ")", n->generation, n->applied_generation);
    when("Registered", n->registered_unix_ns);
    when("Heartbeat", n->last_heartbeat_unix_ns);
    events(ctx, "Node", info ? info->name : name);
    if (pods)
        berth_pb_free(&pods->base);
    berth_pb_free(&n->base);
    return 0;
}

static void print_argv(const char *label, char **a, size_t n, char **b, size_t nb)
{
    printf("%-16s", label);
    for (size_t i = 0; i < n + nb; i++)
        printf("%s%s", i ? " " : "", i < n ? a[i] : b[i - n]);
    printf("%s\n", n + nb ? "" : "-");
}

/* A probe as kubectl describe shows it: "http-get http://:8080/healthz
 * delay=0s timeout=1s period=10s #success=1 #failure=3". */
static void describe_probe(const char *label, const Probe *p)
{
    char action[512] = "";
    size_t n = 0;

    if (!p)
        return;
    switch (p->action_case) {
    case PROBE_ACTION_EXEC:
        n = (size_t)snprintf(action, sizeof(action), "exec [");
        for (size_t i = 0; i < p->exec->n_command && n < sizeof(action); i++)
            n += (size_t)snprintf(action + n, sizeof(action) - n, "%s%s", i ? " " : "",
                                  p->exec->command[i]);
        if (n < sizeof(action))
            snprintf(action + n, sizeof(action) - n, "]");
        break;
    case PROBE_ACTION_TCP:
        snprintf(action, sizeof(action), "tcp-socket :%u", p->tcp->port);
        break;
    case PROBE_ACTION_HTTP_GET:
        snprintf(action, sizeof(action), "http-get http://%s:%u%s", p->http_get->host,
                 p->http_get->port, *p->http_get->path ? p->http_get->path : "/");
        break;
    case PROBE_ACTION_SLEEP:
        snprintf(action, sizeof(action), "sleep %llds", (long long)p->sleep->seconds);
        break;
    default:
        snprintf(action, sizeof(action), "?");
    }
    FIELD(label, "%s delay=%llds timeout=%llds period=%llds #success=%d #failure=%d", action,
          (long long)p->initial_delay_ms / 1000,
          (long long)(p->timeout_ms ? p->timeout_ms : 1000) / 1000,
          (long long)(p->period_ms ? p->period_ms : 10000) / 1000,
          p->success_threshold ? p->success_threshold : 1,
          p->failure_threshold ? p->failure_threshold : 3);
}

static void print_spec(const ContainerSpec *s)
{
    static const char *const restart[] = { "Never", "OnFailure", "Always" };
    const Resources *r = s->resources;
    char a[32], b[32], c[32], d[32];

    FIELD("Image", "%s", s->image);
    print_argv("Command:", s->command, s->n_command, s->args, s->n_args);
    for (size_t i = 0; i < s->n_env; i++)
        FIELD(i ? "" : "Environment", "%s", s->env[i]);
    if (r)
        FIELD("Resources", "requests cpu %s memory %s, limits cpu %s memory %s",
              berth_format_millicpu(r->cpu_request_millis, a, sizeof(a)),
              berth_format_bytes(r->memory_request_bytes, b, sizeof(b)),
              r->cpu_millis ? berth_format_millicpu(r->cpu_millis, c, sizeof(c)) : "-",
              r->memory_bytes ? berth_format_bytes(r->memory_bytes, d, sizeof(d)) : "-");
    /* extended resources: a limit, which is the request too */
    for (size_t i = 0; r && i < r->n_extended; i++)
        FIELD("", "%s %" PRId64, r->extended[i]->key, r->extended[i]->value);
    for (size_t i = 0; i < s->n_mounts; i++)
        FIELD(i ? "" : "Mounts", "%s <- %s%s", s->mounts[i]->destination,
              s->mounts[i]->type == MOUNT_TMPFS ? "tmpfs" : s->mounts[i]->source,
              s->mounts[i]->readonly ? " (read-only)" : "");
    /* host devices asked for (CRI-O's annotation) */
    for (size_t i = 0; i < s->n_devices; i++)
        FIELD(i ? "" : "Devices", "%s%s%s%s%s", s->devices[i]->name,
              *s->devices[i]->container_path ? " -> " : "", s->devices[i]->container_path,
              *s->devices[i]->permissions ? " " : "", s->devices[i]->permissions);
    FIELD("Network", "%s", s->network == NETWORK_HOST ? "host" : "none");
    FIELD("Restart", "%s", (unsigned)s->restart_policy < 3 ? restart[s->restart_policy] : "?");
    describe_probe("Liveness", s->liveness_probe);
    describe_probe("Readiness", s->readiness_probe);
    describe_probe("Startup", s->startup_probe);
}

static void int_or_percent(const IntOrPercent *v, const char *dflt, char *buf, size_t size)
{
    if (!v)
        snprintf(buf, size, "%s", dflt);
    else
        snprintf(buf, size, "%u%s", v->value, v->percent ? "%" : "");
}

/* A Deployment's rollout as kubectl describe deployment shows it. */
static void describe_rollout(const Workload *w)
{
    static const char *const h[] = { "Type", "Status", "Reason" };
    const WorkloadStatus *st = w->status;
    const DeploymentStrategy *ds = w->strategy;
    bool recreate = ds && strcmp(ds->type, "Recreate") == 0;
    char surge[24], unavailable[24], old[1024] = "";
    berthctl_table *t;
    size_t len = 0;

    if (!st)
        return;
    printf("%-24s%u desired | %u updated | %u total | %u available | %u unavailable\n",
           "Replicas:", w->replicas, st->updated, st->placed, st->available,
           st->placed > st->available ? st->placed - st->available : 0);
    printf("%-24s%s\n", "StrategyType:", recreate ? "Recreate" : "RollingUpdate");
    printf("%-24s%u\n", "MinReadySeconds:", w->min_ready_seconds);
    if (!recreate) {
        int_or_percent(ds ? ds->max_unavailable : NULL, "25%", unavailable, sizeof(unavailable));
        int_or_percent(ds ? ds->max_surge : NULL, "25%", surge, sizeof(surge));
        printf("%-24s%s max unavailable, %s max surge\n", "RollingUpdateStrategy:", unavailable,
               surge);
    }
    if (w->paused)
        printf("%-24s%s\n", "Paused:", "true");
    printf("Conditions:\n");
    t = berthctl_table_new(3, h);
    for (size_t i = 0; i < st->n_conditions; i++) {
        const char *cells[3] = { st->conditions[i]->type,
                                 st->conditions[i]->status ? "True" : "False",
                                 st->conditions[i]->reason };

        berthctl_table_add(t, cells, NULL);
    }
    berthctl_table_print(t, stdout);
    berthctl_table_free(t);
    for (size_t i = 1; i < st->n_replica_sets; i++) {
        const ReplicaSet *rs = st->replica_sets[i];

        if (rs->replicas == 0 && rs->placed == 0)
            continue;
        if (len < sizeof(old))
            len += (size_t)snprintf(old + len, sizeof(old) - len,
                                    "%s%s%s%s (%u/%u replicas created)", len ? ", " : "", w->name,
                                    *rs->hash ? "-" : "", rs->hash, rs->placed, rs->replicas);
    }
    printf("%-17s%s\n", "OldReplicaSets:", len ? old : "<none>");
    if (st->n_replica_sets) {
        const ReplicaSet *rs = st->replica_sets[0];

        printf("%-17s%s%s%s (%u/%u replicas created)\n", "NewReplicaSet:", w->name,
               *rs->hash ? "-" : "", rs->hash, rs->placed, rs->replicas);
    }
}

/* A Job as kubectl describe job shows it. */
static void describe_job(const Workload *w)
{
    const JobSpec *spec = w->job;
    const JobState *js = w->status ? w->status->job : NULL;
    uint32_t active = 0;

    if (spec) {
        printf("%-24s%u\n", "Parallelism:", spec->parallelism);
        printf("%-24s%u\n", "Completions:", spec->completions);
        printf("%-24s%s\n", "Completion Mode:", spec->indexed ? "Indexed" : "NonIndexed");
        printf("%-24s%u\n", "Backoff Limit:", spec->backoff_limit);
        if (spec->active_deadline_seconds)
            printf("%-24s%us\n", "Active Deadline Seconds:", spec->active_deadline_seconds);
        if (spec->has_ttl_seconds_after_finished)
            printf("%-24s%us\n", "TTL After Finished:", spec->ttl_seconds_after_finished);
    }
    if (!js)
        return;
    for (size_t i = 0; i < js->n_pods; i++)
        active += !*js->pods[i]->finished;
    when("Start Time", js->start_unix_ns);
    if (js->completion_unix_ns)
        when("Completed At", js->completion_unix_ns);
    printf("%-24s%u Active / %u Succeeded / %u Failed\n", "Pods Statuses:", active,
           w->status->succeeded, js->failed);
    if (*js->finished)
        printf("%-24s%s%s%s: %s\n", "Condition:", js->finished, *js->reason ? " " : "", js->reason,
               js->message);
}

static int describe_workload(berthctl_ctx *ctx, const char *name)
{
    static const char *const h[] = { "NAME", "NODE", "STATE", "RESTARTS" };
    GetWorkloadRequest req = GET_WORKLOAD_REQUEST_INIT;
    ListContainersRequest creq = LIST_CONTAINERS_REQUEST_INIT;
    ListContainersResponse *cs = NULL;
    Workload *w = NULL;
    const WorkloadStatus *st;

    char key[BERTH_WORKLOAD_KEY_BUF];

    req.name = (char *)name;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    if (berthctl_call(ctx, "GetWorkload", &req.base, (ProtobufCMessage **)&w) != 0)
        return 1;
    st = w->status;
    FIELD("Name", "%s", w->name);
    FIELD("Namespace", "%s", berth_namespace_or_default(w->namespace_));
    FIELD("Kind", "%s", berth_workload_kind_name(w->kind));
    FIELD("Source", "%s", *w->source ? w->source : "-");
    FIELD("Generation", "%" PRIu64, w->generation);
    when("Created", w->created_unix_ns);
    when("Updated", w->updated_unix_ns);
    printf("%-16s", "Labels:");
    for (size_t i = 0; i < w->n_labels; i++)
        printf("%s%s=%s", i ? "," : "", w->labels[i]->key, w->labels[i]->value);
    printf("%s\n", w->n_labels ? "" : "-");
    printf("%-16s", "Node selector:");
    for (size_t i = 0; i < w->n_node_selector; i++)
        printf("%s%s=%s", i ? "," : "", w->node_selector[i]->key, w->node_selector[i]->value);
    printf("%s\n", w->n_node_selector ? "" : "-");
    if (w->kind == WORKLOAD_CRONJOB && w->cron) {
        printf("%-24s%s\n", "Schedule:", w->cron->schedule);
        printf("%-24s%s\n", "Time Zone:", *w->cron->time_zone ? w->cron->time_zone : "UTC");
        printf("%-24s%s\n", "Concurrency Policy:", w->cron->concurrency_policy);
        printf("%-24s%s\n", "Suspend:", w->cron->suspend ? "True" : "False");
        printf("%-24s%u\n",
               "Successful Job History Limit:", w->cron->successful_jobs_history_limit);
        printf("%-24s%u\n", "Failed Job History Limit:", w->cron->failed_jobs_history_limit);
        if (w->cron->has_starting_deadline_seconds)
            printf("%-24s%us\n", "Starting Deadline Seconds:", w->cron->starting_deadline_seconds);
        if (st && st->job && st->job->last_schedule_unix)
            when("Last Schedule Time", st->job->last_schedule_unix * 1000000000LL);
        printf("%-24s%u\n", "Active Jobs:", st ? st->active : 0);
    } else if (w->kind == WORKLOAD_JOB) {
        describe_job(w);
    } else if (w->kind == WORKLOAD_DEPLOYMENT) {
        describe_rollout(w);
        if (st && st->unschedulable)
            FIELD("Unschedulable", "%u: %s", st->unschedulable, st->message);
    } else if (st) {
        FIELD("Replicas", "%u desired, %u placed, %u running, %u failed", st->desired, st->placed,
              st->running, st->failed);
        if (st->unschedulable)
            FIELD("Unschedulable", "%u: %s", st->unschedulable, st->message);
    }
    if (w->template_ && !w->pod) {
        print_spec(w->template_);
    } else if (w->template_) {
        /* a pod of several: each container under its name, in order */
        if (w->pod->share_process_namespace)
            FIELD("Shared PID", "yes (a pause is pid 1)");
        for (size_t i = 0; i < berth_pod_size(w); i++) {
            PodRole role;
            uint32_t index;
            const ContainerSpec *c = berth_pod_container(w, i, &role, &index);

            printf("%s %s:\n",
                   role == POD_ROLE_APP       ? "Container"
                   : role == POD_ROLE_SIDECAR ? "Sidecar"
                                              : "Init container",
                   berth_container_name(c));
            print_spec(c);
        }
    }
    creq.workload = w->name;
    creq.namespace_ = (char *)berth_namespace_or_default(w->namespace_);
    if (berthctl_call(ctx, "ListContainers", &creq.base, (ProtobufCMessage **)&cs) == 0) {
        berthctl_table *t = berthctl_table_new(4, h);

        printf("Containers:\n");
        for (size_t i = 0; i < cs->n_containers; i++) {
            const ContainerStatus *s = cs->containers[i]->status;
            char restarts[16];
            const char *cells[4];

            snprintf(restarts, sizeof(restarts), "%u", s ? s->restart_count : 0);
            cells[0] = s ? berth_id_split(s->id, NULL) : "";
            cells[1] = cs->containers[i]->node;
            cells[2] = s ? berthctl_container_state(s->state) : "";
            cells[3] = restarts;
            berthctl_table_add(t, cells, NULL);
        }
        if (cs->n_containers)
            berthctl_table_print(t, stdout);
        else
            printf("  none\n");
        berthctl_table_free(t);
        berth_pb_free(&cs->base);
    }
    berth_workload_key(w->namespace_, w->name, key);
    events(ctx, "Workload", key);
    berth_pb_free(&w->base);
    return 0;
}

static int describe_namespace(berthctl_ctx *ctx, const char *name)
{
    ListNamespacesRequest req = LIST_NAMESPACES_REQUEST_INIT;
    ListNamespacesResponse *r = NULL;
    const Namespace *ns = NULL;

    if (berthctl_call(ctx, "ListNamespaces", &req.base, (ProtobufCMessage **)&r) != 0)
        return 1;
    for (size_t i = 0; i < r->n_namespaces && !ns; i++)
        if (strcmp(r->namespaces[i]->name, name) == 0)
            ns = r->namespaces[i];
    if (!ns) {
        berthctl_errorf("namespace %s not found", name);
        berth_pb_free(&r->base);
        return 1;
    }
    FIELD("Name", "%s", ns->name);
    printf("%-16s", "Labels:");
    for (size_t i = 0; i < ns->n_labels; i++)
        printf("%s%s=%s", i ? "," : "", ns->labels[i]->key, ns->labels[i]->value);
    printf("%s\n", ns->n_labels ? "" : "<none>");
    FIELD("Status", "%s", *ns->phase ? ns->phase : "Active");
    when("Created", ns->created_unix_ns);
    FIELD("Source", "%s", *ns->source ? ns->source : "-");
    FIELD("Workloads", "%u", ns->workloads);
    events(ctx, "Namespace", ns->name);
    berth_pb_free(&r->base);
    return 0;
}

/* A label selector as kubectl writes it: "app=web,tier in (a,b),!old". */
static void print_selector(const LabelSelector *sel)
{
    bool first = true;

    if (!sel) {
        printf("<unset>\n");
        return;
    }
    for (size_t i = 0; i < sel->n_match_labels; i++, first = false)
        printf("%s%s=%s", first ? "" : ",", sel->match_labels[i]->key, sel->match_labels[i]->value);
    for (size_t i = 0; i < sel->n_match_expressions; i++, first = false) {
        const NodeSelectorRequirement *r = sel->match_expressions[i];

        printf("%s", first ? "" : ",");
        if (strcmp(r->operator_, "Exists") == 0) {
            printf("%s", r->key);
        } else if (strcmp(r->operator_, "DoesNotExist") == 0) {
            printf("!%s", r->key);
        } else {
            printf("%s %s (", r->key, strcmp(r->operator_, "In") == 0 ? "in" : "notin");
            for (size_t k = 0; k < r->n_values; k++)
                printf("%s%s", k ? "," : "", r->values[k]);
            printf(")");
        }
    }
    printf("%s\n", first ? "<all pods>" : "");
}

/* kubectl describe secret (keys and sizes, never a value) and describe
 * configmap (its values: a ConfigMap's are not secret). */
static int describe_object(berthctl_ctx *ctx, ConfigKind kind, const char *name)
{
    ListObjectsRequest req = LIST_OBJECTS_REQUEST_INIT;
    ListObjectsResponse *r = NULL;
    const ConfigObject *o;
    char key[BERTH_WORKLOAD_KEY_BUF + 16];

    req.kind = kind;
    req.namespace_ = (char *)berthctl_namespace(ctx);
    req.name = (char *)name;
    if (berthctl_call(ctx, "ListObjects", &req.base, (ProtobufCMessage **)&r) != 0)
        return 1;
    o = r->objects[0];
    FIELD("Name", "%s", o->name);
    FIELD("Namespace", "%s", o->namespace_);
    printf("%-16s", "Labels:");
    for (size_t i = 0; i < o->n_labels; i++)
        printf("%s%s=%s", i ? "," : "", o->labels[i]->key, o->labels[i]->value);
    printf("%s\n", o->n_labels ? "" : "<none>");
    FIELD("Source", "%s", *o->source ? o->source : "-");
    if (o->immutable)
        FIELD("Immutable", "%s", "true");
    if (kind == CONFIG_SECRET) {
        printf("\nType:  %s\n\nData\n====\n", o->type);
        for (size_t i = 0; i < o->n_sizes; i++)
            printf("%s:  %u bytes\n", o->sizes[i]->key, o->sizes[i]->value);
    } else {
        printf("\nData\n====\n");
        for (size_t i = 0; i < o->n_data; i++) {
            bool binary = false;

            for (size_t b = 0; b < o->n_binary_keys && !binary; b++)
                binary = strcmp(o->binary_keys[b], o->data[i]->key) == 0;
            if (binary)
                continue;
            printf("%s:\n----\n%.*s\n\n", o->data[i]->key, (int)o->data[i]->value.len,
                   (const char *)o->data[i]->value.data);
        }
        printf("\nBinaryData\n====\n");
        for (size_t b = 0; b < o->n_binary_keys; b++)
            for (size_t i = 0; i < o->n_sizes; i++)
                if (strcmp(o->sizes[i]->key, o->binary_keys[b]) == 0)
                    printf("%s: %u bytes\n", o->binary_keys[b], o->sizes[i]->value);
    }
    snprintf(key, sizeof(key), "%s/%s", o->namespace_, o->name);
    events(ctx, kind == CONFIG_SECRET ? "Secret" : "ConfigMap", key);
    berth_pb_free(&r->base);
    return 0;
}

static int describe_budget(berthctl_ctx *ctx, const char *name)
{
    ListDisruptionBudgetsRequest req = LIST_DISRUPTION_BUDGETS_REQUEST_INIT;
    ListDisruptionBudgetsResponse *r = NULL;
    const PodDisruptionBudget *b;
    const DisruptionBudgetStatus *st;
    char key[BERTH_WORKLOAD_KEY_BUF];

    req.namespace_ = (char *)berthctl_namespace(ctx);
    req.name = (char *)name;
    if (berthctl_call(ctx, "ListDisruptionBudgets", &req.base, (ProtobufCMessage **)&r) != 0)
        return 1;
    if (r->n_budgets != 1 || !r->budgets[0]->status) {
        berthctl_errorf("poddisruptionbudget %s not found", name);
        berth_pb_free(&r->base);
        return 1;
    }
    b = r->budgets[0];
    st = b->status;
    FIELD("Name", "%s", b->name);
    FIELD("Namespace", "%s", b->namespace_);
    if (b->min_available)
        FIELD("Min available", "%u%s", b->min_available->value,
              b->min_available->percent ? "%" : "");
    if (b->max_unavailable)
        FIELD("Max unavailable", "%u%s", b->max_unavailable->value,
              b->max_unavailable->percent ? "%" : "");
    printf("%-16s", "Selector:");
    print_selector(b->selector);
    FIELD("Source", "%s", *b->source ? b->source : "-");
    printf("Status:\n");
    printf("    %-22s%u\n", "Allowed disruptions:", st->disruptions_allowed);
    printf("    %-22s%u\n", "Current:", st->current_healthy);
    printf("    %-22s%u\n", "Desired:", st->desired_healthy);
    printf("    %-22s%u\n", "Total:", st->expected_pods);
    if (st->n_unhealthy) {
        printf("    %-22s", "Not Ready:");
        for (size_t i = 0; i < st->n_unhealthy; i++)
            printf("%s%s", i ? ", " : "", st->unhealthy[i]);
        printf("\n");
    }
    berth_workload_key(b->namespace_, b->name, key);
    events(ctx, "PodDisruptionBudget", key);
    berth_pb_free(&r->base);
    return 0;
}

static int describe_container(berthctl_ctx *ctx, const char *id, const char *node)
{
    static const char *const health[] = { "unknown", "no probe", "healthy", "unhealthy" };
    GetContainerRequest req = GET_CONTAINER_REQUEST_INIT;
    ContainerInfo *ci = NULL;
    const ContainerStatus *s;
    char full[BERTH_ID_BUF], key[BERTH_WORKLOAD_KEY_BUF];

    berthctl_container_id(ctx, id, full, sizeof(full));
    req.id = full;
    req.node = (char *)(node ? node : "");
    if (berthctl_call(ctx, "GetContainer", &req.base, (ProtobufCMessage **)&ci) != 0)
        return 1;
    s = ci->status;
    FIELD("Name", "%s", berth_id_split(full, NULL));
    if (*ci->namespace_)
        FIELD("Namespace", "%s", ci->namespace_);
    FIELD("Node", "%s", ci->node);
    FIELD("Workload", "%s", *ci->workload ? ci->workload : "- (not assigned: being stopped)");
    if (s) {
        FIELD("State", "%s%s%s", berthctl_container_state(s->state), *s->reason ? ": " : "",
              s->reason);
        if (*s->message)
            FIELD("Message", "%s", s->message);
        if (*s->image_id)
            FIELD("Image ID", "%s", s->image_id);
        if (s->pid)
            FIELD("Pid", "%d", s->pid);
        if (s->state == CONTAINER_EXITED || s->signal || s->oom_killed)
            FIELD("Exit", "code %d, signal %d%s", s->exit_code, s->signal,
                  s->oom_killed ? ", OOM-killed" : "");
        for (size_t i = 0; i < s->n_devices; i++)
            FIELD(i ? "" : "Devices", "%s", s->devices[i]);
        FIELD("Ready", "%s", s->ready ? "True" : "False");
        FIELD("Restarts", "%u", s->restart_count);
        FIELD("Health", "%s", (unsigned)s->health < 4 ? health[s->health] : "?");
        FIELD("Generation", "%" PRIu64, s->generation);
        when("Created", s->created_unix_ns);
        when("Started", s->started_unix_ns);
        if (s->finished_unix_ns)
            when("Finished", s->finished_unix_ns);
    }
    if (ci->spec)
        print_spec(ci->spec);
    berth_workload_key(ci->namespace_, ci->workload, key);
    if (*ci->workload)
        events(ctx, "Workload", key);
    berth_pb_free(&ci->base);
    return 0;
}

/* One container of a pod, kubectl describe pod's way: indented under its
 * name, its state with its reason, exit code and times. */
static void pod_container(const ContainerInfo *ci)
{
    const ContainerStatus *s = ci->status;
    const ContainerSpec *sp = ci->spec;
    const char *reason, *k = berth_container_k8s_state(s, &reason);
    char t[BERTH_RFC3339NANO_LEN];

    printf("  %s:\n", sp && sp->pod ? sp->pod->name : s->id);
    printf("    %-18s%s\n", "Container ID:", s->id);
    if (sp) {
        printf("    %-18s%s\n", "Image:", sp->image);
        printf("    %-18s", "Command:");
        for (size_t i = 0; i < sp->n_command + sp->n_args; i++)
            printf("%s%s", i ? " " : "",
                   i < sp->n_command ? sp->command[i] : sp->args[i - sp->n_command]);
        printf("%s\n", sp->n_command + sp->n_args ? "" : "- (the image's)");
    }
    if (*s->image_id)
        printf("    %-18s%s\n", "Image ID:", s->image_id);
    printf("    %-18s%c%s\n", "State:", k[0] - 'a' + 'A', k + 1);
    if (*reason)
        printf("      %-16s%s\n", "Reason:", reason);
    if (*s->message)
        printf("      %-16s%s\n", "Message:", s->message);
    if (strcmp(k, "terminated") == 0)
        printf("      %-16s%d\n", "Exit Code:", s->exit_code);
    if (s->signal)
        printf("      %-16s%d\n", "Signal:", s->signal);
    if (s->started_unix_ns)
        printf("      %-16s%.19sZ\n", "Started:", berth_format_rfc3339nano(s->started_unix_ns, t));
    if (s->finished_unix_ns && strcmp(k, "running") != 0)
        printf("      %-16s%.19sZ\n",
               "Finished:", berth_format_rfc3339nano(s->finished_unix_ns, t));
    printf("    %-18s%s\n", "Ready:", s->ready ? "True" : "False");
    printf("    %-18s%u\n", "Restart Count:", s->restart_count);
    /* what its node gave it: CDI devices, host devices */
    for (size_t i = 0; i < s->n_devices; i++)
        printf("    %-18s%s\n", i ? "" : "Devices:", s->devices[i]);
    if (!sp)
        return;
    if (sp->resources &&
        (sp->resources->cpu_millis || sp->resources->memory_bytes || sp->resources->n_extended)) {
        const Resources *r = sp->resources;
        char a[32], b[32];

        printf("    Limits:\n");
        if (r->cpu_millis)
            printf("      cpu:     %s\n", berth_format_millicpu(r->cpu_millis, a, sizeof(a)));
        if (r->memory_bytes)
            printf("      memory:  %s\n", berth_format_bytes(r->memory_bytes, b, sizeof(b)));
        for (size_t i = 0; i < r->n_extended; i++)
            printf("      %s:  %" PRId64 "\n", r->extended[i]->key, r->extended[i]->value);
    }
    for (size_t i = 0; i < sp->n_env; i++)
        printf("    %-18s%s\n", i ? "" : "Environment:", sp->env[i]);
    for (size_t i = 0; i < sp->n_mounts; i++)
        printf("    %-18s%s from %s%s\n", i ? "" : "Mounts:", sp->mounts[i]->destination,
               sp->mounts[i]->type == MOUNT_TMPFS ? "tmpfs" : sp->mounts[i]->source,
               sp->mounts[i]->readonly ? " (ro)" : " (rw)");
    if (sp->liveness_probe || sp->readiness_probe || sp->startup_probe) {
        /* describe_probe prints at the left margin: indent its label */
        if (sp->liveness_probe)
            describe_probe("    Liveness", sp->liveness_probe);
        if (sp->readiness_probe)
            describe_probe("    Readiness", sp->readiness_probe);
        if (sp->startup_probe)
            describe_probe("    Startup", sp->startup_probe);
    }
}

static int describe_pod(berthctl_ctx *ctx, const char *name, const char *node)
{
    GetPodRequest req = GET_POD_REQUEST_INIT;
    Pod *p = NULL;

    char key[BERTH_WORKLOAD_KEY_BUF];

    req.name = (char *)name;
    req.node = (char *)(node ? node : "");
    req.namespace_ = (char *)berthctl_namespace(ctx);
    if (berthctl_call(ctx, "GetPod", &req.base, (ProtobufCMessage **)&p) != 0)
        return 1;
    FIELD("Name", "%s", p->name);
    FIELD("Namespace", "%s", p->namespace_);
    FIELD("Node", "%s", p->node);
    FIELD("Workload", "%s", p->workload);
    FIELD("Controlled By", "%s", *p->controlled_by ? p->controlled_by : "<none>");
    when("Start Time", p->created_unix_ns);
    FIELD("Status", "%s", p->phase);
    if (strcmp(p->status, p->phase) != 0)
        FIELD("Reason", "%s", p->status);
    FIELD("IP", "%s", *p->ip ? p->ip : "<none>");
    if (p->n_init_containers) {
        printf("Init Containers:\n");
        for (size_t i = 0; i < p->n_init_containers; i++)
            pod_container(p->init_containers[i]);
    }
    printf("Containers:\n");
    for (size_t i = 0; i < p->n_containers; i++)
        pod_container(p->containers[i]);
    printf("Conditions:\n  %-18s%s\n", "Type", "Status");
    for (size_t i = 0; i < p->n_conditions; i++)
        printf("  %-18s%s\n", p->conditions[i]->type, p->conditions[i]->status ? "True" : "False");
    berth_workload_key(p->namespace_, p->workload, key);
    events(ctx, "Workload", key);
    berth_pb_free(&p->base);
    return 0;
}

int berthctl_cmd_describe(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "node", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *node = NULL, *what, *name;
    int o;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'N':
            node = optarg;
            break;
        case 'h':
            describe_usage(stdout);
            return 0;
        default:
            describe_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        berthctl_errorf("describe needs a kind and a name (see berthctl describe --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    what = argv[optind];
    name = argv[optind + 1];
    if (strcmp(what, "deploy") == 0 || strncmp(what, "deployment", 10) == 0 ||
        strncmp(what, "daemonset", 9) == 0 || strcmp(what, "ds") == 0 ||
        strncmp(what, "job", 3) == 0 || strncmp(what, "cronjob", 7) == 0 || strcmp(what, "cj") == 0)
        what = "workload";
    if (strncmp(what, "node", 4) != 0 && strncmp(what, "workload", 8) != 0 &&
        strncmp(what, "container", 9) != 0 && strcmp(what, "pod") != 0 &&
        strcmp(what, "pods") != 0 && strcmp(what, "po") != 0 && strcmp(what, "ns") != 0 &&
        strncmp(what, "namespace", 9) != 0 && strcmp(what, "pdb") != 0 &&
        strncmp(what, "poddisruptionbudget", 19) != 0 && strncmp(what, "secret", 6) != 0 &&
        strncmp(what, "configmap", 9) != 0 && strcmp(what, "cm") != 0) {
        berthctl_errorf("describe '%s'? node, namespace, workload, pod, poddisruptionbudget, "
                        "secret, configmap or container",
                        what);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    if (strcmp(what, "pdb") == 0 || strncmp(what, "poddisruptionbudget", 19) == 0)
        return describe_budget(ctx, name);
    if (strncmp(what, "secret", 6) == 0)
        return describe_object(ctx, CONFIG_SECRET, name);
    if (strncmp(what, "configmap", 9) == 0 || strcmp(what, "cm") == 0)
        return describe_object(ctx, CONFIG_MAP, name);
    if (strcmp(what, "ns") == 0 || strncmp(what, "namespace", 9) == 0)
        return describe_namespace(ctx, name);
    if (what[0] == 'n')
        return describe_node(ctx, name);
    if (what[0] == 'w')
        return describe_workload(ctx, name);
    if (what[0] == 'p')
        return describe_pod(ctx, name, node);
    return describe_container(ctx, name, node);
}
