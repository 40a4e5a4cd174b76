"""The differential suite: every scenario of tests/scenarios/ recorded by both
backends must give the same normalised stream, compared after serialisation.

* On 3.12+ (sys.monitoring exists) the monitoring and settrace streams of each scenario are
  IDENTICAL as text (tests/streams.py), except for the differences listed in PERMITTED,
  each with its CPython issue and the reason it cannot be normalised away.
* On every interpreter, every stream satisfies the invariants: each thread's stream starts
  with THREAD_START and ends with THREAD_END, every CALL/RESUME/ATTACH is closed by a
  RETURN/YIELD/UNWIND/DETACH of the same activation on the same thread, and no event comes
  from the recorder's own files. These are checked on the *unfiltered* stream inside the
  runner (its ``== checks`` section) and again on the kept lines here.
* Recording changes nothing the program can see: same outcome (return value or exception)
  and same stdout as an unrecorded run of the same scenario; the recorder writes no warning
  except where a scenario expects one.

Each (scenario, backend) runs in its own subprocess (tests/scenario_runner.py), in parallel.
"""
from __future__ import annotations

import sys
from typing import Dict, List, NamedTuple, Tuple

import pytest

import scenario_runs
import streams
from recorder import env

NAMES = scenario_runs.scenario_names()
BACKENDS = ["monitoring", "settrace"] if env.HAS_MONITORING else ["settrace"]


class Permitted(NamedTuple):
    """One permitted monitoring/settrace difference. Both streams are transformed the same
    way before the comparison, so anything else in the scenario must still be identical."""

    issue: str
    reason: str
    #: Events of these code labels are removed from both streams.
    drop_labels: Tuple[str, ...] = ()
    #: Thread blocks with these names are removed from both streams.
    drop_threads: Tuple[str, ...] = ()
    #: CPython removed the settrace tracer part-way: the settrace stream must be a prefix of
    #: the monitoring one, followed only by the DETACHes that close what was left open.
    settrace_truncated: bool = False


#: The ONLY differences allowed between the two backends on one interpreter.
PERMITTED: Dict[str, Permitted] = {
    "s16_recursion": Permitted(
        issue="gh-134216 (trace function cleared after RecursionError)",
        reason="calling the settrace function at the recursion limit fails and CPython "
               "unsets it; sys.monitoring keeps its callbacks. Where the limit strikes "
               "also depends on each backend's callback depth, so the recursive calls "
               "themselves are not compared",
        drop_labels=("down",), settrace_truncated=True),
    "s17b_raw_thread": Permitted(
        issue="gh-93503 (APIs to trace other threads; threading.settrace_all_threads)",
        reason="settrace is per thread and is installed on new threads only by the "
               "threading module's hook; a raw _thread thread started after install never "
               "gets it. sys.monitoring is process-wide",
        drop_threads=("<raw thread>",)),
}

#: Scenarios in which the recorder is expected to warn, with the number of warning lines.
EXPECTED_WARNINGS = {"s33_tool_ids_taken": 1 if env.HAS_MONITORING else 0}


@pytest.fixture(scope="module")
def results() -> Dict[Tuple[str, str], streams.RunResult]:
    return scenario_runs.run_all(BACKENDS + ["none"])


def _check_ran(result: streams.RunResult) -> None:
    assert result.returncode == 0 and result.outcome, scenario_runs.describe(result)


# -- invariants, every interpreter -------------------------------------------------------------

def test_there_are_enough_scenarios() -> None:
    assert len(NAMES) >= 32, NAMES


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_invariants(results, name: str, backend: str) -> None:
    result = results[(name, backend)]
    _check_ran(result)
    assert not result.checks, "\n".join(result.checks) + "\n" + scenario_runs.describe(result)
    assert result.streams, "no events recorded\n" + scenario_runs.describe(result)
    problems: List[str] = []
    for (session, serial), lines in result.streams.items():
        where = "session %d thread %d" % (session, serial)
        problems += streams.balance_problems(lines, where)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_program_sees_no_difference(results, name: str, backend: str) -> None:
    """Same outcome and stdout as unrecorded; no recorder warning unless expected."""
    bare, recorded = results[(name, "none")], results[(name, backend)]
    _check_ran(bare)
    _check_ran(recorded)
    assert recorded.outcome == bare.outcome
    assert recorded.stdout == bare.stdout
    warnings = [line for line in recorded.stderr.splitlines()
                if line.startswith("recorder:")]
    assert len(warnings) == EXPECTED_WARNINGS.get(name, 0), recorded.stderr


# -- the differential comparison, 3.12+ --------------------------------------------------------

def _drop(result: streams.RunResult, rule: Permitted) -> Dict[Tuple[int, int], List[str]]:
    out = {}
    for key, lines in result.streams.items():
        if lines and lines[0].kind == "THREAD_START" and lines[0].value in rule.drop_threads:
            continue
        kept = [line for line in lines if line.label not in rule.drop_labels]
        out[key] = [line.text() for line in streams._reindent(kept)]
    return out


def _truncated_prefix(mon: List[str], st: List[str]) -> List[str]:
    """If ``st`` is ``mon`` cut short then closed by DETACHes, return ``st``; else ``mon``."""
    end = len(st)
    while end and st[end - 1].lstrip().split(" ", 1)[0] in ("DETACH", "THREAD_END"):
        end -= 1
    return st if mon[:end] == st[:end] else mon


def comparable(mon: streams.RunResult, st: streams.RunResult,
               rule: "Permitted | None") -> Tuple[str, str]:
    if rule is None:
        return mon.stream_text(), st.stream_text()
    a, b = _drop(mon, rule), _drop(st, rule)
    if rule.settrace_truncated:
        a = {key: _truncated_prefix(lines, b.get(key, [])) for key, lines in a.items()}

    def text(blocks: Dict[Tuple[int, int], List[str]]) -> str:
        return "\n".join("== session %d thread %d\n" % key + "\n".join(lines)
                         for key, lines in sorted(blocks.items()))
    return text(a), text(b)


@pytest.mark.skipif(not env.HAS_MONITORING, reason="sys.monitoring needs Python 3.12+")
@pytest.mark.parametrize("name", NAMES)
def test_backends_give_identical_streams(results, name: str) -> None:
    mon, st = results[(name, "monitoring")], results[(name, "settrace")]
    _check_ran(mon)
    _check_ran(st)
    rule = PERMITTED.get(name)
    a, b = comparable(mon, st, rule)
    if a != b:
        import difflib

        diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "monitoring",
                                              "settrace", lineterm="", n=3))
        pytest.fail("streams differ (Python %s)%s:\n%s" % (
            sys.version.split()[0], " even after the permitted difference" if rule else "",
            diff))
    if rule is not None:
        # A permitted difference must still be a difference: drop it when CPython changes.
        assert mon.stream_text() != st.stream_text(), (
            "%s: the streams are now identical, remove it from PERMITTED" % name)


def test_permitted_differences_are_documented() -> None:
    for name, rule in PERMITTED.items():
        assert name in NAMES, name
        assert rule.issue and rule.reason, name
