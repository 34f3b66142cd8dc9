"""Sleep against busy-poll, from the files beside this script.

Made at 4146dab (release build, this 2-vCPU VM), five rounds, each running in turn:
    qmesh run --suite submit,mesh --queues fastforward,batched,lamport --reps 3 \
        --idle busy-poll                   --out idle_busy-poll_<round>.json
        --idle sleep                       --out idle_sleep200_<round>.json   (poll time 200 us)
        --idle sleep --idle-poll 0         --out idle_sleep0_<round>.json
Prints, per receiver state, the geometric mean over rounds, queues and polling strategies of
mesh msgs/s (the median over repetitions) of each sleep variant over busy-poll in the same
round, with the least and largest of those ratios; then the median parks (sleeps) per mesh
measurement. Usage: /usr/bin/python3 summarize.py
"""
import collections
import glob
import json
import math
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
rates = collections.defaultdict(lambda: collections.defaultdict(dict))
parks = collections.defaultdict(lambda: collections.defaultdict(list))
for path in glob.glob(os.path.join(HERE, "idle_*.json")):
    variant, rnd = os.path.basename(path)[len("idle_"):-len(".json")].rsplit("_", 1)
    for e in json.load(open(path, encoding="utf-8"))["benchmarks"]:
        if e["suite"] != "mesh":
            continue
        if e.get("aggregate_name") == "median":
            rates[e["run_name"]][variant][rnd] = e["msgs_per_s"]
        elif e.get("run_type") == "iteration":
            parks[e["run_name"]][variant].append(e.get("sleeps", 0))

ratios = collections.defaultdict(lambda: collections.defaultdict(list))
for name, by_variant in rates.items():
    state = "busy" if "/busy" in name else "fan-in" if "/fan-in" in name else "idle"
    for variant in ("sleep200", "sleep0"):
        for rnd, base in by_variant["busy-poll"].items():
            ratios[state][variant].append(by_variant[variant][rnd] / base)
for state, by_variant in ratios.items():
    for variant, xs in by_variant.items():
        gm = math.exp(sum(map(math.log, xs)) / len(xs))
        print(f"{state:7s} {variant:9s} ÷ busy-poll: geomean {gm:.3f}, "
              f"{min(xs):.2f}–{max(xs):.2f}, n={len(xs)}")
for name in sorted(parks):
    print(name, "median parks:", {v: statistics.median(x) for v, x in sorted(parks[name].items())})
