#!/usr/bin/env bash
# /metrics on berthd and on the controller, scraped for real: a controller
# and an agent (pod network: bridge) in a network namespace of the test's,
# each serving /metrics on that namespace's loopback at its default address
# (controller 127.0.0.1:7104, agent 127.0.0.1:7422), a Deployment running:
#
#   1. both texts pass `promtool check metrics` (format and lint)
#   2. the agent's: the running pod's container under cAdvisor's names and
#      labels (namespace, pod, container, name, id, image) with its working
#      set and cpu; its pod's interface counting the pings the node sent;
#      the node's containers by state; a container start, a reconciliation
#      and the rpc calls to the controller measured; berth_build_info
#   3. the controller's: nodes by phase, workloads by kind, placement and
#      store commits measured, the calls it served by method and code
#   4. HTTP: HEAD, /, 404 for another path, 405 for another method
#   5. a real Prometheus server in the same namespace scraping both every
#      second: the pod's working set and the Ready nodes read back through
#      its query API
#   6. an agent whose metrics port is taken runs on without /metrics
#      (saying so), its node Ready
#
#   metrics-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../../lib/fleet.sh"

fleet_e2e_init
for tool in promtool prometheus curl jq; do
	if ! command -v $tool >/dev/null; then
		echo "SKIP: $tool is not installed (Debian packages prometheus, curl, jq)"
		exit 77
	fi
done
if ! net_init 10.213.91; then
	echo "SKIP: cannot make network namespaces (ip netns)"
	exit 77
fi
PROM_PID=
holder=
metrics_cleanup() {
	local p
	for p in $PROM_PID $holder; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	fleet_cleanup
}
trap metrics_cleanup EXIT

AGENT=127.0.0.1:7422
CTL=127.0.0.1:7104
net_add m1 11 || exit 1
FLEET_CTL_NETNS=$(net_ns m1)
ctl_start || exit 1
node_start m1 "$(net_ns m1)"
wait_until 30 nodes_ready 1 || bad "node m1 Ready: $(bctl get nodes 2>&1)"

# get URL: the body, from inside the namespace
get() {
	net_run m1 curl -sS --max-time 5 "$@"
}
# value TEXT SERIES: the value of the sample whose name{labels} is SERIES
value() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $NF; exit }' <<<"$1"
}

scenario "a Deployment on the node, pinged"
fleet_manifest Deployment web 1 >"$FLEET_DIR/web.yaml"
out=$(bctl apply -f "$FLEET_DIR/web.yaml" --wait --wait-timeout 60s 2>&1)
contains "web runs" "web: 1/1 running" "$out"
pod=$(deploy_pod web 0)
ip=$(bctl get pods -o wide | awk -v p="$pod" '$1 == p { print $6 }')
net_run m1 busybox ping -c 3 -i 0.2 -W 2 "$ip" >/dev/null && ok "the node pings $pod at $ip" ||
	bad "ping $pod at $ip"

# --- 1. the texts -----------------------------------------------------------------------

scenario "1. promtool check metrics"
agent=$(get "http://$AGENT/metrics")
ctl=$(get "http://$CTL/metrics")
for who in agent ctl; do
	text=${!who}
	lint=$(promtool check metrics <<<"$text" 2>&1)
	expect "$who: promtool check metrics passes, nothing to say" "0:" "$?:$lint"
done

# --- 2. the agent's ---------------------------------------------------------------------

scenario "2. the agent's figures"
ct="{namespace=\"default\",pod=\"$pod\",container=\"web\",name=\"$pod\""
ws=$(grep "^container_memory_working_set_bytes$ct," <<<"$agent")
# id: its cgroup, in its pod's
contains "working set with cAdvisor's labels" "id=\"/berth-fleet-$FLEET_TAG-m1/$pod/$pod\",image=\"bb\"} " \
	"$ws"
[ "${ws##* }" -gt 0 ] 2>/dev/null && ok "the working set is bytes (${ws##* })" || bad "working set: [$ws]"
for m in container_cpu_usage_seconds_total container_memory_usage_bytes container_memory_rss \
	container_spec_memory_limit_bytes container_start_time_seconds container_last_seen \
	container_threads container_oom_events_total; do
	grep -q "^$m$ct," <<<"$agent" && ok "$m of $pod" || bad "no $m of $pod"
