#!/usr/bin/env bash
# Build a minimal busybox root filesystem into DIR: what tests, benchmarks and
# the quickstart run containers in. Everything comes from Debian's
# busybox-static package (installed by deploy/install-deps.sh); nothing is
# downloaded.
#
#   deploy/mkrootfs.sh [--force] DIR
#
# DIR must not exist, or be empty, or have been made by this script (then it
# is left as is unless --force rebuilds it). Prints DIR on success.
set -euo pipefail

usage() {
	echo "usage: mkrootfs.sh [--force] DIR" >&2
	exit 2
}

force=0
dir=
for arg in "$@"; do
	case "$arg" in
	--force) force=1 ;;
	-h | --help) usage ;;
	-*) echo "mkrootfs.sh: unknown option '$arg'" >&2; usage ;;
	*) [ -z "$dir" ] || usage; dir=$arg ;;
	esac
done
[ -n "$dir" ] || usage

busybox=/bin/busybox
# sed reads all of busybox's output: no SIGPIPE for pipefail to trip on.
version=$("$busybox" 2>&1 | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p' || true)
if [ ! -x "$busybox" ] || [ -z "$version" ]; then
	echo "mkrootfs.sh: $busybox is missing: install the Debian package busybox-static (deploy/install-deps.sh)" >&2
	exit 1
fi
# A dynamically linked busybox would need host libraries inside the rootfs.
if ldd "$busybox" >/dev/null 2>&1; then
	echo "mkrootfs.sh: $busybox is dynamically linked; install busybox-static" >&2
	exit 1
fi

stamp=.berth-rootfs
if [ -e "$dir" ]; then
	if [ -f "$dir/$stamp" ] && [ "$force" -eq 0 ]; then
		echo "$dir"
		exit 0
	fi
	if [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/$stamp" ]; then
		echo "mkrootfs.sh: $dir exists, is not empty and was not made by mkrootfs.sh; refusing to touch it" >&2
		exit 1
	fi
fi

# Build beside the target and rename into place, so an interrupted run never
# leaves a half-made rootfs that looks finished.
parent=$(dirname -- "$dir")
mkdir -p -- "$parent"
tmp=$(mktemp -d "$parent/.mkrootfs.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,var/tmp,var/log,var/www,root,home,run,mnt}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
chmod 0700 "$tmp/root"
install -m 0755 "$busybox" "$tmp/bin/busybox"
"$busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	# Relative links, so the rootfs works wherever it is mounted.
	slashes=${applet//[^\/]/}
	up=
	for ((i = 0; i < ${#slashes}; i++)); do up+=../; done
	ln -sf "${up}bin/busybox" "$tmp/$applet"
done

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GROUP
echo berth >"$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$tmp/etc/hosts"
: >"$tmp/etc/resolv.conf"
echo '<html><body><h1>hello from berth</h1></body></html>' >"$tmp/var/www/index.html"
echo "busybox $version" >"$tmp/$stamp"

rm -rf -- "$dir"
mv -- "$tmp" "$dir"
chmod 0755 "$dir"
trap - EXIT
echo "$dir"
