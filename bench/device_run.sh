#!/usr/bin/env bash
# bench/device_run.sh: the one prepared command for a lent many-core machine.
# `make device-bundle` copies this script, the release qmesh and every shared
# library it needs (its dynamic loader too) into .device/; carry .device and
# run `bash .device/device_run.sh` from the repository root. It writes under
# $OUT (default: ./device-out): the machine's topology, then the suites that
# need many cores (the mesh at N = 2 ... all cores, both polling strategies,
# and submit), over the best lock-free queues and the locking baselines.
# Sized to finish in about 4 minutes on 16 cores; QMESH_DEVICE_ARGS replaces
# the run's arguments.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-./device-out}
mkdir -p "$out"
loader=$(ls "$here"/lib/ld-linux*.so* | head -n 1)
qmesh() { "$loader" --library-path "$here/lib" "$here/qmesh" "$@"; }

qmesh topo --json > "$out/topo.json"
qmesh topo > "$out/topo.txt"
default_args="--suite floor,submit,mesh --queues fastforward,lamport,cached,boost_spsc,inbox,mutex --reps 3"
# shellcheck disable=SC2086
time qmesh run ${QMESH_DEVICE_ARGS:-$default_args} --out "$out/device-$(nproc)cpu.json"
