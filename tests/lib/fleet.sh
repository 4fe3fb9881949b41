# A berth fleet on this machine for tests: a controller and agents started as
# processes, berthctl as the operator runs it, and the checks. Sourced by
# bash tests (tests/integration/fleet, tests/e2e).
#
#   FLEET_BUILD  the build directory (berthd, berth-monitor, berth-controller,
#                berthctl, test-rootfs)
#
# Everything lives under one temporary directory; each agent has its own
# state directory, image store, cgroup parent and sockets. fleet_cleanup
# (run on exit) stops what the test started, by pid, and removes it all.

fleet_init() {
	FLEET_DIR=$(mktemp -d /tmp/berth-fleet.XXXXXX)
	FLEET_BIN_CTL=$FLEET_BUILD/scheduler-stub/berth-controller
	FLEET_BIN_CTLCLI=$FLEET_BUILD/scheduler-stub/berthctl
	FLEET_BIN_AGENT=$FLEET_BUILD/agent/berthd
	FLEET_ROOTFS=$FLEET_BUILD/test-rootfs
	FLEET_TAG=$$
	FLEET_NODES=()
	FLEET_CTL_PID=
	FLEET_CTL_ARGS=()
	pass=0
	failed=0
	trap fleet_cleanup EXIT
	export BERTH_CONTROLLER=ipc://$FLEET_DIR/ctl/rpc.sock
	export BERTH_CONTROLLER_KEY=$FLEET_DIR/ctl/state/controller.pub
	export BERTH_KEY=$FLEET_DIR/ctl/state/admin.key
	export BERTH_CONFIG=$FLEET_DIR/berthctl.yaml # empty: nothing from ~/.config
	: >"$BERTH_CONFIG"
	export NO_COLOR=1
}

