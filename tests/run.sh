#!/usr/bin/env bash
# The whole test suite, in two tiers. First what needs nothing running: formatting, lints, and
# `cargo test` (the rules against fakes; tests that need the world are #[ignore]d there, and
# say so). Then, as root, the world those need (system bus, polkitd, podman and dockerd, local
# registries, etcd), which this script brings up, and the ignored tests against it; then the
# Cockpit page in headless Chromium (tests/cockpit/run.sh) and atomicd's Debian package under
# systemd as PID 1 (tests/systemd/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

tests/setup.sh
cargo fmt --check
cargo build --locked --all-targets
cargo clippy --locked --all-targets -- -D warnings
echo "tests: tier 1, nothing running" >&2
cargo test --locked --all-targets
echo "tests: tier 2, against the test world" >&2
make --no-print-directory cockpit
tests/world.sh up
cargo test --locked --all-targets -- --ignored
tests/cockpit/run.sh
tests/systemd/run.sh
