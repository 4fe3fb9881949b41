#!/bin/sh
# Devices in a container through `berthctl run --device` (issue 24): a host
# device node of the test's own (mknod), /dev/fuse where the host has it,
# and CDI devices from spec files the test writes. The container sees its
# devices, can open them, and cannot open any other device; the device
# cgroup rule holds (v1 devices.list here; v2's program is checked by what
# it lets through, in the VM). Bad input fails with a clear message and
# leaves nothing behind. POSIX sh: it also runs inside the cgroup v2 VM.
#
#   devices-test.sh BERTHCTL ROOTFS
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
BERTHCTL=$1
ROOTFS=$2
PARENT=/berth-devtest-$$
W=$(mktemp -d /tmp/berth-devices-test.XXXXXX)

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (namespaces, cgroups, mknod)"
    exit 77
fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then CGV=2; else CGV=1; fi
echo "cgroup v$CGV host; berthctl=$BERTHCTL rootfs=$ROOTFS"

# ok, bad, expect, contains, lacks (in the VM: beside this script)
. "${BERTH_CHECK_SH:-$(dirname "$0")/../../lib/check.sh}"
run() {
    "$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" "$@" >"$W/out" 2>"$W/err"
    RC=$?
    OUT=$(cat "$W/out")
    ERR=$(cat "$W/err")
}
leftovers() {
    if [ $CGV = 2 ]; then
        find /sys/fs/cgroup$PARENT -mindepth 1 -type d 2>/dev/null
    else
        for h in /sys/fs/cgroup/*/; do
            find "$h${PARENT#/}" -mindepth 1 -type d 2>/dev/null
        done
    fi
    wc -l </proc/self/mountinfo
}
cleanup() {
    if [ $CGV = 2 ]; then
        rmdir /sys/fs/cgroup$PARENT 2>/dev/null
    else
        for h in /sys/fs/cgroup/*/; do rmdir "$h${PARENT#/}" 2>/dev/null; done
    fi
    rm -rf "$W"
}
trap cleanup EXIT
before=$(leftovers)

# The test's own device: a node made here for the TUN driver's number
# (misc 10:200), which opens without privileges. Another of the same
# driver (10:229 fuse) and one of another (1:11 kmsg) must stay closed.
mkdir -p "$W/dev" "$W/cdi" "$W/cdi2" "$W/share"
mknod "$W/dev/berth-test0" c 10 200
chmod 0600 "$W/dev/berth-test0"
echo hello-from-the-host >"$W/share/hello"
# open DEV: the shell's open for read and write, then its verdict
OPEN='for d in "$@"; do if (exec 3<>"$d") 2>/dev/null; then echo "$d:open"; else echo "$d:refused"; fi; done'

# --- a host device by path --------------------------------------------------
run --device "$W/dev/berth-test0:/dev/mytun" -- /bin/sh -c \
    'ls -ln /dev/mytun; mknod /tmp/fuse c 10 229; mknod /tmp/kmsg c 1 11; mknod /tmp/tun2 c 10 200;
     set -- /dev/mytun /tmp/fuse /tmp/kmsg /tmp/tun2 /dev/null; '"$OPEN"
expect "--device HOST:CONTAINER runs" 0 "$RC"
contains "... the node is there with the host node's number" "10, 200" "$OUT"
contains "... and the host node's mode" "crw-------" "$OUT"
contains "... it opens" "/dev/mytun:open" "$OUT"
contains "... another device of the same driver stays closed" "/tmp/fuse:refused" "$OUT"
contains "... a device of another driver stays closed" "/tmp/kmsg:refused" "$OUT"
contains "... the same device by another node opens (the rule is the number)" "/tmp/tun2:open" "$OUT"
contains "... the standard devices still open" "/dev/null:open" "$OUT"

run --device "$W/dev/berth-test0:/dev/ro:r" -- /bin/sh -c \
    'if (exec 3</dev/ro) 2>/dev/null; then echo r:open; else echo r:refused; fi;
     if (exec 3<>/dev/ro) 2>/dev/null; then echo rw:open; else echo rw:refused; fi'
expect "--device HOST:CONTAINER:r: read opens, write does not" "r:open rw:refused" "$(echo $OUT)"

