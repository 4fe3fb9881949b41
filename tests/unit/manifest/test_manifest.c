/* Manifests: every kind and both API families map to the right Workload
 * and ContainerSpec fields; every rejection names file:line:column, the
 * field's path and the cause, exactly; a file with any error yields nothing;
 * hostile input is bounded. Plus replica names and specs (workload.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "manifest/manifest.h"
#include "pb/pb.h"
#include "spec/workload.h"
#include "spec/spec.h"

static berth_manifest *parse_ok(const char *yaml)
{
    berth_manifest *m = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_manifest_parse(yaml, strlen(yaml), "web.yaml", &m, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_ptr_nonnull(m);
    return m;
}

/* The error text of a manifest that must fail, and proof it returned
 * nothing. */
static char *parse_fail(const char *yaml)
{
    berth_manifest *m = (berth_manifest *)0x1;
    berth_error *err = NULL;
    char *msg;

    ck_assert_int_lt(berth_manifest_parse(yaml, strlen(yaml), "web.yaml", &m, &err), 0);
    ck_assert_ptr_eq(m, (berth_manifest *)0x1);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_ne(err->code, 0);
    msg = berth_error_steal_msg(&err);
    return msg;
}

static const char *label(ContainerSpec_LabelsEntry **l, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i]->key, key) == 0)
            return l[i]->value;
    return NULL;
}

/* ---- accepted ---- */

static const char berth_deployment[] =
    "apiVersion: berth/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: web\n"
    "  labels: {tier: front}\n"
    "spec:\n"
    "  replicas: 4\n"
    "  template:\n"
    "    metadata:\n"
    "      labels: {app: web}\n"
    "    spec:\n"
    "      nodeSelector: {zone: a}\n"
    "      terminationGracePeriodSeconds: 5\n"
    "      volumes:\n"
    "      - name: data\n"
    "        hostPath: {path: /srv/data, type: Directory}\n"
    "      - name: scratch\n"
    "        emptyDir: {sizeLimit: 64Mi}\n"
    "      containers:\n"
    "      - name: web\n"
    "        image: busybox\n"
    "        command: [httpd]\n"
    "        args: [\"-f\", \"-p\", \"8080\"]\n"
    "        env:\n"
    "        - {name: GREETING, value: hi}\n"
    "        - {name: EMPTY}\n"
    "        workingDir: /srv\n"
    "        stdin: true\n"
    "        stdinOnce: true\n"
    "        tty: true\n"
    "        resources:\n"
    "          requests: {cpu: 250m, memory: 32Mi}\n"
    "          limits: {cpu: 1, memory: 64Mi}\n"
    "        livenessProbe:\n"
    "          tcpSocket: {port: 8080}\n"
    "          periodSeconds: 5\n"
    "          failureThreshold: 2\n"
    "        volumeMounts:\n"
    "        - {name: data, mountPath: /data, readOnly: true}\n"
    "        - {name: scratch, mountPath: /tmp}\n"
    "        securityContext:\n"
    "          runAsUser: 1000\n"
    "          runAsGroup: 1001\n"
    "          readOnlyRootFilesystem: true\n"
    "          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}\n";

START_TEST(berth_deployment_maps_every_field)
{
    berth_manifest *m = parse_ok(berth_deployment);
    Workload *w;
    ContainerSpec *s;

    ck_assert_uint_eq(m->n_workloads, 1);
    w = m->workloads[0];
    ck_assert_str_eq(w->name, "web");
    ck_assert_int_eq(w->kind, WORKLOAD_DEPLOYMENT);
    ck_assert_uint_eq(w->replicas, 4);
    ck_assert_str_eq(w->source, "web.yaml");
    ck_assert_uint_eq(w->n_labels, 1);
    ck_assert_str_eq(w->labels[0]->key, "tier");
    ck_assert_uint_eq(w->n_node_selector, 1);
    ck_assert_str_eq(w->node_selector[0]->key, "zone");
    ck_assert_str_eq(w->node_selector[0]->value, "a");
    s = w->template_;
    ck_assert_str_eq(s->image, "busybox");
    ck_assert_uint_eq(s->n_command, 1);
    ck_assert_str_eq(s->command[0], "httpd");
    ck_assert_uint_eq(s->n_args, 3);
    ck_assert_str_eq(s->args[2], "8080");
    ck_assert_uint_eq(s->n_env, 2);
    ck_assert_str_eq(s->env[0], "GREETING=hi");
    ck_assert_str_eq(s->env[1], "EMPTY=");
    ck_assert_str_eq(s->working_dir, "/srv");
    ck_assert(s->stdin && s->stdin_once && s->tty);
    ck_assert_int_eq(s->resources->cpu_millis, 1000);
    ck_assert_int_eq(s->resources->memory_bytes, 64 << 20);
    ck_assert_int_eq(s->resources->cpu_request_millis, 250);
    ck_assert_int_eq(s->resources->memory_request_bytes, 32 << 20);
    ck_assert_int_eq(s->liveness_probe->action_case, PROBE_ACTION_TCP);
    ck_assert_uint_eq(s->liveness_probe->tcp->port, 8080);
    ck_assert_int_eq(s->liveness_probe->period_ms, 5000);
    ck_assert_int_eq(s->liveness_probe->failure_threshold, 2);
    ck_assert_uint_eq(s->n_mounts, 2);
    ck_assert_int_eq(s->mounts[0]->type, MOUNT_BIND);
    ck_assert_str_eq(s->mounts[0]->source, "/srv/data");
    ck_assert_str_eq(s->mounts[0]->destination, "/data");
    ck_assert(s->mounts[0]->readonly);
    ck_assert_int_eq(s->mounts[1]->type, MOUNT_EMPTY_DIR);
    ck_assert_str_eq(s->mounts[1]->source, "scratch");
    ck_assert(!s->mounts[1]->memory);
    ck_assert_int_eq(s->mounts[1]->tmpfs_size_bytes, 64 << 20);
    ck_assert(!s->mounts[1]->readonly);
    ck_assert_uint_eq(s->user->uid, 1000);
    ck_assert_uint_eq(s->user->gid, 1001);
    ck_assert(s->readonly_rootfs);
    ck_assert(!s->allow_privilege_escalation);
    ck_assert_str_eq(s->capabilities->drop[0], "ALL");
    ck_assert_str_eq(s->capabilities->add[0], "NET_BIND_SERVICE");
    ck_assert_int_eq(s->restart_policy, RESTART_ALWAYS);
    ck_assert_int_eq(s->stop_grace_ms, 5000);
    ck_assert_int_eq(s->network, NETWORK_NONE);
    ck_assert_str_eq(label(s->labels, s->n_labels, "app"), "web");
    ck_assert_str_eq(label(s->labels, s->n_labels, "berth.container"), "web");
    berth_manifest_free(m);
}
END_TEST

START_TEST(kubernetes_forms_and_several_documents)
{
    static const char yaml[] = "# leading comment\n"
                               "---\n"
                               "apiVersion: apps/v1\n"
                               "kind: Deployment\n"
                               "metadata: {name: web, namespace: default, annotations: {a: b}}\n"
                               "spec:\n"
                               "  selector: {matchLabels: {app: web}}\n"
                               "  template:\n"
                               "    metadata: {labels: {app: web, tier: front}}\n"
                               "    spec:\n"
                               "      containers:\n"
                               "      - name: web\n"
                               "        image: busybox:1.36\n"
                               "        imagePullPolicy: IfNotPresent\n"
                               "        command: [httpd, -f]\n"
                               "        ports: [{containerPort: 80, protocol: TCP, name: http}]\n"
                               "        resources: {limits: {cpu: 500m, memory: 128Mi}}\n"
                               "---\n"
                               "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: batch}\n"
                               "spec:\n"
                               "  restartPolicy: OnFailure\n"
                               "  hostNetwork: true\n"
                               "  hostname: batch-host\n"
                               "  containers:\n"
                               "  - name: job\n"
                               "    image: busybox\n"
                               "    command: [sh, -c, 'exit 3']\n"
                               "    securityContext: {allowPrivilegeEscalation: true}\n"
                               "---\n"
                               "---\n"
                               "apiVersion: apps/v1\n"
                               "kind: DaemonSet\n"
                               "metadata: {name: logs}\n"
                               "spec:\n"
                               "  selector: {matchLabels: {app: logs}}\n"
                               "  template:\n"
                               "    metadata: {labels: {app: logs}}\n"
                               "    spec:\n"
                               "      nodeSelector: {disk: ssd}\n"
                               "      containers:\n"
                               "      - name: logs\n"
                               "        image: busybox\n"
                               "        command: [sleep, '3600']\n"
                               "        livenessProbe:\n"
                               "          exec: {command: ['true']}\n"
                               "          initialDelaySeconds: 3\n"
                               "...\n";
    berth_manifest *m = parse_ok(yaml);
    ContainerSpec *s;

    ck_assert_uint_eq(m->n_workloads, 3);
    ck_assert_str_eq(m->workloads[0]->name, "web");
    ck_assert_uint_eq(m->workloads[0]->replicas, 1); /* the Deployment default */
    s = m->workloads[0]->template_;
    ck_assert_str_eq(s->image, "busybox:1.36");
    ck_assert_int_eq(s->image_pull_policy, PULL_IF_NOT_PRESENT);
    /* a limit without a request requests the limit */
    ck_assert_int_eq(s->resources->cpu_request_millis, 500);
    ck_assert_int_eq(s->resources->memory_request_bytes, 128 << 20);

    ck_assert_int_eq(m->workloads[1]->kind, WORKLOAD_POD);
    ck_assert_uint_eq(m->workloads[1]->replicas, 1);
    s = m->workloads[1]->template_;
    ck_assert_int_eq(s->restart_policy, RESTART_ON_FAILURE);
    ck_assert_int_eq(s->network, NETWORK_HOST);
    ck_assert_str_eq(s->hostname, "batch-host");
    ck_assert(s->allow_privilege_escalation);
    ck_assert_str_eq(s->command[2], "exit 3");

    ck_assert_int_eq(m->workloads[2]->kind, WORKLOAD_DAEMONSET);
    ck_assert_uint_eq(m->workloads[2]->replicas, 0);
    ck_assert_str_eq(m->workloads[2]->node_selector[0]->value, "ssd");
    s = m->workloads[2]->template_;
    ck_assert_int_eq(s->liveness_probe->action_case, PROBE_ACTION_EXEC);
    ck_assert_str_eq(s->liveness_probe->exec->command[0], "true");
    ck_assert_int_eq(s->liveness_probe->initial_delay_ms, 3000);
    berth_manifest_free(m);
}
END_TEST

/* Manifests as Kubernetes' documentation gives them: image references,
 * no command (the image's Entrypoint runs), args alone. */
START_TEST(kubernetes_images_without_command)
{
    static const char yaml[] = "apiVersion: apps/v1\n"
                               "kind: Deployment\n"
                               "metadata:\n"
                               "  name: nginx-deployment\n"
                               "  labels: {app: nginx}\n"
                               "spec:\n"
                               "  replicas: 3\n"
                               "  selector: {matchLabels: {app: nginx}}\n"
                               "  template:\n"
                               "    metadata: {labels: {app: nginx}}\n"
                               "    spec:\n"
                               "      containers:\n"
                               "      - name: nginx\n"
                               "        image: nginx:1.14.2\n"
                               "        ports: [{containerPort: 80}]\n"
                               "---\n"
                               "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: bb}\n"
                               "spec:\n"
                               "  containers:\n"
                               "  - name: bb\n"
                               "    image: registry.k8s.io/busybox:1.27.2\n"
                               "    imagePullPolicy: Never\n"
                               "    args: [sleep, '3600']\n";
    berth_manifest *m = parse_ok(yaml);
    ContainerSpec *s = m->workloads[0]->template_;

    ck_assert_uint_eq(m->n_workloads, 2);
    ck_assert_str_eq(s->image, "nginx:1.14.2");
    ck_assert_uint_eq(s->n_command, 0);
    ck_assert_int_eq(s->image_pull_policy, PULL_POLICY_UNSPECIFIED);
    ck_assert_int_eq(berth_spec_pull_policy(s), BERTH_PULL_IF_NOT_PRESENT);
    s = m->workloads[1]->template_;
    ck_assert_str_eq(s->image, "registry.k8s.io/busybox:1.27.2");
    ck_assert_uint_eq(s->n_command, 0);
    ck_assert_uint_eq(s->n_args, 2);
    ck_assert_int_eq(s->image_pull_policy, PULL_NEVER);
    berth_manifest_free(m);
}
END_TEST

