#!/usr/bin/env bash
# End to end: pods of several containers on a fleet of three nodes, as a
# Kubernetes user writes them, checked as the operator sees them (berthctl)
# and as they are (processes, namespaces, cgroups):
#
#   1. a Deployment of 3 pods, each an init container that fails twice
#      then succeeds, a sidecar (restartPolicy Always, with a startup
#      probe) serving on the pod's localhost, and two containers, one of
#      which reaches the sidecar: the init container runs first, the app
#      after it; get pods says READY 3/3 Running with the restarts;
#      describe pod, logs -c and --previous as kubectl gives them
#   2. the app's readiness flips while it keeps running: READY 2/3 and
#      back, no restart
#   3. shareProcessNamespace: one container sees the other's processes,
#      and the pause as pid 1
#   4. kill -9 the agent of a node with a pod: nothing restarts, the init
#      container does not run again; the pod is re-adopted whole
#   5. taints: a NoExecute taint takes a pod that does not tolerate it off
#      its node at once, and one that tolerates it for tolerationSeconds
#      once they ran out; the placement says why a pod has no node
#   6. namespaces: a Deployment of the same name as default's in its own
#      namespace (apply -n), its pods apart (get pods -n, -A), fieldRefs
#      and hostname; deleting the namespace deletes its workloads, and
#      their containers go from the nodes
#   7. the workloads deleted: no container, sandbox, cgroup, mount or
#      pause left
#
#   pods-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_e2e_init
SHARED=$FLEET_DIR/shared
mkdir -p "$SHARED"

ctl_start || exit 1
NODES="n1 n2 n3"
for n in $NODES; do
	node_start $n
done
wait_until 30 nodes_ready 3
expect "three nodes Ready" "3" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"

# pod_field POD COLUMN: a column of get pods (1 NAME 2 READY 3 STATUS 4
# RESTARTS 5 AGE 6 IP 7 NODE).
pod_field() {
	bctl get pods -o wide | awk -v p="$1" -v c="$2" '$1 == p { print $c }'
}
# The pods of web that are Running with READY want.
web_ready() {
	[ "$(bctl get pods --workload web | awk -v w="$1" 'NR > 1 && $2 == w && $3 == "Running"' |
		wc -l)" -eq 3 ]
}
# A container's pid as berthctl shows it.
cpid() {
	bctl get containers -o wide | awk -v c="$1" '$1 == c { print $8 }'
}

# --- 1. a Deployment of pods with init containers and a sidecar ---------------

scenario "1. a Deployment of 3 pods: init container, sidecar, two containers"
cat >"$FLEET_DIR/web.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
      - name: shared
        hostPath: {path: $SHARED}
      initContainers:
      - name: setup
        image: bb
        command: [/bin/sh, -c, 'f=/shared/\$(hostname).count; n=\$((\$(cat \$f 2>/dev/null || echo 0) + 1)); echo \$n >\$f; echo "attempt \$n"; [ \$n -ge 3 ]']
        volumeMounts: [{name: shared, mountPath: /shared}]
      - name: proxy
        image: bb
        restartPolicy: Always
        command: [/bin/sh, -c, 'while true; do echo pong | nc -l -p 9000 >/dev/null; done']
        startupProbe:
          tcpSocket: {port: 9000}
          periodSeconds: 1
      containers:
      - name: app
        image: bb
        command: [/bin/sh, -c, 'until r=\$(nc 127.0.0.1 9000 </dev/null) && [ -n "\$r" ]; do sleep 0.2; done; echo "app of \$(hostname) got \$r"; exec sleep 100000']
        readinessProbe:
          exec: {command: [test, -e, /shared/ready]}
          periodSeconds: 1
        volumeMounts: [{name: shared, mountPath: /shared, readOnly: true}]
        resources:
          limits: {memory: 64Mi}
      - name: logger
        image: bb
        command: [/bin/sh, -c, 'echo "logger of \$(hostname): pod=\$POD node=\$NODE app-memory=\${APP_MEM}Mi uid=\${#UID_}"; exec sleep 100000']
        env:
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: UID_, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
        - name: APP_MEM
          valueFrom: {resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
YAML
: >"$SHARED/ready"
out=$(bctl apply -f "$FLEET_DIR/web.yaml" 2>&1)
contains "apply: web created" "deployment/web created" "$out"
# While the init containers fail, the pods say so, and their app
# containers wait for them.
seen=
init_seen() {
	local s
	s=$(bctl get pods --workload web | awk 'NR > 1 { print $3 }' | sort -u | tr '\n' ' ')
	seen="$seen $s"
	case "$s" in *Init:*) return 0 ;; esac
	return 1
}
wait_until 20 init_seen
contains "a pod shows its init container at work" "Init:" "$seen"
app_state=$(bctl get containers --workload web | awk '$1 ~ /_app$/ { print $4 }' | sort -u)
contains "the app waits for the init containers" "PodInitializing" "$app_state"
if ! wait_until 120 web_ready 3/3; then
	bad "web did not become 3/3 Running: $(bctl get pods 2>&1)"
