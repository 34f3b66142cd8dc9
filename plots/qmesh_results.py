"""Read qmesh result files: load, validate, group.

A result file is what `qmesh run` writes: {"context": {...}, "benchmarks": [entry, ...]}.
Its contract is the JSON Schema in ../results/qmesh-results.schema.json; this module loads
that schema at run time, so the schema stays the single source of truth, and checks every
file against it with a small validator for the subset of JSON Schema the file uses
(type, required, properties, enum, const, items, minItems, minimum, plus a few trivial
neighbours).  A schema keyword the validator does not know is refused rather than skipped,
so a constraint added to the schema later can never be ignored silently.

Every problem with an input comes out as a QmeshError whose str() is one line,
"PATH: what is wrong", which the scripts print on stderr before exiting with status 2.

Only the standard library is used here; the plotting scripts import matplotlib themselves.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

SCHEMA_PATH = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "results",
    "qmesh-results.schema.json"))

# Conversion of Google Benchmark's time_unit to nanoseconds (a unit definition, not data).
TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# --------------------------------------------------------------------------------------
# Errors

class QmeshError(Exception):
    """A problem with an input (or with the schema); str() is one line, 'PATH: problem'."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(one_line(f"{path}: {message}"))


class ReadError(QmeshError):
    """The file could not be read (missing, a directory, not UTF-8, ...)."""


class ParseError(QmeshError):
    """The file is not JSON (truncated, a syntax error, NaN, duplicate keys, ...)."""


class VersionError(QmeshError):
    """The file declares a json_schema_version other than the one the schema describes."""


class ValidationError(QmeshError):
    """The file is JSON but does not conform to the schema (or to a rule it cannot express)."""


class SchemaError(QmeshError):
    """The schema file itself is unreadable or uses a keyword this validator does not know."""


def one_line(text: str) -> str:
    """Collapse any line breaks so a message is always printed as one line."""
    return " ".join(str(text).split("\n")).replace("\r", " ")


def show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a value for messages (escapes newlines)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------
# JSON Schema subset

# Keywords that only annotate; they never make an instance invalid.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default",
                          "examples", "deprecated", "readOnly", "writeOnly", "format"})
# Keywords this validator implements.
_KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties", "enum",
                       "const", "items", "minItems", "maxItems", "minimum", "maximum",
                       "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"})
_TYPES = frozenset({"null", "boolean", "object", "array", "string", "number", "integer"})


def _json_type(value: Any) -> str:
    """The JSON Schema type name of a decoded JSON value ('integer' for whole numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _has_type(value: Any, name: str) -> bool:
    actual = _json_type(value)
    # JSON Schema 2020-12: an integer is a number, and 1.0 is an integer.
    return actual == name or (name == "number" and actual == "integer")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it for const/enum: true is not 1, 1.0 is 1."""
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return a == b


def check_schema(schema: Any, where: str = "#", source: str = SCHEMA_PATH) -> None:
    """Refuse a schema that uses anything this validator does not implement."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(source, f"{where}: a schema must be an object or a boolean")
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key not in _KEYWORDS:
            raise SchemaError(source, f"{where}: keyword {key!r} is not implemented by "
                                      f"plots/qmesh_results.py; extend its validator")
        if key == "type":
            names = value if isinstance(value, list) else [value]
            for name in names:
                if name not in _TYPES:
                    raise SchemaError(source, f"{where}: unknown type {show(name)}")
        elif key == "properties":
            if not isinstance(value, dict):
                raise SchemaError(source, f"{where}/properties: must be an object")
            for prop, sub in value.items():
                check_schema(sub, f"{where}/properties/{prop}", source)
        elif key in ("items", "additionalProperties"):
            check_schema(value, f"{where}/{key}", source)
        elif key == "required":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SchemaError(source, f"{where}/required: must be a list of strings")
        elif key == "enum":
            if not isinstance(value, list):
                raise SchemaError(source, f"{where}/enum: must be a list")
        elif key in ("minItems", "maxItems", "minLength", "maxLength", "minimum", "maximum",
                     "exclusiveMinimum", "exclusiveMaximum"):
            if not _is_number(value):
                raise SchemaError(source, f"{where}/{key}: must be a number")


def _location(path: list) -> str:
    """'context.cpu.model', 'benchmarks[3].cores[0]'; 'top level' for the root."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "top level"


