#!/usr/bin/env bash
# A one-node berth fleet on this machine, with an example workload.
#
#   deploy/quickstart.sh [up]     install dependencies, build, start a
#                                 controller and an agent, run the example
#   deploy/quickstart.sh ha       the same with a 3-member etcd cluster and
#                                 3 controllers (one leading), each in a
#                                 network namespace of its own
#   deploy/quickstart.sh status   what runs
#   deploy/quickstart.sh down     stop everything and remove what up or ha
#                                 made
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
#   BERTH_QUICKSTART_HA_NET  ha: the /24 of the bridge the etcd members and
#                          controllers are on (default 10.213.99; the bridge
#                          is the pods' bridge's name and "ha", this host .1,
#                          the namespaces the pods' bridge's name, "-" and
#                          e1..e3, c1..c3)
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
# ha: the members' bridge on this host, their namespaces and addresses
HA_NET=${BERTH_QUICKSTART_HA_NET:-10.213.99}
HA_BRIDGE=${BRIDGE}ha
HA_MEMBERS="e1:11 e2:12 e3:13 c1:21 c2:22 c3:23"
ETCD_ENDPOINTS=http://$HA_NET.11:2379,http://$HA_NET.12:2379,http://$HA_NET.13:2379
ETCD_CLUSTER=e1=http://$HA_NET.11:2380,e2=http://$HA_NET.12:2380,e3=http://$HA_NET.13:2380
CONTROLLERS=tcp://$HA_NET.21:$PORT,tcp://$HA_NET.22:$PORT,tcp://$HA_NET.23:$PORT
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
	up | ha | down | status) action=$arg ;;
	--no-build) do_build=0 ;;
	-h | --help)
		sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
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

ha_ns() { echo "$BRIDGE-$1"; }

