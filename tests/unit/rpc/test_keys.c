/* Key pairs, key files (mode, atomicity, format), public key files with
 * one or two keys, fingerprints and join tokens. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "rpc/keys.h"
#include "rpc_test_util.h"

static char *dir;

static void setup(void)
{
    dir = tmpdir_make();
}

static void teardown(void)
{
    tmpdir_remove(dir);
    dir = NULL;
}

static char *path_in(const char *name)
{
    static char p[256];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

START_TEST(key_file_round_trip_is_0600)
{
    berth_keypair kp, back;
    berth_error *err = NULL;
    struct stat st;

    ck_assert_int_eq(berth_keypair_generate(&kp, &err), 0);
    ck_assert_int_eq(berth_keypair_save(AT_FDCWD, path_in("node.key"), &kp, &err), 0);
    ck_assert_int_eq(stat(path_in("node.key"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(berth_keypair_load(AT_FDCWD, path_in("node.key"), &back, &err), 0);
    ck_assert_mem_eq(back.pk, kp.pk, sizeof(kp.pk));
    ck_assert_mem_eq(back.sk, kp.sk, sizeof(kp.sk));
    ck_assert_mem_eq(back.id, kp.id, sizeof(kp.id));
}
END_TEST

START_TEST(key_file_readable_by_others_is_refused)
{
    berth_keypair kp, back;
    berth_error *err = NULL;
    char want[512];

    ck_assert_int_eq(berth_keypair_generate(&kp, &err), 0);
    ck_assert_int_eq(berth_keypair_save(AT_FDCWD, path_in("node.key"), &kp, &err), 0);
    ck_assert_int_eq(chmod(path_in("node.key"), 0640), 0);
    snprintf(want, sizeof(want),
             "key file %s: mode 0640 lets others read the secret key; chmod 600 it",
             path_in("node.key"));
    ck_assert_berth_error(berth_keypair_load(AT_FDCWD, path_in("node.key"), &back, &err), err,
                          want);
}
END_TEST

START_TEST(malformed_key_files_are_refused)
{
    berth_keypair back;
    berth_error *err = NULL;
    char want[512];

    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("bad.key"), "ssh-ed25519 AAAA\n",
                                                17, 0600, &err),
                     0);
    snprintf(want, sizeof(want),
             "key file %s: not a berth secret key (expected 'berth-ed25519-secret-v1')",
             path_in("bad.key"));
    ck_assert_berth_error(berth_keypair_load(AT_FDCWD, path_in("bad.key"), &back, &err), err, want);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("short.key"),
                                                "berth-ed25519-secret-v1 AAAA\n", 29, 0600, &err),
                     0);
    snprintf(want, sizeof(want), "key file %s: malformed key", path_in("short.key"));
    ck_assert_berth_error(berth_keypair_load(AT_FDCWD, path_in("short.key"), &back, &err), err,
                          want);
}
END_TEST

START_TEST(load_or_generate_creates_once)
{
    berth_keypair a, b;
    berth_error *err = NULL;
    bool created = false;

    ck_assert_int_eq(berth_keypair_load_or_generate(AT_FDCWD, path_in("k"), &a, &created, &err), 0);
    ck_assert(created);
    ck_assert_int_eq(berth_keypair_load_or_generate(AT_FDCWD, path_in("k"), &b, &created, &err), 0);
    ck_assert(!created);
    ck_assert_mem_eq(a.pk, b.pk, sizeof(a.pk));
    /* a key file that is there but unusable is reported, never replaced */
    ck_assert_int_eq(chmod(path_in("k"), 0644), 0);
    ck_assert_int_lt(berth_keypair_load_or_generate(AT_FDCWD, path_in("k"), &b, &created, &err), 0);
    ck_assert_int_eq(err->code, EPERM);
    berth_error_free(&err);
    ck_assert_int_lt(berth_keypair_load_or_generate(AT_FDCWD, path_in("k"), &b, &created, NULL), 0);
    ck_assert_int_eq(chmod(path_in("k"), 0600), 0);
    ck_assert_int_eq(berth_keypair_load(AT_FDCWD, path_in("k"), &b, &err), 0);
    ck_assert_mem_eq(a.pk, b.pk, sizeof(a.pk));
}
END_TEST

