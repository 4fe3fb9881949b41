#!/bin/bash
# berth under systemd, for real: runs as a oneshot service of a Debian 12
# root booted with systemd as its init in the cgroup v2 VM (package-test.sh
# step 7 puts it there with the berth packages installed). The packaged
# units start the controller and berthd (Type=notify); berthd finds systemd
# and makes its containers' cgroups as systemd units (cgroup_driver auto):
# a slice per pod with the pod's limits, a delegated scope per container
# monitor, a scope for a shared-PID pod's pause. Checked: what systemd
# shows of them, that berthd.service holds berthd alone, that an OOM kill
# in a container stops nothing, that a restart and a stop of berthd leave
# the containers running, and that deleting the workloads removes every
# unit and cgroup of theirs.
#
# Its output goes to /out/log, its number of failures to /out/rc; it powers
# the machine off at the end.
set -u
exec >/out/log 2>&1
. /usr/local/lib/berth-test/check.sh
export BERTH_CONTROLLER=tcp://127.0.0.1:7100 NO_COLOR=1
finish() {
	if [ "$failed" -gt 0 ]; then
		echo "== berthd's journal"
		journalctl -u berthd --no-pager -o cat | tail -40
	fi
	check_summary
	echo "$failed" >/out/rc
	systemctl poweroff --no-block
}
trap finish EXIT
fatal() {
	bad "$1"
	exit 1
}
bctl() { berthctl "$@"; }
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
ppid_of() { awk '$1 == "PPid:" { print $2 }' "/proc/$1/status" 2>/dev/null; }
prop() { systemctl show -P "$2" "$1" 2>&1; }
# The id and the pid of workload $1's container (named $2 in a pod of
# several: "<pod>_<name>"), from berthctl get containers -o wide.
row() {
	bctl get containers -o wide |
		awk -v w="$1" -v c="${2:-}" -v f="$3" 'NR > 1 && $3 == w && (c == "" || $1 ~ "_" c "$") { print $f }'
}
cid() { row "$1" "${2:-}" 1; }
cpid() { row "$1" "${2:-}" 8; }
# systemd-escape's form of an id: "web-0" is "web\x2d0"
esc() { printf '%s' "$1" | sed 's/-/\\x2d/g'; }

echo "== the controller and berthd as the packages' units"
systemctl start berth-controller
expect "systemctl start berth-controller (Type=notify: returns once it serves)" 0 "$?"
wait_until 20 bctl get nodes || fatal "berthctl get nodes answers"
cp /var/lib/berth/controller/controller.pub /etc/berth/controller.pub
token=$(bctl join-token --description systemd-test) || fatal "berthctl join-token"
sed -i -e "s|address: tcp://10.0.0.1:7100|address: tcp://127.0.0.1:7100|" \
	-e "s|^#join_token: .*|join_token: $token|" \
	-e "s|^#node_name: .*|node_name: sdnode|" \
	-e "s|^  mode: bridge$|  mode: none|" \
	-e "s|^#listen: .*|listen: tcp://127.0.0.1:7104|" /etc/berth/agent.yaml
berthctl image import bb /usr/local/lib/berth-test/rootfs >/dev/null
expect "berthctl image import bb" 0 "$?"
systemctl start berthd
expect "systemctl start berthd (Type=notify)" 0 "$?"
expect "berthd.service is active" "active" "$(systemctl is-active berthd)"
node_ready() { bctl get nodes | awk 'NR > 1 && $1 == "sdnode" && $2 == "Ready" { f = 1 } END { exit !f }'; }
wait_until 30 node_ready || fatal "the node registers and is Ready ($(bctl get nodes 2>&1))"
ok "the node is Ready"
contains "berthd says it uses systemd's driver, in berth.slice" "(systemd driver, berth.slice)" \
	"$(journalctl -u berthd --no-pager -o cat | grep 'started: node')"
contains "systemctl status shows berthd's STATUS= line" "Status:" "$(systemctl status berthd --no-pager)"

echo "== a Deployment and a pod of two with a shared PID namespace"
cat >/root/w.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: bb
        imagePullPolicy: Never
        command: [/bin/sh, -c, 'exec sleep 100000']
        resources: {limits: {memory: 64Mi, cpu: 200m}}
---
apiVersion: v1
kind: Pod
metadata: {name: duo}
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: bb
    imagePullPolicy: Never
    command: [sleep, '100000']
    resources: {limits: {memory: 32Mi, cpu: 100m}}
  - name: hog
    image: bb
    imagePullPolicy: Never
    command: [/bin/sh, -c, 'sleep 1; dd if=/dev/zero of=/dev/null bs=48M count=1; exec sleep 100000']
    resources: {limits: {memory: 16Mi, cpu: 100m}}
YAML
out=$(bctl apply -f /root/w.yaml --wait --wait-timeout 120s 2>&1)
expect "berthctl apply --wait: both run" 0 "$?"
[ -n "$(cpid web)" ] || {
	echo "$out"
	bctl get containers -o wide
}

web=$(cpid web)
webid=$(cid web)
cg=$(cgroup_of "${web:-0}")
scope=$(basename "$(dirname "$cg")")
expect "the web container's cgroup: <its monitor's scope>/<its id> in berth.slice" \
	"/berth.slice/berth-ctr-$(esc "$webid").scope/$webid" "$cg"
