/* The pods' sandboxes (see pods.h). */
#include "pods.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "helper.h"
#include "net/cidr.h"
#include "runtime/runtime.h"
#include "podfiles.h"
#include "runtime/sandbox.h"
#include "spec/spec.h"
#include "spec/workload.h"

/* Between two steps of a removal: a cgroup frees in milliseconds once
 * what was in it is gone; one stuck (a process in D state) is retried at
 * RETRY_SLOW_MS. */
/* A CNI DEL that fails is tried this many times (RETRY_SLOW_MS apart). */
#define CNI_DEL_TRIES 3
#define RETRY_MS      50
#define RETRY_SLOW_MS 5000
#define SLOW_AFTER_MS 10000

typedef struct pod pod;

struct pod {
    pods *p;
    pod *next;
    char id[BERTH_SPEC_ID_MAX + 1];
    berth_loop_io pause_io; /* the pause's pidfd, while it is watched */
    bool removing;
    bool net_warned; /* its network's removal failed, said once */
    bool net_broken; /* its CNI CHECK failed: the sandbox is made anew */
    /* CNI, through berth-cni (its loop never waits for a plugin): the ADD
     * or DEL running; an ADD that ended, for the next pods_ensure to
     * finish (its address in ip) or to undo (why in cni_error). */
    helper *cni_op;
    bool cni_adding, cni_added, cni_del_done;
    int cni_del_failures;
    char *cni_error;
    bool release; /* the pod is gone, not only its sandbox */
    char ip[16];  /* its address, "" none or not read yet */
    bool ip_read;
    bool warned;
    int64_t removing_since_ns;
    berth_loop_timer timer;
};

struct pods {
    pods_config cfg;
    char *dir; /* <state_dir>/pods */
    pod *list;
    berth_podnet *net; /* NULL: no pod network */
    berth_cni *cni;    /* or an operator's CNI network */
    char *cni_runner;  /* berth-cni */
    /* berth-cni's start-up sweep (CHECK, garbage collection): no ADD or
     * DEL meanwhile */
    helper *sweep;
    bool sweeping;
    size_t sweep_checked;
};

/* The file in a sandbox directory with the pod's address. */
#define POD_IP_FILE "ip"

static void on_remove_timer(berth_loop_timer *timer);

void pods_dir(const pods *p, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", p->dir, id);
}

void pods_volumes_dir(const pods *p, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/volumes/%s", p->cfg.state_dir, id);
}

/* The Description of a pod's slice starts so (and its pause's scope's):
 * what tells berth's slices from another's. */
#define SLICE_OWNER "berth pod "

/* pod's slice under systemd's driver ("" when no name fits: not for a
 * valid pod id). */
static void pod_slice(const pods *p, const char *id, char *buf, size_t size)
{
    if (!berth_systemd_pod_slice(p->cfg.slice, id, buf, size))
        buf[0] = '\0';
}

void pods_cgroup(const pods *p, const char *id, char *buf, size_t size)
{
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1];

    if (!p->cfg.systemd) {
        snprintf(buf, size, "%s/%s", p->cfg.cgroup_parent, id);
        return;
    }
    pod_slice(p, id, slice, sizeof(slice));
    if (!*slice || !berth_systemd_slice_cgroup(slice, buf, size))
        buf[0] = '\0';
}

void pods_slice(const pods *p, const char *id, char *buf, size_t size)
{
    if (p->cfg.systemd)
        pod_slice(p, id, buf, size);
    else if (size)
        buf[0] = '\0';
}

/* Under systemd's driver, one step of removing pod's slice (before its
 * sandbox's directory, which is what remembers it): 1 gone, 0 asked to
 * stop, -1 failed (a slice of that name that is not berth's is never
 * stopped). */
static int slice_remove_step(pods *p, const char *id, berth_error **err)
{
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1];
    bool gone = false;

    pod_slice(p, id, slice, sizeof(slice));
    if (!*slice)
        return 1;
    if (berth_systemd_unit_gone(p->cfg.systemd, slice, SLICE_OWNER, &gone, err) < 0)
        return -1;
    if (gone)
        return 1;
    return berth_systemd_stop_unit(p->cfg.systemd, slice, err) < 0 ? -1 : 0;
}

