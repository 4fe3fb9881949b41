# A three-member etcd cluster on loopback for the benchmarks (sourced):
#
#   bench_etcd_up DIR   members e1..e3 with their data under DIR, on free
#                       loopback ports; BENCH_ETCD is their client URLs
#   bench_etcd_down     stop them (by pid) and remove DIR
#
# Members run with etcd's defaults but for the limits berth's transactions
# need (a whole placement is one transaction).

# A loopback port nothing listens on (and none given out before), in REPLY.
bench_etcd_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		case " ${BENCH_ETCD_TAKEN:-} " in *" $p "*) continue ;; esac
		ss -Hltn "sport = :$p" | grep -q . && continue
		BENCH_ETCD_TAKEN="${BENCH_ETCD_TAKEN:-} $p"
		REPLY=$p
		return
	done
}

bench_etcd_up() {
	local i cluster="" urls="" ports=()
	BENCH_ETCD_DIR=$1
	BENCH_ETCD_PIDS=()
	mkdir -p "$BENCH_ETCD_DIR"
	for i in 1 2 3; do
		bench_etcd_port
		ports+=("$REPLY")
		bench_etcd_port
		ports+=("$REPLY")
	done
	for i in 1 2 3; do
		cluster+="${cluster:+,}e$i=http://127.0.0.1:${ports[$((2 * i - 1))]}"
		urls+="${urls:+,}http://127.0.0.1:${ports[$((2 * i - 2))]}"
	done
	for i in 1 2 3; do
		etcd --name e$i --data-dir "$BENCH_ETCD_DIR/e$i" \
			--listen-client-urls "http://127.0.0.1:${ports[$((2 * i - 2))]}" \
			--advertise-client-urls "http://127.0.0.1:${ports[$((2 * i - 2))]}" \
			--listen-peer-urls "http://127.0.0.1:${ports[$((2 * i - 1))]}" \
			--initial-advertise-peer-urls "http://127.0.0.1:${ports[$((2 * i - 1))]}" \
			--initial-cluster "$cluster" --initial-cluster-token "bench-$$" \
			--max-txn-ops 65536 --max-request-bytes 33554432 \
			>"$BENCH_ETCD_DIR/e$i.log" 2>&1 &
		BENCH_ETCD_PIDS+=($!)
	done
	BENCH_ETCD=$urls
	for i in $(seq 1 100); do
		etcdctl --endpoints "$BENCH_ETCD" endpoint health >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "bench: etcd did not come up (see $BENCH_ETCD_DIR/e*.log)" >&2
	return 1
}

bench_etcd_down() {
	local p
	for p in "${BENCH_ETCD_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BENCH_ETCD_PIDS=()
	rm -rf "$BENCH_ETCD_DIR"
}
