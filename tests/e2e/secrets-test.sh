#!/usr/bin/env bash
# End to end: Secrets and ConfigMaps on a fleet of two nodes, as a
# Kubernetes user writes them, checked as the operator sees them and as
# they are on the machines:
#
#   1. a Secret made with berthctl create secret generic, a ConfigMap
#      from a manifest, a pod pinned to n1 that reads them as env
#      (secretKeyRef, configMapKeyRef, envFrom with a prefix) and as files
#      (a secret volume with items and modes, a configMap volume): the
#      container sees the values (it prints their hashes, never them)
#   2. never shown by accident: get secrets (TYPE DATA), describe secret
#      (keys and sizes), get -o yaml without the values unless
#      --show-values, which records who read them
#   3. only the node that needs it: n2, which runs no consumer, was sent
#      no Secret (its agent's log), n1 was
#   4. rotation: the Secret changes three times while a reader in the
#      container reads its file 20 times a second; it sees each version,
#      never a file half of one and half of another
#   5. a pod naming a Secret that does not exist waits in
#      CreateContainerConfigError, naming it, and starts once it is made
#   6. the controller killed and started again opens its sealed store: a
#      new pod gets the same value
#   7. after a full cycle the Secret's value is nowhere on disk: not in
#      the controller's database or its WAL, the agents' state
#      (plans, logs), nor any daemon's log; deleting the pods removes
#      their files from the nodes' tmpfs
#
#   secrets-test.sh BUILD_DIR
set -u
FLEET_BUILD=$1
. "$(dirname "$0")/../lib/fleet.sh"

fleet_e2e_init
ctl_start || exit 1
for n in n1 n2; do
	node_start $n
done
wait_until 30 nodes_ready 2

# The value this test hunts for on disk afterwards: random, so that a hit
# is ours.
SECRET="s3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

scenario "1. a Secret and a ConfigMap, as env and as files"
expect "create secret generic" "secret/db created" \
	"$(bctl create secret generic db --from-literal user=admin --from-literal "password=$SECRET" 2>&1)"
# kubectl's create secret tls takes --key: the TLS key, not berthctl's
# operator key (which then comes from BERTH_KEY or the settings file)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$FLEET_DIR/tls.key" -out "$FLEET_DIR/tls.crt" \
	-days 1 -subj /CN=web.test >/dev/null 2>&1
expect "create secret tls --cert --key" "secret/web-tls created" \
	"$(BERTH_KEY="$FLEET_DIR/ctl/state/admin.key" bctl create secret tls web-tls \
		--cert "$FLEET_DIR/tls.crt" --key "$FLEET_DIR/tls.key" 2>&1)"
contains "... with the TLS key and certificate" "kubernetes.io/tls" \
	"$(bctl describe secret web-tls 2>&1)"
bctl delete secret web-tls >/dev/null
cat >"$FLEET_DIR/cfg.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  mode: production
  app.conf: |
    listen 8080
    workers 4
YAML
expect "apply a ConfigMap" "configmap/cfg created" "$(bctl apply -f "$FLEET_DIR/cfg.yaml" 2>&1)"
cat >"$FLEET_DIR/reader.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  nodeName: n1
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: bb
    command: [/bin/sh, -c]
    args:
    - |
      echo "env-sha \$(printf %s "\$DB_PASSWORD" | sha256sum | cut -d' ' -f1)"
      echo "file-sha \$(cat /etc/db/pw | sha256sum | cut -d' ' -f1)"
      echo "user \$DB_USER mode \$CFG_mode"
      echo "conf \$(cat /etc/app/app.conf | head -1)"
      echo "pw-mode \$(stat -L -c %a /etc/db/pw)"
      echo "files \$(ls /etc/db | tr '\n' ' ')"
      exec sleep 100000
    env:
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    - name: DB_USER
      valueFrom: {secretKeyRef: {name: db, key: user}}
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    volumeMounts:
    - {name: db, mountPath: /etc/db}
    - {name: app, mountPath: /etc/app}
  volumes:
  - name: db
    secret:
      secretName: db
      items: [{key: password, path: pw, mode: 0400}]
  - name: app
    configMap: {name: cfg}
YAML
bctl apply -f "$FLEET_DIR/reader.yaml" >/dev/null
said() { bctl logs reader-0 2>/dev/null | grep -q "^files "; }
wait_until 60 said && ok "the reader started on n1" || bad "reader: $(bctl get pods 2>&1) $(bctl describe pod reader-0 2>&1 | tail -5)"
log=$(bctl logs reader-0 2>&1)
contains "the Secret as env" "env-sha $(sha "$SECRET")" "$log"
contains "... and as a file" "file-sha $(sha "$SECRET")" "$log"
contains "secretKeyRef and envFrom with a prefix" "user admin mode production" "$log"
contains "the ConfigMap as a file" "conf listen 8080" "$log"
contains "items: the key's mode" "pw-mode 400" "$log"
contains "items: only the keys named" "files pw " "$log"

scenario "2. values are never shown by accident"
contains "get secrets: TYPE DATA" "db     Opaque   2" "$(bctl get secrets 2>&1)"
d=$(bctl describe secret db 2>&1)
contains "describe secret: sizes" "password:  ${#SECRET} bytes" "$d"
case "$d" in *"$SECRET"*) bad "describe secret shows the value" ;; *) ok "describe secret shows no value" ;; esac
y=$(bctl get secret db -o yaml 2>/dev/null)
case "$y" in *"$(printf %s "$SECRET" | base64)"*) bad "get -o yaml shows the value" ;; *) ok "get -o yaml: no value without --show-values" ;; esac
contains "... it says how" "add --show-values" "$(bctl get secret db -o yaml 2>&1 >/dev/null)"
y=$(bctl get secret db -o yaml --show-values 2>/dev/null)
contains "--show-values shows it" "$(printf %s "$SECRET" | base64)" "$y"
contains "... and the read is an event: who" "were read by operator admin" \
	"$(bctl describe secret db 2>&1)"
