#!/usr/bin/env python3
"""A fleet-wide rollout through the etcd reboot semaphore, simulated: N hosts, S slots, reboots
that hold a slot for R minutes (take to steady state), each host running atomicd's rounds every
I minutes from a random phase (a round of a host that waits for a slot is one more take). Counts
what etcd serves: a take is a range plus, when it wins, a txn; a release is a range and a txn;
a lost compare-and-swap (two hosts freeing/taking in the same instant) costs one more of each.

Usage: fleet_sim.py [HOSTS SLOTS REBOOT_MIN INTERVAL_MIN SEED]"""

import heapq
import random
import sys

hosts, slots, reboot, interval, seed = (int(a) for a in (sys.argv[1:] + ["1000", "5", "20", "60", "1"])[:5]) \
    if len(sys.argv) > 1 else (1000, 5, 20, 60, 1)
rng = random.Random(seed)
events = []  # (minute, kind, host)
for h in range(hosts):
    heapq.heappush(events, (rng.uniform(0, interval), "round", h))
held, done, requests, peak_held = set(), 0, 0, 0
per_minute = {}
while events:
    t, kind, h = heapq.heappop(events)
    minute = int(t)
    if kind == "round":
        requests += 1  # the range of the take
        per_minute[minute] = per_minute.get(minute, 0) + 1
        if len(held) < slots:
            requests += 1  # the txn that wins
            per_minute[minute] += 1
            held.add(h)
            peak_held = max(peak_held, len(held))
            heapq.heappush(events, (t + reboot, "steady", h))
        else:
            heapq.heappush(events, (t + interval, "round", h))
    else:
        requests += 2  # range and txn of the release
        per_minute[minute] = per_minute.get(minute, 0) + 2
        held.discard(h)
        done += 1
        last = t
busiest = max(per_minute.values())
print(f"hosts {hosts}, slots {slots}, reboot {reboot} min, rounds every {interval} min")
print(f"rollout done in {last / 60:.1f} h (lower bound {hosts / slots * reboot / 60:.1f} h); never more than {peak_held} held")
print(f"etcd requests: {requests} in all, {requests / (last * 60):.2f}/s on average, {busiest / 60:.2f}/s in the busiest minute")
