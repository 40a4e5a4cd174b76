"""``imports.jsonl`` in the trace directory: every module the program loaded, what it cost.

CodeTracer's format has no import record, so the ``IMPORT_END`` events of the common model
(recorder/importhook.py) go to a file of their own, one JSON object per line, in the order
the imports finished (an outer import after the ones nested in it)::

    {"module": "pkg.mod", "origin": "/src/pkg/mod.py", "thread": 1, "depth": 0,
     "start": 0.0123, "duration": 0.0041, "ok": true, "error": null}

``start`` is seconds since the writer was created, ``duration`` seconds including the
module's own nested imports (``null`` when the import was still running at the end),
``thread`` the recorder's thread serial (the stream's file, docs/trace-format.md), ``depth``
how many imports were in progress on that thread. ``error`` is ``"Type: message"`` for an
import that raised (as the trace shows the exception: bounded, secrets hidden, the type alone
with ``--values none``). Lines are written as imports end and flushed with the trace streams, so
a killed process leaves whole lines up to the last flush. docs/trace-format.md.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, List, Optional

from recorder.formats.storage import FileModes, write_all

FILE_NAME = "imports.jsonl"


class ImportLog:
    """Appends one line per finished import to ``<out_dir>/imports.jsonl`` (created at the
    first one). Thread-safe: imports end on any thread. Lines wait in memory until
    :meth:`flush` (the main stream's flushes); a write that fails cuts the file back to its
    last whole line, raises the ``OSError`` (the trace writer stops recording) and drops every
    later line."""

    def __init__(self, out_dir: str, modes: Optional[FileModes] = None) -> None:
        self.path = os.path.join(out_dir, FILE_NAME)
        self._modes = modes or FileModes()
        #: the clock of ImportInfo.start/end, and the origin of the trace's time stamps
        self.t0 = time.perf_counter()
        self._fd: Optional[int] = None
        self._pending: List[str] = []
        self._size = 0  # bytes in the file, all whole lines
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.count = 0
        self.closed = False
        #: a write failed: the file holds the lines written before (``count`` of them)
        self.failed = False

    def ended(self, info: Any, thread_serial: Optional[int], error: Optional[str]) -> None:
        """Keep the line of a finished import (an ``ImportInfo`` at ``IMPORT_END``) for the
        next flush; ``error`` is the text of ``info.error``, made by the caller's value
        encoder."""
        record = {
            "module": info.name,
            "origin": info.origin,
            "thread": thread_serial,
            "depth": info.depth,
            "start": round(info.start - self.t0, 6),
            "duration": None if info.end is None else round(info.end - info.start, 6),
            "ok": info.ok,
            "error": error,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self.closed or self.failed or os.getpid() != self._pid:
                return  # closed, failed, or a forked child: the file is the parent's
            self._pending.append(line)

    def flush(self) -> None:
        with self._lock:
            if self.closed or self.failed or not self._pending or os.getpid() != self._pid:
                return
            lines = self._pending
            self._pending = []
            data = "".join(lines).encode("utf-8", "backslashreplace")
            try:
                if self._fd is None:
                    self._fd = self._modes.create(self.path)
                write_all(self._fd, data, self._size)
            except OSError as exc:
                self.failed = True
                if self._fd is not None:
                    try:
                        os.ftruncate(self._fd, self._size)
                    except OSError:
                        pass
                if exc.filename is None:
                    exc.filename = self.path
                raise
            self._size += len(data)
            self.count += len(lines)

    def close(self) -> None:
        """Write what is left and close (a failure raises ``OSError``, after closing)."""
        try:
            self.flush()
        finally:
            with self._lock:
                if not self.closed:
                    self.closed = True
                    if self._fd is not None and os.getpid() == self._pid:
                        os.close(self._fd)
