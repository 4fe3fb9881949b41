#!/bin/sh
# Run the root suites that touch cgroups (runtime, monitor, agent) on cgroup v2 for
# real: in a small VM whose
# kernel has only the unified hierarchy, laid out as on a systemd host (the
# suites run in a leaf, system.slice/berthd.service).
#
#   v2-vm-test.sh VM_RUN BUILD_DIR ROOTFS RUN_TEST_SH
#
# Skips (77) where vm-run.sh is absent, without root, or when this host is
# already cgroup v2 (the host suites cover v2 there).
set -u
vm=$1
build=$2
rootfs=$3
runtest=$4

# The tool lives beside the repository (../shared/tools/vm); a clone
# elsewhere finds it through BERTH_VM_RUN or its usual place.
. "$(dirname "$0")/../lib/vm.sh"
if ! vm_find "$vm"; then
    echo "SKIP: vm-run.sh not found (set BERTH_VM_RUN); cgroup v2 is tested where it exists"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root"
    exit 77
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "SKIP: this host is cgroup v2 already; the host suites test v2"
    exit 77
fi

# TIMEOUT is for the whole suite.
vm_run --timeout 840 --mem 1024 --cgroup system.slice/berthd.service \
    --add "$build/tests/integration/runtime/integration-runtime-cgroup:/t/cgroup" \
    --add "$build/tests/integration/runtime/integration-runtime-container:/t/container" \
    --add "$build/tests/integration/monitor/integration-monitor:/t/monitor" \
    --add "$build/tests/integration/monitor/integration-monitor-exec:/t/monitor-exec" \
    --add "$build/tests/integration/agent/integration-agent:/t/agent" \
    --add "$build/agent/berthd:/t/berthd" \
    --add "$build/scheduler-stub/berthctl:/t/berthctl" \
    --add "$build/agent/berth-monitor:/t/berth-monitor" \
    --add "$build/agent/berth-pull:/t/berth-pull" \
    --add "$build/tests/integration/agent/libberth_test_epoll_fail.so:/t/epoll_fail.so" \
    --add "$runtest:/t/run-test.sh" \
    --add "$(dirname "$runtest")/devices-test.sh:/t/devices-test.sh" \
    --add "$(dirname "$runtest")/../../lib/check.sh:/t/check.sh" \
    --add "$build/tests/integration/runtime/netprobe:/t/netprobe" \
    --add-raw "$rootfs:/rootfs" \
    -- 'cd /t && export BERTH_TEST_ROOTFS=/rootfs BERTH_MONITOR=/t/berth-monitor BERTHD=/t/berthd BERTHCTL=/t/berthctl BERTH_TEST_EPOLL_PRELOAD=/t/epoll_fail.so CK_DEFAULT_TIMEOUT=300 &&
        echo "== cgroup suite" && ./cgroup &&
        echo "== container suite" && ./container &&
        echo "== monitor suite" && ./monitor &&
        echo "== monitor exec suite" && ./monitor-exec &&
        echo "== agent suite" && ./agent &&
        echo "== berthctl run" && ./run-test.sh /t/berthctl /rootfs /t/netprobe &&
        echo "== devices" && BERTH_CHECK_SH=/t/check.sh ./devices-test.sh /t/berthctl /rootfs'
