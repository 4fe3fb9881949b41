#!/usr/bin/env bash
# deploy/quickstart.sh as README tells an operator to run it (with the
# test's build, directory, ports and cgroup parent): up shows the example
# Running and serving, up again changes nothing, down leaves no process,
# mount, cgroup or directory behind; then ha (three etcd members, three
# controllers): the example runs, a killed leader is replaced, down leaves
# no namespace or bridge.
#
#   quickstart-test.sh BUILD_DIR
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
. "$(dirname "$0")/../../lib/check.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=$1
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (containers)"
	exit 77
fi
if ss -Hltn 'sport = :8080' | grep -q .; then
	echo "SKIP: 127.0.0.1:8080, where the example serves, is in use"
	exit 77
fi
export BERTH_QUICKSTART_DIR=/tmp/berth-quickstart-test-$$
export BERTH_QUICKSTART_PORT=$((17200 + $$ % 500 * 20))
export BERTH_QUICKSTART_CGROUP=/berth-quickstart-test-$$
export BERTH_QUICKSTART_BRIDGE=bqs$(($$ % 100000))
export BUILD_DIR=$build
qs() { "$top/deploy/quickstart.sh" "$@" --no-build; }
cleanup() {
	[ -d "$BERTH_QUICKSTART_DIR" ] && qs down >/dev/null 2>&1
	rm -rf "$BERTH_QUICKSTART_DIR"
}
trap cleanup EXIT

out=$(qs up 2>&1)
rc=$?
expect "up succeeds" "0" "$rc"
[ $rc -eq 0 ] || echo "$out"
contains "the example runs" "hello-web: 1/1 running" "$out"
contains "the DaemonSet runs" "hello-log: 1/1 running" "$out"
contains "a log line is shown" "hello from hello-log-" "$out"
contains "the web page is served" "<h1>hello from berth</h1>" "$out"
contains "what to try next" "berthctl get nodes" "$out"
export BERTH_CONFIG=$BERTH_QUICKSTART_DIR/berthctl.yaml
berthctl=$build/scheduler-stub/berthctl
before=$("$berthctl" get containers -o wide | awk 'NR > 1 { print $1, $4, $8 }')
expect "two containers Running" "2" "$(echo "$before" | grep -c ' Running ')"
ip=$("$berthctl" get pods -o wide | awk '$1 ~ /^hello-log/ { print $6 }')
case "$ip" in
10.244.*) ok "hello-log has its own address on the pod network ($ip)" ;;
*) bad "hello-log's address: '$ip' ($("$berthctl" get pods -o wide 2>&1))" ;;
esac
expect "... on the quickstart's bridge" "1" \
	"$(ip -o -4 addr show "$BERTH_QUICKSTART_BRIDGE" 2>/dev/null | grep -c 10.244.)"

out=$(qs up 2>&1)
expect "up again succeeds" "0" "$?"
contains "... leaves the controller running" "controller already running" "$out"
contains "... and the agent" "agent already running" "$out"
contains "... and the workloads as they were" "deployment/hello-web unchanged" "$out"
expect "... with the same container processes" "$before" \
	"$("$berthctl" get containers -o wide | awk 'NR > 1 { print $1, $4, $8 }')"
contains "status shows it" "agent: running" "$(qs status 2>&1)"

out=$(qs down 2>&1)
expect "down succeeds" "0" "$?"
contains "down says nothing is left" "nothing left behind" "$out"
expect "the directory is gone" "no" "$(test -e "$BERTH_QUICKSTART_DIR" && echo yes || echo no)"
expect "no process of it is left" "" "$(pgrep -fa -- "$BERTH_QUICKSTART_DIR")"
expect "no mount of it is left" "" "$(grep -F "$BERTH_QUICKSTART_DIR" /proc/self/mounts)"
expect "no cgroup of it is left" "" \
	"$(find /sys/fs/cgroup -maxdepth 2 -name "${BERTH_QUICKSTART_CGROUP#/}" 2>/dev/null)"
expect "no bridge of it is left" "" "$(ip -o link show "$BERTH_QUICKSTART_BRIDGE" 2>/dev/null)"
expect "no nftables table of it is left" "" \
	"$(nft list tables 2>/dev/null | grep "${BERTH_QUICKSTART_BRIDGE}_quickstart")"
out=$(qs down 2>&1)
expect "down again is harmless" "0" "$?"

# --- ha: three etcd members and three controllers in namespaces ---------------
export BERTH_QUICKSTART_HA_NET=10.213.$((100 + $$ % 100))
out=$(qs ha 2>&1)
rc=$?
expect "ha succeeds" "0" "$rc"
[ $rc -eq 0 ] || echo "$out"
contains "the example runs" "hello-web: 1/1 running" "$out"
contains "... and serves" "<h1>hello from berth</h1>" "$out"
ls_out=$("$berthctl" controller ls 2>&1)
expect "controller ls: three controllers, one leading" "1 2" \
	"$(echo "$ls_out" | awk '$3 == "leader"' | wc -l) $(echo "$ls_out" | awk '$3 == "follower" && $1 ~ /^c/' | wc -l)"
expect "... on three healthy etcd members" "3" "$(echo "$ls_out" | awk '$3 == "healthy"' | wc -l)"
leader=$(echo "$ls_out" | awk '$3 == "leader" { sub(/\*$/, "", $1); print $1 }')
kill -9 "$(cat "$BERTH_QUICKSTART_DIR/run/controller-$leader.pid")"
other_leads() {
	"$berthctl" controller ls 2>/dev/null | awk -v l="$leader" '$3 == "leader" && $1 !~ "^" l { f = 1 } END { exit !f }'
}
wait_until 20 other_leads
other_leads && ok "$leader killed: another controller leads" || bad "nobody took over from $leader"
node_ready() {
	"$berthctl" get nodes 2>/dev/null | awk 'NR > 1 && $2 == "Ready" { f = 1 } END { exit !f }'
}
wait_until 20 node_ready
node_ready && ok "... and the node is Ready with it" || bad "the node is not Ready after the failover"
contains "status shows the members" "c1:" "$(qs status 2>&1)"
out=$(qs down 2>&1)
expect "down succeeds" "0" "$?"
contains "down says nothing is left" "nothing left behind" "$out"
expect "no process of it is left" "" "$(pgrep -fa -- "$BERTH_QUICKSTART_DIR")"
expect "no namespace of it is left" "" "$(ip netns list | grep -F "$BERTH_QUICKSTART_BRIDGE-")"
expect "no bridge of it is left" "" "$(ip -o link show "${BERTH_QUICKSTART_BRIDGE}ha" 2>/dev/null)"

check_summary
