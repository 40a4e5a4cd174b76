"""Cross-version golden streams: each scenario of tests/scenarios/ gives the same classified
stream on every interpreter from 3.8 to 3.13, modulo the version differences listed in
DIFFERENCES.

The classified stream of a run is, per (session, thread), every event but LINE with its
label, nesting and value: the activations (CALL, RESUME, ATTACH), how each one ends (RETURN,
YIELD, UNWIND, DETACH, with the value or exception) and every exception raised and handled
(RAISE, HANDLED), after the cross-version rules X1 (3.12 inlined list/set/dict
comprehensions, PEP 709), X2 (the 3.13 close fast path, gh-111107) and X3 (the StopIteration
3.8/3.9 report when a for loop exhausts a generator that returned None):
``streams.classified_tree``. So a wrong classification on any interpreter (a yield taken for
a return, an unwind for a return, a lost or extra exception) fails here, not only a wrong
call tree. The streams are compared with tests/golden/<scenario>.txt, written by
``python tests/make_golden.py`` (its header says which interpreter and backend wrote it).

The recording backend is the one a user gets on this interpreter (``auto``), or the one
forced by RECORDER_BACKEND (the tox per-backend runs), so on 3.12+ the golden streams are
checked under both backends across the CI matrix.

Line numbers are left out, so the 3.8/3.9 line attribution differences (pre-PEP 626 ``with``
exits and ``return`` in ``try/finally``) do not matter here; they are covered, per
interpreter, by the differential suite.
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Callable, List, NamedTuple, Tuple

import pytest

import scenario_runs
import streams
from recorder import env

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_DIR = os.path.join(HERE, "golden")
NAMES = scenario_runs.scenario_names()
VERSION = sys.version_info[:2]


def default_backend() -> str:
    forced = (os.environ.get("RECORDER_BACKEND") or "").strip().lower()
    if forced in ("monitoring", "settrace"):
        return forced
    return "monitoring" if env.HAS_MONITORING else "settrace"


BACKEND = default_backend()


# -- tree transformations used by the table ----------------------------------------------------

def _depth(line: str) -> int:
    return (len(line) - len(line.lstrip(" "))) // 2


def _kind(line: str) -> str:
    return line.split()[0] if line.strip() else ""


def _label(line: str) -> str:
    parts = line.split()
    return parts[1] if len(parts) > 1 else ""


def drop_subtrees(*labels: str) -> Callable[[List[str]], List[str]]:
    """Remove the activations with these labels: the opening line, everything under it and
    the line that closes it (at the opening's depth)."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        cut = None
        for line in tree:
            if line.startswith("=="):
                cut = None
                out.append(line)
                continue
            if cut is not None:
                if _depth(line) > cut:
                    continue
                if _depth(line) == cut and _kind(line) in streams.CLOSING:
                    cut = None
                    continue
                cut = None
            if _label(line) in labels and _kind(line) in streams.OPENING:
                cut = _depth(line)
                continue
            out.append(line)
        return out
    return transform


def drop_threads(*names: str) -> Callable[[List[str]], List[str]]:
    """Remove the blocks of the threads with these names."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        block: List[str] = []

        def flush() -> None:
            if not any(line.strip() in ("THREAD_START %s" % n for n in names) for line in block):
                out.extend(block)
            block.clear()
        for line in tree:
            if line.startswith("== "):
                flush()
            block.append(line)
        flush()
        return out
    return transform


def end_thread_at_exception(label: str) -> Callable[[List[str]], List[str]]:
    """Cut each thread's stream at the first RAISE, UNWIND or DETACH of ``label``: what comes
    after it is not compared (up to the thread's THREAD_END)."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        cutting = False
        for line in tree:
            if line.startswith("==") or _kind(line) == "THREAD_END":
                cutting = False
            elif (not cutting and _label(line) == label
                  and _kind(line) in ("RAISE", "UNWIND", "DETACH")):
                cutting = True
            if not cutting:
                out.append(line)
        return out
    return transform


def closed_by_detach(*labels: str) -> Callable[[List[str]], List[str]]:
    """The activations of these labels are closed by a DETACH, whatever the run says (the
    value is dropped)."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        for line in tree:
            if _label(line) in labels and _kind(line) in streams.CLOSING:
                indent = line[:len(line) - len(line.lstrip(" "))]
                line = "%sDETACH %s %s" % (indent, _label(line), line.split()[2])
            out.append(line)
        return out
    return transform


def replace_values(pattern: str, new: str) -> Callable[[List[str]], List[str]]:
    """Replace what matches the regular expression ``pattern`` by ``new`` in every line (a
    value that a library writes differently on some versions)."""
    regex = re.compile(pattern)

    def transform(tree: List[str]) -> List[str]:
        return [regex.sub(new, line) for line in tree]
    return transform


class Difference(NamedTuple):
    """A documented cross-version (or cross-backend) difference of call trees."""

    scenarios: Tuple[str, ...]
    #: Does it apply to this interpreter and backend?
    applies: Callable[[Tuple[int, int], str], bool]
    issue: str
    reason: str
    #: Applied to both the golden tree and this run's tree before comparing.
    transform: Callable[[List[str]], List[str]]


#: The ONLY differences allowed between classified streams across 3.8-3.13 (and backends).
#: PEP 709 comprehension inlining, the 3.13 close fast path and 3.8/3.9's StopIteration at the
#: end of a generator are X1/X2/X3 in streams.py.
DIFFERENCES: List[Difference] = [
    Difference(
        ("s27_del",), lambda version, backend: version <= (3, 10),
        issue="gh-77627 (bpo-33446: destructors of local variables are not traced)",
        reason="3.8-3.10: the settrace trampoline copies fast locals into f_locals, so `del x` "
               "or rebinding frees the object inside the next trace callback, untraced",
        transform=drop_subtrees("Dropped.__del__", "Rebound.__del__")),
    Difference(
        ("s18_thread_before_install",), lambda version, backend: version < (3, 12),
        issue="gh-93503 (threading.settrace_all_threads, new in 3.12)",
        reason="before 3.12 no pure-Python API reaches a thread that is already running",
        transform=drop_threads("early")),
    Difference(
        ("s17b_raw_thread",), lambda version, backend: backend == "settrace",
        issue="gh-93503",
        reason="settrace reaches new threads only through the threading module's hook; "
               "a raw _thread thread never gets it (sys.monitoring is process-wide)",
        transform=drop_threads("<raw thread>")),
    Difference(
        ("s16_recursion",), lambda version, backend: backend == "settrace",
        issue="gh-134216 (trace function cleared after RecursionError)",
        reason="at the recursion limit the trace call of the first frame the program may not "
               "enter fails, and CPython unsets the settrace function: the rest of that "
               "thread is not recorded, its open activations end with DETACH",
        transform=end_thread_at_exception("down")),
    Difference(
        ("s07_task_cancel",), lambda version, backend: version <= (3, 10),
        issue="gh-91195 (asyncio Task repr, 3.11)",
        reason="from 3.11 asyncio's repr of a task whose cancellation was requested says "
               "'cancelling' (Task.cancelling()), before it said 'pending': a yielded "
               "value, not an event, differs",
        transform=replace_values(r"<Task (cancelling|pending) .*", "<Task ...>")),
]


# -- golden files ------------------------------------------------------------------------------

def golden_path(name: str) -> str:
    return os.path.join(GOLDEN_DIR, name + ".txt")


def read_golden(name: str) -> List[str]:
    with open(golden_path(name)) as f:
        return [line.rstrip("\n") for line in f if not line.startswith("#")]


def _qualnames_trustworthy() -> bool:
    """Do this interpreter's labels carry real qualified names? (3.8-3.10 rebuild them in
    recorder/qualname.py; until that is complete, compare the last name part only.)"""
    import recorder

    class Probe:
        def method(self) -> int:
            return 1

    seen: List[str] = []
    with recorder.recording(lambda e: seen.append(e.code.label) if e.code else None,
                            backend=BACKEND):
        Probe().method()
    return "_qualnames_trustworthy.<locals>.Probe.method" in seen


def shorten_tree(tree: List[str]) -> List[str]:
    out = []
    for line in tree:
        stripped = line.lstrip(" ")
        if not line.startswith("==") and not stripped.startswith("THREAD_"):
            kind, label, rest = stripped.split(" ", 2)
            line = line[:len(line) - len(stripped)] + " ".join(
                (kind, streams.shorten(label), rest))
        out.append(line)
    return out


@pytest.fixture(scope="module")
def results():
    return scenario_runs.run_all([BACKEND])


@pytest.fixture(scope="module")
def trustworthy() -> bool:
    ok = _qualnames_trustworthy()
    if not ok:
        warnings.warn("qualified names are not trustworthy on Python %d.%d yet: golden call "
                      "trees compare the last name part only" % VERSION)
    return ok


def expected_and_actual(name: str, result: streams.RunResult,
                        trustworthy: bool) -> Tuple[List[str], List[str]]:
    golden, actual = read_golden(name), streams.run_tree(result)
    for diff in DIFFERENCES:
        if name in diff.scenarios and diff.applies(VERSION, BACKEND):
            golden, actual = diff.transform(golden), diff.transform(actual)
    if not trustworthy:
        golden, actual = shorten_tree(golden), shorten_tree(actual)
    return golden, actual


@pytest.mark.parametrize("name", NAMES)
def test_classified_stream_matches_golden(results, trustworthy, name: str) -> None:
    result = results[(name, BACKEND)]
    assert result.returncode == 0 and result.outcome, scenario_runs.describe(result)
    assert os.path.exists(golden_path(name)), (
        "no golden stream for %s: run python tests/make_golden.py" % name)
    golden, actual = expected_and_actual(name, result, trustworthy)
    if golden != actual:
        import difflib

        diff = difflib.unified_diff(golden, actual, "golden", "actual", lineterm="", n=3)
        pytest.fail("classified stream differs from tests/golden/%s.txt on Python %s (%s):"
                    "\n%s" % (name, sys.version.split()[0], BACKEND, "\n".join(diff)))


def test_differences_are_documented() -> None:
    for diff in DIFFERENCES:
        assert diff.issue and diff.reason
        for name in diff.scenarios:
            assert name in NAMES, name


def test_every_golden_file_has_a_scenario() -> None:
    names = set(NAMES)
    for filename in os.listdir(GOLDEN_DIR):
        assert filename.endswith(".txt") and filename[:-4] in names, filename
