#!/usr/bin/env bash
# Install berth on a machine of a real fleet: binaries, systemd units, the
# configuration and the state directories. Run it on every machine, as root,
# from a clone of the repository.
#
#   deploy/install.sh agent        a node: berthd, berth-monitor, berth-pull, berth-cni, berthctl
#   deploy/install.sh controller   the controller: berth-controller, berthctl
#   deploy/install.sh all          both on one machine
#
# Options:
#   --prefix DIR    where binaries go (default /usr/local: DIR/bin)
#   --destdir DIR   stage everything under DIR instead of / (packaging,
#                   tests); nothing is started or reloaded then
#   --no-build      install what BUILD_DIR (default build-release) holds
#   --enable        also enable and start the units (systemctl)
#
# It never overwrites a configuration that exists (a new default goes beside
# it as .new) and never starts anything unless told to (--enable).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=/usr/local
destdir=
build=${BUILD_DIR:-build-release}
do_build=1
enable=0
role=

die() {
	echo "install.sh: $*" >&2
	exit 1
}
usage() {
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}
while [ $# -gt 0 ]; do
	case "$1" in
	agent | controller | all) role=$1 ;;
	--prefix) prefix=${2:?--prefix needs a directory}; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	--destdir) destdir=${2:?--destdir needs a directory}; shift ;;
	--destdir=*) destdir=${1#*=} ;;
	--no-build) do_build=0 ;;
	--enable) enable=1 ;;
	-h | --help) usage 0 ;;
	*) echo "install.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
	shift
done
[ -n "$role" ] || { echo "install.sh: say what to install: agent, controller or all" >&2; exit 2; }
case "$prefix" in /*) ;; *) die "--prefix must be absolute" ;; esac
case "$build" in /*) ;; *) build=$top/$build ;; esac
[ -n "$destdir" ] || [ "$(id -u)" -eq 0 ] || die "run as root (or stage with --destdir)"
[ -z "$destdir" ] || [ $enable -eq 0 ] || die "--enable makes no sense with --destdir"

agent=0
controller=0
[ "$role" = controller ] || agent=1
[ "$role" = agent ] || controller=1

if [ $do_build -eq 1 ]; then
	"$top/deploy/install-deps.sh"
	echo "==> building into $build"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
	cmake --build "$build" -j "$(nproc)" >/dev/null
fi

root=${destdir:-}
bin=$prefix/bin
echo "==> binaries into $root$bin"
install -d -m 0755 "$root$bin"
install -m 0755 "$build/scheduler-stub/berthctl" "$root$bin/berthctl"
if [ $agent -eq 1 ]; then
	install -m 0755 "$build/agent/berthd" "$root$bin/berthd"
	install -m 0755 "$build/agent/berth-monitor" "$root$bin/berth-monitor"
	install -m 0755 "$build/agent/berth-pull" "$root$bin/berth-pull"
	install -m 0755 "$build/agent/berth-cni" "$root$bin/berth-cni"
fi
[ $controller -eq 0 ] || install -m 0755 "$build/scheduler-stub/berth-controller" \
	"$root$bin/berth-controller"
install -d -m 0755 "$root$prefix/share/doc/berth"
install -m 0644 "$top/README.md" "$root$prefix/share/doc/berth/README.md"
install -d -m 0755 "$root$prefix/share/doc/berth/examples"
install -m 0644 "$top"/deploy/examples/*.yaml "$root$prefix/share/doc/berth/examples/"

# A configuration file: installed when missing, else offered beside it.
install_config() { # SOURCE TARGET MODE
	if [ -e "$2" ] && ! cmp -s "$1" "$2"; then
		install -m "$3" "$1" "$2.new"
		echo "    kept $2 (the new default is $2.new)"
	else
		install -m "$3" "$1" "$2"
	fi
}

# Units with the paths of this installation.
install_unit() { # NAME
	local unit=$root/etc/systemd/system/$1
	sed -e "s|/usr/local/bin/|$bin/|g" -e "s|/usr/local/share/doc/|$prefix/share/doc/|g" \
		"$top/deploy/systemd/$1" >"$unit.tmp"
	chmod 0644 "$unit.tmp"
	mv "$unit.tmp" "$unit"
}

echo "==> systemd units and configuration"
install -d -m 0755 "$root/etc/systemd/system" "$root/etc/berth"
if [ $agent -eq 1 ]; then
	install_unit berthd.service
	install_config "$top/deploy/agent.yaml" "$root/etc/berth/agent.yaml" 0600
	install -d -m 0700 "$root/var/lib/berth" "$root/var/lib/berth/agent" "$root/var/lib/berth/images"
fi
if [ $controller -eq 1 ]; then
	install_unit berth-controller.service
	install -d -m 0700 "$root/var/lib/berth" "$root/var/lib/berth/controller"
fi

if [ -n "$destdir" ]; then
	echo "==> staged under $destdir"
	exit 0
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ $enable -eq 1 ]; then
		[ $controller -eq 0 ] || systemctl enable --now berth-controller.service
		[ $agent -eq 0 ] || systemctl enable --now berthd.service
	fi
fi

echo
echo "Next:"
if [ $controller -eq 1 ]; then
	cat <<-EOF
		  on the controller:  systemctl enable --now berth-controller
		                      (it writes /var/lib/berth/controller/controller.pub and, the first
		                      time, the admin operator key admin.key beside it)
		                      berthctl join-token          # one per node to add
	EOF
fi
if [ $agent -eq 1 ]; then
	cat <<-EOF
		  on each node:       copy the controller's controller.pub to /etc/berth/controller.pub,
		                      set controller.address and join_token in /etc/berth/agent.yaml
		                      (berthd --check-config checks it), then
		                      systemctl enable --now berthd
		                      berthctl image import busybox DIR|TARBALL
	EOF
fi
