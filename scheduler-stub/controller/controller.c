/* The controller as a process (controller.h): its state directory and
 * keys, the store and the admission policy, the fleet (fleet.h), the four
 * channels and the Controller service's handlers (services.h). It makes
 * the parts and wires them one way: handlers call the fleet, and the fleet
 * reaches the events channel only through the wake-up effect given here. */
#include "controller.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "metrics/http.h"
#include "net/cidr.h"
#include "fleet.h"
#include "policy_sqlite.h"
#include "protocol/wakeup.h"
#include "relay.h"
#include "rpc/auth.h"
#include "rpc/keys.h"
#include "rpc/pubsub.h"
#include "rpc/server.h"
#include "rpc/stream.h"
#include "rpc/survey.h"
#include "services.h"
#include "store.h"

/* The advertised address of a channel. */
#define ADDRESS_MAX 256

struct controller {
    ctl_config *cfg;
    berth_loop *loop;
    berth_store *store;
    berth_policy_sqlite *policy;
    berth_auth *auth;
    berth_keypair key;
    berth_principal self;
    fleet *fleet;
    berth_rpc_server *srv;
    berth_events_pub *pub;
    berth_stream_pull *pull;
    berth_surveyor *surveyor;
    ctl_relay *relay;
    berth_duplex_server *dx;
    ctl_service service;
    /* What the fleet is made with when this controller leads. */
    fleet_config fleet_cfg;
    fleet_effects fleet_fx;
    char adv_rpc[ADDRESS_MAX], adv_events[ADDRESS_MAX], adv_stream[ADDRESS_MAX],
        adv_survey[ADDRESS_MAX];
    /* Frames dropped: a log line when the counters moved (strangers' frames
     * get no answer; this is where they show). */
    berth_loop_timer drops_timer;
    uint64_t drops_seen[BERTH_REJECT_COUNT];
    /* /metrics: what the rpc server and the relay count, the endpoint */
    berth_rpc_metrics *rpc_metrics;
    berth_metrics_http *metrics;
    int64_t start_unix_ns;
    /* etcd: the store's news (watch, lease), and why the controller gave up
     * (deposed: it stops, its supervisor starts it again as a follower) */
    berth_loop_io store_io;
    bool store_io_added;
    /* the lease's deadline is checked on the loop too (store.h) */
    berth_loop_timer store_timer;
    int lock_fd; /* the state directory's, with SQLite */
    char *gone;
};

#define DROPS_LOG_INTERVAL_NS (10 * BERTH_NSEC_PER_SEC)

static void on_drops_timer(berth_loop_timer *t)
{
    controller *c = berth_container_of(t, controller, drops_timer);
    char line[512];

    if (berth_auth_drops_since(c->auth, c->drops_seen, line, sizeof(line)))
        berth_warn("%s in the last %d s (berthctl health shows the totals)", line,
                   (int)(DROPS_LOG_INTERVAL_NS / BERTH_NSEC_PER_SEC));
    berth_loop_timer_arm(c->loop, t, berth_now_mono_ns() + DROPS_LOG_INTERVAL_NS);
}

/* ---- wake-ups: the fleet's effect on the events channel ---- */

static void publish_wake(controller *c, const uint8_t *to, const WakeUp *w)
{
    _cleanup_error_ berth_error *err = NULL;

    /* PUB never blocks and may drop: the next heartbeat heals that. */
    if (berth_events_publish(c->pub, to, &w->base, &err) < 0)
        berth_log_error(BERTH_LOG_DEBUG, err, "wake-up");
}

/* One node: a wake-up to it. Several: one wake-up to every node listing
 * them (events.proto), since nanomsg's PUB sends every frame to every
 * subscriber whatever its topic. */
