"""Every committed result file (results/**/*.json) validates, a file of every shape among them
renders, and so does a committed results/mutants.json. Each skipped while there is none.

Rendering is what costs (matplotlib lays out and draws a dozen figures per file, 2-16 s each),
and side-by-side series commit dozens of files laid out alike: the report test renders one file
per shape (shape()), so that a series adds to CI once, not once per file; every file is still
validated, and every file's shape is rendered.
"""

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


def _enum_keys(schema, out: set) -> set:
    """The names of the schema's properties that take one of a fixed set of strings."""
    if isinstance(schema, dict):
        for key, sub in schema.get("properties", {}).items():
            if isinstance(sub, dict) and "enum" in sub:
                out.add(key)
        for sub in schema.values():
            _enum_keys(sub, out)
    elif isinstance(schema, list):
        for sub in schema:
            _enum_keys(sub, out)
    return out


# Strings the report branches on: the schema's enumerations (polling, receiver_state, ...),
# the suite and the queue. Matched by key wherever the key appears: the clock's "name" is
# enumerated, so every entry's "name" counts by its value too (stricter, never looser). Any
# other string (dates, commands, hosts) counts by its type.
_CATEGORIES = _enum_keys(qr.load_schema(), set()) | {"suite", "queue"}


def shape(value, key=None):
    """What the report's code paths depend on in a document: its keys, nesting and value types,
    every element of a list merged into one set, and the values of the categorical strings
    (_CATEGORIES). Files of a side-by-side series share it; a new suite, field, queue, polling
    strategy, or a field that turns from int to float, or is null, makes a new one."""
    if isinstance(value, dict):
        return tuple(sorted((k, shape(v, k)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(sorted({shape(v, key) for v in value}, key=repr)))
    if isinstance(value, str) and key in _CATEGORIES:
        return ("str", value)
    return type(value).__name__


def representatives(paths: list) -> list:
    """The first of paths (in order) of each shape."""
    seen = {}
    for path in paths:
        seen.setdefault(shape(load(path)), path)
    return sorted(seen.values())


class ShapeTest(unittest.TestCase):
    """The dedup above must not merge documents the report treats differently."""

    def test_measured_figures_do_not_count(self):
        a = fixtures.make_result()
        b = fixtures.make_result()
        for entry in b["benchmarks"]:
            entry["real_time"] = entry["real_time"] * 3
        self.assertEqual(shape(a), shape(b))

    def test_a_category_or_a_type_does(self):
        a = fixtures.make_result()
        # An entry with a queue (floor's have none: null), so that a new name is what differs.
        i = next(i for i, e in enumerate(a["benchmarks"]) if isinstance(e["queue"], str))
        for field, value in (("queue", "some-other-queue"), ("suite", "mesh"),
                             ("real_time", None), ("real_time", 1)):
            b = fixtures.make_result()
            b["benchmarks"][i][field] = value
            with self.subTest(field=field, value=value):
                self.assertNotEqual(shape(a), shape(b))


class RealResultsTest(unittest.TestCase):
    def setUp(self):
        self.files = result_files()
        if not self.files:
            self.skipTest("no results/*.json yet")
        self.shown = representatives(self.files)

    def test_validate(self):
        for path in self.files:
            with self.subTest(os.path.relpath(path, RESULTS)):
                load(path)

    def test_report(self):
        mutants = ["--mutants", MUTANTS] if os.path.exists(MUTANTS) else []
        with tempfile.TemporaryDirectory() as tmp:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = report.main(self.shown + mutants + ["-o", os.path.join(tmp, "r")])
            self.assertEqual(status, 0)
            written = out.getvalue().splitlines()
            self.assertEqual(os.path.basename(written[-1]), "report.html")
            for p in written:
                self.assertGreater(os.path.getsize(p), 0, p)
            names = {os.path.basename(p) for p in written}
            for path in self.shown:  # every file gets its plots
                stem = os.path.basename(path)[:-len(".json")]
                self.assertTrue(any(n.startswith(stem) and n.endswith(".png") for n in names),
                                stem)


    def test_every_curve_has_a_label_of_its_own(self):
        # submit measures each queue scanning and by doorbell: two curves per queue, which
        # were both labelled with the queue's name alone.
        import matplotlib.pyplot as plt
        checked = 0
        for path in self.shown:
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
