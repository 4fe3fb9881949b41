/* berth-controller end to end: the real daemon (a child process on ipc://
 * sockets in a temp dir), fake agents speaking the contract on the test's
 * loop, and berthctl as the operator runs it. Every assertion is about what
 * berthctl prints or what the agents were told to run; nothing about how
 * long anything took. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "base/version.h"
#include "berth/proto/v1.h"
#include "check_main.h"
#include "fake_agent.h"
#include "harness.h"
#include "store.h"

#define WAIT_MS 30000

static const char web_yaml[] = "apiVersion: berth/v1\n"
                               "kind: Deployment\n"
                               "metadata: {name: web}\n"
                               "spec:\n"
                               "  replicas: %d\n"
                               "  template:\n"
                               "    spec:\n"
                               "      containers:\n"
                               "      - name: web\n"
                               "        image: busybox\n"
                               "        command: [httpd, -f]\n"
                               "        resources: {requests: {cpu: 100m, memory: 16Mi}}\n";

static const char logs_yaml[] = "apiVersion: apps/v1\n"
                                "kind: DaemonSet\n"
                                "metadata: {name: logs}\n"
                                "spec:\n"
                                "  selector: {matchLabels: {app: logs}}\n"
                                "  template:\n"
                                "    metadata: {labels: {app: logs}}\n"
                                "    spec:\n"
                                "      containers:\n"
                                "      - {name: logs, image: busybox, command: [sleep, '3600']}\n";

static const char bad_yaml[] = "apiVersion: berth/v1\n"
                               "kind: Deployment\n"
                               "metadata: {name: web}\n"
                               "spec:\n"
                               "  replica: 9\n"
                               "  template:\n"
                               "    spec:\n"
                               "      containers:\n"
                               "      - name: web\n"
                               "        image: busybox\n"
                               "        command: [httpd, -f]\n"
                               "        resources: {limits: {memory: 64Mx}}\n";

static harness h;
static fake_agent agents[3];
static int n_agents;

/* Write a file in the harness dir; its path (static buffer per call site
 * is enough: callers copy). */
static char *write_file(const char *name, const char *text)
{
    char *path = NULL;

    ck_assert_int_gt(asprintf(&path, "%s/%s", h.dir, name), 0);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644, NULL), 0);
    return path;
}

static char *web(int replicas)
{
    char text[1024];

    snprintf(text, sizeof(text), web_yaml, replicas);
    return write_file("web.yaml", text);
}

