#!/usr/bin/python3
"""validate.py FILE... [--mutants FILE]: check qmesh result files against
results/qmesh-results.schema.json, and mutant kill matrices (results/mutants.json) against
their format.

Prints "FILE: ok" on stdout for each good file and one line on stderr for each bad one.
Exit status: 0 when every file is valid, 2 when any is not (or on bad usage).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmesh_results as qr  # noqa: E402

PROG = "validate.py"


def main(argv=None) -> int:
    parser = qr.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", metavar="FILE", help="result JSON files")
    parser.add_argument("--mutants", action="append", default=[], metavar="FILE",
                        help="a mutants file ({\"mutants\": [...]}) to check; may be repeated")
    args = parser.parse_args(argv)
    if not args.files and not args.mutants:
        parser.error("give at least one FILE or --mutants FILE")
    try:
        schema = qr.load_schema()
    except qr.QmeshError as e:
        return qr.fail(PROG, e)
    status = 0
    checks = [(p, lambda p: qr.load(p, schema)) for p in args.files] + \
             [(p, qr.load_mutants) for p in args.mutants]
    for path, check in checks:
        try:
            check(path)
        except qr.QmeshError as e:
            status = qr.fail(PROG, e)
            continue
        print(f"{path}: ok", flush=True)
    return status


if __name__ == "__main__":
    qr.quiet_sigpipe()
    qr.paths_on_stdout()
    sys.exit(qr.run_interruptible(PROG, main))
