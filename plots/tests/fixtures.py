"""Schema-valid qmesh result documents built in code, shaped like `qmesh run` output.

make_result() returns a dict the way the C++ writer lays it out: a context block, then for
every configuration `reps` iteration entries ("<run_name>/rep:<i>") followed by Google
Benchmark style aggregates ("<run_name>_median", ...: mean, median, stddev, cv, min, max).
Values are deterministic: a base figure times a small fixed jitter per repetition, so
repetitions differ (no ties) and medians are known exactly.
"""

import copy
import json
import os
import statistics
import sys

PLOTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if PLOTS not in sys.path:
    sys.path.insert(0, PLOTS)

# Relative jitter per repetition index; median of the first 5 is 1.0 exactly.
JITTER = [1.00, 1.02, 0.99, 1.01, 0.98, 1.03, 0.97, 1.015, 0.985, 1.005]

# Base round-trip p50 in ns.
FLOOR_P50 = {(0, 1): 150.0, (1, 0): 160.0}
PINGPONG_P50 = {"lamport": 300.0, "mutex": 900.0}

# Fields whose aggregates Google Benchmark-style writers compute (counters and times).
_MEASURED = ("real_time", "cpu_time", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns",
             "floor_p50_ns", "floor_ratio", "spread", "msgs_per_s", "offered_msgs_per_s",
             "stream_msgs_per_s", "poll_ns", "raw_p50_ns", "raw_ratio")
# Configuration fields: copied unchanged onto aggregates.
_CONFIG = ("suite", "queue", "cores", "relation", "msg_bytes", "capacity", "batch", "threads",
           "time_unit", "offered_fraction", "design", "write_fraction", "polling",
           "virtual_cores", "pair_bytes", "bell_bytes", "receiver_state", "oversubscribed")
# Integer counters: only the order statistics (min, median of an odd count, max) stay integers.
_COUNTERS = ("sent", "received", "completed", "full_stalls", "empty_polls")


def jitter(i):
    return JITTER[i % len(JITTER)]


def context(reps=5, suites=("floor", "pingpong"), **overrides):
    ctx = {
        "json_schema_version": 1,
        "qmesh_version": "0.1.0",
        "date": "2024-11-27T13:00:00Z",
        "host_name": "testhost",
        "executable": "build/release/bench/qmesh",
        "num_cpus": 2,
        "mhz_per_cpu": 2400.0,
        "library_build_type": "release",
        "cpu": {"model": "Test CPU @ 2.40GHz", "logical_cpus": 2},
        "topology": {"summary": "1 package, 1 NUMA node, 2 cores, 2 PUs, no SMT",
                     "packages": 1, "numa_nodes": 1, "cores": 2, "pus": 2, "smt": False,
                     "available_pus": [0, 1]},
        "cache_line_bytes": 128,
        "compiler": "GCC 12.2.0",
        "compiler_flags": "-O2 -march=x86-64-v2",
        "build_type": "Release",
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "git_dirty": False,
        "command_line": "qmesh run --suite " + ",".join(suites) + f" --reps {reps}",
        "environment": {"governor": "performance", "smt_active": False, "load_avg_1m": 0.12,
                        "virtualized": True, "hypervisor": "KVM"},
        "warnings": ["virtualized: absolute times drift; compare ratios"],
        "timer_overhead_ns": 21.5,
        "timer_step_ns": 10.0,
        "suites": list(suites),
        "reps": reps,
        "quick": False,
        "floor_drift": 0.04,
        "floor_spread": 0.0125,
    }
    ctx.update(overrides)
    return ctx