static int count_lines(const char *text)
{
    int n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* ---- agents ---- */

static bool agent_registered(void *data)
{
    return ((fake_agent *)data)->registered;
}

static char *berthctl_out(const char *a0, const char *a1, const char *a2, const char *a3)
{
    const char *args[] = { a0, a1, a2, a3, NULL };

    return harness_berthctl_ok(&h, args);
}

/* The replicas of web's revision: "web-<pod-template-hash>" (the same
 * for every test: web_yaml's template does not change), learnt from get rs
 * once the Deployment is applied. */
static char web_rs[64];

static void learn_web_rs(void)
{
    char *out = berthctl_out("get", "rs", NULL, NULL);
    char *line = strchr(out, '\n');

    ck_assert_msg(line && sscanf(line + 1, "%63s", web_rs) == 1, "%s", out);
    ck_assert_msg(strncmp(web_rs, "web-", 4) == 0, "%s", out);
    free(out);
}

/* Replica i of web: "web-<hash>-<i>" (a static buffer per call site). */
#define WEB(i) (web_id_buf((char[96]){ 0 }, (i)))
static char *web_id_buf(char *buf, int i)
{
    snprintf(buf, 96, "%s-%d", web_rs, i);
    return buf;
}

/* Start agent i, enrolled with a join token made by berthctl, with a zone
 * label when zone is not NULL, and device_count CDI devices of
 * device_kind when that is not NULL. */
static void agent_with(int i, const char *name, int64_t cpu, const char *zone,
                       const char *device_kind, int64_t device_count)
{
    char *token = berthctl_out("join-token", "--description", name, NULL), agent_addr[300];

    token[strcspn(token, "\n")] = '\0';
    snprintf(agent_addr, sizeof(agent_addr), "ipc://%s/agent-%s", h.dir, name);
    fake_agent_start(&agents[i], h.loop, name, h.rpc, h.pub, agent_addr, token, cpu, 4LL << 30);
    /* before it registers: that happens on the loop */
    if (zone) {
        agents[i].label_key = "zone";
        agents[i].label_value = zone;
    }
    agents[i].device_kind = device_kind;
    agents[i].device_count = device_count;
    free(token);
    ck_assert_msg(harness_wait(&h, agent_registered, &agents[i], WAIT_MS), "%s: %s", name,
                  agents[i].last_error);
    n_agents = i + 1 > n_agents ? i + 1 : n_agents;
}

static void agent_in_zone(int i, const char *name, int64_t cpu, const char *zone)
{
    agent_with(i, name, cpu, zone, NULL, 0);
}

static void agent_with_token(int i, const char *name, int64_t cpu)
{
    agent_in_zone(i, name, cpu, NULL);
}

/* A node's STATUS as `berthctl get nodes` shows it ("" if not listed). */
static char *node_status(const char *name)
{
    const char *args[] = { "get", "nodes", NULL };
    char *out = harness_berthctl_ok(&h, args), *status = strdup("");
    table t;

    table_parse(out, &t);
    for (size_t r = 1; r < t.n_rows; r++)
        if (strcmp(t.rows[r][0], name) == 0) {
            free(status);
            status = strdup(t.rows[r][table_col(&t, "STATUS")]);
        }
    table_free(&t);
    free(out);
    return status;
}

typedef struct node_is {
    const char *name, *status;
} node_is;

static bool node_has_status(void *data)
{
    const node_is *q = data;
    char *s = node_status(q->name);
    bool same = strcmp(s, q->status) == 0;

    free(s);
    return same;
}

static bool pending_listed(void *data)
{
    node_is q = { data, "PendingApproval" };

    return node_has_status(&q);
}

/* Start agent i with no token: it waits until berthctl approves it. */
static void agent_with_approval(int i, const char *name)
{
    char agent_addr[300], *out;

    snprintf(agent_addr, sizeof(agent_addr), "ipc://%s/agent-%s", h.dir, name);
    fake_agent_start(&agents[i], h.loop, name, h.rpc, h.pub, agent_addr, NULL, 2000, 4LL << 30);
    ck_assert(harness_wait(&h, pending_listed, (void *)name, WAIT_MS));
    ck_assert(!agents[i].registered);
    ck_assert_ptr_nonnull(strstr(agents[i].last_error, "awaits operator approval"));
    out = berthctl_out("node", "approve", name, NULL);
    ck_assert_str_eq(out, "node/n2 approved\n");
    free(out);
    ck_assert(harness_wait(&h, agent_registered, &agents[i], WAIT_MS));
    n_agents = i + 1 > n_agents ? i + 1 : n_agents;
}

static unsigned running_total(void)
{
    unsigned n = 0;

    for (int i = 0; i < n_agents; i++)
        n += fake_agent_count(&agents[i], CONTAINER_RUNNING);
    return n;
}

typedef struct want {
    unsigned per_agent[3];
} want;

static bool agents_run(void *data)
{
    const want *w = data;

    for (int i = 0; i < n_agents; i++)
        if (fake_agent_count(&agents[i], CONTAINER_RUNNING) != w->per_agent[i] ||
            fake_agent_count(&agents[i], 0) != w->per_agent[i])
            return false;
    return true;
}

/* berthctl's table (minus some columns) becomes what is wanted. */
typedef struct table_want {
    const char *const *args;
    const char *const *drop;
    const char *text;
} table_want;

static bool table_is(void *data)
{
    const table_want *tw = data;
    char *out = harness_berthctl_ok(&h, tw->args), *t = table_without(out, tw->drop);
    bool same = strcmp(t, tw->text) == 0;

    free(out);
    free(t);
    return same;
}

static bool output_has(void *data)
{
    const char *const *q = data; /* args..., NULL, needle */
    size_t n = 0;
    char *out;
    bool found;

    while (q[n])
        n++;
    out = harness_berthctl_ok(&h, q);
    found = strstr(out, q[n + 1]) != NULL;
    free(out);
    return found;
}

/* `berthctl top` shows a CPU figure and the memory for this container. */
static bool top_knows_cpu(void *data)
{
    const char *args[] = { "top", NULL };
    char *out = harness_berthctl_ok(&h, args);
    bool known = false;
    table t;

    table_parse(out, &t);
    for (size_t r = 1; r < t.n_rows; r++)
        if (strcmp(t.rows[r][0], data) == 0)
            known = strcmp(t.rows[r][table_col(&t, "CPU")], "-") != 0 &&
                    strcmp(t.rows[r][table_col(&t, "MEMORY")], "20Mi") == 0 &&
                    strcmp(t.rows[r][table_col(&t, "WORKLOAD")], "web") == 0;
    table_free(&t);
    free(out);
    return known;
}

static void setup_with(const char *const *args)
{
    harness_init(&h, args);
    memset(agents, 0, sizeof(agents));
    n_agents = 0;
    harness_start_controller(&h);
}

static const char *const steady[] = {
    "--heartbeat-min-interval", "200ms", "--heartbeat-misses", "20", "--down-grace", "60s", NULL
};

static void teardown(void)
{
    for (int i = 0; i < n_agents; i++)
        if (agents[i].loop)
            fake_agent_stop(&agents[i]);
    harness_free(&h);
}

/* ---- a Deployment of 4 on 2 nodes, then deleted ---- */

START_TEST(deployment_spreads_over_two_nodes_and_is_deleted)
{
    const char *get_containers[] = { "get", "containers", NULL };
    const char *drop_age[] = { "AGE", NULL };
    want two_each = { { 2, 2 } }, none = { { 0, 0 } };
    char *path, *out, *err = NULL;
    table t;
    int node_col, state_col, on_n1 = 0;

    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    agent_with_approval(1, "n2");
    out = berthctl_out("get", "nodes", NULL, NULL);
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 3);
    ck_assert_str_eq(t.rows[1][0], "n1");
    ck_assert_str_eq(t.rows[1][1], "Ready");
    ck_assert_str_eq(t.rows[2][0], "n2");
    ck_assert_str_eq(t.rows[2][1], "Ready");
    ck_assert_str_eq(t.rows[1][3], "0/2"); /* CPU: nothing allocated of 2 */
    table_free(&t);
    free(out);
    /* protobuf's JSON mapping: 64-bit integers as strings, 32-bit ones as
     * numbers, enums by name; YAML from the same tree */
    out = berthctl_out("get", "nodes", "-o", "json");
    ck_assert_msg(strstr(out, "\"memoryBytes\": \"4294967296\""), "%s", out);
    ck_assert_msg(strstr(out, "\"cpuMillis\": \"2000\""), "%s", out);
    ck_assert_msg(strstr(out, "\"phase\": \"NODE_READY\""), "%s", out);
    ck_assert_msg(strstr(out, "\"cgroupVersion\": "), "%s", out);
    ck_assert_msg(!strstr(out, "\"cgroupVersion\": \""), "%s", out);
    free(out);
    out = berthctl_out("get", "nodes", "-o", "yaml");
    ck_assert_msg(strstr(out, "memoryBytes: \"4294967296\"\n"), "%s", out);
    ck_assert_msg(strstr(out, "  - info:\n      name: n1\n"), "%s", out);
    free(out);

    /* apply --wait shows progress until all four run */
    path = web(4);
    {
        const char *args[] = { "apply", "-f", path, "--wait", "--wait-timeout", "60s", NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
    }
    ck_assert_msg(strncmp(out, "deployment/web created\n", 23) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "web: 4/4 running\n"));
    free(out);
    free(err);
    learn_web_rs();
    ck_assert(harness_wait(&h, agents_run, &two_each, WAIT_MS));
    ck_assert_uint_eq(agents[0].starts, 2);
    ck_assert_uint_eq(agents[1].starts, 2);

    /* what the operator sees: 2 per node, all Running */
    out = harness_berthctl_ok(&h, get_containers);
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 5);
    node_col = table_col(&t, "NODE");
    state_col = table_col(&t, "STATE");
    for (size_t r = 1; r < t.n_rows; r++) {
        ck_assert_str_eq(t.rows[r][state_col], "Running");
        on_n1 += strcmp(t.rows[r][node_col], "n1") == 0;
    }
    ck_assert_int_eq(on_n1, 2);
    table_free(&t);
    free(out);
    out = berthctl_out("get", "workloads", NULL, NULL);
    ck_assert_ptr_nonnull(strstr(out, "web    Deployment   4/4     4  "));
    free(out);
    out = berthctl_out("get", "nodes", NULL, NULL);
    table_parse(out, &t);
    ck_assert_str_eq(t.rows[1][2], "2/2"); /* CONTAINERS running/assigned */
    ck_assert_str_eq(t.rows[1][3], "200m/2");
    ck_assert_str_eq(t.rows[1][4], "32Mi/4Gi");
    table_free(&t);
    free(out);

    /* logs come from the node that runs the container */
    out = berthctl_out("logs", WEB(0), NULL, NULL);
    {
        const char *node = fake_agent_has(&agents[0], WEB(0)) ? "n1" : "n2";
        char want_text[512];

        snprintf(want_text, sizeof(want_text),
                 "%s-0 says hello 1 from %s\n%s-0 says hello 2 from %s\n%s-0 says hello 3 from "
                 "%s\n",
                 web_rs, node, web_rs, node, web_rs, node);
        ck_assert_str_eq(out, want_text);
    }
    free(out);

    /* stop one, through its node: Exited, and it stays so */
    out = berthctl_out("stop", WEB(1), NULL, NULL);
    {
        char want_text[160];

        snprintf(want_text, sizeof(want_text), "container/%s-1 stopped: Exited, Stopped\n", web_rs);
        ck_assert_str_eq(out, want_text);
    }
    free(out);
    {
        const char *q[] = { "get", "containers", NULL, "Exited" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
    }
    {
        const char *args[] = { "stop", "web-9", NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
        ck_assert_str_eq(err, "berthctl: container web-9 not found\n");
        free(out);
        free(err);
    }

    /* the fleet survey: both answer */
    out = berthctl_out("health", NULL, NULL, NULL);
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 3);
    ck_assert_str_eq(t.rows[1][0], "n1");
    ck_assert_str_eq(t.rows[1][1], "yes");
    ck_assert_str_eq(t.rows[2][1], "yes");
    table_free(&t);
    free(out);

    /* top: once two metrics rounds arrived, CPU is known */
    ck_assert(harness_wait(&h, top_knows_cpu, WEB(0), WAIT_MS));

    /* delete: gone from the nodes and from every listing */
    out = berthctl_out("delete", "web", NULL, NULL);
    ck_assert_str_eq(out, "deployment/web deleted\n");
    free(out);
    ck_assert(harness_wait(&h, agents_run, &none, WAIT_MS));
    ck_assert_uint_eq(agents[0].stops + agents[1].stops, 5); /* 4, and web-1 once before */
    {
        table_want tw = { get_containers, drop_age, "NAME|NODE|WORKLOAD|STATE|RESTARTS|\n" };
        /* and from top, once the nodes' next metrics rounds lack them */
        const char *top[] = { "top", "containers", NULL }, *no_drop[] = { NULL };
        table_want tw_top = { top, no_drop, "NAME|NODE|WORKLOAD|CPU|MEMORY|PIDS|\n" };

        ck_assert(harness_wait(&h, table_is, &tw, WAIT_MS));
        ck_assert(harness_wait(&h, table_is, &tw_top, WAIT_MS));
    }
    /* none left: as kubectl, nothing on stdout (and "No resources found in
     * default namespace." on stderr) */
    out = berthctl_out("get", "workloads", NULL, NULL);
    ck_assert_int_eq(count_lines(out), 0);
    free(out);
    /* deleting what is not there */
    {
        const char *args[] = { "delete", "web", NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
        ck_assert_str_eq(err, "berthctl: workload web not found\n");
        free(out);
        free(err);
    }
    free(path);
}
END_TEST

/* ---- kill -9 the controller: nothing acknowledged is lost ---- */

static bool no_call_in_flight(void *data)
{
    return ((fake_agent *)data)->inflight == 0;
}

/* A full report taken before an event the controller already has must not
 * undo it: rpc and stream keep no order between them (controller.proto,
 * ReportStatusRequest.stream_seq). */
START_TEST(an_older_report_does_not_undo_a_newer_event)
{
    const char *args[] = { "get", "containers", NULL, NULL };
    const char *exited[] = { "get", "containers", NULL, "Exited" };
    fake_snapshot *before = calloc(1, sizeof(*before));
    want one = { { 1, 0 } };
    char *out, *path;

    ck_assert_ptr_nonnull(before);
    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    path = web(1);
    free(berthctl_out("apply", "-f", path, NULL));
    ck_assert(harness_wait(&h, agents_run, &one, WAIT_MS));
    learn_web_rs();
    args[3] = WEB(0);
    ck_assert(harness_wait(&h, output_has, (void *)args, WAIT_MS));
    {
        const char *running[] = { "get", "containers", NULL, "Running" };

        ck_assert(harness_wait(&h, output_has, (void *)running, WAIT_MS));
    }
    /* the picture with web-0 Running, then web-0 exits and the controller
     * takes the event in; then the older picture arrives */
    fake_agent_snapshot(&agents[0], before);
    ck_assert(fake_agent_exit(&agents[0], WEB(0), 3));
    ck_assert(harness_wait(&h, output_has, (void *)exited, WAIT_MS));
    fake_agent_report_snapshot(&agents[0], before);
    ck_assert(harness_wait(&h, no_call_in_flight, &agents[0], WAIT_MS));
    /* refused (ABORTED), and the fake sent a fresh picture at once */
    ck_assert_uint_eq(agents[0].aborted_reports, 1);
    ck_assert_int_eq(agents[0].last_code, 0);
    out = berthctl_out("get", "containers", NULL, NULL);
    ck_assert_msg(strstr(out, "Exited") && !strstr(out, "Running"), "%s", out);
    free(out);
    /* a picture taken now is current: taken in as it is */
    fake_agent_snapshot(&agents[0], before);
    before->status[0].exit_code = 4; /* what only the report says */
    before->status[0].state = CONTAINER_FAILED;
    /* (the agent agrees, or its next heartbeat would ask for a picture of
     * its own and undo this one before it is looked at) */
    fake_agent_adopt_snapshot(&agents[0], before);
    fake_agent_report_snapshot(&agents[0], before);
    ck_assert(harness_wait(&h, no_call_in_flight, &agents[0], WAIT_MS));
    ck_assert_uint_eq(agents[0].aborted_reports, 1);
    out = berthctl_out("get", "containers", NULL, NULL);
    ck_assert_msg(strstr(out, "Failed"), "%s", out);
    free(out);
    free(path);
    free(before);
}
END_TEST

START_TEST(kill_9_and_restart_keeps_the_fleet)
{
    const char *get_nodes[] = { "get", "nodes", NULL };
    const char *get_workloads[] = { "get", "workloads", NULL };
    const char *get_containers[] = { "get", "containers", "-o", "wide", NULL };
    const char *drop_age[] = { "AGE", NULL };
    char *before[3], *out;
    const char *const *lists[3] = { get_nodes, get_workloads, get_containers };
    want three_each = { { 3, 3 } }, four_each = { { 4, 4 } };
    unsigned starts[2];
    char *path;

    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    agent_with_token(1, "n2", 2000);
    path = web(4);
    out = berthctl_out("apply", "-f", path, NULL);
    free(out);
    free(path);
    path = write_file("logs.yaml", logs_yaml);
    out = berthctl_out("apply", "-f", path, NULL);
    ck_assert_str_eq(out, "daemonset/logs created\n");
    free(out);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &three_each, WAIT_MS));
    /* the controller's view has settled: everything reported Running */
    {
        const char *q[] = { "get", "workloads", NULL, "logs   DaemonSet    2/2" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
        q[3] = "web    Deployment   4/4";
        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
    }
    for (int i = 0; i < 3; i++) {
        out = harness_berthctl_ok(&h, lists[i]);
        before[i] = table_without(out, drop_age);
        free(out);
    }
    starts[0] = agents[0].starts;
    starts[1] = agents[1].starts;

    harness_kill_controller(&h, SIGKILL);
    harness_start_controller(&h);

    /* the same nodes, workloads and containers, from the store */
    for (int i = 0; i < 3; i++) {
        table_want tw = { lists[i], drop_age, before[i] };

        ck_assert_msg(harness_wait(&h, table_is, &tw, WAIT_MS), "berthctl %s %s changed: was\n%s",
                      lists[i][0], lists[i][1], before[i]);
        free(before[i]);
    }
    /* and the agents carried on: nothing started or stopped again */
    harness_run(&h, 1000);
    ck_assert_uint_eq(agents[0].starts, starts[0]);
    ck_assert_uint_eq(agents[1].starts, starts[1]);
    ck_assert_uint_eq(agents[0].stops + agents[1].stops, 0);
    ck_assert_uint_eq(agents[0].registrations, 1);

    /* the restarted controller drives them as before */
    path = web(6);
    out = berthctl_out("apply", "-f", path, NULL);
    ck_assert_str_eq(out, "deployment/web configured\n");
    free(out);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &four_each, WAIT_MS));
    ck_assert_uint_eq(agents[0].starts + agents[1].starts, starts[0] + starts[1] + 2);
}
END_TEST

