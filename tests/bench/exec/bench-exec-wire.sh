#!/usr/bin/env bash
# berthctl exec end to end (berthctl, the controller's relay, berthd's
# bridge, the container's monitor) against crun exec of a container of the
# same rootfs and against berth-monitor's exec socket alone, interleaved in
# one run (bench-exec --wire); then the wire's floor for the bytes: raw
# nanomsg REQ/REP carrying 96 KiB each way per call (bench-rpc), beside
# berthctl exec cat. A benchmark: figures, no verdict.
#
#   bench-exec-wire.sh BUILD_DIR ROOTFS [ROUNDS]
set -u
FLEET_BUILD=$1
rootfs=$2
rounds=${3:-200}
. "$(dirname "$0")/../../lib/fleet.sh"

fleet_e2e_init
FLEET_ROOTFS=$rootfs
ctl_start || exit 1
node_start n1
wait_until 30 nodes_ready 1 || { echo "bench-exec-wire: the node did not come up"; exit 1; }
cat >"$FLEET_DIR/web.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: bb
    command: [/bin/sleep, '100000']
YAML
bctl apply -f "$FLEET_DIR/web.yaml" >/dev/null
running() { bctl get pods web-0 2>/dev/null | grep -q "1/1 *Running"; }
wait_until 60 running || { echo "bench-exec-wire: the pod did not start"; exit 1; }

"$FLEET_BUILD/tests/bench/bench-exec" "$FLEET_BUILD/agent/berth-monitor" "$rootfs" "$rounds" \
	--wire "$FLEET_BIN_CTLCLI" exec web-0 | tee "$FLEET_DIR/exec.out"
rc=${PIPESTATUS[0]}

# raw nanomsg, one call in flight, 96 KiB each way (a duplex push's most)
raw=$("$FLEET_BUILD/tests/bench/rpc/bench-rpc" -n 2000 -s 98304 -p one -o raw 2>&1 |
	awk '/raw nanomsg REQ\/REP/ { print $NF }')
wire=$(awk '/exec cat 100 MB: berthctl/ { print $7 }' "$FLEET_DIR/exec.out")
if [ -n "$raw" ] && [ -n "$wire" ]; then
	awk -v r="$raw" -v w="$wire" 'BEGIN {
		mbs = r * 98304 / 1e6
		printf "  raw nanomsg REQ/REP, 96 KiB each way a call: %.0f calls/s = %.0f MB/s each way\n", r, mbs
		printf "  ratio berthctl exec cat / raw nanomsg (each way): %.2fx\n", w / mbs
	}'
fi
fleet_teardown
exit "$rc"
