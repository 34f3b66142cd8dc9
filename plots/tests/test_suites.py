"""The load, kv and pollscale suites, the newer mesh fields, lock-free against locking, the
mutant kill matrix, and the schema additions for them (all in the committed schema now).

The inputs are synthetic (fixtures.py), so that every figure checked here is computed from the
fixture's own constants, never typed in; committed results holding these suites are rendered
by the tests that go over results/."""

import contextlib
import copy
import io
import json
import os
import re
import tempfile
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
    from . import test_report
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
    import test_report
import qmesh_results as qr
import report

ADDITIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema_additions.json")


def run_in_process(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = report.main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def merged_schema():
    """The committed schema with the proposed additions where it lacks them."""
    schema = copy.deepcopy(qr.load_schema())
    with open(ADDITIONS, encoding="utf-8") as f:
        additions = json.load(f)
    props = schema["properties"]["benchmarks"]["items"]["properties"]
    for name, sub in additions.items():
        if not name.startswith("$"):
            props.setdefault(name, sub)
    qr.check_schema(schema, "#", ADDITIONS)
    return schema


def all_new():
    return fixtures.make_result(stream=True, mesh_v2=True, load=True, kv=True, pollscale=True)


class NewSuitesReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        src = fixtures.write(all_new(), os.path.join(cls.tmp.name, "new.json"))
        mut = fixtures.write(fixtures.make_mutants(missed={"wrong_wrap"}, flagged={"mutex"}),
                             os.path.join(cls.tmp.name, "mutants.json"))
        cls.out = os.path.join(cls.tmp.name, "out")
        cls.status, stdout, cls.stderr = run_in_process(src, "--mutants", mut, "-o", cls.out)
        cls.written = stdout.splitlines()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.status, 0, self.stderr)
        self.page, self.summary, self.pngs = test_report.ReportTest.check_outputs(
            self, self.written, self.out)

    def test_every_new_plot(self):
        for slug in ("load_latency", "mesh_scaling", "mesh_batch_hist", "pollscale_poll_cost",
                     "pollscale_pair_bytes", "kv_throughput", "kv_speedup",
                     "pingpong_lockfree_speedup", "stream_lockfree_speedup",
                     "mesh_lockfree_speedup", "pingpong_percentile_curves"):
            self.assertIn(f"new_{slug}.png", self.pngs)
        self.assertIn("mutants_kill_matrix.png", self.pngs)

    def test_speedups_come_from_the_data(self):
        pp = fixtures.PINGPONG_P50["mutex"] / fixtures.PINGPONG_P50["lamport"]
        self.assertIn(f"| lamport | own | {pp:.2f}× |", self.summary)
        mesh = fixtures.MESH_V2_RATE["lamport"] / fixtures.MESH_V2_RATE["mutex"]
        n_cfg = len(fixtures.MESH_STATE_FACTOR) * len(fixtures.MESH_POLLING_FACTOR) * 2
        self.assertIn(f"{mesh:.2f}× ({mesh:.2f}–{mesh:.2f}, {n_cfg} configs)", self.summary)

    def test_kv_ratio_table(self):
        best = max(r for (d, _), r in fixtures.KV_RATES.items() if d == "sharded")
        best_q = next(q for (d, q), r in fixtures.KV_RATES.items() if r == best)
        for design in ("mutex", "shared_mutex", "striped"):
            ratio = best / fixtures.KV_RATES[(design, None)]
            self.assertRegex(self.summary, rf"\| 2 \| {best_q} \| [\d,]+ \| {design} \| "
                                           rf"[\d,]+ \| {ratio:.2f}× \|")

    def test_pair_bytes_table(self):
        for q, b in fixtures.PAIR_BYTES.items():
            self.assertIn(f"| {q} | {b:,} | {b / 1024:,.1f} |", self.summary)

    def test_mutants_section(self):
        self.assertIn("7 of 8 mutant checks caught", self.page)
        self.assertIn("| wrong_wrap | index wraps at capacity + 1 | model | **MISSED** | 0.03 |",
                      self.summary)
        self.assertIn('<td class="bad">MISSED</td>', self.page)
        self.assertIn("1 of 3 clean-queue checks flagged (false alarms)", self.page)
        self.assertIn("| clean: mutex | none (a correct queue: must not be flagged) | concurrent "
                      "| **FALSE ALARM** | 0.7 |", self.summary)
        self.assertIn("| clean: lamport | none (a correct queue: must not be flagged) | tsan "
                      "| not flagged | 3 |", self.summary)
        # After the run sections, and with no run context of its own.
        self.assertLess(self.page.index("Suite pollscale"), self.page.index("mutant kill matrix"))

    def test_oversubscribed_runs_are_flagged(self):
        self.assertIn("run(s) oversubscribed", self.page)
        self.assertRegex(self.summary,
                         r"\| mesh/lamport/idle/scan/n4 \| .*\| ok \(oversubscribed\) \|")
        self.assertRegex(self.summary,
                         r"\| mesh/lamport/idle/scan/n2 \| .*\| ok \| idle \| scan \|")

    def test_new_fields_in_tables_after_the_schema_knows_them(self):
        """Columns stay when the lead adds the fields to the schema (they are then 'known')."""
        known = set(merged_schema()["properties"]["benchmarks"]["items"]["properties"])
        runs = qr.runs(all_new(), "load")
        header, _ = report.suite_table(runs, known)
        for label in ("offered fraction", "offered msgs/s", "stream msgs/s", "p99 (ns)"):
            self.assertIn(label, header)
        header, _ = report.suite_table(qr.runs(all_new(), "pollscale"), known)
        for label in ("polling", "virtual cores", "poll (ns)", "pair bytes"):
            self.assertIn(label, header)


