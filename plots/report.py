#!/usr/bin/python3
"""report.py RESULT.json [...] [--mutants MUTANTS.json] -o DIR: plots and a self-contained HTML
report of qmesh results.

Writes into DIR, for each result file: PNG plots of the suites it holds (floor heatmap;
pingpong percentiles, percentile curves, floor ratios and, with several pairs, a queue × pair
ratio heatmap; stream throughput and sweeps; load latency against offered load; mesh scaling
per receiver state and messages per poll; pollscale poll cost and memory per pair; kv
throughput and speed-up; lock-free over locking heatmaps for pingpong, stream and mesh), then
with --mutants the mutant kill matrix, then summary.md (context and tables, linking the PNGs)
and report.html (the same with the images embedded, so the one file can be mailed or
archived). Prints the paths it wrote, report.html last. Every number shown comes from the
input files. plots/README.md describes each plot.

Exit status: 0 success; 2 bad usage, an input that is not a valid result file, or an output
that cannot be written (one line on stderr). All inputs are checked before anything is
written, and the outputs are assembled in a temporary directory (inside DIR when it exists,
else next to it) and moved in at the end, so a failed or interrupted run (SIGINT, SIGTERM,
SIGHUP: exit status 128 + the signal) leaves no half-written report.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import html
import math
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from typing import Iterable, Optional

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
                ("full_stalls", "full stalls"), ("empty_polls", "empty polls"),
                ("raw_p50_ns", "raw p50 (ns)"), ("raw_ratio", "raw ratio"),
                ("pointer_p50_ns", "pointer floor p50 (ns)"), ("pointer_ratio", "pointer ÷ floor"),
                ("offered_fraction", "offered fraction"),
                ("offered_msgs_per_s", "offered msgs/s"),
                ("stream_msgs_per_s", "stream msgs/s"), ("write_fraction", "write fraction"),
                ("virtual_cores", "virtual cores"), ("poll_ns", "poll (ns)"),
                ("pair_bytes", "pair bytes"), ("bell_bytes", "bell bytes"),
                ("turns", "turns"), ("idle_turns", "idle turns"), ("busy_share", "busy share"),
                ("deferred", "deferred"), ("busy_tasks", "busy tasks"),
                ("idle_poll_us", "idle poll (µs)"), ("sleeps", "sleeps"),
                ("reply_quota", "reply quota"), ("poll_budget", "poll budget")]
# Text configuration columns, shown when any entry of the suite has the field.
TEXT_FIELDS = [("design", "design"), ("receiver_state", "receivers"), ("polling", "polling"),
               ("idle_policy", "idle")]
# Columns that say only what every run does by default: shown when some entry's idle policy
# is not busy-poll (qmesh run --idle sleep), so busy-polling results keep their tables as they
# were. Parks are shown for a sleeping run even when it never parked: 0 is a finding there.
SLEEP_ONLY = ("idle_policy", "sleeps")
# Likewise the meshes' reply quota and poll budget (qmesh run --reply-quota, --poll-budget):
# shown when some entry ran with other than the defaults (0: every reply a poll takes runs
# inline; 64 messages a poll from one queue).
MESH_DEFAULTS = {"reply_quota": 0, "poll_budget": 64}
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

def _plain(text):
    """Text from the input (queue, run, host, CPU, mutant names) for a matplotlib label:
    its "$" escaped, since matplotlib sets the text between two "$" as TeX math (and raises
    on an unknown \\command there). A list is escaped item by item."""
    if isinstance(text, (list, tuple)):
        return [_plain(t) for t in text]
    return str(text).replace("$", r"\$")


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


def _log_y(ax, values) -> str:
    """A log y axis when some value is positive; else (every latency 0 after the timer's
    overhead was taken off) a linear one from 0, since matplotlib cannot log-scale nothing
    and warns. Returns the axis label's scale note."""
    if any(v is not None and v > 0 for v in values):
        ax.set_yscale("log")
        return ", log scale"
    ax.set_ylim(bottom=0)
    return ""


def validity_note(s: Optional[qr.Summary]) -> str:
    if s is None:
        return "no data"
    if s.invalid:
        return "INVALID"
    if s.n_invalid:
        return f"{s.n_invalid} invalid rep(s) left out"
    return ""


def footer(path: str, ctx: dict) -> str:
    """Which machine and which run a figure comes from: host (CPU), date, git sha, file."""
    dirty = " (dirty)" if ctx["git_dirty"] else ""
    return (f"{ctx['host_name']} ({ctx['cpu']['model']}, {ctx['cpu']['logical_cpus']} CPUs) · "
            f"run {ctx['date']} · git {ctx['git_sha'][:12]}{dirty} · {_shown_name(path)}")


def _shown_name(path: str) -> str:
    """The file's name for a figure: bytes that are not UTF-8 (surrogates from os.fsdecode,
    which no font has) shown as U+FFFD, as a terminal shows them."""
    return os.path.basename(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def ci_note(summaries) -> str:
    """What the whiskers of CI bars show, from the coverage the repetitions allowed."""
    levels = sorted({round(s.ci_level * 100, 1) for s in summaries if s.ci_level is not None})
    other = any(s.ci_level is None for s in summaries)
    if not levels:
        return "whiskers: min–max over repetitions"
    text = ("whiskers: " + "/".join(f"{v:g}" for v in levels)
            + " % confidence interval of the median (order statistics)")
    if levels[0] < 95:
        text += "; too few repetitions for 95 %, so min–max"
    if other:
        text += "; min–max where only aggregates exist"
    return text


# --------------------------------------------------------------------------------------
# Plots. Each returns (figure, caption) or None when there is nothing to draw.

def _new_figure(width: float, height: float):
    return plt().subplots(figsize=(width, height))


def _wrap(fig, text: str, chars_per_inch: float = 11.0) -> str:
    """Break a title so it fits the figure's width (about 11 characters per inch at 11 pt)."""
    width = max(30, int(fig.get_figwidth() * chars_per_inch))
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _finish(fig, ax, title: str, foot: str, subtitle: str = ""):
    ax.set_title(_wrap(fig, title + (f"\n{subtitle}" if subtitle else "")), fontsize=11)
    fig.text(0.01, 0.01, _plain(foot), fontsize=7, color="0.35", ha="left", va="bottom")
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
    # matplotlib refuses a negative error bar and cannot draw an infinite one; the validator
    # keeps each run's median within its min and max, but a pooled median of two large
    # values can still round past them or overflow, so a bar is never below 0 or infinite.
    def bar(d):
        return d if math.isfinite(d) and d > 0 else 0.0
    return [[bar(s.median - s.lo) for s in summaries], [bar(s.hi - s.median) for s in summaries]]


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
    ax.set_xticks(range(len(rows)), _plain(labels))
    scale = _log_y(ax, [s.median for _, d in rows for s in d.values() if s] + lows)
    ax.set_ylabel(f"round-trip latency (ns{scale})")
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
    ax.set_xticks(range(len(items)), _plain(labels))
    ax.set_ylim(bottom=0, top=max(s.hi for _, s in items) * 1.15 + 0.05)
    ax.set_ylabel("round-trip p50 ÷ adjacent floor p50 (ratio)")
    ax.set_xlabel("queue, sorted by floor ratio")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, "Ping-pong cost relative to the hardware floor", foot,
            "median over repetitions; whiskers: min–max")
    caption = ("Each repetition divides the queue's round-trip p50 by the floor measured next to "
               "it on the same pair (in results that record both, the mean of the floors just "
               "before and just after it; a repetition whose two floors still disagreed by more "
               "than the run's tolerance in its last try has no ratio and is left out); the bar is the "
               "median of those ratios, whiskers min to max. 1.0 (dashed) is the bare hardware; "
               "the height above it is what the queue costs. Ratios stay steady on noisy virtual "
               "machines where absolute times drift.")
    return fig, caption


def _eng_axis(axis):
    from matplotlib.ticker import EngFormatter
    axis.set_major_formatter(EngFormatter(sep=""))


def throughput_bars(runs: list, suite: str, foot: str):
    items = [(r, s) for r in runs if (s := qr.with_ci([r], qr.getter("msgs_per_s"))) is not None]
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
    ax.set_yticks(range(len(items)), _plain(labels), fontsize=8)
    ax.invert_yaxis()
    _eng_axis(ax.xaxis)
    ax.set_xlabel("throughput (messages/s)")
    ax.set_ylabel("configuration (run name)")
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, f"{suite}: throughput per configuration, best first", foot,
            "bars: median over repetitions; " + ci_note([s for _, s in items]))
    caption = ("Messages per second from producer to consumer, one bar per configuration "
               "(queue, cores, message size, capacity, batch), sorted from fastest; median "
               "over repetitions. Whiskers: a distribution-free confidence interval of the "
               "median (order statistics of the repetitions; when they are too few for 95 %, "
               "min to max, with its coverage in the subtitle). Red hatched bars come only from "
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
        label = _plain(_series_label(key_names, key, varying))
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


def _sweep_axes(ax, series: dict, key_names: list, xlabel: str, ylabel: str):
    """Throughput lines against a swept parameter: log₂ x when it spans 4× or more,
    a tick at every value measured, y from zero."""
    _plot_series(ax, series, key_names)
    xs = sorted({p[0] for pts in series.values() for p in pts})
    if xs[0] > 0 and xs[-1] / xs[0] >= 4:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [fmt(x) for x in xs])
    ax.minorticks_off()
    _eng_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


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
        _sweep_axes(ax, series, key_names, axis_label, "throughput (messages/s)")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(color="0.92")
        _finish(fig, ax, f"{suite}: throughput against {param}", foot,
                "points: median over repetitions; whiskers: min–max")
        caption = (f"How throughput changes with {axis_label}, one line per queue and fixed "
                   f"setting of the other parameters; only lines with at least two "
                   f"{param} values are drawn. Red crosses: points from invalid repetitions only.")
        out.append((f"{suite}_sweep_{param}", fig, caption))
    return out


