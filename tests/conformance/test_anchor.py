"""Conformance with the anchor, codetracer-python-recorder 0.3.0 (``--format json``).

Every program in ``programs/`` is run three times in the same directory: plain, recorded by
``python -m recorder`` and recorded by ``python -m codetracer_python_recorder --format json``.
Compared, for the main trace file:

* the names of the Functions in Call order (``<toplevel>``, ``<__main__>``, ``f``, ...),
* the (path, line) sequence of the Steps (including the Step 0.3.0 writes before each Call),
* the number of Calls and the number of Returns,

and: both traces are balanced, our stdout and exit status are the plain run's, the anchor's
stdout is the plain run's. They must be equal except where the anchor is wrong: each such
difference is a row of ``ANCHOR_DIFFERENCES`` (the only table of differences), with the
reason and the normalisation applied to both sides before comparing. A row must be observed
in each program it lists, so the table never hides more than it says.

Where it runs: the tox envs ``conformance-py312`` and ``conformance-py313`` install the
anchor and set ``RECORDER_TEST_CONFORMANCE=1``; there a missing anchor FAILS every test.
Elsewhere the module is skipped, unless ``RECORDER_TEST_ANCHOR_PYTHON`` names an interpreter
that has the anchor installed (e.g. a throwaway venv), which runs the suite locally::

    RECORDER_TEST_ANCHOR_PYTHON=/tmp/ctvenv/bin/python python3.12 -m pytest tests/conformance
"""
from __future__ import annotations

import collections
import difflib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Sequence, Tuple

import pytest

import recorder
from recorder.formats.reader import check_balance

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS_DIR = os.path.join(HERE, "programs")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(recorder.__file__)))
ANCHOR_MODULE = "codetracer_python_recorder"
ANCHOR_VERSION = "0.3.0"

#: Set by tox.ini's conformance envs: the anchor must be there, a missing one fails.
IN_CONFORMANCE_ENV = os.environ.get("RECORDER_TEST_CONFORMANCE") == "1"
ANCHOR_PYTHON = os.environ.get("RECORDER_TEST_ANCHOR_PYTHON") or sys.executable

if not IN_CONFORMANCE_ENV and not os.environ.get("RECORDER_TEST_ANCHOR_PYTHON"):
    pytest.skip("conformance with codetracer-python-recorder 0.3.0 runs in the tox envs "
                "conformance-py312/-py313 (RECORDER_TEST_CONFORMANCE=1), or with "
                "RECORDER_TEST_ANCHOR_PYTHON=<a python with the anchor installed>",
                allow_module_level=True)


# -- the programs -------------------------------------------------------------------------------

class Program(NamedTuple):
    script: str
    args: Tuple[str, ...] = ()
    #: the plain run's exit status
    status: int = 0


PROGRAMS = [
    Program("functions.py"),
    Program("recursion.py"),
    Program("generators.py"),
    Program("exceptions_caught.py"),
    Program("exception_uncaught.py", status=1),
    Program("classes.py"),
    Program("closures.py"),
    Program("imports.py"),
    Program("args.py", ("7", "--mode=fast", "35")),
    Program("sys_exit.py", status=3),
    Program("loops.py"),
    Program("threads.py"),
    Program("same_names.py"),
    Program("coroutines.py"),
]


# -- what a trace file says ---------------------------------------------------------------------

#: ("Step", path, line) | ("Call", name, path, line) | ("Return",)
Record = tuple


class Trace(NamedTuple):
    records: List[Record]
    #: (path, line, name) of every Function record
    functions: List[Tuple[str, int, str]]


def read_trace(path: str) -> Trace:
    with open(path, encoding="utf-8") as fh:
        events = json.load(fh)  # every trace.json must load with json.load
    balance = check_balance(events, strict=False)
    assert balance.ok, "%s is not balanced: %s" % (path, balance.problems or balance.open)
    paths: List[str] = []
    functions: List[Tuple[str, int, str]] = []
    records: List[Record] = []
    for event in events:
        (kind, body), = event.items()
        if kind == "Path":
            paths.append(body)
        elif kind == "Function":
            functions.append((paths[body["path_id"]], body["line"], body["name"]))
        elif kind == "Call":
            fpath, fline, name = functions[body["function_id"]]
            records.append(("Call", name, fpath, fline))
        elif kind == "Return":
            records.append(("Return",))
        elif kind == "Step":
            records.append(("Step", paths[body["path_id"]], body["line"]))
    return Trace(records, functions)


