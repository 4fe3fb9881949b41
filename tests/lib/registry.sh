# Registries for tests: Debian's docker-registry on 127.0.0.1, started on
# a free port. Sourced by bash tests; they set W (their temporary
# directory) and PIDS (what their cleanup kills) before calling.

# A free port on 127.0.0.1 (the registry start checks it really got it).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Hltn "sport = :$p" | grep -q . || break
	done
	echo "$p"
}

# start_registry NAME CONFIG_BODY: a registry on a free port of 127.0.0.1,
# its storage and log under $W/NAME; sets PORT_NAME and PID_NAME. The
# config body is YAML with @PORT@ and @DIR@ in it.
start_registry() {
	local name=$1 body=$2 port pid try scheme=http
	case "$body" in *tls:*) scheme=https ;; esac
	mkdir -p "$W/$name"
	for try in 1 2 3 4 5; do
		port=${FIXED_PORT:-$(free_port)}
		echo "$body" | sed "s|@PORT@|$port|g; s|@DIR@|$W/$name|g" >"$W/$name/config.yml"
		docker-registry serve "$W/$name/config.yml" >>"$W/$name/log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" && break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			eval "PORT_$name=$port PID_$name=$pid"
			return 0
		fi
		[ -n "${FIXED_PORT:-}" ] && break
	done
	echo "could not start registry $name: $(tail -3 "$W/$name/log")"
	exit 1
}


# A registry beside a fleet (tests/lib/fleet.sh, after fleet_init): W under
# its directory, and on exit the registries killed (resumed first, if a
# test stopped one) before the fleet is cleaned up.
registry_with_fleet() {
	W=$FLEET_DIR/registry
	PIDS=()
	mkdir -p "$W"
	trap registry_fleet_cleanup EXIT
}
registry_fleet_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	fleet_cleanup
}
