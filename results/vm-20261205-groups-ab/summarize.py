"""The mesh before and after its pumps got a submit group of their own, from the files beside
this script.

Binaries: release builds of 9c5f3cf (pumps in group 0, with the invoke_on_all that starts them)
and 374f870 (pumps in group 1: e405e2f), on this 2-vCPU VM, alternated, four rounds (3-6; the
old one first in rounds 3, the new one first in 4-6), each:
    qmesh run --suite mesh --queues fastforward,batched,inbox --reps 3 --out mesh_<sha>_<round>.json
Prints, per configuration, new over old of msgs/s (median over repetitions) in each round, their
geometric mean, and the best lock-free queue over the inbox in each build (geometric mean over
rounds). Fan-in is the control: core 0 sends nothing there, so both builds run the same mesh.
Usage: /usr/bin/python3 summarize.py
"""
import collections
import glob
import json
import math
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
OLD, NEW = "9c5f3cf", "374f870"
rates = collections.defaultdict(lambda: collections.defaultdict(dict))  # name -> sha -> round -> msgs/s
full_stalls = collections.defaultdict(list)  # sha -> full_stalls of every all-to-all entry
for path in glob.glob(os.path.join(HERE, "mesh_*.json")):
    sha, rnd = os.path.basename(path)[len("mesh_"):-len(".json")].split("_")
    reps = collections.defaultdict(list)
    for e in json.load(open(path, encoding="utf-8"))["benchmarks"]:
        if e["suite"] == "mesh" and e.get("run_type") == "iteration":
            reps[e["run_name"]].append(e["msgs_per_s"])
            if e["receiver_state"] != "fan-in":
                full_stalls[sha].append(e["full_stalls"])
    for name, v in reps.items():
        rates[name][sha][rnd] = statistics.median(v)


def gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


print(f"{'configuration':32} new/old per round            geometric mean")
for name in sorted(rates):
    r = rates[name]
    rounds = sorted(set(r[OLD]) & set(r[NEW]))
    ratios = [r[NEW][k] / r[OLD][k] for k in rounds]
    print(f"{name:32} {' '.join(f'{x:.2f}' for x in ratios):28} {gmean(ratios):.2f}")
for state in ("", "/doorbell"):
    for sha in (OLD, NEW):
        per_round = []
        for rnd in sorted(rates["mesh/inbox/n2" + state][sha]):
            best = max(rates[f"mesh/{q}/n2{state}"][sha][rnd] for q in ("fastforward", "batched"))
            per_round.append(best / rates["mesh/inbox/n2" + state][sha][rnd])
        print(f"best lock-free / inbox, idle{state or ' scan'}, {sha}: {gmean(per_round):.1f}x")
for sha in (OLD, NEW):
    print(f"full_stalls per all-to-all entry, {sha}: median {statistics.median(full_stalls[sha]):.0f}")
