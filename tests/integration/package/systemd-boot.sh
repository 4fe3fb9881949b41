#!/bin/sh
# In the cgroup v2 VM (busybox sh): boot the Debian root ROOT with systemd as
# the init of a new PID and mount namespace, as a container manager starts
# a system container (systemd sees $container and runs as a container's
# init; the VM's whole cgroup tree is its). Its berth-systemd-test.service
# (systemd-test.sh) writes its report to /out and powers off; this prints
# the report and exits with the test's number of failures (99: it never
# reported, and the console of the boot follows).
#
#   systemd-boot.sh ROOT TIMEOUT_SECONDS
set -u
R=$1
limit=$2
mount --bind "$R" "$R" || exit 99
mkdir -p "$R/out" && mount -t tmpfs berth-out "$R/out" || exit 99
timeout -s KILL "$limit" unshare -p -f -m sh -c "
mount --make-rslave /
mount -t proc proc $R/proc
mount --rbind /sys $R/sys
mount --rbind /dev $R/dev
mount -t tmpfs tmpfs $R/run
cd $R
exec chroot . /usr/bin/env -i container=berth-vm PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd
" >/tmp/console.log 2>&1
cat "$R/out/log" 2>/dev/null
rc=$(cat "$R/out/rc" 2>/dev/null)
if [ -z "$rc" ]; then
	echo "systemd-boot: the test never reported (in ${limit}s); the console:"
	tail -60 /tmp/console.log
	exit 99
fi
exit "$rc"