fi
W0=$(deploy_pod web 0)
W1=$(deploy_pod web 1)
W2=$(deploy_pod web 2)
for p in "$W0" "$W1" "$W2"; do
	expect "$p: READY STATUS RESTARTS" "3/3 Running 2" \
		"$(pod_field $p 2) $(pod_field $p 3) $(pod_field $p 4)"
	expect "$p: the init container ran three times" "3" "$(cat "$SHARED/$p.count")"
	expect "$p: the app reached its sidecar on the pod's localhost" "app of $p got pong" \
		"$(bctl logs $p -c app 2>&1)"
done
expect "get pods columns" "NAME READY STATUS RESTARTS AGE" "$(bctl get pods | head -1 | xargs)"
expect "env fieldRef and resourceFieldRef, filled in by the node" \
	"logger of ${W0}: pod=${W0} node=$(pod_field ${W0} 7) app-memory=64Mi uid=36" \
	"$(bctl logs ${W0} -c logger 2>&1)"
out=$(bctl logs ${W0} 2>&1)
expect "logs without -c names the containers" \
	"berthctl: a container name must be specified for pod ${W0}, choose one of: [app logger] or one of the init containers: [setup proxy]" \
	"$out"
expect "logs -c setup: its last run" "attempt 3" "$(bctl logs ${W0} -c setup 2>&1)"
expect "logs -c setup --previous: the run before" "attempt 2" \
	"$(bctl logs ${W0} -c setup --previous 2>&1)"
contains "logs -c app --previous: there was none" "previous terminated container ${W0}_app not found" \
	"$(bctl logs ${W0} -c app --previous 2>&1)"
out=$(bctl describe pod ${W0} 2>&1)
contains "describe pod: init containers" "Init Containers:" "$out"
contains "describe pod: the sidecar's startup probe" "Startup:" "$out"
contains "describe pod: the init container completed" "Completed" "$out"
contains "describe pod: Ready condition" "Ready             True" "$out"
out=$(bctl describe workload web 2>&1)
contains "describe workload: each of the pod's containers" \
	"Init container setup:" "$out"
contains "describe workload: the sidecar" "Sidecar proxy:" "$out"
contains "describe workload: the last container" "Container logger:" "$out"
# As it is: the app and the sidecar share one network namespace, their
# own and not the host's; the pod's containers are below its cgroup.
app=$(cpid ${W0}_app)
proxy=$(cpid ${W0}_proxy)
expect "app and sidecar share the pod's network namespace" "$(readlink /proc/$proxy/ns/net)" \
	"$(readlink /proc/$app/ns/net)"
bad_ns=$(readlink /proc/self/ns/net)
[ "$(readlink /proc/$app/ns/net)" != "$bad_ns" ] && ok "the pod's network is not the host's" ||
	bad "the pod's network is the host's"
