#!/bin/sh
# berthd and berth-monitor each run one event loop that must never wait:
# they link none of the blocking forms that lib/ keeps for programs without
# a loop (lib/runtime/wait.c, lib/statedir/wait.c) and call no sleep.
#
#   no-blocking-waits.sh BINARY...
set -eu
status=0
for bin in "$@"; do
	name=$(basename "$bin")
	for sym in nanosleep clock_nanosleep usleep sleep; do
		# dynamic: an undefined symbol; static (berth-monitor is static-pie):
		# libc's object linked in, which happens only when something calls it
		if nm -u "$bin" | grep -Eq "^ *U $sym(@|\$)" ||
			nm --defined-only "$bin" | grep -Eq " [TtWw] (__)?$sym\$"; then
			echo "$name calls $sym"
			status=1
		fi
	done
	for sym in berth_cgroup_destroy berth_container_destroy berth_container_exec berth_monitor_start; do
		if nm --defined-only "$bin" | grep -Eq " [Tt] $sym\$"; then
			echo "$name links $sym, which blocks"
			status=1
		fi
	done
done
[ "$status" -ne 0 ] || echo "no blocking waits in: $*"
exit "$status"
