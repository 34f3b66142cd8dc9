#!/bin/bash
# Instructions the mesh executes per request, all reactors together, from
# callgrind: runs qmesh_mesh_count REPS times with A and with B requests per
# ordered pair, and fits each run's instruction count to
#     a + b * requests completed + c * idle turns
# by least squares. b is the figure: start-up and shutdown go into a, and
# the idle turns, whose number moves from run to run with when valgrind
# (one thread at a time) switches threads, into c. The spread of b over the
# runs (jackknife: the fit repeated leaving each run out) is printed with it.
#
#   bench/tools/instructions_per_request.sh QMESH_MESH_COUNT REACTORS WINDOW A B [REPS] [REPLY_QUOTA]
#   e.g. bench/tools/instructions_per_request.sh build/release/bench/qmesh_mesh_count 2 64 8000 32000 5
set -euo pipefail
if [ $# -lt 5 ] || [ $# -gt 7 ]; then
    echo "usage: $0 QMESH_MESH_COUNT REACTORS WINDOW A B [REPS] [REPLY_QUOTA]" >&2
    exit 2
fi
bin=$1 n=$2 w=$3 a=$4 b=$5 reps=${6:-5} quota=${7:-0}
for v in "$n" "$w" "$a" "$b" "$reps" "$quota"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "$0: not a number: $v" >&2; exit 2; }
done
[ "$b" -gt "$a" ] || { echo "$0: B must exceed A" >&2; exit 2; }
[ "$reps" -ge 2 ] || { echo "$0: REPS must be at least 2" >&2; exit 2; }
[ -x "$bin" ] || { echo "$0: not an executable: $bin" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "$0: valgrind is not installed" >&2; exit 2; }
runs=()
run() {  # prints "instructions completed idle_turns"
    local out
    out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$n" "$w" "$1" "$quota" 2>&1) || {
        echo "$0: $bin $n $w $1 $quota failed:" >&2
        echo "$out" | grep -v '^==' >&2
        exit 1
    }
    echo "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<< "$out")" \
         "$(sed -n 's/^ok: .*, \([0-9]*\) completed,.*/\1/p' <<< "$out")" \
         "$(sed -n 's/^ok: .*, \([0-9]*\) idle turns$/\1/p' <<< "$out")"
}
for ((i = 0; i < reps; i++)); do
    runs+=("$(run "$a")" "$(run "$b")")
done
printf '%s\n' "${runs[@]}" | /usr/bin/python3 -c '
import sys
import numpy as np
rows = np.array([[float(x) for x in line.split()] for line in sys.stdin if line.strip()])
if rows.shape[1] != 3:
    sys.exit("instructions_per_request.sh: could not read a run")
def fit(r):
    X = np.column_stack([np.ones(len(r)), r[:, 1], r[:, 2]])
    return np.linalg.lstsq(X, r[:, 0], rcond=None)[0]
_, per_request, per_idle = fit(rows)
loo = [fit(np.delete(rows, i, axis=0))[1] for i in range(len(rows))]
print(f"{per_request:.1f} instructions per request (leaving one run out: {min(loo):.1f} to {max(loo):.1f}; "
      f"{per_idle:.0f} per idle turn; {len(rows)} runs)")
'
