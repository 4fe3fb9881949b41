#!/usr/bin/env bash
# End to end: a fleet of three nodes on this machine. Each berthd runs in its
# own network namespace with its own address on a test bridge (the bridge
# sits in a namespace too: the host's network is never touched), its own
# state directory and cgroup parent; the controller runs in another
# namespace. Agents and controller talk tcp inside the namespaces only;
# berthctl reaches the controller on its ipc socket, as an operator on the
# controller's machine would. Each scenario is checked as the operator sees
# it (berthctl) and as it is (the processes in each node's cgroups):
#
#   1. a Deployment of 6 and a DaemonSet: 2 + 1 per node, all Running; logs
#      from each node; health lists 3 healthy nodes
#   2. kill -9 an agent: its containers run on (same pids); restarted, it
#      adopts them and nothing restarts
#   3. an agent gone for good (killed, link cut): past lease and grace, its
#      replicas run on the other two and health names it; when the machine
#      comes back, it stops what moved away; a Pod that succeeded there
#      stays its own and never runs again
#   4. partition and heal: the cut-off node's replicas move; it cannot know,
#      so its stale ones run on until it hears the controller after the heal
#      (berth does not fence a node on its own), and then stop. From the
#      heal on nothing adds to the 6 placed, the stale ones only go away, and
#      once they are gone no more than 6 ever run
#   5. kill -9 the controller mid-apply: every acknowledged apply survives,
#      none is half done, agents resync without restarting anything
#   6. bad input: a malformed manifest, garbage, unsigned frames and frames
#      signed by unknown keys, to the controller and to an agent: each
#      rejected, nothing changes, every daemon serves on
#
# Finally everything is stopped and the test checks that nothing is left: no
# process, mount, cgroup or network namespace of its own.
#
#   fleet-test.sh BUILD_DIR RAWFRAME
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) without root, ip
# netns or nsenter.
set -u
FLEET_BUILD=$1
RAWFRAME=$2
. "$(dirname "$0")/../lib/fleet.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (namespaces, cgroups)"
	exit 77
fi
for tool in ip nsenter flock; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed"
		exit 77
	fi
done
fleet_init
if ! net_init 10.213.77; then
	echo "SKIP: cannot make network namespaces (ip netns)"
	exit 77
fi
T0=$SECONDS
scenario() {
	echo "== $* (at $((SECONDS - T0))s)"
}

# --- the fleet ----------------------------------------------------------------

# x: a machine on the network that is no node.
net_add ctl 1 && net_add n1 11 && net_add n2 12 && net_add n3 13 && net_add x 99 || exit 1
CTL=$(net_addr ctl)
FLEET_CTL_NETNS=$(net_ns ctl)
# Short leases, so faults show quickly: a heartbeat every 500 ms, Unknown
# after 4 missed (2 s), Down 4 s later.
ctl_start --rpc "tcp://$CTL:7100" --events "tcp://$CTL:7101" --stream "tcp://$CTL:7102" \
	--survey "tcp://$CTL:7103" --advertise-host "$CTL" --heartbeat-min-interval 500ms \
	--heartbeat-misses 4 --down-grace 4s || exit 1
NODES="n1 n2 n3"
# n1 with a token in its agent.yaml; n2 and n3 join with berthd join and
# one token of two uses, checking the controller's key by its fingerprint
node_start n1 "$(net_ns n1)" "tcp://$CTL:7100" "tcp://$(net_addr n1):7421"
JOIN=$(bctl join-token --uses 2 --description "n2 and n3" --print-join-command 2>/dev/null)
JOIN_TOKEN=$(echo "$JOIN" | awk '{ for (i = 1; i < NF; i++) if ($i == "--token") print $(i + 1) }')
JOIN_FP=$(echo "$JOIN" | awk '{ for (i = 1; i < NF; i++) if ($i == "--controller-fingerprint") print $(i + 1) }')
for n in n2 n3; do
	FLEET_JOIN="$JOIN_TOKEN $JOIN_FP" node_start $n "$(net_ns $n)" "tcp://$CTL:7100" \
		"tcp://$(net_addr $n):7421"
done
wait_until 30 nodes_ready 3
expect "three nodes Ready" "3" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"
expect "each registered its own address in its namespace" \
	"tcp://$(net_addr n1):7421 tcp://$(net_addr n2):7421 tcp://$(net_addr n3):7421" \
	"$(bctl get nodes -o wide | awk 'NR > 1 { print $10 }' | sort | tr '\n' ' ' | sed 's/ $//')"

