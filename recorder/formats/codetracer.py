"""The CodeTracer trace directory writer: a :class:`recorder.events.Sink`.

Layout (docs/trace-format.md has every record)::

    OUT/trace.json                      main thread's events (JSON array, CodeTracer dialect)
    OUT/trace_paths.json                path_id -> path for trace.json
    OUT/trace_metadata.json             workdir, program, args + ours (see _metadata)
    OUT/files/<absolute path>           copies of every traced source file
    OUT/threads/trace-<serial>.json     every other thread: same format, own ids
    OUT/threads/trace_paths-<serial>.json
    OUT/threads/trace_metadata-<serial>.json

One *stream* per thread (:class:`recorder.formats.streams._Stream`: its file, buffer, id
tables and time stamps), each a complete trace of that thread in the 0.3.0 dialect with its
own id tables (Path/Function/VariableName/Type ids are positions of first appearance *in that
file*), so every file is nested correctly on its own and readable by a CodeTracer reader.

Streaming: records are appended to the stream's buffer (JSON text, one record per element)
and written to the file when the buffer holds ``flush_records`` records, when a call or return
happens ``flush_seconds`` after the last write (the clock is read every 64th call or return),
on :meth:`flush` and at :meth:`close`. Each
write ends on a record boundary, one record per line, so a killed process leaves a prefix that
:func:`recorder.formats.reader.read_events` accepts; :meth:`close` writes the final ``]``.

Threading: ``emit`` is called on the thread the event belongs to, and a stream is only ever
appended to by its own thread; :meth:`flush` and :meth:`close` may run on any thread (a
per-stream lock covers the file, and taking records off the buffer never loses one appended
concurrently). After ``os.fork()`` the child never writes to the parent's files.
"""
from __future__ import annotations

import errno
import json
import os
import sys
import threading
import types
from types import FrameType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from recorder.config import STEPS_MODES
from recorder.events import CodeInfo, Kind
from recorder.errors import RecordingStopped
from recorder.formats.imports import ImportLog
from recorder.formats.storage import FileModes, write_json_atomic
from recorder.formats.streams import _KEPT, _Code, _Stream, _clock, _monotonic
from recorder.formats.trace_dir import TraceDirError, _TraceDirectory, _now_iso
from recorder.redaction import DROP, REDACT, scrub_records
from recorder.values import ValueOptions, check_reprs, json_string, type_name

__all__ = ["CodeTracerWriter", "TraceDirError", "VALUES_MODES", "DEFAULT_VALUES",
           "writer_options"]

#: ``none``: no values at all (Call args empty, Return values None, no Values after Steps;
#: an unwind still says which exception type). ``args``: arguments at Call, return/yield
#: values and exceptions at Return, nothing after Steps. ``full``: also the visible variables
#: after every Step (what CodeTracer's variable view needs).
VALUES_MODES = ("none", "args", "full")
DEFAULT_VALUES = "full"

_LINE, _CALL, _RESUME, _RETURN, _YIELD = Kind.LINE, Kind.CALL, Kind.RESUME, Kind.RETURN, Kind.YIELD
_RAISE, _HANDLED, _UNWIND = Kind.RAISE, Kind.HANDLED, Kind.UNWIND
_ATTACH, _DETACH = Kind.ATTACH, Kind.DETACH
_THREAD_START, _THREAD_END = Kind.THREAD_START, Kind.THREAD_END
_IMPORT_END = Kind.IMPORT_END

#: EventLogKind numbers.
EVENT_WRITE, EVENT_WRITE_OTHER, EVENT_READ, EVENT_ERROR, EVENT_TRACE_LOG = 0, 2, 3, 11, 12
_OUTPUT_KINDS = {"stdout": EVENT_WRITE, "stderr": EVENT_WRITE_OTHER, "stdin": EVENT_READ}

# Values at module and class level: never dunders, modules, functions or classes.
_ModuleType = types.ModuleType
_FunctionType = types.FunctionType
_BuiltinType = types.BuiltinFunctionType
_NoneType = type(None)


def _reusable(v: Any) -> bool:
    """Can a Step write ``v``'s record again when the variable still holds this very object
    (``_Code.last``)? Only for exact immutable types, whose record depends on the value
    alone, and only small ones: the cache holds the value, and a huge string or int must
    stay the program's to free."""
    t = type(v)
    if t is int:
        return -_REUSE_INT < v < _REUSE_INT
    if t is str or t is bytes:
        return len(v) <= _REUSE_LEN
    return t is float or t is bool or t is _NoneType or t is complex


#: Steps a variable whose snapshot never matched is encoded without one
_RETRY = 4
#: ... and one whose snapshot could not be taken
_NO_SNAPSHOT = 64
_REUSE_INT = 1 << 64
_REUSE_LEN = 1024
#: calls and returns between two checks of the time-based flush
_TICK = 64


_OUTPUT_CHUNK = 64 << 10

