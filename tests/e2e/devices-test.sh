#!/usr/bin/env bash
# End to end: devices on a fleet of two nodes (issue 24), as a Kubernetes
# user asks for them and as they are on the machines:
#
#   1. each node advertises its CDI devices as an extended resource (n1
#      four of kind berth.test/gpu, n2 two), from spec files the test
#      writes for device nodes it makes (mknod)
#   2. three pods asking for two each (resources.limits): two on n1, one
#      on n2; each container sees exactly its two devices and can open
#      them, never another pod's; describe pod and describe node say who
#      holds what
#   3. a fourth is Pending, and says why (Insufficient berth.test/gpu)
#   4. berthd on n1 killed and started again: the containers ran on, and
#      each keeps its devices; two new devices in a spec file on n1 are
#      advertised, and the fourth pod gets those two, not a held one
#   5. a pod's host device (CRI-O's io.kubernetes.cri-o.Devices): /dev/fuse
#      where agent.yaml allows it, refused with the reason where not
#   6. bad input: a manifest asking requests without limits, a spec file
#      with a syntax error, an unknown CDI version, a device two files
#      define: each a clear message, nothing started half-configured
#
#   devices-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_e2e_init
ctl_start || exit 1

# The devices: nodes of the TUN driver's number (opens unprivileged), one
# file each so that a container's view names which it got.
DEV=$FLEET_DIR/devs
mkdir -p "$DEV" "$FLEET_DIR/cdi-n1" "$FLEET_DIR/cdi-n2"
for i in 0 1 2 3 4 5; do
	mknod "$DEV/gpu$i" c 10 200
done
# gpu_spec FILE FIRST LAST: a CDI spec of devices gFIRST..gLAST
gpu_spec() {
	{
		printf 'cdiVersion: "0.6.0"\nkind: berth.test/gpu\ndevices:\n'
		for i in $(seq "$2" "$3"); do
			printf '  - name: g%s\n    containerEdits:\n' "$i"
			printf '      env: [GPU_g%s=present]\n' "$i"
			printf '      deviceNodes: [{path: /dev/gpu/g%s, hostPath: %s}]\n' "$i" "$DEV/gpu$i"
		done
	} >"$1"
}
gpu_spec "$FLEET_DIR/cdi-n1/gpus.yaml" 0 3
gpu_spec "$FLEET_DIR/cdi-n2/gpus.yaml" 0 1
FLEET_AGENT_EXTRA="cdi_spec_dirs: [$FLEET_DIR/cdi-n1]
allowed_devices: [/dev/fuse]" node_start n1
FLEET_AGENT_EXTRA="cdi_spec_dirs: [$FLEET_DIR/cdi-n2]" node_start n2
wait_until 30 nodes_ready 2

scenario "1. the nodes advertise their devices"
desc=$(bctl describe node n1 2>&1 | tr -s ' ')
contains "n1: capacity berth.test/gpu 4" " berth.test/gpu 4" "$desc"
contains "... all free" "berth.test/gpu: 4, 4 free" "$desc"
contains "n2: berth.test/gpu 2" "berth.test/gpu: 2, 2 free" "$(bctl describe node n2 2>&1 | tr -s ' ')"

scenario "2. three pods of two devices each"
# gpu_job NAME REPLICAS: a Deployment whose containers ask for two
gpu_deploy() {
	cat <<-YAML
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: $1}
		spec:
		  replicas: $2
		  selector: {matchLabels: {app: $1}}
		  template:
		    metadata: {labels: {app: $1}}
		    spec:
		      terminationGracePeriodSeconds: 1
		      containers:
		      - name: train
		        image: bb
		        command: [/bin/sh, -c]
		        args:
		        - |
		          for d in /dev/gpu/*; do
		            if (exec 3<>"\$d") 2>/dev/null; then echo "open \${d##*/}"; else echo "refused \${d##*/}"; fi
		          done
		          env | grep ^GPU_ | sort
		          exec sleep 100000
		        resources:
		          limits: {berth.test/gpu: 2}
	YAML
}
gpu_deploy train 3 >"$FLEET_DIR/train.yaml"
expect "apply" "deployment/train created" "$(bctl apply -f "$FLEET_DIR/train.yaml" 2>&1)"
running3() { [ "$(bctl get pods 2>/dev/null | awk 'NR > 1 && $3 == "Running"' | wc -l)" -eq 3 ]; }
wait_until 60 running3
expect "two on n1" 2 "$(bctl get pods -o wide 2>/dev/null | awk 'NR > 1 && $3 == "Running" && $7 == "n1"' | wc -l)"
expect "one on n2" 1 "$(bctl get pods -o wide 2>/dev/null | awk 'NR > 1 && $3 == "Running" && $7 == "n2"' | wc -l)"
# what each container saw: two devices, both open
all=""
for pod in $(bctl get pods 2>/dev/null | awk 'NR > 1 && $3 == "Running" { print $1 }'); do
	wait_until 10 eval '[ "$(bctl logs "$pod" 2>/dev/null | grep -c "^open ")" -ge 2 ]'
	log=$(bctl logs "$pod" 2>&1)
	node=$(bctl get pods -o wide 2>/dev/null | awk -v p="$pod" '$1 == p { print $7 }')
	expect "$pod sees exactly two devices, both open" "2 0" \
		"$(grep -c '^open ' <<<"$log") $(grep -c '^refused ' <<<"$log")"
	expect "... and their env" 2 "$(grep -c '^GPU_g.=present' <<<"$log")"
	for g in $(grep '^open ' <<<"$log" | cut -d' ' -f2); do all="$all $node/$g"; done
	contains "describe pod: Devices" "berth.test/gpu=" "$(bctl describe pod "$pod" 2>&1)"
