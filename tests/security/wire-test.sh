#!/usr/bin/env bash
# Security, the wire (issue 14: H1, L4): attacks run for real against a
# controller and an agent on this machine, over tcp on 127.0.0.1.
#
#   H1  100,000 strangers' HELLOs as fast as one connection set can carry
#       them, while an admitted operator calls and a node logs in again:
#       both succeed during and right after the flood, and the controller's
#       memory stays bounded. (On 32a8447 the 65,536th junk HELLO filled the
#       nonce memory and every login failed for minutes.)
#   L4  a thousand idle connections and a hundred slow-loris connections
#       (each announcing 4 MiB and sending a byte a second): the daemon's
#       memory stays bounded and it serves on.
#   the agent, on its remote endpoint: a HELLO flood while an operator
#       asks it on its socket, and slow-loris connections it closes at once
#       (its requests are small: it takes 64 KiB); what it dropped shows in
#       its Health and its log.
#
# Figures (latencies, memory) are printed, never asserted as times.
#
#   wire-test.sh BUILD_DIR ATTACK
set -u
FLEET_BUILD=$1
ATTACK=$2
. "$(dirname "$0")/../lib/fleet.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (the agent runs containers' monitors)"
	exit 77
fi
fleet_init

free_port() {
	local p
	# Below the ephemeral range (32768-60999), so no client socket of
	# another test can hold it; any state counts, TIME_WAIT included.
	while :; do
		p=$((20000 + RANDOM % 12000))
		ss -Htan "( sport = :$p or dport = :$p )" | grep -q . || { echo "$p"; return; }
	done
}

# queued PORT: bytes waiting in the tcp queues of connections to PORT on
# loopback (both ends: what is unsent, and what the server has not read).
queued() {
	ss -Htn state established "( sport = :$1 or dport = :$1 )" |
		awk '{ q += $1 + $2 } END { print q + 0 }'
}

rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# ms_of COMMAND...: run it, print how long it took in ms; fails as it does.
ms_of() {
	local t0 t1 rc
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	rc=$?
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
	return $rc
}

# pct P FILE: the P-th percentile of the numbers in FILE (one per line).
pct() {
	sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int((NR - 1) * p / 100) + 1; print v[i] }'
}

# bounded WHAT GROWTH_KB LIMIT_KB: judge a daemon's memory growth, except
# under AddressSanitizer, whose quarantine holds freed memory on purpose.
if ldd "$FLEET_BIN_CTL" 2>/dev/null | grep -q libasan; then SANITIZED=1; else SANITIZED=; fi
bounded() {
	if [ -n "$SANITIZED" ]; then
		ok "$1: +$2 kB (not judged under AddressSanitizer)"
	elif [ "$2" -lt "$3" ]; then
		ok "$1 stayed bounded (+$2 kB)"
	else
		bad "$1 grew by $2 kB (limit $3 kB)"
	fi
}

PORT=$(free_port)
TCP=tcp://127.0.0.1:$PORT
ctl_start --rpc "tcp://127.0.0.1:$PORT" --heartbeat-min-interval 500ms || exit 1
export BERTH_CONTROLLER=$TCP
APORT=$(free_port)
ATCP=tcp://127.0.0.1:$APORT
node_start n1 "" "$TCP" "$ATCP"
wait_until 30 nodes_ready 1
expect "the node is Ready" "1" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"

# --- H1: a flood of strangers' HELLOs -----------------------------------------

echo "== H1: 100,000 strangers' HELLOs while an operator and a node log in"
base=$FLEET_DIR/base.ms
for _ in $(seq 10); do ms_of bctl get nodes >>"$base"; done
rss0=$(rss_kb "$FLEET_CTL_PID")
"$ATTACK" hello-flood "$TCP" controller/controller 100000 8 >"$FLEET_DIR/flood.out" 2>&1 &
flood=$!
# The HELLOs are signed before the first is sent: wait for that.
wait_until 60 grep -q ready "$FLEET_DIR/flood.out"
t0=$(date +%s%N)
during=$FLEET_DIR/during.ms
calls=0 fails=0 rssmax=$rss0
# The flood lasts until the controller has read all of it: the attack's
# bytes are out of its send queues and the controller's receive queues
# on the port are empty.
while ! grep -q '^sent' "$FLEET_DIR/flood.out" || [ "$(queued "$PORT")" != 0 ]; do
	if ms=$(ms_of bctl get nodes); then echo "$ms" >>"$during"; else fails=$((fails + 1)); fi
	calls=$((calls + 1))
	r=$(rss_kb "$FLEET_CTL_PID")
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	[ $((($(date +%s%N) - t0) / 1000000000)) -lt 300 ] || break
done
took=$((($(date +%s%N) - t0) / 1000000))
kill $flood
wait $flood
flood_rc=$?
cat "$FLEET_DIR/flood.out"
echo "the controller read the whole flood in $took ms"
expect "the flood was sent" 0 "$flood_rc"
expect "operator calls during the flood all succeeded ($calls made)" 0 "$fails"
# Right after: the memory an old controller filled is still full for minutes.
after=$FLEET_DIR/after.ms
fails=0
for _ in $(seq 10); do ms_of bctl get nodes >>"$after" || fails=$((fails + 1)); done
expect "operator logins right after the flood succeed" 0 "$fails"
# The node logs in again: restarted, it must handshake and register.
node_kill n1 TERM
t0=$(date +%s%N)
node_start n1
if wait_until 30 sh -c "grep -c 'registered with the controller' '$FLEET_DIR/n1/log' | grep -q '^2$'"; then
	ok "the node registered again after the flood ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	bad "the node did not register again after the flood"
	tail -5 "$FLEET_DIR/n1/log"
