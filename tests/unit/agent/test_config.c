/* berthd's configuration: a full file, and every kind of mistake reported
 * with file:line:column and the field, leaving the configuration as it
 * was. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "agent-config.h"

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
                               "log: {level: debug, format: json}\n";
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
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_int_eq(agent_config_finish(&cfg, &err), 0);
    ck_assert_str_eq(cfg.key, "/srv/berth/node.key");
    ck_assert_str_eq(cfg.advertise, "tcp://10.0.0.5:7110"); /* from listen */
}
END_TEST

START_TEST(mistakes)
{
    expect_error("node_name: n1\nstate_dir: /x\ncontoller: tcp://h:1\n",
                 "agent.yaml:3:1: unknown setting 'contoller'");
    expect_error("state_dir: /x\nmax_parallel_starts: many\n",
                 "agent.yaml:2:22: max_parallel_starts: 'many' is not a number in 1..256");
    expect_error("state_dir: /x\nmax_parallel_starts: 0\n",
                 "agent.yaml:2:22: max_parallel_starts: '0' is not a number in 1..256");
    expect_error("labels: [a, b]\n", "agent.yaml:1:9: labels: expected a mapping of key: value");
    expect_error("reserved:\n  memory: 1Gx\n",
                 "agent.yaml:2:11: reserved.memory: memory quantity '1Gx': unknown suffix 'Gx' "
                 "(expected one of m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)");
    expect_error("reserved: {disk: 1G}\n",
                 "agent.yaml:1:12: reserved: unknown field 'disk' (expected cpu, memory)");
    expect_error("metrics_interval: 10\n",
                 "agent.yaml:1:19: metrics_interval: duration '10' needs a unit (ns, us, ms, s, "
                 "m, h) at ''");
    expect_error("metrics_interval: 1ms\n", "agent.yaml:1:19: metrics_interval: must be at least "
                                            "100ms");
    expect_error("controller: {adress: x}\n",
                 "agent.yaml:1:14: controller: unknown field 'adress' (expected address, key, "
                 "name)");
    expect_error("node_name:\n  - a\n",
                 "agent.yaml:2:3: node_name: expected a single value, found a list");
    expect_error("node_name: ''\n", "agent.yaml:1:12: node_name: must not be empty");
    expect_error("log: {level: loud}\n", "agent.yaml:1:14: log.level: log level 'loud': expected "
                                         "debug, info, warn or error");
    expect_error("operators: {Bad Name: /x}\n",
                 "agent.yaml:1:13: operators: operator name 'Bad Name': invalid character at 1 "
                 "(allowed: a-z 0-9 _ . -, starting with a letter or digit)");
    expect_error("a: b: c\n", "agent.yaml:1:5: mapping values are not allowed in this context");
    expect_error("- just\n- a list\n",
                 "agent.yaml:1:1: the configuration must be a mapping of settings");
}
END_TEST

START_TEST(finish_checks)
{
    berth_error *err = NULL;

    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "no controller address (controller.address in the config, or "
                          "--controller)");
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "http://x", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "controller address 'http://x': expected tcp://HOST:PORT or ipc://PATH");
    ck_assert_int_eq(agent_config_set(&cfg.controller_address, "tcp://h:1", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.node_name, "Bad_Name", &err), 0);
    ck_assert_int_lt(agent_config_finish(&cfg, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "node name 'Bad_Name'"));
    berth_error_free(&err);
    ck_assert_int_eq(agent_config_set(&cfg.node_name, "n1", &err), 0);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/nonexistent/berth-monitor", &err), 0);
    ck_assert_berth_error(agent_config_finish(&cfg, &err), err,
                          "monitor /nonexistent/berth-monitor: No such file or directory");
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
    ck_assert_int_eq(cfg.stop_grace_ms, defaults.stop_grace_ms);
    ck_assert_int_eq(cfg.max_parallel_starts, defaults.max_parallel_starts);
    ck_assert_int_eq(cfg.log_level, defaults.log_level);
    ck_assert_int_eq(cfg.reserved_cpu_millis, 500);
    ck_assert_int_eq(cfg.reserved_memory_bytes, 512LL << 20);
    ck_assert_uint_eq(cfg.n_labels, 1);
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", &err), 0);
    ck_assert_msg(agent_config_finish(&cfg, &err) == 0, "%s", err ? err->msg : "");
    agent_config_free(&defaults);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent/config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_file);
    tcase_add_test(tc, mistakes);
    tcase_add_test(tc, finish_checks);
    tcase_add_test(tc, deploy_example);
    suite_add_tcase(s, tc);
    return s;
}