def _validate(value: Any, schema: Any, path: list, errors: list, limit: int) -> None:
    if len(errors) >= limit:
        return
    if schema is True:
        return
    if schema is False:
        errors.append(f"{_location(path)}: no value is allowed here")
        return
    where = _location(path)

    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_has_type(value, n) for n in names):
            expected = " or ".join(names)
            errors.append(f"{where}: expected {expected}, got {_json_type(value)} {show(value)}")
            return  # the remaining keywords would only repeat the same problem
    if "const" in schema and not json_equal(value, schema["const"]):
        errors.append(f"{where}: must be {show(schema['const'])}, got {show(value)}")
        return
    if "enum" in schema and not any(json_equal(value, v) for v in schema["enum"]):
        allowed = ", ".join(show(v) for v in schema["enum"])
        errors.append(f"{where}: {show(value)} is not one of {allowed}")
        return

    if _is_number(value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {show(value)} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {show(value)} is more than the maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errors.append(f"{where}: {show(value)} must be more than {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            errors.append(f"{where}: {show(value)} must be less than {schema['exclusiveMaximum']}")
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']} characters")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: has {len(value)} items, at least {schema['minItems']} needed")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: has {len(value)} items, at most {schema['maxItems']} allowed")
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(item, schema["items"], path + [i], errors, limit)
    elif isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(f"{where}: missing required field {show(name)}")
        props = schema.get("properties", {})
        for name, sub in props.items():
            if name in value:
                _validate(value[name], sub, path + [name], errors, limit)
        if "additionalProperties" in schema:
            for name in value:
                if name not in props:
                    _validate(value[name], schema["additionalProperties"], path + [name],
                              errors, limit)


def validate(value: Any, schema: Any, limit: int = 100) -> list[str]:
    """All problems (up to limit) of value against schema, each 'location: problem'."""
    errors: list[str] = []
    _validate(value, schema, [], errors, limit)
    return errors


# --------------------------------------------------------------------------------------
# Loading

_schema_cache: dict[str, dict] = {}


def load_schema(path: str = SCHEMA_PATH) -> dict:
    """The results schema, read from results/ and checked to use only known keywords."""
    if path in _schema_cache:
        return _schema_cache[path]
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
    except OSError as e:
        raise SchemaError(path, f"cannot read the results schema: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:
        raise SchemaError(path, f"the results schema is not valid JSON: {e}") from None
    check_schema(schema, "#", path)
    try:
        schema_version(schema)
    except (KeyError, TypeError):
        raise SchemaError(path, "#/properties/context/properties/json_schema_version/const "
                                "is missing; cannot tell which version this schema describes") from None
    _schema_cache[path] = schema
    return schema


def schema_version(schema: dict) -> Any:
    """The json_schema_version the schema pins with const."""
    return schema["properties"]["context"]["properties"]["json_schema_version"]["const"]


class _JsonProblem(ValueError):
    pass


def _no_duplicate_keys(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _JsonProblem(f"duplicate key {show(key)} in an object")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} is not JSON (write null for a missing number)")


@dataclass(frozen=True)
class _OutOfRange:
    """Stands in for a number beyond float range until parse() has found where it stands."""
    text: str


def _finite_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _OutOfRange(text)


def _float_sized_int(text: str) -> Any:
    # The scripts compute with floats, so an integer must convert to one; testing the text
    # with float() first also spares int() a number of over 4300 digits, which it refuses
    # with a ValueError (CPython's guard against slow conversions).
    return int(text) if math.isfinite(float(text)) else _OutOfRange(text)


def _leaves(value: Any, path: list) -> Iterable[tuple]:
    """(path, value) for every value of a decoded document that is not an object or array."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + [key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, path + [i])
    else:
        yield path, value


def _lone_surrogate(value: Any, path: list) -> Optional[list]:
    """The path of the first string (value or key) holding half a UTF-16 surrogate pair."""
    def bad(text: str) -> bool:
        return any("\ud800" <= c <= "\udfff" for c in text)
    if isinstance(value, str):
        return path if bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if bad(key):
                return path + [key]
            found = _lone_surrogate(item, path + [key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, path + [i])
            if found is not None:
                return found
    return None


# A \uXXXX escape of a surrogate; a valid pair decodes to one character, so only a lone half
# is left in the decoded strings, which no UTF-8 output (report, terminal) can then encode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse(text: str, path: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys, no out-of-range numbers, no lone
    UTF-16 surrogates (not Unicode text)."""
    if not text.strip():
        raise ParseError(path, "empty file, expected a JSON object")
    # The decoder cannot say where a number stands, so an out-of-range one is decoded as a
    # marker and found by a walk of the document afterwards; the walk costs most of a parse,
    # so it is taken only when the decoder met such a number.
    out_of_range = []

    def noting(convert):
        def hook(text):
            value = convert(text)
            if isinstance(value, _OutOfRange):
                out_of_range.append(value)
            return value
        return hook

    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys,
                         parse_constant=_reject_constant, parse_float=noting(_finite_float),
                         parse_int=noting(_float_sized_int))
        for where, value in _leaves(doc, []) if out_of_range else ():
            if isinstance(value, _OutOfRange):
                number = value.text if len(value.text) <= 40 else \
                    f"{value.text[:20]}... ({len(value.text)} characters)"
                raise ParseError(path, f"{_location(where)}: number {number} is out of range "
                                       f"(beyond {sys.float_info.max:.4g}, the largest float)")
        # The walk is taken only when the text has such an escape (rare), as above.
        where = _lone_surrogate(doc, []) if _SURROGATE_ESCAPE.search(text) else None
        if where is not None:
            raise ParseError(path, f"not valid JSON: {_location(where)}: a \\u escape of half "
                                   f"a UTF-16 surrogate pair, not a character")
        return doc
    except _JsonProblem as e:
        raise ParseError(path, f"not valid JSON: {e}") from None
    except json.JSONDecodeError as e:
        where = f"line {e.lineno} column {e.colno}"
        # The decoder reports an unterminated string at its opening quote; it only
        # happens when the text ends inside the string.
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
            end = text.rstrip()
            last = f"line {end.count(chr(10)) + 1}"
            raise ParseError(path, f"truncated JSON: the text stops at {last} before the "
                                   f"document is complete ({e.msg}, {where})") from None
        raise ParseError(path, f"not valid JSON: {e.msg} ({where})") from None
    except RecursionError:
        raise ParseError(path, "not valid JSON for qmesh: nested too deeply") from None


def check_document(doc: Any, path: str, schema: dict) -> dict:
    """Validate a decoded document; returns it, or raises a QmeshError."""
    expected = schema_version(schema)
    context = doc.get("context") if isinstance(doc, dict) else None
    if isinstance(context, dict) and "json_schema_version" in context:
        found = context["json_schema_version"]
        if not json_equal(found, expected):
            raise VersionError(path, f"context.json_schema_version is {show(found)}, "
                                     f"this script reads {show(expected)}")
    errors = validate(doc, schema)
    if not errors:
        errors = _consistency_problems(doc)
    if errors:
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" \
            if len(errors) > 1 else ""
        raise ValidationError(path, errors[0] + more)
    return doc


# No figure qmesh records comes near this (a day is 1e14 ns, a counter ends at 1.8e19); a
# larger one is a corrupt file, and products, sums and axis margins of such values overflow
# to inf in the plots' arithmetic, which matplotlib cannot draw.
MAX_MAGNITUDE = 1e150
# qmesh writes integers as int64 or uint64. A JSON integer beyond those stays a Python int,
# which numpy can hold only as an object: a plot of it raises (log2, isfinite) at savefig.
INT_RANGE = (-2 ** 63, 2 ** 64 - 1)


def _consistency_problems(doc: dict) -> list[str]:
    """Rules the schema cannot express in the subset it uses."""
    problems = []
    for where, value in _leaves(doc, []):
        if _is_number(value) and abs(value) > MAX_MAGNITUDE:
            problems.append(f"{_location(where)}: {show(value)} is beyond any measurement "
                            f"(more than {MAX_MAGNITUDE:g} in magnitude)")
        elif isinstance(value, int) and not isinstance(value, bool) \
                and not INT_RANGE[0] <= value <= INT_RANGE[1]:
            problems.append(f"{_location(where)}: integer {show(value)} is beyond 64 bits "
                            f"(qmesh writes int64 or uint64: {INT_RANGE[0]} to {INT_RANGE[1]})")
    sets: dict[str, dict[str, int]] = {}  # run_name -> aggregate_name -> index
    for i, entry in enumerate(doc["benchmarks"]):
        if entry["run_type"] != "aggregate":
            continue
        if "aggregate_name" not in entry:
            problems.append(f"benchmarks[{i}]: run_type is \"aggregate\" but "
                            f"aggregate_name is missing")
            continue
        # A second aggregate of a name would silently replace the first when the scripts
        # group by run_name: two configurations then share one, and their figures mix.
        seen = sets.setdefault(entry["run_name"], {})
        name = entry["aggregate_name"]
        if name in seen:
            problems.append(f"benchmarks[{i}]: a second {show(name)} aggregate of run_name "
                            f"{show(entry['run_name'])} (the first is benchmarks[{seen[name]}]); "
                            f"each configuration needs its own run_name")
        seen.setdefault(name, i)
    problems += _shared_run_name_problems(doc)
    # The plots draw an aggregates-only run as its median with min/max bars around it.
    for run_name, seen in sets.items():
        if not {"median", "min", "max"} <= seen.keys():
            continue
        med, lo, hi = (doc["benchmarks"][seen[k]] for k in ("median", "min", "max"))
        for key, m in med.items():
            if _is_number(m) and _is_number(lo.get(key)) and _is_number(hi.get(key)) \
                    and not lo[key] <= m <= hi[key]:
                problems.append(f"benchmarks[{seen['median']}].{key}: the median {show(m)} "
                                f"of run_name {show(run_name)} lies outside its min "
                                f"{show(lo[key])} and max {show(hi[key])}")
    return problems


# The fields that say which configuration an entry measured (not what it measured): every
# entry of one run_name must agree on them, or the scripts, which group by run_name, would
# pool two configurations' repetitions into one figure. Not `repetitions`: a repetition says
# how many were asked for, an aggregate how many valid ones it is made of (fewer after an
# invalid repetition or an interrupted run).
CONFIG_FIELDS = ("suite", "queue", "cores", "relation", "time_unit", "msg_bytes",
                 "capacity", "batch", "oversubscribed", "design", "write_fraction", "polling",
                 "virtual_cores", "receiver_state", "offered_fraction")
_ABSENT = object()


def _shared_run_name_problems(doc: dict) -> list[str]:
    """Two configurations under one run_name, or one repetition twice: seen in the entries
    themselves, iterations and aggregates alike (the aggregates' own check above only sees a
    second aggregate of a name)."""
    problems = []
    first: dict[str, int] = {}                 # run_name -> index of its first entry
    reps: dict[tuple[str, int], int] = {}      # (run_name, repetition_index) -> index
    for i, entry in enumerate(doc["benchmarks"]):
        run_name = entry["run_name"]
        j = first.setdefault(run_name, i)
        if j != i:
            other = doc["benchmarks"][j]
            for key in CONFIG_FIELDS:
                mine, theirs = entry.get(key, _ABSENT), other.get(key, _ABSENT)
                if mine is not _ABSENT and theirs is not _ABSENT and mine != theirs:
                    problems.append(f"benchmarks[{i}]: run_name {show(run_name)} has {key} "
                                    f"{show(mine)}, but benchmarks[{j}] of the same run_name "
                                    f"has {show(theirs)}; each configuration needs its own "
                                    f"run_name")
                    break
        if entry["run_type"] == "iteration" and _is_number(entry.get("repetition_index")):
            k = reps.setdefault((run_name, entry["repetition_index"]), i)
            if k != i:
                problems.append(f"benchmarks[{i}]: repetition_index "
                                f"{show(entry['repetition_index'])} of run_name {show(run_name)} "
                                f"again (the first is benchmarks[{k}]); each configuration "
                                f"needs its own run_name")
    return problems


def read_text(path: str) -> str:
    """The file's text; ReadError if it cannot be read, ParseError if it is not UTF-8."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ReadError(path, f"cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(path, f"not valid JSON: not UTF-8 text (byte {e.start})") from None


def load(path: str, schema: Optional[dict] = None) -> dict:
    """Read, parse and validate one result file. Raises a QmeshError subclass."""
    if schema is None:
        schema = load_schema()
    text = read_text(path)
    return check_document(parse(text, path), path, schema)


# --------------------------------------------------------------------------------------
# Command-line helpers shared by the scripts

class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {one_line(message)} (see --help)\n")


def quiet_sigpipe() -> None:
    """Die quietly like a C tool when stdout is a closed pipe (`compare.py a b | head`)."""
    import signal
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like KeyboardInterrupt (a BaseException too, so no
    `except Exception` on the way swallows it), and what a script had half written goes."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def run_interruptible(prog: str, main: Callable[[], int], install_handlers: bool = True) -> int:
    """main(), with a stop (Ctrl-C, kill, a closed terminal) said in one line instead of a
    traceback: exit status 128 + the signal. SIGTERM and SIGHUP raise Interrupted, by handlers
    installed here unless install_handlers is False (report.py installs its own, which also
    note the signal for its cleanup)."""
    import signal

    def stop(signum, _frame):
        raise Interrupted(signum)
    installed = {}
    for name in ("SIGTERM", "SIGHUP") if install_handlers else ():
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            installed[sig] = signal.signal(sig, stop)
    try:
        return main()
    except KeyboardInterrupt:
        signum = signal.SIGINT
    except Interrupted as e:
        signum = e.signum
    finally:
        for sig, old in installed.items():
            signal.signal(sig, old)
    print(f"{prog}: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
    return 128 + signum


def paths_on_stdout() -> None:
    """Print file names as the bytes they are. Python hands over a name that is not UTF-8
    with its odd bytes as surrogates (os.fsdecode), which a stdout in strict mode (the
    default under a UTF-8 locale) refuses with a traceback; surrogateescape writes them back
    as the original bytes. stderr already escapes them (backslashreplace)."""
    if getattr(sys.stdout, "errors", None) == "strict" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")


def fail(prog: str, error: Any) -> int:
    """Print one line on stderr and return the exit status for bad input (2)."""
    print(f"{prog}: {one_line(str(error))}", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------------------
# Grouping

def real_time_ns(entry: dict) -> float:
    """An entry's real_time converted from its time_unit to nanoseconds."""
    return entry["real_time"] * TIME_UNIT_NS[entry["time_unit"]]


def iteration_entries(benchmarks: Iterable[dict]) -> list[dict]:
    return [b for b in benchmarks if b["run_type"] == "iteration"]


def iterations_by_run(benchmarks: Iterable[dict]) -> dict[str, list[dict]]:
    """run_name -> its iteration entries, in repetition order (file order where absent)."""
    groups: dict[str, list[dict]] = {}
    for b in benchmarks:
        if b["run_type"] == "iteration":
            groups.setdefault(b["run_name"], []).append(b)
    for entries in groups.values():
        entries.sort(key=lambda e: e.get("repetition_index", 0))  # stable: file order kept
    return groups


def aggregates_by_run(benchmarks: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """run_name -> aggregate_name -> aggregate entry."""
    groups: dict[str, dict[str, dict]] = {}
    for b in benchmarks:
        if b["run_type"] == "aggregate" and "aggregate_name" in b:
            groups.setdefault(b["run_name"], {})[b["aggregate_name"]] = b
    return groups


def aggregates_by_name(benchmarks: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """aggregate_name -> run_name -> aggregate entry."""
    groups: dict[str, dict[str, dict]] = {}
    for b in benchmarks:
        if b["run_type"] == "aggregate" and "aggregate_name" in b:
            groups.setdefault(b["aggregate_name"], {})[b["run_name"]] = b
    return groups


def suites(doc: dict) -> list[str]:
    """Suite names in order of first appearance."""
    seen: dict[str, None] = {}
    for b in doc["benchmarks"]:
        seen.setdefault(b["suite"], None)
    return list(seen)


Getter = Callable[[dict], Optional[float]]


def getter(field_name: str) -> Getter:
    """Read a numeric field of an entry; 'real_time' comes back in ns.

    'p50' reads p50_ns and falls back to real_time, which for the floor and pingpong suites
    is the round-trip p50 (the results contract)."""
    def get(entry: dict) -> Optional[float]:
        if field_name == "real_time":
            return real_time_ns(entry)
        if field_name == "p50":
            v = entry.get("p50_ns")
            return float(v) if _is_number(v) else real_time_ns(entry)
        v = entry.get(field_name)
        return float(v) if _is_number(v) else None
    return get


@dataclass
class Summary:
    """One figure of one or more runs: median with min and max over repetitions.

    invalid is True when the figure could only be taken from entries marked invalid;
    n_invalid counts the invalid repetitions that were left out otherwise."""
    median: float
    lo: float
    hi: float
    n: int
    invalid: bool = False
    n_invalid: int = 0
    source: str = "iterations"
    # Set by with_ci(): lo/hi are then a confidence interval of the median, not min/max.
    ci_level: Optional[float] = None


def summarize(runs: Iterable["Run"], get: Getter) -> Optional[Summary]:
    """Pool the repetitions of runs: prefer valid iteration entries, then valid aggregates,
    and only as a last resort invalid data (flagged invalid=True). None if no data."""
    runs = list(runs)
    n_invalid = sum(len(r.invalid_iterations) for r in runs)
    valid = [v for r in runs for e in r.valid_iterations if (v := get(e)) is not None]
    if valid:
        return Summary(statistics.median(valid), min(valid), max(valid), len(valid),
                       False, n_invalid)
    for want_valid in (True, False):
        meds, los, his, n = [], [], [], 0
        for r in runs:
            med = r.aggregates.get("median")
            if med is None or bool(med["valid"]) != want_valid or get(med) is None:
                continue
            m = get(med)
            meds.append(m)
            lo_e, hi_e = r.aggregates.get("min"), r.aggregates.get("max")
            los.append(get(lo_e) if lo_e is not None and get(lo_e) is not None else m)
            his.append(get(hi_e) if hi_e is not None and get(hi_e) is not None else m)
            n += med["repetitions"]
        if meds:
            return Summary(statistics.median(meds), min(los), max(his), n,
                           not want_valid, n_invalid, "aggregates")
        if want_valid:
            bad = [v for r in runs for e in r.invalid_iterations if (v := get(e)) is not None]
            if bad:
                return Summary(statistics.median(bad), min(bad), max(bad), len(bad),
                               True, n_invalid)
    return None


@dataclass
class Run:
    """All entries sharing one run_name: the repetitions and the aggregates over them."""
    run_name: str
    suite: str
    queue: Optional[str]
    cores: tuple
    relation: str
    iterations: list = field(default_factory=list)
    aggregates: dict = field(default_factory=dict)

    @property
    def entries(self) -> list:
        return self.iterations + list(self.aggregates.values())

    @property
    def valid_iterations(self) -> list:
        return [e for e in self.iterations if e["valid"]]

    @property
    def invalid_iterations(self) -> list:
        return [e for e in self.iterations if not e["valid"]]

    @property
    def any_invalid(self) -> bool:
        return any(not e["valid"] for e in self.entries)

    @property
    def all_invalid(self) -> bool:
        if self.iterations:
            return not self.valid_iterations
        return all(not e["valid"] for e in self.entries)

    @property
    def error_messages(self) -> list:
        seen: dict[str, None] = {}
        for e in self.entries:
            if not e["valid"] and e.get("error_message"):
                seen.setdefault(e["error_message"], None)
        return list(seen)

    def param(self, name: str) -> Any:
        """A configuration field (msg_bytes, capacity, batch, ...) of the run, or None."""
        for e in self.entries:
            if name in e:
                return e[name]
        return None

    def summary(self, field_name: str) -> Optional[Summary]:
        return summarize([self], getter(field_name))

    def samples(self, field_name: str, valid_only: bool = True) -> list[float]:
        get = getter(field_name)
        source = self.valid_iterations if valid_only else self.iterations
        return [v for e in source if (v := get(e)) is not None]


def with_ci(run_list: Iterable["Run"], get: Getter, level: float = 0.95) -> Optional[Summary]:
    """summarize(), with lo/hi replaced by median_ci() of the valid repetitions when the
    figure comes from repetitions (ci_level = the interval's coverage); unchanged (min/max)
    when it comes from aggregates or invalid data."""
    run_list = list(run_list)
    s = summarize(run_list, get)
    if s is None or s.invalid or s.source != "iterations":
        return s
    values = [v for r in run_list for e in r.valid_iterations if (v := get(e)) is not None]
    ci = median_ci(values, level)
    if ci is not None:
        s.lo, s.hi, s.ci_level = ci
    return s


def runs(doc: dict, suite: Optional[str] = None) -> list[Run]:
    """The runs of a document (optionally of one suite), in order of first appearance."""
    out: dict[str, Run] = {}
    for b in doc["benchmarks"]:
        if suite is not None and b["suite"] != suite:
            continue
        run = out.get(b["run_name"])
        if run is None:
            run = out[b["run_name"]] = Run(b["run_name"], b["suite"], b["queue"],
                                           tuple(b["cores"]), b["relation"])
        if b["run_type"] == "iteration":
            run.iterations.append(b)
        elif "aggregate_name" in b:
            run.aggregates[b["aggregate_name"]] = b
    for run in out.values():
        run.iterations.sort(key=lambda e: e.get("repetition_index", 0))
    return list(out.values())


def text_param(run: Run, name: str, default: Optional[str] = None) -> Optional[str]:
    """A string configuration field of a run (receiver_state, polling, design, ...), or default
    when absent or not a string (old files lack the newer fields)."""
    v = run.param(name)
    return v if isinstance(v, str) else default


def flag_param(run: Run, name: str) -> bool:
    """True when any entry of the run carries the boolean field set (e.g. oversubscribed)."""
    return any(e.get(name) is True for e in run.entries)


# --------------------------------------------------------------------------------------
# Confidence interval of a median (distribution-free)

def median_ci(samples: Iterable[float], level: float = 0.95) -> Optional[tuple]:
    """(lo, hi, coverage): the narrowest order-statistic interval [x(k), x(n+1-k)] whose
    coverage of the population median is at least level, or [min, max] with its (smaller)
    coverage when n is too small to reach level. None without samples.

    Coverage = 1 - 2 P(B <= k-1), B ~ Binomial(n, 1/2): the median lies below x(k) only if
    fewer than k samples fall below it (the sign-test interval; see e.g. Conover, Practical
    Nonparametric Statistics, ch. 3.2). Needs no assumption about the distribution, which
    suits repetition counts of 3 to 10 drawn from skewed timing distributions."""
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        return None
    total = 2 ** n

    def coverage(k: int) -> float:  # interval [x(k), x(n+1-k)], 1-based
        below = sum(math.comb(n, i) for i in range(k))
        return max(0.0, 1.0 - 2.0 * below / total)

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return xs[k - 1], xs[n - k], coverage(k)


# --------------------------------------------------------------------------------------
# Queue families

# The registry's families (queues/include/qmesh/queues/registry.hpp; `qmesh list --json`):
# own = the project's lock-free queues, peer = lock-free queues from other projects,
# lock = locking baselines. A result file whose context lists the queues with their family
# (context.queues: [{"name", "family", ...}], the output of `qmesh list --json`) overrides
# this table, so a queue added later is classified without editing this file.
FAMILIES = {
    "lamport": "own", "cached": "own", "fastforward": "own", "batched": "own", "seastar": "own",
    "boost_spsc": "peer", "moodycamel_rwq": "peer", "moodycamel_cq": "peer",
    "tbb_bounded": "peer", "boost_mpmc": "peer",
    "mutex": "lock", "spin": "lock", "mutex_cv": "lock", "inbox": "lock",
}
LOCK_FREE_FAMILIES = ("own", "peer")


def families(doc: dict) -> dict:
    """queue name -> family ('own' | 'peer' | 'lock'), the file's own list taking precedence."""
    out = dict(FAMILIES)
    listed = doc.get("context", {}).get("queues")
    if isinstance(listed, list):
        for q in listed:
            if isinstance(q, dict) and isinstance(q.get("name"), str) \
                    and q.get("family") in ("own", "peer", "lock"):
                out[q["name"]] = q["family"]
    return out


# --------------------------------------------------------------------------------------
# results/mutants.json: the verification kill matrix

# Written by proptests' qmesh_mutants runner; its contract is DESIGN.md's
# {"mutants": [{"mutant", "defect", "tier", "caught", "seconds"}, ...]}. Kept here (not in
# results/qmesh-results.schema.json, which describes run files) and checked with the same
# validator. Extra fields are allowed and ignored.
MUTANTS_SCHEMA = {
    "type": "object",
    "required": ["mutants"],
    "properties": {
        "mutants": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["mutant", "defect", "tier", "caught", "seconds"],
                "properties": {
                    "mutant": {"type": "string", "minLength": 1},
                    "defect": {"type": "string"},
                    "tier": {"type": "string", "minLength": 1},
                    "caught": {"type": "boolean"},
                    "seconds": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
        # The false-alarm checks: each tier run against a correct queue (optional).
        "clean": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["queue", "tier", "flagged", "seconds"],
                "properties": {
                    "queue": {"type": "string", "minLength": 1},
                    "tier": {"type": "string", "minLength": 1},
                    "flagged": {"type": "boolean"},
                    "seconds": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
    },
}


def load_mutants(path: str) -> dict:
    """Read, parse and validate a mutants file; raises a QmeshError subclass.

    Beyond the schema: a (mutant, tier) pair, or a (clean queue, tier) pair, appears at most
    once, since the matrix has one cell for it; and no mutant is named like a clean queue's
    row ("clean: QUEUE"), which would share its row and cells."""
    text = read_text(path)
    doc = parse(text, path)
    errors = validate(doc, MUTANTS_SCHEMA)
    if not errors:
        seen: dict = {}
        for i, m in enumerate(doc["mutants"]):
            if m["mutant"].startswith("clean: "):
                errors.append(f"mutants[{i}]: mutant name {show(m['mutant'])} is how the "
                              f"report names a clean queue's row; rename the mutant")
            key = (m["mutant"], m["tier"])
            if key in seen:
                errors.append(f"mutants[{i}]: mutant {show(m['mutant'])} with tier "
                              f"{show(m['tier'])} already listed at mutants[{seen[key]}]")
            seen.setdefault(key, i)
        for i, c in enumerate(doc.get("clean", [])):
            key = ("clean", c["queue"], c["tier"])
            if key in seen:
                errors.append(f"clean[{i}]: queue {show(c['queue'])} with tier "
                              f"{show(c['tier'])} already listed at clean[{seen[key]}]")
            seen.setdefault(key, i)
    if errors:
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" \
            if len(errors) > 1 else ""
        raise ValidationError(path, f"not a mutants file: {errors[0]}{more}")
    return doc
