"""``python -m recorder calls DIR``: the call tree as indented text, streaming.

One line per call, with its arguments; a call that called nothing shows its return value on
the same line (``fib(n=1) -> 1``), one that did gets a closing line at its own indentation
(``fib -> 2``). An exception exit reads ``!! ValueError: boom``, an exception raised
``! ValueError: boom``. With time stamps, lines that close a call end with its duration. The
left column is the function's file and first line (the raising line for a raise).

Lines are printed as the file is read, so a 4-million-record trace shows its first lines at
once, and memory holds only the open calls. ``--function GLOB`` shows the calls whose name
matches, each with what it called; ``--depth N`` the first N levels (under each match);
``--thread N`` one thread; ``--limit N`` stops after N lines.
"""
from __future__ import annotations

import argparse
import fnmatch
import sys
from typing import Any, List, Optional

from recorder.inspect.errors import InspectError
from recorder.inspect.render import render, render_text
from recorder.inspect.source import EventFile, TraceDir, open_trace
from recorder.inspect.text import WhereColumn, seconds
from recorder.inspect.walk import CALL, RAISE, RETURN, Frame, Walker

_ARG_LIMIT = 60
_LINE_LIMIT = 240


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a trace directory")
    parser.add_argument("--function", metavar="GLOB",
                        help="only calls of functions whose name matches (fnmatch, e.g. "
                             "'fib', 'Shop.*'), each with what it called")
    parser.add_argument("--thread", type=int, metavar="N",
                        help="only thread N (1 is the main thread)")
    parser.add_argument("--depth", type=int, metavar="N",
                        help="show N levels of calls (under each match with --function)")
    parser.add_argument("--limit", type=int, metavar="N", help="stop after N lines")


def call_text(frame: Frame, walker: Walker) -> str:
    """``name(arg=value, ...)``."""
    args = ", ".join("%s=%s" % (name, render(value, walker.type_of, _ARG_LIMIT))
                     for name, value in frame.args())
    return "%s(%s)" % (frame.function.name, args)


def outcome_text(value_text: str, exception: Any, walker: Walker) -> str:
    """``-> value`` or ``!! Type: message`` for the end of a call."""
    if exception is not None:
        if exception[0] == "<detached>":
            return "-> <detached>"
        return "!! " + _one_line(exception[1])
    return "-> " + render_text(value_text, walker.type_of, _ARG_LIMIT)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Printer:
    """Writes the lines of one run of ``calls`` (all its files)."""

    def __init__(self, trace: TraceDir, args: argparse.Namespace, out: Any) -> None:
        self.trace = trace
        self.workdir = trace.metadata.get("workdir")
        self.glob = args.function
        self.depth = args.depth
        self.limit = args.limit
        self.out = out
        self.lines = 0
        self.matched = False
        self.several = False
        self.column = WhereColumn((), self.workdir)

    def write(self, where: str, indent: int, text: str) -> bool:
        """Print one line; False when --limit is reached."""
        if self.limit is not None and self.lines >= self.limit:
            return False
        line = "%s  %s%s" % (where, "  " * indent, text)
        if len(line) > _LINE_LIMIT:
            line = line[:_LINE_LIMIT - 3] + "..."
        self.out.write(line + "\n")
        self.lines += 1
        return True

    def where(self, frame: Frame) -> str:
        return self.column.cell(frame.function.path, frame.function.line)

    def file(self, source: EventFile) -> bool:
        """Print the calls of one file; False when --limit stopped it."""
        walker = Walker(source)
        self.column = WhereColumn(source.listed_paths(), self.workdir)
        header: List[Optional[str]] = [None]
        if self.several:
            header[0] = "== %s: %s ==" % (source.title, source.label)
        pending: Optional[Frame] = None  # a call printed once we know if it is a leaf
        root: Optional[Frame] = None  # the outermost call matching --function
        glob = self.glob
        max_depth = self.depth

        def emit(where: str, indent: int, text: str) -> bool:
            if header[0] is not None:
                self.out.write(header[0] + "\n")
                header[0] = None
            return self.write(where, indent, text)

        def shown(frame: Frame) -> Optional[int]:
            """The frame's indentation, or None when it is not shown."""
            if root is None:
                if glob is not None:
                    return None
                level = frame.depth
            else:
                level = frame.depth - root.depth
            if max_depth is not None and level >= max_depth:
                return None
            return level

        for event in walker.events(self.trace.time_origin):
            kind = event[0]
            if kind == CALL:
                frame = event[1]
                if root is None and glob is not None and fnmatch.fnmatchcase(
                        frame.function.name, glob):
                    root = frame
                    self.matched = True
                if shown(frame) is None:
                    continue  # hidden: its caller may still be shown as a leaf
                if pending is not None:
                    if not emit(self.where(pending), shown(pending) or 0,
                                call_text(pending, walker)):
                        return False
                pending = frame
            elif kind == RETURN:
                frame = event[1]
                level = shown(frame)
                if level is not None:
                    took = ""
                    if frame.start is not None and frame.end is not None:
                        took = "  [%s]" % seconds(frame.end - frame.start)
                    outcome = outcome_text(event[2], event[3], walker)
                    if frame is pending:
                        text = "%s %s%s" % (call_text(frame, walker), outcome, took)
                        pending = None
                    else:
                        text = "%s %s%s" % (frame.function.name, outcome, took)
                    if not emit(self.where(frame), level, text):
                        return False
                if frame is root:
                    root = None
            elif kind == RAISE:
                frame = event[1]
                level = shown(frame) if frame is not None else None
                if level is None or (max_depth is not None and level + 1 >= max_depth):
                    continue
                if pending is not None:
                    if not emit(self.where(pending), shown(pending) or 0,
                                call_text(pending, walker)):
                        return False
                    pending = None
                info = event[2]
                where = self.column.cell(info["path"], info["line"])
                if not emit(where, level + 1, "! " + _one_line(info["message"])):
                    return False
        if pending is not None:  # a killed trace: the call never returned
            emit(self.where(pending), shown(pending) or 0, call_text(pending, walker))
        if walker.stack and not source.end.complete and (self.limit is None
                                                         or self.lines < self.limit):
            self.out.write("(the file ends here: %d calls were still open; the process was "
                           "killed or is still running)\n" % len(walker.stack))
        return True


def run(args: argparse.Namespace) -> int:
    trace = open_trace(args.dir)
    for name in ("depth", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InspectError("calls: --%s must be 1 or more, not %d" % (name, value))
    files = [trace.file_for_thread(args.thread)] if args.thread is not None else trace.files
    printer = _Printer(trace, args, sys.stdout)
    printer.several = len(files) > 1
    for source in files:
        if not printer.file(source):
            sys.stdout.write("... (stopped after %d lines: --limit)\n" % printer.lines)
            return 0
    if args.function is not None and not printer.matched:
        raise InspectError("calls: no function matches %r in %s" % (args.function,
                                                                     trace.shown))
    return 0
