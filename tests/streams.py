"""Canonical text form of an event stream, shared by every test that compares streams.

One event is one line, and nothing in a line depends on the process (addresses, idents,
absolute paths) or on the order the sink saw other threads' events::

    <indent>KIND label basename:line[ value]

* ``indent`` is two spaces per open activation of *the kept events* of the thread: an
  opening kind (CALL/RESUME/ATTACH) is printed at the current depth and then opens a level,
  a closing kind (RETURN/YIELD/UNWIND/DETACH) closes one and is printed at the depth of the
  event that opened it.
* ``value`` is :func:`canon_value`: exceptions as ``Type(args)``, everything else a bounded
  ``repr`` with memory addresses removed and paths of Python files cut to their base name.
* THREAD_START / THREAD_END lines carry the thread's name (raw-thread idents removed).

The runner (``scenario_runner.py``) prints one block per (session, thread serial); the
parser here reads the blocks back. The cross-version rules X1 and X2 are
:func:`apply_x1` and :func:`apply_x2`, and X3 (3.8/3.9's StopIteration at the end of a
generator) is :func:`apply_x3`; they are applied only when comparing streams of *different*
interpreters (:func:`classified_tree`), never in the same-interpreter differential.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

OPENING = ("CALL", "RESUME", "ATTACH")
CLOSING = ("RETURN", "YIELD", "UNWIND", "DETACH")
VALUED = ("RETURN", "YIELD", "RAISE", "HANDLED", "UNWIND")
MAX_VALUE = 100

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_HEX = re.compile(r"0x[0-9a-fA-F]{6,}")
#: An absolute path to a Python file inside a value (a coroutine's repr says where it runs):
#: only its base name, which does not depend on the checkout
_PY_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s'\"<>]*[\\/]([^\\/\s'\"<>]+\.py)\b")
_RAW_THREAD = re.compile(r"<raw thread \d+>")


# -- values ----------------------------------------------------------------------------------

def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except BaseException as exc:  # a broken __repr__ must not break the stream
        text = "<repr failed: %s>" % type(exc).__name__
    return text


def canon_value(value: Any, _depth: int = 0) -> str:
    """A deterministic, bounded text for a value the program produced."""
    if isinstance(value, BaseException):
        if _depth > 2:
            return type(value).__name__ + "(...)"
        args = getattr(value, "args", ())
        if not isinstance(args, tuple):
            args = (args,)
        text = "%s(%s)" % (type(value).__name__,
                           ", ".join(canon_value(a, _depth + 1) for a in args))
    else:
        text = _safe_repr(value)
    text = _ADDRESS.sub("", text)
    text = _HEX.sub("0x?", text)
    text = _PY_PATH.sub(r"\1", text)
    text = text.replace("\n", "\\n")
    if len(text) > MAX_VALUE:
        text = text[:MAX_VALUE - 3] + "..."
    return text


def thread_name(name: str) -> str:
    return _RAW_THREAD.sub("<raw thread>", name)


# -- one event -------------------------------------------------------------------------------

class Line(NamedTuple):
    """One parsed canonical line."""

    depth: int
    kind: str
    label: str
    file: str
    line: str
    value: Optional[str]

    def text(self) -> str:
        head = "  " * self.depth + self.kind
        if self.kind in ("THREAD_START", "THREAD_END"):
            return "%s %s" % (head, self.value)
        out = "%s %s %s:%s" % (head, self.label, self.file, self.line)
        if self.value is not None:
            out += " " + self.value
        return out


def event_line(kind: str, label: str, filename: str, line: Optional[int], value: Any,
               depth: int) -> Line:
    """The canonical line of one event (``depth`` is the caller's indentation count)."""
    if kind in ("THREAD_START", "THREAD_END"):
        return Line(depth, kind, "-", "-", "-", thread_name(getattr(value, "name", "?")))
    text = canon_value(value) if kind in VALUED else None
    return Line(depth, kind, label, os.path.basename(filename), str(line), text)


def parse_line(text: str) -> Line:
    stripped = text.lstrip(" ")
    depth = (len(text) - len(stripped)) // 2
    kind, _, rest = stripped.partition(" ")
    if kind in ("THREAD_START", "THREAD_END"):
        return Line(depth, kind, "-", "-", "-", rest)
    label, _, rest = rest.partition(" ")
    where, _, value = rest.partition(" ")
    file, _, line = where.rpartition(":")
    return Line(depth, kind, label, file, line, value if kind in VALUED else None)


class Indenter:
    """Per-thread indentation of the kept events (see the module docstring)."""

    def __init__(self) -> None:
        self.depth = 0

    def place(self, kind: str) -> int:
        if kind in OPENING:
            self.depth += 1
            return self.depth - 1
        if kind in CLOSING:
            self.depth = max(self.depth - 1, 0)
        return self.depth


# -- runner output ---------------------------------------------------------------------------

class RunResult(NamedTuple):
    """What one ``scenario_runner.py`` run printed, split into its sections."""

    #: ``(session, thread serial) -> lines`` in the order the runner printed them.
    streams: Dict[Tuple[int, int], List[Line]]
    outcome: List[str]
    stdout: List[str]
    checks: List[str]
    stderr: str
    returncode: int

    def stream_text(self) -> str:
        """The event blocks exactly as compared by the differential test."""
        out = []
        for (session, serial), lines in self.streams.items():
            out.append("== session %d thread %d" % (session, serial))
            out.extend(line.text() for line in lines)
        return "\n".join(out)


def parse_output(stdout: str, stderr: str = "", returncode: int = 0) -> RunResult:
    streams: Dict[Tuple[int, int], List[Line]] = {}
    sections: Dict[str, List[str]] = {"outcome": [], "stdout": [], "checks": []}
    current: Optional[List[Any]] = None
    current_is_stream = False
    for raw in stdout.splitlines():
        if raw.startswith("== session "):
            parts = raw.split()
            current = streams.setdefault((int(parts[2]), int(parts[4])), [])
            current_is_stream = True
        elif raw.startswith("== "):
            current = sections.setdefault(raw[3:].strip(), [])
            current_is_stream = False
        elif current is not None:
            current.append(parse_line(raw) if current_is_stream else raw)
    return RunResult(streams, sections["outcome"], sections["stdout"], sections["checks"],
                     stderr, returncode)


# -- invariants ------------------------------------------------------------------------------

def balance_problems(lines: Iterable[Line], where: str = "") -> List[str]:
    """THREAD_START first, THREAD_END last, and every opening closed by its own label."""
    lines = list(lines)
    problems = []
    if not lines or lines[0].kind != "THREAD_START":
        problems.append("%s: does not start with THREAD_START" % where)
    if not lines or lines[-1].kind != "THREAD_END":
        problems.append("%s: does not end with THREAD_END" % where)
    opened: List[Line] = []
    for line in lines:
        if line.kind in OPENING:
            opened.append(line)
        elif line.kind in CLOSING:
            if not opened:
                problems.append("%s: %s closes nothing" % (where, line.text().strip()))
            elif opened[-1].label != line.label:
                problems.append("%s: %s closes %s" % (where, line.text().strip(),
                                                      opened.pop().text().strip()))
            else:
                opened.pop()
        elif line.kind in ("THREAD_START", "THREAD_END") and line is not lines[0] \
                and line is not lines[-1]:
            problems.append("%s: %s in the middle of the stream" % (where, line.kind))
    for line in opened:
        problems.append("%s: never closed: %s" % (where, line.text().strip()))
    return problems


# -- cross-version rules ------------------------------------------------------------------------

_COMPREHENSIONS = ("<listcomp>", "<setcomp>", "<dictcomp>")
_COMP_SEGMENT = re.compile(r"\.<(?:listcomp|setcomp|dictcomp)>(?=\.)")


def _is_comprehension(label: str) -> bool:
    return label.rsplit(".", 1)[-1] in _COMPREHENSIONS


def apply_x1(lines: List[Line]) -> List[Line]:
    """X1: make 3.8-3.11 look like PEP 709 (3.12+), which inlined list/set/dict
    comprehensions: their CALL/RETURN/UNWIND vanish, their LINE/RAISE belong to the parent
    (de-duplicated against the parent's last line, R6), and the parent's RAISE that follows
    the comprehension's UNWIND of the same exception is dropped. Code *defined* inside a
    comprehension loses the ``.<listcomp>`` segment of its qualified name, as on 3.12.
    A no-op on a 3.12+ stream (there are no comprehension frames)."""
    out: List[Line] = []
    # One entry per open activation of the input: (is_inlined, owner's index in ``owners``).
    stack: List[bool] = []
    owners: List[Dict[str, Any]] = [{"label": None, "last_line": None}]  # real frames
    drop_raise_of: Optional[str] = None
    for line in lines:
        label = _COMP_SEGMENT.sub("", line.label)
        line = line._replace(label=label)
        kind = line.kind
        inlined_now = bool(stack) and stack[-1]
        if kind in ("CALL", "RESUME", "ATTACH"):
            comp = _is_comprehension(label)
            stack.append(comp)
            drop_raise_of = None
            if comp:
                continue
            owners.append({"label": label, "last_line": None if kind == "CALL" else line.line})
            out.append(line)
            continue
        if kind in CLOSING:
            comp = stack.pop() if stack else False
            if comp:
                drop_raise_of = line.value if kind == "UNWIND" else None
                continue
            if len(owners) > 1:
                owners.pop()
            drop_raise_of = None
            out.append(line)
            continue
        owner = owners[-1]
        if kind == "RAISE" and drop_raise_of is not None and line.value == drop_raise_of:
            drop_raise_of = None
            continue
        drop_raise_of = None
        if inlined_now:
            line = line._replace(label=owner["label"] or line.label)
        if kind == "LINE":
            if line.line == owner["last_line"]:
                continue
            owner["last_line"] = line.line
        out.append(line)
    return _reindent(out)


def apply_x2(lines: List[Line]) -> List[Line]:
    """X2: drop ``RESUME -> RAISE(GeneratorExit) -> UNWIND(GeneratorExit)`` with nothing in
    between: the 3.13 close fast path sends no events at all (gh-111107), and 3.8-3.10 run
    that finaliser untraced after ``del`` (f_locals snapshot)."""
    out: List[Line] = []
    i = 0
    while i < len(lines):
        a = lines[i]
        if (a.kind == "RESUME" and i + 2 < len(lines)
                and lines[i + 1].kind == "RAISE" and lines[i + 1].label == a.label
                and lines[i + 1].value == "GeneratorExit()"
                and lines[i + 2].kind == "UNWIND" and lines[i + 2].label == a.label
                and lines[i + 2].value == "GeneratorExit()"):
            i += 3
            continue
        out.append(a)
        i += 1
    return _reindent(out)


def apply_x3(lines: List[Line]) -> List[Line]:
    """X3: drop ``RAISE StopIteration()`` and the ``HANDLED StopIteration()`` after it in the
    frame whose ``for`` loop just exhausted a generator that returned None (the generator's
    ``RETURN ... None`` comes right before). CPython 3.8 and 3.9 set a StopIteration when any
    generator finishes and report it to the trace function in the loop's frame; 3.10 sets
    none for a return of None (gh-85922). A no-op on streams of 3.10+."""
    out: List[Line] = []
    drop_handled = None
    for i, line in enumerate(lines):
        if (line.kind == "RAISE" and line.value == "StopIteration()" and i > 0
                and lines[i - 1].kind == "RETURN" and lines[i - 1].value == "None"
                and i + 1 < len(lines) and lines[i + 1].kind == "HANDLED"
                and lines[i + 1].label == line.label
                and lines[i + 1].value == "StopIteration()"):
            drop_handled = i + 1
            continue
        if i == drop_handled:
            continue
        out.append(line)
    return out


def _reindent(lines: List[Line]) -> List[Line]:
    ind = Indenter()
    return [line._replace(depth=ind.place(line.kind)) for line in lines]


def classified_tree(lines: List[Line], name_only: bool = False) -> List[str]:
    """The cross-version classified stream of one thread: X1, X2 and X3, then every event but
    LINE, each as ``KIND label @file[ value]`` with the nesting of :class:`Indenter` (line
    numbers are left out: 3.8/3.9 attribute some lines differently, PEP 626). So how every
    activation ends (RETURN, YIELD, UNWIND, DETACH, with its value) and every exception
    raised and handled is compared across interpreters, not only the calls."""
    lines = apply_x3(apply_x2(apply_x1(lines)))
    out = []
    for line in lines:
        if line.kind in ("THREAD_START", "THREAD_END"):
            out.append("  " * line.depth + "%s %s" % (line.kind, line.value))
        elif line.kind != "LINE":
            label = shorten(line.label) if name_only else line.label
            text = "  " * line.depth + "%s %s @%s" % (line.kind, label, line.file)
            if line.value is not None:
                text += " " + line.value
            out.append(text)
    return out


def shorten(label: str) -> str:
    """``a.<locals>.b`` -> ``b``; module labels stay as they are."""
    if label.startswith("<") and label.endswith(">"):
        return label
    return label.rsplit(".", 1)[-1]


def run_tree(result: RunResult, name_only: bool = False) -> List[str]:
    """The classified stream of a whole run, as stored in tests/golden/: one
    ``== session S thread T`` block per thread (:func:`classified_tree`), then the
    outcome."""
    out: List[str] = []
    for key, lines in sorted(result.streams.items()):
        out.append("== session %d thread %d" % key)
        out.extend(classified_tree(lines, name_only=name_only))
    out.append("== outcome")
    out.extend(result.outcome)
    return out