/* Kubernetes' three probes, with httpGet (a port by name, headers). */
START_TEST(probes)
{
    static const char yaml[] = "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: web}\n"
                               "spec:\n"
                               "  containers:\n"
                               "  - name: web\n"
                               "    image: nginx:1.25\n"
                               "    ports: [{name: http, containerPort: 8080}]\n"
                               "    readinessProbe:\n"
                               "      httpGet:\n"
                               "        path: /healthz\n"
                               "        port: http\n"
                               "        httpHeaders: [{name: X-Probe, value: berth}]\n"
                               "      periodSeconds: 2\n"
                               "      successThreshold: 3\n"
                               "    startupProbe:\n"
                               "      tcpSocket: {port: 8080}\n"
                               "      failureThreshold: 30\n"
                               "    livenessProbe:\n"
                               "      httpGet: {port: 8080, scheme: HTTP}\n";
    berth_manifest *m = parse_ok(yaml);
    const ContainerSpec *s = m->workloads[0]->template_;
    const HttpGetAction *h;

    ck_assert_ptr_nonnull(s->readiness_probe);
    ck_assert_int_eq(s->readiness_probe->action_case, PROBE_ACTION_HTTP_GET);
    h = s->readiness_probe->http_get;
    ck_assert_uint_eq(h->port, 8080);
    ck_assert_str_eq(h->path, "/healthz");
    ck_assert_uint_eq(h->n_headers, 1);
    ck_assert_str_eq(h->headers[0]->name, "X-Probe");
    ck_assert_int_eq(s->readiness_probe->success_threshold, 3);
    ck_assert_int_eq(s->startup_probe->action_case, PROBE_ACTION_TCP);
    ck_assert_int_eq(s->startup_probe->failure_threshold, 30);
    ck_assert_uint_eq(s->liveness_probe->http_get->port, 8080);
    berth_manifest_free(m);
}
END_TEST

START_TEST(probe_mistakes)
{
    char *msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n"
                           "  containers:\n"
                           "  - name: web\n"
                           "    image: nginx\n"
                           "    livenessProbe: {httpGet: {port: web, scheme: HTTPS}, "
                           "successThreshold: 2}\n");

    ck_assert_str_eq(msg, "web.yaml:8:37: spec.containers[0].livenessProbe.httpGet.port: 'web' is "
                          "not the name of one of the container's ports\n"
                          "web.yaml:8:50: spec.containers[0].livenessProbe.httpGet.scheme: HTTPS "
                          "probes are not supported (HTTP only)\n"
                          "web.yaml:8:76: spec.containers[0].livenessProbe.successThreshold: 2 is "
                          "out of range (1..1)");
    free(msg);
}
END_TEST

START_TEST(empty_manifests_are_empty)
{
    berth_manifest *m = parse_ok("");

    ck_assert_uint_eq(m->n_workloads, 0);
    berth_manifest_free(m);
    m = parse_ok("---\n# nothing\n---\n");
    ck_assert_uint_eq(m->n_workloads, 0);
    berth_manifest_free(m);
}
END_TEST

/* ---- rejected, each with its exact report ---- */

typedef struct bad_case {
    const char *yaml;
    const char *error;
} bad_case;

#define POD_HEAD "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"

