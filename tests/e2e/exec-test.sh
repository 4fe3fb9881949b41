#!/usr/bin/env bash
# End to end: berthctl exec, as kubectl exec is used, through the controller
# (relayed to the node's agent and by it to the container's monitor) and on
# the node with berthctl agent exec:
#
#   1. exit codes as a shell gives them (0, N, 126, 127), stdout and
#      stderr apart, stdin piped in, errors for what cannot be exec'd into
#   2. the command is the container's: its user, groups, working dir,
#      environment, capabilities, seccomp, no_new_privs, namespaces and
#      cgroup, compared with the container's own process
#   3. a terminal (exec -it) driven as a person would through a pty: the
#      prompt, typed commands, the window size and its change seen by
#      stty size inside, Ctrl-C reaching the remote command, the exit code
#   4. 100 MB through exec cat both ways, intact, while the peak memory of
#      berthctl, the controller, berthd and the monitor is watched
#   5. a client killed mid-stream (SIGKILL: the controller notices it is
#      gone; SIGINT: it says so): the command gets SIGHUP, and no fd or
#      process is left behind
#   6. every exec is an event at the controller (who, what, exit code)
#   7. exec into a pod whose node's berthd was restarted; berthctl agent
#      exec while the controller is down
#   8. port-forward to a server listening on the pod's own loopback only:
#      two ports (one picked free), five 20 MB downloads at once, intact, a
#      refused port reported while the others go on, no fd left after
#      Ctrl-C, each connection an event
#   9. attach to a main process: its output alone (Ctrl-C leaves it
#      running), its stdin without a terminal (stdinOnce closes it after),
#      its terminal (a pts of the container's own, the window's size, the
#      exit code), and what a spec without stdin or tty refuses
#
#   exec-test.sh BUILD_DIR PTYDRIVE
set -u
FLEET_BUILD=$1
PTYDRIVE=$2
. "$(dirname "$0")/../lib/fleet.sh"
. "$(dirname "$0")/../lib/registry.sh" # free_port

fleet_e2e_init
# /metrics of both daemons, for the streams they hold open
ctl_port=$(free_port)
ctl_start --metrics-address "127.0.0.1:$ctl_port" || exit 1
agent_port=$(free_port)
FLEET_AGENT_EXTRA="metrics_address: 127.0.0.1:$agent_port" node_start n1
wait_until 30 nodes_ready 1

