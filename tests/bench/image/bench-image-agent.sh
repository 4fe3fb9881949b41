#!/usr/bin/env bash
# Image pulls as a node does them: a real berth-controller and berthd (ipc
# sockets, tests/lib/fleet.sh) and a registry on 127.0.0.1, Pods applied
# with `berthctl apply --wait` (Apply -> Running, at the controller):
#
#   cold     an image of about 100 MB (5 layers) the node does not have:
#            the pull, then the start
#   warm     a second Pod of the same image, pulled already: no pull (the
#            store is asked), no copy (the container's overlay sits on the
#            store's layers; its own layer is what it writes)
#   dir      a Pod of a directory image (no image work at all): the floor
#
# (Apply, then `berthctl get` in a loop until Running: each ask takes a
# few ms, which is the resolution.)
#
# interleaved run by run; between cold runs the image is removed from the
# node's store. Prints figures, never a verdict.
#
#   bench-image-agent.sh BUILD_DIR ROOTFS [RUNS]     (RUNS default 5)
set -u
FLEET_BUILD=$1
rootfs=$2
runs=${3:-5}
. "$(dirname "$0")/../../lib/fleet.sh"
. "$(dirname "$0")/../../lib/registry.sh"

fleet_init
FLEET_ROOTFS=$rootfs
registry_with_fleet
start_registry plain 'version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: @DIR@/data}}
http: {addr: "127.0.0.1:@PORT@"}'
REF=127.0.0.1:$PORT_plain/bench/app:v1

# the image: the rootfs, then five layers of 20 MB that do not compress
umoci init --layout "$W/oci" >/dev/null
umoci new --image "$W/oci:app" >/dev/null
add() { tar -C "$1" --numeric-owner -cf "$W/l.tar" . && umoci raw add-layer --image "$W/oci:app" "$W/l.tar" >/dev/null; }
add "$rootfs"
for l in 1 2 3 4 5; do
	mkdir -p "$W/l$l/data"
	head -c $((20 << 20)) /dev/urandom >"$W/l$l/data/blob$l"
	add "$W/l$l"
	rm -rf "$W/l$l"
done
umoci config --image "$W/oci:app" --config.entrypoint /bin/sleep --config.cmd 100000 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$W/oci:app" "docker://$REF" >/dev/null
rm -rf "$W/oci" "$W/l.tar"

ctl_start || exit 1
node_start n1
wait_until 20 nodes_ready 1 || {
	echo "bench-image-agent: the node did not come up" >&2
	exit 1
}
STORE=(--image-store "$FLEET_DIR/n1/images" --state-dir "$FLEET_DIR/n1/state")

pod() { # pod NAME IMAGE [COMMAND]
	printf '%s\n' "apiVersion: v1" "kind: Pod" "metadata: {name: $1}" "spec:" \
		"  terminationGracePeriodSeconds: 0" "  containers:" "  - name: $1" "    image: $2"
	[ -z "${3:-}" ] || echo "    command: [$3]"
}
now() { date +%s%N; }
running() { [ "$(bctl get containers --workload "$1" | awk 'NR == 2 { print $4 }')" = Running ]; }
apply_ms() { # apply_ms NAME IMAGE [COMMAND]: Apply -> Running at the controller, in ns
	local t0 end
	pod "$@" >"$FLEET_DIR/$1.yaml"
	t0=$(now)
	end=$((SECONDS + 300))
	bctl apply -f "$FLEET_DIR/$1.yaml" >/dev/null || exit 1
	# asked every few ms (apply --wait asks every 500 ms)
	until running "$1"; do
		[ $SECONDS -lt $end ] || {
			echo "bench-image-agent: $1 did not run" >&2
			exit 1
		}
	done
	echo $(($(now) - t0))
}
gone() { [ -z "$(bctl get containers --workload "$1" | awk 'NR > 1')" ]; }
remove() { # remove NAME...
	local w
	for w in "$@"; do bctl delete "$w" >/dev/null; done
	for w in "$@"; do wait_until 60 gone "$w"; done
}

cold=()
warm=()
dir=()
upper=()
apply_ms warmup bb "/bin/sleep, '100000'" >/dev/null # warm the binaries and the caches
remove warmup
for i in $(seq "$runs"); do
	bctl image rm "$REF" "${STORE[@]}" >/dev/null 2>&1
	cold+=("$(apply_ms cold "$REF")")
	if [ $((i % 2)) -eq 1 ]; then
		warm+=("$(apply_ms warm "$REF")")
		dir+=("$(apply_ms dir bb "/bin/sleep, '100000'")")
	else
		dir+=("$(apply_ms dir bb "/bin/sleep, '100000'")")
		warm+=("$(apply_ms warm "$REF")")
	fi
	c=$(bctl get containers --workload warm | awk 'NR == 2 { print $1 }')
	upper+=("$(du -sk "$FLEET_DIR/n1/state/containers/$c/upper" 2>/dev/null | cut -f1)")
	remove cold warm dir
done
pulls=$(grep -c "image $REF: pulled" "$FLEET_DIR/n1/log")
present=$(grep -c "image $REF: present" "$FLEET_DIR/n1/log")
size=$(du -sk "$FLEET_DIR/n1/images/layers" | cut -f1)

ms() { awk -v n="$1" 'BEGIN { printf "%.0f", n / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
list() { for v in "$@"; do printf '%s ' "$(ms "$v")"; done; }
echo "== image (node): berthctl apply of a Pod -> Running at the controller, a real controller and berthd, loopback registry, $runs interleaved runs"
printf '   %-44s median %6s ms   runs: %s\n' "cold: ~100 MB image not on the node (pull)" \
	"$(ms "$(median "${cold[@]}")")" "$(list "${cold[@]}")"
printf '   %-44s median %6s ms   runs: %s\n' "warm: the same image, pulled already" \
	"$(ms "$(median "${warm[@]}")")" "$(list "${warm[@]}")"
printf '   %-44s median %6s ms   runs: %s\n' "dir: a directory image (the floor)" \
	"$(ms "$(median "${dir[@]}")")" "$(list "${dir[@]}")"
awk -v w="$(median "${warm[@]}")" -v d="$(median "${dir[@]}")" \
	'BEGIN { printf "   warm - dir (what asking the store costs)    %+.0f ms\n", (w - d) / 1e6 }'
echo "   pulls that fetched: $pulls (one per cold run); store asked, image present: $present"
echo "   warm container's own layer: ${upper[*]} kB (the image is not copied: its layers, $((size / 1024)) MB, are shared)"
