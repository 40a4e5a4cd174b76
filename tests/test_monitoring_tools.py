"""sys.monitoring shared with other tools: tool ids and DISABLE (docs/backends.md)."""
from __future__ import annotations

import sys
import textwrap
from typing import Any, List

import pytest

import recorder
from recorder import env
from recorder.backends import monitoring
from recorder.errors import BackendError

needs_monitoring = pytest.mark.skipif(not env.HAS_MONITORING, reason="sys.monitoring: 3.12+")
OTHER = 1  # the id coverage.py takes


def target(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


@pytest.fixture
def fresh_ids(monkeypatch: Any) -> None:
    """No earlier recording of this process has used an id (process-wide state)."""
    monkeypatch.setattr(monitoring, "_DISABLED", {})


@needs_monitoring
def test_an_id_taken_after_the_look_is_skipped(monkeypatch, fresh_ids):
    """Another thread takes id 4 between the selector's look and the backend's start."""
    mon = sys.monitoring
    real_get_tool = mon.get_tool
    mon.use_tool_id(4, "racer")
    try:
        monkeypatch.setattr(mon, "get_tool", lambda t: None if t == 4 else real_get_tool(t))
        with recorder.recording(lambda e: None, backend="monitoring") as session:
            assert session.backend.tool_id == 3
        monkeypatch.setattr(mon, "get_tool", lambda t: None)  # both look free, none is
        mon.use_tool_id(3, "racer")
        try:
            with pytest.raises(BackendError, match="no sys.monitoring tool id is free"):
                recorder.install(lambda e: None, backend="monitoring")
            assert recorder.uninstall() is None
        finally:
            mon.free_tool_id(3)
    finally:
        mon.free_tool_id(4)


@needs_monitoring
def test_recording_again_leaves_another_tools_disabled_events_disabled(fresh_ids):
    """restart_events() would re-enable every location the other tool disabled. (CPython
    also re-enables them in a code object whose instrumentation changes: the recorder's
    own code objects, not the ones it skips, like textwrap here.)"""
    mon = sys.monitoring
    seen: List[int] = []

    def line(code: Any, number: int) -> Any:
        if code is textwrap.dedent.__code__:
            seen.append(number)
        return mon.DISABLE  # as coverage.py does once a line is measured

    mon.use_tool_id(OTHER, "coverage-like")
    mon.register_callback(OTHER, mon.events.LINE, line)
    mon.set_events(OTHER, mon.events.LINE)
    try:
        textwrap.dedent("  x")
        measured = list(seen)
        assert measured
        for _ in range(3):  # ids 4, 3, then 4 again
            with recorder.recording(lambda e: None, backend="monitoring"):
                target(2)
        textwrap.dedent("  x")
        assert seen == measured
    finally:
        mon.set_events(OTHER, 0)
        mon.register_callback(OTHER, mon.events.LINE, None)
        mon.free_tool_id(OTHER)


@needs_monitoring
def test_code_an_earlier_recording_disabled_is_reported_when_it_cannot_be_re_enabled(
        capfd, fresh_ids):
    """With another tool present and both ids used before, code skipped earlier may stay
    silent for the id: the recorder says so (one warning line, a gap) instead of resetting
    the other tool's events."""
    mon = sys.monitoring
    mon.use_tool_id(OTHER, "coverage-like")
    try:
        for _ in range(2):  # ids 4 and 3: textwrap (stdlib, skipped) DISABLEd on both
            with recorder.recording(lambda e: None, backend="monitoring"):
                textwrap.dedent("  x")
        capfd.readouterr()
        with recorder.recording(lambda e: None, backend="monitoring",
                                trace_stdlib=True) as session:
            textwrap.dedent("  x")
    finally:
        mon.free_tool_id(OTHER)
    warnings = [l for l in capfd.readouterr().err.splitlines() if l.startswith("recorder:")]
    assert len(warnings) == 1 and "may stay unrecorded" in warnings[0], warnings
    assert [g["kind"] for g in session.normaliser.gaps] == ["monitoring-disabled"]
    assert "dedent" in session.normaliser.gaps[0]["functions"]


@needs_monitoring
def test_without_another_tool_code_disabled_earlier_is_recorded_again(fresh_ids):
    events: List[Any] = []
    for _ in range(2):
        with recorder.recording(lambda e: None, backend="monitoring"):
            textwrap.dedent("  x")
    with recorder.recording(events.append, backend="monitoring", trace_stdlib=True) as s:
        textwrap.dedent("  x")
    assert s.normaliser.gaps == []
    assert [e for e in events if e.code is not None and e.code.name == "dedent"]
