#!/bin/sh
# Integration test of `berthctl run` on a busybox rootfs, asserting what an
# operator sees: output, exit codes, error texts, cgroup files, and that
# nothing is left behind. POSIX sh (busybox ash too): it also runs inside the
# cgroup v2 VM.
#
#   run-test.sh BERTHCTL ROOTFS [NETPROBE]
#
# NETPROBE (netprobe.c, static) serves and probes published ports.
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
BERTHCTL=$1
ROOTFS=$2
NETPROBE=${3:-}
PARENT=/berth-test-$$
W=$(mktemp -d /tmp/berth-run-test.XXXXXX)
pass=0
failed=0

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (namespaces, cgroups, mounts)"
    exit 77
fi

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CGV=2
    CG_MEM=/sys/fs/cgroup/memory.max
    CG_PIDS=/sys/fs/cgroup/pids.max
    CG_PIDS_CUR=/sys/fs/cgroup/pids.current
    CG_CPU=/sys/fs/cgroup/cpu.max
else
    CGV=1
    CG_MEM=/sys/fs/cgroup/memory/memory.limit_in_bytes
    CG_PIDS=/sys/fs/cgroup/pids/pids.max
    CG_PIDS_CUR=/sys/fs/cgroup/pids/pids.current
    CG_CPU=/sys/fs/cgroup/cpu/cpu.cfs_quota_us
fi
echo "cgroup v$CGV host; berthctl=$BERTHCTL rootfs=$ROOTFS"

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
}
# expect NAME WANT GOT
expect() {
    if [ "$3" = "$2" ]; then ok "$1"; else bad "$1: want [$2] got [$3]"; fi
}
# contains NAME NEEDLE HAYSTACK
contains() {
    case "$3" in
    *"$2"*) ok "$1" ;;
    *) bad "$1: [$2] not in [$3]" ;;
    esac
}
lacks() {
    case "$3" in
    *"$2"*) bad "$1: [$2] unexpectedly in [$3]" ;;
    *) ok "$1" ;;
    esac
}

# run ARGS... : berthctl run under the test's cgroup parent; sets OUT ERR RC
run() {
    "$BERTHCTL" run --cgroup-parent "$PARENT" "$@" >"$W/out" 2>"$W/err"
    RC=$?
    OUT=$(cat "$W/out")
    ERR=$(cat "$W/err")
}
runr() {
    run --rootfs "$ROOTFS" "$@"
}

# What a start may leave behind: cgroups under the parent, mounts here.
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

# --- inside the container -------------------------------------------------
runr --hostname box -- /bin/sh -c 'echo pid=$$; hostname; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status'
expect "runs and exits 0" 0 "$RC"
contains "command is pid 1" "pid=1" "$OUT"
contains "hostname as asked" "box" "$OUT"
contains "Docker's default capabilities" "$(printf 'CapEff:\t00000000a80425fb')" "$OUT"
contains "no_new_privs set" "$(printf 'NoNewPrivs:\t1')" "$OUT"
contains "seccomp filter on" "$(printf 'Seccomp:\t2')" "$OUT"

runr -- /bin/sh -c 'ls /proc | grep -c "^[0-9]"'
expect "no host process visible (only sh and its ls/grep)" 1 "$([ "${OUT:-99}" -le 3 ] && echo 1 || echo "$OUT")"

runr -- /bin/sh -c 'stat -f -c %T /proc; cat /proc/1/cmdline | tr "\0" " "'
contains "/proc is a fresh procfs" "proc" "$OUT"
contains "/proc shows the container's pid 1" "/bin/sh -c" "$OUT"

runr -- /bin/sh -c 'cat /proc/kcore >/dev/null 2>&1 && echo kcore-readable; cat /proc/keys >/dev/null 2>&1 && echo keys-readable; echo done'
expect "masked /proc files cannot be read" "done" "$OUT"

