/* berthctl get: the fleet's nodes, workloads and containers as aligned
 * tables (or wide, JSON, YAML). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pb/pb.h"
#include "base/quantity.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "spec/workload.h"
#include "rpc/envelope.h"

/* Where the tables go: stdout, or while watching (get -w) a round's
 * buffer, compared with the round before. */
static FILE *tables_out;

static FILE *tables(void)
{
    return tables_out ? tables_out : stdout;
}

static void get_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl get nodes|namespaces|workloads|deployments|daemonsets|jobs|\n"
            "                    cronjobs|replicasets|poddisruptionbudgets|secrets|configmaps|\n"
            "                    pods|containers [NAME...] [OPTIONS]\n"
            "\n"
            "List what the controller knows, sorted by name (containers by node, then name).\n"
            "A pod is a replica of a workload, with its containers (kubectl get pods).\n"
            "deployments (deploy), daemonsets (ds), jobs, cronjobs (cj), replicasets (rs, a\n"
            "Deployment's revisions) and poddisruptionbudgets (pdb) are shown as kubectl\n"
            "shows them.\n"
            "Workloads, budgets, pods and containers are those of one namespace (-n, default\n"
            "\"default\"), or of all of them with -A.\n"
            "\n"
            "Options:\n"
            "  -o, --output FORMAT     wide, json or yaml (default: a table)\n"
            "  -l, --selector K=V,...  only nodes or workloads with these labels\n"
            "      --node NAME         pods, containers: only those on this node\n"
            "      --workload NAME     pods, containers: only replicas of this workload\n"
            "      --show-values       get secret NAME -o yaml|json: with its values (the\n"
            "                          controller records who read them)\n"
            "  -w, --watch             then print what changes, a row for each change (until\n"
            "                          ^C; the list is asked for every second)\n"
            "  -h, --help              this help\n"
            "\n%s",
            berthctl_connection_help);
}

/* Is name among the ones asked for (all when none)? */
static bool wanted(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return n == 0;
}

/* -l k=v,k2=v2 into a map field of req (ListNodes/ListWorkloads). */
static int parse_selector(ProtobufCMessage *req, const char *field, char *sel)
{
    for (char *save = NULL, *kv = strtok_r(sel, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');

        if (!eq || eq == kv) {
            berthctl_errorf("--selector: '%s' is not KEY=VALUE", kv);
            return -1;
        }
        *eq = '\0';
        if (berth_pb_map_set(req, field, kv, eq + 1) < 0)
            return -1;
    }
    return 0;
}

/* Free the map entries parse_selector made (the request is on the stack). */
static void free_map(ProtobufCMessage *req, const char *field)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(req->descriptor, field);
    size_t *n = (size_t *)((char *)req + f->quantifier_offset);
    ProtobufCMessage ***arr = (ProtobufCMessage ***)((char *)req + f->offset);

    for (size_t i = 0; i < *n; i++)
        protobuf_c_message_free_unpacked((*arr)[i], NULL);
    free(*arr);
    *arr = NULL;
    *n = 0;
}

static void labels_text(NodeInfo_LabelsEntry **l, size_t n, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", i ? "," : "", l[i]->key,
                                l[i]->value);
}

static size_t print_nodes(const ListNodesResponse *r, char **names, int n_names, bool wide)
{
    static const char *const h[] = { "NAME",    "STATUS", "CONTAINERS", "CPU",     "MEMORY", "AGE",
                                     "VERSION", "KERNEL", "CGROUP",     "ADDRESS", "LABELS" };
    berthctl_table *t = berthctl_table_new(wide ? 11 : 7, h);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_nodes; i++) {
        const Node *n = r->nodes[i];
        const NodeInfo *info = n->info;
        const NodeCapacity *cap = info ? info->capacity : NULL;
        char status[64], containers[32], cpu[64], mem[64], age[16], a[32], b[32], cg[8],
            labels[512];
        const char *colours[11] = { NULL };
        const char *cells[11];

        if (!info || !wanted(names, n_names, info->name))
            continue;
        berthctl_node_status(n, status, sizeof(status));
        colours[1] = berthctl_status_colour(status);
        snprintf(containers, sizeof(containers), "%u/%u", n->running, n->containers);
        berth_format_millicpu(n->allocated ? n->allocated->cpu_millis : 0, a, sizeof(a));
        berth_format_millicpu(cap ? cap->cpu_millis : 0, b, sizeof(b));
        snprintf(cpu, sizeof(cpu), "%s/%s", a, b);
        berth_format_bytes_approx(n->allocated ? n->allocated->memory_bytes : 0, a, sizeof(a));
        berth_format_bytes_approx(cap ? cap->memory_bytes : 0, b, sizeof(b));
        snprintf(mem, sizeof(mem), "%s/%s", a, b);
        snprintf(cg, sizeof(cg), info->cgroup_version ? "v%u" : "-", info->cgroup_version);
        labels_text(info->labels, info->n_labels, labels, sizeof(labels));
        cells[0] = info->name;
        cells[1] = status;
        cells[2] = containers;
        cells[3] = n->registered_unix_ns ? cpu : "-";
        cells[4] = n->registered_unix_ns ? mem : "-";
        cells[5] = berthctl_age(n->registered_unix_ns, age, sizeof(age));
        cells[6] = info->agent_version;
        cells[7] = info->kernel_version;
        cells[8] = cg;
        cells[9] = info->agent_address;
        cells[10] = labels;
        berthctl_table_add(t, cells, colours);
        shown++;
    }
    berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

