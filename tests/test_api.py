"""The public API: install/uninstall/recording, one session at a time, failures contained."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import recorder
from recorder import env
from recorder.events import Event, Kind
from conftest import BACKENDS, RECORDER_DIR, assert_balanced, kinds_and_labels, record


def square(x: int) -> int:
    return x * x


def test_install_returns_active_session_and_uninstall_stops_it(backend):
    events = []
    session = recorder.install(events.append, backend=backend)
    try:
        assert isinstance(session, recorder.Session)
        assert session.active and session.backend_name == backend
        square(3)
    finally:
        assert recorder.uninstall() is session
    assert not session.active
    assert recorder.uninstall() is None  # nothing active any more
    count = len(events)
    square(4)
    assert len(events) == count, "events arrived after uninstall"
    mine = [e for e in events if e.code is None or e.code.filename == __file__]
    assert_balanced(mine)
    calls = [e for e in mine if e.kind == Kind.CALL and e.code.qualname == "square"]
    assert len(calls) == 1
    returns = [e for e in mine if e.kind == Kind.RETURN and e.code.qualname == "square"]
    assert returns[0].value == 9


def test_running_frames_are_attached_and_detached_at_stop(backend):
    events = record(lambda: square(2), backend=backend)
    assert events[0].kind == Kind.THREAD_START and events[-1].kind == Kind.THREAD_END
    attached = [e.code.qualname for e in events if e.kind == Kind.ATTACH]
    detached = [e.code.qualname for e in events if e.kind == Kind.DETACH]
    # The test function is running when recording starts and still running when it stops.
    this = "test_running_frames_are_attached_and_detached_at_stop"
    assert attached == [this] and detached == [this]
    assert_balanced(events)


def test_recorders_own_frames_never_appear(backend):
    everything = []
    with recorder.recording(everything.append, backend=backend):
        square(5)
    assert everything
    own = [e for e in everything if e.code is not None
           and os.path.abspath(e.code.filename).startswith(RECORDER_DIR)]
    assert own == []


def test_second_install_is_a_clear_error_and_keeps_the_first(backend):
    first = []
    with recorder.recording(first.append, backend=backend) as session:
        with pytest.raises(recorder.RecorderError, match="already active"):
            recorder.install(lambda e: None, backend=backend)
        assert session.active
        square(6)
    assert any(e.kind == Kind.RETURN and e.value == 36 for e in first)


def test_install_uninstall_install_records_again(backend):
    import json

    def use_stdlib() -> str:
        return json.dumps([1])

    # Session 1 skips the standard library (monitoring DISABLEs json's code locations)...
    first = record(use_stdlib, backend=backend, files=[json.__file__, __file__])
    assert not [e for e in first if e.code and e.code.filename == json.__file__]
    # ...session 2 must still see it when asked to record the standard library.
    second = record(use_stdlib, backend=backend, files=[json.__file__], trace_stdlib=True)
    assert [e for e in second if e.kind == Kind.CALL and e.code.qualname == "dumps"]


def test_events_hold_no_frames(backend):
    import types
    events = record(lambda: square(7), backend=backend)
    for event in events:
        assert isinstance(event, Event)
        for value in (event.code, event.line, event.thread, event.depth):
            assert not isinstance(value, types.FrameType)


def test_program_exceptions_pass_through_unchanged(backend):
    def boom() -> None:
        raise ValueError("mine")

    events = []
    with pytest.raises(ValueError, match="mine"):
        with recorder.recording(events.append, backend=backend):
            boom()
    unwinds = [e for e in events if e.kind == Kind.UNWIND and e.code.qualname.endswith("boom")]
    assert len(unwinds) == 1 and str(unwinds[0].value) == "mine"


def test_failing_sink_disables_recording_with_one_warning(backend, capfd):
    calls = []

    def bad_sink(event: Event) -> None:
        calls.append(event)
        if len(calls) == 3:
            raise RuntimeError("sink broke")

    session = recorder.install(bad_sink, backend=backend)
    try:
        assert square(8) == 64  # the program goes on
        assert not session.active
    finally:
        recorder.uninstall()
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("recorder:")]
    assert len(lines) == 1 and "sink raised RuntimeError: sink broke" in lines[0]
    assert session.failure is not None


def test_sink_object_with_emit_gets_positional_events(backend):
    class Counting:
        wants_frames = False

        def __init__(self) -> None:
            self.kinds = []
            self.closed = False

        def emit(self, kind, thread, code, line, value, depth, frame):
            assert frame is None
            self.kinds.append(kind)

        def close(self) -> None:
            self.closed = True

    sink = Counting()
    with recorder.recording(sink, backend=backend):
        square(9)
    assert sink.closed and Kind.CALL in sink.kinds and sink.kinds[-1] == Kind.THREAD_END


def test_frames_are_given_to_sinks_that_ask(backend):
    seen = []

    class WantsFrames:
        wants_frames = True

        def emit(self, kind, thread, code, line, value, depth, frame):
            if kind == Kind.CALL and code.qualname == "square":
                seen.append(frame.f_locals["x"])

        def close(self) -> None:
            pass

    with recorder.recording(WantsFrames(), backend=backend):
        square(10)
    assert seen == [10]


def test_recording_an_exit_in_a_subprocess_is_balanced(tmp_path):
    """atexit closes the stream when the program ends with sys.exit and never uninstalls."""
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import sys, recorder
        from recorder.events import Kind
        out = []
        def sink(e):
            if e.code is None or e.code.filename == __file__:
                out.append(e.kind.name)
            if e.kind == Kind.THREAD_END:
                sys.__stdout__.write(" ".join(out) + "\\n")
        def leave():
            sys.exit(3)
        recorder.install(sink)
        leave()
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(RECORDER_DIR)))
    assert proc.returncode == 3, proc.stderr
    kinds = proc.stdout.split()
    assert kinds[0] == "THREAD_START" and kinds[-1] == "THREAD_END"
    # SystemExit unwinds leave() and then the module frame that was attached at install.
    assert kinds.count("CALL") == 1 and kinds.count("UNWIND") == 2
    assert kinds.count("ATTACH") == 1 and kinds.count("DETACH") == 0
