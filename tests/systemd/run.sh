#!/usr/bin/env bash
# atomicd under a real systemd, end to end: the project's .deb installed with apt on the systemd
# test machine (machine.sh), then the unit, bus activation, journald, the watchdog, polkit,
# the hardened unit writing a real ostree sysroot pulled over HTTP, and a reboot through logind.
# Needs the test world (tests/world.sh up) and a build (cargo build). Prints what each check
# saw; exits 1 when any failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORLD=${ATOMIC_WORLD_DIR:-/var/tmp/atomicd-world}
HERE=$WORLD/machine
M=atomicd-machine
REMOTE_PORT=8173
FAILED=0
# shellcheck source=../support/pids.sh
. "$ROOT/tests/support/pids.sh"

inside() { podman exec "$M" "$@"; }
say() { printf '\n== %s\n' "$*"; }
pass() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*"; FAILED=$((FAILED + 1)); }
expect_eq() { # expect_eq WHAT GOT WANT
    if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
expect_in() { # expect_in WHAT TEXT NEEDLE
    if grep -qF -- "$3" <<<"$2"; then pass "$1"; else fail "$1: '$3' not in: $2"; fi
}
# Waits up to SECONDS for COMMAND to succeed.
wait_until() {
    local secs=$1; shift
    for _ in $(seq $((secs * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    return 1
}
unit_prop() { inside systemctl show -p "$1" --value atomicd; }
is_active() { [ "$(inside systemctl is-active atomicd)" = "$1" ]; }
# The journal records of this boot with FIELD=VALUE, as JSON lines.
journal() { inside journalctl -b -o json --no-pager "$@"; }
field() { python3 -c "import json,sys; print('\n'.join(str(json.loads(l).get('$1','')) for l in sys.stdin if l.strip()))"; }

# --- the package ---------------------------------------------------------------------------
package() {
    say "the Debian package, installed with apt"
    make --no-print-directory deb PROFILE=dev >"$HERE/deb.log" 2>&1 || { fail "make deb: $(tail -3 "$HERE/deb.log")"; return; }
    local deb
    deb=$(ls target/atomicd_*.deb)
    podman cp "$deb" "$M:/root/atomicd.deb"
    local out
    out=$(inside apt-get install -y /root/atomicd.deb 2>&1)
    expect_in "apt install ./atomicd.deb" "$out" "Setting up atomicd"
    expect_eq "the unit is enabled" "$(inside systemctl is-enabled atomicd)" enabled
    for f in /usr/share/polkit-1/actions/org.atomic.policy /usr/share/dbus-1/system.d/org.atomic.conf \
        /usr/share/dbus-1/system-services/org.atomic.service /usr/lib/systemd/catalog/atomicd.catalog; do
        inside test -f "$f" && pass "$f in place" || fail "$f missing"
    done
    # The test drop-in only points atomicd at the test sysroot; every other line is the unit's.
    inside mkdir -p /etc/systemd/system/atomicd.service.d
    inside sh -c 'printf "[Service]\nExecStart=\nExecStart=/usr/libexec/atomicd --log-target=auto --host-backend ostree --sysroot /sysroot\n" > /etc/systemd/system/atomicd.service.d/test.conf'
    inside systemctl daemon-reload
    # apt started it with the package's line: the steps after this one (alone too) need the drop-in's.
    inside systemctl try-restart atomicd
}

# --- Type=notify, STATUS= and the engine --------------------------------------------------
notify_and_status() {
    say "systemctl restart: Type=notify, STATUS= naming running jobs"
    expect_eq "started by the package's postinst" "$(inside systemctl is-active atomicd)" active
    # Started again so the test drop-in applies.
    inside systemctl restart atomicd
    expect_eq "active through Type=notify" "$(inside systemctl is-active atomicd)" active
    expect_in "STATUS= once ready" "$(unit_prop StatusText)" "serving org.atomic"
    podman exec -d "$M" atomic run --name sysd-sleeper atomic-test/plain sleep 20 >/dev/null
    if wait_until 20 sh -c "podman exec $M systemctl show -p StatusText --value atomicd | grep -q 'running: Run atomic-test/plain'"; then
        pass "STATUS= names the running job: $(unit_prop StatusText)"
        inside systemctl status atomicd --no-pager | sed -n '1,9p' 
    else
        fail "STATUS= never named the Run: $(unit_prop StatusText)"
    fi
}

# --- Install, Run, Uninstall through the engine socket ------------------------------------
labels() {
    say "Install, Run, Uninstall under the hardened unit"
    rm -f /var/tmp/atomicd-app/sysd-app.installed
    local out
    out=$(inside atomic install --name sysd-app atomic-test/app 2>&1)
    expect_eq "the INSTALL label wrote its file on the engine's host" \
        "$(cat /var/tmp/atomicd-app/sysd-app.installed 2>/dev/null)" "installed as sysd-app"
    expect_in "the install record" "$(inside cat /var/lib/atomic/installed.json)" '"sysd-app"'
    out=$(inside atomic run atomic-test/hello 2>&1)
    expect_eq "atomic run's exit code is the container's" "$(inside sh -c 'atomic run -q atomic-test/hello >/dev/null 2>&1; echo $?')" 3
    expect_in "atomic run's output" "$out" "hello from hello"
}

uninstall_app() {
    local out
    out=$(inside atomic uninstall --name sysd-app --keep-image atomic-test/app 2>&1)
    if [ ! -e /var/tmp/atomicd-app/sysd-app.installed ]; then pass "the UNINSTALL label removed the file"; else fail "uninstall: $out"; fi
}

# --- apt remove keeps the records; purge drops them ----------------------------------------
remove_and_reinstall() {
    say "apt remove keeps the install records, apt install brings atomicd back with them"
    inside apt-get remove -y atomicd >/dev/null 2>&1
    expect_eq "the service is gone with the package" "$(inside systemctl is-active atomicd)" inactive
    expect_in "the records stay after remove" "$(inside cat /var/lib/atomic/installed.json 2>&1)" '"sysd-app"'
    inside apt-get install -y /root/atomicd.deb >/dev/null 2>&1
    expect_in "atomic status lists the record after reinstall" "$(inside atomic status 2>&1)" "sysd-app"
}

# --- bus activation and --idle-exit ----------------------------------------------------------
activation() {
    say "bus activation starts a stopped atomicd; --idle-exit lets it stop and come back"
    inside systemctl stop atomicd
    expect_eq "stopped" "$(inside systemctl is-active atomicd)" inactive
    local out
    out=$(inside busctl call org.atomic /org/atomic/Manager org.atomic.Manager ListImages 'a{sv}' 0 2>&1)
    expect_in "busctl call on a stopped service answers" "${out:0:60}" 'aa{sv} '
    printf '%s...\n' "${out:0:100}"
    expect_eq "started by bus activation" "$(inside systemctl is-active atomicd)" active
    inside sh -c 'printf "[Service]\nExecStart=\nExecStart=/usr/libexec/atomicd --log-target=auto --host-backend ostree --sysroot /sysroot --idle-exit 2\n" > /etc/systemd/system/atomicd.service.d/test.conf'
    inside systemctl daemon-reload
    inside systemctl restart atomicd
    if wait_until 15 sh -c "podman exec $M systemctl is-active atomicd | grep -qx inactive"; then
        pass "idle for 2 s: stopped by itself ($(unit_prop Result))"
    else
        fail "did not exit when idle: $(inside systemctl is-active atomicd)"
    fi
    out=$(inside atomic images 2>&1)
    expect_in "the next call starts it again" "$out" "atomic-test/hello"
    inside sh -c 'printf "[Service]\nExecStart=\nExecStart=/usr/libexec/atomicd --log-target=auto --host-backend ostree --sysroot /sysroot\n" > /etc/systemd/system/atomicd.service.d/test.conf'
    inside systemctl daemon-reload
    inside systemctl restart atomicd
}

# --- journald ---------------------------------------------------------------------------------
journal_fields() {
    say "journald: fields named as systemd services name theirs, a MESSAGE_ID per kind"
    local ended
    ended=$(journal MESSAGE_ID=4aae4db1661b4367838a2b84381c8236 OPERATION=Install | tail -1)
    printf '%s\n' "$ended" | python3 -c "
import json, sys
r = json.load(sys.stdin)
print(json.dumps({k: v for k, v in r.items() if not k.startswith('_') and k not in ('__CURSOR', '__MONOTONIC_TIMESTAMP', '__REALTIME_TIMESTAMP', '__SEQNUM', '__SEQNUM_ID')}, indent=1, sort_keys=True))"
    for f in JOB OPERATION IMAGE UID CALLER OUTCOME MESSAGE_ID; do
        [ -n "$(printf '%s' "$ended" | field "$f")" ] && pass "field $f" || fail "no $f= in the job's end record"
    done
    expect_in "no F_ prefix" "$(journal -u atomicd | grep -c '"F_JOB"' || true)" 0
    expect_eq "a job that succeeded has no ERROR=" "$(printf '%s' "$ended" | python3 -c "import json,sys; print('ERROR' in json.load(sys.stdin))")" False
    expect_eq "journalctl OPERATION=Install" "$(journal OPERATION=Install MESSAGE_ID=18d098ac759e4a76b2dac30944ff9281 | field IMAGE | sort -u)" "atomic-test/app"
    local kinds
    kinds=$(journal -u atomicd | field MESSAGE_ID | sort -u | grep -c .)
    if [ "$kinds" -ge 5 ]; then pass "$kinds kinds of MESSAGE_ID in this boot"; else fail "only $kinds MESSAGE_IDs"; fi
}

# --- watchdog and stop ------------------------------------------------------------------------
watchdog() {
    say "watchdog: a stopped atomicd is restarted within WatchdogSec"
    local pid restarts sec
    pid=$(unit_prop MainPID)
    restarts=$(unit_prop NRestarts)
    sec=$(($(unit_prop WatchdogUSec | sed 's/s$//')))
    inside sh -c "kill -STOP $pid"
    local start=$SECONDS
    if wait_until $((sec + 30)) sh -c "[ \"\$(podman exec $M systemctl show -p MainPID --value atomicd)\" != $pid ] && podman exec $M systemctl is-active atomicd | grep -qx active"; then
        pass "SIGSTOPped pid $pid replaced by $(unit_prop MainPID) after $((SECONDS - start)) s (WatchdogSec=${sec}s)"
    else
        fail "not restarted: MainPID $(unit_prop MainPID), $(inside systemctl is-active atomicd)"
    fi
    expect_eq "NRestarts" "$(unit_prop NRestarts)" $((restarts + 1))
    inside journalctl -u atomicd --no-pager -b | grep -E "[Ww]atchdog|Scheduled restart" | tail -3
    expect_eq "the next call works" "$(inside sh -c 'atomic run -q atomic-test/hello >/dev/null 2>&1; echo $?')" 3
}

stop_during_run() {
    say "systemctl stop during a Run cancels it and removes its container"
    podman rm -f sysd-long >/dev/null 2>&1
    podman exec -d "$M" atomic run --name sysd-long atomic-test/plain sleep 300 >/dev/null
    wait_until 20 sh -c "podman ps --filter name=^sysd-long\$ --format '{{.Names}}' | grep -q sysd-long" ||
        fail "the Run's container never started"
    local start=$SECONDS timeout
    timeout=$(($(unit_prop TimeoutStopUSec | sed 's/s$//')))
    inside systemctl stop atomicd
    local took=$((SECONDS - start))
    if [ "$took" -lt "$timeout" ]; then pass "stopped in ${took} s (TimeoutStopSec=${timeout}s), $(unit_prop Result)"; else fail "stop took ${took} s"; fi
    expect_eq "the Run's container is gone" "$(podman ps -a --filter name=^sysd-long\$ --format '{{.Names}}')" ""
    expect_eq "its job ended cancelled" "$(journal MESSAGE_ID=4aae4db1661b4367838a2b84381c8236 OPERATION=Run | tail -1 | field OUTCOME)" cancelled
    expect_eq "its ERROR= names the D-Bus error" "$(journal MESSAGE_ID=4aae4db1661b4367838a2b84381c8236 OPERATION=Run | tail -1 | field ERROR)" org.atomic.Error.Cancelled
    inside systemctl start atomicd
}

# --- polkit -----------------------------------------------------------------------------------
polkit() {
    say "polkit inside: a user is denied Run until a rules.d rule grants it"
    inside sh -c 'id tester >/dev/null 2>&1 || useradd -m tester'
    local out
    out=$(inside runuser -u tester -- atomic run atomic-test/hello 2>&1)
    expect_in "denied without a rule" "$out" "not allowed"
    inside sh -c 'cat > /etc/polkit-1/rules.d/50-atomicd-tester.rules <<EOF
polkit.addRule(function (action, subject) {
    if (action.id == "org.atomic.run" && subject.user == "tester") return polkit.Result.YES;
});
EOF'
    wait_until 10 sh -c "podman exec $M runuser -u tester -- atomic run -q atomic-test/hello 2>&1 | grep -q 'hello from'"
    out=$(inside runuser -u tester -- atomic run -q atomic-test/hello 2>&1)
    expect_in "allowed by the rule" "$out" "hello from hello"
    out=$(inside runuser -u tester -- atomic install atomic-test/installable 2>&1)
    expect_in "the rule grants Run only" "$out" "not allowed"
}

# --- settings ---------------------------------------------------------------------------------
# The hardened unit (ProtectSystem=strict) must still write what its methods promise to write.
settings_writes() {
    say "the unit writes its update policy (/etc/atomic) and the trust policy (/etc/containers)"
    local out
    out=$(inside atomic host updates --policy check --interval 6h 2>&1)
    expect_in "SetUpdatePolicy under the unit" "$out" "check"
    if inside grep -q 'check' /etc/atomic/atomicd.toml.d/50-set-update-policy.toml; then
        pass "the drop-in is in /etc/atomic/atomicd.toml.d"
    else
        fail "no drop-in in /etc/atomic/atomicd.toml.d"
    fi
    inside atomic host updates --policy none >/dev/null 2>&1 || fail "policy none"
    out=$(inside atomic trust add sysd.example/team --type reject 2>&1) || fail "TrustAdd under the unit: $out"
    expect_in "TrustAdd under the unit" "$(inside cat /etc/containers/policy.json)" "sysd.example/team"
    out=$(inside atomic trust delete sysd.example/team 2>&1) || fail "TrustRemove under the unit: $out"
}

# --- applications as services ----------------------------------------------------------------
# The engine is the test world's podman (through the socket): `podman` here sees what the
# machine's units made.
app_container() { podman ps --filter name=^sysd-web\$ --format '{{.ID}}'; }
app_active() { [ "$(inside systemctl is-active atomic-app-sysd-web)" = active ]; }
app_field() { # app_field KEY: the sysd-web entry's KEY in `atomic apps --json`
    inside atomic apps --json | python3 -c "import json,sys; print([a for a in json.load(sys.stdin) if a['name']=='sysd-web'][0]['$1'])"
}

service_app() {
    say "install --service: an enabled atomic-app-NAME.service that runs atomicd's record (engine: podman)"
    podman rm -f sysd-web >/dev/null 2>&1
    local out
    out=$(inside atomic install --service --name sysd-web atomic-test/service 2>&1)
    printf '%s\n' "$out"
    expect_in "install names the unit" "$out" "atomic-app-sysd-web.service"
    expect_eq "the unit is enabled" "$(inside systemctl is-enabled atomic-app-sysd-web)" enabled
    expect_in "the unit file is atomicd's, naming only the application" \
        "$(inside cat /etc/systemd/system/atomic-app-sysd-web.service)" "ExecStart=/usr/bin/atomic apps run sysd-web"
    if wait_until 30 sh -c "podman ps --filter name=^sysd-web\$ --format '{{.Names}}' | grep -qx sysd-web"; then
        pass "the unit started the container"
    else
        fail "no running sysd-web: $(inside systemctl status atomic-app-sysd-web --no-pager 2>&1 | tail -5)"
    fi
    wait_until 20 app_active && pass "the unit is active" || fail "the unit is $(inside systemctl is-active atomic-app-sysd-web)"
    wait_until 20 sh -c "podman exec $M journalctl -u atomic-app-sysd-web --no-pager | grep -q 'service sysd-web up'"
    expect_eq "the container's output is in the unit's journal, under the app's name" \
        "$(journal -u atomic-app-sysd-web | python3 -c "import json,sys; print(sorted({r.get('SYSLOG_IDENTIFIER','') for r in map(json.loads, sys.stdin) if 'service sysd-web up' in str(r.get('MESSAGE',''))}))")" "['sysd-web']"
    inside systemctl status atomic-app-sysd-web --no-pager 2>&1 | sed -n '1,12p'
    inside atomic apps
    expect_eq "atomic apps --json: the unit's state" "$(app_field unit-state)" "active (running)"
    expect_eq "atomic apps --json: the container" "$(app_field container)" running
    expect_in "atomic status names the service" "$(inside atomic status)" "atomic-app-sysd-web.service active (running)"
}

# Versions of an application in the local registry, each its own image (the version label
# differs): built with podman on atomic-test/plain, pushed, and untagged here, so a round's
# pull really fetches it.
SVC_REF=127.0.0.1:5000/atomic-test/svcapp
svc_run() { echo "docker run -d ${2:-}--name NAME -e NAME=NAME IMAGE sh -c 'echo svcapp $1 up as \$NAME; trap exit TERM; while :; do sleep 1; done'"; }
svc_image() { # svc_image VERSION RUN-LINE [HEALTHCHECK-COMMAND]
    local dir=$HERE/svcimg
    rm -rf "$dir" && mkdir -p "$dir"
    {
        echo "FROM localhost/atomic-test/plain:latest"
        printf 'LABEL RUN=%s version=%s\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$2")" "$1"
        [ -z "${3:-}" ] || echo "HEALTHCHECK --interval=2s --retries=1 CMD $3"
    } >"$dir/Containerfile"
    podman build -q --format docker -t "$SVC_REF:latest" "$dir" >/dev/null 2>"$HERE/build.log" || fail "podman build $1: $(tail -2 "$HERE/build.log")"
    podman push -q --tls-verify=false "$SVC_REF:latest" >/dev/null 2>&1 || fail "podman push $1"
    podman image inspect -f '{{.Id}}' "$SVC_REF:latest" | sed 's/^sha256://'
}
upd_field() { # upd_field KEY
    inside atomic apps --json | python3 -c "import json,sys; print([a for a in json.load(sys.stdin) if a['name']=='sysd-upd'][0]['$1'])"
}
upd_updating() { inside cat /var/lib/atomic/applications.json | python3 -c "import json,sys; print(json.load(sys.stdin)['sysd-upd'].get('updating'))"; }
upd_image() { podman inspect -f '{{.Image}}' sysd-upd 2>/dev/null | sed 's/^sha256://'; }
bare() { printf '%s' "${1#sha256:}"; }
# Asks for a round now (SetApplicationPolicy resets the last check and wakes the timer), then
# waits up to 60 s for the last result to start with WORD.
round_until() { # round_until WORD
    inside atomic apps policy sysd-upd --auto-update apply --healthy-after 3s --health-timeout 8s --interval 1h
    wait_until 60 sh -c "podman exec $M atomic apps --json | grep -q '\"last-result\": \"$1'"
}

service_updates() {
    say "application updates, automatic (engine: podman; the registry on 127.0.0.1:5000)"
    podman rm -f sysd-upd >/dev/null 2>&1
    local v1 v2 v3 v4 out
    v1=$(svc_image v1 "$(svc_run v1)")
    inside atomic install --service --name sysd-upd "$SVC_REF" >/dev/null 2>&1
    wait_until 30 sh -c "[ \"\$(podman inspect -f '{{.State.Running}}' sysd-upd 2>/dev/null)\" = true ]" || fail "sysd-upd never ran"
    expect_eq "v1 runs" "$(upd_image)" "$v1"
    v2=$(svc_image v2 "$(svc_run v2)")
    podman untag "$SVC_REF:latest" >/dev/null 2>&1
    if round_until updated; then pass "a healthy v2 was applied: $(upd_field last-result)"; else fail "v2: $(upd_field last-result)"; fi
    expect_eq "v2 runs" "$(upd_image)" "$v2"
    expect_eq "the record's previous image is v1" "$(bare "$(upd_field previous-image-id)")" "$v1"
    wait_until 10 sh -c "podman exec $M journalctl -u atomic-app-sysd-upd --no-pager | grep -q 'svcapp v2 up'" &&
        pass "v2's output is in the unit's journal" || fail "no v2 output in the unit's journal"
    expect_in "one journal record per round, MESSAGE_ID APP_UPDATE" \
        "$(journal MESSAGE_ID=08cc74ca499a4cd08a0237ec9bed9029 APPLICATION=sysd-upd | field RESULT)" "updated:"

    v3=$(svc_image v3 "$(svc_run v3)" false)
    podman untag "$SVC_REF:latest" >/dev/null 2>&1
    if round_until "rolled back"; then pass "v3 with a failing HEALTHCHECK was rolled back: $(upd_field last-result)"; else fail "v3: $(upd_field last-result)"; fi
    wait_until 20 sh -c "podman inspect -f '{{.Image}}' sysd-upd | grep -q '$v2'"
    expect_eq "v2 runs again" "$(upd_image)" "$v2"
    expect_eq "the rollbacks are counted" "$(upd_field rollbacks)" 1
    wait_until 20 sh -c "[ \"\$(podman exec $M systemctl is-active atomic-app-sysd-upd)\" = active ]" &&
        pass "the unit is active on v2" || fail "the unit is $(inside systemctl is-active atomic-app-sysd-upd)"

    v4=$(svc_image v4 "$(svc_run v4 '--privileged ')")
    podman untag "$SVC_REF:latest" >/dev/null 2>&1
    if round_until "needs approval"; then pass "v4 adds --privileged: $(upd_field last-result)"; else fail "v4: $(upd_field last-result)"; fi
    expect_eq "v2 still runs" "$(upd_image)" "$v2"
    expect_eq "v4 is the update available" "$(bare "$(upd_field update-available)")" "$v4"
    out=$(inside atomic update "$SVC_REF" 2>&1)
    printf '%s\n' "$out"
    expect_in "a person's atomic update applies it (polkit asked; root passes)" "$out" "sysd-upd: updated"
    expect_eq "v4 runs" "$(upd_image)" "$v4"

    say "atomicd killed with SIGKILL in the middle of an update"
    local v5 current running
    v5=$(svc_image v5 "$(svc_run v5 '--privileged ')")
    podman untag "$SVC_REF:latest" >/dev/null 2>&1
    inside atomic apps policy sysd-upd --auto-update apply --healthy-after 20s --health-timeout 30s --interval 1h
    if wait_until 60 sh -c "podman exec $M cat /var/lib/atomic/applications.json | grep -q '\"updating\": {'"; then
        inside systemctl kill -s KILL atomicd
        pass "killed atomicd with the update's marker written"
    else
        fail "the update never started: $(upd_field last-result)"
    fi
    # sysd-upd's own record (the others say "updating": null all along): its gate ran again.
    wait_until 90 sh -c "podman exec $M atomic apps --json | grep -q 'after atomicd restarted mid-update'" &&
        pass "the restarted atomicd settled it: $(upd_field last-result)" || fail "still updating: $(inside cat /var/lib/atomic/applications.json)"
    expect_eq "no update under way in the record" "$(upd_updating)" None
    current=$(bare "$(upd_field image-id)")
    wait_until 30 sh -c "podman inspect -f '{{.Image}}' sysd-upd | grep -q '$current'"
    running=$(upd_image)
    case $current in
        "$v4" | "$v5") pass "the record says ${current:7:12} (v4 ${v4:7:12}, v5 ${v5:7:12})" ;;
        *) fail "the record names neither image: $current" ;;
    esac
    expect_eq "and that is what runs" "$running" "$current"
    out=$(inside atomic uninstall --name sysd-upd "$SVC_REF" 2>&1) || fail "uninstall sysd-upd: $out"
    expect_eq "uninstalled" "$(podman ps -a --filter name=^sysd-upd\$ --format '{{.Names}}')" ""
}

# --- the fleet's lock around an application's restart -------------------------------------------
# Against the test world's etcd cluster and the project's FleetLock stand-in (tests/fake/
# fleetlock.py, which answers a full semaphore as airlock does: 500 failed_lock). Another host
# holds the only slot of the app's group: the round restarts nothing and says it waits; once that
# host lets go, the round applies, and the slot is given back after the restart.
LOCK_REF=127.0.0.1:5000/atomic-test/lockapp
LOCK_GROUP=atomic-app-sysd-lock
ETCD=http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379
lock_key() { printf 'com.coreos.airlock/groups/%s/v1/semaphore' "$LOCK_GROUP"; }
etcd_holders() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD" get --print-value-only "$(lock_key)"; }
lock_image() { podman inspect -f '{{.Image}}' sysd-lock 2>/dev/null | sed 's/^sha256://'; }
lock_field() { inside atomic apps --json | python3 -c "import json,sys; print([a for a in json.load(sys.stdin) if a['name']=='sysd-lock'][0]['$1'])"; }
lock_round_until() { # lock_round_until WORD: a round now (the policy set again), up to 60 s
    inside atomic apps policy sysd-lock --auto-update apply --fleet-lock true --healthy-after 3s --health-timeout 8s --interval 1h
    wait_until 60 sh -c "podman exec $M atomic apps --json | python3 -c \"import json,sys; sys.exit(0 if [a for a in json.load(sys.stdin) if a['name']=='sysd-lock'][0]['last-result'].startswith('$1') else 1)\""
}
fleetlock_post() { # fleetlock_post pre-reboot|steady-state ID: as another host would
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'fleet-lock-protocol: true' \
        -d "{\"client_params\":{\"id\":\"$2\",\"group\":\"$LOCK_GROUP\"}}" "$FLEETLOCK_URL/ok/v1/$1"
}
# lock_round BACKEND HOLD RELEASE HELD: one update of sysd-lock with the slot held, then free.
lock_round() {
    local backend=$1 hold=$2 release=$3 held=$4 old new
    old=$(lock_image)
    new=$(SVC_REF=$LOCK_REF svc_image "$backend" "$(svc_run "$backend")")
    podman untag "$LOCK_REF:latest" >/dev/null 2>&1
    eval "$hold"
    if lock_round_until "waiting for the fleet"; then
        pass "$backend: every slot held, the round waits: $(lock_field last-result)"
    else
        fail "$backend: $(lock_field last-result)"
    fi
    expect_eq "$backend: nothing restarted, the old image runs" "$(lock_image)" "$old"
    eval "$release"
    if lock_round_until updated; then pass "$backend: the slot free, applied: $(lock_field last-result)"; else fail "$backend: $(lock_field last-result)"; fi
    expect_eq "$backend: the new image runs" "$(lock_image)" "$new"
    expect_eq "$backend: the slot was given back after the restart" "$(eval "$held")" ""
}

service_fleet_lock() {
    say "the fleet's lock around an application's restart (engine: podman; etcd and FleetLock)"
    podman rm -f sysd-lock >/dev/null 2>&1
    SVC_REF=$LOCK_REF svc_image v1 "$(svc_run v1)" >/dev/null
    inside atomic install --service --name sysd-lock "$LOCK_REF" >/dev/null 2>&1
    wait_until 30 sh -c "[ -n \"\$(podman ps -q --filter name=^sysd-lock\$)\" ]" || fail "sysd-lock never ran"

    # A unit that needs the app (BindsTo=): an update's restart of the app restarts it too.
    inside sh -c 'printf "[Unit]\nBindsTo=atomic-app-sysd-lock.service\nAfter=atomic-app-sysd-lock.service\n[Service]\nExecStart=/bin/sleep infinity\n" > /etc/systemd/system/sysd-dep.service && systemctl daemon-reload && systemctl start sysd-dep'
    local dep_before
    dep_before=$(inside systemctl show -p InvocationID --value sysd-dep)
    inside atomic host updates --strategy etcd --endpoints "$ETCD" --slots 1 >/dev/null || fail "strategy etcd"
    # Another host's slot, written as airlock keeps it; released by writing the document again.
    lock_round etcd \
        "ETCDCTL_API=3 etcdctl --endpoints=$ETCD put $(lock_key) '{\"total_slots\":1,\"holders\":[\"other-host\"]}' >/dev/null" \
        "ETCDCTL_API=3 etcdctl --endpoints=$ETCD put $(lock_key) '{\"total_slots\":1,\"holders\":[]}' >/dev/null" \
        "etcd_holders | python3 -c 'import json,sys; print(\" \".join(json.load(sys.stdin)[\"holders\"]))'"
    if [ "$(inside systemctl is-active sysd-dep)" = active ] && [ "$(inside systemctl show -p InvocationID --value sysd-dep)" != "$dep_before" ]; then
        pass "the unit that BindsTo= the app was restarted with it"
    else
        fail "sysd-dep: $(inside systemctl is-active sysd-dep), invocation $dep_before -> $(inside systemctl show -p InvocationID --value sysd-dep)"
    fi
    inside sh -c 'systemctl stop sysd-dep; rm -f /etc/systemd/system/sysd-dep.service; systemctl daemon-reload'

    rm -f "$HERE/fleetlock.port"
    python3 tests/fake/fleetlock.py "$HERE/fleetlock.port" 1 &
    echo $! >"$HERE/fleetlock.pid"
    wait_until 10 test -s "$HERE/fleetlock.port" || fail "the FleetLock stand-in did not start"
    FLEETLOCK_URL="http://127.0.0.1:$(cat "$HERE/fleetlock.port")"
    inside atomic host updates --strategy fleet-lock --base-url "$FLEETLOCK_URL/ok" >/dev/null || fail "strategy fleet-lock"
    # The stand-in says who holds a slot only by refusing: our host's pre-reboot after the round
    # is granted (200) only if the slot was given back, and it lets go again at once.
    lock_round fleetlock \
        "[ \"\$(fleetlock_post pre-reboot other-host)\" = 200 ] || fail 'other-host could not take the slot'" \
        "fleetlock_post steady-state other-host >/dev/null" \
        "[ \"\$(fleetlock_post pre-reboot probe-host)\" = 200 ] && fleetlock_post steady-state probe-host >/dev/null || echo held"
    stop_pid "$HERE/fleetlock.pid"
    inside atomic host updates --strategy immediate >/dev/null
    inside atomic uninstall --name sysd-lock "$LOCK_REF" >/dev/null 2>&1 || fail "uninstall sysd-lock"
}

# --- the same with Docker ------------------------------------------------------------------------
# The test world's dockerd, its socket bind-mounted at /run/docker-world.sock (not Docker's usual
# path, so the other tests' discovery still finds podman): atomicd is pointed at it with a
# drop-in. dockerd runs HEALTHCHECKs itself, so here they really pass and really fail.
DOCK_REF=127.0.0.1:5000/atomic-test/dockapp
dock_image() { docker inspect -f '{{.Image}}' sysd-dock 2>/dev/null | sed 's/^sha256://'; }
dock_field() { inside atomic apps --json | python3 -c "import json,sys; print([a for a in json.load(sys.stdin) if a['name']=='sysd-dock'][0]['$1'])"; }
dock_round_until() { # dock_round_until WORD
    inside atomic apps policy sysd-dock --auto-update apply --healthy-after 3s --health-timeout 15s --interval 1h
    wait_until 60 sh -c "podman exec $M atomic apps --json | grep -q '\"last-result\": \"$1'"
}
atomicd_engine() { # atomicd_engine SOCKET|"": a drop-in that fixes atomicd's engine, or none
    if [ -n "$1" ]; then
        # DOCKER_HOST, not --engine-socket: the package step's drop-in sets ExecStart already.
        inside sh -c "mkdir -p /etc/systemd/system/atomicd.service.d && printf '[Service]\nEnvironment=DOCKER_HOST=unix://$1\n' > /etc/systemd/system/atomicd.service.d/50-engine.conf"
    else
        inside rm -f /etc/systemd/system/atomicd.service.d/50-engine.conf
    fi
    inside systemctl daemon-reload
    inside systemctl restart atomicd
}

service_docker() {
    say "install --service and updates with Docker (engine: the world's dockerd)"
    docker rm -f sysd-dock >/dev/null 2>&1
    atomicd_engine /run/docker-world.sock
    expect_in "atomicd talks to dockerd" "$(inside atomic status 2>&1 | head -3)" "docker"
    local v1 v2 v3
    v1=$(SVC_REF=$DOCK_REF svc_image v1 "$(svc_run v1)")
    podman untag "$DOCK_REF:latest" >/dev/null 2>&1
    local out
    out=$(inside atomic install --service --name sysd-dock "$DOCK_REF" 2>&1) || fail "install --service with docker: $out"
    wait_until 30 sh -c "[ \"\$(docker inspect -f '{{.State.Running}}' sysd-dock 2>/dev/null)\" = true ]" || fail "sysd-dock never ran under docker"
    expect_eq "docker runs v1" "$(dock_image)" "$v1"
    wait_until 20 sh -c "[ \"\$(podman exec $M systemctl is-active atomic-app-sysd-dock)\" = active ]" &&
        pass "atomic-app-sysd-dock is active" || fail "the unit is $(inside systemctl is-active atomic-app-sysd-dock)"
    v2=$(SVC_REF=$DOCK_REF svc_image v2 "$(svc_run v2)" true)
    podman untag "$DOCK_REF:latest" >/dev/null 2>&1
    if dock_round_until updated; then pass "v2's HEALTHCHECK said healthy: $(dock_field last-result)"; else fail "docker v2: $(dock_field last-result)"; fi
    expect_eq "docker runs v2" "$(dock_image)" "$v2"
    expect_eq "dockerd says v2 is healthy" "$(docker inspect -f '{{.State.Health.Status}}' sysd-dock 2>/dev/null)" healthy
    v3=$(SVC_REF=$DOCK_REF svc_image v3 "$(svc_run v3)" false)
    podman untag "$DOCK_REF:latest" >/dev/null 2>&1
    if dock_round_until "rolled back"; then pass "v3's HEALTHCHECK said unhealthy: $(dock_field last-result)"; else fail "docker v3: $(dock_field last-result)"; fi
    expect_in "the reason is the HEALTHCHECK's" "$(dock_field last-result)" "its HEALTHCHECK says unhealthy"
    wait_until 20 sh -c "docker inspect -f '{{.Image}}' sysd-dock | grep -q '$v2'"
    expect_eq "docker runs v2 again" "$(dock_image)" "$v2"
    out=$(inside atomic uninstall --name sysd-dock "$DOCK_REF" 2>&1) || fail "uninstall with docker: $out"
    if docker inspect sysd-dock >/dev/null 2>&1; then fail "sysd-dock outlived its uninstall"; else pass "uninstalled: container, unit and record gone"; fi
    expect_eq "no unit file left" "$(inside sh -c 'ls /etc/systemd/system/atomic-app-sysd-dock.service 2>/dev/null | wc -l')" 0
    atomicd_engine ""
    for id in "$v1" "$v2" "$v3"; do docker rmi -f "$id" >/dev/null 2>&1; done
    # Its record of Podman's containers outlived the time on Docker: sysd-web is still its own.
    wait_until 30 sh -c "podman exec $M atomic apps --json | grep -q '\"container\": \"running\"'"
    expect_eq "back on podman, sysd-web is still atomicd's" "$(app_field container)" running
    wait_until 30 app_active && pass "and its unit is active" || fail "sysd-web's unit is $(inside systemctl is-active atomic-app-sysd-web)"
}

service_survives_atomicd() {
    say "atomicd killed with SIGKILL: the application runs on, and is followed again"
    local before after
    before=$(app_container)
    inside systemctl kill -s KILL atomicd
    wait_until 30 sh -c "podman exec $M journalctl -u atomic-app-sysd-web --no-pager | grep -q 'following it again'" &&
        pass "atomic apps run followed it again" || fail "no re-follow in: $(inside journalctl -u atomic-app-sysd-web --no-pager | tail -3)"
    wait_until 30 sh -c "podman exec $M systemctl is-active atomicd | grep -qx active"
    after=$(app_container)
    expect_eq "the same container runs" "$after" "$before"
    app_active && pass "the unit stayed active" || fail "the unit is $(inside systemctl is-active atomic-app-sysd-web)"
}

service_after_reboot() {
    say "after the reboot the unit ran the application again from the record"
    local before=$1
    if wait_until 60 sh -c "podman ps --filter name=^sysd-web\$ --format '{{.ID}}' | grep -q ."; then
        pass "sysd-web runs again"
    else
        fail "sysd-web does not run after the reboot: $(inside systemctl status atomic-app-sysd-web --no-pager 2>&1 | tail -5)"
    fi
    local after
    after=$(app_container)
    [ -n "$after" ] && [ "$after" != "$before" ] && pass "a new container ($after, was $before): stopped at shutdown, made at boot" ||
        fail "container before $before, after $after"
    wait_until 20 app_active && pass "the unit is active in this boot" || fail "the unit is $(inside systemctl is-active atomic-app-sysd-web)"
    # The boot ID stays (the machine shares the host's kernel): the shutdown's stop is the one
    # after those counted before the reboot.
    expect_eq "its ExecStop stopped it at shutdown" "$(app_stops | sed -n "$(($2 + 1))p")" succeeded
}

app_stops() { journal MESSAGE_ID=4aae4db1661b4367838a2b84381c8236 OPERATION=StopApplication IMAGE=sysd-web | field OUTCOME; }
reboot_with_app() {
    local before stops
    before=$(app_container)
    stops=$(app_stops | grep -c . || true)
    reboot
    service_after_reboot "$before" "$stops"
}

service_uninstall() {
    say "uninstall stops, disables and removes the unit and the record"
    local out
    out=$(inside atomic uninstall --name sysd-web --keep-image atomic-test/service 2>&1)
    printf '%s\n' "$out"
    expect_eq "systemd has no such unit any more" "$(inside systemctl show -p LoadState --value atomic-app-sysd-web)" not-found
    inside test -e /etc/systemd/system/atomic-app-sysd-web.service && fail "the unit file stayed" || pass "the unit file is removed"
    expect_eq "no container" "$(podman ps -a --filter name=^sysd-web\$ --format '{{.Names}}')" ""
    expect_eq "no application left" "$(inside atomic apps --json)" "[]"
}

# --- the host: an ostree sysroot pulled over HTTP ---------------------------------------------
# The remote's commits: 1.0, then 2.0 adding a setuid, a setgid and a file-capability binary.
remote_commit() { # remote_commit VERSION
    ostree --repo="$HERE/remote" commit -b testos/stable --add-metadata-string=version="$1" \
        --tree=dir="$HERE/tree" >/dev/null
}

serve_remote() {
    rm -rf "$HERE/remote" "$HERE/tree"
    mkdir -p "$HERE/tree/usr/lib/modules/6.1.0" "$HERE/tree/usr/etc" "$HERE/tree/usr/bin"
    echo kernel >"$HERE/tree/usr/lib/modules/6.1.0/vmlinuz"
    echo initramfs >"$HERE/tree/usr/lib/modules/6.1.0/initramfs.img"
    printf 'ID=testos\nPRETTY_NAME="Test OS"\n' >"$HERE/tree/usr/lib/os-release"
    ostree init --repo="$HERE/remote" --mode=archive
    remote_commit 1.0
    stop_pid "$HERE/http.pid"
    nohup python3 -m http.server --bind 127.0.0.1 "$REMOTE_PORT" --directory "$HERE/remote" >"$HERE/http.log" 2>&1 &
    echo $! >"$HERE/http.pid"
    wait_until 10 curl -sf "http://127.0.0.1:$REMOTE_PORT/config"
    inside sh -c "ostree admin init-fs /sysroot && ostree admin os-init --sysroot=/sysroot testos &&
        ostree remote add --repo=/sysroot/ostree/repo --no-gpg-verify origin http://127.0.0.1:$REMOTE_PORT &&
        ostree pull --repo=/sysroot/ostree/repo origin testos/stable &&
        ostree admin deploy --sysroot=/sysroot --os=testos origin:testos/stable" >/dev/null
}

host_default_version() {
    inside atomic host status --json | python3 -c "
import json, sys
for d in json.load(sys.stdin)['deployments']:
    if d.get('default'): print(d.get('version', ''))"
}

host() {
    say "HostUpgrade, HostDeploy, Rollback on a sysroot pulled over HTTP, under the hardened unit"
    serve_remote
    cp /bin/true "$HERE/tree/usr/bin/su-test" && chmod 4755 "$HERE/tree/usr/bin/su-test"
    cp /bin/true "$HERE/tree/usr/bin/wall-test" && chgrp tty "$HERE/tree/usr/bin/wall-test" && chmod 2755 "$HERE/tree/usr/bin/wall-test"
    cp /bin/true "$HERE/tree/usr/bin/ping-test" && setcap cap_net_raw+ep "$HERE/tree/usr/bin/ping-test"
    remote_commit 2.0
    local out
    out=$(inside atomic host upgrade 2>&1)
    expect_in "upgrade pulls 2.0 with its setuid, setgid and capability files" "$out" "2.0"
    expect_eq "the default is 2.0" "$(host_default_version)" 2.0
    local dep
    dep=$(inside sh -c 'ls -d /sysroot/ostree/deploy/testos/deploy/*.0 | while read d; do [ -e $d/usr/bin/su-test ] && echo $d; done | head -1')
    expect_eq "setuid kept" "$(inside stat -c %A "$dep/usr/bin/su-test")" "-rwsr-xr-x"
    expect_eq "setgid and group kept" "$(inside stat -c '%A %G' "$dep/usr/bin/wall-test")" "-rwxr-sr-x tty"
    expect_in "file capability kept" "$(inside getcap "$dep/usr/bin/ping-test")" "cap_net_raw=ep"
    expect_in "the deployment root is immutable" "$(inside lsattr -d "$dep")" "-i-"
    out=$(inside ostree fsck --repo=/sysroot/ostree/repo 2>&1)
    if inside ostree fsck --repo=/sysroot/ostree/repo >/dev/null 2>&1; then pass "ostree fsck clean: $(tail -1 <<<"$out")"; else fail "ostree fsck: $out"; fi
    out=$(inside atomic host deploy 1.0 2>&1)
    expect_eq "HostDeploy 1.0 makes 1.0 the default" "$(host_default_version)" 1.0
    out=$(inside atomic host rollback 2>&1)
    expect_eq "Rollback makes 2.0 the default again" "$(host_default_version)" 2.0
}

# --- the exposure figure ----------------------------------------------------------------------
exposure() {
    say "systemd-analyze security atomicd.service, as installed"
    local got want
    got=$(inside systemd-analyze security atomicd.service --no-pager | sed -n 's/.*Overall exposure level for atomicd.service: \([0-9.]*\).*/\1/p')
    want=$(sed -n 's/^# Exposure as installed: \([0-9.]*\).*/\1/p' systemd/atomicd.service)
    expect_eq "the exposure is the committed figure" "$got" "$want"
}

# --- reboot through logind: last, the machine goes down ---------------------------------------
reboot() {
    say "HostUpgrade with reboot asks the machine's logind"
    remote_commit 3.0
    local out
    out=$(inside atomic host upgrade --reboot 2>&1)
    expect_in "upgrade to 3.0 then reboot" "$out" "3.0"
    if wait_until 60 sh -c "[ \"\$(podman inspect -f '{{.State.Running}}' $M)\" = false ]"; then
        pass "the machine went down"
    else
        fail "the machine is still up"
    fi
    podman start "$M" >/dev/null
    wait_until 60 sh -c "podman exec $M systemctl is-system-running | grep -Eq 'running|degraded'"
    local logind
    # The machine shares the host's kernel, so its boot ID stays: the record is in "this" boot.
    logind=$(inside journalctl -u systemd-logind --no-pager 2>&1)
    grep -F "System is rebooting" <<<"$logind"
    expect_in "logind received the reboot request" "$logind" "System is rebooting"
    expect_eq "atomicd asked for it after the upgrade" \
        "$(journal MESSAGE_ID=2d3a4fd1b75243789c70b45ca3c4fa29 REBOOT=true | field REBOOT | tail -1)" true
    expect_eq "3.0 is the default after the reboot" "$(host_default_version)" 3.0
}

purge() {
    say "apt purge drops the records and the enablement"
    inside apt-get purge -y atomicd >/dev/null 2>&1
    if inside test -e /var/lib/atomic; then fail "/var/lib/atomic outlived the purge"; else pass "/var/lib/atomic is gone"; fi
    expect_eq "no enablement left" "$(inside sh -c 'ls /etc/systemd/system/multi-user.target.wants/ | grep -c atomicd' || true)" 0
}

# The remote's web server this script started, by the PID it recorded (never by name).
trap 'stop_pid "$HERE/http.pid"; stop_pid "$HERE/fleetlock.pid"' EXIT
tests/systemd/machine.sh up || exit 1
# ONLY="package service_updates" runs a part (while working on it); CI runs them all.
if [ -n "${ONLY:-}" ]; then
    for step in $ONLY; do "$step"; done
else
    package
    notify_and_status
    labels
    remove_and_reinstall
    uninstall_app
    activation
    journal_fields
    polkit
    settings_writes
    service_app
    service_survives_atomicd
    service_updates
    service_fleet_lock
    service_docker
    host
    exposure
    watchdog
    stop_during_run
    reboot_with_app
    service_uninstall
    purge
fi
[ "${KEEP_MACHINE:-}" ] || tests/systemd/machine.sh down
echo
if [ "$FAILED" -gt 0 ]; then
    echo "systemd machine: $FAILED checks FAILED"
    exit 1
fi
echo "systemd machine: every check passed"
