#!/bin/bash
# Where a container start's time goes: perf profiles, flame graphs and the
# cost of each phase, for the start-path work (BENCHMARKS.md section 1).
#
#   tests/bench/profile.sh [start] [phases] [burst] [timeline]
#                                      (root; default: all four)
#
#   start   perf record, system-wide with call graphs, of RUNS (100)
#           `berthctl run --rootfs R -- /bin/true`: the profile (by
#           command, by shared object, top symbols) and a flame graph
#   phases  the same start timed phase by phase, through uprobes on
#           berthctl's own functions and the kernel's syscall tracepoints
#           (perf probe; each probe costs a microsecond or two): medians
#           over RUNS starts
#   burst   perf record of berthd starting BURST (100) containers at once
#           (bench-agent with its fake controller): profile and flame graph
#   timeline  RUNS starts each of berthctl run, the floor with berth's
#           defences (bench-start-floor --full) and the plain floor, timed
#           mark by mark (exec, clone, pivot_root, the command's exec and
#           exit, the parent's exit) from scheduler and syscall tracepoints
#           only, side by side: where berth's own time goes
#
# Uses the build in BUILD_DIR (default: build, RelWithDebInfo as
# tests/bench/run.sh makes it) and its bench-rootfs; writes into OUT
# (default /tmp/berth-profile): NAME.txt, NAME.folded, NAME.svg. Nothing
# here asserts anything. On a hybrid cgroup host the runs happen in a
# private mount namespace without the unified mount, as bench-start's.
set -u
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
out=${OUT:-/tmp/berth-profile}
runs=${RUNS:-100}
burst=${BURST:-100}
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(start phases burst timeline)
if [ "$(id -u)" != 0 ]; then
	echo "profile.sh: needs root (perf system-wide, containers)" >&2
	exit 1
fi
command -v perf >/dev/null || {
	echo "profile.sh: perf is missing: deploy/install-deps.sh --bench" >&2
	exit 1
}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
berthctl=$build/scheduler-stub/berthctl
rootfs=$build/bench-rootfs
[ -x "$berthctl" ] && [ -d "$rootfs" ] || {
	echo "profile.sh: no $berthctl or $rootfs: run tests/bench/run.sh start first" >&2
	exit 1
}
mkdir -p "$out"
fg=$PWD/tests/bench/lib/flamegraph.py

starts() {
	for _ in $(seq "$1"); do "$berthctl" run --rootfs "$rootfs" -- /bin/true || return 1; done
}

# (internal: what perf records) --starts N
if [ "${which[0]}" = --starts ]; then
	starts "${which[1]}"
	exit
fi
# (internal) --timeline N: the three programs in turn, N times
# (interleaved: the machine drifts)
if [ "${which[0]}" = --timeline ]; then
	floor=$build/tests/bench/bench-start-floor
	for _ in $(seq "${which[1]}"); do
		"$berthctl" run --rootfs "$rootfs" -- /bin/true &&
			"$floor" --full "$rootfs" /bin/true && "$floor" "$rootfs" /bin/true || exit 1
	done
	exit
fi
# Everything in a private mount namespace: the hybrid host's unified mount
# goes there, as in bench-start.
if [ -z "${BERTH_PROFILE_NS:-}" ]; then
	BERTH_PROFILE_NS=1 exec unshare -m "$0" "$@"
fi
mount --make-rprivate /
if mountpoint -q /sys/fs/cgroup/unified && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
	umount -l /sys/fs/cgroup/unified
fi

report() { # NAME: NAME.data -> NAME.txt NAME.folded NAME.svg
	local name=$1 title=$2
	{
		echo "== $title"
		echo "== by command"
		perf report -i "$out/$name.data" --no-children --sort comm --stdio -g none 2>/dev/null |
			grep -v '^#' | grep '%' | head -15
		echo "== by shared object (berth's processes)"
		perf report -i "$out/$name.data" --no-children --comms berthctl,berthd,berth-monitor \
			--sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -15
		echo "== syscalls and kernel paths, with what they call (berth's processes)"
		perf report -i "$out/$name.data" --children --comms berthctl,berthd,berth-monitor \
			--sort sym --stdio -g none 2>/dev/null | grep -v '^#' |
			grep -E '\] (__x64_sys_|__do_sys_|do_exit|setup_net|copy_net_ns|bpf_prog_create|copy_process|path_mount|cgroup_mkdir|cgroup_rmdir|cgroup_attach_task|load_elf_binary)' |
			head -30
		echo "== top symbols, self (all processes)"
		perf report -i "$out/$name.data" --no-children --sort sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep '%' | head -25
	} >"$out/$name.txt"
	perf script -i "$out/$name.data" 2>/dev/null | python3 "$fg" "$out/$name" "$title"
	echo "$title: $out/$name.txt $out/$name.svg"
}