static void selector_text(Workload_NodeSelectorEntry **l, size_t n, char *buf, size_t size)
{
    labels_text((NodeInfo_LabelsEntry **)(void *)l, n, buf, size);
}

/* kubectl get namespaces: NAME STATUS AGE (wide: WORKLOADS LABELS). */
static size_t print_namespaces(const ListNamespacesResponse *r, char **names, int n_names,
                               bool wide)
{
    static const char *const h[] = { "NAME", "STATUS", "AGE", "WORKLOADS", "LABELS" };
    berthctl_table *t = berthctl_table_new(wide ? 5 : 3, h);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_namespaces; i++) {
        const Namespace *ns = r->namespaces[i];
        char age[16], count[16], labels[512];
        const char *cells[5];

        if (!wanted(names, n_names, ns->name))
            continue;
        snprintf(count, sizeof(count), "%u", ns->workloads);
        labels_text((NodeInfo_LabelsEntry **)(void *)ns->labels, ns->n_labels, labels,
                    sizeof(labels));
        cells[0] = ns->name;
        cells[1] = *ns->phase ? ns->phase : "Active";
        cells[2] = berthctl_age(ns->created_unix_ns, age, sizeof(age));
        cells[3] = count;
        cells[4] = labels;
        berthctl_table_add(t, cells, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* A table's columns, with NAMESPACE first when all_ns: headers from h
 * (n of them, the first n_narrow unless wide). */
static berthctl_table *table_ns(const char *const *h, size_t n, size_t n_narrow, bool wide,
                                bool all_ns)
{
    const char *hh[16] = { "NAMESPACE" };
    size_t cols = wide ? n : n_narrow;

    for (size_t i = 0; i < cols; i++)
        hh[i + 1] = h[i];
    return berthctl_table_new(cols + all_ns, all_ns ? hh : h);
}

/* Add cells to t, after ns when all_ns. */
static void table_add_ns(berthctl_table *t, bool all_ns, const char *ns, const char **cells,
                         size_t n, const char **colours)
{
    const char *cc[16] = { ns }, *oo[16] = { NULL };

    if (!all_ns) {
        berthctl_table_add(t, cells, colours);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        cc[i + 1] = cells[i];
        oo[i + 1] = colours ? colours[i] : NULL;
    }
    berthctl_table_add(t, cc, oo);
}

static size_t print_workloads(const ListWorkloadsResponse *r, char **names, int n_names, bool wide,
                              bool all_ns)
{
    static const char *const h[] = { "NAME",  "KIND",     "READY",      "PLACED", "AGE",
                                     "IMAGE", "SELECTOR", "GENERATION", "MESSAGE" };
    berthctl_table *t = table_ns(h, 9, 6, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];
        const WorkloadStatus *st = w->status;
        char ready[32], placed[16], age[16], sel[512], gen[24];
        const char *cells[9];

        if (!wanted(names, n_names, w->name))
            continue;
        snprintf(ready, sizeof(ready), "%u/%u", st ? st->running : 0, st ? st->desired : 0);
        snprintf(placed, sizeof(placed), "%u", st ? st->placed : 0);
        snprintf(gen, sizeof(gen), "%" PRIu64, w->generation);
        selector_text(w->node_selector, w->n_node_selector, sel, sizeof(sel));
        cells[0] = w->name;
        cells[1] = berth_workload_kind_name(w->kind);
        cells[2] = ready;
        cells[3] = placed;
        cells[4] = berthctl_age(w->created_unix_ns, age, sizeof(age));
        cells[5] = w->template_ ? w->template_->image : "";
        cells[6] = sel;
        cells[7] = gen;
        cells[8] = st ? st->message : "";
        table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 9, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* The pod's containers (not init ones), comma-separated: their names and
 * their images (kubectl's CONTAINERS and IMAGES columns). */
static void pod_images(const Workload *w, char *names, size_t n_size, char *images, size_t i_size)
{
    size_t ln = 0, li = 0;

    names[0] = images[0] = '\0';
    for (size_t c = 0; w->template_ && c < berth_pod_size(w); c++) {
        PodRole role;
        uint32_t index;
        const ContainerSpec *cs = berth_pod_container(w, c, &role, &index);

        if (role != POD_ROLE_APP)
            continue;
        if (ln < n_size)
            ln += (size_t)snprintf(names + ln, n_size - ln, "%s%s", ln ? "," : "",
                                   berth_container_name(cs));
        if (li < i_size)
            li += (size_t)snprintf(images + li, i_size - li, "%s%s", li ? "," : "", cs->image);
    }
}

/* kubectl get deployments: READY (Ready/replicas), UP-TO-DATE,
 * AVAILABLE; wide: the containers, images and selector. */
static size_t print_deployments(const ListWorkloadsResponse *r, char **names, int n_names,
                                bool wide, bool all_ns)
{
    static const char *const h[] = { "NAME", "READY",      "UP-TO-DATE", "AVAILABLE",
                                     "AGE",  "CONTAINERS", "IMAGES",     "SELECTOR" };
    berthctl_table *t = table_ns(h, 8, 5, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];
        const WorkloadStatus *st = w->status;
        char ready[32], updated[16], available[16], age[16], names_[512] = "", images[1024] = "",
                                                             sel[512];
        const char *cells[8];

        if (w->kind != WORKLOAD_DEPLOYMENT || !wanted(names, n_names, w->name))
            continue;
        snprintf(ready, sizeof(ready), "%u/%u", st ? st->ready : 0, w->replicas);
        snprintf(updated, sizeof(updated), "%u", st ? st->updated : 0);
        snprintf(available, sizeof(available), "%u", st ? st->available : 0);
        pod_images(w, names_, sizeof(names_), images, sizeof(images));
        selector_text(w->node_selector, w->n_node_selector, sel, sizeof(sel));
        cells[0] = w->name;
        cells[1] = ready;
        cells[2] = updated;
        cells[3] = available;
        cells[4] = berthctl_age(w->created_unix_ns, age, sizeof(age));
        cells[5] = names_;
        cells[6] = images;
        cells[7] = sel;
        table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 8, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get daemonsets: DESIRED (matching nodes), CURRENT (placed),
 * READY, UP-TO-DATE, AVAILABLE, NODE SELECTOR; wide: the containers and
 * images. */
static size_t print_daemonsets(const ListWorkloadsResponse *r, char **names, int n_names, bool wide,
                               bool all_ns)
{
    static const char *const h[] = { "NAME",       "DESIRED",   "CURRENT",       "READY",
                                     "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE",
                                     "CONTAINERS", "IMAGES" };
    berthctl_table *t = table_ns(h, 10, 8, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];
        const WorkloadStatus *st = w->status;
        char n[6][16], age[16], sel[512], names_[512] = "", images[1024] = "";
        const char *cells[10];

        if (w->kind != WORKLOAD_DAEMONSET || !wanted(names, n_names, w->name))
            continue;
        snprintf(n[0], sizeof(n[0]), "%u", st ? st->desired : 0);
        snprintf(n[1], sizeof(n[1]), "%u", st ? st->placed : 0);
        snprintf(n[2], sizeof(n[2]), "%u", st ? st->ready : 0);
        snprintf(n[3], sizeof(n[3]), "%u", st ? st->updated : 0);
        snprintf(n[4], sizeof(n[4]), "%u", st ? st->available : 0);
        selector_text(w->node_selector, w->n_node_selector, sel, sizeof(sel));
        pod_images(w, names_, sizeof(names_), images, sizeof(images));
        cells[0] = w->name;
        for (int k = 0; k < 5; k++)
            cells[k + 1] = n[k];
        cells[6] = *sel && strcmp(sel, "-") != 0 ? sel : "<none>";
        cells[7] = berthctl_age(w->created_unix_ns, age, sizeof(age));
        cells[8] = names_;
        cells[9] = images;
        table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 10, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get jobs: STATUS (Running, Complete, Failed), COMPLETIONS
 * (succeeded/completions), DURATION, AGE; wide: the containers and
 * images. */
static size_t print_jobs(const ListWorkloadsResponse *r, char **names, int n_names, bool wide,
                         bool all_ns)
{
    static const char *const h[] = { "NAME", "STATUS",     "COMPLETIONS", "DURATION",
                                     "AGE",  "CONTAINERS", "IMAGES" };
    berthctl_table *t = table_ns(h, 7, 5, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];
        const WorkloadStatus *st = w->status;
        const JobState *js = st ? st->job : NULL;
        char completions[32], duration[16] = "-", age[16], names_[512] = "", images[1024] = "";
        const char *cells[7];

        if (w->kind != WORKLOAD_JOB || !wanted(names, n_names, w->name))
            continue;
        snprintf(completions, sizeof(completions), "%u/%u", st ? st->succeeded : 0,
                 st ? st->desired : 0);
        if (js && js->start_unix_ns) {
            int64_t end = js->completion_unix_ns ? js->completion_unix_ns : berth_now_real_ns();

            berthctl_age(berth_now_real_ns() - (end - js->start_unix_ns), duration,
                         sizeof(duration));
        }
        pod_images(w, names_, sizeof(names_), images, sizeof(images));
        cells[0] = w->name;
        cells[1] = js && *js->finished ? js->finished : "Running";
        cells[2] = completions;
        cells[3] = duration;
        cells[4] = berthctl_age(w->created_unix_ns, age, sizeof(age));
        cells[5] = names_;
        cells[6] = images;
        table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 7, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get cronjobs: SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE
 * AGE. */
static size_t print_cronjobs(const ListWorkloadsResponse *r, char **names, int n_names, bool wide,
                             bool all_ns)
{
    static const char *const h[] = { "NAME",   "SCHEDULE",      "TIMEZONE", "SUSPEND",
                                     "ACTIVE", "LAST SCHEDULE", "AGE" };
    berthctl_table *t = table_ns(h, 7, 7, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];
        const WorkloadStatus *st = w->status;
        const CronJobSpec *c = w->cron;
        char active[16], last[16] = "<none>", age[16];
        const char *cells[7];

        if (w->kind != WORKLOAD_CRONJOB || !c || !wanted(names, n_names, w->name))
            continue;
        snprintf(active, sizeof(active), "%u", st ? st->active : 0);
        if (st && st->job && st->job->last_schedule_unix)
            berthctl_age(st->job->last_schedule_unix * 1000000000LL, last, sizeof(last));
        cells[0] = w->name;
        cells[1] = c->schedule;
        cells[2] = *c->time_zone ? c->time_zone : "<none>";
        cells[3] = c->suspend ? "True" : "False";
        cells[4] = active;
        cells[5] = last;
        cells[6] = berthctl_age(w->created_unix_ns, age, sizeof(age));
        table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 7, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

static const char *int_or_percent(const IntOrPercent *v, char *buf, size_t size)
{
    if (!v)
        return "N/A";
    snprintf(buf, size, "%u%s", v->value, v->percent ? "%" : "");
    return buf;
}

/* kubectl get poddisruptionbudgets: MIN AVAILABLE MAX UNAVAILABLE ALLOWED
 * DISRUPTIONS AGE. */
static size_t print_budgets(const ListDisruptionBudgetsResponse *r, char **names, int n_names,
                            bool wide, bool all_ns)
{
    static const char *const h[] = { "NAME", "MIN AVAILABLE", "MAX UNAVAILABLE",
                                     "ALLOWED DISRUPTIONS", "AGE" };
    berthctl_table *t = table_ns(h, 5, 5, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_budgets; i++) {
        const PodDisruptionBudget *b = r->budgets[i];
        char min[16], max[16], allowed[16], age[16];
        const char *cells[5];

        if (!wanted(names, n_names, b->name))
            continue;
        snprintf(allowed, sizeof(allowed), "%u", b->status ? b->status->disruptions_allowed : 0);
        cells[0] = b->name;
        cells[1] = int_or_percent(b->min_available, min, sizeof(min));
        cells[2] = int_or_percent(b->max_unavailable, max, sizeof(max));
        cells[3] = allowed;
        cells[4] = berthctl_age(b->created_unix_ns, age, sizeof(age));
        table_add_ns(t, all_ns, b->namespace_, cells, 5, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get secrets (TYPE DATA AGE) and configmaps (DATA AGE): the
 * keys are counted, no value is shown. */
static size_t print_objects(const ListObjectsResponse *r, char **names, int n_names, bool wide,
                            bool all_ns, bool secrets)
{
    static const char *const hs[] = { "NAME", "TYPE", "DATA", "AGE" };
    static const char *const hc[] = { "NAME", "DATA", "AGE" };
    size_t nh = secrets ? 4 : 3;
    berthctl_table *t = table_ns(secrets ? hs : hc, nh, nh, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_objects; i++) {
        const ConfigObject *o = r->objects[i];
        char data[16], age[16];
        const char *cells[4];
        size_t k = 0;

        if (!wanted(names, n_names, o->name))
            continue;
        snprintf(data, sizeof(data), "%zu", o->n_sizes);
        cells[k++] = o->name;
        if (secrets)
            cells[k++] = o->type;
        cells[k++] = data;
        cells[k++] = berthctl_age(o->created_unix_ns, age, sizeof(age));
        table_add_ns(t, all_ns, o->namespace_, cells, nh, NULL);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get replicasets: each revision of each Deployment, newest first:
 * DESIRED (its replicas), CURRENT (placed), READY; wide: its revision. */
static size_t print_replica_sets(const ListWorkloadsResponse *r, char **names, int n_names,
                                 bool wide, bool all_ns)
{
    static const char *const h[] = { "NAME", "DESIRED", "CURRENT", "READY", "AGE", "REVISION" };
    berthctl_table *t = table_ns(h, 6, 5, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_workloads; i++) {
        const Workload *w = r->workloads[i];

        for (size_t k = 0;
             w->kind == WORKLOAD_DEPLOYMENT && w->status && k < w->status->n_replica_sets; k++) {
            const ReplicaSet *rs = w->status->replica_sets[k];
            char name[128], desired[16], current[16], ready[16], age[16], rev[24];
            const char *cells[6];

            snprintf(name, sizeof(name), "%s%s%s", w->name, *rs->hash ? "-" : "", rs->hash);
            if (!wanted(names, n_names, name))
                continue;
            snprintf(desired, sizeof(desired), "%u", rs->replicas);
            snprintf(current, sizeof(current), "%u", rs->placed);
            snprintf(ready, sizeof(ready), "%u", rs->ready);
            snprintf(rev, sizeof(rev), "%" PRIu64, rs->revision);
            cells[0] = name;
            cells[1] = desired;
            cells[2] = current;
            cells[3] = ready;
            cells[4] = berthctl_age(rs->created_unix_ns, age, sizeof(age));
            cells[5] = rev;
            table_add_ns(t, all_ns, berth_namespace_or_default(w->namespace_), cells, 6, NULL);
            shown++;
        }
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

size_t berthctl_print_containers(const ListContainersResponse *r, char **names, int n_names,
                                 bool wide, bool all_ns)
{
    static const char *const h[] = { "NAME",  "NODE", "WORKLOAD", "STATE", "RESTARTS", "AGE",
                                     "IMAGE", "PID",  "EXIT",     "READY", "REASON" };
    berthctl_table *t = table_ns(h, 11, 6, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_containers; i++) {
        const ContainerInfo *ci = r->containers[i];
        const ContainerStatus *s = ci->status;
        char restarts[16], age[16], pid[16], exitc[24];
        const char *colours[11] = { NULL };
        const char *cells[11];
        /* the controller's containers are named in their namespace */
        const char *name = s && *ci->namespace_ ? berth_id_split(s->id, NULL) : s ? s->id : "";

        if (!s || !wanted(names, n_names, name))
            continue;
        snprintf(restarts, sizeof(restarts), "%u", s->restart_count);
        snprintf(pid, sizeof(pid), s->pid ? "%d" : "-", s->pid);
        if (s->signal)
            snprintf(exitc, sizeof(exitc), "signal %d", s->signal);
        else if (s->state == CONTAINER_EXITED || s->state == CONTAINER_FAILED)
            snprintf(exitc, sizeof(exitc), "%d", s->exit_code);
        else
            snprintf(exitc, sizeof(exitc), "-");
        cells[0] = name;
        cells[1] = ci->node;
        cells[2] = ci->workload;
        /* kubectl's way: a container waiting shows why (ErrImagePull) */
        cells[3] = s->state == CONTAINER_PENDING && *s->reason ? s->reason
                                                               : berthctl_container_state(s->state);
        colours[3] = berthctl_status_colour(cells[3]);
        cells[4] = restarts;
        cells[5] = berthctl_age(s->started_unix_ns ? s->started_unix_ns : s->created_unix_ns, age,
                                sizeof(age));
        cells[6] = ci->spec ? ci->spec->image : "";
        cells[7] = pid;
        cells[8] = exitc;
        cells[9] = s->state != CONTAINER_RUNNING ? "-" : s->ready ? "true" : "false";
        cells[10] = s->reason;
        table_add_ns(t, all_ns, *ci->namespace_ ? ci->namespace_ : "<none>", cells, 11, colours);
        shown++;
    }
    if (shown || !all_ns)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

/* kubectl get pods: NAME READY STATUS RESTARTS AGE (wide: IP NODE
 * WORKLOAD). */
static size_t print_pods(const ListPodsResponse *r, char **names, int n_names, bool wide,
                         bool all_ns)
{
    static const char *const h[] = { "NAME", "READY", "STATUS", "RESTARTS",
                                     "AGE",  "IP",    "NODE",   "WORKLOAD" };
    berthctl_table *t = table_ns(h, 8, 5, wide, all_ns);
    size_t shown = 0;

    for (size_t i = 0; i < r->n_pods; i++) {
        const Pod *p = r->pods[i];
        char ready[32], restarts[16], age[16];
        const char *colours[8] = { NULL };
        const char *cells[8];

        if (!wanted(names, n_names, p->name))
            continue;
        snprintf(ready, sizeof(ready), "%u/%u", p->ready, p->total);
        snprintf(restarts, sizeof(restarts), "%u", p->restarts);
        cells[0] = p->name;
        cells[1] = ready;
        cells[2] = p->status;
        colours[2] = berthctl_status_colour(p->status);
        cells[3] = restarts;
        cells[4] = berthctl_age(p->created_unix_ns, age, sizeof(age));
        cells[5] = *p->ip ? p->ip : "<none>";
        cells[6] = p->node;
        cells[7] = p->workload;
        table_add_ns(t, all_ns, p->namespace_, cells, 8, colours);
        shown++;
    }
    if (shown)
        berthctl_table_print(t, tables());
    berthctl_table_free(t);
    return shown;
}

typedef enum get_kind {
    NODES,
    NAMESPACES,
    WORKLOADS,
    DEPLOYMENTS,
    DAEMONSETS,
    JOBS,
    CRONJOBS,
    REPLICA_SETS,
    BUDGETS,
    SECRETS,
    CONFIGMAPS,
    PODS,
    CONTAINERS
} get_kind;

/* resp as kind's table; how many rows. */
static size_t print_table(get_kind kind, ProtobufCMessage *resp, char **names, int n, bool wide,
                          bool all_ns)
{
    switch (kind) {
    case NODES:
        return print_nodes((ListNodesResponse *)resp, names, n, wide);
    case NAMESPACES:
        return print_namespaces((ListNamespacesResponse *)resp, names, n, wide);
    case DEPLOYMENTS:
        return print_deployments((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case CRONJOBS:
        return print_cronjobs((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case JOBS:
        return print_jobs((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case DAEMONSETS:
        return print_daemonsets((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case SECRETS:
    case CONFIGMAPS:
        return print_objects((ListObjectsResponse *)resp, names, n, wide, all_ns, kind == SECRETS);
    case BUDGETS:
        return print_budgets((ListDisruptionBudgetsResponse *)resp, names, n, wide, all_ns);
    case REPLICA_SETS:
        return print_replica_sets((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case WORKLOADS:
        return print_workloads((ListWorkloadsResponse *)resp, names, n, wide, all_ns);
    case PODS:
        return print_pods((ListPodsResponse *)resp, names, n, wide, all_ns);
    case CONTAINERS:
    default:
        return berthctl_print_containers((ListContainersResponse *)resp, names, n, wide, all_ns);
    }
}

/* ---- get -w ---- */

/* A watch's last round: each row's key (its name, with -A its namespace
 * too) and what it said but its age, which moves on its own. */
typedef struct watch_rows {
    char **keys, **says;
    size_t n;
    bool header_shown;
} watch_rows;

static void watch_rows_clear(watch_rows *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->keys[i]);
        free(w->says[i]);
    }
    free(w->keys);
    free(w->says);
    w->keys = w->says = NULL;
    w->n = 0;
}

/* The columns of a table: where each header cell starts (cells are
 * separated by two spaces or more; a header cell may hold one). */
static size_t header_columns(const char *line, size_t *starts, size_t max)
{
    size_t n = 0, i = 0;

    while (line[i] && n < max) {
        starts[n++] = i;
        while (line[i] && !(line[i] == ' ' && line[i + 1] == ' '))
            i++;
        while (line[i] == ' ')
            i++;
    }
    return n;
}

/* A row's cell i of n (columns at starts), trimmed; "" when empty. */
static char *row_cell(const char *line, const size_t *starts, size_t n, size_t i)
{
    size_t len = strlen(line), from = starts[i], to = i + 1 < n ? starts[i + 1] : len;

    if (from > len)
        from = len;
    if (to > len)
        to = len;
    while (to > from && line[to - 1] == ' ')
        to--;
    return berth_xstrndup(line + from, to - from);
}

/* A round's table (header first): the first round is printed whole, then
 * a row for each object that is new or changed, as kubectl get -w. */
static void watch_round(watch_rows *w, const char *text, bool all_ns, bool first)
{
    watch_rows next = { 0 };
    char *copy = berth_xstrdup(text), *save = NULL;
    size_t starts[32], n_cols = 0, age = SIZE_MAX;
    bool is_header = true;

    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *key, *says, *c0, *c1;
        size_t len = 0, k;
        bool same = false;

        if (is_header) {
            n_cols = header_columns(line, starts, BERTH_ARRAY_SIZE(starts));
            for (size_t i = 0; i < n_cols; i++)
                if (strncmp(line + starts[i], "AGE", 3) == 0 &&
                    (line[starts[i] + 3] == ' ' || !line[starts[i] + 3]))
                    age = i;
            if (!w->header_shown)
                printf("%s\n", line);
            next.header_shown = true;
            is_header = false;
            continue;
        }
        /* the key: its name (with -A, its namespace first) */
        c0 = n_cols ? row_cell(line, starts, n_cols, 0) : berth_xstrdup(line);
        c1 = all_ns && n_cols > 1 ? row_cell(line, starts, n_cols, 1) : berth_xstrdup("");
        key = berth_xasprintf("%s/%s", c0, c1);
        free(c0);
        free(c1);
        /* what it says, but its age */
        says = berth_xmalloc(strlen(line) + n_cols + 1);
        for (size_t i = 0; i < n_cols; i++) {
            char *cell;

            if (i == age)
                continue;
            cell = row_cell(line, starts, n_cols, i);
            memcpy(says + len, cell, strlen(cell));
            len += strlen(cell);
            says[len++] = '\t';
            free(cell);
        }
        says[len] = '\0';
        for (k = 0; k < w->n; k++)
            if (strcmp(w->keys[k], key) == 0) {
                same = strcmp(w->says[k], says) == 0;
                break;
            }
        if (first || !same)
            printf("%s\n", line);
        next.keys = berth_xreallocarray(next.keys, next.n + 1, sizeof(*next.keys));
        next.says = berth_xreallocarray(next.says, next.n + 1, sizeof(*next.says));
        next.keys[next.n] = key;
        next.says[next.n++] = says;
    }
    free(copy);
    fflush(stdout);
    next.header_shown |= w->header_shown;
    watch_rows_clear(w);
    *w = next;
}

/* get -w: the table, then every second the rows that changed, until the
 * operator stops it (or a call fails: its error said, 1). */
static int get_watch(berthctl_ctx *ctx, const char *method, ProtobufCMessage *req, get_kind kind,
                     char **names, int n_names, bool wide)
{
    watch_rows w = { 0 };
    bool first = true;

    for (;;) {
        ProtobufCMessage *resp = NULL;
        char *text = NULL;
        size_t len = 0;

        if (berthctl_call(ctx, method, req, &resp) != 0) {
            watch_rows_clear(&w);
            return 1;
        }
        tables_out = open_memstream(&text, &len);
        if (!tables_out) {
            berth_pb_free(resp);
            watch_rows_clear(&w);
            berthctl_errorf("get -w: %s", strerror(errno));
            return 1;
        }
        print_table(kind, resp, names, n_names, wide, ctx->all_namespaces);
        fclose(tables_out);
        tables_out = NULL;
        berth_pb_free(resp);
        watch_round(&w, text, ctx->all_namespaces, first);
        free(text);
        first = false;
        nanosleep(&(struct timespec){ 1, 0 }, NULL);
    }
}

int berthctl_cmd_get(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' }, { "selector", required_argument, NULL, 'l' },
        { "node", required_argument, NULL, 'N' },   { "workload", required_argument, NULL, 'W' },
        { "show-values", no_argument, NULL, 'V' },  { "watch", no_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    ListNodesRequest nreq = LIST_NODES_REQUEST_INIT;
    ListWorkloadsRequest wreq = LIST_WORKLOADS_REQUEST_INIT;
    ListContainersRequest creq = LIST_CONTAINERS_REQUEST_INIT;
    ListPodsRequest preq = LIST_PODS_REQUEST_INIT;
    ListNamespacesRequest nsreq = LIST_NAMESPACES_REQUEST_INIT;
    ListDisruptionBudgetsRequest breq = LIST_DISRUPTION_BUDGETS_REQUEST_INIT;
    ListObjectsRequest oreq = LIST_OBJECTS_REQUEST_INIT;
    bool show_values = false, watch = false;
    get_kind kind;
    size_t shown = 0;
    ProtobufCMessage *req;
    berthctl_format fmt = BERTHCTL_TABLE;
    ProtobufCMessage *resp = NULL;
    const char *what, *method;
    char *selector = NULL;
    int o, rc = 1;

    while ((o = getopt_long(argc, argv, "o:l:wh", opts, NULL)) != -1) {
        switch (o) {
        case 'w':
            watch = true;
            break;
        case 'o':
            if (berthctl_format_parse(optarg, &fmt) < 0) {
                berthctl_errorf("--output: '%s' is not wide, json or yaml", optarg);
                return BERTHCTL_EXIT_USAGE;
            }
            break;
        case 'l':
            selector = optarg;
            break;
        case 'N':
            creq.node = preq.node = optarg;
            break;
        case 'W':
            creq.workload = preq.workload = optarg;
            break;
        case 'V':
            show_values = true;
            break;
        case 'h':
            get_usage(stdout);
            return 0;
        default:
            get_usage(stderr);
            return BERTHCTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        berthctl_errorf("get what? nodes, namespaces, workloads, pods or containers (see berthctl "
                        "get --help)");
        return BERTHCTL_EXIT_USAGE;
    }
    what = argv[optind++];
    if (strcmp(what, "nodes") == 0 || strcmp(what, "node") == 0 || strcmp(what, "no") == 0) {
        kind = NODES;
        method = "ListNodes";
        req = &nreq.base;
        if (selector && parse_selector(&nreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "namespaces") == 0 || strcmp(what, "namespace") == 0 ||
               strcmp(what, "ns") == 0) {
        kind = NAMESPACES;
        method = "ListNamespaces";
        req = &nsreq.base;
    } else if (strcmp(what, "workloads") == 0 || strcmp(what, "workload") == 0 ||
               strcmp(what, "wl") == 0) {
        kind = WORKLOADS;
        method = "ListWorkloads";
        req = &wreq.base;
        if (selector && parse_selector(&wreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "deployments") == 0 || strcmp(what, "deployment") == 0 ||
               strcmp(what, "deploy") == 0 || strcmp(what, "replicasets") == 0 ||
               strcmp(what, "replicaset") == 0 || strcmp(what, "rs") == 0) {
        kind = what[0] == 'd' ? DEPLOYMENTS : REPLICA_SETS;
        method = "ListWorkloads";
        req = &wreq.base;
        if (selector && parse_selector(&wreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "cronjobs") == 0 || strcmp(what, "cronjob") == 0 ||
               strcmp(what, "cj") == 0) {
        kind = CRONJOBS;
        method = "ListWorkloads";
        req = &wreq.base;
        if (selector && parse_selector(&wreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "jobs") == 0 || strcmp(what, "job") == 0) {
        kind = JOBS;
        method = "ListWorkloads";
        req = &wreq.base;
        if (selector && parse_selector(&wreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "daemonsets") == 0 || strcmp(what, "daemonset") == 0 ||
               strcmp(what, "ds") == 0) {
        kind = DAEMONSETS;
        method = "ListWorkloads";
        req = &wreq.base;
        if (selector && parse_selector(&wreq.base, "label_selector", selector) < 0)
            return BERTHCTL_EXIT_USAGE;
    } else if (strcmp(what, "poddisruptionbudgets") == 0 ||
               strcmp(what, "poddisruptionbudget") == 0 || strcmp(what, "pdb") == 0) {
        kind = BUDGETS;
        method = "ListDisruptionBudgets";
        req = &breq.base;
    } else if (strcmp(what, "secrets") == 0 || strcmp(what, "secret") == 0 ||
               strcmp(what, "configmaps") == 0 || strcmp(what, "configmap") == 0 ||
               strcmp(what, "cm") == 0) {
        kind = what[0] == 's' ? SECRETS : CONFIGMAPS;
        oreq.kind = kind == SECRETS ? CONFIG_SECRET : CONFIG_MAP;
        method = "ListObjects";
        req = &oreq.base;
        /* a Secret's values: one Secret, asked for by name and flag (the
         * controller records who read them) */
        if (show_values && (kind != SECRETS || argc - optind != 1)) {
            berthctl_errorf("--show-values: one Secret, by name");
            return BERTHCTL_EXIT_USAGE;
        }
        if (show_values) {
            oreq.reveal = true;
            oreq.name = argv[optind];
        }
    } else if (strcmp(what, "pods") == 0 || strcmp(what, "pod") == 0 || strcmp(what, "po") == 0) {
        kind = PODS;
        method = "ListPods";
        req = &preq.base;
    } else if (strcmp(what, "containers") == 0 || strcmp(what, "container") == 0 ||
               strcmp(what, "c") == 0) {
        kind = CONTAINERS;
        method = "ListContainers";
        req = &creq.base;
    } else {
        berthctl_errorf("get '%s'? nodes, namespaces, workloads, pods or containers", what);
        return BERTHCTL_EXIT_USAGE;
    }
    if (watch && (fmt == BERTHCTL_JSON || fmt == BERTHCTL_YAML)) {
        berthctl_errorf("--watch: a table or -o wide (berth watches by asking again)");
        return BERTHCTL_EXIT_USAGE;
    }
    if (selector && (kind == PODS || kind == CONTAINERS)) {
        berthctl_errorf("--selector: for nodes and workloads (use --workload for %s)", what);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        goto out;
    wreq.namespace_ = preq.namespace_ = creq.namespace_ = breq.namespace_ = oreq.namespace_ =
        (char *)berthctl_list_namespace(ctx);
    if (show_values && kind != SECRETS) {
        berthctl_errorf("--show-values: for a Secret");
        goto out;
    }
    if (watch) {
        rc = get_watch(ctx, method, req, kind, argv + optind, argc - optind, fmt == BERTHCTL_WIDE);
        goto out;
    }
    if (berthctl_call(ctx, method, req, &resp) != 0)
        goto out;
    rc = 0;
    if (kind == SECRETS && !show_values && (fmt == BERTHCTL_JSON || fmt == BERTHCTL_YAML))
        fprintf(stderr, "berthctl: a Secret's values are left out; add --show-values to see "
                        "one Secret's (the controller records the read)\n");
    if (fmt == BERTHCTL_JSON) {
        berthctl_print_json(resp, stdout);
    } else if (fmt == BERTHCTL_YAML) {
        berthctl_print_yaml(resp, stdout);
    } else {
        shown = print_table(kind, resp, argv + optind, argc - optind, fmt == BERTHCTL_WIDE,
                            ctx->all_namespaces);
        /* kubectl's words when nothing is there */
        if (kind == NODES) {
            /* the header alone says it */
        } else if (!shown && argc > optind) {
            berthctl_errorf("%s \"%s\" not found", what, argv[optind]);
            rc = 1;
        } else if (!shown && (kind == NAMESPACES || ctx->all_namespaces)) {
            fprintf(stderr, "No resources found\n");
        } else if (!shown) {
            fprintf(stderr, "No resources found in %s namespace.\n", berthctl_namespace(ctx));
        }
    }
    berth_pb_free(resp);
out:
    free_map(&nreq.base, "label_selector");
    free_map(&wreq.base, "label_selector");
    return rc;
}
