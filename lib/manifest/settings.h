/* Settings files: a flat YAML mapping of names to values, or to lists of
 * values ("rpc: [tcp://..., ipc://...]"), as berth-controller's config and
 * berthctl's ~/.config/berth/config.yaml are. The reader only shapes the
 * file; the caller's function takes each value and says what is wrong
 * with it, and the error gets "file:line:column: name: " in front. */
#ifndef BERTH_MANIFEST_SETTINGS_H
#define BERTH_MANIFEST_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define BERTH_SETTINGS_MAX_BYTES (64 * 1024)

/* One value of key (a list gives one call per item). Return < 0 with err
 * set to refuse it; ENOENT means "no such setting". */
typedef int (*berth_setting_fn)(void *data, const char *key, const char *value, berth_error **err);

/* Read path (at most BERTH_SETTINGS_MAX_BYTES) and call fn for each value,
 * in file order. missing_ok: a file that does not exist is no error (and
 * *ret_found, if not NULL, says which). An empty file is fine. */
int berth_settings_load(const char *path, bool missing_ok, berth_setting_fn fn, void *data,
                        bool *ret_found, berth_error **err);

#endif
