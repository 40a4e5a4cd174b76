"""``--steps off``: calls, returns, exceptions and I/O only, for long runs.

The backends are not asked for line events at all (sys.monitoring: no LINE in the local
events; settrace: ``f_trace_lines = False``), so no Step is written except the one before each
Call (at the function's first line, as 0.3.0 writes it: what tells a reader where the
function is), and no Values except a Call's arguments. Everything else is what ``--steps on``
records. Through the real CLI (both backends), the auto-start and ``install()``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, Dict, List

import pytest

import recorder
from conftest import assert_balanced
from recorder.events import Event, Kind
from recorder.formats import CodeTracerWriter
from recorder.formats.reader import TraceDir, check_balance, read_trace_dir
from test_autostart import py  # noqa: F401  (the fixture: a venv with the auto-start hook)
from test_autostart import clean_env, traces
from test_cli import _env, run_plain

PROGRAM = textwrap.dedent("""
    import sys

    def gen(n):
        for i in range(n):
            yield i * 10

    def boom(x):
        if x > 2:
            raise ValueError("boom %d" % x)
        return x

    class Box:
        def __init__(self, v):
            self.v = v

        def get(self):
            return self.v

    def main():
        print("values", list(gen(3)))
        try:
            boom(5)
        except ValueError as e:
            print("caught", e)
        b = Box(boom(1))
        sys.stderr.write("err\\n")
        return b.get()

    sys.exit(main())
