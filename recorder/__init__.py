"""recorder: a pure-Python execution trace recorder for CPython 3.8-3.13.

Public API::

    session = recorder.install(sink=print)      # start recording (returns the Session)
    recorder.uninstall()                         # stop; the stream is balanced
    with recorder.recording(sink=events.append): # the same as a context manager
        ...

``sink`` receives one :class:`recorder.events.Event` per event (see docs/events.md).
``backend`` is "auto" (default; sys.monitoring on 3.12+, settrace below), "monitoring" or
"settrace"; ``RECORDER_BACKEND`` sets the default.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from recorder.errors import BackendError, ConfigError, RecorderError
from recorder.events import CodeInfo, Event, Kind, ThreadInfo
from recorder.session import Session, SinkArg, active_session

__version__ = "0.1.0.dev0"

__all__ = ["install", "uninstall", "recording", "Session", "Event", "Kind", "CodeInfo",
           "ThreadInfo", "RecorderError", "ConfigError", "BackendError", "__version__"]


def install(sink: SinkArg, *, backend: Optional[str] = None,
            trace_stdlib: bool = False) -> Session:
    """Start recording in this process and return the :class:`Session`.

    Frames already running (the caller's and its callers') are reported as ATTACH events.
    Raises :class:`RecorderError` if a recording is already active, :class:`ConfigError`
    for a bad option and :class:`BackendError` when the requested backend cannot run here.
    """
    return Session(sink, backend=backend, trace_stdlib=trace_stdlib).start()


def uninstall() -> Optional[Session]:
    """Stop the active recording (if any) and return its session."""
    session = active_session()
    if session is not None:
        session.stop()
    return session


@contextlib.contextmanager
def recording(sink: SinkArg, **options: Any) -> Iterator[Session]:
    """``with recording(sink=...) as session:`` records the body, then stops."""
    session = install(sink, **options)
    try:
        yield session
    finally:
        session.stop()
