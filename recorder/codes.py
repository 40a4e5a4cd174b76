"""The per-code-object decision, made once: trace it (and how it is named) or skip it.

Both backends ask :meth:`CodeCatalog.lookup` the first time they meet a code object and
cache nothing themselves: the catalog's dict, keyed by ``id(code)``, is the cache. Keyed by
id, not by the code object, because a code object's hash is recomputed from its contents on
every lookup. The code object is not kept alive: its entry (and those of every other table
keyed by its id, see :mod:`recorder.lifetimes`) is dropped when it dies, before the id can
be reused, so code made at run time (``eval``, ``exec``) costs no memory once it is gone.
"""
from __future__ import annotations

import opcode
from types import CodeType, FrameType
from typing import Any, Callable, Collection, Dict, List, Optional

from recorder import env
from recorder.events import CodeInfo, Kind
from recorder.lifetimes import CodeLifetimes
from recorder.qualname import qualname_of

# code flags (the values of inspect.CO_*: importing inspect costs start-up; they never change)
CO_OPTIMIZED, CO_NEWLOCALS, CO_GENERATOR, CO_COROUTINE = 0x1, 0x2, 0x20, 0x80
CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR = 0x100, 0x200
_GENERATOR_FLAGS = (CO_GENERATOR | CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR)
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>"})
#: 3.12+: the opcode that saves an outer variable around an inlined comprehension (PEP 709)
_LOAD_FAST_AND_CLEAR = opcode.opmap.get("LOAD_FAST_AND_CLEAR")

#: ``CodeInfo.locals_sync``: what the settrace backend does so that CPython's write-back of
#: the ``f_locals`` snapshot (env.SETTRACE_SYNCS_LOCALS, env.SETTRACE_WRITES_BACK_READ_LOCALS)
#: cannot put a stale value into a cell that other threads share. It reads
#: ``frame.f_locals`` once more as the very last action of the callback, which refreshes the
#: snapshot from the live cells just before CPython writes it back.
SYNC_NONE = 0  # no cell or free variable, or no write-back on this backend/interpreter
SYNC_CALL = 1  # refresh at the end of the 'call' callback (the sink reads arguments there)
SYNC_ALL = 2  # refresh at the end of every callback of the frame

_UNDECIDED = object()

#: The code kinds a :class:`CodeInfo` can have (docs/events.md).
def code_kind(code: CodeType) -> str:
    """Classify a code object from its name and flags."""
    name = code.co_name
    flags = code.co_flags
    if name == "<module>":
        return "module"
    if name == "<genexpr>":
        return "genexpr"
    if name in _COMPREHENSIONS:
        return "comprehension"
    if name == "<lambda>":
        return "lambda"
    if flags & CO_ASYNC_GENERATOR:
        return "async_generator"
    if flags & (CO_COROUTINE | CO_ITERABLE_COROUTINE):
        return "coroutine"
    if flags & CO_GENERATOR:
        return "generator"
    if not flags & CO_NEWLOCALS:
        return "class"  # a class body runs in the class namespace, not new fast locals
    return "function"


#: Decides whether a code object is recorded at all, from the code and the frame first
#: running it: ``recorder.filters.FilterEngine`` (the filter chain, docs/filters.md).
ScopePredicate = Callable[[CodeType, Optional[FrameType]], bool]
#: Gives the label and module name of module-level code: (label or None, module or None).
ModuleLabeller = Callable[[CodeType, Optional[dict]], "tuple[Optional[str], Optional[str]]"]


_TRACED = object()


def locals_readable(code: CodeType, settrace: bool) -> bool:
    """Can a callback read ``frame.f_locals`` at a line of ``code`` without corrupting it?
    Not on 3.12 settrace in code holding an inlined comprehension (cpython gh-124118: the
    write-back assigns None to the comprehension's hidden variables)."""
    if not (settrace and env.SETTRACE_F_LOCALS_UNSAFE) or _LOAD_FAST_AND_CLEAR is None:
        return True
    return _LOAD_FAST_AND_CLEAR not in code.co_code[::2]


def locals_sync(code: CodeType, settrace: bool, readable: bool,
                sink_reads: Collection[Kind]) -> int:
    """The ``SYNC_*`` protection ``code`` needs (see above). ``sink_reads``: the events at
    which the sink reads ``frame.f_locals`` (CALL for arguments, LINE for the locals)."""
    if not settrace or not (code.co_cellvars or code.co_freevars):
        return SYNC_NONE
    if env.SETTRACE_SYNCS_LOCALS:  # every callback is synced, whatever the sink reads
        return SYNC_ALL
    if env.SETTRACE_WRITES_BACK_READ_LOCALS:
        if Kind.LINE in sink_reads and readable:
            return SYNC_ALL
        if Kind.CALL in sink_reads:
            return SYNC_CALL
    return SYNC_NONE