class Side(NamedTuple):
    """One recorder's view of one run, as compared."""

    records: List[Record]
    functions: List[Tuple[str, int, str]]
    #: our thread files (``threads/trace-N.json``); always empty for the anchor
    threads: List[Trace]
    #: False: compare Calls and Steps as multisets (set by a normalisation)
    ordered: bool = True

    def calls(self) -> List[str]:
        return [r[1] for r in self.records if r[0] == "Call"]

    def steps(self) -> List[Tuple[str, int]]:
        return [(r[1], r[2]) for r in self.records if r[0] == "Step"]

    def count(self, kind: str) -> int:
        return sum(1 for r in self.records if r[0] == kind)


# -- the differences, where the anchor is wrong (the one table) ---------------------------------

def _names_with_several_definitions(ours: Side) -> set:
    places = collections.defaultdict(set)
    for path, line, name in ours.functions:
        places[name].add((path, line))
    return {name for name, where in places.items() if len(where) > 1}


def _mask_pre_call_steps(records: List[Record], names: set) -> List[Record]:
    out = list(records)
    for i, rec in enumerate(out):
        if rec[0] == "Call" and rec[1] in names and i and out[i - 1][0] == "Step":
            out[i - 1] = ("Step", "(the first line of %s)" % rec[1], 0)
    return out


def name_keys_observed(anchor: Side, ours: Side) -> bool:
    names = _names_with_several_definitions(ours)
    anchor_places = collections.Counter(name for _, _, name in anchor.functions)
    return any(anchor_places[name] == 1 for name in names)


def name_keys_normalise(anchor: Side, ours: Side) -> Tuple[Side, Side]:
    names = _names_with_several_definitions(ours)
    return (anchor._replace(records=_mask_pre_call_steps(anchor.records, names)),
            ours._replace(records=_mask_pre_call_steps(ours.records, names)))


def threads_observed(anchor: Side, ours: Side) -> bool:
    return bool(ours.threads)


def threads_normalise(anchor: Side, ours: Side) -> Tuple[Side, Side]:
    records = list(ours.records)
    for trace in ours.threads:
        # each thread file opens with its own <toplevel> Call and ends with its Return
        body = trace.records
        assert body[0][:2] == ("Call", "<toplevel>") and body[-1] == ("Return",), body[:1]
        records += body[1:-1]
    return anchor._replace(ordered=False), ours._replace(records=records, threads=[],
                                                          ordered=False)


def _synthetic(path: str) -> bool:
    return path.startswith("<")


def synthetic_observed(anchor: Side, ours: Side) -> bool:
    return any(r[0] == "Step" and _synthetic(r[1]) for r in ours.records)


def synthetic_normalise(anchor: Side, ours: Side) -> Tuple[Side, Side]:
    out: List[Record] = []
    dropped: List[bool] = []  # per open Call: was it dropped
    for rec in ours.records:
        if rec[0] == "Step":
            if not _synthetic(rec[1]):
                out.append(rec)
        elif rec[0] == "Call":
            dropped.append(_synthetic(rec[2]))
            if not dropped[-1]:
                out.append(rec)
        elif not dropped.pop():
            out.append(rec)
    return anchor, ours._replace(records=out)


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$")


def anchor_label(name: str) -> str:
    """The documented name mapping: 0.3.0 labels a module ``<` + __name__ + `>`` without
    checking ``__name__``; we label a module whose name is not a dotted identifier
    ``<module>`` (docs/naming.md). Every other name is the same on both sides."""
    if name.startswith("<") and name.endswith(">") and name != "<toplevel>":
        inner = name[1:-1]
        if inner not in ("module", "lambda", "genexpr") and not _DOTTED.match(inner):
            return "<module>"
    return name


def module_names_observed(anchor: Side, ours: Side) -> bool:
    return any(anchor_label(name) != name for _, _, name in anchor.functions)


def module_names_normalise(anchor: Side, ours: Side) -> Tuple[Side, Side]:
    records = [("Call", anchor_label(r[1])) + r[2:] if r[0] == "Call" else r
               for r in anchor.records]
    return anchor._replace(records=records), ours