static const bad_case bad_cases[] = {
    /* the example */
    { "apiVersion: berth/v1\n"
      "kind: Deployment\n"
      "metadata:\n"
      "  name: web\n"
      "spec:\n"
      "  template:\n"
      "    spec:\n"
      "      containers:\n"
      "      - name: web\n"
      "        image: busybox\n"
      "        command: [httpd]\n"
      "        resources:\n"
      "          limits:\n"
      "            memory: 64Mx\n",
      "web.yaml:14:21: spec.template.spec.containers[0].resources.limits.memory: memory quantity "
      "'64Mx': unknown suffix 'Mx' (expected one of m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, "
      "Ei)" },
    /* unknown and mistyped fields, in file order, all of them */
    { "apiVersion: berth/v1\n"
      "kind: Deployment\n"
      "metadata:\n"
      "  name: Web_1\n"
      "  namespace: Prod\n"
      "spec:\n"
      "  replica: 3\n"
      "  template:\n"
      "    spec:\n"
      "      containers:\n"
      "      - name: web\n"
      "        image: busy/Box\n"
      "        command: httpd\n"
      "        workingdir: /srv\n"
      "        env:\n"
      "        - name: A\n"
      "          value: 1\n",
      "web.yaml:4:9: metadata.name: 'Web_1' is not a valid workload name (1-53 of a-z 0-9 -, "
      "starting and ending with a letter or digit)\n"
      "web.yaml:5:14: metadata.namespace: 'Prod' is not a valid namespace name (1-63 of a-z 0-9 "
      "-, starting and ending with a letter or digit)\n"
      "web.yaml:7:3: spec.replica: unknown field (did you mean replicas?)\n"
      "web.yaml:12:16: spec.template.spec.containers[0].image: image reference 'busy/Box': "
      "repository name must be lowercase\n"
      "web.yaml:13:18: spec.template.spec.containers[0].command: expected a list of strings, got "
      "the string \"httpd\"\n"
      "web.yaml:14:9: spec.template.spec.containers[0].workingdir: unknown field (did you mean "
      "workingDir?)\n"
      "web.yaml:17:18: spec.template.spec.containers[0].env[0].value: expected a string, got the "
      "number 1 (quote it: \"1\")" },
    { "apiVersion: berth/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: \"3\"\n",
      "web.yaml:5:3: spec.template: required\n"
      "web.yaml:5:13: spec.replicas: expected an integer, got the string \"3\"" },
    { "apiVersion: berth/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1001\n"
      "  template: {spec: {containers: [{name: a, image: b, command: [c]}]}}\n",
      "web.yaml:5:13: spec.replicas: 1001 is out of range (0..1000)" },
    { POD_HEAD "  - name: a\n    image: b\n    command: [c]\n  - name: b\n",
      "web.yaml:9:5: spec.containers[1].image: required" },
    /* several containers: DNS-label names, each once; probes and a
     * restart policy of its own only where Kubernetes has them */
    { POD_HEAD "  - {name: a_1, image: b}\n  - {name: a, image: b}\n",
      "web.yaml:6:12: spec.containers[0].name: 'a_1' is not a valid container name (1-63 of "
      "a-z 0-9 -, starting and ending with a letter or digit)" },
    { POD_HEAD "  - {name: a, image: b}\n  - {name: a, image: c}\n",
      "web.yaml:6:3: spec.containers: two containers are named 'a'" },
    { POD_HEAD "  - {name: a, image: b, restartPolicy: Always}\n",
      "web.yaml:6:25: spec.containers[0].restartPolicy: unknown field" },
    { POD_HEAD "  - {name: a, image: b}\n  initContainers:\n"
               "  - {name: i, image: b, restartPolicy: Never}\n"
               "  - name: j\n    image: b\n    readinessProbe: {tcpSocket: {port: 80}}\n",
      "web.yaml:8:40: spec.initContainers[0].restartPolicy: 'Never' is not one of Always\n"
      "web.yaml:11:21: spec.initContainers[1].readinessProbe: an init container has no probes "
      "(unless it is a sidecar: restartPolicy: Always)" },
    { POD_HEAD "  - name: a\n    args: [x]\n", "web.yaml:6:5: spec.containers[0].image: required" },
    { POD_HEAD "  - name: p\n"
               "    image: busybox\n"
               "    command: [sleep]\n"
               "    resources:\n"
               "      requests: {cpu: 2}\n"
               "      limits: {cpu: 1, memory: 1Mi}\n"
               "    securityContext:\n"
               "      capabilities: {add: [NET_FLY]}\n"
               "      runAsUser: -1\n"
               "    volumeMounts: [{name: nope, mountPath: data}]\n"
               "    livenessProbe: {httpGet: {path: /}}\n",
      "web.yaml:10:23: spec.containers[0].resources.requests.cpu: 2 is above the limit 1\n"
      "web.yaml:11:32: spec.containers[0].resources.limits.memory: 1Mi is below the minimum of "
      "4Mi\n"
      "web.yaml:13:28: spec.containers[0].securityContext.capabilities.add[0]: capability "
      "'NET_FLY' is unknown\n"
      "web.yaml:14:18: spec.containers[0].securityContext.runAsUser: -1 is out of range "
      "(0..4294967294)\n"
      "web.yaml:15:27: spec.containers[0].volumeMounts[0].name: no volume 'nope' in "
      "spec.volumes\n"
      "web.yaml:15:44: spec.containers[0].volumeMounts[0].mountPath: 'data' is not an absolute "
      "path\n"
      "web.yaml:16:30: spec.containers[0].livenessProbe.httpGet.port: required" },
    { "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p}\n"
      "spec:\n"
      "  volumes: [{name: v, emptyDir: }, {name: h, hostPath: {path: rel}}, {name: x}]\n"
      "  containers: [{name: p, image: busybox, command: [x]}]\n"
      "  restartPolicy: Sometimes\n"
      "  restartPolicy: Never\n",
      "web.yaml:5:63: spec.volumes[1].hostPath.path: 'rel' is not an absolute path\n"
      "web.yaml:5:70: spec.volumes[2]: a volume needs exactly one of hostPath, emptyDir, secret "
      "and configMap\n"
      "web.yaml:7:18: spec.restartPolicy: 'Sometimes' is not one of Always, OnFailure, Never\n"
      "web.yaml:8:3: spec.restartPolicy: duplicate field (first at line 7)" },
    { "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n"
      "spec:\n"
      "  selector: {matchLabels: {app: d}}\n"
      "  template:\n"
      "    metadata: {labels: {app: e}}\n"
      "    spec: {containers: [{name: d, image: busybox, command: [x]}]}\n",
      "web.yaml:5:13: spec.selector: matchLabels app=d does not select "
      "spec.template.metadata.labels" },
    { "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n"
      "spec:\n  replicas: 2\n  template: {spec: {containers: [{name: d, image: b, command: "
      "[x]}]}}\n",
      "web.yaml:5:3: spec.replicas: unknown field\n"
      "web.yaml:5:3: spec.selector: required" },
    { "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n"
      "spec:\n  '-': 2\n  selector: {matchLabels: {app: d}}\n"
      "  template: {metadata: {labels: {app: d}}, spec: {containers: [{name: d, image: b, "
      "command: [x]}]}}\n",
      "web.yaml:5:3: spec.-: unknown field" },
    { "apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n",
      "web.yaml:2:7: kind: apiVersion v1 has no kind Deployment (use apps/v1 or berth/v1)" },
    { "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: d}\n",
      "web.yaml:2:7: kind: apiVersion apps/v1 has no kind Pod (use v1 or berth/v1)" },
    { "apiVersion: berth/v2\nkind: Service\n",
      "web.yaml:1:13: apiVersion: 'berth/v2' is not one of berth/v1, v1, apps/v1, batch/v1, "
      "policy/v1\n"
      "web.yaml:2:7: kind: 'Service' is not a kind berth runs (Pod, Deployment, DaemonSet, "
      "Job, CronJob, Namespace, PodDisruptionBudget, Secret, ConfigMap)" },
    { "kind: Pod\n", "web.yaml:1:1: apiVersion: required" },
    { "- a\n- b\n", "web.yaml:1:1: expected a mapping, got a list" },
    { "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: p, "
      "image: busybox, command: [x]}]}\n---\n"
      "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: p, "
      "image: busybox, command: [x]}]}\n",
      "web.yaml:8:18: metadata.name: 'p' is named by an earlier document too (line 3)" },
    /* two documents without a name: each is told, neither is a duplicate */
    { "apiVersion: berth/v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: p, "
      "image: busybox, command: [x]}]}\n---\n"
      "apiVersion: berth/v1\nkind: Pod\nmetadata: {nmae: q}\nspec: {containers: [{name: p, "
      "image: busybox, command: [x]}]}\n",
      "web.yaml:3:11: metadata.name: required\n"
      "web.yaml:8:11: metadata.name: required\n"
      "web.yaml:8:12: metadata.nmae: unknown field (did you mean name?)" },
    { POD_HEAD "  - {name: p, image: busybox, command: [x], env: [{name: A=B}, {name: ''}]}\n"
               "  nodeSelector: {zone: [a], 'bad key!': x, ok: 'a b'}\n",
      "web.yaml:6:58: spec.containers[0].env[0].name: 'A=B' is not a variable name (non-empty, "
      "no '=')\n"
      "web.yaml:6:71: spec.containers[0].env[1].name: '' is not a variable name (non-empty, no "
      "'=')\n"
      "web.yaml:7:24: spec.nodeSelector.zone: expected a string, got a list\n"
      "web.yaml:7:29: spec.nodeSelector.bad key!: invalid key: 1-63 characters of letters, "
      "digits, '-', '_', '.' (and one '/'), starting with a letter or digit\n"
      "web.yaml:7:48: spec.nodeSelector.ok: invalid value 'a b': up to 63 characters of letters, "
      "digits, '-', '_', '.'" },
    { POD_HEAD "  - {name: p, image: busybox, command: [x], livenessProbe: {exec: {command: []}, "
               "tcpSocket: {port: 0}, periodSeconds: 0}}\n",
      "web.yaml:6:77: spec.containers[0].livenessProbe.exec.command: must not be empty\n"
      "web.yaml:6:93: spec.containers[0].livenessProbe.tcpSocket: a probe has one action: exec, "
      "tcpSocket or httpGet, not several\n"
      "web.yaml:6:119: spec.containers[0].livenessProbe.periodSeconds: 0 is out of range "
      "(1..86400)" },
    /* what the file quotes, control characters included, stays one line */
    { "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p, \"a\\nb\\e[2J\": 1}\n"
      "spec: {containers: [{name: p, image: \"bad\\timage\", command: [x]}]}\n",
      "web.yaml:3:21: metadata.a?b?[2J: unknown field\n"
      "web.yaml:4:38: spec.containers[0].image: image reference: a space or control character "
      "at position 4" },
    /* a Deployment's rollout */
    { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {a: b}}\n"
      "  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n"
      "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:45: spec.strategy.rollingUpdate: may not be specified when strategy `type` is "
      "'Recreate'" },
    { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {a: b}}\n"
      "  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: '0%'}}\n"
      "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:59: spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is "
      "0" },
    { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {a: b}}\n"
      "  strategy: {rollingUpdate: {maxSurge: '150%', maxUnavailable: '1'}}\n"
      "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:40: spec.strategy.rollingUpdate.maxSurge: '150%' is not a percentage (0% to "
      "100%)\n"
      "web.yaml:6:64: spec.strategy.rollingUpdate.maxUnavailable: expected a number of replicas or "
      "a percentage (\"25%\"), got the string \"1\"" },
    { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {a: b}}\n"
      "  strategy: {type: Rolling}\n"
      "  minReadySeconds: 30\n"
      "  progressDeadlineSeconds: 30\n"
      "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:20: spec.strategy.type: 'Rolling' is not one of RollingUpdate, Recreate\n"
      "web.yaml:8:28: spec.progressDeadlineSeconds: must be greater than minReadySeconds" },
    { "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {a: b}}\n"
      "  strategy: {type: Recreate}\n"
      "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:3: spec.strategy: unknown field" },
    /* a Job */
    { "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
      "spec: {template: {spec: {containers: [{name: c, image: x}]}}}\n",
      "web.yaml:4:25: spec.template.spec: restartPolicy: required for a Job's pods: OnFailure or "
      "Never" },
    { "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
      "spec:\n"
      "  backoffLimitPerIndex: 1\n"
      "  suspend: true\n"
      "  template: {spec: {restartPolicy: Always, containers: [{name: c, image: x}]}}\n",
      "web.yaml:5:25: spec.backoffLimitPerIndex: berth's Jobs do not have this yet\n"
      "web.yaml:6:12: spec.suspend: berth does not suspend Jobs yet (false only)\n"
      "web.yaml:7:36: spec.template.spec.restartPolicy: a Job's pods are OnFailure or Never, not "
      "Always" },
    { "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
      "spec:\n"
      "  podFailurePolicy:\n"
      "    rules:\n"
      "    - {action: FailIndex, onExitCodes: {operator: In, values: [1]}}\n"
      "    - {action: Ignore, onExitCodes: {operator: In, values: [0, 2, 2]}}\n"
      "    - {action: FailJob, onPodConditions: [{type: DisruptionTarget}]}\n"
      "    - {action: Count, onPodConditions: [{type: Ready}],\n"
      "       onExitCodes: {operator: Is, values: []}}\n"
      "  template: {spec: {restartPolicy: OnFailure, containers: [{name: c, image: x}]}}\n",
      "web.yaml:6:5: spec.podFailurePolicy: needs the pods' restartPolicy to be Never\n"
      "web.yaml:7:16: spec.podFailurePolicy.rules[0].action: FailIndex needs "
      "backoffLimitPerIndex, which berth's Jobs do not have yet\n"
      "web.yaml:8:61: spec.podFailurePolicy.rules[1].onExitCodes.values[0]: 0 may not be among "
      "the values of In (a container that exits 0 did not fail)\n"
      "web.yaml:8:67: spec.podFailurePolicy.rules[1].onExitCodes.values[2]: 2 is given twice\n"
      "web.yaml:9:16: spec.podFailurePolicy.rules[2].action: FailJob on DisruptionTarget: berth "
      "never counts a disruption as a failure (Ignore only)\n"
      "web.yaml:10:7: spec.podFailurePolicy.rules[3]: a rule needs exactly one of onExitCodes and "
      "onPodConditions\n"
      "web.yaml:10:16: spec.podFailurePolicy.rules[3].action: Count on DisruptionTarget: berth "
      "never counts a disruption as a failure (Ignore only)\n"
      "web.yaml:10:48: spec.podFailurePolicy.rules[3].onPodConditions[0].type: 'Ready': berth's "
      "pods have no such condition (DisruptionTarget only)\n"
      "web.yaml:11:32: spec.podFailurePolicy.rules[3].onExitCodes.operator: 'Is' is not one of "
      "In, NotIn\n"
      "web.yaml:11:44: spec.podFailurePolicy.rules[3].onExitCodes.values: at least one exit "
      "code" },
    { "apiVersion: apps/v1\nkind: Job\nmetadata: {name: j}\n",
      "web.yaml:2:7: kind: apiVersion apps/v1 has no kind Job (use batch/v1 or berth/v1)" },
    /* extended resources: Kubernetes' rules, each at its key or value */
    { POD_HEAD "  - name: a\n"
               "    image: b\n"
               "    resources:\n"
               "      requests: {example.com/dev: 1, example.com/gpu: \"2\", cpus: 1}\n"
               "      limits: {example.com/dev: 2, kubernetes.io/x: 1, example.com/f: 0.5}\n"
               "  - name: c\n"
               "    image: b\n"
               "    resources:\n"
               "      limits: {example.com/m: 500m, example.com/big: 1025, gpu: 1,\n"
               "               requests.example.com/q: 1, example.com/neg: \"-1\"}\n",
      "web.yaml:9:35: spec.containers[0].resources.requests.example.com/dev: must be equal to "
      "example.com/dev limit of 2\n"
      "web.yaml:9:55: spec.containers[0].resources.requests.example.com/gpu: Limit must be set "
      "for non overcommitable resources\n"
      "web.yaml:9:60: spec.containers[0].resources.requests.cpus: unknown field (did you mean "
      "cpu?)\n"
      "web.yaml:10:36: spec.containers[0].resources.limits.kubernetes.io/x: doesn't follow "
      "extended resource name standard (the kubernetes.io domain is Kubernetes' own)\n"
      "web.yaml:10:71: spec.containers[0].resources.limits.example.com/f: 0.5: must be an "
      "integer\n"
      "web.yaml:14:31: spec.containers[1].resources.limits.example.com/m: 500m: must be an "
      "integer\n"
      "web.yaml:14:54: spec.containers[1].resources.limits.example.com/big: 1025 is more than "
      "1024\n"
      "web.yaml:14:60: spec.containers[1].resources.limits.gpu: unknown field (did you mean "
      "cpu?)\n"
      "web.yaml:15:16: spec.containers[1].resources.limits.requests.example.com/q: doesn't "
      "follow extended resource name standard (\"requests.\" starts a quota's name)\n"
      "web.yaml:15:60: spec.containers[1].resources.limits.example.com/neg: example.com/neg "
      "quantity '-1' must not be negative" },
    { POD_HEAD "  - name: a\n"
               "    image: b\n"
               "    resources:\n"
               "      limits: {a.io/d0: 1, a.io/d1: 1, a.io/d2: 1, a.io/d3: 1, a.io/d4: 1,\n"
               "               a.io/d5: 1, a.io/d6: 1, a.io/d7: 1, a.io/d8: 1, a.io/d9: 1,\n"
               "               b.io/d0: 1, b.io/d1: 1, b.io/d2: 1, b.io/d3: 1, b.io/d4: 1,\n"
               "               b.io/d5: 1, b.io/d6: 1, b.io/d7: 1, b.io/d8: 1, b.io/d9: 1,\n"
               "               c.io/d0: 1, c.io/d1: 1, c.io/d2: 1, c.io/d3: 1, c.io/d4: 1,\n"
               "               c.io/d5: 1, c.io/d6: 1, c.io/d7: 1, c.io/d8: 1, c.io/d9: 1,\n"
               "               d.io/d0: 1, d.io/d1: 1, d.io/d2: 1}\n",
      "web.yaml:9:15: spec.containers[0].resources.limits: 33 extended resources, at most 32" },
    { POD_HEAD "  - name: a\n"
               "    image: b\n"
               "    resources: {limits: {example.com/dev: 1, example.com/dev: 2}}\n",
      "web.yaml:8:46: spec.containers[0].resources.limits.example.com/dev: duplicate field (first "
      "at line 8)" },
    /* a pod's host devices (CRI-O's annotation): each entry checked, at
     * the annotation */
    { "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
      "    io.kubernetes.cri-o.Devices: \"/dev/fuse,,/dev/x:rwx,example.com/dev=d0,/dev/../etc,"
      "/dev/kvm:/kvm,dev/tty\"\n"
      "spec: {containers: [{name: a, image: b}]}\n",
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: an empty device entry\n"
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: '/dev/x:rwx': "
      "permissions must be a subset of rwm\n"
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: 'example.com/dev=d0' is "
      "a CDI device: this annotation gives host devices only (ask for CDI devices with "
      "resources.limits, vendor.com/class: N)\n"
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: '/dev/../etc' must be an "
      "absolute, normalised path\n"
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: '/dev/kvm:/kvm': devices "
      "must be in path /dev\n"
      "web.yaml:6:34: metadata.annotations.io.kubernetes.cri-o.Devices: 'dev/tty': the host path "
      "must be absolute" },
    { "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
      "  selector: {matchLabels: {app: d}}\n"
      "  template:\n"
      "    metadata:\n"
      "      labels: {app: d}\n"
      "      annotations: {io.kubernetes.cri-o.Devices: /dev/fuse:/dev/f:rx}\n"
      "    spec: {containers: [{name: a, image: b}]}\n",
      "web.yaml:9:50: spec.template.metadata.annotations.io.kubernetes.cri-o.Devices: "
      "'/dev/fuse:/dev/f:rx': permissions must be a subset of rwm" },
    /* YAML itself */
    { "kind: [\n", "web.yaml:2:1: YAML: did not find expected node content while parsing a flow "
                   "node" },
    { "a: &x 1\nb: *x\n", "web.yaml:1:4: YAML anchors and aliases are not supported" },
    { "a: b\n\tc: d\n", "web.yaml:2:1: YAML: found a tab character that violates indentation while "
                        "scanning a plain scalar" },
};

