#!/usr/bin/env bash
# bench/device_run.sh: the one prepared command for a lent many-core machine.
# `make device-bundle` copies this script, the release qmesh, qmesh_micro and
# qmesh_parallel_work and every shared library they need (the dynamic loader
# too) into .device/; carry .device and run `bash .device/device_run.sh` from the repository root.
# It writes under $OUT (default: ./device-out) the machine's topology, then
# seven runs, most important first, each under its own deadline (a run
# stopped by its deadline writes what it measured, marked "interrupted";
# repetitions go round-robin, so it loses repetitions, not configurations):
#   1, 2. the mesh (N = 2, 4, 8, ... every core; idle under both polling
#      strategies, busy and fan-in) over seastar, batched, fastforward and
#      the inbox at windows 16 and 64, 3 repetitions: first with the reply
#      quota of before 2026-12-05 (--reply-quota 64, the task quota), then
#      with the default (none), the same binary back to back;
#   3. qmesh_parallel_work: a core's rate at work that shares nothing with
#      k = 1, 2, 4, ... every core busy, over its rate alone (the clock, a
#      shared core, the L3 under load), 50 ms steps, 3 repetitions; a table
#      in runs.log;
#   4. floor, submit, mesh and pollscale, over the best lock-free queues and
#      the locking baselines, 5 repetitions;
#   5. pingpong over every registered queue, 3 repetitions;
#   6. the mesh again with sleeping reactors (--idle sleep), 2 repetitions;
#   7. qmesh_micro's exchange: a request's transport by pointer or by value
#      between two cores, 10 repetitions interleaved.
# Sized to finish in under 5 minutes on 16 cores (the deadlines add up to
# 290 s; on 2026-12-04 run 4 took 79 s of its 145). Each result file is
# gzipped (the lent machine sends back at most 8 files of 16 MiB: topo.json,
# runs.log and six results); runs.log holds the
# readable topology, then the runs' output and exit statuses.
# QMESH_DEVICE_ARGS replaces all seven with one run of those arguments.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-./device-out}
mkdir -p "$out"
loader=$(ls "$here"/lib/ld-linux*.so* | head -n 1)
# The bundled qmesh through its own loader, for the topology (the runs go
# through bounded, below).
qmesh_cmd=("$loader" --library-path "$here/lib" "$here/qmesh")
# A bundled program ($4, under .device/, through the bundled loader) run
# under a deadline of $1 seconds (SIGTERM; SIGKILL $2 s later if it has not
# ended), its output into runs.log, then a line naming it ($3) with its exit
# status and time.
bounded() {
    local limit=$1 grace=$2 name=$3
    shift 3
    local start=$SECONDS
    timeout -s TERM -k "$grace" "$limit" "$loader" --library-path "$here/lib" "$@" >> "$out/runs.log" 2>&1
    echo "$name: exit $? after $((SECONDS - start)) s (deadline $limit s)" | tee -a "$out/runs.log"
}
# One qmesh run under a deadline of $1 seconds (SIGTERM: qmesh writes what it
# has; SIGKILL 20 s later if it has not ended).
timed() {
    local limit=$1 name=$2
    shift 2
    bounded "$limit" 20 "$name" "$here/qmesh" run "$@" --out "$out/$name.json"
    # The lent machine sends back at most 8 files of 16 MiB each.
    [ -f "$out/$name.json" ] && gzip -f "$out/$name.json"
}

"${qmesh_cmd[@]}" topo --json > "$out/topo.json"
# The readable topology heads runs.log: a file of its own would be the
# ninth, and the lent machine sends back eight.
"${qmesh_cmd[@]}" topo > "$out/runs.log"
n=$(nproc)
if [ -n "${QMESH_DEVICE_ARGS:-}" ]; then
    # shellcheck disable=SC2086
    timed 280 "device-${n}cpu" $QMESH_DEVICE_ARGS
    exit 0  # each run's status is in runs.log
fi
# 1, 2: whether replies' continuations past a quota of 64 a poll (every
# reply past it, once one poll has taken more: runtime/README.md, "The reply
# quota") held the mesh back at N = 16.
ab=(--suite mesh --queues seastar,batched,fastforward,inbox --window 16,64 --reps 3)
timed 40 "device-${n}cpu-rq64" "${ab[@]}" --reply-quota 64
timed 40 "device-${n}cpu-rq0" "${ab[@]}"
# 3. Whether the machine, not the mesh, slows a core as more cores run: at
# N = 16 the mesh ran 0.68 of N = 2's rate per core with the same
# instructions per request (runtime/README.md, "Counted precisely").
bounded 20 5 parallel_work "$here/qmesh_parallel_work" 50 3
best=seastar,batched,fastforward,lamport,cached,boost_spsc,moodycamel_rwq
timed 145 "device-${n}cpu-main" --suite floor,submit,mesh,pollscale --queues "$best,inbox,mutex,spin" --reps 5
timed 15 "device-${n}cpu-pingpong" --suite pingpong --reps 3
timed 15 "device-${n}cpu-sleep" --suite mesh --queues seastar,fastforward,inbox --reps 2 --idle sleep
# 7. A request's transport by pointer or by value, two cores, without the
# runtime (bench/micro/exchange.cpp): Google Benchmark's JSON, not ours.
bounded 15 5 "device-${n}cpu-exchange" "$here/qmesh_micro" --benchmark_filter=exchange \
    --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true --benchmark_min_time=0.02 \
    --benchmark_format=json --benchmark_out="$out/device-${n}cpu-exchange.json"
exit 0  # each run's status is in runs.log