class Difference(NamedTuple):
    key: str
    programs: Tuple[str, ...]
    anchor: str
    ours: str
    reason: str
    observed: Callable[[Side, Side], bool]
    normalise: Callable[[Side, Side], Tuple[Side, Side]]


ANCHOR_DIFFERENCES: List[Difference] = [
    Difference(
        "function-keys", ("closures.py", "same_names.py"),
        anchor="keys Functions by name alone: every <lambda>, the two `helper`s and the two "
               "class bodies `K` of conf_dup_a/conf_dup_b share one Function record, so the "
               "Step it writes before a Call of the second one points at the FIRST "
               "definition's file and line",
        ours="one Function per (path, first line, name); the pre-Call Step is at the called "
             "code's own first line",
        reason="0.3.0 bug (runtime_tracing ensure_function_id maps name -> id). Compared "
               "after replacing, on both sides, the Step just before a Call of a name defined "
               "in several places by a placeholder; every other Step and all Call names are "
               "compared as they are",
        observed=name_keys_observed, normalise=name_keys_normalise),
    Difference(
        "threads", ("threads.py",),
        anchor="writes every thread into trace.json's one call stack (no thread ids), so "
               "concurrent threads nest inside each other; it also deadlocks now and then "
               "when two threads run traced code at once (GIL against its own lock), so the "
               "program joins each worker before the main thread runs another line",
        ours="one file per thread (threads/trace-N.json, each with its own <toplevel>), "
             "every thread correctly nested",
        reason="0.3.0 bug. Compared: our trace.json plus every thread file without its "
               "<toplevel> Call/Return against the anchor's trace.json, Call names and Steps "
               "as multisets, Call/Return counts exactly",
        observed=threads_observed, normalise=threads_normalise),
    Difference(
        "synthetic-code", ("closures.py",),
        anchor="never records code whose file name is <...> (exec/eval/compile code): "
               "closures.py's exec'd `made` (and its <module>) is invisible",
        ours="records the program's exec/eval code (filter group `synthetic`, on by "
             "default; docs/filters.md), with Path \"<string>\"; code generated by the "
             "standard library (namedtuple, dataclasses) belongs to the standard library and "
             "is not recorded",
        reason="0.3.0 limitation (design-docs/only-real-filenames.md). Compared after "
               "dropping from ours the Steps in <...> files and the Calls (with their "
               "Returns) of functions defined there",
        observed=synthetic_observed, normalise=synthetic_normalise),
    Difference(
        "module-names", ("imports.py",),
        anchor="labels module code <__name__> without validating __name__: the module "
               "loaded by spec_from_file_location(\"conf-plugin\", ...) is <conf-plugin>",
        ours="<module> when the module's name is not a dotted identifier (docs/naming.md; "
             "0.3.0's own ADR 0014 says the same)",
        reason="0.3.0 bug. Compared after mapping the anchor's names with anchor_label()",
        observed=module_names_observed, normalise=module_names_normalise),
]

_KEYS = [d.key for d in ANCHOR_DIFFERENCES]
assert len(set(_KEYS)) == len(_KEYS)
assert all(p in {prog.script for prog in PROGRAMS} for d in ANCHOR_DIFFERENCES
           for p in d.programs)


# -- running ------------------------------------------------------------------------------------

