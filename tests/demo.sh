#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds atomicd, brings up the test world, starts atomicd
# and shows it working through the atomic CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

tests/setup.sh
cargo build --locked
tests/world.sh daemon
A=target/debug/atomic
show() { printf '\n$ %s\n' "$*"; "$@"; }

show $A status
show $A run --display --spc atomic-test/tools
show $A run atomic-test/plain sh -c 'echo hello from a container; exit 3' || echo "(exit code $?)"
show setpriv --reuid=65534 --regid=65534 --clear-groups $A status
show setpriv --reuid=65534 --regid=65534 --clear-groups $A run atomic-test/plain true || echo "(exit code $?: polkit said no)"
printf '\natomicd keeps running (log: /var/tmp/atomicd-world/atomicd.log); stop it with tests/world.sh stop-daemon\n'
