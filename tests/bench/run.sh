#!/usr/bin/env bash
# Build and run the benchmarks; they print their figures (nothing passes or
# fails). Extra arguments go to the rpc benchmark:
#
#   tests/bench/run.sh                  bench-rpc with its defaults
#   tests/bench/run.sh -n 50000 -s 4096 more calls, a 4 KiB payload
#
# Environment: BUILD_DIR (default build). Use an optimised, unsanitised build.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target bench-rpc >/dev/null
exec "$build/tests/bench/rpc/bench-rpc" "$@"
