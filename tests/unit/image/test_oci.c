/* Manifests, indexes, configs, digests, and what registries answer:
 * challenges, tokens, error bodies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "image/auth.h"
#include "image/digest.h"
#include "image/oci.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static berth_oci_document *parse_ok(const char *type, const char *text)
{
    berth_oci_document *d = NULL;
    berth_error *err = NULL;

    if (berth_oci_parse(type, text, strlen(text), &d, &err) < 0)
        ck_abort_msg("%s", err->msg);
    return d;
}

static void parse_bad(const char *type, const char *text, const char *want)
{
    berth_oci_document *d = NULL;
    berth_error *err = NULL;

    ck_assert_berth_error(berth_oci_parse(type, text, strlen(text), &d, &err), err, want);
    ck_assert_ptr_null(d);
}

START_TEST(docker_and_oci_manifests)
{
    static const char docker[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":"
        "1469,\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image."
        "rootfs.diff.tar.gzip\",\"size\":2479,\"digest\":\"" D2 "\"},{\"mediaType\":\"application/"
        "vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":5,\"digest\":\"" D3 "\"}]}";
    static const char oci[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd."
                              "oci.image.config.v1+json\",\"size\":7,\"digest\":\"" D1 "\"},"
                              "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1."
                              "tar+zstd\",\"size\":9,\"digest\":\"" D2 "\",\"urls\":[]}],"
                              "\"annotations\":{\"x\":\"y\"}}";
    berth_oci_document *d =
        parse_ok("application/vnd.docker.distribution.manifest.v2+json", docker);

    ck_assert_int_eq(d->kind, BERTH_OCI_KIND_MANIFEST);
    ck_assert_str_eq(d->config.digest, D1);
    ck_assert_int_eq(d->config.size, 1469);
    ck_assert_uint_eq(d->n_layers, 2);
    ck_assert_str_eq(d->layers[1].digest, D3);
    ck_assert_int_eq(d->layers[0].size, 2479);
    berth_oci_document_free(d);
    /* no mediaType in the document: the Content-Type, then the shape */
    d = parse_ok("application/vnd.oci.image.manifest.v1+json; charset=utf-8", oci);
    ck_assert_int_eq(d->kind, BERTH_OCI_KIND_MANIFEST);
    ck_assert_str_eq(d->media_type, BERTH_OCI_MT_MANIFEST);
    berth_oci_document_free(d);
    d = parse_ok(NULL, oci);
    ck_assert_int_eq(d->kind, BERTH_OCI_KIND_MANIFEST);
    berth_oci_document_free(d);
}
END_TEST