def _finish_panels(fig, title: str, foot: str, subtitle: str = ""):
    """_finish for a figure of several panels: one title over all of them."""
    fig.suptitle(_wrap(fig, title + (f"\n{subtitle}" if subtitle else "")), fontsize=11)
    fig.text(0.01, 0.01, _plain(foot), fontsize=7, color="0.35", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.035, 1, 1))
    return fig


def _series_style(index: int) -> dict:
    """Colour from the cycle; marker and line style change with every lap of it."""
    colors = plt().rcParams["axes.prop_cycle"].by_key().get("color") or ["C0"]
    lap = index // len(colors)
    return dict(color=colors[index % len(colors)], marker="os^D"[lap % 4],
                linestyle=["-", "--", ":", "-."][lap % 4])


def _mesh_state(run: qr.Run) -> str:
    # Files written before the receiver_state field measured idle receivers.
    return qr.text_param(run, "receiver_state", "idle")


def _mesh_polling(run: qr.Run) -> str:
    # Files written before the polling field scanned every queue.
    return qr.text_param(run, "polling", "scan")


MESH_KEYS = ["queue", "polling"] + list(SWEEP_PARAMS)


def mesh_scaling(runs: list, foot: str):
    """Aggregate throughput against cores, one panel per receiver state."""
    runs, depth = _mesh_at_one_depth(runs)
    panels: dict = {}
    for r in runs:
        s = r.summary("msgs_per_s")
        if s is None:
            continue
        key = (r.queue, _mesh_polling(r)) + tuple(r.param(p) for p in SWEEP_PARAMS)
        panels.setdefault(_mesh_state(r), {}).setdefault(key, []).append((len(r.cores), s))
    if not panels:
        return None
    order = [st for st in RECEIVER_STATES if st in panels] + \
        sorted(st for st in panels if st not in RECEIVER_STATES)
    fig, axes = plt().subplots(1, len(order), figsize=(6.2 * len(order) + 1.5, 4.8),
                               squeeze=False)
    for ax, state in zip(axes[0], order):
        series = panels[state]
        _plot_series(ax, series, MESH_KEYS)
        xs = sorted({p[0] for pts in series.values() for p in pts})
        ax.set_xticks(xs, [str(x) for x in xs])
        _eng_axis(ax.yaxis)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("cores in the mesh (count)")
        ax.set_ylabel("total throughput (messages/s)")
        ax.set_title(f"receivers {state}", fontsize=10)
        ax.grid(color="0.92")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    over = sum(1 for r in runs if qr.flag_param(r, "oversubscribed"))
    sub = "points: median over repetitions; whiskers: min–max"
    if depth is not None:
        sub += f"; {fmt(depth)} requests in flight per pair (other depths: the depth plot)"
    if over:
        sub += f"; {over} run(s) oversubscribed (more threads than available cores)"
    _finish_panels(fig, "mesh: throughput against number of cores", foot, sub)
    caption = ("All-to-all traffic through the smp mesh of N×(N−1) queues: messages per second "
               "over the whole mesh against the number of cores taking part, one line per "
               "queue (and polling strategy when several were measured), one panel per "
               "receiver state (idle: receivers only poll; busy: receivers also do work; "
               "fan-in: many senders to one receiver). Files without a receiver state count "
               "as idle, without a polling strategy as scan. Flat or falling lines mean the "
               "queue does not scale. Red crosses: points from invalid repetitions only.")
    return fig, caption


RECEIVER_STATES = ("idle", "busy", "fan-in")

# The mesh suite's default requests in flight per pair (qmesh run --window).
MESH_DEFAULT_DEPTH = 16


def _mesh_depths(runs: list) -> list:
    """The in-flight depths (the mesh entries' `batch`) present, sorted."""
    return sorted({d for r in runs if qr._is_number(d := r.param("batch"))})


def _mesh_at_one_depth(runs: list) -> tuple:
    """(runs, depth): when a file sweeps the depth, the runs at the default
    (else the smallest) one, so that lines against N compare like with like."""
    depths = _mesh_depths(runs)
    if len(depths) < 2:
        return runs, None
    d = MESH_DEFAULT_DEPTH if MESH_DEFAULT_DEPTH in depths else depths[0]
    return [r for r in runs if r.param("batch") == d], d


def _mesh_depth_groups(runs: list) -> dict:
    """(cores in the mesh, receiver state, polling) -> {depth: {queue: summary}},
    for the groups measured at two or more depths. Oversubscribed meshes (more
    reactors than cores: time sharing, not the queues) are left out."""
    groups: dict = {}
    for r in runs:
        d, s = r.param("batch"), r.summary("msgs_per_s")
        if not qr._is_number(d) or s is None or s.invalid or qr.flag_param(r, "oversubscribed"):
            continue
        key = (len(r.cores), _mesh_state(r), _mesh_polling(r))
        groups.setdefault(key, {}).setdefault(d, {})[r.queue] = s
    return {k: v for k, v in groups.items() if len(v) >= 2}


def mesh_depth(runs: list, foot: str):
    """Throughput against requests in flight per pair, at the largest mesh
    measured at several depths, one panel per receiver state."""
    groups = _mesh_depth_groups(runs)
    if not groups:
        return None
    n = max(k[0] for k in groups)
    panels: dict = {}
    for (cores, state, polling), by_depth in groups.items():
        if cores != n:
            continue
        for d, per_queue in by_depth.items():
            for q, s in per_queue.items():
                panels.setdefault((state, polling), {}).setdefault((q,), []).append((d, s))
    # One panel per receiver state and polling strategy, so that one legend
    # (one line per queue) reads for all of them.
    rank = {st: i for i, st in enumerate(RECEIVER_STATES)}
    order = sorted(panels, key=lambda sp: (rank.get(sp[0], len(rank)), sp[0], sp[1] != "scan", sp[1]))
    fig, axes = plt().subplots(1, len(order), figsize=(5.6 * len(order) + 1.5, 4.8),
                               squeeze=False)
    for ax, (state, polling) in zip(axes[0], order):
        _sweep_axes(ax, panels[(state, polling)], ["queue"],
                    "requests in flight per ordered pair (--window)", "total throughput (messages/s)")
        ax.set_title(f"receivers {state}, {polling}", fontsize=10)
        ax.grid(color="0.92")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _finish_panels(fig, f"mesh: throughput against requests in flight, {n} cores", foot,
                   "points: median over valid repetitions; whiskers: min–max")
    caption = ("The mesh at one size, each configuration run at several depths (qmesh run "
               "--window): messages per second against the requests each core keeps in flight "
               "to each other core, one line per queue, one panel per receiver state and "
               "polling strategy. A deeper window gives a latency-bound "
               "queue more to overlap, and a locked queue bigger batches per lock acquisition.")
    return fig, caption


def mesh_depth_ratios(runs: list, fams: dict) -> list:
    """Rows (cores, state, polling, depth, best lock-free queue, its msgs/s,
    inbox msgs/s, ratio) for every group swept over depth that has the inbox."""
    rows = []
    for (n, state, polling), by_depth in sorted(_mesh_depth_groups(runs).items()):
        for d in sorted(by_depth):
            per_queue = by_depth[d]
            inbox = per_queue.get("inbox")
            free = {q: s for q, s in per_queue.items() if fams.get(q) in qr.LOCK_FREE_FAMILIES}
            if inbox is None or not free or inbox.median <= 0:
                continue
            q, s = max(free.items(), key=lambda qs: qs[1].median)
            rows.append((n, state, polling, d, q, s.median, inbox.median, s.median / inbox.median))
    return rows