struct pause_place {
    pods *p;
    const char *id;
};

/* The pause of a shared-PID pod, under systemd's driver: a scope of its
 * own in the pod's slice (its job ends at once). */
static int place_pause(pid_t pid, void *data, berth_error **err)
{
    struct pause_place *pp = data;
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1], scope[BERTH_SYSTEMD_UNIT_MAX + 1], what[300];

    pod_slice(pp->p, pp->id, slice, sizeof(slice));
    if (!*slice || !berth_systemd_pause_scope(pp->id, scope, sizeof(scope)))
        return berth_error_set(err, ENAMETOOLONG, "pod %s: no systemd unit name fits", pp->id);
    snprintf(what, sizeof(what), SLICE_OWNER "%s: pause", pp->id);
    return berth_systemd_start_scope(pp->p->cfg.systemd, scope, slice, what, pid, false,
                                     BERTH_SYSTEMD_CALL_TIMEOUT_MS, err);
}

/* Under systemd's driver, the pod's slice with its limits. */
static int slice_start(pods *p, const char *id, const pods_sandbox *want, berth_error **err)
{
    const berth_cgroup_limits none = { 0 };
    char slice[BERTH_SYSTEMD_UNIT_MAX + 1], what[300];

    pod_slice(p, id, slice, sizeof(slice));
    if (!*slice)
        return berth_error_set(err, ENAMETOOLONG, "pod %s: no systemd unit name fits", id);
    snprintf(what, sizeof(what), SLICE_OWNER "%s", id);
    return berth_systemd_start_slice(p->cfg.systemd, slice, what,
                                     want->limits ? want->limits : &none,
                                     BERTH_SYSTEMD_CALL_TIMEOUT_MS, err);
}

