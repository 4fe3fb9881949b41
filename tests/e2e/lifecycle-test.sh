#!/usr/bin/env bash
# End to end: workloads' lifecycle on a fleet of three nodes, as a
# Kubernetes user drives it (apply, berthctl rollout, Jobs), checked as the
# operator sees it and as it is (the processes in the nodes' cgroups):
#
#   1. a rolling update of 6 replicas with maxUnavailable 1 and maxSurge 1:
#      sampled 10 times a second, the controller never counts fewer than 5
#      Ready and the nodes never run fewer than 5 of its containers; it
#      finishes (rollout status), every replica of the new revision
#   2. an update to an image that does not exist stalls with the old
#      replicas serving (5 Ready), runs past its progressDeadlineSeconds
#      (rollout status fails, ProgressDeadlineExceeded), and rollout undo
#      brings the fleet back
#   3. history, pause (a new template waits) and resume, restart
#   4. Recreate: no old replica runs once a new one does
#   5. a DaemonSet's rolling update: one node at a time (never fewer than
#      2 of 3 Ready, nor 2 running), OnDelete leaves running replicas be
#   6. a Job of 6 completions, 2 at a time, completes across the loss of a
#      node; no pod that succeeded runs again
#   7. a CronJob every minute: its Jobs, one a minute, across a restart of
#      the controller (kill -9), none twice; deleted with its Jobs
#   8. a drain of a node holding 3 replicas under a PodDisruptionBudget of
#      maxUnavailable 1: sampled 10 times a second, never fewer than 2
#      Ready; the drain waits out the budget (its refusals shown) and ends
#      with the node empty but for nothing, its pods Ready elsewhere
#   9. deleted: nothing left
#
#   lifecycle-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_e2e_init
# short leases: a node lost is Down within seconds
ctl_start --heartbeat-min-interval 500ms --heartbeat-misses 4 --down-grace 4s || exit 1
NODES="n1 n2 n3"
for n in $NODES; do
	node_start $n
done
wait_until 30 nodes_ready 3

