#!/usr/bin/env bash
# berth's Debian packages on a clean Debian 12, as an operator meets them:
# built from this tree (deploy/build-packages.sh: the version git describe
# gives, then A and a higher B), installed with apt into a debootstrap'd
# root (their dependencies from Debian's archive, no compiler and no -dev
# package), run there as a one-node fleet with a container, upgraded to B
# under it (berthd restarted as systemd would: the container and its
# berth-monitor go on, the operator's agent.yaml stays), purged while the
# container runs (its state is kept, deploy/debian/berth-agent.postrm) and
# once it is gone (nothing of berth is left).
#
#   package-test.sh WORK_DIR
#
# WORK_DIR (the test's build directory) keeps what makes a second run fast:
# the packages' build tree (build/) and the debootstrap'd root as a tarball
# (bookworm-minbase.tar.zst; delete it to bootstrap again). The rest lives
# in a temporary directory, removed at the end with everything mounted in
# it. BERTH_DEBIAN_MIRROR changes the archive (default
# http://deb.debian.org/debian).
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
# check.sh, and wait_until and fleet_manifest of the fleet tests
. "$(dirname "$0")/../../lib/fleet.sh"
top=$(cd "$(dirname "$0")/../../.." && pwd)
work=${1:?usage: package-test.sh WORK_DIR}
case "$work" in /*) ;; *) work=$PWD/$work ;; esac
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (debootstrap, chroot, containers)"
	exit 77
fi
missing=
for tool in debootstrap dpkg-shlibdeps file zstd chroot findmnt flock ss /bin/busybox; do
	command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "FAIL missing:$missing (deploy/install-deps.sh installs debootstrap, dpkg-dev, file," \
		"zstd, util-linux, iproute2, busybox-static)"
	exit 1
fi

A=1.0.0
B=1.0.1
TAG=$$
CGROUP_PARENT=/berth-pkgtest-$TAG
T=$(mktemp -d /tmp/berth-package-test.XXXXXX)
ROOT=$T/root
AGENT_PID=
CTL_PID=
T0=$SECONDS
mkdir -p "$work" "$ROOT"

step() { echo "== $* (at $((SECONDS - T0))s)"; }
# A failure after which nothing else can be checked.
fatal() {
	bad "$1"
	check_summary
	exit 1
}

# A command in the root, with a clean environment.
inroot() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive NO_COLOR=1 BERTH_CONTROLLER="tcp://127.0.0.1:${PORT:-0}" "$@"
}
bctl() { inroot berthctl "$@"; }

# --- teardown: only what this test started or mounted ---------------------------

# Processes of ours besides the daemons' pids: whatever runs in the containers'
# cgroups (under our cgroup parent) or with our root (monitors, pauses).
our_processes() {
	local p r
	find /sys/fs/cgroup -path "*$CGROUP_PARENT/*" -name cgroup.procs -exec cat {} + 2>/dev/null
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case "$r" in "$ROOT" | "$ROOT"/*) echo "${p#/proc/}" ;; esac
	done
}
our_mounts() { # under $T: the root, and the systemd root of step 8
	findmnt -rn -o TARGET | awk -v r="$T" '$0 == r || index($0, r "/") == 1'
}
stop_pid() { # PID: SIGTERM, as systemd stops a unit; SIGKILL after 15 s
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_until 15 sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
teardown() {
	local c p m
	set +e
	stop_pid "$AGENT_PID"
	AGENT_PID=
	stop_pid "$CTL_PID"
	CTL_PID=
	# Containers left running: their monitors stop them.
	for c in "$ROOT"/var/lib/berth/agent/containers/*/; do
		[ -p "$c/control" ] && ! flock -n "$c/monitor.lock" true 2>/dev/null &&
			timeout 2 sh -c "echo 'stop 0' >'$c/control'" 2>/dev/null
	done
	for c in "$ROOT"/var/lib/berth/agent/containers/*/monitor.lock; do
		[ -e "$c" ] && wait_until 15 flock -n "$c" true
	done
	for p in $(our_processes | sort -u); do
		kill -KILL "$p" 2>/dev/null
	done
	[ -z "$(our_processes)" ] || sleep 1
	for m in $(our_mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	find /sys/fs/cgroup -depth -type d -path "*$CGROUP_PARENT*" -exec rmdir {} \; 2>/dev/null
	set -u
}
cleanup() {
	teardown
	if [ -n "$(our_mounts)" ]; then
		echo "mounts left under $ROOT: $(our_mounts | tr '\n' ' '); $T kept"
	elif [ "${failed:-0}" -gt 0 ] && [ -n "${BERTH_KEEP:-}" ]; then
		echo "kept $T"
	else
		rm -rf --one-file-system "$T"
	fi
}
trap cleanup EXIT

# --- 1. the packages ----------------------------------------------------------

step "the Debian version of each kind of build (cmake/DebianVersion.cmake)"
debver() { cmake -DDESCRIBED="$1" -DCOUNT=300 -P "$top/cmake/DebianVersion.cmake" 2>&1; }
for pair in 1.2.0=1.2.0 1.2.0-rc1=1.2.0~rc1 1.2.0-3-gabc1234=1.2.0+3.gabc1234 \
	1.2.0-dirty=1.2.0+0.dirty 1.2.0-3-gabc1234-dirty=1.2.0+3.gabc1234.dirty \
	0.1.0+gabc1234=0.1.0~git300.gabc1234 0.1.0+gabc1234-dirty=0.1.0~git300.gabc1234.dirty; do
	expect "git describe ${pair%%=*} packages as ${pair#*=}" "${pair#*=}" "$(debver "${pair%%=*}")"
done
# Each one after the one before, as their builds are.
order="0.1.0~git299.gfff 0.1.0~git300.gabc1234 0.1.0~git300.gabc1234.dirty 0.1.0 1.2.0~rc1
1.2.0~rc1+2.gabc 1.2.0 1.2.0+0.dirty 1.2.0+3.gabc1234 1.2.0+3.gabc1234.dirty 1.2.0+12.gabc 1.2.1"
prev=
for v in $order; do
	if [ -n "$prev" ]; then
		if dpkg --compare-versions "$prev" lt "$v"; then
			ok "$prev sorts before $v"
		else
			bad "$prev does not sort before $v"
		fi
	fi
	prev=$v
done

debs() { # VERSION [OUTDIR]: build the packages of VERSION ("" for git describe's)
	local t=$SECONDS out=$T/debs-${1:-git}
	if ! BUILD_DIR=$work/build BERTH_PACKAGE_VERSION=$1 \
		"$top/deploy/build-packages.sh" "$out" >"$T/build-${1:-git}.log" 2>&1; then
		cat "$T/build-${1:-git}.log"
		fatal "deploy/build-packages.sh builds the packages of version ${1:-from git}"
	fi
	ok "packages of version ${1:-from git} built in $((SECONDS - t))s"
}
step "building the packages (deploy/build-packages.sh; $work/build)"
debs ""
built=$("$work/build/agent/berthd" --version | awk '{ print $2 }')
git_deb=$(dpkg-deb -f "$T"/debs-git/berth-agent_*.deb Version)
expect "without a version given, the packages' is the binaries' ($built)" \
	"$(cmake -DDESCRIBED="$built" -P "$top/cmake/DebianVersion.cmake" 2>&1)" "$git_deb"
debs "$A"
debs "$B"
for p in berth-agent berth-controller berthctl; do
	expect "$p ${A} is built" "$A" "$(dpkg-deb -f "$T/debs-$A/${p}_${A}_amd64.deb" Version 2>&1)"
	expect "$p ${B} is built" "$B" "$(dpkg-deb -f "$T/debs-$B/${p}_${B}_amd64.deb" Version 2>&1)"
	deps=$(dpkg-deb -f "$T/debs-$A/${p}_${A}_amd64.deb" Depends)
	case "$deps" in
	*libc6*) ok "$p depends on its libraries: $deps" ;;
	*) bad "$p's Depends: [$deps]" ;;
	esac
	case "$deps" in *-dev*) bad "$p depends on a -dev package: $deps" ;; esac
	# opened with dlopen (lib/image/dl.h): named by hand, not by shlibdeps
	if [ "$p" != berth-controller ]; then
		case "$deps" in
		*libcurl4*libarchive13* | *libarchive13*libcurl4*) ok "$p depends on libcurl4 and libarchive13" ;;
		*) bad "$p does not depend on libcurl4 and libarchive13: $deps" ;;
		esac
	fi
	# every program of lib/rpc opens libnanomsg the same way (lib/rpc/nn-dl.h)
	case "$deps" in
	*libnanomsg5*) ok "$p depends on libnanomsg5" ;;
	*) bad "$p does not depend on libnanomsg5: $deps" ;;
	esac
done
expect "berth-agent.deb: the unit runs /usr/bin/berthd" \
	"ExecStart=/usr/bin/berthd -c /etc/berth/agent.yaml" \
	"$(dpkg-deb --fsys-tarfile "$T/debs-$A/berth-agent_${A}_amd64.deb" |
		tar -xOf - ./lib/systemd/system/berthd.service | grep '^ExecStart=')"
expect "berth-agent.deb: agent.yaml is a conffile" "/etc/berth/agent.yaml" \
	"$(dpkg-deb --ctrl-tarfile "$T/debs-$A/berth-agent_${A}_amd64.deb" | tar -xOf - ./conffiles)"
contains "berth-agent.deb: agent.yaml is private" "-rw------- root/root" \
	"$(dpkg-deb -c "$T/debs-$A/berth-agent_${A}_amd64.deb" | grep ' ./etc/berth/agent.yaml$')"

# --- 2. a clean Debian root -----------------------------------------------------

cache=$work/bookworm-minbase.tar.zst
step "a clean Debian 12 root ($ROOT)"
if [ -f "$cache" ]; then
	t=$SECONDS
	tar --zstd -C "$ROOT" --numeric-owner -xpf "$cache" ||
		fatal "unpack $cache (delete it to bootstrap again)"
	ok "the debootstrap'd root unpacked from $cache in $((SECONDS - t))s"
else
	t=$SECONDS
	if ! debootstrap --variant=minbase bookworm "$ROOT" "$mirror" >"$T/debootstrap.log" 2>&1; then
		tail -20 "$T/debootstrap.log"
		fatal "debootstrap --variant=minbase bookworm from $mirror"
	fi
	ok "debootstrap --variant=minbase bookworm in $((SECONDS - t))s"
	tar --zstd -C "$ROOT" --numeric-owner -cpf "$cache.tmp" . && mv "$cache.tmp" "$cache"
fi
# A production node's archive: the release, its updates and security.
base=${mirror%/}
cat >"$ROOT/etc/apt/sources.list" <<-EOF
	deb $base bookworm main
	deb $base bookworm-updates main
	deb ${base%/debian}/debian-security bookworm-security main
EOF
[ "$mirror" = http://deb.debian.org/debian ] || sed -i '/debian-security/d' "$ROOT/etc/apt/sources.list"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# What berthd needs of the machine: a root that is a mount point (a
# container's mounts are made private from "/", and pivot_root wants one),
# /proc, /sys with the cgroup hierarchies, /dev; slaves, so nothing done in
# the root reaches the host.
mount --bind "$ROOT" "$ROOT" && mount --make-private "$ROOT" &&
	mount -t proc proc "$ROOT/proc" &&
	mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys" &&
	mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" ||
	fatal "mount the root, /proc, /sys and /dev in it"
expect "no systemd in the root (the maintainer scripts leave units alone)" "no" \
	"$(test -d "$ROOT/run/systemd/system" && echo yes || echo no)"

# --- 3. install A with apt --------------------------------------------------------

step "deploy/install.sh all --debs DIR: apt-get install berth-* $A"
mkdir -p "$ROOT/tmp/debs-$A" "$ROOT/tmp/debs-$B"
cp "$T/debs-$A"/*.deb "$ROOT/tmp/debs-$A/"
cp "$T/debs-$B"/*.deb "$ROOT/tmp/debs-$B/"
cp "$top/deploy/install.sh" "$ROOT/tmp/install.sh"
inroot dpkg-query -W -f '${Package}\n' | sort >"$T/before"
t=$SECONDS
out=$(inroot bash /tmp/install.sh all --debs "/tmp/debs-$A" </dev/null 2>&1)
rc=$?
echo "$out" >"$T/install-A.log"
expect "install.sh installs the three packages with apt (in $((SECONDS - t))s)" 0 "$rc"
[ $rc -eq 0 ] || fatal "install: $(tail -20 "$T/install-A.log")"
contains "... and says what to do next" "systemctl enable --now berthd" "$out"
inroot dpkg-query -W -f '${Package}\n' | sort >"$T/after"
new=$(comm -13 "$T/before" "$T/after" | tr '\n' ' ')
echo "# installed: $new"
build_tools='gcc|gcc-[0-9]+|cpp|cpp-[0-9]+|g\+\+.*|binutils.*|make|cmake|pkg-config|pkgconf'
build_tools+='|build-essential|check|libsubunit.*|protobuf-c-compiler'
expect "no -dev package, compiler or build tool came with them" "" \
	"$(comm -13 "$T/before" "$T/after" | grep -E -- "-dev\$|^($build_tools)\$" | tr '\n' ' ')"
for p in berth-agent berth-controller berthctl; do
	expect "$p $A is installed" "install ok installed $A" \
		"$(inroot dpkg-query -W -f '${Status} ${Version}' "$p" 2>&1)"
done
expect "agent.yaml installed 0600" "600 root" "$(stat -c '%a %U' "$ROOT/etc/berth/agent.yaml")"
for d in agent images controller; do
	expect "/var/lib/berth/$d made private by postinst" "700" \
		"$(stat -c %a "$ROOT/var/lib/berth/$d" 2>&1)"
done

# --- 4. a one-node fleet in the root -----------------------------------------------

step "the installed binaries, a controller, berthd and a container"
for b in berthd berth-monitor berth-pull berth-cni berth-controller berthctl; do
	expect "$b --version says $A" "$b $A" "$(inroot "$b" --version 2>&1)"
done
inroot berthd --check-config -c /etc/berth/agent.yaml >/dev/null 2>&1
expect "the packaged agent.yaml passes berthd --check-config" 0 "$?"

# Five free ports on loopback: the controller's four channels, and
# berthd's Agent service for the controller (berthctl logs).
PORT=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 30000))
	[ -z "$(ss -Hltn "( sport >= :$p and sport <= :$((p + 4)) )")" ] && PORT=$p && break
done
[ -n "$PORT" ] || fatal "five free ports on 127.0.0.1"
chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/berth-controller \
	--rpc "tcp://127.0.0.1:$PORT" --events "tcp://127.0.0.1:$((PORT + 1))" \
	--stream "tcp://127.0.0.1:$((PORT + 2))" --survey "tcp://127.0.0.1:$((PORT + 3))" \
	</dev/null >>"$T/controller.log" 2>&1 &
CTL_PID=$!
wait_until 15 bctl get nodes || {
	cat "$T/controller.log"
	fatal "berth-controller (its default state directory) answers on 127.0.0.1:$PORT"
}
ok "berth-controller answers on 127.0.0.1:$PORT"

# The operator's part, as README says: the controller's key beside the
# agent's configuration, a join token, the controller's address; and an
# operator key of our own (berthctl keygen) for berthd's socket.
cp "$ROOT/var/lib/berth/controller/controller.pub" "$ROOT/etc/berth/controller.pub"
token=$(bctl join-token --description package-test 2>"$T/token.err") ||
	fatal "berthctl join-token: $(cat "$T/token.err")"
mkdir -p "$ROOT/etc/berth/operators"
out=$(bctl keygen --operator ops --out /root/ops.key --pub /etc/berth/operators/ops.pub 2>&1)
expect "berthctl keygen makes an operator key" 0 "$?"
sed -i -e "s|address: tcp://10.0.0.1:7100|address: tcp://127.0.0.1:$PORT|" \
	-e "s|^#join_token: .*|join_token: $token|" \
	-e "s|^#node_name: .*|node_name: pkgtest|" \
	-e "s|^cgroup_parent: /berth$|cgroup_parent: $CGROUP_PARENT|" \
	-e "s|^  mode: bridge$|  mode: none|" \
	-e "s|^#operators:$|operators:\n  ops: /etc/berth/operators/ops.pub|" \
	-e "s|^#listen: .*|listen: tcp://127.0.0.1:$((PORT + 4))|" \
	"$ROOT/etc/berth/agent.yaml"
echo "# edited by package-test $TAG" >>"$ROOT/etc/berth/agent.yaml"
out=$(inroot berthd --check-config -c /etc/berth/agent.yaml 2>&1)
expect "the operator's agent.yaml passes --check-config" 0 "$?"
[ -z "$out" ] || echo "$out"

"$top/deploy/mkrootfs.sh" "$ROOT/tmp/rootfs" >/dev/null || fatal "deploy/mkrootfs.sh"
out=$(bctl image import bb /tmp/rootfs 2>&1)
expect "berthctl image import bb (into /var/lib/berth/images)" 0 "$?"

start_berthd() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/berthd \
		-c /etc/berth/agent.yaml </dev/null >>"$T/berthd.log" 2>&1 &
	AGENT_PID=$!
}
node_ready() { # VERSION
	bctl get nodes |
		awk -v v="$1" 'NR > 1 && $1 == "pkgtest" && $2 == "Ready" && $7 == v { f = 1 } END { exit !f }'
}
start_berthd
wait_until 20 node_ready "$A" || {
	tail -30 "$T/berthd.log"
	fatal "berthd $A registers (get nodes: $(bctl get nodes 2>&1))"
}
ok "berthd $A joined the fleet with the token"

fleet_manifest Deployment pkgtest 1 >"$ROOT/tmp/pkgtest.yaml"
out=$(bctl apply -f /tmp/pkgtest.yaml --wait --wait-timeout 60s 2>&1)
rc=$?
expect "the Deployment runs (berthctl apply --wait)" 0 "$rc"
if [ $rc -ne 0 ]; then
	echo "$out"
	bctl get containers -o wide
	bctl describe pod "$(bctl get pods | awk 'NR == 2 { print $1 }')" 2>&1 | tail -20
	tail -20 "$T/berthd.log"
fi

pod_status() { bctl get pods | awk 'NR > 1 && $1 ~ /^pkgtest-/ { print $3 }'; }
container_pid() { bctl get containers -o wide | awk 'NR > 1 && $3 == "pkgtest" { print $8 }'; }
ppid_of() { awk '$1 == "PPid:" { print $2 }' "/proc/$1/status" 2>/dev/null; }
expect "its pod is Running" "Running" "$(pod_status)"
cpid=$(container_pid)
mpid=$(ppid_of "${cpid:-0}")
expect "the container's parent is its berth-monitor" "berth-monitor" \
	"$(cat "/proc/${mpid:-0}/comm" 2>&1)"
expect "... the one of /usr/bin in the root" "$ROOT/usr/bin/berth-monitor" \
	"$(readlink "/proc/${mpid:-0}/exe" 2>&1)"
cname=$(bctl get containers | awk 'NR > 1 && $3 == "pkgtest" { print $1 }')
logged_hello() { bctl logs "$cname" | grep -q 'hello from'; }
wait_until 10 logged_hello
expect "its log reaches berthctl logs (through the controller)" 0 "$?"
out=$(inroot env BERTH_KEY=/root/ops.key BERTH_OPERATOR=ops berthctl agent ps 2>&1)
contains "berthctl agent ps, with the keygen'd operator key, lists it" "$cname" "$out"
out=$(inroot env BERTH_KEY=/root/ops.key BERTH_OPERATOR=ops berthctl agent logs "$cname" 2>&1)
contains "... and berthctl agent logs shows its log" "hello from" "$out"

# --- 5. upgrade to B under the running container -------------------------------------

step "apt-get install berth-* $B while the container runs"
t=$SECONDS
out=$(inroot apt-get install -y "/tmp/debs-$B/berth-agent_${B}_amd64.deb" \
	"/tmp/debs-$B/berth-controller_${B}_amd64.deb" "/tmp/debs-$B/berthctl_${B}_amd64.deb" </dev/null 2>&1)
rc=$?
echo "$out" >"$T/apt-install-B.log"
expect "the upgrade to $B succeeds (in $((SECONDS - t))s)" 0 "$rc"
[ $rc -eq 0 ] || echo "$out" | tail -20
contains "... as an upgrade" "Unpacking berth-agent (${B}) over (${A})" "$out"
for p in berth-agent berth-controller berthctl; do
	expect "$p $B is installed" "install ok installed $B" \
		"$(inroot dpkg-query -W -f '${Status} ${Version}' "$p" 2>&1)"
done
expect "without systemd, postinst left berthd $A running" "yes" \
	"$(kill -0 "$AGENT_PID" 2>/dev/null && echo yes)"
contains "... on its old, replaced binary" "(deleted)" "$(readlink "/proc/$AGENT_PID/exe")"
contains "the local edit of the conffile is kept" "# edited by package-test $TAG" \
	"$(tail -1 "$ROOT/etc/berth/agent.yaml")"
contains "... and the controller's address in it" "address: tcp://127.0.0.1:$PORT" \
	"$(cat "$ROOT/etc/berth/agent.yaml")"
expect "... with no prompt and no .dpkg-dist beside it (the default did not change)" "" \
	"$(ls "$ROOT"/etc/berth/agent.yaml.dpkg-* 2>/dev/null)"
expect "... still private" "600" "$(stat -c %a "$ROOT/etc/berth/agent.yaml")"

# What systemd does for try-restart (KillMode=process): SIGTERM to berthd
# alone, then the new binary.
stop_pid "$AGENT_PID"
start_berthd
expect "/usr/bin/berthd --version says $B" "berthd $B" "$(inroot berthd --version 2>&1)"
wait_until 20 node_ready "$B" || tail -30 "$T/berthd.log"
expect "berthd $B is back, and says so in get nodes" "$B" \
	"$(bctl get nodes | awk 'NR > 1 && $1 == "pkgtest" { print $7 }')"
wait_until 10 sh -c "grep -q 'berthd $B started: node pkgtest, 1 container(s) adopted' '$T/berthd.log'"
expect "berthd $B adopted the container" 0 "$?"
expect "the container's process is the same" "$cpid" "$(container_pid)"
expect "... alive" "yes" "$(kill -0 "${cpid:-0}" 2>/dev/null && echo yes)"
expect "its berth-monitor is the same" "$mpid" "$(ppid_of "${cpid:-0}")"
expect "its pod is Running" "Running" "$(pod_status)"

# --- 6. purge ---------------------------------------------------------------------

step "apt-get purge berth-agent while the container runs"
# What prerm's systemctl stop does under systemd.
stop_pid "$AGENT_PID"
AGENT_PID=
out=$(inroot apt-get purge -y berth-agent </dev/null 2>&1)
expect "apt-get purge berth-agent succeeds" 0 "$?"
echo "$out" >"$T/apt-purge-agent.log"
contains "purge says the state is kept, and why" \
	"berth-agent: purge keeps /var/lib/berth/agent and /var/lib/berth/images: containers still run there" "$out"
contains "purge says /etc/berth keeps the operator's files" "berth-agent: /etc/berth kept" "$out"
expect "the container still runs" "yes" "$(kill -0 "${cpid:-0}" 2>/dev/null && echo yes)"
expect "... under the same monitor" "$mpid" "$(ppid_of "${cpid:-0}")"
expect "its state is kept" "yes" \
	"$(test -p "$ROOT/var/lib/berth/agent/containers/$cname/control" && echo yes)"
expect "the conffile is gone" "no" "$(test -e "$ROOT/etc/berth/agent.yaml" && echo yes || echo no)"
expect "... and the controller's key the operator put beside it" "no" \
	"$(test -e "$ROOT/etc/berth/controller.pub" && echo yes || echo no)"
expect "the operator's own files in /etc/berth are not" "operators/ops.pub" \
	"$(cd "$ROOT/etc/berth" && find . -type f | sed 's|^\./||')"
for f in /usr/bin/berthd /usr/bin/berth-monitor /lib/systemd/system/berthd.service \
	/usr/share/doc/berth-agent; do
	expect "$f is gone" "no" "$(test -e "$ROOT$f" && echo yes || echo no)"
done
expect "dpkg forgot berth-agent" "" "$(inroot dpkg -l berth-agent 2>/dev/null | awk '/berth-agent/')"

step "apt-get install berth-agent $B again: it adopts the container"
out=$(inroot apt-get install -y "/tmp/debs-$B/berth-agent_${B}_amd64.deb" </dev/null 2>&1)
expect "berth-agent installs again" 0 "$?"
expect "a fresh default agent.yaml" "yes" \
	"$(grep -q 'address: tcp://10.0.0.1:7100' "$ROOT/etc/berth/agent.yaml" && echo yes)"
# The node's key was kept: no join token needed; the controller's key goes
# back beside agent.yaml.
cp "$ROOT/var/lib/berth/controller/controller.pub" "$ROOT/etc/berth/controller.pub"
sed -i -e "s|address: tcp://10.0.0.1:7100|address: tcp://127.0.0.1:$PORT|" \
	-e "s|^#node_name: .*|node_name: pkgtest|" \
	-e "s|^cgroup_parent: /berth$|cgroup_parent: $CGROUP_PARENT|" \
	-e "s|^  mode: bridge$|  mode: none|" "$ROOT/etc/berth/agent.yaml"
: >"$T/berthd.log"
start_berthd
wait_until 20 sh -c "grep -q 'started: node pkgtest, 1 container(s) adopted' '$T/berthd.log'"
expect "berthd adopted the container the purge left running" 0 "$?"
wait_until 20 node_ready "$B"
expect "... the same process" "$cpid" "$(container_pid)"

step "the workload deleted, the daemons stopped, everything purged"
out=$(bctl delete deployment pkgtest 2>&1)
expect "berthctl delete deployment pkgtest" 0 "$?"
monitors_gone() {
	local l
	for l in "$ROOT"/var/lib/berth/agent/containers/*/monitor.lock; do
		[ -e "$l" ] || continue
		flock -n "$l" true || return 1
	done
	! kill -0 "${cpid:-0}" 2>/dev/null
}
wait_until 30 monitors_gone
expect "the container and its monitor are gone" 0 "$?"
stop_pid "$AGENT_PID"
AGENT_PID=
stop_pid "$CTL_PID"
CTL_PID=
out=$(inroot apt-get purge -y berth-agent berth-controller berthctl </dev/null 2>&1)
expect "apt-get purge of the three succeeds" 0 "$?"
echo "$out" >"$T/apt-purge.log"
expect "no berth package is left in dpkg -l" "" "$(inroot dpkg -l | awk '$2 ~ /berth/')"
expect "/var/lib/berth is gone (node key, containers, images, the controller's store)" "no" \
	"$(test -e "$ROOT/var/lib/berth" && echo yes || echo no)"