def _aggregates(run_name, its):
    """mean, median, stddev, cv, min, max entries over the iteration entries its. Their
    `repetitions` counts the valid ones, as qmesh writes it (a run with an invalid or a
    missing repetition has fewer than its iterations say); a run with none valid, of which
    qmesh writes no aggregates, keeps them here for the tests of the fallbacks."""
    reps = sum(1 for i in its if i["valid"]) or len(its)
    out = []
    for agg in ("mean", "median", "stddev", "cv", "min", "max"):
        e = {"name": f"{run_name}_{agg}", "run_name": run_name, "run_type": "aggregate",
             "aggregate_name": agg, "aggregate_unit": "percentage" if agg == "cv" else "time",
             "repetitions": reps, "iterations": reps,
             "valid": all(i["valid"] for i in its)}
        for k in _CONFIG:
            if k in its[0]:
                e[k] = copy.deepcopy(its[0][k])
        fields = [k for k in _MEASURED if k in its[0]]
        if agg in ("min", "max", "median") and reps % 2 == 1:
            fields += [k for k in _COUNTERS if k in its[0]]
        for k in fields:
            vals = [i[k] for i in its if i.get(k) is not None]
            if not vals:
                e[k] = None
                continue
            if agg == "mean":
                v = statistics.fmean(vals)
            elif agg == "median":
                v = statistics.median(vals)
            elif agg == "stddev":
                v = statistics.stdev(vals) if len(vals) > 1 else 0.0
            elif agg == "cv":
                m = statistics.fmean(vals)
                v = (statistics.stdev(vals) / m) if len(vals) > 1 and m else 0.0
            elif agg == "min":
                v = min(vals)
            else:
                v = max(vals)
            e[k] = v
        out.append(e)
    return out


def _run(run_name, reps, make_rep, invalid=()):
    """Iteration entries from make_rep(i) -> dict of fields, then aggregates."""
    its = []
    for i in range(reps):
        e = {"name": f"{run_name}/rep:{i}", "run_name": run_name, "run_type": "iteration",
             "repetitions": reps, "repetition_index": i, "threads": 1, "iterations": 100000,
             "time_unit": "ns", "valid": True}
        e.update(make_rep(i))
        if (run_name, i) in invalid or run_name in invalid:
            e["valid"] = False
            e["error_message"] = "exactly-once check failed: 3 values lost"
        its.append(e)
    return its + _aggregates(run_name, its)