static pod *find(const pods *p, const char *id)
{
    for (pod *e = p->list; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static pod *pod_new(pods *p, const char *id)
{
    pod *e = berth_xcalloc(1, sizeof(*e));

    e->p = p;
    snprintf(e->id, sizeof(e->id), "%.*s", (int)sizeof(e->id) - 1, id);
    e->pause_io.fd = -1;
    berth_loop_timer_init(&e->timer, on_remove_timer);
    e->next = p->list;
    p->list = e;
    return e;
}

static void unwatch(pod *e)
{
    if (e->pause_io.fd >= 0) {
        int fd = e->pause_io.fd;

        berth_loop_remove(e->p->cfg.loop, &e->pause_io);
        close(fd);
    }
}

static void pod_free(pod *e)
{
    pods *p = e->p;

    for (pod **q = &p->list; *q; q = &(*q)->next)
        if (*q == e) {
            *q = e->next;
            break;
        }
    unwatch(e);
    berth_loop_timer_cancel(p->cfg.loop, &e->timer);
    /* an ADD or DEL under way dies with berthd: what it cached before its
     * first plugin ran lets the next berthd DEL it (its sandbox's network
     * unfinished, or gone) */
    helper_abandon(e->cni_op);
    free(e->cni_error);
    free(e);
}

static void on_pause_gone(berth_loop_io *io, uint32_t events)
{
    pod *e = berth_container_of(io, pod, pause_io);

    (void)events;
    unwatch(e);
    if (e->removing)
        return;
    berth_warn("pod %s: its pause process died, and the pod's PID namespace with it: its "
               "containers start again in a new sandbox",
               e->id);
    if (e->p->cfg.lost)
        e->p->cfg.lost(e->id, e->p->cfg.data);
}

/* Watch the pause of e's sandbox, when it has one. */
static void watch(pod *e)
{
    berth_error *err = NULL;
    char dir[PATH_MAX];
    int fd;

    if (e->pause_io.fd >= 0)
        return;
    pods_dir(e->p, e->id, dir, sizeof(dir));
    if (berth_sandbox_pause_pidfd(dir, &fd, NULL) < 0)
        return;
    if (berth_loop_add(e->p->cfg.loop, &e->pause_io, fd, EPOLLIN, on_pause_gone, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "pod %s: watch its pause", e->id);
        berth_error_free(&err);
        close(fd);
    }
}

static int remove_step(pod *e);

/* berth-cni's one line: "ok [ADDRESS]" or "error MESSAGE"; anything else
 * (it crashed) is told with its exit status. */
static const char *cni_outcome(int code, const char *out, char *buf, size_t size, bool *ret_ok)
{
    const char *nl = strchr(out, '\n');
    size_t len = nl ? (size_t)(nl - out) : strlen(out);

    *ret_ok = false;
    if (len >= 2 && strncmp(out, "ok", 2) == 0 && (len == 2 || out[2] == ' ')) {
        *ret_ok = true;
        snprintf(buf, size, "%.*s", len > 3 ? (int)(len - 3) : 0, out + 3);
    } else if (len > 6 && strncmp(out, "error ", 6) == 0) {
        snprintf(buf, size, "%.*s", (int)(len - 6), out + 6);
    } else {
        snprintf(buf, size, "berth-cni %s %d", code > 128 ? "was killed by signal" : "exited with",
                 code > 128 ? code - 128 : code);
    }
    return buf;
}

static void on_cni_del(helper *h, int code, const char *out, void *data)
{
    pod *e = data;
    char why[1024];
    bool ok;

    (void)h;
    e->cni_op = NULL;
    cni_outcome(code, out, why, sizeof(why), &ok);
    if (!ok && ++e->cni_del_failures < CNI_DEL_TRIES) {
        /* tried again, while the namespace is there */
        berth_loop_timer_arm(e->p->cfg.loop, &e->timer,
                             berth_now_mono_ns() + RETRY_SLOW_MS * BERTH_NSEC_PER_MSEC);
        return;
    }
    /* one that failed for good is tried again by the garbage collection
     * at the next start (its cache stays) */
    if (!ok)
        berth_warn("pod %s: CNI DEL: %s (tried %d times; its cache stays for the next start's "
                   "collection)",
                   e->id, why, CNI_DEL_TRIES);
    e->cni_del_done = true;
    remove_step(e);
}

/* Start the DEL of e's CNI network: 0, or -1 when it cannot be (said,
 * and the removal goes on without it). */
static int cni_del_start(pod *e)
{
    pods *p = e->p;
    char cache[PATH_MAX];
    char *argv[] = { p->cni_runner, "del", (char *)berth_cni_bin_dir(p->cni), cache, e->id, NULL };
    berth_error *err = NULL;

    snprintf(cache, sizeof(cache), "%s", berth_cni_cache_dir(p->cni));
    if (helper_start(p->cfg.loop, argv, on_cni_del, e, &e->cni_op, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "pod %s: start berth-cni del", e->id);
        berth_error_free(&err);
        e->cni_del_done = true;
        return -1;
    }
    return 0;
}

static void on_cni_add(helper *h, int code, const char *out, void *data)
{
    pod *e = data;
    char what[1024];
    bool ok;

    (void)h;
    e->cni_op = NULL;
    e->cni_adding = false;
    if (e->removing) { /* it went meanwhile: DEL undoes what ADD made */
        remove_step(e);
        return;
    }
    cni_outcome(code, out, what, sizeof(what), &ok);
    if (ok && strlen(what) < sizeof(e->ip)) {
        snprintf(e->ip, sizeof(e->ip), "%s", what);
        e->cni_added = true;
    } else {
        e->cni_error = berth_xstrdup(ok ? "berth-cni gave no address" : what);
    }
    /* the pod's containers wait: the next pods_ensure finishes or undoes */
    if (e->p->cfg.network_done)
        e->p->cfg.network_done(e->id, e->p->cfg.data);
}

/* Start e's CNI ADD (its sandbox at dir): 0, or -1 (ENONET). */
static int cni_add_start(pod *e, const char *dir, const pods_sandbox *want, berth_error **err)
{
    pods *p = e->p;
    char ns[BERTH_NAMESPACE_BUF], netns[PATH_MAX + 8], conf[PATH_MAX], bin[PATH_MAX],
        cache[PATH_MAX];
    const char *name = berth_id_split(e->id, ns);
    char **argv = berth_xcalloc(want->n_ports + 10, sizeof(*argv));
    size_t n = 0;
    int r;

    snprintf(netns, sizeof(netns), "%s/net", dir);
    snprintf(conf, sizeof(conf), "%s", berth_cni_conf_dir(p->cni));
    snprintf(bin, sizeof(bin), "%s", berth_cni_bin_dir(p->cni));
    snprintf(cache, sizeof(cache), "%s", berth_cni_cache_dir(p->cni));
    argv[n++] = p->cni_runner;
    argv[n++] = "add";
    argv[n++] = conf;
    argv[n++] = bin;
    argv[n++] = cache;
    argv[n++] = e->id;
    argv[n++] = ns;
    argv[n++] = (char *)name;
    argv[n++] = netns;
    for (size_t i = 0; i < want->n_ports; i++) {
        char ip[16] = "";

        if (want->ports[i].host_ip)
            berth_ipv4_str(want->ports[i].host_ip, ip);
        argv[n++] = berth_xasprintf("%s:%s:%u:%u", want->ports[i].udp ? "udp" : "tcp", ip,
                                    want->ports[i].host_port, want->ports[i].pod_port);
    }
    r = helper_start(p->cfg.loop, argv, on_cni_add, e, &e->cni_op, err);
    for (size_t i = 9; i < n; i++)
        free(argv[i]);
    free(argv);
    if (r < 0)
        return berth_error_prefix(err, "start berth-cni");
    e->cni_adding = true;
    return 0;
}

/* One step of removing e's sandbox: 1 gone (e freed), 0 not yet. */
static int remove_step(pod *e)
{
    pods *p = e->p;
    berth_error *err = NULL;
    char dir[PATH_MAX], cg[PATH_MAX];
    int64_t now = berth_now_mono_ns();
    int r;

    pods_dir(p, e->id, dir, sizeof(dir));
    pods_cgroup(p, e->id, cg, sizeof(cg));
    /* its network first: the veth goes with the namespace anyway, the
     * address must be given back (again on each step: harmless) */
    if (p->net && berth_podnet_detach(p->net, e->id, &err) < 0) {
        /* once: the steps retry it every 50 ms */
        if (!e->net_warned)
            berth_log_error(BERTH_LOG_WARN, err, "pod %s (retrying)", e->id);
        e->net_warned = true;
        berth_error_free(&err);
    }
    /* CNI: DEL (while the namespace is there) in berth-cni, whose end
     * takes the next step; after an ADD under way has ended (killed, it
     * would cache nothing for DEL to undo) */
    if (p->cni && !e->cni_del_done) {
        /* (after the start-up sweep: on_sweep steps again) */
        if (p->sweeping || e->cni_op || cni_del_start(e) == 0)
            return 0;
    }
    /* systemd's driver: the slice first (its pause with it), while the
     * sandbox's directory still says there is one */
    r = p->cfg.systemd ? slice_remove_step(p, e->id, &err) : 1;
    if (r == 1)
        r = berth_sandbox_remove_step(p->cfg.cgroups, dir, p->cfg.systemd ? NULL : cg, &err);
    if (r == 1 && e->release) {
        char vol[PATH_MAX];

        /* the pod is gone: its volumes too (a Memory one is a tmpfs) */
        pods_volumes_dir(p, e->id, vol, sizeof(vol));
        if (berth_volumes_release(vol, &err) < 0 || berth_rm_rf_at(AT_FDCWD, vol, &err) < 0)
            r = -1;
    }
    if (r == 1) {
        berth_info("pod %s: sandbox removed", e->id);
        pod_free(e);
        return 1;
    }
    if (r < 0 && !e->warned) {
        berth_log_error(BERTH_LOG_WARN, err, "pod %s: remove its sandbox (retrying)", e->id);
        e->warned = true;
    }
    berth_error_free(&err);
    berth_loop_timer_arm(p->cfg.loop, &e->timer,
                         now + (now - e->removing_since_ns > SLOW_AFTER_MS * BERTH_NSEC_PER_MSEC
                                    ? RETRY_SLOW_MS
                                    : RETRY_MS) *
                                   BERTH_NSEC_PER_MSEC);
    return 0;
}

static void on_remove_timer(berth_loop_timer *timer)
{
    remove_step(berth_container_of(timer, pod, timer));
}

void pods_release(pods *p, const char *id)
{
    pod *e = find(p, id);

    if (!e)
        return;
    e->release = true;
    if (e->removing)
        return;
    e->removing = true;
    e->removing_since_ns = berth_now_mono_ns();
    unwatch(e);
    remove_step(e);
}

static void fill_opts(const pods *p, const char *id, const pods_sandbox *want, char *dir,
                      size_t dsize, char *cg, size_t csize, berth_sandbox_opts *o)
{
    pods_dir(p, id, dir, dsize);
    pods_cgroup(p, id, cg, csize);
    *o = (berth_sandbox_opts){
        .dir = dir,
        .hostname = want->hostname,
        .host_network = want->host_network,
        .share_pid = want->share_pid,
        .cgroup_path = cg,
        .limits = want->limits,
    };
}

/* The node's resolv.conf for the pods (a new string; NULL: none): the
 * configured one, else /etc/resolv.conf, unless that names loopback
 * resolvers only (systemd-resolved's local 127.0.0.53, which a pod cannot
 * reach) and systemd-resolved's list of the upstream servers is there, as
 * the kubelet's --resolv-conf is set on such hosts. */
static char *node_resolv(const pods *p)
{
    char *text = NULL, *body;
    bool loopback_only;

    if (p->cfg.resolv_conf) {
        berth_error *err = NULL;

        if (berth_read_file_at(AT_FDCWD, p->cfg.resolv_conf, 1 << 16, &text, NULL, &err) < 0) {
            berth_log_error(BERTH_LOG_WARN, err,
                            "pod_network.resolv_conf: the pods' resolv.conf names no server");
            berth_error_free(&err);
        }
        return text;
    }
    if (berth_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 16, &text, NULL, NULL) < 0)
        text = NULL;
    body = podfiles_resolv(text, NULL);
    loopback_only = text && strstr(text, "nameserver") && !strstr(body, "nameserver");
    free(body);
    if (loopback_only) {
        char *upstream = NULL;

        if (berth_read_file_at(AT_FDCWD, "/run/systemd/resolve/resolv.conf", 1 << 16, &upstream,
                               NULL, NULL) == 0) {
            free(text);
            return upstream;
        }
    }
    return text;
}

/* The pod's /etc/hosts and /etc/resolv.conf, into its sandbox. */
static int write_etc(pod *e, int dirfd, const pods_sandbox *want, berth_error **err)
{
    char *node = node_resolv(e->p);
    char *hosts = podfiles_hosts(e->ip, want->hostname);
    char *resolv = podfiles_resolv(node, want->dns);
    int r =
        berth_replace_file_at(dirfd, BERTH_SANDBOX_HOSTS, hosts, strlen(hosts), 0644, err) < 0 ||
                berth_replace_file_at(dirfd, BERTH_SANDBOX_RESOLV, resolv, strlen(resolv), 0644,
                                      err) < 0
            ? -1
            : 0;

    free(node);
    free(hosts);
    free(resolv);
    return r;
}

/* The address file of the sandbox at dir says its network is unfinished
 * (empty: written so before the network is made, filled after; an
 * earlier berthd died in between). No file: a sandbox without network. */
static bool net_unfinished(const char *dir)
{
    char path[PATH_MAX + 8];
    struct stat st;

    snprintf(path, sizeof(path), "%s/" POD_IP_FILE, dir);
    return stat(path, &st) == 0 && st.st_size == 0;
}

/* e's address (e->ip) and its /etc files, written into its sandbox at
 * dir. */
static int attach_finish(pod *e, const char *dir, const pods_sandbox *want, berth_error **err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r;

    if (fd < 0)
        return berth_error_errno(err, "open %s", dir);
    e->ip_read = true;
    r = write_etc(e, fd, want, err) < 0 ||
                berth_replace_file_at(fd, POD_IP_FILE, e->ip, strlen(e->ip), 0600, err) < 0
            ? -1
            : 0;
    close(fd);
    return r;
}

/* Give e (its sandbox at dir just made) its address on the pod network,
 * written in the sandbox (POD_IP_FILE), and its /etc files: 0 done, 1
 * under way (a CNI ADD in berth-cni: the next pods_ensure finishes it),
 * -1 ENONET. */
static int attach(pod *e, const char *dir, const pods_sandbox *want, berth_error **err)
{
    char netns[PATH_MAX + 8];
    berth_error *e2 = NULL;
    uint32_t addr;
    int fd;

    snprintf(netns, sizeof(netns), "%s/net", dir);
    if (!e->p->net && !e->p->cni) {
        berth_error_set(&e2, ENONET, "the node's pod network is not ready (no pod range yet)");
        goto fail;
    }
    /* unfinished until the address is written */
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || berth_replace_file_at(fd, POD_IP_FILE, "", 0, 0600, &e2) < 0) {
        if (fd < 0)
            berth_error_errno(&e2, "open %s", dir);
        else
            close(fd);
        goto fail;
    }
    close(fd);
    if (e->p->cni) {
        if (cni_add_start(e, dir, want, &e2) < 0)
            goto fail;
        return 1;
    }
    if (berth_podnet_attach(e->p->net, e->id, netns, &addr, &e2) < 0)
        goto fail;
    berth_ipv4_str(addr, e->ip);
    if (attach_finish(e, dir, want, &e2) < 0)
        goto fail;
    return 0;
fail:
    berth_error_set(err, ENONET, "%s", e2->msg);
    berth_error_free(&e2);
    return -1;
}