# roll.yaml with VERSION=$1, image $2 (default bb), strategy $3 (default
# RollingUpdate with maxSurge 1, maxUnavailable 1).
manifest() {
	local strategy=${3:-}
	[ -n "$strategy" ] || strategy='{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}'
	cat >"$FLEET_DIR/roll.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: roll
  annotations: {kubernetes.io/change-cause: "version $1"}
spec:
  replicas: 6
  minReadySeconds: 1
  progressDeadlineSeconds: 15
  strategy: $strategy
  selector: {matchLabels: {app: roll}}
  template:
    metadata: {labels: {app: roll}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: ${2:-bb}
        command: [/bin/sh, -c, 'touch /tmp/ready; echo "version \$VERSION"; exec sleep 100000']
        env: [{name: VERSION, value: "$1"}]
        readinessProbe:
          exec: {command: [test, -e, /tmp/ready]}
          periodSeconds: 1
YAML
	echo "$FLEET_DIR/roll.yaml"
}
# deploy_field COLUMN: a column of get deployments roll (2 READY, 3
# UP-TO-DATE, 4 AVAILABLE).
deploy_field() {
	bctl get deployments roll | awk -v c="$1" 'NR == 2 { print $c }'
}
complete() {
	bctl rollout status deployment/roll --watch=false 2>&1 | grep -q "successfully rolled out"
}
# How many of roll's containers run on the nodes, into REPLY.
running_now() {
	local n total=0
	for n in $NODES; do
		node_count $n roll-
		total=$((total + REPLY))
	done
	REPLY=$total
}
# The replicas of the revision whose names start with $1, as get pods
# shows them Running.
pods_of() {
	bctl get pods --workload roll | awk -v p="$1" 'NR > 1 && index($1, p) == 1' | wc -l
}

scenario "1. a rolling update of 6, maxUnavailable 1, maxSurge 1"
bctl apply -f "$(manifest 1)" >/dev/null
wait_until 60 complete && ok "version 1 rolled out" || bad "v1: $(bctl get pods 2>&1)"
expect "READY UP-TO-DATE AVAILABLE" "6/6 6 6" "$(deploy_field 2) $(deploy_field 3) $(deploy_field 4)"
rs1=$(deploy_pod roll 0)
rs1=${rs1%-0}
bctl apply -f "$(manifest 2)" >/dev/null
min_ready=6 min_running=6 samples=0 done_at=
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
	r=$(deploy_field 2)
	r=${r%/*}
	running_now
	samples=$((samples + 1))
	[ -n "$r" ] && [ "$r" -lt $min_ready ] && min_ready=$r
	[ "$REPLY" -lt $min_running ] && min_running=$REPLY
	if complete; then
		done_at=$SECONDS
		break
	fi
	sleep 0.1
done
[ -n "$done_at" ] && ok "version 2 rolled out ($samples samples)" ||
	bad "version 2 did not finish: $(bctl describe deployment roll 2>&1)"
[ "$min_ready" -ge 5 ] && ok "never fewer than 5 Ready (at least $min_ready)" ||
	bad "only $min_ready Ready at one sample"
[ "$min_running" -ge 5 ] && ok "never fewer than 5 running on the nodes (at least $min_running)" ||
	bad "only $min_running running at one sample"
rs2=$(deploy_pod roll 0)
rs2=${rs2%-0}
[ "$rs1" != "$rs2" ] && ok "a new revision: $rs1 -> $rs2" || bad "the same revision $rs2"
wait_until 10 test "$(pods_of "$rs1-")" -eq 0
expect "all 6 pods are the new revision's" "6 0" "$(pods_of "$rs2-") $(pods_of "$rs1-")"
old_gone() {
	for n in $NODES; do
		[ -z "$(node_running $n "$rs1-")" ] || return 1
	done
}
wait_until 15 old_gone && ok "no old replica runs on any node" ||
	bad "old replicas still run: $(for n in $NODES; do node_running $n "$rs1-"; done)"
c=$(deploy_pod roll 3)
expect "the new replicas run the new template" "version 2" "$(bctl logs "$c" 2>&1)"
out=$(bctl get rs)
contains "get rs: the new revision has 6" "$(printf '%s' "$rs2") 6" "$(echo "$out" | awk '{ print $1, $2 }')"
contains "get rs: the old has none" "$(printf '%s' "$rs1") 0" "$(echo "$out" | awk '{ print $1, $2 }')"
out=$(bctl describe deployment roll 2>&1)
contains "describe: the strategy" "RollingUpdateStrategy:  1 max unavailable, 1 max surge" "$out"
contains "describe: Progressing" "NewReplicaSetAvailable" "$out"
contains "describe: the new replica set" "NewReplicaSet:   $rs2 (6/6 replicas created)" "$out"
contains "events: kubectl's ScalingReplicaSet" "Scaled down replica set $rs1 to 0 from" \
	"$(bctl describe deployment roll 2>&1)"

scenario "2. an image that does not exist: it stalls, the old ones serve, undo"
bctl apply -f "$(manifest 3 nothere:1)" >/dev/null
stalled() {
	[ "$(deploy_field 2)" = 5/6 ] && [ "$(deploy_field 3)" = 2 ]
}
wait_until 30 stalled && ok "stalled at READY 5/6 with 2 new replicas" ||
	bad "not stalled: $(bctl get deployments roll 2>&1) $(bctl get pods 2>&1)"
sleep 3
expect "... and stays so" "5/6 2" "$(deploy_field 2) $(deploy_field 3)"
expect "the old revision serves: 5 Running and Ready" "5" \
	"$(bctl get pods --workload roll | awk -v p="$rs2-" 'NR > 1 && index($1, p) == 1 && $2 == "1/1" && $3 == "Running"' | wc -l)"
pull_failed() { bctl get pods --workload roll | grep -qE 'ErrImage|ImagePullBackOff'; }
wait_until 20 pull_failed && ok "the new ones wait for their image" ||
	bad "no image error: $(bctl get pods --workload roll 2>&1)"
out=$(timeout 60 "$FLEET_BIN_CTLCLI" rollout status deployment/roll 2>&1)
rc=$?
expect "rollout status fails past progressDeadlineSeconds" "1" "$rc"
contains "... with kubectl's words" 'error: deployment "roll" exceeded its progress deadline' "$out"
contains "describe: ProgressDeadlineExceeded" "ProgressDeadlineExceeded" \
	"$(bctl describe deployment roll 2>&1)"
# history: its rows, one space apart
history() { bctl rollout history deployment/roll | awk 'NR > 2 && NF { $1 = $1; print }' | paste -sd'|'; }
expect "history: three revisions with their change cause" \
	"1 version 1|2 version 2|3 version 3" "$(history)"
expect "undo" "deployment.apps/roll rolled back" "$(bctl rollout undo deployment/roll 2>&1)"
wait_until 60 complete && ok "undone: rolled out again" || bad "undo: $(bctl get pods 2>&1)"
expect "every replica is version 2's again, Ready" "6 6/6" "$(pods_of "$rs2-") $(deploy_field 2)"
wait_until 10 test "$(bctl get pods --workload roll | wc -l)" -eq 7
expect "the broken ones are gone" "6" "$(bctl get pods --workload roll | awk 'NR > 1' | wc -l)"
expect "history: version 2 is revision 4 now" "1 version 1|3 version 3|4 version 2" "$(history)"
contains "history --revision 4: its template" "VERSION=2" \
	"$(bctl rollout history deployment/roll --revision 4 2>&1)"
expect "undo --to-revision of the current one" \
	"deployment.apps/roll skipped rollback (current template already matches revision 4)" \
	"$(bctl rollout undo deployment/roll --to-revision 4 2>&1)"
contains "undo to a revision that is not there: kubectl's words" \
	"unable to find specified revision 9 in history" \
	"$(bctl rollout undo deployment/roll --to-revision 9 2>&1)"

scenario "3. pause, resume, restart"
expect "pause" "deployment.apps/roll paused" "$(bctl rollout pause deployment/roll 2>&1)"
bctl apply -f "$(manifest 5)" >/dev/null
sleep 3
expect "paused: the new template waits" "6 $rs2" "$(pods_of "$rs2-") $(deploy_pod roll 0 | sed 's/-0$//')"
expect "resume" "deployment.apps/roll resumed" "$(bctl rollout resume deployment/roll 2>&1)"
wait_until 60 complete && ok "resumed: rolled out" || bad "resume: $(bctl get pods 2>&1)"
rs5=$(deploy_pod roll 0 | sed 's/-0$//')
expect "version 5's revision runs all 6" "6" "$(pods_of "$rs5-")"
expect "restart" "deployment.apps/roll restarted" "$(bctl rollout restart deployment/roll 2>&1)"
wait_until 60 test "$(deploy_pod roll 0 | sed 's/-0$//')" != "$rs5"
wait_until 60 complete && ok "restarted: every replica new" || bad "restart: $(bctl get pods 2>&1)"
rs6=$(deploy_pod roll 0 | sed 's/-0$//')
[ "$rs6" != "$rs5" ] && expect "... all 6 of a new revision" "6 0" "$(pods_of "$rs6-") $(pods_of "$rs5-")" ||
	bad "restart made no new revision"

scenario "4. Recreate: the old all gone before a new one starts"
# (the restart's old replicas end their grace period first)
only_rs6() {
	local n all=0 mine=0
	for n in $NODES; do
		node_count $n roll-
		all=$((all + REPLY))
		node_count $n "$rs6-"
		mine=$((mine + REPLY))
	done
	[ $all -eq $mine ]
}
wait_until 15 only_rs6 || bad "other revisions still run: $(for n in $NODES; do node_running $n roll-; done)"
bctl apply -f "$(manifest 7 bb '{type: Recreate}')" >/dev/null
rs7=$(deploy_pod roll 0 | sed 's/-0$//')
[ "$rs7" != "$rs6" ] || bad "Recreate: no new revision"
both=0 seen_new=0
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
	old=0 new=0
	for n in $NODES; do
		node_count $n "$rs6-"
		old=$((old + REPLY))
		node_count $n "$rs7-"
		new=$((new + REPLY))
	done
	[ $new -gt 0 ] && seen_new=1
	[ $new -gt 0 ] && [ $old -gt 0 ] && both=1
	complete && break
	sleep 0.1
done
complete && ok "Recreate rolled out" || bad "Recreate: $(bctl get pods 2>&1)"
expect "never an old and a new replica at once" "0 1" "$both $seen_new"

scenario "5. a DaemonSet, one node at a time (maxUnavailable 1)"
# ds.yaml with VERSION=$1 and updateStrategy $2
ds_manifest() {
	cat >"$FLEET_DIR/ds.yaml" <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  minReadySeconds: 1
  updateStrategy: ${2:-{type: RollingUpdate\}}
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: bb
        command: [/bin/sh, -c, 'touch /tmp/ready; echo "agent \$VERSION"; exec sleep 100000']
        env: [{name: VERSION, value: "$1"}]
        readinessProbe:
          exec: {command: [test, -e, /tmp/ready]}
          periodSeconds: 1
YAML
	echo "$FLEET_DIR/ds.yaml"
}
ds_field() { bctl get ds agent | awk -v c="$1" 'NR == 2 { print $c }'; }
ds_done() {
	bctl rollout status daemonset/agent --watch=false 2>&1 | grep -q "successfully rolled out"
}
bctl apply -f "$(ds_manifest 1)" >/dev/null
wait_until 60 ds_done && ok "the DaemonSet runs on all three" || bad "ds: $(bctl get ds 2>&1)"
expect "get ds: DESIRED CURRENT READY UP-TO-DATE AVAILABLE" "3 3 3 3 3" \
	"$(ds_field 2) $(ds_field 3) $(ds_field 4) $(ds_field 5) $(ds_field 6)"
bctl apply -f "$(ds_manifest 2)" >/dev/null
min_ready=3 min_running=3 done_at=
end=$((SECONDS + 90))
while [ $SECONDS -lt $end ]; do
	r=$(ds_field 4)
	run=0
	for n in $NODES; do
		node_count $n agent.
		run=$((run + REPLY))
	done
	[ -n "$r" ] && [ "$r" -lt $min_ready ] && min_ready=$r
	[ $run -lt $min_running ] && min_running=$run
	if ds_done; then
		done_at=$SECONDS
		break
	fi
	sleep 0.1
done
[ -n "$done_at" ] && ok "the new template reached every node" || bad "ds: $(bctl get ds 2>&1)"
[ "$min_ready" -ge 2 ] && ok "never fewer than 2 of 3 Ready (at least $min_ready)" ||
	bad "only $min_ready Ready at one sample"
[ "$min_running" -ge 2 ] && ok "never more than one node without its replica (at least $min_running running)" ||
	bad "only $min_running running at one sample"
for n in $NODES; do
	expect "agent.$n runs version 2" "agent 2" "$(bctl logs "agent.$n" 2>&1 | tail -1)"
done
contains "its history" "2 " "$(bctl rollout history daemonset/agent | awk 'NR > 2')"
bctl apply -f "$(ds_manifest 3 '{type: OnDelete}')" >/dev/null
sleep 3
expect "OnDelete: the running replicas keep their template" "0 agent 2" \
	"$(ds_field 5) $(bctl logs agent.n1 2>&1 | tail -1)"
expect "undo" "daemonset.apps/agent rolled back" "$(bctl rollout undo daemonset/agent 2>&1)"
bctl delete agent >/dev/null

scenario "6. a Job of 6 completions, 2 at a time, across the loss of a node"
RUNS=$FLEET_DIR/job-runs
mkdir -p "$RUNS"
cat >"$FLEET_DIR/job.yaml" <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: crunch}
spec:
  completions: 6
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      volumes: [{name: runs, hostPath: {path: $RUNS}}]
      containers:
      - name: crunch
        image: bb
        command: [/bin/sh, -c, 'echo "start \$(hostname)" >>/runs/log; sleep 2; echo "done \$(hostname)" >>/runs/log; echo "crunched \$(hostname)"']
        volumeMounts: [{name: runs, mountPath: /runs}]
YAML
bctl apply -f "$FLEET_DIR/job.yaml" >/dev/null
job_field() { bctl get jobs crunch | awk -v c="$1" 'NR == 2 { print $c }'; }
two_done() { case "$(job_field 3)" in [2-6]/6) return 0 ;; esac; return 1; }
wait_until 60 two_done && ok "two pods succeeded ($(job_field 3))" || bad "job: $(bctl get pods 2>&1)"
succeeded=$(bctl get pods --workload crunch | awk 'NR > 1 && $3 == "Completed" { print $1 }')
# the node of a pod that runs now goes for good
lost=$(bctl get pods -o wide --workload crunch | awk 'NR > 1 && $3 != "Completed" { print $7; exit }')
[ -n "$lost" ] || lost=n3
node_kill "$lost" KILL
complete_job() { [ "$(job_field 2)" = Complete ]; }
wait_until 120 complete_job && ok "the Job completed without $lost ($(job_field 3))" ||
	bad "job: $(bctl get jobs 2>&1) $(bctl get pods -o wide 2>&1)"
expect "get jobs: STATUS COMPLETIONS" "Complete 6/6" "$(job_field 2) $(job_field 3)"
for p in $succeeded; do
	expect "$p succeeded before the loss and ran once" "1" "$(grep -c "^start $p\$" "$RUNS/log")"
done
contains "describe job: the pods" "0 Active / 6 Succeeded / 0 Failed" "$(bctl describe job crunch 2>&1)"
node_start "$lost"
wait_until 30 nodes_ready 3 || bad "$lost did not come back: $(bctl get nodes 2>&1)"
first=$(echo "$succeeded" | head -1)
completed() { [ "$(bctl get pods --workload crunch | awk -v p="$first" '$1 == p { print $3 }')" = Completed ]; }
wait_until 20 completed && ok "its pods stay, Completed" || bad "$first: $(bctl get pods 2>&1)"
expect "... with their logs" "crunched $first" "$(bctl logs "$first" 2>&1)"
bctl delete crunch >/dev/null

scenario "7. a CronJob every minute, across a restart of the controller"
cat >"$FLEET_DIR/cron.yaml" <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          volumes: [{name: runs, hostPath: {path: $RUNS}}]
          containers:
          - name: tick
            image: bb
            command: [/bin/sh, -c, 'echo "tick \$(hostname)" >>/runs/cron']
            volumeMounts: [{name: runs, mountPath: /runs}]
YAML
bctl apply -f "$FLEET_DIR/cron.yaml" >/dev/null
ticks() { bctl get jobs | awk '$1 ~ /^tick-/ { print $1 }' | sort; }
has_ticks() { [ "$(ticks | wc -l)" -ge "$1" ]; }
wait_until 75 has_ticks 1 && ok "the first minute's Job: $(ticks | xargs)" ||
	bad "no Job: $(bctl get cronjobs 2>&1) $(bctl describe cronjob tick 2>&1 | tail -5)"
contains "get cronjobs: its schedule" "* * * * *" "$(bctl get cronjobs tick 2>&1)"
ctl_kill KILL
ctl_start || bad "the controller did not start again"
wait_until 30 nodes_ready 3
wait_until 75 has_ticks 2 && ok "the next minute's Job after the restart: $(ticks | xargs)" ||
	bad "no second Job: $(bctl get jobs 2>&1)"
first=$(ticks | head -1)
second=$(ticks | sed -n 2p)
[ "${second#tick-}" -gt "${first#tick-}" ] && ok "one Job a minute, each minute once" ||
	bad "jobs: $(ticks | xargs)"
ran_once() { [ "$(grep -c "^tick $1-0\$" "$RUNS/cron" 2>/dev/null)" = 1 ]; }
wait_until 20 ran_once "$first" && ok "$first's pod ran once" ||
	bad "$first ran $(grep -c "^tick $first-0\$" "$RUNS/cron" 2>/dev/null) times"
bctl delete tick >/dev/null
no_ticks() { [ -z "$(ticks)" ]; }
wait_until 10 no_ticks && ok "deleted with its Jobs" || bad "left: $(ticks | xargs)"

scenario "8. a drain of a node with 3 replicas under a budget of maxUnavailable 1"
cat >"$FLEET_DIR/keep.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: keep}
spec:
  replicas: 3
  selector: {matchLabels: {app: keep}}
  template:
    metadata: {labels: {app: keep}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: keep
        image: bb
        command: [/bin/sh, -c, 'sleep 1; touch /tmp/ready; exec sleep 100000']
        readinessProbe:
          exec: {command: [test, -e, /tmp/ready]}
          periodSeconds: 1
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: keep}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: keep}}
YAML
# all three on n1: the others cordoned while they are placed
bctl cordon n2 >/dev/null && bctl cordon n3 >/dev/null
bctl apply -f "$FLEET_DIR/keep.yaml" >/dev/null
keep_ready() { bctl get deployments keep | awk 'NR == 2 { split($2, r, "/"); print r[1] }'; }
three_ready() { [ "$(keep_ready)" = 3 ]; }
wait_until 60 three_ready && ok "3 replicas Ready on n1" || bad "keep: $(bctl get pods 2>&1)"
node_count n1 keep-
expect "all of them on n1" 3 "$REPLY"
bctl uncordon n2 >/dev/null && bctl uncordon n3 >/dev/null
expect "get pdb: ALLOWED DISRUPTIONS" 1 "$(bctl get pdb keep | awk 'NR == 2 { print $4 }')"
bctl drain n1 --ignore-daemonsets --timeout 3m >"$FLEET_DIR/drain.out" 2>"$FLEET_DIR/drain.err" &
drain_pid=$!
min_ready=3 samples=0
while kill -0 $drain_pid 2>/dev/null; do
	r=$(keep_ready)
	samples=$((samples + 1))
	[ -n "$r" ] && [ "$r" -lt $min_ready ] && min_ready=$r
	sleep 0.1
done
wait $drain_pid
expect "the drain succeeds ($samples samples)" 0 "$?"
[ "$min_ready" -ge 2 ] && ok "never fewer than 2 of 3 Ready (at least $min_ready)" ||
	bad "only $min_ready Ready at one sample"
contains "the budget held evictions back" "violate the pod's disruption budget \"keep\"" \
	"$(cat "$FLEET_DIR/drain.err")"
contains "each pod evicted once Ready elsewhere" "evicted (Ready on n" "$(cat "$FLEET_DIR/drain.out")"
expect "the drain's last word" "node/n1 drained" "$(tail -1 "$FLEET_DIR/drain.out")"
expect "nothing of keep or roll left on n1" "" "$(node_running n1 keep-)$(node_running n1 roll-)"
expect "3 Ready elsewhere, the budget whole again" "3 1" \
	"$(keep_ready) $(bctl get pdb keep | awk 'NR == 2 { print $4 }')"
contains "get nodes: n1" "Ready,Drained" "$(bctl get nodes n1 2>&1)"
bctl uncordon n1 >/dev/null
bctl delete keep >/dev/null && bctl delete pdb keep >/dev/null

scenario "9. deleted: nothing left"
bctl delete roll >/dev/null
gone() {
	for n in $NODES; do
		[ -z "$(node_running $n roll-)" ] || return 1
		[ -z "$(node_containers $n)" ] || return 1
	done
}
wait_until 30 gone && ok "no replica runs, none is left on a node" ||
	bad "left: $(for n in $NODES; do node_containers $n; done)"
expect "no revision left" "" "$(bctl get rs 2>/dev/null | awk 'NR > 1')"

fleet_teardown
check_summary