runr -- /bin/sh -c 'mount -t tmpfs x /mnt'
expect "mount fails" 1 "$([ "$RC" -ne 0 ] && echo 1)"
contains "mount fails with EPERM" "ermission denied" "$ERR"
runr -- /bin/sh -c 'unshare -m true'
contains "unshare -m fails with EPERM" "Operation not permitted" "$ERR"
runr -- /bin/sh -c 'echo x >/proc/sys/kernel/domainname'
contains "/proc/sys is read-only" "Read-only file system" "$ERR"
runr -- /bin/sh -c 'echo 1 >/sys/kernel/uevent_helper'
expect "/sys is read-only" 1 "$([ "$RC" -ne 0 ] && echo 1)"

runr -- /bin/sh -c 'n=0; for f in /proc/self/fd/*; do n=$((n+1)); done; echo fds=$n'
expect "no host fd leaks into the container (0,1,2 and the glob's dir)" "fds=4" "$OUT"

# --- limits ---------------------------------------------------------------
runr --memory 64Mi --pids 100 --cpus 0.5 -- /bin/sh -c "cat $CG_MEM $CG_PIDS $CG_CPU"
if [ $CGV = 2 ]; then want_cpu="50000 100000"; else want_cpu=50000; fi
expect "limits visible in the container's cgroup files" \
    "$(printf '67108864\n100\n%s' "$want_cpu")" "$OUT"

runr --memory 16Mi -- /bin/sh -c 'exec tail /dev/zero'
expect "memory hog exits 137" 137 "$RC"
contains "OOM kill reported" "was OOM-killed (memory limit 16Mi)" "$ERR"

# The bomb forks until the limit refuses (the shell running it then gives
# up); its children stay, and pids.events counts the refusals.
runr --pids 20 -- /bin/sh -c 'sh -c "while :; do sleep 30 & done" 2>/dev/null; read n <'"$CG_PIDS_CUR"'; echo "pids=$n"; cat '"${CG_PIDS%.max}"'.events'
pids=$(echo "$OUT" | sed -n 's/^pids=//p')
refused=$(echo "$OUT" | sed -n 's/^max //p')
expect "fork bomb stops at the pids limit of 20" yes "$([ "${pids:-0}" -ge 18 ] && [ "${pids:-99}" -le 20 ] && echo yes || echo "pids=$pids")"
expect "the pids limit refused forks" yes "$([ "${refused:-0}" -ge 1 ] && echo yes || echo "max=$refused")"
expect "host still forks after the bomb" ok "$(sh -c 'echo ok')"

# --- exit codes and errors --------------------------------------------------
runr -- /bin/true
expect "exit 0" 0 "$RC"
runr -- /bin/sh -c 'exit 3'
expect "exit 3" 3 "$RC"
# pid 1 ignores signals from inside its namespace: kill it from the host.
"$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" -- /bin/sh -c 'echo ready; sleep 100' \
    >"$W/k9" 2>&1 &
bpid=$!
i=0
while ! grep -q ready "$W/k9" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for s in /proc/[0-9]*/stat; do
    set -- $(cat "$s" 2>/dev/null)
    [ "${4:-}" = "$bpid" ] && kill -9 "$1"
done
wait $bpid
expect "killed by signal 9 exits 137" 137 "$?"

runr -- /nonexistent
expect "missing binary exits 127" 127 "$RC"
contains "missing binary error" "exec /nonexistent: No such file or directory" "$ERR"
run --rootfs /nonexistent-rootfs -- /bin/true
expect "missing rootfs exits 125" 125 "$RC"
contains "missing rootfs error" "rootfs /nonexistent-rootfs: No such file or directory" "$ERR"
runr --memory 64Mx -- /bin/true
expect "bad quantity exits 2" 2 "$RC"
contains "bad quantity error" "memory quantity '64Mx': unknown suffix 'Mx'" "$ERR"
runr --memory 1Mi -- /bin/true
contains "spec validation names the field" "spec.resources.memory_bytes: 1Mi is below the minimum of 4Mi" "$ERR"
runr -w /proc/self/fd/3 -- /bin/true
expect "working directory through a leaked fd is refused (CVE-2024-21626)" 125 "$RC"
contains "workdir error names it" "working directory: resolve /proc/self/fd/3" "$ERR"
expect "failed starts leave no cgroup and no mount" "$before" "$(leftovers)"

