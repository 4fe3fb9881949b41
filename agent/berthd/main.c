/* berthd: the node agent. It registers this machine with the controller,
 * keeps its assigned containers running exactly as specified (each under
 * its own berth-monitor, so they outlive berthd), and reports what happens.
 * SIGTERM or SIGINT stop berthd and leave every container running; a new
 * berthd re-adopts them.
 *
 * main owns the loop and wires the parts, which never call each other in a
 * circle:
 *
 *   main --> containers (the container table: containers.h)
 *   main --> service --> containers          (the Agent service)
 *   main --> session --> containers          (the controller)
 *            session ~~> service             (served, as a ProtobufCService)
 *   main --> metrics --> containers          (on main's timer, on the session's stream)
 *
 * Back-channels are callbacks main registers: the table's events go to the
 * session, the service asks main whether the controller answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent-config.h"
#include "base/io.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "base/version.h"
#include "containers.h"
#include "exposition.h"
#include "metrics.h"
#include "node.h"
#include "service.h"
#include "join.h"
#include "session.h"
#include "systemd/notify.h"
#include "systemd/units.h"

typedef struct agent {
    agent_config cfg;
    berth_loop *loop;
    berth_cgroup_driver *cgroups;
    node_facts facts;
    int64_t start_ns;
    containers *containers;
    configs *configs; /* Secrets and ConfigMaps, on a tmpfs */
    devices *devices; /* the node's CDI devices */
    pulls *pulls;
    char *pulls_dir;
    agent_service *service;
    session *session;
    berth_loop_timer metrics_timer;
    /* /metrics, when it listens */
    exposition *exposition;
    berth_podnet *podnet; /* the pod network, once its range is known */
    berth_cni *cni;       /* or an operator's CNI network (mode cni) */
    berth_notify *notify; /* systemd's notifications */
    /* systemd's cgroup driver (NULL: cgroupfs), and the slice of
     * cgroup_parent its units go in */
    berth_systemd *systemd;
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1];
} agent;

static void usage(FILE *out)
{
    fputs(
        "Usage: berthd [OPTIONS]\n"
        "       berthd join ADDRESS --token TOKEN --controller-fingerprint SHA256:...\n"
        "\n"
        "The berth node agent. Settings come from the config file, then flags.\n"
        "\n"
        "  -c, --config FILE          config file (default /etc/berth/agent.yaml; a missing\n"
        "                             default file is fine)\n"
        "      --controller ADDR      the controller's rpc address (tcp://HOST:PORT, ipc://PATH;\n"
        "                             several, comma-separated: the one that leads)\n"
        "      --controller-key FILE  the controller's public key (pinned)\n"
        "      --controller-name NAME the controller's principal name (default controller)\n"
        "      --node-name NAME       this node's name (default: the host name)\n"
        "  -l, --label KEY=VALUE      a node label (repeatable)\n"
        "      --state-dir DIR        default /var/lib/berth/agent\n"
        "      --image-store DIR      default /var/lib/berth/images\n"
        "      --key FILE             the node's secret key (default STATE_DIR/node.key)\n"
        "      --join-token TOKEN     a one-time token admitting this node's key\n"
        "      --cgroup-parent PATH   default /berth (berth.slice with systemd's driver)\n"
        "      --cgroup-driver D      auto (systemd when it is the init), cgroupfs, systemd\n"
        "      --socket PATH          the local Agent socket (default /run/berth/agent.sock)\n"
        "      --listen ADDR          the Agent endpoint the controller dials (logs, stop;\n"
        "                             default tcp://0.0.0.0:7421, off: none)\n"
        "      --advertise ADDR       the address reported for it (default: --listen, or for\n"
        "                             a wildcard this host's address toward the controller)\n"
        "      --monitor FILE         berth-monitor (default: beside berthd)\n"
        "      --puller FILE          berth-pull (default: beside berthd)\n"
        "      --metrics-interval D   default 10s\n"
        "      --metrics-address ADDR /metrics (default 127.0.0.1:7422; off: none)\n"
        "      --log-level LEVEL      debug, info, warn, error\n"
        "      --log-format FORMAT    text or json\n"
        "      --check-config         check the configuration and exit\n"
        "  -h, --help\n",
        out);
}

