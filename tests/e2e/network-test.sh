#!/usr/bin/env bash
# End to end: pods with addresses of their own (agent.yaml pod_network:
# bridge) on two nodes, each in a network namespace of the test's, joined by
# a bridge the test makes (the host's network is never touched):
#
#   1. each node gets its pod range from the controller (describe node)
#   2. pods of a Deployment get addresses from their node's range, shown by
#      get pods -o wide and given to the pod by fieldRef status.podIP
#   3. a pod reaches another pod of its node by address (TCP), and the node
#      reaches it (and top shows its address and network bytes); a pod on
#      the other node reaches it through the routes each node has to the
#      other's range (host-gw), by TCP and UDP
#   4. kill -9 of the node's berthd with the pods running: a stream into a
#      pod across it arrives whole, the pods keep their addresses and stay
#      reachable; the next berthd adopts them
#   5. a pod of two containers shares one address; a host port (hostPort,
#      TCP and UDP) reaches a pod from another machine, and placement keeps
#      a second pod with the same port off the node
#   6. everything deleted: no pod veth, address file or netns mount left;
#      a node forgotten takes its route with it
#   7. two more nodes on two subnets with a router between them (no shared
#      link): pods reach each other through the VXLAN overlay
#   8. a node on an operator's own CNI network (Debian's bridge and
#      host-local plugins): the plugins' address, reached, given back on
#      delete; CHECK after berthd restarts (a broken pod network is made
#      anew); a CNI configuration that does not load stops berthd
#   9. bad input: a pod range that runs out (NetworkNotReady, saying so);
#      a plugin that fails (its message; tried again with backoff until it
#      works)
#
#   network-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_e2e_init
if ! net_init 10.213.78; then
	echo "SKIP: cannot make network namespaces (ip netns)"
	exit 77
fi

net_add n1 11 && net_add n2 12 || exit 1
ctl_start || exit 1
FLEET_AGENT_EXTRA="pod_network: {mode: bridge}"
for n in n1 n2; do
	node_start $n "$(net_ns $n)"
done
wait_until 30 nodes_ready 2

# pod_ip POD: its IP as get pods -o wide shows it
pod_ip() {
	bctl get pods -o wide | awk -v p="$1" '$1 == p { print $6 }'
}
# pod_veths NODE: the pod veths in the node's namespace
pod_veths() {
	net_run "$1" ip -o link show type veth | awk -F': ' '$2 ~ /^bv/ { n++ } END { print n + 0 }'
}

# --- 1. pod ranges ---------------------------------------------------------------------

scenario "1. each node's pod range"
r1=$(bctl describe node n1 | awk '$1 == "PodCIDR:" { print $2 }')
r2=$(bctl describe node n2 | awk '$1 == "PodCIDR:" { print $2 }')
expect "two ranges of 10.244.0.0/16" "10.244.0.0/24 10.244.1.0/24" "$(echo "$r1 $r2" | xargs -n1 | sort | xargs)"
expect "n1's bridge holds its range's first address" "${r1%.0/24}.1/24" \
	"$(net_run n1 ip -4 -o addr show berth0 | awk '{ print $4 }')"

# --- 2. addresses -----------------------------------------------------------------------

scenario "2. a Deployment's pods get addresses, and know them"
cat >"$FLEET_DIR/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeName: n1
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: bb
        command: [sh, -c, 'while true; do echo "hello from $POD_IP" | nc -l -p 8080; done']
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
YAML
out=$(bctl apply -f "$FLEET_DIR/web.yaml" --wait --wait-timeout 60s 2>&1)
contains "both run" "web: 2/2 running" "$out"
web0=$(deploy_pod web 0)
web1=$(deploy_pod web 1)
ip0=$(pod_ip "$web0")
ip1=$(pod_ip "$web1")
case "$ip0 $ip1" in
"${r1%.0/24}".*" ${r1%.0/24}".*) ok "addresses from n1's range ($ip0, $ip1)" ;;
*) bad "addresses: [$ip0] [$ip1] not in $r1: $(bctl get pods -o wide 2>&1)" ;;
esac
[ "$ip0" != "$ip1" ] && ok "two addresses" || bad "the same address twice"
contains "describe pod: IP" "IP:             $ip0" "$(bctl describe pod "$web0")"
expect "one veth a pod on n1, none on n2" "2 0" "$(pod_veths n1) $(pod_veths n2)"

