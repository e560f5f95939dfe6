#!/usr/bin/env bash
# The test world (ARCHITECTURE.md, "Tests"), brought up idempotently: only what is not already up
# is started. Usage: tests/world.sh up | daemon | stop-daemon | status
#   up           system bus with the project's bus policy, polkitd with the project's actions,
#                podman's Docker API service, dockerd, a local registry, fixture images, a
#                three-member etcd cluster, and an etcd that speaks only TLS with client
#                certificates
#   daemon       also start atomicd from the build (target/debug, or $ATOMICD_BIN)
#   etcd-member N  start etcd member N (1..3) again
#   etcd-stop N    stop etcd member N, the one this script started (by its recorded PID)
#   stop-daemon  stop that atomicd
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORLD=${ATOMIC_WORLD_DIR:-/var/tmp/atomicd-world}
PODMAN_SOCK=/run/podman/podman.sock
DOCKER_SOCK=/var/run/docker.sock
REGISTRY=127.0.0.1:5000
# A second registry that wants a login (htpasswd), for the credentials tests.
AUTH_REGISTRY=127.0.0.1:5001
AUTH_USER=atomic-test
AUTH_PASSWORD=s3cret-Reg1stry-pw
mkdir -p "$WORLD"

say() { printf 'world: %s\n' "$*" >&2; }

WAIT_HINT="; see $WORLD/*.log"
# shellcheck source=support/wait.sh
. "$ROOT/tests/support/wait.sh"
# shellcheck source=support/pids.sh
. "$ROOT/tests/support/pids.sh"

engine_answers() { curl -sf --max-time 3 --unix-socket "$1" http://engine/_ping >/dev/null; }
# True when NAME has a running owner (an activatable name that nothing owns yet does not count).
bus_has() {
    busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        NameHasOwner s "$1" 2>/dev/null | grep -q true
}

install_if_changed() { # install_if_changed SRC DEST; true when the file changed
    if ! cmp -s "$1" "$2"; then install -D -m 0644 "$1" "$2"; return 0; fi
    return 1
}

system_bus() {
    if busctl --system --no-pager status >/dev/null 2>&1; then
        say "system bus already up"
    else
        mkdir -p /run/dbus
        rm -f /run/dbus/pid
        dbus-daemon --system --fork
        wait_for 10 "system bus" busctl --system --no-pager status
        say "system bus started"
    fi
    if install_if_changed "$ROOT/dbus/org.atomic.conf" /usr/share/dbus-1/system.d/org.atomic.conf; then
        busctl --system call org.freedesktop.DBus / org.freedesktop.DBus ReloadConfig
        say "bus policy installed"
    fi
}

polkit() {
    install_if_changed "$ROOT/polkit/org.atomic.policy" /usr/share/polkit-1/actions/org.atomic.policy || true
    if bus_has org.freedesktop.PolicyKit1; then
        say "polkitd already up"
    else
        nohup /usr/lib/polkit-1/polkitd --no-debug >"$WORLD/polkitd.log" 2>&1 &
        wait_for 15 polkitd bus_has org.freedesktop.PolicyKit1
        say "polkitd started"
    fi
}

podman_service() {
    mkdir -p /etc/containers /run/podman
    # The VM lacks CAP_SYS_RESOURCE: podman's default rlimits would fail every container.
    if ! grep -qs 'default_ulimits = \[\]' /etc/containers/containers.conf; then
        printf '[containers]\ndefault_ulimits = []\n' >/etc/containers/containers.conf
    fi
    if [ ! -f /etc/containers/registries.conf.d/50-atomicd-test.conf ]; then
        mkdir -p /etc/containers/registries.conf.d
        printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" \
            >/etc/containers/registries.conf.d/50-atomicd-test.conf
    fi
    if [ ! -f /etc/containers/registries.conf.d/51-atomicd-test-auth.conf ]; then
        printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$AUTH_REGISTRY" \
            >/etc/containers/registries.conf.d/51-atomicd-test-auth.conf
    fi
    if engine_answers $PODMAN_SOCK; then
        say "podman service already up"
    else
        rm -f $PODMAN_SOCK
        nohup podman system service --time=0 unix://$PODMAN_SOCK >"$WORLD/podman.log" 2>&1 &
        wait_for 30 "podman service" engine_answers $PODMAN_SOCK
        say "podman service started"
    fi
}

# A three-member etcd 3.4 cluster on loopback (clients on 12379, 22379, 32379), for the fleet
# reboot semaphore. `etcd_member N` starts member N again after a test killed it.
ETCD_CLUSTER=m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380
ETCD_ENDPOINTS=http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379
etcd_member() {
    local n=$1
    mkdir -p "$WORLD/etcd"
    local state=new
    [ -d "$WORLD/etcd/m$n/member" ] && state=existing
    nohup etcd --name "m$n" --data-dir "$WORLD/etcd/m$n" \
        --listen-client-urls "http://127.0.0.1:${n}2379" --advertise-client-urls "http://127.0.0.1:${n}2379" \
        --listen-peer-urls "http://127.0.0.1:${n}2380" --initial-advertise-peer-urls "http://127.0.0.1:${n}2380" \
        --initial-cluster "$ETCD_CLUSTER" --initial-cluster-token atomicd-test --initial-cluster-state "$state" \
        >"$WORLD/etcd-m$n.log" 2>&1 &
    echo $! >"$WORLD/etcd-m$n.pid"
}
etcd_healthy() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1; }
etcd_cluster() {
    if etcd_healthy; then say "etcd already up"; return 0; fi
    for n in 1 2 3; do stop_pid "$WORLD/etcd-m$n.pid"; done
    rm -rf "$WORLD/etcd"
    for n in 1 2 3; do etcd_member "$n"; done
    wait_for 30 "etcd cluster" etcd_healthy
    say "etcd cluster started"
}

