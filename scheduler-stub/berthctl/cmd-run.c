/* berthctl run: one container in the foreground, like `crun run` or
 * `docker run --rm`, straight through lib/runtime with no daemon. stdio is
 * passed through, signals are forwarded, the exit code is the container's
 * (128+N for signal N), and everything created is removed afterwards. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cdi/cdi.h"
#include "base/cleanup.h"
#include "base/io.h"
#include "base/quantity.h"
#include "base/xalloc.h"
#include "berthctl.h"
#include "image/container.h"
#include "image/pull.h"
#include "image/registries.h"
#include "image/store.h"
#include "net/proxy.h"
#include "pb/pb.h"
#include "runtime/runtime.h"

static void run_usage(FILE *out)
{
    fputs("Usage: berthctl run [OPTIONS] [-- COMMAND [ARG...]]\n"
          "\n"
          "Run one container in the foreground, with no daemon. stdio is passed through,\n"
          "SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 are forwarded, the exit code is\n"
          "the container's (128+N when killed by signal N; 125 when berth fails, 126/127\n"
          "when the command cannot be run / is not found).\n"
          "\n"
          "Options:\n"
          "  --rootfs DIR          root filesystem directory (used in place)\n"
          "  --image REF           an image reference, pulled into the image store as --pull\n"
          "                        says, or a directory image's name (overlay; writes are\n"
          "                        private). Without COMMAND the image's Entrypoint and Cmd run;\n"
          "                        a COMMAND replaces both (ARGs then are its arguments)\n"
          "  --pull missing|always|never  when to pull --image (default missing)\n"
          "  --registries FILE     registry settings (default /etc/berth/registries.yaml)\n"
          "  --image-store DIR     image store (default /var/lib/berth/images)\n"
          "  --name ID             container id (default run-<random>)\n"
          "  --memory QTY          memory limit, e.g. 64Mi (swap limited to the same)\n"
          "  --cpus QTY            CPU limit, e.g. 0.5 or 500m\n"
          "  --cpu-weight N        relative CPU weight 1..10000\n"
          "  --pids N              maximum number of tasks\n"
          "  --cpuset CPUS         CPUs to run on, e.g. 0-1\n"
          "  --net none|host       own network namespace with lo (default) or the host's\n"
          "  -p, --publish [IP:]HOSTPORT:PORT[/tcp|udp]  forward the node's HOSTPORT (on IP\n"
          "                        only, when given) to PORT in the container (repeatable)\n"
          "  -e, --env K=V         environment variable (repeatable)\n"
          "  -w, --workdir DIR     working directory inside the container\n"
          "  -u, --user UID[:GID]  numeric user and group\n"
          "  --group-add GID       additional group (repeatable)\n"
          "  --hostname NAME       host name (default: the id)\n"
          "  --read-only           mount the root filesystem read-only\n"
          "  -v, --volume SRC:DST[:ro]  bind mount a host path (repeatable)\n"
          "  --tmpfs DST[:SIZE]    tmpfs mount, e.g. /tmp:64Mi (repeatable)\n"
          "  --cap-add CAP         add a capability, e.g. NET_ADMIN or ALL (repeatable)\n"
          "  --cap-drop CAP        drop a capability (repeatable)\n"
          "  --seccomp default|unconfined\n"
          "  --ulimit NAME=SOFT[:HARD]  resource limit, e.g. nofile=1024:4096 (repeatable)\n"
          "  --allow-privilege-escalation  do not set no_new_privs\n"
          "  --init                run a tiny init as pid 1 that reaps orphaned zombies\n"
          "  --userns UIDBASE:SIZE run in a user namespace mapping 0..SIZE-1 to UIDBASE..\n"
          "  --device HOST[:CONTAINER][:PERMS]  a host device, e.g. /dev/fuse or\n"
          "                        /dev/fuse:/dev/fuse:rw (PERMS a subset of rwm, default rwm)\n"
          "  --device VENDOR/CLASS=NAME  a CDI device of this host, or =all of a kind\n"
          "                        (repeatable)\n"
          "  --cdi-spec-dir DIR    where CDI specs are (repeatable; default /etc/cdi and\n"
          "                        /var/run/cdi)\n"
          "  --cgroup-parent PATH  cgroup parent (default /berth)\n"
          "  --state-dir DIR       where the writable layer of --image goes\n"
          "                        (default /run/berth/run/<id>)\n"
          "  -h, --help            this help\n",
          out);
}

/* All strings point into argv or into these buffers; arrays are sized by
 * argc, which bounds every repeatable option. */
