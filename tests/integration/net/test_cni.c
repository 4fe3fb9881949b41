/* CNI for real: Debian's containernetworking-plugins (bridge, host-local)
 * driven by lib/net/cni.c in a network and mount namespace of the test's
 * own (check forks each test): ADD with prevResult chaining, the cached
 * result, CHECK, DEL (also after a restart, from the cache), the garbage
 * collection, and bad configurations refused with file and reason. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "nettest.h"
#include "net/cidr.h"
#include "net/cni.h"

#define BIN "/usr/lib/cni"

static char conf[128], cache[128];

static void put(const char *name, const char *text)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", conf, name);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644, NULL), 0);
}

static void cni_setup(void)
{
    nettest_setup();
    snprintf(conf, sizeof(conf), "%s/net.d", nettest_dir);
    snprintf(cache, sizeof(cache), "%s/cache", nettest_dir);
    ck_assert_int_eq(mkdir(conf, 0755), 0);
}

static void bridge_conf(void)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "{\"cniVersion\": \"1.0.0\", \"name\": \"testnet\", \"plugins\": [\n"
             "  {\"type\": \"bridge\", \"bridge\": \"cnitest0\", \"isGateway\": true,\n"
             "   \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": "
             "\"10.22.0.0/24\"}]],\n"
             "            \"dataDir\": \"%s/ipam\"}}]}\n",
             nettest_dir);
    put("10-test.conflist", text);
}

START_TEST(add_del_and_the_cache)
{
    berth_cni *c = NULL;
    berth_error *err = NULL;
    char a[128], b[128], out[4096], s[16];
    uint32_t ia, ib;

    if (access(BIN "/bridge", X_OK) < 0)
        return; /* the plugins are a test dependency: install-deps.sh */
    bridge_conf();
    put("99-later.conf", "not even JSON");
    ck_assert_msg(berth_cni_open(conf, BIN, cache, &c, &err) == 0, "%s", err ? err->msg : "");
    ck_assert_str_eq(berth_cni_name(c), "testnet");
    nettest_pod_netns("pod-a", a, sizeof(a));
    nettest_pod_netns("pod-b", b, sizeof(b));
    ck_assert_msg(berth_cni_add(c, "web-0", "default", "web-0", a, NULL, 0, &ia, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_eq(berth_cni_add(c, "web-1", "default", "web-1", b, NULL, 0, &ib, &err), 0);
    ck_assert_str_eq(berth_ipv4_str(ia, s), "10.22.0.2");
    ck_assert_str_eq(berth_ipv4_str(ib, s), "10.22.0.3");
    /* the node reaches a pod through the plugin's bridge */
    nettest_sh("busybox ping -c1 -W2 10.22.0.2 >/dev/null && echo reached", out, sizeof(out));
    ck_assert_str_eq(out, "reached\n");
    /* CHECK: as ADD left it, and not once its interface is gone */
    ck_assert_msg(berth_cni_check(c, "web-0", &err) == 0, "%s", err ? err->msg : "");
    snprintf(out, sizeof(out), "nsenter --net=%s ip link del eth0 && echo broken", b);
    nettest_sh(out, out, sizeof(out));
    ck_assert_str_eq(out, "broken\n");
    ck_assert_int_lt(berth_cni_check(c, "web-1", &err), 0);
    ck_assert_msg(strstr(err->msg, "network testnet: CNI plugin bridge CHECK: "), "%s", err->msg);
    berth_error_free(&err);
    ck_assert_int_lt(berth_cni_check(c, "web-9", &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    berth_error_free(&err);
    snprintf(out, sizeof(out), "%s/web-0.json", cache);
    ck_assert_int_eq(access(out, F_OK), 0);
    /* DEL from the cache, as a restarted berthd does */
    berth_cni_close(c);
    c = NULL;
    ck_assert_int_eq(berth_cni_open(conf, BIN, cache, &c, &err), 0);
    ck_assert_msg(berth_cni_del(c, "web-0", &err) == 0, "%s", err ? err->msg : "");
    ck_assert_int_eq(access(out, F_OK), -1);
    snprintf(out, sizeof(out), "ls %s/ipam/testnet | grep -c '^10\\.'", nettest_dir);
    nettest_sh(out, out, sizeof(out));
    ck_assert_str_eq(out, "1\n");
    /* the garbage collection: web-1 is gone */
    ck_assert_int_eq(berth_cni_gc(c, NULL, NULL, &err), 1);
    snprintf(out, sizeof(out), "ls %s/ipam/testnet | grep -c '^10\\.'", nettest_dir);
    nettest_sh(out, out, sizeof(out));
    ck_assert_str_eq(out, "0\n");
    nettest_sh("ip -o link show type veth | wc -l", out, sizeof(out));
    ck_assert_str_eq(out, "0\n");
    ck_assert_int_eq(berth_cni_del(c, "web-0", &err), 0); /* nothing cached: fine */
    berth_cni_close(c);
}
END_TEST

START_TEST(bad_configurations_and_failing_plugins)
{
    berth_cni *c = NULL;
    berth_error *err = NULL;
    char a[128], want[512];
    uint32_t ia;

    if (access(BIN "/bridge", X_OK) < 0)
        return;
    ck_assert_int_lt(berth_cni_open(conf, BIN, cache, &c, &err), 0);
    snprintf(want, sizeof(want), "no CNI configuration (*.conflist, *.conf) in %s", conf);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    put("10-bad.conflist", "{\"cniVersion\": \"1.0.0\",\n \"name\": \"x\" \"plugins\": []}");
    ck_assert_int_lt(berth_cni_open(conf, BIN, cache, &c, &err), 0);
    snprintf(want, sizeof(want), "%s/10-bad.conflist:2:22: '}' expected near '\"plugins\"'", conf);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    put("10-bad.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": "
                           "[{\"type\": \"flannelish\"}]}");
    ck_assert_int_lt(berth_cni_open(conf, BIN, cache, &c, &err), 0);
    snprintf(want, sizeof(want),
             "%s/10-bad.conflist: plugins[0]: plugin 'flannelish' is not in " BIN, conf);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    /* a plugin that fails: its message */
    put("10-bad.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"x\", \"plugins\": "
                           "[{\"type\": \"bridge\", \"ipam\": {\"type\": \"host-local\"}}]}");
    ck_assert_int_eq(berth_cni_open(conf, BIN, cache, &c, &err), 0);
    nettest_pod_netns("pod-a", a, sizeof(a));
    ck_assert_int_lt(berth_cni_add(c, "p", "default", "p", a, NULL, 0, &ia, &err), 0);
    ck_assert_msg(strstr(err->msg, "network x: CNI plugin bridge ADD: "), "%s", err->msg);
    berth_error_free(&err);
    berth_cni_close(c);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("cni");
    TCase *tc = tcase_create("cni");

    tcase_add_checked_fixture(tc, cni_setup, nettest_teardown);
    tcase_add_test(tc, add_del_and_the_cache);
    tcase_add_test(tc, bad_configurations_and_failing_plugins);
    suite_add_tcase(s, tc);
    return s;
}
