#!/usr/bin/python3
"""report.py RESULT.json [...] -o DIR: plots and a self-contained HTML report of qmesh results.

Writes into DIR, for each result file: PNG plots of the suites it holds (floor heatmap,
pingpong percentiles and floor ratios, stream throughput and sweeps, mesh scaling), then
summary.md (context and tables, linking the PNGs) and report.html (the same with the images
embedded, so the one file can be mailed or archived). Prints the paths it wrote, report.html
last. Every number shown comes from the result files.

Exit status: 0 success; 2 bad usage, an input that is not a valid result file, or an output
that cannot be written (one line on stderr). All inputs are checked before anything is
written, and the outputs are assembled in a temporary directory next to DIR and moved in at
the end, so a failed run leaves no half-written report.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmesh_results as qr  # noqa: E402

PROG = "report.py"

# (field read through qmesh_results.getter, label); "p50" falls back to real_time.
PERCENTILES = [("p50", "p50"), ("p90_ns", "p90"), ("p99_ns", "p99"), ("p999_ns", "p99.9"),
               ("max_ns", "max")]
SWEEP_PARAMS = {"msg_bytes": "message size (bytes)", "capacity": "queue capacity (slots)",
                "batch": "batch size (messages)"}
# Table columns, in this order, when any entry of the suite has the field.
TABLE_FIELDS = [("real_time", "real_time (ns)"), ("p50_ns", "p50 (ns)"), ("p90_ns", "p90 (ns)"),
                ("p99_ns", "p99 (ns)"), ("p999_ns", "p99.9 (ns)"), ("max_ns", "max (ns)"),
                ("floor_p50_ns", "floor p50 (ns)"), ("floor_ratio", "floor ratio"),
                ("spread", "spread"), ("msgs_per_s", "msgs/s"), ("msg_bytes", "msg bytes"),
                ("capacity", "capacity"), ("batch", "batch"), ("sent", "sent"),
                ("received", "received"), ("completed", "completed"),
                ("full_stalls", "full stalls"), ("empty_polls", "empty polls")]
INVALID_COLOR = "tab:red"
# Short codes for hwloc pair relations in heatmap cells too small for the full name.
RELATION_CODES = {"same-pu": "=", "smt": "S", "shared-l2": "L2", "shared-l3": "L3",
                  "same-numa": "N", "cross-numa": "X", "unknown": "?"}

_plt = None


def plt():
    """matplotlib.pyplot with the Agg backend, imported only once inputs are known good."""
    global _plt
    if _plt is None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
        _plt = matplotlib.pyplot
    return _plt


# --------------------------------------------------------------------------------------
# Formatting

def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    return str(v)


def fmt_ns(v: float) -> str:
    return f"{v:,.0f} ns" if v >= 100 else f"{v:.3g} ns"


def pair_label(cores) -> str:
    return "→".join(str(c) for c in cores)


def run_label(run: qr.Run, with_cores: bool) -> str:
    name = run.queue if run.queue is not None else run.run_name
    return f"{name} {pair_label(run.cores)}" if with_cores else name


def validity_note(s: Optional[qr.Summary]) -> str:
    if s is None:
        return "no data"
    if s.invalid:
        return "INVALID"
    if s.n_invalid:
        return f"{s.n_invalid} invalid rep(s) left out"
    return ""


def footer(path: str, ctx: dict) -> str:
    dirty = " (dirty)" if ctx["git_dirty"] else ""
    return (f"{ctx['host_name']} · {ctx['date']} · git {ctx['git_sha'][:12]}{dirty} · "
            f"{os.path.basename(path)}")


# --------------------------------------------------------------------------------------
# Plots. Each returns (figure, caption) or None when there is nothing to draw.

def _new_figure(width: float, height: float):
    return plt().subplots(figsize=(width, height))


def _finish(fig, ax, title: str, foot: str, subtitle: str = ""):
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    fig.text(0.01, 0.01, foot, fontsize=7, color="0.35", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.035, 1, 1))
    return fig


def _bar_style(s: qr.Summary, color) -> dict:
    """Normal bars are filled; bars from invalid data only are pale, hatched and red-edged."""
    if s.invalid:
        from matplotlib.colors import to_rgba
        return dict(color=to_rgba(color, 0.25), edgecolor=INVALID_COLOR, hatch="///",
                    linewidth=1.2)
    return dict(color=color)


def _errs(summaries):
    return [[s.median - s.lo for s in summaries], [s.hi - s.median for s in summaries]]


def floor_heatmap(floor_runs: list, foot: str):
    import numpy as np
    from matplotlib.patches import Rectangle

    pairs: dict = {}
    for r in floor_runs:
        if len(r.cores) == 2:
            pairs.setdefault(tuple(r.cores), []).append(r)
    if not pairs:
        return None
    cores = sorted({c for p in pairs for c in p})
    n = len(cores)
    pos = {c: i for i, c in enumerate(cores)}
    cells = {p: qr.summarize(rs, qr.getter("p50")) for p, rs in pairs.items()}
    relations = {p: "/".join(dict.fromkeys(r.relation for r in rs)) for p, rs in pairs.items()}
    data = np.full((n, n), np.nan)
    for (a, b), s in cells.items():
        if s is not None and not s.invalid:
            data[pos[a], pos[b]] = s.median

    full_text, codes = n <= 12, 12 < n <= 48
    size = max(4.8, (0.75 if full_text else 0.32) * n + 3.2)
    fig, ax = _new_figure(size + 1.2, size)
    cmap = plt().get_cmap("viridis").copy()
    cmap.set_bad("white")
    masked = np.ma.masked_invalid(data)
    if masked.count():
        im = ax.imshow(masked, cmap=cmap, origin="upper", aspect="equal")
        fig.colorbar(im, ax=ax, label="round-trip p50 (ns)", fraction=0.046, pad=0.04)
        norm = im.norm
    else:
        ax.imshow(np.zeros((n, n)), cmap=plt().get_cmap("Greys"), vmin=0, vmax=1,
                  origin="upper", aspect="equal")
        norm = None
    for (a, b), s in cells.items():
        i, j = pos[a], pos[b]
        if s is None:
            continue
        if s.invalid:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                   edgecolor=INVALID_COLOR, linewidth=1.2))
        if codes:
            code = "/".join(RELATION_CODES.get(x, x) for x in relations[(a, b)].split("/"))
            color = "black"
            if not s.invalid and norm is not None and norm(s.median) < 0.5:
                color = "white"
            ax.text(j, i, code, ha="center", va="center", fontsize=6, color=color)
        if not full_text:
            continue
        lines = [fmt_ns(s.median), relations[(a, b)]]
        note = validity_note(s)
        if note:
            lines.append("INVALID" if s.invalid else f"{s.n_invalid} invalid left out")
        color = "black"
        if not s.invalid and norm is not None and norm(s.median) < 0.5:
            color = "white"
        ax.text(j, i, "\n".join(lines), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(n), [str(c) for c in cores])
    ax.set_yticks(range(n), [str(c) for c in cores])
    ax.set_xticks([x - 0.5 for x in range(1, n)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, n)], minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("second core of the pair, cores[1] (core id)")
    ax.set_ylabel("first core of the pair, cores[0] (core id)")
    subs = []
    if codes:
        used = dict.fromkeys(x for rel in relations.values() for x in rel.split("/"))
        subs.append("relation: " + ", ".join(f"{RELATION_CODES.get(x, x)} {x}" for x in used))
    elif not full_text:
        subs.append("too many cores to label cells; relations are in the floor table")
    skipped = sum(1 for r in floor_runs if len(r.cores) != 2)
    if skipped:
        subs.append(f"{skipped} floor run(s) without a core pair not shown")
    sub = "; ".join(subs)
    _finish(fig, ax, "Cache-line round-trip floor per core pair (median p50)", foot, sub)
    caption = ("Each cell: the round-trip p50 of a bare cache-line ping-pong (no queue) from "
               "the row core to the column core, median over the repetitions, with the pair's "
               "relation from hwloc. Blank: pair not measured. Red hatching: only invalid "
               "measurements, not coloured.")
    return fig, caption


def pingpong_percentiles(pp_runs: list, floor_runs: list, foot: str):
    import numpy as np

    rows = [(r, {lab: r.summary(f) for f, lab in PERCENTILES}) for r in pp_runs]
    present = [lab for _, lab in PERCENTILES if any(d[lab] for _, d in rows)]
    if not present:
        return None
    rows.sort(key=lambda rd: (rd[1]["p50"] is None, rd[1]["p50"].median if rd[1]["p50"] else 0))
    pairs = {r.cores for r in pp_runs}
    with_cores = len(pairs) > 1
    fig, ax = _new_figure(max(6.5, 1.1 * len(rows) + 3), 4.8)
    colors = plt().get_cmap("viridis_r")(np.linspace(0.15, 0.85, len(present)))
    width = 0.8 / len(present)
    lows = []
    for j, lab in enumerate(present):
        labelled = False
        for i, (r, d) in enumerate(rows):
            s = d[lab]
            if s is None:
                continue
            x = i - 0.4 + width * (j + 0.5)
            ax.bar(x, s.median, width, yerr=_errs([s]), capsize=2, ecolor="0.3",
                   label=None if labelled else lab, **_bar_style(s, colors[j]))
            labelled = True
            lows.append(s.lo)
    if len(pairs) == 1:
        (pair,) = pairs
        fs = qr.summarize([r for r in floor_runs if r.cores == pair], qr.getter("p50"))
        if fs is not None and not fs.invalid:
            ax.axhline(fs.median, color="0.3", linestyle="--", linewidth=1,
                       label=f"floor p50 {pair_label(pair)}")
            lows.append(fs.median)
    positive = [v for v in lows if v > 0]
    if positive:
        ax.set_ylim(bottom=min(positive) / 2)
    labels = []
    for r, d in rows:
        note = validity_note(d["p50"] or next((s for s in d.values() if s), None))
        labels.append(run_label(r, with_cores) + (f"\n({note})" if note else ""))
    ax.set_xticks(range(len(rows)), labels)
    ax.set_yscale("log")
    ax.set_ylabel("round-trip latency (ns, log scale)")
    ax.set_xlabel("queue" + (" and core pair" if with_cores else f" (cores {pair_label(next(iter(pairs)))})"))
    ax.legend(title="percentile", fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", which="both", color="0.92")
    ax.set_axisbelow(True)
    n = max((d["p50"].n for _, d in rows if d["p50"]), default=0)
    _finish(fig, ax, "Ping-pong round trip through each queue: latency percentiles", foot,
            f"bars: median of up to {n} repetitions; whiskers: min–max over repetitions")
    caption = ("Round trip of one message there and back through the queue between two cores. "
               "For each queue, one bar per percentile of the round-trip distribution (p50 to "
               "max), each the median over repetitions, whiskers min to max; log scale. The "
               "dashed line, when shown, is the bare cache-line floor of the same pair. "
               "Red hatched bars come only from invalid repetitions.")
    return fig, caption


def pingpong_floor_ratio(pp_runs: list, foot: str):
    items = [(r, s) for r in pp_runs if (s := r.summary("floor_ratio")) is not None]
    if not items:
        return None
    items.sort(key=lambda rs: rs[1].median)
    with_cores = len({r.cores for r in pp_runs}) > 1
    fig, ax = _new_figure(max(6, 0.9 * len(items) + 3), 4.6)
    for i, (r, s) in enumerate(items):
        ax.bar(i, s.median, 0.6, yerr=_errs([s]), capsize=3, ecolor="0.3",
               **_bar_style(s, "tab:blue"))
        ax.annotate(f"{s.median:.2f}×", (i, s.hi), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1,
               label="hardware floor (ratio 1)")
    labels = []
    for r, s in items:
        note = validity_note(s)
        labels.append(run_label(r, with_cores) + (f"\n({note})" if note else ""))
    ax.set_xticks(range(len(items)), labels)
    ax.set_ylim(bottom=0, top=max(s.hi for _, s in items) * 1.15 + 0.05)
    ax.set_ylabel("round-trip p50 ÷ adjacent floor p50 (ratio)")
    ax.set_xlabel("queue, sorted by floor ratio")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, "Ping-pong cost relative to the hardware floor", foot,
            "median over repetitions; whiskers: min–max")
    caption = ("Each repetition divides the queue's round-trip p50 by the floor measured next to "
               "it on the same pair; the bar is the median of those ratios, whiskers min to "
               "max. 1.0 (dashed) is the bare hardware; the height above it is what the queue "
               "costs. Ratios stay steady on noisy virtual machines where absolute times drift.")
    return fig, caption


def _eng_axis(axis):
    from matplotlib.ticker import EngFormatter
    axis.set_major_formatter(EngFormatter(sep=""))


def throughput_bars(runs: list, suite: str, foot: str):
    items = [(r, s) for r in runs if (s := r.summary("msgs_per_s")) is not None]
    if not items:
        return None
    items.sort(key=lambda rs: -rs[1].median)
    fig, ax = _new_figure(8.5, max(3.2, 0.38 * len(items) + 1.8))
    for i, (r, s) in enumerate(items):
        ax.barh(i, s.median, 0.7, xerr=_errs([s]), capsize=2, ecolor="0.3",
                **_bar_style(s, "tab:green"))
    prefix = suite + "/"
    labels = []
    for r, s in items:
        name = r.run_name[len(prefix):] if r.run_name.startswith(prefix) else r.run_name
        note = validity_note(s)
        labels.append(name + (f" ({note})" if note else ""))
    ax.set_yticks(range(len(items)), labels, fontsize=8)
    ax.invert_yaxis()
    _eng_axis(ax.xaxis)
    ax.set_xlabel("throughput (messages/s)")
    ax.set_ylabel("configuration (run name)")
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, f"{suite}: throughput per configuration, best first", foot,
            "bars: median over repetitions; whiskers: min–max")
    caption = ("Messages per second from producer to consumer, one bar per configuration "
               "(queue, cores, message size, capacity, batch), sorted from fastest; median "
               "over repetitions, whiskers min to max. Red hatched bars come only from "
               "repetitions that failed the exactly-once check.")
    return fig, caption


def _series_label(key_names: list, key: tuple, varying: list) -> str:
    parts = []
    for name, value in zip(key_names, key):
        if name in varying:
            if name == "queue":
                parts.append(str(value))
            elif name == "cores":
                parts.append(pair_label(value))
            else:
                parts.append(f"{name} {value}")
    return ", ".join(parts) or "all"


def _plot_series(ax, series: dict, key_names: list):
    varying = [name for i, name in enumerate(key_names) if len({k[i] for k in series}) > 1]
    if "queue" not in varying:
        varying.insert(0, "queue")
    invalid_labelled = False
    # Matplotlib's colour cycle has 10 colours and the registry more queues:
    # the line style changes with every lap of the cycle, so no two series
    # look alike.
    styles = ["-", "--", ":", "-."]
    n_colors = len(plt().rcParams["axes.prop_cycle"].by_key().get("color", [None] * 10))
    for index, (key, points) in enumerate(series.items()):
        points.sort(key=lambda p: p[0])
        good = [(x, s) for x, s in points if not s.invalid]
        bad = [(x, s) for x, s in points if s.invalid]
        label = _series_label(key_names, key, varying)
        if good:
            ss = [s for _, s in good]
            drawn = ax.errorbar([x for x, _ in good], [s.median for s in ss], yerr=_errs(ss),
                                marker="os^D"[(index // n_colors) % 4], markersize=4, capsize=2,
                                linestyle=styles[(index // n_colors) % len(styles)], label=label)
            color = drawn.lines[0].get_color()
        else:
            color = INVALID_COLOR
        if bad:
            # Invalid points stay off the line: a hollow marker in the series colour, crossed.
            xs, ys = [x for x, _ in bad], [s.median for _, s in bad]
            ax.plot(xs, ys, linestyle="none", marker="o", markersize=7, markerfacecolor="none",
                    markeredgecolor=color, label=None if good else label)
            ax.plot(xs, ys, linestyle="none", marker="x", markersize=9, color=INVALID_COLOR,
                    markeredgewidth=2, label=None if invalid_labelled else "invalid (red ×)")
            invalid_labelled = True


def sweep_figures(runs: list, suite: str, foot: str) -> list:
    out = []
    for param, axis_label in SWEEP_PARAMS.items():
        values = {r.param(param) for r in runs if isinstance(r.param(param), (int, float))}
        if len(values) < 2:
            continue
        others = [p for p in SWEEP_PARAMS if p != param]
        key_names = ["queue", "cores"] + others
        series: dict = {}
        for r in runs:
            v, s = r.param(param), r.summary("msgs_per_s")
            if not isinstance(v, (int, float)) or s is None:
                continue
            key = (r.queue, r.cores) + tuple(r.param(p) for p in others)
            series.setdefault(key, []).append((v, s))
        series = {k: pts for k, pts in series.items() if len({p[0] for p in pts}) >= 2}
        if not series:
            continue
        fig, ax = _new_figure(7.5, 4.6)
        _plot_series(ax, series, key_names)
        xs = sorted({p[0] for pts in series.values() for p in pts})
        if xs[0] > 0 and xs[-1] / xs[0] >= 4:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [fmt(x) for x in xs])
        ax.minorticks_off()
        _eng_axis(ax.yaxis)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(axis_label)
        ax.set_ylabel("throughput (messages/s)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(color="0.92")
        _finish(fig, ax, f"{suite}: throughput against {param}", foot,
                "points: median over repetitions; whiskers: min–max")
        caption = (f"How throughput changes with {axis_label}, one line per queue and fixed "
                   f"setting of the other parameters; only lines with at least two "
                   f"{param} values are drawn. Red crosses: points from invalid repetitions only.")
        out.append((f"{suite}_sweep_{param}", fig, caption))
    return out


def mesh_scaling(runs: list, foot: str):
    key_names = ["queue"] + list(SWEEP_PARAMS)
    series: dict = {}
    for r in runs:
        s = r.summary("msgs_per_s")
        if s is None:
            continue
        key = (r.queue,) + tuple(r.param(p) for p in SWEEP_PARAMS)
        series.setdefault(key, []).append((len(r.cores), s))
    if not series:
        return None
    fig, ax = _new_figure(7.5, 4.6)
    _plot_series(ax, series, key_names)
    xs = sorted({p[0] for pts in series.values() for p in pts})
    ax.set_xticks(xs, [str(x) for x in xs])
    _eng_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("cores in the mesh (count)")
    ax.set_ylabel("total throughput (messages/s)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(color="0.92")
    _finish(fig, ax, "mesh: throughput against number of cores", foot,
            "points: median over repetitions; whiskers: min–max")
    caption = ("All-to-all traffic through the smp mesh of N×(N−1) queues: messages per second "
               "over the whole mesh against the number of cores taking part, one line per "
               "queue. Flat or falling lines mean the queue does not scale. Red crosses: points "
               "from invalid repetitions only.")
    return fig, caption


# --------------------------------------------------------------------------------------
# Tables and context

def suite_table(runs: list, known_fields: set) -> tuple[list, list]:
    fields = [(f, lab) for f, lab in TABLE_FIELDS
              if any(f in e for r in runs for e in r.entries)]
    extras = sorted({k for r in runs for e in r.entries for k, v in e.items()
                     if k not in known_fields and isinstance(v, (int, float))
                     and not isinstance(v, bool)})
    fields += [(k, k) for k in extras]
    header = ["run", "queue", "cores", "relation", "valid reps", "status"] + [lab for _, lab in fields]
    rows = []
    for r in runs:
        total = len(r.iterations)
        reps = f"{len(r.valid_iterations)}/{total}" if total else "aggregates only"
        if r.all_invalid:
            status = "INVALID"
        elif r.any_invalid:
            status = "partly invalid"
        else:
            status = "ok"
        if r.error_messages:
            status += ": " + "; ".join(r.error_messages)
        row = [r.run_name, r.queue if r.queue is not None else "-",
               ",".join(str(c) for c in r.cores), r.relation, reps, status]
        for f, _ in fields:
            s = r.summary(f)
            row.append("-" if s is None else fmt(s.median) + (" (invalid)" if s.invalid else ""))
        rows.append(row)
    return header, rows


def context_rows(ctx: dict) -> list:
    """(label, text) pairs, the machine first; unknown context fields at the end."""
    topo, env, cpu = ctx["topology"], ctx["environment"], ctx["cpu"]
    drift = ctx.get("floor_drift")
    if drift is None:
        drift_text = "not measured" if "floor_drift" in ctx else "not recorded"
    else:
        drift_text = f"{drift * 100:.1f} % ((max − min) / median of the floor medians)"
    env_parts = [f"governor {env['governor']}", f"SMT active: {fmt(env['smt_active'])}",
                 f"load average (1 min) {fmt(env['load_avg_1m'])}",
                 f"virtualized: {fmt(env['virtualized'])}"]
    if "hypervisor" in env:
        env_parts.append(f"hypervisor {env['hypervisor']}")
    env_parts += [f"{k} {fmt(v)}" for k, v in env.items()
                  if k not in ("governor", "smt_active", "load_avg_1m", "virtualized", "hypervisor")]
    rows = [
        ("host", ctx["host_name"]),
        ("date", ctx["date"]),
        ("CPU", f"{cpu['model']} ({cpu['logical_cpus']} logical CPUs)"),
        ("topology", f"{topo['summary']} — packages {topo['packages']}, NUMA nodes "
                     f"{topo['numa_nodes']}, cores {topo['cores']}, PUs {topo['pus']}, SMT "
                     f"{fmt(topo['smt'])}, available PUs "
                     f"{','.join(str(p) for p in topo['available_pus']) or 'none'}"),
        ("cache_line_bytes", fmt(ctx["cache_line_bytes"])),
        ("compiler", f"{ctx['compiler']}, flags: {ctx['compiler_flags'] or '(none)'}, "
                     f"build type {ctx['build_type']}"),
        ("qmesh version", ctx["qmesh_version"]),
        ("git", f"{ctx['git_sha']} " + ("(dirty: uncommitted changes)" if ctx["git_dirty"]
                                         else "(clean)")),
        ("command line", ctx["command_line"]),
        ("suites", ", ".join(ctx["suites"]) + f"; {ctx['reps']} repetitions"
                   + (", quick" if ctx["quick"] else "")),
        ("environment", "; ".join(env_parts)),
        ("timer overhead", fmt_ns(ctx["timer_overhead_ns"])),
        ("floor drift", drift_text),
    ]
    if ctx.get("interrupted"):
        rows.append(("interrupted", "YES: the run was interrupted; results are partial"))
    shown = {"host_name", "date", "cpu", "topology", "cache_line_bytes", "compiler",
             "compiler_flags", "build_type", "qmesh_version", "git_sha", "git_dirty",
             "command_line", "suites", "reps", "quick", "environment", "timer_overhead_ns",
             "floor_drift", "interrupted", "warnings", "json_schema_version"}
    for k, v in ctx.items():
        if k not in shown:
            rows.append((k, fmt(v) if not isinstance(v, (dict, list)) else qr.show(v, 200)))
    rows.append(("schema version", fmt(ctx["json_schema_version"])))
    return rows


# --------------------------------------------------------------------------------------
# Assembly

@dataclass
class Section:
    path: str
    ctx: dict
    context: list
    warnings: list
    invalid: list
    figures: list = field(default_factory=list)  # (file name, title, caption)
    tables: list = field(default_factory=list)   # (suite, header, rows)
    notes: list = field(default_factory=list)


def _stem(path: str, taken: set) -> str:
    stem = os.path.basename(path)
    if stem.endswith(".json"):
        stem = stem[:-5]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") or "result"
    unique, i = stem, 2
    while unique in taken:
        unique, i = f"{stem}-{i}", i + 1
    taken.add(unique)
    return unique


def build_section(path: str, doc: dict, tmp: str, stem: str, known_fields: set) -> Section:
    ctx = doc["context"]
    foot = footer(path, ctx)
    all_runs = qr.runs(doc)
    invalid = [r for r in all_runs if r.any_invalid]
    warnings = list(ctx["warnings"])
    if ctx.get("interrupted"):
        warnings.insert(0, "the run was interrupted: results are partial")
    sec = Section(path, ctx, context_rows(ctx), warnings, invalid)
    by_suite = {s: qr.runs(doc, s) for s in qr.suites(doc)}
    floor_runs = by_suite.get("floor", [])
    plots = []  # (slug, title, result of a plot function)
    if floor_runs:
        plots.append(("floor_heatmap", "Floor: cache-line round trip per core pair",
                      floor_heatmap(floor_runs, foot)))
    pp = by_suite.get("pingpong", [])
    if pp:
        plots.append(("pingpong_percentiles", "Pingpong: round-trip percentiles",
                      pingpong_percentiles(pp, floor_runs, foot)))
        plots.append(("pingpong_floor_ratio", "Pingpong: floor ratio",
                      pingpong_floor_ratio(pp, foot)))
    for suite in ("stream",):
        if by_suite.get(suite):
            plots.append((f"{suite}_throughput", f"{suite.capitalize()}: throughput",
                           throughput_bars(by_suite[suite], suite, foot)))
            for slug, fig, caption in sweep_figures(by_suite[suite], suite, foot):
                plots.append((slug, f"{suite.capitalize()}: sweep over {slug.rsplit('_sweep_', 1)[1]}",
                              (fig, caption)))
    if by_suite.get("mesh"):
        plots.append(("mesh_scaling", "Mesh: throughput against cores",
                      mesh_scaling(by_suite["mesh"], foot)))
    for slug, title, result in plots:
        if result is None:
            sec.notes.append(f"{title}: no data to plot")
            continue
        fig, caption = result
        name = f"{stem}_{slug}.png"
        fig.savefig(os.path.join(tmp, name), dpi=100)
        plt().close(fig)
        sec.figures.append((name, title, caption))
    for suite, runs in by_suite.items():
        header, rows = suite_table(runs, known_fields)
        sec.tables.append((suite, header, rows))
    return sec


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1200px;margin:1.5em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em} h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}
td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
table.ctx th{width:11em} .warn{background:#fff4d6;border-left:4px solid #e0a000;padding:.5em 1em}
.bad{color:#b00000;font-weight:bold} figure{margin:1.5em 0} figure img{max-width:100%;
border:1px solid #ddd} figcaption{font-size:.9em;color:#444;max-width:60em}
tr.invalid td{background:#fde8e8} code{background:#f3f3f3;padding:0 .2em}
"""


