#!/usr/bin/env bash
# The whole test suite: lints, unit tests, and integration tests against the real test world
# (system bus, polkitd, podman and dockerd, a local registry), which this script brings up;
# then the Cockpit page in headless Chromium (tests/cockpit/run.sh) and atomicd's Debian package
# under systemd as PID 1 (tests/systemd/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

tests/setup.sh
cargo build --locked --all-targets
make --no-print-directory cockpit
tests/world.sh up
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
tests/cockpit/run.sh
tests/systemd/run.sh