/* e goes: its sandbox is removed from here on. */
static void undo(pod *e)
{
    e->removing = true;
    e->removing_since_ns = berth_now_mono_ns();
    unwatch(e);
    remove_step(e);
}

int pods_publish(pods *p, const char *id, const berth_podnet_port *ports, size_t n,
                 berth_error **err)
{
    if (!p->net)
        return 0;
    return berth_podnet_publish(p->net, id, ports, n, err);
}

bool pods_ip(pods *p, const char *id, char buf[16])
{
    pod *e = find(p, id);

    buf[0] = '\0';
    if (!e || e->removing)
        return false;
    if (!e->ip_read) {
        char path[PATH_MAX], *text = NULL;

        snprintf(path, sizeof(path), "%s/%s/" POD_IP_FILE, p->dir, id);
        if (berth_read_file_at(AT_FDCWD, path, 15, &text, NULL, NULL) == 0) {
            snprintf(e->ip, sizeof(e->ip), "%s", text);
            free(text);
        }
        e->ip_read = true;
    }
    snprintf(buf, 16, "%s", e->ip);
    return *buf != '\0';
}

static bool has_sandbox(const char *id, void *data)
{
    const pod *e = find(data, id);

    return e && !e->removing;
}

void pods_set_network(pods *p, berth_podnet *net)
{
    berth_error *err = NULL;
    int n;

    p->net = net;
    if (!net)
        return;
    if ((n = berth_podnet_sweep(net, has_sandbox, p, &err)) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "pod network: give back the addresses of gone pods");
        berth_error_free(&err);
    } else if (n > 0) {
        berth_info("pod network: %d address(es) of pods gone while berthd was away given back", n);
    }
}

