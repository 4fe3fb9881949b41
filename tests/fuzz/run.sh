#!/usr/bin/env bash
# Fuzz each target for a while:
#
#   tests/fuzz/run.sh SECONDS [TARGET...]     every target (fuzz_*.c), or those named
#
# Installs clang and libFuzzer when missing, builds the libFuzzer targets
# with ASan and UBSan into build-fuzz/ (BUILD_DIR overrides), then runs each
# for SECONDS starting from its committed corpus (tests/fuzz/corpus/TARGET).
# New inputs go to a scratch corpus, BUILD/fuzz/scratch/TARGET, never into
# the committed one; crashes, leaks, timeouts and undefined behaviour go to
# BUILD/fuzz/findings/TARGET, libFuzzer's log to BUILD/fuzz/logs/TARGET.log.
# Exits 1 when any target found something new: fix it, and add the input
# to the target's corpus so the test run replays it from then on.
#
# Environment: FUZZ_ARGS adds libFuzzer options (e.g. "-fork=2",
# "-use_value_profile=1"); JOBS, parallel build jobs (default nproc).
set -euo pipefail

usage() {
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
[ $# -ge 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || usage
seconds=$1
shift
build=${BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		targets+=("${name#fuzz_}")
	done
fi
for t in "${targets[@]}"; do
	[ -d "tests/fuzz/corpus/$t" ] || {
		echo "run.sh: no target '$t' (no tests/fuzz/corpus/$t)" >&2
		exit 2
	}
done

./deploy/install-deps.sh --fuzz
mkdir -p "$build"
echo "== configure ($build, clang, ASan+UBSan+libFuzzer)"
if ! cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1; then
	cat "$build/configure.log" >&2
	exit 1
fi
echo "== build"
if ! cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz-}" >"$build/build.log" 2>&1; then
	grep -E -B2 -A6 'error' "$build/build.log" >&2 || cat "$build/build.log" >&2
	exit 1
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
	scratch=$build/fuzz/scratch/$t
	findings=$build/fuzz/findings/$t
	log=$build/fuzz/logs/$t.log
	mkdir -p "$scratch" "$findings" "$(dirname "$log")"
	args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$findings/")
	[ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
	echo "== fuzz $t for ${seconds}s"
	before=$(find "$findings" -type f | wc -l)
	rc=0
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	"$build/tests/fuzz/fuzz-$t" "${args[@]}" ${FUZZ_ARGS:-} "$scratch" "tests/fuzz/corpus/$t" \
		>"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
	echo "   ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}, corpus $(find "$scratch" -type f | wc -l) new inputs"
	if [ "$rc" -ne 0 ] || [ "$(find "$findings" -type f | wc -l)" -ne "$before" ]; then
		echo "   FOUND something (exit $rc): $findings; log $log" >&2
		grep -E -A12 '^==[0-9]+==ERROR|runtime error|^SUMMARY|deadly signal|Timeout|leak' "$log" |
			head -40 >&2 || true
		failed+=("$t")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "run.sh: findings in: ${failed[*]}" >&2
	exit 1
fi
echo "run.sh: no findings"