typedef struct run_args {
    ContainerSpec spec;
    Resources res;
    User user;
    Capabilities caps;
    UserNamespace userns;
    IdMap idmap;
    IdMap *idmaps[1];
    const char *image_store;
    const char *registries;
    berth_pull_policy pull;
    const char *cgroup_parent;
    const char *state_dir;
    char id[64];
    berth_proxy_port *ports; /* -p, sized argc */
    size_t n_ports;
    const char **devices; /* --device, sized argc */
    size_t n_devices;
    const char **cdi_dirs; /* --cdi-spec-dir, sized argc */
    size_t n_cdi_dirs;
} run_args;

static int parse_u64(const char *s, const char *what, uint64_t max, uint64_t *ret)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        berthctl_errorf("%s: '%s' is not a number in 0..%" PRIu64, what, s, max);
        return -1;
    }
    *ret = v;
    return 0;
}

static int parse_volume(char *arg, Mount *m)
{
    char *dst = strchr(arg, ':'), *mode;

    mount_init(m);
    if (!dst) {
        berthctl_errorf("--volume '%s': expected SRC:DST[:ro]", arg);
        return -1;
    }
    *dst++ = '\0';
    mode = strchr(dst, ':');
    if (mode) {
        *mode++ = '\0';
        if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
            berthctl_errorf("--volume: mode '%s' is not ro or rw", mode);
            return -1;
        }
        m->readonly = strcmp(mode, "ro") == 0;
    }
    m->type = MOUNT_BIND;
    m->source = arg;
    m->destination = dst;
    return 0;
}

static int parse_tmpfs(char *arg, Mount *m)
{
    char *size = strchr(arg, ':');

    mount_init(m);
    m->type = MOUNT_TMPFS;
    m->destination = arg;
    if (size) {
        berth_error *err = NULL;
        int64_t bytes;

        *size++ = '\0';
        if (berth_parse_bytes(size, &bytes, &err) < 0) {
            berthctl_errorf("--tmpfs: %s", err->msg);
            berth_error_free(&err);
            return -1;
        }
        m->tmpfs_size_bytes = bytes;
    }
    return 0;
}

/* -p [IP:]HOSTPORT:PORT[/tcp|udp], as docker run takes it. */
static int parse_publish(char *arg, berth_proxy_port *pt)
{
    char *proto = strrchr(arg, '/'), *port, *host_port;
    uint64_t v;

    memset(pt, 0, sizeof(*pt));
    if (proto) {
        *proto++ = '\0';
        if (strcmp(proto, "udp") != 0 && strcmp(proto, "tcp") != 0) {
            berthctl_errorf("--publish: protocol '%s' is not tcp or udp", proto);
            return -1;
        }
        pt->udp = strcmp(proto, "udp") == 0;
    }
    port = strrchr(arg, ':');
    if (!port) {
        berthctl_errorf("--publish '%s': expected [IP:]HOSTPORT:PORT[/tcp|udp] (a host port "
                        "is needed)",
                        arg);
        return -1;
    }
    *port++ = '\0';
    host_port = strrchr(arg, ':');
    if (host_port) {
        *host_port++ = '\0';
        if (inet_pton(AF_INET, arg, &pt->host_ip) != 1) {
            berthctl_errorf("--publish: '%s' is not an IPv4 address", arg);
            return -1;
        }
    } else {
        host_port = arg;
    }
    if (parse_u64(host_port, "--publish host port", 65535, &v) < 0)
        return -1;
    pt->host_port = (uint16_t)v;
    if (parse_u64(port, "--publish container port", 65535, &v) < 0)
        return -1;
    pt->port = (uint16_t)v;
    if (!pt->host_port || !pt->port) {
        berthctl_errorf("--publish: port 0 is not a port");
        return -1;
    }
    return 0;
}

