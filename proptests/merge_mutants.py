#!/usr/bin/python3
"""Merges the per-preset parts written by qmesh_mutants into results/mutants.json.

Usage: merge_mutants.py [--readme README.md] OUT.json PART.json [PART.json ...]
Writes {"mutants": [...], "clean": [...]} (mutants in part order: dev, asan, tsan)
atomically; with --readme, also rewrites the table between the README's
"<!-- mutants:begin -->" and "<!-- mutants:end -->" lines from the same data. Exit 1 if a mutant survived or a clean check was flagged, 2 if a part
is missing or malformed (one line on stderr, nothing written).
"""
import json
import os
import sys


def fail(msg):
    print(f"merge_mutants: {msg}", file=sys.stderr)
    sys.exit(2)


BEGIN, END = "<!-- mutants:begin -->", "<!-- mutants:end -->"


def table(mutants, clean):
    rows = ["| mutant | defect | tier | caught | seconds |", "|---|---|---|---|---|"]
    for m in mutants:
        rows.append(f'| `{m["mutant"]}` | {m["defect"]} | {m["tier"]} | {"yes" if m["caught"] else "**no**"} '
                    f'| {m["seconds"]:.2f} |')
    rows.append("")
    rows.append("Clean originals under the same tiers: " + ", ".join(
        f'{c["queue"]} ({c["tier"]}: {"**flagged**" if c["flagged"] else "passed"})' for c in clean) + ".")
    return "\n".join(rows)


def rewrite_readme(path, text):
    try:
        with open(path) as f:
            doc = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if BEGIN not in doc or END not in doc:
        fail(f"{path}: no {BEGIN} ... {END} lines to replace")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
    os.replace(tmp, path)


def main(argv):
    args = argv[1:]
    readme = None
    if args[:1] == ["--readme"]:
        if len(args) < 2:
            fail("--readme needs a file")
        readme, args = args[1], args[2:]
    if len(args) < 2:
        fail("usage: merge_mutants.py [--readme README.md] OUT.json PART.json [PART.json ...]")
    out, parts = args[0], args[1:]
    mutants, clean = [], []
    for path in parts:
        try:
            with open(path) as f:
                part = json.load(f)
            ms, cs = part["mutants"], part["clean"]
            for m in ms:
                if not (isinstance(m["mutant"], str) and isinstance(m["defect"], str) and isinstance(m["tier"], str)
                        and isinstance(m["caught"], bool) and isinstance(m["seconds"], (int, float))):
                    raise ValueError(f"bad row {m}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            fail(f"{path}: not a qmesh_mutants part ({e}); run make test first")
        mutants += ms
        clean += cs
    names = [m["mutant"] for m in mutants]
    if len(set(names)) != len(names):
        fail("a mutant appears in two parts")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"mutants": mutants, "clean": clean}, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)
    if readme:
        rewrite_readme(readme, table(mutants, clean))
    survived = [m["mutant"] for m in mutants if not m["caught"]]
    flagged = [f'{c["queue"]} ({c["tier"]})' for c in clean if c["flagged"]]
    print(f"{out}: {len(mutants)} mutants, {len(mutants) - len(survived)} caught; "
          f"{len(clean)} clean checks, {len(flagged)} flagged")
    if survived or flagged:
        print(f"merge_mutants: survived: {survived}; clean flagged: {flagged}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
