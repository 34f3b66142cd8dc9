#!/usr/bin/env bash
# Smoke run: qmesh with tiny durations, its JSON validated against
# results/qmesh-results.schema.json, then fed through the report script.
# Usage: smoke.sh QMESH SOURCE_DIR WORKDIR
set -euo pipefail
qmesh=$1
src=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
"$qmesh" run --suite floor,pingpong,submit,stream,load,mesh,kv,pollscale --quick --reps 2 --out "$work/smoke.json"
/usr/bin/python3 "$src/plots/validate.py" "$work/smoke.json"
/usr/bin/python3 "$src/plots/report.py" "$work/smoke.json" -o "$work/report"
test -s "$work/report/report.html"
ls "$work"/report/*.png > /dev/null
# Every queue ran and every measurement is valid.
/usr/bin/python3 - "$work/smoke.json" "$qmesh" <<'PY'
import json, subprocess, sys
doc = json.load(open(sys.argv[1]))
queues = {q["name"] for q in json.loads(subprocess.check_output([sys.argv[2], "list", "--json"]))}
for suite in ("pingpong", "submit", "stream", "load", "mesh", "kv", "pollscale"):
    ran = {b["queue"] for b in doc["benchmarks"] if b["suite"] == suite and b["queue"] is not None}
    assert ran == queues, f"{suite} did not run: {sorted(queues - ran)}"
designs = {b["design"] for b in doc["benchmarks"] if b["suite"] == "kv"}
assert designs == {"sharded", "mutex", "shared_mutex", "striped"}, f"kv designs: {sorted(designs)}"
for b in doc["benchmarks"]:
    if b["suite"] == "mesh" and b["run_type"] == "iteration":
        assert b["sent"] == b["received"] == b["completed"], f"mesh counters do not balance: {b['name']}"
        polls = sum(h["count"] for h in b["batch_hist"])
        assert 0 < polls <= b["received"], f"batch histogram does not fit the messages: {b['name']}"
    if b["suite"] == "pollscale" and b["run_type"] == "iteration":
        assert b["poll_ns"] > 0 and b["pair_bytes"] > 0, f"pollscale measured nothing: {b['name']}"
# Each median entry's FIELD_spread is MAD / median of FIELD over its valid repetitions,
# recomputed here from the iteration entries; and there is one for every varying field.
def median(v):
    v = sorted(v)
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2
iterations = {}
for b in doc["benchmarks"]:
    if b["run_type"] == "iteration" and b["valid"]:
        iterations.setdefault(b["run_name"], []).append(b)
checked = 0
for b in doc["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    for field in ("p50_ns", "floor_ratio", "raw_ratio", "msgs_per_s", "poll_ns"):
        values = [i[field] for i in iterations.get(b["run_name"], []) if isinstance(i.get(field), (int, float))]
        if len(values) < 2 or median(values) == 0:
            assert field + "_spread" not in b, f"{b['name']}: {field}_spread from {len(values)} value(s)"
            continue
        m = median(values)
        want = median([abs(x - m) for x in values]) / m
        got = b[field + "_spread"]
        assert abs(got - want) <= 1e-9 * max(1.0, want), f"{b['name']}: {field}_spread {got}, recomputed {want}"
        checked += 1
assert checked > 0, "no spread was checked"
bad = [b["name"] for b in doc["benchmarks"] if not b["valid"]]
assert not bad, f"invalid: {bad}"
print(f"smoke: {len(doc['benchmarks'])} entries, {len(ran)} queues, all valid")
PY
