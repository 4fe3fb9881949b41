/* A pod's /etc/hosts and /etc/resolv.conf as berthd writes them
 * (agent/berthd/podfiles.c): the node's resolver settings, the pod's
 * dnsPolicy and dnsConfig merged as Kubernetes merges them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "podfiles.h"

static const char node[] = "# generated\n"
                           "nameserver 127.0.0.53\n"
                           "nameserver 10.0.0.2\n"
                           "search old.example\n"
                           "search corp.example lab.example\n"
                           "options edns0 ndots:2\n"
                           "sortlist 10.0.0.0\n";

START_TEST(hosts)
{
    char *h = podfiles_hosts("10.244.1.5", "web-0");

    ck_assert_ptr_nonnull(strstr(h, "127.0.0.1\tlocalhost\n"));
    ck_assert_ptr_nonnull(strstr(h, "::1\tlocalhost ip6-localhost ip6-loopback\n"));
    ck_assert_ptr_nonnull(strstr(h, "\n10.244.1.5\tweb-0\n"));
    free(h);
}
END_TEST

START_TEST(the_nodes_resolver_without_its_loopback_stub)
{
    char *r = podfiles_resolv(node, NULL);

    ck_assert_str_eq(r, "# Kubernetes-managed resolv.conf (berth).\n"
                        "nameserver 10.0.0.2\n"
                        "search corp.example lab.example\n"
                        "options edns0 ndots:2\n");
    free(r);
    r = podfiles_resolv(NULL, NULL);
    ck_assert_str_eq(r, "# Kubernetes-managed resolv.conf (berth).\n");
    free(r);
}
END_TEST

START_TEST(dns_config_is_merged)
{
    char *ns[] = { "10.0.0.2", "1.1.1.1", "9.9.9.9", "8.8.8.8" }, *search[] = { "svc.example" };
    DNSOption o1 = DNSOPTION_INIT, o2 = DNSOPTION_INIT, *opts[] = { &o1, &o2 };
    PodDNS d = POD_DNS_INIT;
    char *r;

    o1.name = "ndots";
    o1.value = "5";
    o2.name = "rotate";
    o2.value = "";
    d.policy = "ClusterFirst";
    d.nameservers = ns;
    d.n_nameservers = 4;
    d.searches = search;
    d.n_searches = 1;
    d.options = opts;
    d.n_options = 2;
    r = podfiles_resolv(node, &d);
    /* at most 3 servers, each once; options replaced by name */
    ck_assert_str_eq(r, "# Kubernetes-managed resolv.conf (berth).\n"
                        "nameserver 10.0.0.2\n"
                        "nameserver 1.1.1.1\n"
                        "nameserver 9.9.9.9\n"
                        "search corp.example lab.example svc.example\n"
                        "options edns0 ndots:5 rotate\n");
    free(r);
    d.policy = "None";
    d.n_nameservers = 1;
    r = podfiles_resolv(node, &d);
    ck_assert_str_eq(r, "# Kubernetes-managed resolv.conf (berth).\n"
                        "nameserver 10.0.0.2\n"
                        "search svc.example\n"
                        "options ndots:5 rotate\n");
    free(r);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("podfiles");
    TCase *tc = tcase_create("podfiles");

    tcase_add_test(tc, hosts);
    tcase_add_test(tc, the_nodes_resolver_without_its_loopback_stub);
    tcase_add_test(tc, dns_config_is_merged);
    suite_add_tcase(s, tc);
    return s;
}