contains "describe configmap: its data" "workers 4" "$(bctl describe configmap cfg 2>&1)"

scenario "3. only the node that runs a consumer gets the Secret"
got() { grep -o "containers, [0-9]* Secrets and ConfigMaps" "$FLEET_DIR/$1/log" | awk '{ s += $2 } END { print s + 0 }'; }
[ "$(got n1)" -gt 0 ] && ok "n1 was sent its objects ($(got n1) in all)" || bad "n1 got none"
expect "n2 was sent none" 0 "$(got n2)"

scenario "4. rotation: the file changes while the container reads it"
# 64 KiB of one letter: a torn file would mix two
big() { head -c 65536 /dev/zero | tr '\0' "$1"; }
bctl create secret generic rot --from-literal "data=$(big A)" >/dev/null
cat >"$FLEET_DIR/rot.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: rotor}
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: rotor
    image: bb
    command: [/bin/sh, -c]
    args:
    - |
      last=
      while :; do
        v=$(cat /etc/rot/data | tr -s 'A-Z')
        case "$v" in
          ?) [ "$v" != "$last" ] && echo "saw $v" && last=$v ;;
          *) echo "TORN ${#v}" ;;
        esac
        usleep 50000
      done
    volumeMounts: [{name: rot, mountPath: /etc/rot}]
  volumes: [{name: rot, secret: {secretName: rot}}]
YAML
bctl apply -f "$FLEET_DIR/rot.yaml" >/dev/null
saw() { bctl logs rotor-0 2>/dev/null | grep -q "^saw $1"; }
wait_until 60 saw A && ok "the reader sees version A" || bad "rotor: $(bctl logs rotor-0 2>&1 | tail -3)"
for v in B C D; do
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: rot}\nstringData: {data: %s}\n' \
		"$(big $v)" >"$FLEET_DIR/rot-secret.yaml"
	bctl apply -f "$FLEET_DIR/rot-secret.yaml" >/dev/null
	wait_until 20 saw $v && ok "version $v reached the running container" ||
		bad "no $v: $(bctl logs rotor-0 2>&1 | tail -3)"
done
expect "no reader ever saw a torn file" "" "$(bctl logs rotor-0 2>&1 | grep TORN | head -3)"
expect "it still runs: no restart" "0" "$(bctl get pods rotor-0 | awk 'NR == 2 { print $4 }')"

scenario "5. a missing Secret holds the pod back until it exists"
cat >"$FLEET_DIR/late.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: late}
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  containers:
  - name: late
    image: bb
    command: [/bin/sh, -c, 'echo "token $TOKEN"; exec sleep 100000']
    env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: later, key: token}}}]
YAML
bctl apply -f "$FLEET_DIR/late.yaml" >/dev/null
waiting() { bctl get pods late-0 2>/dev/null | grep -q CreateContainerConfigError; }
wait_until 30 waiting && ok "CreateContainerConfigError" || bad "late: $(bctl get pods late-0 2>&1)"
contains "... naming what is missing" 'secret "later" not found' "$(bctl describe pod late-0 2>&1)"
bctl create secret generic later --from-literal token=t0k3n >/dev/null
started() { bctl logs late-0 2>/dev/null | grep -q "^token t0k3n"; }
wait_until 30 started && ok "it starts once the Secret exists" || bad "late: $(bctl get pods late-0 2>&1)"

scenario "6. a restarted controller opens its sealed store again"
ctl_kill KILL
ctl_start || bad "the controller did not start again"
wait_until 30 nodes_ready 2
sed 's/name: reader}/name: again}/' "$FLEET_DIR/reader.yaml" >"$FLEET_DIR/again.yaml"
bctl apply -f "$FLEET_DIR/again.yaml" >/dev/null
again() { bctl logs again-0 2>/dev/null | grep -q "^files "; }
wait_until 60 again && ok "a new pod after the restart" || bad "again: $(bctl get pods 2>&1)"
contains "... reads the same value" "env-sha $(sha "$SECRET")" "$(bctl logs again-0 2>&1)"

scenario "7. nothing of the value on disk; files gone with the pods"
bctl delete reader rotor late again >/dev/null
gone() { [ -z "$(ls "$FLEET_DIR/n1/secrets" 2>/dev/null)" ]; }
wait_until 30 gone && ok "the pods' files left the node's tmpfs" ||
	bad "left: $(ls "$FLEET_DIR/n1/secrets" 2>&1)"
# the controller's database and WAL, the agents' state dirs, every log
hits=$(grep -rl --binary-files=text -- "$SECRET" "$FLEET_DIR"/ctl "$FLEET_DIR"/n1/state \
	"$FLEET_DIR"/n2/state "$FLEET_DIR"/*/log "$FLEET_DIR"/ctl/log 2>/dev/null)
expect "the value is in no file" "" "$hits"
ls "$FLEET_DIR"/ctl/state/berth.db* >/dev/null 2>&1 && ok "(the database and WAL were searched: $(ls "$FLEET_DIR"/ctl/state/ | grep -c berth.db))"
expect "delete secret" "secret/db deleted" "$(bctl delete secret db 2>&1)"
expect "get secrets: db gone" "" "$(bctl get secrets 2>/dev/null | awk '$1 == "db"')"

fleet_teardown
check_summary
