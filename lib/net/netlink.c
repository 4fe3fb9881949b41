/* rtnetlink through libmnl (netlink.h). */
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

        if (n < 0)
            return -1;
        r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
        if (r <= MNL_CB_STOP)
            return r < 0 ? -1 : 0;
    }
}

static int link_index_cb(const struct nlmsghdr *nlh, void *data)
{
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

    *(int *)data = ifi->ifi_index;
    return MNL_CB_OK;
}

int berth_nl_link_index(berth_nl *nl, const char *name, int *ret_index, berth_error **err)
{
    char buf[NL_BUF];
    struct nlmsghdr *nlh = request(nl, buf, RTM_GETLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    int index = 0;

    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    if (talk(nl, nlh, link_index_cb, &index) < 0 || index <= 0)
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

int berth_nl_addr_add(berth_nl *nl, int index, uint32_t addr, int prefix, berth_error **err)
{
    char buf[NL_BUF], a[16];
    struct nlmsghdr *nlh = request(nl, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
    if (talk(nl, nlh, NULL, NULL) < 0 && errno != EEXIST)
        return berth_error_make(err, errno, "add address %s/%d", berth_ipv4_str(addr, a), prefix);
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

    rt->rtm_protocol = 0;
    rt->rtm_scope = RT_SCOPE_NOWHERE;
    rt->rtm_type = 0;
    if (talk(nl, nlh, NULL, NULL) < 0 && errno != ESRCH)
        return berth_error_make(err, errno, "delete the route to %s/%d", berth_ipv4_str(dst, a),
                                prefix);
    return 0;
}
