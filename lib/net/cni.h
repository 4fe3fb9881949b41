/* lib/net/cni: an operator's own CNI network (CNI spec 1.0): the
 * lexically first *.conflist (or *.conf) of a directory, its plugins
 * exec'd from another with the spec's environment and configuration on
 * stdin, ADD chaining each plugin's result into the next as prevResult,
 * DEL in reverse order. What ADD returned is cached on disk (with the
 * configuration it was made with; the configuration already before the
 * first plugin runs) so DEL (and CHECK) work after berthd restarts, also
 * for an ADD cut short, and a garbage collection DELs the pods gone
 * meanwhile. Each call waits
 * for its plugins (at most CNI_TIMEOUT_MS each). */
#ifndef BERTH_NET_CNI_H
#define BERTH_NET_CNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_CNI_TIMEOUT_MS 30000

typedef struct berth_cni berth_cni;

/* Load conf_dir's network configuration, its plugins in bin_dir, results
 * cached in cache_dir (made 0700). A configuration that does not parse, or
 * names a plugin bin_dir lacks, is an error naming the file and why.
 * conf_dir NULL: none is loaded, for DEL, CHECK and gc only (they use the
 * configuration ADD cached). */
int berth_cni_open(const char *conf_dir, const char *bin_dir, const char *cache_dir,
                   berth_cni **ret, berth_error **err);
void berth_cni_close(berth_cni *c);
/* The configuration's name and file. */
const char *berth_cni_name(const berth_cni *c);
const char *berth_cni_file(const berth_cni *c);
/* The directories it was opened with. */
const char *berth_cni_conf_dir(const berth_cni *c);
const char *berth_cni_bin_dir(const berth_cni *c);
const char *berth_cni_cache_dir(const berth_cni *c);

/* A host port for plugins with the portMappings capability (portmap). */
typedef struct berth_cni_port {
    uint16_t host_port, container_port;
    bool udp;
    const char *host_ip; /* "" all */
} berth_cni_port;

/* ADD pod (the container id the plugins see; ns and name go in CNI_ARGS
 * as K8S_POD_NAMESPACE and K8S_POD_NAME) with its network namespace at
 * netns_path, interface eth0: its first IPv4 address into ret_addr
 * (network order). A plugin's failure is its message. */
int berth_cni_add(berth_cni *c, const char *pod, const char *ns, const char *name,
                  const char *netns_path, const berth_cni_port *ports, size_t n_ports,
                  uint32_t *ret_addr, berth_error **err);
/* CHECK pod's network as its ADD left it (the cached configuration and
 * result, each plugin in order): 0 when every plugin says it is as it
 * should be (or the network's cniVersion predates CHECK, 0.4.0, or it
 * sets disableCheck). ENOENT: nothing is cached for pod. A plugin's
 * failure is its message. */
int berth_cni_check(berth_cni *c, const char *pod, berth_error **err);
/* DEL pod with what its ADD cached (0 when nothing is); the cache goes. */
int berth_cni_del(berth_cni *c, const char *pod, berth_error **err);
/* DEL every cached pod that keep says is gone; how many. */
int berth_cni_gc(berth_cni *c, bool (*keep)(const char *pod, void *data), void *data,
                 berth_error **err);

#endif