# --- helpers ------------------------------------------------------------------

node_phase() {
	bctl get nodes | awk -v n="$1" '$1 == n { print $2 }'
}
node_is() {
	[ "$(node_phase "$1")" = "$2" ]
}
# Replicas of a workload Running on a node, as berthctl shows them.
ctl_running() {
	bctl get containers --node "$1" --workload "$2" | awk 'NR > 1 && $4 == "Running"' | wc -l
}
# Replicas of a workload really running on a node (its cgroups): a
# Deployment's are WORKLOAD-N, a DaemonSet's WORKLOAD.NODE.
real_running() {
	{
		node_running "$1" "$2-"
		node_running "$1" "$2."
	} | wc -l
}
real_total() {
	local n t=0
	for n in $NODES; do
		t=$((t + $(real_running $n "$1")))
	done
	echo $t
}
# The whole fleet's processes: "NODE: ID=PID..." lines.
real_fleet() {
	local n
	for n in $NODES; do
		node_running $n | sed "s/^/$n: /"
	done
}
# web is placed again: 6 Running, none on NODE.
web_moved_from() {
	[ "$(count_state Running web)" -eq 6 ] && [ "$(ctl_running "$1" web)" -eq 0 ]
}
started_count() {
	grep -c 'running, pid' "$FLEET_DIR/$1/log"
}

# --- 0. versions --------------------------------------------------------------------

scenario "0. every binary and every node says the build's version"
V=$("$FLEET_BIN_CTLCLI" --version | awk '{ print $2 }')
[ -n "$V" ] && ok "berthctl --version: $V" || bad "berthctl --version said nothing"
for b in "$FLEET_BIN_CTL" "$FLEET_BIN_AGENT" "$FLEET_BUILD/agent/berth-monitor" \
	"$FLEET_BUILD/agent/berth-pull" "$FLEET_BUILD/agent/berth-cni"; do
	expect "$(basename "$b") --version" "$(basename "$b") $V" "$("$b" --version 2>&1)"
done
expect "berthctl version: client and controller" "Client Version: $V|Server Version: $V" \
	"$(bctl version 2>&1 | paste -sd'|')"
expect "get nodes: each agent's" "$V $V $V" \
	"$(bctl get nodes | awk 'NR > 1 { print $NF }' | paste -sd' ')"

scenario "0b. nodes join with berthd join and a token of two uses"
expect "join-token --print-join-command: the controller's address" \
	"berthd join tcp://$CTL:7100 --token" "$(echo "$JOIN" | awk '{ print $1, $2, $3, $4 }')"
expect "... and its key's fingerprint, as ssh-keygen -l spells one" \
	"SHA256:$(awk '{ print $2 }' "$FLEET_DIR/ctl/state/controller.pub" | base64 -d |
		openssl dgst -sha256 -binary | base64 | tr -d '=')" "$JOIN_FP"
contains "berthd join wrote the controller's address into agent.yaml" \
	"address: 'tcp://$CTL:7100'" "$(cat "$FLEET_DIR/n2/agent.yaml")"
expect "... and no token" "0" "$(grep -c '^join_token' "$FLEET_DIR/n2/agent.yaml")"
expect "... and the controller's key" "$(cat "$FLEET_DIR/ctl/state/controller.pub")" \
	"$(cat "$FLEET_DIR/n3/controller.pub")"
expect "join-token ls: both uses taken, by the last node" "2/2 n3" \
	"$(bctl join-token ls | awk -v id="${JOIN_TOKEN%%.*}" '$1 == id { print $4, $5 }')"
# a fourth machine (x): the token is used up; a wrong fingerprint is
# refused before anything is sent, and nothing is written
mkdir -p "$FLEET_DIR/x"
xjoin() {
	nsenter --net=/run/netns/"$(net_ns x)" "$FLEET_BIN_AGENT" join "tcp://$CTL:7100" \
		-c "$FLEET_DIR/x/agent.yaml" --controller-key "$FLEET_DIR/x/controller.pub" \
		--node-name x --timeout 5s "$@" 2>&1
}
printf 'state_dir: %s\n' "$FLEET_DIR/x/state" >"$FLEET_DIR/x/agent.yaml"
contains "a used-up token enrolls nobody" "join token ${JOIN_TOKEN%%.*} is unknown, used" \
	"$(xjoin --token "$JOIN_TOKEN" --controller-fingerprint "$JOIN_FP")"
