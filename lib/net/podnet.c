/* The built-in pod network (podnet.h). */
#include "podnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fnv.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "ipam.h"
#include "netlink.h"
#include "nft.h"

/* A pod's published ports. */
typedef struct published {
    char *pod;
    berth_podnet_port *ports;
    size_t n;
} published;

struct berth_podnet {
    berth_podnet_config cfg; /* strings owned */
    int vx;                  /* the VXLAN device's index (vxlan) */
    /* the peers routed to over the overlay, for taking their entries away */
    berth_podnet_peer *overlay;
    char (*overlay_cidr)[32];
    size_t n_overlay;
    /* the device's entries matched against the first list of peers: the
     * entries of peers that went while berthd was away went then */
    bool overlay_swept;
    published *pub;
    size_t n_pub;
    bool dirty; /* the last rules did not apply: the next call applies them */
    berth_ipam *ipam;
    berth_nl *nl; /* the node's namespace */
    int bridge;   /* its index */
    uint32_t gateway;
    int prefix;
};

void berth_podnet_veth_name(const char *pod, char buf[16])
{
    uint64_t h = berth_fnv1a(BERTH_FNV1A_OFFSET, pod);

    snprintf(buf, 16, "bv%012" PRIx64, h & (uint64_t)0xffffffffffff);
}

void berth_podnet_close(berth_podnet *n)
{
    if (!n)
        return;
    berth_nl_close(n->nl);
    berth_ipam_close(n->ipam);
    free(n->overlay);
    free(n->overlay_cidr);
    for (size_t i = 0; i < n->n_pub; i++) {
        free(n->pub[i].pod);
        free(n->pub[i].ports);
    }
    free(n->pub);
    free((char *)n->cfg.dir);
    free((char *)n->cfg.bridge);
    free((char *)n->cfg.pod_cidr);
    free((char *)n->cfg.cluster_cidr);
    free((char *)n->cfg.table);
    free(n);
}

typedef struct other_addrs {
    uint32_t want;
    int want_prefix;
    size_t n;
    uint32_t addr[16];
    int prefix[16];
} other_addrs;

static void other_addr(uint32_t addr, int prefix, void *data)
{
    other_addrs *o = data;

    if ((addr != o->want || prefix != o->want_prefix) && o->n < BERTH_ARRAY_SIZE(o->addr)) {
        o->addr[o->n] = addr;
        o->prefix[o->n++] = prefix;
    }
}

/* Link index holds addr/prefix and no other IPv4 address: one an earlier
 * range left (the node's range changed, or its state was wiped) would
 * keep a route to that range on the link. */
static int addr_only(berth_podnet *n, int index, uint32_t addr, int prefix, berth_error **err)
{
    other_addrs o = { .want = addr, .want_prefix = prefix };

    if (berth_nl_addrs(n->nl, index, other_addr, &o, err) < 0)
        return -1;
    for (size_t i = 0; i < o.n; i++)
        if (berth_nl_addr_del(n->nl, index, o.addr[i], o.prefix[i], err) < 0)
            return -1;
    return berth_nl_addr_add(n->nl, index, addr, prefix, err);
}

/* The bridge, made when it is not there, with the gateway address, up. */
static int bridge_ensure(berth_podnet *n, berth_error **err)
{
    berth_error *e = NULL;

    if (berth_nl_link_index(n->nl, n->cfg.bridge, &n->bridge, &e) < 0) {
        if (e->code != ENOENT && e->code != ENODEV) {
            if (err)
                *err = e;
            else
                berth_error_free(&e);
            return -1;
        }
        berth_error_free(&e);
        if (berth_nl_bridge_add(n->nl, n->cfg.bridge, err) < 0 ||
            berth_nl_link_index(n->nl, n->cfg.bridge, &n->bridge, err) < 0)
            return -1;
    }
    if (addr_only(n, n->bridge, n->gateway, n->prefix, err) < 0 ||
        berth_nl_link_up(n->nl, n->bridge, 0, err) < 0)
        return berth_error_prefix(err, "bridge %s", n->cfg.bridge);
    return 0;
}

/* The rules: the masquerade, and every published port of a pod that has
 * its address. */