/* ---- a malformed manifest: the exact error, and nothing changes ---- */

START_TEST(malformed_manifest_changes_nothing)
{
    const char *get_workloads[] = { "get", "workloads", "-o", "wide", NULL };
    const char *get_containers[] = { "get", "containers", NULL };
    const char *drop_age[] = { "AGE", NULL };
    char *path, *bad, *out, *err, *w_before, *c_before, dir[600];
    want two = { { 2 } };
    unsigned starts;

    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    path = web(2);
    out = berthctl_out("apply", "-f", path, NULL);
    free(out);
    ck_assert(harness_wait(&h, agents_run, &two, WAIT_MS));
    out = harness_berthctl_ok(&h, get_workloads);
    w_before = table_without(out, drop_age);
    free(out);
    out = harness_berthctl_ok(&h, get_containers);
    c_before = table_without(out, drop_age);
    free(out);
    starts = agents[0].starts;

    bad = write_file("bad.yaml", bad_yaml);
    {
        const char *args[] = { "apply", "-f", bad, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
    }
    ck_assert_str_eq(out, "");
    {
        /* The file as the operator named it. */
        char expected[2048];

        snprintf(expected, sizeof(expected),
                 "berthctl: %s:5:3: spec.replica: unknown field (did you mean replicas?)\n"
                 "%s:12:38: spec.template.spec.containers[0].resources.limits.memory: memory "
                 "quantity '64Mx': unknown suffix 'Mx' (expected one of m, k, M, G, T, P, E, Ki, "
                 "Mi, Gi, Ti, Pi, Ei)\n",
                 bad, bad);
        ck_assert_str_eq(err, expected);
    }
    free(out);
    free(err);

    /* a directory with a good file and a bad one: neither is applied */
    snprintf(dir, sizeof(dir), "%s/manifests", h.dir);
    ck_assert_int_eq(berth_mkdir_p(dir, 0755, NULL), 0);
    {
        char *p1 = write_file("manifests/a-api.yaml",
                              "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: api}\n"
                              "spec: {containers: [{name: api, image: busybox, command: [x]}]}\n");
        char *p2 = write_file("manifests/b-bad.yaml", bad_yaml);
        const char *args[] = { "apply", "-f", dir, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
        ck_assert_str_eq(out, "");
        ck_assert_ptr_nonnull(
            strstr(err, "/manifests/b-bad.yaml:5:3: spec.replica: unknown field"));
        free(out);
        free(err);
        free(p1);
        free(p2);
    }
    /* a dry run of the good one changes nothing either */
    {
        const char *args[] = { "apply", "--dry-run", "-f", path, NULL };
        char *p = web(3);

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
        ck_assert_str_eq(out, "deployment/web configured (dry run)\n");
        free(out);
        free(err);
        free(p);
    }

    /* nothing changed: what get shows, what the node runs */
    harness_run(&h, 500);
    out = harness_berthctl_ok(&h, get_workloads);
    err = table_without(out, drop_age);
    ck_assert_str_eq(err, w_before);
    free(out);
    free(err);
    out = harness_berthctl_ok(&h, get_containers);
    err = table_without(out, drop_age);
    ck_assert_str_eq(err, c_before);
    free(out);
    free(err);
    ck_assert_uint_eq(agents[0].starts, starts);
    ck_assert_uint_eq(fake_agent_count(&agents[0], 0), 2);
    free(w_before);
    free(c_before);
    free(path);
    free(bad);
}
END_TEST

/* ---- a node is Down: its replicas move; back, it is fenced ---- */

static const char *const fast[] = {
    "--heartbeat-min-interval", "100ms", "--heartbeat-misses", "3", "--down-grace", "500ms", NULL
};

/* Every web replica runs on exactly one agent, and n3 runs none. */
static bool fenced(void *data)
{
    (void)data;
    for (int r = 0; r < 3; r++) {
        char id[96];
        int where = 0;

        snprintf(id, sizeof(id), "%s-%d", web_rs, r);
        for (int i = 0; i < n_agents; i++)
            where += fake_agent_has(&agents[i], id);
        if (where != 1)
            return false;
    }
    return fake_agent_count(&agents[2], 0) == 0;
}

static bool n3_replica_elsewhere(void *data)
{
    const char *id = data;

    return fake_agent_has(&agents[0], id) || fake_agent_has(&agents[1], id);
}

START_TEST(down_node_replicas_move_and_the_node_is_fenced)
{
    want one_each = { { 1, 1, 1 } };
    const char *moved_id = NULL;
    char *path, *out;

    setup_with(fast);
    agent_with_token(0, "n1", 2000);
    agent_with_token(1, "n2", 2000);
    agent_with_token(2, "n3", 2000);
    path = web(3);
    out = berthctl_out("apply", "-f", path, NULL);
    free(out);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &one_each, WAIT_MS));
    learn_web_rs();
    moved_id = agents[2].containers[0].id;
    {
        const char *q[] = { "top", "nodes", NULL, "n3" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS)); /* its figures came */
    }

    /* n3 is cut off: Unknown, then Down, and its replica moves */
    agents[2].paused = true;
    {
        node_is q = { "n3", "Down" };

        ck_assert(harness_wait(&h, node_has_status, &q, WAIT_MS));
    }
    ck_assert(harness_wait(&h, n3_replica_elsewhere, (void *)moved_id, WAIT_MS));
    ck_assert(fake_agent_has(&agents[2], moved_id)); /* it knows nothing yet */
    /* top shows no figures of a node that stopped reporting */
    out = berthctl_out("top", "nodes", NULL, NULL);
    ck_assert_msg(!strstr(out, "n3"), "%s", out);
    free(out);
    {
        const char *q[] = { "get", "workloads", NULL, "web    Deployment   3/3" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
    }

    /* the partition heals: n3 hears its new generation and stops the stale
     * replica, so every replica runs once */
    agents[2].paused = false;
    ck_assert(harness_wait(&h, fenced, NULL, WAIT_MS));
    ck_assert_uint_eq(running_total(), 3);
    {
        const char *q[] = { "describe", "node", "n3", NULL, "Fenced" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
    }
    {
        node_is q = { "n3", "Ready" };

        ck_assert(harness_wait(&h, node_has_status, &q, WAIT_MS));
    }
}
END_TEST

/* ---- a restarted controller waits for the agents that back off ---- */

START_TEST(restart_waits_for_agents_backing_off)
{
    want one_each = { { 1, 1 } };
    unsigned starts[2];
    char *path, *out;

    setup_with(fast);
    agent_with_token(0, "n1", 2000);
    agent_with_token(1, "n2", 2000);
    path = web(2);
    out = berthctl_out("apply", "-f", path, NULL);
    free(out);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &one_each, WAIT_MS));
    starts[0] = agents[0].starts;
    starts[1] = agents[1].starts;

    /* While the controller is away its agents back off, up to
     * BERTH_AGENT_RETRY_GAP_MAX_MS between attempts: n2's next attempt
     * comes long after one lease and grace (here 0.8 s) from the restart.
     * It is fine, and must not be declared Down for it. */
    harness_kill_controller(&h, SIGKILL);
    agents[1].paused = true;
    harness_start_controller(&h);
    harness_run(&h, 3000);
    out = node_status("n2");
    ck_assert_str_eq(out, "Ready");
    free(out);
    ck_assert_uint_eq(fake_agent_count(&agents[0], 0), 1);

    /* its next attempt finds everything as it was */
    agents[1].paused = false;
    harness_run(&h, 1000);
    ck_assert(agents_run(&one_each));
    ck_assert_uint_eq(agents[0].starts, starts[0]);
    ck_assert_uint_eq(agents[1].starts, starts[1]);
    ck_assert_uint_eq(agents[0].stops + agents[1].stops, 0);
}
END_TEST