def mesh_batch_hist(runs: list, foot: str):
    """Share of polls by number of messages taken, at the largest mesh, per receiver state."""
    runs, depth = _mesh_at_one_depth(runs)
    panels: dict = {}
    for r in runs:
        hist = _batch_hist(r)
        if hist:
            panels.setdefault(_mesh_state(r), []).append((r, hist))
    if not panels:
        return None
    order = [st for st in RECEIVER_STATES if st in panels] + \
        sorted(st for st in panels if st not in RECEIVER_STATES)
    fig, axes = plt().subplots(1, len(order), figsize=(6.2 * len(order) + 1.5, 4.6),
                               squeeze=False)
    for ax, state in zip(axes[0], order):
        items = panels[state]
        n_max = max(len(r.cores) for r, _ in items)
        items = [(r, h) for r, h in items if len(r.cores) == n_max]
        bounds = sorted({le for _, h in items for le in h})
        finite = [b for b in bounds if b != math.inf]
        # The open last bucket sits one doubling past the largest bound. Floats: a bound near
        # 2**64 doubled is past what numpy holds as an integer (it would keep a Python object).
        where = {b: float(b if b != math.inf else 2 * max(finite or [1]) + 1) for b in bounds}
        names = {b: (fmt(b) if b != math.inf else f">{fmt(max(finite or [0]))}")
                 for b in bounds}
        several_pollings = len({_mesh_polling(x) for x, _ in items}) > 1
        for index, (r, h) in enumerate(items):
            total = sum(h.values())
            label = _plain(f"{r.queue} {_mesh_polling(r)}" if several_pollings else str(r.queue))
            st = _series_style(index)
            ax.plot([where[b] for b in bounds], [100.0 * h.get(b, 0) / total for b in bounds],
                    label=label, markersize=4, **st)
        xs = [where[b] for b in bounds]
        if xs and xs[0] > 0 and xs[-1] / xs[0] >= 4:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [names[b] for b in bounds])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set_xlabel("messages taken by one poll, up to (count)")
        ax.set_ylabel("share of polls (%)")
        ax.set_title(f"receivers {state}, {n_max} cores", fontsize=10)
        ax.grid(color="0.92")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    sub = "counts summed over the valid repetitions of the largest mesh"
    if depth is not None:
        sub += f", {fmt(depth)} requests in flight per pair"
    _finish_panels(fig, "mesh: messages taken per poll (batch size distribution)", foot, sub)
    caption = ("How many messages one poll of a queue found, as a share of all polls "
               "(batch_hist: each point counts the polls that took at most that many messages "
               "and more than the previous bound). Mass at the right means receivers fall "
               "behind and drain in batches; at the left, they keep up message by message.")
    return fig, caption


def _batch_hist(run: qr.Run) -> dict:
    """le -> count summed over the valid repetitions (or the median aggregate, which qmesh
    writes with the counts already summed). The open last bucket (le null: more than the
    previous bound) has le = math.inf."""
    out: dict = {}
    sources = run.valid_iterations or [a for a in (run.aggregates.get("median"),)
                                       if a is not None and a["valid"]]
    for e in sources:
        h = e.get("batch_hist")
        if not isinstance(h, list):
            continue
        for b in h:
            if not isinstance(b, dict) or not qr._is_number(b.get("count")):
                continue
            le = b.get("le")
            if le is None and "le" in b:
                le = math.inf
            if qr._is_number(le):
                out[le] = out.get(le, 0) + b["count"]
    return out if sum(out.values()) > 0 else {}


# Pingpong: percentile curves and the queue × pair floor-ratio heatmap

# Position of each percentile on a "nines" axis, -log10(1 - q); max one step past p99.9.
# Min–max bands drawn only up to this many curves; beyond, they hide each other.
MAX_BANDS = 4
NINES_X = {"p50": math.log10(2), "p90": 1.0, "p99": 2.0, "p99.9": 3.0, "max": 4.0}


def pingpong_percentile_curves(pp_runs: list, foot: str, suite: str = "pingpong"):
    rows = [(r, [(NINES_X[lab], s) for f, lab in PERCENTILES if (s := r.summary(f)) is not None])
            for r in pp_runs]
    rows = [(r, pts) for r, pts in rows if pts]
    if not rows:
        return None
    rows.sort(key=lambda rp: rp[1][0][1].median)
    with_cores = len({r.cores for r, _ in rows}) > 1
    # submit runs each queue under both polling strategies: one label each, or two curves
    # would share one name in the legend.
    with_polling = len({qr.text_param(r, "polling") for r, _ in rows}) > 1
    fig, ax = _new_figure(8.5, 5.0)
    for index, (r, pts) in enumerate(rows):
        st = _series_style(index)
        xs, meds = [x for x, _ in pts], [s.median for _, s in pts]
        invalid = any(s.invalid for _, s in pts)
        polling = f" {qr.text_param(r, 'polling', 'scan')}" if with_polling else ""
        label = _plain(run_label(r, with_cores) + polling + (" (INVALID)" if invalid else ""))
        if invalid:
            st.update(color=INVALID_COLOR, linestyle=":")
        ax.plot(xs, meds, label=label, markersize=4, **st)
        if len(rows) <= MAX_BANDS:
            ax.fill_between(xs, [s.lo for _, s in pts], [s.hi for _, s in pts],
                            color=st["color"], alpha=0.10, linewidth=0)
    scale = _log_y(ax, [s.median for _, pts in rows for _, s in pts])
    ax.set_xticks(list(NINES_X.values()), list(NINES_X))
    ax.set_xlabel("percentile of the round-trip distribution (nines scale: −log₁₀(1 − q))")
    ax.set_ylabel(f"round-trip latency (ns{scale})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(which="both", color="0.92")
    _finish(fig, ax, f"{suite}: round-trip percentile curves per queue", foot,
            "lines: median over repetitions of each percentile; " +
            ("bands: min–max" if len(rows) <= MAX_BANDS else
             "min–max bands left out with this many queues (see the percentile bars)"))
    caption = ("The round-trip distribution of each queue as a curve: p50, p90, p99, p99.9 and "
               "max, each the median over repetitions (band: min to max), on a log latency "
               "scale. A curve that stays flat and then jumps at p99.9 or max points at rare "
               "stalls (preemption, a slow path); a curve that is high from p50 on, at the "
               "common case.")
    return fig, caption


def _heatmap(fig, ax, data, row_labels, col_labels, texts, cmap, norm, bar_label):
    """Draw a matrix with per-cell text; None cells stay blank."""
    import numpy as np
    arr = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    cm = plt().get_cmap(cmap).copy()
    cm.set_bad("white")
    im = ax.imshow(np.ma.masked_invalid(arr), cmap=cm, norm=norm, aspect="auto")
    if bar_label:
        fig.colorbar(im, ax=ax, label=bar_label, fraction=0.046, pad=0.04)
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            if text:
                v = arr[i, j]
                dark = not np.isnan(v) and (norm(v) < 0.2 or norm(v) > 0.8)
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(col_labels)), _plain(col_labels), rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), _plain(row_labels))
    ax.set_xticks([x - 0.5 for x in range(1, len(col_labels))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(row_labels))], minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    return im


def pingpong_ratio_heatmap(pp_runs: list, foot: str):
    """Queue × core pair: round-trip p50 ÷ adjacent floor. Only with two pairs or more."""
    from matplotlib.colors import Normalize
    pairs = sorted({r.cores for r in pp_runs if len(r.cores) == 2})
    if len(pairs) < 2:
        return None
    queues = list(dict.fromkeys(r.queue for r in pp_runs if r.queue is not None))
    cells = {}
    for q in queues:
        for p in pairs:
            s = qr.summarize([r for r in pp_runs if r.queue == q and r.cores == p],
                             qr.getter("floor_ratio"))
            if s is not None:
                cells[(q, p)] = s
    good = [s.median for s in cells.values() if not s.invalid]
    if not good:
        return None
    queues.sort(key=lambda q: statistics.median(
        [s.median for (qq, _), s in cells.items() if qq == q and not s.invalid] or [math.inf]))
    data = [[cells[(q, p)].median if (q, p) in cells and not cells[(q, p)].invalid else None
             for p in pairs] for q in queues]
    texts = [["" if (q, p) not in cells else
              ("INVALID" if cells[(q, p)].invalid else f"{cells[(q, p)].median:.2f}×")
              for p in pairs] for q in queues]
    fig, ax = _new_figure(max(6.0, 0.8 * len(pairs) + 4), max(3.5, 0.38 * len(queues) + 2))
    _heatmap(fig, ax, data, queues, [pair_label(p) for p in pairs], texts, "viridis",
             Normalize(vmin=min(good), vmax=max(good)), "round-trip p50 ÷ floor p50 (ratio)")
    ax.set_xlabel("core pair (first core → second core)")
    ax.set_ylabel("queue, lowest ratio first")
    _finish(fig, ax, "pingpong: each queue's round trip as a ratio of the floor, per core pair",
            foot, "cells: median over repetitions of the per-repetition floor ratio")
    caption = ("For every core pair the queue was measured on, its round-trip p50 divided by "
               "the bare cache-line floor measured next to it on the same pair. Columns that "
               "stand out show pairs where the queue pays more than the hardware distance.")
    return fig, caption


# Load: open-loop latency against offered load

# An achieved rate below this share of the offered one marks the queue as saturated.
SATURATED_SHARE = 0.95


