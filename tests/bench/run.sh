#!/usr/bin/env bash
# Run the benchmarks and print their figures with the references measured in
# the same run. Not part of tests/run.sh: figures, not pass/fail.
#
#   tests/bench/run.sh [start] [monitor] [exec] [rpc] [agent] [readopt] [controller] [rollout]
#                      [scale] [ha] [image]
#                                                         (default: all of them)
#
#   start    berthctl run vs crun run vs the kernel floor of its isolation
#            (floor.c), and vs that floor with berth's defences (floor.c --full)
#   monitor  berth-monitor vs conmon memory, 1 and 10 instances
#   exec     a command in a running container through berth-monitor's exec
#            socket vs crun exec, interleaved: `true` round trips, then 100 MB
#            through `cat` (EXEC_ROUNDS=200); then berthctl exec end to end
#            (a controller and berthd) vs crun exec and raw nanomsg
#   rpc      unary calls vs raw nanomsg REQ/REP (RPC_ARGS="-n 50000 -s 4096")
#   agent    berthd: assignment -> Running, and density (AGENT_ARGS="50 100 500":
#            latency runs, then container counts)
#   readopt  berthd restarted with every monitor killed (orphans to clean up),
#            and the monitors killed under a running berthd: Agent.Health round
#            trips and heartbeat gaps against an idle baseline, interleaved
#            (READOPT_ARGS="5 20": rounds, containers)
#   controller  berth-controller with a real berthd: Apply -> Running (100 runs,
#            then a 100-replica burst) and exit -> the controller's record
#            (CONTROLLER_ARGS="100 100": runs, burst)
#   rollout  berth-controller with a real berthd: rolling updates of a
#            100-replica Deployment (maxSurge 25 %), their time and the
#            controller's CPU (ROLLOUT_ARGS="3 100": rollouts, replicas)
#   scale    berth-controller with 1000 fake agents: registration, heartbeats,
#            10000 replicas placed and Running (SCALE_ARGS="1000 10000 10":
#            agents, replicas, workloads); on SQLite, then on a 3-member etcd
#   ha       etcd against SQLite: Apply round trips, interleaved, and failover
#            over leader kills (HA_ARGS="200 20": applies, kills)
#   image    berthctl image pull of a 100 MB, 6-layer image from a loopback
#            registry vs skopeo copy + umoci unpack; then on a node (a real
#            controller and berthd): Apply -> Running for an image not yet
#            pulled, one already pulled, and a directory image (IMAGE_RUNS=5)
#
# Environment: BUILD_DIR (default build; use an optimised, unsanitised
# build), ITERATIONS (start, default 50).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}
iterations=${ITERATIONS:-50}
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(start monitor exec rpc agent readopt controller rollout scale ha image)

for b in "${which[@]}"; do
	case "$b" in
	start | monitor | exec | rpc | agent | readopt | controller | rollout | scale | ha | image) ;;
	*)
		echo "bench/run.sh: unknown benchmark '$b' (start, monitor, exec, rpc, agent, readopt, controller, rollout, scale, ha, image)" >&2
		exit 2
		;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root (containers, cgroups)" >&2
	exit 1
fi
./deploy/install-deps.sh --bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" >/dev/null
case "$build" in /*) abs=$build ;; *) abs=$PWD/$build ;; esac
rootfs=$(./deploy/mkrootfs.sh "$abs/bench-rootfs")
. tests/bench/lib/etcd.sh

# One benchmark; its exit code (a benchmark that could not measure says why
# and fails; the others still run).
run_one() {
	case "$1" in
	start) "$build/tests/bench/bench-start" "$build/scheduler-stub/berthctl" "$rootfs" "$iterations" ;;
	monitor) "$build/tests/bench/bench-monitor" "$build/agent/berth-monitor" "$rootfs" 10 ;;
	exec)
		"$build/tests/bench/bench-exec" "$build/agent/berth-monitor" "$rootfs" "${EXEC_ROUNDS:-200}" &&
			tests/bench/exec/bench-exec-wire.sh "$abs" "$rootfs" "${EXEC_ROUNDS:-200}"
		;;
	rpc)
		# shellcheck disable=SC2086
		"$build/tests/bench/rpc/bench-rpc" ${RPC_ARGS:-}
		;;
	agent)
		# shellcheck disable=SC2086
		"$build/tests/bench/bench-agent" "$build/agent/berthd" "$rootfs" ${AGENT_ARGS:-50 100 500}
		;;
	readopt)
		# shellcheck disable=SC2086
		"$build/tests/bench/bench-readopt" "$build/agent/berthd" "$rootfs" ${READOPT_ARGS:-5 20}
		;;
	controller)
		# shellcheck disable=SC2086
		set -- ${CONTROLLER_ARGS:-100 100}
		"$build/tests/bench/controller/bench-fleet" apply "$rootfs" "$@" &&
			"$build/tests/bench/controller/bench-fleet" exit "$rootfs" "$1"
		;;
	rollout)
		# shellcheck disable=SC2086
		set -- ${ROLLOUT_ARGS:-3 100}
		"$build/tests/bench/controller/bench-fleet" rollout "$rootfs" "$@"
		;;
	scale)
		echo "scale: the store SQLite"
		# shellcheck disable=SC2086
		"$build/tests/bench/controller/bench-scale" ${SCALE_ARGS:-} || return 1
		echo "scale: the store etcd (3 members on loopback)"
		bench_etcd_up "$(mktemp -d /tmp/berth-bench-etcd.XXXXXX)" || return 1
		# shellcheck disable=SC2086
		BENCH_ETCD=$BENCH_ETCD "$build/tests/bench/controller/bench-scale" ${SCALE_ARGS:-}
		local rc=$?
		bench_etcd_down
		return $rc
		;;
	ha)
		bench_etcd_up "$(mktemp -d /tmp/berth-bench-etcd.XXXXXX)" || return 1
		# shellcheck disable=SC2086
		"$build/tests/bench/controller/bench-ha" "$BENCH_ETCD" ${HA_ARGS:-200 20}
		local rc=$?
		bench_etcd_down
		return $rc
		;;
	image)
		tests/bench/image/bench-image.sh "$abs" "$rootfs" "${IMAGE_RUNS:-5}" &&
			tests/bench/image/bench-image-agent.sh "$abs" "$rootfs" "${IMAGE_RUNS:-5}"
		;;
	esac
}

echo "machine: $(nproc) cpus, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
failed=()
for b in "${which[@]}"; do
	run_one "$b" || failed+=("$b")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench/run.sh: could not measure: ${failed[*]}" >&2
	exit 1
fi
