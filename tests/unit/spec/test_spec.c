/* ContainerSpec validation: every rejected field names itself. Also the
 * capability, rlimit and cpuset parsers. */
#include <check.h>
#include <string.h>
#include <sys/resource.h>

#include "check_main.h"
#include "pb/pb.h"
#include "spec/spec.h"
#include "spec/workload.h"

static ContainerSpec spec;
static Resources res;
static char *cmd[] = { "/bin/true" };

static void setup(void)
{
    container_spec_init(&spec);
    resources_init(&res);
    spec.id = "web-1";
    spec.rootfs = "/srv/rootfs";
    spec.command = cmd;
    spec.n_command = 1;
}

static void expect_invalid(const char *want)
{
    berth_error *err = NULL;

    ck_assert_int_lt(berth_spec_validate(&spec, &err), 0);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
}

START_TEST(valid_minimal)
{
    berth_error *err = NULL;

    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    spec.rootfs = "";
    spec.image = "busybox:1.35";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
}
END_TEST

START_TEST(ids_and_roots)
{
    spec.id = "Web";
    expect_invalid("spec.id: 'Web' is not a valid id (1-255 of a-z 0-9 _ . -, starting with a "
                   "letter or digit)");
    spec.id = "-x";
    expect_invalid("spec.id: '-x' is not a valid id (1-255 of a-z 0-9 _ . -, starting with a "
                   "letter or digit)");
    spec.id = "a/b";
    expect_invalid("spec.id: 'a/b' is not a valid id (1-255 of a-z 0-9 _ . -, starting with a "
                   "letter or digit)");
    spec.id = "ok";
    spec.image = "bb";
    expect_invalid("spec: rootfs and image are exclusive");
    spec.rootfs = "";
    spec.image = "";
    expect_invalid("spec: one of rootfs and image is required");
    spec.rootfs = "relative/dir";
    expect_invalid("spec.rootfs: 'relative/dir' must be an absolute, normalised path");
    spec.rootfs = "/srv/../etc";
    expect_invalid("spec.rootfs: '/srv/../etc' must be an absolute, normalised path");
    spec.rootfs = "";
    spec.image = "../etc";
    expect_invalid("spec.image: image reference '../etc': registry host '..' is not valid");
    spec.image = "Nginx";
    ck_assert_int_eq(berth_spec_validate(&spec, NULL), 0); /* a directory image's name */
    spec.image = "nginx/Web";
    expect_invalid("spec.image: image reference 'nginx/Web': repository name must be lowercase");
    spec.image = "registry.k8s.io/busybox:1.27.2";
    ck_assert_int_eq(berth_spec_validate(&spec, NULL), 0);
    spec.image_pull_policy = 7;
    expect_invalid("spec.image_pull_policy: 7 is not a policy");
    spec.image_pull_policy = 0;
    /* an image's config may give the command */
    spec.n_command = 0;
    ck_assert_int_eq(berth_spec_validate(&spec, NULL), 0);
}
END_TEST

START_TEST(pod_members)
{
    berth_error *err = NULL;
    PodMember m;
    UserNamespace uns;
    char id[BERTH_SPEC_ID_MAX + 1];

    pod_member_init(&m);
    spec.pod = &m;
    m.pod = "web-0";
    m.name = "app";
    spec.id = "web-0_app";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    /* a DaemonSet's pod id may carry a node name with '_' */
    m.pod = "agents.node_1";
    spec.id = "agents.node_1_app";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    spec.id = "web-0_app";
    expect_invalid("spec.id: 'web-0_app' is not the id of container app of pod agents.node_1 "
                   "(agents.node_1_app)");
    m.pod = "web-0";
    m.name = "App_1";
    expect_invalid("spec.pod.name: 'App_1' is not a valid container name (1-63 of a-z 0-9 -, "
                   "starting and ending with a letter or digit)");
    m.name = "app";
    m.role = POD_ROLE_SIDECAR;
    expect_invalid("spec.pod.role: a sidecar restarts Always");
    spec.restart_policy = RESTART_ALWAYS;
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    m.role = POD_ROLE_INIT;
    expect_invalid("spec.pod.role: an init container runs to completion (restart policy Always "
                   "makes it a sidecar)");
    spec.restart_policy = RESTART_ON_FAILURE;
    user_namespace_init(&uns);
    uns.enabled = true;
    spec.user_namespace = &uns;
    expect_invalid("spec.user_namespace: enabled needs at least one uid map and one gid map");
    spec.user_namespace = NULL;
    /* member ids: the longest DaemonSet pod with the longest name fits */
    ck_assert(berth_spec_member_id("web-0", "app", id, sizeof(id)));
    ck_assert_str_eq(id, "web-0_app");
    ck_assert(!berth_spec_member_id("web-0", "", id, 3));
    /* sleep: a hook's action, never a probe's */
    {
        SleepAction nap = SLEEP_ACTION_INIT;
        Probe p = PROBE_INIT;
        Lifecycle lc = LIFECYCLE_INIT;

        spec.pod = NULL;
        spec.id = "web-1";
        spec.restart_policy = RESTART_NEVER;
        p.action_case = PROBE_ACTION_SLEEP;
        p.sleep = &nap;
        nap.seconds = 5;
        lc.pre_stop = &p;
        spec.lifecycle = &lc;
        ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
        spec.lifecycle = NULL;
        spec.liveness_probe = &p;
        expect_invalid("spec.liveness_probe: sleep is for lifecycle hooks only");
        spec.liveness_probe = NULL;
    }
    ck_assert(berth_spec_dns_label_valid("a-1"));
    ck_assert(!berth_spec_dns_label_valid("a-"));
    ck_assert(!berth_spec_dns_label_valid("a.b"));
}
END_TEST