WRONG_FP="SHA256:$(printf 'A%.0s' $(seq 43))"
tok=$(bctl join-token 2>/dev/null)
out=$(xjoin --token "$tok" --controller-fingerprint "$WRONG_FP")
contains "a wrong fingerprint is refused" "has the key $JOIN_FP, not $WRONG_FP: refused" "$out"
expect "... the token untouched" "0/1" \
	"$(bctl join-token ls | awk -v id="${tok%%.*}" '$1 == id { print $4 }')"
expect "... nothing written" "state_dir: $FLEET_DIR/x/state|no key" \
	"$(cat "$FLEET_DIR/x/agent.yaml")|$([ -e "$FLEET_DIR/x/controller.pub" ] && echo key || echo no key)"
expect "join-token rm revokes" "join token ${tok%%.*} revoked (0 of 1 use(s) taken)" \
	"$(bctl join-token rm "${tok%%.*}")"
contains "... and then it enrolls nobody" "is unknown, used" \
	"$(xjoin --token "$tok" --controller-fingerprint "$JOIN_FP")"
expect "... x is no node" "" "$(bctl get nodes | awk '$1 == "x"')"

scenario "0c. get -w and events -w follow what changes"
bctl get nodes -w >"$FLEET_DIR/watch-nodes" 2>&1 &
WATCH_NODES=$!
bctl events -w --for node/n3 >"$FLEET_DIR/watch-events" 2>&1 &
WATCH_EVENTS=$!
wait_until 10 grep -q '^n3 ' "$FLEET_DIR/watch-nodes"
bctl cordon n3 >/dev/null
wait_until 10 grep -q 'Ready,SchedulingDisabled' "$FLEET_DIR/watch-nodes"
bctl uncordon n3 >/dev/null
n3_rows() { [ "$(grep -c '^n3 ' "$FLEET_DIR/watch-nodes")" -ge 3 ]; }
wait_until 10 n3_rows
uncordoned() { grep -q 'Uncordoned' "$FLEET_DIR/watch-events"; }
wait_until 10 uncordoned
kill "$WATCH_NODES" "$WATCH_EVENTS" 2>/dev/null
wait "$WATCH_NODES" "$WATCH_EVENTS" 2>/dev/null
expect "get nodes -w: the table once, then n3's row at each change" \
	"NAME|n1|n2|n3|n3 Ready,SchedulingDisabled|n3 Ready" \
	"$(awk '{ print ($1 == "n3" && NR > 4) ? $1 " " $2 : $1 }' "$FLEET_DIR/watch-nodes" |
		paste -sd'|')"
contains "events -w: the cordon as it came" "Cordoned" "$(cat "$FLEET_DIR/watch-events")"
contains "... and the uncordon" "node/n3" "$(grep Uncordoned "$FLEET_DIR/watch-events")"
expect "events --for jointoken/ID: made, then revoked" "Created Revoked" \
	"$(bctl events --for "jointoken/${tok%%.*}" | awk 'NR > 1 { print $3 }' | paste -sd' ')"

# --- 1. a Deployment and a DaemonSet --------------------------------------------

scenario "1. a Deployment of 6 and a DaemonSet"
{
	fleet_manifest Deployment web 6
	echo ---
	fleet_manifest DaemonSet ds
} >"$FLEET_DIR/fleet.yaml"
out=$(bctl apply -f "$FLEET_DIR/fleet.yaml" --wait --wait-timeout 60s 2>&1)
contains "apply --wait: the Deployment runs" "web: 6/6 running" "$out"
contains "apply --wait: the DaemonSet runs" "ds: 3/3 running" "$out"
for n in $NODES; do
	expect "$n: 2 web + 1 ds Running (berthctl)" "2 1" "$(ctl_running $n web) $(ctl_running $n ds)"
	expect "$n: 2 web + 1 ds really running" "2 1" "$(real_running $n web) $(real_running $n ds)"
	c=$(bctl get containers --node $n --workload web | awk 'NR == 2 { print $1 }')
	expect "logs of $c, relayed from $n" "hello from $c" "$(bctl logs "$c" 2>&1)"