node=$(pod_field ${W0} 7)
cg=$(cat /proc/$app/cgroup | awk -F: '$2 ~ /pids/ || $2 == "" { print $3 }' | head -1)
contains "the app's cgroup is below its pod's" "/${W0}/${W0}_app" "$cg"

# --- 2. readiness flips, the pod runs on ---------------------------------------

scenario "2. readiness flips while the pods keep running"
rm -f "$SHARED/ready"
wait_until 20 web_ready 2/3 && ok "not ready: READY 2/3, still Running" ||
	bad "READY did not go to 2/3: $(bctl get pods 2>&1)"
expect "no restart for readiness" "2" "$(pod_field ${W1} 4)"
: >"$SHARED/ready"
wait_until 20 web_ready 3/3 && ok "ready again: READY 3/3" ||
	bad "READY did not come back: $(bctl get pods 2>&1)"

# --- 3. a shared PID namespace ----------------------------------------------------

scenario "3. shareProcessNamespace"
cat >"$FLEET_DIR/shared.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: bb
    command: [/bin/sh, -c, 'exec sleep 99999']
  - name: peek
    image: bb
    command: [/bin/sh, -c, 'until ps | grep -q "[s]leep 99999"; do sleep 0.2; done; ps -o pid,args; exec sleep 100000']
YAML
bctl apply -f "$FLEET_DIR/shared.yaml" >/dev/null 2>&1
peeked() {
	bctl logs shared-0 -c peek 2>/dev/null | grep -q 'sleep 99999'
}
wait_until 30 peeked && ok "a container sees its pod's other container" ||
	bad "peek saw nothing: $(bctl logs shared-0 -c peek 2>&1)"
expect "pid 1 of the pod is its pause" "1 berth-pause" \
	"$(bctl logs shared-0 -c peek 2>&1 | awk '$1 == 1 { print $1, $2 }')"

# --- 4. kill -9 an agent with a pod ---------------------------------------------------

scenario "4. kill -9 the agent of $node (${W0}'s node), then restart it"
before=$(bctl get containers --node "$node" -o wide | awk 'NR > 1 { print $1 "=" $8 }' | sort |
	tr '\n' ' ')
node_kill "$node" KILL
sleep 1
expect "${W0}'s app runs on without its agent" "0" "$(kill -0 "$app" 2>/dev/null; echo $?)"
node_start "$node"
readopted() {
	grep -q "started: node $node, .* container(s) adopted" "$FLEET_DIR/$node/log"
}
wait_until 20 readopted && ok "$node's agent re-adopted its containers" || bad "no re-adoption"
sleep 3
expect "nothing restarted (same pids)" "$before" \
	"$(bctl get containers --node "$node" -o wide | awk 'NR > 1 { print $1 "=" $8 }' | sort |
		tr '\n' ' ')"
expect "the init container did not run again" "3" "$(cat "$SHARED/${W0}.count")"
expect "${W0} is whole: READY STATUS" "3/3 Running" "$(pod_field ${W0} 2) $(pod_field ${W0} 3)"

# --- 5. taints ----------------------------------------------------------------------------

scenario "5. a NoExecute taint, and a toleration of 6 s"
pod_node() {
	bctl get pods -o wide --workload "$1" | awk 'NR == 2 { print $7 }'
}
bctl node taint n1 hold=1:NoSchedule >/dev/null && bctl node taint n2 hold=1:NoSchedule >/dev/null
cat >"$FLEET_DIR/taint.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: tol}
spec:
  selector: {matchLabels: {app: tol}}
  template:
    metadata: {labels: {app: tol}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: maintenance, operator: Exists, effect: NoExecute, tolerationSeconds: 6}
      containers: [{name: tol, image: bb, command: [sleep, '100000']}]
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  nodeName: n3
  terminationGracePeriodSeconds: 1
  containers: [{name: plain, image: bb, command: [sleep, '100000']}]