static int apply_rules(berth_podnet *n, berth_error **err)
{
    berth_nft_rules rules = { n->cfg.table, n->cfg.pod_cidr, n->cfg.cluster_cidr, NULL, 0 };
    berth_nft_dnat *d = NULL;
    size_t count = 0;
    int r;

    for (size_t i = 0; i < n->n_pub; i++) {
        uint32_t addr;

        if (berth_ipam_find(n->ipam, n->pub[i].pod, &addr, NULL) != 1)
            continue;
        d = berth_xreallocarray(d, count + n->pub[i].n + 1, sizeof(*d));
        for (size_t k = 0; k < n->pub[i].n; k++) {
            const berth_podnet_port *p = &n->pub[i].ports[k];

            d[count++] = (berth_nft_dnat){ p->udp, p->host_ip, p->host_port, addr, p->pod_port };
        }
    }
    rules.dnat = d;
    rules.n_dnat = count;
    r = berth_nft_apply(&rules, err);
    n->dirty = r < 0;
    free(d);
    return r;
}

/* Forget pod's published ports; whether it had any. */
static bool unpublish(berth_podnet *n, const char *pod)
{
    for (size_t i = 0; i < n->n_pub; i++) {
        if (strcmp(n->pub[i].pod, pod) != 0)
            continue;
        free(n->pub[i].pod);
        free(n->pub[i].ports);
        n->pub[i] = n->pub[--n->n_pub];
        return true;
    }
    return false;
}

static bool same_ports(const published *p, const berth_podnet_port *ports, size_t n)
{
    if (p->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p->ports[i].udp != ports[i].udp || p->ports[i].host_ip != ports[i].host_ip ||
            p->ports[i].host_port != ports[i].host_port ||
            p->ports[i].pod_port != ports[i].pod_port)
            return false;
    return true;
}

int berth_podnet_publish(berth_podnet *n, const char *pod, const berth_podnet_port *ports,
                         size_t n_ports, berth_error **err)
{
    bool had;

    /* the same again (each container of a pod starting): nothing to do,
     * unless the last rules did not apply */
    for (size_t i = 0; i < n->n_pub && !n->dirty; i++)
        if (strcmp(n->pub[i].pod, pod) == 0 && same_ports(&n->pub[i], ports, n_ports))
            return 0;
    had = unpublish(n, pod);

    if (n_ports) {
        published *p;

        n->pub = berth_xreallocarray(n->pub, n->n_pub + 1, sizeof(*n->pub));
        p = &n->pub[n->n_pub++];
        p->pod = berth_xstrdup(pod);
        p->ports = berth_xcalloc(n_ports, sizeof(*ports));
        memcpy(p->ports, ports, n_ports * sizeof(*ports));
        p->n = n_ports;
    }
    if (!had && !n_ports && !n->dirty)
        return 0;
    if (apply_rules(n, err) < 0)
        return berth_error_prefix(err, "pod %s: publish its host ports", pod);
    return 0;
}

void berth_vtep_mac(uint32_t node_ip, uint8_t mac[6])
{
    mac[0] = 0x0a;
    mac[1] = 0x58;
    memcpy(mac + 2, &node_ip, 4);
}

/* The overlay's device, made when it is not there (or made anew when it
 * is from another address of the node's: its MAC says which), with the
 * range's own address (its first, as flannel gives its VTEP) and up. */
static int vxlan_ensure(berth_podnet *n, uint32_t net, berth_error **err)
{
    berth_error *e = NULL;
    uint8_t mac[6], had[6];

    berth_vtep_mac(n->cfg.node_ip, mac);
    if (berth_nl_link_mac(n->nl, BERTH_VXLAN_DEV, had, NULL) == 0 && memcmp(had, mac, 6) != 0 &&
        berth_nl_link_del(n->nl, BERTH_VXLAN_DEV, err) < 0)
        return berth_error_prefix(err, "VXLAN device %s of another address", BERTH_VXLAN_DEV);
    if (berth_nl_link_index(n->nl, BERTH_VXLAN_DEV, &n->vx, &e) < 0) {
        berth_error_free(&e);
        /* 50 bytes of VXLAN over IPv4 less than a 1500 link */
        if (berth_nl_vxlan_add(n->nl, BERTH_VXLAN_DEV, BERTH_VXLAN_VNI, n->cfg.node_ip,
                               BERTH_VXLAN_PORT, mac, 1450, err) < 0 ||
            berth_nl_link_index(n->nl, BERTH_VXLAN_DEV, &n->vx, err) < 0)
            return -1;
    }
    if (addr_only(n, n->vx, net, 32, err) < 0 || berth_nl_link_up(n->nl, n->vx, 0, err) < 0)
        return berth_error_prefix(err, "VXLAN device %s", BERTH_VXLAN_DEV);
    return 0;
}

