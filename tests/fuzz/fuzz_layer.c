/* Fuzz target: a layer's tar stream (gzip, zstd or plain) unpacked into a
 * fresh directory, as a pull does once the blob's digest checked
 * (lib/image/layer.h). Whatever the stream holds (whiteouts, hard links,
 * absolute and '..' paths, a symlink to lead a later entry astray, device
 * nodes), nothing may appear outside the layer's directory: the target
 * unpacks into SANDBOX/layer and checks that SANDBOX holds nothing else
 * afterwards. Success with a diff id, or one line of error; never both. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "image/layer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sandbox[64];

static void remove_sandbox(void)
{
    berth_rm_rf_at(AT_FDCWD, sandbox, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    berth_layer_stats st;
    berth_error *err = NULL;
    struct dirent *e;
    DIR *d;
    int sfd, dfd, r;

    if (!*sandbox) {
        snprintf(sandbox, sizeof(sandbox), "/tmp/berth-fuzz-layer.XXXXXX");
        if (!mkdtemp(sandbox))
            abort();
        atexit(remove_sandbox);
    }
    sfd = open(sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0 || mkdirat(sfd, "layer", 0755) < 0)
        abort();
    dfd = openat(sfd, "layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        abort();
    r = berth_layer_unpack_mem(data, size, dfd, &st, &err);
    if (r < 0 ? !err || strchr(err->msg, '\n') : err || !berth_digest_valid(st.diff_id))
        abort();
    berth_error_free(&err);
    close(dfd);
    /* nothing beside the layer */
    d = fdopendir(dup(sfd));
    if (!d)
        abort();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "layer") != 0) {
            fprintf(stderr, "fuzz_layer: %s/%s written outside the layer\n", sandbox, e->d_name);
            abort();
        }
    closedir(d);
    if (berth_rm_rf_at(sfd, "layer", &err) < 0) {
        fprintf(stderr, "fuzz_layer: %s\n", err->msg);
        abort();
    }
    close(sfd);
    return 0;
}