def writer_options(config: Any) -> Dict[str, Any]:
    """The :class:`CodeTracerWriter` options a :class:`recorder.config.Config` sets: the CLI
    and the auto-start make their writers with them."""
    return {"steps": config.steps, "max_size": config.max_size,
            "max_records": config.max_records, "file_mode": config.file_mode,
            "timing": config.timing}


class CodeTracerWriter(_TraceDirectory):
    """Writes the CodeTracer trace directory ``out_dir`` from the event stream.

    The session creates it, passes it as the sink, and calls ``close(exit_status)`` once
    recording has stopped (after the normaliser's final DETACH/THREAD_END events)::

        writer = CodeTracerWriter("trace-out", program="/abs/app.py", args=["app.py", "x"],
                                  values="full", backend="monitoring")
        session = recorder.install(sink=writer, backend="monitoring")
        ...
        session.stop(exit_status=3)   # = writer.set_exit_status(3), then writer.close()
        # (or writer.close(3) directly; an unknown status (None) is written as "<exit>")

    ``program``: the script path (or ``-m`` module name); the synthetic ``<toplevel>``
    function lives in ``toplevel_path`` (default: ``program`` when it is a file, else
    ``"<toplevel>"``). ``args``: the program's argv. ``values``: one of
    :data:`VALUES_MODES`. ``value_options``: bounds (:class:`recorder.values.ValueOptions`).
    ``reprs``: ``"builtin"`` (only reprs implemented in C run; program objects are recorded
    from their state) or ``"program"`` (their own ``__repr__`` runs); None until a session
    applies its configuration (:meth:`use_reprs`), ``"builtin"`` meanwhile.
    ``backend``: recorded in the metadata (may be assigned until the first event). The
    Values after Steps are skipped in code whose ``CodeInfo.locals_readable`` is false
    (reading ``f_locals`` there would corrupt the frame, see recorder/codes.py).
    ``metadata``: extra keys for ``trace_metadata.json`` (filters, ...).
    ``steps``: ``"on"`` or ``"off"`` (no Step for each line: the session then asks the backend
    for no line events; ``None`` until a session applies its configuration, ``"on"``
    meanwhile). ``max_size`` (bytes of the event files) and ``max_records``: when the trace
    reaches one, recording stops (:class:`~recorder.errors.RecordingStopped` from the flush
    that found it: the session's one warning) and the metadata says ``"stopped"``; so does a
    write that fails (a full disk). ``file_mode``: the permissions of every file and
    directory made (:class:`~recorder.formats.storage.FileModes`; default ``"private"``:
    0600 and 0700).

    Raises :class:`TraceDirError` when ``out_dir`` cannot be created or written.
    """

    def __init__(self, out_dir: Union[str, "os.PathLike[str]"] = "trace-out", *,
                 program: Optional[str] = None, args: Optional[Sequence[str]] = None,
                 values: str = DEFAULT_VALUES, value_options: Optional[ValueOptions] = None,
                 reprs: Optional[str] = None, backend: Optional[str] = None,
                 workdir: Optional[str] = None, toplevel_path: Optional[str] = None,
                 metadata: Optional[Mapping[str, Any]] = None, copy_sources: bool = True,
                 flush_records: int = 512, flush_seconds: float = 0.5,
                 steps: Optional[str] = None, max_size: Optional[int] = None,
                 max_records: Optional[int] = None, file_mode: str = "private",
                 timing: bool = True) -> None:
        if values not in VALUES_MODES:
            raise ValueError("values must be one of %s, not %r" % (", ".join(VALUES_MODES),
                                                                  values))
        self.values = values
        self._args_on = values != "none"
        self._full = values == "full"
        #: the normaliser passes frames only when this is true
        self.wants_frames = values != "none"
        #: ... and at a LINE event too: only for its locals (``values="args"`` reads the
        #: arguments at calls alone, so the line callbacks fetch no frame)
        self.wants_line_frames = values == "full"
        #: where ``frame.f_locals`` is read: arguments at CALL/ATTACH, locals at LINE
        #: (recorder.codes decides per code object how the backend protects cells)
        self.reads_locals = frozenset(
            () if values == "none" else (_CALL,) if values == "args" else (_CALL, _LINE))
        self.value_options = value_options or ValueOptions()
        self.reprs = None if reprs is None else check_reprs(reprs)
        if steps not in (None,) + STEPS_MODES:
            raise ValueError("steps must be one of %s, not %r" % (", ".join(STEPS_MODES), steps))
        self.steps = steps
        self.modes = FileModes(file_mode)
        #: limits (None: none) on the totals of what the event files hold, all threads
        #: (:attr:`records_written`, :attr:`bytes_written`), checked after each write
        self.max_size = max_size
        self.max_records = max_records
        self.limits_on = max_size is not None or max_records is not None
        #: why recording stopped before the end (the metadata's "stopped"), or None
        self.stopped: Optional[Dict[str, Any]] = None
        self.workdir = os.path.abspath(workdir or os.getcwd())
        self.out_dir = os.path.abspath(os.path.join(self.workdir, os.fspath(out_dir)))
        self.program = program
        self.args = list(args) if args is not None else list(sys.argv)
        self.backend = backend
        self.extra_metadata = dict(metadata or {})
        #: The session's filter engine (recorder/filters.py), set by :meth:`use_filters`.
        self.filters: Any = None
        #: Texts the filters hid by name, hidden wherever they appear later (all streams).
        self.secret_texts: List[str] = []
        #: With filters, a flush leaves this many newest records of a stream in memory, so
        #: that a text hidden by name is also scrubbed from the records just before (the
        #: Return of the function that produced the secret).
        self.holdback = 0
        self.copy_sources_enabled = copy_sources
        self._flush_records = max(1, int(flush_records))
        self._flush_seconds = float(flush_seconds)
        self._tick = _TICK if self._flush_seconds > 0 else 1  # 0: every call and return
        #: a time stamp per Call and Return in a side file (formats/timing.py)
        self.timing = bool(timing)
        if toplevel_path is None:
            toplevel_path = program if program and os.path.isfile(
                os.path.join(self.workdir, program)) else "<toplevel>"
        self.toplevel_path = toplevel_path
        self._lock = threading.Lock()
        self._meta_lock = threading.Lock()
        self._copied: set = set()
        self._abs_cache: Dict[str, str] = {}
        self._streams: Dict[int, _Stream] = {}
        self._by_ident: Dict[Optional[int], _Stream] = {}  # live streams by thread ident
        self._ended_threads: List[Dict[str, Any]] = []
        #: records and bytes written by the streams of ended threads (records_written)
        self._ended_records = 0
        self._ended_bytes = 0
        #: what the recording misses, and from where (see :meth:`gap`)
        self._gaps: List[Dict[str, Any]] = []
        self._ended_serials: set = set()
        self._main_ident = threading.main_thread().ident
        self._exit_status: Union[int, str, None] = None
        self._closed = False
        self._stopping = False  # see recording_stops()
        self.start_time = _now_iso()
        self.end_time: Optional[str] = None
        self._prepare_dir()
        self._imports = ImportLog(self.out_dir, self.modes)
        try:
            self._main = _Stream(self, None, self._main_ident, "MainThread",
                                 os.path.join(self.out_dir, "trace.json"),
                                 os.path.join(self.out_dir, "trace_paths.json"), main=True)
            self._main.flush(check=False)
            self._write_metadata(complete=False)
        except (OSError, RecordingStopped) as exc:
            raise TraceDirError("cannot write the trace directory %s: %s"
                                % (self.out_dir, getattr(exc, "strerror", None) or exc)) from exc

    # -- setup -------------------------------------------------------------------------------
    def _stream_for(self, thread: Any) -> Optional[_Stream]:
        serial = thread.serial
        with self._lock:
            st = self._streams.get(serial)
            if st is not None:
                return st
            if self._closed or serial in self._ended_serials:
                return None
            main = self._main
            if main.serial is None and thread.ident == self._main_ident:
                main.serial = serial
                main.name = thread.name
                self._streams[serial] = main
                self._by_ident[thread.ident] = main
                return main
        tdir = os.path.join(self.out_dir, "threads")
        try:
            self.modes.mkdir(tdir)
            st = _Stream(self, serial, thread.ident, thread.name,
                         os.path.join(tdir, "trace-%d.json" % serial),
                         os.path.join(tdir, "trace_paths-%d.json" % serial), main=False)
        except OSError as exc:
            raise self.write_failed(exc) from None
        with self._lock:  # registered before its first write: close() finishes it
            late = self._closed
            if not late:
                self._streams[serial] = st
                self._by_ident[thread.ident] = st
        if late:  # close() ran while the file was made: it is no part of the trace
            st.discard()
            return None
        try:
            write_json_atomic(os.path.join(tdir, "trace_metadata-%d.json" % serial),
                              self._thread_metadata(st), self.modes)
        except OSError as exc:
            raise self.write_failed(exc) from None
        st.flush(check=False)
        return st

    def _end_stream(self, st: _Stream) -> None:
        """THREAD_END: the thread ended (its ``<toplevel>`` returns None, ``"ended": true``),
        unless recording is stopping (:meth:`recording_stops`): then it is still running, and
        :meth:`close` finishes its stream as such."""
        if st.main or self._stopping:
            return  # the main stream ends at close(), returning the exit status
        st.ended = True
        failure: Optional[OSError] = None
        try:
            st.finish(st.enc.none())
        except OSError as exc:
            failure = exc
        self._count_hidden(st)
        info = st.describe()
        with self._lock:
            if self._streams.pop(st.serial, None) is st:  # type: ignore[arg-type]
                self._ended_records += st.records  # its file's counts stay in the totals
                self._ended_bytes += st.size
            if self._by_ident.get(st.ident) is st:
                del self._by_ident[st.ident]
            self._ended_serials.add(st.serial)
            self._ended_threads.append(info)  # not the stream: its tables are freed
        if failure is not None:
            raise self.write_failed(failure)

    def use_reprs(self, reprs: str) -> None:
        """Set ``reprs`` (the session calls this before recording starts when the writer
        was made without one, so that ``RECORDER_REPRS`` and ``install(reprs=...)`` apply)."""
        self.reprs = check_reprs(reprs)
        with self._lock:
            streams = list(self._streams.values()) + [self._main]
        for st in streams:
            st.enc.use_reprs(reprs)
        try:
            self._write_metadata(complete=False)
        except OSError as exc:
            raise self.write_failed(exc) from None

    def release_code(self, info: CodeInfo) -> None:
        """The code object behind ``info`` has died (the session's code catalog says so):
        drop what every stream cached for it (its records, the last values it showed), so
        code made at run time does not accumulate. Its Function id stays: a code object
        made again with the same path, line and name gets the same one. Runs on whatever
        thread freed the code, at any point: no lock, single dict operations only."""
        for st in list(self._streams.values()) + [self._main]:
            st.codes.pop(info, None)
            st.hidden_ret.pop(info, None)

    def use_filters(self, filters: Any) -> None:
        """Apply a :class:`recorder.filters.FilterEngine`'s value rules (the session calls
        this before recording starts) and write its chain and counts as ``trace_filter`` in
        ``trace_metadata.json``."""
        self.filters = filters
        self.holdback = 256 if filters is not None else 0
        with self._lock:
            streams = list(self._streams.values()) + [self._main]
        for st in streams:
            st.enc.attr_action = filters.attr_action if filters is not None else None

    def _scrub_pending(self, st: _Stream) -> None:
        """Texts hidden since the last call: out of the stream's unwritten records too."""
        texts = self.secret_texts
        new = texts[st.scrubbed:]
        st.scrubbed += len(new)
        scrub_records(st.buf, new, json_string)

    def _count_hidden(self, st: _Stream) -> None:
        """Hand a stream's counts of hidden values to the filter engine (once)."""
        filters = self.filters
        if filters is None:
            return
        enc = st.enc
        redactions, drops = dict(st.redactions), dict(st.drops)
        if enc.attr_redactions:
            redactions["attr"] = enc.attr_redactions
        if enc.attr_drops:
            drops["attr"] = enc.attr_drops
        st.redactions.clear()
        st.drops.clear()
        enc.attr_redactions = enc.attr_drops = 0
        filters.count(redactions, drops)

    # -- gaps ----------------------------------------------------------------------------------
    def gap(self, thread: Any, entry: Mapping[str, Any],
            where: Optional[Tuple[CodeInfo, Optional[int]]]) -> None:
        """Part of the program is not recorded from here on (``entry``: kind, reason and
        details, from the normaliser). On ``thread`` (None: the whole process) the gap
        starts after the records written so far, in ``where`` (the open function and its
        last line). ``trace_metadata.json`` lists it under ``gaps`` and says
        ``"complete": false``; it is rewritten now, so a killed process still says so."""
        rec: Dict[str, Any] = dict(entry)
        if thread is not None:
            st = self._streams.get(thread.serial) or self._stream_for(thread)
            rec["thread"] = thread.serial
            rec["from"] = self._position(st, where)
            rec["until"] = None
        with self._lock:
            self._gaps.append(rec)
        try:
            self._write_metadata(complete=False)
        except OSError as exc:
            raise self.write_failed(exc) from None

    def gap_end(self, thread: Any, kind: str,
                where: Optional[Tuple[CodeInfo, Optional[int]]]) -> None:
        """The open gap of ``kind`` on ``thread`` ends here: recording goes on."""
        st = self._streams.get(thread.serial)
        if st is None:
            return
        with self._lock:
            for rec in reversed(self._gaps):
                if (rec.get("thread") == thread.serial and rec["kind"] == kind
                        and rec.get("until", 0) is None):
                    rec["until"] = self._position(st, where)
                    break

    def _position(self, st: Optional[_Stream],
                  where: Optional[Tuple[CodeInfo, Optional[int]]]) -> Dict[str, Any]:
        """A point in a thread's file: the index of the next record (every record before it
        was recorded), and the function and line the thread was in."""
        pos: Dict[str, Any] = {"record": None if st is None else
                               st.records + len(st.buf)}
        if where is not None:
            info, line = where
            pos.update(function=info.label, path=self.absolute(info.filename), line=line)
        return pos

    def detached(self, st: _Stream) -> str:
        """The return value of an activation closed by the recorder, not the program."""
        return st.enc.marker("<detached>", "<detached>")

    # -- limits and failed writes --------------------------------------------------------------
    def _totals(self) -> Tuple[int, int]:
        """(records, bytes) in the event files, all threads; the caller holds ``_lock``.
        Each stream counts its own file (``_Stream.records``, ``_Stream.size``) as it
        writes, so there is one count: the gaps, the limits and the end-of-run line read it."""
        live = [st for st in self._streams.values() if not st.main]
        live.append(self._main)
        return (self._ended_records + sum(st.records for st in live),
                self._ended_bytes + sum(st.size for st in live))

    @property
    def records_written(self) -> int:
        """Records written to the event files so far, all threads."""
        with self._lock:
            return self._totals()[0]

    @property
    def bytes_written(self) -> int:
        """Bytes of the event files so far, all threads."""
        with self._lock:
            return self._totals()[1]

    def over_limit(self) -> bool:
        """Has the trace reached ``max_size`` or ``max_records`` (and not stopped yet)?"""
        if self.stopped is not None:
            return False
        with self._lock:
            records, size = self._totals()
        return ((self.max_size is not None and size >= self.max_size)
                or (self.max_records is not None and records >= self.max_records))

    def limit_reached(self) -> Optional[RecordingStopped]:
        """Recording stops at a limit: the exception to raise (None when it has stopped
        already). Records written since the last check overshoot the limit: at most one
        buffer per thread, and the closing Returns."""
        if self.max_size is not None and self.bytes_written >= self.max_size:
            reason, limit = "max-size", self.max_size
        else:
            reason, limit = "max-records", self.max_records
        if not self._stop({"reason": reason, "limit": limit}):
            return None
        stopped = self.stopped or {}
        return RecordingStopped("the trace reached its %s limit (%d %s): %d records, %d bytes "
                                "written" % (reason, limit, "bytes" if reason == "max-size"
                                             else "records", stopped.get("at_records", 0),
                                             stopped.get("at_bytes", 0)))

    def write_failed(self, exc: OSError) -> RecordingStopped:
        """A write failed (a full disk, an I/O error, the file-size limit): recording stops,
        and the metadata is written at once to say why, if it still can be. Returns the
        exception to raise (the session's one warning line)."""
        name = self._relative(exc.filename)
        error = exc.strerror or str(exc)
        message = "cannot write %s: %s" % (name, error)
        first = self._stop({"reason": "write-error", "file": name, "error": error,
                            "errno": errno.errorcode.get(exc.errno or 0)})
        if first:
            try:
                self._write_metadata(complete=False)
            except Exception:
                message += " (the metadata could not be written either)"
            else:
                message += " (trace_metadata.json says where it stopped)"
        return RecordingStopped(message)

    def _stop(self, why: Dict[str, Any]) -> bool:
        """Record why recording stops (the first reason only); False if it had stopped."""
        with self._lock:
            if self.stopped is not None:
                return False
            records, size = self._totals()
            why.update(at_records=records, at_bytes=size, time=_now_iso())
            self.stopped = why
            return True

    def _relative(self, path: Any) -> str:
        if not isinstance(path, str):
            return "a trace file"
        try:
            return os.path.relpath(path, self.out_dir)
        except ValueError:
            return path

    # -- the sink ----------------------------------------------------------------------------
    def emit(self, kind: Kind, thread: Any, code: Optional[CodeInfo], line: Optional[int],
             value: Any, depth: int, frame: Optional[FrameType]) -> None:
        st = self._streams.get(thread.serial)
        if st is None:
            st = self._stream_for(thread)
            if st is None:
                return
        if kind is _LINE:
            c = st.codes.get(code)  # type: ignore[arg-type]
            if c is None:
                c = st.code(code)  # type: ignore[arg-type]
            rec = c.lines.get(line)  # type: ignore[arg-type]
            if rec is None:
                rec = c.lines[line] = c.step + str(line) + "}}"  # type: ignore[index]
            st.buf.append(rec)
            if st.last_exc is not None:
                st.last_exc = None
            if self._full and frame is not None:
                try:
                    self._locals(st, c, frame)
                except RecursionError:
                    pass  # no room at the program's recursion limit: this Step has no values
        elif kind is _CALL or kind is _RESUME or kind is _ATTACH:
            self._open(st, kind, code, line, frame)  # type: ignore[arg-type]
        elif kind is _RETURN or kind is _YIELD:
            if st.depth <= 0:
                return  # a frame whose start we never recorded: keep the stream balanced
            if not self._args_on:
                rv = st.enc.none()
            elif not st.hidden_ret or code not in st.hidden_ret:
                rv = st.enc.encode(value)
                if self.secret_texts and len(self.secret_texts) != st.scrubbed:
                    self._scrub_pending(st)
            else:
                hidden = st.hidden_ret[code]  # type: ignore[index]
                st.hide("ret", hidden)
                st.enc.remember(value, self.secret_texts)
                rv = st.enc.hidden(hidden)
                if len(self.secret_texts) != st.scrubbed:
                    self._scrub_pending(st)
            times = st.times
            if times is not None:
                stamp = (_clock(),)
            st.buf.append('{"Return":{"return_value":' + rv + "}}")
            st.depth -= 1
            if times is not None:
                times += stamp
            st.tick -= 1
            if st.tick <= 0:
                self._maybe_flush(st)
        elif kind is _UNWIND:
            if st.depth <= 0:
                return
            rv = st.enc.encode_exception(value, self._exception_text(st, value))
            times = st.times
            if times is not None:
                stamp = (_clock(),)
            st.buf.append('{"Return":{"return_value":' + rv + "}}")
            st.depth -= 1
            if times is not None:
                times += stamp
            st.tick -= 1
            if st.tick <= 0:
                self._maybe_flush(st)
        elif kind is _RAISE:
            self._raise(st, code, line, value)
        elif kind is _HANDLED:
            st.last_exc = None
        elif kind is _DETACH:
            if st.depth <= 0:
                return
            st.depth -= 1
            st.buf.append('{"Return":{"return_value":' + self.detached(st) + "}}")
            st.stamp()
        elif kind is _THREAD_END:
            self._end_stream(st)
            return
        elif kind is _IMPORT_END:  # not in this format: imports.jsonl (formats/imports.py)
            self._import_ended(st, thread, value)
            return
        else:  # THREAD_START (the stream is open), IMPORT_START (the END has it all)
            return
        if len(st.buf) >= self._flush_records:
            try:
                st.flush()
            except RecursionError:
                pass  # no room (the program's recursion limit): a later event flushes
        enc = st.enc
        if enc.interrupt is not None:  # Ctrl-C inside a repr: deliver it now, recorded
            exc = enc.interrupt
            enc.interrupt = None
            raise exc

    def _import_ended(self, st: _Stream, thread: Any, info: Any) -> None:
        """A line of imports.jsonl. A failure here (a full disk) loses that file's lines,
        never the trace."""
        try:
            error = info.error
            self._imports.ended(info, thread.serial, None if error is None
                                else self._exception_text(st, error))
        except KeyboardInterrupt:
            raise
        except Exception:
            pass

    def _maybe_flush(self, st: _Stream) -> None:
        """The time-based flush, checked every ``_TICK`` calls and returns (a clock read
        per event would cost more than the rest of a Return). The event is already in the
        buffer: with no room to flush (the program's recursion limit) a later event does."""
        st.tick = self._tick
        try:
            if _monotonic() - st.last_flush >= self._flush_seconds:
                st.flush()
        except RecursionError:
            pass

    def _open(self, st: _Stream, kind: Kind, code: CodeInfo, line: Optional[int],
              frame: Optional[FrameType]) -> None:
        c = st.codes.get(code)
        if c is None:
            c = st.code(code)
        buf = st.buf
        args = ""
        secrets = self.secret_texts
        if secrets:
            if len(secrets) != st.enc.secrets_seen:
                st.enc.learn(secrets)  # texts another thread hid
            if c.epoch != len(secrets):  # a cached record may show a text hidden since
                c.last.clear()
                c.last_args.clear()
                c.epoch = len(secrets)
        if kind is not _RESUME and self._args_on and frame is not None:
            args = self._call_args(st, c, frame, kind is _CALL and code.call_locals_droppable)
        st.last_exc = None
        times = st.times
        if times is not None:
            # read before the records go in: at the recursion limit a call may fail, and
            # the event is then given again with nothing of it left behind
            stamp = (_clock(),)
        buf.append(c.call_step)
        buf.append(c.call + args + "]}}")
        if times is not None:
            times += stamp  # (+= calls nothing that can fail at the limit)
        st.depth += 1
        # The Call is written: what follows must not raise (the event would be retried)
        try:
            if secrets and len(secrets) != st.scrubbed:
                self._scrub_pending(st)
            if kind is _ATTACH and line is not None and self.steps != "off":
                # where the already running frame is now
                rec = c.step + str(line) + "}}"
                buf.append(rec)
                if self._full and frame is not None:
                    self._locals(st, c, frame)
            st.tick -= 1
            if st.tick <= 0:
                self._maybe_flush(st)
        except RecursionError:
            pass  # no room at the program's recursion limit (see emit)

    def _call_args(self, st: _Stream, c: _Code, frame: FrameType, drop: bool) -> str:
        """The Call record's arguments (and their Value records). ``drop``: empty the
        ``f_locals`` dict afterwards (``CodeInfo.call_locals_droppable``)."""
        names = c.argnames
        try:
            if names is None:
                co = frame.f_code
                n = co.co_argcount + co.co_kwonlyargcount
                n += bool(co.co_flags & 0x04) + bool(co.co_flags & 0x08)  # *args, **kwargs
                names = c.argnames = co.co_varnames[:n] if not c.filtered else ()
                if c.values is not None:
                    hidden = {a: c.values.action("arg", a) for a in names}
                    c.hidden_args = {a: h for a, h in hidden.items() if h} or None
            if not names:
                return ""
            loc = frame.f_locals
            buf = st.buf
            hidden_args = c.hidden_args
            last_args = c.last_args
            out = []
            for name in names:
                try:
                    v = loc[name]
                except KeyError:
                    continue
                hit = last_args.get(name)
                if hit is not None and hit[0] is v:  # see _Code.last
                    buf.append(hit[1])
                    out.append(hit[2])
                    continue
                if hidden_args is not None and name in hidden_args:
                    h = hidden_args[name]
                    st.hide("arg", h)
                    st.enc.remember(v, self.secret_texts)
                    if h == DROP:
                        continue
                    vj = st.enc.hidden(REDACT)
                else:
                    vj = st.enc.encode(v)
                p = st.var_prefix.get(name)
                if p is None:
                    p = st.new_var(name)
                ap = st.arg_prefix.get(name)
                if ap is None:
                    ap = st.arg_prefix[name] = '{"variable_id":%d,"value":' % st.var_ids[name]
                rec = p + vj + "}}"
                arg = ap + vj + "}"
                buf.append(rec)  # 0.3.0: a Value per argument before the Step
                out.append(arg)
                if _reusable(v) and (hidden_args is None or name not in hidden_args):
                    last_args[name] = (v, rec, arg)
                    if c.vars.get(name) is p:  # recorded as a local too (filters)
                        c.last[name] = (v, rec)  # the first Step's locals show it again
            if drop:
                loc.clear()
            return ",".join(out)
        except KeyboardInterrupt:
            raise
        except Exception:
            return ""

    def _locals(self, st: _Stream, c: _Code, frame: FrameType) -> None:
        if not c.locals_ok:
            return
        secrets = self.secret_texts
        if secrets and len(secrets) != st.enc.secrets_seen:
            st.enc.learn(secrets)  # texts another thread hid
        last = c.last
        if secrets and c.epoch != len(secrets):
            # a text hidden since: a cached record may show it (records already in the
            # buffer are scrubbed by _scrub_pending below)
            last.clear()
            c.last_args.clear()
            c.epoch = len(secrets)
        try:
            items = frame.f_locals.items()
            enc = st.enc.encode
            app = st.buf.append
            names = c.vars
            filtered = c.filtered  # module or class body: the user's names only
            for name, v in items:
                hit = last.get(name)
                if hit is not None:
                    h = hit[0]
                    if h is v:
                        app(hit[1])
                        continue
                    if h is _KEPT and hit[2] is not None and st.enc.same(v, hit[2]):
                        hit[3][0] += 1
                        app(hit[1])
                        continue
                if filtered:
                    if type(name) is not str or (name[:2] == "__" and name[-2:] == "__"):
                        continue
                    tv = type(v)
                    if (tv is _FunctionType or tv is _ModuleType or tv is _BuiltinType
                            or issubclass(tv, type)):
                        continue
                p = names.get(name)
                if p is None:
                    p = st.var(c, name)
                if p.__class__ is str:
                    tv = type(v)
                    if not (tv is list or tv is dict or tv is tuple or tv is set):
                        rec = p + enc(v) + "}}"
                        app(rec)
                        if _reusable(v):
                            last[name] = (v, rec)
                        continue
                    else:
                        state = hit[3] if hit is not None and hit[0] is _KEPT else None
                        if state is not None and state[0] == 0 and (
                                state[1] > 0 or hit[2] is not None):  # type: ignore[index]
                            # the last snapshot never matched (the value changes at every
                            # Step) or none could be taken: skip a few (each costs more
                            # than an encoding)
                            rec = p + enc(v) + "}}"
                            last[name] = (_KEPT, rec, None,
                                          [0, state[1] - 1 if state[1] > 0 else _RETRY])
                        else:
                            vj, snap = st.enc.encode_kept(v)
                            rec = p + vj + "}}"
                            # no snapshot (it holds program objects, say): a long pause
                            last[name] = (_KEPT, rec, snap,
                                          [0, 0 if snap is not None else _NO_SNAPSHOT])
                    app(rec)
                else:
                    self._hidden_var(st, c, p, v)
        except KeyboardInterrupt:
            raise
        except Exception:
            pass  # e.g. a namespace changed size under us (another thread): values lost
        if secrets and len(secrets) != st.scrubbed:
            self._scrub_pending(st)

    def _hidden_var(self, st: _Stream, c: _Code, p: Any, v: Any) -> None:
        if p:  # redacted: the complete record
            st.buf.append(p[0])
            st.hide(c.vkind, 1)
        else:
            st.hide(c.vkind, 2)
        st.enc.remember(v, self.secret_texts)

    def _exception_text(self, st: _Stream, exc: Any) -> str:
        if exc is st.last_exc:
            return st.last_exc_text
        text = st.enc.exception_text(exc, with_message=self._args_on)
        st.last_exc = exc
        st.last_exc_text = text
        return text

    def _raise(self, st: _Stream, code: Optional[CodeInfo], line: Optional[int],
               exc: Any) -> None:
        if exc is st.last_exc:
            return  # the same exception propagating into the caller: recorded once
        text = self._exception_text(st, exc)
        meta: Dict[str, Any] = {"event": "raise", "thread": st.serial,
                                "exception": type_name(type(exc))}
        if code is not None:
            c = st.codes.get(code)
            if c is None:
                c = st.code(code)
            meta["path_id"] = c.path_id
            meta["line"] = line
        st.buf.append('{"Event":{"kind":%d,"metadata":%s,"content":%s}}' % (
            EVENT_ERROR, json_string(json.dumps(meta, separators=(",", ":"))),
            json_string(text)))

    # -- output capture ----------------------------------------------------------------------
    def record_output(self, stream: str, text: str, thread: Any = None) -> None:
        """An ``Event`` for program I/O: ``stream`` is "stdout" (Write 0), "stderr"
        (WriteOther 2) or "stdin" (Read 3). It goes to ``thread``'s stream, by default the
        calling thread's (the main stream when that thread has no stream). Long text is
        split into several Events of at most 64 KiB and written at once (bounded memory)."""
        kind = _OUTPUT_KINDS[stream]
        st = None
        if thread is not None:
            st = self._streams.get(thread.serial)
        else:
            st = self._by_ident.get(threading.get_ident())
        if st is None:
            st = self._main
        if st.closed:
            return
        if self.secret_texts:  # what the filters hid never reaches the disk as output either
            if len(self.secret_texts) != st.enc.secrets_seen:
                st.enc.learn(self.secret_texts)
            text = st.enc.scrub_text(text)
        meta = json_string('{"stream":"%s","thread":%s}' % (
            stream, "null" if st.serial is None else int(st.serial)))
        head = '{"Event":{"kind":%d,"metadata":%s,"content":' % (kind, meta)
        buf = st.buf
        if len(text) <= _OUTPUT_CHUNK:
            buf.append(head + json_string(text) + "}}")
            if len(buf) >= self._flush_records:
                st.flush()
            return
        for i in range(0, len(text), _OUTPUT_CHUNK):
            buf.append(head + json_string(text[i:i + _OUTPUT_CHUNK]) + "}}")
            st.flush()

    # -- lifecycle ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every stream's buffered records now (any thread)."""
        for st in list(self._streams.values()) + [self._main]:
            st.flush()

    def recording_stops(self, main_ended: bool = False) -> None:
        """Recording stops (the session says so before the normaliser's last DETACH and
        THREAD_END events): a thread whose stream ends from now on was still running, so
        its ``<toplevel>`` returns ``"<detached>"`` and its metadata says ``"ended": false``.
        ``main_ended``: the main thread had finished the program (its module frame ended),
        so MainThread says ``"ended": true``."""
        self._stopping = True
        self._main.ended = bool(main_ended)

    def set_exit_status(self, status: Union[int, str, None]) -> None:
        """What ``<toplevel>`` returns: the exit code (int), or a label such as
        ``"<exit>"`` (unknown) or ``"<disabled>"``."""
        self._exit_status = status

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, exit_status: Union[int, str, None] = None) -> None:
        """Finish every stream (Returns for what is still open, marked ``<detached>``; the
        main ``<toplevel>`` returns the exit status), then write ``trace_paths.json`` and the
        final ``trace_metadata.json``. Idempotent. Errors are raised after everything
        possible was written."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            streams = [st for st in self._streams.values() if not st.main]
        if exit_status is not None:
            self._exit_status = exit_status
        status = self._exit_status
        self.end_time = _now_iso()
        told = self.stopped is not None and self.stopped["reason"] == "write-error"
        first_error: Optional[BaseException] = None
        for st in streams:
            try:
                st.finish(st.enc.string("<detached>"))  # a thread still running
            except Exception as exc:
                first_error = first_error or exc
        main = self._main
        try:
            if isinstance(status, bool) or not isinstance(status, (int, str)):
                top = main.enc.string("<exit>")
            elif isinstance(status, int):
                top = main.enc.encode(int(status))
            else:
                top = main.enc.string(status)
            main.finish(top)
        except Exception as exc:
            first_error = first_error or exc
        for st in streams + [main]:
            self._count_hidden(st)
        try:
            self._imports.close()
        except Exception as exc:
            first_error = first_error or exc
        self._scrub_sources()
        if isinstance(first_error, OSError):
            first_error = self.write_failed(first_error)  # "stopped" for the metadata
        try:
            self._write_metadata(complete=True)
        except Exception as exc:
            first_error = first_error or exc
        if first_error is not None and not told:  # a write error was told already: once
            raise first_error