/* ---- the fleet survey names the node that does not answer ---- */

START_TEST(health_names_the_silent_node_and_drain_moves_replicas)
{
    want two_on_n1 = { { 2, 0 } };
    char *path, *out, *err;
    table t;

    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    agent_with_token(1, "n2", 2000);
    path = web(2);
    out = berthctl_out("apply", "-f", path, NULL);
    free(out);
    free(path);

    /* drain n2: its replica goes to n1; uncordon does not move it back */
    out = berthctl_out("node", "drain", "n2", NULL);
    ck_assert_msg(strstr(out, "node/n2 cordoned\n") && strstr(out, " evicted (Ready on n1)\n") &&
                      strstr(out, "node/n2 drained\n"),
                  "%s", out);
    free(out);
    ck_assert(harness_wait(&h, agents_run, &two_on_n1, WAIT_MS));
    out = node_status("n2");
    ck_assert_str_eq(out, "Ready,Drained");
    free(out);
    out = berthctl_out("node", "uncordon", "n2", NULL);
    free(out);

    fake_agent_stop(&agents[1]);
    {
        const char *args[] = { "health", "--wait", "1s", NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
    }
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 3);
    ck_assert_str_eq(t.rows[1][0], "n1");
    ck_assert_str_eq(t.rows[1][1], "yes");
    ck_assert_str_eq(t.rows[2][0], "n2");
    ck_assert_str_eq(t.rows[2][1], "missing");
    ck_assert_str_eq(t.rows[2][table_col(&t, "PROBLEMS")], "did not answer within 1s");
    table_free(&t);
    free(out);
    free(err);
}
END_TEST