class FigureFunctionsTest(unittest.TestCase):
    """The plot functions on their own: what they draw, from which entries."""

    def tearDown(self):
        report.plt().close("all")

    def test_mesh_panels_per_receiver_state(self):
        runs = qr.runs(fixtures.make_result(mesh_v2=True), "mesh")
        fig, _ = report.mesh_scaling(runs, "foot")
        titles = [ax.get_title() for ax in fig.axes]
        self.assertEqual(titles, [f"receivers {s}" for s in fixtures.MESH_STATE_FACTOR])
        labels = fig.axes[-1].get_legend_handles_labels()[1]
        self.assertIn("lamport, polling doorbell", labels)

    def test_batch_hist_open_last_bucket(self):
        runs = qr.runs(fixtures.make_result(mesh_v2=True), "mesh")
        fig, _ = report.mesh_batch_hist(runs, "foot")
        ax = fig.axes[0]
        self.assertEqual([t.get_text() for t in ax.get_xticklabels()],
                         ["1", "3", "7", "15", ">15"])
        line = next(li for li in ax.get_lines() if li.get_label() == "lamport scan")
        run = next(r for r in runs if r.run_name == "mesh/lamport/idle/scan/n4")
        counts = {}
        for e in run.valid_iterations:
            for b in e["batch_hist"]:
                counts[b["le"]] = counts.get(b["le"], 0) + b["count"]
        total = sum(counts.values())
        self.assertEqual([round(y, 9) for y in line.get_ydata()],
                         [round(100.0 * counts[le] / total, 9) for le in (1, 3, 7, 15, None)])

    @staticmethod
    def _depth_sweep():
        """The mesh_v2 fixture with mutex renamed inbox, and every entry again at depth 64
        (named /w64), lamport twice as fast there and the inbox 1.5 times."""
        doc = fixtures.make_result(mesh_v2=True)
        extra = []
        for e in doc["benchmarks"]:
            if e.get("suite") != "mesh":
                continue
            if e["queue"] == "mutex":
                e["queue"] = "inbox"
                for f in ("name", "run_name"):
                    e[f] = e[f].replace("/mutex/", "/inbox/")
            w = copy.deepcopy(e)
            gain = 2.0 if w["queue"] == "lamport" else 1.5
            for f in ("name", "run_name"):
                head, sep, tail = w[f].partition("_")  # aggregates: NAME_median ...
                w[f] = head + "/w64" + sep + tail
            w["batch"] = 64
            if "msgs_per_s" in w:
                w["msgs_per_s"] *= gain
            extra.append(w)
        doc["benchmarks"] += extra
        return doc

    def test_mesh_depth_sweep(self):
        doc = self._depth_sweep()
        runs = qr.runs(doc, "mesh")
        fig, _ = report.mesh_depth(runs, "foot")
        # The largest mesh not oversubscribed (the fixture's n=4 runs are): n=2, one panel
        # per receiver state and polling strategy.
        self.assertIn("2 cores", fig._suptitle.get_text())
        self.assertEqual([ax.get_title() for ax in fig.axes],
                         [f"receivers {st}, {po}" for st in fixtures.MESH_STATE_FACTOR
                          for po in ("scan", "doorbell")])
        self.assertEqual([t.get_text() for t in fig.axes[0].get_xticklabels()], ["16", "64"])
        self.assertEqual(sorted(fig.axes[-1].get_legend_handles_labels()[1]), ["inbox", "lamport"])
        # The table: lamport over the inbox, at each depth, from the runs' own medians.
        rows = report.mesh_depth_ratios(runs, qr.families(doc))
        self.assertEqual(len(rows), len(fixtures.MESH_STATE_FACTOR) * 2 * 2)
        self.assertEqual({row[0] for row in rows}, {2})
        med = {(len(r.cores), report._mesh_state(r), report._mesh_polling(r), r.param("batch"),
                r.queue): r.summary("msgs_per_s").median for r in runs}
        for n, st, po, d, q, v, b, ratio in rows:
            self.assertEqual(q, "lamport")
            self.assertEqual(v, med[(n, st, po, d, "lamport")])
            self.assertEqual(b, med[(n, st, po, d, "inbox")])
            self.assertAlmostEqual(ratio, v / b)
        # The lines against N stay at the default depth.
        fig, _ = report.mesh_scaling(runs, "foot")
        labels = fig.axes[0].get_legend_handles_labels()[1]
        self.assertEqual(sorted(labels), ["inbox, polling doorbell", "inbox, polling scan",
                                          "lamport, polling doorbell", "lamport, polling scan"])
        line = fig.axes[0].get_lines()[0]
        default = sorted(med[(n, "idle", "scan", 16, "lamport")] for n in (2, 4))
        self.assertEqual(sorted(line.get_ydata()), default)
        # So does the batch-size plot: one line per queue and polling strategy.
        fig, _ = report.mesh_batch_hist(runs, "foot")
        self.assertEqual(len(fig.axes[0].get_lines()), 4)
        # And the report carries the table.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            rc, _, err = run_in_process(path, "-o", os.path.join(d, "out"))
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "out", "summary.md")) as f:
                summary = f.read()
            self.assertIn("Mesh: best lock-free queue over the locked inbox, by depth", summary)
            self.assertTrue(os.path.exists(os.path.join(d, "out", "r_mesh_depth.png")))

    def test_no_depth_sweep_no_depth_plot(self):
        runs = qr.runs(fixtures.make_result(mesh_v2=True), "mesh")
        self.assertIsNone(report.mesh_depth(runs, "foot"))

    def test_old_mesh_entries_count_as_idle_scan(self):
        runs = qr.runs(fixtures.make_result(mesh=True), "mesh")
        fig, _ = report.mesh_scaling(runs, "foot")
        self.assertEqual([ax.get_title() for ax in fig.axes], ["receivers idle"])
        self.assertEqual(sorted(fig.axes[0].get_legend_handles_labels()[1]), ["lamport", "mutex"])
        self.assertIsNone(report.mesh_batch_hist(runs, "foot"))  # no batch_hist: no plot

    def test_load_marks_saturation(self):
        runs = qr.runs(fixtures.make_result(load=True), "load")
        fig, _ = report.load_latency(runs, "foot")
        labels = fig.axes[0].get_legend_handles_labels()[1]
        self.assertIn("lamport p50", labels)
        self.assertIn("mutex p99", labels)
        self.assertTrue(any(label.startswith("achieved <") for label in labels))
        # Only the mutex at full load fell short of the offered rate.
        ring = next(line for line in fig.axes[0].get_lines()
                    if line.get_label().startswith("achieved <"))
        self.assertEqual(list(ring.get_xdata()), [100.0])

    def test_load_without_shortfall_has_no_ring(self):
        doc = fixtures.make_result(load=True)
        for b in doc["benchmarks"]:
            if "offered_msgs_per_s" in b:
                b["msgs_per_s"] = b["offered_msgs_per_s"]
        fig, _ = report.load_latency(qr.runs(doc, "load"), "foot")
        labels = fig.axes[0].get_legend_handles_labels()[1]
        self.assertFalse(any(label.startswith("achieved <") for label in labels))

    def test_pollscale_lines(self):
        runs = qr.runs(fixtures.make_result(pollscale=True), "pollscale")
        fig, _ = report.pollscale_lines(runs, "foot")
        ax = fig.axes[0]
        self.assertEqual(ax.get_xscale(), "log")
        line = next(c for c in ax.containers if c.get_label() == "lamport scan")
        xs, ys = line.lines[0].get_data()
        self.assertEqual(list(xs), list(fixtures.POLL_N))
        self.assertEqual([round(y, 9) for y in ys],
                         [round(fixtures.POLL_NS_PER_QUEUE * (n - 1), 9) for n in fixtures.POLL_N])

    def test_speedups_per_config(self):
        doc = fixtures.make_result(stream=True)
        sp = report.speedups(qr.runs(doc, "stream"), qr.families(doc), "stream")
        self.assertEqual(list(sp), [("lamport", "mutex")])
        self.assertEqual(len(sp[("lamport", "mutex")]), 4)
        for v in sp[("lamport", "mutex")]:
            self.assertAlmostEqual(v, 40e6 / 8e6)

    def test_invalid_runs_stay_out_of_speedups(self):
        doc = fixtures.make_result(stream=True, invalid={"stream/mutex/0-1/msg:64/cap:4096"})
        sp = report.speedups(qr.runs(doc, "stream"), qr.families(doc), "stream")
        self.assertEqual(len(sp[("lamport", "mutex")]), 3)

    def test_families_from_the_file_win(self):
        doc = fixtures.make_result(pingpong_queues=("lamport", "mutex", "newq"))
        runs = qr.runs(doc, "pingpong")
        self.assertNotIn(("newq", "mutex"), report.speedups(runs, qr.families(doc), "pingpong"))
        doc["context"]["queues"] = [{"name": "newq", "family": "peer"},
                                    {"name": "lamport", "family": "lock"}]
        sp = report.speedups(runs, qr.families(doc), "pingpong")
        self.assertEqual(sorted(sp), [("newq", "lamport"), ("newq", "mutex")])

    def test_no_lock_queue_no_speedup(self):
        doc = fixtures.make_result(pingpong_queues=("lamport",))
        self.assertIsNone(report.speedup_heatmap(qr.runs(doc, "pingpong"), qr.families(doc),
                                                 "pingpong", "foot"))

    def test_ratio_heatmap_needs_two_pairs(self):
        doc = fixtures.make_result()
        self.assertIsNone(report.pingpong_ratio_heatmap(qr.runs(doc, "pingpong"), "foot"))
        extra = [copy.deepcopy(b) for b in doc["benchmarks"] if b["suite"] == "pingpong"]
        for b in extra:
            b["cores"] = [1, 0]
            b["run_name"] = b["run_name"].replace("0-1", "1-0")
            b["name"] = b["name"].replace("0-1", "1-0")
            if b.get("floor_ratio") is not None:
                b["floor_ratio"] *= 2
        doc["benchmarks"] += extra
        fig, _ = report.pingpong_ratio_heatmap(qr.runs(doc, "pingpong"), "foot")
        texts = sorted(t.get_text() for t in fig.axes[0].texts)
        self.assertEqual(texts, ["12.00×", "2.00×", "4.00×", "6.00×"])

    def test_footer_names_machine_and_run(self):
        doc = fixtures.make_result()
        foot = report.footer("results/x.json", doc["context"])
        for part in ("testhost", doc["context"]["cpu"]["model"], doc["context"]["date"],
                     doc["context"]["git_sha"][:12], "x.json"):
            self.assertIn(part, foot)


