"""Every committed result file (results/*.json) validates and renders. Skipped when none."""

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
NOT_RESULTS = {"mutants.json"}  # results/ also holds the schema and the mutation table


def result_files():
    return sorted(p for p in glob.glob(os.path.join(RESULTS, "*.json"))
                  if not p.endswith(".schema.json") and os.path.basename(p) not in NOT_RESULTS)


class RealResultsTest(unittest.TestCase):
    def setUp(self):
        self.files = result_files()
        if not self.files:
            self.skipTest("no results/*.json yet")

    def test_validate(self):
        for path in self.files:
            with self.subTest(os.path.basename(path)):
                qr.load(path)

    def test_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = report.main(self.files + ["-o", os.path.join(tmp, "r")])
            self.assertEqual(status, 0)
            written = out.getvalue().splitlines()
            self.assertEqual(os.path.basename(written[-1]), "report.html")
            for p in written:
                self.assertGreater(os.path.getsize(p), 0, p)


if __name__ == "__main__":
    unittest.main()
