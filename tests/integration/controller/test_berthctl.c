/* berthctl's local behaviour, no controller involved: every command's
 * --help, usage errors (exit 2, message on stderr), keygen's files, and
 * what a missing key says. (berthctl image has its own test,
 * tests/integration/berthctl/image-test.sh.) */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "harness.h"
#include "rpc/keys.h"

static harness h;

static void setup(void)
{
    harness_init(&h, NULL);
}

static void teardown(void)
{
    harness_free(&h);
}

static int run(char **out, char **err, const char *a0, const char *a1, const char *a2,
               const char *a3, const char *a4, const char *a5)
{
    const char *args[] = { a0, a1, a2, a3, a4, a5, NULL };

    return harness_berthctl(&h, out, err, args);
}

START_TEST(every_command_has_help)
{
    static const char *const commands[] = { "apply",  "delete", "get",  "describe", "logs",
                                            "health", "top",    "node", "keygen",   "join-token",
                                            "image",  "agent",  "run" };
    char *out, *err, want[64];

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        ck_assert_int_eq(run(&out, &err, commands[i], "--help", NULL, NULL, NULL, NULL), 0);
        snprintf(want, sizeof(want), "Usage: berthctl %s", commands[i]);
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s: %s", commands[i], out);
        ck_assert_str_eq(err, "");
        free(out);
        free(err);
    }
    ck_assert_int_eq(run(&out, &err, "--help", NULL, NULL, NULL, NULL, NULL), 0);
    ck_assert_ptr_nonnull(
        strstr(out, "  apply        create or update workloads from manifests\n"));
    ck_assert_ptr_nonnull(strstr(out, "--controller ADDR"));
    free(out);
    free(err);
}
END_TEST

START_TEST(usage_errors_exit_2_on_stderr)
{
    char *out, *err;

    ck_assert_int_eq(run(&out, &err, "frobnicate", NULL, NULL, NULL, NULL, NULL), 2);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(err, "berthctl: unknown command 'frobnicate' (see berthctl --help)\n");
    free(out);
    free(err);
    ck_assert_int_eq(run(&out, &err, "get", "services", NULL, NULL, NULL, NULL), 2);
    ck_assert_str_eq(
        err, "berthctl: get 'services'? nodes, namespaces, workloads, pods or containers\n");
    free(out);
    free(err);
    ck_assert_int_eq(run(&out, &err, "get", "nodes", "-o", "xml", NULL, NULL), 2);
    ck_assert_str_eq(err, "berthctl: --output: 'xml' is not wide, json or yaml\n");
    free(out);
    free(err);
    ck_assert_int_eq(run(&out, &err, "apply", NULL, NULL, NULL, NULL, NULL), 2);
    ck_assert_str_eq(err, "berthctl: apply needs -f FILE|DIR|-\n");
    free(out);
    free(err);
    ck_assert_int_eq(run(&out, &err, "get", "nodes", "--timeout", "soon", NULL, NULL), 2);
    ck_assert_str_eq(err, "berthctl: --timeout: timeout 'soon' is not a duration in 1ms..1h\n");
    free(out);
    free(err);
}
END_TEST

START_TEST(missing_keys_are_named)
{
    char *out, *err, want[1024];

    /* the harness points at a controller that never started */
    ck_assert_int_eq(run(&out, &err, "get", "nodes", NULL, NULL, NULL, NULL), 1);
    ck_assert_str_eq(out, "");
    snprintf(want, sizeof(want),
             "berthctl: the controller's public key (--controller-key): load public keys: open "
             "%s: No such file or directory\n",
             h.pub);
    ck_assert_str_eq(err, want);
    free(out);
    free(err);
}
END_TEST