static int parse_ulimit(char *arg, Rlimit *rl)
{
    char *eq = strchr(arg, '='), *colon;
    uint64_t soft, hard;

    rlimit_init(rl);
    if (!eq) {
        berthctl_errorf("--ulimit '%s': expected NAME=SOFT[:HARD]", arg);
        return -1;
    }
    *eq++ = '\0';
    colon = strchr(eq, ':');
    if (colon)
        *colon++ = '\0';
    if (parse_u64(eq, "--ulimit", UINT64_MAX, &soft) < 0 ||
        parse_u64(colon ? colon : eq, "--ulimit", UINT64_MAX, &hard) < 0)
        return -1;
    rl->type = arg;
    rl->soft = soft;
    rl->hard = hard;
    return 0;
}

enum {
    OPT_ROOTFS = 256,
    OPT_IMAGE,
    OPT_IMAGE_STORE,
    OPT_NAME,
    OPT_MEMORY,
    OPT_CPUS,
    OPT_CPU_WEIGHT,
    OPT_PIDS,
    OPT_CPUSET,
    OPT_NET,
    OPT_GROUP_ADD,
    OPT_HOSTNAME,
    OPT_READ_ONLY,
    OPT_TMPFS,
    OPT_CAP_ADD,
    OPT_CAP_DROP,
    OPT_SECCOMP,
    OPT_ULIMIT,
    OPT_ALLOW_ESC,
    OPT_USERNS,
    OPT_CGROUP_PARENT,
    OPT_STATE_DIR,
    OPT_INIT,
    OPT_PULL,
    OPT_REGISTRIES,
    OPT_DEVICE,
    OPT_CDI_SPEC_DIR,
};

