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
# Every floor entry also measured the pointer floor of its pair (a request passed by
# pointer), and its ratio divides the two figures of that entry.
floors = [b for b in doc["benchmarks"] if b["suite"] == "floor" and b["run_type"] == "iteration"]
assert floors, "no floor entry"
for b in floors:
    assert "pointer_error" not in b, f"{b['name']}: the pointer floor failed: {b.get('pointer_error')}"
    assert b["pointer_p50_ns"] > 0, f"{b['name']}: pointer_p50_ns {b['pointer_p50_ns']}"
    want = b["pointer_p50_ns"] / b["p50_ns"]
    assert abs(b["pointer_ratio"] - want) <= 1e-9 * want, f"{b['name']}: pointer_ratio {b['pointer_ratio']}, want {want}"
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
    for field in ("p50_ns", "floor_ratio", "raw_ratio", "pointer_ratio", "msgs_per_s", "poll_ns"):
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
# Round trips sit between two measurements of their reference (floor; submit: also
# the raw round trip): a ratio divides by their mean and only when they agree;
# without one, the entry says why. context.bracket counts the entries.
bracket = doc["context"]["bracket"]
entries = [b for b in doc["benchmarks"] if b["suite"] in ("pingpong", "submit") and b["run_type"] == "iteration"]
assert bracket["entries"] == len(entries), f"bracket counts {bracket['entries']} entries, the file has {len(entries)}"
assert bracket["retried"] == sum(1 for b in entries if b["tries"] > 1), "bracket.retried does not match the tries"
missing = sum(1 for b in entries if "floor_error" in b or "raw_error" in b)
assert bracket["unsettled"] == missing, f"bracket.unsettled {bracket['unsettled']}, entries without a ratio {missing}"
for b in entries:
    assert 1 <= b["tries"] <= bracket["attempts"], f"{b['name']}: tries {b['tries']}"
    if not b["valid"]:
        continue  # its own failure is reported below
    for ref in ("floor", "raw") if b["suite"] == "submit" else ("floor",):
        ratio = b[ref + "_ratio"]
        if ratio is None:
            assert b.get(ref + "_error"), f"{b['name']}: {ref}_ratio null and no {ref}_error"
            continue
        assert ref + "_error" not in b, f"{b['name']}: {ref}_ratio and {ref}_error both"
        lo, hi = sorted((b[ref + "_before_p50_ns"], b[ref + "_after_p50_ns"]))
        assert hi - lo <= bracket["tolerance"] * lo + 1e-9, f"{b['name']}: {ref} ratio from references that disagree"
        assert abs(b[ref + "_p50_ns"] - (lo + hi) / 2) <= 1e-9 * hi, f"{b['name']}: {ref}_p50_ns is not their mean"
        assert abs(ratio - b["p50_ns"] / b[ref + "_p50_ns"]) <= 1e-9 * ratio, f"{b['name']}: {ref}_ratio"
bad = [b["name"] for b in doc["benchmarks"] if not b["valid"]]
assert not bad, f"invalid: {bad}"
print(f"smoke: {len(doc['benchmarks'])} entries, {len(ran)} queues, all valid")
PY