fi
wait_until 20 nodes_ready 1
rss1=$(rss_kb "$FLEET_CTL_PID")
echo "operator call (a berthctl process, handshake included), ms: before p50 $(pct 50 "$base")" \
	"max $(pct 100 "$base"); during p50 $(pct 50 "$during") p99 $(pct 99 "$during")" \
	"max $(pct 100 "$during") ($(wc -l <"$during") calls); after p50 $(pct 50 "$after")"
echo "controller RSS: ${rss0} kB before, ${rssmax} kB at most during, ${rss1} kB after"
bounded "the controller's memory under the flood" $((rssmax - rss0)) $((64 * 1024))

# Dropped frames get no answer: the counters and the log are where they show.
contains "berthctl health shows what the controller dropped" "frames dropped by controller:" \
	"$(bctl health -o wide 2>&1)"
if wait_until 15 grep -q 'frames dropped:.*throttled' "$FLEET_DIR/ctl/log"; then
	ok "the controller logged what it dropped"
else
	bad "the controller logged nothing of the frames it dropped"
fi

# --- L4: idle and slow-loris connections ----------------------------------------

echo "== L4: 1000 idle and 100 slow-loris connections"
rss0=$(rss_kb "$FLEET_CTL_PID")
ulimit -n 4096
"$ATTACK" idle "$TCP" 1000 >"$FLEET_DIR/idle.out" 2>&1 &
idle=$!
"$ATTACK" loris "$TCP" 100 >"$FLEET_DIR/loris.out" 2>&1 &
loris=$!
wait_until 60 grep -q ready "$FLEET_DIR/idle.out"
wait_until 60 grep -q ready "$FLEET_DIR/loris.out"
echo "idle: $(cat "$FLEET_DIR/idle.out"); loris: $(cat "$FLEET_DIR/loris.out")"
sleep 5
fails=0 rssmax=$rss0
for _ in $(seq 10); do
	bctl get nodes >/dev/null 2>&1 || fails=$((fails + 1))
	r=$(rss_kb "$FLEET_CTL_PID")
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	sleep 0.5
done
expect "operator calls with the connections held succeeded" 0 "$fails"
kill $idle $loris 2>/dev/null
wait $idle $loris 2>/dev/null
echo "controller RSS: ${rss0} kB before, ${rssmax} kB at most with the connections held"
bounded "the controller's memory with 1100 hostile connections" $((rssmax - rss0)) $((128 * 1024))
wait_until 10 nodes_ready 1
expect "the node stayed Ready" "1" "$(bctl get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)"

# --- the agent ----------------------------------------------------------------------

echo "== the agent: 20,000 strangers' HELLOs, then 50 slow-loris connections"
apid=$(node_pid n1)
rss0=$(rss_kb "$apid")
"$ATTACK" hello-flood "$ATCP" node/n1 20000 8 >"$FLEET_DIR/aflood.out" 2>&1 &
flood=$!
wait_until 60 grep -q ready "$FLEET_DIR/aflood.out"
calls=0 fails=0 rssmax=$rss0 t0=$(date +%s%N)
: >"$FLEET_DIR/aduring.ms"
while ! grep -q '^sent' "$FLEET_DIR/aflood.out" || [ "$(queued "$APORT")" != 0 ]; do
	if ms=$(ms_of node_agent n1 health); then
		echo "$ms" >>"$FLEET_DIR/aduring.ms"
	else
		fails=$((fails + 1))
	fi
	calls=$((calls + 1))
	r=$(rss_kb "$apid")
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	[ $((($(date +%s%N) - t0) / 1000000000)) -lt 300 ] || break
done
took=$((($(date +%s%N) - t0) / 1000000))
kill $flood
wait $flood
expect "the flood was sent" 0 "$?"
echo "the agent read the whole flood in $took ms; operator calls on its socket during it," \
	"ms: p50 $(pct 50 "$FLEET_DIR/aduring.ms") max $(pct 100 "$FLEET_DIR/aduring.ms")"
expect "operator calls to the agent during the flood all succeeded ($calls made)" 0 "$fails"
"$ATTACK" loris "$ATCP" 50 >"$FLEET_DIR/aloris.out" 2>&1 &
loris=$!
wait_until 60 grep -q ready "$FLEET_DIR/aloris.out"
sleep 3
r=$(rss_kb "$apid")
[ "$r" -gt "$rssmax" ] && rssmax=$r
kill $loris
wait $loris
contains "the agent closed every connection announcing 4 MiB" "closed by the server: 50 of 50" \
	"$(cat "$FLEET_DIR/aloris.out")"
echo "agent RSS: ${rss0} kB before, ${rssmax} kB at most"
bounded "the agent's memory" $((rssmax - rss0)) $((32 * 1024))
out=$(node_agent n1 health 2>&1)
contains "berthctl agent health shows what the agent dropped" "throttled" "$(echo "$out" | grep '^Dropped:')"
contains "so does berthctl health -o wide" "frames dropped by n1:" "$(bctl health -o wide 2>&1)"
if wait_until 15 grep -q 'frames dropped:.*throttled' "$FLEET_DIR/n1/log"; then
	ok "the agent logged what it dropped"
else
	bad "the agent logged nothing of the frames it dropped"
fi

check_summary