static const struct option run_options[] = {
    { "rootfs", required_argument, NULL, OPT_ROOTFS },
    { "image", required_argument, NULL, OPT_IMAGE },
    { "image-store", required_argument, NULL, OPT_IMAGE_STORE },
    { "pull", required_argument, NULL, OPT_PULL },
    { "registries", required_argument, NULL, OPT_REGISTRIES },
    { "name", required_argument, NULL, OPT_NAME },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "cpus", required_argument, NULL, OPT_CPUS },
    { "cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },
    { "pids", required_argument, NULL, OPT_PIDS },
    { "cpuset", required_argument, NULL, OPT_CPUSET },
    { "net", required_argument, NULL, OPT_NET },
    { "publish", required_argument, NULL, 'p' },
    { "env", required_argument, NULL, 'e' },
    { "workdir", required_argument, NULL, 'w' },
    { "user", required_argument, NULL, 'u' },
    { "group-add", required_argument, NULL, OPT_GROUP_ADD },
    { "hostname", required_argument, NULL, OPT_HOSTNAME },
    { "read-only", no_argument, NULL, OPT_READ_ONLY },
    { "volume", required_argument, NULL, 'v' },
    { "tmpfs", required_argument, NULL, OPT_TMPFS },
    { "cap-add", required_argument, NULL, OPT_CAP_ADD },
    { "cap-drop", required_argument, NULL, OPT_CAP_DROP },
    { "seccomp", required_argument, NULL, OPT_SECCOMP },
    { "ulimit", required_argument, NULL, OPT_ULIMIT },
    { "allow-privilege-escalation", no_argument, NULL, OPT_ALLOW_ESC },
    { "userns", required_argument, NULL, OPT_USERNS },
    { "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
    { "state-dir", required_argument, NULL, OPT_STATE_DIR },
    { "init", no_argument, NULL, OPT_INIT },
    { "device", required_argument, NULL, OPT_DEVICE },
    { "cdi-spec-dir", required_argument, NULL, OPT_CDI_SPEC_DIR },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Parse argv into a; the arrays (sized argc) are owned by the caller. */
static int parse_run(int argc, char **argv, run_args *a, char **env, Mount *mounts,
                     Mount **mount_ptrs, Rlimit *rls, Rlimit **rl_ptrs, char **cap_add,
                     char **cap_drop, uint32_t *groups)
{
    ContainerSpec *s = &a->spec;
    berth_error *err = NULL;
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+e:w:u:v:p:h", run_options, NULL)) != -1) {
        switch (opt) {
        case OPT_ROOTFS:
            s->rootfs = optarg;
            break;
        case OPT_IMAGE:
            s->image = optarg;
            break;
        case OPT_IMAGE_STORE:
            a->image_store = optarg;
            break;
        case OPT_PULL:
            if (strcmp(optarg, "missing") == 0)
                a->pull = BERTH_PULL_IF_NOT_PRESENT;
            else if (strcmp(optarg, "always") == 0)
                a->pull = BERTH_PULL_ALWAYS;
            else if (strcmp(optarg, "never") == 0)
                a->pull = BERTH_PULL_NEVER;
            else {
                berthctl_errorf("run: --pull '%s': expected missing, always or never", optarg);
                return -1;
            }
            break;
        case OPT_REGISTRIES:
            a->registries = optarg;
            break;
        case OPT_NAME:
            s->id = optarg;
            break;
        case OPT_MEMORY:
            if (berth_parse_bytes(optarg, &a->res.memory_bytes, &err) < 0)
                goto bad_quantity;
            break;
        case OPT_CPUS:
            if (berth_parse_millicpu(optarg, &a->res.cpu_millis, &err) < 0)
                goto bad_quantity;
            break;
        case OPT_CPU_WEIGHT: {
            uint64_t w;
            if (parse_u64(optarg, "--cpu-weight", 10000, &w) < 0)
                return -1;
            a->res.cpu_weight = (uint32_t)w;
            break;
        }
        case OPT_PIDS: {
            uint64_t n;
            if (parse_u64(optarg, "--pids", INT64_MAX, &n) < 0)
                return -1;
            a->res.pids_limit = (int64_t)n;
            break;
        }
        case OPT_CPUSET:
            a->res.cpuset_cpus = optarg;
            break;
        case OPT_NET:
            if (strcmp(optarg, "none") == 0)
                s->network = NETWORK_NONE;
            else if (strcmp(optarg, "host") == 0)
                s->network = NETWORK_HOST;
            else {
                berthctl_errorf("--net: '%s' is not none or host", optarg);
                return -1;
            }
            break;
        case 'e':
            env[s->n_env++] = optarg;
            break;
        case 'p':
            if (parse_publish(optarg, &a->ports[a->n_ports]) < 0)
                return -1;
            a->n_ports++;
            break;
        case 'w':
            s->working_dir = optarg;
            break;
        case 'u': {
            char *colon = strchr(optarg, ':');
            uint64_t v;

            if (colon)
                *colon = '\0';
            if (parse_u64(optarg, "--user", UINT32_MAX - 1, &v) < 0)
                return -1;
            a->user.uid = (uint32_t)v;
            a->user.gid = (uint32_t)v;
            a->user.image_uid = a->user.image_gid = false;
            if (colon) {
                if (parse_u64(colon + 1, "--user group", UINT32_MAX - 1, &v) < 0)
                    return -1;
                a->user.gid = (uint32_t)v;
            }
            s->user = &a->user;
            break;
        }
        case OPT_GROUP_ADD: {
            uint64_t v;
            if (parse_u64(optarg, "--group-add", UINT32_MAX - 1, &v) < 0)
                return -1;
            groups[a->user.n_additional_gids++] = (uint32_t)v;
            a->user.additional_gids = groups;
            s->user = &a->user;
            break;
        }
        case OPT_HOSTNAME:
            s->hostname = optarg;
            break;
        case OPT_READ_ONLY:
            s->readonly_rootfs = 1;
            break;
        case 'v':
            if (parse_volume(optarg, &mounts[s->n_mounts]) < 0)
                return -1;
            mount_ptrs[s->n_mounts] = &mounts[s->n_mounts];
            s->n_mounts++;
            break;
        case OPT_TMPFS:
            if (parse_tmpfs(optarg, &mounts[s->n_mounts]) < 0)
                return -1;
            mount_ptrs[s->n_mounts] = &mounts[s->n_mounts];
            s->n_mounts++;
            break;
        case OPT_CAP_ADD:
            cap_add[a->caps.n_add++] = optarg;
            s->capabilities = &a->caps;
            break;
        case OPT_CAP_DROP:
            cap_drop[a->caps.n_drop++] = optarg;
            s->capabilities = &a->caps;
            break;
        case OPT_SECCOMP:
            if (strcmp(optarg, "default") == 0)
                s->seccomp = SECCOMP_DEFAULT;
            else if (strcmp(optarg, "unconfined") == 0)
                s->seccomp = SECCOMP_UNCONFINED;
            else {
                berthctl_errorf("--seccomp: '%s' is not default or unconfined", optarg);
                return -1;
            }
            break;
        case OPT_ULIMIT:
            if (parse_ulimit(optarg, &rls[s->n_rlimits]) < 0)
                return -1;
            rl_ptrs[s->n_rlimits] = &rls[s->n_rlimits];
            s->n_rlimits++;
            break;
        case OPT_ALLOW_ESC:
            s->allow_privilege_escalation = 1;
            break;
        case OPT_USERNS: {
            char *colon = strchr(optarg, ':');
            uint64_t base, size;

            if (!colon) {
                berthctl_errorf("--userns '%s': expected UIDBASE:SIZE", optarg);
                return -1;
            }
            *colon = '\0';
            if (parse_u64(optarg, "--userns base", UINT32_MAX, &base) < 0 ||
                parse_u64(colon + 1, "--userns size", UINT32_MAX, &size) < 0)
                return -1;
            a->idmap.container_id = 0;
            a->idmap.host_id = (uint32_t)base;
            a->idmap.size = (uint32_t)size;
            a->idmaps[0] = &a->idmap;
            a->userns.enabled = 1;
            a->userns.n_uid_maps = a->userns.n_gid_maps = 1;
            a->userns.uid_maps = a->userns.gid_maps = a->idmaps;
            s->user_namespace = &a->userns;
            break;
        }
        case OPT_CGROUP_PARENT:
            a->cgroup_parent = optarg;
            break;
        case OPT_STATE_DIR:
            a->state_dir = optarg;
            break;
        case OPT_INIT:
            s->init = 1;
            break;
        case OPT_DEVICE:
            a->devices[a->n_devices++] = optarg;
            break;
        case OPT_CDI_SPEC_DIR:
            a->cdi_dirs[a->n_cdi_dirs++] = optarg;
            break;
        case 'h':
            run_usage(stdout);
            exit(0);
        default:
            if (optopt)
                berthctl_errorf("run: option '-%c' is unknown or needs a value", optopt);
            else
                berthctl_errorf("run: option '%s' is unknown or needs a value", argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc && !*s->image) {
        berthctl_errorf("run: no command given (berthctl run [OPTIONS] -- COMMAND [ARG...])");
        return -1;
    }
    s->command = optind < argc ? argv + optind : NULL;
    s->n_command = (size_t)(argc - optind);
    if (!*s->rootfs && !*s->image) {
        berthctl_errorf("run: one of --rootfs and --image is required");
        return -1;
    }
    if (a->n_ports && s->network == NETWORK_HOST) {
        berthctl_errorf("run: --publish needs the container's own network (--net none, the "
                        "default); with --net host it uses the node's ports as they are");
        return -1;
    }
    return 0;

bad_quantity:
    berthctl_errorf("%s", err->msg);
    berth_error_free(&err);
    return -1;
}

static int exit_code_for_start_error(const berth_error *err)
{
    if (strstr(err->msg, "exec ")) {
        if (err->code == ENOENT)
            return BERTHCTL_EXIT_NOTFOUND;
        if (err->code == EACCES || err->code == ENOEXEC)
            return BERTHCTL_EXIT_NOEXEC;
    }
    return BERTHCTL_EXIT_RUNTIME;
}

/* Forward signals to the container until it exits, and its published
 * ports; return its exit. */
static int supervise(berth_container *c, int sigfd, berth_proxy *proxy, berth_exit *ret_exit,
                     berth_error **err)
{
    struct pollfd pfd[3] = {
        { .fd = berth_container_pidfd(c), .events = POLLIN },
        { .fd = sigfd, .events = POLLIN },
        { .fd = proxy ? berth_proxy_fd(proxy) : -1, .events = POLLIN },
    };

    for (;;) {
        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return berth_error_errno(err, "poll");
        }
        if (pfd[1].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (berth_read_retry(sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
                berth_container_signal(c, (int)si.ssi_signo, NULL);
        }
        if ((pfd[2].revents & POLLIN) && berth_proxy_run(proxy, err) < 0)
            return -1;
        if (pfd[0].revents & POLLIN) {
            int r = berth_container_wait(c, true, ret_exit, err);
            if (r != 0)
                return r < 0 ? -1 : 0;
        }
    }
}

/* The published ports go to the container's network namespace: 1, or 0
 * when the container ended already (nothing to forward to). */
static int proxy_enter(berth_proxy *p, const berth_container *c, berth_error **err)
{
    char path[64];
    _cleanup_close_ int fd = -1;

    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)berth_container_pid(c));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ESRCH))
        return 0;
    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    return berth_proxy_set_netns(p, fd, err) < 0 ? -1 : 1;
}