# One etcd member whose clients must use TLS and show a certificate of the test CA
# (--client-cert-auth), on https://127.0.0.1:42379, with tests/fixtures/tls's certificates.
TLS_FILES=$ROOT/tests/fixtures/tls
etcd_tls_healthy() {
    ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:42379 --cacert "$TLS_FILES/ca.pem" \
        --cert "$TLS_FILES/client.pem" --key "$TLS_FILES/client-key.pem" endpoint health >/dev/null 2>&1
}
etcd_tls() {
    if etcd_tls_healthy; then say "etcd (TLS) already up"; return 0; fi
    stop_pid "$WORLD/etcd-tls.pid"
    rm -rf "$WORLD/etcd-tls"
    nohup etcd --name tls --data-dir "$WORLD/etcd-tls" \
        --listen-client-urls https://127.0.0.1:42379 --advertise-client-urls https://127.0.0.1:42379 \
        --listen-peer-urls http://127.0.0.1:42380 --initial-advertise-peer-urls http://127.0.0.1:42380 \
        --initial-cluster tls=http://127.0.0.1:42380 --initial-cluster-state new \
        --cert-file "$TLS_FILES/server.pem" --key-file "$TLS_FILES/server-key.pem" \
        --trusted-ca-file "$TLS_FILES/ca.pem" --client-cert-auth \
        >"$WORLD/etcd-tls.log" 2>&1 &
    echo $! >"$WORLD/etcd-tls.pid"
    wait_for 30 "etcd (TLS)" etcd_tls_healthy
    say "etcd (TLS) started"
}

docker_daemon() {
    if engine_answers $DOCKER_SOCK; then
        say "dockerd already up"
    else
        nohup dockerd >"$WORLD/dockerd.log" 2>&1 &
        wait_for 60 dockerd engine_answers $DOCKER_SOCK
        say "dockerd started"
    fi
}

registry() {
    if curl -sf --max-time 3 "http://$REGISTRY/v2/" >/dev/null; then
        say "registry already up"
    else
        mkdir -p "$WORLD/regdata"
        cat >"$WORLD/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $WORLD/regdata}, delete: {enabled: true}}
http: {addr: $REGISTRY}
YML
        nohup docker-registry serve "$WORLD/registry.yml" >"$WORLD/registry.log" 2>&1 &
        wait_for 20 registry curl -sf "http://$REGISTRY/v2/"
        say "registry started"
    fi
}

