#!/usr/bin/env bash
# deploy/install.sh staged into a directory (--destdir): the binaries, the
# units with this installation's paths, the configuration kept on a second
# run, and the state directories' modes.
#
#   install-test.sh BUILD_DIR
set -u
. "$(dirname "$0")/../../lib/check.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=$1
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
D=$(mktemp -d /tmp/berth-install-test.XXXXXX)
trap 'rm -rf "$D"' EXIT
inst() { BUILD_DIR=$build "$top/deploy/install.sh" "$@" --destdir "$D" --no-build --prefix /opt/berth; }

out=$(inst all 2>&1)
expect "install all succeeds" "0" "$?"
for b in berthd berth-monitor berth-pull berth-cni berth-controller berthctl; do
	expect "$b installed, executable" "yes" "$(test -x "$D/opt/berth/bin/$b" && echo yes)"
done
expect "berthd's unit runs the installed berthd" \
	"ExecStart=/opt/berth/bin/berthd -c /etc/berth/agent.yaml" \
	"$(grep '^ExecStart=' "$D/etc/systemd/system/berthd.service")"
expect "berthd's unit leaves the containers alone" "KillMode=process" \
	"$(grep '^KillMode=' "$D/etc/systemd/system/berthd.service")"
expect "the controller's unit runs the installed controller" \
	"ExecStart=/opt/berth/bin/berth-controller" \
	"$(grep '^ExecStart=' "$D/etc/systemd/system/berth-controller.service")"
expect "agent.yaml installed, private" "600" "$(stat -c %a "$D/etc/berth/agent.yaml")"
expect "the agent's state directory is private" "700" "$(stat -c %a "$D/var/lib/berth/agent")"
expect "the examples are installed" "yes" \
	"$(test -f "$D/opt/berth/share/doc/berth/examples/hello.yaml" && echo yes)"
"$D/opt/berth/bin/berthd" --check-config -c "$D/etc/berth/agent.yaml" \
	--monitor "$D/opt/berth/bin/berth-monitor" >/dev/null
expect "the installed agent.yaml passes berthd --check-config" "0" "$?"

echo "# mine" >>"$D/etc/berth/agent.yaml"
out=$(inst agent 2>&1)
expect "installing again succeeds" "0" "$?"
expect "a changed configuration is kept" "# mine" "$(tail -1 "$D/etc/berth/agent.yaml")"
expect "... the new default beside it" "yes" "$(test -f "$D/etc/berth/agent.yaml.new" && echo yes)"

out=$(inst 2>&1)
expect "no role is a usage error" "2" "$?"

check_summary
