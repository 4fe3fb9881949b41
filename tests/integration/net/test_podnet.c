/* The built-in pod network (lib/net/podnet.h) for real: every test runs in
 * a network and mount namespace of its own (check forks each test), the
 * "node's"; pods are network namespaces bound at files, as a sandbox binds
 * them. What is checked is what a pod and an operator see: addresses,
 * links, routes, rules, and TCP between pods and from the node. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "nettest.h"
#include "net/ipam.h"
#include "net/netlink.h"
#include "net/podnet.h"

static berth_podnet *open_net(const char *cidr)
{
    char ipdir[128];
    berth_podnet_config cfg = { ipdir, "berth0", cidr, "10.244.0.0/16", "berth", false, 0 };
    berth_podnet *n = NULL;
    berth_error *err = NULL;

    snprintf(ipdir, sizeof(ipdir), "%s/ips", nettest_dir);
    ck_assert_msg(berth_podnet_open(&cfg, &n, &err) == 0, "%s", err ? err->msg : "");
    return n;
}

/* In a child in netns (NULL: the node's): connect to addr:port and read
 * what comes; the child's exit code is 0 when it read want. */
static pid_t client(const char *netns, uint32_t addr, int port, const char *want)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = addr };
        char buf[64] = "";
        int fd, ns;

        if (netns && ((ns = open(netns, O_RDONLY)) < 0 || setns(ns, CLONE_NEWNET) < 0))
            _exit(2);
        for (int i = 0; i < 50; i++) {
            fd = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
                break;
            close(fd);
            fd = -1;
            usleep(20000);
        }
        if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
            _exit(3);
        _exit(strcmp(buf, want) == 0 ? 0 : 4);
    }
    return pid;
}

/* A server in netns on port answering each connection with text. */
static pid_t server(const char *netns, int port, const char *text)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd, ns, one = 1;

        if ((ns = open(netns, O_RDONLY)) < 0 || setns(ns, CLONE_NEWNET) < 0)
            _exit(2);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
            _exit(3);
        for (;;) {
            int c = accept(fd, NULL, NULL);

            if (c >= 0) {
                if (write(c, text, strlen(text)) < 0)
                    _exit(4);
                close(c);
            }
        }
    }
    return pid;
}