done
rx=$(value "$agent" "container_network_receive_packets_total{namespace=\"default\",pod=\"$pod\",interface=\"eth0\"}")
[ "${rx:-0}" -ge 3 ] && ok "its pod's eth0 received the pings ($rx packets)" ||
	bad "container_network_receive_packets_total of $pod: [$rx]"
expect "one pod interface series (not one per container)" 1 \
	"$(grep -c '^container_network_transmit_bytes_total{' <<<"$agent")"
expect "one container running" 1 "$(value "$agent" 'berth_node_containers{state="running"}')"
expect "a container start measured" 1 "$(value "$agent" berth_container_start_duration_seconds_count)"
n=$(value "$agent" berth_agent_reconcile_duration_seconds_count)
[ "${n:-0}" -ge 1 ] && ok "reconciliations measured ($n)" || bad "reconcile count [$n]"
n=$(value "$agent" 'berth_rpc_client_call_seconds_count{method="berth.v1.Controller/Register",code="OK"}')
expect "its Register measured" 1 "$n"
expect "no frame dropped" 0 "$(value "$agent" 'berth_rpc_frames_dropped_total{reason="bad-auth"}')"
version=$("$FLEET_BIN_AGENT" --version | awk '{ print $2 }')
expect "berth_build_info" 1 "$(value "$agent" "berth_build_info{version=\"$version\"}")"

# a pull from a registry that is not there: counted as failed, and timed
cat >"$FLEET_DIR/nopull.yaml" <<-'YAML'
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: nopull}
	spec:
	  replicas: 1
	  selector: {matchLabels: {app: nopull}}
	  template:
	    metadata: {labels: {app: nopull}}
	    spec:
	      containers:
	      - {name: nopull, image: '127.0.0.1:5999/nothing:1'}
YAML
bctl apply -f "$FLEET_DIR/nopull.yaml" >/dev/null
pull_failed() {
	[ "$(value "$(get "http://$AGENT/metrics")" 'berth_image_pulls_total{result="failed"}')" -ge 1 ]
}
wait_until 30 pull_failed && ok "a failed pull counted" ||
	bad "pulls: $(get "http://$AGENT/metrics" | grep '^berth_image_pull')"
agent=$(get "http://$AGENT/metrics")
n=$(value "$agent" berth_image_pull_duration_seconds_count)
[ "${n:-0}" -ge 1 ] && ok "its duration measured" || bad "pull durations [$n]"
bctl delete nopull >/dev/null

# --- 3. the controller's ----------------------------------------------------------------

scenario "3. the controller's figures"
expect "one Ready node" 1 "$(value "$ctl" 'berth_controller_nodes{phase="Ready"}')"
expect "no Down node" 0 "$(value "$ctl" 'berth_controller_nodes{phase="Down"}')"
expect "one Deployment" 1 "$(value "$ctl" 'berth_controller_workloads{kind="Deployment"}')"
expect "one replica wanted, none pending" "1 0" \
	"$(value "$ctl" berth_controller_replicas_desired) $(value "$ctl" berth_controller_replicas_pending)"
n=$(value "$ctl" berth_controller_placement_duration_seconds_count)
[ "${n:-0}" -ge 1 ] && ok "placements measured ($n)" || bad "placements [$n]"
n=$(value "$ctl" 'berth_controller_store_commit_duration_seconds_bucket{le="+Inf"}')
[ "${n:-0}" -ge 1 ] && ok "store commits measured ($n)" || bad "commits [$n]"
n=$(value "$ctl" 'berth_rpc_server_handling_seconds_count{method="berth.v1.Controller/Apply",code="OK"}')
expect "the Apply it served" 1 "$n"
expect "berth_build_info" 1 "$(value "$ctl" "berth_build_info{version=\"$version\"}")"

# --- 4. HTTP ----------------------------------------------------------------------------