START_TEST(public_key_files_hold_one_or_two_keys)
{
    berth_keypair k1, k2;
    uint8_t pks[2][BERTH_PUBKEY_LEN], back[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    char fp1[BERTH_FINGERPRINT_LEN], fp2[BERTH_FINGERPRINT_LEN], text[512], want[512];
    berth_error *err = NULL;
    size_t n = 0;
    struct stat st;

    berth_keypair_generate(&k1, &err);
    berth_keypair_generate(&k2, &err);
    memcpy(pks[0], k1.pk, 32);
    memcpy(pks[1], k2.pk, 32);
    ck_assert_int_eq(berth_pubkeys_save(AT_FDCWD, path_in("controller.pub"), pks, 2, &err), 0);
    ck_assert_int_eq(stat(path_in("controller.pub"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    ck_assert_int_eq(berth_pubkeys_load(AT_FDCWD, path_in("controller.pub"), back, &n, &err), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(back[0], k1.pk, 32);
    ck_assert_mem_eq(back[1], k2.pk, 32);

    /* comments, a trailing comment on the key line */
    snprintf(text, sizeof(text), "# the controller\n\nberth-ed25519-v1 %s ctl-2026\n",
             berth_key_fingerprint(k1.pk, fp1));
    berth_write_file_atomic_at(AT_FDCWD, path_in("one.pub"), text, strlen(text), 0644, &err);
    ck_assert_int_eq(berth_pubkeys_load(AT_FDCWD, path_in("one.pub"), back, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_mem_eq(back[0], k1.pk, 32);

    snprintf(text, sizeof(text), "berth-ed25519-v1 %s\nberth-ed25519-v1 %s\nberth-ed25519-v1 %s\n",
             fp1, berth_key_fingerprint(k2.pk, fp2), fp1);
    berth_write_file_atomic_at(AT_FDCWD, path_in("three.pub"), text, strlen(text), 0644, &err);
    snprintf(want, sizeof(want),
             "public key file %s: more than 2 keys (one, or two while rotating)",
             path_in("three.pub"));
    ck_assert_berth_error(berth_pubkeys_load(AT_FDCWD, path_in("three.pub"), back, &n, &err), err,
                          want);
}
END_TEST

START_TEST(fingerprints_round_trip)
{
    berth_keypair k;
    berth_error *err = NULL;
    char fp[BERTH_FINGERPRINT_LEN];
    uint8_t back[32];

    berth_keypair_generate(&k, &err);
    berth_key_fingerprint(k.pk, fp);
    ck_assert_uint_eq(strlen(fp), 44);
    ck_assert_int_eq(berth_key_parse_fingerprint(fp, back, &err), 0);
    ck_assert_mem_eq(back, k.pk, 32);
    ck_assert_berth_error(berth_key_parse_fingerprint("not-a-key", back, &err), err,
                          "key fingerprint 'not-a-key': not a base64 Ed25519 public key");
}
END_TEST

START_TEST(join_tokens_format_and_parse)
{
    berth_join_token t, back;
    berth_error *err = NULL;
    char text[BERTH_TOKEN_TEXT_LEN];

    berth_join_token_generate(&t);
    berth_join_token_format(&t, text);
    ck_assert_uint_eq(strlen(text), 45);
    ck_assert_int_eq(text[12], '.');
    ck_assert_int_eq(berth_join_token_parse(text, &back, &err), 0);
    ck_assert_mem_eq(back.id, t.id, sizeof(t.id));
    ck_assert_mem_eq(back.secret, t.secret, sizeof(t.secret));
    text[20] = 'X';
    ck_assert_berth_error(berth_join_token_parse(text, &back, &err), err,
                          "join token: expected <id>.<secret> (12 and 32 lowercase hex digits)");
    ck_assert_berth_error(berth_join_token_parse("abc.def", &back, &err), err,
                          "join token: expected <id>.<secret> (12 and 32 lowercase hex digits)");
}
END_TEST

START_TEST(principal_names_are_checked)
{
    berth_principal a, b, c;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_principal_init(&a, BERTH_ROLE_NODE, "worker-1", &err), 0);
    ck_assert_int_eq(berth_principal_init(&b, BERTH_ROLE_CONTROLLER, "worker-1", &err), 0);
    ck_assert_int_eq(berth_principal_init(&c, BERTH_ROLE_NODE, "worker-1", &err), 0);
    /* the role is part of the id: a node can never carry a controller's id */
    ck_assert(!berth_id_eq(a.id, b.id));
    ck_assert(berth_id_eq(a.id, c.id));
    ck_assert_berth_error(berth_principal_init(&a, BERTH_ROLE_NODE, "Worker", &err), err,
                          "node 'Worker': invalid character at 1 (allowed: a-z 0-9 _ . -, "
                          "starting with a letter or digit)");
    ck_assert_berth_error(berth_principal_init(&a, BERTH_ROLE_NODE, "", &err), err,
                          "node: empty name");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/keys");
    TCase *tc = tcase_create("keys");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, key_file_round_trip_is_0600);
    tcase_add_test(tc, key_file_readable_by_others_is_refused);
    tcase_add_test(tc, malformed_key_files_are_refused);
    tcase_add_test(tc, load_or_generate_creates_once);
    tcase_add_test(tc, public_key_files_hold_one_or_two_keys);
    tcase_add_test(tc, fingerprints_round_trip);
    tcase_add_test(tc, join_tokens_format_and_parse);
    tcase_add_test(tc, principal_names_are_checked);
    suite_add_tcase(s, tc);
    return s;
}
