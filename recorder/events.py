"""The common event model: what every backend produces and every consumer reads.

Both backends (``sys.monitoring`` and ``sys.settrace``) feed the shared normaliser
(:mod:`recorder.normalise`), which turns their raw, version-specific callbacks into one stream
of :class:`Kind` events. The same program gives the same stream whichever backend recorded it.

There are two ways to consume the stream:

* **Sinks** (:class:`Sink`) are the fast path used by the recorder's own writers. They receive
  positional arguments, no object is built per event, and the frame is passed only to sinks
  that ask for it (``wants_frames``); it is valid only during the call.
* **Event objects** (:class:`Event`) are what a tool author's ``sink=callable`` receives: one
  frozen object per event, holding no frame reference. :class:`CallbackSink` adapts.

See docs/events.md for the meaning of every kind and the order guarantees.
"""
from __future__ import annotations

import enum
from types import FrameType
from typing import Any, Callable, Optional, Protocol

from recorder.errors import SinkError


class Kind(enum.IntEnum):
    """What happened. The order guarantees per thread are in docs/events.md."""

    #: A new activation starts: function, module body, class body, lambda, comprehension,
    #: or the first run of a generator/coroutine. ``value`` is None.
    CALL = 1
    #: A suspended generator/coroutine is re-entered (``next``, ``send``, ``throw``).
    RESUME = 2
    #: A new line starts executing in the top activation (never the same line twice in a row).
    LINE = 3
    #: The activation returns normally; ``value`` is the return value.
    RETURN = 4
    #: A generator/coroutine suspends; ``value`` is the yielded value (unwrapped for async
    #: generators).
    YIELD = 5
    #: An exception is raised in, or propagates into, the top activation; ``value`` is it.
    RAISE = 6
    #: Execution continued in the activation after a RAISE: the exception was handled there.
    HANDLED = 7
    #: The activation is left by an exception; ``value`` is the exception.
    UNWIND = 8
    #: Recording started while this activation was already running (outermost first).
    ATTACH = 9
    #: Recording stopped (or the thread ended) while this activation was still open; it is
    #: closed by the recorder, not by the program (innermost first).
    DETACH = 10
    #: The first event of a thread; ``value`` is a :class:`ThreadInfo`.
    THREAD_START = 11
    #: The last event of a thread; ``value`` is a :class:`ThreadInfo`.
    THREAD_END = 12
    #: An import starts; ``value`` is an :class:`ImportInfo` (end fields unset).
    IMPORT_START = 13
    #: An import ends; ``value`` is the completed :class:`ImportInfo`.
    IMPORT_END = 14


#: Kinds that open an activation, and kinds that close one.
OPENING = frozenset({Kind.CALL, Kind.RESUME, Kind.ATTACH})
CLOSING = frozenset({Kind.RETURN, Kind.YIELD, Kind.UNWIND, Kind.DETACH})


class CodeInfo:
    """The identity of one code object, computed once and shared by all its events.

    ``label`` is what a person reads: the qualified name for functions and classes, and
    ``<pkg.mod>`` for module-level code (``<module>`` only when no real module is known).
    """

    __slots__ = ("filename", "firstlineno", "name", "qualname", "label", "module", "kind",
                 "generator_like", "locals_readable", "locals_sync", "call_locals_droppable")

    def __init__(self, filename: str, firstlineno: int, name: str, qualname: str, label: str,
                 module: Optional[str], kind: str, generator_like: bool,
                 locals_readable: bool = True, locals_sync: int = 0,
                 call_locals_droppable: bool = False) -> None:
        self.filename = filename
        self.firstlineno = firstlineno
        self.name = name
        self.qualname = qualname
        self.label = label
        #: Dotted module name the code belongs to, when known.
        self.module = module
        #: One of "module", "class", "function", "lambda", "comprehension", "genexpr",
        #: "generator", "coroutine", "async_generator".
        self.kind = kind
        self.generator_like = generator_like
        #: False where reading ``frame.f_locals`` at a line would corrupt this code's frame
        #: on the recording backend (3.12 settrace, code holding an inlined comprehension):
        #: a sink must not read the locals at its LINE events then.
        self.locals_readable = locals_readable
        #: How the settrace backend protects this code's cell and free variables from
        #: CPython's write-back of the ``f_locals`` snapshot (recorder.codes: SYNC_*).
        self.locals_sync = locals_sync
        #: True where a sink that read the arguments from ``frame.f_locals`` at CALL may
        #: empty that dict again: before 3.13 it stays on the frame holding a reference to
        #: every argument, so an argument the function deletes would stay alive until it
        #: returns. Only where nothing writes the dict back (sys.monitoring) and nobody
        #: else can hold it yet (the function has not run a line).
        self.call_locals_droppable = call_locals_droppable

    def __repr__(self) -> str:
        return f"CodeInfo({self.label!r}, {self.filename!r}:{self.firstlineno})"