cat >"$FLEET_DIR/web.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: bb
    command: [/bin/sh, -c, 'exec sleep 100000']
    workingDir: /tmp
    env:
    - {name: GREETING, value: hello from the spec}
    securityContext:
      runAsUser: 1000
      runAsGroup: 1000
  - name: side
    image: bb
    # a web server on the pod's own loopback only: port-forward's target
    command: [/bin/sh, -c, 'mkdir -p /tmp/www && echo hello from the pod >/tmp/www/index.html &&
      head -c 20000000 /dev/urandom >/tmp/www/big && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www']
YAML
bctl apply -f "$FLEET_DIR/web.yaml" >/dev/null
running() { bctl get pods web-0 2>/dev/null | grep -q "2/2 *Running"; }
wait_until 60 running || bad "web-0 did not start: $(bctl get pods 2>&1)"

scenario "1. exit codes, stdout and stderr, stdin"
expect "exec echo" "hello world" "$(bctl exec web-0 -c web -- echo hello world 2>&1)"
contains "without -c: the first container, as kubectl says" 'Defaulted container "web" out of: [web side]' \
	"$(bctl exec web-0 -- true 2>&1)"
out=$(bctl exec web-0 -c web -- sh -c 'echo out; echo err >&2; exit 3' 2>"$FLEET_DIR/err")
expect "exit 3: the exit code" 3 "$?"
expect "... stdout alone on stdout" out "$out"
expect "... stderr on stderr, then kubectl's words" "err
command terminated with exit code 3" "$(cat "$FLEET_DIR/err")"
err=$(bctl exec web-0 -c web -- nosuchcmd 2>&1)
expect "not found: 127" 127 "$?"
contains "... saying so" "nosuchcmd: executable file not found in PATH" "$err"
err=$(bctl exec web-0 -c web -- /etc/passwd 2>&1)
expect "not runnable: 126" 126 "$?"
expect "stdin piped in (-i)" "piped in" "$(echo "piped in" | bctl exec -i web-0 -c web -- cat)"
expect "without -i, stdin is empty" "0" "$(echo "not read" | bctl exec web-0 -c web -- wc -c)"
expect "the other container (-c side): its user, its environment" "0 []" \
	"$(bctl exec web-0 -c side -- sh -c 'echo "$(id -u) [$GREETING]"' 2>&1)"
err=$(bctl exec nosuchpod -- true 2>&1)
expect "a pod that does not exist: 1" 1 "$?"
contains "... saying so" "nosuchpod" "$err"
err=$(bctl exec web-0 -c nosuch -- true 2>&1)
contains "a container the pod does not have" "container nosuch is not valid for pod web-0" "$err"
err=$(bctl exec web-0 2>&1)
expect "no command: a usage error" 2 "$?"

scenario "2. the command is the container's own"
ident='id -u; id -g; pwd; echo "$GREETING"'
expect "user, group, working dir, environment" "1000
1000
/tmp
hello from the spec" "$(bctl exec web-0 -c web -- sh -c "$ident" 2>&1)"
fields='grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Uid|Gid|Groups):" /proc/$0/status;
	for n in mnt pid net ipc uts cgroup; do readlink /proc/$0/ns/$n; done; cat /proc/$0/cgroup'
mine=$(bctl exec web-0 -c web -- sh -c "$fields" self 2>&1)
theirs=$(bctl exec web-0 -c web -- sh -c "$fields" 1 2>&1)
expect "capabilities, seccomp, no_new_privs, namespaces, cgroup: those of its pid 1" \
	"$theirs" "$mine"
contains "... seccomp filtering" "Seccomp:	2" "$mine"
contains "... no_new_privs" "NoNewPrivs:	1" "$mine"

scenario "3. a terminal: prompt, typing, window size, Ctrl-C, exit code"
"$PTYDRIVE" 40 100 -- "$FLEET_BIN_CTLCLI" exec -it web-0 -c side -- sh 2>"$FLEET_DIR/pty.log" <<'S'
expect #
send stty size\r
expect 40 100
resize 50 120
sleep 300
send stty size\r
expect 50 120
send tty\r
expect /dev/pts/
send sleep 1000\r
sleep 500
send \x03
sleep 300
send echo rc=$?\r
expect rc=130
send echo $((6*7))\r
expect 42
send exit 7\r
exit 7
S
if [ $? -eq 0 ]; then
	ok "prompt, stty size 40x100 then 50x120, a pts, Ctrl-C (rc=130), exit 7"
else
	bad "the terminal session: $(tail -c 2000 "$FLEET_DIR/pty.log")"
fi
contains "... and kubectl's words for it" "command terminated with exit code 7" \
	"$(cat "$FLEET_DIR/pty.log")"
expect "the local terminal's own settings are back (not raw)" 0 \
	"$(printf 'send stty -a\\r\nexpect icanon\nexit 0\n' |
		"$PTYDRIVE" 24 80 -- sh -c "$FLEET_BIN_CTLCLI exec -it web-0 -c side -- true; stty -a" \
		2>&1 | grep -c -- '-icanon')"

scenario "4. 100 MB through exec cat both ways, memory watched"
head -c 100000000 /dev/urandom >"$FLEET_DIR/blob"
monitor=$(pgrep -f "berth-monitor.*web-0_web" | head -1)
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
agent_pid=$(node_pid n1)
b_ctl=$(rss "$FLEET_CTL_PID") b_agent=$(rss "$agent_pid") b_mon=$(rss "$monitor")
t0=$(date +%s%N)
# (berthctl itself in the background, not a shell running it)
"$FLEET_BIN_CTLCLI" exec -i web-0 -c web -- cat <"$FLEET_DIR/blob" >"$FLEET_DIR/blob.out" &
cli=$!
peak_cli=0 peak_ctl=$b_ctl peak_agent=$b_agent peak_mon=$b_mon
while kill -0 $cli 2>/dev/null; do
	v=$(hwm $cli) && [ -n "$v" ] && [ "$v" -gt "$peak_cli" ] && peak_cli=$v
	v=$(rss "$FLEET_CTL_PID") && [ "$v" -gt "$peak_ctl" ] && peak_ctl=$v
	v=$(rss "$agent_pid") && [ "$v" -gt "$peak_agent" ] && peak_agent=$v
	v=$(rss "$monitor") && [ -n "$v" ] && [ "$v" -gt "$peak_mon" ] && peak_mon=$v
	sleep 0.02
