/* berthctl: the operator's command line. One file per subcommand; each
 * only parses its flags, calls lib/ (or the controller), and prints. What
 * they share: the connection to the controller (conn.c) and the output
 * helpers (output.c). */
#ifndef BERTHCTL_H
#define BERTHCTL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "rpc/client.h"

/* Exit codes shared by the subcommands (docker's conventions for run). */
#define BERTHCTL_EXIT_USAGE    2
#define BERTHCTL_EXIT_RUNTIME  125 /* berth itself failed */
#define BERTHCTL_EXIT_NOEXEC   126 /* the command cannot be executed */
#define BERTHCTL_EXIT_NOTFOUND 127 /* the command was not found */

/* How to reach the controller: flags, then BERTH_* environment variables,
 * then the config file (~/.config/berth/config.yaml or BERTH_CONFIG), then
 * the defaults of a controller on this machine. */
typedef struct berthctl_ctx {
    const char *controller;      /* --controller, BERTH_CONTROLLER, "controller:" */
    const char *controller_key;  /* --controller-key, BERTH_CONTROLLER_KEY: its public key file */
    const char *controller_name; /* --controller-name, BERTH_CONTROLLER_NAME */
    const char *key;             /* --key, BERTH_KEY: the operator's secret key file */
    const char *operator_name;   /* --operator, BERTH_OPERATOR */
    const char *config;          /* --config, BERTH_CONFIG */
    const char *namespace_;      /* -n, --namespace, BERTH_NAMESPACE, "namespace:" */
    bool all_namespaces;         /* -A, --all-namespaces */
    uint32_t timeout_ms;         /* --timeout, per call */
    unsigned max_inflight;       /* calls on the wire at once (0: the rpc client's 8) */
    char *owned[8];              /* strings read from the config file */
    /* made by berthctl_connect (the controller) or berthctl_connect_server
     * (an agent): the service called, who serves it ("the controller at
     * ADDRESS"), and what to say when it is silent */
    berth_loop *loop;
    berth_rpc_client *client;
    void *auth, *policy;
    const ProtobufCServiceDescriptor *service;
    char peer[300], silent[512];
} berthctl_ctx;

typedef struct berthctl_command {
    const char *name;
    const char *summary;
    int (*run)(berthctl_ctx *ctx, int argc, char **argv);
} berthctl_command;