START_TEST(rejected_with_file_line_column_and_path)
{
    const bad_case *c = &bad_cases[_i];
    char *msg = parse_fail(c->yaml);

    ck_assert_msg(strcmp(msg, c->error) == 0, "case %d:\n got: %s\nwant: %s", _i, msg, c->error);
    free(msg);
}
END_TEST

/* Extended resources (a resources key with '/') as Kubernetes takes them:
 * integers, a limit alone is the request, a request equal to its limit is
 * fine, a limit of 0 asks for nothing; init containers and sidecars have
 * them too, and every kind's pod template. */
START_TEST(extended_resources)
{
    berth_manifest *m = parse_ok(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        "  initContainers:\n"
        "  - name: init\n"
        "    image: b\n"
        "    resources: {limits: {example.com/dev: 3}}\n"
        "  - name: side\n"
        "    image: b\n"
        "    restartPolicy: Always\n"
        "    resources: {limits: {example.com/dev: \"1\"}}\n"
        "  containers:\n"
        "  - name: app\n"
        "    image: b\n"
        "    resources:\n"
        "      requests: {cpu: 100m, example.com/dev: 2}\n"
        "      limits: {example.com/dev: 2, vendor.example/gpu: 1k, example.com/none: 0}\n"
        "---\n"
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n"
        "  template:\n"
        "    spec:\n"
        "      restartPolicy: Never\n"
        "      containers: [{name: c, image: b, resources: {limits: {example.com/dev: 1}}}]\n");
    const Workload *w = m->workloads[0];
    const Resources *r = w->template_->resources;
    berth_resource_count *v = NULL;

    ck_assert_int_eq(r->cpu_request_millis, 100);
    ck_assert_uint_eq(r->n_extended, 2);
    ck_assert_str_eq(r->extended[0]->key, "example.com/dev");
    ck_assert_int_eq(r->extended[0]->value, 2);
    ck_assert_str_eq(r->extended[1]->key, "vendor.example/gpu");
    ck_assert_int_eq(r->extended[1]->value, 1000);
    ck_assert_uint_eq(w->pod->n_init_containers, 2);
    ck_assert_int_eq(w->pod->init_containers[0]->resources->extended[0]->value, 3);
    ck_assert_int_eq(w->pod->init_containers[1]->resources->extended[0]->value, 1);
    /* what the pod asks of its node: the app's 2 and the sidecar's 1 */
    ck_assert_uint_eq(berth_pod_extended(w, &v), 2);
    ck_assert_str_eq(v[0].name, "example.com/dev");
    ck_assert_int_eq(v[0].count, 3);
    free(v);
    r = m->workloads[1]->template_->resources;
    ck_assert_uint_eq(r->n_extended, 1);
    ck_assert_str_eq(r->extended[0]->key, "example.com/dev");
    ck_assert_int_eq(r->extended[0]->value, 1);
    berth_manifest_free(m);
}
END_TEST

/* The host devices of DeviceRequest list d (n of them), as
 * "name>path:perms" joined by spaces, into buf. */
static const char *devices_of(DeviceRequest **d, size_t n, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s>%s:%s", i ? " " : "", d[i]->name,
                                d[i]->container_path, d[i]->permissions);
    return buf;
}

/* CRI-O's annotation for a pod's host devices: every container of the pod
 * (init containers and sidecars too) gets them, whatever the kind; the
 * annotation of a Deployment itself (not its pod template's) is not its
 * pods'. */
START_TEST(pod_devices_annotation)
{
    static const char *const kinds[] = {
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
        "    io.kubernetes.cri-o.Devices: '/dev/fuse, /dev/net/tun:/dev/tun0:rw'\n"
        "spec:\n"
        "  initContainers: [{name: i, image: b}, {name: s, image: b, restartPolicy: Always}]\n"
        "  containers: [{name: a, image: b}, {name: c, image: b}]\n",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
        "  selector: {matchLabels: {app: d}}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels: {app: d}\n"
        "      annotations: {io.kubernetes.cri-o.Devices: '/dev/fuse,/dev/net/tun:/dev/tun0:rw'}\n"
        "    spec: {containers: [{name: a, image: b}]}\n",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec:\n"
        "  selector: {matchLabels: {app: d}}\n"
        "  template:\n"
        "    metadata:\n"
        "      labels: {app: d}\n"
        "      annotations: {io.kubernetes.cri-o.Devices: '/dev/fuse,/dev/net/tun:/dev/tun0:rw'}\n"
        "    spec: {containers: [{name: a, image: b}]}\n",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n"
        "  template:\n"
        "    metadata:\n"
        "      annotations: {io.kubernetes.cri-o.Devices: '/dev/fuse,/dev/net/tun:/dev/tun0:rw'}\n"
        "    spec: {restartPolicy: Never, containers: [{name: a, image: b}]}\n",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n"
        "  schedule: '@hourly'\n"
        "  jobTemplate:\n"
        "    spec:\n"
        "      template:\n"
        "        metadata:\n"
        "          annotations: {io.kubernetes.cri-o.Devices: "
        "'/dev/fuse,/dev/net/tun:/dev/tun0:rw'}\n"
        "        spec: {restartPolicy: Never, containers: [{name: a, image: b}]}\n",
    };
    char buf[256];

    for (size_t k = 0; k < BERTH_ARRAY_SIZE(kinds); k++) {
        berth_manifest *m = parse_ok(kinds[k]);
        const Workload *w = m->workloads[0];

        ck_assert_uint_eq(berth_pod_size(w), k == 0 ? 4 : 1);
        for (size_t i = 0; i < berth_pod_size(w); i++) {
            PodRole role;
            uint32_t index;
            const ContainerSpec *c = berth_pod_container(w, i, &role, &index);

            ck_assert_msg(strcmp(devices_of(c->devices, c->n_devices, buf, sizeof(buf)),
                                 "/dev/fuse>: /dev/net/tun>/dev/tun0:rw") == 0,
                          "kind %zu container %zu: %s", k, i, buf);
        }
        berth_manifest_free(m);
    }
    /* a Deployment's own annotations are not its pods' */
    {
        berth_manifest *m = parse_ok("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"
                                     "  annotations: {io.kubernetes.cri-o.Devices: /dev/fuse}\n"
                                     "spec:\n"
                                     "  selector: {matchLabels: {app: d}}\n"
                                     "  template:\n"
                                     "    metadata: {labels: {app: d}}\n"
                                     "    spec: {containers: [{name: a, image: b}]}\n");

        ck_assert_uint_eq(m->workloads[0]->template_->n_devices, 0);
        berth_manifest_free(m);
    }
    /* empty: none */
    {
        berth_manifest *m = parse_ok("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                                     "  annotations: {io.kubernetes.cri-o.Devices: ''}\n"
                                     "spec: {containers: [{name: a, image: b}]}\n");

        ck_assert_uint_eq(m->workloads[0]->template_->n_devices, 0);
        berth_manifest_free(m);
    }
}
END_TEST

/* A Deployment's rollout fields, Kubernetes' names; the change-cause
 * and restartedAt annotations kept, the others not. */
START_TEST(deployment_rollout_fields)
{
    berth_manifest *m = parse_ok(
        "apiVersion: apps/v1\nkind: Deployment\n"
        "metadata: {name: d, annotations: {kubernetes.io/change-cause: 'image 2', x: y}}\n"
        "spec:\n"
        "  selector: {matchLabels: {a: b}}\n"
        "  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 2, maxUnavailable: '10%'}}\n"
        "  minReadySeconds: 5\n"
        "  revisionHistoryLimit: 0\n"
        "  progressDeadlineSeconds: 60\n"
        "  paused: true\n"
        "  template:\n"
        "    metadata:\n"
        "      labels: {a: b}\n"
        "      annotations: {kubectl.kubernetes.io/restartedAt: '2026-12-06T10:00:00Z'}\n"
        "    spec: {containers: [{name: c, image: x}]}\n"
        "---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: e}\n"
        "spec:\n"
        "  selector: {matchLabels: {a: b}}\n"
        "  strategy: {type: Recreate}\n"
        "  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}\n");
    const Workload *d = m->workloads[0], *e = m->workloads[1];

    ck_assert_str_eq(d->strategy->type, "RollingUpdate");
    ck_assert_uint_eq(d->strategy->max_surge->value, 2);
    ck_assert(!d->strategy->max_surge->percent);
    ck_assert_uint_eq(d->strategy->max_unavailable->value, 10);
    ck_assert(d->strategy->max_unavailable->percent);
    ck_assert_uint_eq(d->min_ready_seconds, 5);
    ck_assert(d->has_revision_history_limit);
    ck_assert_uint_eq(d->revision_history_limit, 0);
    ck_assert_uint_eq(d->progress_deadline_seconds, 60);
    ck_assert(d->paused && d->has_paused);
    ck_assert(!e->paused && !e->has_paused);
    ck_assert_str_eq(d->change_cause, "image 2");
    ck_assert_str_eq(d->restarted_at, "2026-12-06T10:00:00Z");
    ck_assert_str_eq(e->strategy->type, "Recreate");
    ck_assert_ptr_null(e->strategy->max_surge);
    ck_assert(!e->has_revision_history_limit);
    ck_assert_str_eq(e->change_cause, "");
    berth_manifest_free(m);
}
END_TEST

/* A Job (batch/v1): Kubernetes' fields and defaults. */
START_TEST(job_fields)
{
    berth_manifest *m = parse_ok(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
        "spec:\n"
        "  completions: 6\n"
        "  parallelism: 2\n"
        "  backoffLimit: 3\n"
        "  activeDeadlineSeconds: 600\n"
        "  ttlSecondsAfterFinished: 100\n"
        "  completionMode: Indexed\n"
        "  template:\n"
        "    spec:\n"
        "      restartPolicy: OnFailure\n"
        "      containers: [{name: c, image: x}]\n"
        "---\n"
        "apiVersion: berth/v1\nkind: Job\nmetadata: {name: k}\n"
        "spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}\n");
    const JobSpec *j = m->workloads[0]->job, *k = m->workloads[1]->job;

    ck_assert_int_eq(m->workloads[0]->kind, WORKLOAD_JOB);
    ck_assert_uint_eq(j->completions, 6);
    ck_assert_uint_eq(j->parallelism, 2);
    ck_assert_uint_eq(j->backoff_limit, 3);
    ck_assert_uint_eq(j->active_deadline_seconds, 600);
    ck_assert(j->has_ttl_seconds_after_finished);
    ck_assert_uint_eq(j->ttl_seconds_after_finished, 100);
    ck_assert(j->indexed);
    ck_assert_int_eq(m->workloads[0]->template_->restart_policy, RESTART_ON_FAILURE);
    /* the defaults */
    ck_assert_uint_eq(k->completions, 1);
    ck_assert_uint_eq(k->parallelism, 1);
    ck_assert_uint_eq(k->backoff_limit, 6);
    ck_assert(!k->has_ttl_seconds_after_finished);
    ck_assert(!k->indexed);
    berth_manifest_free(m);
}
END_TEST

