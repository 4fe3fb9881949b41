#!/usr/bin/env bash
# A one-node berth fleet on this machine, with an example workload.
#
#   deploy/quickstart.sh [up]     install dependencies, build, start a
#                                 controller and an agent, run the example
#   deploy/quickstart.sh status   what runs
#   deploy/quickstart.sh down     stop everything and remove what up made
#
# As root, on Debian 12, with no internet needed. Everything lives under one
# directory (default /var/lib/berth-quickstart): the controller's and the
# agent's state, a local registry (Debian's docker-registry) holding the
# example image, the node's image store, keys, sockets and logs; the
# containers' cgroups are under /berth-quickstart. The controller, the
# agent and the registry listen on 127.0.0.1 only. Pods get addresses on
# the node's pod network (berthd's default), here on a bridge and an
# nftables table of the quickstart's own, which down removes. The example image is
# built here (the busybox rootfs of deploy/mkrootfs.sh, with umoci) and
# pushed to the registry (skopeo); the node pulls it as it would from any
# registry. Running `up` again is harmless: what runs is left running.
#
# Environment:
#   BERTH_QUICKSTART_DIR   the directory (default /var/lib/berth-quickstart)
#   BERTH_QUICKSTART_PORT  first of the ports used (default 7100: the
#                          controller's 7100-7103, the agent's 7110, the
#                          registry's 7120)
#   BERTH_QUICKSTART_CGROUP  the containers' cgroup parent (default
#                          /berth-quickstart)
#   BERTH_QUICKSTART_BRIDGE  the pods' bridge (default berthqs0) and
#                          nftables table (berth_quickstart)
#   BUILD_DIR              where to build (default build-quickstart)
# Options:
#   --no-build             use the binaries already in BUILD_DIR
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BERTH_QUICKSTART_DIR:-/var/lib/berth-quickstart}
PORT=${BERTH_QUICKSTART_PORT:-7100}
build=${BUILD_DIR:-build-quickstart}
case "$build" in /*) ;; *) build=$top/$build ;; esac
CGROUP_PARENT=${BERTH_QUICKSTART_CGROUP:-/berth-quickstart}
BRIDGE=${BERTH_QUICKSTART_BRIDGE:-berthqs0}
NFT_TABLE=berth_quickstart
[ "$BRIDGE" = berthqs0 ] || NFT_TABLE=${BRIDGE}_quickstart
REGISTRY_PORT=$((PORT + 20))
# deploy/examples name the image at the default port; another port is
# written into the manifests the quickstart applies.
EXAMPLE_IMAGE=127.0.0.1:7120/berth/busybox:1.35
IMAGE=127.0.0.1:$REGISTRY_PORT/berth/busybox:1.35

say() { printf '==> %s\n' "$*"; }
die() {
	printf 'quickstart: %s\n' "$*" >&2
	exit 1
}

action=up
do_build=1
for arg in "$@"; do
	case "$arg" in
	up | down | status) action=$arg ;;
	--no-build) do_build=0 ;;
	-h | --help)
		sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$arg' (try --help)" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "run as root: berth creates namespaces, cgroups and mounts"
case "$DIR" in /*) ;; *) die "BERTH_QUICKSTART_DIR must be an absolute path" ;; esac

BERTHCTL=$build/scheduler-stub/berthctl
CONTROLLER=$build/scheduler-stub/berth-controller
BERTHD=$build/agent/berthd
export BERTH_CONFIG=$DIR/berthctl.yaml

# The pid in FILE if that process still runs our binary for this DIR.
running() {
	local pid
	[ -f "$1" ] || return 1
	pid=$(cat "$1")
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR" && echo "$pid"
}

wait_for() { # SECONDS COMMAND...
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.2
	done
}

build_berth() {
	say "dependencies (deploy/install-deps.sh)"
	"$top/deploy/install-deps.sh"
	if [ "$do_build" -eq 1 ]; then
		say "building into $build"
		cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
		cmake --build "$build" -j "$(nproc)" >/dev/null
	fi
	for b in "$BERTHCTL" "$CONTROLLER" "$BERTHD" "$build/agent/berth-monitor"; do
		[ -x "$b" ] || die "$b is missing (build first, or drop --no-build)"
	done
}

start_controller() {
	local pid
	if pid=$(running "$DIR/run/controller.pid"); then
		say "controller already running (pid $pid)"
		return
	fi
	say "starting berth-controller on 127.0.0.1:$PORT"
	setsid "$CONTROLLER" --state-dir "$DIR/controller" \
		--rpc "tcp://127.0.0.1:$PORT" --events "tcp://127.0.0.1:$((PORT + 1))" \
		--stream "tcp://127.0.0.1:$((PORT + 2))" --survey "tcp://127.0.0.1:$((PORT + 3))" \
		</dev/null >>"$DIR/logs/controller.log" 2>&1 &
	echo $! >"$DIR/run/controller.pid"
	cat >"$BERTH_CONFIG" <<-EOF
		# berthctl's settings for the quickstart fleet (BERTH_CONFIG=$BERTH_CONFIG)
		controller: tcp://127.0.0.1:$PORT
		controller_key: $DIR/controller/controller.pub
		key: $DIR/controller/admin.key
		operator: admin
	EOF
	wait_for 15 "$BERTHCTL" get nodes ||
		die "the controller did not come up; see $DIR/logs/controller.log"
}

start_agent() {
	local pid token=""
	if pid=$(running "$DIR/run/agent.pid"); then
		say "agent already running (pid $pid)"
		return
	fi
	# A new node joins with a one-time token; a known one just registers.
	[ -f "$DIR/agent/node.key" ] || token=$("$BERTHCTL" join-token --description quickstart)
	cat >"$DIR/agent.yaml" <<-EOF
		# berthd's configuration for the quickstart (every setting: deploy/agent.yaml)
		controller:
		  address: tcp://127.0.0.1:$PORT
		  key: $DIR/controller/controller.pub
		${token:+join_token: $token}
		state_dir: $DIR/agent
		image_store: $DIR/images
		cgroup_parent: $CGROUP_PARENT
		socket: $DIR/run/agent.sock
		listen: tcp://127.0.0.1:$((PORT + 10))
		operators: {admin: $DIR/controller/operators/admin.pub}
		pod_network: {mode: bridge, bridge: $BRIDGE, nft_table: $NFT_TABLE}
	EOF
	"$BERTHD" --check-config -c "$DIR/agent.yaml" >/dev/null
	say "starting berthd (node $(hostname))"
	setsid "$BERTHD" -c "$DIR/agent.yaml" </dev/null >>"$DIR/logs/agent.log" 2>&1 &
	echo $! >"$DIR/run/agent.pid"
	wait_for 15 node_ready || die "the agent did not register; see $DIR/logs/agent.log"
}

node_ready() {
	"$BERTHCTL" get nodes | awk 'NR > 1 && $2 == "Ready" { found = 1 } END { exit !found }'
}

start_registry() {
	local pid
	if pid=$(running "$DIR/run/registry.pid"); then
		say "registry already running (pid $pid)"
		return
	fi
	if ss -Hltn "sport = :$REGISTRY_PORT" 2>/dev/null | grep -q .; then
		die "127.0.0.1:$REGISTRY_PORT is in use; the quickstart's registry listens there"
	fi
	say "starting a registry (docker-registry) on 127.0.0.1:$REGISTRY_PORT"
	cat >"$DIR/registry.yml" <<-EOF
		version: 0.1
		log: {level: warn, accesslog: {disabled: true}}
		storage: {filesystem: {rootdirectory: $DIR/registry}}
		http: {addr: "127.0.0.1:$REGISTRY_PORT"}
	EOF
	setsid docker-registry serve "$DIR/registry.yml" </dev/null >>"$DIR/logs/registry.log" 2>&1 &
	echo $! >"$DIR/run/registry.pid"
	wait_for 15 curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/" ||
		die "the registry did not come up; see $DIR/logs/registry.log"
}

# The example image: built from the busybox rootfs and pushed, once.
push_image() {
	local oci=$DIR/build/oci repo=${IMAGE#*/}
	if curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$REGISTRY_PORT/v2/${repo%:*}/manifests/${IMAGE##*:}"; then
		say "image $IMAGE already in the registry"
		return
	fi
	say "building $IMAGE (deploy/mkrootfs.sh, umoci) and pushing it (skopeo)"
	rm -rf "$DIR/build"
	mkdir -p "$DIR/build"
	"$top/deploy/mkrootfs.sh" "$DIR/build/rootfs" >/dev/null
	tar -C "$DIR/build/rootfs" --numeric-owner -cf "$DIR/build/layer.tar" .
	umoci init --layout "$oci" >/dev/null
	umoci new --image "$oci:busybox" >/dev/null
	umoci raw add-layer --image "$oci:busybox" "$DIR/build/layer.tar" >/dev/null
	umoci config --image "$oci:busybox" --config.cmd sh \
		--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin >/dev/null
	skopeo copy --quiet --dest-tls-verify=false "oci:$oci:busybox" "docker://$IMAGE" >/dev/null
	rm -rf "$DIR/build"
}