def make_result(reps=5, scale=None, invalid=(), stream=False, mesh=False, other=False,
                pingpong_queues=("lamport", "mutex"), load=False, kv=False, pollscale=False,
                mesh_v2=False, submit=False, **context_overrides):
    """A schema-valid result document.

    scale: {run_name: factor}: times of that run multiplied by factor (throughput divided).
    invalid: run names, or (run_name, rep) pairs, whose iteration entries are marked invalid.
    stream / mesh / other: add a stream suite (sweeps over msg_bytes and capacity), a mesh
    suite (2, 3 and 4 cores) and an unknown "custom" suite that the report shows as a table.
    load / kv / pollscale / submit: the suites of those names (see load_entries, kv_entries,
    pollscale_entries, submit_entries).
    mesh_v2: a mesh suite with receiver_state, polling, batch_hist and oversubscribed entries.
    """
    scale = scale or {}
    suites = ["floor", "pingpong"] + (["stream"] if stream else []) + \
             (["submit"] if submit else []) + \
             (["mesh"] if mesh or mesh_v2 else []) + (["custom"] if other else []) + \
             (["load"] if load else []) + (["kv"] if kv else []) + \
             (["pollscale"] if pollscale else [])
    benchmarks = []

    def floor_rep(a, b, i):
        return FLOOR_P50[(a, b)] * jitter(i) * scale.get(f"floor/{a}-{b}", 1.0)

    for (a, b) in FLOOR_P50:
        name = f"floor/{a}-{b}"

        def rep(i, a=a, b=b):
            p50 = floor_rep(a, b, i)
            return {"real_time": p50, "cpu_time": p50, "suite": "floor", "queue": None,
                    "cores": [a, b], "relation": "shared-l3", "p50_ns": p50,
                    "p90_ns": p50 * 1.1, "p99_ns": p50 * 1.5, "p999_ns": p50 * 3,
                    "max_ns": p50 * 20, "spread": 0.02}
        benchmarks += _run(name, reps, rep, invalid)

    for q in pingpong_queues:
        name = f"pingpong/{q}/0-1"

        def rep(i, q=q, name=name):
            p50 = PINGPONG_P50.get(q, 500.0) * jitter(i) * scale.get(name, 1.0)
            floor = floor_rep(0, 1, i)
            return {"real_time": p50, "cpu_time": p50, "suite": "pingpong", "queue": q,
                    "cores": [0, 1], "relation": "shared-l3", "p50_ns": p50,
                    "p90_ns": p50 * 1.2, "p99_ns": p50 * 2, "p999_ns": p50 * 5,
                    "max_ns": p50 * 40, "floor_p50_ns": floor, "floor_ratio": p50 / floor,
                    "spread": 0.03}
        benchmarks += _run(name, reps, rep, invalid)

    if stream:
        for q, base in (("lamport", 40e6), ("mutex", 8e6)):
            for msg_bytes in (8, 64):
                for capacity in (1024, 4096):
                    name = f"stream/{q}/0-1/msg:{msg_bytes}/cap:{capacity}"

                    def rep(i, q=q, base=base, mb=msg_bytes, cap=capacity, name=name):
                        rate = base * (1.0 if mb == 8 else 0.6) * (1.0 if cap == 1024 else 1.2)
                        rate = rate / jitter(i) / scale.get(name, 1.0)
                        return {"real_time": 1e9 / rate, "cpu_time": 1e9 / rate,
                                "suite": "stream", "queue": q, "cores": [0, 1],
                                "relation": "shared-l3", "msgs_per_s": rate,
                                "msg_bytes": mb, "capacity": cap, "batch": 1,
                                "sent": 1000000, "received": 1000000}
                    benchmarks += _run(name, reps, rep, invalid)

    if mesh:
        for q, base in (("lamport", 30e6), ("mutex", 5e6)):
            for n in (2, 3, 4):
                name = f"mesh/{q}/{n}"

                def rep(i, q=q, base=base, n=n, name=name):
                    rate = base * n * 0.8 / jitter(i) / scale.get(name, 1.0)
                    return {"real_time": 1e9 / rate, "cpu_time": 1e9 / rate, "suite": "mesh",
                            "queue": q, "cores": list(range(n)), "relation": "unknown",
                            "msgs_per_s": rate, "msg_bytes": 8, "capacity": 1024, "batch": 1,
                            "sent": 500000 * n, "received": 500000 * n,
                            "completed": 500000 * n, "full_stalls": 10 + i,
                            "empty_polls": 1000 + i}
                benchmarks += _run(name, reps, rep, invalid)

    if submit:
        benchmarks += submit_entries(reps, scale, invalid)
    if mesh_v2:
        benchmarks += mesh_v2_entries(reps, scale, invalid)

    if other:
        name = "custom/lamport/0-1"

        def rep(i):
            t = 2500.0 * jitter(i)
            return {"real_time": t, "cpu_time": t, "suite": "custom", "queue": "lamport",
                    "cores": [0, 1], "relation": "shared-l3", "ops_per_s": 1e9 / t}
        benchmarks += _run(name, reps, rep, invalid)

    if load:
        benchmarks += load_entries(reps, scale, invalid)
    if kv:
        benchmarks += kv_entries(reps, scale, invalid)
    if pollscale:
        benchmarks += pollscale_entries(reps, scale, invalid)

    context_overrides.setdefault("suites", suites)
    return {"context": context(reps=reps, **context_overrides), "benchmarks": benchmarks}


# Stream rate (msgs/s) each queue reached, the reference of the load suite; p50 at low load.
LOAD_STREAM_RATE = {"lamport": 40e6, "mutex": 8e6}
LOAD_P50 = {"lamport": 200.0, "mutex": 700.0}
LOAD_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
# The mutex queue reaches only this share of the offered rate at full load (saturated).
LOAD_MUTEX_SHORTFALL = 0.8


