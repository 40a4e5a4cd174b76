"""Trace writers and readers.

* :class:`~recorder.formats.codetracer.CodeTracerWriter`: the CodeTracer trace directory
  (``trace.json`` & co, see docs/trace-format.md), a :class:`recorder.events.Sink`.
* :mod:`recorder.formats.reader`: a tolerant reader for those directories (complete or cut
  short by a kill) and the balance checker.
"""
from __future__ import annotations

from typing import Any

from recorder.formats.codetracer import VALUES_MODES, CodeTracerWriter, TraceDirError

_READER_NAMES = ("Balance", "TraceRead", "check_balance", "read_events", "read_trace_dir")


def __getattr__(name: str) -> Any:
    """The reader's names, imported on first use: a recording process never reads a trace,
    so its start-up does not pay for the reader (and its ``dataclasses``)."""
    if name in _READER_NAMES:
        from recorder.formats import reader
        return getattr(reader, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))

__all__ = ["CodeTracerWriter", "TraceDirError", "VALUES_MODES", "TraceRead", "Balance",
           "read_events", "read_trace_dir", "check_balance"]