/* ---- drain within a disruption budget ---- */

static const char budget_yaml[] = "apiVersion: apps/v1\n"
                                  "kind: Deployment\n"
                                  "metadata: {name: api}\n"
                                  "spec:\n"
                                  "  replicas: 3\n"
                                  "  selector: {matchLabels: {app: api}}\n"
                                  "  template:\n"
                                  "    metadata: {labels: {app: api}}\n"
                                  "    spec:\n"
                                  "      containers:\n"
                                  "      - {name: api, image: busybox, command: [httpd, -f]}\n"
                                  "---\n"
                                  "apiVersion: policy/v1\n"
                                  "kind: PodDisruptionBudget\n"
                                  "metadata: {name: api}\n"
                                  "spec:\n"
                                  "  maxUnavailable: 1\n"
                                  "  selector:\n"
                                  "    matchExpressions:\n"
                                  "    - {key: app, operator: In, values: [api]}\n";

static const char bare_yaml[] = "apiVersion: v1\n"
                                "kind: Pod\n"
                                "metadata: {name: solo}\n"
                                "spec:\n"
                                "  containers:\n"
                                "  - {name: solo, image: busybox, command: [sleep, '3600']}\n";

static bool three_ready(void *data)
{
    const char *args[] = { "get", "pdb", "api", NULL };
    char *out = harness_berthctl_ok(&h, args);
    bool ok;
    table t;

    (void)data;
    table_parse(out, &t);
    ok = t.n_rows == 2 && strcmp(t.rows[1][table_col(&t, "ALLOWED DISRUPTIONS")], "1") == 0;
    table_free(&t);
    free(out);
    return ok;
}

