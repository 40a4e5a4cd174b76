"""Cross-version golden call trees: each scenario of tests/scenarios/ gives the same call tree
on every interpreter from 3.8 to 3.13, modulo the version differences listed in DIFFERENCES.

The call tree of a run is, per (session, thread), its opening events (CALL, RESUME, ATTACH)
with their labels and nesting, after the cross-version rules X1 (3.12 inlined list/set/dict
comprehensions, PEP 709) and X2 (the 3.13 close fast path, gh-111107) of research §1.4:
``streams.call_tree``. The trees are compared with tests/golden/<scenario>.txt, written by
``python tests/make_golden.py`` (its header says which interpreter and backend wrote it).

The recording backend is the one a user gets on this interpreter (``auto``), or the one
forced by RECORDER_BACKEND (the tox per-backend runs), so on 3.12+ the golden trees are
checked under both backends across the CI matrix.

Line numbers are not part of a call tree, so the 3.8/3.9 line attribution differences
(pre-PEP 626 ``with`` exits and ``return`` in ``try/finally``) do not matter here; they are
covered, per interpreter, by the differential suite.
"""
from __future__ import annotations

import os
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


def _label(line: str) -> str:
    parts = line.split()
    return parts[1] if len(parts) > 1 else ""


def drop_subtrees(*labels: str) -> Callable[[List[str]], List[str]]:
    """Remove the activations with these labels and everything under them."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        cut = None
        for line in tree:
            if line.startswith("=="):
                cut = None
                out.append(line)
                continue
            if cut is not None and _depth(line) > cut:
                continue
            cut = None
            if _label(line) in labels:
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


def fold_recursion(label: str) -> Callable[[List[str]], List[str]]:
    """A chain of nested activations of ``label``, each the only child of the previous one
    (and the deepest without children), becomes its first line: how deep a recursion gets
    before the limit strikes is not part of the call tree (it depends on how many frames
    the interpreter and the tracer use)."""
    def transform(tree: List[str]) -> List[str]:
        out: List[str] = []
        i = 0
        while i < len(tree):
            line = tree[i]
            out.append(line)
            i += 1
            if line.startswith("==") or _label(line) != label:
                continue
            d = j = _depth(line)
            k = i
            while k < len(tree) and _label(tree[k]) == label and _depth(tree[k]) == j + 1:
                j += 1
                k += 1
            if k == len(tree) or tree[k].startswith("==") or _depth(tree[k]) <= d:
                i = k
        return out
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


#: The ONLY differences allowed between call trees across 3.8-3.13 (and backends).
#: PEP 709 comprehension inlining and the 3.13 close fast path are X1/X2 in streams.py.
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
        ("s16_recursion",), lambda version, backend: True,
        issue="gh-134216 (trace function cleared after RecursionError)",
        reason="how deep the recursion gets before the limit strikes depends on the frames "
               "the interpreter and the tracer's callbacks use",
        transform=fold_recursion("down")),
    Difference(
        ("s16_recursion",), lambda version, backend: backend == "settrace",
        issue="gh-134216",
        reason="at the recursion limit CPython unsets the settrace function, so what runs "
               "after it on that thread is not recorded",
        transform=drop_subtrees("after")),
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
        if stripped.split(" ", 1)[0] in streams.OPENING:
            kind, label, where = stripped.split(" ", 2)
            line = line[:len(line) - len(stripped)] + " ".join(
                (kind, streams.shorten(label), where))
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
def test_call_tree_matches_golden(results, trustworthy, name: str) -> None:
    result = results[(name, BACKEND)]
    assert result.returncode == 0 and result.outcome, scenario_runs.describe(result)
    assert os.path.exists(golden_path(name)), (
        "no golden call tree for %s: run python tests/make_golden.py" % name)
    golden, actual = expected_and_actual(name, result, trustworthy)
    if golden != actual:
        import difflib

        pytest.fail("call tree differs from tests/golden/%s.txt on Python %s (%s):\n%s" % (
            name, sys.version.split()[0], BACKEND, "\n".join(difflib.unified_diff(
                golden, actual, "golden", "actual", lineterm="", n=3))))


def test_differences_are_documented() -> None:
    for diff in DIFFERENCES:
        assert diff.issue and diff.reason
        for name in diff.scenarios:
            assert name in NAMES, name


def test_every_golden_file_has_a_scenario() -> None:
    names = set(NAMES)
    for filename in os.listdir(GOLDEN_DIR):
        assert filename.endswith(".txt") and filename[:-4] in names, filename