""")


def record(tmp_path: Any, *options: str, out: str = "trace-out") -> TraceDir:
    done = subprocess.run([sys.executable, "-m", "recorder", "-o", out, *options, "app.py"],
                          cwd=str(tmp_path), capture_output=True, text=True, env=_env(),
                          timeout=60)
    plain = run_plain(tmp_path, ["app.py"])
    assert (done.returncode, done.stdout, done.stderr) == (plain.returncode, plain.stdout,
                                                          plain.stderr)
    return read_trace_dir(str(tmp_path / out))


def calls(trace: TraceDir) -> List[str]:
    funcs = [e["Function"]["name"] for e in trace.main.events if "Function" in e]
    return [funcs[e["Call"]["function_id"]] for e in trace.main.events if "Call" in e]


def kinds(events: List[Dict[str, Any]]) -> List[str]:
    return [next(iter(e)) for e in events]


def without_types(value: Any) -> Any:
    """A value record without its type ids (per-file positions that differ between runs
    that register types in another order)."""
    if isinstance(value, dict):
        return {k: without_types(v) for k, v in value.items() if k != "type_id"}
    if isinstance(value, list):
        return [without_types(v) for v in value]
    return value


def of_kind(trace: TraceDir, kind: str) -> List[Any]:
    return [without_types(e[kind]) for e in trace.main.events if kind in e]


def test_steps_off_keeps_calls_returns_exceptions_and_output(tmp_path: Any,
                                                             backend: str) -> None:
    (tmp_path / "app.py").write_text(PROGRAM)
    on = record(tmp_path, "--backend", backend, out="on")
    off = record(tmp_path, "--backend", backend, "--steps", "off", out="off")
    for trace in (on, off):
        assert trace.main.complete and check_balance(trace.main.events).ok
    assert calls(off) == calls(on)
    assert calls(on) == ["<toplevel>", "<__main__>", "Box", "main", "gen", "gen", "gen", "gen",
                         "boom", "boom", "Box.__init__", "Box.get"]
    assert of_kind(off, "Return") == of_kind(on, "Return")
    assert of_kind(off, "Event") == of_kind(on, "Event")  # output, the raise and its line
    raised = [json.loads(e["metadata"]) for e in of_kind(off, "Event") if e["kind"] == 11]
    assert [(r["exception"], r["line"]) for r in raised] == [("ValueError", 10),
                                                            ("SystemExit", 30)]
    assert off.metadata is not None and off.metadata["steps"] == "off"
    assert on.metadata is not None and on.metadata["steps"] == "on"
    # the only Steps left: one before each Call, at its function's first line (check_balance
    # checks the line); the only Values: a Call's arguments, before that Step
    events = off.main.events
    shape = kinds(events)
    for i, kind in enumerate(shape):
        if kind == "Step":
            assert shape[i + 1] == "Call", events[i:i + 2]
        elif kind == "Value":
            following = [k for k in shape[i:] if k not in ("Value", "VariableName", "Type")]
            assert following[:2] == ["Step", "Call"], events[i:i + 4]
    assert shape.count("Step") == len(calls(off)) - 1  # <toplevel> has none
    assert shape.count("Step") < kinds(on.main.events).count("Step") / 2


def test_the_auto_start_takes_recorder_steps(tmp_path: Any, py: str) -> None:  # noqa: F811
    (tmp_path / "app.py").write_text(PROGRAM)
    done = subprocess.run([py, "app.py"], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=clean_env(RECORDER_TRACE=str(tmp_path / "traces"),
                                                     RECORDER_STEPS="off"))
    assert (done.returncode, done.stdout) == (1, "values [0, 10, 20]\ncaught boom 5\n")
    [trace] = traces(tmp_path / "traces", count=1).values()
    assert trace.metadata is not None and trace.metadata["steps"] == "off"
    assert check_balance(trace.main.events).ok
    shape = kinds(trace.main.events)
    assert all(shape[i + 1] == "Call" for i, k in enumerate(shape) if k == "Step")


def _work(n: int) -> int:
    total = 0
    for i in range(n):
        try:
            if i == 2:
                raise KeyError(i)
            total += i
        except KeyError:
            total -= 1
    return total


def test_no_line_events_are_asked_for(backend: str) -> None:
    """The backend reports no LINE at all; a RAISE still says on which line it happened."""
    events: List[Event] = []
    here = __file__

    def sink(event: Event) -> None:
        if event.code is None or event.code.filename == here:
            events.append(event)

    with recorder.recording(sink, backend=backend, steps="off"):
        _work(5)
    assert_balanced(events)
    assert not [e for e in events if e.kind is Kind.LINE]
    raised = [e for e in events if e.kind is Kind.RAISE]
    first = _work.__code__.co_firstlineno
    assert [(e.code.label, e.line) for e in raised] == [("_work", first + 5)]
    assert [e.kind for e in events if e.code is not None and e.code.label == "_work"] == [
        Kind.CALL, Kind.RAISE, Kind.HANDLED, Kind.RETURN]


def test_a_frame_attached_at_start_gets_no_step_at_its_current_line(tmp_path: Any) -> None:
    out = str(tmp_path / "out")
    writer = CodeTracerWriter(out, program="test", steps="off", values="full")
    session = recorder.install(writer)
    _work(2)
    session.stop(exit_status=0)
    events = read_trace_dir(out).main.events
    assert check_balance(events).ok
    shape = kinds(events)
    assert all(shape[i + 1] == "Call" for i, k in enumerate(shape) if k == "Step"), shape


@pytest.mark.parametrize("steps", ["on", "off"])
def test_a_writer_made_without_steps_follows_the_session(tmp_path: Any, steps: str) -> None:
    out = str(tmp_path / "out")
    writer = CodeTracerWriter(out, program="test")
    assert writer.steps is None
    with recorder.recording(writer, steps=steps):
        _work(2)
    assert writer.steps == steps
    with open(str(tmp_path / "out" / "trace_metadata.json")) as fh:
        assert json.load(fh)["steps"] == steps


def _line_counter() -> Any:
    """A settrace tool that wants the lines of ``_work`` (as coverage or a debugger would)."""
    seen: List[int] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            seen.append(frame.f_lineno)
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is _work.__code__ else None

    return seen, tracer


@pytest.mark.parametrize("installed", ["before", "after"])
def test_another_settrace_tool_keeps_its_line_events(installed: str) -> None:
    """With settrace shared (the other tool's function chained), steps off turns off only our
    line events: the other tool sees every line it sees unrecorded."""
    previous = sys.gettrace()
    expected, tracer = _line_counter()
    sys.settrace(tracer)
    _work(5)
    sys.settrace(previous)
    seen, tracer = _line_counter()
    events: List[Event] = []
    here = __file__

    def sink(event: Event) -> None:
        if event.code is not None and event.code.filename == here:
            events.append(event)

    try:
        if installed == "before":
            sys.settrace(tracer)
        with recorder.recording(sink, backend="settrace", steps="off"):
            if installed == "after":
                sys.settrace(tracer)
            _work(5)
            sys.settrace(None)
    finally:
        sys.settrace(previous)
    assert seen == expected and len(expected) > 10
    work = [e.kind for e in events if e.code.label == "_work"]  # type: ignore[union-attr]
    assert work == [Kind.CALL, Kind.RAISE, Kind.HANDLED, Kind.RETURN]
    # nor in the frames running when the tool came (this test's: given ours back, chained)
    assert not [e for e in events if e.kind is Kind.LINE]