done
out=$(bctl health 2>&1)
expect "health: exit 0" "0" "$?"
expect "health: three healthy nodes" "n1 yes n2 yes n3 yes" \
	"$(echo "$out" | awk 'NR > 1 { print $1, $2 }' | sort | tr '\n' ' ' | sed 's/ $//')"

# --- 2. kill -9 an agent ---------------------------------------------------------

scenario "2. kill -9 the agent of n1, then restart it"
before_real=$(node_running n1)
before_pids=$(container_pids)
before_starts=$(started_count n1)
node_kill n1 KILL
expect "n1's agent is gone" "" "$(pgrep -f "$FLEET_DIR/n1/agent.yaml")"
sleep 1
expect "its 3 containers run on, same pids" "$before_real" "$(node_running n1)"
node_start n1
adopted() {
	grep -q 'started: node n1, 3 container(s) adopted' "$FLEET_DIR/n1/log"
}
wait_until 20 adopted
contains "the new agent adopted all 3" "3 container(s) adopted" \
	"$(grep 'started: node n1' "$FLEET_DIR/n1/log" | tail -1)"
wait_until 20 nodes_ready 3
same_pids() {
	[ "$(container_pids)" = "$before_pids" ]
}
wait_until 10 same_pids
expect "nothing restarted: the same processes" "$before_real" "$(node_running n1)"
expect "berthctl shows the same pids" "$before_pids" "$(container_pids)"
expect "no restart counted" "0" "$(bctl get containers | awk 'NR > 1 && $5 != 0' | wc -l)"
expect "n1 started no container" "$before_starts" "$(started_count n1)"
expect "agent ps on n1: the same 3 Running" \
	"$(node_running n1 | cut -d= -f1 | tr '\n' ' ')" \
	"$(node_agent n1 ps | awk 'NR > 1 && $4 == "Running" { print $1 }' | sort | tr '\n' ' ')"
# A field of a node as berthctl's JSON has it (numbers may be quoted).
node_field() {
	bctl get nodes "$1" -o json | sed -n "s/.*\"$2\": *\"\{0,1\}\([0-9]*\).*/\1/p" | head -1
}
applied() {
	[ "$(node_field n1 appliedGeneration)" = "$(node_field n1 generation)" ]
}
wait_until 10 applied
expect "state reconciled: n1 has applied the controller's generation" \
	"$(node_field n1 generation)" "$(node_field n1 appliedGeneration)"

# --- 3. an agent gone for good --------------------------------------------------

scenario "3. n3 gone for good: agent killed, link cut"
ds_n3=$(node_running n3 ds.)
# a Pod of n3's that ran to its end (restartPolicy Never, exit 0): it is
# never run again, whatever becomes of n3
cat >"$FLEET_DIR/once.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeSelector: {fleet-node: n3}
  restartPolicy: Never
  containers:
  - {name: once, image: bb, command: [sh, -c, 'echo done once']}
YAML
bctl apply -f "$FLEET_DIR/once.yaml" >/dev/null
once_status() { bctl get pods -o wide | awk '$1 == "once-0" { print $3, $7 }'; }
wait_until 30 test "$(once_status)" = "Completed n3"
expect "a Pod that succeeded on n3" "Completed n3" "$(once_status)"
node_kill n3 KILL
net_cut n3
t=$SECONDS
wait_until 30 node_is n3 Down
expect "n3 is Down" "Down" "$(node_phase n3)"
echo "     (Down after $((SECONDS - t))s)"
events=$(bctl describe node n3 | sed -n '/^Events:/,$p')
contains "describe: n3 was Unknown when its lease ran out" "NodeUnknown" "$events"
contains "... then Down" "NodeDown" "$events"
wait_until 30 web_moved_from n3
expect "web: 6 Running (berthctl)" "6" "$(count_state Running web)"
expect "... 3 on n1, 3 on n2, none on n3" "3 3 0" \
	"$(ctl_running n1 web) $(ctl_running n2 web) $(ctl_running n3 web)"
expect "the Pod that succeeded stays n3's (not Pending for a node to run it again)" "n3" \
	"$(once_status | awk '{ print $2 }')"