# --- 3. reaching pods --------------------------------------------------------------------

scenario "3. pod to pod and node to pod"
reach() { # reach NODE ADDR: what the server at ADDR:8080 says, from the node
	net_run "$1" sh -c "echo | timeout 3 busybox nc $2 8080" 2>/dev/null
}
wait_until 20 test -n "$(reach n1 "$ip0")"
expect "the node reaches a pod, which knows its address (fieldRef)" "hello from $ip0" \
	"$(reach n1 "$ip0")"
# metrics: a pod's container (its cgroup in the pod's) has its figures,
# its pod's address and the bytes of its pod's interface
top_net() {
	bctl top containers -o wide | awk -v ip="$ip0" -v p="$web0" \
		'$1 == p && $5 != "0" && $7 == ip && $8 != "0" && $9 != "0" { f = 1 } END { exit !f }'
}
wait_until 15 top_net && ok "top -o wide: web-0's memory, address and network bytes" ||
	bad "top: $(bctl top containers -o wide 2>&1)"
cat >"$FLEET_DIR/client.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: n1
  restartPolicy: Never
  containers:
  - name: client
    image: bb
    command: [sh, -c, 'for i in 1 2 3 4 5 6 7 8 9 10; do echo | nc $ip1 8080 && exit 0; sleep 1; done; exit 1']
YAML
bctl apply -f "$FLEET_DIR/client.yaml" >/dev/null
client_done() {
	bctl get pods client-0 2>/dev/null | awk 'NR == 2 { print $3 }' | grep -q Completed
}
wait_until 30 client_done && ok "a pod reached another pod by its address" ||
	bad "the client did not complete: $(bctl get pods client-0 2>&1) $(bctl logs client-0 2>&1)"
expect "... and heard it" "hello from $ip1" "$(bctl logs client-0 2>&1 | head -1)"

scenario "3b. a pod on n2 reaches a pod on n1 (routes between the nodes)"
routes_between() {
	[ "$(net_run n1 ip route show proto 188 | awk '{ print $1, $2, $3 }')" = \
		"$r2 via $(net_addr n2)" ] &&
		[ "$(net_run n2 ip route show proto 188 | awk '{ print $1, $2, $3 }')" = \
			"$r1 via $(net_addr n1)" ]
}
wait_until 10 routes_between && ok "n1 routes n2's range through n2, and n2 n1's through n1" ||
	bad "routes: n1 [$(net_run n1 ip route show proto 188)] n2 [$(net_run n2 ip route show proto 188)]"
sed -e 's/name: client}/name: far}/' -e 's/nodeName: n1/nodeName: n2/' "$FLEET_DIR/client.yaml" |
	bctl apply -f - >/dev/null
far_done() {
	bctl get pods far-0 2>/dev/null | awk 'NR == 2 { print $3 }' | grep -q Completed
}
wait_until 30 far_done && ok "a pod on n2 reached a pod on n1 by its address" ||
	bad "far did not complete: $(bctl get pods far-0 2>&1) $(bctl logs far-0 2>&1)"
expect "... and heard it" "hello from $ip1" "$(bctl logs far-0 2>&1 | head -1)"
# UDP: netprobe (static) from the build, bound into the pods (hostPath)
NETPROBE=$FLEET_BUILD/tests/integration/runtime/netprobe
cat >"$FLEET_DIR/udp.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: udpecho}
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  volumes: [{name: probe, hostPath: {path: $NETPROBE, type: File}}]
  containers:
  - name: echo
    image: bb
    command: [/netprobe, udp-echo, "5353"]
    volumeMounts: [{name: probe, mountPath: /netprobe, readOnly: true}]
