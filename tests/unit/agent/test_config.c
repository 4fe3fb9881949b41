/* berthd's configuration: a full file, and every kind of mistake reported
 * with file:line:column and the field, leaving the configuration as it
 * was. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "agent-config.h"
#include "base/timeutil.h"

static agent_config cfg;

static void setup(void)
{
    ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
}

static void teardown(void)
{
    agent_config_free(&cfg);
}

static void expect_error(const char *yaml, const char *want)
{
    berth_error *err = NULL;

    ck_assert_int_lt(agent_config_parse(&cfg, "agent.yaml", yaml, strlen(yaml), &err), 0);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    /* Nothing of a failed file applies. */
    ck_assert_str_eq(cfg.state_dir, "/var/lib/berth/agent");
}

START_TEST(full_file)
{
    static const char yaml[] = "node_name: web-1\n"
                               "labels:\n"
                               "  zone: a\n"
                               "  disk: ssd\n"
                               "controller:\n"
                               "  address: tcp://10.0.0.1:7100\n"
                               "  key: /etc/berth/controller.pub\n"
                               "state_dir: /srv/berth\n"
                               "reserved: {cpu: 500m, memory: 512Mi}\n"
                               "metrics_interval: 2s\n"
                               "max_parallel_starts: 8\n"
                               "listen: tcp://10.0.0.5:7110\n"
                               "operators: {alice: /etc/berth/alice.pub}\n"
                               "log: {level: debug, format: json}\n"
                               "cgroup_driver: systemd\n";
    berth_error *err = NULL;

    ck_assert_msg(agent_config_parse(&cfg, "agent.yaml", yaml, strlen(yaml), &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_str_eq(cfg.node_name, "web-1");
    ck_assert_uint_eq(cfg.n_labels, 2);
    ck_assert_str_eq(cfg.label_keys[1], "disk");
    ck_assert_str_eq(cfg.label_values[1], "ssd");
    ck_assert_str_eq(cfg.controller_address, "tcp://10.0.0.1:7100");
    ck_assert_str_eq(cfg.state_dir, "/srv/berth");
    ck_assert_int_eq(cfg.reserved_cpu_millis, 500);
    ck_assert_int_eq(cfg.reserved_memory_bytes, 512LL << 20);
    ck_assert_int_eq(cfg.metrics_interval_ns, 2000000000LL);
    ck_assert_int_eq(cfg.max_parallel_starts, 8);
    ck_assert_uint_eq(cfg.n_operators, 1);
    ck_assert_str_eq(cfg.operator_names[0], "alice");
    ck_assert_int_eq(cfg.log_level, BERTH_LOG_DEBUG);
    ck_assert_int_eq(cfg.log_format, BERTH_LOG_JSON);
    ck_assert_int_eq(cfg.cgroup_driver, AGENT_CGROUP_DRIVER_SYSTEMD);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_finish(&cfg, &err), 0);
    ck_assert_str_eq(cfg.key, "/srv/berth/node.key");
    ck_assert_str_eq(cfg.advertise, "tcp://10.0.0.5:7110"); /* from listen */
}
END_TEST

START_TEST(cgroup_driver)
{
    agent_cgroup_driver d = AGENT_CGROUP_DRIVER_SYSTEMD;
    berth_error *err = NULL;

    /* auto by default: systemd's where systemd is the init */
    ck_assert_int_eq(cfg.cgroup_driver, AGENT_CGROUP_DRIVER_AUTO);
    ck_assert_int_eq(agent_cgroup_driver_parse("cgroupfs", &d, NULL), 0);
    ck_assert_int_eq(d, AGENT_CGROUP_DRIVER_CGROUPFS);
    ck_assert_int_eq(agent_cgroup_driver_parse("auto", &d, NULL), 0);
    ck_assert_int_eq(d, AGENT_CGROUP_DRIVER_AUTO);
    ck_assert_int_eq(agent_cgroup_driver_parse("Systemd", &d, &err), -1);
    ck_assert_str_eq(err->msg, "cgroup driver 'Systemd': auto, cgroupfs or systemd");
    berth_error_free(&err);
    ck_assert_int_eq(d, AGENT_CGROUP_DRIVER_AUTO);
}
END_TEST

START_TEST(mistakes)
{
    expect_error("node_name: n1\nstate_dir: /x\ncontoller: tcp://h:1\n",
                 "agent.yaml:3:1: contoller: unknown field (did you mean controller?)");
    expect_error("state_dir: /x\nmax_parallel_starts: many\n",
                 "agent.yaml:2:22: max_parallel_starts: expected an integer, got the string "
                 "\"many\"");
    expect_error("state_dir: /x\nmax_parallel_starts: 0\n",
                 "agent.yaml:2:22: max_parallel_starts: 0 is out of range (1..256)");
    expect_error("labels: [a, b]\n", "agent.yaml:1:9: labels: expected a mapping, got a list");
    expect_error("labels: {rack: 12}\n",
                 "agent.yaml:1:16: labels.rack: expected a string, got the number 12 (quote it: "
                 "\"12\")");
    expect_error("labels: {zone: a, zone: b}\n",
                 "agent.yaml:1:19: labels.zone: duplicate key (first at line 1)");
    expect_error("reserved:\n  memory: 1Gx\n",
                 "agent.yaml:2:11: reserved.memory: memory quantity '1Gx': unknown suffix 'Gx' "
                 "(expected one of m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)");
    expect_error("reserved: {disk: 1G}\n", "agent.yaml:1:12: reserved.disk: unknown field");
    expect_error("metrics_interval: 10\n",
                 "agent.yaml:1:19: metrics_interval: duration '10' needs a unit (ns, us, ms, s, "
                 "m, h) at ''");
    expect_error("metrics_interval: 1ms\n",
                 "agent.yaml:1:19: metrics_interval: 1ms is below the minimum of 100ms");
    expect_error("controller: {adress: x}\n",
                 "agent.yaml:1:14: controller.adress: unknown field (did you mean address?)");
    expect_error("node_name:\n  - a\n", "agent.yaml:2:3: node_name: expected a string, got a list");
    expect_error("node_name: 123\n", "agent.yaml:1:12: node_name: expected a string, got the "
                                     "number 123 (quote it: \"123\")");
    expect_error("node_name: ''\n", "agent.yaml:1:12: node_name: must not be empty");
    expect_error("log: {level: loud}\n", "agent.yaml:1:14: log.level: log level 'loud': expected "
                                         "debug, info, warn or error");
    expect_error("operators: {Bad Name: /x}\n",
                 "agent.yaml:1:13: operators.Bad Name: operator name 'Bad Name': invalid "
                 "character at 1 (allowed: a-z 0-9 _ . -, starting with a letter or digit)");
    expect_error("cgroup_driver: docker\n",
                 "agent.yaml:1:16: cgroup_driver: 'docker' is not one of auto, cgroupfs, systemd");
    expect_error("a: b: c\n",
                 "agent.yaml:1:5: YAML: mapping values are not allowed in this context");
    expect_error("- just\n- a list\n", "agent.yaml:1:1: expected a mapping, got a list");
    expect_error("state_dir: /x\n---\nstate_dir: /y\n", "agent.yaml:2:1: more than 1 document");
    /* every mistake of a file at once, in file order */
    expect_error("max_parallel_starts: 0\n"
                 "log: {format: xml}\n"
                 "socket: [a]\n",
                 "agent.yaml:1:22: max_parallel_starts: 0 is out of range (1..256)\n"
                 "agent.yaml:2:15: log.format: log format 'xml': expected text or json\n"
                 "agent.yaml:3:9: socket: expected a string, got a list");
}
END_TEST

/* A valid file applies whole; one with a mistake anywhere, nothing. */
START_TEST(pod_network)
{
    static const char yaml[] = "pod_network: {mode: bridge, bridge: br-pods, nft_table: pods,\n"
                               "  pod_cidr: 10.9.3.0/24, cluster_cidr: 10.9.0.0/16}\n";
    berth_error *err = NULL;

    ck_assert(cfg.pod_network); /* bridge by default */
    ck_assert(!cfg.pod_cni);
    ck_assert_str_eq(cfg.pod_bridge, "berth0");
    ck_assert_ptr_null(cfg.pod_cidr);
    ck_assert_msg(agent_config_parse(&cfg, "agent.yaml", yaml, strlen(yaml), &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert(cfg.pod_network);
    ck_assert_str_eq(cfg.pod_bridge, "br-pods");
    ck_assert_str_eq(cfg.pod_nft_table, "pods");
    ck_assert_str_eq(cfg.pod_cidr, "10.9.3.0/24");
    ck_assert_str_eq(cfg.pod_cluster_cidr, "10.9.0.0/16");
    /* the rest on a fresh configuration */
    agent_config_free(&cfg);
    ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
    ck_assert_msg(agent_config_parse(&cfg, "agent.yaml", "pod_network: {mode: none}\n", 26, &err) ==
                      0,
                  "%s", err ? err->msg : "");
    ck_assert(!cfg.pod_network);
    expect_error("pod_network: {mode: flannel}\n",
                 "agent.yaml:1:21: pod_network.mode: 'flannel' is not one of none, bridge, cni");
    expect_error("pod_network: {pod_cidr: 10.9.3.1/24, cluster_cidr: 10.9.0.0/16}\n",
                 "agent.yaml:1:25: pod_network.pod_cidr: '10.9.3.1/24': host bits set (the "
                 "network is 10.9.3.0/24)");
    expect_error("pod_network: {pod_cidr: 10.9.3.0/24}\n",
                 "agent.yaml:1:25: pod_network.pod_cidr: pod_cidr and cluster_cidr go together");
    expect_error("pod_network: {bridge: a-very-long-bridge-name}\n",
                 "agent.yaml:1:23: pod_network.bridge: 'a-very-long-bridge-name': at most 15 "
                 "characters");
}
END_TEST

START_TEST(all_or_nothing)
{
    static const char good[] = "node_name: n2\nlabels: {zone: b}\noperators: {bob: /b.pub}\n"
                               "stop_grace_period: 0\nmetrics_interval: 250ms\n";
    static const char bad[] = "node_name: n3\nlabels: {zone: c}\noperators: {eve: /e.pub}\n"
                              "controller: {address: tcp://h:1}\nmax_parallel_starts: 999\n";
    berth_error *err = NULL;

    ck_assert_msg(agent_config_parse(&cfg, "a.yaml", good, strlen(good), &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_lt(agent_config_parse(&cfg, "b.yaml", bad, strlen(bad), &err), 0);
    ck_assert_str_eq(err->msg, "b.yaml:5:22: max_parallel_starts: 999 is out of range (1..256)");
    berth_error_free(&err);
    ck_assert_str_eq(cfg.node_name, "n2");
    ck_assert_uint_eq(cfg.n_labels, 1);
    ck_assert_str_eq(cfg.label_values[0], "b");
    ck_assert_uint_eq(cfg.n_operators, 1);
    ck_assert_str_eq(cfg.operator_names[0], "bob");
    ck_assert_ptr_null(cfg.controller_address);
    ck_assert_int_eq(cfg.stop_grace_ms, 0);
    ck_assert_int_eq(cfg.metrics_interval_ns, 250000000LL);
    ck_assert_int_eq(cfg.max_parallel_starts, 4);
    /* null is unset: the value stays; an empty file changes nothing */
    ck_assert_int_eq(agent_config_parse(&cfg, "c.yaml", "node_name:\n", 11, &err), 0);
    ck_assert_str_eq(cfg.node_name, "n2");
    ck_assert_int_eq(agent_config_parse(&cfg, "d.yaml", "", 0, &err), 0);
    ck_assert_str_eq(cfg.node_name, "n2");
}
END_TEST

START_TEST(finish_checks)
{
    berth_error *err = NULL;

    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/bin/true", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "no controller address (controller.address in the config, or "
                          "--controller)");
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "http://x", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "controller address 'http://x': expected tcp://HOST:PORT or ipc://PATH "
                          "(several: comma-separated)");
    /* several controllers: each address checked */
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "tcp://a:7100,udp://b:7100", &err),
                     0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "controller address 'udp://b:7100': expected tcp://HOST:PORT or "
                          "ipc://PATH (several: comma-separated)");
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "tcp://h:1", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.node_name, "Bad_Name", &err), 0);
    ck_assert_int_lt(agent_config_finish(&cfg, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "node name 'Bad_Name'"));
    berth_error_free(&err);
    ck_assert_int_eq(agent_config_set(&cfg.node_name, "n1", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/nonexistent/berth-monitor", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "monitor /nonexistent/berth-monitor: No such file or directory");
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/nonexistent/berth-pull", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "puller /nonexistent/berth-pull: No such file or directory");
    ck_assert_int_eq(agent_config_load(&cfg, "/nonexistent.yaml", false, &err), 0);
    ck_assert_berth_error(agent_config_load(&cfg, "/nonexistent.yaml", true, &err), err,
                          "open /nonexistent.yaml: No such file or directory");
}
END_TEST

/* The commented example in deploy/ is a valid configuration, and says
 * what the defaults are. */
START_TEST(deploy_example)
{
    berth_error *err = NULL;
    agent_config defaults;

    ck_assert_int_eq(agent_config_defaults(&defaults, NULL), 0);
    ck_assert_msg(agent_config_load(&cfg, BERTH_SOURCE_DIR "/deploy/agent.yaml", true, &err) == 0,
                  "%s", err ? err->msg : "");
    ck_assert_str_eq(cfg.controller_address, "tcp://10.0.0.1:7100");
    ck_assert_str_eq(cfg.controller_key, defaults.controller_key);
    ck_assert_str_eq(cfg.controller_name, defaults.controller_name);
    ck_assert_str_eq(cfg.state_dir, defaults.state_dir);
    ck_assert_str_eq(cfg.image_store, defaults.image_store);
    ck_assert_str_eq(cfg.cgroup_parent, defaults.cgroup_parent);
    ck_assert_str_eq(cfg.socket, defaults.socket);
    ck_assert_int_eq(cfg.metrics_interval_ns, defaults.metrics_interval_ns);
    ck_assert_str_eq(cfg.metrics_address, defaults.metrics_address);
    ck_assert_int_eq(cfg.stop_grace_ms, defaults.stop_grace_ms);
    ck_assert_int_eq(cfg.max_parallel_starts, defaults.max_parallel_starts);
    ck_assert_int_eq(cfg.log_level, defaults.log_level);
    ck_assert_int_eq(cfg.reserved_cpu_millis, 500);
    ck_assert_int_eq(cfg.reserved_memory_bytes, 512LL << 20);
    ck_assert_uint_eq(cfg.n_labels, 1);
    ck_assert_str_eq(cfg.listen, defaults.listen);
    /* its controller's address is an example: one with a route here */
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "tcp://127.0.0.1:7100", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/bin/true", &err), 0);
    ck_assert_msg(agent_config_finish(&cfg, &err) == 0, "%s", err ? err->msg : "");
    agent_config_free(&defaults);
}
END_TEST

/* listen: on by default on every interface, advertised as this host's
 * address toward the controller; "off" turns it off; an explicit
 * advertise wins. */
/* The defaults again, with what finish needs (binaries, a controller). */
static void fresh_config(const char *controller)
{
    agent_config_free(&cfg);
    ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", NULL), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/bin/true", NULL), 0);
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, controller, NULL), 0);
}

