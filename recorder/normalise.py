"""The shared normaliser: one set of rules that turns backend callbacks into the event model.

Both backends call the same per-thread rule functions with the event *they* saw (a settrace
``'call'`` already classified as start or resume, a monitoring ``PY_YIELD``, ...). Everything
that must be the same whichever backend recorded the program lives here, so the two streams
cannot drift:

* R4  HANDLED is derived: an activation with a pending exception whose next event is not
  RAISE/UNWIND (a LINE, a child CALL, a YIELD or RETURN) continued after the raise.
* R5  UNWIND carries the activation's last raised exception (settrace passes None).
* R6  LINE de-duplication: a LINE equal to the activation's last line is dropped, which makes
  settrace's backward-jump lines look like monitoring's "new line" rule.
* R8  async generators yield ``async_generator_wrapped_value`` on both backends; unwrap it.
* R9  ATTACH for frames already running at start, DETACH for activations still open at stop
  or thread end; THREAD_START/THREAD_END bracket each thread's stream.
* An event whose code object is not the top activation's is ignored: it belongs to skipped
  code (monitoring's exception events are global) or to a frame we never saw start.

Speed: these functions run once per event, so they are closures over one thread's stack and
the sink's ``emit`` (cell lookups, no attribute walks), an activation is a plain list (no
``__init__`` call per CALL), and the sink is called directly. Their signatures follow
sys.monitoring's callbacks so that the monitoring backend can register some of them as its
callbacks with no wrapper at all. Stack changes happen *before* the sink is called, so a sink
failure can lose an event but never desync the stack. See docs/backends.md for the rules.
"""
from __future__ import annotations

import gc
import itertools
import sys
import threading
import weakref
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional

from recorder import env
from recorder.events import CodeInfo, Kind, Sink, ThreadInfo

CALL, RESUME, LINE, RETURN, YIELD = Kind.CALL, Kind.RESUME, Kind.LINE, Kind.RETURN, Kind.YIELD
RAISE, HANDLED, UNWIND = Kind.RAISE, Kind.HANDLED, Kind.UNWIND
ATTACH, DETACH = Kind.ATTACH, Kind.DETACH
THREAD_START, THREAD_END = Kind.THREAD_START, Kind.THREAD_END

_get_ident = threading.get_ident

# An activation (one open frame on a thread's shadow stack) is a list, indexed by:
CODE, INFO, PENDING, LAST_EXC, LAST_LINE = range(5)
#   CODE      the code object (identity is how events are matched to the top activation)
#   INFO      its CodeInfo
#   PENDING   raised here, not yet known to be handled or to unwind the frame (R4)
#   LAST_EXC  the last exception raised here: what an UNWIND carries (R5)
#   LAST_LINE the last LINE reported here (R6)


class ThreadState(ThreadInfo):
    """A thread's identity, its shadow stack and its rule functions.

    ``sink_state`` is free for the sink (e.g. a per-thread output stream).
    """

    __slots__ = ("stack", "backlog", "rules", "sink_state", "_sentinel_ref", "ended")

    def __init__(self, serial: int, ident: int, name: str) -> None:
        super().__init__(serial, ident, name)
        self.stack: List[list] = []
        #: Events the sink could not take yet (RecursionError at the program's recursion
        #: limit), as ``emit`` argument tuples, delivered before the thread's next event.
        self.backlog: List[tuple] = []
        self.rules: Rules = None  # type: ignore[assignment]  # set by the Normaliser
        self.sink_state: Any = None
        self._sentinel_ref: Any = None
        self.ended = False


class Rules:
    """One thread's rule functions (closures built by :meth:`Normaliser._make_rules`).

    Signatures (``frame`` is passed only for sinks that want frames):

    * ``call(code, info, frame=None)``, ``resume(code, info, line, frame=None)``,
      ``attach(code, info, line, frame=None)``
    * ``line(code, line, frame=None)``: with no frame, for a sink that wants frames, the
      frame is the caller's (the rule is then the ``sys.monitoring`` callback itself)
    * ``return_(code, offset, value, frame=None)``, ``yield_(code, offset, value, frame=None)``
    * ``unwind(code, offset, exc, frame=None)`` (``exc`` None: the last raised one),
      ``raise_(code, offset, exc, frame=None)``
    """

    __slots__ = ("call", "resume", "attach", "line", "return_", "yield_", "unwind", "raise_")


class _Sentinel:
    """Stored in a ``threading.local``; it dies with its thread, which tells us the end."""

    __slots__ = ("__weakref__",)


def _unwrap_async_value(value: Any) -> Any:
    """R8: async generators yield ``async_generator_wrapped_value`` (gh-129013)."""
    if type(value).__name__ == "async_generator_wrapped_value":
        referents = gc.get_referents(value)
        if referents:
            return referents[0]
    return value