YAML
bctl apply -f "$FLEET_DIR/udp.yaml" >/dev/null
udp_runs() { [ "$(bctl get pods udpecho-0 2>/dev/null | awk 'NR == 2 { print $3 }')" = Running ]; }
wait_until 30 udp_runs || bad "udpecho: $(bctl get pods udpecho-0 2>&1)"
ip_udp=$(pod_ip udpecho-0)
sed -e 's/name: udpecho}/name: udpask}/' -e 's/nodeName: n1/nodeName: n2/' \
	-e "s|command: \[/netprobe, udp-echo, \"5353\"\]|command: [/netprobe, udp-ask, $ip_udp, \"5353\", from-n2]|" \
	-e 's/^spec:/spec:\n  restartPolicy: Never/' "$FLEET_DIR/udp.yaml" | bctl apply -f - >/dev/null
udp_done() {
	bctl get pods udpask-0 2>/dev/null | awk 'NR == 2 { print $3 }' | grep -q Completed
}
wait_until 30 udp_done && ok "UDP: a pod on n2 reached a pod on n1 by its address" ||
	bad "udpask: $(bctl get pods udpask-0 2>&1) $(bctl logs udpask-0 2>&1)"
expect "... and got its answer" "echo:from-n2" "$(bctl logs udpask-0 2>&1 | head -1)"

# --- 4. berthd killed --------------------------------------------------------------------

scenario "4. kill -9 berthd on n1: the pods keep their network"
# a stream into a pod while its agent dies and comes back
cat >"$FLEET_DIR/sink.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: sink}
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: sink
    image: bb
    command: [sh, -c, 'nc -l -p 8081 | while read l; do echo "got $l"; done; exec sleep 100000']
YAML
bctl apply -f "$FLEET_DIR/sink.yaml" --wait --wait-timeout 60s >/dev/null 2>&1
ips=$(pod_ip sink-0)
net_run n1 bash -c "exec 3<>/dev/tcp/$ips/8081 && for i in \$(seq 1 40); do echo line\$i >&3;
	sleep 0.1; done" >/dev/null 2>&1 &
streamer=$!
sleep 1
node_kill n1 KILL
expect "reachable with no agent" "hello from $ip1" "$(reach n1 "$ip1")"
node_start n1
wait_until 30 nodes_ready 2
wait "$streamer"
expect "the stream that ran across the agent's death arrived whole" "got line40" \
	"$(bctl logs sink-0 2>&1 | tail -1)"
bctl delete sink >/dev/null 2>&1
sleep 2
expect "adopted with the same addresses" "$ip0 $ip1" "$(pod_ip "$web0") $(pod_ip "$web1")"
expect "still reachable" "hello from $ip0" "$(reach n1 "$ip0")"

# --- 5. a pod of two containers -------------------------------------------------------

scenario "5. a pod of two containers: one address"
cat >"$FLEET_DIR/duo.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: duo}
spec:
  nodeName: n2
  terminationGracePeriodSeconds: 1
  containers:
  - name: server
    image: bb
    command: [sh, -c, 'while true; do echo duo | nc -l -p 8080; done']
  - name: side
    image: bb
    command: [sh, -c, 'ip -4 -o addr show eth0; cat /etc/hosts /etc/resolv.conf; exec sleep 100000']
  dnsConfig:
    searches: [svc.example]
    options: [{name: ndots, value: "5"}]
YAML
out=$(bctl apply -f "$FLEET_DIR/duo.yaml" --wait --wait-timeout 60s 2>&1)
contains "duo runs" "duo: 1/1 running" "$out"
ipd=$(pod_ip duo-0)
case "$ipd" in "${r2%.0/24}".*) ok "an address from n2's range ($ipd)" ;; *) bad "duo: [$ipd]" ;; esac
wait_until 20 test -n "$(reach n2 "$ipd")"
expect "the node reaches it" "duo" "$(reach n2 "$ipd")"
contains "the other container sees the same eth0" "$ipd/24" "$(bctl logs duo-0 -c side 2>&1)"
side=$(bctl logs duo-0 -c side 2>&1)
contains "its /etc/hosts names it" "$(printf '%s\tduo-0' "$ipd")" "$side"
contains "its resolv.conf: the node's search domains and dnsConfig's" "svc.example" \
	"$(echo "$side" | grep '^search')"
contains "... and dnsConfig's options" "ndots:5" "$(echo "$side" | grep '^options')"