YAML
out=$(bctl apply -f "$FLEET_DIR/taint.yaml" --wait --wait-timeout 60s 2>&1)
contains "both run" "tol: 1/1 running" "$out"
expect "NoSchedule kept them on n3" "n3 n3" "$(pod_node tol) $(pod_node plain)"
bctl node taint n1 hold:NoSchedule- >/dev/null && bctl node taint n2 hold- >/dev/null
contains "describe node: no taints left on n1" "Taints:         <none>" "$(bctl describe node n1)"
t_taint=$SECONDS
out=$(bctl node taint n3 maintenance=now:NoExecute 2>&1)
expect "node taint" "node/n3 tainted" "$out"
contains "describe node: the taint" "maintenance=now:NoExecute" "$(bctl describe node n3)"
plain_gone() {
	[ -z "$(pod_node plain)" ]
}
wait_until 15 plain_gone && ok "the pod without a toleration left n3 at once" ||
	bad "plain still on $(pod_node plain)"
contains "and says why it has no node" \
	"2 are not the node named in nodeName, 1 had untolerated taint {maintenance: now}" \
	"$(bctl get workloads -o wide plain)"
sleep 2
expect "the tolerating pod stays for its 6 s" "n3" "$(pod_node tol)"
tol_moved() {
	n=$(pod_node tol)
	[ -n "$n" ] && [ "$n" != n3 ]
}
wait_until 30 tol_moved && ok "then it moves ($(pod_node tol), after $((SECONDS - t_taint)) s)" ||
	bad "tol did not move: $(bctl get pods -o wide --workload tol)"
[ $((SECONDS - t_taint)) -ge 5 ] && ok "not before its tolerationSeconds" ||
	bad "moved after $((SECONDS - t_taint)) s, before its 6 s"
expect "node taint: remove" "node/n3 untainted" "$(bctl node taint n3 maintenance- 2>&1)"
contains "removing a taint it does not have" 'taint "maintenance" not found on node n3' \
	"$(bctl node taint n3 maintenance- 2>&1)"
bctl delete tol plain >/dev/null 2>&1

# --- 6. namespaces --------------------------------------------------------------------

scenario "6. a namespace: its workloads apart from default's, deleted with it"
expect "create namespace" "namespace/team-a created" "$(bctl create namespace team-a 2>&1)"
contains "create it again" "namespace team-a already exists" "$(bctl create namespace team-a 2>&1)"
cat >"$FLEET_DIR/team.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: web, image: bb, command: [sleep, '100000']}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: solo
    image: bb
    command: [sh, -c, 'echo "ns=$NS name=$NAME host=$(hostname)"; exec sleep 100000']
    env:
    - name: NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
YAML
contains "into a namespace that is not there: refused" "namespace nope not found" \
	"$(bctl apply -n nope -f "$FLEET_DIR/team.yaml" 2>&1)"
expect "... and nothing applied" "" "$(bctl get workloads -A 2>/dev/null | awk '$1 == "nope"')"
out=$(bctl apply -n team-a -f "$FLEET_DIR/team.yaml" --wait --wait-timeout 60s 2>&1)
contains "apply -n team-a: the same name as default's web" "deployment/web created" "$out"
contains "... both run" "team-a/web: 2/2 running" "$out"
contains "a manifest naming another namespace than -n: kubectl's error" \
	"does not match the namespace \"other\"" \
	"$(sed 's/name: solo}/name: solo, namespace: team-a}/' "$FLEET_DIR/team.yaml" |
		bctl apply -n other -f - 2>&1)"
expect "get pods -n team-a" "solo-0 $(deploy_pod web 0 team-a) $(deploy_pod web 1 team-a)" \
	"$(bctl get pods -n team-a | awk 'NR > 1 { print $1 }' | sort | xargs)"
expect "default's web is untouched" "3" \
	"$(bctl get pods | awk 'NR > 1 && $1 ~ /^web-/ && $3 == "Running"' | wc -l)"