static int exit_code(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(pods_reach_each_other_and_the_node_reaches_them)
{
    berth_podnet *n = open_net("10.244.1.0/24");
    char a[128], b[128], s[16], out[4096];
    uint32_t ia, ib, again;
    berth_error *err = NULL;
    pid_t srv;

    nettest_pod_netns("pod-a", a, sizeof(a));
    nettest_pod_netns("pod-b", b, sizeof(b));
    ck_assert_msg(berth_podnet_attach(n, "web-0", a, &ia, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_msg(berth_podnet_attach(n, "web-1", b, &ib, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(berth_ipv4_str(ia, s), "10.244.1.2");
    ck_assert_str_eq(berth_ipv4_str(ib, s), "10.244.1.3");
    /* attached again (berthd restarted mid-way): the same address */
    ck_assert_int_eq(berth_podnet_attach(n, "web-0", a, &again, &err), 0);
    ck_assert_uint_eq(again, ia);
    ck_assert_int_eq(berth_podnet_addr(n, "web-1", &again, NULL), 1);
    ck_assert_uint_eq(again, ib);

    srv = server(a, 7000, "from a");
    ck_assert_int_eq(exit_code(client(b, ia, 7000, "from a")), 0);    /* pod to pod */
    ck_assert_int_eq(exit_code(client(NULL, ia, 7000, "from a")), 0); /* node to pod */
    kill(srv, SIGKILL);
    exit_code(srv);

    /* the pod's side as ip shows it */
    snprintf(out, sizeof(out), "nsenter --net=%s ip -4 -o addr show eth0", a);
    nettest_sh(out, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, "10.244.1.2/24"));
    snprintf(out, sizeof(out), "nsenter --net=%s ip route show default", a);
    nettest_sh(out, out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, "default via 10.244.1.1 dev eth0"));
    nettest_sh("ip -4 -o addr show berth0", out, sizeof(out));
    ck_assert_ptr_nonnull(strstr(out, "10.244.1.1/24"));
    nettest_sh("cat /proc/sys/net/ipv4/ip_forward", out, sizeof(out));
    ck_assert_str_eq(out, "1\n");
    nettest_sh("nft list table ip berth", out, sizeof(out));
    ck_assert_msg(strstr(out, "ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 masquerade"), "%s",
                  out);

    /* detached: the veth and the address go, the other pod stays */
    ck_assert_int_eq(berth_podnet_detach(n, "web-0", &err), 0);
    ck_assert_int_eq(berth_podnet_addr(n, "web-0", &again, NULL), 0);
    nettest_sh("ip -o link show type veth | wc -l", out, sizeof(out));
    ck_assert_str_eq(out, "1\n");
    ck_assert_int_eq(berth_podnet_detach(n, "web-0", &err), 0); /* twice is fine */
    berth_podnet_close(n);

    /* opened again (berthd restarted): the bridge and the pod are found */
    n = open_net("10.244.1.0/24");
    ck_assert_int_eq(berth_podnet_addr(n, "web-1", &again, NULL), 1);
    ck_assert_uint_eq(again, ib);
    srv = server(b, 7001, "from b");
    ck_assert_int_eq(exit_code(client(NULL, ib, 7001, "from b")), 0);
    kill(srv, SIGKILL);
    exit_code(srv);
    berth_podnet_close(n);
}
END_TEST

START_TEST(a_full_range_and_a_sweep)
{
    berth_podnet *n = open_net("10.244.9.0/30"); /* one address: .2 */
    char a[128], b[128], s[16], out[256];
    berth_error *err = NULL;
    uint32_t ia, ib;

    nettest_pod_netns("pod-a", a, sizeof(a));
    nettest_pod_netns("pod-b", b, sizeof(b));
    ck_assert_int_eq(berth_podnet_attach(n, "a", a, &ia, &err), 0);
    ck_assert_str_eq(berth_ipv4_str(ia, s), "10.244.9.2");
    ck_assert_int_lt(berth_podnet_attach(n, "b", b, &ib, &err), 0);
    ck_assert_int_eq(err->code, ENOSPC);
    ck_assert_str_eq(err->msg, "pod b: pod range 10.244.9.0/30 is full: 1 addresses given");
    berth_error_free(&err);
    /* nothing of b was made */
    nettest_sh("ip -o link show type veth | wc -l", out, sizeof(out));
    ck_assert_str_eq(out, "1\n");
    /* a sweep after a's pod went (berthd was away): address and veth go */
    ck_assert_int_eq(berth_podnet_sweep(n, NULL, NULL, &err), 1);
    nettest_sh("ip -o link show type veth | wc -l", out, sizeof(out));
    ck_assert_str_eq(out, "0\n");
    ck_assert_int_eq(berth_podnet_attach(n, "b", b, &ib, &err), 0);
    berth_podnet_close(n);
}
END_TEST

/* Routes to the other nodes' ranges through their addresses (host-gw),
 * exactly the peers given; and the node's own address. */
START_TEST(routes_to_other_nodes)
{
    berth_podnet *n = open_net("10.244.1.0/24");
    berth_podnet_peer peers[3];
    berth_error *err = NULL;
    char out[1024], s[16];
    uint32_t a;

    /* the node's link to the others */
    nettest_sh("ip link add d0 type veth peer name d1 && ip addr add 10.213.0.1/24 dev d0 && "
               "ip link set d1 up && ip link set d0 up "
               "&& echo done",
               out, sizeof(out));
    ck_assert_str_eq(out, "done\n");
    ck_assert_msg(berth_podnet_node_ip(n, &a, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(berth_ipv4_str(a, s), "10.213.0.1");
    inet_pton(AF_INET, "10.213.0.2", &peers[0].node_ip);
    peers[0].pod_cidr = "10.244.2.0/24";
    inet_pton(AF_INET, "10.213.0.3", &peers[1].node_ip);
    peers[1].pod_cidr = "10.244.3.0/24";
    inet_pton(AF_INET, "10.213.0.1", &peers[2].node_ip);
    peers[2].pod_cidr = "10.244.1.0/24"; /* its own: passed over */
    ck_assert_msg(berth_podnet_peers(n, peers, 3, &err) == 0, "%s", err ? err->msg : "");
    nettest_sh("ip route show proto 188", out, sizeof(out));
    ck_assert_str_eq(out, "10.244.2.0/24 via 10.213.0.2 dev d0 \n"
                          "10.244.3.0/24 via 10.213.0.3 dev d0 \n");
    /* a node left, another changed address: exactly the new set */
    inet_pton(AF_INET, "10.213.0.4", &peers[1].node_ip);
    ck_assert_int_eq(berth_podnet_peers(n, peers + 1, 1, &err), 0);
    nettest_sh("ip route show proto 188", out, sizeof(out));
    ck_assert_str_eq(out, "10.244.3.0/24 via 10.213.0.4 dev d0 \n");
    ck_assert_int_eq(berth_podnet_peers(n, NULL, 0, &err), 0);
    nettest_sh("ip route show proto 188 | wc -l", out, sizeof(out));
    ck_assert_str_eq(out, "0\n");
    berth_podnet_close(n);
}
END_TEST

/* A host port: the node's address and port reach the pod's port, from
 * the node itself; unpublished, the rule goes; detaching unpublishes. */
START_TEST(host_ports_reach_the_pod)
{
    berth_podnet *n = open_net("10.244.1.0/24");
    berth_podnet_port port = { .host_port = 8080, .pod_port = 7000 };
    berth_error *err = NULL;
    char a[128], out[4096];
    uint32_t ia, node_ip;
    pid_t srv;

    nettest_sh("ip link add d0 type veth peer name d1 && ip addr add 10.213.0.1/24 dev d0 && "
               "ip link set d1 up && ip link set d0 up && ip link set lo up && echo done",
               out, sizeof(out));
    ck_assert_str_eq(out, "done\n");
    inet_pton(AF_INET, "10.213.0.1", &node_ip);
    nettest_pod_netns("pod-a", a, sizeof(a));
    ck_assert_int_eq(berth_podnet_attach(n, "web-0", a, &ia, &err), 0);
    ck_assert_msg(berth_podnet_publish(n, "web-0", &port, 1, &err) == 0, "%s", err ? err->msg : "");
    nettest_sh("nft list table ip berth", out, sizeof(out));
    ck_assert_msg(strstr(out, "tcp dport 8080 dnat to 10.244.1.2:7000"), "%s", out);
    srv = server(a, 7000, "published");
    ck_assert_int_eq(exit_code(client(NULL, node_ip, 8080, "published")), 0);
    kill(srv, SIGKILL);
    exit_code(srv);
    ck_assert_int_eq(berth_podnet_publish(n, "web-0", NULL, 0, &err), 0);
    nettest_sh("nft list table ip berth", out, sizeof(out));
    ck_assert_ptr_null(strstr(out, "dnat"));
    ck_assert_int_eq(berth_podnet_publish(n, "web-0", &port, 1, &err), 0);
    ck_assert_int_eq(berth_podnet_detach(n, "web-0", &err), 0);
    nettest_sh("nft list table ip berth", out, sizeof(out));
    ck_assert_ptr_null(strstr(out, "dnat"));
    berth_podnet_close(n);
}
END_TEST

/* The VXLAN overlay: its device, and per peer a neighbour, a forwarding
 * entry and a route through its VTEP; a peer gone takes them along. */
START_TEST(the_vxlan_overlay)
{
    char ipdir[128], out[4096];
    berth_podnet_config cfg = {
        ipdir, "berth0", "10.244.1.0/24", "10.244.0.0/16", "berth", true, 0
    };
    berth_podnet_peer peer = { 0, "10.244.2.0/24" };
    berth_podnet *n = NULL;
    berth_error *err = NULL;

    nettest_sh("ip link add d0 type veth peer name d1 && ip addr add 10.213.0.1/24 dev d0 && "
               "ip link set d1 up && ip link set d0 up && echo done",
               out, sizeof(out));
    ck_assert_str_eq(out, "done\n");
    snprintf(ipdir, sizeof(ipdir), "%s/ips", nettest_dir);
    inet_pton(AF_INET, "10.213.0.1", &cfg.node_ip);
    ck_assert_msg(berth_podnet_open(&cfg, &n, &err) == 0, "%s", err ? err->msg : "");
    nettest_sh("ip -d -o link show berth.vx", out, sizeof(out));
    ck_assert_msg(strstr(out, "vxlan id 1 local 10.213.0.1") && strstr(out, "dstport 8472") &&
                      strstr(out, "0a:58:0a:d5:00:01"),
                  "%s", out);
    inet_pton(AF_INET, "10.213.5.7", &peer.node_ip);
    ck_assert_msg(berth_podnet_peers(n, &peer, 1, &err) == 0, "%s", err ? err->msg : "");
    nettest_sh("ip neigh show dev berth.vx", out, sizeof(out));
    ck_assert_str_eq(out, "10.244.2.0 lladdr 0a:58:0a:d5:05:07 PERMANENT \n");
    nettest_sh("bridge fdb show dev berth.vx", out, sizeof(out));
    ck_assert_msg(strstr(out, "0a:58:0a:d5:05:07 dst 10.213.5.7 self permanent"), "%s", out);
    nettest_sh("ip route show proto 188", out, sizeof(out));
    ck_assert_str_eq(out, "10.244.2.0/24 via 10.244.2.0 dev berth.vx onlink \n");
    /* the node's address is not the overlay's own */
    {
        uint32_t a;
        char s[16];

        ck_assert_int_eq(berth_podnet_node_ip(n, &a, &err), 0);
        ck_assert_str_eq(berth_ipv4_str(a, s), "10.213.0.1");
    }
    ck_assert_int_eq(berth_podnet_peers(n, NULL, 0, &err), 0);
    nettest_sh("ip neigh show dev berth.vx; bridge fdb show dev berth.vx | grep dst; "
               "ip route show proto 188",
               out, sizeof(out));
    ck_assert_str_eq(out, "");
    /* a peer that leaves while berthd is away: the next berthd's first
     * list takes its entries away, and keeps the listed one's */
    {
        berth_podnet_peer two[2] = { peer, { 0, "10.244.3.0/24" } };

        inet_pton(AF_INET, "10.213.5.8", &two[1].node_ip);
        ck_assert_int_eq(berth_podnet_peers(n, two, 2, &err), 0);
        berth_podnet_close(n);
        n = NULL;
        ck_assert_msg(berth_podnet_open(&cfg, &n, &err) == 0, "%s", err ? err->msg : "");
        ck_assert_msg(berth_podnet_peers(n, &peer, 1, &err) == 0, "%s", err ? err->msg : "");
    }
    nettest_sh("ip neigh show dev berth.vx; bridge fdb show dev berth.vx | grep dst; "
               "ip route show proto 188",
               out, sizeof(out));
    ck_assert_str_eq(out, "10.244.2.0 lladdr 0a:58:0a:d5:05:07 PERMANENT \n"
                          "0a:58:0a:d5:05:07 dst 10.213.5.7 self permanent\n"
                          "10.244.2.0/24 via 10.244.2.0 dev berth.vx onlink \n");
    berth_podnet_close(n);
}
END_TEST

/* What an earlier berthd left in the kernel for another range or another
 * address of the node's is not kept: the bridge's old address goes, a
 * VXLAN device of the old address is made anew. */
START_TEST(old_kernel_state_is_replaced)
{
    char ipdir[128], out[4096];
    berth_podnet_config cfg = {
        ipdir, "berth0", "10.244.1.0/24", "10.244.0.0/16", "berth", true, 0
    };
    berth_podnet *n = NULL;
    berth_error *err = NULL;

    nettest_sh("ip link add d0 type veth peer name d1 && ip addr add 10.213.0.1/24 dev d0 && "
               "ip addr add 10.213.0.2/24 dev d0 && ip link set d1 up && ip link set d0 up && "
               "echo done",
               out, sizeof(out));
    ck_assert_str_eq(out, "done\n");
    snprintf(ipdir, sizeof(ipdir), "%s/ips", nettest_dir);
    inet_pton(AF_INET, "10.213.0.1", &cfg.node_ip);
    ck_assert_msg(berth_podnet_open(&cfg, &n, &err) == 0, "%s", err ? err->msg : "");
    berth_podnet_close(n);
    /* the state wiped, a new range from the controller, a new address */
    snprintf(out, sizeof(out), "rm -rf %s", ipdir);
    nettest_sh(out, out, sizeof(out));
    cfg.pod_cidr = "10.244.7.0/24";
    inet_pton(AF_INET, "10.213.0.2", &cfg.node_ip);
    ck_assert_msg(berth_podnet_open(&cfg, &n, &err) == 0, "%s", err ? err->msg : "");
    nettest_sh("ip -4 -o addr show berth0 | awk '{ print $4 }'; "
               "ip -4 -o addr show berth.vx | awk '{ print $4 }'",
               out, sizeof(out));
    ck_assert_str_eq(out, "10.244.7.1/24\n10.244.7.0/32\n");
    nettest_sh("ip -d -o link show berth.vx", out, sizeof(out));
    ck_assert_msg(strstr(out, "local 10.213.0.2") && strstr(out, "0a:58:0a:d5:00:02"), "%s", out);
    berth_podnet_close(n);
}
END_TEST

START_TEST(bad_ranges_are_refused)
{
    char ipdir[128];
    berth_podnet_config cfg = {
        ipdir, "berth0", "10.9.1.0/24", "10.244.0.0/16", "berth", false, 0
    };
    berth_podnet *n = NULL;
    berth_error *err = NULL;

    snprintf(ipdir, sizeof(ipdir), "%s/ips", nettest_dir);
    ck_assert_int_lt(berth_podnet_open(&cfg, &n, &err), 0);
    ck_assert_str_eq(err->msg, "pod network: pod range 10.9.1.0/24 is not inside the cluster range "
                               "10.244.0.0/16");
    berth_error_free(&err);
    cfg.pod_cidr = "10.244.1.7/24";
    ck_assert_int_lt(berth_podnet_open(&cfg, &n, &err), 0);
    ck_assert_str_eq(err->msg, "pod network: '10.244.1.7/24': host bits set (the network is "
                               "10.244.1.0/24)");
    berth_error_free(&err);
    /* nothing was made */
    ck_assert_uint_eq(if_nametoindex("berth0"), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("podnet");

    tcase_add_checked_fixture(tc, nettest_setup, nettest_teardown);
    tcase_add_test(tc, pods_reach_each_other_and_the_node_reaches_them);
    tcase_add_test(tc, a_full_range_and_a_sweep);
    tcase_add_test(tc, routes_to_other_nodes);
    tcase_add_test(tc, host_ports_reach_the_pod);
    tcase_add_test(tc, the_vxlan_overlay);
    tcase_add_test(tc, old_kernel_state_is_replaced);
    tcase_add_test(tc, bad_ranges_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
