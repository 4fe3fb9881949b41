#!/usr/bin/env bash
# Security, containers (issue 14): a process inside a berth container tries
# the escapes of the audit, for real, in containers berthctl run starts.
#
#   M2  socket families Docker refuses, and i386's socketcall path around
#       the filter
#
#   container-test.sh BUILD_DIR PROBE_DIR
#
# PROBE_DIR holds escape and socketcall32 (tests/security), bind-mounted
# read-only into the containers at /probe.
set -u
BUILD=$1
PROBES=$2
. "$(dirname "$0")/../lib/check.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (containers)"
	exit 77
fi
BERTHCTL=$BUILD/scheduler-stub/berthctl
ROOTFS=$BUILD/test-rootfs
WORK=$(mktemp -d /tmp/berth-security.XXXXXX)
cleanup() {
	rm -rf "$WORK"
}
trap cleanup EXIT

# in_container ARGS... -- COMMAND...: berthctl run with the probes mounted.
in_container() {
	"$BERTHCTL" run --rootfs "$ROOTFS" -v "$PROBES:/probe:ro" "$@"
}

echo "== M2: socket families and socketcall"
out=$(in_container -- /probe/escape sockets 2>&1)
rc=$?
echo "$out"
expect "every refused family is stopped by the filter, AF_UNIX and AF_INET work" 0 "$rc"
if [ -x "$PROBES/socketcall32" ]; then
	out=$(in_container -- /probe/socketcall32 2>&1)
	expect "i386 socketcall answers ENOSYS for every family ($out)" 0 "$?"
else
	ok "i386 socketcall: not an x86-64 host"
fi

check_summary