scenario "5b. a host port: n2's port 9090 reaches its pod's 8080, one pod a node"
cat >"$FLEET_DIR/pub.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: pub}
spec:
  replicas: 2
  selector: {matchLabels: {app: pub}}
  template:
    metadata: {labels: {app: pub}}
    spec:
      nodeSelector: {fleet-node: n2}
      terminationGracePeriodSeconds: 1
      containers:
      - name: pub
        image: bb
        command: [sh, -c, 'while true; do echo published | nc -l -p 8080; done']
        ports: [{containerPort: 8080, hostPort: 9090}]
YAML
bctl apply -f "$FLEET_DIR/pub.yaml" >/dev/null
pub_one() {
	[ "$(bctl get pods --workload pub | awk 'NR > 1 && $3 == "Running"' | wc -l)" -eq 1 ]
}
wait_until 30 pub_one && ok "one replica runs" || bad "pub: $(bctl get pods --workload pub 2>&1)"
contains "the other has no node with the port free" \
	"didn't have free ports for the requested pod ports" "$(bctl get workloads -o wide pub)"
from_n1() {
	net_run n1 sh -c "echo | timeout 3 busybox nc $(net_addr n2) 9090" 2>/dev/null
}
wait_until 20 test -n "$(from_n1)"
expect "another machine reaches it through n2's address" "published" "$(from_n1)"
contains "the rule, as nft shows it" "tcp dport 9090 dnat to" "$(net_run n2 nft list table ip berth)"
node_kill n2 KILL
node_start n2
wait_until 30 nodes_ready 2
published() {
	[ "$(from_n1)" = published ]
}
wait_until 20 published && ok "berthd restarted on n2: the port still reaches the pod" ||
	bad "after the restart: [$(from_n1)] $(net_run n2 nft list table ip berth)"
# a UDP host port
sed -e 's/name: udpecho}/name: udppub}/' -e 's/nodeName: n1/nodeName: n2/' \
	-e 's/^    image: bb/    image: bb\n    ports: [{containerPort: 5353, hostPort: 5353, protocol: UDP}]/' \
	"$FLEET_DIR/udp.yaml" | bctl apply -f - >/dev/null
udp_from_n1() { net_run n1 "$NETPROBE" udp-ask "$(net_addr n2)" 5353 from-n1 2>/dev/null; }
wait_until 30 test -n "$(udp_from_n1)"
expect "a UDP host port: n2's 5353 reaches its pod from another machine" "echo:from-n1" "$(udp_from_n1)"
contains "... the rule, as nft shows it" "udp dport 5353 dnat to" "$(net_run n2 nft list table ip berth)"

# --- 6. nothing left -----------------------------------------------------------------------

scenario "6. everything deleted: nothing of the pods' networks left"
bctl delete web client far duo pub udpecho udpask udppub >/dev/null 2>&1
gone() {
	no_containers n1 n2 && [ "$(pod_veths n1) $(pod_veths n2)" = "0 0" ] &&
		[ -z "$(ls "$FLEET_DIR"/n*/state/network 2>/dev/null | grep -v '^last$' | grep '^10\.')" ]
}
wait_until 30 gone && ok "no container, pod veth or address left" ||
	bad "left: veths $(pod_veths n1) $(pod_veths n2); addresses $(ls "$FLEET_DIR"/n*/state/network)"
expect "no host port rule left" "" "$(net_run n2 nft list table ip berth | grep dnat)"
expect "no pod network namespace mount left" "" \
	"$(awk -v d="$FLEET_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo)"

bctl node drain n2 >/dev/null 2>&1
node_kill n2 TERM
bctl delete node n2 >/dev/null 2>&1
no_route() {
	[ -z "$(net_run n1 ip route show proto 188)" ]
}
wait_until 20 no_route && ok "n2 forgotten: n1's route to its pods is gone" ||
	bad "n1 still routes: $(net_run n1 ip route show proto 188)"

# --- 7. the overlay ----------------------------------------------------------------------

