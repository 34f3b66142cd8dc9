"""Every script refuses bad input the same way: exit 2, one line on stderr, no traceback,
nothing written."""

import json
import os
import signal
import subprocess
import tempfile
import unittest

try:
    from . import fixtures  # discover -s plots/tests -t plots: tests is a package
except ImportError:
    import fixtures  # discover -s plots/tests: modules are top level


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.good = fixtures.write(fixtures.make_result(), os.path.join(cls.tmp.name, "good.json"))
        with open(cls.good) as f:
            good_text = f.read()
        cls.bad = []
        for i, (label, text) in enumerate(fixtures.corruptions(good_text)):
            path = os.path.join(cls.tmp.name, f"bad{i}.json")
            with open(path, "w") as f:
                f.write(text)
            cls.bad.append((label, path))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assertRefused(self, proc, path):
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn(path, lines[0])
        self.assertTrue(lines[0].split(": ")[0].endswith(".py"), lines[0])

    def test_validate(self):
        # One process for all the files (quicker); one line each, in order.
        proc = fixtures.run_script("validate.py", *[path for _, path in self.bad])
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, "")
        self.assertNotIn("Traceback", proc.stderr)
        lines = proc.stderr.splitlines()
        self.assertEqual(len(lines), len(self.bad), proc.stderr)
        for (label, path), line in zip(self.bad, lines):
            with self.subTest(label):
                self.assertTrue(line.startswith(f"validate.py: {path}: "), line)

    def test_a_stop_is_one_line(self):
        # Ctrl-C, kill or a closed terminal while validate.py or compare.py loads a file: one
        # line, status 128 + the signal, no traceback. (Before: a KeyboardInterrupt traceback
        # of some twenty lines, and for kill or a closed terminal no word at all.) The signal
        # is sent from inside the load, so it lands mid-run however fast the machine is.
        code = ("import os, runpy, signal, sys\n"
                "sys.path.insert(0, sys.argv[1])\n"
                "import qmesh_results as qr\n"
                "real, sig = qr.load, getattr(signal, sys.argv[2])\n"
                "def load(*a, **k):\n"
                "    os.kill(os.getpid(), sig)\n"
                "    return real(*a, **k)\n"
                "qr.load = load\n"
                "sys.argv = sys.argv[3:]\n"
                "runpy.run_path(sys.argv[0], run_name='__main__')\n")
        for name, args in (("validate.py", [self.good]), ("compare.py", [self.good, self.good])):
            for sig in ("SIGINT", "SIGTERM", "SIGHUP"):
                with self.subTest(script=name, signal=sig):
                    proc = subprocess.run([fixtures.PYTHON, "-c", code, fixtures.PLOTS, sig,
                                           fixtures.script(name), *args],
                                          capture_output=True, text=True, timeout=120)
                    self.assertEqual(proc.returncode, 128 + getattr(signal, sig), proc.stderr)
                    self.assertEqual(proc.stderr, f"{name}: interrupted by {sig}\n")

    def test_validate_good_and_bad_together(self):
        _, bad = self.bad[0]
        proc = fixtures.run_script("validate.py", self.good, bad)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, f"{self.good}: ok\n")
        self.assertEqual(len(proc.stderr.splitlines()), 1)
        proc = fixtures.run_script("validate.py", self.good)
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, f"{self.good}: ok\n", ""))

    def test_report(self):
        for label, path in self.bad:
            with self.subTest(label):
                with tempfile.TemporaryDirectory() as parent:
                    out = os.path.join(parent, "report")
                    # a good file first: nothing may be written even for it
                    proc = fixtures.run_script("report.py", self.good, path, "-o", out)
                    self.assertRefused(proc, path)
                    self.assertEqual(proc.stdout, "")
                    self.assertEqual(os.listdir(parent), [], "output left behind")

    def test_compare(self):
        for label, path in self.bad:
            with self.subTest(label):
                proc = fixtures.run_script("compare.py", self.good, path)
                self.assertRefused(proc, path)
                self.assertEqual(proc.stdout, "")

    def test_compare_bad_baseline(self):
        _, path = self.bad[0]
        proc = fixtures.run_script("compare.py", path, self.good)
        self.assertRefused(proc, path)
        self.assertEqual(proc.stdout, "")

    def test_version_message(self):
        label, path = next(b for b in self.bad if b[0] == "wrong schema version")
        proc = fixtures.run_script("compare.py", self.good, path)
        self.assertEqual(proc.stderr,
                         f"compare.py: {path}: context.json_schema_version is 2, "
                         f"this script reads 1\n")

    def test_missing_file(self):
        missing = os.path.join(self.tmp.name, "missing.json")
        for name, args in (("validate.py", [missing]), ("compare.py", [self.good, missing]),
                           ("report.py", [missing, "-o", os.path.join(self.tmp.name, "o")])):
            with self.subTest(name):
                self.assertRefused(fixtures.run_script(name, *args), missing)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "o")))

    def test_bad_usage_is_one_line(self):
        for name, args in (("validate.py", []), ("compare.py", [self.good]),
                           ("report.py", [self.good]),
                           ("compare.py", [self.good, self.good, "--threshold", "-1"]),
                           ("compare.py", [self.good, self.good, "--alpha", "1.5"]),
                           ("compare.py", [self.good, self.good, "--threshold", "x"])):
            with self.subTest(name=name, args=args):
                proc = fixtures.run_script(name, *args)
                self.assertEqual(proc.returncode, 2)
                self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)

    def test_report_output_is_a_file(self):
        out = os.path.join(self.tmp.name, "a-file")
        with open(out, "w") as f:
            f.write("keep me")
        proc = fixtures.run_script("report.py", self.good, "-o", out)
        self.assertRefused(proc, out)
        with open(out) as f:
            self.assertEqual(f.read(), "keep me")

    def test_report_output_not_writable(self):
        if os.geteuid() == 0:
            self.skipTest("root writes into any directory")
        with tempfile.TemporaryDirectory() as parent:
            out = os.path.join(parent, "report")
            os.mkdir(out)
            os.chmod(out, 0o555)
            try:
                proc = fixtures.run_script("report.py", self.good, "-o", out)
                self.assertRefused(proc, out)
                self.assertEqual(sorted(os.listdir(parent)), ["report"], "output left behind")
                self.assertEqual(os.listdir(out), [])
            finally:
                os.chmod(out, 0o755)

    def test_report_empty_output(self):
        with tempfile.TemporaryDirectory() as cwd:
            proc = fixtures.run_script("report.py", self.good, "-o", "", cwd=cwd)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)
            self.assertEqual(os.listdir(cwd), [], "report written into the current directory")

    def test_file_names_not_utf8_on_a_strict_stdout(self):
        # Under a UTF-8 locale stdout is strict; a file name with a byte that is not UTF-8
        # (handed over by Python as a surrogate) is printed back as the bytes it is.
        env = dict(os.environ, PYTHONIOENCODING="utf-8:strict")
        name = os.fsdecode(b"r\xe9sultat")
        src = os.path.join(self.tmp.name, name + ".json")
        with open(self.good, "rb") as f, open(src, "wb") as g:
            g.write(f.read())
        out = os.path.join(self.tmp.name, name + "-report")
        for script, args, expected in (
                ("validate.py", [src], os.fsencode(src) + b": ok\n"),
                ("report.py", [src, "-o", out], os.fsencode(out) + b"/report.html\n")):
            with self.subTest(script):
                proc = subprocess.run([fixtures.PYTHON, fixtures.script(script), *args],
                                      capture_output=True, env=env, timeout=120)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertTrue(proc.stdout.endswith(expected), proc.stdout[-200:])

    def test_schema_decides(self):
        """The version the scripts accept comes from the schema file, not from the scripts."""
        with open(os.path.join(fixtures.PLOTS, os.pardir, "results",
                               "qmesh-results.schema.json")) as f:
            schema = json.load(f)
        self.assertEqual(schema["properties"]["context"]["properties"]
                         ["json_schema_version"]["const"], 1)


if __name__ == "__main__":
    unittest.main()