/* The start-up sweep ended: the CNI networks of the pods berthd
 * adopted were CHECKed as the spec has a runtime do for an existing
 * container (Nomad does it when it restores its allocations), and the
 * caches of pods gone while berthd was away DEL'd. A network that is no
 * longer what ADD made (an interface, address or route gone meanwhile)
 * gets its pod a new sandbox, and so a new network, as a pause that died
 * does. */
static void on_sweep(helper *h, int code, const char *out, void *data)
{
    pods *p = data;
    size_t checked = p->sweep_checked, broken = 0;
    long gone = -1;

    (void)h;
    p->sweep = NULL;
    p->sweeping = false;
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[1024], *id, *msg;

        snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
        line += len + (nl ? 1 : 0);
        if (strncmp(buf, "broken ", 7) == 0 && (msg = strchr(buf + 7, ' '))) {
            pod *e;

            id = buf + 7;
            *msg++ = '\0';
            e = find(p, id);
            broken++;
            if (!e || e->removing)
                continue;
            berth_warn("pod %s: its network is not as ADD made it (%s): its containers start "
                       "again in a new sandbox",
                       id, msg);
            e->net_broken = true;
            if (p->cfg.lost)
                p->cfg.lost(e->id, p->cfg.data);
        } else if (strncmp(buf, "ok ", 3) == 0) {
            gone = strtol(buf + 3, NULL, 10);
        } else if (*buf) {
            berth_warn("CNI: the start-up sweep: %s", buf);
        }
    }
    if (gone < 0 || code != 0)
        berth_warn("CNI: the start-up sweep did not finish (berth-cni status %d; %ld pod(s) "
                   "gone while berthd was away DEL'd): what it did not reach waits for the "
                   "next start",
                   code, gone < 0 ? 0 : gone);
    else
        berth_info("CNI: start-up sweep: %zu pod(s) CHECKed, %zu broken; %ld pod(s) gone while "
                   "berthd was away DEL'd",
                   checked, broken, gone);
    /* the removals that waited go on; new pods' ADDs may start */
    for (pod *e = p->list, *next; e; e = next) {
        next = e->next;
        if (e->removing && !e->cni_op)
            remove_step(e);
    }
    if (p->cfg.network_done)
        p->cfg.network_done(NULL, p->cfg.data);
}