int berth_podnet_open(const berth_podnet_config *cfg, berth_podnet **ret, berth_error **err)
{
    berth_podnet *n = berth_xcalloc(1, sizeof(*n));
    uint32_t net, cnet;
    int cprefix;

    n->cfg = (berth_podnet_config){
        berth_xstrdup(cfg->dir),
        berth_xstrdup(cfg->bridge),
        berth_xstrdup(cfg->pod_cidr),
        berth_xstrdup(cfg->cluster_cidr),
        berth_xstrdup(cfg->table),
        cfg->vxlan,
        cfg->node_ip,
    };
    if (cfg->vxlan && !cfg->node_ip) {
        berth_error_set(err, EINVAL, "the VXLAN overlay needs this node's address");
        goto fail;
    }
    if (strlen(cfg->bridge) >= 16) {
        berth_error_set(err, EINVAL, "bridge name '%s': at most 15 characters", cfg->bridge);
        goto fail;
    }
    if (berth_cidr_parse(cfg->cluster_cidr, false, &cnet, &cprefix, err) < 0 ||
        berth_ipam_open(cfg->dir, cfg->pod_cidr, &n->ipam, err) < 0)
        goto fail;
    berth_ipam_range(n->ipam, &net, &n->prefix, &n->gateway);
    if (n->prefix < cprefix || (cprefix && ((ntohl(net) ^ ntohl(cnet)) >> (32 - cprefix)) != 0)) {
        berth_error_set(err, EINVAL, "pod range %s is not inside the cluster range %s",
                        cfg->pod_cidr, cfg->cluster_cidr);
        goto fail;
    }
    if (berth_nl_open(-1, &n->nl, err) < 0 || bridge_ensure(n, err) < 0 ||
        (n->cfg.vxlan && vxlan_ensure(n, net, err) < 0) ||
        berth_write_file_string_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", "1", err) < 0 ||
        apply_rules(n, err) < 0)
        goto fail;
    *ret = n;
    return 0;
fail:
    berth_podnet_close(n);
    return berth_error_prefix(err, "pod network");
}

int berth_podnet_addr(berth_podnet *n, const char *pod, uint32_t *ret_addr, berth_error **err)
{
    return berth_ipam_find(n->ipam, pod, ret_addr, err);
}

/* The pod's side: eth0 with addr, lo, up, the default route. */
static int pod_side(berth_podnet *n, int nsfd, uint32_t addr, berth_error **err)
{
    berth_nl *nl = NULL;
    int eth0, lo, r = -1;

    if (berth_nl_open(nsfd, &nl, err) < 0)
        return -1;
    if (berth_nl_link_index(nl, "eth0", &eth0, err) == 0 &&
        berth_nl_addr_add(nl, eth0, addr, n->prefix, err) == 0 &&
        berth_nl_link_up(nl, eth0, 0, err) == 0 && berth_nl_link_index(nl, "lo", &lo, err) == 0 &&
        berth_nl_link_up(nl, lo, 0, err) == 0 &&
        berth_nl_route_add(nl, 0, 0, n->gateway, eth0, false, true, err) == 0)
        r = 0;
    berth_nl_close(nl);
    return r;
}

int berth_podnet_attach(berth_podnet *n, const char *pod, const char *netns_path,
                        uint32_t *ret_addr, berth_error **err)
{
    char veth[16];
    uint32_t addr;
    int nsfd, idx;

    berth_podnet_veth_name(pod, veth);
    if (berth_ipam_get(n->ipam, pod, &addr, err) < 0)
        return berth_error_prefix(err, "pod %s", pod);
    if ((nsfd = open(netns_path, O_RDONLY | O_CLOEXEC)) < 0)
        return berth_error_errno(err, "pod %s: open its network namespace %s", pod, netns_path);
    /* made anew: a half-made one (a crash) goes, its peer with it */
    if (berth_nl_link_del(n->nl, veth, err) < 0 ||
        berth_nl_veth_add(n->nl, veth, "eth0", nsfd, err) < 0 ||
        berth_nl_link_index(n->nl, veth, &idx, err) < 0 ||
        berth_nl_link_up(n->nl, idx, n->bridge, err) < 0 || pod_side(n, nsfd, addr, err) < 0) {
        close(nsfd);
        berth_nl_link_del(n->nl, veth, NULL);
        return berth_error_prefix(err, "pod %s: its network", pod);
    }
    close(nsfd);
    *ret_addr = addr;
    return 0;
}