START_TEST(env_field_refs)
{
    berth_env_facts f = { .pod = "web-0",
                          .namespace_ = "default",
                          .uid = "u-1",
                          .node = "n1",
                          .pod_ip = "",
                          .host_ip = "10.0.0.2",
                          .node_cpu_millis = 4000,
                          .node_memory_bytes = 8LL << 30 };
    ContainerSpec other;
    PodMember om, sm;
    Resources ores;
    ContainerSpec *pod[] = { &spec, &other };
    ContainerSpec_LabelsEntry app = CONTAINER_SPEC_LABELS_ENTRY_INIT, *labels[] = { &app };
    EnvFieldRef r;
    berth_error *err = NULL;
    char v[64];

    env_field_ref_init(&r);
    r.name = "X";
    r.field_path = "metadata.name";
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "web-0");
    r.field_path = "spec.nodeName";
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "n1");
    app.key = "app";
    app.value = "web";
    spec.labels = labels;
    spec.n_labels = 1;
    r.field_path = "metadata.labels['app']";
    ck_assert(berth_env_field_path_valid(r.field_path));
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "web");
    ck_assert(!berth_env_field_path_valid("spec.serviceAccountName"));
    ck_assert(!berth_env_field_path_valid("metadata.labels['a b']"));
    /* resources: a limit not set is the node's; rounded up to the divisor */
    r.field_path = "";
    r.resource = "limits.cpu";
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "4");
    res.cpu_millis = 1500;
    spec.resources = &res;
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "2");
    r.divisor = 1; /* 1m */
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, NULL, 0, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "1500");
    /* another container of the pod */
    container_spec_init(&other);
    pod_member_init(&om);
    om.name = "side";
    other.pod = &om;
    resources_init(&ores);
    ores.memory_bytes = 64 << 20;
    other.resources = &ores;
    pod_member_init(&sm);
    sm.name = "app";
    spec.pod = &sm;
    r.resource = "limits.memory";
    r.container_name = "side";
    r.divisor = 1 << 20;
    ck_assert_int_eq(berth_env_ref_value(&r, &f, &spec, pod, 2, v, sizeof(v), &err), 0);
    ck_assert_str_eq(v, "64");
    r.container_name = "nope";
    ck_assert_berth_error(berth_env_ref_value(&r, &f, &spec, pod, 2, v, sizeof(v), &err), err,
                          "env X: resourceFieldRef: no container nope in the pod");
    spec.pod = NULL;
    spec.labels = NULL;
    spec.n_labels = 0;
}
END_TEST

START_TEST(command_env_dirs)
{
    static char *empty[] = { "" };
    static char *env[] = { "A=1", "=2" };

    spec.n_command = 0;
    expect_invalid("spec.command: must not be empty");
    spec.command = empty;
    spec.n_command = 1;
    expect_invalid("spec.command: must not be empty");
    spec.command = cmd;
    spec.env = env;
    spec.n_env = 2;
    expect_invalid("spec.env[1]: '=2' is not NAME=value");
    spec.n_env = 1;
    spec.working_dir = "tmp";
    expect_invalid("spec.working_dir: 'tmp' must be an absolute, normalised path");
    spec.working_dir = "/a/./b";
    expect_invalid("spec.working_dir: '/a/./b' must be an absolute, normalised path");
    spec.working_dir = "/";
    spec.hostname = "bad_host";
    expect_invalid(
        "spec.hostname: 'bad_host' is not a valid host name (letters, digits, '-', '.')");
}
END_TEST