expect "get pods -A: a NAMESPACE column" "NAMESPACE NAME READY STATUS RESTARTS AGE" \
	"$(bctl get pods -A | head -1 | xargs)"
expect "... with both namespaces' pods" "3 3" \
	"$(bctl get pods -A | awk '$1 == "team-a" { a++ } $1 == "default" && $2 ~ /^web-/ { d++ }
		END { print a + 0, d + 0 }')"
expect "get namespaces" "default Active|team-a Active" \
	"$(bctl get namespaces | awk 'NR > 1 { print $1, $2 }' | paste -sd'|')"
solo_logged() {
	bctl logs -n team-a solo-0 2>/dev/null | grep -q "ns=team-a"
}
wait_until 20 solo_logged
expect "fieldRefs and hostname in the namespace" "ns=team-a name=solo-0 host=solo-0" \
	"$(bctl logs -n team-a solo-0 2>&1 | head -1)"
contains "describe pod -n" "Namespace:      team-a" "$(bctl describe pod -n team-a solo-0 2>&1)"
contains "a pod of team-a is not found in default" "pod solo-0 not found" \
	"$(bctl describe pod solo-0 2>&1)"
team_ids=$(ls "$FLEET_DIR"/n*/state/containers | grep -c '^team-a__')
expect "on the nodes, team-a's containers carry their namespace" "3" "$team_ids"
out=$(bctl delete namespace team-a 2>&1)
contains "delete namespace: its workloads" "deployment/web deleted" "$out"
contains "... and itself" "namespace/team-a deleted" "$out"
team_gone() {
	[ -z "$(ls "$FLEET_DIR"/n*/state/containers | grep '^team-a__')" ]
}
wait_until 30 team_gone && ok "team-a's containers stopped and removed on the nodes" ||
	bad "left: $(ls "$FLEET_DIR"/n*/state/containers | grep '^team-a__' | xargs)"
expect "get namespaces: gone" "default" "$(bctl get ns | awk 'NR > 1 { print $1 }' | xargs)"
expect "get pods -n team-a: none" "No resources found in team-a namespace." \
	"$(bctl get pods -n team-a 2>&1)"
expect "default's web runs on" "3" \
	"$(bctl get pods | awk 'NR > 1 && $1 ~ /^web-/ && $3 == "Running"' | wc -l)"
contains "default cannot be deleted" "namespace default cannot be deleted" \
	"$(bctl delete namespace default 2>&1)"

# --- 7. delete: nothing left ---------------------------------------------------------

scenario "7. delete the workloads"
pause=$(awk '{ print $1 }' "$FLEET_DIR"/n*/state/pods/shared-0/pause 2>/dev/null)
[ -n "$pause" ] && ok "the shared pod has a pause ($pause)" || bad "no pause file for shared-0"
bctl delete web >/dev/null 2>&1
bctl delete shared >/dev/null 2>&1
all_gone() {
	no_containers $NODES &&
		[ -z "$(find "$FLEET_DIR"/n*/state/pods -mindepth 1 -maxdepth 1 2>/dev/null)" ]
}
wait_until 30 all_gone && ok "no container and no sandbox left" ||
	bad "left: $(ls "$FLEET_DIR"/n*/state/containers "$FLEET_DIR"/n*/state/pods 2>&1)"
expect "no pod cgroup left" "" "$(for n in $NODES; do node_cgroups $n; done)"
# (a zombie is gone: whoever inherited it reaps it, or not)
state=$(awk '{ print $3 }' /proc/${pause:-0}/stat 2>/dev/null)
expect "the pause is gone" "gone" "$([ -z "$state" ] || [ "$state" = Z ] && echo gone)"
expect "no mount left" "" "$(awk -v d="$FLEET_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo)"

fleet_teardown
expect "nothing of the test left on the machine" "" "$(fleet_leftovers)"
echo "took $((SECONDS - T0))s"
check_summary
