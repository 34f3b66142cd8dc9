"""qmesh_results: the schema validator, strict loading and the grouping helpers."""

import copy
import json
import os
import tempfile
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level
import qmesh_results as qr


class ValidatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = qr.load_schema()

    def problems(self, doc):
        return qr.validate(doc, self.schema)

    def assertRejected(self, doc, *fragments):
        problems = self.problems(doc) or qr._consistency_problems(doc)
        self.assertTrue(problems, "expected the document to be rejected")
        for fragment in fragments:
            self.assertIn(fragment, problems[0])

    def test_fixtures_are_valid(self):
        for kwargs in ({}, {"reps": 3}, {"reps": 20},
                       {"stream": True, "mesh": True, "other": True,
                        "invalid": {"pingpong/mutex/0-1", ("floor/0-1", 2)}}):
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}):
                self.assertEqual(self.problems(fixtures.make_result(**kwargs)), [])

    def test_missing_required(self):
        doc = fixtures.make_result()
        del doc["context"]
        self.assertRejected(doc, "top level", '"context"')
        doc = fixtures.make_result()
        del doc["context"]["cpu"]["model"]
        self.assertRejected(doc, "context.cpu", '"model"')
        doc = fixtures.make_result()
        del doc["benchmarks"][7]["cores"]
        self.assertRejected(doc, "benchmarks[7]", '"cores"')

    def test_types(self):
        doc = fixtures.make_result()
        doc["benchmarks"][0]["valid"] = "yes"
        self.assertRejected(doc, "benchmarks[0].valid", "expected boolean", '"yes"')
        doc = fixtures.make_result()
        doc["benchmarks"][0]["iterations"] = True  # a boolean is not an integer
        self.assertRejected(doc, "benchmarks[0].iterations", "expected integer")
        doc = fixtures.make_result()
        doc["benchmarks"][0]["iterations"] = 1.5
        self.assertRejected(doc, "expected integer")
        doc = fixtures.make_result()
        doc["benchmarks"][0]["iterations"] = 100.0  # JSON Schema: 100.0 is an integer
        self.assertEqual(self.problems(doc), [])
        doc = fixtures.make_result()
        doc["benchmarks"][0]["real_time"] = "150"
        self.assertRejected(doc, "expected number")
        doc = fixtures.make_result()
        doc["benchmarks"][0]["cores"] = "0,1"
        self.assertRejected(doc, "expected array")

    def test_type_lists_and_null(self):
        doc = fixtures.make_result()
        for b in doc["benchmarks"]:
            if "floor_ratio" in b:
                b["floor_ratio"] = None       # ["number", "null"]
        doc["context"]["floor_drift"] = None
        self.assertEqual(self.problems(doc), [])
        doc["benchmarks"][0]["p50_ns"] = None  # "number" only
        self.assertRejected(doc, "benchmarks[0].p50_ns", "expected number")
        doc = fixtures.make_result()
        doc["benchmarks"][0]["queue"] = 3
        self.assertRejected(doc, "expected string or null")

    def test_const_is_type_aware(self):
        doc = fixtures.make_result()
        doc["context"]["json_schema_version"] = True
        self.assertRejected(doc, "context.json_schema_version", "must be 1")
        doc["context"]["json_schema_version"] = 1.0
        self.assertEqual(self.problems(doc), [])

    def test_enum_minimum_min_items(self):
        doc = fixtures.make_result()
        doc["benchmarks"][0]["relation"] = "far-away"
        self.assertRejected(doc, "benchmarks[0].relation", '"far-away" is not one of')
        doc = fixtures.make_result()
        doc["benchmarks"][0]["run_type"] = "Iteration"
        self.assertRejected(doc, "benchmarks[0].run_type")
        doc = fixtures.make_result()
        doc["benchmarks"][2]["cores"] = [0, -1]
        self.assertRejected(doc, "benchmarks[2].cores[1]", "less than the minimum 0")
        doc = fixtures.make_result()
        doc["benchmarks"][2]["cores"] = []
        self.assertRejected(doc, "benchmarks[2].cores", "at least 1")
        doc = fixtures.make_result()
        doc["context"]["suites"] = []
        self.assertRejected(doc, "context.suites")

    def test_aggregate_needs_aggregate_name(self):
        doc = fixtures.make_result()
        i = next(i for i, b in enumerate(doc["benchmarks"]) if b["run_type"] == "aggregate")
        del doc["benchmarks"][i]["aggregate_name"]
        self.assertEqual(self.problems(doc), [])  # the schema cannot say it ...
        self.assertIn(f"benchmarks[{i}]", qr._consistency_problems(doc)[0])  # ... load does

    def test_unknown_schema_keyword_is_refused(self):
        schema = copy.deepcopy(self.schema)
        schema["properties"]["benchmarks"]["items"]["properties"]["name"]["pattern"] = "^x"
        with self.assertRaises(qr.SchemaError) as cm:
            qr.check_schema(schema)
        self.assertIn("pattern", str(cm.exception))
        qr.check_schema(self.schema)  # the real one uses only what is implemented

    def test_version_is_read_from_the_schema(self):
        self.assertEqual(qr.schema_version(self.schema), 1)


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, text, name="r.json", mode="w"):
        path = os.path.join(self.dir.name, name)
        with open(path, mode) as f:
            f.write(text)
        return path

    def load_error(self, text, mode="w"):
        with self.assertRaises(qr.QmeshError) as cm:
            qr.load(self.write(text, mode=mode))
        message = str(cm.exception)
        self.assertNotIn("\n", message)
        self.assertTrue(message.startswith(os.path.join(self.dir.name, "r.json") + ": "))
        return cm.exception

    def test_good_file(self):
        doc = fixtures.make_result()
        self.assertEqual(qr.load(fixtures.write(doc, os.path.join(self.dir.name, "g.json"))),
                         doc)

    def test_version_message(self):
        doc = fixtures.make_result(json_schema_version=2)
        e = self.load_error(json.dumps(doc))
        self.assertIsInstance(e, qr.VersionError)
        self.assertEqual(e.message, "context.json_schema_version is 2, this script reads 1")

    def test_parse_errors(self):
        good = json.dumps(fixtures.make_result(), indent=1)
        self.assertIn("truncated", self.load_error(good[:-40]).message)
        self.assertIn("truncated", self.load_error(good[:500]).message)
        self.assertIsInstance(self.load_error("{]"), qr.ParseError)
        self.assertIn("empty", self.load_error("  \n").message)
        self.assertIn("NaN", self.load_error('{"context": NaN}').message)
        self.assertIn("Infinity", self.load_error('{"context": -Infinity}').message)
        self.assertIn("out of range", self.load_error('{"context": 1e999}').message)
        self.assertIn("duplicate key", self.load_error('{"a": 1, "a": 2}').message)
        self.assertIn("UTF-8", self.load_error(b'{"a": "\xff"}', mode="wb").message)
        self.assertIn("nested too deeply", self.load_error("[" * 100000).message)

    def test_message_stays_one_line(self):
        doc = fixtures.make_result()
        doc["benchmarks"][0]["relation"] = "a\nb"
        e = self.load_error(json.dumps(doc))
        self.assertIsInstance(e, qr.ValidationError)
        self.assertIn('"a\\nb"', e.message)

    def test_counts_further_problems(self):
        doc = fixtures.make_result()
        doc["benchmarks"][0]["valid"] = 1
        doc["benchmarks"][1]["valid"] = 1
        doc["benchmarks"][2]["valid"] = 1
        self.assertIn("(and 2 more problems)", self.load_error(json.dumps(doc)).message)

    def test_unreadable(self):
        with self.assertRaises(qr.ReadError):
            qr.load(os.path.join(self.dir.name, "missing.json"))
        with self.assertRaises(qr.ReadError):
            qr.load(self.dir.name)


