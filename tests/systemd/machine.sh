#!/usr/bin/env bash
# The systemd test machine: Debian 12 with systemd 252 as PID 1 in a privileged podman container
# (this host's cgroups are a v1 hybrid, which systemd 257 and later refuse). Its root is built
# by mmdebstrap from Debian's packages and kept as a podman image named after what went into it,
# so a second run reuses it. atomicd gets there as a packager ships it: `apt install` of the
# project's own .deb.
#
# The engine is the test world's podman, its socket bind-mounted at /run/podman/podman.sock. A
# podman inside the machine would need its own storage on an overlay inside an overlay and the
# fixture images built a second time; the socket gives atomicd the same engine API and images
# the other tests use, and what atomicd makes can be checked from outside.
#
# The machine shares the host's network, so it reaches the ostree remote served on loopback.
# Its journal is a host directory too: podman puts a tmpfs on /var/log/journal, and the reboot
# test reads the journal of the boot before.
# Its /sysroot is a host directory on the host's own filesystem, since libostree sets the
# immutable bit on deployment roots and overlayfs does not take it.
#
# Usage: tests/systemd/machine.sh up | down | exec CMD...
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORLD=${ATOMIC_WORLD_DIR:-/var/tmp/atomicd-world}
MACHINE=atomicd-machine
HERE=$WORLD/machine
PACKAGES=systemd,systemd-sysv,dbus,polkitd,libostree-1-1,ostree,ca-certificates,e2fsprogs,libcap2-bin,apt
# The image tag changes with the package list and with this script, so either change rebuilds.
TAG=localhost/atomicd-machine:$(printf '%s' "$PACKAGES" | cat - "$0" | sha256sum | cut -c1-12)

say() { printf 'machine: %s\n' "$*" >&2; }

image() {
    if podman image exists "$TAG"; then
        return
    fi
    say "building $TAG with mmdebstrap (about 30 s)"
    mkdir -p "$HERE"
    # A fixed machine ID: the reboot test reads the journal of the boot before, which is kept
    # under it; without one systemd would make a new one at every start.
    mmdebstrap --variant=minbase --include="$PACKAGES" \
        --customize-hook='od -An -N16 -tx1 /dev/urandom | tr -d " \n" > "$1/etc/machine-id"' \
        bookworm "$HERE/root.tar" >"$HERE/mmdebstrap.log" 2>&1 ||
        { say "mmdebstrap failed; see $HERE/mmdebstrap.log"; tail -5 "$HERE/mmdebstrap.log" >&2; exit 1; }
    podman import -q --change 'CMD ["/sbin/init"]' "$HERE/root.tar" "$TAG" >/dev/null
    rm -f "$HERE/root.tar"
    # Older builds of the machine go.
    podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/atomicd-machine:' |
        grep -vxF "$TAG" | xargs -r podman rmi -f >/dev/null 2>&1 || true
}

down() {
    podman rm -f -t 5 "$MACHINE" >/dev/null 2>&1 || true
    if [ -d "$HERE/sysroot" ]; then
        chattr -R -i "$HERE/sysroot" 2>/dev/null || true
        rm -rf "$HERE/sysroot"
    fi
}

# Starts the machine and waits until systemd says it is up.
up() {
    image
    down
    rm -rf "$HERE/journal"
    mkdir -p "$HERE/sysroot" "$HERE/journal"
    podman run -d --name "$MACHINE" --privileged --systemd=always --network=host \
        --hostname atomicd-machine \
        -v /run/podman/podman.sock:/run/podman/podman.sock \
        -v /var/run/docker.sock:/run/docker-world.sock \
        -v "$HERE/sysroot:/sysroot" \
        -v "$HERE/journal:/var/log/journal" \
        "$TAG" /sbin/init >/dev/null
    local state=""
    for _ in $(seq 120); do
        state=$(podman exec "$MACHINE" systemctl is-system-running 2>/dev/null || true)
        case $state in running | degraded) break ;; esac
        sleep 0.5
    done
    case $state in
        running | degraded) say "up: systemd $(podman exec "$MACHINE" systemctl --version | head -1 | cut -d' ' -f2), $state" ;;
        *) say "systemd did not come up (state: ${state:-none})"; podman logs --tail 30 "$MACHINE" >&2; exit 1 ;;
    esac
}

case ${1:-} in
    up) up ;;
    down) down ;;
    exec) shift; exec podman exec "$MACHINE" "$@" ;;
    *) echo "usage: $0 up | down | exec CMD..." >&2; exit 2 ;;
esac