START_TEST(drain_evicts_one_budget_step_at_a_time)
{
    want all_on_n1 = { { 5, 1 } }, moved = { { 1, 5 } };
    const char *with_ds[] = { "drain", "n1", NULL };
    const char *bare[] = { "drain", "n1", "--ignore-daemonsets", "--timeout", "1m", NULL };
    const char *full[] = { "node",    "drain",     "n1", "--ignore-daemonsets",
                           "--force", "--timeout", "1m", NULL };
    char *path, *out, *err;
    table t;

    setup_with(steady);
    agent_with_token(0, "n1", 4000);
    agent_with_token(1, "n2", 4000);
    /* everything on n1: n2 cordoned while they are placed */
    free(berthctl_out("cordon", "n2", NULL, NULL));
    path = write_file("api.yaml", budget_yaml);
    out = berthctl_out("apply", "-f", path, NULL);
    ck_assert_str_eq(out, "deployment/api created\npoddisruptionbudget/api created\n");
    free(out);
    free(path);
    path = write_file("logs.yaml", logs_yaml);
    free(berthctl_out("apply", "-f", path, NULL));
    free(path);
    path = write_file("solo.yaml", bare_yaml);
    free(berthctl_out("apply", "-f", path, NULL));
    free(path);
    ck_assert(harness_wait(&h, agents_run, &all_on_n1, WAIT_MS));
    ck_assert(harness_wait(&h, three_ready, NULL, WAIT_MS));
    free(berthctl_out("uncordon", "n2", NULL, NULL));

    /* kubectl's refusals, before anything is evicted: a DaemonSet's pod
     * and a pod of no controller */
    ck_assert_int_eq(harness_berthctl(&h, &out, &err, with_ds), 1);
    ck_assert_str_eq(out, "node/n1 cordoned\n");
    ck_assert_msg(strstr(err, "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to "
                              "ignore): default/logs.n1, cannot delete Pods declare no "
                              "controller (use --force to override): default/solo-0"),
                  "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(harness_berthctl(&h, &out, &err, bare), 1);
    ck_assert_str_eq(out, "node/n1 already cordoned\n");
    ck_assert_msg(!strstr(err, "DaemonSet") &&
                      strstr(err, "cannot delete Pods declare no controller (use --force to "
                                  "override): default/solo-0"),
                  "%s", err);
    free(out);
    free(err);
    ck_assert_uint_eq(fake_agent_count(&agents[0], 0), 5);

    /* the drain: api's pods leave one at a time (the second eviction of
     * the first round is refused: the first one's replacement is not
     * Ready yet), the bare pod moves too, the DaemonSet's stays */
    ck_assert_int_eq(harness_berthctl(&h, &out, &err, full), 0);
    ck_assert_msg(strstr(err, "Cannot evict pod as it would violate the pod's disruption "
                              "budget \"api\" (2 of 3 pods healthy, 2 needed)"),
                  "%s", err);
    ck_assert_msg(strstr(err, "Warning: evicting Pods that declare no controller"), "%s", err);
    ck_assert_msg(strstr(out, "node/n1 already cordoned\n") &&
                      strstr(out, "pod/solo-0 evicted (Ready on n2)\n") &&
                      strstr(out, "node/n1 drained\n"),
                  "%s", out);
    for (int i = 0; i < 3; i++) {
        char line[128];

        snprintf(line, sizeof(line), "evicted (Ready on n2)");
        ck_assert_msg(strstr(out, line), "%s", out);
    }
    ck_assert_int_eq(count_lines(out), 1 + 4 + 4 + 1);
    free(out);
    free(err);
    ck_assert(harness_wait(&h, agents_run, &moved, WAIT_MS));
    ck_assert(harness_wait(&h, three_ready, NULL, WAIT_MS));
    /* the events say who evicted what under which budget */
    out = berthctl_out("describe", "deployment", "api", NULL);
    ck_assert_msg(strstr(out, "evicted from node n1 by operator admin under "
                              "PodDisruptionBudget api"),
                  "%s", out);
    free(out);
    out = berthctl_out("describe", "pdb", "api", NULL);
    ck_assert_msg(strstr(out, "Max unavailable:") && strstr(out, "Selector:       app in (api)") &&
                      strstr(out, "Allowed disruptions:  1"),
                  "%s", out);
    free(out);
    out = berthctl_out("get", "pdb", NULL, NULL);
    table_parse(out, &t);
    ck_assert_str_eq(t.rows[1][table_col(&t, "MIN AVAILABLE")], "N/A");
    ck_assert_str_eq(t.rows[1][table_col(&t, "MAX UNAVAILABLE")], "1");
    table_free(&t);
    free(out);
    /* versions: this build's, client and controller (kubectl version's
     * shape) */
    out = berthctl_out("version", NULL, NULL, NULL);
    {
        char versions[256];

        snprintf(versions, sizeof(versions), "Client Version: %s\nServer Version: %s\n",
                 berth_version(), berth_version());
        ck_assert_str_eq(out, versions);
    }
    free(out);
    /* deleted by kind */
    out = berthctl_out("delete", "pdb", "api", NULL);
    ck_assert_str_eq(out, "poddisruptionbudget/api deleted\n");
    free(out);
}
END_TEST

/* ---- who may do what ---- */

/* A sync call of the Controller service from a fake agent's client. */
static int agent_call(fake_agent *a, const char *method, const ProtobufCMessage *req, char **msg)
{
    berth_rpc_result r = { 0 };
    int code;

    /* after a controller restart, the first call under the old session
     * times out and the next makes a new one */
    for (int tries = 0; tries < 3; tries++) {
        berth_rpc_result_clear(&r);
        ck_assert_int_eq(berth_rpc_client_call_sync(a->client, &controller_descriptor, method, req,
                                                    3000, &r, NULL),
                         0);
        if (r.code != CODE_DEADLINE_EXCEEDED)
            break;
    }
    code = r.code;
    *msg = r.message ? strdup(r.message) : NULL;
    berth_rpc_result_clear(&r);
    return code;
}

START_TEST(operators_and_nodes_stay_in_their_roles)
{
    char key_alice[600], pub_alice[600], key_bob[600], *out, *err, *msg = NULL, expected[512];
    ListNodesRequest ln = LIST_NODES_REQUEST_INIT;
    RegisterRequest rr = REGISTER_REQUEST_INIT;
    NodeInfo info = NODE_INFO_INIT;

    setup_with(steady);
    agent_with_token(0, "n1", 2000);
    /* an operator key made with keygen, installed in the operators dir */
    snprintf(key_alice, sizeof(key_alice), "%s/alice.key", h.dir);
    snprintf(pub_alice, sizeof(pub_alice), "%s/state/operators/alice.pub", h.dir);
    snprintf(key_bob, sizeof(key_bob), "%s/bob.key", h.dir);
    {
        const char *a[] = { "keygen",  "--operator", "alice",   "--out",
                            key_alice, "--pub",      pub_alice, NULL };
        const char *b[] = { "keygen", "--operator", "bob", "--out", key_bob, NULL };

        free(harness_berthctl_ok(&h, a));
        free(harness_berthctl_ok(&h, b));
    }
    harness_kill_controller(&h, SIGTERM);
    harness_start_controller(&h);
    {
        const char *a[] = { "--key", key_alice, "--operator", "alice", "get", "nodes", NULL };

        out = harness_berthctl_ok(&h, a);
        ck_assert_ptr_nonnull(strstr(out, "n1 "));
        free(out);
    }
    {
        const char *b[] = { "--key", key_bob, "--operator", "bob", "get", "nodes", NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, b), 1);
        ck_assert_str_eq(out, "");
        ck_assert_msg(strstr(err, "refused us: operator bob: key ") &&
                          strstr(err, " is not known here\n"),
                      "%s", err);
        free(out);
        free(err);
    }
    /* a node may not act as an operator, nor register as another node */
    ck_assert_int_eq(agent_call(&agents[0], "ListNodes", &ln.base, &msg), CODE_PERMISSION_DENIED);
    ck_assert_str_eq(msg, "node n1 may not call berth.v1.Controller/ListNodes");
    free(msg);
    /* nor run commands in containers: exec is for operators */
    {
        ExecStart ex = EXEC_START_INIT;
        DuplexExchange dx = DUPLEX_EXCHANGE_INIT;
        char *cmd[] = { "sh" };

        ex.container_id = "web-0";
        ex.command = cmd;
        ex.n_command = 1;
        ck_assert_int_eq(agent_call(&agents[0], "Exec", &ex.base, &msg), CODE_PERMISSION_DENIED);
        ck_assert_str_eq(msg, "node n1 may not call berth.v1.Controller/Exec");
        free(msg);
        /* and no stream of anyone else's answers a node */
        dx.stream = 1;
        ck_assert_int_eq(agent_call(&agents[0], "Exchange", &dx.base, &msg), CODE_NOT_FOUND);
        free(msg);
    }
    info.name = "n2";
    rr.node = &info;
    ck_assert_int_eq(agent_call(&agents[0], "Register", &rr.base, &msg), CODE_PERMISSION_DENIED);
    ck_assert_str_eq(msg, "node n1 may not register as n2");
    free(msg);
    /* a bad address in what a node reports is refused, not kept */
    info.name = "n1";
    info.agent_address = "http://evil";
    ck_assert_int_eq(agent_call(&agents[0], "Register", &rr.base, &msg), CODE_INVALID_ARGUMENT);
    snprintf(expected, sizeof(expected),
             "node.agent_address: address 'http://evil': expected tcp://HOST:PORT or ipc://PATH");
    ck_assert_str_eq(msg, expected);
    free(msg);
}
END_TEST

