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

cat >"$FLEET_DIR/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: bb
        command: [/bin/sh, -c, 'echo "hello from $(hostname)"; exec sleep 100000']
YAML
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
agent() {
	local n=$1
	shift
	bctl agent "$@" --socket "$FLEET_DIR/$n/agent.sock" --state-dir "$FLEET_DIR/$n/state"
}
out=$(agent n1 ps)
expect "agent ps lists what n1 runs" "$(node_containers n1)" \
	"$(echo "$out" | awk 'NR > 1 && $4 == "Running" { print $1 }' | sort | tr '\n' ' ')"
c=$(echo "$out" | awk 'NR == 2 { print $1 }')
expect "agent logs reads a container's log" "hello from $c" "$(agent n1 logs "$c")"
health_fails() { ! agent n1 health; }
wait_until 10 health_fails
out=$(agent n1 health)
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
        image: bb
        comand: [/bin/true]
YAML
before_w=$(bctl get workloads | awk '{ print $1, $2, $3 }')
out=$(bctl apply -f "$FLEET_DIR/bad.yaml" 2>&1)
rc=$?
expect "a malformed manifest fails" "1" "$rc"
expect "... with file:line:column and the field, every mistake" \
	"berthctl: $FLEET_DIR/bad.yaml:11:9: spec.template.spec.containers[0].command: required (berth images have no entrypoint to default to)
$FLEET_DIR/bad.yaml:13:9: spec.template.spec.containers[0].comand: unknown field (did you mean command?)" \
	"$out"
expect "... and changes nothing" "$before_w" "$(bctl get workloads | awk '{ print $1, $2, $3 }')"
expect "... not even the replicas" "4" "$(count_state Running web)"

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

fleet_summary