expect "... really running: 3 on n1, 3 on n2" "3 3" "$(real_running n1 web) $(real_running n2 web)"
out=$(bctl health --wait 2s 2>&1)
rc=$?
expect "health: exit 1" "1" "$rc"
contains "health names n3 as not answering" "did not answer" "$(echo "$out" | awk '$1 == "n3"')"
expect "... and n1, n2 as healthy" "n1 yes n2 yes" \
	"$(echo "$out" | awk '$1 == "n1" || $1 == "n2" { printf "%s%s %s", s, $1, $2; s = " " }')"

# The machine comes back: the link and its agent. It stops what was moved
# away meanwhile and keeps its DaemonSet replica.
net_heal n3
node_start n3
wait_until 30 node_is n3 Ready
stale_gone() {
	[ -z "$(node_running n3 web-)" ]
}
wait_until 30 stale_gone
expect "n3 back: its stale web replicas stopped" "" "$(node_running n3 web-)"
expect "... its DaemonSet replica ran on (same pid)" "$ds_n3" "$(node_running n3 ds.)"
expect "... 6 web really running in the fleet" "6" "$(real_total web)"
expect "... and the Pod that succeeded ran once" "1 Completed n3" \
	"$(grep -c 'container once-0 running' "$FLEET_DIR/n3/log") $(once_status)"
bctl delete once >/dev/null 2>&1

# --- 4. partition and heal ------------------------------------------------------

scenario "4. partition n2, then heal"
ds_n2=$(node_running n2 ds.)
stale=$(real_running n2 web)
net_cut n2
t=$SECONDS
wait_until 30 node_is n2 Down
expect "n2 is Down" "Down" "$(node_phase n2)"
echo "     (Down after $((SECONDS - t))s)"
wait_until 30 web_moved_from n2
expect "web: 6 Running, none on n2 (berthctl)" "6 0" "$(count_state Running web) $(ctl_running n2 web)"
expect "... really running on n1 and n3: 6" "6" "$(($(real_running n1 web) + $(real_running n3 web)))"
expect "cut off, n2 still runs its $stale (it cannot know)" "$stale" "$(real_running n2 web)"

# From the heal on, sample what runs (web replicas on n1+n3, and on n2: its
# stale ones, until it hears the controller) about ten times a second, and
# apart, as often as it answers, what berthctl calls Running.
net_heal n2
heal=$SECONDS
(
	while [ ! -e "$FLEET_DIR/sample.stop" ]; do
		node_count n1 web-
		others=$REPLY
		node_count n3 web-
		others=$((others + REPLY))
		node_count n2 web-
		echo "$others $REPLY"
		sleep 0.1
	done
) >"$FLEET_DIR/samples" 2>/dev/null &
sampler=$!
(
	while [ ! -e "$FLEET_DIR/sample.stop" ]; do
		count_state Running web
		sleep 0.1
	done
) >"$FLEET_DIR/samples.berthctl" 2>/dev/null &
ctl_sampler=$!
healed() {
	node_is n2 Ready && [ -z "$(node_running n2 web-)" ]
}
wait_until 90 healed
stopped_after=$((SECONDS - heal))
sleep 3 # and a while after it settled
touch "$FLEET_DIR/sample.stop"
wait $sampler $ctl_sampler
echo "     (n2's stale replicas stopped ${stopped_after}s after the heal;" \
	"$(wc -l <"$FLEET_DIR/samples") samples, $(wc -l <"$FLEET_DIR/samples.berthctl") from berthctl)"
expect "n2 back: Ready, its stale replicas stopped" "Ready " "$(node_phase n2) $(node_running n2 web-)"
expect "... its DaemonSet replica ran on (same pid)" "$ds_n2" "$(node_running n2 ds.)"
max() {
	awk -v c="$1" 'BEGIN { m = -1 } $c > m { m = $c } END { print m }' "$FLEET_DIR/${2:-samples}"
}
expect "after the heal: never more than 6 beside n2's stale ones" "6" "$(max 1)"
expect "... which only went away" "$stale 0" \
	"$(max 2) $(awk 'NR > 1 && $2 > p { up = 1 } { p = $2 } END { print up + 0 }' \
		"$FLEET_DIR/samples")"
expect "... and never more than 6 once they had" "6" \
	"$(awk '$2 == 0 { s = 1 } s && $1 + $2 > m { m = $1 + $2 } END { print m }' \
		"$FLEET_DIR/samples")"
expect "... berthctl never showed more than 6 Running" "6" "$(max 1 samples.berthctl)"
expect "... 6 web really running, as placed" "6 6" "$(real_total web) $(count_state Running web)"

