/* The controller's checks of requests (validate.h): what passes, and what
 * each refusal says. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "validate.h"

static NodeInfo_LabelsEntry zone = NODE_INFO_LABELS_ENTRY_INIT;
static NodeInfo_LabelsEntry *labels[] = { &zone };
static NodeCapacity cap = NODE_CAPACITY_INIT;
static NodeInfo info = NODE_INFO_INIT;

static void info_setup(void)
{
    node_info_init(&info);
    zone.key = "topology/zone";
    zone.value = "a";
    info.name = "node-1";
    info.labels = labels;
    info.n_labels = 1;
    cap.cpu_millis = 2000;
    cap.memory_bytes = 4LL << 30;
    info.capacity = &cap;
    info.kernel_version = "6.1.0-18-amd64";
    info.agent_version = "0.1.0";
    info.arch = "x86_64";
    info.os = "linux";
    info.agent_address = "tcp://10.0.0.2:7421";
}

START_TEST(node_info)
{
    berth_error *err = NULL;

    ck_assert_int_eq(ctl_node_info_validate(&info, &err), 0);
    info.agent_address = "";
    ck_assert_int_eq(ctl_node_info_validate(&info, &err), 0); /* no Agent endpoint */

    zone.value = "a b";
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.labels: 'topology/zone' is not a label (up to 63 of letters, "
                          "digits, '-', '_', '.')");
    zone.value = "a";
    zone.key = "";
    ck_assert_int_lt(ctl_node_info_validate(&info, NULL), 0);
    zone.key = "zone";
    info.n_labels = 65;
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.labels: 65 labels, at most 64");
    info.n_labels = 1;
    cap.memory_bytes = -1;
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err, "node.capacity: out of range");
    cap.memory_bytes = 0;
    info.os = "linux\x1b[2J";
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node: kernel_version, agent_version, arch and os are up to 256 "
                          "printable characters");
    info.os = "linux";
    info.agent_address = "udp://x";
    ck_assert_int_lt(ctl_node_info_validate(&info, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "node.agent_address: "));
    berth_error_free(&err);
}
END_TEST

/* A node's extended resources: Kubernetes' names, each once, bounded. */
START_TEST(node_extended_resources)
{
    NodeCapacity_ExtendedEntry e[65], *ep[65];
    char names[65][32];
    berth_error *err = NULL;

    for (size_t i = 0; i < 65; i++) {
        node_capacity_extended_entry_init(&e[i]);
        snprintf(names[i], sizeof(names[i]), "example.com/class%zu", i);
        e[i].key = names[i];
        e[i].value = 2;
        ep[i] = &e[i];
    }
    cap.extended = ep;
    cap.n_extended = 64;
    ck_assert_int_eq(ctl_node_info_validate(&info, &err), 0);
    cap.n_extended = 65;
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.capacity.extended: 65 resources, at most 64");
    cap.n_extended = 2;
    e[1].value = 0; /* a kind whose devices are all gone */
    ck_assert_int_eq(ctl_node_info_validate(&info, &err), 0);
    e[1].value = (1 << 20) + 1;
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.capacity.extended[example.com/class1]: 1048577 is out of range "
                          "(0..1048576)");
    e[1].value = -1;
    ck_assert_int_lt(ctl_node_info_validate(&info, NULL), 0);
    e[1].value = 1;
    e[1].key = "example.com/class0";
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.capacity.extended: example.com/class0 is given twice");
    e[1].key = "Vendor_X.com/gpu";
    ck_assert_berth_error(ctl_node_info_validate(&info, &err), err,
                          "node.capacity.extended: 'Vendor_X.com/gpu' doesn't follow extended "
                          "resource name standard (its domain must be a lower case DNS "
                          "subdomain, at most 244 characters)");
    e[1].key = "kubernetes.io/gpu";
    ck_assert_int_lt(ctl_node_info_validate(&info, NULL), 0);
    cap.extended = NULL;
    cap.n_extended = 0;
}
END_TEST

START_TEST(heartbeat)
{
    HeartbeatRequest hb = HEARTBEAT_REQUEST_INIT;
    berth_error *err = NULL;

    hb.applied_generation = UINT64_MAX / 2;
    ck_assert_int_eq(ctl_heartbeat_validate(&hb, &err), 0);
    hb.applied_generation++;
    ck_assert_berth_error(ctl_heartbeat_validate(&hb, &err), err,
                          "applied_generation 9223372036854775808 is out of range");
}
END_TEST

