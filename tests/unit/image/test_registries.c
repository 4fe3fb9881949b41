/* registries.yaml: what it configures, the endpoints a registry gets, and
 * its mistakes, read strictly like agent.yaml. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "image/registries.h"

static berth_registries *parse_ok(const char *text)
{
    berth_registries *c = NULL;
    berth_error *err = NULL;

    if (berth_registries_parse("registries.yaml", text, strlen(text), &c, &err) < 0)
        ck_abort_msg("%s", err->msg);
    return c;
}

static void parse_bad(const char *text, const char *want)
{
    berth_registries *c = NULL;
    berth_error *err = NULL;

    ck_assert_berth_error(berth_registries_parse("registries.yaml", text, strlen(text), &c, &err),
                          err, want);
    ck_assert_ptr_null(c);
}

static const char example[] = "registries:\n"
                              "  docker.io:\n"
                              "    mirrors: [mirror.internal:5000, \"http://10.0.0.5:5000\"]\n"
                              "  mirror.internal:5000:\n"
                              "    ca_file: /etc/berth/mirror-ca.pem\n"
                              "    auth: {username: berth, password: s3cret}\n"
                              "  10.0.0.5:5000:\n"
                              "    insecure: true\n"
                              "  ghcr.io:\n"
                              "    auth: {token: abc}\n";

START_TEST(the_example)
{
    berth_registries *c = parse_ok(example);
    const berth_registry_host *h = berth_registries_find(c, "docker.io");

    ck_assert_uint_eq(c->n_hosts, 4);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->n_mirrors, 2);
    ck_assert_str_eq(h->mirrors[0], "mirror.internal:5000");
    ck_assert(!h->mirror_http[0]);
    ck_assert_str_eq(h->mirrors[1], "10.0.0.5:5000");
    ck_assert(h->mirror_http[1]);
    h = berth_registries_find(c, "mirror.internal:5000");
    ck_assert_str_eq(h->ca_file, "/etc/berth/mirror-ca.pem");
    ck_assert_str_eq(h->username, "berth");
    ck_assert_str_eq(h->password, "s3cret");
    ck_assert(berth_registries_find(c, "10.0.0.5:5000")->insecure);
    ck_assert_str_eq(berth_registries_find(c, "ghcr.io")->token, "abc");
    ck_assert_ptr_null(berth_registries_find(c, "quay.io"));
    berth_registries_free(c);
}
END_TEST

START_TEST(endpoints_mirrors_first_each_with_its_own_settings)
{
    berth_registries *c = parse_ok(example);
    berth_registry_endpoint e[BERTH_REGISTRY_ENDPOINTS_MAX];
    size_t n = berth_registries_endpoints(c, "docker.io", e);

    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(e[0].host, "mirror.internal:5000");
    ck_assert(e[0].mirror && !e[0].http_only && e[0].tls_verify && !e[0].http_fallback);
    ck_assert_str_eq(e[0].ca_file, "/etc/berth/mirror-ca.pem");
    ck_assert_str_eq(e[0].username, "berth");
    ck_assert_str_eq(e[1].host, "10.0.0.5:5000");
    ck_assert(e[1].mirror && e[1].http_only && !e[1].tls_verify && e[1].http_fallback);
    /* docker.io itself is served by registry-1.docker.io */
    ck_assert_str_eq(e[2].name, "docker.io");
    ck_assert_str_eq(e[2].host, "registry-1.docker.io");
    ck_assert(!e[2].mirror && e[2].tls_verify && !e[2].http_fallback);
    ck_assert_ptr_null(e[2].username);
    n = berth_registries_endpoints(c, "ghcr.io", e);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(e[0].token, "abc");
    berth_registries_free(c);
}
END_TEST

START_TEST(unlisted_registries_and_loopback)
{
    berth_registry_endpoint e[BERTH_REGISTRY_ENDPOINTS_MAX];

    ck_assert_uint_eq(berth_registries_endpoints(NULL, "127.0.0.1:5000", e), 1);
    ck_assert(e[0].http_fallback && e[0].tls_verify && !e[0].http_only);
    ck_assert_uint_eq(berth_registries_endpoints(NULL, "quay.io", e), 1);
    ck_assert(!e[0].http_fallback && e[0].tls_verify);
    ck_assert_ptr_null(e[0].ca_file);
}
END_TEST

START_TEST(empty_and_missing_files_configure_nothing)
{
    berth_registries *c = parse_ok("");
    berth_error *err = NULL;

    ck_assert_uint_eq(c->n_hosts, 0);
    berth_registries_free(c);
    c = parse_ok("registries: {}\n");
    berth_registries_free(c);
    ck_assert_int_eq(berth_registries_load("/nonexistent/registries.yaml", false, &c, &err), 0);
    ck_assert_uint_eq(c->n_hosts, 0);
    berth_registries_free(c);
    ck_assert_berth_error(berth_registries_load("/nonexistent/registries.yaml", true, &c, &err),
                          err, "open /nonexistent/registries.yaml: No such file or directory");
}
END_TEST

/* A pod's imagePullSecrets: docker configs' credentials, by their
 * "username" and "password" or "auth", over the node's own. */
