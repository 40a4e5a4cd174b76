"""Reading CodeTracer trace directories, including ones cut short by a kill.

:func:`read_events` streams ``trace.json`` with ``json.JSONDecoder.raw_decode`` and stops
cleanly at the end of what was written: a complete file gives ``complete=True``; a file
whose writer was killed (no closing ``]``, maybe half a record at the end) gives every whole
record before the cut and ``complete=False``. Any layout of the array is accepted (ours
writes one record per line; 0.3.0 writes a single line).

:func:`check_balance` is the structural check the tests use: Calls and Returns pair up,
every id is defined before use, and each Call but the first is preceded by a Step at its
function's line. :func:`repair_trace` turns a truncated file into a complete, balanced one;
:func:`repair_trace_dir` does it for a whole trace directory (``python -m recorder --repair``).
"""
from __future__ import annotations

import gc
import glob
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from recorder.formats.storage import open_replacement

__all__ = ["TraceRead", "TraceDir", "Balance", "EventReader", "read_events", "read_trace_dir",
           "check_balance", "repair_trace", "repair_trace_dir", "Repaired"]

_WS = " \t\r\n"


class EventReader:
    """Iterates the records of a ``trace.json`` (complete or truncated), reading in chunks.

    After iteration, ``complete`` says whether the closing ``]`` was found and ``error``
    why reading stopped early (None for a complete file).
    """

    def __init__(self, path: str, chunk_size: int = 1 << 20) -> None:
        self.path = path
        self.chunk_size = chunk_size
        self.complete = False
        self.error: Optional[str] = None
        self.count = 0
        #: character offset just after the last whole record (for repair)
        self.good_end = 0

    def __iter__(self) -> Iterator[Any]:
        raw = json.JSONDecoder().raw_decode
        self.complete = False
        self.error = None
        self.count = 0
        with open(self.path, "r", encoding="utf-8", errors="replace", newline="") as fh:
            text = ""
            i = 0
            base = 0  # characters consumed before text[0]
            eof = False
            started = False

            def more() -> bool:
                nonlocal text, i, base, eof
                if eof:
                    return False
                chunk = fh.read(self.chunk_size)
                if not chunk:
                    eof = True
                    return False
                base += i
                text = text[i:] + chunk
                i = 0
                return True

            while True:
                n = len(text)
                while i < n and (text[i] in _WS or (started and text[i] == ",")):
                    i += 1
                if i >= n:
                    if more():
                        continue
                    self.error = ("empty file" if not started else
                                  "the array is not closed (the writer was stopped early)")
                    return
                ch = text[i]
                if not started:
                    if ch != "[":
                        self.error = "not a JSON array"
                        return
                    started = True
                    i += 1
                    self.good_end = base + i
                    continue
                if ch == "]":
                    self.complete = True
                    return
                try:
                    obj, end = raw(text, i)
                except ValueError:
                    if more():
                        continue
                    self.error = "the last record is cut short (the writer was stopped early)"
                    return
                if end >= len(text) and not eof and more():
                    continue  # a number or literal could continue in the next chunk
                i = end
                self.count += 1
                self.good_end = base + i
                yield obj


@dataclass
class TraceRead:
    """The records of one trace file."""

    path: str
    events: List[Any]
    complete: bool
    error: Optional[str] = None


@dataclass
class TraceDir:
    """A whole trace directory: ``main`` is trace.json, ``threads`` maps serial -> file."""

    out_dir: str
    main: TraceRead
    threads: Dict[int, TraceRead]
    paths: List[str]
    metadata: Optional[Dict[str, Any]]


