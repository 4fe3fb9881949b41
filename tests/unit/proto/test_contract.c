/* The service contract as other implementations see it: full method names,
 * their message types, and numbers that must never change. */
#include <check.h>
#include <string.h>

#include "berth/proto/v1.h"
#include "check_main.h"

static void method_is(const ProtobufCServiceDescriptor *svc, const char *name, const char *in,
                      const char *out)
{
    const ProtobufCMethodDescriptor *m =
        protobuf_c_service_descriptor_get_method_by_name(svc, name);

    ck_assert_msg(m != NULL, "%s has no method %s", svc->name, name);
    ck_assert_str_eq(m->input->name, in);
    ck_assert_str_eq(m->output->name, out);
}

START_TEST(controller_methods)
{
    const ProtobufCServiceDescriptor *c = &controller_descriptor;
    Controller_Service svc;

    ck_assert_str_eq(c->name, "berth.v1.Controller");
    method_is(c, "Register", "berth.v1.RegisterRequest", "berth.v1.RegisterResponse");
    method_is(c, "Heartbeat", "berth.v1.HeartbeatRequest", "berth.v1.HeartbeatResponse");
    method_is(c, "GetAssignments", "berth.v1.GetAssignmentsRequest", "berth.v1.Assignments");
    method_is(c, "ReportStatus", "berth.v1.ReportStatusRequest", "berth.v1.ReportStatusResponse");
    method_is(c, "Apply", "berth.v1.ApplyRequest", "berth.v1.ApplyResponse");
    method_is(c, "Delete", "berth.v1.DeleteRequest", "berth.v1.DeleteResponse");
    method_is(c, "ListNodes", "berth.v1.ListNodesRequest", "berth.v1.ListNodesResponse");
    method_is(c, "GetNode", "berth.v1.GetNodeRequest", "berth.v1.Node");
    method_is(c, "ApproveNode", "berth.v1.ApproveNodeRequest", "berth.v1.Node");
    method_is(c, "CreateJoinToken", "berth.v1.CreateJoinTokenRequest", "berth.v1.JoinToken");
    method_is(c, "ListWorkloads", "berth.v1.ListWorkloadsRequest",
              "berth.v1.ListWorkloadsResponse");
    method_is(c, "GetWorkload", "berth.v1.GetWorkloadRequest", "berth.v1.Workload");
    method_is(c, "ListContainers", "berth.v1.ListContainersRequest",
              "berth.v1.ListContainersResponse");
    method_is(c, "GetContainer", "berth.v1.GetContainerRequest", "berth.v1.ContainerInfo");
    method_is(c, "ListPods", "berth.v1.ListPodsRequest", "berth.v1.ListPodsResponse");
    method_is(c, "GetPod", "berth.v1.GetPodRequest", "berth.v1.Pod");
    method_is(c, "FleetHealth", "berth.v1.FleetHealthRequest", "berth.v1.FleetHealthResponse");
    method_is(c, "Logs", "berth.v1.LogsRequest", "berth.v1.LogsResponse");
    method_is(c, "CordonNode", "berth.v1.CordonNodeRequest", "berth.v1.Node");
    method_is(c, "TaintNode", "berth.v1.TaintNodeRequest", "berth.v1.Node");
    method_is(c, "DrainNode", "berth.v1.DrainNodeRequest", "berth.v1.Node");
    method_is(c, "ListEvents", "berth.v1.ListEventsRequest", "berth.v1.ListEventsResponse");
    method_is(c, "Top", "berth.v1.TopRequest", "berth.v1.TopResponse");
    method_is(c, "StopContainer", "berth.v1.StopContainerRequest", "berth.v1.StopResponse");
    method_is(c, "ListNamespaces", "berth.v1.ListNamespacesRequest",
              "berth.v1.ListNamespacesResponse");
    method_is(c, "GetPeers", "berth.v1.GetPeersRequest", "berth.v1.Peers");
    method_is(c, "Rollout", "berth.v1.RolloutRequest", "berth.v1.RolloutResponse");
    method_is(c, "ListDisruptionBudgets", "berth.v1.ListDisruptionBudgetsRequest",
              "berth.v1.ListDisruptionBudgetsResponse");
    method_is(c, "EvictPod", "berth.v1.EvictPodRequest", "berth.v1.EvictPodResponse");
    method_is(c, "CreateJob", "berth.v1.CreateJobRequest", "berth.v1.ApplyResponse");
    method_is(c, "ListObjects", "berth.v1.ListObjectsRequest", "berth.v1.ListObjectsResponse");
    method_is(c, "Version", "berth.v1.VersionRequest", "berth.v1.VersionResponse");
    method_is(c, "ListJoinTokens", "berth.v1.ListJoinTokensRequest",
              "berth.v1.ListJoinTokensResponse");
    method_is(c, "DeleteJoinToken", "berth.v1.DeleteJoinTokenRequest", "berth.v1.JoinToken");
    method_is(c, "Exec", "berth.v1.ExecStart", "berth.v1.DuplexOpened");
    method_is(c, "Attach", "berth.v1.AttachStart", "berth.v1.DuplexOpened");
    method_is(c, "PortForward", "berth.v1.PortForwardStart", "berth.v1.DuplexOpened");
    method_is(c, "Exchange", "berth.v1.DuplexExchange", "berth.v1.DuplexExchanged");
    method_is(c, "ListControllers", "berth.v1.ListControllersRequest",
              "berth.v1.ListControllersResponse");
    ck_assert_uint_eq(c->n_methods, 39);
    /* protoc-c would name Register's handler after a C keyword; the build
     * renames the member, the wire name stays "Register" */
    berth__v1__controller__init(&svc, NULL);
    ck_assert_ptr_null(svc.register_);
}
END_TEST

