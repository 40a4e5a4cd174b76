"""``python -m recorder summary DIR [--json] [--top N]``: what a trace holds, at a glance.

The run (program, interpreter, backend, start, duration, exit status, records, bytes,
threads, child processes, complete or not), the top functions by calls and by time (when
the trace has time stamps), the exceptions raised and where, import cost per top-level
package and per installed distribution, and what the scope skipped. One streaming pass over
every event file: memory holds one counter per function, never the records.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from recorder.inspect.imports_cost import ImportCosts
from recorder.inspect.render import render_text
from recorder.inspect.source import Run, TraceDir, open_trace
from recorder.inspect.text import seconds, short_path, size, table, where
from recorder.inspect.walk import CALL, RAISE, RETURN, Walker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a trace directory (or an auto-start root)")
    parser.add_argument("--json", action="store_true", help="one JSON document, for tools")
    parser.add_argument("--top", type=int, default=10, metavar="N",
                        help="functions, exceptions and packages shown (default 10)")


class FunctionStats:
    __slots__ = ("name", "path", "line", "calls", "total", "self_time", "exceptions")

    def __init__(self, name: str, path: str, line: int) -> None:
        self.name = name
        self.path = path
        self.line = line
        self.calls = 0
        self.total = 0.0
        self.self_time = 0.0
        self.exceptions = 0


class Summary:
    """Everything ``summary`` reports about one trace directory."""

    def __init__(self, trace: TraceDir, names: Optional[Set[str]] = None,
                 observer: Optional[Callable[[tuple, Walker], None]] = None) -> None:
        """``names`` and ``observer``: a view that needs more than the summary (``view``)
        gets every event of the same single pass, with the values of ``names``."""
        self.trace = trace
        self.names = names
        self.observer = observer
        self.functions: Dict[Tuple[str, int, str], FunctionStats] = {}
        self.raised: Dict[Tuple[str, str, Any, str], List[Any]] = {}
        self.files: List[Dict[str, Any]] = []
        self.timed = trace.timing is not None
        self.open_calls = 0
        for source in trace.files:
            self._walk(source)
        self.imports = ImportCosts(trace.imports_path)

    def _walk(self, source: Any) -> None:
        walker = Walker(source, self.names)
        observer = self.observer
        functions = self.functions
        raised = self.raised
        # per function: activations open now, so recursion counts its total time once
        active: Dict[Tuple[str, int, str], int] = {}
        top_return: Optional[str] = None
        for event in walker.events(self.trace.time_origin):
            if observer is not None:
                observer(event, walker)
            kind = event[0]
            if kind == CALL:
                fn = event[1].function
                key = fn.key
                stats = functions.get(key)
                if stats is None:
                    stats = functions[key] = FunctionStats(fn.name, fn.path, fn.line)
                stats.calls += 1  # counted at the call: a killed trace's open calls too
                active[key] = active.get(key, 0) + 1
                continue
            if kind == RETURN:
                frame = event[1]
                key = frame.function.key
                stats = functions[key]
                if event[3] is not None and event[3][0] != "<detached>":
                    stats.exceptions += 1
                active[key] -= 1
                if frame.start is not None and frame.end is not None:
                    spent = frame.end - frame.start
                    stats.self_time += spent - frame.child_time
                    if not active[key]:
                        stats.total += spent
                    parent = frame.parent
                    if parent is not None:
                        parent.child_time += spent
                if frame.parent is None:
                    top_return = render_text(event[2], walker.type_of, 60)
                continue
            if kind == RAISE:
                info = event[2]
                frame = event[1]
                function = frame.function.name if frame is not None else "?"
                key = (info["exception"], info["path"], info["line"], function)
                hit = raised.get(key)
                if hit is None:
                    raised[key] = [1, info["message"]]
                else:
                    hit[0] += 1
        self.open_calls += len(walker.stack)
        self.files.append({"file": os.path.relpath(source.path, self.trace.path),
                           "thread": source.serial, "name": source.name,
                           "records": walker.records.count, "bytes": walker.records.bytes,
                           "calls": walker.calls, "steps": walker.steps,
                           "values": walker.values, "max_depth": walker.max_depth,
                           "complete": source.end.complete, "returned": top_return})

    # -- the report -----------------------------------------------------------------------------
    def duration(self) -> Optional[float]:
        meta = self.trace.metadata
        start, end = _time(meta.get("start_time")), _time(meta.get("end_time"))
        if start is not None and end is not None:
            return (end - start).total_seconds()
        return None

    def exit_status(self) -> str:
        status = self.trace.metadata.get("process_exit_status")
        if isinstance(status, dict):
            if status.get("code") is not None:
                return str(status["code"])
            return str(status.get("label") or "unknown")
        returned = self.files[0]["returned"] if self.files else None
        return returned or "unknown"

    def top(self, key: str, n: int) -> List[FunctionStats]:
        stats = list(self.functions.values())
        if key == "calls":
            stats.sort(key=lambda s: (-s.calls, s.name))
        else:
            stats.sort(key=lambda s: (-getattr(s, key), s.name))
        return stats[:n]

    def as_dict(self, n: int) -> Dict[str, Any]:
        trace = self.trace
        meta = trace.metadata
        workdir = meta.get("workdir")
        out: Dict[str, Any] = {
            "trace": trace.path,
            "program": meta.get("program"),
            "args": meta.get("args"),
            "python": meta.get("python"),
            "backend": meta.get("backend"),
            "values": (meta.get("values") or {}).get("mode")
            if isinstance(meta.get("values"), dict) else None,
            "start_time": meta.get("start_time"),
            "end_time": meta.get("end_time"),
            "duration": self.duration(),
            "exit_status": self.exit_status(),
            "complete": trace.complete,
            "open_calls": self.open_calls,
            "repaired": meta.get("repaired"),
            "timed": self.timed,
            "records": sum(f["records"] for f in self.files),
            "bytes": sum(f["bytes"] for f in self.files),
            "files": self.files,
            "process": meta.get("process"),
            "parent": meta.get("parent"),
            "children": [{"trace": c.path, "pid": c.pid, "program": c.program}
                         for c in trace.children()],
            "functions": {
                "count": len(self.functions),
                "by_calls": [_fn_dict(s, workdir) for s in self.top("calls", n)],
                "by_time": [_fn_dict(s, workdir) for s in self.top("self_time", n)]
                if self.timed else None,
            },
            "exceptions": [{"exception": k[0], "where": where(k[1], k[2], workdir),
                            "function": k[3], "count": v[0], "message": v[1]}
                           for k, v in self._exceptions(n)],
            "imports": self.imports.as_dict(),
            "scope": _scope(meta),
        }
        return out

    def _exceptions(self, n: int) -> List[Tuple[Any, List[Any]]]:
        return sorted(self.raised.items(), key=lambda kv: (-kv[1][0], str(kv[0])))[:n]

    def lines(self, n: int) -> List[str]:
        trace = self.trace
        meta = trace.metadata
        workdir = meta.get("workdir")
        python = meta.get("python") if isinstance(meta.get("python"), dict) else {}
        values = meta.get("values") if isinstance(meta.get("values"), dict) else {}
        records = sum(f["records"] for f in self.files)
        out = ["Trace      %s" % trace.shown,
               "Program    %s" % trace.program]
        if python:
            out.append("Python     %s (%s), backend %s, values %s" % (
                python.get("version"), python.get("implementation"), meta.get("backend"),
                values.get("mode", "?")))
        started = meta.get("start_time")
        if started:
            out.append("Started    %s, ran %s, exit status %s" % (
                started, seconds(self.duration()), self.exit_status()))
        out.append("Records    %s in %d file%s (%s), %s calls" % (
            format(records, ","), len(self.files), "" if len(self.files) == 1 else "s",
            size(sum(f["bytes"] for f in self.files)),
            format(sum(f["calls"] for f in self.files), ",")))
        out.append("Complete   %s" % self._completeness())
        out.append("Time       %s" % ("per call and return (trace_times.bin)" if self.timed
                                      else "none recorded: functions are ranked by calls"))
        threads = ", ".join("%s %s (%s records)" % (
            f["thread"] if f["thread"] is not None else "-", f["name"],
            format(f["records"], ",")) for f in self.files)
        out.append("Threads    %d: %s" % (len(self.files), threads))
        parent = meta.get("parent")
        if isinstance(parent, dict):
            out.append("Parent     pid %s, %s" % (parent.get("pid"), parent.get("trace_dir")))
        children = trace.children()
        if children:
            out.append("Children   %d: %s" % (len(children), ", ".join(
                "pid %s %s (%s)" % (c.pid, c.program, os.path.basename(c.path))
                for c in children)))
        elif isinstance(meta.get("process"), dict):
            out.append("Children   none recorded")
        out.append("")
        out.append("Top functions by calls (%d functions)" % len(self.functions))
        out += self._function_table(self.top("calls", n), workdir)
        if self.timed:
            out.append("")
            out.append("Top functions by own time (total: with what they called)")
            out += self._function_table(self.top("self_time", n), workdir)
        out.append("")
        exceptions = self._exceptions(n)
        out.append("Exceptions raised: %s" % (
            format(sum(v[0] for v in self.raised.values()), ",") if self.raised else "none"))
        if exceptions:
            out += table(("count", "exception", "where", "function", "first message"),
                         [(format(v[0], ","), k[0], where(k[1], k[2], workdir), k[3],
                           _one_line(v[1], 60)) for k, v in exceptions], right=(0,))
        out.append("")
        out += self._import_lines(n)
        out.append("")
        out += _scope_lines(meta)
        return out

    def _completeness(self) -> str:
        trace = self.trace
        repaired = trace.metadata.get("repaired")
        if trace.complete:
            return "yes"
        unclosed = [f["file"] for f in self.files if not f["complete"]]
        if unclosed:
            return ("no: the recording process was killed or is still running (%s not "
                    "closed, %d calls open at its end); 'python -m recorder repair %s' "
                    "finishes it" % (", ".join(unclosed), self.open_calls, trace.shown))
        if isinstance(repaired, dict):
            return ("no, repaired: the process was killed; %s calls were closed with "
                    "<detached>" % repaired.get("closed_calls", "?"))
        return "no: the program's end was not recorded"

    def _function_table(self, stats: List[FunctionStats], workdir: Optional[str]) -> List[str]:
        rows = []
        for s in stats:
            row = [format(s.calls, ",")]
            if self.timed:
                row += [seconds(s.self_time), seconds(s.total)]
            row += [s.name, where(s.path, s.line, workdir)]
            rows.append(row)
        header = ["calls"] + (["own", "total"] if self.timed else []) + ["function", "where"]
        return table(header, rows, right=(0, 1, 2) if self.timed else (0,))

    def _import_lines(self, n: int) -> List[str]:
        costs = self.imports
        if not costs.count:
            return ["Imports: none recorded"]
        out = ["Imports: %d modules, %s at top level" % (costs.count, seconds(costs.total))]
        out.append("  by top-level package (own: its modules alone; cumulative: with what "
                   "they imported)")
        out += table(("cumulative", "own", "modules", "package"),
                     [(seconds(c.cumulative), seconds(c.self_time), str(c.modules),
                       c.name + (" (%d failed)" % c.failed if c.failed else ""))
                      for c in costs.top(costs.packages, n)], indent="    ",
                     right=(0, 1, 2))
        out.append("  by distribution")
        out += table(("cumulative", "own", "modules", "distribution"),
                     [(seconds(c.cumulative), seconds(c.self_time), str(c.modules),
                       c.name + (" " + c.version if c.version else ""))
                      for c in costs.top(costs.distributions, n)], indent="    ",
                     right=(0, 1, 2))
        for failed in costs.failed[:n]:
            out.append("  failed: %s: %s" % (failed["module"], failed["error"]))
        return out


def _fn_dict(s: FunctionStats, workdir: Optional[str]) -> Dict[str, Any]:
    return {"function": s.name, "path": s.path, "line": s.line,
            "where": where(s.path, s.line, workdir), "calls": s.calls,
            "own_time": round(s.self_time, 6), "total_time": round(s.total, 6),
            "exceptions": s.exceptions}


def _scope(meta: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    tf = meta.get("trace_filter")
    if not isinstance(tf, dict):
        return None
    stats = tf.get("stats") if isinstance(tf.get("stats"), dict) else {}
    rules = []
    for f in tf.get("filters") or ():
        if isinstance(f, dict):
            rules += ["%s: %s" % (f.get("name"), r) for r in f.get("scope_rules") or ()]
    return {"code_objects_skipped": stats.get("scopes_skipped"),
            "code_objects_traced": stats.get("scopes_traced"),
            "rules": rules,
            "values_redacted": stats.get("value_redactions"),
            "values_dropped": stats.get("value_drops")}


def _scope_lines(meta: Dict[str, Any]) -> List[str]:
    scope = _scope(meta)
    if scope is None:
        return ["Scope: no filter information in the metadata"]
    out = ["Scope: %s code objects skipped, %s traced" % (scope["code_objects_skipped"],
                                                          scope["code_objects_traced"])]
    for rule in scope["rules"]:
        out.append("  rule %s" % rule)
    for label, key in (("redacted", "values_redacted"), ("dropped", "values_dropped")):
        counts = scope[key] or {}
        hidden = ", ".join("%s %s" % (v, k) for k, v in counts.items() if v)
        out.append("  values %s: %s" % (label, hidden or "none"))
    return out


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _time(text: Any) -> Optional[datetime.datetime]:
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def run(args: argparse.Namespace) -> int:
    target = open_trace(args.dir, allow_run=True)
    n = max(1, args.top)
    if isinstance(target, Run):
        return _run_summary(target, args.json, n)
    summary = Summary(target)
    if args.json:
        json.dump(summary.as_dict(n), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(summary.lines(n)) + "\n")
    return 0


def _run_summary(run_root: Run, as_json: bool, n: int) -> int:
    """An auto-start root: each process's summary, parents before children."""
    summaries = [Summary(t) for t in run_root.traces]
    if as_json:
        json.dump({"run": run_root.path, "processes": [s.as_dict(n) for s in summaries]},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = ["Run        %s: %d processes" % (run_root.path, len(summaries))]
    rows = []
    for s in summaries:
        meta = s.trace.metadata
        parent = meta.get("parent") if isinstance(meta.get("parent"), dict) else {}
        rows.append((str(s.trace.pid or "?"), str(parent.get("pid") or "-"),
                     format(sum(f["records"] for f in s.files), ","), s.exit_status(),
                     "yes" if s.trace.complete else "no",
                     short_path(s.trace.path, os.path.abspath(run_root.path)),
                     s.trace.program))
    out += table(("pid", "parent", "records", "exit", "complete", "trace", "program"), rows,
                 right=(0, 1, 2))
    for s in summaries:
        out += ["", "=" * 78] + s.lines(n)
    sys.stdout.write("\n".join(out) + "\n")
    return 0