# The same registry program with htpasswd auth (bcrypt, the only hash it takes). The test user and
# password are in this file on purpose: they guard nothing but a loopback test registry.
auth_registry() {
    if curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://$AUTH_REGISTRY/v2/" | grep -q 401; then
        say "auth registry already up"
    else
        mkdir -p "$WORLD/authregdata"
        htpasswd -Bbn "$AUTH_USER" "$AUTH_PASSWORD" >"$WORLD/htpasswd"
        cat >"$WORLD/authregistry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $WORLD/authregdata}, delete: {enabled: true}}
http: {addr: $AUTH_REGISTRY}
auth: {htpasswd: {realm: atomicd-test, path: $WORLD/htpasswd}}
YML
        nohup docker-registry serve "$WORLD/authregistry.yml" >"$WORLD/authregistry.log" 2>&1 &
        wait_for 20 "auth registry" sh -c "curl -s -o /dev/null -w '%{http_code}' http://$AUTH_REGISTRY/v2/ | grep -q 401"
        say "auth registry started"
    fi
}

# Fixture images, built from busybox-static (no registry outside). Each engine gets the same set.
#   atomic-test/plain   no labels at all
#   atomic-test/tools   no labels; the SPC tools image
#   atomic-test/hello   LABEL RUN with a quoted sh -c and an exit code
#   atomic-test/vars    LABEL RUN echoing every substituted variable
#   atomic-test/shell, notrun, unknownflag, bad-*   labels atomicd must refuse
#   atomic-test/hostnet LABEL RUN asking for the host network (run-privileged)
#   atomic-test/envfile LABEL RUN with --env-file /var/tmp/atomicd-app/app.env
#   atomic-test/installable   LABEL INSTALL: Run refuses until installed
#   atomic-test/opt     LABEL RUN taking a flag from $OPT1 (the review's escapes)
#   atomic-test/svc     LABEL RUN of a named, detached, long-running container ($OPT1 flags)
#   atomic-test/service org.atomic.service=true and a detached RUN that says it is up, then waits
#   atomic-test/keep    LABEL RUN of a named container that is kept and reads one line of stdin
#   atomic-test/stoppable  RUN of a named detached container, and a STOP label
#   atomic-test/forged  RUN of a detached container, and every org.atomic.* label atomicd writes
#   atomic-test/badinstall, baduninstall  INSTALL / UNINSTALL labels that fail (and print $PWD)
#   atomic-test/app     RUN, INSTALL and UNINSTALL labels writing to /var/tmp/atomicd-app;
#                       also pushed to the local registry as 127.0.0.1:5000/atomic-test/app
#   The original atomic's own test images (its tests/integration), rebuilt on busybox:
#   atomic-test/ntpd    the seed's ntpd label: a named, detached container with --cap-add SYS_TIME
#   atomic-test/params  INSTALL and UNINSTALL printing each argument bracketed (test_params)
#   atomic-test/help, lowhelp   a HELP label, and one spelled `help` (test_help)
#   atomic-test/manpage no labels; a /help.1 man page in the image
#   atomic-test/runopts RUN_OPTS_FILE and ${RUN_OPTS} in its RUN label (test_run_opts)
#   127.0.0.1:5000/atomic-test/big   registry only: one 640 MiB layer of random bytes, so a pull
#                       takes seconds (progress, cancellation, faults during a pull)
rootfs() { # rootfs [DIR]: busybox, plus the files of DIR when given
    local r="$WORLD/rootfs"
    if [ ! -x "$r/bin/busybox" ]; then
        mkdir -p "$r/bin" "$r/tmp" "$r/etc"
        cp /bin/busybox "$r/bin/"
        for a in sh ls cat echo id sleep env true false printf tty stty wc head; do ln -sf busybox "$r/bin/$a"; done
        echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
        echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$r/etc/passwd"
    fi
    if [ -n "${1:-}" ]; then
        # Its entries by name: a second "." would be a duplicate path, which podman refuses.
        tar -C "$r" -c . -C "$1" $(cd "$1" && ls -A)
    else
        tar -C "$r" -c .
    fi
}

# The man page atomic-test/manpage carries as /help.1.
manpage_dir() {
    local d="$WORLD/manpage"
    mkdir -p "$d"
    cat >"$d/help.1" <<'MAN'
.TH MANPAGE 1 "December 2026" "atomic-test" "Test images"
.SH NAME
manpage \- an image that documents itself
.SH DESCRIPTION
Run it with \fBatomic run atomic-test/manpage\fR.
MAN
    echo "$d"
}

