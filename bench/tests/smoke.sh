#!/usr/bin/env bash
# Smoke run: qmesh with tiny durations, its JSON validated against
# results/qmesh-results.schema.json, then fed through the report script.
# Usage: smoke.sh QMESH SOURCE_DIR WORKDIR
set -euo pipefail
qmesh=$1
src=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
"$qmesh" run --suite floor,pingpong,submit,stream,mesh --quick --reps 2 --out "$work/smoke.json"
/usr/bin/python3 "$src/plots/validate.py" "$work/smoke.json"
/usr/bin/python3 "$src/plots/report.py" "$work/smoke.json" -o "$work/report"
test -s "$work/report/report.html"
ls "$work"/report/*.png > /dev/null
# Every queue ran and every measurement is valid.
/usr/bin/python3 - "$work/smoke.json" "$qmesh" <<'PY'
import json, subprocess, sys
doc = json.load(open(sys.argv[1]))
queues = {q["name"] for q in json.loads(subprocess.check_output([sys.argv[2], "list", "--json"]))}
for suite in ("pingpong", "submit", "stream", "mesh"):
    ran = {b["queue"] for b in doc["benchmarks"] if b["suite"] == suite}
    assert ran == queues, f"{suite} did not run: {sorted(queues - ran)}"
for b in doc["benchmarks"]:
    if b["suite"] == "mesh" and b["run_type"] == "iteration":
        assert b["sent"] == b["received"] == b["completed"], f"mesh counters do not balance: {b['name']}"
bad = [b["name"] for b in doc["benchmarks"] if not b["valid"]]
assert not bad, f"invalid: {bad}"
print(f"smoke: {len(doc['benchmarks'])} entries, {len(ran)} queues, all valid")
PY
