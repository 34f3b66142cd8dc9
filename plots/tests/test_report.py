"""report.py: the files it writes, what the HTML embeds, and that figures come from the data."""

import base64
import contextlib
import io
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
import unittest
from unittest import mock

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_in_process(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = report.main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, *parts):
        return os.path.join(self.tmp.name, *parts)

    def check_outputs(self, written, out):
        self.assertTrue(written, "nothing written")
        self.assertEqual(os.path.basename(written[-1]), "report.html")
        self.assertIn(os.path.join(out, "summary.md"), written)
        pngs = [p for p in written if p.endswith(".png")]
        for p in written:
            self.assertTrue(os.path.isfile(p), p)
            self.assertGreater(os.path.getsize(p), 0, p)
        with open(written[-1], encoding="utf-8") as f:
            page = f.read()
        with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
            summary = f.read()
        embedded = dict(re.findall(r'data-file="([^"]+)" src="data:image/png;base64,([^"]+)"',
                                   page))
        for p in pngs:
            with open(p, "rb") as f:
                data = f.read()
            self.assertTrue(data.startswith(PNG_MAGIC), p)
            name = os.path.basename(p)
            self.assertIn(name, embedded, f"{name} not embedded in report.html")
            self.assertEqual(base64.b64decode(embedded[name]), data)
            self.assertIn(f"]({name})", summary)
        self.assertNotRegex(page, r'<img [^>]*src="(?!data:)')  # self-contained
        return page, summary, [os.path.basename(p) for p in pngs]

    def test_floor_and_pingpong_only(self):
        doc = fixtures.make_result()
        src = fixtures.write(doc, self.path("run.json"))
        out = self.path("nested", "report")  # parent created on demand
        proc = fixtures.run_script("report.py", src, "-o", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        written = proc.stdout.splitlines()
        page, summary, pngs = self.check_outputs(written, out)
        self.assertEqual(sorted(pngs), ["run_floor_heatmap.png", "run_pingpong_floor_ratio.png",
                                        "run_pingpong_lockfree_speedup.png",
                                        "run_pingpong_percentile_curves.png",
                                        "run_pingpong_percentiles.png"])
        self.assertEqual(sorted(os.listdir(out)), sorted(pngs + ["report.html", "summary.md"]))
        self.assertEqual(sorted(os.listdir(self.path("nested"))), ["report"])  # no temp left
        ctx = doc["context"]
        for text in (ctx["host_name"], ctx["git_sha"], ctx["cpu"]["model"],
                     ctx["topology"]["summary"], ctx["compiler"], ctx["command_line"],
                     ctx["warnings"][0], ctx["date"], ctx["environment"]["governor"]):
            self.assertIn(text, page)
            self.assertIn(text, summary)
        self.assertIn("floor drift | 4.0 %", summary)
        self.assertIn("timer step | 10 ns: every latency falls on this grid", summary)
        self.assertNotIn("timer_step_ns", summary)
        self.assertIn("spread 1.2 % (MAD / median)", summary)  # the fixture's 0.0125, shown once
        self.assertNotIn("floor_spread", summary)
        self.assertIn("cache_line_bytes | 128", summary)
        # Context first: before any figure.
        self.assertLess(page.index(ctx["cpu"]["model"]), page.index("<figure>"))

    def test_every_suite_and_invalid_entries(self):
        doc = fixtures.make_result(stream=True, mesh=True, other=True,
                                   invalid={("pingpong/mutex/0-1", 2),
                                            "stream/mutex/0-1/msg:64/cap:4096"},
                                   git_dirty=True)
        src = fixtures.write(doc, self.path("rich.json"))
        out = self.path("out")
        status, stdout, stderr = run_in_process(src, "-o", out)
        self.assertEqual(status, 0, stderr)
        page, summary, pngs = self.check_outputs(stdout.splitlines(), out)
        for slug in ("floor_heatmap", "pingpong_percentiles", "pingpong_floor_ratio",
                     "stream_throughput", "stream_sweep_msg_bytes", "stream_sweep_capacity",
                     "mesh_scaling"):
            self.assertIn(f"rich_{slug}.png", pngs)
        self.assertNotIn("rich_stream_sweep_batch.png", pngs)  # one batch value only
        self.assertIn("Suite custom: all runs", page)         # unknown suite: a table
        self.assertIn("ops_per_s", page)                      # with its extra counter
        self.assertIn("exactly-once check failed", page)
        self.assertIn("stream/mutex/0-1/msg:64/cap:4096 | mutex | 0,1 | shared-l3 | 0/5 | "
                      "INVALID", summary)
        self.assertIn("pingpong/mutex/0-1 | mutex | 0,1 | shared-l3 | 4/5 | partly invalid",
                      summary)
        self.assertIn("(dirty", page)

    def test_several_files_and_existing_directory(self):
        # a: figures scaled, to see the report show what the file holds, not typed numbers
        a = fixtures.write(fixtures.make_result(scale={"floor/0-1": 1.234,
                                                       "pingpong/lamport/0-1": 1.5}),
                           self.path("a.json"))
        os.mkdir(self.path("d"))
        b_dir = self.path("d")
        b = fixtures.write(fixtures.make_result(host_name="otherhost"), os.path.join(b_dir, "a.json"))
        out = self.path("out")
        os.mkdir(out)
        with open(os.path.join(out, "keep.txt"), "w") as f:
            f.write("mine")
        with open(os.path.join(out, "report.html"), "w") as f:
            f.write("old")
        status, stdout, stderr = run_in_process(a, b, "-o", out)
        self.assertEqual(status, 0, stderr)
        page, _, pngs = self.check_outputs(stdout.splitlines(), out)
        self.assertIn("a_floor_heatmap.png", pngs)
        self.assertIn("a-2_floor_heatmap.png", pngs)  # same stem: kept apart
        self.assertIn("otherhost", page)
        with open(os.path.join(out, "keep.txt")) as f:
            self.assertEqual(f.read(), "mine")
        with open(os.path.join(out, "summary.md")) as f:
            summary = f.read()
        self.assertIn("| floor/0-1 | - | 0,1 | shared-l3 | 5/5 | ok | 185 |", summary)
        self.assertIn("| pingpong/lamport/0-1 | lamport | 0,1 | shared-l3 | 5/5 | ok | 450 |",
                      summary)
        self.assertIn("| floor/0-1 | - | 0,1 | shared-l3 | 5/5 | ok | 150 |", summary)  # b
        self.assertEqual([n for n in os.listdir(self.tmp.name) if n.startswith(".")], [])

    def test_error_bars_never_negative_or_infinite(self):
        # matplotlib refuses a negative error bar: a median above its max must not crash it.
        summaries = [report.qr.Summary(5.0, 6.0, 4.0, 3), report.qr.Summary(1e308, 0.0, 1e308, 2),
                     report.qr.Summary(float("inf"), 1.0, float("inf"), 2),
                     report.qr.Summary(5.0, 4.0, 7.0, 3)]
        self.assertEqual(report._errs(summaries), [[0.0, 1e308, 0.0, 1.0], [0.0, 0.0, 0.0, 2.0]])

    def test_edge_cases_do_not_crash(self):
        cases = {}
        empty = fixtures.make_result()
        empty["benchmarks"] = []
        cases["empty"] = empty
        aggregates = fixtures.make_result()
        aggregates["benchmarks"] = [b for b in aggregates["benchmarks"]
                                    if b["run_type"] == "aggregate"]
        cases["aggregates_only"] = aggregates
        cases["all_invalid"] = fixtures.make_result(
            invalid={"floor/0-1", "floor/1-0", "pingpong/lamport/0-1", "pingpong/mutex/0-1"})
        sparse = fixtures.make_result(stream=True, mesh=True)
        for b in sparse["benchmarks"]:
            for k in ("p90_ns", "p99_ns", "p999_ns", "max_ns", "floor_ratio", "msgs_per_s"):
                b.pop(k, None)
            if b["run_name"] == "floor/1-0":
                b["cores"] = [0, 1, 2]
            b["time_unit"], b["real_time"] = "us", b["real_time"] / 1000
        cases["sparse"] = sparse
        nulls = fixtures.make_result(floor_drift=None, interrupted=True)
        for b in nulls["benchmarks"]:
            if "floor_ratio" in b:
                b["floor_ratio"] = None
        cases["nulls"] = nulls
        # From before the clock's step was recorded: no row for it.
        del nulls["context"]["timer_step_ns"]
        one_ns = fixtures.make_result(timer_step_ns=1.0)
        cases["one_ns"] = one_ns
        srcs = [fixtures.write(doc, self.path(f"{name}.json")) for name, doc in cases.items()]
        status, stdout, stderr = run_in_process(*srcs, "-o", self.path("o"))
        self.assertEqual(status, 0, stderr)
        page, summary, pngs = self.check_outputs(stdout.splitlines(), self.path("o"))
        self.assertIn("This file holds no benchmarks.", page)
        self.assertIn("interrupted", page)
        self.assertIn("floor drift | not measured", summary)
        self.assertEqual(summary.count("| timer step | 10 ns: every latency falls on this grid |"),
                         len(cases) - 2)
        self.assertEqual(summary.count("| timer step | 1 ns or finer |"), 1)
        self.assertIn("sparse_floor_heatmap.png", pngs)
        self.assertIn("aggregates only", summary)
        self.assertIn("| floor/0-1 | - | 0,1 | shared-l3 | aggregates only | ok | 150 |", summary)

    def test_dollar_signs_are_text_not_mathtext(self):
        # matplotlib reads $...$ in any label as TeX math: an unknown command between two
        # dollars made savefig raise; any other pair silently set the text as a formula.
        # Every kind of name from the input that reaches a figure gets one.
        tex = r"$\foo$"
        doc = fixtures.make_result(stream=True, mesh_v2=True, load=True, kv=True,
                                   pollscale=True, host_name="lab" + tex,
                                   git_sha="0123" + tex, cpu={"model": "cpu" + tex,
                                                              "logical_cpus": 2})
        renamed = {"lamport": "lam" + tex + "port", "mutex": "mu" + tex + "tex"}
        doc["context"]["queues"] = [{"name": n, "family": "own" if q == "lamport" else "lock"}
                                    for q, n in renamed.items()]
        for b in doc["benchmarks"]:
            b["queue"] = renamed.get(b["queue"], b["queue"])
            if b["suite"] == "stream":
                b["run_name"] += tex
        mutants = fixtures.make_mutants(missed=("wrong_wrap",))
        for m in mutants["mutants"]:
            m["mutant"] += tex
            m["tier"] += tex
        for c in mutants.get("clean", []):
            c["queue"] += tex
        mutants["host_name"] = "m" + tex
        src = fixtures.write(doc, self.path("dollar" + tex + ".json"))
        msrc = fixtures.write(mutants, self.path("mutants.json"))
        status, stdout, stderr = run_in_process(src, "--mutants", msrc, "-o", self.path("o"))
        self.assertEqual(status, 0, stderr)
        self.check_outputs(stdout.splitlines(), self.path("o"))
        # Shown as typed: the escaped label draws as the text itself.
        fig, _ = report.pingpong_percentile_curves(report.qr.runs(doc, "pingpong"), "foot")
        labels = fig.axes[0].get_legend_handles_labels()[1]
        self.assertIn("lam" + tex + "port", [t.replace(r"\$", "$") for t in labels])
        for t in labels:
            self.assertEqual(t.count("$"), t.count(r"\$"), t)  # no "$" left to open math
        report.plt().close(fig)

    def test_existing_output_directory_in_a_read_only_parent(self):
        # `-o .` or `-o ~`: the directory itself is writable, its parent is not. The
        # report must go in, not be refused for the parent or staged there.
        src = fixtures.write(fixtures.make_result(), self.path("run.json"))
        parent = self.path("ro")
        out = os.path.join(parent, "out")
        os.makedirs(out)
        real_access, real_mkdtemp = os.access, tempfile.mkdtemp

        def access(path, mode, *args, **kwargs):  # root ignores mode bits: pretend
            if os.path.abspath(path) == parent and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        def mkdtemp(*args, dir=None, **kwargs):
            if dir is not None and os.path.abspath(dir) == parent:
                raise PermissionError(13, "Permission denied", dir)
            return real_mkdtemp(*args, dir=dir, **kwargs)

        os.chmod(parent, 0o555)
        try:
            with mock.patch("os.access", access), mock.patch("tempfile.mkdtemp", mkdtemp):
                status, stdout, stderr = run_in_process(src, "-o", out)
        finally:
            os.chmod(parent, 0o755)
        self.assertEqual(status, 0, stderr)
        self.check_outputs(stdout.splitlines(), out)
        self.assertEqual(os.listdir(parent), ["out"])
        self.assertFalse([n for n in os.listdir(out) if n.startswith(".")], "temp left")

    def test_terminated_run_leaves_nothing(self):
        # kill (SIGTERM) or a closed terminal (SIGHUP) in the middle of the plots: the
        # half-built report in its temporary directory must go too.
        # Twenty inputs, so the run takes tens of seconds: the signal lands inside it even
        # when this process is starved of CPU for a few seconds (seen once under ctest -j2,
        # next to a busy-polling mesh, with one input of about two seconds: the report had
        # finished before the signal was sent).
        doc = fixtures.make_result(stream=True, mesh_v2=True, load=True, kv=True,
                                   pollscale=True)
        srcs = [fixtures.write(doc, self.path(f"r{i}.json")) for i in range(20)]
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with self.subTest(signal=sig.name), tempfile.TemporaryDirectory() as parent:
                proc = subprocess.Popen([fixtures.PYTHON, fixtures.script("report.py"), *srcs,
                                         "-o", os.path.join(parent, "out")],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                deadline = time.monotonic() + 60
                while not os.listdir(parent) and proc.poll() is None \
                        and time.monotonic() < deadline:
                    time.sleep(0.005)
                self.assertIsNone(proc.poll(), "finished before it could be interrupted")
                proc.send_signal(sig)
                _, err = proc.communicate(timeout=60)
                self.assertNotEqual(proc.returncode, 0)
                self.assertNotIn("Traceback", err)
                self.assertEqual(os.listdir(parent), [], "half a report left behind")

    def test_stop_signal_whose_exception_is_dropped_still_stops_the_run(self):
        # A handler's exception raised inside a finalizer is printed and dropped by Python
        # ("Exception ignored in ..."): the run went on, published its report and exited 0
        # (seen once in CI: SIGHUP, status 0). The signal must still stop it.
        src = fixtures.write(fixtures.make_result(), self.path("run.json"))
        real_build = report.build_section

        class Kills:
            def __del__(self):  # the handler runs here, and its exception goes nowhere
                os.kill(os.getpid(), signal.SIGTERM)

        def build(*args, **kwargs):
            Kills()
            return real_build(*args, **kwargs)

        out = self.path("out")
        with mock.patch.object(report, "build_section", build):
            status, _, err = run_in_process(src, "-o", out)
        self.assertEqual(status, 128 + signal.SIGTERM, err)
        self.assertFalse(os.path.lexists(out), "the report was published")
        self.assertEqual([n for n in os.listdir(self.tmp.name) if n != "run.json"], [],
                         "its temporary directory was left")

    def test_interrupt_while_moving_into_an_existing_report_keeps_it_whole(self):
        # Into an existing DIR the files are moved one by one (os.replace). A stop signal
        # landing between two moves must not leave the earlier report half replaced: its
        # summary.md showing some of the new run's PNGs beside its own tables.
        new_src, out, before = self._two_reports()
        real_replace, moves = os.replace, []

        def replace(src, dst, *args, **kwargs):  # SIGINT arrives as the second file moves
            moves.append(dst)
            if len(moves) == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return real_replace(src, dst, *args, **kwargs)

        with mock.patch("os.replace", replace):
            status, _, stderr = run_in_process(new_src, "-o", out)
        self.assertGreaterEqual(len(moves), 2)
        after = self._snapshot(out)
        self.assertEqual(sorted(after), sorted(before), "files added or removed")
        changed = sorted(n for n in before if after[n] != before[n])
        # All of the earlier report, or (the signal held until the move was done) all of
        # the new one; never a mixture.
        self.assertIn(changed, ([], sorted(before)), f"status {status}: half replaced")
        self.assertFalse([n for n in os.listdir(out) if n.startswith(".")], "temp left")

    def _two_reports(self):
        """Writes an earlier report into out/ and returns (new input, out, snapshot of out).
        Same input file name, so the same PNG names; every figure differs."""
        os.makedirs(self.path("old"))
        os.makedirs(self.path("new"))
        old_src = fixtures.write(fixtures.make_result(), self.path("old", "run.json"))
        new_src = fixtures.write(fixtures.make_result(
            scale={"floor/0-1": 2.0, "floor/1-0": 2.0, "pingpong/lamport/0-1": 3.0},
            host_name="otherhost"), self.path("new", "run.json"))
        out = self.path("out")
        status, _, stderr = run_in_process(old_src, "-o", out)
        self.assertEqual(status, 0, stderr)
        return new_src, out, self._snapshot(out)

    @staticmethod
    def _snapshot(out):
        files = {}
        for name in os.listdir(out):
            path = os.path.join(out, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    files[name] = f.read()
            else:
                files[name] = sorted(os.listdir(path))
        return files

    @staticmethod
    def _changed(before, after):  # names only: a diff of the PNGs' bytes takes minutes
        return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))

    def test_failed_move_into_an_existing_report_keeps_it_whole(self):
        # A move that fails part way (EPERM: in a sticky directory such as /tmp, a file of
        # the earlier report owned by someone else cannot be replaced) must undo the moves
        # before it: the earlier report whole, one line, status 2. Before, the files moved
        # before the failing one stayed: half the new report beside half the old.
        new_src, out, before = self._two_reports()
        self._report_with_a_failing_move(new_src, out, undo_fails=False)
        self.assertEqual(self._changed(before, self._snapshot(out)), [], "the earlier report changed")

    def _report_with_a_failing_move(self, new_src, out, undo_fails):
        """Writes new_src's report into out with the third move into it failing (EPERM) and,
        if undo_fails, putting the first earlier file back failing too (EBUSY); checks the
        refusal (one line, status 2) and returns the moves into out, in order."""
        real_replace, moves = os.replace, []

        def replace(src, dst, *args, **kwargs):
            src, dst = os.path.abspath(src), os.path.abspath(dst)
            into_out = os.path.dirname(dst) == out
            from_aside = os.path.basename(os.path.dirname(src)) == ".replaced"
            if into_out and not from_aside:
                moves.append(dst)
                if len(moves) == 3:
                    raise PermissionError(1, "Operation not permitted", dst)
            if undo_fails and into_out and from_aside and \
                    os.path.basename(src) == os.path.basename(moves[0]):
                raise OSError(16, "Device or resource busy", dst)
            return real_replace(src, dst, *args, **kwargs)

        with mock.patch("os.replace", replace):
            status, stdout, stderr = run_in_process(new_src, "-o", out)
        self.assertEqual(status, 2, stderr)
        self.assertEqual(stdout, "")
        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
        self.assertIn("Operation not permitted", stderr)
        self.assertGreaterEqual(len(moves), 3)
        self.assertEqual(".replaced" in stderr, undo_fails, stderr)
        return moves

    def test_a_failed_undo_keeps_the_earlier_files(self):
        # The third move fails, and so does putting the first earlier file back: that file
        # must not go with the temporary directory. It stays in .replaced, which the one
        # line names; every earlier file is in DIR or there, unchanged.
        new_src, out, before = self._two_reports()
        calls = self._report_with_a_failing_move(new_src, out, undo_fails=True)
        temps = [n for n in os.listdir(out) if n.startswith(".")]
        self.assertEqual(len(temps), 1, temps)
        aside = os.path.join(out, temps[0], ".replaced")
        kept = {**self._snapshot(aside), **{n: v for n, v in self._snapshot(out).items()
                                            if not n.startswith(".")}}
        self.assertEqual(self._changed(before, kept), [], "an earlier file was lost")
        self.assertIn(os.path.basename(calls[0]), os.listdir(aside))

    def test_a_directory_in_the_way_is_refused_before_anything_moves(self):
        # A directory named like one of the report's files: os.replace cannot put a file
        # over it, and setting it aside would delete what it holds. Refused, nothing moved.
        new_src, out, _ = self._two_reports()
        os.remove(os.path.join(out, "summary.md"))
        os.mkdir(os.path.join(out, "summary.md"))
        with open(os.path.join(out, "summary.md", "mine.txt"), "w") as f:
            f.write("mine")
        before = self._snapshot(out)
        status, stdout, stderr = run_in_process(new_src, "-o", out)
        self.assertEqual(status, 2, stderr)
        self.assertEqual(stdout, "")
        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)
        self.assertIn("summary.md", stderr)
        self.assertEqual(self._changed(before, self._snapshot(out)), [], "the earlier report changed")

    def test_zero_latencies_and_sizes_draw_without_warnings(self):
        # Valid figures of 0 (a latency net of the timer's overhead, an empty pair): no log
        # axis over nothing positive, no empty axis range. Each of these printed a multi-line
        # matplotlib warning on stderr, after which the run still exited 0.
        doc = fixtures.make_result(pollscale=True, load=True)
        for b in doc["benchmarks"]:
            for key in list(b):
                if key.endswith("_ns") and not key.startswith("floor") and key != "poll_ns":
                    b[key] = 0.0
                if key == "pair_bytes":
                    b[key] = 0
        src = fixtures.write(doc, self.path("zero.json"))
        proc = subprocess.run([fixtures.PYTHON, fixtures.script("report.py"), src,
                               "-o", self.path("out")], capture_output=True, text=True,
                              timeout=300)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))
        self.check_outputs(proc.stdout.splitlines(), self.path("out"))

    def test_input_name_not_utf8(self):
        # Linux file names are bytes; Python hands undecodable ones over as surrogates,
        # which the UTF-8 report files cannot hold as such.
        src = fixtures.write(fixtures.make_result(),
                             self.path(os.fsdecode(b"caf\xe9-latin1.json")))
        status, stdout, stderr = run_in_process(src, "-o", self.path("o"))
        self.assertEqual(status, 0, stderr)
        page, summary, _ = self.check_outputs(stdout.splitlines(), self.path("o"))
        self.assertIn("latin1.json", page)
        self.assertIn("latin1.json", summary)

    def test_mesh_table_shows_the_idle_policy_and_parks_only_when_a_mesh_slept(self):
        doc = fixtures.make_result(mesh_v2=True)
        for e in doc["benchmarks"]:
            if e.get("suite") == "mesh":
                e["idle_policy"], e["sleeps"] = "busy-poll", 0
        known = set(report.qr.load_schema()["properties"]["benchmarks"]["items"]["properties"])
        header, _ = report.suite_table(report.qr.runs(doc, "mesh"), known)
        for column in ("idle", "idle poll (µs)", "sleeps"):
            self.assertNotIn(column, header)
        # One run slept (qmesh run --idle sleep --idle-poll 50) and never parked: the columns
        # appear, and its 0 parks are shown, not hidden as a default.
        slept = "mesh/lamport/idle/scan/n2"
        for e in doc["benchmarks"]:
            if e.get("run_name") == slept:
                e["idle_policy"], e["idle_poll_us"] = "sleep", 50
        header, rows = report.suite_table(report.qr.runs(doc, "mesh"), known)
        row = {r[0]: dict(zip(header, r)) for r in rows}
        self.assertEqual((row[slept]["idle"], row[slept]["idle poll (µs)"], row[slept]["sleeps"]),
                         ("sleep", "50", "0"))
        # Had its repetitions parked 10, 30, 20, 50 and 5 times, the table gives their
        # median; the runs that busy-polled say so.
        parks = iter([10, 30, 20, 50, 5])
        for e in doc["benchmarks"]:
            if e.get("run_name") == slept and e.get("run_type") == "iteration":
                e["sleeps"] = next(parks)
        header, rows = report.suite_table(report.qr.runs(doc, "mesh"), known)
        row = {r[0]: dict(zip(header, r)) for r in rows}
        self.assertEqual((row[slept]["idle"], row[slept]["idle poll (µs)"], row[slept]["sleeps"]),
                         ("sleep", "50", "20"))
        other = row["mesh/lamport/busy/scan/n2"]
        self.assertEqual((other["idle"], other["idle poll (µs)"], other["sleeps"]),
                         ("busy-poll", "-", "0"))

    def test_mesh_table_shows_the_reply_quota_and_poll_budget_only_when_not_the_defaults(self):
        doc = fixtures.make_result(mesh_v2=True)
        for e in doc["benchmarks"]:
            if e.get("suite") == "mesh":
                e["reply_quota"], e["poll_budget"] = 0, 64
        known = set(report.qr.load_schema()["properties"]["benchmarks"]["items"]["properties"])
        header, _ = report.suite_table(report.qr.runs(doc, "mesh"), known)
        self.assertNotIn("reply quota", header)
        self.assertNotIn("poll budget", header)
        # One run capped its replies' continuations (qmesh run --reply-quota 64): that
        # column appears, the poll budget's does not.
        capped = "mesh/lamport/idle/scan/n2"
        for e in doc["benchmarks"]:
            if e.get("run_name") == capped:
                e["reply_quota"] = 64
        header, rows = report.suite_table(report.qr.runs(doc, "mesh"), known)
        row = {r[0]: dict(zip(header, r)) for r in rows}
        self.assertEqual(row[capped]["reply quota"], "64")
        self.assertEqual(row["mesh/lamport/busy/scan/n2"]["reply quota"], "0")
        self.assertNotIn("poll budget", header)
        for e in doc["benchmarks"]:
            if e.get("run_name") == capped:
                e["poll_budget"] = 960
        header, rows = report.suite_table(report.qr.runs(doc, "mesh"), known)
        row = {r[0]: dict(zip(header, r)) for r in rows}
        self.assertEqual((row[capped]["poll budget"], row["mesh/lamport/busy/scan/n2"]["poll budget"]),
                         ("960", "64"))

    def test_mesh_table_shows_where_the_queues_went_only_where_placement_applied(self):
        doc = fixtures.make_result(mesh_v2=True)
        placed = "mesh/lamport/idle/scan/n2"
        for e in doc["benchmarks"]:
            if e.get("run_name") == placed:
                e["numa"] = {"placement": "sender", "applied": False, "queues": 4,
                             "on_intended": 4}
        known = set(report.qr.load_schema()["properties"]["benchmarks"]["items"]["properties"])
        column = "NUMA: queues on the intended node"
        header, _ = report.suite_table(report.qr.runs(doc, "mesh"), known)
        self.assertNotIn(column, header)  # one node: placement was a no-op
        # Two nodes: one repetition found only 3 of its 4 queues where it asked; that is
        # the one the cell shows. Runs without a record say so.
        on_node = iter([4, 4, 3, 4, 4])
        for e in doc["benchmarks"]:
            if e.get("run_name") == placed:
                e["numa"]["applied"] = True
                if e.get("run_type") == "iteration":
                    e["numa"]["on_intended"] = next(on_node)
        header, rows = report.suite_table(report.qr.runs(doc, "mesh"), known)
        row = {r[0]: dict(zip(header, r)) for r in rows}
        self.assertEqual(row[placed][column], "sender: 3/4 on node")
        self.assertEqual(row["mesh/lamport/busy/scan/n2"][column], "-")

    def test_submit_table_orders_by_floor_ratio_and_shows_both_ratios(self):
        doc = fixtures.make_result(submit=True)
        # One run lost its raw ratio (raw_error), another its floor ratio (floor_error).
        for e in doc["benchmarks"]:
            if e["run_name"] == "submit/lamport/doorbell/0-1":
                e.pop("raw_ratio", None)
            if e["run_name"] == "submit/lamport/scan/0-1":
                e.pop("floor_ratio", None)
        header, rows = report.submit_ratios(report.qr.runs(doc, "submit"))
        self.assertEqual(header, ["queue", "polling", "cores", "submit_to p50 ns", "÷ floor",
                                  "÷ raw round trip"])
        lo, hi = min(fixtures.JITTER[:5]), max(fixtures.JITTER[:5])
        floor = fixtures.FLOOR_P50[(0, 1)]

        def cell(x):
            return f"{x:.2f}× ({x * lo:.2f}–{x * hi:.2f})"
        # Lowest ratio to the floor first; the run with none, last.
        self.assertEqual([r[:2] for r in rows], [["lamport", "doorbell"], ["mutex", "scan"],
                                                 ["mutex", "doorbell"], ["lamport", "scan"]])
        for q, polling, row in [(r[0], r[1], r) for r in rows]:
            over = fixtures.SUBMIT_OVER_RAW[(q, polling)]
            raw = fixtures.PINGPONG_P50[q]
            self.assertEqual(row[2], "0-1")
            self.assertEqual(row[3], report.fmt(raw * over))
            self.assertEqual(row[4], "-" if (q, polling) == ("lamport", "scan")
                             else cell(raw * over / floor))
            self.assertEqual(row[5], "-" if (q, polling) == ("lamport", "doorbell") else cell(over))
        src = fixtures.write(fixtures.make_result(submit=True), self.path("s.json"))
        status, stdout, stderr = run_in_process(src, "-o", self.path("out"))
        self.assertEqual(status, 0, stderr)
        _, summary, _ = self.check_outputs(stdout.splitlines(), self.path("out"))
        self.assertIn("Submit: submit_to round trip over the floor and over the raw queue", summary)
        self.assertIn(f"| lamport | scan | 0-1 | 450 | {cell(3.0)} | {cell(1.5)} |", summary)

    def test_submit_table_divides_by_the_pointer_floor_of_the_same_pair(self):
        doc = fixtures.make_result(submit=True)
        # The floor suite measured the pointer floor on pair 0-1 (1.2x its floor in every
        # repetition) and not on 1-0; one repetition of 0-1 lost it (pointer_error).
        pointer = []
        for e in doc["benchmarks"]:
            if e["suite"] == "floor" and e.get("run_type") == "iteration" and e["cores"] == [0, 1]:
                if e["repetition_index"] == 1:
                    e["pointer_error"] = "pointer floor: timed out"
                    continue
                e["pointer_p50_ns"] = e["p50_ns"] * 1.2
                e["pointer_ratio"] = 1.2
                pointer.append(e["pointer_p50_ns"])
        self.assertEqual(len(pointer), 4)
        header, rows = report.submit_ratios(report.qr.runs(doc, "submit"), report.qr.runs(doc, "floor"))
        self.assertEqual(header[-1], "÷ pointer floor (medians)")
        want = statistics.median(pointer)
        for row in rows:
            over = fixtures.SUBMIT_OVER_RAW[(row[0], row[1])]
            submit = statistics.median(fixtures.PINGPONG_P50[row[0]] * over * j for j in fixtures.JITTER[:5])
            self.assertEqual(row[-1], f"{submit / want:.2f}×")
        # A pair with no pointer floor gets a dash; a file with none has no such column.
        for e in doc["benchmarks"]:
            if e["suite"] == "submit":
                e["cores"] = [1, 0]
        header, rows = report.submit_ratios(report.qr.runs(doc, "submit"), report.qr.runs(doc, "floor"))
        self.assertEqual({row[-1] for row in rows}, {"-"})
        header, _ = report.submit_ratios(report.qr.runs(fixtures.make_result(submit=True), "submit"),
                                         report.qr.runs(fixtures.make_result(submit=True), "floor"))
        self.assertNotIn("÷ pointer floor (medians)", header)
        # The floor suite's table shows the two figures under their own labels.
        src = fixtures.write(doc, self.path("p.json"))
        status, stdout, stderr = run_in_process(src, "-o", self.path("out"))
        self.assertEqual(status, 0, stderr)
        _, summary, _ = self.check_outputs(stdout.splitlines(), self.path("out"))
        self.assertIn("| pointer floor p50 (ns) | pointer ÷ floor |", summary)
        self.assertNotIn("pointer_p50_ns", summary)

    def test_pollscale_growth_is_flat_for_a_doorbell_and_tells_slow_repetitions_apart(self):
        # An invalid repetition of mutex's doorbell at N = 4, ten times slower: left out.
        doc = fixtures.make_result(pollscale=True, invalid={("pollscale/mutex/doorbell/n4", 2)})
        # Three of five repetitions of lamport's doorbell at N = 16 ran at half speed (a
        # host's slow phase): the median doubles, the fastest repetition does not. The worst N
        # is a middle one, not the largest.
        for e in doc["benchmarks"]:
            if e["run_type"] != "iteration":
                continue
            slow = e["run_name"] == "pollscale/lamport/doorbell/n16" and e["repetition_index"] in (0, 1, 3)
            if slow or e["run_name"] == "pollscale/mutex/doorbell/n4" and not e["valid"]:
                for k in ("poll_ns", "real_time", "cpu_time"):
                    e[k] *= 2 if slow else 10
        header, rows = report.pollscale_growth(report.qr.runs(doc, "pollscale"))
        self.assertEqual(header[-2:], ["worst ÷ smallest N (medians)",
                                       "worst ÷ smallest N (fastest repetitions)"])
        by = {(r[0], r[1]): r for r in rows}
        self.assertEqual(set(by), {(q, p) for q in fixtures.PAIR_BYTES for p in ("scan", "doorbell")})
        self.assertEqual(by[("mutex", "doorbell")][2:], [
            "2–256", report.fmt(fixtures.POLL_DOORBELL_NS * 1.6), report.fmt(fixtures.POLL_DOORBELL_NS * 1.6),
            "1.00×", "1.00×"])
        self.assertEqual(by[("lamport", "doorbell")][5:], ["2.00×", "1.00×"])
        # A scan polls N - 1 queues: 255 at N = 256 against 1 at N = 2.
        self.assertEqual(by[("lamport", "scan")][5:], ["255.00×", "255.00×"])
        # Sorted by strategy, then by growth.
        self.assertEqual([r[1] for r in rows], ["doorbell"] * 2 + ["scan"] * 2)
        self.assertEqual([r[0] for r in rows[:2]], ["mutex", "lamport"])
        src = fixtures.write(fixtures.make_result(pollscale=True), self.path("p.json"))
        status, stdout, stderr = run_in_process(src, "-o", self.path("out"))
        self.assertEqual(status, 0, stderr)
        _, summary, _ = self.check_outputs(stdout.splitlines(), self.path("out"))
        self.assertIn("Pollscale: idle poll cost from the smallest N to the largest", summary)


if __name__ == "__main__":
    unittest.main()
