/* Reading wake-ups (see wakeup.h). */
#include "wakeup.h"

#include <string.h>

bool berth_wakeup_generation(const WakeUp *w, const uint8_t self[BERTH_WAKEUP_ID_LEN],
                             uint64_t *ret_generation)
{
    if (w->n_nodes == 0) {
        *ret_generation = w->generation;
        return true;
    }
    for (size_t i = 0; i < w->n_nodes && i < BERTH_WAKEUP_NODES_MAX; i++) {
        const NodeGeneration *g = w->nodes[i];

        if (g->node_id.len == BERTH_WAKEUP_ID_LEN &&
            memcmp(g->node_id.data, self, BERTH_WAKEUP_ID_LEN) == 0) {
            *ret_generation = g->generation;
            return true;
        }
    }
    return false;
}
