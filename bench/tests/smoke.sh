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
bad = [b["name"] for b in doc["benchmarks"] if not b["valid"]]
assert not bad, f"invalid: {bad}"
print(f"smoke: {len(doc['benchmarks'])} entries, {len(ran)} queues, all valid")
PY
