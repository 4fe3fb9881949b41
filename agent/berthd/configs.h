/* Secrets and ConfigMaps on the node: the objects the controller sent
 * (sealed to this node's key; opened by the session, kept here in memory
 * only), and what each container gets of them, on a tmpfs (dir, mounted by
 * configs_open when it is not one already), never on the disk:
 *
 *   <dir>/<container id>/env            NUL-separated NAME=value: the
 *                                       variables of env_key_refs and
 *                                       env_from, which the monitor reads at
 *                                       each start of the container
 *   <dir>/<container id>/volumes/<vol>/ a Secret's or ConfigMap's keys as
 *                                       files, kubelet's layout: the files
 *                                       in a ..<time> directory, the link
 *                                       ..data to it, and each key a link
 *                                       through ..data; an update writes a
 *                                       new directory and swaps ..data in
 *                                       one rename, so a reader sees the
 *                                       old files or the new, never a mix
 *
 * A container's files go with it (configs_remove). Values are wiped from
 * memory when they are replaced or freed. */
#ifndef BERTHD_CONFIGS_H
#define BERTHD_CONFIGS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "berth/proto/v1.h"

typedef struct configs configs;

/* Keep the objects, and their files under dir: made (0700, a tmpfs
 * mounted on it unless it is one) when the first container needs it. */
int configs_open(const char *dir, configs **ret, berth_error **err);
void configs_close(configs *c);

/* Free an object, its values wiped first (NULL is fine). */
void configs_object_free(ConfigObject *o);

/* The objects the node's containers name now (taken: objs and each
 * object); the previous ones are wiped and freed. */
void configs_set(configs *c, ConfigObject **objs, size_t n);

/* Whether the last configs_set changed an object spec names (new, of
 * another generation, gone). */
bool configs_changed_for(const configs *c, const ContainerSpec *spec);
/* Whether spec names a Secret or ConfigMap (env, envFrom, volumes). */
bool configs_used_by(const ContainerSpec *spec);
/* Whether spec names the object of this kind and name (its namespace is
 * the spec's). */
bool configs_names(const ContainerSpec *spec, ConfigKind kind, const char *name);

/* Write spec's env file and project its volumes; the paths to give the
 * monitor into env_file and config_dir ("" when the spec has none). A
 * Secret, ConfigMap or key the spec needs (not optional) that the node was
 * not sent is ENOENT, in kubelet's words ('secret "db" not found',
 * "couldn't find key password in Secret default/db"), and nothing of the
 * spec's is changed. */
int configs_project(configs *c, const ContainerSpec *spec, char *env_file, size_t env_size,
                    char *config_dir, size_t dir_size, berth_error **err);

/* The credentials of spec's imagePullSecrets for a pull (berth-pull
 * --auth-file): the .dockerconfigjson of each that the node has, one
 * after another, NUL-separated, in a new file on the tmpfs (0600) whose
 * path goes into path ("" when none has credentials: a missing one is
 * passed over, as kubelet does, and said). */
int configs_pull_auth(configs *c, const ContainerSpec *spec, char *path, size_t size,
                      berth_error **err);

/* Remove what container id had (nothing is fine). */
void configs_remove(configs *c, const char *id);
/* Remove container id's variables (its env file), leaving its volumes'
 * files: an object it needs is gone. */
void configs_forget_env(configs *c, const char *id);
/* At start: remove what no container keeps: pull credentials (no pull
 * outlives berthd) and the files of containers removed while berthd was
 * away (keep says which ids are still on the node). */
void configs_sweep(configs *c, bool (*keep)(const char *id, void *data), void *data);

#endif