/* A CronJob (batch/v1): its schedule checked, Kubernetes' defaults. */
START_TEST(cronjob_fields)
{
    berth_manifest *m = parse_ok(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\n"
        "spec:\n"
        "  schedule: '30 2 * * MON-FRI'\n"
        "  timeZone: UTC\n"
        "  concurrencyPolicy: Forbid\n"
        "  startingDeadlineSeconds: 120\n"
        "  jobTemplate:\n"
        "    metadata: {labels: {a: b}}\n"
        "    spec:\n"
        "      backoffLimit: 2\n"
        "      template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}\n");
    const Workload *w = m->workloads[0];
    char *msg;

    ck_assert_int_eq(w->kind, WORKLOAD_CRONJOB);
    ck_assert_str_eq(w->cron->schedule, "30 2 * * MON-FRI");
    ck_assert_str_eq(w->cron->concurrency_policy, "Forbid");
    ck_assert(w->cron->has_starting_deadline_seconds);
    ck_assert_uint_eq(w->cron->successful_jobs_history_limit, 3);
    ck_assert_uint_eq(w->cron->failed_jobs_history_limit, 1);
    ck_assert_uint_eq(w->job->backoff_limit, 2);
    ck_assert_int_eq(w->template_->restart_policy, RESTART_NEVER);
    berth_manifest_free(m);
    msg = parse_fail("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\n"
                     "spec:\n"
                     "  schedule: '61 * * * *'\n"
                     "  timeZone: Mars/Base\n"
                     "  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, "
                     "containers: [{name: c, image: x}]}}}}\n");
    ck_assert_str_eq(msg, "web.yaml:5:13: spec.schedule: minute: 61 is out of range (0-59)\n"
                          "web.yaml:6:13: spec.timeZone: unknown time zone 'Mars/Base'");
    free(msg);
}
END_TEST

START_TEST(one_bad_document_spoils_the_file)
{
    static const char yaml[] = "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: good}\n"
                               "spec: {containers: [{name: p, image: busybox, command: [x]}]}\n"
                               "---\n"
                               "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: bad}\n"
                               "spec: {containers: [{name: p, image: busybox, comand: [x]}]}\n";
    char *msg = parse_fail(yaml);

    ck_assert_str_eq(msg, "web.yaml:9:47: spec.containers[0].comand: unknown field (did you mean "
                          "command?)");
    free(msg);
}
END_TEST

START_TEST(runtime_validation_has_the_last_word)
{
    /* hostname passes the manifest's string check; the runtime refuses it */
    char *msg = parse_fail(POD_HEAD "  - {name: p, image: busybox, command: [x]}\n"
                                    "  hostname: -bad-\n");

    ck_assert_str_eq(msg, "web.yaml:5:3: spec: spec.hostname: '-bad-' is not a valid host name "
                          "(letters, digits, '-', '.')");
    free(msg);
}
END_TEST

/* ---- hostile input ---- */

START_TEST(bounded)
{
    static const char first_errors[] = "web.yaml:5:3: spec.x0: unknown field\n"
                                       "web.yaml:5:3: spec.containers: required\n"
                                       "web.yaml:6:3: spec.x1: unknown field\n";
    berth_manifest *m = NULL;
    berth_error *err = NULL;
    size_t big = BERTH_MANIFEST_BYTES_MAX + 1, len;
    char *text = malloc(big), *msg;

    memset(text, ' ', big);
    ck_assert_berth_error(berth_manifest_parse(text, big, "big.yaml", &m, &err), err,
                          "big.yaml: 1048577 bytes, a manifest may have at most 1048576");
    ck_assert_berth_error(berth_manifest_parse("a: b\0c", 6, "nul.yaml", &m, &err), err,
                          "nul.yaml: not a text file (it has a NUL byte)");
    /* deep nesting is refused before a node is built */
    memset(text, '[', 200);
    text[200] = '\0';
    msg = parse_fail(text);
    ck_assert_str_eq(msg, "web.yaml:1:33: nested deeper than 32 levels");
    free(msg);
    /* too many documents */
    text[0] = '\0';
    for (int i = 0; i <= BERTH_MANIFEST_DOCUMENTS_MAX; i++)
        strcat(text, "---\n");
    msg = parse_fail(text);
    ck_assert_str_eq(msg, "web.yaml:257:1: more than 256 documents");
    free(msg);
    /* at most 20 errors are listed, the first 20 in the file (the missing
     * containers, found last, among them), the rest counted */
    strcpy(text, "apiVersion: berth/v1\nkind: Pod\nmetadata: {name: p}\nspec:\n");
    for (int i = 0; i < 25; i++)
        sprintf(text + strlen(text), "  x%d: 1\n", i);
    msg = parse_fail(text);
    ck_assert_msg(strncmp(msg, first_errors, strlen(first_errors)) == 0, "%s", msg);
    ck_assert_msg(
        strstr(msg, "web.yaml:23:3: spec.x18: unknown field\nweb.yaml: and 6 more errors"), "%s",
        msg);
    free(msg);
    /* a map of labels too big is refused as a whole, before its keys are
     * compared with each other (90000 took 30 s) */
    len = (size_t)sprintf(text, "apiVersion: berth/v1\nkind: Pod\nmetadata:\n  name: p\n"
                                "  labels: {l0: v");
    for (int i = 1; i < 90000; i++)
        len += (size_t)sprintf(text + len, ",l%d: v", i);
    strcpy(text + len, "}\nspec: {containers: [{name: p, image: busybox, command: [x]}]}\n");
    msg = parse_fail(text);
    ck_assert_str_eq(msg, "web.yaml:5:11: metadata.labels: 90000 labels, at most 64");
    free(msg);
    free(text);
}
END_TEST

/* A Deployment whose template has n labels. */
static char *labelled_deployment(int n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    fprintf(f, "apiVersion: berth/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
               "  template:\n    metadata:\n      labels:\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "        l%d: v\n", i);
    fprintf(f, "    spec: {containers: [{name: c, image: busybox, command: [x]}]}\n");
    fclose(f);
    return text;
}

START_TEST(template_labels_leave_room_for_the_replica_labels)
{
    char *yaml = labelled_deployment(60), *msg;
    berth_manifest *m = parse_ok(yaml);
    ContainerSpec *s = NULL;
    berth_error *err = NULL;

    /* 60, berth.container, berth.workload, berth.replica and (a
     * Deployment's revision's) pod-template-hash: 64, runnable */
    ck_assert_int_eq(berth_replica_spec(m->workloads[0], "web-0", "0", &s, &err), 0);
    ck_assert_uint_eq(s->n_labels, 63);
    berth_pb_map_set(&s->base, "labels", "pod-template-hash", "5d9c7b8f4c");
    ck_assert_uint_eq(s->n_labels, 64);
    ck_assert_msg(berth_spec_validate(s, &err) == 0, "%s", err ? err->msg : "");
    container_spec_free_unpacked(s, NULL);
    berth_manifest_free(m);
    free(yaml);

    /* one more, and no replica could run: refused where the labels are */
    yaml = labelled_deployment(61);
    msg = parse_fail(yaml);
    ck_assert_str_eq(msg, "web.yaml:8:9: spec.template.metadata.labels: 61 labels, at most 60 "
                          "(each replica has berth.container, berth.workload, berth.replica and "
                          "pod-template-hash too)");
    free(msg);
    free(yaml);
}
END_TEST

/* ---- pods of several containers ---- */

static const char pod_of_four[] = "apiVersion: v1\n"
                                  "kind: Pod\n"
                                  "metadata: {name: web, labels: {app: web}}\n"
                                  "spec:\n"
                                  "  restartPolicy: OnFailure\n"
                                  "  shareProcessNamespace: true\n"
                                  "  terminationGracePeriodSeconds: 5\n"
                                  "  volumes: [{name: data, emptyDir: {}}]\n"
                                  "  initContainers:\n"
                                  "  - name: migrate\n"
                                  "    image: busybox:1.35\n"
                                  "    command: [sh, -c, 'echo done']\n"
                                  "  - name: proxy\n"
                                  "    image: busybox:1.35\n"
                                  "    restartPolicy: Always\n"
                                  "    startupProbe: {tcpSocket: {port: 9000}}\n"
                                  "  containers:\n"
                                  "  - name: app\n"
                                  "    image: nginx:1.25\n"
                                  "    volumeMounts: [{name: data, mountPath: /data}]\n"
                                  "  - name: logs\n"
                                  "    image: busybox:1.35\n"
                                  "    args: [tail, -f, /data/log]\n"
                                  "    volumeMounts: [{name: data, mountPath: /data}]\n";

START_TEST(pod_of_several_containers)
{
    berth_manifest *m = parse_ok(pod_of_four);
    const Workload *w = m->workloads[0];
    ContainerSpec **v = NULL;
    berth_error *err = NULL;
    size_t n = 0;
    static const struct {
        const char *id, *name;
        PodRole role;
        uint32_t index;
        RestartPolicy policy;
    } want[] = {
        { "web-0_migrate", "migrate", POD_ROLE_INIT, 0, RESTART_ON_FAILURE },
        { "web-0_proxy", "proxy", POD_ROLE_SIDECAR, 1, RESTART_ALWAYS },
        { "web-0_app", "app", POD_ROLE_APP, 0, RESTART_ON_FAILURE },
        { "web-0_logs", "logs", POD_ROLE_APP, 0, RESTART_ON_FAILURE },
    };

    ck_assert_ptr_nonnull(w->pod);
    ck_assert_str_eq(w->template_->image, "nginx:1.25");
    ck_assert_uint_eq(w->pod->n_containers, 1);
    ck_assert_uint_eq(w->pod->n_init_containers, 2);
    ck_assert(w->pod->share_process_namespace);
    ck_assert_uint_eq(berth_pod_size(w), 4);
    ck_assert_int_eq(berth_replica_specs(w, "web-0", "0", &v, &n, &err), 0);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(v[i]->id, want[i].id);
        ck_assert_ptr_nonnull(v[i]->pod);
        ck_assert_str_eq(v[i]->pod->pod, "web-0");
        ck_assert_str_eq(v[i]->pod->name, want[i].name);
        ck_assert_int_eq(v[i]->pod->role, want[i].role);
        ck_assert_uint_eq(v[i]->pod->init_index, want[i].index);
        ck_assert(v[i]->pod->share_process_namespace);
        ck_assert_int_eq(v[i]->restart_policy, want[i].policy);
        ck_assert_int_eq(v[i]->stop_grace_ms, 5000);
        /* the pod's host name, not the container's id */
        ck_assert_str_eq(v[i]->hostname, "web-0");
        ck_assert_str_eq(label(v[i]->labels, v[i]->n_labels, "berth.container"), want[i].name);
        ck_assert_str_eq(label(v[i]->labels, v[i]->n_labels, "berth.workload"), "web");
        ck_assert_msg(berth_spec_validate(v[i], &err) == 0, "%s", err ? err->msg : "");
    }
    ck_assert_ptr_nonnull(v[1]->startup_probe);
    berth_specs_free(v, n);
    berth_manifest_free(m);

    /* restartPolicy Never: an init container that fails is not run again */
    {
        char *yaml = strdup(pod_of_four);

        memcpy(strstr(yaml, "OnFailure"), "Never    ", 9);
        m = parse_ok(yaml);
        ck_assert_int_eq(m->workloads[0]->pod->init_containers[0]->restart_policy, RESTART_NEVER);
        ck_assert_int_eq(m->workloads[0]->pod->init_containers[1]->restart_policy, RESTART_ALWAYS);
        ck_assert_int_eq(m->workloads[0]->template_->restart_policy, RESTART_NEVER);
        berth_manifest_free(m);
        free(yaml);
    }
}
END_TEST

/* ---- security context ---- */

