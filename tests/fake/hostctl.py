#!/usr/bin/env python3
"""Stand-ins for rpm-ostree, bootc and `ostree admin pin/undeploy`, which cannot run on this Debian
machine (no booted ostree host). Each speaks the real tool's formats as their documentation
records them, keeps its state between calls as the real daemon does, and bumps the mtime of
$FAKE_SYSROOT/ostree/deploy on every change, as libostree does.

Where each field comes from:
- rpm-ostree `status --json`: deployments with id, osname, checksum, version, timestamp, origin,
  booted, staged, pinned, serial (tests/fixtures/rpm-ostree-status-staged.json, from zincati's
  fixtures); top-level "cached-update" with checksum, version, timestamp, origin and "rpm-diff"
  {"upgraded": a(us(ss)(ss)), "downgraded", "removed": a(usss), "added"} as rpm-ostreed's
  CachedUpdate property documents them (org.projectatomic.rpmostree1.xml). `upgrade --check`
  exits 77 when nothing is available (RPM_OSTREE_EXIT_UNCHANGED); `deploy REV`, `rebase ORIGIN
  [REV]`, `rollback`, `cleanup -r/-p` as rpm-ostree(1) describes them.
- bootc `status --json --format-version=1`: a BootcHost (apiVersion org.containers.bootc/v1,
  bootc's docs/src/host-v1.schema.json): spec.image, spec.bootOrder ("default" | "rollback");
  status.staged/booted/rollback BootEntry with image {image {image, transport}, version,
  timestamp, imageDigest}, cachedUpdate (on booted, filled by `upgrade --check`), pinned,
  ostree {stateroot, checksum, deploySerial}; status.rollbackQueued. `bootc rollback` queues the
  rollback (bootOrder rollback) rather than deleting anything, and a second one undoes it.
- `ostree admin pin [--unpin] INDEX` and `ostree admin undeploy INDEX`: index in the default-first
  order of `ostree admin status`.

State ($FAKE_HOST_STATE, JSON): "deployments" (default first: version, checksum, timestamp, origin,
booted, staged, pinned, digest), "available" (what the remote has for the current origin),
"history" (older commits of the origin, for deploy), "origins" (what other origins offer, for
rebase), "cached-update", "rollback-queued". Calls are appended to $FAKE_HOST_CALLS when set;
$FAKE_HOST_FAIL makes every call fail as a tool whose daemon is gone; a status takes
$FAKE_HOST_STATUS_DELAY seconds (a real one starts a process and asks its daemon), and an
rpm-ostree rollback $FAKE_HOST_ROLLBACK_DELAY seconds.
"""
import json
import os
import sys
import time

STATE = os.environ["FAKE_HOST_STATE"]
TOOL = os.path.basename(sys.argv[0])
ARGS = sys.argv[1:]


def load():
    with open(STATE) as f:
        return json.load(f)


def save(state):
    with open(STATE + ".new", "w") as f:
        json.dump(state, f, indent=1)
    os.replace(STATE + ".new", STATE)
    root = os.environ.get("FAKE_SYSROOT")
    if root:
        os.makedirs(os.path.join(root, "ostree/deploy"), exist_ok=True)
        os.utime(os.path.join(root, "ostree/deploy"))


def fail(message, code=1):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def ident(d):
    return f"fedora-coreos-{d['checksum']}.0"


def stage(state, commit, origin):
    """A new pending deployment of `commit`, first; an older pending one is replaced."""
    deployments = [d for d in state["deployments"] if not d.get("staged")]
    new = dict(commit, origin=origin, booted=False, staged=True, pinned=False)
    state["deployments"] = [new] + deployments
    state["cached-update"] = None
    state["rollback-queued"] = False


def booted_of(state):
    return next(d for d in state["deployments"] if d["booted"])


def find(commits, rev):
    return next((c for c in commits if rev in (c["version"], c["checksum"])), None)


def rpm_status(state):
    deployments = [{"id": ident(d), "osname": "fedora-coreos", "checksum": d["checksum"],
                    "version": d["version"], "timestamp": d["timestamp"], "origin": d["origin"],
                    "booted": d["booted"], "staged": d.get("staged", False),
                    "pinned": d.get("pinned", False), "serial": 0} for d in state["deployments"]]
    print(json.dumps({"deployments": deployments, "transaction": None,
                      "cached-update": state.get("cached-update")}, indent=2))