class GroupingTest(unittest.TestCase):
    def setUp(self):
        self.doc = fixtures.make_result(invalid={("pingpong/mutex/0-1", 1)})

    def test_iterations_by_run(self):
        groups = qr.iterations_by_run(self.doc["benchmarks"])
        self.assertEqual(list(groups), ["floor/0-1", "floor/1-0", "pingpong/lamport/0-1",
                                        "pingpong/mutex/0-1"])
        for entries in groups.values():
            self.assertEqual([e["repetition_index"] for e in entries], [0, 1, 2, 3, 4])

    def test_iterations_sorted_by_repetition_index(self):
        self.doc["benchmarks"].reverse()
        entries = qr.iterations_by_run(self.doc["benchmarks"])["floor/0-1"]
        self.assertEqual([e["repetition_index"] for e in entries], [0, 1, 2, 3, 4])

    def test_aggregates(self):
        by_name = qr.aggregates_by_name(self.doc["benchmarks"])
        self.assertEqual(sorted(by_name), ["cv", "max", "mean", "median", "min", "stddev"])
        self.assertEqual(len(by_name["median"]), 4)
        self.assertEqual(by_name["median"]["floor/0-1"]["real_time"], 150.0)
        by_run = qr.aggregates_by_run(self.doc["benchmarks"])
        self.assertEqual(len(by_run["pingpong/lamport/0-1"]), 6)

    def test_summary_leaves_out_invalid_reps(self):
        runs = {r.run_name: r for r in qr.runs(self.doc)}
        mutex = runs["pingpong/mutex/0-1"]
        s = mutex.summary("p50")
        self.assertEqual((s.n, s.n_invalid, s.invalid), (4, 1, False))
        rep1 = fixtures.PINGPONG_P50["mutex"] * fixtures.jitter(1)
        self.assertNotIn(rep1, mutex.samples("p50"))
        self.assertEqual(runs["floor/0-1"].summary("p50").median, 150.0)
        self.assertIsNone(runs["floor/0-1"].summary("floor_ratio"))

    def test_summary_falls_back_to_aggregates_then_invalid(self):
        doc = fixtures.make_result()
        doc["benchmarks"] = [b for b in doc["benchmarks"] if b["run_type"] == "aggregate"]
        run = qr.runs(doc, "floor")[0]
        s = run.summary("p50")
        self.assertEqual((s.median, s.source, s.invalid), (150.0, "aggregates", False))
        self.assertEqual(s.lo, 150.0 * min(fixtures.JITTER[:5]))
        doc = fixtures.make_result(invalid={"floor/0-1"})
        s = qr.runs(doc, "floor")[0].summary("p50")
        self.assertTrue(s.invalid)
        self.assertEqual(s.median, 150.0)

    def test_time_units(self):
        entry = {"real_time": 1.5, "time_unit": "us"}
        self.assertEqual(qr.real_time_ns(entry), 1500.0)


if __name__ == "__main__":
    unittest.main()