scenario "4. HTTP"
expect "HEAD /metrics" 200 "$(get -o /dev/null -w '%{http_code}' -I "http://$AGENT/metrics")"
contains "/ links to /metrics" '<a href="/metrics">' "$(get "http://$CTL/")"
expect "another path: 404" 404 "$(get -o /dev/null -w '%{http_code}' "http://$AGENT/debug")"
expect "another method: 405" "405 GET, HEAD" "$(get -o /dev/null -w '%{http_code} %header{allow}' \
	-X POST -d x "http://$CTL/metrics")"
contains "Content-Type" "text/plain; version=0.0.4; charset=utf-8" \
	"$(get -o /dev/null -w '%{content_type}' "http://$AGENT/metrics")"

# --- 5. Prometheus -----------------------------------------------------------------------

scenario "5. a Prometheus server scraping both"
mkdir -p "$FLEET_DIR/prom"
cat >"$FLEET_DIR/prom/prometheus.yml" <<-YAML
	global: {scrape_interval: 1s, scrape_timeout: 1s}
	scrape_configs:
	- job_name: berthd
	  static_configs: [{targets: ['$AGENT']}]
	- job_name: berth-controller
	  static_configs: [{targets: ['$CTL']}]
YAML
# (nsenter execs prometheus: $! is its pid, ours to stop)
nsenter --net="/run/netns/$(net_ns m1)" prometheus --config.file="$FLEET_DIR/prom/prometheus.yml" \
	--storage.tsdb.path="$FLEET_DIR/prom/data" --web.listen-address=127.0.0.1:9090 \
	>"$FLEET_DIR/prom/log" 2>&1 &
PROM_PID=$!
# query PROMQL: the first result's value ("" none)
query() {
	get -G "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
have() {
	[ -n "$(query "$1")" ]
}
wait_until 60 have "container_memory_working_set_bytes{pod=\"$pod\"}" ||
	bad "Prometheus has no working set of $pod: $(tail -5 "$FLEET_DIR/prom/log")"
v=$(query "container_memory_working_set_bytes{namespace=\"default\",pod=\"$pod\",container=\"web\"}")
[ "${v:-0}" -gt 0 ] 2>/dev/null && ok "Prometheus: $pod's working set ($v bytes)" ||
	bad "Prometheus: working set [$v]"
# (each target has its own offset in the interval)
both_up() {
	[ "$(query 'sum(up)')" = 2 ]
}
wait_until 20 both_up && ok "Prometheus: both targets up" || bad "up: $(query 'sum(up)')"
expect "Prometheus: Ready nodes" 1 "$(query 'berth_controller_nodes{phase="Ready"}')"
wait_until 20 have "rate(container_cpu_usage_seconds_total{pod=\"$pod\"}[5s])" &&
	ok "Prometheus: a cpu rate of $pod" || bad "no cpu rate of $pod"
kill -TERM "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null
PROM_PID=

# --- 6. a taken port --------------------------------------------------------------------

scenario "6. the agent's port taken: it runs without /metrics"
node_kill m1 TERM
# (every address of the namespace, port 7422: 127.0.0.1's too)
nsenter --net="/run/netns/$(net_ns m1)" busybox nc -l -p 7422 </dev/null >/dev/null 2>&1 &
holder=$!
port_taken() {
	net_run m1 ss -Hltn 'sport = :7422' | grep -q LISTEN
}
wait_until 10 port_taken || bad "nc did not take the port"
node_start m1
wait_until 20 grep -q "running without /metrics" "$FLEET_DIR/m1/log" &&
	ok "berthd says it runs without /metrics" ||
	bad "no word of the taken port: $(tail -3 "$FLEET_DIR/m1/log")"
contains "why" "metrics endpoint: listen on 127.0.0.1:7422: Address already in use" \
	"$(grep 'running without /metrics' "$FLEET_DIR/m1/log")"
sleep 2
[ -n "$(node_pid m1)" ] && kill -0 "$(node_pid m1)" 2>/dev/null && ok "berthd runs on" ||
	bad "berthd stopped"
wait_until 20 nodes_ready 1 && ok "its node Ready" || bad "node: $(bctl get nodes 2>&1)"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=

check_summary