def load_latency(runs: list, foot: str):
    series: dict = {}
    for r in runs:
        frac = r.param("offered_fraction")
        if not qr._is_number(frac):
            continue
        p50, p99 = r.summary("p50"), r.summary("p99_ns")
        if p50 is None:
            continue
        ach, off = r.summary("msgs_per_s"), r.summary("offered_msgs_per_s")
        saturated = (ach is not None and off is not None and off.median > 0
                     and ach.median < SATURATED_SHARE * off.median)
        series.setdefault((r.queue, r.cores), []).append((100.0 * frac, p50, p99, saturated))
    if not series:
        return None
    with_cores = len({k[1] for k in series}) > 1
    fig, ax = _new_figure(8.5, 5.0)
    invalid_labelled = saturated_labelled = False
    for index, (key, pts) in enumerate(sorted(series.items(), key=lambda kv: str(kv[0]))):
        pts.sort(key=lambda p: p[0])
        st = _series_style(index)
        name = str(key[0]) + (f" {pair_label(key[1])}" if with_cores else "")
        for which, pos, ls in (("p50", 1, "-"), ("p99", 2, "--")):
            good = [(p[0], p[pos]) for p in pts if p[pos] is not None and not p[pos].invalid]
            if good:
                ax.errorbar([x for x, _ in good], [s.median for _, s in good],
                            yerr=_errs([s for _, s in good]), color=st["color"],
                            marker=st["marker"], markersize=4, capsize=2, linestyle=ls,
                            label=_plain(f"{name} {which}"))
            bad = [(p[0], p[pos]) for p in pts if p[pos] is not None and p[pos].invalid]
            if bad:
                ax.plot([x for x, _ in bad], [s.median for _, s in bad], linestyle="none",
                        marker="x", markersize=9, color=INVALID_COLOR, markeredgewidth=2,
                        label=None if invalid_labelled else "invalid (red ×)")
                invalid_labelled = True
        sat = [(p[0], p[2] or p[1]) for p in pts if p[3]]
        if sat:
            ax.plot([x for x, _ in sat], [s.median for _, s in sat], linestyle="none",
                    marker="o", markersize=10, markerfacecolor="none", markeredgecolor="0.2",
                    label=None if saturated_labelled else
                    f"achieved < {SATURATED_SHARE:.0%} of offered (ring)")
            saturated_labelled = True
    scale = _log_y(ax, [s.median for pts in series.values() for p in pts for s in p[1:3] if s])
    ax.set_xlim(0, 105)
    ax.set_xlabel("offered load (% of the queue's measured stream rate)")
    ax.set_ylabel(f"one-way latency from scheduled send (ns{scale})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(which="both", color="0.92")
    _finish(fig, ax, "load: latency against offered load (open loop)", foot,
            "solid: p50, dashed: p99; points: median over repetitions; whiskers: min–max")
    caption = ("Open-loop test: the producer sends at a fixed fraction of the rate the queue "
               "reached in the stream suite, and each message's latency runs from its scheduled "
               "send time, so a stall delays every message behind it (no coordinated "
               "omission). Latency stays near the floor at low load and climbs as the queue "
               "nears saturation; ringed points did not reach the offered rate.")
    return fig, caption


# kv: sharded (message passing) against shared-map designs

KV_LOCK_DESIGNS = ("mutex", "shared_mutex", "striped")


def _kv_design(r: qr.Run) -> str:
    return qr.text_param(r, "design", "?")


def _kv_n(r: qr.Run) -> int:
    t = r.param("threads")
    return int(t) if qr._is_number(t) and t >= 1 else len(r.cores)


def _kv_label(r: qr.Run, with_n: bool) -> str:
    d = _kv_design(r)
    text = f"sharded · {r.queue}" if d == "sharded" else f"shared map · {d}"
    return text + (f" · {_kv_n(r)} cores" if with_n else "")


def kv_throughput(runs: list, foot: str):
    items = [(r, s) for r in runs if (s := qr.with_ci([r], qr.getter("msgs_per_s"))) is not None]
    if not items:
        return None
    with_n = len({_kv_n(r) for r, _ in items}) > 1
    items.sort(key=lambda rs: (_kv_n(rs[0]), -rs[1].median))
    fig, ax = _new_figure(8.5, max(3.2, 0.38 * len(items) + 1.8))
    for i, (r, s) in enumerate(items):
        color = "tab:blue" if _kv_design(r) == "sharded" else "tab:orange"
        ax.barh(i, s.median, 0.7, xerr=_errs([s]), capsize=2, ecolor="0.3",
                **_bar_style(s, color))
    labels = [_kv_label(r, with_n) + (f" ({n})" if (n := validity_note(s)) else "")
              for r, s in items]
    ax.set_yticks(range(len(items)), _plain(labels), fontsize=8)
    ax.invert_yaxis()
    _eng_axis(ax.xaxis)
    ax.set_xlabel("operations per second, all cores together (ops/s)")
    ax.set_ylabel("design (sharded: queue used)")
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="tab:blue", label="sharded, message passing"),
                       Patch(color="tab:orange", label="one shared map, locks")],
              fontsize=8, loc="lower right")
    _finish(fig, ax, "kv: lookups per second, message passing against a shared map", foot,
            "bars: median over repetitions; " + ci_note([s for _, s in items]))
    caption = ("The same keys, operations and cores served two ways: sharded (each core owns "
               "the keys hashing to it, other cores send requests through the mesh, one bar "
               "per queue) and one shared map behind a std::mutex, a std::shared_mutex, or "
               "striped mutexes. Longest bar first within each core count.")
    return fig, caption


def kv_ratios(runs: list) -> list:
    """(n, best sharded run, its summary, lock design, lock summary, ratio) per lock design."""
    out = []
    for n in sorted({_kv_n(r) for r in runs}):
        here = [(r, s) for r in runs if _kv_n(r) == n
                and (s := r.summary("msgs_per_s")) is not None and not s.invalid]
        sharded = [(r, s) for r, s in here if _kv_design(r) == "sharded"]
        if not sharded:
            continue
        best_r, best_s = max(sharded, key=lambda rs: rs[1].median)
        for r, s in here:
            d = _kv_design(r)
            if d != "sharded" and s.median > 0:
                out.append((n, best_r, best_s, d, s, best_s.median / s.median))
    return out


def kv_ratio_plot(runs: list, foot: str):
    ratios = kv_ratios(runs)
    if not ratios:
        return None
    with_n = len({x[0] for x in ratios}) > 1
    fig, ax = _new_figure(max(6.0, 0.9 * len(ratios) + 3), 4.6)
    for i, (n, br, bs, d, s, ratio) in enumerate(ratios):
        ax.bar(i, ratio, 0.6, color="tab:blue" if ratio >= 1 else "tab:orange")
        ax.annotate(f"{ratio:.2f}×", (i, ratio), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="equal (ratio 1)")
    ax.set_xticks(range(len(ratios)),
                  _plain([f"{br.queue} ÷ {d}" + (f"\n{n} cores" if with_n else "")
                          for n, br, _, d, _, _ in ratios]), fontsize=8)
    ax.set_ylim(bottom=0, top=max(x[5] for x in ratios) * 1.15 + 0.05)
    ax.set_xlabel("best sharded queue ÷ shared-map design")
    ax.set_ylabel("speed-up, ops/s ratio (×)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, "kv: best sharded design over each shared-map design", foot,
            "ratio of medians over repetitions; above 1: message passing is faster")
    caption = ("Operations per second of the fastest sharded configuration divided by those of "
               "each lock-based shared-map design at the same core count. Above the dashed "
               "line, message passing wins.")
    return fig, caption


# pollscale: idle poll cost against the number of (virtual) cores

POLL_STYLES = {"scan": "-", "doorbell": "--"}


def _poll_ns(e: dict) -> Optional[float]:
    v = e.get("poll_ns")
    return float(v) if qr._is_number(v) else qr.real_time_ns(e)


