#!/usr/bin/env bash
# The Cockpit page in a real browser: Debian's cockpit-ws and cockpit-bridge serve the page as
# `make install` lays it out, against the real atomicd on the test world's system bus and polkitd,
# with a podman API service of its own (so the engine can be stopped mid-test) and the ostree
# backend on a sysroot whose remote is served slowly over HTTP (so an upgrade's progress shows).
# Headless Chromium from Debian, driven by playwright-core from npm; no browser download.
#
# Two cockpit-ws: one as root (port 9191), one as an unprivileged user (9192).
# Needs the test world (tests/world.sh up) and a build (cargo build, make cockpit).
# Screenshots go to tests/cockpit/screenshots/. Exits non-zero when a scenario failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
HERE=${ATOMIC_WORLD_DIR:-/var/tmp/atomicd-world}/cockpit
TESTER=atomic-web
ROOT_PORT=9191
USER_PORT=9192
ENGINE_SOCK=/run/atomicd-cockpit/podman.sock
export LANG=C.UTF-8

say() { printf 'cockpit: %s\n' "$*" >&2; }
# shellcheck source=../support/wait.sh
. "$ROOT/tests/support/wait.sh"
# shellcheck source=../support/pids.sh
. "$ROOT/tests/support/pids.sh"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    # The engine the scenarios may have restarted: its PID is in the file, never found by name.
    stop_pid "$HERE/podman.pid"
    for c in svc cli-made; do podman rm -f "$c" >/dev/null 2>&1 || true; done
    if [ -d "$HERE/sysroot" ]; then chattr -R -i "$HERE/sysroot" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

engine_up() {
    mkdir -p "$(dirname "$ENGINE_SOCK")"
    rm -f "$ENGINE_SOCK"
    stop_pid "$HERE/podman.pid"
    nohup podman system service --time=0 "unix://$ENGINE_SOCK" >"$HERE/podman.log" 2>&1 &
    echo $! >"$HERE/podman.pid"
    wait_for 30 "podman service" curl -sf --unix-socket "$ENGINE_SOCK" http://engine/_ping
}

# A sysroot on version 1.0 whose origin is a remote served with a delay per request.
sysroot() {
    local s=$HERE/sysroot t=$HERE/tree
    # libostree marks deployment roots immutable; a run that was killed left them so.
    if [ -d "$s" ]; then chattr -R -i "$s" 2>/dev/null || true; fi
    rm -rf "$s" "$t" "$HERE/remote"
    mkdir -p "$s" "$t/usr/lib/modules/6.1.0" "$t/usr/etc" "$t/usr/share/filler"
    echo kernel >"$t/usr/lib/modules/6.1.0/vmlinuz"
    echo initramfs >"$t/usr/lib/modules/6.1.0/initramfs.img"
    printf 'ID=testos\nPRETTY_NAME="Test OS"\n' >"$t/usr/lib/os-release"
    ostree init --repo="$HERE/remote" --mode=archive
    ostree --repo="$HERE/remote" commit -b testos/stable --add-metadata-string=version=1.0 --tree=dir="$t" >/dev/null
    rm -f "$HERE/remote.port"
    python3 tests/support/slow-http.py "$HERE/remote" "$HERE/remote.port" 0.01 &
    PIDS+=($!)
    wait_for 10 "the ostree remote" test -s "$HERE/remote.port"
    local url="http://127.0.0.1:$(cat "$HERE/remote.port")"
    ostree admin init-fs "$s"
    ostree admin os-init --sysroot="$s" testos
    ostree remote add --repo="$s/ostree/repo" --no-gpg-verify origin "$url"
    ostree pull --repo="$s/ostree/repo" origin testos/stable >/dev/null
    ostree admin deploy --sysroot="$s" --os=testos origin:testos/stable >/dev/null
}

# The page as `make install` lays it out, in a root of its own that cockpit reads through
# XDG_DATA_DIRS; the manifest's condition names that root's activation file.
page() {
    rm -rf "$HERE/dest"
    make --no-print-directory install DESTDIR="$HERE/dest" PREFIX=/usr PROFILE=dev >/dev/null
    sed -i "s|/usr/share/dbus-1/system-services|$HERE/dest/usr/share/dbus-1/system-services|" \
        "$HERE/dest/usr/share/cockpit/atomic/manifest.json"
    chmod go+rx "$(dirname "$HERE")" "$HERE"
    chmod -R go+rX "$HERE/dest"
}