scenario "7. two nodes on two subnets, a router between them: the VXLAN overlay"
bctl node drain n1 >/dev/null 2>&1
node_kill n1 TERM
bctl delete node n1 >/dev/null 2>&1
overlay_net() {
	local r v
	r=$(net_ns router)
	ip netns add "$r" && FLEET_NETS+=(router) || return 1
	ip -n "$r" link set lo up && ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 || return 1
	for v in 1 2; do
		ip netns add "$(net_ns v$v)" && FLEET_NETS+=("v$v") || return 1
		ip -n "$r" link add "r-v$v" type veth peer name eth0 netns "$(net_ns v$v)" &&
			ip -n "$r" addr add "10.213.8$v.1/24" dev "r-v$v" && ip -n "$r" link set "r-v$v" up &&
			ip -n "$(net_ns v$v)" link set lo up &&
			ip -n "$(net_ns v$v)" addr add "10.213.8$v.1$v/24" dev eth0 &&
			ip -n "$(net_ns v$v)" link set eth0 up &&
			ip -n "$(net_ns v$v)" route add default via "10.213.8$v.1" || return 1
	done
}
overlay_net || bad "the subnets and the router"
FLEET_AGENT_EXTRA="pod_network: {mode: bridge, backend: vxlan}"
node_start v1 "$(net_ns v1)"
node_start v2 "$(net_ns v2)"
wait_until 30 nodes_ready 2
rv1=$(bctl describe node v1 | awk '$1 == "PodCIDR:" { print $2 }')
overlay_route() { # (within a heartbeat of the peers' change)
	[ "$(net_run v2 ip route show proto 188 | xargs)" = "$rv1 via ${rv1%/24} dev berth.vx onlink" ]
}
wait_until 10 overlay_route && ok "v2 routes v1's range over the overlay" ||
	bad "v2's routes: $(net_run v2 ip route show proto 188)"
sed -e 's/name: web}/name: over}/' -e 's/app: web/app: over/g' -e 's/nodeName: n1/nodeName: v1/' \
	-e 's/replicas: 2/replicas: 1/' "$FLEET_DIR/web.yaml" | bctl apply -f - >/dev/null
OVER=$(deploy_pod over 0)
over_runs() {
	[ -n "$(pod_ip ${OVER})" ] && [ "$(bctl get pods ${OVER} | awk 'NR == 2 { print $3 }')" = Running ]
}
wait_until 30 over_runs || bad "${OVER} did not run: $(bctl get pods -o wide 2>&1)"
ipo=$(pod_ip ${OVER})
sed -e "s/name: client}/name: across}/" -e 's/nodeName: n1/nodeName: v2/' -e "s/$ip1/$ipo/" \
	"$FLEET_DIR/client.yaml" | bctl apply -f - >/dev/null
across_done() {
	bctl get pods across-0 2>/dev/null | awk 'NR == 2 { print $3 }' | grep -q Completed
}
wait_until 30 across_done && ok "a pod on v2 reached a pod on v1 through the overlay" ||
	bad "across did not complete: $(bctl get pods across-0 2>&1) $(bctl logs across-0 2>&1)"
expect "... and heard it" "hello from $ipo" "$(bctl logs across-0 2>&1 | head -1)"
bctl delete over across >/dev/null 2>&1

# --- 8. CNI ----------------------------------------------------------------------------

scenario "8. a node on the operator's own CNI network (bridge + host-local)"
if [ -x /usr/lib/cni/bridge ]; then
	mkdir -p "$FLEET_DIR/cni" "$FLEET_DIR/cni-bad"
	cat >"$FLEET_DIR/cni/10-test.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "fleetnet", "plugins": [
  {"type": "bridge", "bridge": "cnibr0", "isGateway": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.23.0.0/24"}]],
            "dataDir": "$FLEET_DIR/cni-ipam"}}]}
