/* berth-controller: holds the desired state of the fleet and places
 * workloads on nodes. One object per process, on one loop: it opens the
 * store and its keys in the state directory, loads the fleet, binds the
 * four channels and serves the Controller service. */
#ifndef BERTH_CONTROLLER_CONTROLLER_H
#define BERTH_CONTROLLER_CONTROLLER_H

#include <stdbool.h>

#include "base/error.h"
#include "base/loop.h"
#include "controller-config.h"

typedef struct controller controller;

/* Open everything cfg names (cfg must outlive the controller): the state
 * directory (created 0700), controller.key (generated on first start, and
 * controller.pub beside it for agents and berthctl to pin), the operator
 * keys (operators_dir/NAME.pub; on a first start with none, an "admin"
 * operator key pair: admin.key in the state directory), berth.db; then
 * bind the channels. Does not block. */
int berth_controller_new(ctl_config *cfg, berth_loop *loop, controller **ret_controller,
                         berth_error **err);
/* Whether the controller still serves: -1 and why once it gave up (a
 * deposed etcd leader stops the loop; main exits non-zero so that its
 * supervisor starts it again as a follower). */
int berth_controller_check(const controller *c, berth_error **err);
/* berth-controller backup FILE: the store cfg names, copied to path (an
 * SQLite file) while controllers may serve; prints what it did. */
int berth_controller_backup(const ctl_config *cfg, const char *path, berth_error **err);
/* berth-controller restore FILE: a backup into the store cfg names, with
 * no controller running on it (the state directory's lock; with etcd, no
 * member campaigning): EBUSY otherwise. */
int berth_controller_restore(const ctl_config *cfg, const char *path, bool force,
                             berth_error **err);
/* A one-line summary for systemd's STATUS=: where it serves, its nodes
 * and workloads. */
void berth_controller_status(const controller *c, char *buf, size_t size);
/* Write what is pending and close everything. */
void berth_controller_free(controller *c);

#endif
