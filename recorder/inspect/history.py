"""``python -m recorder values DIR NAME [--function GLOB]``: the history of a variable.

One line per step where ``NAME``'s value changed, in the order the program ran: where
(the line that set it), the call depth, the function and which of its calls (``#N`` counts
the calls of the file), and the new value. An argument shows at its function's first line,
marked ``[argument]``; a value first seen in a call is a change, later ones only when they
differ. A ``Step`` lists the values *before* its line runs, so a change seen at a Step was
made by the frame's line before it: that line is the one shown (docs/trace-format.md).
Streams like ``calls``: memory holds the last value per open call, never the history.
"""
from __future__ import annotations

import argparse
import fnmatch
import sys
from typing import Any, Iterator, List, Optional, Set, Tuple

from recorder.inspect.errors import InspectError
from recorder.inspect.render import render_text
from recorder.inspect.source import open_trace
from recorder.inspect.text import WhereColumn
from recorder.inspect.walk import VALUE, Frame, Walker

_VALUE_LIMIT = 160


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a trace directory")
    parser.add_argument("name", metavar="NAME", help="the variable (a local, an argument, or "
                                                     "a module-level name)")
    parser.add_argument("--function", metavar="GLOB",
                        help="only in functions whose name matches (fnmatch)")
    parser.add_argument("--thread", type=int, metavar="N", help="only thread N")
    parser.add_argument("--limit", type=int, metavar="N", help="stop after N changes")


class Change:
    """One step where the variable changed (what :func:`changes` yields)."""

    __slots__ = ("frame", "name", "line", "value_text", "argument")

    def __init__(self, frame: Frame, name: str, line: Optional[int], value_text: str,
                 argument: bool) -> None:
        self.frame = frame
        self.name = name
        self.line = line
        self.value_text = value_text
        self.argument = argument


def change_of(event: Tuple[Any, ...]) -> Optional[Change]:
    """The :class:`Change` a walker's VALUE event makes, or None when the value is the one
    its call showed last. ``line`` is the line that set it (the function's first line for
    an argument)."""
    _, frame, line, after, name, vtext, is_arg = event
    seen = frame.seen
    if seen is None:
        seen = frame.seen = {}
    elif seen.get(name) == vtext:
        return None
    seen[name] = vtext
    return Change(frame, name, line if is_arg or after is None else after, vtext, is_arg)


def changes(walker: Walker, origin: Optional[float], glob: Optional[str]
            ) -> Iterator[Change]:
    """Every change of the walker's variables (its ``names``), in ``glob``'s functions."""
    for event in walker.events(origin):
        if event[0] != VALUE:
            continue
        if glob is not None and not fnmatch.fnmatchcase(event[1].function.name, glob):
            continue
        change = change_of(event)
        if change is not None:
            yield change


def run(args: argparse.Namespace) -> int:
    trace = open_trace(args.dir)
    if args.limit is not None and args.limit < 1:
        raise InspectError("values: --limit must be 1 or more, not %d" % args.limit)
    files = [trace.file_for_thread(args.thread)] if args.thread is not None else trace.files
    workdir = trace.metadata.get("workdir")
    out = sys.stdout
    shown = 0
    names_seen: Set[str] = set()
    functions_seen: Set[str] = set()
    matched_function = args.function is None
    fwidth = 14
    for source in files:
        walker = Walker(source, names={args.name})
        column = WhereColumn(source.listed_paths(), workdir)
        header: Optional[str] = None
        if len(files) > 1:
            header = "== %s: %s ==" % (source.title, source.label)
        for change in changes(walker, trace.time_origin, args.function):
            if header is not None:
                out.write(header + "\n")
                header = None
            if shown == 0:
                out.write("%s  depth  %-*s  %s\n" % ("where".ljust(column.width), fwidth,
                                                   "function #call", args.name))
            frame = change.frame
            where = column.cell(frame.function.path, change.line)
            function = "%s #%d" % (frame.function.name, frame.number)
            fwidth = max(fwidth, min(len(function), 40))
            value = render_text(change.value_text, walker.type_of, _VALUE_LIMIT)
            out.write("%s  %5d  %-*s  %s%s\n" % (
                where, frame.depth, fwidth, function, value,
                "  [argument]" if change.argument else ""))
            shown += 1
            if args.limit is not None and shown >= args.limit:
                out.write("... (stopped after %d changes: --limit)\n" % shown)
                return 0
        names_seen.update(walker.names)
        functions_seen.update(f.name for f in walker.functions)
        if args.function is not None and any(fnmatch.fnmatchcase(f.name, args.function)
                                             for f in walker.functions):
            matched_function = True
    if shown:
        return 0
    if args.name not in names_seen:
        raise InspectError("values: no variable named %r in %s (%s)"
                           % (args.name, trace.shown, _some(names_seen, "variables")))
    if not matched_function:
        raise InspectError("values: no function matches %r in %s (%s)"
                           % (args.function, trace.shown, _some(functions_seen, "functions")))
    mode = trace.metadata.get("values")
    mode = mode.get("mode") if isinstance(mode, dict) else None
    if mode in ("none", "args"):
        raise InspectError("values: %r has no recorded values here: the trace was recorded "
                           "with --values %s" % (args.name, mode))
    raise InspectError("values: %r has no value in functions matching %r"
                       % (args.name, args.function))


def _some(names: Set[str], what: str) -> str:
    named = sorted(n for n in names if not n.startswith(("<", ".")))
    listed: List[str] = named[:12]
    if not listed:
        return "it has no %s" % what
    more = len(named) - len(listed)
    return "%s: %s%s" % (what, ", ".join(listed), ", ..." if more > 0 else "")