# --- checks -------------------------------------------------------------------

ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
}
# expect NAME WANT GOT
expect() {
	if [ "$3" = "$2" ]; then ok "$1"; else bad "$1: want [$2] got [$3]"; fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
	case "$3" in
	*"$2"*) ok "$1" ;;
	*) bad "$1: [$2] not in [$3]" ;;
	esac
}
# wait_until SECONDS COMMAND...: run COMMAND every 0.2 s until it succeeds.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}
fleet_summary() {
	echo "$pass passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# --- the parties --------------------------------------------------------------

# bctl ARGS...: berthctl as the operator (admin, on the controller's socket).
bctl() {
	"$FLEET_BIN_CTLCLI" "$@"
}

# ctl_start [EXTRA_ARGS...]: the controller, on ipc sockets under FLEET_DIR
# (plus whatever EXTRA_ARGS bind). Remembered for ctl_restart.
ctl_start() {
	local d=$FLEET_DIR/ctl
	mkdir -p "$d"
	if [ $# -gt 0 ] || [ ${#FLEET_CTL_ARGS[@]} -eq 0 ]; then
		FLEET_CTL_ARGS=(-d "$d/state" --rpc "ipc://$d/rpc.sock" --events "ipc://$d/events.sock"
			--stream "ipc://$d/stream.sock" --survey "ipc://$d/survey.sock" "$@")
	fi
	${FLEET_CTL_NETNS:+nsenter --net=/run/netns/$FLEET_CTL_NETNS} \
		"$FLEET_BIN_CTL" "${FLEET_CTL_ARGS[@]}" >>"$d/log" 2>&1 &
	FLEET_CTL_PID=$!
	wait_until 10 test -S "$d/rpc.sock" -a -f "$d/state/admin.key" || {
		echo "the controller did not start:"
		cat "$d/log"
		return 1
	}
}

# ctl_kill SIGNAL
ctl_kill() {
	[ -n "$FLEET_CTL_PID" ] || return 0
	kill -"$1" "$FLEET_CTL_PID" 2>/dev/null
	wait "$FLEET_CTL_PID" 2>/dev/null
	FLEET_CTL_PID=
}

# node_start NAME [NETNS CONTROLLER_ADDR LISTEN_ADDR]: an agent with its own
# state, image store (with the test image "bb"), cgroup parent and sockets,
# joined with a fresh token. In a network namespace when NETNS is given
# (entered with nsenter, which keeps this mount namespace and its cgroups).
node_start() {
	local name=$1 netns=${2:-} ctl=${3:-$BERTH_CONTROLLER} listen=${4:-}
	local d=$FLEET_DIR/$name token
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		bctl image import bb "$FLEET_ROOTFS" --image-store "$d/images" --state-dir "$d/state" \
			>/dev/null || return 1
		# FLEET_NO_TOKEN=1: the node joins by an operator's approval instead.
		token=
		[ -n "${FLEET_NO_TOKEN:-}" ] || token=$(bctl join-token) || return 1
		[ -n "$listen" ] || listen=ipc://$d/agent-remote.sock
		cat >"$d/agent.yaml" <<-YAML
			node_name: $name
			labels: {fleet-node: $name}
			controller: {address: '$ctl', key: $BERTH_CONTROLLER_KEY}
			${token:+join_token: $token}
			state_dir: $d/state
			image_store: $d/images
			cgroup_parent: /berth-fleet-$FLEET_TAG-$name
			socket: $d/agent.sock
			listen: '$listen'
			operators: {admin: $FLEET_DIR/ctl/state/operators/admin.pub}
			metrics_interval: 1s
			log: {level: debug}
		YAML
		eval "FLEET_NETNS_$name=$netns"
		FLEET_NODES+=("$name")
	fi
	${netns:+nsenter --net=/run/netns/$netns} \
		"$FLEET_BIN_AGENT" -c "$d/agent.yaml" >>"$d/log" 2>&1 &
	eval "FLEET_PID_$name=$!"
}

node_pid() {
	eval "echo \${FLEET_PID_$1:-}"
}

# node_kill NAME SIGNAL
node_kill() {
	local pid
	pid=$(node_pid "$1")
	[ -n "$pid" ] || return 0
	kill -"$2" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	eval "FLEET_PID_$1="
}

# The containers a node's agent has (its state directories).
node_containers() {
	ls "$FLEET_DIR/$1/state/containers" 2>/dev/null | sort | tr '\n' ' '
}

# The cgroups left under a node's parent (v1: every hierarchy).
node_cgroups() {
	find /sys/fs/cgroup/ -maxdepth 3 -path "*berth-fleet-$FLEET_TAG-$1/*" -type d 2>/dev/null
}

# Container pids as berthctl shows them: "NAME=PID ..." sorted by name.
container_pids() {
	bctl get containers -o wide | awk 'NR > 1 { print $1 "=" $8 }' | sort | tr '\n' ' '
}

# Predicates for wait_until (they run in this shell: functions are fine).
# nodes_ready N: exactly N nodes are Ready.
nodes_ready() {
	[ "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)" -eq "$1" ]
}
# no_containers NODE...: none of these agents has a container left.
no_containers() {
	local n
	for n in "$@"; do
		[ -z "$(node_containers "$n")" ] || return 1
	done
}

# How many containers are in a state: count_state STATE [WORKLOAD]
count_state() {
	bctl get containers ${2:+--workload "$2"} | awk -v s="$1" 'NR > 1 && $4 == s' | wc -l
}

# --- teardown -----------------------------------------------------------------

fleet_cleanup() {
	local n d pid
	set +e
	if [ -n "$FLEET_CTL_PID" ] && [ ${#FLEET_NODES[@]} -gt 0 ]; then
		for w in $(bctl get workloads 2>/dev/null | awk 'NR > 1 { print $1 }'); do
			bctl delete "$w" >/dev/null 2>&1
		done
		for n in "${FLEET_NODES[@]}"; do
			[ -n "$(node_pid "$n")" ] && wait_until 30 no_containers "$n"
		done
	fi
	for n in "${FLEET_NODES[@]}"; do
		node_kill "$n" TERM
		# What an agent that was killed left: stop its containers.
		for c in "$FLEET_DIR/$n"/state/containers/*/control; do
			[ -p "$c" ] && timeout 2 sh -c "echo 'stop 0' >'$c'"
		done
	done
	ctl_kill TERM
	sleep 0.5
	for n in "${FLEET_NODES[@]}"; do
		for d in $(node_cgroups "$n" | sort -r) /sys/fs/cgroup/*/berth-fleet-$FLEET_TAG-$n \
			/sys/fs/cgroup/berth-fleet-$FLEET_TAG-$n; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null
		done
	done
	if [ "${failed:-0}" -gt 0 ] || [ -n "${FLEET_KEEP:-}" ]; then
		echo "logs kept in $FLEET_DIR"
	else
		rm -rf "$FLEET_DIR"
	fi
}