class ThreadInfo:
    """A thread as the recorder numbers it: ``serial`` is ours (idents are reused)."""

    __slots__ = ("serial", "ident", "name")

    def __init__(self, serial: int, ident: int, name: str) -> None:
        self.serial = serial
        self.ident = ident
        self.name = name

    def __repr__(self) -> str:
        return f"ThreadInfo(serial={self.serial}, ident={self.ident}, name={self.name!r})"


class ImportInfo:
    """One import, from the ``sys.meta_path`` hook (see docs/naming.md).

    A plain class, not a dataclass: a dataclass ``__init__`` is code exec'd from a
    ``<string>`` file, which runs on every import inside the program and would be taken for
    the program's own exec'd code."""

    __slots__ = ("name", "origin", "depth", "start", "end", "ok", "error", "thread_ident")
    _FIELDS = __slots__

    def __init__(self, name: str, origin: Optional[str], depth: int, start: float,
                 end: Optional[float] = None, ok: Optional[bool] = None,
                 error: Optional[BaseException] = None,
                 thread_ident: Optional[int] = None) -> None:
        self.name = name
        self.origin = origin
        self.depth = depth
        self.start = start
        self.end = end
        self.ok = ok
        self.error = error
        #: ``threading.get_ident()`` of the importing thread: an import still open when
        #: recording stops is ended from the stopping thread, but belongs to this one.
        self.thread_ident = thread_ident

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return "ImportInfo(%s)" % ", ".join("%s=%r" % (f, getattr(self, f))
                                            for f in self._FIELDS)

    @property
    def duration(self) -> Optional[float]:
        return None if self.end is None else self.end - self.start


class Event:
    """One normalised event as a tool author receives it. Holds no frame reference.

    ``value`` is the program's own object (return value, yielded value, exception) by
    reference, or a :class:`ThreadInfo`/:class:`ImportInfo`; copy what you keep.
    ``depth`` is the number of open activations on the thread after a CALL/RESUME/ATTACH,
    before a RETURN/YIELD/UNWIND/DETACH, and the current depth otherwise.
    """

    __slots__ = ("kind", "thread", "code", "line", "value", "depth")

    def __init__(self, kind: Kind, thread: int, code: Optional[CodeInfo], line: Optional[int],
                 value: Any, depth: int) -> None:
        # A plain __slots__ class: a frozen dataclass's __init__ costs 3x more per event.
        self.kind = kind
        self.thread = thread
        self.code = code
        self.line = line
        self.value = value
        self.depth = depth

    def __repr__(self) -> str:
        return "Event(%s, thread=%d, %s, line=%r, value=%s, depth=%d)" % (
            self.kind.name, self.thread, self.code.label if self.code else None, self.line,
            _short_repr(self.value), self.depth)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unrepresentable %s>" % type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


