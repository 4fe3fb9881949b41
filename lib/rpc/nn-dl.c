/* libnanomsg, opened when first needed (nn-dl.h). */
#define RPC_NN_IMPL
#include "nn-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

struct rpc_nn rpc_nn;

/* the library the headers describe: libnanomsg.so.(current - age) */
#define NN_SONAME_STR_(n) "libnanomsg.so." #n
#define NN_SONAME_STR(n)  NN_SONAME_STR_(n)
#if NN_VERSION_AGE != 0
#error "libnanomsg's soname: update NN_SONAME for a nonzero NN_VERSION_AGE"
#endif
#define NN_SONAME NN_SONAME_STR(NN_VERSION_CURRENT)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char error[512];

#define RPC_NN_SYM(f)                                                                              \
    if (ok && !(*(void **)&rpc_nn.f = dlsym(h, #f))) {                                             \
        snprintf(error, sizeof(error), NN_SONAME ": no symbol %s", #f);                            \
        ok = false;                                                                                \
    }

static void load(void)
{
    /* RTLD_NODELETE: its symbols stay valid for the process's life */
    void *h = dlopen(NN_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    bool ok = h != NULL;

    if (!h) {
        snprintf(error, sizeof(error), "%s (install the Debian package libnanomsg5)", dlerror());
        return;
    }
    RPC_NN_FUNCS(RPC_NN_SYM)
}

int rpc_nn_load(berth_error **err)
{
    pthread_once(&once, load);
    if (!error[0])
        return 0;
    return berth_error_set(err, ENOSYS, "%s", error);
}
