/* A pulled image as a container uses it (see container.h). */
#include "image/container.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/oci.h"
#include "image/user.h"
#include "pb/pb.h"

static char **strv_dup(char *const *v, size_t n)
{
    char **out = n ? berth_xcalloc(n, sizeof(*out)) : NULL;

    for (size_t i = 0; i < n; i++)
        out[i] = berth_xstrdup(v[i]);
    return out;
}

int berth_image_container_config(berth_image_store *s, const berth_image *img, ImageConfig **ret,
                                 berth_error **err)
{
    _cleanup_(berth_image_config_freep) berth_image_config *cfg = NULL;
    ImageConfig *ic;
    berth_image_user u;
    berth_error *uerr = NULL;
    char **layers = NULL;
    size_t n_layers = 0;

    if (berth_image_store_layer_dirs(s, img, &layers, &n_layers, err) < 0 ||
        berth_image_store_config(s, img, &cfg, err) < 0) {
        berth_strv_free(layers);
        return -1;
    }
    /* Built of malloc'd parts: BERTH_PB_FREE (protobuf-c's free_unpacked
     * with malloc's allocator) frees it. */
    ic = berth_xcalloc(1, sizeof(*ic));
    image_config_init(ic);
    ic->reference = berth_xstrdup(img->ref);
    ic->digest = berth_xstrdup(img->digest);
    ic->layers = strv_dup(layers, n_layers);
    ic->n_layers = n_layers;
    ic->entrypoint = strv_dup(cfg->entrypoint, cfg->n_entrypoint);
    ic->n_entrypoint = cfg->n_entrypoint;
    ic->cmd = strv_dup(cfg->cmd, cfg->n_cmd);
    ic->n_cmd = cfg->n_cmd;
    ic->env = strv_dup(cfg->env, cfg->n_env);
    ic->n_env = cfg->n_env;
    ic->working_dir = berth_xstrdup(cfg->working_dir ? cfg->working_dir : "");
    ic->user = berth_xstrdup(cfg->user ? cfg->user : "");
    if (cfg->user && *cfg->user) {
        if (berth_image_user_resolve(layers, n_layers, cfg->user, &u, &uerr) == 0) {
            ic->user_resolved = true;
            ic->uid = u.uid;
            ic->gid = u.gid;
            if (u.n_gids) {
                ic->additional_gids = berth_xcalloc(u.n_gids, sizeof(*ic->additional_gids));
                memcpy(ic->additional_gids, u.gids, u.n_gids * sizeof(*u.gids));
                ic->n_additional_gids = u.n_gids;
            }
        } else {
            ic->user_error = berth_xstrdup(uerr->msg);
            berth_error_free(&uerr);
        }
    }
    ic->stop_signal = cfg->stop_signal ? berth_image_signal_parse(cfg->stop_signal) : 0;
    if (ic->stop_signal < 0)
        ic->stop_signal = 0; /* one berth does not know: the spec's, else SIGTERM */
    ic->size = img->size;
    berth_strv_free(layers);
    *ret = ic;
    return 0;
}