cockpit_ws() { # cockpit_ws PORT [USER]
    local port=$1 user=${2:-}
    local run=(env XDG_DATA_DIRS="$HERE/dest/usr/share:/usr/share" /usr/lib/cockpit/cockpit-ws
        --no-tls --local-session=cockpit-bridge --port "$port" --address 127.0.0.1)
    if [ -n "$user" ]; then run=(runuser -u "$user" -- "${run[@]}"); fi
    "${run[@]}" >"$HERE/ws-$port.log" 2>&1 &
    PIDS+=($!)
    wait_for 15 "cockpit-ws on $port" curl -sf "http://127.0.0.1:$port/cockpit/@localhost/atomic/index.html"
}

mkdir -p "$HERE"
id "$TESTER" >/dev/null 2>&1 || useradd --system --create-home "$TESTER"
(cd tests/cockpit && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error)
make --no-print-directory cockpit >/dev/null
engine_up
sysroot
page
# An atomicd a run that was killed left behind, by the PID that run recorded.
stop_pid "$HERE/atomicd.pid"
rm -rf "$HERE/state"
# An application installed as a service, as atomicd records one (atomic-test/hello, updated from
# atomic-test/plain), for the Services table: Install --service needs systemd's D-Bus API, which
# this world has not got (tests/systemd/run.sh installs them for real, under systemd as PID 1).
seed_application() {
    local now current previous
    now=$(date +%s)
    current="sha256:$(podman image inspect -f '{{.Id}}' localhost/atomic-test/hello:latest)"
    previous="sha256:$(podman image inspect -f '{{.Id}}' localhost/atomic-test/plain:latest)"
    mkdir -p -m 0700 "$HERE/state"
    python3 - "$HERE/state/applications.json" "$now" "$current" "$previous" <<'PY'
import json, sys
path, now, current, previous = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
line = ["docker", "run", "-d", "--name", "cockpit-svc", "localhost/atomic-test/hello:latest", "sleep", "600"]
release = lambda image_id: {"image_id": image_id, "argv": line, "privileges": []}
app = {"name": "cockpit-svc", "image": "localhost/atomic-test/hello:latest", "installed_by": 0,
       "installed_at": now - 3600, "current": release(current), "previous": release(previous),
       "last_result": "updated: a new image runs", "last_change": now - 60}
json.dump({"cockpit-svc": app}, open(path, "w"), indent=2)
PY
}
seed_application
# The trust tests' policy (tests/world.sh `signatures`): the Trust view and the verdicts show it.
TRUST=${ATOMIC_WORLD_DIR:-/var/tmp/atomicd-world}/trust
target/debug/atomicd --log-target=stderr --state-dir "$HERE/state" --engine-socket "$ENGINE_SOCK" \
    --host-backend ostree --sysroot "$HERE/sysroot" \
    --policy "$TRUST/policy.json" --registries-d "$TRUST/registries.d" >"$HERE/atomicd.log" 2>&1 &
PIDS+=($!)
echo $! >"$HERE/atomicd.pid"
wait_for 15 atomicd sh -c "busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s org.atomic | grep -q true"
cockpit_ws "$ROOT_PORT"
cockpit_ws "$USER_PORT" "$TESTER"
say "atomicd, two cockpit-ws and the slow remote are up; running the browser"

export COCKPIT_HERE=$HERE ROOT_URL="http://127.0.0.1:$ROOT_PORT" USER_URL="http://127.0.0.1:$USER_PORT" \
    ENGINE_SOCK ATOMIC_CLI="$ROOT/target/debug/atomic"
if [ -n "${COCKPIT_HOLD:-}" ]; then say "holding (COCKPIT_HOLD)"; sleep infinity; fi
if ! node tests/cockpit/scenarios.mjs; then
    say "atomicd's log, its last 40 lines:"
    tail -n 40 "$HERE/atomicd.log" >&2
    exit 1
fi