START_TEST(pod_security_context)
{
    static const char yaml[] =
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata: {name: sec}\n"
        "spec:\n"
        "  securityContext:\n"
        "    runAsUser: 1000\n"
        "    runAsNonRoot: true\n"
        "    fsGroup: 2000\n"
        "    fsGroupChangePolicy: OnRootMismatch\n"
        "    supplementalGroups: [3000]\n"
        "    seccompProfile: {type: Localhost, localhostProfile: profiles/audit.json}\n"
        "    sysctls: [{name: net.ipv4.ip_local_port_range, value: '1024 2048'}]\n"
        "  containers:\n"
        "  - {name: a, image: busybox}\n"
        "  - name: b\n"
        "    image: busybox\n"
        "    securityContext:\n"
        "      runAsUser: 0\n"
        "      runAsNonRoot: false\n"
        "      privileged: true\n"
        "      seccompProfile: {type: Unconfined}\n";
    berth_manifest *m = parse_ok(yaml);
    const ContainerSpec *a = m->workloads[0]->template_, *b = m->workloads[0]->pod->containers[0];
    char *msg;

    /* a has the pod's */
    ck_assert_uint_eq(a->user->uid, 1000);
    ck_assert(!a->user->image_uid);
    ck_assert(a->user->image_gid);
    ck_assert_uint_eq(a->user->n_additional_gids, 2);
    ck_assert_uint_eq(a->user->additional_gids[0], 3000);
    ck_assert_uint_eq(a->user->additional_gids[1], 2000);
    ck_assert_uint_eq(a->fs_group->gid, 2000);
    ck_assert(a->run_as_non_root);
    ck_assert_int_eq(a->seccomp, SECCOMP_LOCALHOST);
    ck_assert_str_eq(a->seccomp_profile, "profiles/audit.json");
    ck_assert_uint_eq(a->n_sysctls, 1);
    ck_assert_str_eq(a->sysctls[0]->value, "1024 2048");
    ck_assert(!a->privileged);
    /* b its own where it says */
    ck_assert_uint_eq(b->user->uid, 0);
    ck_assert(!b->run_as_non_root);
    ck_assert(b->privileged);
    ck_assert_int_eq(b->seccomp, SECCOMP_UNCONFINED);
    ck_assert_str_eq(b->seccomp_profile, "");
    ck_assert_uint_eq(b->fs_group->gid, 2000);
    berth_manifest_free(m);

    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  securityContext:\n"
                     "    sysctls: [{name: kernel.panic, value: '1'}]\n"
                     "    seccompProfile: {type: Localhost}\n"
                     "  containers: [{name: a, image: b}]\n");
    ck_assert_str_eq(msg, "web.yaml:6:22: spec.securityContext.sysctls[0].name: 'kernel.panic' is "
                          "not one of the safe (namespaced) sysctls berth sets\n"
                          "web.yaml:7:21: spec.securityContext.seccompProfile.localhostProfile: "
                          "required");
    free(msg);
}
END_TEST

/* ---- placement rules ---- */

START_TEST(placement_rules)
{
    static const char yaml[] =
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  nodeName: n2\n"
        "  affinity:\n"
        "    nodeAffinity:\n"
        "      requiredDuringSchedulingIgnoredDuringExecution:\n"
        "        nodeSelectorTerms:\n"
        "        - matchExpressions:\n"
        "          - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}\n"
        "          - {key: cores, operator: Gt, values: ['8']}\n"
        "        - matchFields: [{key: metadata.name, operator: NotIn, values: [n3]}]\n"
        "  tolerations:\n"
        "  - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}\n"
        "  - {operator: Exists}\n"
        "  - {key: maintenance, operator: Exists, effect: NoExecute, tolerationSeconds: 30}\n"
        "  containers: [{name: a, image: busybox}]\n";
    berth_manifest *m = parse_ok(yaml);
    const Workload *w = m->workloads[0];
    char *msg;

    ck_assert_str_eq(w->node_name, "n2");
    ck_assert_uint_eq(w->n_node_affinity, 2);
    ck_assert_uint_eq(w->node_affinity[0]->n_match_expressions, 2);
    ck_assert_str_eq(w->node_affinity[0]->match_expressions[1]->operator_, "Gt");
    ck_assert_str_eq(w->node_affinity[1]->match_fields[0]->values[0], "n3");
    ck_assert_uint_eq(w->n_tolerations, 3);
    ck_assert_str_eq(w->tolerations[0]->value, "gpu");
    ck_assert_str_eq(w->tolerations[1]->operator_, "Exists");
    ck_assert_str_eq(w->tolerations[1]->key, "");
    ck_assert(w->tolerations[2]->has_toleration_seconds);
    ck_assert_int_eq(w->tolerations[2]->toleration_seconds, 30);
    berth_manifest_free(m);

    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  affinity:\n"
                     "    nodeAffinity:\n"
                     "      requiredDuringSchedulingIgnoredDuringExecution:\n"
                     "        nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In}]}]\n"
                     "    podAntiAffinity: {}\n"
                     "  tolerations:\n"
                     "  - {key: k, effect: NoSchedule, tolerationSeconds: 5}\n"
                     "  - {value: v}\n"
                     "  containers: [{name: a, image: b}]\n");
    ck_assert_str_eq(msg,
                     "web.yaml:8:49: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnored"
                     "DuringExecution.nodeSelectorTerms[0].matchExpressions[0]: In needs values\n"
                     "web.yaml:9:22: spec.affinity.podAntiAffinity: berth does not support pod "
                     "anti-affinity\n"
                     "web.yaml:11:53: spec.tolerations[0].tolerationSeconds: only with effect "
                     "NoExecute\n"
                     "web.yaml:12:5: spec.tolerations[1]: a toleration without a key must have "
                     "operator Exists");
    free(msg);
}
END_TEST

START_TEST(namespaces)
{
    static const char yaml[] = "apiVersion: v1\n"
                               "kind: Namespace\n"
                               "metadata: {name: team-a, labels: {owner: ops}}\n"
                               "---\n"
                               "apiVersion: apps/v1\n"
                               "kind: Deployment\n"
                               "metadata: {name: web, namespace: team-a}\n"
                               "spec:\n"
                               "  selector: {matchLabels: {app: web}}\n"
                               "  template:\n"
                               "    metadata: {labels: {app: web}, namespace: team-a}\n"
                               "    spec: {containers: [{name: a, image: busybox}]}\n"
                               "---\n"
                               "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: web, namespace: default}\n"
                               "spec: {containers: [{name: a, image: busybox}]}\n"
                               "---\n"
                               "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: solo}\n"
                               "spec: {containers: [{name: a, image: busybox}]}\n";
    berth_manifest *m = parse_ok(yaml);
    char *msg;

    /* the same name in two namespaces is two workloads */
    ck_assert_uint_eq(m->n_namespaces, 1);
    ck_assert_str_eq(m->namespaces[0]->name, "team-a");
    ck_assert_uint_eq(m->namespaces[0]->n_labels, 1);
    ck_assert_str_eq(m->namespaces[0]->source, "web.yaml");
    ck_assert_uint_eq(m->n_workloads, 3);
    ck_assert_str_eq(m->workloads[0]->namespace_, "team-a");
    /* as written: the controller tells "default" from none (apply -n) */
    ck_assert_str_eq(m->workloads[1]->namespace_, "default");
    ck_assert_str_eq(m->workloads[2]->namespace_, "");
    berth_manifest_free(m);

    msg = parse_fail("apiVersion: apps/v1\nkind: Namespace\nmetadata: {name: a}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Namespace\nmetadata: {name: b, namespace: c}\n"
                     "spec: {finalizers: [kubernetes]}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Namespace\nmetadata: {name: B.c}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n"
                     "spec: {containers: [{name: a, image: b}]}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n"
                     "spec: {containers: [{name: a, image: b}]}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Service\nmetadata: {name: p}\n");
    ck_assert_str_eq(msg,
                     "web.yaml:2:7: kind: apiVersion apps/v1 has no kind Namespace (use v1)\n"
                     "web.yaml:7:32: metadata.namespace: a Namespace is in none\n"
                     "web.yaml:8:20: spec.finalizers: berth has no finalizers (a namespace's "
                     "workloads are deleted with it)\n"
                     "web.yaml:12:18: metadata.name: namespace 'b' is named by an earlier "
                     "document too (line 7)\n"
                     "web.yaml:16:18: metadata.name: 'B.c' is not a valid namespace name (1-63 "
                     "of a-z 0-9 -, starting and ending with a letter or digit)\n"
                     "web.yaml:25:18: metadata.name: 'p' is named by an earlier document too "
                     "(line 20)\n"
                     "web.yaml:29:7: kind: 'Service' is not a kind berth runs (Pod, "
                     "Deployment, DaemonSet, Job, CronJob, Namespace, "
                     "PodDisruptionBudget, Secret, ConfigMap)");
    free(msg);
}
END_TEST

START_TEST(disruption_budgets)
{
    static const char yaml[] = "apiVersion: policy/v1\n"
                               "kind: PodDisruptionBudget\n"
                               "metadata: {name: web, namespace: team-a, labels: {o: p}}\n"
                               "spec:\n"
                               "  minAvailable: 50%\n"
                               "  selector:\n"
                               "    matchLabels: {app: web}\n"
                               "    matchExpressions:\n"
                               "    - {key: tier, operator: NotIn, values: [batch]}\n"
                               "---\n"
                               "apiVersion: policy/v1\n"
                               "kind: PodDisruptionBudget\n"
                               "metadata: {name: all}\n"
                               "spec: {maxUnavailable: 1, selector: {}, "
                               "unhealthyPodEvictionPolicy: AlwaysAllow}\n";
    berth_manifest *m = parse_ok(yaml);
    const PodDisruptionBudget *b;
    char *msg;

    ck_assert_uint_eq(m->n_workloads, 0);
    ck_assert_uint_eq(m->n_budgets, 2);
    b = m->budgets[0];
    ck_assert_str_eq(b->name, "web");
    ck_assert_str_eq(b->namespace_, "team-a");
    ck_assert_uint_eq(b->n_labels, 1);
    ck_assert_ptr_nonnull(b->min_available);
    ck_assert_uint_eq(b->min_available->value, 50);
    ck_assert(b->min_available->percent);
    ck_assert_ptr_null(b->max_unavailable);
    ck_assert_uint_eq(b->selector->n_match_labels, 1);
    ck_assert_uint_eq(b->selector->n_match_expressions, 1);
    ck_assert_str_eq(b->selector->match_expressions[0]->operator_, "NotIn");
    ck_assert_str_eq(b->unhealthy_pod_eviction_policy, "IfHealthyBudget");
    b = m->budgets[1];
    ck_assert_str_eq(b->namespace_, "");
    ck_assert_uint_eq(b->max_unavailable->value, 1);
    ck_assert(!b->max_unavailable->percent);
    ck_assert_ptr_nonnull(b->selector);
    ck_assert_uint_eq(b->selector->n_match_labels + b->selector->n_match_expressions, 0);
    ck_assert_str_eq(b->unhealthy_pod_eviction_policy, "AlwaysAllow");
    berth_manifest_free(m);

    msg = parse_fail("apiVersion: apps/v1\nkind: PodDisruptionBudget\nmetadata: {name: a}\n"
                     "spec: {}\n"
                     "---\n"
                     "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: b}\n"
                     "spec: {minAvailable: 1, maxUnavailable: 120%}\n"
                     "---\n"
                     "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: c}\n"
                     "spec:\n"
                     "  selector: {matchExpressions: [{key: a, operator: Gt, values: ['1']}]}\n"
                     "  unhealthyPodEvictionPolicy: Never\n"
                     "---\n"
                     "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: c}\n"
                     "spec: {maxUnavailable: 1}\n");
    ck_assert_str_eq(msg, "web.yaml:2:7: kind: apiVersion apps/v1 has no kind PodDisruptionBudget "
                          "(use policy/v1)\n"
                          "web.yaml:9:41: spec.maxUnavailable: '120%' is not a percentage (0% to "
                          "100%)\n"
                          "web.yaml:9:41: spec.maxUnavailable: minAvailable and maxUnavailable "
                          "cannot be both set\n"
                          "web.yaml:15:52: spec.selector.matchExpressions[0].operator: a label "
                          "selector's: In, NotIn, Exists or DoesNotExist\n"
                          "web.yaml:16:31: spec.unhealthyPodEvictionPolicy: 'Never' is not one of "
                          "IfHealthyBudget, AlwaysAllow\n"
                          "web.yaml:20:18: metadata.name: PodDisruptionBudget 'c' is named by an "
                          "earlier document too (line 13)");
    free(msg);
}
END_TEST