def pollscale_lines(runs: list, foot: str):
    series: dict = {}
    for r in runs:
        n = r.param("virtual_cores")
        s = qr.summarize([r], _poll_ns)
        if not qr._is_number(n) or s is None:
            continue
        series.setdefault((r.queue, qr.text_param(r, "polling", "?")), []).append((n, s))
    if not series:
        return None
    fig, ax = _new_figure(8.5, 5.0)
    queues = list(dict.fromkeys(k[0] for k in series))
    invalid_labelled = False
    order = sorted(series.items(), key=lambda kv: (queues.index(kv[0][0]), kv[0][1]))
    for (q, polling), pts in order:
        pts.sort(key=lambda p: p[0])
        st = _series_style(queues.index(q))
        st["linestyle"] = POLL_STYLES.get(polling, ":")
        good = [(x, s) for x, s in pts if not s.invalid]
        if good:
            ax.errorbar([x for x, _ in good], [s.median for _, s in good],
                        yerr=_errs([s for _, s in good]), markersize=4, capsize=2,
                        label=_plain(f"{q} {polling}"), **st)
        bad = [(x, s) for x, s in pts if s.invalid]
        if bad:
            ax.plot([x for x, _ in bad], [s.median for _, s in bad], linestyle="none",
                    marker="x", markersize=9, color=INVALID_COLOR, markeredgewidth=2,
                    label=None if invalid_labelled else "invalid (red ×)")
            invalid_labelled = True
    xs = sorted({x for pts in series.values() for x, _ in pts})
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [fmt(x) for x in xs])
    ax.minorticks_off()
    ys = [s.median for pts in series.values() for _, s in pts if s.median > 0]
    if ys and max(ys) / min(ys) >= 10:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("cores N in the mesh (count, log₂ scale; virtual cores beyond the machine's)")
    ax.set_ylabel("cost of one idle reactor loop (ns per poll)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(which="both", color="0.92")
    _finish(fig, ax, "pollscale: idle poll cost against N, per polling strategy", foot,
            "solid: scan every incoming queue; dashed: doorbell; points: median over "
            "repetitions; whiskers: min–max")
    caption = ("What one reactor loop costs when no message arrives, as the mesh grows: "
               "scanning polls all N−1 incoming queues, so its cost grows with N; a doorbell "
               "(one flag per core that senders set) keeps it flat. Virtual cores share the "
               "machine's cores, so only the loop's own work is measured.")
    return fig, caption


def _ratio_cell(s: Optional[qr.Summary]) -> str:
    if s is None:
        return "-"
    cell = f"{s.median:.2f}×"
    if s.n > 1:
        cell += f" ({s.lo:.2f}–{s.hi:.2f})"
    return cell + (" invalid" if s.invalid else "")


def pollscale_growth(runs: list) -> Optional[tuple]:
    """(header, rows): per queue and polling strategy measured at two N or more, the idle poll
    cost at the smallest and the largest N, and how far it rose above the smallest N's: the
    largest ratio over N of the medians over repetitions, and the same of each N's fastest
    repetition (a host that runs some repetitions slow, at any N, moves medians but rarely
    every repetition). Valid repetitions only."""
    groups: dict = {}
    for r in runs:
        n = r.param("virtual_cores")
        samples = [v for e in r.valid_iterations if (v := _poll_ns(e)) is not None and v > 0]
        if not qr._is_number(n) or not samples:
            continue
        groups.setdefault((r.queue, qr.text_param(r, "polling", "?")), {}) \
            .setdefault(int(n), []).extend(samples)
    rows = []
    for (q, polling), by_n in groups.items():
        if len(by_n) < 2:
            continue
        ns = sorted(by_n)
        med = {n: statistics.median(v) for n, v in by_n.items()}
        low = {n: min(v) for n, v in by_n.items()}
        n0, n1 = ns[0], ns[-1]
        rows.append((q, polling, n0, n1, med[n0], med[n1], max(med[n] for n in ns) / med[n0],
                     max(low[n] for n in ns) / low[n0]))
    if not rows:
        return None
    rows.sort(key=lambda row: (row[1], row[6]))
    header = ["queue", "polling", "N", "ns at smallest N", "ns at largest N",
              "worst ÷ smallest N (medians)", "worst ÷ smallest N (fastest repetitions)"]
    return header, [[str(q), po, f"{fmt(n0)}–{fmt(n1)}", fmt(m0), fmt(m1), f"{g:.2f}×", f"{gl:.2f}×"]
                    for q, po, n0, n1, m0, m1, g, gl in rows]


def submit_ratios(runs: list, floor_runs: Iterable = ()) -> Optional[tuple]:
    """(header, rows): per submit run, the submit_to round trip and its ratios to the floor
    and to the queue's own raw round trip (each repetition's, measured next to it), median
    (min–max) over repetitions; lowest ratio to the floor first. When the floor suite of the
    same file measured the pointer floor of the run's pair, a last column divides the run's
    median by that pair's median pointer floor (not measured next to it: one ratio of
    medians)."""
    floors_by_pair: dict = {}
    for f in floor_runs:
        floors_by_pair.setdefault(tuple(f.cores), []).append(f)
    pointer = {pair: s for pair, fs in floors_by_pair.items()
               if (s := qr.summarize(fs, qr.getter("pointer_p50_ns"))) is not None and not s.invalid}
    rows = []
    for r in runs:
        p50 = r.summary("p50")
        if p50 is None:
            continue
        floor, raw = r.summary("floor_ratio"), r.summary("raw_ratio")
        key = floor.median if floor is not None and not floor.invalid else math.inf
        cores = "-".join(str(c) for c in r.cores)
        row = [str(r.queue), qr.text_param(r, "polling", "?"), cores,
               fmt(p50.median) + (" invalid" if p50.invalid else ""),
               _ratio_cell(floor), _ratio_cell(raw)]
        if pointer:
            ptr = pointer.get(tuple(r.cores))
            row.append(f"{p50.median / ptr.median:.2f}×" if ptr is not None and ptr.median > 0
                       and not p50.invalid else "-")
        rows.append((key, row))
    if not rows:
        return None
    rows.sort(key=lambda kr: kr[0])
    header = ["queue", "polling", "cores", "submit_to p50 ns", "÷ floor", "÷ raw round trip"]
    if pointer:
        header.append("÷ pointer floor (medians)")
    return header, [row for _, row in rows]


def pollscale_pair_bytes(runs: list) -> Optional[tuple]:
    """(header, rows): memory of one ordered pair's queues per queue, from the data.
    (bell_bytes, which depends on N, stays in the suite table, one value per run.)"""
    sizes: dict = {}
    for r in runs:
        v = r.param("pair_bytes")
        if qr._is_number(v):
            sizes.setdefault(r.queue, set()).add(v)
    if not sizes:
        return None
    rows = [[str(q), " / ".join(fmt(v) for v in sorted(vs)),
             " / ".join(f"{v / 1024:,.1f}" for v in sorted(vs))]
            for q, vs in sorted(sizes.items(), key=lambda kv: min(kv[1]))]
    return ["queue", "pair_bytes (bytes)", "KiB"], rows


def pair_bytes_plot(runs: list, foot: str):
    table = pollscale_pair_bytes(runs)
    if table is None:
        return None
    sizes = {}
    for r in runs:
        v = r.param("pair_bytes")
        if qr._is_number(v):
            sizes[r.queue] = max(v, sizes.get(r.queue, 0))
    items = sorted(sizes.items(), key=lambda kv: kv[1])
    fig, ax = _new_figure(8.0, max(3.0, 0.35 * len(items) + 1.8))
    ax.barh(range(len(items)), [v for _, v in items], 0.7, color="tab:purple")
    for i, (_, v) in enumerate(items):
        ax.annotate(f"{v:,.0f} B", (v, i), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7)
    ax.set_yticks(range(len(items)), _plain([str(q) for q, _ in items]), fontsize=8)
    low, high = items[0][1], items[-1][1]
    log = low > 0 and high / low >= 16  # linear bars unless sizes differ by orders
    if log:
        ax.set_xscale("log", base=2)
        ax.set_xlim(left=low / 2, right=high * 4)
    else:
        from matplotlib.ticker import EngFormatter
        ax.xaxis.set_major_formatter(EngFormatter(unit="B", sep=""))
        ax.set_xlim(left=0, right=max(high * 1.2, 1))  # all 0: still a range
    ax.set_xlabel("memory of one ordered pair's request + return queues (bytes"
                  + (", log₂ scale)" if log else ")"))
    ax.set_ylabel("queue")
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    _finish(fig, ax, "pollscale: memory per ordered core pair", foot,
            "the mesh of N cores holds N×(N−1) such pairs")
    caption = ("Bytes one ordered pair of cores costs (its request and return queues, as "
               "constructed by the benchmark). Multiply by N×(N−1) for the whole mesh.")
    return fig, caption


# Lock-free against locking

# suite -> (figure, lower is better, configuration fields that must match, what is compared)
SPEEDUP_SUITES = {
    "pingpong": ("p50", True, ("cores",), "round-trip p50: locking ÷ lock-free"),
    "stream": ("msgs_per_s", False, ("cores", "msg_bytes", "capacity", "batch"),
               "msgs/s: lock-free ÷ locking"),
    "mesh": ("msgs_per_s", False, ("n", "receiver_state", "polling", "msg_bytes", "capacity",
                                   "batch"), "msgs/s: lock-free ÷ locking"),
}


def _config_value(r: qr.Run, name: str):
    if name == "cores":
        return r.cores
    if name == "n":
        return len(r.cores)
    if name == "receiver_state":
        return _mesh_state(r)
    if name == "polling":
        return _mesh_polling(r)
    return r.param(name)


def speedups(runs: list, fams: dict, suite: str) -> dict:
    """(lock-free queue, locking queue) -> [speed-up per matched configuration]."""
    metric, lower_better, keys, _ = SPEEDUP_SUITES[suite]
    values: dict = {}
    for r in runs:
        if r.queue is None or fams.get(r.queue) is None:
            continue
        s = r.summary(metric)
        if s is None or s.invalid or s.median <= 0:
            continue
        key = tuple(_config_value(r, k) for k in keys)
        values.setdefault(r.queue, {})[key] = s.median
    lock = [q for q in values if fams[q] == "lock"]
    free = [q for q in values if fams[q] in qr.LOCK_FREE_FAMILIES]
    out: dict = {}
    for f in free:
        for k in lock:
            common = [c for c in values[f] if c in values[k]]
            if common:
                out[(f, k)] = [values[k][c] / values[f][c] if lower_better
                               else values[f][c] / values[k][c] for c in common]
    return out


def geomean(values) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def speedup_heatmap(runs: list, fams: dict, suite: str, foot: str):
    """(fig, caption, (header, rows)) or None when the suite lacks either side."""
    from matplotlib.colors import LogNorm
    sp = speedups(runs, fams, suite)
    if not sp:
        return None
    free = list(dict.fromkeys(f for f, _ in sp))
    lock = list(dict.fromkeys(k for _, k in sp))
    g = {fk: geomean(v) for fk, v in sp.items()}
    fam_rank = {"own": 0, "peer": 1}
    free.sort(key=lambda f: (fam_rank.get(fams[f], 2),
                             -geomean([g[(f, k)] for k in lock if (f, k) in g])))
    lock.sort()
    data = [[g.get((f, k)) for k in lock] for f in free]
    texts = [[f"{g[(f, k)]:.2f}×" if (f, k) in g else "" for k in lock] for f in free]
    span = max(max(abs(math.log(v)) for v in g.values()), math.log(1.5))
    norm = LogNorm(vmin=math.exp(-span), vmax=math.exp(span))
    fig, ax = _new_figure(max(8.0, 1.1 * len(lock) + 5), max(3.8, 0.4 * len(free) + 2.4))
    im = _heatmap(fig, ax, data, [f"{f} ({fams[f]})" for f in free], lock, texts, "RdYlGn",
                  norm, None)
    ticks = [2.0 ** k for k in range(-12, 13) if norm.vmin <= 2.0 ** k <= norm.vmax]
    bar = fig.colorbar(im, ax=ax, label="speed-up (×, log scale)", fraction=0.046, pad=0.04,
                       ticks=ticks)
    bar.ax.set_yticklabels([f"{t:g}×" if t >= 1 else f"1/{1 / t:g}×" for t in ticks])
    bar.ax.minorticks_off()
    metric, _, keys, what = SPEEDUP_SUITES[suite]
    n_cfg = max(len(v) for v in sp.values())
    ax.set_xlabel("locking baseline (queue)")
    ax.set_ylabel("lock-free queue (family)")
    if n_cfg == 1:
        sub = f"{what}; same {', '.join(keys)}; medians over repetitions"
    else:
        sub = (f"{what}; geometric mean over up to {n_cfg} matched configurations "
               f"(same {', '.join(keys)}); medians over repetitions")
    _finish(fig, ax, f"{suite}: speed-up of each lock-free queue over each locking baseline",
            foot, sub)
    caption = (f"Each cell: how many times faster the row's lock-free queue is than the "
               f"column's locking baseline in the {suite} suite ({what}), from the medians over "
               f"repetitions, as the geometric mean over every configuration both were "
               f"measured in. Green above 1: lock-free wins; red below 1: the lock wins.")
    header = ["lock-free queue", "family"] + [f"÷ {k}" for k in lock]
    rows = []
    for f in free:
        row = [f, fams[f]]
        for k in lock:
            v = sp.get((f, k))
            if not v:
                row.append("-")
            elif len(v) == 1:
                row.append(f"{v[0]:.2f}×")
            else:
                row.append(f"{geomean(v):.2f}× ({min(v):.2f}–{max(v):.2f}, {len(v)} configs)")
        rows.append(row)
    return fig, caption, (header, rows)


# Verification: the mutant kill matrix

def mutants_origin(path: str, mdoc: dict) -> str:
    """Footer for the mutants figure: the file, and whatever run context it records."""
    parts = []
    ctx = mdoc.get("context") if isinstance(mdoc.get("context"), dict) else mdoc
    for key in ("host_name", "date", "git_sha"):
        v = ctx.get(key)
        if isinstance(v, str) and v:
            parts.append(f"git {v[:12]}" if key == "git_sha" else v)
    if not parts:
        parts.append("no machine or run recorded in the file")
    return " · ".join(parts + [_shown_name(path)])


def mutants_matrix(path: str, mdoc: dict):
    """(fig or None, caption, (header, rows), summary line)."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    ms = mdoc["mutants"]
    clean = mdoc.get("clean", [])
    # One row per mutant, then one per clean queue (the false-alarm checks); a cell is good
    # (1) when the mutant was caught or the clean queue was not flagged.
    cells = {(m["mutant"], m["tier"]): (m["caught"], "caught" if m["caught"] else "MISSED",
                                        m["seconds"]) for m in ms}
    cells.update({(f"clean: {c['queue']}", c["tier"]):
                  (not c["flagged"], "FALSE ALARM" if c["flagged"] else "no alarm",
                   c["seconds"]) for c in clean})
    names = list(dict.fromkeys(n for n, _ in cells))
    tiers = list(dict.fromkeys(t for _, t in cells))
    caught = sum(1 for m in ms if m["caught"])
    summary = f"{caught} of {len(ms)} mutant checks caught"
    if clean:
        flagged = sum(1 for c in clean if c["flagged"])
        summary += f"; {flagged} of {len(clean)} clean-queue checks flagged (false alarms)"
    header = ["mutant", "defect", "tier", "caught", "seconds"]
    rows = [[m["mutant"], m["defect"], m["tier"], "yes" if m["caught"] else "MISSED",
             "-" if m["seconds"] is None else f"{m['seconds']:.3g}"] for m in ms]
    rows += [[f"clean: {c['queue']}", "none (a correct queue: must not be flagged)", c["tier"],
              "FALSE ALARM" if c["flagged"] else "not flagged",
              "-" if c["seconds"] is None else f"{c['seconds']:.3g}"] for c in clean]
    if not cells:
        return None, "", (header, rows), "the file lists no mutants"
    arr = np.full((len(names), len(tiers)), np.nan)
    fig, ax = _new_figure(max(6.0, 1.3 * len(tiers) + 4.5), max(3.0, 0.42 * len(names) + 2))
    for i, n in enumerate(names):
        for j, t in enumerate(tiers):
            if (n, t) not in cells:
                continue
            good, text, seconds = cells[(n, t)]
            arr[i, j] = 1.0 if good else 0.0
            secs = "" if seconds is None else f"\n{seconds:.3g} s"
            ax.text(j, i, text + secs, ha="center", va="center", fontsize=7,
                    color="black" if good else "white",
                    fontweight="normal" if good else "bold")
    cmap = ListedColormap(["#c62828", "#a5d6a7"])
    cmap.set_bad("white")
    ax.imshow(np.ma.masked_invalid(arr), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(tiers)), _plain(tiers))
    ax.set_yticks(range(len(names)), _plain(names), fontsize=8)
    ax.set_xticks([x - 0.5 for x in range(1, len(tiers))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(names))], minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("tier expected to catch it (test layer)")
    ax.set_ylabel("mutant (deliberately broken piece), then clean queues")
    ax.legend(handles=[Patch(color="#a5d6a7", label="caught / no false alarm (seconds)"),
                       Patch(color="#c62828", label="MISSED mutant / FALSE ALARM")],
              fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _finish(fig, ax, "Verification: mutant kill matrix", mutants_origin(path, mdoc),
            summary + "; blank: tier not applied to that mutant")
    caption = ("Each row is a deliberately broken queue or runtime piece, compiled only for "
               "the tests; each column a test tier. A cell says whether that tier caught the "
               "mutant and how many seconds it took. Rows marked clean run the same tier on a "
               "correct queue, which must not be flagged. Every mutant must be caught and no "
               "clean queue flagged: a red cell is a hole in the verification or a false "
               "alarm.")
    return fig, caption, (header, rows), summary


# --------------------------------------------------------------------------------------
# Tables and context

def numa_cell(run) -> str:
    """Where a run's queues went (its entries' numa: qmesh run --numa): the placement and, of
    its repetitions, the one with the fewest queues on the intended node; "-" without one."""
    got = [e["numa"] for e in run.iterations if isinstance(e.get("numa"), dict)] or \
        [e["numa"] for e in run.entries if isinstance(e.get("numa"), dict)]
    if not got:
        return "-"
    worst = min(got, key=lambda n: n["on_intended"] / n["queues"] if n["queues"] else 1.0)
    return f"{worst['placement']}: {worst['on_intended']}/{worst['queues']} on node"


def suite_table(runs: list, known_fields: set) -> tuple[list, list]:
    # Placement is a no-op on one NUMA node (numa.applied false): a column only where it
    # applied, so a single-node report keeps its tables.
    placed = any(isinstance(e.get("numa"), dict) and e["numa"].get("applied")
                 for r in runs for e in r.entries)
    slept = any(e.get("idle_policy", "busy-poll") != "busy-poll" for r in runs for e in r.entries)
    tuned = {f for f, d in MESH_DEFAULTS.items()
             if any(e.get(f, d) != d for r in runs for e in r.entries)}

    def shown(f):
        return (slept or f not in SLEEP_ONLY) and (f in tuned or f not in MESH_DEFAULTS) and \
            any(f in e for r in runs for e in r.entries)
    fields = [(f, lab) for f, lab in TABLE_FIELDS if shown(f)]
    extras = sorted({k for r in runs for e in r.entries for k, v in e.items()
                     if k not in known_fields and isinstance(v, (int, float))
                     and not isinstance(v, bool)})
    fields += [(k, k) for k in extras]
    texts = [(f, lab) for f, lab in TEXT_FIELDS
             if shown(f) and any(isinstance(e.get(f), str) for r in runs for e in r.entries)]
    header = ["run", "queue", "cores", "relation", "valid reps", "status"] + \
        [lab for _, lab in texts] + \
        (["NUMA: queues on the intended node"] if placed else []) + [lab for _, lab in fields]
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
        if qr.flag_param(r, "oversubscribed"):
            status += " (oversubscribed)"
        if r.error_messages:
            status += ": " + "; ".join(r.error_messages)
        row = [r.run_name, r.queue if r.queue is not None else "-",
               ",".join(str(c) for c in r.cores), r.relation, reps, status]
        row += [qr.text_param(r, f, "-") for f, _ in texts]
        if placed:
            row.append(numa_cell(r))
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
        if ctx.get("floor_spread") is not None:
            drift_text += f"; spread {ctx['floor_spread'] * 100:.1f} % (MAD / median)"
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
    ]
    if "timer_step_ns" in ctx:  # absent in results from before it was recorded
        step = ctx["timer_step_ns"]
        rows.append(("timer step", "1 ns or finer" if step <= 1 else
                     f"{fmt_ns(step)}: every latency falls on this grid"))
    rows.append(("floor drift", drift_text))
    if ctx.get("interrupted"):
        rows.append(("interrupted", "YES: the run was interrupted; results are partial"))
    shown = {"host_name", "date", "cpu", "topology", "cache_line_bytes", "compiler",
             "compiler_flags", "build_type", "qmesh_version", "git_sha", "git_dirty",
             "command_line", "suites", "reps", "quick", "environment", "timer_overhead_ns", "timer_step_ns",
             "floor_drift", "floor_spread", "interrupted", "warnings", "json_schema_version"}
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
    extra_tables: list = field(default_factory=list)  # (title, note, header, rows)


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
        plots.append(("pingpong_percentile_curves", "Pingpong: percentile curves",
                      pingpong_percentile_curves(pp, foot)))
        heat = pingpong_ratio_heatmap(pp, foot)
        if heat is not None:  # only with several core pairs
            plots.append(("pingpong_ratio_heatmap", "Pingpong: floor ratio per core pair", heat))
    for suite in ("stream",):
        if by_suite.get(suite):
            plots.append((f"{suite}_throughput", f"{suite.capitalize()}: throughput",
                           throughput_bars(by_suite[suite], suite, foot)))
            for slug, fig, caption in sweep_figures(by_suite[suite], suite, foot):
                plots.append((slug, f"{suite.capitalize()}: sweep over {slug.rsplit('_sweep_', 1)[1]}",
                              (fig, caption)))
    if by_suite.get("submit"):
        plots.append(("submit_percentile_curves", "Submit: percentile curves",
                      pingpong_percentile_curves(by_suite["submit"], foot, "submit")))
        table = submit_ratios(by_suite["submit"], by_suite.get("floor", []))
        if table is not None:
            sec.extra_tables.append((
                "Submit: submit_to round trip over the floor and over the raw queue",
                "Each repetition divides its p50 by the references measured just before and "
                "after it on the same pair (context.bracket); median (min–max) over "
                "repetitions. A dash: no repetition kept that ratio (floor_error, raw_error). "
                "With a pointer floor in the floor suite (a round trip that passes a one-line "
                "request by pointer, read and answered through it: the least a runtime "
                "passing requests by pointer can cost), a last column divides the median by "
                "that pair's median pointer floor.",
                *table))
    if by_suite.get("load"):
        plots.append(("load_latency", "Load: latency against offered load",
                      load_latency(by_suite["load"], foot)))
    if by_suite.get("mesh"):
        plots.append(("mesh_scaling", "Mesh: throughput against cores",
                      mesh_scaling(by_suite["mesh"], foot)))
        depth = mesh_depth(by_suite["mesh"], foot)
        if depth is not None:  # only files swept over --window
            plots.append(("mesh_depth", "Mesh: throughput against requests in flight", depth))
        ratios = mesh_depth_ratios(by_suite["mesh"], qr.families(doc))
        if ratios:
            sec.extra_tables.append((
                "Mesh: best lock-free queue over the locked inbox, by depth",
                "Ratio of medians of msgs/s, same cores, receiver state, polling and requests "
                "in flight per pair (depth).",
                ["cores", "receivers", "polling", "depth", "best lock-free queue", "its msgs/s",
                 "inbox msgs/s", "lock-free ÷ inbox"],
                [[str(n), st, po, fmt(d), str(q), fmt(v), fmt(b), f"{ratio:.2f}×"]
                 for n, st, po, d, q, v, b, ratio in ratios]))
        hist = mesh_batch_hist(by_suite["mesh"], foot)
        if hist is not None:  # only files with batch_hist
            plots.append(("mesh_batch_hist", "Mesh: messages per poll", hist))
    if by_suite.get("pollscale"):
        plots.append(("pollscale_poll_cost", "Pollscale: idle poll cost against N",
                      pollscale_lines(by_suite["pollscale"], foot)))
        plots.append(("pollscale_pair_bytes", "Pollscale: memory per core pair",
                      pair_bytes_plot(by_suite["pollscale"], foot)))
        table = pollscale_pair_bytes(by_suite["pollscale"])
        if table is not None:
            sec.extra_tables.append(("Pollscale: memory per ordered core pair",
                                     "pair_bytes of each queue as the run recorded it.", *table))
        growth = pollscale_growth(by_suite["pollscale"])
        if growth is not None:
            sec.extra_tables.append((
                "Pollscale: idle poll cost from the smallest N to the largest",
                "How far an idle reactor loop's cost rose above its cost at the smallest N: the "
                "largest ratio over N of the medians over repetitions, and of each N's fastest "
                "repetition (robust to a host that runs some repetitions slow at any N). "
                "1.00× is flat.", *growth))
    if by_suite.get("kv"):
        plots.append(("kv_throughput", "KV: operations per second per design",
                      kv_throughput(by_suite["kv"], foot)))
        plots.append(("kv_speedup", "KV: best sharded over each shared-map design",
                      kv_ratio_plot(by_suite["kv"], foot)))
        ratios = kv_ratios(by_suite["kv"])
        if ratios:
            sec.extra_tables.append((
                "KV: best sharded design over each shared-map design",
                "Ratio of medians of ops/s at the same core count.",
                ["cores", "best sharded queue", "its ops/s", "shared-map design", "ops/s",
                 "sharded ÷ design"],
                [[str(n), str(br.queue), fmt(bs.median), d, fmt(s_.median), f"{ratio:.2f}×"]
                 for n, br, bs, d, s_, ratio in ratios]))
    fams = qr.families(doc)
    for suite in SPEEDUP_SUITES:
        if not by_suite.get(suite):
            continue
        result = speedup_heatmap(by_suite[suite], fams, suite, foot)
        if result is None:
            sec.notes.append(f"{suite.capitalize()}: lock-free against locking: the suite lacks "
                             f"a lock-free or a locking queue to compare")
            continue
        fig, caption, (header, rows) = result
        plots.append((f"{suite}_lockfree_speedup",
                      f"{suite.capitalize()}: lock-free over locking", (fig, caption)))
        sec.extra_tables.append((f"{suite.capitalize()}: speed-up of lock-free over locking",
                                 f"{SPEEDUP_SUITES[suite][3]}; geometric mean (min–max, count) "
                                 f"over matched configurations.", header, rows))
    over = [r.run_name for r in all_runs if qr.flag_param(r, "oversubscribed")]
    if over:
        sec.warnings.append(f"{len(over)} run(s) oversubscribed (more threads than available "
                            f"cores; figures include time sharing): " + ", ".join(over[:8])
                            + (", ..." if len(over) > 8 else ""))
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


# Table cells that flag a failure of the verification itself.
_ALARMS = ("MISSED", "FALSE ALARM")


def _is_num_cell(text: str) -> bool:
    return bool(re.fullmatch(r"-?[\d,]+(\.\d+)?(e[+-]?\d+)?( \(invalid\))?", text))


def render_html(sections: list, tmp: str) -> str:
    e = html.escape
    title = "qmesh report: " + ", ".join(os.path.basename(s.path) for s in sections)
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{e(title)}</h1>"]
    for sec in sections:
        if sec.ctx is None:  # the mutant kill matrix: no run context
            out.append(f"<h2>Verification: mutant kill matrix ({e(sec.path)})</h2>")
            out += [f"<p>{e(w)}</p>" for w in sec.warnings]
        else:
            out.append(f"<h2>{e(sec.path)}</h2>")
            out.append("<table class=\"ctx\">")
            for label, text in sec.context:
                cls = " class=\"bad\"" if label == "interrupted" else ""
                out.append(f"<tr><th>{e(label)}</th><td{cls}>{e(str(text))}</td></tr>")
            out.append("</table>")
        if sec.ctx is None:
            pass
        elif sec.warnings:
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
        for ttitle, note, header, rows in sec.extra_tables:
            out.append(f"<h3>{e(ttitle)}</h3>")
            if note:
                out.append(f"<p>{e(note)}</p>")
            out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for row in rows:
                cls = " class=\"invalid\"" if any(c in _ALARMS for c in row) else ""
                out.append(f"<tr{cls}>" + "".join(
                    f"<td class=\"{'bad' if c in _ALARMS else 'num'}\">{e(c)}</td>"
                    if c in _ALARMS or _is_num_cell(c) else f"<td>{e(c)}</td>"
                    for c in row) + "</tr>")
            out.append("</table>")
        if not sec.tables and sec.ctx is not None:
            out.append("<p>This file holds no benchmarks.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md(text) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(sections: list) -> str:
    out = ["# qmesh report", ""]
    for sec in sections:
        if sec.ctx is None:  # the mutant kill matrix: no run context
            out += [f"## Verification: mutant kill matrix ({sec.path})", ""]
            out += [_md(w) for w in sec.warnings] + [""]
        else:
            out += [f"## {sec.path}", "", "| | |", "|---|---|"]
            out += [f"| {_md(label)} | {_md(text)} |" for label, text in sec.context]
            out.append("")
        if sec.ctx is None:
            pass
        elif sec.warnings:
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
        for ttitle, note, header, rows in sec.extra_tables:
            out += [f"### {ttitle}", ""] + ([note, ""] if note else [])
            out += ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
            out += ["| " + " | ".join((f"**{c}**" if c in _ALARMS else _md(c)) for c in row)
                    + " |" for row in rows]
            out.append("")
    return "\n".join(out)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def build_mutants_section(path: str, mdoc: dict, tmp: str) -> Section:
    fig, caption, (header, rows), summary = mutants_matrix(path, mdoc)
    sec = Section(path, None, [], [summary], [])
    if fig is not None:
        name = "mutants_kill_matrix.png"
        fig.savefig(os.path.join(tmp, name), dpi=100)
        plt().close(fig)
        sec.figures.append((name, "Verification: mutant kill matrix", caption))
    sec.extra_tables.append(("Mutants: every check", "seconds: time the tier took to catch the "
                             "mutant (or to give up).", header, rows))
    return sec


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                      if hasattr(signal, n))


@contextlib.contextmanager
def _signals_held():
    """Hold the stop signals while a directory is made and its name noted, so that an
    interruption cannot fall between the two and leave the directory unknown to the cleanup;
    a signal held is delivered when this block ends."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    except (AttributeError, ValueError, OSError):  # no pthreads, or not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class KeptAside(OSError):
    """A move into DIR failed and so did undoing it: the earlier report's files that could
    not go back are in `filename` (tmp/.replaced), which must then not be removed."""


