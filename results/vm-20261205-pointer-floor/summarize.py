"""submit_to's round trip against the floor, the pointer floor and the raw queue, from the files
beside this script.

Binary: release build of d70a19c on this 2-vCPU VM, run three times one after another:
    qmesh run --suite floor,pingpong,submit --queues fastforward,batched,cached,boost_spsc,lamport,seastar \
        --reps 5 --out floor_pingpong_submit_d70a19c_<run>.json
Prints, per run, pair 0-1's floor and pointer floor (medians over repetitions), then per submit
configuration the submit_to p50 (median), its floor_ratio and raw_ratio (medians of the
bracketed per-repetition ratios), and its median over the pointer floor's median (a ratio of
medians: the pointer floor is measured in the floor suite, not next to the entry), and what is
left of submit_to's extra over its raw round trip once the pointer floor's extra over the floor
is taken out (ns).
Usage: /usr/bin/python3 summarize.py
"""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
for path in sorted(glob.glob(os.path.join(HERE, "floor_pingpong_submit_*.json"))):
    doc = json.load(open(path, encoding="utf-8"))
    med = {e["run_name"]: e for e in doc["benchmarks"] if e.get("aggregate_name") == "median"}
    fl = med["floor/0-1"]
    floor, pointer = fl["p50_ns"], fl["pointer_p50_ns"]
    print(f"{os.path.basename(path)}: floor {floor:.0f} ns, pointer floor {pointer:.0f} ns "
          f"({pointer / floor:.2f}x, +{pointer - floor:.0f} ns); floor drift "
          f"{doc['context']['floor_drift']:.0%}")
    for name, e in med.items():
        if e["suite"] != "submit":
            continue
        raw = e["raw_p50_ns"]
        left = (e["p50_ns"] - raw) - (pointer - floor)
        print(f"  {name:34s} p50 {e['p50_ns']:5.0f}  /floor {e['floor_ratio']:.2f}  /raw {e['raw_ratio']:.2f}"
              f"  /pointer {e['p50_ns'] / pointer:.2f}  extra over raw {e['p50_ns'] - raw:4.0f}, "
              f"of which not the pointer {left:4.0f}")