/* Kubernetes' defaults: Always for :latest or no tag, else IfNotPresent. */
START_TEST(pull_policy)
{
    spec.rootfs = "";
    spec.image = "nginx";
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_ALWAYS);
    spec.image = "nginx:latest";
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_ALWAYS);
    spec.image = "localhost:5000/app:v1";
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_IF_NOT_PRESENT);
    spec.image = "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_IF_NOT_PRESENT);
    spec.image_pull_policy = PULL_NEVER;
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_NEVER);
    spec.image = "nginx";
    spec.image_pull_policy = PULL_IF_NOT_PRESENT;
    ck_assert_int_eq(berth_spec_pull_policy(&spec), BERTH_PULL_IF_NOT_PRESENT);
}
END_TEST

static void expect_argv(const ContainerSpec *e, const char *want)
{
    char got[512] = "";

    for (size_t i = 0; i < e->n_command; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", *got ? " " : "",
                 e->command[i]);
    snprintf(got + strlen(got), sizeof(got) - strlen(got), " |");
    for (size_t i = 0; i < e->n_args; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), " %s", e->args[i]);
    ck_assert_str_eq(got, want);
}

/* The image's config as Kubernetes applies it. */
START_TEST(effective_with_image)
{
    static char *ep[] = { "/docker-entrypoint.sh" }, *cmdv[] = { "nginx", "-g", "daemon off;" };
    static char *mycmd[] = { "/bin/sh" }, *myargs[] = { "-c", "true" };
    static char *ienv[] = { "PATH=/usr/bin", "NGINX_VERSION=1.25" }, *senv[] = { "PATH=/opt" };
    static uint32_t gids[] = { 5, 6 };
    static char *layers[] = { "/var/lib/berth/images/layers/0" };
    ImageConfig img = IMAGE_CONFIG_INIT;
    ContainerSpec *e = NULL;
    User root = USER_INIT;
    berth_error *err = NULL;

    spec.rootfs = "";
    spec.image = "nginx:1.25";
    spec.n_command = 0;
    img.reference = "docker.io/library/nginx:1.25";
    img.layers = layers;
    img.n_layers = 1;
    img.entrypoint = ep;
    img.n_entrypoint = 1;
    img.cmd = cmdv;
    img.n_cmd = 3;
    img.env = ienv;
    img.n_env = 2;
    img.working_dir = "/srv";
    img.user = "nginx";
    img.user_resolved = true;
    img.uid = 101;
    img.gid = 101;
    img.additional_gids = gids;
    img.n_additional_gids = 2;
    img.stop_signal = 3;

    /* neither command nor args: Entrypoint + Cmd, and the rest of the config */
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    expect_argv(e, "/docker-entrypoint.sh | nginx -g daemon off;");
    ck_assert_uint_eq(e->n_env, 2);
    ck_assert_str_eq(e->env[0], "PATH=/usr/bin");
    ck_assert_str_eq(e->working_dir, "/srv");
    ck_assert_ptr_nonnull(e->user);
    ck_assert_uint_eq(e->user->uid, 101);
    ck_assert_uint_eq(e->user->n_additional_gids, 2);
    ck_assert_int_eq(e->stop_signal, 3);
    BERTH_PB_FREE(e);

    /* args only: Entrypoint + args; the spec's env, dir, user, signal win */
    spec.args = myargs;
    spec.n_args = 2;
    spec.env = senv;
    spec.n_env = 1;
    spec.working_dir = "/tmp";
    spec.user = &root;
    spec.stop_signal = 15;
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    expect_argv(e, "/docker-entrypoint.sh | -c true");
    ck_assert_uint_eq(e->n_env, 2);
    ck_assert_str_eq(e->env[0], "NGINX_VERSION=1.25");
    ck_assert_str_eq(e->env[1], "PATH=/opt");
    ck_assert_str_eq(e->working_dir, "/tmp");
    ck_assert_uint_eq(e->user->uid, 0);
    ck_assert_int_eq(e->stop_signal, 15);
    BERTH_PB_FREE(e);

    /* runAsGroup alone: the image's uid with that group, and its groups */
    root.gid = 7;
    root.image_uid = true;
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    ck_assert_uint_eq(e->user->uid, 101);
    ck_assert_uint_eq(e->user->gid, 7);
    ck_assert_uint_eq(e->user->n_additional_gids, 2);
    ck_assert(!e->user->image_uid && !e->user->image_gid);
    BERTH_PB_FREE(e);
    /* runAsUser alone, not the image's user: group 0 */
    root.uid = 5;
    root.image_uid = false;
    root.image_gid = true;
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    ck_assert_uint_eq(e->user->uid, 5);
    ck_assert_uint_eq(e->user->gid, 0);
    ck_assert_uint_eq(e->user->n_additional_gids, 0);
    BERTH_PB_FREE(e);
    root.uid = root.gid = 0;
    root.image_gid = false;

    /* command: replaces Entrypoint and drops Cmd */
    spec.command = mycmd;
    spec.n_command = 1;
    spec.n_args = 0;
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    expect_argv(e, "/bin/sh |");
    BERTH_PB_FREE(e);

    /* no Entrypoint: Cmd's first word is the command */
    spec.n_command = 0;
    img.n_entrypoint = 0;
    ck_assert_int_eq(berth_spec_effective(&spec, &img, &e, &err), 0);
    expect_argv(e, "nginx | -g daemon off;");
    BERTH_PB_FREE(e);

    /* nothing to run */
    img.n_cmd = 0;
    ck_assert_int_lt(berth_spec_effective(&spec, &img, &e, &err), 0);
    ck_assert_str_eq(err->msg, "spec.command: image docker.io/library/nginx:1.25 has no "
                               "Entrypoint or Cmd, and the spec gives no command");
    berth_error_free(&err);

    /* a user the image does not have */
    img.n_cmd = 3;
    spec.user = NULL;
    img.user_resolved = false;
    img.user_error = "no user nginx in the image's /etc/passwd";
    ck_assert_int_lt(berth_spec_effective(&spec, &img, &e, &err), 0);
    ck_assert_str_eq(err->msg, "image docker.io/library/nginx:1.25: user nginx: no user nginx in "
                               "the image's /etc/passwd");
    berth_error_free(&err);

    /* an image with no layers has nothing to run */
    img.n_layers = 0;
    ck_assert_int_lt(berth_spec_effective(&spec, &img, &e, &err), 0);
    ck_assert_str_eq(err->msg, "image docker.io/library/nginx:1.25 has no layers: nothing to run");
    berth_error_free(&err);

    /* a directory image has no config: the spec must give the command */
    ck_assert_int_lt(berth_spec_effective(&spec, NULL, &e, &err), 0);
    ck_assert_ptr_nonnull(strstr(err->msg, "directory image"));
    berth_error_free(&err);
}
END_TEST

