#!/bin/sh
# `berthctl image`: import from a directory and from tarballs, list, replace,
# remove, and the errors an operator meets, each leaving the store as it
# was. (Refusing to change an image a running container uses is tested with
# a real agent, in the agent suite.)
#
#   image-test.sh BERTHCTL ROOTFS
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root.
set -u
. "$(dirname "$0")/../../lib/check.sh"
BERTHCTL=$1
ROOTFS=$2

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (file ownership is part of an image)"
    exit 77
fi
W=$(mktemp -d /tmp/berth-image-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
S=$W/images

img() {
    "$BERTHCTL" image "$@" --image-store "$S" --state-dir "$W/agent" >"$W/out" 2>"$W/err"
    RC=$?
    OUT=$(cat "$W/out")
    ERR=$(cat "$W/err")
}
# The store holds exactly these names (hidden work directories included).
store() {
    ls -A "$S" 2>/dev/null | tr '\n' ' '
}

# A source tree with what a root filesystem has: owners, modes, links,
# a device node.
SRC=$W/src
cp -a "$ROOTFS" "$SRC"
mkdir -p "$SRC/data"
echo one >"$SRC/data/f"
chown 1234:5678 "$SRC/data/f"
chmod 4750 "$SRC/data/f"
ln -s f "$SRC/data/link"
ln "$SRC/data/f" "$SRC/data/hard"
mknod "$SRC/data/null" c 1 3

img import bb "$SRC"
expect "import from a directory" "0 bb" "$RC $OUT"
expect "owner kept" "1234:5678 4750" "$(stat -c '%u:%g %a' "$S/bb/data/f")"
expect "symlink kept" "f" "$(readlink "$S/bb/data/link")"
expect "hard link kept" "$(stat -c %i "$S/bb/data/f")" "$(stat -c %i "$S/bb/data/hard")"
expect "device node kept" "character special file 1:3" \
    "$(stat -c '%F %t:%T' "$S/bb/data/null")"
expect "the image root is 0755" "755" "$(stat -c %a "$S/bb")"
expect "only the image in the store" "bb " "$(store)"

img import bb "$SRC"
expect "an existing name is refused" "1" "$RC"
contains "... saying how to replace it" "image bb exists in $S (--force replaces it)" "$ERR"

echo two >"$SRC/data/f"
img import --force bb "$SRC"
expect "--force replaces" "0 two" "$RC $(cat "$S/bb/data/f")"
expect "and leaves no old tree" "bb " "$(store)"

for z in none gzip xz zstd; do
    case $z in
    none) f=$W/bb.tar; tar -C "$SRC" --numeric-owner -cf "$f" . ;;
    gzip) f=$W/bb.tar.gz; tar -C "$SRC" --numeric-owner -czf "$f" . ;;
    xz) f=$W/bb.tar.xz; tar -C "$SRC" --numeric-owner -cJf "$f" . ;;
    zstd)
        command -v zstd >/dev/null || { ok "zstd not installed: skipped"; continue; }
        f=$W/bb.tar.zst; tar -C "$SRC" --numeric-owner --zstd -cf "$f" .
        ;;
    esac
    img import "t-$z" "$f"
    expect "import a tarball ($z)" "0 t-$z" "$RC $OUT"
    expect "owner and mode from the tarball ($z)" "1234:5678 4750" \
        "$(stat -c '%u:%g %a' "$S/t-$z/data/f")"
done

img ls
contains "ls lists the images" "bb" "$OUT"
contains "ls lists a tarball import" "t-gzip" "$OUT"
contains "ls shows nobody uses them" "-" "$(echo "$OUT" | grep '^bb ')"

# Errors: each says what is wrong and leaves the store as it was.
before=$(store)
img import blobs "$SRC"
expect "a name the new store keeps is a usage error" "2" "$RC"
contains "... saying so" "'blobs' is a name the image store keeps for itself" "$ERR"
img import 'Bad/Name' "$SRC"
expect "a bad name is a usage error" "2" "$RC"
contains "... naming the rule" "'Bad/Name' is not a valid image name" "$ERR"
img import ok "$W/missing"
expect "a missing source fails" "1" "$RC"
contains "... naming it" "$W/missing: No such file or directory" "$ERR"
echo "not a tarball" >"$W/junk.tar"
img import junk "$W/junk.tar"
expect "a corrupt tarball fails" "1" "$RC"
contains "... as tar's failure" "image import junk: tar failed" "$ERR"
mkdir -p "$W/save/abc"
echo '[]' >"$W/save/manifest.json"
tar -C "$W/save" -cf "$W/save.tar" .
img import saved "$W/save.tar"
expect "a docker save archive is refused" "1" "$RC"
contains "... with what to do instead" "import it with \`berthctl image import $W/save.tar\`" "$ERR"
expect "failed imports leave the store as it was" "$before" "$(store)"

img rm t-none
expect "rm removes" "0 t-none" "$RC $OUT"
expect "rm leaves no trace" "no" "$(test -e "$S/t-none" && echo yes || echo no)"
img rm t-none
expect "rm of a missing image fails" "1" "$RC"
contains "... naming it" "image t-none: not in $S" "$ERR"
img frob
expect "an unknown verb is a usage error" "2" "$RC"

check_summary
