/* rtnetlink through libmnl (netlink.h). */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/neighbour.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

/* A request's buffer, and an answer's (the kernel's own page-sized
 * messages fit). */
#define NL_BUF 8192

struct berth_nl {
    struct mnl_socket *sock;
    unsigned int portid;
    uint32_t seq;
};

int berth_nl_open(int netns_fd, berth_nl **ret, berth_error **err)
{
    int self = -1, saved;
    struct mnl_socket *sock;
    berth_nl *nl;

    /* a socket belongs to the namespace it is made in: make it there */
    if (netns_fd >= 0) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
            return berth_error_make(err, errno, "open this thread's network namespace");
        if (setns(netns_fd, CLONE_NEWNET) < 0) {
            saved = errno;
            close(self);
            return berth_error_make(err, saved, "enter the pod's network namespace");
        }
    }
    sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    saved = errno;
    if (self >= 0) {
        /* back home, whatever happened: the process must not stay there */
        if (setns(self, CLONE_NEWNET) < 0)
            abort();
        close(self);
    }
    if (!sock)
        return berth_error_make(err, saved, "open a netlink socket");
    if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        saved = errno;
        mnl_socket_close(sock);
        return berth_error_make(err, saved, "bind a netlink socket");
    }
    nl = berth_xcalloc(1, sizeof(*nl));
    nl->sock = sock;
    nl->portid = mnl_socket_get_portid(sock);
    nl->seq = (uint32_t)time(NULL);
    *ret = nl;
    return 0;
}

void berth_nl_close(berth_nl *nl)
{
    if (!nl)
        return;
    mnl_socket_close(nl->sock);
    free(nl);
}

/* A new request of type with flags (NLM_F_REQUEST | NLM_F_ACK added). */
static struct nlmsghdr *request(berth_nl *nl, char *buf, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = ++nl->seq;
    return nlh;
}

/* Throw away whatever answers are left on the socket. */
static void drain(berth_nl *nl)
{
    char buf[8192];

    while (recv(mnl_socket_get_fd(nl->sock), buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

/* Send nlh and read the answers up to the acknowledgement, cb (may be
 * NULL) called on each data message. -1 with errno (the kernel's
 * error) on failure. */
static int talk(berth_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
    char buf[32768];
    uint32_t seq = nlh->nlmsg_seq;
    int r;

    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return -1;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));

        if (n < 0) {
            drain(nl);
            return -1;
        }
        r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
        if (r <= MNL_CB_STOP) {
            if (r < 0) {
                /* what is left of this answer (an interrupted dump's rest)
                 * must not be read as the next request's */
                int saved = errno;

                drain(nl);
                errno = saved;
            }
            return r < 0 ? -1 : 0;
        }
    }
}

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

    *(int *)data = ifi->ifi_index;
    return MNL_CB_OK;
}

/* RTM_GETLINK of link name, cb on the answer. */
static int link_get(berth_nl *nl, const char *name, mnl_cb_t cb, void *data)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh = request(nl, buf, RTM_GETLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return talk(nl, nlh, cb, data);
}

int berth_nl_link_index(berth_nl *nl, const char *name, int *ret_index, berth_error **err)
{
    int index = 0;

    if (link_get(nl, name, link_index_cb, &index) < 0 || index <= 0)
        return berth_error_make(err, index <= 0 && errno == 0 ? ENOENT : errno, "link %s", name);
    *ret_index = index;
    return 0;
}

/* RTM_NEWLINK creating name of kind; the nest of IFLA_INFO_DATA is left
 * open for the caller when ret_data is not NULL. */
