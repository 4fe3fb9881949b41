#!/usr/bin/env bash
# Security, containers (issue 14): a process inside a berth container tries
# the escapes of the audit, for real, in containers berthctl run starts.
#
#   M2  socket families Docker refuses, and i386's socketcall path around
#       the filter
#   M3  a read-only volume with a mount below its source: read-only, nosuid
#       and nodev all the way down
#   L1  Docker's masked paths, /proc/interrupts and thermal_throttle among
#       them, read as nothing
#   L5  a volume source through a symlink is refused
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
	mountpoint -q "$WORK/vol/sub" && umount "$WORK/vol/sub"
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

echo "== M3: read-only below nested mounts"
mkdir -p "$WORK/vol/sub"
mount -t tmpfs -o size=1m berth-m3 "$WORK/vol/sub"
out=$(in_container -v "$WORK/vol:/data:ro" -- /probe/escape readonly /data 2>&1)
rc=$?
echo "$out"
expect "/data and /data/sub refuse writes and are nosuid, nodev" 0 "$rc"
contains "the nested mount was checked" "/data/sub" "$out"
[ ! -e "$WORK/vol/sub/.berth-escape" ] && [ ! -e "$WORK/vol/.berth-escape" ]
expect "nothing written on the host" 0 "$?"
out=$(in_container -v "$WORK/vol:/data" -- /bin/sh -c \
	'touch /data/sub/w && grep " /data/sub " /proc/self/mounts' 2>&1)
expect "a read-write volume stays writable below" 0 "$?"
contains "its nested mount is nosuid,nodev" "nosuid,nodev" "$out"
rm -f "$WORK/vol/sub/w"

echo "== L1: masked paths"
out=$(in_container -- /probe/escape masked 2>&1)
rc=$?
echo "$out"
expect "every masked path reads as nothing" 0 "$rc"
contains "/proc/interrupts is among them" "/proc/interrupts: nothing to read" "$out"

echo "== L5: symlinks"
ln -s "$WORK/vol" "$WORK/link"
out=$(in_container -v "$WORK/link:/data:ro" -- /bin/true 2>&1)
rc=$?
[ "$rc" -ne 0 ]
expect "a volume source that is a symlink is refused (exit $rc)" 0 "$?"
contains "with a reason" "symbolic link" "$out"
mkdir -p "$WORK/real/inner"
ln -s "$WORK/real" "$WORK/vol/hop"
out=$(in_container -v "$WORK/vol/hop/inner:/data" -- /bin/true 2>&1)
rc=$?
[ "$rc" -ne 0 ]
expect "a symlink in the middle of the source is refused (exit $rc)" 0 "$?"
contains "with a reason" "symbolic link" "$out"

check_summary