START_TEST(the_config_file_is_read_and_checked)
{
    char path[600], want[1024], *out, *err;

    /* ~/.config/berth/config.yaml: HOME is the harness dir */
    snprintf(path, sizeof(path), "%s/.config/berth", h.dir);
    ck_assert_int_eq(berth_mkdir_p(path, 0700, NULL), 0);
    snprintf(path, sizeof(path), "%s/.config/berth/config.yaml", h.dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, "operator: alice\ncontroler: x\n",
                                                29, 0600, NULL),
                     0);
    ck_assert_int_eq(run(&out, &err, "get", "nodes", NULL, NULL, NULL, NULL), 1);
    snprintf(want, sizeof(want),
             "berthctl: %s:2:1: controler: unknown field (did you mean controller?)\n", path);
    ck_assert_str_eq(err, want);
    free(out);
    free(err);
    /* --config names another file; a missing one is an error */
    ck_assert_int_eq(run(&out, &err, "--config", "/nonexistent.yaml", "get", "nodes", NULL, NULL),
                     1);
    ck_assert_str_eq(err, "berthctl: open /nonexistent.yaml: No such file or directory\n");
    free(out);
    free(err);
}
END_TEST

START_TEST(keygen_writes_a_private_key_and_prints_the_public_one)
{
    char key[600], pub[600], *out, *err;
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    char fp[BERTH_FINGERPRINT_LEN], want[1024];
    berth_keypair kp;
    struct stat sb;
    size_t n = 0;

    snprintf(key, sizeof(key), "%s/alice.key", h.dir);
    snprintf(pub, sizeof(pub), "%s/alice.pub", h.dir);
    {
        const char *args[] = { "keygen", "--operator", "alice", "--out", key, "--pub", pub, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
    }
    ck_assert_int_eq(stat(key, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(berth_keypair_load(AT_FDCWD, key, &kp, NULL), 0);
    ck_assert_int_eq(berth_pubkeys_load(AT_FDCWD, pub, pks, &n, NULL), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(memcmp(pks[0], kp.pk, BERTH_PUBKEY_LEN), 0);
    snprintf(want, sizeof(want), "berth-ed25519-v1 %s alice\n", berth_key_fingerprint(kp.pk, fp));
    ck_assert_str_eq(out, want);
    free(out);
    free(err);
    /* never overwritten by accident */
    ck_assert_int_eq(run(&out, &err, "keygen", "--out", key, NULL, NULL, NULL), 1);
    snprintf(want, sizeof(want), "berthctl: %s exists (--force replaces it)\n", key);
    ck_assert_str_eq(err, want);
    free(out);
    free(err);
}
END_TEST

/* --controller is honoured (it once parsed as --timeout), and a controller
 * that is not there is said at once, not after the call's timeout. */
START_TEST(nothing_listening_is_said_at_once)
{
    char key[600], pub[600], *out, *err;

    /* keys that load, a controller that is not there */
    snprintf(key, sizeof(key), "%s/op.key", h.dir);
    snprintf(pub, sizeof(pub), "%s/op.pub", h.dir);
    {
        const char *args[] = { "keygen", "--out", key, "--pub", pub, NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 0);
        free(out);
        free(err);
    }
    {
        const char *args[] = { "--controller",
                               "ipc:///nonexistent/berth.sock",
                               "--key",
                               key,
                               "--controller-key",
                               pub,
                               "get",
                               "nodes",
                               NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
        ck_assert_str_eq(err, "berthctl: the controller (--controller): nothing listens at "
                              "ipc:///nonexistent/berth.sock: No such file or directory\n");
        free(out);
        free(err);
    }
    {
        const char *args[] = { "get",
                               "nodes",
                               "--controller=tcp://127.0.0.1:1",
                               "--key",
                               key,
                               "--controller-key",
                               pub,
                               "--timeout=60s",
                               NULL };

        ck_assert_int_eq(harness_berthctl(&h, &out, &err, args), 1);
        ck_assert_str_eq(err, "berthctl: the controller (--controller): nothing listens at "
                              "tcp://127.0.0.1:1: Connection refused\n");
        free(out);
        free(err);
    }
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("berthctl");
    TCase *tc = tcase_create("local");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_command_has_help);
    tcase_add_test(tc, usage_errors_exit_2_on_stderr);
    tcase_add_test(tc, nothing_listening_is_said_at_once);
    tcase_add_test(tc, missing_keys_are_named);
    tcase_add_test(tc, the_config_file_is_read_and_checked);
    tcase_add_test(tc, keygen_writes_a_private_key_and_prints_the_public_one);
    suite_add_tcase(s, tc);
    return s;
}
