#!/usr/bin/env bash
# Install berth on a machine of a real fleet from its Debian packages, with
# apt, so the libraries they need come from Debian's archive: nothing is
# compiled on the machine. As root.
#
#   deploy/install.sh agent        a node: berth-agent and berthctl
#   deploy/install.sh controller   the controller: berth-controller and berthctl
#   deploy/install.sh all          all three on one machine
#
# The packages are built first (deploy/build-packages.sh into BUILD_DIR,
# default build-packages, which needs the build dependencies:
# deploy/install-deps.sh) unless given:
#   --debs DIR      the packages in DIR (built elsewhere: one machine builds,
#                   every machine installs), or .deb files as arguments
#   --no-build      the packages BUILD_DIR's last build made
# Options:
#   --destdir DIR   only unpack the packages' files under DIR (dpkg-deb -x;
#                   for a look, and tests): no maintainer script runs,
#                   nothing is installed, started or reloaded
#   --enable        also enable and start the services (systemctl)
#
# An upgrade keeps a configuration the operator changed (the new default
# goes beside it as .dpkg-dist), and restarts a running berthd alone: the
# containers keep running. Nothing is started unless told to (--enable).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
destdir=
build=${BUILD_DIR:-build-packages}
debdir=
files=()
do_build=1
enable=0
role=

die() {
	echo "install.sh: $*" >&2
	exit 1
}
usage() {
	sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}
while [ $# -gt 0 ]; do
	case "$1" in
	agent | controller | all) role=$1 ;;
	*.deb) files+=("$1") ;;
	--debs) debdir=${2:?--debs needs a directory}; shift ;;
	--debs=*) debdir=${1#*=} ;;
	--destdir) destdir=${2:?--destdir needs a directory}; shift ;;
	--destdir=*) destdir=${1#*=} ;;
	--no-build) do_build=0 ;;
	--enable) enable=1 ;;
	--prefix | --prefix=*) die "--prefix is gone: the packages install under /usr" ;;
	-h | --help) usage 0 ;;
	*) echo "install.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done
[ -n "$role" ] || { echo "install.sh: say what to install: agent, controller or all" >&2; exit 2; }
case "$build" in /*) ;; *) build=$top/$build ;; esac
[ -n "$destdir" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or unpack with --destdir)"
[ -z "$destdir" ] || [ $enable -eq 0 ] || die "--enable makes no sense with --destdir"

packages=(berthctl)
[ "$role" = controller ] || packages+=(berth-agent)
[ "$role" = agent ] || packages+=(berth-controller)

if [ ${#files[@]} -eq 0 ]; then
	if [ -z "$debdir" ]; then
		debdir=$build/packages
		if [ $do_build -eq 1 ]; then
			"$top/deploy/install-deps.sh"
			command -v dpkg-shlibdeps >/dev/null && command -v file >/dev/null ||
				{ apt-get update -qq && apt-get install -y -qq dpkg-dev file >/dev/null; }
			echo "==> building the packages in $build (deploy/build-packages.sh)"
			BUILD_DIR=$build "$top/deploy/build-packages.sh" "$debdir" >/dev/null
		fi
	fi
	for p in "${packages[@]}"; do
		found=("$debdir/${p}"_*.deb)
		[ -e "${found[0]}" ] || die "no ${p}_*.deb in $debdir"
		[ ${#found[@]} -eq 1 ] || die "several ${p}_*.deb in $debdir: name the one to install"
		files+=("${found[0]}")
	done
fi
debs=()
for f in "${files[@]}"; do
	[ -f "$f" ] || die "$f: no such package"
	case "$f" in /*) debs+=("$f") ;; *) debs+=("$PWD/$f") ;; esac
done

if [ -n "$destdir" ]; then
	mkdir -p "$destdir"
	for f in "${debs[@]}"; do
		echo "==> unpacking $(basename "$f") under $destdir"
		dpkg-deb -x "$f" "$destdir"
	done
	exit 0
fi

echo "==> apt-get install ${debs[*]##*/}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# confold: a configuration file the operator changed is kept.
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${debs[@]}"

if [ $enable -eq 1 ]; then
	[ -d /run/systemd/system ] || die "--enable: systemd is not running here"
	[ "$role" = agent ] || systemctl enable --now berth-controller.service
	[ "$role" = controller ] || systemctl enable --now berthd.service
fi

echo
echo "Next:"
if [ "$role" != agent ]; then
	cat <<-EOF
		  on the controller:  systemctl enable --now berth-controller
		                      (it writes /var/lib/berth/controller/controller.pub and, the first
		                      time, the admin operator key admin.key beside it)
		                      berthctl join-token          # one per node to add
	EOF
fi
if [ "$role" != controller ]; then
	cat <<-EOF
		  on each node:       copy the controller's controller.pub to /etc/berth/controller.pub,
		                      set controller.address and join_token in /etc/berth/agent.yaml
		                      (berthd --check-config checks it), then
		                      systemctl enable --now berthd
		                      berthctl image import busybox DIR|TARBALL
	EOF
fi