/* Secrets and ConfigMaps as Kubernetes writes them, and the pod fields
 * that use them; an error never quotes a value. */
START_TEST(secrets_and_config_maps)
{
    static const char yaml[] =
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: db, namespace: team}\n"
        "type: kubernetes.io/basic-auth\n"
        "data: {username: YWRtaW4=, password: \"c2VjcmV0\\n\"}\n"
        "stringData: {password: s3cr3t}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: cfg}\n"
        "immutable: true\n"
        "data: {mode: prod, app.conf: \"a: 1\\n\"}\n"
        "binaryData: {blob: AAEC}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  imagePullSecrets: [{name: regcred}]\n"
        "  containers:\n"
        "  - name: a\n"
        "    image: busybox\n"
        "    env:\n"
        "    - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password, optional: true}}}\n"
        "    - {name: M, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}\n"
        "    envFrom: [{prefix: C_, configMapRef: {name: cfg}}, {secretRef: {name: db}}]\n"
        "    volumeMounts: [{name: s, mountPath: /s}, {name: c, mountPath: /c}]\n"
        "  volumes:\n"
        "  - name: s\n"
        "    secret: {secretName: db, defaultMode: 0440, items: [{key: password, path: "
        "x/pw}]}\n"
        "  - name: c\n"
        "    configMap: {name: cfg, optional: true}\n";
    berth_manifest *m = parse_ok(yaml);
    const ConfigObject *o;
    const ContainerSpec *s;
    char *msg;

    ck_assert_uint_eq(m->n_objects, 2);
    o = m->objects[0];
    ck_assert_int_eq(o->kind, CONFIG_SECRET);
    ck_assert_str_eq(o->namespace_, "team");
    ck_assert_str_eq(o->type, "kubernetes.io/basic-auth");
    ck_assert_uint_eq(o->n_data, 2);
    /* stringData wins over data */
    ck_assert_str_eq(o->data[1]->key, "password");
    ck_assert_uint_eq(o->data[1]->value.len, 6);
    ck_assert_mem_eq(o->data[1]->value.data, "s3cr3t", 6);
    ck_assert_mem_eq(o->data[0]->value.data, "admin", 5);
    o = m->objects[1];
    ck_assert_int_eq(o->kind, CONFIG_MAP);
    ck_assert(o->immutable);
    ck_assert_uint_eq(o->n_data, 3);
    ck_assert_uint_eq(o->n_binary_keys, 1);
    ck_assert_str_eq(o->binary_keys[0], "blob");
    ck_assert_uint_eq(o->data[2]->value.len, 3);
    s = m->workloads[0]->template_;
    ck_assert_uint_eq(s->n_image_pull_secrets, 1);
    ck_assert_str_eq(s->image_pull_secrets[0], "regcred");
    ck_assert_uint_eq(s->n_env_key_refs, 2);
    ck_assert_int_eq(s->env_key_refs[0]->kind, CONFIG_SECRET);
    ck_assert(s->env_key_refs[0]->optional);
    ck_assert_str_eq(s->env_key_refs[1]->object, "cfg");
    ck_assert_uint_eq(s->n_env_from, 2);
    ck_assert_str_eq(s->env_from[0]->prefix, "C_");
    ck_assert_int_eq(s->env_from[1]->kind, CONFIG_SECRET);
    ck_assert_uint_eq(s->n_mounts, 2);
    ck_assert_int_eq(s->mounts[0]->type, MOUNT_CONFIG);
    ck_assert(s->mounts[0]->readonly);
    ck_assert_uint_eq(s->mounts[0]->config->default_mode, 0440);
    ck_assert_str_eq(s->mounts[0]->config->items[0]->path, "x/pw");
    ck_assert(s->mounts[1]->config->optional);
    berth_manifest_free(m);

    /* errors: none shows a value */
    msg = parse_fail("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n"
                     "data: {pw: 'not base64!', 'bad key': eA==}\n"
                     "type: kubernetes.io/tls\n"
                     "spec: {}\n"
                     "---\n"
                     "apiVersion: apps/v1\nkind: ConfigMap\nmetadata: {name: b}\n"
                     "---\n"
                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                     "data: {k: x}\nbinaryData: {k: eA==}\nstringData: {}\n"
                     "---\n"
                     "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                     "spec:\n  containers: [{name: a, image: b}]\n"
                     "  volumes: [{name: v, secret: {secretName: s, items: [{key: k, path: "
                     "../x}], defaultMode: 0999}}]\n");
    ck_assert_ptr_null(strstr(msg, "not base64!"));
    /* kubelet's own names in a volume are no key's or path's */
    ck_assert(!berth_config_key_valid("..data"));
    ck_assert(berth_config_key_valid(".dockerconfigjson"));
    ck_assert(!berth_config_path_valid("./pw"));
    ck_assert(!berth_config_path_valid("a/..b"));
    ck_assert(!berth_config_path_valid("a//b"));
    ck_assert(berth_config_path_valid("a/.b"));
    ck_assert_str_eq(msg,
                     "web.yaml:4:12: data.pw: not base64 (the value is not shown)\n"
                     "web.yaml:4:38: data.bad key: 'bad key' is not a valid key (1-253 of a-z "
                     "A-Z 0-9 . _ -)\n"
                     "web.yaml:5:7: type: kubernetes.io/tls needs the key tls.crt\n"
                     "web.yaml:5:7: type: kubernetes.io/tls needs the key tls.key\n"
                     "web.yaml:6:7: spec: unknown field\n"
                     "web.yaml:9:7: kind: apiVersion apps/v1 has no kind ConfigMap (use v1)\n"
                     "web.yaml:16:17: binaryData.k: key 'k' is in both data and binaryData\n"
                     "web.yaml:17:13: stringData: unknown field (a Secret's)\n"
                     "web.yaml:24:70: spec.volumes[0].secret.items[0].path: '../x' is not a "
                     "relative path without '..' elements\n"
                     "web.yaml:24:91: spec.volumes[0].secret.defaultMode: '0999' is not a file "
                     "mode (0 to 0777)");
    free(msg);
}
END_TEST

/* Kubernetes' own example of a podFailurePolicy, unchanged. */
START_TEST(pod_failure_policy)
{
    static const char yaml[] = "apiVersion: batch/v1\n"
                               "kind: Job\n"
                               "metadata:\n"
                               "  name: job-pod-failure-policy-example\n"
                               "spec:\n"
                               "  completions: 12\n"
                               "  parallelism: 3\n"
                               "  template:\n"
                               "    spec:\n"
                               "      restartPolicy: Never\n"
                               "      containers:\n"
                               "      - name: main\n"
                               "        image: docker.io/library/bash:5\n"
                               "        command: [\"bash\"]\n"
                               "        args:\n"
                               "        - -c\n"
                               "        - echo \"Hello world!\" && sleep 5 && exit 42\n"
                               "  backoffLimit: 6\n"
                               "  podFailurePolicy:\n"
                               "    rules:\n"
                               "    - action: FailJob\n"
                               "      onExitCodes:\n"
                               "        containerName: main\n"
                               "        operator: In\n"
                               "        values: [42]\n"
                               "    - action: Ignore\n"
                               "      onPodConditions:\n"
                               "      - type: DisruptionTarget\n";
    berth_manifest *m = parse_ok(yaml);
    const JobSpec *j = m->workloads[0]->job;

    ck_assert_uint_eq(j->n_pod_failure_policy, 2);
    ck_assert_str_eq(j->pod_failure_policy[0]->action, "FailJob");
    ck_assert_str_eq(j->pod_failure_policy[0]->on_exit_codes->container_name, "main");
    ck_assert_str_eq(j->pod_failure_policy[0]->on_exit_codes->operator_, "In");
    ck_assert_uint_eq(j->pod_failure_policy[0]->on_exit_codes->n_values, 1);
    ck_assert_int_eq(j->pod_failure_policy[0]->on_exit_codes->values[0], 42);
    ck_assert_str_eq(j->pod_failure_policy[1]->action, "Ignore");
    ck_assert_uint_eq(j->pod_failure_policy[1]->n_on_pod_conditions, 1);
    ck_assert_str_eq(j->pod_failure_policy[1]->on_pod_conditions[0], "DisruptionTarget");
    berth_manifest_free(m);
}
END_TEST

START_TEST(host_ports)
{
    static const char yaml[] =
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata: {name: p}\n"
        "spec:\n"
        "  containers:\n"
        "  - name: a\n"
        "    image: busybox\n"
        "    ports:\n"
        "    - {containerPort: 80, hostPort: 8080}\n"
        "    - {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 10.0.0.5}\n"
        "    - {containerPort: 9090, name: metrics}\n";
    berth_manifest *m = parse_ok(yaml);
    const ContainerSpec *t = m->workloads[0]->template_;
    char *msg;

    ck_assert_uint_eq(t->n_host_ports, 2);
    ck_assert_uint_eq(t->host_ports[0]->host_port, 8080);
    ck_assert_uint_eq(t->host_ports[0]->container_port, 80);
    ck_assert_str_eq(t->host_ports[0]->protocol, "TCP");
    ck_assert_str_eq(t->host_ports[1]->protocol, "UDP");
    ck_assert_str_eq(t->host_ports[1]->host_ip, "10.0.0.5");
    berth_manifest_free(m);
    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  containers:\n"
                     "  - name: a\n"
                     "    image: busybox\n"
                     "    ports:\n"
                     "    - {containerPort: 80, hostPort: 8080, protocol: SCTP}\n"
                     "    - {containerPort: 81, hostIP: 10.0.0.5}\n"
                     "    - {containerPort: 82, hostPort: 70000}\n");
    ck_assert_str_eq(msg,
                     "web.yaml:9:37: spec.containers[0].ports[0].hostPort: berth publishes TCP "
                     "and UDP ports, not SCTP\n"
                     "web.yaml:10:35: spec.containers[0].ports[1].hostIP: only with hostPort\n"
                     "web.yaml:11:37: spec.containers[0].ports[2].hostPort: 70000 is out of "
                     "range (1..65535)");
    free(msg);
    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  hostNetwork: true\n"
                     "  containers:\n"
                     "  - name: a\n"
                     "    image: busybox\n"
                     "    ports:\n"
                     "    - {containerPort: 80, hostPort: 8080}\n");
    ck_assert_msg(strstr(msg, "with the host's network, hostPort must be the containerPort (80)"),
                  "%s", msg);
    free(msg);
}
END_TEST

START_TEST(dns_policy_and_config)
{
    static const char yaml[] = "apiVersion: v1\n"
                               "kind: Pod\n"
                               "metadata: {name: p}\n"
                               "spec:\n"
                               "  dnsPolicy: None\n"
                               "  dnsConfig:\n"
                               "    nameservers: [10.0.0.10]\n"
                               "    searches: [ns1.svc.example]\n"
                               "    options: [{name: ndots, value: '2'}, {name: edns0}]\n"
                               "  containers: [{name: a, image: busybox}]\n";
    berth_manifest *m = parse_ok(yaml);
    const PodDNS *d = m->workloads[0]->template_->dns;
    char *msg;

    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->policy, "None");
    ck_assert_str_eq(d->nameservers[0], "10.0.0.10");
    ck_assert_str_eq(d->searches[0], "ns1.svc.example");
    ck_assert_str_eq(d->options[0]->value, "2");
    ck_assert_str_eq(d->options[1]->value, "");
    berth_manifest_free(m);
    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  dnsPolicy: None\n"
                     "  dnsConfig: {options: [{name: 'a b'}]}\n"
                     "  containers: [{name: a, image: busybox}]\n");
    ck_assert_str_eq(msg, "web.yaml:5:14: spec.dnsPolicy: None needs dnsConfig.nameservers\n"
                          "web.yaml:6:25: spec.dnsConfig.options[0]: a resolver option is a word, "
                          "with a value of one");
    free(msg);
    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                     "  dnsConfig: {nameservers: [dns.example]}\n"
                     "  containers: [{name: a, image: busybox}]\n");
    ck_assert_msg(strstr(msg, "spec.dns.nameservers[0]: 'dns.example' is not an IP address"), "%s",
                  msg);
    free(msg);
}
END_TEST

