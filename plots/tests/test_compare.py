"""compare.py end to end: verdicts, direction of better, threshold, exit status."""

import contextlib
import io
import os
import subprocess
import tempfile
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
import compare


def run_in_process(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = compare.main([str(a) for a in args])
    return status, out.getvalue()


def verdict_lines(output):
    return {line.split()[0]: line for line in output.splitlines()
            if line.startswith(("floor/", "pingpong/", "stream/", "mesh/", "kv/"))}


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, **kwargs):
        return fixtures.write(fixtures.make_result(**kwargs), os.path.join(self.tmp.name, name))

    def test_identical_inputs(self):
        a = self.write("a.json", stream=True, mesh=True)
        proc = fixtures.run_script("compare.py", a, a)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        self.assertNotIn("REGRESSION", proc.stdout)
        self.assertNotIn("improvement", proc.stdout.replace("improvement(s)", ""))
        lines = verdict_lines(proc.stdout)
        self.assertEqual(len(lines), 4 + 8 + 6)
        for line in lines.values():
            self.assertIn("no significant change", line)
            self.assertIn("1.000", line)

    def test_thirty_percent_slower(self):
        a = self.write("a.json")
        b = self.write("b.json", scale={"pingpong/lamport/0-1": 1.3})
        proc = fixtures.run_script("compare.py", a, b)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        lines = verdict_lines(proc.stdout)
        slow = lines["pingpong/lamport/0-1"]
        self.assertIn("REGRESSION", slow)
        self.assertIn("1.300", slow)
        self.assertIn("+30.0%", slow)
        self.assertIn("0.00794", slow)        # 2/252: exact, 5 vs 5, complete separation
        self.assertIn("lower is better", slow)
        for name, line in lines.items():
            if name != "pingpong/lamport/0-1":
                self.assertNotIn("REGRESSION", line)
        self.assertIn("REGRESSION: pingpong/lamport/0-1", proc.stdout.splitlines())
        # The reverse is an improvement, not a failure.
        status, out = run_in_process(b, a)
        self.assertEqual(status, 0)
        self.assertIn("improvement", verdict_lines(out)["pingpong/lamport/0-1"])

    def test_throughput_direction(self):
        a = self.write("a.json", stream=True)
        name = "stream/lamport/0-1/msg:8/cap:1024"
        slower = self.write("slower.json", stream=True, scale={name: 1.3})  # rate / 1.3
        status, out = run_in_process(a, slower)
        self.assertEqual(status, 1)
        line = verdict_lines(out)[name]
        self.assertIn("msgs_per_s (higher is better)", line)
        self.assertIn("REGRESSION", line)
        faster = self.write("faster.json", stream=True, scale={name: 0.7})
        status, out = run_in_process(a, faster)
        self.assertEqual(status, 0)
        self.assertIn("improvement", verdict_lines(out)[name])

    def test_from_a_median_of_zero(self):
        # A's median 0 (a stream that stalled): B/A has no value, yet the change has a
        # direction. Before, such a row read "significant, within threshold" both ways a
        # metric can go, so a real regression (lower is better, A = 0) exited 0.
        name = "stream/lamport/0-1/msg:8/cap:1024"
        doc = fixtures.make_result(stream=True)
        for entry in doc["benchmarks"]:
            if entry["run_name"] == name:
                entry["msgs_per_s"] = 0.0
        zero = fixtures.write(doc, os.path.join(self.tmp.name, "zero.json"))
        b = self.write("b.json", stream=True)
        status, out = run_in_process(zero, b)
        self.assertEqual(status, 0, out)
        self.assertIn("improvement", verdict_lines(out)[name])  # throughput up from 0
        status, out = run_in_process(b, zero)
        self.assertEqual(status, 1, out)
        self.assertIn("REGRESSION", verdict_lines(out)[name])
        # Lower is better, from 0: a regression.
        name = "pingpong/lamport/0-1"
        doc = fixtures.make_result()
        for entry in doc["benchmarks"]:
            if entry["run_name"] == name:
                entry["real_time"] = 0.0
        zero = fixtures.write(doc, os.path.join(self.tmp.name, "zero_time.json"))
        status, out = run_in_process(zero, self.write("c.json"))
        self.assertEqual(status, 1, out)
        self.assertIn("REGRESSION", verdict_lines(out)[name])

    def test_quick_against_full_is_refused_unless_asked(self):
        # --quick changes the workload behind the same run_names (fewer keys, turns and
        # messages): judging one against a full run judges the workload.
        quick = self.write("quick.json", quick=True)
        full = self.write("full.json")
        for args in ((quick, full), (full, quick)):
            proc = fixtures.run_script("compare.py", *args)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertEqual(proc.stdout, "")
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
            self.assertIn(f"{quick}: a --quick run, and {full} is not", proc.stderr)
        status, out = run_in_process(quick, full, "--allow-quick-mismatch")
        self.assertEqual(status, 0, out)
        self.assertIn("note: one of A and B is a --quick run", out)
        # A build that differs is a note, not a refusal: comparing builds is a use.
        flags = self.write("flags.json", compiler_flags="-O2")
        status, out = run_in_process(full, flags)
        self.assertEqual(status, 0, out)
        self.assertIn("note: A and B were built differently (compiler_flags", out)
        self.assertNotIn("ran their meshes differently", out)
        # So is a mesh set up otherwise (qmesh run --idle, --numa): comparing them is a use.
        sleep = self.write("sleep.json", idle_policy="sleep",
                           numa={"nodes": 2, "placement": "interleave", "applied": True})
        status, out = run_in_process(full, sleep)
        self.assertEqual(status, 0, out)
        self.assertIn("note: A and B ran their meshes differently (idle policy busy-poll vs "
                      "sleep; NUMA placement receiver vs interleave)", out)
        status, out = run_in_process(sleep, sleep)
        self.assertNotIn("ran their meshes differently", out)
        # Two sleeping meshes differ in their poll time (qmesh run --idle-poll).
        brief = self.write("brief.json", idle_policy="sleep", idle_poll_us=0,
                           numa={"nodes": 2, "placement": "interleave", "applied": True})
        status, out = run_in_process(sleep, brief)
        self.assertEqual(status, 0, out)
        self.assertIn("note: A and B ran their meshes differently (idle poll time unrecorded "
                      "vs 0 us)", out)
        # A file from before the reply quota was recorded ran the task quota's, 64.
        unquoted = self.write("unquoted.json", reply_quota=0)
        status, out = run_in_process(full, unquoted)
        self.assertEqual(status, 0, out)
        self.assertIn("note: A and B ran their meshes differently (reply quota 64 vs 0)", out)
        status, out = run_in_process(unquoted, self.write("quoted.json", reply_quota=0))
        self.assertNotIn("ran their meshes differently", out)
        wide = self.write("wide.json", reply_quota=0, poll_budget=960)
        status, out = run_in_process(unquoted, wide)
        self.assertEqual(status, 0, out)
        self.assertIn("note: A and B ran their meshes differently (poll budget 64 vs 960)", out)

    def test_threshold(self):
        a = self.write("a.json")
        b = self.write("b.json", scale={"pingpong/mutex/0-1": 1.045})  # 4.5% slower, every rep
        status, out = run_in_process(a, b)
        self.assertEqual(status, 0)
        self.assertIn("significant, within threshold", verdict_lines(out)["pingpong/mutex/0-1"])
        status, out = run_in_process(a, b, "--threshold", "2")
        self.assertEqual(status, 1)
        c = self.write("c.json", scale={"pingpong/mutex/0-1": 1.3})
        self.assertEqual(run_in_process(a, c, "--threshold", "50")[0], 0)
        self.assertEqual(run_in_process(a, c, "--alpha", "0.001")[0], 0)  # 2/252 > 0.001

    def test_too_few_repetitions_are_said(self):
        a = self.write("a.json", reps=3)
        b = self.write("b.json", reps=3, scale={"pingpong/lamport/0-1": 1.3})
        status, out = run_in_process(a, b)
        self.assertEqual(status, 0)  # 3 vs 3 cannot reach p < 0.05
        self.assertIn("cannot reach p < 0.05 (smallest possible p is 0.1)", out)

    def test_invalid_repetitions_left_out(self):
        a = self.write("a.json")
        b = self.write("b.json", invalid={("pingpong/mutex/0-1", 0)})
        status, out = run_in_process(a, b)
        self.assertEqual(status, 0)
        self.assertIn("pingpong/mutex/0-1: B: 1 invalid rep(s) left out", out)
        c = self.write("c.json", invalid={"pingpong/mutex/0-1"})
        status, out = run_in_process(a, c)
        self.assertIn("NOT COMPARED", verdict_lines(out)["pingpong/mutex/0-1"])

    def test_floor_ratio_metric_and_unpaired_runs(self):
        a = self.write("a.json", stream=True)
        b = self.write("b.json", pingpong_queues=("lamport", "vyukov"))
        status, out = run_in_process(a, b, "--metric", "floor_ratio")
        self.assertEqual(status, 0)
        self.assertIn("floor_ratio (lower is better)", verdict_lines(out)["pingpong/lamport/0-1"])
        self.assertIn("only in A (not compared): pingpong/mutex/0-1, stream/", out)
        self.assertIn("only in B (not compared): pingpong/vyukov/0-1", out)
        self.assertIn("without floor_ratio in A or B (not compared): floor/0-1, floor/1-0", out)
        self.assertNotIn("bracketed", out)

    def test_floor_ratio_across_bracketed_and_older_results_says_so(self):
        # Since f80893a a ratio divides by the mean of the floors before and after its entry
        # (context.bracket); an older file's by the floor before it alone.
        old = self.write("old.json")
        new = self.write("new.json", bracket={"tolerance": 0.25, "attempts": 3, "entries": 10,
                                              "retried": 2, "unsettled": 0})
        for args, side in (((old, new), "B"), ((new, old), "A")):
            with self.subTest(side=side):
                status, out = run_in_process(*args, "--metric", "floor_ratio")
                self.assertEqual(status, 0, out)
                self.assertIn(f"note: only {side} bracketed its round trips", out)
                # Other metrics do not divide by the floor: nothing to say.
                status, out = run_in_process(*args)
                self.assertNotIn("bracketed", out)
        status, out = run_in_process(new, new, "--metric", "floor_ratio")
        self.assertNotIn("bracketed", out)

    def test_runs_without_repetitions_are_not_called_unpaired(self):
        # Aggregates only (Google Benchmark's --benchmark_report_aggregates_only): the run is
        # in both files, but there is nothing to test; it is neither "only in A" nor absent.
        a = self.write("a.json")
        doc = fixtures.make_result()
        doc["benchmarks"] = [b for b in doc["benchmarks"] if b["run_type"] == "aggregate"]
        b = fixtures.write(doc, os.path.join(self.tmp.name, "b.json"))
        for args, side in (((a, b), "B"), ((b, a), "A"), ((b, b), "A")):
            with self.subTest(side=side):
                status, out = run_in_process(*args)
                self.assertEqual(status, 0)
                self.assertNotIn("only in", out)
                self.assertNotIn("no run_name in common", out)
                self.assertIn("without repetitions in A or B (aggregates only, not compared): "
                              "floor/0-1, floor/1-0, pingpong/lamport/0-1, pingpong/mutex/0-1",
                              out)

    def test_file_name_not_utf8(self):
        # Under a UTF-8 locale stdout is strict; a file name with a byte that is not UTF-8
        # (handed over by Python as a surrogate) must still print, as the bytes it is.
        a = self.write(os.fsdecode(b"caf\xe9.json"))
        env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
        proc = subprocess.run([fixtures.PYTHON, fixtures.script("compare.py"), a, a],
                              capture_output=True, env=env, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"A: " + os.fsencode(a) + b": testhost", proc.stdout)


if __name__ == "__main__":
    unittest.main()