def rpm_ostree():
    state = load()
    op = ARGS[0] if ARGS else ""
    rest = [a for a in ARGS[1:] if a != "--"]
    origin = booted_of(state)["origin"]
    if op == "status":
        rpm_status(state)
    elif op == "upgrade" and "--check" in rest:
        a = state.get("available")
        if not a:
            print("No updates available.")
            sys.exit(77)
        state["cached-update"] = {"osname": "fedora-coreos", "checksum": a["checksum"], "version": a["version"],
                                  "timestamp": a["timestamp"], "origin": origin,
                                  "rpm-diff": a.get("rpm-diff", {})}
        save(state)
        print(f"AvailableUpdate:\n  Version: {a['version']}")
    elif op == "upgrade":
        a = state.get("available")
        if not a:
            print("No upgrade available.")
            return
        stage(state, {k: a[k] for k in ("version", "checksum", "timestamp")}, origin)
        state["available"] = None
        save(state)
        print("Staging deployment... done")
    elif op == "deploy":
        commit = find(state.get("history", []), rest[0])
        if commit is None:
            fail(f"Failed to resolve version {rest[0]}")
        stage(state, commit, origin)
        save(state)
        print("Staging deployment... done")
    elif op == "rebase":
        target, rev = rest[0], (rest[1] if len(rest) > 1 else None)
        commits = state.get("origins", {}).get(target)
        if not commits:
            fail(f"Remote ref not found: {target}")
        commit = commits[0] if rev is None else find(commits, rev)
        if commit is None:
            fail(f"Failed to resolve {rev} in {target}")
        stage(state, commit, target)
        save(state)
        print("Staging deployment... done")
    elif op == "rollback":
        time.sleep(float(os.environ.get("FAKE_HOST_ROLLBACK_DELAY", "0")))
        d = state["deployments"]
        if len(d) < 2:
            fail("No rollback deployment found")
        d[0], d[1] = d[1], d[0]
        for x in d:
            x["staged"] = False
        save(state)
        print("Moving 'x' to be first deployment")
    elif op == "cleanup":
        d = state["deployments"]
        booted = next(i for i, x in enumerate(d) if x["booted"])
        drop = set()
        if "--pending" in rest or "-p" in rest:
            drop |= set(range(booted))
        if "--rollback" in rest or "-r" in rest:
            drop |= set(range(booted + 1, len(d)))
        state["deployments"] = [x for i, x in enumerate(d) if i not in drop]
        save(state)
        print("Transaction complete" if drop else "Deployments unchanged.")
    else:
        fail(f"unsupported in this stand-in: {' '.join(ARGS)}")


def bootc_image(c, ref):
    return {"image": {"image": ref, "transport": "registry"}, "version": c["version"],
            "timestamp": c.get("iso-time"), "imageDigest": c["digest"]}


def bootc_entry(d, cached=None):
    return {"image": bootc_image(d, d["origin"]), "cachedUpdate": cached, "incompatible": False,
            "pinned": d.get("pinned", False),
            "ostree": {"stateroot": "default", "checksum": d["checksum"], "deploySerial": 0}}


def bootc_status(state):
    d = state["deployments"]
    booted = booted_of(state)
    staged = next((x for x in d if x.get("staged")), None)
    rollback = next((x for x in d if not x["booted"] and not x.get("staged")), None)
    cached = state.get("cached-update")
    queued = state.get("rollback-queued", False)
    host = {"apiVersion": "org.containers.bootc/v1", "kind": "BootcHost", "metadata": {"name": "host"},
            "spec": {"image": {"image": booted["origin"], "transport": "registry"},
                     "bootOrder": "rollback" if queued else "default"},
            "status": {"staged": staged and bootc_entry(staged),
                       "booted": bootc_entry(booted, cached and bootc_image(cached, booted["origin"])),
                       "rollback": rollback and bootc_entry(rollback), "rollbackQueued": queued,
                       "type": "bootcHost"}}
    print(json.dumps(host, indent=2))


def bootc():
    state = load()
    op = ARGS[0] if ARGS else ""
    d = state["deployments"]
    origin = booted_of(state)["origin"]
    if op == "status":
        bootc_status(state)
    elif op == "upgrade":
        a = state.get("available")
        if not a:
            print(f"No changes in: {origin}")
            return
        if "--check" in ARGS:
            state["cached-update"] = a
            print(f"Update available for image {origin}: version {a['version']}")
        else:
            stage(state, a, origin)
            state["available"] = None
            print("Queued for next boot")
        save(state)
    elif op == "switch":
        target = [a for a in ARGS[1:] if not a.startswith("-")][0]
        commits = state.get("origins", {}).get(target)
        if not commits:
            fail(f"Pulling: reading manifest {target}: manifest unknown")
        stage(state, commits[0], target)
        save(state)
        print("Queued for next boot")
    elif op == "rollback":
        if not any(not x["booted"] and not x.get("staged") for x in d):
            fail("No rollback available")
        state["rollback-queued"] = not state.get("rollback-queued", False)
        save(state)
        print("Next boot: rollback deployment")
    else:
        fail(f"unsupported in this stand-in: {' '.join(ARGS)}")


def ostree():
    state = load()
    args = [a for a in ARGS if a != "--"]
    if args[:2] == ["admin", "pin"]:
        unpin = "--unpin" in args or "-u" in args
        index = int(args[-1])
        state["deployments"][index]["pinned"] = not unpin
        save(state)
        print(f"Deployment {index} is now {'unpinned' if unpin else 'pinned'}")
    elif args[:2] == ["admin", "undeploy"]:
        index = int(args[-1])
        if state["deployments"][index]["booted"]:
            fail("Cannot undeploy currently booted deployment")
        del state["deployments"][index]
        save(state)
        print(f"Deleted deployment {index}")
    else:
        fail(f"unsupported in this stand-in: {' '.join(ARGS)}")


if __name__ == "__main__":
    calls = os.environ.get("FAKE_HOST_CALLS")
    if calls:
        with open(calls, "a") as f:
            f.write(f"{TOOL} {' '.join(ARGS)}\n")
    if ARGS[:1] == ["status"]:
        time.sleep(float(os.environ.get("FAKE_HOST_STATUS_DELAY", "0")))
    if os.environ.get("FAKE_HOST_FAIL"):
        fail(f"{TOOL}: Connection to the daemon was lost")
    {"rpm-ostree": rpm_ostree, "bootc": bootc, "ostree": ostree}[TOOL]()