START_TEST(resources)
{
    spec.resources = &res;
    res.memory_bytes = 1024;
    expect_invalid("spec.resources.memory_bytes: 1Ki is below the minimum of 4Mi");
    res.memory_bytes = -1;
    expect_invalid("spec.resources.memory_bytes: -1 must not be negative");
    res.memory_bytes = 0;
    res.cpu_millis = -5;
    expect_invalid("spec.resources.cpu_millis: -5 is out of range (0..1000000)");
    res.cpu_millis = 0;
    res.cpu_period_us = 10;
    expect_invalid("spec.resources.cpu_period_us: 10 is out of range (1000..1000000)");
    res.cpu_period_us = 0;
    res.cpu_weight = 20000;
    expect_invalid("spec.resources.cpu_weight: 20000 is out of range (1..10000)");
    res.cpu_weight = 0;
    res.pids_limit = -1;
    expect_invalid("spec.resources.pids_limit: -1 must not be negative");
    res.pids_limit = 0;
    res.cpuset_cpus = "0-";
    expect_invalid("spec.resources.cpuset_cpus: '0-' is not a list like 0-3,6");
    res.cpuset_cpus = "3-1";
    expect_invalid("spec.resources.cpuset_cpus: '3-1' is not a list like 0-3,6");
    res.cpuset_cpus = "0-3,6";
    {
        berth_error *err = NULL;
        ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    }
}
END_TEST

