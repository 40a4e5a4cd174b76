"""One thread's part of a trace: its event file with the buffer of records not yet written,
its id tables (paths, functions, types, variables), its time stamps, and how the file is
written, cut back after a failed write and finished (:class:`_Stream`); and what a stream
knows of one code object (:class:`_Code`). The trace writer (formats/codetracer.py) makes
one stream per thread and appends records to it; this module puts them on disk."""
from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from recorder.events import CodeInfo
from recorder.formats.storage import append_whole, write_all, write_json_atomic
from recorder.formats.timing import TimesWriter, times_path
from recorder.redaction import ALLOW, DROP, REDACT
from recorder.values import TypeRegistry, ValueEncoder, json_string

if TYPE_CHECKING:
    from recorder.formats.codetracer import CodeTracerWriter

#: ``_Code.last``'s mark of a container or program object's record, kept with the snapshot
#: that tells whether a later value would give the same record (ValueEncoder.same)
_KEPT = object()

_monotonic = time.monotonic
#: the clock of the call/return stamps (formats/timing.py) and of imports.jsonl
_clock = time.perf_counter
_getpid = os.getpid


class _Code:
    """What one stream knows about one code object (keyed by its CodeInfo, dropped when the
    code object dies: :meth:`CodeTracerWriter.release_code`)."""

    __slots__ = ("step", "lines", "call_step", "call", "argnames", "filtered", "locals_ok",
                 "path_id", "function_id", "firstlineno", "values", "vkind", "vars",
                 "hidden_args", "ret", "last", "last_args", "epoch")

    def __init__(self, path_id: int, function_id: int, firstlineno: int, filtered: bool) -> None:
        self.path_id = path_id
        self.function_id = function_id
        self.firstlineno = firstlineno
        #: '{"Step":{"path_id":P,"line":' and the finished Step records by line
        self.step = '{"Step":{"path_id":%d,"line":' % path_id
        self.lines: Dict[int, str] = {}
        #: the Step at the def line that precedes every Call (0.3.0's register_call)
        self.call_step = '{"Step":{"path_id":%d,"line":%d}}' % (path_id, firstlineno)
        self.call = '{"Call":{"function_id":%d,"args":[' % function_id
        self.argnames: Optional[Sequence[str]] = None
        #: module or class body: show the user's names only
        self.filtered = filtered
        #: reading f_locals at a line is safe (CodeInfo.locals_readable)
        self.locals_ok = True
        #: filters (docs/filters.md): the code's value decisions, "local" or "global", and
        #: per variable name its Value prefix (recorded), a 1-tuple holding the complete
        #: redacted record, or False (dropped); decided once per name
        self.values: Any = None
        self.vkind = "local"
        self.vars: Dict[str, Any] = {}
        self.hidden_args: Optional[Dict[str, int]] = None  # argument name -> 1/2
        self.ret = ALLOW  # return/yield values: ALLOW, REDACT or DROP
        #: variable name -> (value, its finished Value record) for the last immutable value
        #: seen at a Step: a loop's unchanged locals are written again without encoding
        #: (an identity check; the cache holds the value, so its id cannot be reused).
        #: A container is kept as (_KEPT, record, snapshot or None, [hits, snapshots to skip]):
        #: its record is written again when ValueEncoder.same says the value now there
        #: would give it.
        #: ``epoch`` is the count of hidden texts when it was filled (see _locals).
        self.last: Dict[str, Tuple[Any, ...]] = {}
        #: the same for arguments: name -> (value, Value record, Call argument record)
        self.last_args: Dict[str, Tuple[Any, str, str]] = {}
        self.epoch = 0