# --- CVE-2019-5736: /proc/self/exe reaches only the sealed stub -----------
runr -- /proc/self/exe
expect "entrypoint /proc/self/exe runs the sealed stub, not a host binary" 127 "$RC"
contains "the stub answered" "berth-exec: the last step of a berth container start" "$ERR"
printf '#!/proc/self/exe\n' >"$W/evil"
chmod 755 "$W/evil"
runr -v "$W/evil:/evil:ro" -- /evil
contains "a #! to /proc/self/exe runs the sealed stub" "berth-exec: the last step" "$ERR"

# --- devices ----------------------------------------------------------------
rootdev=$(stat -c '%d' /)
major=$((rootdev >> 8))
minor=$((rootdev & 255))
runr -- /bin/sh -c "mknod /dev/hostdisk b $major $minor && echo mknod-ok; head -c 512 /dev/hostdisk | wc -c"
contains "mknod of the host disk is allowed (CAP_MKNOD)" "mknod-ok" "$OUT"
contains "but reading it is not ($major:$minor)" "Operation not permitted" "$ERR"
runr -- /bin/sh -c 'head -c 4 /dev/urandom | wc -c; echo x >/dev/null && echo null-ok'
expect "standard devices work" "$(printf '4\nnull-ok')" "$OUT"

# --- stdio, signals -------------------------------------------------------
OUT=$(echo hello-stdin | "$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" -- /bin/cat)
expect "stdin passes through" hello-stdin "$OUT"
"$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" -- /bin/sh -c \
    'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done' >"$W/sig" 2>&1 &
bpid=$!
i=0
while ! grep -q ready "$W/sig" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $bpid
wait $bpid
RC=$?
expect "SIGTERM forwarded, container's exit code returned" 42 "$RC"
contains "container saw SIGTERM" got-term "$(cat "$W/sig")"

# --- filesystem options ---------------------------------------------------
runr --read-only --tmpfs /scratch:1Mi -- /bin/sh -c 'touch /x 2>&1; touch /scratch/y && echo tmpfs-ok; df -k /scratch | tail -1'
contains "read-only root" "Read-only file system" "$OUT"
contains "tmpfs writable" tmpfs-ok "$OUT"
contains "tmpfs size" " 1024 " "$OUT"
mkdir -p "$W/vol"
runr -v "$W/vol:/data" -- /bin/sh -c 'echo hi >/data/f'
expect "rw volume writes reach the host" hi "$(cat "$W/vol/f" 2>/dev/null)"
runr -v "$W/vol:/data:ro" -- /bin/sh -c 'echo no >/data/g'
contains "ro volume" "Read-only file system" "$ERR"
runr -v "/nonexistent-src:/data" -- /bin/true
contains "missing volume source" "spec.mounts[0]: bind source /nonexistent-src: No such file or directory" "$ERR"

runr -v "$W/vol:/data" -- /bin/sh -c 'grep " /data " /proc/self/mountinfo'
contains "bind mounts are nosuid" "nosuid" "$OUT"
contains "bind mounts are nodev" "nodev" "$OUT"

# --- terminals: the container gets no controlling terminal (no TIOCSTI) -------
if command -v script >/dev/null 2>&1 && script --version 2>&1 | grep -q util-linux; then
    OUT=$(script -qec "$BERTHCTL run --cgroup-parent $PARENT --rootfs $ROOTFS -- /bin/sh -c 'cat /dev/tty </dev/null'" /dev/null 2>&1)
    contains "no controlling terminal inside, even from a terminal" "No such device or address" "$OUT"
else
    echo "skip no-controlling-terminal check: util-linux script(1) is not here"
fi

