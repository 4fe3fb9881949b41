/* The heartbeat's status digest. */
#include "digest.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static int by_id(const void *a, const void *b)
{
    const ContainerStatus *x = *(const ContainerStatus *const *)a;
    const ContainerStatus *y = *(const ContainerStatus *const *)b;

    return strcmp(x->id, y->id);
}

uint64_t berth_status_digest(const ContainerStatus *const *statuses, size_t n)
{
    const ContainerStatus **sorted = NULL;
    crypto_generichash_state st;
    uint8_t h[32];
    uint64_t d = 0;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    if (n) {
        sorted = berth_xcalloc(n, sizeof(*sorted));
        memcpy(sorted, statuses, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), by_id);
    }
    for (size_t i = 0; i < n; i++) {
        const ContainerStatus *s = sorted ? sorted[i] : statuses[i];
        char line[160];
        int len;

        crypto_generichash_update(&st, (const unsigned char *)s->id, strlen(s->id));
        len = snprintf(line, sizeof(line), "\t%d\t%u\t%d\t%d\n", (int)s->state, s->restart_count,
                       s->exit_code, s->signal);
        crypto_generichash_update(&st, (const unsigned char *)line, (size_t)len);
    }
    free(sorted);
    crypto_generichash_final(&st, h, sizeof(h));
    for (int i = 7; i >= 0; i--)
        d = (d << 8) | h[i];
    return d;
}