done
wait $cli
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect "exec cat of 100 MB: exit 0" 0 "$rc"
expect "... every byte back in order" "$(md5sum <"$FLEET_DIR/blob")" "$(md5sum <"$FLEET_DIR/blob.out")"
echo "   100 MB each way in $ms ms ($((100000 / (ms > 0 ? ms : 1))) MB/s); peak RSS kB:" \
	"berthctl $peak_cli, controller $b_ctl -> $peak_ctl, berthd $b_agent -> $peak_agent," \
	"monitor $b_mon -> $peak_mon"
# A stream holds at most 1 MiB queued each way at each end, plus what is in
# flight: nothing near the 100 MB.
[ $((peak_ctl - b_ctl)) -lt 16384 ] && ok "the controller grew by less than 16 MiB" ||
	bad "the controller grew by $((peak_ctl - b_ctl)) kB"
[ $((peak_agent - b_agent)) -lt 16384 ] && ok "berthd grew by less than 16 MiB" ||
	bad "berthd grew by $((peak_agent - b_agent)) kB"
[ $((peak_mon - b_mon)) -lt 1024 ] && ok "the monitor, whom the bytes never pass, by less than 1 MiB" ||
	bad "the monitor grew by $((peak_mon - b_mon)) kB"
[ "$peak_cli" -lt 32768 ] && ok "berthctl peaked under 32 MiB" || bad "berthctl peaked at $peak_cli kB"
rm -f "$FLEET_DIR/blob" "$FLEET_DIR/blob.out"

scenario "5. a client killed mid-stream: SIGHUP, nothing left behind"
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
inside() { bctl exec web-0 -c side -- "$@" 2>/dev/null; }
procs() { inside ps -o pid,comm | awk 'NR > 1' | wc -l; }
base_ctl=$(fds "$FLEET_CTL_PID") base_agent=$(fds "$agent_pid") base_procs=$(procs)
# The shell waits in wait, a builtin a trapped signal interrupts at once;
# its stderr goes nowhere, as a write to the stream its client left would
# end it with SIGPIPE before its trap ran.
hup='trap "echo hup >/tmp/hup-$0; exit 0" HUP; exec 2>/dev/null; echo started; sleep 100000 & wait'
for sig in KILL INT; do
	# (not the last round's "started": the background job truncates the
	# file only once it runs, and a signal before berthctl watches it is
	# lost, as SIGINT is ignored in a script's background job)
	rm -f "$FLEET_DIR/hup.out"
	"$FLEET_BIN_CTLCLI" exec web-0 -c side -- sh -c "$hup" $sig >"$FLEET_DIR/hup.out" 2>&1 &
	cli=$!
	wait_until 10 grep -q started "$FLEET_DIR/hup.out"
	t0=$SECONDS
	kill -$sig $cli
	wait $cli 2>/dev/null
	if wait_until 30 inside test -f /tmp/hup-$sig; then
		ok "berthctl $sig: the command got SIGHUP ($((SECONDS - t0)) s later)"
	else
		bad "berthctl $sig: no SIGHUP reached the command"
	fi
done
# the streams a daemon's /metrics says are open
streams() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
		awk '/^berth_streams_open\{state="open"\}/ { print $2 }'
}
# The pod first: counting its processes is an exec of its own, whose
# stream and sockets take a moment to go; the daemons are then watched
# with no exec in between (one in each round kept them from ever
# settling on a slow machine).
pod_settled() { [ "$(procs)" -le "$base_procs" ]; }
daemons_settled() {
	[ "$(fds "$FLEET_CTL_PID")" -le "$base_ctl" ] && [ "$(fds "$agent_pid")" -le "$base_agent" ] &&
		[ "$(streams "$ctl_port")" = 0 ] && [ "$(streams "$agent_port")" = 0 ]
}
if wait_until 30 pod_settled && wait_until 30 daemons_settled; then
	ok "no fd left in the controller ($base_ctl) or berthd ($base_agent), no process in the pod, no stream open in either (/metrics)"
else
	bad "left: controller fds $(fds "$FLEET_CTL_PID") (was $base_ctl), berthd $(fds "$agent_pid") (was $base_agent), streams $(streams "$ctl_port") and $(streams "$agent_port"), processes $(procs) (was $base_procs)"
fi

scenario "6. every exec is an event: who, what, the exit code"
contains "describe pod shows the execs" "exec by operator admin in container web-0_side: ps -o pid,comm: exit code 0" \
	"$(bctl describe pod web-0 2>&1)"
ev=$(bctl events 2>&1)
contains "the start: who, which container, what" "Exec              workload/web             exec by operator admin in container web-0_web: sh -c echo out; echo err >&2; exit 3" "$ev"
contains "... and the end with the exit code" "in container web-0_web: sh -c echo out; echo err >&2; exit 3: exit code 3" "$ev"
contains "... a killed client's too" "ended CANCELLED: the caller went away" "$ev"
contains "... an interrupted one's" "ended CANCELLED: the caller cancelled" "$ev"

