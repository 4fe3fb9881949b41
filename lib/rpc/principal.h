/* Who is talking: a principal is a role (controller, node, operator) and a
 * name. On the wire a principal is its 16-byte id, derived from both, so a
 * node can never carry the controller's id or another node's. Keys belong
 * to principals (policy.h); the frame layer authenticates them. */
#ifndef BERTH_RPC_PRINCIPAL_H
#define BERTH_RPC_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"

#define BERTH_ID_LEN   16
#define BERTH_NAME_MAX 63

typedef enum berth_role {
    BERTH_ROLE_CONTROLLER = 1,
    BERTH_ROLE_NODE = 2,
    BERTH_ROLE_OPERATOR = 3,
} berth_role;

typedef struct berth_principal {
    uint8_t id[BERTH_ID_LEN];
    berth_role role;
    char name[BERTH_NAME_MAX + 1];
} berth_principal;

/* The id no principal has: the recipient of frames meant for every node
 * (broadcast events, fleet surveys). */
extern const uint8_t berth_id_broadcast[BERTH_ID_LEN];

/* Fill *ret for role and name: 1-63 characters of [a-z0-9_.-], starting
 * with a letter or digit (the container id rule). id = the first 16 bytes of
 * BLAKE2b-256("berth-principal-v1" 0x00 role name). */
int berth_principal_init(berth_principal *ret, berth_role role, const char *name,
                         berth_error **err);

/* Check a name against the rule above; what names it in the error. */
int berth_name_validate(const char *name, const char *what, berth_error **err);

/* "controller", "node", "operator"; "unknown" otherwise. */
const char *berth_role_name(berth_role role);

static inline bool berth_id_eq(const uint8_t a[BERTH_ID_LEN], const uint8_t b[BERTH_ID_LEN])
{
    return memcmp(a, b, BERTH_ID_LEN) == 0;
}

#endif