def load_entries(reps, scale, invalid):
    out = []
    for q, rate in LOAD_STREAM_RATE.items():
        for f in LOAD_FRACTIONS:
            name = f"load/{q}/f{f:.2f}/0-1"

            def rep(i, q=q, rate=rate, f=f, name=name):
                p50 = LOAD_P50[q] * (1 + 4 * f ** 4) * jitter(i) * scale.get(name, 1.0)
                offered = rate * f
                achieved = offered * (LOAD_MUTEX_SHORTFALL if q == "mutex" and f == 1.0
                                      else 1.0)
                return {"real_time": p50, "cpu_time": p50, "suite": "load", "queue": q,
                        "cores": [0, 1], "relation": "shared-l3", "offered_fraction": f,
                        "offered_msgs_per_s": offered, "msgs_per_s": achieved,
                        "stream_msgs_per_s": rate, "p50_ns": p50, "p90_ns": p50 * 1.5,
                        "p99_ns": p50 * 3, "p999_ns": p50 * 6, "max_ns": p50 * 50}
            out += _run(name, reps, rep, invalid)
    return out


# kv: ops/s of each design on 2 cores; sharded designs name their queue.
KV_RATES = {("sharded", "lamport"): 20e6, ("sharded", "fastforward"): 24e6,
            ("mutex", None): 5e6, ("shared_mutex", None): 6e6, ("striped", None): 12e6}


def kv_entries(reps, scale, invalid):
    out = []
    for (design, q), rate in KV_RATES.items():
        name = f"kv/sharded/{q}/n2" if q else f"kv/{design}/n2"

        def rep(i, design=design, q=q, rate=rate, name=name):
            r = rate / jitter(i) / scale.get(name, 1.0)
            p50 = 2e9 / r
            return {"real_time": 1e9 / r, "cpu_time": 1e9 / r, "suite": "kv", "queue": q,
                    "design": design, "cores": [0, 1], "threads": 2, "relation": "shared-l3",
                    "msgs_per_s": r, "p50_ns": p50, "p90_ns": p50 * 2, "p99_ns": p50 * 4,
                    "p999_ns": p50 * 8, "max_ns": p50 * 100, "write_fraction": 0.1}
        out += _run(name, reps, rep, invalid)
    return out


POLL_NS_PER_QUEUE = 1.5   # scan: ns per polled incoming queue
POLL_DOORBELL_NS = 3.0    # doorbell: flat
PAIR_BYTES = {"lamport": 16896, "mutex": 16640}
POLL_QUEUE_FACTOR = {"lamport": 1.0, "mutex": 1.6}
BELL_BYTES_PER_CORE = 128
POLL_N = (2, 4, 8, 16, 32, 64, 128, 256)


# submit_to round trip over each queue's raw round trip (ratio), per polling strategy.
SUBMIT_OVER_RAW = {("lamport", "scan"): 1.5, ("lamport", "doorbell"): 1.7,
                   ("mutex", "scan"): 1.1, ("mutex", "doorbell"): 1.2}


def submit_entries(reps, scale, invalid):
    out = []
    for (q, polling), over in SUBMIT_OVER_RAW.items():
        name = f"submit/{q}/{polling}/0-1"

        def rep(i, q=q, polling=polling, over=over, name=name):
            raw = PINGPONG_P50[q]
            floor = FLOOR_P50[(0, 1)]
            p50 = raw * over * jitter(i) * scale.get(name, 1.0)
            return {"real_time": p50, "cpu_time": p50, "suite": "submit", "queue": q,
                    "cores": [0, 1], "relation": "shared-l3", "polling": polling, "p50_ns": p50,
                    "p90_ns": p50 * 1.2, "p99_ns": p50 * 2, "p999_ns": p50 * 5,
                    "max_ns": p50 * 40, "tries": 1, "floor_p50_ns": floor,
                    "floor_ratio": p50 / floor, "raw_p50_ns": raw, "raw_ratio": p50 / raw}
        out += _run(name, reps, rep, invalid)
    return out


