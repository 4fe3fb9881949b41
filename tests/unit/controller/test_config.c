/* berth-controller's settings: the defaults, a file with every setting, and
 * what a bad file says (file:line:column, the setting, the cause). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "controller-config.h"

static char dir[] = "/tmp/berth-config-XXXXXX";
static char path[128];

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/controller.yaml", dir);
}

static void teardown(void)
{
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    strcpy(dir, "/tmp/berth-config-XXXXXX");
}

static void write_config(const char *text)
{
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644, NULL), 0);
}

START_TEST(defaults)
{
    ctl_config c;

    ck_assert_int_eq(ctl_config_defaults(&c, NULL), 0);
    ck_assert_str_eq(c.name, "controller");
    ck_assert_str_eq(c.state_dir, "/var/lib/berth/controller");
    ck_assert_int_eq(c.n_rpc, 1);
    ck_assert_str_eq(c.rpc[0], "tcp://0.0.0.0:7100");
    ck_assert_str_eq(c.survey, "tcp://0.0.0.0:7103");
    ck_assert_int_eq(c.heartbeat_min_ns, BERTH_NSEC_PER_SEC);
    ck_assert_uint_eq(c.heartbeat_max_rate, 50);
    ck_assert_uint_eq(c.heartbeat_misses, 3);
    ck_assert_int_eq(c.down_grace_ns, 30 * BERTH_NSEC_PER_SEC);
    ck_assert_str_eq(c.metrics_address, "127.0.0.1:7104");
    /* a missing default file is fine */
    ck_assert_int_eq(ctl_config_load(&c, "/nonexistent/controller.yaml", 1, NULL), 0);
    /* off, unquoted (YAML's false) or not, turns /metrics off */
    write_config("metrics_address: off\n");
    ck_assert_int_eq(ctl_config_load(&c, path, 0, NULL), 0);
    ck_assert_ptr_null(c.metrics_address);
    write_config("metrics_address: '127.0.0.1:9'\n");
    ck_assert_int_eq(ctl_config_load(&c, path, 0, NULL), 0);
    ck_assert_str_eq(c.metrics_address, "127.0.0.1:9");
    write_config("metrics_address: ''\n");
    ck_assert_int_eq(ctl_config_load(&c, path, 0, NULL), 0);
    ck_assert_ptr_null(c.metrics_address);
    ctl_config_free(&c);
}
END_TEST