enum {
    OPT_CONTROLLER = 256,
    OPT_CONTROLLER_KEY,
    OPT_CONTROLLER_NAME,
    OPT_NODE_NAME,
    OPT_STATE_DIR,
    OPT_IMAGE_STORE,
    OPT_KEY,
    OPT_JOIN_TOKEN,
    OPT_CGROUP_PARENT,
    OPT_CGROUP_DRIVER,
    OPT_SOCKET,
    OPT_LISTEN,
    OPT_ADVERTISE,
    OPT_MONITOR,
    OPT_PULLER,
    OPT_METRICS,
    OPT_METRICS_ADDRESS,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_CHECK,
};

static const struct option options[] = {
    { "config", required_argument, NULL, 'c' },
    { "controller", required_argument, NULL, OPT_CONTROLLER },
    { "controller-key", required_argument, NULL, OPT_CONTROLLER_KEY },
    { "controller-name", required_argument, NULL, OPT_CONTROLLER_NAME },
    { "node-name", required_argument, NULL, OPT_NODE_NAME },
    { "label", required_argument, NULL, 'l' },
    { "state-dir", required_argument, NULL, OPT_STATE_DIR },
    { "image-store", required_argument, NULL, OPT_IMAGE_STORE },
    { "key", required_argument, NULL, OPT_KEY },
    { "join-token", required_argument, NULL, OPT_JOIN_TOKEN },
    { "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
    { "cgroup-driver", required_argument, NULL, OPT_CGROUP_DRIVER },
    { "socket", required_argument, NULL, OPT_SOCKET },
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "advertise", required_argument, NULL, OPT_ADVERTISE },
    { "monitor", required_argument, NULL, OPT_MONITOR },
    { "puller", required_argument, NULL, OPT_PULLER },
    { "metrics-interval", required_argument, NULL, OPT_METRICS },
    { "metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "check-config", no_argument, NULL, OPT_CHECK },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

typedef struct stop_handler {
    berth_loop_signal sig;
    agent *a;
} stop_handler;

static void on_signal(berth_loop_signal *s, int signo)
{
    stop_handler *h = berth_container_of(s, stop_handler, sig);

    berth_info("%s: stopping berthd; containers keep running", strsignal(signo));
    berth_notify_stopping(h->a->notify, "stopping; containers keep running");
    berth_loop_stop(h->a->loop);
}

/* --- the wiring ------------------------------------------------------------------------ */

static void on_status_changed(const ContainerStatus *st, ContainerState prev, bool removed,
                              void *data)
{
    agent *a = data;

    /* Statuses during the table's open come before the session: they go
     * in its first full report. */
    if (a->session)
        session_status_changed(a->session, st, prev, removed);
}

/* The node's pod range is known (agent.yaml's, or the controller's at
 * registration): the pod network is made, once. A failure is logged and
 * tried again at the next registration; pods wait (NetworkNotReady). */
static void on_pod_range(const char *pod_cidr, const char *cluster_cidr, void *data)
{
    agent *a = data;
    berth_error *err = NULL;
    char dir[PATH_MAX];
    berth_podnet_config nc = {
        .dir = dir,
        .bridge = a->cfg.pod_bridge,
        .pod_cidr = a->cfg.pod_cidr ? a->cfg.pod_cidr : pod_cidr,
        .cluster_cidr = a->cfg.pod_cluster_cidr ? a->cfg.pod_cluster_cidr : cluster_cidr,
        .table = a->cfg.pod_nft_table,
        .vxlan = a->cfg.pod_vxlan,
    };
    struct in_addr node_ip = { 0 };

    if (!a->cfg.pod_network || a->cfg.pod_cni || a->podnet)
        return;
    if (*a->facts.internal_ip && inet_pton(AF_INET, a->facts.internal_ip, &node_ip) == 1)
        nc.node_ip = node_ip.s_addr;
    if (!nc.pod_cidr || !*nc.pod_cidr || !nc.cluster_cidr || !*nc.cluster_cidr) {
        berth_warn("pod network: the controller gave this node no pod range: pods wait "
                   "(NetworkNotReady)");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/network", a->cfg.state_dir);
    if (berth_podnet_open(&nc, &a->podnet, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "pods wait (NetworkNotReady)");
        berth_error_free(&err);
        return;
    }
    berth_info("pod network: bridge %s, pod range %s of %s", nc.bridge, nc.pod_cidr,
               nc.cluster_cidr);
    containers_set_network(a->containers, a->podnet);
}

/* With a pod network: this node's address for the others' routes. */
static int internal_ip(agent *a)
{
    if (a->cfg.pod_network)
        node_facts_internal_ip(&a->facts, a->cfg.pod_node_ip, a->cfg.pod_bridge);
    return 0;
}

/* The other nodes' pod ranges: routes to each through its address. */
static int on_peers(const Peers *p, void *data)
{
    agent *a = data;
    berth_podnet_peer *v;
    berth_error *err = NULL;
    size_t n = 0;
    int r;

    if (!a->podnet)
        return -1;
    v = berth_xcalloc(p->n_peers + 1, sizeof(*v));
    for (size_t i = 0; i < p->n_peers; i++) {
        struct in_addr in;

        if (inet_pton(AF_INET, p->peers[i]->internal_ip, &in) != 1)
            continue;
        v[n].node_ip = in.s_addr;
        v[n++].pod_cidr = p->peers[i]->pod_cidr;
    }
    r = berth_podnet_peers(a->podnet, v, n, &err);
    free(v);
    if (r < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "routes to the other nodes' pods");
        berth_error_free(&err);
    }
    return r;
}

static void on_devices_changed(void *data)
{
    agent *a = data;

    if (a->session)
        session_node_changed(a->session);
}

static void on_applied(uint64_t generation, void *data)
{
    agent *a = data;

    if (a->session)
        session_applied(a->session, generation);
}

static int controller_check(void *data, berth_error **err)
{
    agent *a = data;

    if (!a->session)
        return berth_error_set(err, EAGAIN, "not connected to the controller yet");
    return session_controller_check(a->session, err);
}

/* systemd's STATUS= line: the containers, and whether the controller
 * answers. */
static void notify_status(char *buf, size_t size, void *data)
{
    agent *a = data;
    berth_error *err = NULL;
    size_t n = a->containers ? containers_count(a->containers) : 0;

    if (controller_check(a, &err) < 0) {
        snprintf(buf, size, "%zu container(s); %s", n, err->msg);
        berth_error_free(&err);
    } else {
        snprintf(buf, size, "%zu container(s); registered with the controller at %s", n,
                 a->cfg.controller_address);
    }
}

static size_t frame_drops(void *data, FrameDrops storage[BERTH_REJECT_COUNT],
                          FrameDrops *ptrs[BERTH_REJECT_COUNT])
{
    agent *a = data;

    return a->session ? session_frame_drops(a->session, storage, ptrs) : 0;
}

static void on_metrics_timer(berth_loop_timer *t)
{
    agent *a = berth_container_of(t, agent, metrics_timer);
    berth_stream_push *push = a->session ? session_stream(a->session) : NULL;
    berth_error *err = NULL;

    berth_loop_timer_arm(a->loop, t, berth_now_mono_ns() + a->cfg.metrics_interval_ns);
    if (!push)
        return;
    if (metrics_send(a->containers, a->cgroups, push, &err) < 0) {
        berth_debug("metrics: %s", err->msg);
        berth_error_free(&err);
    }
}

/* For image garbage collection: what the containers use. */
static void images_in_use(char ***ret, size_t *ret_n, void *data)
{
    agent *a = data;

    *ret = NULL;
    *ret_n = 0;
    if (a->containers)
        containers_images(a->containers, ret, ret_n);
}

/* The node's address, for env fieldRefs (status.hostIP): the host of the
 * advertised (else listened) tcp:// address; "" when there is none. */
static void node_ip(const agent *a, char *buf, size_t size)
{
    const char *addr = a->cfg.advertise && *a->cfg.advertise ? a->cfg.advertise : a->cfg.listen;
    const char *host, *colon;

    buf[0] = '\0';
    if (!addr || strncmp(addr, "tcp://", 6) != 0)
        return;
    host = addr + 6;
    colon = strrchr(host, ':');
    if (colon && (size_t)(colon - host) < size && *host != '*')
        snprintf(buf, size, "%.*s", (int)(colon - host), host);
}

/* Whether container id is on the node (adopted). */
static bool still_here(const char *id, void *data)
{
    return containers_status(data, id) != NULL;
}

/* The cgroup driver: systemd's when asked, or (auto) when systemd is the
 * init; else berth's own cgroups under cgroup_parent. A systemd that does
 * not answer stops berthd, auto or not: switching drivers by itself would
 * leave the pods made under the other behind (systemd restarts berthd). */
static int cgroup_driver_setup(agent *a, berth_error **err)
{
    if (a->cfg.cgroup_driver == AGENT_CGROUP_DRIVER_CGROUPFS ||
        (a->cfg.cgroup_driver == AGENT_CGROUP_DRIVER_AUTO && !berth_systemd_booted()))
        return 0;
    if (berth_systemd_parent_slice(a->cfg.cgroup_parent, a->slice, sizeof(a->slice), err) < 0 ||
        berth_systemd_open(&a->systemd, err) < 0)
        return berth_error_prefix(err,
                                  "cgroup_driver %s (cgroupfs: berth makes the cgroups "
                                  "itself)",
                                  a->cfg.cgroup_driver == AGENT_CGROUP_DRIVER_AUTO
                                      ? "auto, and systemd is the init"
                                      : "systemd");
    return 0;
}

static int start(agent *a, berth_error **err)
{
    pulls_config pcfg = {
        .loop = a->loop,
        .puller = a->cfg.puller,
        .image_store = a->cfg.image_store,
        .registries = a->cfg.registries,
        .max_parallel = a->cfg.max_parallel_pulls,
        .gc_interval_ns = a->cfg.image_gc_interval_ns,
        .gc_high_percent = a->cfg.image_gc_high_percent,
        .gc_low_percent = a->cfg.image_gc_low_percent,
        .gc_min_age_ns = a->cfg.image_gc_min_age_ns,
        .in_use = images_in_use,
        .in_use_data = a,
    };
    /* borrowed by the table for its life: one agent per process */
    static char ip[64];
    containers_config ccfg = {
        .loop = a->loop,
        .cgroups = a->cgroups,
        .state_dir = a->cfg.state_dir,
        .image_store = a->cfg.image_store,
        .cgroup_parent = a->cfg.cgroup_parent,
        .systemd = a->systemd,
        .slice = a->slice,
        .monitor = a->cfg.monitor,
        .pull_backoff_ms = a->cfg.image_pull_backoff_ns / BERTH_NSEC_PER_MSEC,
        .stop_grace_ms = a->cfg.stop_grace_ms,
        .max_parallel_starts = a->cfg.max_parallel_starts,
        .seccomp_profile_dir = a->cfg.seccomp_profile_dir,
        .node_name = a->cfg.node_name,
        .node_ip = ip,
        .volume_stats_interval_ns = a->cfg.volume_stats_interval_ns,
        .allow_privileged = a->cfg.allow_privileged,
        .allowed_devices = a->cfg.allowed_devices,
        .n_allowed_devices = a->cfg.n_allowed_devices,
        .pod_network = a->cfg.pod_network,
        .resolv_conf = a->cfg.pod_resolv_conf,
        .events = { .status_changed = on_status_changed, .applied = on_applied, .data = a },
    };
    agent_service_config acfg = {
        .node_name = a->cfg.node_name,
        .state_dir = a->cfg.state_dir,
        .cgroups = a->cgroups,
        .agent_start_ns = a->start_ns,
        .controller_check = controller_check,
        .frame_drops = frame_drops,
        .callback_data = a,
    };
    session_config scfg = {
        .loop = a->loop,
        .cfg = &a->cfg,
        .facts = &a->facts,
        .cgroup_version = berth_cgroup_driver_version(a->cgroups),
        .agent_start_ns = a->start_ns,
        .pod_range = on_pod_range,
        .peers = a->cfg.pod_network && !a->cfg.pod_cni ? on_peers : NULL,
        .data = a,
    };

    a->pulls_dir = berth_xasprintf("%s/pulls", a->cfg.state_dir);
    pcfg.work_dir = a->pulls_dir;
    if (pulls_open(&pcfg, &a->pulls, err) < 0)
        return -1;
    ccfg.pulls = a->pulls;
    if (configs_open(a->cfg.secrets_dir, &a->configs, err) < 0)
        return -1;
    ccfg.configs = a->configs;
    if (devices_open(a->loop, a->cfg.cdi_spec_dirs, a->cfg.n_cdi_spec_dirs, on_devices_changed, a,
                     &a->devices, err) < 0)
        return -1;
    ccfg.devices = a->devices;
    scfg.devices = a->devices;
    node_ip(a, ip, sizeof(ip));
    if (containers_open(&ccfg, &a->containers, err) < 0)
        return -1;
    configs_sweep(a->configs, still_here, a->containers);
    /* a range of its own: the network now (a controller's comes later) */
    if (a->cfg.pod_cidr)
        on_pod_range(NULL, NULL, a);
    /* an operator's CNI network: one that does not load stops berthd */
    if (a->cfg.pod_cni) {
        char cache[PATH_MAX];

        snprintf(cache, sizeof(cache), "%s/network/cni", a->cfg.state_dir);
        if (berth_cni_open(a->cfg.cni_conf_dir, a->cfg.cni_bin_dir, cache, &a->cni, err) < 0)
            return berth_error_prefix(err, "pod_network: cni");
        berth_info("pod network: CNI network %s (%s)", berth_cni_name(a->cni),
                   berth_cni_file(a->cni));
        containers_set_cni(a->containers, a->cni, a->cfg.cni_runner);
    }
    acfg.containers = a->containers;
    acfg.loop = a->loop;
    a->service = agent_service_new(&acfg);
    scfg.containers = a->containers;
    scfg.agent_service = agent_service_base(a->service);
    if (session_start(&scfg, &a->session, err) < 0)
        return -1;
    if (a->cfg.metrics_address) {
        exposition_config ecfg = { .loop = a->loop,
                                   .address = a->cfg.metrics_address,
                                   .containers = a->containers,
                                   .cgroups = a->cgroups,
                                   .pulls = a->pulls,
                                   .session = a->session,
                                   .service = a->service,
                                   .start_unix_ns = a->start_ns };
        berth_error *merr = NULL;

        /* a taken port costs /metrics, not the node's containers */
        if (exposition_start(&ecfg, &a->exposition, &merr) < 0) {
            berth_log_error(BERTH_LOG_ERROR, merr, "running without /metrics");
            berth_error_free(&merr);
        }
    }
    berth_loop_timer_init(&a->metrics_timer, on_metrics_timer);
    berth_loop_timer_arm(a->loop, &a->metrics_timer,
                         berth_now_mono_ns() + a->cfg.metrics_interval_ns);
    return 0;
}

static void stop(agent *a)
{
    berth_loop_timer_cancel(a->loop, &a->metrics_timer);
    exposition_stop(a->exposition);
    a->exposition = NULL;
    session_stop(a->session);
    a->session = NULL;
    agent_service_free(a->service);
    a->service = NULL;
    containers_close(a->containers);
    a->containers = NULL;
    configs_close(a->configs);
    a->configs = NULL;
    devices_close(a->devices);
    a->devices = NULL;
    /* what the kernel holds stays: the pods keep their network */
    berth_podnet_close(a->podnet);
    a->podnet = NULL;
    berth_cni_close(a->cni);
    a->cni = NULL;
    pulls_close(a->pulls);
    a->pulls = NULL;
    free(a->pulls_dir);
    a->pulls_dir = NULL;
}

/* Parse argv over the config: the file first (its path may come from the
 * flags), then every flag again on top. */
static int configure(agent_config *cfg, int argc, char **argv, bool *ret_check, berth_error **err)
{
    const char *path = "/etc/berth/agent.yaml";
    bool explicit_path = false;
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:l:h", options, NULL)) != -1) {
        if (opt == 'c') {
            path = optarg;
            explicit_path = true;
        } else if (opt == 'h') {
            usage(stdout);
            exit(0);
        } else if (opt == '?') {
            return berth_error_set(err, EINVAL,
                                   "option '%s' is unknown or needs a value (see "
                                   "--help)",
                                   argv[optind - 1]);
        }
    }
    if (agent_config_load(cfg, path, explicit_path, err) < 0)
        return -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:l:h", options, NULL)) != -1) {
        int r = 0;

        switch (opt) {
        case 'l': {
            char *eq = strchr(optarg, '=');

            if (!eq)
                return berth_error_set(err, EINVAL, "--label '%s': expected KEY=VALUE", optarg);
            *eq = '\0';
            r = agent_config_label(cfg, optarg, eq + 1, err);
            *eq = '=';
            break;
        }
        case OPT_CONTROLLER:
            r = agent_config_set(&cfg->controller_address, optarg, err);
            break;
        case OPT_CONTROLLER_KEY:
            r = agent_config_set(&cfg->controller_key, optarg, err);
            break;
        case OPT_CONTROLLER_NAME:
            r = agent_config_set(&cfg->controller_name, optarg, err);
            break;
        case OPT_NODE_NAME:
            r = agent_config_set(&cfg->node_name, optarg, err);
            break;
        case OPT_STATE_DIR:
            r = agent_config_set(&cfg->state_dir, optarg, err);
            break;
        case OPT_IMAGE_STORE:
            r = agent_config_set(&cfg->image_store, optarg, err);
            break;
        case OPT_KEY:
            r = agent_config_set(&cfg->key, optarg, err);
            break;
        case OPT_JOIN_TOKEN:
            r = agent_config_set(&cfg->join_token, optarg, err);
            break;
        case OPT_CGROUP_PARENT:
            r = agent_config_set(&cfg->cgroup_parent, optarg, err);
            break;
        case OPT_CGROUP_DRIVER:
            r = agent_cgroup_driver_parse(optarg, &cfg->cgroup_driver, err);
            break;
        case OPT_SOCKET:
            r = agent_config_set(&cfg->socket, optarg, err);
            break;
        case OPT_LISTEN:
            r = agent_config_set(&cfg->listen, optarg, err);
            break;
        case OPT_ADVERTISE:
            r = agent_config_set(&cfg->advertise, optarg, err);
            break;
        case OPT_MONITOR:
            r = agent_config_set(&cfg->monitor, optarg, err);
            break;
        case OPT_PULLER:
            r = agent_config_set(&cfg->puller, optarg, err);
            break;
        case OPT_METRICS:
            r = agent_config_metrics_interval(cfg, optarg, err);
            break;
        case OPT_METRICS_ADDRESS:
            r = agent_config_set(&cfg->metrics_address, optarg, err);
            break;
        case OPT_LOG_LEVEL:
            r = berth_log_level_parse(optarg, &cfg->log_level, err);
            break;
        case OPT_LOG_FORMAT:
            r = berth_log_format_parse(optarg, &cfg->log_format, err);
            break;
        case OPT_CHECK:
            *ret_check = true;
            break;
        default:
            break;
        }
        if (r < 0)
            return -1;
    }
    if (optind < argc)
        return berth_error_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
    return agent_config_finish(cfg, err);
}