static struct nlmsghdr *new_link(berth_nl *nl, char *buf, const char *name, const char *kind,
                                 struct nlattr **ret_linkinfo, struct nlattr **ret_data)
{
    struct nlmsghdr *nlh = request(nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    *ret_linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    if (ret_data)
        *ret_data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    return nlh;
}

int berth_nl_bridge_add(berth_nl *nl, const char *name, berth_error **err)
{
    char buf[NL_BUF];
    struct nlattr *linkinfo;
    struct nlmsghdr *nlh = new_link(nl, buf, name, "bridge", &linkinfo, NULL);

    mnl_attr_nest_end(nlh, linkinfo);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_make(err, errno, "add bridge %s", name);
    return 0;
}

int berth_nl_veth_add(berth_nl *nl, const char *name, const char *peer, int peer_netns_fd,
                      berth_error **err)
{
    char buf[NL_BUF];
    struct nlattr *linkinfo, *data, *peer_nest;
    struct nlmsghdr *nlh = new_link(nl, buf, name, "veth", &linkinfo, &data);
    struct ifinfomsg *pi;

    peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
    pi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    if (peer_netns_fd >= 0)
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
    mnl_attr_nest_end(nlh, peer_nest);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_make(err, errno, "add veth pair %s/%s", name, peer);
    return 0;
}

int berth_nl_vxlan_add(berth_nl *nl, const char *name, uint32_t vni, uint32_t local, uint16_t port,
                       const uint8_t mac[6], int mtu, berth_error **err)
{
    char buf[NL_BUF];
    struct nlattr *linkinfo, *data;
    struct nlmsghdr *nlh = new_link(nl, buf, name, "vxlan", &linkinfo, &data);

    mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vni);
    mnl_attr_put_u32(nlh, IFLA_VXLAN_LOCAL, local);
    mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(port));
    mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, 0);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    if (mtu > 0)
        mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_errno(err, "add vxlan device %s", name);
    return 0;
}

/* RTM_NEWNEIGH/RTM_DELNEIGH of family (AF_INET: a neighbour, AF_BRIDGE:
 * a forwarding entry). */
static int neigh(berth_nl *nl, uint16_t type, uint8_t family, int index, uint32_t addr,
                 const uint8_t *mac)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh =
        request(nl, buf, type, type == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE : 0);
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

    nd->ndm_family = family;
    nd->ndm_ifindex = index;
    nd->ndm_state = NUD_PERMANENT;
    if (family == AF_BRIDGE)
        nd->ndm_flags = NTF_SELF;
    mnl_attr_put_u32(nlh, NDA_DST, addr);
    if (mac)
        mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    return talk(nl, nlh, NULL, NULL);
}

int berth_nl_neigh_set(berth_nl *nl, int index, uint32_t addr, const uint8_t mac[6],
                       berth_error **err)
{
    char a[16];

    if (neigh(nl, RTM_NEWNEIGH, AF_INET, index, addr, mac) < 0)
        return berth_error_errno(err, "neighbour %s", berth_ipv4_str(addr, a));
    return 0;
}

int berth_nl_neigh_del(berth_nl *nl, int index, uint32_t addr, berth_error **err)
{
    char a[16];

    if (neigh(nl, RTM_DELNEIGH, AF_INET, index, addr, NULL) < 0 && errno != ENOENT)
        return berth_error_errno(err, "delete neighbour %s", berth_ipv4_str(addr, a));
    return 0;
}

int berth_nl_fdb_set(berth_nl *nl, int index, const uint8_t mac[6], uint32_t dst, berth_error **err)
{
    char a[16];

    if (neigh(nl, RTM_NEWNEIGH, AF_BRIDGE, index, dst, mac) < 0)
        return berth_error_errno(err, "forwarding entry to %s", berth_ipv4_str(dst, a));
    return 0;
}

int berth_nl_fdb_del(berth_nl *nl, int index, const uint8_t mac[6], uint32_t dst, berth_error **err)
{
    char a[16];

    if (neigh(nl, RTM_DELNEIGH, AF_BRIDGE, index, dst, mac) < 0 && errno != ENOENT)
        return berth_error_errno(err, "delete the forwarding entry to %s", berth_ipv4_str(dst, a));
    return 0;
}