class MedianCiTest(unittest.TestCase):
    def test_small_samples_give_min_max(self):
        lo, hi, cov = qr.median_ci([5, 1, 4, 2, 3])
        self.assertEqual((lo, hi), (1, 5))
        self.assertAlmostEqual(cov, 1 - 2 / 2 ** 5)  # 93.75 %: all 5 on one side is 2/32

    def test_ten_samples_drop_the_extremes(self):
        lo, hi, cov = qr.median_ci(range(10))
        self.assertEqual((lo, hi), (1, 8))
        self.assertAlmostEqual(cov, 1 - 2 * (1 + 10) / 2 ** 10)
        self.assertGreaterEqual(cov, 0.95)
        # the next narrower interval would not reach 95 %
        self.assertLess(1 - 2 * (1 + 10 + 45) / 2 ** 10, 0.95)

    def test_degenerate(self):
        self.assertIsNone(qr.median_ci([]))
        self.assertEqual(qr.median_ci([7.0]), (7.0, 7.0, 0.0))

    def test_with_ci_uses_valid_repetitions_only(self):
        doc = fixtures.make_result(stream=True, invalid={("stream/lamport/0-1/msg:8/cap:1024", 0)})
        run = next(r for r in qr.runs(doc, "stream")
                   if r.run_name == "stream/lamport/0-1/msg:8/cap:1024")
        s = qr.with_ci([run], qr.getter("msgs_per_s"))
        valid = sorted(run.samples("msgs_per_s"))
        self.assertEqual(len(valid), 4)
        self.assertEqual((s.lo, s.hi), (valid[0], valid[-1]))
        self.assertAlmostEqual(s.ci_level, 1 - 2 / 2 ** 4)


class MutantsFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, content):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w" if isinstance(content, str) else "wb") as f:
            f.write(content)
        return path

    def bad_files(self):
        good = fixtures.make_mutants()

        def variant(change):
            d = copy.deepcopy(good)
            change(d)
            return json.dumps(d)
        cases = {
            "truncated": json.dumps(good)[:40],
            "not an object": "[]",
            "no mutants": "{}",
            "caught not a boolean": variant(lambda d: d["mutants"][0].update(caught="yes")),
            "negative seconds": variant(lambda d: d["mutants"][1].update(seconds=-1)),
            "missing tier": variant(lambda d: d["mutants"][2].pop("tier")),
            "duplicate cell": variant(lambda d: d["mutants"].append(dict(d["mutants"][0]))),
            "duplicate clean cell": variant(lambda d: d["clean"].append(dict(d["clean"][1]))),
            "flagged not a boolean": variant(lambda d: d["clean"][0].update(flagged=1)),
            "clean without queue": variant(lambda d: d["clean"][2].pop("queue")),
            # Its row and cells would be the clean queue's: a MISSED mutant shown green.
            "mutant named like a clean row": variant(
                lambda d: d["mutants"][0].update(mutant=f"clean: {d['clean'][0]['queue']}")),
            "NaN": json.dumps(good).replace('"seconds": 1.25', '"seconds": NaN'),
        }
        paths = {label: self.write(f"bad{i}.json", text) for i, (label, text) in
                 enumerate(cases.items())}
        paths["not UTF-8"] = self.write("latin1.json", b'{"mutants": [{"mutant": "\xe9"}]}')
        return paths

    def test_load(self):
        path = self.write("m.json", json.dumps(fixtures.make_mutants()))
        self.assertEqual(len(qr.load_mutants(path)["mutants"]), 8)
        for label, bad in self.bad_files().items():
            with self.subTest(label):
                with self.assertRaises(qr.QmeshError) as cm:
                    qr.load_mutants(bad)
                self.assertNotIn("\n", str(cm.exception))
                self.assertTrue(str(cm.exception).startswith(bad + ": "))

    def test_duplicate_message(self):
        d = fixtures.make_mutants()
        d["mutants"].append(dict(d["mutants"][3]))
        path = self.write("dup.json", json.dumps(d))
        with self.assertRaisesRegex(qr.ValidationError, r"already listed at mutants\[3\]"):
            qr.load_mutants(path)

    def test_scripts_refuse_bad_files(self):
        good = fixtures.write(fixtures.make_result(), os.path.join(self.tmp.name, "good.json"))
        for label, bad in self.bad_files().items():
            with self.subTest(label):
                out = os.path.join(self.tmp.name, "report")
                proc = fixtures.run_script("report.py", good, "--mutants", bad, "-o", out)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertTrue(proc.stderr.startswith(f"report.py: {bad}: "), proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
                self.assertFalse(os.path.exists(out), "output left behind")
                proc = fixtures.run_script("validate.py", "--mutants", bad)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertTrue(proc.stderr.startswith(f"validate.py: {bad}: "), proc.stderr)

    def test_mutants_alone(self):
        path = self.write("m.json", json.dumps(fixtures.make_mutants()))
        out = os.path.join(self.tmp.name, "o")
        status, stdout, stderr = run_in_process("--mutants", path, "-o", out)
        self.assertEqual(status, 0, stderr)
        self.assertEqual([os.path.basename(p) for p in stdout.splitlines()],
                         ["mutants_kill_matrix.png", "summary.md", "report.html"])
        proc = fixtures.run_script("validate.py", "--mutants", path)
        self.assertEqual((proc.returncode, proc.stdout), (0, f"{path}: ok\n"))

    def test_clean_is_optional(self):
        d = fixtures.make_mutants()
        del d["clean"]
        path = self.write("m.json", json.dumps(d))
        out = os.path.join(self.tmp.name, "o")
        status, stdout, stderr = run_in_process("--mutants", path, "-o", out)
        self.assertEqual(status, 0, stderr)
        with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
            summary = f.read()
        self.assertIn("8 of 8 mutant checks caught", summary)
        self.assertNotIn("clean:", summary)
        self.assertNotIn("clean-queue", summary)

    def test_empty_matrix(self):
        path = self.write("m.json", json.dumps({"mutants": [], "clean": []}))
        status, stdout, stderr = run_in_process("--mutants", path, "-o",
                                                os.path.join(self.tmp.name, "o"))
        self.assertEqual(status, 0, stderr)
        with open(stdout.splitlines()[-1], encoding="utf-8") as f:
            self.assertIn("the file lists no mutants", f.read())

    def test_nothing_to_report_is_bad_usage(self):
        proc = fixtures.run_script("report.py", "-o", os.path.join(self.tmp.name, "o"))
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)