/* One agent per state directory: two would both adopt and both start the
 * same containers. The lock lives as long as the process (close-on-exec,
 * so the monitors it starts do not inherit it). */
static int lock_state_dir(const char *state_dir, int *ret_fd, berth_error **err)
{
    char path[4096], text[32];
    int fd, n;

    snprintf(path, sizeof(path), "%s/agent.lock", state_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return berth_error_errno(err, "%s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        ssize_t got = pread(fd, text, sizeof(text) - 1, 0);

        text[got > 0 ? got : 0] = '\0';
        text[strcspn(text, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return berth_error_set(err, EBUSY, "state dir %s is in use by another berthd (pid %s)",
                                   state_dir, *text ? text : "unknown");
        return berth_error_set(err, e, "%s: lock: %s", path, strerror(e));
    }
    n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int e = errno;

        close(fd);
        return berth_error_set(err, e, "%s: %s", path, strerror(e));
    }
    *ret_fd = fd;
    return 0;
}

int main(int argc, char **argv)
{
    agent a = { 0 };
    berth_error *err = NULL;
    stop_handler term = { .a = &a }, intr = { .a = &a };
    bool check = false;
    int status = 1, lock_fd = -1;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berthd %s\n", berth_version());
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "join") == 0)
        return berthd_join(argc - 1, argv + 1);
    berth_log_setup("berthd", BERTH_LOG_INFO, BERTH_LOG_TEXT, 2);
    /* it holds Secrets' values and the node key: no core dump of it */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (agent_config_defaults(&a.cfg, &err) < 0 ||
        configure(&a.cfg, argc, argv, &check, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err->msg);
        berth_error_free(&err);
        agent_config_free(&a.cfg);
        return 2;
    }
    if (check) {
        printf("berthd: configuration ok (node %s, controller %s)\n", a.cfg.node_name,
               a.cfg.controller_address);
        agent_config_free(&a.cfg);
        return 0;
    }
    berth_log_setup("berthd", a.cfg.log_level, a.cfg.log_format, 2);
    a.start_ns = berth_now_real_ns();
    signal(SIGPIPE, SIG_IGN);
    if (berth_loop_new(&a.loop, &err) < 0 ||
        berth_loop_add_signal(a.loop, &term.sig, SIGTERM, on_signal, &err) < 0 ||
        berth_loop_add_signal(a.loop, &intr.sig, SIGINT, on_signal, &err) < 0 ||
        berth_cgroup_driver_detect(NULL, &a.cgroups, &err) < 0 ||
        cgroup_driver_setup(&a, &err) < 0 || node_facts_read(&a.facts, &err) < 0 ||
        internal_ip(&a) < 0 || berth_mkdir_p(a.cfg.state_dir, 0700, &err) < 0 ||
        lock_state_dir(a.cfg.state_dir, &lock_fd, &err) < 0 ||
        berth_notify_open(a.loop, notify_status, &a, &a.notify, &err) < 0 || start(&a, &err) < 0)
        goto out;
    berth_info("berthd %s started: node %s, %zu container(s) adopted, cgroup v%d (%s%s)",
               berth_version(), a.cfg.node_name, containers_count(a.containers),
               (int)berth_cgroup_driver_version(a.cgroups),
               a.systemd ? "systemd driver, " : "cgroupfs driver, ",
               a.systemd ? a.slice : a.cfg.cgroup_parent);
    /* it serves: the Agent endpoint is bound, the session dials */
    berth_notify_ready(a.notify);
    if (berth_loop_run(a.loop, &err) < 0)
        goto out;
    status = 0;
out:
    if (err) {
        berth_log_error(BERTH_LOG_ERROR, err, "berthd");
        berth_error_free(&err);
    }
    stop(&a);
    berth_notify_close(a.notify);
    berth_cgroup_driver_free(a.cgroups);
    berth_systemd_free(a.systemd);
    berth_loop_free(a.loop);
    agent_config_free(&a.cfg);
    if (lock_fd >= 0)
        close(lock_fd);
    return status;
}