scenario "7. after berthd restarts; on the node with the controller down"
mon_before=$(pgrep -f "berth-monitor.*web-0_web" | head -1)
node_kill n1 TERM
node_start n1
wait_until 30 nodes_ready 1
agent_pid=$(node_pid n1)
expect "exec into the pod after berthd's restart" "still here" \
	"$(bctl exec web-0 -c web -- echo still here 2>&1)"
ctl_kill TERM
id=$(node_agent n1 ps | awk '$1 ~ /web-0_side/ { print $1 }')
expect "berthctl agent exec with the controller down" "on the node" \
	"$(BERTH_AGENT_SOCKET=$FLEET_DIR/n1/agent.sock BERTH_AGENT_STATE_DIR=$FLEET_DIR/n1/state \
		bctl agent exec "$id" -- echo on the node 2>&1)"
expect "... its exit code" 5 "$(BERTH_AGENT_SOCKET=$FLEET_DIR/n1/agent.sock \
	BERTH_AGENT_STATE_DIR=$FLEET_DIR/n1/state bctl agent exec "$id" -- sh -c 'exit 5' \
	>/dev/null 2>&1; echo $?)"
contains "berthd logs who ran what" "exec in container $id by admin" "$(cat "$FLEET_DIR/n1/log")"
ctl_start || bad "the controller did not start again"
wait_until 30 nodes_ready 1
expect "the container kept its monitor across the restarts" "$mon_before" \
	"$(pgrep -f "berth-monitor.*web-0_web" | head -1)"

scenario "8. port-forward to the pod's own loopback"
pfpids=()
"$FLEET_BIN_CTLCLI" port-forward web-0 18780:8080 :8080 1234:9 >"$FLEET_DIR/pf.out" 2>&1 &
pf=$!
forwarding() { [ "$(grep -c "^Forwarding from" "$FLEET_DIR/pf.out")" -ge 6 ]; }
wait_until 10 forwarding || bad "port-forward did not listen: $(cat "$FLEET_DIR/pf.out")"
contains "kubectl's words: Forwarding from" "Forwarding from 127.0.0.1:18780 -> 8080" \
	"$(cat "$FLEET_DIR/pf.out")"
free_port=$(awk '/^Forwarding from 127.0.0.1:/ && !/:18780 / && !/:1234 / { sub(/.*:/, "", $3); print $3; exit }' \
	"$FLEET_DIR/pf.out")
expect "a request through the given port" "hello from the pod" \
	"$(curl -s --max-time 10 http://127.0.0.1:18780/index.html)"
expect "... and through the free one it picked ($free_port)" "hello from the pod" \
	"$(curl -s --max-time 10 "http://127.0.0.1:$free_port/index.html")"
want=$(bctl exec web-0 -c side -- md5sum /tmp/www/big 2>/dev/null | cut -d' ' -f1)
for i in 1 2 3 4 5; do
	curl -s --max-time 60 http://127.0.0.1:18780/big -o "$FLEET_DIR/big.$i" &
	pfpids+=($!)
done
wait "${pfpids[@]}"
same=0
for i in 1 2 3 4 5; do
	[ "$(md5sum <"$FLEET_DIR/big.$i" | cut -d' ' -f1)" = "$want" ] && same=$((same + 1))
done
expect "five 20 MB downloads at once, each intact" 5 "$same"
rm -f "$FLEET_DIR"/big.*
# what the daemons hold now, their relay's sockets made: nothing more after
base_ctl=$(fds "$FLEET_CTL_PID") base_agent=$(fds "$agent_pid") base_procs=$(procs)
curl -s --max-time 10 http://127.0.0.1:1234/ >/dev/null
wait_until 10 grep -q "error forwarding port 9 to pod web-0" "$FLEET_DIR/pf.out" &&
	ok "a refused port: kubectl's error, naming the port and the pod" ||
	bad "a refused port: $(tail -3 "$FLEET_DIR/pf.out")"
expect "... while the others go on" "hello from the pod" \
	"$(curl -s --max-time 10 http://127.0.0.1:18780/index.html)"
kill -INT $pf
wait $pf
expect "Ctrl-C ends port-forward: exit 0" 0 "$?"
contains "each connection is an event" "port-forward by operator admin to port 8080 of container web-0_web" \
	"$(bctl events 2>&1)"
