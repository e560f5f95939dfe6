#!/usr/bin/env python3
"""atomicd's speed and memory figures, measured in one run (bench/run.sh starts what it needs).

Prints medians and ratios; it asserts nothing, so a slow machine gives slow figures, not a
failure. Targets (issue 6): run overhead <= 5 %, display <= 10 ms, idle RSS <= 10 MiB,
binaries <= 10 MiB together.
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
ATOMIC = os.path.join(REL, "atomic")
IMG = "atomic-test/plain"
N = int(os.environ.get("BENCH_RUNS", "15"))


def samples_of(argv, n=N, env=None, gap=0.0):
    """`argv` run n times, `gap` seconds apart (untimed); argv may be a function of the run's
    index (a name per run)."""
    samples = []
    for i in range(n):
        time.sleep(gap)
        t = time.perf_counter()
        args = argv(i) if callable(argv) else argv
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        samples.append(time.perf_counter() - t)
    return samples


def timed(argv, n=N, env=None):
    return statistics.median(samples_of(argv, n, env))


def spread(samples):
    """median, and the quartiles around it, in ms."""
    q = statistics.quantiles(samples, n=4)
    return statistics.median(samples) * 1000, q[0] * 1000, q[2] * 1000


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("engine")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    conn = UnixHTTPConnection(sock)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, "/v1.41" + path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {data!r}")
    return json.loads(data) if data else None


def api_floor(sock, n=N):
    """The least a Docker-API client must do to run a container to its end: create, start,
    wait, delete. atomicd's own cost is what it adds to this."""
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        cid = api(sock, "POST", "/containers/create", {"Image": IMG, "Cmd": ["true"]})["Id"]
        api(sock, "POST", f"/containers/{cid}/start")
        api(sock, "POST", f"/containers/{cid}/wait")
        api(sock, "DELETE", f"/containers/{cid}?force=1")
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


SOCKETS = {"podman": "/run/podman/podman.sock", "docker": "/var/run/docker.sock"}


