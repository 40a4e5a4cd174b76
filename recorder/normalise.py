"""The shared normaliser: one set of rules that turns backend callbacks into the event model.

Both backends call these methods with the event *they* saw (a settrace ``'call'`` already
classified as start or resume, a monitoring ``PY_YIELD``, ...). Everything that must be the
same whichever backend recorded the program lives here, so the two streams cannot drift:

* R4  HANDLED is derived: an activation with a pending exception whose next event is not
  RAISE/UNWIND (a LINE, a child CALL, a YIELD or RETURN) continued after the raise.
* R5  UNWIND carries the activation's last raised exception (settrace passes None).
* R6  LINE de-duplication: a LINE equal to the activation's last line is dropped, which makes
  settrace's backward-jump lines look like monitoring's "new line" rule.
* R8  async generators yield ``async_generator_wrapped_value`` on both backends; unwrap it.
* R9  ATTACH for frames already running at start, DETACH for activations still open at stop
  or thread end; THREAD_START/THREAD_END bracket each thread's stream.

The per-thread shadow stack makes every thread's stream balanced on its own. Stack changes
happen *before* the sink is called, so a sink failure can lose an event but never desync the
stack. See docs/backends.md for the full rule list and the version notes.
"""
from __future__ import annotations

import gc
import itertools
import threading
import weakref
from types import CodeType, FrameType
from typing import Any, Callable, Dict, List, Optional

from recorder.events import CodeInfo, Kind, Sink, ThreadInfo

CALL, RESUME, LINE, RETURN, YIELD = Kind.CALL, Kind.RESUME, Kind.LINE, Kind.RETURN, Kind.YIELD
RAISE, HANDLED, UNWIND = Kind.RAISE, Kind.HANDLED, Kind.UNWIND
ATTACH, DETACH = Kind.ATTACH, Kind.DETACH
THREAD_START, THREAD_END = Kind.THREAD_START, Kind.THREAD_END

_get_ident = threading.get_ident


class Activation:
    """One open frame on a thread's shadow stack (research §1.3: code, pending, last line)."""

    __slots__ = ("code", "info", "pending", "last_exc", "last_line")

    def __init__(self, code: CodeType, info: CodeInfo, last_line: Optional[int]) -> None:
        self.code = code
        self.info = info
        #: Raised here and not yet known to be handled or to unwind the frame (R4).
        self.pending: Optional[BaseException] = None
        #: The last exception raised here: what an UNWIND carries (R5).
        self.last_exc: Optional[BaseException] = None
        self.last_line = last_line


class ThreadState(ThreadInfo):
    """A thread's identity plus its shadow stack. ``sink_state`` is free for the sink."""

    __slots__ = ("stack", "sink_state", "_sentinel_ref", "ended")

    def __init__(self, serial: int, ident: int, name: str) -> None:
        super().__init__(serial, ident, name)
        self.stack: List[Activation] = []
        self.sink_state: Any = None
        self._sentinel_ref: Any = None
        self.ended = False


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


def _noop_emit(*args: Any) -> None:
    pass


