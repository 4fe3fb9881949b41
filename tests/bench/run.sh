#!/usr/bin/env bash
# Run the benchmarks and print their figures with the references measured in
# the same run. Not part of tests/run.sh: figures, not pass/fail.
#
#   tests/bench/run.sh [start|monitor]     (default: all)
#
# Environment: BUILD_DIR (default build), ITERATIONS (default 50).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}
iterations=${ITERATIONS:-50}
which=${1:-all}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root (containers, cgroups)" >&2
	exit 1
fi
./deploy/install-deps.sh --bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
rootfs=$(./deploy/mkrootfs.sh "$PWD/$build/bench-rootfs")

echo "machine: $(nproc) cpus, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
if [ "$which" = all ] || [ "$which" = start ]; then
	"$build/tests/bench/bench-start" "$build/scheduler-stub/berthctl" "$rootfs" "$iterations"
fi
if [ "$which" = all ] || [ "$which" = monitor ]; then
	"$build/tests/bench/bench-monitor" "$build/agent/berth-monitor" "$rootfs" 10
fi