JSON
	echo '{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "nosuch"}]}' \
		>"$FLEET_DIR/cni-bad/10-bad.conflist"
	net_add c1 21 && net_add c2 22 || bad "c1, c2"
	FLEET_AGENT_EXTRA="pod_network: {mode: cni, cni_conf_dir: $FLEET_DIR/cni-bad}"
	node_start c2 "$(net_ns c2)"
	c2_gone() {
		! kill -0 "$(node_pid c2)" 2>/dev/null
	}
	wait_until 10 c2_gone && ok "a bad CNI configuration stops berthd" || bad "c2 still runs"
	contains "... naming the file and why" \
		"10-bad.conflist: plugins[0]: plugin 'nosuch' is not in /usr/lib/cni" \
		"$(cat "$FLEET_DIR/c2/log")"
	FLEET_AGENT_EXTRA="pod_network: {mode: cni, cni_conf_dir: $FLEET_DIR/cni}"
	node_start c1 "$(net_ns c1)"
	c1_ready() {
		bctl get nodes | awk '$1 == "c1" && $2 == "Ready"' | grep -q c1
	}
	wait_until 30 c1_ready || bad "c1 not Ready: $(bctl get nodes 2>&1)"
	sed -e 's/name: web}/name: cnipod}/' -e 's/app: web/app: cnipod/g' -e 's/nodeName: n1/nodeName: c1/' \
		-e 's/replicas: 2/replicas: 1/' "$FLEET_DIR/web.yaml" | bctl apply -f - >/dev/null
	CNIPOD=$(deploy_pod cnipod 0)
	cni_runs() {
		[ "$(bctl get pods ${CNIPOD} | awk 'NR == 2 { print $3 }')" = Running ]
	}
	wait_until 30 cni_runs || bad "${CNIPOD}: $(bctl get pods -o wide 2>&1)"
	expect "the plugins gave it its address" "10.23.0.2" "$(pod_ip ${CNIPOD})"
	wait_until 20 test -n "$(reach c1 10.23.0.2)"
	expect "the node reaches it, and it knows its address" "hello from 10.23.0.2" \
		"$(reach c1 10.23.0.2)"
	expect "host-local holds its address" "1" \
		"$(ls "$FLEET_DIR/cni-ipam/fleetnet" | grep -c '^10\.')"
	# CHECK: a berthd started again finds the network as ADD made it and
	# leaves the pod be; one whose interface went meanwhile is made anew.
	cni_pid() { bctl get containers -o wide | awk -v c="$CNIPOD" '$1 == c { print $8 }'; }
	# (its local Agent service answers once the network is open)
	cni_opened() { node_agent c1 ps; }
	pid0=$(cni_pid)
	node_kill c1 KILL
	node_start c1
	wait_until 20 cni_opened || bad "c1 did not start again"
	wait_until 10 c1_ready
	swept() { grep -q "start-up sweep: 1 pod(s) CHECKed, 0 broken" "$FLEET_DIR/c1/log"; }
	wait_until 20 swept || bad "no start-up sweep in c1's log"
	expect "restarted berthd: CHECK passes (berth-cni's sweep), the pod runs on (same process)" \
		"$pid0 0" "$(cni_pid) $(grep -c "not as ADD made it" "$FLEET_DIR/c1/log")"
	node_kill c1 KILL
	nsenter --net="$FLEET_DIR/c1/state/pods/${CNIPOD}/net" ip link del eth0 &&
		ok "(the pod's eth0 deleted while berthd is away)" || bad "cannot delete the pod's eth0"
	node_start c1
	wait_until 20 cni_opened || bad "c1 did not start again"
	said_broken() { grep -q "pod ${CNIPOD}: its network is not as ADD made it (network fleetnet: CNI plugin" "$FLEET_DIR/c1/log"; }
	wait_until 20 said_broken && ok "CHECK fails (berth-cni's sweep): said, with the plugin's message" ||
		bad "no broken network said: $(grep -i "sweep\|CHECK" "$FLEET_DIR/c1/log")"
	new_pid() { [ -n "$(cni_pid)" ] && [ "$(cni_pid)" != "$pid0" ] && cni_runs; }
	wait_until 30 new_pid && ok "... and the pod starts again in a new sandbox" ||
		bad "${CNIPOD}: $(bctl get containers -o wide 2>&1)"
	ip_new=$(pod_ip ${CNIPOD})
	wait_until 20 test -n "$(reach c1 "$ip_new")"
	expect "... on a network that works" "hello from $ip_new" "$(reach c1 "$ip_new")"
	bctl delete cnipod >/dev/null 2>&1
	cni_gone() {
		[ "$(ls "$FLEET_DIR/cni-ipam/fleetnet" | grep -c '^10\.')" = 0 ]
	}
	wait_until 30 cni_gone && ok "deleted: the plugins' DEL gave the address back" ||
		bad "host-local still holds $(ls "$FLEET_DIR/cni-ipam/fleetnet")"
