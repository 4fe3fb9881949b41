#!/usr/bin/env bash
# The controller and two real agents on this machine (ipc sockets), driven
# with berthctl as an operator would:
#
#   - a Deployment of 4 lands 2 per node, Running; logs from each node
#   - kill -9 the controller and restart it: get shows the same, and the
#     agents carry on without restarting anything (same pids)
#   - a malformed manifest: the exact error, and nothing changes
#   - delete: containers stopped, state and cgroups removed on both nodes
#
#   two-agents-test.sh BUILD_DIR
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../../lib/fleet.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (containers)"
	exit 77
fi
fleet_init
ctl_start || exit 1
node_start n1
node_start n2
wait_until 20 nodes_ready 2
expect "two nodes Ready" "2" "$(bctl get nodes | grep -c ' Ready ')"

fleet_manifest Deployment web 4 >"$FLEET_DIR/web.yaml"
out=$(bctl apply -f "$FLEET_DIR/web.yaml" --wait --wait-timeout 60s 2>&1)
contains "apply --wait ends with all running" "web: 4/4 running" "$out"
expect "4 Running" "4" "$(count_state Running web)"
expect "2 on n1" "2" "$(bctl get containers --node n1 | awk 'NR > 1 && $4 == "Running"' | wc -l)"
expect "2 on n2" "2" "$(bctl get containers --node n2 | awk 'NR > 1 && $4 == "Running"' | wc -l)"
expect "n1's agent runs its two" "2" "$(node_containers n1 | wc -w)"
expect "n2's agent runs its two" "2" "$(node_containers n2 | wc -w)"
for n in n1 n2; do
	c=$(bctl get containers --node $n | awk 'NR == 2 { print $1 }')
	expect "logs of $c, on $n" "hello from $c" "$(bctl logs "$c")"
done

# The controller is killed; everything it acknowledged survives it.
before_get=$(bctl get containers | awk '{ print $1, $2, $3, $4, $5 }')
before_pids=$(container_pids)
ctl_kill KILL
# Meanwhile the agents answer on their local sockets, controller or not.
out=$(node_agent n1 ps)
expect "agent ps lists what n1 runs" "$(node_containers n1)" \
	"$(echo "$out" | awk 'NR > 1 && $4 == "Running" { print $1 }' | sort | tr '\n' ' ')"
c=$(echo "$out" | awk 'NR == 2 { print $1 }')
expect "agent logs reads a container's log" "hello from $c" "$(node_agent n1 logs "$c")"
health_fails() { ! node_agent n1 health; }
wait_until 10 health_fails
out=$(node_agent n1 health)
rc=$?
contains "agent health names the node" "Node:        n1" "$out"
contains "... and says the controller is away" "controller FAILED" "$out"
expect "... with a non-zero exit" "1" "$rc"
out=$(bctl agent ps --timeout 2s --socket "$FLEET_DIR/n1/agent.sock" \
	--state-dir "$FLEET_DIR/n2/state" 2>&1)
contains "an agent without the expected name and key gets no call" "did not answer" "$out"
sleep 1
ctl_start || exit 1
wait_until 20 nodes_ready 2
expect "get shows the same containers after the restart" "$before_get" \
	"$(bctl get containers | awk '{ print $1, $2, $3, $4, $5 }')"
expect "the same pids: nothing was restarted" "$before_pids" "$(container_pids)"
expect "no restart counted" "0" "$(bctl get containers | awk 'NR > 1 && $5 != 0' | wc -l)"
for n in n1 n2; do
	expect "$n's agent started its two containers once each" "2" \
		"$(grep -c 'running, pid' "$FLEET_DIR/$n/log")"
done

# A malformed manifest: the exact error with file:line:column, nothing applied.
cat >"$FLEET_DIR/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: busy/Box
        comand: [/bin/true]
YAML
before_w=$(bctl get workloads | awk '{ print $1, $2, $3 }')
out=$(bctl apply -f "$FLEET_DIR/bad.yaml" 2>&1)
rc=$?
expect "a malformed manifest fails" "1" "$rc"
expect "... with file:line:column and the field, every mistake" \
	"berthctl: $FLEET_DIR/bad.yaml:12:16: spec.template.spec.containers[0].image: image reference 'busy/Box': repository name must be lowercase