START_TEST(mounts)
{
    berth_error *err = NULL;
    Mount m;
    Mount *mp[] = { &m };

    mount_init(&m);
    spec.mounts = mp;
    spec.n_mounts = 1;
    m.source = "/host";
    m.destination = "/";
    expect_invalid("spec.mounts[0].destination: '/' must be an absolute, normalised path other "
                   "than /");
    m.destination = "/proc/sys";
    expect_invalid("spec.mounts[0].destination: '/proc/sys' is managed by the runtime");
    m.destination = "/data";
    m.source = "rel";
    expect_invalid("spec.mounts[0].source: 'rel' must be an absolute, normalised host path");
    m.type = MOUNT_TMPFS;
    expect_invalid("spec.mounts[0].source: a tmpfs mount has no source");
    m.source = "";
    m.tmpfs_size_bytes = -1;
    expect_invalid("spec.mounts[0].tmpfs_size_bytes: must not be negative");
    m.memory = true;
    m.tmpfs_size_bytes = 0;
    expect_invalid("spec.mounts[0].memory: only for emptyDir volumes");
    m.type = MOUNT_EMPTY_DIR;
    m.source = "../x";
    expect_invalid("spec.mounts[0].source: '../x' is not a volume name");
    m.source = "cache";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    m.type = 7;
    expect_invalid("spec.mounts[0].type: unknown mount type 7");
}
END_TEST

START_TEST(security_and_supervision)
{
    Capabilities caps;
    Rlimit rl;
    Rlimit *rlp[] = { &rl };
    Probe probe;
    TcpAction tcp;
    static char *add[] = { "NET_ADMIN", "cap_bogus" };

    capabilities_init(&caps);
    caps.add = add;
    caps.n_add = 2;
    spec.capabilities = &caps;
    expect_invalid("spec.capabilities.add[1]: capability 'cap_bogus' is unknown");
    spec.capabilities = NULL;

    rlimit_init(&rl);
    rl.type = "nofiles";
    spec.rlimits = rlp;
    spec.n_rlimits = 1;
    expect_invalid("spec.rlimits[0].type: rlimit 'nofiles' is unknown (e.g. nofile, nproc, core)");
    rl.type = "RLIMIT_NOFILE";
    rl.soft = 10;
    rl.hard = 5;
    expect_invalid("spec.rlimits[0]: soft limit 10 is above the hard limit 5");
    spec.n_rlimits = 0;

    spec.stop_signal = 99;
    expect_invalid("spec.stop_signal: 99 is not a signal number");
    spec.stop_signal = 0;
    spec.log_max_bytes = 10;
    expect_invalid("spec.log_max_bytes: 10 is out of range (4096..1Ti)");
    spec.log_max_bytes = 0;
    spec.restart_policy = 9;
    expect_invalid("spec.restart_policy: unknown policy 9");
    spec.restart_policy = 0;

    probe_init(&probe);
    tcp_action_init(&tcp);
    spec.liveness_probe = &probe;
    expect_invalid("spec.liveness_probe: needs exec, tcp or http_get");
    probe.action_case = PROBE_ACTION_TCP;
    probe.tcp = &tcp;
    tcp.port = 70000;
    expect_invalid("spec.liveness_probe.tcp.port: 70000 is not a port (1..65535)");
}
END_TEST

START_TEST(defaults)
{
    ck_assert_int_eq(berth_spec_stop_grace_ms(&spec), 10000);
    ck_assert_int_eq(berth_spec_stop_signal(&spec), 15);
    ck_assert_int_eq(berth_spec_log_max_bytes(&spec), 10 << 20);
    ck_assert_int_eq(berth_spec_log_max_files(&spec), 5);
}
END_TEST

START_TEST(capabilities)
{
    berth_error *err = NULL;
    uint64_t m;

    /* Docker's default set, the CapEff a container shows. */
    ck_assert_uint_eq(berth_caps_default(), 0xa80425fbULL);
    ck_assert_int_eq(berth_cap_parse("NET_ADMIN", &m, &err), 0);
    ck_assert_uint_eq(m, 1ULL << 12);
    ck_assert_int_eq(berth_cap_parse("cap_sys_admin", &m, &err), 0);
    ck_assert_uint_eq(m, 1ULL << 21);
    ck_assert_int_eq(berth_cap_parse("all", &m, &err), 0);
    ck_assert_uint_eq(m, (1ULL << 41) - 1); /* up to CAP_CHECKPOINT_RESTORE */
    ck_assert_int_eq(berth_cap_parse("CAP_BPF", &m, &err), 0);
    ck_assert_uint_eq(m, 1ULL << 39);
    ck_assert_berth_error(berth_cap_parse("12", &m, &err), err, "capability '12' is unknown");
}
END_TEST

