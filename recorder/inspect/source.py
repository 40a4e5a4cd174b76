"""A trace directory as the views see it: its event files, metadata, imports and time stamps.

``open_trace(DIR)`` checks the directory before anything is printed: it must hold a
``trace.json`` (or be the root of an auto-start run, whose subdirectories hold one each),
and every event file must start as a JSON array. A file that is not closed is read up to its
last whole record when the recording did not finish (a killed process: the metadata says
``"complete": false``), and is bad input (:class:`InspectError`) when the metadata says the
recording finished: the file was cut afterwards. Metadata is optional: a bare
directory with ``trace.json`` alone is still read.
"""
from __future__ import annotations

import glob
import json
import os
import re
from typing import Any, Dict, List, Optional

from recorder.formats.timing import count_times, times_path
from recorder.inspect.errors import InspectError
from recorder.inspect.records import FileEnd, Records, check_end


class EventFile:
    """One thread's event file."""

    def __init__(self, path: str, label: str, serial: Optional[int], name: str,
                 end: FileEnd, timed: bool) -> None:
        self.path = path
        #: how messages name it: the directory as the user gave it + the file
        self.label = label
        self.serial = serial
        self.name = name
        self.end = end
        #: the side file of call/return stamps, when the trace has one
        self.times: Optional[str] = times_path(path) if timed else None
        if self.times is not None and count_times(self.times) is None:
            self.times = None

    def records(self) -> Records:
        return Records(self.path, self.label, self.end)

    def listed_paths(self) -> List[str]:
        """The file's ``trace_paths*.json`` (every path it uses once the recording ended;
        behind after a kill): lets a view size its columns before the first line."""
        folder, name = os.path.split(self.path)
        paths = _load_any(os.path.join(folder, name.replace("trace", "trace_paths", 1)))
        return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []

    @property
    def title(self) -> str:
        if self.serial is None:
            return self.name
        return "thread %d (%s)" % (self.serial, self.name)