static const char *finish_with(const char *controller, const char *listen, const char *advertise)
{
    static char got[256];
    berth_error *err = NULL;

    fresh_config(controller);
    if (listen)
        ck_assert_int_eq(agent_config_set(&cfg.listen, listen, &err), 0);
    if (advertise)
        ck_assert_int_eq(agent_config_set(&cfg.advertise, advertise, &err), 0);
    if (agent_config_finish(&cfg, &err) < 0) {
        snprintf(got, sizeof(got), "error: %s", err->msg);
        berth_error_free(&err);
    } else {
        snprintf(got, sizeof(got), "%s -> %s", cfg.listen ? cfg.listen : "(off)",
                 cfg.advertise ? cfg.advertise : "(none)");
    }
    return got;
}

START_TEST(listen_default)
{
    ck_assert_str_eq(cfg.listen, "tcp://0.0.0.0:7421");
    ck_assert_str_eq(finish_with("tcp://127.0.0.1:7100", NULL, NULL),
                     "tcp://0.0.0.0:7421 -> tcp://127.0.0.1:7421");
    ck_assert_str_eq(finish_with("tcp://127.0.0.2:7100", "tcp://*:7500", NULL),
                     "tcp://*:7500 -> tcp://127.0.0.1:7500");
    /* no IPv4 route to an IPv6 controller (nanomsg's sockets are IPv4):
     * berthd runs, the controller cannot relay to it (a warning) */
    ck_assert_str_eq(finish_with("tcp://[::1]:7100", "tcp://[::]:7500", NULL),
                     "tcp://[::]:7500 -> (none)");
    ck_assert_str_eq(finish_with("ipc:///run/ctl.sock", NULL, NULL),
                     "tcp://0.0.0.0:7421 -> tcp://127.0.0.1:7421");
    ck_assert_str_eq(finish_with("tcp://127.0.0.1:7100", NULL, "tcp://10.1.2.3:7421"),
                     "tcp://0.0.0.0:7421 -> tcp://10.1.2.3:7421");
    ck_assert_str_eq(finish_with("tcp://127.0.0.1:7100", "tcp://10.0.0.5:7110", NULL),
                     "tcp://10.0.0.5:7110 -> tcp://10.0.0.5:7110");
    ck_assert_str_eq(finish_with("tcp://127.0.0.1:7100", "off", NULL), "(off) -> (none)");
    ck_assert_str_eq(finish_with("tcp://127.0.0.1:7100", "", NULL), "(off) -> (none)");
    /* unquoted, "off" is YAML's false: off all the same */
    {
        berth_error *err = NULL;

        agent_config_free(&cfg);
        ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
        ck_assert_int_eq(agent_config_parse(&cfg, "agent.yaml", "listen: off\n", 12, &err), 0);
        ck_assert_str_eq(cfg.listen, "off");
        ck_assert_int_lt(agent_config_parse(&cfg, "agent.yaml", "listen: true\n", 13, &err), 0);
        ck_assert_str_eq(err->msg, "agent.yaml:1:9: listen: an address, or off");
        berth_error_free(&err);
    }
    /* no name lookup here: it would ask a resolver elsewhere */
    ck_assert_str_eq(finish_with("tcp://:7100", NULL, NULL),
                     "error: controller address 'tcp://:7100': expected tcp://HOST:PORT");
}
END_TEST

