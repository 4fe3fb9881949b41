/* Fuzz target: what registries and image archives send berth as JSON or
 * header text (lib/image/oci.h, auth.h). The first byte picks the reader:
 *
 *   0  a manifest or index (the next byte picks the Content-Type claimed)
 *   1  an image config
 *   2  a WWW-Authenticate value
 *   3  a token server's answer
 *   4  a registry's error body
 *
 * Each either succeeds with a result inside its bounds (digests valid,
 * sizes and counts capped, an index's pick one of its entries) or fails
 * with one line of error; never both, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/auth.h"
#include "image/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, berth_error *err)
{
    if (r >= 0 || !err || !err->msg || strchr(err->msg, '\n'))
        abort();
}

static void check_descriptor(const berth_oci_descriptor *d)
{
    if (!berth_digest_valid(d->digest) || d->size < 0 || d->size > BERTH_OCI_BLOB_MAX)
        abort();
}

static void manifest(const char *type, const uint8_t *data, size_t size)
{
    berth_oci_document *d = NULL;
    berth_error *err = NULL;
    int r = berth_oci_parse(type, data, size, &d, &err);

    if (r < 0) {
        check_error(r, err);
        berth_error_free(&err);
        return;
    }
    if (err || !d || !d->media_type)
        abort();
    if (d->kind == BERTH_OCI_KIND_MANIFEST) {
        check_descriptor(&d->config);
        if (d->n_layers > BERTH_OCI_LAYERS_MAX)
            abort();
        for (size_t i = 0; i < d->n_layers; i++)
            check_descriptor(&d->layers[i]);
    } else {
        berth_oci_platform host = berth_oci_platform_host(), arm = { "linux", "arm64", "v8" };
        const berth_oci_platform *ps[] = { &host, &arm };

        if (d->n_manifests > BERTH_OCI_INDEX_MAX)
            abort();
        for (size_t i = 0; i < d->n_manifests; i++)
            check_descriptor(&d->manifests[i]);
        for (size_t k = 0; k < 2; k++) {
            const berth_oci_descriptor *m = berth_oci_index_pick(d, ps[k], &err);

            if (m ? (m < d->manifests || m >= d->manifests + d->n_manifests || err) : !err)
                abort();
            berth_error_free(&err);
        }
    }
    berth_oci_document_free(d);
}

static void config(const uint8_t *data, size_t size)
{
    berth_image_config *c = NULL;
    berth_error *err = NULL;
    int r = berth_image_config_parse(data, size, &c, &err);

    if (r < 0) {
        check_error(r, err);
        berth_error_free(&err);
        return;
    }
    if (!c || !c->diff_ids || c->n_diff_ids > BERTH_OCI_LAYERS_MAX ||
        c->n_env > BERTH_OCI_LIST_MAX || c->diff_ids[c->n_diff_ids] || (c->env && c->env[c->n_env]))
        abort();
    for (size_t i = 0; i < c->n_diff_ids; i++)
        if (!berth_digest_valid(c->diff_ids[i]))
            abort();
    for (size_t i = 0; i < c->n_env; i++)
        if (!strchr(c->env[i], '='))
            abort();
    berth_image_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = { NULL,
                                         "",
                                         BERTH_OCI_MT_MANIFEST,
                                         BERTH_OCI_MT_INDEX,
                                         BERTH_DOCKER_MT_MANIFEST,
                                         BERTH_DOCKER_MT_LIST,
                                         "application/json; charset=utf-8" };
    char *text;

    if (size < 2)
        return 0;
    switch (data[0] % 5) {
    case 0:
        manifest(types[data[1] % 7], data + 2, size - 2);
        break;
    case 1:
        config(data + 1, size - 1);
        break;
    case 2: {
        berth_registry_challenge c;
        berth_error *err = NULL;
        int r;

        text = strndup((const char *)data + 1, size - 1);
        r = berth_registry_challenge_parse(text, &c, &err);
        if (r < 0) {
            check_error(r, err);
            berth_error_free(&err);
        } else if (c.scheme == BERTH_AUTH_BEARER && (!c.realm || !*c.realm)) {
            abort();
        } else {
            berth_registry_challenge_clear(&c);
        }
        free(text);
        break;
    }
    case 3: {
        char *token = NULL;
        berth_error *err = NULL;
        int r = berth_registry_token_parse(data + 1, size - 1, &token, &err);

        if (r < 0) {
            check_error(r, err);
            berth_error_free(&err);
        } else if (!token || !*token || strlen(token) > BERTH_TOKEN_MAX) {
            abort();
        }
        free(token);
        break;
    }
    default:
        text = berth_registry_error_text(data + 1, size - 1);
        if (text && strchr(text, '\n'))
            abort();
        free(text);
        break;
    }
    return 0;
}
