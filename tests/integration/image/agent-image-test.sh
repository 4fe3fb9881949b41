#!/usr/bin/env bash
# Images on a node, end to end: the controller and a real agent (ipc
# sockets), a real registry on 127.0.0.1 (Debian's docker-registry), images
# built here with umoci and pushed with skopeo, and Kubernetes manifests
# that name them by reference and give no command:
#
#   - a Deployment of 2: one pull for both, Pulling then Pulled events; the
#     image's Entrypoint, Cmd, Env, WorkingDir and User (a name of its
#     /etc/passwd, with a group of its /etc/group) are what runs; the
#     status carries the image and its id
#   - a tag the registry lacks: ErrImagePull with the registry's answer,
#     then ImagePullBackOff; once pushed, the retry runs it
#   - imagePullPolicy Never for an image the node lacks: ErrImageNeverPull
#   - an image whose user the image lacks: CreateContainerConfigError
#   - removed while its pull hangs (registry stopped): gone at once
#   - berthd killed -9 mid-pull: its puller dies with it, nothing of the
#     image is visible; restarted, the pull completes and it runs (a blob
#     cut off mid-way and resumed: registry-test.sh)
#   - image garbage collection (thresholds 0 %): what no container names
#     goes, what one names stays, also while stopped or pulling
#   - delete everything: no container, state or cgroup left
#   - berthctl run --image REF pulls and runs the image's config, alone
#
#   agent-image-test.sh BUILD_DIR
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root or a
# tool is missing.
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../../lib/fleet.sh"
. "$(dirname "$0")/../../lib/registry.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (containers)"
	exit 77
fi
for tool in docker-registry skopeo umoci jq curl; do
	command -v "$tool" >/dev/null || {
		echo "SKIP: $tool is not installed (deploy/install-deps.sh)"
		exit 77
	}
done
fleet_init
registry_with_fleet

start_registry plain 'version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: @DIR@/data}}
http: {addr: "127.0.0.1:@PORT@"}'
P=127.0.0.1:$PORT_plain

# ---- images ---------------------------------------------------------------------

L=$W/layout
umoci init --layout "$L"
layer() { # layer IMAGE DIR: DIR's tree as a new layer of IMAGE
	tar -C "$2" --numeric-owner -cf "$W/layer.tar" . && umoci raw add-layer --image "$L:$1" "$W/layer.tar"
}
push() { # push IMAGE REPO:TAG
	skopeo copy --quiet --dest-tls-verify=false "oci:$L:$1" "docker://$P/$2" >/dev/null
}
# app: the busybox rootfs, then a layer with a user and a group of its own
umoci new --image "$L:app"
layer app "$FLEET_ROOTFS"
mkdir -p "$W/l2/etc" "$W/l2/srv"
cp "$FLEET_ROOTFS/etc/passwd" "$FLEET_ROOTFS/etc/group" "$W/l2/etc/"
echo "app:x:1234:1234::/srv:/bin/sh" >>"$W/l2/etc/passwd"
printf 'app:x:1234:\nstaff:x:50:app\n' >>"$W/l2/etc/group"
echo hi >"$W/l2/srv/hello"
layer app "$W/l2"
umoci config --image "$L:app" --config.entrypoint /bin/sh --config.entrypoint -c \
	--config.cmd 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) pwd=$(pwd) greeting=$GREETING"; exec sleep 100000' \
	--config.env GREETING=hi --config.workingdir /srv --config.user app --config.stopsignal SIGTERM
push app test/app:v1
# nouser: a User its /etc/passwd lacks
umoci new --image "$L:nouser"
layer nouser "$FLEET_ROOTFS"
umoci config --image "$L:nouser" --config.cmd 'sleep 1' --config.user ghost
push nouser test/nouser:v1
# big: a 48 MiB layer, for pulls caught in the middle
umoci new --image "$L:big"
layer big "$FLEET_ROOTFS"
mkdir -p "$W/big"
head -c $((48 << 20)) /dev/urandom >"$W/big/blob"
layer big "$W/big"
umoci config --image "$L:big" --config.entrypoint /bin/sleep --config.cmd 100000
push big test/big:v1
rm -rf "$W/big" "$W/layer.tar"

# ---- berthctl run --image REF, no daemon ------------------------------------------