if wait_until 30 pod_settled && wait_until 30 daemons_settled; then
	ok "no fd or stream left in the controller or berthd after port-forward"
else
	bad "left after port-forward: controller fds $(fds "$FLEET_CTL_PID") (was $base_ctl), berthd $(fds "$agent_pid"), streams $(streams "$ctl_port") and $(streams "$agent_port")"
fi

scenario "9. attach to a main process"
cat >"$FLEET_DIR/att.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: att}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: shell
    image: bb
    command: [/bin/sh]
    stdin: true
    tty: true
  - name: echo
    image: bb
    command: [/bin/sh, -c, 'while read l; do echo "got $l"; done; echo "stdin closed"; exec sleep 100000']
    stdin: true
    stdinOnce: true
  - name: ticker
    image: bb
    command: [/bin/sh, -c, 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done']
  - name: owner
    image: bb
    command: [/bin/sh, -c, 'echo "on $(tty) owned by $(stat -c %u "$(tty)")"; exec sleep 100000']
    tty: true
    securityContext: {runAsUser: 1000}
YAML
bctl apply -f "$FLEET_DIR/att.yaml" >/dev/null
att_running() { bctl get pods att-0 2>/dev/null | grep -q "4/4 *Running"; }
wait_until 60 att_running || bad "att-0 did not start: $(bctl get pods 2>&1)"
timeout -s INT 2 "$FLEET_BIN_CTLCLI" attach att-0 -c ticker >"$FLEET_DIR/tick.out" 2>&1
contains "attach: the output from now on" "tick " "$(cat "$FLEET_DIR/tick.out")"
expect "... not what came before (no tick 1)" "" "$(grep -x "tick 1" "$FLEET_DIR/tick.out")"
expect "... and Ctrl-C left it running" "4/4 Running 0" \
	"$(bctl get pods att-0 2>/dev/null | awk 'NR > 1 { print $2, $3, $4 }')"
(
	echo one
	echo two
	sleep 1
) | "$FLEET_BIN_CTLCLI" attach -i att-0 -c echo >"$FLEET_DIR/echo.out" 2>&1 &
att=$!
wait_until 10 grep -q "got two" "$FLEET_DIR/echo.out" &&
	ok "attach -i: the main process reads what is typed" ||
	bad "attach -i: $(cat "$FLEET_DIR/echo.out")"
# stdinOnce: the end of what was piped in is the end of its stdin
wait_until 10 grep -q "stdin closed" "$FLEET_DIR/echo.out" &&
	ok "... stdinOnce: the end of the piped input closed its stdin" ||
	bad "stdinOnce: $(cat "$FLEET_DIR/echo.out")"
kill -INT $att 2>/dev/null
wait $att 2>/dev/null
err=$(bctl attach -i att-0 -c echo </dev/null 2>&1)
contains "... and no later attach -i gets it again" "stdin was closed (stdinOnce)" "$err"
"$PTYDRIVE" 30 90 -- "$FLEET_BIN_CTLCLI" attach -it att-0 -c shell 2>"$FLEET_DIR/att-pty.log" <<'S'
expect If you don't see a command prompt, try pressing enter.
send \r
expect #
send stty size\r
expect 30 90
send tty\r
expect /dev/pts/0
send exit 4\r
exit 4
S
if [ $? -eq 0 ]; then
	ok "attach -it: kubectl's hint, the prompt, its size 30x90, /dev/pts/0, exit 4 its code"
else
	bad "attach -it: $(tail -c 1500 "$FLEET_DIR/att-pty.log")"
fi
contains "... the session is in its log" "30 90" "$(bctl logs att-0 -c shell 2>&1)"
contains "a tty container's terminal is its user's" "on /dev/pts/0 owned by 1000" \
	"$(bctl logs att-0 -c owner 2>&1)"
err=$(bctl attach -i att-0 -c ticker </dev/null 2>&1)
expect "attach -i to a container without stdin: exit 1" 1 "$?"
contains "... saying why" "was not started with stdin: true" "$err"
contains "attach -t without a tty in the spec: kubectl's warning" \
	"Unable to use a TTY - container ticker did not allocate one" \
	"$(timeout -s INT 1 "$FLEET_BIN_CTLCLI" attach -t att-0 -c ticker 2>&1 </dev/null)"
ev=$(bctl events 2>&1)
contains "events: Attach" "attach by operator admin to container att-0_echo, with stdin" "$ev"
contains "... and how it ended" "attach by operator admin to container att-0_shell: it exited with code 4" "$ev"

fleet_teardown
check_summary
