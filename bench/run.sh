#!/usr/bin/env bash
# Benchmarks (not tests): builds release binaries, brings up the test world, starts atomicd
# from target/release against each engine and prints the figures of BENCHMARKS.md.
#   bench/run.sh            BENCH_RUNS=N for more samples per median
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bins --example status_bench --example calls_bench --example trust_bench 2>&1 | tail -1
tests/world.sh up >/dev/null 2>&1
B=target/release/atomicd
STATE=$(mktemp -d)

# shellcheck source=../tests/support/pids.sh
. tests/support/pids.sh
start() { # start ARGS...: an atomicd of our own on org.atomic
    tests/world.sh stop-daemon
    stop_pid "$STATE/atomicd.pid"
    "$B" --log-target stderr --state-dir "$STATE" "$@" 2>>"$STATE/atomicd.log" &
    echo $! >"$STATE/atomicd.pid"
    for _ in $(seq 50); do
        busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s org.atomic | grep -q true && return
        sleep 0.1
    done
    echo "atomicd did not start" >&2; exit 1
}

echo "atomicd benchmarks, $(date -u +%F), $(nproc) cores, $(uname -r)"
echo "run overhead (median of ${BENCH_RUNS:-15}):"
start --engine-socket /run/podman/podman.sock
python3 bench/bench.py engine podman
start --engine-socket /var/run/docker.sock
python3 bench/bench.py engine docker
echo "exactness and cleanup (issue 17):"
start --engine-socket /run/podman/podman.sock
python3 bench/bench.py leftovers podman
start --engine-socket /var/run/docker.sock
python3 bench/bench.py leftovers docker
echo "latency:"
python3 bench/bench.py display docker
start --engine-socket /run/podman/podman.sock
python3 bench/bench.py display podman
python3 bench/bench.py status
echo "signature verification (issue 25):"
target/release/examples/trust_bench
echo "lists and info (one engine call each):"
python3 bench/bench.py lists podman
start --engine-socket /var/run/docker.sock
python3 bench/bench.py lists docker
start --engine-socket /run/podman/podman.sock
echo "memory and size:"
python3 bench/bench.py memory
python3 bench/bench.py sizes
echo "hostile callers (issue 11):"
start --engine-socket /run/podman/podman.sock --polkit-timeout 10
python3 bench/bench.py hostile

# ostree host status on a throwaway sysroot
S=$STATE/sysroot T=$STATE/tree
mkdir -p $S $T/usr/lib/modules/6.1.0 $T/usr/etc
echo k > $T/usr/lib/modules/6.1.0/vmlinuz; echo i > $T/usr/lib/modules/6.1.0/initramfs.img
printf 'ID=testos\nPRETTY_NAME="Test OS"\n' > $T/usr/lib/os-release
ostree admin init-fs $S >/dev/null && ostree admin os-init --sysroot=$S testos >/dev/null
ostree --repo=$S/ostree/repo commit -b testos/stable --add-metadata-string=version=1.0 --tree=dir=$T >/dev/null
ostree admin deploy --sysroot=$S --os=testos testos/stable >/dev/null 2>&1
start --engine-socket /run/podman/podman.sock --host-backend ostree --sysroot $S
echo "host:"
python3 bench/bench.py host
stop_pid "$STATE/atomicd.pid"
chattr -i "$S"/ostree/deploy/testos/deploy/* 2>/dev/null || true   # ostree marks deployments immutable
rm -rf "$STATE"
