/* libnanomsg, opened when first needed (nn-dl.h). */
#define RPC_NN_IMPL
#include "nn-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

struct rpc_nn rpc_nn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char error[512];

#define RPC_NN_SYM(f)                                                                              \
    if (ok && !(*(void **)&rpc_nn.f = dlsym(h, #f))) {                                             \
        snprintf(error, sizeof(error), "libnanomsg.so.5: no symbol %s", #f);                       \
        ok = false;                                                                                \
    }

static void load(void)
{
    /* RTLD_NODELETE: its symbols stay valid for the process's life */
    void *h = dlopen("libnanomsg.so.5", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
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