START_TEST(statuses_and_reports)
{
    ContainerStatus a = CONTAINER_STATUS_INIT, b = CONTAINER_STATUS_INIT;
    ContainerStatus *list[] = { &a, &b };
    ReportStatusRequest rs = REPORT_STATUS_REQUEST_INIT;
    berth_error *err = NULL;
    char *long_message = malloc(4098);

    a.id = "web-0";
    a.state = CONTAINER_RUNNING;
    b.id = "web-1";
    b.state = CONTAINER_FAILED;
    rs.containers = list;
    rs.n_containers = 2;
    ck_assert_int_eq(ctl_report_status_validate(&rs, &err), 0);

    b.id = "Web/1";
    ck_assert_berth_error(ctl_report_status_validate(&rs, &err), err,
                          "status: 'Web/1' is not a container id");
    b.id = "web-0";
    ck_assert_berth_error(ctl_report_status_validate(&rs, &err), err,
                          "status of web-0 listed twice");
    b.id = "web-1";
    b.state = 99;
    ck_assert_berth_error(ctl_status_validate(&b, &err), err, "status of web-1: unknown state 99");
    b.state = CONTAINER_EXITED;
    memset(long_message, 'x', 4097);
    long_message[4097] = '\0';
    b.message = long_message;
    ck_assert_berth_error(ctl_status_validate(&b, &err), err,
                          "status of web-1: reason or message too long");
    long_message[4096] = '\0';
    ck_assert_int_eq(ctl_status_validate(&b, &err), 0);
    b.message = "";
    long_message[641] = '\0'; /* a reference (512) and a digest fit in 640 */
    b.image_id = long_message;
    ck_assert_berth_error(ctl_status_validate(&b, &err), err,
                          "status of web-1: image or image_id too long");
    b.image_id = "";
    b.reason = "Exit\n";
    ck_assert_int_lt(ctl_status_validate(&b, NULL), 0);

    b.reason = "";
    /* the devices it holds: CDI names and host paths, bounded */
    {
        char *devices[1025], *big = malloc(4097);

        for (size_t i = 0; i < 1025; i++)
            devices[i] = "example.com/dev=dev0";
        devices[1] = "/dev/fuse";
        b.devices = devices;
        b.n_devices = 2;
        ck_assert_int_eq(ctl_status_validate(&b, &err), 0);
        b.n_devices = 1025;
        ck_assert_berth_error(ctl_status_validate(&b, &err), err,
                              "status of web-1: 1025 devices, at most 1024");
        b.n_devices = 2;
        devices[1] = "";
        ck_assert_berth_error(ctl_status_validate(&b, &err), err,
                              "status of web-1: devices[1] is not a device's name or path "
                              "(printable, at most 4095 characters, 65536 in all)");
        devices[1] = "/dev/\x1b[2J";
        ck_assert_int_lt(ctl_status_validate(&b, NULL), 0);
        memset(big, 'x', 4096);
        big[4096] = '\0';
        devices[1] = big;
        ck_assert_int_lt(ctl_status_validate(&b, NULL), 0);
        big[4000] = '\0';
        for (size_t i = 0; i < 20; i++)
            devices[i] = big;
        b.n_devices = 16;
        ck_assert_int_eq(ctl_status_validate(&b, &err), 0);
        b.n_devices = 17; /* 68000 bytes */
        ck_assert_int_lt(ctl_status_validate(&b, NULL), 0);
        b.devices = NULL;
        b.n_devices = 0;
        free(big);
    }

    rs.n_containers = CTL_STATUSES_MAX + 1; /* refused before a status is read */
    ck_assert_berth_error(ctl_report_status_validate(&rs, &err), err,
                          "4097 statuses, at most 4096");
    free(long_message);
}
END_TEST

START_TEST(operator_requests)
{
    ApproveNodeRequest an = APPROVE_NODE_REQUEST_INIT;
    CreateJoinTokenRequest jt = CREATE_JOIN_TOKEN_REQUEST_INIT;
    berth_error *err = NULL;
    char fp[64];

    memset(fp, 'A', 44);
    fp[44] = '\0';
    an.key_fingerprint = fp;
    ck_assert_int_eq(ctl_approve_node_validate(&an, &err), 0);
    strcat(fp, "A");
    ck_assert_berth_error(ctl_approve_node_validate(&an, &err), err, "not a key fingerprint");

    jt.description = "rack 4, row B";
    ck_assert_int_eq(ctl_join_token_request_validate(&jt, &err), 0);
    jt.description = "rack\t4";
    ck_assert_berth_error(ctl_join_token_request_validate(&jt, &err), err,
                          "description: control characters are not allowed");
}
END_TEST

START_TEST(source_names)
{
    char name[CTL_SOURCE_MAX + 1], long_source[300];

    ctl_source_name("web.yaml", name, sizeof(name));
    ck_assert_str_eq(name, "web.yaml");
    ctl_source_name("", name, sizeof(name));
    ck_assert_str_eq(name, "manifest");
    ctl_source_name("a\nb\x1b", name, sizeof(name));
    ck_assert_str_eq(name, "a?b?");
    memset(long_source, 'x', sizeof(long_source) - 1);
    long_source[sizeof(long_source) - 1] = '\0';
    ctl_source_name(long_source, name, sizeof(name));
    ck_assert_uint_eq(strlen(name), CTL_SOURCE_MAX);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("controller-validate");
    TCase *tc = tcase_create("nodes");

    tcase_add_checked_fixture(tc, info_setup, NULL);
    tcase_add_test(tc, node_info);
    tcase_add_test(tc, node_extended_resources);
    tcase_add_test(tc, heartbeat);
    tcase_add_test(tc, statuses_and_reports);
    suite_add_tcase(s, tc);
    tc = tcase_create("operators");
    tcase_add_test(tc, operator_requests);
    tcase_add_test(tc, source_names);
    suite_add_tcase(s, tc);
    return s;
}
