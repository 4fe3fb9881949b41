#!/usr/bin/env bash
# Pulling from real registries: Debian's docker-registry on 127.0.0.1, three
# of them (plain HTTP; TLS from a CA this test makes with htpasswd basic
# auth; plain HTTP behind a token server, the bearer flow), test images
# built here with umoci and skopeo from the busybox rootfs (several layers,
# whiteouts, an opaque directory, a hard link, an index of two platforms,
# Entrypoint and Cmd, a large layer), and the faults a node meets, each
# with a clear error and nothing left behind in the store.
#
#   registry-test.sh BERTHCTL BERTH_PULL ROOTFS
#
# Exit 0 when every check passed, 1 otherwise, 77 (skip) when not root or a
# tool is missing. Every process it starts is stopped by pid on every exit
# path; everything it makes is under one temporary directory, removed at
# the end (KEEP=1 keeps it).
set -u
. "$(dirname "$0")/../../lib/check.sh"
. "$(dirname "$0")/../../lib/registry.sh"
BERTHCTL=$1
PULLER=$2
ROOTFS=$3

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (layers keep owners; overlayfs whiteouts; a tmpfs)"
	exit 77
fi
for tool in docker-registry skopeo umoci htpasswd openssl jq curl busybox; do
	command -v "$tool" >/dev/null || {
		echo "SKIP: $tool is not installed (deploy/install-deps.sh)"
		exit 77
	}
done