class Normaliser:
    """Per-thread shadow stacks and the shared rules; feeds one :class:`Sink`."""

    def __init__(self, sink: Sink, on_sink_error: Callable[[BaseException], None]) -> None:
        self._sink = sink
        self._emit: Callable[..., None] = sink.emit
        self._on_sink_error = on_sink_error
        self._threads: Dict[int, ThreadState] = {}
        # Threads found running at start from another thread: their end sentinel can only
        # be planted from their own thread, which happens at their first event.
        self._adopted: Dict[int, ThreadState] = {}
        self._serials = itertools.count(1)
        self._local = threading.local()
        self._lock = threading.Lock()
        self.lost_events = 0
        self.closed = False

    # -- threads -------------------------------------------------------------------------

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
        """State for another, already running thread (ATTACH at start, 3.12+ only)."""
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
        self._send(THREAD_START, ts, None, None, ThreadInfo(ts.serial, ident, name), 0, None)
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
        """Close what is still open on ``ts`` (DETACH, innermost first), then THREAD_END."""
        if ts.ended:
            return
        ts.ended = True
        stack = ts.stack
        while stack:
            act = stack[-1]
            depth = len(stack)
            stack.pop()
            self._send(DETACH, ts, act.info, act.last_line, None, depth, None)
        self._send(THREAD_END, ts, None, None, ThreadInfo(ts.serial, ts.ident, ts.name), 0, None)

    def close(self) -> None:
        """End every thread's stream; later callbacks (racing threads) are ignored."""
        if self.closed:
            return
        for ts in list(self._threads.values()) + list(self._adopted.values()):
            self.end_thread(ts)
        self.closed = True
        self._emit = _noop_emit

    # -- the sink --------------------------------------------------------------------------

    def _send(self, kind: Kind, ts: ThreadState, info: Optional[CodeInfo], line: Optional[int],
              value: Any, depth: int, frame: Optional[FrameType]) -> None:
        try:
            self._emit(kind, ts, info, line, value, depth, frame)
        except RecursionError:
            # At the program's recursion limit the sink may have no room to run: lose the
            # event, keep the (already updated) stack, and keep recording.
            self.lost_events += 1
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a sink bug must never reach the program
            self._emit = _noop_emit
            self._on_sink_error(exc)

    def _handled(self, ts: ThreadState, act: Activation, line: Optional[int],
                 frame: Optional[FrameType]) -> None:
        exc = act.pending
        act.pending = None
        self._send(HANDLED, ts, act.info, line, exc, len(ts.stack), frame)

    # -- events ------------------------------------------------------------------------------

    def attach(self, ts: ThreadState, code: CodeType, info: CodeInfo, line: Optional[int],
               frame: Optional[FrameType]) -> None:
        """R9: a frame that was already running when recording started (outermost first)."""
        ts.stack.append(Activation(code, info, line))
        self._send(ATTACH, ts, info, line, None, len(ts.stack), frame)

    def call(self, ts: ThreadState, code: CodeType, info: CodeInfo,
             frame: Optional[FrameType]) -> None:
        stack = ts.stack
        if stack:
            parent = stack[-1]
            if parent.pending is not None:
                self._handled(ts, parent, parent.last_line, None)
        stack.append(Activation(code, info, None))
        self._send(CALL, ts, info, info.firstlineno, None, len(stack), frame)

    def resume(self, ts: ThreadState, code: CodeType, info: CodeInfo, line: Optional[int],
               frame: Optional[FrameType]) -> None:
        """R6: ``line`` is where the generator was suspended; it seeds de-duplication."""
        stack = ts.stack
        if stack:
            parent = stack[-1]
            if parent.pending is not None:
                self._handled(ts, parent, parent.last_line, None)
        stack.append(Activation(code, info, line))
        self._send(RESUME, ts, info, line, None, len(stack), frame)

    def line(self, ts: ThreadState, code: CodeType, line: int,
             frame: Optional[FrameType]) -> None:
        stack = ts.stack
        if not stack:
            return
        act = stack[-1]
        if act.code is not code or act.last_line == line:
            return
        if act.pending is not None:
            self._handled(ts, act, line, frame)
        act.last_line = line
        self._send(LINE, ts, act.info, line, None, len(stack), frame)

    def leave(self, ts: ThreadState, code: CodeType, kind: Kind, value: Any,
              frame: Optional[FrameType]) -> None:
        """RETURN or YIELD (a normal exit from the frame)."""
        stack = ts.stack
        if not stack or stack[-1].code is not code:
            return
        act = stack[-1]
        if act.pending is not None:
            self._handled(ts, act, act.last_line, frame)
        depth = len(stack)
        stack.pop()
        if kind is YIELD and act.info.kind == "async_generator":
            value = _unwrap_async_value(value)
        self._send(kind, ts, act.info, act.last_line, value, depth, frame)

    def unwind(self, ts: ThreadState, code: CodeType, exc: Optional[BaseException],
               frame: Optional[FrameType]) -> None:
        """The frame is left by an exception (R5: settrace does not say which)."""
        stack = ts.stack
        if not stack or stack[-1].code is not code:
            # 3.13.x (gh-140373) may send a bare PY_UNWIND for a generator closed while
            # suspended, which is not on our stack: nothing to close.
            return
        act = stack[-1]
        depth = len(stack)
        stack.pop()
        if exc is None:
            exc = act.last_exc
        self._send(UNWIND, ts, act.info, act.last_line, exc, depth, frame)

    def raise_(self, ts: ThreadState, code: CodeType, exc: BaseException,
               frame: Optional[FrameType]) -> None:
        """An exception raised in, or propagating into, the top activation."""
        stack = ts.stack
        if not stack:
            return
        act = stack[-1]
        if act.code is not code:
            return
        act.pending = act.last_exc = exc
        line = act.last_line
        self._send(RAISE, ts, act.info, act.info.firstlineno if line is None else line, exc,
                   len(stack), frame)

    def top_is_pending(self, ts: ThreadState) -> bool:
        """True when the top activation has an exception in flight (settrace's R2 test)."""
        stack = ts.stack
        return bool(stack) and stack[-1].pending is not None
