"""A program that runs into its recursion limit behaves exactly as unrecorded.

Through the real command line and the real trace writer: the same stdout (the depth the
program reached, the RecursionError's message), the same stderr (an uncaught RecursionError's
traceback, byte for byte: only the program's frames, as many as unrecorded), the same exit
status, and a balanced trace that holds every call the program made. On 3.8 this used to end
in CPython's fatal "Cannot recover from stack overflow".

How (recorder/recursion.py, docs/backends.md "Recursion limit"): while recording, the real
limit is the program's plus what the command line and a callback cost, the program keeps
seeing its own number, and callbacks with no room queue their work for later.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Dict, List

import pytest

from conftest import BACKENDS, RECORDER_DIR
from recorder import env, recursion
from recorder.formats.reader import check_balance, read_trace_dir

ROOT = os.path.dirname(RECORDER_DIR)

# Each program defines r(0), which recurses until the limit; ``depth`` is the deepest level it
# reached, set in an ordinary Python frame (the trace writer calls __repr__ to record values,
# so a __repr__ must not be where the program counts).
PROGRAMS: Dict[str, str] = {
    "plain": """
        depth = 0
        def r(n):
            global depth
            depth = n
            return r(n + 1)
    """,
    "mutual": """
        depth = 0
        def a(n):
            global depth
            depth = n
            return b(n + 1)
        def b(n):
            return a(n + 1)
        def r(n):
            return a(n)
    """,
    "property": """
        depth = 0
        class Node:
            def __init__(self, n):
                self.n = n
            @property
            def deeper(self):
                global depth
                depth = self.n
                return Node(self.n + 1).deeper
        def r(n):
            return Node(n).deeper
    """,
    "generator": """
        depth = 0
        def g(n):
            global depth
            depth = n
            yield from g(n + 1)
        def r(n):
            return list(g(n))
    """,
    "caught_deep": """
        depth = 0
        def r(n):
            global depth
            depth = n
            try:
                return r(n + 1)
            except RecursionError:  # HANDLED right at the limit
                return -n
    """,
    "low_limit": """
        sys.setrecursionlimit(100)
        print("limit", sys.getrecursionlimit())
        depth = 0
        def r(n):
            global depth
            depth = n
            return r(n + 1)
    """,
}

# Recursion that goes through C code as well: see test_recursion_through_c_code. With
# ``--values full`` the trace writer calls R.__repr__ itself (docs/trace-format.md): its
# R(...) objects would move ``depth``, so these run with ``--values none``.
THROUGH_C: Dict[str, str] = {
    "repr": """
        depth = 0
        class R:
            def __init__(self, n):
                global depth
                depth = self.n = n
            def __repr__(self):
                return "R(%r)" % (R(self.n + 1),)
        def r(n):
            return repr(R(n))
    """,
    "builtin": """
        depth = 0
        def r(n):
            global depth
            depth = n
            return list(map(r, [n + 1]))
    """,
}

ENDINGS = {
    "caught": """
        try:
            result = r(0)
        except RecursionError as exc:
            print("caught", depth, exc, type(exc.__context__).__name__)
        else:
            print("returned", result, depth)
        print("after", sys.getrecursionlimit())
    """,
    "uncaught": """
        print("limit", sys.getrecursionlimit())
        r(0)
    """,
}


def _env() -> dict:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, environ.get("PYTHONPATH")) if p)
    environ.pop("RECORDER_BACKEND", None)
    return environ


def _write(tmp_path, body: str, ending: str) -> str:
    source = "import sys\n" + textwrap.dedent(body) + textwrap.dedent(ENDINGS[ending])
    (tmp_path / "prog.py").write_text(source)
    return "prog.py"


def _run(tmp_path, args: List[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable] + args, cwd=str(tmp_path), capture_output=True,
                          text=True, env=_env(), timeout=300)


def _trace_calls(out_dir: str) -> Dict[str, int]:
    """Calls per function name, after checking that the trace is balanced."""
    trace = read_trace_dir(out_dir)
    balance = check_balance(trace.main.events)
    assert balance.ok, balance.problems[:5]
    names = [e["Function"]["name"] for e in trace.main.events if "Function" in e]
    calls: Dict[str, int] = {}
    for event in trace.main.events:
        if "Call" in event:
            name = names[event["Call"]["function_id"]]
            calls[name] = calls.get(name, 0) + 1
    return calls


def _recorded(tmp_path, script: str, backend: str, values: str):
    out = str(tmp_path / ("trace-" + backend))
    run = _run(tmp_path, ["-m", "recorder", "--backend", backend, "--values", values,
                          "-o", out, script])
    return run, out


def _depth(stdout: str) -> int:
    for line in stdout.splitlines():
        if line.startswith("caught "):
            return int(line.split()[1])
    raise AssertionError("no 'caught' line in %r" % stdout)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_recursion_limit_as_unrecorded(tmp_path, name: str, ending: str, backend: str) -> None:
    script = _write(tmp_path, PROGRAMS[name], ending)
    plain = _run(tmp_path, [script])
    uncaught = ending == "uncaught" and name != "caught_deep"
    assert plain.returncode == (1 if uncaught else 0), plain.stderr[-500:]
    recorded, out = _recorded(tmp_path, script, backend, "full")
    assert recorded.stdout == plain.stdout
    assert recorded.stderr == plain.stderr
    assert recorded.returncode == plain.returncode
    calls = _trace_calls(out)
    if ending == "caught" and name != "caught_deep":  # every frame it ran is in the trace
        depth = _depth(plain.stdout)
        if name == "mutual":
            assert calls["a"] == depth // 2 + 1, calls
        else:
            recursive = {"property": "Node.deeper", "generator": "g"}.get(name, "r")
            assert calls[recursive] == depth + 1, calls


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_none_and_full_agree_at_the_limit(tmp_path, backend: str) -> None:
    script = _write(tmp_path, PROGRAMS["plain"], "caught")
    plain = _run(tmp_path, [script])
    for values in ("none", "full"):
        recorded, out = _recorded(tmp_path, script, backend, values)
        assert (recorded.stdout, recorded.stderr, recorded.returncode) == (
            plain.stdout, plain.stderr, plain.returncode), values
        assert _trace_calls(out)["r"] == _depth(plain.stdout) + 1, values


def _without_depth_details(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines()
            if not line.startswith("RecursionError:") and "Previous line repeated" not in line]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize("name", sorted(THROUGH_C))
def test_recursion_through_c_code(tmp_path, name: str, ending: str, backend: str) -> None:
    """Recursion through C code (repr(), a builtin calling back): the documented limits
    (docs/backends.md, "Recursion limit"). On 3.8-3.11 the RecursionError may come one C
    call later (same depth, without the C call's " while calling a Python object"); on 3.12
    CPython's own C recursion limit, which a callback also uses and nothing can raise, ends
    it a few levels earlier. Everything else is as unrecorded, and never a recorder frame."""
    script = _write(tmp_path, THROUGH_C[name], ending)
    plain = _run(tmp_path, [script])
    recorded, out = _recorded(tmp_path, script, backend, "none")
    _as_documented(plain, recorded, ending)
    _trace_calls(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recursive_repr_recorded_with_values(tmp_path, backend: str) -> None:
    """The writer calls the program's recursive __repr__ to record ``self``: that repr fails
    for want of room (or recurses forever), and the program goes on exactly as above."""
    script = _write(tmp_path, THROUGH_C["repr"].replace("global depth\n", "global _\n")
                    .replace("depth = self.n = n", "_ = self.n = n"), "uncaught")
    plain = _run(tmp_path, [script])
    recorded, out = _recorded(tmp_path, script, backend, "full")
    _as_documented(plain, recorded, "uncaught")
    _trace_calls(out)


def _as_documented(plain: subprocess.CompletedProcess, recorded: subprocess.CompletedProcess,
                   ending: str) -> None:
    assert recorded.returncode == plain.returncode
    assert RECORDER_DIR not in recorded.stderr
    assert _without_depth_details(recorded.stderr) == _without_depth_details(plain.stderr)
    assert recorded.stderr.count("\n") == plain.stderr.count("\n")
    if ending == "caught":
        lines = recorded.stdout.splitlines()
        assert lines[0].startswith("caught ") and "maximum recursion depth exceeded" in lines[0]
        assert lines[1:] == plain.stdout.splitlines()[1:]
        shortfall = _depth(plain.stdout) - _depth(recorded.stdout)
        assert 0 <= shortfall <= (10 if env.PYVERSION == (3, 12) else 0), (plain.stdout,
                                                                           recorded.stdout)
    else:
        assert recorded.stdout == plain.stdout
        last = recorded.stderr.splitlines()[-1]
        assert last.startswith("RecursionError: maximum recursion depth exceeded"), last


# -- the program sees its own limit ------------------------------------------------------------

def test_program_sees_its_own_limit_while_recorded() -> None:
    import recorder

    before = sys.getrecursionlimit()
    seen = []
    with recorder.recording(lambda event: None):
        seen.append(sys.getrecursionlimit())
        sys.setrecursionlimit(before + 7)
        seen.append(sys.getrecursionlimit())
        # the interpreter's real limit is higher: the callbacks' frame
        seen.append(recursion.real_getrecursionlimit() - sys.getrecursionlimit())
        sys.setrecursionlimit(before)
    assert seen == [before, before + 7, 1]
    assert sys.getrecursionlimit is recursion.real_getrecursionlimit
    assert sys.setrecursionlimit is recursion.real_setrecursionlimit
    assert sys.getrecursionlimit() == before


def test_bad_limits_fail_as_unrecorded() -> None:
    import recorder

    def errors() -> list:
        out = []
        for bad in (0, -5, "10", 2.5, 2 ** 40):
            try:
                sys.setrecursionlimit(bad)  # type: ignore[arg-type]
            except (ValueError, TypeError, OverflowError) as exc:
                out.append((type(exc), str(exc)))
        return out

    plain = errors()
    with recorder.recording(lambda event: None):
        recorded = errors()
        limit = sys.getrecursionlimit()
    assert recorded == plain and len(plain) == 5
    assert limit == sys.getrecursionlimit()


def test_too_low_a_limit_says_the_programs_numbers() -> None:
    import recorder

    def depth() -> int:
        n, frame = 0, sys._getframe()
        while frame is not None:
            n, frame = n + 1, frame.f_back
        return n

    def refused() -> str:
        try:
            sys.setrecursionlimit(depth() - 2)
        except RecursionError as exc:
            return str(exc)
        return "accepted"

    plain = refused()
    with recorder.recording(lambda event: None):
        recorded = refused()
    assert "cannot set the recursion limit" in plain
    assert recorded == plain


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_limit_stays_the_programs_when_recording_stops_early(tmp_path, backend):
    """Recording stops at --max-size while the program runs on: the command line's frames
    stay hidden, so the program still reaches the depth it reaches unrecorded."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        def spin(n):
            return sum(range(n))
        for i in range(300):
            spin(i)
        depth = 0
        def r(n):
            global depth
            depth = n
            return r(n + 1)
        try:
            r(0)
        except RecursionError:
            print("caught", depth)
    """))
    plain = _run(tmp_path, [str(script)])
    recorded = _run(tmp_path, ["-m", "recorder", "--backend", backend, "--max-size", "20K",
                               "-o", str(tmp_path / "t"), str(script)])
    assert recorded.stdout == plain.stdout
    assert "max-size" in recorded.stderr
    metadata = json.loads((tmp_path / "t" / "trace_metadata.json").read_text())
    assert metadata["stopped"]["reason"] == "max-size"
