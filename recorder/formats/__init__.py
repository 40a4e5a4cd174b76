"""Trace writers and readers.

* :class:`~recorder.formats.codetracer.CodeTracerWriter`: the CodeTracer trace directory
  (``trace.json`` & co, see docs/trace-format.md), a :class:`recorder.events.Sink`.
* :mod:`recorder.formats.reader`: a tolerant reader for those directories (complete or cut
  short by a kill) and the balance checker.
"""
from __future__ import annotations

from recorder.formats.codetracer import VALUES_MODES, CodeTracerWriter, TraceDirError
from recorder.formats.reader import (Balance, TraceRead, check_balance, read_events,
                                     read_trace_dir)

__all__ = ["CodeTracerWriter", "TraceDirError", "VALUES_MODES", "TraceRead", "Balance",
           "read_events", "read_trace_dir", "check_balance"]