static const char two_platforms[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":10,\"digest\":\"" D1
    "\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":11,\"digest\":\"" D2
    "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":12,\"digest\":\"" D3
    "\",\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";

START_TEST(an_index_picks_the_platform)
{
    berth_oci_document *d = parse_ok(NULL, two_platforms);
    berth_oci_platform amd = { "linux", "amd64", NULL }, arm = { "linux", "arm64", NULL },
                       arm8 = { "linux", "arm64", "v8" }, s390 = { "linux", "s390x", NULL };
    berth_error *err = NULL;

    ck_assert_int_eq(d->kind, BERTH_OCI_KIND_INDEX);
    ck_assert_uint_eq(d->n_manifests, 3);
    ck_assert_str_eq(berth_oci_index_pick(d, &amd, &err)->digest, D2);
    ck_assert_str_eq(berth_oci_index_pick(d, &arm, &err)->digest, D1);
    ck_assert_str_eq(berth_oci_index_pick(d, &arm8, &err)->digest, D1);
    ck_assert_ptr_null(berth_oci_index_pick(d, &s390, &err));
    ck_assert_str_eq(err->msg, "no image for linux/s390x in the index (it has: linux/arm64/v8, "
                               "linux/amd64)");
    berth_error_free(&err);
    berth_oci_document_free(d);
}
END_TEST

START_TEST(platform_strings)
{
    berth_oci_platform p;
    char buf[80];
    berth_error *err = NULL;

    ck_assert_int_eq(berth_oci_platform_parse("linux/arm/v7", buf, sizeof(buf), &p, &err), 0);
    ck_assert_str_eq(p.os, "linux");
    ck_assert_str_eq(p.arch, "arm");
    ck_assert_str_eq(p.variant, "v7");
    ck_assert_berth_error(berth_oci_platform_parse("linux", buf, sizeof(buf), &p, &err), err,
                          "platform 'linux': expected OS/ARCH[/VARIANT]");
#ifdef __x86_64__
    ck_assert_str_eq(berth_oci_platform_host().arch, "amd64");
#endif
    ck_assert_str_eq(berth_oci_platform_host().os, "linux");
}
END_TEST

START_TEST(what_is_not_an_image_is_refused)
{
    parse_bad(NULL, "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}",
              "manifest: Docker schema 1 is not supported (push the image again with a current "
              "client)");
    parse_bad(NULL, "[]", "manifest: not a JSON object");
    parse_bad(NULL, "{\"schemaVersion\":2",
              "manifest: not JSON: '}' expected near end of file "
              "(line 1, column 18)");
    parse_bad(NULL, "{\"schemaVersion\":2,\"mediaType\":\"text/html\"}",
              "manifest: media type 'text/html' is not an image's");
    parse_bad(NULL,
              "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:12\",\"size\":1},"
              "\"layers\":[]}",
              "manifest: config: digest: 'sha256:12' is not a sha256 digest");
    parse_bad(NULL,
              "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1},"
              "\"layers\":[]}",
              "manifest: config.size: required, an integer in 0..68719476736");
    parse_bad(NULL,
              "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},"
              "\"layers\":[{\"mediaType\":\"application/vnd.cncf.helm.chart.content.v1.tar+"
              "gzip\",\"digest\":\"" D2 "\",\"size\":1}]}",
              "manifest: layers[0]: media type 'application/vnd.cncf.helm.chart.content.v1.tar+"
              "gzip' is not a filesystem layer");
    parse_bad(NULL,
              "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm."
              "config.v1+json\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
              "manifest: not a container image (config media type 'application/vnd.cncf.helm."
              "config.v1+json')");
    parse_bad(NULL, "{\"schemaVersion\":2,\"schemaVersion\":2}",
              "manifest: not JSON: duplicate object key near '\"schemaVersion\"' (line 1, column "
              "34)");
}
END_TEST

START_TEST(too_many_layers)
{
    size_t cap = 200 * 120 + 200;
    char *text = malloc(cap);
    size_t n = (size_t)snprintf(text, cap,
                                "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1
                                "\",\"size\":1},\"layers\":[");
    berth_oci_document *d = NULL;
    berth_error *err = NULL;

    for (int i = 0; i < 129; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s{\"digest\":\"" D2 "\",\"size\":1}",
                              i ? "," : "");
    snprintf(text + n, cap - n, "]}");
    ck_assert_berth_error(berth_oci_parse(NULL, text, strlen(text), &d, &err), err,
                          "manifest: layers: 129 entries, at most 128");
    free(text);
}
END_TEST

START_TEST(configs)
{
    static const char cfg[] =
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/bin/sh\","
        "\"-c\"],\"Cmd\":[\"echo "
        "hi\"],\"Env\":[\"PATH=/bin\",\"FOO=bar\"],\"WorkingDir\":\"/data\","
        "\"User\":\"1000:1000\",\"StopSignal\":\"SIGQUIT\",\"Labels\":{\"a\":\"b\"}},\"rootfs\":{"
        "\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},\"history\":[]}";
    berth_image_config *c = NULL;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_image_config_parse(cfg, strlen(cfg), &c, &err), 0);
    ck_assert_str_eq(c->arch, "amd64");
    ck_assert(c->has_entrypoint && c->has_cmd);
    ck_assert_uint_eq(c->n_entrypoint, 2);
    ck_assert_str_eq(c->entrypoint[1], "-c");
    ck_assert_ptr_null(c->entrypoint[2]);
    ck_assert_str_eq(c->cmd[0], "echo hi");
    ck_assert_uint_eq(c->n_env, 2);
    ck_assert_str_eq(c->env[1], "FOO=bar");
    ck_assert_str_eq(c->working_dir, "/data");
    ck_assert_str_eq(c->user, "1000:1000");
    ck_assert_str_eq(c->stop_signal, "SIGQUIT");
    ck_assert_uint_eq(c->n_diff_ids, 2);
    ck_assert_str_eq(c->diff_ids[1], D2);
    berth_image_config_free(c);

    /* null is "not set", not an empty list */
    static const char bare[] = "{\"config\":{\"Entrypoint\":null,\"Cmd\":[]},\"rootfs\":{\"type\":"
                               "\"layers\",\"diff_ids\":[]}}";
    ck_assert_int_eq(berth_image_config_parse(bare, strlen(bare), &c, &err), 0);
    ck_assert(!c->has_entrypoint && c->has_cmd);
    ck_assert_uint_eq(c->n_cmd, 0);
    ck_assert_ptr_null(c->working_dir);
    berth_image_config_free(c);

    static const char badenv[] = "{\"config\":{\"Env\":[\"NOEQUALS\"]},\"rootfs\":{\"type\":"
                                 "\"layers\",\"diff_ids\":[]}}";
    ck_assert_berth_error(berth_image_config_parse(badenv, strlen(badenv), &c, &err), err,
                          "image config: config.Env[0]: 'NOEQUALS' is not NAME=VALUE");
    static const char norootfs[] = "{\"config\":{}}";
    ck_assert_berth_error(berth_image_config_parse(norootfs, strlen(norootfs), &c, &err), err,
                          "image config: rootfs: expected {type: layers, ...}");
    static const char baddiff[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:x\"]}}";
    ck_assert_berth_error(berth_image_config_parse(baddiff, strlen(baddiff), &c, &err), err,
                          "image config: rootfs.diff_ids[0]: diff id: digest algorithm md5 is not "
                          "supported (only sha256)");
}
END_TEST

START_TEST(digests)
{
    char d[BERTH_DIGEST_LEN + 1], s[20];

    berth_sha256_of("", 0, d);
    ck_assert_str_eq(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert(berth_digest_valid(d));
    ck_assert(!berth_digest_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA4959"
                                  "91B7852B855"));
    ck_assert(!berth_digest_valid("sha256:e3b0"));
    ck_assert(!berth_digest_valid(NULL));
    ck_assert_str_eq(berth_digest_short(d, s), "sha256:e3b0c44298fc");
    ck_assert_str_eq(berth_digest_hex(d), d + 7);
}
END_TEST

START_TEST(challenges)
{
    berth_registry_challenge c;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_registry_challenge_parse(
                         "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker."
                         "io\",scope=\"repository:samalba/my-app:pull,push\"",
                         &c, &err),
                     0);
    ck_assert_int_eq(c.scheme, BERTH_AUTH_BEARER);
    ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
    ck_assert_str_eq(c.service, "registry.docker.io");
    ck_assert_str_eq(c.scope, "repository:samalba/my-app:pull,push");
    berth_registry_challenge_clear(&c);
    ck_assert_int_eq(
        berth_registry_challenge_parse("basic realm=\"a \\\"quoted\\\" realm\"", &c, &err), 0);
    ck_assert_int_eq(c.scheme, BERTH_AUTH_BASIC);
    ck_assert_str_eq(c.realm, "a \"quoted\" realm");
    berth_registry_challenge_clear(&c);
    ck_assert_int_eq(
        berth_registry_challenge_parse("Bearer realm=http://x/t , service = s", &c, &err), 0);
    ck_assert_str_eq(c.realm, "http://x/t");
    ck_assert_str_eq(c.service, "s");
    berth_registry_challenge_clear(&c);
    ck_assert_berth_error(berth_registry_challenge_parse("Negotiate abc", &c, &err), err,
                          "WWW-Authenticate: scheme 'Negotiate' is not Basic or Bearer");
    ck_assert_berth_error(berth_registry_challenge_parse("Bearer service=\"x\"", &c, &err), err,
                          "WWW-Authenticate: Bearer without a realm");
    ck_assert_berth_error(berth_registry_challenge_parse("Bearer realm=\"x", &c, &err), err,
                          "WWW-Authenticate: an unterminated quote");
}
END_TEST

START_TEST(tokens_and_error_bodies)
{
    char *t = NULL, *text;
    berth_error *err = NULL;
    const char *a = "{\"token\":\"abc.def\",\"expires_in\":300}";
    const char *b = "{\"access_token\":\"xyz\"}";
    const char *e = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
                    "\"detail\":{}}]}";
    const char *u = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                    "required\"}]}";

    ck_assert_int_eq(berth_registry_token_parse(a, strlen(a), &t, &err), 0);
    ck_assert_str_eq(t, "abc.def");
    free(t);
    ck_assert_int_eq(berth_registry_token_parse(b, strlen(b), &t, &err), 0);
    ck_assert_str_eq(t, "xyz");
    free(t);
    ck_assert_berth_error(berth_registry_token_parse("{}", 2, &t, &err), err,
                          "token answer: no token in it");
    ck_assert_berth_error(berth_registry_token_parse("{\"token\":\"a b\"}", 15, &t, &err), err,
                          "token answer: a token with a space or control character");
    text = berth_registry_error_text(e, strlen(e));
    ck_assert_str_eq(text, "manifest unknown");
    free(text);
    text = berth_registry_error_text(u, strlen(u));
    ck_assert_str_eq(text, "unauthorized: authentication required");
    free(text);
    ck_assert_ptr_null(berth_registry_error_text("<html>", 6));
    ck_assert_ptr_null(berth_registry_error_text(NULL, 0));
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("image-oci");
    TCase *tc = tcase_create("oci");

    tcase_add_test(tc, docker_and_oci_manifests);
    tcase_add_test(tc, an_index_picks_the_platform);
    tcase_add_test(tc, platform_strings);
    tcase_add_test(tc, what_is_not_an_image_is_refused);
    tcase_add_test(tc, too_many_layers);
    tcase_add_test(tc, configs);
    tcase_add_test(tc, digests);
    tcase_add_test(tc, challenges);
    tcase_add_test(tc, tokens_and_error_bodies);
    suite_add_tcase(s, tc);
    return s;
}