/* metrics_address: loopback by default; an address, or off (unquoted:
 * YAML's false) or "" for none; from the file (errors with their place)
 * or a flag (checked by finish). */
static const char *metrics_after(const char *yaml, const char *flag)
{
    static char got[256];
    berth_error *err = NULL;

    fresh_config("ipc:///run/c.sock");
    if ((yaml && agent_config_parse(&cfg, "agent.yaml", yaml, strlen(yaml), &err) < 0) ||
        (flag && agent_config_set(&cfg.metrics_address, flag, &err) < 0) ||
        agent_config_finish(&cfg, &err) < 0) {
        snprintf(got, sizeof(got), "error: %s", err->msg);
        berth_error_free(&err);
    } else {
        snprintf(got, sizeof(got), "%s", cfg.metrics_address ? cfg.metrics_address : "(off)");
    }
    return got;
}

START_TEST(metrics_address)
{
    ck_assert_str_eq(cfg.metrics_address, "127.0.0.1:7422");
    ck_assert_str_eq(metrics_after(NULL, NULL), "127.0.0.1:7422");
    ck_assert_str_eq(metrics_after("metrics_address: 0.0.0.0:9464\n", NULL), "0.0.0.0:9464");
    ck_assert_str_eq(metrics_after("metrics_address: '[::1]:7422'\n", NULL), "[::1]:7422");
    ck_assert_str_eq(metrics_after("metrics_address: off\n", NULL), "(off)");
    ck_assert_str_eq(metrics_after("metrics_address: 'off'\n", NULL), "(off)");
    ck_assert_str_eq(metrics_after("metrics_address: ''\n", NULL), "(off)");
    ck_assert_str_eq(metrics_after("metrics_address: true\n", NULL),
                     "error: agent.yaml:1:18: metrics_address: an address, or off");
    ck_assert_str_eq(metrics_after("metrics_address: 9464\n", NULL),
                     "error: agent.yaml:1:18: metrics_address: expected a string, got the number "
                     "9464 (quote it: \"9464\")");
    ck_assert_str_eq(metrics_after("metrics_address: host:9464\n", NULL),
                     "error: agent.yaml:1:18: metrics_address: metrics address 'host:9464': "
                     "expected HOST:PORT (an IPv4 address or localhost), [IPv6]:PORT, :PORT, or "
                     "off");
    /* the flag, over the file */
    ck_assert_str_eq(metrics_after("metrics_address: off\n", ":9100"), ":9100");
    ck_assert_str_eq(metrics_after(NULL, "off"), "(off)");
    ck_assert_str_eq(metrics_after(NULL, "localhost"),
                     "error: metrics address 'localhost': expected HOST:PORT (an IPv4 address or "
                     "localhost), [IPv6]:PORT, :PORT, or off");
}
END_TEST

