#include "layout.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"

static void put_blob(const char *dir, const void *data, size_t len,
                     char digest[BERTH_DIGEST_LEN + 1])
{
    char path[512];
    berth_error *err = NULL;

    berth_sha256_of(data, len, digest);
    snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, berth_digest_hex(digest));
    if (berth_write_file_atomic_at(AT_FDCWD, path, data, len, 0644, &err) < 0)
        ck_abort_msg("%s", err->msg);
}

static json_t *desc(const char *type, const char *digest, size_t size)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", type, "digest", digest, "size",
                     (json_int_t)size);
}

void layout_write(const char *dir, const char *name, const layer_fn *layers, size_t n,
                  char (*ret_diff_ids)[BERTH_DIGEST_LEN + 1])
{
    char path[512], digest[BERTH_DIGEST_LEN + 1], cfg_digest[BERTH_DIGEST_LEN + 1];
    json_t *diff_ids = json_array(), *ldescs = json_array(), *cfg, *man, *index, *entries;
    char *text;
    size_t cfg_len;
    berth_error *err = NULL;

    snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
    ck_assert_int_eq(berth_mkdir_p(path, 0755, &err), 0);
    for (size_t i = 0; i < n; i++) {
        tarb plain, gz;
        char diff[BERTH_DIGEST_LEN + 1];

        tb_begin(&plain, ARCHIVE_FILTER_NONE);
        layers[i](&plain);
        tb_end(&plain);
        berth_sha256_of(plain.buf, plain.used, diff);
        free(plain.buf);
        if (ret_diff_ids)
            memcpy(ret_diff_ids[i], diff, sizeof(diff));
        tb_begin(&gz, ARCHIVE_FILTER_GZIP);
        layers[i](&gz);
        tb_end(&gz);
        put_blob(dir, gz.buf, gz.used, digest);
        json_array_append_new(diff_ids, json_string(diff));
        json_array_append_new(ldescs,
                              desc("application/vnd.oci.image.layer.v1.tar+gzip", digest, gz.used));
        free(gz.buf);
    }
    cfg = json_pack("{s:s, s:s, s:{s:[s], s:[s], s:[s]}, s:{s:s, s:o}}", "architecture", "amd64",
                    "os", "linux", "config", "Entrypoint", "/bin/sh", "Cmd", "-c", "Env",
                    "PATH=/bin", "rootfs", "type", "layers", "diff_ids", diff_ids);
    text = json_dumps(cfg, JSON_COMPACT);
    cfg_len = strlen(text);
    put_blob(dir, text, cfg_len, cfg_digest);
    free(text);
    json_decref(cfg);
    man = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
                    "application/vnd.oci.image.manifest.v1+json", "config",
                    desc("application/vnd.oci.image.config.v1+json", cfg_digest, cfg_len), "layers",
                    ldescs);
    text = json_dumps(man, JSON_COMPACT);
    put_blob(dir, text, strlen(text), digest);
    json_decref(man);
    /* the index: add to what is there */
    snprintf(path, sizeof(path), "%s/index.json", dir);
    index = json_load_file(path, 0, NULL);
    if (!index)
        index = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
    entries = json_object_get(index, "manifests");
    json_array_append_new(entries,
                          json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
                                    "application/vnd.oci.image.manifest.v1+json", "digest", digest,
                                    "size", (json_int_t)strlen(text), "annotations",
                                    "org.opencontainers.image.ref.name", name));
    free(text);
    ck_assert_int_eq(json_dump_file(index, path, JSON_COMPACT), 0);
    json_decref(index);
    snprintf(path, sizeof(path), "%s/oci-layout", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(
                         AT_FDCWD, path, "{\"imageLayoutVersion\":\"1.0.0\"}", 31, 0644, &err),
                     0);
}