# --- users and capabilities -------------------------------------------------
runr --user 1000:1001 -- /bin/sh -c 'id -u; id -g; grep CapEff /proc/self/status'
expect "user switch" "$(printf '1000\n1001\nCapEff:\t0000000000000000')" "$OUT"
runr --user 1000 -- /bin/sh -c 'echo x >/dev/null && echo x >/dev/full; ls -l /dev/null'
contains "a non-root user can write /dev/null (and /dev/full says ENOSPC)" "No space left on device" "$ERR"
contains "device nodes are 0666" "crw-rw-rw-" "$OUT"
# A foreground container dies with berthctl, whatever its user.
"$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" --name orphan-check --user 1000 -- \
    /bin/sh -c 'echo ready; sleep 100' >"$W/orphan" 2>&1 &
bpid=$!
i=0
while ! grep -q ready "$W/orphan" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $bpid
wait $bpid 2>/dev/null
sleepers() {
    for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' <"$f" 2>/dev/null; echo; done | grep -c '^sleep 100 '
}
i=0
while [ "$(sleepers)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect "killing berthctl run -9 kills its container (also as --user 1000)" 0 "$(sleepers)"
# berthctl could not clean up after SIGKILL: the (empty) cgroup is ours to remove.
if [ $CGV = 2 ]; then rmdir "/sys/fs/cgroup$PARENT/orphan-check" 2>/dev/null; else
    for h in /sys/fs/cgroup/*/; do rmdir "$h${PARENT#/}/orphan-check" 2>/dev/null; done; fi
runr --cap-drop ALL --cap-add NET_BIND_SERVICE -- /bin/sh -c 'grep CapEff /proc/self/status'
expect "cap-drop ALL + add" "$(printf 'CapEff:\t0000000000000400')" "$OUT"
runr --cap-add NOT_A_CAP -- /bin/true
contains "unknown capability" "spec.capabilities.add[0]: capability 'NOT_A_CAP' is unknown" "$ERR"
runr --userns 100000:65536 -- /bin/sh -c 'cat /proc/self/uid_map; id -u'
contains "user namespace maps" "100000" "$OUT"
contains "root inside the user namespace" "0" "$OUT"
runr --net host -- /bin/sh -c 'ls /sys/class/net | wc -l'
expect "host network" 1 "$([ "${OUT:-0}" -ge 1 ] && echo 1)"
runr -- /bin/sh -c 'ls /sys/class/net'
expect "own network namespace: only lo" lo "$OUT"
runr --ulimit nofile=123:456 -- /bin/sh -c 'ulimit -n'
expect "rlimit" 123 "$OUT"

# --- overlay: an image shared by two containers ---------------------------
mkdir -p "$W/images"
cp -a "$ROOTFS" "$W/images/bb"
run --image bb --image-store "$W/images" --state-dir "$W/state-a" -- /bin/sh -c \
    'echo a >/written-by-a; cat /written-by-a'
expect "overlay container writes" a "$OUT"
run --image bb --image-store "$W/images" --state-dir "$W/state-b" -- /bin/sh -c \
    'test -e /written-by-a && echo visible || echo invisible'
expect "writes of one container are invisible to the next" invisible "$OUT"
expect "the image is untouched" no "$(test -e "$W/images/bb/written-by-a" && echo yes || echo no)"
expect "the writable layer is removed" no "$(test -e "$W/state-a/upper" && echo yes || echo no)"
cp -a "$ROOTFS" "$W/images/bb:1"
run --image "bb:1" --image-store "$W/images" --state-dir "$W/state-t" -- /bin/sh -c 'echo tagged'
expect "an image name with ':' mounts as one layer" tagged "$OUT"
run --image "../bb" --image-store "$W/images" -- /bin/true
contains "image names cannot leave the store" "image reference '../bb': registry host '..' is not valid" "$ERR"

# A second container with the id of a running one fails without touching it.
"$BERTHCTL" run --cgroup-parent "$PARENT" --image bb --image-store "$W/images" --state-dir "$W/state-d" \
    --name dup -- /bin/sh -c 'echo data >/kept; echo ready; sleep 3; cat /kept' >"$W/dup" 2>&1 &
bpid=$!
i=0
while ! grep -q ready "$W/dup" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
run --image bb --image-store "$W/images" --state-dir "$W/state-d" --name dup -- /bin/true
contains "a duplicate id is refused" "create cgroup $PARENT/dup: it exists already" "$ERR"
wait $bpid
expect "the running container's writable layer survived the duplicate" \
    "$(printf 'ready\ndata')" "$(cat "$W/dup")"

# A writable layer nested deeper than any recursion removes cleanly.
run --image bb --image-store "$W/images" --state-dir "$W/state-deep" -- /bin/sh -c \
    'cd /tmp; i=0; while [ $i -lt 400 ]; do mkdir d; cd d; i=$((i+1)); done; echo deep'
expect "a 400-level deep tree is made" deep "$OUT"
expect "and removed with the container" no "$(test -e "$W/state-deep" && echo yes || echo no)"

run --image nosuch --pull never --image-store "$W/images" --state-dir "$W/state-c" -- /bin/true
contains "missing image, never pulled" \
    "image nosuch is not present, and the pull policy is Never" "$ERR"
expect "no state dir left by a failed image start" no "$(test -e "$W/state-c" && echo yes || echo no)"

# --- published ports (-p) ---------------------------------------------------------
runr -p 80 -- /bin/true
contains "-p needs a host port" "expected [IP:]HOSTPORT:PORT[/tcp|udp]" "$ERR"
runr -p 8080:80/sctp -- /bin/true
contains "-p: tcp or udp" "protocol 'sctp' is not tcp or udp" "$ERR"
runr -p 8080:70000 -- /bin/true
contains "-p: a port is at most 65535" "'70000' is not a number in 0..65535" "$ERR"
runr -p 1.2.3:8080:80 -- /bin/true
contains "-p: an address" "'1.2.3' is not an IPv4 address" "$ERR"
runr --net host -p 8080:80 -- /bin/true
contains "-p needs the container's own network" "--publish needs the container's own network" "$ERR"
expect "... and nothing ran" "2" "$RC"
if [ -n "$NETPROBE" ]; then
    PORT=$((20000 + $$ % 20000))
    # The container has loopback only: the ports reach it through berthctl.
    "$BERTHCTL" run --cgroup-parent "$PARENT" --rootfs "$ROOTFS" --name pub \
        -v "$NETPROBE:/netprobe:ro" -p "127.0.0.1:$PORT:7000" -p "$PORT:7001/udp" -- /bin/sh -c \
        'trap "exit 3" TERM; /netprobe tcp-echo 7000 & /netprobe udp-echo 7001 & wait' \
        >"$W/pub" 2>&1 &
    bpid=$!
    i=0
    until "$NETPROBE" tcp-pump 127.0.0.1 $PORT 1 >/dev/null 2>&1 || [ $i -ge 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    expect "-p TCP: 20 MB there and back through the node's port, half-closed" \
        "20000000 match" "$("$NETPROBE" tcp-pump 127.0.0.1 $PORT 20000000 2>&1)"
    # (sizes where the server's close comes while the proxy still holds
    # its last bytes: they must follow)
    for size in 1000000 5000000 7; do
        expect "... $size bytes" "$size match" "$("$NETPROBE" tcp-pump 127.0.0.1 $PORT $size 2>&1)"
    done
    expect "-p UDP: a datagram there and its answer back" "echo:hi" \
        "$("$NETPROBE" udp-ask 127.0.0.1 $PORT hi 2>&1)"
    expect "... from two clients at once" "echo:one echo:two" \
        "$("$NETPROBE" udp-ask 127.0.0.1 $PORT one 2>&1) $("$NETPROBE" udp-ask 127.0.0.1 $PORT two 2>&1)"
    runr -p "127.0.0.1:$PORT:80" -- /bin/true
    contains "a port in use fails the run" "port 127.0.0.1:$PORT/tcp is already in use" "$ERR"
    expect "... before anything started" "125" "$RC"
    kill -TERM $bpid
    wait $bpid
    expect "the container's exit is run's" "3" "$?"
    "$NETPROBE" tcp-pump 127.0.0.1 $PORT 1 >/dev/null 2>&1
    expect "the port is closed with the container" "1" "$?"
fi

expect "nothing left behind at the end" "$before" "$(leftovers)"
echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