static void wake_nodes(void *data, const fleet_wake *nodes, size_t n)
{
    controller *c = data;
    WakeUp w = WAKE_UP_INIT;
    _cleanup_free_ NodeGeneration *gens = NULL;
    _cleanup_free_ NodeGeneration **ptrs = NULL;

    if (n == 1) {
        w.generation = nodes[0].generation;
        publish_wake(c, nodes[0].id, &w);
        return;
    }
    gens = berth_xcalloc(BERTH_WAKEUP_NODES_MAX, sizeof(*gens));
    ptrs = berth_xcalloc(BERTH_WAKEUP_NODES_MAX, sizeof(*ptrs));
    w.nodes = ptrs;
    for (size_t i = 0; i < n; i++) {
        node_generation_init(&gens[w.n_nodes]);
        gens[w.n_nodes].node_id.data = (uint8_t *)nodes[i].id;
        gens[w.n_nodes].node_id.len = BERTH_ID_LEN;
        gens[w.n_nodes].generation = nodes[i].generation;
        ptrs[w.n_nodes] = &gens[w.n_nodes];
        if (++w.n_nodes == BERTH_WAKEUP_NODES_MAX) {
            publish_wake(c, berth_id_broadcast, &w);
            w.n_nodes = 0;
        }
    }
    if (w.n_nodes)
        publish_wake(c, berth_id_broadcast, &w);
}

/* ---- keys ---- */

static bool pubkey_file_name(const char *f, char *name, size_t size)
{
    size_t n = strlen(f);

    if (n < 5 || n - 4 >= size || strcmp(f + n - 4, ".pub") != 0)
        return false;
    memcpy(name, f, n - 4);
    name[n - 4] = '\0';
    return true;
}

/* Trust every operators_dir/NAME.pub as operator NAME. A first start with
 * no operator at all makes one, "admin", whose secret key is
 * state_dir/admin.key: berthctl on this machine works out of the box. */