class CodeCatalog:
    """``id(code) -> CodeInfo`` for traced code, ``None`` for skipped code.

    ``backend``: the recording backend's name; ``sink_reads``: the events at which the sink
    reads ``frame.f_locals``. Both decide the per-code ``locals_readable``/``locals_sync``.
    ``lifetimes`` (the session's, shared with the module resolver and the backends' own
    tables) drops an entry when its code object dies; :meth:`on_release` listeners (the
    writer, the filters) then drop what they cached for its :class:`CodeInfo`.
    """

    def __init__(self, in_scope: ScopePredicate, label_module: ModuleLabeller,
                 lifetimes: Optional[CodeLifetimes] = None, backend: str = "monitoring",
                 sink_reads: Collection[Kind] = ()) -> None:
        self._in_scope = in_scope
        self._label_module = label_module
        self._settrace = backend == "settrace"
        self._sink_reads = frozenset(sink_reads)
        #: The cache both backends read directly on their hot path.
        self.infos: Dict[int, Optional[CodeInfo]] = {}
        #: Watches every code object decided, for every table keyed by its id.
        self.lifetimes = lifetimes if lifetimes is not None else CodeLifetimes()
        self._released: List[Callable[[CodeInfo], Any]] = []
        self.lifetimes.on_death(self._forget)

    def lookup(self, code: CodeType, frame: Optional[FrameType]) -> Optional[CodeInfo]:
        """The decision for ``code``; ``frame`` (running it) helps naming on first sight."""
        key = id(code)
        try:
            return self.infos[key]
        except KeyError:
            pass
        info = self._describe(code, frame) if self._in_scope(code, frame) else None
        self.lifetimes.watch(code)  # before the entry: an entry's code is always watched
        self.infos[key] = info
        return info

    def on_release(self, listener: Callable[[CodeInfo], Any]) -> None:
        """Call ``listener(info)`` when the code object of a traced ``info`` has died, so
        that what was cached for it can go too (a new code object gets a new CodeInfo)."""
        self._released.append(listener)

    def _forget(self, key: int) -> None:
        info = self.infos.pop(key, None)
        if info is not None:
            for listener in self._released:
                try:
                    listener(info)
                except Exception:
                    pass  # (runs from a weak reference callback: nothing to tell)

    def _describe(self, code: CodeType, frame: Optional[FrameType]) -> CodeInfo:
        kind = code_kind(code)
        qualname = qualname_of(code, frame)
        label, module = self._label_module(code, frame.f_globals if frame is not None else None)
        if kind != "module" or not label:
            label = qualname
        readable = locals_readable(code, self._settrace)
        return CodeInfo(code.co_filename, code.co_firstlineno, code.co_name, qualname, label,
                        module, kind, bool(code.co_flags & _GENERATOR_FLAGS), readable,
                        locals_sync(code, self._settrace, readable, self._sink_reads),
                        not self._settrace and not env.F_LOCALS_IS_PROXY
                        and bool(code.co_flags & CO_OPTIMIZED))

    def would_record(self, code: CodeType) -> bool:
        """Would ``code`` be recorded? Decided without a frame and without caching the
        answer (the real decision comes when it runs)."""
        info = self.infos.get(id(code), _UNDECIDED)
        if info is not _UNDECIDED:
            return info is not None
        return bool(self._in_scope(code, None))

    def codes(self) -> List[CodeType]:
        """Every code object decided so far and still alive (the monitoring backend resets
        their events)."""
        return self.lifetimes.alive()

    def decide_again(self, code: CodeType) -> None:
        """Forget the decision :meth:`skip` made for ``code``: the next time it starts, it
        is decided as any code (the CLI's launcher frames are skipped only while recording
        starts, see ``Session.leave_out``)."""
        if self.infos.get(id(code), _TRACED) is None:
            self.infos.pop(id(code), None)

    def skip(self, code: CodeType) -> None:
        """Decide now never to record ``code``: the auto-start's bootstrap frames (site's
        ``exec`` of a ``.pth`` line, a ``sitecustomize``) are not the program's."""
        if id(code) not in self.infos:
            self.lifetimes.watch(code)
            self.infos[id(code)] = None