/* ---- nodeSelector and label filters ---- */

START_TEST(node_selectors_place_and_labels_filter)
{
    want both_on_n1 = { { 2, 0 } };
    char *path, *out, *err;
    table t;

    setup_with(steady);
    agent_in_zone(0, "n1", 2000, "a");
    agent_in_zone(1, "n2", 2000, "b");
    path =
        write_file("zoned.yaml", "apiVersion: berth/v1\n"
                                 "kind: Deployment\n"
                                 "metadata: {name: zoned, labels: {tier: front}}\n"
                                 "spec:\n"
                                 "  replicas: 2\n"
                                 "  template:\n"
                                 "    spec:\n"
                                 "      nodeSelector: {zone: a}\n"
                                 "      containers: [{name: z, image: busybox, command: [x]}]\n"
                                 "---\n"
                                 "apiVersion: berth/v1\n"
                                 "kind: Deployment\n"
                                 "metadata: {name: nowhere}\n"
                                 "spec:\n"
                                 "  template:\n"
                                 "    spec:\n"
                                 "      nodeSelector: {zone: c}\n"
                                 "      containers: [{name: n, image: busybox, command: [x]}]\n");
    {
        const char *args[] = { "apply", "-f", path, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
    }
    ck_assert_str_eq(out, "deployment/zoned created\ndeployment/nowhere created\n");
    ck_assert_str_eq(err, "Warning: nowhere: 1 of 1 replicas cannot be placed: 0/2 nodes can "
                          "take a replica: 2 do not match the nodeSelector\n");
    free(out);
    free(err);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &both_on_n1, WAIT_MS));

    out = berthctl_out("get", "nodes", "-l", "zone=b");
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 2);
    ck_assert_str_eq(t.rows[1][0], "n2");
    table_free(&t);
    free(out);
    out = berthctl_out("get", "workloads", "-l", "tier=front");
    table_parse(out, &t);
    ck_assert_uint_eq(t.n_rows, 2);
    ck_assert_str_eq(t.rows[1][0], "zoned");
    table_free(&t);
    free(out);
    out = berthctl_out("get", "workloads", "-o", "wide");
    ck_assert_ptr_nonnull(strstr(out, "0/2 nodes can take a replica: 2 do not match the "
                                      "nodeSelector\n"));
    free(out);
}
END_TEST

/* ---- devices: extended resources placed, held, described ---- */

/* The fleet: nodes with 4 and 2 devices, 4 replicas asking for 2
 * each; the 4th waits and says why, describe node shows what is handed out
 * and which container holds which device, describe pod a container's. */
