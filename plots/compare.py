#!/usr/bin/python3
"""compare.py A.json B.json: did B get slower or faster than A, beyond the noise?

Pairs the benchmarks of two qmesh result files by run_name, using the repetitions (iteration
entries) of each. Per pair: the ratio of medians B/A, and a two-sided Mann-Whitney U test of
the repetitions of A against those of B. A pair is a REGRESSION when the test is significant
(p < alpha) and B is worse than A by more than the threshold; an improvement likewise.

The figure compared is msgs_per_s (a throughput: higher is better) when every valid
repetition of both sides has it, else real_time in ns (a time: lower is better); the load
suite always compares real_time (its p50), since its msgs_per_s is the rate it was offered.
--metric floor_ratio compares pingpong round trips divided by the adjacent hardware floor,
which on noisy virtual machines is steadier than absolute times (results since f80893a divide
by the mean of the floors before and after each entry, older ones by the floor before it: a
note says when A and B differ in this).

Exit status: 0 no significant regression, 1 at least one significant regression beyond the
threshold, 2 bad usage or an input that is not a valid result file (one line on stderr).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmesh_results as qr  # noqa: E402

PROG = "compare.py"

# Exact distribution when both samples are at most this large; normal approximation above.
EXACT_MAX_N = 8

# metric -> (label, lower_is_better)
METRICS = {
    "real_time": ("real_time ns", True),
    "msgs_per_s": ("msgs_per_s", False),
    "floor_ratio": ("floor_ratio", True),
}


# --------------------------------------------------------------------------------------
# Mann-Whitney U

@dataclass(frozen=True)
class MannWhitney:
    """u1: pairs (x, y) with x > y, a tie counting one half; u2 = n1*n2 - u1.
    p: two-sided p-value; method: 'exact' or 'asymptotic'."""
    u1: float
    u2: float
    p: float
    method: str


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..N of values, tied values sharing the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1  # mean of ranks i+1 .. j+1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        i = j + 1
    return ranks


def _tie_groups(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [t for t in counts.values() if t > 1]


def _exact_p(ranks: list[float], n1: int, r1: float) -> float:
    """Two-sided p of the rank sum r1 of a sample of n1 under the permutation distribution.

    Counts, by dynamic programming over the (doubled, hence integer) midranks, how many of
    the C(N, n1) equally likely subsets have each rank sum. Exact with ties as well (it is
    then the distribution conditional on the tie pattern)."""
    doubled = [round(2 * r) for r in ranks]
    ways: list[dict[int, int]] = [dict() for _ in range(n1 + 1)]
    ways[0][0] = 1
    for count, r in enumerate(doubled, start=1):
        for k in range(min(n1, count), 0, -1):
            dst = ways[k]
            for s, c in ways[k - 1].items():
                dst[s + r] = dst.get(s + r, 0) + c
    dist = ways[n1]
    total = math.comb(len(ranks), n1)
    obs = round(2 * r1)
    lower = sum(c for s, c in dist.items() if s <= obs)
    upper = sum(c for s, c in dist.items() if s >= obs)
    return min(1.0, 2 * min(lower, upper) / total)


def mann_whitney_u(x: Sequence[float], y: Sequence[float], method: str = "auto") -> MannWhitney:
    """Two-sided Mann-Whitney U test of x against y.

    method 'exact': permutation distribution of the rank sum (ties handled);
    'asymptotic': normal approximation with tie correction and continuity correction
    (the same as scipy.stats.mannwhitneyu(..., method='asymptotic'));
    'auto': exact when both samples have at most EXACT_MAX_N values."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    values = list(x) + list(y)
    ranks = midranks(values)
    r1 = sum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    if method == "auto":
        method = "exact" if n1 <= EXACT_MAX_N and n2 <= EXACT_MAX_N else "asymptotic"
    if method == "exact":
        return MannWhitney(u1, u2, _exact_p(ranks, n1, r1), "exact")
    if method != "asymptotic":
        raise ValueError(f"unknown method {method!r}")
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in _tie_groups(values))
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:  # every value the same: no evidence of any difference
        return MannWhitney(u1, u2, 1.0, "asymptotic")
    z = (max(u1, u2) - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    p = math.erfc(z / math.sqrt(2))  # = 2 * (1 - Phi(z))
    return MannWhitney(u1, u2, min(1.0, max(0.0, p)), "asymptotic")


def smallest_p(n1: int, n2: int) -> float:
    """The smallest two-sided p the test can give with samples of these sizes."""
    return mann_whitney_u(range(n1), range(n1, n1 + n2)).p


# --------------------------------------------------------------------------------------
# Comparing two files

@dataclass
class Row:
    name: str
    metric: str
    n_a: int
    n_b: int
    median_a: Optional[float] = None
    median_b: Optional[float] = None
    ratio: Optional[float] = None
    p: Optional[float] = None
    verdict: str = ""
    regression: bool = False
    improvement: bool = False
    note: str = ""


# Suites whose msgs_per_s is an input, not the outcome: the load suite offers a rate and
# records the rate achieved; what it measures is latency (real_time = one-way p50).
LATENCY_SUITES = {"load"}


def choose_metric(requested: str, a: qr.Run, b: qr.Run) -> str:
    if requested != "auto":
        return requested
    if a.suite in LATENCY_SUITES:
        return "real_time"
    its = a.valid_iterations + b.valid_iterations
    if its and all(qr.getter("msgs_per_s")(e) is not None for e in its):
        return "msgs_per_s"
    return "real_time"


def compare_runs(a: qr.Run, b: qr.Run, requested: str, threshold: float, alpha: float) -> Row:
    metric = choose_metric(requested, a, b)
    label, lower_better = METRICS[metric]
    xs, ys = a.samples(metric), b.samples(metric)
    row = Row(a.run_name, f"{label} ({'lower' if lower_better else 'higher'} is better)",
              len(xs), len(ys))
    dropped = [f"{side}: {len(r.invalid_iterations)} invalid rep(s) left out"
               for side, r in (("A", a), ("B", b)) if r.invalid_iterations]
    row.note = "; ".join(dropped)
    if not xs or not ys:
        side = "A" if not xs else "B"
        row.verdict = f"NOT COMPARED (no valid {metric} repetitions in {side})"
        return row
    row.median_a, row.median_b = statistics.median(xs), statistics.median(ys)
    if row.median_a > 0:
        row.ratio = row.median_b / row.median_a
    elif row.median_b == row.median_a:
        row.ratio = 1.0
    test = mann_whitney_u(xs, ys)
    row.p = test.p
    significant = test.p < alpha
    # worse > 0: B is worse than A by that fraction of A's median. From a median of 0 (a
    # throughput that stalled, a count that was none) any change is without bound: its sign
    # still says which way it went.
    if row.ratio is not None:
        worse = row.ratio - 1 if lower_better else 1 - row.ratio
    else:
        grew = row.median_b > row.median_a
        worse = math.inf if grew == lower_better else -math.inf
    if significant and worse > threshold:
        row.verdict, row.regression = "REGRESSION", True
    elif significant and -worse > threshold:
        row.verdict, row.improvement = "improvement", True
    elif significant:
        row.verdict = "significant, within threshold"
    else:
        row.verdict = "no significant change"
        floor = smallest_p(len(xs), len(ys))
        if floor >= alpha:
            row.note = "; ".join(filter(None, [row.note, (
                f"{len(xs)} vs {len(ys)} reps cannot reach p < {alpha:g} "
                f"(smallest possible p is {floor:.3g})")]))
    return row


def _fmt(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _poll_time(c: dict) -> Optional[str]:
    """How long a sleeping mesh's reactors polled before they parked (qmesh run --idle-poll):
    None under busy-poll, where there is none to differ."""
    if c.get("idle_policy", "busy-poll") != "sleep":
        return None
    us = c.get("idle_poll_us")
    return "unrecorded" if us is None else f"{us} us"


def _describe(path: str, doc: dict) -> str:
    c = doc["context"]
    dirty = " (dirty)" if c["git_dirty"] else ""
    return f"{path}: {c['host_name']}, {c['date']}, git {c['git_sha'][:12]}{dirty}, {c['cpu']['model']}"


def main(argv=None) -> int:
    parser = qr.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("a", metavar="A.json", help="baseline result file")
    parser.add_argument("b", metavar="B.json", help="result file to judge against A")
    parser.add_argument("--threshold", type=float, default=5.0, metavar="PCT",
                        help="change in percent a significant difference must exceed to "
                             "count as a regression or improvement (default 5)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level of the two-sided test (default 0.05)")
    parser.add_argument("--metric", choices=["auto"] + list(METRICS), default="auto",
                        help="figure to compare (default auto: msgs_per_s if present, "
                             "else real_time)")
    parser.add_argument("--allow-quick-mismatch", action="store_true",
                        help="compare a --quick run with a full one (refused by default: "
                             "--quick changes the workload behind the same run_names)")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.threshold) and args.threshold >= 0):
        parser.error(f"--threshold must be a percentage >= 0, got {args.threshold:g}")
    if not (0 < args.alpha < 1):
        parser.error(f"--alpha must be between 0 and 1, got {args.alpha:g}")
    try:
        schema = qr.load_schema()
        doc_a, doc_b = qr.load(args.a, schema), qr.load(args.b, schema)
    except qr.QmeshError as e:
        return qr.fail(PROG, e)
    ca, cb = doc_a["context"], doc_b["context"]
    # --quick runs fewer keys, turns and messages under the same run_names: a comparison
    # with a full run would judge the workload, not the code.
    if ca["quick"] != cb["quick"] and not args.allow_quick_mismatch:
        quick, full = (args.a, args.b) if ca["quick"] else (args.b, args.a)
        return qr.fail(PROG, f"{quick}: a --quick run, and {full} is not: their workloads "
                             f"differ under the same run_names (--allow-quick-mismatch to "
                             f"compare anyway)")

    runs_a = {r.run_name: r for r in qr.runs(doc_a)}
    runs_b = {r.run_name: r for r in qr.runs(doc_b)}
    common = [n for n in runs_a if n in runs_b]
    # Aggregates only (no iteration entries) on a side: the run is in both files, but there
    # are no repetitions to test.
    no_reps = [n for n in common if not (runs_a[n].iterations and runs_b[n].iterations)]
    threshold = args.threshold / 100
    rows, lacking = [], []
    for n in common:
        if n in no_reps:
            continue
        metric = choose_metric(args.metric, runs_a[n], runs_b[n])
        if not runs_a[n].samples(metric, False) and not runs_b[n].samples(metric, False):
            lacking.append(n)  # e.g. floor entries have no floor_ratio: nothing to say
            continue
        rows.append(compare_runs(runs_a[n], runs_b[n], args.metric, threshold, args.alpha))

    print(f"A: {_describe(args.a, doc_a)}")
    print(f"B: {_describe(args.b, doc_b)}")
    if (ca["host_name"], ca["cpu"]["model"]) != (cb["host_name"], cb["cpu"]["model"]):
        print("note: A and B come from different machines; absolute figures may not compare")
    built = [f"{key} {qr.show(ca.get(key))} vs {qr.show(cb.get(key))}"
             for key in ("build_type", "library_build_type", "compiler", "compiler_flags",
                         "cache_line_bytes")
             if ca.get(key) != cb.get(key)]
    if built:
        print(f"note: A and B were built differently ({'; '.join(built)}): a change may be "
              f"the build's")
    if ca["quick"] != cb["quick"]:
        print("note: one of A and B is a --quick run: their workloads differ")
    # qmesh run --idle, --idle-poll, --numa, --reply-quota, --poll-budget: set on every mesh
    # (submit, mesh, kv). Files from before they were recorded ran the defaults (the reply
    # quota then was the task quota, 64); a poll time exists only for sleep.
    setup = [f"{what} {a} vs {b}" for what, a, b in (
        ("idle policy", ca.get("idle_policy", "busy-poll"), cb.get("idle_policy", "busy-poll")),
        ("idle poll time", _poll_time(ca), _poll_time(cb)),
        ("reply quota", ca.get("reply_quota", 64), cb.get("reply_quota", 64)),
        ("poll budget", ca.get("poll_budget", 64), cb.get("poll_budget", 64)),
        ("NUMA placement", ca.get("numa", {}).get("placement", "receiver"),
         cb.get("numa", {}).get("placement", "receiver"))) if a != b and None not in (a, b)]
    if setup:
        print(f"note: A and B ran their meshes differently ({'; '.join(setup)}): submit, mesh "
              f"and kv differences are that setting's")
    if args.metric == "floor_ratio" and ("bracket" in ca) != ("bracket" in cb):
        # Since f80893a a round trip's floor is measured before and after it, the ratio divides
        # by their mean, and a repetition whose floors disagree has none (bench/README.md).
        print(f"note: only {'A' if 'bracket' in ca else 'B'} bracketed its round trips "
              f"(context.bracket): its floor_ratio divides by the mean of the floors measured "
              f"before and after each entry, the other's by the floor before it alone")
    print(f"test: two-sided Mann-Whitney U over repetitions, alpha {args.alpha:g}; "
          f"threshold {args.threshold:g}%; B/A is the ratio of medians")
    print()
    header = ["benchmark", "metric", "n A", "n B", "median A", "median B", "B/A", "change",
              "p", "verdict"]
    table = [header]
    for r in rows:
        change = "-" if r.ratio is None else f"{(r.ratio - 1) * 100:+.1f}%"
        table.append([r.name, r.metric, str(r.n_a), str(r.n_b), _fmt(r.median_a),
                      _fmt(r.median_b), "-" if r.ratio is None else f"{r.ratio:.3f}", change,
                      "-" if r.p is None else f"{r.p:.3g}", r.verdict])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
    notes = [f"{r.name}: {r.note}" for r in rows if r.note]
    only_a = [n for n in runs_a if n not in runs_b]
    only_b = [n for n in runs_b if n not in runs_a]
    if notes or only_a or only_b or lacking or no_reps:
        print()
    for n in notes:
        print(f"note: {n}")
    if no_reps:
        print(f"without repetitions in A or B (aggregates only, not compared): "
              f"{', '.join(no_reps)}")
    if lacking:
        print(f"without {args.metric} in A or B (not compared): {', '.join(lacking)}")
    if only_a:
        print(f"only in A (not compared): {', '.join(only_a)}")
    if only_b:
        print(f"only in B (not compared): {', '.join(only_b)}")

    regressions = [r.name for r in rows if r.regression]
    improvements = [r.name for r in rows if r.improvement]
    print()
    print(f"{len(rows)} compared: {len(regressions)} significant regression(s) beyond "
          f"{args.threshold:g}%, {len(improvements)} significant improvement(s)")
    if not common:
        print("note: A and B have no run_name in common")
    for n in regressions:
        print(f"REGRESSION: {n}")
    return 1 if regressions else 0


if __name__ == "__main__":
    qr.quiet_sigpipe()
    qr.paths_on_stdout()
    sys.exit(qr.run_interruptible(PROG, main))