# ha: a bridge on this host and a namespace per etcd member and controller.
ha_net_up() {
	local m n a
	if ! ip link show "$HA_BRIDGE" >/dev/null 2>&1; then
		say "a bridge $HA_BRIDGE ($HA_NET.1/24) for the etcd members and controllers"
		ip link add "$HA_BRIDGE" type bridge
		ip addr add "$HA_NET.1/24" dev "$HA_BRIDGE"
		ip link set "$HA_BRIDGE" up
	fi
	for m in $HA_MEMBERS; do
		n=${m%:*} a=${m#*:}
		[ -e "/run/netns/$(ha_ns "$n")" ] && continue
		ip netns add "$(ha_ns "$n")"
		ip link add "$BRIDGE$n" type veth peer name eth0 netns "$(ha_ns "$n")"
		ip link set "$BRIDGE$n" master "$HA_BRIDGE" up
		ip -n "$(ha_ns "$n")" link set lo up
		ip -n "$(ha_ns "$n")" addr add "$HA_NET.$a/24" dev eth0
		ip -n "$(ha_ns "$n")" link set eth0 up
	done
}

ha_net_down() {
	local m
	for m in $HA_MEMBERS; do
		ip netns del "$(ha_ns "${m%:*}")" 2>/dev/null || true
	done
	ip link del "$HA_BRIDGE" 2>/dev/null || true
}

etcd_healthy() {
	etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1
}

start_etcd() {
	local i pid a
	for i in 1 2 3; do
		if pid=$(running "$DIR/run/etcd-e$i.pid"); then
			say "etcd e$i already running (pid $pid)"
			continue
		fi
		a=$HA_NET.1$i
		say "starting etcd e$i on $a:2379"
		mkdir -p "$DIR/etcd"
		setsid nsenter --net="/run/netns/$(ha_ns e$i)" etcd --name e$i --data-dir "$DIR/etcd/e$i" \
			--listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
			--listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
			--initial-cluster "$ETCD_CLUSTER" --initial-cluster-token berth-quickstart \
			--max-txn-ops 65536 --max-request-bytes 33554432 \
			</dev/null >>"$DIR/logs/etcd-e$i.log" 2>&1 &
		echo $! >"$DIR/run/etcd-e$i.pid"
	done
	wait_for 30 etcd_healthy || die "etcd did not come up; see $DIR/logs/etcd-e*.log"
}

leader_listed() {
	"$BERTHCTL" controller ls 2>/dev/null | awk '$3 == "leader" { found = 1 } END { exit !found }'
}

# ha: three controllers sharing the fleet through etcd, with one key (c1
# makes it; the others are given a copy before their first start).
start_members() {
	local i pid a d
	for i in 1 2 3; do
		d=$DIR/controller-c$i
		if pid=$(running "$DIR/run/controller-c$i.pid"); then
			say "controller c$i already running (pid $pid)"
			continue
		fi
		if [ "$i" -gt 1 ] && [ ! -f "$d/controller.key" ]; then
			mkdir -p "$d/operators"
			chmod 0700 "$d"
			cp "$DIR"/controller-c1/{controller.key,controller.pub,admin.key} "$d/"
			cp "$DIR"/controller-c1/operators/*.pub "$d/operators/"
		fi
		a=$HA_NET.2$i
		say "starting berth-controller c$i on $a:$PORT (store: etcd)"
		setsid nsenter --net="/run/netns/$(ha_ns c$i)" "$CONTROLLER" --state-dir "$d" --member c$i \
			--rpc "tcp://$a:$PORT" --events "tcp://$a:$((PORT + 1))" \
			--stream "tcp://$a:$((PORT + 2))" --survey "tcp://$a:$((PORT + 3))" \
			--advertise-host "$a" --store etcd --etcd-endpoints "$ETCD_ENDPOINTS" \
			</dev/null >>"$DIR/logs/controller-c$i.log" 2>&1 &
		echo $! >"$DIR/run/controller-c$i.pid"
		[ "$i" -gt 1 ] || wait_for 15 test -f "$DIR/controller-c1/admin.key" ||
			die "controller c1 did not start; see $DIR/logs/controller-c1.log"
	done
	cat >"$BERTH_CONFIG" <<-EOF
		# berthctl's settings for the quickstart fleet (BERTH_CONFIG=$BERTH_CONFIG):
		# the three controllers; berthctl talks to the one that leads
		controller: $CONTROLLERS
		controller_key: $DIR/controller-c1/controller.pub
		key: $DIR/controller-c1/admin.key
		operator: admin
	EOF
	wait_for 20 leader_listed || die "no controller leads; see $DIR/logs/controller-c*.log"
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
	local ctl=tcp://127.0.0.1:$PORT cdir=$DIR/controller listen=127.0.0.1
	# ha: every controller, and an address they reach (the bridge's)
	[ ! -f "$DIR/run/ha" ] || ctl=$CONTROLLERS cdir=$DIR/controller-c1 listen=$HA_NET.1
	cat >"$DIR/agent.yaml" <<-EOF
		# berthd's configuration for the quickstart (every setting: deploy/agent.yaml)
		controller:
		  address: $ctl
		  key: $cdir/controller.pub
		${token:+join_token: $token}
		state_dir: $DIR/agent
		image_store: $DIR/images
		cgroup_parent: $CGROUP_PARENT
		socket: $DIR/run/agent.sock
		listen: tcp://$listen:$((PORT + 10))
		operators: {admin: $cdir/operators/admin.pub}
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
	if [ "$action" = ha ] || [ -f "$DIR/run/ha" ]; then
		[ -f "$DIR/run/controller.pid" ] && die "a one-controller quickstart runs in $DIR: down first"
		: >"$DIR/run/ha"
		ha_net_up
		start_etcd
		start_members
	else
		start_controller
	fi
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
	if [ -f "$DIR/run/ha" ]; then
		echo
		echo "\$ berthctl controller ls"
		"$BERTHCTL" controller ls
		cat <<-EOF

			Three controllers share the fleet through etcd; berthctl and the agent
			talk to the one that leads. Kill it and watch another take over:
			  kill -9 \$(cat $DIR/run/controller-\$($BERTHCTL controller ls | awk '\$3 == "leader" { sub(/\\*\$/, "", \$1); print \$1 }').pid)
			  $BERTHCTL controller ls
		EOF
	fi
}

log_has_a_line() {
	[ -n "$("$BERTHCTL" logs --tail 1 "$1" 2>/dev/null)" ]
}

status() {
	local pid
	if [ -f "$DIR/run/ha" ]; then
		for m in e1 e2 e3 controller-c1 controller-c2 controller-c3; do
			f=$DIR/run/$m.pid
			[ "${m#e}" = "$m" ] || f=$DIR/run/etcd-$m.pid
			if pid=$(running "$f"); then echo "${m#controller-}: running (pid $pid)"; else echo "${m#controller-}: not running"; fi
		done
	elif pid=$(running "$DIR/run/controller.pid"); then echo "controller: running (pid $pid)"; else echo "controller: not running"; fi
	if pid=$(running "$DIR/run/agent.pid"); then echo "agent: running (pid $pid)"; else echo "agent: not running"; fi
	if pid=$(running "$DIR/run/registry.pid"); then echo "registry: running (pid $pid)"; else echo "registry: not running"; fi
	if [ -f "$DIR/run/ha" ] && leader_listed; then
		"$BERTHCTL" controller ls && echo
	fi
	if running "$DIR/run/controller.pid" >/dev/null || { [ -f "$DIR/run/ha" ] && leader_listed; }; then
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
	ip -o link show "$HA_BRIDGE" 2>/dev/null | awk '{ print "link " $2 }'
	ip netns list 2>/dev/null | awk -v p="$BRIDGE-" 'index($1, p) == 1 { print "netns " $1 }'
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
	local c w pid n=0
	[ -d "$DIR" ] || {
		say "nothing to stop: $DIR does not exist"
		return
	}
	if { running "$DIR/run/controller.pid" >/dev/null || { [ -f "$DIR/run/ha" ] && leader_listed; }; } &&
		running "$DIR/run/agent.pid" >/dev/null; then
		say "deleting the workloads"
		for w in $("$BERTHCTL" get workloads | awk 'NR > 1 { print $1 }'); do
			"$BERTHCTL" delete "$w" >/dev/null || true
		done
		wait_for 60 no_containers || say "some containers did not stop in time"
	fi
	say "stopping berthd, berth-controller and the registry"
	stop_pid "$DIR/run/agent.pid"
	stop_pid "$DIR/run/controller.pid"
	for c in 1 2 3; do
		stop_pid "$DIR/run/controller-c$c.pid"
	done
	# etcd last (the controllers stop through it); KILL: with its peers
	# gone a member would wait for them
	for c in 1 2 3; do
		if pid=$(running "$DIR/run/etcd-e$c.pid"); then kill -KILL "$pid" 2>/dev/null || true; fi
	done
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
	ha_net_down
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
up | ha) up ;;
down) down ;;
status) status ;;
esac