static void image_config_freep(ImageConfig **p)
{
    BERTH_PB_FREE(*p);
}

static void spec_freep(ContainerSpec **p)
{
    BERTH_PB_FREE(*p);
}

static void on_pull_progress(const berth_image_progress *p, void *data)
{
    (void)data;
    if (p->phase == BERTH_IMAGE_DONE || p->total <= 0)
        return;
    fprintf(stderr, "\rPulling %s: %" PRId64 " of %" PRId64 " bytes, layer %zu of %zu   ",
            p->ref ? p->ref : "", p->done, p->total, p->layer, p->n_layers);
}

/* --image REF: the image in the store as --pull says, as a container uses
 * it. */
static int run_image(const run_args *a, ImageConfig **ret, berth_error **err)
{
    _cleanup_(berth_registries_freep) berth_registries *regs = NULL;
    _cleanup_(berth_image_store_closep) berth_image_store *s = NULL;
    _cleanup_(berth_image_freep) berth_image *img = NULL;
    berth_image_pull_opts o = { 0 };
    bool pulled = false;

    if (isatty(2))
        o.progress = on_pull_progress;
    if (berth_registries_load(a->registries ? a->registries : BERTH_REGISTRIES_DEFAULT_PATH,
                              a->registries != NULL, &regs, err) < 0 ||
        berth_image_store_open(a->image_store, &s, err) < 0)
        return -1;
    o.registry.registries = regs;
    if (berth_image_ensure(s, a->spec.image, a->pull, &o, &img, &pulled, err) < 0) {
        if (o.progress)
            fputc('\n', stderr);
        return -1;
    }
    if (o.progress && pulled)
        fputc('\n', stderr);
    berth_image_store_touch(s, img->ref, NULL);
    return berth_image_container_config(s, img, ret, err);
}

