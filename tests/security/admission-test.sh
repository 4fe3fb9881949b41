#!/usr/bin/env bash
# Security, admission (issue 14: H2, M1, L2): a controller and an admitted
# node db1 on this machine, and an attacker on the controller's rpc
# address with keys of its own, handshaking for real.
#
#   H2  with a spare join token the attacker tries to become db1: refused,
#       the token still unused, db1 keeps its key and its containers.
#   M1  without a token it tries to queue its key under db1: refused, no
#       key awaits approval under the name, and a plain approve changes
#       nothing; a replacement is approved only by naming it.
#   L2  db1's key rotates; once the new key is used, the old one (think:
#       leaked) neither logs in nor vouches for yet another key.
#
#   admission-test.sh BUILD_DIR ATTACK
set -u
FLEET_BUILD=$1
ATTACK=$2
. "$(dirname "$0")/../lib/fleet.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (the agent runs containers' monitors)"
	exit 77
fi
fleet_init
ctl_start || exit 1
ADDR=$BERTH_CONTROLLER
CTL_PUB=$BERTH_CONTROLLER_KEY
node_start db1
wait_until 30 nodes_ready 1
expect "db1 is Ready" "1" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"
REAL_KEY=$FLEET_DIR/db1/state/node.key
# The keys describe lists for a node, on one line.
keys_of() {
	bctl describe node "$1" 2>/dev/null |
		awk '/^Keys:/ { on = 1; $1 = "" } /^Labels:/ { on = 0 } on { printf "%s ", $0 }' |
		tr -s ' ' | sed 's/^ //; s/ $//'
}
real_keys=$(keys_of db1)
echo "db1's key: $real_keys"
# The attacker's keys: made here, admitted nowhere.
for k in k2 k3 k4; do
	bctl keygen --out "$FLEET_DIR/$k.key" --operator x >"$FLEET_DIR/$k.pub" 2>/dev/null || exit 1
done
fp_of() {
	awk '{ print $NF }' "$FLEET_DIR/$1.pub" | tail -1
}
login() {
	"$ATTACK" login "$ADDR" controller/controller "$CTL_PUB" "$@"
}

echo "== H2: a spare join token does not make anybody db1"
token=$(bctl join-token 2>/dev/null)
out=$(login node/db1 "$FLEET_DIR/k2.key" --token "$token")
contains "the token does not replace db1's key" "is admitted already" "$out"
expect "db1 keeps its key" "$real_keys" "$(keys_of db1)"
out=$(login node/other1 "$FLEET_DIR/k3.key" --token "$token")
contains "... and the token is still unused: a new node enrolls with it" "SESSION MADE" "$out"
bctl apply -f - <<<"$(fleet_manifest DaemonSet ds)" >/dev/null
wait_until 30 sh -c "[ -n \"\$(ls '$FLEET_DIR/db1/state/containers' 2>/dev/null)\" ]"
contains "db1 still runs its assignments" "ds" "$(node_containers db1)"

echo "== a node reports only its own containers"
ds=$(bctl get containers | awk 'NR > 1 && $2 == "db1" { print $1 }')
out=$("$ATTACK" report "$ADDR" "$CTL_PUB" other1 "$FLEET_DIR/k3.key" "$ds")
contains "other1, admitted, reports db1's container $ds as its own" "ReportStatus: OK" "$out"
out=$(bctl get containers "$ds" 2>&1)
expect "... which is still db1's alone" "db1" "$(echo "$out" | awk 'NR > 1 { print $2 }' | tr '\n' ' ' | sed 's/ $//')"
# (the container may not have written its line yet)
said_hello() { bctl logs --tail 1 "$ds" 2>&1 | grep -q "hello from"; }
wait_until 10 said_hello
out=$(bctl logs --tail 1 "$ds" 2>&1)
contains "... and its logs come from db1" "hello from" "$out"

echo "== replica ids are unique by construction"
# DaemonSet x on node y-1 and replica 1 of Deployment x-y were both x-y-1.
node_start y-1
wait_until 30 nodes_ready 2
{
	fleet_manifest DaemonSet x
	echo ---
	fleet_manifest Deployment x-y 2
} | bctl apply -f - >/dev/null
if wait_until 60 sh -c "[ \"\$('$FLEET_BIN_CTLCLI' get containers | awk 'NR > 1 && \$4 == \"Running\" && (\$3 == \"x\" || \$3 == \"x-y\")' | wc -l)\" -eq 4 ]"; then
	ok "the DaemonSet's 2 replicas and the Deployment's 2 all run"
else
	bad "not all four replicas run: $(bctl get containers 2>&1 | tr '\n' ';')"
fi
xy=$(deploy_pod x-y 0)
xy=${xy%-0}
expect "... under four names" "$xy-0 $xy-1 x.db1 x.y-1" \
	"$(bctl get containers | awk 'NR > 1 && $4 == "Running" && ($3 == "x" || $3 == "x-y") { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//')"
bctl delete x >/dev/null
bctl delete x-y >/dev/null

echo "== M1: no key can wait for approval under an admitted name"
out=$(login node/db1 "$FLEET_DIR/k2.key")
contains "the attacker's key is refused" "admitted with another key" "$out"
expect "no key awaits approval under db1" "$real_keys" "$(keys_of db1)"
out=$(bctl node approve db1 2>&1)
contains "a plain approve of an admitted node needs the new key named" "--fingerprint" "$out"
expect "db1 keeps its key" "$real_keys" "$(keys_of db1)"

bctl delete ds >/dev/null
wait_until 30 no_containers db1

echo "== L2: a rotation retires the old key"
# db1's key rotates to k3's key (vouched for by its own), and k3 is used.
cp "$REAL_KEY" "$FLEET_DIR/old.key"
out=$(login node/db1 "$FLEET_DIR/k3.key" --previous "$FLEET_DIR/old.key")
contains "the rotation is accepted" "SESSION MADE" "$out"
out=$(login node/db1 "$FLEET_DIR/k3.key")
contains "the new key logs in" "SESSION MADE" "$out"
out=$(login node/db1 "$FLEET_DIR/old.key")
contains "the old key no longer logs in" "refused PERMISSION_DENIED" "$out"
out=$(login node/db1 "$FLEET_DIR/k4.key" --previous "$FLEET_DIR/old.key")
contains "... nor vouches for another key" "refused" "$out"
out=$(login node/db1 "$FLEET_DIR/k3.key")
contains "the new key still logs in" "SESSION MADE" "$out"

check_summary