int berth_podnet_stats(berth_podnet *n, const char *pod, berth_link_counters *ret,
                       berth_error **err)
{
    char veth[16];
    berth_link_counters host;

    berth_podnet_veth_name(pod, veth);
    if (berth_nl_link_stats(n->nl, veth, &host, err) < 0)
        return -1;
    /* what the host side received, the pod sent */
    ret->rx_bytes = host.tx_bytes;
    ret->tx_bytes = host.rx_bytes;
    ret->rx_packets = host.tx_packets;
    ret->tx_packets = host.rx_packets;
    ret->rx_errors = host.tx_errors;
    ret->tx_errors = host.rx_errors;
    ret->rx_dropped = host.tx_dropped;
    ret->tx_dropped = host.rx_dropped;
    return 0;
}

int berth_podnet_detach(berth_podnet *n, const char *pod, berth_error **err)
{
    char veth[16];

    berth_podnet_veth_name(pod, veth);
    if (((unpublish(n, pod) || n->dirty) && apply_rules(n, err) < 0) ||
        berth_nl_link_del(n->nl, veth, err) < 0 || berth_ipam_release(n->ipam, pod, err) < 0)
        return berth_error_prefix(err, "pod %s: take its network away", pod);
    return 0;
}

int berth_podnet_node_ip(berth_podnet *n, uint32_t *ret_addr, berth_error **err)
{
    return berth_nl_node_addr(n->nl, (const char *const[]){ n->cfg.bridge, BERTH_VXLAN_DEV, NULL },
                              ret_addr, err);
}

typedef struct stale_ctx {
    const berth_podnet_peer *peers;
    size_t n;
    uint32_t dst[256];
    int prefix[256];
    size_t n_stale;
} stale_ctx;

/* A berth route to a range no peer has: to go. */
static void stale_route(uint32_t dst, int prefix, uint32_t gw, void *data)
{
    stale_ctx *s = data;

    (void)gw;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t a;
        int p;

        if (berth_cidr_parse(s->peers[i].pod_cidr, false, &a, &p, NULL) == 0 && a == dst &&
            p == prefix)
            return;
    }
    if (s->n_stale < BERTH_ARRAY_SIZE(s->dst)) {
        s->dst[s->n_stale] = dst;
        s->prefix[s->n_stale++] = prefix;
    }
}

/* A peer over the overlay: its VTEP (its range's first address) at its
 * MAC, the MAC at its address, its range through its VTEP. */
static int overlay_peer(berth_podnet *n, const berth_podnet_peer *p, uint32_t dst, int prefix,
                        berth_error **err)
{
    uint8_t mac[6];

    berth_vtep_mac(p->node_ip, mac);
    return berth_nl_neigh_set(n->nl, n->vx, dst, mac, err) < 0 ||
                   berth_nl_fdb_set(n->nl, n->vx, mac, p->node_ip, err) < 0 ||
                   berth_nl_route_set_dev(n->nl, dst, prefix, dst, n->vx, err) < 0
               ? -1
               : 0;
}

/* The overlay's entries of the peers no longer listed go; the listed are
 * remembered. (Those of peers that went while berthd was away go once, in
 * overlay_sweep.) */
static void overlay_forget(berth_podnet *n, const berth_podnet_peer *peers, size_t n_peers)
{
    for (size_t i = 0; i < n->n_overlay; i++) {
        bool listed = false;
        uint32_t dst;
        int prefix;
        uint8_t mac[6];

        bool vtep_used = false, node_used = false;

        for (size_t k = 0; k < n_peers && !listed; k++)
            listed = peers[k].node_ip == n->overlay[i].node_ip &&
                     strcmp(peers[k].pod_cidr, n->overlay_cidr[i]) == 0;
        if (listed || berth_cidr_parse(n->overlay_cidr[i], false, &dst, &prefix, NULL) < 0)
            continue;
        /* what a listed peer uses stays: its range's VTEP (a range that
         * moved to another node), its address's entry (a new range) */
        for (size_t k = 0; k < n_peers; k++) {
            uint32_t pd;
            int pp;

            vtep_used |=
                berth_cidr_parse(peers[k].pod_cidr, false, &pd, &pp, NULL) == 0 && pd == dst;
            node_used |= peers[k].node_ip == n->overlay[i].node_ip;
        }
        berth_vtep_mac(n->overlay[i].node_ip, mac);
        if (!vtep_used)
            berth_nl_neigh_del(n->nl, n->vx, dst, NULL);
        if (!node_used)
            berth_nl_fdb_del(n->nl, n->vx, mac, n->overlay[i].node_ip, NULL);
    }
    free(n->overlay);
    free(n->overlay_cidr);
    n->overlay = berth_xcalloc(n_peers + 1, sizeof(*n->overlay));
    n->overlay_cidr = berth_xcalloc(n_peers + 1, sizeof(*n->overlay_cidr));
    for (size_t i = 0; i < n_peers; i++) {
        n->overlay[i] = peers[i];
        snprintf(n->overlay_cidr[i], sizeof(n->overlay_cidr[i]), "%s", peers[i].pod_cidr);
        n->overlay[i].pod_cidr = NULL;
    }
    n->n_overlay = n_peers;
}