def _child_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECORDER_", "CODETRACER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(python: str, args: Sequence[str], cwd: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([python] + list(args), cwd=cwd, capture_output=True, text=True,
                              env=_child_env(), timeout=120)
    except subprocess.TimeoutExpired as exc:
        pytest.fail("timed out: %s %s" % (python, " ".join(args)))
        raise exc


@pytest.fixture(scope="module")
def anchor_python() -> str:
    probe = subprocess.run(
        [ANCHOR_PYTHON, "-c", "import importlib.metadata as m; print(m.version(%r))"
         % "codetracer-python-recorder"], capture_output=True, text=True, env=_child_env())
    if probe.returncode != 0:
        pytest.fail("the anchor codetracer-python-recorder==%s is not installed for %s (it is "
                    "required here: RECORDER_TEST_CONFORMANCE=1 or RECORDER_TEST_ANCHOR_PYTHON "
                    "is set): %s" % (ANCHOR_VERSION, ANCHOR_PYTHON,
                                     probe.stderr.strip().splitlines()[-1:]))
    version = probe.stdout.strip()
    assert version == ANCHOR_VERSION, "the anchor is %s, not %s" % (version, ANCHOR_VERSION)
    return ANCHOR_PYTHON


def test_anchor_is_installed(anchor_python):
    assert anchor_python


def _diff(a: Sequence, b: Sequence, ordered: bool) -> str:
    if not ordered:
        ca, cb = collections.Counter(a), collections.Counter(b)
        return "only the anchor: %s\nonly ours: %s" % (dict(ca - cb), dict(cb - ca))
    lines = difflib.unified_diff([str(x) for x in a], [str(x) for x in b], "anchor", "ours",
                                 lineterm="", n=2)
    return "\n".join(list(lines)[:60])


#: program -> (work directory, plain run, anchor run): each is run once, for both backends
_RUNS: Dict[str, Tuple[str, subprocess.CompletedProcess, subprocess.CompletedProcess]] = {}


def _plain_and_anchor(program: Program, anchor_python: str, tmp_path_factory: Any
                      ) -> Tuple[str, subprocess.CompletedProcess, subprocess.CompletedProcess]:
    if program.script not in _RUNS:
        work = str(tmp_path_factory.mktemp(program.script[:-3]) / "programs")
        shutil.copytree(PROGRAMS_DIR, work, ignore=shutil.ignore_patterns("__pycache__"))
        plain = _run(sys.executable, [program.script, *program.args], work)
        anchor_run = _run(anchor_python, ["-m", ANCHOR_MODULE, "--format", "json",
                                          "--trace-dir", "trace-anchor", program.script,
                                          *program.args], work)
        _RUNS[program.script] = (work, plain, anchor_run)
    return _RUNS[program.script]


@pytest.mark.parametrize("backend", ["monitoring", "settrace"])
@pytest.mark.parametrize("program", PROGRAMS, ids=[p.script[:-3] for p in PROGRAMS])
def test_same_calls_and_steps_as_the_anchor(program, backend, anchor_python, tmp_path_factory):
    work, plain, anchor_run = _plain_and_anchor(program, anchor_python, tmp_path_factory)
    out = "trace-ours-" + backend
    ours_run = _run(sys.executable, ["-m", "recorder", "--backend", backend, "-o", out,
                                     program.script, *program.args], work)
    assert plain.returncode == program.status, plain.stderr
    assert (ours_run.stdout, ours_run.returncode) == (plain.stdout, plain.returncode), \
        ours_run.stderr
    assert anchor_run.stdout == plain.stdout, anchor_run.stderr

    anchor_trace = read_trace(os.path.join(work, "trace-anchor", "trace.json"))
    ours_trace = read_trace(os.path.join(work, out, "trace.json"))
    threads = [read_trace(p) for p in sorted(
        glob.glob(os.path.join(work, out, "threads", "trace-*.json")))]
    anchor = Side(anchor_trace.records, anchor_trace.functions, [])
    ours = Side(ours_trace.records, ours_trace.functions, threads)

    for difference in ANCHOR_DIFFERENCES:
        if program.script in difference.programs:
            assert difference.observed(anchor, ours), \
                "ANCHOR_DIFFERENCES[%r] lists %s but the difference is not there any more" \
                % (difference.key, program.script)
            anchor, ours = difference.normalise(anchor, ours)
    assert not ours.threads, "thread files that no ANCHOR_DIFFERENCES row accounts for"

    assert anchor.calls()[:2] == ["<toplevel>", "<__main__>"]
    if anchor.ordered:
        same_calls = anchor.calls() == ours.calls()
        same_steps = anchor.steps() == ours.steps()
    else:
        same_calls = collections.Counter(anchor.calls()) == collections.Counter(ours.calls())
        same_steps = collections.Counter(anchor.steps()) == collections.Counter(ours.steps())
    assert same_calls, "Function names in Call order differ:\n" + _diff(
        anchor.calls(), ours.calls(), anchor.ordered)
    assert same_steps, "Step (path, line) sequences differ:\n" + _diff(
        anchor.steps(), ours.steps(), anchor.ordered)
    assert (anchor.count("Call"), anchor.count("Return")) == \
        (ours.count("Call"), ours.count("Return"))


def test_every_difference_names_a_reason():
    for d in ANCHOR_DIFFERENCES:
        assert d.programs and d.anchor and d.ours and d.reason, d.key