def _is_num_cell(text: str) -> bool:
    return bool(re.fullmatch(r"-?[\d,]+(\.\d+)?(e[+-]?\d+)?( \(invalid\))?", text))


def render_html(sections: list, tmp: str) -> str:
    e = html.escape
    title = "qmesh report: " + ", ".join(os.path.basename(s.path) for s in sections)
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(title)}</h1>"]
    for sec in sections:
        out.append(f"<h2>{e(sec.path)}</h2>")
        out.append("<table class=\"ctx\">")
        for label, text in sec.context:
            cls = " class=\"bad\"" if label == "interrupted" else ""
            out.append(f"<tr><th>{e(label)}</th><td{cls}>{e(str(text))}</td></tr>")
        out.append("</table>")
        if sec.warnings:
            out.append("<div class=\"warn\"><strong>Warnings recorded by the run</strong><ul>")
            out += [f"<li>{e(w)}</li>" for w in sec.warnings]
            out.append("</ul></div>")
        else:
            out.append("<p>Warnings recorded by the run: none.</p>")
        if sec.invalid:
            out.append("<p class=\"bad\">Runs with invalid measurements (shown hatched in red, "
                       "left out of medians where valid repetitions exist):</p><ul>")
            for r in sec.invalid:
                msg = "; ".join(r.error_messages) or "no error message"
                out.append(f"<li><code>{e(r.run_name)}</code>: {len(r.invalid_iterations)} of "
                           f"{len(r.iterations)} repetitions invalid ({e(msg)})</li>")
            out.append("</ul>")
        for name, ftitle, caption in sec.figures:
            with open(os.path.join(tmp, name), "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            out.append(f"<figure><h3>{e(ftitle)}</h3><img alt=\"{e(ftitle)}\" "
                       f"data-file=\"{e(name)}\" src=\"data:image/png;base64,{data}\">"
                       f"<figcaption>{e(caption)}</figcaption></figure>")
        for note in sec.notes:
            out.append(f"<p><em>{e(note)}</em></p>")
        for suite, header, rows in sec.tables:
            out.append(f"<h3>Suite {e(suite)}: all runs</h3>")
            out.append("<p>Figures: median over the valid repetitions (aggregates when no "
                       "repetitions are recorded); real_time in ns.</p>")
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row in rows:
                cls = " class=\"invalid\"" if not row[5].startswith("ok") else ""
                cells = "".join(
                    f"<td class=\"num\">{e(c)}</td>" if i > 5 and _is_num_cell(c)
                    else f"<td>{e(c)}</td>" for i, c in enumerate(row))
                out.append(f"<tr{cls}>{cells}</tr>")
            out.append("</table>")
        if not sec.tables:
            out.append("<p>This file holds no benchmarks.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(sections: list) -> str:
    out = ["# qmesh report", ""]
    for sec in sections:
        out += [f"## {sec.path}", "", "| | |", "|---|---|"]
        out += [f"| {_md(label)} | {_md(text)} |" for label, text in sec.context]
        out.append("")
        if sec.warnings:
            out += ["**Warnings recorded by the run:**", ""] + [f"- {_md(w)}" for w in sec.warnings]
        else:
            out.append("Warnings recorded by the run: none.")
        out.append("")
        if sec.invalid:
            out += ["**Runs with invalid measurements:**", ""]
            for r in sec.invalid:
                msg = "; ".join(r.error_messages) or "no error message"
                out.append(f"- `{r.run_name}`: {len(r.invalid_iterations)} of "
                           f"{len(r.iterations)} repetitions invalid ({_md(msg)})")
            out.append("")
        for name, title, caption in sec.figures:
            out += [f"### {title}", "", f"![{title}]({name})", "", caption, ""]
        for note in sec.notes:
            out += [f"_{note}_", ""]
        for suite, header, rows in sec.tables:
            out += [f"### Suite {suite}: all runs", "",
                    "Median over the valid repetitions; real_time in ns.", "",
                    "| " + " | ".join(_md(h) for h in header) + " |",
                    "|" + "---|" * len(header)]
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_report(inputs: list, outdir: str, known_fields: set) -> list:
    """Build everything in a temporary directory next to outdir, then move it in."""
    outdir_abs = os.path.abspath(outdir)
    parent = os.path.dirname(outdir_abs)
    created = []
    d = parent
    while not os.path.isdir(d):
        created.append(d)
        d = os.path.dirname(d)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir_abs)}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        taken: set = set()
        sections = [build_section(p, doc, tmp, _stem(p, taken), known_fields)
                    for p, doc in inputs]
        names = [name for s in sections for name, _, _ in s.figures]
        with open(os.path.join(tmp, "summary.md"), "w", encoding="utf-8") as f:
            f.write(render_markdown(sections))
        with open(os.path.join(tmp, "report.html"), "w", encoding="utf-8") as f:
            f.write(render_html(sections, tmp))
        names += ["summary.md", "report.html"]
        if not os.path.lexists(outdir_abs):
            os.rename(tmp, outdir_abs)
        else:
            for name in names:  # report.html last: it appears only once all else is in place
                os.replace(os.path.join(tmp, name), os.path.join(outdir_abs, name))
            os.rmdir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in created:  # deepest first
            try:
                os.rmdir(d)
            except OSError:
                pass
        raise
    return [os.path.join(outdir, name) for name in names]


def main(argv=None) -> int:
    parser = qr.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", metavar="RESULT.json", help="qmesh result files")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="directory to write report.html, summary.md and the PNGs into "
                             "(created if missing; files of the same names are replaced)")
    args = parser.parse_args(argv)
    try:
        schema = qr.load_schema()
        inputs = [(p, qr.load(p, schema)) for p in args.results]
    except qr.QmeshError as e:
        return qr.fail(PROG, e)
    if os.path.lexists(args.out) and not os.path.isdir(args.out):
        return qr.fail(PROG, f"{args.out}: exists and is not a directory")
    known = set(schema["properties"]["benchmarks"]["items"]["properties"])
    try:
        written = write_report(inputs, args.out, known)
    except OSError as e:
        where = e.filename or args.out
        return qr.fail(PROG, f"{where}: cannot write the report: {e.strerror or e}")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    qr.quiet_sigpipe()
    sys.exit(main())