$FLEET_DIR/bad.yaml:13:9: spec.template.spec.containers[0].comand: unknown field (did you mean command?)" \
	"$out"
expect "... and changes nothing" "$before_w" "$(bctl get workloads | awk '{ print $1, $2, $3 }')"
expect "... not even the replicas" "4" "$(count_state Running web)"

# Readiness through the whole chain (monitor, agent, controller,
# berthctl): an httpGet readiness probe on a port by name, ready while the
# page is there, not ready once it goes, never restarted for it.
cat >"$FLEET_DIR/ready.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: ready
    image: bb
    command: [/bin/sh, -c, 'mkdir -p /tmp/www && echo ok >/tmp/www/up && exec httpd -f -p 8080 -h /tmp/www']
    ports: [{name: web, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /up, port: web}
      periodSeconds: 1
      failureThreshold: 1
YAML
bctl apply -f "$FLEET_DIR/ready.yaml" >/dev/null
ready_is() { [ "$(bctl get containers -o wide --workload ready | awk 'NR == 2 { print $10 }')" = "$1" ]; }
wait_until 30 ready_is true && ok "readinessProbe httpGet: READY true" || bad "readinessProbe httpGet: not ready"
contains "describe container: Ready" "Ready:          True" "$(bctl describe container ready-0)"
contains "... and the probe, as kubectl shows it" \
	"Readiness:      http-get http://:8080/up delay=0s timeout=1s period=1s #success=1 #failure=1" \
	"$(bctl describe container ready-0)"
pid=$(bctl get containers -o wide --workload ready | awk 'NR == 2 { print $8 }')
rm -f "/proc/$pid/root/tmp/www/up"
wait_until 30 ready_is false && ok "... READY false once the page is gone" || bad "... still ready"
expect "... and never restarted for it" "0" \
	"$(bctl get containers --workload ready | awk 'NR == 2 { print $5 }')"
bctl delete ready >/dev/null

# delete: gone everywhere, nothing left behind.
bctl delete web >/dev/null
wait_until 30 no_containers n1 n2
expect "delete stops and removes every container" "" "$(node_containers n1)$(node_containers n2)"
expect "get shows none" "1" "$(bctl get containers | wc -l)"
expect "no cgroup left on n1" "" "$(node_cgroups n1)"
expect "no cgroup left on n2" "" "$(node_cgroups n2)"

# A node with no token waits for an operator's approval, then joins.
FLEET_NO_TOKEN=1 node_start n3
pending() { bctl get nodes | awk 'NR > 1 && $1 == "n3" && $2 == "PendingApproval"' | grep -q .; }
wait_until 20 pending
expect "a node without a token waits for approval" "PendingApproval" \
	"$(bctl get nodes | awk '$1 == "n3" { print $2 }')"
fp=$(sed -n 's/.*node n3, key \([^ ]*\).*/\1/p' "$FLEET_DIR/n3/log" | head -1)
out=$(bctl node approve n3 --fingerprint "AAAA$fp" 2>&1)
expect "approving another key than the node's is refused" "1" "$?"
bctl node approve n3 --fingerprint "$fp" >/dev/null
expect "approving the node's key succeeds" "0" "$?"
wait_until 30 nodes_ready 3
expect "the approved node registers and is Ready" "Ready" \
	"$(bctl get nodes | awk '$1 == "n3" { print $2 }')"

# --- the rest of the operator's commands, as README shows them -----------------

fleet_manifest Deployment api 3 >"$FLEET_DIR/api.yaml"
out=$(bctl apply -f - <"$FLEET_DIR/api.yaml" 2>&1)
contains "apply -f - reads the manifest from stdin" "deployment/api created" "$out"
api_running() { [ "$(count_state Running api)" -eq 3 ]; }
wait_until 30 api_running
expect "... and its 3 replicas run" "3" "$(count_state Running api)"
A0=$(deploy_pod api 0)
A1=$(deploy_pod api 1)
A2=$(deploy_pod api 2)
out=$(bctl describe workload api 2>&1)
contains "describe workload: the kind" "Deployment" "$out"
contains "... and its containers" "${A0}" "$out"
node0=$(bctl get containers --workload api | awk -v c="$A0" '$1 == c { print $2 }')
out=$(bctl describe container ${A0} 2>&1)
contains "describe container: its node" "$node0" "$out"
contains "... its state" "Running" "$out"
contains "get -o yaml" "name: api" "$(bctl get workloads api -o yaml 2>&1)"
# top: the agents' metrics rounds (every second here), two for a CPU figure.
top_has() { bctl top "$1" | awk -v n="$2" '$1 == n && $2 != "-"' | grep -q .; }
wait_until 10 top_has nodes n3
contains "top nodes: each node's figures" "n3" "$(bctl top nodes 2>&1)"
wait_until 10 top_has containers ${A2}
contains "top containers: each container's" "${A2}" "$(bctl top containers 2>&1)"
expect "... only those that run (web's are gone)" "" \
	"$(bctl top containers | awk '$1 ~ /^web-/')"
out=$(bctl logs --timestamps ${A0} 2>&1)
expect "logs --timestamps: RFC 3339 time, then the line" "1" \
	"$(echo "$out" | grep -cE "^20[0-9-]+T[0-9:.]+Z? hello from ${A0}\$")"
out=$(timeout 3 "$FLEET_BIN_CTLCLI" logs -f ${A1} 2>&1)
expect "logs -f follows (until interrupted)" "124 hello from ${A1}" "$? $out"

# cordon: no new placements on n3; uncordon: placements again.
bctl node cordon n3 >/dev/null
expect "node cordon succeeds" "0" "$?"
fleet_manifest Deployment more 6 >"$FLEET_DIR/more.yaml"
bctl apply -f "$FLEET_DIR/more.yaml" --wait --wait-timeout 60s >/dev/null 2>&1
expect "a cordoned node gets no new replica" "0 6" \
	"$(bctl get containers --node n3 --workload more | awk 'NR > 1' | wc -l) $(count_state Running more)"
bctl node uncordon n3 >/dev/null
expect "uncordon succeeds" "0" "$?"

# stop: the container stops now and stays stopped; on a node, the same.
c=$(bctl get containers --node n1 --workload more | awk 'NR == 2 { print $1 }')
bctl stop --grace 1s "$c" >/dev/null
expect "stop --grace succeeds" "0" "$?"
stopped() { [ -z "$(node_running n1 "$c")" ]; }
wait_until 20 stopped
expect "... and the container's processes are gone" "" "$(node_running n1 "$c")"
c=$(bctl get containers --node n2 --workload more | awk 'NR == 2 { print $1 }')
node_agent n2 stop "$c" >/dev/null
expect "agent stop succeeds" "0" "$?"
stopped2() { [ -z "$(node_running n2 "$c")" ]; }
wait_until 20 stopped2
expect "... and the container's processes are gone" "" "$(node_running n2 "$c")"

# delete -f FILE and delete workload NAME.
bctl delete -f "$FLEET_DIR/api.yaml" >/dev/null
expect "delete -f FILE succeeds" "0" "$?"
bctl delete workload more >/dev/null
expect "delete workload NAME succeeds" "0" "$?"
expect "... both are gone" "" "$(bctl get workloads | awk '$1 == "api" || $1 == "more"')"
wait_until 30 no_containers n1 n2 n3
expect "... and so are their containers" "" \
	"$(node_containers n1)$(node_containers n2)$(node_containers n3)"

# A token past its --ttl admits nobody: the node is refused, and says why.
tok=$(bctl join-token --ttl 1s)
expect "join-token --ttl prints a token" "0" "$?"
sleep 1.5
FLEET_TOKEN=$tok node_start n4
refused() { grep -q "refused us: join token ${tok%%.*} is unknown, used, expired" "$FLEET_DIR/n4/log"; }
wait_until 20 refused
contains "an expired token is refused: n4's agent says so" "expired" "$(grep refused "$FLEET_DIR/n4/log")"
expect "... and the controller has no n4" "" "$(bctl get nodes | awk '$1 == "n4"')"
node_kill n4 TERM

# delete node: a node that runs nothing is forgotten, key and all.
node_kill n3 TERM
out=$(bctl delete node n3 2>&1)
expect "delete node forgets a node" "0" "$?"
expect "... it is gone" "" "$(bctl get nodes | awk '$1 == "n3"')"

check_summary