else
	echo "SKIP: no CNI plugins in /usr/lib/cni (deploy/install-deps.sh installs them)"
fi

# --- 9. bad input ------------------------------------------------------------------------

scenario "9. a full pod range; a plugin that fails, then works"
net_add c3 23 || bad "c3"
FLEET_AGENT_EXTRA="pod_network: {mode: bridge, pod_cidr: 10.99.0.0/30, cluster_cidr: 10.99.0.0/16}"
node_start c3 "$(net_ns c3)"
# describe pod NAME's lines matching the extended regex RE: "found" or what it says
described() {
	local out
	out=$(bctl describe pod "$1" 2>&1)
	if echo "$out" | grep -Eq -- "$2"; then echo found; else echo "$out"; fi
}
sed -e 's/name: web}/name: full}/' -e 's/app: web/app: full/g' -e 's/nodeName: n1/nodeName: c3/' \
	"$FLEET_DIR/web.yaml" | bctl apply -f - >/dev/null
# (kubectl shows a pod whose sandbox is not made yet as ContainerCreating)
one_full() {
	[ "$(bctl get pods | awk '$1 ~ /^full-/ { print $3 }' | sort | xargs)" = "ContainerCreating Running" ]
}
wait_until 30 one_full && ok "a /30 range holds one pod; the other waits" ||
	bad "full: $(bctl get pods 2>&1)"
waiting=$(bctl get pods | awk '$1 ~ /^full-/ && $3 != "Running" { print $1 }')
expect "... its container's message: the range is full" "found" \
	"$(described "$waiting" "Message: +pod $waiting: pod range 10.99.0.0/30 is full: 1 addresses given")"
expect "... and a Warning NetworkNotReady event saying so" "found" \
	"$(described "$waiting" "Warning +NetworkNotReady +$waiting on c3: pod $waiting: pod range 10.99.0.0/30 is full")"

if [ -x /usr/lib/cni/bridge ]; then
	net_add c4 24 || bad "c4"
	mkdir -p "$FLEET_DIR/cni-gate" "$FLEET_DIR/cni-bin"
	ln -s /usr/lib/cni/bridge /usr/lib/cni/host-local "$FLEET_DIR/cni-bin/"
	# a plugin of the operator's that fails while the gate file is there
	cat >"$FLEET_DIR/cni-bin/gate" <<-SH
		#!/bin/sh
		cat >/dev/null
		[ "\$CNI_COMMAND" = ADD ] || exit 0
		echo add >>"$FLEET_DIR/gate-adds"
		if [ -e "$FLEET_DIR/gate-closed" ]; then
		  echo '{"cniVersion": "1.0.0", "code": 11, "msg": "the gate is closed", "details": "try later"}'
		  exit 1
		fi
		if [ -e "$FLEET_DIR/gate-slow" ]; then
		  touch "$FLEET_DIR/gate-slow-started"
		  sleep 4
		  touch "$FLEET_DIR/gate-slow-done"
		fi
		echo '{"cniVersion": "1.0.0"}'
	SH
	chmod 755 "$FLEET_DIR/cni-bin/gate"
	touch "$FLEET_DIR/gate-closed"
	cat >"$FLEET_DIR/cni-gate/10-gated.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "gated", "plugins": [
  {"type": "gate"},
  {"type": "bridge", "bridge": "cnibr1", "isGateway": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.25.0.0/24"}]],
            "dataDir": "$FLEET_DIR/cni-ipam-gate"}}]}
