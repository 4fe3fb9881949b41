/* berth-controller: flags and config, then the controller on one loop until
 * SIGTERM or SIGINT. */
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "systemd/notify.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/version.h"
#include "controller-config.h"
#include "controller.h"

#define DEFAULT_CONFIG "/etc/berth/controller.yaml"

static void usage(FILE *out)
{
    fputs(
        "Usage: berth-controller [OPTIONS]\n"
        "       berth-controller [OPTIONS] backup FILE\n"
        "       berth-controller [OPTIONS] restore [--force] FILE\n"
        "\n"
        "Holds the fleet's desired state (SQLite in the state directory, or etcd shared\n"
        "by several controllers, one of them leading) and places workloads on the nodes\n"
        "whose agents register with it.\n"
        "\n"
        "Options (each may also be set in the config file, under the same name with\n"
        "'_' for '-'):\n"
        "  -c, --config FILE               settings file (default " DEFAULT_CONFIG ", if present)\n"
        "  -d, --state-dir DIR             berth.db and keys (default /var/lib/berth/controller)\n"
        "      --name NAME                 the controller's principal name (default controller)\n"
        "      --rpc ADDR                  bind the rpc channel (repeatable; default\n"
        "                                  tcp://0.0.0.0:7100)\n"
        "      --events ADDR               bind the events channel (default tcp://0.0.0.0:7101)\n"
        "      --stream ADDR               bind the stream channel (default tcp://0.0.0.0:7102)\n"
        "      --survey ADDR               bind the survey channel (default tcp://0.0.0.0:7103)\n"
        "      --advertise-host HOST       host agents connect to when a channel binds\n"
        "                                  0.0.0.0 (default: this machine's host name)\n"
        "      --operators-dir DIR         trusted operator keys, NAME.pub each (default\n"
        "                                  STATE_DIR/operators)\n"
        "      --heartbeat-min-interval D  shortest heartbeat interval (default 1s)\n"
        "      --heartbeat-max-rate N      most heartbeats per second fleet-wide (default 50)\n"
        "      --heartbeat-misses N        missed intervals before a node is Unknown\n"
        "                                  (default 3)\n"
        "      --down-grace D              from Unknown to Down, when its replicas move\n"
        "                                  (default 30s)\n"
        "      --cluster-cidr CIDR         pod addresses; each node gets a range of it\n"
        "                                  (default 10.244.0.0/16)\n"
        "      --node-cidr-mask-size N     the prefix of each node's range (default 24)\n"
        "      --metrics-address ADDR      serve /metrics there (default 127.0.0.1:7104; off)\n"
        "      --store KIND                sqlite (default) or etcd\n"
        "      --etcd-endpoints URLS       etcd's client URLs, comma-separated\n"
        "                                  (http://10.0.0.5:2379,...)\n"
        "      --etcd-prefix PREFIX        the fleet's keys in etcd (default /berth/)\n"
        "      --etcd-ca-file FILE         the CA of etcd's certificates (https)\n"
        "      --etcd-cert-file FILE       a client certificate for etcd\n"
        "      --etcd-key-file FILE        its key\n"
        "      --member NAME               this controller among those on one etcd\n"
        "                                  (default: the host name)\n"
        "      --leader-lease D            how long a silent leader leads on (default 4s)\n"
        "      --log-level LEVEL           debug, info, warn, error (default info)\n"
        "      --log-format FORMAT         text or json (default text)\n"
        "      --force                     restore: replace the fleet the store holds\n"
        "  -h, --help                      this text\n"
        "\n"
        "backup FILE writes the fleet's state (SQLite or etcd, as the options say) to FILE,\n"
        "an SQLite database, while controllers serve. restore FILE puts a backup into the\n"
        "store, with no controller running on it: a backup of one controller's SQLite\n"
        "restored with --store etcd moves the fleet to etcd.\n",
        out);
}

typedef struct runtime {
    berth_loop *loop;
    berth_loop_signal term, intr;
    controller *ctl;
    berth_notify *notify; /* systemd's notifications */
} runtime;

static void on_signal(berth_loop_signal *s, int signo)
{
    (void)s;
    berth_info("signal %d: stopping", signo);
}

static void notify_status(char *buf, size_t size, void *data)
{
    runtime *rt = data;

    if (rt->ctl)
        berth_controller_status(rt->ctl, buf, size);
}

static void stop_term(berth_loop_signal *s, int signo)
{
    runtime *rt = berth_container_of(s, runtime, term);

    on_signal(s, signo);
    berth_notify_stopping(rt->notify, "stopping");
    berth_loop_stop(rt->loop);
}

static void stop_intr(berth_loop_signal *s, int signo)
{
    runtime *rt = berth_container_of(s, runtime, intr);

    on_signal(s, signo);
    berth_notify_stopping(rt->notify, "stopping");
    berth_loop_stop(rt->loop);
}