class SchemaAdditionsTest(unittest.TestCase):
    """The fields proposed for the schema (schema_additions.json) accept what the suites write
    and refuse what the plots could not read."""

    def setUp(self):
        self.schema = merged_schema()
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_fixtures_validate(self):
        path = fixtures.write(all_new(), os.path.join(self.tmp.name, "new.json"))
        qr.load(path, self.schema)

    def test_old_files_still_validate(self):
        path = fixtures.write(fixtures.make_result(mesh=True, stream=True),
                              os.path.join(self.tmp.name, "old.json"))
        qr.load(path, self.schema)

    def test_corruptions(self):
        doc = all_new()

        def first(suite):
            return next(i for i, b in enumerate(doc["benchmarks"]) if b["suite"] == suite)
        cases = [
            ("load", "offered_fraction", "half"), ("load", "offered_fraction", 0),
            ("kv", "design", "lock-free"), ("kv", "write_fraction", 1.5),
            ("pollscale", "polling", 3), ("pollscale", "virtual_cores", 2.5),
            ("pollscale", "pair_bytes", -8), ("mesh", "receiver_state", "sleepy"),
            ("mesh", "batch_hist", [{"le": 1}]), ("mesh", "batch_hist", {"le": 1, "count": 2}),
            ("mesh", "batch_hist", [{"le": 1, "count": -1}]),
        ]
        for suite, name, value in cases:
            with self.subTest(field=name, value=value):
                d = copy.deepcopy(doc)
                i = first(suite)
                d["benchmarks"][i][name] = value
                path = fixtures.write(d, os.path.join(self.tmp.name, "bad.json"))
                with self.assertRaisesRegex(qr.ValidationError, rf"benchmarks\[{i}\]\.{name}"):
                    qr.load(path, self.schema)

    def test_every_field_the_report_reads_is_proposed_or_known(self):
        with open(ADDITIONS, encoding="utf-8") as f:
            additions = {k for k in json.load(f) if not k.startswith("$")}
        reads = {"offered_fraction", "offered_msgs_per_s", "stream_msgs_per_s", "design",
                 "write_fraction", "polling", "virtual_cores", "poll_ns", "pair_bytes",
                 "receiver_state", "batch_hist", "oversubscribed", "threads"}
        known = set(self.schema["properties"]["benchmarks"]["items"]["properties"])
        self.assertEqual(reads - known, set())
        self.assertTrue(additions <= known)