def pollscale_entries(reps, scale, invalid):
    out = []
    for q in PAIR_BYTES:
        for polling in ("scan", "doorbell"):
            for n in POLL_N:
                name = f"pollscale/{q}/{polling}/n{n}"

                def rep(i, q=q, polling=polling, n=n, name=name):
                    base = POLL_NS_PER_QUEUE * (n - 1) if polling == "scan" else POLL_DOORBELL_NS
                    t = base * POLL_QUEUE_FACTOR[q] * jitter(i) * scale.get(name, 1.0)
                    return {"real_time": t, "cpu_time": t, "suite": "pollscale", "queue": q,
                            "cores": [0, 1], "relation": "unknown", "polling": polling,
                            "virtual_cores": n, "poll_ns": t, "pair_bytes": PAIR_BYTES[q],
                            "bell_bytes": BELL_BYTES_PER_CORE * n if polling == "doorbell" else 0}
                out += _run(name, reps, rep, invalid)
    return out


MESH_V2_RATE = {"lamport": 30e6, "mutex": 5e6}
MESH_STATE_FACTOR = {"idle": 1.0, "busy": 0.5, "fan-in": 0.25}
MESH_POLLING_FACTOR = {"scan": 1.0, "doorbell": 1.2}


def mesh_v2_entries(reps, scale, invalid):
    """Mesh entries with the newer fields; n=4 runs on a 2-core machine are oversubscribed."""
    out = []
    for q, base in MESH_V2_RATE.items():
        for state, factor in MESH_STATE_FACTOR.items():
            for polling in ("scan", "doorbell"):
                for n in (2, 4):
                    name = f"mesh/{q}/{state}/{polling}/n{n}"

                    def rep(i, q=q, base=base, n=n, name=name, state=state, factor=factor,
                            polling=polling):
                        rate = base * factor * MESH_POLLING_FACTOR[polling] * n * 0.8 \
                            / jitter(i) / scale.get(name, 1.0)
                        e = {"real_time": 1e9 / rate, "cpu_time": 1e9 / rate, "suite": "mesh",
                             "queue": q, "cores": list(range(n)), "relation": "unknown",
                             "msgs_per_s": rate, "msg_bytes": 8, "capacity": 64, "batch": 16,
                             "receiver_state": state, "polling": polling,
                             "sent": 1000 * n, "received": 1000 * n, "completed": 1000 * n,
                             "batch_hist": [{"le": 1, "count": 500 + i}, {"le": 3, "count": 200},
                                            {"le": 7, "count": 100 * n},
                                            {"le": 15, "count": 10 * n},
                                            {"le": None, "count": 5 * n}]}
                        if n > 2:
                            e["oversubscribed"] = True
                        return e
                    out += _run(name, reps, rep, invalid)
    return out


def make_mutants(missed=(), flagged=()):
    """A mutants file as proptests/merge_mutants.py writes it; names in missed are not caught,
    clean queues in flagged raise a false alarm."""
    rows = [("relaxed_publish", "publishing store relaxed instead of release", "tsan", 1.25),
            ("off_by_one_full", "full check one slot late: overwrites unread data", "model", 0.04),
            ("wrong_wrap", "index wraps at capacity + 1", "model", 0.03),
            ("stranded_flush", "flush leaves the last batch unpublished", "concurrent", 0.8),
            ("early_read", "consumer reads the slot before acquiring the index", "tsan", 2.5),
            ("stale_cache", "cached index never refreshed", "concurrent", 0.5),
            ("no_lock", "locking baseline with its lock removed", "linearizability", 0.9),
            ("double_continuation", "a continuation runs twice", "asan", 0.2)]
    clean = [("lamport", "model", 0.02), ("lamport", "tsan", 3.0), ("mutex", "concurrent", 0.7)]
    return {"mutants": [{"mutant": m, "defect": d, "tier": t, "caught": m not in missed,
                         "seconds": s} for m, d, t, s in rows],
            "clean": [{"queue": q, "tier": t, "flagged": q in flagged, "seconds": s}
                      for q, t, s in clean]}