START_TEST(rlimits_and_cpuset)
{
    berth_error *err = NULL;
    int r;

    ck_assert_int_eq(berth_rlimit_parse("nofile", &r, &err), 0);
    ck_assert_int_eq(r, RLIMIT_NOFILE);
    ck_assert_int_eq(berth_rlimit_parse("RLIMIT_CORE", &r, &err), 0);
    ck_assert_int_eq(r, RLIMIT_CORE);
    ck_assert_int_eq(berth_cpuset_validate("0", "x", &err), 0);
    ck_assert_int_eq(berth_cpuset_validate("0-3,6,8-9", "x", &err), 0);
    ck_assert_berth_error(berth_cpuset_validate("0,,1", "x", &err), err,
                          "x: '0,,1' is not a list like 0-3,6");
}
END_TEST

START_TEST(extended_resources)
{
    berth_error *err = NULL;
    Resources_ExtendedEntry e[BERTH_SPEC_EXTENDED_MAX + 1], *ep[BERTH_SPEC_EXTENDED_MAX + 1];
    char names[BERTH_SPEC_EXTENDED_MAX + 1][32];
    char long_name[80];

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(e); i++) {
        resources_extended_entry_init(&e[i]);
        snprintf(names[i], sizeof(names[i]), "example.com/dev%zu", i);
        e[i].key = names[i];
        e[i].value = 1;
        ep[i] = &e[i];
    }
    spec.resources = &res;
    res.extended = ep;
    res.n_extended = 2;
    e[0].key = "example.com/dev";
    e[0].value = 2;
    e[1].key = "vendor.example/gpu_v2.x";
    e[1].value = 1024;
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    /* Kubernetes allows a limit of 0: nothing is asked for */
    e[1].value = 0;
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    e[1].value = 1025;
    expect_invalid("spec.resources.extended[vendor.example/gpu_v2.x]: 1025 is out of range "
                   "(0..1024)");
    e[1].value = -1;
    expect_invalid("spec.resources.extended[vendor.example/gpu_v2.x]: -1 is out of range "
                   "(0..1024)");
    e[1].value = 1;
    e[1].key = "example.com/dev";
    expect_invalid("spec.resources.extended: example.com/dev is given twice");
    e[1].key = "gpu";
    expect_invalid("spec.resources.extended: 'gpu' doesn't follow extended resource name "
                   "standard (a domain and a name: example.com/device)");
    e[1].key = "Example.com/dev";
    expect_invalid("spec.resources.extended: 'Example.com/dev' doesn't follow extended resource "
                   "name standard (its domain must be a lower case DNS subdomain, at most 244 "
                   "characters)");
    e[1].key = "example..com/dev";
    expect_invalid("spec.resources.extended: 'example..com/dev' doesn't follow extended "
                   "resource name standard (its domain must be a lower case DNS subdomain, at "
                   "most 244 characters)");
    e[1].key = "example.com/-dev";
    expect_invalid("spec.resources.extended: 'example.com/-dev' doesn't follow extended resource "
                   "name standard (its name must be 1-63 characters, a letter or digit at both "
                   "ends)");
    e[1].key = "example.com/a/b";
    expect_invalid("spec.resources.extended: 'example.com/a/b' doesn't follow extended resource "
                   "name standard (a domain and a name: example.com/device)");
    e[1].key = "example.com/d+v";
    expect_invalid("spec.resources.extended: 'example.com/d+v' doesn't follow extended resource "
                   "name standard (its name must be letters, digits, '-', '_' and '.')");
    snprintf(long_name, sizeof(long_name), "example.com/%064d", 0);
    e[1].key = long_name;
    ck_assert_ptr_nonnull(berth_extended_resource_name_problem(long_name));
    /* Kubernetes' own names are native resources, not extended ones */
    e[1].key = "kubernetes.io/dev";
    expect_invalid("spec.resources.extended: 'kubernetes.io/dev' doesn't follow extended "
                   "resource name standard (the kubernetes.io domain is Kubernetes' own)");
    ck_assert_ptr_nonnull(berth_extended_resource_name_problem("node.kubernetes.io/x"));
    e[1].key = "requests.example.com/dev";
    expect_invalid("spec.resources.extended: 'requests.example.com/dev' doesn't follow extended "
                   "resource name standard (\"requests.\" starts a quota's name)");
    e[1].key = "x.example.com/dev";
    res.n_extended = BERTH_SPEC_EXTENDED_MAX;
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    res.n_extended = BERTH_SPEC_EXTENDED_MAX + 1;
    expect_invalid("spec.resources.extended: 33 resources, at most 32");
}
END_TEST