int berth_nl_link_up(berth_nl *nl, int index, int master, berth_error **err)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh = request(nl, buf, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (master > 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_make(err, errno, "set link %d up", index);
    return 0;
}

int berth_nl_link_del(berth_nl *nl, const char *name, berth_error **err)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh = request(nl, buf, RTM_DELLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    if (talk(nl, nlh, NULL, NULL) < 0 && errno != ENODEV)
        return berth_error_make(err, errno, "delete link %s", name);
    return 0;
}

/* RTM_NEWADDR/RTM_DELADDR of addr/prefix on link index. */
static int addr_msg(berth_nl *nl, uint16_t type, int index, uint32_t addr, int prefix)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh =
        request(nl, buf, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
    return talk(nl, nlh, NULL, NULL);
}

int berth_nl_addr_add(berth_nl *nl, int index, uint32_t addr, int prefix, berth_error **err)
{
    char a[16];

    if (addr_msg(nl, RTM_NEWADDR, index, addr, prefix) < 0 && errno != EEXIST)
        return berth_error_make(err, errno, "add address %s/%d", berth_ipv4_str(addr, a), prefix);
    return 0;
}

int berth_nl_addr_del(berth_nl *nl, int index, uint32_t addr, int prefix, berth_error **err)
{
    char a[16];

    if (addr_msg(nl, RTM_DELADDR, index, addr, prefix) < 0 && errno != EADDRNOTAVAIL)
        return berth_error_make(err, errno, "delete address %s/%d", berth_ipv4_str(addr, a),
                                prefix);
    return 0;
}

static struct nlmsghdr *route_msg(berth_nl *nl, char *buf, uint16_t type, uint16_t flags,
                                  uint32_t dst, int prefix);

int berth_nl_route_set_dev(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, int oif,
                           berth_error **err)
{
    char buf[NL_BUF], a[16];
    struct nlmsghdr *nlh =
        route_msg(nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefix);
    struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);

    rt->rtm_protocol = BERTH_RTPROT;
    rt->rtm_flags |= RTNH_F_ONLINK;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_errno(err, "route %s/%d over the overlay", berth_ipv4_str(dst, a),
                                 prefix);
    return 0;
}

int berth_nl_route_set(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, berth_error **err)
{
    char buf[NL_BUF], a[16], b[16];
    struct nlmsghdr *nlh =
        route_msg(nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, dst, prefix);
    struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);

    rt->rtm_protocol = BERTH_RTPROT;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
    if (talk(nl, nlh, NULL, NULL) < 0)
        return berth_error_errno(err, "route %s/%d via %s", berth_ipv4_str(dst, a), prefix,
                                 berth_ipv4_str(gw, b));
    return 0;
}

typedef struct routes_ctx {
    void (*fn)(uint32_t dst, int prefix, uint32_t gw, void *data);
    void *data;
} routes_ctx;

/* A message's attributes by type, up to max (RTA_MAX, IFA_MAX). */
typedef struct attrs {
    const struct nlattr **tb;
    int max;
} attrs;

static int attr_cb(const struct nlattr *attr, void *data)
{
    attrs *a = data;
    int type = mnl_attr_get_type(attr);

    if (mnl_attr_type_valid(attr, (uint16_t)a->max) > 0 && type <= a->max)
        a->tb[type] = attr;
    return MNL_CB_OK;
}

typedef struct link_stats {
    bool found;
    berth_link_counters c;
} link_stats;

static int link_stats_cb(const struct nlmsghdr *nlh, void *data)
{
    link_stats *ls = data;
    const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
    attrs a = { tb, IFLA_MAX };
    struct rtnl_link_stats64 st;

    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), attr_cb, &a);
    if (tb[IFLA_STATS64] && mnl_attr_get_payload_len(tb[IFLA_STATS64]) >= sizeof(st)) {
        memcpy(&st, mnl_attr_get_payload(tb[IFLA_STATS64]), sizeof(st));
        ls->c.rx_bytes = st.rx_bytes;
        ls->c.tx_bytes = st.tx_bytes;
        ls->c.rx_packets = st.rx_packets;
        ls->c.tx_packets = st.tx_packets;
        ls->c.rx_errors = st.rx_errors;
        ls->c.tx_errors = st.tx_errors;
        ls->c.rx_dropped = st.rx_dropped;
        ls->c.tx_dropped = st.tx_dropped;
        ls->found = true;
    }
    return MNL_CB_OK;
}

int berth_nl_link_stats(berth_nl *nl, const char *name, berth_link_counters *ret, berth_error **err)
{
    link_stats ls = { 0 };

    if (link_get(nl, name, link_stats_cb, &ls) < 0)
        return berth_error_errno(err, "link %s", name);
    if (!ls.found)
        return berth_error_set(err, ENODATA, "link %s: no statistics", name);
    *ret = ls.c;
    return 0;
}