def write(doc, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
    return path


# --------------------------------------------------------------------------------------
# Running the scripts

import subprocess  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def script(name):
    return os.path.join(PLOTS, name)


def run_script(name, *args, cwd=None):
    """Run plots/<name> with Debian's interpreter; returns the CompletedProcess (text)."""
    return subprocess.run([PYTHON, script(name), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def corruptions(good_text):
    """(label, file text) for each kind of bad input the scripts must refuse with exit 2."""
    doc = json.loads(good_text)
    out = [("truncated", good_text[: len(good_text) // 2]),
           ("not JSON", "this is not JSON\n"),
           ("empty", "")]

    def variant(label, change):
        d = copy.deepcopy(doc)
        change(d)
        out.append((label, json.dumps(d)))

    variant("missing context", lambda d: d.pop("context"))
    variant("wrong schema version", lambda d: d["context"].update(json_schema_version=2))
    variant("wrong type", lambda d: d["benchmarks"][3].update(valid="yes"))
    variant("bad enum", lambda d: d["benchmarks"][0].update(relation="far-away"))
    variant("negative count", lambda d: d["benchmarks"][1].update(iterations=-1))
    variant("aggregate without aggregate_name",
            lambda d: next(b for b in d["benchmarks"]
                           if b["run_type"] == "aggregate").pop("aggregate_name"))
    out.append(("NaN", good_text.replace('"real_time": 150.0', '"real_time": NaN', 1)))
    # A \uXXXX escape of half a UTF-16 surrogate pair decodes to a str that no UTF-8 output
    # (report.html, summary.md, a UTF-8 terminal) can encode; in a value and in a key.
    host = '"host_name": "testhost"'
    assert host in good_text
    out.append(("lone surrogate in a string",
                good_text.replace(host, '"host_name": "test\\ud800host"', 1)))
    out.append(("lone surrogate in a key",
                good_text.replace(host, host + ', "x\\udfff": "y"', 1)))
    # int() refuses over 4300 digits; 401 digits convert to an int but not to a float.
    for digits in (5000, 401):
        huge = '"real_time": 1' + "0" * (digits - 1)
        out.append((f"{digits}-digit integer", good_text.replace('"real_time": 150.0', huge, 1)))
    variant("absurd magnitude", lambda d: d["benchmarks"][0].update(p50_ns=1e308))
    # Within 1e150, but an integer beyond 64 bits: numpy holds it only as a Python object.
    variant("integer beyond 64 bits", lambda d: d["benchmarks"][0].update(iterations=2 ** 64))

    def median_above_max(d):
        d["benchmarks"] = [b for b in d["benchmarks"] if b["run_type"] == "aggregate"]
        next(b for b in d["benchmarks"] if b["aggregate_name"] == "median")["real_time"] *= 100
    variant("aggregates only, median above max", median_above_max)

    def shared_run_name(d):
        for b in d["benchmarks"]:
            if b["run_name"] == "pingpong/mutex/0-1":
                b["run_name"] = "pingpong/lamport/0-1"
    variant("run_name shared between configurations", shared_run_name)

    # Without aggregates nothing repeats an aggregate_name: the entries themselves must show
    # it (before, validate said ok and the report pooled lamport's and mutex's repetitions).
    def shared_run_name_iterations_only(d):
        d["benchmarks"] = [b for b in d["benchmarks"] if b["run_type"] == "iteration"]
        shared_run_name(d)
    variant("run_name shared between configurations, iterations only",
            shared_run_name_iterations_only)

    def repetition_twice(d):
        d["benchmarks"] = [b for b in d["benchmarks"] if b["run_type"] == "iteration"]
        d["benchmarks"].append(copy.deepcopy(d["benchmarks"][-1]))
    variant("one repetition twice", repetition_twice)
    return out
