#!/usr/bin/env bash
# deploy/install.sh with the packages of the test's build (cpack, from the
# binaries already built), unpacked into directories (--destdir): what each
# role gets, the binaries under /usr/bin, the units naming them, the
# configuration private and valid, and the usage errors. Installing them
# for real, upgrading and purging: tests/integration/package.
#
#   install-test.sh BUILD_DIR
set -u
. "$(dirname "$0")/../../lib/check.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=$1
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
D=$(mktemp -d /tmp/berth-install-test.XXXXXX)
trap 'rm -rf "$D"' EXIT

# The packages of this build, made elsewhere than the build directory;
# quickly: neither compressed nor given their dependencies (dpkg-shlibdeps:
# the package test checks those).
debs=$D/debs
(cd "$D" && cpack --config "$build/CPackConfig.cmake" -B "$D/cpack" \
	-D CPACK_OUTPUT_FILE_PREFIX="$debs" -D CPACK_DEBIAN_COMPRESSION_TYPE=none \
	-D CPACK_DEBIAN_PACKAGE_SHLIBDEPS=OFF >"$D/cpack.log" 2>&1)
rc=$?
expect "cpack makes the packages of the build" "0" "$rc"
[ $rc -eq 0 ] || tail -20 "$D/cpack.log"
expect "... three of them" "berth-agent berth-controller berthctl" \
	"$(ls "$debs" | sed 's/_.*//' | tr '\n' ' ' | sed 's/ $//')"
inst() { "$top/deploy/install.sh" "$@" --debs "$debs"; }

out=$(inst all --destdir "$D/all" 2>&1)
expect "install all succeeds" "0" "$?"
for b in berthd berth-monitor berth-pull berth-cni berth-controller berthctl; do
	expect "$b unpacked, executable" "yes" "$(test -x "$D/all/usr/bin/$b" && echo yes)"
done
expect "berthd's unit runs the packaged berthd" \
	"ExecStart=/usr/bin/berthd -c /etc/berth/agent.yaml" \
	"$(grep '^ExecStart=' "$D/all/lib/systemd/system/berthd.service")"
expect "berthd's unit leaves the containers alone" "KillMode=process" \
	"$(grep '^KillMode=' "$D/all/lib/systemd/system/berthd.service")"
expect "the controller's unit runs the packaged controller" \
	"ExecStart=/usr/bin/berth-controller" \
	"$(grep '^ExecStart=' "$D/all/lib/systemd/system/berth-controller.service")"
expect "no unit names /usr/local" "2 0" \
	"$(ls "$D"/all/lib/systemd/system/*.service | wc -l) $(cat "$D"/all/lib/systemd/system/*.service | grep -c /usr/local)"
expect "agent.yaml unpacked, private" "600" "$(stat -c %a "$D/all/etc/berth/agent.yaml")"
expect "the examples are unpacked" "yes" \
	"$(test -f "$D/all/usr/share/doc/berthctl/examples/hello.yaml" && echo yes)"
"$D/all/usr/bin/berthd" --check-config -c "$D/all/etc/berth/agent.yaml" \
	--monitor "$D/all/usr/bin/berth-monitor" >/dev/null
expect "the packaged agent.yaml passes berthd --check-config" "0" "$?"

out=$(inst agent --destdir "$D/agent" 2>&1)
expect "install agent succeeds" "0" "$?"
expect "... a node gets berthd and berthctl, not the controller" "berth-cni berth-monitor berth-pull berthctl berthd" \
	"$(ls "$D/agent/usr/bin" | tr '\n' ' ' | sed 's/ $//')"
out=$(inst controller --destdir "$D/controller" 2>&1)
expect "install controller succeeds" "0" "$?"
expect "... the controller gets berth-controller and berthctl" "berth-controller berthctl" \
	"$(ls "$D/controller/usr/bin" | tr '\n' ' ' | sed 's/ $//')"
expect "... and no agent.yaml" "no" \
	"$(test -e "$D/controller/etc/berth/agent.yaml" && echo yes || echo no)"
out=$("$top/deploy/install.sh" agent --destdir "$D/files" "$debs"/berthctl_*.deb 2>&1)
expect "packages named as arguments are what is installed" "berthctl" "$(ls "$D/files/usr/bin")"

out=$(inst 2>&1)
expect "no role is a usage error" "2" "$?"
out=$(inst agent --prefix /opt 2>&1)
contains "--prefix is refused, saying why" "the packages install under /usr" "$out"
out=$(inst agent --destdir "$D/x" --enable 2>&1)
contains "--enable with --destdir is refused" "--enable makes no sense with --destdir" "$out"
out=$("$top/deploy/install.sh" agent --destdir "$D/x" --debs "$D" 2>&1)
contains "a directory without the packages is refused" "no berthctl_*.deb in $D" "$out"

check_summary