expect "/etc/berth holds only the operator's own files" "operators/ops.pub" \
	"$(cd "$ROOT/etc/berth" && find . -type f | sed 's|^\./||')"
left=$(inroot sh -c 'ls -d /usr/bin/berth* /lib/systemd/system/berth* /usr/share/doc/berth* \
	/usr/share/man/man*/berth* /usr/share/bash-completion/completions/berthctl 2>/dev/null')
expect "no file of the packages is left" "" "$left"

# --- 7. nothing left ----------------------------------------------------------------

step "teardown"
teardown
expect "no process of the test is left" "" "$(our_processes | tr '\n' ' ')"
expect "nothing is mounted under the root (findmnt)" "" "$(our_mounts)"
expect "no cgroup of the test is left" "" \
	"$(find /sys/fs/cgroup -type d -path "*$CGROUP_PARENT*" 2>/dev/null)"
# --- 8. under systemd, in a cgroup v2 VM ------------------------------------------------

# B's packages and systemd, installed with apt into a fresh copy of the
# clean root, booted with systemd as its init in the cgroup v2 VM
# (systemd-boot.sh), where systemd-test.sh runs the packages' units and
# checks the containers' slices and scopes (cgroup_driver auto).
step "under systemd: the packages in a Debian root booted in a cgroup v2 VM"
. "$top/tests/lib/vm.sh"
SDROOT=$T/sdroot
sdroot() {
	chroot "$SDROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
if ! vm_find "${BERTH_VM_RUN:-}"; then
	echo "# skipped: vm-run.sh not found (set BERTH_VM_RUN)"
else
	mkdir -p "$SDROOT"
	tar --zstd -C "$SDROOT" --numeric-owner -xpf "$cache" || fatal "unpack $cache"
	cp "$ROOT/etc/apt/sources.list" "$SDROOT/etc/apt/sources.list"
	cp /etc/resolv.conf "$SDROOT/etc/resolv.conf"
	mkdir -p "$SDROOT/tmp/debs"
	cp "$T/debs-$B"/*.deb "$SDROOT/tmp/debs/"
	t=$SECONDS
	mount -t proc proc "$SDROOT/proc" && mount --rbind /dev "$SDROOT/dev" &&
		mount --make-rslave "$SDROOT/dev" || fatal "mount /proc and /dev in $SDROOT"
	out=$(sdroot sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		systemd /tmp/debs/*.deb' </dev/null 2>&1)
	rc=$?
	umount -R "$SDROOT/dev"
	umount "$SDROOT/proc"
	expect "systemd and berth-* $B installed with apt (in $((SECONDS - t))s)" 0 "$rc"
	[ $rc -eq 0 ] || echo "$out" | tail -20
	expect "the packages leave berthd's unit disabled" "disabled" \
		"$(systemctl --root="$SDROOT" is-enabled berthd 2>&1)"
	# what the VM need not carry (it holds the root in RAM)
	rm -rf "$SDROOT"/var/lib/apt/lists/* "$SDROOT"/var/cache/apt/* "$SDROOT/tmp/debs" \
		"$SDROOT"/usr/share/doc/* "$SDROOT"/usr/share/man/* "$SDROOT"/usr/share/locale/*
	lib=$SDROOT/usr/local/lib/berth-test
	mkdir -p "$lib"
	cp "$top/tests/lib/check.sh" "$top/tests/integration/package/systemd-test.sh" "$lib/"
	"$top/deploy/mkrootfs.sh" "$lib/rootfs" >/dev/null || fatal "deploy/mkrootfs.sh"
	cat >"$SDROOT/etc/systemd/system/berth-systemd-test.service" <<-EOF
		[Unit]
		Description=berth under systemd (tests/integration/package/systemd-test.sh)
		After=multi-user.target
		[Service]
		Type=oneshot
		ExecStart=/bin/bash /usr/local/lib/berth-test/systemd-test.sh
	EOF
	mkdir -p "$SDROOT/etc/systemd/system/multi-user.target.wants"
	ln -s /etc/systemd/system/berth-systemd-test.service \
		"$SDROOT/etc/systemd/system/multi-user.target.wants/"
	echo "# the root: $(du -sh "$SDROOT" | cut -f1); booting it (the VM's output follows)"
	t=$SECONDS
	out=$(vm_run --mem 2048 --timeout 600 --add-raw "$SDROOT:/sd" \
		--add-raw "$top/tests/integration/package/systemd-boot.sh:/systemd-boot.sh" \
		-- sh /systemd-boot.sh /sd 480 2>&1 | tr -d '\r')
	echo "$out"
	# the VM's checks count as this test's
	pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok ')))
	failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
	expect "the test under systemd ran to its end in the VM (in $((SECONDS - t))s)" "yes" \
		"$(printf '%s\n' "$out" | grep -qE '^[0-9]+ passed, [0-9]+ failed$' && echo yes)"
	rm -rf --one-file-system "$SDROOT"
fi

echo "# the whole test took $((SECONDS - T0))s"

check_summary