START_TEST(agent_methods)
{
    const ProtobufCServiceDescriptor *a = &agent_descriptor;

    ck_assert_str_eq(a->name, "berth.v1.Agent");
    method_is(a, "Health", "berth.v1.HealthRequest", "berth.v1.HealthReport");
    method_is(a, "List", "berth.v1.ListContainersRequest", "berth.v1.ListContainersResponse");
    method_is(a, "Logs", "berth.v1.LogsRequest", "berth.v1.LogsResponse");
    method_is(a, "Stop", "berth.v1.StopRequest", "berth.v1.StopResponse");
    method_is(a, "Exec", "berth.v1.ExecStart", "berth.v1.DuplexOpened");
    method_is(a, "Attach", "berth.v1.AttachStart", "berth.v1.DuplexOpened");
    method_is(a, "PortForward", "berth.v1.PortForwardStart", "berth.v1.DuplexOpened");
    method_is(a, "Exchange", "berth.v1.DuplexExchange", "berth.v1.DuplexExchanged");
    ck_assert_uint_eq(a->n_methods, 8);
}
END_TEST

START_TEST(numbers_that_must_not_change)
{
    ck_assert_int_eq(CONTAINER_PENDING, 1);
    ck_assert_int_eq(CONTAINER_RUNNING, 4);
    ck_assert_int_eq(CONTAINER_OOM_KILLED, 6);
    ck_assert_int_eq(CONTAINER_FAILED, 8);
    ck_assert_int_eq(
        protobuf_c_message_descriptor_get_field_by_name(&envelope_descriptor, "stream_epoch")->id,
        8);
    ck_assert_int_eq(
        protobuf_c_message_descriptor_get_field_by_name(&wake_up_descriptor, "generation")->id, 1);
    ck_assert_int_eq(NODE_READY, 2);
    ck_assert_int_eq(NODE_UNKNOWN, 3);
    ck_assert_int_eq(NODE_DOWN, 4);
    ck_assert_int_eq(WORKLOAD_DAEMONSET, 3);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("proto/contract");
    TCase *tc = tcase_create("contract");

    tcase_add_test(tc, controller_methods);
    tcase_add_test(tc, agent_methods);
    tcase_add_test(tc, numbers_that_must_not_change);
    suite_add_tcase(s, tc);
    return s;
}