START_TEST(env_value_from)
{
    static const char yaml[] =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: a\n"
        "    image: busybox\n"
        "    env:\n"
        "    - {name: PLAIN, value: x}\n"
        "    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
        "    - name: MEM\n"
        "      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}\n"
        "    - name: CPU\n"
        "      valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}\n";
    berth_manifest *m = parse_ok(yaml);
    const ContainerSpec *s = m->workloads[0]->template_;
    char *msg;

    ck_assert_uint_eq(s->n_env, 1);
    ck_assert_uint_eq(s->n_env_refs, 3);
    ck_assert_str_eq(s->env_refs[0]->field_path, "metadata.name");
    ck_assert_str_eq(s->env_refs[1]->resource, "limits.memory");
    ck_assert_int_eq(s->env_refs[1]->divisor, 1 << 20);
    ck_assert_int_eq(s->env_refs[2]->divisor, 1);
    berth_manifest_free(m);
    msg = parse_fail(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: a\n"
        "    image: busybox\n"
        "    env:\n"
        "    - {name: A, valueFrom: {secretKeyRef: {name: s, key: 'k/x'}}}\n"
        "    - {name: B, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}\n");
    ck_assert_str_eq(msg, "web.yaml:9:58: spec.containers[0].env[0].valueFrom.secretKeyRef.key: "
                          "'k/x' is not a valid key (1-253 of a-z A-Z 0-9 . _ -)\n"
                          "web.yaml:10:51: spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: "
                          "'spec.serviceAccountName' is not one berth fills in (metadata.name, "
                          "metadata.namespace, metadata.uid, metadata.labels['KEY'], "
                          "spec.nodeName, status.podIP, status.podIPs, status.hostIP, "
                          "status.hostIPs)");
    free(msg);
}
END_TEST

START_TEST(lifecycle_hooks)
{
    static const char yaml[] =
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: a\n"
        "    image: busybox\n"
        "    ports: [{name: http, containerPort: 8080}]\n"
        "    lifecycle:\n"
        "      postStart: {httpGet: {path: /warm, port: http}}\n"
        "      preStop: {exec: {command: [sh, -c, 'sleep 5']}}\n";
    berth_manifest *m = parse_ok(yaml);
    const ContainerSpec *s = m->workloads[0]->template_;
    char *msg;

    ck_assert_int_eq(s->lifecycle->post_start->action_case, PROBE_ACTION_HTTP_GET);
    ck_assert_uint_eq(s->lifecycle->post_start->http_get->port, 8080);
    ck_assert_int_eq(s->lifecycle->pre_stop->action_case, PROBE_ACTION_EXEC);
    berth_manifest_free(m);
    m = parse_ok("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                 "  - name: a\n"
                 "    image: busybox\n"
                 "    lifecycle: {preStop: {sleep: {seconds: 5}}}\n");
    s = m->workloads[0]->template_;
    ck_assert_int_eq(s->lifecycle->pre_stop->action_case, PROBE_ACTION_SLEEP);
    ck_assert_int_eq(s->lifecycle->pre_stop->sleep->seconds, 5);
    berth_manifest_free(m);
    msg = parse_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                     "  - name: a\n"
                     "    image: busybox\n"
                     "    lifecycle: {preStop: {sleep: {seconds: 4000}}}\n");
    ck_assert_str_eq(msg, "web.yaml:8:44: spec.containers[0].lifecycle.preStop.sleep.seconds: "
                          "4000 is out of range (0..3600)");
    free(msg);
}
END_TEST

/* ---- replicas ---- */

START_TEST(replica_ids)
{
    char id[BERTH_ID_BUF];

    berth_replica_id(NULL, "web", WORKLOAD_DEPLOYMENT, 3, "n1", id);
    ck_assert_str_eq(id, "web-3");
    berth_replica_id(NULL, "logs", WORKLOAD_DAEMONSET, 0, "node-1", id);
    ck_assert_str_eq(id, "logs.node-1");
    /* unique by construction: DaemonSet x on node y-1 is not replica 1 of
     * Deployment x-y (both were x-y-1) */
    {
        char ds[BERTH_ID_BUF], dep[BERTH_ID_BUF];

        berth_replica_id(NULL, "x", WORKLOAD_DAEMONSET, 0, "y-1", ds);
        berth_replica_id(NULL, "x-y", WORKLOAD_DEPLOYMENT, 1, "y-1", dep);
        ck_assert_str_eq(ds, "x.y-1");
        ck_assert_str_eq(dep, "x-y-1");
    }
    /* the longest workload name on the longest node name is still an id */
    {
        char w[BERTH_WORKLOAD_NAME_MAX + 1], n[64];

        memset(w, 'w', sizeof(w) - 1);
        w[sizeof(w) - 1] = '\0';
        memset(n, 'n', sizeof(n) - 1);
        n[sizeof(n) - 1] = '\0';
        berth_replica_id(NULL, w, WORKLOAD_DAEMONSET, 0, n, id);
        ck_assert_uint_eq(strlen(id), 53 + 1 + 63);
        ck_assert(berth_spec_id_valid(id));
    }
    /* a node name that is none: a stable hash no valid name makes */
    berth_replica_id(NULL, "logs", WORKLOAD_DAEMONSET, 0, "Not A Node", id);
    ck_assert_uint_eq(strlen(id), 4 + 2 + 16);
    ck_assert_int_eq(strncmp(id, "logs._", 6), 0);
    ck_assert(berth_spec_id_valid(id));
    /* namespaces: "default" keeps the bare id, others prefix "<ns>__" */
    berth_replica_id("default", "web", WORKLOAD_DEPLOYMENT, 3, "n1", id);
    ck_assert_str_eq(id, "web-3");
    berth_replica_id("team-a", "web", WORKLOAD_DEPLOYMENT, 3, "n1", id);
    ck_assert_str_eq(id, "team-a__web-3");
    {
        char ns[BERTH_NAMESPACE_BUF], key[BERTH_WORKLOAD_KEY_BUF];

        ck_assert_str_eq(berth_id_split(id, ns), "web-3");
        ck_assert_str_eq(ns, "team-a");
        ck_assert_str_eq(berth_id_split("team-a__web-3_app", ns), "web-3_app");
        ck_assert_str_eq(berth_id_split("web-3", ns), "web-3");
        ck_assert_str_eq(ns, "default");
        /* a node name with "__" is no namespace: the DaemonSet id hashes it */
        berth_replica_id(NULL, "logs", WORKLOAD_DAEMONSET, 0, "a__b", id);
        ck_assert_int_eq(strncmp(id, "logs._", 6), 0);
        ck_assert_str_eq(berth_id_split("logs.a__b", ns), "logs.a__b");
        ck_assert_str_eq(ns, "default");
        berth_workload_key(NULL, "web", key);
        ck_assert_str_eq(key, "web");
        berth_workload_key("team-a", "web", key);
        ck_assert_str_eq(key, "team-a/web");
    }
    /* the longest names: a DaemonSet's pod id leaves room for a container */
    {
        char w[BERTH_WORKLOAD_NAME_MAX + 1], n[64], ns[64], mid[BERTH_ID_BUF];

        memset(w, 'w', sizeof(w) - 1);
        w[sizeof(w) - 1] = '\0';
        memset(n, 'n', sizeof(n) - 1);
        n[sizeof(n) - 1] = '\0';
        memset(ns, 's', sizeof(ns) - 1);
        ns[sizeof(ns) - 1] = '\0';
        berth_replica_id(ns, w, WORKLOAD_DAEMONSET, 0, n, id);
        ck_assert_uint_eq(strlen(id), 63 + 2 + 53 + 1 + 63);
        ck_assert_uint_le(strlen(id), BERTH_POD_ID_MAX);
        ck_assert(berth_spec_member_id(id, n, mid, sizeof(mid)));
        ck_assert(berth_namespace_name_valid(ns));
        ck_assert(!berth_namespace_name_valid(
            "s" /* 64 */
            "sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss"));
    }
    ck_assert(berth_workload_name_valid("web-1"));
    ck_assert(!berth_workload_name_valid("web-"));
    ck_assert(!berth_workload_name_valid("Web"));
    ck_assert(!berth_workload_name_valid(""));
    ck_assert_str_eq(berth_workload_kind_name(WORKLOAD_DAEMONSET), "DaemonSet");
    ck_assert_int_eq(berth_workload_kind_parse("Pod"), WORKLOAD_POD);
    ck_assert_int_eq(berth_workload_kind_parse("pod"), WORKLOAD_KIND_UNSPECIFIED);
}
END_TEST

START_TEST(replica_spec_is_a_labelled_copy)
{
    berth_manifest *m = parse_ok(berth_deployment);
    ContainerSpec *s = NULL;
    berth_error *err = NULL;

    ck_assert_int_eq(berth_replica_spec(m->workloads[0], "web-2", "2", &s, &err), 0);
    ck_assert_str_eq(s->id, "web-2");
    ck_assert_str_eq(label(s->labels, s->n_labels, "berth.workload"), "web");
    ck_assert_str_eq(label(s->labels, s->n_labels, "berth.replica"), "2");
    ck_assert_str_eq(label(s->labels, s->n_labels, "app"), "web");
    ck_assert_str_eq(s->image, "busybox");
    /* the template is untouched */
    ck_assert_str_eq(m->workloads[0]->template_->id, "");
    ck_assert_ptr_null(label(m->workloads[0]->template_->labels,
                             m->workloads[0]->template_->n_labels, "berth.replica"));
    container_spec_free_unpacked(s, NULL);
    berth_manifest_free(m);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, berth_deployment_maps_every_field);
    tcase_add_test(tc, kubernetes_forms_and_several_documents);
    tcase_add_test(tc, kubernetes_images_without_command);
    tcase_add_test(tc, probes);
    tcase_add_test(tc, probe_mistakes);
    tcase_add_test(tc, empty_manifests_are_empty);
    tcase_add_test(tc, deployment_rollout_fields);
    tcase_add_test(tc, job_fields);
    tcase_add_test(tc, cronjob_fields);
    tcase_add_test(tc, extended_resources);
    tcase_add_test(tc, pod_devices_annotation);
    tcase_add_loop_test(tc, rejected_with_file_line_column_and_path, 0,
                        sizeof(bad_cases) / sizeof(bad_cases[0]));
    tcase_add_test(tc, one_bad_document_spoils_the_file);
    tcase_add_test(tc, runtime_validation_has_the_last_word);
    tcase_add_test(tc, bounded);
    tcase_add_test(tc, template_labels_leave_room_for_the_replica_labels);
    suite_add_tcase(s, tc);
    tc = tcase_create("replicas");
    tcase_add_test(tc, pod_of_several_containers);
    tcase_add_test(tc, pod_security_context);
    tcase_add_test(tc, placement_rules);
    tcase_add_test(tc, env_value_from);
    tcase_add_test(tc, namespaces);
    tcase_add_test(tc, host_ports);
    tcase_add_test(tc, disruption_budgets);
    tcase_add_test(tc, pod_failure_policy);
    tcase_add_test(tc, secrets_and_config_maps);
    tcase_add_test(tc, dns_policy_and_config);
    tcase_add_test(tc, lifecycle_hooks);
    tcase_add_test(tc, replica_ids);
    tcase_add_test(tc, replica_spec_is_a_labelled_copy);
    suite_add_tcase(s, tc);
    return s;
}
