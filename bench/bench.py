#!/usr/bin/env python3
"""atomicd's speed and memory figures, measured in one run (bench/run.sh starts what it needs).

Prints medians and ratios; it asserts nothing, so a slow machine gives slow figures, not a
failure. Targets (issue 6): run overhead <= 5 %, display <= 10 ms, idle RSS <= 10 MiB,
binaries <= 10 MiB together.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
ATOMIC = os.path.join(REL, "atomic")
IMG = "atomic-test/plain"
N = int(os.environ.get("BENCH_RUNS", "15"))


def timed(argv, n=N, env=None):
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def owner_pid():
    out = subprocess.run(["busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", "org.atomic"],
                         capture_output=True, text=True).stdout.split()
    return int(out[1]) if len(out) > 1 else None


def row(what, value, unit, note=""):
    print(f"  {what:<46} {value:>10.2f} {unit:<4} {note}")


def main():
    mode = sys.argv[1]
    if mode == "engine":
        engine = sys.argv[2]
        atomic_ms = timed([ATOMIC, "run", "--quiet", IMG, "true"]) * 1000
        cli_ms = timed([engine, "run", "--rm", IMG, "true"]) * 1000
        row(f"atomic run {IMG} true ({engine} API)", atomic_ms, "ms")
        row(f"{engine} run --rm {IMG} true", cli_ms, "ms")
        row("ratio atomic / engine CLI", atomic_ms / cli_ms, "x", f"overhead {100 * (atomic_ms / cli_ms - 1):+.1f} % (target <= +5 %)")
    elif mode == "display":
        ms = timed([ATOMIC, "run", "--display", IMG], n=50) * 1000
        row(f"atomic run --display ({sys.argv[2]} API)", ms, "ms", "(target <= 10 ms)")
    elif mode == "host":
        ms = timed([ATOMIC, "host", "status"], n=30) * 1000
        row("atomic host status (ostree backend)", ms, "ms")
    elif mode == "status":
        bench = os.path.join(REL, "examples", "status_bench")
        for clients, calls in ((1, 500), (50, 40)):
            p50, p99 = map(int, subprocess.run([bench, str(clients), str(calls)], check=True,
                                               capture_output=True, text=True).stdout.split())
            row(f"Status round trip, {clients} client(s): p50", p50 / 1000, "ms")
            row(f"Status round trip, {clients} client(s): p99", p99 / 1000, "ms")
    elif mode == "memory":
        pid = owner_pid()
        idle = rss_kib(pid)
        bench = os.path.join(REL, "examples", "status_bench")
        subprocess.run([bench, "10", "100"], check=True, capture_output=True)
        after = rss_kib(pid)
        row("atomicd idle RSS", idle / 1024, "MiB", "(target <= 10 MiB)")
        row("atomicd RSS after 1,000 Status calls", after / 1024, "MiB")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([ATOMIC, "status"], check=True, stdout=subprocess.DEVNULL)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        row("atomic (CLI) peak RSS, atomic status", max(peak, before) / 1024, "MiB")
    elif mode == "sizes":
        d = os.path.getsize(os.path.join(REL, "atomicd"))
        a = os.path.getsize(os.path.join(REL, "atomic"))
        row("atomicd binary", d / 2**20, "MiB")
        row("atomic binary", a / 2**20, "MiB")
        row("both", (d + a) / 2**20, "MiB", "(target <= 10 MiB)")


if __name__ == "__main__":
    main()