/* The start-up sweep, in berth-cni (plugins may take long, for every
 * pod): what it does is on_sweep's. Meanwhile no ADD or DEL starts. */
static void sweep_start(pods *p)
{
    berth_error *err = NULL;
    size_t n = 0, n_pods = 0;
    char **argv;

    for (pod *e = p->list; e; e = e->next)
        n_pods++;
    argv = berth_xcalloc(5 + n_pods, sizeof(*argv));

    argv[n++] = p->cni_runner;
    argv[n++] = "sweep";
    argv[n++] = (char *)berth_cni_bin_dir(p->cni);
    argv[n++] = (char *)berth_cni_cache_dir(p->cni);
    p->sweep_checked = 0;
    for (pod *e = p->list; e; e = e->next)
        if (!e->removing) {
            argv[n++] = e->id;
            p->sweep_checked++;
        }
    if (helper_start(p->cfg.loop, argv, on_sweep, p, &p->sweep, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err,
                        "CNI: start the start-up sweep (no CHECK; pods gone while berthd was "
                        "away keep their networks until the next start)");
        berth_error_free(&err);
    } else {
        p->sweeping = true;
    }
    free(argv);
}

void pods_set_cni(pods *p, berth_cni *cni, const char *runner)
{
    p->cni = cni;
    free(p->cni_runner);
    p->cni_runner = runner ? berth_xstrdup(runner) : NULL;
    if (cni && runner)
        sweep_start(p);
}

