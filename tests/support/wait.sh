# Sourced by the test scripts: wait_for SECONDS WHAT COMMAND... runs COMMAND every 0.1 s until it
# succeeds, or says (with the sourcing script's `say`) that WHAT did not come up, adding
# $WAIT_HINT, and fails.
wait_for() {
    local secs=$1 what=$2; shift 2
    for _ in $(seq $((secs * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    say "$what did not come up${WAIT_HINT:-}"
    return 1
}