W=$(mktemp -d /tmp/berth-registry-test.XXXXXX)
PIDS=()
MOUNTS=()
cleanup() {
	local p m
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		umount -l "$m" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- registries ---------------------------------------------------------------

stop_pid() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

PLAIN_CFG='version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: @DIR@/data}, delete: {enabled: true}}
http: {addr: "127.0.0.1:@PORT@"}'
start_registry plain "$PLAIN_CFG"

# TLS from our own CA, and htpasswd basic auth.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.crt" -days 2 \
	-subj /CN=berth-test-ca >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout "$W/srv.key" -out "$W/srv.csr" \
	-subj /CN=127.0.0.1 >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\n' >"$W/srv.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
	-out "$W/srv.crt" -days 2 -extfile "$W/srv.ext" >/dev/null 2>&1
htpasswd -Bbn berth s3cret >"$W/htpasswd"
start_registry tls "version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: @DIR@/data}}
http: {addr: \"127.0.0.1:@PORT@\", tls: {certificate: $W/srv.crt, key: $W/srv.key}}
auth: {htpasswd: {realm: berth-test, path: $W/htpasswd}}"

# The token server: busybox httpd asks for basic credentials and a CGI
# signs a JWT (RS256, its certificate in x5c) granting what the scope asks.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/token.key" -out "$W/token.crt" -days 2 \
	-subj /CN=berth-test-token >/dev/null 2>&1
openssl x509 -in "$W/token.crt" -outform DER | base64 -w0 >"$W/token.x5c"
mkdir -p "$W/www/cgi-bin"
cat >"$W/www/cgi-bin/token" <<EOF
#!/bin/sh
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
scope=\$(printf '%s' "\$QUERY_STRING" | tr '&' '\n' | sed -n 's/^scope=//p' | head -1 |
	sed 's/%3[Aa]/:/g; s/%2[Ff]/\//g; s/%2[Cc]/,/g')
type=\${scope%%:*}; rest=\${scope#*:}; name=\${rest%:*}; actions=\$(printf '%s' "\${rest##*:}" | sed 's/,/","/g')
now=\$(date +%s)
hdr=\$(printf '{"typ":"JWT","alg":"RS256","x5c":["%s"]}' "\$(cat $W/token.x5c)" | b64url)
claims=\$(printf '{"iss":"berth-test","sub":"%s","aud":"berth-test","exp":%d,"nbf":%d,"iat":%d,"jti":"%s","access":[{"type":"%s","name":"%s","actions":["%s"]}]}' \
	"\$REMOTE_USER" \$((now + 300)) \$((now - 10)) \$now "\$now-\$\$" "\$type" "\$name" "\$actions" | b64url)
sig=\$(printf '%s.%s' "\$hdr" "\$claims" | openssl dgst -sha256 -sign $W/token.key | b64url)
echo "\$QUERY_STRING" >>$W/token-requests
printf 'Content-Type: application/json\r\n\r\n{"token":"%s.%s.%s","expires_in":300}\n' "\$hdr" "\$claims" "\$sig"
EOF
chmod 755 "$W/www/cgi-bin/token"
echo "/cgi-bin:berth:t0ken" >"$W/httpd.conf"
for try in 1 2 3 4 5; do
	PORT_auth=$(free_port)
	busybox httpd -f -p "127.0.0.1:$PORT_auth" -h "$W/www" -c "$W/httpd.conf" 2>>"$W/httpd.log" &
	PID_auth=$!
	PIDS+=("$PID_auth")
	sleep 0.2
	kill -0 "$PID_auth" 2>/dev/null && break
done
start_registry token "version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: @DIR@/data}}
http: {addr: \"127.0.0.1:@PORT@\"}
auth:
  token: {realm: \"http://127.0.0.1:$PORT_auth/cgi-bin/token\", service: berth-test, issuer: berth-test, rootcertbundle: $W/token.crt}"
P=127.0.0.1:$PORT_plain
T=127.0.0.1:$PORT_tls
K=127.0.0.1:$PORT_token

# ---- test images ----------------------------------------------------------------

L=$W/layout
umoci init --layout "$L"
layer() { # layer IMAGE DIR: DIR's tree as a new layer of IMAGE
	tar -C "$2" --numeric-owner -cf "$W/layer.tar" . && umoci raw add-layer --image "$L:$1" "$W/layer.tar"
}
# bb: the busybox rootfs; files, a hard link; a layer umoci computes by
# deleting two of them (its whiteouts); an opaque directory; a config.
umoci new --image "$L:bb"
layer bb "$ROOTFS"
mkdir -p "$W/l2/data" "$W/l2/etc/conf.d"
echo hello >"$W/l2/data/a"
ln "$W/l2/data/a" "$W/l2/data/a-link"
echo gone >"$W/l2/data/b"
echo old >"$W/l2/etc/conf.d/old"
layer bb "$W/l2"
umoci unpack --image "$L:bb" "$W/bundle" >/dev/null
rm "$W/bundle/rootfs/data/b" "$W/bundle/rootfs/bin/ls"
umoci repack --image "$L:bb" "$W/bundle"
mkdir -p "$W/l4/etc/conf.d"
: >"$W/l4/etc/conf.d/.wh..wh..opq"
echo new >"$W/l4/etc/conf.d/new"
layer bb "$W/l4"
umoci config --image "$L:bb" --config.entrypoint /bin/sh --config.entrypoint -c \
	--config.cmd 'echo hello from berth' --config.env GREETING=hi --config.workingdir /data \
	--config.stopsignal SIGQUIT --config.user 0:0
# arm: the same base for linux/arm64; multi: an index of bb and arm
umoci new --image "$L:arm"
layer arm "$ROOTFS"
umoci config --image "$L:arm" --architecture arm64 --config.cmd 'echo arm'
desc() { jq -c --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | {mediaType, digest, size}' "$L/index.json"; }
jq -nc --argjson a "$(desc arm)" --argjson b "$(desc bb)" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
	  ($a + {platform: {architecture: "arm64", os: "linux", variant: "v8"}}),
	  ($b + {platform: {architecture: "amd64", os: "linux"}})]}' >"$W/index.blob"
IDX=sha256:$(sha256sum "$W/index.blob" | cut -d' ' -f1)
cp "$W/index.blob" "$L/blobs/sha256/${IDX#sha256:}"
jq --arg d "$IDX" --argjson s "$(stat -c %s "$W/index.blob")" \
	'.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	  annotations: {"org.opencontainers.image.ref.name": "multi"}}]' "$L/index.json" >"$W/i.json"
mv "$W/i.json" "$L/index.json"
# big: a 64 MB incompressible layer; zeros: 64 MB that compress to little
umoci new --image "$L:big"
layer big "$ROOTFS"
mkdir -p "$W/lbig" "$W/lzero"
head -c 64M /dev/urandom >"$W/lbig/blob"
layer big "$W/lbig"
umoci new --image "$L:zeros"
layer zeros "$ROOTFS"
head -c 64M /dev/zero >"$W/lzero/zeros"
layer zeros "$W/lzero"
# the faults' images: a layer of their own each
for f in corrupt trunc; do
	umoci new --image "$L:$f"
	layer "$f" "$ROOTFS"
	mkdir -p "$W/l-$f"
	head -c 2M /dev/urandom >"$W/l-$f/own"
	layer "$f" "$W/l-$f"
done
rm -rf "$W/bundle" "$W/l2" "$W/l4" "$W/lbig" "$W/lzero" "$W/l-corrupt" "$W/l-trunc" "$W/layer.tar"

push() { # push IMAGE DEST [skopeo options]
	local img=$1 dest=$2
	shift 2
	skopeo copy -q --dest-tls-verify=false "$@" "oci:$L:$img" "docker://$dest" >>"$W/skopeo.log" 2>&1 ||
		{ echo "push $img to $dest failed: $(tail -2 "$W/skopeo.log")"; exit 1; }
}
for i in bb big zeros corrupt trunc; do push $i "$P/$i:v1"; done
push multi "$P/multi:v1" --all
push bb "$T/bb:v1" --dest-creds berth:s3cret
push bb "$K/tok/bb:v1" --dest-creds berth:t0ken
ok "test images built and pushed to three registries"

# ---- what the checks use --------------------------------------------------------

S=$W/store
REG=$W/registries.yaml
: >"$REG"
bc() { # berthctl image VERB ARGS... on $S: RC, OUT, ERR
	"$BERTHCTL" image "$@" --image-store "$S" --state-dir "$W/agent" --registries "$REG" \
		>"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out")
	ERR=$(cat "$W/err")
}
field() { # field REF [JQ OPTIONS] FILTER: a field of berthctl image inspect
	"$BERTHCTL" image inspect "$1" --image-store "$S" | jq -r "${@:2}"
}
# What is at work in a store: nothing, once a pull or import has ended.
at_work() {
	ls -A "$1/tmp" "$1/locks" 2>/dev/null | grep -v ':$' | grep .
}
blob_data() { # the file a registry keeps a blob in
	echo "$W/$1/data/docker/registry/v2/blobs/sha256/${2:7:2}/${2#sha256:}/data"
}
layer_of() { # the digest of the last layer of layout image $1
	local m
	m=$(desc "$1" | jq -r .digest)
	jq -r '.layers[-1].digest' "$L/blobs/sha256/${m#sha256:}"
}
# Nothing of a failed pull is left: no record, nothing at work.
clean_after() { # clean_after WHAT REF
	expect "$1: nothing left at work (tmp/, locks/)" "" "$(at_work "$S")"
	expect "$1: no image recorded" "" "$(ls "$S/images" 2>/dev/null | while read -r f; do
		jq -r .reference "$S/images/$f"
	done | grep -Fx "$2")"
}

# ---- plain HTTP: layers, whiteouts, config --------------------------------------

bc pull "$P/bb:v1"
expect "pull from a plain HTTP loopback registry" "0" "$RC"
DIGEST=$(skopeo inspect --raw --tls-verify=false "docker://$P/bb:v1" | sha256sum | cut -d' ' -f1)
expect "... prints the reference and the manifest's digest" "$P/bb:v1 sha256:$DIGEST" "$OUT"
expect "... Entrypoint" '["/bin/sh","-c"]' "$(field "$P/bb:v1" -c .entrypoint)"
expect "... Cmd" '["echo hello from berth"]' "$(field "$P/bb:v1" -c .cmd)"
contains "... Env" "GREETING=hi" "$(field "$P/bb:v1" -c .env)"
expect "... WorkingDir, User, StopSignal" "/data 0:0 SIGQUIT" \
	"$(field "$P/bb:v1" '"\(.workingDir) \(.user) \(.stopSignal)"')"
expect "... four layers" "4" "$(field "$P/bb:v1" '.layers | length')"
# the layers overlaid as the runtime will (lowest first in the list;
# overlayfs takes them top first)
LOWER=$(field "$P/bb:v1" '.layers | reverse | join(":")')
mkdir -p "$W/mnt"
if mount -t overlay overlay -o "lowerdir=$LOWER" "$W/mnt"; then
	MOUNTS+=("$W/mnt")
	expect "overlay: a file of a lower layer" "hello" "$(cat "$W/mnt/data/a")"
	expect "overlay: a whiteout hides a file" "no" "$(test -e "$W/mnt/data/b" && echo yes || echo no)"
	expect "overlay: ... and one of the base layer" "no" "$(test -e "$W/mnt/bin/ls" && echo yes || echo no)"
	expect "overlay: an opaque directory hides what is below" "new" "$(ls "$W/mnt/etc/conf.d" | tr '\n' ' ' | sed 's/ $//')"
	expect "overlay: the hard link kept" "$(stat -c %i "$W/mnt/data/a")" "$(stat -c %i "$W/mnt/data/a-link")"
	expect "overlay: busybox runs from it" "ok" "$(chroot "$W/mnt" /bin/sh -c 'echo ok')"
	umount "$W/mnt"
	MOUNTS=()
else
	bad "overlay mount of the layers failed"
fi
bc ls
contains "ls lists it with its digest" "$P/bb:v1   sha256:${DIGEST:0:12}" "$OUT"
bc pull "$P/bb:v1"
expect "pulling it again changes nothing" "0 4" "$RC $(ls "$S/layers" | wc -l)"

# ---- an index of two platforms ----------------------------------------------

bc pull "$P/multi:v1"
expect "an index: this machine's image is pulled" "0 amd64" "$RC $(field "$P/multi:v1" .architecture)"
expect "... recorded under the index's digest" "$IDX" "$(field "$P/multi:v1" .digest)"
expect "... the layers shared with bb" "4" "$(ls "$S/layers" | wc -l)"
bc pull "$P/multi:v1" --platform linux/arm64
expect "--platform picks another" "0 arm64" "$RC $(field "$P/multi:v1" .architecture)"
bc pull "$P/multi:v1" --platform linux/s390x
expect "a platform the index lacks fails" "1" "$RC"
contains "... listing what it has" "no image for linux/s390x in the index (it has: linux/arm64/v8, linux/amd64)" "$ERR"

# ---- TLS, basic auth ------------------------------------------------------------

cat >"$REG" <<EOF
registries:
  $T:
    ca_file: $W/ca.crt
    auth: {username: berth, password: wrong}
EOF
bc pull "$T/bb:v1"
expect "wrong credentials fail" "1" "$RC"
contains "... 401 unauthorized" "pull $T/bb:v1: $T: 401 unauthorized" "$ERR"
clean_after "401" "$T/bb:v1"
cat >"$REG" <<EOF
registries:
  $T:
    auth: {username: berth, password: s3cret}
EOF
bc pull "$T/bb:v1"
expect "TLS without the CA fails" "1" "$RC"
contains "... the certificate is not trusted" "$T: TLS: the registry's certificate is not trusted" "$ERR"
clean_after "untrusted certificate" "$T/bb:v1"
cat >"$REG" <<EOF
registries:
  $T:
    ca_file: $W/ca.crt
    auth: {username: berth, password: s3cret}
EOF
bc pull "$T/bb:v1"
expect "TLS with the registry's CA and basic auth" "0" "$RC"

# ---- the token flow ---------------------------------------------------------------

: >"$REG"
bc pull "$K/tok/bb:v1"
expect "a token registry, no credentials: fails" "1" "$RC"
contains "... 401 from the token server" "$K: 401 unauthorized: the token server http://127.0.0.1:$PORT_auth/cgi-bin/token refused an anonymous pull" "$ERR"
cat >"$REG" <<EOF
registries:
  $K:
    auth: {username: berth, password: t0ken}
EOF
bc pull "$K/tok/bb:v1"
expect "bearer token from the challenge's realm" "0" "$RC"
contains "... asked for pull of the repository" "scope=repository%3Atok%2Fbb%3Apull&service=berth-test" "$(cat "$W/token-requests")"

# ---- mirrors ------------------------------------------------------------------------

DEAD=127.0.0.1:$(free_port)
cat >"$REG" <<EOF
registries:
  $DEAD:
    mirrors: [$P]
  $P:
    mirrors: ["http://$DEAD"]
EOF
bc pull "$DEAD/bb:v1"
expect "a registry down, its mirror serves" "0" "$RC"
bc pull "$P/bb:v1"
expect "a mirror down, the registry serves" "0" "$RC"
: >"$REG"

# ---- faults -----------------------------------------------------------------------

bc pull "$P/bb:nope"
expect "404 tag: fails" "1" "$RC"
expect "... manifest unknown" "berthctl: pull $P/bb:nope: $P: manifest unknown" "$ERR"
clean_after "404" "$P/bb:nope"

D=$(layer_of corrupt)
printf 'XXXXXXXX' | dd of="$(blob_data plain "$D")" bs=1 seek=1000 conv=notrunc 2>/dev/null
bc pull "$P/corrupt:v1"
expect "a blob corrupted on the registry's disk: fails" "1" "$RC"
contains "... digest mismatch" "layer 2: $P: blob $D: digest mismatch" "$ERR"
expect "... its layer is not in the store" "0" "$(ls "$S/layers" | grep -c "${D#sha256:}")"
clean_after "digest mismatch" "$P/corrupt:v1"

D=$(layer_of trunc)
truncate -s 100000 "$(blob_data plain "$D")"
bc pull "$P/trunc:v1"
expect "a truncated blob: fails" "1" "$RC"
contains "... size mismatch" "$P: blob $D: size mismatch: the registry has 100000 of its" "$ERR"
clean_after "truncated" "$P/trunc:v1"

BIG=$(layer_of big)
BIGTMP=$S/tmp/blob-${BIG#sha256:}
# Wait until the big blob is arriving, then freeze the registry there.
catch_mid_pull() {
	for _ in $(seq 2000); do
		[ -s "$BIGTMP" ] && break
		sleep 0.005
	done
	kill -STOP "$PID_plain"
	sleep 0.2
}

# the registry killed mid-pull, then restarted on its port: the pull resumes
"$PULLER" --store "$S" --registries "$REG" "$P/big:v1" >"$W/pull.out" 2>&1 &
PULL=$!
PIDS+=("$PULL")
catch_mid_pull
HAVE=$(stat -c %s "$BIGTMP" 2>/dev/null || echo 0)
kill -KILL "$PID_plain"
wait "$PID_plain" 2>/dev/null
expect "registry killed mid-pull ($HAVE of $((64 << 20)) bytes held)" "yes" \
	"$([ "$HAVE" -gt 0 ] && [ "$HAVE" -lt $((64 << 20)) ] && echo yes || echo no)"
FIXED_PORT=$PORT_plain start_registry plain "$PLAIN_CFG"
wait "$PULL"
expect "... restarted, the pull completes" "0" "$?"
expect "... with the image" "pulled $P/big:v1" "$(tail -1 "$W/pull.out" | cut -d' ' -f1-2)"
expect "... resumed, not started over: bytes done never went back" "" \
	"$(awk '$1 == "progress" && $2 == "downloading" { if ($3 < last) print "back to " $3 " from " last; last = $3 }' "$W/pull.out")"
bc rm "$P/big:v1"
expect "rm removes it" "0 $P/big:v1" "$RC $OUT"
expect "... and its own layer" "0" "$(ls "$S/layers" | grep -c "${BIG#sha256:}")"

# the puller killed mid-pull: nothing visible; the next pull completes
"$PULLER" --store "$S" --registries "$REG" "$P/big:v1" >"$W/pull.out" 2>&1 &
PULL=$!
PIDS+=("$PULL")
catch_mid_pull
kill -KILL "$PULL"
wait "$PULL" 2>/dev/null
HAVE=$(stat -c %s "$BIGTMP" 2>/dev/null || echo 0)
kill -CONT "$PID_plain"
bc ls
expect "puller killed mid-pull: no image" "0" "$(echo "$OUT" | grep -c "$P/big:v1")"
expect "... no layer" "0" "$(ls "$S/layers" | grep -c "${BIG#sha256:}")"
"$PULLER" --store "$S" --registries "$REG" "$P/big:v1" >"$W/pull.out" 2>&1
expect "... the next pull completes" "0" "$?"
FIRST=$(awk '$1 == "progress" && $2 == "downloading" && $3 > 0 { print $3; exit }' "$W/pull.out")
expect "... resuming the partial download ($HAVE bytes)" "yes" "$([ "${FIRST:-0}" -ge "$HAVE" ] && echo yes || echo no)"
expect "... nothing left at work" "" "$(at_work "$S")"

# two pullers needing the same layer fetch it once
bc rm "$P/big:v1"
GETS_BEFORE=$(grep -c "GET /v2/big/blobs/$BIG" "$W/plain/log")
"$PULLER" --store "$S" "$P/big:v1" >"$W/pull1.out" 2>&1 &
P1=$!
PIDS+=("$P1")
catch_mid_pull
"$PULLER" --store "$S" "$P/big:v1" >"$W/pull2.out" 2>&1 &
P2=$!
PIDS+=("$P2")
sleep 0.5
kill -CONT "$PID_plain"
wait "$P1"
R1=$?
wait "$P2"
R2=$?
expect "two concurrent pulls of one image: both succeed" "0 0" "$R1 $R2"
expect "... the layer fetched once" "1" "$(($(grep -c "GET /v2/big/blobs/$BIG" "$W/plain/log") - GETS_BEFORE))"

# the disk full while a layer is unpacked
mkdir -p "$W/small"
mount -t tmpfs -o size=16m tmpfs "$W/small" && MOUNTS+=("$W/small")
"$BERTHCTL" image pull "$P/zeros:v1" --image-store "$W/small/store" >"$W/out" 2>"$W/err"
expect "disk full during unpack: fails" "1" "$?"
contains "... No space left on device" "No space left on device" "$(cat "$W/err")"
expect "... nothing left at work" "" "$(at_work "$W/small/store")"
expect "... no image" "" "$(ls -A "$W/small/store/images")"
ZERO=$(layer_of zeros)
expect "... not its layer" "0" "$(ls "$W/small/store/layers" | grep -c "${ZERO#sha256:}" || true)"
umount "$W/small" && MOUNTS=()

# ---- import ---------------------------------------------------------------------------

skopeo copy -q "oci:$L:bb" "oci-archive:$W/bb-oci.tar:v9" >>"$W/skopeo.log" 2>&1
skopeo copy -q "oci:$L:bb" "docker-archive:$W/bb-save.tar:localhost/saved:v1" >>"$W/skopeo.log" 2>&1
LAYERS_BEFORE=$(ls "$S/layers" | wc -l)
bc import "$W/bb-oci.tar" --name localhost/fromoci
expect "import an OCI archive" "0" "$RC"
contains "... named by its tag under --name" "localhost/fromoci:v9 sha256:$DIGEST" "$OUT"
bc import "$W/bb-save.tar"
expect "import a docker save archive" "0" "$RC"
contains "... under its RepoTags" "localhost/saved:v1 sha256:" "$OUT"
expect "... its config read" '["echo hello from berth"]' "$(field localhost/saved:v1 -c .cmd)"
expect "... both share the layers bb has" "$LAYERS_BEFORE" "$(ls "$S/layers" | wc -l)"
bc import "$L" --name localhost/dir
expect "import an OCI layout directory (every image in it)" "0 7" "$RC $(echo "$OUT" | wc -l)"
expect "... nothing left at work" "" "$(at_work "$S")"
bc import "$W/ca.crt"
expect "import of a file that is not an archive fails" "1" "$RC"
contains "... saying so" "import $W/ca.crt: not a tar archive" "$ERR"
mkdir -p "$W/empty"
bc import "$W/empty"
expect "import of a directory that is not a layout fails" "1" "$RC"
contains "... saying what it is not" "import $W/empty: neither a docker save archive (manifest.json) nor an OCI image layout (oci-layout, index.json)" "$ERR"

# ---- prune --------------------------------------------------------------------------

bc prune
expect "prune removes every unused image" "0" "$RC"
expect "... leaving none" "" "$(ls "$S/images")"
expect "... and no layer" "" "$(ls "$S/layers")"
expect "... and no blob" "" "$(ls "$S/blobs/sha256")"

check_summary