/* Dump every object of type (RTM_GETROUTE, RTM_GETADDR, RTM_GETNEIGH) of
 * family, cb called on each; the request's header is hdr_size bytes
 * whose first is the family. */
static int dump_of(berth_nl *nl, uint16_t type, uint8_t fam, size_t hdr_size, mnl_cb_t cb,
                   void *data)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    unsigned char *family = mnl_nlmsg_put_extra_header(nlh, hdr_size);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++nl->seq;
    *family = fam;
    return talk(nl, nlh, cb, data);
}

static int dump(berth_nl *nl, uint16_t type, size_t hdr_size, mnl_cb_t cb, void *data)
{
    return dump_of(nl, type, AF_INET, hdr_size, cb, data);
}

typedef struct neighs_ctx {
    int index;
    uint8_t family;
    void (*fn)(uint32_t addr, const uint8_t mac[6], void *data);
    void *data;
} neighs_ctx;

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
    neighs_ctx *n = data;
    const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[NDA_MAX + 1] = { NULL };
    attrs a = { tb, NDA_MAX };
    static const uint8_t none[6];

    if (nd->ndm_family != n->family || nd->ndm_ifindex != n->index)
        return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*nd), attr_cb, &a);
    if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != 4)
        return MNL_CB_OK;
    n->fn(mnl_attr_get_u32(tb[NDA_DST]),
          tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6
              ? mnl_attr_get_payload(tb[NDA_LLADDR])
              : none,
          n->data);
    return MNL_CB_OK;
}

int berth_nl_neighs(berth_nl *nl, int index, bool fdb,
                    void (*fn)(uint32_t addr, const uint8_t mac[6], void *data), void *data,
                    berth_error **err)
{
    neighs_ctx n = { index, fdb ? AF_BRIDGE : AF_INET, fn, data };

    if (dump_of(nl, RTM_GETNEIGH, n.family, sizeof(struct ndmsg), neigh_cb, &n) < 0)
        return berth_error_errno(err, "list the %s", fdb ? "forwarding entries" : "neighbours");
    return 0;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    routes_ctx *r = data;
    const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[RTA_MAX + 1] = { NULL };
    attrs a = { tb, RTA_MAX };

    if (rt->rtm_family != AF_INET || rt->rtm_protocol != BERTH_RTPROT ||
        rt->rtm_table != RT_TABLE_MAIN)
        return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*rt), attr_cb, &a);
    r->fn(tb[RTA_DST] ? mnl_attr_get_u32(tb[RTA_DST]) : 0, rt->rtm_dst_len,
          tb[RTA_GATEWAY] ? mnl_attr_get_u32(tb[RTA_GATEWAY]) : 0, r->data);
    return MNL_CB_OK;
}

int berth_nl_routes_berth(berth_nl *nl,
                          void (*fn)(uint32_t dst, int prefix, uint32_t gw, void *data), void *data,
                          berth_error **err)
{
    routes_ctx r = { fn, data };

    if (dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, &r) < 0)
        return berth_error_errno(err, "list the routes");
    return 0;
}

typedef struct addr_ctx {
    berth_nl *nl;
    int skip[4]; /* link indexes not to take (0: none) */
    uint32_t addr;
} addr_ctx;

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    addr_ctx *a = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = { NULL };
    attrs at = { tb, IFA_MAX };

    if (a->addr || ifa->ifa_family != AF_INET || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
        return MNL_CB_OK;
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(a->skip); i++)
        if (a->skip[i] && (int)ifa->ifa_index == a->skip[i])
            return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &at);
    if (tb[IFA_LOCAL])
        a->addr = mnl_attr_get_u32(tb[IFA_LOCAL]);
    else if (tb[IFA_ADDRESS])
        a->addr = mnl_attr_get_u32(tb[IFA_ADDRESS]);
    return MNL_CB_OK;
}

typedef struct addrs_ctx {
    int index;
    void (*fn)(uint32_t addr, int prefix, void *data);
    void *data;
} addrs_ctx;