bool pods_net_stats(pods *p, const char *id, berth_link_counters *ret)
{
    const pod *e = find(p, id);

    return e && !e->removing && p->net && berth_podnet_stats(p->net, id, ret, NULL) == 0;
}

bool pods_whole(pods *p, const char *id, const pods_sandbox *want)
{
    const pod *e = find(p, id);
    char dir[PATH_MAX], cg[PATH_MAX];
    berth_sandbox_opts o;
    const char *why;

    if (!e || e->removing || e->net_broken || e->cni_adding || e->cni_added || e->cni_error)
        return false;
    fill_opts(p, id, want, dir, sizeof(dir), cg, sizeof(cg), &o);
    return !net_unfinished(dir) && berth_sandbox_whole(&o, &why);
}

int pods_ensure(pods *p, const char *id, const pods_sandbox *want, berth_error **err)
{
    pod *e = find(p, id);
    char dir[PATH_MAX], cg[PATH_MAX];
    struct pause_place pp = { .p = p, .id = id };
    berth_sandbox_opts o;
    const char *why = NULL;

    fill_opts(p, id, want, dir, sizeof(dir), cg, sizeof(cg), &o);
    /* a CNI ADD under way, or ended */
    if (e && !e->removing && e->cni_adding)
        return berth_error_set(err, EINPROGRESS, "pod %s: its network is being made (CNI ADD)", id);
    if (e && !e->removing && e->cni_added) {
        berth_error *e2 = NULL;

        e->cni_added = false;
        if (attach_finish(e, dir, want, &e2) < 0) {
            berth_error_set(err, ENONET, "pod %s: %s", id, e2->msg);
            berth_error_free(&e2);
            undo(e);
            return -1;
        }
        /* (its pause may have died meanwhile: then it is made anew below) */
        if (berth_sandbox_whole(&o, &why)) {
            berth_info("pod %s: sandbox made, address %s (CNI)", id, e->ip);
            return 0;
        }
    }
    if (e && !e->removing && e->cni_error) {
        berth_error_set(err, ENONET, "%s", e->cni_error);
        free(e->cni_error);
        e->cni_error = NULL;
        undo(e);
        return -1;
    }
    if (e && !e->removing && !e->net_broken && !net_unfinished(dir) &&
        berth_sandbox_whole(&o, &why))
        return 0;
    if (e && e->net_broken)
        why = "its network failed CNI CHECK";
    else if (e && net_unfinished(dir))
        why = "its network was not finished";
    if (e) {
        if (!e->removing) {
            berth_warn("pod %s: its sandbox is not whole (%s): making it anew", id, why);
            e->removing = true;
            e->removing_since_ns = berth_now_mono_ns();
            unwatch(e);
        }
        /* (a step waiting on its timer, a CNI DEL's retry, keeps its time) */
        if (berth_loop_timer_armed(&e->timer) && e->cni_del_failures > 0)
            return berth_error_set(err, EBUSY, "pod %s: its old sandbox is still being removed",
                                   id);
        berth_loop_timer_cancel(p->cfg.loop, &e->timer);
        if (remove_step(e) == 0)
            return berth_error_set(err, EBUSY, "pod %s: its old sandbox is still being removed",
                                   id);
    }
    if (p->cfg.network && !want->host_network && !p->net && !p->cni)
        return berth_error_set(err, ENONET,
                               "the node's pod network is not ready (no pod range yet)");
    if (p->cfg.network && !want->host_network && p->cni && p->sweeping)
        return berth_error_set(err, EINPROGRESS,
                               "pod %s: waiting for the CNI network's start-up sweep", id);
    if (p->cfg.systemd) {
        o.cgroup_external = true;
        o.place_pause = place_pause;
        o.place_data = &pp;
    }
    if ((p->cfg.systemd && slice_start(p, id, want, err) < 0) ||
        berth_sandbox_create(p->cfg.cgroups, &o, err) < 0) {
        /* What the failed create left goes from the loop; so does what
         * was in its way (EEXIST: a cgroup of the pod's that a crash
         * left): the pod's name is berth's, and none of its containers
         * runs. The next start finds the way clear. */
        e = pod_new(p, id);
        e->removing = true;
        e->removing_since_ns = berth_now_mono_ns();
        remove_step(e);
        return -1;
    }
    e = pod_new(p, id);
    if (p->cfg.network && !want->host_network) {
        int r = attach(e, dir, want, err);

        if (r < 0) {
            undo(e);
            return -1;
        }
        if (r > 0) {
            watch(e);
            return berth_error_set(err, EINPROGRESS, "pod %s: its network is being made (CNI ADD)",
                                   id);
        }
    }
    watch(e);
    berth_info("pod %s: sandbox made%s%s%s", id, want->share_pid ? " (shared PID namespace)" : "",
               *e->ip ? ", address " : "", e->ip);
    return 0;
}

void pods_sweep(pods *p, bool (*in_use)(const char *pod, void *data), void *data)
{
    for (pod *e = p->list, *next; e; e = next) {
        next = e->next;
        if (!in_use(e->id, data)) {
            berth_info("pod %s: no container left; removing its sandbox", e->id);
            pods_release(p, e->id);
        }
    }
}

int pods_open(const pods_config *cfg, pods **ret, berth_error **err)
{
    pods *p = berth_xcalloc(1, sizeof(*p));
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;

    p->cfg = *cfg;
    p->dir = berth_xasprintf("%s/pods", cfg->state_dir);
    if (berth_mkdir_p(p->dir, 0700, err) < 0) {
        pods_close(p);
        return -1;
    }
    if (!(d = opendir(p->dir))) {
        berth_error_errno(err, "open %s", p->dir);
        pods_close(p);
        return -1;
    }
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && berth_spec_id_valid(de->d_name))
            watch(pod_new(p, de->d_name));
    *ret = p;
    return 0;
}

void pods_close(pods *p)
{
    if (!p)
        return;
    while (p->list)
        pod_free(p->list);
    helper_abandon(p->sweep);
    free(p->cni_runner);
    free(p->dir);
    free(p);
}