def _move_all_in(tmp: str, outdir: str, names: list) -> None:
    """Moves the files `names` from tmp into outdir, all or none: each file of the same
    name already there is first set aside in tmp/.replaced, and if any move fails the ones
    done are undone, so outdir holds the earlier report whole. A name that outdir holds as
    a directory is refused before anything moves (replacing it would delete what it holds,
    and os.replace cannot put a file over it anyway)."""
    for name in names:
        dst = os.path.join(outdir, name)
        if os.path.isdir(dst) and not os.path.islink(dst):
            raise IsADirectoryError(errno.EISDIR, "a directory of that name is in the way", dst)
    aside = os.path.join(tmp, ".replaced")
    os.mkdir(aside)
    done = []  # (name, whether an earlier file of that name was set aside)
    try:
        for name in names:  # report.html last: it appears once all else is in place
            dst = os.path.join(outdir, name)
            had = os.path.lexists(dst)
            if had:
                os.replace(dst, os.path.join(aside, name))
            done.append((name, had))
            os.replace(os.path.join(tmp, name), dst)
    except BaseException as e:
        undone = True
        for name, had in reversed(done):
            dst = os.path.join(outdir, name)
            try:
                if not os.path.lexists(os.path.join(tmp, name)):  # the new file went in
                    os.replace(dst, os.path.join(tmp, name))
                if had:
                    os.replace(os.path.join(aside, name), dst)
            except OSError:
                undone = False  # go on: put back what can be
        if undone:
            raise
        first = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise KeptAside(errno.EIO, f"{first}, and undoing the moves failed too: the earlier "
                                   f"report's files not back in place are kept here", aside) from e


