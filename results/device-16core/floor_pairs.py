"""How the hardware floor's round trip spreads over the lent machine's 240 ordered core pairs, from
the floor entries of the files beside this script (the runs README.md lists; no new run).

For each file: how many repetitions of a pair's floor (p50 of one repetition) fall in each
50 ns bin; the range of the pairs' medians over repetitions; every repetition under 200 ns,
with its pair and index; and how many unordered pairs {a, b} had more than one such repetition
(either direction), against what independent repetitions would give by chance (each of an
unordered pair's 2 x reps repetitions low with the file's overall share of low ones).
A round trip of 56-82 ns, where the pairs' medians are 276-456 ns, is what two hardware
threads of one physical core give (they share its L1 and L2); the guest sees 16 cores of one
thread each (xeon16-kvm-topo.txt), so such a repetition means the host ran both vCPUs on
siblings of one core at the time.
Usage: /usr/bin/python3 floor_pairs.py
"""
import collections
import glob
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
LOW_NS = 200.0

for path in sorted(glob.glob(os.path.join(HERE, "*.json"))):
    doc = json.load(open(path, encoding="utf-8"))
    reps = [e for e in doc.get("benchmarks", [])
            if e.get("suite") == "floor" and e.get("run_type") == "iteration" and e.get("valid", True)]
    if not reps:
        continue
    by_pair = collections.defaultdict(list)
    for e in reps:
        by_pair[tuple(e["cores"])].append(e["p50_ns"])
    medians = sorted(statistics.median(v) for v in by_pair.values())
    bins = collections.Counter(int(e["p50_ns"] // 50) * 50 for e in reps)
    low = sorted((tuple(e["cores"]), e["repetition_index"], e["p50_ns"]) for e in reps if e["p50_ns"] < LOW_NS)
    print(f"{os.path.basename(path)}: {len(reps)} repetitions over {len(by_pair)} pairs; pairs' medians "
          f"{medians[0]:.0f}-{medians[-1]:.0f} ns (median {statistics.median(medians):.0f})")
    print("  repetitions per 50 ns bin: " + ", ".join(f"{b}: {n}" for b, n in sorted(bins.items())))
    print(f"  under {LOW_NS:.0f} ns: {len(low)} ({len(low) / len(reps):.1%})")
    for pair, rep, p50 in low:
        print(f"    {pair[0]}-{pair[1]} repetition {rep}: {p50:.0f} ns")
    hits = collections.Counter(frozenset(pair) for pair, _, _ in low)
    repeated = sorted(tuple(sorted(p)) for p, n in hits.items() if n > 1)
    # Chance of two or more low repetitions among an unordered pair's k, each low with share q.
    k = 2 * len(reps) // len(by_pair)
    q = len(low) / len(reps)
    p_two = 1 - (1 - q) ** k - k * q * (1 - q) ** (k - 1)
    unordered = len(by_pair) // 2  # the floor runs both directions of every pair
    print(f"  unordered pairs low more than once: {len(repeated)} {repeated}; "
          f"by chance about {unordered * p_two:.1f}")
