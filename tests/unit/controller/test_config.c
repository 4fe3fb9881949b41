/* berth-controller's settings: the defaults, a file with every setting, and
 * what a bad file says (file:line:column, the setting, the cause). */
#include <check.h>
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
    /* a missing default file is fine */
    ck_assert_int_eq(ctl_config_load(&c, "/nonexistent/controller.yaml", 1, NULL), 0);
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
                 "log_format: json\n");
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
    { "rpc: tcp://0.0.0.0:7100\nbogus: 1\n", "2:1: bogus: unknown setting" },
    { "down_grace: 5x\n", "1:13: down_grace: '5x' is not a duration (500ms, 30s, 1m ...)" },
    { "heartbeat_min_interval: 1ms\n",
      "1:25: heartbeat_min_interval: 1ms is out of range (10ms..1h)" },
    { "heartbeat_misses: 0\n", "1:19: heartbeat_misses: '0' is not a number in 1..100" },
    { "events: http://x\n",
      "1:9: events: address 'http://x': expected tcp://HOST:PORT or ipc://PATH" },
    { "state_dir: relative/dir\n", "1:12: state_dir: 'relative/dir' is not an absolute path" },
    { "name: Bad Name\n", "1:7: name: controller name 'Bad Name': invalid character at 1 "
                          "(allowed: a-z 0-9 _ . -, starting with a letter or digit)" },
    { "log_level: loud\n",
      "1:12: log_level: log level 'loud': expected debug, info, warn or error" },
    { "rpc: [tcp://a:1, {x: y}]\n", "1:6: rpc: expected a list of values" },
    { "- a\n- b\n", "1:1: expected a mapping of settings" },
    { "a: [\n", "2:1: YAML: did not find expected node content" },
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
    snprintf(want, sizeof(want), "%s:%s", path, b->error);
    ck_assert_msg(strcmp(err->msg, want) == 0, "case %d:\n got: %s\nwant: %s", _i, err->msg, want);
    berth_error_free(&err);
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
    suite_add_tcase(s, tc);
    return s;
}
