#!/usr/bin/env bash
# Installs what building and testing atomicd needs on Debian 12: the engines, registry, ostree,
# busybox for fixture images, the bus and polkit, mmdebstrap for the systemd test machine,
# cockpit-ws and chromium for the page's browser tests, and a Rust toolchain when none is present.
set -euo pipefail

PACKAGES=(docker.io podman docker-registry apache2-utils ostree libostree-dev busybox-static dbus polkitd systemd curl jq python3
          make gcc pkg-config tmux util-linux time
          mmdebstrap e2fsprogs libcap2-bin debhelper lintian
          cockpit-ws cockpit-bridge chromium etcd-server etcd-client
          skopeo gnupg libssl-dev man-db)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Cockpit page's build and its browser tests need npm (the machine's own Node.js when it has
# one; Debian's otherwise).
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing Debian's nodejs and npm" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    # Debian 12's own cargo is too old for the pinned crates: use rustup's stable toolchain.
    echo "setup: installing Rust with rustup" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
fi
# The suite checks the formatting (cargo fmt --check) and the lints: both components, as clippy.
export PATH="$HOME/.cargo/bin:$PATH"
for component in clippy rustfmt; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
        echo "setup: adding the $component component" >&2
        rustup component add "$component"
    fi
done
echo "setup: done" >&2