START_TEST(every_setting_from_a_file)
{
    ctl_config c;
    berth_error *err = NULL;

    write_config("# the controller\n"
                 "name: ctl-1\n"
                 "state_dir: /srv/berth\n"
                 "operators_dir: /etc/berth/operators\n"
                 "rpc: [tcp://10.0.0.1:7100, ipc:///run/berth/controller.sock]\n"
                 "events: tcp://10.0.0.1:7101\n"
                 "stream: tcp://10.0.0.1:7102\n"
                 "survey: tcp://10.0.0.1:7103\n"
                 "advertise_host: ctl.example.net\n"
                 "heartbeat_min_interval: 250ms\n"
                 "heartbeat_max_rate: 100\n"
                 "heartbeat_misses: 5\n"
                 "down_grace: 1m\n"
                 "log_level: debug\n"
                 "log_format: json\n"
                 "metrics_address: 0.0.0.0:7104\n"
                 "store: etcd\n"
                 "etcd_endpoints: [http://10.0.0.5:2379, https://10.0.0.6:2379]\n"
                 "etcd_prefix: /fleets/a/\n"
                 "etcd_ca_file: /etc/berth/etcd-ca.crt\n"
                 "etcd_cert_file: /etc/berth/etcd.crt\n"
                 "etcd_key_file: /etc/berth/etcd.key\n"
                 "member: ctl-a\n"
                 "leader_lease: 5s\n");
    ck_assert_int_eq(ctl_config_defaults(&c, NULL), 0);
    ck_assert_msg(ctl_config_load(&c, path, 0, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(c.name, "ctl-1");
    ck_assert_str_eq(c.state_dir, "/srv/berth");
    ck_assert_str_eq(c.operators_dir, "/etc/berth/operators");
    ck_assert_int_eq(c.n_rpc, 2); /* the list replaced the default */
    ck_assert_str_eq(c.rpc[1], "ipc:///run/berth/controller.sock");
    ck_assert_str_eq(c.events, "tcp://10.0.0.1:7101");
    ck_assert_str_eq(c.advertise_host, "ctl.example.net");
    ck_assert_int_eq(c.heartbeat_min_ns, 250 * BERTH_NSEC_PER_MSEC);
    ck_assert_uint_eq(c.heartbeat_max_rate, 100);
    ck_assert_uint_eq(c.heartbeat_misses, 5);
    ck_assert_int_eq(c.down_grace_ns, 60 * BERTH_NSEC_PER_SEC);
    ck_assert_int_eq(c.log_level, BERTH_LOG_DEBUG);
    ck_assert_int_eq(c.log_format, BERTH_LOG_JSON);
    ck_assert_str_eq(c.metrics_address, "0.0.0.0:7104");
    ck_assert_str_eq(c.store, "etcd");
    ck_assert_int_eq(c.n_etcd, 2);
    ck_assert_str_eq(c.etcd_endpoints[1], "https://10.0.0.6:2379");
    ck_assert_str_eq(c.etcd_prefix, "/fleets/a/");
    ck_assert_str_eq(c.etcd_ca_file, "/etc/berth/etcd-ca.crt");
    ck_assert_str_eq(c.etcd_cert_file, "/etc/berth/etcd.crt");
    ck_assert_str_eq(c.etcd_key_file, "/etc/berth/etcd.key");
    ck_assert_str_eq(c.member, "ctl-a");
    ck_assert_int_eq(c.leader_lease_ns, 5 * BERTH_NSEC_PER_SEC);
    /* --etcd-endpoints: one text, split at commas, replacing the list */
    ck_assert_int_eq(
        ctl_config_set(&c, "etcd_endpoints", "http://a:2379,http://b:2379,http://c:2379", &err), 0);
    ck_assert_int_eq(c.n_etcd, 3);
    ck_assert_str_eq(c.etcd_endpoints[2], "http://c:2379");
    /* flags afterwards replace the file's list, and add to each other */
    ck_assert_int_eq(ctl_config_set(&c, "rpc", "tcp://127.0.0.1:7200", &err), 0);
    ck_assert_int_eq(c.n_rpc, 1);
    ck_assert_str_eq(c.rpc[0], "tcp://127.0.0.1:7200");
    ck_assert_int_eq(ctl_config_set(&c, "rpc", "ipc:///tmp/ctl.sock", &err), 0);
    ck_assert_int_eq(c.n_rpc, 2);
    ctl_config_free(&c);
}
END_TEST

typedef struct bad {
    const char *text, *error; /* error after "<path>:" */
} bad;

static const bad bads[] = {
    { "rpc: tcp://0.0.0.0:7100\nbogus: 1\n", "2:1: bogus: unknown field" },
    { "heartbeat_misess: 1\n", "1:1: heartbeat_misess: unknown field (did you mean "
                               "heartbeat_misses?)" },
    { "down_grace: 5x\n",
      "1:13: down_grace: duration '5x' needs a unit (ns, us, ms, s, m, h) at 'x'" },
    { "heartbeat_min_interval: 1ms\n",
      "1:25: heartbeat_min_interval: 1ms is out of range (10ms..1h)" },
    { "down_grace: 0\n", "1:13: down_grace: 0 is out of range (10ms..1h)" },
    { "heartbeat_misses: 0\n", "1:19: heartbeat_misses: 0 is out of range (1..100)" },
    { "heartbeat_max_rate: '100'\n",
      "1:21: heartbeat_max_rate: expected an integer, got the string \"100\"" },
    { "events: http://x\n",
      "1:9: events: address 'http://x': expected tcp://HOST:PORT or ipc://PATH" },
    { "state_dir: relative/dir\n", "1:12: state_dir: 'relative/dir' is not an absolute path" },
    { "name: Bad Name\n", "1:7: name: controller name 'Bad Name': invalid character at 1 "
                          "(allowed: a-z 0-9 _ . -, starting with a letter or digit)" },
    { "name: 123\n", "1:7: name: expected a string, got the number 123 (quote it: \"123\")" },
    { "log_level: loud\n",
      "1:12: log_level: log level 'loud': expected debug, info, warn or error" },
    { "rpc: [tcp://a:1, {x: y}]\n", "1:18: rpc[1]: expected a string, got a mapping" },
    { "rpc: [ipc:///a, ipc:///b, ipc:///c, ipc:///d, ipc:///e]\n", "1:6: rpc: 5 items, at most 4" },
    { "- a\n- b\n", "1:1: expected a mapping, got a list" },
    { "a: [\n", "2:1: YAML: did not find expected node content while parsing a flow node" },
    { "name: a\nname: b\n", "2:1: name: duplicate field (first at line 1)" },
    { "metrics_address: yes\n", "1:18: metrics_address: an address, or off" },
    { "metrics_address: 7104\n",
      "1:18: metrics_address: expected a string, got the number 7104 (quote it: \"7104\")" },
    { "metrics_address: metrics.example.net:7104\n",
      "1:18: metrics_address: metrics address 'metrics.example.net:7104': expected HOST:PORT (an "
      "IPv4 address or localhost), [IPv6]:PORT, :PORT, or off" },
    { "store: mysql\n", "1:8: store: 'mysql' is not a store: sqlite or etcd" },
    { "etcd_endpoints: 10.0.0.5:2379\n",
      "1:17: etcd_endpoints: '10.0.0.5:2379' is not an etcd client URL (http://HOST:PORT, "
      "https://HOST:PORT)" },
    { "etcd_prefix: berth\n",
      "1:14: etcd_prefix: 'berth': a key prefix starts and ends with '/' (at most 100 bytes)" },
    { "leader_lease: 1s\n", "1:15: leader_lease: 1s is out of range (2s..1m)" },
    /* every mistake of the file, in file order */
    { "survey: tcp://h\nheartbeat_misses: 1000\nstream: 7\n",
      "1:9: survey: address 'tcp://h': expected tcp://HOST:PORT or ipc://PATH\n"
      "@:2:19: heartbeat_misses: 1000 is out of range (1..100)\n"
      "@:3:9: stream: expected a string, got the number 7 (quote it: \"7\")" },
};

START_TEST(bad_files_say_where)
{
    const bad *b = &bads[_i];
    ctl_config c;
    berth_error *err = NULL;
    char want[512];

    write_config(b->text);
    ck_assert_int_eq(ctl_config_defaults(&c, NULL), 0);
    ck_assert_int_lt(ctl_config_load(&c, path, 0, &err), 0);
    /* '@' in a case's text is the path again, for reports of several
     * lines */
    snprintf(want, sizeof(want), "%s:", path);
    for (const char *t = b->error; *t; t++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s",
                 *t == '@' ? path : (char[]){ *t, '\0' });
    ck_assert_msg(strcmp(err->msg, want) == 0, "case %d:\n got: %s\nwant: %s", _i, err->msg, want);
    berth_error_free(&err);
    ctl_config_free(&c);
}
END_TEST

/* Flags go through ctl_config_set: the file's checks and ranges. */
START_TEST(flags_say_what_is_wrong)
{
    ctl_config c;
    berth_error *err = NULL;

    ck_assert_int_eq(ctl_config_defaults(&c, NULL), 0);
    ck_assert_int_eq(ctl_config_set(&c, "heartbeat_misses", "7", &err), 0);
    ck_assert_uint_eq(c.heartbeat_misses, 7);
    ck_assert_int_eq(ctl_config_set(&c, "down_grace", "2m", &err), 0);
    ck_assert_int_eq(c.down_grace_ns, 120 * BERTH_NSEC_PER_SEC);
    ck_assert_berth_error(ctl_config_set(&c, "heartbeat_misses", "many", &err), err,
                          "'many' is not an integer");
    ck_assert_berth_error(ctl_config_set(&c, "heartbeat_misses", "7x", &err), err,
                          "'7x' is not an integer");
    ck_assert_berth_error(ctl_config_set(&c, "heartbeat_max_rate", "0", &err), err,
                          "0 is out of range (1..100000)");
    ck_assert_berth_error(ctl_config_set(&c, "down_grace", "2h", &err), err,
                          "2h is out of range (10ms..1h)");
    ck_assert_berth_error(ctl_config_set(&c, "down_grace", "soon", &err), err,
                          "'soon' is not a duration (500ms, 30s, 1m ...)");
    /* --metrics-address: an address, or off */
    ck_assert_int_eq(ctl_config_set(&c, "metrics_address", "[::]:7104", &err), 0);
    ck_assert_str_eq(c.metrics_address, "[::]:7104");
    ck_assert_int_eq(ctl_config_set(&c, "metrics_address", "off", &err), 0);
    ck_assert_ptr_null(c.metrics_address);
    ck_assert_berth_error(ctl_config_set(&c, "metrics_address", "7104", &err), err,
                          "metrics address '7104': expected HOST:PORT (an IPv4 address or "
                          "localhost), [IPv6]:PORT, :PORT, or off");
    ck_assert_int_lt(ctl_config_set(&c, "bogus", "1", &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    ck_assert_uint_eq(c.heartbeat_misses, 7);
    ck_assert_int_eq(c.down_grace_ns, 120 * BERTH_NSEC_PER_SEC);
    ctl_config_free(&c);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, every_setting_from_a_file);
    tcase_add_loop_test(tc, bad_files_say_where, 0, sizeof(bads) / sizeof(bads[0]));
    tcase_add_test(tc, flags_say_what_is_wrong);
    suite_add_tcase(s, tc);
    return s;
}
