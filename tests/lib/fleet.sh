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

. "$(dirname "${BASH_SOURCE[0]}")/check.sh"

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
	FLEET_NETS=()
	FLEET_NET_BR=
	# Where a container's processes are listed (v1: the pids hierarchy).
	FLEET_CGROUP=/sys/fs/cgroup/pids
	[ -f /sys/fs/cgroup/cgroup.controllers ] && FLEET_CGROUP=/sys/fs/cgroup
	trap fleet_cleanup EXIT
	export BERTH_CONTROLLER=ipc://$FLEET_DIR/ctl/rpc.sock
	export BERTH_CONTROLLER_KEY=$FLEET_DIR/ctl/state/controller.pub
	export BERTH_KEY=$FLEET_DIR/ctl/state/admin.key
	export BERTH_CONFIG=$FLEET_DIR/berthctl.yaml # empty: nothing from ~/.config
	: >"$BERTH_CONFIG"
	export NO_COLOR=1
}

# An end-to-end test's start: skipped (77) unless root, then fleet_init,
# and the clock scenario reports against.
fleet_e2e_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (namespaces, cgroups)"
		exit 77
	fi
	fleet_init
	T0=$SECONDS
}

# scenario TEXT: a heading, with the time since fleet_e2e_init.
scenario() {
	echo "== $* (at $((SECONDS - T0))s)"
}

# --- checks (ok, bad, expect, contains, wait_until: tests/lib/check.sh) -----

# --- the parties --------------------------------------------------------------

# fleet_manifest KIND NAME [REPLICAS]: a Deployment or DaemonSet of the test
# image whose replicas log "hello from <replica>" and sleep, stopping at once.
fleet_manifest() {
	printf '%s\n' "apiVersion: apps/v1" "kind: $1" "metadata: {name: $2}" "spec:"
	if [ -n "${3:-}" ]; then echo "  replicas: $3"; fi
	cat <<-YAML
		  selector: {matchLabels: {app: $2}}
		  template:
		    metadata: {labels: {app: $2}}
		    spec:
		      terminationGracePeriodSeconds: 1
		      containers:
		      - name: $2
		        image: bb
		        command: [/bin/sh, -c, 'echo "hello from \$(hostname)"; exec sleep 100000']
	YAML
}

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
# joined with a fresh token; FLEET_AGENT_EXTRA is a line added to its
# agent.yaml. In a network namespace when NETNS is given
# (entered with nsenter, which keeps this mount namespace and its cgroups).
# Started again (NAME only), it keeps its configuration and namespace.
node_start() {
	local name=$1 netns=${2:-} ctl=${3:-$BERTH_CONTROLLER} listen=${4:-}
	local d=$FLEET_DIR/$name token nsvar=FLEET_NETNS_${1//[-.]/_}
	if [ -d "$d" ]; then
		netns=${netns:-${!nsvar:-}}
	else
		mkdir -p "$d"
		bctl image import bb "$FLEET_ROOTFS" --image-store "$d/images" --state-dir "$d/state" \
			>/dev/null || return 1
		# FLEET_NO_TOKEN=1: the node joins by an operator's approval instead;
		# FLEET_TOKEN=T: with that token rather than a fresh one;
		# FLEET_JOIN="TOKEN FINGERPRINT": by berthd join, which writes the
		# controller's settings into agent.yaml.
		token=${FLEET_TOKEN:-}
		[ -n "$token" ] || [ -n "${FLEET_NO_TOKEN:-}" ] || [ -n "${FLEET_JOIN:-}" ] ||
			token=$(bctl join-token 2>/dev/null) || return 1
		[ -n "$listen" ] || listen=ipc://$d/agent-remote.sock
		# An agent in the host's network namespace makes no pod network
		# there (a bridge, nftables, forwarding: not the test's to change);
		# one in a namespace of the test's has berthd's default.
		local podnet="" ctlline="controller: {address: '$ctl', key: $BERTH_CONTROLLER_KEY}" jt jfp
		[ -z "${FLEET_JOIN:-}" ] || ctlline=""
		[ -n "$netns" ] || podnet="pod_network: {mode: none}"
		case "${FLEET_AGENT_EXTRA:-}" in *pod_network*) podnet="" ;; esac
		cat >"$d/agent.yaml" <<-YAML
			node_name: $name
			labels: {fleet-node: $name}
			$ctlline
			${token:+join_token: $token}
			state_dir: $d/state
			image_store: $d/images
			cgroup_parent: /berth-fleet-$FLEET_TAG-$name
			socket: $d/agent.sock
			secrets_dir: $d/secrets
			listen: '$listen'
			operators: {admin: $FLEET_DIR/ctl/state/operators/admin.pub}
			metrics_interval: 1s
			log: {level: debug}
			${FLEET_AGENT_EXTRA:-}
			$podnet
		YAML
		if [ -n "${FLEET_JOIN:-}" ]; then
			read -r jt jfp <<<"$FLEET_JOIN"
			${netns:+nsenter --net=/run/netns/$netns} "$FLEET_BIN_AGENT" join "$ctl" --token "$jt" \
				--controller-fingerprint "$jfp" -c "$d/agent.yaml" \
				--controller-key "$d/controller.pub" >>"$d/log" 2>&1 || {
				echo "berthd join failed:"
				cat "$d/log"
				return 1
			}
		fi
		printf -v "$nsvar" %s "$netns"
		FLEET_NODES+=("$name")
	fi
	${netns:+nsenter --net=/run/netns/$netns} \
		"$FLEET_BIN_AGENT" -c "$d/agent.yaml" >>"$d/log" 2>&1 &
	eval "FLEET_PID_${name//[-.]/_}=$!"
}