class CompareLoadTest(unittest.TestCase):
    def test_load_compares_latency_not_the_offered_rate(self):
        with tempfile.TemporaryDirectory() as tmp:
            a = fixtures.write(fixtures.make_result(load=True), os.path.join(tmp, "a.json"))
            slower = fixtures.make_result(load=True, scale={"load/lamport/f0.50/0-1": 1.5})
            b = fixtures.write(slower, os.path.join(tmp, "b.json"))
            proc = fixtures.run_script("compare.py", a, b)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        row = next(line for line in proc.stdout.splitlines()
                   if line.startswith("load/lamport/f0.50/0-1 "))
        self.assertIn("real_time ns (lower is better)", row)
        self.assertIn("REGRESSION", row)
        self.assertEqual(proc.stdout.count("REGRESSION:"), 1)


class ReadmeTest(unittest.TestCase):
    def test_images_exist(self):
        readme = os.path.join(fixtures.PLOTS, "README.md")
        with open(readme, encoding="utf-8") as f:
            links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", f.read())
        self.assertGreaterEqual(len(links), 2)
        for link in links:
            with self.subTest(link):
                self.assertTrue(os.path.isfile(os.path.join(fixtures.PLOTS, link)), link)


if __name__ == "__main__":
    unittest.main()


def fixtures_fields():
    with open(ADDITIONS, encoding="utf-8") as f:
        return [k for k in json.load(f) if not k.startswith("$")]