class Sink(Protocol):
    """The fast consumer interface fed by the normaliser.

    ``emit`` is called on the thread that produced the event, possibly from several threads
    at once; the frame is given only when ``wants_frames`` is true, and is valid only
    during the call. ``close`` is called once, after the last event.

    A sink may offer more; each is optional, read once per session by
    :class:`SinkCapabilities` (nothing else asks a sink what it has):

    ``wants_frames``
        attribute, default False: ``emit`` gets the frame.
    ``reads_locals``
        attribute, the kinds at which the sink reads ``frame.f_locals`` (default: CALL and
        LINE when it wants frames): where reading them is a hazard the backend protects.
    ``backend``
        attribute; when None, the session sets it to the chosen backend's name.
    ``reprs`` / ``use_reprs(mode)``
        when ``reprs`` is None, the session passes the configuration's repr mode.
    ``use_filters(engine)``
        the session's :class:`~recorder.filters.FilterEngine` (value rules, counts).
    ``release_code(info)``
        a code object died: forget what is kept for its :class:`CodeInfo`.
    ``gap(thread, entry, where)`` / ``gap_end(thread, kind, where)``
        part of the program is not recorded from here on / recording goes on
        (:meth:`recorder.normalise.Normaliser.gap`).
    ``recording_stops(main_ended)``
        before the final DETACH and THREAD_END events of :meth:`Session.stop`.
    ``set_exit_status(status)``
        how the program ended, when the entry point knows it.
    ``record_output(stream, text, thread)``
        what the program wrote to stdout/stderr or read from stdin (the CLI's
        stream capture calls it, not the session).
    """

    wants_frames: bool

    def emit(self, kind: Kind, thread: Any, code: Optional[CodeInfo], line: Optional[int],
             value: Any, depth: int, frame: Optional[FrameType]) -> None: ...

    def close(self) -> None: ...


class SinkCapabilities:
    """What a sink offers beyond ``emit`` and ``close`` (see :class:`Sink`), read once:
    each optional method is the bound method or None."""

    __slots__ = ("wants_frames", "wants_line_frames", "reads_locals", "takes_backend",
                 "use_reprs", "use_filters", "release_code", "gap", "gap_end",
                 "recording_stops", "set_exit_status", "record_output")

    def __init__(self, sink: Any) -> None:
        self.wants_frames = bool(getattr(sink, "wants_frames", False))
        #: frames at LINE events too (a sink may want them at calls only)
        self.wants_line_frames = bool(getattr(sink, "wants_line_frames", self.wants_frames))
        reads = getattr(sink, "reads_locals", None)
        if reads is None:  # a sink that gets frames may read their locals at any of them
            reads = (Kind.CALL, Kind.LINE) if self.wants_frames else ()
        self.reads_locals = reads
        #: the sink has a ``backend`` attribute still unset
        self.takes_backend = hasattr(sink, "backend") and sink.backend is None
        #: ``use_reprs``, only when the sink was made without a ``reprs`` mode
        self.use_reprs: Optional[Callable[[Any], Any]] = \
            getattr(sink, "use_reprs", None) if getattr(sink, "reprs", None) is None else None
        self.use_filters: Optional[Callable[..., Any]] = getattr(sink, "use_filters", None)
        self.release_code: Optional[Callable[..., Any]] = getattr(sink, "release_code", None)
        self.gap: Optional[Callable[..., Any]] = getattr(sink, "gap", None)
        self.gap_end: Optional[Callable[..., Any]] = getattr(sink, "gap_end", None)
        self.recording_stops: Optional[Callable[..., Any]] = \
            getattr(sink, "recording_stops", None)
        self.set_exit_status: Optional[Callable[..., Any]] = \
            getattr(sink, "set_exit_status", None)
        self.record_output: Optional[Callable[..., Any]] = getattr(sink, "record_output", None)


class CallbackSink:
    """Adapts a user's ``callable(Event)`` to :class:`Sink`."""

    wants_frames = False

    def __init__(self, callback: Callable[[Event], Any]) -> None:
        self.callback = callback
        self.closed = False

    def emit(self, kind: Kind, thread: Any, code: Optional[CodeInfo], line: Optional[int],
             value: Any, depth: int, frame: Optional[FrameType]) -> None:
        if self.closed:  # a thread racing the stop: nothing after THREAD_END
            return
        try:
            self.callback(Event(kind, thread.serial, code, line, value, depth))
        except (KeyboardInterrupt, RecursionError):
            raise
        except BaseException as exc:
            raise SinkError("the sink callback raised") from exc

    def close(self) -> None:
        self.closed = True