# A manifest of deploy/examples as the quickstart applies it: its image at
# the registry's port.
example() {
	sed "s|$EXAMPLE_IMAGE|$IMAGE|g" "$top/deploy/examples/$1" >"$DIR/run/$1"
	echo "$DIR/run/$1"
}

up() {
	build_berth
	mkdir -p "$DIR"/{run,logs}
	chmod 0700 "$DIR"
	start_controller
	start_registry
	push_image
	start_agent
	# hello-web serves on the node's own network: its port must be free
	# (unless it is hello-web already serving there).
	if ! "$BERTHCTL" get containers --workload hello-web 2>/dev/null | grep -q Running &&
		ss -Hltn 'sport = :8080' 2>/dev/null | grep -q .; then
		die "127.0.0.1:8080 is in use; hello-web (deploy/examples/hello.yaml) serves there"
	fi
	say "applying deploy/examples/hello.yaml (the node pulls $IMAGE)"
	"$BERTHCTL" apply -f "$(example hello.yaml)" --wait --wait-timeout 120s
	echo
	"$BERTHCTL" get containers
	echo
	local log
	log=$("$BERTHCTL" get containers --workload hello-log | awk 'NR == 2 { print $1 }')
	wait_for 10 log_has_a_line "$log" || true
	echo "\$ berthctl logs --tail 1 $log"
	"$BERTHCTL" logs --tail 1 "$log"
	echo "\$ wget -qO- http://127.0.0.1:8080/"
	wait_for 10 /bin/busybox wget -qO- http://127.0.0.1:8080/ || true
	/bin/busybox wget -qO- http://127.0.0.1:8080/ || echo "(hello-web does not answer yet)"
	cat <<-EOF

		The fleet runs. Try:
		  export BERTH_CONFIG=$BERTH_CONFIG
		  $BERTHCTL get nodes
		  $BERTHCTL describe workload hello-web
		  $BERTHCTL logs -f $log
		  $BERTHCTL apply -f $(example batch.yaml)
		  $BERTHCTL image ls --image-store $DIR/images --state-dir $DIR/agent
		  $BERTHCTL health
		  $BERTHCTL agent ps --socket $DIR/run/agent.sock --state-dir $DIR/agent
		Stop it all and remove it: $0 down
	EOF
}