START_TEST(devices)
{
    berth_error *err = NULL;
    DeviceRequest d[BERTH_SPEC_DEVICES_MAX + 1], *dp[BERTH_SPEC_DEVICES_MAX + 1];

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(d); i++) {
        device_request_init(&d[i]);
        d[i].name = "/dev/fuse";
        dp[i] = &d[i];
    }
    spec.devices = dp;
    spec.n_devices = 3;
    d[1].name = "/dev/net/tun";
    d[1].container_path = "/dev/tun0";
    d[1].permissions = "rw";
    d[2].name = "example.com/dev=dev0";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    d[2].name = "example.com/dev=all";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    spec.n_devices = BERTH_SPEC_DEVICES_MAX + 1;
    expect_invalid("spec.devices: 65 devices, at most 64");
    spec.n_devices = 3;
    d[0].name = "/dev/../etc/passwd";
    expect_invalid("spec.devices[0]: '/dev/../etc/passwd' must be an absolute, normalised path");
    d[0].name = "dev/fuse";
    expect_invalid("spec.devices[0]: 'dev/fuse' is neither the absolute path of a host device "
                   "nor a CDI device name (vendor.com/class=name)");
    d[0].name = "";
    expect_invalid("spec.devices[0]: '' is neither the absolute path of a host device nor a CDI "
                   "device name (vendor.com/class=name)");
    d[0].name = "example.com/dev";
    expect_invalid("spec.devices[0]: 'example.com/dev' is neither the absolute path of a host "
                   "device nor a CDI device name (vendor.com/class=name)");
    d[0].name = "/dev/fuse";
    d[1].container_path = "tun0";
    expect_invalid("spec.devices[1]: container path 'tun0' must be an absolute, normalised path");
    d[1].container_path = "";
    d[1].permissions = "rwx";
    expect_invalid("spec.devices[1]: permissions 'rwx' are not a subset of rwm");
    d[1].permissions = "rr";
    expect_invalid("spec.devices[1]: permissions 'rr' are not a subset of rwm");
    d[1].permissions = "mwr";
    ck_assert_int_eq(berth_spec_validate(&spec, &err), 0);
    d[2].permissions = "r";
    expect_invalid("spec.devices[2]: example.com/dev=all is a CDI device: no container path or "
                   "permissions (its CDI spec says them)");
    d[2].permissions = "";
    d[2].container_path = "/dev/x";
    expect_invalid("spec.devices[2]: example.com/dev=all is a CDI device: no container path or "
                   "permissions (its CDI spec says them)");
}
END_TEST

/* A pod's requests as Kubernetes counts them: the larger of its
 * containers' sum (sidecars in) and each init container with the
 * sidecars started before it. */