# --- 5. kill -9 the controller mid-apply ----------------------------------------

scenario "5. kill -9 the controller mid-apply"
before_pids=$(container_pids)
before_real=$(real_fleet)
before_wl=$(bctl get workloads | awk '{ print $1, $2, $3 }')
for k in $(seq 1 20); do
	fleet_manifest Deployment job-$k 1 >"$FLEET_DIR/job-$k.yaml"
done
(
	for k in $(seq 1 20); do
		[ -e "$FLEET_DIR/apply.stop" ] && break
		bctl apply -f "$FLEET_DIR/job-$k.yaml" --timeout 2s >/dev/null 2>&1
		echo "job-$k $?"
	done
) >"$FLEET_DIR/acks" &
applier=$!
acked_one() {
	grep -q ' 0$' "$FLEET_DIR/acks"
}
wait_until 30 acked_one
ctl_kill KILL
touch "$FLEET_DIR/apply.stop"
wait $applier
acked=$(awk '$2 == 0 { print $1 }' "$FLEET_DIR/acks" | sort | tr '\n' ' ')
echo "     (acknowledged: $acked; then: $(awk '$2 != 0 { print $1 }' "$FLEET_DIR/acks" |
	tr '\n' ' '))"
ctl_start || exit 1
echo "     (present after the restart: $(bctl get workloads | awk '$1 ~ /^job-/ { print $1 }' |
	tr '\n' ' '))"
# An agent answers the survey under a session with this controller run:
# all three answering means all three found it again.
healthy() {
	bctl health --wait 2s
}
wait_until 30 healthy
out=$(bctl health 2>&1)
expect "agents resynced: the restarted controller's survey, three healthy nodes" "0 3" \
	"$? $(echo "$out" | awk '$2 == "yes"' | wc -l)"
expect "... all Ready" "3" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"
present=$(bctl get workloads | awk '$1 ~ /^job-/ { print $1 }' | sort | tr '\n' ' ')
missing=
for j in $acked; do
	case " $present" in *" $j "*) ;; *) missing="$missing $j" ;; esac
done
expect "every acknowledged apply survived" "" "$missing"
expect "web and ds untouched" "$before_wl" \
	"$(bctl get workloads | awk '$1 !~ /^job-/ { print $1, $2, $3 }')"
all_running() {
	bctl get workloads |
		awk 'NR > 1 { split($3, r, "/"); if (r[1] != r[2] || r[2] == 0) bad = 1 } END { exit bad }'
}
wait_until 60 all_running
expect "none half done: every job applied runs 1/1" "$(echo $present | wc -w)" \
	"$(bctl get workloads | awk 'NR > 1 && $1 ~ /^job-/ && $3 == "1/1"' | wc -l)"
expect "agents resynced: web and ds have the same pids" "$before_pids" \
	"$(container_pids | tr ' ' '\n' | grep -v '^job-' | tr '\n' ' ' | sed 's/^ *//')"
expect "... really: the same processes" "$before_real" "$(real_fleet | grep -v ': job-')"
expect "... no restart counted" "0" "$(bctl get containers | awk 'NR > 1 && $5 != 0' | wc -l)"
for j in $present; do
	bctl delete "$j" >/dev/null
done
jobs_gone() {
	[ "$(real_total job)" -eq 0 ] && [ -z "$(bctl get containers | awk '$1 ~ /^job-/')" ]
}
wait_until 30 jobs_gone
expect "jobs deleted: none left running" "0" "$(real_total job)"

# --- 6. bad input ---------------------------------------------------------------

scenario "6. bad input: a malformed manifest, unsigned and unknown frames"
snapshot() {
	bctl get workloads | awk '{ print $1, $2, $3, $4 }'
	bctl get containers -o wide | awk '{ print $1, $2, $3, $4, $5, $8 }'
	bctl get nodes | awk '{ print $1, $2, $3 }'
	real_fleet
}
before=$(snapshot)
pids_before="$FLEET_CTL_PID $(for n in $NODES; do node_pid $n; done)"

cat >"$FLEET_DIR/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: "three"
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: bb
        command: [sleep, "1"]
        resources: {limits: {memory: 64Mx}}
YAML
out=$(bctl apply -f "$FLEET_DIR/bad.yaml" 2>&1)
expect "a malformed manifest fails" "1" "$?"
expect "... naming file:line:column and the field, every mistake" \
	"berthctl: $FLEET_DIR/bad.yaml:5:13: spec.replicas: expected an integer, got the string \"three\"