class TraceDir:
    """One process's trace directory (``trace.json`` and the rest)."""

    def __init__(self, path: str, shown: Optional[str] = None) -> None:
        self.path = os.path.abspath(path)
        self.shown = shown if shown is not None else path
        main = os.path.join(self.path, "trace.json")
        if not os.path.isfile(main):
            raise InspectError("%s is not a trace directory (no trace.json)" % self.shown)
        self.metadata: Dict[str, Any] = _load_json(os.path.join(self.path,
                                                                "trace_metadata.json")) or {}
        timing = self.metadata.get("timing")
        self.timing: Optional[Dict[str, Any]] = timing if isinstance(timing, dict) else None
        self.files = self._event_files()

    # -- files ------------------------------------------------------------------------------
    def _event_files(self) -> List[EventFile]:
        threads = {t.get("trace"): t for t in self.metadata.get("threads") or ()
                   if isinstance(t, dict)}
        main_info = threads.get("trace.json") or {}
        timed = self.timing is not None
        files = [self._file("trace.json", main_info.get("serial"),
                            main_info.get("name") or "MainThread", timed)]
        found = []
        for path in glob.glob(os.path.join(self.path, "threads", "trace-*.json")):
            match = re.search(r"trace-(\d+)\.json$", path)
            if match:
                found.append(int(match.group(1)))
        for serial in sorted(found):
            rel = "threads/trace-%d.json" % serial
            info = threads.get(rel) or _load_json(os.path.join(
                self.path, "threads", "trace_metadata-%d.json" % serial)) or {}
            name = info.get("name") or (info.get("thread") or {}).get("name") or "thread"
            files.append(self._file(rel, serial, name, timed))
        return files

    def _file(self, rel: str, serial: Optional[int], name: str, timed: bool) -> EventFile:
        path = os.path.join(self.path, rel)
        label = os.path.join(self.shown, rel)
        end = check_end(path, label)
        if not end.complete and self.metadata.get("complete") is True:
            # the writer closed every file before it wrote "complete": this one was damaged
            raise InspectError(
                "%s is truncated: the recording finished (trace_metadata.json says complete) "
                "but the file stops %s; 'python -m recorder repair %s' keeps its whole "
                "records" % (label, "in the middle of a record" if end.cut else
                             "before its closing bracket", self.shown))
        return EventFile(path, label, serial, name, end, timed)

    def file_for_thread(self, serial: int) -> EventFile:
        for f in self.files:
            if f.serial == serial or (f.serial is None and serial == 1 and f is self.files[0]):
                return f
        known = ", ".join(str(f.serial) for f in self.files if f.serial is not None)
        raise InspectError("%s has no thread %d (threads: %s)"
                           % (self.shown, serial, known or "1"))

    # -- what the metadata says ---------------------------------------------------------------
    @property
    def complete(self) -> bool:
        """The program's end was seen and every file is closed."""
        return bool(self.metadata.get("complete", True)) and all(f.end.complete
                                                                  for f in self.files)

    @property
    def time_origin(self) -> Optional[float]:
        if self.timing is None:
            return None
        origin = self.timing.get("origin")
        return float(origin) if isinstance(origin, (int, float)) else None

    @property
    def imports_path(self) -> Optional[str]:
        path = os.path.join(self.path, "imports.jsonl")
        return path if os.path.isfile(path) else None

    @property
    def pid(self) -> Optional[int]:
        process = self.metadata.get("process")
        return process.get("pid") if isinstance(process, dict) else None

    @property
    def program(self) -> str:
        args = self.metadata.get("args")
        if isinstance(args, list) and args:
            return " ".join(str(a) for a in args)
        return str(self.metadata.get("program") or "?")

    def children(self) -> List["TraceDir"]:
        """The traces that name this one as their parent (the auto-start's parent links):
        they are siblings of this directory, in the run's root."""
        root = os.path.dirname(self.path)
        out = []
        for sub in _trace_subdirs(root):
            if sub == self.path:
                continue
            meta = _load_json(os.path.join(sub, "trace_metadata.json")) or {}
            parent = meta.get("parent")
            if isinstance(parent, dict) and parent.get("trace_dir") and os.path.abspath(
                    parent["trace_dir"]) == self.path:
                out.append(TraceDir(sub, os.path.join(os.path.dirname(self.shown.rstrip("/"))
                                                      or ".", os.path.basename(sub))))
        out.sort(key=lambda t: (t.metadata.get("start_time") or "", t.path))
        return out

    def descendants(self) -> List["TraceDir"]:
        """This trace's children, their children, ... (each once)."""
        seen = {self.path}
        out: List[TraceDir] = []
        queue = [self]
        while queue:
            for child in queue.pop(0).children():
                if child.path not in seen:
                    seen.add(child.path)
                    out.append(child)
                    queue.append(child)
        return out


class Run:
    """The root of an auto-start run (``RECORDER_TRACE=DIR``): one trace per process."""

    def __init__(self, path: str, traces: List[TraceDir]) -> None:
        self.path = path
        self.traces = traces


def _trace_subdirs(root: str) -> List[str]:
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [os.path.join(root, n) for n in names
            if os.path.isfile(os.path.join(root, n, "trace.json"))]


def open_trace(path: str, allow_run: bool = False) -> Any:
    """The :class:`TraceDir` at ``path``; with ``allow_run``, a :class:`Run` when ``path``
    is the root of an auto-start run. Bad input raises :class:`InspectError`."""
    if not os.path.exists(path):
        raise InspectError("%s: no such directory" % path)
    if not os.path.isdir(path):
        raise InspectError("%s is not a directory (give a trace directory, e.g. trace-out)"
                           % path)
    if os.path.isfile(os.path.join(path, "trace.json")):
        return TraceDir(path)
    subs = _trace_subdirs(path)
    if subs and allow_run:
        return Run(path, [TraceDir(s, os.path.join(path, os.path.basename(s))) for s in subs])
    if subs:
        names = ", ".join(os.path.join(path, os.path.basename(s)) for s in subs[:5])
        raise InspectError("%s holds %d process traces, give one of them: %s%s"
                           % (path, len(subs), names, ", ..." if len(subs) > 5 else ""))
    raise InspectError("%s is not a trace directory (no trace.json)" % path)


def _load_json(path: str) -> Optional[Dict[str, Any]]:
    data = _load_any(path)
    return data if isinstance(data, dict) else None


def _load_any(path: str) -> Any:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None