def write_report(inputs: list, outdir: str, known_fields: set, mutants=None) -> list:
    """Build everything in a temporary directory, then move it in: the temporary directory
    is DIR itself renamed into place when DIR does not exist yet, else one inside DIR (so
    that only DIR, not its parent, needs to be writable: `-o .`, `-o ~`)."""
    outdir_abs = os.path.abspath(outdir)
    parent = os.path.dirname(outdir_abs)
    exists = os.path.lexists(outdir_abs)
    created = []
    tmp = None
    try:
        with _signals_held():
            if exists:
                tmp = tempfile.mkdtemp(prefix=".report.", suffix=".tmp", dir=outdir_abs)
            else:
                d = parent
                while not os.path.isdir(d):
                    created.append(d)
                    d = os.path.dirname(d)
                os.makedirs(parent, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(outdir_abs)}.",
                                       suffix=".tmp", dir=parent)
        os.chmod(tmp, 0o777 & ~_umask())
        taken: set = set()
        sections = [build_section(p, doc, tmp, _stem(p, taken), known_fields)
                    for p, doc in inputs]
        if mutants is not None:
            sections.append(build_mutants_section(*mutants, tmp))
        names = [name for s in sections for name, _, _ in s.figures]
        # The input paths shown are as given: a file name that is not UTF-8 comes as
        # surrogates (os.fsdecode), which the UTF-8 files show as \\udcXX escapes.
        with open(os.path.join(tmp, "summary.md"), "w", encoding="utf-8",
                  errors="backslashreplace") as f:
            f.write(render_markdown(sections))
        with open(os.path.join(tmp, "report.html"), "w", encoding="utf-8",
                  errors="backslashreplace") as f:
            f.write(render_html(sections, tmp))
        names += ["summary.md", "report.html"]
        if not exists:
            with _signals_held():
                _raise_if_stopped()
                os.rename(tmp, outdir_abs)
        else:
            # One file at a time: a stop signal between two moves would leave the earlier
            # report half replaced, so the signals wait until every file is in; and a move
            # that fails undoes the ones before it (_move_all_in).
            with _signals_held():
                _raise_if_stopped()
                _move_all_in(tmp, outdir_abs, names)
                # The files the report replaced; within the held signals, so that a stop
                # cannot leave half of them behind. The report is in: a failure here is not
                # its.
                shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as e:
        if tmp is not None and not isinstance(e, KeptAside):
            shutil.rmtree(tmp, ignore_errors=True)
        for d in created:  # deepest first
            try:
                os.rmdir(d)
            except OSError:
                pass
        raise
    return [os.path.join(outdir, name) for name in names]