JSON
	FLEET_AGENT_EXTRA="pod_network: {mode: cni, cni_conf_dir: $FLEET_DIR/cni-gate, cni_bin_dir: $FLEET_DIR/cni-bin}"
	node_start c4 "$(net_ns c4)"
	sed -e 's/name: web}/name: gated}/' -e 's/app: web/app: gated/g' -e 's/nodeName: n1/nodeName: c4/' \
		-e 's/replicas: 2/replicas: 1/' "$FLEET_DIR/web.yaml" | bctl apply -f - >/dev/null
	GATED=$(deploy_pod gated 0)
	adds() { [ "$(wc -l <"$FLEET_DIR/gate-adds" 2>/dev/null || echo 0)" -ge "$1" ]; }
	wait_until 30 adds 2 && ok "a failing plugin: ADD tried again" || bad "ADD tried $(cat "$FLEET_DIR/gate-adds" 2>/dev/null | wc -l) times"
	expect "... the pod waits, its container's message the plugin's" "found" \
		"$(described ${GATED} "Message: +network gated: CNI plugin gate ADD: the gate is closed: try later")"
	expect "... one Warning NetworkNotReady event, however many tries" "found" \
		"$(described ${GATED} "Warning +NetworkNotReady +${GATED} on c4: network gated: CNI plugin gate ADD")"
	expect "... (one)" "1" "$(bctl describe pod ${GATED} | grep -c "NetworkNotReady")"
	expect "... and nothing of the failed ADD is left (host-local's addresses)" "0" \
		"$(ls "$FLEET_DIR/cni-ipam-gate/gated" 2>/dev/null | grep -c '^10\.')"
	n_adds=$(wc -l <"$FLEET_DIR/gate-adds")
	# the next ADD takes 4 s: berthd is not waiting for it
	touch "$FLEET_DIR/gate-slow"
	rm "$FLEET_DIR/gate-closed"
	wait_until 40 test -e "$FLEET_DIR/gate-slow-started" || bad "the slow ADD never started"
	# (its answer comes before the plugin is done: berthd did not wait)
	node_agent c4 ps >/dev/null 2>&1 && [ ! -e "$FLEET_DIR/gate-slow-done" ] &&
		ok "berthd answers while a plugin runs (ADD in berth-cni)" ||
		bad "berthd answered only after the plugin: $(ls "$FLEET_DIR" | grep gate-slow)"
	expect "... and the pod waits for it" "ContainerCreating" \
		"$(bctl get pods ${GATED} | awk 'NR == 2 { print $3 }')"
	# berthd killed while the ADD runs: berth-cni and the plugin die with
	# it; what the ADD cached before its first plugin lets the next berthd
	# DEL it (the bridge plugin's address given back), and make it anew
	node_kill c4 KILL
	rm -f "$FLEET_DIR/gate-slow-started"
	node_start c4
	gated_runs() { [ "$(bctl get pods ${GATED} | awk 'NR == 2 { print $3 }')" = Running ]; }
	wait_until 40 gated_runs && ok "the plugin works again: the pod runs (backoff; berthd killed meanwhile)" ||
		bad "${GATED}: $(bctl get pods ${GATED} 2>&1)"
	contains "... the next berthd DEL'd the ADD cut short" "1 pod(s) gone while berthd was away DEL'd" \
		"$(cat "$FLEET_DIR/c4/log")"
	case "$(pod_ip ${GATED})" in
	10.25.0.*) ok "... with the plugins' address ($(pod_ip ${GATED}))" ;;
	*) bad "${GATED}'s address: $(pod_ip ${GATED})" ;;
	esac
	expect "... and host-local holds that one only (the killed berthd's ADD undone)" \
		"$(pod_ip ${GATED})" "$(ls "$FLEET_DIR/cni-ipam-gate/gated" | grep '^10\.' | xargs)"
	expect "... after backing off: few ADDs" "yes" "$([ "$n_adds" -le 5 ] && echo yes || echo "no: $n_adds")"
	bctl delete gated >/dev/null 2>&1
	gated_gone() { [ -z "$(ls "$FLEET_DIR/cni-ipam-gate/gated" | grep '^10\.')" ]; }
	wait_until 30 gated_gone && ok "deleted: DEL (in berth-cni) gave its address back" ||
		bad "host-local still holds $(ls "$FLEET_DIR/cni-ipam-gate/gated")"
	# berth-cni forgets its cache after the chain's DEL returned: a moment
	# after host-local gave the address back
	cni_cache_gone() { [ -z "$(ls "$FLEET_DIR/c4/state/network/cni" 2>/dev/null)" ]; }
	wait_until 10 cni_cache_gone
	expect "... and berth's cache of it went" "" \
		"$(ls "$FLEET_DIR/c4/state/network/cni" 2>/dev/null)"
fi
bctl delete full >/dev/null 2>&1

fleet_teardown
expect "nothing of the test left on the machine" "" "$(fleet_leftovers)"
echo "took $((SECONDS - T0))s"
check_summary
