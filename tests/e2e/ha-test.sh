#!/usr/bin/env bash
# End to end: several controllers on one fleet through etcd. Three etcd
# members, three controllers and three agents, each in a network namespace
# of its own on a bridge the test makes; berthctl and the agents are given
# all three controllers' addresses.
#
#   0. the fleet comes up: one leader, two followers, etcd healthy; a
#      Deployment runs on the nodes
#   1. the leader is killed (-9) during a storm of applies: every apply that
#      was acknowledged is there afterwards, none twice (generation 1); a
#      follower leads within the lease and a few seconds; no node went
#      Unknown and no container restarted
#   2. the leader is cut off the network (etcd with it): it stops within
#      its lease (exit 1, saying why), another leads, the nodes follow it
#   3. one etcd member is lost: nothing an operator notices (applies work,
#      controller ls says which member is gone), then it comes back
#   4. every controller restarted at once: a leader again, no node Unknown,
#      no container restarted
#
# The figures (failover times) are printed; the benchmark repeats them.
#
#   ha-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (namespaces, cgroups)"
	exit 77
fi
for tool in ip nsenter etcd etcdctl jq; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (deploy/install-deps.sh)"
		exit 77
	fi
done
fleet_init
trap 'ha_cleanup' EXIT
if ! net_init 10.213.88; then
	echo "SKIP: cannot make network namespaces (ip netns)"
	exit 77
fi
T0=$SECONDS
scenario() {
	echo "== $* (at $((SECONDS - T0))s)"
}

# --- etcd: three members ----------------------------------------------------------

ETCD_ENDPOINTS=
ETCD_CLUSTER=
for i in 1 2 3; do
	net_add e$i $((20 + i)) || exit 1
	a=$(net_addr e$i)
	ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}http://$a:2379"
	ETCD_CLUSTER+="${ETCD_CLUSTER:+,}e$i=http://$a:2380"
done

# etcd_start N: member eN (its data kept across restarts)
etcd_start() {
	local a d=$FLEET_DIR/etcd/e$1
	a=$(net_addr e$1)
	mkdir -p "$d"
	# nsenter execs etcd: $! is etcd's pid
	nsenter --net="/run/netns/$(net_ns e$1)" etcd --name e$1 --data-dir "$d/data" \
		--listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
		--listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
		--initial-cluster "$ETCD_CLUSTER" --initial-cluster-token "berth-$FLEET_TAG" \
		--max-txn-ops 65536 --max-request-bytes 33554432 >>"$d/log" 2>&1 &
	printf -v "ETCD_PID_$1" %s $!
}
etcd_kill() {
	local v=ETCD_PID_$1
	[ -n "${!v:-}" ] || return 0
	kill -"$2" "${!v}" 2>/dev/null
	wait "${!v}" 2>/dev/null
	printf -v "ETCD_PID_$1" %s ""
}
etcd_healthy() {
	net_run e1 etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1
}

# --- controllers: three members, one identity ---------------------------------

net_add c1 1 && net_add c2 2 && net_add c3 3 || exit 1
CTLS="c1 c2 c3"
export BERTH_CONTROLLER="ipc://$FLEET_DIR/c1/rpc.sock,ipc://$FLEET_DIR/c2/rpc.sock,ipc://$FLEET_DIR/c3/rpc.sock"
export BERTH_CONTROLLER_KEY=$FLEET_DIR/c1/state/controller.pub
export BERTH_KEY=$FLEET_DIR/c1/state/admin.key
NODE_CTL="tcp://$(net_addr c1):7100,tcp://$(net_addr c2):7100,tcp://$(net_addr c3):7100"