/* A poststart or poststop hook failed: said, the run goes on. */
static void run_warning(berth_container *c)
{
    _cleanup_free_ char *w = berth_container_take_warning(c);

    if (w)
        berthctl_errorf("warning: %s", w);
}

/* --device: host devices and CDI devices resolved into *edits (their env
 * put into eff's, as an exec into the container must see it too). */
static int run_devices(const run_args *a, ContainerSpec *eff, DeviceEdits *edits, berth_error **err)
{
    _cleanup_free_ char **names = berth_xcalloc(a->n_devices + 1, sizeof(*names));
    _cleanup_(berth_cdi_freep) berth_cdi *cdi = NULL;
    size_t n = 0;
    int r = 0;

    for (size_t i = 0; i < a->n_devices && r == 0; i++) {
        DeviceRequest req = DEVICE_REQUEST_INIT;

        if (berth_cdi_parse_request(a->devices[i], &req, err) < 0)
            return -1;
        if (req.name[0] == '/')
            r = berth_cdi_host_device(req.name, req.container_path, req.permissions, edits, err);
        else
            names[n++] = berth_xstrdup(req.name);
        berth_cdi_request_clear(&req);
    }
    if (r == 0 && n > 0) {
        const char *const *dirs = a->n_cdi_dirs ? a->cdi_dirs : berth_cdi_default_dirs;
        size_t n_dirs = a->n_cdi_dirs ? a->n_cdi_dirs : berth_cdi_default_dirs_len;

        r = berth_cdi_load(dirs, n_dirs, &cdi, err);
        if (r == 0 && (r = berth_cdi_resolve(cdi, names, n, edits, err)) < 0) {
            const char *const *lines;
            size_t n_lines = berth_cdi_problems(cdi, &lines);

            /* a spec file that was ignored may be why */
            for (size_t i = 0; i < n_lines; i++) {
                _cleanup_free_ char *msg = berth_error_steal_msg(err);

                berth_error_set(err, ENOENT, "%s; ignored CDI spec %s", msg, lines[i]);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (r < 0)
        return -1;
    berth_spec_env_put(eff, edits->env, edits->n_env);
    return 0;
}

int berthctl_cmd_run(int argc, char **argv)
{
    run_args a = { 0 };
    size_t n = (size_t)argc + 1;
    _cleanup_free_ char **env = berth_xcalloc(n, sizeof(char *));
    _cleanup_free_ char **cap_add = berth_xcalloc(n, sizeof(char *));
    _cleanup_free_ char **cap_drop = berth_xcalloc(n, sizeof(char *));
    _cleanup_free_ uint32_t *groups = berth_xcalloc(n, sizeof(uint32_t));
    _cleanup_free_ Mount *mounts = berth_xcalloc(n, sizeof(*mounts));
    _cleanup_free_ Mount **mount_ptrs = berth_xcalloc(n, sizeof(*mount_ptrs));
    _cleanup_free_ Rlimit *rls = berth_xcalloc(n, sizeof(*rls));
    _cleanup_free_ Rlimit **rl_ptrs = berth_xcalloc(n, sizeof(*rl_ptrs));
    _cleanup_free_ berth_proxy_port *ports = berth_xcalloc(n, sizeof(*ports));
    _cleanup_free_ const char **devices = berth_xcalloc(n, sizeof(char *));
    _cleanup_free_ const char **cdi_dirs = berth_xcalloc(n, sizeof(char *));
    _cleanup_(berth_cdi_edits_clear) DeviceEdits edits = DEVICE_EDITS_INIT;
    berth_proxy *proxy = NULL;
    int proxy_entered = 1;
    _cleanup_free_ char *state_dir = NULL, *rootfs_abs = NULL;
    _cleanup_close_ int sigfd = -1;
    berth_runtime_config cfg = { 0 };
    berth_runtime *rt = NULL;
    berth_container *c = NULL;
    berth_error *err = NULL;
    berth_exit ex = { 0 };
    berth_create_opts opts = { .stdio = { 0, 1, 2 }, .die_with_parent = true };
    _cleanup_(image_config_freep) ImageConfig *image = NULL;
    _cleanup_(spec_freep) ContainerSpec *eff = NULL;
    sigset_t fwd;
    int code;

    container_spec_init(&a.spec);
    a.pull = BERTH_PULL_IF_NOT_PRESENT;
    a.image_store = BERTH_IMAGE_STORE_DEFAULT;
    resources_init(&a.res);
    user_init(&a.user);
    /* --group-add alone: the image's user, with those groups */
    a.user.image_uid = a.user.image_gid = true;
    capabilities_init(&a.caps);
    user_namespace_init(&a.userns);
    id_map_init(&a.idmap);
    a.spec.resources = &a.res;
    a.spec.env = env;
    a.spec.mounts = mount_ptrs;
    a.spec.rlimits = rl_ptrs;
    a.caps.add = cap_add;
    a.caps.drop = cap_drop;
    a.ports = ports;
    a.devices = devices;
    a.cdi_dirs = cdi_dirs;
    if (parse_run(argc, argv, &a, env, mounts, mount_ptrs, rls, rl_ptrs, cap_add, cap_drop,
                  groups) < 0)
        return BERTHCTL_EXIT_USAGE;
    /* Like crun and docker, a relative --rootfs is relative to here. */
    if (*a.spec.rootfs && a.spec.rootfs[0] != '/') {
        rootfs_abs = realpath(a.spec.rootfs, NULL);
        if (!rootfs_abs) {
            berthctl_errorf("rootfs %s: %s", a.spec.rootfs, strerror(errno));
            return BERTHCTL_EXIT_RUNTIME;
        }
        a.spec.rootfs = rootfs_abs;
    }
    if (!*a.spec.id) {
        uint32_t rnd = 0;

        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
            rnd = (uint32_t)getpid();
        snprintf(a.id, sizeof(a.id), "run-%08" PRIx32, rnd);
        a.spec.id = a.id;
    }

    /* The image first: a pull may take long, and Ctrl-C must end it. */
    if (*a.spec.image && !berth_spec_dir_image(a.image_store, a.spec.image)) {
        if (run_image(&a, &image, &err) < 0)
            goto fail;
        opts.image_layers = image->layers;
        opts.n_image_layers = image->n_layers;
    }
    if (berth_spec_effective(&a.spec, image, &eff, &err) < 0)
        goto fail;
    if (a.n_devices) {
        if (run_devices(&a, eff, &edits, &err) < 0)
            goto fail;
        opts.devices = &edits;
    }
    /* an image's writable layer goes there, device hooks' bundle too */
    if (*a.spec.image || edits.n_hooks > 0) {
        if (a.state_dir) {
            opts.state_dir = a.state_dir;
        } else {
            if (berth_mkdir_p("/run/berth/run", 0700, &err) < 0)
                goto fail;
            state_dir = berth_xasprintf("/run/berth/run/%s", a.spec.id);
            opts.state_dir = state_dir;
        }
    }

    /* Signals to forward arrive through a signalfd; blocking them before
     * the start queues any that come early. The child resets its mask. */
    sigemptyset(&fwd);
    for (const int *s = (const int[]){ SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0 }; *s;
         s++)
        sigaddset(&fwd, *s);
    sigprocmask(SIG_BLOCK, &fwd, NULL);
    sigfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        berth_error_errno(&err, "signalfd");
        goto fail;
    }

    /* The ports first: one in use fails the run before anything starts. */
    if (a.n_ports && berth_proxy_open(a.ports, a.n_ports, &proxy, &err) < 0)
        goto fail;
    cfg.cgroup_parent = a.cgroup_parent;
    cfg.image_store = a.image_store;
    if (berth_runtime_new(&cfg, &rt, &err) < 0)
        goto fail;
    if (berth_container_create(rt, eff, &opts, &c, &err) < 0) {
        code = exit_code_for_start_error(err);
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        berth_runtime_free(rt);
        berth_proxy_close(proxy);
        return code;
    }
    run_warning(c);
    if (proxy && (proxy_entered = proxy_enter(proxy, c, &err)) <= 0) {
        /* (0: it ended already; its exit is reaped below) */
        if (proxy_entered < 0) {
            berthctl_errorf("%s", err->msg);
            berth_error_free(&err);
            berth_container_signal(c, SIGKILL, NULL);
        }
        berth_proxy_close(proxy);
        proxy = NULL;
    }
    if (supervise(c, sigfd, proxy, &ex, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
        ex.exit_code = BERTHCTL_EXIT_RUNTIME;
    }
    if (berth_container_destroy(c, &err) < 0) {
        berthctl_errorf("%s", err->msg);
        berth_error_free(&err);
    }
    run_warning(c);
    if (proxy_entered < 0) /* berth failed it, not the container */
        ex.exit_code = BERTHCTL_EXIT_RUNTIME;
    if (ex.oom_killed) {
        char lim[32];
        berthctl_errorf(
            "container %s was OOM-killed (memory limit %s)", a.spec.id,
            a.res.memory_bytes ? berth_format_bytes(a.res.memory_bytes, lim, sizeof(lim)) : "none");
    }
    berth_proxy_close(proxy);
    berth_container_free(c);
    berth_runtime_free(rt);
    return ex.exit_code;

fail:
    berthctl_errorf("%s", err->msg);
    berth_error_free(&err);
    berth_proxy_close(proxy);
    berth_runtime_free(rt);
    return BERTHCTL_EXIT_RUNTIME;
}
