"""``python -m recorder view DIR -o view.html``: one self-contained page, offline.

One pass over the trace (the :class:`~recorder.inspect.summary.Summary` pass, which also
hands every event to :class:`ViewData`) gathers what the page shows, bounded whatever the
trace's length, so the page stays small and opens fast:

* the call tree merged by call path (every call of ``fib`` under ``main`` under
  ``<__main__>`` is one node, with its number of calls, total and own time, exceptions, and
  the arguments and outcome of its first :data:`SAMPLES` calls); after :data:`MAX_NODES`
  nodes, new paths are merged into one "(more paths)" node under their parent. The flame
  chart (an icicle: callers above callees) and the tree are drawn from it, widths by time
  when the trace has time stamps, else by number of calls;
* the history of every variable (as ``python -m recorder values`` shows it), the first
  :data:`CHANGES_PER_NAME` changes of each name, at most :data:`MAX_CHANGES` in all;
* the summary's run, top functions, exceptions and import cost.

The page says what was merged or cut. The HTML, CSS and script are inline
(``view_page.html``): no network, no CDN.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, List, Tuple

from recorder.inspect.calls import outcome_text
from recorder.inspect.errors import InspectError
from recorder.inspect.history import change_of
from recorder.inspect.render import render, render_text
from recorder.inspect.source import TraceDir, open_trace
from recorder.inspect.summary import Summary
from recorder.inspect.text import short_path
from recorder.inspect.walk import CALL, RETURN, VALUE, Walker

MAX_NODES = 10000
SAMPLES = 2
CHANGES_PER_NAME = 300
MAX_CHANGES = 60000
MAX_NAMES = 2000
_VALUE_LIMIT = 100
_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "view_page.html")
_MORE = "(more paths)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a trace directory")
    parser.add_argument("-o", "--output", metavar="FILE", default="view.html",
                        help="the HTML file to write (default: view.html)")


class ViewData:
    """What the page draws, gathered event by event (:meth:`observe`)."""

    def __init__(self, trace: TraceDir) -> None:
        self.trace = trace
        self.workdir = trace.metadata.get("workdir")
        #: functions: [name, where]; nodes: parallel lists, node 0 is the root
        self.functions: List[List[Any]] = [["(all threads)", ""]]
        self.function_ids: Dict[Any, int] = {}
        self.parent: List[int] = [-1]
        self.fn: List[int] = [0]
        self.count: List[int] = [0]
        self.time: List[float] = [0.0]
        self.own: List[float] = [0.0]
        self.errors: List[int] = [0]
        self.samples: Dict[int, List[List[Any]]] = {}
        self.children: Dict[Tuple[int, int], int] = {}
        self.merged_calls = 0
        #: name -> [[function, call number, line, depth, value, is argument], ...]
        self.history: Dict[str, List[List[Any]]] = {}
        self.changes: Dict[str, int] = {}
        self.kept_changes = 0
        self.names_dropped = 0
        self._file_root: Dict[int, int] = {}

    # -- the pass ------------------------------------------------------------------------------
    def observe(self, event: tuple, walker: Walker) -> None:
        kind = event[0]
        if kind == CALL:
            frame = event[1]
            parent = frame.parent.data if frame.parent is not None else self._root(walker)
            frame.data = self._node(parent, self._function(frame.function.key))
        elif kind == RETURN:
            frame = event[1]
            node = frame.data
            self.count[node] += 1
            if frame.start is not None and frame.end is not None:
                spent = frame.end - frame.start
                self.time[node] += spent
                self.own[node] += spent - frame.child_time
            else:
                spent = None
            if event[3] is not None and event[3][0] != "<detached>":
                self.errors[node] += 1
            samples = self.samples.setdefault(node, [])
            if len(samples) < SAMPLES:
                args = [[name, render(value, walker.type_of, _VALUE_LIMIT)]
                        for name, value in frame.args()]
                samples.append([args, outcome_text(event[2], event[3], walker),
                                None if spent is None else round(spent, 9)])
        elif kind == VALUE:
            change = change_of(event)
            if change is not None:
                self._change(change, walker)

    def _root(self, walker: Walker) -> int:
        """The node of a thread (one per event file), under the root."""
        key = id(walker)
        node = self._file_root.get(key)
        if node is None:
            source = walker.source
            fid = self._function(("", 0, source.title))
            node = self._file_root[key] = self._node(0, fid)
        return node

    def _function(self, key: Tuple[str, int, str]) -> int:
        fid = self.function_ids.get(key)
        if fid is None:
            fid = self.function_ids[key] = len(self.functions)
            path, line, name = key
            self.functions.append([name, "%s:%d" % (short_path(path, self.workdir), line)
                                   if path else ""])
        return fid

    def _node(self, parent: int, fid: int) -> int:
        node = self.children.get((parent, fid))
        if node is not None:
            return node
        if len(self.parent) >= MAX_NODES:
            self.merged_calls += 1
            more = self.children.get((parent, -1))
            if more is not None:
                return more
            fid = self._function(("", 0, _MORE))
            key: Tuple[int, int] = (parent, -1)
        else:
            key = (parent, fid)
        node = self.children[key] = len(self.parent)
        self.parent.append(parent)
        self.fn.append(fid)
        self.count.append(0)
        self.time.append(0.0)
        self.own.append(0.0)
        self.errors.append(0)
        return node

    def _change(self, change: Any, walker: Walker) -> None:
        name = change.name
        kept = self.history.get(name)
        if kept is None:
            if len(self.history) >= MAX_NAMES:
                self.names_dropped += 1
                return
            kept = self.history[name] = []
        self.changes[name] = self.changes.get(name, 0) + 1
        if len(kept) >= CHANGES_PER_NAME or self.kept_changes >= MAX_CHANGES:
            return
        frame = change.frame
        kept.append([self._function(frame.function.key), frame.number, change.line,
                     frame.depth, render_text(change.value_text, walker.type_of, _VALUE_LIMIT),
                     1 if change.argument else 0])
        self.kept_changes += 1

    # -- the page's data -------------------------------------------------------------------------
    def as_dict(self, summary: Summary) -> Dict[str, Any]:
        timed = summary.timed
        notes = []
        if self.merged_calls:
            notes.append("The call tree has %d nodes; %d calls on further paths are merged "
                         "into \"%s\" nodes." % (MAX_NODES, self.merged_calls, _MORE))
        cut = {n: c for n, c in self.changes.items() if c > len(self.history.get(n, ()))}
        if cut:
            notes.append("Variable histories keep the first %d changes per name (%d in all): "
                         "%d names have more (python -m recorder values DIR NAME shows all)."
                         % (CHANGES_PER_NAME, MAX_CHANGES, len(cut)))
        if self.names_dropped:
            notes.append("%d values of names beyond the first %d are not kept."
                         % (self.names_dropped, MAX_NAMES))
        notes.append("Widths are %s." % ("time (stamped at every call and return)" if timed
                                         else "numbers of calls: the trace has no time stamps"))
        return {
            "summary": summary.as_dict(15),
            "timed": timed,
            "functions": self.functions,
            "tree": {"parent": self.parent, "fn": self.fn, "count": self.count,
                     "time": [round(t, 9) for t in self.time],
                     "own": [round(t, 9) for t in self.own], "errors": self.errors,
                     "samples": {str(k): v for k, v in self.samples.items()}},
            "history": self.history,
            "changes": self.changes,
            "notes": notes,
        }


def build(trace: TraceDir) -> Dict[str, Any]:
    """The page's data for ``trace`` (one pass)."""
    data = ViewData(trace)
    summary = Summary(trace, names=Walker.ALL, observer=data.observe)
    return data.as_dict(summary)


def page(data: Dict[str, Any]) -> str:
    """The HTML page: the template with the data inline (``</`` escaped so no text of the
    trace can close the script element)."""
    with open(_TEMPLATE, "r", encoding="utf-8") as fh:
        template = fh.read()
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("</", "<\\/")
    title = os.path.basename(str(data["summary"].get("program") or "trace"))
    return (template.replace("__TITLE__", _html_escape(title))
            .replace("__DATA__", blob))


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run(args: argparse.Namespace) -> int:
    trace = open_trace(args.dir)
    html = page(build(trace))
    try:
        with open(args.output + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(html)
        os.replace(args.output + ".tmp", args.output)
    except OSError as exc:
        raise InspectError("view: cannot write %s: %s" % (args.output, exc.strerror or exc))
    print("wrote %s (%d kB): open it in a browser; it needs no network"
          % (args.output, (len(html) + 1023) // 1024))
    return 0