class _Stream:
    """One thread's trace file and its id tables."""

    def __init__(self, writer: "CodeTracerWriter", serial: Optional[int], ident: Optional[int],
                 name: str, trace_path: str, paths_path: str, main: bool) -> None:
        self.writer = writer
        self.serial = serial
        self.ident = ident
        self.name = name
        self.main = main
        self.trace_path = trace_path
        self.paths_path = paths_path
        self.pid = _getpid()
        self.lock = threading.Lock()
        self.buf: List[str] = []
        self.started = False  # "[" written
        self.written = False  # a record written (the next one needs a comma)
        self.closed = False
        self.ended = False
        self.last_flush = _monotonic()
        #: co_filename (as met) -> path_id; path_ids: written path -> path_id, so a file
        #: named two ways (the program as given on the command line, and its code's
        #: absolute co_filename) is one Path
        self.paths: Dict[str, int] = {}
        self.path_ids: Dict[str, int] = {}
        self.path_list: List[str] = []
        self.paths_dirty = False
        self.functions: Dict[tuple, int] = {}
        self.codes: Dict[CodeInfo, _Code] = {}
        self.var_ids: Dict[str, int] = {}
        self.var_prefix: Dict[str, str] = {}
        #: variable name -> '{"variable_id":N,"value":' (an argument of a Call record)
        self.arg_prefix: Dict[str, str] = {}
        #: calls and returns left before the time-based flush is checked again
        self.tick = 1  # the first call or return checks the clock
        self.depth = 0
        #: records written to the file so far: the one count of the trace's records (a
        #: gap's position is a record index; the writer's totals, the limits and the
        #: end-of-run line add up the streams')
        self.records = 0
        self.last_exc: Any = None
        self.last_exc_text = ""
        #: bytes in the file, always ending on a record boundary (see _cut_back)
        self.size = 0
        #: a write stopped part way without an OSError (no room at the program's recursion
        #: limit): the next one first cuts the file back to ``size``
        self.torn = False
        #: the <toplevel> Return is in the buffer (finish)
        self.top_returned = False
        #: a write failed: the file was cut back to its last whole record and takes no more
        #: records; ``good`` = (open Calls, Types, Paths) in what it holds (see _cut_back)
        self.dead = False
        self.good: Tuple[int, int, int] = (0, 0, 0)
        self.cut_closed = False  # a dead file got its closing records after all
        self.fd = writer.modes.create(trace_path)
        #: the time of every Call and Return record appended to buf, in order (None: the
        #: writer's timing is off); written to the side file with the records
        self.times: Optional[List[float]] = None
        self.times_out: Optional[TimesWriter] = None
        if writer.timing:
            try:
                self.times_out = TimesWriter(times_path(trace_path), writer.modes)
            except BaseException:
                os.close(self.fd)
                raise
            self.times = []
        buf = self.buf
        self.types = TypeRegistry(buf.append, writer.value_options.max_types)
        # 0.3.0's start(): Path, Function <toplevel>, Call, Type None (type 0)
        top = writer.toplevel_path
        fid = self.function_id(top, 1, "<toplevel>")
        buf.append('{"Call":{"function_id":%d,"args":[]}}' % fid)
        self.stamp()
        # registers None = type 0
        self.enc = ValueEncoder(self.types, writer.value_options, writer.reprs or "builtin")
        self.enc.attr_action = writer.filters.attr_action if writer.filters else None
        self.enc.shared_secrets = writer.secret_texts
        #: how many of writer.secret_texts were scrubbed from this stream's pending records
        self.scrubbed = 0
        #: values the filters hid, by kind (local, global, arg, ret)
        self.redactions: Dict[str, int] = {}
        self.drops: Dict[str, int] = {}
        #: code -> 1/2 for the codes whose return values the filters hide
        self.hidden_ret: Dict[CodeInfo, int] = {}

    def stamp(self) -> None:
        """The time of the Call or Return record just appended (outside the hot path; the
        writer's event methods inline it)."""
        if self.times is not None:
            self.times.append(_clock())

    # -- id tables ---------------------------------------------------------------------------
    def path_id(self, filename: str) -> int:
        pid = self.paths.get(filename)
        if pid is None:
            path = self.writer.absolute(filename)
            pid = self.path_ids.get(path)
            if pid is None:
                # record first, ids last (see TypeRegistry.get): an event retried after a
                # RecursionError finds either everything or nothing
                rec = '{"Path":%s}' % json_string(path)
                self.writer.copy_source(path)
                pid = len(self.path_list)
                self.buf.append(rec)
                self.path_list.append(path)
                self.path_ids[path] = pid
                self.paths_dirty = True
            self.paths[filename] = pid
        return pid

    def function_id(self, filename: str, line: int, name: str) -> int:
        path_id = self.path_id(filename)
        key = (path_id, line, name)
        fid = self.functions.get(key)
        if fid is None:
            fid = len(self.functions)
            self.buf.append('{"Function":{"path_id":%d,"line":%d,"name":%s}}'
                            % (path_id, line, json_string(name)))
            self.functions[key] = fid
        return fid

    def code(self, info: CodeInfo) -> _Code:
        filename = info.filename
        line = info.firstlineno
        fid = self.function_id(filename, line, info.label)
        c = _Code(self.paths[filename], fid, line, info.kind in ("module", "class"))
        c.locals_ok = info.locals_readable
        filters = self.writer.filters
        if filters is not None:
            c.values = values = filters.values_for(info)
            c.vkind = "global" if info.kind == "module" else "local"
            c.ret = values.ret
            if c.ret:
                self.hidden_ret[info] = c.ret
        self.codes[info] = c
        return c

    def var(self, c: _Code, name: str) -> Any:
        """What a value of variable ``name`` in ``c`` becomes (see ``_Code.vars``)."""
        action = c.values.action(c.vkind, name) if c.values is not None else ALLOW
        if action == DROP:
            out: Any = False
        else:
            out = self.var_prefix.get(name) or self.new_var(name)
            if action:
                out = (out + self.enc.hidden(REDACT) + "}}",)
        c.vars[name] = out
        return out

    def hide(self, kind: str, action: int) -> None:
        """Count a value the filters hid (``action``: REDACT or DROP)."""
        counts = self.redactions if action == REDACT else self.drops
        counts[kind] = counts.get(kind, 0) + 1

    def new_var(self, name: str) -> str:
        vid = len(self.var_ids)
        prefix = '{"Value":{"variable_id":%d,"value":' % vid
        self.buf.append('{"VariableName":%s}' % json_string(name))
        self.var_ids[name] = vid
        self.var_prefix[name] = prefix
        return prefix

    # -- output ------------------------------------------------------------------------------
    def flush(self, check: bool = True) -> None:
        """Write the buffered records. ``check``: raise :class:`RecordingStopped` when the
        trace has now reached one of its limits, or a write failed (the session then stops
        recording); without it the next checked flush tells."""
        if self.closed:
            return
        if _getpid() != self.pid:  # a forked child: the files are the parent's
            del self.buf[:]
            return
        failure: Optional[OSError] = None
        with self.lock:
            if self.closed:
                return
            try:
                self._write(final=False)
            except OSError as exc:
                failure = exc
        writer = self.writer
        if failure is not None:
            raise writer.write_failed(failure)
        if check and writer.limits_on and writer.over_limit():
            stop = writer.limit_reached()
            if stop is not None:
                raise stop

    def _write(self, final: bool = True) -> None:
        """Write out the buffer (``final``: all of it; else all but the filters' holdback),
        then the stamps of the records written, the import lines (main stream) and the path
        table. ``OSError`` when a write fails, after the failed file was cut back to its last
        whole record (stamp). Records leave the buffer only once written: at the program's
        recursion limit the write itself may find no room (RecursionError), and the records
        then stay for a later write."""
        buf = self.buf
        if self.dead:
            del buf[:]
            if self.times is not None:
                del self.times[:]
            return
        n = len(buf)
        if not final:  # with filters, the newest records wait (see CodeTracerWriter.holdback)
            n -= self.writer.holdback
        if n > 0:
            data = ",\n".join(buf[:n])
            if self.written:
                data = ",\n" + data
            elif self.started:  # a flush with nothing to write has written "[" alone
                data = "\n" + data
            else:
                data = "[\n" + data
            self._append(data.encode("utf-8", "backslashreplace"))
            # from here on nothing may raise before the counts agree with the file
            del buf[:n]  # records appended meanwhile stay (index n onwards)
            self.records += n
            self.started = self.written = True
        elif not self.started:
            self._append(b"[")
            self.started = True
        self.last_flush = _monotonic()
        error: Optional[OSError] = None
        times_out = self.times_out
        if times_out is not None:  # the stamps of the records written, never more
            try:
                times_out.write(self.times, buf, final)  # type: ignore[arg-type]
            except OSError as exc:
                error = exc  # the side file was cut back to whole stamps and takes no more
        if self.main:
            try:
                self.writer._imports.flush()
            except OSError as exc:
                error = error or exc
        if self.paths_dirty:
            try:
                write_json_atomic(self.paths_path, list(self.path_list), self.writer.modes)
                self.paths_dirty = False
            except OSError as exc:
                self.paths_dirty = False  # the Path records have them: no retry per flush
                error = error or exc
        if error is not None:
            raise error

    def _append(self, data: bytes) -> None:
        """Add ``data`` (the start of ``buf``, written out) at the end of the file."""
        try:
            append_whole(self, data)
        except OSError as exc:
            self._cut_back()
            if exc.filename is None:
                exc.filename = self.trace_path
            raise

    def _cut_back(self) -> None:
        """A write failed (its records, maybe half written, are still at the start of
        ``buf``): cut the file back to its last whole record, so that it stays readable, and
        take no more records. What the file holds is counted from what it does not: the
        Calls still open there, and its Types and Paths (ids are positions), for
        :meth:`_close_cut`. The side file keeps the stamps of the records written."""
        lost = list(self.buf)
        del self.buf[:]
        self.dead = True
        calls = returns = types = paths = 0
        for rec in lost:
            head = rec[:9]
            if head == '{"Call":{':
                calls += 1
            elif head == '{"Return"':
                returns += 1
            elif head == '{"Type":{':
                types += 1
            elif head == '{"Path":"':
                paths += 1
        opened = self.depth + (0 if self.top_returned else 1) - (calls - returns)
        self.good = (opened, len(self.types) - types, len(self.path_list) - paths)
        try:
            os.ftruncate(self.fd, self.size)
            os.lseek(self.fd, self.size, os.SEEK_SET)
            self.torn = False
        except OSError:
            pass
        times = self.times
        if times is not None:
            try:  # the stamps of what the file still holds, if the disk takes them
                self.times_out.write(times, lost, True)  # type: ignore[union-attr]
            except OSError:
                pass
            del times[:]

    def _close_cut(self) -> bool:
        """Close a file cut back by a failed write as ``--repair`` would (a ``<detached>``
        Return for every Call open in it, and the closing bracket), if the disk still takes
        these few bytes; else it stays as cut (a readable prefix). True when closed. The
        closing Returns get no stamps (the side file never has more stamps than records)."""
        from recorder.formats.reader import closing_records, closing_text

        opened, types, paths = self.good
        try:
            write_json_atomic(self.paths_path, self.path_list[:paths], self.writer.modes)
        except OSError:
            pass  # a reader takes the paths from the Path records
        if not self.started:
            return False  # not even "[" could be written
        tail = closing_text(closing_records(types, opened), self.written)
        try:
            write_all(self.fd, tail.encode("ascii"), self.size)
        except OSError:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            return False
        self.size += len(tail)
        return True

    def finish(self, top_return: str) -> None:
        """Close what is still open (a DETACH-marked Return each), return from <toplevel>,
        end the JSON array, close the file. A write that fails raises ``OSError``, after
        the file was closed as well as the disk allows (:meth:`_close_cut`)."""
        if self.closed:
            return
        if _getpid() != self.pid:
            self.closed = True
            return
        with self.lock:
            if self.closed:
                return
            error: Optional[OSError] = None
            try:
                if not self.dead:
                    buf = self.buf
                    while self.depth > 0:
                        self.depth -= 1
                        buf.append('{"Return":{"return_value":%s}}'
                                   % self.writer.detached(self))
                        self.stamp()
                    buf.append('{"Return":{"return_value":%s}}' % top_return)
                    self.stamp()
                    self.top_returned = True
                    self.paths_dirty = True
                    try:
                        self._write()
                    except OSError as exc:
                        error = exc
                    if not self.dead:
                        try:
                            self._append(b"\n]\n")
                        except OSError as exc:
                            error = error or exc
                if self.dead:
                    self.cut_closed = self._close_cut()
            finally:
                self.closed = True
                os.close(self.fd)
                if self.times_out is not None:
                    self.times_out.close()
            if error is not None:
                raise error

    def discard(self) -> None:
        """Close and remove this stream's files: made after the trace was closed."""
        self.closed = True
        try:
            os.close(self.fd)
        except OSError:
            pass
        if self.times_out is not None:
            self.times_out.close()
        for path in (self.trace_path, self.paths_path, times_path(self.trace_path)):
            try:
                os.remove(path)
            except OSError:
                pass

    def describe(self) -> Dict[str, Any]:
        root = self.writer.out_dir
        out = {"serial": self.serial, "ident": self.ident, "name": self.name,
               "trace": os.path.relpath(self.trace_path, root),
               "paths": os.path.relpath(self.paths_path, root),
               "ended": self.ended}
        if self.dead and not self.cut_closed:
            out["cut"] = True  # a write failed and the file could not be closed after it
        return out
