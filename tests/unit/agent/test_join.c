/* berthd join's edit of agent.yaml: the controller's settings set where
 * they are (block or flow style, commented examples), the rest of the
 * file kept byte for byte, the join token's line gone, and the result a
 * configuration berthd takes. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"
#include "base/io.h"
#include "check_main.h"
#include "join.h"

static const join_settings js = {
    .address = "tcp://10.1.2.3:7100",
    .key = "/etc/berth/controller.pub",
    .controller_name = "ctl-a",
    .node_name = NULL,
};

/* The text parses as a configuration with the join's settings. */
static void takes(const char *text, const char *node_name)
{
    agent_config cfg;
    berth_error *err = NULL;

    ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
    ck_assert_msg(agent_config_parse(&cfg, "agent.yaml", text, strlen(text), &err) == 0, "%s\n%s",
                  err ? err->msg : "", text);
    ck_assert_str_eq(cfg.controller_address, "tcp://10.1.2.3:7100");
    ck_assert_str_eq(cfg.controller_key, "/etc/berth/controller.pub");
    ck_assert_str_eq(cfg.controller_name, "ctl-a");
    ck_assert_ptr_null(cfg.join_token);
    if (node_name)
        ck_assert_str_eq(cfg.node_name, node_name);
    agent_config_free(&cfg);
}

START_TEST(the_shipped_file)
{
    char *old = NULL, *out = NULL;
    size_t n_old = 0, n_out;

    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, BERTH_SOURCE_DIR "/deploy/agent.yaml", 1 << 20,
                                        &old, NULL, NULL),
                     0);
    join_config_text(old, &js, &out);
    takes(out, NULL);
    /* its comments and other settings stay: the three lines are replaced */
    for (const char *p = old; *p; p += strcspn(p, "\n") + 1)
        n_old++;
    n_out = 0;
    for (const char *p = out; *p; p += strcspn(p, "\n") + 1)
        n_out++;
    ck_assert_uint_eq(n_out, n_old);
    ck_assert_ptr_nonnull(strstr(out, "\ncontroller:\n"));
    ck_assert_ptr_nonnull(strstr(out, "  address: 'tcp://10.1.2.3:7100'\n"));
    ck_assert_ptr_nonnull(strstr(out, "  name: 'ctl-a'\n"));
    ck_assert_ptr_nonnull(strstr(out, "max_parallel_pulls: 2\n"));
    ck_assert_ptr_nonnull(strstr(out, "#join_token:"));
    free(old);
    free(out);
}
END_TEST

START_TEST(flow_style_token_and_node_name)
{
    static const char old[] = "# mine\n"
                              "node_name: old-name\n"
                              "controller: {address: tcp://1.1.1.1:1, key: /x.pub}\n"
                              "join_token: 0123456789ab.0123456789abcdef0123456789abcdef\n"
                              "labels: {zone: b}   # kept\n";
    join_settings named = js;
    char *out = NULL;

    named.node_name = "web-7";
    join_config_text(old, &named, &out);
    takes(out, "web-7");
    ck_assert_str_eq(out, "# mine\n"
                          "node_name: 'web-7'\n"
                          "controller:\n"
                          "  name: 'ctl-a'\n"
                          "  key: '/etc/berth/controller.pub'\n"
                          "  address: 'tcp://10.1.2.3:7100'\n"
                          "labels: {zone: b}   # kept\n");
    free(out);
}
END_TEST

START_TEST(a_block_with_its_own_indent_and_no_file)
{
    static const char old[] = "controller:\n"
                              "    # where\n"
                              "    address: tcp://1.1.1.1:1\n"
                              "    name: 'x'\n"
                              "\n"
                              "state_dir: /srv/b\n";
    char *out = NULL;

    join_config_text(old, &js, &out);
    takes(out, NULL);
    ck_assert_str_eq(out, "controller:\n"
                          "    key: '/etc/berth/controller.pub'\n"
                          "    # where\n"
                          "    address: 'tcp://10.1.2.3:7100'\n"
                          "    name: 'ctl-a'\n"
                          "\n"
                          "state_dir: /srv/b\n");
    free(out);
    /* no file yet: one is made */
    join_config_text(NULL, &js, &out);
    takes(out, NULL);
    free(out);
    /* quotes in a value stay one value */
    {
        join_settings q = js;

        q.key = "/etc/b'rth/controller.pub";
        join_config_text(NULL, &q, &out);
        ck_assert_ptr_nonnull(strstr(out, "key: '/etc/b''rth/controller.pub'"));
        free(out);
    }
}
END_TEST

/* What a review found: CRLF files, a comment at the margin inside the
 * block, a document with a "---" line, one that ends with "...". */
START_TEST(line_ends_comments_and_document_markers)
{
    join_settings named = js;
    char *out = NULL;

    join_config_text("controller:\r\n  address: tcp://1.1.1.1:1\r\nstate_dir: /srv/b\r\n", &js,
                     &out);
    takes(out, NULL);
    ck_assert_str_eq(out, "controller:\r\n"
                          "  name: 'ctl-a'\r\n"
                          "  key: '/etc/berth/controller.pub'\r\n"
                          "  address: 'tcp://10.1.2.3:7100'\r\n"
                          "state_dir: /srv/b\r\n");
    free(out);
    join_config_text("controller:\n  address: x\n# pinned\n  key: /x.pub\nstate_dir: /s\n", &js,
                     &out);
    takes(out, NULL);
    ck_assert_str_eq(out, "controller:\n"
                          "  name: 'ctl-a'\n"
                          "  address: 'tcp://10.1.2.3:7100'\n"
                          "# pinned\n"
                          "  key: '/etc/berth/controller.pub'\n"
                          "state_dir: /s\n");
    free(out);
    named.node_name = "web-7";
    join_config_text("---\nstate_dir: /s\n...\n", &named, &out);
    takes(out, "web-7");
    ck_assert_str_eq(out, "---\n"
                          "node_name: 'web-7'\n"
                          "state_dir: /s\n"
                          "controller:\n"
                          "  name: 'ctl-a'\n"
                          "  key: '/etc/berth/controller.pub'\n"
                          "  address: 'tcp://10.1.2.3:7100'\n"
                          "...\n");
    free(out);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent-join");
    TCase *tc = tcase_create("join");

    tcase_add_test(tc, the_shipped_file);
    tcase_add_test(tc, flow_style_token_and_node_name);
    tcase_add_test(tc, a_block_with_its_own_indent_and_no_file);
    tcase_add_test(tc, line_ends_comments_and_document_markers);
    suite_add_tcase(s, tc);
    return s;
}