node_pid() {
	local v=FLEET_PID_${1//[-.]/_}
	echo "${!v:-}"
}

# node_kill NAME SIGNAL
node_kill() {
	local pid
	pid=$(node_pid "$1")
	[ -n "$pid" ] || return 0
	kill -"$2" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	printf -v "FLEET_PID_${1//[-.]/_}" %s ""
}

# The containers a node's agent has (its state directories).
node_containers() {
	ls "$FLEET_DIR/$1/state/containers" 2>/dev/null | sort | tr '\n' ' '
}

# berthctl agent ARGS... on a node: its agent asked directly, on its socket.
node_agent() {
	local n=$1
	shift
	bctl agent "$@" --socket "$FLEET_DIR/$n/agent.sock" --state-dir "$FLEET_DIR/$n/state"
}

# What really runs on a node, whatever anyone reports: the containers whose
# cgroup holds a process, "ID=PID[,PID...]" sorted by id, one per line;
# node_running NAME [ID_PREFIX]. A container's cgroup is under the node's
# parent, or under its pod's cgroup there (beside the pod's pause, which
# is not a container).
node_running() {
	local d procs p=$FLEET_CGROUP/berth-fleet-$FLEET_TAG-$1
	for d in "$p/${2:-}"*/ "$p"/*/"${2:-}"*/; do
		[ -f "$d/cgroup.procs" ] && [ "$(basename "$d")" != pause ] || continue
		procs=$(sort -n "$d/cgroup.procs" 2>/dev/null | tr '\n' ',')
		[ -n "$procs" ] && echo "$(basename "$d")=${procs%,}"
	done | sort
}

# node_count NAME [ID_PREFIX]: how many of node_running's there are, into
# REPLY, without a fork: cheap enough to sample a fleet many times a second.
node_count() {
	local d pid p=$FLEET_CGROUP/berth-fleet-$FLEET_TAG-$1
	REPLY=0
	for d in "$p/${2:-}"*/ "$p"/*/"${2:-}"*/; do
		[ "${d%/pause/}" = "$d" ] || continue
		read -r pid 2>/dev/null <"$d/cgroup.procs" && REPLY=$((REPLY + 1))
	done
}

# deploy_pod NAME INDEX [NAMESPACE]: the name of replica INDEX of
# Deployment NAME, "NAME-<pod-template-hash>-INDEX", of its newest
# revision (berthctl get rs lists each Deployment's newest first).
deploy_pod() {
	local rs
	rs=$(bctl get rs ${3:+-n "$3"} 2>/dev/null | awk -v d="$1" \
		'NR > 1 && index($1, d "-") == 1 && substr($1, length(d) + 2) !~ /-/ { print $1; exit }')
	echo "${rs:-$1}-$2"
}

# The cgroups left under a node's parent (v1: every hierarchy).
node_cgroups() {
	find /sys/fs/cgroup/ -maxdepth 4 -path "*berth-fleet-$FLEET_TAG-$1/*" -type d 2>/dev/null
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

# --- a network of namespaces ----------------------------------------------------
#
# A bridge in a network namespace of its own, and one namespace per party
# linked to it by a veth pair, so the host's network is never touched:
# every address used lives inside these namespaces. Names carry FLEET_TAG
# (the test's pid), so runs side by side do not collide.
#
#   net_init PREFIX      the bridge; parties get PREFIX.N/24
#   net_add NAME N       namespace $(net_ns NAME), eth0 at PREFIX.N
#   net_cut NAME         the party's link down (at the bridge): a partition
#   net_heal NAME        and up again

net_init() {
	FLEET_NET_PREFIX=$1
	ip netns add "berth-$FLEET_TAG-br" || return 1
	FLEET_NET_BR=berth-$FLEET_TAG-br
	ip -n "$FLEET_NET_BR" link set lo up &&
		ip -n "$FLEET_NET_BR" link add br0 type bridge &&
		ip -n "$FLEET_NET_BR" link set br0 up
}

net_ns() {
	echo "berth-$FLEET_TAG-$1"
}

net_addr() {
	local v=FLEET_NET_ADDR_$1
	echo "$FLEET_NET_PREFIX.${!v}"
}

net_add() {
	local name=$1 ns
	ns=$(net_ns "$1")
	ip netns add "$ns" || return 1
	FLEET_NETS+=("$name")
	printf -v "FLEET_NET_ADDR_$name" %s "$2"
	# Made in the bridge's namespace, the pair never appears in the host's.
	ip -n "$FLEET_NET_BR" link add "v-$name" type veth peer name eth0 netns "$ns" &&
		ip -n "$FLEET_NET_BR" link set "v-$name" master br0 up &&
		ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add "$FLEET_NET_PREFIX.$2/24" dev eth0 &&
		ip -n "$ns" link set eth0 up
}

net_cut() {
	ip -n "$FLEET_NET_BR" link set "v-$1" down
}

net_heal() {
	ip -n "$FLEET_NET_BR" link set "v-$1" up
}

# In a party's namespace: net_run NAME COMMAND...
net_run() {
	local ns
	ns=$(net_ns "$1")
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# Remove the namespaces (the veth pairs and the bridge go with them).
net_cleanup() {
	local n
	[ -n "${FLEET_NET_BR:-}" ] || return 0
	for n in "${FLEET_NETS[@]}"; do
		ip netns del "$(net_ns "$n")" 2>/dev/null
	done
	ip netns del "$FLEET_NET_BR" 2>/dev/null
	FLEET_NETS=()
	FLEET_NET_BR=
}

# --- teardown -----------------------------------------------------------------

# Stop everything the test started, by pid, and remove what it made on the
# machine (cgroups, namespaces), keeping FLEET_DIR. Safe to run twice.
fleet_teardown() {
	local n c w
	set +e
	# Links up first, so that the agents hear the deletes.
	for n in "${FLEET_NETS[@]}"; do
		net_heal "$n" 2>/dev/null
	done
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
		for c in "$FLEET_DIR/$n"/state/containers/*/; do
			[ -p "$c/control" ] && ! flock -n "$c/monitor.lock" true &&
				timeout 2 sh -c "echo 'stop 0' >'$c/control'"
		done
	done
	# A monitor holds its lock until it has cleaned up and exits.
	for c in "$FLEET_DIR"/*/state/containers/*/monitor.lock; do
		[ -e "$c" ] && wait_until 15 flock -n "$c" true
	done
	# What a killed agent's pods left: their pauses and namespace mounts.
	for c in "$FLEET_DIR"/*/state/pods/*/; do
		[ -d "$c" ] || continue
		w=$(awk '{ print $1 }' "$c/pause" 2>/dev/null)
		[ -n "$w" ] && [ "$(cat /proc/$w/comm 2>/dev/null)" = "berth-pause" ] &&
			kill -KILL "$w" 2>/dev/null
		for w in net ipc uts pid; do
			umount "$c/$w" 2>/dev/null
		done
	done
	ctl_kill TERM
	# each agent's tmpfs of Secrets (its containers are gone)
	for n in "${FLEET_NODES[@]}"; do
		umount "$FLEET_DIR/$n/secrets" 2>/dev/null
	done
	for n in "${FLEET_NODES[@]}"; do
		for c in $(node_cgroups "$n" | sort -r) /sys/fs/cgroup/*/berth-fleet-$FLEET_TAG-$n \
			/sys/fs/cgroup/berth-fleet-$FLEET_TAG-$n; do
			[ -d "$c" ] && rmdir "$c" 2>/dev/null
		done
	done
	net_cleanup
	return 0
}

# What this run left on the machine, one line each: processes (their
# command lines name FLEET_DIR), mounts, cgroups, network namespaces.
fleet_leftovers() {
	pgrep -a -f "$FLEET_DIR/"
	awk -v d="$FLEET_DIR/" 'index($5, d) == 1 { print "mount " $5 }' /proc/self/mountinfo
	find /sys/fs/cgroup -maxdepth 2 -name "berth-fleet-$FLEET_TAG-*" -printf 'cgroup %p\n'
	ip netns list 2>/dev/null | awk -v p="berth-$FLEET_TAG-" 'index($1, p) == 1 { print "netns " $1 }'
}

fleet_cleanup() {
	fleet_teardown
	if [ "${failed:-0}" -gt 0 ] || [ -n "${FLEET_KEEP:-}" ]; then
		echo "logs kept in $FLEET_DIR"
	else
		rm -rf "$FLEET_DIR"
	fi
}