int berthctl_cmd_run(int argc, char **argv);
int berthctl_cmd_apply(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_delete(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_create(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_get(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_describe(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_logs(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_exec(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_attach(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_port_forward(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_stop(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_health(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_top(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_node(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_keygen(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_events(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_join_token(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_image(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_agent(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_rollout(berthctl_ctx *ctx, int argc, char **argv);
/* argv[0] "cordon" or "uncordon": berthctl node's verb. */
int berthctl_cmd_cordon(berthctl_ctx *ctx, int argc, char **argv);
/* berthctl version [--client]: kubectl's Client and Server Version. */
int berthctl_cmd_version(berthctl_ctx *ctx, int argc, char **argv);
int berthctl_cmd_controller(berthctl_ctx *ctx, int argc, char **argv);
/* berthctl create secret|configmap (argv[0] the kind's word). */
int berthctl_create_object(berthctl_ctx *ctx, int argc, char **argv);
/* berthctl drain and node drain (argv[0] "drain"). */
int berthctl_drain(berthctl_ctx *ctx, int argc, char **argv);

/* Print "berthctl: <msg>" to stderr. */
void berthctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options every remote command takes, for --help texts. */
extern const char berthctl_connection_help[];

/* ---- conn.c ---- */

/* Take the connection flags out of argv (anywhere before "--"), leaving
 * the rest in order; BERTHCTL_EXIT_USAGE with a message on a bad one. */
int berthctl_take_global_flags(berthctl_ctx *ctx, int *argc, char **argv);
/* Fill what flags left unset from the environment and the config file. */
int berthctl_resolve(berthctl_ctx *ctx, berth_error **err);
/* Knock at an rpc address: an error when nothing listens there (refused,
 * no socket file); 0 otherwise, or when it cannot tell. */
int berthctl_probe(const char *address, berth_error **err);
/* Make ctx's client for service at address, served by server, pinning the
 * key(s) in the file server_key; the *_what texts name them in errors, peer
 * names the server in failures ("the agent n1 at ipc:///run/..."), and
 * silent is what a call that got no answer says. (No traffic but the
 * probe.) */
int berthctl_connect_server(berthctl_ctx *ctx, const ProtobufCServiceDescriptor *service,
                            const berth_principal *server, const char *server_key,
                            const char *server_key_what, const char *address,
                            const char *address_what, const char *peer, const char *silent,
                            berth_error **err);
/* Resolve, load the keys and make the client for the controller. */
int berthctl_connect(berthctl_ctx *ctx, berth_error **err);
void berthctl_disconnect(berthctl_ctx *ctx);

/* Call the method of the service ctx is connected to (the Controller, or an
 * agent's Agent service) and wait. 0 with *ret_response (free with
 * berth_pb_free) when OK; otherwise the status is printed to stderr
 * ("berthctl: workload web not found") and the exit code to use returned
 * (1). */
int berthctl_call(berthctl_ctx *ctx, const char *method, const ProtobufCMessage *request,
                  ProtobufCMessage **ret_response);
/* berthctl_call, but an answer NOT_FOUND returns 2 and prints nothing. */
int berthctl_call_quiet(berthctl_ctx *ctx, const char *method, const ProtobufCMessage *request,
                        ProtobufCMessage **ret_response);
/* Connect (resolving first) and report a failure as above. */
int berthctl_connect_or_exit(berthctl_ctx *ctx);

/* The namespace objects are named in: -n's (after berthctl_resolve), or
 * "default". */
const char *berthctl_namespace(const berthctl_ctx *ctx);
/* What a listing asks for: "" (every namespace) with -A, else
 * berthctl_namespace. */
const char *berthctl_list_namespace(const berthctl_ctx *ctx);
/* A container id as the controller knows it: name as it is when it is a
 * whole id already (it has "<ns>__") or in "default", else
 * "<ns>__<name>". */
void berthctl_container_id(const berthctl_ctx *ctx, const char *name, char *ret, size_t size);

/* ---- output.c ---- */

typedef enum berthctl_format {
    BERTHCTL_TABLE,
    BERTHCTL_WIDE,
    BERTHCTL_JSON,
    BERTHCTL_YAML,
} berthctl_format;

/* "wide", "json", "yaml" (or "" / "table"); -1 otherwise. */
int berthctl_format_parse(const char *s, berthctl_format *ret);

/* Colour on a terminal only (and never with NO_COLOR set). */
bool berthctl_colour(FILE *f);

/* An aligned table: cells are copied; a cell may carry an ANSI colour
 * code, used only when printing to a terminal. */
typedef struct berthctl_table berthctl_table;
berthctl_table *berthctl_table_new(size_t n_cols, const char *const *headers);
void berthctl_table_add(berthctl_table *t, const char *const *cells, const char *const *colours);
void berthctl_table_print(berthctl_table *t, FILE *out);
void berthctl_table_free(berthctl_table *t);

/* Any message as JSON (proto field names in lowerCamelCase, enums by name,
 * unset fields left out) or YAML (the same tree). */
void berthctl_print_json(const ProtobufCMessage *m, FILE *out);
void berthctl_print_yaml(const ProtobufCMessage *m, FILE *out);

/* "5s", "3m", "2h", "4d" since unix_ns; "-" for 0. */
char *berthctl_age(int64_t unix_ns, char *buf, size_t size);

/* Words for the tables: "Ready", "Ready,SchedulingDisabled", "Down" ...;
 * "Running", "Exited", "OOMKilled" ... */
const char *berthctl_node_status(const Node *node, char *buf, size_t size);
const char *berthctl_container_state(ContainerState state);
/* The colour a status word deserves on a terminal (NULL: none). */
const char *berthctl_status_colour(const char *word);

/* Print a container's log through the Logs of the service ctx is connected
 * to (the controller's relay or an agent's own), following it with follow.
 * Returns the exit code. */
int berthctl_logs_loop(berthctl_ctx *ctx, LogsRequest *req, bool follow, bool stamps);

/* The flags several commands share, parsed one way: --tail N (lines) and
 * --grace D (1ms..1h, in ms). 0, or BERTHCTL_EXIT_USAGE after saying why. */
int berthctl_parse_tail(const char *arg, uint32_t *ret_lines);
int berthctl_parse_grace(const char *arg, uint32_t *ret_ms);
/* The containers table of get containers (names: only these, n 0 = all;
 * all_ns: a NAMESPACE column first); how many rows it has. */
size_t berthctl_print_containers(const ListContainersResponse *r, char **names, int n, bool wide,
                                 bool all_ns);

/* Which of a pod's containers berthctl_find_container takes without -c:
 * its only one (else an error naming them), its first with kubectl exec's
 * note on stderr, or its first silently (port-forward: any will do). */
typedef enum berthctl_pick {
    BERTHCTL_PICK_ONLY,
    BERTHCTL_PICK_FIRST_SAY,
    BERTHCTL_PICK_FIRST,
} berthctl_pick;

/* The container POD-or-ID name means (cmd-logs.c): a pod's (its -c
 * container, or as pick says), or a container by its id when no pod has
 * that name. ret_node: the node given (may be "") in, the pod's node out.
 * 0, or -1 with the error printed. */
int berthctl_find_container(berthctl_ctx *ctx, const char *name, const char *container,
                            berthctl_pick pick, char *ret_id, size_t id_size, char *ret_node,
                            size_t node_size);

/* Bridge this terminal (or stdio) to an opened exec stream of the service
 * ctx is connected to (exec-stream.c): stdin when want_stdin, the local
 * terminal in raw mode with tty (window size changes sent), until the
 * command ends. Returns the exit code to exit with: the command's, or 1
 * when the stream failed, 128+N when signal N ended berthctl. attach:
 * the container's main process (no "command terminated" words). */
int berthctl_exec_stream(berthctl_ctx *ctx, const DuplexOpened *opened, bool want_stdin, bool tty,
                         bool attach);
/* exec's and agent exec's arguments (cmd-exec.c): [-i] [-t] [-c C]
 * [--node N] TARGET [--] COMMAND...; fills req (its command points into
 * argv) and *ret_target, *ret_container. 0; -1 for --help; -2 after saying
 * what is wrong. A -t without a terminal is dropped with kubectl's words. */
int berthctl_exec_parse(int argc, char **argv, ExecStart *req, const char **ret_target,
                        const char **ret_container, bool agent);

/* A Logs answer's lines as the container wrote them (stamps: each prefixed
 * with when it was logged); a rotation gap noted on stderr. */
void berthctl_print_log_lines(const LogsResponse *resp, bool stamps, FILE *out);

/* Read a whole file ("-": stdin) up to max bytes. */
int berthctl_read_input(const char *path, size_t max, char **ret_text, size_t *ret_len,
                        berth_error **err);

#endif
