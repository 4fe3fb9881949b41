/* Image references as Docker and Kubernetes read them, and the default
 * pull policy. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "image/ref.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void norm_is(const char *in, const char *want)
{
    char *got = berth_image_ref_normalize(in);

    ck_assert_msg(got, "%s did not parse", in);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(normalizes_as_docker_does)
{
    norm_is("nginx", "docker.io/library/nginx:latest");
    norm_is("nginx:1.14.2", "docker.io/library/nginx:1.14.2");
    norm_is("library/nginx", "docker.io/library/nginx:latest");
    norm_is("docker.io/nginx", "docker.io/library/nginx:latest");
    norm_is("index.docker.io/library/nginx:1", "docker.io/library/nginx:1");
    norm_is("bitnami/redis:7.0", "docker.io/bitnami/redis:7.0");
    norm_is("registry.k8s.io/busybox:1.27.2", "registry.k8s.io/busybox:1.27.2");
    norm_is("localhost/app", "localhost/app:latest");
    norm_is("localhost:5000/team/app:v1", "localhost:5000/team/app:v1");
    norm_is("127.0.0.1:5000/a/b/c:v1.2-rc_3", "127.0.0.1:5000/a/b/c:v1.2-rc_3");
    norm_is("[::1]:5000/app:v1", "[::1]:5000/app:v1");
    norm_is("ghcr.io/owner/repo-name__x.y", "ghcr.io/owner/repo-name__x.y:latest");
    norm_is("Registry.Example.COM/app", "Registry.Example.COM/app:latest");
    norm_is("nginx@sha256:" HEX64, "docker.io/library/nginx@sha256:" HEX64);
    norm_is("nginx:1.25@sha256:" HEX64, "docker.io/library/nginx:1.25@sha256:" HEX64);
}
END_TEST

START_TEST(parts)
{
    berth_image_ref *r = NULL;
    berth_error *err = NULL;
    char *repo;

    ck_assert_int_eq(berth_image_ref_parse("localhost:5000/team/app@sha256:" HEX64, &r, &err), 0);
    ck_assert_str_eq(r->domain, "localhost:5000");
    ck_assert_str_eq(r->path, "team/app");
    ck_assert_ptr_null(r->tag);
    ck_assert_str_eq(r->digest, "sha256:" HEX64);
    repo = berth_image_ref_repository(r);
    ck_assert_str_eq(repo, "localhost:5000/team/app");
    free(repo);
    berth_image_ref_free(r);
}
END_TEST

static void bad(const char *in, const char *want)
{
    berth_image_ref *r = NULL;
    berth_error *err = NULL;

    ck_assert_berth_error(berth_image_ref_parse(in, &r, &err), err, want);
    ck_assert_ptr_null(r);
}

START_TEST(refuses_what_docker_refuses)
{
    bad("", "image reference: empty");
    bad("Nginx", "image reference 'Nginx': repository name must be lowercase");
    bad("docker.io/Library/nginx",
        "image reference 'docker.io/Library/nginx': repository name must be lowercase");
    bad("nginx:", "image reference 'nginx:': tag '' is not valid (1-128 of A-Z a-z 0-9 _ . -, "
                  "not starting with . or -)");
    bad("nginx:-x", "image reference 'nginx:-x': tag '-x' is not valid (1-128 of A-Z a-z 0-9 _ . "
                    "-, not starting with . or -)");
    bad("a//b", "image reference 'a//b': '' is not a valid name component (a-z 0-9, separated by "
                ". _ __ or -)");
    bad("a/b_", "image reference 'a/b_': 'b_' is not a valid name component (a-z 0-9, separated "
                "by . _ __ or -)");
    bad("a/b___c", "image reference 'a/b___c': 'b___c' is not a valid name component (a-z 0-9, "
                   "separated by . _ __ or -)");
    bad("nginx@sha256:abc", "image reference 'nginx@sha256:abc': digest: 'sha256:abc' is not a "
                            "sha256 digest");
    bad("nginx@sha512:" HEX64 HEX64, "image reference 'nginx@sha512:" HEX64 HEX64
                                     "': digest: digest algorithm sha512 is not supported (only "
                                     "sha256)");
    bad(HEX64, "image reference '" HEX64 "': a 64-hex-digit name is an image id, not a repository");
    bad("nginx latest", "image reference: a space or control character at position 6");
    bad("host:99999999/app", "image reference 'host:99999999/app': registry host 'host:99999999' "
                             "is not valid");
    bad("-bad.example.com/app", "image reference '-bad.example.com/app': registry host "
                                "'-bad.example.com' is not valid");
}
END_TEST

START_TEST(long_names_are_refused)
{
    char name[300];
    berth_image_ref *r = NULL;
    berth_error *err = NULL;

    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_lt(berth_image_ref_parse(name, &r, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "longer than 255 characters"));
    berth_error_free(&err);
}
END_TEST

static berth_pull_policy policy_of(const char *s)
{
    berth_image_ref *r = NULL;
    berth_pull_policy p;

    ck_assert_int_eq(berth_image_ref_parse(s, &r, NULL), 0);
    p = berth_image_ref_default_policy(r);
    berth_image_ref_free(r);
    return p;
}

START_TEST(default_pull_policy_is_kubernetes)
{
    ck_assert_int_eq(policy_of("nginx"), BERTH_PULL_ALWAYS);
    ck_assert_int_eq(policy_of("nginx:latest"), BERTH_PULL_ALWAYS);
    ck_assert_int_eq(policy_of("nginx:1.14.2"), BERTH_PULL_IF_NOT_PRESENT);
    ck_assert_int_eq(policy_of("nginx@sha256:" HEX64), BERTH_PULL_IF_NOT_PRESENT);
    ck_assert_int_eq(policy_of("nginx:latest@sha256:" HEX64), BERTH_PULL_ALWAYS);
}
END_TEST

START_TEST(policy_names)
{
    berth_pull_policy p;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_pull_policy_parse("IfNotPresent", &p, &err), 0);
    ck_assert_int_eq(p, BERTH_PULL_IF_NOT_PRESENT);
    ck_assert_str_eq(berth_pull_policy_name(BERTH_PULL_NEVER), "Never");
    ck_assert_berth_error(berth_pull_policy_parse("Sometimes", &p, &err), err,
                          "pull policy 'Sometimes' is not one of Always, IfNotPresent, Never");
}
END_TEST

START_TEST(loopback_hosts)
{
    ck_assert(berth_image_host_is_loopback("localhost"));
    ck_assert(berth_image_host_is_loopback("localhost:5000"));
    ck_assert(berth_image_host_is_loopback("127.0.0.1:5000"));
    ck_assert(berth_image_host_is_loopback("127.1.2.3"));
    ck_assert(berth_image_host_is_loopback("[::1]:5000"));
    ck_assert(!berth_image_host_is_loopback("127.0.0.1.example.com"));
    ck_assert(!berth_image_host_is_loopback("localhost.example.com"));
    ck_assert(!berth_image_host_is_loopback("10.0.0.1:5000"));
    ck_assert(!berth_image_host_is_loopback("docker.io"));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image-ref");
    TCase *tc = tcase_create("ref");

    tcase_add_test(tc, normalizes_as_docker_does);
    tcase_add_test(tc, parts);
    tcase_add_test(tc, refuses_what_docker_refuses);
    tcase_add_test(tc, long_names_are_refused);
    tcase_add_test(tc, default_pull_policy_is_kubernetes);
    tcase_add_test(tc, policy_names);
    tcase_add_test(tc, loopback_hosts);
    suite_add_tcase(s, tc);
    return s;
}
