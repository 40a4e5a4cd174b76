"""``python -m recorder export DIR --format chrome -o FILE``: the Chrome trace-event format.

The JSON object format (``{"traceEvents": [...]}``) that Perfetto (ui.perfetto.dev) and
chrome://tracing open:

* a process track per recorded process (DIR and the processes it started, found through the
  auto-start's parent links; or every process of an auto-start root), named after its
  program (``M`` ``process_name``); a thread track per thread (``thread_name``);
* every call a slice: ``B`` at the call with its arguments, ``E`` at the return with the
  return value or the exception;
* every import a complete slice (``X``) from ``imports.jsonl``, on a track of its own per
  thread ("imports"), so import slices never straddle call slices;
* every exception raised an instant event (``i``, thread scope) at the time of the last call
  or return before it (the trace stamps calls and returns only).

``ts`` is microseconds. With time stamps (``trace_times.bin``) it is the recording's clock,
shared by all processes of a run (``time.perf_counter`` is the system's monotonic clock);
without them it is the rank of the call or return (1 "µs" each), which keeps the order but
not durations, and ``otherData`` says so. Written as it is read: memory stays bounded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, Any, Dict, List, Optional

from recorder.inspect.errors import InspectError
from recorder.inspect.imports_cost import import_lines
from recorder.inspect.render import render, render_text
from recorder.inspect.source import Run, TraceDir, open_trace
from recorder.inspect.walk import CALL, RAISE, RETURN, Walker

FORMATS = ("chrome",)
_ARG_LIMIT = 100
#: import tracks: tid = IMPORT_TID_BASE + the thread's serial
IMPORT_TID_BASE = 100000
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a trace directory (or an auto-start root)")
    parser.add_argument("--format", choices=FORMATS, default="chrome",
                        help="the output format (chrome: the trace-event JSON format)")
    parser.add_argument("-o", "--output", metavar="FILE", required=True,
                        help="the file to write ('-' for stdout)")


class _Out:
    """The traceEvents array, written one event at a time."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.count = 0
        fh.write('{"traceEvents":[\n')

    def event(self, event: Dict[str, Any]) -> None:
        self.fh.write((",\n" if self.count else "") + _dumps(event))
        self.count += 1

    def close(self, other: Dict[str, Any]) -> None:
        self.fh.write('\n],"displayTimeUnit":"ms","otherData":%s}\n' % _dumps(other))


def export(traces: List[TraceDir], fh: IO[str]) -> int:
    """Write the events of ``traces`` (processes) to ``fh``; returns the event count."""
    out = _Out(fh)
    timed = all(t.time_origin is not None for t in traces)
    base = min((t.time_origin for t in traces), default=0.0) if timed else 0.0
    for number, trace in enumerate(traces, 1):
        pid = trace.pid or number
        offset = (trace.time_origin - base) if timed else 0.0  # type: ignore[operator]
        label = _program_name(trace) + (" (pid %d)" % pid if trace.pid else "")
        out.event({"name": "process_name", "ph": "M", "ts": 0, "pid": pid, "tid": 0,
                   "args": {"name": label}})
        out.event({"name": "process_sort_index", "ph": "M", "ts": 0, "pid": pid, "tid": 0,
                   "args": {"sort_index": number}})
        for source in trace.files:
            tid = source.serial or 1
            out.event({"name": "thread_name", "ph": "M", "ts": 0, "pid": pid, "tid": tid,
                       "args": {"name": source.name}})
            _calls(out, trace, source, pid, tid, offset, timed)
        if timed:
            _imports(out, trace, pid, offset)
    other = {"source": "recorder", "traces": [t.path for t in traces],
             "time": "recorded: time.perf_counter at each call and return" if timed else
             "not recorded: ts is the rank of each call and return, not a time"}
    out.close(other)
    return out.count