def _timed_call(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


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


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def stalled_caller():
    """nobody, with a polkit text agent registered for itself, running an image through the CLI:
    polkit's password prompt is left open (script gives the agent its terminal, sleep keeps it)."""
    inner = f"pkttyagent --process \\$\\$ >/dev/null 2>&1 & sleep 2; exec {ATOMIC} run {IMG} true"
    outer = f'sleep 30 | setpriv --reuid=65534 --regid=65534 --clear-groups script -qc "{inner}" /dev/null'
    return subprocess.Popen(["bash", "-c", outer], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def hostile():
    pid = owner_pid()
    base_fds, base_rss = fds(pid), rss_kib(pid)
    callers = []
    for _ in range(60):
        callers.append(stalled_caller())
        time.sleep(0.05)
    time.sleep(4)
    held_fds, held_rss = fds(pid), rss_kib(pid)
    t = time.perf_counter()
    subprocess.run([ATOMIC, "run", "--quiet", IMG, "true"], check=True, stdout=subprocess.DEVNULL)
    root_ms = (time.perf_counter() - t) * 1000
    outs = [c.communicate()[0] for c in callers]
    busy = sum("already has 4 authorization checks" in o for o in outs)
    row("60 stalled polkit callers: atomicd descriptors", held_fds, "", f"(idle {base_fds}; {busy} refused as Busy)")
    row("60 stalled polkit callers: atomicd RSS", held_rss / 1024, "MiB", f"(idle {base_rss / 1024:.2f} MiB)")
    row("root's attached run meanwhile", root_ms, "ms")
    row("after they ended: descriptors", fds(pid), "")
    # A container writing as fast as it can to a reader that reads nothing for 8 s, then leaves.
    base_threads = threads(pid)
    script = (f"{ATOMIC} run --quiet {IMG} sh -c 'while :; do cat /bin/busybox; done' | sleep 8; "
              "echo ${PIPESTATUS[0]}")
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    peak_rss = peak_fds = peak_threads = 0
    while proc.poll() is None:
        peak_rss, peak_fds = max(peak_rss, rss_kib(pid)), max(peak_fds, fds(pid))
        peak_threads = max(peak_threads, threads(pid))
        time.sleep(0.1)
    code = proc.stdout.read().strip()
    time.sleep(1)
    row("slow reader: atomicd peak RSS", peak_rss / 1024, "MiB", "(target < 64 MiB)")
    row("slow reader: atomicd peak descriptors", peak_fds, "", f"(idle {base_fds})")
    row("slow reader: atomicd peak threads", peak_threads, "", f"(idle {base_threads})")
    row("after the reader left: RSS", rss_kib(pid) / 1024, "MiB", f"(atomic exited {code}, 141 = SIGPIPE)")
    row("after the reader left: descriptors, threads", fds(pid), "", f"threads {threads(pid)}")


def row(what, value, unit, note=""):
    print(f"  {what:<58} {value:>10.2f} {unit:<4} {note}".rstrip())


def main():
    mode = sys.argv[1]
    if mode == "engine":
        engine = sys.argv[2]
        # A name per run, as `podman run --rm` makes one per run. "1 s apart" is the latency a
        # caller sees; "back to back" also pays for the last run's cleanup, which atomic leaves
        # running after its reply and podman's CLI waits for.
        tag = f"b{os.getpid()}"
        atomic = lambda i: [ATOMIC, "run", "--quiet", "--name", f"{tag}-{i}", IMG, "true"]  # noqa: E731
        cli = [engine, "run", "--rm", IMG, "true"]
        target = "0.6" if engine == "podman" else "1.0"
        for what, gap in (("1 s apart", 1.0), ("back to back", 0.0)):
            (a, a1, a3), (c, c1, c3) = spread(samples_of(atomic, gap=gap)), spread(samples_of(cli, gap=gap))
            row(f"atomic run {IMG} true, {what} ({engine})", a, "ms", f"quartiles {a1:.0f}..{a3:.0f}")
            row(f"{engine} run --rm {IMG} true, {what}", c, "ms", f"quartiles {c1:.0f}..{c3:.0f}")
            row(f"ratio atomic / engine CLI, {what}", a / c, "x", f"(target <= {target} x)")
        m, m1, m3 = spread(samples_of([ATOMIC, "run", "--quiet", IMG, "true"]))
        row(f"atomic run, one NAME back to back ({engine})", m, "ms",
            f"quartiles {m1:.0f}..{m3:.0f}: waits for the last run's removal")
        row(f"{engine} API floor: create, start, wait, delete", api_floor(SOCKETS[engine]) * 1000, "ms")
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
        # GNU time's %M: a child of Python would count Python's own pages, copied at fork.
        out = subprocess.run(["/usr/bin/time", "-f", "%M", ATOMIC, "status"], check=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cli_peak = int(out.stderr.strip().splitlines()[-1])
        pid = owner_pid()
        idle = rss_kib(pid)
        bench = os.path.join(REL, "examples", "status_bench")
        subprocess.run([bench, "10", "100"], check=True, capture_output=True)
        after = rss_kib(pid)
        row("atomicd idle RSS", idle / 1024, "MiB", "(target <= 10 MiB)")
        row("atomicd RSS after 1,000 Status calls", after / 1024, "MiB")
        row("atomic (CLI) peak RSS, atomic status", cli_peak / 1024, "MiB")
    elif mode == "lists":
        engine = sys.argv[2]
        floor = lambda path: statistics.median(  # noqa: E731
            [_timed_call(lambda: api(SOCKETS[engine], "GET", path)) for _ in range(N)]) * 1000
        for what, argv, engine_argv, path in (
                ("images", [ATOMIC, "images"], [engine, "images"], "/images/json"),
                ("containers", [ATOMIC, "containers", "--all"], [engine, "ps", "-a"], "/containers/json?all=1"),
                ("info", [ATOMIC, "info", "atomic-test/app"], [engine, "image", "inspect", "atomic-test/app"],
                 "/images/atomic-test/app/json")):
            row(f"atomic {' '.join(argv[1:])} ({engine} API)", timed(argv) * 1000, "ms")
            row(f"{' '.join(engine_argv)}", timed(engine_argv) * 1000, "ms")
            row(f"{engine} API floor: GET {path.split('?')[0]}", floor(path), "ms")
        # atomicd's own time: calls over a warm bus connection, each paired with the same engine
        # request made directly right after it (examples/calls_bench.rs), less the bus floor.
        out = subprocess.run([os.path.join(REL, "examples", "calls_bench"), SOCKETS[engine], str(4 * N)],
                             check=True, capture_output=True, text=True).stdout
        got = {line.split()[0]: [int(x) / 1000 for x in line.split()[1:]] for line in out.splitlines()}
        row("D-Bus floor: Peer.Ping to atomicd", got["ping"][0], "ms")
        for what, method in (("images", "ListImages"), ("containers", "ListContainers all"), ("info", "Info")):
            call, direct, own = got[what]
            row(f"{method} over D-Bus ({engine} API)", call, "ms",
                f"engine {direct:.2f} ms, atomicd's own {own:+.2f} ms (target <= 1 ms)")
    elif mode == "leftovers":
        engine = sys.argv[2]
        codes = {}
        for cmd, want in ((["true"], 0), (["sh", "-c", "exit 3"], 3), (["sh", "-c", "sh -c 'kill -9 $$'; exit $?"], 137)):
            got = subprocess.run([ATOMIC, "run", "--quiet", IMG] + cmd, stdout=subprocess.DEVNULL).returncode
            codes[want] = got
        for i in range(200):
            subprocess.run([ATOMIC, "run", "--quiet", "--name", f"left{os.getpid()}-{i}", IMG, "true"], check=True)
        deadline = time.time() + 10
        left = -1
        while time.time() < deadline:
            names = subprocess.run([engine, "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
            left = sum(1 for n in names.split() if n.startswith(f"left{os.getpid()}-"))
            if left == 0:
                break
            time.sleep(0.2)
        row(f"exit codes 0, 3, 137 ({engine})", 0, "", f"got {codes[0]}, {codes[3]}, {codes[137]}")
        row(f"containers left after 200 runs ({engine})", left, "")
    elif mode == "hostile":
        hostile()
    elif mode == "sizes":
        d = os.path.getsize(os.path.join(REL, "atomicd"))
        a = os.path.getsize(os.path.join(REL, "atomic"))
        h = os.path.getsize(os.path.join(REL, "atomicd-ostree"))
        row("atomicd binary", d / 2**20, "MiB")
        row("atomic binary", a / 2**20, "MiB")
        row("atomicd-ostree helper binary", h / 2**20, "MiB")
        row("all three", (d + a + h) / 2**20, "MiB", "(target <= 10 MiB)")


if __name__ == "__main__":
    main()