/* --metrics-interval: a duration, nothing else (no YAML underneath). */
START_TEST(metrics_interval_flag)
{
    berth_error *err = NULL;

    ck_assert_int_eq(agent_config_metrics_interval(&cfg, "2s", &err), 0);
    ck_assert_int_eq(cfg.metrics_interval_ns, 2 * BERTH_NSEC_PER_SEC);
    ck_assert_berth_error(agent_config_metrics_interval(&cfg, "50ms", &err), err,
                          "--metrics-interval: 50ms is below the minimum of 100ms");
    ck_assert_int_lt(agent_config_metrics_interval(&cfg, "1s\nnode_name: x", &err), 0);
    berth_error_free(&err);
    ck_assert_int_eq(cfg.metrics_interval_ns, 2 * BERTH_NSEC_PER_SEC);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent/config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_file);
    tcase_add_test(tc, cgroup_driver);
    tcase_add_test(tc, mistakes);
    tcase_add_test(tc, all_or_nothing);
    tcase_add_test(tc, pod_network);
    tcase_add_test(tc, finish_checks);
    tcase_add_test(tc, metrics_interval_flag);
    tcase_add_test(tc, metrics_address);
    tcase_add_test(tc, deploy_example);
    tcase_add_test(tc, listen_default);
    suite_add_tcase(s, tc);
    return s;
}
