#!/usr/bin/env bash
# The one test command: install what is missing, configure, build, run every
# test. Its output ends with ctest's summary; its exit code is ctest's.
#
#   tests/run.sh                 everything (as root: installs packages, runs
#                                the tests that need namespaces and cgroups)
#   tests/run.sh -R REGEX        only the ctest tests matching REGEX
#
# Environment: BUILD_DIR (default build), CI (set: -Werror), BERTH_SANITIZE=1
# (ASan+UBSan build), JOBS (parallel build jobs, default nproc).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

if [ "$(id -u)" -eq 0 ]; then
	./deploy/install-deps.sh
else
	./deploy/install-deps.sh || {
		echo "run.sh: dependencies are missing; run as root or install them first" >&2
		exit 1
	}
	echo "run.sh: not root: tests that need namespaces and cgroups will be skipped" >&2
fi

cmake_args=(-S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ -n "${CI:-}" ] && [ "${CI}" != false ]; then cmake_args+=(-DBERTH_WERROR=ON); fi
if [ -n "${BERTH_SANITIZE:-}" ]; then cmake_args+=(-DBERTH_SANITIZE=ON); fi

mkdir -p "$build"
echo "== configure ($build)"
if ! cmake "${cmake_args[@]}" >"$build/configure.log" 2>&1; then
	cat "$build/configure.log" >&2
	exit 1
fi
echo "== build"
if ! cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1; then
	grep -E -B2 -A6 'error|Error' "$build/build.log" >&2 || cat "$build/build.log" >&2
	echo "run.sh: build failed (full log: $build/build.log)" >&2
	exit 1
fi
grep -E -A4 'warning:' "$build/build.log" >&2 || true

echo "== test"
exec ctest --test-dir "$build" --output-on-failure --no-tests=error "$@"