run -- /bin/sh -c 'ls /dev; mknod /tmp/tun c 10 200; set -- /tmp/tun; '"$OPEN"
lacks "without --device the container has no such node" "mytun" "$OUT"
contains "... and cannot open the device" "/tmp/tun:refused" "$OUT"

if [ $CGV = 1 ]; then
    "$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" --name devlist \
        --device "$W/dev/berth-test0:/dev/mytun:rw" -- \
        /bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1 &
    bpid=$!
    i=0
    list=/sys/fs/cgroup/devices$PARENT/devlist/devices.list
    until [ -f $list ] || [ $i -ge 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    rules=$(cat $list 2>/dev/null)
    contains "v1: devices.list allows the device as asked" "c 10:200 rw" "$rules"
    lacks "... and nothing else of its driver" "c 10:229" "$rules"
    lacks "... and no wildcard access" "a *:* rwm" "$rules"
    kill -TERM $bpid
    wait $bpid
fi

if [ -c /dev/fuse ]; then
    run --device /dev/fuse -- /bin/sh -c 'ls -ln /dev/fuse; set -- /dev/fuse; '"$OPEN"
    contains "--device /dev/fuse: there as on the host" "10, 229" "$OUT"
    contains "... and opens" "/dev/fuse:open" "$OUT"
else
    echo "skip /dev/fuse: the host has none"
fi

# --- CDI devices --------------------------------------------------------------
cat >"$W/cdi/vendor.yaml" <<EOF
cdiVersion: "0.6.0"
kind: berth.test/dev
containerEdits:
  env: [BERTH_KIND=berth.test/dev]
devices:
  - name: d0
    containerEdits:
      env: [BERTH_DEV=d0]
      deviceNodes:
        - path: /dev/berth/d0
          hostPath: $W/dev/berth-test0
          fileMode: 0640
          uid: 1000
          gid: 1001
          permissions: rw
      mounts:
        - hostPath: $W/share
          containerPath: /opt/share
          options: [ro, nosuid, nodev, bind]
  - name: d1
    containerEdits:
      env: [BERTH_DEV=d1]
      deviceNodes:
        - path: /dev/berth/d1
          hostPath: $W/dev/berth-test0
EOF
# a JSON spec of another kind, tab-indented
printf '{\n\t"cdiVersion": "0.5.0",\n\t"kind": "berth.test/json",\n\t"devices": [{\n\t\t"name": "j0",\n\t\t"containerEdits": {"env": ["J=0"], "deviceNodes": [{"path": "/dev/j0", "hostPath": "%s", "type": "c", "major": 10, "minor": 200}]}\n\t}]\n}\n' \
    "$W/dev/berth-test0" >"$W/cdi/json.json"
CDI="--cdi-spec-dir $W/cdi"

run $CDI --device berth.test/dev=d0 -- /bin/sh -c \
    'echo "$BERTH_KIND $BERTH_DEV"; ls -ln /dev/berth/; cat /opt/share/hello;
     echo x >/opt/share/new 2>/dev/null || echo share:read-only; set -- /dev/berth/d0; '"$OPEN"
expect "CDI device by name runs" 0 "$RC"
contains "... its env and its spec's" "berth.test/dev d0" "$OUT"
contains "... its node with the spec's mode and owner" "crw-r----- 1 1000 1001 10, 200 " "$(echo $OUT)"
lacks "... only the device asked for" " d1" "$OUT"
contains "... its mount" "hello-from-the-host" "$OUT"
contains "... read-only as the spec says" "share:read-only" "$OUT"
contains "... it opens" "/dev/berth/d0:open" "$OUT"

run $CDI --device berth.test/dev=all -- /bin/sh -c 'ls /dev/berth; echo "$BERTH_DEV"'
expect "=all: every device of the kind" "d0 d1 d1" "$(echo $OUT)"
run $CDI --device berth.test/json=j0 -- /bin/sh -c 'echo "J=$J"; ls -ln /dev/j0'
contains "a JSON spec (tab-indented) too" "J=0" "$OUT"
contains "... its node" "10, 200" "$OUT"

# --- hooks, at runtime-spec's points ------------------------------------------
H=$W/hooks
mkdir -p "$H" "$W/cdi-hooks"
hook() { # hook NAME SCRIPT: a hook entry running the host's (or, for
    # startContainer, the container's) sh
    printf '        - {hookName: %s, path: /bin/sh, args: [sh, -c, %s], env: [HOOKDIR=%s]}\n' \
        "$1" "'$2'" "$H"
}
{
    printf 'cdiVersion: "0.6.0"\nkind: berth.test/hooked\ndevices:\n  - name: h0\n'
    printf '    containerEdits:\n      deviceNodes: [{path: /dev/h0, hostPath: %s}]\n' \
        "$W/dev/berth-test0"
    printf '      hooks:\n'
    hook createRuntime 'cat >"$HOOKDIR/createRuntime.json"'
    # (the container's /dev is a tmpfs over the rootfs's, in its own
    # mount namespace only)
    hook createContainer 'cat >/dev/null; ls -d '"$ROOTFS"'/dev/h0 >"$HOOKDIR/createContainer.dev" 2>&1'
    # the bundle's config.json names the root (NVIDIA's hooks read it)
    hook createContainer 'b=$(sed -n "s/.*\"bundle\":\"\([^\"]*\)\".*/\1/p"); cat "$b/config.json" >"$HOOKDIR/config.json"'
    hook createContainer 'exit 0' # reads nothing of its state: no SIGPIPE
    hook startContainer 'cat >/tmp/startContainer.json; grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status >/tmp/startContainer.status'
    hook poststart 'cat >"$HOOKDIR/poststart.json"'
    hook poststart 'echo the poststart hook fails >&2; exit 4'
    hook poststop 'cat >"$HOOKDIR/poststop.json"'
} >"$W/cdi-hooks/hooked.yaml"
run --cdi-spec-dir "$W/cdi-hooks" --name hooked --device berth.test/hooked=h0 -- /bin/sh -c \
    'cat /tmp/startContainer.json /tmp/startContainer.status'
expect "a device with hooks runs" 0 "$RC"
contains "... a failing poststart hook is a warning" \
    "warning: poststart: hook /bin/sh: exit status 4: the poststart hook fails" "$ERR"
contains "createContainer: the bundle's config.json names the root" \
    "\"root\":{\"path\":\"$ROOTFS\"" "$(cat "$H/config.json" 2>&1)"
expect "... and the bundle is gone with the container" "" "$(ls /run/berth/run/hooked 2>&1 | grep -v 'No such')"
contains "startContainer: with the container's capabilities, not the runtime's" \
    "$(printf 'CapEff:\t00000000a80425fb')" "$OUT"
contains "... its seccomp filter and no_new_privs" "$(printf 'NoNewPrivs:\t1')" "$OUT"
contains "createRuntime: the state on stdin" '"id":"hooked","status":"creating","pid":' \
    "$(cat "$H/createRuntime.json" 2>&1)"
expect "createContainer: in the container's mount namespace, before pivot_root" \
    "$ROOTFS/dev/h0" "$(cat "$H/createContainer.dev" 2>&1)"
lacks "... which the host does not see" "h0" "$(ls "$ROOTFS/dev" 2>&1)"
contains "startContainer: in the container, before the command" '"status":"created"' "$OUT"
contains "poststart: after the start" '"status":"running"' "$(cat "$H/poststart.json" 2>&1)"
contains "poststop: once it is removed" '"status":"stopped"' "$(cat "$H/poststop.json" 2>&1)"
{
    printf 'cdiVersion: "0.6.0"\nkind: berth.test/hookfail\ndevices:\n  - name: f0\n'
    printf '    containerEdits:\n      env: [F=0]\n      hooks:\n'
    hook createRuntime 'echo the hook says no >&2; exit 3'
    hook poststop 'cat >"$HOOKDIR/failed-poststop.json"'
    printf 'cdiVersion: "0.6.0"\nkind: berth.test/hookslow\ndevices:\n  - name: s0\n' >"$W/cdi-hooks/slow.yaml"
} >"$W/cdi-hooks/fail.yaml"
printf '    containerEdits:\n      env: [S=0]\n      hooks:\n' >>"$W/cdi-hooks/slow.yaml"
printf '        - {hookName: createContainer, path: /bin/sleep, args: [sleep, "30"], timeout: 1}\n' \
    >>"$W/cdi-hooks/slow.yaml"
run --cdi-spec-dir "$W/cdi-hooks" --name hookfail --device berth.test/hookfail=f0 -- /bin/true
expect "a failing createRuntime hook fails the run" 125 "$RC"
contains "... with its exit status and stderr" "createRuntime: hook /bin/sh: exit status 3: the hook says no" "$ERR"
contains "... its poststop hooks still run" '"id":"hookfail","status":"stopped"' \
    "$(cat "$H/failed-poststop.json" 2>&1)"
expect "... and its bundle is gone" "" "$(ls /run/berth/run/hookfail 2>&1 | grep -v 'No such')"
{
    printf 'cdiVersion: "0.6.0"\nkind: berth.test/startfail\ndevices:\n  - name: x0\n'
    printf '    containerEdits:\n      env: [X=0]\n      hooks:\n'
    hook startContainer 'umask >/tmp/umask; echo started no >&2; exit 5'
    hook poststop 'cat >"$HOOKDIR/startfail-poststop.json"'
} >"$W/cdi-hooks/startfail.yaml"
run --cdi-spec-dir "$W/cdi-hooks" --name startfail --device berth.test/startfail=x0 -- /bin/true
expect "a failing startContainer hook fails the run" 125 "$RC"
contains "... saying so" "startContainer: hook /bin/sh: exit status 5: started no" "$ERR"
contains "... and its poststop hooks run" '"id":"startfail","status":"stopped"' \
    "$(cat "$H/startfail-poststop.json" 2>&1)"
run --cdi-spec-dir "$W/cdi-hooks" --device berth.test/hookslow=s0 -- /bin/true
contains "a hook past its timeout is killed and fails the run" "still running after its timeout of 1 s" "$ERR"

# --- bad input: a clear message, nothing started -----------------------------
run --device /dev/nonexistent-device -- /bin/true
expect "a missing host device fails before anything starts" 125 "$RC"
contains "... saying so" "/dev/nonexistent-device" "$ERR"
run --device /etc/passwd -- /bin/true
contains "a file that is no device is refused" "is not a device" "$ERR"
run --device /dev/null:/dev/x:rwz -- /bin/true
contains "bad permissions are refused" "rwm" "$ERR"
run $CDI --device berth.test/dev=nope -- /bin/true
expect "an unknown CDI device fails" 125 "$RC"
contains "... naming it" "unresolvable CDI device berth.test/dev=nope" "$ERR"
run $CDI --device other.test/dev=x -- /bin/true
contains "an unknown CDI kind fails" "unresolvable CDI device other.test/dev=x" "$ERR"

mkdir -p "$W/bad"
printf 'cdiVersion: "0.6.0"\nkind: berth.test/bad\ndevices:\n  - name: b0\n    containerEdits: {env: [B=0]\n' >"$W/bad/a-syntax.yaml"
printf 'cdiVersion: "0.7.0"\nkind: berth.test/new\ndevices:\n  - name: n0\n    containerEdits: {env: [N=0]}\n' >"$W/bad/b-version.yaml"
printf 'cdiVersion: "0.6.0"\nkind: berth.test/dup\ndevices:\n  - name: x\n    containerEdits: {env: [DUP=first]}\n' >"$W/bad/c-first.yaml"
printf 'cdiVersion: "0.6.0"\nkind: berth.test/dup\ndevices:\n  - name: x\n    containerEdits: {env: [DUP=second]}\n  - name: y\n    containerEdits: {env: [DUP=y]}\n' >"$W/bad/d-second.yaml"
BAD="--cdi-spec-dir $W/bad"
run $BAD --device berth.test/bad=b0 -- /bin/true
contains "a spec with a syntax error is ignored, with where" "a-syntax.yaml:" "$ERR"
run $BAD --device berth.test/new=n0 -- /bin/true
contains "an unknown CDI version is ignored, saying so" "0.7.0" "$ERR"
run $BAD --device berth.test/dup=x -- /bin/sh -c 'echo $DUP'
expect "a device two files define: the first file's" "first" "$OUT"
run $BAD --device berth.test/dup=y -- /bin/true
contains "... the second file is ignored whole" "unresolvable CDI device berth.test/dup=y" "$ERR"
contains "... naming both files" "c-first.yaml" "$ERR"

expect "nothing left behind at the end" "$before" "$(leftovers)"
check_summary
