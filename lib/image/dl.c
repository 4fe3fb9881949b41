/* libcurl and libarchive, opened when first needed (dl.h). */
#define IMAGE_DL_IMPL
#include "image/dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

struct image_dl image_dl;

struct dl_lib {
    const char *soname, *package;
    pthread_once_t once;
    char error[512];
};

static struct dl_lib curl_lib = { "libcurl.so.4", "libcurl4", PTHREAD_ONCE_INIT, "" };
static struct dl_lib archive_lib = { "libarchive.so.13", "libarchive13", PTHREAD_ONCE_INIT, "" };

/* dlsym each name of the table into its slot; on the first failure the
 * library's error is kept for every caller. */
static void *dl_open(struct dl_lib *l)
{
    /* RTLD_NODELETE: its symbols stay valid for the process's life */
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

    if (!h)
        snprintf(l->error, sizeof(l->error), "%s (install the Debian package %s)", dlerror(),
                 l->package);
    return h;
}

static bool dl_sym(struct dl_lib *l, void *h, const char *name, void **slot)
{
    *slot = dlsym(h, name);
    if (!*slot) {
        snprintf(l->error, sizeof(l->error), "%s: no symbol %s", l->soname, name);
        return false;
    }
    return true;
}

#define IMAGE_DL_SYM(f)                                                                            \
    if (ok)                                                                                        \
        ok = dl_sym(l, h, #f, (void **)&image_dl.f);

static void load_curl(void)
{
    struct dl_lib *l = &curl_lib;
    void *h = dl_open(l);
    bool ok = h != NULL;

    IMAGE_DL_CURL(IMAGE_DL_SYM)
    if (ok && image_dl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        snprintf(l->error, sizeof(l->error), "%s: curl_global_init failed", l->soname);
}

static void load_archive(void)
{
    struct dl_lib *l = &archive_lib;
    void *h = dl_open(l);
    bool ok = h != NULL;

    IMAGE_DL_ARCHIVE(IMAGE_DL_SYM)
    (void)ok;
}

static int dl_result(struct dl_lib *l, berth_error **err)
{
    if (!l->error[0])
        return 0;
    return berth_error_set(err, ENOSYS, "%s", l->error);
}

int image_dl_curl(berth_error **err)
{
    pthread_once(&curl_lib.once, load_curl);
    return dl_result(&curl_lib, err);
}

int image_dl_archive(berth_error **err)
{
    pthread_once(&archive_lib.once, load_archive);
    return dl_result(&archive_lib, err);
}
