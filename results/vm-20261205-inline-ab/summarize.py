"""Small requests crossing inline (branch inline-messages, d2e0b34) against 60c3055's runtime,
from the files beside this script.

Binaries: release builds of 60c3055 and of d2e0b34 (not merged), on this 2-vCPU VM, alternated
(round 1 old first, round 2 new first, round 3 old first), each:
    qmesh run --suite submit --queues fastforward,batched,boost_spsc,cached,lamport,seastar --reps 3 \\
        --out submit_<sha>-<round>.json
and, in an earlier series of three rounds,
    qmesh run --suite mesh --queues fastforward,batched,seastar,lamport,inbox --reps 2 \\
        --out mesh_<sha>-<round>.json
Prints submit_to's p50 (scan; median over every repetition of the three rounds) per queue with
new/old, then mesh msgs/s new/old per configuration (median over repetitions) and their
geometric mean. The host stayed in one phase (floor 560-630 ns) through the submit rounds.
Usage: /usr/bin/python3 summarize.py
"""
import collections
import glob
import json
import math
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
OLD, NEW = "60c3055", "d2e0b34"


def load(prefix):
    got = collections.defaultdict(lambda: collections.defaultdict(list))
    for path in glob.glob(os.path.join(HERE, f"{prefix}_*.json")):
        sha = os.path.basename(path)[len(prefix) + 1:].split("-")[0]
        for e in json.load(open(path, encoding="utf-8"))["benchmarks"]:
            if e.get("run_type") != "iteration" or not e.get("valid"):
                continue
            if prefix == "submit" and e.get("polling") == "scan":
                got[e["queue"]][sha].append(e["p50_ns"])
            elif prefix == "mesh" and e["receiver_state"] != "busy":
                got[(e["queue"], e["receiver_state"], e["polling"])][sha].append(e["msgs_per_s"])
    return got


print("submit_to p50, scan (ns): old, new, new/old")
for q, by in sorted(load("submit").items()):
    o, n = statistics.median(by[OLD]), statistics.median(by[NEW])
    print(f"  {q:12s} {o:6.0f} {n:6.0f}  {n / o:.2f}")
print("mesh msgs/s (M/s): old, new, new/old")
ratios = []
for k, by in sorted(load("mesh").items()):
    o, n = statistics.median(by[OLD]), statistics.median(by[NEW])
    ratios.append(n / o)
    print(f"  {' '.join(k):32s} {o / 1e6:6.2f} {n / 1e6:6.2f}  {n / o:.2f}")
print(f"  geometric mean {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