done
expect "no device in two pods" 6 "$(tr ' ' '\n' <<<"$all" | grep -c .)"
expect "... six distinct" 6 "$(tr ' ' '\n' <<<"$all" | grep . | sort -u | wc -l)"
desc=$(bctl describe node n1 2>&1 | tr -s ' ')
contains "describe node n1: none free" "berth.test/gpu: 4, 0 free" "$desc"
for g in 0 1 2 3; do
	contains "... g$g held by a train pod" "berth.test/gpu=g$g held by default/train-" "$desc"
done
contains "... the allocated resources" " berth.test/gpu 4 4" "$desc"

scenario "3. a fourth pod does not fit"
gpu_deploy train 4 >"$FLEET_DIR/train.yaml"
contains "apply 4: the controller warns" "1 of 4 replicas cannot be placed: 0/2 nodes can take a replica: 2 Insufficient berth.test/gpu" \
	"$(bctl apply -f "$FLEET_DIR/train.yaml" 2>&1)"
first3=$(bctl get pods 2>/dev/null | awk 'NR > 1 { print $1 }' | sort)
contains "describe deployment: the replica not placed, and why" \
	"Unschedulable: 1: 0/2 nodes can take a replica: 2 Insufficient berth.test/gpu" \
	"$(bctl describe deployment train 2>&1 | tr -s ' ')"
expect "... three pods still" 3 "$(grep -c . <<<"$first3")"

