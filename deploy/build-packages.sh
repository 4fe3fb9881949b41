#!/usr/bin/env bash
# Build berth's Debian packages into OUTDIR: berth-agent, berth-controller
# and berthctl, VERSION_ARCH.deb each (cmake/Packaging.cmake says what each
# holds). A Release build without tests, in BUILD_DIR (default
# build-packages), then CPack.
#
#   deploy/build-packages.sh OUTDIR
#
# Environment:
#   BUILD_DIR              where to build (default build-packages)
#   BERTH_PACKAGE_VERSION  the version of the packages and the binaries
#                          (default: from git describe, see
#                          cmake/DebianVersion.cmake)
#
# Needs the build dependencies (deploy/install-deps.sh), dpkg-dev
# (dpkg-shlibdeps finds each package's library dependencies) and file.
# Prints the packages' paths.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() {
	echo "build-packages.sh: $*" >&2
	exit 1
}
case "${1:-}" in
-h | --help)
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
"") die "say where the packages go: build-packages.sh OUTDIR" ;;
esac
[ $# -eq 1 ] || die "one argument: OUTDIR"
out=$1
build=${BUILD_DIR:-build-packages}
case "$build" in /*) ;; *) build=$top/$build ;; esac
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps not found: apt-get install dpkg-dev"
command -v file >/dev/null || die "file not found (CPack finds the binaries with it): apt-get install file"

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF -DBERTH_FUZZ=OFF \
	-DBERTH_SANITIZE=OFF "-DBERTH_PACKAGE_VERSION=${BERTH_PACKAGE_VERSION:-}" >/dev/null
rm -rf "$build/packages"
cmake --build "$build" -j "$(nproc)" --target package >"$build/package.log" 2>&1 ||
	{
		tail -40 "$build/package.log" >&2
		die "the build failed (all of it: $build/package.log)"
	}
mkdir -p "$out"
same=0
[ "$(cd "$out" && pwd -P)" = "$(cd "$build/packages" && pwd -P)" ] && same=1
n=0
for deb in "$build"/packages/*.deb; do
	[ -e "$deb" ] || continue
	[ $same -eq 1 ] || cp "$deb" "$out/"
	echo "$out/$(basename "$deb")"
	n=$((n + 1))
done
[ $n -eq 3 ] || die "expected 3 packages in $build/packages, found $n"