START_TEST(devices_are_placed_held_and_described)
{
    want placed = { { 2, 1 } };
    char *path, *out, *err, pod[96] = "";
    table t;

    setup_with(steady);
    agent_with(0, "n1", 2000, NULL, "example.com/dev", 4);
    agent_with(1, "n2", 2000, NULL, "example.com/dev", 2);
    path = write_file("gpu.yaml", "apiVersion: apps/v1\n"
                                  "kind: Deployment\n"
                                  "metadata: {name: gpu}\n"
                                  "spec:\n"
                                  "  replicas: 4\n"
                                  "  selector: {matchLabels: {app: gpu}}\n"
                                  "  template:\n"
                                  "    metadata:\n"
                                  "      labels: {app: gpu}\n"
                                  "      annotations: {io.kubernetes.cri-o.Devices: /dev/fuse}\n"
                                  "    spec:\n"
                                  "      containers:\n"
                                  "      - name: train\n"
                                  "        image: busybox\n"
                                  "        resources: {limits: {example.com/dev: 2}}\n");
    {
        const char *args[] = { "apply", "-f", path, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
    }
    ck_assert_str_eq(out, "deployment/gpu created\n");
    ck_assert_str_eq(err, "Warning: gpu: 1 of 4 replicas cannot be placed: 0/2 nodes can take a "
                          "replica: 2 Insufficient example.com/dev\n");
    free(out);
    free(err);
    free(path);
    ck_assert(harness_wait(&h, agents_run, &placed, WAIT_MS));

    /* n1: its 4 handed out, each device held by one container */
    {
        const char *q[] = { "describe", "node", "n1", NULL, "example.com/dev: 4, 0 free\n" };

        ck_assert(harness_wait(&h, output_has, q, WAIT_MS));
    }
    out = berthctl_out("describe", "node", "n1", NULL);
    ck_assert_msg(strstr(out, "Capacity:       cpu 2, memory 4Gi, containers unlimited\n"
                              "                example.com/dev 4\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "Allocated resources:\n"
                              "  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
                              "  Resource          Requests   Limits\n"
                              "  --------          --------   ------\n"
                              "  cpu               0 (0%)     0 (0%)\n"
                              "  memory            0 (0%)     0 (0%)\n"
                              "  example.com/dev   4          4\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "Devices:\n  example.com/dev: 4, 0 free\n"), "%s", out);
    for (int d = 0; d < 4; d++) {
        char line[64];

        snprintf(line, sizeof(line), "    example.com/dev=dev%d  held by default/gpu-", d);
        ck_assert_msg(strstr(out, line), "%s", out);
    }
    ck_assert_msg(strstr(out, "  other:\n    /dev/fuse  held by default/gpu-"), "%s", out);
    ck_assert_msg(strstr(out, ", container train\n"), "%s", out);
    /* its registration's event says what it has */
    ck_assert_msg(strstr(out, "agent fake-0.1 on 6.1.0-test, 2000m CPU, 4096 MiB, example.com/dev "
                              "4\n"),
                  "%s", out);
    free(out);
    out = berthctl_out("describe", "node", "n2", NULL);
    ck_assert_msg(strstr(out, "  example.com/dev   2          2\n"), "%s", out);
    ck_assert_msg(strstr(out, "  example.com/dev: 2, 0 free\n    example.com/dev=dev0  held by "
                              "default/gpu-"),
                  "%s", out);
    free(out);

    /* the pod on n2, as describe pod shows it */
    out = berthctl_out("get", "pods", "-o", "wide");
    table_parse(out, &t);
    for (size_t r = 1; r < t.n_rows; r++)
        if (strcmp(t.rows[r][table_col(&t, "NODE")], "n2") == 0)
            snprintf(pod, sizeof(pod), "%s", t.rows[r][0]);
    table_free(&t);
    free(out);
    ck_assert_str_ne(pod, "");
    out = berthctl_out("describe", "pod", pod, NULL);
    ck_assert_msg(strstr(out, "    Devices:          example.com/dev=dev0\n"
                              "                      example.com/dev=dev1\n"
                              "                      /dev/fuse\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "    Limits:\n      example.com/dev:  2\n"), "%s", out);
    free(out);
}
END_TEST

/* ---- a stored workload without a template is left out at start ---- */

/* Put a Deployment of one replica (with a template when templated) in st,
 * created at created_ns: the controller loads workloads oldest first. */
static void store_workload(berth_store *st, const char *name, bool templated, int64_t created_ns)
{
    Workload w = WORKLOAD_INIT;
    ContainerSpec spec = CONTAINER_SPEC_INIT;
    char *command[] = { "sleep", "3600" };

    w.name = (char *)name;
    w.kind = WORKLOAD_DEPLOYMENT;
    w.replicas = 1;
    w.generation = 1;
    w.created_unix_ns = w.updated_unix_ns = created_ns;
    spec.image = "busybox";
    spec.command = command;
    spec.n_command = 2;
    if (templated)
        w.template_ = &spec;
    ck_assert_int_eq(berth_store_workload_put(st, &w, NULL), 0);
}

START_TEST(a_stored_workload_without_template_is_left_out)
{
    const char *get_workloads[] = { "get", "workloads", NULL };
    char state[600], db[700], *out;
    berth_store *st = NULL;
    table t;

    harness_init(&h, steady);
    memset(agents, 0, sizeof(agents));
    n_agents = 0;
    /* a store written by hand (an older or damaged one): the template-less
     * workload between two good ones, as the controller loads them */
    snprintf(state, sizeof(state), "%s/state", h.dir);
    snprintf(db, sizeof(db), "%s/berth.db", state);
    ck_assert_int_eq(berth_mkdir_p(state, 0700, NULL), 0);
    ck_assert_int_eq(berth_store_open(db, &st, NULL), 0);
    store_workload(st, "first", true, 1);
    store_workload(st, "broken", false, 2);
    store_workload(st, "third", true, 3);
    store_workload(st, "fourth", true, 4);
    berth_store_close(st);

    harness_start_controller(&h);
    out = harness_berthctl_ok(&h, get_workloads);
    table_parse(out, &t);
    ck_assert_msg(t.n_rows == 4, "%s", out);
    ck_assert_str_eq(t.rows[1][0], "first");
    ck_assert_str_eq(t.rows[2][0], "fourth");
    ck_assert_str_eq(t.rows[3][0], "third");
    table_free(&t);
    free(out);
    /* and the operator is told why one is missing */
    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, h.log, 1 << 20, &out, NULL, NULL), 0);
    ck_assert_msg(strstr(out, "workload broken has no template: not loaded"), "%s", out);
    free(out);
}
END_TEST

/* ---- leases scale with the fleet ---- */

static bool interval_is(void *data)
{
    return agents[0].interval_ms == *(const uint32_t *)data;
}

START_TEST(heartbeat_interval_grows_with_the_fleet)
{
    static const char *const slow_rate[] = { "--heartbeat-min-interval",
                                             "100ms",
                                             "--heartbeat-max-rate",
                                             "2",
                                             "--heartbeat-misses",
                                             "50",
                                             NULL };
    uint32_t one = 500, two = 1000;

    setup_with(slow_rate);
    /* at most 2 heartbeats a second fleet-wide: one node beats every
     * 500ms, two every second each */
    agent_with_token(0, "n1", 2000);
    ck_assert(harness_wait(&h, interval_is, &one, WAIT_MS));
    agent_with_token(1, "n2", 2000);
    ck_assert(harness_wait(&h, interval_is, &two, WAIT_MS));
    ck_assert_uint_eq(agents[1].interval_ms, 1000);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("controller");
    TCase *tc = tcase_create("fleet");

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, deployment_spreads_over_two_nodes_and_is_deleted);
    tcase_add_test(tc, an_older_report_does_not_undo_a_newer_event);
    tcase_add_test(tc, kill_9_and_restart_keeps_the_fleet);
    tcase_add_test(tc, malformed_manifest_changes_nothing);
    tcase_add_test(tc, down_node_replicas_move_and_the_node_is_fenced);
    tcase_add_test(tc, restart_waits_for_agents_backing_off);
    tcase_add_test(tc, health_names_the_silent_node_and_drain_moves_replicas);
    tcase_add_test(tc, drain_evicts_one_budget_step_at_a_time);
    tcase_add_test(tc, operators_and_nodes_stay_in_their_roles);
    tcase_add_test(tc, node_selectors_place_and_labels_filter);
    tcase_add_test(tc, heartbeat_interval_grows_with_the_fleet);
    suite_add_tcase(s, tc);
    tc = tcase_create("devices");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, devices_are_placed_held_and_described);
    suite_add_tcase(s, tc);
    /* what the controller makes of the store it finds at start */
    tc = tcase_create("start");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, a_stored_workload_without_template_is_left_out);
    suite_add_tcase(s, tc);
    return s;
}
