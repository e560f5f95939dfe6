# Sourced by the test scripts: stop_pid FILE stops the process the script started and recorded
# in FILE, by that PID (never by name: another run's processes of the same name are not ours),
# waits up to 5 s for it to go, then kills it, and forgets the file.
stop_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    rm -f "$1"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
