"""Walking one event file: ids resolved, calls nested into frames, values told apart.

:class:`Walker` turns the records of :mod:`recorder.inspect.records` into the events the views
need, in file order, streaming:

``(CALL, frame)``
    an activation opens; ``frame.args`` parses its arguments on demand.
``(RETURN, frame, value_text, exception)``
    it closes; ``exception`` is ``(type, message)`` for an exception exit (an ``Error``
    value of TypeKind 24, ``"<detached>"`` for one the recorder closed), else None.
``(RAISE, frame, info)``
    an exception raised (an ``Event`` of kind 11): ``info`` has ``exception``, ``message``,
    ``path`` and ``line``.
``(VALUE, frame, line, after_line, name, value_text, is_argument)``
    only when asked for (``names``): a variable's value as a ``Step`` shows it (before
    ``line`` runs, so ``after_line``, the frame's line before, is the one that set it), or an
    argument at its call (``line`` is the function's first line).

Telling arguments from locals: the writer puts the ``Value`` records of a call's arguments
just before the ``Step`` that precedes its ``Call``, right after the caller's locals, with
nothing between (docs/trace-format.md, "Order"); the ``Call`` record lists the same
arguments, so when a ``Call`` follows a ``Step``, the last *k* values before that Step are its
*k* arguments and the others the caller's locals. The walker holds one group of values back
until the next record tells which.

Time: with a ``trace_times.bin`` side file, ``frame.start`` and ``frame.end`` are seconds
since recording started; a Return past the end of the stamps (a repaired trace's closing
returns) takes the last stamp. Without one they are None. ``frame.order`` is the call's rank
among Calls and Returns, a clock that always exists.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from recorder.formats.timing import read_times
from recorder.inspect.errors import InspectError
from recorder.inspect.source import EventFile

CALL, RETURN, RAISE, VALUE = 0, 1, 2, 3

#: TypeKind numbers the views read
KIND_ERROR = 24
_EVENT_ERROR = 11

_loads = json.JSONDecoder().decode
_CALL_PREFIX = '{"Call":{"function_id":'
_RETURN_PREFIX = '{"Return":{"return_value":'
_VALUE_PREFIX = '{"Value":{"variable_id":'
_ARG_MARK = '{"variable_id":'
#: Step records parsed, by text (a program steps through few distinct lines)
_STEP_MEMO = 1 << 16


class Function:
    """A ``Function`` record: ``name`` is the code's label, ``path`` its file."""

    __slots__ = ("id", "name", "path", "line")

    def __init__(self, fid: int, name: str, path: str, line: int) -> None:
        self.id = fid
        self.name = name
        self.path = path
        self.line = line

    @property
    def key(self) -> Tuple[str, int, str]:
        """The function across files (each file has its own ids): path, line, name."""
        return (self.path, self.line, self.name)


class Frame:
    """One activation."""

    __slots__ = ("function", "depth", "parent", "args_text", "start", "end", "order", "number",
                 "line", "prev_line", "child_time", "seen", "data", "walker")

    def __init__(self, function: Function, depth: int, parent: Optional["Frame"],
                 args_text: str, start: Optional[float], order: int, number: int,
                 walker: "Walker") -> None:
        self.function = function
        self.depth = depth
        self.parent = parent
        self.args_text = args_text
        self.start = start
        self.end: Optional[float] = None
        #: the call's rank among the file's Calls and Returns
        self.order = order
        #: the call's number in the file (1 is <toplevel>)
        self.number = number
        self.line = function.line
        self.prev_line: Optional[int] = None
        #: time spent in the calls it made (summary)
        self.child_time = 0.0
        #: variable name -> the value text last seen in this call (history)
        self.seen: Optional[Dict[str, str]] = None
        #: free for a view's bookkeeping
        self.data: Any = None
        self.walker = walker

    def args(self) -> List[Tuple[str, Any]]:
        """``[(name, value record)]`` of the call."""
        if not self.args_text or self.args_text == "[]":
            return []
        names = self.walker.names
        out = []
        for arg in _loads(self.args_text):
            vid = arg.get("variable_id")
            name = names[vid] if isinstance(vid, int) and 0 <= vid < len(names) else "?"
            out.append((name, arg.get("value")))
        return out