def _unwritable(outdir: str) -> Optional[str]:
    """The directory write_report() would fail to write in, or None; checked before any plot
    is rendered, so that a run does not fail only at its end. write_report() assembles the
    report inside outdir when that exists, else next to it (the nearest existing ancestor
    stands for a parent still to be created)."""
    if os.path.isdir(outdir):
        d = outdir
    else:
        d = os.path.dirname(os.path.abspath(outdir))
        while not os.path.isdir(d):
            d = os.path.dirname(d)
    return None if os.access(d, os.W_OK | os.X_OK) else d


# The first stop signal of the run, kept besides raising: a handler's exception that lands
# inside a finalizer or a callback is printed and dropped ("Exception ignored in ..."), and
# the run would go on to publish its report and exit 0; write_report() checks this before
# it moves anything into place.
_stop_seen: Optional[int] = None


def _stop_exception(signum: int) -> BaseException:
    """What a stop signal raises: KeyboardInterrupt for SIGINT, as Python's own handler."""
    return KeyboardInterrupt() if signum == signal.SIGINT else qr.Interrupted(signum)


def _on_stop_signal(signum, frame):
    global _stop_seen
    _stop_seen = _stop_seen or signum
    raise _stop_exception(signum)


def _raise_if_stopped() -> None:
    """A stop signal whose exception was dropped still stops the run here."""
    if _stop_seen is not None:
        raise _stop_exception(_stop_seen)


@contextlib.contextmanager
def _stop_signals_raise():
    """SIGTERM and SIGHUP (where not ignored) raise qr.Interrupted in the block, as SIGINT raises
    KeyboardInterrupt: a run stopped by kill or a closed terminal then removes what it had
    written, instead of dying with its temporary directory left behind."""
    global _stop_seen
    _stop_seen = None
    installed = {}
    for sig in _STOP_SIGNALS:
        try:
            if sig == signal.SIGINT:
                # Python's own handler raises KeyboardInterrupt; ours also notes it.
                if signal.getsignal(sig) is signal.default_int_handler:
                    installed[sig] = signal.signal(sig, _on_stop_signal)
            elif signal.getsignal(sig) == signal.SIG_DFL:
                installed[sig] = signal.signal(sig, _on_stop_signal)
        except ValueError:  # not the main thread: signals stay as they are
            break
    try:
        yield
    finally:
        for sig, old in installed.items():
            signal.signal(sig, old)


def main(argv=None) -> int:
    """_main(), with an interruption said in one line (exit status 128 + the signal); the
    handlers are _stop_signals_raise's, installed around the writing only."""
    return qr.run_interruptible(PROG, lambda: _main(argv), install_handlers=False)


def _main(argv=None) -> int:
    parser = qr.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="*", metavar="RESULT.json", help="qmesh result files")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="directory to write report.html, summary.md and the PNGs into "
                             "(created if missing; files of the same names are replaced)")
    parser.add_argument("--mutants", metavar="MUTANTS.json",
                        help="also render this mutant kill matrix (results/mutants.json)")
    args = parser.parse_args(argv)
    if not args.results and not args.mutants:
        parser.error("give at least one RESULT.json, or --mutants FILE")
    if not args.out:
        # As `qmesh run --out ""` is refused: an empty path would mean the current directory.
        parser.error("-o/--out: the directory must not be empty")
    try:
        schema = qr.load_schema()
        inputs = [(p, qr.load(p, schema)) for p in args.results]
        mutants = (args.mutants, qr.load_mutants(args.mutants)) if args.mutants else None
    except qr.QmeshError as e:
        return qr.fail(PROG, e)
    if os.path.lexists(args.out) and not os.path.isdir(args.out):
        return qr.fail(PROG, f"{args.out}: exists and is not a directory")
    unwritable = _unwritable(args.out)
    if unwritable:
        return qr.fail(PROG, f"{unwritable}: cannot write the report there: not writable")
    known = set(schema["properties"]["benchmarks"]["items"]["properties"])
    # Imported before anything is written and before a stop signal raises: an exception
    # raised inside numpy's import of its C extension comes out as an ImportError.
    plt()
    import numpy  # noqa: F401
    try:
        with _stop_signals_raise():
            written = write_report(inputs, args.out, known, mutants)
    except OSError as e:
        where = e.filename or args.out
        return qr.fail(PROG, f"{where}: cannot write the report: {e.strerror or e}")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    qr.quiet_sigpipe()
    qr.paths_on_stdout()
    sys.exit(main())
