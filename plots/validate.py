#!/usr/bin/python3
"""validate.py FILE...: check qmesh result files against results/qmesh-results.schema.json.

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
    parser.add_argument("files", nargs="+", metavar="FILE", help="result JSON files")
    args = parser.parse_args(argv)
    try:
        schema = qr.load_schema()
    except qr.QmeshError as e:
        return qr.fail(PROG, e)
    status = 0
    for path in args.files:
        try:
            qr.load(path, schema)
        except qr.QmeshError as e:
            status = qr.fail(PROG, e)
            continue
        print(f"{path}: ok", flush=True)
    return status


if __name__ == "__main__":
    qr.quiet_sigpipe()
    sys.exit(main())