START_TEST(pod_requests_as_kubernetes_counts_them)
{
    Workload w = WORKLOAD_INIT;
    PodTemplate pt = POD_TEMPLATE_INIT;
    ContainerSpec app = CONTAINER_SPEC_INIT, app2 = CONTAINER_SPEC_INIT,
                  init1 = CONTAINER_SPEC_INIT, side = CONTAINER_SPEC_INIT,
                  init2 = CONTAINER_SPEC_INIT;
    ContainerSpec *inits[] = { &init1, &side, &init2 }, *apps[] = { &app2 };
    Resources r_app = RESOURCES_INIT, r_app2 = RESOURCES_INIT, r_init1 = RESOURCES_INIT,
              r_side = RESOURCES_INIT, r_init2 = RESOURCES_INIT;
    Resources_ExtendedEntry e_app = RESOURCES_EXTENDED_ENTRY_INIT,
                            e_init1 = RESOURCES_EXTENDED_ENTRY_INIT,
                            e_side = RESOURCES_EXTENDED_ENTRY_INIT,
                            e_init2 = RESOURCES_EXTENDED_ENTRY_INIT,
                            e_zero = RESOURCES_EXTENDED_ENTRY_INIT;
    Resources_ExtendedEntry *x_app[] = { &e_app }, *x_init1[] = { &e_init1, &e_zero },
                            *x_side[] = { &e_side }, *x_init2[] = { &e_init2 };
    berth_resource_count *v = NULL;
    int64_t cpu, mem;

    w.template_ = &app;
    w.pod = &pt;
    pt.containers = apps;
    pt.n_containers = 1;
    pt.init_containers = inits;
    pt.n_init_containers = 3;
    side.restart_policy = RESTART_ALWAYS;
    init1.restart_policy = init2.restart_policy = RESTART_ON_FAILURE;
    app.resources = &r_app;
    app2.resources = &r_app2;
    init1.resources = &r_init1;
    side.resources = &r_side;
    init2.resources = &r_init2;
    /* cpu: apps 100 + 100 + sidecar 50 = 250 < init2 300 + sidecar 50 */
    r_app.cpu_request_millis = r_app2.cpu_request_millis = 100;
    r_side.cpu_request_millis = 50;
    r_init1.cpu_request_millis = 320;
    r_init2.cpu_request_millis = 300;
    r_app.memory_request_bytes = 64 << 20;
    r_init1.memory_request_bytes = 32 << 20;
    berth_pod_requests(&w, &cpu, &mem);
    ck_assert_int_eq(cpu, 350);
    ck_assert_int_eq(mem, 64 << 20);
    /* limits by the same rule; one not set adds nothing */
    {
        const ContainerSpec *all[] = { &init1, &side, &init2, &app, &app2 };
        const PodRole roles[] = { POD_ROLE_INIT, POD_ROLE_SIDECAR, POD_ROLE_INIT, POD_ROLE_APP,
                                  POD_ROLE_APP };
        berth_pod_resources pr;

        r_app.cpu_millis = 500;
        r_side.cpu_millis = 200;
        r_init2.cpu_millis = 600;
        r_app.memory_bytes = 128 << 20;
        berth_pod_resources_of(all, roles, 5, &pr);
        ck_assert_int_eq(pr.cpu_request_millis, 350);
        ck_assert_int_eq(pr.cpu_limit_millis, 800); /* init2 600 + sidecar 200 */
        ck_assert_int_eq(pr.memory_limit_bytes, 128 << 20);
    }
    /* example.com/dev: apps 1 + sidecar 1 = 2, init1 3 (before the
     * sidecar), init2 1 + sidecar 1: 3; example.com/gpu: init2's 2 alone;
     * example.com/zero: a limit of 0 asks for nothing */
    e_app.key = e_init1.key = e_side.key = "example.com/dev";
    e_app.value = 1;
    e_side.value = 1;
    e_init1.value = 3;
    e_zero.key = "example.com/zero";
    e_init2.key = "example.com/gpu";
    e_init2.value = 2;
    r_app.extended = x_app;
    r_app.n_extended = 1;
    r_init1.extended = x_init1;
    r_init1.n_extended = 2;
    r_side.extended = x_side;
    r_side.n_extended = 1;
    r_init2.extended = x_init2;
    r_init2.n_extended = 1;
    ck_assert_uint_eq(berth_pod_extended(&w, &v), 2);
    ck_assert_str_eq(v[0].name, "example.com/dev");
    ck_assert_int_eq(v[0].count, 3);
    ck_assert_str_eq(v[1].name, "example.com/gpu");
    ck_assert_int_eq(v[1].count, 2);
    free(v);
    /* the init container's 3 no longer the most: the app's 4 + sidecar */
    e_app.value = 4;
    ck_assert_uint_eq(berth_pod_extended(&w, &v), 2);
    ck_assert_int_eq(v[0].count, 5);
    free(v);
    /* none at all */
    w.pod = NULL;
    app.resources = NULL;
    ck_assert_uint_eq(berth_pod_extended(&w, &v), 0);
    ck_assert_ptr_null(v);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, valid_minimal);
    tcase_add_test(tc, ids_and_roots);
    tcase_add_test(tc, command_env_dirs);
    tcase_add_test(tc, pull_policy);
    tcase_add_test(tc, effective_with_image);
    tcase_add_test(tc, resources);
    tcase_add_test(tc, mounts);
    tcase_add_test(tc, security_and_supervision);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, pod_members);
    tcase_add_test(tc, env_field_refs);
    tcase_add_test(tc, capabilities);
    tcase_add_test(tc, rlimits_and_cpuset);
    tcase_add_test(tc, extended_resources);
    tcase_add_test(tc, devices);
    tcase_add_test(tc, pod_requests_as_kubernetes_counts_them);
    suite_add_tcase(s, tc);
    return s;
}