log_has_a_line() {
	[ -n "$("$BERTHCTL" logs --tail 1 "$1" 2>/dev/null)" ]
}

status() {
	local pid
	if pid=$(running "$DIR/run/controller.pid"); then echo "controller: running (pid $pid)"; else echo "controller: not running"; fi
	if pid=$(running "$DIR/run/agent.pid"); then echo "agent: running (pid $pid)"; else echo "agent: not running"; fi
	if pid=$(running "$DIR/run/registry.pid"); then echo "registry: running (pid $pid)"; else echo "registry: not running"; fi
	if running "$DIR/run/controller.pid" >/dev/null; then
		"$BERTHCTL" get nodes && echo && "$BERTHCTL" get containers
	fi
}

# What of ours is still around: processes naming DIR, mounts under it,
# cgroups under CGROUP_PARENT.
leftovers() {
	local pid
	for pid in $(pgrep -f -- "$DIR" || true); do
		[ "$pid" = $$ ] || echo "process $pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)"
	done
	awk -v d="$DIR" 'index($2, d) == 1 { print "mount " $2 }' /proc/self/mounts
	find /sys/fs/cgroup -maxdepth 2 -name "${CGROUP_PARENT#/}" -type d 2>/dev/null | sed 's/^/cgroup /'
	ip -o link show "$BRIDGE" 2>/dev/null | awk '{ print "link " $2 }'
	nft list table ip "$NFT_TABLE" >/dev/null 2>&1 && echo "nftables table ip $NFT_TABLE"
	true
}

stop_pid() { # PIDFILE
	local pid
	pid=$(running "$1") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_for 15 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
}

down() {
	local c w n=0
	[ -d "$DIR" ] || {
		say "nothing to stop: $DIR does not exist"
		return
	}
	if running "$DIR/run/controller.pid" >/dev/null && running "$DIR/run/agent.pid" >/dev/null; then
		say "deleting the workloads"
		for w in $("$BERTHCTL" get workloads | awk 'NR > 1 { print $1 }'); do
			"$BERTHCTL" delete "$w" >/dev/null || true
		done
		wait_for 60 no_containers || say "some containers did not stop in time"
	fi
	say "stopping berthd, berth-controller and the registry"
	stop_pid "$DIR/run/agent.pid"
	stop_pid "$DIR/run/controller.pid"
	stop_pid "$DIR/run/registry.pid"
	# Containers the agent could not stop (it was not running): their
	# monitors stop them.
	for c in "$DIR"/agent/containers/*/control; do
		[ -p "$c" ] || continue
		timeout 2 sh -c "echo 'stop 0' >'$c'" || true
		n=$((n + 1))
	done
	[ $n -eq 0 ] || wait_for 30 no_monitors || true
	# Last resort for anything of ours still alive.
	for c in $(pgrep -f -- "$DIR" || true); do
		[ "$c" = $$ ] || kill -KILL "$c" 2>/dev/null || true
	done
	for c in $(find /sys/fs/cgroup -depth -path "*${CGROUP_PARENT}*" -type d 2>/dev/null); do
		rmdir "$c" 2>/dev/null || true
	done
	awk -v d="$DIR" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	# The pod network: the pods' veths went with their namespaces.
	ip link del "$BRIDGE" 2>/dev/null || true
	nft delete table ip "$NFT_TABLE" 2>/dev/null || true
	rm -rf -- "$DIR"
	if [ -n "$(leftovers)" ]; then
		leftovers >&2
		die "these were left behind"
	fi
	say "stopped; $DIR removed, nothing left behind"
}

no_containers() { [ -z "$(ls -A "$DIR/agent/containers" 2>/dev/null)" ]; }
no_monitors() { ! pgrep -f -- "berth-monitor.*$DIR" >/dev/null; }

case "$action" in
up) up ;;
down) down ;;
status) status ;;
esac