def _calls(out: _Out, trace: TraceDir, source: Any, pid: int, tid: int, offset: float,
           timed: bool) -> None:
    walker = Walker(source)
    workdir = trace.metadata.get("workdir")
    last = 0.0
    for event in walker.events(trace.time_origin):
        kind = event[0]
        if kind == CALL:
            frame = event[1]
            ts = last = _ts(frame.start, offset) if timed else float(frame.order)
            fn = frame.function
            args = {name: render(value, walker.type_of, _ARG_LIMIT)
                    for name, value in frame.args()}
            args["where"] = "%s:%d" % (_short(fn.path, workdir), fn.line)
            out.event({"name": fn.name, "cat": "call", "ph": "B", "ts": ts, "pid": pid,
                       "tid": tid, "args": args})
        elif kind == RETURN:
            frame = event[1]
            ts = last = max(last, _ts(frame.end, offset) if timed else float(walker.order))
            exc = event[3]
            args = ({"exception": exc[1]} if exc is not None else
                    {"return": render_text(event[2], walker.type_of, _ARG_LIMIT)})
            out.event({"name": frame.function.name, "cat": "call", "ph": "E", "ts": ts,
                       "pid": pid, "tid": tid, "args": args})
        elif kind == RAISE:
            info = event[2]
            out.event({"name": info["exception"], "cat": "exception", "ph": "i", "s": "t",
                       "ts": last, "pid": pid, "tid": tid,
                       "args": {"message": info["message"],
                                "where": "%s:%s" % (_short(info["path"], workdir),
                                                    info["line"])}})
    # a killed trace: close what is still open, at the last time seen
    for frame in reversed(walker.stack):
        last += 0.0 if timed else 1.0
        out.event({"name": frame.function.name, "cat": "call", "ph": "E", "ts": last,
                   "pid": pid, "tid": tid, "args": {"return": "<the file ends here>"}})


def _imports(out: _Out, trace: TraceDir, pid: int, offset: float) -> None:
    path = trace.imports_path
    if path is None:
        return
    named = set()
    for rec in import_lines(path):
        if isinstance(rec.get("start"), (int, float)):
            serial = rec.get("thread") if isinstance(rec.get("thread"), int) else 1
            tid = IMPORT_TID_BASE + serial
            if tid not in named:
                named.add(tid)
                out.event({"name": "thread_name", "ph": "M", "ts": 0, "pid": pid, "tid": tid,
                           "args": {"name": "imports (thread %d)" % serial}})
            duration = rec.get("duration")
            out.event({"name": "import %s" % rec.get("module"), "cat": "import", "ph": "X",
                       "ts": _ts(rec["start"], offset),
                       "dur": round(duration * 1e6, 3) if isinstance(duration, (int, float))
                       else 0, "pid": pid, "tid": tid,
                       "args": {"module": rec.get("module"), "origin": rec.get("origin"),
                                "depth": rec.get("depth"), "ok": rec.get("ok"),
                                "error": rec.get("error")}})


def _ts(t: Optional[float], offset: float) -> float:
    return round(((t or 0.0) + offset) * 1e6, 3)


def _short(path: str, workdir: Any) -> str:
    if isinstance(workdir, str) and path.startswith(workdir.rstrip("/") + "/"):
        return os.path.relpath(path, workdir)
    return path


def _program_name(trace: TraceDir) -> str:
    program = str(trace.metadata.get("program") or os.path.basename(trace.path))
    return os.path.basename(program) or program


def run(args: argparse.Namespace) -> int:
    target = open_trace(args.dir, allow_run=True)
    traces = target.traces if isinstance(target, Run) else [target] + target.descendants()
    if args.output == "-":
        count = export(traces, sys.stdout)
    else:
        try:
            fh = open(args.output + ".tmp", "w", encoding="utf-8")
        except OSError as exc:
            raise InspectError("export: cannot write %s: %s" % (args.output,
                                                                 exc.strerror or exc))
        with fh:
            count = export(traces, fh)
        os.replace(args.output + ".tmp", args.output)
        print("wrote %s: %d events from %d process%s (open it in https://ui.perfetto.dev or "
              "chrome://tracing)" % (args.output, count, len(traces),
                                     "" if len(traces) == 1 else "es"))
    return 0