expect "its scope is an active unit" "active" "$(systemctl is-active "$scope" 2>&1)"
expect "... delegated to berth" "yes" "$(prop "$scope" Delegate)"
expect "... in berth.slice" "berth.slice" "$(prop "$scope" Slice)"
mon=$(ppid_of "${web:-0}")
expect "its berth-monitor is in the scope's leaf" "$(dirname "$cg")/.berth-monitor" \
	"$(cgroup_of "${mon:-0}")"
expect "the container's own limits are on its cgroup" "67108864" \
	"$(cat "/sys/fs/cgroup$cg/memory.max" 2>&1)"
expect "systemd accounts the scope's memory (MemoryCurrent is a figure)" "yes" \
	"$(prop "$scope" MemoryCurrent | grep -qE '^[0-9]+$' && echo yes)"

# berthd and its helpers (berth-pull, berth-cni), no monitor, no container
in_agent_unit() {
	local p
	for p in $(cat /sys/fs/cgroup/system.slice/berthd.service/cgroup.procs); do
		cat "/proc/$p/comm"
	done | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect "berthd.service holds berthd alone" "berthd" "$(in_agent_unit)"

a=$(cpid duo a)
aid=$(cid duo a)
pod=${aid%_a}
slice=berth-pod_$(esc "$pod").slice
acg=$(cgroup_of "${a:-0}")
expect "the pod's container a: its scope in the pod's slice ($slice)" \
	"/berth.slice/$slice/berth-ctr-$(esc "$aid").scope/$aid" "$acg"
expect "the pod's slice is active" "active" "$(systemctl is-active "$slice" 2>&1)"
expect "its MemoryMax: the containers' limits and 4 MiB for each monitor" \
	"$(((32 + 16 + 4 + 4) * 1024 * 1024))" "$(prop "$slice" MemoryMax)"
expect "... in force on its cgroup" "$(((32 + 16 + 4 + 4) * 1024 * 1024))" \
	"$(cat "/sys/fs/cgroup/berth.slice/$slice/memory.max" 2>&1)"
expect "its CPU quota: the containers' (200m)" "200ms" "$(prop "$slice" CPUQuotaPerSecUSec)"
pscope=berth-pause-$(esc "$pod").scope
pause=$(cat "/sys/fs/cgroup/berth.slice/$slice/$pscope/cgroup.procs" 2>&1)
expect "its pause has a scope of its own in the slice" "active" \
	"$(systemctl is-active "$pscope" 2>&1)"
expect "... holding the pause" "berth-pause" "$(cat "/proc/${pause:-0}/comm" 2>&1)"

# the hog: an OOM kill in its cgroup, its scope and monitor go on
hid=$(cid duo hog)
hscope=berth-ctr-$(esc "$hid").scope
hog_oom() { grep -qE '^oom_kill [1-9]' "/sys/fs/cgroup/berth.slice/$slice/$hscope/memory.events"; }
wait_until 60 hog_oom
expect "the hog was OOM-killed in its scope" 0 "$?"
expect "... which is still active (OOMPolicy=continue)" "active" \
	"$(systemctl is-active "$hscope" 2>&1)"
hog_monitor() { [ -n "$(cat "/sys/fs/cgroup/berth.slice/$slice/$hscope/.berth-monitor/cgroup.procs")" ]; }
wait_until 30 hog_monitor
expect "... with its monitor" 0 "$?"

echo "== berthd restarted and stopped: the containers go on"
systemctl restart berthd
expect "systemctl restart berthd" 0 "$?"
wait_until 30 node_ready
expect "the node is Ready again" 0 "$?"
expect "the web container is the same process" "$web" "$(cpid web)"
expect "... under the same monitor" "$mon" "$(ppid_of "${web:-0}")"
expect "... in the same cgroup" "$cg" "$(cgroup_of "${web:-0}")"
expect "berthd.service still holds berthd alone" "berthd" "$(in_agent_unit)"
systemctl stop berthd
expect "systemctl stop berthd" 0 "$?"
expect "the container outlives its agent's stop" "yes" "$(kill -0 "${web:-0}" 2>/dev/null && echo yes)"
expect "... its scope too" "active" "$(systemctl is-active "$scope" 2>&1)"
systemctl start berthd
wait_until 30 node_ready
expect "berthd is back" 0 "$?"

echo "== the workloads deleted: their units and cgroups go"
out=$(bctl delete -f /root/w.yaml 2>&1)
expect "berthctl delete -f" 0 "$?"
units() { systemctl list-units --all --no-legend --plain --type=slice,scope 'berth-*' | awk '{ print $1 }'; }
no_units() { [ -z "$(units)" ]; }
wait_until 60 no_units
expect "no berth-* slice or scope is left" "" "$(units | tr '\n' ' ')"
expect "no cgroup is left in berth.slice" "" \
	"$(find /sys/fs/cgroup/berth.slice -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')"
expect "the web container's process is gone" "no" "$(kill -0 "${web:-0}" 2>/dev/null && echo yes || echo no)"