fixture() { # [FIXTURE_FILES=DIR] fixture ENGINE NAME [LABEL LINE]...
    local engine=$1 name=$2 files=${FIXTURE_FILES:-}; shift 2
    # The fixture's recipe is stamped on it, so a changed recipe rebuilds the image.
    local stamp
    stamp=$( (printf '%s\n' v2 "$name" "$@"; [ -z "$files" ] || tar -C "$files" -c --mtime=@0 --owner=0 --group=0 .) | sha256sum | cut -c1-16)
    if [ "$($engine image inspect --format '{{index .Config.Labels "atomic.test.fixture"}}' "$name" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    local changes=(--change "LABEL atomic.test.fixture=$stamp")
    while [ $# -gt 0 ]; do
        local value=$2
        # docker import reads --change as a Dockerfile line and expands $VARS; podman does not.
        [ "$engine" = docker ] && value=${value//\$/\\\$}
        changes+=(--change "LABEL $1=\"$value\"")
        shift 2
    done
    changes+=(--change 'CMD ["/bin/sh"]')
    rootfs "$files" | $engine import "${changes[@]}" - "$name" >/dev/null
    say "$engine: built $name"
}

fixtures() {
    for engine in podman docker; do
        fixture $engine atomic-test/plain:latest
        fixture $engine atomic-test/tools:latest
        fixture $engine atomic-test/hello:latest RUN "docker run --rm --name NAME -e NAME=NAME -e IMAGE=IMAGE IMAGE sh -c 'echo hello from \$NAME; exit 3'"
        fixture $engine atomic-test/vars:latest RUN "docker run --rm -e IMAGE=IMAGE IMAGE sh -c 'echo opt1=\$OPT1 pwd=\${PWD} uid=\$SUDO_UID home=\$HOME undef=\$UNDEFINED_X image=\$IMAGE'"
        fixture $engine atomic-test/shell:latest RUN "docker run --rm IMAGE echo a; reboot"
        fixture $engine atomic-test/bad-and:latest RUN "docker run --rm IMAGE true && reboot"
        fixture $engine atomic-test/bad-subst:latest RUN "docker run --rm IMAGE echo \$(id)"
        fixture $engine atomic-test/bad-backtick:latest RUN "docker run --rm IMAGE echo \`id\`"
        fixture $engine atomic-test/bad-quote:latest RUN "docker run --rm IMAGE echo 'unbalanced"
        fixture $engine atomic-test/notrun:latest RUN "/bin/sh -c 'docker run IMAGE'"
        fixture $engine atomic-test/unknownflag:latest RUN "docker run --rm --cpus 2 IMAGE true"
        fixture $engine atomic-test/hostnet:latest RUN "docker run --rm --net=host IMAGE true"
        fixture $engine atomic-test/app:latest \
            RUN "docker run --rm --name NAME IMAGE echo app running" \
            INSTALL "docker run --rm -v /var/tmp/atomicd-app:/out IMAGE sh -c 'echo installed as \$NAME > /out/\$NAME.installed'" \
            UNINSTALL "docker run --rm -v /var/tmp/atomicd-app:/out IMAGE sh -c 'rm /out/\$NAME.installed'"
        fixture $engine atomic-test/envfile:latest RUN "docker run --rm --env-file /var/tmp/atomicd-app/app.env IMAGE env"
        fixture $engine atomic-test/slowinstall:latest INSTALL "docker run --rm IMAGE sleep 4"
        fixture $engine atomic-test/installable:latest RUN "docker run --rm IMAGE true" INSTALL "docker run --rm IMAGE echo installing"
        fixture $engine atomic-test/opt:latest RUN "docker run --rm \$OPT1 IMAGE true"
        fixture $engine atomic-test/svc:latest RUN "docker run -d --name NAME \$OPT1 IMAGE sleep 300"
        fixture $engine atomic-test/service:latest org.atomic.service true \
            RUN "docker run -d --name NAME -e NAME=NAME IMAGE sh -c 'echo service \$NAME up; trap exit TERM; while :; do sleep 1; done'"
        fixture $engine atomic-test/keep:latest RUN "docker run -i --name NAME IMAGE head -n 1"
        fixture $engine atomic-test/badinstall:latest INSTALL "docker run --rm IMAGE sh -c 'echo pwd=\$PWD uid=\$SUDO_UID; exit 4'"
        fixture $engine atomic-test/baduninstall:latest INSTALL "docker run --rm IMAGE true" UNINSTALL "docker run --rm IMAGE sh -c 'echo refusing; exit 5'"
        # An image whose author set every label atomicd writes on its own containers.
        fixture $engine atomic-test/forged:latest RUN "docker run -d --name NAME IMAGE sleep 300" \
            org.atomic.managed 1 org.atomic.remove 1 org.atomic.caller-uid 0 org.atomic.operation Run \
            org.atomic.image atomic-test/forged
        fixture $engine atomic-test/stoppable:latest RUN "docker run -d --name NAME IMAGE sleep 300" STOP "docker run --rm IMAGE echo stopping NAME"
        fixture $engine atomic-test/ntpd:latest RUN "docker run -d --name NAME --cap-add SYS_TIME IMAGE sleep 300"
        fixture $engine atomic-test/params:latest INSTALL "docker run --rm IMAGE printf [%s]" UNINSTALL "docker run --rm IMAGE printf u[%s]"
        fixture $engine atomic-test/help:latest HELP "docker run --rm IMAGE echo help from the HELP label of IMAGE"
        fixture $engine atomic-test/lowhelp:latest help "docker run --rm IMAGE echo help from a label spelled help"
        FIXTURE_FILES=$(manpage_dir) fixture $engine atomic-test/manpage:latest
        fixture $engine atomic-test/runopts:latest RUN_OPTS_FILE "\$PWD/docker-run-opts-\${NAME}" \
            RUN "docker run --rm \${RUN_OPTS} IMAGE sh -c 'cat /etc/hostname; env'"
    done
    # The app image is also served by the local registry, for Install's pull.
    mkdir -p /var/tmp/atomicd-app
    docker tag atomic-test/app:latest $REGISTRY/atomic-test/app:latest
    docker push -q $REGISTRY/atomic-test/app:latest >/dev/null
    # Two tags of one repository: a pull without a tag must fetch only latest.
    docker tag atomic-test/app:latest $REGISTRY/atomic-test/tags:latest
    docker tag atomic-test/plain:latest $REGISTRY/atomic-test/tags:other
    docker push -q $REGISTRY/atomic-test/tags:latest >/dev/null
    docker push -q $REGISTRY/atomic-test/tags:other >/dev/null
    docker rmi $REGISTRY/atomic-test/tags:latest $REGISTRY/atomic-test/tags:other >/dev/null
    private_image
    big_image
    signatures
}

# The trust tests' world ($WORLD/trust): GPG keys made with gpg (signer, stranger), images in the
# local registry signed with skopeo standalone-sign into a lookaside served over http on
# 127.0.0.1:5080, a lookaside on 5081 that answers a gigabyte of garbage, and the policy and
# registries.d that name them. Each engine pulls the images, so each has their RepoDigests.
#   signed    signed by signer as itself      unsigned  no signature
#   wrongkey  signed by stranger              otherid   signed as .../someone-else:latest
#   retag     another image (plain) holding a signature of tools' digest
#   garbage   lookaside answers 1 GiB         down      lookaside does not answer
#   closed    a reject scope                  cosign    sigstoreSigned (the tests sign it)
#   built     tagged here, never pushed: no digest
#   tampered  signed by signer, then one byte of the signature changed
#   (and atomic-test/app, unsigned, whose INSTALL label writes to the host)
TRUST=$WORLD/trust
LOOKASIDE_PORT=5080
GARBAGE_PORT=5081
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
sign_into_lookaside() { # sign_into_lookaside REPO-PATH IDENTITY KEY-FINGERPRINT
    local path=$1 identity=$2 key=$3 manifest digest
    manifest=$(mktemp)
    skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$path:latest" >"$manifest"
    digest=sha256:$(sha256sum "$manifest" | cut -c1-64)
    local dir="$TRUST/lookaside/$path@${digest/:/=}"
    mkdir -p "$dir"
    GNUPGHOME=$TRUST/gnupg skopeo standalone-sign "$manifest" "$identity" "$key" -o "$dir/signature-1"
    rm -f "$manifest"
}
signatures() {
    mkdir -p "$TRUST/gnupg" "$TRUST/registries.d" && chmod 700 "$TRUST/gnupg"
    local who
    for who in signer stranger; do
        if ! GNUPGHOME=$TRUST/gnupg gpg --batch --list-keys "atomic test $who" >/dev/null 2>&1; then
            GNUPGHOME=$TRUST/gnupg gpg --batch --passphrase '' --quick-gen-key "atomic test $who <$who@example.org>" ed25519 sign never 2>/dev/null
        fi
        GNUPGHOME=$TRUST/gnupg gpg --batch --export "atomic test $who" >"$TRUST/$who.gpg"
    done
    local fpr stranger_fpr
    fpr=$(GNUPGHOME=$TRUST/gnupg gpg --batch --with-colons --list-keys "atomic test signer" | awk -F: '/^fpr/ {print $10; exit}')
    stranger_fpr=$(GNUPGHOME=$TRUST/gnupg gpg --batch --with-colons --list-keys "atomic test stranger" | awk -F: '/^fpr/ {print $10; exit}')
    rm -rf "$TRUST/lookaside"
    local name
    for name in signed unsigned wrongkey otherid garbage down closed cosign tampered; do
        docker tag atomic-test/tools:latest "$REGISTRY/atomic-test/$name:latest"
        docker push -q "$REGISTRY/atomic-test/$name:latest" >/dev/null
    done
    docker tag atomic-test/plain:latest "$REGISTRY/atomic-test/retag:latest"
    docker push -q "$REGISTRY/atomic-test/retag:latest" >/dev/null
    sign_into_lookaside atomic-test/signed "$REGISTRY/atomic-test/signed:latest" "$fpr"
    sign_into_lookaside atomic-test/wrongkey "$REGISTRY/atomic-test/wrongkey:latest" "$stranger_fpr"
    sign_into_lookaside atomic-test/otherid "$REGISTRY/atomic-test/someone-else:latest" "$fpr"
    sign_into_lookaside atomic-test/tampered "$REGISTRY/atomic-test/tampered:latest" "$fpr"
    python3 - "$TRUST"/lookaside/atomic-test/tampered@*/signature-1 <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 2] ^= 0x01
open(sys.argv[1], "wb").write(data)
PY
    # retag's own digest holds a signature of tools' digest (signed's manifest), as if copied.
    local tools_sig plain_digest
    tools_sig=$(ls "$TRUST"/lookaside/atomic-test/signed@*/signature-1)
    plain_digest=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/atomic-test/retag:latest" | sha256sum | cut -c1-64)
    mkdir -p "$TRUST/lookaside/atomic-test/retag@sha256=$plain_digest"
    cp "$tools_sig" "$TRUST/lookaside/atomic-test/retag@sha256=$plain_digest/signature-1"
    local engine
    for engine in podman docker; do
        for name in signed unsigned wrongkey otherid garbage down closed cosign retag tampered; do
            $engine pull -q "$REGISTRY/atomic-test/$name:latest" >/dev/null
        done
        $engine tag atomic-test/tools:latest "$REGISTRY/atomic-test/built:latest"
    done
    cat >"$TRUST/registries.d/test.yaml" <<YML
docker:
  $REGISTRY:
    lookaside: http://127.0.0.1:$LOOKASIDE_PORT
    use-sigstore-attachments: true
  $REGISTRY/atomic-test/garbage:
    lookaside: http://127.0.0.1:$GARBAGE_PORT
  $REGISTRY/atomic-test/down:
    lookaside: http://127.0.0.1:9
YML
    local by="{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"$TRUST/signer.gpg\"}"
    cat >"$TRUST/policy.json" <<JSON
{
  "default": [{"type": "insecureAcceptAnything"}],
  "transports": {"docker": {
    "$REGISTRY/atomic-test/signed": [$by], "$REGISTRY/atomic-test/unsigned": [$by],
    "$REGISTRY/atomic-test/wrongkey": [$by], "$REGISTRY/atomic-test/otherid": [$by],
    "$REGISTRY/atomic-test/retag": [$by], "$REGISTRY/atomic-test/garbage": [$by],
    "$REGISTRY/atomic-test/down": [$by], "$REGISTRY/atomic-test/built": [$by],
    "$REGISTRY/atomic-test/tampered": [$by], "$REGISTRY/atomic-test/app": [$by],
    "$REGISTRY/atomic-test/closed": [{"type": "reject"}],
    "$REGISTRY/atomic-test/cosign": [{"type": "sigstoreSigned", "keyPath": "$TRUST/cosign.pub"}]
  }}
}
JSON
    if ! listening $LOOKASIDE_PORT; then
        nohup python3 -m http.server "$LOOKASIDE_PORT" --bind 127.0.0.1 --directory "$TRUST/lookaside" >"$WORLD/lookaside.log" 2>&1 &
        wait_for 20 lookaside listening $LOOKASIDE_PORT
    fi
    if ! listening $GARBAGE_PORT; then
        nohup python3 "$ROOT/tests/support/garbage-http.py" "$GARBAGE_PORT" >"$WORLD/garbage.log" 2>&1 &
        wait_for 20 "garbage lookaside" listening $GARBAGE_PORT
    fi
    say "trust: signed images and lookaside ready"
}

# 127.0.0.1:5001/atomic-test/private: the plain image behind the login. The push logs in with a
# throwaway DOCKER_CONFIG, so no engine's usual auth file learns the password.
private_image() {
    local ref=$AUTH_REGISTRY/atomic-test/private:latest
    if curl -sfI -u "$AUTH_USER:$AUTH_PASSWORD" "http://$AUTH_REGISTRY/v2/atomic-test/private/manifests/latest" >/dev/null; then
        return 0
    fi
    local config
    config=$(mktemp -d)
    docker --config "$config" login -u "$AUTH_USER" --password-stdin "$AUTH_REGISTRY" <<<"$AUTH_PASSWORD" >/dev/null 2>&1
    docker tag atomic-test/plain:latest "$ref"
    docker --config "$config" push -q "$ref" >/dev/null
    docker rmi "$ref" >/dev/null
    rm -rf "$config"
    say "auth registry: pushed $ref"
}

big_image() {
    local ref=$REGISTRY/atomic-test/big:latest
    if curl -sfI "http://$REGISTRY/v2/atomic-test/big/manifests/latest" >/dev/null; then return 0; fi
    local r="$WORLD/bigroot"
    rm -rf "$r" && mkdir -p "$r" && rootfs | tar -C "$r" -x
    # Random bytes do not compress: the layer stays large on the wire.
    head -c 640M /dev/urandom >"$r/big.bin"
    tar -C "$r" -c . | docker import --change 'LABEL INSTALL="docker run --rm IMAGE true"' - "$ref" >/dev/null
    docker push -q "$ref" >/dev/null
    # Only the registry keeps it: every test pull starts from nothing.
    docker rmi "$ref" >/dev/null
    rm -rf "$r"
    say "registry: pushed $ref"
}

daemon() {
    local bin=${ATOMICD_BIN:-$ROOT/target/debug/atomicd}
    if bus_has org.atomic; then say "atomicd already owns org.atomic"; return 0; fi
    [ -x "$bin" ] || (cd "$ROOT" && cargo build --quiet)
    nohup "$bin" --log-target=stderr --state-dir "$WORLD/state" >"$WORLD/atomicd.log" 2>&1 &
    echo $! >"$WORLD/atomicd.pid"
    wait_for 15 atomicd bus_has org.atomic
    say "atomicd started (log: $WORLD/atomicd.log)"
}

stop_daemon() {
    if [ -f "$WORLD/atomicd.pid" ]; then
        kill "$(cat "$WORLD/atomicd.pid")" 2>/dev/null || true
        rm -f "$WORLD/atomicd.pid"
    fi
}

case "${1:-up}" in
    up) system_bus; polkit; podman_service; docker_daemon; registry; auth_registry; fixtures; etcd_cluster; etcd_tls ;;
    etcd-member) etcd_member "$2"; wait_for 30 "etcd member $2" etcd_healthy ;;
    etcd-stop)
        [ -f "$WORLD/etcd-m$2.pid" ] || { say "etcd member $2 has no recorded PID"; exit 1; }
        stop_pid "$WORLD/etcd-m$2.pid" ;;
    daemon) system_bus; polkit; podman_service; docker_daemon; registry; auth_registry; fixtures; daemon ;;
    stop-daemon) stop_daemon ;;
    status) busctl --system --no-pager list | grep -E 'org.atomic|PolicyKit' || true
            engine_answers $PODMAN_SOCK && echo "podman: up"; engine_answers $DOCKER_SOCK && echo "docker: up" ;;
    *) echo "usage: $0 up|daemon|stop-daemon|status" >&2; exit 2 ;;
esac