START_TEST(docker_configs_give_credentials)
{
    static const char cfg[] =
        "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"dXNlcjpwYXNz\"},"
        " \"mirror.internal:5000\": {\"username\": \"ci\", \"password\": \"p2\"},"
        " \"https://ghcr.io/v2/\": {\"email\": \"x@y\"}}}";
    berth_registries *c = parse_ok(example);
    berth_registry_endpoint e[BERTH_REGISTRY_ENDPOINTS_MAX];
    berth_error *err = NULL;
    size_t n;

    ck_assert_int_eq(berth_registries_add_docker_config(c, cfg, strlen(cfg), &err), 0);
    n = berth_registries_endpoints(c, "docker.io", e);
    ck_assert_str_eq(e[n - 1].username, "user");
    ck_assert_str_eq(e[n - 1].password, "pass");
    /* the node's mirror credentials give way to the pod's */
    ck_assert_str_eq(e[0].username, "ci");
    ck_assert_str_eq(e[0].password, "p2");
    /* no credentials in it: the node's token stays */
    n = berth_registries_endpoints(c, "ghcr.io", e);
    ck_assert_str_eq(e[n - 1].token, "abc");
    ck_assert_ptr_null(e[n - 1].username);
    /* with credentials: they replace the node's token, sent first */
    {
        static const char ghcr[] =
            "{\"auths\": {\"ghcr.io\": {\"username\": \"me\", \"password\": \"pw\"}}}";

        ck_assert_int_eq(berth_registries_add_docker_config(c, ghcr, strlen(ghcr), &err), 0);
        n = berth_registries_endpoints(c, "ghcr.io", e);
        ck_assert_ptr_null(e[n - 1].token);
        ck_assert_str_eq(e[n - 1].username, "me");
    }
    /* what would break a header or the user:password split is passed over */
    {
        static const char bad[] =
            "{\"auths\": {\"quay.io\": {\"username\": \"a:b\", \"password\": \"p\"},"
            " \"r.example\": {\"username\": \"u\", \"password\": \"p\\r\\nX: y\"}}}";

        ck_assert_int_eq(berth_registries_add_docker_config(c, bad, strlen(bad), &err), 0);
        n = berth_registries_endpoints(c, "quay.io", e);
        ck_assert_ptr_null(e[n - 1].username);
        n = berth_registries_endpoints(c, "r.example", e);
        ck_assert_ptr_null(e[n - 1].username);
    }
    ck_assert_berth_error(berth_registries_add_docker_config(c, "{}", 2, &err), err,
                          ".dockerconfigjson: not {\"auths\": {...}}");
    berth_registries_free(c);
}
END_TEST

START_TEST(mistakes_are_named_where_they_are)
{
    parse_bad("registires:\n  docker.io: {}\n",
              "registries.yaml:1:1: registires: unknown field (did you mean registries?)");
    parse_bad("registries:\n  docker.io:\n    mirors: [a.b]\n",
              "registries.yaml:3:5: registries.docker.io.mirors: unknown field (did you mean "
              "mirrors?)");
    parse_bad(
        "registries:\n  docker.io:\n    insecure: maybe\n",
        "registries.yaml:3:15: registries.docker.io.insecure: expected true or false, got the "
        "string \"maybe\"");
    parse_bad("registries:\n  docker.io:\n    mirrors: [\"https://m.example/v2\"]\n",
              "registries.yaml:3:15: registries.docker.io.mirrors[0]: 'https://m.example/v2' is "
              "not a registry host (HOST[:PORT], no path)");
    parse_bad("registries:\n  docker.io:\n    mirrors: [\"ftp://m\"]\n",
              "registries.yaml:3:15: registries.docker.io.mirrors[0]: 'ftp://m': a mirror is "
              "HOST[:PORT], https://HOST or http://HOST");
    parse_bad("registries:\n  \"https://x\":\n    insecure: true\n",
              "registries.yaml:2:3: registries.https://x: 'https://x' is not a registry host (as "
              "an image reference names it: docker.io, registry.example.com:5000)");
    parse_bad("registries:\n  a.io:\n    auth: {username: u}\n",
              "registries.yaml:3:11: registries.a.io.auth: username and password go together");
    parse_bad("registries:\n  a.io:\n    auth: {username: u, password: p, token: t}\n",
              "registries.yaml:3:11: registries.a.io.auth: either username and password, or "
              "token");
    parse_bad("registries:\n  a.io:\n    ca_file: relative.pem\n",
              "registries.yaml:3:14: registries.a.io.ca_file: must be an absolute path");
    parse_bad("registries:\n  a.io:\n    mirrors: [a.io]\n",
              "registries.yaml:3:14: registries.a.io.mirrors: a.io is its own mirror");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image-registries");
    TCase *tc = tcase_create("registries");

    tcase_add_test(tc, the_example);
    tcase_add_test(tc, endpoints_mirrors_first_each_with_its_own_settings);
    tcase_add_test(tc, unlisted_registries_and_loopback);
    tcase_add_test(tc, empty_and_missing_files_configure_nothing);
    tcase_add_test(tc, mistakes_are_named_where_they_are);
    tcase_add_test(tc, docker_configs_give_credentials);
    suite_add_tcase(s, tc);
    return s;
}