def _read_all(reader: "EventReader") -> List[Any]:
    """``list(reader)`` with the cyclic GC paused: every record is a few new dicts, and with
    the GC on, collections re-walk the growing list of records again and again (reading
    40k records took 8 s instead of 0.4 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return list(reader)
    finally:
        if enabled:
            gc.enable()


def read_events(path: str) -> TraceRead:
    """Every whole record of ``path`` (see :class:`EventReader`)."""
    reader = EventReader(path)
    events = _read_all(reader)
    return TraceRead(path, events, reader.complete, reader.error)


def _load_json(path: str) -> Any:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def read_trace_dir(out_dir: str) -> TraceDir:
    """Read ``trace.json``, every ``threads/trace-<serial>.json``, the paths and metadata.
    After a kill, ``trace_paths.json`` may lag behind the Path records; ``paths`` then
    comes from the Path records of trace.json."""
    main = read_events(os.path.join(out_dir, "trace.json"))
    threads: Dict[int, TraceRead] = {}
    for p in glob.glob(os.path.join(out_dir, "threads", "trace-*.json")):
        m = re.search(r"trace-(\d+)\.json$", p)
        if m:
            threads[int(m.group(1))] = read_events(p)
    in_stream = [e["Path"] for e in main.events if isinstance(e, dict) and "Path" in e]
    paths = _load_json(os.path.join(out_dir, "trace_paths.json"))
    if not isinstance(paths, list) or len(paths) < len(in_stream):
        paths = in_stream
    metadata = _load_json(os.path.join(out_dir, "trace_metadata.json"))
    return TraceDir(out_dir, main, dict(sorted(threads.items())), paths, metadata)


@dataclass
class Balance:
    """What :func:`check_balance` found."""

    calls: int = 0
    returns: int = 0
    #: Calls without their Return at the end (0 for a good complete trace)
    open: int = 0
    max_depth: int = 0
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.open == 0


def _check_value(v: Any, ntypes: int, where: str, problems: List[str]) -> None:
    if not isinstance(v, dict) or "kind" not in v:
        problems.append("%s: not a value record: %r" % (where, v))
        return
    tid = v.get("type_id")
    if v["kind"] != "Cell" and (not isinstance(tid, int) or not 0 <= tid < ntypes):
        problems.append("%s: type_id %r not defined yet" % (where, tid))
    for sub in v.get("elements", ()) or ():
        _check_value(sub, ntypes, where, problems)
    for sub in v.get("field_values", ()) or ():
        _check_value(sub, ntypes, where, problems)


def check_balance(events: List[Any], complete: bool = True, strict: bool = True,
                  max_problems: int = 20) -> Balance:
    """Check a stream's structure.

    Always: a Return never comes without an open Call; with ``complete``, nothing is left
    open at the end. With ``strict``, also: every id (path, function, variable, type) is
    defined by an earlier record, and every Call after the first is immediately preceded
    by a Step at its function's (path_id, line), as 0.3.0 writes them.
    """
    b = Balance()
    problems = b.problems
    depth = 0
    npaths = nfuncs = nvars = ntypes = 0
    functions: List[Any] = []
    prev: Any = None
    for idx, ev in enumerate(events):
        if len(problems) >= max_problems:
            break
        if not isinstance(ev, dict) or len(ev) != 1:
            problems.append("#%d: not a single-key object" % idx)
            prev = ev
            continue
        (kind, body), = ev.items()
        where = "#%d %s" % (idx, kind)
        if kind == "Path":
            npaths += 1
        elif kind == "Function":
            functions.append(body)
            nfuncs += 1
            if strict and not 0 <= body.get("path_id", -1) < npaths:
                problems.append("%s: path_id not defined yet" % where)
        elif kind in ("VariableName", "Variable"):
            nvars += 1
        elif kind == "Type":
            ntypes += 1
        elif kind == "Call":
            fid = body.get("function_id")
            if strict:
                if not isinstance(fid, int) or not 0 <= fid < nfuncs:
                    problems.append("%s: function_id %r not defined yet" % (where, fid))
                elif b.calls > 0:
                    f = functions[fid]
                    ok = (isinstance(prev, dict) and "Step" in prev
                          and prev["Step"].get("path_id") == f.get("path_id")
                          and prev["Step"].get("line") == f.get("line"))
                    if not ok:
                        problems.append("%s: not preceded by a Step at its function's line"
                                        % where)
                for arg in body.get("args", ()):
                    if not 0 <= arg.get("variable_id", -1) < nvars:
                        problems.append("%s: arg variable_id not defined yet" % where)
                    _check_value(arg.get("value"), ntypes, where, problems)
            b.calls += 1
            depth += 1
            b.max_depth = max(b.max_depth, depth)
        elif kind == "Return":
            b.returns += 1
            if depth == 0:
                problems.append("%s: Return without an open Call" % where)
            else:
                depth -= 1
            if strict:
                _check_value(body.get("return_value"), ntypes, where, problems)
        elif kind == "Step":
            if strict and not 0 <= body.get("path_id", -1) < npaths:
                problems.append("%s: path_id not defined yet" % where)
        elif kind == "Value":
            if strict:
                if not 0 <= body.get("variable_id", -1) < nvars:
                    problems.append("%s: variable_id not defined yet" % where)
                _check_value(body.get("value"), ntypes, where, problems)
        prev = ev
    b.open = depth
    if complete and depth != 0:
        problems.append("%d Call(s) without a Return at the end" % depth)
    return b


def repair_trace(path: str) -> Balance:
    """Make a truncated ``trace.json`` complete in place: keep every whole record, add a
    ``Return`` (an ``Error "<detached>"`` value, TypeKind Error) for every Call still open,
    and close the array. A complete file is left as it is. Returns the new balance."""
    reader = EventReader(path)
    events = _read_all(reader)
    if reader.complete:
        return check_balance(events)
    ntypes = sum(1 for e in events if isinstance(e, dict) and "Type" in e)
    open_calls = check_balance(events, complete=False, strict=False).open
    tail = closing_records(ntypes, open_calls)
    with open(path, "r", encoding="utf-8", errors="replace", newline="") as fh:
        head = fh.read(reader.good_end) if reader.good_end else "["
    tmp, out = open_replacement(path)  # the file keeps its mode
    with out:
        out.write(head)
        out.write(closing_text(tail, reader.count > 0))
    os.replace(tmp, path)
    return check_balance(events + tail)


def closing_records(ntypes: int, open_calls: int) -> List[Any]:
    """What closes a cut event file holding ``ntypes`` Type records and ``open_calls`` Calls
    without their Return: a ``<detached>`` Type (id ``ntypes``) and an ``Error "<detached>"``
    Return for each open Call."""
    if not open_calls:
        return []
    return ([{"Type": {"kind": 24, "lang_type": "<detached>", "specific_info": {"kind": "None"}}}]
            + [{"Return": {"return_value": {"kind": "Error", "msg": "<detached>",
                                            "type_id": ntypes}}}] * open_calls)


def closing_text(records: List[Any], after_a_record: bool) -> str:
    """``records`` as the end of an event file that stops after ``[`` (or after a record),
    with the closing ``]``."""
    text = "".join(("\n" if i == 0 and not after_a_record else ",\n")
                   + json.dumps(rec, separators=(",", ":")) for i, rec in enumerate(records))
    return text + "\n]\n"


class Repaired:
    """What :func:`repair_trace_dir` did to one event file."""

    def __init__(self, path: str, was_complete: bool, closed: int, balance: Balance) -> None:
        self.path = path
        #: the file already ended with its closing bracket: left as it was
        self.was_complete = was_complete
        #: Calls that were still open and got a ``<detached>`` Return
        self.closed = closed
        self.balance = balance


def repair_trace_dir(out_dir: str) -> List[Repaired]:
    """Finish a trace directory left by a killed process (``python -m recorder --repair
    DIR``): :func:`repair_trace` on ``trace.json`` and every thread's file; each
    ``trace_paths*.json`` that lags behind its file's Path records is rewritten from them; a
    cut last line of ``imports.jsonl`` is dropped; ``trace_metadata.json`` gets a
    ``"repaired"`` entry (``"complete"`` stays false: the program's end was not seen).
    Raises ``ValueError`` naming the directory when it holds no ``trace.json``."""
    main = os.path.join(out_dir, "trace.json")
    if not os.path.isfile(main):
        raise ValueError("%s is not a trace directory (no trace.json)" % out_dir)
    files = [(main, os.path.join(out_dir, "trace_paths.json"))]
    for path in sorted(glob.glob(os.path.join(out_dir, "threads", "trace-*.json"))):
        serial = re.search(r"trace-(\d+)\.json$", path)
        if serial:
            files.append((path, os.path.join(out_dir, "threads",
                                             "trace_paths-%s.json" % serial.group(1))))
    done: List[Repaired] = []
    for path, paths_path in files:
        before = read_events(path)
        open_calls = 0 if before.complete else check_balance(
            before.events, complete=False, strict=False).open
        balance = repair_trace(path)
        done.append(Repaired(path, before.complete, open_calls, balance))
        in_stream = [e["Path"] for e in before.events if isinstance(e, dict) and "Path" in e]
        listed = _load_json(paths_path)
        if not isinstance(listed, list) or len(listed) < len(in_stream):
            _write_json(paths_path, in_stream, like=path)
    _drop_cut_line(os.path.join(out_dir, "imports.jsonl"))
    if any(not r.was_complete for r in done):
        meta_path = os.path.join(out_dir, "trace_metadata.json")
        meta = _load_json(meta_path)
        if isinstance(meta, dict):
            meta["repaired"] = {"files": [os.path.relpath(r.path, out_dir) for r in done
                                          if not r.was_complete],
                                "closed_calls": sum(r.closed for r in done)}
            _write_json(meta_path, meta)
    return done


def _write_json(path: str, data: Any, like: Optional[str] = None) -> None:
    """Rewrite ``path``, keeping its mode (a missing one gets the mode of ``like``)."""
    tmp, fh = open_replacement(path, like)
    with fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)


def _drop_cut_line(path: str) -> None:
    """A JSON-lines file cut by a kill: keep it up to its last newline (cut in place, so
    the file keeps its mode)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return
    end = data.rfind(b"\n") + 1
    if end != len(data):
        os.truncate(path, end)