class Walker:
    """Iterate :meth:`events` once. ``names``: the variables whose values to report (a set
    of names, or ``ALL``), or None for no values at all (faster)."""

    ALL = frozenset(["*"])

    def __init__(self, source: EventFile, names: Optional[Set[str]] = None) -> None:
        self.source = source
        self.records = source.records()
        self.wanted = names
        self.paths: List[str] = []
        self.functions: List[Function] = []
        self.names: List[str] = []
        #: (TypeKind, lang_type, specific_info) by type id
        self.types: List[Tuple[int, str, Any]] = []
        self.calls = 0
        self.steps = 0
        self.values = 0
        self.outputs = 0
        self.max_depth = 0
        #: the stack at the end (non-empty for a killed trace: calls still open)
        self.stack: List[Frame] = []
        self.last_time: Optional[float] = None
        #: the rank of the last Return among Calls and Returns (a clock without stamps)
        self.order = 0
        self._origin = 0.0

    # -- lookups ------------------------------------------------------------------------------
    def type_of(self, value: Any) -> Tuple[int, str, Any]:
        tid = value.get("type_id") if isinstance(value, dict) else None
        if isinstance(tid, int) and 0 <= tid < len(self.types):
            return self.types[tid]
        return (-1, "?", None)

    def path(self, path_id: Any) -> str:
        if isinstance(path_id, int) and 0 <= path_id < len(self.paths):
            return self.paths[path_id]
        return "?"

    def _function(self, fid: int) -> Function:
        if 0 <= fid < len(self.functions):
            return self.functions[fid]
        raise InspectError("%s: a Call names function %d before its Function record"
                           % (self.source.label, fid))

    # -- the walk -----------------------------------------------------------------------------
    def events(self, origin: Optional[float] = None) -> Iterator[tuple]:
        """The events of the file, in order. ``origin``: the clock's zero (the metadata's).
        A record that is not what its kind promises is bad input (:class:`InspectError`)."""
        try:
            yield from self._events(origin)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InspectError("%s: record %d is not a valid trace record (%s: %s)" % (
                self.source.label, self.records.count, type(exc).__name__, exc))

    def _events(self, origin: Optional[float]) -> Iterator[tuple]:
        src = self.source
        times: Optional[Iterator[float]] = None
        if src.times is not None:
            times = iter(read_times(src.times))
            self._origin = origin or 0.0
        wanted = self.wanted
        want_all = wanted is Walker.ALL
        with_values = wanted is not None
        stack = self.stack
        names = self.names
        steps: Dict[str, Tuple[int, int]] = {}
        frame: Optional[Frame] = None
        order = 0
        # values: the group after the last Step (or after the last Return or Call), the one
        # held back at a Step until the next record says whether a Call follows
        group: List[Tuple[int, str, str]] = []
        group_n = 0
        owner: Optional[Tuple[Frame, int, Optional[int]]] = None
        held: Optional[Tuple[List[Tuple[int, str, str]], int, Any]] = None
        undo: Optional[Tuple[Frame, int, Optional[int]]] = None
        after_step = False
        #: the Value record prefixes of the wanted variables (variable_id known)
        targets: Tuple[str, ...] = ()
        for kind, text in self.records:
            if kind == "Step":
                self.steps += 1
                hit = steps.get(text)
                if hit is None:
                    body = _loads(text)["Step"]
                    hit = (body.get("path_id"), body.get("line"))
                    if len(steps) < _STEP_MEMO:
                        steps[text] = hit
                if frame is not None:
                    undo = (frame, frame.line, frame.prev_line)
                    frame.prev_line = frame.line
                    frame.line = hit[1]
                if with_values:
                    if held is not None and held[0]:
                        yield from self._locals(held)
                    held = (group, group_n, owner)
                    group = []
                    group_n = 0
                    owner = (frame, hit[1], frame.prev_line) if frame is not None else None
                after_step = True
                continue
            if kind == "Valu":
                self.values += 1
                if with_values:
                    if held is not None:
                        if held[0]:
                            yield from self._locals(held)
                        held = None
                    # only the wanted variables' records are parsed: their prefixes are known
                    # from their VariableName records (any other layout: parse them all)
                    if want_all or text.startswith(targets) or not text.startswith(
                            _VALUE_PREFIX):
                        vid, vtext = _value_parts(text)
                        name = names[vid] if 0 <= vid < len(names) else "?"
                        if want_all or name in wanted:  # type: ignore[operator]
                            group.append((group_n, name, vtext))
                    group_n += 1
                after_step = False
                continue
            if kind == "Call":
                self.calls += 1
                order += 1
                fid, args_text = _call_parts(text)
                function = self._function(fid)
                t = self._stamp(times)
                depth = len(stack)
                args_group: List[Tuple[int, str, str]] = []
                if with_values:
                    before = held if (after_step and held is not None) else (group, group_n,
                                                                             owner)
                    k = args_text.count(_ARG_MARK)
                    first_arg = before[1] - k
                    caller_locals = [g for g in before[0] if g[0] < first_arg]
                    args_group = [g for g in before[0] if g[0] >= first_arg]
                    if caller_locals:
                        yield from self._locals((caller_locals, before[1], before[2]))
                    held = None
                    group = []
                    group_n = 0
                    owner = None
                if after_step and undo is not None and undo[0] is frame:
                    frame.line, frame.prev_line = undo[1], undo[2]  # that Step was the callee's
                frame = Frame(function, depth, frame, args_text, t, order, self.calls, self)
                stack.append(frame)
                if depth + 1 > self.max_depth:
                    self.max_depth = depth + 1
                yield (CALL, frame)
                for _, name, vtext in args_group:
                    yield (VALUE, frame, function.line, None, name, vtext, True)
                after_step = False
                continue
            if kind == "Retu":
                order += 1
                t = self._stamp(times)
                if with_values:
                    if held is not None and held[0]:
                        yield from self._locals(held)
                    if group:
                        yield from self._locals((group, group_n, owner))
                    held = None
                    group = []
                    group_n = 0
                    owner = None
                after_step = False
                if not stack:
                    continue  # unbalanced (not written by us): nothing to close
                done = stack.pop()
                done.end = t
                self.order = order
                rtext = text[len(_RETURN_PREFIX):-2] if text.startswith(_RETURN_PREFIX) else \
                    json.dumps(_loads(text)["Return"].get("return_value"))
                exc = self._exception(rtext) if rtext.startswith('{"kind":"Error"') else None
                frame = stack[-1] if stack else None
                yield (RETURN, done, rtext, exc)
                continue
            after_step = False
            if kind == "Func":
                body = _loads(text)["Function"]
                self.functions.append(Function(len(self.functions), str(body.get("name")),
                                               self.path(body.get("path_id")),
                                               int(body.get("line") or 0)))
            elif kind == "Path":
                self.paths.append(str(_loads(text)["Path"]))
            elif kind == "Vari":
                body = _loads(text)
                name = str(body.get("VariableName", body.get("Variable")))
                if with_values and not want_all and name in wanted:  # type: ignore[operator]
                    targets += ('%s%d,"value":' % (_VALUE_PREFIX, len(names)),)
                names.append(name)
            elif kind == "Type":
                body = _loads(text)["Type"]
                self.types.append((body.get("kind"), str(body.get("lang_type")),
                                   body.get("specific_info")))
            elif kind == "Even":
                body = _loads(text)["Event"]
                if body.get("kind") == _EVENT_ERROR:
                    yield (RAISE, frame, self._raise_info(body))
                else:
                    self.outputs += 1
        if with_values:
            if held is not None and held[0]:
                yield from self._locals(held)
            if group:
                yield from self._locals((group, group_n, owner))

    def _stamp(self, times: Optional[Iterator[float]]) -> Optional[float]:
        if times is None:
            return None
        t = next(times, None)
        if t is None:
            return self.last_time
        t -= self._origin
        self.last_time = t
        return t

    def _locals(self, held: Tuple[List[Tuple[int, str, str]], int, Any]) -> Iterator[tuple]:
        owner = held[2]
        if owner is None:
            return  # values neither after a Step nor before a Call: not written by us
        frame, line, after = owner
        for _, name, vtext in held[0]:
            yield (VALUE, frame, line, after, name, vtext, False)

    def _exception(self, rtext: str) -> Optional[Tuple[str, str]]:
        value = _loads(rtext)
        kind, lang_type, _ = self.type_of(value)
        if kind != KIND_ERROR:
            return None
        return (lang_type, str(value.get("msg", "")))

    def _raise_info(self, body: Dict[str, Any]) -> Dict[str, Any]:
        try:
            meta = json.loads(body.get("metadata") or "{}")
        except ValueError:
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        return {"exception": meta.get("exception") or "?",
                "message": str(body.get("content", "")),
                "path": self.path(meta.get("path_id")), "line": meta.get("line")}


def _call_parts(text: str) -> Tuple[int, str]:
    """(function_id, the args array's text) of a Call record."""
    return _id_and_rest(text, "Call", _CALL_PREFIX, "function_id", "args", [])


def _value_parts(text: str) -> Tuple[int, str]:
    """(variable_id, the value's text) of a Value record."""
    return _id_and_rest(text, "Value", _VALUE_PREFIX, "variable_id", "value", None)


def _id_and_rest(text: str, kind: str, prefix: str, id_key: str, rest_key: str,
                 missing: Any) -> Tuple[int, str]:
    """``{"<kind>":{"<id_key>":N,"<rest_key>":REST}}`` -> (N, REST's text), cut out of the
    text as our writer and 0.3.0 order the keys; parsed (and REST dumped again) otherwise."""
    if text.startswith(prefix):
        comma = text.find(",", len(prefix))
        mark = ',"%s":' % rest_key
        if comma > 0 and text.startswith(mark, comma):
            try:
                return int(text[len(prefix):comma]), text[comma + len(mark):-2]
            except ValueError:
                pass
    body = _loads(text)[kind]
    rest = body.get(rest_key)
    return int(body.get(id_key, -1)), json.dumps(missing if rest is None else rest,
                                                 separators=(",", ":"))
