/* Every example manifest in deploy/examples parses and validates, with the
 * workloads its comments promise. (README and the quickstart point
 * operators at these files: they must never rot.) */
#include <check.h>
#include <fcntl.h>
#include <string.h>

#include "base/io.h"
#include "check_main.h"
#include "manifest/manifest.h"

static berth_manifest *load(const char *name)
{
    char path[1024], *text = NULL;
    size_t len = 0;
    berth_error *err = NULL;
    berth_manifest *m = NULL;

    snprintf(path, sizeof(path), "%s/deploy/examples/%s", BERTH_SOURCE_DIR, name);
    ck_assert_msg(berth_read_file_at(AT_FDCWD, path, 1 << 20, &text, &len, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_msg(berth_manifest_parse(text, len, name, &m, &err) == 0, "%s", err ? err->msg : "");
    free(text);
    return m;
}

static const ContainerSpec *template_of(const berth_manifest *m, size_t i)
{
    ck_assert_ptr_nonnull(m->workloads[i]->template_);
    return m->workloads[i]->template_;
}

START_TEST(hello)
{
    berth_manifest *m = load("hello.yaml");

    ck_assert_uint_eq(m->n_workloads, 2);
    ck_assert_str_eq(m->workloads[0]->name, "hello-web");
    ck_assert_int_eq(m->workloads[0]->kind, WORKLOAD_DEPLOYMENT);
    ck_assert_int_eq(template_of(m, 0)->network, NETWORK_HOST);
    ck_assert_ptr_nonnull(template_of(m, 0)->liveness_probe);
    ck_assert_str_eq(template_of(m, 0)->image, "127.0.0.1:7120/berth/busybox:1.35");
    ck_assert_str_eq(m->workloads[1]->name, "hello-log");
    ck_assert_int_eq(m->workloads[1]->kind, WORKLOAD_DAEMONSET);
    ck_assert_ptr_nonnull(template_of(m, 1)->liveness_probe);
    berth_manifest_free(m);
}
END_TEST

START_TEST(web)
{
    berth_manifest *m = load("web.yaml");

    ck_assert_uint_eq(m->n_workloads, 1);
    ck_assert_uint_eq(m->workloads[0]->replicas, 3);
    ck_assert(template_of(m, 0)->readonly_rootfs);
    ck_assert_uint_eq(m->workloads[0]->n_node_selector, 1);
    berth_manifest_free(m);
}
END_TEST

START_TEST(batch)
{
    berth_manifest *m = load("batch.yaml");

    ck_assert_uint_eq(m->n_workloads, 1);
    ck_assert_int_eq(m->workloads[0]->kind, WORKLOAD_POD);
    ck_assert_int_eq(template_of(m, 0)->restart_policy, RESTART_ON_FAILURE);
    berth_manifest_free(m);
}
END_TEST

START_TEST(pod)
{
    berth_manifest *m = load("pod.yaml");
    const Workload *w = m->workloads[0];

    ck_assert_ptr_nonnull(w->pod);
    ck_assert_uint_eq(w->pod->n_init_containers, 2);
    ck_assert_int_eq(w->pod->init_containers[1]->restart_policy, RESTART_ALWAYS);
    ck_assert_ptr_nonnull(w->pod->init_containers[1]->startup_probe);
    ck_assert_ptr_nonnull(w->template_->liveness_probe);
    ck_assert_ptr_nonnull(w->template_->readiness_probe);
    ck_assert(w->template_->run_as_non_root);
    ck_assert_uint_eq(w->template_->fs_group->gid, 2000);
    ck_assert_uint_eq(w->pod->init_containers[0]->n_env_refs, 2);
    berth_manifest_free(m);
}
END_TEST

START_TEST(daemonset)
{
    berth_manifest *m = load("daemonset.yaml");

    ck_assert_uint_eq(m->n_workloads, 1);
    ck_assert_int_eq(m->workloads[0]->kind, WORKLOAD_DAEMONSET);
    ck_assert_ptr_nonnull(template_of(m, 0)->liveness_probe);
    berth_manifest_free(m);
}
END_TEST

START_TEST(team)
{
    berth_manifest *m = load("team.yaml");

    ck_assert_uint_eq(m->n_namespaces, 1);
    ck_assert_str_eq(m->namespaces[0]->name, "team-a");
    ck_assert_uint_eq(m->n_workloads, 1);
    ck_assert_str_eq(m->workloads[0]->namespace_, "team-a");
    ck_assert_uint_eq(template_of(m, 0)->n_env_refs, 1);
    berth_manifest_free(m);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("manifest-examples");
    TCase *tc = tcase_create("deploy/examples");

    tcase_add_test(tc, hello);
    tcase_add_test(tc, web);
    tcase_add_test(tc, batch);
    tcase_add_test(tc, daemonset);
    tcase_add_test(tc, pod);
    tcase_add_test(tc, team);
    suite_add_tcase(s, tc);
    return s;
}