int main(int argc, char **argv)
{
    enum {
        O_NAME = 256,
        O_RPC,
        O_EVENTS,
        O_STREAM,
        O_SURVEY,
        O_ADV,
        O_OPS,
        O_HB_MIN,
        O_HB_RATE,
        O_HB_MISSES,
        O_GRACE,
        O_CLUSTER_CIDR,
        O_NODE_MASK,
        O_METRICS_ADDRESS,
        O_STORE,
        O_ETCD,
        O_ETCD_PREFIX,
        O_ETCD_CA,
        O_ETCD_CERT,
        O_ETCD_KEY,
        O_MEMBER,
        O_LEASE,
        O_LOG_LEVEL,
        O_LOG_FORMAT,
        O_FORCE
    };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "state-dir", required_argument, NULL, 'd' },
        { "name", required_argument, NULL, O_NAME },
        { "rpc", required_argument, NULL, O_RPC },
        { "events", required_argument, NULL, O_EVENTS },
        { "stream", required_argument, NULL, O_STREAM },
        { "survey", required_argument, NULL, O_SURVEY },
        { "advertise-host", required_argument, NULL, O_ADV },
        { "operators-dir", required_argument, NULL, O_OPS },
        { "heartbeat-min-interval", required_argument, NULL, O_HB_MIN },
        { "heartbeat-max-rate", required_argument, NULL, O_HB_RATE },
        { "heartbeat-misses", required_argument, NULL, O_HB_MISSES },
        { "down-grace", required_argument, NULL, O_GRACE },
        { "cluster-cidr", required_argument, NULL, O_CLUSTER_CIDR },
        { "node-cidr-mask-size", required_argument, NULL, O_NODE_MASK },
        { "metrics-address", required_argument, NULL, O_METRICS_ADDRESS },
        { "store", required_argument, NULL, O_STORE },
        { "etcd-endpoints", required_argument, NULL, O_ETCD },
        { "etcd-prefix", required_argument, NULL, O_ETCD_PREFIX },
        { "etcd-ca-file", required_argument, NULL, O_ETCD_CA },
        { "etcd-cert-file", required_argument, NULL, O_ETCD_CERT },
        { "etcd-key-file", required_argument, NULL, O_ETCD_KEY },
        { "member", required_argument, NULL, O_MEMBER },
        { "leader-lease", required_argument, NULL, O_LEASE },
        { "log-level", required_argument, NULL, O_LOG_LEVEL },
        { "log-format", required_argument, NULL, O_LOG_FORMAT },
        { "force", no_argument, NULL, O_FORCE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    ctl_config cfg;
    bool force = false;
    runtime rt = { 0 };
    controller *ctl = NULL;
    berth_error *err = NULL;
    const char *config = NULL;
    int o, status = 1;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berth-controller %s\n", berth_version());
        return 0;
    }
    berth_log_setup("berth-controller", BERTH_LOG_INFO, BERTH_LOG_TEXT, STDERR_FILENO);
    /* it holds Secrets' values and its keys: no core dump of it */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* the config file first, so flags override it whatever their order */
    opterr = 0;
    while ((o = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1)
        if (o == 'c')
            config = optarg;
    if (ctl_config_defaults(&cfg, &err) < 0 ||
        ctl_config_load(&cfg, config ? config : DEFAULT_CONFIG, config == NULL, &err) < 0)
        goto fail;
    opterr = 1;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
        const char *key = NULL;
        char what[64];

        switch (o) {
        case 'c':
            continue;
        case 'h':
            usage(stdout);
            ctl_config_free(&cfg);
            return 0;
        case 'd':
            key = "state_dir";
            break;
        case O_FORCE:
            force = true;
            continue;
        case '?':
            usage(stderr);
            ctl_config_free(&cfg);
            return 2;
        default:
            for (const struct option *op = opts; op->name; op++)
                if (op->val == o)
                    key = op->name;
            break;
        }
        if (!key)
            continue;
        /* the flag's name with '_' is the setting's */
        snprintf(what, sizeof(what), "%s", key);
        for (char *p = what; *p; p++)
            if (*p == '-')
                *p = '_';
        {
            char flag[80];

            snprintf(flag, sizeof(flag), "--%s", o == 'd' ? "state-dir" : key);
            if (ctl_config_set(&cfg, what, optarg, &err) < 0) {
                berth_error_prefix(&err, "%s", flag);
                goto fail;
            }
        }
    }
    if (optind < argc &&
        (strcmp(argv[optind], "backup") == 0 || strcmp(argv[optind], "restore") == 0)) {
        bool backup = strcmp(argv[optind], "backup") == 0;

        if (optind + 2 != argc) {
            berth_err("%s FILE: one file (see --help)", argv[optind]);
            ctl_config_free(&cfg);
            return 2;
        }
        berth_log_setup("berth-controller", cfg.log_level, cfg.log_format, STDERR_FILENO);
        if ((backup ? berth_controller_backup(&cfg, argv[optind + 1], &err)
                    : berth_controller_restore(&cfg, argv[optind + 1], force, &err)) < 0)
            goto fail;
        status = 0;
        goto out;
    }
    if (optind < argc) {
        berth_err("unexpected argument '%s' (see --help)", argv[optind]);
        ctl_config_free(&cfg);
        return 2;
    }
    berth_log_setup("berth-controller", cfg.log_level, cfg.log_format, STDERR_FILENO);
    /* a peer that goes away must not kill us with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    if (berth_loop_new(&rt.loop, &err) < 0 ||
        berth_loop_add_signal(rt.loop, &rt.term, SIGTERM, stop_term, &err) < 0 ||
        berth_loop_add_signal(rt.loop, &rt.intr, SIGINT, stop_intr, &err) < 0 ||
        berth_notify_open(rt.loop, notify_status, &rt, &rt.notify, &err) < 0 ||
        berth_controller_new(&cfg, rt.loop, &ctl, &err) < 0)
        goto fail;
    rt.ctl = ctl;
    berth_info("serving on %s (state in %s)", cfg.rpc[0], cfg.state_dir);
    /* the store is loaded and every channel bound */
    berth_notify_ready(rt.notify);
    if (berth_loop_run(rt.loop, &err) < 0 || berth_controller_check(ctl, &err) < 0)
        goto fail;
    status = 0;
    goto out;
fail:
    /* A bad config file's report has a line per mistake: a record each. */
    for (const char *line = err ? err->msg : "failed", *nl; line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        berth_err("%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
    }
    berth_error_free(&err);
out:
    berth_notify_close(rt.notify);
    berth_controller_free(ctl);
    berth_loop_free(rt.loop);
    ctl_config_free(&cfg);
    return status;
}
