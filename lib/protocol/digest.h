/* The status digest a heartbeat carries (controller.proto, HeartbeatRequest
 * .status_digest): agent and controller compute it over the container
 * states each knows, and a difference means the controller's view, built
 * from stream events, has missed something. Shared so both sides compute
 * exactly the same thing. */
#ifndef BERTH_PROTOCOL_DIGEST_H
#define BERTH_PROTOCOL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "berth/proto/v1.h"

/* The first 8 bytes, little-endian, of BLAKE2b-256 over the statuses sorted
 * bytewise by id, each as "<id>\t<state>\t<restart_count>\t<exit_code>\t
 * <signal>\n" (decimal; state as its enum number). n = 0: the hash of the
 * empty string. The array is not reordered. */
uint64_t berth_status_digest(const ContainerStatus *const *statuses, size_t n);

#endif
