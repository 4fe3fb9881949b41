#!/usr/bin/env bash
# Image pull benchmark: pull and unpack a multi-layer image of about 100 MB
# from a registry on 127.0.0.1, berth (`berthctl image pull`: download,
# verify, unpack each layer, record) against the same work done by the
# tools people use without a daemon (`skopeo copy` to an OCI layout, then
# `umoci unpack`), interleaved run by run. Prints figures, never a verdict.
#
#   bench-image.sh BUILD_DIR ROOTFS [RUNS]     (RUNS default 5)
#
# Starts its own docker-registry on a free loopback port and stops it by
# pid on every exit path; everything else lives in one temporary directory.
# Both write into a fresh ext4 file system (a loop device) that nothing
# else uses, each run into a new directory removed only at the end, after
# a sync: so neither pays for the other's dirty pages or deleted inodes
# (ext4 searching past recently deleted inodes was a third of a run's time
# on this machine's busy /tmp).
set -euo pipefail
build=$1
rootfs=$2
runs=${3:-5}
berthctl=$build/scheduler-stub/berthctl
for tool in docker-registry skopeo umoci openssl curl mkfs.ext4; do
	command -v "$tool" >/dev/null || {
		echo "bench-image: $tool is not installed (deploy/install-deps.sh)" >&2
		exit 1
	}
done

W=$(mktemp -d /tmp/berth-bench-image.XXXXXX)
REG_PID=
MOUNTED=
cleanup() {
	if [ -n "$REG_PID" ]; then
		kill "$REG_PID" 2>/dev/null || true
		wait "$REG_PID" 2>/dev/null || true
	fi
	[ -z "$MOUNTED" ] || umount "$W/fs" || umount -l "$W/fs" || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the registry and the image ----------------------------------------------
for try in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	ss -Hltn "sport = :$port" | grep -q . && continue
	cat >"$W/reg.yml" <<EOC
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/reg}}
http: {addr: "127.0.0.1:$port"}
EOC
	docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
	REG_PID=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
		sleep 0.05
	done
	kill -0 "$REG_PID" 2>/dev/null && break
	REG_PID=
done
[ -n "$REG_PID" ] || { echo "bench-image: could not start a registry" >&2; exit 1; }
REF=127.0.0.1:$port/bench/app:v1

# Bytes from a fixed seed: the same image every run and every machine.
bytes() { # bytes SEED SIZE (openssl dies of SIGPIPE when head has enough)
	(openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$1" </dev/zero 2>/dev/null || true) |
		head -c "$2"
}
umoci init --layout "$W/src" >/dev/null
umoci new --image "$W/src:app" >/dev/null
add_layer() {
	tar -C "$1" --numeric-owner -cf "$W/layer.tar" . &&
		umoci raw add-layer --image "$W/src:app" "$W/layer.tar" >/dev/null
}
add_layer "$rootfs"
# five layers of 20 MB: 400 text-like files of 24 KB (base64: they
# compress to about 3/4) and two 5 MB binary files (they do not)
for l in 1 2 3 4 5; do
	d=$W/l$l
	mkdir -p "$d/srv/app$l/lib" "$d/srv/app$l/share"
	bytes "text$l" $((400 * 18 * 1024)) | base64 -w 76 | split -b 24576 -a 3 - "$d/srv/app$l/share/f"
	bytes "bin$l-a" $((5 << 20)) >"$d/srv/app$l/lib/liba.so"
	bytes "bin$l-b" $((5 << 20)) >"$d/srv/app$l/lib/libb.so"
	add_layer "$d"
	rm -rf "$d"
done
umoci config --image "$W/src:app" --config.cmd /bin/true >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$W/src:app" "docker://$REF" >/dev/null
unpacked=$(du -sb --apparent-size "$rootfs" | cut -f1)
unpacked=$((unpacked + 5 * (400 * 24 * 1024 + (10 << 20))))
compressed=$(du -sb "$W/reg" | cut -f1)
rm -rf "$W/src" "$W/layer.tar"
: >"$W/registries.yaml"
truncate -s $(((runs + 2) * 512 + 1024))M "$W/fs.img"
mkfs.ext4 -q -F "$W/fs.img"
mkdir -p "$W/fs"
mount -o loop "$W/fs.img" "$W/fs"
MOUNTED=1

# ---- the runs, interleaved ------------------------------------------------------
now() { date +%s%N; }
run_berth() { # run_berth N
	local t0
	sync
	t0=$(now)
	"$berthctl" image pull "$REF" --image-store "$W/fs/berth$1" --registries "$W/registries.yaml" >/dev/null
	echo $(($(now) - t0))
}
run_ref() { # run_ref N
	local t0 t1
	mkdir -p "$W/fs/ref$1"
	sync
	t0=$(now)
	skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$W/fs/ref$1/oci:app" >/dev/null
	t1=$(now)
	umoci unpack --image "$W/fs/ref$1/oci:app" "$W/fs/ref$1/bundle" >/dev/null 2>&1
	echo "$((t1 - t0)) $(($(now) - t1))"
}
berth=()
ref=()
copy=()
unpack=()
run_berth 0 >/dev/null # warm both the registry's page cache and the binaries
run_ref 0 >/dev/null
for i in $(seq "$runs"); do
	if [ $((i % 2)) -eq 1 ]; then
		berth+=("$(run_berth "$i")")
		read -r c u <<<"$(run_ref "$i")"
	else
		read -r c u <<<"$(run_ref "$i")"
		berth+=("$(run_berth "$i")")
	fi
	copy+=("$c")
	unpack+=("$u")
	ref+=("$((c + u))")
done
check=$(du -sb --apparent-size "$W/fs/berth1/layers" | cut -f1)

# ---- figures ----------------------------------------------------------------------
ms() { awk -v n="$1" 'BEGIN { printf "%.0f", n / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p90() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.9 + 0.999); if (i > NR) i = NR; print v[i] }'; }
list() { for v in "$@"; do printf '%s ' "$(ms "$v")"; done; }
mb=$(awk -v b="$unpacked" 'BEGIN { printf "%.0f", b / 1e6 }')
cmb=$(awk -v b="$compressed" 'BEGIN { printf "%.0f", b / 1e6 }')
echo "== image: pull and unpack of a 6-layer image, $mb MB unpacked ($cmb MB in the registry), loopback registry, $runs interleaved runs into a fresh ext4"
printf '   %-34s median %6s ms   p90 %6s ms   runs: %s\n' "berth (berthctl image pull)" \
	"$(ms "$(median "${berth[@]}")")" "$(ms "$(p90 "${berth[@]}")")" "$(list "${berth[@]}")"
printf '   %-34s median %6s ms   p90 %6s ms   runs: %s\n' "skopeo copy + umoci unpack" \
	"$(ms "$(median "${ref[@]}")")" "$(ms "$(p90 "${ref[@]}")")" "$(list "${ref[@]}")"
printf '   %-34s median %6s ms\n' "  of which skopeo copy" "$(ms "$(median "${copy[@]}")")"
printf '   %-34s median %6s ms\n' "  of which umoci unpack" "$(ms "$(median "${unpack[@]}")")"
awk -v b="$(median "${berth[@]}")" -v r="$(median "${ref[@]}")" \
	'BEGIN { printf "   ratio berth/reference (median)     %.2f   (target <= 0.70)\n", b / r }'
echo "   (berth unpacked $(awk -v b="$check" 'BEGIN { printf "%.0f", b / 1e6 }') MB into its layers)"