scenario "4. berthd on n1 killed and started again"
before=$(node_running n1)
node_kill n1 KILL
node_start n1
wait_until 30 nodes_ready 2
sleep 2
expect "its containers ran on" "$before" "$(node_running n1)"
held=$(grep -ho 'berth.test/gpu=g[0-9]' "$FLEET_DIR"/n1/state/containers/*/plan.pb 2>/dev/null | sort | tr '\n' ' ')
expect "each keeps its devices (plans)" "berth.test/gpu=g0 berth.test/gpu=g1 berth.test/gpu=g2 berth.test/gpu=g3 " "$held"
held4() { bctl describe node n1 2>/dev/null | tr -s ' ' | grep -q "berth.test/gpu: 4, 0 free"; }
wait_until 20 held4
desc=$(bctl describe node n1 2>&1 | tr -s ' ')
contains "... and says so again: none free" "berth.test/gpu: 4, 0 free" "$desc"
contains "... g3 still held" "berth.test/gpu=g3 held by default/train-" "$desc"
gpu_spec "$FLEET_DIR/cdi-n1/more.yaml" 4 5
adv6() { bctl describe node n1 2>/dev/null | tr -s ' ' | grep -q "berth.test/gpu: 6,"; }
wait_until 20 adv6
ok_or_bad() { if "$@"; then ok "$TEXT"; else bad "$TEXT"; fi; }
TEXT="a spec file added: n1 advertises 6" ok_or_bad adv6
running4() { [ "$(bctl get pods 2>/dev/null | awk 'NR > 1 && $3 == "Running"' | wc -l)" -eq 4 ]; }
wait_until 60 running4
pend=$(bctl get pods 2>/dev/null | awk 'NR > 1 { print $1 }' | sort | comm -13 <(echo "$first3") -)
pend_node=$(bctl get pods -o wide 2>/dev/null | awk -v p="$pend" '$1 == p { print $7 }')
expect "the fourth pod runs on n1" n1 "$pend_node"
wait_until 10 eval '[ "$(bctl logs "$pend" 2>/dev/null | grep -c "^open ")" -ge 2 ]'
expect "... with the two new devices, not a held one" "g4 g5" \
	"$(bctl logs "$pend" 2>&1 | awk '/^open / { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//')"

scenario "5. a pod's host device, where agent.yaml allows it"
fuse_pod() {
	cat <<-YAML
		apiVersion: v1
		kind: Pod
		metadata:
		  name: $1
		  annotations: {io.kubernetes.cri-o.Devices: /dev/fuse}
		spec:
		  nodeName: $2
		  restartPolicy: Never
		  containers:
		  - name: c
		    image: bb
		    command: [/bin/sh, -c, 'ls -l /dev/fuse; (exec 3<>/dev/fuse) && echo fuse-open']
	YAML
}
if [ -c /dev/fuse ]; then
	fuse_pod fuse-ok n1 >"$FLEET_DIR/fuse-ok.yaml"
	fuse_pod fuse-no n2 >"$FLEET_DIR/fuse-no.yaml"
	bctl apply -f "$FLEET_DIR/fuse-ok.yaml" >/dev/null
	bctl apply -f "$FLEET_DIR/fuse-no.yaml" >/dev/null
	wait_until 30 eval 'bctl logs fuse-ok-0 2>/dev/null | grep -q fuse-open'
	contains "n1 (allowed): the pod opens /dev/fuse" "fuse-open" "$(bctl logs fuse-ok-0 2>&1)"
	wait_until 30 eval 'bctl describe pod fuse-no-0 2>/dev/null | grep -q "not allowed"'
	contains "n2 (not allowed): refused with the reason" \
		"device /dev/fuse is not allowed on this node (agent.yaml allowed_devices)" \
		"$(bctl describe pod fuse-no-0 2>&1)"
	contains "... as CreateContainerConfigError" "CreateContainerConfigError" \
		"$(bctl get pods 2>&1 | awk '$1 == "fuse-no-0"')"
else
	echo "skip: no /dev/fuse on this host"
fi

scenario "6. bad input"
cat >"$FLEET_DIR/bad.yaml" <<-YAML
	apiVersion: v1
	kind: Pod
	metadata: {name: bad}
	spec:
	  containers:
	  - name: c
	    image: bb
	    command: [/bin/true]
	    resources:
	      requests: {berth.test/gpu: 1}
YAML
out=$(bctl apply -f "$FLEET_DIR/bad.yaml" 2>&1)
contains "requests without limits: file:line:column" "bad.yaml:10:" "$out"
contains "... Kubernetes' reason" "Limit must be set" "$out"
expect "... nothing applied" "" "$(bctl get pods 2>/dev/null | awk '$1 == "bad"')"
printf 'cdiVersion: "0.6.0"\nkind: berth.test/x\ndevices: [\n' >"$FLEET_DIR/cdi-n2/broken.yaml"
printf 'cdiVersion: "9.0.0"\nkind: berth.test/y\ndevices: [{name: y, containerEdits: {env: [Y=1]}}]\n' \
	>"$FLEET_DIR/cdi-n2/future.yaml"
printf 'cdiVersion: "0.6.0"\nkind: berth.test/gpu\ndevices: [{name: g0, containerEdits: {env: [DUP=1]}}]\n' \
	>"$FLEET_DIR/cdi-n2/zz-dup.yaml"
wait_until 10 eval 'grep -q "zz-dup.yaml" "$FLEET_DIR/n2/log"'
log=$(cat "$FLEET_DIR/n2/log")
contains "a syntax error: the file, where, ignored" "CDI spec ignored: $FLEET_DIR/cdi-n2/broken.yaml:" "$log"
contains "an unknown CDI version: ignored, saying so" "future.yaml" "$log"
contains "a device two files define: the second ignored, naming the first" \
	"$FLEET_DIR/cdi-n2/gpus.yaml" "$(grep zz-dup.yaml <<<"$log")"
contains "n2 still advertises its two" "berth.test/gpu: 2," "$(bctl describe node n2 2>&1 | tr -s ' ')"

scenario "7. the Deployment deleted: every device is free again"
bctl delete deployment train >/dev/null 2>&1
wait_until 30 eval '[ -z "$(node_running n1 train)" ] && [ -z "$(node_running n2 train)" ]'
wait_until 20 eval 'bctl describe node n1 2>/dev/null | tr -s " " | grep -q "berth.test/gpu: 6, 6 free"'
contains "n1: six free" "berth.test/gpu: 6, 6 free" "$(bctl describe node n1 2>&1 | tr -s ' ')"

fleet_teardown
check_summary
