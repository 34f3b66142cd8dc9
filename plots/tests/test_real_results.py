"""Every committed result file (results/**/*.json) validates and renders, and so does a
committed results/mutants.json. Each skipped while there is none."""

import contextlib
import glob
import io
import os
import tempfile
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
import qmesh_results as qr
import report

RESULTS = os.path.normpath(os.path.join(fixtures.PLOTS, os.pardir, "results"))
MUTANTS = os.path.join(RESULTS, "mutants.json")

_docs = {}


def load(path):
    """qr.load, once per file for this module's tests: each load validates the whole document,
    and side-by-side series put dozens of files under results/."""
    if path not in _docs:
        _docs[path] = qr.load(path)
    return _docs[path]


def result_files():
    """results/*.json and results/*/*.json, except the schema, the mutation table and the
    machine descriptions `qmesh topo --json` writes (*-topo.json)."""
    paths = glob.glob(os.path.join(RESULTS, "*.json")) + \
        glob.glob(os.path.join(RESULTS, "*", "*.json"))
    return sorted(p for p in paths
                  if not p.endswith(".schema.json") and not p.endswith("-topo.json")
                  and os.path.abspath(p) != os.path.abspath(MUTANTS))


class RealResultsTest(unittest.TestCase):
    def setUp(self):
        self.files = result_files()
        if not self.files:
            self.skipTest("no results/*.json yet")

    def test_validate(self):
        for path in self.files:
            with self.subTest(os.path.relpath(path, RESULTS)):
                load(path)

    def test_report(self):
        mutants = ["--mutants", MUTANTS] if os.path.exists(MUTANTS) else []
        with tempfile.TemporaryDirectory() as tmp:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = report.main(self.files + mutants + ["-o", os.path.join(tmp, "r")])
            self.assertEqual(status, 0)
            written = out.getvalue().splitlines()
            self.assertEqual(os.path.basename(written[-1]), "report.html")
            for p in written:
                self.assertGreater(os.path.getsize(p), 0, p)
            names = {os.path.basename(p) for p in written}
            for path in self.files:  # every file gets its plots
                stem = os.path.basename(path)[:-len(".json")]
                self.assertTrue(any(n.startswith(stem) and n.endswith(".png") for n in names),
                                stem)


    def test_every_curve_has_a_label_of_its_own(self):
        # submit measures each queue scanning and by doorbell: two curves per queue, which
        # were both labelled with the queue's name alone.
        import matplotlib.pyplot as plt
        checked = 0
        for path in self.files:
            doc = load(path)
            for suite in ("pingpong", "submit"):
                made = report.pingpong_percentile_curves(qr.runs(doc, suite), "f", suite)
                if made is None:
                    continue
                fig, _ = made
                labels = fig.axes[0].get_legend_handles_labels()[1]
                plt.close(fig)
                with self.subTest(os.path.relpath(path, RESULTS), suite=suite):
                    self.assertEqual(len(labels), len(set(labels)), labels)
                checked += suite == "submit"
        self.assertGreater(checked, 0, "no submit suite among the results")


class RealMutantsTest(unittest.TestCase):
    def test_mutants_file(self):
        if not os.path.exists(MUTANTS):
            self.skipTest("no results/mutants.json yet")
        doc = qr.load_mutants(MUTANTS)
        self.assertTrue(doc["mutants"], "results/mutants.json lists no mutant")


if __name__ == "__main__":
    unittest.main()