static int load_operators(controller *c, berth_error **err)
{
    const char *dir = c->cfg->operators_dir;
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *e;

    if (berth_mkdir_p(dir, 0755, err) < 0)
        return -1;
    if (!(d = opendir(dir)))
        return berth_error_errno(err, "open %s", dir);
    while ((e = readdir(d))) {
        uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
        char name[BERTH_NAME_MAX + 1], path[4096];
        size_t n = 0;

        if (e->d_name[0] == '.' || !pubkey_file_name(e->d_name, name, sizeof(name)))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (berth_pubkeys_load(AT_FDCWD, path, pks, &n, err) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (berth_policy_sqlite_add_operator(c->policy, name, pks[i], err) < 0)
                return berth_error_prefix(err, "%s", path);
        berth_info("operator %s trusted (%s)", name, path);
    }
    if (berth_policy_sqlite_operators(c->policy) == 0) {
        char keypath[4096], pubpath[4096];
        berth_keypair admin;
        bool created = false;

        snprintf(keypath, sizeof(keypath), "%s/admin.key", c->cfg->state_dir);
        snprintf(pubpath, sizeof(pubpath), "%s/admin.pub", dir);
        if (berth_keypair_load_or_generate(AT_FDCWD, keypath, &admin, &created, err) < 0 ||
            berth_pubkeys_save(AT_FDCWD, pubpath, (const uint8_t(*)[BERTH_PUBKEY_LEN])admin.pk, 1,
                               err) < 0 ||
            berth_policy_sqlite_add_operator(c->policy, "admin", admin.pk, err) < 0) {
            berth_keypair_wipe(&admin);
            return -1;
        }
        berth_keypair_wipe(&admin);
        berth_info("no operator keys in %s: operator admin trusted, its key is %s", dir, keypath);
    }
    return 0;
}

/* The policy changed a node's row from inside the auth layer (the loop
 * runs: the fleet exists). */
static void policy_changed(void *data, const char *name)
{
    controller *c = data;
    _cleanup_error_ berth_error *err = NULL;

    /* a follower's copy has it; its fleet is made when it leads */
    if (c->fleet && fleet_node_reload(c->fleet, name, &err) < 0)
        berth_log_error(BERTH_LOG_ERROR, err, "reload node %s", name);
}

/* ---- channels ---- */

/* What agents are told to connect to: the bind address, with a wildcard
 * host replaced by the advertised one. */
static void advertise(controller *c, const char *bind, char *out, size_t size)
{
    const char *host = strstr(bind, "://"), *port;

    if (strncmp(bind, "tcp://", 6) != 0 || !host || !(port = strrchr(bind, ':')) ||
        port < host + 3) {
        snprintf(out, size, "%s", bind);
        return;
    }
    host += 3;
    if (strncmp(host, "0.0.0.0:", 8) == 0 || strncmp(host, "*:", 2) == 0)
        snprintf(out, size, "tcp://%s%s", c->cfg->advertise_host, port);
    else
        snprintf(out, size, "%s", bind);
}

/* A follower answers who leads, and nothing else: its copy of the store
 * is warm but only the leader writes (store.h). */
static const char *gate(void *data, const char *method)
{
    controller *c = data;
    static char why[512];
    berth_store_member m[1];

    if (c->fleet || strcmp(method, "berth.v1.Controller/ListControllers") == 0 ||
        strcmp(method, "berth.v1.Controller/Version") == 0)
        return NULL;
    if (berth_store_members(c->store, m, 1) == 0 || m[0].self)
        snprintf(why, sizeof(why), "controller %s is taking over: try again shortly",
                 c->cfg->member);
    else
        snprintf(why, sizeof(why), "controller %s does not lead: the leader is %s at %s",
                 c->cfg->member, m[0].name, m[0].rpc);
    return why;
}

static int bind_channels(controller *c, berth_error **err)
{
    berth_rpc_server_config sc = {
        .loop = c->loop, .auth = c->auth, .metrics = c->rpc_metrics, .gate = gate, .gate_data = c
    };

    if (berth_rpc_server_new(&sc, &c->srv, err) < 0)
        return -1;
    /* join commands name the address nodes dial: the first tcp one */
    {
        const char *rpc = c->cfg->rpc[0];

        for (int i = 0; i < c->cfg->n_rpc; i++)
            if (strncmp(c->cfg->rpc[i], "tcp://", 6) == 0) {
                rpc = c->cfg->rpc[i];
                break;
            }
        advertise(c, rpc, c->adv_rpc, sizeof(c->adv_rpc));
    }
    advertise(c, c->cfg->events, c->adv_events, sizeof(c->adv_events));
    advertise(c, c->cfg->stream, c->adv_stream, sizeof(c->adv_stream));
    advertise(c, c->cfg->survey, c->adv_survey, sizeof(c->adv_survey));
    c->relay = ctl_relay_new(c->loop, c->auth, c->rpc_metrics);
    c->service.fleet = c->fleet;
    c->service.events = c->adv_events;
    c->service.cluster_cidr = c->cfg->cluster_cidr;
    c->service.stream = c->adv_stream;
    c->service.survey = c->adv_survey;
    c->service.rpc = c->adv_rpc;
    c->service.pk = c->key.pk;
    c->service.relay = c->relay;
    {
        /* an operator's forwarded connections leave others room */
        berth_duplex_server_config dc = { .loop = c->loop, .max_per_peer = 32 };

        c->dx = berth_duplex_server_new(&dc);
        c->service.dx = c->dx;
    }
    ctl_service_init(&c->service);
    if (berth_rpc_server_add_service(c->srv, &c->service.svc.base, err) < 0)
        return -1;
    c->service.store = c->store;
    c->service.member = c->cfg->member;
    c->service.auth = c->auth;
    for (int i = 0; i < c->cfg->n_rpc; i++)
        if (berth_rpc_server_bind(c->srv, c->cfg->rpc[i], err) < 0)
            return berth_error_prefix(err, "rpc");
    return 0;
}

/* The channels only the leader's fleet uses. */
static int bind_fleet_channels(controller *c, berth_error **err)
{
    if (berth_events_pub_new(c->loop, c->auth, &c->pub, err) < 0 ||
        berth_events_pub_bind(c->pub, c->cfg->events, err) < 0)
        return berth_error_prefix(err, "events");
    if (berth_stream_pull_new(c->loop, c->auth, &c->pull, err) < 0 ||
        berth_stream_pull_bind(c->pull, c->cfg->stream, err) < 0 ||
        ctl_node_stream_init(&c->service, c->pull, err) < 0)
        return berth_error_prefix(err, "stream");
    if (berth_surveyor_new(c->loop, c->auth, &c->surveyor, err) < 0 ||
        berth_surveyor_bind(c->surveyor, c->cfg->survey, err) < 0)
        return berth_error_prefix(err, "survey");
    c->service.surveyor = c->surveyor;
    return 0;
}

/* ---- /metrics ---- */

static void collect_metrics(berth_prom *w, void *data)
{
    controller *c = data;

    berth_prom_process(w, "berth-controller", c->start_unix_ns);
    if (c->fleet)
        fleet_write_metrics(c->fleet, w);
    berth_prom_histogram_family(w, "berth_controller_store_commit_duration_seconds",
                                "How long the store's transactions took to commit (their fsync), "
                                "in seconds.",
                                berth_store_commit_seconds(c->store));
    berth_rpc_metrics_write(w, c->rpc_metrics, c->auth);
    berth_duplex_server_write_metrics(w, c->dx);
}

/* The endpoint, when metrics_address names one. A taken port costs
 * /metrics, not the fleet: the controller runs on without it. */
static void metrics_start(controller *c)
{
    berth_metrics_http_config hc = {
        .loop = c->loop, .address = c->cfg->metrics_address, .collect = collect_metrics, .data = c
    };
    berth_error *err = NULL;

    if (!c->cfg->metrics_address)
        return;
    if (berth_metrics_http_start(&hc, &c->metrics, &err) < 0) {
        berth_log_error(BERTH_LOG_ERROR, err, "running without /metrics");
        berth_error_free(&err);
        return;
    }
    berth_info("metrics: serving /metrics on %s (port %u)", c->cfg->metrics_address,
               (unsigned)berth_metrics_http_port(c->metrics));
}

/* The fleet from the store, its channels, placement finished (a crash or
 * the last leader may have left it unfinished): at start with SQLite, at
 * the barrier with etcd. */
static int lead(controller *c, berth_error **err)
{
    int64_t t0 = berth_now_mono_ns();

    c->fleet = fleet_new(&c->fleet_cfg, &c->fleet_fx);
    c->service.fleet = c->fleet;
    if (fleet_load(c->fleet, err) < 0 || bind_fleet_channels(c, err) < 0 ||
        fleet_reconcile(c->fleet, err) < 0)
        return -1;
    if (berth_store_role_of(c->store) == BERTH_STORE_LEADER)
        berth_info("leading the fleet as %s (loaded and placed in %.1f ms)", c->cfg->member,
                   (double)(berth_now_mono_ns() - t0) / 1e6);
    return 0;
}

static void give_up(controller *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void give_up(controller *c, const char *fmt, ...)
{
    va_list ap;

    if (c->gone)
        return;
    va_start(ap, fmt);
    if (vasprintf(&c->gone, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    berth_loop_stop(c->loop);
}

static void on_store(berth_loop_io *io, uint32_t events)
{
    controller *c = berth_container_of(io, controller, store_io);
    _cleanup_error_ berth_error *err = NULL;

    (void)events;
    if (c->gone)
        return;
    if (berth_store_sync(c->store, &err) < 0) {
        berth_log_error(BERTH_LOG_WARN, err, "etcd");
        return;
    }
    switch (berth_store_role_of(c->store)) {
    case BERTH_STORE_LOST:
        give_up(c,
                "controller %s no longer leads (its lease lapsed or its writes were fenced): "
                "stopping so that it starts again as a follower",
                c->cfg->member);
        break;
    case BERTH_STORE_LEADER:
        if (!c->fleet && lead(c, &err) < 0)
            give_up(c, "taking over: %s", err->msg);
        break;
    default:
        break;
    }
}

#define STORE_CHECK_NS (200 * BERTH_NSEC_PER_MSEC)

static void on_store_timer(berth_loop_timer *t)
{
    controller *c = berth_container_of(t, controller, store_timer);

    on_store(&c->store_io, 0);
    if (!c->gone)
        berth_loop_timer_arm(c->loop, t, berth_now_mono_ns() + STORE_CHECK_NS);
}

/* etcd: follow the store and campaign under the advertised rpc address. */
static int campaign(controller *c, berth_error **err)
{
    if (berth_loop_add(c->loop, &c->store_io, berth_store_fd(c->store), EPOLLIN, on_store, err) < 0)
        return -1;
    c->store_io_added = true;
    berth_loop_timer_arm(c->loop, &c->store_timer, berth_now_mono_ns() + STORE_CHECK_NS);
    if (berth_store_campaign(c->store, c->cfg->member, c->adv_rpc,
                             c->cfg->leader_lease_ns / BERTH_NSEC_PER_SEC, err) < 0)
        return -1;
    /* a lone member leads at once: no need to wait for the loop */
    on_store(&c->store_io, EPOLLIN);
    return 0;
}

/* One controller per state directory with SQLite (and no restore under a
 * running one): an exclusive lock held while it runs. */
static int lock_state_dir(const ctl_config *cfg, int *ret_fd, berth_error **err)
{
    _cleanup_free_ char *path = berth_xasprintf("%s/controller.lock", cfg->state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return berth_error_errno(err, "open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;

        close(fd);
        if (e == EWOULDBLOCK)
            return berth_error_set(err, EBUSY, "another berth-controller uses %s (%s is locked)",
                                   cfg->state_dir, path);
        errno = e;
        return berth_error_errno(err, "lock %s", path);
    }
    *ret_fd = fd;
    return 0;
}

static int store_open(const ctl_config *cfg, berth_store **ret, berth_error **err)
{
    char path[4096];

    if (strcmp(cfg->store, "etcd") == 0) {
        berth_store_etcd_config ec = { .prefix = cfg->etcd_prefix };

        if (cfg->n_etcd == 0)
            return berth_error_set(err, EINVAL, "store etcd: no etcd_endpoints given");
        for (int i = 0; i < cfg->n_etcd; i++)
            ec.etcd.endpoints[i] = cfg->etcd_endpoints[i];
        ec.etcd.n_endpoints = (size_t)cfg->n_etcd;
        ec.etcd.ca_file = cfg->etcd_ca_file;
        ec.etcd.cert_file = cfg->etcd_cert_file;
        ec.etcd.key_file = cfg->etcd_key_file;
        ec.etcd.timeout_ms = 2000;
        if (berth_store_open_etcd(&ec, ret, err) < 0)
            return -1;
        berth_info("store: etcd %s (prefix %s), member %s", cfg->etcd_endpoints[0],
                   cfg->etcd_prefix, cfg->member);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/berth.db", cfg->state_dir);
    return berth_store_open(path, ret, err);
}

static int open_store(controller *c, berth_error **err)
{
    if (strcmp(c->cfg->store, "etcd") != 0 && lock_state_dir(c->cfg, &c->lock_fd, err) < 0)
        return -1;
    return store_open(c->cfg, &c->store, err);
}

int berth_controller_backup(const ctl_config *cfg, const char *path, berth_error **err)
{
    berth_store *st = NULL;
    size_t rows = 0;
    int r;

    if (store_open(cfg, &st, err) < 0)
        return -1;
    r = berth_store_backup(st, path, &rows, err);
    if (r == 0)
        printf("backed up %zu rows of %s to %s\n", rows,
               berth_store_role_of(st) == BERTH_STORE_SOLE ? cfg->state_dir : "etcd", path);
    berth_store_close(st);
    return r;
}

/* etcd: lead alone, or refuse (a restore under running controllers would
 * pull the fleet from under them). */
static int lead_alone(const ctl_config *cfg, berth_store *st, berth_error **err)
{
    berth_store_member m[8];
    size_t n = berth_store_members(st, m, 8);
    int64_t end;

    if (n > 0) {
        char names[512] = "";

        for (size_t i = 0; i < n; i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%.40s", i ? ", " : "",
                     m[i].name);
        return berth_error_set(err, EBUSY,
                               "controllers campaign on this etcd (%s): stop them before a "
                               "restore",
                               names);
    }
    if (berth_store_campaign(st, "restore", "", cfg->leader_lease_ns / BERTH_NSEC_PER_SEC, err) < 0)
        return -1;
    end = berth_now_mono_ns() + cfg->leader_lease_ns + 10 * BERTH_NSEC_PER_SEC;
    while (berth_store_role_of(st) != BERTH_STORE_LEADER) {
        struct pollfd p = { .fd = berth_store_fd(st), .events = POLLIN };

        if (berth_now_mono_ns() > end || berth_store_role_of(st) == BERTH_STORE_LOST)
            return berth_error_set(err, ETIMEDOUT, "restore: could not lead on etcd");
        poll(&p, 1, 100);
        if (berth_store_sync(st, err) < 0)
            return -1;
    }
    return 0;
}

int berth_controller_restore(const ctl_config *cfg, const char *path, bool force, berth_error **err)
{
    berth_store *st = NULL;
    size_t rows = 0;
    int lock = -1, r = -1;

    if (strcmp(cfg->store, "etcd") != 0 &&
        (berth_mkdir_p(cfg->state_dir, 0700, err) < 0 || lock_state_dir(cfg, &lock, err) < 0))
        return -1;
    if (store_open(cfg, &st, err) < 0)
        goto out;
    if (berth_store_role_of(st) != BERTH_STORE_SOLE && lead_alone(cfg, st, err) < 0)
        goto out;
    if ((r = berth_store_restore(st, path, force, &rows, err)) == 0)
        printf("restored %zu rows from %s into %s\n", rows, path,
               berth_store_role_of(st) == BERTH_STORE_SOLE ? cfg->state_dir : "etcd");
out:
    berth_store_close(st);
    if (lock >= 0)
        close(lock);
    return r;
}

int berth_controller_check(const controller *c, berth_error **err)
{
    if (c->gone)
        return berth_error_set(err, ESTALE, "%s", c->gone);
    return 0;
}

int berth_controller_new(ctl_config *cfg, berth_loop *loop, controller **ret_controller,
                         berth_error **err)
{
    controller *c = berth_xcalloc(1, sizeof(*c));
    berth_auth_config ac = { 0 };
    fleet_config fc = { 0 };
    char path[4096];
    uint8_t pk[1][BERTH_PUBKEY_LEN];

    c->cfg = cfg;
    c->loop = loop;
    berth_loop_timer_init(&c->store_timer, on_store_timer);
    c->lock_fd = -1;
    c->rpc_metrics = berth_rpc_metrics_new();
    c->start_unix_ns = berth_now_real_ns();
    {
        uint32_t net;
        int prefix;

        if (berth_cidr_parse(cfg->cluster_cidr, false, &net, &prefix, err) < 0)
            goto fail;
        if ((int)cfg->node_cidr_mask_size < prefix) {
            berth_error_set(err, EINVAL,
                            "node_cidr_mask_size %u is wider than cluster_cidr %s: a node's "
                            "range must fit in it",
                            cfg->node_cidr_mask_size, cfg->cluster_cidr);
            goto fail;
        }
    }
    if (!cfg->operators_dir)
        cfg->operators_dir = berth_xasprintf("%s/operators", cfg->state_dir);
    if (berth_mkdir_p(cfg->state_dir, 0700, err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/controller.key", cfg->state_dir);
    if (berth_keypair_load_or_generate(AT_FDCWD, path, &c->key, NULL, err) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/controller.pub", cfg->state_dir);
    memcpy(pk[0], c->key.pk, BERTH_PUBKEY_LEN);
    if (berth_pubkeys_save(AT_FDCWD, path, (const uint8_t(*)[BERTH_PUBKEY_LEN])pk, 1, err) < 0)
        goto fail;
    if (berth_principal_init(&c->self, BERTH_ROLE_CONTROLLER, cfg->name, err) < 0)
        goto fail;
    if (open_store(c, err) < 0)
        goto fail;
    c->policy = berth_policy_sqlite_new(c->store, &c->key, policy_changed, c);
    if (load_operators(c, err) < 0)
        goto fail;
    ac.self = c->self;
    ac.key = c->key;
    ac.policy = &berth_policy_sqlite_ops;
    ac.policy_data = c->policy;
    if (berth_auth_new(&ac, &c->auth, err) < 0)
        goto fail;
    fc.loop = loop;
    fc.store = c->store;
    fc.policy = c->policy;
    fc.heartbeat_min_ns = cfg->heartbeat_min_ns;
    fc.heartbeat_max_rate = cfg->heartbeat_max_rate;
    fc.heartbeat_misses = cfg->heartbeat_misses;
    fc.down_grace_ns = cfg->down_grace_ns;
    fc.cluster_cidr = cfg->cluster_cidr;
    fc.node_prefix = (int)cfg->node_cidr_mask_size;
    {
        static const char ctx[] = "berth-secret-store-v1";

        /* Secrets' values in the store: sealed under a key only this
         * controller's secret key gives (its first 32 bytes: the seed) */
        crypto_generichash(fc.secrets_key, sizeof(fc.secrets_key), (const unsigned char *)ctx,
                           sizeof(ctx) - 1, c->key.sk, 32);
    }
    c->fleet_cfg = fc;
    sodium_memzero(fc.secrets_key, sizeof(fc.secrets_key));
    c->fleet_fx = (fleet_effects){ .wake = wake_nodes, .data = c };
    if (bind_channels(c, err) < 0)
        goto fail;
    if (berth_store_role_of(c->store) == BERTH_STORE_SOLE ? lead(c, err) < 0 : campaign(c, err) < 0)
        goto fail;
    berth_loop_timer_init(&c->drops_timer, on_drops_timer);
    berth_loop_timer_arm(loop, &c->drops_timer, berth_now_mono_ns() + DROPS_LOG_INTERVAL_NS);
    metrics_start(c);
    *ret_controller = c;
    return 0;
fail:
    berth_controller_free(c);
    return -1;
}

void berth_controller_status(const controller *c, char *buf, size_t size)
{
    size_t nodes, ready, workloads;

    if (!c->fleet) {
        snprintf(buf, size, "%s on %s: %s", c->cfg->member, c->cfg->rpc[0],
                 berth_store_role_name(berth_store_role_of(c->store)));
        return;
    }
    fleet_summary(c->fleet, &nodes, &ready, &workloads);
    snprintf(buf, size, "serving on %s: %zu node(s), %zu Ready; %zu workload(s)", c->cfg->rpc[0],
             nodes, ready, workloads);
}

void berth_controller_free(controller *c)
{
    if (!c)
        return;
    /* Relay clients first: their pending calls complete (CANCELLED) into
     * calls of the server, which must still exist. */
    if (c->loop)
        berth_loop_timer_cancel(c->loop, &c->drops_timer);
    berth_metrics_http_stop(c->metrics);
    if (c->store_io_added) {
        berth_loop_remove(c->loop, &c->store_io);
        berth_loop_timer_cancel(c->loop, &c->store_timer);
    }
    /* exec streams before the relay clients they call through */
    berth_duplex_server_free(c->dx);
    ctl_relay_free(c->relay);
    berth_surveyor_free(c->surveyor);
    berth_stream_pull_free(c->pull);
    berth_events_pub_free(c->pub);
    berth_rpc_server_free(c->srv);
    fleet_free(c->fleet);
    berth_auth_free(c->auth);
    berth_policy_sqlite_free(c->policy);
    berth_store_close(c->store);
    berth_keypair_wipe(&c->key);
    sodium_memzero(c->fleet_cfg.secrets_key, sizeof(c->fleet_cfg.secrets_key));
    free(c->gone);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    /* last: the server and the relay count into it to their end */
    berth_rpc_metrics_free(c->rpc_metrics);
    free(c);
}