class WrongTypesTest(unittest.TestCase):
    """Until the schema describes the newer fields, a file may carry them with any type: the
    report must then either refuse it (exit 2, one line) or leave those values out, never
    crash."""

    def test_report_survives_or_refuses(self):
        doc = all_new()
        odd = {"offered_fraction": "half", "receiver_state": 5, "polling": None,
               "batch_hist": "many", "virtual_cores": "n", "pair_bytes": "big", "design": 7,
               "poll_ns": [], "offered_msgs_per_s": {}}
        known = qr.load_schema()["properties"]["benchmarks"]["items"]["properties"]
        odd = {k: v for k, v in odd.items() if k not in known}  # those would be refused
        self.assertTrue(odd or set(fixtures_fields()) <= set(known))
        for i, b in enumerate(doc["benchmarks"]):
            for name, value in odd.items():
                if name in b and i % 3 == 0:
                    b[name] = value
        doc["benchmarks"][0]["batch_hist"] = [{"le": "x", "count": None}, 3]
        with tempfile.TemporaryDirectory() as tmp:
            src = fixtures.write(doc, os.path.join(tmp, "odd.json"))
            out = os.path.join(tmp, "out")
            proc = fixtures.run_script("report.py", src, "-o", out)
            self.assertNotIn("Traceback", proc.stderr)
            self.assertIn(proc.returncode, (0, 2), proc.stderr)
            if proc.returncode == 2:  # the schema knows the fields by now
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertFalse(os.path.exists(out))
            else:
                self.assertTrue(os.path.isfile(os.path.join(out, "report.html")))

    def test_integer_beyond_64_bits_is_refused_not_a_traceback(self):
        # A plotted integer of 20 digits (within the 1e150 limit) made numpy build an array
        # of Python objects, whose log2 or isfinite raised a TypeError at savefig.
        for suite, name in (("stream", "msg_bytes"), ("pollscale", "virtual_cores"),
                            ("pollscale", "pair_bytes"), ("mesh", "batch_hist")):
            with self.subTest(field=name):
                doc = all_new()
                first = next(b["run_name"] for b in doc["benchmarks"] if b["suite"] == suite)
                for b in doc["benchmarks"]:
                    if b["run_name"] == first or name == "batch_hist" and name in b:
                        b[name] = [{"le": 10 ** 20, "count": 1}, {"le": None, "count": 1}] \
                            if name == "batch_hist" else 10 ** 20
                with tempfile.TemporaryDirectory() as tmp:
                    src = fixtures.write(doc, os.path.join(tmp, "big.json"))
                    out = os.path.join(tmp, "out")
                    rc, stdout, stderr = run_in_process(src, "-o", out)
                    self.assertEqual(rc, 2, stderr)
                    self.assertEqual(len(stderr.splitlines()), 1, stderr)
                    self.assertIn("100000000000000000000", stderr)
                    self.assertFalse(os.path.exists(out))

    def test_batch_hist_bound_near_64_bits(self):
        # le 2**63 is a valid uint64; the open bucket drawn one doubling past it (2**64 + 1)
        # is not, and numpy held the positions as Python objects (isfinite raised).
        doc = all_new()
        for b in doc["benchmarks"]:
            if "batch_hist" in b:
                b["batch_hist"] = [{"le": 1, "count": 3}, {"le": 2 ** 63, "count": 2},
                                   {"le": None, "count": 1}]
        runs = qr.runs(doc, "mesh")
        fig, _ = report.mesh_batch_hist(runs, "foot")
        fig.savefig(io.BytesIO(), format="png")
        report.plt().close(fig)