profile_start() {
	starts 5 || return 1
	perf record -q -a -g -F 10000 -o "$out/start.data" -- "$0" --starts "$runs" \
		>/dev/null 2>&1 || return 1
	report start "berthctl run --rootfs R -- /bin/true, $runs starts, system-wide"
}

# The phases: entry and return of the runtime's steps (uprobes), and the
# kernel's side (syscall tracepoints), per process; the parent's and the
# child's timelines are lined up by time.
profile_phases() {
	local f probes=() events=()
	for f in berth_runtime_new berth_container_create berth_cgroup_create berth_cgroup_enter \
		child_run mount_prepare mount_finish seccomp_install caps_apply_and_switch_user \
		berth_container_destroy; do
		perf probe -q -x "$berthctl" -a "$f" 2>/dev/null &&
			perf probe -q -x "$berthctl" -a "${f}%return" 2>/dev/null &&
			probes+=("$f" "${f}__return") || echo "profile.sh: no probe on $f (inlined?)" >&2
	done
	for f in "${probes[@]}"; do events+=(-e "probe_berthctl:$f"); done
	for f in unshare clone3 execve execveat; do
		events+=(-e "syscalls:sys_enter_$f" -e "syscalls:sys_exit_$f")
	done
	events+=(-e sched:sched_process_exec -e sched:sched_process_exit)
	starts 5
	perf record -q -a "${events[@]}" -o "$out/phases.data" -- "$0" --starts "$runs" \
		>/dev/null 2>"$out/phases.err"
	local rc=$?
	perf probe -q -d 'probe_berthctl:*' >/dev/null 2>&1
	[ $rc = 0 ] || return 1
	perf script -i "$out/phases.data" -F comm,pid,time,event 2>/dev/null |
		python3 tests/bench/lib/phases.py >"$out/phases.txt" || return 1
	cat "$out/phases.txt"
}

profile_timeline() {
	local floor=$build/tests/bench/bench-start-floor
	[ -x "$floor" ] || {
		echo "profile.sh: no $floor" >&2
		return 1
	}
	"$0" --timeline 5 >/dev/null 2>&1 || return 1
	perf record -q -a -e sched:sched_process_exec -e sched:sched_process_exit \
		-e syscalls:sys_enter_clone3 -e syscalls:sys_exit_clone3 \
		-e syscalls:sys_enter_pivot_root -e syscalls:sys_enter_execve \
		-o "$out/timeline.data" -- "$0" --timeline "$runs" >/dev/null 2>&1 || return 1
	perf script -i "$out/timeline.data" -F comm,pid,time,event,trace 2>/dev/null |
		python3 tests/bench/lib/timeline.py "berthctl run" "floor --full" "floor" \
			>"$out/timeline.txt" || return 1
	cat "$out/timeline.txt"
}

profile_burst() {
	local agent=$build/tests/bench/bench-agent
	[ -x "$agent" ] || {
		echo "profile.sh: no $agent" >&2
		return 1
	}
	# one start, then the burst (bench-agent: RUNS BURST...)
	perf record -q -a -g -F 5000 -o "$out/burst.data" -- \
		"$agent" "$build/agent/berthd" "$rootfs" 5 "$burst" >"$out/burst.agent.txt" 2>&1 || return 1
	report burst "berthd starting $burst containers at once (bench-agent), system-wide"
}

failed=()
for w in "${which[@]}"; do
	case "$w" in
	start) profile_start || failed+=(start) ;;
	phases) profile_phases || failed+=(phases) ;;
	timeline) profile_timeline || failed+=(timeline) ;;
	burst) profile_burst || failed+=(burst) ;;
	*)
		echo "profile.sh: unknown profile '$w' (start, phases, burst, timeline)" >&2
		exit 2
		;;
	esac
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "profile.sh: could not profile: ${failed[*]}" >&2
	exit 1
fi