R=(--image-store "$W/run-store" --cgroup-parent "/berth-fleet-$FLEET_TAG-run")
out=$(bctl run --image "$P/test/app:v1" "${R[@]}" -- /bin/sh -c 'echo $(id -u) $(pwd) $GREETING' 2>&1)
expect "run --image REF pulls, and runs the image's user, dir and env" "1234 /srv hi" "$out"
out=$(bctl run --image "$P/test/nouser:v1" --pull never "${R[@]}" -- true 2>&1)
contains "run --pull never: an image not here is an error" "is not present, and the pull policy is Never" "$out"
out=$(bctl run --image "$P/test/nouser:v1" "${R[@]}" 2>&1)
contains "run: the image's user must exist" "no user ghost in the image's /etc/passwd" "$out"
for c in /sys/fs/cgroup/*/berth-fleet-$FLEET_TAG-run /sys/fs/cgroup/berth-fleet-$FLEET_TAG-run; do
	[ ! -d "$c" ] || rmdir "$c" || bad "run left a cgroup: $(find "$c" -mindepth 1 -type d)"
done

# ---- a registry that asks for credentials -----------------------------------------

# TLS from our own CA (the node trusts it through registries.yaml, which
# gives no credentials: a pod's imagePullSecrets do) and htpasswd.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.crt" -days 2 \
	-subj /CN=berth-test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$W/srv.key" -out "$W/srv.csr" \
	-subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/srv.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
	-out "$W/srv.crt" -days 2 -extfile "$W/srv.ext" >/dev/null 2>&1
htpasswd -Bbn puller s3cret-pw >"$W/htpasswd"
start_registry locked "version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: @DIR@/data}}
http: {addr: \"127.0.0.1:@PORT@\", tls: {certificate: $W/srv.crt, key: $W/srv.key}}
auth: {htpasswd: {realm: berth-test, path: $W/htpasswd}}"
A=127.0.0.1:$PORT_locked
skopeo copy --quiet --dest-tls-verify=false --dest-creds puller:s3cret-pw "oci:$L:app" \
	"docker://$A/private/app:v1" >/dev/null
printf 'registries:\n  "%s": {ca_file: %s}\n' "$A" "$W/ca.crt" >"$W/registries.yaml"

# ---- the fleet ------------------------------------------------------------------

ctl_start || exit 1
FLEET_AGENT_EXTRA="image_pull_backoff: 1s
registries: $W/registries.yaml" node_start n1
wait_until 20 nodes_ready 1
LOG=$FLEET_DIR/n1/log

pod() { # pod NAME IMAGE [POLICY]: a Pod manifest with no command
	printf '%s\n' "apiVersion: v1" "kind: Pod" "metadata: {name: $1}" "spec:" \
		"  terminationGracePeriodSeconds: 1" "  containers:" "  - name: $1" "    image: $2"
	[ -z "${3:-}" ] || echo "    imagePullPolicy: $3"
}
# status NAME: STATUS column of the pod's container (kubectl's: the reason
# while it waits)
status() {
	bctl get containers --workload "$1" | awk 'NR == 2 { print $4 }'
}
status_is() { [ "$(status "$1")" = "$2" ]; }
# await NAME SECONDS COMMAND...: a check that COMMAND comes true in time
await() {
	local name=$1
	shift
	if wait_until "$@"; then ok "$name"; else bad "$name (timed out)"; fi
}
cid() { bctl get containers --workload "$1" | awk 'NR == 2 { print $1 }'; }

# ---- a Deployment of a pulled image, no command -------------------------------------

cat >"$FLEET_DIR/app.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: $P/test/app:v1
YAML
out=$(bctl apply -f "$FLEET_DIR/app.yaml" --wait --wait-timeout 90s 2>&1)
contains "apply --wait: both replicas of the pulled image run" "app: 2/2 running" "$out"
expect "one pull for the two" "1" "$(grep -c "image $P/test/app:v1: pulling" "$LOG")"
c=$(cid app)
expect "the image's Entrypoint, Cmd, Env, WorkingDir and User run" \
	"uid=1234 gid=1234 groups=1234 50 pwd=/srv greeting=hi" "$(bctl logs "$c")"
pid=$(bctl get containers -o wide --workload app | awk -v c="$c" '$1 == c { print $8 }')
expect "... as the image's user, for real" "1234" "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
js=$(bctl get containers -o json --workload app)
expect "the status carries the image" "$P/test/app:v1" \
	"$(echo "$js" | jq -r '.containers[0].status.image')"
contains "... and its id, repository@digest" "$P/test/app@sha256:" \
	"$(echo "$js" | jq -r '.containers[0].status.imageId')"
contains "describe container: the image id" "Image ID:       $P/test/app@sha256:" \
	"$(bctl describe container "$c")"
out=$(bctl describe workload app)
contains "event Pulling" "Pulling image \"$P/test/app:v1\"" "$out"
contains "event Pulled, with time and size" "Successfully pulled image \"$P/test/app:v1\" in" "$out"
contains "... the size in bytes" "Image size: " "$out"
out=$(bctl image ls --image-store "$FLEET_DIR/n1/images" --state-dir "$FLEET_DIR/n1/state")
contains "image ls on the node: the image, used by both" "$P/test/app:v1" "$out"

# ---- a tag the registry lacks ----------------------------------------------------

pod nope "$P/test/app:v9" >"$FLEET_DIR/nope.yaml"
bctl apply -f "$FLEET_DIR/nope.yaml" >/dev/null
bad_pull() { case "$(status nope)" in ErrImagePull | ImagePullBackOff) return 0 ;; esac; return 1; }
await "a tag the registry lacks: ErrImagePull" 30 bad_pull
out=$(bctl describe container "$(cid nope)")
contains "ErrImagePull says what the registry answered" "manifest unknown" "$out"
await "then ImagePullBackOff, retried with backoff" 30 status_is nope ImagePullBackOff
contains "a Failed event" "Failed" "$(bctl describe workload nope)"
push app test/app:v9
await "once the tag is pushed, a retry runs it" 60 status_is nope Running

# ---- imagePullSecrets --------------------------------------------------------------

pod locked "$A/private/app:v1" >"$FLEET_DIR/locked.yaml"
bctl apply -f "$FLEET_DIR/locked.yaml" >/dev/null
locked_out() { case "$(status locked)" in ErrImagePull | ImagePullBackOff) return 0 ;; esac; return 1; }
await "a private image without credentials: ErrImagePull" 30 locked_out
expect "create secret docker-registry" "secret/regcred created" \
	"$(bctl create secret docker-registry regcred --docker-server "$A" --docker-username puller \
		--docker-password s3cret-pw 2>&1)"
{
	pod unlocked "$A/private/app:v1"
	echo "  imagePullSecrets: [{name: regcred}]"
} >"$FLEET_DIR/unlocked.yaml"
bctl apply -f "$FLEET_DIR/unlocked.yaml" >/dev/null
await "with the pod's imagePullSecrets it pulls and runs" 60 status_is unlocked Running
expect "the credentials' file left the node's tmpfs" "" \
	"$(ls "$FLEET_DIR/n1/secrets/pulls" 2>/dev/null)"
# two pods asking for one image at once, one with credentials and one
# without: a pull is shared only between the same credentials, so neither
# gets the other's answer
skopeo copy --quiet --dest-tls-verify=false --dest-creds puller:s3cret-pw "oci:$L:app" \
	"docker://$A/private/app:v2" >/dev/null
{
	pod race-plain "$A/private/app:v2"
	echo "---"
	pod race-creds "$A/private/app:v2"
	echo "  imagePullSecrets: [{name: regcred}]"
} >"$FLEET_DIR/race.yaml"
bctl apply -f "$FLEET_DIR/race.yaml" >/dev/null
await "with credentials, beside a pod without: it pulls and runs" 60 status_is race-creds Running
expect "... never refused on the other pod's pull" "0" \
	"$(bctl describe workload race-creds | grep -cE 'Warning +Failed')"
expect "a pull of the image per credentials" "yes" \
	"$([ "$(grep -c "image $A/private/app:v2: pulling" "$FLEET_DIR/n1/log")" -ge 2 ] && echo yes)"
await "the pod without credentials was refused by the registry" 30 \
	eval '[ "$(bctl describe workload race-plain | grep -cE "Warning +Failed")" -ge 1 ]'
for w in locked unlocked race-plain race-creds; do bctl delete "$w" >/dev/null; done
bctl delete secret regcred >/dev/null

# ---- Never, and a user the image lacks ----------------------------------------------

pod never "$P/test/never:v1" Never >"$FLEET_DIR/never.yaml"
bctl apply -f "$FLEET_DIR/never.yaml" >/dev/null
await "imagePullPolicy Never, image absent: ErrImageNeverPull" 30 status_is never ErrImageNeverPull
expect "... and nothing was asked of the registry" "0" \
	"$(grep -c "test/never" "$W/plain/log")"
pod nouser "$P/test/nouser:v1" >"$FLEET_DIR/nouser.yaml"
bctl apply -f "$FLEET_DIR/nouser.yaml" >/dev/null
await "a User the image lacks: Failed" 30 status_is nouser Failed
out=$(bctl describe container "$(cid nouser)")
contains "a User the image lacks: CreateContainerConfigError" "CreateContainerConfigError" "$out"
contains "... saying which" "no user ghost in the image's /etc/passwd" "$out"
for w in nope never nouser; do bctl delete "$w" >/dev/null; done

# ---- caught in the middle of a pull -----------------------------------------------

kill -STOP "$PID_plain"
pod stuck "$P/test/big:v1" >"$FLEET_DIR/stuck.yaml"
bctl apply -f "$FLEET_DIR/stuck.yaml" >/dev/null
await "a pull that hangs shows Pulling" 30 status_is stuck Pulling
bctl delete stuck >/dev/null
gone() { [ -z "$(bctl get containers --workload stuck | awk 'NR > 1')" ]; }
await "removed while its pull hangs: gone without waiting for it" 10 gone

pod big "$P/test/big:v1" >"$FLEET_DIR/big.yaml"
bctl apply -f "$FLEET_DIR/big.yaml" >/dev/null
await "big: Pulling" 30 status_is big Pulling
puller() { pgrep -f "berth-pull --store $FLEET_DIR/n1/images" >/dev/null; }
await "... by a berth-pull" 10 puller
node_kill n1 KILL
no_puller() { ! puller; }
await "berthd killed -9 mid-pull: its puller died with it" 10 no_puller
out=$(bctl image ls --image-store "$FLEET_DIR/n1/images" --state-dir "$FLEET_DIR/n1/state")
case "$out" in
*test/big*) bad "nothing of the half-pulled image is visible: $out" ;;
*) ok "nothing of the half-pulled image is visible" ;;
esac
kill -CONT "$PID_plain"
node_start n1
await "restarted, the pull completes and the container runs" 90 status_is big Running

# ---- garbage collection ------------------------------------------------------------

# The tag app:v1 moves to another image while app's replicas run the old
# one: a Pod pulling it with Always gets the new one, the old one stays.
old_id=$(echo "$js" | jq -r '.containers[0].status.imageId')
push big test/app:v1
pod again "$P/test/app:v1" Always >"$FLEET_DIR/again.yaml"
bctl apply -f "$FLEET_DIR/again.yaml" >/dev/null
await "a moved tag is pulled again under Always" 60 status_is again Running
images() { bctl image ls --image-store "$FLEET_DIR/n1/images" --state-dir "$FLEET_DIR/n1/state" | awk 'NR > 1 { print $1 }' | tr '\n' ' '; }
contains "... the image it named stays, by digest" "$old_id " "$(images)"

# Thresholds of 0 %: every image no container names goes, at each round.
node_kill n1 TERM
echo "image_gc: {interval: 1s, high_threshold_percent: 0, low_threshold_percent: 0, minimum_age: 0s}" \
	>>"$FLEET_DIR/n1/agent.yaml"
node_start n1
has() { case " $(images)" in *" $1 "*) return 0 ;; esac; return 1; }
collected() { ! has "$P/test/nouser:v1"; }
await "image GC removes what no container names" 20 collected
for i in "$P/test/app:v1" "$old_id" "$P/test/big:v1" bb; do
	has "$i" && ok "... and keeps $i, which a container runs" || bad "... $i was collected"
done
bctl delete app >/dev/null
# (app:v9 is the same image as app's: it went with it)
old_gone() { ! has "$old_id" && ! has "$P/test/app:v9"; }
await "... an image once its last container is gone" 30 old_gone
expect "big still runs" "Running" "$(status big)"

# ---- nothing left -----------------------------------------------------------------

bctl delete big >/dev/null
bctl delete again >/dev/null
await "every container removed" 30 no_containers n1
# (a pod's sandbox goes after its last container: from berthd's loop)
no_cgroups() { [ -z "$(node_cgroups n1)" ]; }
await "no cgroup left" 15 no_cgroups || echo "left: $(node_cgroups n1)"
check_summary