$FLEET_DIR/bad.yaml:14:38: spec.template.spec.containers[0].resources.limits.memory: memory quantity '64Mx': unknown suffix 'Mx' (expected one of m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei)" \
	"$out"

# An operator key the controller never trusted, through berthctl.
bctl keygen --out "$FLEET_DIR/stranger.key" --pub "$FLEET_DIR/stranger.pub" >/dev/null 2>&1
out=$(bctl --key "$FLEET_DIR/stranger.key" delete web 2>&1)
expect "berthctl with an unknown key fails" "1" "$?"
contains "... refused: the key is not known" "operator admin: key $(awk '{ print $2 }' \
	"$FLEET_DIR/stranger.pub") is not known here" "$out"

# Frames from x, a machine on the network that is no node: to the
# controller as its operator, to an agent as the operator and as the
# controller. Only a correct handshake is answered: refused.
probe() {
	net_run x "$RAWFRAME" --victim "$1" "$2" "$3" "$4" "$5" "$6" 2>&1
}
want_probes="unknown-key: refused PERMISSION_DENIED
garbage: no answer
unsigned-call: no answer
forged-hello: no answer
signed-call: no answer
tcp-garbage: closed by the server
tcp-oversize: closed by the server
unknown-key-again: refused PERMISSION_DENIED"
victim=ds.n2
admin_pub=$FLEET_DIR/ctl/state/operators/admin.pub
ctl_pub=$FLEET_DIR/ctl/state/controller.pub
for target in "web tcp://$CTL:7100 controller/controller $ctl_pub operator/admin $admin_pub" \
	"$victim tcp://$(net_addr n2):7421 node/n2 $FLEET_DIR/n2/state/node.pub operator/admin $admin_pub" \
	"$victim tcp://$(net_addr n2):7421 node/n2 $FLEET_DIR/n2/state/node.pub controller/controller $ctl_pub"; do
	set -- $target
	out=$(probe "$@")
	expect "frames to $2 as $5: each dropped, only a handshake refused" "$want_probes" \
		"$(echo "$out" | sed 's/^\(unknown-key[a-z-]*: refused [A-Z_]*\):.*/\1/')"
	contains "... refused for what it is" "${5%%/*} ${5#*/}: key " "$(echo "$out" | head -1)"
done

expect "nothing changed" "$before" "$(snapshot)"
expect "every daemon is the same process" "$pids_before" \
	"$FLEET_CTL_PID $(for n in $NODES; do node_pid $n; done)"
alive=0
for p in $pids_before; do
	kill -0 "$p" 2>/dev/null && alive=$((alive + 1))
done
expect "... and alive" "4" "$alive"
out=$(bctl health 2>&1)
expect "... serving: health, three healthy nodes" "0 3" "$? $(echo "$out" | awk '$2 == "yes"' | wc -l)"
for n in $NODES; do
	expect "... serving: agent ps on $n lists what runs there" \
		"$(node_running $n | cut -d= -f1 | tr '\n' ' ')" \
		"$(node_agent $n ps 2>&1 | awk 'NR > 1 && $4 == "Running" { print $1 }' | sort | tr '\n' ' ')"
done
out=$(bctl apply -f "$FLEET_DIR/fleet.yaml" 2>&1)
expect "... serving: a good apply still works" "0" "$?"
contains "... (and changes nothing)" "deployment/web unchanged" "$out"

# --- the end: nothing left behind -------------------------------------------------

scenario "the end: delete everything, stop the fleet"
bctl delete web ds >/dev/null
wait_until 60 no_containers $NODES
expect "delete: every container stopped and removed" "" \
	"$(for n in $NODES; do node_containers $n; done)"
expect "... no process left in any container cgroup" "" "$(real_fleet)"
live=$(fleet_leftovers)
contains "(what follows can fail: the fleet's processes are seen)" "$FLEET_BIN_CTL" "$live"
contains "(... its cgroups)" "cgroup /sys/fs/cgroup/" "$live"
contains "(... its namespaces)" "netns berth-$FLEET_TAG-br" "$live"
fleet_teardown
expect "nothing left: no process, mount, cgroup or network namespace" "" "$(fleet_leftovers)"
echo "     ($((SECONDS - T0))s in all)"
check_summary
