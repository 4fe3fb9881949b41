#!/usr/bin/env bash
# Install every build, run and test dependency of berth from Debian's archive.
#
# Idempotent and quiet: when everything is already installed it prints nothing
# and touches nothing (no apt-get update). Used by tests/run.sh, the quickstart
# and CI. Must run as root when something is missing.
#
#   deploy/install-deps.sh            build + run + test dependencies
#   deploy/install-deps.sh --bench    also the references benchmarks compare with
#   deploy/install-deps.sh --fuzz     also clang + libFuzzer for the fuzz targets
set -euo pipefail

packages=(
	# build
	gcc make cmake pkg-config
	# the C library's headers and libc.a (netprobe, a test probe that runs
	# inside busybox containers, is linked statically)
	libc6-dev
	# CronJobs' time zones: the controller reads /usr/share/zoneinfo
	tzdata
	protobuf-c-compiler libprotobuf-c-dev
	libnanomsg-dev libseccomp-dev libcap-dev libyaml-dev
	libsodium-dev libsqlite3-dev
	libcurl4-openssl-dev libarchive-dev libjansson-dev
	libmnl-dev libnftables-dev
	# sd_notify for Type=notify units
	libsystemd-dev
	# the daemons' /metrics endpoint (an HTTP server on their loop)
	libmicrohttpd-dev
	# pod network tests read the rules back with nft
	nftables
	# CNI tests: the standard plugins
	containernetworking-plugins
	# unit tests (check links against subunit)
	check libsubunit-dev
	# run: the example image, network namespaces, process tools
	busybox-static iproute2 procps util-linux sqlite3
	# berthctl image import: tar and its decompressors
	tar gzip xz-utils zstd bzip2
	# image tests: their own registries (TLS from a CA they make, htpasswd
	# basic auth, a token server), test images built with umoci and skopeo
	docker-registry umoci skopeo apache2-utils openssl ca-certificates jq curl
	# the man pages' and the completion's test: groff renders the pages,
	# bash-completion loads the completion
	groff-base man-db bash-completion
	# the metrics test: promtool, and a real Prometheus scraping the daemons
	prometheus
	# several controllers on one fleet: etcd (the tests start their own
	# members; etcdctl reads what berth wrote)
	etcd-server etcd-client
	# the packages' test: they are built (dpkg-shlibdeps, file) and installed
	# into a Debian root made for it
	dpkg-dev file debootstrap
)

for arg in "$@"; do
	case "$arg" in
	--bench) packages+=(crun conmon hyperfine) ;;
	--fuzz) packages+=(clang libclang-rt-14-dev) ;;
	-h | --help)
		sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install-deps.sh: unknown option '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: missing packages: ${missing[*]}" >&2
	echo "install-deps.sh: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2> >(grep -v "^debconf: delaying" >&2)

# Debian's etcd-server starts a member of its own on 127.0.0.1:2379 where
# systemd runs. berth starts the members it uses (tests, quickstart ha):
# one installed here for that is not left running.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
	systemctl disable --now etcd.service >/dev/null 2>&1 || true
	echo "install-deps.sh: etcd-server installed, its default etcd.service disabled" >&2
fi