# member_start N: controller cN. Short node leases, so that a node going
# Unknown would show: a heartbeat every 500 ms, Unknown after 4 missed.
member_start() {
	local n=c$1 a d=$FLEET_DIR/c$1
	a=$(net_addr $n)
	mkdir -p "$d"
	nsenter --net="/run/netns/$(net_ns $n)" "$FLEET_BIN_CTL" -d "$d/state" --member $n --rpc "ipc://$d/rpc.sock" \
		--rpc "tcp://$a:7100" --events "tcp://$a:7101" --stream "tcp://$a:7102" \
		--survey "tcp://$a:7103" --advertise-host "$a" --metrics-address off \
		--store etcd --etcd-endpoints "$ETCD_ENDPOINTS" \
		--heartbeat-min-interval 500ms --heartbeat-misses 4 --down-grace 30s >>"$d/log" 2>&1 &
	printf -v "CTL_PID_$1" %s $!
}
member_pid() {
	local v=CTL_PID_${1#c}
	echo "${!v:-}"
}
member_kill() {
	local pid
	pid=$(member_pid "$1")
	[ -n "$pid" ] || return 0
	kill -"$2" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf -v "CTL_PID_${1#c}" %s ""
}
# The leader as controller ls shows it ("" when none answers).
leader() {
	bctl controller ls --timeout 3s 2>/dev/null | awk '$3 == "leader" { sub(/\*$/, "", $1); print $1 }'
}
leader_is_not() {
	local l
	l=$(leader)
	[ -n "$l" ] && [ "$l" != "$1" ]
}
# A member's own view, asked on its socket alone.
member_role() {
	BERTH_CONTROLLER=ipc://$FLEET_DIR/$1/rpc.sock bctl controller ls --timeout 2s 2>/dev/null |
		awk '$1 ~ /\*$/ { print $3 }'
}
members_listed() {
	[ "$(bctl controller ls --timeout 3s 2>/dev/null | awk 'NR > 1 && /^c[0-9]/' | wc -l)" -eq "$1" ]
}

# The fleet's processes: "NODE: ID=PID..." lines (their cgroups).
real_fleet() {
	local n
	for n in $NODES; do
		node_running $n | sed "s/^/$n: /"
	done
}

# Predicates for wait_until (evaluated at each try).
running_is() {
	[ "$(count_state Running "$1")" -eq "$2" ]
}
acked_at_least() {
	[ "$(grep -c '^ok' "$FLEET_DIR/storm.log" 2>/dev/null)" -ge "$1" ]
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# The fleet's teardown, with these controllers and members in it.
ha_cleanup() {
	local n p
	for n in $CTLS; do
		p=$(member_pid $n)
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			FLEET_CTL_PID=$p
			break
		fi
	done
	fleet_teardown
	for n in $CTLS; do member_kill $n TERM; done
	# their network is gone: a member stopping gracefully would wait for
	# its peers for ever
	for n in 1 2 3; do etcd_kill $n KILL; done
	fleet_cleanup
}

# Every few hundred ms until stopped: the nodes' phases as the leader shows
# them, into a file ("" when no leader answered).
watch_nodes() {
	while [ ! -e "$FLEET_DIR/watch.stop" ]; do
		bctl get nodes --timeout 2s 2>/dev/null | awk 'NR > 1 { print $1, $2 }' | paste -sd' '
		sleep 0.3
	done >"$FLEET_DIR/phases"
}
watch_start() {
	rm -f "$FLEET_DIR/watch.stop"
	watch_nodes &
	WATCH_PID=$!
}
watch_stop() {
	: >"$FLEET_DIR/watch.stop"
	wait "$WATCH_PID"
}

# --- 0. the fleet -------------------------------------------------------------------

scenario "0. three etcd members, three controllers, three nodes"
for i in 1 2 3; do etcd_start $i; done
wait_until 30 etcd_healthy || {
	bad "etcd did not come up"
	cat "$FLEET_DIR"/etcd/e*/log | tail -20
	exit 1
}
member_start 1
wait_until 15 test -f "$FLEET_DIR/c1/state/admin.key" || {
	bad "c1 did not start"
	cat "$FLEET_DIR/c1/log"
	exit 1
}
# one identity: the same controller key and operators on every member
for n in c2 c3; do
	mkdir -p "$FLEET_DIR/$n/state/operators"
	cp "$FLEET_DIR"/c1/state/{controller.key,controller.pub,admin.key} "$FLEET_DIR/$n/state/"
	cp "$FLEET_DIR"/c1/state/operators/* "$FLEET_DIR/$n/state/operators/"
done
mkdir -p "$FLEET_DIR/ctl/state/operators"
cp "$FLEET_DIR"/c1/state/operators/admin.pub "$FLEET_DIR/ctl/state/operators/"
member_start 2
member_start 3
wait_until 15 members_listed 3
out=$(bctl controller ls 2>&1)
expect "controller ls: three members, c1 (first to campaign) leads" "c1 leader|c2 follower|c3 follower" \
	"$(echo "$out" | awk '/^c[0-9]/ { sub(/\*$/, "", $1); print $1, $3 }' | sort | paste -sd'|')"
expect "... and three etcd members, healthy, one of them raft leader" "3 1" \
	"$(echo "$out" | awk '$3 == "healthy"' | wc -l) $(echo "$out" | awk '$3 == "healthy" && $4 == "leader"' | wc -l)"
expect "a follower refuses what only the leader does, naming it" \
	"controller c2 does not lead: the leader is c1 at tcp://$(net_addr c1):7100" \
	"$(BERTH_CONTROLLER=ipc://$FLEET_DIR/c2/rpc.sock bctl get nodes 2>&1 | sed 's/^berthctl: //')"
expect "... and answers controller ls as a follower" "follower" "$(member_role c2)"

NODES="n1 n2 n3"
for i in 1 2 3; do
	net_add n$i $((10 + i)) || exit 1
	node_start n$i "$(net_ns n$i)" "$NODE_CTL" "tcp://$(net_addr n$i):7421"
done
wait_until 40 nodes_ready 3
expect "three nodes Ready, through the leader" "3" \
	"$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"
fleet_manifest Deployment web 6 >"$FLEET_DIR/web.yaml"
bctl apply -f "$FLEET_DIR/web.yaml" >/dev/null
wait_until 60 running_is web 6
expect "web: 6 replicas Running" "6" "$(count_state Running web)"
PIDS0=$(real_fleet)
expect "... really running on the nodes" "6" "$(echo "$PIDS0" | grep -c .)"
contains "the rows are etcd keys an operator can read" "/berth/t/workloads/web" \
	"$(net_run e1 etcdctl --endpoints "$ETCD_ENDPOINTS" get --prefix /berth/t/workloads --keys-only)"

# --- 1. the leader killed during an apply storm ---------------------------------------

scenario "1. kill -9 the leader during a storm of applies"
# An apply every 50 ms or so, for about ten seconds: the kill lands in it.
storm() {
	local i
	for i in $(seq 1 150); do
		printf '%s\n' "apiVersion: apps/v1" "kind: Deployment" "metadata: {name: storm-$i}" \
			"spec: {replicas: 0, selector: {matchLabels: {app: s$i}}, template: {metadata: {labels: {app: s$i}}, spec: {containers: [{name: c, image: bb}]}}}" \
			>"$FLEET_DIR/storm-$i.yaml"
		if bctl apply -f "$FLEET_DIR/storm-$i.yaml" --timeout 5s >/dev/null 2>&1; then
			echo "ok $i $(date +%T.%N)"
		else
			echo "failed $i $(date +%T.%N)"
		fi
		sleep 0.05
	done >"$FLEET_DIR/storm.log"
}
watch_start
storm &
STORM=$!
wait_until 30 acked_at_least 20
OLD=$(leader)
member_kill "$OLD" KILL
KILLED_AT=$(date +%s%N)
echo "     ($OLD killed at $(date +%T.%N))"
wait_until 20 leader_is_not "$OLD"
NEW=$(leader)
FAILOVER_MS=$((($(date +%s%N) - KILLED_AT) / 1000000))
wait "$STORM"
[ -n "$NEW" ] && ok "a follower ($NEW) leads after $OLD was killed: ${FAILOVER_MS} ms (lease 4s)" ||
	bad "no follower took over from $OLD"
acked=$(awk '$1 == "ok" { print $2 }' "$FLEET_DIR/storm.log")
n_acked=$(echo "$acked" | grep -c .)
n_failed=$(grep -c '^failed' "$FLEET_DIR/storm.log")
echo "     ($n_acked applies acknowledged, $n_failed failed during the failover)"
[ "$(awk '$1 == "ok" && $2 > last_failed' last_failed="$(awk '$1 == "failed" { n = $2 } END { print n + 0 }' "$FLEET_DIR/storm.log")" "$FLEET_DIR/storm.log" | wc -l)" -gt 0 ] &&
	[ "$(grep -c '^ok' "$FLEET_DIR/storm.log")" -ge 20 ] &&
	ok "applies acknowledged before the kill and after the failover" ||
	bad "the storm did not go on after the failover: $(paste -sd' ' "$FLEET_DIR/storm.log" | cut -c1-300)"
json=$(bctl get deployments -o json 2>/dev/null)
missing= twice=
for i in $acked; do
	g=$(echo "$json" | jq -r --arg n "storm-$i" '.workloads[] | select(.name == $n) | .generation')
	[ -n "$g" ] || missing+=" storm-$i"
	[ -z "$g" ] || [ "$g" = 1 ] || twice+=" storm-$i($g)"
done
expect "every acknowledged apply is there" "" "$missing"
expect "... none applied twice (generation 1 each)" "" "$twice"
sleep 2
watch_stop
expect "no node went Unknown meanwhile" "0" "$(grep -c 'Unknown\|NotReady' "$FLEET_DIR/phases")"
expect "no container restarted (the same processes)" "$PIDS0" "$(real_fleet)"
wait_until 20 running_is web 6
expect "... and the new leader sees web's 6 replicas Running" "6" "$(count_state Running web)"
member_start "${OLD#c}"
wait_until 15 members_listed 3
expect "$OLD, started again, follows" "follower" "$(member_role "$OLD")"

# --- 2. the leader cut off --------------------------------------------------------

scenario "2. cut the leader off the network (etcd with it)"
OLD=$(leader)
OLD_PID=$(member_pid "$OLD")
watch_start
net_cut "$OLD"
CUT_AT=$(date +%s%N)
wait_until 10 gone "$OLD_PID"
STOP_MS=$((($(date +%s%N) - CUT_AT) / 1000000))
if ! kill -0 "$OLD_PID" 2>/dev/null; then
	ok "$OLD stopped acting ${STOP_MS} ms after the cut (lease 4s)"
	wait "$OLD_PID"
	expect "... exit status 1" "1" "$?"
	printf -v "CTL_PID_${OLD#c}" %s ""
else
	bad "$OLD still runs 10 s after the cut"
fi
contains "... saying why" "no longer leads" "$(cat "$FLEET_DIR/$OLD/log")"
# when it gave up writing, by its log's clock (the same machine's)
GAVE_UP=$(grep -a "no longer leads" "$FLEET_DIR/$OLD/log" | tail -1 | cut -d' ' -f1)
[ -z "$GAVE_UP" ] || GAVE_UP_MS=$((($(date -d "$GAVE_UP" +%s%N) - CUT_AT) / 1000000))
echo "     ($OLD gave up the lead ${GAVE_UP_MS:-?} ms after the cut, and had exited after ${STOP_MS} ms)"
wait_until 20 leader_is_not "$OLD"
NEW=$(leader)
[ -n "$NEW" ] && ok "$NEW leads instead" || bad "nobody leads after $OLD was cut off"
fleet_manifest Deployment after-cut 1 >"$FLEET_DIR/after-cut.yaml"
out=$(bctl apply -f "$FLEET_DIR/after-cut.yaml" 2>&1)
expect "an apply goes to the new leader" "deployment/after-cut created" "$out"
wait_until 30 running_is after-cut 1
expect "... and its replica runs: the nodes follow the new leader" "1" "$(count_state Running after-cut)"
watch_stop
expect "no node went Unknown meanwhile" "0" "$(grep -c 'Unknown\|NotReady' "$FLEET_DIR/phases")"
net_heal "$OLD"
member_start "${OLD#c}"
wait_until 15 members_listed 3
expect "$OLD, back on the network and started again, follows" "follower" "$(member_role "$OLD")"

# --- 3. one etcd member lost ------------------------------------------------------

scenario "3. lose one etcd member: the raft leader, the worst one to lose"
L=$(leader)
# the member etcd's raft leads on: 1, 2 or 3 (its address ends 21, 22, 23)
LOST=$(net_run e1 etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint status -w json 2>/dev/null |
	jq -r '.[] | select(.Status.header.member_id == .Status.leader) | .Endpoint' |
	sed -E 's|.*\.2([0-9]):2379|\1|')
case "$LOST" in 1 | 2 | 3) ok "etcd's raft leader is e$LOST" ;; *)
	bad "no raft leader found ($LOST)"
	LOST=2
	;;
esac
watch_start
etcd_kill "$LOST" KILL
fleet_manifest Deployment one-member-down 1 >"$FLEET_DIR/omd.yaml"
out=$(bctl apply -f "$FLEET_DIR/omd.yaml" 2>&1)
expect "an apply works with two of three members" "deployment/one-member-down created" "$out"
expect "... the same controller leads" "$L" "$(leader)"
out=$(bctl controller ls 2>&1)
expect "controller ls: the lost member unreachable, two healthy" \
	"http://$(net_addr e$LOST):2379 unreachable|2" \
	"$(echo "$out" | awk '$3 == "unreachable" { print $1, $3 }')|$(echo "$out" | awk '$3 == "healthy"' | wc -l)"
wait_until 30 running_is one-member-down 1
expect "... its replica runs" "1" "$(count_state Running one-member-down)"
etcd_start "$LOST"
wait_until 30 etcd_healthy
three_healthy() {
	[ "$(bctl controller ls 2>/dev/null | awk '$3 == "healthy"' | wc -l)" -eq 3 ]
}
wait_until 15 three_healthy
out=$(bctl controller ls 2>&1)
expect "the member back: three healthy" "3" "$(echo "$out" | awk '$3 == "healthy"' | wc -l)"
watch_stop
expect "no node went Unknown meanwhile" "0" "$(grep -c 'Unknown\|NotReady' "$FLEET_DIR/phases")"
expect "... and the same controller still leads" "$L" "$(leader)"

# --- 4. every controller restarted at once ---------------------------------------------

scenario "4. restart every controller at once"
PIDS1=$(real_fleet)
watch_start
for n in $CTLS; do member_kill $n TERM; done
for n in $CTLS; do member_start ${n#c}; done
some_leader() {
	[ -n "$(leader)" ]
}
wait_until 20 some_leader
[ -n "$(leader)" ] && ok "a leader again: $(leader)" || bad "no leader after the restart"
wait_until 15 members_listed 3
sleep 3
watch_stop
expect "no node went Unknown" "0" "$(grep -c 'Unknown\|NotReady' "$FLEET_DIR/phases")"
expect "no container restarted" "$PIDS1" "$(real_fleet)"
expect "every node Ready" "3" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"

# --- the end ---------------------------------------------------------------------

scenario "the end: delete everything"
bctl delete web after-cut one-member-down $(for i in $acked; do echo storm-$i; done) >/dev/null 2>&1
wait_until 60 no_containers n1 n2 n3
expect "every container stopped and removed" "" "$(for n in n1 n2 n3; do node_containers $n; done)"
echo "     (failover after kill -9: ${FAILOVER_MS} ms; lead given up after the cut: ${GAVE_UP_MS:-?} ms, exit ${STOP_MS} ms; $((SECONDS - T0))s in all)"
check_summary
