/* berthd join: a node joins a fleet in one command (kubeadm join's
 * discovery): fetch the controller's public key, check it against the
 * fingerprint the operator gave (nothing secret is sent before), enroll
 * this node's key with the join token, then write the controller's key
 * and the configuration. The configuration it will write is made and
 * checked before the token is used; a failure at any step leaves every
 * file as it was, but for the node's key, made for the enrollment. */
#ifndef BERTH_AGENT_JOIN_H
#define BERTH_AGENT_JOIN_H

#include <stddef.h>

#include "base/error.h"

/* berthd join ADDRESS --token T --controller-fingerprint SHA256:... :
 * argv[0] is "join". Returns the exit code. */
int berthd_join(int argc, char **argv);

/* What join writes into agent.yaml. */
typedef struct join_settings {
    const char *address;         /* controller.address */
    const char *key;             /* controller.key */
    const char *controller_name; /* controller.name */
    const char *node_name;       /* node_name; NULL: leave it */
} join_settings;

/* The text of agent.yaml (old: its text, NULL when there is none) with
 * the join's settings in place: those lines replaced where they are,
 * added where they are not, the rest (comments too) as it was; an active
 * join_token line is removed (the node is enrolled: the secret need not
 * stay on disk). A new string in *ret. The result is not checked here. */
void join_config_text(const char *old, const join_settings *js, char **ret);

#endif