/* What the device holds, collected (no netlink call during a dump). */
typedef struct held {
    size_t n;
    uint32_t addr[256];
    uint8_t mac[256][6];
} held;

static void hold(uint32_t addr, const uint8_t mac[6], void *data)
{
    held *h = data;

    if (h->n < BERTH_ARRAY_SIZE(h->addr)) {
        h->addr[h->n] = addr;
        memcpy(h->mac[h->n++], mac, 6);
    }
}

/* Every neighbour and forwarding entry of the device that no listed peer
 * uses goes: those of peers that left while berthd was away (a restarted
 * berthd remembers no earlier list). */
static int overlay_sweep(berth_podnet *n, const berth_podnet_peer *peers, size_t n_peers,
                         berth_error **err)
{
    held *h = berth_xcalloc(1, sizeof(*h));
    int r = 0;

    if (berth_nl_neighs(n->nl, n->vx, false, hold, h, err) < 0)
        goto out;
    for (size_t i = 0; i < h->n; i++) {
        bool used = false;

        for (size_t k = 0; k < n_peers && !used; k++) {
            uint32_t dst;
            int prefix;

            used = berth_cidr_parse(peers[k].pod_cidr, false, &dst, &prefix, NULL) == 0 &&
                   dst == h->addr[i];
        }
        if (!used && berth_nl_neigh_del(n->nl, n->vx, h->addr[i], err) < 0)
            goto out;
    }
    h->n = 0;
    if (berth_nl_neighs(n->nl, n->vx, true, hold, h, err) < 0)
        goto out;
    for (size_t i = 0; i < h->n; i++) {
        bool used = false;

        for (size_t k = 0; k < n_peers && !used; k++)
            used = peers[k].node_ip == h->addr[i];
        if (!used && berth_nl_fdb_del(n->nl, n->vx, h->mac[i], h->addr[i], err) < 0)
            goto out;
    }
    free(h);
    return 0;
out:
    r = -1;
    free(h);
    return r;
}

int berth_podnet_peers(berth_podnet *n, const berth_podnet_peer *peers, size_t n_peers,
                       berth_error **err)
{
    stale_ctx s = { peers, n_peers, { 0 }, { 0 }, 0 };
    uint32_t own, dst;
    int own_prefix, prefix;

    berth_ipam_range(n->ipam, &own, &own_prefix, &dst);
    for (size_t i = 0; i < n_peers; i++) {
        if (berth_cidr_parse(peers[i].pod_cidr, false, &dst, &prefix, NULL) < 0 ||
            (dst == own && prefix == own_prefix) || !peers[i].node_ip)
            continue;
        if (n->cfg.vxlan ? overlay_peer(n, &peers[i], dst, prefix, err) < 0
                         : berth_nl_route_set(n->nl, dst, prefix, peers[i].node_ip, err) < 0)
            return berth_error_prefix(err, "pod network");
    }
    if (berth_nl_routes_berth(n->nl, stale_route, &s, err) < 0)
        return berth_error_prefix(err, "pod network");
    for (size_t i = 0; i < s.n_stale; i++)
        if (berth_nl_route_del(n->nl, s.dst[i], s.prefix[i], err) < 0)
            return berth_error_prefix(err, "pod network");
    if (n->cfg.vxlan) {
        overlay_forget(n, peers, n_peers);
        if (!n->overlay_swept) {
            if (overlay_sweep(n, peers, n_peers, err) < 0)
                return berth_error_prefix(err, "pod network: the overlay's stale entries");
            n->overlay_swept = true;
        }
    }
    return 0;
}

typedef struct sweep_ctx {
    berth_podnet *n;
    bool (*keep)(const char *pod, void *data);
    void *data;
} sweep_ctx;

static bool sweep_keep(const char *pod, void *data)
{
    sweep_ctx *s = data;
    char veth[16];

    if (s->keep && s->keep(pod, s->data))
        return true;
    berth_podnet_veth_name(pod, veth);
    berth_nl_link_del(s->n->nl, veth, NULL);
    return false;
}

int berth_podnet_sweep(berth_podnet *n, bool (*keep)(const char *pod, void *data), void *data,
                       berth_error **err)
{
    sweep_ctx s = { n, keep, data };

    return berth_ipam_sweep(n->ipam, sweep_keep, &s, err);
}