def _raise_line(code: CodeType, offset: Any, frame: Optional[FrameType]) -> Optional[int]:
    """Where an exception was raised, without LINE events: the frame's line (settrace passes
    the frame), else the line of the bytecode offset (sys.monitoring passes the offset)."""
    if frame is not None:
        return frame.f_lineno
    if offset is not None and hasattr(code, "co_lines"):
        for start, end, line in code.co_lines():
            if start <= offset < end:
                return line
    return None


class Normaliser:
    """Per-thread shadow stacks and the shared rules; feeds one :class:`Sink`.

    ``on_error(exc)`` is called when a rule function (or the sink under it) fails; it
    decides what happens (the session disables recording). ``KeyboardInterrupt`` is never
    swallowed. ``RecursionError`` (the program at its recursion limit, where the sink has no
    room left) delays the event, never loses it (see :meth:`_make_rules`), and is swallowed
    so that the program goes on as if unrecorded, except where swallowing it would crash
    the interpreter later (``env.RECURSION_OVERFLOW_STICKY``, 3.8): there it reaches the
    program, as it would a little deeper without us.
    """

    def __init__(self, sink: Sink, on_error: Callable[[BaseException], None],
                 lines: bool = True) -> None:
        self._sink = sink
        self._on_error = on_error
        #: False: the backend reports no LINE events (``--steps off``); a RAISE then takes
        #: its line from the frame or the bytecode offset (:func:`_raise_line`)
        self.lines = lines
        self._threads: Dict[int, ThreadState] = {}
        # Threads found running at start from another thread: their end sentinel can only
        # be planted from their own thread, which happens at their first event.
        self._adopted: Dict[int, ThreadState] = {}
        self._serials = itertools.count(1)
        self._local = threading.local()
        self._lock = threading.Lock()
        #: RecursionErrors met in the sink or the rules (the events were delayed, not lost).
        self.recursion_errors = 0
        self.closed = False

    # -- threads -------------------------------------------------------------------------

    @property
    def threads(self) -> Dict[int, ThreadState]:
        """``ident -> ThreadState`` of the threads that have had an event (read-only use)."""
        return self._threads

    def thread_state(self) -> ThreadState:
        """The calling thread's state, created (THREAD_START) on its first event."""
        ident = _get_ident()
        ts = self._threads.get(ident)
        if ts is not None:
            return ts
        ts = self._adopted.pop(ident, None)
        if ts is None:
            ts = self._new_thread(ident)
        self._plant_sentinel(ts)
        self._threads[ident] = ts
        return ts

    def adopt_thread(self, ident: int) -> ThreadState:
        """State for another, already running thread (ATTACH at start)."""
        ts = self._threads.get(ident) or self._adopted.get(ident)
        if ts is None:
            ts = self._new_thread(ident)
            self._adopted[ident] = ts
        return ts

    def _new_thread(self, ident: int) -> ThreadState:
        # Never threading.current_thread(): on a raw _thread it creates a _DummyThread.
        thread = threading._active.get(ident)  # type: ignore[attr-defined]
        name = thread.name if thread is not None else "<raw thread %d>" % ident
        with self._lock:
            ts = ThreadState(next(self._serials), ident, name)
        ts.rules = self._make_rules(ts)
        self._send(THREAD_START, ts, None, None, ThreadInfo(ts.serial, ident, name), 0)
        return ts

    def _plant_sentinel(self, ts: ThreadState) -> None:
        sentinel = _Sentinel()
        self._local.sentinel = sentinel
        ts._sentinel_ref = weakref.ref(sentinel, lambda _ref, ts=ts: self._thread_died(ts))

    def _thread_died(self, ts: ThreadState) -> None:
        # Runs on the exiting thread while its thread state is torn down.
        if self.closed or ts.ended:
            return
        self.end_thread(ts)
        if self._threads.get(ts.ident) is ts:
            del self._threads[ts.ident]

    def end_thread(self, ts: ThreadState) -> None:
        """Close what is still open on ``ts`` (DETACH, innermost first), then THREAD_END.

        THREAD_END is the thread's last event: once ``ended`` is set, its rule functions open
        no new activation (and the others find an empty stack). This matters on the thread
        death path, which runs on the exiting thread with the tracer still active, so the
        sink's own code (a user callback) would otherwise be recorded after THREAD_END."""
        if ts.ended:
            return
        ts.ended = True
        backlog = ts.backlog
        while backlog:
            self._send(*backlog.pop(0)[:6])
        stack = ts.stack
        while stack:
            act = stack[-1]
            depth = len(stack)
            stack.pop()
            self._send(DETACH, ts, act[INFO], act[LAST_LINE], None, depth)
        self._send(THREAD_END, ts, None, None, ThreadInfo(ts.serial, ts.ident, ts.name), 0)

    def close(self) -> None:
        """End every thread's stream (the backend has stopped calling us)."""
        if self.closed:
            return
        for ts in list(self._threads.values()) + list(self._adopted.values()):
            self.end_thread(ts)
        self.closed = True

    def imported(self, kind: Kind, info: Any) -> None:
        """IMPORT_START/IMPORT_END from the import hook, on the importing thread's stream
        (``info.thread_ident``: imports still open at stop are ended from another thread)."""
        if self.closed:
            return
        try:
            ts = self._threads.get(getattr(info, "thread_ident", None) or _get_ident())
            if ts is None:
                ts = self.thread_state()
        except BaseException as exc:
            self.failed(exc)
            return
        if not ts.ended:
            self._send(kind, ts, None, None, info, len(ts.stack))

    def _send(self, kind: Kind, ts: ThreadState, info: Optional[CodeInfo], line: Optional[int],
              value: Any, depth: int) -> None:
        """Emit a bookkeeping event (thread start/end, DETACH) with failures contained."""
        try:
            self._sink.emit(kind, ts, info, line, value, depth, None)
        except BaseException as exc:
            self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        """What every rule function does with an exception (see the class docstring)."""
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        if isinstance(exc, RecursionError):
            self.recursion_errors += 1
            if env.RECURSION_OVERFLOW_STICKY:
                raise exc
            return
        self._on_error(exc)

    # -- the rules ---------------------------------------------------------------------------

    def _make_rules(self, ts: ThreadState) -> Rules:
        """Build ``ts``'s rule functions.

        Each one changes the shadow stack first and calls the sink last. At the program's
        recursion limit the sink may have no room to run (``RecursionError``): the event
        then goes to ``ts.backlog`` instead of being lost, and the backlog is delivered, in
        order, before the thread's next event (or at its end), so what the sink receives
        stays complete and balanced. While the backlog is not empty every event goes
        through it. A derived HANDLED always does (it is rare), so the only calls that can
        fail after a stack change are the sink's ``emit`` and ``deliver``.
        """
        stack = ts.stack
        backlog = ts.backlog
        emit = self._sink.emit
        failed = self.failed
        unwrap = _unwrap_async_value
        # LINE with no frame for a sink that wants one: the rule was registered as the
        # sys.monitoring callback itself (no wrapper), so its caller is the line's frame
        fetch = bool(getattr(self._sink, "wants_frames", False))
        getframe = sys._getframe
        sticky = env.RECURSION_OVERFLOW_STICKY
        lines_on = self.lines

        def deliver() -> None:
            """Send the backlog, oldest first; what cannot be sent yet stays queued."""
            try:
                while backlog:
                    emit(*backlog[0])
                    del backlog[0]
            except RecursionError:
                if sticky:
                    raise

        def attach(code: CodeType, info: CodeInfo, line: Optional[int],
                   frame: Optional[FrameType] = None) -> None:
            """R9: a frame already running when recording started (outermost first)."""
            if ts.ended:
                return
            try:
                stack.append([code, info, None, None, line])
                if backlog:
                    backlog.append((ATTACH, ts, info, line, None, len(stack), frame))
                    deliver()
                else:
                    try:
                        emit(ATTACH, ts, info, line, None, len(stack), frame)
                    except RecursionError:
                        backlog.append((ATTACH, ts, info, line, None, len(stack), frame))
                        if sticky:
                            raise
            except BaseException as exc:
                failed(exc)

        def call(code: CodeType, info: CodeInfo, frame: Optional[FrameType] = None) -> None:
            if ts.ended:
                return  # the thread's stream is closed (see end_thread)
            try:
                if stack:
                    parent = stack[-1]
                    if parent[2] is not None:  # R4
                        backlog.append((HANDLED, ts, parent[1], parent[4], parent[2],
                                        len(stack), None))
                        parent[2] = None
                stack.append([code, info, None, None, None])
                if backlog:
                    backlog.append((CALL, ts, info, info.firstlineno, None, len(stack), frame))
                    deliver()
                else:
                    try:
                        emit(CALL, ts, info, info.firstlineno, None, len(stack), frame)
                    except RecursionError:
                        backlog.append((CALL, ts, info, info.firstlineno, None, len(stack),
                                        frame))
                        if sticky:
                            raise
            except BaseException as exc:
                failed(exc)

        def resume(code: CodeType, info: CodeInfo, line: Optional[int],
                   frame: Optional[FrameType] = None) -> None:
            """R6: ``line`` is where the generator was suspended; it seeds de-duplication."""
            if ts.ended:
                return
            try:
                if stack:
                    parent = stack[-1]
                    if parent[2] is not None:  # R4
                        backlog.append((HANDLED, ts, parent[1], parent[4], parent[2],
                                        len(stack), None))
                        parent[2] = None
                stack.append([code, info, None, None, line])
                if backlog:
                    backlog.append((RESUME, ts, info, line, None, len(stack), frame))
                    deliver()
                else:
                    try:
                        emit(RESUME, ts, info, line, None, len(stack), frame)
                    except RecursionError:
                        backlog.append((RESUME, ts, info, line, None, len(stack), frame))
                        if sticky:
                            raise
            except BaseException as exc:
                failed(exc)

        def line(code: CodeType, line: int, frame: Optional[FrameType] = None) -> None:
            try:
                if stack:
                    act = stack[-1]
                    if act[0] is code and act[4] != line:
                        if frame is None and fetch:
                            frame = getframe(1)
                        if act[2] is not None:  # R4
                            backlog.append((HANDLED, ts, act[1], line, act[2], len(stack),
                                            frame))
                            act[2] = None
                        act[4] = line
                        if backlog:
                            backlog.append((LINE, ts, act[1], line, None, len(stack), frame))
                            deliver()
                        else:
                            try:
                                emit(LINE, ts, act[1], line, None, len(stack), frame)
                            except RecursionError:
                                backlog.append((LINE, ts, act[1], line, None, len(stack),
                                                frame))
                                if sticky:
                                    raise
            except BaseException as exc:
                failed(exc)

        def return_(code: CodeType, offset: Any, value: Any,
                    frame: Optional[FrameType] = None) -> None:
            try:
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    if act[2] is not None:  # R4
                        backlog.append((HANDLED, ts, act[1], act[4], act[2], depth, frame))
                        act[2] = None
                    stack.pop()
                    if backlog:
                        backlog.append((RETURN, ts, act[1], act[4], value, depth, frame))
                        deliver()
                    else:
                        try:
                            emit(RETURN, ts, act[1], act[4], value, depth, frame)
                        except RecursionError:
                            backlog.append((RETURN, ts, act[1], act[4], value, depth, frame))
                            if sticky:
                                raise
            except BaseException as exc:
                failed(exc)

        def yield_(code: CodeType, offset: Any, value: Any,
                   frame: Optional[FrameType] = None) -> None:
            try:
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    if act[2] is not None:  # R4
                        backlog.append((HANDLED, ts, act[1], act[4], act[2], depth, frame))
                        act[2] = None
                    stack.pop()
                    info = act[1]
                    if info.kind == "async_generator":
                        value = unwrap(value)
                    if backlog:
                        backlog.append((YIELD, ts, info, act[4], value, depth, frame))
                        deliver()
                    else:
                        try:
                            emit(YIELD, ts, info, act[4], value, depth, frame)
                        except RecursionError:
                            backlog.append((YIELD, ts, info, act[4], value, depth, frame))
                            if sticky:
                                raise
            except BaseException as exc:
                failed(exc)

        def unwind(code: CodeType, offset: Any, exc: Optional[BaseException],
                   frame: Optional[FrameType] = None) -> None:
            """The frame is left by an exception (R5: settrace does not say which). A code
            object not on top is skipped code, or (3.13.x, gh-140373) a generator closed
            while suspended, which is not on our stack: nothing to close."""
            try:
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    depth = len(stack)
                    stack.pop()
                    if exc is None:
                        exc = act[3]
                    if backlog:
                        backlog.append((UNWIND, ts, act[1], act[4], exc, depth, frame))
                        deliver()
                    else:
                        try:
                            emit(UNWIND, ts, act[1], act[4], exc, depth, frame)
                        except RecursionError:
                            backlog.append((UNWIND, ts, act[1], act[4], exc, depth, frame))
                            if sticky:
                                raise
            except BaseException as err:
                failed(err)

        def raise_(code: CodeType, offset: Any, exc: BaseException,
                   frame: Optional[FrameType] = None) -> None:
            """An exception raised in, or propagating into, the top activation."""
            try:
                if stack and stack[-1][0] is code:
                    act = stack[-1]
                    act[2] = act[3] = exc
                    info = act[1]
                    if lines_on:
                        line = info.firstlineno if act[4] is None else act[4]
                    else:
                        line = _raise_line(code, offset, frame) or info.firstlineno
                    if backlog:
                        backlog.append((RAISE, ts, info, line, exc, len(stack), frame))
                        deliver()
                    else:
                        try:
                            emit(RAISE, ts, info, line, exc, len(stack), frame)
                        except RecursionError:
                            backlog.append((RAISE, ts, info, line, exc, len(stack), frame))
                            if sticky:
                                raise
            except BaseException as err:
                failed(err)

        rules = Rules()
        rules.call, rules.resume, rules.attach, rules.line = call, resume, attach, line
        rules.return_, rules.yield_, rules.unwind, rules.raise_ = return_, yield_, unwind, raise_
        return rules