static int addrs_cb(const struct nlmsghdr *nlh, void *data)
{
    addrs_ctx *c = data;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = { NULL };
    attrs at = { tb, IFA_MAX };

    if (ifa->ifa_family != AF_INET || (int)ifa->ifa_index != c->index)
        return MNL_CB_OK;
    mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &at);
    if (tb[IFA_LOCAL] || tb[IFA_ADDRESS])
        c->fn(mnl_attr_get_u32(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]), ifa->ifa_prefixlen,
              c->data);
    return MNL_CB_OK;
}

int berth_nl_addrs(berth_nl *nl, int index, void (*fn)(uint32_t addr, int prefix, void *data),
                   void *data, berth_error **err)
{
    addrs_ctx c = { index, fn, data };

    if (dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addrs_cb, &c) < 0)
        return berth_error_errno(err, "list the addresses");
    return 0;
}

static int link_mac_cb(const struct nlmsghdr *nlh, void *data)
{
    const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
    attrs a = { tb, IFLA_MAX };

    mnl_attr_parse(nlh, sizeof(struct ifinfomsg), attr_cb, &a);
    if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
        memcpy(data, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
    return MNL_CB_OK;
}

int berth_nl_link_mac(berth_nl *nl, const char *name, uint8_t ret_mac[6], berth_error **err)
{
    uint8_t mac[6] = { 0 };

    if (link_get(nl, name, link_mac_cb, mac) < 0)
        return berth_error_errno(err, "link %s", name);
    memcpy(ret_mac, mac, 6);
    return 0;
}

int berth_nl_node_addr(berth_nl *nl, const char *const *skip, uint32_t *ret_addr, berth_error **err)
{
    addr_ctx a = { nl, { 0 }, 0 };

    for (size_t i = 0; skip && skip[i] && i < BERTH_ARRAY_SIZE(a.skip); i++)
        if (berth_nl_link_index(nl, skip[i], &a.skip[i], NULL) < 0)
            a.skip[i] = 0;
    if (dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &a) < 0)
        return berth_error_errno(err, "list the addresses");
    if (!a.addr)
        return berth_error_set(err, ENOENT, "no IPv4 address of global scope on this node");
    *ret_addr = a.addr;
    return 0;
}

static struct nlmsghdr *route_msg(berth_nl *nl, char *buf, uint16_t type, uint16_t flags,
                                  uint32_t dst, int prefix)
{
    struct nlmsghdr *nlh = request(nl, buf, type, flags);
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));

    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = (unsigned char)prefix;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    if (prefix > 0)
        mnl_attr_put_u32(nlh, RTA_DST, dst);
    return nlh;
}

int berth_nl_route_add(berth_nl *nl, uint32_t dst, int prefix, uint32_t gw, int oif, bool onlink,
                       bool replace, berth_error **err)
{
    char buf[NL_BUF], a[16];
    struct nlmsghdr *nlh = route_msg(
        nl, buf, RTM_NEWROUTE, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), dst, prefix);
    struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);

    if (gw)
        mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
    else
        rt->rtm_scope = RT_SCOPE_LINK;
    if (oif > 0)
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
    if (onlink)
        rt->rtm_flags |= RTNH_F_ONLINK;
    if (talk(nl, nlh, NULL, NULL) < 0 && (replace || errno != EEXIST))
        return berth_error_make(err, errno, "add a route to %s/%d", berth_ipv4_str(dst, a), prefix);
    return 0;
}

int berth_nl_route_del(berth_nl *nl, uint32_t dst, int prefix, berth_error **err)
{
    char buf[NL_BUF], a[16];
    struct nlmsghdr *nlh = route_msg(nl, buf, RTM_DELROUTE, 0, dst, prefix);
    struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);

    rt->rtm_protocol = BERTH_RTPROT; /* ours only, not an operator's to the same net */
    rt->rtm_scope = RT_SCOPE_NOWHERE;
    rt->rtm_type = 0;
    if (talk(nl, nlh, NULL, NULL) < 0 && errno != ESRCH)
        return berth_error_make(err, errno, "delete the route to %s/%d", berth_ipv4_str(dst, a),
                                prefix);
    return 0;
}
